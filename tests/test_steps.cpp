// SPDX-License-Identifier: MIT
// W&B's step rules (users.md §6, wandb-offline-format.md §4/§7), one case per rule.
#include <catch2/catch.hpp>

#include "support/test_support.hpp"

using runlog::value;

namespace {
struct fixture {
    test::temp_dir dir;
    test::error_log errors;
    std::shared_ptr<runlog::memory_sink> sink;
    runlog::run run = test::memory_run(dir, sink, &errors);

    std::vector<value> finish() {
        REQUIRE(run.finish() == runlog::status::ok);
        return sink->rows();
    }
};

std::int64_t step_of(const value& row) {
    return row.find("_step")->as_int();
}
}  // namespace

TEST_CASE("steps: no step commits each call and auto-increments", "[steps]") {
    fixture f;
    f.run.log({{"loss", 1.0}});
    f.run.log({{"loss", 0.5}});
    f.run.log({{"loss", 0.25}});
    const auto rows = f.finish();
    REQUIRE(rows.size() == 3);
    for (std::size_t i = 0; i < rows.size(); ++i)
        CHECK(step_of(rows[i]) == static_cast<std::int64_t>(i));
    CHECK(rows[2].find("loss")->as_double() == 0.25);
    CHECK(test::keys_of(rows[0]) ==
          std::vector<std::string>{"loss", "_step", "_runtime", "_timestamp"});
}

TEST_CASE("steps: commit=false accumulates into the pending row", "[steps]") {
    fixture f;
    f.run.log({{"a", 1}}, std::nullopt, false);
    f.run.log({{"b", 2}}, std::nullopt, false);
    f.run.log({{"c", 3}});  // commits a, b, c together
    f.run.log({{"d", 4}});
    const auto rows = f.finish();
    REQUIRE(rows.size() == 2);
    CHECK(test::keys_of(rows[0]) ==
          std::vector<std::string>{"a", "b", "c", "_step", "_runtime", "_timestamp"});
    CHECK(step_of(rows[0]) == 0);
    CHECK(step_of(rows[1]) == 1);
}

TEST_CASE("steps: the same explicit step merges, later values win", "[steps]") {
    fixture f;
    f.run.log({{"a", 1}, {"b", 1}}, 5);
    f.run.log({{"b", 2}, {"c", 3}}, 5);
    const auto rows = f.finish();  // the pending row is committed at finish
    REQUIRE(rows.size() == 1);
    CHECK(step_of(rows[0]) == 5);
    CHECK(rows[0].find("a")->as_int() == 1);
    CHECK(rows[0].find("b")->as_int() == 2);
    CHECK(rows[0].find("c")->as_int() == 3);
}

TEST_CASE("steps: a larger step commits the pending row and moves on", "[steps]") {
    fixture f;
    f.run.log({{"a", 1}}, 1);
    f.run.log({{"a", 2}}, 10);
    f.run.log({{"a", 3}}, 11);
    const auto rows = f.finish();
    REQUIRE(rows.size() == 3);
    CHECK(step_of(rows[0]) == 1);
    CHECK(step_of(rows[1]) == 10);
    CHECK(step_of(rows[2]) == 11);
}

TEST_CASE("steps: a smaller step is dropped, counted and reported", "[steps]") {
    fixture f;
    f.run.log({{"a", 1}}, 10);
    f.run.log({{"a", 2}}, 3);  // dropped
    f.run.log({{"a", 3}}, 10);
    const auto rows = f.finish();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].find("a")->as_int() == 3);
    CHECK(f.run.stats().dropped_step == 1);
    CHECK(f.errors.count(runlog::errc::step_not_increasing) == 1);
    CHECK_THAT(f.errors.all_text(), Catch::Contains("[runlog.203] log at step 3 dropped: the "
                                                    "current step is 10"));
}

TEST_CASE("steps: commit=true with a step commits at once; the next auto step follows", "[steps]") {
    fixture f;
    f.run.log({{"a", 1}}, 7, true);
    f.run.log({{"a", 2}});     // auto: step 8
    f.run.log({{"a", 3}}, 8);  // 8 < current 9: dropped
    const auto rows = f.finish();
    REQUIRE(rows.size() == 2);
    CHECK(step_of(rows[0]) == 7);
    CHECK(step_of(rows[1]) == 8);
    CHECK(f.run.stats().dropped_step == 1);
}

TEST_CASE("steps: a call without step merges into a pending explicit-step row", "[steps]") {
    fixture f;
    f.run.log({{"a", 1}}, 4);  // pending at step 4
    f.run.log({{"b", 2}});     // merges into step 4 and commits
    f.run.log({{"c", 3}});     // step 5
    const auto rows = f.finish();
    REQUIRE(rows.size() == 2);
    CHECK(step_of(rows[0]) == 4);
    CHECK(rows[0].contains("a"));
    CHECK(rows[0].contains("b"));
    CHECK(step_of(rows[1]) == 5);
}

TEST_CASE("steps: an empty committed row still advances the step", "[steps]") {
    fixture f;
    f.run.log({});
    f.run.log({{"a", 1}});
    const auto rows = f.finish();
    REQUIRE(rows.size() == 2);
    CHECK(test::keys_of(rows[0]) == std::vector<std::string>{"_step", "_runtime", "_timestamp"});
    CHECK(step_of(rows[1]) == 1);
}

