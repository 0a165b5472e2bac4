// SPDX-License-Identifier: MIT
#pragma once
// The front end: init() starts a run, and the run is what the training loop talks to.
//
//     auto run = runlog::init({.project = "mnist", .config = {{"lr", 1e-3}}});
//     run.define_metric("val/acc", {.summary = "max,last", .goal = "maximize"});
//     for (int step = 0; step < 100; ++step) run.log({{"train/loss", loss}});
//     run.finish();  // or let the destructor do it
//
// init() may throw runlog::error (setup: bad settings, unwritable directory). After that, nothing
// throws: log() validates nothing expensive, stamps the time, interns keys (lock-free once known)
// and pushes one event into the queue; bad keys, decreasing steps and sink failures are counted
// and reported from the writer thread through the rate-limited error handler.
//
// A disabled run (mode disabled, a non-zero rank, or a setup error with exceptions off) accepts
// every call, does nothing and never blocks.
//
// The hot path is defined here, on the caller side of the run (detail/run_core.hpp). init() and
// the rare calls are in run-inl.hpp: included at the end of this file, or compiled once into
// runlog::compiled (RUNLOG_COMPILED_LIB, config.hpp).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "artifact_types.hpp"
#include "config.hpp"
#include "detail/run_core.hpp"
#include "error.hpp"
#include "media/histogram.hpp"
#include "media/image.hpp"
#include "media/media.hpp"
#include "media/table.hpp"
#include "metric.hpp"
#include "settings.hpp"
#include "sinks/sink.hpp"
#include "stats.hpp"
#include "value.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {
struct run_state;  // detail/run_state.hpp: the writer side, used by run-inl.hpp only
}  // namespace detail

/// Outcome of flush() and finish().
enum class status {
    ok,
    timed_out,  // the deadline passed first; the run goes on (flush) or was abandoned (finish)
    disabled,   // a disabled run: nothing to do
    finished    // the run had already finished
};

inline const char* to_string(status s) noexcept {
    switch (s) {
        case status::ok:
            return "ok";
        case status::timed_out:
            return "timed out";
        case status::disabled:
            return "disabled";
        case status::finished:
            return "finished";
    }
    return "unknown";
}

/// One key and value of a log() call. Holds no copy: it lives for the call only.
class field {
  public:
    template <class T,
              std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, int> = 0>
    field(std::string_view key, T v) noexcept : key_(key) {
        if constexpr (std::is_same_v<T, float>) {
            kind_ = kind::float32;
            f_ = v;
        } else if constexpr (std::is_floating_point_v<T>) {
            kind_ = kind::floating;
            d_ = static_cast<double>(v);
        } else if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
            if (v > static_cast<T>(INT64_MAX)) {
                kind_ = kind::floating;  // beyond int64: the nearest double, as in value
                d_ = static_cast<double>(v);
            } else {
                kind_ = kind::integer;
                i_ = static_cast<std::int64_t>(v);
            }
        } else {
            kind_ = kind::integer;
            i_ = static_cast<std::int64_t>(v);
        }
    }
    field(std::string_view key, bool v) noexcept : key_(key), kind_(kind::boolean), b_(v) {}
    /// JSON null (`{"k", nullptr}`, or a null `const char*`): W&B's client writes None as null
    /// in history and summary; TensorBoard has no null and leaves it out.
    field(std::string_view key, std::nullptr_t) noexcept
        : key_(key), kind_(kind::nested), v_(&null_value()) {}
    field(std::string_view key, const char* v) noexcept : field(key, std::string_view(v ? v : "")) {
        if (v == nullptr) {
            kind_ = kind::nested;
            v_ = &null_value();
        }
    }
    field(std::string_view key, const std::string& v) noexcept : field(key, std::string_view(v)) {}
    field(std::string_view key, std::string_view v) noexcept : key_(key), kind_(kind::string) {
        s_.data = v.data();
        s_.size = v.size();
    }
    field(std::string_view key, const value& v) noexcept : key_(key), kind_(kind::nested), v_(&v) {}
    /// An image, image list or table (media/).
    field(std::string_view key, const media& m) noexcept : key_(key), kind_(kind::media), m_(&m) {}
    field(std::string_view key, const histogram& h) noexcept
        : key_(key), kind_(kind::histogram), h_(&h) {}

  private:
    friend class run;
    static const value& null_value() noexcept {
        static const value null;
        return null;
    }
    enum class kind : std::uint8_t {  // the scalars first: add_field tests kind_ > boolean
        integer,
        floating,
        float32,
        boolean,
        string,
        nested,
        media,
        histogram
    };
    struct text {
        const char* data;
        std::size_t size;
    };

    std::string_view key_;
    // Hashed here, where the key is usually a literal: the compiler folds the hash to a constant.
    std::uint64_t key_hash_ = detail::hash_key(key_);
    kind kind_;
    union {
        std::int64_t i_;
        double d_;
        float f_;
        bool b_;
        text s_;
        const value* v_;
        const media* m_;
        const histogram* h_;
    };
};

