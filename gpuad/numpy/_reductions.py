"""Reductions of gpuad.numpy (library reductions: CUB on a GPU, NumPy on the CPU)."""
from __future__ import annotations

import builtins

import numpy as np

from ..core import full_lower
from ..primitives import base, reductions as R
from ..primitives.complex import abs2
from ._core import prepare, normalize_axis, shape, dtype, to_operand, numpy_out, ddof_of
from ._elementwise import (divide, exp, log, add, subtract, multiply, sqrt, where, maximum,
                           minimum)
from ._elementwise import where as _select      # where the functions' where= shadows it

__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "logsumexp",
           "cumsum", "sort"]


def _kept(x_shape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(x_shape))


def _keep(out, x_shape, axes, keepdims):
    return base.reshape(out, _kept(x_shape, axes)) if keepdims else out


def _count(x_shape, axes):
    n = 1
    for i in axes:
        n *= x_shape[i]
    return n


def _reduce(a, axis, dtype=None):
    (a,), _ = prepare(a)
    if dtype is not None:
        a = base.astype(a, dtype)
    return a, normalize_axis(axis, len(shape(a)))


def _initial(initial, a):
    """``initial`` in ``a``'s dtype (NumPy casts it to the reduction's: ``sum(float32,
    initial=np.float64(1))`` is float32); None stays None."""
    if initial is None:
        return None
    return to_operand(initial, dtype(a), base.xp_of(full_lower(a)))


def outside(a, mask, fill):
    """``a`` with ``fill`` (a constant: derivative 0) where the boolean ``mask`` (NumPy's
    ``where=`` argument, broadcast to ``a``'s shape) is False."""
    (a,), xp = prepare(a)
    m = xp.broadcast_to(xp.asarray(full_lower(mask), dtype=bool), tuple(shape(a)))
    return where(m, a, fill), m


def _mask_count(m, axes, keepdims, like):
    """The number of entries where ``m`` is True, in ``like``'s float dtype (a constant)."""
    return m.sum(axis=axes, keepdims=keepdims).astype(full_lower(like).dtype)


def sum(a, axis=None, dtype=None, keepdims=False, *, initial=None, where=True):
    """Sum over ``axis`` (int, tuple or None), like ``numpy.sum``. Linear: its VJP
    broadcasts the cotangent back, its JVP sums the tangent lanes.

    Example::

        >>> gpuad.grad(lambda x: gnp.sum(x ** 2))(np.array([1.0, 2.0]))
        array([2., 4.])
    """
    a, axes = _reduce(a, axis, dtype)
    initial = _initial(initial, a)
    if where is not True:
        a, _ = outside(a, where, 0)
    out = _keep(base.reduce_sum(a, axes), shape(a), axes, keepdims)
    return out if initial is None else add(out, initial)


def mean(a, axis=None, dtype=None, keepdims=False, *, where=True):
    """Arithmetic mean over ``axis``, like ``numpy.mean`` (``where``: of the entries where
    it is True)."""
    a, axes = _reduce(a, axis, dtype)
    if where is not True:
        a, m = outside(a, where, 0)
        return divide(sum(a, axis=axes, keepdims=keepdims), _mask_count(m, axes, keepdims, a))
    return divide(sum(a, axis=axes, keepdims=keepdims), float(_count(shape(a), axes)))


def prod(a, axis=None, dtype=None, keepdims=False, *, initial=None, where=True):
    """Product over ``axis``, like ``numpy.prod``.

    ``d prod(x) / d x_i = prod_{j != i} x_j``, exact at zeros: the derivatives come from a
    tree of multiplies, never from ``prod(x) / x_i``. The product of no elements is 1.

    Example::

        >>> gpuad.grad(lambda x: gnp.prod(x))(np.array([2.0, 0.0, 3.0]))
        array([0., 6., 0.])
    """
    a, axes = _reduce(a, axis, dtype)
    initial = _initial(initial, a)
    if where is not True:
        a, _ = outside(a, where, 1)
    out = _keep(R.reduce_prod(a, axes), shape(a), axes, keepdims)
    return out if initial is None else multiply(out, initial)


