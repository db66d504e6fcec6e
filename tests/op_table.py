"""THE table of differentiable functions: every gpuad.numpy function has a row here.

A row names the function, a float64 NumPy reference, a generator of inputs inside the
function's domain, and the argument shapes to test. tests/test_ops.py expands each row
into forward checks (float64 and float32 against the reference) and derivative checks
(`check_grads`, order 2, forward and reverse) on every shape.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
import scipy.linalg as sl
import scipy.special as sc

import gpuad.numpy as gnp
import gpuad.scipy.linalg as gsl
import gpuad.scipy.special as gss
from gpuad import nn
from gpuad.runtime.launch import launcher


@dataclasses.dataclass
class Row:
    name: str                               # test id: test_<name>
    fun: Callable                           # the gpuad function under test
    ref: Callable                           # float64 NumPy reference
    shapes: list                            # list of tuples of argument shapes
    domain: Callable = None                 # (rng, shape) -> float64 array in the domain
    order: int = 2
    dtypes: tuple = ("float64", "float32")
    nondiff: tuple = ()                     # extra non-array args passed after the arrays
    grad_args: tuple | None = None          # which args are differentiated (default: all)
    forward_only_dtypes: tuple = ()
    rtol32: float = 2e-5                    # float32 forward tolerance (a few ulps of the result)
    cdomain: Callable = None                # complex inputs (default: complexify(domain))


def uniform(lo, hi):
    return lambda rng, s: rng.uniform(lo, hi, size=s)


def complexify(gen):
    """Complex inputs from a real generator: its values as real parts, imaginary parts
    uniform on [-0.5, 0.5] (0 where the real part is exactly 0, so zeros stay zeros). The
    real domains keep away from the branch cuts of log, sqrt, arcsin, ... (on the real
    axis), and the imaginary parts from the axis itself."""
    def g(rng, s):
        x = np.asarray(gen(rng, s), dtype=np.float64)
        return x + 1j * rng.uniform(-0.5, 0.5, size=s) * (x != 0)
    return g


def away_from(points, lo=-2.0, hi=2.0, gap=0.1):
    """Uniform on [lo, hi] but at least ``gap`` from the kinks in ``points``."""
    def gen(rng, s):
        x = rng.uniform(lo, hi, size=s)
        for p in points:
            near = np.abs(x - p) < gap
            x = np.where(near, p + np.sign(x - p + 1e-12) * (gap + np.abs(x - p)), x)
        return x
    return gen


UNARY_SHAPES = [((),), ((3,),), ((2, 3),), ((0,),), ((4, 0, 2),)]
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((2, 3), ()),
                 ((), (2, 3)), ((0,), (0,)), ((2, 0), (1, 0))]


def u(name, ref, domain=uniform(-2, 2), fun=None, **kw):
    return Row(name, fun or getattr(gnp, name), ref, UNARY_SHAPES, domain, **kw)


def b(name, ref, domain=uniform(-2, 2), fun=None, **kw):
    return Row(name, fun or getattr(gnp, name), ref, BINARY_SHAPES, domain, **kw)


W4 = np.array([True, False, True, True])     # a where= mask over a last axis of 4


def same(call):
    """(fun, ref) for a call written once against a module: ``call(gnp, ...)``, ``call(np, ...)``."""
    return (lambda *xs: call(gnp, *xs)), (lambda *xs: call(np, *xs))


_erf = np.vectorize(math.erf, otypes=[np.float64])

# ---------------------------------------------------------------- elementwise
ELEMENTWISE = [
    u("negative", np.negative),
    u("exp", np.exp),
    u("exp2", np.exp2),
    u("log", np.log, uniform(0.3, 3)),
    u("log2", np.log2, uniform(0.3, 3)),
    u("log10", np.log10, uniform(0.3, 3)),
    u("log1p", np.log1p, uniform(-0.5, 2)),
    u("expm1", np.expm1),
    u("sqrt", np.sqrt, uniform(0.3, 3)),
    u("sin", np.sin),
    u("cos", np.cos),
    u("tan", np.tan, uniform(-1.2, 1.2)),
    u("tanh", np.tanh),
    u("sinh", np.sinh),
    u("cosh", np.cosh),
    u("arctan", np.arctan),
    u("arcsin", np.arcsin, uniform(-0.8, 0.8)),
    u("arccos", np.arccos, uniform(-0.8, 0.8)),
    u("arctanh", np.arctanh, uniform(-0.8, 0.8)),
    u("abs", np.abs, away_from([0.0])),
    u("absolute", np.abs, away_from([0.0])),
    u("sign", np.sign, away_from([0.0])),
    u("reciprocal", lambda x: 1.0 / x, away_from([0.0], gap=0.3)),
    u("square", np.square),
    u("sigmoid", lambda x: 1.0 / (1.0 + np.exp(-x)), uniform(-4, 4)),
    u("softplus", lambda x: np.logaddexp(0.0, x), uniform(-4, 4)),
    u("relu", lambda x: np.maximum(x, 0.0), away_from([0.0])),
    u("erf", _erf),
    b("add", np.add),
    b("subtract", np.subtract),
    b("multiply", np.multiply),
    b("divide", np.divide, away_from([0.0], gap=0.3)),
    b("true_divide", np.divide, away_from([0.0], gap=0.3)),
    b("power", np.power, uniform(0.3, 2)),
    b("maximum", np.maximum),
    b("minimum", np.minimum),
    b("arctan2", np.arctan2, away_from([0.0], gap=0.3)),
    u("arcsinh", np.arcsinh, uniform(-3, 3)),
    u("asinh", np.arcsinh, uniform(-3, 3)),
    u("arccosh", np.arccosh, uniform(1.2, 3)),
    u("acosh", np.arccosh, uniform(1.2, 3)),
    u("cbrt", np.cbrt, away_from([0.0], gap=0.2)),
    u("sinc", np.sinc, uniform(-2.5, 2.5)),
    Row("sinc_near_0", gnp.sinc, np.sinc, UNARY_SHAPES, uniform(-0.3, 0.3)),
    u("i0", np.i0, uniform(-3, 3)),
    b("hypot", np.hypot, away_from([0.0], gap=0.2)),
    Row("clip", lambda x: gnp.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7),
        UNARY_SHAPES, away_from([-0.5, 0.7])),
    Row("where", lambda x, y: gnp.where(x > 0, x, y), lambda x, y: np.where(x > 0, x, y),
        BINARY_SHAPES, away_from([0.0])),
]

# ---------------------------------------------------------------- reductions
def distinct(rng, s):
    """Values at least 0.25 apart (no ties for max, min and sort, even after a step)."""
    n = int(np.prod(s, dtype=np.int64))
    return ((rng.permutation(n) - n / 2) * 0.35 + rng.uniform(-0.05, 0.05, n)).reshape(s)


def with_zeros(rng, s):
    """Uniform on [-2, 2] with about a third of the entries exactly 0."""
    x = rng.uniform(-2, 2, size=s)
    return np.where(rng.uniform(size=s) < 0.35, 0.0, x)


def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True) if x.size else 0.0
    with np.errstate(divide="ignore"):      # log(0) = -inf for an empty reduction
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


AXIS_SHAPES = [((3,),), ((2, 3),), ((0, 3),)]          # reduced over the last axis

REDUCTIONS = [
    Row("sum", gnp.sum, np.sum, UNARY_SHAPES),
    Row("sum_axis", lambda x: gnp.sum(x, axis=-1, keepdims=True),
        lambda x: np.sum(x, axis=-1, keepdims=True), [((3,),), ((2, 3),), ((2, 0),)]),
    Row("mean", gnp.mean, np.mean, [((),), ((3,),), ((2, 3),)]),
    Row("prod", gnp.prod, np.prod, UNARY_SHAPES + [((7,),), ((2, 3, 2),)]),
    Row("prod_zeros", gnp.prod, np.prod, [((5,),), ((2, 3),), ((6,),)], with_zeros),
    Row("prod_axes", lambda x: gnp.prod(x, axis=(0, 2), keepdims=True),
        lambda x: np.prod(x, axis=(0, 2), keepdims=True), [((3, 2, 5),), ((0, 2, 3),)],
        with_zeros),
    Row("max", gnp.max, np.max, [((),), ((5,),), ((2, 3),)], distinct),
    Row("max_axis", lambda x: gnp.max(x, axis=-1), lambda x: np.max(x, axis=-1),
        AXIS_SHAPES, distinct),
    Row("amax", lambda x: gnp.amax(x, axis=(0, 2), keepdims=True),
        lambda x: np.amax(x, axis=(0, 2), keepdims=True), [((2, 3, 4),), ((2, 0, 3),)],
        distinct),
    Row("min", gnp.min, np.min, [((),), ((5,),), ((2, 3),)], distinct),
    Row("min_axis", lambda x: gnp.min(x, axis=0, keepdims=True),
        lambda x: np.min(x, axis=0, keepdims=True), [((3,),), ((3, 2),), ((3, 0),)],
        distinct),
    Row("amin", lambda x: gnp.amin(x, axis=1), lambda x: np.amin(x, axis=1),
        [((2, 3, 4),), ((0, 3),)], distinct),
    Row("var", gnp.var, np.var, [((),), ((4,),), ((2, 3),)]),
    Row("var_axis", lambda x: gnp.var(x, axis=-1, ddof=1, keepdims=True),
        lambda x: np.var(x, axis=-1, ddof=1, keepdims=True), AXIS_SHAPES),
    Row("std", gnp.std, np.std, [((4,),), ((2, 3),)]),
    Row("std_axis", lambda x: gnp.std(x, axis=(0, 2), ddof=1),
        lambda x: np.std(x, axis=(0, 2), ddof=1), [((2, 3, 2),), ((2, 0, 2),)]),
    # NumPy's where= (and initial=): the entries outside the mask take no part
    Row("sum_where", *same(lambda m, x: m.sum(x, axis=-1, where=W4, initial=0.5)),
        [((4,),), ((3, 4),)]),
    Row("mean_where", *same(lambda m, x: m.mean(x, axis=-1, where=W4)), [((4,),), ((3, 4),)]),
    Row("prod_where", *same(lambda m, x: m.prod(x, axis=-1, where=W4, initial=2.0)),
        [((4,),), ((2, 4),)]),
    Row("var_where", *same(lambda m, x: m.var(x, axis=-1, ddof=1, where=W4)), [((3, 4),)]),
    Row("std_where", *same(lambda m, x: m.std(x, where=W4)), [((2, 4),)]),
    Row("max_where", *same(lambda m, x: m.max(x, axis=-1, where=W4, initial=-3.0)),
        [((4,),), ((3, 4),)], distinct),
    Row("min_where", *same(lambda m, x: m.min(x, axis=-1, where=W4, initial=3.0)),
        [((3, 4),)], distinct),
    Row("logsumexp", gnp.logsumexp, _logsumexp, [((),), ((3,),), ((2, 3),)], uniform(-4, 4)),
    Row("logsumexp_axis", lambda x: gnp.logsumexp(x, axis=0, keepdims=True),
        lambda x: _logsumexp(x, axis=0, keepdims=True), [((3,),), ((3, 2),), ((2, 0),)]),
    Row("logsumexp_large", lambda x: gnp.logsumexp(x, axis=-1),
        lambda x: _logsumexp(x, axis=-1), [((4,),), ((2, 3),)], uniform(700, 720)),
    Row("cumsum", gnp.cumsum, np.cumsum, UNARY_SHAPES),
    Row("cumsum_axis", lambda x: gnp.cumsum(x, axis=-2), lambda x: np.cumsum(x, axis=-2),
        [((3, 1),), ((2, 3, 2),), ((0, 2),)]),
    Row("sort", gnp.sort, np.sort, [((5,),), ((2, 3),), ((0,),), ((4, 0, 2),)], distinct),
    Row("sort_axis", lambda x: gnp.sort(x, axis=0), lambda x: np.sort(x, axis=0),
        [((4,),), ((3, 2),), ((0, 2),)], distinct),
    Row("sort_none", lambda x: gnp.sort(x, axis=None), lambda x: np.sort(x, axis=None),
        [((),), ((2, 3),)], distinct),
    # gpuad.nn
    Row("nn_relu", nn.relu, lambda x: np.maximum(x, 0.0), UNARY_SHAPES, away_from([0.0])),
    Row("nn_sigmoid", nn.sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x)), UNARY_SHAPES),
    Row("nn_softplus", nn.softplus, lambda x: np.logaddexp(0.0, x), UNARY_SHAPES),
    Row("nn_logsumexp", lambda x: nn.logsumexp(x, axis=-1), lambda x: _logsumexp(x, axis=-1),
        AXIS_SHAPES),
    Row("nn_softmax", nn.softmax,
        lambda x: np.exp(x - _logsumexp(x, axis=-1, keepdims=True)),
        [((3,),), ((2, 3),), ((2, 0),)]),
    Row("nn_softmax_axis", lambda x: nn.softmax(x, axis=(0, 2)),
        lambda x: np.exp(x - _logsumexp(x, axis=(0, 2), keepdims=True)), [((2, 3, 2),)]),
    Row("nn_log_softmax", nn.log_softmax,
        lambda x: x - _logsumexp(x, axis=-1, keepdims=True), [((3,),), ((2, 3),), ((2, 0),)]),
]

# ---------------------------------------------------------------- linear algebra
def _square(s):
    return len(s) >= 2 and s[-1] == s[-2]


def invertible(rng, s):
    """Square (..., n, n): 2 I plus entries in [-0.5, 0.5] / n, the first row's sign flipped
    at random (so determinants of both signs, condition numbers below 3). Other shapes:
    uniform on [-2, 2] (right-hand sides)."""
    if not _square(s):
        return rng.uniform(-2, 2, size=s)
    n = s[-1]
    a = rng.uniform(-0.5, 0.5, size=s) / max(n, 1) + 2 * np.eye(n)
    flip = np.where(rng.uniform(size=s[:-2] + (1, 1)) < 0.5, -1.0, 1.0)
    a[..., :1, :] *= flip[..., :1, :]
    return a


def spd(rng, s):
    """Symmetric positive definite (..., n, n): B B^T / n + I, eigenvalues in [1, 2]. Other
    shapes: uniform on [-2, 2] (right-hand sides)."""
    if not _square(s):
        return rng.uniform(-2, 2, size=s)
    n = s[-1]
    b = rng.uniform(-1, 1, size=s)
    return b @ np.swapaxes(b, -1, -2) / max(n, 1) + np.eye(n)


def _orthonormal(rng, batch, m, k):
    """Random (..., m, k) matrices with orthonormal columns (Q of a Gaussian's QR)."""
    q, r = np.linalg.qr(rng.standard_normal(batch + (m, k)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def spectrum(rng, s):
    """(..., m, n) = U diag(d) V^T with singular values d spaced 0.6 apart in [0.5, 3.5]
    (so no degeneracy and condition below 8), random singular vectors. Vectors: uniform on
    [-2, 2] (right-hand sides)."""
    if len(s) < 2:
        return rng.uniform(-2, 2, size=s)
    *batch, m, n = s
    k = min(m, n)
    d = 0.5 + 0.6 * np.arange(k)[::-1] + rng.uniform(0, 0.1, tuple(batch) + (k,))
    u, v = _orthonormal(rng, tuple(batch), m, k), _orthonormal(rng, tuple(batch), n, k)
    return (u * d[..., None, :]) @ np.swapaxes(v, -1, -2)


def symmetric(rng, s):
    """Symmetric (..., n, n) = V diag(w) V^T with eigenvalues of both signs spaced 0.6
    apart (no degeneracy)."""
    *batch, n, _ = s
    w = 0.6 * (np.arange(n) - n / 2) + rng.uniform(0, 0.1, tuple(batch) + (n,))
    v = _orthonormal(rng, tuple(batch), n, n)
    return (v * w[..., None, :]) @ np.swapaxes(v, -1, -2)


def _unitary(rng, batch, m, k):
    """Random complex (..., m, k) matrices with orthonormal columns."""
    z = rng.standard_normal(batch + (m, k)) + 1j * rng.standard_normal(batch + (m, k))
    q, r = np.linalg.qr(z)
    d = np.diagonal(r, axis1=-2, axis2=-1)
    return q * (d / np.abs(d))[..., None, :]


def _complex_other(rng, s):
    return rng.uniform(-2, 2, size=s) + 1j * rng.uniform(-1, 1, size=s)


def hpd(rng, s):
    """Hermitian positive definite (..., n, n): B B^H / n + I, B complex, eigenvalues in
    [1, 3]; other shapes complex uniform (right-hand sides)."""
    if not _square(s):
        return _complex_other(rng, s)
    b = rng.uniform(-1, 1, size=s) + 1j * rng.uniform(-1, 1, size=s)
    return b @ np.conj(np.swapaxes(b, -1, -2)) / max(s[-1], 1) + np.eye(s[-1])


def hermitian(rng, s):
    """Hermitian (..., n, n) = V diag(w) V^H, V unitary, eigenvalues as :func:`symmetric`."""
    *batch, n, _ = s
    w = 0.6 * (np.arange(n) - n / 2) + rng.uniform(0, 0.1, tuple(batch) + (n,))
    v = _unitary(rng, tuple(batch), n, n)
    return (v * w[..., None, :]) @ np.conj(np.swapaxes(v, -1, -2))


def cspectrum(rng, s):
    """Complex (..., m, n) = U diag(d) V^H with the singular values of :func:`spectrum`."""
    if len(s) < 2:
        return _complex_other(rng, s)
    *batch, m, n = s
    k = min(m, n)
    d = 0.5 + 0.6 * np.arange(k)[::-1] + rng.uniform(0, 0.1, tuple(batch) + (k,))
    u, v = _unitary(rng, tuple(batch), m, k), _unitary(rng, tuple(batch), n, k)
    return (u * d[..., None, :]) @ np.conj(np.swapaxes(v, -1, -2))


def rank_deficient(drop):
    """Square (..., n, n) of rank n - drop (a product of (n, n - drop) and (n - drop, n)
    Gaussian factors); other shapes uniform on [-2, 2]. det is a polynomial, so its
    derivatives at these singular matrices are checked like anywhere else. Its
    ``complex`` attribute: the same with complex Gaussian factors."""
    def gen(rng, s, cplx=False):
        if not _square(s):
            return _complex_other(rng, s) if cplx else rng.uniform(-2, 2, size=s)
        *batch, n, _ = s
        r = max(n - drop, 0)

        def gauss(shape_):
            z = rng.standard_normal(shape_)
            return z + 1j * rng.standard_normal(shape_) if cplx else z
        return gauss(tuple(batch) + (n, r)) @ gauss(tuple(batch) + (r, n))
    gen.complex = lambda rng, s: gen(rng, s, True)
    return gen


def _weights(like, k):
    """Distinct weights 1..k (U diag(c) V^T sees every column), in the dtype and array
    module of ``like`` (CuPy refuses NumPy operands)."""
    return launcher(like).xp.arange(1.0, k + 1, dtype=like.dtype)


def _svd_uv(m, a):
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    return (u * _weights(u, s.shape[-1])) @ vh


def _h(m, x):
    """The conjugate transpose of the last two axes (the transpose for real x): products
    with it are invariant under the phases of complex singular and eigenvectors."""
    return m.conj(m.swapaxes(x, -1, -2))


def _svd_uu(m, a):
    u = m.linalg.svd(a, full_matrices=False)[0]
    return (u * _weights(u, u.shape[-1])) @ _h(m, u)


def _svd_vv(m, a):
    vh = m.linalg.svd(a, full_matrices=False)[2]
    return _h(m, vh) @ (vh * _weights(vh, vh.shape[-2])[:, None])


def _svd_complement(m, a):
    """The projectors onto the extra columns of full U and rows of full Vh (the parts
    fixed only up to a basis change)."""
    u, s, vh = m.linalg.svd(a, full_matrices=True)
    k = s.shape[-1]
    u2, v2 = u[..., :, k:], _h(m, vh[..., k:, :])
    return m.concatenate([m.reshape(u2 @ _h(m, u2), (-1,)), m.reshape(v2 @ _h(m, v2), (-1,))])


def _eigh_v(m, a, uplo="L"):
    w, v = m.linalg.eigh(a, uplo)
    return (v * _weights(v, w.shape[-1])) @ _h(m, v)


def _qr_complete(m, a):
    q, r = m.linalg.qr(a, mode="complete")
    k = min(a.shape[-2:])
    q1, q2 = q[..., :, :k], q[..., :, k:]
    return m.concatenate([m.reshape(q1, (-1,)), m.reshape(q2 @ _h(m, q2), (-1,)),
                          m.reshape(r, (-1,))])


def _slogdet(m, a):
    sign, logabsdet = m.linalg.slogdet(a)
    return sign * logabsdet


MATMUL_SHAPES = [((2, 3), (3, 4)), ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)),
                 ((2, 1, 2, 3), (4, 3, 2)), ((3,), (2, 3, 4)), ((0, 3), (3, 2)),
                 ((2, 0), (0, 3))]
SQUARE_SHAPES = [((3, 3),), ((2, 3, 3),), ((1, 1),), ((0, 0),), ((2, 0, 0),)]
LA32 = dict(rtol32=2e-4)      # float32 forward: a few ulps times the (small) conditioning

LINALG: list = [
    Row("matmul", gnp.matmul, np.matmul, MATMUL_SHAPES, **LA32),
    Row("matmul_operator", lambda a, b: a @ b, np.matmul, [((2, 3), (3, 4))], **LA32),
    Row("dot", gnp.dot, np.dot, [((), (3,)), ((2, 3), ()), ((3,), (3,)), ((2, 3), (3,)),
                                 ((2, 3), (3, 4)), ((2, 3, 4), (5, 4, 2)),
                                 ((2, 3, 4), (4,)), ((0, 3), (3,))], **LA32),
    Row("inner", gnp.inner, np.inner, [((), ()), ((3,), (3,)), ((2, 3), (4, 3)),
                                       ((2, 3), (3,)), ((0, 3), (2, 3))], **LA32),
    Row("outer", gnp.outer, np.outer, [((), ()), ((3,), (2,)), ((2, 3), (2,)),
                                       ((0,), (3,))], **LA32),
    Row("tensordot", gnp.tensordot, np.tensordot,
        [((2, 3, 4), (3, 4, 5)), ((3, 4), (3, 4)), ((0, 3, 4), (3, 4))], **LA32),
    Row("tensordot_axes", lambda a, b: gnp.tensordot(a, b, axes=([1, 0], [0, 2])),
        lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2])), [((2, 3, 4), (3, 5, 2))],
        **LA32),
    Row("tensordot_0", lambda a, b: gnp.tensordot(a, b, axes=0),
        lambda a, b: np.tensordot(a, b, axes=0), [((), (2,)), ((2,), (3, 1))], **LA32),
    Row("einsum", lambda a, b: gnp.einsum("ij,jk->ik", a, b),
        lambda a, b: np.einsum("ij,jk->ik", a, b), [((2, 3), (3, 4)), ((0, 3), (3, 2))],
        **LA32),
    Row("einsum_implicit", lambda a, b: gnp.einsum("ba,cb", a, b),
        lambda a, b: np.einsum("ba,cb", a, b), [((3, 2), (4, 3))], **LA32),
    Row("einsum_ellipsis", lambda a, b: gnp.einsum("...ij,...jk->...ik", a, b),
        lambda a, b: np.einsum("...ij,...jk->...ik", a, b),
        [((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((2, 1, 2, 3), (3, 3, 2))], **LA32),
    Row("einsum_ellipsis_implicit", lambda a, b: gnp.einsum("i...,i", a, b),
        lambda a, b: np.einsum("i...,i", a, b), [((3,), (3,)), ((3, 2, 1), (3,))], **LA32),
    Row("einsum_broadcast", lambda a, b: gnp.einsum("bij,bjk->bik", a, b),
        lambda a, b: np.einsum("bij,bjk->bik", a, b), [((1, 2, 3), (4, 3, 2))], **LA32),
    Row("einsum_diagonal", lambda a: gnp.einsum("ii->i", a),
        lambda a: np.einsum("ii->i", a), [((3, 3),), ((0, 0),)]),
    Row("einsum_trace", lambda a: gnp.einsum("ii", a), lambda a: np.einsum("ii", a),
        [((3, 3),), ((1, 1),)]),
    Row("einsum_sum", lambda a: gnp.einsum("ij->", a), lambda a: np.einsum("ij->", a),
        [((2, 3),), ((0, 3),)], **LA32),
    Row("einsum_scalar", lambda s, v: gnp.einsum(",i->i", s, v),
        lambda s, v: np.einsum(",i->i", s, v), [((), (3,))]),
    Row("einsum_three", lambda a, b, c: gnp.einsum("ij,jk,k->i", a, b, c),
        lambda a, b, c: np.einsum("ij,jk,k->i", a, b, c), [((2, 3), (3, 4), (4,))], **LA32),
    Row("einsum_repeated", lambda a, b: gnp.einsum("iij,j->ij", a, b),
        lambda a, b: np.einsum("iij,j->ij", a, b), [((2, 2, 3), (3,))], **LA32),
    Row("trace", gnp.trace, np.trace, [((3, 3),), ((2, 3),), ((2, 3, 4),), ((0, 0),)]),
    Row("trace_offset", lambda a: gnp.trace(a, 1, 1, 2), lambda a: np.trace(a, 1, 1, 2),
        [((2, 3, 4),), ((2, 2, 2),)]),
    Row("linalg_norm", gnp.linalg.norm, np.linalg.norm, [((),), ((3,),), ((2, 3),)],
        away_from([0.0])),
    Row("linalg_norm_axis", lambda x: gnp.linalg.norm(x, axis=-1, keepdims=True),
        lambda x: np.linalg.norm(x, axis=-1, keepdims=True), [((3,),), ((2, 3),), ((0, 3),)]),
    Row("linalg_norm_ord1", lambda x: gnp.linalg.norm(x, 1, axis=0),
        lambda x: np.linalg.norm(x, 1, axis=0), [((3,),), ((3, 2),)], away_from([0.0])),
    Row("linalg_norm_ord3", lambda x: gnp.linalg.norm(x, 3), lambda x: np.linalg.norm(x, 3),
        [((4,),)], away_from([0.0])),
    Row("linalg_norm_inf", lambda x: gnp.linalg.norm(x, -np.inf),
        lambda x: np.linalg.norm(x, -np.inf), [((4,),)], distinct),
    Row("linalg_norm_fro", lambda x: gnp.linalg.norm(x, "fro", axis=(2, 0)),
        lambda x: np.linalg.norm(x, "fro", axis=(2, 0)), [((2, 3, 4),)]),
    Row("linalg_norm_matrix1", lambda x: gnp.linalg.norm(x, 1, axis=(1, 2)),
        lambda x: np.linalg.norm(x, 1, axis=(1, 2)), [((2, 3, 4),)], distinct),
    Row("linalg_norm_matrix_inf", lambda x: gnp.linalg.norm(x, np.inf),
        lambda x: np.linalg.norm(x, np.inf), [((3, 4),)], distinct),
    Row("linalg_solve", gnp.linalg.solve, np.linalg.solve,
        [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1)),
         ((1, 2, 2), (3, 2, 1)), ((0, 0), (0,)), ((2, 2), (2, 0))], invertible, **LA32),
    Row("linalg_inv", gnp.linalg.inv, np.linalg.inv, SQUARE_SHAPES, invertible, **LA32),
    Row("linalg_det", gnp.linalg.det, np.linalg.det, SQUARE_SHAPES, invertible, **LA32),
    Row("linalg_slogdet", lambda a: _slogdet(gnp, a), lambda a: _slogdet(np, a),
        SQUARE_SHAPES, invertible, **LA32),
    Row("linalg_cholesky", gnp.linalg.cholesky, np.linalg.cholesky, SQUARE_SHAPES, spd,
        **LA32),
    Row("linalg_cholesky_upper", *same(lambda m, a: m.linalg.cholesky(a, upper=True)),
        [((3, 3),), ((2, 2, 2),)], spd, **LA32),
    # det at singular matrices (rank n - 1 and n - 2): derivatives through the cofactor
    # family, exact polynomials, checked against central differences like anywhere else.
    Row("linalg_det_rank1_deficient", gnp.linalg.det, np.linalg.det,
        [((3, 3),), ((2, 4, 4),), ((1, 1),)], rank_deficient(1), **LA32),
    Row("linalg_det_rank2_deficient", gnp.linalg.det, np.linalg.det,
        [((3, 3),), ((4, 4),)], rank_deficient(2), **LA32),
    Row("linalg_det_order3", gnp.linalg.det, np.linalg.det, [((3, 3),)], rank_deficient(1),
        order=3),
    Row("linalg_svd_s", *same(lambda m, a: m.linalg.svd(a, compute_uv=False)),
        [((3, 3),), ((4, 2),), ((2, 4),), ((2, 3, 3),), ((0, 0),), ((2, 0, 3),)],
        spectrum, **LA32),
    Row("linalg_svdvals", *same(lambda m, a: m.linalg.svdvals(a)), [((3, 2),), ((2, 2, 3),)],
        spectrum, **LA32),
    Row("linalg_svd_uv", *same(_svd_uv), [((3, 3),), ((4, 2),), ((2, 4),), ((2, 3, 3),)],
        spectrum, **LA32),
    Row("linalg_svd_u", *same(_svd_uu), [((3, 3),), ((4, 2),), ((2, 4),), ((2, 2, 3),)],
        spectrum, **LA32),
    Row("linalg_svd_v", *same(_svd_vv), [((3, 3),), ((4, 2),), ((2, 4),), ((2, 3, 2),)],
        spectrum, **LA32),
    Row("linalg_svd_full_complement", *same(_svd_complement), [((4, 2),), ((2, 4),),
                                                                ((2, 3, 1),)], spectrum, **LA32),
    Row("linalg_svd_hermitian", *same(lambda m, a: m.linalg.svd(a, hermitian=True,
                                                                compute_uv=False)),
        [((3, 3),)], symmetric, **LA32),
    Row("linalg_eigh_w", *same(lambda m, a: m.linalg.eigh(a)[0]),
        [((3, 3),), ((2, 3, 3),), ((1, 1),), ((0, 0),)], symmetric, **LA32),
    Row("linalg_eigh_v", *same(_eigh_v), [((3, 3),), ((2, 4, 4),)], symmetric, **LA32),
    Row("linalg_eigh_upper", *same(lambda m, a: _eigh_v(m, a, "U") + m.linalg.eigvalsh(
        a, "U")[..., None, :]), [((3, 3),), ((2, 2, 2),)], symmetric, **LA32),
    Row("linalg_eigvalsh", *same(lambda m, a: m.linalg.eigvalsh(a)), [((4, 4),)], symmetric,
        **LA32),
    Row("linalg_qr_q", *same(lambda m, a: m.linalg.qr(a)[0]),
        [((3, 3),), ((4, 2),), ((2, 4),), ((2, 4, 3),), ((0, 0),)], spectrum, **LA32),
    Row("linalg_qr_r", *same(lambda m, a: m.linalg.qr(a)[1]),
        [((3, 3),), ((4, 2),), ((2, 4),), ((2, 4, 3),)], spectrum, **LA32),
    Row("linalg_qr_r_mode", *same(lambda m, a: m.linalg.qr(a, mode="r")), [((4, 3),)],
        spectrum, **LA32),
    Row("linalg_qr_complete", *same(_qr_complete), [((3, 3),), ((4, 2),), ((2, 4),),
                                                    ((2, 3, 2),)], spectrum, **LA32),
    Row("linalg_pinv", gnp.linalg.pinv, np.linalg.pinv,
        [((3, 3),), ((4, 2),), ((2, 4),), ((2, 3, 2),), ((0, 3),)], spectrum, **LA32),
    Row("linalg_pinv_hermitian", *same(lambda m, a: m.linalg.pinv(a, hermitian=True)),
        [((3, 3),)], symmetric, **LA32),
    Row("linalg_lstsq", *same(lambda m, a, b: m.linalg.lstsq(a, b)[0]),
        [((4, 2), (4,)), ((4, 2), (4, 3)), ((3, 3), (3,)), ((2, 3), (2, 2))], spectrum,
        **LA32),
    Row("linalg_lstsq_residuals", *same(lambda m, a, b: m.linalg.lstsq(a, b)[1]),
        [((4, 2), (4,)), ((5, 3), (5, 2))], spectrum, **LA32),
    Row("linalg_lstsq_s", *same(lambda m, a, b: m.linalg.lstsq(a, b)[3]),
        [((4, 2), (4,))], spectrum, **LA32),
    Row("linalg_matrix_power", *same(lambda m, a: m.linalg.matrix_power(a, 3)),
        [((3, 3),), ((2, 2, 2),), ((0, 0),)], invertible, **LA32),
    Row("linalg_matrix_power_negative", *same(lambda m, a: m.linalg.matrix_power(a, -2)),
        [((3, 3),), ((2, 2, 2),)], invertible, **LA32),
    Row("linalg_matrix_power_0", *same(lambda m, a: m.linalg.matrix_power(a, 0) + a),
        [((2, 2),)], invertible),
    Row("linalg_multi_dot", *same(lambda m, *xs: m.linalg.multi_dot(xs)),
        [((3,), (3, 4), (4, 2), (2,)), ((2, 3), (3, 4), (4, 1)), ((3, 2), (2, 5), (5, 2),
                                                                 (2, 4))], **LA32),
    Row("linalg_norm_2", *same(lambda m, a: m.linalg.norm(a, 2)), [((3, 3),), ((4, 2),)],
        spectrum, **LA32),
    Row("linalg_norm_m2_axes", *same(lambda m, a: m.linalg.norm(a, -2, axis=(2, 0))),
        [((3, 2, 4),)], spectrum, **LA32),
    Row("linalg_norm_nuc_keepdims", *same(lambda m, a: m.linalg.norm(
        a, "nuc", axis=(1, 2), keepdims=True)), [((2, 3, 3),)], spectrum, **LA32),
    Row("linalg_matrix_norm", *same(lambda m, a: m.linalg.matrix_norm(a, ord=2)),
        [((2, 3, 4),), ((3, 3),)], spectrum, **LA32),
    Row("linalg_matrix_norm_fro", *same(lambda m, a: m.linalg.matrix_norm(a, keepdims=True)),
        [((2, 3, 4),)], **LA32),
    Row("linalg_vector_norm", *same(lambda m, a: m.linalg.vector_norm(a, axis=(0, 2),
                                                                       keepdims=True)),
        [((2, 3, 4),)], **LA32),
    Row("linalg_vector_norm_all", *same(lambda m, a: m.linalg.vector_norm(a, ord=3)),
        [((2, 3),), ((4,),)], away_from([0.0]), **LA32),
    Row("linalg_cond", *same(lambda m, a: m.linalg.cond(a)), [((3, 3),), ((2, 4, 2),)],
        spectrum, **LA32),
    Row("linalg_cond_p", *same(lambda m, a: m.linalg.cond(a, -2) + m.linalg.cond(a, "fro")),
        [((3, 3),)], spectrum, **LA32),
    Row("linalg_cond_1", *same(lambda m, a: m.linalg.cond(a, 1)), [((3, 3),)], distinct,
        **LA32),
    Row("linalg_tensorinv", *same(lambda m, a: m.linalg.tensorinv(a, ind=1)),
        [((4, 2, 2),)], lambda r, s: invertible(r, (4, 4)).reshape(s), **LA32),
    Row("linalg_tensorsolve", *same(lambda m, a, b: m.linalg.tensorsolve(a, b)),
        [((2, 2, 2, 2), (2, 2))], lambda r, s: invertible(r, (4, 4)).reshape(s)
        if len(s) == 4 else r.uniform(-2, 2, s), **LA32),
    Row("linalg_trace", *same(lambda m, a: m.linalg.trace(a, offset=1)), [((2, 3, 4),)]),
    Row("linalg_diagonal", *same(lambda m, a: m.linalg.diagonal(a, offset=-1)),
        [((2, 3, 4),)]),
    Row("linalg_matrix_transpose", *same(lambda m, a: m.linalg.matrix_transpose(a)),
        [((2, 3, 4),)]),
    Row("linalg_vecdot", *same(lambda m, a, b: m.linalg.vecdot(a, b, axis=0)),
        [((3, 2), (3, 1)), ((3,), (3,))], **LA32),
    Row("linalg_cross", *same(lambda m, a, b: m.linalg.cross(a, b, axis=0)),
        [((3, 2), (3, 1)), ((3,), (3,))], **LA32),
    Row("linalg_outer", *same(lambda m, a, b: m.linalg.outer(a, b)), [((3,), (2,))]),
    Row("linalg_tensordot", *same(lambda m, a, b: m.linalg.tensordot(a, b, axes=1)),
        [((2, 3), (3, 2))], **LA32),
    Row("linalg_matmul", *same(lambda m, a, b: m.linalg.matmul(a, b)),
        [((2, 3), (3,))], **LA32),
]

