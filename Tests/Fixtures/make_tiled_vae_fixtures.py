#!/usr/bin/env python3
"""Tiled VAE golden outputs (issue 13 item 4: `"vae_tiling": true` with diffusers' tiled_decode /
_tiled_encode semantics), on models/tiny's VAE, whose sample_size 64 makes a tile 64 px / 8 latents, so
that small tensors span several tiles, edge tiles included:
  decode.latents [1, 4, 20, 14] → decode.images [1, 3, 160, 112]   (vae.enable_tiling(); vae.decode)
  encode.images [1, 3, 152, 104] → encode.mean, encode.logvar       (vae.enable_tiling(); vae.encode)
  pipeline.image: StableDiffusionPipeline on models/tiny with the VAE tiled, euler, PROMPT/NEGATIVE,
                  5 steps, 128 x 96 px, seed 29.
Also the same decode without tiling (plain.images), to show that tiling changes the result.

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_tiled_vae_fixtures.py
"""
import os
import sys

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from make_pipeline_fixtures import NEGATIVE, PROMPT, to_uint8  # noqa: E402

MODEL = os.path.join(ROOT, "models", "tiny")
STEPS, GUIDANCE, SEED, WIDTH, HEIGHT = 5, 7.5, 29, 128, 96


def main():
    torch.set_num_threads(1)
    vae = AutoencoderKL.from_pretrained(MODEL, subfolder="vae").eval()
    assert vae.tile_latent_min_size == 8 and vae.tile_sample_min_size == 64
    g = torch.Generator().manual_seed(31)
    latents = torch.randn(1, 4, 20, 14, generator=g)
    images = torch.rand(1, 3, 152, 104, generator=g) * 2 - 1
    with torch.no_grad():
        plain = vae.decode(latents).sample
        vae.enable_tiling()
        decoded = vae.decode(latents).sample
        posterior = vae.encode(images).latent_dist
    assert not torch.allclose(plain, decoded)

    pipe = StableDiffusionPipeline.from_pretrained(MODEL, safety_checker=None, requires_safety_checker=False)
    pipe.vae.enable_tiling()
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    image = pipe(PROMPT, negative_prompt=NEGATIVE, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=HEIGHT, width=WIDTH,
                 generator=[torch.Generator().manual_seed(SEED)], output_type="np").images

    save_file({
        "decode.latents": latents, "decode.images": decoded.contiguous(), "plain.images": plain.contiguous(),
        "encode.images": images, "encode.mean": posterior.mean.contiguous(), "encode.logvar": posterior.logvar.contiguous(),
        "pipeline.image": to_uint8(image),
        "pipeline.config": torch.tensor([STEPS, GUIDANCE, SEED, WIDTH, HEIGHT], dtype=torch.float64),
    }, os.path.join(HERE, "tiled_vae.safetensors"))
    print("wrote tiled_vae.safetensors")


if __name__ == "__main__":
    main()
