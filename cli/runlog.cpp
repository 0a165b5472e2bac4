// SPDX-License-Identifier: MIT
// The runlog command-line tool:
//
//   runlog export --to wandb|tensorboard [--out DIR] [--exit-code N] [--entity E]
//                 [--sync-root DIR] RUN_DIR...
//   runlog finalize [--exit-code N] [--force] RUN_DIR...
//   runlog --help | --version
//
// export converts native run directories (finished or crashed) into W&B offline runs that
// `wandb sync` uploads, or into TensorBoard event files. finalize closes in place the files a
// killed run left open (run.json, the live .wandb files, the event file), so that `wandb sync`
// uploads it as the crashed run it is. RUN_DIR may be runlog/latest-run. Exit status: 0 if every
// run was done, 1 if one failed, 2 for a command line it cannot take (the reason on stderr).
#include <runlog/export.hpp>
#include <runlog/finalize.hpp>
#include <runlog/runlog.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr const char* usage_text =
    "usage: runlog export --to wandb|tensorboard [--out DIR] [--exit-code N]\n"
    "                     [--entity E] [--sync-root DIR] RUN_DIR...\n"
    "       runlog finalize [--exit-code N] [--force] RUN_DIR...\n"
    "       runlog --help | --version\n"
    "\n"
    "export: convert native runs (finished or crashed)\n"
    "  --to wandb        write a W&B offline run (for wandb sync)\n"
    "  --to tensorboard  write TensorBoard event files\n"
    "  --out DIR         put them under DIR/wandb/ or DIR/tensorboard/\n"
    "                    (default: beside the run's runlog/ directory)\n"
    "  --exit-code N     exit code for crashed runs (default 1)\n"
    "  --entity E        W&B entity (artifacts need one; default: the syncer's)\n"
    "  --sync-root DIR   W&B artifact files are named by absolute path: write\n"
    "                    them as if the output (--out) were at DIR on the host\n"
    "                    that runs wandb sync\n"
    "\n"
    "finalize: close what a killed run left open, in place: run.json, the W&B\n"
    "  offline directories without an exit record, the TensorBoard session\n"
    "  (before `wandb sync`, which uploads such a directory as a finished run)\n"
    "  --exit-code N     exit code of the crashed run (default 1)\n"
    "  --force           even if run.json names a live process on this host\n";

/// A command line that cannot be taken: the reason, then how to get the usage; status 2.
int refuse(const std::string& reason) {
    std::fprintf(stderr, "runlog: %s\n(runlog --help shows the usage)\n", reason.c_str());
    return 2;
}

std::optional<int> parse_exit_code(const std::string& text) {
    char* end = nullptr;
    const long code = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || code < -2147483647L - 1 || code > 2147483647L)
        return std::nullopt;
    return static_cast<int>(code);
}

int run_export(const std::vector<std::string>& args) {
    std::string target;
    runlog::export_options options;
    std::vector<std::string> runs;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        const bool takes_value = a == "--to" || a == "--out" || a == "--entity" ||
                                 a == "--sync-root" || a == "--exit-code";
        if (takes_value && i + 1 >= args.size()) return refuse("export: " + a + " needs a value");
        if (a == "--to") {
            target = args[++i];
            if (target != "wandb" && target != "tensorboard")
                return refuse("export: --to '" + target +
                              "': the targets are wandb and tensorboard");
        } else if (a == "--out") {
            options.output_root = args[++i];
        } else if (a == "--entity") {
            options.entity = args[++i];
        } else if (a == "--sync-root") {
            options.sync_root = args[++i];
        } else if (a == "--exit-code") {
            const auto code = parse_exit_code(args[++i]);
            if (!code) return refuse("export: --exit-code '" + args[i] + "' is not an integer");
            options.exit_code = *code;
        } else if (!a.empty() && a[0] == '-') {
            return refuse("export: unknown option '" + a + "'");
        } else {
            runs.push_back(a);
        }
    }
    if (target.empty()) return refuse("export: --to wandb or --to tensorboard is required");
    if (runs.empty()) return refuse("export: no RUN_DIR given");
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

int run_finalize(const std::vector<std::string>& args) {
    runlog::finalize_options options;
    std::vector<std::string> runs;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--exit-code") {
            if (i + 1 >= args.size()) return refuse("finalize: --exit-code needs a value");
            const auto code = parse_exit_code(args[++i]);
            if (!code) return refuse("finalize: --exit-code '" + args[i] + "' is not an integer");
            options.exit_code = *code;
        } else if (a == "--force") {
            options.force = true;
        } else if (!a.empty() && a[0] == '-') {
            return refuse("finalize: unknown option '" + a + "'");
        } else {
            runs.push_back(a);
        }
    }
    if (runs.empty()) return refuse("finalize: no RUN_DIR given");
    int failures = 0;
    for (const auto& run : runs) {
        const runlog::finalize_result r = runlog::finalize_run(run, options);
        for (const auto& w : r.warnings)
            std::fprintf(stderr, "runlog finalize: warning: %s\n", w.c_str());
        if (!r.ok) {
            std::fprintf(stderr, "runlog finalize: %s: %s\n", run.c_str(), r.message.c_str());
            ++failures;
            continue;
        }
        std::printf("%s\n", r.message.c_str());
        for (const auto& line : r.closed) std::printf("  %s\n", line.c_str());
    }
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) return refuse("no command given (export or finalize)");
    const std::string& command = args[0];
    if (command == "--help" || command == "-h" || command == "help") {
        std::fputs(usage_text, stdout);
        return 0;
    }
    if (command == "--version") {
        std::printf("runlog %s\n", RUNLOG_VERSION_STRING);
        return 0;
    }
    for (const auto& a : args)
        if (a == "--help" || a == "-h") return std::fputs(usage_text, stdout), 0;
    if (command == "export") return run_export(args);
    if (command == "finalize") return run_finalize(args);
    return refuse("unknown command '" + command + "' (the commands are export and finalize)");
}
