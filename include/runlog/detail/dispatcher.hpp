// SPDX-License-Identifier: MIT
#pragma once
// The dispatcher: where the semantics live, once. It runs on the writer thread only, applies each
// event in queue order and hands finished results to every sink:
//
// - W&B's step rules. No step: merge into the pending row and commit it (commit=false only
//   accumulates). A larger step commits the pending row and moves on; the same step merges; a
//   smaller step drops the whole call (counted, reported). With a step, a row commits when a
//   larger step arrives, on commit=true, or at finish. Each committed row gets `_step`, `_runtime`
//   and `_timestamp` (the time of the last call merged into it); an empty committed row still
//   advances the step.
// - define_metric: explicit names, trailing-'*' globs (first match wins, materialised per key and
//   announced to sinks), merging, step_sync (the last committed value of the step metric is copied
//   into rows that lack it; nothing is inserted before that metric has been logged once).
// - Summaries per metric (summary.hpp), summary_set overrides, and `_step/_runtime/_timestamp` of
//   the last row, sent to sinks at flush points.
// - What a value may be (series_kinds.hpp): text made valid UTF-8, one kind per series.
//
// Sink failures are counted; the first failure of a streak is reported, and the other sinks go on
// (sink_set.hpp).

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../media/media.hpp"
#include "../sinks/sink.hpp"
#include "../summary.hpp"
#include "checksums.hpp"
#include "counters.hpp"
#include "error_reporter.hpp"
#include "event.hpp"
#include "os.hpp"
#include "series_kinds.hpp"
#include "sink_set.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

class dispatcher {
  public:
    dispatcher(std::vector<std::shared_ptr<sink>> sinks, error_reporter& reporter, counters& counts,
               double start_time)
        : sinks_(std::move(sinks), reporter, counts),
          reporter_(reporter),
          counts_(counts),
          start_time_(round_to_microseconds(start_time)) {}

    void apply(const event& e) {
        switch (e.kind) {
            case event_kind::row:
                apply_row(e);
                break;
            case event_kind::config: {
                sink_event out;
                out.type = sink_event_type::config;
                out.config = &e.payload->data;
                send(out);
                break;
            }
            case event_kind::define_metric:
                define(e.payload->definition, e.payload->overwrite);
                break;
            case event_kind::summary_set:
                summary_for(e.payload->key).set_override(e.payload->data);
                summary_dirty_ = true;
                break;
            case event_kind::flush:
                flush();
                break;
            case event_kind::console: {
                const console_output chunk{e.payload->stream, e.time, e.payload->key};
                sink_event out;
                out.type = sink_event_type::console;
                out.console = &chunk;
                send(out);
                break;
            }
            case event_kind::artifact: {
                const artifact_event artifact{e.payload->stream == 1, e.time, e.payload->data,
                                              e.payload->aliases, e.payload->key};
                sink_event out;
                out.type = sink_event_type::artifact;
                out.artifact = &artifact;
                send(out);
                break;
            }
            case event_kind::signal: {
                const int number = e.payload->stream;
                const signal_event mark{number, signal_name(number), signal_status(number), e.time};
                sink_event out;
                out.type = sink_event_type::signal;
                out.signal = &mark;
                send(out);
                flush();  // marked on disk now: the process may not live to the next flush
                break;
            }
            case event_kind::rewind:
                break;  // run_state::apply calls rewind(), which needs the history read back
            case event_kind::system: {
                const system_sample sample{system_samples_++, e.time - start_time_, e.time,
                                           e.payload->data};
                sink_event out;
                out.type = sink_event_type::system;
                out.system = &sample;
                send(out);
                break;
            }
        }
    }

