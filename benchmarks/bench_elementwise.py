"""The CPU path: elementwise kernels over 10^6 float64 (or float32) against the same NumPy
expression, measured in the same run, both cores in use.

Forward: gnp.<op>(x) vs np.<op>(x). Fused VJP: gpuad's one-pass VJP kernel vs the NumPy
expression of the same cotangent (which needs two or three passes). Launch overhead: a
kernel call on 10 elements through the runtime, and through gpuad.numpy.

    python benchmarks/bench_elementwise.py [--dtype float64|float32]

The instruction set the kernels were built for is printed (GPUAD_HOST_ISA caps it; compare
levels by running once per value).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _peers import median_time, table   # noqa: E402

import gpuad                        # noqa: E402
import gpuad.numpy as gnp           # noqa: E402
from gpuad import runtime           # noqa: E402

N = 10 ** 6


def cases(dt):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, N).astype(dt)
    y = rng.uniform(1.1, 1.9, N).astype(dt)
    g = rng.standard_normal(N).astype(dt)
    forward = [
        ("exp", gnp.exp, np.exp), ("log", gnp.log, np.log), ("sin", gnp.sin, np.sin),
        ("tanh", gnp.tanh, np.tanh), ("expm1", gnp.expm1, np.expm1), ("log1p", gnp.log1p, np.log1p),
        ("arctan", gnp.arctan, np.arctan), ("sqrt", gnp.sqrt, np.sqrt), ("square", gnp.square, np.square),
        ("negative", gnp.negative, np.negative), ("sigmoid", gnp.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    ]
    binary = [("add", gnp.add, np.add), ("multiply", gnp.multiply, np.multiply),
              ("divide", gnp.divide, np.divide), ("power", gnp.power, np.power),
              ("maximum", gnp.maximum, np.maximum)]
    # (name, gpuad fused VJP, NumPy expression of the same cotangent(s))
    vjp = [
        ("sin_vjp", gpuad.vjp(gnp.sin, x)[1], lambda: np.cos(x) * g),
        ("tanh_vjp", gpuad.vjp(gnp.tanh, x)[1], lambda: (1 - np.tanh(x) ** 2) * g),
        ("sigmoid_vjp", gpuad.vjp(gnp.sigmoid, x)[1],
         lambda: (lambda s: s * (1 - s) * g)(1 / (1 + np.exp(-x)))),
        ("multiply_vjp", gpuad.vjp(gnp.multiply, x, y)[1], lambda: (g * y, g * x)),
        ("divide_vjp", gpuad.vjp(gnp.divide, x, y)[1], lambda: (g / y, -g * x / (y * y))),
    ]
    return x, y, g, forward, binary, vjp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    dt = np.dtype(ap.parse_args().dtype)
    x, y, g, forward, binary, vjp = cases(dt)
    rows = []
    for name, f, ref in forward:
        a, b = median_time(lambda: f(x)), median_time(lambda: ref(x))
        rows.append((name, f"{a * 1e3:.2f}", f"{b * 1e3:.2f}", f"{a / b:.2f}"))
    for name, f, ref in binary:
        a, b = median_time(lambda: f(x, y)), median_time(lambda: ref(x, y))
        rows.append((name, f"{a * 1e3:.2f}", f"{b * 1e3:.2f}", f"{a / b:.2f}"))
    for name, fn, ref in vjp:
        a, b = median_time(lambda: fn(g)), median_time(ref)
        rows.append((name + " (fused)", f"{a * 1e3:.2f}", f"{b * 1e3:.2f}", f"{a / b:.2f}"))
    print(f"elementwise over {N} {dt.name}, {gpuad.runtime.host.cpu_workers()} worker threads, "
          f"kernels built for {gpuad.runtime.host.host_isa()}")
    print(table(rows, ["kernel", "gpuad ms", "NumPy ms", "gpuad / NumPy"]))

    k = runtime.get_kernel("elementwise.cu", "unary_fwd<ops::Sin, double>", "cpu")
    small, out = np.ones(10), np.empty(10)
    args = (small, out, np.int64(10))
    raw = median_time(lambda: k((1,), (1,), args), repeat=2000)
    api = median_time(lambda: gnp.sin(small), repeat=2000)
    npy = median_time(lambda: np.sin(small), repeat=2000)
    print()
    print(table([("runtime kernel call (10 elements)", f"{raw * 1e6:.2f}"),
                 ("gnp.sin (10 elements, engine + launch)", f"{api * 1e6:.2f}"),
                 ("np.sin (10 elements)", f"{npy * 1e6:.2f}")],
                ["launch overhead", "us"]))


if __name__ == "__main__":
    main()
