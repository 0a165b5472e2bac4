// SPDX-License-Identifier: MIT
#pragma once
// The wall clock every timestamp comes from (settings::clock replaces it per run).

#include <chrono>

namespace runlog {
inline namespace v0 {
namespace detail {

/// Seconds since the Unix epoch. system_clock reads the vDSO on Linux: no system call.
inline double unix_time_now() noexcept {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
