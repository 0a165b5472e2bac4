// SPDX-License-Identifier: MIT
// A whole run directory compared with committed golden files (tests/golden/basic/), after
// normalising what legitimately varies: host, pid and library version. Times are fixed by an
// injected clock and the id is chosen. Regenerate with RUNLOG_UPDATE_GOLDEN=1 after a deliberate
// format change, and say so in docs/format.md.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <regex>

#include "support/test_support.hpp"

namespace {
std::atomic<int> ticks{0};
double fixed_clock() {
    return 1800000000.0 + 0.25 * ticks.fetch_add(1);
}

std::string normalise(std::string text) {
    text = std::regex_replace(text, std::regex(R"("host":"[^"]*")"), R"("host":"HOST")");
    text = std::regex_replace(text, std::regex(R"("pid":[0-9]+)"), R"("pid":0)");
    text = std::regex_replace(text, std::regex(R"("runlog_version":"[^"]*")"),
                              R"("runlog_version":"VERSION")");
    return text;
}
}  // namespace

TEST_CASE("golden: a small training run's directory", "[golden][files]") {
    test::temp_dir dir;
    ticks = 0;
    auto s = test::quiet_settings(dir);
    s.project = "mnist";
    s.name = "baseline";
    s.id = "golden01";
    s.tags = {"cpu", "smoke"};
    s.clock = fixed_clock;
    s.capture_environment = false;  // machine-dependent
    s.capture_git = false;
    s.config = {{"lr", 1e-3}, {"optimizer", {{"name", "adam"}, {"beta1", 0.9}}}};
    auto run = runlog::init(s);
    run.define_metric("epoch");
    run.define_metric("val/*", runlog::metric_options{}.with_step_metric("epoch"));
    run.define_metric("val/acc",
                      runlog::metric_options{}.with_summary("max,last").with_goal("maximize"));
    run.define_metric("train/loss", runlog::metric_options{}.with_summary("min,mean"));
    int step = 0;
    for (int epoch = 0; epoch < 2; ++epoch) {
        for (int batch = 0; batch < 3; ++batch, ++step)
            run.log({{"train/loss", 1.0 / (step + 1)}, {"lr", 0.001f}}, step);
        // end of epoch: epoch first (commit=false), then validation at the same step, committed
        run.log({{"epoch", epoch}}, step, false);
        run.log({{"val/acc", 0.5 + 0.2 * epoch}, {"val/loss", epoch == 0 ? 0.8 : std::nan("")}},
                step++, true);
        run.log({{"val/acc", 0.1}}, 0);  // a decreasing step: dropped, counted
    }
    run.log({{"note", "tab\there \"quoted\" ✓"}, {"_hidden", 1}});
    run.config.update({{"optimizer", {{"beta1", 0.95}}}, {"epochs", 2}});
    run.summary_set("best_epoch", 1);
    REQUIRE(run.finish() == runlog::status::ok);

    const auto golden = std::filesystem::path(RUNLOG_TEST_SOURCE_DIR) / "golden" / "basic";
    const bool update = std::getenv("RUNLOG_UPDATE_GOLDEN") != nullptr;
    for (const char* name :
         {"run.json", "config.json", "metrics.json", "history.jsonl", "summary.json"}) {
        INFO(name);
        const std::string actual = normalise(test::read_file(run.dir() / name));
        if (update) {
            std::filesystem::create_directories(golden);
            std::ofstream(golden / name, std::ios::binary) << actual;
        }
        CHECK(actual == test::read_file(golden / name));
    }
}
