"""gpuad.numpy.linalg: differentiable counterparts of ``numpy.linalg`` (cuSOLVER and cuBLAS
through CuPy on a GPU, LAPACK and BLAS through NumPy on the CPU). Matrices are the last two
axes; leading axes are batches, as in NumPy.

Every derivative is taken through the decomposition the value comes from, with rules
written with primitives again, so derivatives of every order compose (grad of grad, hvp,
hessian, jacfwd, jacrev, Taylor). The conventions at singular and degenerate points are
listed in README.md ("Nondifferentiable points") and in each function's docstring.
Dtypes: float32, float64, complex64 and complex128, results in the inputs' dtype (integers
and Python scalars promote as in NumPy); complex matrices follow gpuad's convention (the
VJP transposes without conjugation; ``grad`` of a real loss is ``df/dx - i df/dy``), with
``^T`` in the real formulas read as ``^H`` where the decomposition has it. The phases of
complex singular and eigenvectors are a gauge: see ``svd`` and ``eigh``. eig and eigvals
are NumPy's own, not differentiable (no rules for nonsymmetric eigenproblems yet: an array
being differentiated raises NotImplementedError).
"""

import functools as _functools
import operator as _operator
from collections import namedtuple as _namedtuple

import numpy as _np

from ..core import Tracer as _Tracer, full_lower as _lower
from ..primitives import base as _base, linalg as _LA, decompositions as _D
from ..primitives import complex as _CX
from ..runtime import profile as _profile
from ._core import prepare as _prepare, shape as _shape, normalize_axis as _normalize_axis
from ._core import _dtype_of, numpy_semantics as _numpy_semantics
from . import _elementwise as _E, _reductions as _R, _linalg as _P, _shape as _S
from ._indexing import _getitem

__all__ = ["LinAlgError", "solve", "inv", "det", "slogdet", "cholesky", "norm", "vector_norm",
           "matrix_norm", "cond", "matrix_rank", "svd", "svdvals", "eigh", "eigvalsh", "qr",
           "pinv", "lstsq", "matrix_power", "multi_dot", "matmul", "outer", "tensordot",
           "trace", "diagonal", "matrix_transpose", "vecdot", "cross", "tensorinv",
           "tensorsolve", "eig", "eigvals"]

LinAlgError = _np.linalg.LinAlgError
_SlogdetResult = _namedtuple("SlogdetResult", ["sign", "logabsdet"])
_SVDResult = _namedtuple("SVDResult", ["U", "S", "Vh"])
_EighResult = _namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
_QRResult = _namedtuple("QRResult", ["Q", "R"])


def _nonsymmetric(name, a):
    """numpy.linalg.eig / eigvals: NumPy's (CuPy's) own result for an array that is not being
    differentiated; a traced one has no rule (nonsymmetric eigenproblems)."""
    if isinstance(a, _Tracer):
        raise NotImplementedError(
            f"gpuad.numpy.linalg.{name}: gpuad has no derivative rules for nonsymmetric "
            "eigenproblems yet; for a symmetric (complex: Hermitian) matrix use eigh / "
            "eigvalsh, for singular values svd")
    (a,), xp = _prepare(a)
    fn = getattr(xp.linalg, name, None)
    if fn is None:
        raise NotImplementedError(f"gpuad.numpy.linalg.{name}: {xp.__name__}.linalg has no {name}")
    return fn(a)


def eig(a):
    """``numpy.linalg.eig`` passed through (not differentiable): NotImplementedError for an
    array being differentiated (use eigh for symmetric matrices, svd for singular values)."""
    return _nonsymmetric("eig", a)


def eigvals(a):
    """``numpy.linalg.eigvals`` passed through (not differentiable), as ``eig``."""
    return _nonsymmetric("eigvals", a)


def _matrix(a, what, square=False):
    (a,), _ = _prepare(a)
    s = tuple(_shape(a))
    if len(s) < 2:
        raise LinAlgError(f"{what}: {len(s)}-dimensional array given; the array must be at "
                          "least two-dimensional")
    if square and s[-1] != s[-2]:
        raise LinAlgError(f"{what}: last 2 dimensions of the array (shape {s}) must be square")
    return a


def _square(a, what):
    return _matrix(a, what, square=True)


def _from_triangle(a, UPLO, what):
    """The symmetric (complex: Hermitian) matrix LAPACK reads from one triangle of ``a``
    (as NumPy's eigh does): ``tril(a) + tril(a, -1)^T`` for 'L', ``triu(a) + triu(a, 1)^T``
    for 'U'; complex: ``^H``, and the real part of the diagonal (LAPACK ignores its
    imaginary part)."""
    if UPLO not in ("L", "U"):
        raise ValueError(f"{what}: UPLO argument must be 'L' or 'U', not {UPLO!r}")
    if _np.dtype(_base.dtype(a)).kind != "c":
        if UPLO == "L":
            return _E.add(_LA.tril(a), _LA.mT(_LA.tril(a, -1)))
        return _E.add(_LA.triu(a), _LA.mT(_LA.triu(a, 1)))
    off = _LA.tril(a, -1) if UPLO == "L" else _LA.triu(a, 1)
    diag = _base.astype(_CX.real(_LA.diag_part(a)), _base.dtype(a))
    return _E.add(_E.add(_LA.diag_embed(diag), off), _LA.mH(off))


def _traced(*xs):
    return any(isinstance(x, _Tracer) for x in xs)


def _lapack(x):
    """``x`` with an integer or boolean dtype made float64, as numpy.linalg's LAPACK
    functions take it (``_commonType``: ``solve(float32, int8)`` is float64, not float32)."""
    if not isinstance(x, _Tracer) and _dtype_of(x).kind in "biu":
        return _base.xp_of(x).asarray(x, dtype=_np.float64) if hasattr(x, "shape") else \
            _np.asarray(x, dtype=_np.float64)
    return x


# ------------------------------------------------------------------ solving and inverting

