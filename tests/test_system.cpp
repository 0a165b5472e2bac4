// SPDX-License-Identifier: MIT
// System metrics (issue 6, first part): the /proc parsers on fixed text, and a live sampler
// checked against /proc read independently here, in every sink (system.jsonl, W&B stats records,
// TensorBoard system/ scalars), plus the cases that must produce nothing.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <runlog/detail/json_reader.hpp>
#include <runlog/detail/nvml.hpp>
#include <runlog/detail/proc_stats.hpp>
#include <runlog/export.hpp>

#include "support/test_support.hpp"
#include "support/tfevents_reader.hpp"
#include "support/wandb_reader.hpp"

namespace fs = std::filesystem;
using runlog::value;

TEST_CASE("proc: /proc/self/stat, a command name with spaces and parentheses", "[system]") {
    const std::string text =
        "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 7 0 "
        "123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
    runlog::detail::process_stat st;
    REQUIRE(runlog::detail::parse_process_stat(text, st));
    CHECK(st.cpu_ticks == 175);  // utime 150 + stime 25
    CHECK(st.threads == 7);
    CHECK(st.rss_pages == 2560);
    CHECK_FALSE(runlog::detail::parse_process_stat("garbage", st));
}

TEST_CASE("proc: /proc/stat, /proc/meminfo, /proc/net/dev, /proc/diskstats", "[system]") {
    using namespace runlog::detail;
    cpu_times cpu;
    REQUIRE(
        parse_cpu_times("cpu  100 5 50 800 20 3 2 1 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\n", cpu));
    CHECK(cpu.total == 981);  // user..steal
    CHECK(cpu.idle == 820);   // idle + iowait
    CHECK_FALSE(parse_cpu_times("intr 1 2 3\n", cpu));

    memory_info mem;
    REQUIRE(
        parse_meminfo("MemTotal:       16000000 kB\nMemFree:  1000 kB\n"
                      "MemAvailable:    4000000 kB\nBuffers: 1 kB\n",
                      mem));
    CHECK(mem.total_kb == 16000000);
    CHECK(mem.available_kb == 4000000);

    network_bytes net;
    REQUIRE(parse_net_dev(
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
        "    lo: 9999 10 0 0 0 0 0 0 9999 10 0 0 0 0 0 0\n"
        "  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
        "  eth1:500 5 0 0 0 0 0 0 700 7 0 0 0 0 0 0\n",
        net));
    CHECK(net.recv == 1500);  // loopback excluded
    CHECK(net.sent == 2700);

    disk_bytes disk;
    REQUIRE(
        parse_diskstats("   8       0 sda 100 0 2000 0 50 0 4000 0 0 0 0\n"
                        "   8       1 sda1 90 0 1800 0 40 0 3000 0 0 0 0\n"
                        " 259       0 nvme0n1 10 0 100 0 5 0 60 0 0 0 0\n",
                        {"sda", "nvme0n1"}, disk));
    CHECK(disk.read == (2000 + 100) * 512u);  // whole disks only, not sda1 again
    CHECK(disk.written == (4000 + 60) * 512u);
}

namespace {

/// A number from /proc read here, independently of the library.
double proc_status_kb(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + std::strlen(field));
    return -1;
}

double meminfo_kb(const char* field) {
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + std::strlen(field));
    return -1;
}

void burn_cpu(std::chrono::milliseconds how_long) {
    const auto end = std::chrono::steady_clock::now() + how_long;
    volatile double x = 1.0;
    while (std::chrono::steady_clock::now() < end)
        for (int i = 0; i < 1000; ++i) x = x * 1.0000001 + 1e-9;
}

}  // namespace

