#!/usr/bin/env python3
"""Writes small PyTorch checkpoints under Tests/Fixtures/checkpoints/ for the Swift reader of
`.ckpt` / `.bin` files (Tests/WeightsTests/PyTorchCheckpointTests.swift).

- lightning.ckpt: what a PyTorch Lightning trainer saves — {"state_dict": …, "global_step", "epoch",
  "callbacks" (keyed by a callback *class*), "optimizer_states" (with tensors), "hyper_parameters"
  (an argparse.Namespace), "hparams" (a dict subclass), "best_score" (a numpy scalar), …}. The state
  dict holds f32/f16/bf16/f64/int64/bool tensors, a transposed (non-contiguous) view, two views of
  one storage, a Parameter, a 0-d and an empty tensor, a nested dict and a non-tensor entry.
  lightning_expected.safetensors holds each state-dict tensor as PyTorch's `.float().contiguous()`,
  under its flattened name.
- plain.bin: `torch.save(state_dict)` at top level (how diffusers/transformers `.bin` files look),
  fp16. model_wrapped.pt: {"model": state_dict, "step": 7}. Both hold the tensors of plain_expected.
- zip64.ckpt: lightning.ckpt repacked with every ZIP64 field in use (sizes and offsets in ZIP64 extra
  fields, ZIP64 end records, saturated 32-bit fields), as torch writes for files over 4 GB; checked
  here to load in torch and in Python's zipfile.
- deflated.ckpt: lightning.ckpt repacked with compressed entries (torch never writes those).
- legacy.ckpt: torch.save(..., _use_new_zipfile_serialization=False), the pre-1.6 format.

Run from the repository root:  /work/venv/bin/python Tests/Fixtures/make_checkpoint_fixtures.py
"""
import argparse
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parent / "checkpoints"


