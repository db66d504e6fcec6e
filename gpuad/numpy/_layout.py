"""NumPy's rearranging functions (insert, delete, block, column_stack, rot90, hsplit, ...)
as gathers: NumPy's own function is applied to integer labels of the inputs' entries, and
the result is read from the inputs by those labels. So the semantics (broadcasting,
shapes, errors) are exactly NumPy's, and the derivative is the gather's (its transpose
scatters the cotangent back, adding where an entry was used twice)."""
from __future__ import annotations

import numpy as np

from ..core import full_lower
from ..primitives import indexing as I
from ..core import Tracer, dtype
from ..primitives import base
from ._core import _dtype_of, prepare, shape, strong, to_operand
from ._shape import (broadcast_to, concatenate, moveaxis, reshape, squeeze, swapaxes,
                     transpose)

__all__ = ["append", "insert", "delete", "block", "column_stack", "row_stack", "dstack",
           "hsplit", "vsplit", "dsplit", "rot90", "flipud", "fliplr", "rollaxis",
           "atleast_3d", "broadcast_arrays", "unstack", "concat", "permute_dims",
           "matrix_transpose", "compress", "extract"]


def _labels(xs):
    ids, start = [], 0
    for x in xs:
        n = int(np.prod(shape(x), dtype=np.int64))
        ids.append(np.arange(start, start + n, dtype=np.int64).reshape(tuple(shape(x))))
        start += n
    return ids


def rearranged(np_fn, arrays):
    """``np_fn(*labels)`` (NumPy's function on integer labels of ``arrays``' entries; it
    returns an array or a list/tuple of arrays) as gathers from ``arrays``."""
    xs, xp = prepare(*map(strong, arrays))
    layout = np_fn(*_labels(xs))
    flat = concatenate([reshape(x, (-1,)) for x in xs]) if len(xs) > 1 else \
        reshape(xs[0], (-1,))

    def read(lab):
        lab = np.asarray(lab)
        if lab.size == 0:
            return reshape(I.getitem(flat, (), (slice(0, 0),)), lab.shape)
        return I.getitem(flat, (xp.asarray(lab),), (I.ARRAY,))
    if isinstance(layout, (list, tuple)):
        return [read(lab) for lab in layout]
    return read(layout)


def append(arr, values, axis=None):
    """``numpy.append``: ``values`` appended to ``arr`` (flattened when ``axis`` is None)."""
    return rearranged(lambda a, v: np.append(a, v, axis=axis), [arr, values])


def insert(arr, obj, values, axis=None):
    """``numpy.insert``: ``values`` inserted before the indices ``obj``; differentiable in
    ``arr`` and ``values`` (``obj`` gives positions only)."""
    obj = full_lower(obj)
    if not isinstance(arr, Tracer) and _dtype_of(arr).kind in "biu":
        # an integer or boolean arr keeps its dtype: NumPy's, the values cast (no derivative)
        arr = full_lower(arr)
        xp = base.xp_of(arr) if hasattr(arr, "shape") else np
        return xp.insert(arr, obj, full_lower(values), axis=axis)
    (arr,), xp = prepare(arr)
    values = to_operand(values, dtype(arr), xp)    # NumPy casts values to arr's dtype
    return rearranged(lambda a, v: np.insert(a, obj, v, axis=axis), [arr, values])


def delete(arr, obj, axis=None):
    """``numpy.delete``: ``arr`` without the entries (sub-arrays) at ``obj``."""
    obj = full_lower(obj)
    return rearranged(lambda a: np.delete(a, obj, axis=axis), [arr])


def _flat(nested):
    """The arrays of a nested list (np.block's argument), and a builder for the labels."""
    leaves = []

    def walk(x):
        if isinstance(x, list):
            return [walk(e) for e in x]
        leaves.append(x)
        return len(leaves) - 1
    return leaves, walk(nested)


def block(arrays):
    """``numpy.block``: an array assembled from nested lists of blocks."""
    leaves, tmpl = _flat(arrays)

    def build(*labels):
        def fill(t):
            return [fill(e) for e in t] if isinstance(t, list) else labels[t]
        return np.block(fill(tmpl))
    return rearranged(build, leaves)


