// SPDX-License-Identifier: MIT
#pragma once
// A live run: the caller side (run_core.hpp) plus the writer thread that drains the queue into the
// dispatcher, the system sampler and console capture.
//
// The writer polls, backing off from 100 us to 20 ms when idle. flush() and finish() wait on a
// condition variable with a deadline and always return. A writer stuck in a sink past finish()'s
// deadline is detached and abandoned: it owns a reference to this state, so nothing it touches is
// freed under it. close() is the one way a run ends: run::finish(), its destructor, exit() and a
// fatal signal (open_runs.hpp) all come through it, and only the first one acts.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../artifacts.hpp"
#include "../settings.hpp"
#include "console_capture.hpp"
#include "dispatcher.hpp"
#include "json_reader.hpp"
#include "nvml.hpp"
#include "os.hpp"
#include "proc_stats.hpp"
#include "run_core.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

enum class wait_result { done, timed_out, finished };
enum class close_result { disabled, already_closed, done, timed_out };

/// A summary value for one line of the end-of-run report: media as <type>, long text cut.
inline std::string short_text(const value& v) {
    if (const value* type = v.find("_type"); type && type->is_string())
        return "<" + type->as_string() + ">";
    std::string text = v.dump();
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    return text;
}

struct run_state : run_core {
    run_state(const settings& s, run_info run, std::vector<std::shared_ptr<sink>> all_sinks)
        : run_core(s, std::move(run)),
          dispatch(std::move(all_sinks), reporter, counts, info.start_time),
          handles_signals(s.handle_signals),
          native_history(s.native_files),
          wandb_offline(s.wandb_offline),
          artifacts(s.artifact_dir) {}  // start_run() fills in the default

    /// Ends the run once, whoever asks first (run::finish, the destructor, exit(), a fatal
    /// signal): drains the queue, tells the sinks how the run ended (a `signal` other than 0: it
    /// ended on that signal, see signal_status), prints the end-of-run report.
    close_result close(int code, int signal, std::chrono::milliseconds timeout) noexcept {
        if (!in_owner_process()) return close_result::disabled;
        if (closed.exchange(true)) return close_result::already_closed;
        // exit() called from inside a sink: the writer cannot wait for itself.
        if (std::this_thread::get_id() == writer.get_id()) return close_result::timed_out;
        const bool done = finish(code, signal, timeout);
        if (!done) {
            reporter.report(errc::finish_timed_out,
                            "finish did not complete within " + std::to_string(timeout.count()) +
                                " ms: a sink is blocked; " + std::to_string(queue.size_approx()) +
                                " queued events and the final summary may be unwritten");
        }
        if (!quiet) print_report(code, signal, done);
        return done ? close_result::done : close_result::timed_out;
    }

    /// Waits for a finish under way on another thread (not for an abandoned writer).
    void wait_until_finished(std::chrono::milliseconds timeout) noexcept {
        if (abandoned.load(std::memory_order_relaxed)) return;
        std::unique_lock<std::mutex> lock(done_mutex);
        done_cv.wait_for(lock, timeout, [&] { return writer_done; });
    }

    /// A signal arrived and the program handles it (it may go on): the sinks mark the run
    /// (run.json's status, W&B's preempting record) until it finishes.
    void mark_signal(int signal) noexcept {
        event e;
        e.kind = event_kind::signal;
        e.time = now();
        e.ensure_payload().stream = signal;
        enqueue_control(e, block_timeout);
    }

    wait_result flush(std::chrono::milliseconds timeout) noexcept {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        event e;
        e.kind = event_kind::flush;
        e.ticket = next_ticket.fetch_add(1, std::memory_order_relaxed) + 1;
        const std::uint64_t ticket = e.ticket;
        if (!enqueue_control(e, timeout)) return wait_result::timed_out;
        wake();
        std::unique_lock<std::mutex> lock(done_mutex);
        const bool done = done_cv.wait_until(
            lock, deadline, [&] { return flushed_ticket >= ticket || writer_done; });
        if (!done) return wait_result::timed_out;
        return flushed_ticket >= ticket ? wait_result::done : wait_result::finished;
    }

