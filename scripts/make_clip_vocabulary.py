#!/usr/bin/env python3
"""Derives the standard CLIP tokenizer files (`vocab.json` + `merges.txt`) from open_clip's BPE table.

Single-file SD 1.x checkpoints carry no tokenizer, so dbrender ships the one every SD 1.x model uses:
OpenAI CLIP's 49408-token byte-level BPE. The table itself comes from the `open-clip-torch` wheel
(`open_clip/bpe_simple_vocab_16e6.txt.gz`; `pip install --no-deps open-clip-torch`); this script lays it
out the way transformers' `CLIPTokenizer` reads it (and as the `tokenizer/` folder of SD 1.x models has it):

  vocab.json  ids 0…255      the 256 byte-level characters, in `bytes_to_unicode()` order
              ids 256…511    the same 256 with `</w>` (end of word) appended
              ids 512…49405  merge lines 1…48894 of the table, each pair joined
              49406, 49407   `<|startoftext|>`, `<|endoftext|>`
  merges.txt  `#version: 0.2`, then those 48894 merge lines, in rank order
  tokenizer_config.json, special_tokens_map.json
              as the `tokenizer/` folder of SD 1.x models has them (model_max_length 77, pad with
              `<|endoftext|>`, bos/eos/unk written as `normalized: true` AddedTokens). They matter: with them,
              transformers 5 matches `<|startoftext|>` after lowercasing, so "<|STARTOFTEXT|>" in a prompt
              becomes id 49406, while `<|endoftext|>` (overridden by the plain-string pad token) stays exact.

It then loads the result with transformers (offline) and checks the ids it is known to produce.

    HF_HUB_OFFLINE=1 /work/venv/bin/python scripts/make_clip_vocabulary.py [--out DIR]
"""
import argparse
import gzip
import importlib.util
import json
import os
import sys
import tempfile

HEADER = "#version: 0.2"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                           "Sources", "Models", "Resources", "clip-vocabulary")


def bytes_to_unicode():
    """GPT-2's reversible byte → character table: printable Latin-1 bytes map to themselves, the other 68
    bytes (controls, space, soft hyphen…) to U+0100 onward, so that no BPE symbol is whitespace/control."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    table, extra = {}, 0
    for b in printable:
        table[b] = chr(b)
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    # Order matters for the ids: printable bytes first (ascending), then the remapped ones.
    return [table[b] for b in printable] + [table[b] for b in range(256) if b not in printable]


def open_clip_table():
    # Locate the file inside the installed wheel without importing open_clip (which needs torchvision).
    spec = importlib.util.find_spec("open_clip")
    if spec is None:
        sys.exit("open_clip not found: pip install --no-deps open-clip-torch")
    path = os.path.join(os.path.dirname(spec.origin), "bpe_simple_vocab_16e6.txt.gz")
    with gzip.open(path) as f:
        return path, f.read().decode("utf-8").split("\n")


def build():
    path, lines = open_clip_table()
    # Same slice as open_clip's SimpleTokenizer (and OpenAI's original): line 0 is a header, then the
    # first 48894 merges, so that 512 + 48894 + 2 specials = 49408 tokens.
    merges = lines[1:49152 - 256 - 2 + 1]
    assert len(merges) == 48894, len(merges)
    assert all(len(m.split(" ")) == 2 for m in merges), "a merge line is not 'a b'"
    chars = bytes_to_unicode()
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m.split(" ")) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens) == 49408, "duplicate token in the derived vocabulary"
    return path, vocab, merges


def added_token(content):
    return {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}


# The two small config files of SD 1.x `tokenizer/` folders (same content as openai/clip-vit-large-patch14's).
TOKENIZER_CONFIG = {
    "add_prefix_space": False,
    "bos_token": {"__type": "AddedToken", **added_token("<|startoftext|>")},
    "do_lower_case": True,
    "eos_token": {"__type": "AddedToken", **added_token("<|endoftext|>")},
    "errors": "replace",
    "model_max_length": 77,
    "pad_token": "<|endoftext|>",
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": {"__type": "AddedToken", **added_token("<|endoftext|>")},
}
SPECIAL_TOKENS_MAP = {
    "bos_token": added_token("<|startoftext|>"),
    "eos_token": added_token("<|endoftext|>"),
    "pad_token": "<|endoftext|>",
    "unk_token": added_token("<|endoftext|>"),
}


def write(out, vocab, merges):
    os.makedirs(out, exist_ok=True)
    # Compact and in id order, as the SD 1.x `tokenizer/vocab.json` files are (non-ASCII kept as UTF-8).
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(HEADER + "\n" + "\n".join(merges) + "\n")
    for name, content in (("tokenizer_config.json", TOKENIZER_CONFIG), ("special_tokens_map.json", SPECIAL_TOKENS_MAP)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(content, f, indent=2)
            f.write("\n")


def check_with_transformers(out, vocab, merges):
    """The files must load in transformers as CLIPTokenizer and give the known SD 1.x ids."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import CLIPTokenizer
    tok = CLIPTokenizer.from_pretrained(out)
    assert len(tok) == 49408, len(tok)
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (49406, 49407, 49407)
    assert tok.model_max_length == 77
    ids = tok("a photo of sks dog", padding="max_length", max_length=77, truncation=True).input_ids
    assert ids == [49406, 320, 1125, 539, 48136, 1929, 49407] + [49407] * 70, ids
    # What transformers itself saves (tokenizer.json) must hold exactly our vocabulary and merges.
    with tempfile.TemporaryDirectory() as saved:
        tok.save_pretrained(saved)
        with open(os.path.join(saved, "tokenizer.json"), encoding="utf-8") as f:
            model = json.load(f)["model"]
    assert model["vocab"] == vocab, "tokenizer.json vocab differs"
    saved_merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    assert saved_merges == merges, "tokenizer.json merges differ"
    flags = {i: t.normalized for i, t in tok.backend_tokenizer.get_added_tokens_decoder().items()}
    assert flags == {49406: True, 49407: False}, flags
    print("transformers check: 49408 tokens, 'a photo of sks dog' ids as expected, save_pretrained agrees")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--no-check", action="store_true", help="skip the transformers check")
    args = parser.parse_args()
    path, vocab, merges = build()
    write(args.out, vocab, merges)
    print(f"wrote {len(vocab)} tokens, {len(merges)} merges from {path} to {os.path.normpath(args.out)}")
    if not args.no_check:
        check_with_transformers(args.out, vocab, merges)


if __name__ == "__main__":
    sys.exit(main())
