// SPDX-License-Identifier: MIT
// define_metric and summaries, with wandb-core's semantics (wandb-offline-format.md §7).
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include <runlog/detail/io_faults.hpp>

#include "support/test_support.hpp"

using runlog::metric_options;
using runlog::value;

namespace {
const double nan_value = std::numeric_limits<double>::quiet_NaN();

struct fixture {
    test::temp_dir dir;
    test::error_log errors;
    std::shared_ptr<runlog::memory_sink> sink;
    runlog::run run = test::memory_run(dir, sink, &errors);

    value finish() {
        REQUIRE(run.finish() == runlog::status::ok);
        return sink->summary();
    }
};

runlog::metric_definition parse(std::string_view name, const metric_options& o) {
    runlog::metric_definition def;
    const auto r = runlog::parse_metric_definition(name, o, def);
    REQUIRE(r.ok());
    return def;
}
}  // namespace

TEST_CASE("summary: an undefined metric's summary is its last value", "[metrics][summary]") {
    fixture f;
    f.run.log({{"loss", 3.0}});
    f.run.log({{"loss", 1.0}});
    f.run.log({{"loss", 2.0}});
    const value s = f.finish();
    CHECK(s.find("loss")->as_double() == 2.0);
    CHECK(s.find("_step")->as_int() == 2);
    CHECK(s.contains("_runtime"));
    CHECK(s.contains("_timestamp"));
}

TEST_CASE("summary: reducers give exactly the requested aggregates", "[metrics][summary]") {
    fixture f;
    f.run.define_metric("loss", metric_options{}.with_summary("min,max,mean,first,last"));
    f.run.define_metric("acc", metric_options{}.with_summary("max"));
    f.run.define_metric("noise", metric_options{}.with_summary("none"));
    for (double v : {3.0, 1.0, 2.0}) f.run.log({{"loss", v}, {"acc", v / 4}, {"noise", v}});
    const value s = f.finish();
    CHECK(s.find("loss")->dump() == R"({"min":1.0,"max":3.0,"mean":2.0,"first":3.0,"last":2.0})");
    CHECK(s.find("acc")->dump() == R"({"max":0.75})");  // last is not implied
    CHECK_FALSE(s.contains("noise"));
}

TEST_CASE("summary: min and max keep integer type; mean is a double", "[metrics][summary]") {
    fixture f;
    f.run.define_metric("tokens", metric_options{}.with_summary("min,max,mean"));
    for (int v : {4, 2, 9}) f.run.log({{"tokens", v}});
    CHECK(f.finish().find("tokens")->dump() == R"({"min":2,"max":9,"mean":5.0})");
}

TEST_CASE("summary: NaN is skipped by min/max/mean, kept by last", "[metrics][summary][nan]") {
    fixture f;
    f.run.define_metric("loss", metric_options{}.with_summary("min,max,mean,last"));
    f.run.define_metric("diverged", metric_options{}.with_summary("min,max,mean"));
    f.run.define_metric("text", metric_options{}.with_summary("min,last"));
    f.run.log({{"loss", 2.0}, {"diverged", nan_value}, {"text", "a"}});
    f.run.log({{"loss", nan_value}, {"diverged", nan_value}, {"text", "b"}});
    f.run.log({{"loss", 4.0}});
    f.run.log({{"loss", std::numeric_limits<double>::infinity()}});
    f.run.log({{"loss", nan_value}});
    const value s = f.finish();
    CHECK(s.find("loss")->dump() == R"({"min":2.0,"max":Infinity,"mean":Infinity,"last":NaN})");
    CHECK(s.find("diverged")->dump() == R"({"min":NaN,"max":NaN,"mean":NaN})");
    CHECK(s.find("text")->dump() == R"({"last":"b"})");  // no number, no min
}

