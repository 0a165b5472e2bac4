// SPDX-License-Identifier: MIT
#pragma once
// The TensorBoard sink: an event file per run that `tensorboard --logdir <dir>/tensorboard` shows,
// written beside the native run directory (tensorboard-format.md).
//
//   <dir>/tensorboard/<name>_<id>/events.out.tfevents.<10-digit seconds>.<host>.<pid>.<n>
//
// What goes in, in order: the file_version record (with the writer's name); before the first
// row, `_hparams_/session_start_info` with the flattened config (later config changes do not
// reach TensorBoard: it keeps the first copy); then per committed row, at the row's `_timestamp`:
//
//   number, bool        float32 scalar (simple_value); bools as 0/1
//   string              text plugin, one Markdown string
//   histogram           HistogramProto: the samples' true min, max, num, sum, sum_squares when the
//                       histogram was built from samples (else derived from the bins: outer edges
//                       of the non-empty bins, bin midpoints); buckets from the first to the last
//                       non-empty bin — empty bins inside are kept, so every bucket keeps its
//                       true width when TensorBoard draws it
//   image, image list   images plugin, the PNG (or JPEG) files as written to the run's media/
//   table (log_text)    text plugin, a rank-2 table: the column names, then the rows
//   nested object       each leaf as <key>/<leaf>
//
// and at finish `_hparams_/session_end_info` (SUCCESS for exit code 0, else FAILURE). Arrays and
// nulls are not written (TensorBoard has no view for them; the native run keeps them). Steps are
// the row's `_step`, or, for a metric defined with a step_metric, that metric's value in the
// row (falling back to `_step` in a row without it, and for good once the step metric takes a
// value that is not an integer: see step_of).
//
// A file begins with file_version and, in a run's first session, SessionLog START at step 0;
// rewind_to_step(n) writes START at n + 1, which makes TensorBoard's Python loader drop the steps
// after n (its Rust loader does not purge at all). A resumed session writes its own file, and
// takes the earlier sessions' hparams out of theirs: TensorBoard keeps a run's first hparams, and
// the last session's config and end status are the ones to show.
//
// No `_hparams_/experiment` record is written: TensorBoard takes one experiment for the whole
// logdir from whichever run has it, which would hide other runs' hyperparameters. Without it,
// the dashboard takes the union of every run's session_start_info as columns and every scalar
// tag as a metric.
//
// Records are TFRecord-framed into a buffer and written whole at flush points, so a killed job
// leaves only complete records (plus at most one torn record at the end, which readers treat as
// not yet written). Enable with settings::tensorboard or RUNLOG_SINKS=...,tensorboard.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../detail/append_file.hpp"
#include "../detail/json_reader.hpp"
#include "../detail/os.hpp"
#include "../detail/tensorboard_events.hpp"
#include "../detail/tfrecord.hpp"
#include "../media/media.hpp"
#include "sink.hpp"

