"""Constructors of gpuad.numpy that take values: differentiable in every floating value
they are given (``asarray`` of a traced array is that array; a nested list of traced and
constant entries is their stack; ``full``'s fill value, ``linspace``'s end points, ...).
Without traced arguments they are NumPy's (or CuPy's, given CuPy arrays) own."""
from __future__ import annotations

import numpy as np

from ..core import Tracer, full_lower
from ..primitives import base as _pb
from ._core import prepare, result_float_dtype, shape, dtype, strong, traced_dtype
from ._elementwise import add, exp, log, multiply, power
from ._shape import broadcast_to, reshape, stack

__all__ = ["array", "asarray", "asanyarray", "ascontiguousarray", "copy", "full", "full_like",
           "linspace", "logspace", "geomspace", "meshgrid"]


def _traced(obj):
    """Whether ``obj`` (an array, a number or a nested list/tuple of them) holds a tracer."""
    if isinstance(obj, Tracer):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_traced(o) for o in obj)
    return False


def _module(obj):
    """The array module of the arrays in ``obj`` (CuPy if any is a CuPy array)."""
    if isinstance(obj, (list, tuple)):
        mods = [_module(o) for o in obj]
        return next((m for m in mods if m is not np), np)
    return _pb.xp_of(obj)


def _plain_dtype(dt, what):
    return None if dt is None else traced_dtype(what, dt)


def _leaves(obj):
    if isinstance(obj, (list, tuple)):
        return [leaf for o in obj for leaf in _leaves(o)]
    return [strong(obj)]


def _nested(obj, dt, what):
    """A nested list/tuple of tracers and constants as one traced array (a stack) of
    NumPy's dtype for all its entries (``dt`` if given)."""
    if dt is None:
        dt = result_float_dtype(*_leaves(obj))   # an int8 entry beside float32 ones: float32
    if not isinstance(obj, (list, tuple)):
        (x,), _ = prepare(obj)
        return x if dt is None else _pb.astype(x, dt)
    if not obj:
        raise ValueError(f"gpuad.numpy.{what}: an empty sequence beside traced values")
    parts = [_nested(o, dt, what) for o in obj]
    parts = prepare(*parts)[0]      # one floating dtype, NumPy's promotion
    shapes = {tuple(shape(p)) for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"gpuad.numpy.{what}: the nested sequence is ragged (entries of "
                         f"shapes {sorted(shapes)})")
    return stack(parts, axis=0)


def array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    """``numpy.array``: an array from ``object`` (an array, a number, or a nested list or
    tuple of them). Traced entries keep their derivatives: ``array([x[0], 2 * x[1]])`` is
    ``stack([x[0], 2 * x[1]])``. A traced value with a non-floating ``dtype`` is refused
    (TypeError: its derivative would be dropped). Without traced entries, NumPy's (CuPy's
    for CuPy entries, or ``like``'s module) own result.

    Example::

        >>> gpuad.grad(lambda x: gnp.sum(gnp.array([x[0], 2 * x[1]]) ** 2))(np.array([1.0, 2.0]))
        array([ 2., 16.])
    """
    if not _traced(object):
        xp = _pb.xp_of(like) if like is not None else _module(object)
        return xp.array(object, dtype=dtype, copy=copy, order=order, subok=subok, ndmin=ndmin) \
            if xp is np else xp.array(object, dtype=dtype, copy=copy, order=order, ndmin=ndmin)
    x = _nested(object, _plain_dtype(dtype, "array"), "array")
    if ndmin > len(shape(x)):
        x = reshape(x, (1,) * (ndmin - len(shape(x))) + tuple(shape(x)))
    return x


def asarray(a, dtype=None, order=None, *, like=None):
    """``numpy.asarray``: ``a`` itself when it is already an array of ``dtype`` (a traced
    array stays traced, with its derivative); nested lists as in :func:`array`.

    Example::

        >>> gpuad.grad(lambda x: gnp.sum(gnp.asarray(x) ** 2))(np.array([1.0, 2.0]))
        array([2., 4.])
    """
    if not _traced(a):
        xp = _pb.xp_of(like) if like is not None else _module(a)
        return xp.asarray(a, dtype=dtype, order=order)
    return _nested(a, _plain_dtype(dtype, "asarray"), "asarray")


