// SPDX-License-Identifier: MIT
// Resumed runs (issue 9, item 4): settings::resume = never | allow | must with a run id continues
// the run's directory, its steps, its summaries (exact across sessions) and its config.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include <runlog/detail/json_reader.hpp>
#include <runlog/detail/run_dir.hpp>
#include <runlog/export.hpp>

#include "support/test_support.hpp"
#include "support/tfevents_reader.hpp"
#include "support/wandb_reader.hpp"

namespace fs = std::filesystem;
using runlog::value;

namespace {

runlog::settings resumable(const test::temp_dir& dir, runlog::resume_mode mode) {
    auto s = test::quiet_settings(dir);
    s.id = "resumed1";
    s.resume = mode;
    s.capture_git = false;
    return s;
}

/// One .wandb file of a run, read strictly (complete, every record valid).
struct wandb_file {
    test::proto_message run;          // the RunRecord
    std::vector<std::int64_t> steps;  // of its history records
    std::size_t metrics = 0;          // metric records
    bool exited = false;
};

/// The run's W&B offline directories, oldest first, each with its .wandb file read.
std::vector<wandb_file> wandb_files(const fs::path& root, const std::string& id) {
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(root / "wandb"))
        if (!entry.is_symlink() && entry.path().filename().string().rfind("offline-run-", 0) == 0)
            dirs.push_back(entry.path());
    std::sort(dirs.begin(), dirs.end());  // names start with the start time
    std::vector<wandb_file> files;
    for (const fs::path& d : dirs) {
        wandb_file f;
        for (const auto& bytes :
             test::read_wandb_records(test::read_file(d / ("run-" + id + ".wandb")), false)) {
            const test::proto_message record = test::decode_proto(bytes);
            switch (test::record_type(record)) {
                case 17:
                    if (!f.run.has(1)) f.run = test::decode_proto(record.str(17));
                    break;
                case 2: {
                    const auto history = test::decode_proto(record.str(2));
                    f.steps.push_back(
                        static_cast<std::int64_t>(test::decode_proto(history.str(2)).varint(1)));
                    break;
                }
                case 12:
                    ++f.metrics;
                    break;
                case 18:
                    f.exited = true;
                    break;
            }
        }
        files.push_back(f);
    }
    return files;
}

double start_seconds(const test::proto_message& run) {
    return static_cast<double>(test::decode_proto(run.str(17)).varint(1));
}

}  // namespace

