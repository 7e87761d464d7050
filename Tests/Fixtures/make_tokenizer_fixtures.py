#!/usr/bin/env python3
"""Golden fixtures for CLIPTokenizerTests: transformers' CLIPTokenizer is the oracle.

Writes, next to this script:
  tokenizer_corpus.json   ≥ 200 varied prompts with transformers' ids (77-long input_ids as diffusers asks
                          for them, and the untruncated ids), their decoding, and a per-scalar table of how
                          the normalizer and the pre-tokenizer's regex treat every Unicode scalar.
  tokenizer_json/         the same tokenizer saved by transformers 5 (`save_pretrained` writes
                          tokenizer.json + tokenizer_config.json only): exercises the tokenizer.json path.

The oracle is what `StableDiffusionPipeline.from_pretrained` gets for an SD 1.x folder: diffusers loads
`tokenizer/` with `transformers.CLIPTokenizer`, which in transformers 5 is the `tokenizers`-backed
tokenizer (normalizer NFC → `\\s+`→" " → lowercase; no ftfy, no HTML unescaping; neither diffusers nor
transformers depends on ftfy). The folder it loads is the bundled vocabulary
(Sources/Models/Resources/clip-vocabulary: vocab.json, merges.txt, and the tokenizer_config.json /
special_tokens_map.json that SD 1.x folders carry, whose `normalized: true` bos token matters for
prompts containing `<|STARTOFTEXT|>`).

    HF_HUB_OFFLINE=1 /work/venv/bin/python Tests/Fixtures/make_tokenizer_fixtures.py
"""
import json
import os
import random
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import tokenizers  # noqa: E402
import transformers  # noqa: E402
from transformers import CLIPTokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
VOCABULARY = os.path.join(ROOT, "Sources", "Models", "Resources", "clip-vocabulary")
LENGTH = 77  # CLIP's context; diffusers passes tokenizer.model_max_length (77 in SD 1.x folders)

# --- the corpus ---------------------------------------------------------------------------------------

TYPICAL = [
    "a photo of sks dog",
    "a photo of sks dog in a bucket",
    "A photo of SKS dog on the beach, golden hour, 35mm, f/1.8",
    "masterpiece, best quality, (ultra-detailed:1.2), 1girl, solo, looking at viewer",
    "((a castle)) [on a hill], oil painting by Greg Rutkowski, trending on artstation, 8k, hdr",
    "portrait of a woman, (freckles:0.8), soft lighting, bokeh, canon eos 5d mark iv",
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped",
    "worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry",
    "an astronaut riding a horse on mars, digital art",
    "a cyberpunk city at night, neon lights, rain, reflections, blade runner style",
    "a bowl of ramen, studio ghibli style, highly detailed",
    "close-up of a cat's eye, macro photography",
    "a painting of a fox in the style of van gogh's starry night",
    "sks person as a jedi, star wars, cinematic lighting",
    "photo of a sks toy, product shot, white background",
    "<lora:add_detail:0.5> a man in a suit, (sharp focus), 4k uhd",
    "{red|blue|green} car, __colors__, [[low contrast]]",
    "a dog, (cute:1.3), (fluffy), ((big eyes)), [sad:happy:0.5]",
    "landscape, mountains, lake, sunrise, by albert bierstadt and thomas kinkade",
    "a house made of candy, hansel & gretel, fairy tale illustration",
    "a robot holding a sign that says \"hello world\"",
    "a T-shirt with the text 'I <3 NY' printed on it",
    "a corgi wearing sunglasses -- v 5 --ar 16:9",
    "BREAK a girl BREAK a boy BREAK",
    "an isometric 3D render of a tiny room, blender, octane render, unreal engine 5",
    "sks dog, by artist-name, artstation HQ, 8K, HDR, DSLR",
    "a photo of a dog.a photo of a cat.a photo of a bird",
    "A PHOTO OF A DOG IN ALL CAPS",
    "a photo of a bear:1.5 AND a photo of a wolf:0.5",
    "watercolor; pastel colours; soft edges / dreamy",
]

PUNCTUATION = [
    "!!!", "...", "?!?!", "a--b", "wow!!! amazing???", "@#$%^&*()", "`backticks` and ~tildes~",
    "\"double\" 'single' «guillemets» „low“", "a,b;c:d.e", "(((((((x)))))))", "[[[[y]]]]", "{{{{z}}}}",
    "___underscores___", "a_b_c", "C++ and C#", "e-mail@example.com", "http://example.com/a?b=c&d=e#f",
    "50% off $100 €20 £5 ¥1000", "1+1=2", "a/b\\c|d", "<>", "<|>", "<||>", "…", "—–-", "·•°", "§¶†‡",
    "´`^¨~", "¡hola! ¿qué?", "「quotes」『more』", "【brackets】", "!", "'", "''", "'''s",
]

