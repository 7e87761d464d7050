#!/usr/bin/env python3
"""Infotexts written by dbrender, read back by AUTOMATIC1111's own parser (modules/infotext_utils.py:
parse_generation_parameters, the function behind A1111's "PNG Info" and paste buttons), for
InfotextA1111ParseTests: the Swift test checks that our writer still produces each `infotext` below from
its `parameters`, and that A1111's reading of it gives the parameters back.

The infotexts are GenerationParameters.infotext's output for the parameters beside them (regenerate
both together when the writer changes). The reference is A1111's own code, imported from a checkout of
AUTOMATIC1111/stable-diffusion-webui; the webui parts it reaches for are stubbed with A1111's defaults:
infotext_styles "Ignore" (no prompt styles), use_old_hires_fix_width_height False,
infotext_skip_pasting [], and infotext_versions.backcompat a no-op (it acts only on a "Version" field,
which we do not write).

    A1111_WEBUI=/path/to/stable-diffusion-webui python3 Tests/Fixtures/make_infotext_parse_fixtures.py

Writes Tests/Fixtures/infotext_a1111_parse.json.
"""
import json
import os
import sys
import types

CASES = [
    {"parameters": {"prompt": "a photo of sks dog", "negative_prompt": "", "steps": 20, "sampler": "euler_a", "cfg_scale": 7.5,
                    "seed": 42, "width": 512, "height": 512, "model_hash": "abcdef0123", "model": "tiny", "extra": []},
     "infotext": "a photo of sks dog\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: abcdef0123, Model: tiny"},
    {"parameters": {"prompt": "a red circle,\non a blue background", "negative_prompt": "blurry, low quality", "steps": 30,
                    "sampler": "dpmpp_2m_karras", "cfg_scale": 7.0, "seed": 4294967296, "width": 64, "height": 48,
                    "model_hash": "51cac88d2f", "model": "shapes", "extra": [["Denoising strength", "0.75"], ["Clip skip", "2"]]},
     "infotext": "a red circle,\non a blue background\nNegative prompt: blurry, low quality\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7.0, Seed: 4294967296, Size: 64x48, Model hash: 51cac88d2f, Model: shapes, Denoising strength: 0.75, Clip skip: 2"},
    {"parameters": {"prompt": "a photo of sks dog <lora:sks-dog:0.8>", "negative_prompt": "", "steps": 4, "sampler": "ddim",
                    "cfg_scale": 12.0, "seed": 0, "width": 768, "height": 512, "model_hash": "0123456789", "model": "sd15.safetensors",
                    "extra": [["Lora hashes", "sks-dog: 0123456789ab, other_lora: ba9876543210"]]},
     "infotext": "a photo of sks dog <lora:sks-dog:0.8>\nSteps: 4, Sampler: DDIM, CFG scale: 12.0, Seed: 0, Size: 768x512, Model hash: 0123456789, Model: sd15.safetensors, Lora hashes: \"sks-dog: 0123456789ab, other_lora: ba9876543210\""},
    {"parameters": {"prompt": "a \"quoted\" (word:1.3) [x], BREAK more", "negative_prompt": "(ugly:1.2), \"bad\"", "steps": 50,
                    "sampler": "lcm", "cfg_scale": 1.5, "seed": 18446744073709551615, "width": 64, "height": 64,
                    "model_hash": None, "model": None, "extra": []},
     "infotext": "a \"quoted\" (word:1.3) [x], BREAK more\nNegative prompt: (ugly:1.2), \"bad\"\nSteps: 50, Sampler: LCM, CFG scale: 1.5, Seed: 18446744073709551615, Size: 64x64"},
]


def stub(name, **attributes):
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


def main():
    webui = os.environ.get("A1111_WEBUI")
    if not webui:
        sys.exit("set A1111_WEBUI to a checkout of AUTOMATIC1111/stable-diffusion-webui")
    sys.path.insert(0, webui)
    opts = types.SimpleNamespace(infotext_styles="Ignore", use_old_hires_fix_width_height=False, infotext_skip_pasting=[])
    stub("gradio", update=lambda **kwargs: kwargs, components=types.SimpleNamespace(Component=object))
    modules = stub("modules")
    modules.__path__ = [os.path.join(webui, "modules")]
    for name, attributes in [("paths", {"data_path": webui}), ("shared", {"opts": opts}), ("ui_tempdir", {}),
                             ("script_callbacks", {}), ("processing", {}), ("infotext_versions", {"backcompat": lambda res: None})]:
        setattr(modules, name, stub(f"modules.{name}", **attributes))
    from modules.infotext_utils import parse_generation_parameters

    out = [dict(case, a1111=parse_generation_parameters(case["infotext"])) for case in CASES]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "infotext_a1111_parse.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
