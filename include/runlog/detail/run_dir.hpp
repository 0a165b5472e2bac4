// SPDX-License-Identifier: MIT
#pragma once
// Creating a run's directory: <root>/runlog/run-YYYYMMDD_HHMMSS-<id>/ (local time, as wandb names
// its run directories), created exclusively so two runs never share one. A generated id that
// collides is replaced; a chosen id that collides is a setup error.

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "environment.hpp"
#include "os.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

/// The directory of the run `id` under <root>/runlog (the latest, should there be several), or
/// an empty path.
inline fs::path find_run_dir(const fs::path& root, const std::string& id) {
    fs::path found;
    std::error_code ec;
    const std::string suffix = "-" + id;
    for (fs::directory_iterator it(root / "runlog", ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind("run-", 0) == 0 && name.size() > suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
            it->is_directory(ec) && (found.empty() || name > found.filename().string()))
            found = it->path();
    }
    return found;
}

/// Cuts a stream file after its last complete line: a crashed run's torn last line must not run
/// into the first line a resumed run appends.
inline void cut_torn_line(const fs::path& file) {
    std::ifstream in(file, std::ios::binary | std::ios::ate);
    if (!in) return;
    const auto size = static_cast<std::streamoff>(in.tellg());
    std::streamoff keep = size;
    char c = 0;
    while (keep > 0) {
        in.seekg(keep - 1);
        if (!in.get(c) || c == '\n') break;
        --keep;
    }
    in.close();
    std::error_code ec;
    if (keep < size) fs::resize_file(file, static_cast<std::uintmax_t>(keep), ec);
}

/// Appends open-row.json (a killed session's open row, which the reader took as its last row)
/// to history.jsonl and removes it: a run that goes on treats that row as committed.
inline setup_error commit_open_row(const fs::path& dir) {
    std::string line = read_small_file(dir / "open-row.json");
    if (line.empty() || line.back() != '\n') line.push_back('\n');
    std::ofstream out(dir / "history.jsonl", std::ios::binary | std::ios::app);
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    out.close();
    if (!out) {
        return {errc::run_dir_unwritable,
                "settings.resume: cannot append the open row of the run in '" + dir.string() +
                    "' to its history.jsonl (is the disk full?)"};
    }
    std::error_code ec;
    fs::remove(dir / "open-row.json", ec);
    return {};
}

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
    // A chosen id names one run, whenever it started: a second directory with the same id would
    // be a second run W&B and resume cannot tell apart.
    if (const fs::path existing = chosen ? find_run_dir(root, id) : fs::path(); !existing.empty()) {
        return {errc::invalid_setting,
                "a run with id '" + id + "' already exists at '" + existing.string() +
                    "' (continue it with settings.resume = allow or must / RUNLOG_RESUME, or "
                    "choose another settings.id / RUNLOG_RUN_ID)"};
    }
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
