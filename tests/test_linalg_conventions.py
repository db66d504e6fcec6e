"""The conventions of gpuad.numpy.linalg at singular and degenerate points (README's
"Nondifferentiable points" table), each checked in every mode: grad, vjp, jvp, hvp,
hessian, jacfwd, jacrev (and Taylor for det). The op table covers the smooth points."""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad.testing import check_grads

EPS = np.finfo(np.float64).eps
RNG = np.random.default_rng(7)


def _every_mode(f, x, v):
    """The derivatives of a scalar f at x: first order (grad, vjp, jvp, jacfwd, jacrev) and
    second order (hvp, hessian, jacfwd and jacrev of grad)."""
    out, f_vjp = gpuad.vjp(f, x)
    return {
        "grad": gpuad.grad(f)(x), "vjp": f_vjp(np.ones_like(out))[0],
        "jvp": gpuad.jvp(f, (x,), (v,))[1], "jacfwd": gpuad.jacfwd(f)(x),
        "jacrev": gpuad.jacrev(f)(x), "hvp": gpuad.hvp(f, x, v),
        "hessian": gpuad.hessian(f)(x), "jacfwd(grad)": gpuad.jacfwd(gpuad.grad(f))(x),
        "jacrev(grad)": gpuad.jacrev(gpuad.grad(f))(x)}


def _expected(grad, hess, v):
    """What _every_mode must give for a gradient ``grad`` and Hessian ``hess`` at x."""
    n = grad.size
    h = hess.reshape(n, n)
    return {"grad": grad, "vjp": grad, "jvp": np.sum(grad * v), "jacfwd": grad,
            "jacrev": grad, "hvp": (h @ v.ravel()).reshape(v.shape), "hessian": hess,
            "jacfwd(grad)": hess, "jacrev(grad)": hess}


def _assert_modes(got, want, atol):
    for mode in want:
        np.testing.assert_allclose(np.asarray(got[mode], dtype=float), want[mode], rtol=0,
                                   atol=atol, err_msg=mode)


# ------------------------------------------------------------------ norms at 0

ZERO_NORMS = [
    ("vector 2-norm", lambda x: gnp.linalg.norm(x), (3,)),
    ("Frobenius", lambda x: gnp.linalg.norm(x), (2, 3)),
    ("Frobenius, axes", lambda x: gnp.sum(gnp.linalg.norm(x, "fro", axis=(0, 2))), (2, 2, 3)),
    ("vector_norm", lambda x: gnp.linalg.vector_norm(x), (2, 2)),
    ("matrix_norm", lambda x: gnp.linalg.matrix_norm(x), (3, 2)),
    ("3-norm", lambda x: gnp.linalg.norm(x, 3), (3,)),
    ("1-norm", lambda x: gnp.linalg.norm(x, 1), (3,)),
    ("inf-norm", lambda x: gnp.linalg.norm(x, np.inf), (3,)),
    ("spectral norm", lambda x: gnp.linalg.norm(x, 2), (2, 3)),
    ("smallest singular value", lambda x: gnp.linalg.norm(x, -2), (3, 3)),
    ("nuclear norm", lambda x: gnp.linalg.norm(x, "nuc"), (3, 2)),
    ("squared 2-norm", lambda x: gnp.linalg.norm(x) ** 2, (3,)),
]


@pytest.mark.parametrize("f,shape", [(f, s) for _, f, s in ZERO_NORMS],
                         ids=[name for name, _, _ in ZERO_NORMS])
def test_norm_at_zero_is_the_subgradient_zero_in_every_mode(f, shape):
    # Gradient 0 (the minimum-norm subgradient, as PyTorch's); the second derivative is
    # taken as 0 too (the true one is unbounded), so every mode gives exactly 0, no NaN.
    x, v = np.zeros(shape), RNG.standard_normal(shape)
    assert float(f(x)) == 0.0
    _assert_modes(_every_mode(f, x, v), _expected(np.zeros(shape), np.zeros(shape * 2), v), 0)


