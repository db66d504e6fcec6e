"""The checks of gpuad.distributed that every rank runs: ``mpiexec -n N python
tests/distributed_checks.py --out DIR`` (any N >= 1; tests/test_distributed.py runs N = 2
and 3, and N = 1 in its own process). Each rank writes one JSON line per check to
``DIR/rank<r>.jsonl``; a watchdog ends a check that hangs (a deadlock fails instead of
hanging). ``--device cuda`` runs them on CuPy arrays (the GPU self-check: both ranks on
one GPU through MPI). ``--diverge`` runs the debug mode's divergence report instead.

``python tests/distributed_checks.py --launch 2 [--device cuda]`` launches the ranks
itself and prints a summary (exit status 1 if any check failed).

Expected values come from the same computation on the whole data in one process (every
rank recomputes it) or from the exact derivative.
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import traceback

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gpuad                                  # noqa: E402
import gpuad.numpy as gnp                     # noqa: E402
import gpuad.distributed as dist              # noqa: E402
from gpuad.core import bind                   # noqa: E402
from gpuad.distributed.collectives import psum_to_p   # noqa: E402

CHECKS: dict = {}
XP = np


def check(fn):
    CHECKS[fn.__name__] = fn
    return fn


def H(a):
    """A NumPy copy (host) of an array or a tree of them."""
    if isinstance(a, (list, tuple)):
        return type(a)(H(x) for x in a)
    return a.get() if hasattr(a, "get") else np.asarray(a)


def A(a):
    return XP.asarray(a)


def close(got, want, rtol=1e-12, what=""):
    got, want = H(got), np.asarray(H(want))
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    err = float(np.max(np.abs(got - want), initial=0.0))
    assert err <= rtol * scale, f"{what}: max |error| {err:.3g} > {rtol:g} * {scale:.3g}"


def ctx():
    R, N = dist.rank(), dist.size()
    return R, N, (R - 1 if R > 0 else None), (R + 1 if R < N - 1 else None)


def data(r, tag, shape_):
    """Rank r's array for ``tag`` (any rank can make any rank's)."""
    return np.random.default_rng([r, sum(map(ord, tag))]).standard_normal(shape_)


def split(m, N):
    return np.array_split(np.arange(m), N)


def ip(a, b, once):
    """The global inner product: a shared value's counts once, a rank-local one is
    summed over ranks."""
    s = float(dist.psum(np.asarray(float(np.sum(H(a) * H(b))))))
    return s / dist.size() if once else s


# ------------------------------------------------------------------ forward values

@check
def forward_values():
    R, N, left, right = ctx()
    xs = [data(r, "x", (2, 3)) for r in range(N)]
    close(dist.psum(A(xs[R])), sum(xs), 1e-14, "psum")
    close(dist.pmean(A(xs[R])), sum(xs) / N, 1e-14, "pmean")
    close(dist.all_gather(A(xs[R]), axis=1), np.concatenate(xs, 1), 0, "all_gather")
    big = [data(r, "b", (2 * N, 3)) for r in range(N)]
    close(dist.psum_scatter(A(big[R])), sum(big)[2 * R:2 * R + 2], 1e-14, "psum_scatter")
    close(dist.bcast(A(xs[R]), root=N - 1), xs[N - 1], 0, "bcast")
    close(bind(psum_to_p, A(xs[R]), root=0, comm=dist.transport(), xp=XP),
          sum(xs) if R == 0 else 0 * xs[0], 1e-14, "psum_to")
    close(dist.shift(A(xs[R]), dest=right, source=left),
          xs[left] if left is not None else 0 * xs[0], 0, "shift")
    close(dist.shift(A(xs[R]), dest=(R + 1) % N, source=(R - 1) % N), xs[(R - 1) % N], 0,
          "periodic shift")
    m = 7
    u = np.arange(m, dtype=float) + 1.0
    part = split(m, N)[R]
    for width, periodic in ((1, False), (2, False), (2, True)):
        padded = np.concatenate([u[-width:] if periodic else np.zeros(width), u,
                                 u[:width] if periodic else np.zeros(width)])
        want = padded[part[0]:part[-1] + 1 + 2 * width]
        close(dist.halo(A(u[part]), width, periodic=periodic), want, 0,
              f"halo width {width} periodic {periodic}")
    uu = np.stack([u, -u])
    close(dist.halo(A(uu[:, part]), 1, axis=1),
          np.pad(uu, ((0, 0), (1, 1)))[:, part[0]:part[-1] + 3], 0, "halo axis 1")


# ------------------------------------------------------------------ each collective: JVP and VJP

def _ops():
    R, N, left, right = ctx()
    m = 7
    mr = len(split(m, N)[R])
    # name: (f, input shared?, output shared?, input shape)
    return {
        "psum": (lambda x: dist.psum(x), False, True, (3,)),
        "pmean": (lambda x: dist.pmean(x), False, True, (3,)),
        "pvary": (lambda x: dist.pvary(x), True, False, (3,)),
        "all_gather": (lambda x: dist.all_gather(x, axis=1), False, False, (2, 3)),
        "psum_scatter": (lambda x: dist.psum_scatter(x, axis=0), False, False, (2 * N, 3)),
        "bcast": (lambda x: dist.bcast(x, root=N - 1), False, False, (3,)),
        "psum_to": (lambda x: bind(psum_to_p, x, root=0, comm=dist.transport(), xp=XP),
                    False, False, (3,)),
        "shift": (lambda x: dist.shift(x, dest=right, source=left), False, False, (3,)),
        "shift_back": (lambda x: dist.shift(x, dest=left, source=right), False, False, (3,)),
        "halo": (lambda x: dist.halo(x, 2), False, False, (mr, 2)),
        "halo_periodic_axis1": (lambda x: dist.halo(x, 1, axis=1, periodic=True), False,
                                False, (2, mr)),
    }


def _dot_test(name):
    R, N, _, _ = ctx()
    f, in_once, out_once, s = _ops()[name]
    x = A(data(0 if in_once else R, "dx", s))
    v = A(data(0 if in_once else R, "dv", s))
    out, t = gpuad.jvp(f, (x,), (v,))
    u = A(data(0 if out_once else R, "du", H(out).shape))
    _, f_vjp = gpuad.vjp(dist.spmd(f, shared=()), x)
    (g,) = f_vjp(u)
    lhs, rhs = ip(u, t, out_once), ip(g, v, in_once)
    assert abs(lhs - rhs) <= 1e-13 * max(1.0, abs(lhs)), f"<u, Jv> = {lhs!r}, <J^T u, v> = {rhs!r}"
    # Linear: the tangent is the collective applied to v, in the same message as the value.
    close(out, f(x), 1e-14, "jvp's value")
    close(t, f(v), 1e-14, "jvp's tangent is f(v)")


for _name in ("psum", "pmean", "pvary", "all_gather", "psum_scatter", "bcast", "psum_to",
              "shift", "shift_back", "halo", "halo_periodic_axis1"):
    CHECKS[f"dot_{_name}"] = (lambda n: lambda: _dot_test(n))(_name)


@check
def one_message_for_value_and_lanes():
    R, N, left, right = ctx()
    t = dist.transport()
    x = A(data(R, "x", (5, 2)))
    V = A(data(R, "V", (4, 5, 2)))
    before = {k: list(v) for k, v in t.stats.items()}
    from gpuad.transforms import jvp_lanes
    jvp_lanes(lambda u: dist.halo(u, 1), (x,), (V,), 4)
    jvp_lanes(lambda u: dist.psum(u), (x,), (V,), 4)
    calls = {k: t.stats[k][0] - before.get(k, [0])[0] for k in t.stats}
    nbytes = {k: t.stats[k][1] - before.get(k, [0, 0])[1] for k in t.stats}
    if N == 1:
        return                        # a single process sends nothing
    assert calls.get("sendrecv") == 2, calls       # halo: two shifts, value + 4 lanes each
    neighbours = (left is not None) + (right is not None)    # (the ends send one way)
    assert nbytes["sendrecv"] == neighbours * 5 * 1 * 2 * 8, nbytes
    assert calls.get("allreduce") == 1, calls
    assert nbytes["allreduce"] == 5 * 5 * 2 * 8, nbytes


# ------------------------------------------------------------------ constants on some ranks

W = np.array([0.7, -1.3, 2.1])
C = np.array([0.4, 0.9, -0.2])


def _F(x):
    """Only rank 0's argument is traced; rank 1 receives it: F = sum(sin(x_0) W) + const."""
    R, N, left, right = ctx()
    y = x if R == 0 else A(C)
    z = dist.shift(y, dest=right, source=left)
    return dist.psum(gnp.sum(gnp.sin(z) * A(W)))