/// run.config: the nested config, merged by update() and written whenever it changes.
class config_handle {
  public:
    /// Deep-merges `changes` (an object) into the config.
    void update(const value& changes) noexcept {
        if (state_ == nullptr) return;
        if (!changes.is_object()) {
            state_->reporter.report(errc::invalid_value,
                                    "config.update needs an object, got " + changes.dump());
            return;
        }
        if (detail::nested_too_deep(changes)) {
            state_->reporter.report(errc::invalid_value, "config.update: nested deeper than " +
                                                             std::to_string(detail::max_nesting) +
                                                             " levels; ignored");
            return;
        }
        if (!state_->accepting()) return;
        std::lock_guard<std::mutex> lock(state_->config_mutex);  // keeps updates in call order
        state_->config.update(changes);
        detail::event e;
        e.kind = detail::event_kind::config;
        e.ensure_payload().data = state_->config;
        state_->enqueue_control(e, state_->block_timeout);
    }
    void set(std::string_view key, value v) noexcept {
        value changes = value::object();
        changes[key] = std::move(v);
        update(changes);
    }
    /// A copy of the config as merged so far.
    value get() const {
        if (state_ == nullptr) return value::object();
        std::lock_guard<std::mutex> lock(state_->config_mutex);
        return state_->config;
    }
    /// The flattened view: {"optimizer/beta1": 0.9, ...}.
    value flat(char separator = '/') const { return value(flatten(get(), separator)); }

  private:
    friend class run;
    friend run init(settings s);
    detail::run_core* state_ = nullptr;
};

class run {
  public:
    /// A disabled run.
    run() noexcept = default;
    run(run&& other) noexcept { *this = std::move(other); }
    run& operator=(run&& other) noexcept {
        if (this != &other) {
            close_on_destruction();
            state_ = std::move(other.state_);
            artifact_dir_ = std::move(other.artifact_dir_);
            rank_ = other.rank_;
            uncaught_at_start_ = other.uncaught_at_start_;
            config.state_ = state_.get();
            other.config.state_ = nullptr;
        }
        return *this;
    }
    run(const run&) = delete;
    run& operator=(const run&) = delete;
    /// Finishes the run if finish() was not called: exit code 1 while an exception unwinds.
    ~run() { close_on_destruction(); }

    /// False for a disabled run, and in a child of fork() (the run is its parent's).
    bool enabled() const noexcept { return state_ != nullptr && state_->in_owner_process(); }
    std::string id() const { return state_ ? state_->info.id : std::string(); }
    std::string name() const { return state_ ? state_->info.name : std::string(); }
    std::string project() const { return state_ ? state_->info.project : std::string(); }
    std::filesystem::path dir() const {
        return state_ ? state_->info.run_dir : std::filesystem::path();
    }
    /// This process's rank (RANK, SLURM_PROCID, ...; 0 without one), disabled ranks included.
    int rank() const noexcept { return rank_; }

    /// Logs one row. No step: merge into the pending row and commit it (`commit=false` only
    /// accumulates). With a step: see the step rules in detail/dispatcher.hpp.
    ///
    ///     run.log({{"train/loss", loss}, {"lr", lr}});
    ///     run.log({{"val/acc", acc}, {"epoch", epoch}}, global_step);
    void log(std::initializer_list<field> fields, std::optional<std::int64_t> step = std::nullopt,
             std::optional<bool> commit = std::nullopt) noexcept {
        detail::run_core* s = accepting();
        if (s == nullptr) return;
        // Cache-line aligned: otherwise where the event lands depends on the caller's stack, and
        // p50 moved between 70 and 90 ns with the length of the program's path
        // (bench/caller_latency).
        alignas(64) detail::event e = start_row(*s, step, commit);
        for (const field& f : fields) add_field(*s, e, f);
        push_row(*s, e);
    }

