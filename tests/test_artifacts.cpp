// SPDX-License-Identifier: MIT
// Artifacts: the store (versions, aliases, dedup, retention, resolution, crashes), the
// checkpoint logger (best under min/max, ties, NaN; log_model policies) and the W&B export of
// artifact records, with digests checked against coreutils' md5sum and sha256sum.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <runlog/artifacts.hpp>
#include <runlog/checkpoint_logger.hpp>
#include <runlog/export.hpp>
#include <runlog/runlog.hpp>

#include "support/test_support.hpp"
#include "support/wandb_reader.hpp"

using runlog::value;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

ino_t inode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_ino;
}

/// The first word a coreutils tool prints for `path` ("md5sum", "sha256sum").
std::string coreutils_digest(const char* tool, const fs::path& path) {
    const std::string command = std::string(tool) + " '" + path.string() + "'";
    std::FILE* p = popen(command.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[256] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, p);
    pclose(p);
    const std::string out(buf, n);
    return out.substr(0, out.find(' '));
}

std::string hex_to_base64(const std::string& hex) {
    std::vector<std::uint8_t> bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        bytes.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return runlog::detail::base64(bytes.data(), bytes.size());
}

std::int64_t alias_version(const runlog::artifact_store& store, const std::string& name,
                           const std::string& alias) {
    const value aliases = store.aliases(name);
    const value* v = aliases.find(alias);
    return v ? v->as_int() : -1;
}

/// Every alias names a live version whose files are all there with their stored SHA-256.
void check_consistent(const runlog::artifact_store& store) {
    for (const auto& name : store.names()) {
        const value aliases = store.aliases(name);
        for (const auto& [alias, number] : aliases.as_object()) {
            INFO(name << ":" << alias << " -> v" << number.as_int());
            const runlog::artifact_version v = store.resolve(name + ":" + alias);
            REQUIRE(v.ok());
            for (const auto& entry : v.manifest.find("entries")->as_array()) {
                const fs::path file = v.dir / entry.find("path")->as_string();
                CHECK(coreutils_digest("sha256sum", file) == entry.find("sha256")->as_string());
            }
        }
    }
}

}  // namespace

TEST_CASE("artifacts: md5 and base64 match coreutils", "[artifacts]") {
    test::temp_dir dir;
    std::string text;
    for (int i = 0; i < 100000; ++i) text.push_back(static_cast<char>(i * 31 + i / 7));
    write_text(dir.path / "f.bin", text);
    runlog::detail::file_digests d;
    REQUIRE(runlog::detail::hash_file(dir.path / "f.bin", {}, d).empty());
    CHECK(d.size == text.size());
    CHECK(d.sha256 == coreutils_digest("sha256sum", dir.path / "f.bin"));
    CHECK(d.md5_base64 == hex_to_base64(coreutils_digest("md5sum", dir.path / "f.bin")));
    const auto empty = runlog::detail::md5().digest();
    CHECK(runlog::detail::base64(empty.data(), empty.size()) == "1B2M2Y8AsgTpgAmY7PhCfg==");
    const std::uint8_t two[] = {'a', 'b'};
    CHECK(runlog::detail::base64(two, 2) == "YWI=");
}

TEST_CASE("artifacts: versions and alias moves over many saves", "[artifacts]") {
    test::temp_dir dir;
    const runlog::artifact_store store(dir.path / "store");
    for (int i = 0; i < 30; ++i) {
        write_text(dir.path / "ckpt.bin", "weights " + std::to_string(i));
        runlog::artifact_options options;
        if (i % 7 == 0) options.aliases = {"best"};
        if (i == 12) options.aliases = {"candidate", "best"};
        const runlog::artifact_version v = store.add(
            "model-x", "model", {runlog::artifact_file(dir.path / "ckpt.bin")}, options, "run1");
        REQUIRE(v.ok());
        CHECK(v.version == i);
        CHECK(v.aliases.front() == "latest");
        CHECK(alias_version(store, "model-x", "latest") == i);
        CHECK(test::read_file(v.path()) == "weights " + std::to_string(i));
    }
    CHECK(store.versions("model-x").size() == 30);
    CHECK(alias_version(store, "model-x", "best") == 28);
    CHECK(alias_version(store, "model-x", "candidate") == 12);
    // Each alias names one version: only v28 holds best, only v29 latest.
    const auto v28 = store.resolve("model-x:best");
    CHECK(v28.version == 28);
    CHECK(v28.aliases == std::vector<std::string>{"best"});
    CHECK(store.resolve("model-x:v7").aliases.empty());
    CHECK(store.resolve("model-x").version == 29);
    CHECK(store.resolve("me/proj/model-x:latest").version == 29);  // W&B's full form
    CHECK(store.resolve("model-x:v3").manifest.find("run_id")->as_string() == "run1");
    REQUIRE(store.set_alias("model-x", 3, "production").ok());
    CHECK(store.resolve("model-x:production").version == 3);
    CHECK_FALSE(store.set_alias("model-x", 99, "production").ok());
    CHECK(store.resolve("model-x:production").version == 3);
    check_consistent(store);
}

