// SPDX-License-Identifier: MIT
#pragma once
// The native sink: writes the run directory of format runlog/1 (docs/format.md).
//
//   run.json       identity, settings, host, rank, times, status, exit code, stats
//   config.json    the nested config, replaced atomically at the flush point after it changes
//   metrics.json   define_metric definitions, likewise (a glob adds one per key it matches)
//   history.jsonl  one JSON object per committed row, appended
//   system.jsonl   one JSON object per system sample, appended (created with the first sample)
//   output.log     the captured console, byte for byte (settings::capture_console)
//   artifacts.jsonl  one JSON object per artifact version logged or used, appended and written
//                  at once (created with the first; the files live in the store, artifacts.hpp)
//   summary.json   the summary, replaced atomically at flush points and at finish
//   open-row.json  the row still open at the last flush point, until it is committed
//   media/         images and tables, one file each, written when logged
//
// Append-only history plus atomically replaced snapshots: a crash leaves at most a torn last line
// of history.jsonl; every snapshot is either the old or the new version. Rows are buffered and
// written at flush points (settings::flush_interval, flush(), finish) or when 64 KiB accumulate;
// failed writes are retried as detail/append_file.hpp describes.

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <unordered_map>
#include <vector>

#include "../detail/append_file.hpp"
#include "../detail/json_reader.hpp"
#include "../detail/os.hpp"
#include "../version.hpp"
#include "sink.hpp"

