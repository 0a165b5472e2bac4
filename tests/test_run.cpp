// SPDX-License-Identifier: MIT
// Run lifecycle, settings and environment, errors, ids, ranks, the native run directory.
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include <unistd.h>  // geteuid

#include "support/test_support.hpp"

using runlog::value;
namespace fs = std::filesystem;

TEST_CASE("run: init writes an open run directory, finish closes it", "[run][files]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.project = "mnist";
    s.name = "baseline";
    s.config = {{"lr", 1e-3}};
    auto run = runlog::init(s);
    REQUIRE(run.enabled());
    CHECK(run.id().size() == 8);
    CHECK(run.project() == "mnist");
    const fs::path rd = run.dir();
    CHECK(rd.parent_path() == dir.path / "runlog");
    CHECK(rd.filename().string().rfind("run-", 0) == 0);
    CHECK(rd.filename().string().size() == std::string("run-YYYYMMDD_HHMMSS-").size() + 8);
    for (const char* f :
         {"run.json", "config.json", "metrics.json", "summary.json", "history.jsonl"})
        CHECK(fs::exists(rd / f));
    CHECK(fs::is_directory(rd / "media"));
    CHECK(fs::read_symlink(dir.path / "runlog" / "latest-run") == rd.filename());
    CHECK_THAT(test::read_file(rd / "run.json"), Catch::Contains(R"("status":"running")"));
    CHECK(test::read_file(rd / "config.json") == "{\"lr\":0.001}\n");

    run.log({{"loss", 0.5}});
    REQUIRE(run.finish(3) == runlog::status::ok);
    const std::string run_json = test::read_file(rd / "run.json");
    CHECK_THAT(run_json, Catch::Contains(R"("status":"failed","exit_code":3)"));
    CHECK_THAT(run_json, Catch::Contains(R"("rows_committed":1)"));
    CHECK(test::read_lines(rd / "history.jsonl").size() == 1);
    CHECK(run.finish() == runlog::status::finished);
    CHECK(run.flush() == runlog::status::finished);
}

TEST_CASE("run: config is written when it changes, not only at finish", "[run][config]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.config = {{"lr", 1e-3}, {"optimizer", {{"name", "adam"}, {"beta1", 0.9}}}};
    auto run = runlog::init(s);
    run.config.update({{"optimizer", {{"beta1", 0.95}}}, {"batch", 64}});
    run.config.set("seed", 7);
    run.config.update(value(3));  // not an object: reported, ignored
    REQUIRE(run.flush() == runlog::status::ok);
    CHECK(test::read_file(run.dir() / "config.json") ==
          R"({"lr":0.001,"optimizer":{"name":"adam","beta1":0.95},"batch":64,"seed":7})"
          "\n");
    CHECK(run.config.get().find("seed")->as_int() == 7);
    CHECK(run.config.flat().find("optimizer/beta1")->as_double() == 0.95);
    run.finish();
}

TEST_CASE("run: summary.json and metrics.json are current after flush", "[run][files]") {
    test::temp_dir dir;
    auto run = runlog::init(test::quiet_settings(dir));
    run.define_metric("acc", runlog::metric_options{}.with_summary("max").with_goal("max"));
    run.log({{"acc", 0.25}});
    run.log({{"acc", 0.75}});
    REQUIRE(run.flush() == runlog::status::ok);
    CHECK_THAT(test::read_file(run.dir() / "summary.json"),
               Catch::StartsWith(R"({"acc":{"max":0.75,"best":0.75,"best_step":1},"_step":1,)"));
    CHECK_THAT(
        test::read_file(run.dir() / "metrics.json"),
        Catch::Contains(
            R"({"name":"acc","step_metric":"","step_sync":false,"hidden":false,"summary":"max","goal":"maximize"})"));
    run.finish();
}

