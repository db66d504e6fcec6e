"""Elementwise functions of gpuad.numpy: NumPy's names, the kernels' math."""
from __future__ import annotations

import numpy as _np

from ..core import Tracer, bind
from ..core import dtype
from ..primitives import complex as C
from ..primitives import elementwise as E
from ..tape import VJPTracer
from ..primitives import base as _pb
from ._core import (_plain, foreign_keywords, numpy_semantics, prepare, lower, to_operand,
                    traced_dtype)

_ND = _np.ndarray

__all__ = []


# The functions NumPy defines on complex numbers that are not holomorphic: other primitives
# compute them there (|z| with its own kernel, sign(z) = z / |z|).
_COMPLEX = {"abs": lambda z: C.complex_abs(z), "absolute": lambda z: C.complex_abs(z),
            "sign": lambda z: C.phase(z)}


def _ufunc_keywords(name, f, args, kw):
    """``f(*args)`` with NumPy's ufunc keywords ``kw``: without traced arguments NumPy's
    (CuPy's) ufunc itself; on traced ones ``dtype=`` (a floating or complex one: the
    operands cast to it, as NumPy's loop does) and the others at NumPy's defaults, else a
    TypeError naming the keyword (foreign_keywords)."""
    np_f = getattr(_np, name)
    if not any(isinstance(a, Tracer) for a in args):
        xp = _pb.xp_of(*[a for a in args if hasattr(a, "shape")])
        return getattr(xp, name, np_f)(*args, **kw)
    kw = dict(kw)
    dt = kw.pop("dtype", None)
    foreign_keywords(name, np_f, frozenset(), args, kw)
    if dt is not None:
        dt = traced_dtype(name, dt)
        xp = _pb.xp_of(*args)
        args = [to_operand(a, dt, xp) for a in args]
    return f(*args)


def _unary(name, prim_name=None):
    prim = E.PRIMS[prim_name or name]
    special = _COMPLEX.get(name)
    # numpy.i0 is no ufunc: its 0-d results are 0-d arrays, not NumPy scalars
    keep_0d = name == "i0"

    def call(x):
        if special is not None and dtype(x).kind == "c":
            return special(x)
        return bind(prim, x)

    def f(x, /, **kw):
        if kw:
            return _ufunc_keywords(name, f, (x,), kw)
        # prepare's own first test (_plain), inline for a traced or plain float array
        v = x.val if type(x) is VJPTracer else x
        if type(v) is not _ND or v.dtype.char not in "fd":
            v = _plain(x)
        if v is None:
            if not isinstance(x, Tracer):
                return plain(x)       # integers, NumPy scalars, lists: NumPy's semantics
            (x,), _ = prepare(x)
            r = call(x)
        else:
            r = bind(prim, x)
        if type(r) is _ND and not r.ndim and not keep_0d:
            return r[()]              # NumPy's scalars
        return r
    f.__name__ = name
    plain = numpy_semantics(name, lambda x: call(prepare(x)[0][0]))
    f.__doc__ = (f"Elementwise ``{prim_name or name}``, like ``numpy.{name}``; differentiable "
                 f"to any order (kernel op {E._op(prim_name or name)} in kernels/ops/unary.cuh).")
    __all__.append(name)
    return f


def _binary(name, prim_name=None):
    prim = E.PRIMS[prim_name or name]

    def f(x, y, /, **kw):
        if kw:
            return _ufunc_keywords(name, f, (x, y), kw)
        # prepare's common cases, without the call: float array (op) Python number, and
        # two float arrays of one dtype.
        ty = type(y)
        v = x.val if type(x) is VJPTracer else x        # (_plain, inline for the common case)
        if type(v) is not _ND or v.dtype.char not in "fd":
            v = _plain(x)
        if v is not None:
            if ty is float or ty is int:
                r = bind(prim, x, _np.asarray(y, dtype=v.dtype))
                return r[()] if type(r) is _ND and not r.ndim else r    # NumPy's scalars
            w = _plain(y)
            if w is not None and w.dtype == v.dtype:
                r = bind(prim, x, y)
                return r[()] if type(r) is _ND and not r.ndim else r
        if not isinstance(x, Tracer) and not isinstance(y, Tracer):
            return plain(x, y)        # integers, NumPy scalars, lists: NumPy's semantics
        (x, y), _ = prepare(x, y)
        r = bind(prim, x, y)
        return r[()] if type(r) is _ND and not r.ndim else r
    f.__name__ = name
    plain = numpy_semantics(name, lambda x, y: bind(prim, *prepare(x, y)[0]))
    f.__doc__ = (f"Elementwise ``{prim_name or name}`` with NumPy broadcasting, like "
                 f"``numpy.{name}``; differentiable to any order.")
    __all__.append(name)
    return f


# One function per row of the registry's tables (and its aliases).
for _name, _row in E.UNARY.items():
    if _name in E.SCIPY_SPECIAL or _name in E.INTERNAL:
        continue
    for _alias in (_name, *(_row[2] if len(_row) > 2 else ())):
        globals()[_alias] = _unary(_alias, _name)