def test_squared_norm_hessian_at_zero_is_zero_not_2i_but_sum_of_squares_is():
    # The documented cost of the convention: norm(x)**2 has Hessian 2 I everywhere, but at
    # x = 0 the chain rule meets norm's (unbounded) second derivative, taken as 0.
    x = np.zeros(3)
    np.testing.assert_array_equal(gpuad.hessian(lambda x: gnp.linalg.norm(x) ** 2)(x),
                                  np.zeros((3, 3)))
    np.testing.assert_array_equal(gpuad.hessian(lambda x: gnp.sum(x ** 2))(x), 2 * np.eye(3))
    # Away from 0 both are 2 I.
    y = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(gpuad.hessian(lambda x: gnp.linalg.norm(x) ** 2)(y),
                               2 * np.eye(3), atol=1e-14)


def test_norm_gradient_of_the_issue():
    g = gpuad.grad(lambda x: gnp.linalg.norm(x) ** 2)(np.zeros(2))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_p_norm_below_2_has_an_unbounded_second_derivative_at_a_zero_entry():
    # d^2/dx^2 of (sum |x|^p)^(1/p), 1 < p < 2, is +inf at a zero entry (p-1)|x|^(p-2) n^(1-p)
    # -> +inf: never the silent 0 the zero rule would give through abs'(0) = 0. The rest of
    # that row is 0 (the weight of a zero entry is 0), and the other entries are finite:
    # n = 9^(1/1.5)... compared with the closed form, in every mode that reaches them.
    p = 1.5
    x = np.array([0.0, 1.0, -2.0])
    n = np.sum(np.abs(x) ** p) ** (1 / p)
    w = np.sign(x) * (np.abs(x) / n) ** (p - 1)
    with np.errstate(divide="ignore"):
        diag = (p - 1) * np.abs(x) ** (p - 2) * n ** (1 - p)
    want = np.diag(diag) + (1 - p) * np.outer(w, w) / n
    f = lambda x: gnp.linalg.norm(x, p)   # noqa: E731
    for h in (gpuad.hessian(f)(x), gpuad.jacrev(gpuad.grad(f))(x),
              np.stack([gpuad.hvp(f, x, e) for e in np.eye(3)]),
              gpuad.hvp(f, x, np.eye(3), batched=True)):
        assert h[0, 0] == np.inf
        np.testing.assert_array_equal(h[0, 1:], 0.0)
        np.testing.assert_array_equal(h[1:, 0], 0.0)
        np.testing.assert_allclose(h[1:, 1:], want[1:, 1:], rtol=1e-14)


P_BELOW_1 = [-3.0, -2.0, -1.0, -0.5, 0.5]
NORMS_P = [
    ("norm", lambda x, p: gnp.linalg.norm(x, p)),
    ("norm, axis", lambda x, p: gnp.sum(gnp.linalg.norm(x[None], p, axis=-1))),
    ("vector_norm", lambda x, p: gnp.linalg.vector_norm(x, ord=p)),
]


@pytest.mark.parametrize("p", P_BELOW_1)
@pytest.mark.parametrize("name,f", NORMS_P, ids=[n for n, _ in NORMS_P])
def test_p_norm_below_1_at_value_0_is_the_subgradient_zero_in_every_mode(name, f, p):
    # p < 0: one zero entry makes sum |x|^p infinite and the norm 0 on the whole hyperplane
    # x_0 = 0, so the other entries' partials are exactly 0; x_0's is the kink's subgradient
    # 0 ("gradient 0 at value 0"). 0 < p < 1: the zero vector. Every mode gives exactly 0
    # (the weight sign(x) (|x| / n)^(p - 1) formed with 1/n taken as 0 gave 0^(p-1) = inf
    # at the nonzero entries, and NaN at the zero ones).
    x = np.array([0.0, 1.0, -2.0]) if p < 0 else np.zeros(3)
    g = lambda x: f(x, p)   # noqa: E731
    assert float(g(x)) == 0.0
    v = RNG.standard_normal(3)
    _assert_modes(_every_mode(g, x, v), _expected(np.zeros(3), np.zeros((3, 3)), v), 0)
    # a NaN norm: NaN at the NaN entry, 0 at the others, as for p >= 1
    np.testing.assert_array_equal(gpuad.grad(g)(np.array([1.0, np.nan, 2.0])), [0, np.nan, 0])


