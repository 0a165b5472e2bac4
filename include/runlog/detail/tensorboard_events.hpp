// SPDX-License-Identifier: MIT
#pragma once
// Encoders for TensorBoard `Event` protobufs (tensorboard-format.md §4–10): pure functions from
// values to serialized bytes. The forms chosen are the ones both TensorBoard loaders read:
//
// - scalars: legacy float32 `simple_value` — the smallest, needs no metadata. The hot path,
//   append_scalars_record(), writes the framed record straight into the output buffer in one pass
//   (same bytes as append_tfrecord(summary_event(...)), which the tests check);
// - histograms: legacy `HistogramProto` (min, max, num, sum, sum_squares, bucket limits, counts);
// - images: the `images` plugin's rank-1 string tensor [width, height, png...];
// - text: the `text` plugin's string tensor (rank 0 for one string, rank 2 for a table);
// - hparams: `session_start_info` / `session_end_info` carried in the `hparams` plugin's metadata,
//   with the null tensor as value.
//
// Whether a value carries its plugin metadata is the caller's choice (the loaders keep the first
// metadata per tag, so the sink attaches it to the first value of each tag in a file).

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../value.hpp"
#include "../version.hpp"
#include "json_writer.hpp"
#include "protobuf.hpp"
#include "protobuf_reader.hpp"
#include "tfrecord.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {
namespace tensorboard {

enum class data_class : int { unknown = 0, scalar = 1, tensor = 2, blob_sequence = 3 };
enum class session_status : int { unknown = 0, success = 1, failure = 2, running = 3 };
constexpr int dt_float = 1;
constexpr int dt_string = 7;

/// Event{wall_time, file_version: "brain.Event:2", source_metadata{writer}}.
inline std::vector<std::uint8_t> file_version_event(double wall_time) {
    proto_writer e;
    e.fixed64_double(1, wall_time)
        .string(3, "brain.Event:2")
        .message(10, proto_writer().string(1, "runlog " RUNLOG_VERSION_STRING));
    return e.bytes();
}

/// Event{wall_time, step, summary}; `summary` holds Summary.Value messages (field 1 each).
inline std::vector<std::uint8_t> summary_event(double wall_time, std::int64_t step,
                                               const proto_writer& summary) {
    proto_writer e;
    e.fixed64_double(1, wall_time);
    if (step != 0) e.int64(2, step);
    e.message(5, summary);
    return e.bytes();
}

/// Event{wall_time, step, session_log{status: START}}. TensorBoard's Python loader takes the first
/// START of a run as its start and every later one as a restart: it drops what it loaded at
/// `step` or later (keeps `x.step < event.step`: _CheckForRestartAndMaybePurge and _Purge in
/// tensorboard/backend/event_processing/plugin_event_accumulator.py). The Rust loader ignores it.
inline std::vector<std::uint8_t> session_log_start_event(double wall_time, std::int64_t step) {
    proto_writer e;
    e.fixed64_double(1, wall_time);
    if (step != 0) e.int64(2, step);
    e.message(7, proto_writer().uint64(1, 1));  // status START
    return e.bytes();
}

/// SummaryMetadata{plugin_data{plugin_name, content}, data_class}; empty content and an unknown
/// data class are left out, as proto3 does.
inline proto_writer plugin_metadata(std::string_view plugin, data_class kind,
                                    const proto_writer& content = proto_writer()) {
    proto_writer data;
    data.string(1, plugin);
    if (content.size() > 0) data.message(2, content);
    proto_writer m;
    m.message(1, data);
    if (kind != data_class::unknown) m.int64(4, static_cast<int>(kind));
    return m;
}

/// Summary.Value{tag, simple_value}.
inline proto_writer scalar_value(std::string_view tag, float v) {
    return proto_writer().string(1, tag).fixed32_float(2, v);
}

struct histogram_proto {
    double min = 0.0, max = 0.0, num = 0.0, sum = 0.0, sum_squares = 0.0;
    std::vector<double> bucket_limit;  // right edge of each bucket
    std::vector<double> bucket;        // count in each bucket
};

/// Summary.Value{tag, histo: HistogramProto}.
inline proto_writer histogram_value(std::string_view tag, const histogram_proto& h) {
    proto_writer histo;
    histo.fixed64_double(1, h.min)
        .fixed64_double(2, h.max)
        .fixed64_double(3, h.num)
        .fixed64_double(4, h.sum)
        .fixed64_double(5, h.sum_squares);
    if (!h.bucket.empty()) histo.packed_doubles(6, h.bucket_limit).packed_doubles(7, h.bucket);
    return proto_writer().string(1, tag).message(5, histo);
}

/// TensorProto{dtype: DT_STRING, tensor_shape{dim...}, string_val...}; no dims is rank 0.
template <class Strings>
proto_writer string_tensor(const Strings& strings, const std::vector<std::int64_t>& dims) {
    proto_writer shape;
    for (std::int64_t d : dims) shape.message(2, proto_writer().int64(1, d));
    proto_writer t;
    t.int64(1, dt_string).message(2, shape);
    for (const auto& s : strings) t.string(8, std::string_view(s.data(), s.size()));
    return t;
}

/// Summary.Value{tag, [metadata], tensor}.
inline proto_writer tensor_value(std::string_view tag, const proto_writer* metadata,
                                 const proto_writer& tensor) {
    proto_writer v;
    v.string(1, tag);
    if (metadata != nullptr) v.message(9, *metadata);
    v.message(8, tensor);
    return v;
}

/// The images plugin's value: a rank-1 string tensor [width, height, image bytes...].
inline proto_writer images_value(std::string_view tag, bool with_metadata, std::uint32_t width,
                                 std::uint32_t height,
                                 const std::vector<std::string_view>& encoded_images) {
    std::vector<std::string_view> elements;
    const std::string w = std::to_string(width), h = std::to_string(height);
    elements.push_back(w);
    elements.push_back(h);
    elements.insert(elements.end(), encoded_images.begin(), encoded_images.end());
    const proto_writer metadata = plugin_metadata("images", data_class::blob_sequence);
    return tensor_value(tag, with_metadata ? &metadata : nullptr,
                        string_tensor(elements, {static_cast<std::int64_t>(elements.size())}));
}

/// The text plugin's value: Markdown strings, rank 0 (one string, no dims) or a table.
inline proto_writer text_value(std::string_view tag, bool with_metadata,
                               const std::vector<std::string>& strings,
                               const std::vector<std::int64_t>& dims) {
    const proto_writer metadata = plugin_metadata("text", data_class::tensor);
    return tensor_value(tag, with_metadata ? &metadata : nullptr, string_tensor(strings, dims));
}

/// google.protobuf.Value for one hyperparameter: number, string or bool; other values (arrays,
/// null) become their JSON text, since the HParams dashboard shows scalars only.
inline proto_writer hparam_value(const value& v) {
    proto_writer out;
    if (v.is_number()) {
        out.fixed64_double(2, v.as_double());
    } else if (v.is_string()) {
        out.string(3, to_valid_utf8(v.as_string()));  // a protobuf string: UTF-8 or unreadable
    } else if (v.is_bool()) {
        out.boolean(4, v.as_bool());
    } else {
        out.string(3, v.dump());
    }
    return out;
}

/// Summary.Value for the hparams plugin: HParamsPluginData in the metadata, the null tensor
/// (DT_FLOAT, shape [0]) as value.
inline proto_writer hparams_value(std::string_view tag, const proto_writer& plugin_data) {
    const proto_writer null_tensor =
        proto_writer().int64(1, dt_float).message(2, proto_writer().message(2, proto_writer()));
    const proto_writer metadata = plugin_metadata("hparams", data_class::unknown, plugin_data);
    return tensor_value(tag, &metadata, null_tensor);
}

/// `_hparams_/session_start_info`: the flattened config as the trial's hyperparameters.
inline proto_writer session_start_value(const value::object_type& hparams, double start_time) {
    proto_writer info;
    for (const auto& [name, v] : hparams)
        info.message(1, proto_writer().string(1, to_valid_utf8(name)).message(2, hparam_value(v)));
    info.fixed64_double(5, start_time);
    return hparams_value("_hparams_/session_start_info", proto_writer().message(3, info));
}

/// `_hparams_/session_end_info`: how the trial ended.
inline proto_writer session_end_value(session_status status, double end_time) {
    proto_writer info;
    info.int64(1, static_cast<int>(status)).fixed64_double(2, end_time);
    return hparams_value("_hparams_/session_end_info", proto_writer().message(4, info));
}

/// The TFRecord-framed events of `file` without the hparams plugin's values
/// (`_hparams_/...`), and without an event left empty by that; a torn or damaged tail is cut.
/// TensorBoard keeps the first hparams metadata of a run, so a resumed run removes its earlier
/// sessions' from their files and the last session's hyperparameters and end are what it shows.
inline std::string events_without_hparams(std::string_view file) {
    std::string out;
    read_tfrecords(file, [&](std::string_view event, std::size_t) {
        proto_reader fields(event);
        proto_writer kept, summary;
        bool has_summary = false, changed = false;
        std::size_t values = 0;
        for (proto_reader::field f; fields.next(f);) {
            if (f.number != 5 || f.wire_type != 2) {
                kept.raw(f.raw);
                continue;
            }
            has_summary = true;
            proto_reader summary_fields(f.bytes);
            for (proto_reader::field v; summary_fields.next(v);) {
                std::string_view tag;
                proto_reader value_fields(v.bytes);
                for (proto_reader::field t; value_fields.next(t);)
                    if (t.number == 1 && t.wire_type == 2) tag = t.bytes;
                if (v.number == 1 && tag.substr(0, 10) == "_hparams_/") {
                    changed = true;
                    continue;
                }
                summary.raw(v.raw);
                ++values;
            }
        }
        if (!changed) {
            append_tfrecord(reinterpret_cast<const std::uint8_t*>(event.data()), event.size(), out);
        } else if (!has_summary || values > 0) {
            kept.message(5, summary);
            append_tfrecord(kept.data(), kept.size(), out);
        }
        return true;
    });
    return out;
}

/// One scalar of a row, for append_scalars_record().
struct scalar {
    std::string_view tag;
    float value = 0.0f;
};

inline std::size_t varint_size(std::uint64_t v) noexcept {
    std::size_t n = 1;
    while (v >= 0x80u) v >>= 7u, ++n;
    return n;
}

inline std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) noexcept {
    while (v >= 0x80u) {
        *p++ = static_cast<std::uint8_t>(v | 0x80u);
        v >>= 7u;
    }
    *p++ = static_cast<std::uint8_t>(v);
    return p;
}

