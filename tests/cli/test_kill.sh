# test_kill.sh — nothing lost: a run killed at any moment (SIGKILL, at times spread over a whole
# run), or one that hits a full disk (a file-size limit: writes fail with EFBIG), leaves each
# output either as it was before or complete and new: the PNGs, the heatmaps folder as a whole,
# the HTML page. Never a partial file under a final name.
. "$(dirname "$0")/lib.sh"
src=$XATTN_SOURCE_DIR
require_files "$src/weights/shapes32/unet/diffusion_pytorch_model.safetensors"
args=(generate -m "$src/weights/shapes32" -p "$src/assets/a-red-circle-left-of-a-blue-square.safetensors"
    --steps 20 --batch 2 -t 1 --quiet)

# outputs SEED DIR: one complete run's outputs in DIR (out-0.png, out-1.png, heat/, page.html).
outputs() {
    mkdir -p "$2" && "$XATTN" "${args[@]}" -s "$1" -o "$2/out.png" --heatmaps "$2/heat" --html "$2/page.html"
}
start=$(date +%s%N)
outputs 1 "$T/old" || fail "old outputs"
duration_ms=$((($(date +%s%N) - start) / 1000000))
outputs 2 "$T/new" || fail "new outputs"
[ "$fails" -eq 0 ] || finish

# state NAME: "old" or "new" when $T/run/NAME equals that run's (files or whole folders),
# else "broken".
state() {
    if diff -r "$T/run/$1" "$T/old/$1" >/dev/null 2>&1; then echo old
    elif diff -r "$T/run/$1" "$T/new/$1" >/dev/null 2>&1; then echo new
    else echo broken; fi
}
# check LABEL: every output is old or new; prints the states.
check() {
    local name s line=""
    for name in out-0.png out-1.png heat page.html; do
        s=$(state "$name")
        line+=" $name=$s"
        [ "$s" != broken ] || fail "$1: $name is neither the old nor the new one: $(ls -la "$T/run/$name" 2>&1 | head -3)"
    done
    echo "$1:$line"
}

# --- SIGKILL at 12 moments across a run -------------------------------------------------------
echo "a whole run takes ${duration_ms} ms"
declare -A seen=()
for i in $(seq 0 11); do
    rm -rf "$T/run" && cp -r "$T/old" "$T/run"
    "$XATTN" "${args[@]}" -s 2 -o "$T/run/out.png" --heatmaps "$T/run/heat" --html "$T/run/page.html" &
    pid=$!
    delay_ms=$((duration_ms * (i + 1) / 11))
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    line=$(check "killed after ${delay_ms} ms")
    echo "$line"
    for s in old new; do case $line in *"=$s"*) seen[$s]=1 ;; esac; done
    case $line in *broken*) fails=$((fails + 1)) ;; esac
done
[ "$fails" -eq 0 ] && ok "every output old or complete after SIGKILL (seen: ${!seen[*]})"
# A killed run may leave hidden temporaries (.NAME.tmp-PID-N); never a visible partial file.
leftover=$(find "$T/run" -name '.*.tmp-*' | wc -l)
echo "hidden temporaries left by the last killed run: $leftover"

# --- a full disk: writes past a size limit fail with EFBIG ------------------------------------
rm -rf "$T/run" && cp -r "$T/old" "$T/run"
(
    trap '' XFSZ # EFBIG from write() instead of the signal
    ulimit -f 8  # 8 KiB: the PNGs fit, heatmaps.safetensors does not
    exec "$XATTN" "${args[@]}" -s 2 -o "$T/run/out.png" --heatmaps "$T/run/heat" --html "$T/run/page.html"
) >"$T/stdout" 2>"$T/stderr"
rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/stderr")" -eq 1 ] && grep -q "^xattn: $T/run/heat.*: " "$T/stderr"; then
    ok "full disk: exit 1, one line: $(cat "$T/stderr")"
else
    fail "full disk: exit $rc, stderr: $(head -c 300 "$T/stderr")"
fi
check "full disk" | grep -q "heat=old" && ok "full disk: the heatmaps folder is the old one" ||
    fail "full disk: heatmaps folder changed: $(check "full disk")"
check "full disk"
leftover=$(find "$T/run" -name '.*.tmp-*' | wc -l)
[ "$leftover" -eq 0 ] && ok "full disk: no temporaries left" ||
    fail "full disk: temporaries left: $(find "$T/run" -name '.*.tmp-*')"
finish
