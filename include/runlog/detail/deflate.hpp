// SPDX-License-Identifier: MIT
#pragma once
// A self-contained DEFLATE (RFC 1951) compressor and zlib (RFC 1950) wrapper, for PNG.
//
// LZ77 over the whole input (it is in memory): a 15-bit hash of the next 3 bytes heads a chain of
// earlier positions within the 32 KiB window; matches are searched along it with one step of lazy
// evaluation, as zlib does. The search limits (chain 24, lazy 8, good 4, nice 64) were tuned with
// bench/png_vs_zlib.cpp on filtered image data: output within 3% of zlib level 6, and faster.
// Symbols are gathered in blocks of up to 16K; each block is emitted with whichever of dynamic
// Huffman, fixed Huffman or stored costs the fewest bits. Huffman code lengths are limited (15, or
// 7 for the code-length code) by halving frequencies until the code fits. Pure: bytes in, bytes
// out.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "checksums.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {
namespace deflate_impl {

constexpr int min_match = 3;
constexpr int max_match = 258;
constexpr std::uint32_t window_size = 32768;
constexpr int hash_bits = 15;
constexpr std::size_t block_symbols = 16383;

constexpr std::uint16_t length_base[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                           15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                           67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                           2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::uint16_t dist_base[30] = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                         6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
constexpr std::uint8_t code_length_order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                11, 4,  12, 3, 13, 2, 14, 1, 15};

/// Length code (0..28) for a match length 3..258, from a table built once.
inline int length_code(int length) noexcept {
    static const std::array<std::uint8_t, 259> table = [] {
        std::array<std::uint8_t, 259> t{};
        for (int code = 0; code < 29; ++code) {
            const int end = code == 28 ? 259 : length_base[code] + (1 << length_extra[code]);
            for (int len = length_base[code]; len < end && len < 259; ++len)
                t[static_cast<std::size_t>(len)] = static_cast<std::uint8_t>(code);
        }
        t[258] = 28;
        return t;
    }();
    return table[static_cast<std::size_t>(length)];
}

inline int dist_code(int dist) noexcept {
    // Distances 1..256 by table, larger ones by their top bits (as zlib's d_code does).
    static const std::array<std::uint8_t, 512> table = [] {
        std::array<std::uint8_t, 512> t{};
        for (int code = 0; code < 30; ++code) {
            const int end = dist_base[code] + (1 << dist_extra[code]);
            for (int d = dist_base[code]; d < end; ++d) {
                if (d <= 256)
                    t[static_cast<std::size_t>(d - 1)] = static_cast<std::uint8_t>(code);
                else if (((d - 1) >> 7) < 256)
                    t[256 + static_cast<std::size_t>((d - 1) >> 7)] =
                        static_cast<std::uint8_t>(code);
            }
        }
        return t;
    }();
    return dist <= 256 ? table[static_cast<std::size_t>(dist - 1)]
                       : table[256 + static_cast<std::size_t>((dist - 1) >> 7)];
}

class bit_writer {
  public:
    explicit bit_writer(std::vector<std::uint8_t>& out) : out_(out) {}
    void put(std::uint32_t value, int bits) {
        buffer_ |= static_cast<std::uint64_t>(value) << count_;
        count_ += bits;
        while (count_ >= 8) {
            out_.push_back(static_cast<std::uint8_t>(buffer_));
            buffer_ >>= 8u;
            count_ -= 8;
        }
    }
    void align_to_byte() {
        if (count_ > 0) put(0, 8 - count_);
    }
    /// Raw bytes; only after align_to_byte().
    void append(const std::uint8_t* bytes, std::size_t n) {
        out_.insert(out_.end(), bytes, bytes + n);
    }

