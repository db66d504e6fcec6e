"""Complex linear algebra beyond the op table (which checks every complex linalg row against
central differences, for phase-invariant functions of the decompositions): the gauge of
the phases of complex singular and eigenvectors, the VJPs as exact transposes of those
JVPs, holomorphic derivatives, and the sign of slogdet."""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp

RNG = np.random.default_rng(3)


def crand(*s):
    return RNG.standard_normal(s) + 1j * RNG.standard_normal(s)


def H(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _re_pair(a, b):
    return sum(float(np.real(np.sum(x * y))) for x, y in zip(a, b) if x is not None)


@pytest.mark.parametrize("m, n, full", [(3, 3, False), (4, 2, False), (2, 4, False),
                                        (4, 2, True), (2, 3, True)])
def test_svd_tangents_keep_jax_gauge_and_reproduce_da(m, n, full):
    a, t = crand(m, n), crand(m, n)
    (u, s, vh), (du, ds, dvh) = gpuad.jvp(lambda x: tuple(gnp.linalg.svd(x, full)), (a,), (t,))
    k = min(m, n)
    u1, du1, vh1, dvh1 = u[:, :k], du[:, :k], vh[:k], dvh[:k]
    np.testing.assert_allclose(du1 * s @ vh1 + (u1 * ds) @ vh1 + (u1 * s) @ dvh1, t,
                               atol=1e-12)
    assert ds.dtype == np.float64
    omu, omv = H(u1) @ du1, vh1 @ H(dvh1)                  # U^H dU, V^H dV
    np.testing.assert_allclose(omu + H(omu), 0, atol=1e-12)   # skew-Hermitian
    np.testing.assert_allclose(omv + H(omv), 0, atol=1e-12)
    np.testing.assert_allclose(np.diagonal(omv), 0, atol=1e-12)   # the gauge (JAX's)
    if full:
        np.testing.assert_allclose(H(u) @ du + H(H(u) @ du), 0, atol=1e-12)
        np.testing.assert_allclose(vh @ H(dvh) + H(vh @ H(dvh)), 0, atol=1e-12)


@pytest.mark.parametrize("m, n, full", [(3, 3, False), (4, 2, False), (2, 4, True)])
def test_svd_vjp_is_the_transpose_of_the_jvp(m, n, full):
    """<g, J t> = <J^T g, t> in Re sum(x y), for cotangents on U, s and Vh at once (the
    phase-dependent parts included: the VJP transposes the gauge the JVP picks)."""
    a, t = crand(m, n), crand(m, n)
    f = lambda x: tuple(gnp.linalg.svd(x, full))            # noqa: E731
    out, f_vjp = gpuad.vjp(f, a)
    g = [crand(*o.shape) if o.dtype.kind == "c" else RNG.standard_normal(o.shape)
         for o in out]
    (ga,) = f_vjp(tuple(g))
    _, tout = gpuad.jvp(f, (a,), (t,))
    assert _re_pair(g, tout) == pytest.approx(_re_pair([ga], [t]), rel=1e-10)


def test_eigh_tangents_keep_the_gauge_and_vjp_transposes():
    v0 = np.linalg.qr(crand(4, 4))[0]
    a = v0 @ np.diag([-1.0, 0.5, 1.2, 3.0]) @ H(v0)
    t = crand(4, 4)
    t = t + H(t)
    (w, v), (dw, dv) = gpuad.jvp(lambda x: tuple(gnp.linalg.eigh(x)), (a,), (t,))
    assert w.dtype == dw.dtype == np.float64
    np.testing.assert_allclose(dv * w @ H(v) + (v * dw) @ H(v) + (v * w) @ H(dv), t,
                               atol=1e-12)
    om = H(v) @ dv
    np.testing.assert_allclose(om + H(om), 0, atol=1e-12)
    np.testing.assert_allclose(np.diagonal(om), 0, atol=1e-12)
    f = lambda x: tuple(gnp.linalg.eigh(x))                   # noqa: E731
    _, f_vjp = gpuad.vjp(f, a)
    g = [RNG.standard_normal(4), crand(4, 4)]
    (ga,) = f_vjp(tuple(g))
    assert _re_pair(g, [dw, dv]) == pytest.approx(_re_pair([ga], [t]), rel=1e-10)


def test_qr_of_complex_matrix_keeps_r_diagonal_real():
    a, t = crand(4, 3), crand(4, 3)
    (q, r), (dq, dr) = gpuad.jvp(lambda x: tuple(gnp.linalg.qr(x)), (a,), (t,))
    np.testing.assert_allclose(np.diagonal(r).imag, 0, atol=1e-14)   # LAPACK's choice
    np.testing.assert_allclose(np.diagonal(dr).imag, 0, atol=1e-12)
    np.testing.assert_allclose(dq @ r + q @ dr, t, atol=1e-12)
    h = 1e-6                                    # Q itself has no gauge: central differences
    fd = (np.linalg.qr(a + h * t)[0] - np.linalg.qr(a - h * t)[0]) / (2 * h)
    np.testing.assert_allclose(dq, fd, atol=1e-7)


def test_holomorphic_derivatives_of_det_inv_solve():
    a, b = crand(3, 3), crand(3)
    np.testing.assert_allclose(gpuad.grad(gnp.linalg.det, holomorphic=True)(a),
                               np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-12)
    j = gpuad.jacfwd(lambda x: gnp.linalg.solve(x, b), holomorphic=True)(a)
    x = np.linalg.solve(a, b)
    np.testing.assert_allclose(j, -np.einsum("ij,k->ijk", np.linalg.inv(a), x), rtol=1e-11,
                               atol=1e-13)


def test_grad_of_real_loss_of_complex_matrix_follows_the_convention():
    """grad(f) = df/dx - i df/dy: f = log|det a| = Re sum(a^-T da) to first order, so
    (as Re(c z) has the gradient c) a^-T, and |z|^2's is 2 conj(z)."""
    a = crand(3, 3)
    g = gpuad.grad(lambda x: gnp.linalg.slogdet(x)[1])(a)
    np.testing.assert_allclose(g, np.linalg.inv(a).T, rtol=1e-12)
    g = gpuad.grad(lambda x: gnp.sum(gnp.abs(x) ** 2))(a)
    np.testing.assert_allclose(g, 2 * np.conj(a), rtol=1e-14)


def test_slogdet_sign_is_a_differentiable_phase_for_complex_a():
    a, t = crand(3, 3), crand(3, 3)
    (sign, _), (dsign, dlog) = gpuad.jvp(lambda x: tuple(gnp.linalg.slogdet(x)), (a,), (t,))
    tr = np.trace(np.linalg.solve(a, t))
    np.testing.assert_allclose(dsign, sign * 1j * tr.imag, rtol=1e-12)
    np.testing.assert_allclose(dlog, tr.real, rtol=1e-12)
    # real a: the sign is piecewise constant, its tangent a symbolic zero
    ar = a.real
    _, (dsign, _) = gpuad.jvp(lambda x: tuple(gnp.linalg.slogdet(x)), (ar,), (t.real,))
    assert np.all(np.asarray(dsign) == 0)


def test_hvp_through_complex_cholesky():
    b = crand(3, 3)
    a = b @ H(b) + 3 * np.eye(3)
    f = lambda x: gnp.sum(gnp.abs(gnp.linalg.cholesky(x)) ** 2)    # = trace(a) for Hermitian
    v = crand(3, 3)
    v = v + H(v)
    hv = gpuad.hvp(f, a, v)
    np.testing.assert_allclose(hv, 0, atol=1e-10)
    np.testing.assert_allclose(gpuad.grad(f)(a), np.eye(3), atol=1e-12)
