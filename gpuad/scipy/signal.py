"""gpuad.scipy.signal: N-dimensional convolution and correlation with SciPy's signatures
(``scipy.signal.convolve``, ``scipy.signal.correlate``), differentiable in both inputs to
any order.

Both are bilinear. They are computed directly: the padded larger operand is gathered into
a matrix with one row per output element and one column per element of the other operand
(a Toeplitz/Hankel matrix in N dimensions), which multiplies that operand flattened: one
gather and one matmul (cuBLAS on a GPU), O(output size x kernel size) work and memory.
Every derivative is again a gather, a scatter-add or a matmul, so all transforms compose.

``method``: 'direct', 'fft' and 'auto' are accepted and all compute directly (the 'fft'
method is not yet routed through gpuad.numpy.fft); the direct sum gives SciPy's 'fft' values up to that method's
rounding (the direct sum is the more accurate), so a program that asks for 'fft' gets the
same numbers, at O(n m) instead of O(n log n) cost for large kernels.

Dtypes: float32 and float64 (integers promote to float64 when traced; without traced
arguments integer and boolean inputs are passed to SciPy's (CuPy's) own function, as
NumPy's types are kept elsewhere in gpuad); complex inputs raise TypeError.
"""
from __future__ import annotations

import numpy as _np

from ..core import Tracer as _Tracer, full_lower as _lower
from ..numpy._core import prepare as _prepare, shape as _shape
from ..numpy._indexing import take as _take
from ..numpy._shape import flip as _flip, pad as _pad, reshape as _reshape
from ..numpy._linalg import matmul as _matmul
from ..primitives import base as _base

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
        kinds = {_np.dtype(in1.dtype).kind, _np.dtype(in2.dtype).kind}
        if kinds & {"c"}:
            raise TypeError(f"{what}: complex inputs are not supported")
        if not kinds & {"f"}:
            return in1, in2, xp             # integers and booleans: SciPy's own result
    for v in (in1, in2):
        if _np.dtype(_lower(v).dtype if hasattr(v, "dtype") else _np.float64).kind == "c":
            raise TypeError(f"{what}: complex inputs are not supported")
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


def _conv(a, w, mode):
    """``sum_m a[m] w[n - m]`` (N-d), SciPy's output shape for ``mode`` with ``a`` as in1."""
    s1, s2 = tuple(_shape(a)), tuple(_shape(w))
    if not s1:
        return a * w
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
        if _np.prod(s2) > _np.prod(s1):        # the smaller one as the kernel
            a, w, s1, s2 = w, a, s2, s1
        length, start = [i + j - 1 for i, j in zip(s1, s2)], [0] * len(s1)
    else:
        length, start = list(s1), [(j - 1) // 2 for j in s2]   # SciPy's _centered
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
    ``in1`` and ``in2`` have the same number of dimensions. Bilinear: the derivative in
    ``in1`` along ``t`` is ``convolve(t, in2)``, and so on; every order, both modes.
    ``method`` is accepted for SciPy's signature; every method computes the direct sum
    (see the module's docstring).

    Example::

        >>> import gpuad.scipy.signal as gss
        >>> gss.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
        array([0. , 1. , 2.5, 4. , 1.5])
        >>> gpuad.grad(lambda k: gss.convolve(np.ones((3, 3)), k, "valid")[0, 0])(
        ...     np.ones((2, 2)))
        array([[1., 1.],
               [1., 1.]])
    """
    a, w, xp = _operands(in1, in2, mode, method, "convolve")
    if xp is not None:
        return _library(xp, "convolve", a, w, mode, method)
    return _conv(a, w, mode)


def correlate(in1, in2, mode="full", method="auto"):
    """Cross-correlate two N-dimensional arrays, like ``scipy.signal.correlate``:

        out[n] = sum_m in1[m + n - c] in2[m]

    i.e. the convolution of ``in1`` with ``in2`` reversed along every axis (SciPy's
    identity for real inputs, in every mode), so ``c`` is SciPy's offset of ``mode``:
    'full' (shape s1 + s2 - 1, ``c = s2 - 1``), 'same' (shape of ``in1``) or 'valid'.
    Bilinear, differentiable in both inputs to any order. ``method``: as :func:`convolve`.

    Example::

        >>> import gpuad.scipy.signal as gss
        >>> gss.correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]))
        array([1., 2., 3., 0.])
    """
    a, w, xp = _operands(in1, in2, mode, method, "correlate")
    if xp is not None:
        return _library(xp, "correlate", a, w, mode, method)
    return _conv(a, _flip(w) if _shape(w) else w, mode)
