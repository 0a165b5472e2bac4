// SPDX-License-Identifier: MIT
// Built against single_include/ only (no include/ on the path): the amalgamated header works
// alone and matches the multi-header behaviour on a small run.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include <runlog/runlog.hpp>

TEST_CASE("single header: a run logs and finishes", "[single_include]") {
    namespace fs = std::filesystem;
    std::random_device rd;
    const fs::path dir = fs::temp_directory_path() / ("runlog-single-" + std::to_string(rd()));
    auto sink = std::make_shared<runlog::memory_sink>();
    auto run = runlog::init(runlog::settings{}
                                .with_dir(dir.string())
                                .with_quiet(true)
                                .with_sink(sink)
                                .with_id("single01"));
    run.define_metric("loss", runlog::metric_options{}.with_summary("min"));
    for (int i = 0; i < 10; ++i) run.log({{"loss", 10 - i}});
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK(sink->rows().size() == 10);
    CHECK(sink->summary().find("loss")->dump() == R"({"min":1})");
    CHECK(fs::exists(run.dir() / "history.jsonl"));
    fs::remove_all(dir);
}
