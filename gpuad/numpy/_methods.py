"""Traced arrays behave like arrays: operators, methods and NumPy's own functions."""
from __future__ import annotations

import threading

import numpy as _np

from ..core import Tracer, full_lower
from ..runtime import profile as _profile


def _gnp():
    from .. import numpy as gnp
    return gnp


class _Linear(threading.local):
    trace = None      # a trace whose values must not be read as numbers (see below)
    who = ""


#: Set by custom_vjp's forward mode while bwd runs on a traced cotangent (custom/rules.py):
#: bwd is transposed there, so reading the cotangent as a number would drop J t silently.
linear_only = _Linear()


def _host_read(x, conv, what):
    if linear_only.trace is not None and getattr(x, "_trace", None) is linear_only.trace:
        raise TypeError(f"{linear_only.who}: {what} of the cotangent g: forward mode (jvp, "
                        "jacfwd, hessian, hvp) transposes bwd, which must be linear in g and "
                        "compute with it as an array (gpuad.numpy), not read it as a number")
    v = full_lower(x)
    _profile.record_host_read(f"{what} of shape {tuple(v.shape)}", v.nbytes)
    v = v.get() if hasattr(v, "get") else v
    return conv(v)


def _lost(what):
    def refuse(self, *a, **k):
        raise TypeError(
            f"{what} of a traced value inside a differentiating transform (grad, jvp, hvp, "
            "...) would hand it to the host as a plain number and lose its derivative. Keep "
            "computing with gpuad.numpy; to use the value as a constant on purpose, write "
            f"gpuad.stop_gradient(x) first (or x.item() to read it)")
    return refuse


def _cmp(name):
    def op(self, other):
        from ..primitives.base import xp_of
        return getattr(xp_of(self, other), name)(full_lower(self), full_lower(other))
    return op


def _setitem(self, *a):
    raise TypeError("traced arrays are immutable: x[idx] = v cannot be recorded; write "
                    "x = x.at[idx].set(v) (or .add, .multiply, .min, .max), which returns a "
                    "new array and is differentiable in x and v")


def install():
    g = _gnp()
    T = Tracer
    for op, f in (("add", g.add), ("sub", g.subtract), ("mul", g.multiply),
                  ("truediv", g.divide), ("pow", g.power), ("matmul", g.matmul),
                  ("mod", g.remainder), ("floordiv", g.floor_divide), ("divmod", g.divmod)):
        # The function itself, not a lambda around it: one call less per operator.
        setattr(T, f"__{op}__", f)
        setattr(T, f"__r{op}__", lambda s, o, f=f: f(o, s))
    T.__neg__ = g.negative
    T.__pos__ = lambda s: s
    T.__abs__ = g.abs
    T.__getitem__ = lambda s, idx: g._getitem(s, idx)
    # No __iadd__ and friends: x += v rebinds x to x + v (the arrays are immutable).
    T.__setitem__ = _setitem
    T.at = property(lambda s: g.at(s))
    for py, npname in (("__lt__", "less"), ("__le__", "less_equal"), ("__gt__", "greater"),
                       ("__ge__", "greater_equal"), ("__eq__", "equal"),
                       ("__ne__", "not_equal")):
        setattr(T, py, _cmp(npname))
    T.__hash__ = object.__hash__
    # Reading a value for control flow carries no derivative (bool, int, an index, a
    # comparison); handing a float to the host would drop one silently: refused.
    T.__float__ = _lost("float()")
    T.__complex__ = _lost("complex()")
    T.__int__ = lambda s: _host_read(s, int, "int()")
    T.__bool__ = lambda s: _host_read(s, bool, "bool()")
    T.__index__ = lambda s: _host_read(s, int, "index")
    T.item = lambda s: _host_read(s, lambda v: v.item(), "item()")
    T.tolist = lambda s: _host_read(s, lambda v: v.tolist(), "tolist()")
    T.__repr__ = lambda s: f"Traced<{type(s._trace).__name__}>({full_lower(s)!r})"
    T.T = property(lambda s: g.transpose(s))
    T.mT = property(lambda s: g.swapaxes(s, -1, -2))
    # NumPy's complex views as functions of the value (for a real array, real is the array
    # itself and imag its zeros: gnp.real / gnp.imag say so).
    T.real = property(lambda s: g.real(s))
    T.imag = property(lambda s: g.imag(s))
    T.conj = T.conjugate = lambda s: g.conj(s)
    T.__iter__ = lambda s: (s[i] for i in range(len(s)))
    for m in ("sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "dot", "trace",
              "clip", "squeeze", "swapaxes", "ravel", "round", "take", "repeat", "diagonal",
              "argmax", "argmin", "argsort", "all", "any", "nonzero", "cumprod", "argpartition"):
        if hasattr(g, m):
            setattr(T, m, (lambda f: lambda s, *a, **k: f(s, *a, **k))(getattr(g, m)))
    T.reshape = lambda s, *shape, **k: g.reshape(
        s, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape, **k)
    T.transpose = lambda s, *axes: g.transpose(
        s, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else (axes or None))
    T.astype = lambda s, dt, **k: g.astype(s, dt)
    T.flatten = lambda s, order="C": g.ravel(s, order)
    T.compress = lambda s, condition, axis=None, **k: g.compress(condition, s, axis, **k)
    T.copy = lambda s: s
    T.__array_ufunc__ = _array_ufunc
    T.__array_function__ = _array_function
    T.__array__ = _lost("Conversion to a NumPy array (numpy.asarray, assignment into a "
                        "plain array, ...)")


_UFUNC_NAMES = {"true_divide": "divide", "absolute": "abs", "fabs": "abs"}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    g = _gnp()
    name = _UFUNC_NAMES.get(ufunc.__name__, ufunc.__name__)
    if kwargs.get("out") is not None:
        raise NotImplementedError(
            f"numpy.{ufunc.__name__} with out= (or an in-place operator such as += on a "
            "plain array) would write a traced value into an array, losing its derivative: "
            "rebind instead (s = s + v), or use .at[...].set/.add on a traced array")
    if method != "__call__":
        raise NotImplementedError(f"numpy.{ufunc.__name__}.{method} has no gpuad rule")
    f = getattr(g, name, None)
    if f is None:
        raise NotImplementedError(f"numpy.{ufunc.__name__} has no gpuad rule: it cannot be "
                                  "applied to a traced array")
    kwargs.pop("out", None)
    return f(*inputs, **kwargs)


def _array_function(self, func, types, args, kwargs):
    # gpuad's function of the same name in the matching namespace, only when ``func`` IS
    # NumPy's function of that name there: a name alone would send numpy.emath.sqrt (complex
    # results for negative input) to the real sqrt, a silent NaN.
    g = _gnp()
    name = func.__name__
    f = None
    for np_ns, g_ns in ((_np, g), (_np.linalg, g.linalg), (_np.fft, g.fft),
                        (_np.emath, g.emath)):
        if getattr(np_ns, name, None) is func:
            f = getattr(g_ns, name, None)
            break
    if f is None or f is func or not callable(f):
        where = f"{func.__module__}.{name}" if func.__module__ else name
        raise NotImplementedError(
            f"{where} has no gpuad rule: it cannot be applied to a traced array (gpuad.numpy "
            "lists the NumPy functions it differentiates)")
    return f(*args, **kwargs)
