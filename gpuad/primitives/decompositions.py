"""Matrix decompositions: library calls (cuSOLVER through CuPy on a GPU, LAPACK through
NumPy on the CPU) whose derivative rules are written with primitives again (the
decomposition itself, products, solves, constant masks), so they differentiate to any order.

``svd``     a = U diag(s) V^H, reduced or full             (Townsend 2016; Giles 2008;
                                                              Wan & Zhang 2019 complex)
``eigh``    a = V diag(w) V^H for Hermitian a               (Giles 2008)
``qr``      a = Q R, reduced or complete                    (Walter & Lehmann 2018; Seeger
                                                              et al. 2017)
``pinv``    the pseudo-inverse of the SVD cut at rtol s_max  (Golub & Pereyra 1973 where
            the cut singular values are 0)

Degenerate spectra: the rules of U and V divide by s_j - s_i and s_j + s_i (the
eigenvectors' by w_j - w_i). Pairs closer than the tolerance ``max(m, n) * eps * s_max``
(``n * eps * max|w|``) count as equal and their factor is 0; singular values below it count
as zero: 1/s is then 0 and the derivative of s itself is 0 (the minimum-norm subgradient,
as abs'(0) = 0). See gpuad.numpy.linalg.svd / eigh for what that makes exact.

Complex matrices: the rules are the real ones with conjugate transposes where the math has
them, transposed in gpuad's pairing Re sum(g t) (JAX's convention). The phases of complex
singular and eigenvectors are a gauge; the JVPs pick JAX's: V^H dV has a zero diagonal
(eigh, and V of svd), U^H dU the imaginary diagonal i Im(U^H da V)_ii / s_i that keeps
the singular values real (svd), and Q^H dQ the imaginary diagonal that keeps R's diagonal
real (qr). Functions invariant under the phases (projectors, U diag(c) V^H, |U|, ...) have
exact derivatives; the phases themselves follow the gauge.
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive, bind, register, shape, dtype, full_lower
from .base import xp_of, reshape, expand_lanes, astype
from .complex import conj, real, imag, times_i
from .elementwise import multiply, negative, add
from .indexing import getitem, concatenate
from .linalg import (_library, mT, mH, cmul, matmul, inv, subtract, sum_terms, module_dtype,
                     tril,
                     diag_part, diag_embed, scale_columns, scale_rows, safe_reciprocal)


def _cols(x, lo, hi):
    """x[..., :, lo:hi]."""
    return getitem(x, (), (Ellipsis, slice(None), slice(lo, hi)))


def _rows(x, lo, hi):
    """x[..., lo:hi, :]."""
    return getitem(x, (), (Ellipsis, slice(lo, hi), slice(None)))


def _apart(vals, tol):
    """The constant boolean mask of pairs (i, j), i != j, with |v_i - v_j| > tol."""
    v = full_lower(vals)
    xp = xp_of(v)
    k = v.shape[-1]
    gap = xp.abs(v[..., :, None] - v[..., None, :])
    return (gap > tol[..., None, None]) & ~xp.eye(k, dtype=bool)


def _tolerance(vals, size):
    """size * eps * max|vals| per matrix (a constant), shape (...,)."""
    v = full_lower(vals)
    xp = xp_of(v)
    eps = np.finfo(v.dtype).eps
    big = xp.max(xp.abs(v), axis=-1) if v.shape[-1] else xp.zeros(v.shape[:-1], v.dtype)
    return big * (size * eps)


def _join(xs, axis):
    """concatenate along ``axis`` counted from the end (-1: columns, -2: rows); the
    primitive takes a non-negative axis (its lanes shift it by one)."""
    return concatenate(xs, len(shape(xs[0])) + axis)


def _row(x):
    """x (..., k) as (..., 1, k)."""
    s = tuple(shape(x))
    return reshape(x, s[:-1] + (1, s[-1]))


def _col(x):
    """x (..., k) as (..., k, 1)."""
    return reshape(x, tuple(shape(x)) + (1,))


def _is_complex(x):
    return np.dtype(dtype(full_lower(x))).kind == "c"


def _like(x, ref):
    """x in ref's dtype (a real x cast to complex for complex matrices)."""
    return astype(x, dtype(full_lower(ref)))


