// SPDX-License-Identifier: MIT
// The kill -9 harness (issue 9, item 1). Each trial starts runlog_kill_child, kills it with
// SIGKILL at a random moment, and checks what it left:
//   - every file of the native run directory reads back (snapshots parse, history.jsonl has at most
//     a torn last line, media files are whole), the run says "running" with no end time;
//   - the .wandb file and the tfevents file hold only valid records (at most a torn tail);
//   - in each of the three streams the rows are steps 0..k-1 with no hole, and every row logged
//     more than `flush interval + slack` before the kill is among them: what is lost is at most
//     what was logged during the last flush interval;
//   - `runlog export` (the library call behind it) converts the crashed run to W&B, where it is
//     marked failed (exit code 1), and to TensorBoard;
//   - every third trial the child calls flush() every 200 steps while that step's row is open:
//     everything up to the last step flushed is in the native run (open-row.json holds the open
//     row);
//   - `runlog finalize` then closes the live files: every .wandb reads back whole with all the
//     native rows and exit code 1, the event file whole with the session's end.
// A trial that fails keeps its directory and prints why; the exit status is the number of failed
// trials (0: all passed).
//
//     runlog_kill_harness --child PATH [--trials 100] [--seed N] [--workdir DIR]
//                         [--flush-ms 1000] [--slack-ms 250] [--max-ms 3000]
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <runlog/detail/json_reader.hpp>
#include <runlog/export.hpp>
#include <runlog/finalize.hpp>

#include "../support/tfevents_reader.hpp"
#include "../support/wandb_reader.hpp"

namespace fs = std::filesystem;