def _F_parts(x):
    # value, gradient on rank 0, second derivative diagonal on rank 0 (N > 1); F = 0 for N = 1
    R, N, _, _ = ctx()
    if N == 1:
        return 0.0, 0 * x, 0 * x
    val = float(np.sum(np.sin(x) * W) + (N - 2) * np.sum(np.sin(C) * W))
    return val, np.cos(x) * W, -np.sin(x) * W


X0 = np.array([0.3, -0.8, 1.1])
V0 = np.array([1.0, 0.5, -2.0])


@check
def constant_jvp():
    val, g, _ = _F_parts(X0)
    out, t = gpuad.jvp(_F, (A(X0),), (A(V0),))       # psum's tangent: every rank's, summed
    close(out, val, 1e-13, "value")
    close(t, np.sum(g * V0), 1e-13, "tangent (rank 0's, arriving on every rank)")


@check
def constant_grad():
    R = dist.rank()
    _, g, _ = _F_parts(X0)
    close(gpuad.grad(dist.spmd(_F, shared=()))(A(X0)), g if R == 0 else 0 * g, 1e-13)


@check
def constant_hvp():
    R = dist.rank()
    _, _, h = _F_parts(X0)
    close(gpuad.hvp(dist.spmd(_F, shared=()), A(X0), A(V0)), h * V0 if R == 0 else 0 * h, 1e-13)