TEST_CASE("run: C++17 builder settings", "[run][settings]") {
    test::temp_dir dir;
    test::clear_runlog_environment();
    auto run = runlog::init(runlog::settings{}
                                .with_project("p")
                                .with_name("n")
                                .with_id("my-run_1")
                                .with_group("g")
                                .with_job_type("train")
                                .with_tags({"a", "b"})
                                .with_notes("notes")
                                .with_dir(dir.path.string())
                                .with_config({{"k", 1}})
                                .with_queue_capacity(100)
                                .with_overflow(runlog::overflow_policy::drop_newest)
                                .with_flush_interval(std::chrono::milliseconds(50))
                                .with_quiet(true));
    REQUIRE(run.enabled());
    CHECK(run.id() == "my-run_1");
    CHECK(run.name() == "n");
    const std::string rj = test::read_file(run.dir() / "run.json");
    CHECK_THAT(
        rj,
        Catch::Contains(
            R"("project":"p","name":"n","group":"g","job_type":"train","tags":["a","b"],"notes":"notes")"));
    CHECK_THAT(rj, Catch::Contains(
                       R"("queue_capacity":128,"overflow":"drop_newest","flush_interval":0.05)"));
    run.finish();
}

TEST_CASE("run: environment overrides settings", "[run][env]") {
    test::temp_dir dir;
    test::temp_dir other;
    test::env_guard e1("RUNLOG_DIR", other.path.string().c_str());
    test::env_guard e2("RUNLOG_PROJECT", "from-env");
    test::env_guard e3("RUNLOG_NAME", "env-name");
    test::env_guard e4("RUNLOG_RUN_ID", "envid123");
    test::env_guard e5("RUNLOG_GROUP", "env-group");
    test::env_guard e6("RUNLOG_TAGS", " x, y ,,z ");
    test::env_guard e7("RUNLOG_MODE", "offline");
    auto s = test::quiet_settings(dir);
    s.project = "from-code";
    s.name = "code-name";
    s.group = "code-group";
    auto run = runlog::init(s);
    REQUIRE(run.enabled());
    CHECK(run.id() == "envid123");
    CHECK(run.project() == "from-env");
    CHECK(run.dir().parent_path() == other.path / "runlog");
    const std::string rj = test::read_file(run.dir() / "run.json");
    CHECK_THAT(rj, Catch::Contains(R"("name":"env-name","group":"env-group")"));
    CHECK_THAT(rj, Catch::Contains(R"("tags":["x","y","z"])"));
    run.finish();
}

TEST_CASE("run: RUNLOG_MODE=disabled gives a silent, file-free run", "[run][env][disabled]") {
    test::temp_dir dir;
    test::env_guard mode("RUNLOG_MODE", "disabled");
    test::error_log errors;
    auto run = runlog::init(test::quiet_settings(dir, &errors));
    CHECK_FALSE(run.enabled());
    run.log({{"a", 1}});
    run.define_metric("a", runlog::metric_options{}.with_summary("bogus"));
    run.config.update({{"x", 1}});
    run.summary_set("x", 1);
    CHECK(run.flush() == runlog::status::disabled);
    CHECK(run.finish() == runlog::status::disabled);
    CHECK(fs::is_empty(dir.path));
    CHECK(errors.reports.empty());
    CHECK(run.stats().log_calls == 0);
}

TEST_CASE("run: bad settings and environment throw runlog::error naming the problem",
          "[run][errors]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    SECTION("bad mode") {
        test::env_guard mode("RUNLOG_MODE", "online");
        REQUIRE_THROWS_AS(runlog::init(s), runlog::error);
        REQUIRE_THROWS_WITH(
            runlog::init(s),
            "[runlog.102] RUNLOG_MODE='online' is not a mode (use offline or disabled)");
    }
    SECTION("bad id from the environment") {
        test::env_guard id("RUNLOG_RUN_ID", "no/slashes");
        REQUIRE_THROWS_WITH(runlog::init(s),
                            Catch::StartsWith("[runlog.102] RUNLOG_RUN_ID='no/slashes'"));
    }
    SECTION("bad id in settings") {
        s.id = "has space";
        REQUIRE_THROWS_WITH(runlog::init(s),
                            Catch::StartsWith("[runlog.101] settings.id 'has space'"));
    }
    SECTION("bad queue capacity") {
        s.queue_capacity = 1;
        REQUIRE_THROWS_WITH(runlog::init(s),
                            Catch::Contains("settings.queue_capacity 1 is out of range"));
    }
    SECTION("config that is not an object") {
        s.config = value::array({1, 2});
        REQUIRE_THROWS_WITH(runlog::init(s), Catch::Contains("settings.config must be an object"));
    }
    SECTION("bad rank variable") {
        test::env_guard rank("RANK", "zero");
        REQUIRE_THROWS_WITH(runlog::init(s),
                            "[runlog.102] RANK='zero' is not a rank (a non-negative integer)");
    }
    SECTION("unwritable directory") {
        fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
        if (::geteuid() == 0) {
            // root ignores permission bits: block the path with a file instead
            fs::permissions(dir.path, fs::perms::owner_all);
            std::ofstream(dir.path / "runlog") << "a file";
        }
        try {
            runlog::init(s);
            FAIL("init succeeded in an unwritable directory");
        } catch (const runlog::error& e) {
            CHECK(e.code() == runlog::errc::run_dir_unwritable);
            CHECK_THAT(e.what(), Catch::StartsWith("[runlog.103] cannot create run directory"));
            CHECK_THAT(e.what(), Catch::Contains("set settings.dir or RUNLOG_DIR"));
        }
    }
    SECTION("a chosen id that already exists") {
        s.id = "dup";
        s.clock = [] { return 1800000000.0; };
        auto first = runlog::init(s);
        REQUIRE_THROWS_WITH(runlog::init(s), Catch::Contains("a run with id 'dup' already exists"));
        first.finish();
    }
}

