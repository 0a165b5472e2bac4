#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# libFuzzer on every parser and encoder runlog ships (tests/fuzz/fuzz_*.cpp says what each checks):
# clang++ -fsanitize=fuzzer,address,undefined, each target for SECONDS (default 600), starting
# from the committed corpus. New inputs collect in build-fuzz/corpus/<target>/. A crash stops the
# script with the input saved as build-fuzz/crash-*: fix the bug, then add the input to
# tests/fuzz/corpus/<target>/, where every build replays it as a test (fuzz_corpus_<target>).
#
#     bash tools/fuzz.sh [SECONDS] [TARGET...]      random, for as long as asked
#     bash tools/fuzz.sh --ci [TARGET...]          CI: a fixed seed and number of runs per target
#                                                  (about 15 s each), so a run cannot fail at random
set -euo pipefail
cd "$(dirname "$0")/.."
ci=false
if [ "${1:-}" = "--ci" ]; then
  ci=true
  shift
  seconds=0
else
  seconds="${1:-600}"
  shift || true
fi
targets=("$@")
((${#targets[@]})) || targets=(json native_run wandb_reader tfevents_reader png)
# --ci: inputs per target (the same seed, corpus and binary always explore the same inputs).
declare -A ci_runs=([json]=300000 [native_run]=3000 [wandb_reader]=300000 [tfevents_reader]=200000
                    [png]=4000)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DRUNLOG_BUILD_FUZZERS=ON -DRUNLOG_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-fuzz --target $(printf 'runlog_fuzz_%s ' "${targets[@]}") >/dev/null
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  if $ci; then
    rm -rf "build-fuzz/corpus/$t" && mkdir -p "build-fuzz/corpus/$t"  # the committed corpus only
    limits=(-seed=1 -runs="${ci_runs[$t]}")
  else
    limits=(-max_total_time="$seconds")
  fi
  if ! (cd build-fuzz && "tests/runlog_fuzz_$t" "${limits[@]}" -timeout=10 \
          -rss_limit_mb=4096 "corpus/$t" "../tests/fuzz/corpus/$t" 2> "fuzz-$t.log"); then
    tail -n 40 "build-fuzz/fuzz-$t.log"
    echo "fuzz target $t failed: the input is build-fuzz/crash-* (see above)" >&2
    exit 1
  fi
  grep -E "^#[0-9]+[[:space:]]+DONE" "build-fuzz/fuzz-$t.log" | sed "s/^/$t: /" || true
done
