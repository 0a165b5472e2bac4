// SPDX-License-Identifier: MIT
// What wandb's own sync and TensorBoard's own loader showed (issue 18), as rules on the decoded
// records: nulls, invalid UTF-8, keys whose kind changes, fractional step metrics, rewinds,
// resumed runs' hyperparameters and the exit record's runtime.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include <runlog/export.hpp>

#include "support/test_support.hpp"
#include "support/tfevents_reader.hpp"
#include "support/wandb_reader.hpp"

namespace fs = std::filesystem;
using runlog::value;

namespace {

/// Every event of every file under <root>/tensorboard/<run>, files in name (= time) order.
std::vector<test::tb_event> tb_events(const fs::path& root, const std::string& run) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(root / "tensorboard" / run))
        files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<test::tb_event> out;
    for (const auto& f : files)
        for (auto& e : test::read_events(test::read_file(f))) out.push_back(std::move(e));
    return out;
}

struct tb_point {
    std::int64_t step;
    test::tb_value value;
};

std::vector<tb_point> tb_values(const std::vector<test::tb_event>& events, const std::string& tag) {
    std::vector<tb_point> out;
    for (const auto& e : events)
        for (const auto& v : e.values)
            if (v.tag == tag) out.push_back({e.step, v});
    return out;
}

/// The history records of the run's latest W&B file, as key -> value_json per row.
std::vector<std::map<std::string, std::string>> wandb_rows(const fs::path& root) {
    const fs::path wdir = root / "wandb" / fs::read_symlink(root / "wandb" / "latest-run");
    fs::path file;
    for (const auto& entry : fs::directory_iterator(wdir))
        if (entry.path().extension() == ".wandb") file = entry.path();
    std::vector<std::map<std::string, std::string>> rows;
    for (const auto& bytes : test::read_wandb_records(test::read_file(file))) {
        const auto r = test::decode_proto(bytes);
        if (test::record_type(r) != 2) continue;
        std::map<std::string, std::string> row;
        for (const auto& item : test::decode_proto(r.str(2)).all(1))
            row[test::decode_proto(item).str(1)] = test::decode_proto(item).str(16);
        rows.push_back(std::move(row));
    }
    return rows;
}

runlog::settings all_sinks(const test::temp_dir& dir, const char* id,
                           test::error_log* errors = nullptr) {
    auto s = test::quiet_settings(dir, errors);
    s.wandb_offline = true;
    s.tensorboard = true;
    s.id = id;
    return s;
}

}  // namespace

TEST_CASE("interop: a null is JSON null in history and W&B, and not written to TensorBoard",
          "[interop]") {
    test::temp_dir dir;
    auto run = runlog::init(all_sinks(dir, "nulls001"));
    const char* no_text = nullptr;
    run.log({{"k", nullptr}, {"c", no_text}, {"x", 1}});
    REQUIRE(run.finish() == runlog::status::ok);

    const auto rows = test::read_history(run.dir());
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].find("k")->is_null());  // was "" before
    CHECK(rows[0].find("c")->is_null());
    CHECK(test::read_lines(run.dir() / "history.jsonl")[0].find(R"("k":null,"c":null)") !=
          std::string::npos);
    CHECK(test::read_json(run.dir() / "summary.json").find("k")->is_null());  // as W&B's client
    const auto w = wandb_rows(dir.path);
    REQUIRE(w.size() == 1);
    CHECK(w[0].at("k") == "null");
    const auto events = tb_events(dir.path, "nulls001");
    CHECK(tb_values(events, "k").empty());
    CHECK(tb_values(events, "c").empty());
    CHECK(tb_values(events, "x").size() == 1);
}

