// SPDX-License-Identifier: MIT
// Allocation counting, in its own executable because it replaces the global operator new.
// Asserts behaviour, not speed: a disabled run allocates nothing, and log() of known keys with
// scalar values allocates nothing on the calling thread.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <new>

#include "support/test_support.hpp"

namespace {
thread_local std::size_t allocations = 0;
thread_local bool counting = false;
}  // namespace

void* operator new(std::size_t n) {
    if (counting) ++allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {
template <class F>
std::size_t count_allocations(F&& f) {
    allocations = 0;
    counting = true;
    f();
    counting = false;
    return allocations;
}
}  // namespace

TEST_CASE("alloc: a disabled run allocates nothing and writes nothing", "[alloc][disabled]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.mode = runlog::run_mode::disabled;
    auto run = runlog::init(s);
    REQUIRE_FALSE(run.enabled());
    const double loss = 0.5;
    const auto n = count_allocations([&] {
        for (int i = 0; i < 1000; ++i)
            run.log({{"train/loss", loss}, {"lr", 1e-3}, {"step", i}}, i);
        run.flush();
    });
    CHECK(n == 0);
    CHECK(std::filesystem::is_empty(dir.path));
}

TEST_CASE("alloc: log() of known keys and scalars allocates nothing", "[alloc]") {
    test::temp_dir dir;
    auto s = test::quiet_settings(dir);
    s.queue_capacity = 1 << 16;
    auto run = runlog::init(s);
    run.log({{"train/loss", 1.0}, {"lr", 0.1f}, {"step", 0}, {"ok", true}});  // interns the keys
    const auto n = count_allocations([&] {
        for (int i = 1; i < 5000; ++i)
            run.log({{"train/loss", 1.0 / i}, {"lr", 0.1f}, {"step", i}, {"ok", true}});
    });
    CHECK(n == 0);
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK(run.stats().rows_committed == 5000);
}
