// SPDX-License-Identifier: MIT
// The W&B offline format: protobuf wire encoding, LevelDB-log framing (the spec's worked example
// byte for byte, block-boundary cases), the sink's record order and values, and a killed writer.
#include <catch2/catch.hpp>
#include <csignal>

#include <runlog/detail/leveldb_log.hpp>
#include <runlog/detail/protobuf.hpp>

#include "support/test_support.hpp"
#include "support/wandb_reader.hpp"

using runlog::detail::leveldb_log_writer;
using runlog::detail::proto_writer;
namespace fs = std::filesystem;

namespace {
std::string as_string(const std::vector<std::uint8_t>& b) {
    return std::string(b.begin(), b.end());
}

std::string frame(const std::vector<std::string>& records) {
    std::vector<std::uint8_t> out;
    leveldb_log_writer w;
    w.write_file_header(out);
    for (const auto& r : records)
        w.write_record(reinterpret_cast<const std::uint8_t*>(r.data()), r.size(), out);
    return as_string(out);
}

std::vector<test::proto_message> decode_file(const fs::path& path, bool allow_torn_tail = false) {
    std::vector<test::proto_message> out;
    for (const auto& r : test::read_wandb_records(test::read_file(path), allow_torn_tail))
        out.push_back(test::decode_proto(r));
    return out;
}
}  // namespace

TEST_CASE("protobuf: varints, negative ints, doubles, strings, nested messages",
          "[wandb][protobuf]") {
    CHECK(as_string(proto_writer().int64(1, 1).bytes()) == "\x08\x01");
    CHECK(proto_writer().int64(1, 300).bytes() == std::vector<std::uint8_t>{0x08, 0xAC, 0x02});
    const auto negative = proto_writer().int64(1, -1).bytes();
    CHECK(negative.size() == 11);  // tag + 10-byte two's complement
    CHECK(negative.back() == 0x01);
    CHECK(proto_writer().string(16, "0.5").bytes() ==
          std::vector<std::uint8_t>{0x82, 0x01, 0x03, '0', '.', '5'});
    CHECK(proto_writer().message(21, proto_writer()).bytes() ==
          std::vector<std::uint8_t>{0xAA, 0x01, 0x00});
    CHECK(proto_writer().message(200, proto_writer()).bytes() ==
          std::vector<std::uint8_t>{0xC2, 0x0C, 0x00});
    const auto d = proto_writer().fixed64_double(2, 1.5).bytes();
    CHECK(d == std::vector<std::uint8_t>{0x11, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F});
    const auto decoded =
        test::decode_proto(as_string(proto_writer().int64(1, -5).string(3, "x").bytes()));
    CHECK(static_cast<std::int64_t>(decoded.varint(1)) == -5);
    CHECK(decoded.str(3) == "x");
}

TEST_CASE("framing: the spec's 44-byte example, byte for byte", "[wandb][framing]") {
    const std::string r1 =
        as_string(proto_writer().int64(1, 1).message(21, proto_writer()).bytes());
    const proto_writer item = proto_writer().string(1, "loss").string(16, "0.5");
    const std::string r2 =
        as_string(proto_writer().int64(1, 2).message(2, proto_writer().message(1, item)).bytes());
    const std::vector<std::uint8_t> expected = {
        0x3a, 0x57, 0x26, 0x42, 0xe1, 0xbe, 0x00, 0x55, 0xb7, 0xa6, 0x3f, 0x05, 0x00, 0x01, 0x08,
        0x01, 0xaa, 0x01, 0x00, 0xab, 0x61, 0x3c, 0xe2, 0x12, 0x00, 0x01, 0x08, 0x02, 0x12, 0x0e,
        0x0a, 0x0c, 0x0a, 0x04, 0x6c, 0x6f, 0x73, 0x73, 0x82, 0x01, 0x03, 0x30, 0x2e, 0x35};
    CHECK(frame({r1, r2}) == as_string(expected));
}

