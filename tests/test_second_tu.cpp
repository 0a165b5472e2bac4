// SPDX-License-Identifier: MIT
// A second translation unit including every header: a namespace-scope function defined without
// `inline` becomes a duplicate-symbol link error here.
#include <runlog/runlog.hpp>

#include <catch2/catch.hpp>

TEST_CASE("second translation unit links", "[build]") {
    runlog::run disabled;
    disabled.log({{"a", 1}});
    CHECK_FALSE(disabled.enabled());
    CHECK(std::string(runlog::to_string(runlog::errc::queue_full)) == "queue full");
}
