"""Time per Newton iteration and Hessian-vector products per second of each example, on the
CPU (NumPy arrays, gpuad's kernels run on the host); not a test.

For each example at its default size: one full solve (Newton or trust-region iterations,
seconds per iteration, HVPs the solver used), then HVP throughput at the solution's size
measured apart: single products (``gpuad.hvp(f, x, v)``, median of repeats) and one
batched product with K lanes (``gpuad.hvp(f, x, V, batched=True)``), as products per
second. The machine's load average is printed before and after, since other work on a
2-core machine moves these numbers.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_examples.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # idle BLAS threads would spin on our cores

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))

import gpuad                                   # noqa: E402
import hutchinson                              # noqa: E402
import inverse_diffusion                       # noqa: E402
import newton_cg_logreg                        # noqa: E402
import trust_region                            # noqa: E402
from _common import table                      # noqa: E402


def median_seconds(fn, repeat):
    fn()                                       # compiled/loaded kernels, warm caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def hvp_rates(f, x, K, repeat, seed=0):
    """(single HVPs per second, batched HVPs per second with K lanes)."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(x.shape)
    V = rng.standard_normal((K,) + tuple(x.shape))
    single = median_seconds(lambda: gpuad.hvp(f, x, v), repeat)
    batched = median_seconds(lambda: gpuad.hvp(f, x, V, batched=True), max(3, repeat // 3))
    return 1.0 / single, K / batched


def row(name, size, iters, seconds, solver_hvps, rates, K):
    return {"example": name, "size": size, "iterations": iters if iters is not None else "-",
            "s / iteration": seconds / iters if iters else "-",
            "solver HVPs": solver_hvps, "HVP/s single": rates[0],
            "HVP/s batched": rates[1], "K": K, "rates": rates}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = ap.parse_args(argv)
    q = args.quick
    repeat = 5 if q else 20
    print(f"gpuad {gpuad.__version__}, CPU, load average before: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    rows = []

    # 1. Newton-CG logistic regression: breast cancer and a synthetic problem.
    X, y = newton_cg_logreg.breast_cancer()
    r = newton_cg_logreg.solve(X, y, compare=False, name="breast-cancer")
    f = newton_cg_logreg.logistic_loss(X, y, newton_cg_logreg.lam_from_c(1.0, X.shape[0]))
    rows.append(row("newton_cg_logreg (breast cancer)", "569 x 31", r["gpuad_iters"],
                    r["gpuad_s"], r["gpuad_hvps"], hvp_rates(f, r["result"].x, 32, repeat), 32))
    N, D = (5000, 50) if q else (100_000, 100)
    X, y = newton_cg_logreg.synthetic(N, D)
    r = newton_cg_logreg.solve(X, y, compare=False, name="synthetic")
    f = newton_cg_logreg.logistic_loss(X, y, newton_cg_logreg.lam_from_c(1.0, N))
    rows.append(row("newton_cg_logreg (synthetic)", f"{N} x {D + 1}", r["gpuad_iters"],
                    r["gpuad_s"], r["gpuad_hvps"], hvp_rates(f, r["result"].x, 32, repeat), 32))
    print("logreg done", flush=True)

    # 2. Trust-region Newton-CG on the extended Rosenbrock function.
    n = 1000 if q else 10_000
    x0 = trust_region.start(n)
    gpuad.hvp(trust_region.rosenbrock, x0, x0)
    res = trust_region.trust_ncg(trust_region.rosenbrock, x0)
    rows.append(row("trust_region (Rosenbrock)", f"n = {n}", res.iterations, res.seconds,
                    res.hvps, hvp_rates(trust_region.rosenbrock, res.x, 32, repeat), 32))
    print("trust region done", flush=True)

    # 3. Inverse diffusion: Newton-CG through checkpoint_loop (Revolve, 8 snapshots).
    m, steps = (16, 32) if q else (32, 128)
    out = inverse_diffusion.run(m=m, n_steps=steps, rank=12, oversample=8)
    prob, res = out["problem"], out["result"]
    eig_sweeps = len(out["eig_history"]) * out["sweeps_per_eig"]
    K = out["eig_lanes"]
    rows.append(row("inverse_diffusion (checkpoint_loop, s=8)",
                    f"{m + 1} params, {prob.n_steps} steps", res.iterations, res.seconds,
                    f"{res.hvps} + {eig_sweeps} x {K} lanes",
                    hvp_rates(prob.objective, res.x, K, max(3, repeat // 4)), K))
    plain = inverse_diffusion.run(m=m, n_steps=steps, precondition=False)["result"]
    rows.append(row("inverse_diffusion, no preconditioner", f"{m + 1} params, {prob.n_steps} steps",
                    plain.iterations, plain.seconds, plain.hvps, rows[-1]["rates"], K))
    print("inverse diffusion done", flush=True)

    # 4. Hutchinson: no iterations; one batched HVP per estimate.
    n = 100 if q else 300
    f, x = hutchinson.make_problem(n)
    rows.append(row("hutchinson", f"n = {n}", None, 0.0, "-", hvp_rates(f, x, 256, repeat),
                    256))

    print(table(rows, [c for c in rows[0] if c != "rates"]))
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return rows


if __name__ == "__main__":
    main()
