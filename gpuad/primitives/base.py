"""What every primitive module shares: the array module, kernel launches, fresh buffers,
and the structural (linear) primitives the rules are written with."""
from __future__ import annotations

import threading
import weakref

import numpy as np

from .. import runtime
from ..core import Primitive, Tracer, bind, register, shape, dtype
from ..runtime import profile as _profile


# ------------------------------------------------------------------ arrays and devices

def xp_of(*xs):
    """numpy or cupy: the module of the arrays among ``xs`` (cupy wins)."""
    for x in xs:
        while isinstance(x, Tracer):
            x = x.value
        if x is not None and type(x) is not np.ndarray and type(x).__module__.startswith("cupy"):
            import cupy
            return cupy
    return np


def device_of(xp) -> str:
    return "cpu" if xp is np else "cuda"


_CTYPE = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
FLOATS = tuple(_CTYPE)


def ctype(dt) -> str:
    """The kernel scalar type for a dtype; kernels exist for float32 and float64."""
    try:
        return _CTYPE[np.dtype(dt)]
    except KeyError:
        raise TypeError(f"gpuad kernels support float32 and float64, not {np.dtype(dt)}") from None


# Buffers made here while a reverse sweep runs are the only ones the sweep may add into in
# place: a cotangent that is a view, a user array or shared by two inputs is never written.
# The sweep opens the registry (core.VJPTrace._sweep) and empties it after each node, once
# that node's cotangents are claimed; outside sweeps nothing is recorded (no cotangent is
# made there). Entries are weak: a rule may run a whole forward pass (a checkpointed
# segment's recomputation) whose buffers must die as soon as they are dead. Per thread:
# each thread sweeps its own tape.

class _Fresh(threading.local):
    def __init__(self):
        self.depth = 0                # sweeps in progress in this thread
        self.bufs: dict = {}          # id -> weak reference to the buffer


fresh = _Fresh()


def register_fresh(a):
    """Record ``a`` (just allocated) as claimable if a sweep is running; returns ``a``."""
    f = fresh
    if f.depth:
        bufs, k = f.bufs, id(a)
        # The callback drops only its own entry: the id may belong to a newer buffer by then.
        bufs[k] = weakref.ref(a, lambda r, k=k: bufs.pop(k) if bufs.get(k) is r else None)
    return a


def empty(shape_, dt, xp):
    return register_fresh(xp.empty(shape_, dtype=dt))


def claim(a) -> bool:
    """True once for a buffer made by :func:`empty` during the current sweep node (its
    first holder may write into it)."""
    r = fresh.bufs.pop(id(a), None)
    return r is not None and r() is a


def contiguous(x, xp):
    """``x`` as a C-contiguous array of the same shape (0-d stays 0-d)."""
    x = xp.asarray(x)
    if not x.flags.c_contiguous:
        x = xp.ascontiguousarray(x).reshape(x.shape)
    return x


_kernels: dict = {}


_workers: list = []
_ONE = (1,)
_SPLIT = 32768          # elements per CPU worker before a launch is split