    /// A resumed run (settings::resume): takes over the metric definitions, the rows and the
    /// summary already in its files, so that summaries stay exact and the next row without a
    /// step comes after the last committed one. Keys of `summary` that no row has (summary_set
    /// values) come back as they were. Called before the writer starts.
    void restore(const std::vector<metric_definition>& definitions, const std::vector<value>& rows,
                 const value& summary) {
        for (const metric_definition& def : definitions) define(def, true);
        for (const value& row : rows) {
            if (!replay_row(row, INT64_MAX)) continue;
            const value* time = row.find("_timestamp");
            last_time_ = time ? time->as_double(last_time_) : last_time_;
            current_step_ = last_step_ < INT64_MAX ? last_step_ + 1 : last_step_;
            steps_exhausted_ = last_step_ == INT64_MAX;
        }
        if (summary.is_object()) {
            for (const auto& [key, v] : summary.as_object()) {
                if (key.empty() || key.front() == '_') continue;
                metric_summary& s = summary_for(key);
                if (!s.seen()) s.set_override(v);
            }
        }
        summary_dirty_ = true;
    }

    /// rewind_to_step(step): drops an open row past `step`, tells the sinks to hide the rows
    /// after it, then recomputes the summaries from the rows `kept_rows` reads back (after the
    /// sinks have acted; nullopt when no sink keeps rows to read) and goes on at step + 1.
    template <class ReadRows>
    void rewind(std::int64_t step, ReadRows&& kept_rows) {
        if (pending_active_ && current_step_ > step) {
            pending_.clear();
            pending_active_ = false;
        } else if (pending_active_) {
            commit_pending();
        }
        flush();  // the sinks' files hold every row before they cut them
        sink_event out;
        out.type = sink_event_type::rewind;
        out.rewind_step = &step;
        sinks_.send_reporting_each(out);
        const std::optional<std::vector<value>> rows = kept_rows();
        if (rows) {
            for (auto& slot : summaries_) slot.summary.forget_values();
            for (const value& row : *rows) replay_row(row, step);
        } else {
            reporter_.report(errc::invalid_value,
                             "rewind_to_step(" + std::to_string(step) +
                                 "): the summaries still include the rows after it (they are "
                                 "recomputed from the native history, and native_files is off)");
        }
        last_step_ = std::min(last_step_, step);
        current_step_ = step < INT64_MAX ? step + 1 : step;
        steps_exhausted_ = steps_exhausted_ && step == INT64_MAX;
        summary_dirty_ = true;
        flush();
    }

    /// Sends the summary if it changed and the open row if it changed, then flushes every sink.
    void flush() {
        if (pending_active_ && open_row_dirty_) send_open_row();
        if (summary_dirty_) {
            const value summary = build_summary();
            sink_event out;
            out.type = sink_event_type::summary;
            out.summary = &summary;
            send(out);
            summary_dirty_ = false;
        }
        sinks_.flush();
    }

    /// Commits the pending row, then gives every sink the final summary and how the run ended
    /// (`signal`: the signal that ended it, or 0).
    value finish(int exit_code, double end_time, int signal = 0) {
        if (pending_active_) commit_pending();
        const value summary = build_summary();
        summary_dirty_ = false;  // the final summary travels in finish_info, not as an event
        flush();
        run_stats stats = counts_.snapshot();
        stats.errors_reported = reporter_.reported();
        stats.errors_suppressed = reporter_.suppressed();
        const finish_info info{
            exit_code, signal != 0 ? signal_status(signal) : exit_code == 0 ? "finished" : "failed",
            end_time,  end_time - start_time_,
            stats,     summary,
            signal,    signal != 0 ? signal_name(signal) : std::string()};
        sinks_.finish(info);
        return summary;
    }

    /// The summary as it stands (keys in first-logged order, then _step/_runtime/_timestamp).
    value build_summary() {
        value out = value::object();
        auto& members = out.as_object();
        for (auto& slot : summaries_) {
            if (auto entry = slot.summary.build(resolve(slot.key))) {
                members.emplace_back(slot.key, std::move(*entry));
            }
        }
        if (counts_.rows_committed.load(std::memory_order_relaxed) > 0) {
            members.emplace_back("_step", last_step_);
            members.emplace_back("_runtime", last_time_ - start_time_);
            members.emplace_back("_timestamp", last_time_);
        }
        return out;
    }