def lightning_module(name: str) -> types.ModuleType:
    """A stand-in module under Lightning's real module name, so that pickles name the same globals
    as real Lightning checkpoints without Lightning being installed."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):  # importing a dotted name imports its parents first
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    return sys.modules[name]


callbacks_module = lightning_module("pytorch_lightning.callbacks.model_checkpoint")
parsing_module = lightning_module("pytorch_lightning.utilities.parsing")


class ModelCheckpoint:  # Lightning keys callback states by the callback's class
    pass


class AttributeDict(dict):  # Lightning's hparams container, a dict subclass
    pass


ModelCheckpoint.__module__ = callbacks_module.__name__
ModelCheckpoint.__qualname__ = "ModelCheckpoint"
callbacks_module.ModelCheckpoint = ModelCheckpoint
AttributeDict.__module__ = parsing_module.__name__
AttributeDict.__qualname__ = "AttributeDict"
parsing_module.AttributeDict = AttributeDict


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        elif isinstance(v, torch.Tensor):
            out[f"{prefix}{k}"] = v.detach().float().contiguous().clone()
    return out


def lightning_state_dict() -> OrderedDict:
    g = torch.Generator().manual_seed(1)
    shared = torch.randn(10, generator=g)
    sd = OrderedDict()
    sd["model.diffusion_model.conv.weight"] = torch.randn(4, 3, 3, 3, generator=g)
    sd["half"] = (torch.randn(2, 5, generator=g) * 10).half()
    sd["bfloat"] = (torch.randn(3, 2, generator=g) * 100).bfloat16()
    sd["double"] = torch.randn(3, generator=g, dtype=torch.float64)
    sd["token_ids"] = torch.tensor([[49406, 320, 1125, 49407], [0, -1, 2**24 + 1, 7]])
    sd["mask"] = torch.tensor([True, False, True])
    sd["transposed"] = torch.randn(4, 3, generator=g).t()  # shape [3, 4], strides (1, 3)
    sd["shared_a"] = shared[:6].view(2, 3)  # two views of one storage
    sd["shared_b"] = shared[4:]  # storage offset 4
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["nested"] = {"inner": {"bias": torch.randn(3, generator=g)}}
    sd["model_ema.decay"] = torch.tensor(0.9999)
    sd["num_updates"] = 17  # a non-tensor entry inside the state dict
    for name in ["half", "bfloat", "double"]:
        assert sd[name].is_contiguous()
    assert not sd["transposed"].is_contiguous()
    return sd


def write_lightning(path: Path) -> OrderedDict:
    sd = lightning_state_dict()
    checkpoint = {
        "epoch": 3,
        "global_step": 1234,
        "pytorch-lightning_version": "1.4.2",
        "state_dict": sd,
        "callbacks": {ModelCheckpoint: {"monitor": None, "best_model_score": torch.tensor(0.25),
                                        "best_model_path": "/tmp/last.ckpt"}},
        "optimizer_states": [{"state": {0: {"step": 10, "exp_avg": torch.ones(3)}},
                              "param_groups": [{"lr": 1e-6, "params": [0], "betas": (0.9, 0.999)}]}],
        "lr_schedulers": [],
        "hyper_parameters": argparse.Namespace(learning_rate=1e-6, token="sks", sizes={512, 768}),
        "hparams": AttributeDict(base_learning_rate=1.0e-06, target="ldm.models.diffusion.ddpm.LatentDiffusion"),
        "best_score": np.float64(0.125),
        "dtype": torch.float16,
        "seed_bytes": b"\x00\x01",
    }
    torch.save(checkpoint, path)
    return sd


def plain_state_dict() -> OrderedDict:
    g = torch.Generator().manual_seed(2)
    return OrderedDict([("first_stage_model.decoder.conv_in.weight", torch.randn(4, 2, 3, 3, generator=g).half()),
                        ("first_stage_model.decoder.conv_in.bias", torch.randn(4, generator=g).half())])


# ZIP64 repacking: every entry written with its sizes and offset in ZIP64 extra fields, as
# APPNOTE 4.5.3 describes, and data padded to 64 bytes as torch pads it.

def repack_zip64(source: Path, target: Path) -> None:
    with zipfile.ZipFile(source) as z:
        items = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    out = bytearray()
    central = bytearray()
    sat32, sat16 = 0xFFFFFFFF, 0xFFFF
    for name, data in items:
        encoded = name.encode()
        crc = zipfile.crc32(data)
        offset = len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        unpadded = offset + 30 + len(encoded) + len(local_extra) + 4
        pad = (-unpadded) % 64
        local_extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB" padding field, as torch's
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0x0800, 0, 0, 0x21, crc, sat32, sat32,
                           len(encoded), len(local_extra)) + encoded + local_extra
        assert len(out) % 64 == 0
        out += data
        central_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0x0800, 0, 0, 0x21, crc, sat32, sat32,
                               len(encoded), len(central_extra), 0, 0, 0, 0, sat32) + encoded + central_extra
    directory_offset = len(out)
    out += central
    end64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(items), len(items), len(central), directory_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, sat16, sat16, sat32, sat32, 0)
    target.write_bytes(out)
    with zipfile.ZipFile(target) as z:  # Python's reader agrees it is a valid ZIP64 archive
        assert [(i.filename, z.read(i)) for i in z.infolist()] == items


def repack_deflated(source: Path, target: Path) -> None:
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            out.writestr(info.filename, z.read(info.filename))


def assert_loads_equal(path: Path, expected: dict) -> None:
    loaded = torch.load(path, weights_only=False)
    got = flatten(loaded.get("state_dict", loaded.get("model", loaded)))
    assert got.keys() == expected.keys(), (path, got.keys() ^ expected.keys())
    for k in expected:
        assert torch.equal(got[k], expected[k]), (path, k)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    sd = write_lightning(OUT / "lightning.ckpt")
    expected = flatten(sd)
    save_file(expected, OUT / "lightning_expected.safetensors")
    repack_zip64(OUT / "lightning.ckpt", OUT / "zip64.ckpt")
    assert_loads_equal(OUT / "zip64.ckpt", expected)
    repack_deflated(OUT / "lightning.ckpt", OUT / "deflated.ckpt")

    plain = plain_state_dict()
    torch.save(plain, OUT / "plain.bin")
    torch.save({"model": plain, "step": 7}, OUT / "model_wrapped.pt")
    save_file(flatten(plain), OUT / "plain_expected.safetensors")
    for name in ["plain.bin", "model_wrapped.pt"]:
        assert_loads_equal(OUT / name, flatten(plain))

    torch.save(plain, OUT / "legacy.ckpt", _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