# ---------------------------------------------------------------- gpuad.scipy.linalg
def scipy_same(call):
    """(fun, ref) for a call written once against gpuad.scipy.linalg and scipy.linalg."""
    return (lambda *xs: call(gsl, *xs)), (lambda *xs: call(sl, *xs))


def shifted(rng, s):
    """Square (..., n, n): 2 I plus entries in [-0.5, 0.5] / n (eigenvalues within 0.5 of 2:
    a and -b never share one, and the principal square root is real). Other shapes:
    uniform on [-2, 2]."""
    if not _square(s):
        return rng.uniform(-2, 2, size=s)
    return rng.uniform(-0.5, 0.5, size=s) / max(s[-1], 1) + 2 * np.eye(s[-1])


_PIV = np.array([2, 2, 2], dtype=np.int32)        # rows 0 <-> 2, then 1 <-> 2: a real swap
TRI_SHAPES = [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1)), ((2, 2), (3, 2, 4)),
              ((0, 0), (0,))]

SCIPY_LINALG = [
    Row("scipy_solve_triangular", *scipy_same(lambda m, a, b: m.solve_triangular(a, b)),
        TRI_SHAPES, invertible, **LA32),
    Row("scipy_solve_triangular_lower_t", *scipy_same(
        lambda m, a, b: m.solve_triangular(a, b, trans="T", lower=True)),
        [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 2))], invertible, **LA32),
    Row("scipy_solve_triangular_conj", *scipy_same(
        lambda m, a, b: m.solve_triangular(a, b, trans="C", lower=True)),
        [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1))], invertible, **LA32),
    Row("scipy_solve_triangular_unit", *scipy_same(
        lambda m, a, b: m.solve_triangular(a, b, trans=1, unit_diagonal=True)),
        [((3, 3), (3,))], invertible, **LA32),
    Row("scipy_solve_triangular_lower_unit", *scipy_same(
        lambda m, a, b: m.solve_triangular(a, b, lower=True, unit_diagonal=True)),
        [((4, 4), (4, 2))], invertible, **LA32),
    Row("scipy_cho_factor", *scipy_same(lambda m, a: m.cho_factor(a)[0]),
        [((3, 3),), ((2, 2, 2),), ((0, 0),)], spd, **LA32),
    Row("scipy_cho_factor_lower", *scipy_same(lambda m, a: m.cho_factor(a, lower=True)[0]),
        [((3, 3),)], spd, **LA32),
    Row("scipy_cho_solve", *scipy_same(lambda m, c, b: m.cho_solve((c, False), b)),
        [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 2, 2), (2, 2, 1))], spd, **LA32),
    Row("scipy_cho_solve_lower", *scipy_same(lambda m, c, b: m.cho_solve((c, True), b)),
        [((3, 3), (3, 2))], spd, **LA32),
    Row("scipy_lu_factor", *scipy_same(lambda m, a: m.lu_factor(a)[0]),
        [((3, 3),), ((2, 4, 4),), ((1, 1),), ((0, 0),)], uniform(-2, 2), **LA32),
    Row("scipy_lu_solve", *scipy_same(lambda m, lu, b: m.lu_solve((lu, _PIV), b)),
        [((3, 3), (3,)), ((3, 3), (3, 2))], invertible, **LA32),
    Row("scipy_lu_solve_conj", *scipy_same(lambda m, lu, b: m.lu_solve((lu, _PIV), b,
                                                                        trans=2)),
        [((3, 3), (3,)), ((3, 3), (3, 2))], invertible, **LA32),
    Row("scipy_lu_solve_t", *scipy_same(lambda m, lu, b: m.lu_solve((lu, _PIV), b, trans=1)),
        [((3, 3), (3,)), ((3, 3), (3, 2))], invertible, **LA32),
    Row("scipy_lu_roundtrip", *scipy_same(lambda m, a, b: m.lu_solve(m.lu_factor(a), b)),
        [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1))], invertible, **LA32),
    Row("scipy_expm", *scipy_same(lambda m, a: m.expm(a)),
        [((3, 3),), ((2, 2, 2),), ((1, 1),), ((0, 0),)], uniform(-1, 1), **LA32),
    Row("scipy_solve_sylvester", *scipy_same(lambda m, a, b, q: m.solve_sylvester(a, b, q)),
        [((2, 2), (3, 3), (2, 3)), ((2, 3, 3), (3, 3), (2, 3, 3))], shifted, **LA32),
    Row("scipy_sqrtm", *scipy_same(lambda m, a: m.sqrtm(a)), [((3, 3),), ((2, 2, 2),)],
        shifted, **LA32),
    Row("scipy_sqrtm_spd", *scipy_same(lambda m, a: m.sqrtm(a)), [((4, 4),)], spd, **LA32),
    Row("scipy_block_diag", *scipy_same(lambda m, a, b, c: m.block_diag(a, b, c)),
        [((2, 3), (2,), ()), ((1, 1), (0, 2), (3, 0))]),
]

