// SPDX-License-Identifier: MIT
// Fuzz target: the .wandb reader the tests and the kill harness check runlog's files with
// (support/wandb_reader.hpp): any bytes give records or a std::runtime_error naming the offset,
// never a crash, hang or sanitizer report; every record's protobuf decodes the same way.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "../support/wandb_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string file(reinterpret_cast<const char*>(data), size);
    for (bool torn_tail_ok : {false, true}) {
        try {
            for (const auto& record : test::read_wandb_records(file, torn_tail_ok)) {
                const test::proto_message m = test::decode_proto(record);
                for (const auto& [field, values] : m.bytes) {
                    (void)field;
                    for (const auto& v : values) (void)test::decode_proto(v);
                }
            }
        } catch (const std::runtime_error&) {
        }
    }
    return 0;
}
