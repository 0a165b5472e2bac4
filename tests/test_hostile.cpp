// SPDX-License-Identifier: MIT
// Hostile input (issue 9, item 5): each case logs through a live run into the native files and
// checks the documented outcome (docs/format.md, "Hostile input"): nothing throws into the
// caller, what is dropped is counted and reported, and every file still reads back.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <runlog/detail/json_reader.hpp>

#include "support/test_support.hpp"

using runlog::value;
namespace fs = std::filesystem;

namespace {

value nested(int levels) {
    value v = 1;
    for (int i = 0; i < levels; ++i) {
        value outer = value::object();
        outer["a"] = std::move(v);
        v = std::move(outer);
    }
    return v;
}

}  // namespace

TEST_CASE("hostile: keys — empty, reserved, invalid UTF-8 dropped; long and control kept",
          "[hostile]") {
    test::temp_dir dir;
    test::error_log errors;
    auto run = runlog::init(test::quiet_settings(dir, &errors));
    const std::string long_key(1000, 'k');
    run.log({{"", 1}, {"_mine", 2}, {"bad\xC3", 3}, {long_key, 4}, {"tab\there\n", 5}});
    REQUIRE(run.finish() == runlog::status::ok);
    const auto rows = test::read_history(run.dir());
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].find(long_key)->as_int() == 4);       // no length limit: W&B has none either
    CHECK(rows[0].find("tab\there\n")->as_int() == 5);  // escaped in JSON, read back as is
    CHECK(rows[0].size() == 5);                         // the two above + _step/_runtime/_timestamp
    CHECK(run.stats().dropped_fields == 3);
    CHECK(errors.count(runlog::errc::reserved_key) == 1);
    CHECK(errors.count(runlog::errc::invalid_key) == 2);
}

TEST_CASE("hostile: values — NaN, infinities, invalid UTF-8, 1 MiB strings, duplicates",
          "[hostile]") {
    test::temp_dir dir;
    auto run = runlog::init(test::quiet_settings(dir));
    const std::string big(std::size_t{1} << 20, 'x');
    run.log({{"nan", std::nan("")},
             {"inf", std::numeric_limits<double>::infinity()},
             {"ninf", -std::numeric_limits<float>::infinity()},
             {"text", "bad\xFF utf-8"},
             {"big", big},
             {"dup", 1},
             {"dup", 2}});
    REQUIRE(run.finish() == runlog::status::ok);
    const auto rows = test::read_history(run.dir());
    REQUIRE(rows.size() == 1);
    CHECK(std::isnan(rows[0].find("nan")->as_double()));  // NaN, as Python's json writes it
    CHECK(rows[0].find("inf")->as_double() == std::numeric_limits<double>::infinity());
    CHECK(rows[0].find("ninf")->as_double() == -std::numeric_limits<double>::infinity());
    CHECK(rows[0].find("text")->as_string() == "bad\xEF\xBF\xBD utf-8");  // U+FFFD replaces it
    CHECK(rows[0].find("big")->as_string() == big);
    CHECK(rows[0].find("dup")->as_int() == 2);  // the later value of a key wins, as in a dict
}

TEST_CASE("hostile: steps — negative dropped, INT64_MAX is the last step", "[hostile]") {
    test::temp_dir dir;
    test::error_log errors;
    auto run = runlog::init(test::quiet_settings(dir, &errors));
    run.log({{"a", 1}}, -5);  // below the current step (0): dropped, counted, reported
    run.log({{"a", 2}}, std::numeric_limits<std::int64_t>::max());
    run.log({{"b", 3}});  // merges into the pending row at INT64_MAX and commits it
    run.log({{"c", 4}});  // no step after INT64_MAX: dropped, not a second row at it
    run.log({{"d", 5}});
    REQUIRE(run.finish() == runlog::status::ok);
    const auto rows = test::read_history(run.dir());
    REQUIRE(rows.size() == 1);  // every _step distinct, as W&B's and pandas' readers need
    CHECK(rows[0].find("_step")->as_int() == std::numeric_limits<std::int64_t>::max());
    CHECK(rows[0].find("b")->as_int() == 3);
    CHECK(run.stats().dropped_step == 3);
    CHECK(errors.count(runlog::errc::step_not_increasing) == 2);  // the last step once
    CHECK_THAT(errors.all_text(), Catch::Contains("step INT64_MAX, which is the last step"));
}

