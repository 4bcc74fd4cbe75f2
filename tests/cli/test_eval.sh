#!/usr/bin/env bash
# test_eval.sh — `xattn eval adherence`: the output format and exit codes (the tiny test
# models are untrained, so their scores mean nothing). Prompts mode writes one JSON line per
# (prompt, seed) with the documented fields, --json one object with six categories and
# overall, --out the PNGs; truth mode scores a fresh dataset folder (png and npy) as 1.0 with
# every detection exact; bad command lines exit 2 and bad inputs exit 1, each with one line.
# Plain shell only (no python in CI).
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/emb" || exit 1

# prompts: [3, 32] zeros (tiny_conv_eps has cross_attention_dim 32) and a [2, 8] one
write_safetensors "$T/emb/p32.safetensors" '{"__metadata__":{"prompt":"a red circle"},"encoder_hidden_states":{"dtype":"F32","shape":[3,32],"data_offsets":[0,384]}}' 384
write_safetensors "$T/emb/p8.safetensors" '{"encoder_hidden_states":{"dtype":"F32","shape":[2,8],"data_offsets":[0,64]}}' 64
P="$T/prompts.jsonl"
cat >"$P" <<'EOF'
{"prompt":"a red circle","embedding":"emb/p32.safetensors","category":"single","objects":[{"shape":"circle","color":"red"}],"relation":null}
{"prompt":"two blue squares","embedding":"emb/p32.safetensors","category":"count","objects":[{"shape":"square","color":"blue","count":2}]}

{"prompt":"a red circle left of a blue square","embedding":"emb/p32.safetensors","category":"position","objects":[{"shape":"circle","color":"red"},{"shape":"square","color":"blue"}],"relation":{"subject":0,"relation":"left of","object":1}}
EOF

TINY="$XATTN_SOURCE_DIR/tests/data/models/tiny_conv_eps"
if [ ! -f "$TINY/unet/config.json" ]; then
    echo "skip: $TINY/unet/config.json missing"
