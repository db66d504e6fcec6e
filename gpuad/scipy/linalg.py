"""gpuad.scipy.linalg: differentiable counterparts of ``scipy.linalg`` functions, with
SciPy's signatures. On the CPU they call SciPy (NumPy arrays); on a GPU (CuPy arrays)
cupyx.scipy.linalg where it has the routine -- solve_triangular (batched), lu_factor,
lu_solve and expm (per matrix) -- and refuse clearly where it has not (solve_sylvester,
sqrtm). Matrices are the last two axes; leading axes are batches (SciPy >= 1.15 batches
these functions the same way). Every array argument is differentiable, to any order: the
derivative rules are written with the same primitives again.

Dtypes: float32, float64, complex64 and complex128, results in the inputs' dtype (integers
promote to float64); complex arrays follow gpuad's convention (README, "Complex numbers").
``overwrite_a`` / ``overwrite_b`` are accepted and ignored (gpuad never writes into its
inputs); ``check_finite`` reads the values (a host read on a GPU) and raises ValueError on
inf or NaN, as SciPy does.
"""
import numpy as _np

from ..core import full_lower as _lower
from ..primitives import base as _base, linalg as _LA, scipy_linalg as _SL
from ..primitives import complex as _CX
from ..numpy import _elementwise as _E, _shape as _S
from ..numpy._core import prepare as _prepare, shape as _shape
from ..numpy.linalg import _from_triangle

__all__ = ["solve_triangular", "cho_factor", "cho_solve", "lu_factor", "lu_solve", "sqrtm",
           "solve_sylvester", "expm", "block_diag"]


def _finite(check, *xs):
    if check:
        for x in xs:
            v = _lower(x)
            if not bool(_base.xp_of(v).isfinite(v).all()):
                raise ValueError("array must not contain infs or NaNs")


def _square(a, what):
    s = tuple(_shape(a))
    if len(s) < 2 or s[-1] != s[-2]:
        raise ValueError(f"{what}: expected a square matrix (or a stack of them), got shape "
                         f"{s}")


def _rhs(b, n, what):
    """b as (..., n, k) and whether it was a vector (n,)."""
    sb = tuple(_shape(b))
    if len(sb) == 1:
        if sb[0] != n:
            raise ValueError(f"{what}: b of shape {sb} does not match a of size {n}")
        return _base.reshape(b, (n, 1)), True
    if len(sb) < 2 or sb[-2] != n:
        raise ValueError(f"{what}: b of shape {sb} does not match a of size {n} (b must be "
                         f"({n},) or (..., {n}, k))")
    return b, False


def _system(a, b, check_finite, what):
    """The operands of a solve: a square ``a``, ``b`` as (..., n, k), and whether ``b`` was
    a vector."""
    (a, b), _ = _prepare(a, b)
    _square(a, what)
    _finite(check_finite, a, b)
    b, vector = _rhs(b, _shape(a)[-1], what)
    return a, b, vector


def _vector_back(x, vector):
    return _base.reshape(x, tuple(_shape(x))[:-1]) if vector else x


def _trans(trans, what):
    codes = {0: 0, "N": 0, 1: 1, "T": 1, 2: 2, "C": 2}
    if trans not in codes:
        raise ValueError(f"{what}: trans must be 0, 1, 2, 'N', 'T' or 'C', not {trans!r}")
    return codes[trans]


def _conj_trans(solve, a, b, trans):
    """``solve(a, b, trans)`` with trans 2 (the conjugate transpose) written as the
    transpose: ``a^H x = b`` is ``a^T conj(x) = conj(b)`` (for real arrays trans 2 is 1)."""
    if trans != 2:
        return solve(a, b, trans)
    if _np.dtype(_base.dtype(a)).kind != "c" and _np.dtype(_base.dtype(b)).kind != "c":
        return solve(a, b, 1)
    return _CX.conj(solve(a, _CX.conj(b), 1))