# ---------------------------------------------------------------- shape and indexing
def ix(name, idx, shapes):
    """A row for ``x[idx]``: gnp._getitem is the operator of traced arrays."""
    return Row(name, lambda x: gnp._getitem(x, idx), lambda x: x[idx], shapes)


_MASK = np.array([True, False, True])
_MASK2 = np.array([[True, False, True], [False, False, True]])

SHAPE = [
    Row("reshape", lambda x: gnp.reshape(x, (-1,)), lambda x: np.reshape(x, (-1,)),
        UNARY_SHAPES),
    Row("transpose", gnp.transpose, np.transpose, UNARY_SHAPES),
    Row("ravel", gnp.ravel, np.ravel, UNARY_SHAPES),
    Row("swapaxes", *same(lambda m, x: m.swapaxes(x, 0, -1)), [((2, 3, 4),), ((0, 3),)]),
    Row("broadcast_to", *same(lambda m, x: m.broadcast_to(x, (2,) + x.shape)), UNARY_SHAPES),
    Row("moveaxis", *same(lambda m, x: m.moveaxis(x, (0, 2), (-1, 0))),
        [((2, 3, 4),), ((0, 3, 1),)]),
    Row("expand_dims", *same(lambda m, x: m.expand_dims(x, (0, -1))),
        [((),), ((3,),), ((2, 0),)]),
    Row("squeeze", gnp.squeeze, np.squeeze, [((),), ((1, 3, 1),), ((1, 0),)]),
    Row("squeeze_axis", *same(lambda m, x: m.squeeze(x, -1)), [((3, 1),), ((0, 1),)]),
    Row("atleast_1d", gnp.atleast_1d, np.atleast_1d, [((),), ((3,),)]),
    Row("atleast_2d", gnp.atleast_2d, np.atleast_2d, [((),), ((3,),), ((2, 3),)]),
    Row("concatenate", *same(lambda m, x, y: m.concatenate([x, y])),
        [((2, 3), (1, 3)), ((0, 3), (2, 3)), ((3,), (0,))]),
    Row("concatenate_axis", *same(lambda m, x, y, z: m.concatenate([x, y, z], axis=-1)),
        [((2, 1), (2, 3), (2, 0))]),
    Row("concatenate_none", *same(lambda m, x, y: m.concatenate([x, y], axis=None)),
        [((2, 3), ()), ((0,), (2, 2))]),
    Row("stack", *same(lambda m, x, y: m.stack([x, y], axis=-1)),
        [((), ()), ((2, 3), (2, 3)), ((0,), (0,))]),
    Row("hstack", *same(lambda m, x, y: m.hstack([x, y])), [((), (3,)), ((2, 1), (2, 3))]),
    Row("vstack", *same(lambda m, x, y: m.vstack([x, y])), [((3,), (2, 3)), ((), ())]),
    Row("split", *same(lambda m, x: m.split(x, 3, axis=-1)), [((6,),), ((2, 6),), ((2, 0),)]),
    Row("split_indices", *same(lambda m, x: m.concatenate(
        [p[::-1] * (k + 1) for k, p in enumerate(m.array_split(x, [1, -1, 10]))])),
        [((5,),), ((4, 2),), ((0, 2),)]),
    Row("array_split", *same(lambda m, x: m.concatenate(
        [p[::-1] * (k + 1) for k, p in enumerate(m.array_split(x, 3))])),
        [((7,),), ((2,),), ((0, 2),)]),
    Row("flip", gnp.flip, np.flip, UNARY_SHAPES),
    Row("flip_axis", *same(lambda m, x: m.flip(x, -1)), [((3,),), ((2, 3),), ((2, 0),)]),
    Row("roll", *same(lambda m, x: m.roll(x, 2)), UNARY_SHAPES),
    Row("roll_axes", *same(lambda m, x: m.roll(x, (1, -4), (0, 1))),
        [((2, 3),), ((2, 0),), ((3, 1, 2),)]),
    Row("tile", *same(lambda m, x: m.tile(x, (2, 1, 3))),
        [((),), ((3,),), ((2, 3),), ((0, 2),)]),
    Row("tile_int", *same(lambda m, x: m.tile(x, 2)), UNARY_SHAPES),
    Row("repeat", *same(lambda m, x: m.repeat(x, 2)), UNARY_SHAPES),
    Row("repeat_axis", *same(lambda m, x: m.repeat(x, [1, 0, 2], axis=1)),
        [((2, 3),), ((0, 3),)]),
    Row("pad", *same(lambda m, x: m.pad(x, 1)), UNARY_SHAPES),
    Row("pad_constant", *same(lambda m, x: m.pad(x, ((0, 1), (2, 0)),
                                                 constant_values=((1.0, 2.0), (3.0, 4.0)))),
        [((2, 3),), ((0, 2),)]),
    Row("pad_edge", *same(lambda m, x: m.pad(x, (2, 1), mode="edge")), [((3,),), ((2, 3),)]),
    Row("pad_reflect", *same(lambda m, x: m.pad(x, (3, 4), mode="reflect")),
        [((3,),), ((2, 3),)]),
    Row("pad_symmetric", *same(lambda m, x: m.pad(x, (3, 1), mode="symmetric")),
        [((2,),), ((2, 3),)]),
    Row("pad_wrap", *same(lambda m, x: m.pad(x, (4, 2), mode="wrap")), [((3,),), ((2, 3),)]),
    # odd reflection: 2 edge - mirror, iterated past the array's length (7 > 3 - 1)
    Row("pad_reflect_odd", *same(lambda m, x: m.pad(x, (7, 2), mode="reflect",
                                                    reflect_type="odd")),
        [((3,),), ((2, 3),), ((1,),)]),
    Row("pad_symmetric_odd", *same(lambda m, x: m.pad(x, ((1, 2), (5, 0)), mode="symmetric",
                                                      reflect_type="odd")),
        [((2, 3),), ((3, 1),)]),
    Row("triu", gnp.triu, np.triu, [((3,),), ((2, 3),), ((2, 3, 4),), ((0, 2),)]),
    Row("triu_k", *same(lambda m, x: m.triu(x, 1)), [((3, 3),), ((2, 4, 3),)]),
    Row("tril", gnp.tril, np.tril, [((3,),), ((2, 3),), ((2, 3, 4),), ((0, 2),)]),
    Row("tril_k", *same(lambda m, x: m.tril(x, -1)), [((3, 3),), ((2, 4, 3),)]),
    Row("diag", gnp.diag, np.diag, [((3,),), ((0,),), ((3, 4),), ((0, 2),)]),
    Row("diag_k", *same(lambda m, x: m.diag(x, -2)), [((3,),), ((3, 4),), ((1, 4),)]),
    Row("diagonal", *same(lambda m, x: m.diagonal(x, 1, 2, 0)), [((3, 2, 4),), ((2, 0, 2),)]),
    Row("take", *same(lambda m, x: m.take(x, [[0, 2], [2, 2]])), [((3,),), ((2, 3),)]),
    Row("take_axis", *same(lambda m, x: m.take(x, [1, -1, 1], axis=-1)),
        [((2, 3),), ((0, 2),)]),
    # NumPy's modes: indices out of range wrapped (repeats accumulate) or clipped
    Row("take_wrap", *same(lambda m, x: m.take(x, [7, -4, 2, 12], mode="wrap")),
        [((3,),), ((2, 3),)]),
    Row("take_clip", *same(lambda m, x: m.take(x, [[-5, 1], [9, 2]], axis=-1, mode="clip")),
        [((3,),), ((2, 3),)]),
    Row("take_along_axis", *same(lambda m, x: m.take_along_axis(
        x, np.array([[0, 0], [2, 1], [1, 1], [2, 2]]), axis=0)), [((3, 2),), ((3, 1),)]),
    Row("take_along_axis_broadcast", *same(lambda m, x: m.take_along_axis(
        x, np.array([[1, 0, 1]]), axis=1)), [((3, 2),), ((0, 2),)]),
    ix("getitem_int", -1, [((3,),), ((3, 2),)]),
    ix("getitem_ints", (1, -1), [((2, 3),), ((2, 3, 0),)]),
    ix("getitem_slices", (slice(None, None, -2), slice(1, None)),
       [((5, 3),), ((0, 3),), ((3, 1, 2),)]),
    ix("getitem_newaxis", (None, Ellipsis, None), [((),), ((3,),), ((2, 0),)]),
    ix("getitem_ellipsis", (Ellipsis, -1, None, slice(2, 0, -1)), [((2, 3),), ((2, 4, 3),)]),
    ix("getitem_array", [2, 0, 2, 2], [((3,),), ((4, 2),), ((3, 0),)]),
    ix("getitem_array2d", (slice(None), np.array([[0, 1], [1, 1]])), [((3, 2),), ((0, 2, 1),)]),
    ix("getitem_empty_array", [], [((3,),), ((3, 2),)]),
    ix("getitem_arrays", (np.array([[0], [1]]), [0, 2, 2]), [((2, 3),), ((2, 3, 2),)]),
    ix("getitem_mask", _MASK, [((3,),), ((3, 2),)]),
    ix("getitem_mask2d", (Ellipsis, _MASK2, slice(None)), [((2, 3, 2),), ((0, 2, 3, 1),)]),
    ix("getitem_mask_array", (_MASK, slice(None), [1, 0]), [((3, 2, 2),), ((3, 0, 2),)]),
    ix("getitem_mixed", (slice(None, None, -1), [0, 0, 1], None), [((2, 3),), ((2, 3, 2),)]),
    ix("getitem_nonadjacent", ([1, 0, 1], slice(None), [2, 2, 0]), [((2, 3, 4),)]),
    ix("getitem_nonadjacent_int", (0, slice(None), [1, 1]), [((2, 3, 4),), ((2, 0, 2),)]),
    ix("getitem_nonadjacent_ellipsis", ([0, 0], Ellipsis, [1, 2]), [((2, 3),), ((2, 3, 4),)]),
    ix("getitem_nonadjacent_newaxis", ([1, 1], None, [0, 2]), [((2, 3),), ((2, 3, 2),)]),
]

