// SPDX-License-Identifier: MIT
// Checkpoints as versioned artifacts, offline: a linear model fit by noisy SGD saves
// ckpt/last.ckpt every epoch (overwriting it, as most trainers do) and reports each save to a
// runlog::checkpoint_logger watching val/loss. The store keeps every version's own copy, moves
// "latest" each epoch and "best" when val/loss improves, and keeps only the 3 best plus those two.
// Then a second process — a later evaluation job, say — loads "<name>:best" and checks that the
// model it gets scores what the metadata says.
//
//     ./checkpoints                 then: ls runlog/artifacts/model-*/ ; cat .../aliases.json
//     ./checkpoints --load STORE REF   (what the second process runs)
#include <runlog/runlog.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

struct point {
    double x, y;
};

// y = 3x - 1 plus noise; the validation set comes from its own seed, so the second process
// regenerates exactly the same one.
std::vector<point> make_points(unsigned seed, int n) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> x(-2.0, 2.0);
    std::normal_distribution<double> noise(0.0, 0.5);
    std::vector<point> points;
    for (int i = 0; i < n; ++i) {
        const double xi = x(rng);
        points.push_back({xi, 3.0 * xi - 1.0 + noise(rng)});
    }
    return points;
}

struct linear_model {
    double w = 0.0, b = 0.0;
};

double mean_squared_error(const linear_model& m, const std::vector<point>& points) {
    double sum = 0.0;
    for (const auto& p : points) sum += (m.w * p.x + m.b - p.y) * (m.w * p.x + m.b - p.y);
    return sum / static_cast<double>(points.size());
}

// A "checkpoint": the parameters as text, at full precision.
void save(const linear_model& m, const std::string& path) {
    std::ofstream out(path, std::ios::trunc);
    out.precision(17);
    out << m.w << ' ' << m.b << '\n';
}

bool load(linear_model& m, const std::string& path) {
    std::ifstream in(path);
    return static_cast<bool>(in >> m.w >> m.b);
}

const unsigned validation_seed = 2;

// The second process: resolve the reference, load the file, check its score.
int load_best(const std::string& store, const std::string& ref) {
    const runlog::artifact_version best = runlog::use_artifact(store, ref);
    linear_model m;
    if (!load(m, best.path().string())) {
        std::fprintf(stderr, "cannot read %s\n", best.path().string().c_str());
        return 1;
    }
    const double loss = mean_squared_error(m, make_points(validation_seed, 200));
    const double recorded = best.metadata().find("score")->as_double();
    std::printf("loaded %s = %s (epoch %lld): val/loss %.6f, recorded %.6f\n", ref.c_str(),
                best.ref().c_str(),
                static_cast<long long>(best.metadata().find("values")->find("epoch")->as_int()),
                loss, recorded);
    return std::fabs(loss - recorded) < 1e-12 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "--load") return load_best(argv[2], argv[3]);

    const double base_lr = 0.01, restart_lr = 0.15;
    auto run = runlog::init(runlog::settings{}
                                .with_project("checkpoints-demo")
                                .with_config({{"lr", base_lr},
                                              {"restart_lr", restart_lr},
                                              {"restart_epoch", 6},
                                              {"batch", 4},
                                              {"epochs", 12}}));
    runlog::checkpoint_options options;
    options.monitor = "val/loss";
    options.mode = "min";
    options.keep_top_k = 3;
    runlog::checkpoint_logger checkpoints(run, options);
    run.define_metric("val/loss",
                      runlog::metric_options{}.with_step_metric("epoch").with_summary("min,last"));

    std::vector<point> train = make_points(1, 256);
    std::mt19937 shuffler(3);
    const std::vector<point> validation = make_points(validation_seed, 200);
    linear_model m;
    std::int64_t step = 0;
    for (int epoch = 0; epoch < 12; ++epoch) {
        // A warm restart at epoch 6: the large steps on small batches make val/loss wander, so
        // the best checkpoint is not the last one.
        const double lr = epoch < 6 ? base_lr : restart_lr;
        std::shuffle(train.begin(), train.end(), shuffler);
        for (std::size_t i = 0; i + 4 <= train.size(); i += 4, ++step) {
            double gw = 0.0, gb = 0.0;
            for (std::size_t k = i; k < i + 4; ++k) {
                const double error = m.w * train[k].x + m.b - train[k].y;
                gw += error * train[k].x / 2.0;
                gb += error / 2.0;
            }
            m.w -= lr * gw;
            m.b -= lr * gb;
            run.log(
                {{"train/loss", mean_squared_error(m, {train.begin() + static_cast<long>(i),
                                                       train.begin() + static_cast<long>(i + 4)})}},
                step);
        }
        const double val_loss = mean_squared_error(m, validation);
        run.log({{"val/loss", val_loss}, {"epoch", epoch}}, step);
        save(m, "last.ckpt");
        const runlog::artifact_version v =
            checkpoints.saved("last.ckpt", step, {{"val/loss", val_loss}, {"epoch", epoch}});
        std::printf("epoch %2d  val/loss %.6f  -> %s%s\n", epoch, val_loss, v.ref().c_str(),
                    v.aliases.size() > 1 ? " (best)" : "");
    }
    const std::string store = run.artifact_dir().string();
    const std::string ref = checkpoints.name() + ":best";
    run.finish();
    std::fflush(stdout);

    // A later job: a separate process that knows only the store and the reference.
    const std::string command =
        "\"" + std::string(argv[0]) + "\" --load \"" + store + "\" \"" + ref + "\"";
    return std::system(command.c_str()) == 0 ? 0 : 1;
}