TEST_CASE("interop: invalid UTF-8 reaches every sink as the U+FFFD history shows", "[interop]") {
    test::temp_dir dir;
    auto run = runlog::init(all_sinks(dir, "utf8x001"));
    const std::string bad = "ok \xff\xfe then \xc3";  // two stray bytes and a cut sequence
    run.log({{"note", bad}, {"nested", value{{"t", bad}, {"k\xff", 1}}}});
    const fs::path run_dir = run.dir();
    REQUIRE(run.finish() == runlog::status::ok);

    const std::string fixed = "ok \xEF\xBF\xBD\xEF\xBF\xBD then \xEF\xBF\xBD";
    CHECK(test::read_history(run_dir)[0].find("note")->as_string() == fixed);
    const auto live = tb_events(dir.path, "utf8x001");
    const auto note = tb_values(live, "note");
    REQUIRE(note.size() == 1);
    CHECK(note[0].value.strings == std::vector<std::string>{fixed});  // raw bytes before
    REQUIRE(tb_values(live, "nested/t").size() == 1);
    CHECK(tb_values(live, "nested/t")[0].value.strings == std::vector<std::string>{fixed});
    CHECK(tb_values(live, "nested/k\xEF\xBF\xBD").size() == 1);  // the tag, too

    // Live equals export, byte for byte.
    runlog::export_options options;
    options.output_root = dir.path / "exported";
    const auto exported = runlog::export_to_tensorboard(run_dir, options);
    REQUIRE(exported.ok);
    const auto converted = tb_events(dir.path / "exported", "utf8x001");
    CHECK(tb_values(converted, "note")[0].value.strings == note[0].value.strings);
    CHECK(tb_values(converted, "nested/t")[0].value.strings ==
          tb_values(live, "nested/t")[0].value.strings);
}

TEST_CASE("interop: a key keeps the kind of its first value in every sink", "[interop]") {
    test::temp_dir dir;
    test::error_log errors;
    auto run = runlog::init(all_sinks(dir, "kinds001", &errors));
    run.log({{"status", 0.5}, {"phase", "warmup"}, {"opt", value{{"lr", 0.1}}}});
    run.log({{"status", "done"}, {"phase", 3}, {"opt", value{{"lr", "high"}, {"mom", 0.9}}}});
    run.log({{"status", nullptr}, {"phase", "train"}});  // null fits any series
    run.log({{"status", 0.75}});
    REQUIRE(run.finish() == runlog::status::ok);

    const auto rows = test::read_history(run.dir());
    REQUIRE(rows.size() == 4);
    CHECK_FALSE(rows[1].contains("status"));  // the string is dropped, the row stays
    CHECK_FALSE(rows[1].contains("phase"));
    CHECK_FALSE(rows[1].find("opt")->contains("lr"));  // a leaf of a nested value, too
    CHECK(rows[1].find("opt")->find("mom")->as_double() == 0.9);
    CHECK(rows[2].find("status")->is_null());
    CHECK(rows[3].find("status")->as_double() == 0.75);
    const auto stats = run.stats();
    CHECK(stats.dropped_fields == 3);
    CHECK(errors.count(runlog::errc::invalid_value) == 3);  // once per series
    CHECK_THAT(errors.all_text(),
               Catch::Contains("field 'status' dropped at step 1: 'status' holds numbers and "
                               "this value is text"));
    CHECK_THAT(errors.all_text(), Catch::Contains("field 'opt/lr' dropped"));

    // TensorBoard: one scalar series, never a text value in it; W&B: the same rows.
    const auto events = tb_events(dir.path, "kinds001");
    const auto status = tb_values(events, "status");
    REQUIRE(status.size() == 2);
    for (const auto& p : status) CHECK(p.value.has_simple_value);
    for (const auto& p : tb_values(events, "phase")) CHECK(p.value.plugin != "scalars");
    CHECK(tb_values(events, "phase").size() == 2);
    const auto w = wandb_rows(dir.path);
    REQUIRE(w.size() == 4);
    CHECK(w[1].count("status") == 0);
    CHECK(w[3].at("status") == "0.75");
}

