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
    if not _axes_sizes(a, s, axes, what)[1]:
        # No axis to transform (axes=[], s=[], a 0-d input): NumPy returns the input as
        # it is (its dtype, real or integer; norm unread), as its loop over axes does.
        return a if isinstance(a, _Tracer) else _base.xp_of(a).asarray(a)
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


# The paragraphs every transform's docstring shares ({name} fields, filled by _doc).
_SHARED = {
    "dft": """Definition: along an axis of length n the DFT is

        A[k] = sum_{m=0}^{n-1} a[m] exp(-2 pi i m k / n),   k = 0 .. n-1,

    and its inverse a[m] = (1/n) sum_{k=0}^{n-1} A[k] exp(+2 pi i m k / n); an n-d
    transform applies the 1-d one along each of its axes.""",
    "norm": """``norm``: "backward" (the default; also None) leaves the forward transform
    unscaled and divides the inverse by n; "ortho" divides both by sqrt(n); "forward"
    divides the forward transform by n and leaves the inverse unscaled (n: the product of
    the transformed lengths). Any other value raises ValueError.""",
    "n": """``n``: the input is cropped or zero-padded to n entries along ``axis`` before
    the transform (default: its length there). Errors: n < 1 raises ValueError, an
    ``axis`` out of range numpy.exceptions.AxisError.""",
    "s": """``s``/``axes``: ``axes`` default to the last len(s) axes (all of them without
    ``s``); the input is cropped or zero-padded to ``s[i]`` entries along ``axes[i]``
    (-1 or None keeps the length). Errors: ValueError when ``s`` and ``axes`` differ in
    length or an entry of ``s`` is < 1, TypeError for a scalar ``s``,
    numpy.exceptions.AxisError for an axis out of range.""",
    "cdtype": """Dtypes: complex64 for float32 and complex64 input, complex128 otherwise
    (float64, integers, complex128), as NumPy 2 and CuPy; real input is made complex
    first.""",
    "c2c": """Derivative: linear, so the JVP is the same transform of the tangent. The DFT
    matrix is symmetric, so in gpuad's pairing ``Re sum(g t)`` (JAX's convention, no
    conjugation) the VJP is the same transform of the cotangent, with the same norm.
    Every order, both modes; there are no nondifferentiable points.""",
    "rdtype": """Dtypes: real input only (complex input raises TypeError, as NumPy's:
    use the complex transform, or pass the real part); complex64 from float32, complex128
    from float64 and integers.""",
    "r2c": """Derivative: linear; the JVP is the transform of the tangent. The VJP is the
    transpose of keeping bins 0 .. n // 2: ``gx[m] = c Re sum_{k=0}^{n//2} g[k]
    exp(-2 pi i m k / n)`` (c the norm's forward scale) along the half-spectrum axis,
    the complex transform's transpose along the others; it is computed as an unscaled
    inverse real transform of ``conj(g)`` with the interior bins halved (the Hermitian
    weights undo the inverse's doubling), for n odd and even, padded and cropped
    (Hermitian half spectra: gpuad/primitives/fft.py). Every order, both modes.""",
    "c2r": """Only bins 0 .. n // 2 of the last axis are read (the half spectrum is cropped
    or zero-padded to them); along it the result is

        out[m] = c (Re A[0] + 2 sum_{0<k<n/2} Re(A[k] exp(2 pi i m k / n))
                    + (-1)^m Re A[n/2] [n even])

    with c the norm's inverse scale, so the imaginary parts of bin 0 and of the
    Nyquist bin (n even) are ignored. Dtypes: float32 from float32/complex64 input,
    float64 otherwise.

    Derivative: linear; the JVP is the transform of the tangent, the VJP
    ``gA[k] = c w[k] conj(rfft(g))[k]`` with the Hermitian weights w = 1 at bin 0 and at
    the Nyquist bin, 2 at the others (so the ignored imaginary parts get derivative 0),
    the complex transform's transpose along the other axes. Every order, both modes.""",
}