namespace runlog {
inline namespace v0 {

class jsonl_sink final : public base_sink<null_mutex> {
  public:
    /// run.json's content; `end` is null while the run is live. `signal` is null, or the last
    /// signal marked (settings::handle_signals): {"status", "signal", "signal_time"}.
    static value run_json(const run_info& info, const finish_info* end, const value& signal) {
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
        if (!info.environment.is_null()) v["environment"] = info.environment;
        if (!info.git.is_null()) v["git"] = info.git;
        v["settings"] = {{"queue_capacity", info.queue_capacity},
                         {"overflow", to_string(info.overflow)},
                         {"flush_interval", info.flush_interval}};
        if (info.resumed > 0) v["resumed"] = info.resumed;
        if (end == nullptr) {
            v["status"] = signal.is_null() ? value("running") : *signal.find("status");
        } else {
            v["status"] = end->status;
        }
        if (!signal.is_null()) {  // kept at finish: the run was told to stop, whatever came next
            v["signal"] = *signal.find("signal");
            v["signal_time"] = *signal.find("signal_time");
        }
        if (end == nullptr) return v;
        v["exit_code"] = end->exit_code;
        v["end_time"] = end->end_time;
        v["end_time_utc"] = detail::iso8601_utc(end->end_time);
        v["runtime"] = end->runtime;
        const run_stats& s = end->stats;
        v["stats"] = {{"log_calls", s.log_calls},
                      {"rows_committed", s.rows_committed},
                      {"dropped_queue_full", s.dropped_queue_full},
                      {"dropped_media", s.dropped_media},
                      {"dropped_samples", s.dropped_samples},
                      {"dropped_step", s.dropped_step},
                      {"dropped_fields", s.dropped_fields},
                      {"dropped_after_finish", s.dropped_after_finish},
                      {"waited_queue_full", s.waited_queue_full},
                      {"write_errors", s.write_errors},
                      {"dropped_unwritable", s.dropped_unwritable},
                      {"artifacts_logged", s.artifacts_logged},
                      {"artifacts_failed", s.artifacts_failed},
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
        if (io_result opened = history_.open(dir_ / "history.jsonl", false); !opened.ok())
            return opened;
        // A resumed run keeps its metrics.json and summary.json: the dispatcher announces the
        // definitions again and the summary is rewritten at the next flush.
        io_result r = write_snapshot("config.json", info.config);
        if (r.ok() && info.resumed == 0) r = write_snapshot("metrics.json", value::array());
        if (r.ok() && info.resumed == 0) r = write_snapshot("summary.json", value::object());
        if (r.ok() && !info.git_diff.empty())
            r = detail::write_file_atomically(dir_ / "diff.patch", info.git_diff);
        // Last: a run.json means the rest is there (a process killed in init() leaves none).
        if (r.ok()) r = write_snapshot("run.json", run_json(info, nullptr, signal_));
        return r;
    }

    io_result event_(const sink_event& e) override {
        switch (e.type) {
            case sink_event_type::row:
                if (!history_.has_room()) return history_.row_left_out();
                write_row(e.row->data);
                open_row_committed_ = open_row_on_disk_;
                return history_.buffer().size() >= flush_threshold ? history_.write() : io_result{};
            case sink_event_type::open_row:  // written by flush_(), which comes next
                open_row_.clear();
                for (const auto& [key, v] : e.row->data.as_object()) {
                    open_row_.push_back(open_row_.empty() ? '{' : ',');
                    detail::write_json_string(open_row_, key);
                    open_row_.push_back(':');
                    detail::dump_row_member(key, v, open_row_);  // as history.jsonl has it
                }
                open_row_ += open_row_.empty() ? "{}\n" : "}\n";
                return {};
            case sink_event_type::config:  // written at the next flush point, as metrics
                config_ = *e.config;
                config_dirty_ = true;
                return {};
            case sink_event_type::metric:
                return write_metric(*e.metric);
            case sink_event_type::summary:
                summary_ = *e.summary;
                summary_dirty_ = true;
                return {};
            case sink_event_type::media:
                return detail::write_file_creating_directories(dir_ / e.media->path,
                                                               *e.media->bytes);
            case sink_event_type::system:
                return write_system(*e.system);
            case sink_event_type::console:
                if (output_.path().empty()) {
                    if (io_result opened = output_.open(dir_ / "output.log", false); !opened.ok())
                        return opened;
                }
                if (!output_.has_room()) return output_.row_left_out();
                output_.buffer() += e.console->text;
                return {};
            case sink_event_type::artifact:
                return write_artifact(*e.artifact);
            case sink_event_type::rewind:  // the open row was committed or dropped before
                open_row_committed_ = open_row_on_disk_;
                return rewind_history(*e.rewind_step);
            case sink_event_type::signal:
                signal_ = {{"status", e.signal->status},
                           {"signal", e.signal->name},
                           {"signal_time", e.signal->timestamp}};
                return write_snapshot("run.json", run_json(info_, nullptr, signal_));
        }
        return {};
    }

    io_result flush_() override {
        io_result r = history_.write();
        if (r.ok()) r = write_open_row();
        if (io_result s = system_.write(); r.ok()) r = s;
        if (io_result o = output_.write(); r.ok()) r = o;
        // Snapshots that failed to write (disk full) are retried here until they succeed.
        for (io_result s : {write_if_dirty(config_dirty_, "config.json", config_),
                            write_if_dirty(metrics_dirty_, "metrics.json", metrics_),
                            write_if_dirty(summary_dirty_, "summary.json", summary_)})
            if (r.ok()) r = s;
        return r;
    }

    io_result finish_(const finish_info& end) override {
        summary_ = end.summary;
        summary_dirty_ = true;
        io_result r = flush_();
        history_.close();
        system_.close();
        output_.close();
        artifacts_.close();
        if (end.signal != 0)
            signal_ = {
                {"status", end.status}, {"signal", end.signal_name}, {"signal_time", end.end_time}};
        io_result s = write_snapshot("run.json", run_json(info_, &end, signal_));
        return r.ok() ? s : r;
    }

  private:
    /// One history line. Rows repeat their keys, so each position keeps its key's JSON with the
    /// separator before it ({"train/loss": or ,"lr":) and reuses it while the key is the same:
    /// escaping keys and appending single characters were a quarter of the writer's time.
    void write_row(const value& row) {
        std::string& out = history_.buffer();
        const auto& members = row.as_object();
        if (key_json_.size() < members.size()) key_json_.resize(members.size());
        for (std::size_t i = 0; i < members.size(); ++i) {
            const auto& [key, v] = members[i];
            auto& [cached_key, json] = key_json_[i];
            if (json.empty() || cached_key != key) {
                cached_key = key;
                json.assign(1, i == 0 ? '{' : ',');
                detail::write_json_string(json, key);
                json += ':';
            }
            out.append(json);
            detail::dump_row_member(key, v, out);
        }
        out.append(members.empty() ? "{}\n" : "}\n");
    }

    static constexpr std::size_t flush_threshold = 64 * 1024;

    /// open-row.json: the row still open at the last flush point, replaced atomically (after
    /// history.jsonl is written, so a kill leaves every row in one of the two), removed once the
    /// row is committed and written. Readers take it as the run's last row when its _step is
    /// after every row of history.jsonl (a killed run), and ignore it otherwise.
    io_result write_open_row() {
        const std::filesystem::path path = dir_ / "open-row.json";
        if (!open_row_.empty()) {
            if (io_result r = detail::write_file_atomically(path, open_row_); !r.ok()) return r;
            open_row_.clear();
            open_row_on_disk_ = true;
            open_row_committed_ = false;
        } else if (open_row_committed_) {
            std::error_code ec;
            std::filesystem::remove(path, ec);
            open_row_on_disk_ = open_row_committed_ = false;
        }
        return {};
    }

    /// rewind_to_step: the rows after `step` move from history.jsonl to the first free
    /// history.rewound-<k>.jsonl (kept, not deleted), so every reader sees the history up to it.
    io_result rewind_history(std::int64_t step) {
        namespace fs = std::filesystem;
        if (io_result r = history_.write(); !r.ok()) return r;
        const fs::path path = dir_ / "history.jsonl";
        std::ifstream in(path, std::ios::binary);
        std::string line, error;
        std::streamoff keep = 0;
        bool cut = false;
        while (!cut && std::getline(in, line)) {
            value row;
            const value* row_step = nullptr;
            cut = detail::parse_json(line, row, error) && (row_step = row.find("_step")) &&
                  row_step->as_int() > step;
            if (!cut) keep += static_cast<std::streamoff>(line.size()) + 1;
        }
        if (!cut) return {};
        in.clear();
        in.seekg(keep);
        const std::string tail((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        in.close();
        fs::path side;
        for (int k = 1; side.empty() || fs::exists(side); ++k)
            side = dir_ / ("history.rewound-" + std::to_string(k) + ".jsonl");
        if (io_result r = detail::write_file_atomically(side, tail); !r.ok()) return r;
        std::error_code ec;
        fs::resize_file(path, static_cast<std::uintmax_t>(keep), ec);
        if (ec) {
            return io_result::failure(
                errc::sink_write_failed,
                "rewind_to_step: cannot cut '" + path.string() + "': " + ec.message());
        }
        return {};
    }

    /// Writes `v` to `name` if `dirty`, which stays set if the write fails.
    io_result write_if_dirty(bool& dirty, const char* name, const value& v) {
        if (!dirty) return {};
        io_result r = write_snapshot(name, v);
        if (r.ok()) dirty = false;
        return r;
    }

    io_result write_snapshot(const char* name, const value& v) {
        std::string text = v.dump();
        text.push_back('\n');
        return detail::write_file_atomically(dir_ / name, text);
    }

    /// {"_timestamp": t, "_runtime": r, <sample's keys>} to system.jsonl.
    io_result write_system(const system_sample& sample) {
        if (system_.path().empty()) {
            if (io_result opened = system_.open(dir_ / "system.jsonl", false); !opened.ok())
                return opened;
        }
        if (!system_.has_room()) return system_.row_left_out();
        value line = {{"_timestamp", sample.timestamp}, {"_runtime", sample.runtime}};
        for (const auto& [key, v] : sample.values.as_object()) line[key] = v;
        line.dump(system_.buffer());
        system_.buffer().push_back('\n');
        return {};
    }

    /// {"_timestamp", "action": "log"|"use", "name", "version", "aliases", "store", "manifest"}
    /// to artifacts.jsonl. `store` is relative to the run directory when the store is beside it
    /// (the default, <dir>/runlog/artifacts), so the two travel together.
    io_result write_artifact(const artifact_event& a) {
        if (artifacts_.path().empty()) {
            if (io_result opened = artifacts_.open(dir_ / "artifacts.jsonl", false); !opened.ok())
                return opened;
        }
        std::error_code ec;
        const auto store =
            std::filesystem::absolute(a.dir.parent_path().parent_path(), ec).lexically_normal();
        const auto run_dir = std::filesystem::absolute(dir_, ec).lexically_normal();
        const std::filesystem::path shown =
            store.parent_path() == run_dir.parent_path() ? ".." / store.filename() : store;
        value line = {{"_timestamp", a.timestamp}, {"action", a.used ? "use" : "log"}};
        line.update(a.brief());
        line["store"] = shown.generic_string();
        line["manifest"] = a.manifest;
        line.dump(artifacts_.buffer());
        artifacts_.buffer().push_back('\n');
        return artifacts_.write();
    }

    io_result write_metric(const metric_definition& def) {
        value entry = {{"name", def.name},
                       {"step_metric", def.step_metric},
                       {"step_sync", def.step_sync},
                       {"hidden", def.hidden},
                       {"summary", summary_to_string(def.summary)},
                       {"goal", to_string(def.goal)}};
        if (!def.from_glob.empty()) entry["glob"] = def.from_glob;
        // A glob defines a metric per key it matches: one write per flush point and an index,
        // not a rewrite of the file per definition (quadratic: 20,000 keys held the writer thread
        // past finish's 10 s timeout in an ASan build).
        const auto [at, added] = metric_index_.emplace(def.name, metrics_.size());
        if (added) {
            metrics_.push_back(std::move(entry));
        } else {
            metrics_.as_array()[at->second] = std::move(entry);
        }
        metrics_dirty_ = true;
        return {};
    }

    run_info info_;
    std::filesystem::path dir_;
    detail::append_file history_;
    std::vector<std::pair<std::string, std::string>> key_json_;  // per row position: key, its JSON
    detail::append_file system_;
    detail::append_file output_;
    detail::append_file artifacts_;
    value metrics_ = value::array();
    std::unordered_map<std::string, std::size_t> metric_index_;  // name -> position in metrics_
    value summary_ = value::object();
    value config_;
    bool summary_dirty_ = false, config_dirty_ = false, metrics_dirty_ = false;
    value signal_;                     // the last signal marked, or null
    std::string open_row_;             // the open row's JSON line, to write at the next flush
    bool open_row_on_disk_ = false;    // open-row.json exists
    bool open_row_committed_ = false;  // ... and its row has been committed since
};

}  // namespace v0
}  // namespace runlog
