// SPDX-License-Identifier: MIT
#pragma once
// The runs open in this process, and the two ways the process can end under them.
//
// exit() and return from main(): every run registers here when it starts. A handler installed
// with the first run (glibc's on_exit, which passes the exit status; atexit elsewhere, status 0)
// finishes each run still open with that status. A run local to main() was already finished by
// its destructor; a run that is leaked, static, or owned by another thread when exit() is called
// was not, and would otherwise stay "running" and lose up to a flush interval of rows.
//
// Signals (settings::handle_signals): SIGTERM, SIGINT and SIGUSR1 get a handler that does only
// async-signal-safe things: it writes the signal into a pipe, waits (poll, at most the longest
// finish_timeout plus a second) for the watcher thread's answer, then passes the signal on to the
// disposition it replaced: the previous handler is called, or the default is restored and the
// signal raised again, so the process ends as it would have. The watcher does the work on an
// ordinary thread. If the previous disposition is the default (the process is about to die) it
// finishes every open run that asked, status "preempted" (SIGTERM, SIGUSR1) or "killed" (SIGINT)
// and exit code 128 + signal; otherwise (the program handles the signal and may go on) it marks
// them so and flushes. A second signal while one is handled is passed on at once (Ctrl-C twice
// quits now). runlog's threads block these signals (start_thread in os.hpp), so the handler never
// runs on a thread it waits for. The handlers stay for the life of the process: taking them out
// would break any handler installed on top of them since.
//
// Known limit: a signal that lands on a thread holding a lock the watcher needs (a caller inside
// the queue-full wait of overflow_policy::block, say) makes the wait time out; the signal is then
// passed on without the flush.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "run_state.hpp"

#if !defined(_WIN32)
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#define RUNLOG_HAVE_SIGNAL_HANDLERS 1
#else
#define RUNLOG_HAVE_SIGNAL_HANDLERS 0
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

#if RUNLOG_HAVE_SIGNAL_HANDLERS
/// What the signal handler reads: set up before the handlers are installed, never freed.
struct signal_channel {
    static constexpr int handled[3] = {SIGTERM, SIGINT, SIGUSR1};
    int request_read = -1, request_write = -1;  // handler -> watcher: {signal, ticket}
    int reply_read = -1, reply_write = -1;      // watcher -> handler: ticket
    pid_t owner = 0;                            // a forked child passes signals straight on
    std::atomic<int> wait_ms{0};
    std::atomic<bool> busy{false};
    std::atomic<unsigned> tickets{0};
    struct sigaction previous[3] = {};

    static int slot(int signal) noexcept {
        for (int i = 0; i < 3; ++i)
            if (handled[i] == signal) return i;
        return 0;
    }
    /// True when the disposition replaced for `signal` is the default: the process will end.
    bool ends_process(int signal) const noexcept {
        const struct sigaction& p = previous[slot(signal)];
        return (p.sa_flags & SA_SIGINFO) == 0 && p.sa_handler == SIG_DFL;
    }
};
inline signal_channel signal_handling;
#endif

class open_runs {
  public:
    static open_runs& get() {
        static open_runs* instance = new open_runs;  // never destroyed: exit handlers use it
        return *instance;
    }

    /// Registers a started run. Installs the exit handler with the first run and the signal
    /// handlers with the first that asks for them; false (with `error`) if those cannot be.
    bool add(const std::shared_ptr<run_state>& run, std::string& error) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            runs_.erase(
                std::remove_if(runs_.begin(), runs_.end(),
                               [](const std::weak_ptr<run_state>& w) { return w.expired(); }),
                runs_.end());
            runs_.push_back(run);
        }
        install_exit_handler();
        return !run->handles_signals || install_signal_handlers(run->finish_timeout, error);
    }

    /// The registered runs still alive and owned by this process.
    std::vector<std::shared_ptr<run_state>> live() {
        std::vector<std::shared_ptr<run_state>> out;
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& w : runs_)
            if (auto run = w.lock(); run && run->in_owner_process()) out.push_back(std::move(run));
        return out;
    }

  private:
    open_runs() {
#if !defined(_WIN32)
        // No other thread holds the registry's lock across fork(): a child's exit() takes it.
        pthread_atfork([] { get().mutex_.lock(); }, [] { get().mutex_.unlock(); },
                       [] { get().mutex_.unlock(); });
#endif
    }

    static void finish_at_exit(int status) {
        for (const auto& run : get().live()) {
            if (run->close(status, 0, run->finish_timeout) == close_result::already_closed)
                run->wait_until_finished(run->finish_timeout);  // finish() under way elsewhere
        }
    }

    static void install_exit_handler() {
        static const bool installed = [] {
#if defined(__GLIBC__)
            return on_exit([](int status, void*) { finish_at_exit(status); }, nullptr) == 0;
#else
            return std::atexit([] { finish_at_exit(0); }) == 0;  // the status is not known
#endif
        }();
        (void)installed;
    }