asanyarray = asarray


def ascontiguousarray(a, dtype=None, *, like=None):
    """``numpy.ascontiguousarray`` (at least 1-d); a traced array keeps its derivative."""
    if not _traced(a):
        xp = _pb.xp_of(like) if like is not None else _module(a)
        # cupy.ascontiguousarray takes only a cupy.ndarray (core.pyx: ascontiguousarray)
        return xp.ascontiguousarray(xp.asarray(a), dtype=dtype)
    x = asarray(a, dtype)
    return reshape(x, (1,)) if not shape(x) else x


def copy(a, order="K", subok=False):
    """``numpy.copy``: a traced array is its own copy (traced arrays are immutable)."""
    if not _traced(a):
        return _pb.xp_of(a).copy(a, order=order)
    return asarray(a)


def full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    """``numpy.full``: ``fill_value`` broadcast to ``shape``; differentiable in a traced
    ``fill_value`` (the cotangent is summed over the copies).

    Example::

        >>> gpuad.grad(lambda s: gnp.sum(gnp.full((3,), s) * np.arange(3.0)))(2.0)
        3.0
    """
    shape_ = shape
    if not _traced(fill_value):
        xp = _pb.xp_of(like) if like is not None else _module(fill_value)
        kw = {} if device is None else {"device": device}
        return xp.full(shape_, fill_value, dtype=dtype, order=order, **kw)
    v = asarray(fill_value, _plain_dtype(dtype, "full"))
    shape_ = (shape_,) if isinstance(shape_, (int, np.integer)) else tuple(shape_)
    return broadcast_to(v, shape_)


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    """``numpy.full_like``: ``fill_value`` in the shape (and dtype) of ``a``; differentiable
    in ``fill_value`` (``a`` gives only its shape: no derivative flows to it)."""
    s = shape if shape is not None else np.shape(full_lower(a))
    if not _traced(fill_value):
        xp = _pb.xp_of(a)
        return xp.full_like(full_lower(a), fill_value, dtype=dtype, shape=shape)
    dt = dtype if dtype is not None else dtype_of(a)
    return full(s, fill_value, dtype=dt if np.dtype(dt).kind in "fc" else None)


def dtype_of(a):
    return dtype(full_lower(a))


