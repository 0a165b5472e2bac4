// SPDX-License-Identifier: MIT
#pragma once
// The W&B sink: an offline run directory that the official `wandb sync` uploads
// (wandb-offline-format.md), written beside the native one.
//
//   <dir>/wandb/latest-run -> offline-run-YYYYMMDD_HHMMSS-<id>
//   <dir>/wandb/offline-run-YYYYMMDD_HHMMSS-<id>/
//     run-<id>.wandb        header, run, config*, metric*, files*, summary*, history*, ..., exit,
//     final files/media/...       media files, each announced by a files record before its row
//     files/wandb-summary.json, files/config.yaml, files/wandb-metadata.json   (written at finish)
//     tmp/artifacts/<sha256>   artifact files (hard links into the store where possible), named
//                              by the absolute `local_path`s of the artifact records, which are
//                              written at finish for the versions retention left
//
// Records are framed (detail/leveldb_log.hpp) into a buffer and written whole at flush points, so
// a killed job leaves a file whose records are all complete. The summary (one item per top-level
// key, whole values, as legacy sync needs) is a summary record at each flush point where it
// changed and again at finish. W&B's client writes one before every history record instead; sync
// keeps the last value of each key either way (wandb-offline-format.md §3.6), and a summary per
// flush left a killed run's summary as current as its history (both end at the last flush) while
// a row cost 40% less to write (bench/end_to_end).
//
// A resumed run (settings::resume) and a rewound one (rewind_to_step) go on in another offline
// directory of the same run id, as W&B's own client does: a .wandb file cannot be reopened after
// its exit record nor take rows back, and legacy sync takes one file per directory. The new
// file's run record says what it continues (run_continuation in detail/wandb_records.hpp);
// docs/wandb.md gives the sync commands, oldest directory first.
//
// Enable with settings::wandb_offline or RUNLOG_SINKS=jsonl,wandb.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../artifacts.hpp"
#include "../detail/append_file.hpp"
#include "../detail/clock.hpp"
#include "../detail/leveldb_log.hpp"
#include "../detail/os.hpp"
#include "../detail/wandb_records.hpp"
#include "sink.hpp"

