#!/usr/bin/env bash
# test_html.sh — `xattn generate --html FILE`, the heatmap explorer page, in real headless
# Chromium: the page is one self-contained file (no http(s) URL, no external script, style or
# font; images as data:image/png;base64), and in the browser selecting a word through the
# address (#word=N&step=S, which makes the page's script click word N's button and move the step
# slider) shows that word and a map that differs between words and between steps. A screenshot
# is taken ($XATTN_TEST_TMP/cli_html/shot.png) and checked to be a PNG of the window's size.
# Skips (exit 0) with "skip: chromium not installed" where no Chromium binary exists, and
# "skip: <file> missing" without the demo model or prompt.
. "$(dirname "$0")/lib.sh"

MODEL="$XATTN_SOURCE_DIR/weights/tiny-random"
PROMPT="$XATTN_SOURCE_DIR/assets/a-red-circle-left-of-a-blue-square.safetensors"
require_files "$MODEL/unet/config.json" "$PROMPT"

CHROMIUM=""
for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then CHROMIUM=$(command -v "$c"); break; fi
done
[ -n "$CHROMIUM" ] || { echo "skip: chromium not installed"; exit 0; }

# --- the page ----------------------------------------------------------------------------
PAGE="$T/page.html"
if ! "$XATTN" generate -m "$MODEL" -p "$PROMPT" --steps 4 -q -o "$T/out.png" --html "$PAGE" \
        2>"$T/stderr"; then
    fail "generate --html: $(head -c 300 "$T/stderr")"
    exit 1
fi
[ -s "$PAGE" ] && [ -s "$T/out.png" ] && ok "page and image written" || fail "page or image missing"
ls -a "$T" | grep -q '\.tmp-' && fail "a temporary file was left behind"

# self-contained: no URL other than data: and the page's own #fragment
if grep -Eiq '(src|href)="(https?:|//|file:)|url\(|@import|<link' "$PAGE"; then
    fail "the page refers to something outside itself: $(grep -Eio '(src|href)="[^"]{0,40}|url\([^)]{0,40}|@import[^;]{0,40}|<link[^>]{0,60}' "$PAGE" | head -3)"
else
    ok "self-contained"
fi
n_png=$(grep -o 'data:image/png;base64,' "$PAGE" | wc -l)
# the image, the legend, and 8 words x 4 steps of maps
[ "$n_png" -eq $((2 + 8 * 4)) ] && ok "inline PNGs ($n_png)" || fail "expected 34 inline PNGs, got $n_png"
words=$(grep -o 'data-word="[0-9]*" type="button">[^<]*' "$PAGE" | sed 's/.*>//' | tr '\n' ' ')
[ "$words" = "a red circle left of a blue square " ] && ok "word buttons" \
    || fail "word buttons: '$words'"

# --- the browser -------------------------------------------------------------------------
# browse OUT HASH [ARGS...]: loads the page at #HASH in headless Chromium (root needs
# --no-sandbox); a fresh profile per run so runs do not share state.
browse() {
    local out=$1 hash=$2
    shift 2
    rm -rf "$T/profile"
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-extensions --user-data-dir="$T/profile" "$@" "file://$PAGE#$hash" \
        >"$out" 2>"$T/chromium.log"
}

# dom HASH NAME: the DOM after the page's script ran, in $T/NAME.html
dom() {
    browse "$T/$2.html" "$1" --dump-dom || { fail "chromium --dump-dom #$1: exit $?: $(tail -c 300 "$T/chromium.log")"; return 1; }
}
shown_word() { grep -o '<b id="current-word">[^<]*' "$T/$1.html" | sed 's/.*>//'; }
map_src() { grep -o '<img id="map"[^>]*' "$T/$1.html" | grep -o 'src="data:image/png;base64,[^"]*' | md5sum | cut -c1-32; }
body_tag() { grep -o '<body[^>]*>' "$T/$1.html"; }

dom "word=2&step=3" circle3 && dom "word=6&step=3" blue3 && dom "word=2&step=0" circle0 \
    && dom "word=-1" image || exit 1

[ "$(shown_word circle3)" = circle ] && ok "word 2 shows 'circle'" \
    || fail "word 2: shown '$(shown_word circle3)'"
[ "$(shown_word blue3)" = blue ] && ok "word 6 shows 'blue'" || fail "word 6: shown '$(shown_word blue3)'"
[ "$(body_tag circle3)" = '<body data-word="2" data-step="3">' ] && ok "state word 2, step 3" \
    || fail "state: $(body_tag circle3)"
grep -q '<button class="word selected" data-word="2"' "$T/circle3.html" && ok "button 2 selected" \
    || fail "button 2 not marked selected"
grep -q 'id="current-steps">steps 0–3 summed' "$T/circle3.html" && ok "steps label" \
    || fail "steps label: $(grep -o 'id="current-steps">[^<]*' "$T/circle3.html")"
empty=$(printf '' | md5sum | cut -c1-32)
a=$(map_src circle3) b=$(map_src blue3) c=$(map_src circle0)
[ "$a" != "$empty" ] && [ "$b" != "$empty" ] && ok "a map is shown" || fail "no map src shown"
[ "$a" != "$b" ] && ok "the map changes with the word" || fail "circle and blue show the same map"
[ "$a" != "$c" ] && ok "the map changes with the step" || fail "steps 0 and 3 show the same map"
[ "$(map_src image)" = "$empty" ] && ! grep -q 'id="stage" class="with-map"' "$T/image.html" \
    && ok "'image' hides the map" || fail "'image' still shows a map"
# the shown map is the page's own map of that (step, word): MAPS row 3 (steps 0-3), entry 2
want=$(grep -o '"data:image/png;base64,[^"]*"' "$PAGE" | sed -n "$((2 + 3 * 8 + 2 + 1))p" \
       | tr -d '"' | sed 's/^/src="/' | md5sum | cut -c1-32)
[ "$a" = "$want" ] && ok "shown map is MAPS[3][2]" || fail "shown map is not MAPS[3][2]"

# --- a screenshot --------------------------------------------------------------------------
if browse /dev/null "word=7" --hide-scrollbars --screenshot="$T/shot.png" --window-size=900,1000; then
    sig=$(head -c 8 "$T/shot.png" | od -An -tx1 | tr -d ' \n')
    wh=$(od -An -tu1 -j16 -N8 "$T/shot.png" | awk '{print $3*256+$4 "x" $7*256+$8}')
    [ "$sig" = 89504e470d0a1a0a ] && [ "$wh" = 900x1000 ] && [ "$(wc -c <"$T/shot.png")" -gt 20000 ] \
        && ok "screenshot $T/shot.png ($wh)" || fail "screenshot: signature $sig, size $wh"
else
    fail "chromium --screenshot: $(tail -c 300 "$T/chromium.log")"
fi

finish "all html tests passed"
