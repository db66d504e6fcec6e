"""Hessian-vector products on two problems (CPU), gpuad beside PyTorch and JAX eager.

``logreg``: L2-regularised logistic regression, n = 10^5 parameters, 100 samples
(``sum(softplus(A w) - y * A w) + 0.5 lam sum(w * w)``): its cost is two matrix products.
``tanh``: a two-layer tanh network's regularised squared loss over N x D data with H hidden
units, parameters (W1 (D, H), b1 (H,), w2 (H,)): the hidden layer's N x H elementwise work
(times K lanes) dominates.

Per library: the gradient, one HVP, one batched HVP with K = 32 directions (absolute times,
medians), and the ratios BENCHMARKS.md has always reported (HVP / grad, batched HVP per
direction / single HVP); for gpuad also the batched call's engine peak bytes
(``gpuad.profile().peak_bytes``). The gradient and the HVP calls alternate, ``REPEAT`` of
each, and HVP / grad is the median of the ratios of a gradient call and the HVP call right
after it: a burst of load falls on both (before run U, a block of gradients then a block
of HVPs: a burst on one block moved the ratio). PyTorch: ``torch.func`` (jvp of grad, vmap over it for the
batch; double backward too); JAX eager: ``jax.jvp(jax.grad)``, ``jax.vmap`` over it. Each
library runs in its own process, the three at once taking turns (``_peers.run_interleaved``:
one repetition of a library, a pause, one of the next, ...; never two at a time), so that
a slow stretch of the machine falls on all three alike; until run X they ran one after
another, and a library measured in a slow minute lost to one measured in a quiet one.
``--rounds r`` repeats that r times with fresh processes; the load average over each round
is printed beside its rows.

Threads: NumPy's OpenBLAS gets ``--blas-threads`` (default: the CPU count, NumPy's own
default; gpuad holds it at one thread while its products run and splits them over its own
threads, gpuad/runtime/blas.py), gpuad's kernels the host launcher's worker threads (one per
core), PyTorch ``torch.set_num_threads`` (2 unless TORCH_THREADS is set), XLA its default
(one thread per core).

    python benchmarks/bench_hvp.py [--problem logreg|tanh|both] [--rounds r] [--blas-threads t]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _peers import alternating_times, median_time, run_interleaved, table, turn   # noqa: E402

K = 32
REPEAT = 20      # calls of each of grad and HVP (alternating) per library per round
LAM = 1e-2
SIZES = {"logreg": (10 ** 5, 100), "tanh": (1000, 100, 1000)}   # (n, m); (N, D, H)


def data(problem):
    rng = np.random.default_rng(0)
    if problem == "logreg":
        n, m = SIZES[problem]
        A = rng.standard_normal((m, n)) / np.sqrt(n)
        y = (rng.random(m) < 0.5).astype(np.float64)
        w = rng.standard_normal(n) * 0.1
        V = rng.standard_normal((K, n))
        return (A, y), w, V
    N, D, H = SIZES[problem]
    X = rng.standard_normal((N, D))
    y = rng.standard_normal(N)
    p = (rng.standard_normal((D, H)) / np.sqrt(D), rng.standard_normal(H) * 0.1,
         rng.standard_normal(H) / np.sqrt(H))
    V = tuple(rng.standard_normal((K,) + a.shape) for a in p)
    return (X, y), p, V


def loss_fn(problem, ns, nn_softplus, consts):
    """The problem's loss written against a NumPy-like namespace ``ns``."""
    if problem == "logreg":
        A, y = consts

        def loss(w):
            z = A @ w
            return ns.sum(nn_softplus(z) - y * z) + 0.5 * LAM * ns.sum(w * w)
        return loss
    X, y = consts
    N = X.shape[0]

    def loss(p):
        W1, b1, w2 = p
        h = ns.tanh(X @ W1 + b1)
        r = h @ w2 - y
        return (0.5 / N) * ns.sum(r * r) + 0.5 * LAM * (ns.sum(W1 * W1) + ns.sum(w2 * w2))
    return loss


def first(v):
    return tuple(a[0] for a in v) if isinstance(v, tuple) else v[0]


def case_gpuad(problem):
    with turn():      # (under run_interleaved every computing step is in a turn)
        import gpuad
        import gpuad.numpy as gnp
        consts, w, V = data(problem)
    loss = loss_fn(problem, gnp, gnp.softplus, consts)
    g = gpuad.grad(loss)
    v0 = first(V)
    r = alternating_times({"grad": lambda: g(w), "hvp": lambda: gpuad.hvp(loss, w, v0)},
                          REPEAT)
    r["hvp_batched"] = median_time(lambda: gpuad.hvp(loss, w, V, batched=True), 5)
    with turn(), gpuad.profile() as prof:
        gpuad.hvp(loss, w, V, batched=True)
    r["peak_bytes"] = max(prof.peak_bytes.values())
    with turn(), gpuad.profile() as prof:
        g(w)
    r["grad_peak_bytes"] = max(prof.peak_bytes.values())
    return r


