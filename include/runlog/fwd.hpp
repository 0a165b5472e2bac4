// SPDX-License-Identifier: MIT
#pragma once
// Forward declarations, for headers that only pass runlog types around.

namespace runlog {
inline namespace v0 {
class value;
class run;
class sink;
struct settings;
struct metric_options;
struct metric_definition;
struct run_stats;
}  // namespace v0
}  // namespace runlog
