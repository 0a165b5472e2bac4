// SPDX-License-Identifier: MIT
#pragma once
// The little the library needs from the OS: clocks, environment, host and process identity, a
// real random source for run ids, and file operations that report errors as values. POSIX first;
// the Windows branches keep the header compiling there but are not tested yet.

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>  // std::getenv
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "clock.hpp"
#include "io_faults.hpp"

#if defined(_WIN32)
#include <process.h>  // _getpid
#else
#include <fcntl.h>     // open
#include <pthread.h>   // pthread_sigmask
#include <sys/file.h>  // flock
#include <unistd.h>    // gethostname, getpid

#include <csignal>
#endif
#if defined(__linux__)
#include <sys/resource.h>  // setpriority
#include <sys/syscall.h>   // SYS_gettid
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

namespace fs = std::filesystem;

inline std::optional<std::string> get_env(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
}

inline std::string host_name() {
#if defined(_WIN32)
    return get_env("COMPUTERNAME").value_or("unknown");
#else
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
    return buf;
#endif
}

inline int process_id() noexcept {
#if defined(_WIN32)
    return _getpid();
#else
    return static_cast<int>(getpid());
#endif
}

/// True while process `pid` of this host exists and has not ended (a zombie, which has, is not
/// alive). Unknown platforms: true, the safe answer for callers that must not touch a live run.
inline bool process_alive(int pid) noexcept {
#if defined(_WIN32)
    (void)pid;
    return true;
#else
    if (pid <= 0) return false;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
#if defined(__linux__)
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (std::getline(stat, line)) {
        const std::size_t close = line.rfind(')');  // the name may hold spaces and parentheses
        if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z')
            return false;
    }
#endif
    return true;
#endif
}

/// A small file's whole content ("" when it cannot be read): /proc files, git's refs.
inline std::string read_small_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Makes the calling thread yield to the job's threads (Linux: nice +10 for this thread only;
/// elsewhere nothing). Used by the system sampler.
inline void lower_this_thread_priority() noexcept {
#if defined(__linux__)
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
}

/// Starts one of runlog's threads (writer, sampler, console reader, signal watcher) with SIGTERM,
/// SIGINT and SIGUSR1 blocked, so those signals always reach one of the program's own threads:
/// the handler settings::handle_signals installs waits for runlog's threads and must never run
/// on one of them.
template <class... Args>
std::thread start_thread(Args&&... args) {
#if defined(_WIN32)
    return std::thread(std::forward<Args>(args)...);
#else
    struct mask_guard {
        sigset_t previous;
        mask_guard() {
            sigset_t block;
            sigemptyset(&block);
            for (int sig : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&block, sig);
            pthread_sigmask(SIG_BLOCK, &block, &previous);
        }
        ~mask_guard() { pthread_sigmask(SIG_SETMASK, &previous, nullptr); }
    } guard;  // the new thread inherits the mask; this one gets its own back
    return std::thread(std::forward<Args>(args)...);
#endif
}

/// "SIGTERM", "SIGINT", "SIGUSR1" (the signals settings::handle_signals handles), else "SIG<n>".
inline std::string signal_name(int signal) {
#if !defined(_WIN32)
    switch (signal) {
        case SIGTERM:
            return "SIGTERM";
        case SIGINT:
            return "SIGINT";
        case SIGUSR1:
            return "SIGUSR1";
        default:
            break;
    }
#endif
    return "SIG" + std::to_string(signal);
}

/// How a run ended by `signal` is marked: "killed" for SIGINT (someone pressed Ctrl-C),
/// "preempted" for the rest (SIGTERM: a scheduler's time limit or preemption; SIGUSR1: SLURM's
/// warning before it, sbatch --signal).
inline const char* signal_status(int signal) noexcept {
#if !defined(_WIN32)
    if (signal == SIGINT) return "killed";
#endif
    (void)signal;
    return "preempted";
}

/// The process's command line (Linux: /proc/self/cmdline); empty where unknown.
inline std::vector<std::string> command_line() {
    std::vector<std::string> args;
    std::FILE* f = std::fopen("/proc/self/cmdline", "rb");
    if (f == nullptr) return args;
    std::string current;
    for (int c; (c = std::fgetc(f)) != EOF;) {
        if (c == 0) {
            args.push_back(current);
            current.clear();
        } else {
            current.push_back(static_cast<char>(c));
        }
    }
    std::fclose(f);
    return args;
}

/// 8 characters of [a-z0-9] from std::random_device (getrandom/urandom on Linux), never from the
/// time: two runs started in the same second must not share an id.
inline std::string random_run_id() {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device source;
    std::uniform_int_distribution<int> pick(0, 35);
    std::string id(8, 'a');
    for (char& c : id) c = alphabet[pick(source)];
    return id;
}

inline std::tm to_tm(double unix_seconds, bool local) noexcept {
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm out{};
#if defined(_WIN32)
    local ? localtime_s(&out, &t) : gmtime_s(&out, &t);
#else
    local ? localtime_r(&t, &out) : gmtime_r(&t, &out);
#endif
    return out;
}

/// "YYYYMMDD_HHMMSS" in local time, as wandb names run directories.
inline std::string directory_timestamp(double unix_seconds) {
    const std::tm tm = to_tm(unix_seconds, true);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d_%H%M%S", &tm);
    return buf;
}