@pytest.mark.parametrize("p", P_BELOW_1)
def test_p_norm_below_1_away_from_value_0_is_the_closed_form(p):
    # Away from the zero-norm slices (here in one batch with one) the weights are
    # sign(x) (|x| / n)^(p - 1), the Hessian diag((p-1)|x|^(p-2) n^(1-p)) + (1-p) w w^T / n.
    x = np.array([[0.5, 1.0, -2.0], [0.0, 0.0, 0.0] if p > 0 else [0.0, 3.0, 1.0]])
    n = np.sum(np.abs(x[0]) ** p) ** (1 / p)
    w = np.sign(x[0]) * (np.abs(x[0]) / n) ** (p - 1)
    h = np.diag((p - 1) * np.abs(x[0]) ** (p - 2) * n ** (1 - p)) + (1 - p) * np.outer(w, w) / n
    f = lambda x: gnp.sum(gnp.linalg.norm(x, p, axis=1))   # noqa: E731
    np.testing.assert_allclose(gpuad.grad(f)(x), [w, np.zeros(3)], rtol=1e-14)
    H = gpuad.hessian(f)(x).reshape(6, 6)
    np.testing.assert_allclose(H[:3, :3], h, rtol=1e-13)
    np.testing.assert_array_equal(H[3:], 0.0)
    np.testing.assert_array_equal(H[:, 3:], 0.0)


EXTREME_SV = [
    ("norm 2", lambda x: gnp.linalg.norm(x, 2)),
    ("norm -2", lambda x: gnp.linalg.norm(x, -2)),
    ("norm 2, axes", lambda x: gnp.sum(gnp.linalg.norm(x[None], 2, axis=(2, 1)))),
    ("matrix_norm 2", lambda x: gnp.linalg.matrix_norm(x, ord=2)),
    ("matrix_norm -2", lambda x: gnp.linalg.matrix_norm(x, ord=-2)),
]


@pytest.mark.parametrize("name,f", EXTREME_SV, ids=[n for n, _ in EXTREME_SV])
@pytest.mark.parametrize("a,b", [(1.0, 2.0), (1.0, 1.0), (4.0, 4.0), (5.0, 3.0)])
def test_repeated_extreme_singular_value_splits_the_derivative_evenly(name, f, a, b):
    # x = [[a, -b], [b, a]] = c R (R a rotation, c = |a + ib|) has both singular values c,
    # which LAPACK returns an ulp or two apart: an exact comparison gave the whole derivative
    # to one pair u_i v_i^T in LAPACK's basis. The tie, within svd's tolerance, splits it:
    # (u_1 v_1^T + u_2 v_2^T) / 2 = R / 2.
    x = np.array([[a, -b], [b, a]])
    c = np.hypot(a, b)
    want = x / (2 * c)
    assert float(f(x)) == pytest.approx(c, rel=4 * EPS)
    v = RNG.standard_normal((2, 2))
    np.testing.assert_allclose(gpuad.grad(f)(x), want, rtol=0, atol=16 * EPS)
    np.testing.assert_allclose(gpuad.jacrev(f)(x), want, rtol=0, atol=16 * EPS)
    np.testing.assert_allclose(gpuad.jacfwd(f)(x), want, rtol=0, atol=16 * EPS)
    np.testing.assert_allclose(gpuad.jvp(f, (x,), (v,))[1], np.sum(want * v), rtol=0,
                               atol=32 * EPS)


@pytest.mark.parametrize("p", [None, 2, -2])
def test_cond_splits_tied_extreme_singular_values_evenly(p):
    # cond = s_max / s_min: d s_max over the tied largest values (here 4, 4), split evenly,
    # as max; s[0] and s[-1] by index gave it to one of them (LAPACK's order).
    for d, big, small in (([1.0, 4.0, 4.0], [0, 0.5, 0.5], [1, 0, 0]),
                          ([1.0, 1.0, 4.0], [0, 0, 1], [0.5, 0.5, 0])):
        x = np.diag(d)
        cond = 4.0 if p != -2 else 0.25
        assert float(gnp.linalg.cond(x, p)) == cond
        # d cond = d big / small - big d small / small^2 (p = -2: its reciprocal's)
        want = np.asarray(big) / 1.0 - 4.0 * np.asarray(small) / 1.0
        if p == -2:
            want = -want * cond ** 2
        g = gpuad.grad(lambda a: gnp.linalg.cond(a, p))(x)
        np.testing.assert_allclose(np.diag(g), want, rtol=1e-15)
        np.testing.assert_array_equal(g - np.diag(np.diag(g)), 0.0)
    # c R: cond 1, its two values tied: derivative 0
    g = gpuad.grad(lambda a: gnp.linalg.cond(a, p))(np.array([[1.0, -2.0], [2.0, 1.0]]))
    np.testing.assert_allclose(g, 0.0, atol=8 * EPS)


