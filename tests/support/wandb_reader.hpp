// SPDX-License-Identifier: MIT
#pragma once
// A test-only reader for .wandb files, written from the format spec (not from wandb's code):
// checks the file header, every chunk's framing and CRC-32, the block/trailer rules, reassembles
// records, and decodes protobuf messages generically (field number -> values) so tests can
// inspect what runlog wrote. Throws std::runtime_error with the offset on any violation.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <runlog/detail/checksums.hpp>

namespace test {

/// One decoded protobuf message: for each field number, its values in order (varints as
/// numbers, length-delimited fields as raw bytes).
struct proto_message {
    std::map<std::uint32_t, std::vector<std::uint64_t>> varints;
    std::map<std::uint32_t, std::vector<std::string>> bytes;

    bool has(std::uint32_t f) const { return varints.count(f) || bytes.count(f); }
    std::uint64_t varint(std::uint32_t f) const {
        const auto it = varints.find(f);
        return it == varints.end() ? 0 : it->second.front();
    }
    std::string str(std::uint32_t f) const {
        const auto it = bytes.find(f);
        return it == bytes.end() ? std::string() : it->second.front();
    }
    std::vector<std::string> all(std::uint32_t f) const {
        const auto it = bytes.find(f);
        return it == bytes.end() ? std::vector<std::string>() : it->second;
    }
};

inline proto_message decode_proto(const std::string& data) {
    proto_message m;
    std::size_t i = 0;
    auto varint = [&]() {
        std::uint64_t v = 0;
        for (int shift = 0;; shift += 7) {
            if (i >= data.size() || shift > 63) throw std::runtime_error("truncated varint");
            const auto b = static_cast<std::uint8_t>(data[i++]);
            v |= std::uint64_t{b & 0x7Fu} << shift;
            if ((b & 0x80u) == 0) return v;
        }
    };
    while (i < data.size()) {
        const std::uint64_t key = varint();
        const auto field = static_cast<std::uint32_t>(key >> 3u);
        switch (key & 7u) {
            case 0:
                m.varints[field].push_back(varint());
                break;
            case 1:
                if (i + 8 > data.size()) throw std::runtime_error("truncated fixed64");
                m.bytes[field].push_back(data.substr(i, 8));
                i += 8;
                break;
            case 2: {
                const std::uint64_t n = varint();
                if (i + n > data.size())
                    throw std::runtime_error("truncated length-delimited field");
                m.bytes[field].push_back(data.substr(i, static_cast<std::size_t>(n)));
                i += static_cast<std::size_t>(n);
                break;
            }
            case 5:
                if (i + 4 > data.size()) throw std::runtime_error("truncated fixed32");
                m.bytes[field].push_back(data.substr(i, 4));
                i += 4;
                break;
            default:
                throw std::runtime_error("unexpected wire type " + std::to_string(key & 7u));
        }
    }
    return m;
}

/// All complete records of a .wandb file's bytes. `allow_torn_tail` accepts a file that ends
/// inside a chunk or a multi-chunk record (a killed writer) and returns what came before.
inline std::vector<std::string> read_wandb_records(const std::string& file,
                                                   bool allow_torn_tail = false) {
    static const unsigned char header[7] = {0x3A, 0x57, 0x26, 0x42, 0xE1, 0xBE, 0x00};
    if (file.size() < 7 || file.compare(0, 7, std::string(header, header + 7)) != 0)
        throw std::runtime_error("bad file header");
    std::vector<std::string> records;
    std::string partial;
    bool in_record = false;
    std::size_t offset = 7;
    const std::size_t block = 32768;
    while (offset < file.size()) {
        const std::size_t left = block - offset % block;
        if (left < 7) {
            for (std::size_t k = 0; k < left; ++k)
                if (offset + k < file.size() && file[offset + k] != 0)
                    throw std::runtime_error("non-zero block trailer at " + std::to_string(offset));
            if (offset + left >= file.size())
                throw std::runtime_error("file ends with a block trailer");
            offset += left;
            continue;
        }
        if (offset + 7 > file.size()) {
            if (allow_torn_tail) break;
            throw std::runtime_error("truncated chunk header at " + std::to_string(offset));
        }
        auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(file[offset + k]); };
        const std::uint32_t crc = std::uint32_t{byte(0)} | (std::uint32_t{byte(1)} << 8u) |
                                  (std::uint32_t{byte(2)} << 16u) | (std::uint32_t{byte(3)} << 24u);
        const std::size_t length = std::size_t{byte(4)} | (std::size_t{byte(5)} << 8u);
        const std::uint8_t type = byte(6);
        if (length > left - 7)
            throw std::runtime_error("chunk crosses a block at " + std::to_string(offset));
        if (offset + 7 + length > file.size()) {
            if (allow_torn_tail) break;
            throw std::runtime_error("chunk past the end of the file at " + std::to_string(offset));
        }
        const std::string payload = file.substr(offset + 7, length);
        if (runlog::detail::crc32(payload.data(), payload.size(),
                                  runlog::detail::crc32(&type, 1)) != crc)
            throw std::runtime_error("bad CRC at " + std::to_string(offset));
        switch (type) {
            case 1:
                if (in_record)
                    throw std::runtime_error("FULL inside a record at " + std::to_string(offset));
                records.push_back(payload);
                break;
            case 2:
                if (in_record)
                    throw std::runtime_error("FIRST inside a record at " + std::to_string(offset));
                partial = payload;
                in_record = true;
                break;
            case 3:
            case 4:
                if (!in_record)
                    throw std::runtime_error("MIDDLE/LAST without FIRST at " +
                                             std::to_string(offset));
                partial += payload;
                if (type == 4) {
                    records.push_back(partial);
                    in_record = false;
                }
                break;
            default:
                throw std::runtime_error("chunk type " + std::to_string(type) + " at " +
                                         std::to_string(offset));
        }
        offset += 7 + length;
    }
    if (in_record && !allow_torn_tail) throw std::runtime_error("file ends inside a record");
    return records;
}

/// The oneof field that names a Record's type (the one set besides num=1 and _info=200).
inline std::uint32_t record_type(const proto_message& r) {
    for (const auto& [field, values] : r.bytes)
        if (field != 200) return field;
    return 0;
}

}  // namespace test
