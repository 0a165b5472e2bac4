// SPDX-License-Identifier: MIT
#pragma once
// Closing a killed run's files in place — the library side of `runlog finalize RUN_DIR`. A run
// killed before finish() (kill -9, an out-of-memory kill, a node failure) leaves run.json saying
// "running", a .wandb file without an exit record — which `wandb sync` uploads as a run that
// finished with exit code 0 — and an event file without the end of its TensorBoard session.
// finalize takes the native run as the truth and ends each of them as finish() would have:
//
// - the native run: torn last lines cut, an open row (open-row.json) committed, summary.json
//   rebuilt exactly from the history (the dispatcher's restore), run.json marked "crashed" (or the
//   status a signal had marked) with the exit code (default 1), end time and runtime;
// - every offline directory of the run whose .wandb has no exit record: cut after its last whole
//   record that the native run has too (W&B's buffer can reach the disk before the native one's),
//   then the rows of its session it lacks (with their media files), the summary,
//   wandb-metadata.json, the artifact versions logged in that session, and the exit record;
// - the run's last TensorBoard event file without a session end: written again from the native
//   run (its session's rows and samples, hparams, the session's end) and replaced atomically.
//
// It refuses a run still "running" whose process is alive on this host (run.json's host and
// pid) unless forced, and does nothing to files that are already closed, so running it twice is
// harmless. System samples and console output after the last flush are not added to W&B or
// TensorBoard.
//
//     auto result = runlog::finalize_run("runlog/latest-run", {});
//     std::puts(result.message.c_str());

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "detail/counters.hpp"
#include "detail/dispatcher.hpp"
#include "detail/error_reporter.hpp"
#include "detail/protobuf_reader.hpp"
#include "detail/run_dir.hpp"
#include "export.hpp"

