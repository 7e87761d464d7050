#!/usr/bin/env python3
"""PyTorch baseline for `dbbench train-step`: train_dreambooth.py's inner loop on the same model folder,
same resolution and batch, fp32, the same thread count: forward + backward, then clip + AdamW (torch's
default single-tensor path on CPU), timed apart; median after one warm-up step. JSON rows in dbbench's format.

    HF_HUB_OFFLINE=1 python benchmarks/pytorch_train_step.py --model DIR --threads 2 --resolution 256 --repetitions 2
"""
import argparse
import itertools
import json
import resource
import time

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextModel

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--resolution", type=int, default=256)
parser.add_argument("--repetitions", type=int, default=2)
parser.add_argument("--prior", action="store_true")
parser.add_argument("--text-encoder", action="store_true")
parser.add_argument("--checkpointing", action="store_true")
args = parser.parse_args()
torch.set_num_threads(args.threads)

start = time.perf_counter()
unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet")
text_encoder = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder")
vae = AutoencoderKL.from_pretrained(args.model, subfolder="vae")
scheduler = DDPMScheduler.from_pretrained(args.model, subfolder="scheduler")
vae.requires_grad_(False)
text_encoder.requires_grad_(args.text_encoder)
if args.checkpointing:
    unet.enable_gradient_checkpointing()
unet.train()
params = list(unet.parameters()) + (list(text_encoder.parameters()) if args.text_encoder else [])
optimizer = torch.optim.AdamW(params, lr=5e-6, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
setup = time.perf_counter() - start

count = 2 if args.prior else 1
g = torch.Generator().manual_seed(0)
pixels = (torch.randn(count, 3, args.resolution, args.resolution, generator=g) / 3).clamp(-1, 1)
ids = torch.tensor([[49406, 320, 1125, 539, 48136, 1929, 49407] + [49407] * 70] * count)
passes, updates = [], []
for r in range(args.repetitions + 1):
    t0 = time.perf_counter()
    with torch.no_grad():
        latents = vae.encode(pixels).latent_dist.sample(generator=g) * vae.config.scaling_factor
    noise = torch.randn(latents.shape, generator=g)
    timesteps = torch.tensor([(r * 389 + i * 577) % 1000 for i in range(count)])
    noisy = scheduler.add_noise(latents, noise, timesteps)
    context = text_encoder(ids)[0]
    prediction = unet(noisy, timesteps, context).sample
    if args.prior:
        p, pp = torch.chunk(prediction, 2)
        t, tp = torch.chunk(noise, 2)
        loss = F.mse_loss(p, t) + F.mse_loss(pp, tp)
    else:
        loss = F.mse_loss(prediction, noise)
    loss.backward()
    t1 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    optimizer.zero_grad()
    t2 = time.perf_counter()
    if r > 0:
        passes.append(t1 - t0)
        updates.append(t2 - t1)

median = lambda v: sorted(v)[len(v) // 2]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
rows = [("setup (weights into the arenas)", setup), ("forward + backward", median(passes)),
        ("clip + AdamW", median(updates)), ("optimizer step total", median(passes) + median(updates))]
print(json.dumps([{"name": n, "seconds": s, "peak_rss": rss} for n, s in rows]))