namespace runlog {
inline namespace v0 {

class tensorboard_sink final : public base_sink<null_mutex> {
  public:
    /// `file`: write exactly this event file (`runlog finalize` rewrites one so) instead of a new
    /// one named by time, host and pid in directory_for().
    explicit tensorboard_sink(std::filesystem::path file = {}) : chosen_file_(std::move(file)) {}

    /// <root>/tensorboard/<name>_<id> (or <id> for an unnamed run): where a run's event file goes.
    static std::filesystem::path directory_for(const run_info& info) {
        std::string run_name =
            info.name.empty() || info.name == info.id ? info.id : info.name + "_" + info.id;
        for (char& c : run_name) c = c == '/' ? '_' : c;
        return info.root_dir / "tensorboard" / detail::safe_media_stem(run_name);
    }

    const std::filesystem::path& file_path() const noexcept { return file_.path(); }

  protected:
    io_result start_(const run_info& info) override {
        namespace fs = std::filesystem;
        const fs::path dir = directory_for(info);
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) {
            return io_result::failure(errc::sink_start_failed,
                                      "cannot create '" + dir.string() + "': " + ec.message());
        }
        static std::atomic<int> writers{0};
        char stamp[24];
        std::snprintf(
            stamp, sizeof stamp, "%010lld",
            static_cast<long long>(file_time(
                dir, info.session_start_time > 0.0 ? info.session_start_time : info.start_time)));
        const fs::path path =
            !chosen_file_.empty()
                ? chosen_file_
                : dir / ("events.out.tfevents." + std::string(stamp) + "." + info.host + "." +
                         std::to_string(info.pid) + "." + std::to_string(writers++));
        if (info.resumed > 0) {
            if (io_result cleared = clear_earlier_hparams(dir); !cleared.ok()) return cleared;
        }
        if (io_result opened = file_.open(path, true); !opened.ok()) return opened;
        start_time_ = wall_time(info.start_time);
        config_ = info.config;
        append(detail::tensorboard::file_version_event(start_time_));
        // The run's first START, which the loader takes as its start, so that a rewind's START is
        // a restart. A resumed session's file has none: a START purges by one step for every
        // tag, and tags plotted against a step metric (tokens, say) would lose their points.
        if (info.resumed == 0) append(detail::tensorboard::session_log_start_event(start_time_, 0));
        return file_.write();
    }

    io_result event_(const sink_event& e) override {
        switch (e.type) {
            case sink_event_type::config:
                config_ = *e.config;
                break;
            case sink_event_type::metric:  // globs arrive materialised per key, too
                if (e.metric->is_glob()) break;
                if (e.metric->step_metric.empty()) {
                    step_metric_.erase(e.metric->name);  // an overwrite may remove it
                } else {
                    step_metric_[e.metric->name] = e.metric->step_metric;
                }
                break;
            case sink_event_type::media:
                media_[e.media->path] = *e.media->bytes;
                break;
            case sink_event_type::summary:
                break;
            case sink_event_type::system:
                if (!file_.has_room()) return file_.row_left_out();
                write_system(*e.system);
                break;
            case sink_event_type::rewind:
                // A restart at n + 1: TensorBoard keeps the steps below it, step n included.
                append(detail::tensorboard::session_log_start_event(
                    wall_time(detail::unix_time_now()),
                    *e.rewind_step < INT64_MAX ? *e.rewind_step + 1 : INT64_MAX));
                return file_.write();
            case sink_event_type::console:
            case sink_event_type::artifact:
            case sink_event_type::signal:
                break;  // TensorBoard has no console view, no artifacts and no run states
            case sink_event_type::open_row:
                break;  // an event file cannot take a row back: it gets the row when it commits
            case sink_event_type::row:
                if (!file_.has_room()) return file_.row_left_out();
                write_row(*e.row);
                media_.clear();
                if (file_.buffer().size() >= 64 * 1024) return file_.write();
                break;
        }
        return {};
    }

    io_result flush_() override { return file_.write(); }

    io_result finish_(const finish_info& end) override {
        namespace tb = detail::tensorboard;
        if (!session_started_) start_session();
        detail::proto_writer summary;
        summary.message(1, tb::session_end_value(end.exit_code == 0 ? tb::session_status::success
                                                                    : tb::session_status::failure,
                                                 wall_time(end.end_time)));
        append(tb::summary_event(wall_time(end.end_time), 0, summary));
        io_result r = file_.write();
        file_.close();
        return r;
    }

  private:
    /// A row's values of one step: scalars (the fast path) and everything else.
    struct step_group {
        std::int64_t step = 0;
        std::vector<detail::tensorboard::scalar> scalars;
        detail::proto_writer others;
    };

    /// v[key], or null.
    static const value& member(const value& v, std::string_view key) {
        static const value null;
        const value* m = v.find(key);
        return m != nullptr ? *m : null;
    }

    static double wall_time(double t) {
        // A wall time of 0 would drag the run's start to 1970 (and NaN kills the file).
        return t > 0.0 && std::isfinite(t) ? t : detail::unix_time_now();
    }

    void append(const std::vector<std::uint8_t>& event) {
        detail::append_tfrecord(event.data(), event.size(), file_.buffer());
    }

    void start_session() {
        namespace tb = detail::tensorboard;
        session_started_ = true;
        detail::proto_writer summary;
        summary.message(1, tb::session_start_value(flatten(config_), start_time_));
        append(tb::summary_event(start_time_, 0, summary));
    }

    void write_row(const history_row& row) {
        if (!session_started_) start_session();
        groups_used_ = 0;
        nested_tags_.clear();
        for (const auto& [key, v] : row.data.as_object()) {
            if (key.empty() || key.front() == '_') continue;
            add(key, v, row);
        }
        const double wall = wall_time(row.timestamp);
        for (std::size_t i = 0; i < groups_used_; ++i) {
            step_group& g = groups_[i];
            if (!g.scalars.empty()) {
                detail::tensorboard::append_scalars_record(file_.buffer(), wall, g.step,
                                                           g.scalars.data(), g.scalars.size());
            }
            if (g.others.size() > 0) {
                append(detail::tensorboard::summary_event(wall, g.step, g.others));
            }
        }
    }

    /// System metrics as scalars `system/<key>`, at the sample's number as step.
    void write_system(const system_sample& sample) {
        std::vector<detail::tensorboard::scalar> scalars;
        std::vector<std::string> tags;
        tags.reserve(sample.values.size());
        for (const auto& [key, v] : sample.values.as_object()) {
            if (!v.is_number()) continue;
            tags.push_back("system/" + key);
            scalars.push_back({tags.back(), static_cast<float>(v.as_double())});
        }
        if (scalars.empty()) return;
        detail::tensorboard::append_scalars_record(file_.buffer(), wall_time(sample.timestamp),
                                                   sample.index, scalars.data(), scalars.size());
    }

    step_group& group(std::int64_t step) {
        for (std::size_t i = 0; i < groups_used_; ++i)
            if (groups_[i].step == step) return groups_[i];
        if (groups_used_ == groups_.size()) groups_.emplace_back();
        step_group& g = groups_[groups_used_++];
        g.step = step;
        g.scalars.clear();
        g.others = detail::proto_writer();
        return g;
    }

    /// The TensorBoard step of `tag` in `row`: its step metric's value, while that metric has
    /// only taken integral values. TensorBoard's steps are integers, and flooring put epochs 0.5
    /// and 0.9 on one step (the later point replaced the earlier); so from the first value that
    /// is not an integer, every tag of that step metric goes on at the run's `_step`, as
    /// Lightning's TensorBoard logger plots everything, and the step metric stays a scalar of its
    /// own.
    std::int64_t step_of(std::string_view tag, const history_row& row) {
        if (step_metric_.empty()) return row.step;
        const auto it = step_metric_.find(tag);
        if (it == step_metric_.end()) return row.step;
        const std::string& metric = it->second;
        if (fractional_step_metrics_.count(metric) != 0) return row.step;
        const value* s = row.data.find(metric);
        if (s == nullptr || !s->is_number()) return row.step;
        if (s->is_int()) return s->as_int();
        const double d = s->as_double();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18)
            return static_cast<std::int64_t>(d);
        fractional_step_metrics_.insert(metric);
        return row.step;
    }