def solve(a, b):
    """The solution ``x`` of ``a x = b``, like ``numpy.linalg.solve``: ``a`` (..., n, n),
    ``b`` (..., n, k), or ``(n,)`` (a vector only when it is 1-D); batches broadcast.
    float32/float64 (ints promote to float64). LU with partial pivoting (getrf/getrs).

    Derivatives: ``dx = a^-1 (db - da x)``; cotangents ``gb = a^-T g``, ``ga = -gb x^T``
    (Giles 2008). Errors: LinAlgError naming solve for a non-square ``a`` or, on the CPU, an
    exactly singular one (there is no solution to differentiate; ``lstsq`` gives the
    least-squares one). On a GPU cuSOLVER does not report singularity: the result is
    inf/NaN. ValueError when the shapes do not match.

    Example::

        >>> a, b = np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0])
        >>> gnp.linalg.solve(a, b), gpuad.grad(lambda b: gnp.sum(gnp.linalg.solve(a, b)))(b)
        (array([0.5 , 0.25]), array([0.5 , 0.25]))
    """
    a = _square(a, "solve")
    (a, b), _ = _prepare(_lapack(a), _lapack(b))
    sa, sb = tuple(_shape(a)), tuple(_shape(b))
    vector = len(sb) == 1
    if vector:
        b = _base.reshape(b, sb + (1,))
    if len(_shape(b)) < 2 or _shape(b)[-2] != sa[-1]:
        raise ValueError(f"solve: a of shape {sa} and b of shape {sb} do not match "
                         f"({sa[-1]} unknowns, b must be ({sa[-1]},) or (..., {sa[-1]}, k))")
    x = _LA.solve(a, b)
    return _base.reshape(x, tuple(_shape(x))[:-1]) if vector else x


def inv(a):
    """Matrix inverse of ``a`` (..., n, n), like ``numpy.linalg.inv`` (LU: getrf/getri).

    ``d(a^-1) = -a^-1 da a^-1``; cotangent ``-a^-T g a^-T`` (Giles 2008). Errors:
    LinAlgError naming inv for a non-square or, on the CPU, an exactly singular ``a`` (no
    inverse; ``pinv`` is the pseudo-inverse). On a GPU cuSOLVER does not report
    singularity: the result is inf/NaN.

    Example::

        >>> gnp.linalg.inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
        array([[0.5 , 0.  ],
               [0.  , 0.25]])
    """
    return _LA.inv(_square(a, "inv"))


def pinv(a, rcond=None, hermitian=False, *, rtol=_np._NoValue):
    """Moore-Penrose pseudo-inverse ``a^+`` of ``a`` (..., m, n) -> (..., n, m), like
    ``numpy.linalg.pinv``: an SVD, with singular values ``<= rtol * s_max`` dropped.
    ``rcond`` (NumPy's name) and ``rtol`` are the same cutoff, a Python float; NumPy's
    default is 1e-15 (with ``rtol`` given as None it is ``max(m, n) * eps``, the Array
    API's). ``hermitian=True`` reads the lower triangle, as NumPy does.

    Derivative at fixed rank (Golub & Pereyra 1973), ``X = a^+``:
    ``dX = -X da X + X X^T da^T (I - a X) + (I - X a) da^T X^T X`` (complex: ``^H``),
    written with pinv and
    products, so it differentiates again. Convention: the rank is held -- singular values
    under the cutoff stay zero -- so the derivative is finite at every matrix, rank-deficient
    ones included (pinv itself jumps where the rank changes).

    Example::

        >>> gnp.linalg.pinv(np.array([[2.0, 0.0], [0.0, 0.0]]))
        array([[0.5, 0. ],
               [0. , 0. ]])
    """
    a = _matrix(a, "pinv")
    if rcond is not None and rtol is not _np._NoValue:
        raise ValueError("pinv: give rcond or rtol, not both")
    m, n = _shape(a)[-2:]
    if rcond is not None:
        cut = rcond
    elif rtol is _np._NoValue:
        cut = 1e-15
    elif rtol is None:
        cut = max(m, n) * _np.finfo(_np.dtype(a.dtype)).eps
    else:
        cut = rtol
    if not _np.ndim(cut) == 0:
        raise TypeError("pinv: gpuad takes rcond/rtol as one number (NumPy also takes an "
                        "array broadcast against the stack)")
    if hermitian:
        a = _from_triangle(a, "L", "pinv")
    return _D.pinv(a, float(cut))


def lstsq(a, b, rcond=None):
    """Least-squares solution of ``a x = b``, like ``numpy.linalg.lstsq``: ``a`` (M, N),
    ``b`` (M,) or (M, K); returns ``(x, residuals, rank, s)``: the minimum-norm ``x``
    minimising ``||b - a x||``, the squared residual norms per column (shape (K,) or (1,),
    empty unless ``rank == N`` and ``M > N``), the rank (an int) and the singular values.

    ``x = pinv(a, rcond) @ b`` with singular values ``<= rcond * s_max`` treated as zero
    (``rcond=None``: ``eps * max(M, N)``, NumPy's default). ``x``, ``residuals`` and ``s``
    are differentiable in ``a`` and ``b`` (the pseudo-inverse's derivative at fixed rank,
    Golub & Pereyra 1973; ``s`` as in ``svd``); the rank is read from the values (one host
    read). Errors: LinAlgError for a or b of other dimensions or mismatched M.

    Example::

        >>> a, b = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), np.array([1.0, 2.0, 3.0])
        >>> gnp.linalg.lstsq(a, b)[0]
        array([1., 2.])
    """
    (a, b), _ = _prepare(_lapack(a), _lapack(b))
    if len(_shape(a)) != 2 or len(_shape(b)) not in (1, 2):
        raise LinAlgError(f"lstsq: a must be 2-D and b 1-D or 2-D, not {tuple(_shape(a))} "
                          f"and {tuple(_shape(b))}")
    m, n = _shape(a)
    if _shape(b)[0] != m:
        raise LinAlgError(f"lstsq: incompatible dimensions: a {tuple(_shape(a))}, b "
                          f"{tuple(_shape(b))}")
    eps = _np.finfo(_np.dtype(a.dtype)).eps
    rc = eps * max(m, n) if rcond is None else float(rcond)
    s = svdvals(a)
    x = matmul(_D.pinv(a, rc), b)
    sv = _lower(s)
    big = sv.max() if sv.size else 0
    rank = int((sv > rc * big).sum())
    _profile.record_host_read("lstsq rank", 8)
    if rank == n and m > n:
        r = _E.subtract(b, matmul(a, x))
        res = _R.sum(_CX.abs2(r), axis=0)
        if len(_shape(b)) == 1:
            res = _base.reshape(res, (1,))
    else:
        xp = _base.xp_of(sv)
        res = xp.empty((0,), dtype=sv.dtype)
    return x, res, rank, s


