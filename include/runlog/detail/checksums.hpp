// SPDX-License-Identifier: MIT
#pragma once
// CRC-32 (IEEE, as zlib/PNG and the .wandb framing use it), CRC-32C (TFRecord framing; table,
// SSE4.2 and ARMv8 versions), Adler-32 (zlib streams), SHA-256 (media file names, artifact
// digests), SHA-1 (git object ids), MD5 and base64 (W&B artifact manifests).
// Pure functions over bytes (all but SHA-1 can be fed incrementally).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>      // __get_cpuid: does this CPU have the SHA extensions?
#include <immintrin.h>  // SHA-NI intrinsics, used only in a target("sha") function
#endif
#if defined(__aarch64__) && defined(__linux__) && !defined(__ARM_FEATURE_CRC32)
#include <sys/auxv.h>  // getauxval: does this CPU have the CRC32 instructions?
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

// Table-driven CRC-32 and CRC-32C, 8 bytes per step ("slicing-by-8"): tables[k][b] is the CRC
// of byte b followed by k zero bytes, so eight look-ups fold in eight bytes. A byte per step was
// half of the .wandb writer's framing cost under callgrind (every record is checksummed).
template <std::uint32_t ReflectedPolynomial>
const std::array<std::array<std::uint32_t, 256>, 8>& crc_tables() noexcept {
    static const auto tables = [] {
        std::array<std::array<std::uint32_t, 256>, 8> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1u) ? ReflectedPolynomial ^ (c >> 1u) : c >> 1u;
            t[0][i] = c;
        }
        for (std::size_t k = 1; k < 8; ++k)
            for (std::size_t i = 0; i < 256; ++i)
                t[k][i] = (t[k - 1][i] >> 8u) ^ t[0][t[k - 1][i] & 0xFFu];
        return t;
    }();
    return tables;
}

template <std::uint32_t ReflectedPolynomial>
std::uint32_t crc_sliced(const void* data, std::size_t n, std::uint32_t crc) noexcept {
    const auto& t = crc_tables<ReflectedPolynomial>();
    const auto* p = static_cast<const std::uint8_t*>(data);
    const auto word = [](const std::uint8_t* b) {
        return std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8u | std::uint32_t{b[2]} << 16u |
               std::uint32_t{b[3]} << 24u;
    };
    crc = ~crc;
    for (; n >= 8; p += 8, n -= 8) {
        const std::uint32_t lo = crc ^ word(p);
        const std::uint32_t hi = word(p + 4);
        crc = t[7][lo & 0xFFu] ^ t[6][(lo >> 8u) & 0xFFu] ^ t[5][(lo >> 16u) & 0xFFu] ^
              t[4][lo >> 24u] ^ t[3][hi & 0xFFu] ^ t[2][(hi >> 8u) & 0xFFu] ^
              t[1][(hi >> 16u) & 0xFFu] ^ t[0][hi >> 24u];
    }
    for (; n > 0; --n, ++p) crc = t[0][(crc ^ *p) & 0xFFu] ^ (crc >> 8u);
    return ~crc;
}

/// CRC-32 of `n` bytes, continuing from `crc` (0 to start). crc32("123456789") == 0xCBF43926.
inline std::uint32_t crc32(const void* data, std::size_t n, std::uint32_t crc = 0) noexcept {
    return crc_sliced<0xEDB88320u>(data, n, crc);
}

/// CRC-32C (Castagnoli; TFRecord framing), portable table version.
/// crc32c("123456789") == 0xE3069283.
inline std::uint32_t crc32c_portable(const void* data, std::size_t n,
                                     std::uint32_t crc = 0) noexcept {
    return crc_sliced<0x82F63B78u>(data, n, crc);
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define RUNLOG_HAVE_CRC32C_SSE42 1
/// CRC-32C with the SSE4.2 crc32 instruction; call only where the CPU has it.
__attribute__((target("sse4.2"))) inline std::uint32_t crc32c_sse42(
    const void* data, std::size_t n, std::uint32_t crc = 0) noexcept {
    const auto* p = static_cast<const std::uint8_t*>(data);
    std::uint64_t c = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
    }
    auto c32 = static_cast<std::uint32_t>(c);
    for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, *p);
    return ~c32;
}
inline bool cpu_has_sse42() noexcept {
    static const bool has = __builtin_cpu_supports("sse4.2");
    return has;
}
#else
#define RUNLOG_HAVE_CRC32C_SSE42 0
#endif

