#!/usr/bin/env bash
# Makes models/shapes from nothing: the shapes-world data set, a random model of the `shapes`
# architecture, its VAE trained, then the UNet and text encoder trained on the captions, and the
# result evaluated from pixels. Every stage is seeded, so a rerun gives the same model; a stage whose
# output exists is skipped, and the long text-to-image stage resumes from its latest checkpoint —
# an interrupted run (Ctrl-C, a lost session) continues where it stopped when run again.
#
#   scripts/train-shapes.sh [WORK]     (default WORK: .shapes-work; the model goes to models/shapes)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work=${1:-$root/.shapes-work}
mkdir -p "$work"
work=$(cd "$work" && pwd)
cd "$root"
scripts/setup.sh
swift build -c release --product dbtrain >/dev/null
# A copy: rebuilding the package while the run goes on must not swap the binary under it.
cp "$root/.build/release/dbtrain" "$work/dbtrain"
dbtrain="$work/dbtrain"
cd "$work"
stamp() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

[ -f data/metadata.jsonl ] || { stamp "data"; "$dbtrain" make-shapes --out data --count 5400 --seed 0; }
[ -f init/model_index.json ] || { stamp "init"; "$dbtrain" init --preset shapes --out init --seed 0; }
[ -f vae/model_index.json ] || {
    stamp "vae"
    "$dbtrain" train-vae --model init --data data --out vae --steps 1500 --batch-size 8 --learning-rate 1e-3 --seed 0
}
[ -f text-to-image/model_index.json ] || {
    stamp "text-to-image"
    "$dbtrain" --config "$root/scripts/shapes/text-to-image.yaml" --resume
}
stamp "evaluate"
"$dbtrain" evaluate-shapes --model text-to-image --seeds 2
stamp "done"
