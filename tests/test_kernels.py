"""Every kernel instantiation the engine declares (what the NVRTC gate compiles) is executed
and checked, so none is only compiled: on the CPU, and on a GPU through CuPy (``xp``; the
references are computed on the CPU either way).

References: forward kernels against NumPy; a derivative of order K against central
differences of the order K-1 kernel (itself checked), down to NumPy's f; fused kernels
against the derivative kernels; float32 instantiations against the float64 ones. The
complex instantiations (kernels/complex.cu, T = gpuad::Complex<double> / <float>) run the
same checks at complex points: the ops there are holomorphic, so central differences along
the real axis give the complex derivative.
"""
from __future__ import annotations

import functools
import math
import re

import numpy as np
import pytest
import scipy.special as sc

import gpuad  # noqa: F401  (declares the instantiations)
from gpuad import runtime
from gpuad.primitives import elementwise as E
from gpuad.runtime import launch

from _xp import host

NAME = re.compile(r"(\w+)<ops::(\w+), (float|double|gpuad::Complex<float>|gpuad::Complex<double>)"
                  r"(?:, (\d+))?(?:, (\d+))?(?:, (\d+))?>")
OPS = {v[0]: k for k, v in {**E.UNARY, **E.BINARY, **E.TERNARY}.items()}
REF = {**{k: v[1] for k, v in E.UNARY.items()}, **{k: v[1] for k, v in E.BINARY.items()},
       "erf": np.vectorize(math.erf, otypes=[np.float64]),
       **{k: getattr(sc, k) for k in E.SCIPY_SPECIAL},
       "polygamma": lambda n, x: sc.polygamma(np.round(n), x),   # (differences in n: 0)
       # the internal log-space ops (gpuad.scipy.stats): the log of SciPy's at these points
       "log_gammainc": lambda a, x: np.log(sc.gammainc(a, x)),
       "log_gammaincc": lambda a, x: np.log(sc.gammaincc(a, x)),
       "log_betainc": lambda a, b, x: np.log(sc.betainc(a, b, x)),
       "log_stdtr": lambda df, t: np.log(sc.stdtr(df, t))}
N, L, H = 7, 2, 1e-5
P = 3                                 # binary_fwd's periodic operand: 3 elements repeated
X = np.linspace(0.3, 0.7, N)          # inside every op's domain, away from every kink
Y = np.linspace(1.2, 1.8, N)
Z = np.linspace(0.2, 0.6, N)          # a ternary op's third operand (betainc's x)
# ops whose first operand needs other points: acosh's domain, polygamma's integer orders
XS = {"arccosh": 1.0 + X, "polygamma": np.array([0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0])}
XC = X + 1j * np.linspace(0.3, -0.2, N)   # complex points away from every branch cut
YC = Y + 1j * np.linspace(-0.4, 0.5, N)
I32 = np.int32
SOURCES = (E.SOURCE, E.COMPLEX_SOURCE)


def declared():
    return [name for spec in runtime.all_modules() if spec.source in SOURCES
            for name in spec.name_expressions if NAME.fullmatch(name)]


def source(kernel):
    return E.COMPLEX_SOURCE if "Complex" in kernel else E.SOURCE


def call(kernel, *args, xp=np):
    """One thread of ``kernel`` over ``args`` (arrays of ``xp``) on ``xp``'s device."""
    dev = launch.of_module(xp)
    dev.call(runtime.get_kernel(source(kernel), kernel, dev.device), (1,), (1,),
             dev.arguments(args))


def T_of(T):
    return {"float": np.float32, "double": np.float64, "gpuad::Complex<float>": np.complex64,
            "gpuad::Complex<double>": np.complex128}[T]


def double_of(T):
    return "gpuad::Complex<double>" if "Complex" in T else "double"


# ---------------------------------------------------------------- float64 references

def f(op, x, y=None, z=None):
    return REF[op](x) if y is None else REF[op](x, y) if z is None else REF[op](x, y, z)


def d_unary(op, K, x):
    """f^(K)(x) from the unary_jvp<K> kernel (checked separately)."""
    out = np.empty_like(x)
    T = "gpuad::Complex<double>" if x.dtype.kind == "c" else "double"
    call(f"unary_jvp<ops::{E.UNARY[op][0]}, {T}, {K}>", x, np.ones_like(x), out, x.size, 1)
    return out


