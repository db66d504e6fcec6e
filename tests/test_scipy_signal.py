"""gpuad.scipy.signal beyond the op table (tests/op_table.py, SCIPY_SIGNAL: values against
scipy.signal and derivatives to second order in both modes, both inputs): every mode and
method against SciPy on larger N-d inputs, SciPy's types and errors; each on NumPy and on
CuPy arrays (``xp``, conftest.py), against SciPy on host copies."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

import gpuad
import gpuad.numpy as gnp
import gpuad.scipy.signal as gss

from _xp import close, host, on

RNG = np.random.default_rng(5)
PAIRS = [((17,), (6,)), ((6,), (17,)), ((9, 8), (4, 3)), ((3, 4), (9, 8)), ((5, 6, 7), (2, 3, 2)),
         ((8, 3), (3, 3))]


@pytest.mark.parametrize("s1,s2", PAIRS)
@pytest.mark.parametrize("what", ["convolve", "correlate"])
def test_values_every_mode_and_method(s1, s2, what, xp):
    a, v = RNG.standard_normal(s1), RNG.standard_normal(s2)
    for mode in ("full", "same", "valid"):
        if mode == "valid" and not (all(i >= j for i, j in zip(s1, s2))
                                    or all(j >= i for i, j in zip(s1, s2))):
            continue
        ref = getattr(ss, what)(a, v, mode, method="direct")
        for method in ("auto", "direct", "fft"):
            out = getattr(gss, what)(xp.asarray(a), xp.asarray(v), mode, method=method)
            assert out.shape == ref.shape and out.dtype == np.float64
            # a sum of at most 84 products of N(0,1) numbers: rounding ~ 84 eps |terms|
            close(out, ref, xp, rtol=0, atol=1e-13)


def test_gradient_is_the_adjoint_correlation(xp):
    # d/d in1 <g, convolve(in1, in2, 'full')> = correlate(g, in2, 'valid')
    a, v = RNG.standard_normal((6, 5)), RNG.standard_normal((3, 2))
    g = RNG.standard_normal((8, 6))
    gd = xp.asarray(g)
    ga, gv = gpuad.grad(lambda a, v: gnp.sum(gss.convolve(a, v) * gd), argnums=(0, 1))(
        xp.asarray(a), xp.asarray(v))
    close(ga, ss.correlate(g, v, "valid"), xp, rtol=0, atol=1e-13)
    close(gv, ss.correlate(g, a, "valid"), xp, rtol=0, atol=1e-13)


def test_types_and_errors(xp):
    # no traced argument, integers: SciPy's (cupyx.scipy.signal's) own result and dtype
    out = gss.convolve(xp.arange(4), xp.arange(3))
    on(xp, out)
    np.testing.assert_array_equal(host(out), ss.convolve(np.arange(4), np.arange(3)))
    assert out.dtype == np.int64
    ref = ss.correlate(np.arange(12).reshape(3, 4), np.arange(4).reshape(2, 2), "same")
    out = gss.correlate(xp.arange(12).reshape(3, 4), xp.arange(4).reshape(2, 2), "same")
    on(xp, out)
    np.testing.assert_array_equal(host(out), ref)
    out = gss.convolve([1, 2, 3], xp.asarray([0, 1]))       # a list with an array
    on(xp, out)
    np.testing.assert_array_equal(host(out), [0, 1, 2, 3])
    out = gss.convolve(xp.ones(3, np.float32), xp.ones(2, np.float32))
    on(xp, out)
    assert out.dtype == np.float32
    out = gss.convolve(xp.asarray(2.0), xp.asarray(3.0))
    on(xp, out)
    np.testing.assert_array_equal(host(out), 6.0)
    out = gss.convolve(xp.ones(0), xp.ones(3))
    on(xp, out)
    assert out.shape == (0,)
    with pytest.raises(ValueError, match="same dimensionality"):
        gss.convolve(xp.ones(3), xp.ones((2, 2)))
    with pytest.raises(ValueError, match="at least as large"):
        gss.correlate(xp.ones((3, 5)), xp.ones((5, 3)), "valid")
    with pytest.raises(ValueError, match="mode"):
        gss.convolve(xp.ones(3), xp.ones(2), "middle")
    with pytest.raises(ValueError, match="method"):
        gss.convolve(xp.ones(3), xp.ones(2), method="overlap")
    with pytest.raises(TypeError, match="complex"):
        gss.convolve(xp.ones(3, complex), xp.ones(2))