    /// Starts the system sampler: its own low-priority thread, samples into the same queue.
    static void start_sampler(const std::shared_ptr<run_state>& self,
                              std::chrono::milliseconds interval) {
        self->sampler = start_thread(&run_state::sampler_main, self, interval);
    }

    /// Stops the sampler (after a last sample, unless one was taken within the last second).
    /// It never waits on the queue, so this returns promptly.
    void stop_sampler() noexcept {
        if (!sampler.joinable()) return;
        {
            std::lock_guard<std::mutex> lock(sampler_mutex);
            sampler_stop = true;
        }
        sampler_cv.notify_one();
        sampler.join();
    }

    /// Starts console capture; reports (and goes on without it) when it cannot.
    void start_console() {
        console = std::make_unique<console_capture>();
        std::string error;
        const bool started = console->start(
            [this](int stream, std::string chunk) {
                event e;
                e.kind = event_kind::console;
                e.time = now();
                auto& p = e.ensure_payload();
                p.stream = stream;
                p.key = std::move(chunk);
                enqueue_control(e, block_timeout);
            },
            error);
        if (!started) {
            console.reset();
            reporter.report(errc::sink_start_failed, error);
        }
    }

    /// Starts the writer thread.
    static void start_writer(const std::shared_ptr<run_state>& self) {
        self->writer = start_thread(&run_state::writer_main, self);
    }

    /// Stops the writer after it has drained the queue; true if it finished within `timeout`.
    bool finish(int code, int signal, std::chrono::milliseconds timeout) noexcept {
        stop_sampler();
        if (console) console->stop(std::chrono::milliseconds(500));  // its chunks queue first
        {
            std::lock_guard<std::mutex> lock(wake_mutex);
            exit_code = code;
            end_signal = signal;
            stop_requested = true;
            wake_requested = true;
        }
        wake_cv.notify_one();
        bool done;
        {
            std::unique_lock<std::mutex> lock(done_mutex);
            done = done_cv.wait_for(lock, timeout, [&] { return writer_done; });
        }
        if (done) {
            writer.join();
        } else {
            abandon_line();
            writer.detach();
        }
        return done;
    }

    static void writer_main(std::shared_ptr<run_state> self) { self->run_writer(); }
    static void sampler_main(std::shared_ptr<run_state> self, std::chrono::milliseconds interval) {
        self->run_sampler(interval);
    }

    dispatcher dispatch;  // writer thread only
    std::thread writer;

    std::atomic<std::uint64_t> next_ticket{0};
    bool stop_requested = false;
    int exit_code = 0;
    int end_signal = 0;
    const bool handles_signals;  // settings::handle_signals
    const bool native_history;   // settings::native_files: rewind_to_step reads it back
    const bool wandb_offline;    // settings::wandb_offline: the report says how to sync

    std::mutex done_mutex;
    std::condition_variable done_cv;
    std::uint64_t flushed_ticket = 0;
    bool writer_done = false;
    value final_summary;
    double end_time = 0.0;

    const artifact_store artifacts;

    std::thread sampler;
    std::mutex sampler_mutex;
    std::condition_variable sampler_cv;
    bool sampler_stop = false;

    // Last member: destroyed (its reader joined) before the queue its reader feeds.
    std::unique_ptr<console_capture> console;

  private:
    void apply(const event& e) {
        if (e.kind == event_kind::rewind) {
            dispatch.rewind(e.step, [this] { return read_native_history(); });
            return;
        }
        dispatch.apply(e);
        if (e.payload && e.payload->media_bytes > 0) release_media(e.payload->media_bytes);
        if (e.kind == event_kind::flush) {
            {
                std::lock_guard<std::mutex> lock(done_mutex);
                flushed_ticket = std::max(flushed_ticket, e.ticket);
            }
            done_cv.notify_all();
        }
    }

