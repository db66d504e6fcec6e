"""Checkpointed loops, l = 1000 steps: step evaluations and peak memory during grad; not a test.

The loop x_{i+1} = x_i + 0.01 sin(w * x_i) over a 10,000-element float64 state (80 kB),
loss sum(x_l^2), gradient with respect to w. Each configuration runs in its own process:

  * gpuad.checkpoint_loop with s = 5, 10, 20 snapshots (Revolve), with every state stored
    (s = l), and the plain taped loop;
  * PyTorch torch.utils.checkpoint.checkpoint_sequential with 5, 10, 20 segments (uniform
    segments: n + (segments-1) * floor(n/segments) evaluations), and no checkpointing;
  * JAX lax.scan(jax.checkpoint(step)) (2n evaluations, n carries stored) and lax.scan(step).

Step evaluations are counted by the step itself (a Python counter) for gpuad and PyTorch;
for JAX, whose compiled program cannot call back per evaluation reliably, from the
gradient's jaxpr: full steps (sin applications, scan bodies times their length) plus the
rematerialized steps, which JAX prunes to what the step's VJP reads. Peak memory is the
growth of the process's peak resident set during the one grad call, after a small warm-up
(kernel builds and JIT compilation excluded), with glibc told to mmap every allocation of
64 kB or more so that freed arrays leave the resident set at once; for gpuad also the
engine's own peak-bytes figure (tape, snapshots, live cotangents).

    python benchmarks/bench_checkpoint.py
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _peers import run_isolated, table   # noqa: E402

L = 1000
N = 10_000
DT = 0.01
STATE_MB = N * 8 / 1e6


def _rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # kB on Linux


def _data():
    import numpy as np
    rng = np.random.default_rng(0)
    return rng.standard_normal(N) * 0.5, rng.standard_normal(N)


def run_gpuad(s):
    """s: snapshots, or 0 for the plain taped loop."""
    import time
    import gpuad
    import gpuad.numpy as gnp
    w, x0 = _data()
    calls = [0]

    def loss(w, x0, n, s):
        def step(x):
            calls[0] += 1
            return x + DT * gnp.sin(w * x)
        if s:
            x = gpuad.checkpoint_loop(step, x0, n, snapshots=s)
        else:
            x = x0
            for _ in range(n):
                x = step(x)
        return gnp.sum(x * x)
    gpuad.grad(loss)(w[:64], x0[:64], 8, s and 3)         # builds the kernels
    calls[0] = 0
    base = _rss_mb()
    t = time.perf_counter()
    with gpuad.profile() as prof:
        g = gpuad.grad(loss)(w, x0, L, s)
    return {"evals": calls[0], "time": time.perf_counter() - t, "rss": _rss_mb() - base,
            "engine": max(prof.peak_bytes.values()) / 1e6, "gsum": float(g.sum()),
            "host_reads_reverse": sum(h.phase == "reverse" for h in prof.host_reads)}


def run_torch(segments):
    """segments: for checkpoint_sequential, or 0 for no checkpointing."""
    import time
    import torch
    from torch.utils.checkpoint import checkpoint_sequential
    torch.set_num_threads(1)
    w_np, x_np = _data()
    calls = [0]

    class Step(torch.nn.Module):
        def __init__(self, w):
            super().__init__()
            self.w = w

        def forward(self, x):
            calls[0] += 1
            return x + DT * torch.sin(self.w * x)

    def grad(n, segments, w_np, x_np):
        w = torch.tensor(w_np, requires_grad=True)
        x = torch.tensor(x_np)
        model = torch.nn.Sequential(*[Step(w) for _ in range(n)])
        out = (checkpoint_sequential(model, segments, x, use_reentrant=False) if segments
               else model(x))
        (out * out).sum().backward()
        return w.grad
    grad(8, segments and 2, w_np[:64], x_np[:64])
    calls[0] = 0
    base = _rss_mb()
    t = time.perf_counter()
    g = grad(L, segments, w_np, x_np)
    return {"evals": calls[0], "time": time.perf_counter() - t, "rss": _rss_mb() - base,
            "gsum": float(g.sum())}


def _applications(jaxpr, name):
    """How many times primitive ``name`` runs when ``jaxpr`` runs (scan bodies times their
    length, through nested jaxprs)."""
    n = 0
    for eqn in jaxpr.eqns:
        n += eqn.primitive.name == name
        times = eqn.params.get("length", 1) if eqn.primitive.name == "scan" else 1
        for v in eqn.params.values():
            for sub in (v if isinstance(v, (tuple, list)) else (v,)):
                sub = getattr(sub, "jaxpr", sub)          # ClosedJaxpr -> Jaxpr
                if hasattr(sub, "eqns"):
                    n += times * _applications(sub, name)
    return n


def run_jax(ckpt):
    import time
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    w_np, x_np = _data()

    def make(n):
        def loss(w, x0):
            def step(x, _):
                return x + DT * jnp.sin(w * x), None
            x, _ = jax.lax.scan(jax.checkpoint(step) if ckpt else step, x0, None, length=n)
            return jnp.sum(x * x)
        return jax.grad(loss)
    jax.jit(make(8))(w_np[:64], x_np[:64]).block_until_ready()
    w, x = jnp.asarray(w_np), jnp.asarray(x_np)
    # The step applies sin once and its derivative rules never do (they use cos), so sin
    # applications in the gradient program are full step evaluations. The rematerialized
    # steps of the backward scan are pruned by JAX to what the VJP reads (here w*x, not
    # sin): count them apart.
    jaxpr = jax.make_jaxpr(make(L))(w, x).jaxpr
    full = _applications(jaxpr, "sin")
    remat = _applications(jaxpr, "remat2") + _applications(jaxpr, "checkpoint")
    evals = f"{full} + {remat} pruned recomputations" if remat else full
    compiled = jax.jit(make(L)).lower(w, x).compile()
    base = _rss_mb()
    t = time.perf_counter()
    out = compiled(w, x)
    out.block_until_ready()
    return {"evals": evals, "time": time.perf_counter() - t, "rss": _rss_mb() - base,
            "gsum": float(out.sum())}


def _revolve(s):
    import gpuad
    return gpuad.revolve_schedule(L, s).evaluations


def main():
    here = os.path.abspath(__file__)
    # States are 80 kB: mmapped allocations are returned on free, so peak RSS tracks the
    # live arrays instead of the allocator's high-water mark (set before the children start).
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    rows = []

    def add(name, stored, formula, res):
        if "error" in res:
            rows.append([name, stored, "-", formula, "-", "-", "-", f"not run: {res['error']}"])
            return
        engine = f"{res['engine']:.1f}" if "engine" in res else "-"
        rows.append([name, stored, res["evals"], formula, engine, f"{res['rss']:.1f}",
                     f"{res['time']:.2f}", f"{res['gsum']:.10g}"])

    for s in (5, 10, 20):
        add(f"gpuad checkpoint_loop, s={s}", f"{s} states", f"T(l,s) = {_revolve(s)}",
            run_isolated(here, "run_gpuad", s))
    add("gpuad checkpoint_loop, s=l (every state)", f"{L} states", f"2l-1 = {2 * L - 1}",
        run_isolated(here, "run_gpuad", L))
    add("gpuad, taped loop (no checkpointing)", f"{L} step tapes", f"l = {L}",
        run_isolated(here, "run_gpuad", 0))
    for k in (5, 10, 20):
        add(f"PyTorch checkpoint_sequential, {k} segments",
            f"{k - 1} inputs + {L // k} step tapes",
            f"n+(k-1)*floor(n/k) = {L + (k - 1) * (L // k)}",
            run_isolated(here, "run_torch", k))
    add("PyTorch, no checkpointing", f"{L} step tapes", f"n = {L}",
        run_isolated(here, "run_torch", 0))
    add("JAX lax.scan(jax.checkpoint(step))", f"{L} carries", f"2n = {2 * L}",
        run_isolated(here, "run_jax", True))
    add("JAX lax.scan(step)", f"{L} step residuals", f"n = {L}",
        run_isolated(here, "run_jax", False))
    print(f"l = {L} steps of x + {DT} sin(w x), state {N} float64 ({STATE_MB * 1e3:.0f} kB); "
          "grad of sum(x_l^2) with respect to w; one run each, own process, 2-core CPU.\n")
    print(table(rows, ["method", "stored", "step evaluations (counted)", "expected",
                       "engine peak MB", "peak RSS growth MB", "grad s", "sum(grad)"]))


if __name__ == "__main__":
    main()
