#!/usr/bin/env python3
"""One LoRA for models/tiny in the three layouts users bring, and the weight update each module gets.

The UNet part is made by peft (LoraConfig on the attention projections, the transformer's 1x1 proj_in /
proj_out convolutions and its feed-forward linears; rank 4, lora_alpha 8, so scale 2); the text-encoder
part (attention and MLP projections of every layer, rank 2, alpha 1) is written by hand in peft's key
names, because transformers 5.24 refuses text-encoder adapters from peft 0.21. Writes Tests/Fixtures/lora/:
  sks-peft.safetensors       peft keys (unet./text_encoder. + <module>.lora_A/lora_B.weight) and
                             diffusers' lora_adapter_metadata (r, lora_alpha) in the header
  sks-diffusers.safetensors  diffusers' save_lora_weights of convert_state_dict_to_diffusers (lora.down/up,
                             lora_linear_layer.down/up), no alpha: diffusers then takes scale 1
  sks-kohya.safetensors      convert_state_dict_to_kohya (lora_unet_…/lora_te1_… .lora_down/.lora_up),
                             with .alpha set to the LoRA's alpha
  unet-only.safetensors      the UNet part alone (peft keys and metadata), which diffusers loads itself
  renders.safetensors        diffusers' images with the LoRA (see `renders`)
  expected.safetensors       "<component>.<module>": scale * B @ A, the update of that module's weight
                             (reshaped to the weight: [out, in] or [out, in, 1, 1]), for peft/kohya; the
                             diffusers file's updates are these divided by the scale.

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_lora_fixtures.py
"""
import json
import os
import sys

import torch
from diffusers import StableDiffusionPipeline, UNet2DConditionModel
from diffusers.utils import convert_state_dict_to_diffusers, convert_state_dict_to_kohya
from peft import LoraConfig, get_peft_model_state_dict
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
MODEL = os.path.join(HERE, "..", "..", "models", "tiny")
OUT = os.path.join(HERE, "lora")
UNET_RANK, UNET_ALPHA = 4, 8
TE_RANK, TE_ALPHA = 2, 1
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2"]
PROMPT, STEPS, SEED, UNET_ONLY_WEIGHT = "a photo of sks dog", 8, 5, 0.8
TE_TARGETS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1", "mlp.fc2"]


def main():
    torch.manual_seed(11)
    os.makedirs(OUT, exist_ok=True)
    unet = UNet2DConditionModel.from_pretrained(os.path.join(MODEL, "unet"))
    unet.add_adapter(LoraConfig(r=UNET_RANK, lora_alpha=UNET_ALPHA, target_modules=UNET_TARGETS, init_lora_weights=False))
    unet_peft = {k: v.detach().clone() for k, v in get_peft_model_state_dict(unet).items()}

    te_weights = load_file(os.path.join(MODEL, "text_encoder", "model.safetensors"))
    te_peft = {}
    g = torch.Generator().manual_seed(12)
    # Our folder stores CLIPTextModel's weights without the "text_model." prefix of its module names.
    layers = sorted({int(k.split(".")[2]) for k in te_weights if k.startswith("encoder.layers.")})
    for layer in layers:
        for target in TE_TARGETS:
            module = f"text_model.encoder.layers.{layer}.{target}"
            out_features, in_features = te_weights[module.removeprefix("text_model.") + ".weight"].shape
            te_peft[module + ".lora_A.weight"] = torch.randn(TE_RANK, in_features, generator=g) * 0.2
            te_peft[module + ".lora_B.weight"] = torch.randn(out_features, TE_RANK, generator=g) * 0.2

    metadata = {"unet": {"r": UNET_RANK, "lora_alpha": UNET_ALPHA, "target_modules": UNET_TARGETS},
                "text_encoder": {"r": TE_RANK, "lora_alpha": TE_ALPHA, "target_modules": TE_TARGETS}}
    peft_file = {f"unet.{k}": v for k, v in unet_peft.items()}
    peft_file.update({f"text_encoder.{k}": v for k, v in te_peft.items()})
    packed = {f"{part}.{key}": value for part, config in metadata.items() for key, value in config.items()}
    save_file(peft_file, os.path.join(OUT, "sks-peft.safetensors"), metadata={"lora_adapter_metadata": json.dumps(packed)})

    StableDiffusionPipeline.save_lora_weights(OUT, unet_lora_layers=convert_state_dict_to_diffusers(unet_peft),
                                              text_encoder_lora_layers=convert_state_dict_to_diffusers(te_peft),
                                              weight_name="sks-diffusers.safetensors")

    kohya = convert_state_dict_to_kohya(peft_file)
    for key in kohya:
        if key.endswith(".alpha"):
            kohya[key] = torch.tensor(float(UNET_ALPHA if key.startswith("lora_unet_") else TE_ALPHA))
    save_file(kohya, os.path.join(OUT, "sks-kohya.safetensors"))

    expected = {}
    for part, state, rank, alpha in (("unet", unet_peft, UNET_RANK, UNET_ALPHA), ("text_encoder", te_peft, TE_RANK, TE_ALPHA)):
        for key, down in state.items():
            if ".lora_A." not in key:
                continue
            module = key.replace(".lora_A.weight", "")
            up = state[key.replace(".lora_A.", ".lora_B.")]
            delta = (alpha / rank) * (up.flatten(1) @ down.flatten(1))
            expected[f"{part}.{module}"] = delta.reshape(up.shape[0], down.shape[1], *down.shape[2:]).contiguous()
    save_file(expected, os.path.join(HERE, "lora", "expected.safetensors"),
              metadata={"unet_scale": str(UNET_ALPHA / UNET_RANK), "text_encoder_scale": str(TE_ALPHA / TE_RANK)})
    print(f"wrote {len(expected)} module updates; files:", sorted(os.listdir(OUT)))
    renders(unet_peft, expected)