@check
def constant_hvp_batched_chunked():
    R = dist.rank()
    _, _, h = _F_parts(X0)
    V = np.stack([V0, 2 * V0, -V0])
    want = h * V if R == 0 else 0 * V
    close(gpuad.hvp(dist.spmd(_F, shared=()), A(X0), A(V), batched=True, chunk=2), want, 1e-13)


@check
def hvp_chunks_agreed_across_ranks():
    R = dist.rank()
    _, _, h = _F_parts(X0)
    V = np.stack([V0, 2 * V0, -V0, 0.5 * V0])
    f = dist.spmd(_F, shared=())
    # Each rank asks for another chunk size: all sweep the smallest (1 lane at a time).
    close(gpuad.hvp(f, A(X0), A(V), batched=True, chunk=1 + R), h * V if R == 0 else 0 * V,
          1e-13, "chunked hvp")
    if dist.size() > 1:           # a different number of directions is refused everywhere
        try:
            gpuad.hvp(f, A(X0), A(V[:3 + (R == 0)]), batched=True, chunk=2)
        except ValueError as e:
            assert "hvp directions differs across ranks" in str(e), str(e)
        else:
            raise AssertionError("different numbers of directions were not refused")


@check
def constant_jacfwd():
    _, g, _ = _F_parts(X0)
    close(gpuad.jacfwd(_F)(A(X0)), g, 1e-13, "forward mode: a direction moves every rank")


@check
def constant_taylor():
    val, g, h = _F_parts(X0)
    c = gpuad.taylor(_F, A(X0), A(V0), order=3)
    close(c[0], val, 1e-13, "value")
    close(c[1], np.sum(g * V0), 1e-13, "first coefficient")
    close(c[2], np.sum(h * V0 * V0) / 2, 1e-13, "second coefficient")
    close(c[3], -np.sum(g * V0 ** 3) / 6, 1e-13, "third coefficient")


@check
def constant_grad_of_grad():
    R = dist.rank()
    _, _, h = _F_parts(X0)
    got = gpuad.jacrev(gpuad.grad(dist.spmd(_F, shared=())))(A(X0))
    close(got, np.diag(h) if R == 0 else 0 * np.diag(h), 1e-13, "reverse over reverse")