# ---------------------------------------------------------------- gpuad.scipy.special
def sp(name, domain=uniform(-2, 2), shapes=UNARY_SHAPES, **kw):
    """A row for gpuad.scipy.special.<name> against scipy.special.<name>."""
    return Row("special_" + name, getattr(gss, name), getattr(sc, name), shapes, domain, **kw)


def away_from_integers(lo, hi):
    """Uniform on [lo, hi], at least 0.15 from the integers (the poles of Gamma, psi)."""
    return lambda rng, s: np.floor(rng.uniform(lo, hi, size=s)) + rng.uniform(0.15, 0.85, size=s)


SCIPY_SPECIAL = [
    sp("gammaln", uniform(0.3, 5)),
    Row("special_gammaln_negative", gss.gammaln, sc.gammaln, UNARY_SHAPES,
        away_from_integers(-3, 0)),
    sp("digamma", uniform(0.3, 5)),
    Row("special_digamma_negative", gss.digamma, sc.digamma, UNARY_SHAPES,
        away_from_integers(-3, 0)),
    sp("psi", uniform(0.3, 5), shapes=[((3,),)]),
    # the order in x's dtype: an integer order promotes float32 x to float64, as SciPy's
    Row("special_polygamma", lambda x: gss.polygamma(np.array(1, x.dtype), x),
        lambda x: sc.polygamma(1, x), UNARY_SHAPES, uniform(0.3, 5)),
    Row("special_polygamma_orders", lambda x: gss.polygamma(np.array([0, 2, 3], x.dtype), x),
        lambda x: sc.polygamma(np.array([0, 2, 3]), x), [((3,),), ((2, 3),)], uniform(0.3, 5)),
    Row("special_polygamma_negative", lambda x: gss.polygamma(np.array(2, x.dtype), x),
        lambda x: sc.polygamma(2, x), [((3,),)], away_from_integers(-3, 0), rtol32=2e-4),
    sp("gamma", uniform(0.3, 4)),
    Row("special_gamma_negative", gss.gamma, sc.gamma, UNARY_SHAPES, away_from_integers(-3, 0)),
    sp("beta", uniform(0.3, 4), BINARY_SHAPES),
    sp("betaln", uniform(0.3, 4), BINARY_SHAPES),
    sp("erf"),
    sp("erfc"),
    sp("erfinv", uniform(-0.9, 0.9)),
    sp("erfcinv", uniform(0.1, 1.9)),
    sp("expit", uniform(-4, 4)),
    sp("logit", uniform(0.05, 0.95)),
    sp("xlogy", uniform(0.3, 2), BINARY_SHAPES),
    sp("xlog1py", uniform(-0.5, 2), BINARY_SHAPES),
    sp("entr", uniform(0.1, 2)),
    sp("i0", uniform(-3, 3)),
    sp("i1", uniform(-3, 3)),
    sp("i0e", away_from([0.0], -3, 3, gap=0.2)),
    sp("i1e", away_from([0.0], -3, 3, gap=0.2)),
    Row("special_i0e_far", gss.i0e, sc.i0e, [((4,),)], uniform(26, 40)),
    Row("special_multigammaln", lambda a: gss.multigammaln(a, 3),
        lambda a: sc.multigammaln(a, 3), UNARY_SHAPES, uniform(1.2, 4)),
    sp("ndtr", uniform(-3, 3)),
    sp("ndtri", uniform(0.05, 0.95)),
    sp("log_ndtr", uniform(-5, 3)),
    Row("special_log_ndtr_tail", gss.log_ndtr, sc.log_ndtr, [((4,),)], uniform(-40, -21)),
    # Both branches of P and Q (x <= max(1, a): the series; above: the continued fraction);
    # the derivatives in a come from the dual-number series and fractions.
    sp("gammainc", uniform(0.3, 4), BINARY_SHAPES),
    sp("gammaincc", uniform(0.3, 4), BINARY_SHAPES),
    Row("special_gammainc_large_a", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda a, x: m.gammainc(20 * a, 20 * x)), [((3,), (3,))], uniform(0.6, 1.6)),
    # betainc's three arguments (a, b in (0.4, 4), x in (0.1, 0.9)): the ternary op's rules.
    Row("special_betainc", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda a, b, x: m.betainc(4 * a, 4 * b, x)),
        [((), (), ()), ((3,), (3,), (3,)), ((2, 3), (3,), ()), ((2, 1), (1, 3), (2, 3)),
         ((0,), (0,), (0,))], uniform(0.1, 0.9)),
    Row("special_betaincc", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda a, b, x: m.betaincc(4 * a, 4 * b, x)),
        [((), (), ()), ((3,), (3,), (3,)), ((2, 3), (3,), ())], uniform(0.1, 0.9)),
    # stdtr(df, t): t of both signs; large df (the expansion in (df, t), df >= 100, t^2 <= df/20)
    Row("special_stdtr", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda df, t: m.stdtr(4 * df, 6 * t - 3)), BINARY_SHAPES, uniform(0.1, 0.9)),
    Row("special_stdtr_large_df", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda df, t: m.stdtr(1e4 * df, 10 * t - 5)), [((3,), (3,)), ((2, 3), ())],
        uniform(0.1, 0.9)),
    # The log-space incomplete functions (internal: gpuad.scipy.stats' logcdf), against the
    # log of SciPy's where that does not underflow (test_derivative_accuracy checks the rest).
    Row("special_log_gammainc", gss._log_gammainc, lambda a, x: np.log(sc.gammainc(a, x)),
        BINARY_SHAPES, uniform(0.3, 4)),
    Row("special_log_gammaincc", gss._log_gammaincc, lambda a, x: np.log(sc.gammaincc(a, x)),
        BINARY_SHAPES, uniform(0.3, 4)),
    Row("special_log_betainc", *(lambda f, g: (f(gss._log_betainc), g))(
        lambda m: lambda a, b, x: m(4 * a, 4 * b, x),
        lambda a, b, x: np.log(sc.betainc(4 * a, 4 * b, x))),
        [((), (), ()), ((3,), (3,), (3,)), ((2, 3), (3,), ())], uniform(0.1, 0.9)),
    # log stdtr on stdtr's rows' points (both signs of t; large df: the expansion's region)
    Row("special_log_stdtr", *(lambda f, g: (f(gss._log_stdtr), f(g)))(
        lambda m: lambda df, t: m(4 * df, 6 * t - 3), lambda df, t: np.log(sc.stdtr(df, t))),
        BINARY_SHAPES, uniform(0.1, 0.9)),
    Row("special_log_stdtr_large_df", *(lambda f, g: (f(gss._log_stdtr), f(g)))(
        lambda m: lambda df, t: m(1e4 * df, 10 * t - 5), lambda df, t: np.log(sc.stdtr(df, t))),
        [((3,), (3,)), ((2, 3), ())], uniform(0.1, 0.9)),
    # Non-empty shapes: of an empty array SciPy gives -inf ((0,)) or raises ((4, 0, 2)),
    # which the table's comparisons cannot hold; tests/test_scipy_special.py checks empties.
    Row("special_logsumexp", gss.logsumexp, sc.logsumexp, [((),), ((3,),), ((2, 3),)]),
    Row("special_logsumexp_axis", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda x: m.logsumexp(x, axis=-1, keepdims=True)), [((2, 3),), ((4,),)]),
    Row("special_logsumexp_b", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda a, b: m.logsumexp(a, axis=0, b=b + 2.5)),
        [((3,), (3,)), ((3, 2), (2,)), ((2, 3), ())]),
    Row("special_logsumexp_sign", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda a, b: m.logsumexp(a, b=b - 2.5, return_sign=True)[0]),
        [((3,), (3,)), ((2, 3), (3,))]),
    Row("special_softmax", *(lambda f: (f(gss), f(sc)))(lambda m: lambda x: m.softmax(x)),
        [((3,),), ((2, 3),)]),
    Row("special_softmax_axis", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda x: m.softmax(x, axis=0)), [((2, 3),)]),
    Row("special_log_softmax", *(lambda f: (f(gss), f(sc)))(
        lambda m: lambda x: m.log_softmax(x, axis=-1)), [((3,),), ((2, 3),)]),
]