namespace runlog {
inline namespace v0 {

class wandb_sink final : public base_sink<null_mutex> {
  public:
    /// `describe_process`: put this process's command line in wandb-metadata.json (false when
    /// converting a run after the fact, as `runlog export` does). `sync_root`: where
    /// run_info::root_dir will be on the host that runs `wandb sync`, if elsewhere; artifact
    /// records name their files by absolute path, which must exist there.
    explicit wandb_sink(std::string entity = {}, bool describe_process = true,
                        std::filesystem::path sync_root = {})
        : entity_(std::move(entity)),
          describe_process_(describe_process),
          sync_root_(std::move(sync_root)) {}

    /// <root>/wandb/offline-run-YYYYMMDD_HHMMSS-<id>: where a run's W&B directory goes.
    static std::filesystem::path directory_for(const run_info& info) {
        return info.root_dir / "wandb" /
               ("offline-run-" + detail::directory_timestamp(info.start_time) + "-" + info.id);
    }

    /// The offline directory written now (set by start; a rewind moves on to a new one).
    const std::filesystem::path& directory() const noexcept { return dir_; }

    /// Instead of start(): goes on writing the existing `file` of the offline directory `dir`
    /// (`runlog finalize` closes a killed run's file): the file is cut after its last whole
    /// record, at `end`, whose record number was `last_num`. Then events and finish() as usual.
    io_result reopen(const run_info& info, const std::filesystem::path& dir,
                     const std::filesystem::path& file, std::uint64_t end, std::int64_t last_num) {
        std::lock_guard<null_mutex> lock(mutex_);
        info_ = info;
        config_ = info.config;
        std::error_code ec;
        std::filesystem::resize_file(file, end, ec);
        auto reopened = std::make_unique<detail::append_file>();
        if (ec) {
            return io_result::failure(errc::sink_start_failed,
                                      "cannot cut '" + file.string() + "': " + ec.message());
        }
        if (io_result opened = reopened->open(file, false); !opened.ok()) return opened;
        file_ = std::move(reopened);
        dir_ = dir;
        log_ = detail::leveldb_log_writer(end);
        num_ = last_num;
        return {};
    }

  protected:
    io_result start_(const run_info& info) override {
        info_ = info;
        if (describe_process_) args_ = detail::command_line();
        config_ = info.config;
        std::unique_ptr<detail::append_file> file;
        detail::wandb::run_continuation resumed;
        resumed.start_time = info.session_start_time;
        resumed.starting_step = info.starting_step;
        resumed.resumed = true;
        const bool first = info.resumed == 0;
        const std::filesystem::path dir = first ? directory_for(info) : next_directory(resumed);
        if (io_result created = create_file(dir, file); !created.ok()) return created;
        begin_file(std::move(file), dir, first ? nullptr : &resumed);
        if (!info.git_diff.empty()) {  // as the W&B client saves uncommitted changes
            if (io_result w =
                    detail::write_file_atomically(dir_ / "files" / "diff.patch", info.git_diff);
                !w.ok())
                return w;
            append(detail::wandb::files, detail::wandb::files_body("diff.patch", 1));
        }
        return file_->write();
    }

    io_result event_(const sink_event& e) override {
        namespace w = detail::wandb;
        switch (e.type) {
            case sink_event_type::config:
                config_ = *e.config;
                append(w::config, w::config_body(*e.config, false));
                break;
            case sink_event_type::metric:
                metrics_.push_back(*e.metric);
                append_metric(*e.metric);
                break;
            case sink_event_type::media: {
                const io_result r = detail::write_file_creating_directories(
                    dir_ / "files" / e.media->path, *e.media->bytes);
                if (!r.ok()) return r;
                append(w::files, w::files_body(e.media->path, 2));
                break;
            }
            case sink_event_type::summary:
                append(w::summary, w::items_body(*e.summary));
                break;
            case sink_event_type::system:
                if (!file_->has_room()) return file_->row_left_out();
                append(w::stats, w::stats_body(e.system->timestamp, e.system->values));
                gpus_.note(e.system->values);
                break;
            case sink_event_type::console:
                if (!file_->has_room()) return file_->row_left_out();
                append(w::output_raw, w::output_raw_body(*e.console));
                break;
            case sink_event_type::artifact:
                // Written at finish, once retention can no longer delete them. Uses stay in the
                // native run (W&B's use_artifact record is unverified).
                if (!e.artifact->used)
                    artifacts_.push_back(
                        {e.artifact->manifest, e.artifact->aliases, e.artifact->dir});
                break;
            case sink_event_type::signal:
                if (e.signal->status == "preempted") mark_preempting();
                break;
            case sink_event_type::rewind:
                return rewind_to(*e.rewind_step);
            case sink_event_type::open_row:
                break;  // a .wandb file cannot take a row back: `runlog finalize` adds it
            case sink_event_type::row:
                if (!file_->has_room()) return file_->row_left_out();
                write_row(*e.row);
                if (file_->buffer().size() >= 64 * 1024) return file_->write();
                break;
        }
        return {};
    }

    io_result flush_() override { return file_->write(); }

    io_result finish_(const finish_info& end) override {
        namespace w = detail::wandb;
        const std::int64_t runtime = w::whole_seconds(end.runtime);
        append(w::summary, w::runtime_summary_body(runtime));
        append(w::summary, w::items_body(end.summary));
        if (end.status == "preempted") mark_preempting();
        io_result r = write_files(end);
        for (const auto& a : artifacts_)
            if (io_result written = write_artifact(a); r.ok()) r = written;
        append(w::exit, w::exit_body(end.exit_code, runtime));
        append(w::final_record, detail::proto_writer());
        io_result written = file_->write();
        file_->close();
        return r.ok() ? written : r;
    }

  private:
    /// Where a later file of the run goes: named by its start, like the first, and with -2, -3,
    /// ... after the id when that name is taken (a resume or rewind within the same second).
    std::filesystem::path next_directory(const detail::wandb::run_continuation& later) const {
        const std::string name =
            "offline-run-" + detail::directory_timestamp(later.start_time) + "-" + info_.id;
        std::filesystem::path dir = info_.root_dir / "wandb" / name;
        std::error_code ec;
        for (int k = 2; std::filesystem::exists(dir, ec); ++k)
            dir = info_.root_dir / "wandb" / (name + "-" + std::to_string(k));
        return dir;
    }

    /// Creates `dir` and its .wandb file, exclusive: never append to another run's log.
    io_result create_file(const std::filesystem::path& dir,
                          std::unique_ptr<detail::append_file>& out) const {
        std::error_code ec;
        std::filesystem::create_directories(dir / "files", ec);
        if (ec) {
            return io_result::failure(errc::sink_start_failed,
                                      "cannot create '" + dir.string() + "': " + ec.message());
        }
        auto file = std::make_unique<detail::append_file>();
        if (io_result opened = file->open(dir / ("run-" + info_.id + ".wandb"), true); !opened.ok())
            return opened;
        out = std::move(file);
        return {};
    }

    /// Makes `file` the one written, starting with its header and run record; a later file of
    /// the run repeats the metric definitions.
    void begin_file(std::unique_ptr<detail::append_file> file, const std::filesystem::path& dir,
                    const detail::wandb::run_continuation* later) {
        namespace w = detail::wandb;
        file_ = std::move(file);
        dir_ = dir;
        (void)detail::replace_symlink(info_.root_dir / "wandb" / "latest-run", dir_.filename());
        log_ = detail::leveldb_log_writer();
        num_ = 0;
        log_.write_file_header(file_->buffer());
        append(w::header, w::header_body());
        run_info described = info_;
        described.config = config_;
        append(w::run, w::run_body(described, entity_, later));
        metric_names_.clear();
        for (const metric_definition& def : metrics_) append_metric(def);
    }

    /// A MetricRecord, after one for its step metric if this file has none yet: legacy sync
    /// turns step_metric into the index W&B's UI reads (`_wandb.m`) only for a step metric
    /// defined before (SendManager.send_metric in wandb/sdk/internal/sender.py), and W&B's
    /// client defines it first likewise (Handler._handle_defined_metric, handler.py, v0.18.3).
    void append_metric(const metric_definition& def) {
        namespace w = detail::wandb;
        if (!def.step_metric.empty() && metric_names_.insert(def.step_metric).second)
            append(w::metric,
                   detail::proto_writer().string(1, detail::to_valid_utf8(def.step_metric)));
        if (!def.is_glob() || !def.from_glob.empty()) metric_names_.insert(def.name);
        append(w::metric, w::metric_body(def));
    }

    /// A .wandb file cannot take rows back. W&B's own rewind (wandb.init(resume_from=...)) is a
    /// new file whose run record has a branch point on the run itself, where sync asks the
    /// server to drop the later history; this file ends first, as a finished session's does.
    /// Until the new file exists the old one goes on, its rows after `step` kept.
    io_result rewind_to(std::int64_t step) {
        namespace w = detail::wandb;
        const std::string what = "rewind_to_step(" + std::to_string(step) + "): ";
        const std::string kept =
            "; the W&B run keeps its rows after that step (convert the "
            "native run with `runlog export --to wandb` instead)";
        if (io_result pending = file_->write(); !pending.ok())
            return io_result::failure(pending.code, what + pending.message + kept);
        w::run_continuation rewound;
        rewound.start_time = detail::unix_time_now();
        rewound.starting_step = step < INT64_MAX ? step + 1 : step;
        rewound.rewound_to = step;
        const std::filesystem::path dir = next_directory(rewound);
        std::unique_ptr<detail::append_file> next;
        if (io_result created = create_file(dir, next); !created.ok())
            return io_result::failure(created.code, what + created.message + kept);
        const std::int64_t runtime = w::whole_seconds(rewound.start_time - info_.start_time);
        append(w::exit, w::exit_body(0, runtime));
        append(w::final_record, detail::proto_writer());
        const io_result ended = file_->write();  // lost, sync counts that file as failed
        begin_file(std::move(next), dir, &rewound);
        if (!ended.ok())
            return io_result::failure(ended.code,
                                      what + "the W&B file before it has no end: " + ended.message);
        return file_->write();
    }

    /// W&B's own client writes this when it is told the job is about to be preempted; once.
    void mark_preempting() {
        if (preempting_marked_) return;
        preempting_marked_ = true;
        append(detail::wandb::preempting, detail::proto_writer());
    }

    struct logged_artifact {
        value manifest;
        std::vector<std::string> aliases;
        std::filesystem::path dir;
    };

    /// Puts the version's files under tmp/artifacts/ (named by SHA-256, so shared content is
    /// there once) and writes its ArtifactRecord; a version retention deleted is left out (its
    /// aliases had moved to later versions, whose records follow).
    io_result write_artifact(const logged_artifact& a) {
        namespace fs = std::filesystem;
        const value& m = a.manifest;
        if (detail::manifest_of(a.dir).contains("deleted")) return {};
        const std::string ref = (m.find("name") ? m.find("name")->as_string() : "?") + ":v" +
                                std::to_string(m.find("version") ? m.find("version")->as_int() : 0);
        if (entity_.empty()) {
            return io_result::failure(
                errc::sink_write_failed,
                "artifact " + ref +
                    " is not in the W&B run: W&B needs an entity for artifacts (set "
                    "settings.entity or RUNLOG_ENTITY, or later: runlog export --to wandb "
                    "--entity E)");
        }
        std::error_code ec;
        const fs::path files = dir_ / "tmp" / "artifacts";
        fs::create_directories(files, ec);
        const fs::path root = fs::absolute(info_.root_dir, ec);
        std::vector<detail::wandb::artifact_entry> entries;
        // Manifests come from the store or are checked by export (valid_artifact_manifest).
        for (const auto& entry : m.find("entries")->as_array()) {
            const std::string& path = entry.find("path")->as_string();
            const fs::path stored = a.dir / path;
            const fs::path local = fs::absolute(files / entry.find("sha256")->as_string(), ec);
            if (!fs::exists(local, ec)) {
                const fs::path source = fs::canonical(stored, ec);  // a reference's target
                if (!ec) fs::create_hard_link(source, local, ec);
                if (ec) fs::copy_file(source, local, ec);
                if (ec) {
                    return io_result::failure(errc::sink_write_failed,
                                              "artifact " + ref + ": cannot put '" +
                                                  stored.string() +
                                                  "' into the W&B run: " + ec.message());
                }
            }
            entries.push_back({path, entry.find("md5")->as_string(), entry.find("size")->as_int(),
                               sync_root_.empty()
                                   ? local.string()
                                   : (sync_root_ / local.lexically_relative(root)).string()});
        }
        append(
            detail::wandb::artifact,
            detail::wandb::artifact_body(info_.id, info_.project, entity_, m, a.aliases, entries));
        return {};
    }

    void append(detail::wandb::record_field field, const detail::proto_writer& body) {
        const auto bytes = detail::wandb::record(++num_, field, body);
        log_.write_record(bytes.data(), bytes.size(), file_->buffer());
    }

    /// A HistoryRecord, written in place: no allocation once the buffers have grown.
    void write_row(const history_row& row) {
        namespace w = detail::wandb;
        const std::size_t body = start_record(w::history);
        for (const auto& [key, v] : row.data.as_object()) {
            json_.clear();
            if (w::has_histogram_stats(v)) {
                w::dump_item_value(v, json_);
            } else {
                detail::dump_row_member(key, v, json_);
            }
            w::write_item(record_, key, json_);
        }
        const std::size_t history_step = record_.begin(2);
        record_.int64(1, row.step).end(history_step);
        end_record(body);
    }

    // Rows are written in place into record_ (the same bytes as append(): Record{num, field:
    // body}).
    std::size_t start_record(detail::wandb::record_field field) {
        record_.clear();
        return record_.int64(1, ++num_).begin(field);
    }
    void end_record(std::size_t body) {
        record_.end(body);
        log_.write_record(record_.data(), record_.size(), file_->buffer());
    }

    /// files/wandb-summary.json and files/config.yaml for people reading the directory, and
    /// files/wandb-metadata.json, the only one announced by a files record: sync writes and
    /// uploads the other two itself from the records — legacy sync at its end, after the last
    /// config update, and again for every files record, which made it upload a stale config.yaml
    /// and the summary twice (SendManager._debounce_config/_update_summary, sender.py, v0.18.3);
    /// wandb-core at the exit record.
    io_result write_files(const finish_info& end) {
        namespace w = detail::wandb;
        const auto files = dir_ / "files";
        io_result r =
            detail::write_file_atomically(files / "wandb-summary.json", end.summary.dump() + "\n");
        if (r.ok())
            r = detail::write_file_atomically(files / "config.yaml", w::config_yaml(config_));
        if (r.ok()) {
            const value metadata = w::metadata(info_, args_, end, gpus_.list());
            r = detail::write_file_atomically(files / "wandb-metadata.json",
                                              metadata.dump() + "\n");
        }
        if (r.ok()) append(w::files, w::files_body("wandb-metadata.json", 1));
        return r;
    }

    std::string entity_;
    run_info info_;
    bool describe_process_;
    std::filesystem::path sync_root_;
    std::vector<std::string> args_;
    std::filesystem::path dir_;
    std::unique_ptr<detail::append_file> file_ =
        std::make_unique<detail::append_file>();  // current
    detail::leveldb_log_writer log_;
    std::int64_t num_ = 0;
    detail::proto_writer record_;  // the row being written, reused
    std::string json_;             // one value's JSON, reused
    value config_ = value::object();
    std::vector<logged_artifact> artifacts_;
    std::vector<metric_definition> metrics_;  // repeated in each later file of the run
    std::set<std::string> metric_names_;      // defined by a MetricRecord in this file
    detail::wandb::gpu_list gpus_;            // from the system samples, for the metadata
    bool preempting_marked_ = false;
};

}  // namespace v0
}  // namespace runlog