else
    # --- prompts mode: JSON lines ---------------------------------------------------------------
    if run lines 0 eval adherence -m "$TINY" --prompts "$P" --seeds 2 --steps 2 --out "$T/out"; then
        n=$(wc -l <"$T/stdout")
        [ "$n" -eq 6 ] && ok "6 lines for 3 prompts x 2 seeds" || fail "lines: $n, want 6"
        bad=0
        i=0
        for want in "0 0" "0 1" "1 0" "1 1" "2 0" "2 1"; do
            i=$((i + 1))
            line=$(sed -n "${i}p" "$T/stdout")
            set -- $want
            case "$line" in
                "{\"index\":$1,\"seed\":$2,\"prompt\":\""*) ;;
                *) fail "line $i does not start with index $1, seed $2: ${line:0:100}"; bad=$((bad + 1)) ;;
            esac
            for field in '"category":"' '"pass":' '"reason":' '"objects":[' "\"image\":\"$T/out/000$1-$2.png\""; do
                case "$line" in *"$field"*) ;; *) fail "line $i lacks $field"; bad=$((bad + 1)) ;; esac
            done
            # a fail carries a reason string, a pass a null one
            case "$line" in
                *'"pass":false,"reason":"expected '*|*'"pass":false,"reason":"the '*|*'"pass":true,"reason":null'*) ;;
                *) fail "line $i: pass/reason not as documented: ${line:0:200}"; bad=$((bad + 1)) ;;
            esac
            opens=$(printf '%s' "$line" | tr -cd '{[' | wc -c)
            closes=$(printf '%s' "$line" | tr -cd '}]' | wc -c)
            [ "$opens" -eq "$closes" ] || { fail "line $i unbalanced"; bad=$((bad + 1)); }
        done
        [ "$bad" -eq 0 ] && ok "lines well formed"
        grep -q '"category":"position"' "$T/stdout" && grep -q '"category":"count"' "$T/stdout" &&
            ok "categories named" || fail "categories missing"
        pngs=$(ls "$T/out" | grep -c '^000[0-2]-[01]\.png$')
        [ "$pngs" -eq 6 ] && ok "--out wrote 6 PNGs" || fail "--out: $(ls "$T/out" | head)"
        [ "$(head -c 4 "$T/out/0002-1.png" | od -An -tx1 | tr -d ' \n')" = "89504e47" ] && ok "a PNG" || fail "0002-1.png is not a PNG"
        grep -q "^scored 6 images (3 prompts x 2 seeds): overall " "$T/stderr" && ok "summary on stderr" ||
            fail "summary: $(head -c 200 "$T/stderr")"
        # the same seed gives the same pixels as xattn generate: the same IDAT chunk bytes
        # (both PNGs are written alike; only their text chunks differ)
        idat() { od -An -v -tx1 "$1" | tr -d ' \n' | sed 's/.*\(49444154.*\)49454e44.*/\1/'; }
        "$XATTN" generate -m "$TINY" -p "$T/emb/p32.safetensors" -s 1 --steps 2 -o "$T/gen.png" -q 2>/dev/null
        if [ -s "$T/gen.png" ] && [ "$(idat "$T/gen.png")" = "$(idat "$T/out/0000-1.png")" ]; then
            ok "image equals xattn generate -s 1"
        else
            fail "the image of prompt 0, seed 1 differs from xattn generate -s 1"
        fi
        [ "$(idat "$T/out/0000-0.png")" != "$(idat "$T/out/0000-1.png")" ] && ok "seeds differ" || fail "seeds 0 and 1 gave one image"
    fi

    # --- --out: an image name that exists is overwritten only when xattn wrote that file -------
    [ -s "$T/out/xattn-manifest.json" ] && ok "--out: manifest written" || fail "--out: no manifest in $T/out"
    if run "out again" 0 eval adherence -m "$TINY" --prompts "$P" --seeds 2 --steps 2 --out "$T/out" -q; then
        ok "--out: the same folder again"
    fi
    mkdir -p "$T/mine" && printf 'my own picture' >"$T/mine/0000-0.png" && printf 'notes' >"$T/mine/notes.txt"
    expect_error "--out holds a user's 0000-0.png" 1 "$T/mine/0000-0.png: exists, and xattn did not write it" \
        eval adherence -m "$TINY" --prompts "$P" --seeds 1 --steps 1 --out "$T/mine"
    [ "$(cat "$T/mine/0000-0.png")" = "my own picture" ] && [ "$(ls "$T/mine" | wc -l)" -eq 2 ] &&
        ok "--out: the user's files untouched" || fail "--out: $T/mine changed: $(ls "$T/mine")"
    printf 'x' >>"$T/out/0001-1.png"
    expect_error "--out image changed since" 1 "$T/out/0001-1.png: exists, and xattn did not write it (changed since xattn wrote it)" \
        eval adherence -m "$TINY" --prompts "$P" --seeds 2 --steps 1 --out "$T/out"
    rm -rf "$T/mine2" && mkdir -p "$T/mine2" && printf 'notes' >"$T/mine2/notes.txt"
    if run "--out beside other files" 0 eval adherence -m "$TINY" --prompts "$P" --seeds 1 --steps 1 --out "$T/mine2" -q; then
        [ "$(cat "$T/mine2/notes.txt")" = notes ] && [ -s "$T/mine2/0002-0.png" ] && ok "--out beside other files" ||
            fail "--out beside other files: $(ls "$T/mine2")"
    fi

    # --- prompts mode: --json -----------------------------------------------------------------
    if run json 0 eval adherence -m "$TINY" --prompts "$P" --seeds 1 --steps 2 --cfg 1 --json -q; then
        j=$(cat "$T/stdout")
        [ "$(wc -l <"$T/stdout")" -eq 1 ] && ok "--json: one line" || fail "--json: $(wc -l <"$T/stdout") lines"
        [ -s "$T/stderr" ] && fail "--json -q: stderr not empty: $(head -c 200 "$T/stderr")"
        for field in '"mode":"prompts"' '"prompts":3' '"seeds":1' '"steps":2' '"sampler":"ddim","karras":false' '"cfg":1' '"overall":' '"passed":' '"images":3' \
            '"single":{"score":' '"two":{"score":null,"passed":0,"images":0}' '"count":{"score":' '"colors":{"score":null' \
            '"position":{"score":' '"color_attr":{"score":null'; do
            case "$j" in *"$field"*) ;; *) fail "--json lacks $field: ${j:0:300}" ;; esac
        done
        case "$j" in '{"mode":"prompts"'*'}') ok "--json object" ;; *) fail "--json: ${j:0:200}" ;; esac
    fi

    # --- a prompt text holding ill-formed UTF-8: every line is valid UTF-8, with U+FFFD ----------
    printf '{"prompt":"a red \xff\xc3 circle\xe2\x82","embedding":"emb/p32.safetensors","category":"single","objects":[{"shape":"circle","color":"red"}],"relation":null}\n' >"$T/bytes.jsonl"
    if run "invalid utf-8 lines" 0 eval adherence -m "$TINY" --prompts "$T/bytes.jsonl" --steps 1 -q; then
        if valid_utf8 "$T/stdout" && grep -qF "$(printf '"prompt":"a red \xef\xbf\xbd\xef\xbf\xbd circle\xef\xbf\xbd"')" "$T/stdout"; then
            ok "invalid utf-8 prompt: valid JSON lines with U+FFFD"
        else
            fail "invalid utf-8 prompt: $(od -c "$T/stdout" | head -4)"
        fi
    fi
    if run "invalid utf-8 --json" 0 eval adherence -m "$TINY" --prompts "$T/bytes.jsonl" --steps 1 --json -q; then
        valid_utf8 "$T/stdout" && ok "invalid utf-8 prompt: --json valid" || fail "invalid utf-8 --json: $(od -c "$T/stdout" | head -4)"
    fi

    # --- bad inputs: exit 1 -------------------------------------------------------------------
    printf '%s\n' '{"prompt":"x","embedding":"emb/p8.safetensors","category":"single","objects":[{"shape":"ring"}]}' >"$T/p8.jsonl"
    expect_error "wrong embedding width" 1 ".*p8.safetensors: embedding width 8, model expects 32" \
        eval adherence -m "$TINY" --prompts "$T/p8.jsonl" --steps 1
    printf '%s\n' '{"prompt":"x","embedding":"emb/none.safetensors","category":"single","objects":[{"shape":"ring"}]}' >"$T/none.jsonl"
    expect_error "missing embedding" 1 ".*none.safetensors: " eval adherence -m "$TINY" --prompts "$T/none.jsonl" --steps 1
    printf '%s\n%s\n' "$(head -n 1 "$P")" '{"prompt":"x","embedding":"e","category":"position","objects":[{"shape":"ring"},{"shape":"cross"}]}' >"$T/bad.jsonl"
    expect_error "position without relation" 1 ".*bad.jsonl:2: relation: missing" eval adherence -m "$TINY" --prompts "$T/bad.jsonl"
    expect_error "missing prompt file" 1 ".*nothing.jsonl: " eval adherence -m "$TINY" --prompts "$T/nothing.jsonl"
    expect_error "missing model" 1 ".*no_model" eval adherence -m "$T/no_model" --prompts "$P"
    : >"$T/file"
    expect_error "--out under a file" 1 ".*file/out" eval adherence -m "$TINY" --prompts "$P" --steps 1 --out "$T/file/out"