    /// Reports queue-full drops from the writer, so log() itself never formats or prints.
    void report_new_drops() {
        struct kind {
            const std::atomic<std::uint64_t>& count;
            std::uint64_t& reported;
            const char* what;
        };
        const kind kinds[] = {
            {counts.dropped_queue_full, reported_drops_[0],
             " log calls dropped: the queue was full (raise settings.queue_capacity, log less "
             "often, or use overflow_policy::block)"},
            {counts.dropped_media, reported_drops_[1],
             " log calls with media dropped: settings.media_queue_bytes of media waited for the "
             "writer (raise it, or log media less often)"},
            {counts.dropped_samples, reported_drops_[2],
             " system samples dropped: the queue was full"}};
        for (const kind& k : kinds) {
            const std::uint64_t drops = k.count.load(std::memory_order_relaxed);
            if (drops == k.reported) continue;
            reporter.report(errc::queue_full, std::to_string(drops - k.reported) + k.what);
            k.reported = drops;
        }
    }

    void run_sampler(std::chrono::milliseconds interval) {
        lower_this_thread_priority();
        std::error_code ec;
        system_probe probe(std::filesystem::absolute(info.root_dir, ec).lexically_normal());
        double last = now();
        bool sampled = false;
        probe.start(last);
        const nvml_gpus gpus;  // loaded here, not on the caller's thread
        std::unique_lock<std::mutex> lock(sampler_mutex);
        for (;;) {
            const bool stopping = sampler_cv.wait_for(lock, interval, [&] { return sampler_stop; });
            lock.unlock();
            const double t = now();
            // At finish: a last sample, unless one was taken within the last second (a run
            // shorter than the interval still gets one).
            if (!stopping || !sampled || t - last >= 1.0) {
                event e;
                e.kind = event_kind::system;
                e.time = t;
                value sample = probe.sample(t);
                gpus.sample(sample);
                e.ensure_payload().data = std::move(sample);
                // Never waits: a sample that finds the queue full is dropped and counted.
                if (!queue.try_push(e)) counters::bump(counts.dropped_samples);
                last = t;
                sampled = true;
            }
            if (stopping) return;
            lock.lock();
        }
    }

    void run_writer() {
        using clock_type = std::chrono::steady_clock;
        auto next_flush = clock_type::now() + flush_interval;
        auto idle = std::chrono::microseconds(100);
        event e;
        for (;;) {
            std::size_t applied = 0;
            while (applied < 4096 && queue.try_pop(e)) {
                if (abandoned.load(std::memory_order_relaxed)) return;
                apply(e);
                ++applied;
            }
            if (abandoned.load(std::memory_order_relaxed)) return;
            if (congested.load(std::memory_order_relaxed)) admit_waiters();
            report_new_drops();
            if (clock_type::now() >= next_flush) {
                dispatch.flush();
                next_flush = clock_type::now() + flush_interval;
            }
            if (applied > 0) {
                idle = std::chrono::microseconds(100);
                continue;
            }
            std::unique_lock<std::mutex> lock(wake_mutex);
            if (stop_requested && queue.size_approx() == 0 &&
                !congested.load(std::memory_order_relaxed))
                break;
            writer_sleeping.store(true, std::memory_order_relaxed);
            wake_cv.wait_for(lock, idle, [&] { return wake_requested; });
            writer_sleeping.store(false, std::memory_order_relaxed);
            wake_requested = false;
            idle = std::min(idle * 2, std::chrono::microseconds(20000));
        }
        do {
            while (queue.try_pop(e)) {
                if (abandoned.load(std::memory_order_relaxed)) return;
                apply(e);
            }
            admit_waiters();
        } while (queue.size_approx() > 0);
        close_line();
        report_new_drops();
        int code, signal;
        {
            std::lock_guard<std::mutex> lock(wake_mutex);
            code = exit_code;
            signal = end_signal;
        }
        const double end = now();
        value summary = dispatch.finish(code, end, signal);
        {
            std::lock_guard<std::mutex> lock(done_mutex);
            final_summary = std::move(summary);
            end_time = end;
            writer_done = true;
        }
        done_cv.notify_all();
    }

