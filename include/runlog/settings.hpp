// SPDX-License-Identifier: MIT
#pragma once
// What init() takes. An aggregate, so C++20 code can use designated initializers; C++17 code
// chains the with_* setters:
//
//     auto run = runlog::init({.project = "mnist", .name = "baseline"});                  // C++20
//     auto run = runlog::init(runlog::settings{}.with_project("mnist").with_name("baseline"));
//
// Environment variables override these fields, so an unattended job can be redirected without a
// rebuild: RUNLOG_DIR, RUNLOG_PROJECT, RUNLOG_NAME, RUNLOG_RUN_ID, RUNLOG_GROUP, RUNLOG_TAGS
// (comma-separated), RUNLOG_MODE (offline | disabled), RUNLOG_SINKS (a comma list of jsonl,
// wandb and tensorboard: the file formats to write), RUNLOG_RESUME (never | allow | must),
// RUNLOG_ENTITY and RUNLOG_ARTIFACT_DIR.
// Precedence: environment, then these settings, then the defaults below.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "error.hpp"
#include "fwd.hpp"
#include "value.hpp"

namespace runlog {
inline namespace v0 {

enum class run_mode { offline, disabled };

/// What init() does with settings::id when a run with that id already exists (W&B's resume):
/// never: a setup error; allow: continue it, or start it if there is none; must: continue it, and
/// a setup error if there is none. A continued run keeps its directory, start time, config (the
/// new settings.config merged over it), metric definitions and summaries (rebuilt from its
/// history, so min/max/mean stay exact); its history goes on after the last committed step.
enum class resume_mode { never, allow, must };
enum class overflow_policy {
    block,       // log() waits for room, first come first served (at most settings::block_timeout,
                 // then drops and counts; run_stats::waited_queue_full counts the waits)
    drop_newest  // log() drops the call and counts it
};

inline const char* to_string(run_mode m) noexcept {
    return m == run_mode::offline ? "offline" : "disabled";
}
inline const char* to_string(resume_mode r) noexcept {
    return r == resume_mode::never ? "never" : r == resume_mode::allow ? "allow" : "must";
}
inline const char* to_string(overflow_policy p) noexcept {
    return p == overflow_policy::block ? "block" : "drop_newest";
}

struct settings {
    std::string project{};   // default "uncategorized"
    std::string name{};      // display name; default: the run id
    std::string id{};        // [A-Za-z0-9_-]{1,64}; default: 8 random characters of [a-z0-9]
    std::string group{};     // e.g. one job's ranks
    std::string job_type{};  // e.g. "train", "eval"
    std::vector<std::string> tags{};
    std::string notes{};
    std::string dir{};  // the run goes to <dir>/runlog/run-<time>-<id>/; default "."
    run_mode mode = run_mode::offline;
    resume_mode resume = resume_mode::never;  // with `id`: continue that run (see resume_mode)
    value config{};                           // initial config (an object)

    std::size_t queue_capacity = RUNLOG_DEFAULT_QUEUE_CAPACITY;
    overflow_policy overflow = overflow_policy::block;
    std::chrono::milliseconds flush_interval{1000};   // writer flushes files at least this often
    std::chrono::milliseconds block_timeout{10000};   // longest a log() waits under `block`
    std::chrono::milliseconds finish_timeout{10000};  // used by the destructor's finish()
    std::size_t media_queue_bytes = std::size_t{256} << 20;  // images etc. waiting for the writer
    bool capture_environment = true;             // OS, CPU, memory, program, scheduler in run.json
    bool capture_environment_variables = false;  // ... and the environment, secrets left out
    bool capture_git = true;        // commit, branch, remote, dirty flag of code_dir's repository
    bool capture_git_diff = false;  // also diff.patch (`git diff HEAD`, needs git, 1 MiB at most)
    std::string code_dir{};         // where the code is; default: the working directory
    bool capture_console = false;   // tee stdout/stderr into output.log (one run per process)
    bool system_metrics = true;     // sample CPU, memory, disk and network on a low-priority thread
    std::chrono::milliseconds system_interval{15000};  // ... this often (W&B's default)

    // Opt-in: on SIGTERM, SIGINT or SIGUSR1 (SLURM's warning, sbatch --signal=USR1@60) flush
    // and mark the run "preempted" (SIGTERM, SIGUSR1) or "killed" (SIGINT), then pass the signal
    // on to the handler that was there before; if that is the default (the process dies), the
    // run is finished first, with exit code 128 + signal. See detail/open_runs.hpp.
    bool handle_signals = false;

    bool quiet = false;          // no end-of-run summary on stderr
    bool all_ranks = false;      // log on every rank, not only rank 0
    bool native_files = true;    // write the native run directory (jsonl sink)
    bool wandb_offline = false;  // also a W&B offline run under <dir>/wandb/ (sinks/wandb.hpp)
    bool tensorboard = false;    // also TensorBoard events under <dir>/tensorboard/
    std::string entity{};        // W&B entity for the offline run; default: the syncing user's
                                 // (artifacts need one: W&B sync uses it verbatim)
    std::string artifact_dir{};  // the artifact store; default <dir>/runlog/artifacts
    std::vector<std::shared_ptr<sink>> sinks{};  // more sinks, fed the same events
    error_handler on_error{};                    // default: one line on stderr per report
    double (*clock)() = nullptr;                 // Unix seconds; tests inject a fixed clock

    settings& with_project(std::string v) { return project = std::move(v), *this; }
    settings& with_name(std::string v) { return name = std::move(v), *this; }
    settings& with_id(std::string v) { return id = std::move(v), *this; }
    settings& with_group(std::string v) { return group = std::move(v), *this; }
    settings& with_job_type(std::string v) { return job_type = std::move(v), *this; }
    settings& with_tags(std::vector<std::string> v) { return tags = std::move(v), *this; }
    settings& with_notes(std::string v) { return notes = std::move(v), *this; }
    settings& with_dir(std::string v) { return dir = std::move(v), *this; }
    settings& with_mode(run_mode v) { return mode = v, *this; }
    settings& with_resume(resume_mode v) { return resume = v, *this; }
    settings& with_config(value v) { return config = std::move(v), *this; }
    settings& with_queue_capacity(std::size_t v) { return queue_capacity = v, *this; }
    settings& with_overflow(overflow_policy v) { return overflow = v, *this; }
    settings& with_flush_interval(std::chrono::milliseconds v) { return flush_interval = v, *this; }
    settings& with_block_timeout(std::chrono::milliseconds v) { return block_timeout = v, *this; }
    settings& with_finish_timeout(std::chrono::milliseconds v) { return finish_timeout = v, *this; }
    settings& with_media_queue_bytes(std::size_t v) { return media_queue_bytes = v, *this; }
    settings& with_capture_environment(bool v) { return capture_environment = v, *this; }
    settings& with_capture_environment_variables(bool v) {
        return capture_environment_variables = v, *this;
    }
    settings& with_capture_git(bool v) { return capture_git = v, *this; }
    settings& with_capture_git_diff(bool v) { return capture_git_diff = v, *this; }
    settings& with_code_dir(std::string v) { return code_dir = std::move(v), *this; }
    settings& with_capture_console(bool v) { return capture_console = v, *this; }
    settings& with_system_metrics(bool v) { return system_metrics = v, *this; }
    settings& with_system_interval(std::chrono::milliseconds v) {
        return system_interval = v, *this;
    }
    settings& with_handle_signals(bool v) { return handle_signals = v, *this; }
    settings& with_quiet(bool v) { return quiet = v, *this; }
    settings& with_all_ranks(bool v) { return all_ranks = v, *this; }
    settings& with_native_files(bool v) { return native_files = v, *this; }
    settings& with_wandb_offline(bool v) { return wandb_offline = v, *this; }
    settings& with_tensorboard(bool v) { return tensorboard = v, *this; }
    settings& with_entity(std::string v) { return entity = std::move(v), *this; }
    settings& with_artifact_dir(std::string v) { return artifact_dir = std::move(v), *this; }
    settings& with_sink(std::shared_ptr<sink> v) { return sinks.push_back(std::move(v)), *this; }
    settings& with_error_handler(error_handler v) { return on_error = std::move(v), *this; }
    settings& with_clock(double (*v)()) { return clock = v, *this; }
};

}  // namespace v0
}  // namespace runlog
