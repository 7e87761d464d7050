#!/usr/bin/env python3
"""Golden values for the matrix-product family: matmul, linear, conv2d, softmax, attention, transpose, nearest resize.

Writes Tests/Fixtures/linalg.safetensors: for each case its inputs, the PyTorch output, a random
output gradient `gy`, and the input gradients PyTorch's autograd computes for it.

    /work/venv/bin/python Tests/Fixtures/make_linalg_fixtures.py   (or any venv with torch + safetensors)
"""
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(1234)
out = {}


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float64) * scale).float().requires_grad_(True)


def record(prefix, inputs, y):
    """Stores inputs, output, gy and ∂(Σ y·gy)/∂input for every named input."""
    gy = torch.randn_like(y)
    grads = torch.autograd.grad(y, list(inputs.values()), gy)
    for (name, t), g in zip(inputs.items(), grads):
        out[f"{prefix}.{name}"] = t.detach().contiguous()
        out[f"{prefix}.grad_{name}"] = g.contiguous()
    out[f"{prefix}.y"] = y.detach().contiguous()
    out[f"{prefix}.gy"] = gy.contiguous()


# matmul: batched, shared right operand, transposed right operand
a, b = leaf(2, 3, 5, 4), leaf(2, 3, 4, 6)
record("matmul.batched", {"a": a, "b": b}, a @ b)
a, b = leaf(3, 5, 4), leaf(4, 6)
record("matmul.shared", {"a": a, "b": b}, a @ b)
a, b = leaf(2, 5, 4), leaf(2, 6, 4)
record("matmul.transposed", {"a": a, "b": b}, a @ b.transpose(-1, -2))

# linear: x [.., in], W [out, in]
x, w, bias = leaf(2, 7, 12), leaf(9, 12, scale=0.3), leaf(9)
record("linear", {"x": x, "w": w, "b": bias}, F.linear(x, w, bias))

# conv2d cases: (name, N, Ci, H, W, Co, k, stride, padding)
conv_cases = [
    ("k3s1p1", 2, 3, 9, 7, 4, 3, 1, 1),
    ("k3s2p1", 2, 3, 9, 8, 5, 3, 2, 1),
    ("k3s1p0", 1, 4, 6, 6, 3, 3, 1, 0),
    ("k1s1p0", 2, 5, 4, 3, 6, 1, 1, 0),
    ("k3s2p0", 1, 2, 7, 7, 3, 3, 2, 0),
]
for name, n, ci, h, w_, co, k, s, p in conv_cases:
    x, w, bias = leaf(n, ci, h, w_), leaf(co, ci, k, k, scale=0.3), leaf(co)
    record(f"conv.{name}", {"x": x, "w": w, "b": bias}, F.conv2d(x, w, bias, stride=s, padding=p))
    out[f"conv.{name}.config"] = torch.tensor([s, p], dtype=torch.int64)

# softmax over the last dim, including a row long enough for the SIMD path and a ragged tail
x = leaf(3, 5, 19, scale=3.0)
record("softmax", {"x": x}, torch.softmax(x, dim=-1))


def attention(q, k, v, heads, causal):
    """q [B, Tq, H·D] etc. → [B, Tq, H·D], through PyTorch's SDPA."""
    B, Tq, C = q.shape
    Tk = k.shape[1]
    D = C // heads
    split = lambda t, T: t.reshape(B, T, heads, D).transpose(1, 2)
    o = F.scaled_dot_product_attention(split(q, Tq), split(k, Tk), split(v, Tk), is_causal=causal)
    return o.transpose(1, 2).reshape(B, Tq, C)


# (name, B, Tq, Tk, heads, D, causal): cross attention (Tq ≠ Tk, more than one query block),
# causal self-attention as in CLIP, and head dims that are not multiples of 8.
attention_cases = [
    ("cross", 2, 37, 45, 2, 8, False),
    ("self_causal", 2, 13, 13, 3, 4, True),
    ("self_long", 1, 70, 70, 2, 5, False),
]
for name, B, tq, tk, heads, d, causal in attention_cases:
    q, k, v = leaf(B, tq, heads * d), leaf(B, tk, heads * d), leaf(B, tk, heads * d)
    record(f"attention.{name}", {"q": q, "k": k, "v": v}, attention(q, k, v, heads, causal))
    out[f"attention.{name}.config"] = torch.tensor([heads, int(causal)], dtype=torch.int64)

# transpose of the last two axes (image [B, C, H·W] ⇄ tokens [B, H·W, C])
x = leaf(2, 37, 45)
record("transpose", {"x": x}, x.transpose(1, 2).contiguous())

# nearest resize to an arbitrary size (the UNet's up path for latent sides not divisible by 8)
x = leaf(2, 3, 9, 17)
record("resize", {"x": x}, F.interpolate(x, size=(17, 33), mode="nearest"))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linalg.safetensors")
save_file(out, path)
print(f"wrote {len(out)} tensors to {path} ({os.path.getsize(path)} bytes)")