TEST_CASE("artifacts: directories, entry names and bad input", "[artifacts]") {
    test::temp_dir dir;
    const runlog::artifact_store store(dir.path / "store");
    write_text(dir.path / "ckpt" / "weights.bin", "w");
    write_text(dir.path / "ckpt" / "optim" / "state.bin", "o");
    write_text(dir.path / "notes.txt", "n");
    const auto v = store.add("run-files", "dataset",
                             {runlog::artifact_file(dir.path / "ckpt"),
                              runlog::artifact_file(dir.path / "notes.txt", "docs/README")});
    REQUIRE(v.ok());
    std::vector<std::string> paths;
    for (const auto& e : v.manifest.find("entries")->as_array())
        paths.push_back(e.find("path")->as_string());
    CHECK(paths == std::vector<std::string>{"docs/README", "optim/state.bin", "weights.bin"});
    CHECK(test::read_file(v.path("optim/state.bin")) == "o");
    CHECK(v.manifest.find("size")->as_int() == 3);

    auto error_of = [&](const std::string& name, const std::vector<runlog::artifact_file>& files,
                        runlog::artifact_options options = {}) {
        const auto bad = store.add(name, "model", files, options);
        CHECK_FALSE(bad.ok());
        CHECK(bad.code == runlog::errc::invalid_artifact);
        return bad.error;
    };
    const runlog::artifact_file notes(dir.path / "notes.txt");
    CHECK_THAT(error_of("a/b", {notes}), Catch::Contains("artifact name 'a/b'"));
    CHECK_THAT(error_of(".hidden", {notes}), Catch::Contains("'.hidden'"));
    CHECK_THAT(error_of("m", {runlog::artifact_file(dir.path / "missing.pt")}),
               Catch::Contains("missing.pt' is not a file or directory"));
    CHECK_THAT(error_of("m", {}), Catch::Contains("no files given"));
    CHECK_THAT(error_of("m", {notes, runlog::artifact_file(dir.path / "ckpt" / "weights.bin",
                                                           "notes.txt")}),
               Catch::Contains("two files are named 'notes.txt'"));
    CHECK_THAT(error_of("m", {runlog::artifact_file(dir.path / "notes.txt", "../escape")}),
               Catch::Contains("'../escape' is not a relative path"));
    runlog::artifact_options version_alias;
    version_alias.aliases = {"v3"};
    CHECK_THAT(error_of("m", {notes}, version_alias), Catch::Contains("alias 'v3'"));
    // Nothing half-made is left: no version of "m", no staging directory.
    CHECK_FALSE(fs::exists(dir.path / "store" / "m"));
    CHECK(fs::is_empty(dir.path / "store" / ".staging"));
}

TEST_CASE("artifacts: identical content is stored once", "[artifacts]") {
    test::temp_dir dir;
    const runlog::artifact_store store(dir.path / "store");
    write_text(dir.path / "a.bin", std::string(100000, 'a'));
    write_text(dir.path / "b.bin", std::string(100000, 'a'));  // same bytes, other file
    const auto v0 = store.add("m", "model", {runlog::artifact_file(dir.path / "a.bin")});
    const auto v1 = store.add("m", "model", {runlog::artifact_file(dir.path / "b.bin", "a.bin")});
    const auto other = store.add("other", "dataset", {runlog::artifact_file(dir.path / "b.bin")});
    REQUIRE((v0.ok() && v1.ok() && other.ok()));
    CHECK(inode_of(v0.path()) == inode_of(v1.path()));
    CHECK(inode_of(v0.path()) == inode_of(other.path()));        // across artifacts too
    CHECK(inode_of(v0.path()) != inode_of(dir.path / "a.bin"));  // a copy, not the user's file
    CHECK(v1.manifest.find("entries")->as_array()[0].find("deduplicated")->as_bool());
    CHECK_FALSE(v0.manifest.find("entries")->as_array()[0].contains("deduplicated"));
    // Different content is not shared.
    write_text(dir.path / "a.bin", std::string(100000, 'b'));
    const auto v2 = store.add("m", "model", {runlog::artifact_file(dir.path / "a.bin")});
    CHECK(inode_of(v2.path()) != inode_of(v0.path()));
    CHECK(test::read_file(v0.path()) == std::string(100000, 'a'));  // the copy kept its bytes
}

