// SPDX-License-Identifier: MIT
// Each sink end to end against the floors and the alternatives, in one run (BENCHMARKS.md, "End
// to end"):
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DRUNLOG_BUILD_TESTS=OFF
//   cmake --build build-bench --target bench_end_to_end && build-bench/bench/bench_end_to_end
//
// Every case writes 1,000,000 scalars — 250,000 rows of `train/loss`, `train/acc` (doubles), `lr`
// (a float) and `epoch` (an int) — from one thread, timed from the first row until everything is
// written (runlog: finish() returned), and runs in a child process of its own so that its peak
// RSS (getrusage of the child) is its own. Every run writes new files, deleted right after it
// (untimed) so that its dirty pages are dropped rather than written back during the next run: on
// the VM of BENCHMARKS.md, letting them pile up throttled later writes to disk speed. The cases:
//   runlog, one sink each (default settings otherwise: queue of 8,192, block, system sampler);
//   floor (a): the bytes that sink wrote, already formatted, written with one write() — what the
//     page cache costs (read back from the sink's file before timing; no fsync, like the sinks;
//     the fastest run, not the median);
//   (b) fprintf of one CSV line per row, "%.17g" so no digit is lost (runlog's numbers round-trip);
//   (c) spdlog's async logger (default pattern, "{}" formatting, 8,192-slot queue, block), one line
//     per row — built only when Debian's libspdlog-dev is installed (a bench-only dependency).
// Cells are medians of 5 (`--repeat N` changes it); `--summary` prints only the rows bench/run.sh
// puts in its table.
#include <runlog/runlog.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "child_process.hpp"

#if RUNLOG_BENCH_WITH_SPDLOG
#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#endif

namespace {

using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr int rows = 250000;
constexpr double scalars = 4.0 * rows;

struct measurement {
    double seconds = 0.0;
    double bytes = 0.0;
    double peak_rss_mib = 0.0;
};

/// `body` (returning its seconds and bytes) in a child process, with the child's peak RSS.
template <class F>
measurement in_child(F&& body) {
    const auto child = bench::in_child(std::forward<F>(body));
    measurement m = child.value;
    m.peak_rss_mib = child.peak_rss_mib;
    return m;
}

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Row i's values, the same for every writer.
struct row_values {
    double loss, acc;
    float lr;
    int epoch;
};
row_values values_of(int i) {
    const double x = 1.0 / (i + 1);
    return {x, 1.0 - x, 0.1f, i / 1000};
}

enum class sink_kind { none, jsonl, tensorboard, wandb };

/// The stream file a sink wrote under `dir` (empty path for none).
fs::path stream_file(const fs::path& dir, sink_kind sink) {
    if (sink == sink_kind::none) return {};
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        const bool match = sink == sink_kind::jsonl ? name == "history.jsonl"
                           : sink == sink_kind::wandb
                               ? name.size() > 6 && name.substr(name.size() - 6) == ".wandb"
                               : name.find("tfevents") != std::string::npos;
        if (e.is_regular_file() && match) return e.path();
    }
    return {};
}

measurement runlog_case(const fs::path& dir, sink_kind sink) {
    runlog::settings s;
    s.with_dir(dir.string()).with_quiet(true);
    s.native_files = sink == sink_kind::jsonl;
    s.tensorboard = sink == sink_kind::tensorboard;
    s.wandb_offline = sink == sink_kind::wandb;
    auto run = runlog::init(s);
    const auto start = clock_type::now();
    for (int i = 0; i < rows; ++i) {
        const row_values v = values_of(i);
        run.log({{"train/loss", v.loss}, {"train/acc", v.acc}, {"lr", v.lr}, {"epoch", v.epoch}});
    }
    run.finish(0, std::chrono::minutes(5));
    measurement m;
    m.seconds = seconds_since(start);
    const fs::path file = stream_file(dir, sink);
    m.bytes = file.empty() ? 0.0 : static_cast<double>(fs::file_size(file));
    return m;
}

