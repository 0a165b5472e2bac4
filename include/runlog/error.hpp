// SPDX-License-Identifier: MIT
#pragma once
// Errors. Setup (init, bad settings, bad environment) throws runlog::error; everything after init
// reports through a replaceable, rate-limited handler and never throws into the caller. Each error
// has a stable id that appears in its text ("[runlog.103] ...") so users and tests can match it.

#include <cstdint>     // std::uint64_t
#include <cstdio>      // std::fprintf
#include <functional>  // std::function
#include <stdexcept>   // std::runtime_error
#include <string>

#include "config.hpp"

namespace runlog {
inline namespace v0 {

enum class errc : int {
    ok = 0,
    // setup: thrown by init()
    invalid_setting = 101,
    invalid_environment = 102,
    run_dir_unwritable = 103,
    sink_start_failed = 104,
    // artifacts: thrown by use_artifact()
    artifact_not_found = 105,
    // logging: reported through the handler, counted in run::stats()
    reserved_key = 201,
    invalid_key = 202,
    step_not_increasing = 203,
    queue_full = 204,
    logged_after_finish = 205,
    invalid_metric_definition = 206,
    invalid_value = 207,
    invalid_artifact = 208,  // log_artifact: bad name, alias or file
    // sinks and shutdown
    sink_write_failed = 301,
    finish_timed_out = 302,
    flush_timed_out = 303,
    artifact_store_failed = 304,  // the artifact store could not be written
    sink_backlog_full = 305,      // a sink left rows out: its file fails and 64 MiB wait
};

inline const char* to_string(errc code) noexcept {
    switch (code) {
        case errc::ok:
            return "ok";
        case errc::invalid_setting:
            return "invalid setting";
        case errc::invalid_environment:
            return "invalid environment variable";
        case errc::run_dir_unwritable:
            return "run directory not writable";
        case errc::sink_start_failed:
            return "sink failed to start";
        case errc::artifact_not_found:
            return "artifact not found";
        case errc::reserved_key:
            return "reserved key";
        case errc::invalid_key:
            return "invalid key";
        case errc::step_not_increasing:
            return "step not increasing";
        case errc::queue_full:
            return "queue full";
        case errc::logged_after_finish:
            return "logged after finish";
        case errc::invalid_metric_definition:
            return "invalid metric definition";
        case errc::invalid_value:
            return "invalid value";
        case errc::invalid_artifact:
            return "invalid artifact";
        case errc::sink_write_failed:
            return "sink write failed";
        case errc::finish_timed_out:
            return "finish timed out";
        case errc::flush_timed_out:
            return "flush timed out";
        case errc::artifact_store_failed:
            return "artifact store failed";
        case errc::sink_backlog_full:
            return "sink backlog full";
    }
    return "unknown error";
}

/// The exception init() throws for setup errors. what() reads "[runlog.<id>] <message>".
class error : public std::runtime_error {
  public:
    error(errc code, const std::string& message)
        : std::runtime_error("[runlog." + std::to_string(static_cast<int>(code)) + "] " + message),
          code_(code) {}
    errc code() const noexcept { return code_; }
    int id() const noexcept { return static_cast<int>(code_); }

  private:
    errc code_;
};

/// What the error handler receives. `suppressed` counts reports the rate limit held back since the
/// previous one.
struct error_report {
    errc code = errc::ok;
    std::string message;  // "[runlog.<id>] ..." like error::what()
    std::uint64_t suppressed = 0;
};

using error_handler = std::function<void(const error_report&)>;

/// The default handler: one line on stderr per report.
inline void print_error_to_stderr(const error_report& report) {
    if (report.suppressed > 0) {
        std::fprintf(stderr, "runlog: %s (%llu similar reports suppressed)\n",
                     report.message.c_str(), static_cast<unsigned long long>(report.suppressed));
    } else {
        std::fprintf(stderr, "runlog: %s\n", report.message.c_str());
    }
}

/// Result of an I/O step (a sink write, a file replace). Values, never exceptions.
struct io_result {
    errc code = errc::ok;
    std::string message;
    bool ok() const noexcept { return code == errc::ok; }
    static io_result failure(errc c, std::string msg) { return io_result{c, std::move(msg)}; }
};

}  // namespace v0
}  // namespace runlog
