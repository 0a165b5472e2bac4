// SPDX-License-Identifier: MIT
#pragma once
// runlog::image — a picture to log, from a pixel buffer or an existing PNG/JPEG file.
//
//     auto img = runlog::image::from_pixels(rgb.data(), rgb.size(), 28, 28, 3);   // HWC uint8
//     auto img = runlog::image::from_pixels(t.data(), t.numel(), h, w, 1,
//     runlog::image_layout::chw,
//                                           0, "prediction: 7");                   // CHW float
//     run.log({{"examples", img}});
//
// Pixels: uint8_t, uint16_t (scaled to 8 bits, rounding), float or double (values in [0, 1]
// scaled by 255 and rounded; values outside are clamped; NaN becomes 0). 1, 3 or 4 channels
// (gray, RGB, RGBA); HWC (interleaved) or CHW (planar) layout; an optional row stride in elements
// (0: rows are packed). Pixels are converted to 8-bit HWC when the image is built, on the
// caller's thread; PNG encoding happens later on the writer thread.
//
// Limits: width and height 1 to 32768, and width × height × channels at most 2^28 bytes.
// A bad image does not throw: ok() is false and error() says why; logging it reports that error
// and drops the field.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "media.hpp"

namespace runlog {
inline namespace v0 {

enum class image_layout { hwc, chw };

constexpr std::uint32_t max_image_side = 32768;
constexpr std::uint64_t max_image_bytes = std::uint64_t{1} << 28;

namespace detail {

class image_data final : public media_source {
  public:
    std::string error_;
    std::string caption_;
    std::string format_ = "png";  // "png", or the file's format for from_file
    std::uint32_t width_ = 0, height_ = 0, channels_ = 0;
    std::vector<std::uint8_t> pixels_;      // 8-bit HWC, packed (from_pixels)
    std::vector<std::uint8_t> file_bytes_;  // the file as read (from_file)

    const std::string& error() const noexcept override { return error_; }
    std::size_t size_bytes() const noexcept override {
        return pixels_.size() + file_bytes_.size() + caption_.size();
    }

    media_file file() const;  // PNG-encodes pixels (image-inl.hpp)

    value encode(std::string_view, std::int64_t,
                 const std::function<value(media_file&&)>& write) const override {
        return write(file());
    }
    const char* value_type() const noexcept override { return "image-file"; }
};

template <class T>
std::uint8_t to_8bit(T v) noexcept {
    if constexpr (std::is_same_v<T, std::uint8_t>) {
        return v;
    } else if constexpr (std::is_same_v<T, std::uint16_t>) {
        return static_cast<std::uint8_t>((static_cast<std::uint32_t>(v) + 128u) / 257u);
    } else {
        const double d = static_cast<double>(v);
        if (!(d > 0.0)) return 0;  // negative, zero and NaN
        if (d >= 1.0) return 255;
        return static_cast<std::uint8_t>(std::lround(d * 255.0));
    }
}

}  // namespace detail

class image : public media {
  public:
    /// An empty image (ok() is false).
    image() = default;

    template <class T>
    static image from_pixels(const T* data, std::size_t count, std::uint32_t height,
                             std::uint32_t width, std::uint32_t channels,
                             image_layout layout = image_layout::hwc, std::size_t row_stride = 0,
                             std::string caption = {}) {
        static_assert(std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::uint16_t> ||
                          std::is_same_v<T, float> || std::is_same_v<T, double>,
                      "image pixels are uint8_t, uint16_t, float or double");
        auto d = std::make_shared<detail::image_data>();
        d->caption_ = std::move(caption);
        image out;
        out.source_ = d;
        const std::string shape =
            std::to_string(height) + "x" + std::to_string(width) + "x" + std::to_string(channels);
        if (channels != 1 && channels != 3 && channels != 4) {
            d->error_ = "image has " + std::to_string(channels) +
                        " channels; use 1 (gray), 3 (RGB) or 4 (RGBA)";
            return out;
        }
        if (width == 0 || height == 0 || width > max_image_side || height > max_image_side ||
            std::uint64_t{width} * height * channels > max_image_bytes) {
            d->error_ = "image size " + shape + " is out of range (sides 1 to " +
                        std::to_string(max_image_side) + ", at most 2^28 bytes)";
            return out;
        }
        const std::size_t row_elems =
            layout == image_layout::hwc ? std::size_t{width} * channels : std::size_t{width};
        const std::size_t stride = row_stride == 0 ? row_elems : row_stride;
        if (stride > max_image_bytes) {  // the buffer's size, computed below, stays exact
            d->error_ = "row stride " + std::to_string(stride) + " is out of range (at most 2^28)";
            return out;
        }
        if (stride < row_elems) {
            d->error_ = "row stride " + std::to_string(stride) + " is shorter than a row (" +
                        std::to_string(row_elems) + " values)";
            return out;
        }
        const std::size_t planes = layout == image_layout::hwc ? 1 : channels;
        const std::size_t needed =
            (planes - 1) * height * stride + (height - 1) * stride + row_elems;
        if (data == nullptr || count < needed) {
            d->error_ = "pixel buffer holds " + std::to_string(data ? count : 0) + " values; a " +
                        shape + (layout == image_layout::hwc ? " HWC" : " CHW") +
                        " image with row stride " + std::to_string(stride) + " needs " +
                        std::to_string(needed);
            return out;
        }
        d->width_ = width;
        d->height_ = height;
        d->channels_ = channels;
        d->pixels_.resize(std::size_t{width} * height * channels);
        std::uint8_t* dest = d->pixels_.data();
        for (std::size_t y = 0; y < height; ++y)
            for (std::size_t x = 0; x < width; ++x)
                for (std::size_t c = 0; c < channels; ++c) {
                    const std::size_t at = layout == image_layout::hwc
                                               ? y * stride + x * channels + c
                                               : c * height * stride + y * stride + x;
                    *dest++ = detail::to_8bit(data[at]);
                }
        return out;
    }

    /// An existing PNG or JPEG file, copied as is; its width and height come from its header.
    static image from_file(const std::string& path, std::string caption = {});

    std::uint32_t width() const noexcept { return data() ? data()->width_ : 0; }
    std::uint32_t height() const noexcept { return data() ? data()->height_ : 0; }
    std::uint32_t channels() const noexcept { return data() ? data()->channels_ : 0; }
    std::string caption() const { return data() ? data()->caption_ : std::string(); }
    /// The 8-bit HWC pixels (empty for an image made from a file).
    const std::vector<std::uint8_t>& pixels() const noexcept {
        static const std::vector<std::uint8_t> none;
        return data() ? data()->pixels_ : none;
    }
    /// The bytes of the file that logging it writes (PNG-encodes a pixel image).
    std::vector<std::uint8_t> encoded() const {
        return ok() ? data()->file().bytes : std::vector<std::uint8_t>();
    }

  private:
    // Safe without RTTI: an image's source is always an image_data.
    const detail::image_data* data() const noexcept {
        return static_cast<const detail::image_data*>(source_.get());
    }
};

namespace detail {

class image_list_data final : public media_source {
  public:
    std::vector<image> images_;
    std::vector<std::string> captions_;
    std::string error_;

    const std::string& error() const noexcept override { return error_; }
    std::size_t size_bytes() const noexcept override {
        std::size_t n = 0;
        for (const auto& img : images_) n += img.source() ? img.source()->size_bytes() : 0;
        return n;
    }

    const char* value_type() const noexcept override { return "images/separated"; }
    value encode(std::string_view, std::int64_t,
                 const std::function<value(media_file&&)>& write) const override {
        value paths = value::array();
        for (const auto& img : images_) {
            const value written = write(static_cast<const image_data&>(*img.source()).file());
            paths.push_back(*written.find("path"));
        }
        const auto& first = images_.front();
        value out = {{"_type", "images/separated"},
                     {"width", first.width()},
                     {"height", first.height()},
                     {"format", static_cast<const image_data&>(*first.source()).format_},
                     {"count", images_.size()},
                     {"filenames", paths}};
        bool any_caption = false;
        for (const auto& c : captions_) any_caption = any_caption || !c.empty();
        if (any_caption) {
            value captions = value::array();
            for (const auto& c : captions_) captions.push_back(c);
            out["captions"] = std::move(captions);
        }
        return out;
    }
};

}  // namespace detail

/// Several images under one key (W&B's "images/separated"): one file each, with captions. The
/// value's width, height and format are the first image's.
class image_list : public media {
  public:
    static constexpr std::size_t max_images = 108;  // W&B's limit per key

    /// `captions`, when given, must have one entry per image and replaces the images' own.
    explicit image_list(std::vector<image> images, std::vector<std::string> captions = {}) {
        auto d = std::make_shared<detail::image_list_data>();
        if (images.empty() || images.size() > max_images) {
            d->error_ = "an image list holds 1 to 108 images, got " + std::to_string(images.size());
        } else if (!captions.empty() && captions.size() != images.size()) {
            d->error_ = std::to_string(images.size()) + " images but " +
                        std::to_string(captions.size()) + " captions";
        }
        for (std::size_t i = 0; i < images.size() && d->error_.empty(); ++i)
            if (!images[i].ok())
                d->error_ = "image " + std::to_string(i) + ": " + images[i].error();
        if (captions.empty())
            for (const auto& img : images) captions.push_back(img.caption());
        d->images_ = std::move(images);
        d->captions_ = std::move(captions);
        source_ = std::move(d);
    }
};

}  // namespace v0
}  // namespace runlog

#if !RUNLOG_COMPILED_LIB
#include "image-inl.hpp"
#endif
