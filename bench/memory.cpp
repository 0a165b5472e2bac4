// SPDX-License-Identifier: MIT
// What logging costs in memory (BENCHMARKS.md, "Memory"):
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DRUNLOG_BUILD_TESTS=OFF
//   cmake --build build-bench --target bench_memory && build-bench/bench/bench_memory
//
// 1. Allocations: a counting global operator new, per log() call on the calling thread and per
//    row in the whole process (writer included), in steady state (every key seen once before).
//    tests/test_alloc.cpp asserts the caller's 0; this prints the other shapes too.
// 2. RSS over a long run: 10,000,000 rows of 4 scalars with default settings (native files,
//    queue of 8,192, block), back to back; RSS read from /proc/self/statm every million rows.
// 3. A burst that fills the queue: 1,000,000 calls back to back under `block` and under
//    `drop_newest`; peak RSS of the process (each burst in a child process of its own).
// `--rows N` changes the long run's length; `--summary` prints only bench/run.sh's rows.
#include <runlog/runlog.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "child_process.hpp"

// The replacement operator new below takes memory from malloc, so free() is its match; GCC
// warns when it inlines the standard allocator and sees only the free().
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<std::uint64_t> all_allocations{0};
thread_local std::uint64_t thread_allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
    all_allocations.fetch_add(1, std::memory_order_relaxed);
    ++thread_allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

double rss_mib() {
    long pages_total = 0, pages_resident = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
        std::fclose(f);
    }
    return static_cast<double>(pages_resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
           (1024.0 * 1024.0);
}

runlog::settings quiet(const fs::path& dir) {
    return runlog::settings{}.with_dir(dir.string()).with_quiet(true);
}

void log_row(runlog::run& run, long i) {
    const double x = 1.0 / static_cast<double>(i + 1);
    run.log({{"train/loss", x}, {"train/acc", 1.0 - x}, {"lr", 0.1f}, {"epoch", i / 1000}});
}

struct allocation_count {
    double caller_per_call = 0.0;
    double process_per_call = 0.0;
};

/// Allocations per call of `call(run, i)`, after 1,000 warm-up calls, over 100,000 calls (the
/// writer's share is counted until finish() returns).
template <class Call>
allocation_count count_allocations(const fs::path& dir, Call&& call) {
    auto run = runlog::init(quiet(dir).with_system_metrics(false));
    for (long i = 0; i < 1000; ++i) call(run, i);
    run.flush();
    constexpr long calls = 100000;
    const std::uint64_t caller_before = thread_allocations;
    const std::uint64_t all_before = all_allocations.load();
    for (long i = 0; i < calls; ++i) call(run, i);
    const std::uint64_t caller = thread_allocations - caller_before;
    run.flush();  // the writer's work for these calls, not finish()'s
    const std::uint64_t all = all_allocations.load() - all_before;
    run.finish();
    return {static_cast<double>(caller) / calls, static_cast<double>(all) / calls};
}

struct burst_result {
    double wall_ms = 0.0;
    std::uint64_t waited = 0;
    std::uint64_t dropped = 0;
    double peak_rss_mib = 0.0;
};

