"""Statistics of gpuad.numpy: order statistics, weighted means, covariance and the
NaN-ignoring reductions, written with the sort, gather, select and reduction primitives.

Conventions (README's table): an order statistic is differentiated as a gather of the
entries it selects or interpolates (for ties, the entries ``argsort`` places there); a
NaN-ignoring reduction gives its NaN entries derivative zero; a NaN that a NaN-ignoring
function makes up (an all-NaN slice, too few degrees of freedom) is a constant: derivative
zero at every order, in both modes.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..core import Tracer
from ..primitives import base
from ..primitives.complex import abs2, conj, real, imag, make_complex
from ._core import prepare, normalize_axis, shape, lower, dtype as dtype_of, numpy_out, ddof_of
from ._elementwise import add, subtract, multiply, divide, sqrt, where
from ._elementwise import where as _select      # where the functions' where= shadows it
from ._reductions import sum, mean, prod, max, min, cumsum, sort, outside as _outside
from ._indexing import take_along_axis
from ._linalg import matmul
from ._shape import concatenate, diagonal
from ._sequences import cumprod

__all__ = ["bincount", "median", "average", "quantile", "percentile", "ptp", "cov", "corrcoef",
           "nansum", "nanmean", "nanmax", "nanmin", "nanvar", "nanstd", "nanprod",
           "nancumsum", "nancumprod", "nanmedian", "nanquantile", "nanpercentile"]


def _warn(message):
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _isnan(a):
    v = lower(a)
    return base.xp_of(v).isnan(v)


def _nan_where(bad, out):
    """``out`` with NaN where ``bad``: a constant there (zero derivative at every order)."""
    return where(bad, np.nan, out)


def _no_out(out, name):
    if out is not None:
        raise NotImplementedError(f"gpuad.numpy.{name}: out= is not supported (traced arrays "
                                  "are immutable); use the returned array")


# ------------------------------------------------------------------ layout of a reduction

def _last(a, axis):
    """``a`` with the axes of ``axis`` moved last and merged into one: ``(*rest, n)``;
    with ``rest`` and the shape a result keeps with ``keepdims``."""
    s = tuple(shape(a))
    axes = normalize_axis(axis, len(s))
    keep = [i for i in range(len(s)) if i not in axes]
    rest = tuple(s[i] for i in keep)
    n = int(np.prod([s[i] for i in axes], dtype=np.int64))
    x = base.reshape(base.transpose(a, keep + list(axes)), rest + (n,))
    return x, rest, tuple(1 if i in axes else d for i, d in enumerate(s))


def _finish(res, qshape, rest, kept, keepdims):
    """``res`` of shape ``(*rest, k)`` as ``qshape + rest`` (``kept`` for keepdims)."""
    res = base.transpose(res, (len(rest),) + tuple(range(len(rest))))
    return base.reshape(res, tuple(qshape) + (kept if keepdims else rest))


# ------------------------------------------------------------------ order statistics

def _sorted_last(a, axis):
    x, rest, kept = _last(a, axis)
    return sort(x, axis=-1), rest, kept


def _mid_indices(counts, xp):
    """The two middle positions (equal for an odd count) of ``counts`` sorted values."""
    counts = xp.asarray(counts)
    return xp.stack([(counts - 1) // 2, counts // 2], axis=-1)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median along ``axis`` (int, tuple or None: all), like ``numpy.median``: the middle
    of the sorted values, or the mean of the two middle ones for an even count.

    Derivative: a gather of the middle entries (1, or 1/2 each); for ties, the entries
    ``argsort`` places in the middle get it. A slice holding NaN gives NaN, the entry
    sorted last (as NumPy), and that entry gets the derivative. An empty slice gives NaN
    (NumPy's "Mean of empty slice" RuntimeWarning), a constant. ``out`` is not supported;
    ``overwrite_input`` has no effect.

    Example::

        >>> gpuad.grad(gnp.median)(np.array([3.0, 1.0, 2.0, 5.0]))
        array([0.5, 0. , 0.5, 0. ])
    """
    _no_out(out, "median")
    (a,), xp = prepare(a)
    xs, rest, kept = _sorted_last(a, axis)
    n = shape(xs)[-1]
    if n == 0:
        _warn("Mean of empty slice")
        return xp.full(kept if keepdims else rest, np.nan, dtype=dtype_of(a))
    idx = xp.broadcast_to(_mid_indices(n, xp), rest + (2,))
    idx = xp.where(_isnan(xs)[..., -1:], n - 1, idx)
    mid = take_along_axis(xs, idx, axis=-1)
    res = mid[..., :1] if n % 2 else divide(sum(mid, axis=-1, keepdims=True), 2.0)
    return _finish(res, (), rest, kept, keepdims)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median ignoring NaNs, like ``numpy.nanmedian``: the median of each slice's non-NaN
    values, ``(s[lo] + s[hi]) / 2`` with ``lo, hi`` the middle positions among them.

    Derivative: a gather of the middle entries (ties as :func:`median`); NaN entries get
    zero. An all-NaN slice gives NaN with NumPy's "All-NaN slice encountered"
    RuntimeWarning; that NaN is a constant (derivative zero, every order and mode). An
    empty array gives :func:`nanmean`'s result, as NumPy.

    Example::

        >>> gpuad.grad(gnp.nanmedian)(np.array([3.0, np.nan, 1.0]))
        array([0.5, 0. , 0.5])
    """
    _no_out(out, "nanmedian")
    (a,), xp = prepare(a)
    if _size(a) == 0:
        return nanmean(a, axis=axis, keepdims=keepdims)
    xs, rest, kept = _sorted_last(a, axis)
    valid = shape(xs)[-1] - xp.sum(_isnan(xs), axis=-1)
    bad = valid == 0
    mid = take_along_axis(xs, _mid_indices(xp.maximum(valid, 1), xp), axis=-1)
    res = multiply(sum(mid, axis=-1, keepdims=True), 0.5)
    if bool(bad.any()):
        _warn("All-NaN slice encountered")
        res = _nan_where(bad[..., None], res)
    return _finish(res, (), rest, kept, keepdims)


def _given_dtype(a):
    """The dtype of ``a`` as given (before conversion to a floating dtype)."""
    v = lower(a)
    return np.dtype(v.dtype) if hasattr(v, "dtype") else np.asarray(v).dtype


def _size(a):
    return int(np.prod(shape(a), dtype=np.int64))


def _formula(alpha, beta):
    # NumPy's _compute_virtual_index, term for term (the same rounding).
    return lambda n, q: n * q + (alpha + q * (1 - alpha - beta)) - 1


# Virtual index of the quantile q among n sorted values, per method (Hyndman & Fan).
# SMOOTH: interpolating, differentiable in q; STEP: interpolating with a piecewise-constant
# weight; the others select one entry.
_SMOOTH = {
    "linear": lambda n, q: (n - 1) * q,
    "weibull": _formula(0.0, 0.0),
    "hazen": _formula(0.5, 0.5),
    "interpolated_inverted_cdf": _formula(0.0, 1.0),
    "median_unbiased": _formula(1 / 3.0, 1 / 3.0),
    "normal_unbiased": _formula(3 / 8.0, 3 / 8.0),
}
_STEP = ("averaged_inverted_cdf", "midpoint")
_SELECT = ("inverted_cdf", "closest_observation", "lower", "higher", "nearest")


def _select_index(method, n, q, xp):
    """The one position (int array) a selecting method takes, as NumPy computes it."""
    if method == "lower":
        return xp.floor((n - 1) * q)
    if method == "higher":
        return xp.ceil((n - 1) * q)
    if method == "nearest":
        return xp.around((n - 1) * q)
    index = n * q - 1 - (0.5 if method == "closest_observation" else 0.0)
    prev = xp.floor(index)
    at = (index - prev) == 0
    if method == "closest_observation":
        at &= prev % 2 == 1
    return xp.maximum(xp.where(at, prev, prev + 1), 0)


def _interpolation(method, n, q, qv, xp):
    """(lower positions, upper positions, weight) of an interpolating method; the weight
    is traced where ``q`` is and the method is smooth in it."""
    if method in _SMOOTH:
        vi = _SMOOTH[method](n, q)
    elif method == "averaged_inverted_cdf":
        vi = n * qv - 1
    else:                                       # midpoint
        vi = 0.5 * (xp.floor((n - 1) * qv) + xp.ceil((n - 1) * qv))
    (v,) = base.on_device(xp, (lower(vi),))    # (a traced Python float q: a host value)
    prev = xp.floor(v)
    gamma = vi - prev
    if method == "averaged_inverted_cdf":
        gamma = xp.where(gamma == 0, 0.5, 1.0).astype(v.dtype)
    elif method == "midpoint":
        gamma = xp.where(v % 1 == 0, 0.0, 0.5).astype(v.dtype)
    top = xp.isnan(v) | (v >= n - 1)
    lo = xp.where(top, n - 1, xp.where(v < 0, 0, prev))
    hi = xp.where(top, n - 1, xp.where(v < 0, 0, prev + 1))
    return lo, hi, gamma


def _lerp(a, b, t, weak):
    """NumPy's _lerp, from the nearer end (t = 1 gives b exactly). A ``weak`` t is a
    Python float there: ``1 - t`` is formed before rounding to the dtype of a and b."""
    u = subtract(1, t)
    near_b = lower(t) >= 0.5
    if weak:
        t, u = base.astype(t, dtype_of(a)), base.astype(u, dtype_of(a))
    d = subtract(b, a)
    return where(near_b, subtract(b, multiply(d, u)), add(a, multiply(d, t)))


def _weighted_index(x, w, q, valid, xp):
    """NumPy's weighted inverted_cdf: the first sorted position whose normalised
    cumulative weight reaches q (weights of NaN entries count as zero)."""
    order = xp.argsort(x, axis=-1)
    ws = xp.take_along_axis(xp.broadcast_to(w, x.shape), order, axis=-1)
    ws = xp.where(xp.arange(x.shape[-1]) < valid, ws, 0)
    ws = xp.where(valid == 0, 1, ws)              # all-NaN slices: NaN anyway, no error
    cdf = xp.cumsum(ws, axis=-1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf /= cdf[..., -1:]
    if bool(xp.isnan(cdf[..., -1]).any()):
        raise ValueError("Weights included NaN, inf or were all zero.")
    cdf = cdf.astype(q.dtype)
    cdf[cdf == 0] = -1
    idx = xp.sum(cdf[..., None, :] < q[:, None], axis=-1)
    return xp.minimum(idx, xp.maximum(valid, 1) - 1)


def _weights_for(a, weights, axis, xp):
    """NumPy's _weights_are_valid: ``weights`` (traced or not) made broadcastable
    against ``a``: as is when shaped like ``a``, else laid along ``axis``."""
    w = weights if isinstance(weights, Tracer) else xp.asarray(lower(weights))
    s = tuple(shape(a))
    if tuple(shape(w)) == s:
        return w
    if axis is None:
        raise TypeError("Axis must be specified when shapes of a and weights differ.")
    given = tuple(normalize_axis(ax, len(s))[0] for ax in
                  ((axis,) if isinstance(axis, (int, np.integer)) else axis))
    if tuple(shape(w)) != tuple(s[ax] for ax in given):
        raise ValueError("Shape of weights must be consistent with shape of a along "
                         "specified axis.")
    w = base.transpose(w, tuple(int(i) for i in np.argsort(given)))
    return base.reshape(w, tuple(k if ax in given else 1 for ax, k in enumerate(s)))


def _quantile(a, q, axis, method, keepdims, weights, nan, percent):
    in_dtype = _given_dtype(a)
    (a,), xp = prepare(a)
    weak = type(q) in (int, float)
    if isinstance(q, Tracer):
        if method not in _SMOOTH:
            q = lower(q)                 # the result is piecewise constant in q: derivative 0
        elif percent:
            q = divide(q, 100)
    if not isinstance(q, Tracer):
        q = xp.asarray(lower(q))
        if percent:
            q = xp.true_divide(q, 100)
        if q.dtype.kind != "f":
            q = q.astype(np.float64)
    qv = lower(q)
    if qv.ndim > 2:
        raise ValueError("q must be a scalar or 1d")
    if not bool(((qv >= 0) & (qv <= 1)).all()):
        raise ValueError("Percentiles must be in the range [0, 100]" if percent else
                         "Quantiles must be in the range [0, 1]")
    if method not in _SMOOTH and method not in _STEP and method not in _SELECT:
        raise ValueError(f"{method!r} is not a valid method. Use one of: "
                         f"{list(_SMOOTH) + list(_STEP) + list(_SELECT)}")
    if weights is not None:
        if method != "inverted_cdf":
            raise ValueError(f"Only method 'inverted_cdf' supports weights. Got: {method}.")
        weights = _weights_for(a, lower(weights), axis, xp)   # piecewise constant in them
        if bool((weights < 0).any()):
            raise ValueError("Weights must be non-negative.")
    if nan and _size(a) == 0:
        return nanmean(a, axis=axis, keepdims=keepdims)
    qshape = tuple(shape(q))
    q = base.reshape(q, (-1,)) if isinstance(q, Tracer) else q.reshape(-1)
    qv = lower(q)
    xs, rest, kept = _sorted_last(a, axis)
    n = shape(xs)[-1]
    if n == 0:
        raise IndexError("index -1 is out of bounds for axis 0 with size 0")
    isnan = _isnan(xs)
    if nan:
        valid = (n - xp.sum(isnan, axis=-1, keepdims=True)).astype(qv.dtype)
        bad = valid[..., 0] == 0
        count = xp.maximum(valid, 1)
        fill = np.nan
    else:
        valid = count = n
        bad = isnan[..., -1]
        fill = xs[..., -1:]
    if weights is not None:
        w, _, _ = _last(xp.broadcast_to(weights, tuple(shape(a))), axis)
        lo = hi = _weighted_index(_last(lower(a), axis)[0], w, qv, valid, xp)
        gamma = None
    elif method in _SELECT:
        lo = hi = xp.minimum(_select_index(method, count, qv, xp), count - 1)
        gamma = None
    else:
        lo, hi, gamma = _interpolation(method, count, q, qv, xp)
    full = rest + (qv.size,)
    lo = xp.broadcast_to(lo, full).astype(np.intp)
    A = take_along_axis(xs, lo, axis=-1)
    any_bad = bool(bad.any())
    if nan and any_bad:
        _warn("All-NaN slice encountered")
    if gamma is None:
        res = A
    else:
        B = take_along_axis(xs, xp.broadcast_to(hi, full).astype(np.intp), axis=-1)
        if any_bad:          # keep NaN out of the weight's derivative
            A, B = where(bad[..., None], 0.0, A), where(bad[..., None], 0.0, B)
        res = _lerp(A, B, gamma, weak)
    if any_bad:
        # NumPy returns the NaN entry itself for a 0-d result (in a's dtype).
        res = fill if not nan and not rest and not qshape else where(bad[..., None], fill, res)
    if in_dtype.kind in "biu" and gamma is None:
        res = lower(res).astype(in_dtype)
    return _finish(res, qshape, rest, kept, keepdims)


_QUANTILE_DOC = """{title}, like ``numpy.{name}``, for every method NumPy has
    (``method=``, default ``"linear"``); ``q`` is a scalar or 1-d (the result has q's
    dimensions first). ``weights`` (method ``"inverted_cdf"`` only) as NumPy.

    Derivative: a gather of the selected entries, or of the two entries interpolated
    between, ``s[j] + g (s[j+1] - s[j])`` with ``g`` the method's weight (for ties: the
    entries ``argsort`` places at j, j+1). {nan} The interpolating methods
    ``linear``, ``weibull``, ``hazen``, ``interpolated_inverted_cdf``, ``median_unbiased``
    and ``normal_unbiased`` are differentiable in a traced ``q``
    (``(s[j+1] - s[j]) dj/dq``); for the others, and in ``weights``, the result is
    piecewise constant: derivative zero. ``out`` is not supported.

    Example::

        >>> gpuad.grad(lambda x: gnp.{name}(x, {q}))(np.array([1.0, 2.0, 4.0]))
        {grad}
    """

_NAN_PROPAGATES = ("A slice holding NaN gives NaN, the entry sorted last (as NumPy); "
                   "that entry gets the derivative.")
_NAN_IGNORED = ("NaN entries are ignored and get derivative zero; an all-NaN slice gives "
                "NaN with NumPy's \"All-NaN slice encountered\" RuntimeWarning, a constant "
                "(derivative zero at every order, also in q). An empty array gives "
                ":func:`nanmean`'s result, as NumPy.")


def _quantile_function(name, title, q, nan, percent):
    def f(a, q, axis=None, out=None, overwrite_input=False, method="linear",
          keepdims=False, *, weights=None):
        _no_out(out, name)
        return _quantile(a, q, axis, method, keepdims, weights, nan, percent)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = _QUANTILE_DOC.format(title=title, name=name, q=q, grad="array([0.5, 0.5, 0. ])",
                                     nan=_NAN_IGNORED if nan else _NAN_PROPAGATES)
    return f


quantile = _quantile_function("quantile", "The q-th quantile along ``axis``", "0.25",
                              False, False)
percentile = _quantile_function("percentile", "The q-th percentile (q in [0, 100]) along "
                                "``axis``", "25", False, True)
nanquantile = _quantile_function("nanquantile", "The q-th quantile ignoring NaNs", "0.25",
                                 True, False)
nanpercentile = _quantile_function("nanpercentile", "The q-th percentile ignoring NaNs",
                                   "25", True, True)


# ------------------------------------------------------------------ counts

def bincount(x, /, weights=None, minlength=0):
    """``numpy.bincount``: how often each non-negative integer occurs in ``x``, or with
    ``weights`` the sum of the weights of its occurrences (float64, as NumPy).

    Linear in ``weights``: the derivative of bin i is the sum of the tangents of the
    weights where ``x == i``; the cotangent of bin i goes to each of them. ``x`` holds
    integers, read as values (no derivative). NumPy's checks and errors (negative entries,
    shapes that differ).

    Example::

        >>> gpuad.grad(lambda w: gnp.bincount(np.array([0, 2, 2]), w)[2])(np.ones(3))
        array([0., 1., 1.])
    """
    from ._select import at
    xv = lower(x)
    xp = base.xp_of(xv, lower(weights) if weights is not None else None)
    xv = xp.asarray(xv)
    if not isinstance(weights, Tracer):
        return xp.bincount(xv, weights=None if weights is None else xp.asarray(lower(weights)),
                           minlength=minlength)
    # NumPy's (or CuPy's) result for the checks, the length and the dtype
    value = xp.bincount(xv, weights=lower(weights), minlength=minlength)
    w = base.astype(weights, value.dtype)
    return at(xp.zeros(value.shape, dtype=value.dtype))[xv].add(w)


# ------------------------------------------------------------------ means and spreads

def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """Weighted average along ``axis``, like ``numpy.average``:
    ``sum(a * w) / sum(w)``; without weights, :func:`mean`. ``weights`` has ``a``'s shape,
    or (with ``axis``) the shape of ``a`` along ``axis``. With ``returned=True`` also the
    sum of the weights (the count without weights), broadcast to the result's shape.

    Differentiable in ``a`` and ``weights``. Weights summing to zero raise
    ZeroDivisionError, shapes that do not fit TypeError/ValueError, as NumPy.

    Example::

        >>> gpuad.grad(lambda w: gnp.average(np.array([1.0, 3.0]), weights=w))(np.ones(2))
        array([-0.5,  0.5])
    """
    (a,), xp = prepare(a)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        scl = xp.asarray(_size(a) / _size(avg), dtype=dtype_of(avg))
    else:
        w = _weights_for(a, weights, axis, xp)
        (a, w), _ = prepare(a, w)
        scl = sum(w, axis=axis, keepdims=keepdims)
        if bool((lower(scl) == 0).any()):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = divide(sum(multiply(a, w), axis=axis, keepdims=keepdims), scl)
    if not returned:
        return avg
    if tuple(shape(scl)) != tuple(shape(avg)):
        scl = base.broadcast_to(scl, shape(avg))
    return avg, scl


def ptp(a, axis=None, keepdims=False):
    """Range ``max - min`` along ``axis``, like ``numpy.ptp``. Derivative: that of
    :func:`max` minus that of :func:`min` (tied extremes share it evenly).

    Example::

        >>> gpuad.grad(gnp.ptp)(np.array([2.0, 5.0, 1.0]))
        array([ 0.,  1., -1.])
    """
    return subtract(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
        dtype=None):
    """Covariance matrix, like ``numpy.cov``: rows of ``m`` (and of ``y``, appended) are
    variables, columns observations (``rowvar=False``: the transpose);
    ``c = (X - avg) W (X - avg)^T / fact`` with weights ``W = fweights * aweights`` and
    NumPy's ``fact`` (``N - ddof`` unweighted). A single variable gives a 0-d result.

    Differentiable in ``m``, ``y`` and both weights. The result is float64 unless
    ``dtype`` says otherwise (NumPy's promotion with float64). Degrees of freedom <= 0
    warn as NumPy and divide by zero.

    Example::

        >>> gpuad.grad(lambda m: gnp.cov(m))(np.array([1.0, 2.0, 4.0]))
        array([-1.33333333, -0.33333333,  1.66666667])
    """
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    if len(shape(m)) > 2:
        raise ValueError("m has more than 2 dimensions")
    if y is not None and len(shape(y)) > 2:
        raise ValueError("y has more than 2 dimensions")
    (X,), xp = prepare(m)
    if dtype is None:
        dtype = np.result_type(*[_given_dtype(v) for v in (m, y) if v is not None],
                               np.float64)
    X = _rows(X, rowvar, len(shape(m)) != 1, dtype)
    if shape(X)[0] == 0:
        return xp.array([], dtype=np.float64).reshape(0, 0)
    if y is not None:
        (Y,), _ = prepare(y)
        X = concatenate([X, _rows(Y, rowvar, None, dtype)], axis=0)
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    w = None
    if fweights is not None:
        fw = _weight_vector(fweights, X, xp, "fweights")
        fv = lower(fw)
        if not bool((fv == xp.around(fv)).all()):
            raise TypeError("fweights must be integer")
        w = fw
    if aweights is not None:
        aw = _weight_vector(aweights, X, xp, "aweights")
        w = aw if w is None else multiply(w, aw)
    n = shape(X)[1]
    if w is None:
        avg = mean(X, axis=1)
        fact = n - ddof
    else:
        avg, w_sum = average(X, axis=1, weights=w, returned=True)
        w_sum = w_sum[0]
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = subtract(w_sum, ddof)
        else:
            fact = subtract(w_sum, divide(multiply(ddof, sum(multiply(w, aw))), w_sum))
    if bool(lower(fact) <= 0):
        _warn("Degrees of freedom <= 0 for slice")
        fact = 0.0
    X = subtract(X, base.reshape(avg, (-1, 1)))
    X_T = conj(base.transpose(X if w is None else multiply(X, w), (1, 0)))
    c = matmul(X, X_T)
    with np.errstate(divide="ignore"):
        inv = divide(1, fact) if isinstance(fact, Tracer) else np.true_divide(1, fact)
    c = base.astype(multiply(c, inv), np.dtype(dtype))    # NumPy: c *= 1 / fact in place
    return base.reshape(c, tuple(d for d in shape(c) if d != 1))


def _rows(X, rowvar, transpose, dt):
    """``X`` as a 2-d array of dtype ``dt`` whose rows are variables."""
    X = base.astype(X, np.dtype(dt))
    if len(shape(X)) < 2:
        X = base.reshape(X, (1,) * (2 - len(shape(X))) + tuple(shape(X)))
    if not rowvar and (transpose if transpose is not None else shape(X)[0] != 1):
        X = base.transpose(X, (1, 0))
    return X


def _weight_vector(wt, X, xp, name):
    (w,), _ = prepare(wt if isinstance(wt, Tracer) else xp.asarray(lower(wt), np.float64))
    w = base.astype(w, np.float64)
    if len(shape(w)) > 1:
        raise RuntimeError(f"cannot handle multidimensional {name}")
    if shape(w)[0] != shape(X)[1]:
        raise RuntimeError(f"incompatible numbers of samples and {name}")
    if bool((lower(w) < 0).any()):
        raise ValueError(f"{name} cannot be negative")
    return w


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """Pearson correlation coefficients, like ``numpy.corrcoef``:
    ``c_ij / sqrt(c_ii c_jj)`` of :func:`cov`, clipped to [-1, 1].

    Differentiable in ``x`` and ``y``; the clip passes the derivative through at
    ``|r| <= 1`` (so the diagonal, identically 1, gets ~0) and stops it where rounding
    pushed ``|r|`` above 1. A 0-d covariance gives ``c / c`` as NumPy.

    Example::

        >>> gnp.corrcoef(np.array([[1.0, 2.0, 4.0], [2.0, 1.0, 0.0]])).round(6)
        array([[ 1.      , -0.981981],
               [-0.981981,  1.      ]])
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if not shape(c):
        return divide(c, c)
    s = sqrt(real(diagonal(c)))
    c = divide(divide(c, base.reshape(s, (-1, 1))), base.reshape(s, (1, -1)))
    if dtype_of(c).kind == "c":       # NumPy clips the real and imaginary parts apart
        return make_complex(_clip1(real(c)), _clip1(imag(c)))
    return _clip1(c)


def _clip1(c):
    cv = lower(c)
    return where(cv > 1, 1.0, where(cv < -1, -1.0, c))


# ------------------------------------------------------------------ NaN-ignoring reductions

def _masked(a, fill):
    """``a`` (prepared) with NaN entries replaced by the constant ``fill`` (their
    derivative is zero), and the NaN mask."""
    (a,), xp = prepare(a)
    m = _isnan(a)
    return where(m, fill, a), m, xp


def nansum(a, axis=None, dtype=None, keepdims=False, *, initial=None, where=True):
    """Sum treating NaN as zero, like ``numpy.nansum`` (an all-NaN slice sums to 0).
    NaN entries get derivative zero.

    Example::

        >>> gpuad.grad(gnp.nansum)(np.array([1.0, np.nan]))
        array([1., 0.])
    """
    if where is not True:         # NumPy's where=: the entries outside it as NaN (skipped)
        a, _ = _outside(a, where, np.nan)
    x, _, _ = _masked(a, 0.0)
    return sum(x, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial)


def nanprod(a, axis=None, dtype=None, keepdims=False, *, initial=None, where=True):
    """Product treating NaN as one, like ``numpy.nanprod``; exact at zeros as :func:`prod`.
    NaN entries get derivative zero.

    Example::

        >>> gpuad.grad(gnp.nanprod)(np.array([2.0, np.nan, 3.0]))
        array([3., 0., 2.])
    """
    if where is not True:         # NumPy's where=: the entries outside it as NaN (skipped)
        a, _ = _outside(a, where, np.nan)
    x, _, _ = _masked(a, 1.0)
    return prod(x, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial)


def nancumsum(a, axis=None, dtype=None):
    """Running sum treating NaN as zero, like ``numpy.nancumsum``. NaN entries get
    derivative zero.

    Example::

        >>> gnp.nancumsum(np.array([1.0, np.nan, 2.0]))
        array([1., 1., 3.])
    """
    x, _, _ = _masked(a, 0.0)
    return cumsum(x, axis=axis, dtype=dtype)


def nancumprod(a, axis=None, dtype=None):
    """Running product treating NaN as one, like ``numpy.nancumprod``; exact at zeros as
    :func:`cumprod`. NaN entries get derivative zero.

    Example::

        >>> gnp.nancumprod(np.array([2.0, np.nan, 3.0]))
        array([2., 2., 6.])
    """
    x, _, _ = _masked(a, 1.0)
    return cumprod(x, axis=axis, dtype=dtype)


def _count(m, axis, keepdims, xp):
    return xp.sum(~m, axis=normalize_axis(axis, m.ndim), keepdims=keepdims)


def _per(total, count, bad, fill=True):
    """``total / count``, dividing by 1 where ``count <= 0`` (so no NaN reaches a
    derivative); NaN there (a constant) with ``fill`` and where ``bad`` holds."""
    xp = base.xp_of(count)
    out = divide(total, xp.maximum(count, 1).astype(dtype_of(total)))
    return _nan_where(bad, out) if fill and bad is not None and bool(xp.any(bad)) else out


def nanmean(a, axis=None, dtype=None, keepdims=False, *, where=True):
    """Mean of the non-NaN entries, like ``numpy.nanmean``: ``nansum / count``.

    NaN entries get derivative zero. An all-NaN (or empty) slice gives NaN with NumPy's
    "Mean of empty slice" RuntimeWarning; that NaN is a constant (derivative zero).

    Example::

        >>> gpuad.grad(gnp.nanmean)(np.array([1.0, np.nan, 3.0]))
        array([0.5, 0. , 0.5])
    """
    if where is not True:         # NumPy's where=: the entries outside it as NaN (skipped)
        a, _ = _outside(a, where, np.nan)
    x, m, xp = _masked(a, 0.0)
    cnt = _count(m, axis, keepdims, xp)
    bad = cnt == 0
    if bool(xp.any(bad)):
        _warn("Mean of empty slice")
    return _per(sum(x, axis=axis, dtype=dtype, keepdims=keepdims), cnt, bad)


def _nanvar(a, axis, dtype, ddof, keepdims, mean=None):
    """NumPy's nanvar before its NaN fill: (the variance, computed with safe counts so
    that no NaN reaches a derivative, and where it is NaN: degrees of freedom <= 0)."""
    x, m, xp = _masked(a, 0.0)
    if mean is None:
        cnt = _count(m, axis, True, xp)
        avg = _per(sum(x, axis=axis, dtype=dtype, keepdims=True), cnt, None)
    else:
        avg = mean
    d = where(m, 0.0, subtract(x, avg))
    var = sum(abs2(d), axis=axis, dtype=dtype, keepdims=keepdims)
    dof = _count(m, axis, keepdims, xp) - ddof
    bad = dof <= 0
    if bool(xp.any(bad)):
        _warn("Degrees of freedom <= 0 for slice.")
    return _per(var, dof, bad, fill=False), bad


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
           mean=None, correction=None):
    """Variance of the non-NaN entries, like ``numpy.nanvar``:
    ``sum((x - nanmean)^2) / (count - ddof)`` over the non-NaN x (``mean``, ``correction``
    and ``out`` as ``var``'s).

    NaN entries get derivative zero. Where ``count - ddof <= 0`` (an all-NaN slice among
    them) the result is NaN with NumPy's "Degrees of freedom <= 0 for slice." warning; that
    NaN is a constant (derivative zero).

    Example::

        >>> gpuad.grad(gnp.nanvar)(np.array([1.0, np.nan, 3.0]))
        array([-1.,  0.,  1.])
    """
    if out is not None:
        return numpy_out("nanvar", (a,), _moment_kw(axis, dtype, out, ddof, keepdims, where,
                                                    mean, correction))
    if where is not True:         # NumPy's where=: the entries outside it as NaN (skipped)
        a, _ = _outside(a, where, np.nan)
    var, bad = _nanvar(a, axis, dtype, ddof_of(ddof, correction), keepdims, mean)
    return _nan_where(bad, var) if bool(bad.any()) else var


