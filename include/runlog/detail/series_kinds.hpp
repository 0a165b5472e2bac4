// SPDX-License-Identifier: MIT
#pragma once
// What a logged value may be before any sink sees it — decided once, in the dispatcher, so the
// native history, W&B and TensorBoard agree:
//
// - Text is valid UTF-8. Invalid bytes become U+FFFD (as the JSON writer has always written
//   them), so a TensorBoard text event carries what history.jsonl shows and protobuf `string`
//   fields never hold bytes their readers refuse.
// - A series keeps the kind of its first value. A key (or a leaf of a nested value, "a/b") that
//   started as numbers (int, float, bool) stays numbers; text stays text; an image, table or
//   histogram stays that. A later value of another kind is dropped, counted and reported: a string
//   in a scalar series made TensorBoard's HParams route fail for every run of the logdir, and W&B
//   charts a mixed key as neither. null is no kind: it fits every series.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../value.hpp"
#include "json_writer.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

enum class series_kind : std::uint8_t {
    none,  // nothing but null logged yet
    number,
    text,
    histogram,
    image,
    table,
    other_media,  // another `_type` (media a user built by hand)
    object,       // nested values: each leaf is a series of its own
    array
};

inline const char* to_string(series_kind k) noexcept {
    switch (k) {
        case series_kind::none:
            return "null";
        case series_kind::number:
            return "numbers";
        case series_kind::text:
            return "text";
        case series_kind::histogram:
            return "histograms";
        case series_kind::image:
            return "images";
        case series_kind::table:
            return "tables";
        case series_kind::other_media:
            return "media";
        case series_kind::object:
            return "nested values";
        case series_kind::array:
            return "lists";
    }
    return "?";
}

/// Why a value of kind `now` logged under `key` at `step` was dropped.
inline std::string mixed_series_message(const std::string& key, series_kind was, series_kind now,
                                        std::int64_t step) {
    return "field '" + key + "' dropped at step " + std::to_string(step) + ": '" + key +
           "' holds " + to_string(was) + " and this value is " + to_string(now) +
           " (a key keeps the kind of its first value, so no sink sees a mixed series; log it "
           "under another key)";
}

/// The kind of a media value from its W&B `_type`.
inline series_kind kind_of_media_type(std::string_view type) noexcept {
    if (type == "histogram") return series_kind::histogram;
    if (type == "image-file" || type == "images/separated") return series_kind::image;
    if (type == "table-file") return series_kind::table;
    return series_kind::other_media;
}

inline series_kind kind_of(const value& v) noexcept {
    if (v.is_null()) return series_kind::none;
    if (v.is_number() || v.is_bool()) return series_kind::number;
    if (v.is_string()) return series_kind::text;
    if (v.is_array()) return series_kind::array;
    if (const value* type = v.find("_type"); type && type->is_string())
        return kind_of_media_type(type->as_string());
    return series_kind::object;
}

/// Replaces invalid UTF-8 in `v`'s strings and object keys with U+FFFD, in place.
inline void replace_invalid_utf8(value& v) {
    if (v.is_string()) {
        if (!is_valid_utf8(v.as_string())) v = to_valid_utf8(v.as_string());
    } else if (v.is_array()) {
        for (value& item : v.as_array()) replace_invalid_utf8(item);
    } else if (v.is_object()) {
        for (auto& [key, member] : v.as_object()) {
            if (!is_valid_utf8(key)) key = to_valid_utf8(key);
            replace_invalid_utf8(member);
        }
    }
}

/// The kind of every series of a run: top-level keys by the dispatcher's slot number for them,
/// the leaves of nested values by path ("a/b", as TensorBoard names their tags).
class series_kinds {
  public:
    /// True if a value of kind `k` fits the series of key slot `slot` (the first value that is
    /// not null fixes its kind).
    bool fits(std::size_t slot, series_kind k) {
        if (slot >= top_.size()) top_.resize(slot + 1, series_kind::none);
        series_kind& known = top_[slot];
        if (known == series_kind::none) known = k;
        return known == k || k == series_kind::none;
    }
    series_kind of(std::size_t slot) const noexcept {
        return slot < top_.size() ? top_[slot] : series_kind::none;
    }

    /// Checks the members of the nested value `v` logged under `path` against their series,
    /// fixing the kind of new ones; a member of another kind is removed from `v`, and `dropped`
    /// is called with its path, its series' kind and its own.
    template <class Dropped>
    void check_nested(const std::string& path, value& v, Dropped&& dropped) {
        auto& members = v.as_object();
        for (std::size_t i = 0; i < members.size();) {
            std::string leaf = path + "/" + members[i].first;
            const series_kind k = kind_of(members[i].second);
            if (k == series_kind::none) {
                ++i;
                continue;
            }
            series_kind& known = nested_[leaf];  // stays valid: unordered_map never moves nodes
            if (known == series_kind::none) known = k;
            if (known != k) {
                dropped(leaf, known, k);
                members.erase(members.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            if (k == series_kind::object) check_nested(leaf, members[i].second, dropped);
            ++i;
        }
    }

    /// A value read back from the run's history (resume): its series take its kinds.
    void note(std::size_t slot, const std::string& key, const value& v) {
        const series_kind k = kind_of(v);
        if (!fits(slot, k) || k != series_kind::object) return;
        value copy = v;
        check_nested(key, copy, [](const std::string&, series_kind, series_kind) {});
    }

    /// True the first time a series is reported (each is reported once).
    bool first_report(const std::string& series) { return reported_.insert(series).second; }

  private:
    std::vector<series_kind> top_;
    std::unordered_map<std::string, series_kind> nested_;
    std::unordered_set<std::string> reported_;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