TEST_CASE("resume: a second session continues steps, summaries and config", "[resume]") {
    test::temp_dir dir;
    const double losses[] = {0.9, 0.5, 0.2, 0.7, 0.4};
    fs::path first_dir;
    double first_start = 0;
    {
        auto s = resumable(dir, runlog::resume_mode::allow);  // nothing to resume: a new run
        s.config = {{"lr", 0.1}};
        s.tensorboard = true;
        s.wandb_offline = true;
        auto run = runlog::init(s);
        run.define_metric("loss", runlog::metric_options{}.with_summary("min,max,mean,last"));
        for (double loss : losses) run.log({{"loss", loss}});
        run.summary_set("note", "set in the first session");
        REQUIRE(run.finish() == runlog::status::ok);
        first_dir = run.dir();
        first_start = test::read_json(first_dir / "run.json").find("start_time")->as_double();
        CHECK(test::read_json(first_dir / "run.json").find("resumed") == nullptr);
    }
    {
        auto s = resumable(dir, runlog::resume_mode::must);
        s.config = {{"epochs", 5}};
        s.tensorboard = true;
        s.wandb_offline = true;
        auto run = runlog::init(s);
        CHECK(run.dir() == first_dir);
        const value live = test::read_json(first_dir / "run.json");
        CHECK(live.find("status")->as_string() == "running");
        CHECK(live.find("resumed")->as_int() == 1);
        for (double loss : {0.3, 0.1, 0.6}) run.log({{"loss", loss}});
        REQUIRE(run.finish() == runlog::status::ok);
    }
    const auto rows = test::read_history(first_dir);
    REQUIRE(rows.size() == 8);
    for (std::size_t i = 0; i < rows.size(); ++i)
        CHECK(rows[i].find("_step")->as_int() == static_cast<std::int64_t>(i));
    const value run_json = test::read_json(first_dir / "run.json");
    CHECK(run_json.find("status")->as_string() == "finished");
    CHECK(run_json.find("resumed")->as_int() == 1);
    CHECK(run_json.find("start_time")->as_double() == first_start);
    CHECK(rows.back().find("_runtime")->as_double() >= rows.front().find("_runtime")->as_double());

    // Summaries over both sessions, exactly.
    const value summary = test::read_json(first_dir / "summary.json");
    const value* loss = summary.find("loss");
    REQUIRE(loss != nullptr);
    CHECK(loss->find("min")->as_double() == 0.1);
    CHECK(loss->find("max")->as_double() == 0.9);
    CHECK(loss->find("mean")->as_double() ==
          Approx((0.9 + 0.5 + 0.2 + 0.7 + 0.4 + 0.3 + 0.1 + 0.6) / 8));
    CHECK(loss->find("last")->as_double() == 0.6);
    CHECK(summary.find("note")->as_string() == "set in the first session");
    CHECK(summary.find("_step")->as_int() == 7);

    const value config = test::read_json(first_dir / "config.json");
    CHECK(config.find("lr")->as_double() == 0.1);
    CHECK(config.find("epochs")->as_int() == 5);
    CHECK_THAT(test::read_file(first_dir / "metrics.json"), Catch::Contains("\"loss\""));

    // TensorBoard: a second events file in the same run directory, steps going on.
    std::vector<std::int64_t> steps;
    for (const auto& entry : fs::recursive_directory_iterator(dir.path / "tensorboard"))
        if (entry.is_regular_file())
            for (const auto& e : test::read_events(test::read_file(entry.path())))
                for (const auto& v : e.values)
                    if (v.tag == "loss") steps.push_back(e.step);
    std::sort(steps.begin(), steps.end());
    CHECK(steps == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7});

    // W&B: the second session is a second offline directory of the same run id, its run record
    // marked resumed at step 5, later, with the runtime before it (`wandb sync --append`).
    const auto files = wandb_files(dir.path, "resumed1");
    REQUIRE(files.size() == 2);
    CHECK(files[0].steps == std::vector<std::int64_t>{0, 1, 2, 3, 4});
    CHECK(files[1].steps == std::vector<std::int64_t>{5, 6, 7});
    CHECK((files[0].exited && files[1].exited));
    CHECK(files[1].run.str(1) == "resumed1");
    CHECK_FALSE(files[0].run.has(18));
    CHECK(files[1].run.varint(18) == 1);  // resumed
    CHECK(files[1].run.varint(14) == 5);  // starting_step
    CHECK(files[1].run.has(20));          // runtime
    CHECK(files[1].metrics == 1);         // loss, defined in the first session, again
    CHECK(start_seconds(files[1].run) >= start_seconds(files[0].run));
    CHECK_THAT(files[1].run.str(4), Catch::Contains("epochs") && Catch::Contains("lr"));
    CHECK(fs::read_symlink(dir.path / "wandb" / "latest-run").string().find("-resumed1") !=
          std::string::npos);
}

TEST_CASE("resume: a crashed session's torn last line is cut before the run goes on", "[resume]") {
    test::temp_dir dir;
    fs::path rd;
    {
        auto run = runlog::init(resumable(dir, runlog::resume_mode::never));
        for (int i = 0; i < 3; ++i) run.log({{"x", i}});
        REQUIRE(run.flush() == runlog::status::ok);
        rd = run.dir();
        const std::string running = test::read_file(rd / "run.json");
        run.finish();
        // What a killed process leaves: "running", and a torn last line.
        std::ofstream(rd / "run.json", std::ios::binary) << running;
        std::ofstream(rd / "history.jsonl", std::ios::binary | std::ios::app) << "{\"x\":3,\"_st";
    }
    auto run = runlog::init(resumable(dir, runlog::resume_mode::allow));
    run.log({{"x", 30}});
    REQUIRE(run.finish() == runlog::status::ok);
    const auto rows = test::read_history(rd);  // every line parses
    REQUIRE(rows.size() == 4);
    CHECK(rows[3].find("x")->as_int() == 30);
    CHECK(rows[3].find("_step")->as_int() == 3);
}

TEST_CASE("resume: steps below the last committed one are dropped and reported", "[resume]") {
    test::temp_dir dir;
    {
        auto run = runlog::init(resumable(dir, runlog::resume_mode::never));
        run.log({{"x", 1}}, 10);
        run.finish();
    }
    test::error_log errors;
    auto s = resumable(dir, runlog::resume_mode::must);
    s.on_error = errors.handler();
    auto run = runlog::init(s);
    run.log({{"x", 2}}, 5);   // a restart from an older checkpoint
    run.log({{"x", 3}}, 11);  // after the last committed step: kept
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK(errors.count(runlog::errc::step_not_increasing) == 1);
    const auto rows = test::read_history(run.dir());
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].find("_step")->as_int() == 11);
}

