"""ndtri, erfinv and erfcinv (kernels/ops/special.cuh: Wichura's AS 241, then in double one
Newton step on erf or erfc) against mpmath, over the whole domain and its tails: p from the
smallest subnormal to 1 - 2^-53, erfinv's y from 1e-300 (and subnormals) to +-(1 - 2^-53),
erfcinv's z from the smallest subnormal to 2 - 2^-52; plus the transcription of AS 241's
coefficients (the published hash sums) and the values at the domain's ends.

References: the root of erf(u) = y or erfc(u) = z by Newton's method in mpmath at 120 bits,
started at the kernel's value, until a step is below 2^-100 relative, with
ndtri(p) = -sqrt 2 erfcinv(2p) and 2p, 1 - p, 2 - z formed exactly in mpmath.

Tolerances, from the arithmetic (eps = 2^-52):
- float64 where the Newton step is taken (u = |erfcinv| < 26): 4 eps relative. The step
  leaves erf's or erfc's own error (glibc: <= 1 ulp for erf; erfc's, in the tails where it is
  used, is divided by ~2u^2, erfc's condition there) times the inverse's condition number
  (<= 2.1, at the central region's edge |y| = 0.85), plus the step's and sqrt 2's roundings
  (measured at most 2.8 ulp over 15000 random points).
- float64 beyond (z or 2p < 1e-296, where e^-u^2 leaves the normal range and AS 241 stands
  alone): 8 eps: AS 241's own 1e-16 plus two degree-7 Horner sums of positive terms and one
  division (<= 0.5 ulp each step, in practice partly cancelling; measured 3.9 ulp).
- float32 (AS 241 alone, in double, rounded once to float): half a float ulp plus 1e-15
  relative (the double's distance from the true value moves a rounding near a midpoint).
- a subnormal result (erfinv of a subnormal y) may be off by one unit of the subnormal grid
  more: its relative precision is what the grid leaves.
"""
from __future__ import annotations

import decimal
import pathlib
import re

import mpmath as mp
import numpy as np
import pytest

import gpuad  # noqa: F401  (declares the instantiations)
from gpuad import runtime
from gpuad.primitives import elementwise as E

EPS = 2.0 ** -52
TINY = 5e-324
SPECIAL = pathlib.Path(gpuad.__file__).parent / "kernels" / "ops" / "special.cuh"


def kernel(op, x):
    T = "double" if x.dtype == np.float64 else "float"
    out = np.empty_like(x)
    runtime.get_kernel(E.SOURCE, f"unary_fwd<ops::{op}, {T}>", "cpu")((1,), (1,),
                                                                     (x, out, x.size))
    return out


# ---------------------------------------------------------------- references

def _root(f, df, u):
    """Newton's method in mpmath from u (the kernel's value, within ~1e-7 relative of the
    root), until a step is below 2^-100 relative (the error after it, ~ its square, far less)."""
    u = mp.mpf(u)
    for _ in range(8):
        step = f(u) / df(u)
        u -= step
        if abs(step) <= mp.mpf(2) ** -100 * abs(u):
            return u
    raise AssertionError(f"Newton's method did not converge: {u}, {step}")


def _derf(u):
    return 2 / mp.sqrt(mp.pi) * mp.exp(-u * u)


def erfinv_ref(y, u0):
    """erf^-1(y), |y| <= 1/2 (erf(u) = y directly)."""
    return _root(lambda u: mp.erf(u) - y, _derf, u0)


def erfcinv_ref(z, u0):
    """erfc^-1(z), 0 < z <= 1 (erfc(u) = z: the tail keeps its relative accuracy)."""
    return _root(lambda u: mp.erfc(u) - z, lambda u: -_derf(u), u0)


