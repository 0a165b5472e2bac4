// SPDX-License-Identifier: MIT
// The distribution of what one log() call costs the calling thread — p50, p99, p99.9 and the
// worst call — and how long finish() takes on an idle run (BENCHMARKS.md, "Caller latency").
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DRUNLOG_BUILD_TESTS=OFF
//   cmake --build build-bench --target bench_caller_latency &&
//   build-bench/bench/bench_caller_latency
//
// Every call is timed on its own with steady_clock (two reads around it; their cost is measured
// and printed, and is included in the numbers). Durations go into a fixed log-linear histogram
// per thread (32 sub-buckets per power of two: percentiles within 3%), so measuring allocates
// nothing and touches no shared memory. Default settings (queue of 8,192 events, overflow
// block, system sampler on), 4 scalar fields per call with keys already known.
//
// "paced" logs at a fixed total rate that the writer keeps up with (a training or control loop);
// "back to back" logs as fast as the threads can, far above the writer's rate, so the queue fills
// and calls wait for the writer: its tail is the writer's, not log()'s.
#include <runlog/runlog.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

/// Counts of durations in ns: exact below 64 ns, then 32 buckets per power of two.
class histogram {
  public:
    void add(std::uint64_t ns) noexcept { ++counts_[index(ns)]; }
    void merge(const histogram& other) noexcept {
        for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    }
    std::uint64_t total() const noexcept {
        std::uint64_t n = 0;
        for (auto c : counts_) n += c;
        return n;
    }
    /// The lower bound of the bucket holding the q-quantile.
    double quantile(double q) const noexcept {
        const auto target = static_cast<std::uint64_t>(q * static_cast<double>(total()));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen > target) return static_cast<double>(lower_bound(i));
        }
        return 0.0;
    }
    double max() const noexcept {
        for (std::size_t i = counts_.size(); i-- > 0;)
            if (counts_[i] != 0) return static_cast<double>(lower_bound(i));
        return 0.0;
    }

  private:
    static std::size_t index(std::uint64_t ns) noexcept {
        if (ns < 64) return static_cast<std::size_t>(ns);
        const unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(ns));  // ns in [2^e, 2^e+1)
        const auto sub = static_cast<std::size_t>((ns >> (e - 5u)) & 31u);
        return std::min<std::size_t>(64 + (e - 6u) * 32u + sub, buckets - 1);
    }
    static std::uint64_t lower_bound(std::size_t i) noexcept {
        if (i < 64) return i;
        const std::size_t e = (i - 64) / 32 + 6, sub = (i - 64) % 32;
        return (std::uint64_t{1} << e) + (std::uint64_t{sub} << (e - 5));
    }
    static constexpr std::size_t buckets = 64 + 40 * 32;  // up to ~2^46 ns
    std::array<std::uint64_t, buckets> counts_{};
};

std::uint64_t ns_between(clock_type::time_point a, clock_type::time_point b) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

/// What two clock reads cost (the timing overhead in every sample).
double clock_overhead_ns() {
    histogram h;
    for (int i = 0; i < 1000000; ++i) {
        const auto a = clock_type::now();
        const auto b = clock_type::now();
        h.add(ns_between(a, b));
    }
    return h.quantile(0.5);
}

struct latency_case {
    const char* name;
    runlog::run_mode mode;
    int threads;
    long calls_per_thread;
    double calls_per_second;  // in total; 0: back to back
};

histogram run_case(const fs::path& dir, const latency_case& c, runlog::run_stats& stats,
                   double& calls_per_second) {
    auto run =
        runlog::init(runlog::settings{}.with_dir(dir.string()).with_mode(c.mode).with_quiet(true));
    run.log({{"train/loss", 1.0}, {"train/acc", 0.5}, {"lr", 0.1f}, {"epoch", 0}});  // keys known
    std::vector<histogram> per_thread(static_cast<std::size_t>(c.threads));
    std::vector<std::thread> workers;
    const auto start = clock_type::now();
    for (int t = 0; t < c.threads; ++t) {
        workers.emplace_back([&, t] {
            histogram& h = per_thread[static_cast<std::size_t>(t)];
            const double period_ns =
                c.calls_per_second > 0 ? 1e9 * c.threads / c.calls_per_second : 0.0;
            for (long i = 0; i < c.calls_per_thread; ++i) {
                if (period_ns > 0) {  // spin to this call's slot: no sleep, no syscall
                    const auto due = start + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                                 period_ns * static_cast<double>(i)));
                    while (clock_type::now() < due) {
                    }
                }
                const double x = 1.0 / static_cast<double>(i + 1);
                const auto a = clock_type::now();
                run.log({{"train/loss", x},
                         {"train/acc", 1.0 - x},
                         {"lr", 0.1f},
                         {"epoch", static_cast<int>(i / 1000)}});
                h.add(ns_between(a, clock_type::now()));
            }
        });
    }
    for (auto& w : workers) w.join();
    calls_per_second = static_cast<double>(c.threads) * static_cast<double>(c.calls_per_thread) /
                       (static_cast<double>(ns_between(start, clock_type::now())) / 1e9);
    run.finish(0, std::chrono::minutes(5));
    stats = run.stats();
    histogram all;
    for (const auto& h : per_thread) all.merge(h);
    return all;
}

