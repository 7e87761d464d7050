#!/usr/bin/env python3
"""Golden images for single-file checkpoints (issue 9): models/tiny written as ONE original-layout
(LDM) .safetensors file, loaded by diffusers' `StableDiffusionPipeline.from_single_file` and rendered
with every sampler. `from_single_file` takes the scheduler configuration from the diffusers config
it is given — for SD 1.x the hub's folder, whose scheduler_config.json models/tiny carries verbatim
(scaled_linear 0.00085-0.012, steps_offset 1, no timestep_spacing) — so these are the images a
single file must give. Writes Tests/Fixtures/single_file_pipeline.safetensors: 8-bit RGB images
[1, 64, 64, 3] (as float) per sampler, and the case's settings.

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_single_file_fixtures.py
"""
import os
import sys
import tempfile

import numpy as np
import torch
from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_model_fixtures import ldm_state_dict  # noqa: E402 (the same LDM key rules)
from make_pipeline_fixtures import NEGATIVE, PROMPT, SAMPLERS, to_uint8  # noqa: E402

MODEL = os.path.join(HERE, "..", "..", "models", "tiny")
STEPS, GUIDANCE, SEED = 7, 6.0, 31


def write_single_file(path):
    """models/tiny's three networks under their original LDM names."""
    unet = UNet2DConditionModel.from_pretrained(MODEL, subfolder="unet")
    vae = AutoencoderKL.from_pretrained(MODEL, subfolder="vae")
    clip = CLIPTextModel.from_pretrained(MODEL, subfolder="text_encoder")
    ldm = ldm_state_dict(unet.config, unet.state_dict(), vae.config, vae.state_dict(), clip.state_dict())
    save_file({k: v.contiguous() for k, v in ldm.items()}, path)


def main():
    torch.set_num_threads(1)
    out = {"config": torch.tensor([STEPS, GUIDANCE, SEED], dtype=torch.float64)}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tiny.safetensors")
        write_single_file(path)
        base = StableDiffusionPipeline.from_single_file(path, config=MODEL, safety_checker=None,
                                                        requires_safety_checker=False, local_files_only=True)
        folder_unet = UNet2DConditionModel.from_pretrained(MODEL, subfolder="unet").state_dict()
        assert all(torch.equal(v, folder_unet[k]) for k, v in base.unet.state_dict().items()), "weights not from the file"
        sc = base.scheduler.config
        # What makes the difference: SD 1.x's schedule, not a scheduler class's bare defaults.
        assert (sc.beta_schedule, sc.beta_start, sc.beta_end, sc.steps_offset) == ("scaled_linear", 0.00085, 0.012, 1), sc
        print("from_single_file scheduler:", dict(sc))
        for name, (scheduler_class, options) in SAMPLERS.items():
            base.scheduler = scheduler_class.from_config(sc, **options)
            base.set_progress_bar_config(disable=True)
            images = base(PROMPT, negative_prompt=NEGATIVE, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                          height=64, width=64, generator=[torch.Generator().manual_seed(SEED)], output_type="np").images
            out[f"{name}.image"] = to_uint8(images)
    target = os.path.join(HERE, "single_file_pipeline.safetensors")
    save_file(out, target)
    print(f"wrote {len(out)} tensors to {target} ({os.path.getsize(target)} bytes)")


if __name__ == "__main__":
    main()
