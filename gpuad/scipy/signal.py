"""gpuad.scipy.signal: N-dimensional convolution and correlation with SciPy's signatures
(``scipy.signal.convolve``, ``scipy.signal.correlate``), differentiable in both inputs to
any order.

Both are bilinear, computed by one of two methods, each built from differentiable
primitives so that every derivative is again a convolution of the same kind and all
transforms compose:

- 'direct': the padded larger operand is gathered into a matrix with one row per output
  element and one column per element of the other operand (a Toeplitz/Hankel matrix in N
  dimensions), which multiplies that operand flattened: one gather and one matmul (cuBLAS
  on a GPU), O(output size x kernel size) work and memory.
- 'fft': as ``scipy.signal.fftconvolve``, both operands zero-padded to the full length
  ``s1 + s2 - 1`` along every axis where neither has length 1, transformed with
  ``gpuad.numpy.fft`` (``rfftn``/``irfftn`` for real inputs, ``fftn``/``ifftn`` when either
  is complex; cuFFT on a GPU), multiplied, transformed back and cut to ``mode``'s window:
  O(N log N) for N = prod(s1 + s2 - 1). Its derivatives are FFT convolutions again (the
  transforms' adjoints are transforms).
- 'auto': SciPy's choice by its operation-count model (``scipy.signal.choose_conv_method``
  without ``measure``; scipy/signal/_signaltools.py, ``_conv_ops`` and
  ``_fftconv_faster``, SciPy 1.17), from the shapes alone, on both devices (CuPy's own
  chooser takes 1-d inputs only).

The methods give the same numbers up to rounding: the direct sum's error is that of a dot
product, the FFT's grows like eps log N times the norms of the inputs (so small outputs
next to large ones lose relative accuracy, as with SciPy's 'fft').

Dtypes: float32, float64, complex64 and complex128, NumPy's promotion (the result has the
dtype of ``in1 * in2``); integers promote to float64 when traced; without traced arguments
integer and boolean inputs are passed to SciPy's (CuPy's) own function, as NumPy's types
are kept elsewhere in gpuad.
"""
from __future__ import annotations

import math as _math

import numpy as _np

from ..core import Tracer as _Tracer, full_lower as _lower
from ..numpy import fft as _fft
from ..numpy._core import prepare as _prepare, shape as _shape
from ..numpy._elementwise import multiply as _multiply
from ..numpy._indexing import take as _take
from ..numpy._math import conj as _conj
from ..numpy._shape import flip as _flip, pad as _pad, reshape as _reshape
from ..numpy._linalg import matmul as _matmul
from ..primitives import base as _base, indexing as _I

__all__ = ["convolve", "correlate"]


def __dir__():          # the functions only, not the modules and names they are written with
    return sorted(__all__)

_MODES = ("full", "same", "valid")
_METHODS = ("auto", "direct", "fft")


def _operands(in1, in2, mode, method, what):
    if mode not in _MODES:
        raise ValueError(f"{what}: acceptable mode flags are 'valid', 'same', or 'full' (got "
                         f"{mode!r})")
    if method not in _METHODS:
        raise ValueError(f"{what}: acceptable method flags are 'auto', 'direct', or 'fft' "
                         f"(got {method!r})")
    traced = isinstance(in1, _Tracer) or isinstance(in2, _Tracer)
    if not traced:
        xp = _base.xp_of(*[v for v in (in1, in2) if hasattr(v, "shape")]) \
            if any(hasattr(v, "shape") for v in (in1, in2)) else _np
        in1, in2 = xp.asarray(in1), xp.asarray(in2)
        if not {_np.dtype(in1.dtype).kind, _np.dtype(in2.dtype).kind} & {"f", "c"}:
            return in1, in2, xp             # integers and booleans: SciPy's own result
    (in1, in2), _ = _prepare(in1, in2)
    if len(_shape(in1)) != len(_shape(in2)):
        raise ValueError(f"{what}: in1 and in2 should have the same dimensionality")
    return in1, in2, None


def _library(xp, what, in1, in2, mode, method):
    """SciPy's function on NumPy arrays, cupyx.scipy.signal's on CuPy arrays (both arrays
    of ``xp``). CuPy 14's 'auto' chooses 'direct' for integer and boolean inputs but
    raises NotImplementedError for N-d ones (cupy/_math/misc.py, _choose_conv_method): it
    is given 'direct', its own choice in 1-d, in every dimension."""
    if xp is _np:
        import scipy.signal as lib
    else:
        import cupyx.scipy.signal as lib
        if method == "auto":
            method = "direct"
    return getattr(lib, what)(in1, in2, mode=mode, method=method)