    /// Logs the members of an object built at run time (nested objects stay nested).
    void log(const value& row, std::optional<std::int64_t> step = std::nullopt,
             std::optional<bool> commit = std::nullopt) noexcept {
        detail::run_core* s = accepting();
        if (s == nullptr) return;
        if (!row.is_object()) {
            s->reporter.report(errc::invalid_value, "log needs an object, got " + row.dump());
            return;
        }
        detail::event e = start_row(*s, step, commit);
        for (const auto& [key, v] : row.as_object()) add_field(*s, e, as_field(key, v));
        push_row(*s, e);
    }

    /// Lightning's log_image: several images under one key, with optional per-image captions
    /// (one per image, or none). A length mismatch is reported and the call dropped.
    void log_image(std::string_view key, std::vector<image> images,
                   std::vector<std::string> captions = {},
                   std::optional<std::int64_t> step = std::nullopt) noexcept {
        if (accepting() == nullptr) return;
        const image_list list(std::move(images), std::move(captions));
        log({{key, list}}, step);
    }

    /// Logs a table under `key` (the same as log({{key, t}}, step)).
    void log_table(std::string_view key, const table& t,
                   std::optional<std::int64_t> step = std::nullopt) noexcept {
        log({{key, t}}, step);
    }

    /// Lightning's log_text: a table of strings.
    void log_text(std::string_view key, std::vector<std::string> columns,
                  const std::vector<std::vector<std::string>>& rows,
                  std::optional<std::int64_t> step = std::nullopt) noexcept {
        if (accepting() == nullptr) return;
        table t(std::move(columns));
        for (const auto& row : rows) t.add_row(std::vector<table_cell>(row.begin(), row.end()));
        log({{key, t}}, step);
    }

    /// Defines how a metric (or a trailing-'*' glob) is plotted and summarised; see metric.hpp.
    void define_metric(std::string_view name, const metric_options& options = {}) noexcept {
        detail::run_core* s = accepting();
        if (s == nullptr) return;
        metric_definition def;
        const io_result parsed = parse_metric_definition(name, options, def);
        if (!parsed.ok()) {
            s->reporter.report(parsed.code,
                               parsed.message + (def.name.empty() ? "; definition ignored"
                                                                  : "; the rest applies"));
            if (def.name.empty()) return;
        }
        detail::event e;
        e.kind = detail::event_kind::define_metric;
        auto& payload = e.ensure_payload();
        payload.definition = std::move(def);
        payload.overwrite = options.overwrite;
        s->enqueue_control(e, s->block_timeout);
    }

    /// Beyond W&B: the restart-from-checkpoint case. Rows after `step` are hidden (the native
    /// history moves them to history.rewound-<k>.jsonl, TensorBoard gets a SessionLog START at
    /// `step`, which purges them), summaries are recomputed from the rows kept, and logging goes
    /// on at step + 1. The live W&B sink goes on in a new offline directory whose run record
    /// rewinds the run on sync (docs/wandb.md). Typically right after init() with
    /// settings::resume, before logging.
    void rewind_to_step(std::int64_t step) noexcept {
        detail::run_core* s = accepting();
        if (s == nullptr) return;
        if (step < 0) {
            s->reporter.report(errc::step_not_increasing,
                               "rewind_to_step(" + std::to_string(step) + "): steps are >= 0");
            return;
        }
        detail::event e;
        e.kind = detail::event_kind::rewind;
        e.time = s->now();
        e.has_step = true;
        e.step = step;
        s->enqueue_control(e, s->block_timeout);
    }