inline std::uint8_t* put_le(std::uint8_t* p, std::uint64_t v, int bytes) noexcept {
    for (int i = 0; i < bytes; ++i) *p++ = static_cast<std::uint8_t>(v >> (8 * i));
    return p;
}

/// Appends the framed record of Event{wall_time, step, summary{value{tag, simple_value}...}} to
/// `out` in one pass: sizes first, then the bytes in place, then the two CRCs.
template <class Buffer>
void append_scalars_record(Buffer& out, double wall_time, std::int64_t step, const scalar* scalars,
                           std::size_t n) {
    std::size_t summary_size = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t value_size =
            1 + varint_size(scalars[i].tag.size()) + scalars[i].tag.size() + 5;
        summary_size += 1 + varint_size(value_size) + value_size;
    }
    const auto step_bits = static_cast<std::uint64_t>(step);
    const std::size_t payload_size = 9 + (step != 0 ? 1 + varint_size(step_bits) : 0) + 1 +
                                     varint_size(summary_size) + summary_size;
    const std::size_t start = out.size();
    out.resize(start + 12 + payload_size + 4);
    auto* const record = reinterpret_cast<std::uint8_t*>(&out[start]);
    put_le(record, payload_size, 8);
    put_le(record + 8, masked_crc32c(record, 8), 4);
    std::uint8_t* p = record + 12;
    std::uint64_t wall_bits;
    std::memcpy(&wall_bits, &wall_time, 8);
    *p++ = 0x09;  // field 1, fixed64
    p = put_le(p, wall_bits, 8);
    if (step != 0) {
        *p++ = 0x10;  // field 2, varint
        p = put_varint(p, step_bits);
    }
    *p++ = 0x2a;  // field 5, length-delimited
    p = put_varint(p, summary_size);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view tag = scalars[i].tag;
        *p++ = 0x0a;  // Summary.value
        p = put_varint(p, 1 + varint_size(tag.size()) + tag.size() + 5);
        *p++ = 0x0a;  // Value.tag
        p = put_varint(p, tag.size());
        std::memcpy(p, tag.data(), tag.size());
        p += tag.size();
        std::uint32_t bits;
        std::memcpy(&bits, &scalars[i].value, 4);
        *p++ = 0x15;  // Value.simple_value, fixed32
        p = put_le(p, bits, 4);
    }
    put_le(p, masked_crc32c(record + 12, payload_size), 4);
}

}  // namespace tensorboard
}  // namespace detail
}  // namespace v0
}  // namespace runlog
