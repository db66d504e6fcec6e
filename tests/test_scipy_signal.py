"""gpuad.scipy.signal beyond the op table (tests/op_table.py, SCIPY_SIGNAL: values against
scipy.signal and derivatives to second order in both modes, both inputs): every mode and
method against SciPy on larger N-d inputs, SciPy's types and errors."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

import gpuad
import gpuad.numpy as gnp
import gpuad.scipy.signal as gss

RNG = np.random.default_rng(5)
PAIRS = [((17,), (6,)), ((6,), (17,)), ((9, 8), (4, 3)), ((3, 4), (9, 8)), ((5, 6, 7), (2, 3, 2)),
         ((8, 3), (3, 3))]


@pytest.mark.parametrize("s1,s2", PAIRS)
@pytest.mark.parametrize("what", ["convolve", "correlate"])
def test_values_every_mode_and_method(s1, s2, what):
    a, v = RNG.standard_normal(s1), RNG.standard_normal(s2)
    for mode in ("full", "same", "valid"):
        if mode == "valid" and not (all(i >= j for i, j in zip(s1, s2))
                                    or all(j >= i for i, j in zip(s1, s2))):
            continue
        ref = getattr(ss, what)(a, v, mode, method="direct")
        for method in ("auto", "direct", "fft"):
            out = getattr(gss, what)(a, v, mode, method=method)
            assert out.shape == ref.shape and out.dtype == np.float64
            # a sum of at most 84 products of N(0,1) numbers: rounding ~ 84 eps |terms|
            np.testing.assert_allclose(out, ref, rtol=0, atol=1e-13)


def test_gradient_is_the_adjoint_correlation():
    # d/d in1 <g, convolve(in1, in2, 'full')> = correlate(g, in2, 'valid')
    a, v = RNG.standard_normal((6, 5)), RNG.standard_normal((3, 2))
    g = RNG.standard_normal((8, 6))
    ga, gv = gpuad.grad(lambda a, v: gnp.sum(gss.convolve(a, v) * g), argnums=(0, 1))(a, v)
    np.testing.assert_allclose(ga, ss.correlate(g, v, "valid"), atol=1e-13)
    np.testing.assert_allclose(gv, ss.correlate(g, a, "valid"), atol=1e-13)


def test_types_and_errors():
    # no traced argument, integers: SciPy's own result and dtype
    out = gss.convolve(np.arange(4), np.arange(3))
    np.testing.assert_array_equal(out, ss.convolve(np.arange(4), np.arange(3)))
    assert out.dtype == np.int64
    assert gss.convolve(np.ones(3, np.float32), np.ones(2, np.float32)).dtype == np.float32
    np.testing.assert_array_equal(gss.convolve(np.array(2.0), np.array(3.0)), 6.0)
    assert gss.convolve(np.ones(0), np.ones(3)).shape == (0,)
    with pytest.raises(ValueError, match="same dimensionality"):
        gss.convolve(np.ones(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least as large"):
        gss.correlate(np.ones((3, 5)), np.ones((5, 3)), "valid")
    with pytest.raises(ValueError, match="mode"):
        gss.convolve(np.ones(3), np.ones(2), "middle")
    with pytest.raises(ValueError, match="method"):
        gss.convolve(np.ones(3), np.ones(2), method="overlap")
    with pytest.raises(TypeError, match="complex"):
        gss.convolve(np.ones(3, complex), np.ones(2))
