"""Shape functions of gpuad.numpy (views and copies; linear, so their rules are structural)."""
from __future__ import annotations

import numpy as np

from ..primitives import base
from ._core import prepare, normalize_axis, shape, is_traced, lower

__all__ = ["reshape", "transpose", "swapaxes", "astype", "ravel", "broadcast_to"]


def reshape(a, newshape, order="C"):
    """``numpy.reshape`` (C order)."""
    if order != "C":
        raise NotImplementedError("gpuad.numpy.reshape supports order='C' only")
    (a,), _ = prepare(a)
    if isinstance(newshape, (int, np.integer)):
        newshape = (int(newshape),)
    newshape = tuple(int(d) for d in newshape)
    size = int(np.prod(shape(a), dtype=np.int64))
    if -1 in newshape:
        known = int(np.prod([d for d in newshape if d != -1], dtype=np.int64))
        newshape = tuple(size // known if d == -1 and known else d for d in newshape)
    if int(np.prod(newshape, dtype=np.int64)) != size:
        raise ValueError(f"cannot reshape array of shape {tuple(shape(a))} into shape {newshape}")
    return base.reshape(a, newshape)


def ravel(a):
    return reshape(a, (-1,))


def transpose(a, axes=None):
    """``numpy.transpose``."""
    (a,), _ = prepare(a)
    nd = len(shape(a))
    axes = tuple(reversed(range(nd))) if axes is None else tuple(int(x) % nd for x in axes)
    return base.transpose(a, axes)


def swapaxes(a, axis1, axis2):
    (a,), _ = prepare(a)
    nd = len(shape(a))
    axes = list(range(nd))
    i, j = axis1 % nd, axis2 % nd
    axes[i], axes[j] = axes[j], axes[i]
    return base.transpose(a, tuple(axes))


def astype(a, dtype):
    """Convert to another floating dtype (differentiable); other dtypes cut the gradient."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        return lower(a).astype(dt)
    (a,), _ = prepare(a)
    return base.astype(a, dt)


def broadcast_to(a, shape_):
    (a,), _ = prepare(a)
    shape_ = (shape_,) if isinstance(shape_, int) else tuple(shape_)
    np.broadcast_shapes(tuple(shape(a)), shape_)   # NumPy's error for incompatible shapes
    return base.broadcast_to(a, shape_)