def references(op, x, got):
    """mpf references for the float64 inputs x; Newton from got, the kernel's values."""
    out = []
    with mp.workprec(120):
        s = mp.sqrt(2)
        for v, g in zip(x.tolist(), got.astype(np.float64).tolist()):
            v = mp.mpf(v)
            if op == "Erfinv":      # |y| > 1/2: erfcinv(1 - |y|), 1 - |y| exact
                r = erfinv_ref(v, g) if abs(v) <= 0.5 else \
                    mp.sign(v) * erfcinv_ref(1 - abs(v), abs(g))
            elif op == "Erfcinv":   # z > 1: -erfcinv(2 - z), 2 - z exact
                r = erfcinv_ref(v, g) if v <= 1 else -erfcinv_ref(2 - v, -g)
            else:                   # Ndtri: -sqrt 2 erfcinv(2p); p > 1/2: sqrt 2 erfcinv(2(1 - p))
                r = -s * erfcinv_ref(2 * v, -g / s) if v <= 0.5 else \
                    s * erfcinv_ref(2 * (1 - v), g / s)
            out.append(r)
    return out


def check(op, x, rtol, sub=0.0):
    got = kernel(op, x)
    ref = references(op, x, got)
    bad = []
    for v, g, r in zip(x.tolist(), got.tolist(), ref):
        err = abs(mp.mpf(g) - r)
        if not err <= rtol * abs(r) + sub:
            bad.append(f"x = {v!r}: got {g!r}, want {mp.nstr(r, 20)} "
                       f"({float(err / abs(r)) / EPS:.2f} eps)")
    assert not bad, f"{op}: {len(bad)} of {x.size} points, e.g.\n  " + "\n  ".join(bad[:10])


RNG = np.random.default_rng(20261130)
N = 120


def logspace(lo, hi, n=N):
    return 10.0 ** RNG.uniform(lo, hi, n)


def near(v, k=4):
    """v and its k neighbours on each side (the regions' switches)."""
    out = [v]
    for d in (np.inf, -np.inf):
        w = v
        for _ in range(k):
            w = np.nextafter(w, d)
            out.append(w)
    return out


# The regions' switches: |q| = 0.425, s = sqrt(-log p) = 5; and u = 26, the last point of
# the Newton step (erfc(26) = 5.6e-296: 2p or z below it are the _FAR sets).
U26 = float(mp.erfc(26))
P_REFINED = np.unique(np.concatenate([
    RNG.uniform(0.075, 0.925, N), logspace(-295, np.log10(0.075)),
    1 - logspace(-16, np.log10(0.075)),
    near(0.075) + near(0.925) + near(float(np.exp(-25.0))) + near(1 - float(np.exp(-25.0))),
    [0.5, 0.25, np.nextafter(0.25, 0), 1 - 2.0 ** -53, 1 - 2.0 ** -52, 1e-295]]))
P_FAR = np.unique(np.concatenate([logspace(-323.5, -296.5), near(U26 / 2),
                                  [TINY, 2 * TINY, 2.0 ** -1022]]))

Y_REFINED = np.unique(np.concatenate([
    RNG.uniform(-0.85, 0.85, N), logspace(-300, -1), -logspace(-300, -1),
    1 - logspace(-16, np.log10(0.15)), -(1 - logspace(-16, np.log10(0.15))),
    near(0.85), near(-0.85), near(0.5), [1 - 2.0 ** -53, -(1 - 2.0 ** -53), 1e-300, -1e-300]]))
Y_SUBNORMAL = np.unique(np.concatenate([logspace(-323.5, -308), -logspace(-323.5, -308),
                                        [TINY, -TINY, 2.0 ** -1022]]))

Z_REFINED = np.unique(np.concatenate([
    RNG.uniform(0.15, 1.85, N), logspace(-295, np.log10(0.15)),
    2 - logspace(-15.6, np.log10(0.15)), 1 - logspace(-16, -1), 1 + logspace(-16, -1),
    near(0.15), near(1.85), near(0.5), near(1.0), [2 - 2.0 ** -52, 2 * float(np.exp(-25.0))]]))
Z_FAR = np.unique(np.concatenate([logspace(-323.5, -296.5), near(U26),
                                  [TINY, 2 * TINY, 2.0 ** -1022]]))


@pytest.mark.parametrize("op,x,rtol,sub", [
    ("Ndtri", P_REFINED, 4 * EPS, 0.0), ("Ndtri", P_FAR, 8 * EPS, 0.0),
    ("Erfinv", Y_REFINED, 4 * EPS, 0.0), ("Erfinv", Y_SUBNORMAL, 4 * EPS, TINY),
    ("Erfcinv", Z_REFINED, 4 * EPS, 0.0), ("Erfcinv", Z_FAR, 8 * EPS, 0.0)],
    ids=["ndtri", "ndtri-far", "erfinv", "erfinv-subnormal", "erfcinv", "erfcinv-far"])