TEST_CASE("resume: setup errors name what is wrong", "[resume]") {
    test::temp_dir dir;
    auto must = resumable(dir, runlog::resume_mode::must);
    CHECK_THROWS_WITH(runlog::init(must), Catch::Contains("no run with id 'resumed1'"));

    auto no_id = resumable(dir, runlog::resume_mode::allow);
    no_id.id.clear();
    CHECK_THROWS_WITH(runlog::init(no_id), Catch::Contains("settings.id is empty"));

    { runlog::init(resumable(dir, runlog::resume_mode::never)).finish(); }
    CHECK_THROWS_WITH(runlog::init(resumable(dir, runlog::resume_mode::never)),
                      Catch::Contains("already exists"));

    const test::env_guard garbage("RUNLOG_RESUME", "sometimes");
    CHECK_THROWS_WITH(runlog::init(resumable(dir, runlog::resume_mode::never)),
                      Catch::Contains("RUNLOG_RESUME='sometimes'"));
}

TEST_CASE(
    "rewind_to_step: a restart from an older checkpoint hides the later rows and "
    "recomputes the summaries",
    "[resume]") {
    test::temp_dir dir;
    fs::path rd;
    {
        auto s = resumable(dir, runlog::resume_mode::allow);
        s.tensorboard = true;
        auto run = runlog::init(s);
        run.define_metric("loss", runlog::metric_options{}.with_summary("min,max,last"));
        for (int step = 0; step < 10; ++step) run.log({{"loss", 10.0 - step}});  // min 1 at 9
        rd = run.dir();
        // The job ends here; its next attempt restarts from the checkpoint of step 5.
    }
    test::error_log errors;
    auto s = resumable(dir, runlog::resume_mode::must);
    s.tensorboard = true;
    s.on_error = errors.handler();
    auto run = runlog::init(s);
    run.rewind_to_step(5);
    run.log({{"loss", 7.5}});
    run.log({{"loss", 6.5}});
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK(errors.reports.empty());

    const auto rows = test::read_history(rd);
    REQUIRE(rows.size() == 8);
    for (std::size_t i = 0; i < rows.size(); ++i)
        CHECK(rows[i].find("_step")->as_int() == static_cast<std::int64_t>(i));
    CHECK(rows[6].find("loss")->as_double() == 7.5);
    const auto rewound = test::read_file(rd / "history.rewound-1.jsonl");
    CHECK(std::count(rewound.begin(), rewound.end(), '\n') == 4);  // steps 6..9, kept aside

    const value loss = *test::read_json(rd / "summary.json").find("loss");
    CHECK(loss.find("min")->as_double() == 5.0);  // over steps 0..5 and the new 6, 7
    CHECK(loss.find("max")->as_double() == 10.0);
    CHECK(loss.find("last")->as_double() == 6.5);

    // TensorBoard: the run's first file begins with the initial START (step 0), so that the
    // rewind's START at step 6 is a restart to the loader, which keeps the steps below 6.
    std::vector<std::int64_t> starts;
    for (const auto& entry : fs::recursive_directory_iterator(dir.path / "tensorboard"))
        if (entry.is_regular_file())
            for (const auto& e : test::read_events(test::read_file(entry.path())))
                if (e.session_log_status == 1) starts.push_back(e.step);
    std::sort(starts.begin(), starts.end());  // the two files, in whatever order listed
    CHECK(starts == std::vector<std::int64_t>{0, 6});

    // What export sees is the history up to step 5 and the rows after the restart.
    runlog::export_options options;
    options.output_root = dir.path / "exported";
    const auto exported = runlog::export_to_tensorboard(rd, options);
    INFO(exported.message);
    CHECK(exported.ok);
    CHECK(exported.rows == 8);
}

TEST_CASE(
    "rewind_to_step: in a live run, an open row past the step is dropped; W&B goes on in a "
    "new file that rewinds the run",
    "[resume]") {
    test::temp_dir dir;
    test::error_log errors;
    auto s = test::quiet_settings(dir, &errors);
    s.wandb_offline = true;
    s.capture_git = false;
    auto memory = std::make_shared<runlog::memory_sink>();
    s.sinks.push_back(memory);
    auto run = runlog::init(s);
    for (int step = 0; step < 5; ++step) run.log({{"x", step}}, step);  // step 4 still open
    run.rewind_to_step(2);
    run.log({{"x", 30}});
    run.rewind_to_step(-1);
    REQUIRE(run.finish() == runlog::status::ok);
    const auto rows = memory->rows();
    REQUIRE(rows.size() == 4);
    CHECK(rows[3].find("_step")->as_int() == 3);
    CHECK(rows[3].find("x")->as_int() == 30);
    CHECK_THAT(errors.all_text(), Catch::Contains("rewind_to_step(-1)"));
    CHECK(errors.reports.size() == 1);

    // The first file ends (exit record); the second names a branch point on the run itself at
    // _step 2, as wandb.init(resume_from="<id>?_step=2") does, and holds the rows after it.
    const auto files = wandb_files(dir.path, run.id());
    REQUIRE(files.size() == 2);
    CHECK(files[0].steps == std::vector<std::int64_t>{0, 1, 2, 3});
    CHECK((files[0].exited && files[1].exited));
    CHECK(files[1].steps == std::vector<std::int64_t>{3});
    CHECK(files[1].run.varint(14) == 3);  // starting_step
    CHECK_FALSE(files[1].run.has(18));    // not a resume: synced without --append
    const auto branch = test::decode_proto(files[1].run.str(23));
    CHECK(branch.str(1) == run.id());
    CHECK(branch.str(3) == "_step");
    double at = 0;
    REQUIRE(branch.str(2).size() == sizeof at);
    std::memcpy(&at, branch.str(2).data(), sizeof at);
    CHECK(at == 2.0);
}

