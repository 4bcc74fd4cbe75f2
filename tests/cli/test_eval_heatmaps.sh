#!/usr/bin/env bash
# test_eval_heatmaps.sh — `xattn eval heatmaps`: the output format and exit codes on two holdout
# prompts (assets/eval/holdout200, made with --with-images) and the untrained tiny-random model,
# whose scores mean nothing. Lines: index, prompt, per-kind mIoU and the scored words with IoU in
# [0, 1]; --json: one summary object; bad command lines exit 2 and bad inputs exit 1, each with
# one stderr line. Plain shell only (no python in CI).
. "$(dirname "$0")/lib.sh"
M="$XATTN_SOURCE_DIR/weights/tiny-random"
H="$XATTN_SOURCE_DIR/assets/eval/holdout200"

# the first two holdout prompts, paths made absolute
P="$T/prompts.jsonl"
head -n 2 "$H/prompts.jsonl" | sed "s#\"emb/#\"$H/emb/#; s#\"data/#\"$H/data/#g" >"$P"
if [ "$(wc -l <"$P")" -ne 2 ] || ! grep -q '"mask_index"' "$P"; then
    fail "holdout200 prompt file lacks the --with-images fields"
fi

if run lines 0 eval heatmaps -m "$M" --prompts "$P" --steps 4 --cfg 1 -q; then
    bad=""
    [ "$(wc -l <"$T/stdout")" -eq 2 ] || bad="expected 2 lines"
    n=0
    while IFS= read -r line; do
        for key in '"index":'"$n" '"prompt":"' '"shape_miou":' '"color_miou":' '"overall_miou":' \
                   '"words":\[{"word":"' '"kind":"shape"' '"kind":"color"' '"iou":'; do
            printf '%s' "$line" | grep -q "$key" || bad="line $n lacks $key: $line"
        done
        # every IoU is a number in [0, 1]
        if printf '%s' "$line" | grep -o '"iou":[^,}]*' | grep -vqE '"iou":(0(\.[0-9]+)?(e-[0-9]+)?|1)$'; then
            bad="line $n: an IoU outside [0, 1]: $line"
        fi
        n=$((n + 1))
    done <"$T/stdout"
    [ -s "$T/stderr" ] && bad="stderr not empty with -q: $(head -c 200 "$T/stderr")"
    [ -z "$bad" ] && ok lines || fail "lines: $bad"
fi

if run json 0 eval heatmaps -m "$M" --prompts "$P" --steps 4 --cfg 1 --strength 0.75 --threshold 0.3 --json; then
    bad=""
    [ "$(wc -l <"$T/stdout")" -eq 1 ] || bad="expected 1 line"
    for key in '"mode":"heatmaps"' '"prompts":2' '"strength":0.75' '"steps":4' '"threshold":0.3' \
               '"seed":0' '"shape_miou":' '"shape_words":' '"color_miou":' '"color_words":' \
               '"overall_miou":' '"overall_words":'; do
        grep -q "$key" "$T/stdout" || bad="lacks $key: $(head -c 300 "$T/stdout")"
    done
    grep -q "^scored 2 prompts: shape-noun mIoU" "$T/stderr" || bad="no summary on stderr"
    [ -z "$bad" ] && ok json || fail "json: $bad"
fi

