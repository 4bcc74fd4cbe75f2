#!/usr/bin/env bash
# test_usage.sh — the command line: help and version on stdout with exit 0; every malformed
# command line exits 2 with exactly one stderr line "xattn: <option>: <problem>" and no stdout.
. "$(dirname "$0")/lib.sh"

# expect_stdout CASE NEEDLE -- ARGS...: exit 0, NEEDLE on stdout, nothing on stderr.
expect_stdout() {
    local name=$1 needle=$2
    shift 2
    run "$name" 0 "$@" || return
    if ! grep -qF -- "$needle" "$T/stdout" || [ -s "$T/stderr" ]; then
        fail "$name: expected '$needle' on stdout and empty stderr; stdout: $(head -c 200 "$T/stdout") stderr: $(head -c 200 "$T/stderr")"
    else
        ok "$name"
    fi
}

M="$T/no-model"
P="$T/no-prompt.safetensors"

expect_stdout help "usage: xattn" -- --help
expect_stdout help_short "usage: xattn" -- -h
expect_stdout help_lists_generate "generate" -- --help
expect_stdout help_lists_denoise "denoise" -- --help
expect_stdout denoise_help "usage: xattn denoise" -- denoise --help
expect_stdout help_lists_compare "compare" -- --help
expect_stdout compare_help "usage: xattn compare" -- compare --help
expect_stdout version "xattn " -- --version
expect_stdout generate_help "--steps" -- generate --help
expect_stdout generate_help_short "--cfg" -- generate -h
expect_stdout info_help "usage: xattn info" -- info --help
expect_stdout dataset_help "usage: xattn dataset" -- dataset --help
expect_stdout help_lists_dataset "dataset" -- --help

expect 2 "xattn: command: " no_command --
expect 2 "xattn: frobnicate: " unknown_command -- frobnicate
expect 2 "xattn: --bogus: " unknown_global_option -- --bogus
expect 2 "xattn: -p: missing" denoise_missing_prompt -- denoise -m "$M"

expect 2 "xattn: --bogus: " unknown_option -- generate --bogus -m "$M" -p "$P"
expect 2 "xattn: -z: " unknown_short_option -- generate -z -m "$M" -p "$P"
expect 2 "xattn: -m: " missing_model -- generate -p "$P"
expect 2 "xattn: -p: " missing_prompt -- generate -m "$M"
expect 2 "xattn: -m: " model_value_missing_at_end -- generate -p "$P" -m
expect 2 "xattn: -m: " model_value_is_an_option -- generate -m -p "$P"
expect 2 "xattn: --steps: " steps_zero -- generate -m "$M" -p "$P" --steps 0
expect 2 "xattn: --steps: " steps_abc -- generate -m "$M" -p "$P" --steps abc
expect 2 "xattn: --steps: " steps_too_many -- generate -m "$M" -p "$P" --steps 1001
expect 2 "xattn: --steps: " steps_trailing_junk -- generate -m "$M" -p "$P" --steps 5x
expect 2 "xattn: --steps: " steps_fraction -- generate -m "$M" -p "$P" --steps=2.5
expect 2 "xattn: --steps: " steps_missing_value -- generate -m "$M" -p "$P" --steps
expect 2 "xattn: --cfg: " cfg_nan -- generate -m "$M" -p "$P" --cfg nan
expect 2 "xattn: --cfg: " cfg_inf -- generate -m "$M" -p "$P" --cfg inf
expect 2 "xattn: --cfg: " cfg_negative -- generate -m "$M" -p "$P" --cfg -1
expect 2 "xattn: --cfg: " cfg_overflow -- generate -m "$M" -p "$P" --cfg 1e999
expect 2 "xattn: --cfg: " cfg_empty -- generate -m "$M" -p "$P" --cfg=
expect 2 "xattn: --eta: " eta_nan -- generate -m "$M" -p "$P" --eta nan
expect 2 "xattn: --eta: " eta_negative -- generate -m "$M" -p "$P" --eta -0.5
expect 2 "xattn: --batch: " batch_zero -- generate -m "$M" -p "$P" --batch 0
expect 2 "xattn: --batch: " batch_too_many -- generate -m "$M" -p "$P" --batch 65
expect 2 "xattn: -t: " threads_too_many -- generate -m "$M" -p "$P" -t 257
expect 2 "xattn: -t: " threads_negative -- generate -m "$M" -p "$P" -t -1
expect 2 "xattn: -s: " seed_negative -- generate -m "$M" -p "$P" -s -1
expect 2 "xattn: -s: " seed_abc -- generate -m "$M" -p "$P" -s abc
expect 2 "xattn: -s: " seed_overflow -- generate -m "$M" -p "$P" -s 18446744073709551616
expect 2 "xattn: --seed: " seed_long_overflow -- generate -m "$M" -p "$P" --seed 99999999999999999999
expect 2 "xattn: --sampler: " sampler_foo -- generate -m "$M" -p "$P" --sampler foo
expect 2 "xattn: --quiet: " flag_with_value -- generate -m "$M" -p "$P" --quiet=1
expect 2 "xattn: --heat-steps: '3:1' is an empty step range" heat_steps_empty -- generate -m "$M" -p "$P" --heatmaps "$T/h" --heat-steps 3:1
expect 2 "xattn: --heat-layers: only applies with --heatmaps DIR" heat_layers_alone -- generate -m "$M" -p "$P" --heat-layers up
expect 1 "xattn: $T/no/h.html: cannot write" html_folder_missing -- generate -m "$M" -p "$P" --html "$T/no/h.html"
expect 2 "xattn: stray: " stray_argument -- generate -m "$M" -p "$P" stray
expect 2 "xattn: FILE: " info_without_file -- info
expect 2 "xattn: b: " info_two_files -- info a b
expect 2 "xattn: --bogus: " info_unknown_option -- info --bogus x

# In-range values parse; the run then fails on the missing model with exit 1, not 2.
expect 1 "xattn: " seed_max_parses -- generate -m "$M" -p "$P" -s 18446744073709551615 -o "$T/o.png"
expect 1 "xattn: " all_options_parse -- generate --model "$M" --prompt "$P" --negative "$P" \
    --seed=7 --steps 1000 --cfg 0 --sampler ddpm --eta 1.5 --batch 64 -t 256 -o "$T/o.png" -q
[ -e "$T/o.png" ] && fail "all_options_parse: $T/o.png was written"

finish
