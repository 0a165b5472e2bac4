// SPDX-License-Identifier: MIT
// Built with -fno-exceptions -fno-rtti (no Catch2, which needs exceptions): a setup error goes to
// the error handler and init() returns a disabled run; a good setup logs normally.
#include <runlog/runlog.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

static_assert(RUNLOG_NO_EXCEPTIONS == 1, "build this file with -fno-exceptions");

namespace {
int failures = 0;
void expect(bool ok, const char* what) {
    if (!ok) {
        std::printf("FAILED: %s\n", what);
        ++failures;
    }
}
}  // namespace

int main() {
    const auto dir = std::filesystem::temp_directory_path() / "runlog-no-exceptions-check";
    std::filesystem::remove_all(dir);
    std::string reported;
    auto handler = [&](const runlog::error_report& r) { reported = r.message; };

    setenv("RUNLOG_MODE", "bogus", 1);
    auto bad = runlog::init(runlog::settings{}.with_dir(dir.string()).with_error_handler(handler));
    expect(!bad.enabled(), "a setup error gives a disabled run");
    expect(reported.rfind("[runlog.102] RUNLOG_MODE='bogus'", 0) == 0, "the handler got the error");
    bad.log({{"ignored", 1}});
    unsetenv("RUNLOG_MODE");

    auto run = runlog::init(runlog::settings{}.with_dir(dir.string()).with_quiet(true));
    expect(run.enabled(), "a good setup starts a run");
    for (int i = 0; i < 100; ++i) run.log({{"loss", 1.0 / (i + 1)}});
    expect(run.finish() == runlog::status::ok, "finish");
    expect(run.stats().rows_committed == 100, "100 rows committed");
    std::filesystem::remove_all(dir);
    std::printf("%s\n", failures == 0 ? "no-exceptions check: ok" : "no-exceptions check: FAILED");
    return failures == 0 ? 0 : 1;
}