TEST_CASE("run: 1000 runs started in one second in one directory never collide", "[run][ids]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.clock = [] { return 1800000000.0; };  // the same second for every run
    s.native_files = false;
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) {
        auto run = runlog::init(s);
        REQUIRE(run.enabled());
        for (char c : run.id()) REQUIRE(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')));
        ids.insert(run.id());
        run.finish();
    }
    CHECK(ids.size() == 1000);
    std::size_t dirs = 0;
    for (const auto& entry : fs::directory_iterator(dir.path / "runlog"))
        dirs += entry.is_directory() && !entry.is_symlink() ? 1 : 0;
    CHECK(dirs == 1000);
}

TEST_CASE("run: non-zero ranks get a disabled run, by each variable", "[run][ranks]") {
    test::temp_dir dir;
    const char* variables[] = {"RANK",      "SLURM_PROCID", "OMPI_COMM_WORLD_RANK",
                               "PMI_RANK",  "PMIX_RANK",    "JSM_NAMESPACE_RANK",
                               "LOCAL_RANK"};
    for (const char* name : variables) {
        INFO(name);
        {
            test::env_guard rank(name, "3");
            auto run = runlog::init(test::quiet_settings(dir));
            CHECK_FALSE(run.enabled());
            CHECK(run.rank() == 3);  // the real rank, on a disabled rank too (it said 0)
            run.log({{"a", 1}});     // accepted, does nothing, never blocks
            CHECK(run.finish() == runlog::status::disabled);
        }
        {
            test::env_guard rank(name, "0");
            auto run = runlog::init(test::quiet_settings(dir));
            CHECK(run.enabled());
            CHECK(run.rank() == 0);
            run.finish();
        }
        {
            test::env_guard rank(name, "3");
            auto run = runlog::init(test::quiet_settings(dir).with_all_ranks(true));
            REQUIRE(run.enabled());
            CHECK(run.rank() == 3);
            CHECK_THAT(test::read_file(run.dir() / "run.json"), Catch::Contains(R"("rank":3)"));
            run.finish();
        }
    }
}

TEST_CASE("run: the first rank variable set wins; LOCAL_RANK only as a last resort",
          "[run][ranks]") {
    test::temp_dir dir;
    test::env_guard local("LOCAL_RANK", "0");
    test::env_guard slurm("SLURM_PROCID", "5");
    CHECK_FALSE(
        runlog::init(test::quiet_settings(dir)).enabled());  // SLURM_PROCID=5 beats LOCAL_RANK=0
    test::env_guard rank("RANK", "0");
    auto run = runlog::init(test::quiet_settings(dir));
    CHECK(run.enabled());  // RANK=0 beats SLURM_PROCID=5
    run.finish();
}

