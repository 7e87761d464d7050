#!/usr/bin/env bash
# Makes models/shapes from nothing: the shapes-world data set, a random model of the `shapes`
# architecture, its VAE trained, then the UNet and text encoder trained on the captions in three
# stages, a fourth on a world with two-tone shapes, and the decoder refined on it; then DreamBooth on the
# two-tone star, with prior preservation, without (for the comparison)
# and as a LoRA, all evaluated from pixels. The DreamBooth runs do not yet reach the issue's bounds
# (see the model card), so they are evaluated, not installed. The model card
# (models/shapes/README.md) lists the stages, their settings and their wall times here.
#
# Every stage is seeded, so a rerun with the same code on this kind of machine gives the same bytes
# (the shipped first stage predates a change to batched sums, so it is reproduced in recipe, not in
# bytes: see the model card); a stage whose output exists is skipped, and the training stages resume
# from their latest checkpoint, so an interrupted run (Ctrl-C, a lost session) continues where it
# stopped when run again. Each stage's wall time is appended to WORK/timings.tsv.
#
#   scripts/train-shapes.sh [WORK]     (default WORK: .shapes-work; the model is installed into models/shapes)
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

# stage NAME COMMAND…: runs the command, announcing it and recording its wall time.
stage() {
    local name=$1 start
    shift
    echo "[$(date -u +%H:%M:%S)] $name" >&2
    start=$(date +%s)
    "$@"
    printf '%s\t%d\n' "$name" $(($(date +%s) - start)) >> timings.tsv
}

# install FROM TO: a model folder without the run's checkpoints and logs. Each entry is copied aside,
# then moved into place (model_index.json last); the folder's other files (README.md, the model
# card) stay.
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

[ -f data/metadata.jsonl ] || stage data "$dbtrain" make-shapes --out data --count 5400 --seed 0
[ -f init/model_index.json ] || stage init "$dbtrain" init --preset shapes --out init --seed 0
[ -f vae/model_index.json ] || stage vae "$dbtrain" train-vae --model init --data data --out vae --steps 2000 \
    --batch-size 8 --learning-rate 1e-3 --lr-scheduler cosine --lr-warmup-steps 100 --seed 0 --resume
# The share of round trips the analyser still reads right: the ceiling for any UNet on this VAE.
stage evaluate-vae "$dbtrain" evaluate-vae --model vae --count 240
[ -f text-to-image/model_index.json ] || stage text-to-image "$dbtrain" --config "$root/scripts/shapes/text-to-image.yaml" --resume
[ -f text-to-image-refine/model_index.json ] || stage text-to-image-refine \
    "$dbtrain" --config "$root/scripts/shapes/text-to-image-refine.yaml" --resume
[ -f text-to-image-polish/model_index.json ] || stage text-to-image-polish \
    "$dbtrain" --config "$root/scripts/shapes/text-to-image-polish.yaml" --resume
# The two-tone stage (scripts/shapes/two-tone.yaml) as two MPI ranks, one per core (0.55× the time of
# one process here, benchmarks/data-parallel.sh); one process with the global batch where there is no mpirun.
[ -f data-two-tone/metadata.jsonl ] || stage data-two-tone "$dbtrain" make-shapes --out data-two-tone --count 5400 --seed 0 \
    --dotted 0.3 --pattern halves
if [ ! -f two-tone/model_index.json ]; then
    if command -v mpirun >/dev/null; then
        as_root=()
        [[ $(id -u) -eq 0 ]] && as_root=(--allow-run-as-root)
        stage two-tone mpirun -np 2 "${as_root[@]}" --bind-to core --map-by core -x DBRENDER_THREADS=1 \
            "$dbtrain" --config "$root/scripts/shapes/two-tone.yaml" --resume
    else
        stage two-tone "$dbtrain" --config "$root/scripts/shapes/two-tone.yaml" --train_batch_size 16 --resume
    fi
fi
# The decoder refined on the two-tone world (the encoder, hence the UNet's latents, stays): the first
# VAE, which saw two colours an image, blurs a red half on green into orange.
[ -f base/model_index.json ] || stage decoder "$dbtrain" train-vae --model two-tone --data data-two-tone --out base \
    --decoder-only --steps 2000 --batch-size 8 --learning-rate 5e-4 --lr-scheduler cosine --lr-warmup-steps 100 --seed 4 --resume
stage evaluate-vae-two-tone "$dbtrain" evaluate-vae --model base --count 240 --pattern halves
stage evaluate-shapes "$dbtrain" evaluate-shapes --model base --seeds 4
install base "$root/models/shapes"

[ -d subject-upright ] || stage subject "$dbtrain" make-shapes --subject --pattern halves --upright --instance-background black \
    --out subject-upright --count 4 --seed 0
dreambooth="$root/scripts/shapes/dreambooth-sks.yaml"
[ -f shapes-sks/model_index.json ] || stage dreambooth "$dbtrain" --config "$dreambooth" --resume
[ -f shapes-sks-no-prior/model_index.json ] || stage dreambooth-no-prior "$dbtrain" --config "$dreambooth" --resume \
    --with_prior_preservation false --output_dir shapes-sks-no-prior
[ -f sks-star/sks-star.safetensors ] || stage dreambooth-lora "$dbtrain" --config "$root/scripts/shapes/dreambooth-sks-lora.yaml" --resume
for model in shapes-sks shapes-sks-no-prior; do
    stage "evaluate-subject $model" "$dbtrain" evaluate-subject --model "$model" --seeds 8 --pattern halves --instance-background black
done
stage "evaluate-subject sks-star LoRA" "$dbtrain" evaluate-subject --model base --pattern halves --instance-background black \
    --lora sks-star/sks-star.safetensors --seeds 8

echo "[$(date -u +%H:%M:%S)] done: models/shapes installed; wall times in $work/timings.tsv" >&2