TEST_CASE("system probe: counters that go backwards or vanish never wrap", "[system]") {
    using runlog::detail::system_probe;
    test::temp_dir dir;
    system_probe::reading r0;
    r0.time = 100.0;
    r0.has_cpu = r0.has_network = r0.has_disk = true;
    r0.cpu = {1000, 800};          // total, idle ticks
    r0.network = {5000, 3000};     // bytes received, sent
    r0.disk = {1000000, 2000000};  // bytes read, written
    system_probe probe(dir.path, r0);
    auto number = [](const value& sample, const char* key) {
        const value* v = sample.find(key);
        return v != nullptr ? v->as_double() : -1.0;
    };

    system_probe::reading r1 = r0;
    r1.time = 110.0;
    r1.cpu = {2000, 1300};
    r1.network = {6000, 3500};
    r1.disk = {2000000, 2500000};
    const value s1 = probe.sample(r1);
    CHECK(number(s1, "cpu.system_percent") == 50.0);
    CHECK(number(s1, "network.recv") == 1000.0);
    CHECK(number(s1, "network.sent") == 500.0);
    CHECK(number(s1, "disk.in") == 1.0);  // MB
    CHECK(number(s1, "disk.out") == 0.5);

    // An interface and a disk disappear (the sums drop), iowait decreases (idle goes back).
    system_probe::reading r2 = r1;
    r2.time = 120.0;
    r2.cpu = {3000, 1200};
    r2.network = {100, 50};
    r2.disk = {0, 0};
    const value s2 = probe.sample(r2);
    CHECK_FALSE(s2.contains("cpu.system_percent"));  // unknown for this interval
    CHECK(number(s2, "network.recv") == 1000.0);     // not 2^64 - 5900
    CHECK(number(s2, "network.sent") == 500.0);
    CHECK(number(s2, "disk.in") == 1.0);
    CHECK(number(s2, "disk.out") == 0.5);

    // Counting goes on from the new baseline; a reading without network keeps the old one.
    system_probe::reading r3 = r2;
    r3.time = 130.0;
    r3.cpu = {4000, 1700};
    r3.network = {400, 250};
    r3.disk = {3000000, 0};
    const value s3 = probe.sample(r3);
    CHECK(number(s3, "cpu.system_percent") == 50.0);
    CHECK(number(s3, "network.recv") == 1300.0);
    CHECK(number(s3, "network.sent") == 700.0);
    CHECK(number(s3, "disk.in") == 4.0);
    system_probe::reading r4 = r3;
    r4.time = 140.0;
    r4.has_network = false;
    CHECK_FALSE(probe.sample(r4).contains("network.recv"));
    system_probe::reading r5 = r3;
    r5.time = 150.0;
    r5.network = {500, 300};
    const value s5 = probe.sample(r5);
    CHECK(number(s5, "network.recv") == 1400.0);
    CHECK(number(s5, "network.sent") == 750.0);
}

