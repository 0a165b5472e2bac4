// SPDX-License-Identifier: MIT
// TensorBoard export (issue 5): CRC-32C on both paths, TFRecord framing and the spec's worked
// scalar example byte for byte, the one-pass scalar encoder against the general one, and the
// sink's files read back with the test-only reader (support/tfevents_reader.hpp): scalars, steps
// from step metrics, images decoded to pixels, histograms against statistics computed here, text
// and tables, hparams, a killed writer, and `runlog export --to tensorboard`.
#include <png.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <csignal>
#include <cstring>
#include <random>

#include <runlog/detail/checksums.hpp>
#include <runlog/detail/tensorboard_events.hpp>
#include <runlog/detail/tfrecord.hpp>
#include <runlog/export.hpp>
#include <runlog/runlog.hpp>

#include "support/test_support.hpp"
#include "support/tfevents_reader.hpp"

namespace fs = std::filesystem;

namespace {
std::string as_string(const std::vector<std::uint8_t>& b) {
    return std::string(b.begin(), b.end());
}
}  // namespace

TEST_CASE("crc32c: check value, and the portable and hardware paths agree",
          "[tensorboard][crc32c]") {
    using namespace runlog::detail;
    CHECK(crc32c_portable("123456789", 9) == 0xE3069283u);
    CHECK(crc32c("123456789", 9) == 0xE3069283u);
    CHECK(crc32c("", 0) == 0u);
    CHECK(crc32c("6789", 4, crc32c("12345", 5)) == 0xE3069283u);
    std::mt19937 rng(5);
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 1000u, 65537u}) {
        std::vector<std::uint8_t> data(n);
        for (auto& b : data) b = static_cast<std::uint8_t>(rng());
        INFO(n);
        CHECK(crc32c(data.data(), n) == crc32c_portable(data.data(), n));
#if RUNLOG_HAVE_CRC32C_SSE42
        if (cpu_has_sse42()) CHECK(crc32c_sse42(data.data(), n) == crc32c_portable(data.data(), n));
#endif
    }
}

TEST_CASE("tfrecord: the spec's worked scalar event, 42 bytes exactly", "[tensorboard][framing]") {
    namespace tb = runlog::detail::tensorboard;
    const auto payload = tb::summary_event(
        1700000000.5, 42,
        runlog::detail::proto_writer().message(1, tb::scalar_value("loss", 0.25f)));
    REQUIRE(payload.size() == 26);
    std::vector<std::uint8_t> record;
    runlog::detail::append_tfrecord(payload.data(), payload.size(), record);
    const std::vector<std::uint8_t> expected = {
        0x1a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x9b, 0xd8, 0x2d, 0x09, 0x00,
        0x00, 0x20, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x10, 0x2a, 0x2a, 0x0d, 0x0a, 0x0b, 0x0a,
        0x04, 0x6c, 0x6f, 0x73, 0x73, 0x15, 0x00, 0x00, 0x80, 0x3e, 0x86, 0x93, 0xda, 0xf7};
    CHECK(record == expected);
    CHECK(runlog::detail::masked_crc32c(record.data(), 8) == 0x2dd89b12u);
    // The sink's one-pass encoder gives the same 42 bytes.
    const tb::scalar loss{"loss", 0.25f};
    std::string direct;
    tb::append_scalars_record(direct, 1700000000.5, 42, &loss, 1);
    CHECK(direct == std::string(expected.begin(), expected.end()));
}

