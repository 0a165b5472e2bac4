// SPDX-License-Identifier: MIT
#pragma once
// Encoders for TensorBoard `Event` protobufs (tensorboard-format.md §4–6): pure functions from
// values to serialized Event bytes. So far: the first record (file_version "brain.Event:2" with
// the writer's name) and legacy scalars (float32 simple_value), the smallest form both loaders
// read.

#include <cstdint>
#include <string_view>
#include <vector>

#include "../version.hpp"
#include "protobuf.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {
namespace tensorboard {

/// Event{wall_time, file_version: "brain.Event:2", source_metadata{writer}}.
inline std::vector<std::uint8_t> file_version_event(double wall_time) {
    proto_writer e;
    e.fixed64_double(1, wall_time)
        .string(3, "brain.Event:2")
        .message(10, proto_writer().string(1, "runlog " RUNLOG_VERSION_STRING));
    return e.bytes();
}

/// Event{wall_time, step, summary{value{tag, simple_value}}}.
inline std::vector<std::uint8_t> scalar_event(double wall_time, std::int64_t step,
                                              std::string_view tag, float v) {
    proto_writer value;
    value.string(1, tag).fixed32_float(2, v);
    proto_writer e;
    e.fixed64_double(1, wall_time);
    if (step != 0) e.int64(2, step);
    e.message(5, proto_writer().message(1, value));
    return e.bytes();
}

}  // namespace tensorboard
}  // namespace detail
}  // namespace v0
}  // namespace runlog
