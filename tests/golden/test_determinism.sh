# test_determinism.sh — the same seed and thread count give bit-identical PNGs and heatmaps
# (every golden case rendered twice with 2 threads), and 1 or 3 threads stay within the golden
# tolerance (tests/golden/tolerance.sh).
. "$XATTN_SOURCE_DIR/tests/cli/lib.sh"
src=$XATTN_SOURCE_DIR
golden=$src/tools/golden.sh

for run in a b; do
    bash "$golden" check -x "$XATTN" -t 2 -o "$T/$run" >"$T/$run.log" 2>&1 ||
        fail "2 threads, run $run: $(tail -2 "$T/$run.log")"
done
n=0
for png in "$T"/a/*.png; do
    case $png in *.diff.png) continue ;; esac
    name=$(basename "$png" .png)
    n=$((n + 1))
    if cmp -s "$png" "$T/b/$name.png" &&
        cmp -s "$T/a/$name/heatmaps.safetensors" "$T/b/$name/heatmaps.safetensors"; then
        ok "same seed, same threads, bit-identical: $name"
    else
        fail "same seed, same threads: $name differs between two runs"
    fi
done
[ "$n" -gt 0 ] || fail "no cases rendered"

for threads in 1 3; do
    if bash "$golden" check -x "$XATTN" -t "$threads" -o "$T/t$threads" >"$T/t$threads.log" 2>&1; then
        ok "$threads threads within the golden tolerance: $(tail -1 "$T/t$threads.log")"
    else
        fail "$threads threads: $(grep DIFFERS "$T/t$threads.log" | head -2)"
    fi
done
finish
