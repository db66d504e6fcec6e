"""The first call: a fresh process with an empty kernel cache runs its first grad (cold), then
a second process with that cache (warm). Wall and CPU time (this process's children: Python
and the compilers it runs), `import gpuad` included, and the load average when it started.

    python benchmarks/bench_first_call.py [--rounds 3] [--python PYTHON]

``--python`` measures another installation (a venv with a wheel built with its kernels);
GPUAD_PREBUILT=0 in the environment measures compiling instead.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

PROGRAMS = {
    "sin": "gnp.sum(gnp.sin(x))",
    "sin(x) * x**2": "gnp.sum(gnp.sin(x) * x ** 2)",
}
CODE = ("import numpy as np, gpuad, gpuad.numpy as gnp\n"
        "print(gpuad.grad(lambda x: {expr})(np.ones(3)))\n")


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def once(python: str, expr: str, cache: str) -> tuple[float, float]:
    # This checkout's gpuad for this Python; another Python's own installation.
    env = {**os.environ, "GPUAD_CACHE_DIR": cache, "OPENBLAS_NUM_THREADS": "1"}
    if python == sys.executable:
        env["PYTHONPATH"] = REPO
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([python, "-c", CODE.format(expr=expr)], check=True, capture_output=True,
                   env=env, cwd=os.path.dirname(cache))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    print("| program | cold wall s | cold CPU s | warm wall s | warm CPU s | load |")
    print("|---|---|---|---|---|---|")
    for name, expr in PROGRAMS.items():
        rows = []
        for _ in range(args.rounds):
            load = os.getloadavg()[0]
            with tempfile.TemporaryDirectory() as tmp:
                cache = os.path.join(tmp, "cache")
                rows.append((*once(args.python, expr, cache), *once(args.python, expr, cache), load))
        med = [statistics.median(col) for col in zip(*rows)]
        lo = [min(col) for col in zip(*rows)]
        hi = [max(col) for col in zip(*rows)]
        cells = [f"{m:.2f} ({a:.2f}-{b:.2f})" for m, a, b in zip(med[:4], lo[:4], hi[:4])]
        print(f"| {name} | {' | '.join(cells)} | {lo[4]:.1f}-{hi[4]:.1f} |")


if __name__ == "__main__":
    main()