  private:
    std::vector<std::uint8_t>& out_;
    std::uint64_t buffer_ = 0;
    int count_ = 0;
};

/// Huffman code lengths for `freq`, none longer than `max_bits`; unused symbols get 0.
inline void build_lengths(const std::uint32_t* freq, int n, int max_bits, std::uint8_t* lengths) {
    std::vector<std::uint32_t> f(freq, freq + n);
    for (;;) {
        struct node {
            std::uint64_t weight;
            int left, right;  // children, or -1 for a leaf
            int symbol;
        };
        std::vector<node> nodes;
        std::vector<int> leaves;
        for (int s = 0; s < n; ++s)
            if (f[static_cast<std::size_t>(s)] > 0) {
                leaves.push_back(static_cast<int>(nodes.size()));
                nodes.push_back({f[static_cast<std::size_t>(s)], -1, -1, s});
            }
        std::fill(lengths, lengths + n, std::uint8_t{0});
        if (leaves.empty()) return;
        if (leaves.size() == 1) {
            lengths[nodes[static_cast<std::size_t>(leaves[0])].symbol] = 1;
            return;
        }
        std::sort(leaves.begin(), leaves.end(), [&](int a, int b) {
            return nodes[static_cast<std::size_t>(a)].weight <
                   nodes[static_cast<std::size_t>(b)].weight;
        });
        // Two-queue Huffman: sorted leaves and internal nodes created in increasing weight.
        std::vector<int> internal;
        std::size_t li = 0, ii = 0;
        auto take = [&]() {
            if (ii >= internal.size() ||
                (li < leaves.size() && nodes[static_cast<std::size_t>(leaves[li])].weight <=
                                           nodes[static_cast<std::size_t>(internal[ii])].weight))
                return leaves[li++];
            return internal[ii++];
        };
        while ((leaves.size() - li) + (internal.size() - ii) > 1) {
            const int a = take();
            const int b = take();
            internal.push_back(static_cast<int>(nodes.size()));
            nodes.push_back({nodes[static_cast<std::size_t>(a)].weight +
                                 nodes[static_cast<std::size_t>(b)].weight,
                             a, b, -1});
        }
        // Depths by walking from the root.
        std::vector<std::pair<int, int>> stack{{internal.back(), 0}};
        int deepest = 0;
        while (!stack.empty()) {
            const auto [index, depth] = stack.back();
            stack.pop_back();
            const node& nd = nodes[static_cast<std::size_t>(index)];
            if (nd.left < 0) {
                lengths[nd.symbol] = static_cast<std::uint8_t>(depth);
                deepest = std::max(deepest, depth);
            } else {
                stack.push_back({nd.left, depth + 1});
                stack.push_back({nd.right, depth + 1});
            }
        }
        if (deepest <= max_bits) return;
        for (auto& x : f)
            if (x > 0) x = (x >> 1u) | 1u;  // flatten and retry: rare, small cost in ratio
    }
}

/// Canonical codes (bit-reversed for LSB-first output) from lengths.
inline void build_codes(const std::uint8_t* lengths, int n, std::uint16_t* codes) {
    std::uint16_t count[16] = {};
    for (int s = 0; s < n; ++s) ++count[lengths[s]];
    count[0] = 0;
    std::uint16_t next[16] = {};
    std::uint32_t code = 0;
    for (int bits = 1; bits < 16; ++bits) {
        code = (code + count[bits - 1]) << 1u;
        next[bits] = static_cast<std::uint16_t>(code);
    }
    for (int s = 0; s < n; ++s) {
        const int len = lengths[s];
        if (len == 0) continue;
        std::uint32_t c = next[len]++;
        std::uint32_t reversed = 0;
        for (int i = 0; i < len; ++i) {
            reversed = (reversed << 1u) | (c & 1u);
            c >>= 1u;
        }
        codes[s] = static_cast<std::uint16_t>(reversed);
    }
}

struct symbol {
    std::uint16_t dist;   // 0 for a literal
    std::uint16_t value;  // literal byte, or match length
};

class compressor {
  public:
    compressor(const std::uint8_t* data, std::size_t n, std::vector<std::uint8_t>& out)
        : data_(data),
          n_(n),
          bits_(out),
          head_(std::size_t{1} << hash_bits, 0),
          prev_(window_size, 0) {
        symbols_.reserve(block_symbols + 1);
    }

    void run() {
        std::size_t pos = 0;
        int prev_length = min_match - 1;
        std::size_t prev_match = 0;
        bool literal_pending = false;
        while (pos < n_) {
            const std::uint32_t candidate = insert(pos);
            const int last_length = prev_length;
            const std::size_t last_match = prev_match;
            int length = min_match - 1;
            std::size_t match = 0;
            if (candidate != 0 && last_length < max_lazy) {
                length = longest_match(pos, candidate - 1, last_length, match);
                if (length == min_match && pos - match > 4096) length = min_match - 1;  // too far
            }
            if (last_length >= min_match && length <= last_length) {
                // The match found at pos-1 is at least as good: emit it.
                add_match(last_length, static_cast<int>(pos - 1 - last_match));
                const std::size_t end = pos - 1 + static_cast<std::size_t>(last_length);
                for (++pos; pos < end; ++pos) insert(pos);
                literal_pending = false;
                prev_length = min_match - 1;
                continue;
            }
            if (literal_pending) add_literal(data_[pos - 1]);
            literal_pending = true;
            prev_length = length;
            prev_match = match;
            ++pos;
        }
        if (literal_pending) add_literal(data_[n_ - 1]);
        flush_block(true);
        bits_.align_to_byte();
    }

