"""Elementwise functions of gpuad.numpy written with the kernel ops (no math of their own):
remainders, angle units, log-add-exp, signs and steps, NaN replacement, and NumPy's
aliases. The piecewise-constant parts of a function (``floor(x / y)``, a sign, a mask) are
constants of the derivative: each function's docstring says its convention at the jumps."""
from __future__ import annotations

import math

import numpy as np

from ..core import full_lower
from ..primitives import complex as _cx
from ._core import prepare, to_operand
from ._elementwise import (abs, add, arccos, arcsin, arctan, arctan2, arctanh, exp, exp2,
                           log1p, log2, maximum, multiply, negative, power, subtract, where)

__all__ = ["remainder", "mod", "fmod", "divmod", "modf", "deg2rad", "rad2deg", "degrees",
           "radians", "logaddexp", "logaddexp2", "copysign", "heaviside", "nan_to_num",
           "ldexp", "float_power", "pow", "acos", "asin", "atan", "atan2", "atanh", "real",
           "imag", "conj", "conjugate", "angle", "sort_complex"]


def _values(*xs):
    """The values under ``xs`` (for the constant parts of a derivative)."""
    return [full_lower(x) for x in xs]


def undefined_where(bad, out, args, xp):
    """``out`` with NaN where ``bad`` (a bool array, broadcast to out's shape), where every
    derivative of every order in each of ``args`` (the differentiable inputs) is NaN too:
    README's rule for a NaN value from a point outside the domain (a NaN constant would have
    derivative 0, and grad would return that 0 where the function is undefined). The NaN is
    ``NaN exp(g)``, ``g = sum(v - value(v))``: g is 0 with each first partial 1, so every
    partial of exp(g) of every order is 1, times NaN. One host read (``any(bad)``)."""
    if not bool(xp.any(bad)):
        return out
    g = 0.0
    for v in args:
        g = add(g, subtract(v, full_lower(v)))
    nan = multiply(xp.asarray(np.nan, dtype=full_lower(out).dtype), exp(g))
    return where(bad, nan, out)


def _piecewise_linear(x1, x2, r, q, xp):
    """The value ``r`` (the library's, exact) with the derivatives of ``x1 - q x2`` for the
    piecewise-constant quotient ``q``: ``r + c``, ``c = -((v1 - x1) + q (x2 - v2))`` exactly
    -0.0 in value (so ``r``, a signed zero too, is unchanged). A quotient beyond float range
    (``x2`` tiny against ``x1``) is taken as the largest float of its sign, and an infinite
    ``x2`` (where the remainder is ``x1``) has ``q = 0``, so ``0 * q`` stays 0 in the value."""
    v1, v2 = _values(x1, x2)
    big = np.finfo(np.result_type(r)).max
    fin = xp.isfinite(v2)
    q = xp.where(fin, xp.where(xp.isfinite(q), q, xp.copysign(big, q)), 0)
    with np.errstate(invalid="ignore"):
        d2 = subtract(where(fin, x2, 0.0), xp.where(fin, v2, 0))
        c = add(subtract(v1, x1), multiply(q.astype(r.dtype), d2))
    # NaN where the remainder is (x2 = 0, x1 infinite, a NaN argument) with NaN derivatives:
    # the line's d/dx1 = 1 there was a finite derivative of a NaN value
    return undefined_where(xp.isnan(r), add(r, negative(c)), (x1, x2), xp)


def remainder(x1, x2, /):
    """``numpy.remainder`` (``mod``): the value NumPy's (exact: ``x1 - floor(x1 / x2) x2``
    computed as the exact fmod, sign of ``x2``). Derivatives those of
    ``x1 - floor(x1 / x2) x2``: ``d/dx1 = 1``, ``d/dx2 = -floor(x1 / x2)`` (the quotient
    NumPy's ``floor_divide`` gives); at a jump (``x1 / x2`` an integer) those of the piece on
    the right (floor's value there).

    Example::

        >>> gnp.remainder(np.array([5.0, -5.0]), 3.0)
        array([2., 1.])
    """
    (x1, x2), xp = prepare(x1, x2)
    v1, v2 = _values(x1, x2)
    with np.errstate(divide="ignore", invalid="ignore"):
        r, q = xp.remainder(v1, v2), xp.floor_divide(v1, v2)
    return _piecewise_linear(x1, x2, r, q, xp)


mod = remainder


def fmod(x1, x2, /):
    """``numpy.fmod``: the value NumPy's (the exact C ``fmod``: ``x1 - trunc(x1 / x2) x2``,
    sign of ``x1``). Derivatives ``d/dx1 = 1``, ``d/dx2 = -trunc(x1 / x2)``, the exact
    quotient ``(x1 - fmod) / x2`` rounded (at a jump: the piece away from zero).

    Example::

        >>> gnp.fmod(np.array([5.0, -5.0]), 3.0)
        array([ 2., -2.])
    """
    (x1, x2), xp = prepare(x1, x2)
    v1, v2 = _values(x1, x2)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = xp.fmod(v1, v2)
        q = xp.round((v1 - r) / v2)
    return _piecewise_linear(x1, x2, r, q, xp)