  private:
    struct summary_slot {
        std::string key;
        metric_summary summary;
    };

    /// Adds a history row read back from disk to the summaries, if it has a step no later than
    /// `up_to` (restore and rewind rebuild the summaries this way).
    bool replay_row(const value& row, std::int64_t up_to) {
        const value* step = row.find("_step");
        if (step == nullptr || !step->is_int() || step->as_int() > up_to) return false;
        for (const auto& [key, v] : row.as_object()) {
            if (key.empty() || key.front() == '_') continue;
            const std::size_t slot = summary_slot_of(key);
            kinds_.note(slot, key, v);
            summaries_[slot].summary.add(v, step->as_int());
        }
        last_step_ = step->as_int();
        return true;
    }

    void apply_row(const event& e) {
        counters::bump_single_writer(counts_.log_calls);
        if (steps_exhausted_) {  // a row at INT64_MAX was committed: no later step exists
            counters::bump(counts_.dropped_step);
            if (!exhausted_reported_)
                reporter_.report(errc::step_not_increasing,
                                 "log dropped: a row was committed at step INT64_MAX, which "
                                 "is the last step; later rows have none (every _step must be "
                                 "distinct)");
            exhausted_reported_ = true;
            return;
        }
        if (e.has_step && e.step < current_step_) {
            counters::bump(counts_.dropped_step);
            reporter_.report(errc::step_not_increasing,
                             "log at step " + std::to_string(e.step) +
                                 " dropped: the current step is " + std::to_string(current_step_) +
                                 " and steps must not decrease (log other x-axes as a key and "
                                 "define_metric(..., step_metric))");
            return;
        }
        // A call whose every field is refused (a bad image, a reserved key) logs nothing: it
        // commits no empty row and moves no step (an empty log() still does, as in W&B).
        bool any_field = false, all_refused = true;
        e.for_each_item([&](const field_item& item) {
            any_field = true;
            if (item.key->status == key_status::ok && item.kind != item_kind::invalid)
                all_refused = false;
        });
        if (any_field && all_refused) {
            e.for_each_item([&](const field_item& item) { refuse(e, item); });
            return;
        }
        // W&B's client names a media file by the step as it stood when log() was called, before
        // a larger explicit step moves it on (wandb_run.py: user_step=self._step).
        const std::int64_t call_step = current_step_;
        if (e.has_step && e.step > current_step_) {
            if (pending_active_) commit_pending();
            current_step_ = e.step;
        }
        e.for_each_item([&](const field_item& item) {
            if (item.key->status != key_status::ok || item.kind == item_kind::invalid) {
                refuse(e, item);
                return;
            }
            switch (item.kind) {
                case item_kind::media: {
                    const media_source& source = *e.payload->media[item.complex_index];
                    const std::string_view type = source.value_type();
                    if (!type.empty() && !admit(*item.key, kind_of_media_type(type))) return;
                    value v = encode_media(source, item.key->name, call_step);
                    if (type.empty() && !admit(*item.key, kind_of(v))) return;
                    merge_into_pending(item.key, std::move(v));
                    return;
                }
                case item_kind::complex: {
                    value v = e.item_value(item);
                    replace_invalid_utf8(v);
                    if (!admit(*item.key, kind_of(v))) return;
                    if (kinds_.of(slot_of(*item.key)) == series_kind::object) {
                        kinds_.check_nested(item.key->name, v,
                                            [&](const std::string& path, series_kind was,
                                                series_kind now) { drop_mixed(path, was, now); });
                    }
                    merge_into_pending(item.key, std::move(v));
                    return;
                }
                default:
                    if (!admit(*item.key, series_kind::number)) return;
                    merge_into_pending(item.key, item.kind == item_kind::float32
                                                     ? float_value(*item.key, item.f)
                                                     : e.item_value(item));
                    return;
            }
        });
        pending_active_ = true;
        open_row_dirty_ = true;
        pending_time_ = round_to_microseconds(e.time);  // what the JSON histories print
        const bool commit = e.commit < 0 ? !e.has_step : e.commit > 0;
        if (commit) commit_pending();
    }