def _out(f):
    """NumPy 2's ``out=`` of a transform: NumPy's own call (it writes into ``out``) without
    traced arguments, a TypeError naming the function on traced ones."""
    import functools
    from ._core import numpy_out

    @functools.wraps(f)
    def g(a, *args, out=None, **kwargs):
        if out is None:
            return f(a, *args, **kwargs)
        return numpy_out(f.__name__, (a, *args), dict(kwargs, out=out), _np.fft)
    return g


def _doc(f):
    """Fill ``f``'s docstring's {fields} with the shared paragraphs."""
    f.__doc__ = f.__doc__.format(**_SHARED)
    return f


# ------------------------------------------------------------------ complex transforms

@_out
@_doc
def fft(a, n=None, axis=-1, norm=None):
    """The 1-d discrete Fourier transform along ``axis``, like ``numpy.fft.fft``.

    {dft}

    Shape: ``a``'s, with ``n`` entries along ``axis``. {n}
    {norm}
    {cdtype}

    {c2c}

    Example::

        >>> gnp.fft.fft(np.array([1.0, 2.0, 0.0, 0.0]))
        array([ 3.+0.j,  1.-2.j, -1.+0.j,  1.+2.j])
        >>> gpuad.vjp(gnp.fft.fft, np.array([1.0, 2.0, 0.0, 0.0]) + 0j)[1](
        ...     np.array([1.0, 0.0, 0.0, 0.0]) + 0j)[0]       # the adjoint: fft(g)
        array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    return _c2c(a, _one(n), [axis], norm, False, "fft")


@_out
@_doc
def ifft(a, n=None, axis=-1, norm=None):
    """The 1-d inverse DFT along ``axis``, like ``numpy.fft.ifft``: with the default
    norm ``a[m] = (1/n) sum_k A[k] exp(2 pi i m k / n)``, so ``ifft(fft(a)) == a``.

    {dft}

    Shape: ``a``'s, with ``n`` entries along ``axis``. {n}
    {norm}
    {cdtype}

    {c2c}

    Example::

        >>> gnp.fft.ifft(np.array([3.0, 1 - 2j, -1.0, 1 + 2j]))
        array([1.+0.j, 2.+0.j, 0.+0.j, 0.+0.j])
    """
    return _c2c(a, _one(n), [axis], norm, True, "ifft")


@_out
@_doc
def fftn(a, s=None, axes=None, norm=None):
    """The n-d DFT over ``axes``, like ``numpy.fft.fftn`` (a repeated axis is transformed
    once per mention, as NumPy does).

    {dft}

    Shape: ``a``'s, with ``s[i]`` entries along ``axes[i]``. {s}
    {norm}
    {cdtype}

    {c2c}

    Example::

        >>> gnp.fft.fftn(np.ones((2, 2, 2)), axes=(0, 1))[:, :, 0]
        array([[4.+0.j, 0.+0.j],
               [0.+0.j, 0.+0.j]])
    """
    return _c2c(a, s, axes, norm, False, "fftn")


@_out
@_doc
def ifftn(a, s=None, axes=None, norm=None):
    """The n-d inverse DFT over ``axes``, like ``numpy.fft.ifftn``.

    {dft}

    Shape: ``a``'s, with ``s[i]`` entries along ``axes[i]``. {s}
    {norm}
    {cdtype}

    {c2c}

    Example::

        >>> gnp.fft.ifftn(np.array([[4.0, 0.0], [0.0, 0.0]]))
        array([[1.+0.j, 1.+0.j],
               [1.+0.j, 1.+0.j]])
    """
    return _c2c(a, s, axes, norm, True, "ifftn")


@_out
@_doc
def fft2(a, s=None, axes=(-2, -1), norm=None):
    """The 2-d DFT, :func:`fftn` over ``axes`` (the last two by default), like
    ``numpy.fft.fft2``.

    {dft}

    Shape: ``a``'s, with ``s[i]`` entries along ``axes[i]``. {s}
    {norm}
    {cdtype}

    {c2c}

    Example::

        >>> gnp.fft.fft2(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([[10.+0.j, -2.+0.j],
               [-4.+0.j,  0.+0.j]])
    """
    return _c2c(a, s, axes, norm, False, "fft2")


@_out
@_doc
def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """The 2-d inverse DFT, :func:`ifftn` over ``axes`` (the last two by default), like
    ``numpy.fft.ifft2``.

    {dft}

    Shape: ``a``'s, with ``s[i]`` entries along ``axes[i]``. {s}
    {norm}
    {cdtype}

    {c2c}

    Example::

        >>> gnp.fft.ifft2(np.array([[10.0, -2.0], [-4.0, 0.0]]))
        array([[1.+0.j, 2.+0.j],
               [3.+0.j, 4.+0.j]])
    """
    return _c2c(a, s, axes, norm, True, "ifft2")


# ------------------------------------------------------------------ real transforms

@_out
@_doc
def rfft(a, n=None, axis=-1, norm=None):
    """The DFT of a real signal along ``axis``, bins ``0 .. n // 2`` only (the others are
    their conjugates, ``A[n - k] = conj(A[k])``), like ``numpy.fft.rfft``.

    {dft}

    Shape: ``a``'s, with ``n // 2 + 1`` bins along ``axis``. {n}
    {norm}
    {rdtype}

    {r2c}

    Example::

        >>> gnp.fft.rfft(np.array([1.0, 2.0, 0.0, 0.0]))
        array([ 3.+0.j,  1.-2.j, -1.+0.j])
        >>> gpuad.vjp(gnp.fft.rfft, np.arange(5.0))[1](np.ones(3) + 1j)[0].round(6)
        array([ 3.      ,  2.038842,  0.136729,  0.863271, -1.038842])
    """
    return _r2c(a, _one(n), [axis], norm, "rfft")


@_out
@_doc
def irfft(a, n=None, axis=-1, norm=None):
    """The real signal of length ``n`` whose half spectrum along ``axis`` is ``a``, the
    inverse of :func:`rfft`, like ``numpy.fft.irfft``; ``n`` defaults to ``2 (m - 1)``
    for ``m`` bins (pass ``n`` for odd lengths).

    {dft}

    Shape: ``a``'s, with ``n`` entries along ``axis``. Errors: n < 1 (also the default
    for m = 1) raises ValueError, an ``axis`` out of range numpy.exceptions.AxisError.
    {norm}

    {c2r}

    Example::

        >>> gnp.fft.irfft(np.array([3.0, 1 - 2j, -1.0]))
        array([1., 2., 0., 0.])
        >>> gpuad.vjp(gnp.fft.irfft, np.array([3.0, 1 - 2j, -1.0]))[1](
        ...     np.array([1.0, 0.0, 0.0, 0.0]))[0]          # c w conj(rfft(g)), c = 1/4
        array([0.25+0.j, 0.5 +0.j, 0.25+0.j])
    """
    return _c2r(a, _one(n), [axis], norm, "irfft")


@_out
@_doc
def rfftn(a, s=None, axes=None, norm=None):
    """The n-d DFT of a real array over ``axes``, like ``numpy.fft.rfftn``: the half
    spectrum (bins ``0 .. s[-1] // 2``) along the last of ``axes``, the full one along
    the others. Repeated axes raise ValueError.

    {dft}

    Shape: ``a``'s, with ``s[i]`` entries along ``axes[i]`` and ``s[-1] // 2 + 1`` along
    the last. {s}
    {norm}
    {rdtype}

    {r2c}

    Example::

        >>> gnp.fft.rfftn(np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0]]))
        array([[10.+0.j        ,  1.-5.19615242j],
               [-4.+0.j        , -1.+1.73205081j]])
    """
    return _r2c(a, s, axes, norm, "rfftn")


@_out
@_doc
def irfftn(a, s=None, axes=None, norm=None):
    """The inverse of :func:`rfftn`, like ``numpy.fft.irfftn``: full inverse transforms
    along all but the last of ``axes``, then the real inverse along it, with ``s[-1]``
    defaulting to ``2 (m - 1)`` for ``m`` bins. Repeated axes raise ValueError.

    {dft}

    Shape: ``a``'s, with ``s[i]`` entries along ``axes[i]``. {s}
    {norm}

    {c2r}

    Example::

        >>> gnp.fft.irfftn(np.array([[10.0, -2.0], [-4.0, 0.0]]))
        array([[1., 2.],
               [3., 4.]])
    """
    return _c2r(a, s, axes, norm, "irfftn")


@_out
@_doc
def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """The 2-d :func:`rfftn` over ``axes`` (the last two by default), like
    ``numpy.fft.rfft2``.

    {dft}

    Shape: ``a``'s, with ``s[i]`` entries along ``axes[i]`` and ``s[-1] // 2 + 1`` along
    the last. {s}
    {norm}
    {rdtype}

    {r2c}

    Example::

        >>> gnp.fft.rfft2(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([[10.+0.j, -2.+0.j],
               [-4.+0.j,  0.+0.j]])
    """
    return _r2c(a, s, axes, norm, "rfft2")


@_out
@_doc
def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """The 2-d :func:`irfftn` over ``axes`` (the last two by default), like
    ``numpy.fft.irfft2``.

    {dft}

    Shape: ``a``'s, with ``s[i]`` entries along ``axes[i]``. {s}
    {norm}

    {c2r}

    Example::

        >>> gnp.fft.irfft2(np.array([[10.0, -2.0], [-4.0, 0.0]]))
        array([[1., 2.],
               [3., 4.]])
    """
    return _c2r(a, s, axes, norm, "irfft2")


# ------------------------------------------------------------------ Hermitian transforms

@_out
@_doc
def hfft(a, n=None, axis=-1, norm=None):
    """The real spectrum of a signal with Hermitian symmetry given by its first half
    ``a`` (bins ``0 .. n // 2``), like ``numpy.fft.hfft``: ``irfft(conj(a), n)`` with
    the norm swapped, so that with the default norm it is scaled as a forward
    transform, ``out[k] = sum_m a~[m] exp(-2 pi i m k / n)`` with ``a~`` the full
    Hermitian signal (``n`` defaults to ``2 (m - 1)``).

    {dft}

    Shape: ``a``'s, with ``n`` entries along ``axis``. Errors: as :func:`irfft`.
    {norm} (As a forward transform: "backward" leaves it unscaled.)

    {c2r}
    (With ``conj`` in front: conj is real-linear and its own transpose.)

    Example::

        >>> gnp.fft.hfft(np.array([1.0, 2.0, 3.0]))
        array([ 8., -2.,  0., -2.])
    """
    return _c2r(_CX.conj(_complex(a)), _one(n), [axis], _F.SWAP[_norm(norm)], "hfft")


@_out
@_doc
def ihfft(a, n=None, axis=-1, norm=None):
    """The inverse of :func:`hfft` for a real signal, like ``numpy.fft.ihfft``:
    ``conj(rfft(a, n))`` with the norm swapped, so that with the default norm
    ``A[k] = (1/n) sum_m a[m] exp(+2 pi i m k / n)``, ``k = 0 .. n // 2``.

    {dft}

    Shape: ``a``'s, with ``n // 2 + 1`` bins along ``axis``. {n}
    {norm} (As an inverse transform: "backward" divides by n.)
    {rdtype}

    {r2c}
    (With ``conj`` after it: conj is real-linear and its own transpose.)

    Example::

        >>> gnp.fft.ihfft(np.array([8.0, -2.0, 0.0, -2.0])).real
        array([1., 2., 3.])
    """
    return _CX.conj(_r2c(a, _one(n), [axis], _F.SWAP[_norm(norm)], "ihfft"))


# ------------------------------------------------------------------ helpers

def _shift(x, axes, sign):
    (x,), _ = _prepare(x)
    nd = len(_shape(x))
    axes = tuple(range(nd)) if axes is None else \
        ((axes,) if _np.ndim(axes) == 0 else tuple(axes))
    for ax in axes:
        if not -nd <= int(ax) < nd:
            raise _np.exceptions.AxisError(f"axis {ax} is out of bounds for array of "
                                           f"dimension {nd}")
    return _roll(x, [sign * (_shape(x)[ax] // 2) for ax in axes], axes) if axes else x


_SHIFT = """Shape and dtype: ``x``'s (every dtype gpuad differentiates); an axis out of
    range raises numpy.exceptions.AxisError.

    Derivative: a permutation, so linear: the JVP shifts the tangent the same way and
    the VJP shifts the cotangent back (the other of fftshift/ifftshift). Every order."""


def fftshift(x, axes=None):
    """The zero-frequency bin moved to the centre, like ``numpy.fft.fftshift``:
    ``out = roll(x, n // 2)`` along each of ``axes`` (default all), n its length there.

    {shift}

    Example::

        >>> gnp.fft.fftshift(gnp.fft.fftfreq(5))
        array([-0.4, -0.2,  0. ,  0.2,  0.4])
    """
    return _shift(x, axes, 1)


def ifftshift(x, axes=None):
    """The inverse of :func:`fftshift`, like ``numpy.fft.ifftshift``:
    ``out = roll(x, -(n // 2))`` along each of ``axes`` (default all).

    {shift}

    Example::

        >>> gnp.fft.ifftshift(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
        array([ 0.,  1.,  2., -2., -1.])
    """
    return _shift(x, axes, -1)


fftshift.__doc__ = fftshift.__doc__.format(shift=_SHIFT)
ifftshift.__doc__ = ifftshift.__doc__.format(shift=_SHIFT)


def _freq(name, n, d, device):
    if isinstance(d, _Tracer):        # differentiable in the sample spacing: k / (n d)
        xp = _base.xp_of(d)
        return _divide(getattr(xp.fft, name)(n, 1.0), d)
    xp = _base.xp_of(d) if hasattr(d, "shape") else _np
    if xp is _np:
        return getattr(_np.fft, name)(n, d, device=device)
    return getattr(xp.fft, name)(n, d)


_FREQ = """Shape ``({m},)``, float64 (NumPy's; a CuPy array when ``d`` is one). Errors:
    NumPy's (ValueError for a non-integer ``n``, ZeroDivisionError for ``n = 0``).

    Derivative: in a traced spacing ``d`` only (``n`` is an integer):
    ``df/dd = -f / d``; every order."""


def fftfreq(n, d=1.0, device=None):
    """The sample frequencies of an ``fft`` of length ``n`` with sample spacing ``d``,
    like ``numpy.fft.fftfreq``: ``f = [0, 1, ..., (n - 1) // 2, -(n // 2), ..., -1] /
    (d n)``.

    {freq}

    Example::

        >>> gnp.fft.fftfreq(4, 0.5)
        array([ 0. ,  0.5, -1. , -0.5])
        >>> gpuad.grad(lambda d: gnp.sum(gnp.fft.fftfreq(4, d) ** 2))(0.5)
        -6.0
    """
    return _freq("fftfreq", n, d, device)


def rfftfreq(n, d=1.0, device=None):
    """The sample frequencies of an ``rfft`` of length ``n`` with sample spacing ``d``,
    like ``numpy.fft.rfftfreq``: ``f = [0, 1, ..., n // 2] / (d n)``.

    {freq}

    Example::

        >>> gnp.fft.rfftfreq(4, 0.5)
        array([0. , 0.5, 1. ])
        >>> gpuad.grad(lambda d: gnp.sum(gnp.fft.rfftfreq(4, d)))(0.5)
        -3.0
    """
    return _freq("rfftfreq", n, d, device)


fftfreq.__doc__ = fftfreq.__doc__.format(freq=_FREQ.format(m="n"))
rfftfreq.__doc__ = rfftfreq.__doc__.format(freq=_FREQ.format(m="n // 2 + 1"))


def _keep_numpy_dtypes():
    # Without traced values, the shifts of integer and boolean arrays are numpy.fft's own
    # (an int array stays int, as NumPy's; the transforms make every input complex anyway).
    from ._core import numpy_semantics
    g = globals()
    for name in ("fftshift", "ifftshift"):
        g[name] = numpy_semantics(name, g[name], _np.fft)


_keep_numpy_dtypes()
