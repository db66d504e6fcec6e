"""Functions of sequences in gpuad.numpy: differences, cumulative products, interpolation,
convolution, quadrature and polynomials, written with existing primitives (slices,
gathers, concatenate, multiply, matmul, select), so every derivative differentiates again.
"""
from __future__ import annotations

import numpy as np

from ..core import Tracer
from ..primitives import base
from ..primitives import complex as _cx
from ._core import prepare, normalize_axis, shape, lower, dtype as dtype_of
from ._elementwise import add, subtract, multiply, divide, where
from ._reductions import sum, cumsum
from ._indexing import _getitem, take
from ._shape import concatenate, flip, pad, broadcast_to, reshape
from ._linalg import matmul

__all__ = ["cumprod", "cumulative_sum", "cumulative_prod", "diff", "ediff1d", "gradient",
           "interp", "convolve", "correlate", "trapezoid", "polyval", "polyadd", "polysub",
           "polymul", "polyder", "polyint", "poly", "vander", "unwrap"]


def _along(axis, ndim, k):
    """The index ``k`` (an int or slice) on ``axis``, everything elsewhere."""
    return (slice(None),) * axis + (k,) + (slice(None),) * (ndim - axis - 1)


def _slice(a, axis, start=None, stop=None):
    return _getitem(a, _along(axis, len(shape(a)), slice(start, stop)))


def _asarray(x, xp):
    """``x`` (traced, or anything NumPy takes) as an array; Python scalars become arrays of
    NumPy's default dtype as ``numpy.asarray`` makes them (they are not weak here)."""
    return x if isinstance(x, Tracer) else xp.asarray(lower(x))


def _xp(*xs):
    return base.xp_of(*[x for x in xs if x is not None])


# ------------------------------------------------------------------ cumulative products

def _scan_multiply(x, axis):
    """Running product along ``axis`` as a Hillis-Steele scan of multiplies (log2 n
    steps): every derivative comes from the multiply rules, exact at zeros."""
    n, step = shape(x)[axis], 1
    while step < n:
        x = concatenate([_slice(x, axis, 0, step),
                         multiply(_slice(x, axis, step), _slice(x, axis, 0, n - step))], axis)
        step *= 2
    return x


def cumprod(a, axis=None, dtype=None):
    """Running product along ``axis`` (the flattened array for None), like
    ``numpy.cumprod``: ``out[i] = x[0] x[1] ... x[i]``.

    Computed as a scan of multiplies (O(n log n) work, log2 n steps; the rounding differs
    from NumPy's sequential product by a few ulps). Exact at zeros: ``d out[i] / d x[j] =
    prod_{k <= i, k != j} x[k]`` comes from the multiplies, never from ``out / x``.

    Example::

        >>> gpuad.grad(lambda x: gnp.sum(gnp.cumprod(x)))(np.array([2.0, 0.0, 3.0]))
        array([1., 8., 0.])
    """
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    return _cumulative(a, axis, dtype, False, _scan_multiply, 1)


def _cumulative(x, axis, dtype, include_initial, scan, identity):
    (x,), xp = prepare(x)
    if dtype is not None:
        x = base.astype(x, dtype)
    if not shape(x):
        x = base.reshape(x, (1,))
    nd = len(shape(x))
    if axis is None:
        if nd >= 2:
            raise ValueError("For arrays which have more than one dimension ``axis`` "
                             "argument is required.")
        axis = 0
    (axis,) = normalize_axis(axis, nd)
    out = scan(x, axis)
    if include_initial:
        s = list(shape(x))
        s[axis] = 1
        out = concatenate([xp.full(s, identity, dtype=dtype_of(out)), out], axis)
    return out


def cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """``numpy.cumulative_sum`` (NumPy 2): :func:`cumsum` along ``axis`` (required beyond
    1-d; a 0-d ``x`` counts as 1-d), with a leading 0 when ``include_initial``. Linear.

    Example::

        >>> gnp.cumulative_sum(np.array([1.0, 2.0]), include_initial=True)
        array([0., 1., 3.])
    """
    if out is not None:
        raise NotImplementedError("gpuad.numpy.cumulative_sum: out= is not supported")
    return _cumulative(x, axis, dtype, include_initial, lambda v, ax: cumsum(v, axis=ax), 0)


def cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """``numpy.cumulative_prod`` (NumPy 2): :func:`cumprod` along ``axis`` (required beyond
    1-d; a 0-d ``x`` counts as 1-d), with a leading 1 when ``include_initial``. Exact at
    zeros as :func:`cumprod`.

    Example::

        >>> gnp.cumulative_prod(np.array([2.0, 3.0]), include_initial=True)
        array([1., 2., 6.])
    """
    if out is not None:
        raise NotImplementedError("gpuad.numpy.cumulative_prod: out= is not supported")
    return _cumulative(x, axis, dtype, include_initial, _scan_multiply, 1)


# ------------------------------------------------------------------ differences

_NO_VALUE = object()


def diff(a, n=1, axis=-1, prepend=_NO_VALUE, append=_NO_VALUE):
    """n-th discrete difference along ``axis``, like ``numpy.diff``:
    ``out[i] = a[i + 1] - a[i]``, applied ``n`` times, after joining ``prepend`` and
    ``append`` (scalars are broadcast to one slice). Linear in ``a``, ``prepend`` and
    ``append``.

    Example::

        >>> gnp.diff(np.array([1.0, 4.0, 9.0]), prepend=0.0)
        array([1., 3., 5.])
    """
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    xp = _xp(a, None if prepend is _NO_VALUE else prepend,
             None if append is _NO_VALUE else append)
    a = _asarray(a, xp)
    nd = len(shape(a))
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    (axis,) = normalize_axis(axis, nd)
    parts = [_asarray(e, xp) for e in (prepend, a, append) if e is not _NO_VALUE]
    parts, _ = prepare(*parts)        # one dtype, NumPy's for all (an int8 prepend: a's)
    for i, extra in enumerate(parts):
        if not shape(extra):
            s = list(shape(a))
            s[axis] = 1
            parts[i] = base.broadcast_to(extra, tuple(s))
    x = concatenate(parts, axis) if len(parts) > 1 else prepare(a)[0][0]
    for _ in range(n):
        x = subtract(_slice(x, axis, 1), _slice(x, axis, None, -1))
    return x


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of the flattened array, like ``numpy.ediff1d``:
    ``concatenate([to_begin, ary[1:] - ary[:-1], to_end])`` in ``ary``'s dtype. Linear
    in all three.

    Example::

        >>> gnp.ediff1d(np.array([1.0, 2.0, 4.0]), to_begin=-1.0)
        array([-1.,  1.,  2.])
    """
    xp = _xp(ary, to_end, to_begin)
    (ary,), _ = prepare(_asarray(ary, xp))
    ary = base.reshape(ary, (-1,))
    dt = dtype_of(ary)
    parts = []
    for k, extra in ((0, to_begin), (1, ary), (2, to_end)):
        if k == 1:
            parts.append(subtract(_slice(ary, 0, 1), _slice(ary, 0, None, -1)))
        elif extra is not None:
            extra = _asarray(extra, xp)
            if not np.can_cast(dtype_of(extra), dt, casting="same_kind"):
                which = "to_begin" if k == 0 else "to_end"
                raise TypeError(f"dtype of `{which}` must be compatible with input `ary` "
                                "under the `same_kind` rule.")
            (extra,), _ = prepare(extra)
            parts.append(base.astype(base.reshape(extra, (-1,)), dt))
    return concatenate(parts, 0) if len(parts) > 1 else parts[0]


def gradient(f, *varargs, axis=None, edge_order=1):
    """Gradient of sampled values by second-order central differences, like
    ``numpy.gradient``: interior ``(f[i+1] - f[i-1]) / (2 h)`` (or NumPy's three-point
    formula for uneven coordinates), first- or second-order one-sided differences at the
    ends (``edge_order`` 1 or 2). ``varargs``: none (spacing 1), one scalar spacing for
    every axis, or one scalar or 1-d coordinate array per axis in ``axis``. One array
    for one axis, else a tuple; in ``f``'s floating dtype.

    Linear in ``f``; differentiable in traced spacings and coordinates. Traced coordinates
    always use the uneven-spacing formula (NumPy switches to the even one when the
    coordinates' differences are all equal; the value agrees up to rounding, and only the
    uneven formula has the derivative in every coordinate).

    Example::

        >>> gnp.gradient(np.array([1.0, 4.0, 9.0]))
        array([3., 4., 5.])
    """
    xp = _xp(f, *varargs)
    f = _asarray(f, xp)
    N = len(shape(f))
    axes = tuple(range(N)) if axis is None else tuple(
        normalize_axis(ax, N)[0] for ax in ((axis,) if np.ndim(axis) == 0 else axis))
    if len(set(axes)) != len(axes):
        raise ValueError("repeated axis")
    if not varargs:
        dx = [1.0] * len(axes)
    elif len(varargs) == 1 and not shape(varargs[0]):
        dx = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        dx = [_spacing(d, shape(f)[ax], xp) for d, ax in zip(varargs, axes)]
    else:
        raise TypeError("invalid number of arguments")
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    otype = dtype_of(lower(f)) if dtype_of(lower(f)).kind in "fc" else np.dtype(np.float64)
    (f,), _ = prepare(f)
    out = []
    for ax, h in zip(axes, dx):
        if shape(f)[ax] < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, at "
                             "least (edge_order + 1) elements are required.")
        out.append(base.astype(_gradient_axis(f, ax, h, edge_order), otype))
    return out[0] if len(out) == 1 else tuple(out)


def _spacing(d, n, xp):
    """One entry of ``gradient``'s varargs: a scalar, or coordinates made differences."""
    if not shape(d):
        return d
    if len(shape(d)) != 1:
        raise ValueError("distances must be either scalars or 1d")
    if shape(d)[0] != n:
        raise ValueError("when 1d, distances must match the length of the corresponding "
                         "dimension")
    d = _asarray(d, xp)
    if dtype_of(d).kind in "biu":
        d = d.astype(np.float64)
    h = diff(d)
    if not isinstance(h, Tracer) and bool((h == h[0]).all()):
        return h[0]
    return h