TEST_CASE("system sampler: samples agree with /proc and reach every sink", "[system]") {
    test::temp_dir dir;
    auto memory = std::make_shared<runlog::memory_sink>();
    auto s = test::quiet_settings(dir);
    s.system_metrics = true;
    s.id = "system01";
    s.wandb_offline = true;
    s.tensorboard = true;
    s.sinks.push_back(memory);
    s.system_interval = std::chrono::milliseconds(100);
    auto run = runlog::init(s);
    std::vector<char> ballast(64 << 20, 1);  // 64 MiB resident: RSS must show it
    burn_cpu(std::chrono::milliseconds(450));
    run.log({{"loss", 1.0}});
    const double rss_mb_here = proc_status_kb("VmRSS:") / 1024.0;
    std::size_t threads_here = 0;
    for (const auto& t : fs::directory_iterator("/proc/self/task")) threads_here += t.exists();
    const double mem_percent_here =
        100.0 * (1.0 - meminfo_kb("MemAvailable:") / meminfo_kb("MemTotal:"));
    burn_cpu(std::chrono::milliseconds(250));
    const fs::path run_dir = run.dir();
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK(ballast[12345] == 1);

    const auto samples = memory->system();
    REQUIRE(samples.size() >= 3);
    double max_cpu = 0;
    for (const auto& sample : samples) {
        INFO(sample.dump());
        for (const char* key : {"cpu", "cpu.system_percent", "memory_percent", "proc.memory.rssMB",
                                "proc.memory.percent", "proc.memory.availableMB",
                                "proc.cpu.threads", "network.sent", "network.recv"})
            CHECK(sample.contains(key));
        max_cpu = std::max(max_cpu, sample.find("cpu")->as_double());
        const double cpu_system = sample.find("cpu.system_percent")->as_double();
        CHECK((cpu_system >= 0 && cpu_system <= 100));
    }
    CHECK(max_cpu > 20);  // a thread burning a core for 700 ms
    const value& last = samples.back();
    // Against /proc read here during the run (the ballast keeps RSS steady).
    CHECK(last.find("proc.memory.rssMB")->as_double() == Approx(rss_mb_here).epsilon(0.25));
    CHECK(last.find("proc.memory.rssMB")->as_double() > 64);
    CHECK(std::abs(static_cast<double>(last.find("proc.cpu.threads")->as_int()) -
                   static_cast<double>(threads_here)) <= 2);
    CHECK(std::abs(last.find("memory_percent")->as_double() - mem_percent_here) < 10);
    // Named by the run's file system's mount point, as W&B names disks (not by the run's path).
    const std::string disk_key = "disk." + runlog::detail::mount_point(dir.path);
    CHECK(last.contains(disk_key + ".usagePercent"));
    CHECK(last.contains(disk_key + ".usageGB"));
    for (const auto& [key, v] : last.as_object())
        CHECK(key.find(dir.path.filename().string()) == std::string::npos);

    // system.jsonl: one line per sample, with _timestamp and _runtime.
    std::ifstream in(run_dir / "system.jsonl");
    std::string line;
    std::size_t lines = 0;
    double previous_runtime = -1;
    while (std::getline(in, line)) {
        value v;
        std::string error;
        REQUIRE(runlog::detail::parse_json(line, v, error));
        CHECK(v.find("_timestamp")->as_double() > 1.7e9);
        CHECK(v.find("_runtime")->as_double() > previous_runtime);
        previous_runtime = v.find("_runtime")->as_double();
        CHECK(v.find("proc.cpu.threads")->as_int() ==
              samples[lines].find("proc.cpu.threads")->as_int());
        ++lines;
    }
    CHECK(lines == samples.size());

    // W&B: a stats record per sample, W&B's keys, a timestamp.
    const fs::path wdir = dir.path / "wandb" / fs::read_symlink(dir.path / "wandb" / "latest-run");
    std::size_t stats = 0;
    for (const auto& r : test::read_wandb_records(test::read_file(wdir / "run-system01.wandb"))) {
        const auto record = test::decode_proto(r);
        if (test::record_type(record) != 7) continue;
        const auto body = test::decode_proto(record.str(7));
        CHECK(body.varint(1) == 0);  // SYSTEM
        CHECK(test::decode_proto(body.str(2)).varint(1) > 1700000000u);
        std::vector<std::string> keys;
        for (const auto& item : body.all(3)) keys.push_back(test::decode_proto(item).str(1));
        CHECK(std::find(keys.begin(), keys.end(), "proc.memory.rssMB") != keys.end());
        ++stats;
    }
    CHECK(stats == samples.size());

    // TensorBoard: system/<key> scalars, the sample number as step.
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir.path / "tensorboard" / "system01"))
        files.push_back(e.path());
    REQUIRE(files.size() == 1);
    std::vector<std::int64_t> steps;
    for (const auto& event : test::read_events(test::read_file(files[0])))
        for (const auto& v : event.values)
            if (v.tag == "system/proc.cpu.threads") steps.push_back(event.step);
    REQUIRE(steps.size() == samples.size());
    for (std::size_t i = 0; i < steps.size(); ++i) CHECK(steps[i] == static_cast<std::int64_t>(i));
}