TEST_CASE("hostile: nesting deeper than 255 levels is refused where it enters", "[hostile]") {
    test::temp_dir dir;
    test::error_log errors;
    auto s = test::quiet_settings(dir, &errors);
    s.config = value::object();
    s.config["deep"] = nested(300);
    CHECK_THROWS_WITH(runlog::init(s), Catch::Contains("nested deeper than 255 levels"));
    CHECK_FALSE(fs::exists(dir.path / "runlog"));  // refused before anything was created

    s.config = {{"lr", 0.1}};
    auto run = runlog::init(s);
    run.config.update({{"deep", nested(300)}});  // ignored, reported
    run.config.update({{"ok", nested(200)}});
    run.summary_set("deep", nested(300));
    run.log({{"deep", nested(300)}, {"fine", nested(254)}, {"x", 1}});
    REQUIRE(run.finish() == runlog::status::ok);
    const auto rows = test::read_history(run.dir());  // every line parses
    REQUIRE(rows.size() == 1);
    CHECK_FALSE(rows[0].contains("deep"));
    CHECK(rows[0].contains("fine"));
    CHECK(rows[0].find("x")->as_int() == 1);
    value config;
    std::string error;
    REQUIRE(runlog::detail::read_json_file(run.dir() / "config.json", config, error));
    CHECK_FALSE(config.contains("deep"));
    CHECK(config.contains("ok"));
    CHECK(errors.all_text().find("config.update: nested deeper than 255 levels") !=
          std::string::npos);
    CHECK(errors.all_text().find("summary_set: 'deep' is nested deeper") != std::string::npos);
}

TEST_CASE("hostile: calls after finish, finish twice, moved-from runs", "[hostile]") {
    test::temp_dir dir;
    auto run = runlog::init(test::quiet_settings(dir));
    run.log({{"a", 1}});
    REQUIRE(run.finish() == runlog::status::ok);
    run.log({{"a", 2}});  // counted, never written
    run.config.set("late", 1);
    CHECK(run.finish() == runlog::status::finished);
    CHECK(run.flush() == runlog::status::finished);
    CHECK(run.stats().dropped_after_finish >= 1);
    CHECK(test::read_history(run.dir()).size() == 1);

    auto live = runlog::init(test::quiet_settings(dir));
    runlog::run taken = std::move(live);
    live.log({{"a", 1}});  // NOLINT(bugprone-use-after-move): a moved-from run is disabled
    CHECK_FALSE(live.enabled());
    CHECK(live.finish() == runlog::status::disabled);
    taken.log({{"a", 1}});
    CHECK(taken.finish() == runlog::status::ok);
}

TEST_CASE("hostile: names and groups with path separators stay display text", "[hostile]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.name = "../../escape/name";
    s.group = "../group/..";
    s.project = "a/b";
    auto run = runlog::init(s);
    REQUIRE(run.enabled());
    const fs::path rd = run.dir();
    CHECK(rd.parent_path() == dir.path / "runlog");  // the directory is named by time and id
    CHECK(run.name() == "../../escape/name");
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK_THAT(test::read_file(rd / "run.json"), Catch::Contains(R"("name":"../../escape/name")"));
    CHECK_FALSE(fs::exists(dir.path / "escape"));
    CHECK_FALSE(fs::exists(dir.path.parent_path() / "escape"));
}

