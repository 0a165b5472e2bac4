// SPDX-License-Identifier: MIT
#pragma once
// A protobuf wire-format writer: the wire types W&B's records and TensorBoard's events need —
// varint (0), fixed64 (1), length-delimited (2) and fixed32 (5) — appended to a byte buffer. Nested
// messages are written by building them in their own writer and adding the bytes, which keeps the
// code obvious; the records are small. Pure: no schema, no reflection, no allocation beyond the
// buffer.
//
//     proto_writer history;
//     history.message(1, proto_writer().string(1, "loss").string(16, "0.5"));
//     proto_writer record;
//     record.int64(1, 2).message(2, history);

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace runlog {
inline namespace v0 {
namespace detail {

class proto_writer {
  public:
    /// Unsigned varint field; 0 is written too (callers skip defaults when they want).
    proto_writer& uint64(std::uint32_t field, std::uint64_t v) {
        tag(field, 0);
        raw_varint(v);
        return *this;
    }
    /// int32/int64 fields: negative values are 10-byte two's-complement varints, as protobuf does.
    proto_writer& int64(std::uint32_t field, std::int64_t v) {
        return uint64(field, static_cast<std::uint64_t>(v));
    }
    proto_writer& boolean(std::uint32_t field, bool v) { return uint64(field, v ? 1u : 0u); }
    proto_writer& fixed64_double(std::uint32_t field, double v) {
        tag(field, 1);
        std::uint64_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
        return *this;
    }
    proto_writer& fixed32_float(std::uint32_t field, float v) {
        tag(field, 5);
        std::uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
        return *this;
    }
    /// A packed repeated double field (one length-delimited field of 8-byte values).
    proto_writer& packed_doubles(std::uint32_t field, const std::vector<double>& values) {
        tag(field, 2);
        raw_varint(values.size() * 8);
        for (double v : values) {
            std::uint64_t bits;
            std::memcpy(&bits, &v, sizeof bits);
            for (int i = 0; i < 8; ++i)
                bytes_.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
        }
        return *this;
    }
    proto_writer& binary(std::uint32_t field, const std::vector<std::uint8_t>& b) {
        return string(field, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    }
    proto_writer& string(std::uint32_t field, std::string_view s) {
        tag(field, 2);
        raw_varint(s.size());
        bytes_.insert(bytes_.end(), s.begin(), s.end());
        return *this;
    }
    /// A nested message, written even when empty (an empty oneof member still names the type).
    proto_writer& message(std::uint32_t field, const proto_writer& m) {
        tag(field, 2);
        raw_varint(m.bytes_.size());
        bytes_.insert(bytes_.end(), m.bytes_.begin(), m.bytes_.end());
        return *this;
    }

    const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }
    std::size_t size() const noexcept { return bytes_.size(); }

  private:
    void tag(std::uint32_t field, std::uint32_t wire_type) {
        raw_varint((std::uint64_t{field} << 3u) | wire_type);
    }
    void raw_varint(std::uint64_t v) {
        while (v >= 0x80u) {
            bytes_.push_back(static_cast<std::uint8_t>(v | 0x80u));
            v >>= 7u;
        }
        bytes_.push_back(static_cast<std::uint8_t>(v));
    }

    std::vector<std::uint8_t> bytes_;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
