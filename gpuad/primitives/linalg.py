"""Linear algebra: library calls (cuBLAS and cuSOLVER on a GPU, BLAS and LAPACK on the CPU)
whose rules are again matrix products and solves, so they differentiate to any order.

``matmul``    numpy.matmul on operands with at least two axes (batch axes broadcast)
``einsum``    numpy.einsum with an explicit spec ("ij,jk->ik") and agreeing label sizes
``solve``     a^-1 b for a (..., n, n), b (..., n, k)
``inv``, ``det``, ``slogdet``, ``cholesky``   on (..., n, n)
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import math
import string

import numpy as np

from ..core import Primitive, Tracer, bind, register, shape, dtype, full_lower
from ..runtime import blas as _blas, launch as _launch
from .base import (xp_of, on_device, record_library, reduce_sum, reshape, transpose, sum_to,
                   expand_lanes, astype, broadcast_to)
from .indexing import concatenate
from .complex import conj, real, imag, times_i
from . import elementwise as _ew
from .elementwise import PRIMS, add, multiply, negative
from .select import select


def mT(x):
    """Swap the last two axes."""
    nd = len(shape(x))
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def mH(x):
    """The conjugate transpose of the last two axes (mT for real x)."""
    return conj(mT(x))


def _library(name, fn):
    """An impl that calls ``fn`` (a library routine of xp) and records the launch."""
    def impl(*args, **params):
        xp = xp_of(*args)
        out = fn(xp, *on_device(xp, args), **params)
        record_library(f"xp.{name}", out[-1] if isinstance(out, list) else out, *args)
        return out
    return impl


def sum_terms(terms):
    """The sum of a non-empty list of arrays (or None when every term is None)."""
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    out = terms[0]
    for t in terms[1:]:
        out = add(out, t)
    return out


_sum_terms = sum_terms


# ------------------------------------------------------------------ helpers of the rules
# Masks and identity matrices are constants of every trace (plain arrays of the values'
# module and dtype); everything traced goes through primitives, so the rules differentiate
# again.

def subtract(x, y):
    return bind(PRIMS["subtract"], x, y)


def module_dtype(x):
    """(xp, dtype) of the values under ``x``."""
    v = full_lower(x)
    return xp_of(v), dtype(v)


def tri(x, k=0):
    """The constant 0/1 mask of x's last two axes that is 1 on and below diagonal ``k``."""
    xp, dt = module_dtype(x)
    m, n = shape(x)[-2:]
    return xp.tri(m, n, k, dtype=dt)


def tril(x, k=0):
    return multiply(x, tri(x, k))


def triu(x, k=0):
    return multiply(x, 1 - tri(x, k - 1))


def eye_like(x):
    xp, dt = module_dtype(x)
    return xp.eye(shape(x)[-1], dtype=dt)


def diag_part(x):
    """x[..., i, i] of a square (..., n, n)."""
    return reduce_sum(multiply(x, eye_like(x)), (len(shape(x)) - 1,))


def diag_embed(v):
    """The (..., n, n) matrices with v (..., n) on the diagonal."""
    s = tuple(shape(v))
    xp, dt = module_dtype(v)
    return multiply(reshape(v, s + (1,)), xp.eye(s[-1], dtype=dt))


def cmul(x, y):
    """x * y where one factor may be real and the other complex (the real one is cast)."""
    dx, dy = np.dtype(dtype(full_lower(x))), np.dtype(dtype(full_lower(y)))
    if dx != dy:
        dt = np.result_type(dx, dy)
        x, y = astype(x, dt), astype(y, dt)
    return multiply(x, y)


def scale_columns(x, v):
    """x[..., i, j] * v[..., j] (x @ diag(v)); v may be real for a complex x."""
    s = tuple(shape(v))
    return cmul(x, reshape(v, s[:-1] + (1, s[-1])))


def scale_rows(x, v):
    """v[..., i] * x[..., i, j] (diag(v) @ x); v may be real for a complex x."""
    return cmul(x, reshape(v, tuple(shape(v)) + (1,)))


def safe_reciprocal(x, keep):
    """1 / x where the constant boolean mask ``keep`` holds, else 0. Its derivative is
    -1 / x^2 where ``keep`` holds and 0 elsewhere (select routes it), at every order."""
    xp, dt = module_dtype(x)
    one, zero = xp.ones((), dtype=dt), xp.zeros((), dtype=dt)
    return select(keep, bind(PRIMS["reciprocal"], select(keep, x, one)), zero)


def per_matrix(fn, arrays, core):
    """``fn`` applied matrix by matrix: ``arrays[i]`` has ``core[i]`` trailing axes of its own
    and leading batch axes that broadcast. For library routines that take one matrix (SciPy,
    some cupyx.scipy.linalg ones); results (an array or a tuple) are stacked on the batch."""
    batch = tuple(np.broadcast_shapes(*(a.shape[:a.ndim - c] for a, c in zip(arrays, core))))
    if not batch:
        return fn(*arrays)
    xp = xp_of(*arrays)
    arrays = [xp.broadcast_to(a, batch + a.shape[a.ndim - c:]) for a, c in zip(arrays, core)]
    if math.prod(batch) == 0:
        # The results' shapes from one stand-in call (identities: every routine accepts them).
        dummy = [xp.zeros(a.shape[len(batch):], a.dtype) + (
            xp.eye(a.shape[-1], dtype=a.dtype) if c == 2 and a.shape[-1] == a.shape[-2]
            else 0) for a, c in zip(arrays, core)]
        one = fn(*dummy)
        single = not isinstance(one, (tuple, list))
        outs = [xp.empty(batch + o.shape, o.dtype) for o in ((one,) if single else one)]
        return outs[0] if single else outs
    results = [fn(*(a[i] for a in arrays)) for i in np.ndindex(*batch)]
    if not isinstance(results[0], (tuple, list)):
        return xp.stack(results).reshape(batch + results[0].shape)
    return [xp.stack(r).reshape(batch + r[0].shape) for r in zip(*results)]