TEST_CASE("tfrecord: the one-pass scalar encoder matches the general encoder",
          "[tensorboard][framing]") {
    namespace tb = runlog::detail::tensorboard;
    std::mt19937 rng(11);
    const std::int64_t steps[] = {0, 1, 127, 128, 16383, 16384, 1LL << 40, -1, INT64_MIN};
    for (std::int64_t step : steps) {
        for (std::size_t n : {1u, 2u, 4u, 9u}) {
            std::vector<std::string> tags;
            std::vector<tb::scalar> scalars;
            runlog::detail::proto_writer summary;
            for (std::size_t i = 0; i < n; ++i) {
                tags.push_back(std::string(rng() % 200, 'a' + static_cast<char>(i)));
            }
            for (std::size_t i = 0; i < n; ++i) {
                const float v = static_cast<float>(rng()) / 7.0f - 1e8f;
                scalars.push_back({tags[i], v});
                summary.message(1, tb::scalar_value(tags[i], v));
            }
            const auto payload = tb::summary_event(1.7e9 + 0.25, step, summary);
            std::string general;
            runlog::detail::append_tfrecord(payload.data(), payload.size(), general);
            std::string direct = "prefix";
            tb::append_scalars_record(direct, 1.7e9 + 0.25, step, scalars.data(), scalars.size());
            INFO("step " << step << ", " << n << " scalars");
            CHECK(direct == "prefix" + general);
        }
    }
}

TEST_CASE("tfrecord: the first event names the file version and the writer", "[tensorboard]") {
    const auto event =
        test::decode_proto(as_string(runlog::detail::tensorboard::file_version_event(1.5)));
    CHECK(event.str(3) == "brain.Event:2");
    CHECK_THAT(test::decode_proto(event.str(10)).str(1), Catch::StartsWith("runlog "));
    CHECK(event.bytes.count(1) == 1);  // wall_time present (fixed64)
}

namespace {

using test::tb_event;
using test::tb_value;

/// The events of the run's only event file under <root>/tensorboard/<run>.
std::vector<tb_event> events_of(const fs::path& root, const std::string& run,
                                bool allow_torn_tail = false) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(root / "tensorboard" / run))
        files.push_back(entry.path());
    REQUIRE(files.size() == 1);
    CHECK_THAT(files[0].filename().string(),
               Catch::Matches(R"(events\.out\.tfevents\.\d{10}\.[^.]+\.\d+\.\d+)"));
    return test::read_events(test::read_file(files[0]), allow_torn_tail);
}

struct stepped_value {
    std::int64_t step;
    tb_value value;
};

std::vector<stepped_value> values_of(const std::vector<tb_event>& events, const std::string& tag) {
    std::vector<stepped_value> out;
    for (const auto& e : events)
        for (const auto& v : e.values)
            if (v.tag == tag) out.push_back({e.step, v});
    return out;
}

std::vector<std::uint8_t> png_pixels(const std::string& file, std::uint32_t& width,
                                     std::uint32_t& height, std::uint32_t channels) {
    png_image img{};
    img.version = PNG_IMAGE_VERSION;
    REQUIRE(png_image_begin_read_from_memory(&img, file.data(), file.size()) != 0);
    img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    width = img.width;
    height = img.height;
    std::vector<std::uint8_t> pixels(PNG_IMAGE_SIZE(img));
    REQUIRE(png_image_finish_read(&img, nullptr, pixels.data(), 0, nullptr) != 0);
    return pixels;
}

runlog::settings tensorboard_settings(const test::temp_dir& dir, const char* id) {
    auto s = test::quiet_settings(dir);
    s.tensorboard = true;
    s.name = "baseline";
    s.id = id;
    return s;
}

}  // namespace

