// SPDX-License-Identifier: MIT
// A program for counting the system calls log() makes on the calling thread, under strace
// (bench/run.sh does this when strace is installed):
//
//   strace -f -o trace.txt build-bench/bench/bench_syscalls
//
// It logs 200,000 rows of 4 scalars at 100,000 calls/s (spinning between calls, no sleep) with
// default settings, between two getppid() calls that mark the window in the trace. Every system
// call the main thread makes inside the window is log()'s.
#include <runlog/runlog.hpp>

#include <chrono>

#include <sys/syscall.h>
#include <unistd.h>

int main() {
    auto run = runlog::init(runlog::settings{}.with_quiet(true).with_dir(
        (std::filesystem::temp_directory_path() / "runlog-bench-syscalls").string()));
    run.log({{"train/loss", 1.0}, {"train/acc", 0.5}, {"lr", 0.1f}, {"epoch", 0}});  // keys known
    run.flush();
    ::syscall(SYS_getppid);  // the window opens
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < 200000; ++i) {
        while (std::chrono::steady_clock::now() < start + std::chrono::microseconds(10 * i)) {
        }
        const double x = 1.0 / static_cast<double>(i + 1);
        run.log({{"train/loss", x}, {"train/acc", 1.0 - x}, {"lr", 0.1f}, {"epoch", i / 1000}});
    }
    ::syscall(SYS_getppid);  // the window closes
    run.finish();
    std::filesystem::remove_all(std::filesystem::temp_directory_path() / "runlog-bench-syscalls");
}