DIGITS = [
    "1920x1080", "3.14159", "2024-01-01", "12345678901234567890", "v1.5", "sd-v1-4.ckpt", "0", "007",
    "٣٤٥ arabic-indic digits", "१२३ devanagari digits", "Ⅻ roman numeral", "½ ¾ ⅓", "x² y³", "①②③",
    "１２３ full width", "𝟙𝟚𝟛 math digits", "๑๒๓ thai digits", "2nd 3rd 4th 21st", "1,000,000", "-5°C",
]

CONTRACTIONS = [
    "don't", "it's", "we're", "they've", "I'm", "you'll", "he'd", "DON'T STOP", "IT'S", "We'Re",
    "'s'", "''s", "rock'n'roll", "it’s a curly apostrophe", "'ſ long s", "'ll'll'll", "o'clock",
    "the dog's bone", "'twas", "'d'm're've", "can't won't shouldn't", "y'all'd've",
]

ACCENTS = [
    "café", "naïve", "Crème brûlée", "cafe\u0301 (decomposed)", "\u212b angstrom sign", "ﬁne ligature",
    "Straße", "İstanbul", "ΣΊΣΥΦΟΣ Σίσυφος ΣΑΣ", "Tiếng Việt", "Zażółć gęślą jaźń", "Ærøskøbing",
    "ǅemal", "ǈ ǋ ǲ titlecase digraphs", "Ωmega \u2126 ohm sign", "Kelvin \u212a", "ŉ", "ΐ", "ẞ capital sharp s",
    "\u0041\u030a", "e\u0301\u0301\u0301", "\u0301 leading combining", "ḱṷṓn", "x\u0327\u0306",
    "Ⓐⓑⓒ circled", "𝐁𝐨𝐥𝐝 math bold", "ｆｕｌｌ ｗｉｄｔｈ", "ʰᵉˡˡᵒ modifiers", "ﬀ ﬃ ﬆ",
]

SCRIPTS = [
    "猫が好き", "一只可爱的猫", "고양이 사진", "ｶﾀｶﾅ half width", "東京タワー at night", "漢字とひらがなとカタカナ",
    "قطة جميلة", "مرحبا بالعالم ١٢٣", "שלום עולם", "नमस्ते दुनिया", "แมวน่ารัก", "Привет, мир!", "ПРИВЕТ",
    "Γειά σου Κόσμε", "ქართული", "Հայերեն", "ᚠᚢᚦ runes", "ꦗꦮ javanese", "𓀀𓁐 hieroglyphs", "ⴰⵣⵓⵍ",
    "ㄱㄴㄷ jamo", "한국어 문장입니다", "中文，標點。符號！", "日本語の「引用」です。", "தமிழ்", "ລາວ", "བོད་ཡིག",
]

EMOJI = [
    "🐶", "a dog 🐕‍🦺 with 👍🏽", "👨‍👩‍👧‍👦 family", "🇯🇵 🇺🇸 flags", "❤️ love", "1️⃣ keycap", "🏳️‍🌈",
    "🔥🔥🔥", "smile 😀😃😄😁", "👩🏿‍🚀 astronaut", "🧑‍🎨 artist", "🌸 cherry blossom 🌸", "✨sparkles✨",
    "🫠", "☕ coffee", "🐈‍⬛ black cat", "😂😂 lol", "emoji🐶inside", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 scotland", "👁‍🗨",
]

WHITESPACE = [
    "a  b", "a\tb", "a\nb", "a\r\nb", "   leading spaces", "trailing spaces   ", "  both  ", "a \t \n b",
    "\u00a0nbsp\u00a0", "ideographic\u3000space", "line\u2028separator", "para\u2029separator",
    "zero\u200bwidth", "mongolian\u180evowel", "next\x85line", "file\x1cseparator\x1f", "vt\x0bff\x0c",
    "\ufeffbom", "en\u2002em\u2003thin\u2009hair\u200a", "narrow\u202fnbsp", "word\u2060joiner",
    " ", "\n", "\t\t\t", "", "\x00nul", "del\x7f", "\u200d", "a\u00adsoft hyphen",
]

HTML = [
    "Tom &amp; Jerry", "&lt;b&gt;bold&lt;/b&gt;", "it&#39;s", "&quot;quoted&quot;", "&nbsp;", "&copy; 2024",
    "<b>bold</b> <i>italic</i>", "a &amp;amp; b",
]

SPECIALS = [
    "a <|endoftext|> b", "<|startoftext|>", "<|STARTOFTEXT|>x", "x <|EndOfText|> y", "<|endoftext|><|endoftext|>",
    "<|startoftext", "endoftext|>", "a<|startoftext|>b<|endoftext|>c", "<|startoftext|> sks dog <|endoftext|>",
    "<|start of text|>", "<|ＥＮＤＯＦＴＥＸＴ|>",
]

