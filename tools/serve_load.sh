#!/usr/bin/env bash
# serve_load.sh — a bounded load test of `xattn serve` with hey, 127.0.0.1 only (docs/serve.md):
#   1. `xattn generate`'s images/s for the same request (--gen-runs runs, one after another);
#   2. hey: --requests txt2img requests (a multiple of --concurrency), --concurrency at a time,
#      --steps steps each;
#      requests/s and p50/p95/p99 latency (from hey's per-request CSV);
#   3. the server's RSS before and after --rss-requests more requests (--rss-steps steps, with
#      heatmaps), through hey again.
# Prints the figures and the targets (throughput >= 90% of generate's; p99 < 3 x p50; RSS growth
# < 5%). Exits 0 whatever the figures; 1 when a step fails.
#
#   tools/serve_load.sh [--xattn BUILD/xattn] [--model DIR] [--requests N] [--concurrency C]
#                       [--steps S] [--threads T] [--gen-runs N] [--rss-requests N] [--rss-steps S]
set -euo pipefail
cd "$(dirname "$0")/.."
xattn=build/xattn model=weights/shapes32 requests=200 concurrency=4 steps=20 threads=2
gen_runs=10 rss_requests=1000 rss_steps=2
while [ $# -gt 0 ]; do
    case "$1" in
        --xattn) xattn="$2" ;; --model) model="$2" ;; --requests) requests="$2" ;;
        --concurrency) concurrency="$2" ;; --steps) steps="$2" ;; --threads) threads="$2" ;;
        --gen-runs) gen_runs="$2" ;; --rss-requests) rss_requests="$2" ;; --rss-steps) rss_steps="$2" ;;
        *) echo "serve_load.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
command -v hey >/dev/null || { echo "serve_load.sh: hey is not installed (tools/install_deps.sh)" >&2; exit 1; }
prompt="a red circle left of a blue square"
file=assets/a-red-circle-left-of-a-blue-square.safetensors
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# 1. the baseline: xattn generate, the same image, one run after another
start=$(date +%s.%N)
for i in $(seq "$gen_runs"); do
    "$xattn" generate -m "$model" -p "$file" -s "$i" --steps "$steps" --cfg 4 -t "$threads" -q \
        -o "$tmp/g.png"
done
end=$(date +%s.%N)
gen_ips=$(awk -v n="$gen_runs" -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", n / (b - a) }')

# the server
"$xattn" serve -m "$model" --prompts assets --port 0 -t "$threads" --queue "$concurrency" --quiet \
    2>"$tmp/log" &
pid=$!
for _ in $(seq 200); do grep -q 'listening on' "$tmp/log" && break; sleep 0.1; done
port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/log" | grep -o '[0-9]*$')
[ -n "$port" ] || { cat "$tmp/log" >&2; exit 1; }
url="http://127.0.0.1:$port/sdapi/v1/txt2img"

# hey_run COUNT STEPS HEATMAPS: exactly COUNT requests, $concurrency at a time; one CSV line per
# request (response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset)
hey_run() {
    hey -n "$1" -c "$concurrency" -t 600 -o csv -m POST -T application/json \
        -d "{\"prompt\": \"$prompt\", \"seed\": 3, \"steps\": $2, \"cfg_scale\": 4, \"heatmaps\": $3}" "$url" |
        grep -E '^[0-9]'
}
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
# pct P FILE: the P-th percentile of the response times in ms (nearest rank)
pct() { cut -d, -f1 "$2" | sort -g | awk -v p="$1" '{ v[NR] = $1 } END { r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; printf "%.0f", v[r] * 1000 }'; }
codes() { cut -d, -f7 "$1" | sort | uniq -c | awk '{ printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1 }'; }

# 2. throughput and latency
hey_run "$requests" "$steps" false >"$tmp/hey.csv"
srv_ips=$(awk -F, '{ e = $8 + $1; if (e > m) m = e } END { printf "%.3f", NR / m }' "$tmp/hey.csv")
p50=$(pct 50 "$tmp/hey.csv") p95=$(pct 95 "$tmp/hey.csv") p99=$(pct 99 "$tmp/hey.csv")
codes=$(codes "$tmp/hey.csv")

# 3. memory over many requests, after a warm-up with heatmaps (first allocations, the allocator's
#    arenas for the connection threads)
hey_run $((4 * concurrency)) "$rss_steps" true >/dev/null
rss0=$(rss)
hey_run "$rss_requests" "$rss_steps" true >"$tmp/hey_rss.csv"
rss1=$(rss)
codes_rss=$(codes "$tmp/hey_rss.csv")
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
pid=

echo "--- serve_load: $requests requests, $concurrency at a time, $steps steps, -t $threads ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
echo "status codes: $codes; RSS run: $codes_rss"
awk -v g="$gen_ips" -v s="$srv_ips" 'BEGIN { printf "xattn generate: %.3f images/s; xattn serve: %.3f requests/s (%.0f%% of generate; target >= 90%%)\n", g, s, 100 * s / g }'
awk -v a="$p50" -v b="$p95" -v c="$p99" 'BEGIN { printf "latency: p50 %.0f ms, p95 %.0f ms, p99 %.0f ms (p99/p50 %.2f; target < 3)\n", a, b, c, c / a }'
awk -v a="$rss0" -v b="$rss1" -v n="$rss_requests" -v st="$rss_steps" 'BEGIN { printf "RSS: %d KiB before, %d KiB after %d more requests (%d steps, heatmaps) (%+.1f%%; target < 5%%)\n", a, b, n, st, 100 * (b - a) / a }'
echo "server exit status after SIGTERM: $rc"
