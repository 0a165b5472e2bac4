// SPDX-License-Identifier: MIT
// The runlog command-line tool. For now one command:
//
//   runlog export --to wandb|tensorboard [--out DIR] [--exit-code N] [--entity E]
//                 [--sync-root DIR] RUN_DIR...
//
// converts native run directories (finished or crashed) into W&B offline runs that `wandb sync`
// uploads, or into TensorBoard event files. RUN_DIR may be runlog/latest-run. Exit status 0 if
// every run was exported.
#include <runlog/export.hpp>
#include <runlog/runlog.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {
int usage() {
    std::fprintf(stderr,
                 "usage: runlog export --to wandb|tensorboard [--out DIR] [--exit-code N]\n"
                 "                     [--entity E] [--sync-root DIR] RUN_DIR...\n"
                 "  --to wandb        write a W&B offline run (for wandb sync)\n"
                 "  --to tensorboard  write TensorBoard event files\n"
                 "  --out DIR         put them under DIR/wandb/ or DIR/tensorboard/\n"
                 "                    (default: beside the run's runlog/ directory)\n"
                 "  --exit-code N     exit code for crashed runs (default 1)\n"
                 "  --entity E        W&B entity (artifacts need one; default: the syncer's)\n"
                 "  --sync-root DIR   W&B artifact files are named by absolute path: write\n"
                 "                    them as if the output (--out) were at DIR on the host\n"
                 "                    that runs wandb sync\n");
    return 2;
}
}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] != "export") return usage();
    std::string target;
    runlog::export_options options;
    std::vector<std::string> runs;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        const bool has_value = i + 1 < args.size();
        if (a == "--to" && has_value) {
            target = args[++i];
        } else if (a == "--out" && has_value) {
            options.output_root = args[++i];
        } else if (a == "--entity" && has_value) {
            options.entity = args[++i];
        } else if (a == "--sync-root" && has_value) {
            options.sync_root = args[++i];
        } else if (a == "--exit-code" && has_value) {
            char* end = nullptr;
            const long code = std::strtol(args[++i].c_str(), &end, 10);
            if (*end != '\0') return usage();
            options.exit_code = static_cast<int>(code);
        } else if (!a.empty() && a[0] == '-') {
            return usage();
        } else {
            runs.push_back(a);
        }
    }
    if ((target != "wandb" && target != "tensorboard") || runs.empty()) return usage();
    options.progress = [](std::uint64_t rows) {
        std::fprintf(stderr, "  ... %llu rows\n", static_cast<unsigned long long>(rows));
    };
    int failures = 0;
    for (const auto& run : runs) {
        const runlog::export_result r = target == "wandb"
                                            ? runlog::export_to_wandb(run, options)
                                            : runlog::export_to_tensorboard(run, options);
        for (const auto& w : r.warnings)
            std::fprintf(stderr, "runlog export: warning: %s\n", w.c_str());
        if (r.ok) {
            std::printf("%s\n", r.message.c_str());
        } else {
            std::fprintf(stderr, "runlog export: %s: %s\n", run.c_str(), r.message.c_str());
            ++failures;
        }
    }
    return failures == 0 ? 0 : 1;
}