TEST_CASE("run: finish honours its deadline with a sink that blocks forever", "[run][finish]") {
    test::temp_dir dir;
    test::error_log errors;
    auto blocker = std::make_shared<test::blocking_sink>();
    auto s = test::quiet_settings(dir, &errors);
    s.sinks.push_back(blocker);
    auto run = runlog::init(s);
    run.log({{"a", 1}});
    run.log({{"a", 2}});
    REQUIRE(blocker->wait_entered(std::chrono::seconds(10)));
    CHECK(run.flush(std::chrono::milliseconds(50)) == runlog::status::timed_out);
    const auto start = std::chrono::steady_clock::now();
    CHECK(run.finish(0, std::chrono::milliseconds(200)) == runlog::status::timed_out);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(elapsed < std::chrono::seconds(5));
    CHECK(errors.count(runlog::errc::finish_timed_out) == 1);
    run.log({{"a", 3}});  // after finish: dropped, counted
    CHECK(run.stats().dropped_after_finish == 1);
    blocker->release();  // let the abandoned writer end
}

TEST_CASE("run: drop_newest counts what a full queue drops, and the rest arrives", "[run][queue]") {
    test::temp_dir dir;
    test::error_log errors;
    auto blocker = std::make_shared<test::blocking_sink>();
    auto counter = std::make_shared<test::counting_sink>();
    auto s = test::quiet_settings(dir, &errors);
    s.native_files = false;
    s.queue_capacity = 16;
    s.overflow = runlog::overflow_policy::drop_newest;
    s.sinks = {blocker, counter};
    auto run = runlog::init(s);
    run.log({{"a", 0}});
    REQUIRE(blocker->wait_entered(std::chrono::seconds(10)));  // the writer is stuck on row 0
    for (int i = 1; i <= 100; ++i) run.log({{"a", i}});
    const auto dropped = run.stats().dropped_queue_full;
    CHECK(dropped == 100 - 16);
    blocker->release();
    REQUIRE(run.finish() == runlog::status::ok);
    const auto st = run.stats();
    CHECK(st.rows_committed + st.dropped_queue_full == 101);
    CHECK(counter->rows.load() == st.rows_committed);
    CHECK(errors.count(runlog::errc::queue_full) >= 1);
    CHECK_THAT(errors.all_text(), Catch::Contains("log calls dropped: the queue was full"));
}

TEST_CASE("run: block policy waits at most block_timeout, then drops and counts", "[run][queue]") {
    test::temp_dir dir;
    auto blocker = std::make_shared<test::blocking_sink>();
    auto s = test::quiet_settings(dir);
    s.native_files = false;
    s.queue_capacity = 2;
    s.block_timeout = std::chrono::milliseconds(20);
    s.sinks = {blocker};
    auto run = runlog::init(s);
    run.log({{"a", 0}});
    REQUIRE(blocker->wait_entered(std::chrono::seconds(10)));
    for (int i = 1; i <= 5; ++i) run.log({{"a", i}});  // 2 fit, 3 time out
    CHECK(run.stats().dropped_queue_full == 3);
    blocker->release();
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK(run.stats().rows_committed == 3);
}