TABLE = ELEMENTWISE + REDUCTIONS + LINALG + SCIPY_LINALG + SHAPE + SCIPY_SPECIAL

# ---------------------------------------------------------------- NumPy's surface (issues 12, 13)
def _near_half(rng, s):
    """x / 3 never an integer: away from remainder's jumps."""
    return (rng.integers(-6, 6, size=s) + rng.uniform(0.2, 0.8, size=s)) * 3.0 / 3.1


SURFACE = [
    # constructors with traced values
    Row("asarray", *same(lambda m, x: m.asarray(x) * 2.0), UNARY_SHAPES),
    Row("array_nested", *same(lambda m, x, y: m.array([[x, 2.0 * y], [y, x * y]])),
        [((), ()), ((3,), (3,))]),
    Row("full", *same(lambda m, x: m.full((2, 3), x)), [((),), ((3,),), ((1, 3),)]),
    Row("full_like", *same(lambda m, x, y: m.full_like(y, x) * y), [((), (2, 3)), ((3,), (3,))]),
    Row("linspace", *same(lambda m, x, y: m.linspace(x, y, 5)), [((), ()), ((2,), (2,))]),
    Row("linspace_axis", *same(lambda m, x, y: m.linspace(x, y, 4, endpoint=False, axis=-1)),
        [((2,), (2,))]),
    Row("logspace", *same(lambda m, x, y: m.logspace(x, y, 4)), [((), ()), ((2,), (2,))],
        uniform(-1, 1)),
    Row("geomspace", *same(lambda m, x, y: m.geomspace(x, y, 4)), [((), ()), ((2,), (2,))],
        uniform(0.5, 3), dtypes=("float64",)),       # (NumPy's geomspace is float64)
    Row("meshgrid", *same(lambda m, x, y: m.stack(m.meshgrid(x, y)) * 1.5),
        [((3,), (2,)), ((0,), (2,))]),
    Row("meshgrid_ij", *same(lambda m, x, y: m.stack(m.meshgrid(x, y, indexing="ij"))),
        [((3,), (2,))]),
    # elementwise compositions
    b("remainder", np.remainder, _near_half),
    b("mod", np.mod, _near_half),
    b("fmod", np.fmod, _near_half),
    Row("divmod", lambda x, y: gnp.divmod(x, y)[1], lambda x, y: np.divmod(x, y)[1],
        BINARY_SHAPES, _near_half),
    Row("modf", lambda x: gnp.modf(x)[0], lambda x: np.modf(x)[0], UNARY_SHAPES,
        away_from([-2.0, -1.0, 0.0, 1.0, 2.0])),
    u("deg2rad", np.deg2rad),
    u("rad2deg", np.rad2deg),
    u("degrees", np.degrees),
    u("radians", np.radians),
    b("logaddexp", np.logaddexp),
    b("logaddexp2", np.logaddexp2),
    b("copysign", np.copysign, away_from([0.0])),
    Row("heaviside", *same(lambda m, x, y: m.heaviside(np.array([-1.0, 0.0, 2.0], y.dtype), y)
                           * x), [((3,), (3,))]),
    u("nan_to_num", np.nan_to_num),
    Row("ldexp", lambda x: gnp.ldexp(x, 3), lambda x: np.ldexp(x, 3), UNARY_SHAPES),
    b("float_power", np.float_power, uniform(0.3, 2), dtypes=("float64",)),
    b("pow", np.power, uniform(0.3, 2)),
    u("acos", np.arccos, uniform(-0.8, 0.8)),
    u("asin", np.arcsin, uniform(-0.8, 0.8)),
    u("atan", np.arctan),
    b("atan2", np.arctan2, away_from([0.0], gap=0.3)),
    u("atanh", np.arctanh, uniform(-0.8, 0.8)),
    u("real", np.real),
    u("imag", np.imag),
    u("angle", np.angle, away_from([0.0])),
    Row("astype", *same(lambda m, x: m.astype(x, x.dtype) * 2.0), UNARY_SHAPES),
    Row("astype_to_complex", *same(lambda m, x: m.astype(x, np.complex128) * (1 + 2j)),
        UNARY_SHAPES, dtypes=("float64",)),
    Row("astype_to_real", lambda x: gnp.astype(x, np.float64),
        lambda x: np.real(x).astype(np.float64), UNARY_SHAPES, dtypes=("float64",)),
    Row("angle_deg", *same(lambda m, x: m.angle(x, deg=True)), UNARY_SHAPES, away_from([0.0])),
    u("conj", np.conj),
    u("conjugate", np.conjugate),
    # rearranging (gathers on NumPy's own layout)
    Row("append", *same(lambda m, x, y: m.append(x, y)), [((3,), (2,)), ((2, 3), ())]),
    Row("append_axis", *same(lambda m, x, y: m.append(x, y, axis=0)), [((2, 3), (1, 3))]),
    Row("insert", *same(lambda m, x, y: m.insert(x, [0, 2, 2], y)), [((3,), ()), ((2, 2), (3,))]),
    Row("insert_axis", *same(lambda m, x, y: m.insert(x, 1, y, axis=1)),
        [((2, 3), ()), ((2, 3), (2,))]),
    Row("delete", *same(lambda m, x: m.delete(x, [0, 2])), [((3,),), ((2, 3),)]),
    Row("delete_axis", *same(lambda m, x: m.delete(x, slice(None, None, 2), axis=1)),
        [((2, 3),), ((0, 3),)]),
    Row("block", *same(lambda m, x, y: m.block([[x, y], [y, x]])), [((2, 2), (2, 2))]),
    Row("column_stack", *same(lambda m, x, y: m.column_stack([x, y])),
        [((3,), (3,)), ((3, 2), (3,))]),
    Row("row_stack", *same(lambda m, x, y: m.vstack([x, y])), [((3,), (3,)), ((2, 3), (3,))]),
    Row("dstack", *same(lambda m, x, y: m.dstack([x, y])), [((3,), (3,)), ((2, 3), (2, 3))]),
    Row("hsplit", *same(lambda m, x: m.concatenate([p * (k + 1) for k, p in
                                                     enumerate(m.hsplit(x, 2))], axis=-1)),
        [((4,),), ((3, 4),)]),
    Row("vsplit", *same(lambda m, x: m.concatenate([p * (k + 1) for k, p in
                                                     enumerate(m.vsplit(x, [1]))])),
        [((3, 2),)]),
    Row("dsplit", *same(lambda m, x: m.concatenate([p * (k + 1) for k, p in
                                                     enumerate(m.dsplit(x, 2))], axis=2)),
        [((2, 1, 4),)]),
    Row("rot90", *same(lambda m, x: m.rot90(x)), [((2, 3),), ((2, 3, 2),)]),
    Row("rot90_k", *same(lambda m, x: m.rot90(x, -3, axes=(1, 2))), [((2, 3, 2),)]),
    Row("flipud", *same(lambda m, x: m.flipud(x)), [((3,),), ((2, 3),)]),
    Row("fliplr", *same(lambda m, x: m.fliplr(x)), [((2, 3),), ((2, 0),)]),
    Row("rollaxis", *same(lambda m, x: m.rollaxis(x, 2, 0)), [((2, 3, 4),)]),
    Row("atleast_3d", *same(lambda m, x: m.atleast_3d(x)), UNARY_SHAPES),
    Row("broadcast_arrays", *same(lambda m, x, y: m.stack(m.broadcast_arrays(x, y))),
        [((3,), ()), ((2, 1), (3,))]),
    Row("unstack", *same(lambda m, x: m.concatenate([p * (k + 1) for k, p in
                                                     enumerate(m.unstack(x, axis=1))])),
        [((2, 3),)]),
    Row("concat", *same(lambda m, x, y: m.concat([x, y])), [((3,), (2,))]),
    Row("permute_dims", *same(lambda m, x: m.permute_dims(x, (1, 2, 0))), [((2, 3, 4),)]),
    Row("matrix_transpose", *same(lambda m, x: m.matrix_transpose(x)), [((2, 3),), ((2, 3, 4),)]),
    Row("compress", *same(lambda m, x: m.compress([True, False, True], x, axis=-1)),
        [((3,),), ((2, 3),)]),
    Row("extract", *same(lambda m, x: m.extract(np.arange(6).reshape(2, 3) % 2 == 0, x)),
        [((2, 3),)]),
]