TEST_CASE("open row: flush() makes a row still open durable; a kill keeps it, resume commits it",
          "[resume][open_row]") {
    test::temp_dir dir;
    REQUIRE(test::run_in_killed_child([&] {
        auto run = runlog::init(resumable(dir, runlog::resume_mode::allow));
        run.log({{"loss", 2.0}}, 98);
        run.log({{"loss", 1.0}, {"acc", 0.5}}, 99);  // commits 98; 99 stays open
        run.flush();
        std::raise(SIGKILL);
    }));
    const fs::path rd = runlog::detail::find_run_dir(dir.path, "resumed1");
    REQUIRE(test::read_history(rd).size() == 1);  // history.jsonl: step 98 only
    REQUIRE(fs::exists(rd / "open-row.json"));

    // Every reader of the native run has step 99: export, and resume.
    runlog::export_options options;
    options.output_root = dir.path / "exported";
    const auto exported = runlog::export_to_wandb(rd, options);
    CHECK(exported.ok);
    CHECK(exported.rows == 2);
    CHECK_THAT(exported.warnings.back(), Catch::Contains("step 99 from open-row.json"));

    auto run = runlog::init(resumable(dir, runlog::resume_mode::must));
    run.log({{"loss", 0.5}});  // goes on after 99
    REQUIRE(run.finish() == runlog::status::ok);
    const auto rows = test::read_history(rd);
    REQUIRE(rows.size() == 3);
    CHECK(rows[1].find("_step")->as_int() == 99);
    CHECK(rows[1].find("acc")->as_double() == 0.5);
    CHECK(rows[2].find("_step")->as_int() == 100);
    CHECK_FALSE(fs::exists(rd / "open-row.json"));
    CHECK(test::read_json(rd / "summary.json").find("acc")->as_double() == 0.5);
}

TEST_CASE("open row: a committed or rewound-away open row leaves no open-row.json",
          "[resume][open_row]") {
    test::temp_dir dir;
    auto run = runlog::init(resumable(dir, runlog::resume_mode::allow));
    const fs::path rd = run.dir();
    run.log({{"loss", 1.0}}, 10);
    REQUIRE(run.flush() == runlog::status::ok);
    CHECK(test::read_json(rd / "open-row.json").find("_step")->as_int() == 10);
    run.log({{"loss", 0.5}}, 11);  // commits 10; 11 open
    REQUIRE(run.flush() == runlog::status::ok);
    CHECK(test::read_json(rd / "open-row.json").find("_step")->as_int() == 11);
    run.rewind_to_step(5);  // drops the open row 11
    REQUIRE(run.flush() == runlog::status::ok);
    CHECK_FALSE(fs::exists(rd / "open-row.json"));
    run.log({{"loss", 0.7}}, 6);
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK_FALSE(fs::exists(rd / "open-row.json"));
    const auto rows = test::read_history(rd);
    REQUIRE(rows.size() == 1);  // 10 was after the rewind's step; 6 committed at finish
    CHECK(rows[0].find("_step")->as_int() == 6);
}

TEST_CASE("resume = never: an id used by an earlier run is a setup error, whenever it started",
          "[resume]") {
    test::temp_dir dir;
    static double now = 1800000000.0;
    auto s = resumable(dir, runlog::resume_mode::never);
    s.clock = [] { return now; };
    { runlog::init(s).finish(); }
    now += 3600.0;  // an hour later: another directory name, the same id
    CHECK_THROWS_WITH(runlog::init(s), Catch::Contains("a run with id 'resumed1' already exists") &&
                                           Catch::Contains("settings.resume"));
    std::size_t dirs = 0;
    for (const auto& entry : fs::directory_iterator(dir.path / "runlog"))
        dirs += entry.path().filename().string().rfind("run-", 0) == 0 ? 1 : 0;
    CHECK(dirs == 1);
}
