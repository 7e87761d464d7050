# Golden gradients of the models' trainable blocks, from PyTorch autograd on diffusers' own modules,
# for the pullbacks in Sources/Models (forwardWithPullback).
#
# Run from the repository root (needs torch, diffusers and safetensors; the project venv has them):
#     HF_HUB_OFFLINE=1 /work/venv/bin/python Tests/Fixtures/make_backward_fixtures.py
# It writes Tests/Fixtures/backward.safetensors. For each case "<case>" (listed with its settings in
# the metadata entry "cases"):
#   "<case>.param.<key>"   the module's parameters (random, so that no gradient is trivially zero)
#   "<case>.x", "<case>.temb" / "<case>.context"   inputs
#   "<case>.upstream"      r, a fixed random tensor: the loss is L = Σ module(inputs) ⊙ r
#   "<case>.output"        module(inputs)
#   "<case>.grad.x", "<case>.grad.temb" / "<case>.grad.context", "<case>.grad.<key>"   ∂L/∂ each
# ResnetBlock2D applies SiLU to temb itself; "grad.temb" is the gradient with respect to temb before it.
# The whole-UNet case "unet" (config in backward_unet_config.json) has inputs "x" (latents [2, 4, 7, 5]:
# sides not divisible by 2, so the up block resizes to the skip's size), "context", and timesteps
# [10, 700] in its metadata; its parameter keys are the UNet's state-dict keys.
# The text-encoder case "clip" (config in backward_clip_config.json) has the token ids "ids" [2, 10] as
# its input; the gradient flows to the embeddings' rows (parameters keyed as transformers names them).
import json
import os

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from transformers import CLIPTextConfig, CLIPTextModel
from safetensors.torch import save_file

torch.manual_seed(1127)
out, cases = {}, []


def randomise(module):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name:  # scales and shifts near their initial 1 and 0
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))


def record(case, module, inputs, forward):
    randomise(module)
    for name, p in module.named_parameters():
        out[f"{case['name']}.param.{name}"] = p.detach().clone()
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = forward(module, leaves)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    for k, v in inputs.items():
        out[f"{case['name']}.{k}"] = v
        out[f"{case['name']}.grad.{k}"] = leaves[k].grad
    out[f"{case['name']}.upstream"] = r
    out[f"{case['name']}.output"] = y.detach()
    for name, p in module.named_parameters():
        out[f"{case['name']}.grad.{name}"] = p.grad.clone()
    cases.append(case)


for case in [dict(name="resnet_shortcut", in_channels=8, out_channels=16, temb=12, groups=4),
             dict(name="resnet_identity", in_channels=8, out_channels=8, temb=12, groups=4),
             dict(name="resnet_vae", in_channels=8, out_channels=12, temb=None, groups=4)]:
    block = ResnetBlock2D(in_channels=case["in_channels"], out_channels=case["out_channels"],
                          temb_channels=case["temb"], groups=case["groups"], eps=1e-5)
    inputs = {"x": torch.randn(2, case["in_channels"], 6, 5)}
    if case["temb"]:
        inputs["temb"] = torch.randn(2, case["temb"])
    record(case, block, inputs, lambda m, t: m(t["x"], t.get("temb")))

for case in [dict(name="transformer_conv", heads=2, head_dim=8, layers=2, groups=4, context=12, linear=False),
             dict(name="transformer_linear", heads=2, head_dim=8, layers=1, groups=4, context=12, linear=True)]:
    channels = case["heads"] * case["head_dim"]
    model = Transformer2DModel(num_attention_heads=case["heads"], attention_head_dim=case["head_dim"],
                               in_channels=channels, num_layers=case["layers"], norm_num_groups=case["groups"],
                               cross_attention_dim=case["context"], use_linear_projection=case["linear"])
    inputs = {"x": torch.randn(2, channels, 4, 3), "context": torch.randn(2, 5, case["context"])}
    record(case, model, inputs, lambda m, t: m(t["x"], encoder_hidden_states=t["context"]).sample)

here = os.path.dirname(os.path.abspath(__file__))
unet_case = dict(name="unet", timesteps=[10.0, 700.0])
unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4,
                            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), block_out_channels=(8, 16),
                            layers_per_block=1, cross_attention_dim=12, attention_head_dim=4, norm_num_groups=4)
unet.save_config(here)  # writes config.json; renamed below
os.replace(os.path.join(here, "config.json"), os.path.join(here, "backward_unet_config.json"))
timesteps = torch.tensor(unet_case["timesteps"])
record(unet_case, unet, {"x": torch.randn(2, 4, 7, 5), "context": torch.randn(2, 6, 12)},
       lambda m, t: m(t["x"], timesteps, encoder_hidden_states=t["context"]).sample)

clip_config = CLIPTextConfig(vocab_size=99, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                             num_attention_heads=2, max_position_embeddings=10, hidden_act="quick_gelu")
clip = CLIPTextModel(clip_config)
clip_config.to_json_file(os.path.join(here, "backward_clip_config.json"))
ids = torch.tensor([[98, 5, 17, 40, 97, 97, 97, 97, 97, 97], [98, 3, 3, 71, 12, 60, 8, 97, 97, 97]])
clip_case = dict(name="clip")
randomise(clip)
for name, p in clip.named_parameters():
    out[f"clip.param.{name}"] = p.detach().clone()
hidden = clip(ids).last_hidden_state
r = torch.randn_like(hidden)
(hidden * r).sum().backward()
out["clip.ids"] = ids.float()
out["clip.upstream"], out["clip.output"] = r, hidden.detach()
for name, p in clip.named_parameters():
    out[f"clip.grad.{name}"] = p.grad.clone()
cases.append(clip_case)

save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(here, "backward.safetensors"),
          metadata={"cases": json.dumps(cases)})
print(f"wrote backward.safetensors: {len(cases)} cases, {len(out)} tensors")