SURFACE += [
    # products
    Row("vdot", *same(lambda m, x, y: m.vdot(x, y)), [((3,), (3,)), ((2, 3), (6,))]),
    Row("vecdot", *same(lambda m, x, y: m.vecdot(x, y)), [((3,), (3,)), ((2, 3), (3,))]),
    Row("matvec", *same(lambda m, x, y: m.matvec(x, y)), [((2, 3), (3,)), ((4, 2, 3), (3,))]),
    Row("vecmat", *same(lambda m, x, y: m.vecmat(x, y)), [((2,), (2, 3)), ((2,), (4, 2, 3))]),
    Row("kron", *same(lambda m, x, y: m.kron(x, y)), [((2,), (3,)), ((2, 3), (2, 2)),
                                                       ((2,), (2, 2))]),
    Row("cross", *same(lambda m, x, y: m.cross(x, y)), [((3,), (3,)), ((4, 3), (3,))]),
    Row("cross_axes", *same(lambda m, x, y: m.cross(x, y, axisa=0, axisb=0, axisc=0)),
        [((3, 2), (3, 2))]),
    Row("einsum_interleaved", *same(lambda m, x, y: m.einsum(x, [0, 1], y, [1, 2], [0, 2])),
        [((2, 3), (3, 4))]),
    # selection
    Row("select", *same(lambda m, x, y: m.select([x < 0, x < 1], [x * y, y], -x)),
        [((3,), (3,)), ((2, 3), (3,))], away_from([0.0, 1.0])),
    Row("piecewise", lambda x: gnp.piecewise(x, [x < 0.5], [lambda v: v * v, gnp.sin]),
        lambda x: np.piecewise(x, [x < 0.5], [lambda v: v * v, np.sin]), UNARY_SHAPES,
        away_from([0.5])),
    Row("partition", lambda x: gnp.partition(x, 1),
        lambda x: np.take_along_axis(x, np.argpartition(x, 1), -1), [((3,),), ((2, 4),)],
        distinct),
    Row("apply_along_axis", *same(lambda m, x: m.apply_along_axis(
        lambda r: m.stack([m.sum(r * r), m.max(r)]), 1, x)), [((2, 3),)], distinct),
    Row("diagflat", *same(lambda m, x: m.diagflat(x, 1)), [((3,),), ((2, 2),)]),
    Row("at_set", lambda x, y: gnp.at(x)[np.array([0, 2, 0])].set(y),
        lambda x, y: _np_at(x, np.array([0, 2, 0]), y, "set"), [((3,), ()), ((4,), (3,))]),
    Row("at_add", lambda x, y: gnp.at(x)[np.array([0, 2, 0])].add(y),
        lambda x, y: _np_at(x, np.array([0, 2, 0]), y, "add"), [((3,), ()), ((4,), (3,))]),
    Row("at_multiply", lambda x, y: gnp.at(x)[1:].multiply(y),
        lambda x, y: _np_at(x, slice(1, None), y, "multiply"), [((3,), ()), ((4,), (3,))]),
    Row("at_max", lambda x, y: gnp.at(x)[:2].max(y),
        lambda x, y: _np_at(x, slice(None, 2), y, "max"), [((3,), (2,))], distinct),
    # repeated indices apply every occurrence (numpy's ufunc.at, JAX's .at[]); a set of
    # op(x[idx], v) kept the last occurrence only
    Row("at_multiply_repeated", lambda x, y: gnp.at(x)[np.array([0, 2, 0, 0])].multiply(y),
        lambda x, y: _np_at(x, np.array([0, 2, 0, 0]), y, "multiply"),
        [((3,), ()), ((4,), (4,))]),
    Row("at_max_repeated", lambda x, y: gnp.at(x)[np.array([1, 1, 0])].max(y),
        lambda x, y: _np_at(x, np.array([1, 1, 0]), y, "max"), [((3,), (3,))], distinct),
    Row("at_min_repeated", lambda x, y: gnp.at(x)[np.array([[1], [1]]), np.array([0, 2])].min(y),
        lambda x, y: _np_at(x, (np.array([[1], [1]]), np.array([0, 2])), y, "min"),
        [((2, 3), (2, 2))], distinct),
]


def _np_at(x, idx, v, how):
    x = x.copy()
    if how == "set":
        x[idx] = v
    elif how == "add":
        np.add.at(x, idx, v)
    elif how == "multiply":
        np.multiply.at(x, idx, v)
    elif how == "min":
        np.minimum.at(x, idx, v)
    else:
        np.maximum.at(x, idx, v)
    return x


TABLE += SURFACE


# ---------------------------------------------------------------- statistics and sequences
# (gpuad/numpy/_stats.py and _sequences.py; conventions tested in tests/test_stats.py and
# tests/test_sequences.py)
def with_nans(rng, s):
    """:func:`distinct` values with about a third NaN, never in a slice's first two
    entries along the first or the last axis (so no slice is all NaN, and ddof=1 works)."""
    x = distinct(rng, s)
    nan = rng.uniform(size=s) < 0.35
    if len(s):
        nan[..., :2] = False
        nan[:2, ...] = False
    return np.where(nan, np.nan, x)


def by_shape(**gens):
    """One generator per argument, told apart by their shapes: ``by_shape(s0=gen, ...)``
    maps ``str(shape)`` (e.g. ``"()"``, ``"(5,)"``) to a generator; ``other`` the rest."""
    def gen(rng, s):
        return gens.get(str(tuple(s)).replace(" ", ""), gens["other"])(rng, s)
    return gen


def increasing(rng, s):
    """Strictly increasing 1-d coordinates in about [-2, 2], gaps at least 0.3."""
    return np.cumsum(rng.uniform(0.3, 1.0, size=s)) - 0.6 * s[0]


def unit(rng, s):
    return rng.uniform(0.1, 0.9, size=s)


def positive(rng, s):
    return rng.uniform(0.5, 2.0, size=s)


QMETHODS = ("linear", "lower", "higher", "nearest", "midpoint", "inverted_cdf",
            "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
            "hazen", "weibull", "median_unbiased", "normal_unbiased")
F64 = dict(dtypes=("float64",))     # NumPy's result is float64 for float32 inputs too
_W5 = np.array([0.5, 2.0, 0.0, 1.0, 1.5])

STATS_SEQUENCES = [
    # order statistics
    Row("median", gnp.median, np.median, [((),), ((5,),), ((4,),), ((2, 3),)], distinct),
    Row("median_axis", *same(lambda m, x: m.median(x, axis=-1, keepdims=True)),
        [((4,),), ((2, 3),), ((0, 3),)], distinct),
    Row("median_axes", *same(lambda m, x: m.median(x, axis=(2, 0))), [((2, 3, 2),)], distinct),
    Row("quantile", *same(lambda m, x: m.quantile(x, 0.3)), [((),), ((5,),), ((2, 3),)],
        distinct),
    Row("quantile_q", *same(lambda m, x: m.quantile(x, [0.0, 0.35, 1.0], axis=0,
                                                     keepdims=True)),
        [((4,),), ((4, 2),), ((3, 0),)], distinct, **F64),
    Row("quantile_methods", *same(lambda m, x: m.stack(
        [m.quantile(x, [0.1, 0.45, 0.9], axis=-1, method=k) for k in QMETHODS])),
        [((7,),), ((2, 6),)], distinct, **F64),
    Row("quantile_traced_q", lambda x, q: gnp.quantile(x, q, method="hazen"),
        lambda x, q: np.quantile(x, q, method="hazen"), [((6,), ()), ((6,), (2,))],
        by_shape(**{"()": unit, "(2,)": unit, "other": distinct})),
    Row("quantile_weights", *same(lambda m, x: m.quantile(
        x, [0.2, 0.5, 0.9], method="inverted_cdf", weights=_W5)), [((5,),)], distinct),
    Row("percentile", *same(lambda m, x: m.percentile(x, [30.0, 75.0], axis=1)),
        [((2, 4),), ((2, 1, 3),)], distinct, **F64),
    Row("percentile_traced_q", lambda x, q: gnp.percentile(x, q),
        lambda x, q: np.percentile(x, q), [((5,), ())],
        by_shape(**{"()": lambda r, s: r.uniform(10, 90, s), "other": distinct})),
    Row("nanmedian", *same(lambda m, x: m.nanmedian(x, axis=-1)),
        [((5,),), ((3, 4),), ((3, 5),)], with_nans),
    Row("nanmedian_all", gnp.nanmedian, np.nanmedian, [((6,),), ((3, 4),)], with_nans),
    Row("nanquantile", *same(lambda m, x: m.nanquantile(x, [0.2, 0.8], axis=0)),
        [((5,),), ((5, 3),)], with_nans, **F64),
    Row("nanpercentile", *same(lambda m, x: m.nanpercentile(x, 40, axis=-1, keepdims=True,
                                                             method="weibull")),
        [((6,),), ((3, 5),)], with_nans),
    # means and spreads
    Row("average", lambda a, w: gnp.average(a, weights=w),
        lambda a, w: np.average(a, weights=w), [((4,), (4,)), ((2, 3), (2, 3))], positive),
    Row("average_axis", lambda a, w: gnp.average(a, axis=(2, 0), weights=w),
        lambda a, w: np.average(a, axis=(2, 0), weights=w), [((2, 3, 4), (4, 2))], positive),
    Row("average_returned", *same(lambda m, a, w: m.multiply(
        *m.average(a, axis=1, weights=w, returned=True, keepdims=True))),
        [((2, 3), (3,))], positive),
    Row("bincount", *same(lambda m, w: m.bincount(np.array([0, 2, 2, 3, 0]), weights=w,
                                                   minlength=6)), [((5,),)],
        dtypes=("float64",)),           # NumPy: float64 for any weights
    Row("average_unweighted", *same(lambda m, a: m.average(a, axis=0)),
        [((3,),), ((2, 3),)]),
    Row("ptp", gnp.ptp, np.ptp, [((5,),), ((2, 3),)], distinct),
    Row("ptp_axis", *same(lambda m, x: m.ptp(x, axis=0, keepdims=True)),
        [((3, 2),), ((3, 0),)], distinct),
    Row("cov", gnp.cov, np.cov, [((3,),), ((2, 5),), ((3, 4),)], **F64),
    Row("cov_y", *same(lambda m, x, y: m.cov(x, y, rowvar=False, ddof=0)),
        [((5, 2), (5,)), ((4, 1), (4, 2))], **F64),
    Row("cov_weights", lambda x, w: gnp.cov(x, fweights=[1, 3, 2, 1], aweights=w),
        lambda x, w: np.cov(x, fweights=[1, 3, 2, 1], aweights=w), [((2, 4), (4,))],
        positive, cdomain=lambda r, s: (complexify(positive) if len(s) == 2 else positive)(r, s),
        **F64),
    Row("corrcoef", gnp.corrcoef, np.corrcoef, [((3, 5),), ((2, 4),)], **F64),
    Row("corrcoef_y", *same(lambda m, x, y: m.corrcoef(x, y)), [((4,), (4,))], **F64),
    # NaN-ignoring reductions
    Row("nansum", *same(lambda m, x: m.nansum(x, axis=-1)), [((5,),), ((3, 4),), ((0, 3),)],
        with_nans),
    Row("nanprod", *same(lambda m, x: m.nanprod(x, axis=0, keepdims=True)),
        [((5,),), ((4, 3),)], with_nans),
    Row("nanmean", *same(lambda m, x: m.nanmean(x, axis=-1)), [((5,),), ((3, 4),)],
        with_nans),
    Row("nanmean_all", gnp.nanmean, np.nanmean, [((3, 4),)], with_nans),
    Row("nanmean_where", *same(lambda m, x: m.nanmean(x, axis=-1, where=W4)), [((3, 4),)],
        with_nans),
    Row("nanvar_where", *same(lambda m, x: m.nanvar(x, axis=-1, where=W4)), [((3, 4),)],
        with_nans),
    Row("nansum_initial", *same(lambda m, x: m.nansum(x, axis=-1, initial=0.5, where=W4)),
        [((3, 4),)], with_nans),
    Row("nanmax_initial", *same(lambda m, x: m.nanmax(x, axis=-1, initial=-3.0, where=W4)),
        [((3, 4),)], with_nans),
    Row("nanmin_initial", *same(lambda m, x: m.nanmin(x, axis=0, initial=3.0)), [((3, 4),)],
        with_nans),
    Row("nanvar", *same(lambda m, x: m.nanvar(x, axis=0, ddof=1)), [((5,),), ((5, 3),)],
        with_nans),
    Row("nanstd", *same(lambda m, x: m.nanstd(x, axis=-1, keepdims=True)),
        [((5,),), ((3, 5),)], with_nans),
    Row("nanmax", *same(lambda m, x: m.nanmax(x, axis=-1)), [((5,),), ((3, 4),)], with_nans),
    Row("nanmin", *same(lambda m, x: m.nanmin(x, axis=0)), [((5,),), ((4, 3),)], with_nans),
    Row("nancumsum", gnp.nancumsum, np.nancumsum, [((6,),), ((3, 4),), ((0,),)], with_nans),
    Row("nancumprod", *same(lambda m, x: m.nancumprod(x, axis=-1)), [((6,),), ((3, 4),)],
        with_nans),
    # cumulative products and differences
    Row("cumprod", gnp.cumprod, np.cumprod, UNARY_SHAPES + [((9,),)]),
    Row("cumprod_zeros", *same(lambda m, x: m.cumprod(x, axis=-1)),
        [((7,),), ((3, 5),)], with_zeros),
    Row("cumulative_sum", *same(lambda m, x: m.cumulative_sum(x, axis=-1,
                                                               include_initial=True)),
        [((),), ((3,),), ((2, 3),), ((2, 0),)]),
    Row("cumulative_prod", *same(lambda m, x: m.cumulative_prod(x, axis=0,
                                                                 include_initial=True)),
        [((3,),), ((5, 2),), ((0, 2),)], with_zeros),
    Row("diff", *same(lambda m, x: m.diff(x, n=2)), [((5,),), ((2, 4),), ((2, 1),)]),
    Row("diff_prepend", *same(lambda m, x, p: m.diff(x, axis=0, prepend=p, append=x[:1])),
        [((3, 2), (1, 2)), ((2,), ())]),
    Row("ediff1d", *same(lambda m, x, b: m.ediff1d(x, to_begin=b, to_end=[1.0, 2.0])),
        [((5,), ()), ((2, 3), (2,))]),
    Row("gradient", gnp.gradient, np.gradient, [((5,),), ((2,),)]),
    Row("gradient_edge2", *same(lambda m, f, h: m.gradient(f, h, axis=-1, edge_order=2)),
        [((2, 5), ()), ((3,), ())], by_shape(**{"()": positive, "other": uniform(-2, 2)})),
    Row("gradient_coordinates", *same(lambda m, f, x: m.stack(
        [m.gradient(f, x, axis=1, edge_order=k) for k in (1, 2)])),
        [((2, 5), (5,)), ((3, 4), (4,))], by_shape(**{"(5,)": increasing,
                                                       "(4,)": increasing,
                                                       "other": uniform(-2, 2)}), **F64),
    Row("gradient_axes", *same(lambda m, f: m.stack(m.gradient(f, 0.5, axis=(1, 0)))),
        [((3, 4),)]),
    Row("trapezoid", *same(lambda m, y, x: m.trapezoid(y, x)),
        [((2, 5), (5,)), ((4,), (4,)), ((3, 2), (3, 2))], **F64),
    Row("trapezoid_dx", *same(lambda m, y, d: m.trapezoid(y, dx=d, axis=0)),
        [((4,), ()), ((3, 2), ()), ((0,), ())]),
    Row("unwrap", *same(lambda m, p: m.unwrap(p, axis=-1)), [((6,),), ((3, 5),), ((2, 0),)],
        uniform(-6, 6)),
    Row("unwrap_period", *same(lambda m, p: m.unwrap(p, discont=1.5, period=2.0)),
        [((8,),)], uniform(-3, 3)),
    # interpolation and convolution
    Row("interp", lambda x, xp_, fp: gnp.interp(x, xp_, fp),
        lambda x, xp_, fp: np.interp(x, xp_, fp), [((9,), (5,), (5,)), ((), (3,), (3,))],
        by_shape(**{"(5,)": increasing, "(3,)": increasing, "other": uniform(-2.5, 2.5)}),
        **F64),
    Row("interp_fp", *same(lambda m, x, fp: m.interp(x, [-1.0, 0.0, 0.5, 2.0], fp,
                                                      left=fp[1], right=-1.0)),
        [((3, 4), (4,))], uniform(-2.5, 2.5), **F64),
    Row("interp_period", *same(lambda m, x, fp: m.interp(x, [0.5, 1.0, 2.0, 3.5], fp,
                                                          period=4.0)),
        [((7,), (4,))], uniform(-6, 6), **F64),
    Row("convolve", gnp.convolve, np.convolve,
        [((5,), (3,)), ((3,), (5,)), ((4,), (4,)), ((1,), (3,)), ((), (2,))]),
    Row("convolve_same", *same(lambda m, a, v: m.convolve(a, v, "same")),
        [((5,), (4,)), ((3,), (6,))]),
    Row("convolve_valid", *same(lambda m, a, v: m.convolve(a, v, mode="valid")),
        [((5,), (3,)), ((2,), (4,))]),
    Row("correlate", *same(lambda m, a, v: m.correlate(a, v, "full")),
        [((5,), (3,)), ((3,), (5,))]),
    Row("correlate_same", *same(lambda m, a, v: m.correlate(a, v, "same")),
        [((5,), (2,)), ((2,), (5,)), ((4,), (3,))]),
    Row("correlate_valid", gnp.correlate, np.correlate, [((5,), (3,)), ((3,), (3,))]),
    # polynomials
    Row("polyval", gnp.polyval, np.polyval, [((4,), (3,)), ((1,), ()), ((3,), (2, 2))]),
    Row("polyadd", gnp.polyadd, np.polyadd, [((3,), (5,)), ((4,), (4,)), ((), (2,))]),
    Row("polysub", gnp.polysub, np.polysub, [((5,), (3,)), ((2,), (2,))]),
    Row("polymul", gnp.polymul, np.polymul, [((3,), (2,)), ((1,), (4,))]),
    Row("polyder", *same(lambda m, p: m.polyder(p, 2)), [((5,),), ((2,),)], **F64),
    Row("polyint", *same(lambda m, p, k: m.polyint(p, 2, k)), [((4,), (2,)), ((1,), ())],
        **F64),
    Row("poly", gnp.poly, np.poly, [((3,),), ((1,),)]),
    Row("vander", gnp.vander, np.vander, [((4,),), ((0,),)], **F64),
    Row("vander_increasing", *same(lambda m, x: m.vander(x, 5, increasing=True)),
        [((3,),)], **F64),
]
TABLE += STATS_SEQUENCES