    /// value(f) (the double that prints as f's shortest form), through the key's one-entry cache.
    static value float_value(const key_entry& key, float f) {
        std::uint32_t bits;
        std::memcpy(&bits, &f, sizeof bits);  // bitwise: -0.0f and NaN payloads stay distinct
        if (bits != key.last_float_bits) {
            key.last_float_bits = bits;
            key.last_float_as_double = value(f).as_double();
        }
        return key.last_float_as_double;
    }

    /// True if a value of kind `k` fits `key`'s series (the first non-null value fixes it);
    /// otherwise the field is dropped, counted and reported.
    bool admit(const key_entry& key, series_kind k) {
        const std::size_t slot = slot_of(key);
        if (kinds_.fits(slot, k)) return true;
        drop_mixed(key.name, kinds_.of(slot), k);
        return false;
    }

    void drop_mixed(const std::string& key, series_kind was, series_kind now) {
        counters::bump(counts_.dropped_fields);
        if (kinds_.first_report(key))
            reporter_.report(errc::invalid_value,
                             mixed_series_message(key, was, now, current_step_));
    }

    /// Encodes a media field (files named by `step`), hands each file to the sinks, and
    /// returns the JSON value that stands for it in the row.
    value encode_media(const media_source& source, const std::string& key, std::int64_t step) {
        const std::string stem = safe_media_stem(key);
        const auto write = [&](media_file&& file) {
            const std::string digest = sha256_hex(file.bytes.data(), file.bytes.size());
            media_event m;
            m.path = "media/" + file.kind + "/" + stem + "_" + std::to_string(step) + "_" +
                     digest.substr(0, 20) + file.extension;
            m.bytes = &file.bytes;
            sink_event out;
            out.type = sink_event_type::media;
            out.media = &m;
            send(out);
            // W&B's key order: _type, path, sha256, size, then the kind's own fields.
            value v = value::object();
            v["_type"] = file.description.find("_type") ? *file.description.find("_type") : value();
            v["path"] = m.path;
            v["sha256"] = digest;
            v["size"] = file.bytes.size();
            for (const auto& [k, item] : file.description.as_object())
                if (k != "_type") v[k] = item;
            return v;
        };
        return source.encode(key, step, write);
    }

    void merge_into_pending(const key_entry* key, value v) {
        for (auto& [k, existing] : pending_) {
            if (k == key) {
                existing = std::move(v);
                return;
            }
        }
        pending_.emplace_back(key, std::move(v));
    }

    /// Drops a field with a bad key or an invalid value: counted, reported (a bad key once).
    void refuse(const event& e, const field_item& item) {
        counters::bump(counts_.dropped_fields);
        if (item.key->status == key_status::ok) {
            reporter_.report(errc::invalid_value,
                             "field '" + item.key->name + "' dropped: " +
                                 e.payload->complex[item.complex_index].as_string());
        } else if (rejected_keys_.insert(item.key).second) {
            const auto [code, why] = why_rejected(*item.key);
            reporter_.report(code, why);
        }
    }

