"""gpuad.numpy.linalg: differentiable counterparts of ``numpy.linalg`` (cuSOLVER on a GPU,
LAPACK on the CPU). Matrices are the last two axes; leading axes are batches."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..core import full_lower
from ..primitives import base, linalg as LA
from ._core import prepare, shape
from . import _elementwise as E, _reductions as R

__all__ = ["norm", "solve", "inv", "det", "slogdet", "cholesky", "LinAlgError"]

LinAlgError = np.linalg.LinAlgError
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def _square(a, what):
    (a,), _ = prepare(a)
    s = tuple(shape(a))
    if len(s) < 2:
        raise LinAlgError(f"{what}: {len(s)}-dimensional array given; the array must be at "
                          "least two-dimensional")
    if s[-1] != s[-2]:
        raise LinAlgError(f"{what}: last 2 dimensions of the array (shape {s}) must be square")
    return a


def solve(a, b):
    """The solution ``x`` of ``a x = b``, like ``numpy.linalg.solve`` (``b`` is a vector only
    when it is 1-D; batches broadcast).

    ``dx = a^-1 (db - da x)``; cotangents ``gb = a^-T g`` and ``ga = -gb x^T``.

    Example::

        >>> a, b = np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0])
        >>> gnp.linalg.solve(a, b), gpuad.grad(lambda b: gnp.sum(gnp.linalg.solve(a, b)))(b)
        (array([0.5 , 0.25]), array([0.5 , 0.25]))
    """
    a = _square(a, "solve")
    (a, b), _ = prepare(a, b)
    sa, sb = tuple(shape(a)), tuple(shape(b))
    vector = len(sb) == 1
    if vector:
        b = base.reshape(b, sb + (1,))
    if shape(b)[-2] != sa[-1]:
        raise ValueError(f"solve: a of shape {sa} and b of shape {sb} do not match "
                         f"({sa[-1]} unknowns, {shape(b)[-2]} equations in b)")
    x = LA.solve(a, b)
    return base.reshape(x, tuple(shape(x))[:-1]) if vector else x


def inv(a):
    """Matrix inverse, like ``numpy.linalg.inv``.

    ``d(a^-1) = -a^-1 da a^-1``; cotangent ``-a^-T g a^-T``.

    Example::

        >>> gnp.linalg.inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
        array([[0.5 , 0.  ],
               [0.  , 0.25]])
    """
    return LA.inv(_square(a, "inv"))


def det(a):
    """Determinant, like ``numpy.linalg.det``.

    ``d det(a) = det(a) trace(a^-1 da)``; cotangent ``g det(a) a^-T``. The rules use the
    inverse, so they need an invertible ``a`` (at a singular one they give inf/NaN).

    Example::

        >>> gpuad.grad(gnp.linalg.det)(np.array([[2.0, 1.0], [0.0, 3.0]]))
        array([[ 3.,  0.],
               [-1.,  2.]])
    """
    return LA.det(_square(a, "det"))


def slogdet(a):
    """``(sign, logabsdet)`` with ``det(a) = sign * exp(logabsdet)``, like
    ``numpy.linalg.slogdet``; only ``logabsdet`` is differentiable
    (``d logabsdet = trace(a^-1 da)``, cotangent ``g a^-T``); the sign is piecewise constant.

    Example::

        >>> sign, logdet = gnp.linalg.slogdet(np.array([[-2.0, 0.0], [0.0, 3.0]]))
        >>> sign, logdet
        (array(-1.), array(1.79175947))
    """
    sign, logabsdet = LA.slogdet(_square(a, "slogdet"))
    return SlogdetResult(sign, logabsdet)


def cholesky(a):
    """Lower Cholesky factor ``L`` with ``a = L L^T``, like ``numpy.linalg.cholesky``, for
    symmetric positive definite ``a``.

    The input is symmetrized, ``(a + a^T) / 2``, so the derivative is taken over symmetric
    perturbations and the gradient is symmetric. ``dL = L phi(L^-1 da L^-T)`` with ``phi``
    the lower triangle with a halved diagonal; the VJP is Murray's (2016)
    ``L^-T phi(L^T g) L^-1``, symmetrized.

    Example::

        >>> gnp.linalg.cholesky(np.array([[4.0, 2.0], [2.0, 2.0]]))
        array([[2., 0.],
               [1., 1.]])
    """
    a = _square(a, "cholesky")
    return LA.cholesky(E.multiply(E.add(a, LA.mT(a)), 0.5))


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector and matrix norms, like ``numpy.linalg.norm``.

    Vectors (``axis`` an int, or a 1-D ``x``): ``ord`` None or 2 gives
    ``sqrt(sum(x**2))``, 1 ``sum(|x|)``, inf ``max(|x|)``, -inf ``min(|x|)``, 0 the count of
    nonzeros (not differentiable), other p ``sum(|x|**p)**(1/p)``. Matrices (``axis`` a
    pair, or a 2-D ``x``): None or 'fro' gives the Frobenius norm, 1 / -1 the largest /
    smallest column sum of ``|x|``, inf / -inf the same for rows; 2, -2 and 'nuc' need an
    SVD and are not supported. ``axis=None`` with ``ord=None`` is the 2-norm of all entries.

    Not differentiable where the norm is 0 (the 2-norm's gradient ``x / norm(x)`` is then
    NaN), nor where ``|x|`` has a kink or max/min ties (there a subgradient is returned).

    Example::

        >>> gpuad.grad(gnp.linalg.norm)(np.array([3.0, 4.0]))
        array([0.6, 0.8])
    """
    (x,), _ = prepare(x)
    nd = len(shape(x))
    if axis is None:
        axis = tuple(range(nd))
        if ord is not None and nd not in (1, 2):
            raise ValueError("norm: improper number of dimensions to norm (give axis)")
        if ord is None:
            return _frob(x, axis, keepdims)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -nd <= a < nd:
            raise np.exceptions.AxisError(f"axis {a} is out of bounds for an array of "
                                          f"dimension {nd}")
    axes = tuple(int(a) % nd for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2 and axes[0] != axes[1]:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"norm: axis {axis} must name one axis (a vector norm) or two distinct "
                     "axes (a matrix norm)")


