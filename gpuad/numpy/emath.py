"""gpuad.numpy.emath: differentiable counterparts of ``numpy.emath`` (``numpy.lib.scimath``).

Each function is gpuad.numpy's of the same name, applied as NumPy applies it: real input
is first converted to complex (complex64 from float32, else complex128, imaginary parts
+0) when any of its entries lies where the real function is undefined (``x < 0`` for
sqrt, log, log2, log10, logn and power's base; ``|x| > 1`` for arccos, arcsin, arctanh);
otherwise the result is real. Like NumPy's, the result's dtype therefore depends on the
values: deciding it reads one boolean from the array (a host read on a GPU, counted by
``gpuad.profile()``). Values on the branch cuts are NumPy's principal branches (the
imaginary part +0 after the conversion picks the upper side), and so are the derivatives.

    >>> import numpy as np, gpuad, gpuad.numpy as gnp
    >>> gnp.emath.sqrt(np.array([-4.0, 9.0]))
    array([0.+2.j, 3.+0.j])
    >>> gpuad.grad(lambda x: gnp.sum(gnp.emath.sqrt(x).imag))(np.array([-4.0, 9.0]))
    array([-0.25,  0.  ])
"""

import numpy as _np

from ..core import full_lower as _lower
from ..primitives import base as _base
from ..runtime import profile as _profile
from . import _elementwise as _E
from ._core import prepare as _prepare

__all__ = ["sqrt", "log", "log2", "log10", "logn", "power", "arccos", "arcsin", "arctanh"]


def _any(cond, what):
    """bool(any(cond)) for a plain (untraced) boolean array: one host read on a GPU."""
    v = _lower(cond)
    if not isinstance(v, _np.ndarray):
        _profile.record_host_read(f"emath.{what}: is the input in the real domain", 1)
    return bool(v.any())


def _fix(x, what, outside):
    """NumPy's conversion: ``x`` as complex if real and ``outside(x)`` anywhere."""
    (x,), _ = _prepare(x)
    dt = _np.dtype(_base.dtype(x))
    if dt.kind != "c" and _any(outside(_lower(x)), what):
        x = _base.astype(x, _base.complex_dtype(dt))
    return x


def _lt_zero(v):
    return v < 0


def _abs_gt_1(v):
    return abs(v) > 1


def _unary(name, outside, doc):
    g = getattr(_E, name)

    def f(x, /):
        return g(_fix(x, name, outside))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"``numpy.emath.{name}``: {doc}, complex where real input has an entry "
                 f"{'below 0' if outside is _lt_zero else 'of magnitude above 1'} "
                 f"(then every entry is complex); gpuad.numpy.{name} otherwise. "
                 "Differentiable to any order.")
    return f


sqrt = _unary("sqrt", _lt_zero, "the principal square root")
log = _unary("log", _lt_zero, "the natural logarithm")
log2 = _unary("log2", _lt_zero, "the base-2 logarithm")
log10 = _unary("log10", _lt_zero, "the base-10 logarithm")
arccos = _unary("arccos", _abs_gt_1, "the inverse cosine")
arcsin = _unary("arcsin", _abs_gt_1, "the inverse sine")
arctanh = _unary("arctanh", _abs_gt_1, "the inverse hyperbolic tangent")


def logn(n, x):
    """``numpy.emath.logn``: log(x) / log(n), the logarithm of x in base n, each converted
    to complex as :func:`log` converts it. Differentiable in both to any order."""
    return _E.divide(log(x), log(n))


def power(x, p):
    """``numpy.emath.power``: x**p with x converted to complex where real and negative
    anywhere (gpuad's x is never an integer array, so NumPy's conversion of a negative
    integer p changes nothing here). Differentiable in x and p to any order; as
    ``gpuad.numpy.power``, d/dp uses log x."""
    return _E.power(_fix(x, "power", _lt_zero), p)
