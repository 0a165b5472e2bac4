#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the benchmarks in Release and prints one table: issue 8's measures against its targets,
# taken on this machine. Each row comes from a benchmark that also prints its full tables when run
# alone (see BENCHMARKS.md). Takes about two minutes.
#
#   bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DRUNLOG_BUILD_TESTS=OFF > /dev/null
cmake --build "$build" --target bench_caller_latency bench_end_to_end bench_memory bench_syscalls \
    > /dev/null

echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(${CXX:-g++} --version | head -1), $(date -u +%F)"
echo
echo "| measure | result | target |"
echo "|---|---|---|"
"$build/bench/bench_caller_latency" --summary
if command -v strace > /dev/null; then  # Debian: apt-get install -y strace
    trace=$(mktemp)
    strace -f -o "$trace" "$build/bench/bench_syscalls"
    main=$(head -1 "$trace" | cut -d' ' -f1)
    # System calls the main thread starts after the first marker returns and before the second
    # (strace splits a call that another thread interrupts into "unfinished" and "resumed" lines).
    calls=$(awk -v m="$main" '$1 == m' "$trace" | awk '
        state == 0 && /getppid/ && !/unfinished/ { state = 1; next }
        state == 1 && /getppid\(/ { state = 2 }
        state == 1 && !/resumed>/ { n++ }
        END { print n + 0 }')
    rm -f "$trace"
    echo "| system calls on the calling thread during 200,000 paced log() calls (strace) | $calls | 0 |"
fi
"$build/bench/bench_end_to_end" --summary
"$build/bench/bench_memory" --summary
bash bench/footprint.sh --summary
