"""gpuad.numpy.fft: NumPy's values for every transform, n/s padding and cropping, axes and
norm modes; round trips; adjoints (dot-product tests) and second order for every transform,
norm and odd/even length; VJPs against JAX's numbers; compositions (HVPs through FFTs).

The default-norm transforms are also rows of tests/op_table.py. Reference values marked
"JAX" were computed with jax 0.10.2 (x64) on the CPU; JAX is not a dependency.
"""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad.testing import check_grads

NORMS = [None, "backward", "ortho", "forward"]
rng = np.random.default_rng(7)


def real(*s):
    return rng.standard_normal(s)


def cplx(*s):
    return rng.standard_normal(s) + 1j * rng.standard_normal(s)


# (name, gpuad call, NumPy call, input maker) for n odd and even; "n" is the signal length
def cases(n):
    m = n // 2 + 1
    return [
        ("fft", lambda f, a, nm: f.fft(a, norm=nm), lambda: cplx(3, n)),
        ("fft_n_pad", lambda f, a, nm: f.fft(a, n=n + 3, axis=0, norm=nm), lambda: cplx(n, 2)),
        ("fft_n_crop", lambda f, a, nm: f.fft(a, n=n - 2, norm=nm), lambda: cplx(2, n)),
        ("ifft", lambda f, a, nm: f.ifft(a, norm=nm), lambda: cplx(n)),
        ("fft_real_input", lambda f, a, nm: f.fft(a, norm=nm), lambda: real(2, n)),
        ("fft2", lambda f, a, nm: f.fft2(a, norm=nm), lambda: cplx(2, 3, n)),
        ("ifft2_s", lambda f, a, nm: f.ifft2(a, s=(4, n + 1), norm=nm), lambda: cplx(3, n)),
        ("fftn_axes", lambda f, a, nm: f.fftn(a, axes=(0, 2), norm=nm), lambda: cplx(3, 2, n)),
        ("ifftn", lambda f, a, nm: f.ifftn(a, s=(2, n), axes=(0, 1), norm=nm),
         lambda: cplx(3, n)),
        ("rfft", lambda f, a, nm: f.rfft(a, norm=nm), lambda: real(3, n)),
        ("rfft_n_pad", lambda f, a, nm: f.rfft(a, n=n + 1, norm=nm), lambda: real(n)),
        ("rfft_axis0", lambda f, a, nm: f.rfft(a, axis=0, norm=nm), lambda: real(n, 2)),
        ("irfft", lambda f, a, nm: f.irfft(a, n=n, norm=nm), lambda: cplx(2, m)),
        ("irfft_default_n", lambda f, a, nm: f.irfft(a, norm=nm), lambda: cplx(m)),
        ("irfft_crop", lambda f, a, nm: f.irfft(a, n=n - 2, norm=nm), lambda: cplx(m)),
        ("irfft_pad", lambda f, a, nm: f.irfft(a, n=2 * n, axis=0, norm=nm), lambda: cplx(m, 2)),
        ("rfft2", lambda f, a, nm: f.rfft2(a, norm=nm), lambda: real(2, 3, n)),
        ("irfft2", lambda f, a, nm: f.irfft2(a, s=(3, n), norm=nm), lambda: cplx(3, m)),
        ("rfftn_s", lambda f, a, nm: f.rfftn(a, s=(4, n), axes=(0, 1), norm=nm),
         lambda: real(3, n - 1)),
        ("irfftn_axes", lambda f, a, nm: f.irfftn(a, s=(2, n), axes=(2, 0), norm=nm),
         lambda: cplx(m, 3, 2)),
        ("hfft", lambda f, a, nm: f.hfft(a, n=n, norm=nm), lambda: cplx(2, m)),
        ("ihfft", lambda f, a, nm: f.ihfft(a, norm=nm), lambda: real(2, n)),
    ]


