# Golden denoising loops of diffusers' schedulers, for Sources/Sampling/Schedulers.
#
# Run from the repository root (needs torch, diffusers, scipy and safetensors; the project venv has them):
#     HF_HUB_OFFLINE=1 /work/venv/bin/python Tests/Fixtures/make_scheduler_fixtures.py
# It writes Tests/Fixtures/schedulers.safetensors. The metadata entry "cases" is a JSON list; each case
# names one of our samplers, the scheduler_config.json it is built from (diffusers' `from_config`), a
# step count, a seed, DDIM's eta and, for image-to-image, a strength. For each case "<id>":
#   "<id>.timesteps"   scheduler.timesteps (fp32)
#   "<id>.sigmas"      scheduler.sigmas, for the schedulers that have them
#   "<id>.init_noise_sigma", "<id>.first_index" (img2img start index, 0 otherwise)
#   "<id>.samples"     [loop length, 1, 4, 4, 4]: the latents after every step
#   "<id>.lms_coefficients"  [steps, 4]: LMS's integrated coefficients per step (zero-padded)
# and "fake_noise", "original_latents" shared by all cases.
#
# The loop is StableDiffusionPipeline's (and StableDiffusionImg2ImgPipeline's) with the UNet replaced by
# a fixed function of the scaled input and the timestep, which the Swift test computes the same way:
#     model_output = 0.1 * model_input + sin(t / 100) * fake_noise     (sin in double, rounded to fp32)
# Text-to-image: g = torch.Generator("cpu").manual_seed(seed); latents = randn((1,4,4,4), g) * init_noise_sigma.
# Image-to-image: the start index from get_timesteps(strength), set_begin_index, noise = randn(g),
# latents = add_noise(original_latents, noise, timesteps[start]). The same g is passed to `step` (as the
# pipelines' prepare_extra_step_kwargs does for schedulers that take a generator), so ancestral noise is
# drawn in diffusers' order.
import inspect
import json
import math
import os

import torch
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, HeunDiscreteScheduler, LCMScheduler, LMSDiscreteScheduler, PNDMScheduler)
from safetensors.torch import save_file

# Stable Diffusion 1.5's scheduler/scheduler_config.json.
SD15 = {
    "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
    "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
    "clip_sample": False,
}

SAMPLERS = {
    "ddim": (DDIMScheduler, {}),
    "pndm": (PNDMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "euler_a": (EulerAncestralDiscreteScheduler, {}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False}),
    "dpmpp_2m_karras": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}),
    "heun": (HeunDiscreteScheduler, {}),
    "lms": (LMSDiscreteScheduler, {}),
    "lcm": (LCMScheduler, {}),
}


def with_keys(**keys):
    return {**SD15, **keys}


# (id prefix, sampler, config, extra); every case runs for 7 and 25 steps.
CASES = [(name, name, SD15, {}) for name in SAMPLERS if name != "lcm"]
CASES += [
    ("ddim_eta0.5", "ddim", SD15, {"eta": 0.5}),
    # v-prediction (SD 2.x style configs).
    ("euler_v", "euler", with_keys(prediction_type="v_prediction"), {}),
    ("dpmpp_2m_v", "dpmpp_2m", with_keys(prediction_type="v_prediction"), {}),
    ("ddim_v", "ddim", with_keys(prediction_type="v_prediction"), {}),
    ("euler_a_v", "euler_a", with_keys(prediction_type="v_prediction"), {}),
    ("heun_v", "heun", with_keys(prediction_type="v_prediction"), {}),
    ("pndm_v", "pndm", with_keys(prediction_type="v_prediction"), {}),
    # Timestep spacing other than each class's default.
    ("euler_leading", "euler", with_keys(timestep_spacing="leading"), {}),
    ("euler_trailing", "euler", with_keys(timestep_spacing="trailing"), {}),
    ("ddim_linspace", "ddim", with_keys(timestep_spacing="linspace"), {}),
    ("ddim_trailing", "ddim", with_keys(timestep_spacing="trailing"), {}),
    ("dpmpp_2m_leading", "dpmpp_2m", with_keys(timestep_spacing="leading"), {}),
    ("dpmpp_2m_trailing", "dpmpp_2m", with_keys(timestep_spacing="trailing"), {}),
    ("pndm_linspace", "pndm", with_keys(timestep_spacing="linspace"), {}),
    ("lms_leading", "lms", with_keys(timestep_spacing="leading"), {}),
    # Karras sigmas taken from the configuration by the Euler-family classes.
    ("euler_karras", "euler", with_keys(use_karras_sigmas=True), {}),
    ("heun_karras", "heun", with_keys(use_karras_sigmas=True), {}),
    ("lms_karras", "lms", with_keys(use_karras_sigmas=True), {}),
    # PNDM with its Runge-Kutta warm-up (skip_prk_steps false).
    ("pndm_prk", "pndm", with_keys(skip_prk_steps=False), {}),
    # No scheduler_config.json keys at all: each class's own diffusers defaults.
    ("ddim_defaults", "ddim", {}, {}),
    ("euler_defaults", "euler", {}, {}),
    ("dpmpp_2m_defaults", "dpmpp_2m", {}, {}),
    ("heun_defaults", "heun", {}, {}),
    # Zero terminal SNR with trailing spacing (Lin et al. 2023), and other beta schedules.
    ("ddim_zsnr", "ddim", with_keys(rescale_betas_zero_snr=True, timestep_spacing="trailing", prediction_type="v_prediction"), {}),
    ("euler_zsnr", "euler", with_keys(rescale_betas_zero_snr=True, timestep_spacing="trailing", prediction_type="v_prediction"), {}),
    ("dpmpp_2m_cosine", "dpmpp_2m", with_keys(beta_schedule="squaredcos_cap_v2"), {}),
    ("ddim_cosine", "ddim", with_keys(beta_schedule="squaredcos_cap_v2"), {}),
    ("dpmpp_2m_sigma_min", "dpmpp_2m", with_keys(final_sigmas_type="sigma_min", solver_type="heun"), {}),
    ("euler_a_linear", "euler_a", with_keys(beta_schedule="linear", beta_start=0.0001, beta_end=0.02), {}),
    # Image-to-image at strength 0.6.
    ("img2img_ddim", "ddim", SD15, {"strength": 0.6}),
    ("img2img_euler_a", "euler_a", SD15, {"strength": 0.6}),
    ("img2img_dpmpp_2m", "dpmpp_2m", SD15, {"strength": 0.6}),
    ("img2img_dpmpp_2m_karras", "dpmpp_2m_karras", SD15, {"strength": 0.6}),
    ("img2img_heun", "heun", SD15, {"strength": 0.6}),
    ("img2img_lms", "lms", SD15, {"strength": 0.6}),
    ("img2img_pndm", "pndm", SD15, {"strength": 0.6}),
    ("img2img_euler", "euler", SD15, {"strength": 0.6}),
    # LCM (appended, so the cases above keep their seeds): SD's config, its own defaults, v-prediction,
    # another distillation schedule and timestep scaling, zero terminal SNR, image-to-image.
    ("lcm", "lcm", SD15, {}),
    ("lcm_defaults", "lcm", {}, {}),
    ("lcm_v", "lcm", with_keys(prediction_type="v_prediction"), {}),
    ("lcm_origin_steps", "lcm", with_keys(original_inference_steps=30, timestep_scaling=5.0), {}),
    ("lcm_zsnr", "lcm", with_keys(rescale_betas_zero_snr=True, prediction_type="v_prediction"), {}),
    ("img2img_lcm", "lcm", SD15, {"strength": 0.6}),
]
STEPS = [7, 25]
LCM_STEPS = [1, 4, 7, 25]  # LCM renders in a few steps; one step adds no noise at all

