// SPDX-License-Identifier: MIT
#pragma once
// Console capture (settings::capture_console, opt-in): the process's stdout and stderr (file
// descriptors 1 and 2, so printf, std::cout, write(2) and child processes alike) are redirected
// into pipes; a reader thread copies every chunk to the original terminal or file and hands it
// to the run. At stop, C stdio is flushed, the original descriptors are put back, and the pipes
// are drained — so a last line without a newline is not lost.
//
// It never deadlocks the job: the reader writes to the terminal only once poll() says it can
// take bytes; while the run is live a blocked terminal holds the reader (and then the program's
// writes, as it would without capture), but once stop() has passed its drain deadline the
// reader gives up on the terminal (what it could not show is still recorded) and on pipes that
// a still-running child holds open.
// One capture per process (the descriptors are process-wide); POSIX only.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>

#include "os.hpp"

#if !defined(_WIN32)
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#define RUNLOG_HAVE_CONSOLE_CAPTURE 1
#else
#define RUNLOG_HAVE_CONSOLE_CAPTURE 0
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

class console_capture {
  public:
    /// stream: 1 stdout, 2 stderr.
    using chunk_handler = std::function<void(int stream, std::string chunk)>;

    console_capture() = default;
    console_capture(const console_capture&) = delete;
    console_capture& operator=(const console_capture&) = delete;
    ~console_capture() { stop(std::chrono::milliseconds(0)); }

    /// Starts capturing; false with `error` set when it cannot (another capture is active, or a
    /// pipe could not be made), and then nothing was changed.
    bool start(chunk_handler handler, std::string& error) {
#if RUNLOG_HAVE_CONSOLE_CAPTURE
        if (active().exchange(true)) {
            error = "console capture is already active for another run in this process";
            return false;
        }
        std::fflush(stdout);
        std::fflush(stderr);
        for (int i = 0; i < 2; ++i) {
            stream& s = streams_[i];
            s.fd = i + 1;
            int ends[2];
            if (::pipe(ends) != 0 || (s.saved = ::dup(s.fd)) < 0) {
                error = "cannot capture the console: pipe/dup failed";
                undo(i);
                return false;
            }
            ::fcntl(ends[0], F_SETFD, FD_CLOEXEC);
            ::fcntl(s.saved, F_SETFD, FD_CLOEXEC);
            s.read_end = ends[0];
            ::dup2(ends[1], s.fd);  // children inherit the pipe as their stdout/stderr
            ::close(ends[1]);
        }
        handler_ = std::move(handler);
        reader_ = start_thread(&console_capture::run_reader, this);
        return true;
#else
        (void)handler;
        error = "console capture needs POSIX file descriptors";
        return false;
#endif
    }

    /// Flushes stdio, restores the descriptors, drains the pipes for up to `drain` (EOF comes
    /// sooner unless a child still holds them), and joins the reader.
    void stop(std::chrono::milliseconds drain) {
#if RUNLOG_HAVE_CONSOLE_CAPTURE
        if (!reader_.joinable()) return;
        std::fflush(stdout);  // std::cout writes through stdio unless sync_with_stdio(false)
        std::fflush(stderr);
        for (stream& s : streams_) ::dup2(s.saved, s.fd);  // closes the pipes' write ends
        deadline_.store(
            std::chrono::steady_clock::now().time_since_epoch().count() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(drain).count(),
            std::memory_order_release);
        stopping_.store(true, std::memory_order_release);
        reader_.join();
        undo(2);
#else
        (void)drain;
#endif
    }

  private:
    struct stream {
        int fd = -1;
        int saved = -1;
        int read_end = -1;
        bool open = true;
    };

    static std::atomic<bool>& active() {
        static std::atomic<bool> flag{false};
        return flag;
    }

#if RUNLOG_HAVE_CONSOLE_CAPTURE
    bool past_deadline(std::chrono::steady_clock::duration grace = {}) const {
        return stopping_.load(std::memory_order_acquire) &&
               (std::chrono::steady_clock::now() - grace).time_since_epoch().count() >=
                   deadline_.load(std::memory_order_acquire);
    }

    /// Closes what start() opened for the first `count` streams and releases the capture.
    void undo(int count) {
        for (int i = 0; i < count; ++i) {
            stream& s = streams_[i];
            if (s.read_end >= 0) ::close(s.read_end);
            if (s.saved >= 0) {
                ::dup2(s.saved, s.fd);
                ::close(s.saved);
            }
            s = stream{};
        }
        active().store(false);
    }

    /// Copies `data` to the original descriptor, waiting for it with poll() so that a blocked
    /// terminal can be abandoned after stop()'s deadline.
    void to_terminal(int fd, const char* data, std::size_t n) const {
        while (n > 0) {
            pollfd p{fd, POLLOUT, 0};
            const int ready = ::poll(&p, 1, 100);
            if (ready <= 0) {
                if (past_deadline()) return;
                continue;
            }
            const std::size_t piece = n < 4096 ? n : 4096;  // PIPE_BUF: POLLOUT promises this much
            const ssize_t written = ::write(fd, data, piece);
            if (written < 0) return;  // the terminal is gone: keep capturing for the run
            data += written;
            n -= static_cast<std::size_t>(written);
        }
    }

    void run_reader() {
        char buffer[65536];
        for (;;) {
            pollfd fds[2];
            int watched = 0;
            int index[2];
            for (int i = 0; i < 2; ++i) {
                if (!streams_[i].open) continue;
                fds[watched] = pollfd{streams_[i].read_end, POLLIN, 0};
                index[watched++] = i;
            }
            if (watched == 0) return;
            // Past stop()'s deadline, what is already in the pipes is still read (the terminal
            // skipped), but no more waiting, and nothing after one more second (a child that
            // keeps writing into an inherited pipe).
            const bool late = past_deadline();
            if (late && past_deadline(std::chrono::seconds(1))) return;
            if (::poll(fds, static_cast<nfds_t>(watched), late ? 0 : 50) <= 0) {
                if (late) return;
                continue;
            }
            for (int k = 0; k < watched; ++k) {
                if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
                stream& s = streams_[index[k]];
                const ssize_t got = ::read(s.read_end, buffer, sizeof buffer);
                if (got <= 0) {
                    s.open = false;  // EOF: every write end is closed
                    continue;
                }
                const auto n = static_cast<std::size_t>(got);
                to_terminal(s.saved, buffer, n);
                handler_(s.fd, std::string(buffer, n));
            }
        }
    }
#endif

    stream streams_[2];
    chunk_handler handler_;
    std::thread reader_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::int64_t> deadline_{0};
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