TEST_CASE("tensorboard sink: scalars, text and nested values at the row's step",
          "[tensorboard][sink]") {
    test::temp_dir dir;
    auto run = runlog::init(tensorboard_settings(dir, "tb000001"));
    run.log({{"loss", 0.5}, {"acc", 1}, {"note", "text"}, {"flag", true}});
    run.log({{"loss", std::nan("")}}, 7);
    run.log({{"note", "no *numbers*"}, {"train", runlog::value{{"lr", 0.125}, {"mom", 0.9}}}}, 8);
    REQUIRE(run.finish() == runlog::status::ok);

    const auto events = events_of(dir.path, "baseline_tb000001");
    REQUIRE(events.size() >= 3);
    CHECK(events[0].file_version == "brain.Event:2");
    CHECK_THAT(events[0].writer, Catch::StartsWith("runlog "));
    for (const auto& e : events) CHECK(e.wall_time > 1.7e9);  // fractional seconds, never 0

    const auto loss = values_of(events, "loss");
    REQUIRE(loss.size() == 2);
    CHECK(loss[0].step == 0);
    CHECK(loss[0].value.simple_value == 0.5f);
    CHECK(loss[1].step == 7);
    CHECK(std::isnan(loss[1].value.simple_value));
    REQUIRE(values_of(events, "acc").size() == 1);
    CHECK(values_of(events, "acc")[0].value.simple_value == 1.0f);
    CHECK(values_of(events, "flag")[0].value.simple_value == 1.0f);  // bools as 0/1

    const auto note = values_of(events, "note");
    REQUIRE(note.size() == 2);
    CHECK(note[0].value.plugin == "text");  // metadata on the first value of the tag only
    CHECK(note[0].value.data_class == 2);
    CHECK(note[1].value.plugin.empty());
    CHECK(note[0].value.dtype == 7);
    CHECK(note[0].value.dims.empty());  // rank 0
    CHECK(note[0].value.strings == std::vector<std::string>{"text"});
    CHECK(note[1].step == 8);
    CHECK(note[1].value.strings == std::vector<std::string>{"no *numbers*"});

    const auto lr = values_of(events, "train/lr");
    REQUIRE(lr.size() == 1);
    CHECK(lr[0].step == 8);
    CHECK(lr[0].value.simple_value == 0.125f);
    CHECK(values_of(events, "train/mom")[0].value.simple_value == 0.9f);
    CHECK(values_of(events, "_hparams_/session_start_info").size() == 1);
    CHECK(values_of(events, "_hparams_/session_end_info").size() == 1);
}

TEST_CASE("tensorboard sink: a metric with a step_metric is plotted against it",
          "[tensorboard][sink]") {
    test::temp_dir dir;
    auto run = runlog::init(tensorboard_settings(dir, "tb000002"));
    run.define_metric("val/acc", runlog::metric_options{}.with_step_metric("epoch"));
    for (int epoch = 0; epoch < 3; ++epoch) {
        for (int i = 0; i < 5; ++i) run.log({{"train/loss", 1.0 / (i + 1)}});
        run.log({{"epoch", epoch}, {"val/acc", 0.5 + 0.1 * epoch}});
    }
    REQUIRE(run.finish() == runlog::status::ok);
    const auto events = events_of(dir.path, "baseline_tb000002");
    const auto acc = values_of(events, "val/acc");
    REQUIRE(acc.size() == 3);
    for (int epoch = 0; epoch < 3; ++epoch) {
        CHECK(acc[static_cast<std::size_t>(epoch)].step == epoch);
        CHECK(acc[static_cast<std::size_t>(epoch)].value.simple_value ==
              static_cast<float>(0.5 + 0.1 * epoch));
    }
    const auto epochs = values_of(events, "epoch");
    REQUIRE(epochs.size() == 3);
    CHECK(epochs[2].step == 17);  // the step metric itself is plotted at the run's step
    CHECK(values_of(events, "train/loss").back().step == 16);
}

TEST_CASE("tensorboard sink: a definition overwritten without its step_metric stops using it",
          "[tensorboard][sink]") {
    test::temp_dir dir;
    auto run = runlog::init(tensorboard_settings(dir, "tb000007"));
    run.define_metric("val/acc", runlog::metric_options{}.with_step_metric("epoch"));
    run.log({{"epoch", 5}, {"val/acc", 0.5}});  // row 0: step 5
    run.define_metric("val/acc", runlog::metric_options{}.with_overwrite(true));
    run.log({{"epoch", 6}, {"val/acc", 0.6}});  // row 1: step 1
    REQUIRE(run.finish() == runlog::status::ok);
    const auto acc = values_of(events_of(dir.path, "baseline_tb000007"), "val/acc");
    REQUIRE(acc.size() == 2);
    CHECK(acc[0].step == 5);
    CHECK(acc[1].step == 1);
}

