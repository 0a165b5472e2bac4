// SPDX-License-Identifier: MIT
#pragma once
// checkpoint_logger: Lightning's ModelCheckpoint + WandbLogger(log_model=...) for a C++ loop. The
// loop saves its checkpoint however it likes, then reports it:
//
//     runlog::checkpoint_logger checkpoints(run, {.monitor = "val/loss", .mode = "min"});
//     for (int epoch = 0; epoch < epochs; ++epoch) {
//         ...
//         torch::save(model, "ckpt/last.pt");
//         checkpoints.saved("ckpt/last.pt", step, {{"val/loss", val_loss}});
//     }
//     // later, in another process: runlog::use_artifact(dir, "model-<run id>:best").path()
//
// Each report becomes a version of the artifact `name` (default "model-<run id>", as Lightning
// names it), type "model", the file inside named `file_name` ("model.ckpt"), with metadata score,
// original_filename, monitor, mode, step and the reported values. "latest" moves to every new
// version; "best" to a version whose score beats every earlier one — strictly, so a tie keeps the
// earlier, as ModelCheckpoint does; a NaN or missing score is never best. Without a monitor every
// version is the best, as ModelCheckpoint(monitor=None) makes the last save its best.
//
// log_model_policy::all stores every report. last_and_best (Lightning's log_model=True) stores
// each report too, then prunes, so that after every save the store holds the latest and the best
// version: a crash, a kill or a requeue leaves both, where Lightning, which uploads in a
// successful finalize only, leaves nothing. keep_top_k keeps the k best-scoring versions as well
// (and turns pruning on for `all`). Pruning deletes only the store's own files (artifacts.hpp).
//
// A logger continues the artifact's history: a requeued job that resumes the run id starts from
// the stored best. Calls come from one thread (the loop's); on other ranks (a disabled run) they
// do nothing.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "artifacts.hpp"
#include "run.hpp"

