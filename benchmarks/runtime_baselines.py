#!/usr/bin/env python3
"""OpenVINO and ONNX Runtime baselines for `dbbench models` (issue 13, item 6): the UNet's
classifier-free-guidance step (batch 2) and the VAE decode of the same diffusers folder, converted
with static shapes at fp32 — `openvino.convert_model(module, example_input=…)` and
`torch.onnx.export` — and run with the thread count dbbench uses, after one warm-up, median of the
repetitions. Each output is checked against PyTorch's on the same inputs (the largest difference
relative to the output's scale is printed in the row). Prints JSON rows in dbbench's format, one
per runtime and component, so that benchmarks/models.sh can print every ratio from one run.

    HF_HUB_OFFLINE=1 python benchmarks/runtime_baselines.py --model DIR --threads 2 --repetitions 3
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_baseline import measure  # noqa: E402  (the same warm-up and median as the PyTorch rows)


class UNetStep(torch.nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, context):
        return self.unet(sample, timestep, encoder_hidden_states=context).sample


class VAEDecode(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latents):
        return self.vae.decode(latents).sample


def relative_difference(ours, reference):
    reference = reference.numpy()
    return float(np.abs(ours - reference).max() / max(np.abs(reference).max(), 1e-30))


def openvino_runner(module, inputs, threads):
    import openvino as ov
    model = ov.convert_model(module, example_input=inputs)
    model.reshape({port: ov.PartialShape(list(x.shape)) for port, x in zip(model.inputs, inputs)})  # static shapes
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    arrays = [x.numpy() for x in inputs]
    return lambda: request.infer(arrays)[compiled.output(0)]


def onnxruntime_runner(module, inputs, threads, folder):
    import onnxruntime as ort
    path = os.path.join(folder, f"{type(module).__name__}.onnx")
    names = [f"input{i}" for i in range(len(inputs))]
    with torch.inference_mode():
        torch.onnx.export(module, tuple(inputs), path, input_names=names, output_names=["output"], opset_version=17, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {name: x.numpy() for name, x in zip(names, inputs)}
    return lambda: session.run(None, feed)[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--sizes", default="32,64", help="latent sides, comma-separated")
    parser.add_argument("--runtimes", default="openvino,onnxruntime")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet").eval()
    vae = AutoencoderKL.from_pretrained(args.model, subfolder="vae").eval()
    g = torch.Generator().manual_seed(0)
    context_width = unet.config.cross_attention_dim
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in [int(s) for s in args.sizes.split(",")]:
            cases = [
                (f"UNet batch 2, {size}×{size} latents ({size * 8} px)", UNetStep(unet),
                 [torch.randn(2, 4, size, size, generator=g), torch.tensor([500, 500]), torch.randn(2, 77, context_width, generator=g)]),
                (f"VAE decode, {size}×{size} latents ({size * 8} px)", VAEDecode(vae), [torch.randn(1, 4, size, size, generator=g)]),
            ]
            for name, module, inputs in cases:
                with torch.inference_mode():
                    reference = module(*inputs)
                repetitions = args.repetitions if name.startswith("UNet") else max(1, args.repetitions // 2)
                for runtime in args.runtimes.split(","):
                    run = openvino_runner(module, inputs, args.threads) if runtime == "openvino" \
                        else onnxruntime_runner(module, inputs, args.threads, folder)
                    difference = relative_difference(np.asarray(run()), reference)
                    rows.append({"name": name, "runtime": runtime, "seconds": measure(repetitions, run),
                                 "relative_difference": difference})
                    del run
    print(json.dumps(rows, ensure_ascii=False))


if __name__ == "__main__":
    main()