def _frob(x, axes, keepdims):
    return E.sqrt(R.sum(E.square(x), axis=axes, keepdims=keepdims))


def _vector_norm(x, ord, axis, keepdims):
    if ord is None or ord == 2:
        return _frob(x, (axis,), keepdims)
    if ord == np.inf:
        return R.max(E.abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return R.min(E.abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        v = full_lower(x)
        return (v != 0).sum(axis=axis, keepdims=keepdims).astype(v.dtype)
    if ord == 1:
        return R.sum(E.abs(x), axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    s = R.sum(E.power(E.abs(x), float(ord)), axis=axis, keepdims=keepdims)
    return E.power(s, 1.0 / float(ord))


def _matrix_norm(x, ord, axes, keepdims):
    row, col = axes
    if ord is None or ord == "fro":
        return _frob(x, axes, keepdims)
    if ord in (1, -1, np.inf, -np.inf):
        # 1: max over columns of the column sums of |x|; inf: the same with rows.
        summed, picked = (row, col) if ord in (1, -1) else (col, row)
        pick = R.max if ord > 0 else R.min
        out = pick(R.sum(E.abs(x), axis=summed, keepdims=True), axis=picked, keepdims=True)
        if keepdims:
            return out
        return base.reshape(out, tuple(d for i, d in enumerate(shape(x)) if i not in axes))
    if ord in (2, -2, "nuc"):
        raise NotImplementedError(f"norm: ord={ord!r} needs singular values, which gpuad "
                                  "does not differentiate yet")
    raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