TEST_CASE("summary: a goal adds best and best_step", "[metrics][summary]") {
    fixture f;
    f.run.define_metric("val/loss", metric_options{}.with_goal("minimize"));
    f.run.define_metric("val/acc", metric_options{}.with_summary("max,last").with_goal("maximize"));
    f.run.log({{"val/loss", 0.9}, {"val/acc", 0.5}}, 10);
    f.run.log({{"val/loss", 0.4}, {"val/acc", 0.8}}, 20);
    f.run.log({{"val/loss", 0.6}, {"val/acc", 0.7}}, 30);
    const value s = f.finish();
    CHECK(s.find("val/loss")->dump() == R"({"last":0.6,"best":0.4,"best_step":20})");
    CHECK(s.find("val/acc")->dump() == R"({"max":0.8,"last":0.7,"best":0.8,"best_step":20})");
}

TEST_CASE("summary: summary_set replaces the value until the key is logged again",
          "[metrics][summary]") {
    fixture f;
    f.run.define_metric("acc", metric_options{}.with_summary("max"));
    f.run.log({{"acc", 0.5}});
    f.run.summary_set("acc", "overridden");
    f.run.summary_set("best_epoch", 3);
    f.run.summary_set("_private", 1);  // reserved: reported, ignored
    REQUIRE(f.run.flush() == runlog::status::ok);
    const value mid = f.sink->summary();
    CHECK(mid.find("acc")->as_string() == "overridden");
    CHECK(mid.find("best_epoch")->as_int() == 3);
    CHECK_FALSE(mid.contains("_private"));
    f.run.log({{"acc", 0.6}});
    const value s = f.finish();
    CHECK(s.find("acc")->dump() == R"({"max":0.6})");
    CHECK(s.find("best_epoch")->as_int() == 3);
    CHECK(f.errors.count(runlog::errc::reserved_key) == 1);
}

TEST_CASE("define_metric: trailing-* globs; first match wins; '_' keys never match",
          "[metrics][glob]") {
    const auto val = parse("val/*", {});
    CHECK(val.is_glob());
    CHECK(val.matches("val/acc"));
    CHECK(val.matches("val/"));
    CHECK_FALSE(val.matches("train/acc"));
    CHECK_FALSE(val.matches("val"));
    const auto all = parse("*", {});
    CHECK(all.matches("anything"));
    CHECK_FALSE(all.matches("_step"));
    CHECK_FALSE(parse("val/acc", {}).matches("val/acc"));  // not a glob

    fixture f;
    f.run.define_metric("val/*", metric_options{}.with_summary("max"));
    f.run.define_metric("v*", metric_options{}.with_summary("min"));
    f.run.define_metric("val/loss", metric_options{}.with_summary("last"));
    f.run.log({{"val/acc", 1}, {"val/loss", 2}, {"vocab", 3}, {"other", 4}});
    f.run.log({{"val/acc", 5}, {"val/loss", 6}, {"vocab", 7}, {"other", 8}});
    const value s = f.finish();
    CHECK(s.find("val/acc")->dump() == R"({"max":5})");    // first glob
    CHECK(s.find("val/loss")->dump() == R"({"last":6})");  // explicit wins over globs
    CHECK(s.find("vocab")->dump() == R"({"min":3})");      // second glob
    CHECK(s.find("other")->as_int() == 8);                 // undefined: last value
    // materialised glob definitions are announced to sinks
    bool announced = false;
    for (const auto& def : f.sink->metrics())
        if (def.name == "val/acc" && def.from_glob == "val/*") announced = true;
    CHECK(announced);
}