fi

# --- truth mode ---------------------------------------------------------------------------------
"$XATTN" dataset -o "$T/set" --count 60 --seed 3 -q || fail "dataset png"
"$XATTN" dataset -o "$T/setn" --count 60 --seed 3 --split holdout --format npy -q || fail "dataset npy"
for d in set setn; do
    if run "truth $d" 0 eval adherence --truth "$T/$d"; then
        [ "$(wc -l <"$T/stdout")" -eq 60 ] && ok "truth $d: 60 lines" || fail "truth $d: $(wc -l <"$T/stdout") lines"
        [ "$(grep -c '"pass":true,"reason":null' "$T/stdout")" -eq 60 ] && ok "truth $d: all pass" ||
            fail "truth $d: $(grep -m1 '"pass":false' "$T/stdout" | head -c 300)"
        [ "$(grep -c '"exact":true,"detector":null}$' "$T/stdout")" -eq 60 ] && ok "truth $d: all exact" ||
            fail "truth $d: $(grep -m1 '"exact":false' "$T/stdout" | head -c 300)"
        head -n 1 "$T/stdout" | grep -q '^{"id":0,"prompt":"' && ok "truth $d: first line" || fail "truth $d first line"
    fi
    if run "truth $d --json" 0 eval adherence --truth "$T/$d" --json -q; then
        j=$(cat "$T/stdout")
        for field in '"mode":"truth"' '"overall":1,' '"images":60' '"detector_exact":1,' '"detector_exact_images":60'; do
            case "$j" in *"$field"*) ;; *) fail "truth $d --json lacks $field: ${j:0:300}" ;; esac
        done
        # every holdout scene names a held-out pair, and the truth draws it; the train split none
        if [ "$d" = setn ]; then
            echo "$j" | grep -Eq '"holdout_pairs":\{"score":1,"drawn":([6-9][0-9]|[1-9][0-9]{2}),"asked":\1\}' &&
                ok "truth setn: held-out pairs all drawn" || fail "truth setn holdout_pairs: ${j:0:400}"
        else
            case "$j" in *'"holdout_pairs":{"score":null,"drawn":0,"asked":0}'*) ok "truth set: no held-out pairs" ;;
                *) fail "truth set holdout_pairs: ${j:0:400}" ;; esac
        fi
    fi