def divmod(x1, x2, /):
    """``numpy.divmod``: ``(floor_divide(x1, x2), remainder(x1, x2))``; the quotient is
    piecewise constant (its derivative is zero), the remainder as :func:`remainder`."""
    (a, b), xp = prepare(x1, x2)
    return xp.floor_divide(*_values(a, b)), remainder(a, b)


def modf(x, /):
    """``numpy.modf``: ``(x - trunc(x), trunc(x))``; the fractional part has derivative 1,
    the integral part 0."""
    (x,), xp = prepare(x)
    t = xp.trunc(full_lower(x))
    return subtract(x, t), t


def _real_only(name, *xs):
    """NumPy defines ``name`` for real numbers only: complex input is refused as there."""
    for x in xs:
        v = full_lower(x)
        dt = v.dtype if hasattr(v, "dtype") else np.asarray(v).dtype
        if dt.kind == "c":
            raise TypeError(f"{name} is not defined for complex input (dtype {dt}): NumPy "
                            "defines it for real numbers only")


def deg2rad(x, /):
    """``x * pi / 180`` (``numpy.deg2rad``, ``radians``); real input only, as NumPy's."""
    _real_only("deg2rad", x)
    return multiply(x, math.pi / 180.0)


def rad2deg(x, /):
    """``x * 180 / pi`` (``numpy.rad2deg``, ``degrees``); real input only, as NumPy's."""
    _real_only("rad2deg", x)
    return multiply(x, 180.0 / math.pi)


radians, degrees = deg2rad, rad2deg


def _logaddexp(x1, x2, log1p_exp):
    (x1, x2), xp = prepare(x1, x2)
    v1, v2 = _values(x1, x2)
    # hi + log(1 + e^(lo - hi)), hi and lo the larger and the smaller by value (x1 at a
    # tie): never overflows, and smooth through a tie to every order (max(x1, x2) +
    # log1p(e^-|x1 - x2|) has two kinks there that cancel in the value but not in the
    # conventions, abs''(0) = max'' = 0: its second derivative at x1 == x2 was 0, true 1/4).
    # Both infinite and equal: max(x1, x2) + log 2, the difference a constant 0 (inf - inf
    # would be NaN), derivative 1/2 each (max's split).
    first = v1 >= v2
    both_inf = (v1 == v2) & xp.isinf(v1)
    hi, lo = where(first, x1, x2), where(first, x2, x1)
    d = where(both_inf, 0.0, subtract(lo, hi))
    return add(where(both_inf, maximum(x1, x2), hi), log1p_exp(d))


def logaddexp(x1, x2, /):
    """``log(exp(x1) + exp(x2))`` without overflow: ``hi + log1p(exp(lo - hi))``, hi and lo
    the larger and the smaller argument. The derivative is the softmax weight s of each
    argument, the second ``s (1 - s)``; at ``x1 == x2`` exactly 1/2 each and 1/4 (smooth
    there).

    Example::

        >>> gpuad.grad(lambda a: gnp.logaddexp(a, 1.0))(1.0)
        0.5
    """
    return _logaddexp(x1, x2, lambda t: log1p(exp(t)))


def logaddexp2(x1, x2, /):
    """``log2(2**x1 + 2**x2)`` without overflow; derivatives as :func:`logaddexp`."""
    return _logaddexp(x1, x2, lambda t: multiply(log1p(exp2(t)), 1.0 / math.log(2.0)))


def copysign(x1, x2, /):
    """``|x1|`` with the sign of ``x2``. ``d/dx1 = sign(x1) * sign(x2)`` (0 at ``x1 = 0``,
    abs's convention); the sign of ``x2`` is a constant (``d/dx2 = 0``)."""
    (x1, x2), xp = prepare(x1, x2)
    s = xp.where(xp.signbit(full_lower(x2)), -1.0, 1.0).astype(full_lower(x1).dtype)
    return multiply(abs(x1), s)


