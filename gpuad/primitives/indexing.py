"""Indexing and joining: NumPy indexing (getitem), its transpose (scatter-add into zeros) and
concatenate. All three are linear: a JVP applies the op to the tangent, a VJP is the
transpose (getitem <-> scatter_add, concatenate -> getitem of slices).

An index is split into a *template*, a tuple of ints, slices, None, Ellipsis and ``ARRAY``
placeholders (params), and the integer index arrays it holds (extra, non-differentiated
arguments, like select's mask). Boolean masks arrive already replaced by their ``nonzero``
arrays (gpuad.numpy._indexing). Whether an index holds arrays picks one of two registry
entries only because their VJPs save different things: nothing, or the index arrays.
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive, bind, register, shape, dtype
from .base import xp_of, on_device, record_library, transpose, deflinear

ARRAY = "array"     # a template's placeholder for the next index array (never a valid index)


def fill(idx, arrays):
    """The index ``xp`` understands: the template with its placeholders filled in order."""
    it = iter(arrays)
    return tuple(next(it) if isinstance(i, str) else i for i in idx)


def lane_axis(idx, arrays):
    """Where the lane axis lands when a tangent is indexed with ``(slice(None),) + idx``.

    NumPy puts the dimensions of advanced indices (arrays, and ints beside them) in place of
    the first one when they are adjacent, else in front: then in front of the lanes too.
    """
    if not arrays:
        return 0
    pos = [k for k, i in enumerate(idx) if isinstance(i, (str, int))]
    if pos[-1] - pos[0] == len(pos) - 1:
        return 0
    return len(np.broadcast_shapes(*(tuple(shape(a)) for a in arrays)))


def _move(t, src, dst):
    if src == dst:
        return t
    axes = [a for a in range(len(shape(t))) if a != src]
    axes.insert(dst, src)
    return transpose(t, axes)


# ------------------------------------------------------------------ getitem

def _getitem_impl(x, *arrays, idx):
    xp = xp_of(x)
    out = xp.asarray(x[fill(idx, arrays)])   # asarray: an all-int index gives a scalar
    if arrays:
        record_library("xp.getitem", out, x, *arrays)
    return out


def _getitem_lanes(t, *arrays, idx):
    lanes = getitem(t, arrays, (slice(None),) + idx)
    return _move(lanes, lane_axis(idx, arrays), 0)


def _getitem_vjp(g, ins, out, need, acc, idx):
    # Takes acc: the cotangent is a fresh scatter (or acc itself, added into).
    x, *arrays = ins
    return (scatter_add(g, arrays, idx, shape(x), acc=acc[0]),) + (None,) * len(arrays)


def _getitem(name, saves, doc):
    return register(deflinear(Primitive(name, _getitem_impl, saves=saves, doc=doc),
                              _getitem_lanes, _getitem_vjp))


getitem_p = _getitem("getitem", "none",
                     "x[idx] for a basic index (ints, slices, None, Ellipsis): a view")
gather_p = _getitem("gather", "ins",
                    "x[idx] for an index holding integer arrays (NumPy advanced indexing): a copy")


def getitem(x, arrays, idx):
    arrays = tuple(arrays)
    return bind(gather_p if arrays else getitem_p, x, *arrays, idx=tuple(idx))


# ------------------------------------------------------------------ scatter_add

def _scatter_impl(g, *arrays, idx, out_shape, acc=None):
    xp = xp_of(g)
    out = acc
    if out is None:
        out = xp.zeros(out_shape, dtype=dtype(g))
    where = fill(idx, arrays)
    if not arrays:
        out[where] += g          # a basic index selects each element at most once
    else:
        xp.add.at(out, where, g)   # repeated indices add up (cupy.add.at on a GPU)
    record_library("xp.scatter_add", out, g, *arrays)
    return out


def _scatter_lanes(t, *arrays, idx, out_shape):
    return scatter_add(_move(t, 0, lane_axis(idx, arrays)), arrays, (slice(None),) + idx,
                       (shape(t)[0],) + out_shape)


def _scatter_transpose(g, ins, out, idx, out_shape):
    _, *arrays = ins
    return (getitem(g, arrays, idx),) + (None,) * len(arrays)


scatter_p = register(deflinear(Primitive(
    "scatter", _scatter_impl, saves="none",
    doc="zeros(shape) with g added at a basic index: the transpose of getitem"),
    _scatter_lanes, _scatter_transpose))
scatter_add_p = register(deflinear(Primitive(
    "scatter_add", _scatter_impl, saves="ins",
    doc="zeros(shape) with g added at an advanced index (repeats add up): the transpose "
        "of gather; numpy.add.at / cupy.add.at"),
    _scatter_lanes, _scatter_transpose))


def scatter_add(g, arrays, idx, shape_, acc=None):
    arrays = tuple(arrays)
    return bind(scatter_add_p if arrays else scatter_p, g, *arrays, idx=tuple(idx),
                out_shape=tuple(shape_), acc=acc)


# ------------------------------------------------------------------ concatenate

def _concat_impl(*xs, axis):
    xp = xp_of(*xs)
    out = xp.concatenate(on_device(xp, xs), axis=axis)
    record_library("xp.concatenate", out, *xs)
    return out


def _concat_transpose(g, ins, out, axis):
    gxs, start = [], 0
    for x in ins:
        stop = start + shape(x)[axis]
        gxs.append(getitem(g, (), (slice(None),) * axis + (slice(start, stop),)))
        start = stop
    return gxs


concatenate_p = register(deflinear(Primitive(
    "concatenate", _concat_impl, saves="none",
    doc="join arrays of one dtype along an existing axis"),
    lambda *ts, axis: concatenate(ts, axis + 1), _concat_transpose, n=None))


def concatenate(xs, axis):
    xs = tuple(xs)
    if len(xs) == 1:
        return xs[0]
    return bind(concatenate_p, *xs, axis=axis)
