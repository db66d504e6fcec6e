"""What every primitive module shares: arrays and devices, the linear-rule helper and the
structural (linear) primitives the rules are written with."""
from __future__ import annotations

import numpy as np

from ..core import Primitive, bind, register, shape, dtype, full_lower
from ..runtime import launch as _launch
from ..runtime.launch import launcher


# ------------------------------------------------------------------ arrays and devices

def xp_of(*xs):
    """numpy or cupy: the module of the arrays among ``xs`` (traced or not; cupy wins)."""
    return launcher(*xs).xp


def on_device(xp, xs):
    """``xs`` for a library call of ``xp``, NumPy arrays among them moved to CuPy's device
    where ``xp`` is CuPy: a differentiated Python or NumPy scalar is traced as a 0-d NumPy
    array (its tangent lanes, its reshapes and broadcasts are NumPy arrays too), and CuPy's
    functions refuse host arrays beside their own. (gpuad's kernels move them as well: a
    NumPy operand of an elementwise op beside a CuPy one is copied to the device.)"""
    if xp is np:
        return xs
    return type(xs)(xp.asarray(x) if type(x) is np.ndarray else x for x in xs)


_CTYPE = {np.dtype(np.float32): "float", np.dtype(np.float64): "double",
          np.dtype(np.complex64): "gpuad::Complex<float>",
          np.dtype(np.complex128): "gpuad::Complex<double>"}
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
COMPLEX = (np.dtype(np.complex64), np.dtype(np.complex128))


def ctype(dt) -> str:
    """The kernel scalar type for a dtype: float and double, and gpuad::Complex<float> and
    gpuad::Complex<double> (kernels/gpuad/complex.cuh) for complex64 and complex128."""
    try:
        return _CTYPE[np.dtype(dt)]
    except KeyError:
        raise TypeError(f"gpuad kernels support float32, float64, complex64 and complex128, "
                        f"not {np.dtype(dt)}") from None


def real_dtype(dt):
    """The real dtype of the same precision (float32 for complex64, float64 for complex128)."""
    dt = np.dtype(dt)
    return np.dtype(np.float32 if dt in (np.float32, np.complex64) else np.float64) \
        if dt.kind in "fc" else dt


def complex_dtype(dt):
    """The complex dtype of the same precision (complex64 for float32, else complex128)."""
    dt = np.dtype(dt)
    return np.dtype(np.complex64 if dt in (np.float32, np.complex64) else np.complex128)


def contiguous(x, xp):
    """``x`` as a C-contiguous array of the same shape (0-d stays 0-d)."""
    x = xp.asarray(x)
    if not x.flags.c_contiguous:
        x = xp.ascontiguousarray(x).reshape(x.shape)
    return x


def record_library(label: str, out, *ins) -> None:
    """Tell the profile about a library launch (a reduction, matmul, copy) an impl made."""
    _launch.record(label, getattr(out, "size", 1), ins, (out,))


def lane_zeros(like, lanes):
    """Zero tangent lanes ``(lanes,) + like.shape`` (a constant of every trace)."""
    v = full_lower(like)
    return xp_of(v).zeros((lanes,) + tuple(shape(v)), dtype=dtype(v))


# ------------------------------------------------------------------ linear primitives

def deflinear(prim, lanes, transpose, n=1):
    """Give ``prim``, linear in its first ``n`` arguments (None: all; any others are index
    arrays it is not differentiated in), its rules from one definition.

    JVP: ``prim`` itself applied to the tangents, written by ``lanes(*tangents, *rest,
    **params)`` for tangents with a leading lane axis (zero tangents of a multi-argument
    primitive become lane zeros). VJP: the transpose, a VJP rule ``transpose(g, ins, out,
    **params)`` -> one cotangent per argument (see :class:`gpuad.core.Primitive`)."""
    def jvp(primals, tangents, **params):
        k = len(primals) if n is None else n
        L = next(shape(t)[0] for t in tangents[:k] if t is not None)
        ts = [lane_zeros(p, L) if t is None else t for p, t in zip(primals[:k], tangents[:k])]
        return bind(prim, *primals, **params), lanes(*ts, *primals[k:], **params)
    prim.jvp, prim.vjp, prim.linear = jvp, transpose, True
    return prim


def _lanes_of(t):
    return shape(t)[0]


def _rs_impl(x, axes):
    xp = xp_of(x)
    out = xp.asarray(xp.sum(x, axis=axes))
    record_library("xp.sum", out, x)
    return out


