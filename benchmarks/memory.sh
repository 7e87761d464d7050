#!/usr/bin/env bash
# Issue 13's memory figures: the peak RSS of dbrenderd (VmHWM) serving the largest request the default
# limits allow — 1024×1024, count 16 — and 4 concurrent 512 px renders, each phase on a fresh daemon
# with the default memory budget, SD 1.5 architecture (random weights). The UNet rows are split into
# calls that fit the budget and the decode is tiled when it would not fit (MemoryBudget.swift).
# The figures do not depend on the machine's load, only the wall times do.
#   benchmarks/memory.sh [--model PATH] [--steps N] [--skip-large]
set -euo pipefail
cd "$(dirname "$0")/.."
model=.build/bench-sd15
steps=1
large=1
while (($#)); do
    case $1 in
        --model) model=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --skip-large) large=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
source benchmarks/daemon-common.sh
prepare_daemon "$model"
work=$(mktemp -d)
socket=$work/d.sock
daemon=
trap '[[ -n $daemon ]] && kill $daemon 2>/dev/null; rm -rf "$work"' EXIT
fresh_daemon() {  # prints the memory budget from the ready line
    start_daemon "$model" "$socket" "$work/log"
    grep " ready" "$work/log" | grep -o 'memory_budget_mb[^ ]*' || true
}
stop_daemon() { kill $daemon; wait $daemon 2>/dev/null || true; daemon=; }
peak() { awk '/VmHWM/ { printf "%.2f GiB", $2 / 1048576 }' /proc/$daemon/status; }
render() {  # size count seed → HTTP status
    curl -s --unix-socket "$socket" -X POST http://localhost/v1/renders -o "$work/out-$3" -w '%{http_code}' \
        -d "{\"prompt\": \"a memory test\", \"seed\": $3, \"steps\": $steps, \"width\": $1, \"height\": $1, \"count\": $2}"
}
echo "dbrenderd peak RSS (VmHWM), $model, $steps step(s), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) of memory"
fresh_daemon
printf 'after start (weights mapped, nothing rendered): %s\n' "$(peak)"
if ((large)); then
    t0=$(date +%s)
    status=$(render 1024 16 1)
    printf '1024×1024 × 16: HTTP %s in %d s, peak RSS %s\n' "$status" $(($(date +%s) - t0)) "$(peak)"
    stop_daemon
    fresh_daemon >/dev/null
fi
t0=$(date +%s)
for i in 1 2 3 4; do ( render 512 1 $((10 + i)) > "$work/status$i" ) & done
wait $(jobs -p | grep -v "^$daemon$") 2>/dev/null || true
printf '4 concurrent 512 px renders: HTTP %s in %d s, peak RSS %s\n' "$(for f in "$work"/status?; do printf '%s ' "$(cat "$f")"; done)" \
    $(($(date +%s) - t0)) "$(peak)"
stop_daemon
