// SPDX-License-Identifier: MIT
#pragma once
// The definitions run.hpp declares: starting a run and its rare calls (flush, finish, artifacts,
// the end-of-run report). Included at the end of run.hpp (header-only, the default), or compiled
// once into the runlog::compiled library (RUNLOG_COMPILED_LIB, see config.hpp) so that
// translation units that only log do not compile the writer, the sinks and the encoders.

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "artifacts.hpp"
#include "detail/environment.hpp"
#include "detail/git_state.hpp"
#include "detail/machine_info.hpp"
#include "detail/open_runs.hpp"
#include "detail/run_dir.hpp"
#include "detail/run_state.hpp"
#include "export.hpp"  // read_native_run: a resumed run reads its own files back
#include "run.hpp"
#include "sinks/jsonl.hpp"
#include "sinks/tensorboard.hpp"
#include "sinks/wandb.hpp"

#if RUNLOG_COMPILED_LIB && !defined(RUNLOG_BUILDING_COMPILED_LIB)
#error "RUNLOG_COMPILED_LIB: runlog::compiled defines these; link it, do not include this"
#endif

namespace runlog {
inline namespace v0 {

RUNLOG_INLINE artifact_version run::use_artifact(std::string_view ref) {
    artifact_version v = artifact_store(artifact_dir_).resolve(ref);
    if (!v.ok()) {  // after init nothing throws: the value says why, and the handler hears it
        if (state_) state_->reporter.report(v.code, "use_artifact: " + v.error);
        return v;
    }
    if (detail::run_core* s = accepting()) enqueue_artifact(*s, v, true);
    return v;
}

RUNLOG_INLINE status run::flush(std::chrono::milliseconds timeout) noexcept {
    auto* s = static_cast<detail::run_state*>(state_.get());
    if (s == nullptr || !s->in_owner_process()) return status::disabled;
    if (s->closed.load(std::memory_order_relaxed)) return status::finished;
    switch (s->flush(timeout)) {
        case detail::wait_result::done:
            return status::ok;
        case detail::wait_result::finished:
            return status::finished;
        case detail::wait_result::timed_out:
            break;
    }
    s->reporter.report(errc::flush_timed_out,
                       "flush did not complete within " + std::to_string(timeout.count()) + " ms");
    return status::timed_out;
}

RUNLOG_INLINE status run::finish(int exit_code, std::chrono::milliseconds timeout) noexcept {
    auto* s = static_cast<detail::run_state*>(state_.get());
    if (s == nullptr) return status::disabled;
    switch (s->close(exit_code, 0, timeout)) {
        case detail::close_result::disabled:
            return status::disabled;
        case detail::close_result::already_closed:
            return status::finished;
        case detail::close_result::done:
            return status::ok;
        case detail::close_result::timed_out:
            break;
    }
    return status::timed_out;
}

RUNLOG_INLINE artifact_version run::log_artifact_to(detail::run_core* core, std::string_view name,
                                                    std::string_view type,
                                                    const std::vector<artifact_file>& files,
                                                    const artifact_options& options) noexcept {
    auto* s = static_cast<detail::run_state*>(core);
    artifact_version v;
    if (s == nullptr || !s->accepting()) {
        v.error = s ? "the run has finished: nothing stored"
                    : "the run is disabled (mode disabled or a rank other than 0): nothing "
                      "stored";
        return v;
    }
#if !RUNLOG_NO_EXCEPTIONS
    try {
        v = s->artifacts.add(name, type, files, options, s->info.id);
    } catch (const std::exception& ex) {  // std::bad_alloc, say: reported like the rest
        v.version = -1;
        v.error = ex.what();
        v.code = errc::artifact_store_failed;
    }
#else
    v = s->artifacts.add(name, type, files, options, s->info.id);
#endif
    if (!v.ok()) {
        detail::counters::bump(s->counts.artifacts_failed);
        s->reporter.report(v.code, "log_artifact: " + v.error + "; nothing stored");
        return v;
    }
    detail::counters::bump(s->counts.artifacts_logged);
    enqueue_artifact(*s, v, false);
    return v;
}

RUNLOG_INLINE void run::enqueue_artifact(detail::run_core& s, const artifact_version& v,
                                         bool used) {
    detail::event e;
    e.kind = detail::event_kind::artifact;
    e.time = s.now();
    auto& payload = e.ensure_payload();
    payload.data = v.manifest;
    payload.aliases = v.aliases;
    payload.key = v.dir.string();
    payload.stream = used ? 1 : 0;
    s.enqueue_control(e, s.block_timeout);
}

namespace detail {

/// What a resumed run takes over from its directory (settings::resume).
struct previous_run {
    native_run run;
    std::vector<metric_definition> definitions;
    int resumed = 0;  // times it was continued before
};

/// Reads the run in `dir` for a resume: cuts a crashed session's torn last lines first, so that
/// what this session appends starts on a line of its own.
RUNLOG_INLINE setup_error read_previous_run(const std::filesystem::path& dir, previous_run& out) {
    cut_torn_line(dir / "history.jsonl");
    cut_torn_line(dir / "system.jsonl");
    export_result read;
    if (!read_native_run(dir, {}, out.run, read)) {
        return {errc::invalid_setting, "settings.resume: cannot continue the run in '" +
                                           dir.string() + "': " + read.message};
    }
    if (out.run.open_row) {  // the crashed session's open row is committed: into history.jsonl
        if (setup_error e = commit_open_row(dir)) return e;
    }
    for (const value& def : out.run.metrics.as_array())
        if (def.find("glob") == nullptr) out.definitions.push_back(definition_from_json(def));
    value run_json;
    std::string error;
    if (read_json_file(dir / "run.json", run_json, error) && run_json.find("resumed"))
        out.resumed = static_cast<int>(run_json.find("resumed")->as_int());
    return {};
}

/// Starts the run described by `s` (after RUNLOG_* variables), or returns null for a disabled
/// run or a setup error (`err`). `artifact_dir` is set either way: other ranks use artifacts too.
RUNLOG_INLINE std::shared_ptr<run_state> start_run(settings s, setup_error& err,
                                                   std::filesystem::path& artifact_dir,
                                                   int& rank_out) {
    if ((err = apply_environment(s))) return nullptr;
    if (s.resume != resume_mode::never && s.id.empty()) {
        err = {errc::invalid_setting, std::string("settings.resume is ") + to_string(s.resume) +
                                          " but settings.id is empty: name the run to continue"};
        return nullptr;
    }
    if (nested_too_deep(s.config)) {  // before anything is created
        err = {errc::invalid_setting,
               "settings.config is nested deeper than " + std::to_string(max_nesting) + " levels"};
        return nullptr;
    }
    if (s.artifact_dir.empty())
        s.artifact_dir = (std::filesystem::path(s.dir) / "runlog" / "artifacts").string();
    if (std::error_code ec; std::filesystem::exists(s.artifact_dir, ec) &&
                            !std::filesystem::is_directory(s.artifact_dir, ec)) {
        err = {errc::invalid_setting,
               "the artifact store '" + s.artifact_dir +
                   "' (settings.artifact_dir / RUNLOG_ARTIFACT_DIR) is a file, not a directory"};
        return nullptr;
    }
    artifact_dir = s.artifact_dir;
    if (s.mode == run_mode::disabled) return nullptr;
    rank_info rank;
    if ((err = detect_rank(rank))) return nullptr;
    rank_out = rank.rank;
    if (rank.rank != 0 && !s.all_ranks) return nullptr;

    run_info info;
    info.start_time = s.clock != nullptr ? s.clock() : unix_time_now();
    info.session_start_time = info.start_time;
    info.root_dir = s.dir;
    info.id = s.id;
    std::unique_ptr<previous_run> previous;
    if (s.resume != resume_mode::never) {
        if (const auto dir = find_run_dir(info.root_dir, s.id); !dir.empty()) {
            previous = std::make_unique<previous_run>();
            if ((err = read_previous_run(dir, *previous))) return nullptr;
        } else if (s.resume == resume_mode::must) {
            err = {errc::invalid_setting,
                   "settings.resume is must, but there is no run with id '" + s.id + "' in '" +
                       (std::filesystem::path(info.root_dir) / "runlog").string() + "'"};
            return nullptr;
        }
    }
    if (previous) {
        info.run_dir = previous->run.dir;
        info.start_time = previous->run.info.start_time;  // _runtime goes on from the first start
        info.resumed = previous->resumed + 1;
        for (auto row = previous->run.rows.rbegin(); row != previous->run.rows.rend(); ++row) {
            const value* step = row->find("_step");
            if (step == nullptr || !step->is_int()) continue;
            info.starting_step = step->as_int() < INT64_MAX ? step->as_int() + 1 : step->as_int();
            break;
        }
        (void)replace_symlink(info.root_dir / "runlog" / "latest-run", info.run_dir.filename());
    } else if ((err = create_run_dir(info.root_dir, info.start_time, info.id, info.run_dir))) {
        return nullptr;
    }
    info.project = s.project;
    info.name = s.name.empty() ? info.id : s.name;
    info.group = s.group;
    info.job_type = s.job_type;
    info.tags = s.tags;
    info.notes = s.notes;
    info.host = host_name();
    info.pid = process_id();
    info.rank = rank.rank;
    info.rank_source = rank.source;
    info.config = previous ? previous->run.info.config : value::object();
    if (s.config.is_object()) info.config.update(s.config);  // a resume's new values win
    if (s.capture_environment) info.environment = describe_machine(s.capture_environment_variables);
    if (s.capture_git) {
        std::error_code ec;
        const git_state git =
            read_git_state(s.code_dir.empty() ? std::filesystem::current_path(ec)
                                              : std::filesystem::path(s.code_dir));
        info.git = git.to_value();
        if (git.found && s.capture_git_diff) {
            bool truncated = false;
            info.git_diff = git_diff(git.work_tree, std::size_t{1} << 20, truncated);
            if (truncated) info.git["diff_truncated"] = true;
        }
    }
    info.queue_capacity = round_up_to_power_of_two(s.queue_capacity);
    info.overflow = s.overflow;
    info.flush_interval = std::chrono::duration<double>(s.flush_interval).count();

    std::vector<std::shared_ptr<sink>> sinks;
    if (s.native_files) sinks.push_back(std::make_shared<jsonl_sink>());
    if (s.wandb_offline) sinks.push_back(std::make_shared<wandb_sink>(s.entity));
    if (s.tensorboard) sinks.push_back(std::make_shared<tensorboard_sink>());
    sinks.insert(sinks.end(), s.sinks.begin(), s.sinks.end());
    for (const auto& target : sinks) {
        io_result started;
#if !RUNLOG_NO_EXCEPTIONS
        try {
            started = target->start(info);
        } catch (const std::exception& ex) {
            started = io_result::failure(errc::sink_start_failed, ex.what());
        }
#else
        started = target->start(info);
#endif
        if (!started.ok()) {
            err = {errc::sink_start_failed, "a sink failed to start: " + started.message};
            return nullptr;
        }
    }
    auto state = std::make_shared<run_state>(s, std::move(info), std::move(sinks));
    if (previous)
        state->dispatch.restore(previous->definitions, previous->run.rows, previous->run.summary);
    run_state::start_writer(state);
    if (std::string error; !open_runs::get().add(state, error)) {
        state->reporter.report(errc::invalid_setting,
                               "settings.handle_signals: cannot install the signal handlers (" +
                                   error + "); the run goes on without them");
    }
    if (s.system_metrics && s.system_interval.count() > 0)
        run_state::start_sampler(state, s.system_interval);
    if (s.capture_console) state->start_console();
    return state;
}

}  // namespace detail

RUNLOG_INLINE run init(settings s) {
    error_handler handler = s.on_error;
    detail::setup_error err;
    run r;
    std::shared_ptr<detail::run_state> state =
        detail::start_run(std::move(s), err, r.artifact_dir_, r.rank_);
    if (!state) {
        if (err) {
#if !RUNLOG_NO_EXCEPTIONS
            throw error(err.code, err.message);
#else
            detail::error_reporter(std::move(handler)).report(err.code, err.message);
#endif
        }
        return r;
    }
    r.state_ = std::move(state);
    r.config.state_ = r.state_.get();
    return r;
}

}  // namespace v0
}  // namespace runlog