  private:
    static constexpr int max_chain = 24;
    static constexpr int max_lazy = 8;
    static constexpr int good_length = 4;
    static constexpr int nice_length = 64;

    /// Adds pos to its hash chain; returns the previous head + 1 (0: none).
    std::uint32_t insert(std::size_t pos) noexcept {
        if (pos + min_match > n_) return 0;
        const std::uint32_t x = std::uint32_t{data_[pos]} | (std::uint32_t{data_[pos + 1]} << 8u) |
                                (std::uint32_t{data_[pos + 2]} << 16u);
        const std::uint32_t h = (x * 2654435761u) >> (32 - hash_bits);
        const std::uint32_t previous = head_[h];
        prev_[pos & (window_size - 1)] = previous;
        head_[h] = static_cast<std::uint32_t>(pos) + 1;
#if defined(__GNUC__)
        if (pos + 8 + min_match <= n_) {  // the table is larger than L1: fetch a later slot early
            const std::uint32_t y = std::uint32_t{data_[pos + 8]} |
                                    (std::uint32_t{data_[pos + 9]} << 8u) |
                                    (std::uint32_t{data_[pos + 10]} << 16u);
            __builtin_prefetch(&head_[(y * 2654435761u) >> (32 - hash_bits)]);
        }
#endif
        return previous;
    }

    static std::uint16_t load16(const std::uint8_t* p) noexcept {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        return v;
    }

    /// Number of equal leading bytes of `a` and `b`, at most `limit`.
    static std::size_t common_prefix(const std::uint8_t* a, const std::uint8_t* b,
                                     std::size_t limit) noexcept {
        std::size_t len = 0;
        while (len + 8 <= limit) {
            std::uint64_t x, y;
            std::memcpy(&x, a + len, 8);
            std::memcpy(&y, b + len, 8);
            if (x != y) {
                std::uint64_t diff = x ^ y;  // little-endian: the first differing byte is lowest
                while ((diff & 0xFFu) == 0) {
                    diff >>= 8u;
                    ++len;
                }
                return len;
            }
            len += 8;
        }
        while (len < limit && a[len] == b[len]) ++len;
        return len;
    }

    /// The longest earlier match for `pos` along the hash chain starting at `candidate`, if
    /// longer than `prev_length`; else min_match - 1. Candidates are rejected by two 16-bit
    /// compares (zlib's trick): the two bytes ending a match longer than the best, then the
    /// first two bytes.
    int longest_match(std::size_t pos, std::size_t candidate, int prev_length,
                      std::size_t& match) const noexcept {
        int chain = prev_length >= good_length ? max_chain / 4 : max_chain;
        const std::size_t limit = std::min<std::size_t>(max_match, n_ - pos);
        auto best = static_cast<std::size_t>(prev_length);
        if (limit < min_match || best >= limit) return min_match - 1;
        const std::uint8_t* here = data_ + pos;
        const std::uint16_t here_start = load16(here);
        std::uint16_t here_end = load16(here + best - 1);
        for (;;) {
            if (pos - candidate > window_size - 262 || candidate >= pos) break;
            const std::uint8_t* there = data_ + candidate;
            if (load16(there + best - 1) == here_end && load16(there) == here_start) {
                const std::size_t len = 2 + common_prefix(here + 2, there + 2, limit - 2);
                if (len > best) {
                    best = len;
                    match = candidate;
                    if (best >= nice_length || best >= limit) break;
                    here_end = load16(here + best - 1);
                }
            }
            if (--chain == 0) break;
            const std::uint32_t next = prev_[candidate & (window_size - 1)];
            if (next == 0 || next - 1 >= candidate) break;
            candidate = next - 1;
        }
        return best > static_cast<std::size_t>(prev_length) ? static_cast<int>(best)
                                                            : min_match - 1;
    }

    void add_literal(std::uint8_t byte) {
        symbols_.push_back({0, byte});
        ++lit_freq_[byte];
        if (symbols_.size() >= block_symbols) flush_block(false);
    }