namespace runlog {
inline namespace v0 {

struct finalize_options {
    std::optional<int> exit_code;  // for the crashed run; default 1 (W&B shows it as failed)
    bool force = false;            // even if run.json names a live process on this host
};

struct finalize_result {
    bool ok = false;
    std::string message;              // what went wrong, or a one-line report
    std::vector<std::string> closed;  // what was closed, one line each
    std::vector<std::string> warnings;
};

namespace detail {

/// What finalize reads of a .wandb file: where its whole records end (or where it is to be cut),
/// and what its records say.
struct wandb_file_state {
    std::filesystem::path dir, file;
    std::uint64_t end = 0;  // offset after its last whole record (0: no W&B file header)
    std::int64_t last_num = 0;
    bool has_exit = false;
    std::optional<std::int64_t> last_step;  // of its last history record
    std::int64_t starting_step = 0;         // its run record's
    double start_time = 0.0;
    std::string entity;
    bool has_run = false;
};

/// The first RunRecord's entity, starting_step and start_time (seconds).
inline void read_run_record(std::string_view body, wandb_file_state& st) {
    st.has_run = true;
    proto_reader run(body);
    for (proto_reader::field r; run.next(r);) {
        if (r.number == 2 && r.wire_type == 2) st.entity = std::string(r.bytes);
        if (r.number == 14 && r.wire_type == 0)
            st.starting_step = static_cast<std::int64_t>(r.varint);
        if (r.number != 17 || r.wire_type != 2) continue;
        proto_reader t(r.bytes);
        for (proto_reader::field s; t.next(s);)
            if (s.number == 1 && s.wire_type == 0)
                st.start_time = static_cast<double>(static_cast<std::int64_t>(s.varint));
    }
}

/// Reads `file`'s records up to the first history record past `keep_through` (a row the native
/// run does not have: W&B's buffer can reach the disk before the native one's), which is where
/// `end` then is.
inline wandb_file_state read_wandb_file_state(const std::filesystem::path& file,
                                              std::int64_t keep_through = INT64_MAX) {
    wandb_file_state st;
    st.file = file;
    st.dir = file.parent_path();
    const std::string bytes = read_small_file(file);
    st.end = read_leveldb_log(bytes, [&](std::string_view record, std::size_t) {
        std::int64_t num = 0;
        std::optional<std::int64_t> step;
        proto_reader fields(record);
        for (proto_reader::field f; fields.next(f);) {
            if (f.number == 1 && f.wire_type == 0) num = static_cast<std::int64_t>(f.varint);
            if (f.wire_type != 2) continue;
            if (f.number == 18) st.has_exit = true;
            if (f.number == 2) {  // HistoryRecord.step{num}
                proto_reader history(f.bytes);
                for (proto_reader::field h; history.next(h);) {
                    if (h.number != 2 || h.wire_type != 2) continue;
                    proto_reader s(h.bytes);
                    for (proto_reader::field n; s.next(n);)
                        if (n.number == 1 && n.wire_type == 0)
                            step = static_cast<std::int64_t>(n.varint);
                }
                if (!step) step = 0;
            }
            if (f.number == 17 && !st.has_run) read_run_record(f.bytes, st);
        }
        if (step && *step > keep_through) return false;
        st.last_num = num;
        if (step) st.last_step = step;
        return true;
    });
    return st;
}

/// What finalize reads of a TensorBoard event file.
struct tensorboard_file_state {
    bool session_ended = false;
    double first_row_time = INFINITY;  // the earliest wall time of a row's values (not system/,
                                       // hparams): where its session's rows begin
    double last_time = 0.0;            // the latest wall time of any event
};

inline tensorboard_file_state read_tensorboard_file_state(const std::string& bytes) {
    tensorboard_file_state st;
    read_tfrecords(bytes, [&](std::string_view event, std::size_t) {
        double wall = 0.0;
        bool row = false;
        proto_reader fields(event);
        for (proto_reader::field f; fields.next(f);) {
            if (f.number == 1 && f.wire_type == 1) wall = proto_reader::as_double(f);
            if (f.number != 5 || f.wire_type != 2) continue;
            proto_reader summary(f.bytes);
            for (proto_reader::field v; summary.next(v);) {
                proto_reader value_fields(v.bytes);
                for (proto_reader::field t; value_fields.next(t);) {
                    if (t.number != 1 || t.wire_type != 2) continue;
                    if (t.bytes == "_hparams_/session_end_info") st.session_ended = true;
                    if (t.bytes.substr(0, 9) != "_hparams_" && t.bytes.substr(0, 7) != "system/")
                        row = true;
                }
            }
        }
        if (row) st.first_row_time = std::min(st.first_row_time, wall);
        st.last_time = std::max(st.last_time, wall);
        return true;
    });
    return st;
}

/// Feeds `row`'s media files (from the native run's media/), then the row, to `target`.
inline io_result feed_row(const native_run& run, const value& row, sink& target,
                          std::vector<std::string>& warnings) {
    std::vector<std::string> paths;
    for (const auto& member : row.as_object()) media_paths(member.second, run.dir, paths);
    for (const auto& path : paths) {
        if (path.rfind("media/", 0) != 0 || path.find("..") != std::string::npos) continue;
        const std::string bytes = read_small_file(run.dir / path);
        if (bytes.empty()) {
            warnings.push_back("media file '" + path + "' is missing; not added");
            continue;
        }
        const std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
        const media_event m{path, &data};
        sink_event e;
        e.type = sink_event_type::media;
        e.media = &m;
        if (io_result r = target.event(e); !r.ok()) return r;
    }
    const history_row h{row.find("_step")->as_int(),
                        row.find("_runtime") ? row.find("_runtime")->as_double() : 0.0,
                        row.find("_timestamp") ? row.find("_timestamp")->as_double() : 0.0, row};
    sink_event e;
    e.type = sink_event_type::row;
    e.row = &h;
    return target.event(e);
}

/// The summary finish() would have written: every row replayed through the dispatcher
/// (summary_set values come back from summary.json), then the last row's _step/_runtime/
/// _timestamp.
inline value exact_summary(const native_run& run) {
    std::vector<metric_definition> definitions;
    for (const value& def : run.metrics.as_array())
        if (def.find("glob") == nullptr) definitions.push_back(definition_from_json(def));
    error_reporter reporter([](const error_report&) {});  // restore reports nothing
    counters counts;
    dispatcher replay({}, reporter, counts, run.info.start_time);
    replay.restore(definitions, run.rows, run.summary);
    value summary = replay.build_summary();
    if (!run.rows.empty()) {
        const value& last = run.rows.back();
        for (const char* key : {"_step", "_runtime", "_timestamp"})
            if (const value* v = last.find(key)) summary[key] = *v;
    }
    return summary;
}

/// Closes one offline directory of the run: the rows of its session (steps after its last
/// one and before `next_start_step`), then finish.
inline io_result close_wandb_file(const native_run& run, const wandb_file_state& st,
                                  std::int64_t next_start_step, double next_start_time,
                                  const finish_info& end, finalize_result& result) {
    wandb_sink sink(st.entity, false);
    if (io_result r = sink.reopen(run.info, st.dir, st.file, st.end, st.last_num); !r.ok())
        return r;
    const std::int64_t after = st.last_step ? *st.last_step : st.starting_step - 1;
    std::size_t added = 0;
    for (const value& row : run.rows) {
        const std::int64_t step = row.find("_step")->as_int();
        if (step <= after || step >= next_start_step) continue;
        if (io_result r = feed_row(run, row, sink, result.warnings); !r.ok()) return r;
        ++added;
    }
    std::size_t artifacts = 0;
    for (const auto& a : run.artifacts) {
        if (a.used || a.timestamp < st.start_time || a.timestamp >= next_start_time) continue;
        const artifact_event artifact{a.used, a.timestamp, a.manifest, a.aliases, a.dir};
        sink_event e;
        e.type = sink_event_type::artifact;
        e.artifact = &artifact;
        if (io_result r = sink.event(e); !r.ok()) return r;
        ++artifacts;
    }
    const io_result r = sink.finish(end);
    result.closed.push_back("W&B " + st.dir.string() + ": " + std::to_string(added) + " rows and " +
                            std::to_string(artifacts) + " artifact versions added, exit code " +
                            std::to_string(end.exit_code));
    return r;
}

/// Closes the run's last TensorBoard event file if its session has no end: it is written again
/// from the native run — the session's rows (those logged from its first row's time on; a
/// resumed session starts seconds after the one before it) and system samples, through the same
/// sink the live run used — and replaced atomically. An event file keeps no global step for tags
/// plotted against a step metric, so rows cannot be matched one by one; writing the session
/// again makes it exactly what the native run holds, as `runlog export` would.
inline io_result close_tensorboard_file(const native_run& run, const finish_info& end,
                                        finalize_result& result) {
    namespace fs = std::filesystem;
    const fs::path dir = tensorboard_sink::directory_for(run.info);
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), stop; !ec && it != stop; it.increment(ec))
        if (it->path().filename().string().find("tfevents") != std::string::npos)
            files.push_back(it->path());
    if (files.empty()) return {};
    std::sort(files.begin(), files.end());  // a run's files sort in the order they were begun
    const tensorboard_file_state st = read_tensorboard_file_state(read_small_file(files.back()));
    if (st.session_ended) return {};
    native_run session = run;
    const bool first = files.size() == 1;
    double begins = -INFINITY;
    if (!first) {
        const std::string name = files.back().filename().string();  // events.out.tfevents.<t>...
        begins = std::min(st.first_row_time, std::atof(name.substr(20, 10).c_str()));
    }
    auto before = [&](const value& line) {
        const value* t = line.find("_timestamp");
        return t == nullptr || t->as_double() < begins;
    };
    session.rows.erase(std::remove_if(session.rows.begin(), session.rows.end(), before),
                       session.rows.end());
    session.system.erase(std::remove_if(session.system.begin(), session.system.end(), before),
                         session.system.end());
    session.artifacts.clear();
    session.console.clear();
    session.info.resumed = first ? 0 : 1;  // a later session's file has no initial START
    session.exit_code = end.exit_code;
    session.status = end.status;
    session.end_time = end.end_time;
    session.summary = end.summary;
    const fs::path rewritten = dir / ".runlog-finalize.tmp";  // no "tfevents": not read
    fs::remove(rewritten, ec);
    tensorboard_sink sink(rewritten);
    export_result replayed;
    replay_into(session, sink, {}, replayed);
    if (!replayed.ok) return io_result::failure(errc::sink_write_failed, replayed.message);
    fs::rename(rewritten, files.back(), ec);
    if (ec) {
        return io_result::failure(
            errc::sink_write_failed,
            "cannot replace '" + files.back().string() + "': " + ec.message());
    }
    result.closed.push_back("TensorBoard " + files.back().string() + ": written again with " +
                            std::to_string(session.rows.size()) + " rows, session ended (" +
                            (end.exit_code == 0 ? "success" : "failure") + ")");
    return {};
}

/// run.json (and summary.json) of a run that never finished: marked as it ended.
inline io_result close_native_run(const native_run& run, const finish_info& end,
                                  const value& summary) {
    value run_json;
    std::string error;
    if (!read_json_file(run.dir / "run.json", run_json, error))
        return io_result::failure(errc::sink_write_failed, error);
    run_json["status"] = end.status;
    run_json["exit_code"] = end.exit_code;
    run_json["end_time"] = end.end_time;
    run_json["end_time_utc"] = iso8601_utc(end.end_time);
    run_json["runtime"] = end.runtime;
    run_json["finalized"] = {{"by", "runlog finalize " RUNLOG_VERSION_STRING},
                             {"time", unix_time_now()}};
    io_result r = write_file_atomically(run.dir / "summary.json", summary.dump() + "\n");
    if (r.ok()) r = write_file_atomically(run.dir / "run.json", run_json.dump() + "\n");
    return r;
}

}  // namespace detail

