"""README's rule (conventions table, "Nondifferentiable points"): where an op's value is NaN
because an argument is outside its domain, every derivative is NaN, never a finite number
(as sqrt, arccosh, erfinv outside their domains).

The ops are derived from tests/op_table.py, so a new row is covered without an edit here:
every row of gpuad.scipy.special (SCIPY_SPECIAL) and every row built on the elementwise
shape lists (UNARY_SHAPES, BINARY_SHAPES: gpuad.numpy's elementwise functions, NumPy's
surface's elementwise compositions). For each, finite candidate points outside the usual
domains (negative, above 1, below -1, large, tiny; combined over the arguments) are
evaluated and those whose value is NaN are kept. At each kept point (a spread of them that
puts every argument's every candidate in at least once where one exists) the first
derivatives (grad, i.e. the VJP, and a JVP per argument) and the second derivatives
(reverse over reverse, and forward over reverse, for every pair of arguments) must be NaN
wherever the value is.

Deliberate exceptions (README's conventions table) are rows this selection does not hold
or that the points never reach:
- `scipy.stats` densities: not selected (their rows are SCIPY_STATS); they follow the rule
  at invalid parameters, walked by tests/test_scipy_stats.py
  (test_derivative_zero_out_of_support_nan_at_invalid_parameters).
- `nan*` reductions: "an all-NaN slice gives NumPy's NaN (and warning) as a constant:
  derivative 0, never NaN" (row `nan*` reductions); a NaN there comes from NaN inputs,
  which this test never makes.
- `scipy.special.polygamma`'s order n: "an integer read as a value: derivative 0 (NaN
  results for a non-integer n, as SciPy)" (row `scipy.special.polygamma`); the rows fix n,
  so only x is differentiated.
- `scipy.special.entr` at x < 0: "-inf, a constant (derivative 0)" (row
  `scipy.special.entr`): the value is not NaN, so no point is kept.
Points where the value is NaN only by a pole or 0/0 (integers, 0) are not candidates: the
rule is about points outside a domain (remainder and fmod at x2 = 0 and an infinite x1 follow
it: tests/test_remainders.py).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp

from op_table import BINARY_SHAPES, SCIPY_SPECIAL, TABLE, UNARY_SHAPES

CANDIDATES = (-3.7, -1.3, -0.6, -1e-3, 1e-300, 0.4, 1.3, 2.6, 1234.56, -1234.56)
KEEP = 10                 # kept NaN points per row (at least one per argument and candidate)

_special = {r.name for r in SCIPY_SPECIAL}
ROWS = [r for r in TABLE if r.name in _special or r.shapes is UNARY_SHAPES
        or r.shapes is BINARY_SHAPES]


def _shapes(row):
    """The row's all-scalar shapes if it has them, else its first non-empty ones."""
    full = [s for s in row.shapes if all(0 not in sh for sh in s)]
    scalar = [s for s in full if all(sh == () for sh in s)]
    return (scalar or full)[0]


def _nan_points(row):
    shapes = _shapes(row)
    found = []
    with np.errstate(all="ignore"):
        for combo in itertools.product(range(len(CANDIDATES)), repeat=len(shapes)):
            args = [np.full(s, CANDIDATES[k]) for s, k in zip(shapes, combo)]
            try:
                out = np.asarray(row.fun(*args))
            except (ValueError, FloatingPointError):
                continue
            if out.dtype.kind == "c":       # real ops only (a complex result: not this rule)
                return shapes, []
            if np.isnan(out).any():
                found.append(combo)
    # a spread: every (argument, candidate) pair that occurs, then evenly from the rest
    chosen, seen = [], set()
    for combo in found:
        pairs = set(enumerate(combo)) - seen
        if pairs:
            chosen.append(combo)
            seen |= pairs
    rest = [c for c in found if c not in chosen]
    if rest and len(chosen) < KEEP:
        idx = np.linspace(0, len(rest) - 1, min(KEEP - len(chosen), len(rest))).astype(int)
        chosen += [rest[i] for i in sorted(set(idx))]
    return shapes, chosen


def _arg_list(row):
    n = len(_shapes(row))
    return [i for i in range(n) if row.grad_args is None or i in row.grad_args]


def _bad(what, value_nan, d):
    d = np.asarray(d, dtype=np.float64)
    if value_nan.shape == d.shape:      # entrywise: derivative entries of NaN values
        mask = value_nan
    else:                               # a reduction's (scalar) NaN: every entry
        mask = np.ones(d.shape, bool)
    if np.isnan(d[mask]).all():
        return None
    return f"{what}: {d.tolist()}"


def _check_point(row, shapes, combo):
    args = [np.full(s, CANDIDATES[k]) for s, k in zip(shapes, combo)]
    fun = row.fun
    out = np.asarray(fun(*args), dtype=np.float64)
    nanv = np.isnan(out)
    total = lambda *a: gnp.sum(fun(*a))        # noqa: E731
    nargs = len(args)
    diff = _arg_list(row)
    errors = []
    # first order, reverse: the VJP of sum (a cotangent of ones)
    grads = gpuad.grad(total, argnums=tuple(diff))(*args)
    for i, g in zip(diff, grads):
        errors.append(_bad(f"grad d/darg{i}", np.ones(args[i].shape, bool), g))
    # first order, forward: one JVP per argument (the others' tangents exactly 0)
    for i in diff:
        tans = tuple(np.ones_like(a) if j == i else np.zeros_like(a)
                     for j, a in enumerate(args))
        _, t = gpuad.jvp(fun, tuple(args), tans)
        errors.append(_bad(f"jvp d/darg{i}", nanv, t))
    # second order: reverse over reverse, and forward over reverse (the dual kernels)
    for i in diff:
        gi = gpuad.grad(total, argnums=i)
        for j in diff:
            h = gpuad.grad(lambda *a: gnp.sum(gi(*a)), argnums=j)(*args)
            errors.append(_bad(f"grad(grad) d2/darg{i}darg{j}",
                               np.ones(args[j].shape, bool), h))
            tans = tuple(np.ones_like(a) if k == j else np.zeros_like(a)
                         for k, a in enumerate(args))
            _, t = gpuad.jvp(gi, tuple(args), tans)
            errors.append(_bad(f"jvp(grad) d2/darg{i}darg{j}",
                               np.ones(args[i].shape, bool), t))
    del nargs
    errors = [e for e in errors if e]
    if errors:
        point = ", ".join(repr(a.ravel()[0]) for a in args)
        return f"{row.name}({point}) = {out.tolist()}: " + "; ".join(errors)
    return None


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_nan_value_nan_derivatives(row):
    shapes, points = _nan_points(row)
    problems = [p for p in (_check_point(row, shapes, c) for c in points) if p]
    assert not problems, "\n".join(problems)


def test_selection_bites():
    """The selection holds the ops the rule was written for, and finds NaN points there."""
    names = {r.name for r in ROWS}
    for want in ("sqrt", "log", "arccosh", "special_erfinv", "special_logit",
                 "special_xlogy", "special_logsumexp_b", "power", "special_gammainc"):
        assert want in names, want
    for name in ("sqrt", "special_logit", "special_xlogy", "special_logsumexp_b"):
        row = next(r for r in ROWS if r.name == name)
        assert _nan_points(row)[1], name
