"""NumPy 2's dtypes and values where gpuad.numpy's dtype rules are in play: promotion of
operands and scalars, integer and boolean ``dtype=`` arguments, and the dtypes of
derivatives. Each test walks every function of one kind against NumPy on the same inputs."""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp

X32 = np.array([[-0.5, 0.25, 1.5], [2.0, 3.75, -1.25]], dtype=np.float32)

# Every reduction that takes NumPy's dtype= (keyword and, where NumPy has it there, the
# third positional argument).
DTYPE_REDUCTIONS = ["sum", "prod", "mean", "var", "std", "cumsum", "cumprod", "nansum",
                    "nanprod", "nanmean", "nanvar", "nanstd", "nancumsum", "nancumprod",
                    "trace"]
INTEGRAL = [np.int32, np.int64, np.int8, np.uint8, np.bool_]


def _same(got, want):
    assert np.asarray(got).dtype == np.asarray(want).dtype, (got, want)
    assert isinstance(got, np.ndarray) == isinstance(want, np.ndarray), (type(got), type(want))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("dt", INTEGRAL, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", DTYPE_REDUCTIONS)
@pytest.mark.parametrize("src", [np.float32, np.float64])
def test_integral_dtype_argument_of_reductions(name, dt, src):
    """``sum(x, dtype=int32)`` of a float array is NumPy's integer result (computed in that
    dtype, not promoted to int64, not a float mean), untraced and under a transform; it is
    piecewise constant in x, so its derivative is 0 (not the derivative of the float
    reduction)."""
    x = X32.astype(src)
    npf, gf = getattr(np, name), getattr(gnp, name)
    with np.errstate(all="ignore"):
        try:
            want = npf(x, dtype=dt)
        except TypeError:            # NumPy refuses (nanmean & co. of integer dtypes)
            with pytest.raises(TypeError):
                gf(x, dtype=dt)
            return
        _same(gf(x, dtype=dt), want)
        if name != "trace":          # positional: (a, axis, dtype)
            try:
                want0 = npf(x, 0, dt)
            except TypeError as e:   # (std's sqrt into an integer array)
                with pytest.raises(type(e)):
                    gf(x, 0, dt)
            else:
                _same(gf(x, 0, dt), want0)
        seen = {}

        def f(v):
            r = gf(v, dtype=dt)
            seen["r"] = r
            return gnp.sum(gnp.multiply(v, 0.0)) + 1.0 * gnp.sum(r)
        g = gpuad.grad(f)(x)
        _same(gpuad.core.full_lower(seen["r"]), want)
        assert g.dtype == x.dtype
        np.testing.assert_array_equal(g, np.zeros_like(x))
        _, t = gpuad.jvp(lambda v: gf(v, dtype=dt), (x,), (np.ones_like(x),))
        assert not np.any(np.asarray(t))
