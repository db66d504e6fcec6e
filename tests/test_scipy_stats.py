"""gpuad.scipy.stats beyond the op table (tests/op_table.py has rows stats_* for every
distribution's methods inside the support): values against scipy.stats on grids that include
out-of-support points, edges of the support, NaN and invalid parameters; derivative 0 out of
the support (README's convention); check_grads to order 2 in every continuous argument; the
frozen forms; SciPy's errors of multivariate_normal and dirichlet; dtypes and scalar results;
multivariate_normal's cdf (Genz's lattice rule: values against closed forms and SciPy,
derivatives against the analytic identities and differences of the estimate) and
allow_singular."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as sst

import gpuad
import gpuad.numpy as gnp
import gpuad.scipy
import gpuad.scipy.stats as gst
from gpuad.testing import check_grads

from _xp import hessian_routes

RNG = np.random.default_rng(11)
MODES = ("fwd", "rev")


def scipy_quiet(f, *args, **kw):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return f(*args, **kw)


def same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got) & (got > 0), np.isinf(want) & (want > 0))
    np.testing.assert_array_equal(np.isinf(got) & (got < 0), np.isinf(want) & (want < 0))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-12, atol=1e-14)


def test_namespace():
    assert gpuad.scipy.stats is gst
    assert "stats" in dir(gpuad.scipy)
    for name in gst.__all__:
        obj = getattr(gst, name)
        assert hasattr(sst, name), name
        assert callable(obj) and obj.__doc__ and obj.__module__ == "gpuad.scipy.stats"
    assert dir(gst) == sorted(gst.__all__)


# ---------------------------------------------------------------- values on grids
X = np.array([-3.0, -1.0, -1e-300, 0.0, 0.25, 0.5, 1.0, 1.5, 4.0, 40.0, np.nan, -np.inf,
              np.inf])
CONT = [  # name, methods, parameter sets (shape params..., loc, scale)
    ("norm", ("pdf", "logpdf", "cdf", "logcdf"),
     [(), (0.5, 2.0), (-1.0, 0.3), (0.0, 0.0), (0.0, -1.0), (np.nan, 1.0)]),
    ("logistic", ("pdf", "logpdf", "cdf", "logcdf"),
     [(), (0.5, 2.0), (-1.0, 0.03), (0.0, -1.0)]),
    ("t", ("pdf", "logpdf"),
     [(1.0,), (2.5, 0.5, 2.0), (30.0, -1.0, 0.3), (np.inf,), (0.0,), (-1.0,), (3.0, 0.0, 0.0)]),
    ("gamma", ("pdf", "logpdf"),
     [(1.0,), (0.5,), (2.5, 0.5, 2.0), (3.0, -1.0, 0.3), (0.0,), (-1.0,), (2.0, 0.0, -1.0)]),
    ("chi2", ("pdf", "logpdf"),
     [(1.0,), (2.0,), (3.0,), (5.5, 0.5, 2.0), (0.0,), (-2.0,)]),
    ("beta", ("pdf", "logpdf"),
     [(2.0, 3.0), (1.0, 1.0), (0.5, 0.5), (1.0, 2.0), (2.0, 1.0), (2.5, 0.7, -1.0, 3.0),
      (0.0, 1.0), (1.0, -1.0), (2.0, 2.0, 0.0, -1.0)]),
]


@pytest.mark.parametrize("name,methods,params", CONT, ids=[c[0] for c in CONT])
def test_continuous_values_match_scipy(name, methods, params):
    for p in params:
        for m in methods:
            got = getattr(getattr(gst, name), m)(X, *p)
            want = scipy_quiet(getattr(getattr(sst, name), m), X, *p)
            same(got, want)


def test_keyword_arguments_and_broadcasting_match_scipy():
    x = RNG.uniform(0.1, 3, size=(2, 1, 4))
    a, loc, scale = RNG.uniform(0.5, 3, size=(3, 1)), RNG.uniform(-0.5, 0.0, size=4), 1.7
    same(gst.gamma.logpdf(x, a=a, loc=loc, scale=scale),
         sst.gamma.logpdf(x, a=a, loc=loc, scale=scale))
    same(gst.beta.pdf(x / 4, a, b=2.0, scale=1.0), sst.beta.pdf(x / 4, a, b=2.0, scale=1.0))
    same(gst.t.logpdf(x, df=a, scale=scale), sst.t.logpdf(x, df=a, scale=scale))
    same(gst.norm.logcdf(x, scale=scale), sst.norm.logcdf(x, scale=scale))
    with pytest.raises(TypeError):
        gst.t.logpdf(x)                         # df has no default, as in SciPy
    with pytest.raises(TypeError):
        gst.norm.logpdf(x, 0.0, 1.0, 2.0)


def test_far_tails_match_scipy():
    x = np.array([-800.0, -40.0, 40.0, 800.0])
    same(gst.logistic.logpdf(x), sst.logistic.logpdf(x))
    same(gst.logistic.logcdf(x), sst.logistic.logcdf(x))
    same(gst.norm.logcdf(x), sst.norm.logcdf(x))
    same(gst.norm.logpdf(x), sst.norm.logpdf(x))


K = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 7.0, 30.0, np.nan])


@pytest.mark.parametrize("mu,loc", [(1.3, 0), (0.0, 0), (4.0, 2), (4.0, 0.5), (-1.0, 0),
                                    (np.nan, 0)])
def test_poisson_values_match_scipy(mu, loc):
    for m in ("pmf", "logpmf"):
        same(getattr(gst.poisson, m)(K, mu, loc), scipy_quiet(getattr(sst.poisson, m), K, mu, loc))
    same(gst.poisson.logpmf(K[:-1].astype(int), mu=mu, loc=loc),
         scipy_quiet(sst.poisson.logpmf, K[:-1].astype(int), mu=mu, loc=loc))


def test_scalars_and_dtypes():
    for f, args in [(gst.norm.logpdf, (1.0,)), (gst.t.pdf, (1.0, 3.0)),
                    (gst.gamma.logpdf, (-1.0, 2.0)), (gst.poisson.pmf, (2, 1.5)),
                    (gst.logistic.cdf, (0.3,)), (gst.dirichlet.logpdf, ([0.3, 0.7], [2.0, 2.0])),
                    (gst.multivariate_normal.logpdf, ([1.0, 2.0], [0.0, 0.0], 2.0))]:
        r = f(*args)
        assert type(r) is np.float64, (f, type(r))
    x32 = np.array([-1.0, 0.5, 2.0], dtype=np.float32)
    for r in (gst.norm.logpdf(x32), gst.gamma.pdf(x32, 2.0), gst.beta.logpdf(x32 / 4, 2.0, 2.0),
              gst.t.logpdf(x32, 3.0), gst.logistic.logcdf(x32),
              gst.chi2.logpdf(x32, np.float32(2.0)), gst.poisson.logpmf([0, 1], x32[1:])):
        assert r.dtype == np.float32, r.dtype
    np.testing.assert_allclose(gst.gamma.logpdf(x32, 2.0), sst.gamma.logpdf(x32, 2.0), rtol=1e-5)


# ---------------------------------------------------------------- derivatives
def test_grads_order2_in_every_continuous_argument():
    x = np.array([0.3, 1.2, 2.5])
    cases = [
        (lambda x, l, s: gst.norm.logpdf(x, l, s), (x, np.array(0.1), np.array(1.3))),
        (lambda x, l, s: gst.norm.pdf(x, l, s), (x, np.array(0.1), np.array(1.3))),
        (lambda x, l, s: gst.norm.cdf(x, l, s), (x, np.array(0.1), np.array(1.3))),
        (lambda x, l, s: gst.norm.logcdf(-3 * x, l, s), (x, np.array(0.1), np.array(1.3))),
        (lambda x, l, s: gst.logistic.logpdf(x, l, s), (x - 1.2, np.array(0.0), np.array(0.7))),
        (lambda x, l, s: gst.logistic.pdf(x, l, s), (x, np.array(0.1), np.array(0.7))),
        (lambda x, l, s: gst.logistic.cdf(x, l, s), (x, np.array(0.1), np.array(0.7))),
        (lambda x, l, s: gst.logistic.logcdf(x, l, s), (x, np.array(0.1), np.array(0.7))),
        (lambda x, d, l, s: gst.t.logpdf(x, d, l, s), (x, np.array([1.0, 2.5, 30.0]),
                                                       np.array(0.1), np.array(1.3))),
        (lambda x, d: gst.t.pdf(x, d), (x, np.array(4.0))),
        (lambda x, a, l, s: gst.gamma.logpdf(x, a, l, s), (x, np.array([0.5, 1.0, 3.0]),
                                                           np.array(-0.2), np.array(1.3))),
        (lambda x, a: gst.gamma.pdf(x, a), (x, np.array(2.5))),
        (lambda x, d, l, s: gst.chi2.logpdf(x, d, l, s), (x, np.array([1.0, 2.0, 5.0]),
                                                          np.array(-0.2), np.array(1.3))),
        (lambda x, d: gst.chi2.pdf(x, d), (x, np.array(3.0))),
        (lambda x, a, b, l, s: gst.beta.logpdf(x, a, b, l, s),
         (x / 3, np.array([0.5, 1.0, 2.0]), np.array(1.5), np.array(-0.05), np.array(1.1))),
        (lambda x, a, b: gst.beta.pdf(x, a, b), (x / 3, np.array(2.0), np.array(3.0))),
        (lambda mu: gst.poisson.logpmf(np.array([0, 1, 4]), mu), (np.array([0.5, 1.0, 3.0]),)),
        (lambda mu: gst.poisson.pmf(np.array([0, 1, 4]), mu, loc=1), (np.array(2.0),)),
    ]
    for f, args in cases:
        check_grads(f, args, order=2, modes=MODES)


def test_multivariate_grads_order2():
    b = RNG.uniform(-1, 1, size=(3, 3))
    cov = b @ b.T / 3 + np.eye(3)
    x, mean = RNG.uniform(-2, 2, size=(4, 3)), RNG.uniform(-1, 1, size=3)
    check_grads(lambda x, m, c: gst.multivariate_normal.logpdf(x, m, c), (x, mean, cov),
                order=2, modes=MODES)
    check_grads(lambda x, m, c: gst.multivariate_normal.pdf(x, m, c), (x[0], mean, cov),
                order=2, modes=MODES)
    check_grads(lambda x, c: gst.multivariate_normal.logpdf(x, cov=c),
                (x, np.array([1.0, 2.0, 0.5])), order=2, modes=MODES)
    # K - 1 entries: finite differences stay on the simplex (SciPy's check of the sum)
    xd, alpha = np.array([[0.2, 0.3], [0.5, 0.1]]), np.array([0.7, 2.0, 3.0])
    check_grads(lambda x, a: gst.dirichlet.logpdf(x, a), (xd, alpha), order=2, modes=MODES)
    check_grads(lambda x, a: gst.dirichlet.pdf(x, a), (xd[:, 0], alpha), order=2, modes=MODES)
    # all K entries: the gradient in the ambient space, (alpha - 1) / x
    x3 = np.array([0.2, 0.5, 0.3])
    g = gpuad.grad(gst.dirichlet.logpdf)(x3, alpha)
    np.testing.assert_allclose(g, (alpha - 1) / x3, rtol=1e-14)


def test_mvn_gradient_matches_closed_form_and_is_symmetric():
    b = RNG.uniform(-1, 1, size=(3, 3))
    cov = b @ b.T / 3 + np.eye(3)
    x, mean = RNG.uniform(-2, 2, size=3), RNG.uniform(-1, 1, size=3)
    gx, gm, gc = gpuad.grad(gst.multivariate_normal.logpdf, argnums=(0, 1, 2))(x, mean, cov)
    ci = np.linalg.inv(cov)
    d = ci @ (x - mean)
    np.testing.assert_allclose(gx, -d, rtol=1e-12)
    np.testing.assert_allclose(gm, d, rtol=1e-12)
    np.testing.assert_allclose(gc, 0.5 * (np.outer(d, d) - ci), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(gc, gc.T, rtol=0, atol=1e-15)


def test_derivative_zero_out_of_support_nan_at_invalid_parameters():
    # off the support the function is locally constant (derivative 0); at invalid parameters
    # (and a NaN x) it is undefined: its value is NaN and so is every derivative of every
    # order in every argument (a 0 there was a silent zero: grad of norm.logpdf in a
    # negative scale returned 0.0, and an optimizer read it as a stationary point)
    def f(x, a, l, s):
        return gnp.sum(gst.gamma.logpdf(x, a, l, s) * 0 + gst.gamma.pdf(x, a, l, s))
    x = np.array([-1.0, 0.5, 2.0])
    gx, ga, gl, gs = gpuad.grad(f, argnums=(0, 1, 2, 3))(x, np.array([2.0, -1.0, 2.0]),
                                                        np.array(0.0), np.array(1.0))
    assert gx[0] == 0 and ga[0] == 0 and np.isnan(gx[1]) and np.isnan(ga[1])
    assert np.all(np.isfinite([gx[2], ga[2]])) and gx[2] != 0
    assert np.isnan(gl) and np.isnan(gs)          # loc, scale are shared with the NaN entry
    for f, args, outside, invalid in [
        (lambda x: gst.beta.logpdf(x, 2.0, 3.0), np.array([-0.5, 0.5, 1.5]), [0, 2], []),
        (lambda x: gst.gamma.logpdf(x, 2.0), np.array([-0.5, 0.5]), [0], []),
        (lambda x: gst.chi2.pdf(x, 3.0), np.array([-0.5, 0.5]), [0], []),
        (lambda x: gst.gamma.cdf(x, 2.0), np.array([-0.5, 0.5, np.nan]), [0], [2]),
        (lambda s: gst.norm.logpdf(1.0, 0.0, s), np.array([-1.0, 0.0, 2.0]), [], [0, 1]),
        (lambda s: gst.norm.cdf(1.0, 0.0, s), np.array([-1.0, 0.0, 2.0]), [], [0, 1]),
        (lambda s: gst.logistic.pdf(1.0, 0.0, s), np.array([-1.0, 2.0]), [], [0]),
        (lambda d: gst.t.logpdf(1.0, d), np.array([-1.0, 0.0, np.inf, 2.0]), [2], [0, 1]),
        (lambda d: gst.t.logcdf(-1.0, d), np.array([-1.0, 2.0]), [], [0]),
        (lambda a: gst.gamma.logcdf(0.5, a), np.array([-1.0, 0.0, 2.0]), [], [0, 1]),
        (lambda b: gst.beta.cdf(0.5, 2.0, b), np.array([-1.0, 2.0]), [], [0]),
        (lambda a: gst.beta.logpdf(0.5, a, 3.0), np.array([0.0, 2.0]), [], [0]),
        (lambda d: gst.chi2.logpdf(0.5, d), np.array([-2.0, 3.0]), [], [0]),
        (lambda d: gst.chi2.logcdf(0.5, d), np.array([-2.0, 3.0]), [], [0]),
        (lambda s: gst.logistic.logcdf(0.5, 0.0, s), np.array([0.0, 3.0]), [], [0]),
        (lambda mu: gst.poisson.logpmf(np.array([-1.0, 0.5, 2.0, 2.0]), mu),
         np.array([1.0, 1, 1, -1]), [0, 1], [3]),
        (lambda mu: gst.poisson.pmf(2, mu), np.array([-1.0, 1.0]), [], [0]),
        (lambda mu: gst.poisson.cdf(2, mu), np.array([-1.0, 1.0]), [], [0]),
        (lambda mu: gst.poisson.logcdf(2, mu), np.array([-1.0, 1.0]), [], [0]),
    ]:
        t = np.ones_like(args)
        g = np.asarray(gpuad.grad(lambda v: gnp.sum(f(v)))(args))
        _, jt = gpuad.jvp(lambda v: f(v), (args,), (t,))
        h = np.asarray(gpuad.hvp(lambda v: gnp.sum(f(v)), args, t))
        hh = np.diagonal(np.asarray(gpuad.hessian(lambda v: gnp.sum(f(v)))(args)))
        for v in (g, np.asarray(jt), h, hh):
            assert np.all(v[outside] == 0), v
            assert np.all(np.isnan(v[invalid])), v
        inside = np.setdiff1d(np.arange(args.size), outside + invalid)
        assert np.all(np.isfinite(g[inside])) and np.all(np.isfinite(hh[inside]))


def test_poisson_k_is_read_as_a_value():
    g = gpuad.grad(lambda k, mu: gst.poisson.logpmf(k, mu), argnums=(0, 1))(3.0, 1.5)
    assert g[0] == 0 and g[1] == pytest.approx(3 / 1.5 - 1, rel=1e-14)


def test_logistic_smooth_at_its_centre():
    # -softplus(y) - softplus(-y): logpdf''(0) = -1/2 (no kink convention of |y|)
    h = gpuad.hessian(lambda x: gst.logistic.logpdf(x))(np.array(0.0))
    assert float(h) == pytest.approx(-0.5, rel=1e-14)
    assert float(gpuad.grad(gst.logistic.logpdf)(0.0)) == 0.0


# ---------------------------------------------------------------- frozen, errors
def test_frozen_distributions():
    x = RNG.uniform(0.1, 0.9, size=5)
    same(gst.norm(1.0, scale=2.0).logpdf(x), sst.norm(1.0, scale=2.0).logpdf(x))
    same(gst.t(3.0).pdf(x), sst.t(3.0).pdf(x))
    same(gst.beta(2.0, 3.0).logpdf(x), sst.beta(2.0, 3.0).logpdf(x))
    same(gst.logistic(loc=0.2).cdf(x), sst.logistic(loc=0.2).cdf(x))
    same(gst.poisson(2.5).pmf([0, 1, 2]), sst.poisson(2.5).pmf([0, 1, 2]))
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    xs = RNG.uniform(-1, 1, size=(3, 2))
    same(gst.multivariate_normal([0.1, 0.2], cov).logpdf(xs),
         sst.multivariate_normal([0.1, 0.2], cov).logpdf(xs))
    same(gst.dirichlet([1.5, 2.0, 3.0]).pdf([0.2, 0.3, 0.5]),
         sst.dirichlet([1.5, 2.0, 3.0]).pdf([0.2, 0.3, 0.5]))
    g = gpuad.grad(lambda s: gst.norm(0.0, s).logpdf(1.0))(2.0)
    assert g == pytest.approx(1 / 8 - 1 / 2, rel=1e-14)


def test_mvn_cdf_singular_cov():
    # rank 1: X_2 = X_1, so P(X <= x) = Phi(min x) exactly (no integral left), d/dx = phi
    # on the smaller coordinate and 0 on the other
    c1 = np.array([[1.0, 1.0], [1.0, 1.0]])
    f = lambda x: MVN.cdf(x, cov=c1, allow_singular=True)         # noqa: E731
    x = np.array([0.3, 0.5])
    assert f(x) == pytest.approx(sst.norm.cdf(0.3), abs=1e-15)
    np.testing.assert_allclose(gpuad.grad(f)(x), [_phi(0.3), 0.0], rtol=1e-14, atol=0)
    with pytest.raises(np.linalg.LinAlgError):
        MVN.cdf(x, cov=c1)
    # a variable of variance 0: the constant 1{a < 0 <= b} times the others' probability
    cz = np.diag([1.0, 0.0, 2.0])
    for x2, want in [(0.1, sst.norm.cdf(0.5) * sst.norm.cdf(1 / np.sqrt(2))), (-0.1, 0.0)]:
        assert MVN.cdf(np.array([0.5, x2, 1.0]), cov=cz, allow_singular=True) == \
            pytest.approx(want, abs=1e-15)
    # B B^T of rank 2 and 3, boxes too: the default estimate within 2 abseps of a precise
    # one (abseps 5e-7); that one against SciPy's (rng fixed; SciPy's singular estimates
    # were measured up to 2.6e-5 off it, so 5 abseps)
    rng = np.random.default_rng(5)
    for d, r in [(3, 2), (5, 3)]:
        B = rng.standard_normal((d, r))
        x = rng.uniform(-0.5, 2, (2, d))
        for kw in ({}, {"lower_limit": x - 2.5}):
            ref = MVN.cdf(x, cov=B @ B.T, allow_singular=True, abseps=5e-7, releps=0,
                          maxpts=2 * 10 ** 6, **kw)
            np.testing.assert_allclose(MVN.cdf(x, cov=B @ B.T, allow_singular=True, **kw),
                                       ref, rtol=0, atol=2e-5)
            np.testing.assert_allclose(SMVN.cdf(x, cov=B @ B.T, allow_singular=True, rng=0,
                                                **kw), ref, rtol=0, atol=5e-5)


@pytest.mark.parametrize("d,r", [(3, 2), (4, 2)])
def test_mvn_cdf_singular_derivatives_at_constant_rank(d, r):
    # cov = B B^T keeps rank r along every perturbation of B: the estimate (fixed points:
    # abseps = 0, a fixed maxpts) is continuous there and smooth between the folded limits'
    # max/min switches, so first derivatives in both modes are checked against differences;
    # a second derivative (kinks at some of the 2e4 points inside any step) is refused.
    rng = np.random.default_rng(d + r)
    B, x = rng.standard_normal((d, r)), rng.uniform(0.2, 1.5, d)
    f = lambda x, B: MVN.cdf(x, cov=B @ B.T, allow_singular=True, abseps=0,  # noqa: E731
                             maxpts=20000)
    check_grads(f, (x, B), order=1, modes=("fwd", "rev"))
    with pytest.raises(NotImplementedError, match="singular cov.*cov \\+ eps I"):
        gpuad.hessian(lambda x: f(x, B))(x)
    assert np.isfinite(f(x, B))                          # the engine is still usable


# ---------------------------------------------------------------- cdf / logcdf (incomplete
# gamma and beta functions): values against scipy.stats over the support, both tails, the
# edges, outside the support and invalid parameters; derivatives against central differences.
XC = np.array([-3.0, -0.5, 0.0, 1e-3, 0.3, 1.0, 2.5, 7.0, 40.0, 300.0, np.nan])
CDF_CASES = [
    ("gamma", (2.5,)), ("gamma", (0.5, 0.1, 1.3)), ("gamma", (150.0,)), ("gamma", (-1.0,)),
    ("chi2", (3.0,)), ("chi2", (0.7, -0.2, 2.0)),
    ("beta", (2.0, 3.0, -0.5, 4.0)), ("beta", (0.5, 0.7, 0.0, 1.0)), ("beta", (40.0, 0.5, -3.0, 6.0)),
    ("t", (3.0,)), ("t", (0.7, 0.5, 2.0)), ("t", (300.0,)), ("t", (np.inf,)), ("t", (3.0, 0.0, -1.0)),
]


@pytest.mark.parametrize("name,args", CDF_CASES, ids=[f"{n}{a}" for n, a in CDF_CASES])
@pytest.mark.parametrize("method", ["cdf", "logcdf"])
def test_cdf_values_match_scipy(name, args, method):
    got = getattr(getattr(gst, name), method)(XC, *args)
    want = scipy_quiet(getattr(getattr(sst, name), method), XC, *args)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    if method == "logcdf":
        # SciPy's -inf where the cdf underflows inside the support (its log of 0): ours is
        # the finite log-cdf there (below log of the smallest double; test_logcdf_where_the_
        # cdf_underflows checks its value against mpmath)
        inside = np.isfinite(scipy_quiet(getattr(sst, name).logpdf, XC, *args))
        under = np.isneginf(want) & inside
        assert np.all(np.isfinite(got[under])) and np.all(got[under] < np.log(1e-308))
        want = np.where(under, got, want)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    # SciPy's own error on these (Cephes' igam/incbet): a few 1e-15 relative; its logcdf
    # is log(cdf), cdf rounded near 1 (ours is log1p(-tail)): 1e-15 absolute for logcdf.
    np.testing.assert_allclose(got[fin], want[fin], rtol=2e-13,
                               atol=1e-15 if method == "logcdf" else 1e-300)


@pytest.mark.parametrize("mu,loc", [(1.3, 0), (0.0, 0), (4.0, 2), (40.0, 0.5), (-1.0, 0),
                                    (np.nan, 0)])
@pytest.mark.parametrize("method", ["cdf", "logcdf"])
def test_poisson_cdf_matches_scipy(mu, loc, method):
    got = getattr(gst.poisson, method)(K, mu, loc)
    want = scipy_quiet(getattr(sst.poisson, method), K, mu, loc)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    np.testing.assert_array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])
    # SciPy's logcdf is log(cdf), cdf rounded near 1: 1e-15 absolute there
    np.testing.assert_allclose(got[fin], want[fin], rtol=2e-13,
                               atol=1e-15 if method == "logcdf" else 1e-300)


def test_cdf_tails_without_cancellation():
    # logcdf far in the upper tail (log1p(-Q)) and the cdf far in the lower tail (the series)
    for got, want in [(gst.gamma.logcdf(80.0, 2.0), sst.gamma.logcdf(80.0, 2.0)),
                      (gst.gamma.cdf(1e-8, 2.0), sst.gamma.cdf(1e-8, 2.0)),
                      (gst.t.logcdf(-1e4, 3.0), sst.t.logcdf(-1e4, 3.0)),
                      (gst.t.logcdf(1e4, 3.0), sst.t.logcdf(1e4, 3.0)),
                      (gst.beta.logcdf(0.999, 2.0, 30.0), sst.beta.logcdf(0.999, 2.0, 30.0)),
                      (gst.poisson.logcdf(60, 5.0), sst.poisson.logcdf(60, 5.0))]:
        assert got == pytest.approx(want, rel=1e-12), (got, want)


def test_cdf_grads_order2_in_every_continuous_argument():
    x = np.array([0.3, 1.2, 2.5])
    cases = [
        (lambda x, a, l, s: gst.gamma.cdf(x, a, l, s), (x, np.array([0.5, 1.0, 3.0]),
                                                        np.array(-0.2), np.array(1.3))),
        (lambda x, a: gst.gamma.logcdf(x, a), (x * 4, np.array([0.5, 2.0, 3.0]))),
        (lambda x, d, l, s: gst.chi2.cdf(x, d, l, s), (x, np.array([1.0, 2.0, 5.0]),
                                                       np.array(-0.2), np.array(1.3))),
        (lambda x, d: gst.chi2.logcdf(x, d), (x, np.array(3.0))),
        (lambda x, a, b, l, s: gst.beta.cdf(x, a, b, l, s),
         (x / 3, np.array([0.5, 1.0, 2.0]), np.array(1.5), np.array(-0.05), np.array(1.1))),
        (lambda x, a, b: gst.beta.logcdf(x, a, b), (x / 3, np.array(2.0), np.array(3.0))),
        # both of t's forms (y^2 < df and above), both signs
        (lambda x, d, l, s: gst.t.cdf(x, d, l, s), (x * np.array([-1, 1, -1]) * 2,
                                                    np.array([1.0, 2.5, 30.0]),
                                                    np.array(0.1), np.array(1.3))),
        (lambda x, d: gst.t.logcdf(x, d), (np.array([-4.0, -0.3, 0.5, 6.0]), np.array(2.5))),
        (lambda mu: gst.poisson.cdf(np.array([0, 1, 4]), mu), (np.array([0.5, 1.0, 3.0]),)),
        (lambda mu: gst.poisson.logcdf(np.array([1, 2.5, 5]), mu, loc=1), (np.array(2.0),)),
    ]
    for f, args in cases:
        check_grads(f, args, order=2, modes=MODES)


def test_t_cdf_at_its_centre():
    # y = 0: the derivative is the density (the chain through y^2 would give 0 * inf there),
    # the second derivatives in (y, y) 0 and in (y, df) d pdf(0; df)/d df
    f = lambda x, d: gst.t.cdf(x, d)        # noqa: E731
    assert gpuad.grad(f)(0.0, 3.0) == pytest.approx(sst.t.pdf(0.0, 3.0), rel=1e-14)
    assert gpuad.grad(gpuad.grad(f))(0.0, 3.0) == 0.0
    h = 1e-5
    want = (sst.t.pdf(0.0, 3.0 + h) - sst.t.pdf(0.0, 3.0 - h)) / (2 * h)
    got = gpuad.grad(lambda d: gpuad.grad(f)(0.0, d))(3.0)
    assert got == pytest.approx(want, rel=1e-8)
    assert gpuad.grad(f, argnums=1)(0.0, 3.0) == 0.0


def test_cdf_derivative_zero_outside_the_support():
    assert gpuad.grad(lambda a: gst.gamma.cdf(-1.0, a))(2.0) == 0.0
    assert gpuad.grad(lambda x: gst.beta.cdf(x, 2.0, 3.0))(1.5) == 0.0
    assert gpuad.grad(lambda mu: gst.poisson.cdf(-1, mu))(2.0) == 0.0


@pytest.mark.parametrize("x,mean,cov", [
    (np.array([0.3, -0.2, 1.0]), np.array([0.1, 0.0, -0.5]), np.diag([1.0, 2.0, 0.5])),
    (RNG.uniform(-1, 1, size=(2, 5, 3)), None, np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2],
                                                          [0.0, 0.2, 1.5]])),
    (RNG.uniform(-1, 1, size=(5, 3)), np.zeros(3), np.array([1.0, 2.0, 0.5])),
    (RNG.uniform(-1, 1, size=(1, 3)), np.zeros(3), 2.0),
    (RNG.uniform(-1, 1, size=4), 0.5, 2.0),
    (np.array(0.4), None, 1.0),
    (np.array([0.4]), np.array([0.1]), np.array([[3.0]])),
])
def test_multivariate_normal_shapes_match_scipy(x, mean, cov):
    same(gst.multivariate_normal.logpdf(x, mean, cov),
         sst.multivariate_normal.logpdf(x, mean, cov))
    same(gst.multivariate_normal.pdf(x, mean, cov), sst.multivariate_normal.pdf(x, mean, cov))


def test_multivariate_normal_errors():
    with pytest.raises(np.linalg.LinAlgError):
        gst.multivariate_normal.logpdf([0.0, 0.0], None, np.array([[1.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(np.linalg.LinAlgError):
        gst.multivariate_normal.logpdf([0.0, 0.0], None, np.array([1.0, 0.0]))
    with pytest.raises(ValueError):
        gst.multivariate_normal.logpdf([0.0, 0.0], None, np.array([1.0, -1.0]))
    with pytest.raises(ValueError):
        gst.multivariate_normal.logpdf([0.0, 0.0, 0.0], [0.0, 0.0], 1.0)


@pytest.mark.parametrize("x,alpha", [
    ([0.2, 0.3, 0.5], [1.5, 2.0, 3.0]), ([0.2, 0.3], [1.5, 2.0, 3.0]),
    ([[0.2, 0.3], [0.5, 0.1]], [1.0, 2.0, 3.0]), ([0.0, 0.4, 0.6], [1.0, 2.0, 0.5]),
    ([0.0, 0.4, 0.6], [2.0, 2.0, 0.5]),
])
def test_dirichlet_values_match_scipy(x, alpha):
    x, alpha = np.asarray(x), np.asarray(alpha)
    same(gst.dirichlet.logpdf(x, alpha), sst.dirichlet.logpdf(x, alpha))
    same(gst.dirichlet.pdf(x, alpha), sst.dirichlet.pdf(x, alpha))


@pytest.mark.parametrize("x,alpha", [
    ([0.2, 0.3, 0.6], [1.0, 2.0, 3.0]), ([-0.1, 0.5, 0.6], [1.0, 2.0, 3.0]),
    ([0.2, 0.3], [1.0, 2.0, 3.0, 4.0]), ([0.2, 0.8], [0.0, 2.0]), ([0.0, 1.0], [0.5, 2.0]),
    ([0.5, 0.5], [[1.0, 2.0]]), ([1.2, -0.2], [2.0, 2.0]),
])
def test_dirichlet_errors_as_scipy(x, alpha):
    x, alpha = np.asarray(x), np.asarray(alpha)
    with pytest.raises(ValueError):
        sst.dirichlet.logpdf(x, alpha)
    with pytest.raises(ValueError):
        gst.dirichlet.logpdf(x, alpha)


# ---------------------------------------------------------------- NumPy and CuPy arrays
def test_results_live_where_inputs_live(xp):
    x = xp.asarray(np.array([-1.0, 0.5, 2.0]))
    for r, want in [(gst.gamma.logpdf(x, 2.0), sst.gamma.logpdf([-1.0, 0.5, 2.0], 2.0)),
                    (gst.norm.logcdf(x, 0.5, 2.0), sst.norm.logcdf([-1.0, 0.5, 2.0], 0.5, 2.0)),
                    (gst.poisson.logpmf(x, 1.5), sst.poisson.logpmf([-1.0, 0.5, 2.0], 1.5))]:
        assert type(r) is xp.ndarray
        same(r.get() if hasattr(r, "get") else r, want)
    g = gpuad.grad(lambda a: gnp.sum(gst.beta.logpdf(x / 3, a, 2.0)))(xp.asarray(2.0))
    assert type(g) is xp.ndarray


def test_t_cdf_higher_orders_at_its_centre():
    # The Taylor series at y = 0: the third derivative of cdf(y; df) is pdf''(0) (the linear
    # form gave 0), against mpmath's derivative of the closed-form density; the fourth is 0.
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    nu = 3.0
    pdf = lambda y: (mp.gamma((nu + 1) / 2) / (mp.sqrt(nu * mp.pi) * mp.gamma(nu / 2))   # noqa: E731
                     * (1 + y * y / nu) ** (-(nu + 1) / 2))
    d3 = gpuad.grad(gpuad.grad(gpuad.grad(lambda y: gst.t.cdf(y, nu))))
    assert d3(0.0) == pytest.approx(float(mp.diff(pdf, 0, 2)), rel=1e-12)
    assert gpuad.grad(d3)(0.0) == 0.0


def test_t_lower_tail_keeps_its_digits_for_large_df():
    # y^2 < df with the cdf far below 1/2: 1/2 - I_z/2 would cancel (it gave 7.6605e-15 for
    # 7.6804e-15 at (-9, 100), 0 or -inf further out); the tail form keeps about df ulps.
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40

    def ref(y, nu):
        y, nu = mp.mpf(y), mp.mpf(nu)
        return mp.betainc(nu / 2, mp.mpf(1) / 2, 0, nu / (nu + y * y), regularized=True) / 2

    for y, nu in [(-9.0, 100.0), (-10.0, 1e4), (-30.0, 1e4), (-3.0, 50.0)]:
        want = ref(y, nu)
        rel = 64 * nu * np.finfo(float).eps
        assert gst.t.cdf(y, nu) == pytest.approx(float(want), rel=rel)
        assert gst.t.logcdf(y, nu) == pytest.approx(float(mp.log(want)), rel=rel)
        dy = float(mp.diff(lambda v: mp.log(ref(v, nu)), y))
        assert gpuad.grad(lambda v: gst.t.logcdf(v, nu))(y) == pytest.approx(dy, rel=rel)


# logcdf where the cdf underflows double inside the support: SciPy returns -inf there (the log
# of an underflowed cdf); gpuad the exact finite log-cdf (log-space kernels: log P, log Q,
# log I), with its gradient and Hessian (reverse) and JVPs (forward), against mpmath.
def _lg(a, x):
    return mp_log(lambda m: m.gammainc(a, 0, x, regularized=True))


def mp_log(f):
    import mpmath as mp
    return mp.log(f(mp))


LOGCDF_FAR = [
    (lambda z: gst.gamma.logcdf(z[0], z[1]), [1e-5, 100.0],
     lambda x, a: _lg(a, x)),
    (lambda z: gst.gamma.logcdf(z[0], z[1], 0.5, z[2]), [0.5 + 1e-5, 100.0, 2.0],
     lambda x, a, s: _lg(a, (x - 0.5) / s)),
    (lambda z: gst.chi2.logcdf(z[0], z[1]), [1e-8, 200.0], lambda x, df: _lg(df / 2, x / 2)),
    (lambda z: gst.beta.logcdf(z[0], z[1], z[2]), [1e-40, 50.0, 2.0],
     lambda x, a, b: mp_log(lambda m: m.betainc(a, b, 0, x, regularized=True))),
    (lambda z: gst.poisson.logcdf(0.0, z[0]), [800.0],
     lambda mu: mp_log(lambda m: m.gammainc(1, mu, m.inf, regularized=True))),
    (lambda z: gst.poisson.logcdf(10.0, z[0]), [1000.0],
     lambda mu: mp_log(lambda m: m.gammainc(11, mu, m.inf, regularized=True))),
]
SCIPY_OF = [lambda z: sst.gamma.logcdf(z[0], z[1]),
            lambda z: sst.gamma.logcdf(z[0], z[1], 0.5, z[2]), lambda z: sst.chi2.logcdf(*z),
            lambda z: sst.beta.logcdf(*z), lambda z: sst.poisson.logcdf(0.0, z[0]),
            lambda z: sst.poisson.logcdf(10.0, z[0])]


@pytest.mark.parametrize("i", range(len(LOGCDF_FAR)))
def test_logcdf_where_the_cdf_underflows(i):
    mp = pytest.importorskip("mpmath")
    f, z, ref = LOGCDF_FAR[i]
    z = np.array(z)
    with np.errstate(divide="ignore"):
        assert SCIPY_OF[i](z) == -np.inf        # SciPy's log of an underflowed cdf
    with mp.workprec(200):
        p = [mp.mpf(float(v)) for v in z]
        want = ref(*p)
        grad = [mp.diff(ref, p, tuple(int(j == k) for j in range(z.size)))
                for k in range(z.size)]
        hess = [[mp.diff(ref, p, tuple(int(j == k) + int(j == l) for j in range(z.size)))
                 for l in range(z.size)] for k in range(z.size)]
    # the log-cdf is ~ -1e3 here, formed from terms of its size: a few ulps of those
    assert float(f(z)) == pytest.approx(float(want), rel=1e-13)
    np.testing.assert_allclose(gpuad.grad(f)(z), [float(g) for g in grad], rtol=1e-12)
    np.testing.assert_allclose(gpuad.hessian(f)(z), [[float(h) for h in r] for r in hess],
                               rtol=1e-11, atol=1e-11 * float(max(abs(h) for r in hess for h in r)))
    for k, e in enumerate(np.eye(z.size)):
        assert float(gpuad.jvp(f, (z,), (e,))[1]) == pytest.approx(float(grad[k]), rel=1e-12)


def test_logcdf_below_and_on_the_support_edge():
    # below the support: -inf as a constant (derivative 0 in every argument); on the edge
    # x = loc: -inf, with d/dx = +inf and d/da = -inf, the limits from inside
    f = lambda z: gst.gamma.logcdf(z[0], z[1])      # noqa: E731
    with np.errstate(divide="ignore", invalid="ignore"):
        assert f(np.array([-1.0, 3.0])) == -np.inf
        assert list(gpuad.grad(f)(np.array([-1.0, 3.0]))) == [0.0, 0.0]
        assert list(gpuad.grad(f)(np.array([0.0, 3.0]))) == [np.inf, -np.inf]
        # and the second partials in x too: d2/dx2 -inf, d2/dx da +inf in both orders (they
        # were 0); poisson.logcdf(1, mu) = log(1 + mu) - mu: -1 at mu = 0 (was 0)
        h = gpuad.hessian(f)(np.array([0.0, 3.0]))
        assert list(h[0]) == [-np.inf, np.inf] and h[1, 0] == np.inf
        assert gpuad.hessian(lambda m: gst.poisson.logcdf(1.0, m))(0.0) == -1.0
        assert gpuad.hessian(lambda m: gst.poisson.cdf(1.0, m))(0.0) == -1.0
        b = lambda z: gst.beta.logcdf(z[0], z[1], z[2])      # noqa: E731
        assert list(gpuad.grad(b)(np.array([-0.5, 2.0, 3.0]))) == [0.0, 0.0, 0.0]
        assert b(np.array([1.5, 2.0, 3.0])) == 0.0
        assert list(gpuad.grad(b)(np.array([1.5, 2.0, 3.0]))) == [0.0, 0.0, 0.0]


# logpdf on the support's closed edge where the density is finite and nonzero (the exponent
# of x - loc or of the other edge is 0): xlogy(a - 1, y), xlog1py(b - 1, -y) there had d/dy a
# constant 0, so d2/dx da was 0 one way and +inf the other (README's xlogy row); now the
# limit, d/da of (a - 1)/x = 1/x -> +inf (at x = 1, d/db of -(b - 1)/(1 - x): -inf), in both
# orders. Full Hessians in (x, shapes), every route; psi' differences from betaln/gammaln.
_T1 = np.pi ** 2 / 6                         # psi'(1)
_LOGPDF_EDGE = [
    ("gamma", [0.0, 1.0], [[0.0, np.inf], [np.inf, -_T1]]),
    ("chi2", [0.0, 2.0], [[0.0, np.inf], [np.inf, -_T1 / 4]]),
    # betaln's Hessian at (1, 2): [[psi'(1) - psi'(3), -psi'(3)], [., psi'(2) - psi'(3)]]
    ("beta", [0.0, 1.0, 2.0], [[-1.0, np.inf, -1.0], [np.inf, -1.25, _T1 - 1.25],
                               [-1.0, _T1 - 1.25, -0.25]]),
    ("beta", [1.0, 2.0, 1.0], [[-1.0, 1.0, -np.inf], [1.0, -0.25, _T1 - 1.25],
                               [-np.inf, _T1 - 1.25, -1.25]]),
]


@pytest.mark.parametrize("name,z,want", _LOGPDF_EDGE,
                         ids=[f"{n}{z}" for n, z, _ in _LOGPDF_EDGE])
def test_logpdf_mixed_partials_on_the_support_edge(name, z, want):
    dist = getattr(gst, name)
    f = lambda v: dist.logpdf(*[v[k] for k in range(v.size)])     # noqa: E731
    z, want = np.array(z), np.array(want)
    for route, got in hessian_routes(f, z).items():
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15, err_msg=route)


def test_logcdf_matches_scipy_where_scipy_is_finite():
    rng = np.random.default_rng(3)
    x, a, b = rng.uniform(0.05, 5, 20), rng.uniform(0.3, 30, 20), rng.uniform(0.3, 30, 20)
    u = rng.uniform(0.02, 0.98, 20)
    # SciPy's logcdf is log(cdf), the cdf rounded near 1: 1e-16 absolute (ours: log1p(-Q))
    tol = dict(rtol=1e-12, atol=2e-16)
    np.testing.assert_allclose(gst.gamma.logcdf(x, a), sst.gamma.logcdf(x, a), **tol)
    np.testing.assert_allclose(gst.chi2.logcdf(x, a), sst.chi2.logcdf(x, a), **tol)
    np.testing.assert_allclose(gst.beta.logcdf(u, a, b), sst.beta.logcdf(u, a, b), **tol)
    k = np.floor(x * 10)
    np.testing.assert_allclose(gst.poisson.logcdf(k, a), sst.poisson.logcdf(k, a), **tol)


# t's cdf for huge df (betainc's fraction ran out of iterations above df ~ 1e8: NaN before):
# values and derivatives in df and y against mpmath; df = 1e300 and inf: the normal limit.
@pytest.mark.parametrize("df", [1e8, 1e10, 1e14, 1e300, np.inf])
def test_t_cdf_huge_df(df):
    mp = pytest.importorskip("mpmath")
    ys = [-30.0, -5.0, -1.0, 0.0, 0.5, 3.0, 30.0]

    def tail(nu, y):
        if y == 0:
            return mp.mpf(0.5)
        return mp.betainc(nu / 2, mp.mpf(1) / 2, 0, nu / (nu + y * y), regularized=True) / 2

    for y in ys:
        if df > 1e30:     # the limit; the first correction is below 1e-300 relative
            v, dv, dy = mp.ncdf(y), mp.mpf(0), mp.npdf(y)
            lv = mp.log(v) if y <= 0 else mp.log1p(-mp.ncdf(-y))
        else:
            with mp.workprec(200 + 3 * int(mp.log(df, 2))):
                nu = mp.mpf(df)
                s = 1 if y < 0 else -1
                v = tail(nu, y) if y < 0 else 1 - tail(nu, y)
                lv = mp.log(tail(nu, y)) if y <= 0 else mp.log1p(-tail(nu, y))
                dv = s * mp.diff(lambda t: tail(t, y), nu)
                dy = mp.diff(lambda t: (tail(nu, t) if t < 0 else 1 - tail(nu, t)), y) \
                    if y != 0 else mp.npdf(0) * mp.exp(mp.loggamma((nu + 1) / 2) - mp.loggamma(nu / 2)
                                                      - mp.log(nu / 2) / 2)
        got = gst.t.cdf(y, df)
        assert got == pytest.approx(float(v), rel=1e-13, abs=1e-300)
        assert gst.t.cdf(y, df) == pytest.approx(sc.stdtr(df, y), rel=1e-12, abs=1e-300)
        assert gpuad.grad(lambda t: gst.t.cdf(y, t))(df) == pytest.approx(float(dv), rel=1e-12,
                                                                           abs=1e-300)
        assert gpuad.grad(lambda t: gst.t.cdf(t, df))(y) == pytest.approx(float(dy), rel=1e-12)
        lc = gst.t.logcdf(y, df)
        assert lc == pytest.approx(float(lv), rel=1e-13)


# ---------------------------------------------------------------- multivariate_normal.cdf
# The value is Genz's randomized lattice estimate: its error control stops when three
# standard errors over the 10 shifts are <= max(abseps, releps p), so |estimate - P| <= abseps
# is the bound the tests hold it to (a fixed seed: the same points, the same outcome, every
# run). The derivatives are those of the estimate: against the true ones they are held to the
# same bound; against central differences of the estimate itself (abseps = 0: N fixed by
# maxpts, so the function differenced is one smooth function) to the differences' own error.
MVN = gst.multivariate_normal
SMVN = sst.multivariate_normal


def _equicorr(d, r):
    return np.full((d, d), r) + (1 - r) * np.eye(d)


def _phi(t):
    return np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi)


@pytest.mark.parametrize("d,r,want", [
    (2, 0.5, 1 / 4 + np.arcsin(0.5) / (2 * np.pi)),        # Sheppard
    (2, -0.8, 1 / 4 + np.arcsin(-0.8) / (2 * np.pi)),
    (3, 0.3, 1 / 8 + 3 * np.arcsin(0.3) / (4 * np.pi)),
    (5, 0.5, 1 / 6),                                        # equicorrelated 1/2: 1/(d + 1)
])
def test_mvn_cdf_orthants_closed_form(d, r, want):
    cov = _equicorr(d, r)
    # 2 abseps: the stopping rule's "3 standard errors" is itself estimated from 10 shifts
    # (its own relative error about 1/sqrt(2 * 9), a quarter), so a margin of 2 over it
    assert abs(MVN.cdf(np.zeros(d), cov=cov) - want) <= 2e-5
    assert abs(MVN.cdf(np.zeros(d), cov=cov, abseps=1e-7, releps=0) - want) <= 2e-7
    mean = np.linspace(-0.5, 0.5, d)                       # the orthant moved with the mean
    assert abs(MVN.cdf(mean, mean, 2.0 * cov) - want) <= 2e-5


def test_mvn_cdf_diagonal_is_a_product_and_d1_is_norm_cdf():
    x, mean, var = np.array([0.3, -1.2, 2.0]), np.array([0.1, 0.0, 0.5]), np.array([1.0, 2.0, 0.5])
    want = np.prod(sst.norm.cdf(x, mean, np.sqrt(var)))
    # a diagonal cov: every conditional limit is a constant, the integrand one number
    for cov in (var, np.diag(var)):
        assert MVN.cdf(x, mean, cov) == pytest.approx(want, rel=1e-13)
    assert MVN.cdf(x, mean, 2.0) == pytest.approx(np.prod(sst.norm.cdf(x, mean, np.sqrt(2.0))),
                                                  rel=1e-13)
    x1 = np.array([-1.0, 0.2, 3.0, np.inf, -np.inf])
    same(MVN.cdf(x1, 0.5, 2.0), SMVN.cdf(x1, 0.5, 2.0))
    same(MVN.logcdf(x1[:3], 0.5, 2.0), SMVN.logcdf(x1[:3], 0.5, 2.0))
    same(MVN.cdf(x1[:3], 0.5, 2.0, lower_limit=-0.5), SMVN.cdf(x1[:3], 0.5, 2.0, lower_limit=-0.5))
    assert type(MVN.cdf(0.3)) is np.float64


def _random_cov(d, seed):
    b = np.random.default_rng(seed).normal(size=(d, d))
    return b @ b.T / d + 0.5 * np.eye(d)


@pytest.mark.parametrize("d", [2, 3, 5])
def test_mvn_cdf_matches_scipy(d):
    rng = np.random.default_rng(d)
    cov, mean = _random_cov(d, d), rng.normal(size=d) * 0.3
    x = rng.normal(size=(2, 3, d)) + 0.5
    lo = x - rng.uniform(0.5, 2.5, size=d)
    # each estimate within 2 abseps (see the orthant test; SciPy's d = 2 is exact)
    for kw in ({}, {"lower_limit": lo}, {"lower_limit": lo[0, 0]}):
        got, want = MVN.cdf(x, mean, cov, **kw), SMVN.cdf(x, mean, cov, rng=1, **kw)
        assert got.shape == want.shape == (2, 3)
        np.testing.assert_allclose(got, want, rtol=0, atol=4e-5)
    got, want = MVN.logcdf(x, mean, cov), SMVN.logcdf(x, mean, cov, rng=1)
    p = SMVN.cdf(x, mean, cov, rng=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-5 / p.min())   # d log p = dp / p


def test_mvn_cdf_shapes_seeds_and_signs_as_scipy():
    cov = _random_cov(3, 0)
    for x in (np.zeros(3), np.zeros((1, 3)), np.zeros((4, 1, 3))):
        assert np.shape(MVN.cdf(x, cov=cov)) == np.shape(SMVN.cdf(x, cov=cov))
    assert type(MVN.cdf(np.zeros(3), cov=cov)) is np.float64
    x = np.array([[0.1, 0.4, -0.2], [1.0, 0.0, 0.5]])
    a = MVN.cdf(x, cov=cov)
    np.testing.assert_array_equal(a, MVN.cdf(x, cov=cov))                # rng=None: a fixed seed
    np.testing.assert_array_equal(a[1], MVN.cdf(x[1], cov=cov))          # a point's value is its own
    b = MVN.cdf(x, cov=cov, rng=np.random.default_rng(5))
    assert not np.array_equal(a, b) and np.allclose(a, b, atol=4e-5)
    np.testing.assert_array_equal(MVN.cdf(x, cov=cov, rng=7), MVN.cdf(x, cov=cov, rng=7))
    # lower_limit above x in one coordinate: the sign flips (SciPy), logcdf complex
    lo = x - 1.0
    lo[:, 0] = x[:, 0] + 1.0
    want = SMVN.cdf(x, cov=cov, lower_limit=lo, rng=1)
    got = MVN.cdf(x, cov=cov, lower_limit=lo)
    assert (got < 0).all()
    np.testing.assert_allclose(got, want, atol=4e-5)
    lg = MVN.logcdf(x, cov=cov, lower_limit=lo)
    assert np.iscomplexobj(lg)
    np.testing.assert_allclose(lg, np.log(got + 0j), rtol=1e-14)
    # an infinite coordinate is marginalised out exactly
    m = MVN.cdf(np.array([np.inf, 0.4, -0.3]), cov=cov)
    assert abs(m - SMVN.cdf(np.array([0.4, -0.3]), cov=cov[1:, 1:])) <= 2e-5


def _bvn_parts(b, r):
    """Bivariate standard normal, correlation r, at b: dP/db (exact), the density
    phi2 = d^2 P/db1 db2 = dP/dr (Plackett), and d^2 P/db_i^2."""
    s = np.sqrt(1 - r * r)
    g = np.array([_phi(b[0]) * sst.norm.cdf((b[1] - r * b[0]) / s),
                  _phi(b[1]) * sst.norm.cdf((b[0] - r * b[1]) / s)])
    phi2 = SMVN.pdf(b, cov=[[1, r], [r, 1]])
    h = np.array([-b[0] * g[0] - r * phi2, -b[1] * g[1] - r * phi2])
    return g, phi2, h


@pytest.mark.parametrize("b,r", [(np.array([0.3, -0.4]), 0.6), (np.array([-1.0, 0.8]), -0.3),
                                 (np.array([1.5, 1.2]), 0.9)])
def test_mvn_cdf_derivatives_match_the_analytic_identities(b, r):
    mean = np.array([0.2, -0.1])
    cov = np.array([[1.0, r], [r, 1.0]])
    g, phi2, h = _bvn_parts(b, r)
    f = lambda x, m, c: MVN.cdf(x, m, c)                                 # noqa: E731
    gx, gm, gc = gpuad.grad(f, argnums=(0, 1, 2))(b + mean, mean, cov)
    # the estimate's derivatives: errors of the value's order (abseps) against the true ones
    np.testing.assert_allclose(gx, g, atol=2e-5)
    np.testing.assert_allclose(gm, -g, atol=2e-5)
    # cov read symmetric: dP/dcov_12 = dP/dcov_21 = phi2 / 2; dP/dcov_ii = (d^2P/db_i^2)/2
    np.testing.assert_allclose(gc, [[h[0] / 2, phi2 / 2], [phi2 / 2, h[1] / 2]], atol=2e-5)
    # second derivatives: their integrand is rougher (ndtri's slope 1/phi(y) grows at the
    # cube's faces), its lattice error not controlled by the value's rule: at the N that
    # abseps = 1e-6 picks it is up to 1.5e-5 (r = 0.9); it falls as 1/N (measured: 6e-6 at
    # 4e5 points, 9e-7 at 3e6), checked at 4e5 points against 1e-5
    H = gpuad.hessian(lambda x: MVN.cdf(x, cov=cov, abseps=1e-6, releps=0))(b)
    np.testing.assert_allclose(H, [[h[0], phi2], [phi2, h[1]]], atol=3e-5)
    H = gpuad.hessian(lambda x: MVN.cdf(x, cov=cov, abseps=0, releps=0, maxpts=400000))(b)
    np.testing.assert_allclose(H, [[h[0], phi2], [phi2, h[1]]], atol=1e-5)
    # a scale: P(X <= x) with cov = diag(s) R diag(s) is the standard one at x / s
    s = np.array([2.0, 0.5])
    gs = gpuad.grad(lambda x: MVN.cdf(x, cov=cov * np.outer(s, s)))(b * s)
    np.testing.assert_allclose(gs, g / s, atol=2e-5 / s.min())


def test_mvn_logcdf_derivative_is_the_cdf_s_over_the_cdf():
    cov, x = _random_cov(3, 4), np.array([0.2, -0.5, 0.9])
    g = gpuad.grad(lambda x: MVN.logcdf(x, cov=cov))(x)
    gc = gpuad.grad(lambda x: MVN.cdf(x, cov=cov))(x)
    np.testing.assert_allclose(g, gc / MVN.cdf(x, cov=cov), rtol=1e-13)


FIXED = {"abseps": 0.0, "releps": 0.0, "maxpts": 3000}      # N = 150 or 300 points per shift


@pytest.mark.parametrize("d", [2, 3, 4])
def test_mvn_cdf_derivatives_are_the_estimate_s_to_second_order(d):
    # every argument, both modes, against central differences of the estimate (check_grads),
    # second order too (gpuad.testing: forward and reverse modes agree, the dot-product test)
    rng = np.random.default_rng(10 + d)
    cov, mean = _random_cov(d, 20 + d), rng.normal(size=d) * 0.3
    x = rng.normal(size=(2, d)) + 0.3
    lo = x - 1.5
    check_grads(lambda x, m, c: MVN.cdf(x, m, c, **FIXED), (x, mean, cov), order=2, modes=MODES)
    check_grads(lambda x, lo: MVN.cdf(x, mean, cov, lower_limit=lo, **FIXED), (x, lo), order=2,
                modes=MODES)
    check_grads(lambda x, c: MVN.logcdf(x, cov=c, **FIXED), (x, cov), order=2, modes=MODES)


def test_mvn_cdf_fixed_points_are_one_smooth_function():
    # the error control's N is read from the values; with abseps = 0 it is maxpts's alone,
    # so a step of 1e-5 in x moves the estimate by the derivative: differences of the estimate
    # match gpuad's derivative to O(h^2 f''') + O(eps / h)
    cov, x = _random_cov(3, 8), np.array([0.1, 0.7, -0.2])
    f = lambda x: MVN.cdf(x, cov=cov, **FIXED)                          # noqa: E731
    g, h = gpuad.grad(f)(x), 1e-5
    fd = np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=0, atol=1e-9)
    _, jt = gpuad.jvp(f, (x,), (np.array([1.0, -2.0, 0.5]),))
    assert float(jt) == pytest.approx(g @ np.array([1.0, -2.0, 0.5]), rel=1e-12)


def test_mvn_cdf_tails_and_infinite_limits_give_finite_derivatives():
    cov = np.array([[1.0, 0.6], [0.6, 1.0]])
    with np.errstate(all="ignore"):
        # (-12: p ~ 1e-33; below about 1e-150 second derivatives overflow: the docstring)
        for x, lo in [([-12.0, 1.0], None), ([np.inf, 1.0], [8.3, -1.0]), ([np.inf, 0.3], None),
                      ([4.0, 9.0], [-np.inf, 8.5])]:
            x, lo = np.array(x), None if lo is None else np.array(lo)
            f = lambda x, c: MVN.cdf(x, cov=c, lower_limit=lo)           # noqa: E731
            p = f(x, cov)
            assert 0 < p < 1
            for g in gpuad.grad(f, argnums=(0, 1))(x, cov):
                assert np.isfinite(g).all()
            assert np.isfinite(gpuad.hessian(lambda x: f(x, cov))(x)).all()
    # the upper tail keeps its digits (the complements are differenced, not Phi near 1)
    p = MVN.cdf(np.array([np.inf, 1.0]), cov=cov, lower_limit=np.array([8.3, -1.0]))
    want = SMVN.cdf(np.array([-8.3, 1.0]), cov=[[1, 0.6], [0.6, 1]]) \
        - SMVN.cdf(np.array([-8.3, -1.0]), cov=[[1, 0.6], [0.6, 1]])       # by symmetry
    assert p == pytest.approx(want, rel=1e-2)
    # an infinite coordinate: derivative 0 in it, the marginal density's in the other
    g = gpuad.grad(lambda x: MVN.cdf(x, cov=cov))(np.array([np.inf, 0.3]))
    assert g[0] == 0 and g[1] == pytest.approx(_phi(0.3), rel=1e-14)


def test_mvn_logcdf_where_the_estimate_is_zero_has_nan_derivatives():
    cov, x = np.array([[1.0, 0.3], [0.3, 1.0]]), np.array([0.5, 0.2])
    f = lambda x: MVN.logcdf(x, cov=cov, lower_limit=np.array([0.5, -1.0]))   # noqa: E731
    with np.errstate(all="ignore"):
        assert f(x) == -np.inf
        assert np.isnan(gpuad.grad(f)(x)).all()
    # the cdf there is 0 with the true derivative in x_1: the face's probability density
    g = gpuad.grad(lambda x: MVN.cdf(x, cov=cov, lower_limit=np.array([0.5, -1.0])))(x)
    want = _phi(0.5) * (sst.norm.cdf((0.2 - 0.15) / np.sqrt(0.91))
                        - sst.norm.cdf((-1.0 - 0.15) / np.sqrt(0.91)))
    assert g[0] == pytest.approx(want, abs=2e-5)


def test_mvn_cdf_errors():
    cov = _random_cov(3, 1)
    with pytest.raises(ValueError, match="lower_limit"):
        MVN.cdf(np.zeros(3), cov=cov, lower_limit=np.zeros(2))
    with pytest.raises(ValueError, match="lower_limit"):
        MVN.cdf(np.zeros((4, 3)), cov=cov, lower_limit=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="x's last axis"):
        MVN.cdf(np.zeros(2), cov=cov)
    with pytest.raises(ValueError, match="'cov'"):
        MVN.cdf(np.zeros(3), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="'mean'"):
        MVN.cdf(np.zeros(3), np.zeros((3, 1)), cov)
    with pytest.raises(np.linalg.LinAlgError):
        MVN.cdf(np.zeros(2), cov=np.ones((2, 2)))
    with pytest.raises(ValueError, match="semidefinite"):
        MVN.cdf(np.zeros(2), cov=np.array([[1.0, 2.0], [2.0, 1.0]]))


# ---------------------------------------------------------------- allow_singular
def _rank_cov(d, r, seed):
    b = np.random.default_rng(seed).normal(size=(d, r))
    return b, b @ b.T


@pytest.mark.parametrize("d,r", [(3, 2), (3, 1), (4, 2)])
def test_mvn_allow_singular_values_match_scipy(d, r):
    b, cov = _rank_cov(d, r, d + r)
    rng = np.random.default_rng(1)
    mean = rng.normal(size=d)
    on = mean + rng.normal(size=(5, r)) @ b.T                   # in the support
    off = on + rng.normal(size=(5, d))                          # almost surely not
    x = np.concatenate([on, off])
    for m in ("logpdf", "pdf"):
        got = getattr(MVN, m)(x, mean, cov, allow_singular=True)
        want = getattr(SMVN, m)(x, mean, cov, allow_singular=True)
        assert np.isneginf(got[5:]).all() if m == "logpdf" else (got[5:] == 0).all()
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
        # SciPy's eigh and gpuad's pinv/cholesky: a few ulps times cov's condition on its range
        np.testing.assert_allclose(got[:5], want[:5], rtol=1e-9)
    # a diagonal given as a vector with a zero, and a full-rank cov (the Cholesky path)
    v = np.array([2.0, 0.0, 0.5])
    xv = np.array([[0.3, 0.0, -1.0], [0.3, 0.1, -1.0]])
    z = np.zeros(3)
    same(MVN.logpdf(xv, z, v, allow_singular=True), SMVN.logpdf(xv, z, v, allow_singular=True))
    c = _random_cov(3, 2)
    np.testing.assert_allclose(MVN.logpdf(on[:, :3], None, c,
                                          allow_singular=True),
                               SMVN.logpdf(on[:, :3], None, c, allow_singular=True), rtol=1e-12)
    with pytest.raises(np.linalg.LinAlgError):
        MVN.logpdf(on, mean, cov)                               # without allow_singular


@pytest.mark.parametrize("equal", [False, True])
def test_mvn_allow_singular_derivatives_on_the_constant_rank_manifold(equal):
    # cov = B B^T with B (3, 2) keeps rank 2 under every perturbation of B, and x = m + B c
    # stays in the support: central differences in (B, m, c) are differences on the manifold.
    # equal: B's columns orthogonal of one length, cov's nonzero eigenvalues repeated.
    b = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]) if equal else _rank_cov(3, 2, 3)[0]
    if equal:
        q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
        b = q @ b * 1.3
    m, c = np.array([0.1, -0.2, 0.3]), np.array([0.4, -0.7])

    def f(b, m, c):
        return MVN.logpdf(m + b @ c, m, b @ b.T, allow_singular=True)
    check_grads(f, (b, m, c), order=2, modes=MODES)
    check_grads(lambda b, m, c: MVN.pdf(m + b @ c, m, b @ b.T, allow_singular=True), (b, m, c),
                order=1, modes=MODES)
    # the closed form on the manifold: log pdet(B B^T) = log det(B^T B), maha = c^T c
    want = -0.5 * (2 * np.log(2 * np.pi) + np.linalg.slogdet(b.T @ b)[1] + c @ c)
    assert f(b, m, c) == pytest.approx(want, rel=1e-12)
    gb = gpuad.grad(f)(b, m, c)
    assert np.isfinite(gb).all()
    np.testing.assert_allclose(gpuad.grad(f, argnums=2)(b, m, c), -c, rtol=1e-10, atol=1e-12)
    # off the support: -inf, derivative 0
    g = gpuad.grad(lambda x: MVN.logpdf(x, m, b @ b.T, allow_singular=True))(m + np.cross(*b.T))
    np.testing.assert_array_equal(g, np.zeros(3))


def test_mvn_allow_singular_errors():
    with pytest.raises(ValueError, match="semidefinite"):
        MVN.logpdf(np.zeros(2), None, np.array([[1.0, 2.0], [2.0, 1.0]]), allow_singular=True)
    assert MVN.logpdf(np.zeros(2), None, np.zeros((2, 2)), allow_singular=True) == -np.inf


def test_mvn_cdf_and_allow_singular_on_the_cupy_path(fake_cupy):
    # CuPy played by tests/fake_cupy.py (as strict as CuPy about mixing modules): the lattice,
    # the masks and the error control's sums live on the device; results come back there
    cp = fake_cupy
    cov = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])
    x = np.array([[0.2, -0.1, 0.4], [np.inf, 0.3, -0.2]])
    lo = np.array([-1.0, -np.inf, -2.0])
    p = MVN.cdf(cp.asarray(x), cov=cp.asarray(cov), lower_limit=cp.asarray(lo))
    assert type(p) is cp.ndarray
    np.testing.assert_allclose(p.get(), MVN.cdf(x, cov=cov, lower_limit=lo), rtol=1e-12)
    g = gpuad.grad(lambda c: gnp.sum(MVN.logcdf(cp.asarray(x), cov=c)))(cp.asarray(cov))
    assert type(g) is cp.ndarray
    np.testing.assert_allclose(g.get(), gpuad.grad(lambda c: gnp.sum(MVN.logcdf(x, cov=c)))(cov),
                               rtol=1e-10)
    b = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 2.0]])
    xs = np.array([[0.3, 0.4, 0.1], [1.0, 1.0, 1.0]])
    got = MVN.logpdf(cp.asarray(xs), None, cp.asarray(b @ b.T), allow_singular=True)
    assert type(got) is cp.ndarray
    same(got.get(), SMVN.logpdf(xs, None, b @ b.T, allow_singular=True))


# ---------------------------------------------------------------- d = 2: Genz's formula

# |r| below 0.3, 0.75, 0.925 (6, 12, 20 Gauss-Legendre nodes) and above (the high-correlation
# form), both signs; SciPy computes d = 2 by the same formula, absolute error ~1e-15.
BVN_R = [-0.999, -0.95, -0.93, -0.9, -0.5, -0.2, 0.0, 0.1, 0.4, 0.8, 0.92, 0.93, 0.97, 0.9999]


@pytest.mark.parametrize("r", BVN_R)
def test_mvn_cdf_d2_is_scipys_bivariate_formula(r):
    rng = np.random.default_rng(int(abs(r) * 1e4))
    for s1, s2 in [(1.0, 1.0), (2.0, 0.5)]:
        cov = np.array([[s1 * s1, r * s1 * s2], [r * s1 * s2, s2 * s2]])
        x = rng.uniform(-4, 4, (40, 2))
        x[:4] *= 3                                  # |h| beyond 4: Phi near 0 and 1
        x[4] = [0.3, 0.3 * s2 / s1]                 # h = k: the high form's b = 0
        lo = x - rng.uniform(0.1, 5, (40, 2))
        # ~1e-15 each (Genz 2004's bound); 4 corners for a box. Points below 1e-10 take the
        # lattice here, not SciPy's formula (the tail test below; ~0.3 s a point): left out.
        for kw in ({}, {"lower_limit": lo}):
            want = SMVN.cdf(x, cov=cov, **kw)
            keep = want > 1e-10
            kw = {k: v[keep] for k, v in kw.items()}
            got = MVN.cdf(x[keep], cov=cov, **kw)
            np.testing.assert_allclose(got, want[keep], rtol=0, atol=4e-15)


@pytest.mark.parametrize("r", BVN_R[1:-1])
def test_mvn_cdf_d2_derivatives_are_the_identities(r):
    # dP/dx_1 = phi(x_1) Phi((x_2 - r x_1)/s); Plackett: dP/dr = the density (split over
    # cov[0, 1] and cov[1, 0]); dP/dcov_11 = 1/2 d^2 P/dx_1^2. The formula's derivatives
    # are those of its quadrature of a smooth integrand: ~1e-15 like the value, times the
    # factors (h k, 1/(1 - sin^2 t)) its terms' derivatives carry: 1e-14.
    rng = np.random.default_rng(7)
    cov = np.array([[1.0, r], [r, 1.0]])
    s = np.sqrt(1 - r * r)
    for x in rng.uniform(-3, 3, (6, 2)):
        if SMVN.cdf(x, cov=cov) < 1e-10:
            continue
        gx, gc = gpuad.grad(lambda x, c: MVN.cdf(x, cov=c), argnums=(0, 1))(x, cov)
        d1 = [_phi(x[0]) * sst.norm.cdf((x[1] - r * x[0]) / s),
              _phi(x[1]) * sst.norm.cdf((x[0] - r * x[1]) / s)]
        dens = np.exp(-(x @ np.linalg.solve(cov, x)) / 2) / (2 * np.pi * s)
        d2 = -x[0] * d1[0] - _phi(x[0]) * _phi((x[1] - r * x[0]) / s) * r / s
        np.testing.assert_allclose(gx, d1, rtol=0, atol=1e-14)
        assert gc[0, 1] == gc[1, 0] == pytest.approx(dens / 2, rel=0, abs=1e-14)
        assert gc[0, 0] == pytest.approx(d2 / 2, rel=0, abs=1e-14)


@pytest.mark.parametrize("r", [-0.95, 0.5, 0.97])
def test_mvn_cdf_d2_second_order(r):
    cov = np.array([[1.3, r], [r, 0.9]])
    f = lambda x, c: MVN.cdf(x, cov=c, lower_limit=np.array([-1.0, -0.5]))   # noqa: E731
    check_grads(f, (np.array([0.3, 0.8]), cov), order=2, modes=("fwd", "rev"))


def test_mvn_cdf_d2_tails_keep_relative_digits():
    # Genz's formula is exact to ~1e-15 ABSOLUTE: at P(X <= (-8, -9); r = -0.5) ~ 9.4e-67
    # its terms cancel (it returned ~1e-41), and SciPy returns 0. Below 1e-10 the lattice
    # rule with relative error control answers instead; reference: the 1-d integral
    # int phi(t) Phi((k - r t)/s) dt (mpmath, 30 digits).
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    for r, h, k in [(-0.5, -8.0, -9.0), (0.5, -20.0, -20.0), (0.93, -8.0, -9.0),
                    (-0.95, 5.0, -12.0)]:
        s = mp.sqrt(1 - mp.mpf(r) ** 2)
        want = float(mp.quad(lambda t: mp.npdf(t) * mp.ncdf((k - r * t) / s),
                             [-mp.inf, h - 5, h]))
        got = MVN.cdf(np.array([h, k]), cov=np.array([[1.0, r], [r, 1.0]]))
        assert got == pytest.approx(want, rel=1e-2), (r, h, k)
        assert np.isfinite(gpuad.grad(lambda x: MVN.logcdf(x, cov=np.array(
            [[1.0, r], [r, 1.0]])))(np.array([h, k]))).all()


def test_mvn_frozen_passes_scipys_arguments():
    cov = np.array([[1.0, 0.5], [0.5, 1.0]])
    fr, sfr = MVN(np.zeros(2), cov, seed=3, abseps=1e-6), SMVN(np.zeros(2), cov, seed=3)
    x, lo = np.array([0.2, 0.4]), np.array([-1.0, -0.5])
    assert fr.cdf(x, lower_limit=lo) == pytest.approx(sfr.cdf(x, lower_limit=lo), abs=1e-14)
    assert fr.logcdf(x) == pytest.approx(sfr.logcdf(x), abs=1e-14)
    assert fr.logpdf(x) == pytest.approx(sfr.logpdf(x), abs=1e-14)
    c3 = np.eye(3) + 0.3
    fr3 = MVN(np.zeros(3), c3, seed=5, maxpts=20000)
    assert fr3.cdf(np.zeros(3)) == MVN.cdf(np.zeros(3), cov=c3, maxpts=20000, rng=5)
    assert fr3.cdf(np.zeros(3), rng=6) == MVN.cdf(np.zeros(3), cov=c3, maxpts=20000, rng=6)


@pytest.mark.parametrize("r,x", [(-0.95, [0.0, 0.0]), (-0.95, [2.0, -2.0]), (-0.95, [-1.0, 1.0]),
                                 (0.95, [0.0, 0.0]), (0.95, [1.0, 1.0]), (0.93, [-0.4, -0.4])])
def test_mvn_cdf_d2_derivatives_where_the_limits_tie(r, x):
    # |r| >= 0.925 and h = +-k (the origin among them): Genz's formula kinks there in its
    # pieces (max(h, k), |h - k|), only their sum is smooth. The derivatives come from the
    # identities instead (a newcomer found [0, 0] for [0.1995, 0.1995] at r = -0.95).
    x, cov = np.array(x), np.array([[1.0, r], [r, 1.0]])
    s = np.sqrt(1 - r * r)

    def ident(x):
        return np.array([_phi(x[0]) * sst.norm.cdf((x[1] - r * x[0]) / s),
                         _phi(x[1]) * sst.norm.cdf((x[0] - r * x[1]) / s)])
    f = lambda x: MVN.cdf(x, cov=cov)                                  # noqa: E731
    np.testing.assert_allclose(gpuad.grad(f)(x), ident(x), rtol=0, atol=1e-15)
    h = 1e-5          # central differences of the exact gradient: ~h^2 f''' = 1e-10
    fd = np.array([(ident(x + h * e) - ident(x - h * e)) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(gpuad.hessian(f)(x), fd, rtol=0, atol=1e-9)
    g = gpuad.grad(lambda m: MVN.cdf(x, mean=m, cov=cov))(np.zeros(2))
    np.testing.assert_allclose(g, -ident(x), rtol=0, atol=1e-15)


def test_mvn_logcdf_of_an_infinite_limit_with_zero_probability_is_minus_inf():
    with np.errstate(all="ignore"):
        assert MVN.logcdf(np.array([-np.inf]), cov=1.0) == -np.inf
        assert MVN.logcdf(np.array([-np.inf, 0.0]), cov=np.eye(2)) == -np.inf
        assert MVN.logcdf(np.zeros(3), cov=np.eye(3),
                          lower_limit=np.array([0.0, -np.inf, -1.0])) == -np.inf
    assert MVN.logcdf(np.array([0.5, np.inf]), cov=np.eye(2)) == \
        pytest.approx(np.log(sst.norm.cdf(0.5)), abs=1e-15)


def test_mvn_cdf_tiny_tail_error_control_reaches_releps():
    # p ~ 3.6e-222: the error estimate's squared deviations (~1e-444) underflowed to 0, so
    # the rule stopped after 200 points a shift with 1e-2 relative error
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    r, h, k = -0.95, -5.0, -5.0
    s = mp.sqrt(1 - mp.mpf(r) ** 2)
    want = float(mp.quad(lambda t: mp.npdf(t) * mp.ncdf((k - r * t) / s), [-mp.inf, h - 5, h]))
    got = MVN.cdf(np.array([h, k]), cov=np.array([[1.0, r], [r, 1.0]]))
    assert got == pytest.approx(want, rel=1e-4)


def test_mvn_cdf_rank_zero_and_bad_cov():
    assert MVN.cdf(np.array([1.0, 1.0]), cov=np.zeros((2, 2)), allow_singular=True) == 1.0
    assert MVN.cdf(np.array([1.0, -1.0]), cov=np.zeros((2, 2)), allow_singular=True) == 0.0
    assert MVN.cdf(np.array([0.0]), cov=0.0, allow_singular=True) == 1.0
    with pytest.raises(ValueError, match="cov must not contain infs or NaNs"):
        MVN.cdf(np.zeros(2), cov=np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(TypeError, match="cov must be real"):
        MVN.cdf(np.zeros(2), cov=np.array([[1.0, 0.3j], [-0.3j, 1.0]]))


# t's logcdf where the tail underflows double (SciPy: -inf), computed in log space (the
# internal log_stdtr kernel): the tiny-w leading term (|y| > 1e15 sqrt(df), y^2 overflowing
# for the first five), the continued fraction's log (1e5, 1e6) and the expansion's (1e14).
T_FAR = [[-1e3, 1e5], [-1e200, 3.0], [-1e10, 50.0], [-1e300, 0.5], [-1e160, 2.0], [-40.0, 1e14],
         [-1e5, 1e6]]


def _t_far_refs(y, df):
    """log P(T <= y) (y < 0) and its gradient and Hessian in (y, df): mpmath's betainc and
    mp.diff in df; in y closed forms (mp.diff's steps are absolute: no digits at |y| = 1e200),
    h = density / P, d/dy h = h (d/dy log density - h), d/ddf h = h (d/ddf log density -
    d/ddf log P)."""
    import mpmath as mp
    with mp.workprec(200 + 3 * max(0, int(mp.log(df, 2)))):
        y, df = mp.mpf(y), mp.mpf(df)
        lp = lambda nu: mp.log(mp.betainc(nu / 2, mp.mpf(1) / 2, 0, nu / (nu + y * y),  # noqa: E731
                                          regularized=True) / 2)
        v, d1, d2 = lp(df), mp.diff(lp, df), mp.diff(lp, df, 2)
        ld = (mp.loggamma((df + 1) / 2) - mp.loggamma(df / 2) - mp.log(df * mp.pi) / 2
              - (df + 1) / 2 * mp.log1p(y * y / df))
        ld_df = ((mp.psi(0, (df + 1) / 2) - mp.psi(0, df / 2) - 1 / df - mp.log1p(y * y / df)) / 2
                 + (df + 1) / 2 * y * y / (df * (df + y * y)))
        h = mp.exp(ld - v)
        hyy, hydf = h * (-(df + 1) * y / (df + y * y) - h), h * (ld_df - d1)
        return (float(v), [float(h), float(d1)],
                [[float(hyy), float(hydf)], [float(hydf), float(d2)]])


@pytest.mark.parametrize("z", T_FAR, ids=[f"{y:g},{df:g}" for y, df in T_FAR])
def test_t_logcdf_where_the_tail_underflows(z):
    # value (~ -1e3 .. -5e6, formed from terms of its size: a few ulps of those), gradient and
    # Hessian (reverse) and JVPs (forward) in (y, df) against mpmath; entries that are
    # subnormal (d^2/dy^2 = df/y^2 at y = -1e160) or underflow are held to 1e-300 absolute
    pytest.importorskip("mpmath")
    f = lambda z: gst.t.logcdf(z[0], z[1])                         # noqa: E731
    z = np.array(z)
    with np.errstate(all="ignore"):
        assert sst.t.logcdf(*z) == -np.inf                          # SciPy's log of 0
    want, grad, hess = _t_far_refs(*z)
    assert float(f(z)) == pytest.approx(want, rel=1e-13)
    np.testing.assert_allclose(gpuad.grad(f)(z), grad, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(gpuad.hessian(f)(z), hess, rtol=1e-11, atol=1e-300)
    for k, e in enumerate(np.eye(2)):
        assert float(gpuad.jvp(f, (z,), (e,))[1]) == pytest.approx(grad[k], rel=1e-12)


def test_t_logcdf_edges():
    # df = inf: norm's log_ndtr, bit for bit; y = -inf: -inf with d/ddf its limit -inf and
    # d/dy 0; y = inf: 0, constant; df <= 0: NaN
    assert gst.t.logcdf(-40.0, np.inf) == gst.norm.logcdf(-40.0) != -np.inf
    g = gpuad.grad(lambda y: gst.t.logcdf(y, np.inf))(-40.0)
    assert g == pytest.approx(gpuad.grad(gst.norm.logcdf)(-40.0), rel=1e-15)
    f = lambda z: gst.t.logcdf(z[0], z[1])                         # noqa: E731
    with np.errstate(all="ignore"):
        assert f(np.array([-np.inf, 3.0])) == -np.inf
        assert list(gpuad.grad(f)(np.array([-np.inf, 3.0]))) == [0.0, -np.inf]
        assert f(np.array([np.inf, 3.0])) == 0.0
        assert list(gpuad.grad(f)(np.array([np.inf, 3.0]))) == [0.0, 0.0]
        assert np.isnan(f(np.array([1.0, -1.0])))


def test_t_logcdf_matches_scipy_where_scipy_is_finite():
    rng = np.random.default_rng(5)
    y = np.concatenate([rng.uniform(-30, 30, 30), -np.geomspace(1, 1e30, 10)])
    df = np.concatenate([np.geomspace(0.3, 1e6, 30), np.full(10, 4.5)])
    # SciPy's is log(stdtr): the cdf rounded near 1, 1e-16 absolute (ours: log1p(-tail))
    np.testing.assert_allclose(gst.t.logcdf(y, df), sst.t.logcdf(y, df), rtol=1e-12, atol=2e-16)


# t.logpdf for df >= 100 by the gamma ratio's expansion (DLMF 5.11.13) and log1p(u)/u's
# series: gammaln((df+1)/2) - gammaln(df/2) and (df+1)/2 log1p(y^2/df) each lost eps df of
# an O(1/df^2) derivative in df (a newcomer's review: 2e-2 relative at df = 3e6, 0 at 1e10;
# the value 2e-4 off at 1e12). Value, d/dy, d/ddf and d^2/ddf^2 against mpmath.
@pytest.mark.parametrize("df", [100.0, 3e3, 3e6, 1e12, 1e20])
def test_t_logpdf_large_df_against_mpmath(df):
    mp = pytest.importorskip("mpmath")

    def ref(y, nu):
        return (mp.loggamma((nu + 1) / 2) - mp.loggamma(nu / 2) - mp.log(nu * mp.pi) / 2
                - (nu + 1) / 2 * mp.log1p(y * y / nu))

    f = lambda z: gst.t.logpdf(z[0], z[1])          # noqa: E731
    for y in (0.0, 0.5, -3.0, 30.0, 1e5):
        with mp.workprec(400):
            Y, D = mp.mpf(y), mp.mpf(df)
            want = [ref(Y, D), mp.diff(lambda t: ref(t, D), Y), mp.diff(lambda t: ref(Y, t), D),
                    mp.diff(lambda t: ref(Y, t), D, 2)]
        z = np.array([y, df])
        g, h = gpuad.grad(f)(z), gpuad.hessian(f)(z)
        # a few ulps of the terms (|y^2/2|, the series' terms): measured <= 9e-15
        for got, w in zip((f(z), g[0], g[1], h[1][1]), want):
            assert float(got) == pytest.approx(float(w), rel=2e-14, abs=1e-300)


def test_scipy_methods_not_here_raise_not_implemented_naming_a_way_out():
    # a newcomer's review: norm.ppf, t.sf, ... were bare AttributeErrors
    for obj, owner in ((gst.norm, "norm"), (gst.t(3.0), "t(...)"), (gst.gamma, "gamma"),
                       (gst.poisson, "poisson"), (gst.dirichlet, "dirichlet"),
                       (gst.multivariate_normal, "multivariate_normal")):
        for name in ("sf", "logsf", "ppf", "rvs", "mean", "entropy"):
            with pytest.raises(NotImplementedError, match=rf"stats\.{re.escape(owner)}\.{name} "
                               r"is not implemented .*instead: "):
                getattr(obj, name)
            assert not hasattr(obj, name)          # duck typing still reads it as absent
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'"):
        gst.norm.nonsense
    assert float(gst.norm(1.0, 2.0).logpdf(1.0)) == pytest.approx(-1.612085713764618)
