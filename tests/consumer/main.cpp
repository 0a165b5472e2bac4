// SPDX-License-Identifier: MIT
// A project using an installed runlog (CMake find_package, pkg-config, or a meson subproject).
#include <runlog/runlog.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    const char* dir = argc > 1 ? argv[1] : ".";
    auto run =
        runlog::init(runlog::settings{}.with_dir(dir).with_project("consumer").with_quiet(true));
    for (int step = 0; step < 3; ++step) run.log({{"loss", 1.0 / (step + 1)}});
    const bool ok = run.finish() == runlog::status::ok && run.stats().rows_committed == 3;
    std::printf("consumer: runlog %s, %s\n", RUNLOG_VERSION_STRING, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