def _skew_part_lower(x):
    """tril(x, -1) - tril(x, -1)^H, plus i Im diag(x) for complex x (a skew-Hermitian
    matrix whose upper triangle, with x's, leaves a real diagonal)."""
    lo = tril(x, -1)
    out = subtract(lo, mH(lo))
    if _is_complex(x):
        out = add(out, diag_embed(times_i(imag(diag_part(x)))))
    return out


# ------------------------------------------------------------------ SVD

def _svd_impl(xp, a, full_matrices):
    u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
    return [u, s, vh]


def _svd_constants(s, m, n):
    """The factors of the rules, traced (they differentiate) where they depend on s:
    Fm = 1 / (s_j - s_i) off the degenerate pairs, Fp = 1 / (s_j + s_i) off the pairs of
    zero singular values, 1/s off the zero ones; and the constant mask of nonzero ones."""
    xp, dt = module_dtype(s)
    tol = _tolerance(s, max(m, n))
    fm = safe_reciprocal(subtract(_row(s), _col(s)), _apart(s, tol))
    nonzero = full_lower(s) > tol[..., None]
    pair = (nonzero[..., :, None] | nonzero[..., None, :]) & ~xp.eye(shape(s)[-1], dtype=bool)
    fp = safe_reciprocal(add(_row(s), _col(s)), pair)
    return fm, fp, safe_reciprocal(s, nonzero), nonzero.astype(dt)


def _sym(x):
    """The Hermitian (real: symmetric) part (x + x^H) / 2."""
    return multiply(add(x, mH(x)), 0.5)


def _skew(x):
    """The skew-Hermitian (real: antisymmetric) part (x - x^H) / 2."""
    return multiply(subtract(x, mH(x)), 0.5)


def _svd_jvp(primals, tangents, full_matrices):
    (a,), (ta,) = primals, tangents
    u, s, vh = out = svd(a, full_matrices)
    m, n = shape(a)[-2:]
    k = min(m, n)
    if k == 0:
        return out, [_zeros_lanes(o, ta) for o in out]
    full = full_matrices and m != n
    u1 = _cols(u, 0, k) if full and m > k else u
    vh1 = _rows(vh, 0, k) if full and n > k else vh
    v1 = mH(vh1)
    fm, fp, sinv, nonzero = _svd_constants(s, m, n)
    e = expand_lanes(ta, len(shape(a)))
    ev = matmul(e, v1)                                     # (L, ..., m, k)
    p = matmul(mH(u1), ev)                                 # U^H E V
    ds = multiply(real(diag_part(p)), nonzero)
    # U^H dU = F o (P S + S P^H), V^H dV = F o (S P + P^H S), F = 1 / (s_j^2 - s_i^2)
    # (Townsend 2016), split as Fm o herm(P) +- Fp o skew(P): only the Hermitian part,
    # which splits a repeated singular value, is singular where s_i = s_j. Complex: the
    # gauge i Im(P_ii) / s_i on U^H dU's diagonal keeps s real (JAX's choice).
    sym, skew = cmul(fm, _sym(p)), cmul(fp, _skew(p))
    om_u = add(sym, skew)
    if _is_complex(p):
        om_u = add(om_u, diag_embed(times_i(multiply(imag(diag_part(p)), sinv))))
    du = matmul(u1, om_u)
    dv = matmul(v1, subtract(sym, skew))
    if m > k:       # the component of dU outside span(U): (I - U U^H) E V S^+
        du = add(du, scale_columns(subtract(ev, matmul(u1, p)), sinv))
    if n > k:
        ehu = matmul(mH(e), u1)
        dv = add(dv, scale_columns(subtract(ehu, matmul(v1, mH(p))), sinv))
    if full and m > k:
        # The complement U2 moves only as U1 does (U2^H dU2 = 0): dU2 = -U1 (dU1^H U2).
        u2 = _cols(u, k, m)
        du = _join([du, negative(matmul(u1, mH(scale_columns(
            matmul(mH(u2), ev), sinv))))], -1)
    if full and n > k:
        v2 = mH(_rows(vh, k, n))
        dv = _join([dv, negative(matmul(v1, scale_rows(
            matmul(mH(u1), matmul(e, v2)), sinv)))], -1)
    return out, [du, ds, mH(dv)]


