# Golden gradients of the VAE (diffusers' AutoencoderKL) from PyTorch autograd, for the pullbacks
# AutoencoderKL.encodeWithPullback / decodeWithPullback in Sources/Models/AutoencoderKL.swift.
#
# Run from the repository root (needs torch, diffusers and safetensors; the project venv has them):
#     HF_HUB_OFFLINE=1 /work/main/.venv/bin/python Tests/Fixtures/make_vae_backward_fixtures.py
# It writes Tests/Fixtures/vae_backward.safetensors and vae_backward_config.json (the model's config).
# The model is tiny and random (two blocks, so one downsampler and one upsampler, and resnets that
# change width in both directions); its parameters are jittered so that no norm is exactly 1/0.
# The loss is L = Σ mean ⊙ r_mean + Σ logvar ⊙ r_logvar + Σ decode(latents) ⊙ r_decoded, one backward
# for encode and decode together (they share no parameter). Tensors:
#   "param.<key>"          every parameter, keyed as the diffusers state dict
#   "image" [2, 3, 12, 9]  the encoder's input. Height 12 is even, so the last stride-2 window reads
#                          the extra zero row of the (0, 1, 0, 1) padding; width 9 is odd, so the padded
#                          column is never read: both cases of the asymmetric padding's gradient.
#   "latents" [2, 4, 5, 3] the decoder's input (odd sides)
#   "mean", "logvar"       encode(image).latent_dist's mean and (clamped) log-variance [2, 4, 6, 4]
#   "decoded"              decode(latents).sample [2, 3, 10, 6]
#   "upstream.mean", "upstream.logvar", "upstream.decoded"   r_mean, r_logvar, r_decoded
#   "grad.image", "grad.latents", "grad.<key>"               ∂L/∂ each
import json
import os

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(2024)
vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16), layers_per_block=1,
                    norm_num_groups=4, sample_size=12, down_block_types=("DownEncoderBlock2D",) * 2,
                    up_block_types=("UpDecoderBlock2D",) * 2)

# Jitter every parameter: random-initialised norms are exactly 1/0, which would hide a swapped
# weight and bias; the norms' scales and shifts get a larger jitter so that the affine matters.
with torch.no_grad():
    for name, p in vae.named_parameters():
        p.add_(torch.randn_like(p) * (0.2 if "norm" in name else 0.05))

out = {f"param.{k}": p.detach().clone() for k, p in vae.named_parameters()}
image = (torch.rand(2, 3, 12, 9) * 2 - 1).requires_grad_(True)
latents = torch.randn(2, 4, 5, 3).requires_grad_(True)
dist = vae.encode(image).latent_dist
decoded = vae.decode(latents).sample
upstream = {"mean": torch.randn_like(dist.mean), "logvar": torch.randn_like(dist.logvar),
            "decoded": torch.randn_like(decoded)}
loss = (dist.mean * upstream["mean"]).sum() + (dist.logvar * upstream["logvar"]).sum() \
    + (decoded * upstream["decoded"]).sum()
loss.backward()

out.update(image=image.detach(), latents=latents.detach(), mean=dist.mean.detach(), logvar=dist.logvar.detach(),
           decoded=decoded.detach())
out.update({f"upstream.{k}": v for k, v in upstream.items()})
out["grad.image"], out["grad.latents"] = image.grad, latents.grad
for k, p in vae.named_parameters():
    assert p.grad is not None and p.grad.abs().max() > 0, f"{k} has no gradient"
    out[f"grad.{k}"] = p.grad.clone()

with open(os.path.join(here, "vae_backward_config.json"), "w") as f:
    json.dump(dict(vae.config), f, indent=2, sort_keys=True)
save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(here, "vae_backward.safetensors"))
print(f"wrote vae_backward.safetensors: {len(out)} tensors, {sum(p.numel() for p in vae.parameters())} parameters")