/// Closes what a killed run left open (see the top of this file).
inline finalize_result finalize_run(const std::filesystem::path& run_path,
                                    const finalize_options& options = {}) {
    namespace fs = std::filesystem;
    finalize_result result;
    detail::native_run run;
    export_result read;
    if (!detail::read_native_run(run_path, {}, run, read))
        return result.message = read.message, result;
    value run_json;
    std::string error;
    if (!detail::read_json_file(run.dir / "run.json", run_json, error))
        return result.message = error, result;
    const value* pid = run_json.find("pid");
    if (!options.force && read.crashed && pid && run.info.host == detail::host_name() &&
        detail::process_alive(static_cast<int>(pid->as_int()))) {
        result.message = "the run in '" + run.dir.string() +
                         "' is still being written by process " + std::to_string(pid->as_int()) +
                         " on this host; finalize it once that "
                         "process has ended (--force if that pid is another program now)";
        return result;
    }
    // The native run: cut what a kill tore, and take the open row as committed.
    detail::cut_torn_line(run.dir / "history.jsonl");
    detail::cut_torn_line(run.dir / "system.jsonl");
    if (run.open_row) {
        if (detail::setup_error e = detail::commit_open_row(run.dir))
            return result.message = e.message, result;
    }
    const bool crashed = read.crashed;
    const value summary = detail::exact_summary(run);
    double end_time = run.end_time;
    for (const value& sample : run.system)
        end_time = std::max(end_time, sample.find("_timestamp")->as_double());
    run_stats stats;
    stats.rows_committed = run.rows.size();
    // How a killed session ended, and how the run did (the same, unless a later session of a
    // resumed run finished it).
    const finish_info killed{options.exit_code.value_or(1),
                             run.signal.empty() ? "crashed" : run.status,
                             end_time,
                             end_time - run.info.start_time,
                             stats,
                             summary,
                             0,
                             {}};
    const finish_info finished{run.exit_code,
                               run.status,
                               run.end_time,
                               run.end_time - run.info.start_time,
                               stats,
                               summary,
                               0,
                               {}};
    const finish_info& run_end = crashed ? killed : finished;
    if (crashed) {
        if (io_result r = detail::close_native_run(run, killed, summary); !r.ok())
            return result.message = r.message, result;
        result.closed.push_back("native " + run.dir.string() + ": " + killed.status +
                                ", exit code " + std::to_string(killed.exit_code));
    }

    // W&B: every offline directory of the run, oldest first; those without an exit record.
    std::vector<detail::wandb_file_state> files;
    std::error_code ec;
    const fs::path wandb_root = run.info.root_dir / "wandb";
    for (fs::directory_iterator it(wandb_root, ec), stop; !ec && it != stop; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const fs::path file = it->path() / ("run-" + run.info.id + ".wandb");
        if (name.rfind("offline-run-", 0) == 0 && !it->is_symlink() && fs::exists(file))
            files.push_back(detail::read_wandb_file_state(file));
    }
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
        return a.start_time != b.start_time ? a.start_time < b.start_time : a.dir < b.dir;
    });
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (files[i].has_exit) continue;
        if (files[i].end == 0) {
            result.warnings.push_back("'" + files[i].file.string() + "' is not a .wandb file");
            continue;
        }
        const bool last = i + 1 == files.size();
        const std::int64_t next_step = last ? INT64_MAX : files[i + 1].starting_step;
        const double next_time = last ? INFINITY : files[i + 1].start_time;
        // Read again, cut before the first row the native run does not have (it lost it, or a
        // later session has it): the W&B run ends up with the native rows, no more.
        const std::int64_t native_last =
            run.rows.empty() ? -1 : run.rows.back().find("_step")->as_int();
        const std::int64_t keep =
            std::min(native_last, next_step == INT64_MAX ? INT64_MAX : next_step - 1);
        const detail::wandb_file_state cut = detail::read_wandb_file_state(files[i].file, keep);
        if (io_result r = detail::close_wandb_file(run, cut, next_step, next_time,
                                                   last ? run_end : killed, result);
            !r.ok())
            return result.message = r.message, result;
    }
    if (io_result r = detail::close_tensorboard_file(run, run_end, result); !r.ok())
        return result.message = r.message, result;

    result.warnings.insert(result.warnings.begin(), read.warnings.begin(), read.warnings.end());
    result.ok = true;
    result.message = result.closed.empty()
                         ? "nothing to close in " + run.dir.string() + ": its files are complete"
                         : "finalized " + run.dir.string() + " (" +
                               std::to_string(result.closed.size()) + " files closed)";
    return result;
}

}  // namespace v0
}  // namespace runlog