#if defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__ARM_FEATURE_CRC32) || defined(__linux__))
#define RUNLOG_HAVE_CRC32C_ARMV8 1
#if defined(__clang__)
#define RUNLOG_TARGET_ARMV8_CRC __attribute__((target("crc")))
#else
#define RUNLOG_TARGET_ARMV8_CRC __attribute__((target("+crc")))
#endif
/// CRC-32C with the ARMv8 CRC32C instructions; call only where the CPU has them.
RUNLOG_TARGET_ARMV8_CRC inline std::uint32_t crc32c_armv8(const void* data, std::size_t n,
                                                          std::uint32_t crc = 0) noexcept {
    const auto* p = static_cast<const std::uint8_t*>(data);
    std::uint32_t c = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);
#if defined(__clang__)
        c = __builtin_arm_crc32cd(c, word);
#else
        c = __builtin_aarch64_crc32cx(c, word);
#endif
    }
    for (; n > 0; --n, ++p) {
#if defined(__clang__)
        c = __builtin_arm_crc32cb(c, *p);
#else
        c = __builtin_aarch64_crc32cb(c, *p);
#endif
    }
    return ~c;
}
/// Built for a CPU with CRC (e.g. -march=armv8.1-a), or Linux says it has it (HWCAP_CRC32).
inline bool cpu_has_armv8_crc() noexcept {
#if defined(__ARM_FEATURE_CRC32)
    return true;
#else
    static const bool has = (getauxval(AT_HWCAP) & (1ul << 7u)) != 0;
    return has;
#endif
}
#else
#define RUNLOG_HAVE_CRC32C_ARMV8 0
#endif

/// CRC-32C, with the CPU's instruction where there is one (SSE4.2 or ARMv8 CRC, chosen at run
/// time unless the compiler already knows).
inline std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0) noexcept {
#if RUNLOG_HAVE_CRC32C_SSE42
    if (cpu_has_sse42()) return crc32c_sse42(data, n, crc);
#endif
#if RUNLOG_HAVE_CRC32C_ARMV8
    if (cpu_has_armv8_crc()) return crc32c_armv8(data, n, crc);
#endif
    return crc32c_portable(data, n, crc);
}

/// Adler-32 of `n` bytes, continuing from `adler` (1 to start). adler32("Wikipedia") == 0x11E60398.
inline std::uint32_t adler32(const void* data, std::size_t n, std::uint32_t adler = 1) noexcept {
    const auto* p = static_cast<const std::uint8_t*>(data);
    std::uint32_t a = adler & 0xFFFFu, b = adler >> 16u;
    while (n > 0) {
        const std::size_t chunk = n < 5552 ? n : 5552;  // largest run without 32-bit overflow
        n -= chunk;
        for (std::size_t i = 0; i < chunk; ++i) {
            a += p[i];
            b += a;
        }
        p += chunk;
        a %= 65521u;
        b %= 65521u;
    }
    return (b << 16u) | a;
}

/// Lower-case hex of `n` bytes.
inline std::string to_hex(const std::uint8_t* bytes, std::size_t n) {
    static const char hex[] = "0123456789abcdef";
    std::string s;
    s.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        s.push_back(hex[bytes[i] >> 4u]);
        s.push_back(hex[bytes[i] & 0xFu]);
    }
    return s;
}

/// The buffering SHA-256 and MD5 share: whole 64-byte blocks go to `compress(data, blocks)`
/// straight from the input (large files: no copy); a partial block waits in `block`.
template <class Compress>
inline void feed_blocks(std::uint8_t* block, std::size_t& used, const std::uint8_t* p,
                        std::size_t n, Compress compress) noexcept {
    while (n > 0) {
        if (used == 0 && n >= 64) {
            const std::size_t blocks = n / 64;
            compress(p, blocks);
            p += 64 * blocks;
            n -= 64 * blocks;
            continue;
        }
        const std::size_t take = (64 - used) < n ? (64 - used) : n;
        std::memcpy(block + used, p, take);
        used += take;
        p += take;
        n -= take;
        if (used == 64) {
            compress(block, 1);
            used = 0;
        }
    }
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define RUNLOG_HAVE_SHA_NI 1
/// The CPU has the SHA extensions (and the SSSE3/SSE4.1 the code around them uses).
inline bool cpu_has_sha_ni() noexcept {
    static const bool has = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & (1u << 9u)) == 0 || (c & (1u << 19u)) == 0)
            return false;
        return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (b & (1u << 29u)) != 0;
    }();
    return has;
}

