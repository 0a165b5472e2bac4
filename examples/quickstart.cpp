// SPDX-License-Identifier: MIT
// The demo: logistic regression trained by minibatch SGD on generated data, logged with runlog.
// It writes ./runlog/run-<time>-<id>/ (or under $RUNLOG_DIR): config, per-step training metrics,
// per-epoch validation metrics on an `epoch` axis, a picture of the decision boundary and a
// histogram of predictions each epoch, a table of sample predictions, and a summary with the best
// validation accuracy.
//
//     ./quickstart            then: jq . runlog/latest-run/summary.json
#include <runlog/runlog.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

struct example {
    double x0, x1;
    int label;
};

// Two overlapping Gaussian blobs: separable enough to learn, noisy enough to plateau.
std::vector<example> make_data(std::mt19937& rng, int n) {
    std::normal_distribution<double> noise(0.0, 1.1);
    std::vector<example> data;
    data.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        const int label = i % 2;
        const double cx = label ? 1.0 : -1.0;
        data.push_back({cx + noise(rng), -0.5 * cx + noise(rng), label});
    }
    return data;
}

struct model {
    double w0 = 0.0, w1 = 0.0, b = 0.0;
    double predict(const example& e) const {
        return 1.0 / (1.0 + std::exp(-(w0 * e.x0 + w1 * e.x1 + b)));
    }
};

struct scores {
    double loss = 0.0, accuracy = 0.0;
};

scores evaluate(const model& m, const std::vector<example>& data) {
    scores s;
    for (const auto& e : data) {
        const double p = std::min(std::max(m.predict(e), 1e-12), 1.0 - 1e-12);
        s.loss -= e.label ? std::log(p) : std::log(1.0 - p);
        s.accuracy += ((p >= 0.5) == (e.label == 1)) ? 1.0 : 0.0;
    }
    s.loss /= static_cast<double>(data.size());
    s.accuracy /= static_cast<double>(data.size());
    return s;
}

// The model's probability over [-4, 4]^2 as a 64x64 RGB picture (blue = class 0, red = class 1),
// with the validation points drawn on top.
runlog::image boundary_picture(const model& m, const std::vector<example>& points, int epoch) {
    const std::uint32_t side = 64;
    std::vector<float> rgb(std::size_t{side} * side * 3);
    auto at = [&](std::uint32_t x, std::uint32_t y) {
        return &rgb[(std::size_t{y} * side + x) * 3];
    };
    for (std::uint32_t y = 0; y < side; ++y)
        for (std::uint32_t x = 0; x < side; ++x) {
            const double p = m.predict({x / 8.0 - 4.0, 4.0 - y / 8.0, 0});
            float* px = at(x, y);
            px[0] = static_cast<float>(0.3 + 0.7 * p);
            px[1] = 0.3f;
            px[2] = static_cast<float>(1.0 - 0.7 * p);
        }
    for (std::size_t i = 0; i < points.size(); i += 8) {
        const int x = static_cast<int>((points[i].x0 + 4.0) * 8.0);
        const int y = static_cast<int>((4.0 - points[i].x1) * 8.0);
        if (x < 0 || y < 0 || x >= static_cast<int>(side) || y >= static_cast<int>(side)) continue;
        float* px = at(static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y));
        px[0] = px[1] = px[2] = points[i].label ? 1.0f : 0.0f;
    }
    return runlog::image::from_pixels(rgb.data(), rgb.size(), side, side, 3,
                                      runlog::image_layout::hwc, 0,
                                      "decision boundary after epoch " + std::to_string(epoch));
}

}  // namespace

int main() {
    const int epochs = 8;
    const int batch_size = 32;
    const double base_lr = 0.5;
    const double pi = 3.14159265358979323846;

    auto run = runlog::init(runlog::settings{}
                                .with_project("quickstart")
                                .with_name("logreg-sgd")
                                .with_tags({"demo", "cpu"})
                                // System samples (CPU, memory, ...) every 10 ms, as this demo
                                // lasts a moment; a real job keeps the 15 s default.
                                .with_system_interval(std::chrono::milliseconds(10))
                                .with_config({{"model", "logistic_regression"},
                                              {"optimizer", {{"name", "sgd"}, {"lr", base_lr}}},
                                              {"batch_size", batch_size},
                                              {"epochs", epochs}}));
    // Validation metrics are plotted against epochs; val/acc keeps its best and last value.
    run.define_metric("epoch");
    run.define_metric("val/*", runlog::metric_options{}.with_step_metric("epoch"));
    run.define_metric("val/acc",
                      runlog::metric_options{}.with_summary("max,last").with_goal("maximize"));
    run.define_metric("train/loss", runlog::metric_options{}.with_summary("min,last"));

    std::mt19937 rng(42);
    auto train = make_data(rng, 2048);
    const auto val = make_data(rng, 512);
    run.config.update({{"data", {{"train_size", train.size()}, {"val_size", val.size()}}}});

    model m;
    std::int64_t step = 0;
    for (int epoch = 0; epoch < epochs; ++epoch) {
        std::shuffle(train.begin(), train.end(), rng);
        const double lr = base_lr * 0.5 * (1.0 + std::cos(pi * epoch / epochs));  // cosine decay
        for (std::size_t start = 0; start < train.size(); start += batch_size, ++step) {
            double g0 = 0, g1 = 0, gb = 0, loss = 0;
            int correct = 0;
            const std::size_t end = std::min(train.size(), start + batch_size);
            for (std::size_t i = start; i < end; ++i) {
                const auto& e = train[i];
                const double p = m.predict(e);
                const double err = p - e.label;
                g0 += err * e.x0;
                g1 += err * e.x1;
                gb += err;
                loss -= e.label ? std::log(std::max(p, 1e-12)) : std::log(std::max(1.0 - p, 1e-12));
                correct += ((p >= 0.5) == (e.label == 1)) ? 1 : 0;
            }
            const auto n = static_cast<double>(end - start);
            m.w0 -= lr * g0 / n;
            m.w1 -= lr * g1 / n;
            m.b -= lr * gb / n;
            run.log({{"train/loss", loss / n}, {"train/acc", correct / n}, {"lr", lr}}, step);
        }
        const scores v = evaluate(m, val);
        std::vector<double> probabilities;
        for (const auto& e : val) probabilities.push_back(m.predict(e));
        run.log({{"val/loss", v.loss},
                 {"val/acc", v.accuracy},
                 {"epoch", epoch},
                 {"val/boundary", boundary_picture(m, val, epoch)},
                 {"val/p_hist", runlog::histogram(probabilities, 20)}},
                step);
        std::printf("epoch %d  val/loss %.4f  val/acc %.4f\n", epoch, v.loss, v.accuracy);
    }
    runlog::table samples({"x0", "x1", "label", "p(label=1)", "correct"});
    for (std::size_t i = 0; i < 10; ++i) {
        const double p = m.predict(val[i]);
        samples.add_row({val[i].x0, val[i].x1, val[i].label, p, (p >= 0.5) == (val[i].label == 1)});
    }
    run.log_table("val/samples", samples, step);
    run.summary_set("weights", {{"w0", m.w0}, {"w1", m.w1}, {"b", m.b}});
    return run.finish() == runlog::status::ok ? 0 : 1;
}
