// SPDX-License-Identifier: MIT
// runlog's PNG compression against system zlib at level 6, on the same filtered scanlines.
// zlib is a bench-only dependency (Debian zlib1g-dev); runlog itself never links it.
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DRUNLOG_BUILD_TESTS=OFF
//   cmake --build build-bench --target bench_png_vs_zlib && build-bench/bench/bench_png_vs_zlib
//
// Images are generated (deterministic seeds), so anyone gets the same inputs: "photo-like" is
// fractal value noise with lighting and sensor noise; the others are a line plot, a gradient,
// MNIST-like digit tiles, a segmentation mask and pure noise. Time is the median of 9 runs of
// the compression step alone (filtering is shared and reported separately).
#include <zlib.h>
#include <runlog/detail/png.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

struct test_image {
    std::string name;
    std::uint32_t width, height, channels;
    std::vector<std::uint8_t> pixels;
};

std::uint8_t clamp8(double v) {
    return static_cast<std::uint8_t>(std::min(255.0, std::max(0.0, std::round(v))));
}

double value_noise(double x, double y, std::uint32_t seed) {
    auto lattice = [&](int ix, int iy) {
        std::uint32_t h = static_cast<std::uint32_t>(ix) * 374761393u +
                          static_cast<std::uint32_t>(iy) * 668265263u + seed * 2246822519u;
        h = (h ^ (h >> 13u)) * 1274126177u;
        return static_cast<double>(h & 0xFFFFu) / 65535.0;
    };
    const int ix = static_cast<int>(std::floor(x)), iy = static_cast<int>(std::floor(y));
    const double fx = x - ix, fy = y - iy;
    const double sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
    const double a = lattice(ix, iy) + sx * (lattice(ix + 1, iy) - lattice(ix, iy));
    const double b = lattice(ix, iy + 1) + sx * (lattice(ix + 1, iy + 1) - lattice(ix, iy + 1));
    return a + sy * (b - a);
}

test_image photo_like(std::mt19937& rng) {
    test_image img{"photo-like 512x512 RGB", 512, 512, 3, {}};
    std::normal_distribution<double> sensor(0.0, 3.0);
    for (std::uint32_t y = 0; y < img.height; ++y)
        for (std::uint32_t x = 0; x < img.width; ++x) {
            double n = 0, amp = 1, freq = 1.0 / 64;
            for (int o = 0; o < 5; ++o, amp *= 0.5, freq *= 2)
                n += amp * value_noise(x * freq, y * freq, 7u + static_cast<std::uint32_t>(o));
            const double light = 0.6 + 0.4 * static_cast<double>(y) / img.height;
            img.pixels.push_back(clamp8(light * (90 + 110 * n) + sensor(rng)));
            img.pixels.push_back(clamp8(light * (70 + 100 * n * n) + sensor(rng)));
            img.pixels.push_back(clamp8(light * (60 + 60 * (1 - n)) + sensor(rng)));
        }
    return img;
}

test_image line_plot() {
    test_image img{"line plot 640x480 RGB", 640, 480, 3,
                   std::vector<std::uint8_t>(640 * 480 * 3, 255)};
    auto put = [&](int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        if (x < 0 || y < 0 || x >= 640 || y >= 480) return;
        auto* p =
            &img.pixels[(static_cast<std::size_t>(y) * 640 + static_cast<std::size_t>(x)) * 3];
        p[0] = r, p[1] = g, p[2] = b;
    };
    for (int x = 60; x < 620; x += 56)
        for (int y = 20; y < 440; ++y) put(x, y, 230, 230, 230);
    for (int y = 20; y < 440; y += 42)
        for (int x = 60; x < 620; ++x) put(x, y, 230, 230, 230);
    for (int x = 60; x < 620; ++x) put(x, 440, 0, 0, 0);
    for (int y = 20; y < 440; ++y) put(60, y, 0, 0, 0);
    const std::uint8_t colors[3][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}};
    for (int c = 0; c < 3; ++c)
        for (int x = 60; x < 620; ++x) {
            const double t = (x - 60) / 560.0;
            const int y =
                static_cast<int>(230 - 180 * std::exp(-3 * t * (c + 1)) * std::cos(12 * t + c));
            for (int dy = -1; dy <= 1; ++dy)
                put(x, y + dy, colors[c][0], colors[c][1], colors[c][2]);
        }
    return img;
}

test_image gradient(std::mt19937& rng) {
    test_image img{"gradient+noise 512x512 gray", 512, 512, 1, {}};
    std::normal_distribution<double> noise(0.0, 2.0);
    for (std::uint32_t y = 0; y < 512; ++y)
        for (std::uint32_t x = 0; x < 512; ++x)
            img.pixels.push_back(clamp8(x * 0.4 + y * 0.08 + noise(rng)));
    return img;
}

