// SPDX-License-Identifier: MIT
#pragma once
// Readers of Linux's /proc text for the system-metrics sampler: pure functions from the files'
// text to numbers (testable on fixed text), and `system_probe`, which reads the files and turns
// two readings into one sample with W&B's key names (wandb-offline-format.md §3.9).
//
// Elsewhere (macOS, Windows, BSD) the files do not exist and a sample holds only what portable
// calls give: the run directory's disk usage (std::filesystem::space). Documented in
// docs/format.md.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "../value.hpp"
#include "os.hpp"

#if defined(__linux__)
#include <unistd.h>
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

/// The whitespace-separated fields of `line`.
inline std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\n') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
        if (i < line.size() && line[i] == '\n') break;
    }
    return out;
}

/// Calls `fn(line)` for each line of `text` (without its '\n').
template <class Fn>
void for_each_line(std::string_view text, Fn fn) {
    for (std::size_t at = 0; at < text.size();) {
        std::size_t end = text.find('\n', at);
        if (end == std::string_view::npos) end = text.size();
        fn(text.substr(at, end - at));
        at = end + 1;
    }
}

inline std::uint64_t to_u64(std::string_view s) noexcept {
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') break;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

/// /proc/self/stat: CPU ticks used by the process, its threads and resident pages.
struct process_stat {
    std::uint64_t cpu_ticks = 0;  // utime + stime
    std::uint64_t threads = 0;
    std::uint64_t rss_pages = 0;
};

inline bool parse_process_stat(std::string_view text, process_stat& out) {
    // "pid (comm) state ..." — comm may hold spaces and parentheses: fields start after the last
    // ')'.
    const std::size_t close = text.rfind(')');
    if (close == std::string_view::npos) return false;
    const auto f = split_fields(text.substr(close + 1));
    // After ')': f[0] is field 3 (state); utime is field 14, stime 15, num_threads 20, rss 24.
    if (f.size() < 22) return false;
    out.cpu_ticks = to_u64(f[11]) + to_u64(f[12]);
    out.threads = to_u64(f[17]);
    out.rss_pages = to_u64(f[21]);
    return true;
}

/// The first line of /proc/stat: all CPUs' ticks, and the idle part (idle + iowait).
struct cpu_times {
    std::uint64_t total = 0;
    std::uint64_t idle = 0;
};

inline bool parse_cpu_times(std::string_view text, cpu_times& out) {
    if (text.rfind("cpu ", 0) != 0) return false;
    const auto f = split_fields(text);
    if (f.size() < 6) return false;
    out = {};
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    for (std::size_t i = 1; i < f.size() && i <= 8; ++i) out.total += to_u64(f[i]);
    out.idle = to_u64(f[4]) + to_u64(f[5]);
    return true;
}

/// /proc/meminfo: MemTotal and MemAvailable, in kB.
struct memory_info {
    std::uint64_t total_kb = 0;
    std::uint64_t available_kb = 0;
};

inline bool parse_meminfo(std::string_view text, memory_info& out) {
    out = {};
    for_each_line(text, [&](std::string_view line) {
        const auto f = split_fields(line);
        if (f.size() >= 2 && f[0] == "MemTotal:") out.total_kb = to_u64(f[1]);
        if (f.size() >= 2 && f[0] == "MemAvailable:") out.available_kb = to_u64(f[1]);
    });
    return out.total_kb > 0;
}

/// /proc/net/dev: bytes received and sent by every interface but loopback.
struct network_bytes {
    std::uint64_t recv = 0;
    std::uint64_t sent = 0;
};

inline bool parse_net_dev(std::string_view text, network_bytes& out) {
    out = {};
    bool any = false;
    for_each_line(text, [&](std::string_view line) {
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return;  // the two header lines
        const auto name = split_fields(line.substr(0, colon));
        if (name.empty() || name[0] == "lo") return;
        // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes ...
        const auto f = split_fields(line.substr(colon + 1));
        if (f.size() < 9) return;
        out.recv += to_u64(f[0]);
        out.sent += to_u64(f[8]);
        any = true;
    });
    return any;
}

/// /proc/diskstats: sectors (512 bytes) read and written by the devices named in `disks` (whole
/// disks, so partitions are not counted twice).
struct disk_bytes {
    std::uint64_t read = 0;
    std::uint64_t written = 0;
};

inline bool parse_diskstats(std::string_view text, const std::unordered_set<std::string>& disks,
                            disk_bytes& out) {
    out = {};
    for_each_line(text, [&](std::string_view line) {
        // major minor name reads merged sectors_read ms writes merged sectors_written ...
        const auto f = split_fields(line);
        if (f.size() < 10 || disks.count(std::string(f[2])) == 0) return;
        out.read += to_u64(f[5]) * 512;
        out.written += to_u64(f[9]) * 512;
    });
    return true;
}

/// Reads the system's counters and turns consecutive readings into samples.
///
/// Counters are compared only with the previous reading, and a counter that went backwards
/// counts 0 for that interval: an interface or disk that disappears, a counter reset, and
/// /proc/stat's iowait (which the kernel lets decrease) must not wrap an unsigned difference
/// into an absurd rate or total. Totals (disk.in/out, network.sent/recv) are sums of those
/// intervals since the first reading, so they never decrease either.
/// The mount point of the file system holding `path` (the longest mount point of
/// /proc/self/mountinfo that contains it); `path` itself where that cannot be read. The run's
/// directory must not appear in a metric's name: W&B groups the same disk across runs by it.
inline std::string mount_point(
    const std::filesystem::path& path,
    const std::string& mountinfo = read_small_file("/proc/self/mountinfo")) {
    std::error_code ec;
    const std::filesystem::path where = std::filesystem::weakly_canonical(path, ec);
    const std::string target = (ec ? path : where).generic_string();
    std::string best;
    std::istringstream lines(mountinfo);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        std::string skip, mount;
        fields >> skip >> skip >> skip >> skip >> mount;  // the 5th field is the mount point
        std::string unescaped;  // spaces and the like are octal escapes: \040
        for (std::size_t i = 0; i < mount.size(); ++i) {
            auto octal = [&](std::size_t k) { return mount[k] >= '0' && mount[k] <= '7'; };
            if (mount[i] == '\\' && i + 3 < mount.size() && octal(i + 1) && octal(i + 2) &&
                octal(i + 3)) {
                unescaped.push_back(static_cast<char>(
                    (mount[i + 1] - '0') * 64 + (mount[i + 2] - '0') * 8 + (mount[i + 3] - '0')));
                i += 3;
            } else {
                unescaped.push_back(mount[i]);
            }
        }
        const bool inside = target == unescaped || unescaped == "/" ||
                            (target.compare(0, unescaped.size(), unescaped) == 0 &&
                             target.size() > unescaped.size() && target[unescaped.size()] == '/');
        if (inside && unescaped.size() > best.size()) best = unescaped;
    }
    return best.empty() ? target : best;
}