    void add_match(int length, int dist) {
        symbols_.push_back({static_cast<std::uint16_t>(dist), static_cast<std::uint16_t>(length)});
        ++lit_freq_[static_cast<std::size_t>(257 + length_code(length))];
        ++dist_freq_[static_cast<std::size_t>(dist_code(dist))];
        covered_ += static_cast<std::size_t>(length) - 1;
        if (symbols_.size() >= block_symbols) flush_block(false);
    }

    void flush_block(bool last) {
        const std::size_t block_bytes = symbols_.size() + covered_;
        lit_freq_[256] = 1;
        std::uint8_t lit_len[286], dist_len[30];
        build_lengths(lit_freq_.data(), 286, 15, lit_len);
        build_lengths(dist_freq_.data(), 30, 15, dist_len);
        if (std::all_of(dist_len, dist_len + 30, [](std::uint8_t l) { return l == 0; }))
            dist_len[0] = 1;  // some decoders reject an empty distance code

        // The code-length sequence with its run-length codes.
        int hlit = 286, hdist = 30;
        while (hlit > 257 && lit_len[hlit - 1] == 0) --hlit;
        while (hdist > 1 && dist_len[hdist - 1] == 0) --hdist;
        std::vector<std::uint8_t> all(lit_len, lit_len + hlit);
        all.insert(all.end(), dist_len, dist_len + hdist);
        std::vector<std::pair<std::uint8_t, std::uint8_t>> rle;  // (code 0..18, extra value)
        for (std::size_t i = 0; i < all.size();) {
            std::size_t run = 1;
            while (i + run < all.size() && all[i + run] == all[i]) ++run;
            if (all[i] == 0 && run >= 3) {
                const std::size_t take = std::min<std::size_t>(run, 138);
                if (take >= 11)
                    rle.push_back({18, static_cast<std::uint8_t>(take - 11)});
                else
                    rle.push_back({17, static_cast<std::uint8_t>(take - 3)});
                i += take;
            } else if (all[i] != 0 && run >= 4) {
                rle.push_back({all[i], 0});
                const std::size_t take = std::min<std::size_t>(run - 1, 6);
                rle.push_back({16, static_cast<std::uint8_t>(take - 3)});
                i += 1 + take;
            } else {
                rle.push_back({all[i], 0});
                ++i;
            }
        }
        std::uint32_t cl_freq[19] = {};
        for (const auto& [code, extra] : rle) ++cl_freq[code];
        std::uint8_t cl_len[19];
        build_lengths(cl_freq, 19, 7, cl_len);
        int hclen = 19;
        while (hclen > 4 && cl_len[code_length_order[hclen - 1]] == 0) --hclen;

        // Costs in bits of the three block types.
        std::uint64_t data_bits_dynamic = 0, data_bits_fixed = 0;
        for (int s = 0; s < 286; ++s) {
            const std::uint64_t f = lit_freq_[static_cast<std::size_t>(s)];
            if (f == 0) continue;
            const int extra = s > 256 ? length_extra[s - 257] : 0;
            data_bits_dynamic += f * (lit_len[s] + static_cast<unsigned>(extra));
            data_bits_fixed +=
                f * (static_cast<unsigned>(fixed_lit_length(s)) + static_cast<unsigned>(extra));
        }
        for (int d = 0; d < 30; ++d) {
            const std::uint64_t f = dist_freq_[static_cast<std::size_t>(d)];
            data_bits_dynamic += f * (dist_len[d] + dist_extra[d]);
            data_bits_fixed += f * (5u + dist_extra[d]);
        }
        std::uint64_t header_bits = 14 + 3 * static_cast<std::uint64_t>(hclen);
        for (const auto& [code, extra] : rle)
            header_bits += cl_len[code] + (code == 16   ? 2u
                                           : code == 17 ? 3u
                                           : code == 18 ? 7u
                                                        : 0u);
        const std::uint64_t dynamic_bits = 3 + header_bits + data_bits_dynamic;
        const std::uint64_t fixed_bits = 3 + data_bits_fixed;
        const std::uint64_t stored_bits = (block_bytes + 5 * (block_bytes / 65535 + 1)) * 8 + 10;

        if (stored_bits <= dynamic_bits && stored_bits <= fixed_bits) {
            write_stored(last, block_bytes);
        } else if (fixed_bits <= dynamic_bits) {
            std::uint8_t fl[288], fd[30];
            for (int s = 0; s < 288; ++s) fl[s] = static_cast<std::uint8_t>(fixed_lit_length(s));
            std::fill(fd, fd + 30, std::uint8_t{5});
            bits_.put(last ? 1u : 0u, 1);
            bits_.put(1, 2);
            write_symbols(fl, 288, fd);
        } else {
            bits_.put(last ? 1u : 0u, 1);
            bits_.put(2, 2);
            bits_.put(static_cast<std::uint32_t>(hlit - 257), 5);
            bits_.put(static_cast<std::uint32_t>(hdist - 1), 5);
            bits_.put(static_cast<std::uint32_t>(hclen - 4), 4);
            for (int i = 0; i < hclen; ++i) bits_.put(cl_len[code_length_order[i]], 3);
            std::uint16_t cl_codes[19] = {};
            build_codes(cl_len, 19, cl_codes);
            for (const auto& [code, extra] : rle) {
                bits_.put(cl_codes[code], cl_len[code]);
                if (code == 16)
                    bits_.put(extra, 2);
                else if (code == 17)
                    bits_.put(extra, 3);
                else if (code == 18)
                    bits_.put(extra, 7);
            }
            write_symbols(lit_len, 286, dist_len);
        }
        block_start_ += block_bytes;
        symbols_.clear();
        covered_ = 0;
        lit_freq_.fill(0);
        dist_freq_.fill(0);
    }

