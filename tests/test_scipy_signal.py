"""gpuad.scipy.signal beyond the op table (tests/op_table.py, SCIPY_SIGNAL: values against
scipy.signal and derivatives to second order in both modes, both inputs, every mode, both
methods, real and complex): every mode and method against SciPy on larger N-d inputs, real,
complex and mixed; the FFT method's adjoint; which method runs (SciPy's choice for 'auto');
SciPy's types and errors; each on NumPy and on CuPy arrays (``xp``, conftest.py), against
SciPy on host copies."""
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
         ((8, 3), (3, 3)), ((8, 1), (1, 5)), ((16,), (7,))]
KINDS = {"real": (False, False), "complex": (True, True), "mixed": (False, True)}


def _draw(shape, cplx):
    x = RNG.standard_normal(shape)
    return x + 1j * RNG.standard_normal(shape) if cplx else x


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("s1,s2", PAIRS)
@pytest.mark.parametrize("what", ["convolve", "correlate"])
def test_values_every_mode_and_method(s1, s2, what, kind, xp):
    a, v = _draw(s1, KINDS[kind][0]), _draw(s2, KINDS[kind][1])
    for mode in ("full", "same", "valid"):
        if mode == "valid" and not (all(i >= j for i, j in zip(s1, s2))
                                    or all(j >= i for i, j in zip(s1, s2))):
            continue
        ref = getattr(ss, what)(a, v, mode, method="direct")
        for method in ("auto", "direct", "fft"):
            out = getattr(gss, what)(xp.asarray(a), xp.asarray(v), mode, method=method)
            on(xp, out)
            assert out.shape == ref.shape and out.dtype == ref.dtype
            # a sum of at most 84 products of N(0,1) numbers: the direct sum's rounding is
            # ~ 84 eps |terms|; the FFT's ~ eps log2(N) |a| |v| (N <= 504), below 1e-13 too
            close(out, ref, xp, rtol=0, atol=1e-13)


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_gradient_is_the_adjoint_correlation(method, kind, xp):
    # d/d in1 Re<g, convolve(in1, in2, 'full')> = correlate(g, conj(in2), 'valid') (and the
    # same in in2), gpuad's pairing Re sum(g t) without conjugation; by either method
    a, v = _draw((6, 5), KINDS[kind][0]), _draw((3, 2), KINDS[kind][1])
    g = _draw((8, 6), kind != "real")
    gd = xp.asarray(g)
    ga, gv = gpuad.grad(lambda a, v: gnp.real(gnp.sum(gss.convolve(a, v, method=method) * gd)),
                        argnums=(0, 1))(xp.asarray(a), xp.asarray(v))
    want_a = ss.correlate(g, np.conj(v), "valid")
    want_v = ss.correlate(g, np.conj(a), "valid")
    # the gradient of a real function of a real input is real
    close(ga, want_a if np.iscomplexobj(a) else want_a.real, xp, rtol=0, atol=1e-13)
    close(gv, want_v if np.iscomplexobj(v) else want_v.real, xp, rtol=0, atol=1e-13)


def _fft_launches(f, *args):
    with gpuad.profile() as prof:
        f(*args)
    return prof.count(kernel="xp.fft")


@pytest.mark.parametrize("what", ["convolve", "correlate"])
def test_the_method_that_runs(what, xp):
    # 'fft' runs FFTs (three: two forward, one inverse), and differentiates through them;
    # 'direct' runs none; 'auto' runs them exactly where SciPy's chooser says 'fft'
    f = getattr(gss, what)
    a, v = xp.asarray(RNG.standard_normal((12, 12))), xp.asarray(RNG.standard_normal((6, 6)))
    assert _fft_launches(f, a, v, "same", "fft") == 3
    assert _fft_launches(f, a, v, "same", "direct") == 0
    loss = lambda a: gnp.sum(f(a, v, "same", "fft") ** 2)   # noqa: E731
    # reverse: the adjoints of irfftn (an rfftn) and of a's rfftn (an irfftn); in2 is constant
    assert _fft_launches(gpuad.grad(loss), a) == 3 + 2
    for s1, s2 in [((12, 12), (6, 6)), ((300,), (280,)), ((5000,), (4000,)), ((20,), (3,)),
                   ((40, 40), (3, 3)), ((6, 7, 8), (5, 5, 5)), ((3, 3), (30, 30))]:
        x, y = np.zeros(s1), np.zeros(s2)
        for mode in ("full", "same", "valid"):
            want = ss.choose_conv_method(*((y, x) if mode == "valid" and s2 > s1 else (x, y)),
                                         mode)
            got = _fft_launches(f, xp.asarray(x), xp.asarray(y), mode, "auto")
            assert got == (3 if want == "fft" else 0), (s1, s2, mode, want, got)


def test_auto_follows_scipys_model():
    # gss's port of SciPy's operation-count model against scipy.signal.choose_conv_method
    # (float input, measure=False) on random shapes, 1-d to 3-d, every mode
    rng = np.random.default_rng(3)
    chosen = set()
    for _ in range(400):
        nd = int(rng.integers(1, 4))
        hi = [3000, 60, 14][nd - 1]
        s1 = tuple(int(n) for n in rng.integers(1, hi, nd))
        s2 = tuple(int(n) for n in rng.integers(1, hi, nd))
        for mode in ("full", "same", "valid"):
            a, b = np.broadcast_to(0.0, s1), np.broadcast_to(0.0, s2)
            if mode == "valid":
                if not all(i >= j for i, j in zip(s1, s2)):
                    if not all(j >= i for i, j in zip(s1, s2)):
                        continue
                    a, b = b, a                     # SciPy's swap comes before its choice
            want = ss.choose_conv_method(a, b, mode)
            assert gss._fft_faster(a.shape, b.shape, mode) == (want == "fft"), (s1, s2, mode)
            chosen.add(want)
    assert chosen == {"fft", "direct"}


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
    out = gss.correlate(xp.asarray([1.0, 1j]), xp.asarray([1j]), method="fft")
    on(xp, out)
    np.testing.assert_allclose(host(out), [-1j, 1], rtol=0, atol=1e-15)
    assert out.dtype == np.complex128
    out = gss.convolve(xp.ones(3, np.float32), xp.ones(2, np.complex64), method="fft")
    assert out.dtype == np.complex64