def _fft_faster(s1, s2, mode):
    """SciPy's prediction that the FFT method is the faster (``_fftconv_faster`` over
    ``_conv_ops`` in scipy/signal/_signaltools.py, SciPy 1.17: fitted seconds per
    operation of each method, 3 N log N operations for the FFTs of the full size N), for
    float and complex inputs of shapes ``s1`` (in1 after SciPy's 'valid' swap) and ``s2``."""
    if mode == "full":
        out = [i + j - 1 for i, j in zip(s1, s2)]
    elif mode == "valid":
        out = [abs(i - j) + 1 for i, j in zip(s1, s2)]
    else:
        out = list(s1)
    p1, p2 = _math.prod(s1), _math.prod(s2)
    if len(s1) == 1:
        n1, n2 = s1[0], s2[0]
        direct = {"full": n1 * n2,
                  "valid": (n2 - n1 + 1) * n1 if n2 >= n1 else (n1 - n2 + 1) * n2,
                  "same": n1 * n2 if n1 < n2 else n1 * n2 - (n2 // 2) * ((n2 + 1) // 2)}[mode]
        offset = -1e-3
        c_fft, c_direct = {"valid": (1.89095737e-9, 2.1364985e-10),
                           "full": (1.7649070e-9, 2.1414831e-10),
                           "same": (3.2646654e-9, 2.8478277e-10) if p2 <= p1
                           else (3.21635404e-9, 1.1773253e-8)}[mode]
        if mode == "same" and p2 > p1:
            offset = -1e-5
    else:
        direct = p1 * p2 if mode == "same" else min(p1, p2) * _math.prod(out)
        offset = -1e-4
        c_fft, c_direct = {"valid": (1.85927e-9, 2.11242e-8), "full": (1.99817e-9, 1.66174e-8),
                           "same": (2.04735e-9, 1.55367e-8)}[mode]
    n = _math.prod(i + j - 1 for i, j in zip(s1, s2))
    return c_fft * 3 * n * _math.log(n) < c_direct * direct + offset


def _window(out, start, length):
    """``out[start:start + length]`` along every axis."""
    if list(_shape(out)) == list(length):
        return out
    return _I.getitem(out, (), tuple(slice(b, b + n) for b, n in zip(start, length)))


def _by_fft(a, w, start, length):
    """The full convolution of ``a`` and ``w`` by FFTs (scipy.signal.fftconvolve's
    scheme: axes where either has length 1 are broadcast, not transformed), cut to
    ``start:start + length``."""
    s1, s2 = _shape(a), _shape(w)
    axes = [ax for ax in range(len(s1)) if s1[ax] != 1 and s2[ax] != 1]
    if not axes:
        return _window(_multiply(a, w), start, length)
    size = [s1[ax] + s2[ax] - 1 for ax in axes]
    if _np.dtype(_base.dtype(a)).kind == "c":
        out = _fft.ifftn(_multiply(_fft.fftn(a, size, axes), _fft.fftn(w, size, axes)),
                         size, axes)
    else:
        out = _fft.irfftn(_multiply(_fft.rfftn(a, size, axes), _fft.rfftn(w, size, axes)),
                          size, axes)
    return _window(out, start, length)


def _conv(a, w, mode, method):
    """``sum_m a[m] w[n - m]`` (N-d), SciPy's output shape for ``mode`` with ``a`` as in1,
    by ``method``."""
    s1, s2 = tuple(_shape(a)), tuple(_shape(w))
    if not s1:
        return _multiply(a, w)
    if 0 in s1 or 0 in s2:                    # SciPy's answer for empty inputs
        return _base.xp_of(_lower(a), _lower(w)).zeros(0, dtype=_lower(a).dtype)
    if mode == "valid":
        ge = all(i >= j for i, j in zip(s1, s2))
        if not ge:
            if not all(j >= i for i, j in zip(s1, s2)):
                raise ValueError("For 'valid' mode, one must be at least as large as the "
                                 "other in every dimension")
            a, w, s1, s2 = w, a, s2, s1          # the full convolution is symmetric
        length, start = [i - j + 1 for i, j in zip(s1, s2)], [j - 1 for j in s2]
    elif mode == "full":
        length, start = [i + j - 1 for i, j in zip(s1, s2)], [0] * len(s1)
    else:
        length, start = list(s1), [(j - 1) // 2 for j in s2]   # SciPy's _centered
    if method == "fft" or (method == "auto" and _fft_faster(s1, s2, mode)):
        return _by_fft(a, w, start, length)
    if mode == "full" and _np.prod(s2) > _np.prod(s1):   # the smaller one as the kernel
        a, w, s1, s2 = w, a, s2, s1
    # out[n] = sum_k a_pad[n + start + k] flip(w)[k], a_pad = a padded by s2 - 1 each side
    padded = [i + 2 * (j - 1) for i, j in zip(s1, s2)]
    xp = _base.xp_of(_lower(a))
    n = _np.indices(length).reshape(len(s1), -1)
    k = _np.indices(s2).reshape(len(s1), -1)
    pos = n[:, :, None] + _np.asarray(start)[:, None, None] + k[:, None, :]
    idx = _np.ravel_multi_index(tuple(pos), padded)
    ap = _pad(a, [(j - 1, j - 1) for j in s2])
    rows = _take(_reshape(ap, (-1,)), xp.asarray(idx))
    out = _matmul(rows, _reshape(_flip(w), (-1,)))
    return _reshape(out, tuple(length))


def convolve(in1, in2, mode="full", method="auto"):
    """Convolve two N-dimensional arrays, like ``scipy.signal.convolve``:

        out[n] = sum_m in1[m] in2[n - m]      (zero outside the arrays)

    over the output positions of ``mode``: 'full' (shape s1 + s2 - 1), 'same' (shape of
    ``in1``, centred on the full result as SciPy does) or 'valid' (|s1 - s2| + 1, where one
    input is at least as large as the other in every dimension; ValueError otherwise).
    ``in1`` and ``in2`` have the same number of dimensions (ValueError otherwise); the
    result has the dtype of ``in1 * in2`` (float32 to complex128). ``method``: 'direct'
    (gather and matmul), 'fft' (``gpuad.numpy.fft``) or 'auto' (SciPy's choice); see the
    module's docstring.

    Bilinear: the derivative in ``in1`` along ``t`` is ``convolve(t, in2)``, and the
    adjoint in ``in1`` is a correlation with ``in2`` (for complex inputs in gpuad's
    pairing ``Re sum(g t)``, without conjugation), by the same method; every order, both
    modes, everywhere (no nondifferentiable points).

    Example::

        >>> import gpuad.scipy.signal as gss
        >>> gss.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
        array([0. , 1. , 2.5, 4. , 1.5])
        >>> np.allclose(gss.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]),
        ...                          method="fft"), [0.0, 1.0, 2.5, 4.0, 1.5], atol=1e-15)
        True
        >>> gpuad.grad(lambda k: gss.convolve(np.ones((3, 3)), k, "valid")[0, 0])(
        ...     np.ones((2, 2)))
        array([[1., 1.],
               [1., 1.]])
    """
    a, w, xp = _operands(in1, in2, mode, method, "convolve")
    if xp is not None:
        return _library(xp, "convolve", a, w, mode, method)
    return _conv(a, w, mode, method)


def correlate(in1, in2, mode="full", method="auto"):
    """Cross-correlate two N-dimensional arrays, like ``scipy.signal.correlate``:

        out[n] = sum_m in1[m + n - c] conj(in2[m])

    i.e. the convolution of ``in1`` with ``in2`` reversed along every axis and conjugated
    (SciPy's identity, in every mode and method), so ``c`` is SciPy's offset of ``mode``:
    'full' (shape s1 + s2 - 1, ``c = s2 - 1``), 'same' (shape of ``in1``) or 'valid'.
    Shapes, dtypes, errors and ``method``: as :func:`convolve`. Bilinear over the reals
    (conjugate-linear in a complex ``in2``), differentiable in both inputs to any order.

    Example::

        >>> import gpuad.scipy.signal as gss
        >>> gss.correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]))
        array([1., 2., 3., 0.])
        >>> gss.correlate(np.array([1.0, 1j]), np.array([1j]))
        array([0.-1.j, 1.+0.j])
    """
    a, w, xp = _operands(in1, in2, mode, method, "correlate")
    if xp is not None:
        return _library(xp, "correlate", a, w, mode, method)
    if _shape(w):
        w = _flip(w)
    if _np.dtype(_base.dtype(w)).kind == "c":
        w = _conj(w)
    return _conv(a, w, mode, method)
