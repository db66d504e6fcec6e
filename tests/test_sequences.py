"""Conventions of gpuad.numpy's sequence functions that the op table cannot state, in grad,
jvp and hvp: cumulative products at zeros, interpolation at knots and outside, convolution
modes, gradient at even coordinates, unwrap's pass-through, polynomial edge cases, errors."""
from __future__ import annotations

import itertools

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


# ------------------------------------------------------------------ cumulative products

def _cumprod_jacobian(x):
    n = len(x)
    return np.array([[np.prod(np.delete(x[:i + 1], j)) if j <= i else 0.0 for j in range(n)]
                     for i in range(n)])


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 0.0, 1.5], [3.0, -1.0, 0.0],
                               [0.0], [1.0, 2.0, 3.0, 4.0, 0.5, -2.0, 0.0, 3.0, 1.5]])
def test_cumprod_derivatives_are_exact_at_zeros(x):
    x = np.array(x)
    J = _cumprod_jacobian(x)
    np.testing.assert_array_equal(gpuad.jacobian(gnp.cumprod)(x), J)
    w = np.arange(1.0, len(x) + 1)
    t = np.linspace(-1, 2, len(x))
    g, jt, h = modes(lambda x: gnp.sum(gnp.cumprod(x) * w), x, t)
    np.testing.assert_allclose(g, w @ J, rtol=1e-15)
    np.testing.assert_allclose(jt, w @ J @ t, rtol=1e-14, atol=1e-15)
    # the Hessian of sum_i w_i prod_{k<=i} x_k: products of all but two entries
    H = np.zeros((len(x), len(x)))
    for i, j in itertools.permutations(range(len(x)), 2):
        H[i, j] = sum(w[k] * np.prod(np.delete(x[:k + 1], [i, j]))
                      for k in range(max(i, j), len(x)))
    np.testing.assert_allclose(h, H @ t, rtol=1e-14, atol=1e-14)
    assert np.all(np.isfinite(h))


def test_cumulative_functions_as_numpy():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    for name in ("cumulative_sum", "cumulative_prod"):
        for axis, init in itertools.product((0, 1, -1), (False, True)):
            np.testing.assert_array_equal(
                getattr(gnp, name)(x, axis=axis, include_initial=init),
                getattr(np, name)(x, axis=axis, include_initial=init))
        np.testing.assert_array_equal(getattr(gnp, name)(np.array(3.0), include_initial=True),
                                      getattr(np, name)(np.array(3.0), include_initial=True))
        with pytest.raises(ValueError, match="``axis`` argument is required"):
            getattr(gnp, name)(x)
    g = gpuad.grad(lambda x: gnp.sum(gnp.cumulative_prod(x, include_initial=True)))(
        np.array([2.0, 0.0, 4.0]))
    np.testing.assert_array_equal(g, [1.0, 10.0, 0.0])


# ------------------------------------------------------------------ differences

def test_diff_errors_and_identity_as_numpy():
    x = np.array([1.0, 4.0, 9.0])
    assert gnp.diff(x, n=0) is x
    with pytest.raises(ValueError, match="order must be non-negative"):
        gnp.diff(x, n=-1)
    with pytest.raises(ValueError, match="at least one dimensional"):
        gnp.diff(np.array(1.0))
    g = gpuad.grad(lambda p: gnp.sum(gnp.diff(x, prepend=p, append=p) ** 2))(2.0)
    assert float(g) == -2 * (1.0 - 2.0) + 2 * (2.0 - 9.0)


def test_ediff1d_keeps_the_dtype_of_ary():
    x = np.array([1.0, 2.5, 4.0], dtype=np.float32)
    out = gnp.ediff1d(x, to_begin=np.array([-1.0]), to_end=7.0)
    want = np.ediff1d(x, to_begin=np.array([-1.0]), to_end=7.0)
    assert out.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(out, want)
    with pytest.raises(TypeError, match="same_kind"):
        gnp.ediff1d(x, to_begin=np.array([1 + 2j]))


