// SPDX-License-Identifier: MIT
#pragma once
// Shared helpers for the tests: temporary directories, environment guards, an error collector,
// and sink doubles built on the public extension point (base_sink).

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <runlog/detail/json_reader.hpp>
#include <runlog/runlog.hpp>
#include <runlog/sinks/memory.hpp>  // a tool: not in runlog.hpp with RUNLOG_COMPILED_LIB

namespace test {

namespace fs = std::filesystem;

/// Unsets every variable runlog reads, once per process, so the caller's environment (a CI job
/// with RANK set, say) cannot change what the tests see.
inline void clear_runlog_environment() {
    static const bool done = [] {
        for (const char* name :
             {"RUNLOG_DIR", "RUNLOG_PROJECT", "RUNLOG_NAME", "RUNLOG_RUN_ID", "RUNLOG_GROUP",
              "RUNLOG_TAGS", "RUNLOG_MODE", "RUNLOG_SINKS", "RUNLOG_NVML_LIBRARY", "RANK",
              "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "JSM_NAMESPACE_RANK",
              "LOCAL_RANK"})
            unsetenv(name);
        return true;
    }();
    (void)done;
}

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::random_device rd;
        path = fs::temp_directory_path() /
               ("runlog-test-" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

/// Sets (or unsets, with nullptr) an environment variable for one scope.
class env_guard {
  public:
    env_guard(const char* name, const char* v) : name_(name) {
        clear_runlog_environment();
        if (const char* old = std::getenv(name)) old_ = old, had_ = true;
        if (v) {
            setenv(name, v, 1);
        } else {
            unsetenv(name);
        }
    }
    ~env_guard() {
        if (had_) {
            setenv(name_.c_str(), old_.c_str(), 1);
        } else {
            unsetenv(name_.c_str());
        }
    }
    env_guard(const env_guard&) = delete;
    env_guard& operator=(const env_guard&) = delete;

  private:
    std::string name_;
    std::string old_;
    bool had_ = false;
};

/// Collects error reports (thread-safe).
struct error_log {
    std::mutex mutex;
    std::vector<runlog::error_report> reports;

    runlog::error_handler handler() {
        return [this](const runlog::error_report& r) {
            std::lock_guard<std::mutex> lock(mutex);
            reports.push_back(r);
        };
    }
    std::size_t count(runlog::errc code) {
        std::lock_guard<std::mutex> lock(mutex);
        std::size_t n = 0;
        for (const auto& r : reports) n += r.code == code ? 1 : 0;
        return n;
    }
    std::string all_text() {
        std::lock_guard<std::mutex> lock(mutex);
        std::string out;
        for (const auto& r : reports) out += r.message + "\n";
        return out;
    }
};

/// Settings for a quiet run in `dir` whose errors go to `errors`. No system sampler: its samples
/// arrive at times of their own, and tests that check exact event sequences must not see them
/// (the sampler's tests switch it on).
inline runlog::settings quiet_settings(const temp_dir& dir, error_log* errors = nullptr) {
    clear_runlog_environment();
    runlog::settings s;
    s.dir = dir.path.string();
    s.quiet = true;
    s.system_metrics = false;
    if (errors) s.on_error = errors->handler();
    return s;
}

/// A run that writes only to a memory sink (plus its run directory under `dir`).
/// Runs `body` in a child process that dies by SIGKILL, as a job killed mid-run does; true when
/// the child died of that signal. `body` should raise SIGKILL itself while its run is still alive
/// (returning would destroy, and so finish, the run first); the raise here is only a fallback.
template <class Body>
bool run_in_killed_child(Body body) {
    const pid_t child = fork();
    if (child < 0) return false;
    if (child == 0) {
        body();
        std::raise(SIGKILL);
    }
    int status = 0;
    return waitpid(child, &status, 0) == child && WIFSIGNALED(status) &&
           WTERMSIG(status) == SIGKILL;
}

inline runlog::run memory_run(const temp_dir& dir, std::shared_ptr<runlog::memory_sink>& sink,
                              error_log* errors = nullptr) {
    sink = std::make_shared<runlog::memory_sink>();
    runlog::settings s = quiet_settings(dir, errors);
    s.native_files = false;
    s.sinks.push_back(sink);
    return runlog::init(s);
}

/// Counts rows without keeping them.
class counting_sink final : public runlog::base_sink<runlog::null_mutex> {
  public:
    std::atomic<std::uint64_t> rows{0};

  protected:
    runlog::io_result event_(const runlog::sink_event& e) override {
        if (e.type == runlog::sink_event_type::row) rows.fetch_add(1);
        return {};
    }
};

/// Blocks in every row until released: a sink stuck on a dead file system.
class blocking_sink final : public runlog::base_sink<runlog::null_mutex> {
  public:
    void release() {
        {
            std::lock_guard<std::mutex> lock(mutex);
            released = true;
        }
        cv.notify_all();
    }
    bool wait_entered(std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(mutex);
        return cv.wait_for(lock, timeout, [&] { return entered; });
    }

  protected:
    runlog::io_result event_(const runlog::sink_event& e) override {
        if (e.type != runlog::sink_event_type::row) return {};
        std::unique_lock<std::mutex> lock(mutex);
        entered = true;
        cv.notify_all();
        cv.wait(lock, [&] { return released; });
        return {};
    }

  private:
    std::mutex mutex;
    std::condition_variable cv;
    bool entered = false;
    bool released = false;
};

/// Fails every write with a message, like a full disk.
class failing_sink final : public runlog::base_sink<runlog::null_mutex> {
  public:
    std::atomic<int> calls{0};

  protected:
    runlog::io_result event_(const runlog::sink_event&) override {
        ++calls;
        return runlog::io_result::failure(runlog::errc::sink_write_failed, "disk full (test)");
    }
};

inline std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// A JSON file runlog wrote, parsed; throws (a test failure) naming the file if it does not parse.
inline runlog::value read_json(const fs::path& p) {
    runlog::value v;
    std::string error;
    if (!runlog::detail::parse_json(read_file(p), v, error))
        throw std::runtime_error(p.string() + ": " + error);
    return v;
}

inline std::vector<std::string> read_lines(const fs::path& p) {
    std::ifstream in(p);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

/// The rows of a run's history.jsonl, each parsed by runlog's reader. Only the last line may be
/// torn (a write cut short), and only when `torn_tail_ok`: it is then left out. Anything else
/// throws (a test failure) naming the line.
inline std::vector<runlog::value> read_history(const fs::path& run_dir, bool torn_tail_ok = false) {
    const std::vector<std::string> lines = read_lines(run_dir / "history.jsonl");
    std::vector<runlog::value> rows;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        runlog::value row;
        std::string error;
        if (runlog::detail::parse_json(lines[i], row, error)) {
            rows.push_back(std::move(row));
        } else if (!torn_tail_ok || i + 1 != lines.size()) {
            throw std::runtime_error("history.jsonl line " + std::to_string(i + 1) + ": " + error);
        }
    }
    return rows;
}

/// Keys of a row object, in order.
inline std::vector<std::string> keys_of(const runlog::value& v) {
    std::vector<std::string> keys;
    for (const auto& member : v.as_object()) keys.push_back(member.first);
    return keys;
}

}  // namespace test