namespace {

struct options {
    std::string child;
    int trials = 100;
    unsigned seed = 0;
    fs::path workdir = fs::temp_directory_path() / "runlog-kill-harness";
    int flush_ms = 1000;
    int slack_ms = 250;
    int max_ms = 3000;
};

double monotonic_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void require(bool condition, const std::string& what) {
    if (!condition) throw std::runtime_error(what);
}

/// The child's progress file: logged_at[step] = when log(step) was called, 0 after the last one.
std::vector<double> read_progress(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<double> times;
    double t = 0.0;
    while (in.read(reinterpret_cast<char*>(&t), sizeof t) && t != 0.0) times.push_back(t);
    return times;
}

/// The last slot of the progress file: 1 + the last step the child flushed, or 0.
std::int64_t read_flushed(const fs::path& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    const auto size = static_cast<std::streamoff>(in.tellg());
    double t = 0.0;
    if (size < static_cast<std::streamoff>(sizeof t)) return 0;
    in.seekg(size - static_cast<std::streamoff>(sizeof t));
    in.read(reinterpret_cast<char*>(&t), sizeof t);
    return static_cast<std::int64_t>(t);
}

/// What one stream (native, W&B, TensorBoard) kept: its steps, in order.
struct stream_check {
    const char* name;
    std::vector<std::int64_t> steps;
};

struct trial_result {
    std::size_t logged = 0;
    double oldest_lost_age = 0.0;  // seconds before the kill that the oldest lost row was logged
    bool had_run = false;
};

/// Steps 0..k-1 in order, none logged more than `bound` before the kill missing.
void check_stream(const stream_check& s, const std::vector<double>& logged_at, double kill_time,
                  double bound, trial_result& result) {
    for (std::size_t i = 0; i < s.steps.size(); ++i) {
        require(s.steps[i] == static_cast<std::int64_t>(i),
                std::string(s.name) + ": row " + std::to_string(i) + " has step " +
                    std::to_string(s.steps[i]) + " (a hole or a repeat)");
    }
    const std::size_t kept = s.steps.size();
    require(kept <= logged_at.size(), std::string(s.name) + ": more rows than were logged");
    if (kept == logged_at.size()) return;
    const double age = kill_time - logged_at[kept];
    result.oldest_lost_age = std::max(result.oldest_lost_age, age);
    require(age <= bound, std::string(s.name) + ": step " + std::to_string(kept) + " was logged " +
                              std::to_string(age * 1000) + " ms before the kill and is lost (" +
                              std::to_string(logged_at.size() - kept) + " rows lost)");
}

bool is_whole_png(const std::string& bytes) {
    static const char signature[] = "\x89PNG\r\n\x1a\n";
    static const char iend[] = "\0\0\0\0IEND\xae\x42\x60\x82";
    return bytes.size() > 20 && bytes.compare(0, 8, signature, 8) == 0 &&
           bytes.compare(bytes.size() - 12, 12, iend, 12) == 0;
}

/// Every file of the native run directory reads back; returns the rows' steps.
stream_check check_native(const fs::path& run_dir, trial_result& result) {
    stream_check s{"native", {}};
    runlog::detail::native_run run;
    runlog::export_result read;
    require(runlog::detail::read_native_run(run_dir, {}, run, read),
            "native: the run does not read back: " + read.message);
    const runlog::value* status = nullptr;
    runlog::value run_json;
    std::string error;
    require(runlog::detail::read_json_file(run_dir / "run.json", run_json, error), error);
    require((status = run_json.find("status")) && status->as_string() == "running",
            "native: run.json does not say running");
    require(!run_json.find("end_time"), "native: a killed run has an end time");
    for (const auto& row : run.rows) s.steps.push_back(row.find("_step")->as_int());
    for (const auto& entry : fs::recursive_directory_iterator(run_dir)) {
        if (!entry.is_regular_file()) continue;
        const fs::path& p = entry.path();
        // A .tmp file is a snapshot replace the kill interrupted: never read, replaced next time.
        if (p.extension() == ".tmp") continue;
        const std::string bytes = read_file(p);
        if (p.extension() == ".png") {
            require(is_whole_png(bytes), "native: " + p.string() + " is not a whole PNG");
        } else if (p.extension() == ".json") {
            runlog::value v;
            require(runlog::detail::parse_json(bytes, v, error), p.string() + ": " + error);
        } else if (p.filename() == "system.jsonl") {
            std::size_t start = 0, line = 0;
            for (std::size_t end; (end = bytes.find('\n', start)) != std::string::npos;
                 start = end + 1) {
                runlog::value v;
                require(runlog::detail::parse_json(bytes.substr(start, end - start), v, error),
                        "system.jsonl line " + std::to_string(++line) + ": " + error);
            }
        }
    }
    // Media named by the kept rows are there (written before their row).
    for (const auto& row : run.rows) {
        for (const auto& [key, v] : row.as_object()) {
            const runlog::value* path = v.is_object() ? v.find("path") : nullptr;
            if (path != nullptr)
                require(fs::exists(run_dir / path->as_string()),
                        "native: " + key + " names a missing " + path->as_string());
        }
    }
    result.had_run = true;
    return s;
}

stream_check check_wandb(const fs::path& root) {
    stream_check s{"wandb", {}};
    for (const auto& entry : fs::recursive_directory_iterator(root / "wandb")) {
        if (entry.path().extension() != ".wandb") continue;
        for (const auto& record : test::read_wandb_records(read_file(entry.path()), true)) {
            const test::proto_message r = test::decode_proto(record);
            if (test::record_type(r) != 2) continue;  // history
            for (const auto& item : test::decode_proto(r.str(2)).all(1)) {
                const test::proto_message m = test::decode_proto(item);
                if (m.str(1) == "_step") s.steps.push_back(std::stoll(m.str(16)));
            }
        }
    }
    return s;
}

stream_check check_tensorboard(const fs::path& root) {
    stream_check s{"tensorboard", {}};
    for (const auto& entry : fs::recursive_directory_iterator(root / "tensorboard")) {
        if (entry.path().filename().string().rfind("events.out.tfevents.", 0) != 0) continue;
        for (const auto& event : test::read_events(read_file(entry.path()), true))
            for (const auto& v : event.values)
                if (v.tag == "loss") s.steps.push_back(event.step);
    }
    return s;
}

/// The export of the crashed run: W&B (exit code 1, i.e. failed) and TensorBoard.
void check_export(const fs::path& run_dir, const fs::path& out, std::size_t rows) {
    runlog::export_options o;
    o.output_root = out;
    const auto w = runlog::export_to_wandb(run_dir, o);
    require(w.ok && w.crashed, "export to W&B: " + w.message);
    require(w.rows == rows,
            "export to W&B: " + std::to_string(w.rows) + " rows, expected " + std::to_string(rows));
    bool exit_seen = false;
    for (const auto& entry : fs::directory_iterator(w.output_dir)) {
        if (entry.path().extension() != ".wandb") continue;
        for (const auto& record : test::read_wandb_records(read_file(entry.path()))) {
            const test::proto_message r = test::decode_proto(record);
            if (test::record_type(r) != 18) continue;  // exit
            require(test::decode_proto(r.str(18)).varint(1) == 1, "export: exit code is not 1");
            exit_seen = true;
        }
    }
    require(exit_seen, "export to W&B: no exit record");
    const auto t = runlog::export_to_tensorboard(run_dir, o);
    require(t.ok, "export to TensorBoard: " + t.message);
}

/// `runlog finalize` of the killed run: the live files closed, whole, with every native row.
void check_finalize(const fs::path& run_dir, const fs::path& root, std::size_t rows) {
    const runlog::finalize_result f = runlog::finalize_run(run_dir, {});
    require(f.ok, "finalize: " + f.message);
    std::size_t wandb_rows = 0, exits = 0;
    for (const auto& entry : fs::recursive_directory_iterator(root / "wandb")) {
        if (entry.path().extension() != ".wandb") continue;
        for (const auto& record : test::read_wandb_records(read_file(entry.path()))) {
            const test::proto_message r = test::decode_proto(record);
            wandb_rows += test::record_type(r) == 2 ? 1 : 0;
            if (test::record_type(r) != 18) continue;
            require(test::decode_proto(r.str(18)).varint(1) == 1, "finalize: exit code is not 1");
            ++exits;
        }
    }
    require(exits == 1, "finalize: " + std::to_string(exits) + " exit records in the W&B run");
    require(wandb_rows == rows, "finalize: " + std::to_string(wandb_rows) +
                                    " rows in the W&B run, " + std::to_string(rows) +
                                    " in the native one");
    std::size_t ends = 0, losses = 0;
    for (const auto& entry : fs::recursive_directory_iterator(root / "tensorboard")) {
        if (entry.path().filename().string().rfind("events.out.tfevents.", 0) != 0) continue;
        for (const auto& event : test::read_events(read_file(entry.path())))
            for (const auto& v : event.values) {
                ends += v.tag == "_hparams_/session_end_info";
                losses += v.tag == "loss";
            }
    }
    require(ends == 1, "finalize: the TensorBoard session has no end");
    require(losses == rows, "finalize: " + std::to_string(losses) + " rows in TensorBoard, " +
                                std::to_string(rows) + " in the native run");
}

trial_result run_trial(const options& opt, const fs::path& dir, int delay_ms, int pause_us,
                       int flush_every) {
    trial_result result;
    fs::create_directories(dir);
    const fs::path progress = dir / "progress.bin";
    std::ofstream(progress).close();
    const std::string flush = std::to_string(opt.flush_ms), pause = std::to_string(pause_us),
                      every = std::to_string(flush_every);
    const pid_t pid = fork();
    if (pid == 0) {
        execl(opt.child.c_str(), opt.child.c_str(), dir.c_str(), progress.c_str(), flush.c_str(),
              pause.c_str(), every.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    require(pid > 0, "fork failed");
    timespec delay{delay_ms / 1000, static_cast<long>(delay_ms % 1000) * 1000000L};
    nanosleep(&delay, nullptr);
    const double kill_time = monotonic_seconds();
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    require(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
            "the child exited before the kill (status " + std::to_string(status) + ")");

    const std::vector<double> logged_at = read_progress(progress);
    result.logged = logged_at.size();
    fs::path run_dir;
    if (fs::exists(dir / "runlog"))
        for (const auto& entry : fs::directory_iterator(dir / "runlog"))
            if (entry.path().filename().string().rfind("run-", 0) == 0) run_dir = entry.path();
    // Killed in init(), before the native sink had written run.json (its last start step):
    // nothing was logged, nothing to read.
    if (run_dir.empty() || !fs::exists(run_dir / "run.json")) {
        require(logged_at.empty(), "rows were logged but there is no run.json");
        return result;
    }
    const double bound = (opt.flush_ms + opt.slack_ms) / 1000.0;
    const stream_check native = check_native(run_dir, result);
    check_stream(native, logged_at, kill_time, bound, result);
    if (!logged_at.empty()) {  // init() returned: every sink had started
        check_stream(check_wandb(dir), logged_at, kill_time, bound, result);
        check_stream(check_tensorboard(dir), logged_at, kill_time, bound, result);
    }
    const std::int64_t flushed = read_flushed(progress);
    require(static_cast<std::int64_t>(native.steps.size()) >= flushed,
            "native: step " + std::to_string(flushed - 1) + " was flushed and is lost");
    check_export(run_dir, dir / "exported", native.steps.size());
    if (!logged_at.empty()) check_finalize(run_dir, dir, native.steps.size());
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    options opt;
    opt.seed = std::random_device{}();
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i], arg = argv[i + 1];
        if (flag == "--child")
            opt.child = arg;
        else if (flag == "--trials")
            opt.trials = std::stoi(arg);
        else if (flag == "--seed")
            opt.seed = static_cast<unsigned>(std::stoul(arg));
        else if (flag == "--workdir")
            opt.workdir = arg;
        else if (flag == "--flush-ms")
            opt.flush_ms = std::stoi(arg);
        else if (flag == "--slack-ms")
            opt.slack_ms = std::stoi(arg);
        else if (flag == "--max-ms")
            opt.max_ms = std::stoi(arg);
        else {
            std::fprintf(stderr, "unknown option %s\n", flag.c_str());
            return 100;
        }
    }
    if (opt.child.empty()) {
        std::fprintf(stderr,
                     "usage: %s --child PATH [--trials N] [--seed N] [--workdir DIR] "
                     "[--flush-ms MS] [--slack-ms MS] [--max-ms MS]\n",
                     argv[0]);
        return 100;
    }
    std::printf("kill harness: %d trials, seed %u, flush interval %d ms, slack %d ms\n", opt.trials,
                opt.seed, opt.flush_ms, opt.slack_ms);
    std::mt19937 rng(opt.seed);
    // One trial in ten lands in the first 30 ms (init, sinks starting), the rest anywhere.
    std::uniform_int_distribution<int> early(0, 30), late(30, opt.max_ms);
    std::uniform_int_distribution<int> pick(0, 9);
    fs::remove_all(opt.workdir);
    int failed = 0;
    double worst_age = 0.0;
    std::size_t total_logged = 0;
    for (int trial = 0; trial < opt.trials; ++trial) {
        const int delay = pick(rng) == 0 ? early(rng) : late(rng);
        // Half the trials log fast (rows reach the disk by the 64 KiB threshold), half slowly
        // (rows wait for the flush interval).
        const int pause_us = trial % 2 == 0 ? 100 : 2000;
        const int flush_every = trial % 3 == 2 ? 200 : 0;
        const fs::path dir = opt.workdir / ("trial-" + std::to_string(trial));
        try {
            const trial_result r = run_trial(opt, dir, delay, pause_us, flush_every);
            worst_age = std::max(worst_age, r.oldest_lost_age);
            total_logged += r.logged;
            std::printf(
                "trial %3d: %4d us between rows, killed at %4d ms, %6zu rows logged, "
                "oldest lost row %6.1f ms old%s\n",
                trial, pause_us, delay, r.logged, r.oldest_lost_age * 1000,
                r.had_run ? "" : " (killed during init)");
            std::error_code ec;
            fs::remove_all(dir, ec);
        } catch (const std::exception& ex) {
            ++failed;
            std::printf("trial %3d: killed at %4d ms: FAILED: %s (kept in %s)\n", trial, delay,
                        ex.what(), dir.c_str());
        }
        std::fflush(stdout);
    }
    std::printf(
        "%d of %d trials passed; %zu rows logged in all; oldest lost row %.1f ms old "
        "(bound: flush interval %d ms + %d ms)\n",
        opt.trials - failed, opt.trials, total_logged, worst_age * 1000, opt.flush_ms,
        opt.slack_ms);
    return failed;
}