def test_gradient_at_even_traced_coordinates_uses_the_uneven_formula():
    f = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0])          # even: NumPy takes the even formula
    for edge in (1, 2):
        np.testing.assert_allclose(gnp.gradient(f, x, edge_order=edge),
                                   np.gradient(f, x, edge_order=edge), rtol=1e-14)
        gpuad.check_grads(lambda x: gnp.gradient(f, x, edge_order=edge), (x,), order=2)
        gpuad.check_grads(lambda h: gnp.gradient(f, h, edge_order=edge), (np.array(0.5),))


def test_gradient_arguments_as_numpy():
    f = np.arange(12.0).reshape(3, 4) ** 2
    for args, kw in (((), {}), ((2.0,), {}), ((1.0, 2.0), {}), ((np.arange(4.0),), {"axis": 1}),
                     ((0.5,), {"axis": (1, 0)}), ((), {"axis": -1, "edge_order": 2})):
        got, want = gnp.gradient(f, *args, **kw), np.gradient(f, *args, **kw)
        assert type(got) is type(want)
        np.testing.assert_allclose(got, want, rtol=1e-14)
    with pytest.raises(TypeError, match="invalid number of arguments"):
        gnp.gradient(f, 1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="too small to calculate a numerical gradient"):
        gnp.gradient(np.ones(2), edge_order=2)
    with pytest.raises(ValueError, match="distances must match the length"):
        gnp.gradient(f, np.arange(3.0), axis=1)


def test_unwrap_passes_the_derivative_through():
    p = np.array([0.0, 3.0, 6.5, -1.0, 2.0])
    np.testing.assert_array_equal(gnp.unwrap(p), np.unwrap(p))
    np.testing.assert_array_equal(gpuad.jacobian(gnp.unwrap)(p), np.eye(5))
    g, jt, h = modes(lambda p: gnp.sum(gnp.unwrap(p, period=4.0) ** 2), p, np.ones(5))
    np.testing.assert_array_equal(g, 2 * np.asarray(gnp.unwrap(p, period=4.0)))
    np.testing.assert_array_equal(h, 2 * np.ones(5))
    with pytest.raises(TypeError, match="traced `period`"):
        gpuad.grad(lambda s: gnp.sum(gnp.unwrap(p, period=s)))(4.0)


def test_trapezoid_derivatives():
    y, x = np.array([1.0, 2.0, 4.0]), np.array([0.0, 1.0, 3.0])
    np.testing.assert_array_equal(gpuad.grad(gnp.trapezoid)(y, x), [0.5, 1.5, 1.0])
    np.testing.assert_array_equal(gpuad.grad(gnp.trapezoid, argnums=1)(y, x),
                                  [-1.5, -1.5, 3.0])
    assert float(gpuad.grad(lambda d: gnp.trapezoid(y, dx=d))(0.5)) == 4.5


# ------------------------------------------------------------------ interpolation

XP, FP = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0])


@pytest.mark.parametrize("x,slope", [(0.0, 2.0), (0.5, 2.0), (1.0, 0.5), (2.0, 0.5),
                                     (3.0, 0.0), (-1.0, 0.0), (4.0, 0.0)])
def test_interp_derivative_in_x_is_the_slope_of_the_interval_to_the_right(x, slope):
    g, jt, h = modes(lambda x: gnp.interp(x, XP, FP), np.array(x), np.array(2.0))
    assert float(g) == slope and float(jt) == 2 * slope and float(h) == 0.0


def test_interp_derivative_in_fp_xp_left_and_right():
    x = np.array([-1.0, 0.5, 1.0, 3.0, 5.0])
    jf = gpuad.jacobian(lambda fp: gnp.interp(x, XP, fp))(FP)
    np.testing.assert_array_equal(jf, [[1, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 0, 1],
                                       [0, 0, 1]])
    jx = gpuad.jacobian(lambda xp: gnp.interp(np.array([0.5, 2.0]), xp, FP))(XP)
    # f = fp0 + s (x - xp0), s = (fp1 - fp0) / h, h = xp1 - xp0:
    # d/dxp0 = -s (xp1 - x) / h, d/dxp1 = -s (x - xp0) / h
    np.testing.assert_allclose(jx, [[-1.0, -1.0, 0.0], [0.0, -0.25, -0.25]], rtol=1e-15)
    jl = gpuad.grad(lambda lr: gnp.sum(gnp.interp(x, XP, FP, left=lr[0], right=lr[1])))(
        np.array([7.0, 8.0]))
    np.testing.assert_array_equal(jl, [1.0, 1.0])