LONG = [
    "a photo of a dog, " * 20,
    "masterpiece, best quality, ultra-detailed, illustration, beautiful detailed eyes, looking at viewer, "
    "close up, pink hair, shy, cat ears, long hair, floating hair, flowers, petals, wind, sunlight, "
    "depth of field, bokeh, soft lighting, intricate details, dramatic, cinematic, volumetric light, "
    "octane render, unreal engine, artstation, 8k wallpaper, extremely detailed CG unity, by wlop and "
    "artgerm and greg rutkowski and alphonse mucha, trending on pixiv, award winning",
    "a" * 300,
    "supercalifragilisticexpialidocious" * 20,
    "1234567890" * 20,
    "!" * 200,
    "🐶" * 100,
    "猫" * 120,
    " ".join(str(i) for i in range(100)),
    "sks dog " * 40 + "END",
    "the quick brown fox jumps over the lazy dog. " * 10,
    "(" * 80 + "x" + ")" * 80,
    "word " * 74 + "last",  # exactly 75 content tokens: nothing dropped
    "word " * 75 + "last",  # 76: one dropped
    "anti-disestablishmentarianism " * 12,
]


def generated(rng, count):
    """Seeded random mixtures of words, punctuation, whitespace and scalars from many Unicode blocks."""
    words = ("dog cat photo portrait of a the in on sks person castle painting detailed, (best:1.2) "
             "[low] 8k hdr don't it's café naïve 猫 고양이 قطة 🐶 👍🏽 1920x1080 3.14 &amp; <|endoftext|> "
             "İ ß ﬁ Σ Å ½ ① ١ ' '' ... !? -- __ ~ ＡＢＣ").split(" ")
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE7F), (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2100, 0x218F),
              (0x2460, 0x24FF), (0x3000, 0x30FF), (0x4E00, 0x4E80), (0xAC00, 0xAC80), (0xFB00, 0xFB4F),
              (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF)]
    spaces = [" ", " ", " ", "  ", "\t", "\n", "\u3000", ""]
    out = []
    for i in range(count):
        parts = []
        for _ in range(rng.randint(1, 25)):
            if rng.random() < 0.7:
                w = rng.choice(words)
                parts.append(w.upper() if rng.random() < 0.15 else w)
            else:
                lo, hi = rng.choice(blocks)
                parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 6))))
            parts.append(rng.choice(spaces))
        out.append("".join(parts))
    return out


def corpus():
    rng = random.Random(20240601)
    groups = [TYPICAL, PUNCTUATION, DIGITS, CONTRACTIONS, ACCENTS, SCRIPTS, EMOJI, WHITESPACE, HTML,
              SPECIALS, LONG, generated(rng, 90)]
    prompts = [p for g in groups for p in g]
    assert len(set(prompts)) == len(prompts), "duplicate prompt"
    return prompts


# --- the per-scalar table ----------------------------------------------------------------------------

def scalar_table(tok):
    """How the backend treats each scalar alone: its normalisation (where it is not the scalar itself) and
    its class in the pre-tokenizer's regex: s (\\s: removed), L ([\\p{L}]+ runs), N ([\\p{N}], one by one),
    o (everything else: [^\\s\\p{L}\\p{N}]+ runs). Stored as runs of [first, last, class] to stay small."""
    pre, norm = tok.backend_tokenizer.pre_tokenizer, tok.backend_tokenizer.normalizer
    runs, mappings = [], {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue  # not scalars; cannot occur in a String
        c = chr(cp)
        if not pre.pre_tokenize_str(c):
            cls = "s"
        elif len(pre.pre_tokenize_str("a" + c)) == 1:
            cls = "L"
        elif len(pre.pre_tokenize_str(c + c)) == 2:
            cls = "N"
        else:
            cls = "o"
        if runs and runs[-1][2] == cls and runs[-1][1] + 1 == cp:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp, cls])
        n = norm.normalize_str(c)
        if n != c:
            mappings[str(cp)] = n
    return runs, mappings


# --- other tokenizer configurations -------------------------------------------------------------------

def added(content, normalized, special):
    return {"content": content, "lstrip": False, "normalized": normalized, "rstrip": False,
            "single_word": False, "special": special}