# ------------------------------------------------------------------ det at singular matrices

def _cofactors(a):
    """The cofactor matrix from (n-1) x (n-1) minors: finite at every matrix."""
    n = a.shape[-1]
    c = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, 0), j, 1)
            c[i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return c


def _det_series(a, e):
    """Coefficients c_0..c_n of the polynomial det(a + t e), by interpolation at n + 1
    Chebyshev points (exact up to rounding: det is a polynomial of degree n in t)."""
    n = a.shape[-1]
    t = np.cos(np.pi * (np.arange(n + 1) + 0.5) / (n + 1))
    return np.polynomial.polynomial.polyfit(t, [np.linalg.det(a + ti * e) for ti in t], n)


def _det_hessian(a):
    """d^2 det(a)[e_ij, e_kl] by polarization of the series' second coefficient."""
    n = a.shape[-1]
    basis = np.eye(n * n).reshape(n * n, n, n)

    def q(e):
        return 2 * _det_series(a, e)[2] if n >= 2 else 0.0
    h = np.array([[(q(ei + ej) - q(ei - ej)) / 4 for ej in basis] for ei in basis])
    return h.reshape(n, n, n, n)


SINGULAR = {
    "rank 1 of 2": np.array([[1.0, 2.0], [2.0, 4.0]]),
    "rank 2 of 3": RNG.standard_normal((3, 2)) @ RNG.standard_normal((2, 3)),
    "rank 1 of 3": np.outer(RNG.standard_normal(3), RNG.standard_normal(3)),
    "zero 3x3": np.zeros((3, 3)),
    "rank 2 of 4": RNG.standard_normal((4, 2)) @ RNG.standard_normal((2, 4)),
    "invertible 3x3": RNG.standard_normal((3, 3)) + 2 * np.eye(3),
}


@pytest.mark.parametrize("a", list(SINGULAR.values()), ids=list(SINGULAR))
def test_det_derivatives_are_exact_at_every_rank_in_every_mode(a):
    v = RNG.standard_normal(a.shape)
    # The derivatives are polynomials of degree n - 1 in a: the SVD's backward error
    # (about n eps ||a||) moves them by about n^2 eps ||a||^(n-1), and the interpolated
    # reference carries its own few hundred ulps: 1e-12 (4500 ulps) of ||a||^(n-1).
    scale = max(1.0, float(np.max(np.abs(a)))) ** (a.shape[-1] - 1)
    got = _every_mode(gnp.linalg.det, a, v)
    want = _expected(_cofactors(a), _det_hessian(a), v)
    _assert_modes(got, want, atol=1e-12 * scale)


def test_det_gradient_of_the_issue_is_the_adjugate():
    g = gpuad.grad(gnp.linalg.det)(np.array([[1.0, 2.0], [2.0, 4.0]]))
    np.testing.assert_allclose(g, [[4.0, -2.0], [-2.0, 1.0]], rtol=0, atol=8 * EPS * 25)


@pytest.mark.parametrize("a", [SINGULAR["rank 1 of 3"], SINGULAR["rank 2 of 4"]],
                         ids=["rank 1 of 3", "rank 2 of 4"])
def test_det_taylor_coefficients_are_the_polynomial(a):
    # Every order: taylor(det) along e is det(a + t e) coefficient by coefficient (third and
    # fourth derivatives come from the same cofactor family).
    e = RNG.standard_normal(a.shape)
    n = a.shape[-1]
    c = gpuad.taylor(gnp.linalg.det, a, e, order=n + 1)
    want = list(_det_series(a, e)) + [0.0]
    np.testing.assert_allclose([float(ci) for ci in c], want, rtol=0, atol=1e-11)


def test_det_batched_mixed_ranks():
    a = np.stack([SINGULAR["rank 1 of 3"], SINGULAR["zero 3x3"], SINGULAR["invertible 3x3"]])
    g = gpuad.grad(lambda a: gnp.sum(gnp.linalg.det(a)))(a)
    np.testing.assert_allclose(g, [_cofactors(x) for x in a], rtol=0, atol=1e-12)


# ------------------------------------------------------------------ slogdet, inv, solve, ...

def test_slogdet_at_a_singular_matrix_has_no_derivative_and_says_so():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    sign, logdet = gnp.linalg.slogdet(a)
    assert float(sign) == 0.0 and float(logdet) == -np.inf
    v = np.ones((2, 2))
    for mode in (lambda f: gpuad.grad(f)(a), lambda f: gpuad.jvp(f, (a,), (v,)),
                 lambda f: gpuad.hvp(f, a, v), lambda f: gpuad.jacfwd(f)(a),
                 lambda f: gpuad.jacrev(f)(a)):
        with pytest.raises(np.linalg.LinAlgError, match=r"^slogdet: a is singular"):
            mode(lambda a: gnp.linalg.slogdet(a)[1])


@pytest.mark.parametrize("f,name", [(gnp.linalg.inv, "inv"),
                                    (lambda a: gnp.linalg.solve(a, np.ones(2)), "solve"),
                                    (lambda a: gnp.linalg.matrix_power(a, -1), "inv")])
def test_inv_and_solve_refuse_singular_matrices_by_name(f, name):
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError, match=rf"^{name}: a is singular.*(pinv|lstsq)"):
        f(a)
    with pytest.raises(np.linalg.LinAlgError, match=rf"^{name}: a is singular"):
        gpuad.grad(lambda a: gnp.sum(f(a)))(a)