# --heat-layers / --heat-heads / --heat-steps: "all" scores as the default; one layer, head and
# step scores differently, and the JSON names the selection
miou() { grep -o '"overall_miou":[^,]*' "$1"; }
if run sel_default 0 eval heatmaps -m "$M" --prompts "$P" --steps 4 --cfg 1 --json -q; then
    cp "$T/stdout" "$T/sel_default.json"
    if run sel_all 0 eval heatmaps -m "$M" --prompts "$P" --steps 4 --cfg 1 --json -q \
           --heat-layers all --heat-heads all --heat-steps all; then
        cp "$T/stdout" "$T/sel_all.json"
        if run sel_one 0 eval heatmaps -m "$M" --prompts "$P" --steps 4 --cfg 1 --json -q \
               --heat-layers 0 --heat-heads 0 --heat-steps 1:2; then
            bad=""
            [ "$(miou "$T/sel_all.json")" = "$(miou "$T/sel_default.json")" ] ||
                bad="'all' $(miou "$T/sel_all.json") differs from the default $(miou "$T/sel_default.json")"
            [ "$(miou "$T/stdout")" != "$(miou "$T/sel_all.json")" ] ||
                bad="layer 0, head 0, step 1 scores as all do: $(miou "$T/stdout")"
            for key in '"heat_layers":"0"' '"heat_heads":"0"' '"heat_steps":"1:2"'; do
                grep -q "$key" "$T/stdout" || bad="lacks $key: $(head -c 400 "$T/stdout")"
            done
            grep -q '"heat_layers":"all","heat_heads":"all","heat_steps":"all"' "$T/sel_default.json" ||
                bad="the default does not name the selection 'all'"
            [ -z "$bad" ] && ok selection || fail "selection: $bad"
        fi
    fi
fi

# --data DIR reads DIR/prompts.jsonl (the contract's form)
if run data_dir 0 eval heatmaps -m "$M" --data "$T/" --steps 4 --cfg 1 --json -q; then
    [ "$(miou "$T/stdout")" = "$(miou "$T/sel_default.json")" ] && grep -q "\"prompts_file\":\"$T/prompts.jsonl\"" "$T/stdout" &&
        ok data_dir || fail "data_dir: --data $T/ differs from --prompts $P: $(head -c 300 "$T/stdout")"
fi
# --sampler: the default is the model's class; another sampler gives other maps
if run sampler 0 eval heatmaps -m "$M" --prompts "$P" --steps 4 --cfg 1 --json -q --sampler euler_a; then
    if grep -q '"sampler":"euler_a","karras":false' "$T/stdout" &&
       grep -q '"sampler":"ddim","karras":false' "$T/sel_default.json" &&
       [ "$(miou "$T/stdout")" != "$(miou "$T/sel_default.json")" ]; then
        ok sampler
    else
        fail "sampler: $(head -c 300 "$T/stdout") against the default $(head -c 300 "$T/sel_default.json")"
    fi
fi
expect_error sampler-unknown 2 "--sampler: " eval heatmaps -m "$M" --prompts "$P" --sampler foo
expect_error data-and-prompts 2 "--data: give --prompts FILE or --data DIR, not both" \
    eval heatmaps -m "$M" --data "$T" --prompts "$P"
expect_error data-missing 1 "$T/none/prompts.jsonl: cannot open" eval heatmaps -m "$M" --data "$T/none"

# command lines: exit 2
expect_error bad-layers 2 "--heat-layers: " eval heatmaps -m "$M" --prompts "$P" --heat-layers side:99
expect_error bad-heads 2 "--heat-heads: " eval heatmaps -m "$M" --prompts "$P" --heat-heads 99
expect_error bad-steps 2 "--heat-steps: " eval heatmaps -m "$M" --prompts "$P" --heat-steps 3:1
expect_error steps-past-end 2 "--heat-steps: starts at step 5, but 4 steps run" \
    eval heatmaps -m "$M" --prompts "$P" --steps 8 --strength 0.5 --heat-steps 5:
expect_error no-model 2 "-m: missing" eval heatmaps --prompts "$P"
expect_error no-prompts 2 "--prompts: missing" eval heatmaps -m "$M"
expect_error strength-0 2 "--strength: 0: must be in (0, 1]" eval heatmaps -m "$M" --prompts "$P" --strength 0
expect_error strength-big 2 "--strength: 1.5" eval heatmaps -m "$M" --prompts "$P" --strength 1.5
expect_error threshold-1 2 "--threshold: 1" eval heatmaps -m "$M" --prompts "$P" --threshold 1
expect_error no-steps-run 2 "--strength: 0.1 x 5 steps" eval heatmaps -m "$M" --prompts "$P" --strength 0.1 --steps 5
expect_error unknown-option 2 "" eval heatmaps -m "$M" --prompts "$P" --bogus