/// One burst of `calls` back-to-back log() calls, in a child process for its own peak RSS.
burst_result burst(const fs::path& dir, runlog::overflow_policy policy, long calls) {
    const auto child = bench::in_child([&] {
        // drop_newest reports its drops (to stderr by default): counted below instead.
        auto run = runlog::init(quiet(dir).with_overflow(policy).with_error_handler(
            [](const runlog::error_report&) {}));
        log_row(run, 0);
        run.flush();
        const auto start = clock_type::now();
        for (long i = 1; i <= calls; ++i) log_row(run, i);
        burst_result r;
        r.wall_ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
        run.finish();
        r.waited = run.stats().waited_queue_full;
        r.dropped = run.stats().dropped();
        return r;
    });
    burst_result r = child.value;
    r.peak_rss_mib = child.peak_rss_mib;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    long long_rows = 10000000;
    bool summary = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--rows") == 0 && i + 1 < argc) long_rows = std::atol(argv[++i]);
        if (std::strcmp(argv[i], "--summary") == 0) summary = true;
    }
    const fs::path dir = fs::temp_directory_path() / "runlog-bench-memory";
    fs::remove_all(dir);

    // 3 first: the bursts fork, and the parent has no threads yet.
    constexpr long burst_calls = 1000000;
    const burst_result blocked = burst(dir / "block", runlog::overflow_policy::block, burst_calls);
    const burst_result dropping =
        burst(dir / "drop", runlog::overflow_policy::drop_newest, burst_calls);
    fs::remove_all(dir);

    // 1. Allocations.
    const std::string dynamic_value(40, 'x');
    const allocation_count scalars = count_allocations(dir, log_row);
    const allocation_count with_string = count_allocations(dir, [&](runlog::run& run, long i) {
        run.log({{"train/loss", 1.0 / static_cast<double>(i + 1)}, {"phase", dynamic_value}});
    });
    const allocation_count wide = count_allocations(dir, [](runlog::run& run, long i) {
        const double x = static_cast<double>(i);
        run.log({{"a0", x},
                 {"a1", x},
                 {"a2", x},
                 {"a3", x},
                 {"a4", x},
                 {"a5", x},
                 {"a6", x},
                 {"a7", x},
                 {"a8", x},
                 {"a9", x},
                 {"a10", x},
                 {"a11", x}});
    });
    fs::remove_all(dir);

    // 2. RSS over a long run.
    std::vector<std::pair<long, double>> samples;
    {
        auto run = runlog::init(quiet(dir));
        for (long i = 0; i < long_rows; ++i) {
            log_row(run, i);
            if ((i + 1) % 1000000 == 0 || i + 1 == long_rows)
                samples.emplace_back(i + 1, rss_mib());
        }
        run.finish(0, std::chrono::minutes(5));
    }
    fs::remove_all(dir);
    const double growth = samples.back().second - samples.front().second;

    if (summary) {  // bench/run.sh's table: | measure | result | target |
        std::printf("| allocations per log() of 4 known scalars (calling thread) | %.2f | 0 |\n",
                    scalars.caller_per_call);
        std::printf(
            "| RSS while logging %ld rows (default settings) | %.1f → %.1f MiB (%+.1f "
            "after the first million) | flat |\n",
            long_rows, samples.front().second, samples.back().second, growth);
        std::printf(
            "| burst of 1,000,000 calls, block | %.0f ms, %llu waited, %llu dropped, "
            "%.1f MiB peak RSS | bounded |\n",
            blocked.wall_ms, static_cast<unsigned long long>(blocked.waited),
            static_cast<unsigned long long>(blocked.dropped), blocked.peak_rss_mib);
        std::printf(
            "| burst of 1,000,000 calls, drop_newest | %.0f ms, %llu dropped, %.1f MiB "
            "peak RSS | bounded |\n",
            dropping.wall_ms, static_cast<unsigned long long>(dropping.dropped),
            dropping.peak_rss_mib);
        return 0;
    }
    std::printf(
        "| call, keys known, steady state | allocations per call (calling thread) | "
        "allocations per call (whole process) |\n|---|---:|---:|\n");
    std::printf("| 4 scalars | %.2f | %.2f |\n", scalars.caller_per_call, scalars.process_per_call);
    std::printf("| 1 scalar + a 40-byte string | %.2f | %.2f |\n", with_string.caller_per_call,
                with_string.process_per_call);
    std::printf("| 12 scalars (more than RUNLOG_INLINE_FIELDS = %d) | %.2f | %.2f |\n",
                RUNLOG_INLINE_FIELDS, wide.caller_per_call, wide.process_per_call);

    std::printf("\n| rows logged (4 scalars each, default settings) | RSS MiB |\n|---:|---:|\n");
    for (const auto& [rows, mib] : samples) std::printf("| %ld | %.1f |\n", rows, mib);

    std::printf(
        "\n| burst of %ld calls, queue of 8,192 | wall ms | calls that waited | dropped "
        "| peak RSS MiB |\n|---|---:|---:|---:|---:|\n",
        burst_calls);
    std::printf("| block | %.0f | %llu | %llu | %.1f |\n", blocked.wall_ms,
                static_cast<unsigned long long>(blocked.waited),
                static_cast<unsigned long long>(blocked.dropped), blocked.peak_rss_mib);
    std::printf("| drop_newest | %.0f | %llu | %llu | %.1f |\n", dropping.wall_ms,
                static_cast<unsigned long long>(dropping.waited),
                static_cast<unsigned long long>(dropping.dropped), dropping.peak_rss_mib);
}
