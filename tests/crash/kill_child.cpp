// SPDX-License-Identifier: MIT
// The process the kill harness (kill_harness.cpp) kills: a training loop logging to every sink
// (native files, W&B offline, TensorBoard) as fast as it can, with histograms, images, config
// updates, summaries and system samples along the way, until it is killed.
//
//     runlog_kill_child ROOT PROGRESS_FILE FLUSH_MS PAUSE_US [FLUSH_EVERY]
//
// PAUSE_US is the sleep between steps: short, and the 64 KiB write threshold commits rows before
// the flush interval does; long, and the flush interval is what bounds the loss.
//
// Before each log() it writes the step's CLOCK_MONOTONIC time into PROGRESS_FILE (a shared
// mapping: what it wrote survives the kill), so the harness knows when every step was logged.
// With FLUSH_EVERY > 0 it calls run.flush() after every FLUSH_EVERY-th step's log(), while that
// row is still open (rows have explicit steps), and then writes the step into the mapping's last
// slot: everything up to it must survive the kill.
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <runlog/runlog.hpp>

namespace {

constexpr std::size_t max_steps = 1 << 22;  // far more than a few seconds of logging

double monotonic_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5 && argc != 6) {
        std::fprintf(stderr, "usage: %s ROOT PROGRESS_FILE FLUSH_MS PAUSE_US [FLUSH_EVERY]\n",
                     argv[0]);
        return 2;
    }
    const std::int64_t flush_every = argc == 6 ? std::atoll(argv[5]) : 0;
    const int fd = ::open(argv[2], O_RDWR);
    if (fd < 0 || ::ftruncate(fd, max_steps * sizeof(double)) != 0) return 2;
    void* mapped =
        ::mmap(nullptr, max_steps * sizeof(double), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED) return 2;
    auto* logged_at = static_cast<double*>(mapped);

    runlog::settings s;
    s.dir = argv[1];
    s.project = "kill-harness";
    s.id = "killed";
    s.quiet = true;
    s.wandb_offline = true;
    s.tensorboard = true;
    s.capture_git = false;
    s.system_interval = std::chrono::milliseconds(50);
    s.flush_interval = std::chrono::milliseconds(std::atoi(argv[3]));
    s.config = {{"lr", 0.01}, {"model", {{"layers", 4}, {"width", 256}}}};
    auto run = runlog::init(s);
    run.define_metric("val/*", runlog::metric_options{}.with_step_metric("epoch"));
    run.define_metric("loss", runlog::metric_options{}.with_summary("min,last"));

    const std::chrono::microseconds pause(std::atoi(argv[4]));
    std::vector<double> samples(256);
    std::vector<float> pixels(16 * 16 * 3);
    for (std::int64_t step = 0; step < static_cast<std::int64_t>(max_steps) - 1; ++step) {
        const double x = static_cast<double>(step);
        // Extra fields go in with commit=false; the row is committed by the log() with its step.
        if (step % 100 == 0) {
            for (std::size_t i = 0; i < samples.size(); ++i)
                samples[i] = std::sin(x + static_cast<double>(i));
            run.log({{"weights", runlog::histogram(samples, 32)}}, step, false);
        }
        if (step % 1000 == 0) {
            for (std::size_t i = 0; i < pixels.size(); ++i)
                pixels[i] = static_cast<float>((static_cast<std::size_t>(step) + i) % 256) / 255.0f;
            run.log(
                {{"sample", runlog::image::from_pixels(pixels.data(), pixels.size(), 16, 16, 3)},
                 {"val/loss", 2.0 / (1.0 + x)},
                 {"epoch", step / 1000}},
                step, false);
            run.config.update({{"last_image_step", step}});
            run.summary_set("best_image_step", step);
        }
        logged_at[step] = monotonic_seconds();
        run.log({{"loss", 1.0 / (1.0 + x)}, {"acc", x / (x + 100.0)}, {"lr", 0.01}}, step);
        if (flush_every > 0 && step % flush_every == flush_every - 1 &&
            run.flush() == runlog::status::ok)
            logged_at[max_steps - 1] = static_cast<double>(step) + 1.0;  // 0 means none
        std::this_thread::sleep_for(pause);
    }
    return 0;
}
