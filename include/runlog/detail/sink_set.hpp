// SPDX-License-Identifier: MIT
#pragma once
// The dispatcher's sinks: every event goes to each of them in order; a sink that fails or throws
// is counted and reported, and the others go on. A failing streak is reported once (and again
// for a new kind of failure within it, such as rows being left out); only a successful flush,
// where a sink writes its files, ends it — rows that go into a buffer say nothing about the
// disk, and a full disk must not be reported again at every flush.

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../sinks/sink.hpp"
#include "counters.hpp"
#include "error_reporter.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

class sink_set {
  public:
    sink_set(std::vector<std::shared_ptr<sink>> sinks, error_reporter& reporter, counters& counts)
        : sinks_(std::move(sinks)), streaks_(sinks_.size()), reporter_(reporter), counts_(counts) {}

    void send(const sink_event& e) {
        for (std::size_t i = 0; i < sinks_.size(); ++i)
            check(i, guarded([&] { return sinks_[i]->event(e); }));
    }

    /// `e` to every sink, each failure reported whatever streak the sink is in (a rewind: what
    /// that sink keeps now differs from the native run).
    void send_reporting_each(const sink_event& e) {
        for (std::size_t i = 0; i < sinks_.size(); ++i) {
            const io_result r = guarded([&] { return sinks_[i]->event(e); });
            if (r.ok()) continue;
            counters::bump(counts_.write_errors);
            reporter_.report(r.code, "sink " + std::to_string(i) + ": " + r.message);
        }
    }

    void flush() {
        for (std::size_t i = 0; i < sinks_.size(); ++i)
            check(i, guarded([&] { return sinks_[i]->flush(); }), true);
    }

    void finish(const finish_info& info) {
        for (std::size_t i = 0; i < sinks_.size(); ++i)
            check(i, guarded([&] { return sinks_[i]->finish(info); }));
    }

  private:
    template <class F>
    static io_result guarded(F&& f) {
#if !RUNLOG_NO_EXCEPTIONS
        try {
            return f();
        } catch (const std::exception& ex) {
            return io_result::failure(errc::sink_write_failed,
                                      std::string("sink threw: ") + ex.what());
        } catch (...) {
            return io_result::failure(errc::sink_write_failed, "sink threw an unknown exception");
        }
#else
        return f();
#endif
    }

    void check(std::size_t sink_index, const io_result& r, bool wrote_files = false) {
        std::vector<errc>& streak = streaks_[sink_index];  // the codes it reported
        if (r.ok()) {
            if (wrote_files) streak.clear();
            return;
        }
        counters::bump(r.code == errc::sink_backlog_full ? counts_.dropped_unwritable
                                                         : counts_.write_errors);
        if (std::find(streak.begin(), streak.end(), r.code) != streak.end()) return;
        streak.push_back(r.code);
        reporter_.report(r.code, "sink " + std::to_string(sink_index) + ": " + r.message);
    }

    std::vector<std::shared_ptr<sink>> sinks_;
    std::vector<std::vector<errc>> streaks_;  // per sink: what its failing streak reported
    error_reporter& reporter_;
    counters& counts_;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