def _cpu_grid(n: int):
    # One contiguous chunk per worker thread (see GPUAD_LOOP in kernels/gpuad/host.h);
    # small arrays stay on one thread, where starting another costs more than it saves.
    if n < 2 * _SPLIT:
        return _ONE
    if not _workers:
        from ..runtime.host import cpu_workers
        _workers.append(cpu_workers())
    return (max(1, min(_workers[0], n // _SPLIT)),)


def kernel(source: str, expr: str, xp=np):
    """Kernel ``expr`` of ``source`` for ``xp``'s device, cached; a host kernel as its
    fastest callable (the C launch path where there is one)."""
    key = (source, expr, xp is np)
    k = _kernels.get(key)
    if k is None:
        k = runtime.get_kernel(source, expr, device_of(xp))
        k = _kernels[key] = getattr(k, "call", k)
    return k


def launch(source: str, expr: str, label: str, n: int, args: tuple, xp,
           reads: tuple, writes: tuple) -> None:
    """Launch kernel ``expr`` of ``source`` over ``n`` elements; record it under ``label``
    with the bytes of the arrays it ``reads`` and ``writes`` (None entries skipped)."""
    if n == 0:
        return
    k = kernel(source, expr, xp)
    if xp is np:
        k(_cpu_grid(n), _ONE, args)
    else:
        # CuPy passes a NumPy scalar by value: a 64-bit zero is the null pointer.
        k((max(1, min((n + 255) // 256, 65535 * 8)),), (256,),
          tuple(np.uint64(0) if a is None else a for a in args))
    if _profile._state.profiles:
        _profile.record_launch(label, n, sum(a.nbytes for a in reads if a is not None),
                               sum(a.nbytes for a in writes if a is not None))


def record_library(label: str, out, *ins) -> None:
    """Record a library launch (a CuPy/NumPy reduction, matmul, copy) made by an impl."""
    if _profile._state.profiles:
        _profile.record_launch(label, getattr(out, "size", 1),
                               sum(getattr(a, "nbytes", 0) for a in ins),
                               getattr(out, "nbytes", 0))


# ------------------------------------------------------------------ structural primitives

def _rs_impl(x, axes):
    xp = xp_of(x)
    out = xp.asarray(xp.sum(x, axis=axes))
    record_library("xp.sum", out, x)
    return out


def _rs_jvp(primals, tangents, axes):
    (x,), (t,) = primals, tangents
    return reduce_sum(x, axes), reduce_sum(t, tuple(a + 1 for a in axes))


def _rs_vjp(g, ins, out, need, acc, axes):
    xshape = shape(ins[0])
    kept = tuple(1 if i in axes else d for i, d in enumerate(xshape))
    return (broadcast_to(reshape(g, kept), xshape),)


reduce_sum_p = register(Primitive(
    "reduce_sum", _rs_impl,
    jvp=_rs_jvp,
    vjp=_rs_vjp, saves="none", linear=True,
    doc="sum over `axes` (a sorted tuple); cuBLAS/CUB reduction through xp"))


def reduce_sum(x, axes):
    axes = tuple(sorted(axes))
    if not axes:
        return x
    return bind(reduce_sum_p, x, axes=axes)


def _bt_jvp(primals, tangents, shape_):
    (x,), (t,) = primals, tangents
    lead = len(shape_) - len(shape(x))
    t = reshape(t, (shape(t)[0],) + (1,) * lead + tuple(shape(x)))
    return broadcast_to(x, shape_), broadcast_to(t, (shape(t)[0],) + tuple(shape_))


broadcast_to_p = register(Primitive(
    "broadcast_to", lambda x, shape: xp_of(x).broadcast_to(x, shape),
    jvp=lambda p, t, shape: _bt_jvp(p, t, shape),
    vjp=lambda g, ins, out, need, acc, shape: (sum_to(g, ins[0].shape),),
    saves="none", linear=True, doc="NumPy broadcasting to `shape` (a view)"))


def broadcast_to(x, shape_):
    shape_ = tuple(shape_)
    if tuple(shape(x)) == shape_:
        return x
    return bind(broadcast_to_p, x, shape=shape_)


reshape_p = register(Primitive(
    "reshape", lambda x, shape: xp_of(x).reshape(x, shape),
    jvp=lambda p, t, shape: (reshape(p[0], shape), reshape(t[0], (shape_lanes(t[0]),) + shape)),
    vjp=lambda g, ins, out, need, acc, shape: (reshape(g, ins[0].shape),),
    saves="none", linear=True, doc="reshape (a view where possible)"))


def shape_lanes(t):
    return shape(t)[0]


def reshape(x, shape_):
    shape_ = tuple(int(d) for d in shape_)
    if tuple(shape(x)) == shape_:
        return x
    return bind(reshape_p, x, shape=shape_)


transpose_p = register(Primitive(
    "transpose", lambda x, axes: xp_of(x).transpose(x, axes),
    jvp=lambda p, t, axes: (transpose(p[0], axes),
                            transpose(t[0], (0,) + tuple(a + 1 for a in axes))),
    vjp=lambda g, ins, out, need, acc, axes: (transpose(g, tuple(np.argsort(axes))),),
    saves="none", linear=True, doc="permute axes (a view)"))


def transpose(x, axes):
    axes = tuple(int(a) for a in axes)
    if axes == tuple(range(len(axes))):
        return x
    return bind(transpose_p, x, axes=axes)


astype_p = register(Primitive(
    "astype", lambda x, dtype: x.astype(dtype),
    jvp=lambda p, t, dtype: (astype(p[0], dtype), astype(t[0], dtype)),
    vjp=lambda g, ins, out, need, acc, dtype: (astype(g, ins[0].dtype),),
    saves="none", linear=True, doc="convert between floating dtypes"))


def astype(x, dt):
    dt = np.dtype(dt)
    if dtype(x) == dt:
        return x
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


# ------------------------------------------------------------------ accumulation

def add_any(a, b):
    """a + b for cotangents of one value (tracers allowed); shapes already agree."""
    from .elementwise import add
    return add(a, b)


def add_into(buf, g) -> None:
    """buf += g for an engine-owned buffer (no tracers)."""
    xp_of(buf).add(buf, g, out=buf)
    record_library("xp.add", buf, buf, g)
