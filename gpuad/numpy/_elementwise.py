"""Elementwise functions of gpuad.numpy: NumPy's names, the kernels' math."""
from __future__ import annotations

import numpy as _np

from ..core import bind
from ..primitives import elementwise as E
from ._core import _plain, prepare, lower

__all__ = []


def _unary(name, prim_name=None):
    prim = E.PRIMS[prim_name or name]

    def f(x, /):
        if _plain(x) is None:         # (prepare's own first test, without the call)
            (x,), _ = prepare(x)
        return bind(prim, x)
    f.__name__ = name
    f.__doc__ = (f"Elementwise ``{prim_name or name}``, like ``numpy.{name}``; differentiable "
                 f"to any order (kernel op {E._op(prim_name or name)} in kernels/ops/unary.cuh).")
    __all__.append(name)
    return f


def _binary(name, prim_name=None):
    prim = E.PRIMS[prim_name or name]

    def f(x, y, /):
        # prepare's common cases, without the call: float array (op) Python number, and
        # two float arrays of one dtype.
        ty = type(y)
        v = _plain(x)
        if v is not None:
            if ty is float or ty is int:
                return bind(prim, x, _np.asarray(y, dtype=v.dtype))
            w = _plain(y)
            if w is not None and w.dtype == v.dtype:
                return bind(prim, x, y)
        (x, y), _ = prepare(x, y)
        return bind(prim, x, y)
    f.__name__ = name
    f.__doc__ = (f"Elementwise ``{prim_name or name}`` with NumPy broadcasting, like "
                 f"``numpy.{name}``; differentiable to any order.")
    __all__.append(name)
    return f


# One function per row of the registry's tables (and its aliases).
for _name, _row in E.UNARY.items():
    for _alias in (_name, *(_row[2] if len(_row) > 2 else ())):
        globals()[_alias] = _unary(_alias, _name)
for _name, _row in E.BINARY.items():
    for _alias in (_name, *(_row[2] if len(_row) > 2 else ())):
        globals()[_alias] = _binary(_alias, _name)
del _name, _row, _alias
_power = power                          # noqa: F821  (made above; the public one follows)
__all__.remove("power")


def power(x, y, /):
    """``x ** y`` elementwise with broadcasting, like ``numpy.power``. A constant exponent
    of 2, 1 or 0.5 uses the cheaper square/identity/sqrt kernels (same values)."""
    if isinstance(y, (int, float)) and not isinstance(y, bool):
        if y == 2:
            return square(x)
        if y == 1:
            (x,), _ = prepare(x)
            return x
        if y == 0.5:
            return sqrt(x)
    return _power(x, y)


def positive(x, /):
    """``+x``."""
    return x


def clip(x, a_min=None, a_max=None):
    """``minimum(maximum(x, a_min), a_max)``; at a bound the derivative is split like
    maximum/minimum ties (1/2)."""
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return x


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` holds, else ``y`` (the condition is not differentiated).

    With one argument, NumPy's ``nonzero`` (not differentiable)."""
    from ..primitives import select
    if x is None and y is None:
        return lower(condition).nonzero()
    (x, y), xp = prepare(x, y)
    c = xp.asarray(lower(condition)).astype(bool)
    return select.select(c, x, y)


__all__ += ["power", "positive", "clip", "where"]