def _gradient_axis(f, axis, h, edge_order):
    # NumPy's formulas term for term, with operators: a Python-number spacing stays a
    # Python number (weak, as in NumPy), traced values go through gpuad.numpy.
    nd = len(shape(f))

    def F(start, stop=None):
        return _slice(f, axis, start, stop)

    def along(c):                       # a 1-d coefficient laid along `axis`
        return reshape(c, tuple(-1 if k == axis else 1 for k in range(nd)))

    def combo(a, b, c, i, j, k):
        return a * F(*i) + b * F(*j) + c * F(*k)

    uniform = not shape(h)
    if uniform:
        interior = (F(2) - F(None, -2)) / (2.0 * h)
    else:
        h1, h2 = _slice(h, 0, 0, -1), _slice(h, 0, 1)
        a = -h2 / (h1 * (h1 + h2))
        b = (h2 - h1) / (h1 * h2)
        c = h1 / (h2 * (h1 + h2))
        interior = combo(along(a), along(b), along(c), (None, -2), (1, -1), (2, None))
    if edge_order == 1:
        h0, hn = (h, h) if uniform else (_getitem(h, 0), _getitem(h, -1))
        first = (F(1, 2) - F(0, 1)) / h0
        last = (F(-1) - F(-2, -1)) / hn
    else:
        if uniform:
            a, b, c = -1.5 / h, 2.0 / h, -0.5 / h
        else:
            h1, h2 = _getitem(h, 0), _getitem(h, 1)
            a = -(2.0 * h1 + h2) / (h1 * (h1 + h2))
            b = (h1 + h2) / (h1 * h2)
            c = -h1 / (h2 * (h1 + h2))
        first = combo(a, b, c, (0, 1), (1, 2), (2, 3))
        if uniform:
            a, b, c = 0.5 / h, -2.0 / h, 1.5 / h
        else:
            h1, h2 = _getitem(h, -2), _getitem(h, -1)
            a = h2 / (h1 * (h1 + h2))
            b = -(h2 + h1) / (h1 * h2)
            c = (2.0 * h2 + h1) / (h2 * (h1 + h2))
        last = combo(a, b, c, (-3, -2), (-2, -1), (-1, None))
    return concatenate([first, interior, last], axis)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral along ``axis`` by the composite trapezoidal rule, like
    ``numpy.trapezoid``: ``sum(d * (y[1:] + y[:-1]) / 2)`` with ``d = diff(x)`` (x 1-d,
    or shaped like y) or the scalar spacing ``dx``. Differentiable in ``y``, ``x`` and
    ``dx``.

    Example::

        >>> gpuad.grad(lambda y: gnp.trapezoid(y, dx=0.5))(np.ones(3))
        array([0.25, 0.5 , 0.25])
    """
    xp = _xp(y, x, dx)
    y = _asarray(y, xp)
    nd = len(shape(y))
    (ax,) = normalize_axis(axis, nd)
    if x is None:
        d = dx
    else:
        x = _asarray(x, xp)
        if len(shape(x)) == 1:
            d = diff(x)
            d = reshape(d, tuple(shape(d)[0] if k == ax else 1 for k in range(nd)))
        else:
            d = diff(x, axis=axis)
    s = add(_slice(y, ax, 1), _slice(y, ax, None, -1))
    return sum(divide(multiply(d, s), 2.0), axis=ax)


# ------------------------------------------------------------------ interpolation

def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation, like ``numpy.interp``: for ``xp[j] <= x <
    xp[j+1]``, ``fp[j] + (fp[j+1] - fp[j]) / (xp[j+1] - xp[j]) * (x - xp[j])``;
    ``left``/``right`` (default ``fp[0]``/``fp[-1]``) outside, ``fp[-1]`` at ``xp[-1]``;
    ``period`` wraps ``x`` and ``xp``. float64 (complex128 for a complex ``fp``), as NumPy.

    Differentiable in ``fp``, ``left``, ``right``, in ``xp`` and in ``x``: the slope of
    the interval. At a knot ``x == xp[j]`` the interval to the right is used (slope of
    ``[xp[j], xp[j+1]]``; 0 at ``xp[-1]``, where the right side is the constant
    ``right``); outside the range and at NaN the derivative in ``x`` is 0. ``x % period``
    is differentiated as ``x``; a traced ``period`` is refused (TypeError).

    Example::

        >>> gpuad.grad(lambda x: gnp.interp(x, np.array([0.0, 1.0, 3.0]),
        ...                                 np.array([0.0, 2.0, 3.0])))(np.array(2.0))
        array(0.5)
    """
    if isinstance(period, Tracer):
        raise TypeError("gpuad.numpy.interp: a traced `period` is not differentiated; pass "
                        "gpuad.stop_gradient(period)")
    m = _xp(x, xp, fp, left, right)
    f64 = np.dtype(np.float64)
    for name, v in (("x", x), ("xp", xp)):
        if dtype_of(lower(_asarray(v, m))).kind == "c":
            raise TypeError(f"interp: {name} is complex; the sample points and coordinates "
                            "must be real (NumPy's too); fp may be complex")
    if any(v is not None and dtype_of(lower(_asarray(v, m))).kind == "c"
           for v in (fp, left, right)):
        f64 = np.dtype(np.complex128)      # NumPy's complex interpolation
    x, xp = (base.astype(prepare(_asarray(v, m))[0][0], np.float64) for v in (x, xp))
    fp = base.astype(prepare(_asarray(fp, m))[0][0], f64)
    if period is not None:
        if period == 0:
            raise ValueError("period must be a non-zero value")
        period = abs(period)
        left = right = None
        if len(shape(xp)) != 1 or len(shape(fp)) != 1:
            raise ValueError("Data points must be 1-D sequences")
        if shape(xp)[0] != shape(fp)[0]:
            raise ValueError("fp and xp are not of the same length")
        x, xp = _mod(x, period, m), _mod(xp, period, m)
        order = m.argsort(lower(xp))
        xp, fp = take(xp, order), take(fp, order)
        xp = concatenate([subtract(_slice(xp, 0, -1), period), xp, add(_slice(xp, 0, 0, 1),
                                                                        period)])
        fp = concatenate([_slice(fp, 0, -1), fp, _slice(fp, 0, 0, 1)])
    if len(shape(xp)) != 1 or len(shape(fp)) != 1:
        raise ValueError("Data points must be 1-D sequences")
    n = shape(xp)[0]
    if n == 0:
        raise ValueError("array of sample points is empty")
    if shape(fp)[0] != n:
        raise ValueError("fp and xp are not of the same length.")
    # (a traced Python scalar x is a NumPy value beside CuPy data: moved for the comparisons)
    xv, xpv = base.on_device(m, (lower(x), lower(xp)))
    below, above = xv < xpv[0], xv > xpv[-1]
    left = _getitem(fp, 0) if left is None else _asarray(left, m)
    right = _getitem(fp, -1) if right is None else _asarray(right, m)
    if n == 1:
        res = broadcast_to(_getitem(fp, 0), shape(x))
    else:
        j = m.clip(m.searchsorted(xpv, xv, side="right") - 1, 0, n - 2)
        x0, x1, y0, y1 = take(xp, j), take(xp, j + 1), take(fp, j), take(fp, j + 1)
        inside = ~(below | above | m.isnan(xv) | (xv == xpv[-1]))
        xs = where(inside, x, x0)         # no inf or NaN reaches a derivative
        slope = divide(subtract(y1, y0), subtract(x1, x0))
        res = add(multiply(slope, subtract(xs, x0)), y0)
        resv = lower(res)
        if bool(m.isnan(resv).any()):     # NumPy's fallbacks for infinite values
            res2 = add(multiply(slope, subtract(xs, x1)), y1)
            res2 = where(m.isnan(lower(res2)) & (lower(y0) == lower(y1)), y0, res2)
            res = where(m.isnan(resv), res2, res)
        res = where(xv == xpv[-1], _getitem(fp, -1), res)
        res = where(m.isnan(xv), np.nan, res)
    res = where(below, left, where(above, right, res))
    return base.astype(res, f64)


