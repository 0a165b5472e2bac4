// SPDX-License-Identifier: MIT
// Console capture (issue 6): output of printf, std::cout, write(2) and a child process reaches
// both the "terminal" (a file standing in for it) and output.log byte for byte, including a last
// line without a newline; W&B gets output_raw records per stream; a child that keeps the pipe
// open cannot hold finish(); a second capture is refused; disabled runs touch nothing. Each case
// runs in a forked child, whose stdout and stderr are files the parent reads.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <runlog/export.hpp>

#include "support/test_support.hpp"
#include "support/wandb_reader.hpp"

namespace fs = std::filesystem;

namespace {
/// Runs `body` in a child whose stdout/stderr are <dir>/terminal_out and <dir>/terminal_err;
/// true when it exited with status 0.
template <class Body>
bool in_child(const fs::path& dir, Body body) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t child = fork();
    if (child < 0) return false;
    if (child == 0) {
        const int out = ::open((dir / "terminal_out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open((dir / "terminal_err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(out, 1);
        ::dup2(err, 2);
        const int code = body();
        std::fflush(stdout);
        _exit(code);  // no atexit handlers of the test framework in the child
    }
    int status = 0;
    return waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

runlog::settings console_settings(const test::temp_dir& dir, const char* id) {
    auto s = test::quiet_settings(dir);
    s.id = id;
    s.capture_console = true;
    return s;
}
}  // namespace

TEST_CASE("console: stdout and stderr reach the terminal and output.log, byte for byte",
          "[console]") {
    test::temp_dir dir;
    REQUIRE(in_child(dir.path, [&] {
        auto s = console_settings(dir, "console1");
        s.wandb_offline = true;
        auto run = runlog::init(s);
        std::printf("printf line\n");
        std::cout << "cout line " << 42 << std::endl;
        std::fprintf(stderr, "stderr line\n");
        if (::write(1, "raw write\n", 10) != 10) return 1;
        if (std::system("echo from a child process") != 0) return 1;
        run.log({{"loss", 0.5}});
        std::printf("last line without newline");
        if (run.finish() != runlog::status::ok) return 1;
        std::printf("\nafter finish\n");  // the terminal only
        return 0;
    }));
    const std::string terminal = test::read_file(dir.path / "terminal_out");
    const std::string captured_stdout =
        "printf line\ncout line 42\nraw write\nfrom a child process\nlast line without newline";
    CHECK(terminal == captured_stdout + "\nafter finish\n");
    CHECK(test::read_file(dir.path / "terminal_err") == "stderr line\n");

    const fs::path run_dir =
        dir.path / "runlog" / fs::read_symlink(dir.path / "runlog" / "latest-run");
    std::string log = test::read_file(run_dir / "output.log");
    // The two streams are separate pipes: stderr's chunk may sit anywhere between stdout's.
    const std::size_t at = log.find("stderr line\n");
    REQUIRE(at != std::string::npos);
    log.erase(at, 12);
    CHECK(log == captured_stdout);

    // W&B: output_raw records, STDOUT 1 and STDERR 0 (the default), the text in order.
    const fs::path wdir = dir.path / "wandb" / fs::read_symlink(dir.path / "wandb" / "latest-run");
    std::string out, err;
    for (const auto& r : test::read_wandb_records(test::read_file(wdir / "run-console1.wandb"))) {
        const auto record = test::decode_proto(r);
        if (test::record_type(record) != 13) continue;
        const auto body = test::decode_proto(record.str(13));
        CHECK(test::decode_proto(body.str(2)).varint(1) > 1700000000u);
        (body.varint(1) == 1 ? out : err) += body.str(3);
    }
    CHECK(out == captured_stdout);
    CHECK(err == "stderr line\n");

    // runlog export carries output.log (streams merged, as stdout).
    runlog::export_options options;
    options.output_root = dir.path / "exported";
    const auto exported = runlog::export_to_wandb(run_dir, options);
    REQUIRE(exported.ok);
    std::string all;
    for (const auto& r :
         test::read_wandb_records(test::read_file(exported.output_dir / "run-console1.wandb"))) {
        const auto record = test::decode_proto(r);
        if (test::record_type(record) != 13) continue;
        const auto body = test::decode_proto(record.str(13));
        CHECK(body.varint(1) == 1);
        all += body.str(3);
    }
    CHECK(all == test::read_file(run_dir / "output.log"));
}

TEST_CASE("console: a child holding the pipe cannot hold finish", "[console]") {
    test::temp_dir dir;
    REQUIRE(in_child(dir.path, [&] {
        auto run = runlog::init(console_settings(dir, "console2"));
        std::printf("before\n");
        // A background process inherits the captured stdout and keeps it open for 5 s.
        if (std::system("sleep 5 &") != 0) return 1;
        const auto start = std::chrono::steady_clock::now();
        if (run.finish() != runlog::status::ok) return 1;
        const auto took = std::chrono::steady_clock::now() - start;
        std::printf("finish took %lld ms\n",
                    static_cast<long long>(
                        std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
        return took < std::chrono::seconds(2) ? 0 : 1;
    }));
    const fs::path run_dir =
        dir.path / "runlog" / fs::read_symlink(dir.path / "runlog" / "latest-run");
    CHECK(test::read_file(run_dir / "output.log") == "before\n");
    CHECK_THAT(test::read_file(dir.path / "terminal_out"),
               Catch::StartsWith("before\nfinish took"));
}

TEST_CASE("console: one capture per process; disabled runs touch nothing", "[console]") {
    test::temp_dir dir;
    REQUIRE(in_child(dir.path, [&] {
        struct stat before {};
        ::fstat(1, &before);
        auto s = console_settings(dir, "console3");
        s.mode = runlog::run_mode::disabled;
        auto disabled = runlog::init(s);
        struct stat during {};
        ::fstat(1, &during);
        if (during.st_ino != before.st_ino) return 1;  // still the terminal file

        auto first = runlog::init(console_settings(dir, "console4"));
        test::error_log errors;
        auto second_settings = console_settings(dir, "console5");
        second_settings.on_error = errors.handler();
        auto second = runlog::init(second_settings);
        std::printf("to the first\n");
        if (second.finish() != runlog::status::ok || first.finish() != runlog::status::ok) return 1;
        if (errors.all_text().find("console capture is already active") == std::string::npos)
            return 1;
        return 0;
    }));
    CHECK(test::read_file(dir.path / "terminal_out") == "to the first\n");
    for (const auto& entry : fs::directory_iterator(dir.path / "runlog")) {
        const std::string name = entry.path().filename().string();
        if (name.find("console4") != std::string::npos)
            CHECK(test::read_file(entry.path() / "output.log") == "to the first\n");
        if (name.find("console5") != std::string::npos)
            CHECK_FALSE(fs::exists(entry.path() / "output.log"));
    }
}

TEST_CASE("console: a terminal that stops reading cannot hold finish", "[console]") {
    test::temp_dir dir;
    int terminal[2];
    REQUIRE(::pipe(terminal) == 0);  // the "terminal": nobody reads it while the child runs
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {  // no test-framework macros in the child
        ::dup2(terminal[1], 1);
        ::close(terminal[0]);
        auto run = runlog::init(console_settings(dir, "console6"));
        // 100 KiB: the terminal pipe takes 64; the rest fits in the capture pipe (64) and the
        // reader's hands whatever its chunk size, so the program's own writes complete (more
        // would block it, as a full terminal does without capture). finish must still record
        // what sits in the pipe after giving up on the terminal.
        const std::string line(1023, 'x');
        for (int i = 0; i < 100; ++i) std::printf("%s\n", line.c_str());
        const auto start = std::chrono::steady_clock::now();
        const bool ok = run.finish() == runlog::status::ok;
        const bool prompt = std::chrono::steady_clock::now() - start < std::chrono::seconds(3);
        _exit(ok && prompt ? 0 : 1);
    }
    REQUIRE(child > 0);
    ::close(terminal[1]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    ::close(terminal[0]);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    const fs::path run_dir =
        dir.path / "runlog" / fs::read_symlink(dir.path / "runlog" / "latest-run");
    CHECK(test::read_file(run_dir / "output.log").size() == 100u * 1024u);  // all of it
}
