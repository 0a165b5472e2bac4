// SPDX-License-Identifier: MIT
#pragma once
// Converting a native run directory (finished or crashed) after the fact — the library side of
// `runlog export --to wandb|tensorboard RUN_DIR`. The run is read completely and checked before
// anything is written; the input is never modified. Both targets replay the run through the same
// sink the live run would have used, so a converted run matches a live one.
//
//     auto result = runlog::export_to_wandb("runlog/latest-run", {});
//     if (!result.ok) std::fprintf(stderr, "%s\n", result.message.c_str());
//
// A crashed run (run.json still says "running") is exported with exit code 1 unless
// `exit_code` says otherwise; a torn last line of history.jsonl is skipped. The native format
// keeps the final config, not its history, so the exported run gets the final config at start.
// Artifact versions the run logged (artifacts.jsonl) go to W&B as artifact records if the store
// still has them; W&B needs an entity for those (export_options::entity).

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "artifacts.hpp"
#include "detail/json_reader.hpp"
#include "sinks/tensorboard.hpp"
#include "sinks/wandb.hpp"

namespace runlog {
inline namespace v0 {

struct export_options {
    std::filesystem::path output_root;  // output goes to <output_root>/wandb/ or /tensorboard/;
                                        // default: the directory holding the run's runlog/
    std::optional<int> exit_code;       // for crashed runs; default 1
    std::string entity;                 // W&B entity (needed for artifacts; default: the syncer's)
    std::filesystem::path sync_root;    // W&B: where output_root will be on the host that runs
                                        // `wandb sync` (artifact records name files by absolute
                                        // path); default: where it is now
    std::function<void(std::uint64_t rows)> progress;  // called every 10,000 rows
};

struct export_result {
    bool ok = false;
    std::string message;               // what went wrong, or a one-line report
    std::filesystem::path output_dir;  // the W&B run directory or the TensorBoard run directory
    std::uint64_t rows = 0;
    std::uint64_t media_files = 0;
    std::uint64_t artifacts = 0;         // artifact versions exported (W&B) ...
    std::uint64_t artifacts_pruned = 0;  // ... and left out: retention had deleted them
    bool crashed = false;
    std::vector<std::string> warnings;  // e.g. a missing media file, a torn last line
};

namespace detail {

inline metric_definition definition_from_json(const value& v) {
    metric_definition def;
    def.name = v.find("name") ? v.find("name")->as_string() : std::string();
    if (const value* s = v.find("step_metric")) def.step_metric = s->as_string();
    if (const value* s = v.find("step_sync")) def.step_sync = s->as_bool();
    if (const value* s = v.find("hidden")) def.hidden = s->as_bool();
    if (const value* s = v.find("glob")) def.from_glob = s->as_string();
    metric_options options;
    if (const value* s = v.find("summary")) options.summary = s->as_string();
    if (const value* g = v.find("goal"); g && g->as_string() != "none")
        options.goal = g->as_string();
    metric_definition parsed;
    (void)parse_metric_definition(def.name.empty() ? "?" : def.name, options, parsed);
    def.summary = parsed.summary;  // what could be parsed: a run wrote only valid definitions
    def.goal = parsed.goal;
    return def;
}

/// Media paths a history value refers to (image-file, table-file, images/separated, and the
/// image cells inside a table file).
inline void media_paths(const value& v, const std::filesystem::path& run_dir,
                        std::vector<std::string>& out) {
    const value* type = v.find("_type");
    if (type == nullptr) return;
    if (const value* path = v.find("path"); path && path->is_string()) {
        if (type->as_string() == "table-file") {
            value table;
            std::string ignored;
            if (read_json_file(run_dir / path->as_string(), table, ignored))
                if (const value* data = table.find("data"))
                    for (const auto& row : data->as_array())
                        for (const auto& cell : row.as_array()) media_paths(cell, run_dir, out);
        }
        out.push_back(path->as_string());
    }
    if (const value* names = v.find("filenames"))
        for (const auto& name : names->as_array()) out.push_back(name.as_string());
}

/// A native run read back: what an exporting sink is fed.
struct native_run {
    std::filesystem::path dir;
    run_info info;
    value metrics, summary;
    std::vector<value> rows;
    std::vector<value> system;  // system.jsonl lines (absent file: none)
    std::string console;        // output.log (absent file: empty)
    struct artifact {
        bool used = false;
        double timestamp = 0.0;
        value manifest;
        std::vector<std::string> aliases;
        std::filesystem::path dir;  // in the store
    };
    std::vector<artifact> artifacts;  // artifacts.jsonl, with the versions still stored
    int exit_code = 0;
    double end_time = 0.0;
    std::string signal;     // "SIGTERM", ...: the run was marked or ended by it (handle_signals)
    std::string status;     // how it ended: run.json's, or for a crashed run "failed" / the mark
    bool open_row = false;  // the last row is open-row.json's (never committed: a killed run)
};

/// artifacts.jsonl: each version logged or used, if its store still has it (retention may have
/// deleted it: counted; a missing store or version: a warning). A torn last line is skipped.
inline void read_artifacts(const std::filesystem::path& run_dir, native_run& out,
                           export_result& result) {
    std::ifstream in(run_dir / "artifacts.jsonl", std::ios::binary);
    std::string line, error;
    while (std::getline(in, line)) {
        value v;
        const value* manifest = nullptr;
        if (!parse_json(line, v, error) || !(manifest = v.find("manifest")) ||
            !valid_artifact_manifest(*manifest) || !v.find("store")) {
            result.warnings.push_back("skipped an unreadable line of artifacts.jsonl");
            continue;
        }
        native_run::artifact a;
        a.used = v.find("action") && v.find("action")->as_string() == "use";
        a.timestamp = v.find("_timestamp") ? v.find("_timestamp")->as_double() : 0.0;
        a.manifest = *manifest;
        if (const value* aliases = v.find("aliases"))
            for (const auto& alias : aliases->as_array()) a.aliases.push_back(alias.as_string());
        const std::filesystem::path store(v.find("store")->as_string());
        const std::string ref = manifest->find("name")->as_string() + ":v" +
                                std::to_string(manifest->find("version")->as_int());
        a.dir = (store.is_relative() ? run_dir / store : store) /
                manifest->find("name")->as_string() /
                ("v" + std::to_string(manifest->find("version")->as_int()));
        value now = manifest_of(a.dir);
        if (now.is_null()) {
            result.warnings.push_back("artifact " + ref + " is not in the store '" +
                                      (a.dir.parent_path().parent_path()).string() +
                                      "' (was the store copied with the run?); not exported");
            continue;
        }
        if (now.contains("deleted")) {
            if (!a.used) ++result.artifacts_pruned;
            continue;
        }
        if (!valid_artifact_manifest(now)) {
            result.warnings.push_back("artifact " + ref +
                                      ": its manifest in the store is damaged; "
                                      "not exported");
            continue;
        }
        a.manifest = std::move(now);  // the store's, not the line's copy: it names the files
        out.artifacts.push_back(std::move(a));
    }
}

/// Warns of times a W&B or TensorBoard record cannot hold (a protobuf Timestamp spans the years 1
/// to 9999): the encoders clamp them, and the warning names the row (a crafted or corrupt file).
inline void warn_of_odd_times(const native_run& run, export_result& result) {
    std::size_t odd = 0;
    auto check = [&](const value& line, const std::string& where) {
        const value* t = line.find("_timestamp");
        if (t == nullptr || !t->is_number()) return;
        const double x = t->as_double();
        if (x >= -62135596800.0 && x <= 253402300799.0) return;  // also false for NaN
        if (++odd <= 3)
            result.warnings.push_back(where + ": _timestamp " + t->dump() +
                                      " is not a time W&B or TensorBoard can hold (years 1 to "
                                      "9999); exported clamped to the nearest one");
    };
    for (const value& row : run.rows) {
        const value* step = row.find("_step");
        check(row, "history.jsonl, the row of step " + (step ? step->dump() : std::string("?")));
    }
    for (std::size_t i = 0; i < run.system.size(); ++i)
        check(run.system[i], "system.jsonl, sample " + std::to_string(i + 1));
    if (odd > 3) result.warnings.push_back(std::to_string(odd - 3) + " more such times");
}

/// Reads and checks the whole run; false (with result.message) when it cannot be read.
inline bool read_native_run(const std::filesystem::path& run_path, const export_options& options,
                            native_run& out, export_result& result) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path run_dir = fs::canonical(run_path, ec);
    if (ec || !fs::is_directory(run_dir)) {
        result.message = "'" + run_path.string() + "' is not a directory";
        return false;
    }
    value run_json, config;
    std::string error;
    if (!fs::exists(run_dir / "run.json")) {
        result.message = "'" + run_dir.string() + "' has no run.json: not a runlog run directory";
        return false;
    }
    if (!read_json_file(run_dir / "run.json", run_json, error))
        return result.message = error, false;
    const value* format = run_json.find("format");
    if (format == nullptr || format->as_string() != RUNLOG_FORMAT_VERSION) {
        result.message = "'" + run_dir.string() + "' is format '" +
                         (format ? format->as_string() : std::string("?")) +
                         "'; this runlog reads " RUNLOG_FORMAT_VERSION;
        return false;
    }
    if (!read_json_file(run_dir / "config.json", config, error))
        return result.message = error, false;
    if (!read_json_file(run_dir / "metrics.json", out.metrics, error))
        return result.message = error, false;
    if (!read_json_file(run_dir / "summary.json", out.summary, error))
        return result.message = error, false;
    {
        std::ifstream history(run_dir / "history.jsonl", std::ios::binary);
        if (!history) {
            result.message = "cannot read '" + (run_dir / "history.jsonl").string() + "'";
            return false;
        }
        std::string line;
        std::uint64_t number = 0;
        bool torn = false;
        while (std::getline(history, line)) {
            ++number;
            if (torn) {
                result.message = "history.jsonl line " + std::to_string(number - 1) +
                                 " is not valid JSON and is not the last line";
                return false;
            }
            value row;
            if (!parse_json(line, row, error) || !row.is_object() || !row.find("_step")) {
                torn = true;  // acceptable only as the last line (a killed writer)
                continue;
            }
            out.rows.push_back(std::move(row));
        }
        if (torn) result.warnings.push_back("skipped a torn last line of history.jsonl");
    }
    {
        // The row still open when the process died (flush() made it durable there).
        value open;
        const fs::path open_path = run_dir / "open-row.json";
        const value* step = nullptr;
        if (fs::exists(open_path) && read_json_file(open_path, open, error) && open.is_object() &&
            (step = open.find("_step")) && step->is_int() &&
            (out.rows.empty() || step->as_int() > out.rows.back().find("_step")->as_int())) {
            result.warnings.push_back("took the row of step " + std::to_string(step->as_int()) +
                                      " from open-row.json: the run ended before committing it");
            out.rows.push_back(std::move(open));
            out.open_row = true;
        }
    }

    {
        // System samples: optional; a torn last line (a killed writer) is skipped.
        std::ifstream system(run_dir / "system.jsonl", std::ios::binary);
        std::string line;
        while (std::getline(system, line)) {
            value sample;
            if (parse_json(line, sample, error) && sample.is_object() && sample.find("_timestamp"))
                out.system.push_back(std::move(sample));
        }
    }

    out.console = read_small_file(run_dir / "output.log");
    read_artifacts(run_dir, out, result);
    warn_of_odd_times(out, result);

    auto text = [&](const char* key) {
        const value* v = run_json.find(key);
        return v ? v->as_string() : std::string();
    };
    run_info& info = out.info;
    info.id = text("id");
    info.project = text("project");
    info.name = text("name");
    info.group = text("group");
    info.job_type = text("job_type");
    info.notes = text("notes");
    info.host = text("host");
    info.pid = process_id();  // the process writing the converted files
    if (const value* tags = run_json.find("tags"))
        for (const auto& t : tags->as_array()) info.tags.push_back(t.as_string());
    info.start_time = run_json.find("start_time") ? run_json.find("start_time")->as_double() : 0.0;
    info.config = config.is_object() ? config : value::object();
    if (const value* env = run_json.find("environment")) info.environment = *env;
    if (const value* git = run_json.find("git")) info.git = *git;
    info.root_dir =
        options.output_root.empty() ? run_dir.parent_path().parent_path() : options.output_root;
    info.run_dir = run_dir;
    out.dir = run_dir;

    // A run that never finished has no exit code: "running", or marked by a signal (and then
    // killed before it could finish).
    result.crashed = run_json.find("exit_code") == nullptr;
    out.signal = text("signal");
    out.exit_code = result.crashed ? options.exit_code.value_or(1)
                                   : static_cast<int>(run_json.find("exit_code")
                                                          ? run_json.find("exit_code")->as_int()
                                                          : 0);
    out.status = result.crashed && !out.signal.empty() ? text("status")
                 : result.crashed ? std::string(out.exit_code == 0 ? "finished" : "failed")
                                  : text("status");
    out.end_time = run_json.find("end_time") ? run_json.find("end_time")->as_double() : 0.0;
    if (out.end_time == 0.0 && !out.rows.empty()) {
        const value* last = out.rows.back().find("_timestamp");
        out.end_time = last ? last->as_double(info.start_time) : info.start_time;
    }
    if (out.end_time == 0.0) out.end_time = info.start_time;
    return true;
}

/// Feeds `run` to `target` as the live run would have: start, metric definitions, each row's
/// media files then the row, finish. Refuses to overwrite `output_dir`.
inline void replay_into(const native_run& run, sink& target, const export_options& options,
                        export_result& result);

inline void replay(const native_run& run, sink& target, const std::filesystem::path& output_dir,
                   const export_options& options, export_result& result) {
    if (std::filesystem::exists(output_dir)) {
        result.message = "'" + output_dir.string() +
                         "' already exists (exported before?); remove it or choose --out";
        return;
    }
    result.output_dir = output_dir;
    replay_into(run, target, options, result);
}

/// replay() into `target`, wherever it writes (finalize rewrites an event file so).
inline void replay_into(const native_run& run, sink& target, const export_options& options,
                        export_result& result) {
    io_result r = target.start(run.info);
    if (!r.ok()) return void(result.message = r.message);
    for (const auto& def : run.metrics.as_array()) {
        const metric_definition d = definition_from_json(def);
        sink_event e;
        e.type = sink_event_type::metric;
        e.metric = &d;
        if (!(r = target.event(e)).ok()) return void(result.message = r.message);
    }
    // System samples go in between the rows, by time, as the live run interleaved them.
    std::size_t next_sample = 0;
    auto samples_until = [&](double time) {
        for (; next_sample < run.system.size(); ++next_sample) {
            const value& line = run.system[next_sample];
            const double t = line.find("_timestamp")->as_double();
            if (t > time) return io_result{};
            value values = value::object();
            for (const auto& [key, v] : line.as_object())
                if (key != "_timestamp" && key != "_runtime") values[key] = v;
            const system_sample sample{static_cast<std::int64_t>(next_sample),
                                       t - run.info.start_time, t, values};
            sink_event e;
            e.type = sink_event_type::system;
            e.system = &sample;
            if (io_result sent = target.event(e); !sent.ok()) return sent;
        }
        return io_result{};
    };
    for (const auto& row : run.rows) {
        if (const value* t = row.find("_timestamp"))
            if (!(r = samples_until(t->as_double())).ok()) return void(result.message = r.message);
        std::vector<std::string> paths;
        for (const auto& member : row.as_object()) media_paths(member.second, run.dir, paths);
        for (const auto& path : paths) {
            // Only files under the run's media/: a crafted history line must not make export
            // copy (and sync upload) anything else.
            if (path.rfind("media/", 0) != 0 || path.find("..") != std::string::npos ||
                path.find('\\') != std::string::npos) {
                result.warnings.push_back("media path '" + path +
                                          "' is outside media/; not exported");
                continue;
            }
            std::ifstream in(run.dir / path, std::ios::binary);
            if (!in) {
                result.warnings.push_back("media file '" + path + "' is missing; not exported");
                continue;
            }
            const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                                  std::istreambuf_iterator<char>());
            const media_event m{path, &bytes};
            sink_event e;
            e.type = sink_event_type::media;
            e.media = &m;
            if (!(r = target.event(e)).ok()) return void(result.message = r.message);
            ++result.media_files;
        }
        const history_row h{row.find("_step")->as_int(),
                            row.find("_runtime") ? row.find("_runtime")->as_double() : 0.0,
                            row.find("_timestamp") ? row.find("_timestamp")->as_double() : 0.0,
                            row};
        sink_event e;
        e.type = sink_event_type::row;
        e.row = &h;
        if (!(r = target.event(e)).ok()) return void(result.message = r.message);
        if (++result.rows % 10000 == 0 && options.progress) options.progress(result.rows);
    }
    if (!(r = samples_until(INFINITY)).ok()) return void(result.message = r.message);
    for (const auto& a : run.artifacts) {
        const artifact_event artifact{a.used, a.timestamp, a.manifest, a.aliases, a.dir};
        sink_event e;
        e.type = sink_event_type::artifact;
        e.artifact = &artifact;
        if (!(r = target.event(e)).ok()) return void(result.message = r.message);
        if (!a.used) ++result.artifacts;
    }
    if (!run.console.empty()) {
        // output.log does not keep which stream a byte came from, nor when: all of it as stdout,
        // at the run's end.
        const console_output chunk{1, run.end_time, run.console};
        sink_event e;
        e.type = sink_event_type::console;
        e.console = &chunk;
        if (!(r = target.event(e)).ok()) return void(result.message = r.message);
    }
    run_stats stats;
    stats.rows_committed = result.rows;
    const finish_info end{run.exit_code,
                          run.status,
                          run.end_time,
                          run.end_time - run.info.start_time,
                          stats,
                          run.summary,
                          run.exit_code > 128 && !run.signal.empty() ? run.exit_code - 128 : 0,
                          run.signal};
    if (!(r = target.finish(end)).ok()) return void(result.message = r.message);
    result.ok = true;
    result.message =
        "exported " + run.dir.string() + " -> " + result.output_dir.string() + " (" +
        std::to_string(result.rows) + " rows, " + std::to_string(result.media_files) +
        " media files, " + std::to_string(result.artifacts) + " artifact versions" +
        (result.artifacts_pruned > 0
             ? " (" + std::to_string(result.artifacts_pruned) + " more were pruned)"
             : std::string()) +
        (result.crashed ? ", crashed run: exit code " + std::to_string(run.exit_code) : "") + ")";
}

}  // namespace detail

