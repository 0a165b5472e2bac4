// SPDX-License-Identifier: MIT
#pragma once
// A protobuf wire-format writer: the wire types W&B's records and TensorBoard's events need —
// varint (0), fixed64 (1), length-delimited (2) and fixed32 (5) — appended to a byte buffer. Nested
// messages are written either by building them in their own writer and adding the bytes, which
// keeps rare records obvious, or in place between begin() and end(), which the per-row records use
// so that a row costs no allocation once the buffer has grown. Pure: no schema, no reflection, no
// allocation beyond the buffer.
//
//     proto_writer history;
//     history.message(1, proto_writer().string(1, "loss").string(16, "0.5"));
//     proto_writer record;
//     record.int64(1, 2).message(2, history);
//
//     record.clear();                       // the same bytes, in place
//     const auto body = record.int64(1, 2).begin(2);
//     const auto item = record.begin(1);
//     record.string(1, "loss").string(16, "0.5").end(item);
//     record.end(body);

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../config.hpp"

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
        little_endian(v);
        return *this;
    }
    proto_writer& fixed32_float(std::uint32_t field, float v) {
        tag(field, 5);
        little_endian(v);
        return *this;
    }
    /// A packed repeated double field (one length-delimited field of 8-byte values).
    proto_writer& packed_doubles(std::uint32_t field, const std::vector<double>& values) {
        tag(field, 2);
        raw_varint(values.size() * 8);
        for (double v : values) little_endian(v);
        return *this;
    }
    proto_writer& binary(std::uint32_t field, const std::vector<std::uint8_t>& b) {
        return string(field, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    }
    proto_writer& string(std::uint32_t field, std::string_view s) {
        // One bounds check for tag, length and bytes: the .wandb writer's most frequent call.
        std::uint8_t* start = room(2 * max_varint + s.size());
        std::uint8_t* p = start + varint((std::uint64_t{field} << 3u) | 2u, start);
        p += varint(s.size(), p);
        if (!s.empty()) std::memcpy(p, s.data(), s.size());
        size_ -= 2 * max_varint - static_cast<std::size_t>(p - start);
        return *this;
    }
    /// Bytes that are already encoded fields (copied from a message proto_reader read).
    proto_writer& raw(std::string_view fields) {
        append(fields.data(), fields.size());
        return *this;
    }
    /// A nested message, written even when empty (an empty oneof member still names the type).
    proto_writer& message(std::uint32_t field, const proto_writer& m) {
        tag(field, 2);
        raw_varint(m.size_);
        append(m.data(), m.size_);
        return *this;
    }

    /// Opens a length-delimited field written in place; returns the mark to pass to end().
    std::size_t begin(std::uint32_t field) {
        tag(field, 2);
        *room(1) = 0;  // the length, when it fits one byte (else end() makes room)
        return size_;
    }
    /// Closes the field begin() opened (fields opened inside it must be closed first).
    proto_writer& end(std::size_t mark) {
        const std::size_t n = size_ - mark;
        std::uint8_t length[10];
        const std::size_t k = varint(n, length);
        if (k > 1) {
            room(k - 1);
            std::memmove(buffer_.data() + mark + k - 1, buffer_.data() + mark, n);
        }
        std::memcpy(buffer_.data() + mark - 1, length, k);
        return *this;
    }

    /// Empties the writer and keeps its buffer.
    void clear() noexcept { size_ = 0; }

    /// A copy of what was written (data() and size() read it in place).
    std::vector<std::uint8_t> bytes() const {
        return std::vector<std::uint8_t>(buffer_.begin(),
                                         buffer_.begin() + static_cast<std::ptrdiff_t>(size_));
    }
    const std::uint8_t* data() const noexcept { return buffer_.data(); }
    std::size_t size() const noexcept { return size_; }

  private:
    // buffer_ grows geometrically and size_ counts the bytes written: appending is a bounds
    // check and a copy, with no call per byte (vector::push_back per byte was a fifth of the
    // .wandb writer's time under callgrind).
    std::uint8_t* room(std::size_t n) {
        if (size_ + n > buffer_.size()) grow(n);
        std::uint8_t* p = buffer_.data() + size_;
        size_ += n;
        return p;
    }
    RUNLOG_NOINLINE void grow(std::size_t n) {
        buffer_.resize(std::max(2 * buffer_.size(), size_ + n + 64));
    }
    void append(const void* p, std::size_t n) {
        if (n > 0) std::memcpy(room(n), p, n);
    }
    template <class T>
    void little_endian(T v) {
        static_assert(sizeof(T) == 4 || sizeof(T) == 8, "fixed32/fixed64 only");
        std::uint8_t out[sizeof(T)];
        std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t> bits;
        std::memcpy(&bits, &v, sizeof bits);
        for (std::size_t i = 0; i < sizeof(T); ++i)
            out[i] = static_cast<std::uint8_t>(bits >> (8 * i));
        append(out, sizeof out);
    }
    static std::size_t varint(std::uint64_t v, std::uint8_t* out) noexcept {
        std::size_t k = 0;
        for (; v >= 0x80u; v >>= 7u) out[k++] = static_cast<std::uint8_t>(v | 0x80u);
        out[k++] = static_cast<std::uint8_t>(v);
        return k;
    }
    void tag(std::uint32_t field, std::uint32_t wire_type) {
        raw_varint((std::uint64_t{field} << 3u) | wire_type);
    }
    void raw_varint(std::uint64_t v) {
        if (v < 0x80u) {  // tags and short lengths: most varints, no local array to guard
            *room(1) = static_cast<std::uint8_t>(v);
            return;
        }
        long_varint(v);
    }
    RUNLOG_NOINLINE void long_varint(std::uint64_t v) {
        std::uint8_t* p = room(max_varint);
        size_ -= max_varint - varint(v, p);
    }

    static constexpr std::size_t max_varint = 10;  // bytes of a 64-bit varint

    std::vector<std::uint8_t> buffer_;
    std::size_t size_ = 0;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
