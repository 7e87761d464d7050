#!/usr/bin/env python3
"""AUTOMATIC1111's emphasis parser (modules/prompt_parser.py: parse_prompt_attention) on the prompts
below, for PromptEmphasisTests: each prompt's runs of text and weights, or the exception it raises.
The reference is A1111's own code, imported from a checkout of AUTOMATIC1111/stable-diffusion-webui
(its module also imports lark and torch, both on PyPI):

    A1111_WEBUI=/path/to/stable-diffusion-webui .venv/bin/python Tests/Fixtures/make_prompt_emphasis_fixtures.py

Writes Tests/Fixtures/prompt_emphasis.json. Weights are strings, Python's repr of the double, which a
correctly rounded parser (Swift's Double(String)) reads back to the same bits; JSON numbers would go
through Foundation's JSON parser, which is not.
"""
import json
import os
import sys

sys.path.insert(0, os.environ["A1111_WEBUI"])
from modules.prompt_parser import parse_prompt_attention  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

PROMPTS = [
    "",
    "normal text",
    "an (important) word",
    "(unbalanced",
    "\\(literal\\]",
    "(unnecessary)(parens)",
    "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
    "a photo of (sks dog:1.3) in a bucket",
    "[[[faint]]] and ((((loud))))",
    "((a) b) c",
    "(a [b] c:1.5)",
    "[a (b) c]",
    "(a:+1.2) (b:-0.5) (c:.5) (d:5.) (e:0)",
    "(a: 1.3)",
    "a: b, c:d",
    "(a:1.3",
    "((a)",
    "a]b)c",
    "a ) b ] c",
    "(a:1.2:1.3)",
    "(a:1.2)(b:1.2)",
    "\\\\ backslash \\ lone \\x",
    "\\)\\[\\]\\(",
    "()",
    "[[]]",
    "([])",
    "a BREAK b",
    "BREAK",
    "BREAK a BREAK",
    "a BREAK BREAK b",
    "a\tBREAK\nb",
    "BREAKfast and xBREAK and BREAK_ and BREAK, ok",
    "(a BREAK b) c",
    "[a BREAK b]",
    "a,BREAK,b",
    "café (crème brûlée:1.2) 日本 (猫)",
    "(\u0301x)",
    "a ((b:0.9):1.1) c",
    "masterpiece, best quality, (1girl:1.1), [blurry], ((detailed eyes)), (sks person:1.4) BREAK red dress",
    "(a:1.2.3)",
    "(a:.)",
]


def main():
    cases = []
    for prompt in PROMPTS:
        try:
            runs = [[text, repr(float(weight))] for text, weight in parse_prompt_attention(prompt)]
            cases.append({"prompt": prompt, "runs": runs})
        except ValueError as error:
            cases.append({"prompt": prompt, "error": type(error).__name__})
    with open(os.path.join(HERE, "prompt_emphasis.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "AUTOMATIC1111/stable-diffusion-webui modules/prompt_parser.py parse_prompt_attention",
                   "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote prompt_emphasis.json: {len(cases)} prompts")


if __name__ == "__main__":
    main()
