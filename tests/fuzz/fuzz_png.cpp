// SPDX-License-Identifier: MIT
// Fuzz target: the encoders behind runlog's images. Any bytes compressed by runlog's DEFLATE
// (detail/deflate.hpp) inflate with zlib to the same bytes; any 8-bit image (size and channels
// from the first bytes, pixels from the rest) encoded by runlog's PNG writer (detail/png.hpp)
// decodes with libpng to the same pixels.
#include <png.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <runlog/detail/png.hpp>

namespace {

void check_deflate(const std::uint8_t* data, std::size_t size) {
    const std::vector<std::uint8_t> packed = runlog::detail::zlib_compress(data, size);
    std::vector<std::uint8_t> unpacked(size + 1);
    uLongf length = static_cast<uLongf>(unpacked.size());
    if (uncompress(unpacked.data(), &length, packed.data(), static_cast<uLong>(packed.size())) !=
            Z_OK ||
        length != size || (size > 0 && std::memcmp(unpacked.data(), data, size) != 0))
        std::abort();
}

void check_png(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return;
    static const std::uint32_t channel_choices[] = {1, 3, 4};
    runlog::detail::png_view v;
    v.width = 1u + data[0] % 64u;
    v.height = 1u + data[1] % 64u;
    v.channels = channel_choices[data[2] % 3u];
    v.stride = std::size_t{v.width} * v.channels + data[3] % 4u;  // rows may be padded
    std::vector<std::uint8_t> pixels(v.stride * v.height);
    for (std::size_t i = 0; i < pixels.size(); ++i)
        pixels[i] = size > 4 ? data[4 + i % (size - 4)] : 0;
    v.pixels = pixels.data();
    const std::vector<std::uint8_t> file = runlog::detail::encode_png(v);

    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    if (png_image_begin_read_from_memory(&image, file.data(), file.size()) == 0) std::abort();
    image.format = v.channels == 1   ? PNG_FORMAT_GRAY
                   : v.channels == 3 ? PNG_FORMAT_RGB
                                     : PNG_FORMAT_RGBA;
    std::vector<std::uint8_t> decoded(PNG_IMAGE_SIZE(image));
    if (png_image_finish_read(&image, nullptr, decoded.data(), 0, nullptr) == 0) std::abort();
    const std::size_t row = std::size_t{v.width} * v.channels;
    for (std::uint32_t y = 0; y < v.height; ++y)
        if (std::memcmp(decoded.data() + y * row, pixels.data() + y * v.stride, row) != 0)
            std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_deflate(data, size);
    check_png(data, size);
    return 0;
}
