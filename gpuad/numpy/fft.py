"""gpuad.numpy.fft: differentiable counterparts of ``numpy.fft`` (cuFFT through
``cupy.fft`` on a GPU, with CuPy's plan cache; NumPy's pocketfft on the CPU).

The transforms are linear: a JVP is the transform of the tangent, a VJP the adjoint
transform in gpuad's pairing ``Re sum(g t)`` (JAX's convention), with the weights of the
Hermitian half spectrum for the real transforms (gpuad/primitives/fft.py derives them), so
every transform composes with every transform to any order (HVPs through FFTs).
Signatures, ``n``/``s`` (zero padding or cropping before the transform; for the inverse
real transforms, of the half spectrum to ``n // 2 + 1`` bins), ``axis``/``axes`` and the
three ``norm`` modes ("backward", the default; "ortho"; "forward") are NumPy's. Dtypes:
complex64 results from float32/complex64 input, complex128 otherwise (the real
transforms' outputs float32/float64), as NumPy 2 and CuPy.
"""

import numpy as _np

from ..core import Tracer as _Tracer, full_lower as _lower
from ..primitives import base as _base, fft as _F, indexing as _I
from ..primitives import complex as _CX
from ._core import prepare as _prepare, shape as _shape
from ._elementwise import divide as _divide
from ._shape import roll as _roll

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2",
           "irfft2", "rfftn", "irfftn", "hfft", "ihfft", "fftshift", "ifftshift", "fftfreq",
           "rfftfreq"]


def _norm(norm):
    if norm is None:
        return "backward"
    if norm not in ("backward", "ortho", "forward"):
        raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or '
                         '"forward".')
    return norm


def _complex(a):
    """``a`` as a complex array: complex64 for float32/complex64, else complex128."""
    (a,), _ = _prepare(a)
    return _base.astype(a, _base.complex_dtype(_base.dtype(a)))


def _real(a, what):
    (a,), _ = _prepare(a)
    if _np.dtype(_base.dtype(a)).kind == "c":
        raise TypeError(f"{what}: the input is complex ({_base.dtype(a)}); the real "
                        "transforms take real input (NumPy's too): use fft, or pass the real "
                        "part")
    return a


def _axes_sizes(a, s, axes, what, inverse_real=False):
    """NumPy's (sizes, axes) of an n-d transform: ``axes`` default to the last len(s) axes
    (all without ``s``), ``s`` to the input's sizes (for the inverse real transforms, the
    last to 2 (m - 1)); -1 in ``s`` keeps an axis' size."""
    nd = len(_shape(a))
    if s is not None and _np.ndim(s) == 0:
        raise TypeError(f"{what}: s must be a sequence of integers")
    if axes is None:
        axes = range(nd - len(s), nd) if s is not None else range(nd)
    axes = [int(ax) for ax in axes]
    for ax in axes:
        if not -nd <= ax < nd:
            raise _np.exceptions.AxisError(f"axis {ax} is out of bounds for array of "
                                           f"dimension {nd}")
    axes = [ax % nd for ax in axes]
    if s is None:
        s = [_shape(a)[ax] for ax in axes]
        if inverse_real and axes:
            s[-1] = 2 * (s[-1] - 1)
    s = list(s)
    if len(s) != len(axes):
        raise ValueError(f"{what}: shape and axes have different lengths")
    s = [(2 * (_shape(a)[ax] - 1) if inverse_real and i == len(axes) - 1 else _shape(a)[ax])
         if n in (-1, None) else int(n) for i, (n, ax) in enumerate(zip(s, axes))]
    for n in s:
        if n < 1:
            raise ValueError(f"Invalid number of FFT data points ({n}) specified.")
    return s, axes


def _fit(a, axis, n):
    """``a`` cropped or zero-padded to ``n`` entries along ``axis`` (NumPy's ``n``/``s``)."""
    have = _shape(a)[axis]
    if have == n:
        return a
    if have > n:
        return _I.getitem(a, (), (slice(None),) * axis + (slice(0, n),))
    v = _lower(a)
    pad = list(_shape(a))
    pad[axis] = n - have
    zeros = _base.xp_of(v).zeros(tuple(pad), dtype=v.dtype)
    return _I.concatenate([a, zeros], axis)


