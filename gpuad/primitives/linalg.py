"""Linear algebra: library calls (cuBLAS and cuSOLVER on a GPU, BLAS and LAPACK on the CPU)
whose rules are again matrix products and solves, so they differentiate to any order.

``matmul``    numpy.matmul on operands with at least two axes (batch axes broadcast)
``einsum``    numpy.einsum with an explicit spec ("ij,jk->ik") and agreeing label sizes
``solve``     a^-1 b for a (..., n, n), b (..., n, k)
``inv``, ``det``, ``slogdet``, ``cholesky``   on (..., n, n)
"""
from __future__ import annotations

import math
import string

import numpy as np

from ..core import Primitive, bind, register, shape, dtype, full_lower
from .base import xp_of, record_library, reduce_sum, reshape, transpose, sum_to, expand_lanes
from .elementwise import PRIMS, add, multiply, negative


def mT(x):
    """Swap the last two axes."""
    nd = len(shape(x))
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _library(name, fn):
    """An impl that calls ``fn`` (a library routine of xp) and records the launch."""
    def impl(*args, **params):
        xp = xp_of(*args)
        out = fn(xp, *args, **params)
        record_library(f"xp.{name}", out[-1] if isinstance(out, list) else out, *args)
        return out
    return impl


def _sum_terms(terms):
    out = terms[0]
    for t in terms[1:]:
        out = add(out, t)
    return out


# ------------------------------------------------------------------ matmul

def _lanes_left(ta, b, nd):
    """ta @ b for tangent lanes ta (L, ..., m, k): against a plain matrix b, all lanes are
    one matrix product (L*...*m, k) @ (k, n) instead of a batch of small ones."""
    st = tuple(shape(ta))
    if len(shape(b)) != 2:
        return matmul(expand_lanes(ta, nd), b)
    out = matmul(reshape(ta, (math.prod(st[:-1]), st[-1])), b)
    return reshape(out, st[:-1] + (shape(b)[-1],))


