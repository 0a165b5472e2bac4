// SPDX-License-Identifier: MIT
// Fuzz target: the tfevents reader the tests and the kill harness check runlog's TensorBoard files
// with (support/tfevents_reader.hpp): any bytes give events or a std::runtime_error, never a
// crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "../support/tfevents_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string file(reinterpret_cast<const char*>(data), size);
    for (bool torn_tail_ok : {false, true}) {
        try {
            (void)test::read_events(file, torn_tail_ok);
        } catch (const std::runtime_error&) {
        }
    }
    return 0;
}