TEST_CASE("framing: block boundaries, the 7-byte tail, multi-block records", "[wandb][framing]") {
    // The first record leaves `left` bytes in block 0 for the second chunk; sweep the cases
    // left < 7 (trailer), left == 7 (FIRST with 0 bytes), and records spanning several blocks.
    for (std::size_t first_size = 32740; first_size <= 32760; ++first_size) {
        for (std::size_t second_size : {std::size_t{0}, std::size_t{1}, std::size_t{100},
                                        std::size_t{40000}, std::size_t{100000}}) {
            INFO("first " << first_size << " second " << second_size);
            const std::string a(first_size, 'a');
            std::string b(second_size, 'b');
            for (std::size_t k = 0; k < b.size(); k += 97) b[k] = static_cast<char>(k);
            const std::string file = frame({a, b, "end"});
            const auto back = test::read_wandb_records(file);
            REQUIRE(back.size() == 3);
            CHECK(back[0] == a);
            CHECK(back[1] == b);
            CHECK(back[2] == "end");
        }
    }
    // exactly 7 bytes left: FIRST with an empty payload at offset 32761
    const std::string a(32761 - 7 - 7, 'a');  // header 7 + chunk header 7 + payload -> offset 32761
    const std::string file = frame({a, "xyz"});
    CHECK(static_cast<unsigned char>(file[32761 + 6]) == 2);  // FIRST
    CHECK(file[32761 + 4] == 0);                              // length 0
    CHECK(test::read_wandb_records(file).size() == 2);
    // never padded at close
    const std::string small = frame({std::string(32761 - 7 - 7 - 3, 'q')});
    CHECK(small.size() == 32761 - 3);
}

TEST_CASE("framing: the test reader rejects bad CRCs and torn files", "[wandb][framing]") {
    std::string file = frame({"hello", "world"});
    CHECK(test::read_wandb_records(file).size() == 2);
    std::string bad = file;
    bad[bad.size() - 1] ^= 1;
    CHECK_THROWS_WITH(test::read_wandb_records(bad), Catch::Contains("bad CRC"));
    const std::string torn = file.substr(0, file.size() - 2);
    CHECK_THROWS(test::read_wandb_records(torn));
    CHECK(test::read_wandb_records(torn, true).size() == 1);
}