def _zeros_lanes(o, ta):
    xp, dt = module_dtype(o)
    return xp.zeros((shape(ta)[0],) + tuple(shape(o)), dtype=dt)


def _svd_vjp(g, ins, out, full_matrices):
    gu, gs, gvh = g
    u, s, vh = out
    m, n = ins[0].shape[-2:]
    k = min(m, n)
    xp, dt = module_dtype(s)
    if k == 0:
        return (xp.zeros(ins[0].shape, ins[0].dtype),)
    full = full_matrices and m != n
    u1 = _cols(u, 0, k) if full and m > k else u
    vh1 = _rows(vh, 0, k) if full and n > k else vh
    v1 = mH(vh1)
    cu, cvh, cv = conj(u1), conj(vh1), conj(v1)
    gv = None if gvh is None else mH(gvh)     # the cotangent of V (dVh = dV^H)
    if full and m > k and gu is not None:     # the transpose of dU2 = -U1 (dU1^H U2)
        u2 = _cols(u, k, m)
        gu = subtract(_cols(gu, 0, k), matmul(conj(u2), matmul(mH(_cols(gu, k, m)), cu)))
    if full and n > k and gv is not None:
        v2 = mH(_rows(vh, k, n))
        gv = subtract(_cols(gv, 0, k), matmul(conj(v2), matmul(mH(_cols(gv, k, n)), cv)))
    fm, fp, sinv, nonzero = _svd_constants(s, m, n)
    inner = [None if gs is None else _like(diag_embed(multiply(gs, nonzero)), u1)]
    if gu is not None:                  # the transpose of Fm o herm(P) + Fp o skew(P)
        j = matmul(mT(u1), gu)
        inner.append(cmul(add(fm, fp), _skew(j)))
        if _is_complex(j):              # and of the gauge i Im(P_ii) / s_i
            inner.append(diag_embed(times_i(multiply(imag(diag_part(j)), sinv))))
    if gv is not None:
        kk = matmul(mT(v1), gv)
        inner.append(cmul(subtract(fm, fp), _skew(kk)))
    inner = sum_terms(inner)
    # P = U^H E V: its transpose maps M to conj(U) M V^T = conj(U) M conj(Vh).
    terms = [None if inner is None else matmul(matmul(cu, inner), cvh)]
    if gu is not None and m > k:        # (I - conj(U) U^T) gU S^+ conj(Vh)
        terms.append(matmul(scale_columns(subtract(gu, matmul(cu, j)), sinv), cvh))
    if gv is not None and n > k:        # conj(U) S^+ ((I - conj(V) V^T) gV)^H
        terms.append(matmul(cu, scale_rows(mH(subtract(gv, matmul(cv, kk))), sinv)))
    ga = sum_terms(terms)
    return (xp.zeros(ins[0].shape, ins[0].dtype) if ga is None else ga,)


svd_p = register(Primitive(
    "svd", _library("linalg.svd", _svd_impl), jvp=_svd_jvp, vjp=_svd_vjp, saves="out",
    multiple_results=True,
    doc="[U, s, Vh] of a (..., m, n) (reduced, or full_matrices); repeated singular "
        "values: 1/(s_j - s_i) = 0, zero ones: 1/s = 0 and ds = 0"))


def svd(a, full_matrices=False):
    return bind(svd_p, a, full_matrices=bool(full_matrices))


# ------------------------------------------------------------------ symmetric eigenproblem

def _eigh_impl(xp, a):
    w, v = xp.linalg.eigh(a)
    return [w, v]


def _eigh_gaps(w):
    """F[i, j] = 1 / (w_j - w_i) off the diagonal and off degenerate pairs, else 0."""
    tol = _tolerance(w, shape(w)[-1])
    return safe_reciprocal(subtract(_row(w), _col(w)), _apart(w, tol))


def _eigh_jvp(primals, tangents):
    # a V = V diag(w) gives V^H da V = diag(dw) + F o (V^H da V) off the diagonal (Giles
    # 2008); complex: V^H dV with a zero diagonal (the phases' gauge, as JAX)
    (a,), (ta,) = primals, tangents
    w, v = out = eigh(a)
    if shape(w)[-1] == 0:
        return out, [_zeros_lanes(o, ta) for o in out]
    p = matmul(matmul(mH(v), expand_lanes(ta, len(shape(a)))), v)
    return out, [real(diag_part(p)), matmul(v, cmul(_eigh_gaps(w), p))]


