// SPDX-License-Identifier: MIT
#pragma once
// runlog::histogram — W&B's histogram value ({"_type": "histogram", "values": counts, "bins":
// edges}), binned like numpy.histogram: num_bins equal-width bins over [min, max] (default 64,
// at most 512); when min == max the range is [v - 0.5, v + 0.5]; every bin is half-open except
// the last, which includes max. Non-finite samples are excluded and counted (excluded()).
//
//     run.log({{"weights", runlog::histogram(w.data(), w.size())}});
//     auto h = runlog::histogram::from_counts({3, 5}, {0.0, 0.5, 1.0});
//
// A histogram built from samples also keeps their true statistics (count, min, max, sum, sum of
// squares of the finite samples), stored as "stats" beside W&B's fields: TensorBoard's
// HistogramProto shows them, and the W&B export leaves them out (W&B's shape has no such field).
//
// A histogram is an ordinary value (no file); an invalid one (bad bins, counts/edges mismatch)
// has ok() false and error() says why, and logging it reports that and drops the field.

#include <cmath>
#include <cstdint>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../value.hpp"

namespace runlog {
inline namespace v0 {

class histogram {
  public:
    static constexpr int default_bins = 64;
    static constexpr int max_bins = 512;

    histogram() = default;

    template <class T>
    histogram(const T* samples, std::size_t count, int num_bins = default_bins) {
        if (num_bins < 1 || num_bins > max_bins) {
            error_ =
                "histogram num_bins " + std::to_string(num_bins) + " is out of range (1 to 512)";
            return;
        }
        double lo = 0.0, hi = 0.0;
        bool any = false;
        for (std::size_t i = 0; i < count; ++i) {
            const double x = static_cast<double>(samples[i]);
            if (!std::isfinite(x)) continue;
            lo = any ? std::min(lo, x) : x;
            hi = any ? std::max(hi, x) : x;
            any = true;
            stats_.sum += x;
            stats_.sum_squares += x * x;
            ++stats_.num;
        }
        stats_.min = lo;
        stats_.max = hi;
        if (!any) {
            lo = 0.0;
            hi = 1.0;  // numpy's range for no data
        } else if (lo == hi) {
            lo -= 0.5;
            hi += 0.5;
        }
        const auto bins = static_cast<std::size_t>(num_bins);
        edges_.resize(bins + 1);
        const double step = (hi - lo) / static_cast<double>(bins);
        for (std::size_t i = 0; i < bins; ++i) edges_[i] = lo + static_cast<double>(i) * step;
        edges_[bins] = hi;
        // A range wider than a double holds (-1e308 to 1e308) or too narrow for distinct edges
        // (0 to 1e-320): numpy refuses both ("Too many bins for data range").
        const double norm = static_cast<double>(bins) / (hi - lo);
        bool distinct = std::isfinite(hi - lo) && std::isfinite(norm);
        for (std::size_t i = 0; i < bins; ++i) distinct = distinct && edges_[i] < edges_[i + 1];
        if (!distinct) {
            error_ = "histogram range [" + value(lo).dump() + ", " + value(hi).dump() +
                     "] cannot be cut into " + std::to_string(bins) +
                     " finite bins with distinct edges; use fewer bins or from_counts";
            edges_.clear();
            return;
        }
        counts_.assign(bins, 0);
        for (std::size_t i = 0; i < count; ++i) {
            const double x = static_cast<double>(samples[i]);
            if (!std::isfinite(x)) {
                ++excluded_;
                continue;
            }
            // numpy: compute the bin, then correct it against the edges for rounding.
            auto k = static_cast<std::size_t>((x - lo) * norm);
            if (k >= bins) k = bins - 1;
            if (x < edges_[k] && k > 0)
                --k;
            else if (k + 1 < bins && x >= edges_[k + 1])
                ++k;
            ++counts_[k];
        }
    }

    /// Any contiguous container (std::vector, std::array, std::span...); C arrays go through the
    /// pointer-and-count constructor, so histogram(array, n) always means n samples.
    template <class Container, class = decltype(std::data(std::declval<const Container&>())),
              std::enable_if_t<!std::is_array_v<Container>, int> = 0>
    explicit histogram(const Container& samples, int num_bins = default_bins)
        : histogram(std::data(samples), std::size(samples), num_bins) {}

    /// Precomputed counts (n) and strictly increasing edges (n + 1).
    static histogram from_counts(std::vector<std::int64_t> counts, std::vector<double> edges) {
        histogram h;
        if (counts.empty() || counts.size() > max_bins || edges.size() != counts.size() + 1) {
            h.error_ = "histogram needs n counts (1 to 512) and n + 1 edges, got " +
                       std::to_string(counts.size()) + " counts and " +
                       std::to_string(edges.size()) + " edges";
            return h;
        }
        for (std::size_t i = 0; i + 1 < edges.size(); ++i) {
            if (!(edges[i] < edges[i + 1]) || !std::isfinite(edges[i]) ||
                !std::isfinite(edges[i + 1])) {
                h.error_ = "histogram edges must be finite and strictly increasing (edge " +
                           std::to_string(i + 1) + " is not)";
                return h;
            }
        }
        for (auto c : counts) {
            if (c < 0) {
                h.error_ = "histogram counts must not be negative";
                return h;
            }
        }
        h.counts_ = std::move(counts);
        h.edges_ = std::move(edges);
        return h;
    }

    bool ok() const noexcept { return error_.empty() && !counts_.empty(); }
    const std::string& error() const noexcept { return error_; }
    const std::vector<std::int64_t>& counts() const noexcept { return counts_; }
    const std::vector<double>& edges() const noexcept { return edges_; }
    std::uint64_t excluded() const noexcept { return excluded_; }

    /// Statistics of the finite samples; num is 0 for a histogram made from counts.
    struct sample_stats {
        std::uint64_t num = 0;
        double min = 0.0, max = 0.0, sum = 0.0, sum_squares = 0.0;
    };
    const sample_stats& stats() const noexcept { return stats_; }

    /// W&B's shape; an invalid histogram gives {"_type": "histogram", "error": ...}.
    value to_value() const {
        value out = {{"_type", "histogram"}};
        if (!ok()) {
            out["error"] = error_.empty() ? "empty histogram" : error_;
            return out;
        }
        value counts = value::array(), edges = value::array();
        for (auto c : counts_) counts.push_back(c);
        for (auto e : edges_) edges.push_back(e);
        out["values"] = std::move(counts);
        out["bins"] = std::move(edges);
        if (stats_.num > 0) {
            out["stats"] = {{"num", stats_.num},
                            {"min", stats_.min},
                            {"max", stats_.max},
                            {"sum", stats_.sum},
                            {"sum_squares", stats_.sum_squares}};
        }
        return out;
    }

  private:
    std::vector<std::int64_t> counts_;
    std::vector<double> edges_;
    std::uint64_t excluded_ = 0;
    sample_stats stats_;
    std::string error_;
};

/// ADL conversion: a histogram is logged as its value.
inline value to_value(const histogram& h) {
    return h.to_value();
}

}  // namespace v0
}  // namespace runlog