    static int fixed_lit_length(int s) noexcept {
        return s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    }

    void write_symbols(const std::uint8_t* lit_len, int lit_n, const std::uint8_t* dist_len) {
        std::uint16_t lit_codes[288] = {}, dist_codes[30] = {};
        build_codes(lit_len, lit_n, lit_codes);
        build_codes(dist_len, 30, dist_codes);
        for (const symbol& s : symbols_) {
            if (s.dist == 0) {
                bits_.put(lit_codes[s.value], lit_len[s.value]);
                continue;
            }
            const int lc = length_code(s.value);
            bits_.put(lit_codes[257 + lc], lit_len[257 + lc]);
            if (length_extra[lc] > 0)
                bits_.put(static_cast<std::uint32_t>(s.value - length_base[lc]), length_extra[lc]);
            const int dc = dist_code(s.dist);
            bits_.put(dist_codes[dc], dist_len[dc]);
            if (dist_extra[dc] > 0)
                bits_.put(static_cast<std::uint32_t>(s.dist - dist_base[dc]), dist_extra[dc]);
        }
        bits_.put(lit_codes[256], lit_len[256]);
    }

    void write_stored(bool last, std::size_t bytes) {
        std::size_t offset = block_start_;
        do {
            const std::size_t chunk = std::min<std::size_t>(bytes, 65535);
            bytes -= chunk;
            bits_.put((last && bytes == 0) ? 1u : 0u, 1);
            bits_.put(0, 2);
            bits_.align_to_byte();
            bits_.put(static_cast<std::uint32_t>(chunk), 16);
            bits_.put(static_cast<std::uint32_t>(~chunk & 0xFFFFu), 16);
            bits_.append(data_ + offset, chunk);
            offset += chunk;
        } while (bytes > 0);
    }

    const std::uint8_t* data_;
    std::size_t n_;
    bit_writer bits_;
    std::vector<std::uint32_t> head_;
    std::vector<std::uint32_t> prev_;
    std::vector<symbol> symbols_;
    std::array<std::uint32_t, 286> lit_freq_{};
    std::array<std::uint32_t, 30> dist_freq_{};
    std::size_t covered_ = 0;      // bytes of the block beyond one per symbol
    std::size_t block_start_ = 0;  // input offset of the current block
};

}  // namespace deflate_impl

/// Raw DEFLATE stream of `n` bytes.
inline std::vector<std::uint8_t> deflate(const std::uint8_t* data, std::size_t n) {
    std::vector<std::uint8_t> out;
    out.reserve(n / 2 + 64);
    if (n == 0) {
        out = {0x03, 0x00};  // one empty fixed-Huffman final block
        return out;
    }
    deflate_impl::compressor(data, n, out).run();
    return out;
}

/// zlib stream: 2-byte header, DEFLATE data, big-endian Adler-32.
inline std::vector<std::uint8_t> zlib_compress(const std::uint8_t* data, std::size_t n) {
    std::vector<std::uint8_t> out = {0x78, 0x9C};  // 32 KiB window, default level
    const std::vector<std::uint8_t> body = deflate(data, n);
    out.insert(out.end(), body.begin(), body.end());
    const std::uint32_t a = adler32(data, n);
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(a >> shift));
    return out;
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