TEST_CASE("artifacts: hard links and references, and what they promise", "[artifacts]") {
    test::temp_dir dir;
    const runlog::artifact_store store(dir.path / "store");
    write_text(dir.path / "big.bin", "0123456789");
    runlog::artifact_options linked;
    linked.storage = runlog::artifact_storage::hardlink;
    const auto h = store.add("h", "model", {runlog::artifact_file(dir.path / "big.bin")}, linked);
    REQUIRE(h.ok());
    CHECK(inode_of(h.path()) == inode_of(dir.path / "big.bin"));
    CHECK(h.manifest.find("entries")->as_array()[0].find("storage")->as_string() == "hardlink");

    runlog::artifact_options referenced;
    referenced.storage = runlog::artifact_storage::reference;
    const auto r =
        store.add("r", "model", {runlog::artifact_file(dir.path / "big.bin")}, referenced);
    REQUIRE(r.ok());
    CHECK(fs::is_symlink(r.path()));
    CHECK(test::read_file(r.path()) == "0123456789");
    // A reference whose file changed is refused, naming the file.
    write_text(dir.path / "big.bin", "changed");
    const auto stale = store.resolve("r:latest");
    CHECK_FALSE(stale.ok());
    CHECK_THAT(stale.error, Catch::Contains("is damaged") && Catch::Contains("big.bin") &&
                                Catch::Contains("has 7 bytes, stored as 10"));
    fs::remove(dir.path / "big.bin");
    CHECK_THAT(store.resolve("r").error, Catch::Contains("is missing"));
}

TEST_CASE("artifacts: resolution errors name what exists", "[artifacts]") {
    test::temp_dir dir;
    const runlog::artifact_store store(dir.path / "store");
    CHECK_THAT(store.resolve("m:best").error, Catch::Contains("no artifact store at"));
    write_text(dir.path / "f.bin", "x");
    REQUIRE(store.add("model-a", "model", {runlog::artifact_file(dir.path / "f.bin")}).ok());
    REQUIRE(store.add("model-a", "model", {runlog::artifact_file(dir.path / "f.bin")}).ok());
    REQUIRE(store.add("model-b", "model", {runlog::artifact_file(dir.path / "f.bin")}).ok());

    const auto no_name = store.resolve("model-c:best");
    CHECK(no_name.code == runlog::errc::artifact_not_found);
    CHECK_THAT(no_name.error, Catch::Contains("no artifact 'model-c'") &&
                                  Catch::Contains("it holds model-a, model-b"));
    CHECK_THAT(store.resolve("model-a:best").error,
               Catch::Contains("'model-a:best' names no version") &&
                   Catch::Contains("versions v0, v1; aliases latest -> v1"));
    CHECK_THAT(store.resolve("model-a:v7").error,
               Catch::Contains("'model-a:v7' does not exist") && Catch::Contains("v0, v1"));
    // The free function throws runlog::error with the same text.
    try {
        runlog::use_artifact(dir.path / "store", "model-a:v9");
        FAIL("use_artifact did not throw");
    } catch (const runlog::error& e) {
        CHECK(e.code() == runlog::errc::artifact_not_found);
        CHECK_THAT(e.what(), Catch::Contains("[runlog.105]") && Catch::Contains("v0, v1"));
    }
    // use_artifact finds the store from a run root or a runlog/ directory too.
    test::temp_dir root;
    write_text(root.path / "runlog" / "artifacts" / ".keep", "");
    const runlog::artifact_store nested(root.path / "runlog" / "artifacts");
    REQUIRE(nested.add("m", "model", {runlog::artifact_file(dir.path / "f.bin")}).ok());
    CHECK(runlog::use_artifact(root.path, "m").version == 0);
    CHECK(runlog::use_artifact(root.path / "runlog", "m:latest").version == 0);
}

