// SPDX-License-Identifier: MIT
// `runlog finalize` (issue 18, item 3): a killed run's live files closed in place from the native
// run — run.json, the .wandb files without an exit record, the TensorBoard session — and the
// runlog command line's usage, version and refusals.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>

#include <runlog/detail/run_dir.hpp>
#include <runlog/finalize.hpp>

#include "support/test_support.hpp"
#include "support/tfevents_reader.hpp"
#include "support/wandb_reader.hpp"

namespace fs = std::filesystem;
using runlog::value;

namespace {

/// A .wandb file read strictly: every record whole and valid.
struct wandb_contents {
    std::vector<std::int64_t> steps;  // of the history records
    std::optional<std::int64_t> exit_code;
    std::vector<std::uint32_t> types;
};

wandb_contents read_wandb(const fs::path& file) {
    wandb_contents out;
    for (const auto& bytes : test::read_wandb_records(test::read_file(file))) {
        const auto r = test::decode_proto(bytes);
        out.types.push_back(test::record_type(r));
        if (test::record_type(r) == 2) {
            const auto step = test::decode_proto(test::decode_proto(r.str(2)).str(2)).varint(1);
            out.steps.push_back(static_cast<std::int64_t>(step));
        }
        if (test::record_type(r) == 18)
            out.exit_code = static_cast<std::int64_t>(test::decode_proto(r.str(18)).varint(1));
    }
    return out;
}

std::vector<fs::path> wandb_dirs(const fs::path& root) {
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(root / "wandb"))
        if (!entry.is_symlink() && entry.path().filename().string().rfind("offline-run-", 0) == 0)
            dirs.push_back(entry.path());
    std::sort(dirs.begin(), dirs.end());
    return dirs;
}

runlog::settings live_sinks(const test::temp_dir& dir) {
    auto s = test::quiet_settings(dir);
    s.id = "killed01";
    s.wandb_offline = true;
    s.tensorboard = true;
    s.entity = "team";
    s.capture_git = false;
    return s;
}

/// Runs the runlog tool; returns its exit status and what it printed on stdout.
int run_cli(const std::string& args, std::string* out = nullptr) {
    const std::string command = std::string(RUNLOG_CLI_PATH) + " " + args + " 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return -1;
    std::string text;
    char buf[256];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) text.append(buf, n);
    const int status = pclose(pipe);
    if (out) *out = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("finalize: a killed run's live files are closed from the native run", "[finalize]") {
    test::temp_dir dir;
    REQUIRE(test::run_in_killed_child([&] {
        auto run = runlog::init(live_sinks(dir));
        run.define_metric("loss", runlog::metric_options{}.with_summary("min,last"));
        for (int step = 0; step < 20; ++step) run.log({{"loss", 1.0 / (step + 1)}}, step);
        run.summary_set("note", "kept");
        run.flush();  // step 19 is open: in open-row.json only
        std::raise(SIGKILL);
    }));
    const fs::path rd = runlog::detail::find_run_dir(dir.path, "killed01");
    const fs::path wfile = wandb_dirs(dir.path).at(0) / "run-killed01.wandb";
    {
        const auto before = read_wandb(wfile);
        CHECK_FALSE(before.exit_code);  // `wandb sync` would take it as exit code 0, finished
        CHECK(before.steps.size() == 19);
    }

    const auto result = runlog::finalize_run(rd, {});
    INFO(result.message);
    REQUIRE(result.ok);
    CHECK(result.closed.size() == 3);  // native, W&B, TensorBoard

    // Native: crashed with exit code 1, the open row committed, the summary exact.
    const value run_json = test::read_json(rd / "run.json");
    CHECK(run_json.find("status")->as_string() == "crashed");
    CHECK(run_json.find("exit_code")->as_int() == 1);
    CHECK(run_json.find("end_time")->as_double() >= run_json.find("start_time")->as_double());
    CHECK(run_json.contains("finalized"));
    const auto rows = test::read_history(rd);
    REQUIRE(rows.size() == 20);
    CHECK_FALSE(fs::exists(rd / "open-row.json"));
    const value summary = test::read_json(rd / "summary.json");
    CHECK(summary.find("loss")->find("last")->as_double() == 1.0 / 20);
    CHECK(summary.find("loss")->find("min")->as_double() == 1.0 / 20);
    CHECK(summary.find("note")->as_string() == "kept");
    CHECK(summary.find("_step")->as_int() == 19);

    // W&B: every row, then summary, metadata, exit 1, final; read strictly (no torn tail).
    const auto after = read_wandb(wfile);
    REQUIRE(after.steps.size() == 20);
    for (std::size_t i = 0; i < after.steps.size(); ++i)
        CHECK(after.steps[i] == static_cast<std::int64_t>(i));
    REQUIRE(after.exit_code);
    CHECK(*after.exit_code == 1);
    CHECK(after.types.back() == 20);  // final
    const value metadata = test::read_json(wfile.parent_path() / "files" / "wandb-metadata.json");
    CHECK(metadata.find("state")->as_string() == "crashed");

    // TensorBoard: the session ended as a failure; every row's loss there once.
    std::vector<fs::path> events;
    for (const auto& entry : fs::recursive_directory_iterator(dir.path / "tensorboard"))
        if (entry.is_regular_file()) events.push_back(entry.path());
    REQUIRE(events.size() == 1);
    std::size_t losses = 0, ends = 0;
    for (const auto& e : test::read_events(test::read_file(events[0])))
        for (const auto& v : e.values) {
            losses += v.tag == "loss" ? 1 : 0;
            if (v.tag == "_hparams_/session_end_info") {
                ++ends;
                const auto info = test::decode_proto(test::decode_proto(v.plugin_content).str(4));
                CHECK(info.varint(1) == 2);  // FAILURE
            }
        }
    CHECK(losses == 20);
    CHECK(ends == 1);

    // A second finalize finds nothing to close and changes nothing.
    const std::string wandb_bytes = test::read_file(wfile);
    const auto again = runlog::finalize_run(rd, {});
    CHECK(again.ok);
    CHECK(again.closed.empty());
    CHECK_THAT(again.message, Catch::Contains("nothing to close"));
    CHECK(test::read_file(wfile) == wandb_bytes);
}