/// Floor (a): `bytes` written to a new file with one write() (looping only on a short write).
measurement one_write_case(const fs::path& out, const std::string& bytes) {
    const auto start = clock_type::now();
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::size_t done = 0;
    while (fd >= 0 && done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    if (fd >= 0) ::close(fd);
    measurement m;
    m.seconds = seconds_since(start);
    m.bytes = static_cast<double>(done);
    return m;
}

measurement fprintf_case(const fs::path& out) {
    const auto start = clock_type::now();
    std::FILE* f = std::fopen(out.c_str(), "w");
    if (f == nullptr) return {};
    std::fputs("step,train/loss,train/acc,lr,epoch\n", f);
    for (int i = 0; i < rows; ++i) {
        const row_values v = values_of(i);
        std::fprintf(f, "%d,%.17g,%.17g,%.9g,%d\n", i, v.loss, v.acc, static_cast<double>(v.lr),
                     v.epoch);
    }
    std::fclose(f);
    measurement m;
    m.seconds = seconds_since(start);
    m.bytes = static_cast<double>(fs::file_size(out));
    return m;
}

#if RUNLOG_BENCH_WITH_SPDLOG
measurement spdlog_case(const fs::path& out) {
    const auto start = clock_type::now();
    spdlog::init_thread_pool(8192, 1);
    auto logger = spdlog::basic_logger_mt<spdlog::async_factory>("bench", out.string(), true);
    for (int i = 0; i < rows; ++i) {
        const row_values v = values_of(i);
        logger->info("step={} train/loss={} train/acc={} lr={} epoch={}", i, v.loss, v.acc, v.lr,
                     v.epoch);
    }
    logger.reset();
    spdlog::shutdown();  // drains the queue and joins the worker
    measurement m;
    m.seconds = seconds_since(start);
    m.bytes = static_cast<double>(fs::file_size(out));
    return m;
}
#endif

std::string read_all(const fs::path& path) {
    std::string bytes;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return bytes;
    bytes.resize(static_cast<std::size_t>(fs::file_size(path)));
    const std::size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
    bytes.resize(got);
    std::fclose(f);
    return bytes;
}

/// The median of `repeat` runs of `one` by time; RSS and bytes from the same run.
template <class F>
measurement median_of(int repeat, F&& one) {
    std::vector<measurement> runs;
    for (int r = 0; r < repeat; ++r) runs.push_back(one());
    std::sort(runs.begin(), runs.end(),
              [](const measurement& a, const measurement& b) { return a.seconds < b.seconds; });
    return runs[runs.size() / 2];
}

/// The fastest of `repeat` runs: a floor is the least the page cache can cost.
template <class F>
measurement fastest_of(int repeat, F&& one) {
    measurement best = one();
    for (int r = 1; r < repeat; ++r) {
        const measurement m = one();
        if (m.seconds < best.seconds) best = m;
    }
    return best;
}

struct table_row {
    std::string name;
    measurement m;
    double floor_seconds = 0.0;  // floor (a) for the same bytes, 0 if none
    const char* target = "";     // issue 8's goal, for the summary
};

void print_row(const table_row& r, bool summary) {
    const double ns = r.m.seconds * 1e9 / scalars;
    char ratio[32] = "–";
    if (r.floor_seconds > 0)
        std::snprintf(ratio, sizeof ratio, "%.1f×", r.m.seconds / r.floor_seconds);
    if (summary) {  // bench/run.sh's table: | measure | result | target |
        char against_floor[48] = "";
        if (r.floor_seconds > 0)
            std::snprintf(against_floor, sizeof against_floor, ", %s its floor (a)", ratio);
        std::printf(
            "| end to end, 1,000,000 scalars: %s | %.1f ns/scalar%s, %.1f B/scalar, %.0f "
            "MiB peak RSS | %s |\n",
            r.name.c_str(), ns, against_floor, r.m.bytes / scalars, r.m.peak_rss_mib,
            *r.target != '\0' ? r.target : "–");
        return;
    }
    std::printf("| %s | %.1f | %s | %.1f | %.1f |\n", r.name.c_str(), ns, ratio,
                r.m.bytes / scalars, r.m.peak_rss_mib);
}

}  // namespace

