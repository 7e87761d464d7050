#!/usr/bin/env python3
"""Gradients of a LoRA'd layer from PyTorch autograd, for the pullback of RowAdapters: a linear layer
(x [2, 5, 12] -> [2, 5, 10]) and a 1x1 convolution (x [2, 12, 3, 4] -> [2, 10, 3, 4]), each with a
frozen base (weight, bias) and a rank-3 LoRA y = base(x) + f * B(A(x)), f = weight * alpha / rank
(peft's LoRA layer). The loss is sum(y * g) for a fixed g. Writes Tests/Fixtures/lora_backward.safetensors:
"<case>.x", ".weight", ".bias", ".down", ".up", ".factor", ".g", ".y", ".dx", ".ddown", ".dup".

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_lora_backward_fixtures.py
"""
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    torch.manual_seed(21)
    out = {}
    factor = 0.8 * 6 / 3  # adapter weight 0.8, alpha 6, rank 3
    for case, x_shape, conv in (("linear", (2, 5, 12), False), ("conv1x1", (2, 12, 3, 4), True)):
        x = torch.randn(*x_shape, requires_grad=True)
        weight, bias = torch.randn(10, 12) * 0.3, torch.randn(10) * 0.1
        down = (torch.randn(3, 12) * 0.4).requires_grad_()
        up = (torch.randn(10, 3) * 0.4).requires_grad_()
        if conv:
            y = torch.nn.functional.conv2d(x, weight[:, :, None, None], bias)
            y = y + factor * torch.nn.functional.conv2d(torch.nn.functional.conv2d(x, down[:, :, None, None]), up[:, :, None, None])
        else:
            y = torch.nn.functional.linear(x, weight, bias) + factor * torch.nn.functional.linear(torch.nn.functional.linear(x, down), up)
        g = torch.randn_like(y)
        (y * g).sum().backward()
        out.update({f"{case}.x": x.detach(), f"{case}.weight": weight, f"{case}.bias": bias, f"{case}.down": down.detach(),
                    f"{case}.up": up.detach(), f"{case}.factor": torch.tensor([factor]), f"{case}.g": g, f"{case}.y": y.detach(),
                    f"{case}.dx": x.grad, f"{case}.ddown": down.grad, f"{case}.dup": up.grad})
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(HERE, "lora_backward.safetensors"))
    print("wrote lora_backward.safetensors")


if __name__ == "__main__":
    main()