def test_interp_nan_and_infinite_x_have_numpys_values_and_derivative_zero():
    x = np.array([NAN, np.inf, -np.inf, 0.5])
    np.testing.assert_array_equal(gnp.interp(x, XP, FP), np.interp(x, XP, FP))
    g = gpuad.grad(lambda x: gnp.sum(gnp.interp(x, XP, FP)))(x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 2.0])
    gf = gpuad.grad(lambda fp: gnp.sum(gnp.interp(x, XP, fp)))(FP)
    np.testing.assert_array_equal(gf, [1.5, 0.5, 1.0])


def test_interp_period_and_dtype():
    x = np.array([-0.5, 3.7, 8.2], dtype=np.float32)
    xp, fp = np.array([0.5, 1.0, 2.5], dtype=np.float32), np.array([1.0, -1.0, 2.0])
    got, want = gnp.interp(x, xp, fp, period=3.0), np.interp(x, xp, fp, period=3.0)
    assert got.dtype == want.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    g = gpuad.grad(lambda x: gnp.sum(gnp.interp(x, xp, fp, period=3.0)))(x.astype(float))
    np.testing.assert_allclose(g, [(1.0 - 2.0) / 1.0, (-1.0 - 1.0) / 0.5, (2.0 + 1.0) / 1.5])
    with pytest.raises(TypeError, match="traced `period`"):
        gpuad.grad(lambda p: gnp.sum(gnp.interp(x, xp, fp, period=p)))(3.0)
    with pytest.raises(ValueError, match="period must be a non-zero value"):
        gnp.interp(x, xp, fp, period=0)
    with pytest.raises(ValueError, match="array of sample points is empty"):
        gnp.interp(x, [], [])
    with pytest.raises(ValueError, match="fp and xp are not of the same length"):
        gnp.interp(x, xp, fp[:2])


# ------------------------------------------------------------------ convolution

@pytest.mark.parametrize("mode", ["full", "same", "valid", 0, 1, 2])
def test_convolve_and_correlate_match_numpy_for_every_pair_of_lengths(mode):
    rng = np.random.default_rng(0)
    for n, m in itertools.product(range(1, 7), repeat=2):
        a, v = rng.uniform(-1, 1, n), rng.uniform(-1, 1, m)
        for name in ("convolve", "correlate"):
            np.testing.assert_allclose(getattr(gnp, name)(a, v, mode),
                                       getattr(np, name)(a, v, mode), rtol=1e-14, atol=1e-15)


def test_convolution_is_bilinear_to_second_order():
    rng = np.random.default_rng(1)
    for mode, (n, m) in itertools.product(("full", "same", "valid"), ((5, 3), (3, 5), (4, 4))):
        a, v = rng.uniform(-1, 1, n), rng.uniform(-1, 1, m)
        for name in ("convolve", "correlate"):
            gpuad.check_grads(lambda a, v: getattr(gnp, name)(a, v, mode), (a, v), order=2)
    # d/da of sum(convolve(a, v) * w) is correlate(w, v) (full mode)
    a, v, w = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 6)
    g = gpuad.grad(lambda a: gnp.sum(gnp.convolve(a, v) * w))(a)
    np.testing.assert_allclose(g, np.correlate(w, v, "valid"), rtol=1e-14)


def test_convolution_errors_as_numpy():
    with pytest.raises(ValueError, match="a cannot be empty"):
        gnp.convolve([], [1.0])
    with pytest.raises(ValueError, match="v cannot be empty"):
        gnp.convolve([1.0], [])
    with pytest.raises(ValueError, match="first array argument cannot be empty"):
        gnp.correlate([], [1.0])
    with pytest.raises(ValueError, match=r"mode must be one of 'valid', 'same', or 'full'"):
        gnp.convolve([1.0, 2.0], [1.0], mode="x")
    with pytest.raises(ValueError, match="too deep"):
        gnp.correlate(np.ones((2, 2)), [1.0])