for _name, _row in E.BINARY.items():
    if _name in E.SCIPY_SPECIAL or _name in E.INTERNAL:
        continue
    for _alias in (_name, *(_row[2] if len(_row) > 2 else ())):
        globals()[_alias] = _binary(_alias, _name)
del _name, _row, _alias
_power = power                          # noqa: F821  (made above; the public one follows)
__all__.remove("power")


def _same_dtype(dt, y):
    """Whether ``power(x, y)`` keeps ``x``'s dtype ``dt`` for the scalar ``y``: a Python int
    or float (weak under NEP 50), or a NumPy scalar that does not promote ``dt``
    (``float32 ** np.float64(2)`` is float64; ``np.float64`` subclasses ``float``)."""
    ty = type(y)
    if ty is int or ty is float:
        return True
    return (isinstance(y, (_np.integer, _np.floating))
            and _np.result_type(dt, y.dtype) == dt)


def power(x, y, /, **kw):
    """``x ** y`` elementwise with broadcasting, like ``numpy.power``. A constant exponent
    of 2, 1 or 0.5 uses the cheaper square/identity/sqrt kernels (same values)."""
    if kw:
        return _ufunc_keywords("power", power, (x, y), kw)
    if (isinstance(x, Tracer) or _plain(x) is not None) and _same_dtype(dtype(x), y):
        # (float operands only: an integer or boolean x is NumPy's power, whose dtype
        # square's may not be: power(bool, 2) is int64, square(bool) int8)
        if y == 2:
            return square(x)
        if y == 1 and isinstance(x, Tracer):   # (a plain array: a new one, as NumPy's)
            return x
        if y == 0.5:
            return sqrt(x)
    return _power(x, y)


_multiply = multiply                    # noqa: F821  (made above; the public one follows)


def multiply(x, y, /, **kw):
    """``x * y`` elementwise with broadcasting, like ``numpy.multiply``; differentiable to
    any order. A traced value times itself is ``square(x)`` (the same values): one operand
    read and one cotangent, where a product of two operands writes two and adds them (the
    regulariser ``sum(w * w)`` of a batched HVP: one lane-wide pass less, one array less)."""
    if kw:
        return _ufunc_keywords("multiply", multiply, (x, y), kw)
    if x is y and isinstance(x, Tracer):
        return square(x)              # noqa: F821
    return _multiply(x, y)


def positive(x, /):
    """``+x``."""
    return x


_UNSET = object()


def clip(a, a_min=_UNSET, a_max=_UNSET, out=None, *, min=_UNSET, max=_UNSET, **kw):
    """``minimum(maximum(a, a_min), a_max)``, like ``numpy.clip`` (NumPy 2's ``min=`` and
    ``max=`` name the bounds too); at a bound the derivative is split like maximum/minimum
    ties (1/2). ``out=`` and ufunc keywords: NumPy's own call (untraced)."""
    # NumPy's rules: both bounds as a_min/a_max, or either as min=/max=
    if a_min is _UNSET and a_max is _UNSET:
        a_min = None if min is _UNSET else min
        a_max = None if max is _UNSET else max
    elif a_min is _UNSET or a_max is _UNSET:
        raise TypeError("clip() missing 1 required positional argument: "
                        f"'{'a_min' if a_min is _UNSET else 'a_max'}'")
    elif min is not _UNSET or max is not _UNSET:
        raise ValueError("Passing `min` or `max` keyword argument when `a_min` and `a_max` "
                         "are provided is forbidden.")
    if out is not None or kw:
        return _ufunc_keywords("clip", lambda x, lo, hi: clip(x, lo, hi), (a, a_min, a_max),
                               dict(kw, out=out) if out is not None else kw)
    x = a
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return x


def _nan_ignoring(name, op):
    def f(x, y, /):
        (x, y), xp = prepare(x, y)
        xv, yv = lower(x), lower(y)
        if "c" in (xv.dtype.kind, yv.dtype.kind):
            raise TypeError(f"{name} is not defined for complex input (dtype "
                            f"{_np.result_type(xv, yv)}): orderings of complex numbers are "
                            "not differentiated")
        # NaN on one side: the other side on both (op(v, v) = v; its tie split 1/2 + 1/2
        # gives v the whole derivative and the NaN none); NaN on both: NaN
        r = op(where(xp.isnan(xv), y, x), where(xp.isnan(yv), x, y))
        return r[()] if type(r) is _ND and not r.ndim else r
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"``numpy.{name}``: elementwise ``{op.__name__}`` that ignores a NaN (the "
                 "other argument's value and derivative; NaN only where both are NaN), "
                 f"ties split as ``{op.__name__}``'s (1/2 each).")
    return f


fmax = _nan_ignoring("fmax", maximum)      # noqa: F821  (made above)
fmin = _nan_ignoring("fmin", minimum)      # noqa: F821


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` holds, else ``y`` (the condition is not differentiated).

    With one argument, NumPy's ``nonzero`` (not differentiable)."""
    from ..primitives import select
    if x is None and y is None:
        return lower(condition).nonzero()
    c = lower(condition)
    (x, y), xp = prepare(x, y, like=(c,))     # the module of all three
    c = xp.asarray(c).astype(bool)
    return select.select(c, x, y)


__all__ += ["power", "positive", "clip", "where", "fmax", "fmin"]
