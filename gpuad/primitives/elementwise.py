"""The elementwise family: one table row per op; kernels in kernels/elementwise.cu, math in
kernels/ops/unary.cuh and kernels/ops/binary.cuh.

Per op there is a forward primitive (``exp``, ``multiply``, ...). Their rules use a few
generic derivative primitives, parameterised by the op:

``unary_deriv(x, v; op, order)``      f^(order)(x) * v            (JVP, VJP, higher orders)
``unary_vjp_dual(x, g, tx, tg)``      the VJP on dual numbers      (one launch per HVP node)
``binary_jvp(x, y, tx, ty; op)``      fx tx + fy ty
``binary_vjp(x, y, g; op)``           (fx g, fy g) in one launch
``binary_vjp_dual(x, y, g, tx, ty, tg)``  its dual-number form (one launch per HVP node)
``binary_deriv(x, y, v; op, ax, ay)`` d^(ax+ay) f / dx^ax dy^ay * v
``ternary_deriv(x, y, z, v; op, ax, ay, az)``  the same for a ternary op (its only derivative
                                      primitive: every rule of betainc is built from it)

The fused ones (``*_dual``, ``binary_jvp``, ``binary_vjp``) carry a decomposition into
``unary_deriv``/``binary_deriv``; under a further transform they run as that, so every
order of differentiation is available without more kernels.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .. import runtime
from ..core import Primitive, bind, register, shape
from ..runtime import profile as _profile
from ..runtime.launch import launcher, record
from . import base
from .base import ctype, contiguous, sum_to, expand_lanes

SOURCE = "elementwise.cu"
COMPLEX_SOURCE = "complex.cu"     # the same kernels on gpuad::Complex<T> (complex64/128)

# One row per op, which generates its forward primitive (below), its kernel instantiations
# (_declare) and its gpuad.numpy function(s) (gpuad/numpy/_elementwise.py):
# name -> (kernel op in kernels/ops/unary.cuh, float64 NumPy reference, gpuad.numpy aliases)
UNARY = {
    "negative": ("Neg", np.negative),
    "exp": ("Exp", np.exp),
    "exp2": ("Exp2", np.exp2),
    "log": ("Log", np.log),
    "log2": ("Log2", np.log2),
    "log10": ("Log10", np.log10),
    "log1p": ("Log1p", np.log1p),
    "expm1": ("Expm1", np.expm1),
    "sqrt": ("Sqrt", np.sqrt),
    "sin": ("Sin", np.sin),
    "cos": ("Cos", np.cos),
    "tan": ("Tan", np.tan),
    "tanh": ("Tanh", np.tanh),
    "sinh": ("Sinh", np.sinh),
    "cosh": ("Cosh", np.cosh),
    "arctan": ("Arctan", np.arctan),
    "arcsin": ("Arcsin", np.arcsin),
    "arccos": ("Arccos", np.arccos),
    "arctanh": ("Arctanh", np.arctanh),
    "abs": ("Abs", np.abs, ("absolute", "fabs")),
    "sign": ("Sign", np.sign),
    "reciprocal": ("Reciprocal", lambda x: 1.0 / x),
    "square": ("Square", np.square),
    "sigmoid": ("Sigmoid", lambda x: 0.5 * (1 + np.tanh(0.5 * x))),
    "softplus": ("Softplus", lambda x: np.logaddexp(0.0, x)),
    "relu": ("Relu", lambda x: np.maximum(x, 0)),
    "erf": ("Erf", None),    # NumPy has no erf; tests use math.erf
    "arcsinh": ("Arcsinh", np.arcsinh, ("asinh",)),
    "arccosh": ("Arccosh", np.arccosh, ("acosh",)),
    "cbrt": ("Cbrt", np.cbrt),
    "sinc": ("Sinc", np.sinc),
    "i0": ("I0", np.i0),
    # scipy.special's (gpuad.scipy.special; references there: tests use scipy.special)
    "i1": ("I1", None),
    "i0e": ("I0e", None),
    "i1e": ("I1e", None),
    "gammaln": ("Gammaln", None),
    "gamma": ("Gamma", None),
    "digamma": ("Digamma", None),
    "erfc": ("Erfc", None),
    "erfinv": ("Erfinv", None),
    "erfcinv": ("Erfcinv", None),
    "ndtr": ("Ndtr", None),
    "ndtri": ("Ndtri", None),
    "log_ndtr": ("LogNdtr", None),
    "logit": ("Logit", None),
}

# name -> (kernel op in kernels/ops/binary.cuh, float64 NumPy reference, gpuad.numpy aliases)
BINARY = {
    "add": ("Add", np.add),
    "subtract": ("Subtract", np.subtract),
    "multiply": ("Multiply", np.multiply),
    "divide": ("Divide", np.divide, ("true_divide",)),
    "power": ("Power", np.power),
    "maximum": ("Maximum", np.maximum),
    "minimum": ("Minimum", np.minimum),
    "arctan2": ("Arctan2", np.arctan2),
    "hypot": ("Hypot", np.hypot),
    # scipy.special's (gpuad.scipy.special)
    "polygamma": ("Polygamma", None),
    "xlogy": ("Xlogy", None),
    "xlog1py": ("Xlog1py", None),
    "gammainc": ("Gammainc", None),
    "gammaincc": ("Gammaincc", None),
    # gpuad.scipy.stats' log-cdfs (internal: SciPy has no such functions)
    "log_gammainc": ("LogGammainc", None),
    "log_gammaincc": ("LogGammaincc", None),
    "stdtr": ("Stdtr", None),
    "log_stdtr": ("LogStdtr", None),         # internal, as log_gammainc
}

# name -> (kernel op in kernels/ops/ternary.cuh, float64 reference); real dtypes only.
TERNARY = {
    "betainc": ("Betainc", None),
    "betaincc": ("Betaincc", None),
    "log_betainc": ("LogBetainc", None),     # internal, as log_gammainc
}

# Rows whose function is gpuad.scipy.special's, not gpuad.numpy's (NumPy has no such name).
SCIPY_SPECIAL = frozenset({"i1", "i0e", "i1e", "gammaln", "gamma", "digamma", "erfc", "erfinv",
                           "erfcinv", "ndtr", "ndtri", "log_ndtr", "logit", "polygamma",
                           "xlogy", "xlog1py", "gammainc", "gammaincc", "betainc", "betaincc", "stdtr"})
# Rows used inside gpuad only (gpuad.scipy.stats), in neither namespace: no SciPy name.
INTERNAL = frozenset({"log_gammainc", "log_gammaincc", "log_betainc", "log_stdtr"})
# The ops holomorphic on the complex plane (off their branch cuts), whose kernels also run
# on complex64/complex128 (kernels/complex.cu): there df is the complex derivative f'(z),
# and a VJP multiplies by it without conjugation (JAX's convention, see README). The others
# (real-only in NumPy too, or not holomorphic: abs, sign) refuse complex input here;
# gpuad.numpy computes abs and sign of complex values with other primitives.
COMPLEX = {"negative", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1", "sqrt", "sin",
           "cos", "tan", "tanh", "sinh", "cosh", "arctan", "arcsin", "arccos", "arctanh", "arcsinh",
           "arccosh",
           "reciprocal", "square", "add", "subtract", "multiply", "divide", "power"}

# Instantiations are built on first use in small groups, one op and dtype each: its forward
# and first-order VJP (all a gradient needs), its other first-order kernels (forward mode,
# HVPs), its higher orders. Ahead of time (the NVRTC gate, a wheel's prebuilt kernels) they
# are compiled per dtype in two bundles, first order and higher orders.
# Second order is declared (and NVRTC-gated in CI) for every op: HVPs, Hessians and grad of
# grad use it. Third and deeper orders (Taylor mode, third derivatives) are the same templates
# one dual level deeper and compile on demand, one module each: declaring the third order too
# made it most of the NVRTC gate's and the host build's time (special functions' series on
# nested duals), and CI's 30 minutes could not hold it.
FIRST, HIGHER = 1, 2


def higher_order(name):
    """The highest derivative order declared (compiled ahead of time) for op ``name``."""
    return HIGHER


def _op(name):
    return "ops::" + (UNARY.get(name) or BINARY.get(name) or TERNARY.get(name))[0]


def _declare():
    for T in ("float", "double", "gpuad::Complex<float>", "gpuad::Complex<double>"):
        cplx = T.startswith("gpuad::")
        src = COMPLEX_SOURCE if cplx else SOURCE
        tag = {"gpuad::Complex<float>": "complex64", "gpuad::Complex<double>": "complex128"
               }.get(T, T)
        for name in (*UNARY, *BINARY):
            if cplx and name not in COMPLEX:
                continue
            op = _op(name)
            if name in UNARY:
                grad = [f"unary_fwd<{op}, {T}>", f"unary_vjp<{op}, {T}, 1>"]
                fwd = [f"unary_jvp<{op}, {T}, 1>", f"unary_vjp_dual<{op}, {T}, 1>"]
                higher = [f"unary_{kind}<{op}, {T}, {k}>" for k in range(2, higher_order(name) + 1)
                          for kind in ("jvp", "vjp", "vjp_dual")]
            else:
                grad = [f"binary_fwd<{op}, {T}>", f"binary_vjp<{op}, {T}>"]
                fwd = [f"binary_jvp<{op}, {T}>", f"binary_vjp_dual<{op}, {T}>",
                       f"binary_deriv<{op}, {T}, 1, 0>", f"binary_deriv<{op}, {T}, 0, 1>"]
                higher = [f"binary_deriv<{op}, {T}, {a}, {k - a}>"
                          for k in range(2, higher_order(name) + 1)
                          for a in range(k + 1)]
            runtime.declare(src, grad, group=f"{tag}-{name}", bundle=f"{tag}-first")
            runtime.declare(src, fwd, group=f"{tag}-{name}-jvp", bundle=f"{tag}-first")
            runtime.declare(src, higher, group=f"{tag}-{name}-higher", bundle=f"{tag}-higher")
        for name in () if cplx else TERNARY:
            op = _op(name)
            orders = [(a, b, k - a - b) for k in range(1, higher_order(name) + 1)
                      for a in range(k, -1, -1) for b in range(k - a, -1, -1)]
            first = [f"ternary_deriv<{op}, {T}, {a}, {b}, {c}>" for a, b, c in orders[:3]]
            runtime.declare(src, [f"ternary_fwd<{op}, {T}>", *first], group=f"{tag}-{name}",
                            bundle=f"{tag}-first")
            runtime.declare(src, [f"ternary_deriv<{op}, {T}, {a}, {b}, {c}>"
                                  for a, b, c in orders[3:]],
                            group=f"{tag}-{name}-higher", bundle=f"{tag}-higher")


_declare()


@functools.cache
def kernel_of(name, dt):
    """(kernel source, C++ scalar type) of op ``name``'s kernels for arrays of dtype ``dt``."""
    dt = np.dtype(dt)
    if dt.kind == "c":
        if name not in COMPLEX:
            raise TypeError(f"{name} is not defined for complex input (dtype {dt}): it is not "
                            "holomorphic or NumPy defines it for real numbers only")
        return COMPLEX_SOURCE, ctype(dt)
    return SOURCE, ctype(dt)