def _eigh_vjp(g, ins, out):
    # The transpose of the JVP: conj(V) (diag(gw) + F o (V^T gV)) V^T.
    gw, gv = g
    w, v = out
    xp, dt = module_dtype(w)
    if shape(w)[-1] == 0:
        return (xp.zeros(ins[0].shape, ins[0].dtype),)
    inner = sum_terms([None if gw is None else _like(diag_embed(gw), v),
                       None if gv is None else cmul(_eigh_gaps(w), matmul(mT(v), gv))])
    return (matmul(matmul(conj(v), inner), mT(v)),)


eigh_p = register(Primitive(
    "eigh", _library("linalg.eigh", _eigh_impl), jvp=_eigh_jvp, vjp=_eigh_vjp, saves="out",
    multiple_results=True,
    doc="[w, V] of a symmetric (..., n, n) (its lower triangle is read); degenerate "
        "eigenvalues: F = 0"))


def eigh(a):
    return bind(eigh_p, a)


# ------------------------------------------------------------------ QR

def _qr_impl(xp, a, mode):
    q, r = xp.linalg.qr(a, mode=mode)
    return [q, r]


def _qr_blocks(q, r, m, n, mode):
    """Q1 (m, k) and the square R1 (k, k) of the leading columns."""
    k = min(m, n)
    q1 = _cols(q, 0, k) if mode == "complete" and m > k else q
    r1 = _rows(r, 0, k) if m > k and mode == "complete" else r
    return q1, (_cols(r1, 0, k) if n > k else r1)


def _right_solve(y, r):
    """y r^-1 for the invertible triangular R1 (LinAlgError naming qr where it is not)."""
    return matmul(y, inv(r, "qr"))


def _qr_jvp(primals, tangents, mode):
    # a1 = Q R1 with X = Q^H da1 R1^-1: Q^H dQ = tril(X, -1) - tril(X, -1)^H (complex:
    # + i Im diag(X), so that R1's diagonal stays real), dR1 = (X - Q^H dQ) R1,
    # dQ = Q (Q^H dQ) + (I - Q Q^H) da1 R1^-1 (Walter & Lehmann 2018).
    (a,), (ta,) = primals, tangents
    q, r = out = qr(a, mode)
    m, n = shape(a)[-2:]
    k = min(m, n)
    if k == 0:
        return out, [_zeros_lanes(o, ta) for o in out]
    q1, r1 = _qr_blocks(q, r, m, n, mode)
    e = expand_lanes(ta, len(shape(a)))
    e1 = _cols(e, 0, k) if n > k else e
    y = _right_solve(e1, r1)
    x = matmul(mH(q1), y)
    om = _skew_part_lower(x)
    dr = matmul(subtract(x, om), r1)
    dq = matmul(q1, om)
    if m > k:
        dq = add(dq, subtract(y, matmul(q1, x)))
    if n > k:      # R2 = Q^H a2: dR2 = dQ^H a2 + Q^H da2
        a2, e2 = _cols(a, k, n), _cols(e, k, n)
        dr = _join([dr, add(matmul(mH(dq), a2), matmul(mH(q1), e2))], -1)
    if mode == "complete" and m > k:
        # The complement Q2 moves only as Q1 does (Q2^H dQ2 = 0): dQ2 = -Q1 (dQ1^H Q2).
        q2 = _cols(q, k, m)
        dq = _join([dq, negative(matmul(q1, mH(matmul(mH(q2), y))))], -1)
        dr = _join([dr, _zeros_lanes(_rows(r, k, m), ta)], -2)
    return out, [dq, dr]


