// SPDX-License-Identifier: MIT
#pragma once
// The one way sinks write their streams (history.jsonl, run-<id>.wandb, tfevents): bytes are
// gathered in a buffer and appended to an unbuffered file at flush points, so what reaches the
// disk is whole lines or whole records. When a write fails (disk full, quota, I/O error), the
// unwritten bytes stay buffered, in order, and are retried at the next write: once space returns
// the file continues exactly where it stopped (a record cut short by the failure is completed,
// and a .wandb file keeps its block layout). Buffered bytes are never dropped, since that would
// tear a record in the middle of the file; instead, once 64 MiB wait (has_room()), the sinks
// leave out new rows, counted in run_stats::dropped_unwritable.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "../error.hpp"
#include "io_faults.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

class append_file {
  public:
    static constexpr std::size_t max_buffered = 64 * 1024 * 1024;

    append_file() = default;
    append_file(const append_file&) = delete;
    append_file& operator=(const append_file&) = delete;
    ~append_file() { close(); }

    /// Opens `path` for appending; `exclusive` refuses an existing file (never append to another
    /// run's stream).
    io_result open(const std::filesystem::path& path, bool exclusive) {
        path_ = path;
        file_ = std::fopen(path.string().c_str(), exclusive ? "wbx" : "ab");
        if (file_ == nullptr) {
            return io_result::failure(
                errc::sink_start_failed,
                std::string(exclusive ? "cannot create '" : "cannot open '") + path.string() +
                    "': " + std::error_code(errno, std::generic_category()).message());
        }
        std::setvbuf(file_, nullptr, _IONBF, 0);  // the buffer below is the only buffer
        return {};
    }

    /// The bytes waiting for the next write().
    std::string& buffer() noexcept { return buffer_; }

    /// False while writes fail and max_buffered bytes wait: leave new rows out. Then it tries
    /// the disk again, at most every 100 ms, so writing resumes with the first row after space
    /// returns.
    bool has_room() {
        if (buffer_.size() < max_buffered) return true;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_retry_ < std::chrono::milliseconds(100)) return false;
        last_retry_ = now;
        (void)write();  // its failure was reported when the streak began
        return buffer_.size() < max_buffered;
    }

    /// The failure to return for a row left out while backlogged().
    io_result row_left_out() const {
        return io_result::failure(errc::sink_backlog_full,
                                  "rows left out: '" + path_.string() + "' cannot be written and " +
                                      std::to_string(buffer_.size() >> 20) +
                                      " MiB already wait for it");
    }

    /// Appends the buffer to the file; keeps what could not be written.
    io_result write() {
        if (buffer_.empty() || file_ == nullptr) return {};
        std::size_t written = 0;
        int error = 0;
        if (const io_fault fault = injected_fault(io_op::append, path_.c_str()); fault.error) {
            const std::size_t part = std::min(fault.partial_bytes, buffer_.size());
            written = part > 0 ? std::fwrite(buffer_.data(), 1, part, file_) : 0;
            error = fault.error;
        } else {
            written = std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
            error = errno;
        }
        buffer_.erase(0, written);
        if (buffer_.empty()) return {};
        std::clearerr(file_);
        return io_result::failure(
            errc::sink_write_failed,
            "cannot append to '" + path_.string() +
                "': " + std::error_code(error, std::generic_category()).message() + "; " +
                std::to_string(buffer_.size()) + " bytes kept in memory, retried at each flush");
    }

    void close() noexcept {
        if (file_ != nullptr) std::fclose(file_);
        file_ = nullptr;
    }

    const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
    std::FILE* file_ = nullptr;
    std::string buffer_;
    std::chrono::steady_clock::time_point last_retry_{};
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