def _lanes_right(a, tb, nd):
    """a @ tb for tangent lanes tb (L, ..., k, n) and a plain matrix a: one product
    (m, k) @ (k, L*...*n), so a is read once rather than once per lane."""
    st = tuple(shape(tb))
    if len(shape(a)) != 2 or len(st) < 3 or 0 in st:
        return matmul(a, expand_lanes(tb, nd))
    r = len(st)
    cols = transpose(tb, (r - 2,) + tuple(range(r - 2)) + (r - 1,))   # (k, L, ..., n)
    prod = matmul(a, reshape(cols, (st[-2], math.prod(st) // st[-2])))  # (m, L*...*n)
    prod = reshape(prod, (shape(a)[0],) + st[:-2] + (st[-1],))        # (m, L, ..., n)
    return transpose(prod, tuple(range(1, r - 1)) + (0, r - 1))       # (L, ..., m, n)


def _matmul_jvp(primals, tangents):
    (a, b), (ta, tb) = primals, tangents
    out = matmul(a, b)
    nd = len(shape(out))
    terms = []
    if ta is not None:
        terms.append(_lanes_left(ta, b, nd))
    if tb is not None:
        terms.append(_lanes_right(a, tb, nd))
    return out, _sum_terms(terms)


def _matmul_vjp(g, ins, out, need):
    a, b = ins
    ga = sum_to(matmul(g, mT(b)), shape(a)) if need[0] else None
    gb = sum_to(matmul(mT(a), g), shape(b)) if need[1] else None
    return ga, gb


matmul_p = register(Primitive(
    "matmul", _library("matmul", lambda xp, a, b: xp.matmul(a, b)),
    jvp=_matmul_jvp, vjp=_matmul_vjp,
    doc="numpy.matmul of operands with >= 2 axes (cuBLAS on a GPU)"))


def matmul(a, b):
    return bind(matmul_p, a, b)


# ------------------------------------------------------------------ einsum

def parse(spec):
    ins, out = spec.split("->")
    return ins.split(","), out


def _spec(ins, out):
    return ",".join(ins) + "->" + out


def fresh_labels(k, used):
    free = [c for c in string.ascii_letters if c not in used]
    if k > len(free):
        raise ValueError(f"einsum: more than {len(string.ascii_letters)} distinct labels")
    return free[:k]


def _einsum_impl(*ops, spec):
    xp = xp_of(*ops)
    # optimize lets NumPy hand contractions to BLAS (tensordot) and pick a pairwise order.
    out = xp.asarray(xp.einsum(spec, *ops, optimize=len(ops) > 1))
    record_library("xp.einsum", out, *ops)
    return out


def _einsum_jvp(primals, tangents, spec):
    ins, out = parse(spec)
    (lane,) = fresh_labels(1, spec)
    terms = []
    for i, t in enumerate(tangents):
        if t is not None:
            subs = list(ins)
            subs[i] = lane + subs[i]
            ops = list(primals)
            ops[i] = t
            terms.append(einsum(_spec(subs, lane + out), *ops))
    return einsum(spec, *primals), _sum_terms(terms)


def _einsum_vjp(g, ins_vals, out_, need, spec):
    ins, out = parse(spec)
    sizes = {c: d for sub, v in zip(ins, ins_vals) for c, d in zip(sub, shape(v))}
    xp = xp_of(g)
    dt = dtype(full_lower(g))
    used = set(spec)
    res = []
    for i, sub in enumerate(ins):
        if not need[i]:
            res.append(None)
            continue
        subs = [out] + [s for j, s in enumerate(ins) if j != i]
        ops = [g] + [v for j, v in enumerate(ins_vals) if j != i]
        # A label repeated in operand i (a diagonal) gets a fresh name tied to the first by
        # an identity matrix; a label summed away inside operand i alone gets a ones vector.
        target, seen = "", []
        for c in sub:
            if c in seen:
                (c2,) = fresh_labels(1, used)
                used.add(c2)
                subs.append(c + c2)
                ops.append(xp.eye(sizes[c], dtype=dt))
                target += c2
            else:
                seen.append(c)
                target += c
        present = set("".join(subs))
        for c in seen:
            if c not in present:
                subs.append(c)
                ops.append(xp.ones(sizes[c], dtype=dt))
        res.append(einsum(_spec(subs, target), *ops))
    return tuple(res)


einsum_p = register(Primitive(
    "einsum", _einsum_impl, jvp=_einsum_jvp, vjp=_einsum_vjp,
    doc="numpy.einsum with an explicit `spec` and no size-1 broadcasting; the JVP and "
        "VJP are einsums again (the lane axis is one more label)"))


def einsum(spec, *ops):
    return bind(einsum_p, *ops, spec=spec)


# ------------------------------------------------------------------ solve and inverse

def _solve(xp, a, b):
    # Batch axes broadcast here, so every library (NumPy, CuPy) sees equal batches.
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    a = xp.broadcast_to(a, batch + a.shape[-2:])
    b = xp.broadcast_to(b, batch + b.shape[-2:])
    return xp.linalg.solve(a, b)


def _solve_jvp(primals, tangents):
    (a, b), (ta, tb) = primals, tangents
    x = solve(a, b)
    nd = len(shape(x))
    # d(a^-1 b) = a^-1 (db - da x)
    rhs = None if tb is None else expand_lanes(tb, nd)
    if ta is not None:
        dax = matmul(expand_lanes(ta, nd), x)
        rhs = negative(dax) if rhs is None else bind(PRIMS["subtract"], rhs, dax)
    return x, solve(a, rhs)


def _solve_vjp(g, ins, x, need):
    a, b = ins
    gb = solve(mT(a), g)
    ga = sum_to(negative(matmul(gb, mT(x))), shape(a)) if need[0] else None
    return ga, (sum_to(gb, shape(b)) if need[1] else None)


solve_p = register(Primitive(
    "solve", _library("linalg.solve", _solve), jvp=_solve_jvp, vjp=_solve_vjp,
    saves="both", doc="a^-1 b for a (..., n, n) and b (..., n, k), batches broadcast"))


def solve(a, b):
    return bind(solve_p, a, b)


def _inv_jvp(primals, tangents):
    (a,), (ta,) = primals, tangents
    out = inv(a)
    # d(a^-1) = -a^-1 da a^-1
    return out, negative(matmul(matmul(out, expand_lanes(ta, len(shape(out)))), out))


def _inv_vjp(g, ins, out):
    oT = mT(out)
    return (negative(matmul(matmul(oT, g), oT)),)


inv_p = register(Primitive(
    "inv", _library("linalg.inv", lambda xp, a: xp.linalg.inv(a)),
    jvp=_inv_jvp, vjp=_inv_vjp, saves="out", doc="matrix inverse of a (..., n, n)"))


def inv(a):
    return bind(inv_p, a)


# ------------------------------------------------------------------ determinants

def _dlogdet(a, ta):
    """d log|det a| along the lanes of ta: trace(a^-1 da) = sum(a^-T * da)."""
    nd = len(shape(ta))
    return reduce_sum(multiply(mT(inv(a)), ta), (nd - 2, nd - 1))


def _kept_batch(x, a):
    return reshape(x, tuple(shape(a))[:-2] + (1, 1))


def _det_jvp(primals, tangents):
    (a,), (ta,) = primals, tangents
    out = det(a)
    return out, multiply(out, _dlogdet(a, ta))


def _det_vjp(g, ins, out):
    (a,) = ins
    # d det = det * trace(a^-1 da): the cotangent is g det a^-T (a must be invertible).
    return (multiply(_kept_batch(multiply(g, out), a), mT(inv(a))),)


det_p = register(Primitive(
    "det", _library("linalg.det", lambda xp, a: xp.asarray(xp.linalg.det(a))),
    jvp=_det_jvp, vjp=_det_vjp, saves="both", doc="determinant of a (..., n, n)"))


def det(a):
    return bind(det_p, a)


def _slogdet_impl(xp, a):
    sign, logabsdet = xp.linalg.slogdet(a)
    return [xp.asarray(sign), xp.asarray(logabsdet)]


def _slogdet_jvp(primals, tangents):
    (a,), (ta,) = primals, tangents
    return slogdet(a), [None, _dlogdet(a, ta)]


def _slogdet_vjp(g, ins, out):
    (a,) = ins
    glog = g[1]
    if glog is None:
        return (None,)   # the sign is piecewise constant
    return (multiply(_kept_batch(glog, a), mT(inv(a))),)


slogdet_p = register(Primitive(
    "slogdet", _library("linalg.slogdet", _slogdet_impl), jvp=_slogdet_jvp,
    vjp=_slogdet_vjp, multiple_results=True,
    doc="[sign, log|det a|] of a (..., n, n); only the second is differentiable"))


def slogdet(a):
    return bind(slogdet_p, a)


# ------------------------------------------------------------------ Cholesky

def _phi(x):
    """The lower triangle of x with its diagonal halved (a constant mask times x)."""
    base_ = full_lower(x)
    xp = xp_of(base_)
    n = shape(x)[-1]
    mask = xp.tril(xp.ones((n, n), dtype=base_.dtype)) - 0.5 * xp.eye(n, dtype=base_.dtype)
    return multiply(x, mask)


def _cholesky_jvp(primals, tangents):
    # a = L L^T gives L^-1 da L^-T = L^-1 dL + (L^-1 dL)^T with L^-1 dL lower triangular,
    # so dL = L phi(L^-1 da L^-T). The public function passes symmetric a and da.
    (a,), (ta,) = primals, tangents
    L = cholesky(a)
    x = solve(L, expand_lanes(ta, len(shape(L))))
    return L, matmul(L, _phi(mT(solve(L, mT(x)))))


def _cholesky_vjp(g, ins, L):
    # The transpose of the JVP (Murray 2016): L^-T phi(L^T g) L^-1. The triangular solves
    # go through the general solver: NumPy has no triangular one.
    LT = mT(L)
    y = solve(LT, _phi(matmul(LT, g)))
    return (mT(solve(LT, mT(y))),)


cholesky_p = register(Primitive(
    "cholesky", _library("linalg.cholesky", lambda xp, a: xp.linalg.cholesky(a)),
    jvp=_cholesky_jvp, vjp=_cholesky_vjp, saves="out",
    doc="lower Cholesky factor of a symmetric positive definite (..., n, n)"))


def cholesky(a):
    return bind(cholesky_p, a)