TEST_CASE("tensorboard sink: images decode back to the logged pixels", "[tensorboard][media]") {
    test::temp_dir dir;
    auto run = runlog::init(tensorboard_settings(dir, "tb000003"));
    // The letter F, red on blue: flips and channel swaps would show.
    static const char* rows[] = {"......", ".####.", ".#....", ".###..", ".#...."};
    std::vector<std::uint8_t> rgb;
    for (const char* row : rows)
        for (int x = 0; x < 6; ++x)
            rgb.insert(rgb.end(), {static_cast<std::uint8_t>(row[x] == '#' ? 255 : 0),
                                   static_cast<std::uint8_t>(row[x] == '#' ? 0 : 40),
                                   static_cast<std::uint8_t>(row[x] == '#' ? 0 : 255)});
    std::vector<std::uint8_t> gray_a(4 * 3), gray_b(4 * 3);
    for (std::size_t i = 0; i < gray_a.size(); ++i) {
        gray_a[i] = static_cast<std::uint8_t>(i * 20);
        gray_b[i] = static_cast<std::uint8_t>(255 - i * 20);
    }
    run.log({{"letter", runlog::image::from_pixels(rgb.data(), rgb.size(), 5, 6, 3)}}, 2);
    run.log_image("grays",
                  {runlog::image::from_pixels(gray_a.data(), gray_a.size(), 3, 4, 1),
                   runlog::image::from_pixels(gray_b.data(), gray_b.size(), 3, 4, 1)},
                  {}, 3);
    run.log({{"letter", runlog::image::from_pixels(rgb.data(), rgb.size(), 5, 6, 3)}}, 4);
    REQUIRE(run.finish() == runlog::status::ok);

    const auto events = events_of(dir.path, "baseline_tb000003");
    const auto letter = values_of(events, "letter");
    REQUIRE(letter.size() == 2);
    CHECK(letter[0].step == 2);
    CHECK(letter[0].value.plugin == "images");
    CHECK(letter[0].value.data_class == 3);
    CHECK(letter[1].value.plugin.empty());
    CHECK(letter[0].value.dtype == 7);
    CHECK(letter[0].value.dims == std::vector<std::int64_t>{3});
    REQUIRE(letter[0].value.strings.size() == 3);
    CHECK(letter[0].value.strings[0] == "6");  // width first
    CHECK(letter[0].value.strings[1] == "5");
    std::uint32_t w = 0, h = 0;
    CHECK(png_pixels(letter[0].value.strings[2], w, h, 3) == rgb);
    CHECK((w == 6 && h == 5));

    const auto grays = values_of(events, "grays");
    REQUIRE(grays.size() == 1);
    CHECK(grays[0].step == 3);
    REQUIRE(grays[0].value.strings.size() == 4);
    CHECK(grays[0].value.dims == std::vector<std::int64_t>{4});
    CHECK(png_pixels(grays[0].value.strings[2], w, h, 1) == gray_a);
    CHECK(png_pixels(grays[0].value.strings[3], w, h, 1) == gray_b);
    CHECK((w == 4 && h == 3));
}

