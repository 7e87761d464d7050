#!/usr/bin/env python3
"""AUTOMATIC1111's long-prompt chunking (modules/sd_hijack_clip.py: tokenize_line, with
prompt_parser.parse_prompt_attention) on the prompts below, for PromptChunksTests: each prompt's
chunks of 77 token ids and multipliers, and A1111's token count. The reference is A1111's own code,
imported from a checkout of AUTOMATIC1111/stable-diffusion-webui; the parts of the webui it reaches
for (shared.opts, devices, sd_hijack, sd_emphasis, the textual-inversion database) are stubbed with
A1111's defaults: emphasis "Original", comma_padding_backtrack 20, no embeddings. The tokenizer is
transformers' CLIPTokenizer on the bundled vocabulary (Sources/Models/Resources/clip-vocabulary), as
A1111's FrozenCLIPEmbedderWithCustomWords.tokenize calls it.
A1111's prompt_parser imports lark (PyPI: `.venv/bin/pip install lark`).

    A1111_WEBUI=/path/to/stable-diffusion-webui HF_HUB_OFFLINE=1 .venv/bin/python Tests/Fixtures/make_prompt_chunks_fixtures.py

Writes Tests/Fixtures/prompt_chunks.json (multipliers as Python reprs, read back exactly).
"""
import json
import os
import sys
import types

import torch
from transformers import CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.environ["A1111_WEBUI"])

# The webui modules tokenize_line's module imports, with A1111's defaults.
for name in ("devices", "sd_hijack", "sd_emphasis"):
    sys.modules["modules." + name] = types.ModuleType("modules." + name)
shared = types.ModuleType("modules.shared")
shared.opts = types.SimpleNamespace(emphasis="Original", comma_padding_backtrack=20)
sys.modules["modules.shared"] = shared
from modules.sd_hijack_clip import FrozenCLIPEmbedderWithCustomWordsBase  # noqa: E402


class Chunker(FrozenCLIPEmbedderWithCustomWordsBase):
    """A1111's tokenize_line on a bare tokenizer (no model, no embeddings)."""

    def __init__(self, tokenizer):
        torch.nn.Module.__init__(self)
        self.tokenizer = tokenizer
        self.chunk_length = 75
        self.comma_token = tokenizer.get_vocab()[",</w>"]
        self.id_start = tokenizer.bos_token_id
        self.id_end = tokenizer.eos_token_id
        self.hijack = types.SimpleNamespace(
            embedding_db=types.SimpleNamespace(find_embedding_at_position=lambda tokens, position: (None, None)))

    def tokenize(self, texts):
        return self.tokenizer(texts, truncation=False, add_special_tokens=False)["input_ids"]


WORDS = ("red", "circle", "blue", "background", "a", "photo", "of", "sks", "dog", "in", "bucket", "studio", "light")


def words(count, comma_every=0, start=0):
    out = []
    for i in range(count):
        out.append(WORDS[(start + i) % len(WORDS)])
        if comma_every and (i + 1) % comma_every == 0:
            out[-1] += ","
    return " ".join(out)


PROMPTS = [
    "",
    "a red circle on a blue background",
    "a photo of (sks dog:1.3) in a [bucket]",
    words(75),
    words(76),
    words(200),
    # Commas near a chunk's end: the phrase after the last one moves to the next chunk.
    words(80, comma_every=7),
    words(160, comma_every=30),
    # A comma more than 20 tokens before the end does not move anything.
    words(40) + ", " + words(60),
    "a BREAK b",
    "BREAK",
    "a red circle BREAK BREAK on a blue background",
    "(a BREAK b) c",
    words(74) + ", " + words(10),
    "masterpiece, best quality, (1girl:1.1), [blurry], ((detailed eyes)), (sks person:1.4) BREAK red dress, " + words(90, comma_every=4),
]


def main():
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(ROOT, "Sources", "Models", "Resources", "clip-vocabulary"))
    chunker = Chunker(tokenizer)
    cases = []
    for prompt in PROMPTS:
        chunks, token_count = chunker.tokenize_line(prompt)
        cases.append({"prompt": prompt, "token_count": token_count,
                      "chunks": [{"tokens": c.tokens, "multipliers": [repr(float(m)) for m in c.multipliers]}
                                 for c in chunks]})
    with open(os.path.join(HERE, "prompt_chunks.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "AUTOMATIC1111/stable-diffusion-webui modules/sd_hijack_clip.py tokenize_line",
                   "cases": cases}, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote prompt_chunks.json: {len(cases)} prompts, chunks per prompt {[len(c['chunks']) for c in cases]}")


if __name__ == "__main__":
    main()