TEST_CASE("artifacts: retention deletes only the store's files", "[artifacts]") {
    test::temp_dir dir;
    const runlog::artifact_store store(dir.path / "store");
    std::vector<fs::path> user_files;
    const runlog::artifact_storage modes[] = {runlog::artifact_storage::copy,
                                              runlog::artifact_storage::hardlink,
                                              runlog::artifact_storage::reference};
    for (int i = 0; i < 6; ++i) {
        const fs::path f = dir.path / "user" / ("epoch" + std::to_string(i) + ".pt");
        write_text(f, "checkpoint " + std::to_string(i));
        user_files.push_back(f);
        runlog::artifact_options options;
        options.storage = modes[i % 3];
        if (i == 1) options.aliases = {"best"};
        REQUIRE(store.add("m", "model", {runlog::artifact_file(f)}, options).ok());
    }
    std::string error;
    const auto deleted = store.prune(
        "m", [](const value& m) { return m.find("version")->as_int() == 2; }, error);
    CHECK(error.empty());
    CHECK(deleted == std::vector<std::int64_t>{0, 3, 4});  // v1 best, v5 latest, v2 kept
    CHECK(store.versions("m") == std::vector<std::int64_t>{1, 2, 5});
    for (std::size_t i = 0; i < user_files.size(); ++i)
        CHECK(test::read_file(user_files[i]) == "checkpoint " + std::to_string(i));
    CHECK_FALSE(fs::exists(dir.path / "store" / "m" / "v0"));
    CHECK_THAT(store.resolve("m:v3").error, Catch::Contains("was deleted (retention"));
    check_consistent(store);
    // Numbers are never reused.
    REQUIRE(store.add("m", "model", {runlog::artifact_file(user_files[0])}).version == 6);
}

TEST_CASE("checkpoint logger: best under min and max, ties and NaN", "[artifacts]") {
    struct save {
        double score;
        bool best;
    };
    const double nan = std::nan("");
    const std::vector<std::pair<std::string, std::vector<save>>> cases = {
        {"min",
         {{nan, false},
          {0.9, true},
          {0.9, false},
          {0.5, true},
          {nan, false},
          {0.7, false},
          {0.5, false},
          {0.4, true}}},
        {"max",
         {{0.1, true},
          {0.1, false},
          {nan, false},
          {0.3, true},
          {0.2, false},
          {0.3, false},
          {std::numeric_limits<double>::infinity(), true}}}};
    for (const auto& [mode, saves] : cases) {
        SECTION("mode " + mode) {
            test::temp_dir dir;
            test::error_log errors;
            runlog::run run = runlog::init(test::quiet_settings(dir, &errors));
            runlog::checkpoint_options options;
            options.monitor = "val/loss";
            options.mode = mode;
            runlog::checkpoint_logger checkpoints(run, options);
            CHECK(checkpoints.name() == "model-" + run.id());
            const runlog::artifact_store store(run.artifact_dir());
            std::int64_t best = -1;
            for (std::size_t i = 0; i < saves.size(); ++i) {
                write_text(dir.path / "last.ckpt", "epoch " + std::to_string(i));
                const auto v =
                    checkpoints.saved(dir.path / "last.ckpt", static_cast<std::int64_t>(i * 100),
                                      {{"val/loss", saves[i].score}, {"epoch", i}});
                REQUIRE(v.ok());
                if (saves[i].best) best = v.version;
                INFO("save " << i << " score " << saves[i].score);
                CHECK(alias_version(store, checkpoints.name(), "best") == best);
                CHECK(alias_version(store, checkpoints.name(), "latest") == v.version);
                const value& meta = v.metadata();
                CHECK(meta.find("step")->as_int() == static_cast<std::int64_t>(i * 100));
                CHECK(meta.find("original_filename")->as_string() == "last.ckpt");
                CHECK(meta.find("monitor")->as_string() == "val/loss");
                CHECK(meta.find("mode")->as_string() == mode);
                if (std::isnan(saves[i].score)) {
                    CHECK(meta.find("score")->is_null());
                } else {
                    CHECK(meta.find("score")->as_double() == saves[i].score);
                }
                CHECK(v.path().filename() == "model.ckpt");
            }
            const auto loaded = runlog::use_artifact(dir.path, checkpoints.name() + ":best");
            CHECK(loaded.version == best);
            CHECK(test::read_file(loaded.path()) == "epoch " + std::to_string(best));
            run.finish();
            CHECK(run.stats().artifacts_logged == saves.size());
        }
    }
}

