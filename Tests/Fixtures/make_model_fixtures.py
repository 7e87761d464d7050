#!/usr/bin/env python3
"""Golden outputs of the SD 1.x networks on tiny random configurations, from diffusers/transformers.

Writes Tests/Fixtures/models/<case>/ with `config.json`, the weights (`weights.safetensors`, diffusers
or transformers key names, sometimes in fp16/bf16) and `io.safetensors` (inputs and reference outputs).
Two configurations per network; the second UNet gives `attention_head_dim` as a list and uses linear
projections. Also writes a tiny full model in three layouts (diffusers folder, original single-file
safetensors, original .ckpt) for the layout-equivalence test.

    HF_HUB_OFFLINE=1 /work/venv/bin/python Tests/Fixtures/make_model_fixtures.py
"""
import json
import os
import shutil

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


def case_dir(name):
    path = os.path.join(ROOT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def perturb(model, seed):
    """Random-initialised norms are exactly 1/0; jitter every parameter so that a swapped weight and
    bias, or a missed affine, cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)


def round_to(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).float())


def save_weights(model, path, dtype=torch.float32, prefix=""):
    state = {prefix + k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, path)


def save_config(config, path):
    with open(path, "w") as f:
        json.dump(dict(config), f, indent=2, sort_keys=True, default=lambda o: sorted(o) if isinstance(o, set) else list(o))


# ---------------------------------------------------------------------------------------------- UNet
UNET_CASES = {
    "unet_a": dict(
        sample_size=8, block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=2),
    "unet_b": dict(
        sample_size=8, block_out_channels=(16, 32, 32), layers_per_block=2, norm_num_groups=8,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=24, attention_head_dim=[2, 4, 4], use_linear_projection=True),  # heads 2, 4, 4
}


def make_unet(name, kwargs, seed, height, width, weights_dtype):
    torch.manual_seed(seed)
    model = UNet2DConditionModel(**kwargs).eval()
    perturb(model, seed + 1)
    if weights_dtype != torch.float32:
        round_to(model, weights_dtype)  # the reference runs on exactly the values the file holds
    path = case_dir(name)
    save_config(model.config, os.path.join(path, "config.json"))
    save_weights(model, os.path.join(path, "weights.safetensors"), weights_dtype)
    g = torch.Generator().manual_seed(seed + 2)
    sample = torch.randn(2, 4, height, width, generator=g)
    timesteps = torch.tensor([999.0, 10.5])  # per-sample timesteps, one fractional (Euler-style)
    context = torch.randn(2, 7, kwargs["cross_attention_dim"], generator=g)
    with torch.no_grad():
        out = model(sample, timesteps, encoder_hidden_states=context).sample
    save_file({"sample": sample, "timesteps": timesteps, "context": context, "output": out.contiguous()},
              os.path.join(path, "io.safetensors"))
    return model


# ----------------------------------------------------------------------------------------------- VAE
VAE_CASES = {
    "vae_a": dict(block_out_channels=(16, 16, 32, 32), layers_per_block=1, norm_num_groups=8, sample_size=32,
                  down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4),
    "vae_b": dict(block_out_channels=(16, 32), layers_per_block=2, norm_num_groups=8, sample_size=16,
                  down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2),
}


def make_vae(name, kwargs, seed, size, weights_dtype):
    torch.manual_seed(seed)
    model = AutoencoderKL(**kwargs).eval()
    perturb(model, seed + 1)
    if weights_dtype != torch.float32:
        round_to(model, weights_dtype)
    path = case_dir(name)
    save_config(model.config, os.path.join(path, "config.json"))
    save_weights(model, os.path.join(path, "weights.safetensors"), weights_dtype)
    g = torch.Generator().manual_seed(seed + 2)
    factor = 2 ** (len(kwargs["block_out_channels"]) - 1)
    image = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    latents = torch.randn(2, 4, size // factor, size // factor, generator=g)
    with torch.no_grad():
        dist = model.encode(image).latent_dist
        decoded = model.decode(latents).sample
    save_file({"image": image, "mean": dist.mean.contiguous(), "logvar": dist.logvar.contiguous(),
               "latents": latents, "decoded": decoded.contiguous()}, os.path.join(path, "io.safetensors"))
    return model


# ---------------------------------------------------------------------------------------------- CLIP
CLIP_CASES = {
    "clip_a": dict(vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                   max_position_embeddings=77, hidden_act="quick_gelu", bos_token_id=998, eos_token_id=999, pad_token_id=1),
    "clip_b": dict(vocab_size=500, hidden_size=48, intermediate_size=64, num_hidden_layers=3, num_attention_heads=3,
                   max_position_embeddings=77, hidden_act="gelu", bos_token_id=498, eos_token_id=499, pad_token_id=1),
}


def make_clip(name, kwargs, seed, key_prefix):
    torch.manual_seed(seed)
    config = CLIPTextConfig(**kwargs)
    model = CLIPTextModel(config).eval()
    perturb(model, seed + 1)
    path = case_dir(name)
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write(config.to_json_string())
    # transformers 5 saves keys without `text_model.`; SD 1.x folders in the wild carry it.
    state = {key_prefix + k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    save_file(state, os.path.join(path, "weights.safetensors"))
    g = torch.Generator().manual_seed(seed + 2)
    bos, eos = kwargs["bos_token_id"], kwargs["eos_token_id"]
    ids = torch.full((2, 77), eos, dtype=torch.int64)
    for row, length in enumerate((9, 30)):
        ids[row, 0] = bos
        ids[row, 1:length] = torch.randint(2, bos, (length - 1,), generator=g)
        ids[row, length] = eos
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
        last = out.last_hidden_state
        final_norm = model.text_model.final_layer_norm if hasattr(model, "text_model") else model.final_layer_norm
        skip2 = final_norm(out.hidden_states[-2])  # A1111 clip skip 2
    save_file({"ids": ids, "last": last.contiguous(), "clip_skip_2": skip2.contiguous()}, os.path.join(path, "io.safetensors"))
    return model


# ------------------------------------------------------------------------- tiny model in three layouts
def ldm_unet_keys(config):
    """diffusers module prefix → original LDM prefix (independent of the Swift table: written from
    diffusers' own single-file conversion rules, then checked by loading with from_single_file)."""
    n, layers = len(config.block_out_channels), config.layers_per_block
    m = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
         "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
         "mid_block.resnets.0": "middle_block.0", "mid_block.attentions.0": "middle_block.1", "mid_block.resnets.1": "middle_block.2"}
    for b in range(n):
        for l in range(layers):
            i = 1 + b * (layers + 1) + l
            m[f"down_blocks.{b}.resnets.{l}"] = f"input_blocks.{i}.0"
            m[f"down_blocks.{b}.attentions.{l}"] = f"input_blocks.{i}.1"
        m[f"down_blocks.{b}.downsamplers.0.conv"] = f"input_blocks.{1 + b * (layers + 1) + layers}.0.op"
        has_attention = config.up_block_types[b] == "CrossAttnUpBlock2D"
        for l in range(layers + 1):
            i = b * (layers + 1) + l
            m[f"up_blocks.{b}.resnets.{l}"] = f"output_blocks.{i}.0"
            m[f"up_blocks.{b}.attentions.{l}"] = f"output_blocks.{i}.1"
        m[f"up_blocks.{b}.upsamplers.0.conv"] = f"output_blocks.{b * (layers + 1) + layers}.{2 if has_attention else 1}.conv"
    resnet = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
              "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
    return m, resnet


def to_ldm(key, modules, inner):
    for prefix in sorted(modules, key=len, reverse=True):
        if key.startswith(prefix + "."):
            rest = key[len(prefix) + 1:]
            for a, b in inner.items():
                if rest.startswith(a + "."):
                    rest = b + rest[len(a):]
                    break
            return modules[prefix] + "." + rest
    raise KeyError(key)


def ldm_vae_keys(config):
    n, layers = len(config.block_out_channels), config.layers_per_block
    m = {}
    for side in ("encoder", "decoder"):
        m[f"{side}.conv_in"] = f"{side}.conv_in"
        m[f"{side}.conv_out"] = f"{side}.conv_out"
        m[f"{side}.conv_norm_out"] = f"{side}.norm_out"
        m[f"{side}.mid_block.resnets.0"] = f"{side}.mid.block_1"
        m[f"{side}.mid_block.resnets.1"] = f"{side}.mid.block_2"
        m[f"{side}.mid_block.attentions.0"] = f"{side}.mid.attn_1"
    for b in range(n):
        for l in range(layers):
            m[f"encoder.down_blocks.{b}.resnets.{l}"] = f"encoder.down.{b}.block.{l}"
        m[f"encoder.down_blocks.{b}.downsamplers.0.conv"] = f"encoder.down.{b}.downsample.conv"
        for l in range(layers + 1):
            m[f"decoder.up_blocks.{b}.resnets.{l}"] = f"decoder.up.{n - 1 - b}.block.{l}"
        m[f"decoder.up_blocks.{b}.upsamplers.0.conv"] = f"decoder.up.{n - 1 - b}.upsample.conv"
    m["quant_conv"] = "quant_conv"
    m["post_quant_conv"] = "post_quant_conv"
    inner = {"conv_shortcut": "nin_shortcut", "group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
    return m, inner


def ldm_state_dict(unet_config, unet_state, vae_config, vae_state, clip_state):
    """The three networks' diffusers/transformers state dicts as ONE original-layout (LDM) state dict
    (configs need block_out_channels, layers_per_block and up_block_types as attributes)."""
    ldm = {}
    modules, inner = ldm_unet_keys(unet_config)
    for k, v in unet_state.items():
        ldm["model.diffusion_model." + to_ldm(k, modules, inner)] = v
    modules, inner = ldm_vae_keys(vae_config)
    for k, v in vae_state.items():
        new = to_ldm(k, modules, inner)
        if ".mid.attn_1." in new and v.ndim == 2:
            v = v[:, :, None, None]  # the original VAE attention uses 1×1 convolutions
        ldm["first_stage_model." + new] = v
    for k, v in clip_state.items():
        # transformers 5 saves without the `text_model.` prefix, SD 1.x folders in the wild with it.
        ldm["cond_stage_model.transformer." + (k if k.startswith("text_model.") else "text_model." + k)] = v
    return ldm


def make_layouts(unet, vae, clip):
    path = case_dir("tiny_layouts")
    diffusers_dir = os.path.join(path, "diffusers")
    for component, model, fname in (("unet", unet, "diffusion_pytorch_model.safetensors"),
                                    ("vae", vae, "diffusion_pytorch_model.safetensors")):
        os.makedirs(os.path.join(diffusers_dir, component))
        save_config(model.config, os.path.join(diffusers_dir, component, "config.json"))
        save_weights(model, os.path.join(diffusers_dir, component, fname))
    os.makedirs(os.path.join(diffusers_dir, "text_encoder"))
    with open(os.path.join(diffusers_dir, "text_encoder", "config.json"), "w") as f:
        f.write(clip.config.to_json_string())
    # This folder carries the older `text_model.` prefix; the clip_a case carries none.
    save_weights(clip, os.path.join(diffusers_dir, "text_encoder", "model.safetensors"), prefix="text_model.")

    ldm = ldm_state_dict(unet.config, unet.state_dict(), vae.config, vae.state_dict(), clip.state_dict())
    # What real single files also carry, and the loader must skip: EMA copies and scheduler buffers.
    ldm["model_ema.decay"] = torch.tensor(0.9999)
    ldm["alphas_cumprod"] = torch.linspace(0.99, 0.01, 1000)
    ldm = {k: v.contiguous() for k, v in ldm.items()}
    save_file(ldm, os.path.join(path, "single_file.safetensors"))
    torch.save({"state_dict": ldm, "global_step": 1234, "epoch": 3}, os.path.join(path, "single_file.ckpt"))

    # Inputs for the equivalence test, and diffusers' own reading of the single file as a check
    # that the LDM keys written above are right.
    g = torch.Generator().manual_seed(5)
    io = {"sample": torch.randn(1, 4, 8, 8, generator=g), "timesteps": torch.tensor([500.0]),
          "context": torch.randn(1, 5, unet.config.cross_attention_dim, generator=g),
          "latents": torch.randn(1, 4, 4, 4, generator=g)}
    with torch.no_grad():
        io["unet_output"] = unet(io["sample"], io["timesteps"], encoder_hidden_states=io["context"]).sample.contiguous()
        io["decoded"] = vae.decode(io["latents"]).sample.contiguous()
        io["ids"] = torch.tensor([[998, 5, 17, 400, 999] + [999] * 72])
        io["text"] = clip(io["ids"]).last_hidden_state.contiguous()
    save_file(io, os.path.join(path, "io.safetensors"))
    check_single_file(path, unet, vae)


def check_single_file(path, unet, vae):
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint
    from safetensors.torch import load_file
    ldm = load_file(os.path.join(path, "single_file.safetensors"))
    converted = convert_ldm_unet_checkpoint(ldm, dict(unet.config))
    ours = unet.state_dict()
    assert set(converted) == set(ours), set(converted) ^ set(ours)
    assert all(torch.equal(converted[k], ours[k]) for k in ours)
    vae_converted = convert_ldm_vae_checkpoint(ldm, dict(vae.config))
    vae_ours = vae.state_dict()
    assert set(vae_converted) == set(vae_ours), set(vae_converted) ^ set(vae_ours)
    assert all(torch.equal(vae_converted[k].reshape(vae_ours[k].shape), vae_ours[k]) for k in vae_ours)
    print("single file checked against diffusers' own LDM conversion")


if __name__ == "__main__":
    torch.set_num_threads(1)
    unet_a = make_unet("unet_a", UNET_CASES["unet_a"], 10, 16, 16, torch.float16)
    # 13×10 latents: sides not divisible by 4, so diffusers' up path resizes to the skips' sizes (7 → 13).
    make_unet("unet_b", UNET_CASES["unet_b"], 20, 13, 10, torch.float32)
    vae_a = make_vae("vae_a", VAE_CASES["vae_a"], 30, 32, torch.float32)
    make_vae("vae_b", VAE_CASES["vae_b"], 40, 16, torch.bfloat16)
    clip_a = make_clip("clip_a", CLIP_CASES["clip_a"], 50, "")
    make_clip("clip_b", CLIP_CASES["clip_b"], 60, "text_model.")
    # The layout test needs three copies of a whole model: keep it smaller than the cases above.
    torch.manual_seed(70)
    small_unet = UNet2DConditionModel(**dict(UNET_CASES["unet_a"], block_out_channels=(16, 32))).eval()
    small_vae = AutoencoderKL(**VAE_CASES["vae_b"]).eval()
    for i, m in enumerate((small_unet, small_vae)):
        perturb(m, 71 + i)
    make_layouts(small_unet, small_vae, clip_a)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    print(f"wrote {ROOT} ({total / 1e6:.1f} MB)")
