"""Selection in gpuad.numpy: select, piecewise, partition, apply_along_axis, diagflat, and
functional updates ``x.at[idx].set(v)`` (JAX's spelling; gpuad's arrays, like JAX's, are
never written in place). The conditions and indices choose entries; they are not
differentiated."""
from __future__ import annotations

import numpy as np

from ..core import full_lower
from ..primitives import indexing as I
from ..primitives import base
from ._core import dtype, prepare, shape, to_operand
from ._elementwise import maximum, minimum, multiply, where
from ._indexing import _getitem, normalize_index, take_along_axis
from ._shape import astype, broadcast_to, diag, moveaxis, reshape, stack

__all__ = ["select", "piecewise", "partition", "apply_along_axis", "diagflat"]


def _host(v):
    v = full_lower(v)
    return v.get() if hasattr(v, "get") else np.asarray(v)


def select(condlist, choicelist, default=0):
    """``numpy.select``: from ``choicelist[k]`` where ``condlist[k]`` is the first true
    condition, else ``default``; differentiable in the choices and ``default``.

    Example::

        >>> x = np.array([-1.0, 0.5, 2.0])
        >>> gnp.select([x < 0, x < 1], [-x, x ** 2], 1.0)
        array([1.  , 0.25, 1.  ])
    """
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    out = default
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = where(full_lower(c), v, out)
    if not len(condlist):
        (out,), _ = prepare(out)
    return out


def piecewise(x, condlist, funclist, *args, **kw):
    """``numpy.piecewise``: ``funclist[k]`` applied to the entries of ``x`` where
    ``condlist[k]`` holds (the last true condition wins; one extra function is the
    otherwise case; a non-callable is a constant value). Each function sees only its own
    entries (a gather), so it may be undefined elsewhere; the pieces are scattered back.

    Example::

        >>> x = np.array([-2.0, 0.5, 3.0])
        >>> gnp.piecewise(x, [x < 0, x >= 0], [lambda v: -v, lambda v: v ** 2])
        array([2.  , 0.25, 9.  ])
    """
    (x,), xp = prepare(x)
    if not shape(x):                  # 0-d: as the one entry of a 1-d array
        return reshape(piecewise(reshape(x, (1,)), [np.reshape(_host(c), (1,)) for c in
                                                    (condlist if isinstance(condlist, list)
                                                     else [condlist])],
                                 funclist, *args, **kw), ())
    xv = full_lower(x)
    if isinstance(condlist, np.ndarray) and condlist.dtype == bool and condlist.shape == xv.shape:
        condlist = [condlist]
    conds = [np.asarray(_host(c), dtype=bool) for c in condlist]
    if len(funclist) == len(conds) + 1:
        conds.append(~np.any(conds, axis=0) if conds else np.ones(xv.shape, bool))
    elif len(funclist) != len(conds):
        raise ValueError(f"with {len(conds)} condition(s), either {len(conds)} or "
                         f"{len(conds) + 1} functions are expected")
    out = xp.zeros(xv.shape, xv.dtype)
    for c, f in zip(conds, funclist):
        if not c.any():
            continue
        if callable(f):
            pos = tuple(xp.asarray(i) for i in np.nonzero(c))
            vals = f(I.getitem(x, pos, (I.ARRAY,) * len(pos)), *args, **kw)
            (vals,), _ = prepare(vals)
            vals = base.astype(vals, xv.dtype)      # NumPy assigns into zeros_like(x)
            vals = broadcast_to(vals, (len(pos[0]),) if pos else ())
            piece = I.scatter_add(vals, pos, (I.ARRAY,) * len(pos), xv.shape)
        else:
            piece = to_operand(f, xv.dtype, xp)     # (x's dtype, as NumPy's)
        out = where(xp.asarray(c), piece, out)
    return out


def partition(a, kth, axis=-1, kind="introselect", order=None):
    """``numpy.partition``: ``a`` rearranged along ``axis`` so that the ``kth`` entries are
    where a sort would put them, smaller before, larger after. Differentiated as the gather
    by ``argpartition`` of the values (ties: the order it picks).

    Example::

        >>> gnp.partition(np.array([3.0, 1.0, 2.0]), 1)[1]
        np.float64(2.0)
    """
    (a,), xp = prepare(a)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    idx = xp.argpartition(full_lower(a), kth, axis=axis)
    return take_along_axis(a, idx, axis)


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """``numpy.apply_along_axis``: ``func1d`` applied to each 1-d slice of ``arr`` along
    ``axis``; its results (of one shape) replace that axis. Differentiable when ``func1d``
    is written with gpuad.numpy."""
    (arr,), _ = prepare(arr)
    nd = len(shape(arr))
    axis = axis % nd if nd else 0
    a = moveaxis(arr, axis, -1)
    outer = tuple(shape(a))[:-1]
    rows = [func1d(_getitem(a, i), *args, **kwargs) for i in np.ndindex(*outer)]
    if not rows:
        raise ValueError("Cannot apply_along_axis when any iteration dimensions are 0")
    rows = prepare(*rows)[0]
    res = reshape(stack(rows), outer + tuple(shape(rows[0])))
    k = len(shape(rows[0]))
    if k == 0:
        return res
    return moveaxis(res, tuple(range(len(outer), len(outer) + k)),
                    tuple(range(axis, axis + k)))


def diagflat(v, k=0):
    """``numpy.diagflat``: the flattened ``v`` on diagonal ``k`` of a square matrix."""
    (v,), _ = prepare(v)
    return diag(reshape(v, (-1,)), k)


