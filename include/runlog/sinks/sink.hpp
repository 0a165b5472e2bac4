// SPDX-License-Identifier: MIT
#pragma once
// The sink interface: where a run's finished events go. Sinks are called from the run's writer
// thread only, in the order the dispatcher applied the events, and see finished data: committed
// rows (with _step, _runtime, _timestamp), the whole config after each change, metric definitions
// (glob definitions materialised per key, too), the summary and the open row at flush points. Step
// rules, reducers and step_sync have already been applied, so every format agrees.
//
// A new sink derives from base_sink<Mutex> and overrides event_() (and flush_() if it buffers):
//
//     struct csv_sink : runlog::base_sink<runlog::null_mutex> {
//         runlog::io_result event_(const runlog::sink_event& e) override { ... }
//     };
//
// base_sink takes the mutex around every hook, so a sink read from other threads (the memory sink
// in tests) uses std::mutex, and a sink only the writer touches uses null_mutex for free.
// Hooks return io_result; a failure is counted and reported once, and the other sinks go on.

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../metric.hpp"
#include "../settings.hpp"
#include "../stats.hpp"
#include "../value.hpp"

namespace runlog {
inline namespace v0 {

/// Identity and settings of a run, given to every sink at start.
struct run_info {
    std::string id;
    std::string project;
    std::string name;
    std::string group;
    std::string job_type;
    std::vector<std::string> tags;
    std::string notes;
    std::filesystem::path root_dir;  // settings::dir
    std::filesystem::path run_dir;   // <root>/runlog/run-<time>-<id>, created before start
    std::string host;
    int pid = 0;
    int rank = 0;
    std::string rank_source;  // the environment variable the rank came from, or ""
    double start_time = 0.0;  // Unix seconds
    value config;             // initial config
    value environment;        // machine_info.hpp's description, or null (not captured)
    value git;                // git_state.hpp's {commit, branch, remote, dirty, root}, or null
    std::string git_diff;     // `git diff HEAD` (settings::capture_git_diff), or empty
    std::size_t queue_capacity = 0;
    overflow_policy overflow = overflow_policy::block;
    double flush_interval = 0.0;  // seconds
    int resumed = 0;  // how many times the run was continued (settings::resume); 0: a new run
    double session_start_time = 0.0;  // when this process started the run (start_time if new)
    std::int64_t starting_step = 0;   // the first step this process logs: resumed, last + 1
};

/// A committed row: `data` holds the user's keys (plus step_sync insertions), then `_step`,
/// `_runtime` and `_timestamp`. It is lent for the event call only (the writer reuses its
/// storage for the next row); a sink that keeps rows copies them.
struct history_row {
    std::int64_t step = 0;
    double runtime = 0.0;
    double timestamp = 0.0;
    const value& data;
};

namespace detail {
/// One member of a history row as JSON: _runtime and _timestamp to the microsecond
/// (write_json_seconds), everything else as value::dump. Every JSON-writing sink uses it, so the
/// native and W&B histories show the same text.
inline void dump_row_member(std::string_view key, const value& v, std::string& out) {
    const bool time = v.is_double() && !key.empty() && key.front() == '_' &&
                      (key == "_runtime" || key == "_timestamp");
    if (time) {
        write_json_seconds(out, v.as_double());
    } else {
        v.dump(out);
    }
}
}  // namespace detail

/// How a run ended.
struct finish_info {
    int exit_code = 0;
    std::string status;  // "finished" (exit code 0), "failed", or ended by a signal: "preempted"
                         // (SIGTERM, SIGUSR1) or "killed" (SIGINT), exit code 128 + signal
    double end_time = 0.0;
    double runtime = 0.0;
    run_stats stats;
    const value& summary;
    int signal = 0;           // the signal that ended the run (settings::handle_signals), or 0
    std::string signal_name;  // "SIGTERM", ...
};

/// A signal arrived that the program handles itself (settings::handle_signals): the run may go
/// on, or the process may end soon. `status` is what a sink marks the run as meanwhile.
struct signal_event {
    int number = 0;
    std::string name;    // "SIGTERM", ...
    std::string status;  // "preempted" or "killed"
    double timestamp = 0.0;
};

/// A media file to store, relative to the run directory ("media/images/x_3_<sha20>.png"). It
/// arrives before the row that refers to it.
struct media_event {
    std::string path;
    const std::vector<std::uint8_t>* bytes = nullptr;
};

/// One reading of the system sampler: W&B's stats keys ("cpu", "proc.memory.rssMB",
/// "network.sent", ...) with numbers; `index` counts samples from 0.
struct system_sample {
    std::int64_t index = 0;
    double runtime = 0.0;
    double timestamp = 0.0;
    const value& values;
};

/// A chunk of the process's console output (settings::capture_console), as read: it may end
/// mid-line and need not be valid UTF-8.
struct console_output {
    int stream = 1;  // 1 stdout, 2 stderr
    double timestamp = 0.0;
    const std::string& text;
};

/// An artifact version the run logged (run::log_artifact, checkpoint_logger) or used
/// (run::use_artifact); artifacts.hpp describes the store.
struct artifact_event {
    bool used = false;
    double timestamp = 0.0;
    const value& manifest;                    // the version's manifest (vN.json)
    const std::vector<std::string>& aliases;  // logged: the aliases it took; used: those it holds
    std::filesystem::path dir;                // the version's files, at their entry paths

    /// {"name", "version", "aliases"}: what a sink's record of the event starts with.
    value brief() const {
        value list = value::array();
        for (const auto& alias : aliases) list.push_back(alias);
        const value* name = manifest.find("name");
        const value* version = manifest.find("version");
        return {{"name", name ? *name : value()},
                {"version", version ? *version : value()},
                {"aliases", std::move(list)}};
    }
};

enum class sink_event_type {
    config,
    metric,
    row,
    summary,
    media,
    system,
    console,
    artifact,
    signal,
    rewind,
    open_row  // a row not committed yet, at a flush point (e.row): see sink_event::row
};

/// One event; exactly the member named by `type` is set.
struct sink_event {
    sink_event_type type = sink_event_type::row;
    const value* config = nullptr;              // the whole config after a change
    const metric_definition* metric = nullptr;  // a definition (new or merged)
    // row: a committed row. open_row: the row still open at a flush point (logged with a step,
    // it commits when a larger one arrives), as it would be committed now; a sink that can make
    // it durable without committing it does (the native sink's open-row.json), the others wait
    // for the row itself.
    const history_row* row = nullptr;
    const value* summary = nullptr;  // the whole summary, at flush points
    const media_event* media = nullptr;
    const system_sample* system = nullptr;
    const console_output* console = nullptr;
    const artifact_event* artifact = nullptr;
    const signal_event* signal = nullptr;
    const std::int64_t* rewind_step = nullptr;  // rows after this step are to be hidden
};

class sink {
  public:
    virtual ~sink() = default;
    /// Called on the thread that calls init(); a failure there fails init.
    virtual io_result start(const run_info& info) = 0;
    virtual io_result event(const sink_event& e) = 0;
    virtual io_result flush() = 0;
    virtual io_result finish(const finish_info& info) = 0;
};

/// A mutex that does nothing, for sinks that only the writer thread touches.
struct null_mutex {
    void lock() noexcept {}
    void unlock() noexcept {}
};

template <class Mutex>
class base_sink : public sink {
  public:
    io_result start(const run_info& info) final {
        std::lock_guard<Mutex> lock(mutex_);
        return start_(info);
    }
    io_result event(const sink_event& e) final {
        std::lock_guard<Mutex> lock(mutex_);
        return event_(e);
    }
    io_result flush() final {
        std::lock_guard<Mutex> lock(mutex_);
        return flush_();
    }
    io_result finish(const finish_info& info) final {
        std::lock_guard<Mutex> lock(mutex_);
        return finish_(info);
    }

  protected:
    virtual io_result start_(const run_info&) { return {}; }
    virtual io_result event_(const sink_event& e) = 0;
    virtual io_result flush_() { return {}; }
    virtual io_result finish_(const finish_info&) { return {}; }

    mutable Mutex mutex_;  // mutable: const readers of a sink lock it too
};

}  // namespace v0
}  // namespace runlog