def _c2c(a, s, axes, norm, inverse, what):
    a = _complex(a)
    s, axes = _axes_sizes(a, s, axes, what)
    if len(set(axes)) != len(axes):
        # NumPy transforms a repeated axis once per mention: in turn, one axis at a time.
        for n, ax in zip(s[::-1], axes[::-1]):
            a = _F.fft(_fit(a, ax, n), (ax,), inverse, _norm(norm))
        return a
    for n, ax in zip(s, axes):
        a = _fit(a, ax, n)
    return _F.fft(a, axes, inverse, _norm(norm))


def _r2c(a, s, axes, norm, what):
    a = _real(a, what)
    s, axes = _axes_sizes(a, s, axes, what)
    if not axes:
        raise ValueError(f"{what}: at least one axis is needed")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{what}: repeated axes are not supported")
    for n, ax in zip(s, axes):
        a = _fit(a, ax, n)
    return _F.rfft(a, axes, _norm(norm))


def _c2r(a, s, axes, norm, what):
    a = _complex(a)
    s, axes = _axes_sizes(a, s, axes, what, inverse_real=True)
    if not axes:
        raise ValueError(f"{what}: at least one axis is needed")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{what}: repeated axes are not supported")
    for n, ax in zip(s[:-1], axes[:-1]):
        a = _fit(a, ax, n)
    a = _fit(a, axes[-1], s[-1] // 2 + 1)
    return _F.irfft(a, axes, s[-1], _norm(norm))


def _one(n):
    return None if n is None else [n]


# ------------------------------------------------------------------ complex transforms

def fft(a, n=None, axis=-1, norm=None):
    """The 1-d discrete Fourier transform ``A[k] = sum_m a[m] exp(-2 pi i m k / n)``
    along ``axis``, like ``numpy.fft.fft`` (``n``: crop or zero-pad the input first;
    ``norm``: "backward" unscaled, "ortho" 1/sqrt(n), "forward" 1/n).

    Linear: JVP ``fft(t)``, VJP ``fft(g)`` (the DFT matrix is symmetric).

    Example::

        >>> gnp.fft.fft(np.array([1.0, 2.0, 0.0, 0.0]))
        array([ 3.+0.j,  1.-2.j, -1.+0.j,  1.+2.j])
    """
    return _c2c(a, _one(n), [axis], norm, False, "fft")


def ifft(a, n=None, axis=-1, norm=None):
    """The inverse of :func:`fft` along ``axis``, like ``numpy.fft.ifft``
    (``a[m] = (1/n) sum_k A[k] exp(2 pi i m k / n)`` with the default norm)."""
    return _c2c(a, _one(n), [axis], norm, True, "ifft")


def fftn(a, s=None, axes=None, norm=None):
    """The n-d DFT over ``axes`` (default: the last ``len(s)`` axes, or all), each
    cropped or zero-padded to ``s``, like ``numpy.fft.fftn``."""
    return _c2c(a, s, axes, norm, False, "fftn")


def ifftn(a, s=None, axes=None, norm=None):
    """The n-d inverse DFT, like ``numpy.fft.ifftn``."""
    return _c2c(a, s, axes, norm, True, "ifftn")


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """The 2-d DFT over ``axes`` (the last two), like ``numpy.fft.fft2``."""
    return _c2c(a, s, axes, norm, False, "fft2")


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """The 2-d inverse DFT, like ``numpy.fft.ifft2``."""
    return _c2c(a, s, axes, norm, True, "ifft2")


# ------------------------------------------------------------------ real transforms

def rfft(a, n=None, axis=-1, norm=None):
    """The DFT of a real signal, bins ``0 .. n // 2`` (the others are their conjugates),
    like ``numpy.fft.rfft``. Complex input raises TypeError (as NumPy).

    Linear; its VJP is the adjoint of the half spectrum: ``irfft`` of ``conj(g)`` with the
    interior bins halved, unscaled (the weights are in gpuad/primitives/fft.py), so
    ``vjp(rfft)`` agrees with JAX's for every ``n``, odd or even, and every norm.

    Example::

        >>> gpuad.vjp(gnp.fft.rfft, np.arange(5.0))[1](np.ones(3) + 1j)[0].round(6)
        array([ 3.      ,  2.038842,  0.136729,  0.863271, -1.038842])
    """
    return _r2c(a, _one(n), [axis], norm, "rfft")


def irfft(a, n=None, axis=-1, norm=None):
    """The real signal of length ``n`` (default ``2 (m - 1)`` for ``m`` bins) whose
    half spectrum is ``a``, like ``numpy.fft.irfft``: the bins ``0 .. n // 2`` are read
    (``a`` cropped or zero-padded to them), the imaginary parts of bin 0 and of the
    Nyquist bin (``n`` even) are ignored (their derivative is 0).

    Linear; VJP ``w conj(rfft(g))`` with ``w`` 2 at the interior bins and 1 at bins 0
    and Nyquist, in the scale of the swapped norm."""
    return _c2r(a, _one(n), [axis], norm, "irfft")


def rfftn(a, s=None, axes=None, norm=None):
    """The n-d DFT of a real array, the half spectrum along the last of ``axes``, like
    ``numpy.fft.rfftn``."""
    return _r2c(a, s, axes, norm, "rfftn")


def irfftn(a, s=None, axes=None, norm=None):
    """The inverse of :func:`rfftn`, like ``numpy.fft.irfftn`` (``s[-1]`` defaults to
    ``2 (m - 1)``)."""
    return _c2r(a, s, axes, norm, "irfftn")


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """The 2-d :func:`rfftn` over the last two axes, like ``numpy.fft.rfft2``."""
    return _r2c(a, s, axes, norm, "rfft2")


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """The 2-d :func:`irfftn`, like ``numpy.fft.irfft2``."""
    return _c2r(a, s, axes, norm, "irfft2")


# ------------------------------------------------------------------ Hermitian transforms

def hfft(a, n=None, axis=-1, norm=None):
    """The real spectrum of a signal with Hermitian symmetry given by its first half
    ``a``, like ``numpy.fft.hfft``: ``irfft(conj(a), n)`` in the swapped norm (default
    ``n = 2 (m - 1)``)."""
    return _c2r(_CX.conj(_complex(a)), _one(n), [axis], _F.SWAP[_norm(norm)], "hfft")


def ihfft(a, n=None, axis=-1, norm=None):
    """The inverse of :func:`hfft` for a real signal, like ``numpy.fft.ihfft``:
    ``conj(rfft(a, n))`` in the swapped norm."""
    return _CX.conj(_r2c(a, _one(n), [axis], _F.SWAP[_norm(norm)], "ihfft"))


# ------------------------------------------------------------------ helpers

def fftshift(x, axes=None):
    """The zero-frequency bin moved to the centre (a roll by ``n // 2`` along each axis),
    like ``numpy.fft.fftshift``; linear (a permutation)."""
    (x,), _ = _prepare(x)
    axes = range(len(_shape(x))) if axes is None else \
        ((axes,) if _np.ndim(axes) == 0 else axes)
    axes = tuple(axes)
    return _roll(x, [_shape(x)[ax] // 2 for ax in axes], axes) if axes else x


def ifftshift(x, axes=None):
    """The inverse of :func:`fftshift` (a roll by ``-(n // 2)``), like
    ``numpy.fft.ifftshift``."""
    (x,), _ = _prepare(x)
    axes = range(len(_shape(x))) if axes is None else \
        ((axes,) if _np.ndim(axes) == 0 else axes)
    axes = tuple(axes)
    return _roll(x, [-(_shape(x)[ax] // 2) for ax in axes], axes) if axes else x


def _freq(name, n, d, device):
    if isinstance(d, _Tracer):        # differentiable in the sample spacing: k / (n d)
        xp = _base.xp_of(d)
        return _divide(getattr(xp.fft, name)(n, 1.0), d)
    xp = _base.xp_of(d) if hasattr(d, "shape") else _np
    if xp is _np:
        return getattr(_np.fft, name)(n, d, device=device)
    return getattr(xp.fft, name)(n, d)


def fftfreq(n, d=1.0, device=None):
    """The sample frequencies ``[0, 1, ..., n/2 - 1, -n/2, ..., -1] / (d n)`` of an
    ``fft`` of length ``n``, like ``numpy.fft.fftfreq`` (a CuPy array when ``d`` is one);
    differentiable in a traced spacing ``d``."""
    return _freq("fftfreq", n, d, device)


def rfftfreq(n, d=1.0, device=None):
    """The sample frequencies ``[0, 1, ..., n // 2] / (d n)`` of an ``rfft`` of length
    ``n``, like ``numpy.fft.rfftfreq``; differentiable in a traced spacing ``d``."""
    return _freq("rfftfreq", n, d, device)