def tensorinv(a, ind=2):
    """Inverse of a tensor for ``tensordot``, like ``numpy.linalg.tensorinv``: ``a``
    reshaped to a square (prod(shape[:ind]), prod(shape[ind:])) matrix, inverted, and
    reshaped to ``shape[ind:] + shape[:ind]``; derivatives as ``inv``.

    Example::

        >>> gnp.linalg.tensorinv(np.eye(4).reshape(4, 2, 2), ind=1).shape
        (2, 2, 4)
    """
    (a,), _ = _prepare(a)
    old = tuple(_shape(a))
    if ind <= 0:
        raise ValueError("tensorinv: invalid ind argument (must be positive)")
    rows = int(_np.prod(old[:ind], dtype=_np.int64))
    cols = int(_np.prod(old[ind:], dtype=_np.int64))
    if rows != cols:
        raise LinAlgError(f"tensorinv: prod(a.shape[:ind]) = {rows} and prod(a.shape[ind:])"
                          f" = {cols} differ: the tensor is not square")
    return _base.reshape(inv(_base.reshape(a, (rows, cols))), old[ind:] + old[:ind])


def tensorsolve(a, b, axes=None):
    """Solve ``tensordot(a, x, axes=x.ndim) = b`` for ``x``, like
    ``numpy.linalg.tensorsolve``: ``a`` reshaped to a square matrix and ``solve`` (so
    derivatives as ``solve``).

    Example::

        >>> gnp.linalg.tensorsolve(np.eye(4).reshape(2, 2, 2, 2), np.ones((2, 2))).shape
        (2, 2)
    """
    (a, b), _ = _prepare(_lapack(a), _lapack(b))
    an = len(_shape(a))
    if axes is not None:
        order = list(range(an))
        for k in axes:
            order.remove(k)
            order.insert(an, k)
        a = _base.transpose(a, order)
    old = tuple(_shape(a))[-(an - len(_shape(b))):]
    prod = int(_np.prod(old, dtype=_np.int64))
    size = int(_np.prod(_shape(a), dtype=_np.int64))
    if size != prod ** 2:
        raise LinAlgError("tensorsolve: input arrays must satisfy prod(a.shape[b.ndim:]) "
                          "== prod(a.shape[:b.ndim])")
    x = solve(_base.reshape(a, (prod, prod)), _base.reshape(b, (prod,)))
    return _base.reshape(x, old)


# ------------------------------------------------------------------ determinants

def det(a):
    """Determinant of ``a`` (..., n, n), like ``numpy.linalg.det`` (LU); real or complex
    (holomorphic: ``grad(det, holomorphic=True)`` is the cofactor matrix).

    Derivative: the cofactor matrix, ``d det(a) = sum(cof(a) * da)`` with ``cof(a) =
    adj(a)^T`` (``= det(a) a^-T`` where a is invertible). gpuad never inverts: with
    ``a = U diag(s) V^T``, ``cof(a) = det(U) det(V) U diag(p) V^T``, ``p_i = prod_{j != i}
    s_j`` (products of the other singular values), and every higher derivative is the same
    kind of sum of products of singular values in the rotated frame (see
    ``gpuad.primitives.linalg._cofactor_impl``). So the derivatives of every order are
    finite and exact at every matrix: at rank n-1 the gradient is the rank-1 adjugate, at
    rank < n-1 it is 0 and the Hessian is still the (nonzero) second derivative. The k-th
    derivative costs an SVD plus O(k! n^(k+1)) work per matrix. Errors: LinAlgError for a
    non-square ``a``.

    Example::

        >>> gpuad.grad(gnp.linalg.det)(np.array([[1.0, 2.0], [2.0, 4.0]]))   # singular
        array([[ 4., -2.],
               [-2.,  1.]])
    """
    return _LA.det(_square(a, "det"))


def slogdet(a):
    """``(sign, logabsdet)`` with ``det(a) = sign * exp(logabsdet)``, like
    ``numpy.linalg.slogdet`` (LU), for ``a`` (..., n, n).

    For real ``a`` only ``logabsdet`` is differentiable (``d logabsdet = trace(a^-1 da)``,
    cotangent ``g a^-T``, Giles 2008); the sign is piecewise constant (derivative 0). For
    complex ``a`` the sign is a phase: with ``t = trace(a^-1 da)``, ``d logabsdet = Re t``
    and ``d sign = i sign Im t``. At a singular
    ``a`` the value is ``(0, -inf)`` and the derivative ``a^-T`` is unbounded: on the CPU
    (an exactly zero pivot) differentiating raises LinAlgError naming slogdet; on a GPU
    the derivative comes out inf/NaN. ``det`` is differentiable everywhere.

    Example::

        >>> sign, logdet = gnp.linalg.slogdet(np.array([[-2.0, 0.0], [0.0, 3.0]]))
        >>> sign, logdet
        (np.float64(-1.0), np.float64(1.791759469228055))
    """
    sign, logabsdet = _LA.slogdet(_square(a, "slogdet"))
    return _SlogdetResult(sign, logabsdet)