/// SHA-256 of whole 64-byte blocks with the SHA extensions: ~5x the portable code, which matters
/// when a multi-GB checkpoint is hashed on the training thread. The instructions keep the state
/// as ABEF and CDGH; sha256rnds2 does two rounds, sha256msg1/2 extend the message schedule.
__attribute__((target("sha,sse4.1,ssse3"))) inline void sha256_blocks_sha_ni(
    std::uint32_t state[8], const std::uint8_t* data, std::size_t blocks,
    const std::uint32_t* k) noexcept {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba =
        _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0xB1);
    __m128i hgfe =
        _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), 0x1B);
    __m128i abef = _mm_alignr_epi8(dcba, hgfe, 8);
    __m128i cdgh = _mm_blend_epi16(hgfe, dcba, 0xF0);
    for (; blocks > 0; --blocks, data += 64) {
        const __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i w[4];  // message words 4i..4i+3, a ring: w[i % 4]
        for (int i = 0; i < 16; ++i) {
            __m128i& words = w[i % 4];
            if (i < 4) {
                words = _mm_shuffle_epi8(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * i)), byte_swap);
            } else {
                // W[t] = W[t-16] + s0(W[t-15]) + W[t-7] + s1(W[t-2]), four at a time.
                const __m128i partial =
                    _mm_add_epi32(_mm_sha256msg1_epu32(words, w[(i + 1) % 4]),
                                  _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4));
                words = _mm_sha256msg2_epu32(partial, w[(i + 3) % 4]);
            }
            __m128i message =
                _mm_add_epi32(words, _mm_loadu_si128(reinterpret_cast<const __m128i*>(k + 4 * i)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, message);
            message = _mm_shuffle_epi32(message, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, message);
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }
    const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}
#else
#define RUNLOG_HAVE_SHA_NI 0
#endif

class sha256 {
  public:
    /// `cpu_extensions` false: the portable code even where SHA-NI exists (tests compare them).
    explicit sha256(bool cpu_extensions = true) noexcept : cpu_extensions_(cpu_extensions) {}

    sha256& update(const void* data, std::size_t n) noexcept {
        total_ += n;
        feed_blocks(block_.data(), used_, static_cast<const std::uint8_t*>(data), n,
                    [this](const std::uint8_t* p, std::size_t blocks) { compress(p, blocks); });
        return *this;
    }

    std::array<std::uint8_t, 32> digest() noexcept {
        const std::uint64_t bits = total_ * 8u;
        const std::uint8_t pad = 0x80;
        update(&pad, 1);
        const std::uint8_t zero = 0;
        while (used_ != 56) update(&zero, 1);
        std::uint8_t length[8];
        for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
        update(length, 8);
        std::array<std::uint8_t, 32> out{};
        for (std::size_t i = 0; i < 8; ++i)
            for (std::size_t k = 0; k < 4; ++k)
                out[4 * i + k] = static_cast<std::uint8_t>(state_[i] >> (24 - 8 * k));
        return out;
    }

    std::string hex_digest() {
        const auto d = digest();
        return to_hex(d.data(), d.size());
    }

  private:
    static std::uint32_t rotr(std::uint32_t x, unsigned n) noexcept {
        return (x >> n) | (x << (32u - n));
    }

