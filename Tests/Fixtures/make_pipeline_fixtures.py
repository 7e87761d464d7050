#!/usr/bin/env python3
"""Whole-pipeline golden images: diffusers' StableDiffusionPipeline and StableDiffusionImg2ImgPipeline
on the model that ships in models/tiny, for every sampler, with one generator per image seeded
seed + i (as dbrender does). Writes Tests/Fixtures/pipeline.safetensors: 8-bit RGB images [N, H, W, 3]
(stored as float) per case, and the img2img init image. Regenerate when models/tiny changes.

    HF_HUB_OFFLINE=1 /work/venv/bin/python Tests/Fixtures/make_pipeline_fixtures.py
"""
import os

import numpy as np
import torch
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, HeunDiscreteScheduler, LCMScheduler, LMSDiscreteScheduler, PNDMScheduler,
                       StableDiffusionImg2ImgPipeline, StableDiffusionPipeline)
from PIL import Image
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "..", "models", "tiny")

SAMPLERS = {
    "ddim": (DDIMScheduler, {}),
    "pndm": (PNDMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "euler_a": (EulerAncestralDiscreteScheduler, {}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, {}),
    "dpmpp_2m_karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
    "heun": (HeunDiscreteScheduler, {}),
    "lms": (LMSDiscreteScheduler, {}),
    "lcm": (LCMScheduler, {}),
}

# (case name, sampler, count, steps, guidance, seed)
TEXT_CASES = [(name, name, 1, 8, 7.5, 42) for name in SAMPLERS] + [
    ("euler_a_count2", "euler_a", 2, 6, 7.5, 1234),
    ("dpmpp_2m_noguidance", "dpmpp_2m", 1, 6, 1.0, 7),
    ("lcm_guidance1", "lcm", 2, 4, 1.0, 21),  # the LCM-LoRA recipe: 4 steps, no unconditional pass
]
IMG2IMG_CASES = [("img2img_" + s, s, 10, 7.5, 99) for s in ("ddim", "euler_a", "dpmpp_2m", "lcm")]
PROMPT, NEGATIVE = "a photo of sks dog", "blurry, low quality"


def pipeline(cls, sampler):
    pipe = cls.from_pretrained(MODEL, safety_checker=None, requires_safety_checker=False)
    scheduler_class, options = SAMPLERS[sampler]
    pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config, **options)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def to_uint8(images):
    return torch.from_numpy(np.ascontiguousarray((images * 255).round().astype(np.uint8).astype(np.float32)))


def main():
    torch.set_num_threads(1)
    out = {}
    for name, sampler, count, steps, guidance, seed in TEXT_CASES:
        pipe = pipeline(StableDiffusionPipeline, sampler)
        generators = [torch.Generator().manual_seed(seed + i) for i in range(count)]
        images = pipe(PROMPT, negative_prompt=NEGATIVE, num_inference_steps=steps, guidance_scale=guidance,
                      height=64, width=64, num_images_per_prompt=count, generator=generators, output_type="np").images
        out[f"{name}.image"] = to_uint8(images)
        out[f"{name}.config"] = torch.tensor([count, steps, guidance, seed], dtype=torch.float64)
    # An init image with structure in every channel.
    y, x = np.mgrid[0:64, 0:64]
    init = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    out["init_image"] = torch.from_numpy(init.astype(np.float32))
    for name, sampler, steps, guidance, seed in IMG2IMG_CASES:
        pipe = pipeline(StableDiffusionImg2ImgPipeline, sampler)
        images = pipe(PROMPT, image=Image.fromarray(init), strength=0.6, negative_prompt=NEGATIVE,
                      num_inference_steps=steps, guidance_scale=guidance,
                      generator=[torch.Generator().manual_seed(seed)], output_type="np").images
        out[f"{name}.image"] = to_uint8(images)
        out[f"{name}.config"] = torch.tensor([1, steps, guidance, seed], dtype=torch.float64)
    path = os.path.join(HERE, "pipeline.safetensors")
    save_file(out, path)
    print(f"wrote {len(out)} tensors to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