def _io(*arrays):
    # What a launch reads or writes, counted only when a profile asks (Launcher.launch).
    return arrays


# ------------------------------------------------------------------ operand preparation

def _operand(a, out_shape, xp):
    """A contiguous operand for a kernel and its element stride: 1, or 0 for one element
    (other broadcasting is materialised: a copy)."""
    a = xp.asarray(a)
    if a.shape == out_shape and a.flags.c_contiguous:
        return a, 1
    if a.size == 1 and tuple(a.shape) != tuple(out_shape):
        return contiguous(a.reshape(()), xp), 0
    if tuple(a.shape) != tuple(out_shape):
        a = xp.broadcast_to(a, out_shape)   # general broadcasting: materialised (a copy)
    return contiguous(a, xp), 1


# The shortest period read in place: a run of outputs ends at each period's end, and runs
# shorter than this left the vectorised math library for scalar calls (arctan2 and power
# over (n, q) against an (n, 1) column took 1.2-2.8x a copy's time for q = 2..7 on the host).
MIN_PERIOD = 16


def _fwd_stride(s, out_shape):
    """binary_fwd's stride for an operand of shape ``s`` broadcast to ``out_shape`` (not
    equal to it, more than one element) where the kernel reads it in place: -p where it
    fills out's trailing axes (p elements) and repeats over the leading ones (a bias), q
    where it fills the leading axes and each element stands for the q trailing elements (a
    column); else None (p, q at least MIN_PERIOD)."""
    s = (1,) * (len(out_shape) - len(s)) + tuple(s)
    lead, trail = len(s), 0
    while lead and s[lead - 1] == 1:
        lead -= 1
    while trail < len(s) and s[trail] == 1:
        trail += 1
    p = math.prod(s)
    if out_shape[trail:] == s[trail:] and MIN_PERIOD <= p < 2 ** 31:
        return -p
    q = math.prod(out_shape[lead:])
    if out_shape[:lead] == s[:lead] and MIN_PERIOD <= q < 2 ** 31:
        return q
    return None


