"""The CPU path: elementwise kernels over 10^6 float64 (or float32) against the same NumPy
expression, measured in the same run, both cores in use.

Forward: gnp.<op>(x) vs np.<op>(x). Fused VJP: gpuad's one-pass VJP kernel vs the NumPy
expression of the same cotangent (which needs two or three passes). Launch overhead: a
kernel call on 10 elements through the runtime, and through gpuad.numpy.

    python benchmarks/bench_elementwise.py [--dtype float64|float32] [--derivatives]

--derivatives: instead, the derivative kernels alone (unary_jvp<Op, T, K>, binary_deriv<Op,
T, a, b>), launched on one thread, best of 5, both dtypes: the cost of their forms.

The instruction set the kernels were built for is printed (GPUAD_HOST_ISA caps it; compare
levels by running once per value).
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import time

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
    # (name, a call of gpuad's fused VJP, NumPy expression of the same cotangent(s))
    g0 = np.broadcast_to(g[:1].reshape(()), (N,))     # a sum's cotangent: one element, stride 0
    pb = lambda f, *a: gpuad.vjp(f, *a)[1]      # noqa: E731  (the pullback of f at a)
    mul = pb(gnp.multiply, x, y)
    vjp = [
        ("sin_vjp", functools.partial(pb(gnp.sin, x), g), lambda: np.cos(x) * g),
        ("tanh_vjp", functools.partial(pb(gnp.tanh, x), g), lambda: (1 - np.tanh(x) ** 2) * g),
        ("sigmoid_vjp", functools.partial(pb(gnp.sigmoid, x), g),
         lambda: (lambda s: s * (1 - s) * g)(1 / (1 + np.exp(-x)))),
        ("multiply_vjp", functools.partial(mul, g), lambda: (g * y, g * x)),
        ("divide_vjp", functools.partial(pb(gnp.divide, x, y), g),
         lambda: (g / y, -g * x / (y * y))),
        # (since 2026-12-04's fourth session: one operand's cotangent, a broadcast cotangent
        # or operand, each a plain loop of its own; before, one strided scalar loop)
        ("multiply_vjp, x * y for constant y", functools.partial(pb(lambda a: a * y, x), g),
         lambda: g * y),
        ("divide_vjp, x / y for constant y", functools.partial(pb(lambda a: a / y, x), g),
         lambda: g / y),
        ("multiply_vjp, x * 3.0", functools.partial(pb(lambda a: a * 3.0, x), g),
         lambda: g * 3.0),
        ("multiply_vjp, a sum's cotangent", functools.partial(mul, g0),
         lambda: (g0 * y, g0 * x)),
    ]
    return x, y, g, forward, binary, vjp


# (label, op, orders): unary (K,) or binary (a, b); x in (0.5, 3), y in (-3, 3)
DERIVATIVES = [("d^2/dy^2 x**y", "power", (0, 2)), ("d/dy x**y", "power", (0, 1)),
               ("exp2''", "exp2", (2,)), ("exp2'", "exp2", (1,)), ("erf''", "erf", (2,)),
               ("tan''", "tan", (2,))]


def derivatives():
    from gpuad.primitives import elementwise as E
    rng = np.random.default_rng(0)
    rows = []
    for dt in (np.float64, np.float32):
        ct = {np.float64: "double", np.float32: "float"}[dt]
        x, y = rng.uniform(0.5, 3, N).astype(dt), rng.uniform(-3, 3, N).astype(dt)
        ones, out = np.ones(N, dt), np.empty(N, dt)
        for label, op, k in DERIVATIVES:
            if len(k) == 1:   # unary: the op on y (both signs)
                name = f"unary_jvp<ops::{E.UNARY[op][0]}, {ct}, {k[0]}>"
                args = (y, ones, out, N, 1)
            else:
                name = f"binary_deriv<ops::{E.BINARY[op][0]}, {ct}, {k[0]}, {k[1]}>"
                args = (x, y, ones, out, N, 1, np.int32(1), np.int32(1))
            kern = runtime.get_kernel(E.SOURCE, name, "cpu")
            kern((1,), (1,), args)   # the build, then best of 5
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                kern((1,), (1,), args)
                ts.append(time.perf_counter() - t0)
            t = min(ts)
            rows.append((label, dt.__name__, f"{t * 1e3:.1f}"))
    print(f"derivative kernels over {N} elements, one thread, best of 5, "
          f"kernels built for {gpuad.runtime.host.host_isa()}")
    print(table(rows, ["kernel", "dtype", "ms"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    ap.add_argument("--derivatives", action="store_true")
    a = ap.parse_args()
    if a.derivatives:
        return derivatives()
    dt = np.dtype(a.dtype)
    x, y, g, forward, binary, vjp = cases(dt)
    rows = []
    for name, f, ref in forward:
        a, b = median_time(lambda: f(x)), median_time(lambda: ref(x))
        rows.append((name, f"{a * 1e3:.2f}", f"{b * 1e3:.2f}", f"{a / b:.2f}"))
    for name, f, ref in binary:
        a, b = median_time(lambda: f(x, y)), median_time(lambda: ref(x, y))
        rows.append((name, f"{a * 1e3:.2f}", f"{b * 1e3:.2f}", f"{a / b:.2f}"))
    for name, fn, ref in vjp:
        a, b = median_time(fn), median_time(ref)
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