done
# a broken record: exit 1 naming the line
head -n 2 "$T/set/truth.jsonl" >"$T/broken_truth"
echo '{"id":2,"image":"images/000002.png","kind":"sideways"}' >>"$T/broken_truth"
mkdir -p "$T/broken" && cp -r "$T/set/images" "$T/broken/" && cp "$T/broken_truth" "$T/broken/truth.jsonl"
expect_error "broken truth record" 1 ".*truth.jsonl:3: " eval adherence --truth "$T/broken" --json
expect_error "no truth folder" 1 ".*nowhere/truth.jsonl: " eval adherence --truth "$T/nowhere"

# --- bad command lines: exit 2 --------------------------------------------------------------------
M="$XATTN_SOURCE_DIR/tests/data/models/tiny_conv_eps"
expect_error "no evaluation" 2 "eval: missing" eval
expect_error "options before the evaluation" 2 "eval: missing" eval -m "$M"
expect_error "unknown evaluation" 2 "sharpness: unknown evaluation" eval sharpness
expect_error "heatmaps needs --prompts" 2 "--prompts: missing" eval heatmaps -m "$M"
expect_error "-m missing" 2 "-m: missing" eval adherence --prompts "$P"
expect_error "--prompts missing" 2 "--prompts: missing" eval adherence -m "$M"
expect_error "seeds 0" 2 "--seeds: " eval adherence -m "$M" --prompts "$P" --seeds 0
expect_error "steps abc" 2 "--steps: " eval adherence -m "$M" --prompts "$P" --steps abc
expect_error "negative cfg" 2 "--cfg: " eval adherence -m "$M" --prompts "$P" --cfg -1
expect_error "unknown option" 2 "--colour: " eval adherence -m "$M" --prompts "$P" --colour red
expect_error "stray argument" 2 "extra: " eval adherence -m "$M" --prompts "$P" extra
expect_error "--truth with -m" 2 "-m: not used with --truth" eval adherence --truth "$T/set" -m "$M"
run "adherence --help" 0 eval adherence --help && grep -q "^usage: xattn eval adherence" "$T/stdout" && ok "adherence --help" ||
    fail "adherence --help: $(head -c 100 "$T/stdout")"
run "eval --help" 0 eval --help && grep -q "adherence" "$T/stdout" && ok "eval --help" || fail "eval --help"

finish "all passed"