def _qr_vjp(g, ins, out, mode):
    gq, gr = g
    q, r = out
    m, n = ins[0].shape[-2:]
    k = min(m, n)
    xp, dt = module_dtype(r)
    if k == 0 or (gq is None and gr is None):
        return (xp.zeros(ins[0].shape, ins[0].dtype),)
    q1, r1 = _qr_blocks(q, r, m, n, mode)
    cq = conj(q1)
    if mode == "complete" and m > k:
        if gq is not None:              # the transpose of dQ2 = -Q1 (dQ1^H Q2)
            q2 = _cols(q, k, m)
            gq = subtract(_cols(gq, 0, k), matmul(conj(q2), matmul(mH(_cols(gq, k, m)), cq)))
        if gr is not None:
            gr = _rows(gr, 0, k)
    gr2 = None
    if n > k and gr is not None:        # R2 = Q^H a2, and a2 = Q R2
        gr, gr2 = _cols(gr, 0, k), _cols(gr, k, n)
        gq = sum_terms([gq, conj(matmul(matmul(q1, _cols(r, k, n)), mT(gr2)))])
    # The transpose of X -> (X - Om(X)) R1 and Q Om(X): N - Om*(N), with
    # Om*(N) = tril(N - N^H, -1) + i Im diag(N); then X = Q^H da1 R1^-1 transposes to
    # conj(Q) (.) R1^-T.
    nn = sum_terms([None if gr is None else matmul(gr, mT(r1)),
                    None if gq is None else negative(matmul(mT(q1), gq))])
    mm = subtract(nn, tril(subtract(nn, mH(nn)), -1))
    if _is_complex(nn):
        mm = subtract(mm, diag_embed(times_i(imag(diag_part(nn)))))
    ga = _right_solve(sum_terms([gq, matmul(cq, mm)]), mT(r1))
    if n > k:
        ga = _join([ga, matmul(cq, gr2) if gr2 is not None
                          else xp.zeros(shape(q1)[:-1] + (n - k,), ins[0].dtype)], -1)
    return (ga,)


qr_p = register(Primitive(
    "qr", _library("linalg.qr", _qr_impl), jvp=_qr_jvp, vjp=_qr_vjp, saves="out",
    multiple_results=True,
    doc="[Q, R] of a (..., m, n), mode 'reduced' or 'complete'; needs the leading "
        "min(m, n) columns independent"))


def qr(a, mode="reduced"):
    return bind(qr_p, a, mode=mode)


# ------------------------------------------------------------------ pseudo-inverse

def _pinv_impl(xp, a, rtol):
    return xp.linalg.pinv(a, rtol)


def _pad(x, p, q):
    """x (..., m, n) with zero rows and columns appended to (..., p, q)."""
    xp, dt = module_dtype(x)
    *batch, m, n = shape(x)
    if q > n:
        x = _join((x, xp.zeros((*batch, m, q - n), dtype=dt)), -1)
    if p > m:
        x = _join((x, xp.zeros((*batch, p - m, q), dtype=dt)), -2)
    return x


def _pinv_cut(a, rtol):
    """What the cut adds to the fixed-rank derivative: U (m, m), V (n, n) of a's full SVD
    and real weights alpha, beta (p, p), p = max(m, n), such that the derivative of
    X = V S^+ U^H, the SVD truncated where s <= rtol s_max (NumPy's cut), is Golub &
    Pereyra's fixed-rank one plus V D U^H, D_ab = alpha_ab C_ab + beta_ab conj(C_ba) of
    C = U^H da V (padded to p x p, s_a = 0 beyond min(m, n)), K the kept indices:

      a cut, b in K:  alpha = s_a s_b / (s_b^2 d),  beta = s_a^2 / (s_b^2 d),  d = s_b^2 - s_a^2
      a in K, b cut:  alpha = s_a s_b / (s_a^2 d'), beta = s_b^2 / (s_a^2 d'), d' = -d

    (the kept singular vectors turning toward the cut ones: dU = U Omega_U, dV = V Omega_V
    with Omega_U_ij = (s_j C_ij + s_i conj C_ji) / (s_j^2 - s_i^2); Giles 2008, Townsend
    2016; minus the fixed-rank terms). Every weight carries a cut singular value, so this
    part vanishes where those are 0 (a rank-deficient a): only there is the fixed-rank
    derivative the derivative of the truncated SVD. d > 0 (kept values exceed cut ones),
    and no weight divides by a difference of kept values: repeated kept singular values
    are fine at first order (at second order the singular vectors' own derivatives enter,
    scaled by the cut values: exact where those are 0)."""
    u, s, vh = svd(a, full_matrices=True)
    m, n = shape(a)[-2:]
    p, r = max(m, n), min(m, n)
    xp, dt = module_dtype(s)
    sv = full_lower(s)
    kept = sv > rtol * xp.max(sv, axis=-1, keepdims=True)
    if p > r:
        s = _join((s, xp.zeros(tuple(shape(s)[:-1]) + (p - r,), dtype=dt)), -1)
        kept = xp.concatenate((kept, xp.zeros(kept.shape[:-1] + (p - r,), bool)), -1)
    ka, kb = kept[..., :, None], kept[..., None, :]
    dk, kd = (~ka & kb).astype(dt), (ka & ~kb).astype(dt)
    inv = safe_reciprocal(s, kept)
    ia, ib, sa, sb = _col(inv), _row(inv), _col(s), _row(s)
    rd = safe_reciprocal(subtract(multiply(sb, sb), multiply(sa, sa)),
                         (~ka & kb) | (ka & ~kb))                 # 1 / d
    ia2, ib2 = multiply(ia, ia), multiply(ib, ib)
    w_dk, w_kd = multiply(multiply(rd, ib2), dk), negative(multiply(multiply(rd, ia2), kd))
    sab = multiply(sa, sb)
    alpha = add(multiply(sab, w_dk), multiply(sab, w_kd))
    beta = add(multiply(multiply(sa, sa), w_dk), multiply(multiply(sb, sb), w_kd))
    return u, mH(vh), alpha, beta