torch.manual_seed(1234)
fake_noise = torch.randn(1, 4, 4, 4)
original_latents = torch.randn(1, 4, 4, 4) * 0.8
tensors = {"fake_noise": fake_noise, "original_latents": original_latents}


def fake_unet(model_input, t):
    return 0.1 * model_input + math.sin(float(t) / 100) * fake_noise


manifest = []
for index, (prefix, sampler, config, extra) in enumerate(CASES):
    cls, fixed = SAMPLERS[sampler]
    for steps in (LCM_STEPS if sampler == "lcm" else STEPS):
        case_id = f"{prefix}.{steps}"
        seed = 1000 + 7 * index + steps
        scheduler = cls.from_config(config, **fixed)
        scheduler.set_timesteps(steps)
        g = torch.Generator("cpu").manual_seed(seed)
        strength = extra.get("strength")
        step_kwargs = {}
        parameters = set(inspect.signature(scheduler.step).parameters)
        if "eta" in parameters:
            step_kwargs["eta"] = extra.get("eta", 0.0)
        if "generator" in parameters:
            step_kwargs["generator"] = g

        if strength is None:
            first = 0
            latents = torch.randn((1, 4, 4, 4), generator=g, dtype=torch.float32) * scheduler.init_noise_sigma
        else:
            # StableDiffusionImg2ImgPipeline.get_timesteps + prepare_latents.
            init_timestep = min(int(steps * strength), steps)
            t_start = max(steps - init_timestep, 0)
            first = t_start * scheduler.order
            if hasattr(scheduler, "set_begin_index"):
                scheduler.set_begin_index(first)
            noise = torch.randn((1, 4, 4, 4), generator=g, dtype=torch.float32)
            latents = scheduler.add_noise(original_latents, noise, scheduler.timesteps[first:first + 1])

        samples, lms = [], []
        for i, t in enumerate(scheduler.timesteps[first:], start=first):
            model_input = scheduler.scale_model_input(latents, t)
            output = fake_unet(model_input, t)
            if isinstance(scheduler, LMSDiscreteScheduler):
                index_now = scheduler.step_index if scheduler.step_index is not None else i
                order = min(index_now + 1, 4)
                lms.append([scheduler.get_lms_coefficient(order, index_now, k) for k in range(order)] + [0.0] * (4 - order))
            latents = scheduler.step(output, t, latents, **step_kwargs).prev_sample
            samples.append(latents.clone())

        tensors[f"{case_id}.timesteps"] = scheduler.timesteps.to(torch.float32).clone()
        if getattr(scheduler, "sigmas", None) is not None and not isinstance(scheduler, (DDIMScheduler, PNDMScheduler)):
            tensors[f"{case_id}.sigmas"] = scheduler.sigmas.to(torch.float32).clone()
        tensors[f"{case_id}.init_noise_sigma"] = torch.tensor([float(scheduler.init_noise_sigma)], dtype=torch.float32)
        tensors[f"{case_id}.first_index"] = torch.tensor([float(first)])
        tensors[f"{case_id}.samples"] = torch.stack(samples) if samples else torch.zeros(0, 1, 4, 4, 4)
        if lms:
            tensors[f"{case_id}.lms_coefficients"] = torch.tensor(lms, dtype=torch.float32)
        manifest.append({"id": case_id, "sampler": sampler, "configuration": config, "steps": steps, "seed": seed,
                         "eta": extra.get("eta", 0.0), "strength": strength})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schedulers.safetensors")
save_file({k: v.contiguous() for k, v in tensors.items()}, out,
          metadata={"cases": json.dumps(manifest), "torch": torch.__version__})
print(f"wrote {len(manifest)} cases, {len(tensors)} tensors to {out}")