    /// Replaces the summary value of `key` (until the key is logged again).
    void summary_set(std::string_view key, value v) noexcept {
        detail::run_core* s = accepting();
        if (s == nullptr) return;
        const auto status = detail::classify_key(key);
        if (status != detail::key_status::ok) {
            s->reporter.report(
                status == detail::key_status::reserved ? errc::reserved_key : errc::invalid_key,
                "summary_set: key '" + std::string(key) +
                    "' is empty, reserved ('_') or not UTF-8; ignored");
            return;
        }
        if (detail::nested_too_deep(v)) {
            s->reporter.report(errc::invalid_value,
                               "summary_set: '" + std::string(key) + "' is nested deeper than " +
                                   std::to_string(detail::max_nesting) + " levels; ignored");
            return;
        }
        detail::event e;
        e.kind = detail::event_kind::summary_set;
        auto& payload = e.ensure_payload();
        payload.key = std::string(key);
        payload.data = std::move(v);
        s->enqueue_control(e, s->block_timeout);
    }

    /// Stores `files` (files or directories) as the next version of artifact `name` in the run's
    /// artifact store (settings::artifact_dir) and records it in the run: artifacts.jsonl, and
    /// an artifact record in the W&B run. The version takes "latest" and `options.aliases`. The
    /// files are copied (or linked: options.storage) now, on this thread, hashed in the same
    /// read, so a checkpoint rewritten right after the call is stored as it was. Never throws:
    /// the result's `error` says what went wrong (also reported, and counted in
    /// stats().artifacts_failed); the store is then as it was.
    ///
    ///     run.log_artifact("model-" + run.id(), "model", {"ckpt/epoch3.pt"},
    ///                      {.aliases = {"best"}, .metadata = {{"val_loss", 0.31}}});
    artifact_version log_artifact(std::string_view name, std::string_view type,
                                  const std::vector<artifact_file>& files,
                                  const artifact_options& options = {}) noexcept {
        return log_artifact_to(state_.get(), name, type, files, options);
    }

    /// The version `ref` names ("name:best", "name:v3", "name" for latest, or W&B's
    /// "entity/project/name:alias") in the run's artifact store, with its files checked; recorded
    /// in the run as used (W&B's lineage). Throws runlog::error naming the versions and aliases
    /// that exist when nothing matches (with exceptions off: reports it and returns a version
    /// whose `error` says so). Works on disabled runs too: every rank may load a checkpoint.
    artifact_version use_artifact(std::string_view ref);

    /// Where this run's artifacts are stored.
    const std::filesystem::path& artifact_dir() const noexcept { return artifact_dir_; }

    /// Writes everything logged so far (by this thread) to every sink, a row still open at its
    /// step included (open-row.json: it still merges and commits later, and a killed process
    /// keeps it); returns within `timeout`.
    status flush(std::chrono::milliseconds timeout = std::chrono::seconds(10)) noexcept;

    /// Commits the pending row, writes the final summary and run status, stops the writer.
    /// Always returns within `timeout`; a writer stuck in a sink is abandoned and reported.
    status finish(int exit_code = 0,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) noexcept;

    /// Counters of what was written and dropped.
    run_stats stats() const noexcept {
        if (!state_) return {};
        run_stats out = state_->counts.snapshot();
        out.errors_reported = state_->reporter.reported();
        out.errors_suppressed = state_->reporter.suppressed();
        return out;
    }

    config_handle config;

  private:
    friend run init(settings s);
    friend class checkpoint_logger;

    void report(errc code, const std::string& message) noexcept {
        if (state_) state_->reporter.report(code, message);
    }

    static artifact_version log_artifact_to(detail::run_core* core, std::string_view name,
                                            std::string_view type,
                                            const std::vector<artifact_file>& files,
                                            const artifact_options& options) noexcept;

    static void enqueue_artifact(detail::run_core& s, const artifact_version& v, bool used);

    static detail::event start_row(detail::run_core& s, std::optional<std::int64_t> step,
                                   std::optional<bool> commit) noexcept {
        detail::event e;
        e.time = s.now();
        e.has_step = step.has_value();
        e.step = step.value_or(0);
        e.commit = commit.has_value() ? static_cast<std::int8_t>(*commit ? 1 : 0)
                                      : static_cast<std::int8_t>(-1);
        return e;
    }

    /// Queues a row event; media in it first reserve their bytes against the media budget.
    static void push_row(detail::run_core& s, detail::event& e) noexcept {
        const std::size_t media_bytes = e.payload ? e.payload->media_bytes : 0;
        if (media_bytes > 0 && !s.reserve_media(media_bytes)) return;
        if (!s.enqueue(e) && media_bytes > 0) s.release_media(media_bytes);
    }