TEST_CASE("tensorboard sink: histograms carry the samples' true statistics",
          "[tensorboard][histogram]") {
    test::temp_dir dir;
    auto run = runlog::init(tensorboard_settings(dir, "tb000004"));
    std::mt19937 rng(3);
    std::normal_distribution<double> normal(2.0, 3.0);
    std::vector<double> samples(1000);
    for (auto& x : samples) x = normal(rng);
    samples[10] = std::nan("");
    samples[20] = INFINITY;
    const runlog::histogram logged(samples, 30);
    run.log({{"weights", logged}}, 5);
    run.log({{"counts", runlog::histogram::from_counts({0, 3, 0, 5, 0}, {0, 1, 2, 3, 4, 5})}}, 6);
    REQUIRE(run.finish() == runlog::status::ok);

    // Statistics computed here, independently of the library.
    double min = INFINITY, max = -INFINITY, sum = 0, sum_squares = 0, num = 0;
    for (double x : samples) {
        if (!std::isfinite(x)) continue;
        min = std::min(min, x);
        max = std::max(max, x);
        sum += x;
        sum_squares += x * x;
        ++num;
    }
    const auto events = events_of(dir.path, "baseline_tb000004");
    const auto weights = values_of(events, "weights");
    REQUIRE(weights.size() == 1);
    CHECK(weights[0].step == 5);
    const test::proto_message& h = weights[0].value.histo;
    CHECK(test::as_double(h.str(1)) == min);
    CHECK(test::as_double(h.str(2)) == max);
    CHECK(test::as_double(h.str(3)) == num);
    CHECK(test::as_double(h.str(4)) == Approx(sum).epsilon(1e-12));
    CHECK(test::as_double(h.str(5)) == Approx(sum_squares).epsilon(1e-12));
    const auto limits = test::packed_doubles(h.str(6));
    const auto buckets = test::packed_doubles(h.str(7));
    REQUIRE(limits.size() == buckets.size());
    // Buckets run from the first to the last non-empty bin, right edges as limits.
    std::size_t first = 0, last = logged.counts().size();
    while (logged.counts()[first] == 0) ++first;
    while (logged.counts()[last - 1] == 0) --last;
    REQUIRE(buckets.size() == last - first);
    double total = 0;
    for (std::size_t i = first; i < last; ++i) {
        CHECK(buckets[i - first] == static_cast<double>(logged.counts()[i]));
        CHECK(limits[i - first] == logged.edges()[i + 1]);
        total += buckets[i - first];
    }
    CHECK(total == num);
    CHECK(buckets.front() > 0);
    CHECK(buckets.back() > 0);

    // From counts: no samples, so the statistics come from the non-empty bins.
    const test::proto_message c = values_of(events, "counts")[0].value.histo;
    CHECK(test::as_double(c.str(1)) == 1.0);
    CHECK(test::as_double(c.str(2)) == 4.0);
    CHECK(test::as_double(c.str(3)) == 8.0);
    CHECK(test::as_double(c.str(4)) == 3 * 1.5 + 5 * 3.5);
    CHECK(test::as_double(c.str(5)) == 3 * 2.25 + 5 * 12.25);
    CHECK(test::packed_doubles(c.str(6)) == std::vector<double>{2, 3, 4});
    CHECK(test::packed_doubles(c.str(7)) == std::vector<double>{3, 0, 5});

    // The native history keeps the statistics; W&B's shape leaves them out.
    const runlog::value as_value = runlog::to_value(logged);
    REQUIRE(as_value.find("stats") != nullptr);
    CHECK(as_value.find("stats")->find("num")->as_int() == 998);
    const auto body = runlog::detail::wandb::items_body({{"weights", as_value}}).bytes();
    const auto item =
        test::decode_proto(test::decode_proto(std::string(body.begin(), body.end())).str(1));
    CHECK(item.str(16).find("stats") == std::string::npos);
    CHECK(item.str(16).find("\"bins\"") != std::string::npos);
}

TEST_CASE("tensorboard sink: tables become text-plugin tables", "[tensorboard][media]") {
    test::temp_dir dir;
    auto run = runlog::init(tensorboard_settings(dir, "tb000005"));
    run.log_text("samples", {"input", "output"}, {{"2+2", "4"}, {"**bold**", ""}}, 4);
    runlog::table t({"id", "score", "ok"});
    t.add_row({1, 0.5, true});
    t.add_row({2, nullptr, false});
    run.log({{"scores", t}}, 5);
    REQUIRE(run.finish() == runlog::status::ok);
    const auto events = events_of(dir.path, "baseline_tb000005");
    const auto samples = values_of(events, "samples");
    REQUIRE(samples.size() == 1);
    CHECK(samples[0].step == 4);
    CHECK(samples[0].value.plugin == "text");
    CHECK(samples[0].value.dims == std::vector<std::int64_t>{3, 2});
    CHECK(samples[0].value.strings ==
          std::vector<std::string>{"input", "output", "2+2", "4", "**bold**", ""});
    const auto scores = values_of(events, "scores");
    REQUIRE(scores.size() == 1);
    CHECK(scores[0].value.dims == std::vector<std::int64_t>{3, 3});
    CHECK(scores[0].value.strings ==
          std::vector<std::string>{"id", "score", "ok", "1", "0.5", "true", "2", "", "false"});
}