# tokenizer_config.json / special_tokens_map.json variants next to the same vocab.json + merges.txt.
VARIANTS = {
    # A folder with the two vocabulary files only: transformers' defaults, nothing normalized.
    "bare": {},
    # SD 2.x pads with "!" (id 0), which thereby becomes a special token matched in the raw text.
    "sd2_pad": {
        "tokenizer_config.json": {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                                  "model_max_length": 77, "pad_token": "!", "unk_token": "<|endoftext|>",
                                  "tokenizer_class": "CLIPTokenizer"},
        "special_tokens_map.json": {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                                    "pad_token": "!", "unk_token": "<|endoftext|>"},
    },
    # added_tokens_decoder (transformers >= 4.34) wins over the named tokens; a textual-inversion token
    # matched after lowercasing, one matched as written, and one whose content the vocabulary already has
    # (it keeps the vocabulary's id).
    "added_tokens": {
        "tokenizer_config.json": {
            "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>", "model_max_length": 77, "tokenizer_class": "CLIPTokenizer",
            "added_tokens_decoder": {
                "49406": added("<|startoftext|>", False, True),
                "49407": added("<|endoftext|>", True, True),
                "49408": added("<sks-token>", True, False),
                "49409": added("<Raw>", False, False),
                "49410": added("Ü", False, False),
            },
        },
    },
}

VARIANT_PROMPTS = [
    "a photo of sks dog", "wow!!! amazing!", "hello!", "<|STARTOFTEXT|> <|ENDOFTEXT|> <|endoftext|>",
    "a <SKS-TOKEN> dog, <Raw> and <raw>", "a<sks-token>b", "Über ü Ü", "!" * 90,
]


def variants():
    import tempfile
    out = {}
    for name, files in VARIANTS.items():
        with tempfile.TemporaryDirectory() as folder:
            for f in ("vocab.json", "merges.txt"):
                shutil.copy(os.path.join(VOCABULARY, f), folder)
            for f, content in files.items():
                with open(os.path.join(folder, f), "w", encoding="utf-8") as handle:
                    json.dump(content, handle)
            tok = CLIPTokenizer.from_pretrained(folder)
            prompts = []
            for text in VARIANT_PROMPTS:
                ids = tok(text).input_ids
                prompts.append({
                    "text": text,
                    "input_ids": tok(text, padding="max_length", max_length=LENGTH, truncation=True).input_ids,
                    "ids": ids,
                    "decoded": tok.decode(ids),
                    "decoded_skipping_special": tok.decode(ids, skip_special_tokens=True),
                })
            # The files as the text to write, so that the tests need not re-serialize JSON.
            out[name] = {"files": {f: json.dumps(c) for f, c in files.items()}, "pad_token_id": tok.pad_token_id,
                         "prompts": prompts}
    return out


# --- output ------------------------------------------------------------------------------------------

def main():
    tok = CLIPTokenizer.from_pretrained(VOCABULARY)
    assert tok.model_max_length == LENGTH, "bundled tokenizer_config.json should say model_max_length 77"
    entries = []
    for text in corpus():
        # Exactly the two calls of StableDiffusionPipeline.encode_prompt.
        input_ids = tok(text, padding="max_length", max_length=LENGTH, truncation=True).input_ids
        ids = tok(text, padding="longest").input_ids
        dropped = ids[LENGTH - 1:-1]
        entries.append({
            "text": text,
            "input_ids": input_ids,
            "ids": ids,
            "decoded": tok.decode(ids[1:-1]),
            "dropped_text": tok.batch_decode([dropped])[0] if dropped else "",
        })
    runs, mappings = scalar_table(tok)
    document = {
        "about": "Generated by make_tokenizer_fixtures.py from transformers' CLIPTokenizer; do not edit.",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "length": LENGTH,
        "prompts": entries,
        "variants": variants(),
        "scalar_classes": runs,
        "scalar_normalization": mappings,
    }
    with open(os.path.join(HERE, "tokenizer_corpus.json"), "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, indent=0)
        f.write("\n")

    # transformers 5 writes tokenizer.json (+ tokenizer_config.json) and no vocab.json / merges.txt.
    out = os.path.join(HERE, "tokenizer_json")
    shutil.rmtree(out, ignore_errors=True)
    tok.save_pretrained(out)
    for name in os.listdir(out):
        if name not in ("tokenizer.json", "tokenizer_config.json"):
            os.remove(os.path.join(out, name))
    # Keys that describe the machine that saved it, not the tokenizer.
    config_path = os.path.join(out, "tokenizer_config.json")
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    for key in ("is_local", "local_files_only"):
        config.pop(key, None)
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")
    # The saved file must tokenize as the folder it came from.
    again = CLIPTokenizer.from_pretrained(out)
    for e in entries:
        assert again(e["text"]).input_ids == e["ids"], e["text"]

    longest = max(len(e["ids"]) for e in entries)
    truncated = sum(1 for e in entries if len(e["ids"]) > LENGTH)
    size = os.path.getsize(os.path.join(out, "tokenizer.json"))
    print(f"{len(entries)} prompts ({truncated} truncated, longest {longest} ids), {len(runs)} scalar runs, "
          f"{len(mappings)} normalised scalars; tokenizer.json {size / 1e6:.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
