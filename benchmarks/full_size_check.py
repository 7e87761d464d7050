#!/usr/bin/env python3
"""Full-size parity check (not in CI): the SD 1.5 architecture with random weights, run by dbrender
and by diffusers/transformers on the same inputs; prints the error of each output relative to its
scale. Tolerance: 1e-4 (fp32; ~100 layers deep at full width).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/full_size_check.py [--model .build/bench-sd15]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import load_file, save_file
from transformers import CLIPTextModel

TOLERANCE = 1e-4


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=".build/bench-sd15")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--skip-build", action="store_true", help="use the release binaries already built")
    args = parser.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    os.chdir(root)
    for product in () if args.skip_build else ("dbtrain", "dbbench"):
        subprocess.run(["swift", "build", "-c", "release", "--product", product], check=True)
    if not os.path.isdir(os.path.join(args.model, "unet")):
        subprocess.run([".build/release/dbtrain", "init", "--preset", "sd15", "--out", args.model, "--seed", "0"], check=True)
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    inputs = {
        "ids": torch.tensor([[49406, 320, 1125, 539, 48136, 1929] + [49407] * 71, [49406] + [49407] * 76]),
        "sample": torch.randn(2, 4, 64, 64, generator=g),
        "timesteps": torch.tensor([999.0, 10.0]),
        "latents": torch.randn(1, 4, 32, 32, generator=g),
        "image": torch.rand(1, 3, 256, 256, generator=g) * 2 - 1,
    }
    with tempfile.TemporaryDirectory() as tmp:
        save_file({k: v.float().contiguous() for k, v in inputs.items()}, os.path.join(tmp, "in.safetensors"))
        subprocess.run([".build/release/dbbench", "run-components", "--model", args.model, "--inputs",
                        os.path.join(tmp, "in.safetensors"), "--out", os.path.join(tmp, "out.safetensors")],
                       check=True, env=dict(os.environ, DBRENDER_THREADS=str(args.threads)))
        ours = load_file(os.path.join(tmp, "out.safetensors"))
    with torch.inference_mode():
        text = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder").eval()
        unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet").eval()
        vae = AutoencoderKL.from_pretrained(args.model, subfolder="vae").eval()
        context = text(inputs["ids"]).last_hidden_state
        dist = vae.encode(inputs["image"]).latent_dist
        reference = {
            "text": context,
            "unet": unet(inputs["sample"], inputs["timesteps"], encoder_hidden_states=context).sample,
            "decoded": vae.decode(inputs["latents"]).sample,
            "mean": dist.mean,
            "logvar": dist.logvar,
        }
    worst = 0.0
    for name, ref in reference.items():
        err = ((ours[name] - ref).abs().max() / ref.abs().max()).item()
        worst = max(worst, err)
        print(f"{name:8} shape {list(ref.shape)}  max|Δ| / max|ref| = {err:.2e}")
    print(f"{'PASS' if worst <= TOLERANCE else 'FAIL'} (tolerance {TOLERANCE:.0e})")
    sys.exit(0 if worst <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
