// SPDX-License-Identifier: MIT
// Fuzz target: the JSON reader behind `runlog export` (detail/json_reader.hpp) and the JSON writer.
// Any input: parsing ends with a value or an error, never a crash, hang or sanitizer report. A
// value that parsed is written and read back: writing is then a fixed point (dump, parse, dump
// gives the same text), so what runlog writes, runlog reads.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <runlog/detail/json_reader.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    runlog::value v;
    std::string error;
    if (!runlog::detail::parse_json(text, v, error)) {
        if (error.empty()) std::abort();  // a failure always says why
        return 0;
    }
    const std::string once = v.dump();
    runlog::value again;
    if (!runlog::detail::parse_json(once, again, error)) std::abort();
    if (again.dump() != once) std::abort();
    return 0;
}