# ------------------------------------------------------------------ decompositions

def cholesky(a, /, *, upper=False):
    """Cholesky factor of a symmetric (complex: Hermitian) positive definite ``a``
    (..., n, n), like ``numpy.linalg.cholesky``: lower ``L`` with ``a = L L^T`` (complex:
    ``L L^H``; ``upper=True``: ``L^T``, ``L^H``).

    The input is symmetrized, ``(a + a^T) / 2`` (complex: ``(a + a^H) / 2``), so the
    derivative is taken over symmetric (Hermitian) perturbations and the gradient is
    symmetric (Hermitian). ``dL = L phi(L^-1 da L^-T)`` with ``phi``
    the lower triangle with a halved diagonal; the VJP is Murray's (2016)
    ``L^-T phi(L^T g) L^-1``, symmetrized. Errors: LinAlgError naming cholesky when ``a`` is
    not positive definite on the CPU (on a GPU cuSOLVER returns NaN without raising).

    Example::

        >>> gnp.linalg.cholesky(np.array([[4.0, 2.0], [2.0, 2.0]]))
        array([[2., 0.],
               [1., 1.]])
    """
    a = _square(a, "cholesky")
    L = _LA.cholesky(_E.multiply(_E.add(a, _LA.mH(a)), 0.5))
    return _LA.mH(L) if upper else L


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition ``a = U diag(S) Vh`` of ``a`` (..., m, n), like
    ``numpy.linalg.svd``; returns ``SVDResult(U, S, Vh)`` (U (..., m, m) and Vh (..., n, n)
    with ``full_matrices``, else (..., m, k) and (..., k, n), k = min(m, n)) or, with
    ``compute_uv=False``, ``S`` (..., k), descending. LAPACK gesdd (NumPy) / cuSOLVER gesvdj
    or gesvd (CuPy, batched). ``hermitian=True`` reads the lower triangle, as NumPy does
    (the general SVD is then used).

    Derivatives (Townsend 2016; Giles 2008; complex: Wan & Zhang 2019, read ``^T`` as
    ``^H`` below): with ``P = U^T da V``, ``dS = diag(P)`` (complex: ``Re diag(P)``),
    ``U^T dU = F o (P S + S P^T)``, ``V^T dV = F o (S P + P^T S)``, ``F_ij = 1 / (s_j^2 -
    s_i^2)``, plus ``(I - U U^T) da V S^-1`` (and the same for V) when ``a`` is not square.
    gpuad writes ``U^T dU = Fm o sym(P) + Fp o skew(P)`` and ``V^T dV = Fm o sym(P) - Fp o
    skew(P)`` with ``Fm_ij = 1 / (s_j - s_i)``, ``Fp_ij = 1 / (s_j + s_i)``: the same
    numbers, but only ``Fm`` is singular at a repeated singular value.

    Conventions (tolerance ``tol = max(m, n) * eps * s_max``):

    * repeated singular values (``|s_i - s_j| <= tol``): ``Fm_ij = 0``. The symmetric part
      of P it multiplies is what splits a repeated value, and the vectors of a repeated
      value are any basis of its subspace (LAPACK's choice), not functions of ``a``.
      First derivatives are then exact for every function that depends on a cluster of
      equal singular values only through a symmetric function of them (their sum, e.g. the
      nuclear norm; max/min with the even split) and on its vectors only through the
      subspaces and the map between them: ``U_c U_c^T``, ``V_c V_c^T`` and ``U_c V_c^T``
      (so the polar factor ``U @ Vh``, e.g. orthogonal Procrustes, is exact at ``a = I``).
      Functions of individual vectors of a cluster have no derivative there and get this
      convention's finite value. Second derivatives at a degenerate point are finite but
      not exact (the within-cluster second-order terms are dropped).
    * zero singular values (``s_i <= tol``, rank-deficient ``a``): ``1/s_i`` is taken as 0
      (also ``Fp_ij`` for two zero values), and ``dS_i = 0`` -- the minimum-norm
      subgradient, as ``abs'(0) = 0``: ``grad(norm(a, 'nuc'))`` at ``a = 0`` is 0, and at a
      rank-deficient ``a`` it is ``U_1 V_1^T`` over the nonzero values.
    * ``full_matrices=True`` with m != n: the extra columns of U (rows of Vh) are an
      arbitrary basis of the orthogonal complement; their derivative keeps
      ``U2^T dU2 = 0`` (the complement is carried along without rotating in itself), exact
      for functions of ``U2 U2^T``.
    * complex ``a``: each pair ``(u_i, v_i)`` is fixed only up to a common phase
      ``e^{i phi}``, which LAPACK picks. gpuad's derivative is JAX's gauge:
      ``diag(V^H dV) = 0`` and ``diag(U^H dU) = i Im(P_ii) / s_i`` (what keeps S real). It
      is exact for every function invariant under those phases (``U diag(c) Vh``,
      ``U_i U_i^H``, ``|U|``, the singular values, ...), as PyTorch requires of a loss;
      the derivative of a phase-dependent function (``U[0, 0]`` itself) is taken in that
      gauge, not of LAPACK's phase choice.

    No NaN comes out of the rules at any finite matrix. Errors: LinAlgError for fewer than 2
    dimensions or when LAPACK does not converge.

    Example::

        >>> gpuad.grad(lambda a: gnp.sum(gnp.linalg.svd(a, compute_uv=False)))(np.eye(2))
        array([[1., 0.],
               [0., 1.]])
    """
    a = _matrix(a, "svd")
    if hermitian:
        a = _from_triangle(a, "L", "svd")
    if not compute_uv:
        return _D.svd(a, False)[1]
    u, s, vh = _D.svd(a, full_matrices)
    return _SVDResult(u, s, vh)


def svdvals(x, /):
    """Singular values of ``x`` (..., m, n), descending, like ``numpy.linalg.svdvals``
    (``svd(x, compute_uv=False)``): ``ds_i = u_i^T dx v_i``. Conventions as ``svd``: a
    zero singular value has derivative 0; at repeated values each ``ds_i`` is taken in
    LAPACK's basis, exact for symmetric functions of the repeated values.

    Example::

        >>> gnp.linalg.svdvals(np.array([[3.0, 0.0], [0.0, -4.0]]))
        array([4., 3.])
    """
    return svd(x, compute_uv=False)


def eigh(a, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric (complex:
    Hermitian) ``a`` (..., n, n), like ``numpy.linalg.eigh``: ``EighResult(eigenvalues,
    eigenvectors)`` with ``a = V diag(w) V^T`` (``V^H``; w real). Only the ``UPLO`` triangle
    ('L' or 'U') is read, exactly as NumPy's (complex: the real part of the diagonal): the
    derivative is that of the symmetric matrix built from that triangle, so the gradient
    lies in that triangle (the off-diagonal entries count twice). LAPACK syevd/heevd /
    cuSOLVER syevd/heevd (batched).

    Derivatives (Giles 2008): ``P = V^T da V``, ``dw = diag(P)``, ``dV = V (F o P)``,
    ``F_ij = 1 / (w_j - w_i)``. Convention: eigenvalues closer than ``n * eps * max|w|``
    count as equal and their ``F_ij`` is 0, with the exactness statement of ``svd``:
    first derivatives are exact for functions of a cluster of equal eigenvalues through a
    symmetric function of them and of its eigenvectors through the projector ``V_c V_c^T``
    (e.g. ``sum(w)``, ``w`` weighted evenly in a cluster, the projector onto the lowest k
    eigenvectors when w_k < w_k+1); second derivatives at degenerate points are finite,
    not exact. Complex ``a``: ``P = V^H da V``, ``dw = Re diag(P)``; each eigenvector is
    fixed only up to a phase, and gpuad's derivative is JAX's gauge ``diag(V^H dV) = 0``:
    exact for phase-invariant functions (``V diag(c) V^H``, ``|V|``, projectors), taken in
    that gauge for others. Errors: LinAlgError for a non-square ``a``, ValueError for
    another UPLO.

    Example::

        >>> w, v = gnp.linalg.eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
        >>> w
        array([1., 3.])
    """
    a = _from_triangle(_square(a, "eigh"), UPLO, "eigh")
    w, v = _D.eigh(a)
    return _EighResult(w, v)


def eigvalsh(a, UPLO="L"):
    """Eigenvalues (ascending) of a symmetric ``a`` (..., n, n), like
    ``numpy.linalg.eigvalsh``: ``dw_i = v_i^T da v_i``, the ``UPLO`` triangle read as in
    ``eigh``; at repeated eigenvalues each ``dw_i`` is taken in LAPACK's eigenbasis, exact
    for symmetric functions of the repeated values (their sum, their even-split max).

    Example::

        >>> gpuad.grad(lambda a: gnp.linalg.eigvalsh(a)[-1])(np.diag([1.0, 2.0]))
        array([[0., 0.],
               [0., 1.]])
    """
    return eigh(a, UPLO).eigenvalues


def qr(a, mode="reduced"):
    """QR decomposition ``a = Q R`` of ``a`` (..., m, n), like ``numpy.linalg.qr``
    (Householder: LAPACK geqrf/orgqr, cuSOLVER, batched). ``mode``: 'reduced' -> QRResult
    with Q (..., m, k), R (..., k, n), k = min(m, n); 'complete' -> Q (..., m, m),
    R (..., m, n); 'r' -> R (k, n) only; 'raw' -> NumPy's Householder form, not
    differentiable (refused for traced input).

    Derivatives (Walter & Lehmann 2018; Seeger et al. 2017): for the leading columns
    ``a1 = Q R1`` and ``X = Q^T da1 R1^-1``, ``Q^T dQ = tril(X, -1) - tril(X, -1)^T``,
    ``dR1 = (X - Q^T dQ) R1``, ``dQ = Q (Q^T dQ) + (I - Q Q^T) da1 R1^-1``; for m < n the
    rest of R is ``Q^T a2``. The leading min(m, n) columns must be independent (R1
    invertible): at a rank-deficient ``a`` the derivative does not exist (on the CPU an
    exactly singular R1 raises LinAlgError from the solve; otherwise it is large).
    Convention for 'complete' with m > n: the last m - n columns of Q are a basis of the
    orthogonal complement that LAPACK picks; their derivative keeps ``Q2^T dQ2 = 0``,
    exact for functions of ``Q2 Q2^T`` only. Complex ``a``: ``^T`` read as ``^H``, and
    ``Q^H dQ`` gets the diagonal ``i Im diag(X)``: LAPACK's R has a real diagonal, so Q and R
    have no phase freedom and their derivatives are exact.

    Example::

        >>> q, r = gnp.linalg.qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
        >>> np.abs(r[0, 0])
        np.float64(5.0)
    """
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"qr: unrecognized mode {mode!r} (use 'reduced', 'complete', 'r' "
                         "or 'raw')")
    a = _matrix(a, "qr")
    if mode == "raw":
        if _traced(a):
            raise TypeError("qr: mode='raw' returns Householder reflectors, which gpuad does "
                            "not differentiate: use mode='reduced'")
        return _base.xp_of(a).linalg.qr(a, mode="raw")
    q, r = _D.qr(a, "reduced" if mode == "r" else mode)
    return r if mode == "r" else _QRResult(q, r)