def fd_unary(op, K, x):
    """f^(K) by central differences of f^(K-1)."""
    lower = (lambda z: f(op, z)) if K == 1 else (lambda z: d_unary(op, K - 1, z))
    return (lower(x + H) - lower(x - H)) / (2 * H)


def d_binary(op, a, b, x, y):
    out = np.empty_like(x)
    T = "gpuad::Complex<double>" if x.dtype.kind == "c" else "double"
    call(f"binary_deriv<ops::{E.BINARY[op][0]}, {T}, {a}, {b}>", x, y, np.ones_like(x),
         out, x.size, 1, I32(1), I32(1))
    return out


def fd_binary(op, a, b, x, y):
    if a + b == 1:
        lower = lambda u, v: f(op, u, v)   # noqa: E731
    elif b:
        lower = lambda u, v: d_binary(op, a, b - 1, u, v)   # noqa: E731
    else:
        lower = lambda u, v: d_binary(op, a - 1, b, u, v)   # noqa: E731
    if b and (a + b > 1 or a == 0):
        return (lower(x, y + H) - lower(x, y - H)) / (2 * H)
    if op == "polygamma":     # the order n is an integer (NaN results off the integers): 0
        return np.zeros_like(x)
    return (lower(x + H, y) - lower(x - H, y)) / (2 * H)


def d_ternary(op, order, x, y, z):
    out = np.empty_like(x)
    call(f"ternary_deriv<ops::{E.TERNARY[op][0]}, double, {order[0]}, {order[1]}, {order[2]}>",
         x, y, z, np.ones_like(x), out, x.size, 1, I32(1), I32(1), I32(1))
    return out


def fd_ternary(op, order, x, y, z):
    """A partial of order K by central differences of one of order K-1 (the kernel, itself
    checked), along the last argument it differentiates; of f itself for K = 1."""
    ax = max(i for i in range(3) if order[i])
    lower = list(order)
    lower[ax] -= 1
    g = (lambda *p: f(op, *p)) if sum(lower) == 0 else (lambda *p: d_ternary(op, lower, *p))
    hi, lo = [x, y, z], [x, y, z]
    hi[ax], lo[ax] = hi[ax] + H, lo[ax] - H
    return (g(*hi) - g(*lo)) / (2 * H)


def close(got, want, rtol):
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


# ---------------------------------------------------------------- one check per kernel family

