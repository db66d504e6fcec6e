"""Complex numbers: the linear maps between real and complex arrays, and the modulus.

Convention (JAX's and autograd's): a cotangent g of a complex value pairs with a tangent t
as Re(g t), without conjugation. So a complex-linear map t -> a t transposes to g -> a g,
and for real f the gradient at z = x + iy is df/dx - i df/dy. Under it:

``real``     Re z                 JVP Re t          transpose g -> g + 0i
``imag``     Im z                 JVP Im t          transpose g -> -i g
``conj``     conj z (R-linear)    JVP conj t        transpose g -> conj g
``complex``  x + i y (x, y real)  JVP tx + i ty     transpose g -> (Re g, -Im g)
``complex_abs``  |z| (kernel ``complex_abs`` in kernels/complex.cu)
             JVP Re(conj(u) t), VJP g conj(u), u = z / |z| (0 at z = 0: the derivative
             there is the subgradient 0, as for real abs)
"""
from __future__ import annotations

import numpy as np

from .. import runtime
from ..runtime.launch import launcher
from ..core import Primitive, bind, register, shape, dtype, full_lower
from .base import (xp_of, deflinear, contiguous, astype, record_library, real_dtype,
                   complex_dtype)
from .elementwise import COMPLEX_SOURCE, PRIMS, multiply
from .select import select

runtime.declare(COMPLEX_SOURCE, ["complex_abs<float>", "complex_abs<double>"], group="abs")


def _zeros(like, dt=None):
    v = full_lower(like)
    return xp_of(v).zeros(shape(v), dtype=dt or dtype(v))


def _library(name):
    def impl(x):
        out = getattr(xp_of(x), name)(x)
        record_library(f"xp.{name}", out, x)
        return out
    return impl


real_p = register(deflinear(Primitive(
    "real", _library("real"), saves="none", doc="the real part of a complex array (a view)"),
    lanes=lambda t: real(t),
    transpose=lambda g, ins, out: (astype(g, ins[0].dtype),)))

imag_p = register(deflinear(Primitive(
    "imag", _library("imag"), saves="none",
    doc="the imaginary part of a complex array (a view)"),
    lanes=lambda t: imag(t),
    transpose=lambda g, ins, out: (make_complex(_zeros(g), bind(PRIMS["negative"], g)),)))

conj_p = register(deflinear(Primitive(
    "conj", _library("conj"), saves="none",
    doc="the complex conjugate (real-linear, not complex-linear)"),
    lanes=lambda t: conj(t),
    transpose=lambda g, ins, out: (conj(g),)))


def _complex_impl(x, y):
    xp = xp_of(x, y)
    out = xp.empty(np.broadcast_shapes(x.shape, y.shape), dtype=complex_dtype(x.dtype))
    out.real[...] = x      # views in NumPy and CuPy alike
    out.imag[...] = y
    record_library("xp.complex", out, x, y)
    return out


def _complex_transpose(g, ins, out, need):
    return (real(g) if need[0] else None,
            bind(PRIMS["negative"], imag(g)) if need[1] else None)


complex_p = register(deflinear(Primitive(
    "complex", _complex_impl, saves="none",
    doc="x + i y from real x, y of one dtype and shape"),
    lanes=lambda tx, ty: make_complex(tx, ty), transpose=_complex_transpose, n=None))


def real(z):
    return bind(real_p, z) if np.dtype(dtype(z)).kind == "c" else z


def imag(z):
    if np.dtype(dtype(z)).kind != "c":
        return _zeros(z)
    return bind(imag_p, z)


def conj(z):
    return bind(conj_p, z) if np.dtype(dtype(z)).kind == "c" else z


def make_complex(x, y):
    return bind(complex_p, x, y)


def times_i(y):
    """i y for a real y (a complex array)."""
    return make_complex(_zeros(y), y)


# ------------------------------------------------------------------ modulus

def _abs_impl(z):
    dev = launcher(z)
    xp = dev.xp
    z = contiguous(z, xp)
    out = xp.empty(z.shape, dtype=real_dtype(z.dtype))
    dev.launch(COMPLEX_SOURCE, f"complex_abs<{'float' if out.dtype == np.float32 else 'double'}>",
               "complex_abs", z.size, (z, out, z.size), (z,), (out,))
    return out


def phase(z, r=None):
    """z / |z|, 0 where z = 0 (``r``: |z| if already computed). The mask is a constant, so
    every derivative of the quotient is 0 at z = 0 as well."""
    if r is None:
        r = complex_abs(z)
    keep = full_lower(r) > 0
    xp = xp_of(full_lower(r))
    one = xp.ones((), dtype=dtype(full_lower(r)))
    # each part divided by the real |z|, as NumPy: its signed zeros (sign(-1 - 0i) = -1 - 0i,
    # where z times or over |z| + 0i gives -1 + 0i); +0 + 0i at z = 0 as NumPy
    rs = select(keep, r, one)
    div = PRIMS["divide"]
    q = make_complex(bind(div, real(z), rs), bind(div, imag(z), rs))
    return select(keep, q, xp.zeros((), dtype=dtype(z)))


def _abs_jvp(primals, tangents):
    (z,), (t,) = primals, tangents
    r = complex_abs(z)
    return r, real(multiply(conj(phase(z, r)), t))


def _abs_vjp(g, ins, out):
    (z,) = ins
    return (multiply(astype(g, dtype(z)), conj(phase(z, out))),)


complex_abs_p = register(Primitive(
    "complex_abs", _abs_impl, jvp=_abs_jvp, vjp=_abs_vjp, saves="both",
    doc="|z| of a complex array (kernel complex_abs); derivative 0 at z = 0"))


def complex_abs(z):
    return bind(complex_abs_p, z)


def abs2(z):
    """|z|^2 = Re(z)^2 + Im(z)^2 for complex z (a real array), z^2 for real z."""
    if np.dtype(dtype(z)).kind != "c":
        return multiply(z, z)
    sq = PRIMS["square"]
    return bind(PRIMS["add"], bind(sq, real(z)), bind(sq, imag(z)))
