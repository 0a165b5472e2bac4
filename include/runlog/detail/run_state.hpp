// SPDX-License-Identifier: MIT
#pragma once
// Everything a live run shares between the caller threads and its writer thread.
//
// Callers push events into a lock-free bounded queue and never wait for the writer, except under
// overflow_policy::block when the queue is full (bounded by settings::block_timeout): they then
// wait in line, first come first served, and the writer moves the whole line into the queue after
// each chunk it drains (see wait_in_line). They do not
// notify the writer either (a notify is a system call when the writer sleeps); the writer polls,
// backing off from 100 us to 20 ms when idle, and is woken only when the queue passes half full
// or by flush()/finish(). flush() and finish() wait on a condition variable with a deadline and
// always return. A writer stuck in a sink past finish()'s deadline is detached and abandoned: it
// owns a reference to this state, so nothing it touches is freed under it.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../artifacts.hpp"
#include "../settings.hpp"
#include "bounded_queue.hpp"
#include "console_capture.hpp"
#include "counters.hpp"
#include "dispatcher.hpp"
#include "error_reporter.hpp"
#include "event.hpp"
#include "key_table.hpp"
#include "nvml.hpp"
#include "os.hpp"
#include "proc_stats.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

enum class wait_result { done, timed_out, finished };

struct run_state {
    run_state(const settings& s, run_info run, std::vector<std::shared_ptr<sink>> all_sinks)
        : info(std::move(run)),
          overflow(s.overflow),
          block_timeout(s.block_timeout),
          flush_interval(s.flush_interval),
          finish_timeout(s.finish_timeout),
          media_budget(s.media_queue_bytes),
          quiet(s.quiet),
          clock(s.clock),
          reporter(s.on_error),
          queue(s.queue_capacity),
          dispatch(std::move(all_sinks), reporter, counts, info.start_time),
          config(info.config),
          artifacts(s.artifact_dir) {}  // start_run() fills in the default

    double now() const noexcept { return clock != nullptr ? clock() : unix_time_now(); }

    /// False once finish() has begun; the call asking is then counted as dropped.
    bool accepting() noexcept {
        if (!closed.load(std::memory_order_relaxed)) return true;
        counters::bump(counts.dropped_after_finish);
        return false;
    }

    /// The hot path: one CAS when there is room. Under `block`, a caller that finds others waiting
    /// goes behind them even if there is room, so that nobody waits for ever.
    bool enqueue(event& e) noexcept {
        const bool may_push =
            overflow == overflow_policy::drop_newest || !congested.load(std::memory_order_relaxed);
        if (may_push && queue.try_push(e)) {
            if (queue.size_approx() > queue.capacity() / 2) wake_if_sleeping();
            return true;
        }
        if (overflow == overflow_policy::drop_newest) {
            wake_if_sleeping();
            counters::bump(counts.dropped_queue_full);
            return false;
        }
        return wait_in_line(e, block_timeout);
    }