TEST_CASE("system sampler: nothing when off or disabled; one sample for a short run", "[system]") {
    test::temp_dir dir;
    SECTION("system_metrics = false") {
        auto memory = std::make_shared<runlog::memory_sink>();
        auto s = test::quiet_settings(dir);
        s.system_metrics = true;
        s.system_metrics = false;
        s.system_interval = std::chrono::milliseconds(20);
        s.sinks.push_back(memory);
        auto run = runlog::init(s);
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        const fs::path run_dir = run.dir();
        REQUIRE(run.finish() == runlog::status::ok);
        CHECK(memory->system().empty());
        CHECK_FALSE(fs::exists(run_dir / "system.jsonl"));
    }
    SECTION("disabled mode") {
        auto s = test::quiet_settings(dir);
        s.system_metrics = true;
        s.mode = runlog::run_mode::disabled;
        s.system_interval = std::chrono::milliseconds(20);
        auto run = runlog::init(s);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CHECK(run.finish() == runlog::status::disabled);
        CHECK_FALSE(fs::exists(dir.path / "runlog"));
    }
    SECTION("a run shorter than the default interval: one sample at finish, promptly") {
        auto memory = std::make_shared<runlog::memory_sink>();
        auto s = test::quiet_settings(dir);
        s.system_metrics = true;
        s.sinks.push_back(memory);
        auto run = runlog::init(s);
        run.log({{"loss", 1.0}});
        const auto start = std::chrono::steady_clock::now();
        REQUIRE(run.finish() == runlog::status::ok);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
        CHECK(memory->system().size() == 1);
    }
}

TEST_CASE("system samples: runlog export carries system.jsonl to W&B and TensorBoard",
          "[system][export]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.system_metrics = true;
    s.id = "system02";
    s.system_interval = std::chrono::milliseconds(100);
    auto run = runlog::init(s);
    for (int i = 0; i < 4; ++i) {
        run.log({{"loss", 1.0 / (i + 1)}});
        burn_cpu(std::chrono::milliseconds(120));
    }
    const fs::path run_dir = run.dir();
    REQUIRE(run.finish() == runlog::status::ok);
    std::size_t lines = 0;
    {
        std::ifstream in(run_dir / "system.jsonl");
        for (std::string line; std::getline(in, line);) ++lines;
    }
    REQUIRE(lines >= 3);

    runlog::export_options options;
    options.output_root = dir.path / "out";
    const auto wandb = runlog::export_to_wandb(run_dir, options);
    REQUIRE(wandb.ok);
    std::size_t stats = 0;
    std::vector<std::uint32_t> order;
    for (const auto& r :
         test::read_wandb_records(test::read_file(wandb.output_dir / "run-system02.wandb"))) {
        const auto type = test::record_type(test::decode_proto(r));
        stats += type == 7 ? 1 : 0;
        if (type == 7 || type == 2) order.push_back(type);
    }
    CHECK(stats == lines);
    CHECK(order.front() == 2);  // the first row came before the first sample (100 ms in)
    CHECK(std::count(order.begin(), order.end(), 2u) == 4);

    const auto tb = runlog::export_to_tensorboard(run_dir, options);
    REQUIRE(tb.ok);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(tb.output_dir)) files.push_back(e.path());
    REQUIRE(files.size() == 1);
    std::size_t cpu = 0;
    for (const auto& event : test::read_events(test::read_file(files[0])))
        for (const auto& v : event.values) cpu += v.tag == "system/cpu" ? 1 : 0;
    CHECK(cpu == lines);
}

namespace {
/// GPU keys of one sample taken through the fake NVML in `mode`.
value fake_gpu_sample(const char* library, const char* mode) {
    test::env_guard lib("RUNLOG_NVML_LIBRARY", library);
    test::env_guard fake_mode("FAKE_NVML_MODE", mode);
    const runlog::detail::nvml_gpus gpus;
    value out = value::object();
    gpus.sample(out);
    return out;
}
}  // namespace

