// SPDX-License-Identifier: MIT
#pragma once
// Counters a run keeps: what was written and every way data was dropped. Nothing is dropped
// without a counter here; finish() prints the totals.

#include <cstdint>

namespace runlog {
inline namespace v0 {

struct run_stats {
    std::uint64_t log_calls = 0;             // log() calls that reached the writer
    std::uint64_t rows_committed = 0;        // rows written to history
    std::uint64_t dropped_queue_full = 0;    // log() calls dropped: queue full (drop_newest, or
                                             // block policy past settings::block_timeout)
    std::uint64_t dropped_media = 0;         // log() calls with media dropped: the media budget
                                             // (settings::media_queue_bytes) stayed spent
    std::uint64_t dropped_samples = 0;       // system samples dropped: the queue was full (the
                                             // sampler never waits)
    std::uint64_t dropped_step = 0;          // log() calls dropped: step lower than the current one
    std::uint64_t dropped_fields = 0;        // fields dropped: reserved ('_') or invalid keys
    std::uint64_t dropped_after_finish = 0;  // calls made after finish() began
    std::uint64_t waited_queue_full = 0;     // calls that found the queue full and waited for
                                             // room (block policy; then queued or dropped)
    std::uint64_t write_errors = 0;          // sink failures (each reported, the others go on)
    std::uint64_t dropped_unwritable = 0;    // rows a sink left out: its file failed to write
                                             // and 64 MiB already waited (one per sink and row)
    std::uint64_t artifacts_logged = 0;      // artifact versions stored by log_artifact
    std::uint64_t artifacts_failed = 0;      // log_artifact calls that stored nothing (reported)
    std::uint64_t errors_reported = 0;       // reports delivered to the error handler ...
    std::uint64_t errors_suppressed = 0;     // ... and those its rate limit held back instead
                                             // (a problem is reported errors_reported +
                                             // errors_suppressed times in all)

    /// Log calls that did not make it into history whole.
    std::uint64_t dropped() const noexcept {
        return dropped_queue_full + dropped_media + dropped_step + dropped_after_finish;
    }
};

}  // namespace v0
}  // namespace runlog
