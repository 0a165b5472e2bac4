// SPDX-License-Identifier: MIT
#pragma once
// The native sink: writes the run directory of format runlog/1 (docs/format.md).
//
//   run.json       identity, settings, host, rank, times, status, exit code, stats
//   config.json    the nested config, replaced atomically whenever it changes
//   metrics.json   define_metric definitions, replaced atomically when one is added or merged
//   history.jsonl  one JSON object per committed row, appended
//   summary.json   the summary, replaced atomically at flush points and at finish
//   media/         images and tables, one file each, written when logged
//
// Append-only history plus atomically replaced snapshots: a crash leaves at most a torn last line
// of history.jsonl; every snapshot is either the old or the new version. Rows are buffered and
// written at flush points (settings::flush_interval, flush(), finish) or when 64 KiB accumulate.
// When a write fails (disk full), the unwritten bytes stay buffered and are retried at the next
// flush; past 64 MiB they are dropped and the loss is reported.

#include <cstdio>
#include <string>
#include <vector>

#include "../detail/os.hpp"
#include "../version.hpp"
#include "sink.hpp"

namespace runlog {
inline namespace v0 {

class jsonl_sink final : public base_sink<null_mutex> {
  public:
    ~jsonl_sink() override {
        if (history_ != nullptr) std::fclose(history_);
    }

    /// run.json's content; `end` is null while the run is live.
    static value run_json(const run_info& info, const finish_info* end) {
        value tags = value::array();
        for (const auto& t : info.tags) tags.push_back(t);
        value v = {{"format", RUNLOG_FORMAT_VERSION},
                   {"runlog_version", RUNLOG_VERSION_STRING},
                   {"id", info.id},
                   {"project", info.project},
                   {"name", info.name},
                   {"group", info.group},
                   {"job_type", info.job_type},
                   {"tags", tags},
                   {"notes", info.notes},
                   {"host", info.host},
                   {"pid", info.pid},
                   {"rank", info.rank},
                   {"start_time", info.start_time},
                   {"start_time_utc", detail::iso8601_utc(info.start_time)}};
        v["settings"] = {{"queue_capacity", info.queue_capacity},
                         {"overflow", to_string(info.overflow)},
                         {"flush_interval", info.flush_interval}};
        if (end == nullptr) {
            v["status"] = "running";
            return v;
        }
        v["status"] = end->status;
        v["exit_code"] = end->exit_code;
        v["end_time"] = end->end_time;
        v["end_time_utc"] = detail::iso8601_utc(end->end_time);
        v["runtime"] = end->runtime;
        const run_stats& s = end->stats;
        v["stats"] = {{"log_calls", s.log_calls},
                      {"rows_committed", s.rows_committed},
                      {"dropped_queue_full", s.dropped_queue_full},
                      {"dropped_step", s.dropped_step},
                      {"dropped_fields", s.dropped_fields},
                      {"dropped_after_finish", s.dropped_after_finish},
                      {"write_errors", s.write_errors},
                      {"errors_reported", s.errors_reported},
                      {"errors_suppressed", s.errors_suppressed}};
        return v;
    }

  protected:
    io_result start_(const run_info& info) override {
        info_ = info;
        dir_ = info.run_dir;
        std::error_code ec;
        std::filesystem::create_directories(dir_ / "media", ec);
        if (ec) {
            return io_result::failure(
                errc::sink_start_failed,
                "cannot create '" + (dir_ / "media").string() + "': " + ec.message());
        }
        const auto history_path = dir_ / "history.jsonl";
        history_ = std::fopen(history_path.string().c_str(), "ab");
        if (history_ == nullptr) {
            return io_result::failure(
                errc::sink_start_failed,
                "cannot open '" + history_path.string() +
                    "': " + std::error_code(errno, std::generic_category()).message());
        }
        std::setvbuf(history_, nullptr, _IONBF, 0);  // our buffer is the only buffer
        io_result r = write_snapshot("run.json", run_json(info, nullptr));
        if (r.ok()) r = write_snapshot("config.json", info.config);
        if (r.ok()) r = write_snapshot("metrics.json", value::array());
        if (r.ok()) r = write_snapshot("summary.json", value::object());
        return r;
    }

    io_result event_(const sink_event& e) override {
        switch (e.type) {
            case sink_event_type::row:
                e.row->data.dump(pending_);
                pending_.push_back('\n');
                return pending_.size() >= flush_threshold ? write_history() : io_result{};
            case sink_event_type::config:
                return write_snapshot("config.json", *e.config);
            case sink_event_type::metric:
                return write_metric(*e.metric);
            case sink_event_type::summary:
                summary_ = *e.summary;
                summary_dirty_ = true;
                return {};
            case sink_event_type::media:
                return write_media(*e.media);
        }
        return {};
    }

    io_result flush_() override {
        io_result r = write_history();
        if (summary_dirty_) {
            io_result s = write_snapshot("summary.json", summary_);
            if (s.ok()) summary_dirty_ = false;
            if (r.ok()) r = s;
        }
        return r;
    }

    io_result finish_(const finish_info& end) override {
        summary_ = end.summary;
        summary_dirty_ = true;
        io_result r = flush_();
        if (history_ != nullptr) {
            std::fclose(history_);
            history_ = nullptr;
        }
        io_result s = write_snapshot("run.json", run_json(info_, &end));
        return r.ok() ? s : r;
    }

  private:
    static constexpr std::size_t flush_threshold = 64 * 1024;
    static constexpr std::size_t max_pending = 64 * 1024 * 1024;

    io_result write_snapshot(const char* name, const value& v) {
        std::string text = v.dump();
        text.push_back('\n');
        return detail::write_file_atomically(dir_ / name, text);
    }

    io_result write_media(const media_event& m) {
        const auto path = dir_ / m.path;
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec) {
            return io_result::failure(
                errc::sink_write_failed,
                "cannot create '" + path.parent_path().string() + "': " + ec.message());
        }
        return detail::write_file_atomically(
            path,
            std::string_view(reinterpret_cast<const char*>(m.bytes->data()), m.bytes->size()));
    }

    io_result write_metric(const metric_definition& def) {
        value entry = {{"name", def.name},
                       {"step_metric", def.step_metric},
                       {"step_sync", def.step_sync},
                       {"hidden", def.hidden},
                       {"summary", summary_to_string(def.summary)},
                       {"goal", to_string(def.goal)}};
        if (!def.from_glob.empty()) entry["glob"] = def.from_glob;
        bool replaced = false;
        for (auto& existing : metrics_.as_array()) {
            if (const value* name = existing.find("name"); name && name->as_string() == def.name) {
                existing = entry;
                replaced = true;
            }
        }
        if (!replaced) metrics_.push_back(std::move(entry));
        return write_snapshot("metrics.json", metrics_);
    }

    io_result write_history() {
        if (pending_.empty() || history_ == nullptr) return {};
        const std::size_t written = std::fwrite(pending_.data(), 1, pending_.size(), history_);
        const int error = errno;
        pending_.erase(0, written);
        if (pending_.empty()) return {};
        std::string message = "cannot append to '" + (dir_ / "history.jsonl").string() +
                              "': " + std::error_code(error, std::generic_category()).message();
        std::clearerr(history_);
        if (pending_.size() > max_pending) {
            message += "; " + std::to_string(pending_.size()) + " buffered bytes of rows dropped";
            pending_.clear();
        } else {
            message += "; rows kept in memory and retried at the next flush";
        }
        return io_result::failure(errc::sink_write_failed, message);
    }

    run_info info_;
    std::filesystem::path dir_;
    std::FILE* history_ = nullptr;
    std::string pending_;
    value metrics_ = value::array();
    value summary_ = value::object();
    bool summary_dirty_ = false;
};

}  // namespace v0
}  // namespace runlog