def scipy_linalg(xp, name, what):
    """scipy.linalg.<name> for NumPy arrays, cupyx.scipy.linalg.<name> for CuPy arrays."""
    if xp is np:
        try:
            import scipy.linalg as sl
        except ImportError:
            raise ImportError(f"{what} on NumPy arrays calls scipy.linalg.{name}: install "
                              "SciPy (pip install scipy)") from None
        return getattr(sl, name)
    import cupyx.scipy.linalg as cl
    fn = getattr(cl, name, None)
    if fn is None:
        raise NotImplementedError(
            f"{what}: cupyx.scipy.linalg has no {name}, so gpuad has no GPU version; move the "
            "arrays to the host (cupy.asnumpy) to use SciPy's")
    return fn


# ------------------------------------------------------------------ matmul

def _rows_merge(x) -> bool:
    """Whether the axes of ``x`` but the last merge into one without a copy: a tracer, or
    an array whose leading axes (those longer than 1) lie one after another in memory, or
    whose matrices are tiny (under 32 elements: copying them for one product costs less
    than a product per matrix, 0.28 ms against 0.56 for 10^4 lanes of 2 x 2)."""
    if isinstance(x, Tracer) or x.shape[-1] * x.shape[-2] < 32:
        return True
    axes = [(n, s) for n, s in zip(x.shape[:-1], x.strides[:-1]) if n != 1]
    return all(s == n_next * s_next for (_, s), (n_next, s_next) in zip(axes, axes[1:]))


def _lanes_left(ta, b, nd):
    """ta @ b for tangent lanes ta (L, ..., m, k): against a plain matrix b, all lanes are
    one matrix product (L*...*m, k) @ (k, n) instead of a batch of small ones, where the
    lanes' rows merge without a copy; else (lanes of a transposed matrix, whose merged rows
    would be a copy of them all: 126 ms of an 870 ms batched HVP, issue 18) one product per
    lane, which BLAS reads in place."""
    st = tuple(shape(ta))
    if len(shape(b)) != 2 or not _rows_merge(ta):
        return matmul(expand_lanes(ta, nd), b)
    out = matmul(reshape(ta, (math.prod(st[:-1]), st[-1])), b)
    return reshape(out, st[:-1] + (shape(b)[-1],))