TEST_CASE("wandb sink: records in the order sync expects, with the values logged",
          "[wandb][sink]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.wandb_offline = true;
    s.project = "mnist";
    s.name = "baseline";
    s.id = "wandb001";
    s.group = "g1";
    s.tags = {"cpu"};
    s.entity = "team";
    s.config = {{"lr", 1e-3}, {"opt", {{"name", "adam"}}}};
    auto run = runlog::init(s);
    run.define_metric("val/*", runlog::metric_options{}.with_step_metric("epoch"));
    run.define_metric("acc", runlog::metric_options{}.with_summary("max").with_goal("maximize"));
    run.config.update({{"batch", 32}});
    const std::uint8_t px[12] = {0, 50, 100, 150, 200, 250, 0, 50, 100, 150, 200, 250};
    run.log({{"loss", 0.5}, {"acc", 0.25}, {"img", runlog::image::from_pixels(px, 12, 2, 2, 3)}});
    REQUIRE(run.flush() == runlog::status::ok);  // a flush point: a summary record follows row 0
    run.log({{"val/loss", std::nan("")}, {"epoch", 1}}, 5);
    REQUIRE(run.finish(3) == runlog::status::ok);

    const fs::path wdir = dir.path / "wandb" / fs::read_symlink(dir.path / "wandb" / "latest-run");
    CHECK(wdir.filename().string().rfind("offline-run-", 0) == 0);
    CHECK_THAT(wdir.filename().string(), Catch::EndsWith("-wandb001"));
    const auto all = decode_file(wdir / "run-wandb001.wandb");
    // Summary records come at flush points, so how many depends on timing: checked apart.
    std::vector<test::proto_message> records, summaries;
    std::vector<std::uint32_t> types;
    std::size_t summaries_after_row_0 = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].varint(1) == i + 1);  // num 1, 2, 3, ...
        if (test::record_type(all[i]) == 3) {
            summaries.push_back(all[i]);
            continue;
        }
        records.push_back(all[i]);
        types.push_back(test::record_type(all[i]));
        if (types.size() == 7) summaries_after_row_0 = summaries.size();
    }
    // header, run, metric(epoch: the glob's step metric, defined first), metric(glob),
    // metric(acc), config, files(img), history of row 0, metric(val/loss expansion), history of
    // row 1, files(wandb-metadata.json), exit, final
    const std::vector<std::uint32_t> expected = {21, 17, 12, 12, 12, 5, 6, 2, 12, 2, 6, 18, 20};
    CHECK(types == expected);

    const auto run_record = test::decode_proto(records[1].str(17));
    CHECK(run_record.str(1) == "wandb001");
    CHECK(run_record.str(2) == "team");
    CHECK(run_record.str(3) == "mnist");
    CHECK(run_record.str(6) == "g1");
    CHECK(run_record.str(8) == "baseline");
    CHECK(run_record.all(10) == std::vector<std::string>{"cpu"});
    CHECK(test::decode_proto(run_record.str(17)).varint(1) > 1700000000u);  // start_time seconds
    // `_wandb: {}` first, as W&B's client writes it: legacy sync puts the metric definitions
    // into the uploaded config only when the config has that item.
    const auto config_items = test::decode_proto(run_record.str(4)).all(1);
    REQUIRE(config_items.size() == 3);
    CHECK(test::decode_proto(config_items[0]).str(1) == "_wandb");
    CHECK(test::decode_proto(config_items[0]).str(16) == "{}");
    CHECK(test::decode_proto(config_items[2]).str(1) == "opt");
    CHECK(test::decode_proto(config_items[2]).str(16) == R"({"name":"adam"})");
    const auto config_update = test::decode_proto(records[5].str(5)).all(1);
    REQUIRE(config_update.size() == 3);  // lr, opt, batch: no `_wandb` in updates
    CHECK(test::decode_proto(config_update[2]).str(1) == "batch");

    const auto step_metric = test::decode_proto(records[2].str(12));
    CHECK(step_metric.str(1) == "epoch");  // bare, as the client's handler defines it
    CHECK_FALSE(step_metric.has(6));
    const auto glob = test::decode_proto(records[3].str(12));
    CHECK(glob.str(2) == "val/*");
    CHECK(glob.str(4) == "epoch");
    CHECK(test::decode_proto(glob.str(6)).varint(1) == 1);  // step_sync
    CHECK(test::decode_proto(glob.str(6)).varint(3) == 1);  // defined
    const auto acc = test::decode_proto(records[4].str(12));
    CHECK(acc.str(1) == "acc");
    CHECK(test::decode_proto(acc.str(7)).varint(2) == 1);  // summary max
    CHECK(acc.varint(8) == 2);                             // GOAL_MAXIMIZE
    const auto expansion = test::decode_proto(records[8].str(12));
    CHECK(expansion.str(1) == "val/loss");
    CHECK(expansion.varint(10) == 1);                            // expanded_from_glob
    CHECK(test::decode_proto(expansion.str(9)).varint(1) == 1);  // overwrite

    const auto files = test::decode_proto(test::decode_proto(records[6].str(6)).str(1));
    const std::string media_path = files.str(1);
    CHECK_THAT(media_path, Catch::Matches(R"(media/images/img_0_[0-9a-f]{20}\.png)"));
    CHECK(files.varint(3) == 2);  // MEDIA
    CHECK(fs::exists(wdir / "files" / media_path));

    auto items_of = [](const std::string& body) {
        std::map<std::string, std::string> items;
        for (const auto& item : test::decode_proto(body).all(1))
            items[test::decode_proto(item).str(1)] = test::decode_proto(item).str(16);
        return items;
    };
    auto row = items_of(records[7].str(2));
    CHECK(row["loss"] == "0.5");
    CHECK(row["_step"] == "0");
    CHECK_THAT(row["img"], Catch::StartsWith(R"({"_type":"image-file","path":")" + media_path));
    auto row2 = items_of(records[9].str(2));
    CHECK(row2["val/loss"] == "NaN");
    CHECK(row2["_step"] == "5");

    // The flush after row 0, then at finish the runtime pair and the whole summary.
    REQUIRE(summaries.size() >= summaries_after_row_0 + 3);
    auto at_flush = items_of(summaries[summaries_after_row_0].str(3));
    CHECK(at_flush["acc"] == R"({"max":0.25,"best":0.25,"best_step":0})");
    CHECK(at_flush["loss"] == "0.5");
    CHECK(at_flush["_step"] == "0");
    CHECK(test::decode_proto(summaries[summaries.size() - 2].str(3)).all(1).size() ==
          2);  // _wandb.runtime, _runtime
    auto summary = items_of(summaries.back().str(3));
    CHECK(summary["acc"] == R"({"max":0.25,"best":0.25,"best_step":0})");
    CHECK(summary["_step"] == "5");
    CHECK(all[all.size() - 4].varint(1) == summaries.back().varint(1));  // before files, exit
    // Only wandb-metadata.json is announced: sync writes and uploads config.yaml and
    // wandb-summary.json itself, and a files record made it upload them early (stale) and twice.
    const auto announced = test::decode_proto(test::decode_proto(records[10].str(6)).str(1));
    CHECK(announced.str(1) == "wandb-metadata.json");
    CHECK(announced.varint(3) == 1);  // WANDB
    const auto exit_record = test::decode_proto(records[11].str(18));
    CHECK(exit_record.varint(1) == 3);
    CHECK(records[12].bytes.count(20) == 1);
    CHECK(fs::exists(wdir / "files" / "wandb-summary.json"));
    CHECK_THAT(test::read_file(wdir / "files" / "config.yaml"),
               Catch::Contains("\"batch\":\n  desc: null\n  value: 32\n"));
}

