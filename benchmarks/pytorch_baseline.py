#!/usr/bin/env python3
"""PyTorch baseline for `dbbench models`: the same components, shapes and repetitions on the same
model folder, fp32, `inference_mode`, with the thread count dbbench uses. Prints JSON rows in
dbbench's format so that benchmarks/models.sh can compute ratios.

    HF_HUB_OFFLINE=1 python benchmarks/pytorch_baseline.py --model DIR --threads 2 --repetitions 3 [--render-steps 20]

With --render-steps N, also one whole 512×512 render by StableDiffusionPipeline (euler, guidance 7.5,
the folder's scheduler configuration), timed once after the components, as dbbench does.
"""
import argparse
import json
import resource
import statistics
import time

import torch
from diffusers import AutoencoderKL, AutoencoderTiny, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextModel


def measure(repetitions, fn):
    fn()  # warm-up, as dbbench does
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--render-steps", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    start = time.perf_counter()
    text = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder").eval()
    unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet").eval()
    vae = AutoencoderKL.from_pretrained(args.model, subfolder="vae").eval()
    rows.append(("load (mmap)", time.perf_counter() - start))
    ids = torch.tensor([[49406, 320, 1125, 539, 48136, 1929] + [49407] * 71, [49406] + [49407] * 76])
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        rows.append(("text encoder, batch 2", measure(args.repetitions, lambda: text(ids))))
        context = text(ids).last_hidden_state
        for size in (32, 64):
            latents = torch.randn(2, 4, size, size, generator=g)
            t = torch.tensor([500, 500])
            rows.append((f"UNet batch 2, {size}×{size} latents ({size * 8} px)",
                         measure(args.repetitions, lambda: unet(latents, t, encoder_hidden_states=context))))
        for size in (32, 64):
            latents = torch.randn(1, 4, size, size, generator=g)
            rows.append((f"VAE decode, {size}×{size} latents ({size * 8} px)",
                         measure(max(1, args.repetitions // 2), lambda: vae.decode(latents))))
        taesd = AutoencoderTiny().eval()  # TAESD's default (SD 1.x) size; random weights time the same
        for size in (32, 64):
            latents = torch.randn(1, 4, size, size, generator=g)
            rows.append((f"TAESD decode, {size}×{size} latents ({size * 8} px)",
                         measure(args.repetitions, lambda: taesd.decode(latents))))
        if args.render_steps > 0:
            pipe = StableDiffusionPipeline.from_pretrained(args.model, text_encoder=text, unet=unet, vae=vae,
                                                           safety_checker=None, requires_safety_checker=False)
            pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
            pipe.set_progress_bar_config(disable=True)
            start = time.perf_counter()
            pipe("a photograph of an astronaut riding a horse", num_inference_steps=args.render_steps, guidance_scale=7.5,
                 height=512, width=512, generator=torch.Generator().manual_seed(0), output_type="np")
            rows.append((f"render 512×512, {args.render_steps} euler steps, guidance 7.5", time.perf_counter() - start))
    print(json.dumps([{"name": n, "seconds": s, "peak_rss_mb": peak_rss() // 1048576} for n, s in rows], ensure_ascii=False))


if __name__ == "__main__":
    main()
