#!/usr/bin/env python3
"""A model whose VAE downsamples 4× instead of SD's 8× (issue 10: the pipeline must follow the VAE's
config): models/tiny's UNet, text encoder, tokenizer and scheduler (symbolic links) with a new random
3-block VAE, and diffusers' StableDiffusionPipeline image from it (64×64 px → 16×16 latents).
Writes Tests/Fixtures/models/tiny_vae4/ and Tests/Fixtures/vae_factor_pipeline.safetensors.

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_vae_factor_fixtures.py
"""
import os
import shutil
import sys

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_model_fixtures import perturb  # noqa: E402
from make_pipeline_fixtures import NEGATIVE, PROMPT, to_uint8  # noqa: E402

MODEL = os.path.join(HERE, "models", "tiny_vae4")
STEPS, GUIDANCE, SEED = 5, 7.5, 17


def main():
    torch.set_num_threads(1)
    shutil.rmtree(MODEL, ignore_errors=True)
    os.makedirs(MODEL)
    for name in ("unet", "text_encoder", "tokenizer", "scheduler", "model_index.json"):
        os.symlink(os.path.join("..", "..", "..", "..", "models", "tiny", name), os.path.join(MODEL, name))
    torch.manual_seed(4)
    vae = AutoencoderKL(block_out_channels=(16, 32, 32), down_block_types=("DownEncoderBlock2D",) * 3,
                        up_block_types=("UpDecoderBlock2D",) * 3, layers_per_block=1, norm_num_groups=8,
                        latent_channels=4, sample_size=32).eval()
    perturb(vae, 5)
    vae.save_pretrained(os.path.join(MODEL, "vae"))
    pipe = StableDiffusionPipeline.from_pretrained(MODEL, safety_checker=None, requires_safety_checker=False)
    assert pipe.vae_scale_factor == 4, pipe.vae_scale_factor
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    images = pipe(PROMPT, negative_prompt=NEGATIVE, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=64, width=64,
                  generator=[torch.Generator().manual_seed(SEED)], output_type="np").images
    out = {"euler.image": to_uint8(images), "config": torch.tensor([STEPS, GUIDANCE, SEED], dtype=torch.float64)}
    save_file(out, os.path.join(HERE, "vae_factor_pipeline.safetensors"))
    print("wrote", MODEL, "and vae_factor_pipeline.safetensors")


if __name__ == "__main__":
    main()
