#!/usr/bin/env python3
"""Full-size single-file check (not in CI; issue 9): the SD 1.5 architecture with random weights,
written as ONE original-layout .safetensors (the format most users have), rendered end to end by
dbrenderd over its socket and by diffusers' `StableDiffusionPipeline.from_single_file` — same file,
same seed, several samplers — and compared as images (PSNR). The same weights served as a diffusers
folder must give the single file's image byte for byte.

`from_single_file` reads its scheduler configuration from the diffusers config it is given; offline
that is the bench folder, whose scheduler_config.json is SD 1.5's hub file verbatim (what
`from_single_file` downloads for SD 1.x). Bound: PSNR >= 35 dB (apple/ml-stable-diffusion's); the
folder path measured 83 dB, a wrong noise schedule 26 dB.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/full_size_single_file_check.py [--model .build/bench-sd15]
"""
import argparse
import base64
import http.client
import io
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "Tests", "Fixtures"))
from make_model_fixtures import ldm_state_dict  # noqa: E402 (diffusers' conversion rules, independent of our key table)

BOUND_DB = 35.0
SAMPLERS = {"euler": "EulerDiscreteScheduler", "pndm": "PNDMScheduler", "dpmpp_2m": "DPMSolverMultistepScheduler"}
PROMPT, NEGATIVE, SEED, STEPS, SIZE, GUIDANCE = "a photo of sks dog", "blurry", 42, 3, 256, 7.5


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def write_single_file(folder, path):
    """The folder's three networks under their original LDM names (diffusers' own conversion rules)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    unet_config = UNet2DConditionModel.load_config(os.path.join(folder, "unet"))
    vae_config = AutoencoderKL.load_config(os.path.join(folder, "vae"))

    class Config(dict):
        __getattr__ = dict.__getitem__

    ldm = ldm_state_dict(Config(unet_config), load_file(os.path.join(folder, "unet", "diffusion_pytorch_model.safetensors")),
                         Config(vae_config), load_file(os.path.join(folder, "vae", "diffusion_pytorch_model.safetensors")),
                         load_file(os.path.join(folder, "text_encoder", "model.safetensors")))
    save_file({k: v.contiguous() for k, v in ldm.items()}, path)


def render_with_daemon(model, threads):
    """{sampler: uint8 image} from a dbrenderd serving `model`."""
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "d.sock")
        daemon = subprocess.Popen([os.path.join(ROOT, ".build/release/dbrenderd"), "--model", model, "--socket", sock,
                                   "--threads", str(threads)], stderr=subprocess.PIPE, text=True)
        try:
            for line in daemon.stderr:
                if "ready" in line:
                    break
            images = {}
            for sampler in SAMPLERS:
                conn = UnixHTTPConnection(sock, timeout=3600)
                body = {"prompt": PROMPT, "negative_prompt": NEGATIVE, "seed": SEED, "steps": STEPS, "sampler": sampler,
                        "width": SIZE, "height": SIZE, "guidance_scale": GUIDANCE}
                start = time.time()
                conn.request("POST", "/v1/renders", json.dumps(body), {"Content-Type": "application/json"})
                answer = json.loads(conn.getresponse().read())
                png = base64.b64decode(answer["images"][0]["data"])
                images[sampler] = (np.array(Image.open(io.BytesIO(png)).convert("RGB")), png)
                print(f"  dbrenderd {os.path.basename(model)} {sampler}: {time.time() - start:.1f} s")
            conn = UnixHTTPConnection(sock, timeout=60)
            conn.request("GET", "/v1/model")
            print("  GET /v1/model:", conn.getresponse().read().decode())
            return images
        finally:
            daemon.terminate()
            daemon.wait()


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=".build/bench-sd15")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--skip-build", action="store_true", help="use the release binaries already built")
    args = parser.parse_args()
    os.chdir(ROOT)
    if not args.skip_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "dbtrain"], check=True)
        subprocess.run(["swift", "build", "-c", "release", "--product", "dbrenderd"], check=True)
    if not os.path.isdir(os.path.join(args.model, "unet")):
        subprocess.run([".build/release/dbtrain", "init", "--preset", "sd15", "--out", args.model, "--seed", "0"], check=True)
    single = args.model.rstrip("/") + ".safetensors"
    if not os.path.exists(single):
        print(f"writing {single}")
        write_single_file(args.model, single)
    torch.set_num_threads(args.threads)

    print("dbrenderd on the single file, then on the folder")
    ours = render_with_daemon(single, args.threads)
    folder = render_with_daemon(args.model, args.threads)

    from diffusers import DPMSolverMultistepScheduler, EulerDiscreteScheduler, PNDMScheduler, StableDiffusionPipeline
    classes = {"EulerDiscreteScheduler": EulerDiscreteScheduler, "PNDMScheduler": PNDMScheduler,
               "DPMSolverMultistepScheduler": DPMSolverMultistepScheduler}
    pipe = StableDiffusionPipeline.from_single_file(single, config=args.model, safety_checker=None,
                                                    requires_safety_checker=False, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    base_config = pipe.scheduler.config
    print("from_single_file scheduler:", {k: base_config[k] for k in ("beta_schedule", "beta_start", "beta_end", "steps_offset")})
    worst = math.inf
    for sampler, cls in SAMPLERS.items():
        pipe.scheduler = classes[cls].from_config(base_config)
        start = time.time()
        with torch.inference_mode():
            image = pipe(PROMPT, negative_prompt=NEGATIVE, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=SIZE,
                         width=SIZE, generator=torch.Generator().manual_seed(SEED), output_type="np").images[0]
        reference = (image * 255).round().astype(np.uint8)
        quality = psnr(ours[sampler][0], reference)
        same = ours[sampler][0].tobytes() == folder[sampler][0].tobytes()
        worst = min(worst, quality if same else -math.inf)
        print(f"{sampler:9} from_single_file {time.time() - start:.1f} s   PSNR ours vs diffusers {quality:.1f} dB   "
              f"single file == folder: {same}")
    ok = worst >= BOUND_DB
    print(f"{'PASS' if ok else 'FAIL'} (bound {BOUND_DB} dB, single file equal to the folder)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
