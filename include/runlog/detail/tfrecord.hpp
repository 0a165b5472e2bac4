// SPDX-License-Identifier: MIT
#pragma once
// TFRecord framing, the container of TensorBoard event files (tensorboard-format.md §2):
// uint64 little-endian length, masked CRC-32C of those 8 bytes, the payload, masked CRC-32C of
// the payload. No file header or trailer. Pure: appends one framed record to a byte buffer
// (std::string or std::vector), and walks the records of a file's bytes.

#include <cstdint>
#include <string_view>
#include <vector>

#include "checksums.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

/// TFRecord's CRC mask: rotate right by 15, add 0xA282EAD8.
inline std::uint32_t masked_crc32c(const void* data, std::size_t n) noexcept {
    const std::uint32_t c = crc32c(data, n);
    return ((c >> 15u) | (c << 17u)) + 0xA282EAD8u;
}

template <class Buffer>
void append_tfrecord(const std::uint8_t* payload, std::size_t n, Buffer& out) {
    std::uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(std::uint64_t{n} >> (8 * i));
    auto put32 = [&](std::uint32_t v) {
        for (int i = 0; i < 4; ++i)
            out.push_back(static_cast<typename Buffer::value_type>(v >> (8 * i)));
    };
    out.insert(out.end(), length, length + 8);
    put32(masked_crc32c(length, 8));
    out.insert(out.end(), payload, payload + n);
    put32(masked_crc32c(payload, n));
}

/// Calls `record(payload, end)` for each whole, intact record at the start of `file`, in order
/// (`end`: the offset after it), while it returns true, and returns the bytes of the records it
/// took: a record cut short (a killed writer) or damaged ends the walk, where TensorBoard's
/// readers stop too.
template <class F>
std::size_t read_tfrecords(std::string_view file, F&& record) {
    auto get = [](const std::uint8_t* p, int width) {
        std::uint64_t v = 0;
        for (int i = 0; i < width; ++i) v |= std::uint64_t{p[i]} << (8 * i);
        return v;
    };
    std::size_t pos = 0;
    while (file.size() - pos >= 16) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(file.data() + pos);
        const std::uint64_t n = get(p, 8);
        if (get(p + 8, 4) != masked_crc32c(p, 8) || n > file.size() - pos - 16) break;
        const auto length = static_cast<std::size_t>(n);
        if (get(p + 12 + length, 4) != masked_crc32c(p + 12, length)) break;
        if (!record(file.substr(pos + 12, length), pos + 16 + length)) break;
        pos += 16 + length;
    }
    return pos;
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