    /// Reserves `bytes` of queued media against settings::media_queue_bytes, applying the overflow
    /// policy when the budget is spent (a single item larger than the budget passes alone).
    bool reserve_media(std::size_t bytes) noexcept {
        const auto deadline = std::chrono::steady_clock::now() + block_timeout;
        for (;;) {
            std::size_t current = media_in_flight.load(std::memory_order_relaxed);
            while (current == 0 || current + bytes <= media_budget) {
                if (media_in_flight.compare_exchange_weak(current, current + bytes,
                                                          std::memory_order_relaxed))
                    return true;
            }
            wake();
            if (overflow == overflow_policy::drop_newest ||
                abandoned.load(std::memory_order_relaxed) ||
                std::chrono::steady_clock::now() >= deadline) {
                counters::bump(counts.dropped_queue_full);
                return false;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }

    void release_media(std::size_t bytes) noexcept {
        media_in_flight.fetch_sub(bytes, std::memory_order_relaxed);
    }

    /// Control events (config, define_metric, summary_set, flush) are rare and must not be lost
    /// to drop_newest: they wait for room whatever the policy, up to `timeout`.
    bool enqueue_control(event& e, std::chrono::milliseconds timeout) noexcept {
        if (!congested.load(std::memory_order_relaxed) && queue.try_push(e)) return true;
        return wait_in_line(e, timeout);
    }

    /// A wake is a lock and maybe a system call: a writer that is awake needs none (a wake missed
    /// while it falls asleep costs at most its idle timeout, 20 ms).
    void wake_if_sleeping() noexcept {
        if (writer_sleeping.load(std::memory_order_relaxed)) wake();
    }

    void wake() noexcept {
        {
            std::lock_guard<std::mutex> lock(wake_mutex);
            wake_requested = true;
        }
        wake_cv.notify_one();
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
        self->sampler = std::thread(&run_state::sampler_main, self, interval);
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

    /// Stops the writer after it has drained the queue; true if it finished within `timeout`.
    bool finish(int code, std::chrono::milliseconds timeout) noexcept {
        stop_sampler();
        if (console) console->stop(std::chrono::milliseconds(500));  // its chunks queue first
        {
            std::lock_guard<std::mutex> lock(wake_mutex);
            exit_code = code;
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
            {
                std::lock_guard<std::mutex> lock(line_mutex);  // no waiter misses the news
                abandoned.store(true, std::memory_order_relaxed);
            }
            line_cv.notify_all();
            writer.detach();
        }
        return done;
    }

    static void writer_main(std::shared_ptr<run_state> self) { self->run_writer(); }
    static void sampler_main(std::shared_ptr<run_state> self, std::chrono::milliseconds interval) {
        self->run_sampler(interval);
    }

    run_info info;
    const overflow_policy overflow;
    const std::chrono::milliseconds block_timeout;
    const std::chrono::milliseconds flush_interval;
    const std::chrono::milliseconds finish_timeout;
    const std::size_t media_budget;
    const bool quiet;
    double (*const clock)();

    error_reporter reporter;
    counters counts;
    key_table keys;
    bounded_queue<event> queue;
    dispatcher dispatch;  // writer thread only
    std::thread writer;

    std::atomic<bool> closed{false};  // finish() has begun: further calls are dropped
    std::atomic<bool> abandoned{false};
    std::atomic<std::uint64_t> next_ticket{0};
    std::atomic<std::size_t> media_in_flight{0};     // bytes of media queued, not yet encoded
    alignas(64) std::atomic<bool> congested{false};  // someone waits in line (see wait_in_line)
    std::atomic<bool> writer_sleeping{false};        // written by the writer only

    std::mutex wake_mutex;
    std::condition_variable wake_cv;
    bool wake_requested = false;
    bool stop_requested = false;
    int exit_code = 0;

    std::mutex done_mutex;
    std::condition_variable done_cv;
    std::uint64_t flushed_ticket = 0;
    bool writer_done = false;
    value final_summary;
    double end_time = 0.0;

    std::mutex config_mutex;  // callers' copy of the config, merged in call order
    value config;

    const artifact_store artifacts;

    std::thread sampler;
    std::mutex sampler_mutex;
    std::condition_variable sampler_cv;
    bool sampler_stop = false;

    // Last member: destroyed (its reader joined) before the queue its reader feeds.
    std::unique_ptr<console_capture> console;

  private:
    // The line of callers waiting for room (block policy, and control events under any policy).
    // Each waiter lives on its caller's stack; the writer moves the events of the whole line into
    // the queue after every chunk it drains, then wakes them all with one notify. While anyone is
    // in line, `congested` sends new callers to its back: with freed slots up for grabs instead,
    // threads that spun won against threads that slept, and one call waited over a second (8
    // threads on 2 cores, bench/caller_latency). A hand-off per slot was fair but cost a context
    // switch per call; by the batch, a wait lasts at most about one drained chunk.
    struct waiter {
        event* e;
        waiter* next = nullptr;
        bool done = false;
    };

    bool wait_in_line(event& e, std::chrono::milliseconds timeout) noexcept {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        waiter me{&e};
        {
            std::lock_guard<std::mutex> lock(line_mutex);
            if (line_closed) {
                counters::bump(counts.dropped_after_finish);
                return false;
            }
            (line_tail != nullptr ? line_tail->next : line_head) = &me;
            line_tail = &me;
            congested.store(true, std::memory_order_relaxed);
            counters::bump(counts.waited_queue_full);
        }
        wake();
        std::unique_lock<std::mutex> lock(line_mutex);
        line_cv.wait_until(lock, deadline, [&] {
            return me.done || line_closed || abandoned.load(std::memory_order_relaxed);
        });
        if (me.done) return true;
        waiter** link = &line_head;  // leave the line: timed out, abandoned or finished
        waiter* previous = nullptr;
        while (*link != &me) {
            previous = *link;
            link = &(*link)->next;
        }
        *link = me.next;
        if (line_tail == &me) line_tail = previous;
        if (line_head == nullptr) congested.store(false, std::memory_order_relaxed);
        counters::bump(line_closed ? counts.dropped_after_finish : counts.dropped_queue_full);
        return false;
    }

    /// Writer: moves waiting callers' events into the queue in arrival order while there is room;
    /// reopens the fast path once the line is empty.
    void admit_waiters() {
        bool moved = false;
        {
            std::lock_guard<std::mutex> lock(line_mutex);
            while (line_head != nullptr && queue.try_push(*line_head->e)) {
                waiter* w = line_head;
                line_head = w->next;
                if (line_head == nullptr) line_tail = nullptr;
                w->done = true;  // w may be gone once the lock is released
                moved = true;
            }
            if (line_head == nullptr) congested.store(false, std::memory_order_relaxed);
        }
        if (moved) line_cv.notify_all();
    }

    /// Writer, at the very end: callers still arriving are turned away (counted as dropped).
    void close_line() {
        {
            std::lock_guard<std::mutex> lock(line_mutex);
            line_closed = true;
        }
        line_cv.notify_all();
    }

    void apply(const event& e) {
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
        const std::uint64_t drops = counts.dropped_queue_full.load(std::memory_order_relaxed);
        if (drops == reported_drops_) return;
        reporter.report(
            errc::queue_full,
            std::to_string(drops - reported_drops_) +
                " log calls dropped: the queue was full (raise settings.queue_capacity, "
                "log less often, or use overflow_policy::block)");
        reported_drops_ = drops;
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
                if (!queue.try_push(e)) counters::bump(counts.dropped_queue_full);
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
        int code;
        {
            std::lock_guard<std::mutex> lock(wake_mutex);
            code = exit_code;
        }
        const double end = now();
        value summary = dispatch.finish(code, end);
        {
            std::lock_guard<std::mutex> lock(done_mutex);
            final_summary = std::move(summary);
            end_time = end;
            writer_done = true;
        }
        done_cv.notify_all();
    }

    std::mutex line_mutex;
    std::condition_variable line_cv;
    waiter* line_head = nullptr;
    waiter* line_tail = nullptr;
    bool line_closed = false;

    std::uint64_t reported_drops_ = 0;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