TEST_CASE("interop: a step metric that is not an integer sends its tags to the run's step",
          "[interop]") {
    test::temp_dir dir;
    auto s = all_sinks(dir, "frac0001");
    s.wandb_offline = false;
    auto run = runlog::init(s);
    run.define_metric("val/*", runlog::metric_options{}.with_step_metric("epoch"));
    run.log({{"epoch", 0}, {"val/acc", 0.1}});    // step 0, epoch 0: at epoch 0
    run.log({{"epoch", 1.0}, {"val/acc", 0.2}});  // integral double: at epoch 1
    run.log({{"epoch", 1.5}, {"val/acc", 0.3}});  // step 2: from here on at the run's step
    run.log({{"epoch", 2.0}, {"val/acc", 0.4}});  // stays at the run's step (3)
    REQUIRE(run.finish() == runlog::status::ok);

    const auto acc = tb_values(tb_events(dir.path, "frac0001"), "val/acc");
    REQUIRE(acc.size() == 4);
    std::vector<std::int64_t> steps;
    for (const auto& p : acc) steps.push_back(p.step);
    CHECK(steps == std::vector<std::int64_t>{0, 1, 2, 3});  // floor gave 0, 1, 1, 2
    const auto epoch = tb_values(tb_events(dir.path, "frac0001"), "epoch");
    REQUIRE(epoch.size() == 4);
    CHECK(epoch[2].value.simple_value == 1.5f);  // the step metric is a scalar of its own
}

TEST_CASE("interop: a resumed run shows the last session's hyperparameters and end status",
          "[interop][resume]") {
    test::temp_dir dir;
    auto settings_for = [&](double lr, runlog::resume_mode mode) {
        auto s = test::quiet_settings(dir);
        s.tensorboard = true;
        s.id = "resumetb";
        s.resume = mode;
        s.config = {{"lr", lr}};
        return s;
    };
    {
        auto run = runlog::init(settings_for(0.1, runlog::resume_mode::allow));
        run.log({{"loss", 1.0}});
        REQUIRE(run.finish(2) == runlog::status::ok);  // the first attempt fails
    }
    auto run = runlog::init(settings_for(0.2, runlog::resume_mode::must));
    run.log({{"loss", 0.5}});
    REQUIRE(run.finish(0) == runlog::status::ok);

    // The resumed session's file sorts after the first (both started within this second), so
    // the loader meets the run's initial START first.
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir.path / "tensorboard" / "resumetb"))
        files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() == 2);
    const auto first = test::read_events(test::read_file(files[0]));
    CHECK(first.at(1).session_log_status == 1);  // START at 0, after file_version
    for (const auto& e : test::read_events(test::read_file(files[1])))
        CHECK(e.session_log_status == 0);

    const auto events = tb_events(dir.path, "resumetb");
    const auto starts = tb_values(events, "_hparams_/session_start_info");
    const auto ends = tb_values(events, "_hparams_/session_end_info");
    REQUIRE(starts.size() == 1);  // the first session's were taken out of its file
    REQUIRE(ends.size() == 1);
    const auto info = test::decode_proto(test::decode_proto(starts[0].value.plugin_content).str(3));
    const auto lr = test::decode_proto(test::decode_proto(info.str(1)).str(2));
    CHECK(test::as_double(lr.str(2)) == 0.2);
    const auto end = test::decode_proto(test::decode_proto(ends[0].value.plugin_content).str(4));
    CHECK(end.varint(1) == 1);                     // SUCCESS
    CHECK(tb_values(events, "loss").size() == 2);  // the rows themselves are untouched
}

TEST_CASE("interop: the exit record has the runtime in whole seconds, as W&B's client",
          "[interop][wandb]") {
    test::temp_dir dir;
    static double now = 1800000000.25;
    auto s = test::quiet_settings(dir);
    s.wandb_offline = true;
    s.id = "runtime1";
    s.clock = [] { return now; };
    auto run = runlog::init(s);
    run.log({{"loss", 1.0}});
    now += 12.7;
    REQUIRE(run.finish() == runlog::status::ok);
    const fs::path wdir = dir.path / "wandb" / fs::read_symlink(dir.path / "wandb" / "latest-run");
    std::int64_t runtime = -1;
    for (const auto& bytes : test::read_wandb_records(test::read_file(wdir / "run-runtime1.wandb")))
        if (const auto r = test::decode_proto(bytes); test::record_type(r) == 18)
            runtime = static_cast<std::int64_t>(test::decode_proto(r.str(18)).varint(2));
    CHECK(runtime == 12);
}
