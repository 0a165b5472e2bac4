// SPDX-License-Identifier: MIT
// runlog::compiled (RUNLOG_COMPILED_LIB): a training loop's translation unit sees declarations
// only, and src/runlog.cpp, linked in, defines them. Built into runlog_compiled_tests with
// test_second_tu.cpp, whose umbrella include then catches a definition left in a light header.
#if !RUNLOG_COMPILED_LIB
#error "test_compiled.cpp is built with RUNLOG_COMPILED_LIB=1"
#endif

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <runlog/checkpoint_logger.hpp>  // a tool: its own header in this mode, still header-only

#include "support/test_support.hpp"

namespace fs = std::filesystem;

TEST_CASE("compiled library: a run through every file format", "[compiled][files]") {
    test::temp_dir dir;
    test::error_log errors;
    auto s = test::quiet_settings(dir, &errors);
    s.project = "compiled";
    s.config = {{"lr", 0.1}};
    s.wandb_offline = true;
    s.tensorboard = true;
    auto run = runlog::init(s);
    REQUIRE(run.enabled());
    runlog::metric_options loss;
    loss.summary = "min";
    run.define_metric("loss", loss);
    run.config.set("batch", 32);
    for (int step = 0; step < 5; ++step) run.log({{"loss", 1.0 / (step + 1)}, {"step", step}});
    const std::vector<std::uint8_t> pixels(4 * 4 * 3, 200);
    run.log({{"sample", runlog::image::from_pixels(pixels.data(), pixels.size(), 4, 4, 3)}});
    runlog::table t({"name", "score"});
    t.add_row({"a", 1.5});
    run.log_table("scores", t);
    run.log({{"weights", runlog::histogram(std::vector<double>{1, 2, 2, 3})}});
    run.summary_set("note", "compiled");
    REQUIRE(run.flush() == runlog::status::ok);
    REQUIRE(run.finish() == runlog::status::ok);

    const fs::path rd = run.dir();
    CHECK(test::read_lines(rd / "history.jsonl").size() == 8);
    CHECK_THAT(test::read_file(rd / "summary.json"), Catch::Contains(R"("note":"compiled")"));
    CHECK_THAT(test::read_file(rd / "summary.json"), Catch::Contains(R"("loss":{"min":0.2})"));
    CHECK_THAT(test::read_file(rd / "run.json"), Catch::Contains(R"("status":"finished")"));
    bool png = false;
    for (const auto& entry : fs::recursive_directory_iterator(rd / "media"))
        png = png || (entry.path().extension() == ".png" &&
                      test::read_file(entry.path()).compare(1, 3, "PNG") == 0);
    CHECK(png);  // encoded by the library's image_data::file()
    bool wandb = false, tensorboard = false;
    for (const auto& entry : fs::recursive_directory_iterator(dir.path)) {
        wandb = wandb || entry.path().extension() == ".wandb";
        tensorboard =
            tensorboard || entry.path().filename().string().rfind("events.out.tfevents", 0) == 0;
    }
    CHECK(wandb);
    CHECK(tensorboard);
    CHECK(errors.all_text().empty());
}

TEST_CASE("compiled library: setup errors, images from files and artifacts", "[compiled]") {
    test::temp_dir dir;
    std::ofstream(dir.path / "plain") << "not a directory";
    auto bad = test::quiet_settings(dir);
    bad.dir = (dir.path / "plain").string();
    CHECK_THROWS_AS(runlog::init(bad), runlog::error);

    CHECK_THAT(runlog::image::from_file((dir.path / "plain").string()).error(),
               Catch::Contains("not a PNG or JPEG"));

    auto run = runlog::init(test::quiet_settings(dir));
    std::ofstream(dir.path / "model.ckpt") << "weights";
    runlog::checkpoint_options options;
    options.monitor = "val/loss";
    runlog::checkpoint_logger checkpoints(run, options);
    CHECK(checkpoints.saved(dir.path / "model.ckpt", 10, {{"val/loss", 0.5}}).ok());
    CHECK(run.use_artifact(checkpoints.name() + ":best").version == 0);
    CHECK(run.finish() == runlog::status::ok);
    CHECK(run.stats().artifacts_logged == 1);
}