    static const std::uint32_t* round_constants() noexcept {
        static const std::uint32_t k[64] = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
            0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
            0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
            0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
            0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
            0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
            0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
            0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
            0xc67178f2};
        return k;
    }

    void compress(const std::uint8_t* data, std::size_t blocks) noexcept {
#if RUNLOG_HAVE_SHA_NI
        if (cpu_extensions_ && cpu_has_sha_ni())
            return sha256_blocks_sha_ni(state_, data, blocks, round_constants());
#else
        (void)cpu_extensions_;
#endif
        for (; blocks > 0; --blocks, data += 64) compress_portable(data);
    }

    void compress_portable(const std::uint8_t* chunk) noexcept {
        const std::uint32_t* k = round_constants();
        std::uint32_t w[64];
        for (std::size_t i = 0; i < 16; ++i)
            w[i] = (std::uint32_t{chunk[4 * i]} << 24u) | (std::uint32_t{chunk[4 * i + 1]} << 16u) |
                   (std::uint32_t{chunk[4 * i + 2]} << 8u) | std::uint32_t{chunk[4 * i + 3]};
        for (std::size_t i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3u);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10u);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3], e = state_[4],
                      f = state_[5], g = state_[6], h = state_[7];
        for (std::size_t i = 0; i < 64; ++i) {
            const std::uint32_t t1 =
                h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
            const std::uint32_t t2 =
                (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
        state_[4] += e;
        state_[5] += f;
        state_[6] += g;
        state_[7] += h;
    }

    std::uint32_t state_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::array<std::uint8_t, 64> block_{};
    std::size_t used_ = 0;
    std::uint64_t total_ = 0;
    bool cpu_extensions_;
};

inline std::string sha256_hex(const void* data, std::size_t n) {
    return sha256().update(data, n).hex_digest();
}

/// MD5, for W&B's artifact manifests only (an entry's digest is the base64 of its MD5; the
/// manifest digest is a hex MD5). md5 of "" is d41d8cd98f00b204e9800998ecf8427e.
class md5 {
  public:
    md5& update(const void* data, std::size_t n) noexcept {
        total_ += n;
        feed_blocks(block_, used_, static_cast<const std::uint8_t*>(data), n,
                    [this](const std::uint8_t* p, std::size_t blocks) {
                        for (; blocks > 0; --blocks, p += 64) compress(p);
                    });
        return *this;
    }

