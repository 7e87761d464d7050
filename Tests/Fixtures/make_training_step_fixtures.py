# Two optimizer steps of diffusers' train_dreambooth.py inner loop on the tiny model that ships in
# models/tiny, with every random draw exported, for Tests/TrainingTests/DreamBoothStepTests.swift.
#
# Run from the repository root (needs torch, diffusers, transformers, safetensors; the project venv):
#     HF_HUB_OFFLINE=1 /work/venv/bin/python Tests/Fixtures/make_training_step_fixtures.py
# Settings: prior preservation (one instance and one class image per batch, prior_loss_weight 1),
# train_text_encoder, AdamW (lr 1e-3 to make two steps visible, betas 0.9/0.999, eps 1e-8, weight
# decay 1e-2), max_grad_norm 1, epsilon prediction, no SNR weighting. It writes
# Tests/Fixtures/training_step.safetensors:
#   "ids"                                [2, 77] token ids ("a photo of sks dog", "a photo of dog")
#   "step<k>.pixels" [2, 3, 64, 64], "step<k>.vae_eps" [2, 4, 8, 8], "step<k>.noise", "step<k>.timesteps"
#   "step<k>.loss", "step<k>.prior_loss", "step<k>.grad_norm"   (clip_grad_norm_'s pre-clip norm)
#   "delta_norm.unet.<key>", "delta_norm.text_encoder.<key>"    ‖θ_after − θ_before‖₂ per tensor
#   "after.unet.<key>", "after.text_encoder.<key>"              full values of a few tensors
import os

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "tiny")
unet = UNet2DConditionModel.from_pretrained(root, subfolder="unet")
text_encoder = CLIPTextModel.from_pretrained(root, subfolder="text_encoder")
vae = AutoencoderKL.from_pretrained(root, subfolder="vae")
tokenizer = CLIPTokenizer.from_pretrained(root, subfolder="tokenizer")
scheduler = DDPMScheduler.from_pretrained(root, subfolder="scheduler")
vae.requires_grad_(False)
unet.train()
text_encoder.train()

ids = tokenizer(["a photo of sks dog", "a photo of dog"], padding="max_length", max_length=77,
                truncation=True, return_tensors="pt").input_ids
params = list(unet.parameters()) + list(text_encoder.parameters())
optimizer = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8, foreach=False)
before_unet = {k: v.detach().clone() for k, v in unet.named_parameters()}
before_text = {k: v.detach().clone() for k, v in text_encoder.named_parameters()}

g = torch.Generator().manual_seed(20261127)
out = {"ids": ids.float()}
for step, timesteps in enumerate([[17, 803], [512, 96]]):
    pixels = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    posterior = vae.encode(pixels).latent_dist
    vae_eps = torch.randn(posterior.mean.shape, generator=g)
    latents = (posterior.mean + posterior.std * vae_eps) * vae.config.scaling_factor
    noise = torch.randn(latents.shape, generator=g)
    t = torch.tensor(timesteps)
    noisy = scheduler.add_noise(latents, noise, t)
    context = text_encoder(ids)[0]
    prediction = unet(noisy, t, context).sample
    prediction, prediction_prior = torch.chunk(prediction, 2, dim=0)
    target, target_prior = torch.chunk(noise, 2, dim=0)
    prior_loss = F.mse_loss(prediction_prior.float(), target_prior.float(), reduction="mean")
    loss = F.mse_loss(prediction.float(), target.float(), reduction="mean") + 1.0 * prior_loss
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    optimizer.zero_grad()
    out[f"step{step}.pixels"], out[f"step{step}.vae_eps"], out[f"step{step}.noise"] = pixels, vae_eps, noise
    out[f"step{step}.timesteps"] = t.float()
    out[f"step{step}.loss"] = loss.detach().reshape(1)
    out[f"step{step}.prior_loss"] = prior_loss.detach().reshape(1)
    out[f"step{step}.grad_norm"] = grad_norm.detach().reshape(1).float()

for prefix, model, before in [("unet", unet, before_unet), ("text_encoder", text_encoder, before_text)]:
    for k, v in model.named_parameters():
        out[f"delta_norm.{prefix}.{k}"] = (v.detach() - before[k]).norm().reshape(1)
for key in ["conv_in.weight", "time_embedding.linear_1.weight", "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_q.weight",
            "up_blocks.1.resnets.0.conv2.bias", "conv_out.bias"]:
    out[f"after.unet.{key}"] = dict(unet.named_parameters())[key].detach().clone()
for key in ["final_layer_norm.weight", "encoder.layers.0.self_attn.q_proj.weight"]:
    out[f"after.text_encoder.{key}"] = dict(text_encoder.named_parameters())[key].detach().clone()
here = os.path.dirname(os.path.abspath(__file__))
save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(here, "training_step.safetensors"))
print("losses", [float(out[f"step{s}.loss"]) for s in range(2)], "grad norms", [float(out[f"step{s}.grad_norm"]) for s in range(2)])