    void print_report(int code, int signal, bool done) {
        const run_stats st = counts.snapshot();
        std::string how = done ? "finished" : "abandoned (finish timed out)";
        if (signal != 0) how += std::string(" on ") + signal_name(signal);
        std::fprintf(stderr, "runlog: run '%s' (%s) %s, exit code %d\n", info.name.c_str(),
                     info.id.c_str(), how.c_str(), code);
        std::fprintf(stderr, "runlog:   dir      %s\n", info.run_dir.string().c_str());
        std::fprintf(stderr,
                     "runlog:   rows     %llu committed, %llu log calls dropped, %llu fields "
                     "dropped, %llu write errors\n",
                     static_cast<unsigned long long>(st.rows_committed),
                     static_cast<unsigned long long>(st.dropped()),
                     static_cast<unsigned long long>(st.dropped_fields),
                     static_cast<unsigned long long>(st.write_errors));
        if (st.dropped_unwritable > 0) {
            std::fprintf(stderr,
                         "runlog:   disk     %llu rows left out by sinks whose files could not "
                         "be written (disk full or failing; see the errors above)\n",
                         static_cast<unsigned long long>(st.dropped_unwritable));
        }
        if (st.dropped_media + st.dropped_samples > 0) {
            std::fprintf(stderr,
                         "runlog:   dropped  %llu log calls with media (media budget), %llu "
                         "system samples (queue full)\n",
                         static_cast<unsigned long long>(st.dropped_media),
                         static_cast<unsigned long long>(st.dropped_samples));
        }
        if (st.waited_queue_full > 0) {
            std::fprintf(stderr,
                         "runlog:   queue    full %llu times: those log calls waited for the "
                         "writer (raise settings.queue_capacity or log less often)\n",
                         static_cast<unsigned long long>(st.waited_queue_full));
        }
        if (st.artifacts_logged + st.artifacts_failed > 0) {
            std::fprintf(stderr, "runlog:   artifacts %llu versions stored, %llu failed, in %s\n",
                         static_cast<unsigned long long>(st.artifacts_logged),
                         static_cast<unsigned long long>(st.artifacts_failed),
                         artifacts.dir().string().c_str());
        }
        if (wandb_offline) {
            // A run killed before finish has no report: this says, once, what to do then.
            std::fprintf(stderr,
                         "runlog:   W&B      wandb sync %s (after a session killed before "
                         "finish: runlog finalize %s first)\n",
                         (info.root_dir / "wandb" / "latest-run").string().c_str(),
                         info.run_dir.string().c_str());
        }
        if (!done) return;
        std::string line;
        int shown = 0;
        for (const auto& [key, v] : final_summary.as_object()) {
            if (key.empty() || key.front() == '_') continue;
            if (shown++ == 8) {
                line += "  ...";
                break;
            }
            line += "  " + key + "=" + short_text(v);
        }
        if (!line.empty()) std::fprintf(stderr, "runlog:   summary%s\n", line.c_str());
    }

    /// The rows of history.jsonl (after a rewind cut it), or nullopt without native files.
    std::optional<std::vector<value>> read_native_history() const {
        if (!native_history) return std::nullopt;
        std::vector<value> rows;
        std::ifstream in(info.run_dir / "history.jsonl", std::ios::binary);
        std::string line, error;
        while (std::getline(in, line)) {
            value row;
            if (parse_json(line, row, error) && row.is_object()) rows.push_back(std::move(row));
        }
        return rows;
    }

    std::uint64_t reported_drops_[3] = {};  // log calls, media, samples (report_new_drops)
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
