"""gpuad.distributed on 1 and 2 MPI ranks (CPU): a data-parallel batched HVP and a
domain-decomposed gradient, each split into compute and communication time, with the
payload bytes per collective.

- data-parallel: logistic regression, n rows split over the ranks, d parameters shared
  (``spmd(shared=0)``), one batched HVP with K directions through psum;
- domain-decomposed: the halo heat problem of examples/dist_inverse_diffusion.py's kind,
  m cells split over the ranks, the gradient of a misfit through ``checkpoint_loop``.

"Communication" is the time spent inside the transport's calls (MPI, including waiting
for the other rank); "compute" is the rest. Bytes are the payload each rank hands to MPI
in one run (an Allreduce moves about twice that over a ring; a Sendrecv without a
partner sends nothing). The fastest of several runs (the machine is shared).

    python benchmarks/bench_distributed.py              # launches -n 1 and -n 2 itself
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

N_ROWS, D, K = 200_000, 64, 16
M, E, STEPS, SNAPS = 200_000, 2, 40, 6


def _measure(fn, reps):
    import gpuad.distributed as dist
    t = dist.transport()
    fn()                                               # warm
    out = []
    for _ in range(reps):
        before = {k: list(v) for k, v in t.stats.items()}
        t0 = time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        delta = {k: [v[i] - before.get(k, [0, 0, 0.0])[i] for i in range(3)]
                 for k, v in t.stats.items()}
        out.append((wall, delta))
    wall, delta = min(out, key=lambda r: r[0])      # the run least disturbed by other load
    comm = sum(v[2] for v in delta.values())
    return {"wall_s": wall, "comm_s": comm, "compute_s": wall - comm,
            "calls": {k: v[0] for k, v in delta.items() if v[0]},
            "bytes": {k: v[1] for k, v in delta.items() if v[0]}}


def data_parallel():
    import gpuad
    import gpuad.distributed as dist
    import gpuad.numpy as gnp
    R, P = dist.rank(), dist.size()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_ROWS, D)) / np.sqrt(D)
    y = (rng.random(N_ROWS) < 0.5).astype(float)
    rows = np.array_split(np.arange(N_ROWS), P)[R]
    Xr, yr = X[rows], y[rows]
    del X, y
    w = rng.standard_normal(D) * 0.1
    V = rng.standard_normal((K, D))

    def loss(w):
        z = Xr @ w          # the penalty inside the psum, weighted 1/P (it is shared)
        return dist.psum(gnp.sum(gnp.softplus(z) - yr * z) / N_ROWS
                         + 0.5e-3 * gnp.sum(w * w) / P)
    f = dist.spmd(loss, shared=0)
    return _measure(lambda: gpuad.hvp(f, w, V, batched=True), 7)


def domain_decomposed():
    import gpuad
    import gpuad.distributed as dist
    import gpuad.numpy as gnp
    R, P = dist.rank(), dist.size()
    cells = np.array_split(np.arange(M), P)[R]
    rng = np.random.default_rng(1)
    u0 = rng.standard_normal((E, M))[:, cells]
    d = rng.standard_normal((E, M))[:, cells]
    p = rng.standard_normal(len(cells)) * 0.1

    def misfit(p):
        k = 0.2 * gnp.exp(p)

        def step(u):
            up = dist.halo(u, 1, axis=1)
            return u + k * (up[:, :-2] - 2.0 * u + up[:, 2:])
        r = gpuad.checkpoint_loop(step, u0, STEPS, snapshots=SNAPS) - d
        return dist.psum(0.5 * gnp.sum(r * r))
    return _measure(lambda: gpuad.grad(dist.spmd(misfit, shared=()))(p), 5)


def rank_run(out):
    import gpuad.distributed as dist
    res = {"ranks": dist.size(), "data_parallel_hvp": data_parallel(),
           "domain_gradient": domain_decomposed()}
    if dist.rank() == 0:
        pathlib.Path(out).write_text(json.dumps(res))


def main():
    if "--rank-run" in sys.argv:
        rank_run(sys.argv[sys.argv.index("--rank-run") + 1])
        return
    import distributed_checks as dc
    import tempfile
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2):
            out = pathlib.Path(tmp) / f"{n}.json"
            subprocess.run([dc.mpiexec(), "-n", str(n), sys.executable, __file__,
                            "--rank-run", str(out)], check=True, env=env, timeout=900)
            results.append(json.loads(out.read_text()))
    print(f"data-parallel batched HVP: {N_ROWS} x {D} rows split over the ranks, K = {K}; "
          f"domain-decomposed gradient: {E} x {M} cells, {STEPS} steps, {SNAPS} snapshots")
    print("| case | ranks | wall (ms) | compute (ms) | communication (ms) | calls per run | "
          "bytes per run (per rank) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        for case in ("data_parallel_hvp", "domain_gradient"):
            c = r[case]
            calls = ", ".join(f"{k} {v}" for k, v in c["calls"].items()) or "-"
            per = ", ".join(f"{k} {c['bytes'][k]}" for k in c["calls"]) or "-"
            print(f"| {case} | {r['ranks']} | {1e3 * c['wall_s']:.1f} | "
                  f"{1e3 * c['compute_s']:.1f} | {1e3 * c['comm_s']:.1f} | {calls} | {per} |")


if __name__ == "__main__":
    main()
