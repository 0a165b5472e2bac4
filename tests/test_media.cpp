// SPDX-License-Identifier: MIT
// Checksums, deflate, PNG and images — checked against independent implementations: system zlib
// inflates our streams, libpng decodes our PNGs, pngcheck validates them.
#include <png.h>
#include <zlib.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <random>

#include <runlog/detail/checksums.hpp>
#include <runlog/detail/deflate.hpp>
#include <runlog/detail/png.hpp>

#include "support/test_support.hpp"

using bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

namespace {

bytes to_bytes(const std::string& s) {
    return bytes(s.begin(), s.end());
}

bytes inflate_with_zlib(const bytes& z, std::size_t expected) {
    bytes out(expected + 16);
    uLongf len = static_cast<uLongf>(out.size());
    REQUIRE(uncompress(out.data(), &len, z.data(), static_cast<uLong>(z.size())) == Z_OK);
    out.resize(len);
    return out;
}

/// Decodes with libpng's simplified API into 8-bit pixels with `channels` channels.
bytes decode_with_libpng(const bytes& file, std::uint32_t& width, std::uint32_t& height,
                         std::uint32_t channels) {
    png_image img{};
    img.version = PNG_IMAGE_VERSION;
    REQUIRE(png_image_begin_read_from_memory(&img, file.data(), file.size()) != 0);
    img.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
    width = img.width;
    height = img.height;
    bytes pixels(PNG_IMAGE_SIZE(img));
    REQUIRE(png_image_finish_read(&img, nullptr, pixels.data(), 0, nullptr) != 0);
    return pixels;
}

/// The 6x5 letter F, red on blue (stb's test image): flips, transposes and R/B swaps all show.
bytes letter_f_rgb() {
    static const char* rows[] = {"......", ".####.", ".#....", ".###..", ".#...."};
    bytes px;
    for (const char* row : rows)
        for (int x = 0; x < 6; ++x) {
            const bool ink = row[x] == '#';
            px.insert(px.end(), {static_cast<std::uint8_t>(ink ? 255 : 0),
                                 static_cast<std::uint8_t>(ink ? 0 : 40),
                                 static_cast<std::uint8_t>(ink ? 0 : 255)});
        }
    return px;
}

}  // namespace

