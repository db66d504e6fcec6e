"""Indexing of gpuad.numpy: ``x[idx]`` with NumPy's basic and advanced semantics, and the
functions built on it (take, take_along_axis)."""
from __future__ import annotations

import operator

import numpy as np

from ..primitives import base, indexing as I
from ._core import prepare, normalize_axis, shape, lower

__all__ = ["take", "take_along_axis"]


def _index_array(i, xp):
    a = lower(i)
    if isinstance(a, list) and not a:
        return xp.asarray(a, dtype=np.intp)    # NumPy reads an empty list as an int index
    a = xp.asarray(a)
    if a.dtype.kind not in "biu":
        raise IndexError("arrays used as indices must be of integer (or boolean) type")
    return a


def _bool_arrays(mask, xshape, dim):
    """The ``nonzero`` arrays of a boolean mask covering ``xshape[dim:dim + mask.ndim]``."""
    if mask.ndim == 0:
        raise NotImplementedError("gpuad.numpy does not support a 0-d boolean index")
    for k, n in enumerate(mask.shape):
        if dim + k >= len(xshape):
            raise IndexError(f"too many indices for array: array is {len(xshape)}-dimensional")
        if xshape[dim + k] != n:
            raise IndexError(f"boolean index did not match indexed array along axis {dim + k}; "
                             f"size of axis is {xshape[dim + k]} but size of corresponding "
                             f"boolean axis is {n}")
    return tuple(mask.nonzero())


def normalize_index(idx, xshape, xp):
    """A NumPy index as ``(template, arrays)`` for gpuad.primitives.indexing.

    Ints and slices become plain Python values, lists and arrays integer arrays on ``xp``,
    a boolean mask its ``nonzero()`` arrays (NumPy defines ``x[mask]`` as exactly that).
    """
    if not isinstance(idx, tuple):
        idx = (idx,)
    items = []
    for i in idx:
        if i is None or i is Ellipsis:
            items.append(i)
        elif isinstance(i, slice):
            items.append(slice(*(None if v is None else operator.index(v)
                                 for v in (i.start, i.stop, i.step))))
        elif isinstance(i, (bool, np.bool_)):
            raise NotImplementedError("gpuad.numpy does not support a 0-d boolean index")
        elif isinstance(i, (int, np.integer)):
            items.append(int(i))
        else:
            items.append(_index_array(i, xp))
    width = sum(0 if i is None or i is Ellipsis else
                i.ndim if getattr(i, "dtype", None) == bool else 1 for i in items)
    if sum(i is Ellipsis for i in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    template, arrays, dim = [], [], 0
    for i in items:
        if i is Ellipsis:
            dim += len(xshape) - width
            template.append(i)
        elif i is None:
            template.append(i)
        elif isinstance(i, (int, slice)):
            dim += 1
            template.append(i)
        elif i.dtype == bool:
            parts = _bool_arrays(i, xshape, dim)
            dim += i.ndim
            template += [I.ARRAY] * len(parts)
            arrays += parts
        else:
            dim += 1
            template.append(I.ARRAY)
            arrays.append(i)
    return tuple(template), arrays


def _getitem(x, idx):
    """``x[idx]`` exactly as NumPy indexes (the operator of traced arrays).

    Basic indexing (ints, slices with any step, ``None``, ``...``) is a view whose VJP adds
    the cotangent into zeros at the same index; advanced indexing (integer arrays, boolean
    masks, and their combinations, with NumPy's placement of the broadcast index dimensions)
    is a gather whose VJP is a scatter-add, so repeated indices accumulate:
    ``d/dx sum(x[[0, 0]]) = [2, 0, ...]``.

    Example::

        >>> gpuad.grad(lambda x: gnp.sum(x[np.array([0, 0, 2])]))(np.zeros(3))
        array([2., 0., 1.])
    """
    (x,), xp = prepare(x)
    template, arrays = normalize_index(idx, tuple(shape(x)), xp)
    return I.getitem(x, arrays, template)


def take(a, indices, axis=None, mode="raise"):
    """``numpy.take``: ``out[..., j, ...] = a[..., indices[j], ...]`` along ``axis`` (the
    flattened array for ``axis=None``). Its VJP scatter-adds, so repeats accumulate.
    ``mode`` as NumPy's: 'raise' (an index out of range is an IndexError), 'wrap' (indices
    modulo the length), 'clip' (clipped to the range; negative indices too).

    Example::

        >>> gnp.take(np.array([1.0, 2.0, 3.0]), [2, 0])
        array([3., 1.])
    """
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"gpuad.numpy.take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    (a,), xp = prepare(a)
    if axis is None:
        a, axis = base.reshape(a, (-1,)), 0
    (axis,) = normalize_axis(axis, len(shape(a)))
    idx = _index_array(indices, xp)
    n = shape(a)[axis]
    if mode != "raise":
        if n == 0 and idx.size:
            raise IndexError("cannot do a non-empty take from an empty axes.")
        idx = idx % n if mode == "wrap" else xp.clip(idx, 0, max(n - 1, 0))
    return _getitem(a, (slice(None),) * axis + (idx,))


def take_along_axis(arr, indices, axis):
    """``numpy.take_along_axis``: ``out[i..., j, k...] = arr[i..., indices[i..., j, k...],
    k...]``; ``indices`` has ``arr``'s number of dimensions (broadcast against it).

    Example::

        >>> x = np.array([[1.0, 5.0], [4.0, 2.0]])
        >>> gnp.take_along_axis(x, np.argsort(x, axis=1), axis=1)
        array([[1., 5.],
               [2., 4.]])
    """
    (arr,), xp = prepare(arr)
    ind = _index_array(indices, xp)
    if axis is None:
        arr, axis = base.reshape(arr, (-1,)), 0
    nd = len(shape(arr))
    if ind.ndim != nd:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    (axis,) = normalize_axis(axis, nd)
    # An open mesh over the other axes, so all indices are arrays and broadcast together.
    idx = tuple(ind if k == axis else
                xp.arange(n).reshape((1,) * k + (n,) + (1,) * (nd - k - 1))
                for k, n in enumerate(shape(arr)))
    return _getitem(arr, idx)