def _mod(x, period, m):
    """``x % period`` (NumPy's value exactly) with the derivative of ``x``."""
    r = m.mod(*base.on_device(m, (lower(x),)), period)   # (a traced Python float x: host)
    if not isinstance(x, Tracer):
        return r
    return add(subtract(x, lower(x)), r)


# ------------------------------------------------------------------ convolution

_MODES = {"valid": 0, "same": 1, "full": 2, 0: 0, 1: 1, 2: 2}


def _mode(mode):
    try:
        return _MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})") \
            from None


def _vectors(a, v, what):
    xp = _xp(a, v)
    (a, v), _ = prepare(_asarray(a, xp), _asarray(v, xp))
    a, v = (base.reshape(u, (1,)) if not shape(u) else u for u in (a, v))
    if len(shape(a)) > 1 or len(shape(v)) > 1:
        raise ValueError(f"{what}: object too deep for desired array (1-d inputs only)")
    return a, v, xp


def _correlate(a, v, mode):
    """NumPy's correlation of ``a`` with ``v`` for ``len(a) >= len(v) >= 1``:
    ``out[i] = sum_j a[i - left + j] v[j]`` (zero outside ``a``), a gathered Hankel
    matrix of ``a`` times ``v``."""
    n1, n2 = shape(a)[0], shape(v)[0]
    left, right, length = ((0, 0, n1 - n2 + 1), (n2 // 2, n2 - 1 - n2 // 2, n1),
                           (n2 - 1, n2 - 1, n1 + n2 - 1))[mode]
    xp = base.xp_of(lower(a))
    idx = xp.arange(length)[:, None] + xp.arange(n2)[None, :]
    return matmul(take(pad(a, (left, right)), idx), v)


def correlate(a, v, mode="valid"):
    """Cross-correlation of two 1-d sequences, like ``numpy.correlate``:
    ``out[k] = sum_n a[n + k] v[n]``, modes 'valid' (default), 'same' and 'full' (NumPy's
    alignment, including its swap-and-reverse when ``v`` is longer than ``a``).
    Bilinear, computed as a gathered Hankel matrix of the longer input times the shorter
    (O(n m)); every derivative is again a gather, scatter or matmul.

    Example::

        >>> gnp.correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]), "full")
        array([1., 2., 3., 0.])
    """
    a, v, _ = _vectors(a, v, "correlate")
    if shape(a)[0] == 0:
        raise ValueError("first array argument cannot be empty")
    if shape(v)[0] == 0:
        raise ValueError("second array argument cannot be empty")
    mode = _mode(mode)
    # NumPy's correlate conjugates v: out[k] = sum_n a[n + k] conj(v[n]).
    if shape(a)[0] < shape(v)[0]:
        return flip(_cx.conj(_correlate(v, _cx.conj(a), mode)))
    return _correlate(a, _cx.conj(v), mode)


def convolve(a, v, mode="full"):
    """Discrete linear convolution of two 1-d sequences, like ``numpy.convolve``:
    ``out[k] = sum_m a[m] v[k - m]``, modes 'full' (default), 'same' and 'valid' (as
    NumPy: the longer input is the signal, so the result is symmetric in ``a``, ``v``).
    Bilinear; computed as :func:`correlate` with the reversed shorter input.

    Example::

        >>> gnp.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
        array([0. , 1. , 2.5, 4. , 1.5])
    """
    a, v, _ = _vectors(a, v, "convolve")
    if shape(a)[0] == 0:
        raise ValueError("a cannot be empty")
    if shape(v)[0] == 0:
        raise ValueError("v cannot be empty")
    if shape(v)[0] > shape(a)[0]:
        a, v = v, a
    return _correlate(a, flip(v), _mode(mode))


# ------------------------------------------------------------------ polynomials

def _coefficients(p, xp, what="Polynomial"):
    (p,), _ = prepare(_asarray(p, xp))
    if not shape(p):
        p = base.reshape(p, (1,))
    if len(shape(p)) > 1:
        raise ValueError(f"{what} must be 1d only.")
    return p


def polyval(p, x):
    """Value of the polynomial with coefficients ``p`` (highest power first) at ``x``, by
    Horner's rule as ``numpy.polyval``: ``y = y * x + p[i]``. Differentiable in ``p`` and
    ``x``.

    Example::

        >>> gpuad.grad(lambda x: gnp.polyval(np.array([1.0, 0.0, -1.0]), x))(np.array(3.0))
        array(6.)
    """
    xp = _xp(p, x)
    p, x = _asarray(p, xp), _asarray(x, xp)
    if not shape(p):
        raise TypeError("iteration over a 0-d array")
    (p, x), _ = prepare(p, x)
    y = xp.zeros(shape(x), dtype=dtype_of(x))
    for i in range(shape(p)[0]):
        y = add(multiply(y, x), _getitem(p, i))
    return y


def _padded_pair(a1, a2):
    xp = _xp(a1, a2)
    a1, a2 = prepare(_asarray(a1, xp), _asarray(a2, xp))[0]   # one dtype, NumPy's for both
    a1, a2 = _coefficients(a1, xp), _coefficients(a2, xp)
    d = shape(a2)[0] - shape(a1)[0]
    if d > 0:
        a1 = pad(a1, (d, 0))
    elif d < 0:
        a2 = pad(a2, (-d, 0))
    return a1, a2


def polyadd(a1, a2):
    """Sum of two polynomials (coefficients highest power first, the shorter padded with
    leading zeros), like ``numpy.polyadd``. Linear.

    Example::

        >>> gnp.polyadd(np.array([1.0, 2.0]), np.array([1.0, 0.0, 0.0]))
        array([1., 1., 2.])
    """
    return add(*_padded_pair(a1, a2))


def polysub(a1, a2):
    """Difference of two polynomials, like ``numpy.polysub``. Linear.

    Example::

        >>> gnp.polysub(np.array([1.0, 2.0]), np.array([1.0, 0.0, 0.0]))
        array([-1.,  1.,  2.])
    """
    return subtract(*_padded_pair(a1, a2))


def _trimmed(p, xp):
    """``numpy.poly1d``'s coefficients: leading zeros trimmed (``[0]`` if all are)."""
    p = _coefficients(p, xp)
    nz = xp.flatnonzero(lower(p) != 0)
    start = int(nz[0]) if nz.size else shape(p)[0] - 1
    return _slice(p, 0, max(start, 0)) if shape(p)[0] else pad(p, (1, 0))


def polymul(a1, a2):
    """Product of two polynomials, like ``numpy.polymul``: the :func:`convolve` of their
    coefficients. As NumPy (through ``poly1d``), leading zero coefficients are trimmed
    first, so the result's length depends on them; those (exactly zero) coefficients get
    derivative zero. Bilinear otherwise.

    Example::

        >>> gnp.polymul(np.array([1.0, 1.0]), np.array([1.0, -1.0]))
        array([ 1.,  0., -1.])
    """
    xp = _xp(a1, a2)
    a1, a2 = prepare(_asarray(a1, xp), _asarray(a2, xp))[0]   # one dtype, NumPy's for both
    return convolve(_trimmed(a1, xp), _trimmed(a2, xp))


def polyder(p, m=1):
    """m-th derivative of a polynomial (coefficients highest power first), like
    ``numpy.polyder``: ``p[:-1] * [n, n-1, ..., 1]`` applied m times. Linear.

    Example::

        >>> gnp.polyder(np.array([1.0, 2.0, 3.0]))
        array([2., 2.])
    """
    m = int(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    xp = _xp(p)
    p = _asarray(p, xp)
    if not shape(p):
        raise TypeError("len() of unsized object")
    for _ in range(m):
        n = shape(p)[0] - 1
        p = multiply(_slice(p, 0, None, -1), xp.arange(n, 0, -1))
    return prepare(p)[0][0]


def polyint(p, m=1, k=None):
    """m-th antiderivative of a polynomial, like ``numpy.polyint``: each step
    ``concatenate([p / [n, ..., 1], [k_i]])`` with integration constants ``k`` (a scalar,
    or m values; default zeros). Linear in ``p`` and ``k``; float64 as NumPy.

    Example::

        >>> gnp.polyint(np.array([3.0, 2.0]), k=1.0)
        array([1.5, 2. , 1. ])
    """
    m = int(m)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    xp = _xp(p, k)
    k = xp.zeros(m, dtype=np.float64) if k is None else _asarray(k, xp)
    (k,), _ = prepare(k)
    if not shape(k):
        k = base.reshape(k, (1,))
    if shape(k)[0] == 1 and m > 1:
        k = broadcast_to(k, (m,))
    if shape(k)[0] < m:
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    p = _asarray(p, xp)
    if m == 0:
        return p
    if not shape(p):
        raise TypeError("len() of unsized object")
    for i in range(m):
        n = shape(p)[0]
        p = concatenate(prepare(divide(p, xp.arange(n, 0, -1)), _slice(k, 0, i, i + 1))[0])
    return p


def poly(seq_of_zeros):
    """Coefficients of the monic polynomial with the given roots, like ``numpy.poly``:
    ``prod_i (x - r_i)``, built by multiplying in one root at a time. Differentiable in
    the roots (1-d). A square matrix (its eigenvalues' polynomial) is passed to the array
    module's ``poly`` when not traced, refused when traced (TypeError). No roots: 1.0.

    Example::

        >>> gnp.poly(np.array([1.0, 2.0]))
        array([ 1., -3.,  2.])
    """
    xp = _xp(seq_of_zeros)
    r = _asarray(seq_of_zeros, xp)
    s = tuple(shape(r))
    if len(s) == 2 and s[0] == s[1] and s[0] != 0:
        if isinstance(r, Tracer):
            raise TypeError("gpuad.numpy.poly: the characteristic polynomial of a traced "
                            "matrix needs eigenvalues, which gpuad does not differentiate; "
                            "pass gpuad.stop_gradient(seq_of_zeros)")
        return xp.poly(r)
    if len(s) > 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    (r,), _ = prepare(r)
    if not s or s[0] == 0:
        if not s:
            r = base.reshape(r, (1,))
        else:
            return 1.0
    a = xp.ones((1,), dtype=dtype_of(r))
    for i in range(shape(r)[0]):
        a = subtract(pad(a, (0, 1)), multiply(_getitem(r, i), pad(a, (1, 0))))
    return a


def vander(x, N=None, increasing=False):
    """Vandermonde matrix, like ``numpy.vander``: ``out[i, j] = x[i] ** (N - 1 - j)``
    (``x[i] ** j`` with ``increasing``); float64 for float32 ``x``, as NumPy. The powers
    are running products (:func:`cumprod`), so the derivative is exact at ``x = 0``.

    Example::

        >>> gnp.vander(np.array([2.0, 3.0]), 3)
        array([[4., 2., 1.],
               [9., 3., 1.]])
    """
    xp = _xp(x)
    x = _asarray(x, xp)
    if len(shape(x)) != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    (x,), _ = prepare(x)
    x = base.astype(x, np.promote_types(dtype_of(x), np.int64))
    n = shape(x)[0]
    N = n if N is None else int(N)
    cols = [xp.ones((n, min(N, 1)), dtype=dtype_of(x))]
    if N > 1:
        cols.append(_scan_multiply(broadcast_to(reshape(x, (n, 1)), (n, N - 1)), 1))
    v = concatenate(cols, 1) if len(cols) > 1 else cols[0]
    return v if increasing else flip(v, 1)


def unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    """Unwrap phase-like values, like ``numpy.unwrap``: where consecutive values jump by
    more than ``max(discont, period / 2)``, a multiple of ``period`` is added to what
    follows so the jump becomes its remainder in ``[-period/2, period/2]``.

    The added offsets are piecewise constant, so the derivative of ``p`` passes through
    unchanged (identity); ``discont`` is a threshold (derivative zero); a traced
    ``period`` is refused (TypeError).

    Example::

        >>> gnp.unwrap(np.array([0.0, 3.0, 6.5]), period=4.0)
        array([ 0. , -1. , -1.5])
    """
    if isinstance(period, Tracer):
        raise TypeError("gpuad.numpy.unwrap: a traced `period` is not differentiated; pass "
                        "gpuad.stop_gradient(period)")
    xp = _xp(p)
    p = _asarray(p, xp)
    (p,), _ = prepare(p)
    nd = len(shape(p))
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    (axis,) = normalize_axis(axis, nd)
    pv = lower(p)
    dd = xp.diff(pv, axis=axis)
    if discont is None:
        discont = period / 2
    discont = lower(discont)
    if np.result_type(dd.dtype, period).kind in "iu":
        high, rem = divmod(period, 2)
        ambiguous = rem == 0
    else:
        high, ambiguous = period / 2, True
    ddmod = xp.mod(dd + high, period) - high
    if ambiguous:
        ddmod = xp.where((ddmod == -high) & (dd > 0), high, ddmod)
    correct = xp.where(abs(dd) < discont, 0, ddmod - dd)
    offsets = xp.cumsum(correct, axis=axis)
    # NumPy's result dtype: result_type(diff(p), period) (np.float64 period: float64)
    dt = np.result_type(dd.dtype, period)
    dt = dt if dt.kind in "fc" else pv.dtype
    offsets = xp.concatenate([xp.zeros_like(pv[_along(axis, nd, slice(0, 1))], dtype=dt),
                              offsets.astype(dt)], axis=axis)
    return add(base.astype(p, dt), offsets)
