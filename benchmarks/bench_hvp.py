"""Hessian-vector products on a logistic-regression loss with n = 10^5 parameters (CPU).

Reports HVP time / gradient time, and the time per HVP of one batched call with K = 32
directions divided by the time of one single HVP; gpuad next to PyTorch (double-backward
HVP, and torch.func.vmap over jvp(grad)) and JAX eager (vmap(jvp(grad))), each in its own
process, measured in the same run.

    python benchmarks/bench_hvp.py [n_params] [n_samples]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _peers import median_time, run_isolated, table   # noqa: E402

K = 32
LAM = 1e-2


def data(n, m):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((m, n)) / np.sqrt(n)
    y = (rng.random(m) < 0.5).astype(np.float64)
    w = rng.standard_normal(n) * 0.1
    V = rng.standard_normal((K, n))
    return A, y, w, V


def case_gpuad(n, m):
    import gpuad
    import gpuad.numpy as gnp
    A, y, w, V = data(n, m)

    def loss(w):
        z = A @ w
        return gnp.sum(gnp.softplus(z) - y * z) + 0.5 * LAM * gnp.sum(w * w)
    g = gpuad.grad(loss)
    return {"grad": median_time(lambda: g(w), 10),
            "hvp": median_time(lambda: gpuad.hvp(loss, w, V[0]), 10),
            "hvp_batched": median_time(lambda: gpuad.hvp(loss, w, V, batched=True), 5)}


def case_torch(n, m):
    import torch
    from torch.func import grad, jvp, vmap
    torch.set_num_threads(2)
    A, y, w, V = (torch.from_numpy(a) for a in data(n, m))

    def loss(w):
        z = A @ w
        return torch.sum(torch.nn.functional.softplus(z) - y * z) + 0.5 * LAM * torch.sum(w * w)

    def grad_bw():
        x = w.detach().requires_grad_(True)
        loss(x).backward()
        return x.grad

    def hvp_double_backward(v):
        x = w.detach().requires_grad_(True)
        (gx,) = torch.autograd.grad(loss(x), x, create_graph=True)
        (hv,) = torch.autograd.grad(gx, x, v)
        return hv
    g = grad(loss)
    hvp_one = lambda v: jvp(g, (w,), (v,))[1]    # noqa: E731
    return {"grad": median_time(grad_bw, 10),
            "hvp": median_time(lambda: hvp_one(V[0]), 10),
            "hvp_double_backward": median_time(lambda: hvp_double_backward(V[0]), 10),
            "hvp_batched": median_time(lambda: vmap(hvp_one)(V), 5)}


def case_jax(n, m):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    A, y, w, V = (jnp.asarray(a) for a in data(n, m))

    def loss(w):
        z = A @ w
        return jnp.sum(jax.nn.softplus(z) - y * z) + 0.5 * LAM * jnp.sum(w * w)
    g = jax.grad(loss)
    hvp_one = lambda v: jax.jvp(g, (w,), (v,))[1]     # noqa: E731
    b = jax.block_until_ready
    return {"grad": median_time(lambda: b(g(w)), 10),
            "hvp": median_time(lambda: b(hvp_one(V[0])), 10),
            "hvp_batched": median_time(lambda: b(jax.vmap(hvp_one)(V)), 5)}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 10 ** 5
    m = int(argv[1]) if len(argv) > 1 else 100
    here = os.path.abspath(__file__)
    rows = []
    for name in ("gpuad", "torch", "jax"):
        r = run_isolated(here, f"case_{name}", n, m)
        if "error" in r:
            rows.append((name, "not available: " + r["error"], "", "", "", ""))
            continue
        rows.append((name, f"{r['grad'] * 1e3:.2f}", f"{r['hvp'] * 1e3:.2f}",
                     f"{r['hvp'] / r['grad']:.2f}",
                     f"{r['hvp_batched'] / K / r['hvp']:.3f}",
                     f"{r['hvp_double_backward'] / r['grad']:.2f}"
                     if "hvp_double_backward" in r else "-"))
    print(f"logistic regression, n = {n} parameters, {m} samples, K = {K}")
    print(table(rows, ["library", "grad ms", "HVP ms", "HVP / grad",
                       f"batched HVP (K={K}) per direction / single HVP",
                       "double-backward HVP / grad"]))


if __name__ == "__main__":
    main()
