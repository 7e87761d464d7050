# Golden values for the trainer's optimisation pieces (Sources/Training), from PyTorch and diffusers.
#
# Run from the repository root (needs torch, diffusers, tensorboard and safetensors; the project venv has them):
#     HF_HUB_OFFLINE=1 /work/venv/bin/python Tests/Fixtures/make_training_fixtures.py
# It writes Tests/Fixtures/training.safetensors:
#   "adamw.<case>.initial"      [N] parameters before the first step
#   "adamw.<case>.gradients"    [S, N] the gradient given at each step
#   "adamw.<case>.lrs"          [S] the learning rate of each step
#   "adamw.<case>.params"       [S, N] parameters after each step (torch.optim.AdamW, foreach=False)
#   "adamw.<case>.exp_avg", "adamw.<case>.exp_avg_sq"   [N] optimizer state after the last step
#   "clip.<case>.g0", ".g1"     two gradient tensors; ".clipped0", ".clipped1" after
#                               torch.nn.utils.clip_grad_norm_(…, max_norm); ".total_norm" [1]
#   "lr.<case>"                 [T + 6] the multiplier of the base learning rate at optimizer steps
#                               0 … T + 5, from diffusers.optimization.get_scheduler
# with the cases and their hyper-parameters in the metadata entry "cases" (JSON).
# And Tests/Fixtures/training/scalars.tfevents: a TensorBoard event file written by
# torch.utils.tensorboard.SummaryWriter with the scalars listed in the metadata entry "scalars".
import glob
import json
import os
import shutil
import tempfile

import torch
from diffusers.optimization import get_scheduler
from safetensors.torch import save_file
from torch.utils.tensorboard import SummaryWriter

out = {}
cases = {"adamw": [], "clip": [], "lr": []}
g = torch.Generator().manual_seed(20261127)

# AdamW: train_dreambooth.py's defaults and a case with larger decay and betas, on values of mixed scale.
adamw_cases = [
    dict(name="dreambooth_defaults", betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, steps=6, n=61),
    dict(name="strong_decay", betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3, steps=5, n=40),
]
for case in adamw_cases:
    n, steps = case["n"], case["steps"]
    initial = torch.randn(n, generator=g) * torch.logspace(-3, 1, n)
    grads = torch.randn(steps, n, generator=g) * 0.1
    grads[2, :5] = 0  # zero gradients still decay the parameter and the moments
    lrs = torch.tensor([1e-3, 5e-4, 2e-3, 1e-3, 1e-4, 3e-3, 7e-4][:steps], dtype=torch.float32)
    p = torch.nn.Parameter(initial.clone())
    opt = torch.optim.AdamW([p], lr=1e-3, betas=case["betas"], eps=case["eps"],
                            weight_decay=case["weight_decay"], foreach=False)
    after = []
    for s in range(steps):
        for group in opt.param_groups:
            group["lr"] = float(lrs[s])
        p.grad = grads[s].clone()
        opt.step()
        after.append(p.detach().clone())
    key = f"adamw.{case['name']}"
    out[f"{key}.initial"] = initial
    out[f"{key}.gradients"] = grads
    out[f"{key}.lrs"] = lrs
    out[f"{key}.params"] = torch.stack(after)
    state = opt.state[p]
    out[f"{key}.exp_avg"] = state["exp_avg"].clone()
    out[f"{key}.exp_avg_sq"] = state["exp_avg_sq"].clone()
    cases["adamw"].append({k: v for k, v in case.items()})

# Gradient clipping by the global norm: one case above max_norm, one below (the coefficient clamps to 1).
for name, scale, max_norm in [("above", 1.0, 1.0), ("below", 0.01, 1.0), ("small_max", 0.5, 0.05)]:
    g0 = torch.randn(3, 7, generator=g) * scale
    g1 = torch.randn(11, generator=g) * scale
    a, b = torch.nn.Parameter(torch.zeros_like(g0)), torch.nn.Parameter(torch.zeros_like(g1))
    a.grad, b.grad = g0.clone(), g1.clone()
    total = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
    key = f"clip.{name}"
    out[f"{key}.g0"], out[f"{key}.g1"] = g0, g1
    out[f"{key}.clipped0"], out[f"{key}.clipped1"] = a.grad.clone(), b.grad.clone()
    out[f"{key}.total_norm"] = total.reshape(1).float()
    cases["clip"].append(dict(name=name, max_norm=max_norm))

# Learning-rate schedules as train_dreambooth.py builds them: get_scheduler(name, optimizer,
# num_warmup_steps, num_training_steps, num_cycles, power), stepped once per optimizer step.
lr_cases = [
    dict(name="constant", scheduler="constant", warmup=0, total=40, cycles=1, power=1.0),
    dict(name="constant_with_warmup", scheduler="constant_with_warmup", warmup=10, total=40, cycles=1, power=1.0),
    dict(name="linear", scheduler="linear", warmup=10, total=100, cycles=1, power=1.0),
    dict(name="linear_no_warmup", scheduler="linear", warmup=0, total=50, cycles=1, power=1.0),
    dict(name="cosine", scheduler="cosine", warmup=10, total=100, cycles=1, power=1.0),
    dict(name="cosine_with_restarts", scheduler="cosine_with_restarts", warmup=5, total=60, cycles=3, power=1.0),
    dict(name="polynomial", scheduler="polynomial", warmup=10, total=100, cycles=1, power=1.0),
    dict(name="polynomial_squared", scheduler="polynomial", warmup=0, total=30, cycles=1, power=2.0),
]
base_lr = 5e-6
for case in lr_cases:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=base_lr)
    sched = get_scheduler(case["scheduler"], optimizer=opt, num_warmup_steps=case["warmup"],
                          num_training_steps=case["total"], num_cycles=case["cycles"], power=case["power"])
    values = []
    for _ in range(case["total"] + 6):
        values.append(opt.param_groups[0]["lr"] / base_lr)
        opt.step()
        sched.step()
    out[f"lr.{case['name']}"] = torch.tensor(values, dtype=torch.float64).float()
    cases["lr"].append(case)

here = os.path.dirname(os.path.abspath(__file__))
scalars = [("loss", 0.25, 1, 1764230400.5), ("lr", 5e-06, 1, 1764230400.75), ("loss", 0.125, 2, 1764230401.0),
           ("prior_loss", 0.0625, 2, 1764230401.25)]
meta = {"cases": json.dumps(cases), "scalars": json.dumps(scalars)}
save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(here, "training.safetensors"), metadata=meta)

with tempfile.TemporaryDirectory() as logdir:
    writer = SummaryWriter(logdir)
    for tag, value, step, walltime in scalars:
        writer.add_scalar(tag, value, global_step=step, walltime=walltime)
    writer.close()
    (event_file,) = glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    os.makedirs(os.path.join(here, "training"), exist_ok=True)
    shutil.copyfile(event_file, os.path.join(here, "training", "scalars.tfevents"))
print("wrote training.safetensors and training/scalars.tfevents")
