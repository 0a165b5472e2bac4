// SPDX-License-Identifier: MIT
// Fuzz target: the two .wandb readers. The tests' and kill harness's (support/wandb_reader.hpp):
// any bytes give records or a std::runtime_error naming the offset, never a crash, hang or
// sanitizer report, and every record's protobuf decodes the same way. The library's
// (detail::read_leveldb_log, which `runlog finalize` cuts and continues a file after) agrees
// with it: on a file the strict reader takes whole, the same records ending at the file's end; on
// any file, records ending inside it, and the protobuf reader walks them without a fault.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <runlog/detail/leveldb_log.hpp>
#include <runlog/detail/protobuf_reader.hpp>

#include "../support/wandb_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string file(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> strict;
    bool whole = false;
    for (bool torn_tail_ok : {false, true}) {
        try {
            auto records = test::read_wandb_records(file, torn_tail_ok);
            for (const auto& record : records) {
                const test::proto_message m = test::decode_proto(record);
                for (const auto& [field, values] : m.bytes) {
                    (void)field;
                    for (const auto& v : values) (void)test::decode_proto(v);
                }
            }
            if (!torn_tail_ok) {
                whole = true;
                strict = std::move(records);
            }
        } catch (const std::runtime_error&) {
        }
    }
    std::vector<std::string> library;
    const std::size_t end =
        runlog::detail::read_leveldb_log(file, [&](std::string_view record, std::size_t after) {
            if (after > file.size()) std::abort();
            library.emplace_back(record);
            runlog::detail::proto_reader fields(record);
            for (runlog::detail::proto_reader::field f; fields.next(f);) {
            }
            return true;
        });
    if (end > file.size()) std::abort();
    if (whole && (library != strict || end != file.size())) std::abort();
    return 0;
}
