// SPDX-License-Identifier: MIT
// What a log() call costs the calling thread, and what the writer sustains. Prints a table;
// BENCHMARKS.md records a run. Build in Release:
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DRUNLOG_BUILD_TESTS=OFF
//   cmake --build build-bench --target bench_log_call && build-bench/bench/bench_log_call
//
// Each sink alone, end to end, against the floors: bench/end_to_end.cpp.
//
// Each case: N calls of log() with 4 scalar fields and keys already known; the caller's time per
// call (slowest thread) is the median of 5 repetitions. "writer rows/s" is rows committed divided
// by the time from the first call until finish() returned (everything on disk). Numbers depend on
// the machine.
#include <runlog/runlog.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct result {
    double caller_ns = 0.0;
    double writer_rows_per_s = 0.0;
    double bytes_per_row = 0.0;
    std::uint64_t dropped = 0;
};

result run_case(const fs::path& dir, runlog::run_mode mode, int threads, int calls_per_thread) {
    auto run = runlog::init(runlog::settings{}
                                .with_dir(dir.string())
                                .with_mode(mode)
                                .with_quiet(true)
                                .with_queue_capacity(1 << 16));
    run.log({{"train/loss", 1.0}, {"train/acc", 0.5}, {"lr", 0.1f}, {"epoch", 0}});  // keys known
    const auto start = clock_type::now();
    std::vector<double> per_thread_ns(static_cast<std::size_t>(threads));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            const auto t0 = clock_type::now();
            for (int i = 0; i < calls_per_thread; ++i) {
                const double x = 1.0 / (i + 1);
                run.log(
                    {{"train/loss", x}, {"train/acc", 1.0 - x}, {"lr", 0.1f}, {"epoch", i / 1000}});
            }
            const std::chrono::duration<double, std::nano> elapsed = clock_type::now() - t0;
            per_thread_ns[static_cast<std::size_t>(t)] = elapsed.count() / calls_per_thread;
        });
    }
    for (auto& w : workers) w.join();
    const fs::path run_dir = run.dir();
    run.finish(0, std::chrono::minutes(5));
    const std::chrono::duration<double> total = clock_type::now() - start;
    result r;
    r.caller_ns = *std::max_element(per_thread_ns.begin(), per_thread_ns.end());
    const auto st = run.stats();
    r.dropped = st.dropped();
    if (mode == runlog::run_mode::offline) {
        r.writer_rows_per_s = static_cast<double>(st.rows_committed) / total.count();
        r.bytes_per_row = static_cast<double>(fs::file_size(run_dir / "history.jsonl")) /
                          static_cast<double>(st.rows_committed);
    }
    return r;
}

}  // namespace

int main() {
    const fs::path dir = fs::temp_directory_path() / "runlog-bench";
    struct spec {
        const char* name;
        runlog::run_mode mode;
        int threads;
        int calls;
    };
    // "burst" cases fit in the queue (65,536 events), so they time log() itself; the sustained
    // cases log far more than the writer can take at once, so the caller waits on the writer
    // (overflow_policy::block) and its time per call is the writer's time per row.
    const spec cases[] = {{"disabled run", runlog::run_mode::disabled, 1, 2000000},
                          {"burst, 1 thread", runlog::run_mode::offline, 1, 50000},
                          {"burst, 4 threads", runlog::run_mode::offline, 4, 12500},
                          {"sustained, 1 thread", runlog::run_mode::offline, 1, 1000000},
                          {"sustained, 4 threads", runlog::run_mode::offline, 4, 250000}};
    std::printf("%-24s %14s %16s %12s %8s\n", "case (4 fields/call)", "caller ns/call",
                "writer rows/s", "bytes/row", "dropped");
    for (const auto& c : cases) {
        std::vector<result> reps;
        for (int rep = 0; rep < 5; ++rep) {
            fs::remove_all(dir);
            reps.push_back(run_case(dir, c.mode, c.threads, c.calls));
        }
        std::sort(reps.begin(), reps.end(),
                  [](const result& a, const result& b) { return a.caller_ns < b.caller_ns; });
        const result& median = reps[2];
        std::printf("%-24s %14.1f %16.0f %12.1f %8llu\n", c.name, median.caller_ns,
                    median.writer_rows_per_s, median.bytes_per_row,
                    static_cast<unsigned long long>(median.dropped));
    }

    fs::remove_all(dir);
}
