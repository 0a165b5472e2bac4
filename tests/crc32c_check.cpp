// SPDX-License-Identifier: MIT
// CRC-32C: the hardware path this build has (SSE4.2 or ARMv8 CRC) against the portable table, on
// the check value and random buffers of many lengths and alignments. tools/test.sh also builds it
// for aarch64 and runs it under qemu, so the ARM path is tested on this x86 machine. Exit 0 when
// all agree; prints the path it tested.
#include <runlog/detail/checksums.hpp>

#include <cstdio>
#include <random>
#include <vector>

int main() {
    using namespace runlog::detail;
    const char* path = "portable only";
    auto hardware = [](const void* p, std::size_t n, std::uint32_t c) {
#if RUNLOG_HAVE_CRC32C_SSE42
        if (cpu_has_sse42()) return crc32c_sse42(p, n, c);
#endif
#if RUNLOG_HAVE_CRC32C_ARMV8
        if (cpu_has_armv8_crc()) return crc32c_armv8(p, n, c);
#endif
        return crc32c_portable(p, n, c);
    };
#if RUNLOG_HAVE_CRC32C_SSE42
    if (cpu_has_sse42()) path = "sse4.2";
#endif
#if RUNLOG_HAVE_CRC32C_ARMV8
    if (cpu_has_armv8_crc()) path = "armv8 crc";
#endif
    int failures = 0;
    if (hardware("123456789", 9, 0) != 0xE3069283u || crc32c("123456789", 9) != 0xE3069283u) {
        std::printf("check value wrong\n");
        ++failures;
    }
    std::mt19937 rng(7);
    std::vector<std::uint8_t> data(70000);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    for (std::size_t n = 0; n < 300; ++n) {
        for (std::size_t offset = 0; offset < 8; ++offset) {
            const std::uint32_t seed = static_cast<std::uint32_t>(rng());
            if (hardware(data.data() + offset, n, seed) !=
                crc32c_portable(data.data() + offset, n, seed)) {
                std::printf("mismatch: %zu bytes at offset %zu\n", n, offset);
                ++failures;
            }
        }
    }
    if (hardware(data.data(), data.size(), 0) != crc32c_portable(data.data(), data.size(), 0)) {
        std::printf("mismatch on 70000 bytes\n");
        ++failures;
    }
    std::printf("crc32c %s: %s\n", path, failures == 0 ? "agrees with the table" : "FAILED");
    return failures == 0 ? 0 : 1;
}
