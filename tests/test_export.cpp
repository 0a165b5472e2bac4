// SPDX-License-Identifier: MIT
// Reading JSON back, and exporting native run directories (finished, crashed, unreadable) to W&B
// offline runs.
#include <catch2/catch.hpp>
#include <cmath>

#include <runlog/detail/json_reader.hpp>
#include <runlog/export.hpp>

#include "support/test_support.hpp"
#include "support/wandb_reader.hpp"

using runlog::value;
namespace fs = std::filesystem;

namespace {
value parse(const std::string& text) {
    value v;
    std::string error;
    REQUIRE(runlog::detail::parse_json(text, v, error));
    return v;
}
std::string parse_error(const std::string& text) {
    value v;
    std::string error;
    CHECK_FALSE(runlog::detail::parse_json(text, v, error));
    return error;
}
std::vector<std::uint32_t> record_types(const fs::path& wandb_dir) {
    std::vector<std::uint32_t> types;
    for (const auto& entry : fs::directory_iterator(wandb_dir))
        if (entry.path().extension() == ".wandb")
            for (const auto& r : test::read_wandb_records(test::read_file(entry.path())))
                types.push_back(test::record_type(test::decode_proto(r)));
    return types;
}
}  // namespace

TEST_CASE("json reader: what runlog writes reads back the same", "[export][json]") {
    const value v = {{"i", -42},
                     {"d", 0.1},
                     {"big", 1e300},
                     {"s", "tab\t\"q\" ✓ \x01"},
                     {"list", {true, false, nullptr}},
                     {"nested", {{"x", 1.5}}}};
    CHECK(parse(v.dump()) == v);
    const value nan = parse(R"({"a":NaN,"b":Infinity,"c":-Infinity})");
    CHECK(std::isnan(nan.find("a")->as_double()));
    CHECK(nan.find("b")->as_double() > 1e308);
    CHECK(nan.find("c")->as_double() < -1e308);
    CHECK(parse("9223372036854775807").is_int());
    CHECK(parse("9223372036854775808").is_double());
    CHECK(parse("1.0").is_double());
    CHECK(parse(R"("\u00e9\ud83d\ude00\/")").as_string() == "é😀/");
    CHECK(parse(R"("\ud800")").as_string() == "\xEF\xBF\xBD");  // lone surrogate
    CHECK(parse(" [ ] ").size() == 0);
    CHECK(parse(R"({"b":1,"a":2})").as_object()[0].first == "b");  // order kept
}

TEST_CASE("json reader: errors name the problem and the offset", "[export][json]") {
    CHECK(parse_error("{\"a\":1,}") == "expected a member name at byte 7");
    CHECK(parse_error("[1 2]") == "expected ',' or ']' at byte 3");
    CHECK(parse_error("\"open") == "unterminated string at byte 5");
    CHECK(parse_error("tru") == "expected a value at byte 0");
    CHECK(parse_error("1 2") == "unexpected text after the value at byte 2");
    CHECK_THAT(parse_error(std::string(300, '[') + std::string(300, ']')),
               Catch::StartsWith("nesting deeper than 256 levels"));
}

TEST_CASE("export: a finished run becomes a W&B offline run with its rows and media", "[export]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.id = "finished";
    s.config = {{"lr", 0.1}};
    auto run = runlog::init(s);
    run.define_metric("acc", runlog::metric_options{}.with_summary("max"));
    const std::uint8_t px[3] = {10, 20, 30};
    for (int i = 0; i < 25; ++i) run.log({{"acc", i / 100.0}});
    run.log({{"img", runlog::image::from_pixels(px, 3, 1, 1, 3)}});
    REQUIRE(run.finish(0) == runlog::status::ok);

    std::uint64_t progress_calls = 0;
    runlog::export_options options;
    options.progress = [&](std::uint64_t) { ++progress_calls; };
    const auto result = runlog::export_to_wandb(dir.path / "runlog" / "latest-run", options);
    INFO(result.message);
    REQUIRE(result.ok);
    CHECK(result.rows == 26);
    CHECK(result.media_files == 1);
    CHECK_FALSE(result.crashed);
    CHECK(result.output_dir.parent_path() == dir.path / "wandb");
    const auto types = record_types(result.output_dir);
    CHECK(types.front() == 21);
    CHECK(types[1] == 17);
    CHECK(std::count(types.begin(), types.end(), 2u) == 26);  // history
    CHECK(types[types.size() - 2] == 18);                     // exit
    CHECK(types.back() == 20);                                // final
    CHECK(std::count(types.begin(), types.end(), 12u) == 1);  // the metric definition
    // exporting twice is refused, and nothing changes
    const auto again = runlog::export_to_wandb(dir.path / "runlog" / "latest-run");
    CHECK_FALSE(again.ok);
    CHECK_THAT(again.message, Catch::Contains("already exists"));
}