    /// The seconds that name a new event file: its start, or one more than the latest file of
    /// the directory (a resumed session within the same second). TensorBoard reads a run's files
    /// in name order and takes the first SessionLog START as the run's start; a resumed file
    /// that sorted before the first one would turn that START into a restart and drop its rows.
    static long long file_time(const std::filesystem::path& dir, double start) {
        auto t = static_cast<long long>(start);
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
             it.increment(ec)) {
            const std::string name = it->path().filename().string();
            constexpr std::string_view prefix = "events.out.tfevents.";
            if (name.size() < prefix.size() + 10 || name.compare(0, prefix.size(), prefix) != 0)
                continue;
            const long long existing = std::atoll(name.substr(prefix.size(), 10).c_str());
            t = std::max(t, existing + 1);
        }
        return t;
    }

    /// A resumed run: the hparams of its earlier sessions come out of their event files (see
    /// events_without_hparams), each file replaced atomically. Only this sink's own files are
    /// rewritten, and only their hparams values; what they show otherwise is unchanged.
    io_result clear_earlier_hparams(const std::filesystem::path& dir) {
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
             it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (name.find("tfevents") == std::string::npos || !it->is_regular_file(ec)) continue;
            const std::string bytes = detail::read_small_file(it->path());
            const std::string kept = detail::tensorboard::events_without_hparams(bytes);
            if (kept == bytes) continue;
            if (io_result r = detail::write_file_atomically(it->path(), kept); !r.ok())
                return io_result::failure(errc::sink_start_failed,
                                          "resume: cannot rewrite '" + it->path().string() +
                                              "' without its hyperparameters: " + r.message);
        }
        return {};
    }

    /// True the first time `tag` is seen in this file: its value then carries plugin metadata.
    bool first_use(std::string_view tag) { return described_.emplace(tag).second; }

    void add(std::string_view tag, const value& v, const history_row& row) {
        namespace tb = detail::tensorboard;
        if (v.is_number() || v.is_bool()) {
            const float x =
                v.is_bool() ? (v.as_bool() ? 1.0f : 0.0f) : static_cast<float>(v.as_double());
            group(step_of(tag, row)).scalars.push_back({tag, x});
        } else if (v.is_string()) {
            group(step_of(tag, row))
                .others.message(1, tb::text_value(tag, first_use(tag), {v.as_string()}, {}));
        } else if (v.is_object()) {
            const value* type = v.find("_type");
            if (type == nullptr) {
                for (const auto& [key, member] : v.as_object()) {
                    nested_tags_.push_back(std::string(tag) + "/" + key);
                    add(nested_tags_.back(), member, row);
                }
            } else if (type->as_string() == "histogram") {
                add_histogram(tag, v, row);
            } else if (type->as_string() == "image-file" ||
                       type->as_string() == "images/separated") {
                add_images(tag, v, row);
            } else if (type->as_string() == "table-file") {
                add_table(tag, v, row);
            }
        }
    }

    void add_histogram(std::string_view tag, const value& v, const history_row& row) {
        const auto& counts = member(v, "values").as_array();
        const auto& edges = member(v, "bins").as_array();
        if (counts.empty() || edges.size() != counts.size() + 1) return;
        std::size_t first = 0, last = counts.size();
        while (first < counts.size() && counts[first].as_double() <= 0.0) ++first;
        while (last > first && counts[last - 1].as_double() <= 0.0) --last;
        detail::tensorboard::histogram_proto h;
        for (std::size_t i = first; i < last; ++i) {
            const double c = counts[i].as_double();
            const double mid = 0.5 * (edges[i].as_double() + edges[i + 1].as_double());
            h.bucket_limit.push_back(edges[i + 1].as_double());
            h.bucket.push_back(c);
            h.num += c;
            h.sum += c * mid;
            h.sum_squares += c * mid * mid;
        }
        if (first < last) {
            h.min = edges[first].as_double();
            h.max = edges[last].as_double();
        }
        if (const value* stats = v.find("stats")) {  // the samples' own statistics
            h.num = member(*stats, "num").as_double(h.num);
            h.min = member(*stats, "min").as_double(h.min);
            h.max = member(*stats, "max").as_double(h.max);
            h.sum = member(*stats, "sum").as_double(h.sum);
            h.sum_squares = member(*stats, "sum_squares").as_double(h.sum_squares);
        }
        group(step_of(tag, row)).others.message(1, detail::tensorboard::histogram_value(tag, h));
    }

    /// The bytes of a media file of this row, or nullptr (not written: reported by the media
    /// writer already).
    const std::vector<std::uint8_t>* media_bytes(const value* path) const {
        if (path == nullptr) return nullptr;
        const auto it = media_.find(path->as_string());
        return it == media_.end() ? nullptr : &it->second;
    }

    void add_images(std::string_view tag, const value& v, const history_row& row) {
        std::vector<std::string_view> images;
        auto add_file = [&](const value* path) {
            if (const auto* bytes = media_bytes(path))
                images.emplace_back(reinterpret_cast<const char*>(bytes->data()), bytes->size());
        };
        add_file(v.find("path"));
        if (const value* names = v.find("filenames"))
            for (const auto& name : names->as_array()) add_file(&name);
        if (images.empty()) return;
        const auto side = [&](const char* key) {
            return static_cast<std::uint32_t>(member(v, key).as_int());
        };
        group(step_of(tag, row))
            .others.message(1, detail::tensorboard::images_value(tag, first_use(tag), side("width"),
                                                                 side("height"), images));
    }

    void add_table(std::string_view tag, const value& v, const history_row& row) {
        const auto* bytes = media_bytes(v.find("path"));
        if (bytes == nullptr) return;
        value content;
        std::string error;
        if (!detail::parse_json(
                std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()),
                content, error))
            return;
        const auto& columns = member(content, "columns").as_array();
        const auto& data = member(content, "data").as_array();
        std::vector<std::string> cells;
        for (const auto& c : columns) cells.push_back(c.as_string());
        static const value missing;
        for (const auto& r : data) {
            for (std::size_t i = 0; i < columns.size(); ++i) {
                const value& cell = i < r.size() ? r.as_array()[i] : missing;
                if (cell.is_string()) {
                    cells.push_back(cell.as_string());
                } else if (cell.is_null()) {
                    cells.emplace_back();
                } else if (const value* path = cell.find("path")) {
                    cells.push_back("(image " + path->as_string() + ")");
                } else {
                    cells.push_back(cell.dump());
                }
            }
        }
        const auto rows = static_cast<std::int64_t>(data.size() + 1);
        const auto cols = static_cast<std::int64_t>(columns.size());
        group(step_of(tag, row))
            .others.message(
                1, detail::tensorboard::text_value(tag, first_use(tag), cells, {rows, cols}));
    }

    std::filesystem::path chosen_file_;
    detail::append_file file_;
    double start_time_ = 0.0;
    value config_ = value::object();
    bool session_started_ = false;
    std::map<std::string, std::string, std::less<>> step_metric_;
    std::set<std::string, std::less<>> fractional_step_metrics_;  // took a non-integral value
    std::map<std::string, std::vector<std::uint8_t>> media_;      // this row's media files
    std::set<std::string, std::less<>> described_;  // tags given metadata in this file
    std::vector<step_group> groups_;                // reused from row to row
    std::size_t groups_used_ = 0;
    std::deque<std::string> nested_tags_;  // "a/b" tags of this row (stable addresses)
};

}  // namespace v0
}  // namespace runlog