TEST_CASE("checkpoint logger: a missing monitor is reported once and never best", "[artifacts]") {
    test::temp_dir dir;
    test::error_log errors;
    runlog::run run = runlog::init(test::quiet_settings(dir, &errors));
    runlog::checkpoint_options options;
    options.monitor = "val/acc";
    options.mode = "max";
    runlog::checkpoint_logger checkpoints(run, options);
    write_text(dir.path / "c.pt", "c");
    for (int i = 0; i < 3; ++i)
        REQUIRE(checkpoints.saved(dir.path / "c.pt", i, {{"loss", 1}}).ok());
    CHECK_FALSE(checkpoints.best_score());
    run.finish();
    CHECK(errors.count(runlog::errc::invalid_value) == 1);
    CHECK_THAT(errors.all_text(), Catch::Contains("monitor 'val/acc'"));
    runlog::checkpoint_options no_monitor;
    no_monitor.name = "plain";
    runlog::checkpoint_logger plain(run, no_monitor);  // after finish: nothing is stored
    CHECK_FALSE(plain.saved(dir.path / "c.pt", 9).ok());
    runlog::checkpoint_options bad;
    bad.mode = "lowest";
    CHECK_THROWS_WITH(runlog::checkpoint_logger(run, bad), Catch::Contains("'lowest'"));
}

TEST_CASE("checkpoint logger: without a monitor every save is the best", "[artifacts]") {
    test::temp_dir dir;
    runlog::run run = runlog::init(test::quiet_settings(dir));
    runlog::checkpoint_logger checkpoints(run);
    const runlog::artifact_store store(run.artifact_dir());
    for (int i = 0; i < 3; ++i) {
        write_text(dir.path / "c.pt", std::to_string(i));
        const auto v = checkpoints.saved(dir.path / "c.pt", i);
        REQUIRE(v.ok());
        CHECK(v.aliases == std::vector<std::string>{"latest", "best"});
        CHECK(alias_version(store, checkpoints.name(), "best") == i);
        CHECK(v.metadata().find("score")->is_null());
    }
}

TEST_CASE("checkpoint logger: last_and_best and keep_top_k prune, never user files",
          "[artifacts]") {
    test::temp_dir dir;
    runlog::run run = runlog::init(test::quiet_settings(dir));
    runlog::checkpoint_options options;
    options.monitor = "loss";
    options.log_model = runlog::log_model_policy::last_and_best;
    runlog::checkpoint_logger checkpoints(run, options);
    const runlog::artifact_store store(run.artifact_dir());
    const double losses[] = {0.9, 0.5, 0.7, 0.6, 0.8};
    for (int i = 0; i < 5; ++i) {
        const fs::path f = dir.path / "ckpt" / ("epoch" + std::to_string(i) + ".pt");
        write_text(f, "e" + std::to_string(i));
        REQUIRE(checkpoints.saved(f, i, {{"loss", losses[i]}}).ok());
        // After every save: the latest and the best, nothing else.
        const auto live = store.versions(checkpoints.name());
        CHECK(live.size() == (i <= 1 ? 1u : 2u));
        CHECK(std::find(live.begin(), live.end(), i) != live.end());
        CHECK(std::find(live.begin(), live.end(), i == 0 ? 0 : 1) != live.end());
    }
    for (int i = 0; i < 5; ++i)
        CHECK(test::read_file(dir.path / "ckpt" / ("epoch" + std::to_string(i) + ".pt")) ==
              "e" + std::to_string(i));

    runlog::checkpoint_options top;
    top.name = "top";
    top.monitor = "loss";
    top.keep_top_k = 2;
    runlog::checkpoint_logger top_k(run, top);
    for (int i = 0; i < 5; ++i) {
        write_text(dir.path / "t.pt", std::to_string(i));
        REQUIRE(top_k.saved(dir.path / "t.pt", i, {{"loss", losses[i]}}).ok());
    }
    // 0.5 (v1, best) and 0.6 (v3) are the top 2; v4 is latest.
    CHECK(store.versions("top") == std::vector<std::int64_t>{1, 3, 4});
    check_consistent(store);
}

TEST_CASE("checkpoint logger: a resumed run continues from the stored best", "[artifacts]") {
    test::temp_dir dir;
    write_text(dir.path / "c.pt", "first");
    runlog::checkpoint_options options;
    options.name = "model-resume";
    options.monitor = "loss";
    {
        runlog::run run = runlog::init(test::quiet_settings(dir));
        runlog::checkpoint_logger checkpoints(run, options);
        REQUIRE(checkpoints.saved(dir.path / "c.pt", 1, {{"loss", 0.3}}).ok());
    }
    runlog::run run = runlog::init(test::quiet_settings(dir));
    runlog::checkpoint_logger checkpoints(run, options);
    CHECK(checkpoints.best_score() == 0.3);
    write_text(dir.path / "c.pt", "second");
    REQUIRE(checkpoints.saved(dir.path / "c.pt", 2, {{"loss", 0.4}}).ok());  // worse
    CHECK(runlog::use_artifact(dir.path, "model-resume:best").version == 0);
}