# ---------------------------------------------------------------- gpuad.scipy.signal (issue 13)
import scipy.signal as ss             # noqa: E402
import gpuad.scipy.signal as gsig     # noqa: E402


def signal_same(call):
    """(fun, ref) for a call written once against gpuad.scipy.signal and scipy.signal."""
    return (lambda *xs: call(gsig, *xs)), (lambda *xs: call(ss, *xs))


_CONV_SHAPES = [((5,), (3,)), ((3,), (5,)), ((4,), (4,)), ((4, 5), (2, 3)),
                ((2, 3), (3, 4)), ((3, 2, 4), (2, 2, 2))]
_VALID_SHAPES = [((5,), (3,)), ((2,), (4,)), ((4, 5), (2, 3)), ((2, 3), (3, 4)),
                 ((3, 3, 4), (2, 1, 2))]
SCIPY_SIGNAL = [
    Row("scipy_convolve", *signal_same(lambda m, a, v: m.convolve(a, v)), _CONV_SHAPES),
    Row("scipy_convolve_same", *signal_same(lambda m, a, v: m.convolve(a, v, "same")),
        _CONV_SHAPES),
    Row("scipy_convolve_valid", *signal_same(lambda m, a, v: m.convolve(a, v, "valid")),
        _VALID_SHAPES),
    Row("scipy_correlate", *signal_same(lambda m, a, v: m.correlate(a, v)), _CONV_SHAPES),
    Row("scipy_correlate_same", *signal_same(lambda m, a, v: m.correlate(a, v, "same")),
        _CONV_SHAPES),
    Row("scipy_correlate_valid", *signal_same(lambda m, a, v: m.correlate(a, v, "valid")),
        _VALID_SHAPES),
]


def _signal_fft_rows(what):
    """``what`` by the FFT method in every mode (SciPy's numbers by its direct method are
    the reference), and 'auto' on a shape where SciPy's model picks the FFT."""
    rows = [Row(f"scipy_{what}_fft{'' if mode == 'full' else '_' + mode}", *signal_same(
        lambda m, a, v, mode=mode: getattr(m, what)(a, v, mode, method="fft")), shapes)
        for mode, shapes in (("full", _FFT_CONV_SHAPES), ("same", _FFT_CONV_SHAPES),
                             ("valid", _VALID_SHAPES))]
    return rows + [Row(f"scipy_{what}_auto_fft", *signal_same(
        lambda m, a, v: getattr(m, what)(a, v, method="auto")), [((12, 12), (6, 6))])]


# odd and even lengths (the real transforms' half spectra differ), N-d, axes of length 1
# (broadcast, not transformed, as scipy.signal.fftconvolve does)
_FFT_CONV_SHAPES = [((5,), (3,)), ((4,), (6,)), ((1,), (4,)), ((4, 5), (2, 3)),
                    ((3, 1), (2, 4)), ((2, 3, 2), (2, 2, 3))]
SCIPY_SIGNAL += _signal_fft_rows("convolve") + _signal_fft_rows("correlate")
TABLE += SCIPY_SIGNAL

# ---------------------------------------------------------------- gpuad.numpy.fft
# (norm modes, n/s padding and cropping, round trips, JAX's numbers: tests/test_fft.py)
FFT_SHAPES = [((5,),), ((2, 6),), ((3, 1),)]          # odd, even and length-1 transforms
HALF_SHAPES = [((3,),), ((2, 4),), ((1,),)]           # half spectra: n = 4, 6, 0 -> pad
FFT = [
    Row("fft_fft", gnp.fft.fft, np.fft.fft, FFT_SHAPES),
    Row("fft_ifft", gnp.fft.ifft, np.fft.ifft, FFT_SHAPES),
    Row("fft_fft_n", *same(lambda m, x: m.fft.fft(x, n=4, axis=0)), [((3, 2),), ((6,),)]),
    Row("fft_fft2", gnp.fft.fft2, np.fft.fft2, [((2, 5),), ((3, 4, 6),)]),
    Row("fft_ifft2", gnp.fft.ifft2, np.fft.ifft2, [((2, 5),), ((3, 4, 6),)]),
    Row("fft_fftn", gnp.fft.fftn, np.fft.fftn, [((3,),), ((2, 3, 4),)]),
    Row("fft_ifftn", *same(lambda m, x: m.fft.ifftn(x, s=(4, 3), axes=(2, 0))),
        [((3, 2, 5),)]),
    Row("fft_rfft", gnp.fft.rfft, np.fft.rfft, FFT_SHAPES),
    Row("fft_irfft", *same(lambda m, x: m.fft.irfft(x, n=2 * x.shape[-1] - 1)),
        HALF_SHAPES),
    Row("fft_irfft_default", gnp.fft.irfft, np.fft.irfft, [((3,),), ((2, 4),)]),
    Row("fft_rfft2", gnp.fft.rfft2, np.fft.rfft2, [((3, 5),), ((2, 4, 6),)]),
    Row("fft_irfft2", *same(lambda m, x: m.fft.irfft2(x, s=(3, 5))), [((3, 3),), ((2, 4, 2),)]),
    Row("fft_rfftn", gnp.fft.rfftn, np.fft.rfftn, [((4,),), ((2, 3, 5),)]),
    Row("fft_irfftn", *same(lambda m, x: m.fft.irfftn(x, axes=(0, 1))), [((3, 4),), ((2, 3, 2),)]),
    Row("fft_hfft", gnp.fft.hfft, np.fft.hfft, HALF_SHAPES[:2]),
    Row("fft_ihfft", gnp.fft.ihfft, np.fft.ihfft, FFT_SHAPES),
    # (float32 input gives complex128, as NumPy's: tests/test_dtypes.py checks the dtypes)
    Row("sort_complex", gnp.sort_complex, np.sort_complex, [((5,),), ((2, 3),), ((0,),)],
        distinct, dtypes=("float64",)),
    Row("fft_fftshift", gnp.fft.fftshift, np.fft.fftshift, UNARY_SHAPES[1:]),
    Row("fft_ifftshift", *same(lambda m, x: m.fft.ifftshift(x, axes=-1)), [((5,),), ((2, 4),)]),
]
TABLE += FFT

# ---------------------------------------------------------------- gpuad.numpy.emath
# Real input, complex output where NumPy converts it (a negative entry; |x| > 1 for the
# inverse trigonometric ones): the domains straddle those edges, away from the singular
# points, so central differences along the real axis stay on one side of every branch cut
# (the upper one: NumPy's conversion gives imaginary parts +0).
_NEG = away_from([0.0], -4.0, 4.0, 0.3)
_CUT = away_from([-1.0, 0.0, 1.0], -3.0, 3.0, 0.15)
EMATH = [
    Row("emath_sqrt", gnp.emath.sqrt, np.emath.sqrt, UNARY_SHAPES, _NEG),
    Row("emath_log", gnp.emath.log, np.emath.log, UNARY_SHAPES, _NEG),
    Row("emath_log2", gnp.emath.log2, np.emath.log2, UNARY_SHAPES, _NEG),
    Row("emath_log10", gnp.emath.log10, np.emath.log10, UNARY_SHAPES, _NEG),
    Row("emath_logn", gnp.emath.logn, np.emath.logn, BINARY_SHAPES,
        away_from([-1.0, 0.0, 1.0], -4.0, 4.0, 0.3)),
    Row("emath_power", gnp.emath.power, np.emath.power, BINARY_SHAPES, _NEG),
    Row("emath_arcsin", gnp.emath.arcsin, np.emath.arcsin, UNARY_SHAPES, _CUT),
    Row("emath_arccos", gnp.emath.arccos, np.emath.arccos, UNARY_SHAPES, _CUT),
    Row("emath_arctanh", gnp.emath.arctanh, np.emath.arctanh, UNARY_SHAPES, _CUT),
]
TABLE += EMATH

