// SPDX-License-Identifier: MIT
#pragma once
// Runs one benchmark case in a child process, so that the peak RSS getrusage reports for it is
// its own and no case inherits another's threads or heap. The parent must have no threads when
// it forks. Result must be trivially copyable: it comes back through a pipe.
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

template <class Result>
struct child_result {
    Result value{};
    double peak_rss_mib = 0.0;
};

/// body() runs in the child; exits the benchmark if the child fails.
template <class Body>
auto in_child(Body&& body) -> child_result<decltype(body())> {
    using Result = decltype(body());
    static_assert(std::is_trivially_copyable_v<Result>, "results travel through a pipe");
    child_result<Result> out;
    int fds[2];
    if (::pipe(fds) != 0) std::exit(1);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        const Result r = body();
        const auto written = ::write(fds[1], &r, sizeof r);
        ::_exit(written == static_cast<ssize_t>(sizeof r) ? 0 : 1);
    }
    ::close(fds[1]);
    const bool got =
        ::read(fds[0], &out.value, sizeof out.value) == static_cast<ssize_t>(sizeof out.value);
    ::close(fds[0]);
    int status = 0;
    rusage usage{};
    ::wait4(pid, &status, 0, &usage);
    if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "benchmark: a case failed in its child process\n");
        std::exit(1);
    }
    out.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: KiB
    return out;
}

}  // namespace bench