TEST_CASE("artifacts: a job killed between and during saves leaves a consistent store",
          "[artifacts]") {
    test::temp_dir dir;
    const std::string big(3 << 20, 'z');  // copies take a while: kills land mid-save too
    for (int round = 0; round < 4; ++round) {
        const pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            runlog::settings s = test::quiet_settings(dir);
            runlog::run run = runlog::init(s);
            runlog::checkpoint_options options;
            options.name = "model-crash";
            options.monitor = "loss";
            options.log_model = runlog::log_model_policy::last_and_best;
            runlog::checkpoint_logger checkpoints(run, options);
            for (int i = 0;; ++i) {
                const fs::path f = dir.path / ("c" + std::to_string(getpid()) + ".pt");
                {
                    std::ofstream out(f, std::ios::binary | std::ios::trunc);
                    out << big << i;
                }
                (void)checkpoints.saved(f, i, {{"loss", 1.0 / (1 + (i * 7919) % 13)}});
            }
        }
        // Once it has saved at least once, kill it a little later: between or during saves.
        const fs::path aliases = dir.path / "runlog" / "artifacts" / "model-crash" / "aliases.json";
        for (int wait = 0; wait < 1000 && !fs::exists(aliases); ++wait)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::this_thread::sleep_for(std::chrono::milliseconds(37 * round));
        ::kill(child, SIGKILL);
        int status = 0;
        REQUIRE(waitpid(child, &status, 0) == child);
        REQUIRE(WIFSIGNALED(status));
        const runlog::artifact_store store(dir.path / "runlog" / "artifacts");
        REQUIRE(fs::exists(store.dir() / "model-crash" / "aliases.json"));
        check_consistent(store);
    }
    // The next save cleans the dead jobs' staging directories.
    runlog::run run = runlog::init(test::quiet_settings(dir));
    write_text(dir.path / "c.pt", "after");
    REQUIRE(
        run.log_artifact("model-crash", "model", {runlog::artifact_file(dir.path / "c.pt")}).ok());
    CHECK(fs::is_empty(dir.path / "runlog" / "artifacts" / ".staging"));
}

TEST_CASE("artifacts: the run records what it logged and used", "[artifacts]") {
    test::temp_dir dir;
    test::error_log errors;
    auto sink = std::make_shared<runlog::memory_sink>();
    runlog::settings s = test::quiet_settings(dir, &errors);
    s.sinks.push_back(sink);
    runlog::run run = runlog::init(s);
    write_text(dir.path / "data.csv", "a,b\n1,2\n");
    runlog::artifact_options options;
    options.aliases = {"train"};
    options.metadata = {{"rows", 1}};
    const auto logged = run.log_artifact("data", "dataset",
                                         {runlog::artifact_file(dir.path / "data.csv")}, options);
    REQUIRE(logged.ok());
    const auto used = run.use_artifact("data:train");
    CHECK(used.version == 0);
    // After init nothing throws: the value says why (it threw before), and the handler hears it.
    runlog::artifact_version missing;
    CHECK_NOTHROW(missing = run.use_artifact("data:nope"));
    CHECK_FALSE(missing.ok());
    CHECK_THAT(missing.error, Catch::Contains("aliases latest -> v0"));
    CHECK_THAT(errors.all_text(), Catch::Contains("use_artifact: "));
    const auto bad = run.log_artifact("data", "dataset", {runlog::artifact_file(dir.path / "no")});
    CHECK_FALSE(bad.ok());
    run.finish();
    CHECK(run.stats().artifacts_logged == 1);
    CHECK(run.stats().artifacts_failed == 1);
    CHECK(errors.count(runlog::errc::invalid_artifact) == 1);

    const auto events = sink->artifacts();
    REQUIRE(events.size() == 2);
    CHECK_FALSE(events[0].find("used")->as_bool());
    CHECK(events[1].find("used")->as_bool());
    const auto lines = test::read_lines(run.dir() / "artifacts.jsonl");
    REQUIRE(lines.size() == 2);
    value first;
    std::string error;
    REQUIRE(runlog::detail::parse_json(lines[0], first, error));
    CHECK(first.find("action")->as_string() == "log");
    CHECK(first.find("store")->as_string() == "../artifacts");  // travels with the run
    CHECK(first.find("aliases")->size() == 2);
    CHECK(first.find("manifest")->find("metadata")->find("rows")->as_int() == 1);
    CHECK_THAT(lines[1], Catch::Contains("\"action\":\"use\""));
    value run_json;
    REQUIRE(runlog::detail::read_json_file(run.dir() / "run.json", run_json, error));
    CHECK(run_json.find("stats")->find("artifacts_logged")->as_int() == 1);
}