namespace {
/// SessionStartInfo.hparams as name -> (kind, text): 'n' number, 's' string, 'b' bool.
std::map<std::string, std::pair<char, std::string>> session_hparams(const tb_value& v) {
    std::map<std::string, std::pair<char, std::string>> out;
    const auto data = test::decode_proto(v.plugin_content);
    const auto info = test::decode_proto(data.str(3));
    for (const auto& entry_bytes : info.all(1)) {
        const auto entry = test::decode_proto(entry_bytes);
        const auto value = test::decode_proto(entry.str(2));
        if (value.bytes.count(2)) {
            char text[64];
            std::snprintf(text, sizeof text, "%.17g", test::as_double(value.str(2)));
            out[entry.str(1)] = {'n', text};
        } else if (value.bytes.count(3)) {
            out[entry.str(1)] = {'s', value.str(3)};
        } else if (value.varints.count(4)) {
            out[entry.str(1)] = {'b', value.varint(4) ? "true" : "false"};
        }
    }
    return out;
}
}  // namespace

TEST_CASE("tensorboard sink: hparams from the flattened config, and the session's end",
          "[tensorboard][hparams]") {
    test::temp_dir dir;
    auto s = tensorboard_settings(dir, "tb000006");
    s.config = {{"lr", 0.001},
                {"optimizer", runlog::value{{"name", "adam"}, {"beta", 0.5}}},
                {"layers", runlog::value::array({1, 2})},
                {"use_amp", true}};
    auto run = runlog::init(s);
    run.config.update({{"batch", 32}});  // before the first row: included
    run.log({{"loss", 1.0}});
    run.config.update({{"late", 1}});  // after it: TensorBoard keeps the first copy anyway
    run.log({{"loss", 0.5}});
    REQUIRE(run.finish(3) == runlog::status::ok);

    const auto events = events_of(dir.path, "baseline_tb000006");
    const auto start = values_of(events, "_hparams_/session_start_info");
    REQUIRE(start.size() == 1);
    CHECK(start[0].value.plugin == "hparams");
    CHECK(start[0].value.dtype == 1);  // the null tensor: DT_FLOAT, shape [0]
    CHECK(start[0].value.dims == std::vector<std::int64_t>{0});
    const auto hparams = session_hparams(start[0].value);
    CHECK(hparams.size() == 6);
    CHECK(hparams.at("lr") == std::make_pair('n', std::string("0.001")));
    CHECK(hparams.at("optimizer/name") == std::make_pair('s', std::string("adam")));
    CHECK(hparams.at("optimizer/beta") == std::make_pair('n', std::string("0.5")));
    CHECK(hparams.at("layers") == std::make_pair('s', std::string("[1,2]")));
    CHECK(hparams.at("use_amp") == std::make_pair('b', std::string("true")));
    CHECK(hparams.at("batch") == std::make_pair('n', std::string("32")));
    const auto start_info =
        test::decode_proto(test::decode_proto(start[0].value.plugin_content).str(3));
    CHECK(test::as_double(start_info.str(5)) > 1.7e9);
    // The session starts before the first row's values.
    std::size_t start_index = 0, first_loss = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
        for (const auto& v : events[i].values) {
            if (v.tag == "_hparams_/session_start_info") start_index = i;
            if (v.tag == "loss" && first_loss == 0) first_loss = i;
        }
    }
    CHECK(start_index < first_loss);

    const auto end = values_of(events, "_hparams_/session_end_info");
    REQUIRE(end.size() == 1);
    const auto end_info =
        test::decode_proto(test::decode_proto(end[0].value.plugin_content).str(4));
    CHECK(end_info.varint(1) == 2);  // FAILURE: exit code 3
    CHECK(test::as_double(end_info.str(2)) >= test::as_double(start_info.str(5)));
    REQUIRE(events.back().values.size() == 1);
    CHECK(events.back().values.front().tag == "_hparams_/session_end_info");  // the last record
}

