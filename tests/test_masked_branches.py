"""The zero rule at the engine level (issue 12.2, README "Nondifferentiable points"): for every
op of the elementwise tables, a branch that `where` masks out at points where the op's value
or derivative is inf or NaN changes nothing, in every mode and to second order: the masked
lanes get exactly 0 and the others exactly what the op alone gives there.

tests/test_zero_tangents.py calls each derivative kernel directly with zero lanes; this walks
the same ops through the transforms (grad, jvp, single and batched HVPs, the forward-over-reverse
Hessian, reverse over reverse as grad of grad), so a rule that multiplies outside a kernel
(a library call, a dual VJP, an accumulation) is caught too.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
import gpuad.scipy.special as gss
from gpuad.primitives import elementwise as E

from _xp import host, on

# Where the ops' values or derivatives are inf or NaN (as in test_zero_tangents.py): 0 (log,
# sqrt, reciprocal), +-1 (arcsin, arccos, arctanh, log1p(-1)), +-1e10 (exp, sinh, cosh
# overflow), +-inf and NaN (the rest), 0.5 for pairs.
BAD = [0.0, 1.0, -1.0, 1e10, -1e10, np.inf, -np.inf, np.nan, 0.5]
GOOD = [0.3, 0.7]
# Ops whose derivatives of every order are finite even at BAD (comparisons read NaN as "not
# greater"; as in test_zero_tangents.py).
BOUNDED = {"negative", "abs", "sign", "relu", "add", "subtract", "maximum", "minimum"}                 # inside every op's domain (log, arcsin, arctanh, power, ...)
RNG = np.random.default_rng(12)
# Same kernels on the same values: only the vector/scalar loop split may round differently.
RTOL = 1e-14
# Second order, other association: a Hessian entry that is a sum of terms of size up to ~10
# at GOOD (1/x**2, arctanh'') which cancel to 0 (sqrt(x)**2 = x) may keep a few ulps of them.
ATOL2 = 16 * np.finfo(float).eps * 10


def public(name):
    """The op's public function: gpuad.numpy's, or gpuad.scipy.special's for its rows (the
    internal log-space ops: gpuad.scipy.special's private _log_gammainc, ...)."""
    if name in E.INTERNAL:
        return getattr(gss, "_" + name)
    return getattr(gss if name in E.SCIPY_SPECIAL else gnp, name)


# Kept points inside each op's domain where GOOD is not (polygamma: an integer order first).
GOOD_OF = {"arccosh": [1.3, 1.7]}
GOOD_PAIRS = {"polygamma": [(1.0, 0.7), (2.0, 0.3)]}


def unary_case(name):
    op = public(name)
    good = GOOD_OF.get(name, GOOD)
    x = np.array(BAD + good)
    keep = np.isin(np.arange(x.size), np.arange(len(BAD), x.size))
    return (lambda z: op(z)), x, keep


def binary_case(name):
    op = public(name)
    good = GOOD_PAIRS.get(name, list(zip(GOOD, GOOD[::-1])))
    pairs = list(itertools.product(BAD, BAD)) + good
    x = np.array([p[0] for p in pairs] + [p[1] for p in pairs])
    n = len(pairs)
    keep = np.zeros(n, bool)
    keep[-len(good):] = True
    return (lambda z: op(z[:n], z[n:])), x, np.concatenate([keep, keep])


CASES = [("unary", n) for n in E.UNARY] + [("binary", n) for n in E.BINARY]


def setup(kind, name, xp):
    op, x, keep_in = (unary_case if kind == "unary" else binary_case)(name)
    n_out = keep_in.size if kind == "unary" else keep_in.size // 2
    keep_out = xp.asarray(keep_in[:n_out])

    def masked(z):
        return gnp.sum(gnp.where(keep_out, op(z), 0.0) ** 2)
    masked.op = op

    def alone(z):
        # The same function on the kept lanes only: z is x with the masked lanes replaced by
        # a good point, and those lanes' terms dropped by a constant 0/1 weight (no where).
        return gnp.sum(keep_out * op(z) ** 2)

    x_alone = np.where(keep_in, x, x[keep_in][0])
    return masked, alone, xp.asarray(x), xp.asarray(x_alone), keep_in


