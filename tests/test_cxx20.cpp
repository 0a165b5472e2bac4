// SPDX-License-Identifier: MIT
// The README's C++20 spelling with designated initializers, compiled as C++20.
#include <catch2/catch.hpp>

#include "support/test_support.hpp"

TEST_CASE("C++20 designated initializers", "[cxx20]") {
    test::temp_dir dir;
    test::clear_runlog_environment();
    auto run =
        runlog::init({.project = "mnist",
                      .name = "baseline",
                      .dir = dir.path.string(),
                      .config = {{"lr", 1e-3}, {"optimizer", {{"name", "adam"}, {"beta1", 0.9}}}},
                      .quiet = true});
    run.define_metric("val/*", {.step_metric = "epoch"});
    run.define_metric("val/acc", {.summary = "max,last"});
    for (int i = 0; i < 3; ++i) run.log({{"train/loss", 1.0 / (i + 1)}, {"lr", 1e-3}});
    run.log({{"val/acc", 0.9}, {"epoch", 1}}, 10);
    run.summary_set("best_epoch", 3);
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK_THAT(test::read_file(run.dir() / "summary.json"),
               Catch::Contains(R"("val/acc":{"max":0.9,"last":0.9})"));
    CHECK(test::read_lines(run.dir() / "history.jsonl").size() == 4);
}
