// SPDX-License-Identifier: MIT
#pragma once
// Encoders for TensorBoard `Event` protobufs (tensorboard-format.md §4–6): pure functions from
// values to serialized Event bytes. So far: the first record (file_version "brain.Event:2" with
// the writer's name) and legacy scalars (float32 simple_value), the smallest form both loaders
// read.

#include <cstdint>
#include <string_view>
#include <utility>
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

/// Event{wall_time, step, summary{value{tag, simple_value}...}}: several scalars of one step.
inline std::vector<std::uint8_t> scalars_event(
    double wall_time, std::int64_t step,
    const std::vector<std::pair<std::string_view, float>>& scalars) {
    proto_writer summary;
    for (const auto& [tag, v] : scalars)
        summary.message(1, proto_writer().string(1, tag).fixed32_float(2, v));
    proto_writer e;
    e.fixed64_double(1, wall_time);
    if (step != 0) e.int64(2, step);
    e.message(5, summary);
    return e.bytes();
}

inline std::vector<std::uint8_t> scalar_event(double wall_time, std::int64_t step,
                                              std::string_view tag, float v) {
    return scalars_event(wall_time, step, {{tag, v}});
}

}  // namespace tensorboard
}  // namespace detail
}  // namespace v0
}  // namespace runlog