TEST_CASE(
    "hostile: invalid UTF-8 in names, tags, notes and config reaches W&B and TensorBoard as "
    "U+FFFD",
    "[hostile]") {
    // Protobuf string fields must be UTF-8: wandb's readers (Go and Python) refuse a record that
    // is not, which would leave the whole run unsyncable; TensorBoard's hparams likewise.
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.name = "name\xff";
    s.project = "project\xfe";
    s.group = "group\xc3";
    s.tags = {"tag\xff"};
    s.notes = "notes\xff";
    s.config = {{"key\xff", "value\xfe"}};
    s.wandb_offline = true;
    s.tensorboard = true;
    s.capture_git = false;
    auto run = runlog::init(s);
    run.config.update({{"later\xff", 1}});
    run.log({{"loss", 1.0}});
    REQUIRE(run.finish() == runlog::status::ok);
    std::size_t files = 0;
    for (const fs::path& sub : {dir.path / "wandb", dir.path / "tensorboard"}) {
        for (const auto& entry : fs::recursive_directory_iterator(sub)) {
            if (!entry.is_regular_file()) continue;
            const std::string bytes = test::read_file(entry.path());
            if (entry.path().extension() == ".wandb") {
                ++files;
                for (const char* text : {"name", "project", "group", "tag", "notes", "later"})
                    CHECK_THAT(bytes, Catch::Contains(std::string(text) + "\xEF\xBF\xBD"));
            } else if (entry.path().filename().string().rfind("events.out.tfevents", 0) == 0) {
                ++files;
                CHECK_THAT(bytes, Catch::Contains("key\xEF\xBF\xBD"));  // an hparam name
                CHECK_THAT(bytes, Catch::Contains("value\xEF\xBF\xBD"));
            } else {
                continue;
            }
            for (const char* raw :
                 {"name\xff", "project\xfe", "group\xc3", "tag\xff", "key\xff", "value\xfe"})
                CHECK(bytes.find(raw) == std::string::npos);
        }
    }
    CHECK(files == 2);
}

TEST_CASE("hostile: fork() while a run is open — the child's copy does nothing",
          "[hostile][fork]") {
    test::temp_dir dir;
    auto run = runlog::init(test::quiet_settings(dir));
    run.log({{"parent", 1}});
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // no Catch2 here: the child reports through its exit code
        alarm(5);      // a hang ends in SIGALRM, which the parent sees
        run.log({{"child", 1}});
        run.config.set("child", true);
        const bool ok = !run.enabled() && run.flush() == runlog::status::disabled &&
                        run.finish() == runlog::status::disabled;
        { const runlog::run gone = std::move(run); }  // the destructor's finish returns too
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    REQUIRE(run.enabled());
    run.log({{"parent", 2}});
    REQUIRE(run.finish() == runlog::status::ok);
    const auto rows = test::read_history(run.dir());
    REQUIRE(rows.size() == 2);
    for (const auto& row : rows) CHECK_FALSE(row.contains("child"));
    CHECK_THAT(test::read_file(run.dir() / "config.json"), !Catch::Contains("child"));
}

