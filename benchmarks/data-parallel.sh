#!/usr/bin/env bash
# Data-parallel training on this machine: text-to-image steps on models/shapes (12.8 M trained
# parameters, 64 px, a global batch of 16), as
#   one process on one core (the baseline), one process with two threads on two cores, and
#   mpirun -np 2, one rank per core (pinned, one thread each, 8 examples each);
# seconds per optimizer step (median of the steps after the first five), ratios to the baseline from
# the same run, and the allreduce's share of a 2-rank step (rank 0's time inside MPI_Allreduce,
# waiting for the other rank included). An SD 1.5 run would need ~15 GB per rank: two do not fit in
# this machine's 24 GB, so the full-size figures in docs/scaling.md are computed, not measured.
#   benchmarks/data-parallel.sh [--steps N]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=30
while (($#)); do
    case $1 in
        --steps) steps=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
scripts/setup.sh
swift build -c release --product dbtrain >/dev/null
work=$(mktemp -d /tmp/dbrender-data-parallel.XXXXXX)
trap 'rm -rf "$work"' EXIT
.build/release/dbtrain make-shapes --out "$work/data" --count 512 --seed 0 >/dev/null
cat > "$work/train.yaml" <<YAML
pretrained_model_name_or_path: $PWD/models/shapes
train_data_dir: $work/data
resolution: 64
train_text_encoder: true
learning_rate: 1.0e-4
lr_warmup_steps: 0
max_train_steps: $steps
checkpointing_steps: 100000
seed: 0
YAML
root=()
[[ $(id -u) -eq 0 ]] && root=(--allow-run-as-root)

run() {  # name, then the command; prints "name seconds-per-step allreduce-seconds"
    local name=$1; shift
    rm -rf "$work/out"
    "$@" --config "$work/train.yaml" --output_dir "$work/out" 2> "$work/$name.log" >/dev/null
    local allreduce
    allreduce=$(sed -n 's/^allreduce: \([0-9.]*\) s.*/\1/p' "$work/$name.log")
    python3 - "$work/out/train_log.jsonl" "$name" "${allreduce:-0}" <<'PY'
import json, statistics, sys
seconds = [json.loads(line)["seconds"] for line in open(sys.argv[1])][5:]
print(sys.argv[2], statistics.median(seconds), float(sys.argv[3]) / max(1, len(seconds) + 5))
PY
}

{
    run one-core env DBRENDER_THREADS=1 taskset -c 0 .build/release/dbtrain --train_batch_size 16
    run two-threads env DBRENDER_THREADS=2 .build/release/dbtrain --train_batch_size 16
    run two-ranks mpirun -np 2 "${root[@]}" --bind-to core --map-by core -x DBRENDER_THREADS=1 \
        .build/release/dbtrain --train_batch_size 8
} > "$work/results"
python3 - "$work/results" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1])]
base = float(rows[0][1])
print("text-to-image step on models/shapes, 64 px, global batch 16; ratio = time / one core's")
print(f"{'setup':34} {'s/step':>8} {'ratio':>6} {'speed-up':>8}")
labels = {"one-core": "1 process, 1 core", "two-threads": "1 process, 2 threads", "two-ranks": "mpirun -np 2, 1 core each"}
for name, seconds, allreduce in rows:
    s = float(seconds)
    print(f"{labels[name]:34} {s:8.3f} {s / base:6.2f} {base / s:8.2f}")
    if name == "two-ranks":
        print(f"  allreduce per step: {float(allreduce):.3f} s = {100 * float(allreduce) / s:.0f} % of the step (rank 0, waiting included)")
PY