    /// Scalars of a run-time row travel inline like typed fields; the rest is copied.
    static field as_field(std::string_view key, const value& v) noexcept {
        if (v.is_int()) return field(key, v.as_int());
        if (v.is_double()) return field(key, v.as_double());
        if (v.is_bool()) return field(key, v.as_bool());
        return field(key, v);
    }

    /// The common case inline — a scalar into a free inline slot of the event — and everything
    /// else out of line, so a 4-scalar log() is one straight run of code (callgrind: the call and
    /// its saved registers were a third of the cost of a scalar field).
    static void add_field(detail::run_core& s, detail::event& e, const field& f) {
        if (e.inline_count == RUNLOG_INLINE_FIELDS || f.kind_ > field::kind::boolean) {
            add_other_field(s, e, f);
            return;
        }
        detail::field_item& item = e.items[e.inline_count++];
        item.key = s.keys.intern(f.key_, f.key_hash_);
        set_scalar(item, f);
    }

    static void set_scalar(detail::field_item& item, const field& f) noexcept {
        switch (f.kind_) {
            case field::kind::integer:
                item.kind = detail::item_kind::integer;
                item.i = f.i_;
                break;
            case field::kind::floating:
                item.kind = detail::item_kind::floating;
                item.d = f.d_;
                break;
            case field::kind::float32:
                item.kind = detail::item_kind::float32;
                item.f = f.f_;
                break;
            default:
                item.kind = detail::item_kind::boolean;
                item.b = f.b_;
                break;
        }
    }

    RUNLOG_NOINLINE static void add_other_field(detail::run_core& s, detail::event& e,
                                                const field& f) {
        detail::field_item item{};
        item.key = s.keys.intern(f.key_, f.key_hash_);
        switch (f.kind_) {
            case field::kind::integer:
            case field::kind::floating:
            case field::kind::float32:
            case field::kind::boolean:
                set_scalar(item, f);
                break;
            case field::kind::string:
                e.add_complex(item.key, value(std::string_view(f.s_.data, f.s_.size)));
                return;
            case field::kind::nested:
                if (detail::nested_too_deep(*f.v_)) {
                    e.add_invalid(item.key, "nested deeper than " +
                                                std::to_string(detail::max_nesting) + " levels");
                } else {
                    e.add_complex(item.key, *f.v_);
                }
                return;
            case field::kind::media:
                // Validation errors are known here; the dispatcher reports them in order.
                if (f.m_->ok()) {
                    e.add_media(item.key, f.m_->source());
                } else {
                    e.add_invalid(item.key, f.m_->error());
                }
                return;
            case field::kind::histogram:
                if (f.h_->ok()) {
                    e.add_complex(item.key, f.h_->to_value());
                } else {
                    e.add_invalid(item.key,
                                  f.h_->error().empty() ? "empty histogram" : f.h_->error());
                }
                return;
        }
        e.add_item(item);
    }

    /// The live run's state, or nullptr for a disabled or finished run (a call after finish is
    /// counted as dropped).
    detail::run_core* accepting() const noexcept {
        detail::run_core* s = state_.get();
        return s != nullptr && s->accepting() ? s : nullptr;
    }

    void close_on_destruction() noexcept {
        if (!state_ || state_->closed.load(std::memory_order_relaxed)) return;
        const bool unwinding = std::uncaught_exceptions() > uncaught_at_start_;
        finish(unwinding ? 1 : 0, state_->finish_timeout);
    }

    std::shared_ptr<detail::run_core> state_;
    std::filesystem::path artifact_dir_ = std::filesystem::path("runlog") / "artifacts";
    int rank_ = 0;
    int uncaught_at_start_ = std::uncaught_exceptions();
};

/// Starts a run. Throws runlog::error on a setup error (with exceptions off: reports it and
/// returns a disabled run). Returns a disabled run in mode disabled and on non-zero ranks.
run init(settings s = {});

}  // namespace v0
}  // namespace runlog

#if !RUNLOG_COMPILED_LIB
#include "run-inl.hpp"
#endif