TEST_CASE("checksums: standard test vectors", "[media][checksums]") {
    using namespace runlog::detail;
    CHECK(crc32("123456789", 9) == 0xCBF43926u);
    CHECK(crc32("IEND", 4) == 0xAE426082u);
    CHECK(crc32("", 0) == 0u);
    CHECK(crc32("6789", 4, crc32("12345", 5)) == 0xCBF43926u);  // incremental
    CHECK(adler32("Wikipedia", 9) == 0x11E60398u);
    CHECK(adler32("", 0) == 1u);
    const bytes big(100000, 0xFF);
    CHECK(adler32(big.data(), big.size()) ==
          ::adler32(1, big.data(), static_cast<uInt>(big.size())));
    CHECK(sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc", 3) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(sha256_hex(two_blocks.data(), two_blocks.size()) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    sha256 million;
    const std::string a1000(1000, 'a');
    for (int i = 0; i < 1000; ++i) million.update(a1000.data(), a1000.size());
    CHECK(million.hex_digest() ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("deflate: zlib inflates every stream back to the input", "[media][deflate]") {
    std::mt19937 rng(7);
    std::vector<std::pair<std::string, bytes>> inputs;
    inputs.emplace_back("empty", bytes{});
    inputs.emplace_back("one byte", bytes{42});
    inputs.emplace_back("short text", to_bytes("hello hello hello hello"));
    bytes random(200000);
    for (auto& b : random) b = static_cast<std::uint8_t>(rng());
    inputs.emplace_back("random (stored blocks past 64 KiB)", random);
    inputs.emplace_back("zeros", bytes(300000, 0));
    std::string text;
    for (int i = 0; i < 30000; ++i)
        text += "step " + std::to_string(i % 1000) + " loss 0." + std::to_string(i % 7) + "\n";
    inputs.emplace_back("text", to_bytes(text));
    bytes runs;
    for (int i = 0; i < 100000; ++i)
        runs.push_back(static_cast<std::uint8_t>(
            (i / 300) % 5 == 0 ? rng() : static_cast<unsigned>(i / 1000)));
    inputs.emplace_back("runs and noise", runs);
    bytes far;  // matches at the far end of the window
    for (int i = 0; i < 40000; ++i) far.push_back(static_cast<std::uint8_t>(rng()));
    far.insert(far.end(), far.begin(), far.begin() + 40000);
    inputs.emplace_back("repeat at 40000", far);
    for (const auto& [name, input] : inputs) {
        INFO(name);
        const bytes z = runlog::detail::zlib_compress(input.data(), input.size());
        CHECK(inflate_with_zlib(z, input.size()) == input);
        if (name == "zeros") CHECK(z.size() < 1000);
        // never more than zlib's own worst-case bound
        CHECK(z.size() <= compressBound(static_cast<uLong>(input.size())));
    }
}

TEST_CASE("png: libpng decodes exactly the pixels given, for 1, 3 and 4 channels", "[media][png]") {
    std::mt19937 rng(3);
    for (std::uint32_t channels : {1u, 3u, 4u}) {
        for (auto [w, h] :
             {std::pair<std::uint32_t, std::uint32_t>{1, 1}, {6, 5}, {37, 19}, {256, 64}}) {
            INFO("channels " << channels << " size " << w << "x" << h);
            bytes px(std::size_t{w} * h * channels);
            for (std::size_t i = 0; i < px.size(); ++i)
                px[i] =
                    static_cast<std::uint8_t>((i % 7 == 0) ? rng() : (i * 3 + i / (w * channels)));
            const bytes file =
                runlog::detail::encode_png({px.data(), w, h, channels, std::size_t{w} * channels});
            std::uint32_t dw = 0, dh = 0;
            CHECK(decode_with_libpng(file, dw, dh, channels) == px);
            CHECK(dw == w);
            CHECK(dh == h);
        }
    }
}

TEST_CASE("png: row stride is honoured and padding ignored", "[media][png]") {
    const std::uint32_t w = 4, h = 3, c = 3;
    const std::size_t stride = 16;  // 12 bytes of pixels + 4 of padding
    bytes buffer(stride * h, 0xEE);
    bytes packed;
    for (std::uint32_t y = 0; y < h; ++y)
        for (std::uint32_t i = 0; i < w * c; ++i) {
            buffer[y * stride + i] = static_cast<std::uint8_t>(y * 20 + i);
            packed.push_back(static_cast<std::uint8_t>(y * 20 + i));
        }
    const bytes file = runlog::detail::encode_png({buffer.data(), w, h, c, stride});
    std::uint32_t dw, dh;
    CHECK(decode_with_libpng(file, dw, dh, c) == packed);
}

TEST_CASE("image: every dtype and layout decodes to the same asymmetric picture",
          "[media][image]") {
    const bytes f = letter_f_rgb();  // HWC uint8
    const std::uint32_t h = 5, w = 6, c = 3;
    std::vector<std::uint16_t> u16;
    std::vector<float> f32;
    std::vector<double> f64;
    bytes chw(f.size());
    for (std::size_t i = 0; i < f.size(); ++i) {
        u16.push_back(static_cast<std::uint16_t>(f[i] * 257));
        f32.push_back(static_cast<float>(f[i]) / 255.0f);
        f64.push_back(static_cast<double>(f[i]) / 255.0);
    }
    for (std::uint32_t y = 0; y < h; ++y)
        for (std::uint32_t x = 0; x < w; ++x)
            for (std::uint32_t k = 0; k < c; ++k)
                chw[k * h * w + y * w + x] = f[(y * w + x) * c + k];

    const std::vector<runlog::image> images = {
        runlog::image::from_pixels(f.data(), f.size(), h, w, c),
        runlog::image::from_pixels(u16.data(), u16.size(), h, w, c),
        runlog::image::from_pixels(f32.data(), f32.size(), h, w, c),
        runlog::image::from_pixels(f64.data(), f64.size(), h, w, c),
        runlog::image::from_pixels(chw.data(), chw.size(), h, w, c, runlog::image_layout::chw)};
    for (const auto& img : images) {
        REQUIRE(img.ok());
        std::uint32_t dw, dh;
        CHECK(decode_with_libpng(img.encoded(), dw, dh, c) == f);
        CHECK(dw == w);
        CHECK(dh == h);
    }
    // the top-left pixel is blue background, (1,1) is red ink: no flip, no R/B swap
    const bytes decoded = images[4].pixels();
    CHECK(decoded[0] == 0);
    CHECK(decoded[2] == 255);
    CHECK(decoded[(1 * w + 1) * c] == 255);
    CHECK(decoded[(1 * w + 1) * c + 2] == 0);
}

TEST_CASE("image: float scaling clamps, NaN becomes 0, uint16 rounds", "[media][image]") {
    const float values[] = {-1.0f, 0.0f, 0.5f, 1.0f, 2.0f, std::nanf("")};
    auto img = runlog::image::from_pixels(values, 6, 1, 6, 1);
    REQUIRE(img.ok());
    CHECK(img.pixels() == bytes{0, 0, 128, 255, 255, 0});
    const std::uint16_t wide[] = {0, 128, 129, 65535};
    CHECK(runlog::image::from_pixels(wide, 4, 1, 4, 1).pixels() == bytes{0, 0, 1, 255});
}

TEST_CASE("image: bad input gives a clear error, never a read past the end", "[media][image]") {
    const bytes px(30, 0);
    CHECK_THAT(runlog::image::from_pixels(px.data(), px.size(), 5, 6, 2).error(),
               Catch::Contains("2 channels; use 1 (gray), 3 (RGB) or 4 (RGBA)"));
    CHECK_THAT(runlog::image::from_pixels(px.data(), px.size(), 0, 6, 1).error(),
               Catch::Contains("image size 0x6x1 is out of range"));
    CHECK_THAT(runlog::image::from_pixels(px.data(), px.size(), 40000, 1, 1).error(),
               Catch::Contains("out of range"));
    CHECK_THAT(runlog::image::from_pixels(px.data(), px.size(), 5, 6, 3).error(),
               Catch::Contains(
                   "pixel buffer holds 30 values; a 5x6x3 HWC image with row stride 18 needs 90"));
    CHECK_THAT(
        runlog::image::from_pixels(px.data(), px.size(), 5, 6, 1, runlog::image_layout::hwc, 4)
            .error(),
        Catch::Contains("row stride 4 is shorter than a row (6 values)"));
    // CHW: 3 planes of 2 rows of 5 need exactly 30 values
    CHECK_THAT(
        runlog::image::from_pixels(px.data(), 29, 2, 5, 3, runlog::image_layout::chw, 5).error(),
        Catch::Contains("holds 29 values; a 2x5x3 CHW image with row stride 5 needs 30"));
    CHECK(runlog::image::from_pixels(px.data(), px.size(), 2, 5, 3, runlog::image_layout::chw, 5)
              .ok());
    CHECK(
        runlog::image::from_pixels(static_cast<const std::uint8_t*>(nullptr), 0, 1, 1, 1).error() ==
        "pixel buffer holds 0 values; a 1x1x1 HWC image with row stride 1 needs 1");
    CHECK_FALSE(runlog::image().ok());
    CHECK_THAT(runlog::image::from_file("/nonexistent.png").error(),
               Catch::Contains("cannot read image file"));
    // A stride so large that the buffer size it implies would wrap around 2^64 (and let a
    // one-value buffer pass) is refused before any arithmetic.
    CHECK_THAT(runlog::image::from_pixels(px.data(), 1, 3, 1, 1, runlog::image_layout::hwc,
                                          std::size_t{1} << 63)
                   .error(),
               Catch::Contains("row stride 9223372036854775808 is out of range"));
    // Files that never end, or are not files, are not read.
    CHECK_THAT(runlog::image::from_file("/dev/zero").error(),
               Catch::Contains("'/dev/zero': not a regular file"));
    CHECK_THAT(runlog::image::from_file("/").error(), Catch::Contains("not a regular file"));
}

TEST_CASE("image: from a PNG or JPEG file, size read from its header", "[media][image]") {
    test::temp_dir dir;
    const bytes f = letter_f_rgb();
    const bytes png = runlog::image::from_pixels(f.data(), f.size(), 5, 6, 3).encoded();
    std::ofstream(dir.path / "f.png", std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
    auto from_png = runlog::image::from_file((dir.path / "f.png").string(), "the F");
    REQUIRE(from_png.ok());
    CHECK(from_png.width() == 6);
    CHECK(from_png.height() == 5);
    CHECK(from_png.encoded() == png);
    // A minimal JPEG header: SOI, APP0 (length 16), SOF0 with height 480, width 640.
    const bytes jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I', 'F',  0,
                        1,    1,    0,    0,    1,    0,    1,    0,    0,   0xFF, 0xC0,
                        0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03, 1,   0x22, 0,
                        2,    0x11, 1,    3,    0x11, 1,    0xFF, 0xD9};
    std::ofstream(dir.path / "x.jpg", std::ios::binary)
        .write(reinterpret_cast<const char*>(jpeg.data()),
               static_cast<std::streamsize>(jpeg.size()));
    auto from_jpeg = runlog::image::from_file((dir.path / "x.jpg").string());
    REQUIRE(from_jpeg.ok());
    CHECK(from_jpeg.width() == 640);
    CHECK(from_jpeg.height() == 480);
    std::ofstream(dir.path / "not.png") << "plain text";
    CHECK_THAT(runlog::image::from_file((dir.path / "not.png").string()).error(),
               Catch::Contains("is not a PNG or JPEG file"));
}

TEST_CASE("media names: hostile keys never leave the media directory", "[media][safety]") {
    using runlog::detail::safe_media_stem;
    CHECK(safe_media_stem("examples") == "examples");
    CHECK(safe_media_stem("val/samples") == "val/samples");
    CHECK(safe_media_stem("../../etc/passwd") == "__/__/etc/passwd");
    CHECK(safe_media_stem("/abs/path") == "abs/path");
    CHECK(safe_media_stem("a/./b//c") == "a/_/b/c");
    CHECK(safe_media_stem(std::string("nul\0byte", 8)) == "nul_byte");
    CHECK(safe_media_stem("back\\slash") == "back_slash");
    CHECK(safe_media_stem("CON") == "_CON");
    CHECK(safe_media_stem("x/lpt1.txt") == "x/_lpt1.txt");
    CHECK(safe_media_stem("") == "_");
    CHECK(safe_media_stem("///") == "_");
    CHECK(safe_media_stem("émoji ✓") == "__moji____");  // each non-ASCII byte becomes _
    const std::string stem = safe_media_stem(std::string(5000, 'k'));
    CHECK(stem.size() == 120);
    for (const std::string& key : std::vector<std::string>{
             "..", "../..", std::string(200, '.') + "/..", "a/" + std::string(119, 'b') + "/..."}) {
        const std::string s = safe_media_stem(key);
        INFO(key << " -> " << s);
        std::size_t start = 0;
        while (start <= s.size()) {
            const auto end = s.find('/', start);
            const std::string part =
                s.substr(start, end == std::string::npos ? std::string::npos : end - start);
            CHECK(part != "..");
            CHECK(part != ".");
            CHECK_FALSE(part.empty());
            if (end == std::string::npos) break;
            start = end + 1;
        }
    }
}

TEST_CASE("media: a logged image is a W&B image-file value and a file in the run", "[media][run]") {
    test::temp_dir dir;
    test::error_log errors;
    auto sink = std::make_shared<runlog::memory_sink>();
    auto s = test::quiet_settings(dir, &errors);
    s.sinks.push_back(sink);
    auto run = runlog::init(s);
    const bytes f = letter_f_rgb();
    auto img = runlog::image::from_pixels(f.data(), f.size(), 5, 6, 3, runlog::image_layout::hwc, 0,
                                          "the F");
    run.log({{"../escape/examples", img}, {"loss", 0.5}}, 3);
    run.log({{"broken", runlog::image::from_pixels(f.data(), 3, 5, 6, 3)}}, 4);
    run.log({{"broken", runlog::image::from_pixels(f.data(), 3, 5, 6, 3)}, {"loss", 0.25}}, 5);
    REQUIRE(run.finish() == runlog::status::ok);

    const auto rows = sink->rows();
    REQUIRE(rows.size() == 2);  // no empty row for the call at step 4 (there was one)
    CHECK(rows[1].find("_step")->as_int() == 5);
    const runlog::value* v = rows[0].find("../escape/examples");
    REQUIRE(v != nullptr);
    const std::string path = v->find("path")->as_string();
    // Named by the step before this call (0), not the row's (3): W&B's client names media so.
    CHECK_THAT(path, Catch::Matches(R"(media/images/__/escape/examples_0_[0-9a-f]{20}\.png)"));
    CHECK_THAT(v->dump(), Catch::StartsWith(R"({"_type":"image-file","path":")"));
    CHECK_THAT(v->dump(),
               Catch::EndsWith(R"(,"format":"png","width":6,"height":5,"caption":"the F"})"));
    const fs::path file = run.dir() / path;
    REQUIRE(fs::exists(file));
    const std::string on_disk = test::read_file(file);
    CHECK(v->find("size")->as_int() == static_cast<std::int64_t>(on_disk.size()));
    CHECK(v->find("sha256")->as_string() ==
          runlog::detail::sha256_hex(on_disk.data(), on_disk.size()));
    CHECK(path.substr(path.size() - 24, 20) == v->find("sha256")->as_string().substr(0, 20));
    const auto canonical = fs::weakly_canonical(file).string();
    CHECK(canonical.rfind(fs::weakly_canonical(run.dir() / "media").string(), 0) == 0);
    CHECK(sink->media().size() == 1);
    CHECK(sink->summary().find("../escape/examples")->find("path")->as_string() == path);
    // the broken image is dropped with its reason; a row with another field still commits
    CHECK_FALSE(rows[1].contains("broken"));
    CHECK(rows[1].find("loss")->as_double() == 0.25);
    CHECK_THAT(errors.all_text(),
               Catch::Contains("field 'broken' dropped: pixel buffer holds 3 values"));
    if (fs::exists("/usr/bin/pngcheck")) {
        CHECK(std::system(("/usr/bin/pngcheck -q '" + file.string() + "' >/dev/null").c_str()) ==
              0);
    }
}

TEST_CASE("histogram: numpy's binning rules", "[media][histogram]") {
    const double a[] = {1, 2, 2, 3, 10};
    const runlog::histogram h(a, 5, 3);  // numpy: [4, 0, 1], edges [1, 4, 7, 10]
    REQUIRE(h.ok());
    CHECK(h.counts() == std::vector<std::int64_t>{4, 0, 1});
    CHECK(h.edges() == std::vector<double>{1, 4, 7, 10});
    const std::vector<int> same = {5, 5, 5};  // min == max: [v - 0.5, v + 0.5]
    const runlog::histogram hs(same, 4);
    CHECK(hs.counts() == std::vector<std::int64_t>{0, 0, 3, 0});
    CHECK(hs.edges() == std::vector<double>{4.5, 4.75, 5.0, 5.25, 5.5});
    const std::vector<float> with_bad = {0.0f, 1.0f, std::nanf(""), INFINITY, -INFINITY, 0.5f};
    const runlog::histogram hb(with_bad, 2);
    CHECK(hb.counts() == std::vector<std::int64_t>{1, 2});  // last bin includes max; 0.5 on an edge
    CHECK(hb.excluded() == 3);
    CHECK(runlog::histogram(std::vector<double>{}, 2).edges() ==
          std::vector<double>{0.0, 0.5, 1.0});
    CHECK(runlog::histogram(std::vector<double>(100, 1.0)).counts().size() == 64);
    CHECK(runlog::to_value(h).dump() ==
          R"({"_type":"histogram","values":[4,0,1],"bins":[1.0,4.0,7.0,10.0],)"
          R"("stats":{"num":5,"min":1.0,"max":10.0,"sum":18.0,"sum_squares":118.0}})");
    CHECK_THAT(runlog::histogram(a, 5, 513).error(),
               Catch::Contains("num_bins 513 is out of range"));
    CHECK_THAT(runlog::histogram(a, 5, 0).error(), Catch::Contains("out of range"));
    // Ranges numpy refuses too ("Too many bins for data range"): wider than a double holds, or
    // too narrow for distinct edges. Before, both binned through NaN (undefined behaviour).
    const double wide[] = {-1e308, 1e308};
    CHECK_THAT(runlog::histogram(wide, 2).error(),
               Catch::Contains("cannot be cut into 64 finite bins"));
    const double narrow[] = {0.0, 1e-320};
    CHECK_FALSE(runlog::histogram(narrow, 2).ok());
    CHECK(runlog::histogram(std::vector<double>{0.0, 1e-300}).ok());  // narrow, still fine
    const double denormal_spread[] = {0.0, 64 * 5e-324};  // distinct edges, 64 / width = inf
    CHECK_FALSE(runlog::histogram(denormal_spread, 2).ok());
}

TEST_CASE("histogram: from counts and edges, validated", "[media][histogram]") {
    auto ok = runlog::histogram::from_counts({3, 5}, {0.0, 0.5, 1.0});
    CHECK(ok.ok());
    CHECK_THAT(
        runlog::histogram::from_counts({3, 5}, {0.0, 1.0}).error(),
        Catch::Contains("needs n counts (1 to 512) and n + 1 edges, got 2 counts and 2 edges"));
    CHECK_THAT(runlog::histogram::from_counts({3, 5}, {0.0, 1.0, 1.0}).error(),
               Catch::Contains("strictly increasing (edge 2 is not)"));
    CHECK_THAT(runlog::histogram::from_counts({-1}, {0.0, 1.0}).error(),
               Catch::Contains("negative"));
}

TEST_CASE("table: typed cells, ragged rows, columns, CSV", "[media][table]") {
    runlog::table t({"id", "name", "ok", "score", "note"});
    t.add_row({1, "cat", true, 0.5, nullptr});
    t.add_row({2, "say \"hi\", bye", false, 1e-3, "multi\nline"});
    REQUIRE(t.ok());
    CHECK(t.nrows() == 2);
    CHECK(t.ncols() == 5);
    CHECK(t.to_csv() ==
          "id,name,ok,score,note\r\n"
          "1,cat,true,0.5,\r\n"
          "2,\"say \"\"hi\"\", bye\",false,0.001,\"multi\nline\"\r\n");
    runlog::table ragged({"a", "b"});
    ragged.add_row({1, 2}).add_row({3});
    CHECK_FALSE(ragged.ok());
    CHECK(ragged.error() == "table row 1 has 1 cells; the table has 2 columns");
    CHECK(runlog::table({"a", "a"}).error() == "table column 'a' appears twice");
    CHECK(runlog::table(std::vector<std::string>{}).error() == "a table needs at least one column");
    auto by_columns = runlog::table::from_columns({"x", "y"}, {{1, 2, 3}, {"a", "b", "c"}});
    REQUIRE(by_columns.ok());
    CHECK(by_columns.to_csv() == "x,y\r\n1,a\r\n2,b\r\n3,c\r\n");
    CHECK(runlog::table::from_columns({"x", "y"}, {{1, 2}, {"a"}}).error() ==
          "table column 'y' has 1 cells; column 'x' has 2");
}

TEST_CASE("media: tables, image lists and histograms in history and summary", "[media][run]") {
    test::temp_dir dir;
    test::error_log errors;
    auto sink = std::make_shared<runlog::memory_sink>();
    auto s = test::quiet_settings(dir, &errors);
    s.sinks.push_back(sink);
    auto run = runlog::init(s);
    const bytes f = letter_f_rgb();
    const auto img = runlog::image::from_pixels(f.data(), f.size(), 5, 6, 3);
    runlog::table t({"id", "input", "label"});
    t.add_row({7, img, "F"});
    run.log_table("samples", t, 1);
    t.add_row({8, img, "F again"});  // after logging: the logged snapshot keeps one row
    run.log_image("preds", {img, img}, {"first", "second"}, 2);
    run.log_image("mismatch", {img, img}, {"only one"}, 2);
    run.log_text("notes", {"who", "what"}, {{"a", "b"}, {"c", "d, e"}}, 3);
    const std::vector<double> samples = {0, 1, 1, 2};
    run.log({{"weights", runlog::histogram(samples, 2)}}, 3);
    run.log({{"bad_hist", runlog::histogram::from_counts({1}, {1.0, 0.0})}}, 3);
    REQUIRE(run.finish() == runlog::status::ok);

    const auto rows = sink->rows();
    REQUIRE(rows.size() == 3);
    // Files are named by the step as it stood when log() was called, as W&B's client names
    // them (wandb_run.py, user_step): 0 for the row logged at step 1, 1 for the one at step 2.
    const runlog::value& table_value = *rows[0].find("samples");
    CHECK_THAT(
        table_value.dump(),
        Catch::Matches(
            R"(\{"_type":"table-file","path":"media/table/samples_0_[0-9a-f]{20}\.table\.json","sha256":"[0-9a-f]{64}","size":[0-9]+,"ncols":3,"nrows":1,"log_mode":"IMMUTABLE"\})"));
    const std::string table_json =
        test::read_file(run.dir() / table_value.find("path")->as_string());
    CHECK_THAT(
        table_json,
        Catch::StartsWith(
            R"({"columns":["id","input","label"],"data":[[7,{"_type":"image-file","path":"media/images/samples_0_)"));
    CHECK_THAT(table_json, Catch::EndsWith(R"(,"format":"png","width":6,"height":5},"F"]]})"));

    const runlog::value& preds = *rows[1].find("preds");
    CHECK_THAT(
        preds.dump(),
        Catch::Matches(
            R"(\{"_type":"images/separated","width":6,"height":5,"format":"png","count":2,"filenames":\["media/images/preds_1_[0-9a-f]{20}\.png","media/images/preds_1_[0-9a-f]{20}\.png"\],"captions":\["first","second"\]\})"));
    CHECK_FALSE(rows[1].contains("mismatch"));
    CHECK_THAT(errors.all_text(),
               Catch::Contains("field 'mismatch' dropped: 2 images but 1 captions"));

    CHECK(rows[2].find("weights")->dump() ==
          R"({"_type":"histogram","values":[1,3],"bins":[0.0,1.0,2.0],)"
          R"("stats":{"num":4,"min":0.0,"max":2.0,"sum":4.0,"sum_squares":6.0}})");
    CHECK(rows[2].find("notes")->find("nrows")->as_int() == 2);
    CHECK_FALSE(rows[2].contains("bad_hist"));
    CHECK_THAT(errors.all_text(),
               Catch::Contains("field 'bad_hist' dropped: histogram edges must be"));
    CHECK(sink->summary().find("weights")->find("_type")->as_string() == "histogram");
    CHECK(run.stats().dropped_fields == 2);
    for (const auto& m : sink->media()) CHECK(fs::exists(run.dir() / m.first));
}

TEST_CASE("media: queued images are bounded by media_queue_bytes, drops counted",
          "[media][queue]") {
    test::temp_dir dir;
    auto blocker = std::make_shared<test::blocking_sink>();
    auto s = test::quiet_settings(dir);
    s.native_files = false;
    s.sinks = {blocker};
    s.media_queue_bytes = 1000;
    s.overflow = runlog::overflow_policy::drop_newest;
    auto run = runlog::init(s);
    const bytes f = letter_f_rgb();  // 90 bytes of pixels
    const auto img = runlog::image::from_pixels(f.data(), f.size(), 5, 6, 3);
    run.log({{"img", img}});
    REQUIRE(
        blocker->wait_entered(std::chrono::seconds(10)));  // writer stuck on row 0, 90 bytes held
    for (int i = 0; i < 20; ++i) run.log({{"img", img}});  // 10 more fit in 1000 bytes
    CHECK(run.stats().dropped_media == 10);                // counted apart from rows and samples
    CHECK(run.stats().dropped_queue_full == 0);
    blocker->release();
    REQUIRE(run.finish() == runlog::status::ok);
    CHECK(run.stats().rows_committed == 11);
}

TEST_CASE("table: an invalid image cell is an error, not a silent null", "[media][table]") {
    runlog::table t({"id", "img"});
    t.add_row({1, runlog::image()});
    CHECK_FALSE(t.ok());
    CHECK(t.error() == "table row 0 column 'img': empty media object");
    const double a[] = {1, 2, 3};
    CHECK(runlog::histogram(a, 3).counts().size() == 64);  // 3 samples, default bins
}
