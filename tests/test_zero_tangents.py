"""A tangent or cotangent lane that is exactly 0 contributes exactly 0, whatever the local
derivative (README, "Nondifferentiable points"): masked-out branches of `where`, constants
and inputs that do not move must not turn 0 * inf or 0 * NaN into NaN.

Every derivative kernel the engine declares (every op of the UNARY/BINARY/TERNARY tables,
every order, both dtypes) is called directly at points where derivatives of the ops are inf or NaN,
with zero lanes, and its zero-lane outputs must be exactly 0 (accumulating ones: unchanged).
test_points_bite checks that the points do make each op's derivatives non-finite, so the
zero checks are not vacuous.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import gpuad  # noqa: F401  (declares the instantiations)
from gpuad import runtime
from gpuad.primitives import elementwise as E

NAME = re.compile(r"(\w+)<ops::(\w+), (float|double)(?:, (\d+))?(?:, (\d+))?(?:, (\d+))?>")
OPS = {v[0]: k for k, v in {**E.UNARY, **E.BINARY, **E.TERNARY}.items()}
I32 = np.int32

# 0: log, sqrt, reciprocal, power's base (x**0.5); +-1: arcsin, arccos, arctanh, log1p(-1);
# 1e10: exp, exp2, expm1, sinh, cosh overflow (in float32 too); +-inf and NaN: the rest
# (sin, tanh, erf, ... have NaN derivatives there, as at a masked-out branch's value).
POINTS = [0.0, 1.0, -1.0, 1e10, -1e10, np.inf, -np.inf, np.nan, 0.5]
# Ops whose derivatives of every order are finite at every point above, NaN included (the
# comparisons in sgn, step and pick read NaN as "not greater"): only the zero checks apply.
BOUNDED = {"negative", "abs", "sign", "relu", "add", "subtract", "maximum", "minimum"}


def declared_derivative_kernels():
    out = []
    for spec in runtime.all_modules():
        if spec.source != E.SOURCE:
            continue
        for name in spec.name_expressions:
            m = NAME.fullmatch(name)
            assert m, f"cannot parse declared instantiation {name}"
            if not m.group(1).endswith("_fwd"):
                out.append(pytest.param(name, m.group(1), OPS[m.group(2)],
                                        np.float32 if m.group(3) == "float" else np.float64,
                                        id=name))
    return out


KERNELS = declared_derivative_kernels()


def call(name, *args):
    runtime.get_kernel(E.SOURCE, name, "cpu")((1,), (1,), args)


def operands(op, dt):
    """Every point (unary), every pair (binary) or every triple (ternary) of points, as
    arrays of dtype dt (a ternary op's as a tuple of three)."""
    p = np.array(POINTS, dt)
    if op in E.UNARY:
        return p, None
    if op in E.TERNARY:
        g = np.meshgrid(p, p, p, indexing="ij")
        return g[0].ravel(), (g[1].ravel(), g[2].ravel())
    return np.repeat(p, p.size), np.tile(p, p.size)


def lanes(n, dt, zero_lane=0):
    """Two lanes: lane `zero_lane` exactly 0, the other ones."""
    t = np.ones((2, n), dt)
    t[zero_lane] = 0
    return t


def run_zero(kind, name, x, y, dt):
    """Launch `name` with zero tangent/cotangent lanes in each of the kernel's branches;
    return the outputs (or output lanes) that must be exactly 0, and those that must be 1."""
    n = x.size
    z, one, e = np.zeros(n, dt), np.ones(n, dt), lambda *s: np.full(s, 7, dt)   # noqa: E731
    zeros, ones = [], []
    if kind == "unary_jvp":
        out1, out2 = e(n), e(2, n)
        call(name, x, z, out1, n, 1)                       # one lane
        call(name, x, lanes(n, dt), out2, n, 2)            # lane 0 zero, lane 1 not
        zeros += [out1, out2[0]]
    elif kind == "unary_vjp":
        plain, acc, bcast, bacc, multi = e(n), np.ones(n, dt), e(n), np.ones(n, dt), e(2, n)
        call(name, x, z, plain, n, 1, I32(0), I32(1))
        call(name, x, z, acc, n, 1, I32(1), I32(1))                      # accumulate
        call(name, x, np.zeros(1, dt), bcast, n, 1, I32(0), I32(0))      # sg = 0: broadcast g
        call(name, x, np.zeros(1, dt), bacc, n, 1, I32(1), I32(0))
        call(name, x, lanes(n, dt), multi, n, 2, I32(0), I32(1))
        zeros += [plain, bcast, multi[0]]
        ones += [acc, bacc]
    elif kind == "unary_vjp_dual":
        gx, tgx = e(n), e(2, n)
        call(name, x, z, np.zeros((2, n), dt), np.zeros((2, n), dt), gx, tgx, n, 2, I32(0))
        zeros += [gx, tgx]
        gx, tgx = e(n), e(2, n)                          # g = 0 kills f'' tx g; tg = 0
        call(name, x, z, np.ones((2, n), dt), None, gx, tgx, n, 2, I32(0))
        zeros += [gx, tgx]
        tgx = e(2, n)                                    # lane 0 of tx and tg zero, g = 1
        call(name, x, one, lanes(n, dt), lanes(n, dt), e(n), tgx, n, 2, I32(0))
        zeros += [tgx[0]]
    elif kind == "binary_jvp":
        out, out2, out3 = e(2, n), e(2, n), e(1, n)
        call(name, x, y, np.zeros((2, n), dt), np.zeros((2, n), dt), out, n, 2, I32(1), I32(1))
        call(name, x, y, lanes(n, dt), lanes(n, dt), out2, n, 2, I32(1), I32(1))
        call(name, x, y, None, np.zeros((1, n), dt), out3, n, 1, I32(1), I32(1))
        zeros += [out, out2[0], out3]
    elif kind == "binary_vjp":
        gx, gy = e(n), e(n)
        call(name, x, y, z, gx, gy, n, I32(1), I32(1), I32(1), I32(0), I32(0))   # plain loop
        zeros += [gx, gy]
        ax, ay = np.ones(n, dt), np.ones(n, dt)
        call(name, x, y, z, ax, ay, n, I32(1), I32(1), I32(1), I32(1), I32(1))   # accumulate
        ones += [ax, ay]
        bx, by = e(n), e(n)
        call(name, x, y, np.zeros(1, dt), bx, by, n, I32(1), I32(1), I32(0), I32(0), I32(0))
        zeros += [bx, by]
        ox = e(n)                                                                  # gy not wanted
        call(name, x, y, z, ox, None, n, I32(1), I32(1), I32(1), I32(0), I32(0))
        zeros += [ox]
    elif kind == "binary_vjp_dual":
        def launch(g, tx, ty, tg):
            outs = e(n), e(n), e(2, n), e(2, n)
            call(name, x, y, g, tx, ty, tg, *outs, n, 2, I32(1), I32(1), I32(0), I32(0))
            return outs
        Z2 = np.zeros((2, n), dt)
        zeros += list(launch(z, Z2, Z2, Z2))
        zeros += list(launch(z, np.ones((2, n), dt), np.ones((2, n), dt), Z2))
        _, _, tgx, tgy = launch(one, lanes(n, dt), lanes(n, dt), lanes(n, dt))
        zeros += [tgx[0], tgy[0]]
    elif kind == "binary_deriv":
        out, out1 = e(2, n), e(1, n)
        call(name, x, y, lanes(n, dt), out, n, 2, I32(1), I32(1))
        call(name, x, y, np.zeros((1, n), dt), out1, n, 1, I32(1), I32(1))
        zeros += [out[0], out1]
    elif kind == "ternary_deriv":
        (y, w), out, out1 = y, e(2, n), e(1, n)
        call(name, x, y, w, lanes(n, dt), out, n, 2, I32(1), I32(1), I32(1))
        call(name, x, y, w, np.zeros((1, n), dt), out1, n, 1, I32(1), I32(1), I32(1))
        zeros += [out[0], out1]
    else:
        raise AssertionError(f"no zero check for kernel family {kind}")
    return zeros, ones


@pytest.mark.parametrize("name,kind,op,dt", KERNELS)
def test_zero_lane_contributes_zero(name, kind, op, dt):
    x, y = operands(op, dt)
    zeros, ones = run_zero(kind, name, x, y, dt)
    for i, a in enumerate(zeros):
        assert np.all(a == 0), f"{name}: output {i} at zero lanes: {a} (points {x}, {y})"
    for i, a in enumerate(ones):
        assert np.all(a == 1), f"{name}: accumulated output {i} changed by a zero cotangent: {a}"


def derivatives(kind, name, x, y, dt):
    """The kernel's outputs with unit tangents/cotangents everywhere."""
    n = x.size
    o = lambda *s: np.ones(s, dt)   # noqa: E731
    if kind == "unary_jvp":
        out = np.empty(n, dt); call(name, x, o(n), out, n, 1); return [out]
    if kind == "unary_vjp":
        out = np.empty(n, dt); call(name, x, o(n), out, n, 1, I32(0), I32(1)); return [out]
    if kind == "unary_vjp_dual":
        gx, tgx = np.empty(n, dt), np.empty((1, n), dt)
        call(name, x, o(n), o(1, n), None, gx, tgx, n, 1, I32(0))
        return [gx, tgx]
    if kind == "binary_deriv":
        out = np.empty(n, dt); call(name, x, y, o(1, n), out, n, 1, I32(1), I32(1)); return [out]
    if kind == "ternary_deriv":
        out = np.empty(n, dt)
        call(name, x, *y, o(1, n), out, n, 1, I32(1), I32(1), I32(1))
        return [out]
    if kind == "binary_vjp":
        gx, gy = np.empty(n, dt), np.empty(n, dt)
        call(name, x, y, o(n), gx, gy, n, I32(1), I32(1), I32(1), I32(0), I32(0))
        return [gx, gy]
    return []   # binary_jvp, binary_vjp_dual: the same partials as binary_vjp/binary_deriv


@pytest.mark.parametrize("op", sorted({*E.UNARY, *E.BINARY, *E.TERNARY}))
def test_points_bite(op):
    """Some declared derivative kernel of `op` is inf or NaN at one of POINTS (with unit
    lanes), unless `op` is listed as BOUNDED."""
    blown = []
    for p in KERNELS:
        name, kind, op_, dt = p.values
        if op_ != op:
            continue
        x, y = operands(op, dt)
        for a in derivatives(kind, name, x, y, dt):
            if not np.all(np.isfinite(a)):
                blown.append(name)
    if op in BOUNDED:
        assert not blown, f"{op} is listed as BOUNDED but {blown} are not finite"
    else:
        assert blown, f"no derivative of {op} is inf or NaN at {POINTS}: pick a point for it"
