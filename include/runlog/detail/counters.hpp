// SPDX-License-Identifier: MIT
#pragma once
// The atomic counters behind run_stats. Caller threads bump the queue and after-finish drops; the
// writer bumps the rest. Relaxed ordering: they are statistics, read as a snapshot.

#include <atomic>
#include <cstdint>

#include "../stats.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

struct counters {
    std::atomic<std::uint64_t> log_calls{0};
    std::atomic<std::uint64_t> rows_committed{0};
    std::atomic<std::uint64_t> dropped_queue_full{0};
    std::atomic<std::uint64_t> dropped_media{0};
    std::atomic<std::uint64_t> dropped_samples{0};
    std::atomic<std::uint64_t> dropped_step{0};
    std::atomic<std::uint64_t> dropped_fields{0};
    std::atomic<std::uint64_t> dropped_after_finish{0};
    std::atomic<std::uint64_t> waited_queue_full{0};
    std::atomic<std::uint64_t> write_errors{0};
    std::atomic<std::uint64_t> dropped_unwritable{0};
    std::atomic<std::uint64_t> artifacts_logged{0};
    std::atomic<std::uint64_t> artifacts_failed{0};

    static void bump(std::atomic<std::uint64_t>& c) noexcept {
        c.fetch_add(1, std::memory_order_relaxed);
    }

    /// For counters only the writer thread changes (log_calls, rows_committed): a plain load and
    /// store, no locked read-modify-write, on the per-row path. Readers still see whole values.
    static void bump_single_writer(std::atomic<std::uint64_t>& c) noexcept {
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }

    run_stats snapshot() const noexcept {
        auto get = [](const std::atomic<std::uint64_t>& c) {
            return c.load(std::memory_order_relaxed);
        };
        run_stats s;
        s.log_calls = get(log_calls);
        s.rows_committed = get(rows_committed);
        s.dropped_queue_full = get(dropped_queue_full);
        s.dropped_media = get(dropped_media);
        s.dropped_samples = get(dropped_samples);
        s.dropped_step = get(dropped_step);
        s.dropped_fields = get(dropped_fields);
        s.dropped_after_finish = get(dropped_after_finish);
        s.waited_queue_full = get(waited_queue_full);
        s.write_errors = get(write_errors);
        s.dropped_unwritable = get(dropped_unwritable);
        s.artifacts_logged = get(artifacts_logged);
        s.artifacts_failed = get(artifacts_failed);
        return s;
    }
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
