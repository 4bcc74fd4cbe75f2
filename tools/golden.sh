#!/usr/bin/env bash
# golden.sh — golden-image regression tests (tests/golden/, docs/golden.md).
#
#   tools/golden.sh check  [-x XATTN] [-t THREADS] [-o DIR] [-c CASES]
#                                                               render every case, compare, exit 1
#                                                               on any difference past tolerance
#   tools/golden.sh update [-x XATTN] [--yes]                  render every case, show what
#                                                               changed, then overwrite (asks
#                                                               first unless --yes)
#   tools/golden.sh measure [-x XATTN] [-o DIR]                the spread behind the tolerance:
#                                                               threads 1-3, OpenBLAS kernels
#
# A case is a line of tests/golden/cases.tsv (or of CASES); its golden files are
# tests/golden/<name>.png and tests/golden/<name>.heatmaps.safetensors. XATTN defaults to
# build/xattn; THREADS to 2.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GOLDEN=$ROOT/tests/golden
. "$GOLDEN/tolerance.sh"

usage() { sed -n '4,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
mode=$1
shift
xattn=$ROOT/build/xattn threads=2 out="" yes=0 case_file=$GOLDEN/cases.tsv
while [ $# -gt 0 ]; do
    case $1 in
    -x) xattn=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -c) case_file=$2; shift 2 ;;
    --yes) yes=1; shift ;;
    *) usage ;;
    esac
done
[ -x "$xattn" ] || { echo "golden.sh: $xattn: no xattn binary (build first: cmake --build build)" >&2; exit 1; }
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/xattn-golden.XXXXXX")
mkdir -p "$out" || exit 1

# cases: prints "name<TAB>arguments" for every case line.
cases() { grep -v '^#' "$case_file" | grep -v '^[[:space:]]*$'; }

# render NAME ARGS DIR [ENV...]: DIR/NAME.png and DIR/NAME/heatmaps.safetensors; 0 on success.
render() {
    local name=$1 args=$2 dir=$3
    shift 3
    rm -rf "${dir:?}/$name" "$dir/$name.png"
    # shellcheck disable=SC2086 # the case's arguments are words without spaces
    (cd "$ROOT" && env "$@" "$xattn" $args -t "$threads" -o "$dir/$name.png" --heatmaps "$dir/$name" \
        --quiet) || { echo "FAIL $name: xattn exited $?" >&2; return 1; }
}

# compare NAME DIR: compares DIR's files with the golden ones; prints one line; 0 when within.
compare() {
    local name=$1 dir=$2 png heat
    if [ ! -f "$GOLDEN/$name.png" ] || [ ! -f "$GOLDEN/$name.heatmaps.safetensors" ]; then
        echo "new       $name (no golden files yet)"
        return 1
    fi
    png=$("$xattn" compare "$GOLDEN/$name.png" "$dir/$name.png" --tolerance "$GOLDEN_MAX_ABS" \
        --diff "$dir/$name.diff.png" 2>/dev/null | grep -E '^(max_abs_diff|psnr_db|differing_pixels)' | tr '\n' ' ')
    local png_rc=${PIPESTATUS[0]}
    heat=$("$xattn" compare "$GOLDEN/$name.heatmaps.safetensors" "$dir/$name/heatmaps.safetensors" \
        --atol "$GOLDEN_HEAT_ATOL" 2>&1 | grep -E '^(tensor|metadata: differs|xattn: .*: (tensor|metadata))' |
        sed 's/^tensor maps //' | tr '\n' ' ')
    local heat_rc=${PIPESTATUS[0]}
    if [ "$png_rc" -eq 0 ] && [ "$heat_rc" -eq 0 ]; then
        echo "ok        $name  png: $png heatmaps: $heat"
        return 0
    fi
    echo "DIFFERS   $name  png: $png heatmaps: $heat (difference image: $dir/$name.diff.png)"
    return 1
}

