#!/usr/bin/env python3
"""A LoRA on models/tiny's UNet with the target list LCM-LoRAs use — the attention and feed-forward
linears, the transformers' 1x1 proj_in/proj_out, and the resnets' 3x3 conv1/conv2, their time_emb_proj,
conv_shortcut and the down/upsampler convolutions — made by peft (rank 4, lora_alpha 4), and diffusers'
image with it through load_lora_weights, sampled as an LCM-LoRA is: LCMScheduler, 4 steps, guidance 1.
Writes Tests/Fixtures/lora/conv.safetensors (peft keys, lora_adapter_metadata) and
Tests/Fixtures/lora/conv-renders.safetensors ("plain.image", "lora.image").

    HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_conv_lora_fixtures.py
"""
import json
import os
import sys

import torch
from diffusers import LCMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from peft import LoraConfig, get_peft_model_state_dict
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_pipeline_fixtures import to_uint8  # noqa: E402

MODEL = os.path.join(HERE, "..", "..", "models", "tiny")
OUT = os.path.join(HERE, "lora")
TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1", "conv2",
           "conv_shortcut", "time_emb_proj", "downsamplers.0.conv", "upsamplers.0.conv"]
PROMPT, STEPS, SEED = "a photo of sks dog", 4, 11


def main():
    torch.manual_seed(31)
    torch.set_num_threads(1)
    unet = UNet2DConditionModel.from_pretrained(os.path.join(MODEL, "unet"))
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=TARGETS, init_lora_weights=False))
    state = {f"unet.{k}": v.detach().clone() for k, v in get_peft_model_state_dict(unet).items()}
    meta = {"unet.r": 4, "unet.lora_alpha": 4, "unet.target_modules": TARGETS}
    save_file(state, os.path.join(OUT, "conv.safetensors"), metadata={"lora_adapter_metadata": json.dumps(meta)})

    pipe = StableDiffusionPipeline.from_pretrained(MODEL, safety_checker=None, requires_safety_checker=False)
    pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)

    def render():
        return to_uint8(pipe(PROMPT, num_inference_steps=STEPS, guidance_scale=1.0, height=64, width=64,
                             generator=[torch.Generator().manual_seed(SEED)], output_type="np").images)

    out = {"plain.image": render()}
    pipe.load_lora_weights(OUT, weight_name="conv.safetensors", adapter_name="lcm_style")
    out["lora.image"] = render()
    save_file(out, os.path.join(OUT, "conv-renders.safetensors"),
              metadata={"prompt": PROMPT, "steps": str(STEPS), "seed": str(SEED), "modules": str(len(state) // 2)})
    print("wrote conv.safetensors (%d modules) and conv-renders.safetensors" % (len(state) // 2))


if __name__ == "__main__":
    main()
