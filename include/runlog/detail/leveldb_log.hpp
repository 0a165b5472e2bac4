// SPDX-License-Identifier: MIT
#pragma once
// The framing of W&B's .wandb transaction log: LevelDB's log format with a 7-byte W&B header and
// plain CRC-32 (IEEE, unmasked) over the chunk type byte and payload
// (wandb-offline-format.md §2).
//
// The file is a sequence of 32 KiB blocks (the 7-byte file header counts as the start of block 0).
// A record becomes one FULL chunk if it fits in what is left of the block, else FIRST (filling the
// block, possibly with 0 bytes of payload), MIDDLE chunks of whole blocks, and LAST. When fewer
// than 7 bytes are left in a block, they are zero-filled before the next chunk — never at close.
// Pure: the writer appends framed bytes to a byte buffer (std::string or std::vector) and tracks
// the file offset; writing the bytes to disk is the caller's business. The reader walks the whole
// records of a file's bytes (`runlog finalize` continues a killed run's file after them).

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "checksums.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

class leveldb_log_writer {
  public:
    static constexpr std::size_t block_size = 32768;
    static constexpr std::size_t header_size = 7;
    enum chunk_type : std::uint8_t { full = 1, first = 2, middle = 3, last = 4 };

    /// `offset`: where in the file the next bytes go (a file that already holds `offset` bytes
    /// of whole records is continued; block arithmetic uses the absolute offset).
    explicit leveldb_log_writer(std::uint64_t offset = 0) noexcept : offset_(offset) {}

    /// The 7-byte file header: ":W&B", magic 0xBEE1 little-endian, version 0.
    template <class Buffer>
    void write_file_header(Buffer& out) {
        static const std::uint8_t header[7] = {0x3A, 0x57, 0x26, 0x42, 0xE1, 0xBE, 0x00};
        out.insert(out.end(), header, header + 7);
        offset_ += 7;
    }

    /// Appends one record's chunks to `out`.
    template <class Buffer>
    void write_record(const std::uint8_t* payload, std::size_t n, Buffer& out) {
        bool begun = false;
        do {
            std::size_t left = block_size - offset_ % block_size;
            if (left < header_size) {
                out.insert(out.end(), left,
                           typename Buffer::value_type{0});  // trailer: only before another chunk
                offset_ += left;
                left = block_size;
            }
            const std::size_t room = left - header_size;
            const std::size_t take = n < room ? n : room;
            const bool ends = take == n;
            const std::uint8_t type = !begun ? (ends ? full : first) : (ends ? last : middle);
            write_chunk(type, payload, take, out);
            payload += take;
            n -= take;
            begun = true;
            if (ends) break;
        } while (true);
    }

    std::uint64_t offset() const noexcept { return offset_; }

  private:
    // std::string::insert from unsigned char pointers builds a temporary string (an allocation
    // per record under callgrind); append() copies straight in.
    template <class Buffer, class Byte>
    static void append(Buffer& out, const Byte* p, std::size_t n) {
        if constexpr (std::is_same_v<typename Buffer::value_type, char>) {
            out.append(reinterpret_cast<const char*>(p), n);
        } else {
            out.insert(out.end(), p, p + n);
        }
    }

    template <class Buffer>
    void write_chunk(std::uint8_t type, const std::uint8_t* data, std::size_t n, Buffer& out) {
        const std::uint32_t crc = crc32(data, n, crc32(&type, 1));
        using byte = typename Buffer::value_type;
        const byte header[header_size] = {static_cast<byte>(crc & 0xFFu),
                                          static_cast<byte>((crc >> 8u) & 0xFFu),
                                          static_cast<byte>((crc >> 16u) & 0xFFu),
                                          static_cast<byte>(crc >> 24u),
                                          static_cast<byte>(n & 0xFFu),
                                          static_cast<byte>(n >> 8u),
                                          static_cast<byte>(type)};
        append(out, header, header_size);  // one call, not seven push_backs
        append(out, data, n);
        offset_ += header_size + n;
    }

    std::uint64_t offset_ = 0;
};

/// True if `file` starts with the .wandb file header.
inline bool has_wandb_file_header(std::string_view file) noexcept {
    return file.size() >= 7 && file.compare(0, 7, "\x3A\x57\x26\x42\xE1\xBE\x00", 7) == 0;
}

/// Calls `record(payload, end)` for each whole record of the .wandb file `file` (header
/// included), in order (`end`: the offset after it), while it returns true, and returns the
/// offset after the last record it took: a tail cut short (a killed writer), a bad CRC or a chunk
/// out of sequence ends the walk there, as wandb's readers stop. 0 when the file header is
/// missing.
template <class F>
std::size_t read_leveldb_log(std::string_view file, F&& record) {
    constexpr std::size_t block = leveldb_log_writer::block_size;
    constexpr std::size_t header = leveldb_log_writer::header_size;
    if (!has_wandb_file_header(file)) return 0;
    std::size_t offset = 7, end = 7;
    std::string partial;
    bool in_record = false;
    while (offset < file.size()) {
        const std::size_t left = block - offset % block;
        if (left < header) {  // the trailer: zeros before the next block
            offset += left;
            continue;
        }
        if (file.size() - offset < header) break;
        const auto* p = reinterpret_cast<const std::uint8_t*>(file.data() + offset);
        const std::uint32_t crc = std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8u) |
                                  (std::uint32_t{p[2]} << 16u) | (std::uint32_t{p[3]} << 24u);
        const std::size_t length = std::size_t{p[4]} | (std::size_t{p[5]} << 8u);
        const std::uint8_t type = p[6];
        if (length > left - header || length > file.size() - offset - header) break;
        if (crc32(p + header, length, crc32(&type, 1)) != crc) break;
        const std::string_view payload(file.data() + offset + header, length);
        offset += header + length;
        if (type == leveldb_log_writer::full && !in_record) {
            if (!record(payload, offset)) break;
            end = offset;
        } else if (type == leveldb_log_writer::first && !in_record) {
            partial.assign(payload.data(), payload.size());
            in_record = true;
        } else if (type == leveldb_log_writer::middle && in_record) {
            partial.append(payload.data(), payload.size());
        } else if (type == leveldb_log_writer::last && in_record) {
            partial.append(payload.data(), payload.size());
            in_record = false;
            if (!record(std::string_view(partial), offset)) break;
            end = offset;
        } else {
            break;
        }
    }
    return end;
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