def _tsolve(c, b, lower, trans, what):
    return _conj_trans(lambda a, r, t: _SL.triangular_solve(a, r, lower, t, False, what), c, b,
                       trans)


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    """Solve ``op(T) x = b`` for triangular ``T``, like ``scipy.linalg.solve_triangular``:
    ``T`` is the lower (``lower=True``) or upper triangle of ``a`` (..., n, n), with ones on
    the diagonal if ``unit_diagonal`` (the diagonal is then not read); ``op`` is the
    identity (``trans`` 0 / 'N'), the transpose (1 / 'T') or the conjugate transpose
    (2 / 'C'; the transpose for real arrays).
    ``b`` is (n,) or (..., n, k); batches broadcast. SciPy's trtrs on the CPU, cupyx's trsm
    (batched) on a GPU.

    Derivatives (Giles 2008): ``dx = op(T)^-1 (db - op(dT) x)``; cotangents ``gb =
    op(T)^-T g`` and ``ga = -(gb x^T)`` (or ``-(x gb^T)`` for the transpose) on the read
    triangle only: the other entries of ``a`` are not read, so their derivative is exactly
    0. Errors: LinAlgError naming solve_triangular when ``T`` has a zero on its diagonal
    (CPU; cuBLAS gives inf/NaN), ValueError for mismatched shapes or non-finite values.

    Example::

        >>> a = np.array([[2.0, 0.0], [1.0, 4.0]])
        >>> gsl.solve_triangular(a, np.array([2.0, 5.0]), lower=True)
        array([1., 1.])
    """
    a, b, vector = _system(a, b, check_finite, "solve_triangular")
    x = _conj_trans(lambda a_, b_, t: _SL.triangular_solve(a_, b_, lower, t, unit_diagonal),
                    a, b, _trans(trans, "solve_triangular"))
    return _vector_back(x, vector)


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """Cholesky factorization for ``cho_solve``, like ``scipy.linalg.cho_factor``: returns
    ``(c, lower)`` where the ``lower`` (else upper) triangle of ``c`` holds the factor of
    the symmetric (complex: Hermitian) positive definite matrix read from that triangle of
    ``a`` (..., n, n) (``a = L L^T`` or ``U^T U``; complex ``L L^H``, ``U^H U``, the
    diagonal's real part), and the other triangle holds ``a``'s own entries, as
    LAPACK's potrf leaves them (SciPy: "random data").

    Derivatives: the factor's as ``gpuad.numpy.linalg.cholesky`` (Murray 2016), for the
    symmetric matrix built from the read triangle; the other triangle passes through
    (derivative 1). Errors: LinAlgError naming cho_factor when that matrix is not positive
    definite (CPU; NaN on a GPU).

    Example::

        >>> c, low = gsl.cho_factor(np.array([[4.0, 2.0], [2.0, 2.0]]))
        >>> c
        array([[2., 1.],
               [2., 1.]])
    """
    (a,), _ = _prepare(a)
    _square(a, "cho_factor")
    _finite(check_finite, a)
    sym = _from_triangle(a, "L" if lower else "U", "cho_factor")
    try:
        factor = _LA.cholesky(sym)
    except _np.linalg.LinAlgError:
        raise _np.linalg.LinAlgError(
            "cho_factor: the symmetric matrix read from the " + ("lower" if lower else "upper")
            + " triangle of a is not positive definite, so it has no Cholesky factor") from None
    if lower:
        return _E.add(factor, _LA.triu(a, 1)), lower
    return _E.add(_LA.mH(factor), _LA.tril(a, -1)), lower


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """Solve ``a x = b`` from ``cho_factor``'s ``(c, lower)``, like
    ``scipy.linalg.cho_solve``: two triangular solves with the factor in ``c``'s ``lower``
    (else upper) triangle (the other triangle is not read). ``b`` is (n,) or (..., n, k).

    Derivatives in ``c`` (its factor triangle) and ``b`` through ``solve_triangular``'s.
    Errors: LinAlgError naming cho_solve for a zero on the factor's diagonal (CPU).

    Example::

        >>> c = gsl.cho_factor(np.array([[4.0, 2.0], [2.0, 2.0]]))
        >>> gsl.cho_solve(c, np.array([6.0, 4.0]))
        array([1., 1.])
    """
    c, lower = c_and_lower
    c, b, vector = _system(c, b, check_finite, "cho_solve")
    if lower:     # a = L L^H
        y = _tsolve(c, b, True, 0, "cho_solve")
        x = _tsolve(c, y, True, 2, "cho_solve")
    else:         # a = U^H U
        y = _tsolve(c, b, False, 2, "cho_solve")
        x = _tsolve(c, y, False, 0, "cho_solve")
    return _vector_back(x, vector)


