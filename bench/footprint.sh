#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What including runlog costs a build, and what it adds to a program (BENCHMARKS.md, "Footprint"):
#
#   bash bench/footprint.sh             # the two tables
#   bash bench/footprint.sh --summary   # bench/run.sh's rows
#   bash bench/footprint.sh --headers   # -O0 compile time of a TU including each header alone
#
# Compile times are the median of 3 runs of `$CXX -std=c++17 -c` (CXX defaults to g++) of a
# translation unit; sizes are of -O2 programs after `strip`, linked as the compiler links by
# default (libstdc++ shared).
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=${CXX:-g++}
summary=0
[[ "${1:-}" == --summary ]] && summary=1

if [[ "${1:-}" == --headers ]]; then  # where the umbrella header's compile time comes from
    tu="${TMPDIR:-/tmp}/runlog_header_tu.cpp"
    ms() {  # one -O0 compile of $tu with flags $1
        local start
        start=$(date +%s%N)
        $CXX -std=c++17 -O0 $1 -Iinclude -c "$tu" -o /dev/null
        echo $(( ($(date +%s%N) - start) / 1000000 ))
    }
    echo "| header (each alone, with an empty main), -O0 | ms | ms with RUNLOG_COMPILED_LIB=1 |"
    echo "|---|---:|---:|"
    for h in config.hpp value.hpp metric.hpp settings.hpp media/media.hpp media/image.hpp \
        detail/run_core.hpp detail/dispatcher.hpp sinks/jsonl.hpp sinks/wandb.hpp \
        sinks/tensorboard.hpp artifacts.hpp detail/run_state.hpp run.hpp export.hpp runlog.hpp; do
        printf '#include <runlog/%s>\nint main() {}\n' "$h" > "$tu"
        echo "| \`runlog/$h\` | $(ms "") | $(ms -DRUNLOG_COMPILED_LIB=1) |"
    done
    rm -f "$tu"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/baseline.cpp" <<'EOF'
#include <string>
#include <vector>
int main() { return static_cast<int>(std::vector<std::string>{"a"}.size()) - 1; }
EOF
cat > "$tmp/umbrella.cpp" <<'EOF'
#include <runlog/runlog.hpp>
int main() { return 0; }
EOF
cat > "$tmp/minimal.cpp" <<'EOF'
#include <runlog/runlog.hpp>
int main() {
    auto run = runlog::init(runlog::settings{}.with_project("footprint"));
    for (int step = 0; step < 10; ++step) run.log({{"loss", 1.0 / (step + 1)}}, step);
    run.finish();
}
EOF
cat > "$tmp/hello.cpp" <<'EOF'
#include <cstdio>
int main() { std::puts("hello, world"); }
EOF

# Median seconds of 3 compiles of $1 with flags $2 and include dir $3.
compile_seconds() {
    local times=() start end
    for _ in 1 2 3; do
        start=$(date +%s%N)
        $CXX -std=c++17 $2 -I"$3" -c "$1" -o "$tmp/out.o"
        end=$(date +%s%N)
        times+=("$(( (end - start) / 1000000 ))")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n 2p | awk '{ printf "%.2f", $1 / 1000 }'
}

stripped_bytes() {
    $CXX -std=c++17 -O2 -Iinclude "$1" -o "$tmp/prog" -pthread
    strip "$tmp/prog"
    stat -c %s "$tmp/prog"
}

declare -A o0 o2
for tu in baseline umbrella single minimal umbrella_compiled minimal_compiled; do
    src="$tmp/${tu%_compiled}.cpp" inc=include flags=""
    [[ $tu == single ]] && src="$tmp/umbrella.cpp" inc=single_include
    [[ $tu == *_compiled ]] && flags="-DRUNLOG_COMPILED_LIB=1"  # as runlog::compiled defines it
    o0[$tu]=$(compile_seconds "$src" "-O0 $flags" "$inc")
    o2[$tu]=$(compile_seconds "$src" "-O2 $flags" "$inc")
done
hello=$(stripped_bytes "$tmp/hello.cpp")
minimal=$(stripped_bytes "$tmp/minimal.cpp")
added_kib=$(awk -v a="$minimal" -v b="$hello" 'BEGIN { printf "%.0f", (a - b) / 1024 }')
# The compiled library, built once as the build systems build runlog::compiled.
$CXX -std=c++17 -O2 -DRUNLOG_COMPILED_LIB=1 -Iinclude -c src/runlog.cpp -o "$tmp/runlog.o"
ar rcs "$tmp/librunlog_compiled.a" "$tmp/runlog.o"
$CXX -std=c++17 -O2 -DRUNLOG_COMPILED_LIB=1 -Iinclude "$tmp/minimal.cpp" -o "$tmp/prog" \
    -L"$tmp" -lrunlog_compiled -pthread
strip "$tmp/prog"
minimal_compiled=$(stat -c %s "$tmp/prog")
over() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", a - b }'; }

if (( summary )); then
    echo "| compile: a TU including runlog/runlog.hpp, -O0 | ${o0[umbrella]} s ($(over "${o0[umbrella]}" "${o0[baseline]}") s over \`<string>\` + \`<vector>\`) | ≤ 1 s |"
    echo "| compile: the same TU, -O2 | ${o2[umbrella]} s ($(over "${o2[umbrella]}" "${o2[baseline]}") s) | – |"
    echo "| compile: the same TU with runlog::compiled (RUNLOG_COMPILED_LIB), -O0 | ${o0[umbrella_compiled]} s ($(over "${o0[umbrella_compiled]}" "${o0[baseline]}") s) | ≤ 1 s |"
    echo "| minimal logging program, -O2, stripped | ${minimal} B (+${added_kib} KiB over hello world) | ≤ +150 KB |"
    exit 0
fi
echo "$($CXX --version | head -1), median of 3 compiles"
echo
echo "| translation unit | -O0 s | -O2 s |"
echo "|---|---:|---:|"
echo "| \`<string>\` + \`<vector>\` and a main | ${o0[baseline]} | ${o2[baseline]} |"
echo "| \`#include <runlog/runlog.hpp>\` and an empty main | ${o0[umbrella]} | ${o2[umbrella]} |"
echo "| the same with single_include/runlog/runlog.hpp | ${o0[single]} | ${o2[single]} |"
echo "| a minimal logging program (init, 10 rows, finish) | ${o0[minimal]} | ${o2[minimal]} |"
echo "| \`#include <runlog/runlog.hpp>\` with runlog::compiled (RUNLOG_COMPILED_LIB=1) | ${o0[umbrella_compiled]} | ${o2[umbrella_compiled]} |"
echo "| the minimal logging program with runlog::compiled | ${o0[minimal_compiled]} | ${o2[minimal_compiled]} |"
echo
echo "| program (-O2, stripped) | bytes |"
echo "|---|---:|"
echo "| hello world (\`<cstdio>\`, \`puts\`) | $hello |"
echo "| minimal logging program | $minimal (+$added_kib KiB) |"
echo "| the same linked with librunlog_compiled.a | $minimal_compiled |"
