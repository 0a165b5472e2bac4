// SPDX-License-Identifier: MIT
#pragma once
// What image.hpp declares and needs the PNG encoder or file streams for: included at the end of
// image.hpp (header-only), or compiled once into runlog::compiled (RUNLOG_COMPILED_LIB).

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../detail/png.hpp"
#include "image.hpp"

#if RUNLOG_COMPILED_LIB && !defined(RUNLOG_BUILDING_COMPILED_LIB)
#error "RUNLOG_COMPILED_LIB: runlog::compiled defines these; link it, do not include this"
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

RUNLOG_INLINE media_file image_data::file() const {
    media_file f;
    f.kind = "images";
    f.extension = "." + format_;
    if (file_bytes_.empty()) {
        f.bytes = encode_png(
            {pixels_.data(), width_, height_, channels_, std::size_t{width_} * channels_});
    } else {
        f.bytes = file_bytes_;
    }
    f.description = {
        {"_type", "image-file"}, {"format", format_}, {"width", width_}, {"height", height_}};
    if (!caption_.empty()) f.description["caption"] = caption_;
    return f;
}

inline std::uint32_t read_be32(const std::vector<std::uint8_t>& b, std::size_t at) noexcept {
    return (std::uint32_t{b[at]} << 24u) | (std::uint32_t{b[at + 1]} << 16u) |
           (std::uint32_t{b[at + 2]} << 8u) | std::uint32_t{b[at + 3]};
}

/// Width and height from a JPEG's SOFn marker; false if none is found.
inline bool jpeg_size(const std::vector<std::uint8_t>& b, std::uint32_t& w, std::uint32_t& h) {
    std::size_t i = 2;
    while (i + 9 < b.size()) {
        if (b[i] != 0xFF) return false;
        const std::uint8_t marker = b[i + 1];
        if (marker == 0xFF) {
            ++i;
            continue;
        }
        const std::size_t length = (std::size_t{b[i + 2]} << 8u) | b[i + 3];
        const bool sof =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof) {
            h = (std::uint32_t{b[i + 5]} << 8u) | b[i + 6];
            w = (std::uint32_t{b[i + 7]} << 8u) | b[i + 8];
            return w > 0 && h > 0;
        }
        i += 2 + length;
    }
    return false;
}

}  // namespace detail

RUNLOG_INLINE image image::from_file(const std::string& path, std::string caption) {
    auto d = std::make_shared<detail::image_data>();
    d->caption_ = std::move(caption);
    image out;
    out.source_ = d;
    // Only a regular file of bounded size: /dev/zero or a FIFO would never end.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        d->error_ = "cannot read image file '" + path + "': not a regular file";
        return out;
    }
    if (const auto size = std::filesystem::file_size(path, ec); !ec && size > max_image_bytes) {
        d->error_ = "image file '" + path + "' is larger than 2^28 bytes";
        return out;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        d->error_ = "cannot read image file '" + path + "'";
        return out;
    }
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    static const std::uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::uint32_t w = 0, h = 0;
    if (bytes.size() >= 24 && std::equal(png_signature, png_signature + 8, bytes.begin())) {
        d->format_ = "png";
        w = detail::read_be32(bytes, 16);
        h = detail::read_be32(bytes, 20);
    } else if (bytes.size() >= 4 && bytes[0] == 0xFF && bytes[1] == 0xD8 &&
               detail::jpeg_size(bytes, w, h)) {
        d->format_ = "jpg";
    } else {
        d->error_ = "'" + path + "' is not a PNG or JPEG file";
        return out;
    }
    if (w == 0 || h == 0 || w > max_image_side || h > max_image_side) {
        d->error_ =
            "'" + path + "' has an invalid size " + std::to_string(w) + "x" + std::to_string(h);
        return out;
    }
    d->width_ = w;
    d->height_ = h;
    d->file_bytes_ = std::move(bytes);
    return out;
}

}  // namespace v0
}  // namespace runlog
