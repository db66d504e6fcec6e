"""NumPy's names that gpuad.numpy does not differentiate, made on first use (see
_coverage.py for which name is which): functions with a zero derivative read traced
arguments as values; functions of undifferentiated values refuse traced arguments; NumPy's
types, constants and other submodules are NumPy's own; missing names raise
NotImplementedError naming what to use."""
from __future__ import annotations

import functools

import numpy as np

from ..core import Tracer, full_lower
from ..primitives.base import xp_of


def _leaves(args, kwargs):
    """(where, value) of every argument, looking into lists and tuples."""
    out = []

    def walk(v, where):
        if isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, f"{where}[{i}]")
        else:
            out.append((where, v))
    for i, a in enumerate(args):
        walk(a, f"argument {i}")
    for k, v in kwargs.items():
        walk(v, f"argument {k!r}")
    return out


def _lowered(v):
    if isinstance(v, (list, tuple)):
        return type(v)(_lowered(x) for x in v)
    return full_lower(v)


def _target(name, leaves, kwargs):
    """NumPy's function ``name``, or CuPy's when an argument (or ``like=``) is a CuPy array.
    ``like`` is taken out of ``kwargs``: it chose the module, and CuPy's functions have no
    such parameter (cupy/_creation/basic.py)."""
    like = kwargs.pop("like", None)
    xp = xp_of(*[v for _, v in leaves if hasattr(v, "shape")], like)
    return getattr(xp, name, None) or getattr(np, name)


def zero(name):
    """NumPy's ``name`` reading traced arguments as values (its derivative is zero)."""
    @functools.wraps(getattr(np, name))
    def f(*args, **kwargs):
        leaves = _leaves(args, kwargs)
        kwargs = {k: _lowered(v) for k, v in kwargs.items()}
        fn = _target(name, [(w, full_lower(v)) for w, v in leaves], kwargs)
        return fn(*_lowered(args), **kwargs)
    f.__doc__ = (f"numpy.{name}, with a zero derivative: its result is integer, boolean, or "
                 "piecewise constant in floating inputs, so a traced argument is read as its "
                 f"value.\n\n{getattr(np, name).__doc__ or ''}")
    return f


def plain(name):
    """NumPy's ``name`` for values that are not differentiated: traced arguments refused."""
    @functools.wraps(getattr(np, name))
    def f(*args, **kwargs):
        leaves = _leaves(args, kwargs)
        for where, v in leaves:
            if isinstance(v, Tracer):
                raise TypeError(
                    f"gpuad.numpy.{name} is not differentiable, and {where} is a traced value: "
                    "its derivative would be lost. Pass gpuad.stop_gradient(value) to use it "
                    "as a constant on purpose")
        kwargs = dict(kwargs)
        return _target(name, leaves, kwargs)(*args, **kwargs)
    f.__doc__ = (f"numpy.{name} (not differentiable: a traced argument raises TypeError)."
                 f"\n\n{getattr(np, name).__doc__ or ''}")
    return f


def missing(name, hint):
    def f(*args, **kwargs):
        raise NotImplementedError(f"gpuad.numpy.{name} is not provided: use {hint}")
    f.__name__ = name
    f.__doc__ = f"Not provided by gpuad: use {hint}."
    return f


def make(name, coverage):
    """The object gpuad.numpy exposes for NumPy's ``name`` (AttributeError if NumPy has
    no such public name)."""
    if name.startswith("_") or not hasattr(np, name):
        raise AttributeError(f"module 'gpuad.numpy' has no attribute {name!r}")
    if name in coverage.MISSING:
        return missing(name, coverage.MISSING[name])
    if name in coverage.ZERO:
        return zero(name)
    if name in coverage.PLAIN:
        return plain(name)
    obj = getattr(np, name)
    if isinstance(obj, type) or not callable(obj):
        return obj                    # types, dtypes, constants, submodules: NumPy's own
    return missing(name, "gpuad.numpy functions (numpy." + name + " has no gpuad rule yet)")
