// SPDX-License-Identifier: MIT
// TensorBoard event encoding (issue 5, first part): CRC-32C on both paths, TFRecord framing, and
// the spec's worked scalar example byte for byte.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include <runlog/detail/checksums.hpp>
#include <runlog/detail/tensorboard_events.hpp>
#include <runlog/detail/tfrecord.hpp>

#include "support/test_support.hpp"
#include "support/wandb_reader.hpp"  // decode_proto

namespace fs = std::filesystem;

namespace {
std::string as_string(const std::vector<std::uint8_t>& b) {
    return std::string(b.begin(), b.end());
}
}  // namespace

TEST_CASE("crc32c: check value, and the portable and hardware paths agree",
          "[tensorboard][crc32c]") {
    using namespace runlog::detail;
    CHECK(crc32c_portable("123456789", 9) == 0xE3069283u);
    CHECK(crc32c("123456789", 9) == 0xE3069283u);
    CHECK(crc32c("", 0) == 0u);
    CHECK(crc32c("6789", 4, crc32c("12345", 5)) == 0xE3069283u);
    std::mt19937 rng(5);
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 1000u, 65537u}) {
        std::vector<std::uint8_t> data(n);
        for (auto& b : data) b = static_cast<std::uint8_t>(rng());
        INFO(n);
        CHECK(crc32c(data.data(), n) == crc32c_portable(data.data(), n));
#if RUNLOG_HAVE_CRC32C_SSE42
        if (cpu_has_sse42()) CHECK(crc32c_sse42(data.data(), n) == crc32c_portable(data.data(), n));
#endif
    }
}

TEST_CASE("tfrecord: the spec's worked scalar event, 42 bytes exactly", "[tensorboard][framing]") {
    const auto payload = runlog::detail::tensorboard::scalar_event(1700000000.5, 42, "loss", 0.25f);
    REQUIRE(payload.size() == 26);
    std::vector<std::uint8_t> record;
    runlog::detail::append_tfrecord(payload.data(), payload.size(), record);
    const std::vector<std::uint8_t> expected = {
        0x1a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x9b, 0xd8, 0x2d, 0x09, 0x00,
        0x00, 0x20, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x10, 0x2a, 0x2a, 0x0d, 0x0a, 0x0b, 0x0a,
        0x04, 0x6c, 0x6f, 0x73, 0x73, 0x15, 0x00, 0x00, 0x80, 0x3e, 0x86, 0x93, 0xda, 0xf7};
    CHECK(record == expected);
    CHECK(runlog::detail::masked_crc32c(record.data(), 8) == 0x2dd89b12u);
}

TEST_CASE("tfrecord: the first event names the file version and the writer", "[tensorboard]") {
    const auto event =
        test::decode_proto(as_string(runlog::detail::tensorboard::file_version_event(1.5)));
    CHECK(event.str(3) == "brain.Event:2");
    CHECK_THAT(test::decode_proto(event.str(10)).str(1), Catch::StartsWith("runlog "));
    CHECK(event.bytes.count(1) == 1);  // wall_time present (fixed64)
}

namespace {
/// Test-only TFRecord reader: checks both masked CRCs of every record.
std::vector<std::string> read_tfrecords(const std::string& file) {
    std::vector<std::string> out;
    std::size_t at = 0;
    auto u32 = [&](std::size_t i) {
        std::uint32_t v = 0;
        for (int k = 3; k >= 0; --k)
            v = (v << 8u) | static_cast<std::uint8_t>(file[i + static_cast<std::size_t>(k)]);
        return v;
    };
    while (at < file.size()) {
        REQUIRE(at + 12 <= file.size());
        std::uint64_t n = 0;
        for (int k = 7; k >= 0; --k)
            n = (n << 8u) | static_cast<std::uint8_t>(file[at + static_cast<std::size_t>(k)]);
        REQUIRE(u32(at + 8) == runlog::detail::masked_crc32c(file.data() + at, 8));
        REQUIRE(at + 16 + n <= file.size());
        const std::string payload = file.substr(at + 12, static_cast<std::size_t>(n));
        REQUIRE(u32(at + 12 + static_cast<std::size_t>(n)) ==
                runlog::detail::masked_crc32c(payload.data(), payload.size()));
        out.push_back(payload);
        at += 16 + static_cast<std::size_t>(n);
    }
    return out;
}

float as_float(const std::string& four) {
    float f;
    std::memcpy(&f, four.data(), 4);
    return f;
}
}  // namespace

TEST_CASE("tensorboard sink: an event file per run with the numeric values as scalars",
          "[tensorboard][sink]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.tensorboard = true;
    s.name = "baseline";
    s.id = "tb000001";
    auto run = runlog::init(s);
    run.log({{"loss", 0.5}, {"acc", 1}, {"note", "text"}, {"flag", true}});
    run.log({{"loss", std::nan("")}}, 7);
    run.log({{"note", "no numbers"}}, 8);
    REQUIRE(run.finish() == runlog::status::ok);

    const fs::path tb = dir.path / "tensorboard" / "baseline_tb000001";
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(tb)) files.push_back(entry.path());
    REQUIRE(files.size() == 1);
    CHECK_THAT(files[0].filename().string(),
               Catch::Matches(R"(events\.out\.tfevents\.\d{10}\.[^.]+\.\d+\.\d+)"));
    const auto records = read_tfrecords(test::read_file(files[0]));
    REQUIRE(records.size() == 3);  // file_version + two rows with numbers
    CHECK(test::decode_proto(records[0]).str(3) == "brain.Event:2");
    const auto first = test::decode_proto(records[1]);
    CHECK(first.varint(2) == 0);
    double wall_time;
    std::memcpy(&wall_time, first.str(1).data(), 8);
    CHECK(wall_time > 1.7e9);
    const auto values = test::decode_proto(first.str(5)).all(1);
    REQUIRE(values.size() == 2);  // loss and acc; the string and the bool are not scalars
    CHECK(test::decode_proto(values[0]).str(1) == "loss");
    CHECK(as_float(test::decode_proto(values[0]).str(2)) == 0.5f);
    CHECK(test::decode_proto(values[1]).str(1) == "acc");
    CHECK(as_float(test::decode_proto(values[1]).str(2)) == 1.0f);
    const auto second = test::decode_proto(records[2]);
    CHECK(second.varint(2) == 7);
    CHECK(
        std::isnan(as_float(test::decode_proto(test::decode_proto(second.str(5)).str(1)).str(2))));
}
