#!/usr/bin/env bash
# Makes models/shapes and models/shapes-sks from nothing: the shapes-world data set, a random model
# of the `shapes` architecture, its VAE trained, then the UNet and text encoder trained on the
# captions (models/shapes); then DreamBooth on the striped star, with prior preservation
# (models/shapes-sks) and without (for the comparison), all evaluated from pixels. Every stage is seeded, so a rerun gives the same model; a stage whose
# output exists is skipped, and the long text-to-image stage resumes from its latest checkpoint —
# an interrupted run (Ctrl-C, a lost session) continues where it stopped when run again.
#
#   scripts/train-shapes.sh [WORK]     (default WORK: .shapes-work; models go to models/)
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
    "$dbtrain" train-vae --model init --data data --out vae --steps 2000 --batch-size 8 --learning-rate 1e-3 \
        --lr-scheduler cosine --lr-warmup-steps 100 --seed 0 --resume
}
stamp "evaluate the VAE (round trips the analyser still reads right: the ceiling for any UNet on it)"
"$dbtrain" evaluate-vae --model vae --count 240
[ -f text-to-image/model_index.json ] || {
    stamp "text-to-image"
    "$dbtrain" --config "$root/scripts/shapes/text-to-image.yaml" --resume
}
# A model folder without the run's checkpoints and logs: each entry copied aside, then moved into
# place (model_index.json last); the folder's other files (its README.md, the model card) stay.
install() {
    rm -rf "$2.partial"
    mkdir -p "$2.partial" "$2"
    cp -r "$1"/{unet,text_encoder,vae,tokenizer,scheduler,model_index.json} "$2.partial/"
    for entry in unet text_encoder vae tokenizer scheduler model_index.json; do
        rm -rf "${2:?}/$entry"
        mv "$2.partial/$entry" "$2/$entry"
    done
    rmdir "$2.partial"
}
[ -f "$root/models/shapes/model_index.json" ] || install text-to-image "$root/models/shapes"
stamp "evaluate models/shapes"
"$dbtrain" evaluate-shapes --model "$root/models/shapes" --seeds 4

[ -d subject ] || "$dbtrain" make-shapes --subject --out subject --count 4 --seed 0
dreambooth="$root/scripts/shapes/dreambooth-sks.yaml"
[ -f shapes-sks/model_index.json ] || {
    stamp "dreambooth with prior preservation"
    "$dbtrain" --config "$dreambooth" --pretrained_model_name_or_path "$root/models/shapes" --resume
}
[ -f shapes-sks-no-prior/model_index.json ] || {
    stamp "dreambooth without prior preservation"
    "$dbtrain" --config "$dreambooth" --pretrained_model_name_or_path "$root/models/shapes" --resume \
        --with_prior_preservation false --output_dir shapes-sks-no-prior
}
[ -f "$root/models/shapes-sks/model_index.json" ] || install shapes-sks "$root/models/shapes-sks"
for model in "$root/models/shapes-sks" shapes-sks-no-prior; do
    stamp "evaluate $model"
    "$dbtrain" evaluate-subject --model "$model" --seeds 8
done
stamp "done"