    void commit_pending() {
        // The row: the pending keys [0, logged), then step metrics step_sync adds, then _step,
        // _runtime, _timestamp. It lives in storage kept from row to row (sinks only borrow it
        // during send), and a row with the same keys as the previous one — a training loop's
        // usual row — keeps the member names and only replaces the values.
        const std::size_t logged = pending_.size();
        step_inserts_.clear();
        for (std::size_t i = 0; i < logged; ++i) add_step_metric(resolve(*pending_[i].first));
        auto& members = row_.as_object();
        const bool same_keys =
            step_inserts_.empty() && members.size() == logged + 3 && row_keys_.size() == logged &&
            std::equal(pending_.begin(), pending_.end(), row_keys_.begin(),
                       [](const auto& p, const key_entry* k) { return p.first == k; });
        if (same_keys) {
            for (std::size_t i = 0; i < logged; ++i)
                members[i].second = std::move(pending_[i].second);
            members[logged].second = current_step_;
            members[logged + 1].second = pending_time_ - start_time_;
            members[logged + 2].second = pending_time_;
        } else {
            members.clear();
            row_keys_.clear();
            members.reserve(logged + step_inserts_.size() + 3);
            for (auto& [key, v] : pending_) {
                members.emplace_back(key->name, std::move(v));
                row_keys_.push_back(key);
            }
            for (auto& inserted : step_inserts_) members.push_back(std::move(inserted));
            members.emplace_back("_step", current_step_);
            members.emplace_back("_runtime", pending_time_ - start_time_);
            members.emplace_back("_timestamp", pending_time_);
        }
        const std::size_t user_members = members.size() - 3;
        for (std::size_t i = 0; i < user_members; ++i) {
            metric_summary& summary =
                i < logged ? summary_for(*pending_[i].first) : summary_for(members[i].first);
            summary.add(members[i].second, current_step_);
        }
        history_row out_row{current_step_, pending_time_ - start_time_, pending_time_, row_};
        sink_event out;
        out.type = sink_event_type::row;
        out.row = &out_row;
        send(out);

        counters::bump_single_writer(counts_.rows_committed);
        summary_dirty_ = true;
        last_step_ = current_step_;
        last_time_ = pending_time_;
        pending_.clear();
        pending_active_ = false;
        // INT64_MAX is the last step: later rows are dropped (apply_row) rather than overflow.
        if (current_step_ < INT64_MAX) {
            ++current_step_;
        } else {
            steps_exhausted_ = true;
        }
    }

    /// The pending row as it would be committed now, to the sinks as open_row: a flush makes
    /// everything logged so far durable, and a row logged with a step stays open until a larger
    /// step arrives (W&B's rule), which may be never if the process dies.
    void send_open_row() {
        open_row_dirty_ = false;
        step_inserts_.clear();
        for (const auto& p : pending_) add_step_metric(resolve(*p.first));
        value row = value::object();
        auto& members = row.as_object();
        members.reserve(pending_.size() + step_inserts_.size() + 3);
        for (const auto& [key, v] : pending_) members.emplace_back(key->name, v);
        for (const auto& inserted : step_inserts_) members.push_back(inserted);
        members.emplace_back("_step", current_step_);
        members.emplace_back("_runtime", pending_time_ - start_time_);
        members.emplace_back("_timestamp", pending_time_);
        const history_row open{current_step_, pending_time_ - start_time_, pending_time_, row};
        sink_event out;
        out.type = sink_event_type::open_row;
        out.row = &open;
        send(out);
    }

    /// step_sync: the step metric's last value, for a row that lacks it (to step_inserts_).
    void add_step_metric(const metric_definition* def) {
        if (def == nullptr || !def->step_sync || def->step_metric.empty()) return;
        for (const auto& p : pending_)
            if (p.first->name == def->step_metric) return;
        for (const auto& inserted : step_inserts_)
            if (inserted.first == def->step_metric) return;
        const auto it = summary_index_.find(def->step_metric);
        if (it == summary_index_.end() || !summaries_[it->second].summary.seen()) return;
        step_inserts_.emplace_back(def->step_metric, summaries_[it->second].summary.last());
    }