def fwd_strides(xs, ys, out_shape):
    """binary_fwd's strides (sx, sy) for operands of shapes xs, ys broadcast to out_shape
    (its rule in kernels/elementwise.cu): 1 full, 0 one element, -p periodic or q held where
    the partner is full, or an outer product's held and periodic pair (q = p); None where an
    operand must be materialised (a copy)."""
    xs, ys, out_shape = tuple(xs), tuple(ys), tuple(out_shape)
    sx = 1 if xs == out_shape else 0 if math.prod(xs) == 1 else _fwd_stride(xs, out_shape)
    sy = 1 if ys == out_shape else 0 if math.prod(ys) == 1 else _fwd_stride(ys, out_shape)
    if sx == 0 or sy == 0 or sx is None or sy is None or (sx != 1 and sy != 1 and sx != -sy):
        return None
    return sx, sy


def _fwd_operands(x, y, out_shape, xp):
    """x, y laid out for binary_fwd and their strides (:func:`fwd_strides`; where it finds
    none, each operand is materialised unless it is full or one element)."""
    x, y = xp.asarray(x), xp.asarray(y)
    strides = fwd_strides(x.shape, y.shape, out_shape)
    if strides is None:
        return (*_operand(x, out_shape, xp), *_operand(y, out_shape, xp))
    sx, sy = strides
    if sx != 1:
        x = x.reshape(-1)      # (its elements in order: the broadcast axes have length 1)
    if sy != 1:
        y = y.reshape(-1)
    return contiguous(x, xp), sx, contiguous(y, xp), sy


def _weak(x, y, xp, *more):
    """x, y with a Python number among them in the dtype of the arrays (rules multiply by
    constants such as 0.5, also complex arrays and float32 ones)."""
    if isinstance(x, (int, float, complex)) or isinstance(y, (int, float, complex)):
        dt = next(a.dtype for a in (x, y, *more) if hasattr(a, "dtype"))
        x, y = (xp.asarray(a, dtype=dt) if isinstance(a, (int, float, complex)) else a
                for a in (x, y))
    return x, y


def _lanes_operand(t, primal_shape, out_shape, stride, xp):
    """A tangent (L,) + primal_shape laid out for an operand of stride ``stride``."""
    if t is None:
        return None
    t = xp.asarray(t)
    L = t.shape[0]
    if stride == 0:
        return contiguous(t.reshape(L), xp)
    lead = len(out_shape) - len(primal_shape)
    t = t.reshape((L,) + (1,) * lead + tuple(primal_shape))
    if tuple(t.shape[1:]) != tuple(out_shape):
        t = xp.broadcast_to(t, (L,) + tuple(out_shape))
    return contiguous(t, xp)


# ------------------------------------------------------------------ fast paths
# First-order reverse mode over plain host arrays of one shape (or with a 0-d constant) is
# what a long chain of small operations is made of. There the forward impls and the VJP
# rules of the forward primitives hand the whole launch to the host launcher's C entry
# points (gpuad/runtime/fastcall.cpp): the checks, the output buffer and the argument
# frame in one call, for the same kernel, the same arguments and the same result as the
# general path below, without its layers (bind, operand preparation). The C side returns
# None for anything else (tracers, broadcasting, strided views, other dtypes): those take
# the general path. Only the host launcher has them; CuPy arrays never reach them.

_I32 = (np.int32(0), np.int32(1))