TEST_CASE("tensorboard sink: a killed writer leaves only complete, valid records",
          "[tensorboard][crash]") {
    test::temp_dir dir;
    REQUIRE(test::run_in_killed_child([&] {
        auto run = runlog::init(tensorboard_settings(dir, "tbcrash1"));
        for (int i = 0; i < 3000; ++i) {
            run.log({{"loss", 1.0 / (i + 1)},
                     {"text", std::string(static_cast<std::size_t>(i % 300), 'x')}});
            if (i == 1500) run.flush();
        }
        run.flush();
        for (int i = 0; i < 500; ++i) run.log({{"loss", 0.0}});
        std::raise(SIGKILL);  // while the run is alive: no finish, no destructor
    }));
    // The reader checks both CRCs of every record and the wire types of every event.
    const auto events = events_of(dir.path, "baseline_tbcrash1", true);
    CHECK(events.front().file_version == "brain.Event:2");
    const auto loss = values_of(events, "loss");
    REQUIRE(loss.size() >= 3000);  // everything before the last flush
    for (std::size_t i = 0; i < 3000; ++i) {
        CHECK(loss[i].step == static_cast<std::int64_t>(i));
        if (loss[i].value.simple_value != static_cast<float>(1.0 / static_cast<double>(i + 1)))
            FAIL("loss at step " << i);
    }
    CHECK(values_of(events, "_hparams_/session_end_info").empty());
}

TEST_CASE("export: a native run converts to the same TensorBoard events as a live sink",
          "[tensorboard][export]") {
    test::temp_dir dir;
    auto s = tensorboard_settings(dir, "tbexp001");
    s.config = {{"lr", 0.01}};
    auto run = runlog::init(s);
    run.define_metric("val/acc", runlog::metric_options{}.with_step_metric("epoch"));
    std::vector<std::uint8_t> gray(16 * 8);
    for (std::size_t i = 0; i < gray.size(); ++i) gray[i] = static_cast<std::uint8_t>(i);
    const std::vector<float> samples = {0.5f, 1.5f, 1.25f, 3.0f};
    for (int i = 0; i < 20; ++i) {
        run.log({{"loss", 1.0 / (i + 1)}, {"note", "step " + std::to_string(i)}});
        if (i % 5 == 4) {
            run.log({{"epoch", i / 5},
                     {"val/acc", 0.1 * i},
                     {"img", runlog::image::from_pixels(gray.data(), gray.size(), 8, 16, 1)},
                     {"w", runlog::histogram(samples, 4)}});
        }
    }
    run.log_text("table", {"a"}, {{"x"}});
    const fs::path run_dir = run.dir();
    REQUIRE(run.finish() == runlog::status::ok);

    // The live sink's directory exists: export refuses to overwrite it.
    const auto refused = runlog::export_to_tensorboard(run_dir);
    CHECK_FALSE(refused.ok);
    CHECK_THAT(refused.message, Catch::Contains("already exists"));

    runlog::export_options options;
    options.output_root = dir.path / "converted";
    const auto result = runlog::export_to_tensorboard(run_dir, options);
    INFO(result.message);
    REQUIRE(result.ok);
    CHECK(result.output_dir == dir.path / "converted" / "tensorboard" / "baseline_tbexp001");
    CHECK(result.media_files == 5);  // 4 images and the table

    const auto live = events_of(dir.path, "baseline_tbexp001");
    const auto converted = events_of(dir.path / "converted", "baseline_tbexp001");
    REQUIRE(live.size() == converted.size());
    for (std::size_t i = 1; i < live.size(); ++i) {  // all but file_version (its wall time)
        INFO("event " << i);
        CHECK(live[i].step == converted[i].step);
        REQUIRE(live[i].values.size() == converted[i].values.size());
        for (std::size_t k = 0; k < live[i].values.size(); ++k) {
            const auto& a = live[i].values[k];
            const auto& b = converted[i].values[k];
            CHECK(a.tag == b.tag);
            CHECK(a.plugin == b.plugin);
            if (a.tag.rfind("_hparams_", 0) != 0) {
                CHECK(live[i].wall_time == converted[i].wall_time);
                CHECK(a.plugin_content == b.plugin_content);
            }
            CHECK(a.strings == b.strings);
            CHECK(a.histo.bytes == b.histo.bytes);
            CHECK((a.simple_value == b.simple_value ||
                   (std::isnan(a.simple_value) && std::isnan(b.simple_value))));
        }
    }
}
