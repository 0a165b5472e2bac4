// SPDX-License-Identifier: MIT
#pragma once
// The one way sinks write their streams (history.jsonl, run-<id>.wandb, tfevents): bytes are
// gathered in a buffer and appended to an unbuffered file at flush points, so what reaches the
// disk is always whole lines or whole records. When a write fails (disk full), the unwritten bytes
// stay buffered and are retried at the next write; past 64 MiB they are dropped and the loss is
// reported.

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "../error.hpp"

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

    /// Appends the buffer to the file; keeps what could not be written.
    io_result write() {
        if (buffer_.empty() || file_ == nullptr) return {};
        const std::size_t written = std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
        const int error = errno;
        buffer_.erase(0, written);
        if (buffer_.empty()) return {};
        std::clearerr(file_);
        std::string message = "cannot append to '" + path_.string() +
                              "': " + std::error_code(error, std::generic_category()).message();
        if (buffer_.size() > max_buffered) {
            message += "; " + std::to_string(buffer_.size()) + " buffered bytes dropped";
            buffer_.clear();
        } else {
            message += "; kept in memory and retried at the next flush";
        }
        return io_result::failure(errc::sink_write_failed, message);
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
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
