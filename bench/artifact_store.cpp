// SPDX-License-Identifier: MIT
// What log_artifact costs the calling thread (BENCHMARKS.md, "Artifacts"):
//   1. storing a new checkpoint of 64 and 512 MiB: copy (read, SHA-256 + MD5, write, fsync),
//      hard link (read and hash only), reference (the same), and a duplicate of a stored file
//      (hashed, then linked: no second copy kept);
//   2. a 1 KiB version in a store that already holds 10, 100 and 1,000 versions (the dedup index
//      reads every manifest under the lock), and resolve("name:best") at those sizes.
// Median of 5 (part 1) or 21 (part 2) repetitions, in a fresh directory under $TMPDIR or /tmp.
#include <runlog/artifacts.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Random bytes, so that no file system or cache sees a pattern.
void write_random_file(const fs::path& path, std::size_t bytes, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::uint64_t> block(1 << 17);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (std::size_t written = 0; written < bytes;) {
        for (auto& w : block) w = rng();
        const std::size_t n = std::min(bytes - written, block.size() * 8);
        out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
        written += n;
    }
}

}  // namespace

int main() {
    const char* tmp = std::getenv("TMPDIR");
    const fs::path root = fs::path(tmp ? tmp : "/tmp") /
                          ("runlog-bench-artifacts-" + std::to_string(std::random_device{}()));
    fs::create_directories(root);

    std::printf("| file | storage | ms per log_artifact | MB/s |\n|---|---|---:|---:|\n");
    for (const std::size_t mib : {std::size_t{64}, std::size_t{512}}) {
        const std::size_t bytes = mib << 20;
        const fs::path file = root / "checkpoint.bin";
        for (const auto storage :
             {runlog::artifact_storage::copy, runlog::artifact_storage::hardlink,
              runlog::artifact_storage::reference}) {
            std::vector<double> times;
            for (int rep = 0; rep < 5; ++rep) {
                write_random_file(file, bytes, static_cast<unsigned>(rep + 1));  // new content
                const runlog::artifact_store store(root / ("store-" + std::to_string(rep)));
                runlog::artifact_options options;
                options.storage = storage;
                const auto start = clock_type::now();
                const auto v = store.add("model", "model", {runlog::artifact_file(file)}, options);
                times.push_back(seconds_since(start));
                if (!v.ok()) return std::fprintf(stderr, "%s\n", v.error.c_str()), 1;
                fs::remove_all(store.dir());
            }
            const double t = median(times);
            std::printf("| %zu MiB, new | %s | %.0f | %.0f |\n", mib, runlog::to_string(storage),
                        t * 1e3, static_cast<double>(mib) * 1.048576 / t);
        }
        // The same bytes again: hashed, found, hard-linked to the stored copy.
        std::vector<double> times;
        const runlog::artifact_store store(root / "store-dup");
        write_random_file(file, bytes, 99);
        store.add("model", "model", {runlog::artifact_file(file)});
        for (int rep = 0; rep < 5; ++rep) {
            const auto start = clock_type::now();
            const auto v = store.add("model", "model", {runlog::artifact_file(file)});
            times.push_back(seconds_since(start));
            if (!v.ok()) return std::fprintf(stderr, "%s\n", v.error.c_str()), 1;
        }
        fs::remove_all(store.dir());
        const double t = median(times);
        std::printf("| %zu MiB, already stored | copy (deduplicated) | %.0f | %.0f |\n", mib,
                    t * 1e3, static_cast<double>(mib) * 1.048576 / t);
    }
    fs::remove(root / "checkpoint.bin");

    std::printf(
        "\n| versions already in the store | ms per 1 KiB log_artifact | ms per resolve |\n"
        "|---:|---:|---:|\n");
    const runlog::artifact_store store(root / "store-many");
    const fs::path small = root / "small.bin";
    int stored = 0;
    for (const int target : {10, 100, 1000}) {
        for (; stored < target; ++stored) {
            write_random_file(small, 1024, static_cast<unsigned>(1000 + stored));
            runlog::artifact_options options;
            if (stored % 10 == 0) options.aliases = {"best"};
            store.add("model", "model", {runlog::artifact_file(small)}, options);
        }
        std::vector<double> add_times, resolve_times;
        for (int rep = 0; rep < 21; ++rep) {
            write_random_file(small, 1024, static_cast<unsigned>(900000 + stored));
            auto start = clock_type::now();
            store.add("model", "model", {runlog::artifact_file(small)});
            add_times.push_back(seconds_since(start));
            ++stored;
            start = clock_type::now();
            const auto v = store.resolve("model:best");
            resolve_times.push_back(seconds_since(start));
            if (!v.ok()) return std::fprintf(stderr, "%s\n", v.error.c_str()), 1;
        }
        std::printf("| %d | %.2f | %.2f |\n", target, median(add_times) * 1e3,
                    median(resolve_times) * 1e3);
    }
    fs::remove_all(root);
    return 0;
}