ALL = [(n, *c) for n in (5, 6) for c in cases(n)]
IDS = [f"{c[1]}-n{c[0]}" for c in ALL]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n,name,call,make", ALL, ids=IDS)
def test_forward_matches_numpy(n, name, call, make, norm):
    a = make()
    np.testing.assert_allclose(call(gnp.fft, a, norm), call(np.fft, a, norm), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
@pytest.mark.parametrize("n,name,call,make", ALL, ids=IDS)
def test_derivatives_every_transform_norm_and_length(n, name, call, make, norm):
    """JVP against central differences (real and imaginary directions), VJP against JVP by
    the dot-product test (the adjoint transform), to second order."""
    check_grads(lambda a: call(gnp.fft, a, norm), (make(),), order=2)


@pytest.mark.parametrize("dt", [np.float32, np.complex64])
def test_single_precision(dt):
    a = real(4, 6).astype(dt)
    assert gnp.fft.fft(a).dtype == np.complex64 == np.fft.fft(a).dtype
    assert gnp.fft.ifft2(a).dtype == np.complex64
    if dt == np.float32:
        assert gnp.fft.rfft(a).dtype == np.complex64 == np.fft.rfft(a).dtype
        assert gnp.fft.irfft(gnp.fft.rfft(a), 6).dtype == np.float32
    np.testing.assert_allclose(gnp.fft.fft(a), np.fft.fft(a), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [5, 6, 1, 2])
def test_round_trips(n):
    x, z = real(3, n), cplx(3, n)
    for nm in ("backward", "ortho", "forward"):
        np.testing.assert_allclose(gnp.fft.ifft(gnp.fft.fft(z, norm=nm), norm=nm), z,
                                   atol=1e-13)
        np.testing.assert_allclose(gnp.fft.irfft(gnp.fft.rfft(x, norm=nm), n, norm=nm), x,
                                   atol=1e-13)
        np.testing.assert_allclose(gnp.fft.ihfft(gnp.fft.hfft(gnp.fft.ihfft(x), n, norm=nm),
                                                 norm=nm), gnp.fft.ihfft(x), atol=1e-13)
        np.testing.assert_allclose(gnp.fft.irfftn(gnp.fft.rfftn(x, norm=nm), x.shape,
                                                  norm=nm), x, atol=1e-13)
        np.testing.assert_allclose(gnp.fft.ifftn(gnp.fft.fftn(z, norm=nm), norm=nm), z,
                                   atol=1e-13)
        np.testing.assert_allclose(gnp.fft.ifft2(gnp.fft.fft2(z, norm=nm), norm=nm), z,
                                   atol=1e-13)
        np.testing.assert_allclose(gnp.fft.irfft2(gnp.fft.rfft2(x, norm=nm), x.shape,
                                                  norm=nm), x, atol=1e-13)


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
@pytest.mark.parametrize("n", [5, 6])
def test_round_trip_derivatives_are_the_identity(n, norm):
    """The Jacobian of every inverse pair's round trip is the identity: VJP and JVP."""
    x, z = real(2, n), cplx(2, n)
    pairs = [(gnp.fft.fft, gnp.fft.ifft, z), (gnp.fft.rfft, lambda a, norm: gnp.fft.irfft(
        a, n, norm=norm), x), (gnp.fft.fft2, gnp.fft.ifft2, z), (gnp.fft.fftn, gnp.fft.ifftn, z),
        (gnp.fft.rfft2, lambda a, norm: gnp.fft.irfft2(a, (2, n), norm=norm), x),
        (gnp.fft.rfftn, lambda a, norm: gnp.fft.irfftn(a, (2, n), norm=norm), x),
        (lambda a, norm: gnp.fft.hfft(a, n, norm=norm), gnp.fft.ihfft, np.fft.ihfft(x))]
    for fwd, inv, a in pairs:
        f = lambda a: inv(fwd(a, norm=norm), norm=norm)          # noqa: E731
        t = cplx(*a.shape) if a.dtype.kind == "c" else real(*a.shape)
        if fwd is pairs[-1][0]:     # hfft reads a Hermitian half spectrum: tangents are too
            t = np.fft.ihfft(real(2, n))
        np.testing.assert_allclose(gpuad.jvp(f, (a,), (t,))[1], t, atol=1e-12)
        np.testing.assert_allclose(gpuad.vjp(f, a)[1](t)[0], t, atol=1e-12)


def test_vjps_agree_with_jax():
    x = np.arange(5.0)
    g = gpuad.vjp(gnp.fft.rfft, x)[1](np.ones(3) + 1j)[0]
    np.testing.assert_allclose(g, [3.0, 2.03884177, 0.13672874, 0.86327126, -1.03884177],
                               atol=1e-8)                                            # JAX
    c = np.array([1.0 + 0.5j, -0.3 + 2j, 0.7 - 1j])
    g = gpuad.vjp(lambda c: gnp.fft.irfft(c, n=4, norm="ortho"), c)[1](np.arange(4.0) + 1)[0]
    np.testing.assert_allclose(g, [5.0, -2.0 - 2.0j, -1.0], atol=1e-12)               # JAX
    g = gpuad.vjp(lambda c: gnp.fft.irfft(c, n=5, norm="ortho"), c)[1](np.arange(5.0) + 1)[0]
    np.testing.assert_allclose(g, [6.70820393, -2.23606798 - 3.07768354j,
                                   -2.23606798 - 0.72654253j], atol=1e-8)             # JAX
    g = gpuad.vjp(lambda c: gnp.fft.hfft(c, n=5), c)[1](np.arange(5.0))[0]
    np.testing.assert_allclose(g, [10.0, -5.0 + 6.8819096j, -5.0 + 1.62459848j], atol=1e-7)
    x = np.array([0.5, -1.0, 2.0, 0.25, 1.5, -0.75])
    g = gpuad.vjp(lambda x: gnp.fft.rfft(x, norm="forward"), x)[1](
        np.array([1 + 1j, 2 - 1j, 0.5j, -1.0]))[0]
    np.testing.assert_allclose(g, [0.33333333, 0.42783122, -0.38317302, 0.0, 0.04983968,
                                   0.57216878], atol=1e-8)                          # JAX


def test_compositions_and_hvp_through_ffts():
    """Every transform after every transform: a spectral-derivative loss, its HVP (one
    batched sweep) against finite differences of the gradient."""
    n = 8
    k = 2j * np.pi * np.fft.rfftfreq(n)

    def f(x):
        u = gnp.fft.irfft(k * gnp.fft.rfft(x), n)               # d/dx, spectrally
        w = gnp.fft.ifft(gnp.fft.fft(x * u) * np.exp(-np.arange(n) / n))
        return gnp.sum(gnp.abs(w) ** 2) + gnp.sum(gnp.fft.hfft(gnp.fft.ihfft(u)) ** 4)
    x = np.sin(np.linspace(0, 2 * np.pi, n, endpoint=False)) + 0.3 * real(n)
    check_grads(f, (x,), order=2)
    V = real(3, n)
    H = gpuad.hvp(f, x, V, batched=True)
    g = gpuad.grad(f)
    for j in range(3):
        fd = (g(x + 1e-6 * V[j]) - g(x - 1e-6 * V[j])) / 2e-6
        np.testing.assert_allclose(H[j], fd, rtol=1e-5, atol=1e-5)


def test_grad_of_real_loss_of_complex_spectrum():
    z = cplx(6)
    g = gpuad.grad(lambda z: gnp.sum(gnp.abs(gnp.fft.fft(z)) ** 2))(z)
    np.testing.assert_allclose(g, 2 * 6 * np.conj(z), rtol=1e-12)      # Parseval


def test_shifts_and_frequencies():
    for s in [(5,), (4, 6), (3, 4, 5)]:
        x = real(*s)
        np.testing.assert_array_equal(gnp.fft.fftshift(x), np.fft.fftshift(x))
        np.testing.assert_array_equal(gnp.fft.ifftshift(x), np.fft.ifftshift(x))
        np.testing.assert_array_equal(gnp.fft.fftshift(x, axes=0), np.fft.fftshift(x, axes=0))
    check_grads(lambda x: gnp.fft.fftshift(x, axes=(0, 1)) * x, (real(3, 4),), order=2)
    np.testing.assert_array_equal(gnp.fft.fftfreq(7, 0.5), np.fft.fftfreq(7, 0.5))
    np.testing.assert_array_equal(gnp.fft.rfftfreq(8, 0.1), np.fft.rfftfreq(8, 0.1))
    d = 0.3    # differentiable in a traced spacing: d/dd (k / (n d)) = -k / (n d^2)
    g = gpuad.grad(lambda d: gnp.sum(gnp.fft.fftfreq(6, d) ** 2))(d)
    f = np.fft.fftfreq(6, 1.0)
    assert g == pytest.approx(np.sum(-2 * f ** 2 / d ** 3))
    with pytest.raises(np.exceptions.AxisError):
        gnp.fft.fftshift(real(3), axes=1)


def test_every_function_documents_its_math():
    # the docstrings' examples run in tests/test_docstrings.py; here: each public function
    # has one, its derivative rule and its errors, and no shared paragraph is left unfilled
    import re
    for name in gnp.fft.__all__:
        doc = getattr(gnp.fft, name).__doc__
        for part in (">>>", "Derivative", "rror", "Shape", f"numpy.fft.{name}"):
            assert part in doc, (name, part)
        assert not re.search(r"\{[a-z0-9]+\}", doc), name


def test_errors_as_numpy():
    with pytest.raises(TypeError, match="complex"):
        gnp.fft.rfft(cplx(4))
    with pytest.raises(ValueError, match="norm"):
        gnp.fft.fft(real(4), norm="unitary")
    with pytest.raises(ValueError, match="Invalid number of FFT data points"):
        gnp.fft.fft(real(4), n=0)


@pytest.mark.parametrize("src", [np.float32, np.float64, np.complex64, np.int64])
@pytest.mark.parametrize("name,kw", [("fftn", {"axes": []}), ("ifftn", {"axes": ()}),
                                     ("fft2", {"axes": []}), ("ifft2", {"axes": ()}),
                                     ("fftn", {"axes": [], "s": []})],
                         ids=lambda v: str(v))
def test_no_axes_returns_the_input_as_numpy(name, kw, src):
    """An n-d complex transform over no axis (axes=[], s=[]) is NumPy's identity: the
    input with its own dtype (a real array was made complex); under grad and jvp the
    identity, derivative 1 (central differences of the real input)."""
    x = (np.arange(6.0).reshape(2, 3) - 2.5).astype(src)
    want, got = getattr(np.fft, name)(x, **kw), getattr(gnp.fft, name)(x, **kw)
    assert type(got) is type(want) and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    if src in (np.float32, np.float64):
        f = lambda v: gnp.sum(gnp.sin(getattr(gnp.fft, name)(v, **kw)))
        g = gpuad.grad(f)(x)
        assert g.dtype == x.dtype
        h = 1e-3 if src is np.float32 else 1e-6
        fd = (np.sin(x.astype(float) + h) - np.sin(x.astype(float) - h)) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-4 if src is np.float32 else 1e-7)
        out, t = gpuad.jvp(lambda v: getattr(gnp.fft, name)(v, **kw), (x,), (np.ones_like(x),))
        assert out.dtype == t.dtype == x.dtype
        np.testing.assert_array_equal(t, np.ones_like(x))
    # a 0-d input has no axis either
    np.testing.assert_array_equal(gnp.fft.fftn(np.float32(2.0)), np.fft.fftn(np.float32(2.0)))
    assert gnp.fft.ifftn(np.float32(2.0)).dtype == np.float32


@pytest.mark.parametrize("name", ["rfftn", "irfftn", "rfft2", "irfft2"])
def test_real_transforms_refuse_no_axes(name):
    """The real transforms need an axis (NumPy fails with an IndexError): a ValueError that
    names the function."""
    with pytest.raises(IndexError):
        getattr(np.fft, name)(real(2, 3), axes=[])
    with pytest.raises(ValueError, match=f"{name}: at least one axis is needed"):
        getattr(gnp.fft, name)(real(2, 3), axes=[])
