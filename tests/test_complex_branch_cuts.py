"""Complex elementwise functions against NumPy on and around their branch cuts.

Every unary op that gpuad.numpy runs on complex input (the registry's ``COMPLEX`` rows that
are unary and public, and gpuad.numpy's other complex unary functions) is walked over a grid
that lies on the real and imaginary axes with both signs of zero (the cuts of sqrt, log,
arcsin, arccos, arctanh, arccosh on the real axis, of arctan, arcsinh on the imaginary one),
plus ordinary points. Values must equal NumPy's (C99 Annex G's) to 1e-12 relative, the sign
of a zero part included; first derivatives (jvp and holomorphic grad) and second derivatives
must equal central differences of NumPy's function taken along the axis the point lies on, so
that the step keeps the sign of the zero part: the derivative of the side the value is taken
from. A new op in the registry is covered without an edit here.
"""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad.numpy import _elementwise as GE
from gpuad.primitives import elementwise as E

# Every complex unary function of gpuad.numpy, from the registry (kernel ops holomorphic on
# complex numbers) and gpuad.numpy's own table of the non-holomorphic ones (abs, sign).
OPS = sorted({n for n in E.UNARY if n in E.COMPLEX and n not in E.SCIPY_SPECIAL
              and n not in E.INTERNAL} | set(GE._COMPLEX))
HOLOMORPHIC = [n for n in OPS if n in E.COMPLEX]

_AXIS = [-9, -4, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 4, 9]
_IMAG = [-9, -2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2, 9]
GRID = ([complex(r, i) for r in _AXIS for i in (0.0, -0.0)]
        + [complex(r, i) for i in _IMAG for r in (0.0, -0.0)])
ORDINARY = [0.3 + 0.7j, -2.5 + 1.25j, 1.75 - 0.4j, -0.6 - 3.0j, 0.99 + 1e-3j, -1.01 - 1e-3j,
            1e-3 + 1.001j, 0.05 - 0.02j]  # (NumPy's log1p is log(1 + z): not near 0)
POINTS = np.array(GRID + ORDINARY)
# Infinities and NaN: Annex G's special values, for the ops whose kernels implement them
# (kernels/gpuad/complex.cuh); the inverse functions' (arcsin(inf + 0i) = pi/2 + inf i, ...)
# are not implemented yet, and NumPy's sign of complex infinities is its own.
SPECIAL = {"log", "log2", "log10", "log1p", "exp", "exp2", "expm1", "sqrt", "sin", "cos",
           "tan", "sinh", "cosh", "tanh", "reciprocal", "square", "negative", "abs", "absolute"}
INF = np.array([complex(a, b) for a in (np.inf, -np.inf, np.nan, 0.0, -0.0, 2.0, -2.0)
                for b in (np.inf, -np.inf, np.nan, 0.0, -0.0, 2.0, -2.0)
                if not (np.isfinite(a) and np.isfinite(b))])


def _np(name, z):
    with np.errstate(all="ignore"):
        return getattr(np, name)(z)


def _same(got, ref, rtol, signed=True):
    """Equal within rtol, NaN where NumPy's is NaN, a zero with NumPy's sign (where
    ``signed``; elsewhere only |got| = |ref|)."""
    ok = np.isclose(got, ref, rtol=rtol, atol=0, equal_nan=True)
    ok |= ~signed & np.isclose(np.abs(got), np.abs(ref), rtol=rtol, atol=0, equal_nan=True)
    zero = ref == 0
    return ok & (~zero | ((got == 0) & (~signed | (np.signbit(got) == np.signbit(ref)))))


def _check_values(name, z, rtol):
    ref = _np(name, z)
    got = np.asarray(getattr(gnp, name)(z))
    assert got.dtype == ref.dtype
    # At an infinite or NaN argument Annex G leaves the sign of a zero or infinite part
    # unspecified where the other part is NaN or zero (cos(inf + 0i) = NaN +- 0i,
    # exp(-inf - i inf) = +-0 +- 0i): compared there without its sign.
    special = ~(np.isfinite(z.real) & np.isfinite(z.imag))
    def signed(other):
        return ~special | (np.isfinite(other) & (other != 0))
    bad = ~(_same(got.real, ref.real, rtol, signed(ref.imag))
            & _same(got.imag, ref.imag, rtol, signed(ref.real)))
    assert not bad.any(), (f"{name} at {z[bad].tolist()}: gpuad {got[bad].tolist()}, "
                           f"NumPy {ref[bad].tolist()}")