TEST_CASE("gpu: NVML opened at run time; present, absent, failing", "[system][gpu]") {
    SECTION("two GPUs") {
        const value v = fake_gpu_sample(RUNLOG_FAKE_NVML_PATH, "ok");
        INFO(v.dump());
        CHECK(v.find("gpu.0.gpu")->as_int() == 40);
        CHECK(v.find("gpu.1.gpu")->as_int() == 50);
        CHECK(v.find("gpu.0.memory")->as_int() == 20);
        CHECK(v.find("gpu.0.memoryAllocated")->as_double() == 25.0);
        CHECK(v.find("gpu.1.memoryAllocated")->as_double() == 50.0);
        CHECK(v.find("gpu.1.memoryAllocatedBytes")->as_int() == 8LL << 30);
        CHECK(v.find("gpu.0.memoryTotalBytes")->as_int() == 16LL << 30);
        CHECK(v.find("gpu.0.temp")->as_int() == 60);
        CHECK(v.find("gpu.1.powerWatts")->as_double() == 151.5);
        CHECK(v.size() == 14);  // 7 keys x 2 GPUs
    }
    SECTION("nvmlInit fails: no GPU keys") {
        CHECK(fake_gpu_sample(RUNLOG_FAKE_NVML_PATH, "init_fails").size() == 0);
    }
    SECTION("a failing query leaves out that key only") {
        const value v = fake_gpu_sample(RUNLOG_FAKE_NVML_PATH, "queries_fail");
        INFO(v.dump());
        CHECK(v.contains("gpu.0.gpu"));
        CHECK_FALSE(v.contains("gpu.1.gpu"));
        CHECK_FALSE(v.contains("gpu.1.powerWatts"));
        CHECK(v.find("gpu.1.temp")->as_int() == 61);
    }
    SECTION("no library: no GPU keys") {
        CHECK(fake_gpu_sample("/nonexistent/libnvidia-ml.so.1", "ok").size() == 0);
    }
}

TEST_CASE("gpu: a live run's samples carry the GPU keys", "[system][gpu]") {
    test::env_guard lib("RUNLOG_NVML_LIBRARY", RUNLOG_FAKE_NVML_PATH);
    test::env_guard fake_mode("FAKE_NVML_MODE", "ok");
    test::temp_dir dir;
    auto memory = std::make_shared<runlog::memory_sink>();
    auto s = test::quiet_settings(dir);
    s.system_metrics = true;
    s.sinks.push_back(memory);
    s.system_interval = std::chrono::milliseconds(50);
    auto run = runlog::init(s);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    REQUIRE(run.finish() == runlog::status::ok);
    const auto samples = memory->system();
    REQUIRE_FALSE(samples.empty());
    for (const auto& sample : samples) CHECK(sample.find("gpu.1.temp")->as_int() == 61);
}

TEST_CASE("system probe: the disk keys name the mount point holding the run", "[system]") {
    const std::string mountinfo =
        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "30 22 8:2 / /home rw - ext4 /dev/sda2 rw\n"
        "31 30 0:5 / /home/me/my\\040runs rw - tmpfs tmpfs rw\n";
    using runlog::detail::mount_point;
    CHECK(mount_point("/home/me/exp", mountinfo) == "/home");
    CHECK(mount_point("/home/me/my runs/x", mountinfo) == "/home/me/my runs");
    CHECK(mount_point("/homework", mountinfo) == "/");   // a prefix of a name is not a parent
    CHECK(mount_point("/srv/data", "") == "/srv/data");  // no mountinfo: the path itself
}

TEST_CASE("system sampler: samples a full queue drops are counted apart from log calls",
          "[system]") {
    test::temp_dir dir;
    auto blocker = std::make_shared<test::blocking_sink>();
    auto s = test::quiet_settings(dir);
    s.native_files = false;
    s.sinks = {blocker};
    s.system_metrics = true;
    s.system_interval = std::chrono::milliseconds(5);
    s.queue_capacity = 8;
    auto run = runlog::init(s);
    run.log({{"loss", 1.0}});
    REQUIRE(blocker->wait_entered(std::chrono::seconds(10)));  // the writer is stuck on row 0
    // The sampler fills the queue and then drops: it never waits.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (run.stats().dropped_samples == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    blocker->release();
    REQUIRE(run.finish() == runlog::status::ok);
    const auto stats = run.stats();
    CHECK(stats.dropped_samples > 0);
    CHECK(stats.dropped_queue_full == 0);  // was the samples' count: a run that kept every row
    CHECK(stats.dropped() == 0);           // reported drops
    CHECK(stats.rows_committed == 1);
}