class _Fast:
    """What a C entry point of the host launcher needs besides the arrays: a kernel
    template's float64 and float32 instantiations (``{T}`` for the scalar type), each
    looked up once a host array of its dtype has taken the general path (so a program
    builds only what it uses); and the label a profile records."""
    __slots__ = ("template", "label", "kd", "kf")

    def __init__(self, template, label):
        self.template, self.label = template, label
        self.kd = self.kf = None

    def learn(self, dev, dt):
        """After a general-path launch on ``dev`` with dtype ``dt``: its kernel for C."""
        if dev.fast is None:
            return
        if dt == np.float64 and self.kd is None:
            self.kd = dev.kernel(SOURCE, self.template.format(T="double"))
        elif dt == np.float32 and self.kf is None:
            self.kf = dev.kernel(SOURCE, self.template.format(T="float"))


# ------------------------------------------------------------------ unary

def _unary_fwd_impl(name):
    op = _op(name)
    exprs = {dt: (kernel_of(name, dt)[0], f"unary_fwd<{op}, {ctype(dt)}>")
             for dt in base.FLOATS + (base.COMPLEX if name in COMPLEX else ())}
    label = f"{name}_fwd"
    fast = _Fast(f"unary_fwd<{op}, {{T}}>", label)

    def impl(x):
        dev = launcher(x)
        if dev.fast is not None:
            out = dev.fast.unary_fwd(fast.kd, fast.kf, x)
            if out is not None:
                if _profile.ON:
                    record(label, out.size, (x,), (out,))
                return out
        xp = dev.xp
        x = contiguous(x, xp)
        out = xp.empty(x.shape, x.dtype)
        dev.launch(*(exprs.get(x.dtype) or kernel_of(name, x.dtype)), label, x.size,
                   (x, out, x.size), (x,), (out,))
        fast.learn(dev, x.dtype)
        return out
    return impl


def _unary_fwd_jvp(name, prim):
    def jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return bind(prim, x), unary_deriv(x, t, name, 1, "jvp")
    return jvp


def _unary_fwd_vjp(name):
    fast = _Fast(f"unary_vjp<{_op(name)}, {{T}}, 1>", f"{name}_vjp")

    def vjp(g, ins, out, need, acc):
        x = ins[0]
        dev = launcher(g, x)
        if dev.fast is not None:
            r = dev.fast.unary_vjp(fast.kd, fast.kf, g, ins, need, acc)
            if r is not None:
                if _profile.ON:
                    record(fast.label, x.size, (x, g, acc[0]), r)
                return r
        gx = unary_deriv(x, g, name, 1, "vjp", acc=acc[0])
        fast.learn(dev, base.dtype(x))
        return (gx,)
    return vjp


def _single(v, xp):
    """The one element of a broadcast view (the cotangent of a sum), or None."""
    if v.ndim and not v.flags.c_contiguous and v.size > 1 and not any(v.strides):
        return contiguous(v.reshape(-1)[:1].reshape(()), xp)
    return None


@functools.cache
def _deriv_names(op, dt, order, kind):
    """(kernel source, expression, profile label) of a unary derivative launch."""
    src, T = kernel_of(op, dt)
    return (src, f"unary_{kind}<{_op(op)}, {T}, {order}>",
            f"{op}_{kind}" + (f"{order}" if order > 1 else ""))


def _unary_deriv_impl(x, v, op, order, kind, acc=None):
    dev = launcher(x, v)
    xp = dev.xp
    x, v = contiguous(x, xp), xp.asarray(v)
    n = x.size
    src, expr, label = _deriv_names(op, x.dtype, order, kind)
    if kind == "vjp":
        one = _single(v, xp) if v.shape == x.shape else None
        out = acc if acc is not None else xp.empty(v.shape, dtype=v.dtype)
        v = one if one is not None else contiguous(v, xp)
        lanes = out.size // n if n else 0
        dev.launch(src, expr, label, n,
               (x, v, out, n, lanes, _I32[acc is not None], _I32[one is None]),
               _io(x, v, acc), (out,))
        return out
    v = contiguous(v, xp)
    lanes = v.size // n if n else 0
    out = xp.empty(v.shape, dtype=v.dtype)
    dev.launch(src, expr, label, n, (x, v, out, n, lanes), _io(x, v), (out,))
    return out


def _unary_deriv_jvp(primals, tangents, op, order, kind, acc=None):
    (x, v), (tx, tv) = primals, tangents
    if tuple(shape(v)) == tuple(shape(x)):
        # The HVP case: one fused launch for the value and every tangent lane (added into
        # the sweep's dual cotangent buffer ``acc``, a (value, lanes) pair, if offered).
        out, tout = bind(unary_vjp_dual_p, x, v, tx, tv, op=op, order=order, acc=acc)
        return out, tout
    return unary_deriv(x, v, op, order, kind), _unary_deriv_tangent(x, v, tx, tv, op, order, kind)


def _unary_deriv_tangent(x, v, tx, tv, op, order, kind):
    # d[f^(k)(x) v] = f^(k)(x) dv + f^(k+1)(x) v dx
    terms = []
    if tv is not None:
        terms.append(unary_deriv(x, tv, op, order, kind))
    if tx is not None:
        vt = multiply(v, expand_lanes(tx, len(shape(v))))
        terms.append(unary_deriv(x, vt, op, order + 1, kind))
    return terms[0] if len(terms) == 1 else add(terms[0], terms[1])


def _unary_deriv_vjp(g, ins, out, need, acc, op, order, kind):
    x, v = ins
    gx = gv = None
    if need[1]:
        gv = unary_deriv(x, g, op, order, "vjp", acc=acc[1])
    if need[0]:
        gx = sum_to(unary_deriv(x, multiply(v, g), op, order + 1, "vjp"), shape(x))
    return gx, gv