TEST_CASE("wandb sink: RUNLOG_SINKS picks the formats", "[wandb][env]") {
    test::temp_dir dir;
    {
        test::env_guard sinks("RUNLOG_SINKS", "wandb");
        auto run = runlog::init(test::quiet_settings(dir));
        run.finish();
        CHECK(fs::exists(dir.path / "wandb" / "latest-run"));
        CHECK_FALSE(fs::exists(run.dir() / "history.jsonl"));
    }
    test::env_guard sinks("RUNLOG_SINKS", "jsonl,csv");
    CHECK_THROWS_WITH(runlog::init(test::quiet_settings(dir)),
                      "[runlog.102] RUNLOG_SINKS='jsonl,csv' names 'csv'; the file formats are "
                      "jsonl, wandb and tensorboard");
}

TEST_CASE("wandb sink: a killed writer leaves only complete records", "[wandb][crash]") {
    test::temp_dir dir;
    REQUIRE(test::run_in_killed_child([&] {
        auto s = test::quiet_settings(dir);
        s.wandb_offline = true;
        s.id = "crashed1";
        auto run = runlog::init(s);
        for (int i = 0; i < 2000; ++i) {
            run.log({{"loss", 1.0 / (i + 1)},
                     {"text", std::string(static_cast<std::size_t>(i % 300), 'x')}});
            if (i == 1000) run.flush();
        }
        run.flush();
        for (int i = 0; i < 500; ++i) run.log({{"loss", 0.0}});
        std::raise(SIGKILL);  // while the run is alive: no finish, no destructor
    }));
    const fs::path wdir = dir.path / "wandb" / fs::read_symlink(dir.path / "wandb" / "latest-run");
    const auto records = decode_file(wdir / "run-crashed1.wandb", true);  // may end mid-chunk
    std::size_t history = 0;
    for (const auto& r : records) history += test::record_type(r) == 2 ? 1 : 0;
    CHECK(history >= 2000);  // everything before the last flush
    CHECK(test::record_type(records.front()) == 21);
    CHECK(test::record_type(records[1]) == 17);
}

TEST_CASE("wandb sink: wandb-metadata.json has the fields W&B's client writes", "[wandb][sink]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    test::env_guard lib("RUNLOG_NVML_LIBRARY", RUNLOG_FAKE_NVML_PATH);
    test::env_guard fake_mode("FAKE_NVML_MODE", "ok");
    test::env_guard user("LOGNAME", "tester");
    s.wandb_offline = true;
    s.system_metrics = true;  // its last sample, taken at finish, describes the GPUs
    s.id = "meta0001";
    auto run = runlog::init(s);
    run.log({{"loss", 1.0}});
    REQUIRE(run.finish(3) == runlog::status::ok);
    const fs::path wdir = dir.path / "wandb" / fs::read_symlink(dir.path / "wandb" / "latest-run");
    const runlog::value m = test::read_json(wdir / "files" / "wandb-metadata.json");
    for (const char* key : {"os", "startedAt", "heartbeatAt", "args", "program", "host",
                            "executable", "cpu_count_logical", "memory"})
        CHECK(m.contains(key));
    CHECK(m.find("state")->as_string() == "failed");
    CHECK(m.find("username")->as_string() == "tester");
    CHECK_THAT(m.find("heartbeatAt")->as_string(), Catch::EndsWith("Z"));
    CHECK_THAT(m.find("program")->as_string(), Catch::Contains("runlog_tests"));
    REQUIRE(m.contains("gpu_count"));
    CHECK(m.find("gpu_count")->as_int() == 2);
    CHECK(m.find("gpu_nvidia")->as_array()[0].find("memoryTotal")->as_int() == 16LL << 30);
    CHECK(m.find("cpu")->contains("countLogical"));
}
