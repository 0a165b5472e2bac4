// SPDX-License-Identifier: MIT
#pragma once
// Keeps everything a run produced in memory: for tests, and for applications that want to show
// their own metrics. Safe to read from any thread while the run is live.

#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sink.hpp"

namespace runlog {
inline namespace v0 {

class memory_sink final : public base_sink<std::mutex> {
  public:
    /// Copies, taken under the sink's lock.
    std::vector<value> rows() const { return copy(rows_); }
    /// The row open at the last flush point (null once a row committed since).
    value open_row() const { return copy(open_row_); }
    value config() const { return copy(config_); }
    value summary() const { return copy(summary_); }
    std::vector<metric_definition> metrics() const { return copy(metrics_); }
    std::optional<run_info> info() const { return copy(info_); }
    std::optional<int> exit_code() const { return copy(exit_code_); }
    /// finish_info::status at finish ("finished", "failed", "preempted", "killed"); empty before.
    std::string status() const { return copy(status_); }
    /// Signals marked while the run was live (settings::handle_signals): "SIGUSR1", ...
    std::vector<std::string> signals() const { return copy(signals_); }
    int flushes() const { return copy(flushes_); }
    /// Media files received: path relative to the run directory, and the bytes.
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> media() const {
        return copy(media_);
    }
    /// System samples received (their values).
    std::vector<value> system() const { return copy(system_); }
    /// Console chunks received: stream (1 stdout, 2 stderr) and text.
    std::vector<std::pair<int, std::string>> console() const { return copy(console_); }
    /// Artifact versions logged or used: {"used", "name", "version", "aliases", "dir"}.
    std::vector<value> artifacts() const { return copy(artifacts_); }

  protected:
    io_result start_(const run_info& info) override {
        info_ = info;
        config_ = info.config;
        return {};
    }
    io_result event_(const sink_event& e) override {
        switch (e.type) {
            case sink_event_type::config:
                config_ = *e.config;
                break;
            case sink_event_type::metric:
                metrics_.push_back(*e.metric);
                break;
            case sink_event_type::row:
                rows_.push_back(e.row->data);
                open_row_ = value();
                break;
            case sink_event_type::summary:
                summary_ = *e.summary;
                break;
            case sink_event_type::media:
                media_.emplace_back(e.media->path, *e.media->bytes);
                break;
            case sink_event_type::system:
                system_.push_back(e.system->values);
                break;
            case sink_event_type::console:
                console_.emplace_back(e.console->stream, e.console->text);
                break;
            case sink_event_type::artifact: {
                value entry = {{"used", e.artifact->used}};
                entry.update(e.artifact->brief());
                entry["dir"] = e.artifact->dir.string();
                artifacts_.push_back(std::move(entry));
                break;
            }
            case sink_event_type::signal:
                signals_.push_back(e.signal->name);
                break;
            case sink_event_type::open_row:
                open_row_ = e.row->data;
                break;
            case sink_event_type::rewind: {
                const std::int64_t last = *e.rewind_step;
                rows_.erase(std::remove_if(rows_.begin(), rows_.end(),
                                           [last](const value& row) {
                                               const value* step = row.find("_step");
                                               return step && step->as_int() > last;
                                           }),
                            rows_.end());
                break;
            }
        }
        return {};
    }
    io_result flush_() override {
        ++flushes_;
        return {};
    }
    io_result finish_(const finish_info& info) override {
        summary_ = info.summary;
        exit_code_ = info.exit_code;
        status_ = info.status;
        return {};
    }

  private:
    template <class T>
    T copy(const T& member) const {
        std::lock_guard<std::mutex> lock(mutex_);
        return member;
    }

    std::optional<run_info> info_;
    value config_;
    value summary_;
    std::vector<value> rows_;
    value open_row_;
    std::vector<value> system_;
    std::vector<std::pair<int, std::string>> console_;
    std::vector<value> artifacts_;
    std::vector<metric_definition> metrics_;
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> media_;
    std::optional<int> exit_code_;
    std::string status_;
    std::vector<std::string> signals_;
    int flushes_ = 0;
};

}  // namespace v0
}  // namespace runlog