TEST_CASE("define_metric: step_sync copies the last step-metric value into rows",
          "[metrics][step_sync]") {
    fixture f;
    f.run.define_metric("epoch");
    f.run.define_metric("val/*", metric_options{}.with_step_metric("epoch"));
    f.run.log({{"val/acc", 0.1}});  // epoch never logged yet: nothing inserted
    f.run.log({{"epoch", 1}, {"train/loss", 0.5}});
    f.run.log({{"val/acc", 0.2}});  // gets epoch = 1
    f.run.log({{"epoch", 2}});
    f.run.log({{"val/acc", 0.3}, {"epoch", 7}});  // already has it: untouched
    f.run.log({{"train/loss", 0.4}});             // not under val/*: untouched
    f.finish();
    const auto all = f.sink->rows();
    REQUIRE(all.size() == 6);
    CHECK_FALSE(all[0].contains("epoch"));
    CHECK(all[2].find("epoch")->as_int() == 1);
    CHECK(test::keys_of(all[2]) ==
          std::vector<std::string>{"val/acc", "epoch", "_step", "_runtime", "_timestamp"});
    CHECK(all[4].find("epoch")->as_int() == 7);
    CHECK_FALSE(all[5].contains("epoch"));
}

TEST_CASE("define_metric: a definition made after a key was logged applies from then on",
          "[metrics][step_sync]") {
    // The writer caches each key's definition; a later define_metric (exact or glob) must win.
    fixture f;
    f.run.log({{"epoch", 1}, {"loss", 3.0}});
    f.run.log({{"val/acc", 0.1}, {"loss", 1.0}});
    f.run.define_metric("loss", metric_options{}.with_summary("min"));
    f.run.define_metric("val/*", metric_options{}.with_step_metric("epoch"));
    f.run.log({{"val/acc", 0.2}, {"loss", 2.0}});
    const value s = f.finish();
    CHECK(s.find("loss")->dump() == R"({"min":1.0})");
    const auto all = f.sink->rows();
    REQUIRE(all.size() == 3);
    CHECK_FALSE(all[1].contains("epoch"));
    CHECK(all[2].find("epoch")->as_int() == 1);  // step_sync, known only after the definition
}

TEST_CASE("define_metric: step_sync can be switched off", "[metrics][step_sync]") {
    fixture f;
    f.run.define_metric("val/*", metric_options{}.with_step_metric("epoch").with_step_sync(false));
    f.run.log({{"epoch", 1}});
    f.run.log({{"val/acc", 0.2}});
    f.finish();
    CHECK_FALSE(f.sink->rows()[1].contains("epoch"));
}

TEST_CASE("define_metric: definitions merge unless overwrite is set", "[metrics]") {
    fixture f;
    f.run.define_metric("loss", metric_options{}.with_summary("min"));
    f.run.define_metric("loss", metric_options{}.with_summary("last").with_hidden(true));
    f.run.define_metric("acc", metric_options{}.with_summary("min"));
    f.run.define_metric("acc", metric_options{}.with_summary("max").with_overwrite(true));
    f.run.log({{"loss", 2.0}, {"acc", 1}});
    f.run.log({{"loss", 1.0}, {"acc", 3}});
    const value s = f.finish();
    CHECK(s.find("loss")->dump() == R"({"min":1.0,"last":1.0})");
    CHECK(s.find("acc")->dump() == R"({"max":3})");
    const auto defs = f.sink->metrics();
    REQUIRE_FALSE(defs.empty());
    const auto& last_loss =
        *std::find_if(defs.rbegin(), defs.rend(), [](const auto& d) { return d.name == "loss"; });
    CHECK(last_loss.hidden);
    CHECK(runlog::summary_to_string(last_loss.summary) == "min,last");
}

TEST_CASE("define_metric: bad definitions are reported with their id and ignored", "[metrics]") {
    runlog::metric_definition def;
    auto r = runlog::parse_metric_definition("val/*/acc", {}, def);
    CHECK(r.code == runlog::errc::invalid_metric_definition);
    CHECK_THAT(r.message, Catch::Contains("'*' is only allowed at the end"));
    r = runlog::parse_metric_definition("x", metric_options{}.with_summary("max,median"), def);
    CHECK_THAT(r.message, Catch::Contains("unknown summary 'median'"));
    r = runlog::parse_metric_definition("x", metric_options{}.with_goal("up"), def);
    CHECK_THAT(r.message, Catch::Contains("unknown goal 'up'"));
    r = runlog::parse_metric_definition("", {}, def);
    CHECK_FALSE(r.ok());
    CHECK(parse("x", metric_options{}.with_goal("min")).goal == runlog::metric_goal::minimize);
    CHECK(parse("x", metric_options{}.with_summary(" max , last ")).summary ==
          (runlog::summary_max | runlog::summary_last));
    CHECK(parse("x", metric_options{}.with_step_metric("epoch")).step_sync);

    fixture f;
    f.run.define_metric("a*b", {});
    f.run.log({{"a1b", 1}});
    CHECK(f.finish().find("a1b")->as_int() == 1);
    CHECK(f.errors.count(runlog::errc::invalid_metric_definition) == 1);
    CHECK_THAT(f.errors.all_text(), Catch::Contains("[runlog.206] define_metric 'a*b'"));
}