# ------------------------------------------------------------------ polynomials

def test_poly_derivative_in_the_roots():
    r = np.array([1.0, -2.0, 0.5])
    # d/dr_i prod_j (x - r_j) = -prod_{j != i} (x - r_j), whose coefficients shift right
    J = np.stack([np.concatenate([[0.0], -np.poly(np.delete(r, i))]) for i in range(3)], 1)
    np.testing.assert_allclose(gpuad.jacobian(gnp.poly)(r), J, rtol=1e-15)
    assert gnp.poly(np.array([])) == 1.0
    with pytest.raises(TypeError, match="traced matrix"):
        gpuad.grad(lambda m: gnp.sum(gnp.poly(m)))(np.eye(2))
    np.testing.assert_allclose(gnp.poly(np.array([[1.0, 2.0], [3.0, 4.0]])),
                               np.poly(np.array([[1.0, 2.0], [3.0, 4.0]])))


def test_polymul_trims_leading_zeros_as_numpy():
    a, b = np.array([0.0, 1.0, 2.0]), np.array([3.0])
    np.testing.assert_array_equal(gnp.polymul(a, b), np.polymul(a, b))
    np.testing.assert_array_equal(gpuad.grad(lambda a: gnp.sum(gnp.polymul(a, b)))(a),
                                  [0.0, 3.0, 3.0])
    np.testing.assert_array_equal(gnp.polymul(np.zeros(2), b), np.polymul(np.zeros(2), b))


def test_vander_derivative_is_exact_at_zero():
    J = gpuad.jacobian(lambda x: gnp.vander(x, 4, increasing=True))(np.array([0.0, 2.0]))
    np.testing.assert_array_equal(J[0, :, 0], [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(J[1, :, 1], [0.0, 1.0, 4.0, 12.0])
    np.testing.assert_array_equal(J[0, :, 1], 0.0)


def test_polynomial_errors_and_edge_cases_as_numpy():
    p = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Order of derivative must be positive"):
        gnp.polyder(p, -1)
    with pytest.raises(ValueError, match="Order of integral must be positive"):
        gnp.polyint(p, -1)
    with pytest.raises(ValueError, match="k must be a scalar or a rank-1 array"):
        gnp.polyint(p, 3, k=[1.0, 2.0])
    with pytest.raises(ValueError, match="one-dimensional"):
        gnp.vander(np.ones((2, 2)))
    for got, want in ((gnp.polyder(p, 5), np.polyder(p, 5)), (gnp.polyint(p, 0), p),
                      (gnp.polyval(np.array([]), np.ones(2)), np.polyval([], np.ones(2))),
                      (gnp.polyval(p.astype(np.float32), 2.0), np.polyval(p.astype(np.float32),
                                                                          2.0)),
                      (gnp.vander(np.ones(3), 0), np.vander(np.ones(3), 0))):
        assert np.asarray(got).dtype == np.asarray(want).dtype
        np.testing.assert_array_equal(got, want)
    g = gpuad.grad(lambda k: gnp.sum(gnp.polyint(p, 2, k)))(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [1.0, 1.0])


def test_batched_hvp_through_sequence_functions():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 6)
    knots = np.linspace(-2, 2, 5)
    V = rng.standard_normal((3, 6))
    for f in (lambda x: gnp.sum(gnp.cumprod(x) ** 2),
              lambda x: gnp.sum(gnp.convolve(x, x[:3] ** 2, "same") ** 2),
              lambda x: gnp.sum(gnp.interp(x, knots, x[:5] ** 2) ** 2),
              lambda x: gnp.sum(gnp.gradient(x ** 2, np.cumsum(x ** 2 + 1), edge_order=2) ** 2),
              lambda x: gnp.sum(gnp.polyval(x[:3], x) ** 2)):
        hb = np.asarray(gpuad.hvp(f, x, V, batched=True))
        hs = np.stack([np.asarray(gpuad.hvp(f, x, v)) for v in V])
        np.testing.assert_allclose(hb, hs, rtol=1e-12, atol=1e-12)