unary_deriv_p = register(Primitive(
    "unary_deriv", _unary_deriv_impl, jvp=_unary_deriv_jvp, vjp=_unary_deriv_vjp,
    doc="f^(order)(x) * v, v with optional leading lane axes; kernels unary_jvp/unary_vjp"))


def unary_deriv(x, v, op, order, kind, acc=None):
    if v is None:
        return None
    return bind(unary_deriv_p, x, v, op=op, order=order, kind=kind, acc=acc)


def _unary_dual_impl(x, g, tx, tg, op, order, acc=None):
    dev = launcher(x, g, tx, tg)
    xp = dev.xp
    x, g = contiguous(x, xp), contiguous(g, xp)
    tx = None if tx is None else contiguous(tx, xp)
    tg = None if tg is None else contiguous(tg, xp)
    n = x.size
    L = (tx if tx is not None else tg).shape[0]
    if acc is not None:       # a dual cotangent buffer of the sweep: added into
        gx, tgx = acc
    else:
        gx = xp.empty(x.shape, dtype=x.dtype)
        tgx = xp.empty((L,) + x.shape, dtype=x.dtype)
    src, T = kernel_of(op, x.dtype)
    dev.launch(src, f"unary_vjp_dual<{_op(op)}, {T}, {order}>",
               f"{op}_vjp_dual", n, (x, g, tx, tg, gx, tgx, np.int64(n), np.int64(L),
                                     _I32[acc is not None]),
               _io(x, g, tx, tg, *(acc or ())), _io(gx, tgx))
    return [gx, tgx]


def _unary_dual_decompose(x, g, tx, tg, op, order):
    return [unary_deriv(x, g, op, order, "vjp"),
            _unary_deriv_tangent(x, g, tx, tg, op, order, "vjp")]


unary_vjp_dual_p = register(Primitive(
    "unary_vjp_dual", _unary_dual_impl, decompose=_unary_dual_decompose,
    multiple_results=True, doc="the unary VJP on dual numbers: value and all lanes"))


# ------------------------------------------------------------------ binary

def _out_shape(*arrays):
    shapes = [tuple(shape(a)) for a in arrays]
    s0 = shapes[0]
    for s in shapes[1:]:
        if s != s0 and s != ():
            return tuple(np.broadcast_shapes(*shapes))
    return s0 if s0 != () else max(shapes, key=len)


def _binary_fwd_impl(name):
    op = _op(name)
    exprs = {dt: (kernel_of(name, dt)[0], f"binary_fwd<{op}, {ctype(dt)}>")
             for dt in base.FLOATS + (base.COMPLEX if name in COMPLEX else ())}
    label = f"{name}_fwd"
    fast = _Fast(f"binary_fwd<{op}, {{T}}>", label)

    def impl(x, y):
        dev = launcher(x, y)
        if dev.fast is not None:
            out = dev.fast.binary_fwd(fast.kd, fast.kf, x, y)
            if out is not None:
                if _profile.ON:
                    record(label, out.size, (x, y), (out,))
                return out
        xp = dev.xp
        x, y = _weak(x, y, xp)
        out_shape = _out_shape(x, y)
        x, sx, y, sy = _fwd_operands(x, y, out_shape, xp)
        if x.dtype != y.dtype:
            raise TypeError(f"{name}: operands have dtypes {x.dtype} and {y.dtype}; "
                            "gpuad.numpy promotes before calling the primitive")
        out = xp.empty(out_shape, dtype=x.dtype)
        n = out.size
        dev.launch(*(exprs.get(x.dtype) or kernel_of(name, x.dtype)), label, n,
                   (x, y, out, n, np.int32(sx), np.int32(sy)), _io(x, y), (out,))
        fast.learn(dev, x.dtype)
        return out
    return impl


def _binary_fwd_jvp(name, prim):
    def jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return bind(prim, x, y), bind(binary_jvp_p, x, y, tx, ty, op=name)
    return jvp


def _binary_fwd_vjp(name):
    fast = _Fast(f"binary_vjp<{_op(name)}, {{T}}>", f"{name}_vjp")

    def vjp(g, ins, out, need, acc):
        x, y = ins
        dev = launcher(g, x, y)
        if dev.fast is not None:
            r = dev.fast.binary_vjp(fast.kd, fast.kf, g, ins, need, acc)
            if r is not None:
                if _profile.ON:
                    record(fast.label, g.size, (x, y, g, *(a for a in acc if a is not None)), r)
                return r
        r = binary_vjp(x, y, g, name, need, acc)
        fast.learn(dev, base.dtype(g))
        return r
    return vjp


def binary_vjp(x, y, g, op, need, acc=(None, None)):
    """Cotangents of both operands from one launch, summed to their shapes."""
    out_shape = tuple(shape(g))
    # Fused accumulation only where no broadcasting needs undoing afterwards.
    acc = tuple(a if a is not None and tuple(shape(v)) == out_shape else None
                for a, v in zip(acc, (x, y)))
    gx, gy = bind(binary_vjp_p, x, y, g, op=op, need=tuple(need),
                  acc=acc if any(a is not None for a in acc) else None)
    return (None if gx is None else sum_to(gx, shape(x)),
            None if gy is None else sum_to(gy, shape(y)))


