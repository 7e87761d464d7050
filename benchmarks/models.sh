#!/usr/bin/env bash
# Full-size model benchmark: dbrender vs PyTorch, OpenVINO and ONNX Runtime on the same random SD 1.5
# folder, in one run.
#   benchmarks/models.sh [--repetitions N] [--render-steps N] [--python PATH_TO_VENV_PYTHON]
# Writes the folder once (dbtrain init --preset sd15) under .build/bench-sd15. --render-steps (default 20;
# 0 skips it) adds one whole 512×512 euler render against diffusers' StableDiffusionPipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
repetitions=3
render_steps=20
python=${DBRENDER_PYTHON:-.venv/bin/python}
while (($#)); do
    case $1 in
        --repetitions) repetitions=$2; shift 2 ;;
        --render-steps) render_steps=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
threads=${DBRENDER_THREADS:-$(nproc)}
model=.build/bench-sd15
scripts/setup.sh
swift build -c release --product dbtrain >/dev/null && swift build -c release --product dbbench >/dev/null
[[ -d $model/unet ]] || .build/release/dbtrain init --preset sd15 --out "$model" --seed 0
ours=$(DBRENDER_THREADS=$threads .build/release/dbbench models --model "$model" --repetitions "$repetitions" --render-steps "$render_steps" --json)
theirs=$(HF_HUB_OFFLINE=1 "$python" benchmarks/pytorch_baseline.py --model "$model" --threads "$threads" --repetitions "$repetitions" --render-steps "$render_steps")
# OpenVINO and ONNX Runtime on the same weights (UNet step and VAE decode), installed on first use.
"$python" -c "import openvino, onnxruntime, onnx" 2>/dev/null || "$python" -m pip install -q openvino onnxruntime onnx
runtimes=$(HF_HUB_OFFLINE=1 "$python" benchmarks/runtime_baselines.py --model "$model" --threads "$threads" --repetitions "$repetitions" 2>/dev/null)
"$python" - "$ours" "$theirs" "$threads" "$runtimes" <<'PY'
import json, sys
ours, theirs, threads = json.loads(sys.argv[1]), {r["name"]: r for r in json.loads(sys.argv[2])}, sys.argv[3]
runtimes = json.loads(sys.argv[4])
print(f"SD 1.5 architecture, random weights, fp32, {threads} threads; medians; ratio = ours / PyTorch (lower is better)")
print(f"{'component':42} {'ours s':>9} {'torch s':>9} {'ratio':>6} {'ours RSS MB':>12} {'torch RSS MB':>13}")
for r in ours:
    t = theirs.get(r["name"])
    if t is None:
        continue
    print(f"{r['name']:42} {r['seconds']:9.3f} {t['seconds']:9.3f} {r['seconds'] / t['seconds']:6.2f} {r['peak_rss_mb']:12} {t['peak_rss_mb']:13}")
print()
print("the same components in OpenVINO and ONNX Runtime (fp32, static shapes); ratio = ours / theirs (lower is better)")
print(f"{'component':42} {'runtime':12} {'their s':>9} {'ours / theirs':>14} {'torch / theirs':>15} {'Δ vs torch':>11}")
ours_by_name = {r["name"]: r["seconds"] for r in ours}
for r in runtimes:
    if r["name"] not in ours_by_name or r["name"] not in theirs:
        continue
    print(f"{r['name']:42} {r['runtime']:12} {r['seconds']:9.3f} {ours_by_name[r['name']] / r['seconds']:14.2f} "
          f"{theirs[r['name']]['seconds'] / r['seconds']:15.2f} {r['relative_difference']:11.1e}")
by_name = {r["name"]: r["seconds"] for r in ours}
for size in (32, 64):
    full, tiny = f"VAE decode, {size}×{size} latents ({size * 8} px)", f"TAESD decode, {size}×{size} latents ({size * 8} px)"
    if full in by_name and tiny in by_name:
        print(f"TAESD decode at {size * 8} px: {by_name[full] / by_name[tiny]:.1f}× faster than our VAE decode")
PY