# ------------------------------------------------------------------ norms and numbers

def norm(x, ord=None, axis=None, keepdims=False):
    """Vector and matrix norms, like ``numpy.linalg.norm``.

    Vectors (``axis`` an int, or a 1-D ``x``): ``ord`` None or 2 gives
    ``sqrt(sum(x**2))``, 1 ``sum(|x|)``, inf ``max(|x|)``, -inf ``min(|x|)``, 0 the count of
    nonzeros (piecewise constant: derivative 0), other p ``sum(|x|**p)**(1/p)``. Matrices
    (``axis`` a pair, or a 2-D ``x``): None or 'fro' the Frobenius norm, 1 / -1 the
    largest / smallest column sum of ``|x|``, inf / -inf the same for rows, 2 / -2 the
    largest / smallest singular value, 'nuc' their sum (through ``svd``). ``axis=None`` with
    ``ord=None`` is the 2-norm of all entries.

    Conventions (README's table): where the 2-norm or Frobenius norm is 0 the gradient is
    the subgradient 0 (as PyTorch's), so ``grad(lambda x: norm(x) ** 2)(0) = 0``; the
    second derivative there is taken as 0 as well (the true one is unbounded), so the
    Hessian of ``norm(x) ** 2`` at 0 comes out 0, not 2 I: write ``sum(x**2)`` for the
    squared norm. A p-norm at 0: gradient 0; for 1 < p < 2 the second derivative where an
    entry is 0 is unbounded and comes out +inf (its true value) in the Hessian's diagonal;
    for p < 1 the first derivative there is unbounded and comes out NaN. ``|x|``, max and
    min follow their own conventions (abs'(0) = 0; ties split evenly); singular values
    follow ``svd`` (a zero singular value has derivative 0, so ord 2 / 'nuc' at 0 give 0).

    Example::

        >>> gpuad.grad(gnp.linalg.norm)(np.array([3.0, 4.0]))
        array([0.6, 0.8])
    """
    (x,), _ = _prepare(x)
    nd = len(_shape(x))
    if axis is None and ord is None:
        return _keep(_LA.pnorm(_modulus(x), tuple(range(nd)), 2), _shape(x), range(nd),
                     keepdims)
    # NumPy's order of checks: the number of axes, a string ord of a vector, then the axes
    axes = (tuple(range(nd)) if axis is None else
            (axis,) if isinstance(axis, (int, _np.integer)) else tuple(axis))
    if len(axes) not in (1, 2):
        raise ValueError(f"norm: improper number of dimensions to norm ({len(axes)} axes; "
                         "give one axis for a vector norm, two for a matrix norm)")
    if len(axes) == 1 and isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    axes = tuple(int(a) % nd if -nd <= a < nd else _bad_axis(a, nd) for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if axes[0] == axes[1]:
        raise ValueError(f"norm: duplicate axes given (axis {axis})")
    return _matrix_norm(x, "fro" if ord == "f" else ord, axes, keepdims)


def _bad_axis(a, nd):
    raise _np.exceptions.AxisError(f"axis {a} is out of bounds for an array of dimension {nd}")


def _keep(out, xshape, axes, keepdims):
    if not keepdims:
        return out
    axes = set(axes)
    return _base.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(xshape)))