# inputs: exit 1
expect_error missing-file 1 "$T/none.jsonl: cannot open" eval heatmaps -m "$M" --prompts "$T/none.jsonl"
head -n 1 "$H/prompts.jsonl" | sed "s#\"emb/#\"$H/emb/#; s#, \"image\": [^}]*}#}#" >"$T/noimage.jsonl"
expect_error no-image 1 "$T/noimage.jsonl:1: \"image\": missing" eval heatmaps -m "$M" --prompts "$T/noimage.jsonl"
# a caption that is not the embedding's words
head -n 1 "$P" | sed 's#"prompt": "a gray#"prompt": "a grey#' >"$T/mismatch.jsonl"
expect_error mismatch 1 "$T/mismatch.jsonl:1: heatmap word 1 is \"gray\"" eval heatmaps -m "$M" --prompts "$T/mismatch.jsonl"
head -n 1 "$P" | sed 's#"prompt": "a gray background#"prompt": "gray background#' >"$T/count.jsonl"
expect_error word-count 1 "$T/count.jsonl:1: .* has 11 words, the caption" eval heatmaps -m "$M" --prompts "$T/count.jsonl"
head -n 1 "$P" | sed 's#"mask_index": 1#"mask_index": 0#' >"$T/badmask.jsonl"
expect_error bad-mask-index 1 "$T/badmask.jsonl:1: object 0: \"mask_index\"" eval heatmaps -m "$M" --prompts "$T/badmask.jsonl"
expect_error bad-model 1 "" eval heatmaps -m "$T/nomodel" --prompts "$P"

# --generated: each prompt sampled from noise (2 seeds), words scored against what the detector
# finds. The prompt file needs no image or mask. The 2 prompts have 1 and 2 objects (3 per seed)
# and 2 + 4 object words: scored + missed words = 12. (tiny-random draws noise, so the detector
# finds little; the figures only have to add up.)
sed 's/, "image": "[^"]*", "mask": "[^"]*"//; s/, "mask_index": [^,}]*//g' "$P" >"$T/gen.jsonl"
grep -q '"image"\|"mask' "$T/gen.jsonl" && fail "gen.jsonl still has image or mask fields"
if run generated 0 eval heatmaps -m "$M" --prompts "$T/gen.jsonl" --generated --seeds 2 --steps 3 --cfg 1 --json -q; then
    line=$(cat "$T/stdout")
    bad=""
    for key in '"mode":"heatmaps-generated"' '"prompts":2' '"seeds":2' '"strength":null' '"objects":6,' \
               '"objects_found":' '"words_missed":'; do
        printf '%s' "$line" | grep -q "$key" || bad="lacks $key: $line"
    done
    num() { printf '%s' "$line" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
    total=$(( $(num shape_words) + $(num color_words) + $(num words_missed) ))
    [ "$total" -eq 12 ] || bad="scored + missed words = $total, want 12: $line"
    [ "$(num objects_found)" -le 6 ] || bad="more objects found than asked for: $line"
    [ -z "$bad" ] && ok generated || fail "generated: $bad"
fi
if run generated_lines 0 eval heatmaps -m "$M" --prompts "$T/gen.jsonl" --generated --seeds 2 --steps 3 --cfg 1 -q; then
    [ "$(wc -l <"$T/stdout")" -eq 4 ] && grep -q '"seed":1' "$T/stdout" && ok generated_lines ||
        fail "generated_lines: want 4 lines (2 prompts x 2 seeds): $(head -c 300 "$T/stdout")"
fi
expect_error denoise_needs_images 1 "$T/gen.jsonl:1: \"image\": missing" \
    eval heatmaps -m "$M" --prompts "$T/gen.jsonl" --steps 3
expect_error generated_seeds_range 2 "--seeds: " \
    eval heatmaps -m "$M" --prompts "$T/gen.jsonl" --generated --seeds 0

finish
