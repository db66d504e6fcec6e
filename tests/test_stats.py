"""Conventions of gpuad.numpy's statistics that the op table cannot state, in grad, jvp and
hvp: ties and NaN in order statistics, NaN entries and all-NaN slices of the NaN-ignoring
functions (with NumPy's warnings), weights, traced quantile levels, dtypes and errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp

NAN = np.nan


def modes(f, x, t):
    """grad, the JVP along t and the HVP along t of a scalar function f at x."""
    g = gpuad.grad(f)(x)
    _, jt = gpuad.jvp(f, (x,), (t,))
    return np.asarray(g), np.asarray(jt), np.asarray(gpuad.hvp(f, x, t))


def quiet(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return f(*args, **kw)


# ------------------------------------------------------------------ order statistics

def test_median_tie_goes_to_the_entry_argsort_places_in_the_middle():
    x = np.array([3.0, 1.0, 3.0, 0.0, 3.0])
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    g, jt, h = modes(gnp.median, x, t)
    k = np.argsort(x)[2]
    np.testing.assert_array_equal(g, np.eye(5)[k])
    assert float(jt) == t[k]
    np.testing.assert_array_equal(h, np.zeros(5))


def test_median_of_an_even_count_averages_the_two_middle_entries():
    g, jt, h = modes(gnp.median, np.array([2.0, 5.0, 2.0, 1.0]), np.array([1.0, 2, 3, 4]))
    np.testing.assert_array_equal(g, [0.5, 0.0, 0.5, 0.0])
    assert float(jt) == 2.0
    np.testing.assert_array_equal(h, np.zeros(4))


def test_median_of_a_slice_with_nan_is_its_nan_entry():
    x = np.array([[1.0, NAN, 3.0], [1.0, 2.0, 4.0]])
    w = np.array([2.0, 3.0])
    out = gnp.median(x, axis=1)
    np.testing.assert_array_equal(out, np.median(x, axis=1))
    g, jt, h = modes(lambda x: gnp.sum(gnp.median(x, axis=1) * w), x, np.ones_like(x))
    np.testing.assert_array_equal(g, [[0.0, 2.0, 0.0], [0.0, 3.0, 0.0]])
    assert float(jt) == 5.0                 # the output is NaN, its tangent is not
    _, t_out = gpuad.jvp(lambda x: gnp.median(x, axis=1), (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(t_out, [1.0, 1.0])
    np.testing.assert_array_equal(h, np.zeros_like(x))


def test_quantile_of_a_slice_with_nan_is_its_nan_entry_also_for_a_traced_q():
    x = np.array([[1.0, NAN, 3.0], [1.0, 2.0, 4.0]])
    w = np.array([2.0, 3.0])

    def f(x, q):
        return gnp.sum(gnp.quantile(x, q, axis=1) * w)
    np.testing.assert_array_equal(gnp.quantile(x, 0.75, axis=1), np.quantile(x, 0.75, axis=1))
    np.testing.assert_array_equal(gpuad.grad(f)(x, 0.75), [[0, 2, 0], [0, 1.5, 1.5]])
    assert float(gpuad.grad(f, argnums=1)(x, 0.75)) == 3.0 * 2 * (4.0 - 2.0)


def test_quantile_interpolates_between_two_sorted_entries():
    x = np.array([4.0, 1.0, 3.0, 2.0, 0.0])
    t = np.arange(5.0)
    g, jt, h = modes(lambda x: gnp.quantile(x, 0.3), x, t)     # 1.2 between 1 and 2
    np.testing.assert_allclose(g, [0.0, 0.8, 0.0, 0.2, 0.0], rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(jt, 0.8 * 1 + 0.2 * 3, rtol=1e-15)
    np.testing.assert_array_equal(h, np.zeros(5))


@pytest.mark.parametrize("method,slope", [("linear", 4.0), ("hazen", 5.0), ("weibull", 6.0),
                                          ("median_unbiased", 5 + 1 / 3)])
def test_quantile_is_differentiable_in_q(method, slope):
    x = np.array([4.0, 1.0, 3.0, 2.0, 0.0])       # sorted entries 1 apart
    for f, q, scale in ((gnp.quantile, 0.45, 1.0), (gnp.percentile, 45.0, 0.01)):
        g, jt, h = modes(lambda q: f(x, q, method=method), np.array(q), np.array(2.0))
        np.testing.assert_allclose(g, slope * scale, rtol=1e-14)
        np.testing.assert_allclose(jt, 2 * slope * scale, rtol=1e-14)
        assert float(h) == 0.0
    # mixed: d/dx of d/dq is the difference of the two interpolated entries' indicators
    gx = gpuad.grad(lambda x: gpuad.grad(lambda q: gnp.quantile(x, q, method=method))(0.45))(x)
    np.testing.assert_allclose(gx, slope * (np.eye(5)[3] - np.eye(5)[1]), atol=1e-14)


@pytest.mark.parametrize("method", ["lower", "higher", "nearest", "inverted_cdf",
                                    "closest_observation", "midpoint",
                                    "averaged_inverted_cdf"])
def test_stepwise_methods_gather_and_are_constant_in_q(method):
    x = np.array([4.0, 1.0, 3.0, 2.0, 0.0, 6.0])
    g = gpuad.grad(lambda x: gnp.quantile(x, 0.35, method=method))(x)
    want = np.quantile(x, 0.35, method=method)
    if float(want) in x:
        np.testing.assert_array_equal(g, (x == want).astype(float))
    else:                                            # the midpoint of two entries
        assert sorted(g[g != 0]) == [0.5, 0.5]
    assert float(gpuad.grad(lambda q: gnp.quantile(x, q, method=method))(0.35)) == 0.0


def test_weighted_quantile_gathers_and_is_constant_in_the_weights():
    x = np.array([4.0, 1.0, 3.0, 2.0, 0.0])
    w = np.array([1.0, 0.0, 2.0, 1.0, 1.0])
    f = lambda x, w: gnp.quantile(x, 0.5, method="inverted_cdf", weights=w)   # noqa: E731
    assert float(f(x, w)) == np.quantile(x, 0.5, method="inverted_cdf", weights=w) == 3.0
    np.testing.assert_array_equal(gpuad.grad(f)(x, w), [0.0, 0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(gpuad.grad(f, argnums=1)(x, w), np.zeros(5))


def test_nan_order_statistics_give_an_all_nan_slice_a_constant_nan():
    x = np.array([[NAN, NAN, NAN], [1.0, 4.0, 2.0]])
    w = np.array([2.0, 3.0])
    for f, ref, row in (
            (gnp.nanmedian, np.nanmedian, [0.0, 0.0, 3.0]),
            (lambda x, axis: gnp.nanquantile(x, 0.25, axis=axis),
             lambda x, axis: np.nanquantile(x, 0.25, axis=axis), [1.5, 0.0, 1.5]),
            (lambda x, axis: gnp.nanpercentile(x, 25, axis=axis),
             lambda x, axis: np.nanpercentile(x, 25, axis=axis), [1.5, 0.0, 1.5])):
        with pytest.warns(RuntimeWarning, match="All-NaN slice encountered"):
            out = f(x, axis=1)
        np.testing.assert_array_equal(out, quiet(ref, x, axis=1))
        g, _, h = modes(lambda x: quiet(lambda: gnp.sum(f(x, axis=1) * w)), x, np.ones_like(x))
        np.testing.assert_array_equal(g, [[0.0, 0.0, 0.0], row])
        np.testing.assert_array_equal(h, np.zeros_like(x))
        _, t_out = gpuad.jvp(lambda x: quiet(f, x, axis=1), (x,), (np.ones_like(x),))
        np.testing.assert_array_equal(t_out, [0.0, 1.0])
    # a traced q: the all-NaN slice contributes zero (not NaN) to d/dq
    gq = gpuad.grad(lambda q: quiet(lambda: gnp.sum(gnp.nanquantile(x, q, axis=1) * w)))(0.25)
    assert float(gq) == 3.0 * 2 * (2.0 - 1.0)


def test_nan_order_statistics_of_an_empty_array_are_nanmean():
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        out = gnp.nanmedian(np.zeros((2, 0)), axis=1)
    np.testing.assert_array_equal(out, [NAN, NAN])
    assert gnp.nanquantile(np.zeros((0, 3)), [0.5, 0.2], axis=1).shape == (0,)


# ------------------------------------------------------------------ NaN-ignoring reductions

PAIRS = [(gnp.nansum, gnp.sum), (gnp.nanprod, gnp.prod), (gnp.nanmean, gnp.mean),
         (gnp.nanvar, gnp.var), (gnp.nanstd, gnp.std), (gnp.nanmax, gnp.max),
         (gnp.nanmin, gnp.min), (gnp.nanmedian, gnp.median),
         (lambda x: gnp.nanquantile(x, 0.3), lambda x: gnp.quantile(x, 0.3)),
         (lambda x: gnp.nanpercentile(x, 70), lambda x: gnp.percentile(x, 70))]


@pytest.mark.parametrize("nanf,f", PAIRS, ids=lambda f: getattr(f, "__name__", "q"))
def test_nan_entries_are_excluded_exactly(nanf, f):
    x = np.array([0.7, NAN, -1.3, 2.1, NAN, 0.4])
    ok = ~np.isnan(x)
    t = np.array([1.0, 5.0, -2.0, 0.5, 7.0, 3.0])
    g, jt, h = modes(nanf, x, t)
    g0, jt0, h0 = modes(f, x[ok], t[ok])
    if f in (gnp.mean, gnp.var, gnp.std):
        check = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)  # noqa: E731
    else:
        check = np.testing.assert_array_equal
    check(g[ok], g0)
    check(jt, jt0)
    check(h[ok], h0)
    np.testing.assert_array_equal(g[~ok], 0.0)
    np.testing.assert_array_equal(h[~ok], 0.0)


@pytest.mark.parametrize("nanf,f,fill", [(gnp.nancumsum, gnp.cumsum, 0.0),
                                         (gnp.nancumprod, gnp.cumprod, 1.0)])
def test_nan_entries_of_running_sums_and_products_count_as_the_identity(nanf, f, fill):
    x = np.array([0.7, NAN, -1.3, 0.0, NAN, 0.4])
    ok = ~np.isnan(x)
    w = np.arange(1.0, 7.0)
    t = np.where(ok, np.array([1.0, 5.0, -2.0, 0.5, 7.0, 3.0]), 0.0)

    def wsum(h):
        return lambda x: gnp.sum(h(x) ** 2 * w)
    g, jt, h = modes(wsum(nanf), x, t)
    g0, jt0, h0 = modes(wsum(f), np.where(ok, x, fill), t)
    np.testing.assert_array_equal(g, np.where(ok, g0, 0.0))
    np.testing.assert_array_equal(jt, jt0)
    np.testing.assert_array_equal(h, np.where(ok, h0, 0.0))


@pytest.mark.parametrize("f,message", [
    (gnp.nanmean, "Mean of empty slice"),
    (gnp.nanvar, "Degrees of freedom <= 0 for slice."),
    (gnp.nanstd, "Degrees of freedom <= 0 for slice."),
    (gnp.nanmax, "All-NaN slice encountered"),
    (gnp.nanmin, "All-NaN slice encountered"),
    (gnp.nanmedian, "All-NaN slice encountered")])
def test_an_all_nan_slice_is_numpys_nan_with_derivative_zero(f, message):
    x = np.array([[NAN, NAN, NAN], [1.0, 4.0, 2.5]])
    with pytest.warns(RuntimeWarning, match=message):
        out = f(x, axis=1)
    want = quiet(getattr(np, f.__name__), x, axis=1)
    np.testing.assert_array_equal(out, want)
    w = np.array([2.0, 3.0])
    g, _, h = modes(lambda x: quiet(lambda: gnp.sum(f(x, axis=1) * w)), x, np.ones_like(x))
    g1 = gpuad.grad(lambda r: getattr(gnp, f.__name__.replace("nan", ""))(r) * 3.0)(x[1])
    np.testing.assert_array_equal(g[0], 0.0)
    np.testing.assert_allclose(g[1], g1, rtol=1e-15)
    np.testing.assert_array_equal(h[0], 0.0)
    assert np.all(np.isfinite(h))
    _, t_out = gpuad.jvp(lambda x: quiet(f, x, axis=1), (x,), (np.ones_like(x),))
    assert t_out[0] == 0.0 and np.isfinite(t_out[1])


def test_nanvar_with_too_few_degrees_of_freedom_is_a_constant_nan():
    x = np.array([[NAN, 2.0, NAN], [1.0, 4.0, 2.5]])
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        out = gnp.nanvar(x, axis=1, ddof=1)
    np.testing.assert_array_equal(out, quiet(np.nanvar, x, axis=1, ddof=1))
    g = gpuad.grad(lambda x: quiet(lambda: gnp.sum(gnp.nanstd(x, axis=1, ddof=1))))(x)
    np.testing.assert_array_equal(g[0], 0.0)
    assert np.all(np.isfinite(g))


def test_all_nan_sums_and_products_are_numpys_identities():
    x = np.array([NAN, NAN])
    assert float(gnp.nansum(x)) == 0.0 and float(gnp.nanprod(x)) == 1.0
    np.testing.assert_array_equal(gpuad.grad(gnp.nansum)(x), [0.0, 0.0])
    np.testing.assert_array_equal(gnp.nancumprod(np.array([NAN, 2.0, NAN, 3.0])), [1, 2, 2, 6])


# ------------------------------------------------------------------ means and spreads

def test_average_derivative_in_the_weights():
    a, w = np.array([1.0, 2.0, 6.0]), np.array([1.0, 2.0, 1.0])
    avg = np.average(a, weights=w)
    g, jt, h = modes(lambda w: gnp.average(a, weights=w), w, np.ones(3))
    np.testing.assert_allclose(g, (a - avg) / w.sum(), rtol=1e-15)
    np.testing.assert_allclose(jt, np.sum((a - avg) / w.sum()), atol=1e-15)
    # d2/dw2 avg = -((a_i - avg) + (a_j - avg)) / W^2
    H = -((a - avg)[:, None] + (a - avg)[None, :]) / w.sum() ** 2
    np.testing.assert_allclose(h, H @ np.ones(3), rtol=1e-14, atol=1e-15)


def test_average_returned_and_errors_as_numpy():
    a = np.arange(6.0).reshape(2, 3)
    avg, scl = gnp.average(a, axis=1, weights=np.array([1.0, 2.0, 3.0]), returned=True)
    wavg, wscl = np.average(a, axis=1, weights=np.array([1.0, 2.0, 3.0]), returned=True)
    np.testing.assert_array_equal(avg, wavg)
    np.testing.assert_array_equal(scl, wscl)
    avg, scl = gnp.average(a, axis=0, returned=True)
    np.testing.assert_array_equal(scl, [2.0, 2.0, 2.0])
    with pytest.raises(ZeroDivisionError, match="Weights sum to zero"):
        gnp.average(a, axis=1, weights=np.array([1.0, -1.0, 0.0]))
    with pytest.raises(TypeError, match="Axis must be specified"):
        gnp.average(a, weights=np.ones(3))
    with pytest.raises(ValueError, match="Shape of weights"):
        gnp.average(a, axis=0, weights=np.ones(3))


def test_ptp_ties_share_the_derivative():
    g = gpuad.grad(gnp.ptp)(np.array([1.0, 3.0, 3.0, 1.0, 2.0]))
    np.testing.assert_array_equal(g, [-0.5, 0.5, 0.5, -0.5, 0.0])


def test_cov_and_corrcoef_are_float64_and_corrcoef_diagonal_is_constant():
    x = np.random.default_rng(0).uniform(-1, 1, (3, 6)).astype(np.float32)
    assert gnp.cov(x).dtype == np.cov(x).dtype == np.float64
    assert gnp.cov(x, dtype=np.float32).dtype == np.float32
    assert gnp.corrcoef(x).dtype == np.float64
    assert gnp.cov(np.arange(4.0)).shape == ()
    jac = gpuad.jacobian(lambda x: gnp.diagonal(gnp.corrcoef(x)))(x.astype(np.float64))
    np.testing.assert_allclose(jac, 0.0, atol=1e-13)
    with pytest.warns(RuntimeWarning, match="Degrees of freedom <= 0"):
        gnp.cov(np.ones((2, 1)))


def test_corrcoef_clips_to_one_as_numpy():
    x = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])       # perfectly correlated
    np.testing.assert_array_equal(gnp.corrcoef(x), np.corrcoef(x))
    assert np.all(np.abs(np.asarray(gnp.corrcoef(x))) <= 1.0)


# ------------------------------------------------------------------ dtypes and errors

_X32 = np.random.default_rng(2).uniform(-1, 1, (3, 4)).astype(np.float32)
_CALLS = [
    ("median", (), {"axis": 1}), ("nanmedian", (), {}), ("quantile", (0.3,), {}),
    ("quantile", (np.float64(0.3),), {}), ("quantile", (np.array([0.3]),), {"axis": 0}),
    ("quantile", (np.float32(0.3),), {}), ("quantile", ([0.3, 0.6],), {"method": "lower"}),
    ("nanquantile", (0.3,), {"axis": 1}), ("nanquantile", (np.array([0.3]),), {"axis": 1}),
    ("percentile", (30,), {}), ("percentile", (np.array(30.0),), {"axis": 1}),
    ("nanpercentile", (30.0,), {}), ("average", (), {"axis": 0}),
    ("average", (), {"weights": np.ones((3, 4))}), ("ptp", (), {}), ("cov", (), {}),
    ("corrcoef", (), {}), ("nansum", (), {}), ("nanmean", (), {}), ("nanvar", (), {}),
    ("nanstd", (), {}), ("nanmax", (), {}), ("nanprod", (), {"axis": 0}),
    ("nancumsum", (), {}), ("nancumprod", (), {"axis": 1}),
]


@pytest.mark.parametrize("name,args,kw", _CALLS, ids=[c[0] for c in _CALLS])
def test_float32_results_have_numpys_dtype_and_shape(name, args, kw):
    got = np.asarray(getattr(gnp, name)(_X32, *args, **kw))
    want = np.asarray(getattr(np, name)(_X32, *args, **kw))
    assert (got.dtype, got.shape) == (want.dtype, want.shape)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def test_integer_input_of_a_selecting_method_keeps_its_dtype():
    x = np.array([5, 1, 4, 2])
    assert gnp.quantile(x, 0.3, method="lower").dtype == np.quantile(x, 0.3, method="lower").dtype
    assert gnp.median(x).dtype == np.float64


def test_errors_as_numpy():
    x = np.arange(5.0)
    with pytest.raises(ValueError, match=r"Quantiles must be in the range \[0, 1\]"):
        gnp.quantile(x, 1.5)
    with pytest.raises(ValueError, match=r"Percentiles must be in the range \[0, 100\]"):
        gnp.nanpercentile(x, -1)
    with pytest.raises(ValueError, match="is not a valid method"):
        gnp.quantile(x, 0.5, method="cubic")
    with pytest.raises(ValueError, match="Only method 'inverted_cdf' supports weights"):
        gnp.quantile(x, 0.5, weights=np.ones(5))
    with pytest.raises(ValueError, match="Weights must be non-negative"):
        gnp.quantile(x, 0.5, method="inverted_cdf", weights=-np.ones(5))
    with pytest.raises(ValueError, match="Weights included NaN, inf or were all zero"):
        gnp.quantile(x, 0.5, method="inverted_cdf", weights=np.zeros(5))
    with pytest.raises(IndexError):
        gnp.quantile(np.zeros((2, 0)), 0.5, axis=1)
    with pytest.raises(ValueError, match="ddof must be integer"):
        gnp.cov(x, ddof=0.5)
    with pytest.raises(NotImplementedError, match="out= is not supported"):
        gnp.median(x, out=np.zeros(()))


def test_batched_hvp_through_nan_reductions_and_quantiles():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (3, 6))
    x[0, 2], x[1, :] = NAN, NAN                  # a NaN entry and an all-NaN slice
    V = rng.standard_normal((4,) + x.shape)
    for f in (lambda x: gnp.sum(gnp.nanvar(x, axis=1, ddof=1) ** 2),
              lambda x: gnp.sum(gnp.nanstd(x, axis=1) ** 3),
              lambda x: gnp.sum(gnp.nanquantile(x, [0.3, 0.8], axis=1) ** 2),
              lambda x: gnp.sum(gnp.nanmedian(x, axis=1) ** 2)):
        hb = np.asarray(quiet(gpuad.hvp, f, x, V, batched=True))
        hs = np.stack([np.asarray(quiet(gpuad.hvp, f, x, v)) for v in V])
        np.testing.assert_allclose(hb, hs, rtol=1e-13, atol=1e-13)
        assert np.all(np.isfinite(hb)) and np.all(hb[:, 1] == 0.0)


def test_numpy_functions_dispatch_to_these_rules():
    x = np.array([3.0, 1.0, 2.0, 5.0])
    np.testing.assert_array_equal(gpuad.grad(lambda x: np.median(x))(x), [0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(gpuad.grad(lambda x: np.nanmax(x))(x), [0, 0, 0, 1.0])


# ------------------------------------------------------------------ counts

def test_bincount_is_linear_in_its_weights_in_every_mode():
    # bincount(x, weights=w) sums the weights per bin: linear in w. It was classified
    # "zero" (read as values), so its derivative in the weights was a silent 0.
    x = np.array([0, 2, 2, 3, 0])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    S = np.zeros((6, 5))
    S[x, np.arange(5)] = 1.0                       # bincount(x, w) = S @ w
    f = lambda w: gnp.bincount(x, weights=w, minlength=6)   # noqa: E731
    np.testing.assert_array_equal(f(w), np.bincount(x, weights=w, minlength=6))
    c = np.arange(1.0, 7.0)
    np.testing.assert_array_equal(gpuad.grad(lambda w: gnp.sum(f(w) * c))(w), S.T @ c)
    np.testing.assert_array_equal(gpuad.jacfwd(f)(w), S)
    np.testing.assert_array_equal(gpuad.jacrev(f)(w), S)
    t = np.array([1.0, -1.0, 0.5, 2.0, 0.0])
    np.testing.assert_array_equal(gpuad.jvp(f, (w,), (t,))[1], S @ t)
    np.testing.assert_array_equal(gpuad.hessian(lambda w: gnp.sum(f(w) ** 2))(w), 2 * S.T @ S)
    # float32 weights: NumPy's float64 result; the gradient in the weights' dtype
    g = gpuad.grad(lambda w: gnp.sum(gnp.bincount(x, w)))(w.astype(np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, np.ones(5))
    # without traced weights: NumPy's own (integer counts)
    assert gnp.bincount(x).dtype == np.bincount(x).dtype
    with pytest.raises(ValueError):
        gpuad.grad(lambda w: gnp.sum(gnp.bincount(x, w)))(np.ones(3))


def test_no_function_read_as_values_takes_weights():
    # The "zero" names read traced arguments as values (derivative 0): none may take a
    # floating argument its result is linear in, as bincount's weights are.
    import inspect
    from gpuad.numpy import _coverage
    for name in _coverage.ZERO:
        try:
            params = inspect.signature(getattr(np, name)).parameters
        except (TypeError, ValueError):
            continue
        assert "weights" not in params, name


# ------------------------------------------------------------------ NaN-ignoring elementwise

@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_fmin_ignore_nan_in_value_and_derivative(name):
    # fmax/fmin were aliases of maximum/minimum: NaN wherever either argument was NaN
    # (gnp.fmax(1.5, nan) was nan, NumPy's 1.5), and no derivative for the other side.
    f = getattr(gnp, name)
    a = np.array([NAN, 1.0, NAN, 3.0, 2.0])
    b = np.array([2.0, NAN, NAN, 1.0, 2.0])
    np.testing.assert_array_equal(f(a, b), getattr(np, name)(a, b))
    assert float(f(1.5, NAN)) == 1.5 and float(f(NAN, 1.5)) == 1.5
    bigger = [0.0, 1.0, 0.0, 1.0, 0.5] if name == "fmax" else [0.0, 1.0, 0.0, 0.0, 0.5]
    smaller = [1.0, 0.0, 0.0, 0.0, 0.5] if name == "fmax" else [1.0, 0.0, 0.0, 1.0, 0.5]
    ga, gb = gpuad.grad(lambda a, b: gnp.sum(f(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ga, bigger)
    np.testing.assert_array_equal(gb, smaller)
    t = np.arange(1.0, 6.0)
    _, jt = gpuad.jvp(lambda a: f(a, b), (a,), (t,))
    np.testing.assert_array_equal(jt, np.asarray(bigger) * t)
    assert float(gpuad.grad(lambda x: f(x, NAN))(1.5)) == 1.0
    # broadcasting and NumPy's dtypes without traced arguments
    np.testing.assert_array_equal(f(a, 2.5), getattr(np, name)(a, 2.5))
    assert f(np.array([1, 2]), 3).dtype == getattr(np, name)(np.array([1, 2]), 3).dtype


@pytest.mark.parametrize("name", ["var", "std", "nanvar", "nanstd"])
def test_numpy_2_correction_mean_and_out_keywords(name):
    """var/std/nanvar/nanstd take NumPy 2's correction= (ddof's Array API name; both given
    is NumPy's ValueError), mean= (a precomputed mean, differentiable too) and out=
    (NumPy's own call untraced; a TypeError naming the function traced); they were a bare
    "unexpected keyword argument". Derivatives by central differences."""
    x = np.array([[1.0, 2.5, -0.5, 4.0], [0.25, 3.0, 1.5, -2.0]])
    npf, gf = getattr(np, name), getattr(gnp, name)
    m = np.mean(x, axis=1, keepdims=True) + 0.25       # (any mean: the formula's)
    for kw in ({"correction": 1}, {"axis": 1, "correction": 1.5},
               {"axis": 1, "mean": m}, {"axis": 1, "mean": m, "correction": 1, "keepdims": True}):
        want = npf(x, **kw)
        np.testing.assert_allclose(gf(x, **kw), want, rtol=1e-14)
        g = gpuad.grad(lambda v: gnp.sum(gf(v, **kw) * np.arange(1.0, np.size(want) + 1)
                                         .reshape(np.shape(want))))(x)
        h, fd = 1e-6, np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            e = np.zeros(x.shape)
            e[i] = h
            w = np.arange(1.0, np.size(want) + 1).reshape(np.shape(want))
            fd[i] = (np.sum(npf(x + e, **kw) * w) - np.sum(npf(x - e, **kw) * w)) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    # the mean's own derivative: d var / d mean
    gm = gpuad.grad(lambda mu: gnp.sum(gf(x, axis=1, mean=mu)))(m)
    h = 1e-6
    fdm = [(np.sum(npf(x, axis=1, mean=m + h * e)) - np.sum(npf(x, axis=1, mean=m - h * e)))
           / (2 * h) for e in np.eye(2).reshape(2, 2, 1)]
    np.testing.assert_allclose(gm.ravel(), fdm, rtol=1e-6)
    with pytest.raises(ValueError, match="ddof and correction"):
        gf(x, ddof=1, correction=1)
    o = np.zeros(2)
    assert gf(x, axis=1, out=o) is o
    np.testing.assert_allclose(o, npf(x, axis=1), rtol=1e-14)
    with pytest.raises(TypeError, match=f"gpuad.numpy.{name}: out= is not supported"):
        gpuad.grad(lambda v: gnp.sum(gf(v, axis=1, out=np.zeros(2))))(x)
