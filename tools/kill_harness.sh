#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kill -9 harness in its long mode: an optimised build, then TRIALS (default 200) children
# killed at random moments, each run directory checked (tests/crash/kill_harness.cpp says what).
#
#     bash tools/kill_harness.sh [TRIALS] [more harness options, e.g. --flush-ms 250 --seed 7]
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-200}"
shift || true
cmake -S . -B build-kill -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNLOG_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-kill --target runlog_kill_harness runlog_kill_child >/dev/null
exec build-kill/tests/runlog_kill_harness --child build-kill/tests/runlog_kill_child \
  --trials "$trials" --workdir build-kill/kill9 "$@"
