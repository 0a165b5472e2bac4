// SPDX-License-Identifier: MIT
#pragma once
// define_metric: how a metric is plotted and summarised, with wandb-core's semantics.
//
//     run.define_metric("val/*", {.step_metric = "epoch"});          // C++20
//     run.define_metric("val/acc", runlog::metric_options{}.with_summary("max,last"));  // C++17
//
// - A name ending in `*` is a glob matching every key that starts with the part before it; a `*`
//   anywhere else is an error. Keys starting with `_` never match. The first matching glob wins,
//   and an explicit definition of a key wins over every glob (it is not merged with the glob).
// - Defining the same name again merges: options can be switched on, never off, unless
//   `overwrite` is set.
// - `summary` is a comma list of min, max, mean, first, last, best, none. Without it a metric's
//   summary is its last value; with it, an object holding exactly the requested aggregates;
//   `none` removes the metric from the summary. `best` is W&B's: the best value under the goal
//   (minimize when there is none), with `best_step`.
// - A definition with a bad part (an unknown summary or goal) is applied without that part, which
//   is reported; a bad name drops the definition.
// - `goal` (minimize | maximize; "min"/"max" accepted) adds `best` and `best_step` to the summary
//   object, beyond W&B, which only records the goal. With a goal but no `summary`, `last` is kept.
// - `step_metric` names the x-axis key; `step_sync` (default true when step_metric is set) copies
//   the last committed value of that key into rows that lack it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "error.hpp"

namespace runlog {
inline namespace v0 {

enum class metric_goal : std::uint8_t { none, minimize, maximize };

inline const char* to_string(metric_goal g) noexcept {
    switch (g) {
        case metric_goal::minimize:
            return "minimize";
        case metric_goal::maximize:
            return "maximize";
        case metric_goal::none:
            break;
    }
    return "none";
}

/// Bits of metric_definition::summary.
enum summary_flag : std::uint8_t {
    summary_min = 1u << 0u,
    summary_max = 1u << 1u,
    summary_mean = 1u << 2u,
    summary_first = 1u << 3u,
    summary_last = 1u << 4u,
    summary_none = 1u << 5u,
    summary_best = 1u << 6u,  // the goal's best (and its step): minimize unless a goal says max
};

/// What define_metric() takes. Designated initializers (C++20) or the with_* setters (C++17).
struct metric_options {
    std::string step_metric{};
    std::optional<bool> step_sync{};
    bool hidden = false;
    std::string summary{};  // "min,max,mean,first,last,best,none", any subset
    std::string goal{};     // "minimize" | "maximize" | ""
    bool overwrite = false;

    metric_options& with_step_metric(std::string v) { return step_metric = std::move(v), *this; }
    metric_options& with_step_sync(bool v) { return step_sync = v, *this; }
    metric_options& with_hidden(bool v) { return hidden = v, *this; }
    metric_options& with_summary(std::string v) { return summary = std::move(v), *this; }
    metric_options& with_goal(std::string v) { return goal = std::move(v), *this; }
    metric_options& with_overwrite(bool v) { return overwrite = v, *this; }
};

/// A parsed, validated definition, as the dispatcher applies it and sinks receive it.
struct metric_definition {
    std::string name;       // a key, or a glob ending in '*'
    std::string from_glob;  // set when this definition was materialised for a key from a glob
    std::string step_metric;
    bool step_sync = false;
    bool hidden = false;
    std::uint8_t summary = 0;  // summary_flag bits
    metric_goal goal = metric_goal::none;

    bool is_glob() const noexcept { return !name.empty() && name.back() == '*'; }

    /// Glob match: the key starts with the part before '*' and is not internal ('_...').
    bool matches(std::string_view key) const noexcept {
        if (!is_glob() || key.empty() || key.front() == '_') return false;
        const std::string_view prefix(name.data(), name.size() - 1);
        return key.substr(0, prefix.size()) == prefix;
    }

    /// Merge a later definition of the same name: options are switched on, never off.
    void merge(const metric_definition& later) {
        if (!later.step_metric.empty()) step_metric = later.step_metric;
        step_sync = step_sync || later.step_sync;
        hidden = hidden || later.hidden;
        summary = static_cast<std::uint8_t>(summary | later.summary);
        if (later.goal != metric_goal::none) goal = later.goal;
    }
};

namespace detail {
struct summary_flag_name {
    std::uint8_t bit;
    const char* name;
};
inline constexpr summary_flag_name summary_flag_names[] = {
    {summary_min, "min"},     {summary_max, "max"},   {summary_mean, "mean"},
    {summary_first, "first"}, {summary_last, "last"}, {summary_none, "none"},
    {summary_best, "best"}};
}  // namespace detail

/// "min,last" for summary_min | summary_last.
inline std::string summary_to_string(std::uint8_t flags) {
    std::string out;
    for (const auto& [bit, name] : detail::summary_flag_names) {
        if ((flags & bit) == 0) continue;
        if (!out.empty()) out.push_back(',');
        out.append(name);
    }
    return out;
}

/// Validates `options` for `name`; on success fills `out` and returns an ok result.
/// Fills `out` and returns ok; or returns why parts were left out (`out` is filled without them);
/// or, for a bad name, why the definition cannot be made (`out` is untouched).
inline io_result parse_metric_definition(std::string_view name, const metric_options& options,
                                         metric_definition& out) {
    const std::string quoted = "'" + std::string(name) + "'";
    if (name.empty())
        return io_result::failure(errc::invalid_metric_definition, "define_metric: empty name");
    const auto star = name.find('*');
    if (star != std::string_view::npos && star + 1 != name.size()) {
        return io_result::failure(
            errc::invalid_metric_definition,
            "define_metric " + quoted +
                ": '*' is only allowed at the end (a prefix glob like 'val/*')");
    }
    metric_definition def;
    def.name = std::string(name);
    def.step_metric = options.step_metric;
    def.step_sync = options.step_sync.value_or(!options.step_metric.empty());
    def.hidden = options.hidden;
    std::string problems;  // parts left out; the rest of the definition applies
    std::string_view rest = options.summary;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.empty()) continue;
        std::uint8_t bit = 0;
        for (const auto& flag : detail::summary_flag_names)
            if (item == flag.name) bit = flag.bit;
        def.summary = static_cast<std::uint8_t>(def.summary | bit);
        if (bit == 0) {
            problems += (problems.empty() ? "" : "; ") + std::string("unknown summary '") +
                        std::string(item) + "' left out (use min, max, mean, first, last, best " +
                        "or none)";
        }
    }
    const std::string_view goal = options.goal;
    if (goal.empty()) {
        def.goal = metric_goal::none;
    } else if (goal.substr(0, 3) == "min") {
        def.goal = metric_goal::minimize;
    } else if (goal.substr(0, 3) == "max") {
        def.goal = metric_goal::maximize;
    } else {
        problems += (problems.empty() ? "" : "; ") + std::string("unknown goal '") +
                    std::string(goal) + "' left out (use minimize or maximize)";
    }
    out = std::move(def);
    if (problems.empty()) return {};
    return io_result::failure(errc::invalid_metric_definition,
                              "define_metric " + quoted + ": " + problems);
}

}  // namespace v0
}  // namespace runlog
