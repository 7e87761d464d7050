# Golden fixtures for the point-wise ops of Sources/Tensor (GroupNorm, LayerNorm, activations, GEGLU,
# nearest 2x upsampling, element-wise add/mul/scale, concat, split/chunk), from PyTorch.
#
# Run from the repository root (needs torch and safetensors; the project venv has both):
#     /work/venv/bin/python Tests/Fixtures/make_pointwise_fixtures.py
# It writes Tests/Fixtures/pointwise.safetensors. For every op "<op>" it stores the inputs, the
# output "<op>.y", a random output gradient "<op>.gy", and the input/weight gradients that autograd
# gives for the loss sum(y * gy): "<op>.gx", "<op>.gweight", ... Shapes are small and deliberately
# not multiples of 8, so that the vector loops' tails are exercised.
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(20240611)
tensors = {}


def leaf(shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape) * scale + shift).requires_grad_(True)


def record(op, inputs, outputs):
    """Stores inputs, outputs, a random gradient per output, and the inputs' autograd gradients."""
    if isinstance(outputs, torch.Tensor):
        outputs = {"y": outputs}
    loss = 0
    for name, y in outputs.items():
        gy = torch.randn_like(y)
        tensors[f"{op}.{name}"] = y.detach().clone()
        tensors[f"{op}.g{name}"] = gy
        loss = loss + (y * gy).sum()
    loss.backward()
    for name, x in inputs.items():
        tensors[f"{op}.{name}"] = x.detach().clone()
        if x.grad is not None:
            tensors[f"{op}.g{name}"] = x.grad.detach().clone()


# GroupNorm on [N, C, H, W] with affine, as diffusers' ResnetBlock2D norms.
x, w, b = leaf([2, 8, 5, 6], 2.0, 0.5), leaf([8], 0.5, 1.0), leaf([8], 0.5)
record("groupnorm", {"x": x, "weight": w, "bias": b}, F.group_norm(x, 4, w, b, eps=1e-5))

# GroupNorm followed by SiLU (the fused variant), eps as the VAE's 1e-6.
x, w, b = leaf([2, 8, 5, 6], 2.0, -0.5), leaf([8], 0.5, 1.0), leaf([8], 0.5)
record("groupnorm_silu", {"x": x, "weight": w, "bias": b}, F.silu(F.group_norm(x, 4, w, b, eps=1e-6)))

# GroupNorm on [N, C, L] without affine.
x = leaf([2, 6, 7], 1.5, 3.0)
record("groupnorm_3d", {"x": x}, F.group_norm(x, 3, None, None, eps=1e-5))

# LayerNorm over the last dimension.
x, w, b = leaf([3, 5, 20], 2.0, 1.0), leaf([20], 0.5, 1.0), leaf([20], 0.5)
record("layernorm", {"x": x, "weight": w, "bias": b}, F.layer_norm(x, [20], w, b, eps=1e-5))

# Activations, on values wide enough to reach the saturated tails.
for op, f in [
    ("silu", F.silu),
    ("gelu", lambda t: F.gelu(t, approximate="none")),
    ("gelu_tanh", lambda t: F.gelu(t, approximate="tanh")),
    ("quick_gelu", lambda t: t * torch.sigmoid(1.702 * t)),  # transformers' QuickGELUActivation
]:
    x = leaf([4, 37], 3.0)
    record(op, {"x": x}, f(x))

# GEGLU as diffusers' GEGLU.forward after its projection: value, gate = chunk(2, -1); value * gelu(gate).
x = leaf([3, 2, 26], 2.0)
value, gate = x.chunk(2, dim=-1)
record("geglu", {"x": x}, value * F.gelu(gate))

# Nearest-neighbour 2x upsampling (diffusers' Upsample2D).
x = leaf([2, 3, 4, 5])
record("upsample", {"x": x}, F.interpolate(x, scale_factor=2.0, mode="nearest"))

# Element-wise arithmetic and its broadcasts.
a, b = leaf([2, 3, 4, 5]), leaf([2, 3, 4, 5])
record("add", {"a": a, "b": b}, a + b)
a, b = leaf([2, 3, 4, 5]), leaf([2, 3])
record("add_channel", {"a": a, "b": b}, a + b[:, :, None, None])  # ResnetBlock2D's time embedding
a, b = leaf([4, 6, 10]), leaf([10])
record("add_bias", {"a": a, "b": b}, a + b)
a, b = leaf([3, 17]), leaf([3, 17])
record("mul", {"a": a, "b": b}, a * b)
x = leaf([3, 17])
record("scale", {"x": x}, x * 0.37)

# Concatenation (UNet skip connections along channels) and a second axis.
a, b = leaf([2, 3, 4, 5]), leaf([2, 2, 4, 5])
record("concat", {"a": a, "b": b}, torch.cat([a, b], dim=1))
a, b = leaf([2, 3, 4]), leaf([2, 3, 5])
record("concat_last", {"a": a, "b": b}, torch.cat([a, b], dim=-1))

# chunk (equal parts) and split (given sizes).
x = leaf([2, 6, 3])
record("chunk", {"x": x}, {f"y{i}": t for i, t in enumerate(x.chunk(3, dim=1))})
x = leaf([2, 3, 4])
record("split", {"x": x}, {f"y{i}": t for i, t in enumerate(x.split([1, 3], dim=2))})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pointwise.safetensors")
save_file({k: v.contiguous() for k, v in tensors.items()}, out, metadata={"generator": "make_pointwise_fixtures.py"})
print(f"wrote {len(tensors)} tensors to {out} ({os.path.getsize(out)} bytes)")
