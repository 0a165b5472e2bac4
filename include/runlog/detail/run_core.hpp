// SPDX-License-Identifier: MIT
#pragma once
// The part of a live run that the calling threads touch: the queue, the key table, the counters,
// the error reporter, the line of callers waiting for room and the writer's wake-up. log() and
// the rest of the hot path need only this; the writer thread, the dispatcher and the sinks are
// in run_state.hpp (derived from this), so a translation unit that only logs does not compile
// them (see RUNLOG_COMPILED_LIB in config.hpp).
//
// Callers push events into a lock-free bounded queue and never wait for the writer, except under
// overflow_policy::block when the queue is full (bounded by settings::block_timeout): they then
// wait in line, first come first served, and the writer moves the whole line into the queue after
// each chunk it drains (see wait_in_line). They do not notify the writer either (a notify is a
// system call when the writer sleeps); the writer is woken only when the queue passes half full,
// when the writer sleeps and a caller must wait, or by flush()/finish().

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <utility>

#include "../settings.hpp"
#include "../sinks/sink.hpp"
#include "bounded_queue.hpp"
#include "clock.hpp"
#include "counters.hpp"
#include "error_reporter.hpp"
#include "event.hpp"
#include "key_table.hpp"

#if !defined(_WIN32)
#include <pthread.h>  // pthread_atfork
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

/// Bumped in every child process fork() makes. A run belongs to the process that started it: in
/// a child (which has a copy of the run but none of its threads) every call does nothing, and
/// finish() returns at once instead of waiting for a writer that does not exist there.
inline std::atomic<unsigned> fork_generation{0};

/// Installs the handler that bumps fork_generation (once per process); returns the generation.
inline unsigned watch_forks() noexcept {
#if !defined(_WIN32)
    static const bool registered = pthread_atfork(nullptr, nullptr, [] {
                                       fork_generation.fetch_add(1, std::memory_order_relaxed);
                                   }) == 0;
    (void)registered;
#endif
    return fork_generation.load(std::memory_order_relaxed);
}

struct run_core {
    run_core(const settings& s, run_info run)
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
          config(info.config),
          fork_generation_at_start(watch_forks()) {}

    double now() const noexcept { return clock != nullptr ? clock() : unix_time_now(); }

    /// False once finish() has begun; the call asking is then counted as dropped.
    bool accepting() noexcept {
        if (!closed.load(std::memory_order_relaxed) && in_owner_process()) return true;
        if (in_owner_process()) counters::bump(counts.dropped_after_finish);
        return false;
    }

    /// False in a child of fork(): the run is its parent's (see fork_generation).
    bool in_owner_process() const noexcept {
        return fork_generation.load(std::memory_order_relaxed) == fork_generation_at_start;
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
                counters::bump(counts.dropped_media);
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

    std::atomic<bool> closed{false};  // finish() has begun: further calls are dropped
    std::atomic<bool> abandoned{false};
    std::atomic<std::size_t> media_in_flight{0};     // bytes of media queued, not yet encoded
    alignas(64) std::atomic<bool> congested{false};  // someone waits in line (see wait_in_line)
    std::atomic<bool> writer_sleeping{false};        // written by the writer only

    std::mutex wake_mutex;
    std::condition_variable wake_cv;
    bool wake_requested = false;

    std::mutex config_mutex;  // callers' copy of the config, merged in call order
    value config;
    const unsigned fork_generation_at_start;

  protected:
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

    /// finish(), when it gives up on the writer: waiters leave the line now.
    void abandon_line() {
        {
            std::lock_guard<std::mutex> lock(line_mutex);  // no waiter misses the news
            abandoned.store(true, std::memory_order_relaxed);
        }
        line_cv.notify_all();
    }

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

    std::mutex line_mutex;
    std::condition_variable line_cv;
    waiter* line_head = nullptr;
    waiter* line_tail = nullptr;
    bool line_closed = false;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