def column_stack(tup):
    """``numpy.column_stack``: 1-d arrays become columns; joined along axis 1."""
    return rearranged(lambda *a: np.column_stack(a), list(tup))


def row_stack(tup):
    """``numpy.row_stack`` (``vstack``): joined along axis 0 as at least 2-d arrays."""
    return rearranged(lambda *a: np.vstack(a), list(tup))


def dstack(tup):
    """``numpy.dstack``: joined along axis 2 as at least 3-d arrays."""
    return rearranged(lambda *a: np.dstack(a), list(tup))


def hsplit(ary, indices_or_sections):
    """``numpy.hsplit``: split along axis 1 (axis 0 for 1-d arrays)."""
    return rearranged(lambda a: np.hsplit(a, indices_or_sections), [ary])


def vsplit(ary, indices_or_sections):
    """``numpy.vsplit``: split along axis 0 (at least 2-d arrays)."""
    return rearranged(lambda a: np.vsplit(a, indices_or_sections), [ary])


def dsplit(ary, indices_or_sections):
    """``numpy.dsplit``: split along axis 2 (at least 3-d arrays)."""
    return rearranged(lambda a: np.dsplit(a, indices_or_sections), [ary])


def rot90(m, k=1, axes=(0, 1)):
    """``numpy.rot90``: rotated by 90 degrees ``k`` times in the plane of ``axes``."""
    return rearranged(lambda a: np.rot90(a, k, axes), [m])


def flipud(m):
    """``numpy.flipud``: reversed along axis 0."""
    return rearranged(np.flipud, [m])


def fliplr(m):
    """``numpy.fliplr``: reversed along axis 1."""
    return rearranged(np.fliplr, [m])


def rollaxis(a, axis, start=0):
    """``numpy.rollaxis``: ``axis`` moved to before ``start``."""
    return rearranged(lambda x: np.rollaxis(x, axis, start), [a])


def compress(condition, a, axis=None):
    """``numpy.compress``: the slices of ``a`` along ``axis`` where ``condition`` holds
    (``condition`` gives positions only)."""
    c = np.asarray(_host(condition))
    return rearranged(lambda x: np.compress(c, x, axis=axis), [a])


def extract(condition, arr):
    """``numpy.extract``: the entries of ``arr`` where ``condition`` holds (flattened)."""
    c = np.asarray(_host(condition))
    return rearranged(lambda x: np.extract(c, x), [arr])


def _host(v):
    v = full_lower(v)
    return v.get() if hasattr(v, "get") else v


def atleast_3d(*arys):
    """``numpy.atleast_3d``: ``()`` -> ``(1, 1, 1)``, ``(n,)`` -> ``(1, n, 1)``, ``(m, n)``
    -> ``(m, n, 1)`` (views); several arrays give a list."""
    out = []
    for a in arys:
        (a,), _ = prepare(a)
        s = tuple(shape(a))
        new = {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s), s)
        out.append(reshape(a, new))
    return out[0] if len(out) == 1 else out


def broadcast_arrays(*args):
    """``numpy.broadcast_arrays``: the arguments broadcast to one shape (views)."""
    xs, _ = prepare(*args)
    s = np.broadcast_shapes(*[tuple(shape(x)) for x in xs])
    return tuple(broadcast_to(x, s) for x in xs)


def unstack(x, /, *, axis=0):
    """``numpy.unstack``: the slices along ``axis``, as a tuple."""
    (x,), _ = prepare(x)
    x = moveaxis(x, axis, 0)
    return tuple(squeeze(I.getitem(x, (), (slice(i, i + 1),)), 0) for i in range(shape(x)[0]))


concat = concatenate


def permute_dims(a, axes=None):
    """``numpy.permute_dims`` (``transpose``)."""
    return transpose(a, axes)


def matrix_transpose(x, /):
    """``numpy.matrix_transpose``: the last two axes swapped."""
    (x,), _ = prepare(x)
    if len(shape(x)) < 2:
        raise ValueError("matrix_transpose needs an array of at least 2 dimensions")
    return swapaxes(x, -1, -2)

