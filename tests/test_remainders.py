"""remainder (mod) and fmod: NumPy's values bit for bit (the exact IEEE remainders, not
``x1 - q x2`` rounded), with the derivatives of ``x1 - q x2`` for NumPy's quotient q."""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp

HARD = [(1e17, 3.0), (7.0, 0.1), (1.9, 0.1), (-7.0, 0.1), (1e300, 1e-5), (5.0, -3.0),
        (-5.0, 3.0), (0.0, 2.0), (-0.0, 2.0), (3.0, np.inf), (np.inf, 2.0)]


@pytest.mark.parametrize("name", ["remainder", "fmod"])
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_values_are_numpys_bits(name, dt):
    rng = np.random.default_rng(1)
    a = rng.uniform(-2, 2, (1001, 37)).astype(dt)
    b = rng.uniform(0.5, 2, 37).astype(dt) * np.where(rng.random(37) < 0.5, -1, 1).astype(dt)
    x1, x2 = np.array([h[0] for h in HARD], dt), np.array([h[1] for h in HARD], dt)
    with np.errstate(all="ignore"):
        for u, v in [(a, b), (x1, x2), (a * 1e6, b)]:
            np.testing.assert_array_equal(getattr(gnp, name)(u, v), getattr(np, name)(u, v))


@pytest.mark.parametrize("name,quotient", [("remainder", np.floor_divide),
                                           ("fmod", lambda a, b: np.trunc(a / b))])
def test_derivatives_are_those_of_x1_minus_q_x2(name, quotient):
    f = getattr(gnp, name)
    for x1, x2 in [(7.0, 3.0), (-7.0, 3.0), (7.0, -3.0), (1.9, 0.1), (1e17, 3.0)]:
        g = gpuad.grad(lambda x: f(x[0], x[1]))(np.array([x1, x2]))
        q = quotient(np.fmod(x1, x2) * 0 + x1 - getattr(np, name)(x1, x2), x2) \
            if name == "fmod" else quotient(x1, x2)
        assert g[0] == 1.0 and g[1] == pytest.approx(-np.round(q), rel=1e-15)
        _, t = gpuad.jvp(lambda a, b: f(a, b), (np.array(x1), np.array(x2)),
                         (np.array(1.0), np.array(0.5)))
        assert t == pytest.approx(1.0 - 0.5 * np.round(q), rel=1e-15)


@pytest.mark.parametrize("name", ["remainder", "fmod"])
def test_nan_values_have_nan_derivatives_of_every_order(name):
    # x2 = 0, an infinite x1, a NaN argument: NumPy's NaN, and (README's rule) every
    # derivative NaN; d/dx1 was 1 there, a finite derivative of a NaN value. The entries
    # beside them keep theirs (exact-zero rule).
    f = getattr(gnp, name)
    x = np.array([1.0, np.inf, 3.0, np.nan, 5.0, 7.5])
    y = np.array([0.0, 2.0, 2.0, 2.0, 0.0, np.nan])
    bad = np.isnan(getattr(np, name)(x, y))
    ok = ~bad
    gx, gy = gpuad.grad(lambda a, b: gnp.sum(f(a, b)), argnums=(0, 1))(x, y)
    _, jt = gpuad.jvp(lambda a, b: f(a, b), (x, y), (np.ones(6), np.ones(6)))
    h = gpuad.hessian(lambda a, b: gnp.sum(f(a, b) ** 2), argnums=(0, 1))(x, y)
    hd = [np.diagonal(np.asarray(h[i][j])) for i in range(2) for j in range(2)]
    for v in [gx, gy, np.asarray(jt)] + hd:
        assert np.all(np.isnan(v[bad])), v
        assert np.all(np.isfinite(v[ok])), v
    assert gx[2] == 1.0 and gy[2] == -1.0        # 3 = 1 * 2 + 1 (floor and trunc agree)
