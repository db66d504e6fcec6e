"""Products and contractions of gpuad.numpy: matmul through ``xp.matmul``, everything else
through one ``einsum`` primitive (cuBLAS on a GPU, BLAS on the CPU)."""
from __future__ import annotations

import math

import numpy as np

from ..primitives import base, linalg as LA
from ..primitives import complex as _cx
from ..core import Tracer
from ._core import (prepare, shape, normalize_axis, strong, numpy_out, to_operand,
                    traced_dtype)
from ._elementwise import multiply

__all__ = ["matmul", "einsum", "dot", "inner", "outer", "tensordot", "trace", "vdot", "vecdot",
           "matvec", "vecmat", "kron", "cross"]


def matmul(a, b, /):
    """Matrix product with NumPy's ``matmul`` rules (also the ``@`` operator).

    ``out[..., i, j] = sum_k a[..., i, k] b[..., k, j]``; batch axes broadcast; a 1-D
    operand is a vector (a row on the left, a column on the right). Rules:
    ``d out = da b + a db``, ``ga = g b^T``, ``gb = a^T g`` (summed over broadcast axes).

    Example::

        >>> a, b = np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]])
        >>> gpuad.grad(lambda a: gnp.sum(a @ b))(a)
        array([[3., 4.]])
    """
    (a, b), _ = prepare(a, b)
    sa, sb = tuple(shape(a)), tuple(shape(b))
    if not sa or not sb:
        raise ValueError(f"matmul: operands of shapes {sa} and {sb}: a 0-d operand has no "
                         "matrix axes (use multiply)")
    ka, kb = sa[-1], sb[-2] if len(sb) > 1 else sb[0]
    if ka != kb:
        raise ValueError(f"matmul: shapes {sa} and {sb} are not aligned: {ka} (last axis "
                         f"of the first) != {kb} (the contracted axis of the second)")
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"matmul: the batch axes of shapes {sa} and {sb} do not "
                         "broadcast") from None
    out = LA.matmul(base.reshape(a, (1,) + sa) if len(sa) == 1 else a,
                    base.reshape(b, sb + (1,)) if len(sb) == 1 else b)
    so = tuple(shape(out))
    if len(sb) == 1:
        so = so[:-1]
    if len(sa) == 1:
        so = so[:-2] + so[-1:] if len(sb) > 1 else so[:-1]
    return base.reshape(out, so)


def _explicit(subscripts, shapes):
    """``subscripts`` with the output written out and every ``...`` replaced by labels."""
    s = subscripts.replace(" ", "")
    lhs, out = s.split("->") if "->" in s else (s, None)
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(ins)} operands but "
                         f"{len(shapes)} were given")
    if any(not (c.isalpha() or c in ".,->") for c in s):
        raise ValueError(f"einsum: subscripts {subscripts!r} may use only letters, ',', "
                         "'->' and '...'")
    n_ell = 0
    for k, (sub, sh) in enumerate(zip(ins, shapes)):
        named = len(sub.replace("...", ""))
        if ("..." in sub and named > len(sh)) or ("..." not in sub and named != len(sh)):
            raise ValueError(f"einsum: operand {k} has shape {tuple(sh)} but subscripts "
                             f"{sub!r} for it")
        if "..." in sub:
            n_ell = max(n_ell, len(sh) - named)
    ell = "".join(LA.fresh_labels(n_ell, s))
    # Broadcast axes align on the right, as in NumPy broadcasting.
    ins = [sub.replace("...", ell[n_ell - (len(sh) - len(sub) + 3):]) if "..." in sub else sub
           for sub, sh in zip(ins, shapes)]
    if out is None:
        # NumPy's implicit output: the broadcast axes, then labels used once, sorted.
        once = sorted(c for c in set(lhs) if c.isalpha() and lhs.count(c) == 1)
        out = ell + "".join(once)
    else:
        out = out.replace("...", ell)
    for c in out:
        if c not in "".join(ins):
            raise ValueError(f"einsum: output label {c!r} of {subscripts!r} is not an "
                             "input label")
    return ins, out


