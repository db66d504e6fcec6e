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
