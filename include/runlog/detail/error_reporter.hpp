// SPDX-License-Identifier: MIT
#pragma once
// Rate-limited delivery of error reports to the user's handler. Called from the writer thread and
// from setup/finish on caller threads, never from log(): the hot path only bumps counters, and the
// writer reports what it finds. At most RUNLOG_ERROR_REPORTS_PER_SECOND reports pass per second;
// the rest are counted and the count rides on the next report that passes.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

#include "../config.hpp"
#include "../error.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

inline std::string format_error(errc code, const std::string& message) {
    return "[runlog." + std::to_string(static_cast<int>(code)) + "] " + message;
}

class error_reporter {
  public:
    explicit error_reporter(error_handler handler = {}) : handler_(std::move(handler)) {}

    void report(errc code, const std::string& message) noexcept {
        std::lock_guard<std::mutex> lock(mutex_);
        auto now = std::chrono::steady_clock::now();
        if (now - window_start_ >= std::chrono::seconds(1)) {
            window_start_ = now;
            in_window_ = 0;
        }
        if (in_window_ >= RUNLOG_ERROR_REPORTS_PER_SECOND) {
            ++pending_suppressed_;
            suppressed_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        ++in_window_;
        reported_.fetch_add(1, std::memory_order_relaxed);
        error_report report{code, format_error(code, message), pending_suppressed_};
        pending_suppressed_ = 0;
        deliver(report);
    }

    /// Reports delivered to the handler; suppressed(): those its rate limit held back.
    std::uint64_t reported() const noexcept { return reported_.load(std::memory_order_relaxed); }
    std::uint64_t suppressed() const noexcept {
        return suppressed_.load(std::memory_order_relaxed);
    }

  private:
    void deliver(const error_report& report) noexcept {
#if !RUNLOG_NO_EXCEPTIONS
        try {
#endif
            if (handler_) {
                handler_(report);
            } else {
                print_error_to_stderr(report);
            }
#if !RUNLOG_NO_EXCEPTIONS
        } catch (...) {
            // A throwing handler must not take the writer thread down.
        }
#endif
    }

    error_handler handler_;
    std::mutex mutex_;
    std::chrono::steady_clock::time_point window_start_{};
    int in_window_ = 0;
    std::uint64_t pending_suppressed_ = 0;
    std::atomic<std::uint64_t> reported_{0};
    std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
