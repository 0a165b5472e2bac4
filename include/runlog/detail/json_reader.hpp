// SPDX-License-Identifier: MIT
#pragma once
// A JSON reader for what runlog writes (and any standard JSON): objects keep member order,
// integers that fit stay int64, other numbers are doubles, and the bare tokens NaN, Infinity and
// -Infinity are accepted, as Python's json module accepts them. Nesting is limited to 256 levels
// so hostile input cannot exhaust the stack. Errors name the byte offset.

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>

#include "../value.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

class json_reader {
  public:
    explicit json_reader(std::string_view text) : s_(text) {}

    /// Parses the whole text into `out`; false with `error()` set on failure.
    bool parse(value& out) {
        skip_space();
        if (!parse_value(out, 0)) return false;
        skip_space();
        if (i_ != s_.size()) return fail("unexpected text after the value");
        return true;
    }
    const std::string& error() const noexcept { return error_; }

  private:
    bool fail(const std::string& what) {
        if (error_.empty()) error_ = what + " at byte " + std::to_string(i_);
        return false;
    }
    void skip_space() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
            ++i_;
    }
    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }

    bool parse_value(value& out, int depth) {
        // One level more than anything runlog writes (value.hpp's max_nesting), so its own
        // files always read back; the two limits live in one place.
        constexpr int limit = max_nesting + 1;
        if (depth > limit) return fail("nesting deeper than " + std::to_string(limit) + " levels");
        if (i_ >= s_.size()) return fail("unexpected end of input");
        const char c = s_[i_];
        if (c == '{') return parse_object(out, depth);
        if (c == '[') return parse_array(out, depth);
        if (c == '"') {
            std::string text;
            if (!parse_string(text)) return false;
            out = value(std::move(text));
            return true;
        }
        if (literal("true")) return out = value(true), true;
        if (literal("false")) return out = value(false), true;
        if (literal("null")) return out = value(), true;
        if (literal("NaN")) return out = value(std::numeric_limits<double>::quiet_NaN()), true;
        if (literal("Infinity")) return out = value(std::numeric_limits<double>::infinity()), true;
        if (literal("-Infinity"))
            return out = value(-std::numeric_limits<double>::infinity()), true;
        return parse_number(out);
    }

    bool parse_number(value& out) {
        const std::size_t start = i_;
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        bool is_float = false;
        while (i_ < s_.size()) {
            const char c = s_[i_];
            if (c >= '0' && c <= '9') {
                ++i_;
            } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                is_float = true;
                ++i_;
            } else {
                break;
            }
        }
        const char* first = s_.data() + start;
        const char* last = s_.data() + i_;
        if (first == last || (last - first == 1 && *first == '-')) return fail("expected a value");
        if (!is_float) {
            std::int64_t n = 0;
            const auto r = std::from_chars(first, last, n);
            if (r.ec == std::errc() && r.ptr == last) return out = value(n), true;
        }
        double d = 0.0;
        const auto r = std::from_chars(first, last, d);
        if (r.ptr != last || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range))
            return fail("bad number");
        out = value(d);
        return true;
    }

    static void append_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    bool hex4(std::uint32_t& out) {
        if (i_ + 4 > s_.size()) return fail("truncated \\u escape");
        out = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            out <<= 4u;
            if (c >= '0' && c <= '9')
                out |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f')
                out |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                out |= static_cast<std::uint32_t>(c - 'A' + 10);
            else
                return fail("bad \\u escape");
        }
        return true;
    }

    bool parse_string(std::string& out) {
        ++i_;  // opening quote
        while (i_ < s_.size()) {
            const char c = s_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (i_ >= s_.size()) break;
            const char e = s_[i_++];
            switch (e) {
                case '"':
                    out.push_back('"');
                    break;
                case '\\':
                    out.push_back('\\');
                    break;
                case '/':
                    out.push_back('/');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'u': {
                    std::uint32_t cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(i_, 2) == "\\u") {
                        i_ += 2;
                        std::uint32_t low = 0;
                        if (!hex4(low)) return false;
                        if (low >= 0xDC00 && low <= 0xDFFF) {
                            cp = 0x10000 + ((cp - 0xD800) << 10u) + (low - 0xDC00);
                        } else {
                            append_utf8(out, 0xFFFD);
                            cp = low;
                        }
                    }
                    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // lone surrogate
                    append_utf8(out, cp);
                    break;
                }
                default:
                    return fail("bad escape");
            }
        }
        return fail("unterminated string");
    }

    bool parse_array(value& out, int depth) {
        ++i_;
        out = value::array();
        skip_space();
        if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
        for (;;) {
            value item;
            skip_space();
            if (!parse_value(item, depth + 1)) return false;
            out.push_back(std::move(item));
            skip_space();
            if (i_ < s_.size() && s_[i_] == ',') {
                ++i_;
                continue;
            }
            if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
            return fail("expected ',' or ']'");
        }
    }

    bool parse_object(value& out, int depth) {
        ++i_;
        out = value::object();
        skip_space();
        if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
        for (;;) {
            skip_space();
            if (i_ >= s_.size() || s_[i_] != '"') return fail("expected a member name");
            std::string key;
            if (!parse_string(key)) return false;
            skip_space();
            if (i_ >= s_.size() || s_[i_] != ':') return fail("expected ':'");
            ++i_;
            skip_space();
            value item;
            if (!parse_value(item, depth + 1)) return false;
            out.as_object().emplace_back(std::move(key), std::move(item));
            skip_space();
            if (i_ < s_.size() && s_[i_] == ',') {
                ++i_;
                continue;
            }
            if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
            return fail("expected ',' or '}'");
        }
    }

    std::string_view s_;
    std::size_t i_ = 0;
    std::string error_;
};

/// Parses `text`; on failure returns false and sets `error`.
inline bool parse_json(std::string_view text, value& out, std::string& error) {
    json_reader reader(text);
    if (reader.parse(out)) return true;
    error = reader.error();
    return false;
}

/// Reads and parses a whole JSON file; on failure returns false and sets `error` (naming it).
inline bool read_json_file(const std::filesystem::path& path, value& out, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read '" + path.string() + "'";
        return false;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!parse_json(text, out, error)) {
        error = "'" + path.string() + "' is not valid JSON: " + error;
        return false;
    }
    return true;
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