def test_ops_walked():
    """The walk covers the ops named in the bug report (and whatever the registry adds)."""
    assert {"sqrt", "log", "log2", "log10", "log1p", "exp", "expm1", "sin", "cos", "tan",
            "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
            "arctanh", "reciprocal", "square"} <= set(HOLOMORPHIC)


@pytest.mark.parametrize("name", OPS)
def test_values_on_cuts_match_numpy(name):
    _check_values(name, POINTS, 1e-12)
    if name in SPECIAL:
        _check_values(name, INF, 1e-12)


@pytest.mark.parametrize("name", OPS)
def test_values_complex64(name):
    _check_values(name, POINTS.astype(np.complex64), 2e-6)


def _steps(z, h):
    """z + h and z - h along the axis z lies on (real steps for a point on the real axis,
    imaginary ones on the imaginary axis), keeping the sign of the zero part: the side the
    value is taken from."""
    if z.imag == 0 or z.real != 0:
        return complex(z.real + h, z.imag), complex(z.real - h, z.imag), 1.0
    return complex(z.real, z.imag + h), complex(z.real, z.imag - h), 1j


def _central(name, z, h):
    """f'(z) by central differences along the step's axis, Richardson-extrapolated (O(h^4))."""
    def c(h):
        p, m, u = _steps(z, h)
        return (_np(name, p) - _np(name, m)) / (2 * h * u)
    return (4 * c(h / 2) - c(h)) / 3


def _second(name, z, h):
    """f''(z) likewise."""
    def c(h):
        p, m, u = _steps(z, h)
        return (_np(name, p) - 2 * _np(name, z) + _np(name, m)) / (h * u) ** 2
    return (4 * c(h / 2) - c(h)) / 3


def _limit(estimate, z, exponents, tol):
    """The difference quotient's limit: the first estimate that agrees with the next (step
    10^-k max(1, |z|) over the exponents k) within tol; None where none does (a branch point
    or a pole, where the quotients grow as the step shrinks)."""
    prev = None
    for k in exponents:
        cur = estimate(10.0 ** -k * max(1.0, abs(z)))
        if not np.isfinite(cur):
            return None
        if prev is not None and abs(cur - prev) <= tol * max(1.0, abs(cur)):
            return cur
        prev = cur
    return None


@pytest.mark.parametrize("name", HOLOMORPHIC)
def test_derivatives_on_cuts_match_the_values_side(name):
    f = getattr(gnp, name)
    z = POINTS
    _, jv = gpuad.jvp(f, (z,), (np.ones_like(z),))
    g = gpuad.grad(lambda z: gnp.sum(f(z)), holomorphic=True)(z)
    with np.errstate(invalid="ignore"):                      # (inf at the poles)
        np.testing.assert_allclose(g, jv, rtol=1e-14, atol=0)   # reverse = forward mode
    d2 = gpuad.jvp(lambda z: gpuad.jvp(f, (z,), (np.ones_like(z),))[1], (z,),
                   (np.ones_like(z),))[1]
    checked = 0
    for k, zk in enumerate(z):
        want = _limit(lambda h: _central(name, zk, h), zk, range(1, 8), 1e-9)
        if want is None:
            # a branch point or pole: no derivative; gpuad's is not a finite number either
            assert not np.isfinite(jv[k]), f"{name}'({zk}) = {jv[k]} where NumPy's f has none"
            continue
        assert abs(jv[k] - want) <= 1e-7 * max(1.0, abs(want)), \
            f"{name}'({zk}): gpuad {jv[k]}, numeric {want}"
        want2 = _limit(lambda h: _second(name, zk, h), zk, range(1, 7), 1e-6)
        assert want2 is not None, (name, zk)
        assert abs(d2[k] - want2) <= 1e-4 * max(1.0, abs(want2)), \
            f"{name}''({zk}): gpuad {d2[k]}, numeric {want2}"
        checked += 1
    assert checked >= len(z) // 2


# Relative accuracy near 0 against mpmath: the small-|z| forms keep every digit.
@pytest.mark.parametrize("name, mp", [
    ("arcsin", "asin"), ("arcsinh", "asinh"), ("arctan", "atan"), ("arctanh", "atanh"),
    ("log1p", "log1p"), ("expm1", "expm1"), ("sin", "sin"), ("tan", "tan"), ("tanh", "tanh"),
    ("sinh", "sinh")])