TEST_CASE(
    "finalize: refuses a run whose process is alive, closes crashed sessions of a resumed "
    "run",
    "[finalize][resume]") {
    test::temp_dir dir;
    auto s = live_sinks(dir);
    s.resume = runlog::resume_mode::allow;
    {
        auto live = runlog::init(s);
        live.log({{"loss", 1.0}});
        const auto refused = runlog::finalize_run(live.dir(), {});
        CHECK_FALSE(refused.ok);
        CHECK_THAT(refused.message, Catch::Contains("is still being written by process"));
        REQUIRE(live.finish() == runlog::status::ok);
    }
    // A second session is killed; a third resumes and finishes: the second's W&B directory is
    // left without an exit record.
    REQUIRE(test::run_in_killed_child([&] {
        auto run = runlog::init(s);
        run.log({{"loss", 0.5}});
        run.log({{"loss", 0.4}});
        run.flush();
        std::raise(SIGKILL);
    }));
    {
        auto run = runlog::init(s);
        run.log({{"loss", 0.25}});
        REQUIRE(run.finish() == runlog::status::ok);
    }
    const auto dirs = wandb_dirs(dir.path);
    REQUIRE(dirs.size() == 3);
    CHECK_FALSE(read_wandb(dirs[1] / "run-killed01.wandb").exit_code);

    runlog::finalize_options options;
    options.exit_code = 137;
    const auto result =
        runlog::finalize_run(runlog::detail::find_run_dir(dir.path, "killed01"), options);
    INFO(result.message);
    REQUIRE(result.ok);
    REQUIRE(result.closed.size() == 1);  // only that directory: the run itself had finished
    const auto second = read_wandb(dirs[1] / "run-killed01.wandb");
    CHECK(second.exit_code == std::optional<std::int64_t>(137));
    CHECK(second.steps == std::vector<std::int64_t>{1, 2});
    CHECK(read_wandb(dirs[2] / "run-killed01.wandb").exit_code == std::optional<std::int64_t>(0));
    CHECK(test::read_json(runlog::detail::find_run_dir(dir.path, "killed01") / "run.json")
              .find("status")
              ->as_string() == "finished");
}

TEST_CASE("cli: usage, version, and every refusal names its reason", "[cli]") {
    std::string out;
    CHECK(run_cli("--help", &out) == 0);
    CHECK_THAT(out, Catch::StartsWith("usage: runlog export"));
    CHECK(run_cli("-h", &out) == 0);
    CHECK(run_cli("export --help", &out) == 0);
    CHECK(run_cli("--version", &out) == 0);
    CHECK(out == "runlog " RUNLOG_VERSION_STRING "\n");
    CHECK(run_cli("") == 2);
    CHECK(run_cli("frobnicate") == 2);
    CHECK(run_cli("export --to csv x") == 2);
    CHECK(run_cli("export --to wandb --exit-code one x") == 2);
    CHECK(run_cli("export --to wandb") == 2);
    CHECK(run_cli("finalize --bogus x") == 2);
    CHECK(run_cli("finalize") == 2);
    // The reasons, on stderr.
    const std::string command = std::string(RUNLOG_CLI_PATH) + " export --to csv x 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buf[512] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, pipe);
    pclose(pipe);
    CHECK_THAT(std::string(buf, n),
               Catch::Contains("--to 'csv': the targets are wandb and tensorboard"));
    test::temp_dir dir;
    CHECK(run_cli("finalize " + (dir.path / "nothing").string()) == 1);  // a run it cannot read
}

TEST_CASE("finalize: rows the native run lost are cut from the W&B and TensorBoard files",
          "[finalize]") {
    test::temp_dir dir;
    REQUIRE(test::run_in_killed_child([&] {
        auto run = runlog::init(live_sinks(dir));
        for (int step = 0; step < 10; ++step) run.log({{"loss", 1.0 / (step + 1)}});
        run.flush();
        std::raise(SIGKILL);
    }));
    // As if the native history had reached the disk later than the other two: its last 4 rows
    // are gone (W&B's and TensorBoard's buffers fill at other moments than history.jsonl's).
    const fs::path rd = runlog::detail::find_run_dir(dir.path, "killed01");
    auto lines = test::read_lines(rd / "history.jsonl");
    REQUIRE(lines.size() == 10);
    lines.resize(6);
    std::string kept;
    for (const auto& l : lines) kept += l + "\n";
    REQUIRE(runlog::detail::write_file_atomically(rd / "history.jsonl", kept).ok());

    const auto result = runlog::finalize_run(rd, {});
    INFO(result.message);
    REQUIRE(result.ok);
    const auto w = read_wandb(wandb_dirs(dir.path).at(0) / "run-killed01.wandb");
    CHECK(w.steps == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5});
    CHECK(w.exit_code == std::optional<std::int64_t>(1));
    std::size_t losses = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir.path / "tensorboard"))
        if (entry.is_regular_file())
            for (const auto& e : test::read_events(test::read_file(entry.path())))
                for (const auto& v : e.values) losses += v.tag == "loss" ? 1 : 0;
    CHECK(losses == 6);
    CHECK(test::read_json(rd / "summary.json").find("_step")->as_int() == 5);
}
