#!/usr/bin/env bash
# Issue 11's training figure: a DreamBooth-LoRA step against a full DreamBooth step, SD 1.5 size, random
# weights, prior preservation (batch 2), text encoder trained, in the same run, both with cached latents
# (cache_latents: the VAE encoder at 512 px costs more than the UNet's forward pass, and it is frozen in
# both). The full step needs gradient checkpointing to fit 24 GB; the LoRA step does not, and runs
# without it. Prints each step's time, their ratio and each peak RSS.
#   benchmarks/lora-training.sh [--resolution PX] [--repetitions N] [--full-flags "…"] [--lora-flags "…"]
set -euo pipefail
cd "$(dirname "$0")/.."
resolution=512
repetitions=2
full_flags="--checkpointing --cache-latents"
lora_flags="--lora --cache-latents"
while (($#)); do
    case $1 in
        --resolution) resolution=$2; shift 2 ;;
        --repetitions) repetitions=$2; shift 2 ;;
        --full-flags) full_flags=$2; shift 2 ;;
        --lora-flags) lora_flags=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
model=.build/bench-sd15
scripts/setup.sh
swift build -c release --product dbtrain >/dev/null && swift build -c release --product dbbench >/dev/null
[[ -d $model/unet ]] || .build/release/dbtrain init --preset sd15 --out "$model" --seed 0
step() {
    # shellcheck disable=SC2086  # the flags are words
    .build/release/dbbench train-step --model "$model" --resolution "$resolution" --prior --text-encoder $1 \
        --repetitions "$repetitions" --json
}
full=$(step "$full_flags")
lora=$(step "$lora_flags")
python3 - "$full" "$lora" "$resolution" "$full_flags" "$lora_flags" <<'PY'
import json, sys
full, lora = ({r["name"]: r for r in json.loads(a)} for a in sys.argv[1:3])
key = "optimizer step total"
f, l = full[key], lora[key]
print(f"DreamBooth step, SD 1.5 architecture, {sys.argv[3]} px, prior preservation, text encoder, same run")
print(f"  full ({sys.argv[4]}): {f['seconds']:.2f} s, peak RSS {f['peak_rss'] / 2**30:.2f} GiB")
print(f"  LoRA ({sys.argv[5]}): {l['seconds']:.2f} s, peak RSS {l['peak_rss'] / 2**30:.2f} GiB")
print(f"  ratio LoRA / full: {l['seconds'] / f['seconds']:.2f}x (target <= 0.65x); LoRA peak RSS target <= 8 GiB")
PY
