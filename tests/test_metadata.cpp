// SPDX-License-Identifier: MIT
// What a run records about where it ran (issue 6): git state read from .git without the git
// binary (repositories built by hand and with git), the machine description against uname,
// gethostname and the environment, secrets kept out, and W&B's wandb-metadata.json fields.
#include <sys/utsname.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <thread>

#include <runlog/detail/checksums.hpp>
#include <runlog/detail/git_state.hpp>
#include <runlog/detail/json_reader.hpp>
#include <runlog/detail/machine_info.hpp>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using runlog::value;

namespace {
void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

const std::string commit_a = "1111111111111111111111111111111111111111";
const std::string commit_b = "2222222222222222222222222222222222222222";

/// Runs a shell command in `dir`; its stdout.
std::string sh(const fs::path& dir, const std::string& command) {
    const std::string full = "cd '" + dir.string() + "' && " + command + " 2>&1";
    std::FILE* p = popen(full.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    INFO(command << ": " << out);
    REQUIRE(pclose(p) == 0);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}
}  // namespace

TEST_CASE("sha1: the FIPS 180 examples", "[metadata][git]") {
    using runlog::detail::sha1_hex;
    CHECK(sha1_hex("abc", 3) == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(sha1_hex("", 0) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(sha1_hex(two_blocks.data(), two_blocks.size()) ==
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

TEST_CASE("git: credentials are stripped from remote URLs", "[metadata][git]") {
    using runlog::detail::git_detail::strip_credentials;
    CHECK(strip_credentials("https://user:s3cret@example.com/org/repo.git") ==
          "https://example.com/org/repo.git");
    CHECK(strip_credentials("https://ghp_tokenvalue@github.com/org/repo") ==
          "https://github.com/org/repo");
    CHECK(strip_credentials("https://example.com/a@b/repo.git") ==
          "https://example.com/a@b/repo.git");  // an @ in the path is not a user
    CHECK(strip_credentials("git@github.com:org/repo.git") == "git@github.com:org/repo.git");
}

TEST_CASE("git: hand-built repositories (packed refs, detached, worktree, none)",
          "[metadata][git]") {
    test::temp_dir dir;
    const fs::path repo = dir.path / "repo";
    write(repo / ".git" / "HEAD", "ref: refs/heads/feature/x\n");
    write(repo / ".git" / "packed-refs", "# pack-refs with: peeled fully-peeled sorted\n" +
                                             commit_a + " refs/heads/feature/x\n" + commit_b +
                                             " refs/heads/main\n");
    write(repo / ".git" / "config",
          "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://other.org/u.git\n"
          "[remote \"origin\"]\n\turl = https://me:pa55word@example.com/org/repo.git\n"
          "\tfetch = +refs/heads/*:refs/remotes/origin/*\n");
    fs::create_directories(repo / "src" / "deep");

    SECTION("a symbolic HEAD resolved through packed-refs, from a subdirectory") {
        const auto g = runlog::detail::read_git_state(repo / "src" / "deep");
        REQUIRE(g.found);
        CHECK(g.work_tree == repo);
        CHECK(g.branch == "feature/x");
        CHECK(g.commit == commit_a);
        CHECK(g.remote == "https://example.com/org/repo.git");
        CHECK(g.dirty == false);  // no index: nothing tracked
    }
    SECTION("a loose ref wins over packed-refs") {
        write(repo / ".git" / "refs" / "heads" / "feature" / "x", commit_b + "\n");
        CHECK(runlog::detail::read_git_state(repo).commit == commit_b);
    }
    SECTION("detached HEAD") {
        write(repo / ".git" / "HEAD", commit_b + "\n");
        const auto g = runlog::detail::read_git_state(repo);
        CHECK(g.branch.empty());
        CHECK(g.commit == commit_b);
    }
    SECTION("a worktree: .git is a file naming the git directory, refs in commondir") {
        const fs::path wt = dir.path / "wt";
        write(wt / ".git", "gitdir: " + (repo / ".git" / "worktrees" / "wt").string() + "\n");
        write(repo / ".git" / "worktrees" / "wt" / "HEAD", "ref: refs/heads/main\n");
        write(repo / ".git" / "worktrees" / "wt" / "commondir", "../..\n");
        const auto g = runlog::detail::read_git_state(wt);
        REQUIRE(g.found);
        CHECK(g.branch == "main");
        CHECK(g.commit == commit_b);
        CHECK(g.remote == "https://example.com/org/repo.git");
    }
    SECTION("no repository") {
        const auto g = runlog::detail::read_git_state(dir.path);
        CHECK_FALSE(g.found);
        CHECK(g.to_value().is_null());
    }
}

TEST_CASE("git: a real repository's commit and dirty flag match git's", "[metadata][git]") {
    test::temp_dir dir;
    const fs::path repo = dir.path / "real";
    fs::create_directories(repo);
    sh(repo,
       "git init -q -b trunk . && git config user.email t@example.com && "
       "git config user.name t && git config commit.gpgsign false");
    write(repo / "a.txt", "alpha\n");
    write(repo / "sub" / "b.txt", "bravo\n");
    sh(repo, "git add a.txt sub/b.txt && git commit -q -m one");
    sh(repo, "git remote add origin https://bob:hunter2@git.example.com/team/real.git");
    auto state = [&] { return runlog::detail::read_git_state(repo / "sub"); };

    auto g = state();
    CHECK(g.commit == sh(repo, "git rev-parse HEAD"));
    CHECK(g.branch == "trunk");
    CHECK(g.remote == "https://git.example.com/team/real.git");
    CHECK(g.dirty == false);

    write(repo / "untracked.txt", "not counted\n");
    CHECK(state().dirty == false);

    write(repo / "a.txt", "ALPHA\n");                              // same size, other content
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new mtime second
    write(repo / "a.txt", "ALPHA\n");
    CHECK(state().dirty == true);
    CHECK_FALSE(sh(repo, "git status --porcelain --untracked-files=no").empty());

    write(repo / "a.txt", "alpha\n");  // the committed content again, a newer mtime
    CHECK(state().dirty == false);     // decided by the blob's SHA-1, not the time stamp
    CHECK(sh(repo, "git status --porcelain --untracked-files=no").empty());

    fs::remove(repo / "sub" / "b.txt");
    CHECK(state().dirty == true);
    sh(repo, "git checkout -q -- sub/b.txt");
    CHECK(state().dirty == false);

    sh(repo, "git checkout -q --detach");
    g = state();
    CHECK(g.branch.empty());
    CHECK(g.commit == sh(repo, "git rev-parse HEAD"));
    sh(repo, "git pack-refs --all");
    CHECK(state().commit == sh(repo, "git rev-parse HEAD"));
}

TEST_CASE("environment: run.json describes the machine as uname and the OS see it", "[metadata]") {
    test::temp_dir dir;
    test::env_guard job("SLURM_JOB_ID", "4242");
    test::env_guard visible("RUNLOG_TEST_VISIBLE", "yes");
    test::env_guard secret("RUNLOG_TEST_API_TOKEN", "do-not-record");
    test::env_guard password("DB_PASSWORD", "hunter2");
    auto s = test::quiet_settings(dir);
    s.wandb_offline = true;
    s.capture_environment_variables = true;
    s.code_dir = RUNLOG_TEST_SOURCE_DIR;  // not the working directory: a build may be anywhere
    auto run = runlog::init(s);
    const fs::path run_dir = run.dir();
    REQUIRE(run.finish() == runlog::status::ok);

    value run_json;
    std::string error;
    REQUIRE(runlog::detail::parse_json(test::read_file(run_dir / "run.json"), run_json, error));
    const value* env = run_json.find("environment");
    REQUIRE(env != nullptr);
    utsname u{};
    REQUIRE(uname(&u) == 0);
    CHECK(env->find("os")->as_string() ==
          std::string(u.sysname) + "-" + u.release + "-" + u.machine);
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    CHECK(env->find("host")->as_string() == host);
    CHECK(env->find("cpu_count_logical")->as_int() == std::thread::hardware_concurrency());
    CHECK(env->find("cpu_count")->as_int() >= 1);
    CHECK(env->find("memory_total_bytes")->as_int() >
          static_cast<std::int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE) / 2);
    CHECK(env->find("executable")->as_string() == fs::read_symlink("/proc/self/exe").string());
    CHECK(env->find("cwd")->as_string() == fs::current_path().string());
    CHECK(env->find("cplusplus")->as_int() == __cplusplus);
    CHECK_THAT(env->find("compiler")->as_string(),
               Catch::StartsWith("g++ ") || Catch::StartsWith("clang++ "));
    CHECK(env->find("scheduler")->find("SLURM_JOB_ID")->as_string() == "4242");
    const value* vars = env->find("variables");
    REQUIRE(vars != nullptr);
    CHECK(vars->find("RUNLOG_TEST_VISIBLE")->as_string() == "yes");
    CHECK_FALSE(vars->contains("RUNLOG_TEST_API_TOKEN"));
    CHECK_FALSE(vars->contains("DB_PASSWORD"));
    CHECK(test::read_file(run_dir / "run.json").find("do-not-record") == std::string::npos);

    // The source tree's git state, when the sources are a git checkout (not a tarball).
    const bool checkout = runlog::detail::read_git_state(RUNLOG_TEST_SOURCE_DIR).found;
    const value* git = run_json.find("git");
    if (checkout) {
        REQUIRE(git != nullptr);
        CHECK(git->find("commit")->as_string().size() == 40);
    } else {
        WARN("runlog-test-skipped: git state not checked: the sources in " RUNLOG_TEST_SOURCE_DIR
             " are not a git checkout");
        CHECK(git == nullptr);
    }

    const fs::path wdir = dir.path / "wandb" / fs::read_symlink(dir.path / "wandb" / "latest-run");
    value metadata;
    REQUIRE(runlog::detail::parse_json(test::read_file(wdir / "files" / "wandb-metadata.json"),
                                       metadata, error));
    CHECK(metadata.find("os")->as_string() == env->find("os")->as_string());
    CHECK(metadata.find("cpu_count_logical")->as_int() == std::thread::hardware_concurrency());
    CHECK(metadata.find("memory")->find("total")->as_int() ==
          env->find("memory_total_bytes")->as_int());
    CHECK(metadata.find("slurm")->find("job_id")->as_string() == "4242");
    if (checkout)
        CHECK(metadata.find("git")->find("commit")->as_string() ==
              git->find("commit")->as_string());
}

TEST_CASE("environment: off by setting, variables off by default", "[metadata]") {
    test::temp_dir dir;
    test::env_guard visible("RUNLOG_TEST_VISIBLE", "yes");
    auto s = test::quiet_settings(dir);
    SECTION("default: no variables") {
        auto run = runlog::init(s);
        const fs::path run_dir = run.dir();
        REQUIRE(run.finish() == runlog::status::ok);
        CHECK(test::read_file(run_dir / "run.json").find("RUNLOG_TEST_VISIBLE") ==
              std::string::npos);
    }
    SECTION("capture_environment and capture_git off") {
        s.capture_environment = false;
        s.capture_git = false;
        auto run = runlog::init(s);
        const fs::path run_dir = run.dir();
        REQUIRE(run.finish() == runlog::status::ok);
        const std::string text = test::read_file(run_dir / "run.json");
        CHECK(text.find("\"environment\"") == std::string::npos);
        CHECK(text.find("\"git\"") == std::string::npos);
    }
}

TEST_CASE("git: diff.patch holds the uncommitted changes when asked", "[metadata][git]") {
    test::temp_dir dir;
    const fs::path repo = dir.path / "code";
    fs::create_directories(repo);
    sh(repo,
       "git init -q -b main . && git config user.email t@example.com && "
       "git config user.name t && git config commit.gpgsign false");
    write(repo / "train.cpp", "int main() { return 0; }\n");
    sh(repo, "git add train.cpp && git commit -q -m one");
    write(repo / "train.cpp", "int main() { return 1; }  // an experiment\n");

    auto s = test::quiet_settings(dir);
    s.code_dir = (repo).string();
    s.wandb_offline = true;
    SECTION("capture_git_diff") {
        s.capture_git_diff = true;
        auto run = runlog::init(s);
        const fs::path run_dir = run.dir();
        REQUIRE(run.finish() == runlog::status::ok);
        const std::string patch = test::read_file(run_dir / "diff.patch");
        CHECK(patch == sh(repo, "git diff HEAD --no-color") + "\n");
        CHECK(patch.find("+int main() { return 1; }  // an experiment") != std::string::npos);
        const fs::path wdir =
            dir.path / "wandb" / fs::read_symlink(dir.path / "wandb" / "latest-run");
        CHECK(test::read_file(wdir / "files" / "diff.patch") == patch);
        value run_json;
        std::string error;
        REQUIRE(runlog::detail::parse_json(test::read_file(run_dir / "run.json"), run_json, error));
        CHECK(run_json.find("git")->find("dirty")->as_bool());
        CHECK(run_json.find("git")->find("commit")->as_string() == sh(repo, "git rev-parse HEAD"));
    }
    SECTION("off by default") {
        auto run = runlog::init(s);
        const fs::path run_dir = run.dir();
        REQUIRE(run.finish() == runlog::status::ok);
        CHECK_FALSE(fs::exists(run_dir / "diff.patch"));
    }
}
