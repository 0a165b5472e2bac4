// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include <runlog/detail/json_writer.hpp>
#include <runlog/value.hpp>

using runlog::value;

namespace {
std::string quoted(std::string_view s) {
    std::string out;
    runlog::detail::write_json_string(out, s);
    return out;
}
std::string number(double d) {
    std::string out;
    runlog::detail::write_json_double(out, d);
    return out;
}
}  // namespace

TEST_CASE("json: strings are escaped", "[json]") {
    CHECK(quoted("plain") == R"("plain")");
    CHECK(quoted("a\"b\\c") == R"("a\"b\\c")");
    CHECK(quoted("line\nbreak\ttab\rret") == R"("line\nbreak\ttab\rret")");
    CHECK(quoted(std::string("\x01\x1f", 2)) == R"("\u0001\u001f")");
    CHECK(quoted(std::string("nul\0byte", 8)) == R"("nul\u0000byte")");
    CHECK(quoted("\b\f") == R"("\b\f")");
    CHECK(quoted("/") == R"("/")");
}

TEST_CASE("json: valid UTF-8 passes, invalid bytes become U+FFFD", "[json]") {
    CHECK(quoted("héllo ✓ 😀") == "\"héllo ✓ 😀\"");
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK(quoted("a\xFFz") == "\"a" + fffd + "z\"");
    CHECK(quoted("\xC3") == "\"" + fffd + "\"");                        // truncated sequence
    CHECK(quoted("\xC0\xAF") == "\"" + fffd + fffd + "\"");             // overlong '/'
    CHECK(quoted("\xED\xA0\x80") == "\"" + fffd + fffd + fffd + "\"");  // UTF-16 surrogate
    CHECK(quoted("\xF4\x90\x80\x80").find(fffd) != std::string::npos);  // above U+10FFFF
    CHECK(runlog::detail::is_valid_utf8("ok ✓"));
    CHECK_FALSE(runlog::detail::is_valid_utf8("\xFF"));
    CHECK(runlog::detail::is_valid_utf8(quoted("\xFE\xFF garbage \xC3")));
}

TEST_CASE("json: numbers are shortest round-trip, non-finite are bare tokens", "[json]") {
    CHECK(number(0.1) == "0.1");
    CHECK(number(1.0) == "1.0");
    CHECK(number(-2.0) == "-2.0");
    CHECK(number(1e300) == "1e+300");
    CHECK(number(5e-324) == "5e-324");
    CHECK(number(123456789.125) == "123456789.125");
    CHECK(number(1800000000.0) == "1800000000.0");  // positional, like Python's repr
    CHECK(number(1e16) == "1e+16");
    CHECK(number(1e-5) == "1e-05");
    CHECK(number(0.0001) == "0.0001");
    CHECK(number(-0.0) == "-0.0");
    CHECK(number(std::numeric_limits<double>::quiet_NaN()) == "NaN");
    CHECK(number(std::numeric_limits<double>::infinity()) == "Infinity");
    CHECK(number(-std::numeric_limits<double>::infinity()) == "-Infinity");
    const double third = 1.0 / 3.0;
    CHECK(std::stod(number(third)) == third);
    CHECK(value(std::int64_t{-9223372036854775807 - 1}).dump() == "-9223372036854775808");
    CHECK(runlog::detail::float_to_double(0.1f) == 0.1);
    CHECK(std::isnan(runlog::detail::float_to_double(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("json: row times print to the microsecond and read back as the same double", "[json]") {
    using runlog::detail::round_to_microseconds;
    const auto text = [](double t) {
        std::string out;
        runlog::detail::write_json_seconds(out, t);
        return out;
    };
    CHECK(text(3.5) == "3.5");
    CHECK(text(0.0) == "0.0");
    CHECK(text(1800000000.0) == "1800000000.0");
    CHECK(text(0.000123) == "0.000123");
    CHECK(text(0.00012) == "0.00012");
    CHECK(text(12.0000004) == "12.0");  // below a microsecond
    CHECK(text(-2.25) == "-2.25");
    CHECK(text(std::numeric_limits<double>::quiet_NaN()) == "NaN");
    CHECK(text(1e12) == "1000000000000.0");  // past 9e9 s: as any double
    // Times like the clock's: the text parses back to round_to_microseconds(t) exactly.
    double t = 1795966254.0;
    for (int i = 0; i < 100000; ++i) {
        t += 0.0001234567 * (i % 97 + 1);
        const double rounded = round_to_microseconds(t);
        const std::string s = text(rounded);
        double back = 0.0;
        std::from_chars(s.data(), s.data() + s.size(), back);
        REQUIRE(back == rounded);
        REQUIRE(std::fabs(rounded - t) <= 0.5e-6 + 2.5e-7);  // half a µs + a double's spacing
        REQUIRE(text(t) == s);  // unrounded input prints the same microseconds
    }
}

TEST_CASE("json: a 1 MiB string survives intact", "[json]") {
    std::string big(1 << 20, 'x');
    big[12345] = '"';
    big[500000] = '\n';
    const std::string out = quoted(big);
    CHECK(out.size() == big.size() + 2 + 2);  // quotes + two escapes
    CHECK(out.substr(12346, 2) == "\\\"");
    CHECK(value(big).dump() == out);
}

TEST_CASE("json: nested values dump in insertion order", "[json]") {
    const value v = {{"z", 1}, {"a", {{"nan", std::nan("")}, {"list", {true, nullptr, "s"}}}}};
    CHECK(v.dump() == R"({"z":1,"a":{"nan":NaN,"list":[true,null,"s"]}})");
}
