// SPDX-License-Identifier: MIT
// The concurrent parts: the queue, the key table, and log() from many threads. Built and run
// under ThreadSanitizer in CI (tag [concurrency]).
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>
#include <vector>

#include <runlog/detail/bounded_queue.hpp>
#include <runlog/detail/key_table.hpp>

#include "support/test_support.hpp"

TEST_CASE("queue: FIFO, bounded, leaves the item when full", "[concurrency][queue]") {
    runlog::detail::bounded_queue<int> q(3);  // rounded up to 4
    CHECK(q.capacity() == 4);
    for (int i = 0; i < 4; ++i) {
        int v = i;
        REQUIRE(q.try_push(v));
    }
    int extra = 99;
    CHECK_FALSE(q.try_push(extra));
    CHECK(extra == 99);
    CHECK(q.size_approx() == 4);
    for (int i = 0; i < 4; ++i) {
        int out = -1;
        REQUIRE(q.try_pop(out));
        CHECK(out == i);
    }
    int out = -1;
    CHECK_FALSE(q.try_pop(out));
}

TEST_CASE("queue: many producers, one consumer, nothing lost or duplicated",
          "[concurrency][queue]") {
    runlog::detail::bounded_queue<std::uint64_t> q(64);
    constexpr int producers = 4;
    constexpr std::uint64_t per_producer = 20000;
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            for (std::uint64_t i = 0; i < per_producer; ++i) {
                std::uint64_t v = static_cast<std::uint64_t>(p) * per_producer + i;
                while (!q.try_push(v)) std::this_thread::yield();
            }
        });
    }
    std::vector<std::uint64_t> last(producers, 0);
    std::vector<bool> seen_any(producers, false);
    std::uint64_t received = 0, sum = 0;
    while (received < producers * per_producer) {
        std::uint64_t v;
        if (!q.try_pop(v)) {
            std::this_thread::yield();
            continue;
        }
        const auto p = static_cast<std::size_t>(v / per_producer);
        // per-producer order is preserved
        if (seen_any[p]) REQUIRE(v > last[p]);
        seen_any[p] = true;
        last[p] = v;
        sum += v;
        ++received;
    }
    for (auto& t : threads) t.join();
    const std::uint64_t n = producers * per_producer;
    CHECK(sum == n * (n - 1) / 2);
}

TEST_CASE("key table: one entry per key across threads, stable pointers, classification",
          "[concurrency][keys]") {
    runlog::detail::key_table keys;
    std::vector<std::thread> threads;
    std::vector<std::vector<const runlog::detail::key_entry*>> found(4);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 3; ++round)
                for (int k = 0; k < 500; ++k) {
                    const auto* e = keys.intern("metric/" + std::to_string(k));
                    if (round == 0) found[static_cast<std::size_t>(t)].push_back(e);
                    REQUIRE(e == found[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)]);
                }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(keys.size() == 500);
    for (int t = 1; t < 4; ++t) CHECK(found[static_cast<std::size_t>(t)] == found[0]);
    CHECK(found[0][7]->name == "metric/7");
    CHECK(keys.intern("_step")->status == runlog::detail::key_status::reserved);
    CHECK(keys.intern("")->status == runlog::detail::key_status::empty);
    CHECK(keys.intern("\xFF")->status == runlog::detail::key_status::invalid_utf8);
    CHECK(keys.intern("ok")->status == runlog::detail::key_status::ok);
}

TEST_CASE("key table: keys differing in any one byte, or only in length, stay apart", "[keys]") {
    // hash_key and same_key read whole and overlapping words: every byte must still count.
    using runlog::detail::hash_key;
    using runlog::detail::same_key;
    runlog::detail::key_table keys;
    std::set<const runlog::detail::key_entry*> entries;
    std::size_t expected = 0;
    for (std::size_t n = 0; n <= 40; ++n) {
        std::string base;
        for (std::size_t i = 0; i < n; ++i) base += static_cast<char>('a' + i % 26);
        CHECK(same_key(base, std::string(base)));
        CHECK(hash_key(base) == hash_key(std::string(base)));
        entries.insert(keys.intern(base));
        ++expected;
        for (std::size_t pos = 0; pos < n; ++pos) {
            std::string other = base;
            other[pos] = '\0';  // embedded NULs are bytes like any other
            CHECK_FALSE(same_key(base, other));
            entries.insert(keys.intern(other));
            ++expected;
        }
        CHECK_FALSE(same_key(base, base + "a"));
    }
    CHECK(entries.size() == expected);
    CHECK(keys.size() == expected);
    CHECK(keys.intern("train/loss") == keys.intern(std::string("train/") + "loss"));
}

TEST_CASE("run: 8 threads x 100,000 rows arrive exactly once", "[concurrency][run]") {
    test::temp_dir dir;
    auto counter = std::make_shared<test::counting_sink>();
    std::shared_ptr<runlog::memory_sink> unused;
    auto s = test::quiet_settings(dir);
    s.native_files = false;
    s.sinks = {counter};
    auto run = runlog::init(s);
    constexpr int threads = 8;
    constexpr int rows = 100000;
    for (int t = 0; t < threads; ++t) {
        run.define_metric("t" + std::to_string(t),
                          runlog::metric_options{}.with_summary("min,max,mean"));
    }
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&run, t] {
            const std::string key = "t" + std::to_string(t);
            for (int i = 0; i < rows; ++i) run.log({{key, i}, {"shared", t}});
        });
    }
    for (auto& w : workers) w.join();
    REQUIRE(run.finish(0, std::chrono::seconds(120)) == runlog::status::ok);
    const auto st = run.stats();
    CHECK(st.rows_committed == threads * rows);
    CHECK(st.dropped() == 0);
    CHECK(counter->rows.load() == threads * rows);
}

TEST_CASE("run: every thread's values all arrive (summary check)", "[concurrency][run]") {
    test::temp_dir dir;
    std::shared_ptr<runlog::memory_sink> sink;
    auto run = test::memory_run(dir, sink);
    constexpr int threads = 4;
    constexpr int rows = 20000;
    for (int t = 0; t < threads; ++t)
        run.define_metric("t" + std::to_string(t),
                          runlog::metric_options{}.with_summary("min,max,mean"));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&run, t] {
            const std::string key = "t" + std::to_string(t);
            for (int i = 0; i < rows; ++i) run.log({{key, i}});
            run.flush();
        });
    }
    for (auto& w : workers) w.join();
    REQUIRE(run.finish() == runlog::status::ok);
    const auto summary = sink->summary();
    for (int t = 0; t < threads; ++t) {
        const auto* entry = summary.find("t" + std::to_string(t));
        REQUIRE(entry != nullptr);
        CHECK(entry->dump() == R"({"min":0,"max":19999,"mean":9999.5})");
    }
    CHECK(sink->rows().size() == threads * rows);
}
