// SPDX-License-Identifier: MIT
#pragma once
// The running summary of one metric: first, last, min, max, mean (and the steps of min and max, so
// a goal can report `best` and `best_step`). Memory is constant per metric whatever the run length.
//
// NaN: min, max, mean and best skip NaN values (a single NaN would otherwise poison them for the
// rest of the run); first and last record NaN as logged. If only NaN was ever logged, min, max and
// mean are NaN; if no number was logged at all they are left out. Only int and double count as
// numbers; bools, strings and objects update first and last only. min and max keep the type of the
// value logged (an int stays an int).

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "metric.hpp"
#include "value.hpp"

namespace runlog {
inline namespace v0 {

class metric_summary {
  public:
    void add(const value& v, std::int64_t step) {
        if (!seen_) first_ = v;
        seen_ = true;
        last_ = v;
        override_.reset();  // a logged value ends an explicit summary_set
        if (!v.is_number()) return;
        const double d = v.as_double();
        if (std::isnan(d)) {
            nan_seen_ = true;
            return;
        }
        if (count_ == 0 || d < min_.as_double()) {
            min_ = v;
            min_step_ = step;
        }
        if (count_ == 0 || d > max_.as_double()) {
            max_ = v;
            max_step_ = step;
        }
        sum_ += d;
        ++count_;
    }

    /// summary_set(): replaces the summary value until the key is logged again.
    void set_override(value v) { override_ = std::move(v); }

    /// rewind_to_step(): forgets the values logged, keeps a summary_set value.
    void forget_values() {
        std::optional<value> kept = std::move(override_);
        *this = metric_summary{};
        override_ = std::move(kept);
    }

    bool seen() const noexcept { return seen_; }
    const value& last() const noexcept { return last_; }

    /// The summary entry under `def` (nullptr: not defined), or nothing when it has none.
    std::optional<value> build(const metric_definition* def) const {
        if (override_) return override_;
        if (!seen_) return std::nullopt;
        const std::uint8_t flags = def ? def->summary : 0;
        metric_goal goal = def ? def->goal : metric_goal::none;
        if (goal == metric_goal::none && (flags & summary_best) != 0) goal = metric_goal::minimize;
        if ((flags & summary_none) != 0) return std::nullopt;
        if (flags == 0 && goal == metric_goal::none) return last_;
        value out = value::object();
        // Numeric aggregates exist once a number was logged; NaN-only metrics report NaN.
        if (count_ > 0 || nan_seen_) {
            const double nan = std::numeric_limits<double>::quiet_NaN();
            if ((flags & summary_min) != 0) out["min"] = count_ > 0 ? min_ : value(nan);
            if ((flags & summary_max) != 0) out["max"] = count_ > 0 ? max_ : value(nan);
            if ((flags & summary_mean) != 0)
                out["mean"] = count_ > 0 ? sum_ / static_cast<double>(count_) : nan;
        }
        if ((flags & summary_first) != 0) out["first"] = first_;
        if ((flags & summary_last) != 0 || (flags == 0)) out["last"] = last_;
        if (goal != metric_goal::none && count_ > 0) {
            const bool minimize = goal == metric_goal::minimize;
            out["best"] = minimize ? min_ : max_;
            out["best_step"] = minimize ? min_step_ : max_step_;
        }
        return out;
    }

  private:
    bool seen_ = false;
    bool nan_seen_ = false;
    value first_;
    value last_;
    value min_;
    value max_;
    std::int64_t min_step_ = 0;
    std::int64_t max_step_ = 0;
    double sum_ = 0.0;
    std::uint64_t count_ = 0;
    std::optional<value> override_;
};

}  // namespace v0
}  // namespace runlog
