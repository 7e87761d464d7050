# Golden values of PyTorch's CPU random generator, for Sources/Sampling/Random (TorchGenerator).
#
# Run from the repository root (needs torch and safetensors; the project venv has both):
#     /work/venv/bin/python Tests/Fixtures/make_random_fixtures.py
# It writes Tests/Fixtures/random.safetensors, all fp32:
#   "seed<S>.randn.<shape>"      torch.randn(shape, generator=torch.Generator("cpu").manual_seed(S))
#                                on a fresh generator. Shapes of 1..100 elements are stored whole; the
#                                1x4x64x64 one (16384 values) as ".head" (first 64), ".tail" (last 64),
#                                ".strided" (every 97th value) and ".sum" (float64 sum, rounded to fp32).
#   "seed<S>.sequence.<k>"       the k-th result of one generator's sequence of calls (see SEQUENCE),
#                                which exercises the state carried between calls (engine position and
#                                the cached second Box-Muller value of the scalar path).
#   "seed<S>.rand.5", "seed<S>.randint.0_1000.8"   uniform floats and integers from fresh generators.
#   "scalar.seed<S>.randn.<shape>" the same from PyTorch's non-vectorised normal kernel, computed in a
#                                child process with ATEN_CPU_CAPABILITY=default (the >= 16 values path
#                                has a scalar and an AVX2 Box-Muller, which differ in the last bits).
# Seeds: 0, 42, 2^32 + 5 (the engine keeps only the low 32 bits) and a large 63-bit seed. The
# metadata records torch's version and CPU capability (the AVX2 kernel serves AVX2 and AVX-512).
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

SEEDS = {"0": 0, "42": 42, "4294967301": 2**32 + 5, "9223372036854775783": 9223372036854775783}
SHAPES = [(1,), (7,), (15,), (16,), (17,), (100,), (1, 4, 8, 8), (1, 4, 64, 64)]
# (kind, argument): one generator, these calls in order.
SEQUENCE = [
    ("randn", (16,)), ("randn", (3,)), ("randn", (1, 4, 8, 8)),
    ("randn", (1,)), ("randn", (1,)), ("randn", (17,)), ("randn", (1,)),
    ("rand", (5,)), ("randn", (2,)), ("randint", (0, 1000, (4,))), ("randn", (1, 4, 4, 4)),
]


def shape_name(shape):
    return "x".join(str(d) for d in shape)


def generator(seed):
    return torch.Generator("cpu").manual_seed(seed)


SCALAR_SHAPES = [(17,), (1, 4, 8, 8)]

if len(sys.argv) == 3 and sys.argv[1] == "--scalar-kernel":
    # Child process: ATen picked its kernels at start-up from ATEN_CPU_CAPABILITY=default.
    assert torch.backends.cpu.get_cpu_capability() == "DEFAULT"
    save_file({f"scalar.seed{label}.randn.{shape_name(shape)}": torch.randn(shape, generator=generator(seed))
               for label, seed in SEEDS.items() for shape in SCALAR_SHAPES}, sys.argv[2])
    sys.exit(0)

tensors = {}
with tempfile.TemporaryDirectory() as scratch:
    part = os.path.join(scratch, "scalar.safetensors")
    subprocess.run([sys.executable, __file__, "--scalar-kernel", part], check=True,
                   env={**os.environ, "ATEN_CPU_CAPABILITY": "default"})
    tensors.update(load_file(part))

for label, seed in SEEDS.items():
    for shape in SHAPES:
        values = torch.randn(shape, generator=generator(seed), dtype=torch.float32)
        name = f"seed{label}.randn.{shape_name(shape)}"
        flat = values.flatten()
        if flat.numel() > 1000:
            tensors[name + ".head"] = flat[:64].clone()
            tensors[name + ".tail"] = flat[-64:].clone()
            tensors[name + ".strided"] = flat[::97].clone()
            tensors[name + ".sum"] = flat.double().sum().float().reshape(1)
        else:
            tensors[name] = values
    g = generator(seed)
    for k, (kind, argument) in enumerate(SEQUENCE):
        if kind == "randn":
            value = torch.randn(argument, generator=g, dtype=torch.float32)
        elif kind == "rand":
            value = torch.rand(argument, generator=g, dtype=torch.float32)
        else:
            low, high, shape = argument
            value = torch.randint(low, high, shape, generator=g).float()
        tensors[f"seed{label}.sequence.{k}"] = value
    tensors[f"seed{label}.rand.5"] = torch.rand(5, generator=generator(seed), dtype=torch.float32)
    tensors[f"seed{label}.randint.0_1000.8"] = torch.randint(0, 1000, (8,), generator=generator(seed)).float()

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "random.safetensors")
metadata = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
save_file({k: v.contiguous() for k, v in tensors.items()}, out, metadata=metadata)
print(f"wrote {len(tensors)} tensors to {out} ({metadata})")