def lu_factor(a, overwrite_a=False, check_finite=True):
    """Pivoted LU factorization for ``lu_solve``, like ``scipy.linalg.lu_factor``: returns
    ``(lu, piv)`` with ``P^T a = L U`` (L unit lower triangular below the diagonal of
    ``lu``, U on and above it) and LAPACK's pivots ``piv`` (row i was swapped with row
    ``piv[i]``), for a square ``a`` (..., n, n) (gpuad does not take SciPy's rectangular
    (M, N)). SciPy's getrf on the CPU, cupyx's (per matrix) on a GPU.

    Derivatives (Walter & Lehmann 2018): with ``X = L^-1 P^T da U^-1``,
    ``dL = L tril(X, -1)`` and ``dU = triu(X) U``; ``piv`` is piecewise constant and
    returned as a plain integer array. At a singular ``a`` (a zero on U's diagonal; SciPy
    warns) the factors exist but this derivative divides by U's diagonal: differentiating
    raises LinAlgError naming lu_factor (CPU; inf/NaN on a GPU).

    Example::

        >>> lu, piv = gsl.lu_factor(np.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> piv
        array([1, 1], dtype=int32)
    """
    (a,), _ = _prepare(a)
    _square(a, "lu_factor")
    _finite(check_finite, a)
    lu, piv = _SL.lu(a)
    return lu, _lower(piv)


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """Solve ``a x = b`` (``trans`` 0), ``a^T x = b`` (1) or ``a^H x = b`` (2) from
    ``lu_factor``'s ``(lu, piv)``, like ``scipy.linalg.lu_solve``; ``b`` (n,) or
    (..., n, k).

    Derivatives in ``lu`` and ``b`` with ``a = P L U``: for trans 0,
    ``dx = a^-1 db - U^-1 (L^-1 dL U x + dU x)``; for trans 1, ``dx = a^-T (db - (U^T dL^T
    + dU^T L^T) w)`` with ``w = L^-T U^-T b``: no permutation needed. ``piv`` is not
    differentiable. A zero on U's diagonal gives inf/NaN, as SciPy's.

    Example::

        >>> f = gsl.lu_factor(np.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> gsl.lu_solve(f, np.array([3.0, 7.0]))
        array([1., 1.])
    """
    lu, piv = lu_and_piv
    lu, b, vector = _system(lu, b, check_finite, "lu_solve")
    piv = _base.xp_of(_lower(lu)).asarray(_lower(piv))
    x = _conj_trans(lambda lu_, b_, t: _SL.lu_solve(lu_, piv, b_, t), lu, b,
                    _trans(trans, "lu_solve"))
    return _vector_back(x, vector)


def expm(A):
    """Matrix exponential ``e^A = sum_k A^k / k!`` of ``A`` (..., n, n), like
    ``scipy.linalg.expm`` (scaling and squaring with Pade approximants, Al-Mohy & Higham
    2009; cupyx's on a GPU, per matrix).

    Derivative: the Frechet derivative ``L(A, E)``, the upper right block of
    ``expm([[A, E], [0, A]])`` (Higham 2008, "Functions of Matrices", Thm 3.6); cotangent
    ``L(A^T, G)``. Both are expm again, so every order follows (the k-th works on
    2^k n x 2^k n blocks). expm is entire: no singular points.

    Example::

        >>> gsl.expm(np.zeros((2, 2)))
        array([[1., 0.],
               [0., 1.]])
    """
    (A,), _ = _prepare(A)
    _square(A, "expm")
    return _SL.expm(A)