def run(kind, op, T, a, b, c=None, xp=np):
    """Launch instantiation (kind, op, T, a, b, c) on fixed inputs (arrays of ``xp``); return
    its outputs."""
    dt = T_of(T)
    cplx = np.dtype(dt).kind == "c"
    x, y = (XC, YC) if cplx else (XS.get(op, X), Y)
    x, y, z = xp.asarray(x.astype(dt)), xp.asarray(y.astype(dt)), xp.asarray(Z.astype(dt))
    t, t2, g = (xp.asarray(a.astype(dt)) for a in lanes(cplx))
    row = E.UNARY.get(op) or E.BINARY.get(op) or E.TERNARY[op]
    name = f"{kind}<ops::{row[0]}, {T}" + "".join(f", {k}" for k in (a, b, c) if k is not None) \
        + ">"
    e = lambda s: xp.empty(s, dt)   # noqa: E731
    call = functools.partial(globals()["call"], xp=xp)
    if kind == "unary_fwd":
        out = e(N)
        call(name, x, out, N)
        return [out]
    if kind == "unary_jvp":
        out = e((L, N))
        call(name, x, t, out, N, L)
        return [out]
    if kind == "unary_vjp":
        plain, acc, one = e(N), xp.ones(N, dt), e(N)
        call(name, x, g, plain, N, 1, I32(0), I32(1))
        call(name, x, g, acc, N, 1, I32(1), I32(1))            # accumulate
        call(name, x, g[:1].copy(), one, N, 1, I32(0), I32(0))  # broadcast cotangent
        acc_one = xp.ones(N, dt)
        call(name, x, g[:1].copy(), acc_one, N, 1, I32(1), I32(0))   # both
        return [plain, acc - 1, one, acc_one - 1]
    if kind == "unary_vjp_dual":
        gx, tgx = e(N), e((L, N))
        call(name, x, g, t, t2, gx, tgx, N, L, I32(0))
        ax, atgx = xp.ones(N, dt), xp.ones((L, N), dt)
        call(name, x, g, t, t2, ax, atgx, N, L, I32(1))         # accumulate
        return [gx, tgx, ax - 1, atgx - 1]
    if kind == "binary_fwd":
        out, out0 = e(N), e(N)
        call(name, x, y, out, N, I32(1), I32(1))
        call(name, x, y[:1].copy(), out0, N, I32(1), I32(0))    # scalar operand
        # An operand of P elements repeating over the other's leading axes (stride -P);
        # N is not a multiple of P, so the last period is cut short.
        outx, outy = e(N), e(N)
        call(name, x[:P].copy(), y, outx, N, I32(-P), I32(1))
        call(name, x, y[:P].copy(), outy, N, I32(1), I32(-P))
        return [out, out0, outx, outy]
    if kind == "binary_jvp":
        out = e((L, N))
        call(name, x, y, t, t2, out, N, L, I32(1), I32(1))
        return [out]
    if kind == "binary_vjp":
        gx, gy = e(N), e(N)
        call(name, x, y, g, gx, gy, N, I32(1), I32(1), I32(1), I32(0), I32(0))
        # Every other case the kernel has a loop for (reference() has the same list): one
        # operand's cotangent, added into a buffer, a broadcast cotangent (the sum's), a
        # broadcast operand (a 0-d constant) on either side.
        ox, oy, ax, ay = e(N), e(N), xp.ones(N, dt), xp.ones(N, dt)
        call(name, x, y, g, ox, None, N, I32(1), I32(1), I32(1), I32(0), I32(0))
        call(name, x, y, g, None, oy, N, I32(1), I32(1), I32(1), I32(0), I32(0))
        call(name, x, y, g[:1].copy(), ax, ay, N, I32(1), I32(1), I32(0), I32(1), I32(1))
        bx, by = e(N), xp.ones(N, dt)
        call(name, x, y[:1].copy(), g, bx, None, N, I32(1), I32(0), I32(1), I32(0), I32(0))
        call(name, x[:1].copy(), y, g[:1].copy(), None, by, N, I32(0), I32(1), I32(0), I32(0),
             I32(1))
        cx, cy = e(1), e(1)                                      # every operand one element
        call(name, x[:1].copy(), y[:1].copy(), g[:1].copy(), cx, cy, 1, I32(0), I32(0), I32(0),
             I32(0), I32(0))
        return [gx, gy, ox, oy, ax - 1, ay - 1, bx, by - 1, cx, cy]
    if kind == "binary_vjp_dual":
        gx, gy, tgx, tgy = e(N), e(N), e((L, N)), e((L, N))
        call(name, x, y, g, t, t2, t, gx, gy, tgx, tgy, N, L, I32(1), I32(1), I32(0), I32(0))
        ax, ay, atx, aty = xp.ones(N, dt), e(N), xp.ones((L, N), dt), e((L, N))
        call(name, x, y, g, t, t2, t, ax, ay, atx, aty, N, L, I32(1), I32(1), I32(1), I32(0))
        return [gx, gy, tgx, tgy, ax - 1, ay, atx - 1, aty]     # x accumulated into
    if kind == "binary_deriv":
        out = e((L, N))
        call(name, x, y, t, out, N, L, I32(1), I32(1))
        return [out]
    if kind == "ternary_fwd":
        out, out0 = e(N), e(N)
        call(name, x, y, z, out, N, I32(1), I32(1), I32(1))
        call(name, x, y, z[:1].copy(), out0, N, I32(1), I32(1), I32(0))   # scalar operand
        return [out, out0]
    if kind == "ternary_deriv":
        out = e((L, N))
        call(name, x, y, z, t, out, N, L, I32(1), I32(1), I32(1))
        return [out]
    raise AssertionError(f"no check for kernel family {kind}")


def lanes(cplx):
    """Tangent lanes t, t2 and a cotangent g (complex ones for complex kernels)."""
    rng = np.random.default_rng(0)
    out = [rng.standard_normal(s) for s in ((L, N), (L, N), (N,))]
    if cplx:
        out = [a + 1j * rng.standard_normal(a.shape) for a in out]
    return out