def einsum(subscripts, *operands, out=None, optimize=None, dtype=None, order="K",
           casting="safe"):
    """Einstein summation, like ``numpy.einsum`` (string subscripts, implicit or explicit
    output, ``...`` broadcasting, repeated labels for diagonals).

    ``einsum("ij,jk->ik", a, b)[i, k] = sum_j a[i, j] b[j, k]``. Multilinear: the tangent
    is a sum of einsums with one operand replaced by its tangent (the tangent lanes are one
    more label) and the cotangent of an operand is the einsum of the output cotangent with
    the other operands, back to that operand's labels. ``optimize`` is accepted for
    compatibility; contractions are always ordered by the library. ``dtype`` (floating or
    complex: the operands cast to it under ``casting``, NumPy's rule) and ``order`` (a
    layout: the values are the same) as NumPy's; ``out=`` is NumPy's own call (untraced).

    Example::

        >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> gnp.einsum("ii", a), gpuad.grad(lambda a: gnp.einsum("ij,ij", a, a))(a)
        (np.float64(5.0), array([[2., 4.],
               [6., 8.]]))
    """
    if out is not None or (dtype is not None and np.dtype(dtype).kind not in "fc"):
        if out is None and any(isinstance(o, Tracer) for o in operands):
            traced_dtype("einsum", dtype)          # (raises: not floating or complex)
        kw = {k: v for k, v in (("out", out), ("dtype", dtype)) if v is not None}
        return numpy_out("einsum", (subscripts, *operands),
                         dict(kw, optimize=bool(optimize), order=order, casting=casting))
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved(subscripts, operands)
    if dtype is not None:
        dt = np.dtype(dtype)
        for o in operands:
            odt = np.dtype(o.dtype) if hasattr(o, "dtype") else np.asarray(o).dtype
            if not np.can_cast(odt, dt, casting):
                raise TypeError(f"einsum: cannot cast an operand of dtype {odt} to {dt} with "
                                f"casting={casting!r} (NumPy's rule)")
        ops, xp = prepare(*map(strong, operands))
        ops = [to_operand(o, dt, xp) for o in ops]
    else:
        ops, _ = prepare(*map(strong, operands))   # (as numpy.asarray each: no weak scalars)
    ins, out = _explicit(subscripts, [shape(o) for o in ops])
    sizes: dict = {}
    for sub, o in zip(ins, ops):
        for c, d in zip(sub, shape(o)):
            if d != 1 and sizes.setdefault(c, d) != d:
                raise ValueError(f"einsum: label {c!r} of {subscripts!r} has sizes "
                                 f"{sizes[c]} and {d} (shapes "
                                 f"{[tuple(shape(o)) for o in ops]})")
    # Size-1 axes broadcast (views): the primitive then sees one size per label.
    ops = [base.broadcast_to(o, tuple(sizes.get(c, 1) for c in sub))
           for sub, o in zip(ins, ops)]
    return LA.einsum(",".join(ins) + "->" + out, *ops)


def _interleaved(first, rest):
    """einsum(op0, sublist0, op1, sublist1, ..., [sublist_out]) as string subscripts."""
    args = (first,) + tuple(rest)
    out = args[-1] if len(args) % 2 else None
    args = args[:-1] if len(args) % 2 else args
    ops, subs = list(args[0::2]), list(args[1::2])
    if len(subs) != len(ops) or not all(isinstance(sub, (list, tuple)) for sub in subs):
        raise ValueError("einsum: the interleaved form is op0, sublist0, op1, sublist1, ... "
                         "[, output sublist]")
    ids = sorted({i for sub in subs + ([out] if out is not None else []) for i in sub
                  if i is not Ellipsis})
    letters = dict(zip(ids, LA.fresh_labels(len(ids), "")))

    def word(sub):
        return "".join("..." if i is Ellipsis else letters[i] for i in sub)
    spec = ",".join(word(sub) for sub in subs) + ("" if out is None else "->" + word(out))
    return spec, ops


def _labels(n, start=0):
    return "".join(LA.fresh_labels(start + n, "")[start:])