#if RUNLOG_HAVE_SIGNAL_HANDLERS
    bool install_signal_handlers(std::chrono::milliseconds finish_timeout, std::string& error) {
        signal_channel& ch = signal_handling;
        const auto wait = std::min<long long>(finish_timeout.count() + 1000, INT_MAX);
        int current = ch.wait_ms.load();
        while (current < wait &&
               !ch.wait_ms.compare_exchange_weak(current, static_cast<int>(wait))) {
        }
        std::lock_guard<std::mutex> lock(mutex_);
        if (signals_installed_) return true;
        int request[2], reply[2];
        if (::pipe(request) != 0)
            return error = "pipe: " + std::string(std::strerror(errno)), false;
        if (::pipe(reply) != 0) {
            error = "pipe: " + std::string(std::strerror(errno));
            ::close(request[0]);
            ::close(request[1]);
            return false;
        }
        for (int fd : {request[0], request[1], reply[0], reply[1]})
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        for (int fd : {request[1], reply[0], reply[1]}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
        ch.request_read = request[0];
        ch.request_write = request[1];
        ch.reply_read = reply[0];
        ch.reply_write = reply[1];
        ch.owner = ::getpid();
        start_thread(&open_runs::watch).detach();
        struct sigaction action = {};
        action.sa_sigaction = &on_signal;
        action.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&action.sa_mask);
        for (int i = 0; i < 3; ++i) {
            // A signal the process ignores stays ignored: a job started with `cmd &` inherits
            // SIGINT as SIG_IGN, and a ^C meant for the shell must not mark its runs killed.
            struct sigaction disposition = {};
            ::sigaction(signal_channel::handled[i], nullptr, &disposition);
            if ((disposition.sa_flags & SA_SIGINFO) == 0 && disposition.sa_handler == SIG_IGN) {
                ch.previous[i] = disposition;
                continue;
            }
            ::sigaction(signal_channel::handled[i], &action, &ch.previous[i]);
        }
        signals_installed_ = true;
        return true;
    }

    /// The handler: async-signal-safe calls and lock-free atomics only.
    static void on_signal(int signal, siginfo_t* info, void* context) {
        const int saved_errno = errno;
        signal_channel& ch = signal_handling;
        if (::getpid() == ch.owner && !ch.busy.exchange(true)) {
            const auto ticket = static_cast<unsigned char>(ch.tickets.fetch_add(1) + 1);
            const unsigned char message[2] = {static_cast<unsigned char>(signal), ticket};
            if (::write(ch.request_write, message, 2) == 2) wait_for_reply(ch, ticket);
            ch.busy.store(false);
        }
        pass_on(ch, signal, info, context);
        errno = saved_errno;
    }

    static void wait_for_reply(signal_channel& ch, unsigned char ticket) {
        timespec start{}, now{};
        clock_gettime(CLOCK_MONOTONIC, &start);
        const long long limit = ch.wait_ms.load();
        for (long long waited = 0; waited < limit;) {
            pollfd p{ch.reply_read, POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(limit - waited));
            if (ready < 0 && errno != EINTR) return;
            unsigned char answer = 0;
            while (ready > 0 && ::read(ch.reply_read, &answer, 1) == 1)
                if (answer == ticket) return;  // older answers: a wait that had timed out
            clock_gettime(CLOCK_MONOTONIC, &now);
            waited = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
        }
    }

    static void pass_on(signal_channel& ch, int signal, siginfo_t* info, void* context) {
        const struct sigaction& previous = ch.previous[signal_channel::slot(signal)];
        if ((previous.sa_flags & SA_SIGINFO) != 0) {
            if (previous.sa_sigaction != nullptr) previous.sa_sigaction(signal, info, context);
        } else if (previous.sa_handler == SIG_DFL) {
            // Pending until this handler returns, then the default action: the process ends by
            // this signal, as it would have without runlog.
            ::sigaction(signal, &previous, nullptr);
            ::raise(signal);
        } else if (previous.sa_handler != SIG_IGN) {
            previous.sa_handler(signal);
        }
    }

    /// The watcher thread: does what the handler may not.
    static void watch() {
        signal_channel& ch = signal_handling;
        for (;;) {
            unsigned char message[2];
            const ssize_t n = ::read(ch.request_read, message, 2);
            if (n != 2) {
                if (n < 0 && errno == EINTR) continue;
                return;
            }
            const int signal = message[0];
            const bool ending = ch.ends_process(signal);
            for (const auto& run : get().live()) {
                if (!run->handles_signals) continue;
                if (!ending) {
                    run->mark_signal(signal);
                    run->flush(run->finish_timeout);
                } else if (run->close(128 + signal, signal, run->finish_timeout) ==
                           close_result::already_closed) {
                    run->wait_until_finished(run->finish_timeout);  // finish() under way
                }
            }
            (void)!::write(ch.reply_write, &message[1], 1);
        }
    }
#else
    bool install_signal_handlers(std::chrono::milliseconds, std::string& error) {
        error = "signal handling needs POSIX signals";
        return false;
    }
#endif

    std::mutex mutex_;
    std::vector<std::weak_ptr<run_state>> runs_;
    bool signals_installed_ = false;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
