#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and runs the demo (examples/quickstart.cpp): a small training loop that writes a run to
# ./runlog/. On a fresh Debian/Ubuntu machine, run as root to install the build tools it lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in g++ cmake ninja-build; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DRUNLOG_BUILD_TESTS=OFF >/dev/null
cmake --build build-demo --target quickstart
build-demo/examples/quickstart
echo
echo "The run is in runlog/latest-run/ ($(readlink runlog/latest-run)):"
ls runlog/latest-run/
echo "summary.json:"
if command -v python3 >/dev/null 2>&1; then
  python3 -m json.tool runlog/latest-run/summary.json
else
  cat runlog/latest-run/summary.json
fi
echo
echo "To turn it into a W&B offline run or TensorBoard files: build the runlog tool (cmake --build"
echo "build-demo --target runlog_cli), then build-demo/runlog export --to wandb runlog/latest-run"
echo "(then wandb sync), or --to tensorboard (then tensorboard --logdir tensorboard/). Or run the"
echo "demo with RUNLOG_SINKS=jsonl,wandb,tensorboard to write all three while it trains."