class system_probe {
  public:
    /// One reading of the counters (public so that tests can feed counters that misbehave).
    struct reading {
        double time = 0.0;
        process_stat process;
        cpu_times cpu;
        memory_info memory;
        network_bytes network;
        disk_bytes disk;
        bool has_process = false, has_cpu = false, has_memory = false, has_network = false,
             has_disk = false;
    };

    /// `disk_path`: a directory on the file system whose usage is reported (the run's root),
    /// under the keys of its mount point (`disk./.usagePercent`, as W&B's client names them).
    explicit system_probe(std::filesystem::path disk_path)
        : disk_path_(std::move(disk_path)), disk_key_("disk." + mount_point(disk_path_)) {
#if defined(__linux__)
        ticks_per_second_ = static_cast<double>(sysconf(_SC_CLK_TCK));
        page_size_ = static_cast<double>(sysconf(_SC_PAGESIZE));
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator("/sys/block", ec)) {
            const std::string name = entry.path().filename().string();
            const bool virtual_disk = name.rfind("loop", 0) == 0 || name.rfind("ram", 0) == 0 ||
                                      name.rfind("zram", 0) == 0;  // zram: swap in RAM
            if (!virtual_disk) disks_.insert(name);
        }
#endif
        read(last_);
    }
    /// A probe whose first reading is `first` (tests).
    system_probe(std::filesystem::path disk_path, const reading& first)
        : system_probe(std::move(disk_path)) {
        last_ = first;
    }

    /// One sample: the counters now, rates since the previous sample, totals since the first.
    value sample(double now) {
        reading current;
        read(current);
        current.time = now;
        return sample(current);
    }

    /// The same from a reading taken elsewhere.
    value sample(const reading& current) {
        value out = value::object();
        const double elapsed = current.time - last_.time;
        if (current.has_process && last_.has_process && elapsed > 0 && ticks_per_second_ > 0) {
            const double cpu_seconds =
                static_cast<double>(since(last_.process.cpu_ticks, current.process.cpu_ticks)) /
                ticks_per_second_;
            out["cpu"] = round2(100.0 * cpu_seconds / elapsed);
        }
        // Left out for an interval where idle went backwards: unknown, not 100% busy.
        if (current.has_cpu && last_.has_cpu && current.cpu.total > last_.cpu.total &&
            current.cpu.idle >= last_.cpu.idle) {
            const auto total = static_cast<double>(current.cpu.total - last_.cpu.total);
            const auto idle = static_cast<double>(current.cpu.idle - last_.cpu.idle);
            out["cpu.system_percent"] = round2(percent(total - idle, total));
        }
        if (current.has_memory) {
            const double total = static_cast<double>(current.memory.total_kb);
            const double available = static_cast<double>(current.memory.available_kb);
            out["memory_percent"] = round2(percent(total - available, total));
            out["proc.memory.availableMB"] = round2(available / 1024.0);
            if (current.has_process) {
                const double rss_kb =
                    static_cast<double>(current.process.rss_pages) * page_size_ / 1024.0;
                out["proc.memory.rssMB"] = round2(rss_kb / 1024.0);
                out["proc.memory.percent"] = round2(percent(rss_kb, total));
            }
        }
        if (current.has_process) out["proc.cpu.threads"] = current.process.threads;
        std::error_code ec;
        const auto space = std::filesystem::space(disk_path_, ec);
        if (!ec && space.capacity > 0) {
            const auto used = static_cast<double>(space.capacity - space.free);
            out[disk_key_ + ".usagePercent"] =
                round2(100.0 * used / static_cast<double>(space.capacity));
            out[disk_key_ + ".usageGB"] = round2(used / 1e9);
        }
        if (current.has_disk && last_.has_disk) {
            disk_read_ += since(last_.disk.read, current.disk.read);
            disk_written_ += since(last_.disk.written, current.disk.written);
            out["disk.in"] = round2(static_cast<double>(disk_read_) / 1e6);
            out["disk.out"] = round2(static_cast<double>(disk_written_) / 1e6);
        }
        if (current.has_network && last_.has_network) {
            network_sent_ += since(last_.network.sent, current.network.sent);
            network_recv_ += since(last_.network.recv, current.network.recv);
            out["network.sent"] = network_sent_;
            out["network.recv"] = network_recv_;
        }
        // A counter missing from this reading keeps its last value as the next baseline.
        if (current.has_process) last_.process = current.process;
        if (current.has_cpu) last_.cpu = current.cpu;
        if (current.has_network) last_.network = current.network;
        if (current.has_disk) last_.disk = current.disk;
        last_.has_process = last_.has_process || current.has_process;
        last_.has_cpu = last_.has_cpu || current.has_cpu;
        last_.has_network = last_.has_network || current.has_network;
        last_.has_disk = last_.has_disk || current.has_disk;
        last_.time = current.time;
        return out;
    }

    /// Sets the time of the first reading (the baseline for the first sample's rates).
    void start(double now) {
        last_.time = now;
    }

  private:
    /// How far a counter advanced; 0 when it went backwards (see the class comment).
    static std::uint64_t since(std::uint64_t before, std::uint64_t now) noexcept {
        return now >= before ? now - before : 0;
    }
    static double percent(double part, double whole) noexcept {
        if (!(whole > 0.0)) return 0.0;
        return std::min(100.0, std::max(0.0, 100.0 * part / whole));
    }

    static double round2(double v) {
        return static_cast<double>(static_cast<std::int64_t>(v * 100.0 + (v < 0 ? -0.5 : 0.5))) /
               100.0;
    }

    void read(reading& r) const {
#if defined(__linux__)
        r.has_process = parse_process_stat(read_small_file("/proc/self/stat"), r.process);
        r.has_cpu = parse_cpu_times(read_small_file("/proc/stat"), r.cpu);
        r.has_memory = parse_meminfo(read_small_file("/proc/meminfo"), r.memory);
        r.has_network = parse_net_dev(read_small_file("/proc/net/dev"), r.network);
        r.has_disk =
            !disks_.empty() && parse_diskstats(read_small_file("/proc/diskstats"), disks_, r.disk);
#else
        (void)r;
#endif
    }

    std::filesystem::path disk_path_;
    std::string disk_key_;  // "disk.<mount point>"
    double ticks_per_second_ = 0.0;
    double page_size_ = 0.0;
    std::unordered_set<std::string> disks_;
    reading last_;
    std::uint64_t disk_read_ = 0, disk_written_ = 0;     // bytes since the first reading
    std::uint64_t network_sent_ = 0, network_recv_ = 0;  // ...
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
