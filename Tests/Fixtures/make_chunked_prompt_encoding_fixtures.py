#!/usr/bin/env python3
"""AUTOMATIC1111's text conditioning of long and weighted prompts (modules/sd_hijack_clip.py:
FrozenCLIPEmbedderWithCustomWords.forward — chunks, CLIP, "Original" emphasis, chunks stacked along the
sequence) on the text encoder of models/shapes, for ChunkedPromptEncodingTests. The reference is A1111's own
code, imported from a checkout of AUTOMATIC1111/stable-diffusion-webui; the webui parts it reaches for
are stubbed with A1111's defaults (emphasis "Original", comma_padding_backtrack 20, no textual-inversion
embeddings, CPU). The wrapped model is transformers' CLIPTextModel and CLIPTokenizer on models/shapes,
as ldm's FrozenCLIPEmbedder holds them. A trained encoder on purpose: its final layer norm has a learnt
bias, so a chunk has a mean to restore; a random one (zero bias) has a mean of about 0, and A1111's
restoration divides 0 by 0.
A1111's prompt_parser imports lark (PyPI: `.venv/bin/pip install lark`).

    A1111_WEBUI=/path/to/stable-diffusion-webui HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_chunked_prompt_encoding_fixtures.py

Writes Tests/Fixtures/chunked_prompt_encoding.safetensors: `case<i>.z` [1, 77·k, C] per case; the cases
(prompt, clip skip) are in the metadata as JSON.
"""
import json
import os
import sys
import types

import torch
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.environ["A1111_WEBUI"])

devices = types.ModuleType("modules.devices")
devices.device = torch.device("cpu")
devices.torch_npu_set_device = lambda: None
sys.modules["modules.devices"] = devices
sys.modules["modules.sd_hijack"] = types.ModuleType("modules.sd_hijack")
shared = types.ModuleType("modules.shared")
shared.opts = types.SimpleNamespace(emphasis="Original", comma_padding_backtrack=20, CLIP_stop_at_last_layers=1,
                                    use_old_emphasis_implementation=False,
                                    textual_inversion_add_hashes_to_infotext=False)
sys.modules["modules.shared"] = shared
from modules.sd_hijack_clip import FrozenCLIPEmbedderWithCustomWords  # noqa: E402

WORDS = "a red circle on a blue background, a photo of sks dog in a bucket, studio light".split()
LONG = " ".join(WORDS[i % len(WORDS)] for i in range(130))

# (prompt, clip skip)
CASES = [
    ("a red circle on a blue background", 1),
    ("a photo of (sks dog:1.3) in a [bucket]", 1),
    ("((a red circle)) on a (blue background:0.8) BREAK studio light", 1),
    (LONG, 1),
    ("(" + LONG + ":1.2), [dark]", 2),
    ("", 1),
]


def main():
    torch.set_num_threads(1)
    model = os.path.join(ROOT, "models", "shapes")
    # fp16 on disk, upcast to fp32 as dbrenderd computes (transformers 5 would keep the file's dtype).
    transformer = CLIPTextModel.from_pretrained(os.path.join(model, "text_encoder"), dtype=torch.float32).eval()
    if not hasattr(transformer, "text_model"):
        # transformers 5 flattened CLIPTextModel; A1111 (written for 4.x) reaches the final layer norm
        # through .text_model. A plain namespace, so that torch does not register a module cycle.
        object.__setattr__(transformer, "text_model", types.SimpleNamespace(final_layer_norm=transformer.final_layer_norm))
    wrapped = types.SimpleNamespace(tokenizer=CLIPTokenizer.from_pretrained(os.path.join(model, "tokenizer")),
                                    transformer=transformer)
    hijack = types.SimpleNamespace(fixes=None, extra_generation_params={},
                                   embedding_db=types.SimpleNamespace(find_embedding_at_position=lambda t, p: (None, None)))
    embedder = FrozenCLIPEmbedderWithCustomWords(wrapped, hijack)
    out = {}
    for i, (prompt, clip_skip) in enumerate(CASES):
        shared.opts.CLIP_stop_at_last_layers = clip_skip
        with torch.no_grad():
            out[f"case{i}.z"] = embedder([prompt]).contiguous()
    save_file(out, os.path.join(HERE, "chunked_prompt_encoding.safetensors"),
              metadata={"cases": json.dumps([{"prompt": p, "clip_skip": c} for p, c in CASES])})
    print("wrote chunked_prompt_encoding.safetensors:", [tuple(out[f"case{i}.z"].shape) for i in range(len(CASES))])


if __name__ == "__main__":
    main()