@check
def constant_checkpoint():
    R, N, left, right = ctx()

    for policy in (None, gpuad.checkpoint_policies.everything_saveable):
        def F(x):
            y = x if R == 0 else A(C)
            z = gpuad.checkpoint(lambda a: dist.shift(gnp.sin(a), dest=right, source=left),
                                 policy=policy)(y)
            return dist.psum(gnp.sum(z * A(W)))
        _, g, h = _F_parts(X0)
        close(gpuad.grad(dist.spmd(F, shared=()))(A(X0)), g if R == 0 else 0 * g, 1e-13,
              f"grad, policy {policy}")
        close(gpuad.hvp(dist.spmd(F, shared=()), A(X0), A(V0)), h * V0 if R == 0 else 0 * h,
              1e-13, f"hvp, policy {policy}")


def _ring(x0, C_, steps):
    """Serial reference of the periodic loop below on the stacked (N, 3) state."""
    y = gnp.concatenate([gnp.reshape(x0, (1, 3)), C_], 0)
    for _ in range(steps):
        y = gnp.sin(gnp.concatenate([y[-1:], y[:-1]], 0)) * 1.5
    return y


@check
def constant_checkpoint_loop():
    R, N, left, right = ctx()
    Wr = [data(r, "w", (3,)) for r in range(N)]
    Cs = np.stack([C * (r + 1) for r in range(1, N)]) if N > 1 else np.zeros((0, 3))

    def step(y):
        return gnp.sin(dist.shift(y, dest=(R + 1) % N, source=(R - 1) % N)) * 1.5

    def F(x):
        y = x if R == 0 else A(C * (R + 1))
        yT = gpuad.checkpoint_loop(step, y, 5, snapshots=2)
        return dist.psum(gnp.sum(yT * A(Wr[R])))

    def serial(x0):
        return gnp.sum(_ring(x0, A(Cs), 5) * A(np.stack(Wr)))
    g_serial = gpuad.grad(serial)(A(X0))
    close(gpuad.grad(dist.spmd(F, shared=()))(A(X0)), g_serial if R == 0 else 0 * X0, 1e-12,
          "grad")
    h_serial = gpuad.hvp(serial, A(X0), A(V0))
    close(gpuad.hvp(dist.spmd(F, shared=()), A(X0), A(V0)), h_serial if R == 0 else 0 * X0,
          1e-12, "hvp")
    close(gpuad.jvp(F, (A(X0),), (A(V0),))[1], float(H(g_serial) @ V0), 1e-12, "jvp")


# ------------------------------------------------------------------ against one process

def _heat_serial(p, u0, w, ghosts, steps=6, snapshots=None, budget=None):
    k = 0.2 * gnp.exp(p)

    def step(u):
        up = ghosts(u)
        lap = up[:, :-2] - 2.0 * u + up[:, 2:]
        return u + k * lap - 0.05 * u ** 3
    uT = gpuad.checkpoint_loop(step, u0, steps, snapshots=snapshots, memory_budget=budget)
    return gnp.sum(uT * uT * w)


def _heat_setup():
    R, N, _, _ = ctx()
    m, E = 7, 2
    rng = np.random.default_rng(5)
    p, u0, w = rng.standard_normal(m) * 0.3, rng.standard_normal((E, m)), rng.random((E, m))
    V = rng.standard_normal((3, m))
    part = split(m, N)[R]
    serial = lambda q, **kw: _heat_serial(                               # noqa: E731
        q, A(u0), A(w), lambda u: gnp.pad(u, ((0, 0), (1, 1))), **kw)
    local = lambda q, **kw: dist.psum(_heat_serial(                      # noqa: E731
        q, A(u0[:, part]), A(w[:, part]), lambda u: dist.halo(u, 1, axis=1), **kw))
    return p, V, part, serial, local