# ---------------------------------------------------------------- complex variants
# Every row whose NumPy function takes complex input runs in complex128 and complex64 too
# (complex128 only where NumPy's result is float64 for float32 input): forward against
# NumPy in both, derivatives (forward against central differences along real and
# imaginary directions, reverse by the dot-product test in the real inner product) in
# complex128, to the row's order (tests/test_ops.py). Inputs: the row's ``cdomain``, else
# complexify(domain). Rows not listed: NumPy refuses complex input (arctan2, remainder,
# deg2rad, logaddexp, copysign, quantile, unwrap, interp's coordinates, ...), or gpuad
# does: maximum, minimum, clip and at[].max (orderings of complex numbers are not
# differentiated) and sigmoid, softplus, relu, erf (functions of real numbers here).
C = ("complex128", "complex64")
COMPLEX_ROWS = set("""
    astype_to_complex astype_to_real angle_deg fft_fft fft_ifft fft_fft_n fft_fft2 fft_ifft2
    fft_fftn fft_ifftn fft_irfft fft_irfft_default fft_irfft2 fft_irfftn fft_hfft
    fft_fftshift fft_ifftshift sort_complex
    linalg_det linalg_slogdet linalg_cholesky linalg_cholesky_upper linalg_det_rank1_deficient
    linalg_det_rank2_deficient linalg_det_order3 linalg_svd_s linalg_svdvals linalg_svd_uv
    linalg_svd_u linalg_svd_v linalg_svd_full_complement linalg_svd_hermitian linalg_eigh_w
    linalg_eigh_v linalg_eigh_upper linalg_eigvalsh linalg_qr_q linalg_qr_r linalg_qr_r_mode
    linalg_qr_complete linalg_pinv linalg_pinv_hermitian linalg_lstsq linalg_lstsq_residuals
    linalg_lstsq_s linalg_norm_2 linalg_norm_m2_axes linalg_norm_nuc_keepdims
    linalg_matrix_norm linalg_cond linalg_cond_p scipy_sqrtm scipy_sqrtm_spd scipy_cho_factor
    scipy_cho_factor_lower scipy_cho_solve scipy_cho_solve_lower scipy_solve_triangular_conj
    scipy_lu_solve_conj
    negative exp exp2 log log2 log10 log1p expm1 sqrt sin cos tan tanh sinh cosh arctan 
    arcsin arccos arctanh arcsinh asinh arccosh acosh abs absolute sign reciprocal square
    add subtract multiply
    divide true_divide power where sum sum_axis mean prod prod_zeros prod_axes max 
    max_axis amax min min_axis amin var var_axis std std_axis logsumexp logsumexp_axis 
    logsumexp_large cumsum cumsum_axis sort sort_axis sort_none nn_logsumexp nn_softmax 
    nn_softmax_axis nn_log_softmax matmul matmul_operator dot inner outer tensordot 
    tensordot_axes tensordot_0 einsum einsum_implicit einsum_ellipsis 
    einsum_ellipsis_implicit einsum_broadcast einsum_diagonal einsum_trace einsum_sum 
    einsum_scalar einsum_three einsum_repeated trace trace_offset linalg_norm 
    linalg_norm_axis linalg_norm_ord1 linalg_norm_ord3 linalg_norm_inf linalg_norm_fro 
    linalg_norm_matrix1 linalg_norm_matrix_inf linalg_solve linalg_inv 
    linalg_matrix_power linalg_matrix_power_negative linalg_matrix_power_0 
    linalg_multi_dot linalg_matrix_norm_fro linalg_vector_norm linalg_vector_norm_all 
    linalg_cond_1 linalg_tensorinv linalg_tensorsolve linalg_trace linalg_diagonal 
    linalg_matrix_transpose linalg_vecdot linalg_cross linalg_outer linalg_tensordot 
    linalg_matmul scipy_solve_triangular scipy_solve_triangular_lower_t 
    scipy_solve_triangular_unit scipy_solve_triangular_lower_unit scipy_lu_factor 
    scipy_lu_solve scipy_lu_solve_t scipy_lu_roundtrip scipy_expm scipy_solve_sylvester 
    scipy_block_diag reshape transpose ravel swapaxes broadcast_to moveaxis expand_dims 
    squeeze squeeze_axis atleast_1d atleast_2d concatenate concatenate_axis 
    concatenate_none stack hstack vstack split split_indices array_split flip flip_axis 
    roll roll_axes tile tile_int repeat repeat_axis pad pad_constant pad_edge 
    pad_reflect pad_symmetric pad_wrap pad_reflect_odd pad_symmetric_odd triu triu_k tril tril_k diag diag_k diagonal 
    take take_axis take_wrap take_clip take_along_axis take_along_axis_broadcast getitem_int getitem_ints 
    getitem_slices getitem_newaxis getitem_ellipsis getitem_array getitem_array2d 
    getitem_empty_array getitem_arrays getitem_mask getitem_mask2d getitem_mask_array 
    getitem_mixed getitem_nonadjacent getitem_nonadjacent_int 
    getitem_nonadjacent_ellipsis getitem_nonadjacent_newaxis asarray array_nested full 
    full_like linspace linspace_axis logspace geomspace meshgrid meshgrid_ij nan_to_num 
    float_power pow acos asin atan atanh real imag angle astype conj conjugate append 
    append_axis insert insert_axis delete delete_axis block column_stack row_stack 
    dstack hsplit vsplit dsplit rot90 rot90_k flipud fliplr rollaxis atleast_3d 
    broadcast_arrays unstack concat permute_dims matrix_transpose compress extract vdot 
    vecdot matvec vecmat kron cross cross_axes einsum_interleaved select piecewise 
    partition apply_along_axis diagflat at_set at_add at_multiply median median_axis 
    median_axes nanmedian nanmedian_all average average_axis average_returned 
    average_unweighted ptp ptp_axis cov cov_y cov_weights corrcoef corrcoef_y nansum 
    nanprod nanmean nanmean_all nanvar nanstd nanmax nanmin nancumsum nancumprod 
    cumprod cumprod_zeros cumulative_sum cumulative_prod diff diff_prepend ediff1d 
    gradient gradient_edge2 gradient_coordinates gradient_axes trapezoid trapezoid_dx 
    convolve convolve_same convolve_valid correlate correlate_same correlate_valid 
    scipy_convolve scipy_convolve_same scipy_convolve_valid scipy_convolve_fft 
    scipy_convolve_fft_same scipy_convolve_fft_valid scipy_convolve_auto_fft 
    scipy_correlate scipy_correlate_same scipy_correlate_valid scipy_correlate_fft 
    scipy_correlate_fft_same scipy_correlate_fft_valid scipy_correlate_auto_fft 
    polyval polyadd polysub polymul polyder polyint poly vander vander_increasing 
""".split())
_CDOMAIN = {spd: hpd, symmetric: hermitian, spectrum: cspectrum}   # their complex kin
for _row in TABLE:
    if _row.name in COMPLEX_ROWS:
        _row.dtypes = _row.dtypes + (C[:1] if _row.dtypes == ("float64",) else C)
        _row.cdomain = (_row.cdomain or _CDOMAIN.get(_row.domain)
                        or getattr(_row.domain, "complex", None))

# ---------------------------------------------------------------- gpuad.scipy.stats
# (out-of-support points, NaN parameters, frozen distributions, NotImplementedError of the
# cdfs that need incomplete gamma/beta functions: tests/test_scipy_stats.py)
import scipy.stats as sst              # noqa: E402
import gpuad.scipy.stats as gst        # noqa: E402


def stats_same(call):
    """(fun, ref) for a call written once against gpuad.scipy.stats and scipy.stats."""
    return (lambda *xs: call(gst, *xs)), (lambda *xs: call(sst, *xs))


def st(name, call, shapes, domain, **kw):
    return Row("stats_" + name, *stats_same(call), shapes, domain, **kw)


S3 = [((), (), ()), ((3,), (3,), ()), ((2, 3), (3,), (2, 1))]
S4 = [((), (), (), ()), ((3,), (), (3,), (2, 1))]
S5 = [((3,), (3,), (), (), ()), ((2, 3), (), (3,), (2, 1), ())]
_K = np.array([0.0, 1.0, 3.0])
POS = uniform(0.5, 3)
MVN = [((4, 3), (3,), (3, 3)), ((3,), (3,), (3, 3)), ((2, 2, 3), (3,), (3, 3))]
DIR = [((2,), (3,)), ((2, 4), (3,))]
MVN2 = [((4, 2), (2,), (2, 2)), ((2,), (2,), (2, 2))]
_HI, _LO = np.ones((2, 2)), np.array([[1.0, -1.0], [-1.0, 1.0]])

SCIPY_STATS = [
    st("norm_logpdf", lambda m, x, l, s: m.norm.logpdf(x, l, s), S3, uniform(0.5, 2)),
    st("norm_pdf", lambda m, x, l, s: m.norm.pdf(x, loc=l, scale=s), S3, uniform(0.5, 2)),
    st("norm_cdf", lambda m, x, l, s: m.norm.cdf(x - 1.0, l, s), S3, uniform(0.5, 2)),
    st("norm_logcdf", lambda m, x, l, s: m.norm.logcdf(3 * x - 5.0, l, s), S3, uniform(0.5, 2)),
    st("t_logpdf", lambda m, x, d, l, s: m.t.logpdf(x, d, l, s), S4, POS),
    st("t_pdf", lambda m, x, d: m.t.pdf(x - 1.5, df=d), BINARY_SHAPES[:4], POS),
    st("gamma_logpdf", lambda m, x, a, s: m.gamma.logpdf(x, a, scale=s), S3, POS),
    st("gamma_logpdf_loc", lambda m, x, a, l, s: m.gamma.logpdf(x + 2, a, l - 1, s), S4, POS),
    st("gamma_pdf", lambda m, x, a: m.gamma.pdf(x, a), BINARY_SHAPES[:4], POS),
    st("beta_logpdf", lambda m, x, a, b: m.beta.logpdf(x, a + 1, b + 0.5), S3,
       uniform(0.1, 0.9)),
    st("beta_logpdf_loc", lambda m, x, a, b, l, s: m.beta.logpdf(x, a, b, 0.1 * l - 0.1, s + 1),
       S5, uniform(0.1, 0.9)),
    st("beta_pdf", lambda m, x, a, b: m.beta.pdf(x, a + 1, b + 1), S3, uniform(0.1, 0.9)),
    st("chi2_logpdf", lambda m, x, d: m.chi2.logpdf(x, d), BINARY_SHAPES[:4], POS),
    st("chi2_logpdf_loc", lambda m, x, d, l, s: m.chi2.logpdf(x + 2, d, l - 1, s), S4, POS),
    st("chi2_pdf", lambda m, x, d: m.chi2.pdf(x, df=d), BINARY_SHAPES[:4], POS),
    st("poisson_logpmf", lambda m, mu: m.poisson.logpmf(_K, mu), [((),), ((3,),), ((2, 3),)],
       POS),
    st("poisson_logpmf_loc", lambda m, mu: m.poisson.logpmf(_K + 2, mu, loc=2), [((3,),)], POS),
    st("poisson_pmf", lambda m, mu: m.poisson.pmf(_K, mu), [((),), ((2, 3),)], POS),
    st("logistic_logpdf", lambda m, x, l, s: m.logistic.logpdf(x, l, s), S3, uniform(0.3, 2)),
    st("logistic_logpdf_tails", lambda m, x: m.logistic.logpdf(x * 20 - 25),
       [((4,),)], uniform(0.3, 2)),
    st("logistic_pdf", lambda m, x, l, s: m.logistic.pdf(x, l, s), S3, uniform(0.3, 2)),
    st("logistic_cdf", lambda m, x, l, s: m.logistic.cdf(x - 1, l, s), S3, uniform(0.3, 2)),
    st("logistic_logcdf", lambda m, x, l, s: m.logistic.logcdf(4 * x - 4, l, s), S3,
       uniform(0.3, 2)),
    st("multivariate_normal_logpdf",
       lambda m, x, mu, c: m.multivariate_normal.logpdf(x, mu, c), MVN, spd, rtol32=1e-4),
    st("multivariate_normal_pdf",
       lambda m, x, mu, c: m.multivariate_normal.pdf(x, mean=mu, cov=c), MVN[:2], spd,
       rtol32=1e-4),
    st("multivariate_normal_diag",
       lambda m, x, mu, c: m.multivariate_normal.logpdf(x, mu, c + 3), [((4, 3), (3,), (3,))],
       uniform(-2, 2)),
    st("multivariate_normal_scalar",
       lambda m, x, c: m.multivariate_normal.logpdf(x, cov=c + 3), [((5,), ())],
       uniform(-2, 2)),
    # d = 2: Genz's bivariate formula (SciPy's too), in each of its branches: |r| < 0.3 (spd's
    # covariances), |r| >= 0.925 of either sign (the 0.95 mixes); lower limits give 4 corners
    st("multivariate_normal_cdf2",
       lambda m, x, mu, c: m.multivariate_normal.cdf(x, mu, c), MVN2, spd),
    # (float64 only: the fixed mixing matrices are float64 and promote a float32 cov)
    st("multivariate_normal_cdf2_high",
       lambda m, x, mu, c: m.multivariate_normal.cdf(x, mu, 0.05 * c + 0.95 * _HI), MVN2, spd,
       dtypes=("float64",)),
    # x + 4 - mu >= 0: away from the tail where P < 1e-10 takes the lattice estimate
    st("multivariate_normal_logcdf2_negative",
       lambda m, x, mu, c: m.multivariate_normal.logcdf(x + 4.0, mu, 0.05 * c + 0.95 * _LO),
       MVN2, spd, dtypes=("float64",)),
    st("multivariate_normal_cdf2_box",
       lambda m, x, mu, c: m.multivariate_normal.cdf(x, mu, c, lower_limit=x - 1.5), MVN2, spd),
    st("dirichlet_logpdf", lambda m, x, a: m.dirichlet.logpdf(x, a + 1), DIR, uniform(0.1, 0.45)),
    st("dirichlet_logpdf_small_alpha", lambda m, x, a: m.dirichlet.logpdf(x, a), DIR,
       uniform(0.1, 0.45)),
    st("dirichlet_pdf", lambda m, x, a: m.dirichlet.pdf(x, a + 1), DIR, uniform(0.1, 0.45)),
]
TABLE += SCIPY_STATS