def test_small_arguments_keep_relative_accuracy(name, mp):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 500     # (1e-200 + 1e-210j: the imaginary part is 1e-10 of the real)
    for z in (1e-10 + 1e-12j, 1e-12 + 1e-10j, -3e-9 - 2e-13j, 1e-200 + 1e-210j):
        got = complex(getattr(gnp, name)(np.array(z)))
        want = complex(getattr(mpmath, mp)(mpmath.mpc(z.real, z.imag)))
        assert abs(got.real - want.real) <= 4e-16 * abs(want.real), (name, z, got, want)
        assert abs(got.imag - want.imag) <= 4e-16 * abs(want.imag), (name, z, got, want)


# First, second and third derivatives of the complex inverse and hyperbolic functions against
# their closed forms in mpmath, normwise (the standard for complex arithmetic), where the
# derivative formulas cancelled silently: the dual arithmetic on 1/(sqrt(1-z) sqrt(1+z))
# near 0 (arcsin''((6+8i)e-31) came out 8e-31i for (6+8i)e-31), 1 + z*z near the branch
# points +-i and 1 - z*z near +-1 (eps/|z -+ 1|), z*z overflowing (arctan' NaN + NaN i past
# |z| = 1.3e154), and 1 - tanh^2 / 1 + tan^2 far from the real / imaginary axis (tanh'(20+i)
# lost its real part). A = the first derivative, q = 1/(1 -+ z^2), s = sech^2 or sec^2.
def _closed_forms(mp, name, z):
    if name in ("arcsin", "arccos"):
        a = 1 / (mp.sqrt(1 - z) * mp.sqrt(1 + z))
        d = [a, z * a ** 3, (1 + 2 * z * z) * a ** 5]
        return [-v for v in d] if name == "arccos" else d
    if name == "arcsinh":
        a = 1 / (mp.sqrt(1 - 1j * z) * mp.sqrt(1 + 1j * z))
        return [a, -z * a ** 3, (2 * z * z - 1) * a ** 5]
    if name == "arccosh":
        a = 1 / (mp.sqrt(z - 1) * mp.sqrt(z + 1))
        return [a, -z * a ** 3, (2 * z * z + 1) * a ** 5]
    if name == "arctan":
        q = 1 / (1 + z * z)
        return [q, -2 * z * q ** 2, (6 * z * z - 2) * q ** 3]
    if name == "arctanh":
        q = 1 / (1 - z * z)
        return [q, 2 * z * q ** 2, (6 * z * z + 2) * q ** 3]
    if name == "tanh":
        t = mp.tanh(z)
        s = 1 / mp.cosh(z) ** 2
        return [s, -2 * t * s, 4 * t * t * s - 2 * s * s]
    t = mp.tan(z)
    s = 1 / mp.cos(z) ** 2
    return [s, 2 * t * s, 4 * t * t * s + 2 * s * s]


_CX_POINTS = {
    "near 0": [(6 + 8j) * 1e-31, -3e-9 + 1e-12j, 1e-200 - 1e-201j],
    "moderate": [0.3 + 0.2j, 0.5 - 2.5j, -1.2 + 0.7j],
    "near the branch points": [1 + 1e-9j, -1 + 1e-7 - 1e-8j, 1e-9 + (1 - 1e-8) * 1j,
                               -1e-8 - (1 + 1e-9) * 1j, 1e-5 + 1j],
    "far out": [5e153 + 2e153j, -1e200 + 3e199j, 20 + 1j, -30 - 2j, 400 + 0.3j, 3 + 40j,
                0.3 + 700j, 1 - 300j],
}


@pytest.mark.parametrize("where", list(_CX_POINTS))
@pytest.mark.parametrize("name", ["arcsin", "arccos", "arcsinh", "arccosh", "arctan", "arctanh",
                                  "tanh", "tan"])
def test_complex_derivatives_to_third_order_against_closed_forms(name, where):
    mp = pytest.importorskip("mpmath")

    def d(f):
        return lambda z: gpuad.jvp(f, (z,), (np.ones_like(z),))[1]
    f = getattr(gnp, name)
    fs = [d(f), d(d(f)), d(d(d(f)))]
    tiny = np.finfo(float).tiny
    for z in _CX_POINTS[where]:
        with mp.workdps(450):
            want = [complex(v) for v in _closed_forms(mp, name, mp.mpc(z.real, z.imag))]
        for k, (g, w) in enumerate(zip(fs, want), 1):
            got = complex(g(np.array(z)))
            if abs(w) < 1e4 * tiny:         # underflows: 0 or a subnormal, never NaN
                assert abs(got) < 1e5 * tiny, (name, z, k, got, w)
                continue
            # a few roundings of the arguments' own error (|z| eps), times the order
            assert abs(got - w) <= 16 * k * np.finfo(float).eps * abs(w), (name, z, k, got, w)