def heaviside(x1, x2, /):
    """``numpy.heaviside``: 0 for ``x1 < 0``, ``x2`` at ``x1 == 0``, 1 for ``x1 > 0``, NaN
    for a NaN ``x1``. Its derivative in ``x1`` is 0 (piecewise constant), in ``x2`` 1 where
    ``x1 == 0``. Real input only, as NumPy's."""
    _real_only("heaviside", x1, x2)
    (x1, x2), xp = prepare(x1, x2)
    v1 = full_lower(x1)
    step = xp.where(v1 > 0, 1.0, xp.where(xp.isnan(v1), np.nan, 0.0)).astype(v1.dtype)
    return where(v1 == 0, x2, step)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``numpy.nan_to_num``: NaN, +inf and -inf replaced by ``nan``, ``posinf``, ``neginf``
    (default: 0 and the dtype's largest finite values). The derivative is 1 at finite
    entries and 0 at replaced ones (the replacement is a constant)."""
    (x,), xp = prepare(x)
    v = full_lower(x)
    if v.dtype.kind == "c":           # NumPy replaces in the real and imaginary parts apart
        kw = dict(copy=copy, nan=nan, posinf=posinf, neginf=neginf)
        return _cx.make_complex(nan_to_num(_cx.real(x), **kw), nan_to_num(_cx.imag(x), **kw))
    info = np.finfo(v.dtype)
    big = info.max if posinf is None else posinf
    small = -info.max if neginf is None else neginf
    # the replacements take x's dtype (NumPy's copyto): nan=np.float64(1) keeps float32
    nan, big, small = (to_operand(r, v.dtype, xp) for r in (nan, big, small))
    out = where(xp.isnan(v), nan, x)
    out = where(xp.isposinf(v), big, out)
    return where(xp.isneginf(v), small, out)


def ldexp(x1, x2, /):
    """``x1 * 2**x2`` for integer ``x2`` (a constant scale: ``d/dx1 = 2**x2``)."""
    (x1,), xp = prepare(x1)
    return multiply(x1, xp.asarray(np.ldexp(1.0, np.asarray(full_lower(x2)))).astype(
        full_lower(x1).dtype))


def float_power(x1, x2, /):
    """``numpy.float_power``: ``x1 ** x2`` computed in float64 (complex128 for complex
    operands), as :func:`power`."""
    (x1, x2), _ = prepare(x1, x2)
    from ._shape import astype
    dt = np.complex128 if full_lower(x1).dtype.kind == "c" else np.float64
    return power(astype(x1, dt), astype(x2, dt))


pow = power
acos, asin, atan, atan2, atanh = arccos, arcsin, arctan, arctan2, arctanh


def real(val, /):
    """The real part (``numpy.real``): a view of a complex array, ``val`` itself for a real
    one. Linear: its derivative is the real part of the tangent; the transpose turns a
    real cotangent ``g`` into the complex ``g + 0i``."""
    (val,), _ = prepare(val)
    return _cx.real(val)


def imag(val, /):
    """The imaginary part (``numpy.imag``); zeros for real arrays (a constant: derivative
    zero). Linear: the transpose of ``Im`` turns ``g`` into ``-i g`` (JAX's convention)."""
    (val,), _ = prepare(val)
    return _cx.imag(val)


def conj(x, /):
    """The complex conjugate (``numpy.conj``, ``conjugate``); ``x`` itself for real arrays.
    Real-linear but not holomorphic: its transpose is ``conj`` again."""
    (x,), _ = prepare(x)
    return _cx.conj(x)


conjugate = conj


def angle(z, deg=False):
    """The argument ``arctan2(Im z, Re z)`` in (-pi, pi] (degrees with ``deg``), like
    ``numpy.angle``. Complex ``z``: differentiable away from 0 (``d angle = Im(t / z)``; at
    0 the derivative of arctan2 at the origin). Real ``z``: 0 for ``z >= 0``, pi for
    ``z < 0`` (and -0.0; NaN for NaN), piecewise constant (derivative zero).

    Example::

        >>> gpuad.grad(gnp.angle)(1.0 + 1.0j)      # conj(d angle / dz), JAX's convention
        (-0.5-0.5j)
    """
    (z,), xp = prepare(z)
    v = full_lower(z)
    if v.dtype.kind == "c":
        a = arctan2(_cx.imag(z), _cx.real(z))
        return multiply(a, 180.0 / math.pi) if deg else a
    # arctan2(0, x), NumPy's: pi for x < 0 and for -0.0, NaN for NaN (a constant)
    a = xp.arctan2(xp.zeros_like(v), v)
    return (a * (180.0 / math.pi) if deg else a).astype(v.dtype)


def sort_complex(a):
    """``numpy.sort_complex``: sorted by real part, then imaginary part, as a complex
    array of NumPy's dtype (complex64 for complex64 input, else complex128: float32 input
    gives complex128, as NumPy's ``astype('D')``). Differentiated as a
    gather by the sorting permutation (as ``sort``).

    Example::

        >>> gnp.sort_complex(np.array([1 + 2j, 1 - 1j, -3.0]))
        array([-3.+0.j,  1.-1.j,  1.+2.j])
    """
    (a,), _ = prepare(a)
    from ._reductions import sort
    from ._shape import astype
    dt = full_lower(a).dtype
    return sort(astype(a, dt if dt.kind == "c" else np.dtype(np.complex128)))