def _modulus(x):
    """|x| for complex x (every norm but the spectral ones is a norm of |x|), else x."""
    return _CX.complex_abs(x) if _np.dtype(_base.dtype(x)).kind == "c" else x


def _vector_norm(x, ord, axes, keepdims):
    x = _modulus(x)
    if ord is None or ord == 2:
        out = _LA.pnorm(x, axes, 2)
    elif isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    elif ord == _np.inf:
        out = _max0(_E.abs(x), axes)
    elif ord == -_np.inf:
        out = _R.min(_E.abs(x), axis=axes)
    elif ord == 0:
        v = _lower(x)
        out = (v != 0).sum(axis=axes).astype(v.dtype)
    elif ord == 1:
        out = _R.sum(_E.abs(x), axis=axes)
    else:
        out = _LA.pnorm(x, axes, float(ord))
    return _keep(out, _shape(x), axes, keepdims)


def _matrix_norm(x, ord, axes, keepdims):
    row, col = axes
    if ord not in (2, -2, "nuc"):
        x = _modulus(x)
    if ord is None or ord == "fro":
        out = _LA.pnorm(x, axes, 2)
    elif ord in (1, -1, _np.inf, -_np.inf):
        # 1: max over columns of the column sums of |x|; inf: the same with rows.
        summed, picked = (row, col) if ord in (1, -1) else (col, row)
        sums = _R.sum(_E.abs(x), axis=summed, keepdims=True)
        out = _max0(sums, (picked,), True) if ord > 0 else _R.min(sums, axis=picked,
                                                                  keepdims=True)
        out = _base.reshape(out, tuple(d for i, d in enumerate(_shape(x)) if i not in axes))
    elif ord in (2, -2, "nuc"):
        nd = len(_shape(x))
        rest = [i for i in range(nd) if i not in axes]
        s = svdvals(_base.transpose(x, rest + [row, col]))
        m, n = _shape(x)[row], _shape(x)[col]
        out = _R.sum(s, axis=-1) if ord == "nuc" else _extreme_singular(s, m, n, ord == 2)
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    return _keep(out, _shape(x), axes, keepdims)


def _max0(a, axes, keepdims=False):
    """NumPy's ``a.max(axis=axes, initial=0)`` of an ``a >= 0``: 0 over no entries (the
    sum, a zero that is a function of ``a``; ``max`` refuses an empty reduction)."""
    if any(_shape(a)[ax] == 0 for ax in axes):
        return _R.sum(a, axis=axes, keepdims=keepdims)
    return _R.max(a, axis=axes, keepdims=keepdims)