TEST_CASE("run: under block, callers that wait for room are queued in the order they came",
          "[run][queue]") {
    test::temp_dir dir;
    auto blocker = std::make_shared<test::blocking_sink>();
    auto memory = std::make_shared<runlog::memory_sink>();
    auto s = test::quiet_settings(dir);
    s.native_files = false;
    s.queue_capacity = 2;
    s.sinks = {blocker, memory};
    auto run = runlog::init(s);
    run.log({{"who", 0}});
    REQUIRE(blocker->wait_entered(std::chrono::seconds(10)));  // the writer is stuck on row 0
    run.log({{"who", 1}});
    run.log({{"who", 2}});  // the queue is full
    std::vector<std::thread> waiting;
    for (std::uint64_t w = 3; w <= 8; ++w) {
        waiting.emplace_back([&run, w] { run.log({{"who", w}}); });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (run.stats().waited_queue_full < w - 2 &&  // counted once it is in line
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        REQUIRE(run.stats().waited_queue_full == w - 2);
    }
    blocker->release();
    for (auto& t : waiting) t.join();
    REQUIRE(run.finish() == runlog::status::ok);
    std::vector<std::int64_t> order;
    for (const auto& row : memory->rows()) order.push_back(row.find("who")->as_int());
    CHECK(order == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
    CHECK(run.stats().waited_queue_full == 6);
    CHECK(run.stats().dropped() == 0);
}

TEST_CASE("run: a failing sink is reported once, counted, and the others go on", "[run][errors]") {
    test::temp_dir dir;
    test::error_log errors;
    auto failing = std::make_shared<test::failing_sink>();
    auto s = test::quiet_settings(dir, &errors);
    s.sinks.push_back(failing);
    auto run = runlog::init(s);
    for (int i = 0; i < 10; ++i) run.log({{"a", i}});
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK(run.stats().write_errors >= 10);
    CHECK(errors.count(runlog::errc::sink_write_failed) == 1);
    CHECK_THAT(errors.all_text(), Catch::Contains("sink 1: disk full (test)"));
    CHECK(test::read_lines(run.dir() / "history.jsonl").size() == 10);
}

TEST_CASE("run: the error handler is rate-limited and counts what it suppressed", "[run][errors]") {
    test::temp_dir dir;
    test::error_log errors;
    std::shared_ptr<runlog::memory_sink> sink;
    auto run = test::memory_run(dir, sink, &errors);
    for (int i = 0; i < 50; ++i) run.summary_set("_k" + std::to_string(i), 1);  // 50 bad calls
    REQUIRE(run.finish() == runlog::status::ok);
    const auto st = run.stats();
    // Delivered and held back, apart: errors_reported counted the suppressed ones too.
    CHECK(st.errors_reported == RUNLOG_ERROR_REPORTS_PER_SECOND);
    CHECK(errors.reports.size() == RUNLOG_ERROR_REPORTS_PER_SECOND);
    CHECK(st.errors_suppressed == 50 - RUNLOG_ERROR_REPORTS_PER_SECOND);
}

TEST_CASE("run: a throwing handler or sink does not escape into the caller", "[run][errors]") {
    test::temp_dir dir;
    struct throwing_sink final : runlog::base_sink<runlog::null_mutex> {
        runlog::io_result event_(const runlog::sink_event&) override {
            throw std::runtime_error("boom");
        }
    };
    auto s = test::quiet_settings(dir);
    s.on_error = [](const runlog::error_report&) { throw std::runtime_error("handler boom"); };
    s.sinks.push_back(std::make_shared<throwing_sink>());
    auto run = runlog::init(s);
    run.log({{"a", 1}});
    run.summary_set("_bad", 1);
    CHECK(run.finish() == runlog::status::ok);
    CHECK(run.stats().write_errors >= 1);
}

TEST_CASE("run: moved runs keep logging; the destructor finishes", "[run]") {
    test::temp_dir dir;
    fs::path rd;
    {
        auto a = runlog::init(test::quiet_settings(dir));
        rd = a.dir();
        runlog::run b = std::move(a);
        CHECK_FALSE(a.enabled());
        a.log({{"ignored", 1}});
        b.log({{"x", 1}});
        b.config.set("k", 2);
        runlog::run c;
        c = std::move(b);
        c.log({{"x", 2}});
    }  // c's destructor finishes the run
    CHECK_THAT(test::read_file(rd / "run.json"),
               Catch::Contains(R"("status":"finished","exit_code":0)"));
    CHECK(test::read_lines(rd / "history.jsonl").size() == 2);
    CHECK_THAT(test::read_file(rd / "config.json"), Catch::Contains(R"("k":2)"));
}

TEST_CASE("run: a run destroyed by an exception is marked failed", "[run]") {
    test::temp_dir dir;
    fs::path rd;
    try {
        auto run = runlog::init(test::quiet_settings(dir));
        rd = run.dir();
        throw std::runtime_error("training crashed");
    } catch (const std::runtime_error&) {
    }
    CHECK_THAT(test::read_file(rd / "run.json"),
               Catch::Contains(R"("status":"failed","exit_code":1)"));
}

TEST_CASE("run: the periodic flush writes history without an explicit flush", "[run][files]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.flush_interval = std::chrono::milliseconds(10);
    auto run = runlog::init(s);
    run.log({{"a", 1}});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (test::read_lines(run.dir() / "history.jsonl").empty() &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(test::read_lines(run.dir() / "history.jsonl").size() == 1);
    run.finish();
}