def _moment_kw(axis, dtype, out, ddof, keepdims, where, mean, correction):
    kw = dict(axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where)
    kw.update({k: v for k, v in (("mean", mean), ("correction", correction)) if v is not None})
    return kw


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
           mean=None, correction=None):
    """Standard deviation of the non-NaN entries, ``sqrt(nanvar)``, like
    ``numpy.nanstd`` (``mean``, ``correction`` and ``out`` as ``var``'s). NaN entries get derivative zero; a NaN result (degrees of freedom
    <= 0) is a constant; where the variance is 0 (all non-NaN entries equal) the
    derivative is the subgradient 0, as :func:`std`'s.

    Example::

        >>> gpuad.grad(gnp.nanstd)(np.array([1.0, np.nan, 3.0]))
        array([-0.5,  0. ,  0.5])
    """
    if out is not None:
        return numpy_out("nanstd", (a,), _moment_kw(axis, dtype, out, ddof, keepdims, where,
                                                    mean, correction))
    if where is not True:         # NumPy's where=: the entries outside it as NaN (skipped)
        a, _ = _outside(a, where, np.nan)
    var, bad = _nanvar(a, axis, dtype, ddof_of(ddof, correction), keepdims, mean)
    pos = lower(var) > 0                      # (as std: no sqrt'(0) = inf meets a zero)
    out = _select(pos, sqrt(_select(pos, var, 1.0)), 0.0)
    if not bool(bad.any()):
        return out
    return _nan_where(bad, out)