@check
def heat_grad_jvp_hvp_match_one_process():
    p, V, part, serial, local = _heat_setup()
    for kw in ({"snapshots": 3}, {"budget": 150}):
        # 150 bytes hold 150 // (2 rows * m_r cells * 8 bytes) states: 2 and 3 (m_r = 4, 3
        # on 2 ranks), 3 and 4 (3, 2, 2 on 3): the counts must be agreed on, or the ranks'
        # schedules, and so their halo exchanges, differ.
        close(gpuad.grad(dist.spmd(local, shared=()))(A(p[part]), **kw),
              H(gpuad.grad(serial)(A(p), **kw))[part], 1e-12, f"grad {kw}")
    close(gpuad.jvp(lambda q: local(q, snapshots=2), (A(p[part]),), (A(V[0, part]),))[1],
          gpuad.jvp(lambda q: serial(q, snapshots=2), (A(p),), (A(V[0]),))[1], 1e-12, "jvp")
    hs = H(gpuad.hvp(lambda q: serial(q, snapshots=2), A(p), A(V), batched=True))
    close(gpuad.hvp(dist.spmd(lambda q: local(q, snapshots=2), shared=()), A(p[part]),
                    A(V[:, part]), batched=True, chunk=2), hs[:, part], 1e-12, "batched hvp")
    ts = gpuad.taylor(lambda q: serial(q, snapshots=2), A(p), A(V[1]), order=2)
    tl = gpuad.taylor(lambda q: local(q, snapshots=2), A(p[part]), A(V[1, part]), order=2)
    for k in range(3):
        close(tl[k], ts[k], 1e-12, f"taylor coefficient {k}")


@check
def check_grads_across_ranks():
    R, N, _, _ = ctx()
    mr = len(split(7, N)[R])
    x = A(data(R, "cg", (mr,)))
    w = A(np.array([0.8, -0.3]))

    def f(w, x):                       # rank-local output
        # pmean's result is shared: pvary where it meets rank-local values
        return gnp.sin(dist.halo(x * w[0], 1, periodic=True)) + \
            w[1] * dist.pvary(dist.pmean(x[:1]))
    dist.check_grads(f, (w, x), shared=0, order=2)

    def g(w):                          # shared output
        return dist.psum(gnp.sum(gnp.tanh(w[0] * x + w[1])))
    dist.check_grads(g, (w,), shared=0, out_shared=True, order=2)


# ------------------------------------------------------------------ the pvary trap

def _logistic_setup():
    R, N, _, _ = ctx()
    rng = np.random.default_rng(11)
    X, y = rng.standard_normal((9, 3)), (rng.random(9) < 0.5).astype(float)
    part = split(9, N)[R]
    w = np.array([0.2, -0.4, 0.1])

    def loss_on(Xs, ys):
        return lambda w: gnp.sum(gnp.softplus(A(Xs) @ w) - A(ys) * (A(Xs) @ w)) / 9.0
    local = loss_on(X[part], y[part])
    return w, loss_on(X, y), local, (lambda w: dist.psum(local(w)))


@check
def trap_undeclared_reverse_mode_is_refused():
    w, _, _, loss = _logistic_setup()
    for transform in (gpuad.grad, lambda f: (lambda x: gpuad.hvp(f, x, x))):
        try:
            transform(loss)(A(w))
        except TypeError as e:
            assert "spmd" in str(e) and "psum" in str(e), str(e)
        else:
            raise AssertionError("reverse mode through psum outside spmd was not refused")


@check
def trap_shared_declaration_gives_the_whole_gradient():
    w, serial, local, loss = _logistic_setup()
    N = dist.size()
    close(gpuad.grad(dist.spmd(loss, shared=0))(A(w)), gpuad.grad(serial)(A(w)), 1e-13,
          "shared=0: the gradient of the sum over ranks")
    V = A(np.eye(3))
    close(gpuad.hvp(dist.spmd(loss, shared=0), A(w), V, batched=True),
          gpuad.hvp(serial, A(w), V, batched=True), 1e-13, "batched hvp")
    close(gpuad.jvp(loss, (A(w),), (A(w),))[1], gpuad.jvp(serial, (A(w),), (A(w),))[1], 1e-13,
          "forward mode needs no declaration")
    # Declared rank-local, the same w gets only this rank's part: the trap, made explicit.
    mine = H(gpuad.grad(dist.spmd(loss, shared=()))(A(w)))
    close(mine, gpuad.grad(local)(A(w)), 1e-13, "shared=(): this rank's contribution")
    if N > 1:
        assert np.max(np.abs(mine - H(gpuad.grad(serial)(A(w))))) > 1e-3


