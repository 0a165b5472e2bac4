// SPDX-License-Identifier: MIT
#pragma once
// Encoders for the W&B `Record` protobufs a run needs (wandb-offline-format.md §3): pure
// functions from values to the serialized Record bytes. Field numbers are W&B's persistent ones.
// Only long-standing record types are produced, and `control` is never set.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../metric.hpp"
#include "../sinks/sink.hpp"
#include "../value.hpp"
#include "../version.hpp"
#include "checksums.hpp"
#include "json_writer.hpp"
#include "os.hpp"
#include "protobuf.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {
namespace wandb {

// Record oneof field numbers.
enum record_field : std::uint32_t {
    history = 2,
    summary = 3,
    config = 5,
    files = 6,
    stats = 7,
    artifact = 8,
    metric = 12,
    output_raw = 13,
    run = 17,
    exit = 18,
    final_record = 20,
    header = 21,
    preempting = 23,  // RunPreemptingRecord: empty; sync marks the run as preempting
};

/// Record{num, <field>: body}.
inline std::vector<std::uint8_t> record(std::int64_t num, record_field field,
                                        const proto_writer& body) {
    proto_writer r;
    r.int64(1, num).message(field, body);
    return r.bytes();
}

inline proto_writer header_body() {
    return proto_writer().message(1, proto_writer().string(1, "runlog " RUNLOG_VERSION_STRING));
}

inline bool is_histogram(const value& v) {
    const value* type = v.find("_type");
    return type != nullptr && type->as_string() == "histogram";
}

/// True when `v` holds a histogram with runlog's "stats" member (at any depth).
inline bool has_histogram_stats(const value& v) {
    if (!v.is_object()) return false;
    if (is_histogram(v)) return v.contains("stats");
    for (const auto& member : v.as_object())
        if (has_histogram_stats(member.second)) return true;
    return false;
}

/// `v` in W&B's shapes: histograms lose runlog's "stats" member, which W&B's histogram lacks.
inline value wandb_shaped(const value& v) {
    if (!has_histogram_stats(v)) return v;
    const bool histogram = is_histogram(v);
    value out = value::object();
    for (const auto& [key, member] : v.as_object())
        if (!histogram || key != "stats") out[key] = wandb_shaped(member);
    return out;
}

/// A value as the JSON W&B reads (histograms reshaped), appended to `out`.
inline void dump_item_value(const value& v, std::string& out) {
    if (has_histogram_stats(v)) {
        wandb_shaped(v).dump(out);
    } else {
        v.dump(out);
    }
}

/// One `update` item (key, value_json) of a ConfigRecord / SummaryRecord / HistoryRecord body.
inline void write_item(proto_writer& body, std::string_view key, std::string_view json) {
    const std::size_t item = body.begin(1);
    body.string(1, key).string(16, json).end(item);
}

/// The items of a body, appended to `body`: one per top-level key with its whole value as JSON
/// (legacy sync merges only top-level keys, so values are never split). `json` is scratch space,
/// reused between records.
inline void write_items(proto_writer& body, const value& object, std::string& json,
                        std::string_view skipped_key = {}) {
    for (const auto& [key, v] : object.as_object()) {
        if (!skipped_key.empty() && key == skipped_key) continue;
        json.clear();
        dump_item_value(v, json);
        // Config keys are not checked where they enter (row keys are, so rows skip this).
        if (is_valid_utf8(key)) {
            write_item(body, key, json);
        } else {
            write_item(body, to_valid_utf8(key), json);
        }
    }
}

inline proto_writer items_body(const value& object) {
    proto_writer body;
    std::string json;
    write_items(body, object, json);
    return body;
}

/// The items of a ConfigRecord: the user's config without a `_wandb` key, which is W&B's own
/// (the native config keeps the user's). `with_internal_key` puts `_wandb: {}` first, as W&B's
/// client does in the run record: legacy sync folds the metric definitions (config `_wandb.m`)
/// and telemetry into the config it uploads only when the config already holds `_wandb` —
/// ConfigState.to_backend_dict in wandb/sdk/internal/sender_config.py (v0.18.3) fills them into
/// a copy but returns the entries of the original tree. Without it no define_metric reaches the
/// server.
inline proto_writer config_body(const value& config, bool with_internal_key) {
    proto_writer body;
    if (with_internal_key) write_item(body, "_wandb", "{}");
    std::string json;
    if (config.is_object()) write_items(body, config, json, "_wandb");
    return body;
}

/// google.protobuf.Timestamp{seconds, nanos}. Times outside what a Timestamp may hold (years 1 to
/// 9999) are clamped to it and NaN becomes 0: a crafted or corrupt time must not overflow the
/// integer conversion (undefined behaviour) nor give a record wandb's readers refuse.
inline proto_writer timestamp(double unix_seconds) {
    constexpr double earliest = -62135596800.0, latest = 253402300799.0;
    const double t = std::isnan(unix_seconds) ? 0.0 : std::clamp(unix_seconds, earliest, latest);
    const double whole = std::floor(t);
    const auto nanos =
        std::min(static_cast<std::int64_t>((t - whole) * 1e9), std::int64_t{999999999});
    return proto_writer().int64(1, static_cast<std::int64_t>(whole)).int64(2, nanos);
}

/// How a run record continues a run W&B already has: from a later process (settings::resume),
/// or after rewind_to_step. The run then spans several offline directories, one .wandb file
/// each (legacy sync takes exactly one per directory); docs/wandb.md says how to sync them.
struct run_continuation {
    double start_time = 0.0;  // this file's start: Go sync orders a run's files by it
    std::int64_t starting_step = 0;
    bool resumed = false;                    // RunRecord.resumed; synced with --append
    std::optional<std::int64_t> rewound_to;  // a branch point on the run itself: sync rewinds it
};

/// RunRecord; `later` for a file that continues the run (nullptr for its first). Its text is
/// made valid UTF-8 (invalid bytes become U+FFFD): protobuf `string` fields must be, and wandb's
/// readers refuse a record that breaks that, which would leave the whole run unsyncable.
inline proto_writer run_body(const run_info& info, const std::string& entity,
                             const run_continuation* later = nullptr) {
    proto_writer run;
    run.string(1, info.id);  // checked by init: [A-Za-z0-9_.-]
    if (!entity.empty()) run.string(2, to_valid_utf8(entity));
    run.string(3, to_valid_utf8(info.project));
    run.message(4, config_body(info.config, true));
    if (!info.group.empty()) run.string(6, to_valid_utf8(info.group));
    if (!info.job_type.empty()) run.string(7, to_valid_utf8(info.job_type));
    run.string(8, to_valid_utf8(info.name));
    if (!info.notes.empty()) run.string(9, to_valid_utf8(info.notes));
    for (const auto& tag : info.tags) run.string(10, to_valid_utf8(tag));
    run.string(13, to_valid_utf8(info.host));
    if (later == nullptr) {
        run.message(17, timestamp(info.start_time));
        return run;
    }
    if (later->starting_step != 0) run.int64(14, later->starting_step);
    run.message(17, timestamp(later->start_time));
    if (later->resumed) run.boolean(18, true);
    // Seconds the run had before this file; its rows' _runtime go on from the first start.
    const double before = std::max(0.0, later->start_time - info.start_time);
    run.int64(20, static_cast<std::int64_t>(std::min(before, 2147483647.0)));
    if (later->rewound_to) {
        run.message(23, proto_writer()
                            .string(1, info.id)
                            .fixed64_double(2, static_cast<double>(*later->rewound_to))
                            .string(3, "_step"));
    }
    return run;
}

/// MetricRecord. A definition materialised from a glob is written as the client writes it:
/// named for the key, `defined` false, overwrite, expanded_from_glob.
inline proto_writer metric_body(const metric_definition& def) {
    proto_writer m;
    const bool expanded = !def.from_glob.empty();
    if (def.is_glob() && !expanded) {
        m.string(2, to_valid_utf8(def.name));
    } else {
        m.string(1, to_valid_utf8(def.name));
    }
    if (!def.step_metric.empty()) m.string(4, to_valid_utf8(def.step_metric));
    proto_writer options;
    if (def.step_sync) options.boolean(1, true);
    if (def.hidden) options.boolean(2, true);
    if (!expanded) options.boolean(3, true);
    m.message(6, options);
    proto_writer summary;
    if (def.summary & summary_min) summary.boolean(1, true);
    if (def.summary & summary_max) summary.boolean(2, true);
    if (def.summary & summary_mean) summary.boolean(3, true);
    if (def.summary & summary_best) summary.boolean(4, true);
    if (def.summary & summary_last) summary.boolean(5, true);
    if (def.summary & summary_none) summary.boolean(6, true);
    if (def.summary & summary_first) summary.boolean(8, true);
    if (summary.size() > 0) m.message(7, summary);
    if (def.goal != metric_goal::none) m.int64(8, def.goal == metric_goal::minimize ? 1 : 2);
    if (expanded) {
        m.message(9, proto_writer().boolean(1, true));
        m.boolean(10, true);
    }
    return m;
}

/// FilesRecord for one file; type MEDIA (2) for media, WANDB (1) for W&B's own files.
inline proto_writer files_body(std::string_view path, int type) {
    proto_writer item;
    item.string(1, to_valid_utf8(path));
    if (type != 0) item.int64(3, type);
    return proto_writer().message(1, item);
}

/// HistoryRecord: one item per member of the row (which holds _step, _runtime, _timestamp).
inline proto_writer history_body(const value& row, std::int64_t step) {
    proto_writer body;
    std::string json;
    write_items(body, row, json);
    const std::size_t history_step = body.begin(2);
    body.int64(1, step).end(history_step);
    return body;
}

/// summary {_wandb: {runtime}, _runtime}: the client writes the runtime pair this way.
inline proto_writer runtime_summary_body(std::int64_t seconds) {
    proto_writer body;
    body.message(1, proto_writer()
                        .string(2, "_wandb")
                        .string(2, "runtime")
                        .string(16, std::to_string(seconds)));
    body.message(1, proto_writer().string(1, "_runtime").string(16, std::to_string(seconds)));
    return body;
}

/// StatsRecord{stats_type SYSTEM (0, omitted), timestamp, item{key, value_json}...}; sync shows
/// each item as `system.<key>`.
inline proto_writer stats_body(double unix_seconds, const value& values) {
    proto_writer body;
    body.message(2, timestamp(unix_seconds));
    for (const auto& [key, v] : values.as_object())
        body.message(3, proto_writer().string(1, key).string(16, v.dump()));
    return body;
}

/// OutputRawRecord{output_type (STDERR 0, STDOUT 1), timestamp, line}. The text must be UTF-8
/// in a proto string: invalid bytes become U+FFFD.
inline proto_writer output_raw_body(const console_output& chunk) {
    proto_writer body;
    if (chunk.stream == 1) body.int64(1, 1);
    body.message(2, timestamp(chunk.timestamp));
    body.string(3, is_valid_utf8(chunk.text) ? chunk.text : to_valid_utf8(chunk.text));
    return body;
}

/// The manifest digest W&B computes: hex MD5 of "wandb-artifact-manifest-v1\n" and
/// "<path>:<digest>\n" per entry, sorted by path (`entries`: path -> base64 MD5).
inline std::string manifest_digest(std::vector<std::pair<std::string, std::string>> entries) {
    std::sort(entries.begin(), entries.end());
    md5 sum;
    const std::string_view head = "wandb-artifact-manifest-v1\n";
    sum.update(head.data(), head.size());
    for (const auto& [path, digest] : entries) {
        const std::string line = path + ":" + digest + "\n";
        sum.update(line.data(), line.size());
    }
    const auto d = sum.digest();
    return to_hex(d.data(), d.size());
}

/// 128 characters of [a-z0-9] for client_id / sequence_client_id, derived from `seed` so that
/// exporting a run twice gives the same records.
inline std::string client_id(const std::string& seed) {
    const std::string first = "1:" + seed, second = "2:" + seed;
    return sha256_hex(first.data(), first.size()) + sha256_hex(second.data(), second.size());
}

/// One file of an artifact record: its name inside the artifact, base64 MD5, size, and where
/// `wandb sync` reads it.
struct artifact_entry {
    std::string path;
    std::string md5_base64;
    std::int64_t size = 0;
    std::string local_path;
};

/// ArtifactRecord (wandb-offline-format.md §3.12) for a run-logged, finalized artifact version.
inline proto_writer artifact_body(const std::string& run_id, const std::string& project,
                                  const std::string& entity, const value& manifest,
                                  const std::vector<std::string>& aliases,
                                  const std::vector<artifact_entry>& entries) {
    auto text = [&](const char* key) {  // valid UTF-8, as run_body's
        const value* v = manifest.find(key);
        return v ? to_valid_utf8(v->as_string()) : std::string();
    };
    std::vector<std::pair<std::string, std::string>> digests;
    for (const auto& e : entries) digests.emplace_back(e.path, e.md5_base64);
    proto_writer m;
    m.int64(1, 1).string(2, "wandb-storage-policy-v1");
    m.message(3, proto_writer().string(1, "storageLayout").string(2, "\"V2\""));
    for (const auto& e : entries)
        m.message(4, proto_writer()
                         .string(1, to_valid_utf8(e.path))
                         .string(2, e.md5_base64)
                         .int64(4, e.size)
                         .string(6, to_valid_utf8(e.local_path)));
    const std::string seed =
        run_id + "/" + text("name") + ":v" + std::to_string(manifest.find("version")->as_int());
    proto_writer a;
    a.string(1, run_id).string(2, to_valid_utf8(project)).string(3, to_valid_utf8(entity));
    a.string(4, text("type"));
    a.string(5, text("name")).string(6, manifest_digest(std::move(digests)));
    if (!text("description").empty()) a.string(7, text("description"));
    const value* metadata = manifest.find("metadata");
    a.string(8, metadata ? metadata->dump() : std::string("{}"));
    for (const auto& alias : aliases) a.string(11, to_valid_utf8(alias));
    a.message(12, m);
    a.boolean(14, true);  // finalize
    a.string(15, client_id("client/" + seed));
    a.string(16, client_id("sequence/" + seed));
    return a;
}

/// Whole seconds as W&B's client counts a runtime (int32, truncated: handler.go, handler.py).
inline std::int64_t whole_seconds(double seconds) {
    return seconds > 0.0 ? static_cast<std::int64_t>(std::min(seconds, 2147483647.0)) : 0;
}

/// files/config.yaml in the legacy client's form (sync regenerates it; it is for people).
inline std::string config_yaml(const value& config) {
    std::string yaml = "wandb_version: 1\n\n";
    if (!config.is_object()) return yaml;
    for (const auto& [key, v] : config.as_object()) {
        if (key == "_wandb") continue;
        write_json_string(yaml, key);
        yaml += ":\n  desc: null\n  value: " + v.dump() + "\n";
    }
    return yaml;
}

/// The GPUs the system samples described (gpu.<i>.memoryTotalBytes), for wandb-metadata.json.
class gpu_list {
  public:
    void note(const value& sample) {
        for (const auto& [key, v] : sample.as_object()) {
            constexpr std::string_view prefix = "gpu.", suffix = ".memoryTotalBytes";
            if (key.size() <= prefix.size() + suffix.size() || key.compare(0, 4, prefix) != 0 ||
                key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0)
                continue;
            const std::string index = key.substr(4, key.size() - 4 - suffix.size());
            if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos ||
                index.size() > 3)
                continue;
            const auto i = static_cast<std::size_t>(std::stoul(index));
            if (memory_total_.size() <= i) memory_total_.resize(i + 1);
            memory_total_[i] = v;
        }
    }
    /// [{"memoryTotal": bytes}, ...] by index, as wandb-core's gpu_nvidia list.
    value list() const {
        value out = value::array();
        for (const auto& total : memory_total_) out.push_back({{"memoryTotal", total}});
        return out;
    }