def _nan_extremum(a, axis, keepdims, reduce, fill, initial, where, ufunc):
    if initial is not None:       # the extremum over the non-NaN entries inside where=
        (a,), xp = prepare(a)
        keep = ~xp.isnan(lower(a)) & (True if where is True else xp.asarray(lower(where)))
        return reduce(a, axis=axis, keepdims=keepdims, initial=initial, where=keep)
    if where is not True:
        raise ValueError(f"reduction operation '{ufunc}' does not have an identity, so to use "
                         "a where mask one has to specify 'initial'")
    x, m, xp = _masked(a, fill)
    out = reduce(x, axis=axis, keepdims=keepdims)
    allnan = xp.all(m, axis=normalize_axis(axis, m.ndim), keepdims=keepdims)
    if not bool(allnan.any()):
        return out
    _warn("All-NaN slice encountered")
    return _nan_where(allnan, out)


def nanmax(a, axis=None, keepdims=False, *, initial=None, where=True):
    """Largest non-NaN entry along ``axis``, like ``numpy.nanmax``. The derivative is
    :func:`max`'s (ties share it evenly); NaN entries get zero. An all-NaN slice gives NaN
    with NumPy's "All-NaN slice encountered" RuntimeWarning, a constant (derivative zero).

    Example::

        >>> gpuad.grad(gnp.nanmax)(np.array([1.0, np.nan, 3.0]))
        array([0., 0., 1.])
    """
    return _nan_extremum(a, axis, keepdims, max, -np.inf, initial, where, "fmax")


def nanmin(a, axis=None, keepdims=False, *, initial=None, where=True):
    """Smallest non-NaN entry along ``axis``, like ``numpy.nanmin``; conventions as
    :func:`nanmax`.

    Example::

        >>> gpuad.grad(gnp.nanmin)(np.array([1.0, np.nan, 3.0]))
        array([1., 0., 0.])
    """
    return _nan_extremum(a, axis, keepdims, min, np.inf, initial, where, "fmin")
