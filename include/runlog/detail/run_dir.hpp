// SPDX-License-Identifier: MIT
#pragma once
// Creating a run's directory: <root>/runlog/run-YYYYMMDD_HHMMSS-<id>/ (local time, as wandb names
// its run directories), created exclusively so two runs never share one. A generated id that
// collides is replaced; a chosen id that collides is a setup error.

#include <filesystem>
#include <string>
#include <system_error>

#include "environment.hpp"
#include "os.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

/// Creates the run directory for `id` (generating ids when `id` is empty) and points
/// <root>/runlog/latest-run at it. On success `id` and `run_dir` are set.
inline setup_error create_run_dir(const fs::path& root, double start_time, std::string& id,
                                  fs::path& run_dir) {
    const fs::path base = root / "runlog";
    std::error_code ec;
    fs::create_directories(base, ec);
    if (ec || !fs::is_directory(base)) {
        return {errc::run_dir_unwritable,
                "cannot create run directory '" + base.string() +
                    "': " + (ec ? ec.message() : "a file is in the way") +
                    " (set settings.dir or RUNLOG_DIR to a writable directory)"};
    }
    const bool chosen = !id.empty();
    const std::string stamp = directory_timestamp(start_time);
    for (int attempt = 0; attempt < 16; ++attempt) {
        const std::string candidate = chosen ? id : random_run_id();
        const fs::path dir = base / ("run-" + stamp + "-" + candidate);
        if (fs::create_directory(dir, ec)) {
            id = candidate;
            run_dir = dir;
            // latest-run is a convenience; a file system without symlinks must not fail the run.
            (void)replace_symlink(base / "latest-run", dir.filename());
            return {};
        }
        if (ec) {
            return {errc::run_dir_unwritable,
                    "cannot create run directory '" + dir.string() + "': " + ec.message() +
                        " (set settings.dir or RUNLOG_DIR to a writable directory)"};
        }
        if (chosen) {
            return {errc::invalid_setting, "a run with id '" + id + "' already exists at '" +
                                               dir.string() +
                                               "' (choose another settings.id / RUNLOG_RUN_ID)"};
        }
    }
    return {errc::run_dir_unwritable,
            "could not find a free run directory name in '" + base.string() + "'"};
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
