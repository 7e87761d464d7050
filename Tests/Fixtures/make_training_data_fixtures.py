#!/usr/bin/env python3
"""Fixtures for the DreamBooth data pipeline (Sources/Training/Data, Sources/ImageIO/EXIFOrientation.swift).

What diffusers' examples/dreambooth/train_dreambooth.py does to each training image, step by step:

    image = exif_transpose(Image.open(path)); image = image.convert("RGB") if image.mode != "RGB"
    transforms.Resize(size, interpolation=BILINEAR)   # PIL Image.resize(..., BILINEAR), antialiased
    transforms.CenterCrop(size) | RandomCrop(size)
    transforms.ToTensor(); transforms.Normalize([0.5], [0.5])

Writes into Tests/Fixtures/training_data/:
  resize_<name>_in.png / resize_<name>_out.png   source image and torchvision Resize(size, BILINEAR) of it
  transform.safetensors                          ToTensor+Normalize of all 256 byte values, and the full
                                                 Resize → CenterCrop → ToTensor → Normalize of two images
  orientation_<n>.jpg / orientation_<n>.png      a JPEG with EXIF Orientation n (1…8) and PIL's
                                                 exif_transpose of that same decoded JPEG
  mode_<mode>.png / mode_<mode>_rgb.png          grey, grey+alpha, palette, RGBA PNGs and convert("RGB")

Run:  HF_HUB_OFFLINE=1 /work/venv/bin/python Tests/Fixtures/make_training_data_fixtures.py
Needs torch, pillow and torchvision. Only a CUDA torchvision wheel may be at hand for a CPU torch; its
compiled ops then fail to load, but the transforms used here are pure Python over PIL. Point
TORCHVISION_UNPACKED at an unpacked wheel and the script imports it with the op registrations stubbed.
"""
import io
import json
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageOps
from safetensors.torch import save_file

if os.environ.get("TORCHVISION_UNPACKED"):
    torch.library.register_fake = lambda *a, **k: (lambda f: f)
    sys.path.insert(0, os.environ["TORCHVISION_UNPACKED"])
from torchvision import transforms  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "training_data")
os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(1234)


def test_image(width, height):
    """Smooth gradients plus noise and a few hard edges: resampling errors show up in all three."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 255 * x / max(width - 1, 1)
    g = 255 * (0.5 + 0.5 * np.sin(x * 0.7 + y * 0.3))
    b = np.where((x // 4 + y // 3) % 2 == 0, 230.0, 20.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8), "RGB")


# (name, width, height, size): down- and upscales, both orientations, odd sizes, big factors, identity.
RESIZE_CASES = [
    ("down_landscape", 37, 23, 16),
    ("down_portrait", 23, 37, 16),
    ("up_landscape", 20, 13, 32),
    ("up_portrait", 9, 14, 21),
    ("down_factor3", 67, 43, 14),
    ("square_odd", 50, 50, 17),
    ("tall_strip", 21, 150, 9),
    ("identity", 24, 30, 24),
    ("mixed_odd", 45, 38, 41),
]

meta = {"resize": [], "pipeline": [], "orientation": [], "modes": []}
tensors = {}

for name, w, h, size in RESIZE_CASES:
    src = test_image(w, h)
    out = transforms.Resize(size, interpolation=transforms.InterpolationMode.BILINEAR)(src)
    src.save(os.path.join(OUT, f"resize_{name}_in.png"), optimize=True)
    out.save(os.path.join(OUT, f"resize_{name}_out.png"), optimize=True)
    meta["resize"].append({"name": name, "size": size, "in": [w, h], "out": list(out.size)})

# ToTensor + Normalize of every byte value (a 1×256 greyscale-as-RGB row).
row = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8)[None, :, None], (1, 1, 3)), "RGB")
to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])
tensors["to_tensor.bytes"] = to_tensor(row)[0, 0].contiguous()

# The whole instance-image transform with center_crop=True, as DreamBoothDataset composes it.
for name, w, h, size in [("pipeline_landscape", 41, 29, 16), ("pipeline_portrait", 27, 52, 20)]:
    src = test_image(w, h)
    pipeline = transforms.Compose([
        transforms.Resize(size, interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize([0.5], [0.5]),
    ])
    src.save(os.path.join(OUT, f"{name}_in.png"), optimize=True)
    tensors[f"{name}.pixel_values"] = pipeline(src).contiguous()
    meta["pipeline"].append({"name": name, "size": size})

# EXIF orientation: an asymmetric picture (each corner a different colour) stored with every tag.
# Quality 100 and 4:4:4 keep libjpeg's chroma upsampling out of the comparison.
base = test_image(12, 7)
for orientation in range(1, 9):
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    base.save(buffer, "JPEG", quality=100, subsampling=0, exif=exif.tobytes())
    data = buffer.getvalue()
    with open(os.path.join(OUT, f"orientation_{orientation}.jpg"), "wb") as f:
        f.write(data)
    decoded = Image.open(io.BytesIO(data))
    upright = ImageOps.exif_transpose(decoded).convert("RGB")
    upright.save(os.path.join(OUT, f"orientation_{orientation}.png"))
    meta["orientation"].append({"orientation": orientation, "size": list(upright.size)})

# Non-RGB modes → convert("RGB"). RGBA and LA are partly transparent: PIL drops alpha, ImageIO composites
# over white (a documented difference, tested as such).
grey = Image.fromarray(rng.randint(0, 256, (6, 9), dtype=np.uint8), "L")
alpha = Image.fromarray(np.tile(np.array([0, 64, 128, 255, 255, 200, 30, 255, 0], np.uint8), (6, 1)), "L")
colour = test_image(9, 6)
modes = {
    "L": grey,
    "LA": Image.merge("LA", [grey, alpha]),
    "P": colour.quantize(colors=16),
    "RGBA": Image.merge("RGBA", [*colour.split(), alpha]),
}
for mode, image in modes.items():
    image.save(os.path.join(OUT, f"mode_{mode}.png"))
    Image.open(os.path.join(OUT, f"mode_{mode}.png")).convert("RGB").save(os.path.join(OUT, f"mode_{mode}_rgb.png"))
    alpha_row = [int(a) for a in np.asarray(alpha)[0]] if mode in ("LA", "RGBA") else None
    meta["modes"].append({"mode": mode, "alpha_row": alpha_row})

save_file(tensors, os.path.join(OUT, "transform.safetensors"), metadata={"cases": json.dumps(meta)})
print("wrote", OUT)