def check(got, want, keep_in, what, axes=(0,), atol=0.0, xp=np):
    on(xp, got)
    got, want = host(got), host(want)
    assert np.all(np.isfinite(got)), f"{what}: non-finite {got}"
    mask = np.ones(got.shape, bool)
    for ax in axes:
        shape = [1] * got.ndim
        shape[ax] = -1
        mask &= keep_in.reshape(shape)
    np.testing.assert_array_equal(got[~mask], 0.0, err_msg=f"{what}: masked lanes")
    np.testing.assert_allclose(got[mask], want[mask], rtol=RTOL, atol=atol, err_msg=what)


@pytest.mark.parametrize("kind,name", CASES)
def test_masked_branch_is_exactly_zero_in_every_mode(kind, name, xp):
    masked, alone, x, xa, keep = setup(kind, name, xp)
    with np.errstate(all="ignore"):
        if name not in BOUNDED:     # the points bite: unmasked, the derivatives are not finite
            bare = host(gpuad.hessian(lambda z: gnp.sum(masked.op(z) ** 2))(x))
            assert not np.all(np.isfinite(bare)), f"{name}: no inf/NaN derivative at BAD"
        v = xp.asarray(RNG.standard_normal(x.size))
        V = xp.asarray(RNG.standard_normal((2, x.size)))
        k = xp.asarray(keep.astype(float))
        check(gpuad.grad(masked)(x), gpuad.grad(alone)(xa), keep, "grad", xp=xp)
        _, t = gpuad.jvp(masked, (x,), (v * k,))
        _, ta = gpuad.jvp(alone, (xa,), (v * k,))
        on(xp, t)
        np.testing.assert_allclose(host(t), host(ta), rtol=RTOL, err_msg="jvp")
        # Tangents that move the masked lanes too: where's JVP selects, the lanes drop out.
        _, t = gpuad.jvp(masked, (x,), (v,))
        np.testing.assert_allclose(host(t), host(ta), rtol=RTOL, err_msg="jvp, lanes moving")
        check(gpuad.hvp(masked, x, v), gpuad.hvp(alone, xa, v * k), keep, "hvp",
              atol=ATOL2, xp=xp)
        check(gpuad.hvp(masked, x, V, batched=True), gpuad.hvp(alone, xa, V * k, batched=True),
              keep, "batched hvp", axes=(1,), atol=ATOL2, xp=xp)
        check(gpuad.hessian(masked)(x), gpuad.hessian(alone)(xa), keep, "hessian", axes=(0, 1),
              atol=ATOL2, xp=xp)
        # Reverse over reverse: the gradient of <grad f, v> with v moving the masked lanes too.
        gg = gpuad.grad(lambda z: gnp.sum(gpuad.grad(masked)(z) * v))(x)
        check(gg, gpuad.grad(lambda z: gnp.sum(gpuad.grad(alone)(z) * v * k))(xa), keep,
              "grad of grad", atol=ATOL2, xp=xp)


# A zero local derivative (a kink's convention, sign') stops the chain whatever comes after:
# every op of the unary table applied after abs, relu or sign at the kink, shifted onto the
# points where the op's derivatives are inf or NaN (0, +1, -1), has derivative exactly 0 in
# forward mode, reverse mode and second order: the modes agree (the cotangent inf meeting
# abs'(0) = 0 gave NaN in reverse mode while the tangent 0 meeting sqrt'(0) = inf gave 0).
KINKS = ["abs", "relu", "sign"]


@pytest.mark.parametrize("kink", KINKS)
@pytest.mark.parametrize("name", list(E.UNARY))
def test_zero_local_derivative_stops_the_chain_in_every_mode(kink, name, xp):
    op, k = public(name), getattr(gnp, kink)
    x, e = xp.zeros(1), xp.ones(1)
    with np.errstate(all="ignore"):
        for c in (0.0, 1.0, -1.0):
            f = lambda z: gnp.sum(op(k(z) + c))   # noqa: E731
            _, t = gpuad.jvp(f, (x,), (e,))
            for what, got in [("jvp", t), ("grad", gpuad.grad(f)(x)), ("hvp", gpuad.hvp(f, x, e)),
                              ("hessian", gpuad.hessian(f)(x)),
                              ("grad of grad", gpuad.grad(lambda z: gnp.sum(gpuad.grad(f)(z)))(x))]:
                on(xp, got)
                np.testing.assert_array_equal(host(got), 0.0, err_msg=f"{name}({kink}(0) + {c}): {what}")