    std::array<std::uint8_t, 16> digest() noexcept {
        const std::uint64_t bits = total_ * 8u;
        const std::uint8_t pad = 0x80, zero = 0;
        update(&pad, 1);
        while (used_ != 56) update(&zero, 1);
        std::uint8_t length[8];
        for (unsigned i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(bits >> (8u * i));
        update(length, 8);
        std::array<std::uint8_t, 16> out{};
        for (std::size_t i = 0; i < 4; ++i)
            for (std::size_t k = 0; k < 4; ++k)
                out[4 * i + k] = static_cast<std::uint8_t>(state_[i] >> (8 * k));
        return out;
    }

  private:
    void compress(const std::uint8_t* chunk) noexcept {
        static const std::uint32_t k[64] = {
            0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
            0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
            0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
            0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
            0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
            0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
            0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
            0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
            0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
            0xeb86d391};
        static const unsigned shift[16] = {7, 12, 17, 22, 5, 9,  14, 20,
                                           4, 11, 16, 23, 6, 10, 15, 21};
        std::uint32_t m[16];
        for (std::size_t i = 0; i < 16; ++i)
            m[i] = std::uint32_t{chunk[4 * i]} | (std::uint32_t{chunk[4 * i + 1]} << 8u) |
                   (std::uint32_t{chunk[4 * i + 2]} << 16u) |
                   (std::uint32_t{chunk[4 * i + 3]} << 24u);
        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
        // Four rounds of 16 steps, each with its own function and message order, four steps at
        // a time so the registers never move: ~10% faster than one loop with a branch per step.
        auto step = [](std::uint32_t& w, std::uint32_t x, std::uint32_t f, std::uint32_t sum,
                       unsigned s) {
            sum += w + f;
            w = x + ((sum << s) | (sum >> (32u - s)));
        };
        auto f1 = [](std::uint32_t x, std::uint32_t y, std::uint32_t z) {
            return (x & y) | (~x & z);
        };
        auto f2 = [](std::uint32_t x, std::uint32_t y, std::uint32_t z) {
            return (z & x) | (~z & y);
        };
        auto f3 = [](std::uint32_t x, std::uint32_t y, std::uint32_t z) { return x ^ y ^ z; };
        auto f4 = [](std::uint32_t x, std::uint32_t y, std::uint32_t z) { return y ^ (x | ~z); };
        auto round = [&](auto f, std::size_t first, std::size_t (*index)(std::size_t),
                         const unsigned* s) {
            for (std::size_t i = first; i < first + 16; i += 4) {
                step(a, b, f(b, c, d), k[i] + m[index(i)], s[0]);
                step(d, a, f(a, b, c), k[i + 1] + m[index(i + 1)], s[1]);
                step(c, d, f(d, a, b), k[i + 2] + m[index(i + 2)], s[2]);
                step(b, c, f(c, d, a), k[i + 3] + m[index(i + 3)], s[3]);
            }
        };
        round(
            f1, 0, [](std::size_t i) { return i; }, shift);
        round(
            f2, 16, [](std::size_t i) { return (5 * i + 1) % 16; }, shift + 4);
        round(
            f3, 32, [](std::size_t i) { return (3 * i + 5) % 16; }, shift + 8);
        round(
            f4, 48, [](std::size_t i) { return (7 * i) % 16; }, shift + 12);
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
    }

    std::uint32_t state_[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    std::uint8_t block_[64] = {};
    std::size_t used_ = 0;
    std::uint64_t total_ = 0;
};

/// Standard base64 (RFC 4648, with '=' padding), as W&B writes manifest digests.
inline std::string base64(const std::uint8_t* bytes, std::size_t n) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (std::size_t i = 0; i < n; i += 3) {
        const std::uint32_t chunk = (std::uint32_t{bytes[i]} << 16u) |
                                    (i + 1 < n ? std::uint32_t{bytes[i + 1]} << 8u : 0u) |
                                    (i + 2 < n ? std::uint32_t{bytes[i + 2]} : 0u);
        out.push_back(alphabet[(chunk >> 18u) & 63u]);
        out.push_back(alphabet[(chunk >> 12u) & 63u]);
        out.push_back(i + 1 < n ? alphabet[(chunk >> 6u) & 63u] : '=');
        out.push_back(i + 2 < n ? alphabet[chunk & 63u] : '=');
    }
    return out;
}

/// SHA-1, for git's object ids only (git_state.hpp compares working files with the index).
/// sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d".
inline std::string sha1_hex(const void* data, std::size_t n) {
    auto rotl = [](std::uint32_t x, unsigned k) { return (x << k) | (x >> (32u - k)); };
    std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    // The message, the 0x80 byte, zeros, and the 64-bit big-endian bit length, in 64-byte blocks.
    const std::size_t padded = ((n + 8) / 64 + 1) * 64;
    auto byte_at = [&](std::size_t i) -> std::uint8_t {
        if (i < n) return bytes[i];
        if (i == n) return 0x80;
        if (i >= padded - 8)
            return static_cast<std::uint8_t>((std::uint64_t{n} * 8u) >> (8u * (padded - 1 - i)));
        return 0;
    };
    for (std::size_t block = 0; block < padded; block += 64) {
        std::uint32_t w[80];
        for (std::size_t i = 0; i < 16; ++i)
            w[i] = (std::uint32_t{byte_at(block + 4 * i)} << 24u) |
                   (std::uint32_t{byte_at(block + 4 * i + 1)} << 16u) |
                   (std::uint32_t{byte_at(block + 4 * i + 2)} << 8u) |
                   std::uint32_t{byte_at(block + 4 * i + 3)};
        for (std::size_t i = 16; i < 80; ++i)
            w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (std::size_t i = 0; i < 80; ++i) {
            std::uint32_t f, k;
            if (i < 20) {
                f = (b & c) | (~b & d), k = 0x5A827999;
            } else if (i < 40) {
                f = b ^ c ^ d, k = 0x6ED9EBA1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d, k = 0xCA62C1D6;
            }
            const std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
            e = d;
            d = c;
            c = rotl(b, 30);
            b = a;
            a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (std::uint32_t word : h)
        for (int shift = 28; shift >= 0; shift -= 4) out.push_back(hex[(word >> shift) & 0xFu]);
    return out;
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