def test_float64_against_mpmath(op, x, rtol, sub):
    check(op, np.asarray(x, np.float64), rtol, sub)


def f32(x, lo, hi):
    """x rounded to float32, inside the open domain (lo, hi), 0 left out."""
    x = np.asarray(x, np.float64).astype(np.float32)
    return np.unique(x[(x > lo) & (x < hi) & (x != 0)])


FLOAT_TINY = logspace(-45, -38, 30)


@pytest.mark.parametrize("op,x", [
    ("Ndtri", f32(np.concatenate([P_REFINED, FLOAT_TINY, [1 - 2.0 ** -24]]), 0, 1)),
    ("Erfinv", f32(np.concatenate([Y_REFINED, FLOAT_TINY, -FLOAT_TINY]), -1, 1)),
    ("Erfcinv", f32(np.concatenate([Z_REFINED, FLOAT_TINY, [2 - 2.0 ** -23]]), 0, 2))],
    ids=["ndtri", "erfinv", "erfcinv"])
def test_float32_against_mpmath(op, x):
    got = kernel(op, x)
    ref = references(op, x.astype(np.float64), got)
    bad = []
    for v, g, r in zip(x.tolist(), got.tolist(), ref):
        half = 0.5 * max(float(np.spacing(np.float32(abs(g)))),
                         float(np.spacing(np.float32(abs(float(r))))))
        if not abs(mp.mpf(g) - r) <= half + 1e-15 * abs(r):
            bad.append(f"x = {v!r}: got {g!r}, want {mp.nstr(r, 12)}")
    assert not bad, f"{op} float: {len(bad)} of {x.size}, e.g.\n  " + "\n  ".join(bad[:10])


@pytest.mark.parametrize("T", [np.float64, np.float32])
def test_ends_of_the_domain(T):
    nan, inf = np.nan, np.inf
    p = np.array([0, 1, -0.0, -1e-30, 1.5, nan, inf, -inf], T)
    np.testing.assert_array_equal(kernel("Ndtri", p), np.array([-inf, inf, -inf] + [nan] * 5, T))
    y = np.array([1, -1, 0.0, -0.0, 1.5, -2, nan, inf], T)
    got = kernel("Erfinv", y)
    np.testing.assert_array_equal(got, np.array([inf, -inf, 0, 0] + [nan] * 4, T))
    assert np.signbit(got[3]) and not np.signbit(got[2])
    z = np.array([0, 2, -0.0, -1e-30, 2.5, nan, inf, -inf], T)
    np.testing.assert_array_equal(kernel("Erfcinv", z), np.array([inf, -inf, inf] + [nan] * 5, T))
    np.testing.assert_array_equal(kernel("Erfcinv", np.array([1.0], T)), np.zeros(1, T))
    np.testing.assert_array_equal(kernel("Ndtri", np.array([0.5], T)), np.zeros(1, T))


# Wichura (1988): "the hash sums below are the sums of the mantissas of the coefficients ...
# for use in checking transcription" (the coefficients written as d.ddd... x 10^k).
HASH = {"AB": "55.8831928806149014439", "CD": "49.33206503301610289036",
        "EF": "47.52583317549289671629"}


def _hash(text):
    s = decimal.Decimal(0)
    for lit in re.findall(r"(?<![\w.])(\d+\.\d+(?:e-?\d+)?)", text):
        if lit in ("1.0", "1.6", "5.0"):     # the denominators' 1 and the shifts, not coefficients
            continue
        d = decimal.Decimal(lit)
        s += d.scaleb(-d.adjusted())
    return s


def test_as241_coefficients_match_the_published_hash_sums():
    src = SPECIAL.read_text()
    central = src[src.index("double as241_central(double r)"):]
    central = central[:central.index("return a / b;")]
    tail = src[src.index("double as241_tail(double l)"):]
    tail = tail[:tail.index("return a / b;")]
    cd, ef = tail.split("} else {")
    assert _hash(central) == decimal.Decimal(HASH["AB"])
    assert _hash(cd) == decimal.Decimal(HASH["CD"])
    assert _hash(ef) == decimal.Decimal(HASH["EF"])