def _extremum(a, axis, keepdims, op, initial=None, where=True):
    a, axes = _reduce(a, axis)
    initial = _initial(initial, a)
    if where is not True:
        if initial is None:
            raise ValueError(f"reduction operation '{op}imum' does not have an identity, so "
                             "to use a where mask one has to specify 'initial'")
        a, _ = outside(a, where, initial)
    xs, dt = tuple(shape(a)), np.dtype(full_lower(a).dtype)
    if initial is not None and _count(xs, axes) == 0 and dt.kind in "fiu":
        # no entries: the extremum is initial (NumPy's); the reduction has no identity, so
        # it starts from the bound opposite to op (below: maximum(-inf, initial) = initial,
        # no tie, the derivative all initial's)
        lim = np.inf if dt.kind == "f" else np.iinfo(dt).max if op == "min" else np.iinfo(dt).min
        lim = -lim if op == "max" and dt.kind == "f" else lim
        out = base.xp_of(full_lower(a)).full(_kept(xs, axes) if keepdims else
                                             tuple(d for i, d in enumerate(xs) if i not in axes),
                                             lim, dtype=dt)
    else:
        out = _keep(R.reduce_max(a, axes, op), shape(a), axes, keepdims)
    if initial is None:
        return out
    res = (maximum if op == "max" else minimum)(out, initial)
    v = full_lower(out)
    if getattr(v, "dtype", np.dtype(float)).kind == "f":
        # a slice holding NaN: the extremum is its NaN, whose entries share the derivative
        # (as without initial=); maximum(NaN, initial) would give it to neither side
        xp = base.xp_of(v)
        nan = xp.isnan(v)
        if bool(nan.any()):
            res = _select(nan, out, res)
    return res


def max(a, axis=None, keepdims=False, *, initial=None, where=True):
    """Largest element over ``axis``, like ``numpy.max``.

    The derivative is that of the maximising element; where k elements tie for the maximum,
    each gets ``1/k`` of it (the cotangent is split evenly), so ``grad(max)`` is a
    subgradient that sums to 1 along the reduced axes.

    Example::

        >>> gpuad.grad(lambda x: gnp.max(x))(np.array([1.0, 3.0, 3.0]))
        array([0. , 0.5, 0.5])
    """
    return _extremum(a, axis, keepdims, "max", initial, where)


def min(a, axis=None, keepdims=False, *, initial=None, where=True):
    """Smallest element over ``axis``, like ``numpy.min``; ties split the derivative evenly
    as for :func:`max`.

    Example::

        >>> gpuad.grad(lambda x: gnp.min(x))(np.array([1.0, 3.0]))
        array([1., 0.])
    """
    return _extremum(a, axis, keepdims, "min", initial, where)


amax = max
amin = min


_mean = mean            # (var's and std's parameter mean= shadows it)


def _moment_args(name, a, axis, dtype, out, ddof, keepdims, where, mean, correction):
    """The arguments of NumPy's ``name`` (var, std, nanvar, nanstd) for its own call with
    ``out=`` (only those given)."""
    kw = dict(axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where)
    kw.update({k: v for k, v in (("mean", mean), ("correction", correction)) if v is not None})
    return numpy_out(name, (a,), kw)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=None,
        correction=None):
    """Variance over ``axis``, like ``numpy.var``:
    ``sum((x - mean(x))**2) / (N - ddof)`` with N the number of reduced elements.
    ``correction`` is NumPy 2's name of ``ddof``; ``mean`` a mean already computed (of
    ``keepdims=True`` shape), differentiable as well; ``out=`` NumPy's own call (untraced).

    Example::

        >>> gpuad.grad(lambda x: gnp.var(x))(np.array([1.0, 2.0, 4.0]))
        array([-0.88888889, -0.22222222,  1.11111111])
    """
    if out is not None:
        return _moment_args("var", a, axis, dtype, out, ddof, keepdims, where, mean,
                            correction)
    ddof = ddof_of(ddof, correction)
    a, axes = _reduce(a, axis, dtype)
    if where is not True:
        a, m = outside(a, where, 0)
        d = subtract(a, _mean(a, axis=axes, keepdims=True, where=m) if mean is None else mean)
        dof = _mask_count(m, axes, keepdims, a) - ddof
        dof = np.maximum(dof, 0)      # (NumPy's clamp; dof * (dof > 0) made -0.0: -inf)
        return divide(sum(abs2(d), axis=axes, keepdims=keepdims, where=m), dof)
    d = subtract(a, _mean(a, axis=axes, keepdims=True) if mean is None else mean)
    dof = builtins.max(_count(shape(a), axes) - ddof, 0)
    return divide(sum(abs2(d), axis=axes, keepdims=keepdims), float(dof))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=None,
        correction=None):
    """Standard deviation ``sqrt(var(x))`` over ``axis``, like ``numpy.std`` (``mean``,
    ``correction`` and ``out`` as :func:`var`'s).

    Where all reduced elements are equal (variance 0) std is not differentiable (a cone's
    tip); its derivative there is the subgradient 0 (as for ``linalg.norm`` at 0, and as
    PyTorch does), in every mode: the square root is taken of the variance only where it is
    positive (a constant 1 elsewhere), so no infinite derivative meets a zero one. With
    ``ddof >= N`` (no degrees of freedom) the value is NumPy's (inf, NaN for equal entries)
    and the derivatives are var's (not finite), not sqrt'(inf) = 0.

    Example::

        >>> gpuad.grad(lambda x: gnp.std(x))(np.array([1.0, 3.0]))
        array([-0.5,  0.5])
        >>> gpuad.grad(lambda x: gnp.std(x))(np.array([2.0, 2.0]))
        array([0., 0.])
    """
    if out is not None:
        return _moment_args("std", a, axis, dtype, out, ddof, keepdims, where, mean,
                            correction)
    v = var(a, axis=axis, dtype=dtype, ddof=ddof_of(ddof, correction), keepdims=keepdims,
            where=where, mean=mean)
    lv = full_lower(v)
    pos = (lv > 0) & (lv < np.inf)
    # 0 (a constant) where the variance is 0; NaN and inf stay the variance's (no entries,
    # dof <= 0: NumPy's values, and var's non-finite derivatives there, not sqrt'(inf) = 0)
    return _select(pos, sqrt(_select(pos, v, 1.0)), _select(lv == 0, 0.0, v))


