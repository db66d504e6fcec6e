"""Reductions of gpuad.numpy (library reductions: CUB on a GPU, NumPy on the CPU)."""
from __future__ import annotations

from ..primitives import base
from ._core import prepare, normalize_axis, shape

__all__ = ["sum", "mean"]


def _keep(out, x_shape, axes, keepdims):
    if not keepdims:
        return out
    return base.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x_shape)))


def sum(a, axis=None, dtype=None, keepdims=False):
    """Sum over ``axis`` (int, tuple or None), like ``numpy.sum``. Linear: its VJP
    broadcasts the cotangent back, its JVP sums the tangent lanes.

    Example::

        >>> gpuad.grad(lambda x: gnp.sum(x ** 2))(np.array([1.0, 2.0]))
        array([2., 4.])
    """
    (a,), _ = prepare(a)
    if dtype is not None:
        a = base.astype(a, dtype)
    axes = normalize_axis(axis, len(shape(a)))
    return _keep(base.reduce_sum(a, axes), shape(a), axes, keepdims)


def mean(a, axis=None, dtype=None, keepdims=False):
    """Arithmetic mean over ``axis``, like ``numpy.mean``."""
    (a,), _ = prepare(a)
    axes = normalize_axis(axis, len(shape(a)))
    n = 1
    for i in axes:
        n *= shape(a)[i]
    s = sum(a, axis=axes, dtype=dtype, keepdims=keepdims)
    from ._elementwise import divide
    return divide(s, float(n))