def _lanes_right(a, tb, nd):
    """a @ tb for tangent lanes tb (L, ..., k, n) and a plain matrix a: one product
    (m, k) @ (k, L*...*n), so a is read once rather than once per lane."""
    st = tuple(shape(tb))
    if len(shape(a)) != 2 or len(st) < 3 or 0 in st:
        return matmul(a, expand_lanes(tb, nd))
    if len(st) == 3 and st[-1] == 1:
        # Matrix times vector lanes (A @ w, or A^T @ g in a sweep): the lanes as rows,
        # (L, k) @ a^T -> (L, m), already in the lane layout; BLAS reads a^T in place.
        prod = matmul(reshape(tb, st[:2]), mT(a))
        return reshape(prod, (st[0], shape(a)[0], 1))
    m, k, n = shape(a)[0], st[-2], st[-1]
    if m * k <= (m + k) * n:
        # a is small beside a lane's operand and result: one product per lane reads a
        # again each time (from cache) but writes the result in the lane layout, where
        # the transposed route below copies tb and leaves a transposed result to copy.
        return matmul(a, expand_lanes(tb, nd))
    r = len(st)
    cols = transpose(tb, (r - 2,) + tuple(range(r - 2)) + (r - 1,))   # (k, L, ..., n)
    prod = matmul(a, reshape(cols, (st[-2], math.prod(st) // st[-2])))  # (m, L*...*n)
    prod = reshape(prod, (shape(a)[0],) + st[:-2] + (st[-1],))        # (m, L, ..., n)
    return transpose(prod, tuple(range(1, r - 1)) + (0, r - 1))       # (L, ..., m, n)


def _vector_and_lanes(a, b, tb):
    """(a @ b, its lanes a @ tb[l]) for a column b (k, 1) with lanes tb (L, k, 1) and a
    plain matrix a (m, k): the value and all lanes as the rows of ONE product
    [b; tb] (L+1, k) @ a^T, so a is read once (its bytes dominate a matrix-vector product)."""
    k, L = shape(b)[0], shape(tb)[0]
    from .indexing import concatenate, getitem
    rows = concatenate((reshape(b, (1, k)), reshape(tb, (L, k))), 0)
    prod = matmul(rows, mT(a))                                        # (L+1, m)
    m = shape(a)[0]
    return (reshape(getitem(prod, (), (0,)), (m, 1)),
            reshape(getitem(prod, (), (slice(1, None),)), (L, m, 1)))


# A product added into a sweep's buffer goes block by block of its rows, so that no
# result-sized temporary is made: a block's result (about this many bytes) stays in cache,
# and the matrix is still read once (each block reads its own rows).
_ACC_BLOCK_BYTES = 1 << 20


# One lane's product fused with the value's only where reading a twice costs more than
# the fused route's four extra primitives (~30 us): a of at least this many elements
# (512 KB of float64, ~50 us to read).
_FUSE_ONE_LANE = 1 << 16


def _vector_and_lanes_into(a, b, tb, acc):
    """:func:`_vector_and_lanes` added into ``acc``, a reverse sweep's dual cotangent
    buffer (value (m, 1), lanes (L, m, 1)), block by block: no (L+1, m) product is made
    (the sweep's buffer of a matrix-vector product's vector is the HVP's K lanes; issue 18),
    except on the host where it is small beside ``a`` (then one product split over gpuad's
    threads, runtime/blas.py, is faster than the blocks). ``b`` None: the lanes alone,
    added into acc's lanes (its value, None here, is not made: ``_matmul_vjp_lanes``).
    Returns acc's arrays, or None where they do not fit (then the caller makes new ones)."""
    v, lanes = acc
    m, L = shape(a)[0], shape(tb)[0]
    parts = (a, tb, lanes) if b is None else (a, b, tb, v, lanes)    # (b None: lanes alone)
    if any(isinstance(u, Tracer) for u in parts) or not (
            tuple(lanes.shape) == (L, m, 1) and lanes.flags.c_contiguous
            and all(u.dtype == a.dtype for u in parts)
            and (b is None or (tuple(v.shape) == (m, 1) and v.flags.c_contiguous))):
        return None
    xp, k = xp_of(*parts), shape(tb)[1]
    rows = tb.reshape(L, k) if b is None else xp.concatenate((b.reshape(1, k),
                                                              tb.reshape(L, k)))
    first = 0 if b is None else 1                # rows[first:] are the lanes
    value, lane_rows = None if b is None else v.reshape(m), lanes.reshape(L, m)  # acc's views
    if _blas.split_is_small(a, (L + first) * m):
        # On the host with few lanes: one product split over gpuad's threads (their partial
        # sums are small beside a), then added in.
        prod = _blas.matmul(rows, a.T)                                   # (L+1, m)
        if b is not None:
            value += prod[0]
        lane_rows += prod[first:]
    else:
        step = max(256, _ACC_BLOCK_BYTES // ((L + first) * rows.itemsize))
        size = (L + first) * k * m                                       # multiply-adds
        threads = _blas.workers() if xp is np and size >= _blas.MIN_SPLIT else 1
        # numpy.dot releases the GIL (and copies a's strided block into cache first);
        # numpy.matmul reads the block in place, but two threads of it took as long as one.
        dot = np.dot if threads > 1 else xp.matmul

        def blocks(lo, hi):        # a's rows lo:hi, block by block
            for i in range(lo, hi, step):
                e = min(i + step, hi)
                blk = dot(rows, a[i:e].T)                                # (L+1, block)
                if b is not None:
                    value[i:e] += blk[0]
                lane_rows[:, i:e] += blk[first:]
        if threads > 1:            # each of gpuad's threads its share of the rows
            share = -(-m // threads)
            _blas.run(functools.partial(blocks, i, min(i + share, m)) for i in range(0, m, share))
        else:
            with _blas.held(size) if xp is np else contextlib.nullcontext():
                blocks(0, m)
    made = (lanes,) if b is None else (v, lanes)
    _launch.record("xp.matmul", m * (L + first), (a, rows) + made, made)
    return v, lanes


def _joins(a, b, ta, tb) -> bool:
    """Whether :func:`_joined_lanes` applies: plain matrices a (m, k), b (k, n) with lanes
    ta (L, m, k), tb (L, k, n), the joined operands (2k (m + n) per lane) at most half the
    result (m n per lane): a short contraction, such as an outer product's (k = 1)."""
    if not (len(shape(a)) == len(shape(b)) == 2 and len(shape(ta)) == len(shape(tb)) == 3):
        return False
    (m, k), n = shape(a), shape(b)[1]
    return 4 * k * (m + n) <= m * n


def _joined_lanes(a, b, ta, tb):
    """ta @ b + a @ tb as one product per lane, [ta_l, a] @ [b; tb_l] ((m, 2k) @ (2k, n)):
    each lane's result is written once, where two products and their sum wrote it three
    times. In a batched HVP's reverse of an outer product (the gradient of h in h @ w,
    32 lanes of 1000 x 1000): 40 ms against 280 (issue 18)."""
    lanes = shape(ta)[0]
    left = concatenate([ta, broadcast_to(a, (lanes,) + tuple(shape(a)))], 2)     # (L, m, 2k)
    right = concatenate([broadcast_to(b, (lanes,) + tuple(shape(b))), tb], 1)    # (L, 2k, n)
    return matmul(left, right)


def _matmul_jvp(primals, tangents, acc=None):
    (a, b), (ta, tb) = primals, tangents
    if (ta is None and tb is not None and len(shape(a)) == 2 and len(shape(b)) == 2
            and shape(b)[1] == 1 and len(shape(tb)) == 3 and 0 not in shape(a)):
        if acc is not None and (into := _vector_and_lanes_into(a, b, tb, acc)) is not None:
            return into
        if shape(tb)[0] > 1 or math.prod(shape(a)) >= _FUSE_ONE_LANE:
            return _vector_and_lanes(a, b, tb)
    out = matmul(a, b)
    if ta is not None and tb is not None and _joins(a, b, ta, tb):
        return out, _joined_lanes(a, b, ta, tb)
    nd = len(shape(out))
    terms = []
    if ta is not None:
        terms.append(_lanes_left(ta, b, nd))
    if tb is not None:
        terms.append(_lanes_right(a, tb, nd))
    return out, _sum_terms(terms)


def _matmul_vjp(g, ins, out, need, acc):
    a, b = ins
    ga = sum_to(matmul(g, mT(b)), shape(a)) if need[0] else None
    if need[1] and acc[1] is not None and len(shape(a)) == 2 and len(shape(b)) == 2:
        # Offered the sweep's buffer of b (through the column reshape of a vector: the
        # sweep's ``acc_via_reshape``): a forward trace above (an HVP) adds the product's
        # value and lanes into it (_matmul_jvp); anywhere else it is a new array.
        gb = bind(matmul_p, mT(a), g, acc=acc[1])
    else:
        gb = sum_to(matmul(mT(a), g), shape(b)) if need[1] else None
    return ga, gb


def _matmul_vjp_lanes(t, ins, out, need, acc):
    """The lanes of matmul's input cotangents from the lanes ``t`` (L, m, n) of a dual
    cotangent alone, for a sweep that needs not their values (an HVP's gradient; the
    other operand has no lanes there): ``a``'s lanes t_l b^T, ``b``'s a^T t_l, one product
    for all lanes (an HVP of a matrix-vector product: A^T r's product is never made, one
    pass over A of the reverse sweep's two). ``acc``: per input the lanes of the sweep's
    buffer (or None), added into where they fit. 2-D operands (else None: the rule runs)."""
    a, b = ins
    if len(shape(a)) != 2 or len(shape(b)) != 2:
        return None
    ta = _lanes_left(t, mT(b), 2) if need[0] else None
    tb = None
    if need[1]:
        if acc[1] is not None and shape(b)[1] == 1 \
                and _vector_and_lanes_into(mT(a), None, t, (None, acc[1])) is not None:
            tb = acc[1]
        else:
            tb = _lanes_right(mT(a), t, 2)
    return ta, tb


def _matmul_impl(a, b):
    xp = xp_of(a, b)
    a, b = on_device(xp, (a, b))
    if a.shape[-1] == 1 and len(a.shape) >= 2 and len(b.shape) >= 2:
        # A contraction of length 1 is an outer product: the same products (a sum of one
        # term) by gpuad's multiply kernel where it reads both factors in place (a column
        # and a row, on all the kernels' threads: 1000 x 1000 float64 on the host 0.45 ms
        # against 1.5 for NumPy's broadcasting multiply and 2 for a k = 1 GEMM; recorded as
        # multiply_fwd), else by the library's broadcasting multiply (a stack of them: the
        # kernel would copy both factors out to the result's size first).
        out_shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        if (a.dtype == b.dtype and a.dtype.char in "fdFD" and a.dtype.isnative
                and _ew.fwd_strides(a.shape, b.shape, out_shape) is not None):
            return PRIMS["multiply"].impl(a, b)
        out = xp.multiply(a, b)
    elif xp is np:          # the host: NumPy's BLAS on gpuad's threads (runtime/blas.py)
        out = _blas.matmul(a, b)
    else:
        out = xp.matmul(a, b)
    record_library("xp.matmul", out, a, b)
    return out

matmul_p = register(Primitive(
    "matmul", lambda a, b, acc=None: _matmul_impl(a, b),    # (acc: a new array, see the VJP)
    jvp=_matmul_jvp, vjp=_matmul_vjp, acc_via_reshape=True, bilinear=True,
    vjp_lanes=_matmul_vjp_lanes,
    doc="numpy.matmul of operands with >= 2 axes (cuBLAS on a GPU)"))


def matmul(a, b):
    return bind(matmul_p, a, b)


# ------------------------------------------------------------------ einsum

def parse(spec):
    ins, out = spec.split("->")
    return ins.split(","), out


def _spec(ins, out):
    return ",".join(ins) + "->" + out


def fresh_labels(k, used):
    free = [c for c in string.ascii_letters if c not in used]
    if k > len(free):
        raise ValueError(f"einsum: more than {len(string.ascii_letters)} distinct labels")
    return free[:k]


def _einsum_impl(*ops, spec):
    xp = xp_of(*ops)
    # optimize lets NumPy hand contractions to BLAS (tensordot) and pick a pairwise order.
    out = xp.asarray(xp.einsum(spec, *on_device(xp, ops), optimize=len(ops) > 1))
    record_library("xp.einsum", out, *ops)
    return out


def _einsum_jvp(primals, tangents, spec):
    ins, out = parse(spec)
    (lane,) = fresh_labels(1, spec)
    terms = []
    for i, t in enumerate(tangents):
        if t is not None:
            subs = list(ins)
            subs[i] = lane + subs[i]
            ops = list(primals)
            ops[i] = t
            terms.append(einsum(_spec(subs, lane + out), *ops))
    return einsum(spec, *primals), _sum_terms(terms)


def _einsum_vjp(g, ins_vals, out_, need, spec):
    ins, out = parse(spec)
    sizes = {c: d for sub, v in zip(ins, ins_vals) for c, d in zip(sub, shape(v))}
    xp = xp_of(g)
    dt = dtype(full_lower(g))
    used = set(spec)
    res = []
    for i, sub in enumerate(ins):
        if not need[i]:
            res.append(None)
            continue
        subs = [out] + [s for j, s in enumerate(ins) if j != i]
        ops = [g] + [v for j, v in enumerate(ins_vals) if j != i]
        # A label repeated in operand i (a diagonal) gets a fresh name tied to the first by
        # an identity matrix; a label summed away inside operand i alone gets a ones vector.
        target, seen = "", []
        for c in sub:
            if c in seen:
                (c2,) = fresh_labels(1, used)
                used.add(c2)
                subs.append(c + c2)
                ops.append(xp.eye(sizes[c], dtype=dt))
                target += c2
            else:
                seen.append(c)
                target += c
        present = set("".join(subs))
        for c in seen:
            if c not in present:
                subs.append(c)
                ops.append(xp.ones(sizes[c], dtype=dt))
        res.append(einsum(_spec(subs, target), *ops))
    return tuple(res)


einsum_p = register(Primitive(
    "einsum", _einsum_impl, jvp=_einsum_jvp, vjp=_einsum_vjp,
    doc="numpy.einsum with an explicit `spec` and no size-1 broadcasting; the JVP and "
        "VJP are einsums again (the lane axis is one more label)"))


def einsum(spec, *ops):
    return bind(einsum_p, *ops, spec=spec)


# ------------------------------------------------------------------ solve and inverse

_SINGULAR = {
    "solve": "solve: a is singular (LAPACK met an exactly zero pivot): a x = b has no unique "
             "solution; gpuad.numpy.linalg.lstsq gives the least-squares one",
    "inv": "inv: a is singular (LAPACK met an exactly zero pivot): it has no inverse; "
           "gpuad.numpy.linalg.pinv gives the pseudo-inverse",
    "qr": "qr: R has a zero on its diagonal (the leading min(m, n) columns of a are "
          "linearly dependent), so Q and R are not differentiable there",
    "slogdet": "slogdet: a is singular (log|det a| = -inf), so the derivative of log|det a|, "
               "a^-T, does not exist there; det(a) is differentiable everywhere (its "
               "derivative is the adjugate)",
    "solve_triangular": "solve_triangular: a has a zero on its diagonal ({detail}): a x = b "
                        "has no unique solution",
    "cho_solve": "cho_solve: the Cholesky factor has a zero on its diagonal ({detail}): the "
                 "matrix is singular",
    "lu_factor": "lu_factor: U has a zero on its diagonal ({detail}), so a is singular; the "
                 "derivative of the LU factors goes through U^-1 and is not available there",
    "lu_solve": "lu_solve: U has a zero on its diagonal ({detail}): a is singular and a x = b "
                "has no unique solution",
    "solve_sylvester": "solve_sylvester: a and -b have a common eigenvalue (to working "
                       "precision: {detail}), so a x + x b = q has no unique solution",
    "sqrtm": "sqrtm: a is singular or nearly so (an eigenvalue 0): the derivative solves "
             "X dX + dX X = da, which has no unique solution there ({detail}); sqrtm is not "
             "differentiable at a singular a, like sqrt at 0",
}


def singular(what, detail=""):
    """The LinAlgError of a singular matrix, naming the gpuad function that met it."""
    msg = _SINGULAR.get(what, what + ": the matrix is singular ({detail})")
    return np.linalg.LinAlgError(msg.format(detail=detail))


def _solve(xp, a, b):
    # Batch axes broadcast here, so every library (NumPy, CuPy) sees equal batches.
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    a = xp.broadcast_to(a, batch + a.shape[-2:])
    b = xp.broadcast_to(b, batch + b.shape[-2:])
    try:
        return xp.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        raise singular("solve") from None


def _solve_jvp(primals, tangents):
    (a, b), (ta, tb) = primals, tangents
    x = solve(a, b)
    nd = len(shape(x))
    # d(a^-1 b) = a^-1 (db - da x)
    rhs = None if tb is None else expand_lanes(tb, nd)
    if ta is not None:
        dax = matmul(expand_lanes(ta, nd), x)
        rhs = negative(dax) if rhs is None else subtract(rhs, dax)
    return x, solve(a, rhs)


def _solve_vjp(g, ins, x, need):
    a, b = ins
    gb = solve(mT(a), g)
    ga = sum_to(negative(matmul(gb, mT(x))), shape(a)) if need[0] else None
    return ga, (sum_to(gb, shape(b)) if need[1] else None)


solve_p = register(Primitive(
    "solve", _library("linalg.solve", _solve), jvp=_solve_jvp, vjp=_solve_vjp,
    saves="both", doc="a^-1 b for a (..., n, n) and b (..., n, k), batches broadcast"))


def solve(a, b):
    return bind(solve_p, a, b)


def _inv(xp, a, what):
    try:
        return xp.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise singular(what) from None


def _inv_jvp(primals, tangents, what):
    (a,), (ta,) = primals, tangents
    out = inv(a, what)
    # d(a^-1) = -a^-1 da a^-1
    return out, negative(matmul(matmul(out, expand_lanes(ta, len(shape(out)))), out))


def _inv_vjp(g, ins, out, what):
    oT = mT(out)
    return (negative(matmul(matmul(oT, g), oT)),)


inv_p = register(Primitive(
    "inv", _library("linalg.inv", _inv), jvp=_inv_jvp, vjp=_inv_vjp, saves="out",
    doc="matrix inverse of a (..., n, n); `what` names the caller in the singular error"))


def inv(a, what="inv"):
    return bind(inv_p, a, what=what)


# ------------------------------------------------------------------ determinants
# det's derivatives of every order come from one family of primitives,
#   cofactor(a, e_1, ..., e_k) = the gradient in y of d^(k+1) det(a)[e_1, ..., e_k, y],
# so cofactor(a) is the cofactor matrix (the adjugate transposed), cofactor(a, e) its
# derivative along e, and so on. All of them are polynomials in a, finite at every matrix
# (singular ones of any rank included); they are evaluated through an SVD, never an inverse.

def _range_products(s, xp):
    """r[..., i, j] = prod(s[..., i:j]) (1 where j <= i), shape (..., n + 1, n + 1), by
    running products: no division, exact where some s are 0."""
    n = s.shape[-1]
    k = xp.arange(n)
    start = xp.arange(n + 1)[:, None]
    factors = xp.where(k >= start, s[..., None, :], xp.ones((), s.dtype))
    runs = xp.cumprod(factors, axis=-1)                       # prod(s[i:j + 1])
    ones = xp.ones(s.shape[:-1] + (n + 1, 1), dtype=s.dtype)
    return xp.concatenate([ones, runs], axis=-1)


def _leave_out_products(s, m, xp):
    """w[..., i_1, ..., i_m] = prod of s[..., k] over k not in {i_1, ..., i_m} for distinct
    indices, 0 where two indices agree; shape (...,) + (n,) * m."""
    n = s.shape[-1]
    r = _range_products(s, xp)
    grid = np.indices((n,) * m).reshape(m, -1)
    j = np.sort(grid, axis=0)                                 # each tuple as a sorted set
    distinct = np.all(j[1:] > j[:-1], axis=0) if m > 1 else np.ones(grid.shape[1], bool)
    # prod over the gaps: [0, j_1), (j_1, j_2), ..., (j_m, n)
    lo = np.concatenate([[np.zeros_like(j[0])], j + 1])
    hi = np.concatenate([j, [np.full_like(j[0], n)]])
    w = xp.ones(s.shape[:-1] + (grid.shape[1],), dtype=s.dtype)
    for a, b in zip(lo, hi):
        w = w * r[..., xp.asarray(np.minimum(a, n)), xp.asarray(b)]
    w = w * xp.asarray(distinct.astype(s.dtype))
    return w.reshape(s.shape[:-1] + (n,) * m)


def _parity(perm):
    seen, sign = set(), 1
    for i in range(len(perm)):
        if i in seen:
            continue
        j, length = i, 0
        while j not in seen:
            seen.add(j)
            j = perm[j]
            length += 1
        sign *= -1 if length % 2 == 0 else 1
    return sign


def _cofactor_impl(a, *es):
    """The gradient in y of d^m det(a)[e_1, ..., e_{m-1}, y], m = len(es) + 1.

    With a = U diag(s) V^H and x_l = U^H e_l V, det(a + .) = det(U) det(V^H) det(diag(s) + .),
    and at a diagonal matrix (expanding det(diag(s) + y) over principal minors)
      d^m det(diag(s))[x_1, ..., x_m]
        = sum over distinct (i_1..i_m) of w(i) sum over permutations p of
          sign(p) prod_l x_l[i_l, i_p(l)],   w(i) = prod of s_k over k not in {i}.
    Its gradient in x_m, rotated back (conj(U) G V^T, times the phase det(U) det(V^H) of a
    complex a), is the result: sums of products of singular values, finite at every
    matrix.
    """
    xp = xp_of(a, *es)
    m = len(es) + 1
    n = a.shape[-1]
    batch = tuple(np.broadcast_shapes(a.shape[:-2], *(e.shape[:-2] for e in es)))
    if n == 0 or m > n or math.prod(batch) == 0:
        return xp.zeros(batch + (n, n), dtype=a.dtype)
    u, s, vh = xp.linalg.svd(a)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)              # +-1 (a phase if complex)
    w = _leave_out_products(s, m, xp).astype(a.dtype)
    ut, v = xp.swapaxes(u.conj(), -1, -2), xp.swapaxes(vh.conj(), -1, -2)
    xs = [ut @ e @ v for e in es]
    idx = string.ascii_letters[:m]
    out = 0
    for perm in itertools.permutations(range(m)):
        ops = [w] + xs
        subs = ["..." + idx] + ["..." + idx[l] + idx[perm[l]] for l in range(m - 1)]
        last, partner = idx[m - 1], idx[perm[m - 1]]
        if last == partner:                       # the last row is paired with itself
            term = xp.einsum(",".join(subs) + "->..." + last, *ops)
            term = term[..., :, None] * xp.eye(n, dtype=a.dtype)
        else:
            term = xp.einsum(",".join(subs) + "->..." + last + partner, *ops)
        out = out + _parity(perm) * term
    out = u.conj() @ out @ vh.conj() * sign[..., None, None]
    return xp.broadcast_to(out, batch + (n, n))


def _cofactor_jvp(primals, tangents):
    a, *es = primals
    ta, *tes = tangents
    out = cofactor(a, *es)
    nd = len(shape(out))
    terms = [None if ta is None else cofactor(a, *es, expand_lanes(ta, nd))]
    for i, t in enumerate(tes):      # multilinear in the directions
        if t is not None:
            terms.append(cofactor(a, *es[:i], expand_lanes(t, nd), *es[i + 1:]))
    return out, sum_terms(terms)


def _cofactor_vjp(g, ins, out, need):
    # <g, cofactor(a, e..)> = d^(k+1) det(a)[e.., g], symmetric in all its directions: the
    # cotangent of a is cofactor(a, e.., g), that of e_i is cofactor(a, e.. without e_i, g).
    a, *es = ins
    res = [sum_to(cofactor(a, *es, g), shape(a)) if need[0] else None]
    for i, e in enumerate(es):
        res.append(sum_to(cofactor(a, *es[:i], *es[i + 1:], g), shape(e))
                   if need[i + 1] else None)
    return tuple(res)


cofactor_p = register(Primitive(
    "cofactor", _library("linalg.cofactor", lambda xp, *args: _cofactor_impl(*args)),
    jvp=_cofactor_jvp, vjp=_cofactor_vjp,
    doc="gradient of d^(k+1) det(a)[e_1..e_k, .] for a, e_i (..., n, n): the cofactor "
        "matrix (k = 0) and its derivatives, through an SVD; finite at every matrix"))


def cofactor(a, *es):
    return bind(cofactor_p, a, *es)


def _kept_batch(x, a):
    return reshape(x, tuple(shape(a))[:-2] + (1, 1))


def _det_jvp(primals, tangents):
    (a,), (ta,) = primals, tangents
    nd = len(shape(ta))
    # d det(a) = sum(cofactor(a) * da)
    return det(a), reduce_sum(multiply(cofactor(a), ta), (nd - 2, nd - 1))


def _det_vjp(g, ins, out):
    (a,) = ins
    return (multiply(_kept_batch(g, a), cofactor(a)),)


det_p = register(Primitive(
    "det", _library("linalg.det", lambda xp, a: xp.asarray(xp.linalg.det(a))),
    jvp=_det_jvp, vjp=_det_vjp,
    doc="determinant of a (..., n, n) (LU); derivatives through `cofactor`, finite at "
        "singular a"))


def det(a):
    return bind(det_p, a)


def _slogdet_impl(xp, a):
    sign, logabsdet = xp.linalg.slogdet(a)
    return [xp.asarray(sign), xp.asarray(logabsdet)]


def _dlogdet(a, ta):
    """d log det a along the lanes of ta: trace(a^-1 da) = sum(a^-T * da)."""
    nd = len(shape(ta))
    return reduce_sum(multiply(mT(inv(a, "slogdet")), ta), (nd - 2, nd - 1))


def _slogdet_jvp(primals, tangents):
    # log det a = log|det a| + i arg: d log|det a| = Re t, d sign = sign i Im t with
    # t = trace(a^-1 da); for real a the sign is piecewise constant (t is real).
    (a,), (ta,) = primals, tangents
    sign, logabs = out = slogdet(a)
    t = _dlogdet(a, ta)
    if np.dtype(dtype(full_lower(a))).kind != "c":
        return out, [None, t]
    return out, [multiply(sign, times_i(imag(t))), real(t)]


def _slogdet_vjp(g, ins, out):
    # The transpose of the JVP: g_log + i Im(g_sign sign) times a^-T.
    (a,) = ins
    gsign, glog = g
    c = None if glog is None else astype(glog, dtype(full_lower(a)))
    if gsign is not None and np.dtype(dtype(full_lower(a))).kind == "c":
        iq = times_i(imag(multiply(gsign, out[0])))
        c = iq if c is None else add(c, iq)
    if c is None:
        return (None,)   # the sign of a real a is piecewise constant
    return (multiply(_kept_batch(c, a), mT(inv(a, "slogdet"))),)


slogdet_p = register(Primitive(
    "slogdet", _library("linalg.slogdet", _slogdet_impl), jvp=_slogdet_jvp,
    vjp=_slogdet_vjp, saves="both", multiple_results=True,
    doc="[sign, log|det a|] of a (..., n, n) (LU); the sign is differentiable for complex a "
        "only (a phase; for real a it is piecewise constant)"))


def slogdet(a):
    return bind(slogdet_p, a)


# ------------------------------------------------------------------ Cholesky

def _phi(x):
    """The lower triangle of x with its diagonal halved (a constant mask times x)."""
    return multiply(x, tri(x) - 0.5 * eye_like(x))


def _cholesky(xp, a):
    try:
        return xp.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            "cholesky: a is not positive definite (LAPACK met a pivot <= 0), so it has no "
            "Cholesky factor; for a positive semidefinite a, add a small multiple of the "
            "identity, or use eigh") from None


def _cholesky_jvp(primals, tangents):
    # a = L L^H gives L^-1 da L^-H = L^-1 dL + (L^-1 dL)^H with L^-1 dL lower triangular
    # (and a real diagonal), so dL = L phi(L^-1 da L^-H). The public functions pass
    # Hermitian (real: symmetric) a and da.
    (a,), (ta,) = primals, tangents
    L = cholesky(a)
    x = solve(L, expand_lanes(ta, len(shape(L))))
    return L, matmul(L, _phi(mH(solve(L, mH(x)))))


def _cholesky_vjp(g, ins, L):
    # The transpose of the JVP in the pairing Re sum(g t) (Murray 2016 for real a):
    # L^-T phi(L^T g) conj(L)^-1. The triangular solves go through the general solver:
    # NumPy has no triangular one.
    LT = mT(L)
    y = solve(LT, _phi(matmul(LT, g)))
    return (mT(solve(mH(L), mT(y))),)


cholesky_p = register(Primitive(
    "cholesky", _library("linalg.cholesky", _cholesky),
    jvp=_cholesky_jvp, vjp=_cholesky_vjp, saves="out",
    doc="lower Cholesky factor of a Hermitian (real: symmetric) positive definite "
        "(..., n, n)"))


def cholesky(a):
    return bind(cholesky_p, a)


# ------------------------------------------------------------------ vector p-norms

def _pnorm_impl(xp, x, axes, p):
    if p == 2:
        return xp.asarray(xp.sqrt(xp.sum(x * x, axis=axes)))
    return xp.asarray(xp.sum(xp.abs(x) ** p, axis=axes) ** (1.0 / p))


def _pnorm_weights(x, n, axes, p):
    """d norm / dx, with the subgradient 0 where the norm is 0: x / n for p = 2, else
    sign(x) (|x| / n)^(p - 1). Written with primitives, so it differentiates again."""
    kept = reshape(n, tuple(1 if i in axes else d for i, d in enumerate(shape(x))))
    r = safe_reciprocal(kept, full_lower(kept) > 0)
    if p == 2:
        return multiply(x, r)
    xp, dt = module_dtype(x)
    q = xp.asarray(p - 1, dtype=dt)
    if 1 < p < 2:
        # |x| as x times a constant +-1 (+1 at 0), not abs: abs'(0) = 0 would make the
        # tangent of a zero entry exactly 0, and the zero rule would then turn the unbounded
        # second derivative (p - 1) |x|^(p - 2) n^(1 - p) there into a silent 0. This way it
        # is +inf, its true value, and the value and the first derivative are unchanged.
        # (|x| r)^q as |x|^q r^q: the product's partial in r, q |x|^q r^(q-1), is then 0 at
        # a zero entry, where the chain rule through the product's power would form 0 * inf.
        s = xp.where(full_lower(x) >= 0, xp.ones((), dt), -xp.ones((), dt))
        pw = bind(PRIMS["power"], multiply(x, s), q)
        return multiply(multiply(s, pw), bind(PRIMS["power"], r, q))
    scaled = multiply(bind(PRIMS["abs"], x), r)
    if p < 1:
        # q < 0: (|x| r)^q with r = 0 (the subgradient's stand-in for 1/n at n = 0) would be
        # 0^q = inf at every entry of a zero-norm slice, where the weight (n / |x|)^(1 - p) is
        # 0 (p < 0: a zero entry makes n = 0, and the other entries' partials are exactly 0).
        # Such slices get the constant 0 (gradient 0 at value 0, as the other p), computed
        # from a constant stand-in so that no inf meets a zero derivative.
        # (x 0: NaN at a NaN entry of a NaN norm, 0 at the others, as for p >= 1.)
        pos = xp.broadcast_to(full_lower(kept) > 0, tuple(shape(x)))
        one, zero = xp.ones((), dtype=dt), xp.zeros((), dtype=dt)
        w = multiply(bind(PRIMS["sign"], x), bind(PRIMS["power"], select(pos, scaled, one), q))
        return select(pos, w, multiply(x, zero))
    return multiply(bind(PRIMS["sign"], x), bind(PRIMS["power"], scaled, q))


def _pnorm_jvp(primals, tangents, axes, p):
    (x,), (t,) = primals, tangents
    out = pnorm(x, axes, p)
    w = _pnorm_weights(x, out, axes, p)
    return out, reduce_sum(multiply(t, w), tuple(a + 1 for a in axes))


def _pnorm_vjp(g, ins, out, axes, p):
    (x,) = ins
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape(x)))
    return (multiply(reshape(g, kept), _pnorm_weights(x, out, axes, p)),)


pnorm_p = register(Primitive(
    "pnorm", _library("pnorm", _pnorm_impl), jvp=_pnorm_jvp, vjp=_pnorm_vjp, saves="both",
    doc="(sum |x|^p)^(1/p) over `axes` (p = 2: sqrt(sum x^2)); derivative 0 where the norm "
        "is 0"))


def pnorm(x, axes, p):
    return bind(pnorm_p, x, axes=tuple(sorted(axes)), p=float(p))
