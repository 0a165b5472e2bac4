// SPDX-License-Identifier: MIT
// Prints histograms of assorted samples as JSON lines, for tests/histogram_vs_numpy.py to
// compare with numpy.histogram (an independent implementation of the same rules).
#include <runlog/runlog.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

int main() {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal(0.0, 3.0);
    std::uniform_int_distribution<int> small(-5, 5);
    std::vector<std::pair<std::vector<double>, int>> cases;
    for (int bins : {1, 2, 7, 64, 512}) {
        std::vector<double> a(1000);
        for (auto& x : a) x = normal(rng);
        cases.push_back({a, bins});
        std::vector<double> b(500);
        for (auto& x : b) x = small(rng);  // many values exactly on edges
        cases.push_back({b, bins});
    }
    cases.push_back({{0.1, 0.2, 0.30000000000000004, 0.7, 1e-300, 1e300}, 10});
    cases.push_back({{3.0}, 5});
    cases.push_back({{-2.5, -2.5}, 3});
    for (const auto& [samples, bins] : cases) {
        const runlog::histogram h(samples, bins);
        runlog::value line = {{"bins", bins}, {"samples", runlog::value::array()}};
        for (double x : samples) line["samples"].push_back(x);
        line["histogram"] = runlog::to_value(h);
        std::puts(line.dump().c_str());
    }
}
