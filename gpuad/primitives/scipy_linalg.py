"""The primitives behind gpuad.scipy.linalg: SciPy on the CPU, cupyx.scipy.linalg on a GPU
(where it has the routine; per matrix where it takes one matrix), with derivative rules
written with primitives again, so every order composes.

``triangular_solve``  op(T)^-1 b, T a triangle of a               (Giles 2008)
``lu``                a = P L U (partial pivoting), packed         (Walter & Lehmann 2018)
``lu_solve``          a^-1 b or a^-T b from the packed factors
``expm``              e^a; derivative the Frechet derivative by the block-triangular
                      identity expm([[a, e], [0, a]]) = [[e^a, L(a, e)], [0, e^a]]
                      (Higham 2008, "Functions of Matrices", Theorem 3.6; Mathias 1996)
``sylvester``         x with a x + x b = q                         (Bartels & Stewart 1972)
``sqrtm``             the principal square root; dX solves X dX + dX X = da
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive, bind, register, shape, full_lower
from .base import xp_of, broadcast_to, sum_to, expand_lanes
from .elementwise import add, multiply, negative
from .indexing import getitem, concatenate
from .linalg import (_library, mT, matmul, sum_terms, module_dtype, tri, tril, triu,
                     eye_like, per_matrix, scipy_linalg, singular)


def _batched(*arrays, core):
    """``arrays`` broadcast over their batch axes (``core`` trailing axes each)."""
    xp = xp_of(*arrays)
    batch = tuple(np.broadcast_shapes(*(a.shape[:a.ndim - c] for a, c in zip(arrays, core))))
    return [xp.broadcast_to(a, batch + a.shape[a.ndim - c:]) for a, c in zip(arrays, core)]


# ------------------------------------------------------------------ triangular solve

def _tri_mask(a, lower, unit_diagonal):
    """The constant 0/1 mask of the entries of ``a`` the solve reads."""
    if lower:
        return tri(a, -1 if unit_diagonal else 0)
    return 1 - tri(a, 0 if unit_diagonal else -1)


def _op(x, trans):
    return mT(x) if trans else x


def _triangular_impl(xp, a, b, lower, trans, unit_diagonal, what):
    a, b = _batched(a, b, core=(2, 2))
    if b.size == 0 or a.shape[-1] == 0:
        return xp.zeros(b.shape, dtype=b.dtype)
    fn = scipy_linalg(xp, "solve_triangular", what)
    kw = dict(trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    if xp is np:
        try:
            return per_matrix(lambda a2, b2: fn(a2, b2, check_finite=False, **kw), [a, b],
                              [2, 2])
        except np.linalg.LinAlgError as exc:
            raise singular(what, str(exc)) from None
    return fn(xp.ascontiguousarray(a), xp.ascontiguousarray(b), **kw)   # batched in cupyx


def _triangular_jvp(primals, tangents, lower, trans, unit_diagonal, what):
    # x = op(T)^-1 b: dx = op(T)^-1 (db - op(dT) x), dT the read triangle of da
    (a, b), (ta, tb) = primals, tangents
    x = triangular_solve(a, b, lower, trans, unit_diagonal, what)
    nd = len(shape(x))
    rhs = [None if tb is None else expand_lanes(tb, nd)]
    if ta is not None:
        dt = multiply(expand_lanes(ta, nd), _tri_mask(a, lower, unit_diagonal))
        rhs.append(negative(matmul(_op(dt, trans), x)))
    return x, triangular_solve(a, sum_terms(rhs), lower, trans, unit_diagonal, what)


def _triangular_vjp(g, ins, x, need, lower, trans, unit_diagonal, what):
    a, b = ins
    gb = triangular_solve(a, g, lower, 1 - trans, unit_diagonal, what)
    ga = None
    if need[0]:
        outer = matmul(x, mT(gb)) if trans else matmul(gb, mT(x))
        ga = sum_to(negative(multiply(outer, _tri_mask(a, lower, unit_diagonal))), shape(a))
    return ga, (sum_to(gb, shape(b)) if need[1] else None)


triangular_solve_p = register(Primitive(
    "triangular_solve", _library("linalg.solve_triangular", _triangular_impl),
    jvp=_triangular_jvp, vjp=_triangular_vjp, saves="both",
    doc="op(T)^-1 b with T the lower/upper triangle of a (..., n, n) (unit diagonal "
        "optional), op = transpose if trans; SciPy / cupyx solve_triangular"))


def triangular_solve(a, b, lower, trans=0, unit_diagonal=False, what="solve_triangular"):
    return bind(triangular_solve_p, a, b, lower=bool(lower), trans=int(trans),
                unit_diagonal=bool(unit_diagonal), what=what)


# ------------------------------------------------------------------ LU

def _lu_impl(xp, a):
    fn = scipy_linalg(xp, "lu_factor", "lu_factor")
    lu_, piv = per_matrix(lambda a2: tuple(fn(a2, check_finite=False)), [a], [2])
    return [lu_, piv]


def row_order(piv):
    """The rows of a in the order of P^T a = L U, from LAPACK's pivots (row i swapped with
    row piv[i], in turn), shape (..., n); a constant."""
    piv = full_lower(piv)
    xp = xp_of(piv)
    n = piv.shape[-1]
    if n == 0 or piv.size == 0:
        return xp.zeros(piv.shape, dtype=np.intp)
    flat = piv.reshape(-1, n)
    rows = xp.broadcast_to(xp.arange(n), flat.shape).copy()
    at = xp.arange(flat.shape[0])
    for i in range(n):
        here, there = rows[:, i].copy(), rows[at, flat[:, i]]
        rows[:, i] = there
        rows[at, flat[:, i]] = here
    return rows.reshape(piv.shape)


def permutation_t(piv, like):
    """The constant matrices P^T (..., n, n) with P^T a = L U."""
    xp, dt = module_dtype(like)
    rows = row_order(piv)
    return xp.eye(rows.shape[-1], dtype=dt)[rows]


def _unit_lower(lu):
    return add(tril(lu, -1), eye_like(lu))


def _lu_jvp(primals, tangents):
    # P^T da = dL U + L dU: X = L^-1 P^T da U^-1 splits into L^-1 dL (strictly lower) and
    # dU U^-1 (upper), so dL = L tril(X, -1), dU = triu(X) U.
    (a,), (ta,) = primals, tangents
    lu_, piv = out = lu(a)
    e = matmul(permutation_t(piv, lu_), expand_lanes(ta, len(shape(a))))
    y = triangular_solve(lu_, e, True, 0, True, "lu_factor")
    x = mT(triangular_solve(lu_, mT(y), False, 1, False, "lu_factor"))
    dl = matmul(_unit_lower(lu_), tril(x, -1))
    du = matmul(triu(x), triu(lu_))
    return out, [add(dl, du), None]


def _lu_vjp(g, ins, out):
    glu = g[0]
    lu_, piv = out
    if glu is None:
        return (None,)
    m = add(tril(matmul(mT(_unit_lower(lu_)), tril(glu, -1)), -1),
            triu(matmul(triu(glu), mT(triu(lu_)))))
    z = triangular_solve(lu_, m, True, 1, True, "lu_factor")          # L^-T M
    w = mT(triangular_solve(lu_, mT(z), False, 0, False, "lu_factor"))   # ... U^-T
    return (matmul(mT(permutation_t(piv, lu_)), w),)


lu_p = register(Primitive(
    "lu", _library("linalg.lu_factor", _lu_impl), jvp=_lu_jvp, vjp=_lu_vjp, saves="out",
    multiple_results=True,
    doc="[LU packed, pivots] of a square (..., n, n) by partial pivoting (SciPy / cupyx "
        "lu_factor, per matrix); the pivots are not differentiable"))


def lu(a):
    return bind(lu_p, a)


def _lu_solve_impl(xp, lu_, piv, b, trans):
    lu_, piv, b = _batched(lu_, piv, b, core=(2, 1, 2))
    if b.size == 0:
        return xp.zeros(b.shape, dtype=b.dtype)
    fn = scipy_linalg(xp, "lu_solve", "lu_solve")
    return per_matrix(lambda l2, p2, b2: fn((l2, p2), b2, trans=trans, check_finite=False),
                      [lu_, piv, b], [2, 1, 2])


def _lu_parts(lu_):
    return _unit_lower(lu_), triu(lu_)


def _lu_solve_jvp(primals, tangents, trans):
    # a = P L U. trans 0: dx = a^-1 db - U^-1 (L^-1 dL (U x) + dU x);
    # trans 1: dx = a^-T (db - (U^T dL^T + dU^T L^T) w) with w = P^T x = L^-T U^-T b.
    (lu_, piv, b), (tlu, _, tb) = primals, tangents
    x = lu_solve(lu_, piv, b, trans)
    nd = len(shape(x))
    terms = [None if tb is None else lu_solve(lu_, piv, expand_lanes(tb, nd), trans)]
    if tlu is not None:
        t = expand_lanes(tlu, nd)
        dl, du = tril(t, -1), triu(t)
        low, up = _lu_parts(lu_)
        if trans == 0:
            y = matmul(up, x)
            inner = add(triangular_solve(lu_, matmul(dl, y), True, 0, True, "lu_solve"),
                        matmul(du, x))
            terms.append(negative(triangular_solve(lu_, inner, False, 0, False, "lu_solve")))
        else:
            w = _lu_w(lu_, b)
            rhs = add(matmul(mT(up), matmul(mT(dl), w)), matmul(mT(du), matmul(mT(low), w)))
            terms.append(negative(lu_solve(lu_, piv, rhs, 1)))
    return x, sum_terms(terms)


def _lu_w(lu_, b):
    """L^-T U^-T b (= P^T a^-T b)."""
    z = triangular_solve(lu_, b, False, 1, False, "lu_solve")
    return triangular_solve(lu_, z, True, 1, True, "lu_solve")


def _lu_solve_vjp(g, ins, x, need, trans):
    lu_, piv, b = ins
    gb = lu_solve(lu_, piv, g, 1 - trans)
    glu = None
    if need[0]:
        low, up = _lu_parts(lu_)
        if trans == 0:
            z = triangular_solve(lu_, g, False, 1, False, "lu_solve")        # U^-T g
            lz = triangular_solve(lu_, z, True, 1, True, "lu_solve")         # L^-T U^-T g
            glu = add(tril(matmul(lz, mT(matmul(up, x))), -1), triu(matmul(z, mT(x))))
        else:
            w = _lu_w(lu_, b)
            glu = add(tril(matmul(w, mT(matmul(up, gb))), -1),
                      triu(matmul(matmul(mT(low), w), mT(gb))))
        glu = sum_to(negative(glu), shape(lu_))
    return glu, None, (sum_to(gb, shape(b)) if need[2] else None)


lu_solve_p = register(Primitive(
    "lu_solve", _library("linalg.lu_solve", _lu_solve_impl), jvp=_lu_solve_jvp,
    vjp=_lu_solve_vjp, saves="both",
    doc="a^-1 b (trans=0) or a^-T b (trans=1) from lu_factor's packed factors and pivots "
        "(SciPy / cupyx lu_solve, per matrix)"))


def lu_solve(lu_, piv, b, trans=0):
    return bind(lu_solve_p, lu_, piv, b, trans=int(trans))


# ------------------------------------------------------------------ expm

def _expm_impl(xp, a):
    if a.shape[-1] == 0:
        return xp.array(a, copy=True)
    fn = scipy_linalg(xp, "expm", "expm")
    return per_matrix(fn, [a], [2])


def frechet_expm(a, e):
    """L(a, e), the Frechet derivative of expm at a along e (lanes allowed in e): the upper
    right block of expm([[a, e], [0, a]])."""
    n = shape(a)[-1]
    es = tuple(shape(e))
    a = broadcast_to(a, es)
    xp, dt = module_dtype(e)
    nd = len(es)
    top = concatenate([a, e], nd - 1)
    bottom = concatenate([xp.zeros(es, dtype=dt), a], nd - 1)
    big = expm(concatenate([top, bottom], nd - 2))
    return getitem(big, (), (Ellipsis, slice(0, n), slice(n, 2 * n)))


def _expm_jvp(primals, tangents):
    (a,), (ta,) = primals, tangents
    return expm(a), frechet_expm(a, expand_lanes(ta, len(shape(a))))


def _expm_vjp(g, ins, out):
    # <g, L(a, e)> = <L(a^T, g), e>
    (a,) = ins
    return (frechet_expm(mT(a), g),)


expm_p = register(Primitive(
    "expm", _library("linalg.expm", _expm_impl), jvp=_expm_jvp, vjp=_expm_vjp,
    doc="matrix exponential of (..., n, n) (SciPy / cupyx expm, per matrix); derivative by "
        "the block-triangular Frechet identity"))


def expm(a):
    return bind(expm_p, a)


# ------------------------------------------------------------------ Sylvester

def _sylvester_impl(xp, a, b, q, what):
    a, b, q = _batched(a, b, q, core=(2, 2, 2))
    if q.size == 0:
        return xp.zeros(q.shape, dtype=q.dtype)
    fn = scipy_linalg(xp, "solve_sylvester", what)
    # Bartels-Stewart returns a huge, backward-stable-looking answer, without a word, when
    # a and -b share an eigenvalue: refuse where they do to working precision.
    la, lb = xp.linalg.eigvals(a), xp.linalg.eigvals(b)
    gap = xp.min(xp.abs(la[..., :, None] + lb[..., None, :]), axis=(-2, -1))
    norm = lambda m: xp.sqrt(xp.sum(xp.abs(m) ** 2, axis=(-2, -1)))   # noqa: E731  (|m|: complex too)
    tol = (a.shape[-1] + b.shape[-1]) * np.finfo(q.dtype).eps * (norm(a) + norm(b))
    if bool(xp.any(gap <= tol)):
        raise singular(what, f"min |eig(a) + eig(b)| = {float(xp.min(gap)):.3g}")
    return per_matrix(fn, [a, b, q], [2, 2, 2]).astype(q.dtype, copy=False)


def _sylvester_jvp(primals, tangents, what):
    # a x + x b = q: a dx + dx b = dq - da x - x db
    (a, b, q), (ta, tb, tq) = primals, tangents
    x = sylvester(a, b, q, what)
    nd = len(shape(x))
    rhs = sum_terms([None if tq is None else expand_lanes(tq, nd),
                     None if ta is None else negative(matmul(expand_lanes(ta, nd), x)),
                     None if tb is None else negative(matmul(x, expand_lanes(tb, nd)))])
    return x, sylvester(a, b, rhs, what)


def _sylvester_vjp(g, ins, x, need, what):
    a, b, q = ins
    z = sylvester(mT(a), mT(b), g, what)
    return (sum_to(negative(matmul(z, mT(x))), shape(a)) if need[0] else None,
            sum_to(negative(matmul(mT(x), z)), shape(b)) if need[1] else None,
            sum_to(z, shape(q)) if need[2] else None)


sylvester_p = register(Primitive(
    "sylvester", _library("linalg.solve_sylvester", _sylvester_impl), jvp=_sylvester_jvp,
    vjp=_sylvester_vjp, saves="both",
    doc="x with a x + x b = q for a (..., m, m), b (..., n, n), q (..., m, n) (SciPy's "
        "Bartels-Stewart, per matrix); refused where a and -b share an eigenvalue; no GPU "
        "routine in cupyx"))


def sylvester(a, b, q, what="solve_sylvester"):
    return bind(sylvester_p, a, b, q, what=what)


# ------------------------------------------------------------------ sqrtm

def _sqrtm_impl(xp, a):
    if a.shape[-1] == 0:
        return xp.array(a, copy=True)
    fn = scipy_linalg(xp, "sqrtm", "sqrtm")
    x = per_matrix(lambda a2: xp.asarray(fn(a2)), [a], [2])
    if x.dtype.kind == "c" and a.dtype.kind != "c":
        if bool(xp.any(x.imag != 0)):
            raise ValueError("sqrtm: a has a negative real eigenvalue, so its principal "
                             "square root is complex; pass a complex a for it")
        x = x.real
    return x.astype(a.dtype, copy=False)


def _sqrtm_jvp(primals, tangents):
    (a,), (ta,) = primals, tangents
    x = sqrtm(a)
    return x, sylvester(x, x, expand_lanes(ta, len(shape(a))), "sqrtm")


def _sqrtm_vjp(g, ins, x):
    xt = mT(x)
    return (sylvester(xt, xt, g, "sqrtm"),)


sqrtm_p = register(Primitive(
    "sqrtm", _library("linalg.sqrtm", _sqrtm_impl), jvp=_sqrtm_jvp, vjp=_sqrtm_vjp,
    saves="out",
    doc="principal square root of (..., n, n) (SciPy's Schur method, per matrix); dX "
        "solves X dX + dX X = da"))


def sqrtm(a):
    return bind(sqrtm_p, a)
