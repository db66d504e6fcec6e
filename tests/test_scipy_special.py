"""gpuad.scipy.special beyond the op table (tests/op_table.py has a row per function): the
compositions' options (logsumexp's b=, return_sign, axes; polygamma's order arrays), edge
values against SciPy, the conventions of README's table, and the public namespace."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sc

import gpuad
import gpuad.numpy as gnp
import gpuad.scipy
import gpuad.scipy.special as gss
from gpuad.testing import check_grads

from _xp import hessian_routes

RNG = np.random.default_rng(7)


def test_namespace_mirrors_scipy():
    assert gpuad.scipy.special is gss
    for name in gss.__all__:
        assert hasattr(sc, name), name
        assert callable(getattr(gss, name))
    assert "special" in dir(gpuad.scipy)
    # gpuad.numpy does not gain scipy.special's names
    assert not hasattr(gnp, "gammaln") and not hasattr(gnp, "xlogy")


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_b_and_sign_match_scipy(axis, keepdims):
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    got = gss.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
    want = sc.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-13)
    b = np.abs(b)
    np.testing.assert_allclose(gss.logsumexp(a, axis=axis, b=b, keepdims=keepdims),
                               sc.logsumexp(a, axis=axis, b=b, keepdims=keepdims), rtol=1e-13)


def test_logsumexp_edges_match_scipy():
    big = np.array([1000.0, 0.0])
    assert gss.logsumexp(big, b=np.array([0.0, 1.0])) == sc.logsumexp(big, b=[0.0, 1.0]) == 0.0
    assert gss.logsumexp(np.array([1000.0, 1000.0])) == sc.logsumexp([1000.0, 1000.0])
    assert gss.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    with np.errstate(invalid="ignore"):
        assert np.isnan(gss.logsumexp(np.array([0.0, 0.0]), b=np.array([1.0, -2.0])))
    v, s = gss.logsumexp(np.array([0.0, 0.0]), b=np.array([1.0, -2.0]), return_sign=True)
    assert (v, s) == (0.0, -1.0)


def test_logsumexp_gradients_in_a_and_b():
    a, b = RNG.normal(size=(2, 3)), RNG.uniform(0.5, 2, size=(3,))
    check_grads(lambda a, b: gss.logsumexp(a, axis=-1, b=b), [a, b], order=2, modes=("fwd", "rev"))
    # the gradient in a is b exp(a) / s, in b exp(a) / s
    ga, gb = gpuad.grad(lambda a, b: gss.logsumexp(a, b=b), argnums=(0, 1))(a[0], b)
    s = np.sum(b * np.exp(a[0]))
    np.testing.assert_allclose(ga, b * np.exp(a[0]) / s, rtol=1e-14)
    np.testing.assert_allclose(gb, np.exp(a[0]) / s, rtol=1e-14)
    # a negative sum with return_sign: the derivative of log|s|
    g = gpuad.grad(lambda a: gss.logsumexp(a, b=-b, return_sign=True)[0])(a[0])
    np.testing.assert_allclose(g, b * np.exp(a[0]) / s, rtol=1e-14)


def test_softmax_default_axis_is_all_elements():
    x = RNG.normal(size=(2, 3))
    np.testing.assert_allclose(gss.softmax(x), sc.softmax(x), rtol=1e-14)
    np.testing.assert_allclose(gss.log_softmax(x, axis=0), sc.log_softmax(x, axis=0), rtol=1e-14)
    check_grads(lambda x: gss.softmax(x, axis=1), [x], order=2)


def test_polygamma_orders_broadcast_and_are_not_differentiated():
    n, x = np.array([[0], [1], [2], [3]]), RNG.uniform(0.3, 4, size=5)
    np.testing.assert_allclose(gss.polygamma(n, x), sc.polygamma(n, x), rtol=1e-13)
    # d/dx polygamma(n, x) = polygamma(n + 1, x)
    g = gpuad.grad(lambda x: gnp.sum(gss.polygamma(2, x)))(x)
    np.testing.assert_allclose(g, sc.polygamma(3, x), rtol=1e-13)
    # a traced order is read as its value: derivative 0
    g = gpuad.grad(lambda t: gnp.sum(gss.polygamma(t, x)))(np.float64(1.0))
    assert g == 0.0
    with np.errstate(invalid="ignore"):
        assert np.isnan(sc.polygamma(1.5, 2.0)) and np.isnan(gss.polygamma(1.5, 2.0))


def test_compositions_have_second_derivatives():
    a, b = RNG.uniform(0.5, 3, size=3), RNG.uniform(0.5, 3, size=3)
    for f in (gss.beta, gss.betaln):
        check_grads(f, [a, b], order=2)
    check_grads(lambda a: gss.multigammaln(a, 4), [a + 2], order=2)
    check_grads(gss.entr, [a], order=2)
    # d/da log B(a, b) = psi(a) - psi(a + b)
    g = gpuad.grad(lambda a: gnp.sum(gss.betaln(a, b)))(a)
    np.testing.assert_allclose(g, sc.digamma(a) - sc.digamma(a + b), rtol=1e-13)


def test_beta_signs_for_negative_arguments():
    a, b = np.array([-0.5, -1.5, 2.5]), np.array([1.25, 0.75, -0.3])
    np.testing.assert_allclose(gss.beta(a, b), sc.beta(a, b), rtol=1e-13)


def test_multigammaln_refuses_its_domain_like_scipy():
    with pytest.raises(ValueError):
        gss.multigammaln(np.array(1.0), 3)
    with pytest.raises(ValueError):
        sc.multigammaln(1.0, 3)
    # under a transform the message names the value, not the tracer
    with pytest.raises(ValueError, match=r"condition a \(1\.0\) > 0\.5 \* \(d-1\) \(1\.0\)"):
        gpuad.grad(lambda a: gss.multigammaln(a, 3))(1.0)
    # a non-integer dimension is refused (it was truncated: d = 2.5 computed d = 2), as SciPy
    for d in (2.5, 1.0000001, np.float64(3.5), [3], np.array([2, 3]), 0, -2):
        with pytest.raises(ValueError, match="d should be a positive integer"):
            gss.multigammaln(np.array(3.0), d)
    with pytest.raises(ValueError, match="d should be a positive integer"):
        sc.multigammaln(3.0, 2.5)
    # integral values of any integer or float type are the dimension
    for d in (3, np.int64(3), np.array(3), 3.0):
        assert float(gss.multigammaln(np.array(3.0), d)) == pytest.approx(
            sc.multigammaln(3.0, 3), rel=1e-14)


def test_entr_and_xlogy_edges():
    x = np.array([-1.0, 0.0, 0.5])
    np.testing.assert_array_equal(gss.entr(x), sc.entr(x))
    assert gss.xlogy(0.0, 0.0) == sc.xlogy(0.0, 0.0) == 0.0
    assert gss.xlog1py(0.0, -1.0) == sc.xlog1py(0.0, -1.0) == 0.0
    assert np.isnan(gss.xlogy(0.0, np.nan))
    # README: d/dy xlogy = 0 on x = 0 (also at y = 0); d/dx = log y
    gx, gy = gpuad.grad(lambda x, y: gss.xlogy(x, y), argnums=(0, 1))(0.0, 0.0)
    assert gy == 0.0 and gx == -np.inf
    gx, gy = gpuad.grad(lambda x, y: gss.xlogy(x, y), argnums=(0, 1))(0.0, 2.0)
    assert gy == 0.0 and gx == math.log(2.0)
    h = gpuad.hessian(lambda v: gss.xlogy(v[0], v[1]))(np.array([0.0, 2.0]))
    np.testing.assert_allclose(h, [[0.0, 0.5], [0.5, 0.0]], rtol=1e-15)


def test_entr_derivatives_at_the_edges():
    # d/dx entr = -log x - 1, d2 = -1/x: at x = inf -inf and 0 (it was NaN: xlogy(x, x)'s
    # partials log(inf) + inf/inf); at 0 +inf and -inf; x < 0 (the constant -inf) 0
    x = np.array([-1.0, 0.0, 0.5, 1e300, np.inf])
    d1 = np.array([0.0, np.inf, -math.log(0.5) - 1, -math.log(1e300) - 1, -np.inf])
    d2 = np.array([0.0, -np.inf, -2.0, -1e-300, 0.0])
    f = lambda v: gnp.sum(gss.entr(v))              # noqa: E731
    np.testing.assert_array_equal(gss.entr(x), sc.entr(x))
    np.testing.assert_allclose(gpuad.grad(f)(x), d1, rtol=1e-15)
    np.testing.assert_allclose(gpuad.jvp(gss.entr, (x,), (np.ones(5),))[1], d1, rtol=1e-15)
    np.testing.assert_allclose(np.diag(gpuad.hessian(f)(x)), d2, rtol=1e-15)
    for v, g1, g2 in zip(x, d1, d2):
        assert gpuad.grad(gss.entr)(float(v)) == pytest.approx(g1, rel=1e-15)
        assert gpuad.grad(gpuad.grad(gss.entr))(float(v)) == pytest.approx(g2, rel=1e-15)
    assert gpuad.grad(gss.entr)(np.float32(np.inf)).dtype == np.float32


def test_conventions_at_kinks_and_smooth_points():
    # sinc is smooth at 0
    assert gpuad.grad(gnp.sinc)(0.0) == 0.0
    np.testing.assert_allclose(gpuad.grad(gpuad.grad(gnp.sinc))(0.0), -math.pi ** 2 / 3,
                               rtol=1e-15)
    # hypot at (0, 0): the subgradient 0
    assert gpuad.grad(lambda x, y: gnp.hypot(x, y), argnums=(0, 1))(0.0, 0.0) == (0.0, 0.0)
    # i0e at 0: sign(0) = 0; i1e'(0) = 1/2
    assert gpuad.grad(gss.i0e)(0.0) == 0.0
    assert gpuad.grad(gss.i1e)(0.0) == 0.5


def test_values_far_out_match_scipy():
    q = np.array([1e-300, 1e-100, 1e-20, 0.3, 1.7, 2.0 - 1e-12])
    np.testing.assert_allclose(gss.erfcinv(q), sc.erfcinv(q), rtol=1e-14)
    p = np.array([1e-300, 1e-20, 0.3, 1 - 1e-12])
    np.testing.assert_allclose(gss.ndtri(p), sc.ndtri(p), rtol=1e-14)
    x = np.array([-1e5, -40.0, -25.0, -20.5, -3.0, 5.0, 30.0])
    # the right tail is Phi(-x) = erfc(x / sqrt 2) / 2: the rounding of x / sqrt 2 moves it by
    # about x^2 eps relative (2e-13 at 30), in SciPy's and in gpuad's
    got, want = gss.log_ndtr(x), sc.log_ndtr(x)
    assert np.all(np.abs(got - want) <= (x ** 2 * 2.3e-16 + 1e-14) * np.abs(want)), got - want
    x = np.array([24.9, 25.1, 100.0, 700.0, 1e5, -30.0])
    for f in ("i0e", "i1e"):
        np.testing.assert_allclose(getattr(gss, f)(x), getattr(sc, f)(x), rtol=1e-14)
    np.testing.assert_allclose(gss.i0(x[:4]), sc.i0(x[:4]), rtol=1e-14)
    x = np.array([1e-300, 1e-8, 1.4616321449683622, 1e8, 1e300, -0.5, -1e6 - 0.5])
    np.testing.assert_allclose(gss.digamma(x), sc.digamma(x), rtol=1e-13)
    np.testing.assert_allclose(gss.gammaln(x), sc.gammaln(x), rtol=1e-13)


def test_float32_stays_float32():
    x = np.array([0.5, 1.5], dtype=np.float32)
    for f in (gss.gammaln, gss.digamma, gss.erfinv, gss.ndtri, gss.i0e, gss.log_ndtr):
        assert f(x).dtype == np.float32


def test_logsumexp_of_empty_arrays_is_minus_inf_with_derivative_zero():
    # log(sum over nothing) = log 0 = -inf, as SciPy's for (0,); SciPy raises for an empty
    # axis of a 3-d array, gpuad gives -inf for each of the other entries.
    assert gss.logsumexp(np.ones(0)) == -np.inf
    out = gss.logsumexp(np.ones((4, 0, 2)), axis=1)
    assert out.shape == (4, 2) and np.all(out == -np.inf)
    g = gpuad.grad(lambda x: gnp.sum(gss.logsumexp(x, axis=1)))(np.ones((4, 0, 2)))
    assert g.shape == (4, 0, 2)


# ---------------------------------------------------------------- gammainc, gammaincc, betainc
# at their edges and invalid points (README's conventions table): every derivative of every
# order, in every argument and mode, follows the value's convention.
def _inc_fns():
    return {"gammainc": lambda z: gss.gammainc(z[0], z[1]),
            "gammaincc": lambda z: gss.gammaincc(z[0], z[1]),
            "betainc": lambda z: gss.betainc(z[0], z[1], z[2])}


def _all_derivatives(f, z):
    """grad, jvp along each axis, hessian and hvp along each axis of f at z, flattened."""
    z = np.asarray(z, dtype=float)
    out = [np.ravel(gpuad.grad(f)(z)), np.ravel(gpuad.hessian(f)(z))]
    for e in np.eye(z.size):
        out.append(np.ravel(gpuad.jvp(f, (z,), (e,))[1]))
        out.append(np.ravel(gpuad.hvp(f, z, e)))
    return np.concatenate(out)


# shape parameter 0: the value is SciPy's constant (1 or 0), every derivative 0
@pytest.mark.parametrize("name,z,value", [
    ("gammainc", [0.0, 1.0], 1.0), ("gammainc", [0.0, 30.0], 1.0), ("gammaincc", [0.0, 1.0], 0.0),
    ("betainc", [0.0, 1.0, 0.5], 1.0), ("betainc", [1.0, 0.0, 0.5], 0.0),
    ("betainc", [0.0, 2.5, 1.0], 1.0), ("betainc", [3.0, 0.0, 0.0], 0.0),
])
def test_incomplete_shape_zero_every_derivative_zero(name, z, value):
    f = _inc_fns()[name]
    assert float(f(np.array(z))) == value
    np.testing.assert_array_equal(_all_derivatives(f, z), 0.0)


# where the value is NaN (as SciPy: an invalid argument or a NaN input) every derivative is NaN,
# never a silent 0
@pytest.mark.parametrize("name,z", [
    ("gammainc", [2.0, np.nan]), ("gammainc", [np.nan, 1.0]), ("gammainc", [-1.0, 1.0]),
    ("gammainc", [1.0, -1.0]), ("gammainc", [0.0, 0.0]), ("gammaincc", [-1.0, 1.0]),
    ("gammaincc", [2.0, np.nan]), ("betainc", [2.0, 2.0, np.nan]), ("betainc", [-1.0, 2.0, 0.5]),
    ("betainc", [2.0, -1.0, 0.5]), ("betainc", [2.0, 2.0, 1.5]), ("betainc", [0.0, 0.0, 0.5]),
])
def test_incomplete_invalid_every_derivative_nan(name, z):
    f = _inc_fns()[name]
    assert np.isnan(float(f(np.array(z))))
    assert np.isnan(float(getattr(sc, name)(*z)))
    assert np.isnan(_all_derivatives(f, z)).all()


# at the support's edge (x = 0; x = 1 for betainc) the second partials are the one-sided
# limits, as the first are (README): they were 0, the derivative of the edge's constant
# (d2/dx2 of gammainc(1, x) = 1 - e^-x at 0 was 0, true -1; poisson.logcdf(1, mu)'s at mu = 0,
# log Q(2, mu) = log(1 + mu) - mu, 0 for -1), and in the logs' mixed partials one order
# disagreed with the other (log Q: 0 against +inf at a = 1). The limits
# (x's row of the Hessian in [a, (b,) x]) from the closed forms near the edge:
# x^(a-1) e^-x / Gamma(a), x^(a-1) (1 - x)^(b-1) / B and their logs' expansions.
_INF = np.inf
_LOG_EDGE = {"log_gammainc": lambda z: gss._log_gammainc(z[0], z[1]),
             "log_gammaincc": lambda z: gss._log_gammaincc(z[0], z[1]),
             "log_betainc": lambda z: gss._log_betainc(z[0], z[1], z[2])}


@pytest.mark.parametrize("name,z,xrow", [
    ("gammainc", [0.5, 0.0], [-_INF, -_INF]), ("gammainc", [1.0, 0.0], [-_INF, -1]),
    ("gammainc", [1.5, 0.0], [0, _INF]), ("gammainc", [2.0, 0.0], [0, 1]),
    ("gammainc", [3.0, 0.0], [0, 0]),
    ("gammaincc", [1.0, 0.0], [_INF, 1]), ("gammaincc", [2.0, 0.0], [0, -1]),
    ("betainc", [1.0, 3.0, 0.0], [-_INF, 1, -6]), ("betainc", [2.0, 3.0, 0.0], [0, 0, 12]),
    ("betainc", [0.5, 3.0, 0.0], [-_INF, _INF, -_INF]),
    ("betainc", [3.0, 1.0, 1.0], [1, -_INF, 6]), ("betainc", [3.0, 2.0, 1.0], [0, 0, -12]),
    ("log_gammainc", [2.0, 0.0], [_INF, -_INF]),
    ("log_gammaincc", [1.0, 0.0], [_INF, 0]), ("log_gammaincc", [2.0, 0.0], [0, -1]),
    # log I at x = 0: a log x - log(a B) + a (1 - b) / (a + 1) x + O(x^2)
    ("log_betainc", [2.0, 3.0, 0.0], [_INF, -2 / 3, -_INF]),
    # log I at x = 1, b = 1: a log x
    ("log_betainc", [2.0, 1.0, 1.0], [1, -_INF, -2]),
])
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_incomplete_second_partials_at_the_support_edge(name, z, xrow, dt):
    f = {**_inc_fns(), **_LOG_EDGE}[name]
    z, xrow = np.asarray(z, dtype=dt), np.asarray(xrow, dtype=float)
    k = z.size - 1                    # x, the last argument: its row and column, every route
    for route, got in hessian_routes(f, z).items():
        np.testing.assert_allclose(got[k], xrow, rtol=1e-12 if dt == np.float64 else 1e-6, atol=0,
                                   err_msg=route)


# betaln for max(a, b) >= 10 by Stirling's series: the gammaln difference lost eps m log m
# (log B(1e15, 2) came out -68.0, its d/da 0). Value, gradient and Hessian against mpmath
# (psi and psi' differences) in both orderings, at the switches (10, and a = b) and far out.
@pytest.mark.parametrize("a,b", [(1e15, 2.0), (2.0, 1e12), (1e10, 1e-5), (10.0, 10.0),
                                 (10.0, 9.99), (9.99, 10.0), (1e15, 1e15), (1e15, 1e14),
                                 (1e8, 0.5), (30.0, 12.0), (-0.5, 20.0), (5.0, 3.0)])
def test_betaln_large_arguments_against_mpmath(a, b):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    A, B = mp.mpf(a), mp.mpf(b)
    want = mp.log(abs(mp.beta(A, B)))
    dg = [mp.psi(0, A) - mp.psi(0, A + B), mp.psi(0, B) - mp.psi(0, A + B)]
    t = -mp.psi(1, A + B)
    hs = [[mp.psi(1, A) + t, t], [t, mp.psi(1, B) + t]]
    f = lambda z: gss.betaln(z[0], z[1])          # noqa: E731
    z = np.array([a, b])
    # a few ulps of the terms: |log B| for Stirling's form; where a gammaln difference is
    # used (an argument below 0 or both below 10) the gammaln terms' own size
    eps = np.finfo(float).eps
    terms = sum(abs(mp.loggamma(v).real) for v in (A, B, A + B))
    stirling = min(a, b) > 0 and max(a, b) >= 10
    rel = 4 * eps * (1 if stirling else float(terms / abs(want)))
    assert float(f(z)) == pytest.approx(float(want), rel=rel, abs=1e-15)
    np.testing.assert_allclose(gpuad.grad(f)(z), [float(v) for v in dg], rtol=2e-15)
    np.testing.assert_allclose(gpuad.hessian(f)(z), [[float(v) for v in r] for r in hs],
                               rtol=4e-15)
    assert float(gpuad.jvp(f, (z,), (np.array([1.0, 0.0]),))[1]) == pytest.approx(float(dg[0]),
                                                                                   rel=2e-15)


# stdtr(df, t) for 0 < |t| <= 1e-5: the tail's forms met y^2/(df + y^2)'s power x^(-3/2)
# overflowing on duals in t (|t| < ~1e-77: second partials inf, -inf, NaN) and y^2
# underflowing (|t| < 1e-154: mixed partials 0), silently. Against mpmath: F - 1/2 = pdf(0)
# sum_k binom(-(df+1)/2, k) t^(2k+1) / ((2k+1) df^k) (u = t^2/df <= 1e-9: 12 terms exact to
# 50 digits), d/ddf by mp.diff at 50 digits; d/dt the density, d2/dt2 = -t pdf (df+1)/(df+t^2).
def _stdtr_ref(mp, df, t):
    D, T = mp.mpf(df), mp.mpf(t)

    def series(d):
        pdf0 = mp.exp(mp.loggamma((d + 1) / 2) - mp.loggamma(d / 2)) / mp.sqrt(d * mp.pi)
        return pdf0 * mp.fsum(mp.binomial(-(d + 1) / 2, k) * T ** (2 * k + 1) / ((2 * k + 1) * d ** k)
                              for k in range(12))

    def pdf(d):
        return mp.exp(mp.loggamma((d + 1) / 2) - mp.loggamma(d / 2)
                      - mp.log(d * mp.pi) / 2 - (d + 1) / 2 * mp.log1p(T * T / d))
    g = [mp.diff(series, D), pdf(D)]
    h = [[mp.diff(series, D, 2), mp.diff(pdf, D)],
         [None, -T * pdf(D) * (D + 1) / (D + T * T)]]
    h[1][0] = h[0][1]
    return 0.5 + series(D), g, h


@pytest.mark.parametrize("df", [0.1, 3.0, 1e4])
def test_stdtr_second_derivatives_near_zero_against_mpmath(df):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    # the kernel's series: its terms' rounding and pdf(0) = exp(log pdf(0)), whose d/ddf is a
    # difference of psi values and 1/df cancelling to ~1e-2 of their size (df = 3: measured
    # 8e-15 relative; elsewhere a few ulps): 1e-13
    rel = 1e-13
    f = lambda d, t: gss.stdtr(d, t)                  # noqa: E731
    fv = lambda v: gss.stdtr(v[0], v[1])             # noqa: E731
    for t in [s * 10.0 ** -e for e in (300, 250, 200, 155, 150, 120, 100, 77, 76, 50, 20, 8, 5)
              for s in (1.0, -1.0)]:
        want, g, h = _stdtr_ref(mp, df, t)
        g = [float(v) for v in g]
        h = [[float(v) for v in r] for r in h]
        z = np.array([df, t])
        assert float(f(df, t)) == pytest.approx(float(want), rel=1e-15)
        np.testing.assert_allclose(gpuad.grad(fv)(z), g, rtol=rel, atol=0, err_msg=str(t))
        gg = [[gpuad.grad(gpuad.grad(f, argnums=a), argnums=b)(df, t) for b in (0, 1)]
              for a in (0, 1)]
        np.testing.assert_allclose(gg, h, rtol=rel, atol=0, err_msg=f"grad-grad {t}")
        np.testing.assert_allclose(gpuad.hessian(fv)(z), h, rtol=rel, atol=0,
                                   err_msg=f"hessian {t}")
        jg = [gpuad.jvp(gpuad.grad(fv), (z,), (e,))[1] for e in np.eye(2)]
        np.testing.assert_allclose(jg, h, rtol=rel, atol=0, err_msg=f"jvp-grad {t}")
    # gpuad.scipy.stats.t.cdf is the same kernel
    import gpuad.scipy.stats as gst
    t = 1e-120
    _, _, h = _stdtr_ref(mp, df, t)
    cdf = lambda v: gst.t.cdf(v[1], v[0])             # noqa: E731
    np.testing.assert_allclose(gpuad.hessian(cdf)(np.array([df, t])),
                               [[float(v) for v in r] for r in h], rtol=rel, atol=0)


# polygamma's orders above 37 were NaN (SciPy: polygamma(38, 2.5) = -1.5807e29). Values and
# the derivative polygamma(n + 1, x) (first and second order, reverse and forward) against
# mpmath. Error: n! by n - 1 rounded products (at most (n - 1) eps/2, typically sqrt(n) eps),
# pow and each term exp(-(n+1) log1p(v)) a few eps (|log term| eps), the sum's rounding:
# (n + 16) eps relative. Overflow to +-inf exactly where the value exceeds double's range.
@pytest.mark.parametrize("n", [0, 1, 2, 5, 20, 37, 38, 50, 100, 170])
def test_polygamma_large_orders_against_mpmath(n):
    mp = pytest.importorskip("mpmath")
    eps = np.finfo(float).eps
    big = mp.mpf(np.finfo(float).max)

    def ref(k, x):
        with mp.workdps(60 + 3 * k):     # x < 0: terms up to 2^(k+1) above the value cancel
            w = mp.polygamma(k, mp.mpf(x))
            return float(w) if abs(w) <= big else (np.inf if w > 0 else -np.inf)

    xs = [0.1, 1.0, 2.5, 10.0, 1e3, 1e-5, 57.3, 1e300]
    if n > 37:         # orders above 37 reflect by the Hurwitz series for x < 0
        xs += [-0.5, -1.5, -2.3, -10.7, -0.1, -100.25]
    rel = (n + 16) * eps
    for x in xs:
        want = [ref(n + j, x) for j in range(3)]
        got = [float(gss.polygamma(n, x)),
               float(gpuad.grad(lambda t: gss.polygamma(n, t))(x)),
               float(gpuad.grad(gpuad.grad(lambda t: gss.polygamma(n, t)))(x)),
               float(gpuad.jvp(lambda t: gss.polygamma(n, t), (np.array(x),),
                               (np.array(1.0),))[1]),
               float(gpuad.hessian(lambda t: gss.polygamma(n, t))(np.array(x)))]
        want = want + [want[1], want[2]]
        for g, w, what in zip(got, want, ["value", "grad", "grad2", "jvp", "hessian"]):
            if np.isinf(w) or w == 0 or abs(w) < 1e-300:
                assert g == w or (w == 0 and abs(g) < 1e-300), (n, x, what, g, w)
            else:
                assert g == pytest.approx(w, rel=rel), (n, x, what)
    # SciPy's values
    assert float(gss.polygamma(38, 2.5)) == pytest.approx(float(sc.polygamma(38, 2.5)), rel=1e-13)
    assert float(gss.polygamma(100, 2.5)) == pytest.approx(float(sc.polygamma(100, 2.5)),
                                                           rel=1e-13)


def test_polygamma_very_large_orders_and_limits():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60
    # n up to 1000 (order_of's bound), x > 0; the half-integer reflection x -> 1 - x for even n
    # (the cancelling terms leave a value far below the scale 2^(n+1) n!)
    for n, x in [(500, 1e3), (1000, 2e3), (1000, 1e300), (300, 7.5)]:
        w = mp.polygamma(n, mp.mpf(x))
        assert float(gss.polygamma(n, x)) == pytest.approx(float(w), rel=(n + 16) * 2.3e-16)
    assert float(gss.polygamma(100, -1000.5)) == float(gss.polygamma(100, 1001.5))
    assert float(gss.polygamma(500, 0.5)) == -np.inf and float(gss.polygamma(501, 0.5)) == np.inf
    assert float(gss.polygamma(40, np.inf)) == 0.0 and float(gss.polygamma(41, np.inf)) == 0.0
    assert np.isnan(gss.polygamma(40, -3.0)) and float(gss.polygamma(41, -3.0)) == np.inf
    # documented limits: x below -1e5 for orders above 37, orders above 1000: NaN
    assert np.isnan(gss.polygamma(40, -1e5 - 0.5)) and np.isnan(gss.polygamma(1001, 2.0))


# gammaincc's derivatives in a for a < 1 as x -> 0, where Q = 1 - P, P ~ x^a / Gamma(a + 1):
# the small-a form -expm1(L)/a (times a) cancelled two O(1/a) terms down to ~P (at a = 1/2,
# x = 1e-40 d/da Q was 0, true -d/da P = 1.04e-18). Against mpmath's -d/da P (mp.diff of the
# regularized lower gamma at 60 digits, no cancellation). Error: P = exp(a log x - x -
# lgamma(1 + a)) (1 + series) carries eps |a log x| from the exp's argument, its derivatives
# in a the same plus the series': 4 eps (|a log x| + 10).
@pytest.mark.parametrize("a", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("x", [1e-40, 1e-20, 1e-8])
def test_gammaincc_shape_derivatives_as_x_tends_to_zero(a, x):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60
    A, X = mp.mpf(a), mp.mpf(x)
    P = lambda t: mp.gammainc(t, 0, X, regularized=True)      # noqa: E731
    dens = lambda t: mp.exp(-X + (t - 1) * mp.log(X) - mp.loggamma(t))  # noqa: E731
    want = [float(-mp.diff(P, A)), float(-mp.diff(P, A, 2)), float(-mp.diff(dens, A))]
    rel = 4 * np.finfo(float).eps * (abs(a * math.log(x)) + 10)
    fq = lambda t, y: gss.gammaincc(t, y)                     # noqa: E731
    fp = lambda t, y: gss.gammainc(t, y)                      # noqa: E731
    assert float(fq(a, x)) == pytest.approx(float(1 - P(A)), rel=1e-15)
    da = gpuad.grad(fq, argnums=0)(a, x)
    assert da == pytest.approx(want[0], rel=rel)
    assert da == pytest.approx(-gpuad.grad(fp, argnums=0)(a, x), rel=rel)
    assert gpuad.grad(gpuad.grad(fq, argnums=0), argnums=0)(a, x) == pytest.approx(want[1], rel=rel)
    fv = lambda v: gss.gammaincc(v[0], v[1])                  # noqa: E731
    h = gpuad.hessian(fv)(np.array([a, x]))
    assert h[0, 0] == pytest.approx(want[1], rel=rel)
    assert h[0, 1] == pytest.approx(want[2], rel=rel) and h[1, 0] == pytest.approx(want[2], rel=rel)
    jg = gpuad.jvp(gpuad.grad(fv), (np.array([a, x]),), (np.array([1.0, 0.0]),))[1]
    assert jg[0] == pytest.approx(want[1], rel=rel) and jg[1] == pytest.approx(want[2], rel=rel)


# beta and betaln near their poles (one argument small, or both): the gammaln sum cancelled,
# silently: d/db log B(1e-17, 2) came out 0 (truth -1.6e-17, and d/db B = -0.645), and
# d2B/da db at (1e-12, 2) 1.06e8 for 0.847. Every first and second partial of both, in both
# orderings, at the regions' edges and far inside, against mpmath (psi differences at enough
# digits that a + b is exact). Inside the pole regions a few ulps; in the gap between them
# (a small, b/a and a + b moderate) B's mixed partial still comes out of terms of size
# B/(a+b)^2, which bounds its error.
_POLE_POINTS = [(1e-300, 2.0), (1e-17, 2.0), (1e-12, 2.0), (1e-12, 1.4616321449683622),
                (1e-8, 1e-5), (1e-17, 1e-10), (1e-5, 1e-3), (1e-3, 0.011), (0.05, 1.0),
                (0.051, 1.0), (0.04, 0.8), (0.04, 0.81), (1e-6, 1e12), (0.02, 1e300),
                (0.1, 0.1), (0.1, 0.1001), (0.005, 0.1), (0.02, 0.21), (0.5, 0.011),
                (0.2, 0.3), (1e-150, 3e-150), (0.01, 1e10),
                # negative arguments (off Gamma's poles): d2B/da db at (1e-12, -0.3) was
                # 1.3e8 (3.70), dB/db at (-1e-17, 2) 0 (-0.645)
                (1e-12, -0.3), (1e-17, -2.5), (-1e-17, 2.0), (-1e-10, 2.0), (1e-6, -1.7),
                (-0.01, -0.05), (0.03, -0.07)]


def _beta_reference(mp, a, b):
    A, B = mp.mpf(a), mp.mpf(b)
    d = [mp.psi(0, A) - mp.psi(0, A + B), mp.psi(0, B) - mp.psi(0, A + B)]
    t = -mp.psi(1, A + B)
    h = [[mp.psi(1, A) + t, t], [t, mp.psi(1, B) + t]]
    v = mp.beta(A, B)
    return (mp.log(abs(v)), d, h, v, [v * x for x in d],
            [[v * (h[i][j] + d[i] * d[j]) for j in range(2)] for i in range(2)])


@pytest.mark.parametrize("a,b", _POLE_POINTS + [(b, a) for a, b in _POLE_POINTS])
def test_beta_betaln_near_poles_against_mpmath(a, b):
    mp = pytest.importorskip("mpmath")
    eps = np.finfo(float).eps
    digits = int(40 + 2.5 * sum(abs(math.log10(abs(v))) for v in (a, b, a + b)))
    with mp.workdps(digits):
        want = [np.array(mp.matrix(w).tolist() if isinstance(w, list) else w, dtype=float)
                for w in _beta_reference(mp, a, b)]
    z = np.array([a, b])
    fl, fb = (lambda z: gss.betaln(z[0], z[1])), (lambda z: gss.beta(z[0], z[1]))
    got = [fl(z), gpuad.grad(fl)(z), gpuad.hessian(fl)(z),
           fb(z), gpuad.grad(fb)(z), gpuad.hessian(fb)(z)]
    lo, s = min(abs(a), abs(b)), abs(a) + abs(b)
    inside = s <= 0.2 or (lo <= 0.05 and lo <= 0.05 * max(abs(a), abs(b)))
    # outside: B (psi' + psi psi) with terms of size B/s^2 against the mixed partial
    gap = 1.0 if inside else float(want[3]) / (s * s * abs(want[5][0, 1]))
    for k, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        w = w.reshape(g.shape)
        fin = np.isfinite(w)
        assert (g[~fin] == w[~fin]).all()
        rtol = 64 * eps * (gap if k == 5 else 1.0)
        np.testing.assert_allclose(g[fin], w[fin], rtol=rtol, atol=0,
                                   err_msg=f"{['betaln', 'd betaln', 'd2 betaln', 'beta', 'd beta', 'd2 beta'][k]}")


@pytest.mark.filterwarnings("error")       # (1e100 * s overflowed float32's cast: a warning)
def test_beta_betaln_near_poles_keep_float32():
    for a, b in [(1e-5, 2.0), (0.01, 0.02), (2.0, 1e-3), (1e-3, 1e5), (3.0, 4.0), (3.0, 40.0)]:
        A, B = np.float32(a), np.float32(b)
        for f, ref in ((gss.beta, sc.beta), (gss.betaln, sc.betaln)):
            got = f(np.array([A]), np.array([B]))
            assert got.dtype == np.float32, (f, a, b)
            g = gpuad.grad(lambda x: gnp.sum(f(x, np.array([B]))))(np.array([A]))
            assert g.dtype == np.float32
            # beta = exp(betaln): float32's rounding of log|B| times |log B| in exp
            rtol = 4 * np.finfo(np.float32).eps * (1 + abs(sc.betaln(float(A), float(B))))
            np.testing.assert_allclose(got, ref(np.float64(A), np.float64(B)), rtol=rtol)


def test_dirichlet_log_normaliser_with_tiny_concentrations():
    """log B(alpha) of the Dirichlet density is the same telescoping betaln sum: with the
    other entries tiny, d/dalpha_0 = psi(alpha_0) - psi(sum alpha) came out 0."""
    mp = pytest.importorskip("mpmath")
    x = np.array([0.2, 0.3, 0.5])
    for alpha in ([2.0, 1e-17, 3.0], [1e-10, 1e-12, 5.0], [1e-17, 1e-17, 2.0], [1.5, 2.0, 3.0]):
        alpha = np.array(alpha)
        with mp.workdps(80):
            A = [mp.mpf(v) for v in alpha]
            S = mp.fsum(A)
            want = [float(mp.log(xi) - (mp.psi(0, ai) - mp.psi(0, S))) for xi, ai in zip(x, A)]
            hw = [[float((mp.psi(1, S) - (mp.psi(1, ai) if i == j else 0))) for j, aj in
                   enumerate(A)] for i, ai in enumerate(A)]
        f = lambda a: gpuad.scipy.stats.dirichlet.logpdf(x, a)          # noqa: E731
        np.testing.assert_allclose(gpuad.grad(f)(alpha), want, rtol=64 * np.finfo(float).eps)
        np.testing.assert_allclose(gpuad.hessian(f)(alpha), hw, rtol=64 * np.finfo(float).eps)


def test_polygamma_result_dtype_is_scipys():
    """n and x promote together (SciPy converts n to an array): an integer order with float32
    x gives float64, a float32 order keeps float32."""
    for n in (1, np.int32(1), np.array([1, 2]), 1.0, np.float32(1)):
        for x in (np.float32(2.0), np.array([2.0, 3.0], np.float32), 2.0):
            got, want = gss.polygamma(n, x), sc.polygamma(n, x)
            assert np.asarray(got).dtype == np.asarray(want).dtype, (n, x)
            np.testing.assert_allclose(got, want, rtol=2e-7 if want.dtype == np.float32 else 1e-14)


def test_ndtr_float32_lower_tail():
    """float32 ndtr in double: the float rounding of -x/sqrt 2 cost 2 y^2 eps (1.1e-5 at -13)."""
    x = np.array([-13.0, -10.0, -5.0, -1.0, 0.5, 3.0], np.float32)
    want = sc.ndtr(x.astype(np.float64))
    got = gss.ndtr(x)
    assert got.dtype == np.float32
    # one rounding to float32 (6.1e-39 at -13 is subnormal: its spacing 1.4e-45)
    np.testing.assert_allclose(got, want, rtol=np.finfo(np.float32).eps, atol=1.5e-45)


def test_betaln_of_a_negative_argument_beside_a_large_one_against_scipy():
    """A negative non-integer argument with a large other one went to the gammaln
    difference, which loses eps m log m: betaln(-0.5, 1e20) came out 0 (24.29)."""
    for a, b in [(-0.5, 1e20), (-0.01, 1e300), (-0.5, 1e10), (1e10, -2.5), (-7.5, 30.0)]:
        np.testing.assert_allclose(gss.betaln(np.array(a), np.array(b)), sc.betaln(a, b),
                                   rtol=1e-13)
        np.testing.assert_allclose(gss.beta(np.array(a), np.array(b)), sc.beta(a, b),
                                   rtol=1e-12)
        g = gpuad.grad(lambda z: gss.betaln(z[0], z[1]))(np.array([a, b]))
        np.testing.assert_allclose(g, [sc.digamma(a) - sc.digamma(a + b),
                                       sc.digamma(b) - sc.digamma(a + b)], rtol=1e-9, atol=1e-14)
