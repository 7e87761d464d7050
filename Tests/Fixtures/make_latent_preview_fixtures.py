#!/usr/bin/env python3
"""Live previews (LatentPreviewTests): the clean-latent estimate x0 that diffusers' schedulers report
as `pred_original_sample` from a model output, and A1111's "Approx cheap" preview image of latents.

x0: EulerDiscreteScheduler, HeunDiscreteScheduler, LMSDiscreteScheduler and DDIMScheduler (epsilon and
v-prediction) on SD 1.5's schedule, 20 steps, at step index 5; the model output is random. Each case
stores the latents before the step (`sample`), the model output and diffusers' `pred_original_sample`.

Preview image: A1111's sd_vae_approx.cheap_approximation for SD 1.x — einsum("lxy,lr -> rxy") of the
latents with its factor table — then single_sample_to_image's x * 0.5 + 0.5, clamp to [0, 1], * 255,
uint8 truncation. (The A1111 functions reach for the loaded model and shared state; the arithmetic is
restated here with A1111's own constants and operations.)

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_latent_preview_fixtures.py

Writes Tests/Fixtures/latent_preview.safetensors.
"""
import json
import os

import numpy as np
import torch
from diffusers import DDIMScheduler, EulerDiscreteScheduler, HeunDiscreteScheduler, LMSDiscreteScheduler
from safetensors.torch import save_file

SD15 = {
    "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
    "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "clip_sample": False,
}
CASES = [("euler", EulerDiscreteScheduler, {}), ("heun", HeunDiscreteScheduler, {}), ("lms", LMSDiscreteScheduler, {}),
         ("ddim", DDIMScheduler, {}), ("ddim_v", DDIMScheduler, {"prediction_type": "v_prediction"})]
STEPS, INDEX = 20, 5
A1111_FACTORS = [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]]


def main():
    g = torch.Generator().manual_seed(0)
    tensors, meta = {}, []
    for name, cls, extra in CASES:
        scheduler = cls.from_config({**SD15, **extra})
        scheduler.set_timesteps(STEPS)
        sample = torch.randn(1, 4, 8, 8, generator=g) * float(scheduler.init_noise_sigma) * 0.5
        output = torch.randn(1, 4, 8, 8, generator=g)
        for i in range(INDEX):  # walk the scheduler to step INDEX (Heun and LMS keep state)
            scheduler.scale_model_input(sample, scheduler.timesteps[i])
            sample = scheduler.step(output * 0.0 + torch.randn(1, 4, 8, 8, generator=g), scheduler.timesteps[i], sample).prev_sample
        scheduler.scale_model_input(sample, scheduler.timesteps[INDEX])
        result = scheduler.step(output, scheduler.timesteps[INDEX], sample)
        tensors[f"{name}.sample"] = sample.contiguous()
        tensors[f"{name}.output"] = output.contiguous()
        tensors[f"{name}.x0"] = result.pred_original_sample.contiguous()
        meta.append({"id": name, "config": {**SD15, **extra}, "steps": STEPS, "index": INDEX})

    latents = torch.randn(1, 4, 6, 10, generator=g) * 1.5
    approximation = torch.einsum("lxy,lr -> rxy", latents[0], torch.tensor(A1111_FACTORS))
    unit = torch.clamp(approximation * 0.5 + 0.5, min=0.0, max=1.0)
    image = (255.0 * np.moveaxis(unit.numpy(), 0, 2)).astype(np.uint8)
    tensors["preview.latents"] = latents.contiguous()
    tensors["preview.image"] = torch.from_numpy(image.astype(np.float32)).contiguous()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "latent_preview.safetensors")
    save_file(tensors, out, metadata={"cases": json.dumps(meta)})
    print("wrote", out)


if __name__ == "__main__":
    main()
