"""Gradient and Hessian-vector product of the spectral inverse problem
(examples/spectral_inverse.py: periodic viscous Burgers, rfft/irfft, IF-RK2 steps, the
objective J(u0) = misfit + H^1 prior) on the CPU: gpuad next to PyTorch (torch.fft;
backward for the gradient, torch.func jvp(grad) for the HVP) and JAX (jax.numpy.fft; eager
and jit-compiled, jvp(grad)), each in its own process, measured in the same run, float64.

gpuad runs the example's own objective with ``checkpoint_loop`` (s snapshots, as the
example) and as a plain taped loop; the peers run the plain loop. Every library's gradient
and HVP are compared with gpuad's (largest relative difference), so the ratios compare the
same numbers. The load average is printed before and after.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_spectral.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples"))
from _peers import median_time, run_isolated, table   # noqa: E402

NU, T, NOISE, BETA, ALPHA, SNAPSHOTS = 0.05, 0.5, 0.01, 1.0, 1.0, 10


def setup(n, steps):
    """The example's constants and data (NumPy), so every library sees the same problem."""
    import spectral_inverse as s
    import gpuad  # noqa: F401
    prob = s.BurgersInverseProblem(n, NU, T, steps, NOISE, BETA, ALPHA, snapshots=None)
    rng = np.random.default_rng(5)
    return {"n": n, "steps": steps, "dt": prob.dt, "k": np.arange(n // 2 + 1, dtype=float),
            "E": np.asarray(prob.E), "dealias": np.asarray(prob.dealias),
            "data": np.asarray(prob.data), "sigma": prob.sigma, "R": np.asarray(prob.R),
            "x": 0.5 * np.asarray(prob.u0_true), "v": rng.standard_normal(n)}


def objective(m, fft, c):
    """J(u0) written against an array module ``m`` and its fft module (torch, jax.numpy)."""
    n, dt = c["n"], c["dt"]
    ik, E, dealias = 1j * c["k"], c["E"], c["dealias"]

    def N(v):
        w = fft.irfft(v * dealias, n=n)
        return -0.5 * ik * fft.rfft(w * w)

    def J(u0):
        v = fft.rfft(u0)
        for _ in range(c["steps"]):
            Nv = N(v)
            a = E * (v + dt * Nv)
            v = E * v + (0.5 * dt) * (E * Nv + N(a))
        r = fft.irfft(v, n=n) - c["data"]
        return 0.5 * m.sum(r * r) / c["sigma"] ** 2 + 0.5 * m.sum(u0 * (c["R"] @ u0))
    return J


def _out(grad, hvp, g, hv, **extra):
    return {"grad": grad, "hvp": hvp, "g": np.asarray(g).tolist(),
            "hv": np.asarray(hv).tolist(), **extra}


def case_gpuad(n, steps, repeat):
    import gpuad
    import spectral_inverse as s
    c = setup(n, steps)
    x, v = c["x"], c["v"]
    out = {}
    for label, snaps in (("gpuad", SNAPSHOTS), ("gpuad, no checkpointing", None)):
        prob = s.BurgersInverseProblem(n, NU, T, steps, NOISE, BETA, ALPHA, snapshots=snaps)
        g = gpuad.grad(prob.objective)
        hvp = lambda: gpuad.hvp(prob.objective, x, v)    # noqa: E731
        out[label] = _out(median_time(lambda: g(x), repeat, 1),
                          median_time(hvp, repeat, 1), g(x), hvp())
    return out


def case_torch(n, steps, repeat):
    import torch
    from torch.func import grad, jvp
    torch.set_num_threads(1)
    c = setup(n, steps)
    c = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in c.items()}
    J = objective(torch, torch.fft, c)
    x, v = c["x"], c["v"]

    def grad_backward():
        u = x.detach().requires_grad_(True)
        J(u).backward()
        return u.grad
    g = grad(J)
    hvp = lambda: jvp(g, (x,), (v,))[1]    # noqa: E731
    return {"torch": _out(median_time(grad_backward, repeat, 1), median_time(hvp, repeat, 1),
                          grad_backward().numpy(), hvp().numpy())}


def case_jax(n, steps, repeat):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    c = setup(n, steps)
    c = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in c.items()}
    J = objective(jnp, jnp.fft, c)
    x, v = c["x"], c["v"]
    b = jax.block_until_ready
    out = {}
    for label, wrap in (("jax (eager)", lambda f: f), ("jax (jit)", jax.jit)):
        g = wrap(jax.grad(J))
        hvp = wrap(lambda x, v: jax.jvp(jax.grad(J), (x,), (v,))[1])
        b(g(x)), b(hvp(x, v))                          # compile (jit) outside the timing
        out[label] = _out(median_time(lambda: b(g(x)), repeat, 1),
                          median_time(lambda: b(hvp(x, v)), repeat, 1), g(x), hvp(x, v))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one small size, few repeats")
    args = ap.parse_args(argv)
    sizes = [(64, 50)] if args.quick else [(64, 50), (256, 100)]
    repeat = 3 if args.quick else 7
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)", flush=True)
    here = str(HERE / "bench_spectral.py")
    for n, steps in sizes:
        res = {}
        for name in ("gpuad", "torch", "jax"):
            r = run_isolated(here, f"case_{name}", n, steps, repeat)
            if "error" in r:
                res[name] = r
            else:
                res.update(r)
        ref = res["gpuad"]
        g0, h0 = np.asarray(ref["g"]), np.asarray(ref["hv"])
        rows = []
        for name, r in res.items():
            if "error" in r:
                rows.append((name, "not available: " + r["error"], "", "", "", "", ""))
                continue
            dg = np.abs(np.asarray(r["g"]) - g0).max() / np.abs(g0).max()
            dh = np.abs(np.asarray(r["hv"]) - h0).max() / np.abs(h0).max()
            rows.append((name, f"{r['grad'] * 1e3:.1f}", f"{r['hvp'] * 1e3:.1f}",
                         f"{ref['grad'] / r['grad']:.2f}", f"{ref['hvp'] / r['hvp']:.2f}",
                         f"{r['hvp'] / r['grad']:.2f}", f"{max(dg, dh):.1e}"))
        print(f"\nBurgers, n = {n}, {steps} IF-RK2 steps (2 rfft + 2 irfft per step), "
              f"checkpoint_loop s = {SNAPSHOTS} for gpuad", flush=True)
        print(table(rows, ["library", "grad ms", "HVP ms", "gpuad grad / this",
                           "gpuad HVP / this", "HVP / grad", "max rel diff vs gpuad"]))
    print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