def _binary_jvp_impl(x, y, tx, ty, op):
    dev = launcher(x, y, tx, ty)
    xp = dev.xp
    x, y = _weak(x, y, xp, tx, ty)
    out_shape = _out_shape(x, y)
    xs, ys = tuple(shape(x)), tuple(shape(y))
    x, sx = _operand(x, out_shape, xp)
    y, sy = _operand(y, out_shape, xp)
    tx = _lanes_operand(tx, xs, out_shape, sx, xp)
    ty = _lanes_operand(ty, ys, out_shape, sy, xp)
    L = (tx if tx is not None else ty).shape[0]
    out = xp.empty((L,) + out_shape, dtype=x.dtype)
    n = math.prod(out_shape)
    src, T = kernel_of(op, x.dtype)
    dev.launch(src, f"binary_jvp<{_op(op)}, {T}>", f"{op}_jvp", n,
           (x, y, tx, ty, out, np.int64(n), np.int64(L), np.int32(sx), np.int32(sy)),
           _io(x, y, tx, ty), (out,))
    return out


def _binary_jvp_decompose(x, y, tx, ty, op):
    ndim = len(_out_shape(x, y))
    terms = [binary_deriv(x, y, expand_lanes(t, ndim), op, a, 1 - a)
             for a, t in ((1, tx), (0, ty)) if t is not None]
    return terms[0] if len(terms) == 1 else add(terms[0], terms[1])


binary_jvp_p = register(Primitive(
    "binary_jvp", _binary_jvp_impl, decompose=_binary_jvp_decompose,
    doc="fx tx + fy ty over all lanes in one launch"))


@functools.cache
def _vjp_names(op, dt):
    src, T = kernel_of(op, dt)
    return src, f"binary_vjp<{_op(op)}, {T}>", f"{op}_vjp"


def _binary_vjp_impl(x, y, g, op, need, acc=None):
    dev = launcher(x, y, g)
    xp = dev.xp
    x, y = _weak(x, y, xp, g)
    out_shape = tuple(g.shape)
    x, sx = _operand(x, out_shape, xp)
    y, sy = _operand(y, out_shape, xp)
    g = xp.asarray(g)
    one = _single(g, xp)
    g = one if one is not None else contiguous(g, xp)
    acc = acc or (None, None)
    gx = (acc[0] if acc[0] is not None else xp.empty(out_shape, dtype=g.dtype)) if need[0] else None
    gy = (acc[1] if acc[1] is not None else xp.empty(out_shape, dtype=g.dtype)) if need[1] else None
    n = math.prod(out_shape)
    src, expr, label = _vjp_names(op, g.dtype)
    dev.launch(src, expr, label, n,
           (x, y, g, gx, gy, n, _I32[sx], _I32[sy], _I32[one is None],
            _I32[acc[0] is not None], _I32[acc[1] is not None]),
           _io(x, y, g, *(a for a in acc if a is not None)), _io(gx, gy))
    return [gx, gy]


def _binary_vjp_decompose(x, y, g, op, need):
    return [binary_deriv(x, y, g, op, 1, 0) if need[0] else None,
            binary_deriv(x, y, g, op, 0, 1) if need[1] else None]


def _binary_vjp_jvp(primals, tangents, op, need, acc=None):
    (x, y, g), (tx, ty, tg) = primals, tangents
    # acc: per operand, the sweep's dual cotangent buffer (a (value, lanes) pair) or None
    gx, gy, tgx, tgy = bind(binary_vjp_dual_p, x, y, g, tx, ty, tg, op=op, need=need,
                            acc=None if acc is None or all(a is None for a in acc) else tuple(acc))
    return [gx, gy], [tgx, tgy]


binary_vjp_p = register(Primitive(
    "binary_vjp", _binary_vjp_impl, jvp=_binary_vjp_jvp, decompose=_binary_vjp_decompose,
    multiple_results=True, doc="(fx g, fy g) at the output shape, one launch"))


def _binary_dual_impl(x, y, g, tx, ty, tg, op, need, acc=None):
    dev = launcher(x, y, g, tx, ty, tg)
    xp = dev.xp
    x, y = _weak(x, y, xp, g)
    out_shape = tuple(shape(g))
    xs, ys = tuple(shape(x)), tuple(shape(y))
    x, sx = _operand(x, out_shape, xp)
    y, sy = _operand(y, out_shape, xp)
    g = contiguous(g, xp)
    tx = _lanes_operand(tx, xs, out_shape, sx, xp)
    ty = _lanes_operand(ty, ys, out_shape, sy, xp)
    tg = None if tg is None else contiguous(tg, xp)
    L = next(t for t in (tx, ty, tg) if t is not None).shape[0]
    def buf(s, want):
        return xp.empty(s, dtype=g.dtype) if want else None
    ax, ay = acc or (None, None)     # dual cotangent buffers of the sweep: added into
    gx, tgx = ax if ax is not None else (buf(out_shape, need[0]), buf((L,) + out_shape, need[0]))
    gy, tgy = ay if ay is not None else (buf(out_shape, need[1]), buf((L,) + out_shape, need[1]))
    n = g.size
    src, T = kernel_of(op, g.dtype)
    dev.launch(src, f"binary_vjp_dual<{_op(op)}, {T}>", f"{op}_vjp_dual", n,
               (x, y, g, tx, ty, tg, gx, gy, tgx, tgy, np.int64(n), np.int64(L),
                np.int32(sx), np.int32(sy), _I32[ax is not None], _I32[ay is not None]),
               _io(x, y, g, tx, ty, tg, *(ax or ()), *(ay or ())), _io(gx, gy, tgx, tgy))
    return [gx, gy, tgx, tgy]