TEST_CASE("define_metric: a glob matching thousands of keys is one metrics.json write per flush",
          "[metrics][glob]") {
    // Before, metrics.json was rewritten whole for each definition a glob made: quadratic in the
    // keys (20,000 keys held the writer thread past finish's 10 s timeout in an ASan build).
    static std::atomic<int> metrics_writes{0};
    metrics_writes = 0;
    runlog::detail::io_fault_hook = [](runlog::detail::io_op op, const char* path) {
        if (op == runlog::detail::io_op::write_file &&
            std::string(path).find("metrics.json") != std::string::npos)
            ++metrics_writes;
        return runlog::detail::io_fault{};
    };
    test::temp_dir dir;
    auto run = runlog::init(test::quiet_settings(dir));
    const int written_at_start = metrics_writes;
    run.define_metric("*", metric_options{}.with_summary("min"));
    value row = value::object();
    for (int i = 0; i < 3000; ++i) row["k" + std::to_string(i)] = i;
    run.log(row);
    run.log({{"k0", -1}});  // commits the wide row
    REQUIRE(run.flush() == runlog::status::ok);
    REQUIRE(run.finish() == runlog::status::ok);
    runlog::detail::io_fault_hook = nullptr;
    CHECK(metrics_writes - written_at_start <= 3);  // flush, finish, and perhaps a timed flush
    const value metrics = test::read_json(run.dir() / "metrics.json");
    REQUIRE(metrics.size() == 3001);  // the glob, then one definition per key
    CHECK(metrics.as_array()[3000].find("glob")->as_string() == "*");
    CHECK(test::read_json(run.dir() / "summary.json").find("k0")->dump() == R"({"min":-1})");
}

TEST_CASE("define_metric: summary 'best' is W&B's goal's best; a bad part drops only that part",
          "[metrics]") {
    fixture f;
    f.run.define_metric("loss", metric_options{}.with_summary("best"));  // was refused whole
    f.run.define_metric("acc", metric_options{}.with_summary("best").with_goal("maximize"));
    f.run.define_metric("val", metric_options{}.with_summary("max,median").with_step_metric("ep"));
    f.run.log({{"loss", 2.0}, {"acc", 0.5}, {"val", 1.0}, {"ep", 0}});
    f.run.log({{"loss", 1.0}, {"acc", 0.25}, {"val", 3.0}, {"ep", 1}});
    const auto s = f.finish();
    CHECK(s.find("loss")->dump() == R"({"best":1.0,"best_step":1})");  // minimize by default
    CHECK(s.find("acc")->dump() == R"({"best":0.5,"best_step":0})");
    CHECK(s.find("val")->dump() == R"({"max":3.0})");  // 'median' left out, the rest applies
    const auto defs = f.sink->metrics();
    const auto val =
        std::find_if(defs.begin(), defs.end(), [](const auto& d) { return d.name == "val"; });
    REQUIRE(val != defs.end());
    CHECK(val->step_metric == "ep");
    CHECK(f.errors.count(runlog::errc::invalid_metric_definition) == 1);
    CHECK_THAT(f.errors.all_text(), Catch::Contains("unknown summary 'median' left out") &&
                                        Catch::Contains("the rest applies"));
}
