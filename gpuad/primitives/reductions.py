"""Reductions and scans beyond ``reduce_sum``: library calls (CUB on a GPU, NumPy on the CPU)
whose rules are written with other primitives.

``reduce_max``   max or min over axes; ties share the derivative evenly
``reduce_prod``  product over axes; differentiated as a tree of multiplies (zero-safe)
``cumsum``       (reversed) running sum; linear, its transpose runs the other way
``sort``         differentiated as a gather by the sorting permutation
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive, bind, register, shape, dtype, full_lower
from .base import xp_of, record_library, reduce_sum, reshape, transpose, deflinear
from .elementwise import multiply
from .indexing import ARRAY, getitem


def _kept(xshape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(xshape))


# ------------------------------------------------------------------ max and min

def _xp_reduce(x, axes, name):
    xp = xp_of(x)
    out = xp.asarray(getattr(xp, name)(x, axis=axes))
    record_library(f"xp.{name}", out, x)
    return out


def _reduce(prim, x, axes, **params):
    axes = tuple(sorted(axes))
    return bind(prim, x, axes=axes, **params) if axes else x


def _tie_weights(x, out, axes):
    """1/k on the k entries equal to the extremum, 0 elsewhere: ties share the derivative
    (in a slice holding NaN, its k NaN entries).

    The weights are piecewise constant in x, so they are computed on the values (constants
    of every trace): the derivative of a max is the weighted sum of its arguments' ones."""
    x, out = full_lower(x), full_lower(out)
    xp = xp_of(x)
    out = xp.reshape(out, _kept(x.shape, axes))
    hit = x == out
    if x.dtype.kind in "fc":
        # A slice holding NaN has the extremum NaN, equal to no entry: its NaN entries are
        # the ones that give the value (as median's and sort's gather), so they share the
        # derivative; else the weights would be 0/0 = NaN on the whole slice, even where
        # its cotangent is 0.
        hit = hit | (xp.isnan(x) & xp.isnan(out))
    w = (hit / xp.sum(hit, axis=axes, keepdims=True)).astype(x.dtype)
    record_library("xp.tie_weights", w, x, out)
    return w


def _max_jvp(primals, tangents, axes, name):
    (x,), (t,) = primals, tangents
    out = reduce_max(x, axes, name)
    return out, reduce_sum(multiply(t, _tie_weights(x, out, axes)), tuple(a + 1 for a in axes))


def _max_vjp(g, ins, out, axes, name):
    x = ins[0]
    return (multiply(reshape(g, _kept(shape(x), axes)), _tie_weights(x, out, axes)),)


reduce_max_p = register(Primitive(
    "reduce_max", _xp_reduce, jvp=_max_jvp, vjp=_max_vjp, saves="both",
    doc="max (name='max') or min (name='min') over `axes`; tied entries share the derivative"))


def reduce_max(x, axes, name="max"):
    return _reduce(reduce_max_p, x, axes, name=name)


# ------------------------------------------------------------------ product

def _prod_decompose(x, axes, name):
    # A product is a tree of multiplies: every derivative of it (all orders, zeros included)
    # comes from the multiply rules, where a rule dividing by x would fail at x = 0.
    xs = tuple(shape(x))
    rest = tuple(i for i in range(len(xs)) if i not in axes)
    x = transpose(x, axes + rest)
    n = int(np.prod([xs[i] for i in axes], dtype=np.int64))
    out_shape = tuple(xs[i] for i in rest)
    if n == 0:
        return xp_of(x).ones(out_shape, dtype=dtype(x))
    return reshape(_tree_prod(reshape(x, (n,) + out_shape)), out_shape)


def _tree_prod(x):
    """Product over axis 0 of x (n, ...) -> (1, ...), in ~2 log2(n) multiplies."""
    n = shape(x)[0]
    if n == 1:
        return x

    def rows(lo, hi):
        return getitem(x, (), (slice(lo, hi),))
    h = n // 2
    out = _tree_prod(multiply(rows(0, h), rows(h, 2 * h)))
    return multiply(out, rows(n - 1, n)) if n % 2 else out


reduce_prod_p = register(Primitive(
    "reduce_prod", _xp_reduce, decompose=_prod_decompose,
    doc="product over `axes`; differentiated through its multiply-tree decomposition"))


def reduce_prod(x, axes):
    return _reduce(reduce_prod_p, x, axes, name="prod")


# ------------------------------------------------------------------ cumulative sum

def _cumsum_impl(x, axis, reverse):
    xp = xp_of(x)
    if reverse:
        out = xp.flip(xp.cumsum(xp.flip(x, axis), axis=axis), axis)
    else:
        out = xp.cumsum(x, axis=axis)
    record_library("xp.cumsum", out, x)
    return out


cumsum_p = register(deflinear(Primitive(
    "cumsum", _cumsum_impl, saves="none",
    doc="running sum along `axis` (from the end if `reverse`)"),
    lanes=lambda t, axis, reverse: cumsum(t, axis + 1, reverse),
    # The transpose of a running sum is the running sum taken from the other end.
    transpose=lambda g, ins, out, axis, reverse: (cumsum(g, axis, not reverse),)))


def cumsum(x, axis, reverse=False):
    return bind(cumsum_p, x, axis=axis, reverse=reverse)


# ------------------------------------------------------------------ sort

def _sort_impl(x, axis):
    xp = xp_of(x)
    out = xp.sort(x, axis=axis)
    record_library("xp.sort", out, x)
    return out


def argsort(x, axis):
    """Sorting permutation of the values of ``x`` (not differentiable)."""
    x = full_lower(x)
    xp = xp_of(x)
    idx = xp.argsort(x, axis=axis)
    record_library("xp.argsort", idx, x)
    return idx


def _sort_decompose(x, axis):
    idx = argsort(x, axis)
    xp = xp_of(idx)
    nd = idx.ndim
    # take_along_axis: the permutation on `axis`, an open mesh on the other axes.
    mesh = tuple(idx if k == axis else
                 xp.arange(n).reshape((1,) * k + (n,) + (1,) * (nd - k - 1))
                 for k, n in enumerate(idx.shape))
    return getitem(x, mesh, (ARRAY,) * nd)


sort_p = register(Primitive(
    "sort", _sort_impl, decompose=_sort_decompose,
    doc="sort along `axis`; differentiated as a gather by the sorting permutation"))


def sort(x, axis):
    return bind(sort_p, x, axis=axis)