def solve_sylvester(a, b, q):
    """The solution ``x`` of ``a x + x b = q`` for ``a`` (..., m, m), ``b`` (..., n, n),
    ``q`` (..., m, n), like ``scipy.linalg.solve_sylvester`` (Bartels-Stewart through
    Schur forms; CPU only: cupyx has no Sylvester solver, so CuPy arrays raise
    NotImplementedError).

    Derivatives: ``a dx + dx b = dq - da x - x db``, another Sylvester equation; cotangents
    from ``z`` with ``a^T z + z b^T = g``: ``gq = z``, ``ga = -z x^T``, ``gb = -x^T z``.
    Errors: LinAlgError naming solve_sylvester when ``a`` and ``-b`` share an eigenvalue to
    working precision, ``min |eig(a) + eig(b)| <= (m + n) eps (||a|| + ||b||)`` (no unique
    solution; SciPy itself returns a huge answer there without a word).

    Example::

        >>> gsl.solve_sylvester(np.eye(2), np.eye(2), np.ones((2, 2)))
        array([[0.5, 0.5],
               [0.5, 0.5]])
    """
    (a, b, q), _ = _prepare(a, b, q)
    _square(a, "solve_sylvester")
    _square(b, "solve_sylvester")
    sq = tuple(_shape(q))
    if len(sq) < 2 or sq[-2:] != (_shape(a)[-1], _shape(b)[-1]):
        raise ValueError(f"solve_sylvester: q of shape {sq} does not match a "
                         f"{tuple(_shape(a))} and b {tuple(_shape(b))}")
    return _SL.sylvester(a, b, q)


def sqrtm(A):
    """The principal square root ``X`` (``X @ X = A``, eigenvalues in the right half-plane)
    of ``A`` (..., n, n), like ``scipy.linalg.sqrtm`` (Schur method; CPU only: cupyx has no
    sqrtm, so CuPy arrays raise NotImplementedError). SciPy's deprecated ``disp`` and
    ``blocksize`` are not taken.

    Derivative: ``dX`` solves the Sylvester equation ``X dX + dX X = dA``; cotangent from
    ``X^T Z + Z X^T = G`` (Higham 2008, "Functions of Matrices", 6.1). Errors: ValueError
    when a real ``A`` has a negative real eigenvalue (the root is complex: pass a complex
    ``A``); at a singular ``A``
    (an eigenvalue 0, where the root is not differentiable, like sqrt at 0) differentiating
    raises LinAlgError naming sqrtm.

    Example::

        >>> gsl.sqrtm(np.array([[4.0, 0.0], [0.0, 9.0]]))
        array([[2., 0.],
               [0., 3.]])
    """
    (A,), _ = _prepare(A)
    _square(A, "sqrtm")
    return _SL.sqrtm(A)


def block_diag(*arrs):
    """The block diagonal matrix of ``arrs``, like ``scipy.linalg.block_diag``: 0-d arrays
    are 1 x 1 blocks, 1-d arrays of length n are 1 x n rows, 2-d arrays blocks; the rest is
    zeros. Linear: the cotangent of each block is its block of the output's. No arguments
    give an empty (1, 0) array. Errors: ValueError for an argument of more than 2 dimensions.

    Example::

        >>> gsl.block_diag(np.array([[1.0]]), np.array([2.0, 3.0]))
        array([[1., 0., 0.],
               [0., 2., 3.]])
    """
    if not arrs:
        return _np.empty((1, 0))
    arrs, xp = _prepare(*arrs)
    bad = [k for k, a in enumerate(arrs) if len(_shape(a)) > 2]
    if bad:
        raise ValueError("block_diag: arguments in the following positions have dimension "
                         f"greater than 2: {bad}")
    blocks = [_S.atleast_2d(a) for a in arrs]
    widths = [_shape(b)[1] for b in blocks]
    total = sum(widths)
    rows, left = [], 0
    for blk, w in zip(blocks, widths):
        h = _shape(blk)[0]
        parts = [xp.zeros((h, left), dtype=blk.dtype), blk,
                 xp.zeros((h, total - left - w), dtype=blk.dtype)]
        rows.append(_S.concatenate(parts, axis=1))
        left += w
    return _S.concatenate(rows, axis=0)
