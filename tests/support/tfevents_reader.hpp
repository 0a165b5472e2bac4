// SPDX-License-Identifier: MIT
#pragma once
// A test-only reader for TensorBoard event files, written from tensorboard-format.md (not from
// TensorBoard's code): checks the TFRecord framing and both masked CRC-32Cs of every record, then
// decodes each Event with the field numbers and wire types of event.proto / summary.proto /
// histogram.proto / tensor.proto, rejecting a known field sent with the wrong wire type (which
// TensorBoard would silently skip). Throws std::runtime_error naming the record on a violation.

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <runlog/detail/tfrecord.hpp>

#include "wandb_reader.hpp"  // decode_proto

namespace test {

/// The payloads of all complete records. `allow_torn_tail` accepts a file that ends inside a
/// record (a killed writer; TensorBoard waits for the rest) and returns what came before.
inline std::vector<std::string> read_tfrecords(const std::string& file,
                                               bool allow_torn_tail = false) {
    std::vector<std::string> out;
    std::size_t at = 0;
    auto u32 = [&](std::size_t i) {
        std::uint32_t v = 0;
        for (int k = 3; k >= 0; --k)
            v = (v << 8u) | static_cast<std::uint8_t>(file[i + static_cast<std::size_t>(k)]);
        return v;
    };
    while (at < file.size()) {
        const std::string where =
            "record " + std::to_string(out.size()) + " at byte " + std::to_string(at);
        if (at + 12 > file.size()) {
            if (allow_torn_tail) break;
            throw std::runtime_error(where + ": truncated header");
        }
        std::uint64_t n = 0;
        for (int k = 7; k >= 0; --k)
            n = (n << 8u) | static_cast<std::uint8_t>(file[at + static_cast<std::size_t>(k)]);
        if (u32(at + 8) != runlog::detail::masked_crc32c(file.data() + at, 8))
            throw std::runtime_error(where + ": bad length CRC");
        if (at + 16 + n > file.size()) {
            if (allow_torn_tail) break;
            throw std::runtime_error(where + ": truncated payload");
        }
        const std::string payload = file.substr(at + 12, static_cast<std::size_t>(n));
        if (u32(at + 12 + static_cast<std::size_t>(n)) !=
            runlog::detail::masked_crc32c(payload.data(), payload.size()))
            throw std::runtime_error(where + ": bad payload CRC");
        out.push_back(payload);
        at += 16 + static_cast<std::size_t>(n);
    }
    return out;
}

inline double as_double(const std::string& eight) {
    double d;
    std::memcpy(&d, eight.data(), 8);
    return d;
}

inline float as_float(const std::string& four) {
    float f;
    std::memcpy(&f, four.data(), 4);
    return f;
}

inline std::vector<double> packed_doubles(const std::string& bytes) {
    std::vector<double> out(bytes.size() / 8);
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * 8);
    return out;
}

/// Throws unless every listed field of `m` has the expected wire type: 'v' varint, 'd' fixed64,
/// 'f' fixed32, 'l' length-delimited (decode_proto keeps fixed64/fixed32 as 8/4-byte strings).
inline void expect_wire_types(const proto_message& m, const std::string& what,
                              const std::vector<std::pair<std::uint32_t, char>>& fields) {
    for (const auto& [field, type] : fields) {
        const bool as_varint = m.varints.count(field) != 0;
        const auto it = m.bytes.find(field);
        bool ok = true;
        if (type == 'v') ok = it == m.bytes.end();
        if (type != 'v') ok = !as_varint;
        if (type == 'd' && it != m.bytes.end())
            for (const auto& b : it->second) ok = ok && b.size() == 8;
        if (type == 'f' && it != m.bytes.end())
            for (const auto& b : it->second) ok = ok && b.size() == 4;
        if (!ok)
            throw std::runtime_error(what + " field " + std::to_string(field) +
                                     " has the wrong wire type");
    }
}

struct tb_value {
    std::string tag;
    bool has_simple_value = false;
    float simple_value = 0.0f;
    std::string plugin;  // metadata.plugin_data.plugin_name, "" without metadata
    std::string plugin_content;
    std::uint64_t data_class = 0;
    proto_message histo;  // HistogramProto fields
    bool has_histo = false;
    std::vector<std::string> strings;  // tensor.string_val
    std::vector<std::int64_t> dims;    // tensor.tensor_shape.dim[].size
    std::uint64_t dtype = 0;
    bool has_tensor = false;
};

struct tb_event {
    double wall_time = 0.0;
    std::int64_t step = 0;
    std::string file_version;
    int session_log_status = 0;  // SessionLog.status: 1 START (rewind_to_step)
    std::string writer;
    std::vector<tb_value> values;
};

inline tb_event decode_event(const std::string& payload) {
    const proto_message e = decode_proto(payload);
    expect_wire_types(e, "Event", {{1, 'd'}, {2, 'v'}, {3, 'l'}, {5, 'l'}, {7, 'l'}, {10, 'l'}});
    tb_event out;
    if (!e.bytes.count(1)) throw std::runtime_error("Event without wall_time");
    out.wall_time = as_double(e.str(1));
    out.step = static_cast<std::int64_t>(e.varint(2));
    out.file_version = e.str(3);
    if (e.has(7)) out.session_log_status = static_cast<int>(decode_proto(e.str(7)).varint(1));
    if (e.has(10)) out.writer = decode_proto(e.str(10)).str(1);
    if (!e.has(5)) return out;
    const proto_message summary = decode_proto(e.str(5));
    expect_wire_types(summary, "Summary", {{1, 'l'}});
    for (const auto& bytes : summary.all(1)) {
        const proto_message v = decode_proto(bytes);
        expect_wire_types(v, "Summary.Value", {{1, 'l'}, {2, 'f'}, {5, 'l'}, {8, 'l'}, {9, 'l'}});
        tb_value value;
        value.tag = v.str(1);
        if (v.bytes.count(2)) {
            value.has_simple_value = true;
            value.simple_value = as_float(v.str(2));
        }
        if (v.has(9)) {
            const proto_message meta = decode_proto(v.str(9));
            expect_wire_types(meta, "SummaryMetadata", {{1, 'l'}, {4, 'v'}});
            const proto_message plugin = decode_proto(meta.str(1));
            expect_wire_types(plugin, "PluginData", {{1, 'l'}, {2, 'l'}});
            value.plugin = plugin.str(1);
            value.plugin_content = plugin.str(2);
            value.data_class = meta.varint(4);
        }
        if (v.has(5)) {
            value.has_histo = true;
            value.histo = decode_proto(v.str(5));
            expect_wire_types(
                value.histo, "HistogramProto",
                {{1, 'd'}, {2, 'd'}, {3, 'd'}, {4, 'd'}, {5, 'd'}, {6, 'l'}, {7, 'l'}});
        }
        if (v.has(8)) {
            value.has_tensor = true;
            const proto_message t = decode_proto(v.str(8));
            expect_wire_types(t, "TensorProto", {{1, 'v'}, {2, 'l'}, {8, 'l'}});
            value.dtype = t.varint(1);
            value.strings = t.all(8);
            for (const auto& dim : decode_proto(t.str(2)).all(2))
                value.dims.push_back(static_cast<std::int64_t>(decode_proto(dim).varint(1)));
        }
        out.values.push_back(std::move(value));
    }
    return out;
}

inline std::vector<tb_event> read_events(const std::string& file, bool allow_torn_tail = false) {
    std::vector<tb_event> out;
    for (const auto& payload : read_tfrecords(file, allow_torn_tail))
        out.push_back(decode_event(payload));
    return out;
}

}  // namespace test