test_image digits(std::mt19937& rng) {
    test_image img{"digit tiles 280x280 gray", 280, 280, 1,
                   std::vector<std::uint8_t>(280 * 280, 0)};
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int tile = 0; tile < 100; ++tile) {
        const int ox = (tile % 10) * 28, oy = (tile / 10) * 28;
        double x = 8 + 12 * u(rng), y = 6 + 4 * u(rng), angle = u(rng) * 6.28;
        for (int step = 0; step < 60; ++step) {
            angle += (u(rng) - 0.5) * 0.8;
            x = std::min(22.0, std::max(5.0, x + std::cos(angle) * 0.6));
            y = std::min(22.0, std::max(5.0, y + std::sin(angle) * 0.6 + 0.15));
            for (int dy = -2; dy <= 2; ++dy)
                for (int dx = -2; dx <= 2; ++dx) {
                    const double d = std::sqrt(dx * dx + dy * dy);
                    auto& p =
                        img.pixels[static_cast<std::size_t>(oy + static_cast<int>(y) + dy) * 280 +
                                   static_cast<std::size_t>(ox + static_cast<int>(x) + dx)];
                    p = std::max(p, clamp8(255 * std::max(0.0, 1 - d / 2.5)));
                }
        }
    }
    return img;
}

test_image mask(std::mt19937& rng) {
    test_image img{"segmentation mask 512x512 RGB", 512, 512, 3, {}};
    std::uniform_int_distribution<int> coord(0, 511), color(0, 255);
    std::vector<std::array<int, 5>> seeds(24);
    for (auto& s : seeds) s = {coord(rng), coord(rng), color(rng), color(rng), color(rng)};
    for (int y = 0; y < 512; ++y)
        for (int x = 0; x < 512; ++x) {
            const auto& s =
                *std::min_element(seeds.begin(), seeds.end(), [&](const auto& a, const auto& b) {
                    return (a[0] - x) * (a[0] - x) + (a[1] - y) * (a[1] - y) <
                           (b[0] - x) * (b[0] - x) + (b[1] - y) * (b[1] - y);
                });
            img.pixels.insert(img.pixels.end(),
                              {static_cast<std::uint8_t>(s[2]), static_cast<std::uint8_t>(s[3]),
                               static_cast<std::uint8_t>(s[4])});
        }
    return img;
}

test_image noise(std::mt19937& rng) {
    test_image img{"uniform noise 256x256 RGB", 256, 256, 3,
                   std::vector<std::uint8_t>(256 * 256 * 3)};
    for (auto& p : img.pixels) p = static_cast<std::uint8_t>(rng());
    return img;
}

template <class F>
double median_ms(F&& f) {
    std::vector<double> times;
    for (int i = 0; i < 9; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        times.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
    }
    std::sort(times.begin(), times.end());
    return times[4];
}

}  // namespace

int main() {
    std::mt19937 rng(2026);
    std::vector<test_image> images;
    images.push_back(photo_like(rng));
    images.push_back(line_plot());
    images.push_back(gradient(rng));
    images.push_back(digits(rng));
    images.push_back(mask(rng));
    images.push_back(noise(rng));
    std::printf("%-30s %10s %10s %7s %9s %9s %7s %9s\n", "image", "runlog B", "zlib-6 B", "size x",
                "runlog ms", "zlib ms", "speed x", "filter ms");
    for (const auto& img : images) {
        const runlog::detail::png_view view{img.pixels.data(), img.width, img.height, img.channels,
                                            std::size_t{img.width} * img.channels};
        std::vector<std::uint8_t> filtered;
        const double filter_ms =
            median_ms([&] { filtered = runlog::detail::filter_scanlines(view); });
        std::vector<std::uint8_t> ours;
        const double ours_ms = median_ms(
            [&] { ours = runlog::detail::zlib_compress(filtered.data(), filtered.size()); });
        std::vector<std::uint8_t> theirs(compressBound(static_cast<uLong>(filtered.size())));
        uLongf theirs_size = 0;
        const double zlib_ms = median_ms([&] {
            theirs_size = static_cast<uLongf>(theirs.size());
            compress2(theirs.data(), &theirs_size, filtered.data(),
                      static_cast<uLong>(filtered.size()), 6);
        });
        // sanity: ours inflates back to the scanlines
        std::vector<std::uint8_t> back(filtered.size());
        uLongf back_size = static_cast<uLongf>(back.size());
        if (uncompress(back.data(), &back_size, ours.data(), static_cast<uLong>(ours.size())) !=
                Z_OK ||
            back != filtered) {
            std::printf("%s: runlog's stream does not inflate back\n", img.name.c_str());
            return 1;
        }
        std::printf("%-30s %10zu %10lu %7.3f %9.2f %9.2f %7.2f %9.2f\n", img.name.c_str(),
                    ours.size(), static_cast<unsigned long>(theirs_size),
                    static_cast<double>(ours.size()) / static_cast<double>(theirs_size), ours_ms,
                    zlib_ms, zlib_ms / ours_ms, filter_ms);
    }
}