def dot(a, b, /):
    """``numpy.dot``: a product for 0-d operands, ``matmul`` for 1-D and 2-D ones, and for
    N-D ones the sum over the last axis of ``a`` and the second-to-last of ``b``:
    ``dot(a, b)[i, j, k, m] = sum_l a[i, j, l] b[k, l, m]``.

    Example::

        >>> gpuad.grad(lambda x: gnp.dot(x, x))(np.array([1.0, 2.0]))
        array([2., 4.])
    """
    (a, b), _ = prepare(strong(a), strong(b))   # a Python scalar is an array here
    sa, sb = tuple(shape(a)), tuple(shape(b))
    if not sa or not sb:
        return multiply(a, b)
    if len(sa) <= 2 and len(sb) <= 2:
        return matmul(a, b)
    kb = len(sb) - 2 if len(sb) > 1 else 0
    if sa[-1] != sb[kb]:
        raise ValueError(f"dot: shapes {sa} and {sb} are not aligned: {sa[-1]} (last axis "
                         f"of the first) != {sb[kb]} (axis {kb} of the second)")
    la, lb = _labels(len(sa)), _labels(len(sb), len(sa))
    lb = lb[:kb] + la[-1] + lb[kb + 1:]
    return einsum(f"{la},{lb}->{la[:-1]}{lb[:kb] + lb[kb + 1:]}", a, b)


def inner(a, b, /):
    """``numpy.inner``: the sum over the last axes, ``inner(a, b)[i, j] =
    sum_k a[i, k] b[j, k]`` (a product for 0-d operands).

    Example::

        >>> gnp.inner(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        np.float64(11.0)
    """
    (a, b), _ = prepare(strong(a), strong(b))   # a Python scalar is an array here
    sa, sb = tuple(shape(a)), tuple(shape(b))
    if not sa or not sb:
        return multiply(a, b)
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: shapes {sa} and {sb} are not aligned: last axes "
                         f"{sa[-1]} != {sb[-1]}")
    la, lb = _labels(len(sa)), _labels(len(sb) - 1, len(sa))
    return einsum(f"{la},{lb}{la[-1]}->{la[:-1]}{lb}", a, b)


def outer(a, b, /):
    """``numpy.outer``: ``outer(a, b)[i, j] = a.ravel()[i] * b.ravel()[j]``.

    Example::

        >>> gnp.outer(np.array([1.0, 2.0]), np.array([3.0]))
        array([[3.],
               [6.]])
    """
    (a, b), _ = prepare(strong(a), strong(b))   # a Python scalar is an array here
    a = base.reshape(a, (int(np.prod(shape(a), dtype=np.int64)),))
    b = base.reshape(b, (int(np.prod(shape(b), dtype=np.int64)),))
    return einsum("i,j->ij", a, b)


def tensordot(a, b, /, axes=2):
    """``numpy.tensordot``: sum over ``axes`` of ``a`` paired with ``axes`` of ``b`` (an int
    N means the last N of ``a`` with the first N of ``b``); the free axes of ``a`` then of
    ``b`` remain.

    Example::

        >>> a = np.ones((2, 3))
        >>> gnp.tensordot(a, a, axes=([1], [1]))
        array([[3., 3.],
               [3., 3.]])
    """
    (a, b), _ = prepare(strong(a), strong(b))   # a Python scalar is an array here
    sa, sb = tuple(shape(a)), tuple(shape(b))
    if isinstance(axes, (int, np.integer)):
        xa, xb = list(range(len(sa) - int(axes), len(sa))), list(range(int(axes)))
    else:
        xa, xb = ([ax] if isinstance(ax, (int, np.integer)) else list(ax) for ax in axes)
        xa, xb = [int(i) % len(sa) for i in xa], [int(j) % len(sb) for j in xb]
    if len(xa) != len(xb) or any(sa[i] != sb[j] for i, j in zip(xa, xb)):
        raise ValueError(f"tensordot: shapes {sa} and {sb} do not match along axes "
                         f"{xa} and {xb}")
    la, lb = list(_labels(len(sa))), list(_labels(len(sb), len(sa)))
    for i, j in zip(xa, xb):
        lb[j] = la[i]
    out = [c for k, c in enumerate(la) if k not in xa] + [c for k, c in enumerate(lb)
                                                          if k not in xb]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    """``numpy.trace``: the sum of the (``offset``) diagonal of the matrices in axes
    ``axis1``, ``axis2``; the other axes remain. Linear: the cotangent is ``g`` placed on
    that diagonal.

    Example::

        >>> gpuad.grad(lambda a: gnp.trace(a))(np.ones((2, 3)))
        array([[1., 0., 0.],
               [0., 1., 0.]])
    """
    (a,), xp = prepare(a)
    if dtype is not None:
        a = base.astype(a, dtype)
    sa = tuple(shape(a))
    i = normalize_axis(axis1, len(sa), "axis1")[0]
    j = normalize_axis(axis2, len(sa), "axis2")[0]
    if i == j:
        raise ValueError("trace: axis1 and axis2 cannot be the same")
    la = _labels(len(sa))
    diag = xp.eye(sa[i], sa[j], k=offset, dtype=a.dtype)   # a constant 0/1 mask
    out = "".join(c for k, c in enumerate(la) if k not in (i, j))
    return einsum(f"{la},{la[i]}{la[j]}->{out}", a, diag)