def _extreme_singular(s, m, n, largest):
    """The largest (or smallest) of the descending singular values ``s`` (..., k) of
    (m, n) matrices, LAPACK's value, with the derivative split evenly over the values within
    svd's tolerance ``max(m, n) eps s_max`` of it (svd's clusters: a repeated singular value
    comes out of LAPACK a few ulps apart, where an exact comparison would give the whole
    derivative to one vector pair, in LAPACK's basis, not the even split of a tie)."""
    v = _lower(s)
    k = v.shape[-1]
    ext = v[..., :1] if largest else v[..., k - 1:]
    if k == 0:       # (no singular value: NumPy's max(..., initial=0) is 0, min refuses)
        return _max0(s, (-1,)) if largest else _R.min(s, axis=-1)
    xp = _base.xp_of(v)
    tol = v[..., :1] * (max(m, n) * _np.finfo(v.dtype).eps)
    hit = xp.abs(v - ext) <= tol
    w = (hit / xp.maximum(xp.sum(hit, axis=-1, keepdims=True), 1)).astype(v.dtype)
    mean = _R.sum(_E.multiply(s, w), axis=-1)
    # + (extremum - mean), a constant formed exactly (the two within a few ulps): the value
    # is LAPACK's extremum, bit for bit; the derivative the cluster's mean's
    return _E.add(mean, ext[..., 0] - _lower(mean))


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """Vector norm over ``axis`` (an int, a tuple of axes taken together as one vector, or
    None: all entries), like ``numpy.linalg.vector_norm`` (NumPy 2): ord 2, 1, inf, -inf, 0
    or any p, with the conventions of ``norm`` (gradient 0 where the 2-norm is 0).

    Example::

        >>> gnp.linalg.vector_norm(np.array([[3.0], [4.0]]))
        np.float64(5.0)
    """
    (x,), _ = _prepare(x)
    nd = len(_shape(x))
    axes = _normalize_axis(axis, nd)
    if axis is None and keepdims is False:
        x, axes = _base.reshape(x, (int(_np.prod(_shape(x), dtype=_np.int64)),)), (0,)
    return _vector_norm(x, ord, axes, keepdims)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """Matrix norm of the last two axes, like ``numpy.linalg.matrix_norm`` (NumPy 2):
    ord 'fro', 'nuc', 1, -1, 2, -2, inf, -inf, with the conventions of ``norm``.

    Example::

        >>> gnp.linalg.matrix_norm(np.eye(2) * 3.0, ord="nuc")
        np.float64(6.0)
    """
    x = _matrix(x, "matrix_norm")
    nd = len(_shape(x))
    return _matrix_norm(x, "fro" if ord == "f" else ord, (nd - 2, nd - 1), keepdims)


def cond(x, p=None):
    """Condition number of ``x`` (..., m, n), like ``numpy.linalg.cond``: for p None, 2,
    -2 the ratio of the largest to the smallest singular value (or its inverse), through
    ``svdvals``; for p 1, -1, inf, -inf, 'fro', 'nuc' (square x) ``norm(x, p) *
    norm(inv(x), p)``. Derivatives by the chain rule through those. At a singular ``x``
    the value is inf (p None/+-2, as NumPy) and there is no derivative: it comes out
    inf/NaN; for the other p, inv raises LinAlgError naming it on the CPU (NumPy returns
    inf).

    Example::

        >>> gnp.linalg.cond(np.diag([1.0, 4.0]))
        np.float64(4.0)
    """
    x = _matrix(x, "cond")
    if 0 in _shape(x)[-2:]:
        raise LinAlgError("cond is not defined on empty arrays (NumPy's error)")
    if p in (None, 2, -2):
        s = svdvals(x)
        m, n = _shape(x)[-2:]
        big, small = _extreme_singular(s, m, n, True), _extreme_singular(s, m, n, False)
        return _E.divide(small, big) if p == -2 else _E.divide(big, small)
    x = _square(x, "cond")
    nd = len(_shape(x))
    return _E.multiply(norm(x, p, axis=(nd - 2, nd - 1)),
                       norm(inv(x), p, axis=(nd - 2, nd - 1)))


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """Rank of ``A`` (..., m, n) by the SVD, like ``numpy.linalg.matrix_rank``: the number of
    singular values above ``tol`` (default ``rtol * s_max`` with ``rtol = max(m, n) *
    eps``). An integer: not differentiable (traced arguments are read as values).

    Example::

        >>> gnp.linalg.matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]]))
        np.int64(1)
    """
    v = _lower(A)
    xp = _base.xp_of(v)
    v = xp.asarray(v)
    if v.ndim < 2:
        return int(not bool(xp.all(v == 0)))
    if hermitian:
        s = xp.abs(xp.linalg.eigvalsh(v))
    else:
        s = xp.linalg.svd(v, compute_uv=False)
    if tol is None:
        if rtol is None:
            rtol = max(v.shape[-2:]) * _np.finfo(s.dtype).eps
        tol = (s.max(axis=-1, keepdims=True) if s.shape[-1] else 0) * xp.asarray(rtol)[..., None]
    else:
        tol = xp.asarray(tol)[..., None]
    return xp.count_nonzero(s > tol, axis=-1)


# ------------------------------------------------------------------ products

def matrix_power(a, n):
    """``a`` (..., m, m) raised to the integer power ``n``, like
    ``numpy.linalg.matrix_power``: repeated squaring with ``matmul`` (n > 0), the identity
    (n = 0, a constant), ``inv(a)`` to the power ``-n`` (n < 0; LinAlgError naming inv at a
    singular a). Derivatives through the products (and inv).

    Example::

        >>> gnp.linalg.matrix_power(np.array([[1.0, 1.0], [0.0, 1.0]]), 3)
        array([[1., 3.],
               [0., 1.]])
    """
    a = _square(a, "matrix_power")
    try:
        n = _operator.index(n)
    except TypeError:
        raise TypeError("matrix_power: exponent must be an integer") from None
    if n == 0:
        xp = _base.xp_of(a)
        m = _shape(a)[-1]
        return xp.broadcast_to(xp.eye(m, dtype=a.dtype), tuple(_shape(a))).copy()
    if n < 0:
        a, n = inv(a), -n
    z = result = None
    while n > 0:
        z = a if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