@check
def none_leaves_pass_through_collectives():
    """A None inside a pytree is an empty subtree for the collectives too (psum, pmean,
    all_gather, psum_scatter, bcast, shift), in every mode; psum and pmean handed None on
    as an object array, all_gather raised."""
    R, N, left, right = ctx()
    x = data(R, "none", (2 * N,))

    def loss(p):
        s = dist.psum({"a": gnp.sum(gnp.sin(p["a"]) ** 2), "n": None})
        m = dist.pmean({"n": None, "b": p["a"][0] * p["t"][1]})
        g = dist.all_gather((p["a"] ** 2, None))
        r = dist.psum_scatter([None, p["a"] * 3.0])
        z = dist.shift({"k": gnp.cos(p["a"]), "n": None}, dest=right, source=left)
        b = dist.bcast((None, p["t"][1] ** 2))
        assert s["n"] is None and m["n"] is None and g[1] is None and r[0] is None
        assert z["n"] is None and b[0] is None
        return s["a"] + dist.psum(m["b"] + gnp.sum(g[0]) + gnp.sum(r[1] ** 2)
                                  + gnp.sum(z["k"] * p["a"]) + b[1])

    def plain(a, t):
        return loss({"a": a, "n": None, "t": (None, t)})
    p = {"a": A(x), "n": None, "t": (None, A(0.5))}
    v = {"a": A(np.cos(x)), "n": None, "t": (None, A(2.0))}
    f, fp = dist.spmd(loss, shared=()), dist.spmd(plain, shared=())
    close(f(p), fp(p["a"], p["t"][1]), 1e-14, "value")
    g, gp = gpuad.grad(f)(p), gpuad.grad(fp, argnums=(0, 1))(p["a"], p["t"][1])
    assert g["n"] is None and g["t"][0] is None
    close(g["a"], gp[0], 1e-14, "grad a")
    close(g["t"][1], gp[1], 1e-14, "grad t")
    _, t = gpuad.jvp(loss, (p,), (v,))
    close(t, gpuad.jvp(plain, (p["a"], p["t"][1]), (v["a"], v["t"][1]))[1], 1e-14, "jvp")
    V = gpuad.tree.tree_map(lambda l: None if l is None else XP.stack([l, -2 * l]), v)
    fp2 = dist.spmd(lambda q: plain(*q), shared=())
    want = gpuad.hvp(fp2, (p["a"], p["t"][1]), (V["a"], V["t"][1]), batched=True)
    for chunk in (None, 1):
        hv = gpuad.hvp(f, p, V, batched=True, chunk=chunk)
        assert hv["n"] is None and hv["t"][0] is None
        close(hv["a"], want[0], 1e-13, f"hvp a, chunk {chunk}")
        close(hv["t"][1], want[1], 1e-13, f"hvp t, chunk {chunk}")
    Hp = gpuad.hessian(fp2)((p["a"], p["t"][1]))
    Hf = gpuad.hessian(f)(p)
    assert Hf["n"] is None and Hf["a"]["n"] is None
    close(Hf["a"]["a"], Hp[0][0], 1e-13, "hessian a a")
    close(Hf["t"][1]["a"], Hp[1][0], 1e-13, "hessian t a")


# ------------------------------------------------------------------ the debug mode

