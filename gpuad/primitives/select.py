"""where(c, x, y): a library call; its rules route the tangent or cotangent by the mask."""
from __future__ import annotations

from ..core import Primitive, bind, register, shape
from .base import xp_of, on_device, sum_to, expand_lanes, record_library


def _impl(c, x, y):
    xp = xp_of(c, x, y)
    out = xp.where(*on_device(xp, (c, x, y)))
    record_library("xp.where", out, c, x, y)
    return out


def _jvp(primals, tangents):
    (c, x, y), (_, tx, ty) = primals, tangents
    out = select(c, x, y)
    ndim = len(shape(out))
    L = shape(tx if tx is not None else ty)[0]
    tx = _lane_zero(out, L) if tx is None else expand_lanes(tx, ndim)
    ty = _lane_zero(out, L) if ty is None else expand_lanes(ty, ndim)
    return out, select(c, tx, ty)


def _lane_zero(like, L):
    from ..core import full_lower
    base_ = full_lower(like)
    return xp_of(base_).zeros((L,) + tuple(shape(like)), dtype=base_.dtype)


def _vjp(g, ins, out, need):
    c, x, y = ins
    z = _lane_zero(g, 1).reshape(shape(g))
    gx = sum_to(select(c, g, z), shape(x)) if need[1] else None
    gy = sum_to(select(c, z, g), shape(y)) if need[2] else None
    return None, gx, gy


select_p = register(Primitive("select", _impl, jvp=_jvp, vjp=_vjp,
                              doc="where(c, x, y) with a boolean, non-differentiated c"))


def select(c, x, y):
    return bind(select_p, c, x, y)