def reference(kind, op, a, b, c=None, cplx=False):
    """float64 (complex128) reference outputs of run(kind, op, 'double', a, b, c)."""
    x, y = (XC, YC) if cplx else (XS.get(op, X), Y)
    t, t2, g = lanes(cplx)
    if kind == "ternary_fwd":
        return [f(op, x, y, Z), f(op, x, y, np.full_like(Z, Z[0]))]
    if kind == "ternary_deriv":
        return [fd_ternary(op, (a, b, c), x, y, Z) * t]
    if kind == "unary_fwd":
        return [f(op, x)]
    if kind == "unary_jvp":
        return [fd_unary(op, a, x) * t]
    if kind == "unary_vjp":
        d = fd_unary(op, a, x)
        return [d * g, d * g, d * g[0], d * g[0]]
    if kind == "unary_vjp_dual":
        d, d1 = fd_unary(op, a, x), fd_unary(op, a + 1, x) if a + 1 <= E.higher_order(op) else None
        if d1 is None:   # f^(K+1) by differences of f^(K)
            d1 = (d_unary(op, a, x + H) - d_unary(op, a, x - H)) / (2 * H)
        return [d * g, d1 * t * g + d * t2] * 2
    if kind == "binary_fwd":
        per = np.arange(N) % P
        return [f(op, x, y), f(op, x, np.full_like(y, y[0])), f(op, x[per], y), f(op, x, y[per])]
    fx, fy = fd_binary(op, 1, 0, x, y), fd_binary(op, 0, 1, x, y)
    if kind == "binary_jvp":
        return [fx * t + fy * t2]
    if kind == "binary_vjp":
        x0, y0 = np.full_like(x, x[0]), np.full_like(y, y[0])
        return [fx * g, fy * g, fx * g, fy * g, fx * g[0], fy * g[0],
                fd_binary(op, 1, 0, x, y0) * g, fd_binary(op, 0, 1, x0, y) * g[0],
                fx[:1] * g[0], fy[:1] * g[0]]
    if kind == "binary_vjp_dual":
        fxx, fxy, fyy = (fd_binary(op, 2, 0, x, y), fd_binary(op, 1, 1, x, y),
                         fd_binary(op, 0, 2, x, y))
        return [fx * g, fy * g, (fxx * t + fxy * t2) * g + fx * t,
                (fxy * t + fyy * t2) * g + fy * t] * 2
    if kind == "binary_deriv":
        return [fd_binary(op, a, b, x, y) * t]
    raise AssertionError(kind)


CASES = []
for _name in declared():
    _m = NAME.fullmatch(_name)
    assert _m, f"test_kernels cannot parse declared instantiation {_name}"
    _kind, _op, _T, *_abc = _m.groups()
    CASES.append(pytest.param(_kind, OPS[_op], _T, *(None if v is None else int(v) for v in _abc),
                              id=_name))


def test_every_declared_instantiation_has_a_case():
    assert len(CASES) == len(declared()) > 0


@pytest.mark.parametrize("kind,op,T,a,b,c", CASES)
def test_kernel(kind, op, T, a, b, c, xp):
    got = [host(r) for r in run(kind, op, T, a, b, c, xp)]
    if T == double_of(T):
        want = reference(kind, op, a, b, c, "Complex" in T)
        rtol = 1e-6     # one central difference of an exact kernel: ~1e-10 truncation
    else:
        want = run(kind, op, double_of(T), a, b, c)
        rtol = 2e-4
    assert len(got) == len(want)
    for g_, w_ in zip(got, want):
        close(g_, w_, rtol)


@pytest.mark.parametrize("T", ["float", "double"])
def test_complex_abs(T):
    dt = np.complex64 if T == "float" else np.complex128
    z = np.concatenate([XC, [0.0, 3e200 + 4e200j if T == "double" else 3e30 + 4e30j]]).astype(dt)
    out = np.empty(z.shape, np.float32 if T == "float" else np.float64)
    runtime.get_kernel(E.COMPLEX_SOURCE, f"complex_abs<{T}>", "cpu")((1,), (1,), (z, out, z.size))
    close(out, np.abs(z.astype(np.complex128)), 1e-6 if T == "float" else 1e-15)