namespace runlog {
inline namespace v0 {

enum class log_model_policy {
    all,           // Lightning's log_model="all": every checkpoint is a version
    last_and_best  // log_model=True: only the latest and the best are kept
};

struct checkpoint_options {
    std::string name{};        // artifact name; default "model-<run id>"
    std::string monitor{};     // the reported value that ranks checkpoints; empty: best = latest
    std::string mode = "min";  // "min" or "max"
    log_model_policy log_model = log_model_policy::all;
    std::optional<std::size_t> keep_top_k{};  // also keep the k best scores, prune the rest
    std::string file_name = "model.ckpt";     // a file's name inside the artifact
                                              // (a directory keeps its own layout)
    artifact_storage storage = artifact_storage::copy;
    value metadata{};  // an object merged into every version's metadata
};

class checkpoint_logger {
  public:
    /// Throws runlog::error (invalid_setting) for a bad mode, name or file name (with exceptions
    /// off: reports it, and the logger stores nothing). `r` must outlive it.
    checkpoint_logger(run& r, checkpoint_options options = {})
        : run_(r), options_(std::move(options)) {
        if (options_.name.empty()) options_.name = "model-" + (r.enabled() ? r.id() : "disabled");
        if (const std::string problem = check_options(); !problem.empty()) {
#if !RUNLOG_NO_EXCEPTIONS
            throw error(errc::invalid_setting, problem);
#else
            print_error_to_stderr({errc::invalid_setting, problem, 0});
            broken_ = true;
            return;
#endif
        }
        if (!r.enabled()) return;
        // A resumed run goes on from the stored best.
        const artifact_version best = store().resolve(options_.name + ":best");
        if (best.ok())
            if (const value* score = best.metadata().find("score"); score && score->is_number())
                best_ = score->as_double();
    }
    checkpoint_logger(const checkpoint_logger&) = delete;
    checkpoint_logger& operator=(const checkpoint_logger&) = delete;

    /// Reports a checkpoint just saved at `checkpoint` (a file or directory) at `step`, with the
    /// values it was judged by ({"val/loss": 0.31, ...}; the monitor among them). Stores it now.
    /// Never throws; a failure is reported and the result's `error` says why.
    artifact_version saved(const std::filesystem::path& checkpoint, std::int64_t step,
                           const value& values = value::object()) noexcept {
        if (!run_.enabled() || broken_) return {};
        const double score = score_of(values);
        // No monitor: every save is the best, as ModelCheckpoint(monitor=None) makes it.
        const bool is_best =
            options_.monitor.empty() || (!std::isnan(score) && (!best_ || better(score, *best_)));
        artifact_options artifact;
        artifact.storage = options_.storage;
        if (is_best) artifact.aliases.push_back("best");
        value metadata = options_.metadata.is_object() ? options_.metadata : value::object();
        metadata["score"] = std::isnan(score) ? value() : value(score);
        metadata["original_filename"] = checkpoint.filename().string();
        metadata["monitor"] = options_.monitor;
        metadata["mode"] = options_.mode;
        metadata["step"] = step;
        metadata["values"] = values.is_object() ? values : value::object();
        artifact.metadata = std::move(metadata);
        std::error_code ec;
        const bool directory = std::filesystem::is_directory(checkpoint, ec);
        artifact_version v = run_.log_artifact(
            options_.name, "model",
            {artifact_file(checkpoint, directory ? std::string() : options_.file_name)}, artifact);
        if (!v.ok()) return v;
        if (is_best && !std::isnan(score)) best_ = score;
        if (options_.log_model == log_model_policy::last_and_best || options_.keep_top_k) prune();
        return v;
    }

    /// The best score so far (none until a monitored value other than NaN was reported).
    std::optional<double> best_score() const noexcept {
        return best_;
    }
    const std::string& name() const noexcept {
        return options_.name;
    }

  private:
    std::string check_options() const {
        if (options_.mode != "min" && options_.mode != "max")
            return "checkpoint mode '" + options_.mode + "' is not min or max";
        if (!detail::valid_artifact_name(options_.name))
            return "checkpoint artifact name '" + options_.name +
                   "' is not 1 to 128 of A-Z a-z 0-9 _ - .";
        if (!detail::valid_entry_path(options_.file_name))
            return "checkpoint file_name '" + options_.file_name + "' is not a relative path";
        if (!options_.metadata.is_null() && !options_.metadata.is_object())
            return "checkpoint metadata must be an object";
        return {};
    }

    artifact_store store() const {
        return artifact_store(run_.artifact_dir());
    }

    bool better(double a, double b) const noexcept {
        return options_.mode == "min" ? a < b : a > b;
    }

    /// The monitored value, or NaN (none asked for, missing or not a number: never best).
    double score_of(const value& values) {
        if (options_.monitor.empty()) return NAN;
        const value* v = values.find(options_.monitor);
        if (v != nullptr && v->is_number()) return v->as_double();
        if (!warned_missing_) {
            warned_missing_ = true;
            run_.report(errc::invalid_value,
                        "checkpoint_logger: monitor '" + options_.monitor +
                            "' is not a number among the values saved() was given; such a "
                            "checkpoint is never best");
        }
        return NAN;
    }

    /// Deletes versions that hold no alias and are not among the keep_top_k best scores.
    void prune() {
        const artifact_store s = store();
        std::vector<std::pair<double, std::int64_t>> scored;
        for (std::int64_t n : s.versions(options_.name)) {
            const value m = s.manifest(options_.name, n);
            const value* metadata = m.find("metadata");
            const value* score = metadata ? metadata->find("score") : nullptr;
            if (score != nullptr && score->is_number()) scored.emplace_back(score->as_double(), n);
        }
        std::stable_sort(scored.begin(), scored.end(),
                         [&](const auto& a, const auto& b) { return better(a.first, b.first); });
        const std::size_t k = std::min(options_.keep_top_k.value_or(0), scored.size());
        std::vector<std::int64_t> top;
        for (std::size_t i = 0; i < k; ++i) top.push_back(scored[i].second);
        std::string error;
        s.prune(
            options_.name,
            [&](const value& m) {
                const std::int64_t n = m.find("version")->as_int();
                return std::find(top.begin(), top.end(), n) != top.end();
            },
            error);
        if (!error.empty())
            run_.report(errc::artifact_store_failed,
                        "checkpoint_logger: pruning '" + options_.name + "': " + error);
    }

    run& run_;
    checkpoint_options options_;
    std::optional<double> best_;
    bool warned_missing_ = false;
    bool broken_ = false;  // bad options with exceptions off: stores nothing
};

}  // namespace v0
}  // namespace runlog
