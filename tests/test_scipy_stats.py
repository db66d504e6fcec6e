"""gpuad.scipy.stats beyond the op table (tests/op_table.py has rows stats_* for every
distribution's methods inside the support): values against scipy.stats on grids that include
out-of-support points, edges of the support, NaN and invalid parameters; derivative 0 out of
the support (README's convention); check_grads to order 2 in every continuous argument; the
frozen forms; the cdfs that raise NotImplementedError; SciPy's errors of multivariate_normal
and dirichlet; dtypes and scalar results."""
from __future__ import annotations

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


def test_derivative_zero_out_of_support_and_at_invalid_parameters():
    def f(x, a, l, s):
        return gnp.sum(gst.gamma.logpdf(x, a, l, s) * 0 + gst.gamma.pdf(x, a, l, s))
    x = np.array([-1.0, 0.5, 2.0])
    gx, ga, gl, gs = gpuad.grad(f, argnums=(0, 1, 2, 3))(x, np.array([2.0, -1.0, 2.0]),
                                                        np.array(0.0), np.array(1.0))
    assert gx[0] == 0 and ga[0] == 0 and gx[1] == 0 and ga[1] == 0 and gx[2] != 0
    for f, args, outside in [
        (lambda x: gst.beta.logpdf(x, 2.0, 3.0), np.array([-0.5, 0.5, 1.5]), [0, 2]),
        (lambda x: gst.gamma.logpdf(x, 2.0), np.array([-0.5, 0.5]), [0]),
        (lambda x: gst.chi2.pdf(x, 3.0), np.array([-0.5, 0.5]), [0]),
        (lambda s: gst.norm.logpdf(1.0, 0.0, s), np.array([-1.0, 0.0, 2.0]), [0, 1]),
        (lambda d: gst.t.logpdf(1.0, d), np.array([-1.0, 0.0, np.inf, 2.0]), [0, 1, 2]),
        (lambda mu: gst.poisson.logpmf(np.array([-1.0, 0.5, 2.0]), mu), np.array([1.0, 1, 1]),
         [0, 1]),
        (lambda mu: gst.poisson.pmf(2, mu), np.array([-1.0, 1.0]), [0]),
    ]:
        t = np.ones_like(args)
        g = np.asarray(gpuad.grad(lambda v: gnp.sum(f(v)))(args))
        _, jt = gpuad.jvp(lambda v: f(v), (args,), (t,))
        h = np.asarray(gpuad.hvp(lambda v: gnp.sum(f(v)), args, t))
        for v in (g, np.asarray(jt), h):
            assert np.all(v[outside] == 0), v
        inside = np.setdiff1d(np.arange(args.size), outside)
        assert np.all(np.isfinite(g[inside]))


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


@pytest.mark.parametrize("call,needs", [
    (lambda: gst.multivariate_normal.cdf([0.0, 0.0]), "orthant"),
    (lambda: gst.multivariate_normal.logpdf([0.0], 0.0, 1.0, allow_singular=True), "pseudo"),
])
def test_not_implemented_names_function_and_alternative(call, needs):
    with pytest.raises(NotImplementedError, match=needs) as e:
        call()
    assert "gpuad.scipy.stats." in str(e.value) and "instead" in str(e.value)


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
        b = lambda z: gst.beta.logcdf(z[0], z[1], z[2])      # noqa: E731
        assert list(gpuad.grad(b)(np.array([-0.5, 2.0, 3.0]))) == [0.0, 0.0, 0.0]
        assert b(np.array([1.5, 2.0, 3.0])) == 0.0
        assert list(gpuad.grad(b)(np.array([1.5, 2.0, 3.0]))) == [0.0, 0.0, 0.0]


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
