#!/usr/bin/env python3
"""Writes Tests/Fixtures/safetensors_interop.safetensors with PyTorch + safetensors, for the
interoperability test of the Swift reader (Tests/WeightsTests/SafetensorsInteropTests.swift).

Each stored tensor `<name>` has a companion `<name>.expected`: the same values as PyTorch reads them,
converted with `.float()`, stored as F32. The Swift test reads both and requires them to be equal —
so the file carries its own answer, and the test needs no Python.

Run from the repository root:  /work/venv/bin/python Tests/Fixtures/make_safetensors_fixtures.py
"""
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parent / "safetensors_interop.safetensors"


def main() -> None:
    g = torch.Generator().manual_seed(0)
    # Edge values every reader must get right: signed zero, the largest half, subnormals, infinities.
    special = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.0e-8, -1.0e-5, float("inf"), float("-inf")])
    tensors = {
        "f32": torch.randn(3, 5, generator=g),
        "f16": torch.cat([torch.randn(2, 7, generator=g).flatten(), special]).to(torch.float16),
        "bf16": torch.cat([torch.randn(11, generator=g) * 100, special]).to(torch.bfloat16),
        "f64": torch.randn(4, generator=g, dtype=torch.float64),
        # Token ids, as the tokenizer tests store them.
        "i64": torch.tensor([[49406, 320, 1125, 539, 48136, 1929, 49407], [0, -1, 7, 2**24, -(2**24), 3, 49407]]),
        "i32": torch.tensor([-3, 0, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-32768, -1, 0, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        # Every bit pattern of both FP8 formats (NaNs included).
        "f8e4m3": torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn),
        "f8e5m2": torch.arange(256, dtype=torch.uint8).view(torch.float8_e5m2),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(1.5),
        "empty": torch.zeros(0, 3),
    }
    for name in list(tensors):
        tensors[name + ".expected"] = tensors[name].float().clone()  # clone: no shared storage
    save_file(tensors, str(OUT), metadata={"format": "pt", "producer": "make_safetensors_fixtures.py"})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
