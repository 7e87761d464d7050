#!/usr/bin/env python3
"""Two optimizer steps of diffusers' train_dreambooth_lora.py inner loop on models/tiny, with every
random draw and the LoRA factors' starting values exported, for Tests/TrainingTests/LoRAStepTests.swift.

The UNet's LoRA is peft's (LoraConfig r=2, lora_alpha=4 on to_k/to_q/to_v/to_out.0, as the script
sets it up); the text encoder's (q/k/v/out_proj) is the same update written out by hand,
base(x) + alpha/r * B(A(x)), because transformers 5.24 refuses text-encoder adapters from peft 0.21.
B starts non-zero (the script's gaussian init starts it at zero, which would leave A without a gradient
in the first step). Prior preservation (one instance and one class image per batch), AdamW lr 1e-3,
betas 0.9/0.999, eps 1e-8, weight decay 1e-2 over the LoRA parameters only, clip_grad_norm_ 1.
Writes Tests/Fixtures/lora_training_step.safetensors:
  "ids", "step<k>.pixels", ".vae_eps", ".noise", ".timesteps", ".loss", ".prior_loss", ".grad_norm"
  "init.<network>.<module>.lora_A.weight" / "…lora_B.weight"   the factors before step 0
  "grad.<network>.<module>.lora_A.weight" / …                   their gradients in step 0 (before clipping)
  "after.<network>.<module>.lora_A.weight" / …                  the factors after step 1
(<module> as our folders name it: the text encoder's without "text_model.").

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_lora_training_step_fixtures.py
"""
import os

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from peft import LoraConfig
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "models", "tiny")
RANK, ALPHA = 2, 4


class HandLoRA(torch.nn.Module):
    """A frozen linear layer plus alpha/r * B(A(x))."""

    def __init__(self, base, g):
        super().__init__()
        self.base = base
        self.lora_A = torch.nn.Parameter(torch.randn(RANK, base.in_features, generator=g) / RANK)
        self.lora_B = torch.nn.Parameter(torch.randn(base.out_features, RANK, generator=g) * 0.1)

    def forward(self, x):
        return self.base(x) + (ALPHA / RANK) * F.linear(F.linear(x, self.lora_A), self.lora_B)


def main():
    torch.manual_seed(5)
    unet = UNet2DConditionModel.from_pretrained(ROOT, subfolder="unet")
    text_encoder = CLIPTextModel.from_pretrained(ROOT, subfolder="text_encoder")
    vae = AutoencoderKL.from_pretrained(ROOT, subfolder="vae")
    tokenizer = CLIPTokenizer.from_pretrained(ROOT, subfolder="tokenizer")
    scheduler = DDPMScheduler.from_pretrained(ROOT, subfolder="scheduler")
    for model in (unet, text_encoder, vae):
        model.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=RANK, lora_alpha=ALPHA, init_lora_weights="gaussian",
                                target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
    g = torch.Generator().manual_seed(77)
    factors = {}  # our name -> parameter
    for name, module in unet.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            with torch.no_grad():
                module.lora_B["default"].weight.copy_(torch.randn(module.lora_B["default"].weight.shape, generator=g) * 0.1)
            factors[f"unet.{name}.lora_A.weight"] = module.lora_A["default"].weight
            factors[f"unet.{name}.lora_B.weight"] = module.lora_B["default"].weight
    for layer_index, layer in enumerate(text_encoder.text_model.encoder.layers if hasattr(text_encoder, "text_model") else text_encoder.encoder.layers):
        for projection in ("q_proj", "k_proj", "v_proj", "out_proj"):
            wrapped = HandLoRA(getattr(layer.self_attn, projection), g)
            setattr(layer.self_attn, projection, wrapped)
            module = f"encoder.layers.{layer_index}.self_attn.{projection}"
            factors[f"text_encoder.{module}.lora_A.weight"] = wrapped.lora_A
            factors[f"text_encoder.{module}.lora_B.weight"] = wrapped.lora_B
    params = list(factors.values())
    unet.train()
    text_encoder.train()
    out = {f"init.{k}": v.detach().clone() for k, v in factors.items()}

    ids = tokenizer(["a photo of sks dog", "a photo of dog"], padding="max_length", max_length=77,
                    truncation=True, return_tensors="pt").input_ids
    optimizer = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8, foreach=False)
    draws = torch.Generator().manual_seed(20261202)
    out["ids"] = ids.float()
    for step, timesteps in enumerate([[17, 803], [512, 96]]):
        pixels = torch.rand(2, 3, 64, 64, generator=draws) * 2 - 1
        posterior = vae.encode(pixels).latent_dist
        vae_eps = torch.randn(posterior.mean.shape, generator=draws)
        latents = (posterior.mean + posterior.std * vae_eps) * vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=draws)
        t = torch.tensor(timesteps)
        noisy = scheduler.add_noise(latents, noise, t)
        prediction = unet(noisy, t, text_encoder(ids)[0]).sample
        prediction, prediction_prior = torch.chunk(prediction, 2, dim=0)
        target, target_prior = torch.chunk(noise, 2, dim=0)
        prior_loss = F.mse_loss(prediction_prior.float(), target_prior.float(), reduction="mean")
        loss = F.mse_loss(prediction.float(), target.float(), reduction="mean") + prior_loss
        loss.backward()
        if step == 0:
            out.update({f"grad.{k}": v.grad.detach().clone() for k, v in factors.items()})
        grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        out.update({f"step{step}.pixels": pixels, f"step{step}.vae_eps": vae_eps, f"step{step}.noise": noise,
                    f"step{step}.timesteps": t.float(), f"step{step}.loss": loss.detach().reshape(1),
                    f"step{step}.prior_loss": prior_loss.detach().reshape(1), f"step{step}.grad_norm": grad_norm.detach().reshape(1).float()})
    out.update({f"after.{k}": v.detach().clone() for k, v in factors.items()})
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(HERE, "lora_training_step.safetensors"))
    print("losses", [float(out[f"step{s}.loss"]) for s in range(2)], "grad norms", [float(out[f"step{s}.grad_norm"]) for s in range(2)],
          "factors", len(factors))


if __name__ == "__main__":
    main()