def _ramp(num, endpoint, xp, dt):
    n = int(num)
    if n < 0:
        raise ValueError(f"Number of samples, {n}, must be non-negative.")
    div = (n - 1) if endpoint else n
    return xp.arange(n, dtype=dt) / (div if div > 0 else 1), div


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``numpy.linspace``: ``start + (stop - start) * k / (num - 1)``; differentiable in
    traced ``start`` and ``stop`` (array end points broadcast, samples along ``axis``).

    Example::

        >>> gpuad.jacobian(lambda s: gnp.linspace(0.0, s, 3))(np.array(2.0))
        array([0. , 0.5, 1. ])
    """
    if not _traced((start, stop)):
        return _module((start, stop)).linspace(start, stop, num=num, endpoint=endpoint,
                                               retstep=retstep, dtype=dtype, axis=axis)
    (start, stop), xp = prepare(start, stop)
    dt = dtype_of(start)
    t, div = _ramp(num, endpoint, xp, dt)
    lead = np.broadcast_shapes(tuple(shape(start)), tuple(shape(stop)))
    t = t.reshape((-1,) + (1,) * len(lead))
    out = add(start, multiply(t, stop - start))
    if axis != 0:
        from ._shape import moveaxis
        out = moveaxis(out, 0, axis)
    if dtype is not None:
        out = _pb.astype(out, _plain_dtype(dtype, "linspace"))
    if retstep:
        step = (stop - start) / div if div > 0 else (stop - start) * np.nan
        return out, step
    return out


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``numpy.logspace``: ``base ** linspace(start, stop)``; differentiable in ``start``,
    ``stop`` and ``base`` (an array ``base`` broadcast with the end points, as NumPy's)."""
    b = base
    if not _traced((start, stop, b)):
        return _module((start, stop, b)).logspace(start, stop, num=num, endpoint=endpoint,
                                                  base=b, dtype=dtype, axis=axis)
    dt = _plain_dtype(dtype, "logspace")
    if not isinstance(b, (float, int)) and len(shape(b)):
        # NumPy's: an array base is broadcast with the end points (as arrays: a Python
        # number among them is float64) and given the samples' axis
        from ._shape import expand_dims
        nd = len(np.broadcast_shapes(*(tuple(shape(a)) for a in (start, stop, b))))
        start, stop, b = (reshape(a, (1,) * (nd - len(shape(a))) + tuple(shape(a)))
                          if isinstance(a, Tracer) else
                          _module(a).array(a, copy=None, ndmin=nd) for a in (start, stop, b))
        b = expand_dims(b, axis)
    out = power(b, linspace(start, stop, num, endpoint, axis=axis))
    return out if dt is None else _pb.astype(out, dt)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``numpy.geomspace``: ``sign * 10 ** linspace(log10(start / sign), log10(stop /
    sign))`` with ``sign = sign(start)`` (``start / |start|`` for complex end points) and
    the end points exact, NumPy's computation; differentiable in traced ``start`` and
    ``stop``, real or complex (real end points of two signs: NaN between them, as NumPy's;
    a zero is NumPy's ValueError). CuPy has no geomspace: on CuPy arrays this formula is
    the result, traced or not."""
    xp = _module((start, stop))
    if not _traced((start, stop)) and hasattr(xp, "geomspace"):
        return xp.geomspace(start, stop, num=num, endpoint=endpoint, dtype=dtype, axis=axis)
    from ._core import _dtype_of, to_operand
    from ._elementwise import abs as abs_, divide, log10
    from ._shape import concatenate, expand_dims
    if any(bool((xp.asarray(full_lower(v)) == 0).any()) for v in (start, stop)):
        raise ValueError("Geometric sequence cannot include zero")
    # NumPy's dtype: result_type(start, stop, float(num), zeros((), dtype)), the end points
    # taken as arrays (a Python float is float64): float64 at least unless dtype says less
    dt = result_float_dtype(np.zeros((), np.result_type(
        _dtype_of(full_lower(start)), _dtype_of(full_lower(stop)), float(num),
        np.zeros((), dtype))))
    out_dt = dt if dtype is None else _plain_dtype(dtype, "geomspace")
    start, stop = to_operand(start, dt, xp), to_operand(stop, dt, xp)
    if dt.kind == "c":
        sign = divide(start, abs_(start))           # start / |start|: a function of start
    else:
        sign = xp.sign(full_lower(start))           # piecewise constant
    start, stop = divide(start, sign), divide(stop, sign)
    out = logspace(log10(start), log10(stop), num, endpoint, base=10.0)
    n = int(shape(out)[0])
    if n > 0:          # the end points exact (10 ** log10(x) need not be x)
        lead = tuple(shape(out)[1:])
        parts = [expand_dims(broadcast_to(start, lead), 0)]
        last = n - 1 if n > 1 and endpoint else n
        if last > 1:
            parts.append(out[1:last])
        if last < n:
            parts.append(expand_dims(broadcast_to(stop, lead), 0))
        out = concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    out = multiply(out, sign)
    if axis != 0:
        from ._shape import moveaxis
        out = moveaxis(out, 0, axis)
    return out if out_dt == dt else _pb.astype(out, out_dt)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """``numpy.meshgrid``: coordinate arrays broadcast from 1-d ``xi``; differentiable in
    traced ``xi`` (each cotangent is summed over the broadcast axes)."""
    if not _traced(xi):
        return _module(xi).meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    xs = [reshape(asarray(x), (-1,)) if isinstance(x, Tracer) else
          _module(x).asarray(x).reshape(-1) for x in xi]
    n = len(xs)
    outs = []
    for i, x in enumerate(xs):
        s = [1] * n
        s[i] = -1
        if indexing == "xy" and n > 1 and i < 2:
            s[0], s[1] = s[1], s[0]
        outs.append(reshape(x, tuple(s)) if isinstance(x, Tracer) else x.reshape(tuple(s)))
    if sparse:
        return outs
    full_shape = np.broadcast_shapes(*[tuple(shape(o)) for o in outs])
    # an untraced coordinate array keeps its dtype (NumPy's: an int one stays int)
    return [broadcast_to(o, full_shape) if isinstance(o, Tracer) else
            _pb.xp_of(o).broadcast_to(o, full_shape).copy() for o in outs]