/// finish() of a run that logged one row and then sat idle for `idle`.
double idle_finish_ms(const fs::path& dir, std::chrono::milliseconds idle) {
    auto run = runlog::init(runlog::settings{}.with_dir(dir.string()).with_quiet(true));
    run.log({{"x", 1}});
    std::this_thread::sleep_for(idle);
    const auto a = clock_type::now();
    run.finish();
    return static_cast<double>(ns_between(a, clock_type::now())) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    const bool summary = argc > 1 && std::strcmp(argv[1], "--summary") == 0;  // bench/run.sh's rows
    const fs::path dir = fs::temp_directory_path() / "runlog-bench-latency";
    const double clock_ns = clock_overhead_ns();
    if (!summary)
        std::printf("timing overhead (two steady_clock reads, included below): %.0f ns\n\n",
                    clock_ns);
    const latency_case cases[] = {
        {"disabled run, 1 thread", runlog::run_mode::disabled, 1, 10000000, 0},
        {"paced 100k calls/s, 1 thread", runlog::run_mode::offline, 1, 1000000, 1e5},
        {"paced 100k calls/s, 8 threads", runlog::run_mode::offline, 8, 125000, 1e5},
        {"back to back, 1 thread", runlog::run_mode::offline, 1, 10000000, 0},
        {"back to back, 8 threads", runlog::run_mode::offline, 8, 1250000, 0}};
    if (!summary)
        std::printf(
            "| case (4 scalars per call) | calls | calls/s | p50 ns | p99 ns | p99.9 ns | max ns | "
            "dropped |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const auto& c : cases) {
        fs::remove_all(dir);
        runlog::run_stats stats;
        double rate = 0.0;
        const histogram h = run_case(dir, c, stats, rate);
        if (summary) {
            if (c.calls_per_second > 0 && c.threads == 1)
                std::printf(
                    "| log() of 4 scalars, paced, 1 thread: p50 / p99 / p99.9 (a %.0f ns "
                    "clock read included) | %.0f / %.0f / %.0f ns | p50 ≤ 50 ns, p99 ≤ "
                    "500 ns |\n",
                    clock_ns, h.quantile(0.5), h.quantile(0.99), h.quantile(0.999));
            if (c.calls_per_second == 0 && c.threads == 8)
                std::printf(
                    "| log() back to back, 8 threads on this machine, block: calls/s, "
                    "worst call | %.2f M/s, %.1f ms, %llu dropped | – |\n",
                    rate / 1e6, h.max() / 1e6, static_cast<unsigned long long>(stats.dropped()));
            continue;
        }
        std::printf("| %s | %llu | %.0f | %.0f | %.0f | %.0f | %.0f | %llu |\n", c.name,
                    static_cast<unsigned long long>(h.total()), rate, h.quantile(0.5),
                    h.quantile(0.99), h.quantile(0.999), h.max(),
                    static_cast<unsigned long long>(stats.dropped()));
        std::fflush(stdout);
    }

    if (!summary)
        std::printf("\n| finish() of an idle run | median ms | max ms |\n|---|---:|---:|\n");
    for (const auto idle : {std::chrono::milliseconds(0), std::chrono::milliseconds(50),
                            std::chrono::milliseconds(1500)}) {
        std::vector<double> times;
        for (int rep = 0; rep < (idle.count() > 1000 ? 5 : 21); ++rep) {
            fs::remove_all(dir);
            times.push_back(idle_finish_ms(dir, idle));
        }
        std::sort(times.begin(), times.end());
        if (summary) {
            if (idle.count() > 1000)
                std::printf(
                    "| finish() of a run idle for 1.5 s (median of 5) | %.2f ms | ≤ 5 ms |\n",
                    times[times.size() / 2]);
            continue;
        }
        std::printf("| idle %lld ms before finish | %.2f | %.2f |\n",
                    static_cast<long long>(idle.count()), times[times.size() / 2], times.back());
    }
    fs::remove_all(dir);
}