def case_torch(problem):
    with turn():
        import torch
        from torch.func import grad, jvp, vmap
        torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
        consts, w, V = data(problem)
        t = torch.from_numpy
        consts = tuple(t(a) for a in consts)
        w = tuple(t(a) for a in w) if isinstance(w, tuple) else t(w)
        V = tuple(t(a) for a in V) if isinstance(V, tuple) else t(V)
    loss = loss_fn(problem, torch, torch.nn.functional.softplus, consts)
    ws = w if isinstance(w, tuple) else (w,)

    def grad_bw():
        x = [a.detach().requires_grad_(True) for a in ws]
        loss(tuple(x) if isinstance(w, tuple) else x[0]).backward()
        return [a.grad for a in x]

    def hvp_double_backward(v):
        x = [a.detach().requires_grad_(True) for a in ws]
        gx = torch.autograd.grad(loss(tuple(x) if isinstance(w, tuple) else x[0]), x,
                                 create_graph=True)
        return torch.autograd.grad(gx, x, v if isinstance(v, tuple) else (v,))
    g = grad(loss)
    hvp_one = lambda v: jvp(g, (w,), (v,))[1]    # noqa: E731
    v0 = first(V)
    r = alternating_times({"grad": grad_bw, "hvp": lambda: hvp_one(v0),
                           "hvp_double_backward": lambda: hvp_double_backward(v0)}, REPEAT)
    r["hvp_batched"] = median_time(lambda: vmap(hvp_one)(V), 5)
    return r


def case_jax(problem):
    with turn():
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        consts, w, V = data(problem)
        conv = lambda a: tuple(jnp.asarray(b) for b in a) if isinstance(a, tuple) else jnp.asarray(a)  # noqa: E731
        consts, w, V = conv(consts), conv(w), conv(V)
    loss = loss_fn(problem, jnp, jax.nn.softplus, consts)
    g = jax.grad(loss)
    hvp_one = lambda v: jax.jvp(g, (w,), (v,))[1]     # noqa: E731
    b = jax.block_until_ready
    v0 = first(V)
    r = alternating_times({"grad": lambda: b(g(w)), "hvp": lambda: b(hvp_one(v0))}, REPEAT)
    r["hvp_batched"] = median_time(lambda: b(jax.vmap(hvp_one)(V)), 5)
    return r


def load():
    return "%.1f" % os.getloadavg()[0]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--problem", default="both", choices=("logreg", "tanh", "both"))
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--libs", default="gpuad,torch,jax")
    ap.add_argument("--blas-threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    here = os.path.abspath(__file__)
    problems = ("logreg", "tanh") if args.problem == "both" else (args.problem,)
    print(f"threads: OPENBLAS_NUM_THREADS={args.blas_threads}, "
          f"torch {os.environ.get('TORCH_THREADS', '2')}, XLA default; {os.cpu_count()} CPUs")
    for problem in problems:
        rows = []
        for rnd in range(args.rounds):
            names = args.libs.split(",")
            before = load()
            results = run_interleaved(here, [(f"case_{name}", (problem,)) for name in names],
                                      blas_threads=args.blas_threads)
            after = load()
            for name, r in zip(names, results):
                if "error" in r:
                    rows.append((name, "not available: " + r["error"]) + ("",) * 8)
                    continue
                rows.append((name, f"{r['grad'] * 1e3:.2f}", f"{r['hvp'] * 1e3:.2f}",
                             f"{r['hvp_batched'] * 1e3:.1f}",
                             f"{r['hvp/grad']:.3f}",
                             f"{r['hvp_batched'] / K / r['hvp']:.3f}",
                             f"{r['hvp_double_backward/grad']:.2f}"
                             if "hvp_double_backward" in r else "-",
                             f"{r['peak_bytes'] / 1e6:.1f}" if "peak_bytes" in r else "-",
                             f"{r['grad_peak_bytes'] / 1e6:.1f}" if "peak_bytes" in r else "-",
                             f"{before}-{after}"))
        sizes = ("n = %d parameters, %d samples" % SIZES[problem] if problem == "logreg" else
                 "N = %d, D = %d, H = %d" % SIZES[problem])
        print(f"\n{problem}: {sizes}, K = {K}")
        print(table(rows, ["library", "grad ms", "HVP ms", f"batched HVP (K={K}) ms",
                           "HVP / grad", "batched per direction / single HVP",
                           "double-backward HVP / grad", "batched peak MB", "grad peak MB",
                           "load avg"]))


if __name__ == "__main__":
    main()