TEST_CASE("artifacts: a disabled run stores nothing but can use artifacts", "[artifacts]") {
    test::temp_dir dir;
    write_text(dir.path / "f.pt", "f");
    {
        runlog::run run = runlog::init(test::quiet_settings(dir));
        REQUIRE(run.log_artifact("m", "model", {runlog::artifact_file(dir.path / "f.pt")}).ok());
    }
    runlog::settings s = test::quiet_settings(dir);
    s.mode = runlog::run_mode::disabled;
    runlog::run other_rank = runlog::init(s);
    CHECK_FALSE(
        other_rank.log_artifact("m", "model", {runlog::artifact_file(dir.path / "f.pt")}).ok());
    CHECK(other_rank.use_artifact("m:latest").version == 0);
    runlog::checkpoint_logger checkpoints(other_rank, {});
    CHECK(checkpoints.saved(dir.path / "f.pt", 1).version == -1);
}

TEST_CASE("artifacts: exported to W&B with digests that coreutils agree with", "[artifacts]") {
    test::temp_dir dir;
    write_text(dir.path / "ckpt" / "weights.bin", std::string(70000, 'w'));
    write_text(dir.path / "ckpt" / "config.json", "{\"layers\": 3}");
    std::string run_dir;
    {
        runlog::settings s = test::quiet_settings(dir);
        s.wandb_offline = true;
        s.entity = "team";
        s.project = "proj";
        runlog::run run = runlog::init(s);
        run.log({{"loss", 1.0}});
        runlog::artifact_options options;
        options.aliases = {"best"};
        options.description = "epoch 1";
        options.metadata = {{"score", 0.5}};
        REQUIRE(run.log_artifact("model-x", "model", {runlog::artifact_file(dir.path / "ckpt")},
                                 options)
                    .ok());
        REQUIRE(
            run.log_artifact("model-x", "model", {runlog::artifact_file(dir.path / "ckpt")}).ok());
        run_dir = run.dir().string();
        run.finish();
    }
    auto check_records = [&](const fs::path& wandb_root, const std::string& sync_root) {
        fs::path file;
        for (const auto& run_entry : fs::directory_iterator(wandb_root))
            if (run_entry.path().filename().string().rfind("offline-run-", 0) == 0)
                for (const auto& e : fs::directory_iterator(run_entry.path()))
                    if (e.path().extension() == ".wandb") file = e.path();
        REQUIRE_FALSE(file.empty());
        std::vector<test::proto_message> artifacts;
        for (const auto& r : test::read_wandb_records(test::read_file(file))) {
            const auto record = test::decode_proto(r);
            if (test::record_type(record) == 8)
                artifacts.push_back(test::decode_proto(record.str(8)));
        }
        REQUIRE(artifacts.size() == 2);
        for (std::size_t i = 0; i < artifacts.size(); ++i) {
            const auto& a = artifacts[i];
            CHECK(a.str(2) == "proj");
            CHECK(a.str(3) == "team");
            CHECK(a.str(4) == "model");
            CHECK(a.str(5) == "model-x");
            CHECK(a.varint(14) == 1);  // finalize
            CHECK(a.str(15).size() == 128);
            CHECK(a.str(16).size() == 128);
            CHECK(a.str(15) != artifacts[1 - i].str(15));
            const auto aliases = a.all(11);
            CHECK(aliases.front() == "latest");
            CHECK((std::find(aliases.begin(), aliases.end(), "best") != aliases.end()) == (i == 0));
            const auto manifest = test::decode_proto(a.str(12));
            CHECK(manifest.varint(1) == 1);
            CHECK(manifest.str(2) == "wandb-storage-policy-v1");
            std::string digest_input = "wandb-artifact-manifest-v1\n";
            const auto entries = manifest.all(4);
            REQUIRE(entries.size() == 2);
            for (const auto& bytes : entries) {
                const auto entry = test::decode_proto(bytes);
                std::string local = entry.str(6);
                INFO(local);
                CHECK(fs::path(local).is_absolute());
                if (!sync_root.empty()) {
                    REQUIRE(local.rfind(sync_root, 0) == 0);
                    local = (dir.path / "exported" / local.substr(sync_root.size() + 1)).string();
                }
                CHECK(entry.str(2) == hex_to_base64(coreutils_digest("md5sum", local)));
                CHECK(static_cast<std::uintmax_t>(entry.varint(4)) == fs::file_size(local));
                CHECK(fs::path(local).filename() == coreutils_digest("sha256sum", local));
                digest_input += entry.str(1) + ":" + entry.str(2) + "\n";
            }
            CHECK(entries.size() == 2);
            write_text(dir.path / "digest-input", digest_input);
            CHECK(a.str(6) == coreutils_digest("md5sum", dir.path / "digest-input"));
        }
        value metadata;
        std::string error;
        REQUIRE(runlog::detail::parse_json(artifacts[0].str(8), metadata, error));
        CHECK(metadata.find("score")->as_double() == 0.5);
        CHECK(artifacts[0].str(7) == "epoch 1");
    };
    SECTION("live") {
        check_records(dir.path / "wandb", "");
    }
    SECTION("export, for another host") {
        runlog::export_options options;
        options.output_root = dir.path / "exported";
        options.entity = "team";
        options.sync_root = "/elsewhere/job";
        const auto result = runlog::export_to_wandb(run_dir, options);
        INFO(result.message);
        REQUIRE(result.ok);
        CHECK(result.artifacts == 2);
        check_records(dir.path / "exported" / "wandb", "/elsewhere/job");
    }
    SECTION("export without an entity fails clearly") {
        runlog::export_options options;
        options.output_root = dir.path / "exported";
        const auto result = runlog::export_to_wandb(run_dir, options);
        CHECK_FALSE(result.ok);
        CHECK_THAT(result.message, Catch::Contains("W&B needs an entity for artifacts"));
        CHECK_FALSE(fs::exists(dir.path / "exported"));  // refused before writing anything
    }
}

