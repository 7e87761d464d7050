#!/usr/bin/env python3
"""TAESD (diffusers' AutoencoderTiny) golden outputs, issue 13 item 4. A random AutoencoderTiny of the
SD 1.x layout (4 stages, blocks (1, 3, 3, 3) / (3, 3, 3, 1)) at width 8 instead of 64, perturbed, saved
in the three forms users bring:
  models/taesd_tiny/                      diffusers' save_pretrained (config.json + safetensors)
  models/taesd_tiny_original/taesd_decoder.safetensors, taesd_encoder.safetensors
                                          the original TAESD single files (keys N.…; the decoder's
                                          Sequential starts with its parameter-free clamp, so N is
                                          diffusers' index + 1)
and Tests/Fixtures/taesd.safetensors with
  decode.latents [2, 4, 8, 8] → decode.images [2, 3, 64, 64]   (AutoencoderTiny.decode)
  encode.images [1, 3, 64, 64] → encode.latents [1, 4, 8, 8]   (AutoencoderTiny.encode)
  pipeline.image: StableDiffusionPipeline on models/tiny with this TAESD as its vae (the pipeline
                  divides by its scaling factor 1.0), euler, PROMPT/NEGATIVE, 5 steps, 64 px, seed 23.

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_taesd_fixtures.py
"""
import os
import shutil
import sys

import torch
from diffusers import AutoencoderTiny, EulerDiscreteScheduler, StableDiffusionPipeline
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from make_model_fixtures import perturb  # noqa: E402
from make_pipeline_fixtures import NEGATIVE, PROMPT, to_uint8  # noqa: E402

FOLDER = os.path.join(HERE, "models", "taesd_tiny")
ORIGINAL = os.path.join(HERE, "models", "taesd_tiny_original")
STEPS, GUIDANCE, SEED = 5, 7.5, 23


def original_keys(state, half, offset):
    """diffusers' `<half>.layers.N.rest` → the original file's `(N + offset).rest`."""
    out = {}
    for key, value in state.items():
        if key.startswith(half + ".layers."):
            index, rest = key[len(half + ".layers."):].split(".", 1)
            out[f"{int(index) + offset}.{rest}"] = value.contiguous()
    return out


def main():
    torch.set_num_threads(1)
    torch.manual_seed(13)
    taesd = AutoencoderTiny(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8)).eval()
    perturb(taesd, 14)
    shutil.rmtree(FOLDER, ignore_errors=True)
    taesd.save_pretrained(FOLDER)
    shutil.rmtree(ORIGINAL, ignore_errors=True)
    os.makedirs(ORIGINAL)
    state = taesd.state_dict()
    save_file(original_keys(state, "decoder", 1), os.path.join(ORIGINAL, "taesd_decoder.safetensors"))
    save_file(original_keys(state, "encoder", 0), os.path.join(ORIGINAL, "taesd_encoder.safetensors"))

    g = torch.Generator().manual_seed(15)
    latents = torch.randn(2, 4, 8, 8, generator=g) * 2
    images = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    with torch.no_grad():
        decoded = taesd.decode(latents).sample
        encoded = taesd.encode(images).latents

    pipe = StableDiffusionPipeline.from_pretrained(os.path.join(ROOT, "models", "tiny"), vae=taesd, safety_checker=None,
                                                   requires_safety_checker=False)
    assert pipe.vae_scale_factor == 8, pipe.vae_scale_factor
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    image = pipe(PROMPT, negative_prompt=NEGATIVE, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=64, width=64,
                 generator=[torch.Generator().manual_seed(SEED)], output_type="np").images

    save_file({
        "decode.latents": latents, "decode.images": decoded.contiguous(),
        "encode.images": images, "encode.latents": encoded.contiguous(),
        "pipeline.image": to_uint8(image),
        "pipeline.config": torch.tensor([STEPS, GUIDANCE, SEED], dtype=torch.float64),
    }, os.path.join(HERE, "taesd.safetensors"))
    print("wrote", FOLDER, ORIGINAL, "and taesd.safetensors")


if __name__ == "__main__":
    main()
