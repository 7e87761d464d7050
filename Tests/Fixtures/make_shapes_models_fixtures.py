#!/usr/bin/env python3
"""diffusers' renders of the shipped shapes model (issue 10: models/shapes loads in diffusers'
from_pretrained and renders the same image there as in dbrenderd, PSNR >= 35 dB). Each case is one prompt at one seed through StableDiffusionPipeline with
DPMSolverMultistepScheduler (our dpmpp_2m), 20 steps, guidance 7.5, 64x64, no negative prompt.
Writes Tests/Fixtures/shapes_models.safetensors; the cases (model folder, prompt, seed) go into the
file's metadata as JSON, and the Swift test renders exactly those. Rerun after the shipped weights
change.

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_shapes_models_fixtures.py
"""
import json
import os
import sys

import torch
from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from make_pipeline_fixtures import to_uint8  # noqa: E402

STEPS, GUIDANCE, SIZE, SAMPLER = 20, 7.5, 64, "dpmpp_2m"
# (key, model folder under models/, prompt, seed)
CASES = [
    ("shapes.red_circle", "shapes", "a red circle on a blue background", 0),
    ("shapes.yellow_star", "shapes", "a yellow star on a black background", 3),
    ("shapes.green_square", "shapes", "a green square on a white background", 1),
    ("shapes.two_tone_triangle", "shapes", "a red and yellow triangle on a blue background", 2),
]


def main():
    torch.set_num_threads(1)
    out = {}
    pipes = {}
    for key, model, prompt, seed in CASES:
        if model not in pipes:
            # fp16 weights on disk, upcast to fp32 as dbrenderd computes.
            pipe = StableDiffusionPipeline.from_pretrained(os.path.join(ROOT, "models", model), torch_dtype=torch.float32,
                                                           safety_checker=None, requires_safety_checker=False)
            pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
            pipe.set_progress_bar_config(disable=True)
            pipes[model] = pipe
        images = pipes[model](prompt, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=SIZE, width=SIZE,
                              generator=[torch.Generator().manual_seed(seed)], output_type="np").images
        out[key + ".image"] = to_uint8(images)
    metadata = {
        "settings": json.dumps({"steps": STEPS, "guidance": GUIDANCE, "size": SIZE, "sampler": SAMPLER}),
        "cases": json.dumps([{"key": key, "model": model, "prompt": prompt, "seed": seed}
                             for key, model, prompt, seed in CASES]),
    }
    save_file(out, os.path.join(HERE, "shapes_models.safetensors"), metadata=metadata)
    print("wrote shapes_models.safetensors:", ", ".join(key for key, *_ in CASES))


if __name__ == "__main__":
    main()
