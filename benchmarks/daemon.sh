#!/usr/bin/env bash
# Daemon benchmark: cold start to ready; a repeated prompt (embedding-cache hit) vs a new one;
# 4 concurrent requests vs the same 4 one after another (throughput and each request's latency).
#   benchmarks/daemon.sh [--model PATH] [--steps N] [--size PX]
# Default: the random SD 1.5 folder of benchmarks/models.sh at 256 px, 4 steps.
set -euo pipefail
cd "$(dirname "$0")/.."
model=.build/bench-sd15
steps=4
size=256
while (($#)); do
    case $1 in
        --model) model=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
source benchmarks/daemon-common.sh
prepare_daemon "$model"
work=$(mktemp -d)
socket=$work/d.sock
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
daemon=
trap '[[ -n $daemon ]] && { kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; }; rm -rf "$work"' EXIT
start=$(now)
start_daemon "$model" "$socket" "$work/log"
ready=$(now)
render() {  # prompt seed → seconds
    local t0 t1
    t0=$(now)
    curl -s -f --unix-socket "$socket" -X POST http://localhost/v1/renders \
        -d "{\"prompt\": \"$1\", \"seed\": $2, \"steps\": $steps, \"width\": $size, \"height\": $size}" -o /dev/null
    t1=$(now)
    calc "$t1 - $t0"
}
echo "model: $model, ${size}px, $steps steps, $(nproc) cores"
printf 'cold start to ready: %.2f s\n' "$(calc "$ready - $start")"
render "warm up the daemon" 1 >/dev/null
new=$(render "a new prompt never seen before" 2)
hit=$(render "a new prompt never seen before" 3)
printf 'new prompt: %.3f s   repeated prompt (cache hit): %.3f s   ratio %.3f\n' "$new" "$hit" "$(calc "$hit / $new")"
seq_start=$(now)
for i in 1 2 3 4; do lat[$i]=$(render "request $i" $i); done
seq_total=$(calc "$(now) - $seq_start")
con_start=$(now)
for i in 1 2 3 4; do ( render "request $i" $i > "$work/lat$i" ) & done
wait $(jobs -p | grep -v "^$daemon$") 2>/dev/null || true
con_total=$(calc "$(now) - $con_start")
printf 'one after another: %.2f s total, latencies %s\n' "$seq_total" "$(for i in 1 2 3 4; do printf '%.2f ' "${lat[$i]}"; done)"
printf '4 concurrent:      %.2f s total, latencies %s\n' "$con_total" "$(for i in 1 2 3 4; do printf '%.2f ' "$(cat "$work/lat$i")"; done)"
printf 'throughput ratio (concurrent / sequential): %.2f×\n' "$(calc "$seq_total / $con_total")"
curl -s --unix-socket "$socket" http://localhost/metrics | grep -E "^dbrender_(unet_calls|unet_rows|embedding_cache_hits)_total"
