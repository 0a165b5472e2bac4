// SPDX-License-Identifier: MIT
#pragma once
// JSON text primitives shared by every JSON-producing encoder. Pure functions appending to a
// std::string. Strings are escaped and UTF-8 validated (each invalid byte becomes U+FFFD, so the
// output is always valid UTF-8). Doubles use the shortest text that round-trips; non-finite values
// are the bare tokens NaN, Infinity, -Infinity, which Python's json module and wandb read.

#include <charconv>  // std::to_chars
#include <cmath>     // std::isnan, std::isinf, std::fabs
#include <cstdint>
#include <string>
#include <string_view>

namespace runlog {
inline namespace v0 {
namespace detail {

/// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not valid
/// UTF-8 (overlong forms, surrogates and code points above U+10FFFF are invalid).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    const std::size_t left = s.size() - i;
    auto cont = [&](std::size_t k) { return k < left && (byte(i + k) & 0xC0u) == 0x80u; };
    if (c < 0x80u) return 1;
    if (c >= 0xC2u && c <= 0xDFu) return cont(1) ? 2 : 0;
    if (c >= 0xE0u && c <= 0xEFu) {
        if (!cont(1) || !cont(2)) return 0;
        const unsigned char c1 = byte(i + 1);
        if (c == 0xE0u && c1 < 0xA0u) return 0;  // overlong
        if (c == 0xEDu && c1 > 0x9Fu) return 0;  // UTF-16 surrogate
        return 3;
    }
    if (c >= 0xF0u && c <= 0xF4u) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        const unsigned char c1 = byte(i + 1);
        if (c == 0xF0u && c1 < 0x90u) return 0;  // overlong
        if (c == 0xF4u && c1 > 0x8Fu) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

inline bool is_valid_utf8(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

/// `s` with every byte that starts no valid UTF-8 sequence replaced by U+FFFD.
inline std::string to_valid_utf8(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) {
            out.append("\xEF\xBF\xBD");
            ++i;
        } else {
            out.append(s.data() + i, n);
            i += n;
        }
    }
    return out;
}

/// Appends `s` as a JSON string. Runs that need no escaping are appended whole: every key and
/// string value of every row passes here, and a push_back per byte (an out-of-line call into
/// libstdc++) was a fifth of the writer's time under callgrind.
inline void write_json_string(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t clean = 0;  // start of the run not yet appended
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20u && c < 0x80u && c != '"' && c != '\\') {
            ++i;
            continue;
        }
        std::size_t n = 0;
        if (c >= 0x80u && (n = utf8_sequence_length(s, i)) != 0) {
            i += n;
            continue;
        }
        out.append(s.data() + clean, i - clean);
        switch (c) {
            case '"':
                out.append("\\\"");
                break;
            case '\\':
                out.append("\\\\");
                break;
            case '\n':
                out.append("\\n");
                break;
            case '\r':
                out.append("\\r");
                break;
            case '\t':
                out.append("\\t");
                break;
            case '\b':
                out.append("\\b");
                break;
            case '\f':
                out.append("\\f");
                break;
            default:
                if (c >= 0x80u) {
                    out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
                } else {
                    const char escape[] = {'\\', 'u', '0', '0', hex[c >> 4u], hex[c & 0xFu]};
                    out.append(escape, sizeof escape);
                }
        }
        clean = ++i;
    }
    out.append(s.data() + clean, s.size() - clean);
    out += '"';
}

/// The double nearest to the shortest decimal that round-trips `f`: 0.1f becomes 0.1, not
/// 0.10000000149011612, so float metrics read back as the number the user saw.
inline double float_to_double(float f) noexcept {
    if (std::isnan(f) || std::isinf(f)) return static_cast<double>(f);
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, f);
    double d = static_cast<double>(f);
    std::from_chars(buf, r.ptr, d);
    return d;
}

inline void write_json_int(std::string& out, std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));  // (pointer, length): no replace()
}

inline void write_json_double(std::string& out, double v) {
    if (std::isnan(v)) {
        out.append("NaN");
        return;
    }
    if (std::isinf(v)) {
        out.append(v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    // Shortest round-trip digits, laid out as Python's repr does: positional for magnitudes in
    // [1e-4, 1e16), exponent form outside (1800000000.0, not 1.8e+09; 1e-05, not 0.00001).
    const double magnitude = std::fabs(v);
    const auto format = (magnitude == 0.0 || (magnitude >= 1e-4 && magnitude < 1e16))
                            ? std::chars_format::fixed
                            : std::chars_format::scientific;
    char buf[400];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, format);
    const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
    out.append(text);
    // Keep floats floats for readers that type by token (1.0 stays 1.0, not the integer 1).
    for (const char c : text)  // (find_first_of(".e") costs a memchr per character)
        if (c == '.' || c == 'e') return;
    out.append(".0");
}

/// `seconds` rounded to the microsecond, as the nearest double: write_json_seconds prints it
/// exactly and the text reads back as this same double, so a history converted from the native
/// files carries the times the live sinks wrote.
inline double round_to_microseconds(double seconds) noexcept {
    if (!(std::fabs(seconds) < 9e9)) return seconds;
    return static_cast<double>(std::llround(seconds * 1e6)) / 1e6;
}

/// Seconds — a row's _runtime and _timestamp — to the microsecond, the clock's own resolution:
/// integer formatting, a fraction of the cost of the shortest round-trip double (which every
/// row paid twice). Trailing zeros go, one decimal stays: 3.5, 1800000000.0, 0.000123.
/// NaN, infinities and magnitudes past 9e9 s are written as any double.
inline void write_json_seconds(std::string& out, double seconds) {
    if (!(std::fabs(seconds) < 9e9)) {
        write_json_double(out, seconds);
        return;
    }
    const std::int64_t micros = std::llround(seconds * 1e6);
    const auto magnitude = static_cast<std::uint64_t>(micros < 0 ? -micros : micros);
    char buf[32];
    char* p = buf;
    if (micros < 0) *p++ = '-';
    p = std::to_chars(p, buf + 24, magnitude / 1000000u).ptr;
    *p++ = '.';
    auto fraction = static_cast<std::uint32_t>(magnitude % 1000000u);
    if (fraction == 0) {
        *p++ = '0';
    } else {
        int digits = 6;
        while (fraction % 10u == 0) fraction /= 10u, --digits;
        for (int i = digits - 1; i >= 0; --i, fraction /= 10u)
            p[i] = static_cast<char>('0' + fraction % 10u);
        p += digits;
    }
    out.append(buf, static_cast<std::size_t>(p - buf));
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