    std::size_t summary_slot_of(const std::string& key) {
        const auto it = summary_index_.find(key);
        if (it != summary_index_.end()) return it->second;
        summary_index_.emplace(key, summaries_.size());
        summaries_.push_back(summary_slot{key, metric_summary{}});
        return summaries_.size() - 1;
    }

    metric_summary& summary_for(const std::string& key) {
        return summaries_[summary_slot_of(key)].summary;
    }

    /// The same through the key's cache: no string hashing once the key has been seen.
    std::size_t slot_of(const key_entry& key) {
        if (key.summary_slot == key_entry::no_slot) key.summary_slot = summary_slot_of(key.name);
        return key.summary_slot;
    }
    metric_summary& summary_for(const key_entry& key) { return summaries_[slot_of(key)].summary; }

    const metric_definition* resolve(const key_entry& key) {
        if (key.definition_generation != definitions_generation_) {
            key.definition = resolve(key.name);
            key.definition_generation = definitions_generation_;
        }
        return key.definition;
    }

    /// The definition that applies to `key`, materialising a glob's on first use.
    const metric_definition* resolve(const std::string& key) {
        if (const auto it = by_name_.find(key); it != by_name_.end()) return it->second;
        if (undefined_.count(key) != 0) return nullptr;
        for (const metric_definition* glob : globs_) {
            if (!glob->matches(key)) continue;
            metric_definition concrete = *glob;
            concrete.name = key;
            concrete.from_glob = glob->name;
            definitions_.push_back(std::move(concrete));
            metric_definition* def = &definitions_.back();
            by_name_.emplace(key, def);
            announce(*def);
            return def;
        }
        undefined_.insert(key);
        return nullptr;
    }

    void define(const metric_definition& def, bool overwrite) {
        undefined_.clear();
        ++definitions_generation_;  // every key_entry's cached definition is stale
        summary_dirty_ = true;      // the summary's shape may change
        if (const auto it = by_name_.find(def.name); it != by_name_.end()) {
            metric_definition& existing = *it->second;
            if (overwrite) {
                existing = def;
            } else {
                existing.merge(def);
            }
            announce(existing);
            return;
        }
        definitions_.push_back(def);
        metric_definition* stored = &definitions_.back();
        by_name_.emplace(def.name, stored);
        if (stored->is_glob()) globs_.push_back(stored);
        announce(*stored);
    }

    void announce(const metric_definition& def) {
        sink_event out;
        out.type = sink_event_type::metric;
        out.metric = &def;
        send(out);
    }

    void send(const sink_event& e) { sinks_.send(e); }

    sink_set sinks_;
    error_reporter& reporter_;
    counters& counts_;
    const double start_time_;

    std::int64_t current_step_ = 0;
    std::int64_t system_samples_ = 0;
    std::vector<std::pair<const key_entry*, value>> pending_;
    value row_ = value::object();             // the committed row, reused
    std::vector<const key_entry*> row_keys_;  // the keys of row_'s first members
    value::object_type step_inserts_;         // this row's step_sync additions
    bool pending_active_ = false;
    bool open_row_dirty_ = false;   // the pending row changed since the sinks last saw it open
    bool steps_exhausted_ = false;  // a row was committed at INT64_MAX
    bool exhausted_reported_ = false;
    double pending_time_ = 0.0;
    std::int64_t last_step_ = 0;
    double last_time_ = 0.0;

    std::deque<metric_definition> definitions_;  // deque: stable addresses
    std::unordered_map<std::string, metric_definition*> by_name_;
    std::vector<const metric_definition*> globs_;
    std::unordered_set<std::string> undefined_;  // keys known to match no definition
    std::uint64_t definitions_generation_ = 1;   // see key_entry::definition_generation

    std::vector<summary_slot> summaries_;
    std::unordered_map<std::string, std::size_t> summary_index_;
    bool summary_dirty_ = false;
    std::unordered_set<const key_entry*> rejected_keys_;
    series_kinds kinds_;  // what each series holds, by summary slot
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