  private:
    std::vector<value> memory_total_;
};

/// files/wandb-metadata.json: the fields of W&B's metadata (MetadataRequest in
/// wandb_internal.proto, v0.18.3, which wandb-core writes as JSON) that runlog knows, from what
/// run.json recorded: `args` without the program, which is `program`; `state` is how the run
/// ended and `heartbeatAt` when; no `python` (there is none). `command_line` is used when the
/// run recorded no environment.
inline value metadata(const run_info& info, const std::vector<std::string>& command_line,
                      const finish_info& end, const value& gpus) {
    const value& env = info.environment;
    std::vector<std::string> argv = command_line;
    if (const value* recorded = env.find("args"); recorded && recorded->is_array()) {
        argv.clear();
        for (const auto& a : recorded->as_array()) argv.push_back(a.as_string());
    }
    value args = value::array();
    for (std::size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i]);
    const double started =
        info.session_start_time > 0.0 ? info.session_start_time : info.start_time;
    value m = {{"os", env.find("os") ? *env.find("os") : value("")},
               {"heartbeatAt", iso8601_utc(end.end_time)},
               {"startedAt", iso8601_utc(started)},
               {"args", std::move(args)},
               {"state", end.status},
               {"program", argv.empty() ? std::string() : argv.front()}};
    if (const value* commit = info.git.find("commit")) {
        const value* remote = info.git.find("remote");
        m["git"] = {{"remote", remote ? *remote : value("")}, {"commit", *commit}};
        if (const value* root = info.git.find("root")) m["root"] = *root;
    } else if (const value* cwd = env.find("cwd")) {
        m["root"] = *cwd;
    }
    m["host"] = info.host;
    auto copy = [&](const char* from, const char* to) {
        if (const value* v = env.find(from)) m[to] = *v;
    };
    copy("username", "username");
    copy("executable", "executable");
    copy("cpu_count", "cpu_count");
    copy("cpu_count_logical", "cpu_count_logical");
    if (env.find("cpu_count") || env.find("cpu_count_logical")) {
        m["cpu"] = value::object();
        if (const value* v = env.find("cpu_count")) m["cpu"]["count"] = *v;
        if (const value* v = env.find("cpu_count_logical")) m["cpu"]["countLogical"] = *v;
    }
    if (gpus.size() > 0) {
        m["gpu_count"] = gpus.size();
        m["gpu_nvidia"] = gpus;
    }
    if (const value* total = env.find("memory_total_bytes")) m["memory"] = {{"total", *total}};
    if (const value* scheduler = env.find("scheduler")) {
        value slurm = value::object();
        for (const auto& [key, v] : scheduler->as_object()) {
            if (key.rfind("SLURM_", 0) != 0) continue;
            std::string name = key.substr(6);  // SLURM_JOB_ID -> job_id, as wandb writes it
            for (char& c : name) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
            slurm[name] = v;
        }
        if (slurm.size() > 0) m["slurm"] = std::move(slurm);
    }
    m["writer"] = "runlog " RUNLOG_VERSION_STRING;
    return m;
}

inline proto_writer exit_body(int exit_code, std::int64_t runtime_seconds) {
    proto_writer e;
    if (exit_code != 0) e.int64(1, exit_code);
    if (runtime_seconds != 0) e.int64(2, runtime_seconds);
    return e;
}

}  // namespace wandb
}  // namespace detail
}  // namespace v0
}  // namespace runlog
