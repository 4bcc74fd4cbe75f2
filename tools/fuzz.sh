#!/usr/bin/env bash
# fuzz.sh — builds the libFuzzer harnesses of tests/fuzz/ with clang (ASan + UBSan) in
# build-fuzz/ and runs each target, one at a time, for N executions (docs/fuzzing.md).
#
#   tools/fuzz.sh [TARGET...] [--runs N] [--max-len BYTES] [--timeout SECONDS]
#
# TARGET: safetensors config prompt png_info image tokenizer serve_request (default: all). --runs: executions per
# target (default 1000000). --max-len: largest input (default 65536). --timeout: seconds one
# input may take before it counts as a hang (default 10).
# Each target starts from a fresh copy of tests/fuzz/corpus/<target> in build-fuzz/corpus/
# (the committed corpus is never written) plus the saved crash inputs tests/fuzz/crashes/<target>
# as read-only seeds, with tests/fuzz/<target>.dict when there is one. A crash, leak, UB report
# or hang stops that target and leaves its input in build-fuzz/crashes/<target>/; the log is
# build-fuzz/logs/<target>.log. Prints one summary line per target (also written to
# build-fuzz/summary.txt) and exits 1 when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(safetensors config prompt png_info image tokenizer serve_request)
targets=()
runs=1000000
max_len=65536
timeout=10
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --max-len) max_len="$2"; shift 2 ;;
        --timeout) timeout="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *)
            if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
                echo "fuzz.sh: unknown target $1 (${all_targets[*]})" >&2
                exit 2
            fi
            targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for n in "$runs" "$max_len" "$timeout"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: $n is not a count" >&2; exit 2; }
done

# --- dependencies: the build's, plus clang and its runtimes (libFuzzer, ASan, UBSan) ----------
bash tools/install_deps.sh
missing=()
for p in clang libclang-rt-14-dev; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "fuzz.sh: missing packages: ${missing[*]}; run as root (or install sudo) to install them" >&2
        exit 1
    fi
    echo "fuzz.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- build (one core: the machine is shared) -------------------------------------------------
build=build-fuzz
mkdir -p "$build/logs"
if ! { CC=clang cmake -S . -B "$build" -DXATTN_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug &&
       cmake --build "$build" -j1 --target "${targets[@]/#/fuzz_}"; } >"$build/logs/build.log" 2>&1; then
    tail -30 "$build/logs/build.log" >&2
    echo "fuzz.sh: the build failed (log: $build/logs/build.log)" >&2
    exit 1
fi

# --- run -------------------------------------------------------------------------------------
mkdir -p "$build/logs" "$build/crashes"
: >"$build/summary.txt"
found=0
for t in "${targets[@]}"; do
    work="$build/corpus/$t"
    rm -rf "$work"
    mkdir -p "$work" "$build/crashes/$t"
    cp tests/fuzz/corpus/"$t"/. "$work" -r
    seeds=("$work")
    [ -d "tests/fuzz/crashes/$t" ] && seeds+=("tests/fuzz/crashes/$t")
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    before=$(find "$build/crashes/$t" -type f | wc -l)
    log="$build/logs/$t.log"
    start=$(date +%s.%N)
    rc=0
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        nice -n 5 "$build/tests/fuzz/fuzz_$t" -runs="$runs" -max_len="$max_len" \
        -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$t/" "${dict[@]}" "${seeds[@]}" >"$log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    after=$(find "$build/crashes/$t" -type f | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    eps=$(awk -v n="${execs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0) ? n / s : 0 }')
    new=$((after - before))
    line=$(printf '%-12s executions %9s  seconds %6s  exec/s %6s  cov %5s  ft %6s  corpus %-10s  crashes %d  (rc %d)' \
        "$t" "${execs:-?}" "$secs" "$eps" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$new" "$rc")
    echo "$line" | tee -a "$build/summary.txt"
    if [ "$rc" -ne 0 ] || [ "$new" -gt 0 ]; then
        found=1
        echo "  see $log; inputs in $build/crashes/$t/" | tee -a "$build/summary.txt"
    fi
done
exit $found
