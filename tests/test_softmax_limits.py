"""softmax and log_softmax (gpuad.nn, gpuad.scipy.special) at slices holding +inf take
logsumexp's limit convention (README's conventions table, logsumexp's row): 1 at the +inf
entry, shared evenly by several, 0 elsewhere (log: -log k, -inf), and the derivatives of
that limit s: ``s (t - sum(s t))`` (log: ``t - sum(s t)``). SciPy gives [nan, nan] for
softmax([inf, 1]); exp(x - logsumexp(x)) gave [nan, 0]."""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
import gpuad.scipy.special as gss
from gpuad import nn

FUNS = [
    pytest.param(lambda x, axis=-1: nn.softmax(x, axis=axis), False, id="nn.softmax"),
    pytest.param(lambda x, axis=-1: gss.softmax(x, axis=axis), False, id="special.softmax"),
    pytest.param(lambda x, axis=-1: nn.log_softmax(x, axis=axis), True, id="nn.log_softmax"),
    pytest.param(lambda x, axis=-1: gss.log_softmax(x, axis=axis), True,
                 id="special.log_softmax"),
]
INF = np.inf


def _limit(x, log_):
    """The limit s (or log s) along the last axis, and J t for a tangent t."""
    at = x == INF
    s = at / at.sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        return (np.log(s) if log_ else s), s


@pytest.mark.parametrize("fun,log_", FUNS)
@pytest.mark.parametrize("x", [[INF, 1.0], [1.0, INF, -2.0], [INF, INF, 1.0],
                               [INF, -INF, 0.5, INF]], ids=str)
def test_value_and_first_derivatives(fun, log_, x):
    x = np.array(x)
    want, s = _limit(x, log_)
    np.testing.assert_array_equal(fun(x), want)
    t = np.arange(1.0, x.size + 1)
    jt = t - np.sum(s * t)
    if not log_:
        jt = s * jt
    np.testing.assert_allclose(gpuad.jvp(fun, (x,), (t,))[1], jt, atol=1e-15)
    # reverse: J^T w
    w = np.linspace(-1.0, 2.0, x.size)
    jtw = (w - s * w.sum()) if log_ else s * (w - np.sum(s * w))
    g = gpuad.grad(lambda u: gnp.sum(fun(u) * w))(x)
    np.testing.assert_allclose(g, jtw, atol=1e-15)


@pytest.mark.parametrize("fun,log_", FUNS)
def test_mixed_slices_and_second_order(fun, log_):
    """Only the slices holding +inf take the limit; the others are as before (a 2-d array
    over its last axis), and second derivatives there are the limit's (0 for one +inf
    entry: the limit is constant)."""
    x = np.array([[INF, 1.0, 0.0], [0.5, 1.0, -1.0]])
    out = fun(x)
    want, _ = _limit(x[:1], log_)
    np.testing.assert_array_equal(out[0], want[0])
    reg = x[1] - np.log(np.sum(np.exp(x[1])))
    np.testing.assert_allclose(out[1], reg if log_ else np.exp(reg), rtol=1e-14)
    w = np.array([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])
    f = lambda u: gnp.sum(fun(u) * w)       # noqa: E731
    h = gpuad.hessian(f)(x)
    assert np.isfinite(h).all()
    np.testing.assert_array_equal(h[0, :, 0, :], 0.0)
    xf = x.copy()
    xf[0, 0] = 0.0
    hf = gpuad.hessian(f)(xf)
    np.testing.assert_allclose(h[1, :, 1, :], hf[1, :, 1, :], rtol=1e-13)


@pytest.mark.parametrize("fun,log_", FUNS)
def test_several_inf_forward_over_forward(fun, log_):
    """Several +inf entries: the second derivative of the limit (forward over forward), as
    at a finite tie far out (x = [30, 30, 1])."""
    w = np.array([1.0, 2.0, 3.0])
    f = lambda u: gnp.sum(fun(u) * w)       # noqa: E731
    e = np.array([1.0, 0.0, 0.0])
    second = lambda x: gpuad.jvp(lambda u: gpuad.jvp(f, (u,), (e,))[1], (x,), (e,))[1]  # noqa
    np.testing.assert_allclose(second(np.array([INF, INF, 1.0])),
                               second(np.array([30.0, 30.0, 1.0])), atol=1e-11)


def test_axis_none_and_tuple():
    x = np.array([[INF, 1.0], [0.0, INF]])
    np.testing.assert_array_equal(gss.softmax(x), [[0.5, 0.0], [0.0, 0.5]])
    y = np.array([[[INF], [1.0]], [[2.0], [3.0]]])
    got = nn.softmax(y, axis=(0, 1))
    np.testing.assert_array_equal(got.ravel(), [1.0, 0.0, 0.0, 0.0])