TEST_CASE("steps: every row carries _step, _runtime and _timestamp", "[steps]") {
    fixture f;
    f.run.log({{"a", 1}});
    const auto rows = f.finish();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].find("_step")->is_int());
    CHECK(rows[0].find("_runtime")->is_double());
    CHECK(rows[0].find("_runtime")->as_double() >= 0.0);
    CHECK(rows[0].find("_timestamp")->is_double());
    CHECK(rows[0].find("_timestamp")->as_double() > 1.7e9);
}

TEST_CASE("steps: reserved and invalid keys are dropped from the row, counted once each",
          "[steps]") {
    fixture f;
    f.run.log({{"_step", 99}, {"ok", 1}, {"", 2}, {"bad\xFF", 3}});
    f.run.log({{"_step", 98}, {"ok", 2}});
    const auto rows = f.finish();
    REQUIRE(rows.size() == 2);
    CHECK(step_of(rows[0]) == 0);
    CHECK(test::keys_of(rows[0]) ==
          std::vector<std::string>{"ok", "_step", "_runtime", "_timestamp"});
    CHECK(f.run.stats().dropped_fields == 4);
    CHECK(f.errors.count(runlog::errc::reserved_key) == 1);
    CHECK(f.errors.count(runlog::errc::invalid_key) == 2);
}

TEST_CASE("steps: values of every kind reach the row", "[steps]") {
    fixture f;
    const value nested = {{"p50", 1.5}, {"p99", 9}};
    f.run.log({{"i", 1},
               {"u8", static_cast<unsigned char>(200)},
               {"i64", std::int64_t{-5}},
               {"f", 0.25f},
               {"d", 0.5},
               {"b", true},
               {"s", "text"},
               {"str", std::string("owned")},
               {"latency", nested},
               {"k10", 10}});  // more than the inline fields
    const auto rows = f.finish();
    REQUIRE(rows.size() == 1);
    CHECK_THAT(
        rows[0].dump(),
        Catch::StartsWith(
            R"({"i":1,"u8":200,"i64":-5,"f":0.25,"d":0.5,"b":true,"s":"text","str":"owned","latency":{"p50":1.5,"p99":9},"k10":10,"_step":0,)"));
}

TEST_CASE("steps: log(value) takes a row built at run time", "[steps]") {
    fixture f;
    value row = value::object();
    for (int layer = 0; layer < 3; ++layer) row["grad_norm/layer" + std::to_string(layer)] = layer;
    f.run.log(row, 2);
    f.run.log(value(5));  // not an object: reported, ignored
    const auto rows = f.finish();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].find("grad_norm/layer2")->as_int() == 2);
    CHECK(f.errors.count(runlog::errc::invalid_value) == 1);
}

TEST_CASE("rows: floats read back as their shortest form, row after row, sign of zero kept",
          "[steps][float]") {
    // The writer caches each key's last float conversion and reuses the previous row's storage;
    // neither may leak a stale value into a row.
    fixture f;
    const float values[] = {0.1f, 0.1f, 0.0f, -0.0f, -0.0f, 0.3f, 1e-7f, 0.1f};
    for (float v : values) f.run.log({{"lr", v}, {"other", 1}});
    f.run.log({{"other", 2}, {"lr", 0.5f}});  // same keys, other order
    f.run.log({{"lr", 0.5f}});                // fewer keys
    const auto rows = f.finish();
    REQUIRE(rows.size() == 10);
    const char* expected[] = {"0.1", "0.1", "0.0", "-0.0", "-0.0", "0.3", "1e-07", "0.1"};
    for (std::size_t i = 0; i < 8; ++i) {
        INFO("row " << i);
        CHECK(rows[i].find("lr")->dump() == expected[i]);
        CHECK(rows[i].find("other")->as_int() == 1);
        CHECK(step_of(rows[i]) == static_cast<std::int64_t>(i));
    }
    CHECK(test::keys_of(rows[8]) ==
          std::vector<std::string>{"other", "lr", "_step", "_runtime", "_timestamp"});
    CHECK(rows[8].find("other")->as_int() == 2);
    CHECK(test::keys_of(rows[9]) ==
          std::vector<std::string>{"lr", "_step", "_runtime", "_timestamp"});
    CHECK(rows[9].find("lr")->dump() == "0.5");
}

TEST_CASE("steps: a flush shows the sinks the open row, which still merges and commits later",
          "[steps][open_row]") {
    test::temp_dir dir;
    std::shared_ptr<runlog::memory_sink> sink;
    auto run = test::memory_run(dir, sink);
    run.log({{"a", 1}}, 99);
    REQUIRE(run.flush() == runlog::status::ok);
    const value open = sink->open_row();
    REQUIRE(open.is_object());
    CHECK(open.find("a")->as_int() == 1);
    CHECK(open.find("_step")->as_int() == 99);
    CHECK(sink->rows().empty());  // still open: W&B's rule
    run.log({{"b", 2}}, 99);      // merges into it
    run.log({{"c", 3}}, 100);     // and commits it
    REQUIRE(run.finish() == runlog::status::ok);
    const auto rows = sink->rows();
    REQUIRE(rows.size() == 2);
    CHECK(test::keys_of(rows[0]) ==
          std::vector<std::string>{"a", "b", "_step", "_runtime", "_timestamp"});
    CHECK(sink->open_row().is_null());
}
