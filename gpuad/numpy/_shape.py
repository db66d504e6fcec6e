"""Shape functions of gpuad.numpy (views and copies; linear, so their rules are structural),
and the diagonal and triangle functions built on indexing."""
from __future__ import annotations

import numpy as np

from ..primitives import base, indexing as I
from ._core import prepare, normalize_axis, shape, dtype, lower, strong
from ..core import Tracer
from ._elementwise import add, multiply, subtract, where
from ._indexing import _getitem, take

__all__ = ["reshape", "transpose", "swapaxes", "astype", "ravel", "broadcast_to", "moveaxis",
           "expand_dims", "squeeze", "atleast_1d", "atleast_2d", "concatenate", "stack",
           "hstack", "vstack", "array_split", "split", "flip", "roll", "tile", "repeat", "pad",
           "diagonal", "diag", "triu", "tril"]


def reshape(a, /, shape=None, order="C", *, copy=None, newshape=None):
    """``numpy.reshape``: ``order`` 'C' (row-major), 'F' (column-major: the reshape of the
    transpose, transposed back) or 'A' (F for a Fortran-ordered array); ``copy`` is
    accepted (traced arrays are immutable, a view or a copy alike). ``newshape`` is the
    name NumPy 1 gave ``shape``."""
    if newshape is not None:
        if shape is not None:
            raise TypeError("reshape() got both shape= and newshape= (NumPy 1's name of shape)")
        shape = newshape
    if shape is None:
        raise TypeError("reshape() missing required argument 'shape' (pos 2)")
    (a,), _ = prepare(a)
    order = _order(a, order, "reshape")
    newshape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(
        int(d) for d in shape)
    if order == "F":
        out = reshape(transpose(a), newshape[::-1])
        return transpose(out)
    old = tuple(_shape(a))
    size = int(np.prod(old, dtype=np.int64))
    if -1 in newshape:
        known = int(np.prod([d for d in newshape if d != -1], dtype=np.int64))
        newshape = tuple(size // known if d == -1 and known else d for d in newshape)
    if int(np.prod(newshape, dtype=np.int64)) != size:
        raise ValueError(f"cannot reshape array of shape {old} into shape {newshape}")
    return base.reshape(a, newshape)


_shape = shape          # (reshape's parameter is named shape, as NumPy's)


def _order(a, order, what):
    """'C' or 'F' for NumPy's ``order`` of ``a`` ('A': 'F' where ``a``'s value is Fortran-
    but not C-contiguous); 'K' is returned for ravel to read memory order."""
    o = "C" if order is None else str(order).upper()
    if o in ("C", "F"):
        return o
    if o == "A" or (o == "K" and what != "reshape"):
        if o == "K":
            return o
        flags = getattr(lower(a), "flags", None)
        return "F" if flags is not None and flags.f_contiguous and not flags.c_contiguous \
            else "C"
    if o == "K":
        raise ValueError("order 'K' is not permitted for reshaping")
    raise ValueError(f"{what}: order must be one of 'C', 'F', 'A' or 'K' (got {order!r})")


def ravel(a, order="C"):
    """``numpy.ravel``: the entries in ``order`` 'C' (row-major), 'F' (column-major), 'A'
    (F for a Fortran-ordered array) or 'K' (the order of the value's memory); a traced
    array's derivative follows its entries."""
    (a,), _ = prepare(a)
    o = _order(a, order, "ravel")
    if o != "K":
        return reshape(a, (-1,), order=o)
    v = lower(a)
    xp = base.xp_of(v)
    # the flat (C-order) positions of the entries in memory order: an index array laid out
    # as the value, read in NumPy's K order
    idx = xp.empty_like(v, dtype=np.int64, order="K")
    idx[...] = xp.arange(v.size, dtype=np.int64).reshape(v.shape)
    perm = idx.ravel(order="K")
    flat = reshape(a, (-1,))
    if bool((perm == xp.arange(v.size)).all()):
        return flat
    return take(flat, perm)


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
    """Convert to another floating or complex dtype (differentiable); other dtypes cut the
    gradient. Complex to real keeps the real part (NumPy's cast, without its warning): its
    derivative is the real part of the tangent, its transpose the cotangent as a complex
    number."""
    dt = np.dtype(dtype)
    if dt.kind not in "fc":
        return lower(a).astype(dt)
    (a,), _ = prepare(a)
    return base.astype(a, dt)


def broadcast_to(array, shape, subok=False):
    """``numpy.broadcast_to``: ``array`` broadcast to ``shape`` (a view; the cotangent is
    summed over the broadcast axes)."""
    (a,), _ = prepare(array)
    shape_ = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    np.broadcast_shapes(tuple(_shape(a)), shape_)   # NumPy's error for incompatible shapes
    return base.broadcast_to(a, shape_)


# ------------------------------------------------------------------ axes

def _axis_tuple(axis, ndim, what="axis"):
    """Non-negative axes in the order given (NumPy's errors for out-of-range and repeats)."""
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(normalize_axis(a, ndim, what)[0] for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in `{what}` argument")
    return out


def moveaxis(a, source, destination):
    """``numpy.moveaxis``: axes ``source`` move to positions ``destination``, the others keep
    their order. A permutation of axes (a view); its VJP permutes back.

    Example::

        >>> gnp.moveaxis(np.zeros((2, 3, 4)), 0, -1).shape
        (3, 4, 2)
    """
    (a,), _ = prepare(a)
    nd = len(shape(a))
    src = _axis_tuple(source, nd, "source")
    dst = _axis_tuple(destination, nd, "destination")
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number "
                         "of elements")
    order = [k for k in range(nd) if k not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return base.transpose(a, order)


def expand_dims(a, axis):
    """``numpy.expand_dims``: insert axes of length 1 at positions ``axis`` of the result.

    Example::

        >>> gnp.expand_dims(np.zeros((2, 3)), (0, -1)).shape
        (1, 2, 3, 1)
    """
    (a,), _ = prepare(a)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    nd = len(shape(a)) + len(axes)
    axes = normalize_axis(axes, nd)
    it = iter(shape(a))
    return base.reshape(a, tuple(1 if k in axes else next(it) for k in range(nd)))


def squeeze(a, axis=None):
    """``numpy.squeeze``: drop axes of length 1 (all of them, or those in ``axis``).

    Example::

        >>> gnp.squeeze(np.zeros((1, 3, 1))).shape
        (3,)
    """
    (a,), _ = prepare(a)
    s = tuple(shape(a))
    axes = (tuple(k for k, n in enumerate(s) if n == 1) if axis is None
            else normalize_axis(axis, len(s)))
    if any(s[k] != 1 for k in axes):
        raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return base.reshape(a, tuple(n for k, n in enumerate(s) if k not in axes))


def atleast_1d(a):
    """``numpy.atleast_1d`` for one array: a 0-d array becomes shape ``(1,)``."""
    (a,), _ = prepare(a)
    return base.reshape(a, (1,)) if not shape(a) else a


def atleast_2d(a):
    """``numpy.atleast_2d`` for one array: ``()`` -> ``(1, 1)``, ``(n,)`` -> ``(1, n)``."""
    (a,), _ = prepare(a)
    s = tuple(shape(a))
    return base.reshape(a, (1,) * (2 - len(s)) + s) if len(s) < 2 else a


# ------------------------------------------------------------------ joining and splitting

def concatenate(arrays, axis=0):
    """``numpy.concatenate``: join arrays along an existing ``axis`` (``None``: flatten
    first). Linear; the VJP hands each input its slice of the cotangent.

    Example::

        >>> gnp.concatenate([np.zeros((1, 2)), np.ones((2, 2))]).shape
        (3, 2)
    """
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    xs, _ = prepare(*arrays)          # (NumPy's concatenate takes Python scalars as weak)
    if axis is None:
        xs, axis = [base.reshape(x, (-1,)) for x in xs], 0
    s0 = tuple(shape(xs[0]))
    if not s0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    (axis,) = normalize_axis(axis, len(s0))
    for k, x in enumerate(xs[1:], 1):
        s = tuple(shape(x))
        if len(s) != len(s0) or any(d != e for j, (d, e) in enumerate(zip(s, s0)) if j != axis):
            raise ValueError(f"concatenate along axis {axis}: the array at index {k} has shape "
                             f"{s}, which does not match shape {s0} of the array at index 0 "
                             "(all dimensions but the concatenation axis must agree)")
    return I.concatenate(xs, axis)


def stack(arrays, axis=0):
    """``numpy.stack``: join arrays of one shape along a new ``axis``.

    Example::

        >>> gnp.stack([np.zeros(3), np.ones(3)], axis=1).shape
        (3, 2)
    """
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to stack")
    xs, _ = prepare(*map(strong, arrays))
    shapes = [tuple(shape(x)) for x in xs]
    if len(set(shapes)) != 1:
        raise ValueError(f"all input arrays must have the same shape, got shapes {shapes}")
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


def hstack(tup):
    """``numpy.hstack``: concatenate along axis 1 (axis 0 for 1-d inputs).

    Example::

        >>> gnp.hstack([np.zeros(2), np.ones(3)]).shape
        (5,)
    """
    xs = [atleast_1d(x) for x in prepare(*map(strong, tup))[0]] if len(tup) else []
    return concatenate(xs, axis=0 if xs and len(shape(xs[0])) == 1 else 1)


def vstack(tup):
    """``numpy.vstack``: concatenate along axis 0 after making inputs at least 2-d.

    Example::

        >>> gnp.vstack([np.zeros(2), np.ones(2)]).shape
        (2, 2)
    """
    xs = prepare(*map(strong, tup))[0] if len(tup) else []   # one dtype for all first
    return concatenate([atleast_2d(x) for x in xs], axis=0)


def array_split(ary, indices_or_sections, axis=0):
    """``numpy.array_split``: a list of views along ``axis``. An int N gives N pieces, the
    first ``n % N`` one longer; a list of indices gives ``ary[:i0], ary[i0:i1], ...``.
    Each piece is a slice (its VJP places the cotangent back, zeros elsewhere).

    Example::

        >>> [p.shape for p in gnp.array_split(np.zeros(5), 2)]
        [(3,), (2,)]
    """
    (ary,), _ = prepare(ary)
    (axis,) = normalize_axis(axis, len(shape(ary)))
    n = shape(ary)[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        N = int(indices_or_sections)
        if N <= 0:
            raise ValueError("number sections must be larger than 0.")
        each, extra = divmod(n, N)
        bounds = [0] + np.cumsum(extra * [each + 1] + (N - extra) * [each]).tolist()
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    pre = (slice(None),) * axis
    return [I.getitem(ary, (), pre + (slice(st, en),)) for st, en in zip(bounds, bounds[1:])]


def split(ary, indices_or_sections, axis=0):
    """``numpy.split``: :func:`array_split` that requires an int N to divide the axis.

    Example::

        >>> [p.shape for p in gnp.split(np.zeros((4, 2)), 2)]
        [(2, 2), (2, 2)]
    """
    pieces = array_split(ary, indices_or_sections, axis)
    if (isinstance(indices_or_sections, (int, np.integer))
            and len({tuple(shape(p)) for p in pieces}) > 1):
        raise ValueError("array split does not result in an equal division")
    return pieces


# ------------------------------------------------------------------ rearranging

def flip(m, axis=None):
    """``numpy.flip``: reverse the order of elements along ``axis`` (all axes for None),
    ``out[i] = m[n - 1 - i]``; a negative-step view.

    Example::

        >>> gnp.flip(np.array([1.0, 2.0, 3.0]))
        array([3., 2., 1.])
    """
    (m,), _ = prepare(m)
    axes = normalize_axis(axis, len(shape(m)))
    return I.getitem(m, (), tuple(slice(None, None, -1) if k in axes else slice(None)
                                  for k in range(len(shape(m)))))


def roll(a, shift, axis=None):
    """``numpy.roll``: ``out[(i + shift) % n] = a[i]`` along each ``axis`` (the flattened
    array for None); two slices joined by :func:`concatenate`.

    Example::

        >>> gnp.roll(np.array([1.0, 2.0, 3.0]), 1)
        array([3., 1., 2.])
    """
    (a,), _ = prepare(a)
    if axis is None:
        return base.reshape(roll(base.reshape(a, (-1,)), shift, 0), shape(a))
    nd = len(shape(a))
    shifts: dict = {}
    for s, ax in np.broadcast(shift, axis):     # NumPy pairs shifts and axes this way
        (ax,) = normalize_axis(int(ax), nd)
        shifts[ax] = shifts.get(ax, 0) + int(s)
    for ax, s in shifts.items():
        n = shape(a)[ax]
        s = s % n if n else 0
        if s:
            pre = (slice(None),) * ax
            a = I.concatenate([I.getitem(a, (), pre + (slice(n - s, None),)),
                               I.getitem(a, (), pre + (slice(0, n - s),))], ax)
    return a


def tile(A, reps):
    """``numpy.tile``: ``A`` repeated ``reps[k]`` times along axis k (``A`` and ``reps``
    padded with leading 1s to one length): ``out[r * n + i] = A[i]``. A broadcast of
    ``A`` reshaped with interleaved unit axes; its VJP sums over the copies.

    Example::

        >>> gnp.tile(np.array([1.0, 2.0]), 2)
        array([1., 2., 1., 2.])
    """
    (A,), _ = prepare(A)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    s = tuple(shape(A))
    n = max(len(s), len(reps))
    s, reps = (1,) * (n - len(s)) + s, (1,) * (n - len(reps)) + reps
    x = base.reshape(A, tuple(d for k in s for d in (1, k)))
    x = base.broadcast_to(x, tuple(d for r, k in zip(reps, s) for d in (r, k)))
    return base.reshape(x, tuple(r * k for r, k in zip(reps, s)))


def repeat(a, repeats, axis=None):
    """``numpy.repeat``: element i along ``axis`` (of the flattened array for None) repeated
    ``repeats`` (or ``repeats[i]``) times: a gather with ``np.repeat(arange(n), repeats)``,
    whose VJP sums each element's copies.

    Example::

        >>> gnp.repeat(np.array([1.0, 2.0]), [1, 2])
        array([1., 2., 2.])
    """
    (a,), xp = prepare(a)
    if axis is None:
        a, axis = base.reshape(a, (-1,)), 0
    (axis,) = normalize_axis(axis, len(shape(a)))
    r = lower(repeats)
    r = r.get() if hasattr(r, "get") else r        # the output's length depends on it
    return take(a, xp.asarray(np.repeat(np.arange(shape(a)[axis]), r)), axis=axis)


def _traced(v):
    if isinstance(v, (list, tuple)):
        return any(_traced(u) for u in v)
    return isinstance(v, Tracer)


def pad(array, pad_width, mode="constant", **kwargs):
    """``numpy.pad`` in modes 'constant' (``constant_values`` differentiated when it is one
    traced scalar; traced per-axis values are refused), 'edge',
    'reflect', 'symmetric' and 'wrap'.

    Constant mode places ``array`` into zeros (its VJP slices the cotangent) and adds the
    border values; the other modes gather along each axis with the source indices
    ``np.pad(arange(n), pad_width, mode)``, so the VJP sums the cotangent of every copy;
    ``reflect_type='odd'`` (reflect, symmetric) pads ``2 edge - mirror`` chunk by chunk as
    NumPy does (the same values; linear, so the derivative is exact).

    Example::

        >>> gnp.pad(np.array([1.0, 2.0]), (1, 2), mode="edge")
        array([1., 1., 2., 2., 2.])
    """
    (x,), xp = prepare(array)
    s = tuple(shape(x))
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (len(s), 2)).tolist()
    if any(w < 0 for pair in widths for w in pair):
        raise ValueError("index can't contain negative values")
    if mode == "constant":
        cv = kwargs.pop("constant_values", 0)
        out_shape = tuple(n + b + a for n, (b, a) in zip(s, widths))
        where = tuple(slice(b, b + n) for n, (b, a) in zip(s, widths))
        out = I.scatter_add(x, (), where, out_shape)
        if _traced(cv):
            # A traced scalar: the border is cv times a constant mask, so it has its
            # derivative (read as a value it was a silent 0). Per-axis traced values: refused.
            if not isinstance(cv, Tracer) or tuple(shape(cv)) != ():
                raise TypeError("gpuad.numpy.pad: a traced constant_values must be one "
                                "scalar (per-axis traced values are not differentiated)")
            mask = xp.pad(xp.zeros(s, dtype=dtype(x)), widths, constant_values=1)
            if np.dtype(dtype(cv)) != np.dtype(dtype(x)):   # NumPy fills in the array's dtype
                cv = astype(cv, dtype(x))
            return add(out, multiply(mask, cv))
        cv = lower(cv)
        if np.any(np.asarray(cv.get() if hasattr(cv, "get") else cv) != 0):
            # The border exactly as NumPy fills it (per-axis values, corners included).
            border = xp.pad(xp.zeros(s, dtype=dtype(x)), widths, constant_values=cv)
            out = add(out, border)
        return out
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"gpuad.numpy.pad does not support mode {mode!r}")
    odd = mode in ("reflect", "symmetric") and kwargs.get("reflect_type") == "odd"
    for ax, (b, a) in enumerate(widths):
        if b or a:
            # (NumPy's own checks of the widths and keywords; the even gather's indices)
            src = np.pad(np.arange(s[ax]), (b, a), mode=mode, **kwargs)
            if odd and s[ax] > 1:
                x = _pad_odd(x, ax, b, a, s[ax], mode == "symmetric", xp)
            else:       # (a length-1 axis: NumPy repeats the edge, odd or not)
                if odd:
                    src = np.pad(np.arange(s[ax]), (b, a), mode="edge")
                x = take(x, xp.asarray(src), axis=ax)
    return x


def _pad_odd(x, ax, b, a, n, include_edge, xp):
    """``reflect_type='odd'`` along axis ``ax``: NumPy's iteration (``_set_reflect_both``),
    each chunk ``2 edge - mirror`` of the part filled so far, in the same operations (the
    same values, bit for bit); linear in x, so the derivative is exact through the gathers.
    (Source indices alone cannot say it: padding them gave indices 2 edge - k, negative or
    past the end, read wrapped: wrong values and a wrong gradient, silently.)"""
    off = 1 if include_edge else 0
    while b or a:
        m = shape(x)[ax]
        # the chunk length NumPy allows: whole periods of the original length
        old = m // n * n if include_edge else (m - 1) // (n - 1) * (n - 1)
        cb, ca = min(old, b), min(old, a)
        parts = [x]
        if cb:
            edge = take(x, xp.asarray([0]), axis=ax)
            mirror = take(x, xp.arange(cb - off, -off, -1), axis=ax)
            parts.insert(0, subtract(multiply(2, edge), mirror))
        if ca:
            edge = take(x, xp.asarray([m - 1]), axis=ax)
            mirror = take(x, xp.arange(m - 2 + off, m - 2 + off - ca, -1), axis=ax)
            parts.append(subtract(multiply(2, edge), mirror))
        x = concatenate(parts, axis=ax)
        b, a = b - cb, a - ca
    return x


def diagonal(a, offset=0, axis1=0, axis2=1):
    """``numpy.diagonal``: ``out[..., i] = a[..., i, i + offset]`` over ``axis1, axis2``
    (moved last), a gather whose VJP puts the cotangent back on the diagonal.

    Example::

        >>> gnp.diagonal(np.arange(9.0).reshape(3, 3), 1)
        array([1., 5.])
    """
    (a,), xp = prepare(a)
    a = moveaxis(a, (axis1, axis2), (-2, -1))
    n1, n2 = shape(a)[-2:]
    r0, c0 = max(-offset, 0), max(offset, 0)
    k = xp.arange(max(0, min(n1 - r0, n2 - c0)))
    return _getitem(a, (Ellipsis, k + r0, k + c0))


def diag(v, k=0):
    """``numpy.diag``: a 1-d ``v`` becomes the matrix with ``v`` on diagonal ``k`` (zeros
    elsewhere; a scatter whose VJP reads the diagonal back); a 2-d ``v`` gives its ``k``-th
    diagonal.

    Example::

        >>> gnp.diag(np.array([1.0, 2.0]))
        array([[1., 0.],
               [0., 2.]])
    """
    (v,), xp = prepare(v)
    nd = len(shape(v))
    if nd == 2:
        return diagonal(v, k)
    if nd != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n = shape(v)[0]
    N = n + abs(k)
    i = xp.arange(n)
    return I.scatter_add(v, (i + max(-k, 0), i + max(k, 0)), (I.ARRAY, I.ARRAY), (N, N))


def _tri(m, k, lower_):
    (m,), xp = prepare(m)
    # The mask as NumPy builds it, tri(*m.shape[-2:]): a 1-d m gets a square one.
    t = xp.tri(*shape(m)[-2:], k=k if lower_ else k - 1, dtype=bool)
    return where(t if lower_ else ~t, m, 0.0)


def tril(m, k=0):
    """``numpy.tril``: ``m`` with the entries above diagonal ``k`` set to zero (over the
    last two axes); the VJP masks the cotangent the same way.

    Example::

        >>> gnp.tril(np.ones((2, 2)))
        array([[1., 0.],
               [1., 1.]])
    """
    return _tri(m, k, True)


def triu(m, k=0):
    """``numpy.triu``: ``m`` with the entries below diagonal ``k`` set to zero (over the
    last two axes); the VJP masks the cotangent the same way.

    Example::

        >>> gnp.triu(np.ones((2, 2)))
        array([[1., 1.],
               [0., 1.]])
    """
    return _tri(m, k, False)
