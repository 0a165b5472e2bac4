// SPDX-License-Identifier: MIT
// Processes that end in the ways tests/test_process_end.cpp checks: by a signal (with and without
// settings::handle_signals, with the program's own handler or the default), by exit() while
// another thread is stuck in a full queue, and by returning from main with a run never finished.
//
//     runlog_ending_child MODE ROOT
//
// MODE: signal (handle_signals, then waits to be signalled) | own-handler (the program handles
// SIGUSR1 itself, then finishes) | no-handlers | exit-blocked | leaked-run. It prints "ready" on
// stdout once 200 rows are logged.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <runlog/runlog.hpp>

namespace {

volatile std::sig_atomic_t own_handler_ran = 0;
runlog::run* leaked_run = nullptr;

runlog::settings settings_for(const char* root) {
    runlog::settings s;
    s.dir = root;
    s.id = "ending";
    s.quiet = true;
    s.capture_git = false;
    s.system_metrics = false;
    s.wandb_offline = true;
    s.tensorboard = true;
    return s;
}

void log_rows(runlog::run& run, int from, int to) {
    for (int step = from; step < to; ++step)
        run.log({{"loss", 1.0 / (1.0 + step)}, {"acc", step / 1000.0}}, step);
}

void ready() {
    std::printf("ready\n");
    std::fflush(stdout);
}

/// A sink slow enough that a 16-slot queue stays full.
class slow_sink final : public runlog::base_sink<runlog::null_mutex> {
  protected:
    runlog::io_result start_(const runlog::run_info&) override { return {}; }
    runlog::io_result event_(const runlog::sink_event&) override {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        return {};
    }
    runlog::io_result flush_() override { return {}; }
    runlog::io_result finish_(const runlog::finish_info&) override { return {}; }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODE ROOT\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1];
    runlog::settings s = settings_for(argv[2]);

    if (mode == "signal" || mode == "no-handlers") {
        s.handle_signals = mode == "signal";
        auto run = runlog::init(s);
        log_rows(run, 0, 200);
        ready();
        for (int step = 200;; ++step) {  // until the signal
            log_rows(run, step, step + 1);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    if (mode == "own-handler") {
        std::signal(SIGUSR1, [](int) { own_handler_ran = 1; });
        s.handle_signals = true;
        auto run = runlog::init(s);
        log_rows(run, 0, 200);
        ready();
        int step = 200;
        while (own_handler_ran == 0) {
            log_rows(run, step, step + 1);
            ++step;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        // What the run looked like while the program went on after the signal.
        std::filesystem::copy_file(run.dir() / "run.json", run.dir() / "run.json.after-signal");
        log_rows(run, step, step + 10);
        return run.finish(0) == runlog::status::ok ? 0 : 1;
    }
    if (mode == "ignored-sigint") {  // as a job started with `cmd &` inherits SIGINT
        std::signal(SIGINT, SIG_IGN);
        s.handle_signals = true;
        auto run = runlog::init(s);
        log_rows(run, 0, 100);
        ready();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the SIGINT comes here
        log_rows(run, 100, 110);
        return run.finish(0) == runlog::status::ok ? 0 : 1;
    }
    if (mode == "exit-blocked") {
        s.queue_capacity = 16;
        s.sinks.push_back(std::make_shared<slow_sink>());
        auto run = runlog::init(s);
        std::thread([&run] {  // blocked on the full queue most of the time
            for (int step = 0;; ++step) log_rows(run, step, step + 1);
        })
            .detach();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        ready();
        std::exit(3);  // `run` is never destroyed
    }
    if (mode == "leaked-run") {
        leaked_run = new runlog::run(runlog::init(s));  // reachable: not a leak to LSan
        runlog::run* run = leaked_run;
        log_rows(*run, 0, 200);
        ready();
        return 4;  // never finished, never destroyed
    }
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
}