def multi_dot(arrays, *, out=None):
    """The product of two or more matrices in the cheapest order, like
    ``numpy.linalg.multi_dot``: the first may be 1-D (a row), the last 1-D (a column), the
    others 2-D; the order comes from the matrix-chain dynamic program (Cormen et al.), as
    NumPy's. Derivatives through ``matmul``. ``out`` is not supported (TypeError).

    Example::

        >>> gnp.linalg.multi_dot([np.ones(2), np.eye(2), np.ones((2, 3))])
        array([2., 2., 2.])
    """
    if out is not None:
        raise TypeError("multi_dot: out= is not supported (gpuad results are new arrays)")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("multi_dot: expecting at least two arrays")
    ops, _ = _prepare(*arrays)
    ops = list(ops)
    first, last = len(_shape(ops[0])), len(_shape(ops[-1]))
    if len(ops) == 2:
        return _P.dot(ops[0], ops[1])
    if first == 1:
        ops[0] = _base.reshape(ops[0], (1,) + tuple(_shape(ops[0])))
    if last == 1:
        ops[-1] = _base.reshape(ops[-1], tuple(_shape(ops[-1])) + (1,))
    for i, o in enumerate(ops):
        if len(_shape(o)) != 2:
            raise LinAlgError(f"multi_dot: array {i} is {len(_shape(o))}-dimensional; arrays "
                              "must be two-dimensional (the first and last may be 1-D)")
    dims = [_shape(ops[0])[0]] + [_shape(o)[1] for o in ops]
    order = _chain_order(dims)
    result = _chain(ops, order, 0, len(ops) - 1)
    if first == 1 and last == 1:
        return _base.reshape(result, ())
    if first == 1 or last == 1:
        return _base.reshape(result, (int(_np.prod(_shape(result))),))
    return result


def _chain_order(p):
    """s[i][j]: where to split the product of matrices i..j (p[i] x p[i+1] each) so that
    the number of scalar multiplications is least (the textbook O(n^3) program)."""
    n = len(p) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(ops, split, i, j):
    if i == j:
        return ops[i]
    k = split[i][j]
    return matmul(_chain(ops, split, i, k), _chain(ops, split, k + 1, j))


def matmul(x1, x2, /):
    """``numpy.linalg.matmul`` (NumPy 2): the same as ``gpuad.numpy.matmul``.

    Example::

        >>> gnp.linalg.matmul(np.eye(2), np.ones(2))
        array([1., 1.])
    """
    return _P.matmul(x1, x2)


def outer(x1, x2, /):
    """``numpy.linalg.outer`` (NumPy 2): the outer product of two 1-D arrays,
    ``out[i, j] = x1[i] x2[j]`` (ValueError otherwise).

    Example::

        >>> gnp.linalg.outer(np.array([1.0, 2.0]), np.array([3.0]))
        array([[3.],
               [6.]])
    """
    (x1, x2), _ = _prepare(x1, x2)
    if len(_shape(x1)) != 1 or len(_shape(x2)) != 1:
        raise ValueError(f"outer: x1 and x2 must be 1-dimensional, not {len(_shape(x1))}- "
                         f"and {len(_shape(x2))}-dimensional")
    return _P.outer(x1, x2)


def tensordot(x1, x2, /, *, axes=2):
    """``numpy.linalg.tensordot`` (NumPy 2): ``gpuad.numpy.tensordot`` with keyword axes.

    Example::

        >>> gnp.linalg.tensordot(np.ones((2, 3)), np.ones((3, 2)), axes=1)
        array([[3., 3.],
               [3., 3.]])
    """
    return _P.tensordot(x1, x2, axes=axes)


def trace(x, /, *, offset=0, dtype=None):
    """``numpy.linalg.trace`` (NumPy 2): the sum of the ``offset`` diagonal of the last two
    axes; linear.

    Example::

        >>> gnp.linalg.trace(np.eye(3))
        np.float64(3.0)
    """
    return _P.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


def diagonal(x, /, *, offset=0):
    """``numpy.linalg.diagonal`` (NumPy 2): the ``offset`` diagonal of the last two axes.

    Example::

        >>> gnp.linalg.diagonal(np.arange(4.0).reshape(2, 2))
        array([0., 3.])
    """
    return _S.diagonal(x, offset, -2, -1)


def matrix_transpose(x, /):
    """``numpy.linalg.matrix_transpose`` (NumPy 2): swap the last two axes (a view).

    Example::

        >>> gnp.linalg.matrix_transpose(np.ones((2, 3))).shape
        (3, 2)
    """
    x = _matrix(x, "matrix_transpose")
    return _LA.mT(x)


def vecdot(x1, x2, /, *, axis=-1):
    """``numpy.linalg.vecdot`` (NumPy 2): ``sum(x1 * x2, axis)`` with broadcasting (real
    arrays: no conjugation), as ``gpuad.numpy.vecdot``.

    Example::

        >>> gnp.linalg.vecdot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        np.float64(11.0)
    """
    return _P.vecdot(x1, x2, axis=axis)


def cross(x1, x2, /, *, axis=-1):
    """``numpy.linalg.cross`` (NumPy 2): the cross product of 3-vectors along ``axis``
    (other axes broadcast), ``(a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0)``, as
    ``gpuad.numpy.cross`` but for 3-vectors only (ValueError otherwise); bilinear.

    Example::

        >>> gnp.linalg.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
        array([0., 0., 1.])
    """
    (x1, x2), _ = _prepare(x1, x2)
    for k, x in enumerate((x1, x2)):
        if not len(_shape(x)) or _shape(x)[axis] != 3:
            raise ValueError(f"cross: x{k + 1} of shape {tuple(_shape(x))} has no axis "
                             f"{axis} of length 3")
    return _P.cross(x1, x2, axis=axis)


for _name in __all__:
    if _name not in ("LinAlgError", "eig", "eigvals"):
        # NumPy's scalars for 0-d results; integer and boolean inputs without traced
        # values are numpy.linalg's own (matmul, outer, matrix_power of ints stay ints)
        globals()[_name] = _numpy_semantics(_name, globals()[_name], _np.linalg)
del _name