@pytest.mark.parametrize("op", sorted(k for k in E.BINARY if k != "polygamma"))
def test_broadcast_operands_are_read_in_place(op, xp):
    # binary_fwd reads an operand broadcast over leading axes (a (37,) row against
    # (1001, 37): stride -37) or over trailing ones (a (1001, 1) column: stride 37), and a
    # column with a row (an outer product), in place instead of as full-size copies; the
    # host launcher's chunks end mid-row, so runs are cut at both a period's and a chunk's
    # end. The values are those of the materialised operands, to the vector math library's
    # 4 ulp (a run's tail may be computed scalar).
    import gpuad.numpy as gnp
    import gpuad.scipy.special as gss
    rng = np.random.default_rng(0)
    big, row = rng.uniform(0.3, 0.7, (1001, 37)), rng.uniform(1.2, 1.8, 37)
    col = rng.uniform(0.3, 0.7, (1001, 1))
    cube, col3 = rng.uniform(0.3, 0.7, (7, 11, 13)), rng.uniform(0.3, 0.7, (7, 1, 1))
    full = np.ascontiguousarray(np.broadcast_to(row, big.shape))
    cfull = np.ascontiguousarray(np.broadcast_to(col, big.shape))
    # the public function, or the internal one for ops without a SciPy name (log_gammainc)
    fn = getattr(gnp, op, None) or getattr(gss, op, None) or getattr(gss, "_" + op)
    for a, b, fa, fb in ((big, row, big, full), (row, big, full, big),
                         (big, row[None], big, full), (big, col, big, cfull),
                         (col, big, cfull, big), (col, row, cfull, full),
                         (row, col, full, cfull), (col3, cube[0] + 1, *np.broadcast_arrays(
                             col3, cube[0] + 1)), (cube, col3, *np.broadcast_arrays(cube, col3))):
        want = fn(*(xp.asarray(np.ascontiguousarray(v)) for v in (fa, fb)))
        a, b = xp.asarray(a), xp.asarray(b)
        with gpuad.profile() as p:
            got = fn(a, b)
        assert [r.bytes_read for r in p.launches] == [a.nbytes + b.nbytes], (op, a.shape, b.shape)
        np.testing.assert_allclose(host(got), host(want), rtol=4 * np.finfo(float).eps)
    # Periods under MIN_PERIOD (runs too short for the vectorised loop) are copied out.
    narrow = xp.asarray(big[:, :E.MIN_PERIOD - 1])
    for a, b in ((narrow, xp.asarray(col)), (narrow, xp.asarray(row[:E.MIN_PERIOD - 1]))):
        with gpuad.profile() as p:
            got = fn(a, b)
        assert [r.bytes_read for r in p.launches] == [2 * narrow.nbytes], (op, b.shape)
        np.testing.assert_allclose(host(got), host(fn(a, xp.asarray(np.ascontiguousarray(
            np.broadcast_to(host(b), narrow.shape))))), rtol=4 * np.finfo(float).eps)


def test_outer_product_matmul_runs_where_read_in_place(xp):
    # matmul with a contraction of 1: the multiply kernel where it reads both factors in
    # place (one launch, the factors' bytes), the library's broadcasting multiply for a stack
    # (the kernel would copy both out first) and for byte orders the kernels lack.
    from gpuad.primitives.linalg import matmul_p
    rng = np.random.default_rng(0)
    for sa, sb, kernel in (((300, 1), (1, 200), True), ((5, 300, 1), (1, 200), True),
                           ((5, 300, 1), (5, 1, 200), False), ((300, 1), (5, 1, 200), False)):
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        with gpuad.profile() as p:
            got = matmul_p.impl(xp.asarray(a), xp.asarray(b))
        names = [r.kernel for r in p.launches]
        assert names == (["multiply_fwd"] if kernel else ["xp.matmul"]), (sa, sb, names)
        if kernel:
            assert p.launches[0].bytes_read == a.nbytes + b.nbytes
        np.testing.assert_array_equal(host(got), a @ b)
    a, b = np.arange(3.0).reshape(3, 1).astype(">f8"), np.arange(4.0).reshape(1, 4).astype(">f8")
    if xp is np:
        np.testing.assert_array_equal(matmul_p.impl(a, b), a @ b)