/// RFC 3339 UTC with milliseconds, e.g. "2026-11-29T06:22:29.123Z".
inline std::string iso8601_utc(double unix_seconds) {
    const std::tm tm = to_tm(unix_seconds, false);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    const auto whole = static_cast<double>(static_cast<std::time_t>(unix_seconds));
    auto ms = static_cast<int>((unix_seconds - whole) * 1000.0);
    if (ms < 0) ms = 0;
    if (ms > 999) ms = 999;
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, ms);
    return out;
}

inline std::string describe(const std::error_code& ec) {
    return ec.message();
}

/// Makes a directory's entries (files created, renamed or removed in it) survive a power cut.
inline io_result sync_directory(const fs::path& dir) {
#if !defined(_WIN32)
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        const int e = errno;
        if (fd >= 0) ::close(fd);
        return io_result::failure(
            errc::sink_write_failed,
            "cannot sync '" + dir.string() + "': " + describe({e, std::generic_category()}));
    }
    ::close(fd);
#else
    (void)dir;
#endif
    return {};
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a mix: the
/// bytes go to a temporary file beside it, which is then renamed over the target. `durable`:
/// also fsync the file before the rename and the directory after it, so the new content
/// survives a power cut (the artifact store's commit points; run files are rewritten often and
/// skip it).
inline io_result write_file_atomically(const fs::path& path, std::string_view bytes,
                                       bool durable = false) {
    fs::path temp = path;
    temp += ".tmp";
    std::FILE* f = std::fopen(temp.string().c_str(), "wb");
    if (f == nullptr) {
        return io_result::failure(errc::sink_write_failed,
                                  "cannot open '" + temp.string() + "' for writing: " +
                                      describe({errno, std::generic_category()}));
    }
    bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    int write_errno = errno;
    if (const io_fault fault = injected_fault(io_op::write_file, temp.c_str()); fault.error)
        written = false, write_errno = fault.error;
#if !defined(_WIN32)
    if (durable && written) {
        written = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
        write_errno = errno;
        if (const io_fault fault = injected_fault(io_op::fsync, temp.c_str()); fault.error)
            written = false, write_errno = fault.error;
    }
#endif
    const bool closed = std::fclose(f) == 0;  // a buffered write may fail only here
    if (written && !closed) write_errno = errno;
    if (!written || !closed) {
        std::error_code ignored;
        fs::remove(temp, ignored);
        return io_result::failure(errc::sink_write_failed,
                                  "cannot write '" + temp.string() +
                                      "': " + describe({write_errno, std::generic_category()}));
    }
    std::error_code ec;
    if (const io_fault fault = injected_fault(io_op::rename, path.c_str()); fault.error)
        ec.assign(fault.error, std::generic_category());
    else
        fs::rename(temp, path, ec);
    if (ec) {
        std::error_code ignored;
        fs::remove(temp, ignored);
        return io_result::failure(errc::sink_write_failed,
                                  "cannot replace '" + path.string() + "': " + describe(ec));
    }
    return durable ? sync_directory(path.parent_path()) : io_result{};
}

/// write_file_atomically for a new file whose directories may not exist yet (media files).
inline io_result write_file_creating_directories(const fs::path& path,
                                                 const std::vector<std::uint8_t>& bytes) {
    std::error_code ec;
    if (const io_fault fault = injected_fault(io_op::mkdir, path.parent_path().c_str());
        fault.error)
        ec.assign(fault.error, std::generic_category());
    else
        fs::create_directories(path.parent_path(), ec);
    if (ec) {
        return io_result::failure(
            errc::sink_write_failed,
            "cannot create '" + path.parent_path().string() + "': " + ec.message());
    }
    return write_file_atomically(
        path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

/// Points `link` at `target` (a path relative to the link's directory) atomically: a temporary
/// link is made and renamed over the old one, so readers never see the link missing.
inline io_result replace_symlink(const fs::path& link, const fs::path& target) {
    fs::path temp = link;
    temp += "." + std::to_string(process_id()) + ".tmp";
    std::error_code ec;
    fs::remove(temp, ec);
    fs::create_directory_symlink(target, temp, ec);
    if (!ec) fs::rename(temp, link, ec);
    if (ec) {
        std::string reason = describe(ec);
        fs::remove(temp, ec);
        return io_result::failure(
            errc::sink_write_failed,
            "cannot point '" + link.string() + "' at '" + target.string() + "': " + reason);
    }
    return {};
}

/// An exclusive lock on a file (created if missing), held for the object's life: serialises
/// processes sharing an artifact store. flock(2): local file systems and NFS (as fcntl locks,
/// Linux >= 2.6.12). Windows: no lock yet.
class file_lock {
  public:
    explicit file_lock(const fs::path& path) {
#if !defined(_WIN32)
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) {
            error_ = "cannot open lock file '" + path.string() +
                     "': " + describe({errno, std::generic_category()});
            return;
        }
        while (::flock(fd_, LOCK_EX) != 0) {
            if (errno == EINTR) continue;
            error_ = "cannot lock '" + path.string() +
                     "': " + describe({errno, std::generic_category()});
            break;
        }
#else
        (void)path;
#endif
    }
    ~file_lock() {
#if !defined(_WIN32)
        if (fd_ >= 0) ::close(fd_);  // closing releases the lock
#endif
    }
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    /// Empty when the lock is held.
    const std::string& error() const noexcept {
        return error_;
    }

  private:
    int fd_ = -1;
    std::string error_;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