def renders(unet_peft, expected):
    """diffusers' images with the LoRA: (1) UNet and text encoder, merged by hand into copies of the
    weights (W + scale·B·A: the reference for the unmerged sum, which transformers 5.24 + peft 0.21
    cannot load for the text encoder); (2) the UNet part through diffusers' own load_lora_weights at
    adapter weight 0.8. Euler, 8 steps, guidance 7.5, 64 px. Writes Tests/Fixtures/lora/renders.safetensors."""
    from diffusers import EulerDiscreteScheduler
    from make_pipeline_fixtures import to_uint8

    torch.set_num_threads(1)

    def pipeline():
        pipe = StableDiffusionPipeline.from_pretrained(MODEL, safety_checker=None, requires_safety_checker=False)
        pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def render(pipe):
        return to_uint8(pipe(PROMPT, num_inference_steps=STEPS, guidance_scale=7.5, height=64, width=64,
                             generator=[torch.Generator().manual_seed(SEED)], output_type="np").images)

    out = {"plain.image": render(pipeline())}
    merged = pipeline()
    with torch.no_grad():
        for name, delta in expected.items():
            part, module = name.split(".", 1)
            network = merged.unet if part == "unet" else merged.text_encoder
            if part == "text_encoder" and not hasattr(network, "text_model"):
                module = module.removeprefix("text_model.")  # transformers 5 has no text_model level
            network.get_submodule(module).weight += delta
    out["merged.image"] = render(merged)

    adapted = pipeline()
    unet_file = os.path.join(OUT, "unet-only.safetensors")
    packed = {"unet.r": UNET_RANK, "unet.lora_alpha": UNET_ALPHA, "unet.target_modules": UNET_TARGETS}
    save_file({f"unet.{k}": v for k, v in unet_peft.items()}, unet_file, metadata={"lora_adapter_metadata": json.dumps(packed)})
    adapted.load_lora_weights(OUT, weight_name="unet-only.safetensors", adapter_name="sks")
    adapted.set_adapters(["sks"], adapter_weights=[UNET_ONLY_WEIGHT])
    out["unet_only.image"] = render(adapted)
    save_file(out, os.path.join(OUT, "renders.safetensors"),
              metadata={"prompt": PROMPT, "steps": str(STEPS), "seed": str(SEED), "unet_only_weight": str(UNET_ONLY_WEIGHT)})
    print("wrote renders:", sorted(out))


if __name__ == "__main__":
    main()