TEST_CASE("security: modes follow the umask; latest-run is replaced, never followed; secrets out",
          "[hostile][security]") {
    test::temp_dir dir;
    test::env_guard secret("RUNLOG_TEST_API_KEY", "s3cret-value");
    test::env_guard plain("RUNLOG_TEST_PLAIN", "visible-value");
    const fs::path elsewhere = dir.path / "elsewhere";
    fs::create_directories(elsewhere);
    fs::create_directories(dir.path / "runlog");
    fs::create_directory_symlink(elsewhere, dir.path / "runlog" / "latest-run");

    for (const mode_t mask : {mode_t{022}, mode_t{077}}) {
        const mode_t previous = ::umask(mask);
        auto s = test::quiet_settings(dir);
        s.capture_environment_variables = true;
        const fs::path store = dir.path / ("store-" + std::to_string(mask));
        s.artifact_dir = store.string();
        auto run = runlog::init(s);
        const std::vector<std::uint8_t> pixels(2 * 2 * 3, 9);
        run.log({{"loss", 1.0}, {"img", runlog::image::from_pixels(pixels.data(), 12, 2, 2, 3)}});
        const fs::path checkpoint = dir.path / ("ckpt-" + std::to_string(mask) + ".bin");
        std::ofstream(checkpoint) << "weights";
        fs::permissions(checkpoint, fs::perms(0644));
        REQUIRE(run.log_artifact("model", "model", {checkpoint.string()}).ok());
        const fs::path rd = run.dir();
        REQUIRE(run.finish() == runlog::status::ok);
        ::umask(previous);

        const auto file_mode = static_cast<fs::perms>(0666 & ~mask);
        const auto dir_mode = static_cast<fs::perms>(0777 & ~mask);
        CHECK((fs::status(rd).permissions() & fs::perms::all) == dir_mode);
        std::size_t files = 0;
        for (const auto& entry : fs::recursive_directory_iterator(rd)) {
            const auto mode = entry.symlink_status().permissions() & fs::perms::all;
            if (entry.is_directory()) {
                CHECK(mode == dir_mode);
            } else if (entry.is_regular_file()) {
                CHECK(mode == file_mode);
                ++files;
            }
        }
        CHECK(files >= 6);  // run.json ... history.jsonl, the image
        // The artifact store: its manifests, aliases and lock, and the copied checkpoint.
        std::size_t stored = 0;
        for (const auto& entry : fs::recursive_directory_iterator(store)) {
            const auto mode = entry.symlink_status().permissions() & fs::perms::all;
            INFO(entry.path().string());
            if (entry.is_directory()) {
                CHECK(mode == dir_mode);
            } else if (entry.is_regular_file()) {
                CHECK(mode == file_mode);
                ++stored;
            }
        }
        CHECK(stored >= 4);
        CHECK(fs::read_symlink(dir.path / "runlog" / "latest-run") == rd.filename());
        const std::string run_json = test::read_file(rd / "run.json");
        CHECK(run_json.find("visible-value") != std::string::npos);
        CHECK(run_json.find("s3cret-value") == std::string::npos);
    }
    CHECK(fs::is_empty(elsewhere));  // the old link was replaced, not followed
}

TEST_CASE("hostile: RUNLOG_* variables with garbage values are setup errors naming the variable",
          "[hostile]") {
    test::temp_dir dir;
    const auto s = test::quiet_settings(dir);
    const std::string file_in_the_way = (dir.path / "a-file").string();
    std::ofstream(file_in_the_way) << "x";
    struct garbage {
        const char* name;
        std::string value;
        const char* error;
    };
    for (const garbage& g :
         {garbage{"RUNLOG_MODE", "\x01\xff", "RUNLOG_MODE='"},
          garbage{"RUNLOG_SINKS", "jsonl,,csv", "names 'csv'"},
          garbage{"RUNLOG_RUN_ID", std::string(65, 'a'), "RUNLOG_RUN_ID='"},
          garbage{"RUNLOG_RUN_ID", "../up", "RUNLOG_RUN_ID='../up'"},
          garbage{"RUNLOG_RESUME", "yes", "RUNLOG_RESUME='yes'"},
          garbage{"RUNLOG_DIR", file_in_the_way, "cannot create run directory"},
          garbage{"RUNLOG_SINKS", "", "RUNLOG_SINKS is set but names no format"},
          garbage{"RUNLOG_SINKS", " , ", "names no format"},
          garbage{"RUNLOG_ARTIFACT_DIR", file_in_the_way, "is a file, not a directory"},
          garbage{"RANK", "-1", "RANK='-1'"}}) {
        INFO(g.name << "=" << g.value);
        const test::env_guard set(g.name, g.value.c_str());
        CHECK_THROWS_WITH(runlog::init(s), Catch::Contains(g.error));
    }
    // Harmless oddities just work: empty tags are skipped, a long name is display text.
    const test::env_guard tags("RUNLOG_TAGS", ",a,,b,");
    const test::env_guard name("RUNLOG_NAME", std::string(1000, 'n').c_str());
    auto run = runlog::init(s);
    CHECK(run.enabled());
    CHECK(run.name().size() == 1000);
    CHECK(run.finish() == runlog::status::ok);
    CHECK_THAT(test::read_file(run.dir() / "run.json"), Catch::Contains(R"("tags":["a","b"])"));
}