/// The run as a W&B offline run under <output_root>/wandb/, for `wandb sync`.
inline export_result export_to_wandb(const std::filesystem::path& run_path,
                                     const export_options& options = {}) {
    export_result result;
    detail::native_run run;
    if (!detail::read_native_run(run_path, options, run, result)) return result;
    if (options.entity.empty()) {
        std::size_t logged = 0;
        for (const auto& a : run.artifacts) logged += a.used ? 0 : 1;
        if (logged > 0) {  // refused before anything is written: W&B sync uses it verbatim
            result.message = "the run logged " + std::to_string(logged) +
                             " artifact versions, and W&B needs an entity for artifacts: pass "
                             "--entity E (export_options::entity)";
            return result;
        }
    }
    wandb_sink sink(options.entity, false, options.sync_root);
    detail::replay(run, sink, wandb_sink::directory_for(run.info), options, result);
    return result;
}

/// The run as TensorBoard event files under <output_root>/tensorboard/<name>_<id>/.
inline export_result export_to_tensorboard(const std::filesystem::path& run_path,
                                           const export_options& options = {}) {
    export_result result;
    detail::native_run run;
    if (!detail::read_native_run(run_path, options, run, result)) return result;
    tensorboard_sink sink;
    detail::replay(run, sink, tensorboard_sink::directory_for(run.info), options, result);
    return result;
}

}  // namespace v0
}  // namespace runlog
