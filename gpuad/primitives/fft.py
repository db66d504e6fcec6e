"""Discrete Fourier transforms: library calls (cuFFT through cupy.fft on a GPU, with CuPy's
plan cache; NumPy's pocketfft on the CPU), all linear, so the JVP is the transform of the
tangent and the VJP its transpose, itself a transform: every order composes.

``fft``    complex -> complex over ``axes``, forward or ``inverse``, NumPy's ``norm``
``rfft``   real -> the Hermitian half spectrum (the last of ``axes`` has n // 2 + 1 bins)
``irfft``  half spectrum -> real, the last axis of length ``n``

Transposes, in the pairing Re sum(g t) of gpuad's convention (JAX's):
- ``fft``: the DFT matrix is symmetric, so the transpose is the same transform, same norm.
- ``rfft``: x -> (F x) restricted to the half spectrum. Its transpose is
  Re(F pad(g)) = irfftn(conj(g) w) with irfftn unscaled, where w = 1 at bin 0 and at the
  Nyquist bin (n even) and 1/2 at the interior bins: irfftn doubles the interior bins of a
  Hermitian half spectrum, and the 1/2 undoes it. The scale of ``norm`` is that of
  irfftn with the swapped norm.
- ``irfft``: its transpose is w' conj(rfftn(h)) with w' = 1 at bin 0 and Nyquist, 2 at the
  interior bins (the doubling above, and the imaginary parts of bins 0 and Nyquist, which
  irfft ignores, get 0), scaled as rfftn with the swapped norm.
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive, bind, register, shape, dtype, full_lower
from .base import xp_of, deflinear, record_library
from .complex import conj
from .elementwise import multiply

SWAP = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def _lane_axes(axes):
    return tuple(a + 1 for a in axes)


def _fft_impl(x, axes, inverse, norm):
    xp = xp_of(x)
    out = (xp.fft.ifftn if inverse else xp.fft.fftn)(x, axes=axes, norm=norm)
    record_library("xp.fft.ifftn" if inverse else "xp.fft.fftn", out, x)
    return out


fft_p = register(deflinear(Primitive(
    "fft", _fft_impl, saves="none",
    doc="complex DFT over `axes` (inverse: the inverse DFT), NumPy's `norm`; cupy.fft/cuFFT"),
    lanes=lambda t, axes, inverse, norm: fft(t, _lane_axes(axes), inverse, norm),
    transpose=lambda g, ins, out, axes, inverse, norm: (fft(g, axes, inverse, norm),)))


def fft(x, axes, inverse=False, norm="backward"):
    """The complex DFT of complex ``x`` over ``axes`` (non-negative, distinct)."""
    if not axes:
        return x
    return bind(fft_p, x, axes=tuple(axes), inverse=bool(inverse), norm=norm)


def half_weights(n, axis, ndim, dt, xp, interior):
    """The constant weights of the half spectrum of length ``n`` (bins 0..n // 2) along
    ``axis`` of an ``ndim``-d array, dtype ``dt``: 1 at bin 0 and at the Nyquist bin (n
    even), ``interior`` at the others."""
    m = n // 2 + 1
    w = np.full(m, interior, dtype=np.float64)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return xp.asarray(w.reshape((m,) + (1,) * (ndim - axis - 1)), dtype=dt)


def _rfft_impl(x, axes, norm):
    xp = xp_of(x)
    out = xp.fft.rfftn(x, axes=axes, norm=norm)
    record_library("xp.fft.rfftn", out, x)
    return out


def _rfft_transpose(g, ins, out, axes, norm):
    x = ins[0]
    n = x.shape[axes[-1]]
    v = full_lower(g)
    w = half_weights(n, axes[-1], len(shape(v)), dtype(v), xp_of(v), 0.5)
    return (irfft(multiply(conj(g), w), axes, n, SWAP[norm]),)


rfft_p = register(deflinear(Primitive(
    "rfft", _rfft_impl, saves="none",
    doc="real-input DFT over `axes`: the half spectrum along the last one; cupy.fft/cuFFT"),
    lanes=lambda t, axes, norm: rfft(t, _lane_axes(axes), norm),
    transpose=_rfft_transpose))


def rfft(x, axes, norm="backward"):
    """The half spectrum of real ``x`` over ``axes`` (non-negative, distinct, non-empty)."""
    return bind(rfft_p, x, axes=tuple(axes), norm=norm)


def _irfft_impl(g, axes, n, norm):
    xp = xp_of(g)
    s = [g.shape[a] for a in axes[:-1]] + [n]
    out = xp.fft.irfftn(g, s=s, axes=axes, norm=norm)
    record_library("xp.fft.irfftn", out, g)
    return out


def _irfft_transpose(h, ins, out, axes, n, norm):
    v = full_lower(h)
    spec = rfft(h, axes, SWAP[norm])
    w = half_weights(n, axes[-1], len(shape(v)), dtype(full_lower(spec)), xp_of(v), 2.0)
    return (multiply(conj(spec), w),)


irfft_p = register(deflinear(Primitive(
    "irfft", _irfft_impl, saves="none",
    doc="the real signal of a Hermitian half spectrum over `axes`, length `n` along the "
        "last (its bins 0..n // 2 are read); cupy.fft/cuFFT"),
    lanes=lambda t, axes, n, norm: irfft(t, _lane_axes(axes), n, norm),
    transpose=_irfft_transpose))


def irfft(g, axes, n, norm="backward"):
    """The real signal of half spectrum ``g`` (``n // 2 + 1`` bins along ``axes[-1]``)."""
    return bind(irfft_p, g, axes=tuple(axes), n=int(n), norm=norm)