# ------------------------------------------------------------------ x.at[idx]

class _At:
    """``x.at``: ``x.at[idx].set(v)``, ``.add(v)``, ``.multiply(v)``, ``.min(v)``,
    ``.max(v)``, ``.get()`` return a new array (``x`` is not changed), differentiable in
    ``x`` and ``v``, with NumPy's indexing (repeated indices: ``add``, ``multiply``,
    ``min`` and ``max`` apply every occurrence, as ``numpy.add.at`` and JAX do; ``set``
    keeps one value as NumPy's assignment does)."""
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return _AtIndex(self.x, idx)


class _AtIndex:
    __slots__ = ("x", "idx")

    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def _parts(self, v):
        if isinstance(v, (list, tuple)):      # nested sequences of numbers, as NumPy takes
            v = np.asarray(v)
        # the result keeps x's dtype, v cast to it, as NumPy's assignment and ufunc.at (and
        # JAX's .at) do: promoting x to v's dtype returned float64 for a float32 x
        (x,), xp = prepare(self.x, like=(v,))
        (v,), _ = prepare(v, like=(x,))
        xd, vd = np.dtype(dtype(x)), np.dtype(dtype(v))
        if vd != xd:
            if vd.kind == "c" and xd.kind != "c":
                raise TypeError(f"gpuad.numpy .at[...]: a complex value ({vd}) into a real "
                                f"array ({xd}) would drop its imaginary part; pass "
                                "gnp.real(v), or make x complex")
            v = astype(v, xd)
        template, arrays = normalize_index(self.idx, tuple(shape(x)), xp)
        return x, v, xp, template, arrays

    def get(self):
        """``x[idx]``."""
        return _getitem(self.x, self.idx)

    def add(self, v):
        """``x`` with ``v`` added at ``idx`` (repeated indices accumulate)."""
        x, v, xp, template, arrays = self._parts(v)
        sel = tuple(shape(I.getitem(full_lower(x), arrays, template)))
        return x + I.scatter_add(broadcast_to(v, sel), arrays, template, tuple(shape(x)))

    def set(self, v):
        """``x`` with ``idx`` set to ``v`` (the old values there get no derivative)."""
        x, v, xp, template, arrays = self._parts(v)
        xv = full_lower(x)
        hit = xp.zeros(xv.shape, bool)
        hit[I.fill(template, arrays)] = True
        sel = tuple(shape(I.getitem(xv, arrays, template)))
        # Which position's value lands where NumPy's assignment puts it (the last write
        # wins for repeated indices): labels written the same way pick it.
        labels = xp.full(xv.shape, -1, np.int64)
        labels[I.fill(template, arrays)] = xp.arange(int(np.prod(sel, dtype=np.int64)),
                                                     dtype=np.int64).reshape(sel)
        src = labels[hit]
        vflat = reshape(broadcast_to(v, sel), (-1,))
        pos = tuple(xp.asarray(p) for p in np.nonzero(_host(hit)))
        placed = I.scatter_add(I.getitem(vflat, (src,), (I.ARRAY,)), pos,
                               (I.ARRAY,) * len(pos), xv.shape)
        return where(hit, placed, x)

    def _in_turn(self, v, op):
        """``x`` with ``op(x[idx], v)`` at ``idx``, a repeated index applied once per
        occurrence in order, as NumPy's ``ufunc.at`` and JAX's ``.at[]`` do: the k-th
        occurrence of every position in a k-th pass whose positions are distinct. (A
        ``set`` of ``op(x[idx], v)`` would keep one occurrence's value: a silent wrong
        result.) The positions are read on the host (a device read for CuPy indices)."""
        x, v, xp, template, arrays = self._parts(v)
        xv = full_lower(x)
        sel = tuple(shape(I.getitem(xv, arrays, template)))
        pos = xp.arange(xv.size, dtype=np.int64).reshape(xv.shape)[I.fill(template, arrays)]
        pos = _host(pos).reshape(-1)
        if np.unique(pos).size == pos.size:
            return self.set(op(I.getitem(x, arrays, template), v))
        order = np.argsort(pos, kind="stable")
        sp = pos[order]
        start = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1]])
        rank = np.empty(pos.size, np.int64)
        rank[order] = np.arange(pos.size) - np.repeat(start, np.diff(np.r_[start, pos.size]))
        flat, vflat = reshape(x, (-1,)), reshape(broadcast_to(v, sel), (-1,))
        for r in range(int(rank.max()) + 1):
            js = np.flatnonzero(rank == r)
            p = xp.asarray(pos[js])
            flat = _AtIndex(flat, p).set(op(_getitem(flat, p), _getitem(vflat, xp.asarray(js))))
        return reshape(flat, tuple(shape(x)))

    def multiply(self, v):
        """``x`` multiplied by ``v`` at ``idx`` (repeated indices: each factor applied)."""
        return self._in_turn(v, multiply)

    def min(self, v):
        """``x`` with ``min(x[idx], v)`` at ``idx`` (repeated indices: the minimum of all, one
        ``minimum`` per occurrence in turn; at ties each splits its cotangent 1/2, 1/2)."""
        return self._in_turn(v, minimum)

    def max(self, v):
        """``x`` with ``max(x[idx], v)`` at ``idx`` (repeated indices: the maximum of all, one
        ``maximum`` per occurrence in turn; at ties each splits its cotangent 1/2, 1/2)."""
        return self._in_turn(v, maximum)


def at(x):
    """The ``.at`` property of traced arrays (and ``gpuad.numpy.at(x)`` for plain ones)."""
    return _At(x)