def _pinv_jvp(primals, tangents, rtol):
    # Golub & Pereyra 1973, the derivative at fixed rank, for X = a^+:
    # dX = -X da X + X X^H da^H (I - a X) + (I - X a) da^H X^H X; plus the cut's part.
    (a,), (ta,) = primals, tangents
    x = pinv(a, rtol)
    e = expand_lanes(ta, len(shape(a)))
    eh = mH(e)
    t1 = negative(matmul(matmul(x, e), x))
    t2 = matmul(matmul(x, mH(x)), subtract(eh, matmul(matmul(eh, a), x)))
    t3 = matmul(subtract(eh, matmul(x, matmul(a, eh))), matmul(mH(x), x))
    out = add(add(t1, t2), t3)
    m, n = shape(a)[-2:]
    if 0 in (m, n):
        return x, out
    u, v, alpha, beta = _pinv_cut(a, rtol)
    p = max(m, n)
    c = _pad(matmul(mH(u), matmul(e, v)), p, p)
    d = add(cmul(c, alpha), cmul(conj(mT(c)), beta))
    d = getitem(d, (), (Ellipsis, slice(0, n), slice(0, m)))
    return x, add(out, matmul(v, matmul(d, mH(u))))


def _pinv_vjp(g, ins, x, rtol):
    # The transpose of each term in the pairing Re sum(g t): -X^T g X^T,
    # conj((I - a X) g^T X X^H) and conj(X^H X g^T (I - X a)); the cut's part: with
    # G^ = V^T g conj(U), the cotangent of C is alpha G^ + (beta conj(G^))^T, that of a
    # conj(U) G_C V^T.
    (a,) = ins
    gt = mT(g)
    t1 = negative(matmul(matmul(mT(x), g), mT(x)))
    t2 = conj(matmul(subtract(gt, matmul(a, matmul(x, gt))), matmul(x, mH(x))))
    t3 = conj(matmul(matmul(mH(x), x), subtract(gt, matmul(matmul(gt, x), a))))
    out = add(add(t1, t2), t3)
    m, n = shape(a)[-2:]
    if 0 in (m, n):
        return (out,)
    u, v, alpha, beta = _pinv_cut(a, rtol)
    p = max(m, n)
    gh = _pad(matmul(mT(v), matmul(g, conj(u))), p, p)
    gc = add(cmul(gh, alpha), mT(cmul(conj(gh), beta)))
    gc = getitem(gc, (), (Ellipsis, slice(0, m), slice(0, n)))
    return (add(out, matmul(conj(u), matmul(gc, mT(v)))),)


pinv_p = register(Primitive(
    "pinv", _library("linalg.pinv", _pinv_impl), jvp=_pinv_jvp, vjp=_pinv_vjp,
    saves="both",
    doc="Moore-Penrose pseudo-inverse of a (..., m, n), singular values <= rtol * s_max "
        "dropped; the derivative of that truncated SVD (of the kept ones' vectors turning)"))


def pinv(a, rtol):
    return bind(pinv_p, a, rtol=float(rtol))