def diverge():
    """GPUAD_DISTRIBUTED_CHECK=1: a shared argument that differs is named, and ranks that
    call different collectives get a report instead of a hang."""
    R, N, left, right = ctx()
    assert dist.checking() and N > 1
    try:
        gpuad.grad(dist.spmd(lambda w: dist.psum(gnp.sum(w * w)), shared=0))(A(np.ones(2) * R))
    except ValueError as e:
        assert "declared shared but its value differs across ranks" in str(e), str(e)
        print(f"rank {R}: SHARED-REPORTED", flush=True)
    x = A(np.arange(3.0) + R)
    try:       # a psum result in rank-local work without pvary: its cotangent differs
        gpuad.grad(dist.spmd(lambda w: dist.psum(gnp.sum(dist.psum(w) * x)), shared=0))(
            A(np.ones(1)))
    except ValueError as e:
        assert "psum: the cotangent of its result differs across ranks" in str(e), str(e)
        print(f"rank {R}: PVARY-REPORTED", flush=True)
    try:
        if R == 0:
            dist.psum(x)
        else:
            dist.shift(x, dest=right, source=left)
    except dist.DivergenceError as e:
        msg = str(e)
        assert "rank 0:" in msg and "allreduce" in msg and "sendrecv" in msg, msg
        assert "distributed_checks.py" in msg, msg
        print(f"rank {R}: DIVERGENCE-REPORTED\n{msg}", flush=True)


# ------------------------------------------------------------------ running

def run(out: pathlib.Path, names, timeout: float):
    R = dist.rank()
    with open(out / f"rank{R}.jsonl", "w") as fh:
        for name in names:
            faulthandler.dump_traceback_later(timeout, exit=True)
            t0 = time.perf_counter()
            try:
                CHECKS[name]()
                res = {"check": name, "ok": True}
            except Exception as e:          # noqa: BLE001 - reported per check
                res = {"check": name, "ok": False,
                       "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"}
            faulthandler.cancel_dump_traceback_later()
            res["seconds"] = round(time.perf_counter() - t0, 3)
            fh.write(json.dumps(res) + "\n")
            fh.flush()


def mpiexec():
    """The mpiexec beside this Python (the mpich wheel's), else the one on PATH."""
    here = pathlib.Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def launch(n, out, device="cpu", names=None, timeout=600, per_check=90, extra=(), env=None):
    """Run the checks on ``n`` ranks under mpiexec; returns (CompletedProcess, {check:
    [result per rank]}). A check missing on some rank hung or crashed there."""
    cmd = [mpiexec(), "-n", str(n), sys.executable, str(pathlib.Path(__file__).resolve()),
           "--out", str(out), "--device", device, "--per-check", str(per_check), *extra]
    if names:
        cmd += ["--only", ",".join(names)]
    e = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e,
                          cwd=str(ROOT))
    results: dict = {}
    for r in range(n):
        f = pathlib.Path(out) / f"rank{r}.jsonl"
        for line in (f.read_text().splitlines() if f.exists() else []):
            res = json.loads(line)
            results.setdefault(res["check"], {})[r] = res
    return proc, results


def main(argv=None):
    global XP
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--only", default="")
    ap.add_argument("--per-check", type=float, default=90.0)
    ap.add_argument("--diverge", action="store_true")
    ap.add_argument("--launch", type=int, default=0, metavar="N")
    args = ap.parse_args(argv)
    if args.launch:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            proc, results = launch(args.launch, d, args.device, per_check=args.per_check)
        bad = {k: v for k, v in results.items() if not all(r["ok"] for r in v.values())
               or len(v) != args.launch}
        missing = sorted(set(CHECKS) - set(results))
        print(f"{len(results) - len(bad)} of {len(CHECKS)} checks passed on "
              f"{args.launch} ranks ({args.device})")
        for k, v in bad.items():
            print(f"FAILED {k}: " + "; ".join(f"rank {r}: {x.get('error', '')[:300]}"
                                               for r, x in v.items() if not x["ok"]))
        for k in missing:
            print(f"NOT RUN {k} (an earlier check hung or crashed)")
        if bad or missing:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
        return 1 if bad or missing or proc.returncode else 0
    if args.device == "cuda":
        import cupy
        XP = cupy
        cupy.cuda.Device(dist.rank() % cupy.cuda.runtime.getDeviceCount()).use()
    if args.diverge:
        diverge()
        return 0
    names = [n for n in args.only.split(",") if n] or list(CHECKS)
    run(pathlib.Path(args.out), names, args.per_check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