def _binary_dual_decompose(x, y, g, tx, ty, tg, op, need):
    ndim = len(shape(g))
    res = []
    for want, (ax, ay) in zip(need, ((1, 0), (0, 1))):
        if not want:
            res.append((None, None))
            continue
        terms = [] if tg is None else [binary_deriv(x, y, tg, op, ax, ay)]
        for t, (dx, dy) in ((tx, (1, 0)), (ty, (0, 1))):
            if t is not None:
                terms.append(binary_deriv(x, y, multiply(g, expand_lanes(t, ndim)),
                                          op, ax + dx, ay + dy))
        tsum = terms[0]
        for t in terms[1:]:
            tsum = add(tsum, t)
        res.append((binary_deriv(x, y, g, op, ax, ay), tsum))
    return [res[0][0], res[1][0], res[0][1], res[1][1]]


binary_vjp_dual_p = register(Primitive(
    "binary_vjp_dual", _binary_dual_impl, decompose=_binary_dual_decompose,
    multiple_results=True, doc="the binary VJP on dual numbers: values and all lanes"))


def _lanes(v, out_shape, xp):
    """The tangent/cotangent lanes ``v`` of a derivative kernel as a contiguous
    (lanes..., *out_shape) array (broadcast against the output), the element count, the
    lane count, and the kernel's output buffer of v's shape."""
    v = xp.asarray(v)
    lead = v.ndim - len(out_shape)
    if lead < 0 or tuple(v.shape[lead:]) != out_shape:   # v broadcasts against the output
        v = xp.broadcast_to(v, tuple(v.shape[:max(lead, 0)]) + out_shape)
    v = contiguous(v, xp)
    n = math.prod(out_shape)
    return v, n, (v.size // n if n else 0), xp.empty(v.shape, dtype=v.dtype)


def _binary_deriv_impl(x, y, v, op, ax, ay):
    dev = launcher(x, y, v)
    xp = dev.xp
    x, y = _weak(x, y, xp, v)
    out_shape = _out_shape(x, y)
    x, sx = _operand(x, out_shape, xp)
    y, sy = _operand(y, out_shape, xp)
    v, n, lanes, out = _lanes(v, out_shape, xp)
    src, T = kernel_of(op, v.dtype)
    dev.launch(src, f"binary_deriv<{_op(op)}, {T}, {ax}, {ay}>",
           f"{op}_d{ax}{ay}", n,
           (x, y, v, out, np.int64(n), np.int64(lanes), np.int32(sx), np.int32(sy)),
           _io(x, y, v), (out,))
    return out


def _binary_deriv_jvp(primals, tangents, op, ax, ay):
    (x, y, v), (tx, ty, tv) = primals, tangents
    ndim = len(shape(v))
    terms = [] if tv is None else [binary_deriv(x, y, tv, op, ax, ay)]
    for t, (dx, dy) in ((tx, (1, 0)), (ty, (0, 1))):
        if t is not None:
            terms.append(binary_deriv(x, y, multiply(v, expand_lanes(t, ndim)),
                                      op, ax + dx, ay + dy))
    tout = terms[0]
    for t in terms[1:]:
        tout = add(tout, t)
    return binary_deriv(x, y, v, op, ax, ay), tout


def _binary_deriv_vjp(g, ins, out, need, acc, op, ax, ay):
    x, y, v = ins
    gv = sum_to(binary_deriv(x, y, g, op, ax, ay), shape(v)) if need[2] else None
    vg = multiply(v, g) if need[0] or need[1] else None
    gx = sum_to(binary_deriv(x, y, vg, op, ax + 1, ay), shape(x)) if need[0] else None
    gy = sum_to(binary_deriv(x, y, vg, op, ax, ay + 1), shape(y)) if need[1] else None
    return gx, gy, gv


binary_deriv_p = register(Primitive(
    "binary_deriv", _binary_deriv_impl, jvp=_binary_deriv_jvp, vjp=_binary_deriv_vjp,
    doc="d^(ax+ay) f / dx^ax dy^ay (x, y) * v, v with optional leading lane axes"))


def binary_deriv(x, y, v, op, ax, ay):
    return bind(binary_deriv_p, x, y, v, op=op, ax=ax, ay=ay)


# ------------------------------------------------------------------ ternary
# No fused kernels: the JVP is a sum of ternary_deriv launches (one per moving input), the
# VJP one launch per wanted cotangent. betainc's derivatives cost a continued fraction on
# dual numbers each, which a fused launch would not share anyway.

_UNIT = ((1, 0, 0), (0, 1, 0), (0, 0, 1))


def _ternary_operands(ins, xp):
    if any(isinstance(a, (int, float)) for a in ins):    # a rule's constant: the arrays' dtype
        dt = next(a.dtype for a in ins if hasattr(a, "dtype"))
        ins = [xp.asarray(a, dtype=dt) for a in ins]
    ins = [xp.asarray(a) for a in ins]
    dts = {a.dtype for a in ins}
    if len(dts) > 1:
        raise TypeError(f"ternary op: operands have dtypes {sorted(map(str, dts))}; "
                        "gpuad.scipy.special promotes before calling the primitive")
    out_shape = _out_shape(*ins)
    ops_, strides = zip(*(_operand(a, out_shape, xp) for a in ins))
    return ops_, tuple(np.int32(s) for s in strides), out_shape


def _ternary_fwd_impl(name):
    def impl(x, y, z):
        dev = launcher(x, y, z)
        xp = dev.xp
        (x, y, z), (sx, sy, sz), out_shape = _ternary_operands((x, y, z), xp)
        out = xp.empty(out_shape, dtype=x.dtype)
        n = out.size
        src, T = kernel_of(name, x.dtype)
        dev.launch(src, f"ternary_fwd<{_op(name)}, {T}>", f"{name}_fwd", n,
                   (x, y, z, out, np.int64(n), sx, sy, sz), _io(x, y, z), (out,))
        return out
    return impl


def _ternary_deriv_impl(x, y, z, v, op, ax, ay, az):
    dev = launcher(x, y, z, v)
    xp = dev.xp
    (x, y, z), (sx, sy, sz), out_shape = _ternary_operands((x, y, z), xp)
    v, n, lanes, out = _lanes(v, out_shape, xp)
    src, T = kernel_of(op, v.dtype)
    dev.launch(src, f"ternary_deriv<{_op(op)}, {T}, {ax}, {ay}, {az}>",
               f"{op}_d{ax}{ay}{az}", n,
               (x, y, z, v, out, np.int64(n), np.int64(lanes), sx, sy, sz), _io(x, y, z, v),
               (out,))
    return out


def ternary_deriv(x, y, z, v, op, order):
    return bind(ternary_deriv_p, x, y, z, v, op=op, ax=order[0], ay=order[1], az=order[2])


def _plus(a, b):
    return tuple(i + j for i, j in zip(a, b))


def _ternary_tangent(ins, tangents, v, op, order):
    """d[f^(order)(x, y, z) v] along the tangents of x, y, z (v fixed); None if all are."""
    ndim = len(shape(v))
    tout = None
    for t, e in zip(tangents, _UNIT):
        if t is not None:
            term = ternary_deriv(*ins, multiply(v, expand_lanes(t, ndim)), op, _plus(order, e))
            tout = term if tout is None else add(tout, term)
    return tout


def _ternary_deriv_jvp(primals, tangents, op, ax, ay, az):
    *ins, v = primals
    *tins, tv = tangents
    order = (ax, ay, az)
    tout = _ternary_tangent(ins, tins, v, op, order)
    if tv is not None:
        term = ternary_deriv(*ins, tv, op, order)
        tout = term if tout is None else add(tout, term)
    return ternary_deriv(*ins, v, op, order), tout


def _ternary_deriv_vjp(g, ins, out, need, op, ax, ay, az):
    *xs, v = ins
    order = (ax, ay, az)
    vg = multiply(v, g) if any(need[:3]) else None
    res = [sum_to(ternary_deriv(*xs, vg, op, _plus(order, e)), shape(a)) if want else None
           for want, a, e in zip(need[:3], xs, _UNIT)]
    gv = sum_to(ternary_deriv(*xs, g, op, order), shape(v)) if need[3] else None
    return (*res, gv)


ternary_deriv_p = register(Primitive(
    "ternary_deriv", _ternary_deriv_impl, jvp=_ternary_deriv_jvp, vjp=_ternary_deriv_vjp,
    doc="d^(ax+ay+az) f / dx^ax dy^ay dz^az (x, y, z) * v, v with optional leading lane axes"))


def _ternary_fwd_rules(name, prim):
    def jvp(primals, tangents):
        ins = primals
        ndim = len(_out_shape(*ins))
        tout = None
        for t, e in zip(tangents, _UNIT):
            if t is not None:
                term = ternary_deriv(*ins, expand_lanes(t, ndim), name, e)
                tout = term if tout is None else add(tout, term)
        return bind(prim, *ins), tout

    def vjp(g, ins, out, need):
        return tuple(sum_to(ternary_deriv(*ins, g, name, e), shape(a)) if want else None
                     for want, a, e in zip(need, ins, _UNIT))
    return jvp, vjp


# ------------------------------------------------------------------ the forward primitives
# add and subtract are linear: their rules hand the cotangent over (no kernel, no acc).

def _lin_jvp(prim, sign):
    def jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        out_shape = _out_shape(x, y)
        ndim = len(out_shape)
        tx = None if tx is None else expand_lanes(tx, ndim)
        ty = None if ty is None else expand_lanes(ty, ndim)
        if ty is not None and sign < 0:
            ty = negative(ty)
        if tx is None or ty is None:
            t = tx if ty is None else ty
            t = base.broadcast_to(t, (shape(t)[0],) + tuple(out_shape))
        else:
            t = add(tx, ty)
        return bind(prim, x, y), t
    return jvp


def _lin_vjp(sign):
    def vjp(g, ins, out, need):
        x, y = ins                    # shapes only (saves="none" keeps no data)
        gx = sum_to(g, shape(x)) if need[0] else None
        gy = None
        if need[1]:
            gy = sum_to(g if sign > 0 else negative(g), shape(y))
        return gx, gy
    return vjp


def _forward_primitive(name):
    """The primitive of one table row: its kernel impl and rules."""
    doc = f"elementwise {name}; kernel op {_op(name)}"
    if name in UNARY:
        p = Primitive(name, _unary_fwd_impl(name), vjp=_unary_fwd_vjp(name), doc=doc)
        p.jvp = _unary_fwd_jvp(name, p)
    elif name in TERNARY:
        p = Primitive(name, _ternary_fwd_impl(name), doc=doc)
        p.jvp, p.vjp = _ternary_fwd_rules(name, p)
    elif name in ("add", "subtract"):
        sign = 1 if name == "add" else -1
        p = Primitive(name, _binary_fwd_impl(name), vjp=_lin_vjp(sign), saves="none",
                      linear=True, doc=doc)
        p.jvp = _lin_jvp(p, sign)
    else:
        p = Primitive(name, _binary_fwd_impl(name), vjp=_binary_fwd_vjp(name), doc=doc)
        p.jvp = _binary_fwd_jvp(name, p)
    return register(p)


PRIMS: dict[str, Primitive] = {name: _forward_primitive(name)
                               for name in (*UNARY, *BINARY, *TERNARY)}


def add(x, y):
    return bind(PRIMS["add"], x, y)


def multiply(x, y):
    return bind(PRIMS["multiply"], x, y)


def negative(x):
    return bind(PRIMS["negative"], x)
