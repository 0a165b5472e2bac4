// SPDX-License-Identifier: MIT
// How a run ends when its process does (issue 9, item 3): SIGTERM/SIGINT/SIGUSR1 with
// settings::handle_signals (flushed, marked, passed on to the default or the program's handler),
// without it, exit() while another thread waits on a full queue, and returning from main with a
// run never finished. Each case runs crash/ending_child.cpp in its own process.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <runlog/detail/json_reader.hpp>
#include <runlog/export.hpp>

#include "support/test_support.hpp"
#include "support/tfevents_reader.hpp"
#include "support/wandb_reader.hpp"

namespace fs = std::filesystem;
using runlog::value;

namespace {

struct child {
    pid_t pid = -1;
    int out = -1;  // its stdout
};

child spawn(const char* mode, const fs::path& root) {
    int pipe_ends[2];
    REQUIRE(pipe(pipe_ends) == 0);
    child c;
    c.pid = fork();
    if (c.pid == 0) {
        dup2(pipe_ends[1], 1);
        close(pipe_ends[0]);
        close(pipe_ends[1]);
        execl(RUNLOG_ENDING_CHILD_PATH, RUNLOG_ENDING_CHILD_PATH, mode, root.c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
    }
    close(pipe_ends[1]);
    c.out = pipe_ends[0];
    REQUIRE(c.pid > 0);
    return c;
}

/// Waits (at most 20 s) for the child's "ready" line.
void wait_ready(const child& c) {
    std::string seen;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (seen.find("ready\n") == std::string::npos) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        pollfd p{c.out, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        char buffer[64];
        const ssize_t n = read(c.out, buffer, sizeof buffer);
        REQUIRE(n > 0);
        seen.append(buffer, static_cast<std::size_t>(n));
    }
}

/// The child's wait status; fails (and kills it) if it has not ended within 20 s: a deadlock.
int wait_end(const child& c) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    while (waitpid(c.pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(c.pid, SIGKILL);
            waitpid(c.pid, &status, 0);
            FAIL("the child did not end within 20 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    close(c.out);
    return status;
}

fs::path run_dir_of(const fs::path& root) {
    return root / "runlog" / "latest-run";
}

/// The steps in history.jsonl, checked to be 0, 1, 2, ... with no torn line.
std::int64_t history_rows(const fs::path& run_dir) {
    std::int64_t rows = 0;
    for (const value& row : test::read_history(run_dir))
        REQUIRE(row.find("_step")->as_int() == rows++);
    return rows;
}

/// The .wandb file's record types, read strictly (a complete file: no torn tail).
std::vector<std::uint32_t> wandb_types(const fs::path& root, std::uint64_t* exit_code) {
    std::vector<std::uint32_t> types;
    for (const auto& entry : fs::recursive_directory_iterator(root / "wandb")) {
        if (entry.path().extension() != ".wandb") continue;
        for (const auto& record : test::read_wandb_records(test::read_file(entry.path()))) {
            const auto r = test::decode_proto(record);
            types.push_back(test::record_type(r));
            if (types.back() == 18 && exit_code)
                *exit_code = test::decode_proto(r.str(18)).varint(1);
        }
    }
    return types;
}

std::size_t count(const std::vector<std::uint32_t>& types, std::uint32_t type) {
    return static_cast<std::size_t>(std::count(types.begin(), types.end(), type));
}

}  // namespace

TEST_CASE("signals: a handled fatal signal finishes the run, marked, then the process dies of it",
          "[signals]") {
    struct expectation {
        int signal;
        const char* name;
        const char* status;
    };
    for (const expectation& x :
         {expectation{SIGTERM, "SIGTERM", "preempted"}, expectation{SIGINT, "SIGINT", "killed"},
          expectation{SIGUSR1, "SIGUSR1", "preempted"}}) {
        DYNAMIC_SECTION(x.name) {
            test::temp_dir dir;
            const child c = spawn("signal", dir.path);
            wait_ready(c);
            kill(c.pid, x.signal);
            const int status = wait_end(c);
            // Passed on to the default action: the process ends by the signal, as without runlog.
            REQUIRE(WIFSIGNALED(status));
            CHECK(WTERMSIG(status) == x.signal);

            const fs::path rd = run_dir_of(dir.path);
            const value run_json = test::read_json(rd / "run.json");
            CHECK(run_json.find("status")->as_string() == x.status);
            CHECK(run_json.find("signal")->as_string() == x.name);
            CHECK(run_json.find("exit_code")->as_int() == 128 + x.signal);
            CHECK(run_json.find("end_time") != nullptr);
            const std::int64_t rows = history_rows(rd);
            CHECK(rows >= 200);  // everything logged before the signal
            CHECK(run_json.find("stats")->find("rows_committed")->as_int() == rows);
            CHECK(test::read_json(rd / "summary.json").find("_step")->as_int() == rows - 1);

            std::uint64_t exit_code = 0;
            const auto types = wandb_types(dir.path, &exit_code);
            CHECK(count(types, 2) == static_cast<std::size_t>(rows));   // history
            CHECK(count(types, 23) == (x.signal == SIGINT ? 0u : 1u));  // preempting
            CHECK(exit_code == static_cast<std::uint64_t>(128 + x.signal));
            CHECK(types.back() == 20);  // final: the file is complete
            for (const auto& entry : fs::recursive_directory_iterator(dir.path / "tensorboard"))
                if (entry.is_regular_file())
                    CHECK_NOTHROW(test::read_events(test::read_file(entry.path())));

            // Exported later, the run keeps how it ended.
            runlog::export_options options;
            options.output_root = dir.path / "exported";
            const auto exported = runlog::export_to_wandb(rd, options);
            INFO(exported.message);
            REQUIRE(exported.ok);
            CHECK_FALSE(exported.crashed);
            std::uint64_t exported_exit = 0;
            const auto exported_types = wandb_types(dir.path / "exported", &exported_exit);
            CHECK(exported_exit == static_cast<std::uint64_t>(128 + x.signal));
            CHECK(count(exported_types, 23) == count(types, 23));
        }
    }
}

TEST_CASE("signals: with the program's own handler the run is marked and flushed, and goes on",
          "[signals]") {
    test::temp_dir dir;
    const child c = spawn("own-handler", dir.path);
    wait_ready(c);
    kill(c.pid, SIGUSR1);
    const int status = wait_end(c);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // the program's handler ran, then it finished normally

    const fs::path rd = run_dir_of(dir.path);
    const value marked = test::read_json(rd / "run.json.after-signal");
    CHECK(marked.find("status")->as_string() == "preempted");
    CHECK(marked.find("signal")->as_string() == "SIGUSR1");
    CHECK(marked.find("end_time") == nullptr);

    const value run_json = test::read_json(rd / "run.json");
    CHECK(run_json.find("status")->as_string() == "finished");
    CHECK(run_json.find("exit_code")->as_int() == 0);
    CHECK(run_json.find("signal")->as_string() == "SIGUSR1");  // it was told to stop
    CHECK(history_rows(rd) >= 210);

    std::uint64_t exit_code = 99;
    const auto types = wandb_types(dir.path, &exit_code);
    CHECK(count(types, 23) == 1);
    CHECK(exit_code == 0);
}

TEST_CASE("signals: without handle_signals a SIGTERM leaves a crashed run", "[signals]") {
    test::temp_dir dir;
    const child c = spawn("no-handlers", dir.path);
    wait_ready(c);
    kill(c.pid, SIGTERM);
    const int status = wait_end(c);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGTERM);
    const value run_json = test::read_json(run_dir_of(dir.path) / "run.json");
    CHECK(run_json.find("status")->as_string() == "running");
    CHECK(run_json.find("end_time") == nullptr);
}

TEST_CASE("signals: a signal the process ignores stays ignored (no handler over SIG_IGN)",
          "[signals]") {
    test::temp_dir dir;
    const child c = spawn("ignored-sigint", dir.path);
    wait_ready(c);
    REQUIRE(kill(c.pid, SIGINT) == 0);  // ignored: the run goes on, unmarked
    const int status = wait_end(c);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    const value run_json = test::read_json(run_dir_of(dir.path) / "run.json");
    CHECK(run_json.find("status")->as_string() == "finished");  // was "killed"
    CHECK_FALSE(run_json.contains("signal"));
    CHECK(history_rows(run_dir_of(dir.path)) == 110);
}

TEST_CASE("exit: exit() while another thread waits on a full queue finishes the run", "[exit]") {
    test::temp_dir dir;
    const auto start = std::chrono::steady_clock::now();
    const child c = spawn("exit-blocked", dir.path);
    wait_ready(c);
    const int status = wait_end(c);  // no deadlock
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 3);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    const fs::path rd = run_dir_of(dir.path);
    const value run_json = test::read_json(rd / "run.json");
    CHECK(run_json.find("status")->as_string() == "failed");
    CHECK(run_json.find("exit_code")->as_int() == 3);  // exit()'s status (glibc's on_exit)
    const std::int64_t rows = history_rows(rd);
    CHECK(rows > 0);
    CHECK(run_json.find("stats")->find("rows_committed")->as_int() == rows);
}

TEST_CASE("exit: returning from main finishes a run that was never finished", "[exit]") {
    test::temp_dir dir;
    const child c = spawn("leaked-run", dir.path);
    wait_ready(c);
    const int status = wait_end(c);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 4);
    const fs::path rd = run_dir_of(dir.path);
    const value run_json = test::read_json(rd / "run.json");
    CHECK(run_json.find("status")->as_string() == "failed");
    CHECK(run_json.find("exit_code")->as_int() == 4);
    CHECK(history_rows(rd) == 200);
    std::uint64_t exit_code = 0;
    const auto types = wandb_types(dir.path, &exit_code);
    CHECK(exit_code == 4);
    CHECK(types.back() == 20);
}
