// SPDX-License-Identifier: MIT
#pragma once
// TFRecord framing, the container of TensorBoard event files (tensorboard-format.md §2):
// uint64 little-endian length, masked CRC-32C of those 8 bytes, the payload, masked CRC-32C of
// the payload. No file header or trailer. Pure: appends one framed record to a byte buffer
// (std::string or std::vector).

#include <cstdint>
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

}  // namespace detail
}  // namespace v0
}  // namespace runlog