def logsumexp(a, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, computed stably, like
    ``scipy.special.logsumexp``.

    With ``m = max(x)`` (a constant for differentiation: the identity holds for any m),
    ``logsumexp(x) = m + log(sum(exp(x - m)))``; no exponential overflows. The gradient is
    ``softmax(x)``. An empty reduction gives ``-inf``. A slice holding ``+inf``: the value
    ``+inf``, the gradient softmax's limit (``max``'s: 1 at the ``+inf`` entry, shared evenly
    between several, 0 elsewhere; JAX and PyTorch give NaN there).

    Example::

        >>> gnp.logsumexp(np.array([1000.0, 1000.0]))
        np.float64(1000.6931471805599)
        >>> gpuad.grad(gnp.logsumexp)(np.array([0.0, 0.0]))
        array([0.5, 0.5])
    """
    a, axes = _reduce(a, axis)
    x = full_lower(a)
    xp = base.xp_of(x)
    kept = _kept(x.shape, axes)
    if _count(x.shape, axes) == 0:
        m = xp.zeros(kept, dtype=x.dtype)
    else:
        mx = R.reduce_max(x, axes).reshape(kept)
        top = mx == xp.inf if x.dtype.kind == "f" else None
        if top is not None and bool(top.any()):
            # a slice holding +inf: the value +inf and the derivative the limit of softmax,
            # max's (1 at the +inf entry, shared evenly by several), not exp(inf)/inf's NaN
            # nor the 0 that a zero cotangent times exp(inf) would make of it; the other
            # slices as below
            full = xp.broadcast_to(top, x.shape)
            out = logsumexp(_select(full, 0.0, a), axis=axes, keepdims=True)
            out = _select(top, max(_select(full, a, 0.0), axis=axes, keepdims=True), out)
            return _drop(out, shape(a), axes, keepdims)
        # the shift: max(a), a constant (the identity holds for any), 0 where not finite
        m = xp.where(xp.isfinite(mx), mx, xp.zeros((), dtype=x.dtype))
    s = log(sum(exp(subtract(a, m)), axis=axes, keepdims=True))
    return _drop(add(s, m), shape(a), axes, keepdims)


def _drop(out, x_shape, axes, keepdims):
    if keepdims:
        return out
    return base.reshape(out, tuple(d for i, d in enumerate(x_shape) if i not in axes))


def cumsum(a, axis=None, dtype=None):
    """Running sum along ``axis`` (the flattened array for ``None``), like ``numpy.cumsum``.

    Linear: its JVP is the running sum of the tangent; its VJP is the running sum of the
    cotangent taken from the end (``g_i = sum_{j >= i} g'_j``).

    Example::

        >>> gpuad.grad(lambda x: gnp.sum(gnp.cumsum(x)))(np.array([1.0, 2.0, 3.0]))
        array([3., 2., 1.])
    """
    (a,), _ = prepare(a)
    if dtype is not None:
        a = base.astype(a, dtype)
    if axis is None:
        a, axis = base.reshape(a, (_size(a),)), 0
    (axis,) = normalize_axis(axis, len(shape(a)))
    return R.cumsum(a, axis)


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """Sorted copy along ``axis`` (the flattened array for ``None``), like ``numpy.sort``.
    ``kind`` and ``stable`` are accepted (the values are the same: only the order of
    equal elements could differ, and ties have no derivative); ``order`` (fields of a
    structured array) has no meaning for the float arrays gpuad differentiates.

    The derivative follows the sorting permutation: ``out = take_along_axis(x,
    argsort(x))``, so the tangent is gathered and the cotangent scattered back by it.
    Not differentiable where elements tie.

    Example::

        >>> w = np.array([2.0, 0.0])        # weighs the smallest element
        >>> gpuad.grad(lambda x: gnp.sum(gnp.sort(x) * w))(np.array([3.0, 1.0]))
        array([0., 2.])
    """
    if order is not None:
        raise ValueError("sort: order= names fields of a structured array; gpuad's arrays "
                         "have none (NumPy: 'Cannot specify order when the array has no "
                         "fields.')")
    if kind is not None and not (isinstance(kind, str) and kind[:1].lower() in ("q", "h", "m",
                                                                                "s")):
        raise ValueError(f"sort kind must be one of 'quick', 'heap', or 'stable' (got {kind!r})")
    if kind is not None and stable is not None:
        raise ValueError("`kind` and `stable` parameters can't be provided at the same time. "
                         "Use only one of them.")
    (a,), _ = prepare(a)
    if axis is None:
        a, axis = base.reshape(a, (_size(a),)), 0
    (axis,) = normalize_axis(axis, len(shape(a)))
    return R.sort(a, axis)


def _size(a):
    return _count(shape(a), range(len(shape(a))))


_LIMIT = []          # the custom_jvp function below, made on first use (import order)


def _softmax_limit_fn():
    """softmax / log_softmax of slices holding +inf: the limits, as logsumexp's (README's
    conventions, logsumexp's row): the value 1/k at each of the k ``+inf`` entries and 0
    elsewhere (log: -log k and -inf); the derivative that of the limit s, ``s (t - sum(s t))``
    (log: ``t - sum(s t)``), every order (the rule is written with the function itself)."""
    if _LIMIT:
        return _LIMIT[0]
    from ..custom.rules import custom_jvp

    def value(x, axes, log_):
        v = full_lower(x)
        xp = base.xp_of(v)
        at = v == xp.inf
        k = xp.sum(at, axis=axes, keepdims=True).astype(v.dtype)
        with np.errstate(divide="ignore"):
            s = xp.where(at, 1.0 / xp.maximum(k, 1.0), xp.zeros((), dtype=v.dtype))
            return xp.log(s) if log_ else s

    lim = custom_jvp(value, nondiff_argnums=(1, 2))

    @lim.defjvp
    def _(axes, log_, primals, tangents):
        (x,), (t,) = primals, tangents
        s = lim(x, axes, False)
        d = subtract(t, sum(multiply(s, t), axis=axes, keepdims=True))
        return lim(x, axes, log_), (d if log_ else multiply(s, d))

    _LIMIT.append(lim)
    return lim


def softmax_(a, axis, log_=False):
    """softmax (``log_``: log_softmax) of ``a`` over ``axis``, ``exp(a - logsumexp(a))``
    (``a - logsumexp(a)``); in slices holding ``+inf`` the limits (logsumexp's convention:
    1 at the ``+inf`` entry, shared evenly by several, 0 elsewhere; the derivatives those of
    the limit), not inf - inf's NaN. gpuad.nn's and gpuad.scipy.special's softmax and
    log_softmax."""
    a, axes = _reduce(a, axis)
    x = full_lower(a)
    if x.dtype.kind in "fc" and _count(x.shape, axes):
        # Shift by the slice's finite max first, a constant (the result is invariant under
        # it, every derivative too): a - logsumexp(a) rounds logsumexp at the size of a and
        # loses |max a| eps (float32 log_softmax([-1000, -1001]) was off 1e-4 relative).
        # Complex logits: by the max of the real parts (complex64's was off as float32's).
        xp = base.xp_of(x)
        if x.dtype.kind == "f":
            mx = R.reduce_max(x, axes).reshape(_kept(x.shape, axes))
            m = mx
        else:
            m = xp.max(x.real, axis=axes, keepdims=True)
        a = subtract(a, xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False))
    out = subtract(a, logsumexp(a, axis=axes, keepdims=True))
    if not log_:
        out = exp(out)
    if x.dtype.kind != "f" or _count(x.shape, axes) == 0:
        return out
    top = mx == xp.inf
    if not bool(top.any()):
        return out
    lim = _softmax_limit_fn()(a, axes, log_)
    return _select(xp.broadcast_to(top, x.shape), lim, out)
