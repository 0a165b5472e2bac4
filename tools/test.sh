#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds runlog every way CI checks it and runs the whole suite; the last thing it prints is
# ctest's summary. On a fresh Debian/Ubuntu machine, run as root to install what is missing.
#
#   checks: single header current, test lists, clang-format, header self-containment, the demo
#           under valgrind memcheck
#   builds: clang++ (-Werror), g++ TSan (concurrency tests), meson (-Werror), install + CMake,
#           pkg-config and meson-subproject consumers (header-only and runlog::compiled), then
#           g++ ASan+UBSan whose ctest ends the run
#
#   tools/test.sh --quick   for daily work: one build (clang++ if present, Debug), the unit suite
#                           (tests/runlog_tests), nothing else; incremental after the first run
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

stage() { printf '\n=== %s (%ss)\n' "$1" "$SECONDS"; }

if [ "${1:-}" = "--quick" ]; then
  for tool in cmake ninja; do
    command -v "$tool" >/dev/null || { echo "--quick needs $tool (tools/test.sh installs it)" >&2; exit 1; }
  done
  cxx=$(command -v clang++ || command -v g++)
  stage "quick: $(basename "$cxx") Debug build of the unit suite"
  cmake -S . -B build-quick -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$cxx" \
    -DRUNLOG_BUILD_EXAMPLES=OFF -DRUNLOG_BUILD_COMPILED=OFF >/dev/null
  cmake --build build-quick -j "$jobs" --target runlog_tests
  stage "quick: the unit suite"
  (cd build-quick/tests && TZ=Europe/Kyiv ./runlog_tests)
  stage "quick: done (the full run, as CI: tools/test.sh)"
  exit 0
fi

packages=(g++ clang libclang-rt-14-dev cmake ninja-build meson pkg-config catch2 python3
          python3-pandas jq clang-format zlib1g-dev libpng-dev pngcheck protobuf-compiler
          python3-protobuf g++-aarch64-linux-gnu qemu-user git valgrind)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    stage "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

stage "single header and test lists"
python3 tools/amalgamate.py --check
python3 tools/check_test_lists.py

stage "clang-format"
if git rev-parse --git-dir >/dev/null 2>&1; then
  files=$(git ls-files '*.hpp' '*.cpp' | grep -v '^single_include/')
else
  files=$(find include tests examples bench -name '*.hpp' -o -name '*.cpp' 2>/dev/null)
fi
clang-format --dry-run --Werror $files

stage "clang++ build and tests"
cmake -S . -B build-clang -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-clang -j "$jobs"
cmake --build build-clang -j "$jobs" --target all_verify_interface_header_sets  # each header alone
ctest --test-dir build-clang -j "$jobs" --output-on-failure --no-tests=error | tail -n 3

stage "libFuzzer: each parser and encoder, a fixed seed and run count (random: tools/fuzz.sh 3600)"
bash tools/fuzz.sh --ci

stage "valgrind memcheck: the demo (examples/quickstart) with 0 errors and no definite leaks"
mkdir -p build-clang/memcheck
(cd build-clang/memcheck && valgrind -q --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite ../examples/quickstart > /dev/null 2> memcheck.log) ||
  { grep -v get_Form_contents build-clang/memcheck/memcheck.log; exit 1; }
echo "0 errors"

stage "aarch64 (under qemu): the ARMv8 CRC-32C path against the table, g++ and clang++"
mkdir -p build-aarch64
for cxx in aarch64-linux-gnu-g++ "clang++ --target=aarch64-linux-gnu"; do
  for march in "" -march=armv8-a+crc; do  # run-time detection, then compile-time
    $cxx -std=c++17 -O2 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror $march -Iinclude \
      tests/crc32c_check.cpp -o build-aarch64/crc32c_check
    qemu-aarch64 -L /usr/aarch64-linux-gnu build-aarch64/crc32c_check
  done
done

stage "ThreadSanitizer: concurrency and system-sampler tests (the console tests fork: not under TSan)"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNLOG_SANITIZE=thread \
  -DRUNLOG_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target runlog_tsan_tests
TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/runlog_tsan_tests '[concurrency],[queue],[finish],[system],[gpu]'

stage "meson build and tests"
# The benchmarks compile in the clang++ build already.
meson setup build-meson --wipe -Dwerror=true -Dbench=false >/dev/null 2>&1 ||
  meson setup build-meson -Dwerror=true -Dbench=false >/dev/null
meson compile -C build-meson -j "$jobs" >/dev/null
meson test -C build-meson --print-errorlogs | tail -n 12

stage "g++ ASan+UBSan build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRUNLOG_SANITIZE=address,undefined \
  -DRUNLOG_BUILD_BENCH=OFF >/dev/null  # the benchmarks compile in the clang++ and meson builds
cmake --build build -j "$jobs"

stage "install, then consumers: find_package, pkg-config, meson subproject"
rm -rf stage build-consumer-*
cmake --install build --prefix "$root/stage" >/dev/null
cmake -S tests/consumer/cmake -B build-consumer-cmake -G Ninja -DCMAKE_PREFIX_PATH="$root/stage" >/dev/null
cmake --build build-consumer-cmake
build-consumer-cmake/consumer "$(mktemp -d)"
build-consumer-cmake/consumer_compiled "$(mktemp -d)"
mkdir -p build-consumer-pc
for pc in runlog runlog-compiled; do
  g++ tests/consumer/main.cpp -o build-consumer-pc/$pc \
    $(PKG_CONFIG_PATH="$root/stage/share/pkgconfig" pkg-config --cflags --libs $pc)
  build-consumer-pc/$pc "$(mktemp -d)"
done
mkdir -p build-consumer-meson/src/subprojects
cp tests/consumer/main.cpp build-consumer-meson/
cp tests/consumer/meson/meson.build build-consumer-meson/src/
ln -sfn "$root" build-consumer-meson/src/subprojects/runlog
meson setup build-consumer-meson/out build-consumer-meson/src -Drunlog:tests=disabled \
  -Drunlog:examples=false >/dev/null
meson compile -C build-consumer-meson/out >/dev/null
build-consumer-meson/out/consumer "$(mktemp -d)"
build-consumer-meson/out/consumer_compiled "$(mktemp -d)"

stage "ctest (g++ ASan+UBSan)"
ctest --test-dir build -j "$jobs" --output-on-failure --no-tests=error
