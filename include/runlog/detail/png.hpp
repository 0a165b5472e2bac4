// SPDX-License-Identifier: MIT
#pragma once
// PNG encoding of 8-bit images: gray (1 channel), RGB (3) or RGBA (4), interleaved rows with a
// row stride. Each row gets the filter (none, sub, up, average, Paeth) whose output has the
// smallest sum of absolute values — libpng's heuristic — and the filtered rows are compressed by
// detail/deflate.hpp into one IDAT chunk. Pure: pixels in, file bytes out.

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "checksums.hpp"
#include "deflate.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

/// 8-bit pixels, rows `stride` bytes apart, `channels` interleaved bytes per pixel.
struct png_view {
    const std::uint8_t* pixels = nullptr;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::uint32_t channels = 0;  // 1, 3 or 4
    std::size_t stride = 0;      // bytes from one row to the next
};

namespace png_impl {

inline void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> shift));
}

inline void put_chunk(std::vector<std::uint8_t>& out, const char* type,
                      const std::vector<std::uint8_t>& data) {
    put_u32(out, static_cast<std::uint32_t>(data.size()));
    const std::size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data.begin(), data.end());
    put_u32(out, crc32(out.data() + start, out.size() - start));
}

inline std::uint8_t paeth(int a, int b, int c) noexcept {
    const int p = a + b - c;
    const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    if (pa <= pb && pa <= pc) return static_cast<std::uint8_t>(a);
    return static_cast<std::uint8_t>(pb <= pc ? b : c);
}

/// Writes `row` filtered with `Filter` into `out` (without the filter byte); returns the sum of
/// absolute values of the output read as signed bytes. A template per filter keeps the inner
/// loop free of branches.
template <int Filter>
std::uint64_t filter_row(const std::uint8_t* row, const std::uint8_t* above, std::size_t n,
                         std::size_t bpp, std::uint8_t* out) noexcept {
    std::uint64_t cost = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const int a = i >= bpp ? row[i - bpp] : 0;
        const int b = above ? above[i] : 0;
        int predicted = 0;
        if constexpr (Filter == 1) predicted = a;
        if constexpr (Filter == 2) predicted = b;
        if constexpr (Filter == 3) predicted = (a + b) / 2;
        if constexpr (Filter == 4)
            predicted = paeth(a, b, (i >= bpp && above) ? above[i - bpp] : 0);
        const auto v = static_cast<std::uint8_t>(row[i] - predicted);
        out[i] = v;
        cost += static_cast<std::uint64_t>(std::abs(static_cast<int>(static_cast<std::int8_t>(v))));
    }
    return cost;
}

inline std::uint64_t filter_row(int filter, const std::uint8_t* row, const std::uint8_t* above,
                                std::size_t n, std::size_t bpp, std::uint8_t* out) noexcept {
    switch (filter) {
        case 1:
            return filter_row<1>(row, above, n, bpp, out);
        case 2:
            return filter_row<2>(row, above, n, bpp, out);
        case 3:
            return filter_row<3>(row, above, n, bpp, out);
        case 4:
            return filter_row<4>(row, above, n, bpp, out);
        default:
            return filter_row<0>(row, above, n, bpp, out);
    }
}

}  // namespace png_impl

/// The filtered scanlines of `v`: per row a filter byte, then the filtered bytes.
inline std::vector<std::uint8_t> filter_scanlines(const png_view& v) {
    using namespace png_impl;
    const std::size_t row_bytes = std::size_t{v.width} * v.channels;
    std::vector<std::uint8_t> filtered((row_bytes + 1) * v.height);
    std::vector<std::uint8_t> candidate(row_bytes);
    for (std::uint32_t y = 0; y < v.height; ++y) {
        const std::uint8_t* row = v.pixels + std::size_t{y} * v.stride;
        const std::uint8_t* above = y > 0 ? row - v.stride : nullptr;
        std::uint8_t* dest = filtered.data() + std::size_t{y} * (row_bytes + 1);
        std::uint64_t best = filter_row(0, row, above, row_bytes, v.channels, dest + 1);
        dest[0] = 0;
        for (int f = 1; f <= 4; ++f) {
            const std::uint64_t cost =
                filter_row(f, row, above, row_bytes, v.channels, candidate.data());
            if (cost < best) {
                best = cost;
                dest[0] = static_cast<std::uint8_t>(f);
                std::copy(candidate.begin(), candidate.end(), dest + 1);
            }
        }
    }
    return filtered;
}

/// A PNG file around an already compressed IDAT stream (zlib format) of `v`'s scanlines.
inline std::vector<std::uint8_t> png_file(const png_view& v,
                                          const std::vector<std::uint8_t>& idat) {
    using namespace png_impl;
    std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<std::uint8_t> header;
    put_u32(header, v.width);
    put_u32(header, v.height);
    const std::uint8_t color_type = v.channels == 1 ? 0 : v.channels == 3 ? 2 : 6;
    header.insert(header.end(), {8, color_type, 0, 0, 0});
    put_chunk(out, "IHDR", header);
    put_chunk(out, "IDAT", idat);
    put_chunk(out, "IEND", {});
    return out;
}

/// The PNG file for `v`. The caller guarantees the view is valid (media/image.hpp validates).
inline std::vector<std::uint8_t> encode_png(const png_view& v) {
    const std::vector<std::uint8_t> filtered = filter_scanlines(v);
    return png_file(v, zlib_compress(filtered.data(), filtered.size()));
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
