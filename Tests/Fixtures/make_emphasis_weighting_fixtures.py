#!/usr/bin/env python3
"""AUTOMATIC1111's "Original" emphasis (modules/sd_emphasis.py: EmphasisOriginal.after_transformers) on
seeded text-encoder outputs, for EmphasisWeightingTests. The reference is A1111's own class, imported
from a checkout of AUTOMATIC1111/stable-diffusion-webui (the module needs only torch):

    A1111_WEBUI=/path/to/stable-diffusion-webui .venv/bin/python Tests/Fixtures/make_emphasis_weighting_fixtures.py

Writes Tests/Fixtures/emphasis_weighting.safetensors: for each case, `<case>.z` [1, 77, C] float32,
`<case>.multipliers` [77] float64 (the weights as A1111's parser gives them) and `<case>.weighted`,
what A1111 makes of z (multipliers cast to float32 by torch.asarray, as process_tokens does).
"""
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.environ["A1111_WEBUI"])
from modules.sd_emphasis import EmphasisOriginal  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def multipliers(weights):
    """A chunk's 77 multipliers: start token, the weights, padding and end token at 1."""
    return [1.0] + weights + [1.0] * (75 - len(weights)) + [1.0]


CASES = {
    # "a photo of (sks dog:1.3) in a [bucket]": 8 tokens.
    "weighted": (multipliers([1.0, 1.0, 1.0, 1.3, 1.3, 1.0, 1.0, 1 / 1.1]), 32),
    # Nested emphasis and the negative weight of a BREAK inside brackets (A1111 keeps it as text).
    "nested": (multipliers([1.1 * 1.1 * 1.3, 1.1, 1.0, 0.55, -1.1, 1.4641000000000006]), 32),
    # Every token weighed alike: the mean is restored, so nothing changes but the last bits.
    "uniform": ([1.3] * 77, 16),
}


def main():
    generator = torch.Generator().manual_seed(0)
    out = {}
    for name, (weights, channels) in CASES.items():
        z = torch.randn(1, 77, channels, generator=generator) + 0.25
        emphasis = EmphasisOriginal()
        emphasis.tokens = [[0] * 77]
        emphasis.multipliers = torch.asarray([weights])
        emphasis.z = z.clone()
        emphasis.after_transformers()
        out[f"{name}.z"] = z
        out[f"{name}.multipliers"] = torch.tensor(weights, dtype=torch.float64)
        out[f"{name}.weighted"] = emphasis.z.contiguous()
    save_file(out, os.path.join(HERE, "emphasis_weighting.safetensors"))
    print("wrote emphasis_weighting.safetensors:", ", ".join(CASES))


if __name__ == "__main__":
    main()