TEST_CASE("export: a crashed run (torn last line) exports with exit code 1", "[export][crash]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.id = "crashed2";
    auto run = runlog::init(s);
    for (int i = 0; i < 10; ++i) run.log({{"loss", 1.0 / (i + 1)}});
    REQUIRE(run.flush() == runlog::status::ok);
    const fs::path rd = run.dir();
    // What a killed process leaves: run.json still "running", a torn last line.
    const std::string running_json = test::read_file(rd / "run.json");
    const std::string history = test::read_file(rd / "history.jsonl") + "{\"loss\":0.0,\"_st";
    run.finish();
    std::ofstream(rd / "run.json", std::ios::binary) << running_json;
    std::ofstream(rd / "history.jsonl", std::ios::binary) << history;
    const std::string before = test::read_file(rd / "history.jsonl");

    const auto result = runlog::export_to_wandb(rd);
    INFO(result.message);
    REQUIRE(result.ok);
    CHECK(result.crashed);
    CHECK(result.rows == 10);
    CHECK(result.warnings == std::vector<std::string>{"skipped a torn last line of history.jsonl"});
    CHECK_THAT(result.message, Catch::EndsWith("crashed run: exit code 1)"));
    for (const auto& entry : fs::directory_iterator(result.output_dir)) {
        if (entry.path().extension() != ".wandb") continue;
        const auto records = test::read_wandb_records(test::read_file(entry.path()));
        const auto exit_record = test::decode_proto(records[records.size() - 2]);
        CHECK(test::decode_proto(exit_record.str(18)).varint(1) == 1);
    }
    CHECK(test::read_file(rd / "history.jsonl") == before);  // input untouched

    runlog::export_options options;
    options.exit_code = 0;
    options.output_root = dir.path / "elsewhere";
    const auto as_success = runlog::export_to_wandb(rd, options);
    REQUIRE(as_success.ok);
    CHECK(as_success.output_dir.parent_path() == dir.path / "elsewhere" / "wandb");
}

TEST_CASE("export: unreadable input is refused with a clear message", "[export]") {
    test::temp_dir dir;
    CHECK_THAT(runlog::export_to_wandb(dir.path / "missing").message,
               Catch::Contains("is not a directory"));
    CHECK_THAT(runlog::export_to_wandb(dir.path).message, Catch::Contains("has no run.json"));
    std::ofstream(dir.path / "run.json") << R"({"format":"runlog/99"})";
    CHECK_THAT(runlog::export_to_wandb(dir.path).message, Catch::Contains("is format 'runlog/99'"));
    std::ofstream(dir.path / "run.json") << R"({"format":"runlog/1",)";
    CHECK_THAT(runlog::export_to_wandb(dir.path).message, Catch::Contains("is not valid JSON"));
    std::ofstream(dir.path / "run.json") << R"({"format":"runlog/1","id":"x","start_time":1.0})";
    std::ofstream(dir.path / "config.json") << "{}";
    std::ofstream(dir.path / "metrics.json") << "[]";
    std::ofstream(dir.path / "summary.json") << "{}";
    std::ofstream(dir.path / "history.jsonl")
        << R"({"_step":0,"x":{"_type":"image-file","path":"/etc/passwd"}})"
        << "\n"
        << R"({"_step":1,"y":{"_type":"image-file","path":"media/../../secret"}})"
        << "\n";
    runlog::export_options to_out;
    to_out.output_root = dir.path / "out";
    const auto hostile = runlog::export_to_wandb(dir.path, to_out);
    REQUIRE(hostile.ok);
    CHECK(hostile.media_files == 0);
    CHECK(hostile.warnings.size() == 2);
    CHECK_THAT(hostile.warnings[0], Catch::Contains("'/etc/passwd' is outside media/"));
    std::ofstream(dir.path / "history.jsonl") << "{\"_step\":0}\nnot json\n{\"_step\":1}\n";
    const auto r = runlog::export_to_wandb(dir.path);
    CHECK_FALSE(r.ok);
    CHECK(r.message == "history.jsonl line 2 is not valid JSON and is not the last line");
    CHECK_FALSE(fs::exists(dir.path.parent_path() / "wandb" / "offline-run-19700101_000001-x"));
}

TEST_CASE("export: a time no protobuf Timestamp holds is clamped, with a warning naming the row",
          "[export][hostile]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    auto run = runlog::init(s);
    run.log({{"loss", 1.0}});
    run.log({{"loss", 0.5}});
    const fs::path run_dir = run.dir();
    REQUIRE(run.finish() == runlog::status::ok);
    // A crafted file (the fuzzer's input, tests/fuzz/corpus/native_run/huge_timestamp).
    auto lines = test::read_lines(run_dir / "history.jsonl");
    std::string history;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string line = lines[i];
        if (i == 1) {
            const auto at = line.find("\"_timestamp\":");
            line = line.substr(0, at) + "\"_timestamp\":1.1e104}";
        }
        history += line + "\n";
    }
    REQUIRE(runlog::detail::write_file_atomically(run_dir / "history.jsonl", history).ok());
    runlog::export_options options;
    options.output_root = dir.path / "out";
    const auto result = runlog::export_to_wandb(run_dir, options);
    INFO(result.message);
    REQUIRE(result.ok);
    REQUIRE_FALSE(result.warnings.empty());
    CHECK_THAT(result.warnings.back(), Catch::Contains("the row of step 1: _timestamp 1.1e+104") &&
                                           Catch::Contains("clamped"));
}