int main(int argc, char** argv) {
    int repeat = 5;
    bool summary = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = std::atoi(argv[++i]);
        if (std::strcmp(argv[i], "--summary") == 0) summary = true;
    }
    repeat = std::max(repeat, 1);
    const fs::path root = fs::temp_directory_path() / "runlog-bench-e2e";
    fs::remove_all(root);
    fs::create_directories(root);

    const measurement idle = in_child([] { return measurement{}; });

    struct sink_case {
        const char* name;
        sink_kind kind;
        const char* target;
    };
    const sink_case sinks[] = {
        {"runlog, no sink (queue, step rules, summaries)", sink_kind::none, ""},
        {"runlog → tensorboard", sink_kind::tensorboard, "≤ 75 ns, ≤ 2× floor (a)"},
        {"runlog → jsonl (native run directory)", sink_kind::jsonl, "≤ 150 ns, ≤ 2× floor (a)"},
        {"runlog → wandb (.wandb)", sink_kind::wandb, "≤ 200 ns, ≤ 2× floor (a)"}};
    std::vector<table_row> table;
    int file_number = 0;  // every run gets new files
    const auto fresh = [&](const char* name) {
        return root / (name + std::to_string(++file_number));
    };
    std::vector<fs::path> kept;  // each sink's stream file (its last run), for floor (a)
    for (const auto& c : sinks) {
        const fs::path keep = fresh("stream");
        const measurement m = median_of(repeat, [&] {
            const fs::path dir = fresh("sink");
            const measurement one = in_child([&] { return runlog_case(dir, c.kind); });
            if (const fs::path file = stream_file(dir, c.kind); !file.empty())
                fs::rename(file, keep);
            fs::remove_all(dir);  // its dirty pages are dropped, not written back during the next
            return one;
        });
        table.push_back({c.name, m, 0.0, c.target});
        kept.push_back(fs::exists(keep) ? keep : fs::path());
    }

    // Floor (a) for each sink's own bytes: the child reads them (untimed), then writes them.
    for (std::size_t i = 0; i < kept.size(); ++i) {
        if (kept[i].empty()) continue;
        const measurement floor = fastest_of(repeat, [&] {
            const fs::path out = fresh("floor");
            const measurement one =
                in_child([&] { return one_write_case(out, read_all(kept[i])); });
            fs::remove(out);
            return one;
        });
        table[i].floor_seconds = floor.seconds;
        table.push_back(
            {std::string("floor (a): ") + sinks[i].name + "'s bytes, one write()", floor, 0.0, ""});
    }

    table.push_back({"(b) fprintf, one CSV line per row",
                     median_of(repeat,
                               [&] {
                                   const fs::path out = fresh("by_hand.csv");
                                   const measurement one =
                                       in_child([&] { return fprintf_case(out); });
                                   fs::remove(out);
                                   return one;
                               }),
                     0.0, "runlog well ahead"});
#if RUNLOG_BENCH_WITH_SPDLOG
    table.push_back({"(c) spdlog async logger, one line per row",
                     median_of(repeat,
                               [&] {
                                   const fs::path out = fresh("spdlog.log");
                                   const measurement one =
                                       in_child([&] { return spdlog_case(out); });
                                   fs::remove(out);
                                   return one;
                               }),
                     0.0, "runlog well ahead"});
#else
    std::fprintf(stderr, "(c) spdlog: not built (install libspdlog-dev and reconfigure)\n");
#endif
    fs::remove_all(root);

    if (!summary) {
        std::printf(
            "1,000,000 scalars (250,000 rows x 4), one thread, median of %d; a child "
            "process per case (an idle child's peak RSS: %.1f MiB)\n\n",
            repeat, idle.peak_rss_mib);
        std::printf(
            "| writer (1,000,000 scalars) | ns/scalar | × its floor (a) | bytes/scalar | "
            "peak RSS MiB |\n|---|---:|---:|---:|---:|\n");
    }
    for (const auto& r : table) print_row(r, summary);
}
