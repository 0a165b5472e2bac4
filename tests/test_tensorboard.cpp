// SPDX-License-Identifier: MIT
// TensorBoard event encoding (issue 5, first part): CRC-32C on both paths, TFRecord framing, and
// the spec's worked scalar example byte for byte.
#include <catch2/catch.hpp>
#include <random>

#include <runlog/detail/checksums.hpp>
#include <runlog/detail/tensorboard_events.hpp>
#include <runlog/detail/tfrecord.hpp>

#include "support/wandb_reader.hpp"  // decode_proto

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
