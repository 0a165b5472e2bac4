// SPDX-License-Identifier: MIT
#pragma once
// A protobuf wire-format reader, the counterpart of protobuf.hpp's writer, for the few places
// that read back files runlog wrote: `runlog finalize` (the last records of a .wandb file) and a
// resumed TensorBoard run (its earlier event files). No schema: it walks the fields of one
// message in order, and stops — ok() false — at the first malformed one, so damaged input ends
// the walk instead of being misread.
//
//     proto_reader r(bytes);
//     for (proto_reader::field f; r.next(f);)
//         if (f.number == 1 && f.wire_type == 2) use(f.bytes);

#include <cstdint>
#include <cstring>
#include <string_view>

namespace runlog {
inline namespace v0 {
namespace detail {

class proto_reader {
  public:
    struct field {
        std::uint32_t number = 0;
        std::uint32_t wire_type = 0;  // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
        std::uint64_t varint = 0;     // wire type 0; fixed64/fixed32 bits for 1 and 5
        std::string_view bytes;       // wire type 2: the payload
        std::string_view raw;         // the whole field, tag included (to copy it unchanged)
    };

    explicit proto_reader(std::string_view message) noexcept : data_(message) {}

    /// The next field; false at the end of the message or at a malformed field (see ok()).
    bool next(field& f) noexcept {
        if (pos_ >= data_.size()) return false;
        const std::size_t start = pos_;
        std::uint64_t key = 0;
        if (!read_varint(key) || (key >> 3u) == 0 || (key >> 3u) > 0x1FFFFFFFu) return fail();
        f.number = static_cast<std::uint32_t>(key >> 3u);
        f.wire_type = static_cast<std::uint32_t>(key & 7u);
        f.bytes = {};
        switch (f.wire_type) {
            case 0:
                if (!read_varint(f.varint)) return fail();
                break;
            case 1:
            case 5: {
                const std::size_t n = f.wire_type == 1 ? 8 : 4;
                if (data_.size() - pos_ < n) return fail();
                f.varint = 0;
                for (std::size_t i = 0; i < n; ++i)
                    f.varint |= std::uint64_t{static_cast<unsigned char>(data_[pos_ + i])}
                                << (8 * i);
                pos_ += n;
                break;
            }
            case 2: {
                std::uint64_t n = 0;
                if (!read_varint(n) || n > data_.size() - pos_) return fail();
                f.bytes = data_.substr(pos_, static_cast<std::size_t>(n));
                pos_ += static_cast<std::size_t>(n);
                break;
            }
            default:
                return fail();
        }
        f.raw = data_.substr(start, pos_ - start);
        return true;
    }

    /// False once a malformed field was met.
    bool ok() const noexcept { return ok_; }

    /// A fixed64 field's bits as the double they hold.
    static double as_double(const field& f) noexcept {
        double d;
        std::memcpy(&d, &f.varint, sizeof d);
        return d;
    }

  private:
    bool read_varint(std::uint64_t& v) noexcept {
        v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos_ >= data_.size()) return false;
            const auto b = static_cast<unsigned char>(data_[pos_++]);
            v |= std::uint64_t{b & 0x7Fu} << shift;
            if ((b & 0x80u) == 0) return true;
        }
        return false;
    }
    bool fail() noexcept {
        ok_ = false;
        pos_ = data_.size();
        return false;
    }

    std::string_view data_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
