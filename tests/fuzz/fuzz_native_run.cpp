// SPDX-License-Identifier: MIT
// Fuzz target: reading a native run directory and exporting it, as `runlog export` does
// (export.hpp). The input is the run's files separated by NUL bytes, in this order: run.json,
// config.json, metrics.json, summary.json, history.jsonl, system.jsonl, artifacts.jsonl,
// output.log; a file the input does not reach is absent. Whatever the files hold, reading gives a
// run or a message, and a run that reads exports to W&B and TensorBoard or fails with a message:
// never a crash, hang or sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <runlog/export.hpp>

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fs::path root =
        fs::temp_directory_path() / ("runlog-fuzz-native-" + std::to_string(::getpid()));
    static const char* const names[] = {"run.json",        "config.json",   "metrics.json",
                                        "summary.json",    "history.jsonl", "system.jsonl",
                                        "artifacts.jsonl", "output.log"};
    std::error_code ec;
    fs::remove_all(root, ec);
    const fs::path run_dir = root / "runlog" / "run-20270101_000000-fuzz";
    fs::create_directories(run_dir);
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::size_t start = 0;
    for (const char* name : names) {
        if (start > input.size()) break;
        std::size_t end = input.find('\0', start);
        if (end == std::string::npos) end = input.size();
        std::ofstream(run_dir / name, std::ios::binary) << input.substr(start, end - start);
        start = end + 1;
    }

    runlog::export_options options;
    options.output_root = root / "out";
    const runlog::export_result w = runlog::export_to_wandb(run_dir, options);
    if (!w.ok && w.message.empty()) std::abort();  // a failure always says why
    const runlog::export_result t = runlog::export_to_tensorboard(run_dir, options);
    if (!t.ok && t.message.empty()) std::abort();
    if (w.ok && t.ok && w.rows != t.rows) std::abort();  // the same run read twice
    return 0;
}
