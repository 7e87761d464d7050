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
step() {  # flags → "seconds peak_bytes" from dbbench's table (optimizer step total, peak RSS)
    # shellcheck disable=SC2086  # the flags are words
    .build/release/dbbench train-step --model "$model" --resolution "$resolution" --prior --text-encoder $1 \
        --repetitions "$repetitions" |
        awk '/optimizer step total/ { s = $(NF - 1) } /peak RSS/ { m = $(NF - 1) * 1e6 } END { print s, m }'
}
read -r full_s full_m <<< "$(step "$full_flags")"
read -r lora_s lora_m <<< "$(step "$lora_flags")"
awk -v fs="$full_s" -v fm="$full_m" -v ls="$lora_s" -v lm="$lora_m" -v px="$resolution" \
    -v ff="$full_flags" -v lf="$lora_flags" 'BEGIN {
    gib = 2 ^ 30
    printf "DreamBooth step, SD 1.5 architecture, %s px, prior preservation, text encoder, same run\n", px
    printf "  full (%s): %.2f s, peak RSS %.2f GiB\n", ff, fs, fm / gib
    printf "  LoRA (%s): %.2f s, peak RSS %.2f GiB\n", lf, ls, lm / gib
    printf "  ratio LoRA / full: %.2fx (target <= 0.65x); LoRA peak RSS target <= 8 GiB\n", ls / fs
}'