def _rs_transpose(g, ins, out, axes):
    xshape = shape(ins[0])
    kept = tuple(1 if i in axes else d for i, d in enumerate(xshape))
    return (broadcast_to(reshape(g, kept), xshape),)


reduce_sum_p = register(deflinear(Primitive(
    "reduce_sum", _rs_impl, saves="none",
    doc="sum over `axes` (a sorted tuple); cuBLAS/CUB reduction through xp"),
    lanes=lambda t, axes: reduce_sum(t, tuple(a + 1 for a in axes)),
    transpose=_rs_transpose))


def reduce_sum(x, axes):
    axes = tuple(sorted(axes))
    if not axes:
        return x
    return bind(reduce_sum_p, x, axes=axes)


def _bt_lanes(t, **params):
    # NumPy aligns trailing axes: the lane axis must stay in front of the new leading ones.
    out_shape, (L, *s) = params["shape"], shape(t)
    t = reshape(t, (L,) + (1,) * (len(out_shape) - len(s)) + tuple(s))
    return broadcast_to(t, (L,) + tuple(out_shape))


broadcast_to_p = register(deflinear(Primitive(
    "broadcast_to", lambda x, shape: xp_of(x).broadcast_to(x, shape), saves="none",
    doc="NumPy broadcasting to `shape` (a view)"),
    lanes=_bt_lanes,
    transpose=lambda g, ins, out, shape: (sum_to(g, ins[0].shape),)))


def broadcast_to(x, shape_):
    shape_ = tuple(shape_)
    if tuple(shape(x)) == shape_:
        return x
    return bind(broadcast_to_p, x, shape=shape_)


reshape_p = register(deflinear(Primitive(
    "reshape", lambda x, shape: xp_of(x).reshape(x, shape), saves="none",
    doc="reshape (a view where possible)"),
    lanes=lambda t, shape: reshape(t, (_lanes_of(t),) + shape),
    transpose=lambda g, ins, out, shape: (reshape(g, ins[0].shape),)))


def reshape(x, shape_):
    shape_ = tuple(int(d) for d in shape_)
    if tuple(shape(x)) == shape_:
        return x
    return bind(reshape_p, x, shape=shape_)


transpose_p = register(deflinear(Primitive(
    "transpose", lambda x, axes: xp_of(x).transpose(x, axes), saves="none",
    doc="permute axes (a view)"),
    lanes=lambda t, axes: transpose(t, (0,) + tuple(a + 1 for a in axes)),
    transpose=lambda g, ins, out, axes: (transpose(g, tuple(np.argsort(axes))),)))


def transpose(x, axes):
    axes = tuple(int(a) for a in axes)
    if axes == tuple(range(len(axes))):
        return x
    return bind(transpose_p, x, axes=axes)


def _astype_impl(x, dtype):
    if x.dtype.kind == "c" and dtype.kind != "c":
        x = xp_of(x).real(x)        # NumPy's cast, without its ComplexWarning
    return x.astype(dtype)


# Real -> complex embeds (t -> t + 0i); complex -> real keeps the real part. Each one's
# transpose is the other (JAX's convention: Re(g t) pairs a cotangent g with a tangent t).
astype_p = register(deflinear(Primitive(
    "astype", _astype_impl, saves="none",
    doc="convert between floating and complex dtypes (complex -> real: the real part)"),
    lanes=lambda t, dtype: astype(t, dtype),
    transpose=lambda g, ins, out, dtype: (astype(g, ins[0].dtype),)))


def astype(x, dt):
    dt = np.dtype(dt)
    if dtype(x) == dt:
        return x
    if dt.kind not in "fc":
        # an integer or boolean result is piecewise constant: its value, no derivative
        return full_lower(x).astype(dt)
    return bind(astype_p, x, dtype=dt)


def sum_to(g, shape_):
    """Sum ``g`` down to ``shape_`` (undo NumPy broadcasting, and any leading lane axes)."""
    shape_ = tuple(shape_)
    gs = tuple(shape(g))
    if gs == shape_:
        return g
    lead = len(gs) - len(shape_)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape_)
                                      if d == 1 and gs[lead + i] != 1)
    return reshape(reduce_sum(g, axes), shape_)


def expand_lanes(t, primal_ndim_target: int):
    """View a tangent (L,) + s as (L, 1, ..., 1) + s with ``primal_ndim_target`` axes after L."""
    s = tuple(shape(t))
    extra = primal_ndim_target - (len(s) - 1)
    return t if extra <= 0 else reshape(t, s[:1] + (1,) * extra + s[1:])