TEST_CASE("artifacts: a live W&B run without an entity leaves them out and says why",
          "[artifacts]") {
    test::temp_dir dir;
    test::error_log errors;
    write_text(dir.path / "c.pt", "c");
    runlog::settings s = test::quiet_settings(dir, &errors);
    s.wandb_offline = true;
    runlog::run run = runlog::init(s);
    REQUIRE(run.log_artifact("m", "model", {runlog::artifact_file(dir.path / "c.pt")}).ok());
    run.finish();
    CHECK_THAT(errors.all_text(), Catch::Contains("artifact m:v0 is not in the W&B run") &&
                                      Catch::Contains("RUNLOG_ENTITY"));
    std::vector<std::uint32_t> types;
    for (const auto& e : fs::directory_iterator(dir.path / "wandb" / "latest-run"))
        if (e.path().extension() == ".wandb")
            for (const auto& r : test::read_wandb_records(test::read_file(e.path())))
                types.push_back(test::record_type(test::decode_proto(r)));
    CHECK(std::count(types.begin(), types.end(), 8u) == 0);
    CHECK(types.back() == 20u);  // the run is complete: exit, then final
}

TEST_CASE("artifacts: export leaves out pruned versions and says so", "[artifacts]") {
    test::temp_dir dir;
    std::string run_dir;
    {
        runlog::run run = runlog::init(test::quiet_settings(dir));
        runlog::checkpoint_options options;
        options.monitor = "loss";
        options.log_model = runlog::log_model_policy::last_and_best;
        runlog::checkpoint_logger checkpoints(run, options);
        for (int i = 0; i < 4; ++i) {
            write_text(dir.path / "c.pt", std::to_string(i));
            REQUIRE(checkpoints.saved(dir.path / "c.pt", i, {{"loss", i == 1 ? 0.1 : 1.0}}).ok());
        }
        run_dir = run.dir().string();
    }
    runlog::export_options options;
    options.entity = "team";
    const auto result = runlog::export_to_wandb(run_dir, options);
    INFO(result.message);
    REQUIRE(result.ok);
    CHECK(result.artifacts == 2);  // v1 (best) and v3 (latest)
    CHECK(result.artifacts_pruned == 2);
    CHECK_THAT(result.message, Catch::Contains("2 artifact versions (2 more were pruned)"));
}

TEST_CASE("artifacts: SHA-256 with the CPU's extensions matches the portable code", "[artifacts]") {
    std::string data;
    for (unsigned i = 0; i < 5000; ++i) data.push_back(static_cast<char>((i * 2654435761u) >> 13u));
    for (std::size_t n = 0; n < data.size(); n += (n < 200 ? 1 : 97)) {
        INFO("length " << n);
        // Fed in uneven pieces, so whole blocks come both from the input and from the buffer.
        runlog::detail::sha256 fast, portable(false);
        for (std::size_t at = 0; at < n; at += 77) {
            const std::size_t piece = std::min<std::size_t>(77, n - at);
            fast.update(data.data() + at, piece);
            portable.update(data.data() + at, piece);
        }
        CHECK(fast.hex_digest() == portable.hex_digest());
    }
    CHECK(runlog::detail::sha256_hex("abc", 3) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