case $mode in
check)
    fails=0 n=0
    while IFS=$'\t' read -r name args; do
        n=$((n + 1))
        if ! render "$name" "$args" "$out" || ! compare "$name" "$out"; then fails=$((fails + 1)); fi
    done < <(cases)
    [ "$n" -gt 0 ] || { echo "golden.sh: no cases in $case_file" >&2; exit 1; }
    if [ "$fails" -ne 0 ]; then
        echo "$fails of $n golden cases differ (outputs in $out); if the change is intended: tools/golden.sh update"
        exit 1
    fi
    echo "all $n golden cases within tolerance (max abs $GOLDEN_MAX_ABS, heatmaps atol $GOLDEN_HEAT_ATOL, $threads threads)"
    ;;
update)
    changed=()
    while IFS=$'\t' read -r name args; do
        render "$name" "$args" "$out" || exit 1
        if ! cmp -s "$GOLDEN/$name.png" "$out/$name.png" 2>/dev/null ||
            ! cmp -s "$GOLDEN/$name.heatmaps.safetensors" "$out/$name/heatmaps.safetensors" 2>/dev/null; then
            compare "$name" "$out"
            changed+=("$name")
        else
            echo "unchanged $name"
        fi
    done < <(cases)
    if [ ${#changed[@]} -eq 0 ]; then echo "nothing to update"; exit 0; fi
    echo "${#changed[@]} case(s) would change; new files and difference images are in $out"
    if [ "$yes" -ne 1 ]; then
        if [ -t 0 ]; then
            read -r -p "overwrite the golden files of these cases? [y/N] " answer
            [ "$answer" = y ] || [ "$answer" = Y ] || { echo "nothing written"; exit 1; }
        else
            echo "nothing written: rerun with --yes to overwrite"
            exit 1
        fi
    fi
    for name in "${changed[@]}"; do
        cp "$out/$name.png" "$GOLDEN/$name.png.tmp" && mv "$GOLDEN/$name.png.tmp" "$GOLDEN/$name.png" &&
            cp "$out/$name/heatmaps.safetensors" "$GOLDEN/$name.heatmaps.safetensors.tmp" &&
            mv "$GOLDEN/$name.heatmaps.safetensors.tmp" "$GOLDEN/$name.heatmaps.safetensors" || exit 1
        echo "wrote     tests/golden/$name.png, tests/golden/$name.heatmaps.safetensors"
    done
    ;;
measure)
    # Every variant against the 2-thread release rendering of the same case.
    mkdir -p "$out/base" || exit 1
    worst_png=0 worst_heat=0
    while IFS=$'\t' read -r name args; do
        threads=2 render "$name" "$args" "$out/base" || exit 1
        for variant in t1 t3 Haswell SandyBridge Nehalem Prescott; do
            dir=$out/$variant
            mkdir -p "$dir"
            case $variant in
            t1) threads=1 render "$name" "$args" "$dir" ;;
            t3) threads=3 render "$name" "$args" "$dir" ;;
            *) threads=2 render "$name" "$args" "$dir" OPENBLAS_CORETYPE=$variant ;;
            esac || continue
            p=$("$xattn" compare "$out/base/$name.png" "$dir/$name.png" --json --tolerance 255 |
                sed 's/.*"max_abs_diff":\([0-9.e+-]*\).*/\1/')
            h=$("$xattn" compare "$out/base/$name/heatmaps.safetensors" "$dir/$name/heatmaps.safetensors" \
                --json --atol 1e9 | sed 's/.*"max_abs_diff":\([0-9.e+-]*\),"metadata.*/\1/')
            echo "$name $variant: png max abs $p, heatmaps max abs $h"
            worst_png=$(awk -v a="$worst_png" -v b="$p" 'BEGIN { print (b > a ? b : a) }')
            worst_heat=$(awk -v a="$worst_heat" -v b="$h" 'BEGIN { print (b > a ? b : a) }')
        done
    done < <(cases)
    echo "worst: png max abs $worst_png, heatmaps max abs $worst_heat (limits: $GOLDEN_MAX_ABS, $GOLDEN_HEAT_ATOL)"
    ;;
*) usage ;;
esac
