#!/usr/bin/env bash
# One DreamBooth optimizer step at full SD 1.5 size: dbrender vs PyTorch on the same random folder,
# one after the other in the same run (each needs ~15 GB: weights, gradients and AdamW's two moments).
#   benchmarks/training.sh [--resolution PX] [--repetitions N] [--python PATH] [-- extra flags: --prior --text-encoder --checkpointing]
set -euo pipefail
cd "$(dirname "$0")/.."
resolution=256
repetitions=2
python=${DBRENDER_PYTHON:-.venv/bin/python}
extra=()
while (($#)); do
    case $1 in
        --resolution) resolution=$2; shift 2 ;;
        --repetitions) repetitions=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
threads=${DBRENDER_THREADS:-$(nproc)}
model=.build/bench-sd15
scripts/setup.sh
swift build -c release --product dbtrain >/dev/null && swift build -c release --product dbbench >/dev/null
[[ -d $model/unet ]] || .build/release/dbtrain init --preset sd15 --out "$model" --seed 0
ours=$(DBRENDER_THREADS=$threads .build/release/dbbench train-step --model "$model" --resolution "$resolution" \
    --repetitions "$repetitions" --json "${extra[@]}")
theirs=$(HF_HUB_OFFLINE=1 "$python" benchmarks/pytorch_train_step.py --model "$model" --threads "$threads" \
    --resolution "$resolution" --repetitions "$repetitions" "${extra[@]}")
"$python" - "$ours" "$theirs" "$threads" "$resolution" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), {r["name"]: r for r in json.loads(sys.argv[2])}
print(f"DreamBooth step, SD 1.5 architecture, random weights, fp32, {sys.argv[3]} threads, {sys.argv[4]} px; ratio = ours / PyTorch")
print(f"{'phase':34} {'ours s':>8} {'torch s':>8} {'ratio':>6}")
for r in ours:
    t = theirs[r["name"]]
    print(f"{r['name']:34} {r['seconds']:8.2f} {t['seconds']:8.2f} {r['seconds'] / t['seconds']:6.2f}")
print(f"peak RSS: ours {ours[0]['peak_rss'] / 1e6:.0f} MB, PyTorch {next(iter(theirs.values()))['peak_rss'] / 1e6:.0f} MB")
PY