def test_cholesky_refuses_a_matrix_that_is_not_positive_definite():
    with pytest.raises(np.linalg.LinAlgError, match="^cholesky: a is not positive definite"):
        gnp.linalg.cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(np.linalg.LinAlgError, match="^cholesky"):
        gpuad.grad(lambda a: gnp.sum(gnp.linalg.cholesky(a)))(np.zeros((2, 2)))


def test_qr_derivative_at_dependent_columns_is_refused_by_name():
    a = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])      # R = [[-1, 0], [0, 0]] exactly
    q, r = gnp.linalg.qr(a)
    assert float(r[1, 1]) == 0.0
    with pytest.raises(np.linalg.LinAlgError, match="^qr: R has a zero on its diagonal"):
        gpuad.grad(lambda a: gnp.sum(gnp.linalg.qr(a)[1]))(a)


# ------------------------------------------------------------------ degenerate spectra

def _rotation(n, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q


def _finite_in_every_mode(f, x):
    v = RNG.standard_normal(x.shape)
    for mode, val in _every_mode(f, x, v).items():
        assert np.all(np.isfinite(val)), mode


def test_nuclear_norm_at_repeated_and_zero_singular_values():
    # A symmetric function of a cluster (its sum) is exact at first order: U V^T.
    u, v = _rotation(3, 1), _rotation(3, 2)
    a = u @ np.diag([2.0, 2.0, 1.0]) @ v.T
    g = gpuad.grad(lambda a: gnp.linalg.norm(a, "nuc"))(a)
    np.testing.assert_allclose(g, u @ v.T, atol=20 * EPS)
    np.testing.assert_allclose(gpuad.grad(lambda a: gnp.linalg.norm(a, "nuc"))(np.eye(3)),
                               np.eye(3), atol=20 * EPS)
    # A zero singular value has derivative 0: the minimum-norm subgradient U1 V1^T.
    b = np.outer([1.0, 2.0, 0.0, 2.0], [3.0, 4.0]) / 15
    u1, s, v1 = np.linalg.svd(b, full_matrices=False)
    g = gpuad.grad(lambda a: gnp.linalg.norm(a, "nuc"))(b)
    np.testing.assert_allclose(g, np.outer(u1[:, 0], v1[0]), atol=20 * EPS)
    _finite_in_every_mode(lambda a: gnp.linalg.norm(a, "nuc"), a)
    _finite_in_every_mode(lambda a: gnp.linalg.norm(a, "nuc"), b)


def _top_pair_projectors(m, a):
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    uc, vc = u[:, :2], vh[:2]
    return m.concatenate([m.reshape(uc @ uc.T, (-1,)), m.reshape(uc @ vc, (-1,)),
                          m.reshape(vc.T @ vc, (-1,))])


def test_svd_cluster_subspace_is_exact_at_a_repeated_singular_value():
    # s = (2, 2, 1, 0.5): the top cluster's projectors and U_c V_c^T are smooth functions of
    # a, and F = 0 inside the cluster gives their exact derivative (JVP against central
    # differences of NumPy's own SVD; VJP by the dot product).
    a = _rotation(4, 3)[:, :3] @ np.diag([2.0, 2.0, 1.0]) @ _rotation(3, 4).T
    a = a + 0.0
    f = lambda a: _top_pair_projectors(gnp, a)                       # noqa: E731
    np.testing.assert_allclose(f(a), _top_pair_projectors(np, a), atol=1e-14)
    check_grads(f, (a,), order=1)
    _finite_in_every_mode(lambda a: gnp.sum(f(a) * np.arange(f(a).size)), a)


def test_polar_factor_is_exact_where_every_singular_value_is_repeated():
    # U Vh is the polar factor of a: at a = 2 I it moves by (E - E^T) / 4 along E.
    e = RNG.standard_normal((3, 3))
    _, t = gpuad.jvp(lambda a: (lambda u, s, vh: u @ vh)(*gnp.linalg.svd(a)), (2 * np.eye(3),),
                     (e,))
    np.testing.assert_allclose(t, (e - e.T) / 4, atol=20 * EPS)


def test_svd_vectors_of_a_cluster_have_finite_derivatives():
    # Individual vectors of a repeated singular value are not functions of a; the rules
    # still give finite numbers (F = 0), never NaN, in every mode.
    f = lambda a: gnp.sum(gnp.linalg.svd(a)[0][:, 0] * np.array([1.0, 2.0, 3.0]))  # noqa
    _finite_in_every_mode(f, np.eye(3))
    _finite_in_every_mode(f, np.zeros((3, 3)))


def test_eigh_cluster_projector_is_exact_at_a_repeated_eigenvalue():
    v = _rotation(3, 5)
    a = v @ np.diag([1.0, 1.0, 3.0]) @ v.T
    a = (a + a.T) / 2

    def low(m, a):
        w, vv = m.linalg.eigh(a)
        p = vv[:, :2] @ vv[:, :2].T
        return m.concatenate([m.reshape(p, (-1,)), m.reshape(m.sum(w[:2]), (1,))])
    np.testing.assert_allclose(low(gnp, a), low(np, a), atol=1e-14)
    check_grads(lambda a: low(gnp, a), (a,), order=1)
    np.testing.assert_allclose(gpuad.grad(lambda a: gnp.sum(gnp.linalg.eigvalsh(a)))(np.eye(3)),
                               np.eye(3), atol=0)
    _finite_in_every_mode(lambda a: gnp.linalg.eigh(a)[1][0, 0] + gnp.linalg.eigvalsh(a)[0],
                          np.eye(3))


def test_pinv_keeps_the_rank_at_a_rank_deficient_matrix():
    # Along directions that keep the rank, pinv is smooth and the fixed-rank derivative
    # (Golub & Pereyra) is its derivative: central differences agree. Finite everywhere.
    x, y, dx, dy = (RNG.standard_normal(k) for k in (4, 3, 4, 3))

    def curve(t):                     # rank 1 for every t
        return np.outer(x + t * dx, y + t * dy)
    a, e, h = curve(0.0), np.outer(dx, y) + np.outer(x, dy), 1e-6
    fd = (np.linalg.pinv(curve(h)) - np.linalg.pinv(curve(-h))) / (2 * h)
    _, t = gpuad.jvp(gnp.linalg.pinv, (a,), (e,))
    np.testing.assert_allclose(t, fd, atol=1e-6)
    _finite_in_every_mode(lambda a: gnp.sum(gnp.linalg.pinv(a) * np.arange(12.0).reshape(3, 4)),
                          a)
    _finite_in_every_mode(lambda a: gnp.sum(gnp.linalg.lstsq(a, np.ones(4))[0]), a)


@pytest.mark.parametrize("shape_", [(4, 3), (3, 5), (4, 4)])
@pytest.mark.parametrize("cplx", [False, True])
def test_pinv_cut_of_nonzero_singular_values_is_differentiated(shape_, cplx):
    # A newcomer's review: with rcond cutting singular values that are not 0 (a full-rank
    # matrix), pinv and lstsq gave the fixed-rank derivative at the truncated matrix, the
    # derivative of another function (a sign flipped, 8% off); as JAX does. The truncated
    # SVD is smooth there (no singular value near the cut): central differences, both
    # modes, and lstsq's solution through it.
    rng = np.random.default_rng(7)
    m, n = shape_
    a = rng.standard_normal(shape_) * np.geomspace(1.0, 0.01, n)
    if cplx:
        a = a + 0.05j * rng.standard_normal(shape_)
    s = np.linalg.svd(a, compute_uv=False)
    rc = float(np.sqrt(s[0] * s[1])) / s[0]           # cut between the two largest
    assert s[1] > 0 and s[1] < rc * s[0] < s[0]
    w = rng.standard_normal((n, m))
    b = w[0, :m] + (0.3j * w[1, :m] if cplx else 0.0)
    t = rng.standard_normal(shape_) + (1j * rng.standard_normal(shape_) if cplx else 0)
    h = 1e-6
    for f_np, f_g in ((lambda a: np.linalg.pinv(a, rcond=rc),
                       lambda a: gnp.linalg.pinv(a, rcond=rc)),
                      (lambda a: np.linalg.lstsq(a, b, rcond=rc)[0],
                       lambda a: gnp.linalg.lstsq(a, b, rcond=rc)[0])):
        fd = (f_np(a + h * t) - f_np(a - h * t)) / (2 * h)
        _, jt = gpuad.jvp(f_g, (a,), (t,))
        np.testing.assert_allclose(jt, fd, atol=1e-7 * np.abs(fd).max())
        # reverse mode by the dot-product test against forward mode
        c = rng.standard_normal(np.shape(fd)) + (1j * rng.standard_normal(np.shape(fd))
                                                 if cplx else 0)
        _, pb = gpuad.vjp(f_g, a)
        lhs = np.sum(pb(c)[0] * t).real
        assert abs(lhs - np.sum(c * jt).real) <= 1e-12 * np.abs(c).sum() * np.abs(jt).max()


# ------------------------------------------------------------------ the namespace

def test_linalg_namespace_holds_numpy_names_only():
    public = {n for n in dir(gnp.linalg) if not n.startswith("_")}
    assert public == set(gnp.linalg.__all__)
    assert public <= set(np.linalg.__all__), public - set(np.linalg.__all__)
    # eig/eigvals: NumPy's own for constants, NotImplementedError when traced (never an
    # AttributeError for a NumPy name: test_reductions_linalg.py)
    assert gnp.linalg.eig.__module__ == "gpuad.numpy.linalg"


def test_numpy_linalg_calls_on_traced_arrays_route_to_gpuad():
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    g = gpuad.grad(lambda a: np.sum(np.linalg.svd(a, compute_uv=False)))(a)
    u, s, vh = np.linalg.svd(a)
    np.testing.assert_allclose(g, u @ vh, atol=20 * EPS)
    g = gpuad.grad(lambda a: np.linalg.norm(a, "nuc") + np.linalg.eigvalsh(a)[0])(a)
    assert np.all(np.isfinite(g))


@pytest.mark.parametrize("kw", [{}, {"rtol": None}, {"rcond": 1e-20}, {"rtol": 1e-20}])
def test_pinv_cutoff_follows_numpy(kw):
    # NumPy's default drops s <= 1e-15 s_max; rtol=None means max(m, n) eps (the Array
    # API's); an explicit cutoff keeps the 1e-15 singular value.
    a = np.array([[1.0, 0.0], [0.0, 1e-15]])
    np.testing.assert_array_equal(gnp.linalg.pinv(a, **kw), np.linalg.pinv(a, **kw))


def test_decomposition_rules_read_nothing_back_to_the_host():
    # The conventions' masks (degenerate pairs, zero singular values, norms at 0) are
    # computed on the device from the values: no host read in any sweep.
    a = np.array([[2.0, 0.5, 0.0], [0.1, 3.0, 1.0], [0.0, 1.0, 1.5]])

    def f(a):
        u, s, vh = gnp.linalg.svd(a)
        w, v = gnp.linalg.eigh(a + a.T)
        q, r = gnp.linalg.qr(a)
        return (gnp.sum(s) + gnp.sum(u @ vh) + gnp.sum(w) + gnp.sum(v * v * w)
                + gnp.sum(q * r) + gnp.linalg.det(a) + gnp.linalg.norm(a - a)
                + gnp.sum(gnp.linalg.pinv(a)))
    with gpuad.profile() as prof:
        gpuad.hvp(f, a, np.ones((3, 3)))
    assert prof.host_reads == []