def vdot(a, b, /):
    """``numpy.vdot``: the dot product of the flattened arrays with the first one
    conjugated, ``sum(conj(a.ravel()) * b.ravel())``."""
    (a, b), _ = prepare(strong(a), strong(b))   # a Python scalar is an array here
    if math.prod(shape(a)) != math.prod(shape(b)):
        raise ValueError(f"vdot: arrays of shapes {tuple(shape(a))} and {tuple(shape(b))} "
                         "have different sizes")
    return einsum("i,i->", _cx.conj(base.reshape(a, (-1,))), base.reshape(b, (-1,)))


def vecdot(x1, x2, /, *, axis=-1):
    """``numpy.vecdot``: the dot product over ``axis`` (batch axes broadcast),
    ``out[...] = sum_k conj(x1[..., k]) x2[..., k]``."""
    (x1, x2), _ = prepare(x1, x2)
    from ._shape import moveaxis
    x1, x2 = moveaxis(x1, axis, -1), moveaxis(x2, axis, -1)
    return einsum("...k,...k->...", _cx.conj(x1), x2)


def matvec(x1, x2, /):
    """``numpy.matvec``: ``out[..., i] = sum_j x1[..., i, j] x2[..., j]`` (batches
    broadcast)."""
    return einsum("...ij,...j->...i", x1, x2)


def vecmat(x1, x2, /):
    """``numpy.vecmat``: ``out[..., j] = sum_i conj(x1[..., i]) x2[..., i, j]``."""
    (x1, x2), _ = prepare(x1, x2)
    return einsum("...i,...ij->...j", _cx.conj(x1), x2)


def kron(a, b):
    """``numpy.kron``: the Kronecker product, ``kron(a, b)[i*m + k, j*n + l] = a[i, j]
    b[k, l]`` (in as many dimensions as the larger operand; bilinear)."""
    (a, b), _ = prepare(strong(a), strong(b))   # a Python scalar is an array here
    sa, sb = tuple(shape(a)), tuple(shape(b))
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    la, lb = _labels(nd), _labels(nd, nd)
    out = einsum(f"{la},{lb}->" + "".join(x + y for x, y in zip(la, lb)),
                 base.reshape(a, sa), base.reshape(b, sb))
    return base.reshape(out, tuple(p * q for p, q in zip(sa, sb)))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``numpy.cross`` of 3-vectors (and 2-vectors, whose cross product is the scalar
    z-component) along the given axes; bilinear: ``c = a x b``, ``dc = da x b + a x db``."""
    (a, b), _ = prepare(a, b)
    from ._shape import moveaxis, stack
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    na, nb = shape(a)[-1], shape(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product (dimension must be 2 or 3)")

    def c(v, i, n):
        return v[..., i] if i < n else 0.0
    x = multiply(c(a, 1, na), c(b, 2, nb)) - multiply(c(a, 2, na), c(b, 1, nb))
    y = multiply(c(a, 2, na), c(b, 0, nb)) - multiply(c(a, 0, na), c(b, 2, nb))
    z = multiply(c(a, 0, na), c(b, 1, nb)) - multiply(c(a, 1, na), c(b, 0, nb))
    if na == 2 and nb == 2:
        return prepare(z)[0][0]       # (an array, 0-d for two 2-vectors, as NumPy's)
    return moveaxis(stack(prepare(x, y, z)[0], axis=-1), -1, axisc)
