"""The first call: a fresh process with an empty kernel cache runs its first grad (cold), then
a second process with that cache (warm). Wall and CPU time (this process's children: Python
and the compilers it runs), `import gpuad` included, and the load average when it started.

    python benchmarks/bench_first_call.py [--rounds 3] [--python PYTHON] [--no-bytecode]

``--python`` measures another installation (a venv with a wheel built with its kernels);
GPUAD_PREBUILT=0 in the environment measures compiling instead.

Python's bytecode is cached as in any installation (pip writes it at install, a checkout on
its first import): one unmeasured run of each program writes gpuad's, even where
PYTHONDONTWRITEBYTECODE is set (it is unset for the processes). ``--no-bytecode`` measures
processes that compile gpuad's Python source every time (a copy of this checkout without
__pycache__, PYTHONDONTWRITEBYTECODE=1; this checkout only).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
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


def once(python: str, expr: str, cache: str, source: str | None) -> tuple[float, float]:
    # This checkout's gpuad for this Python (its copy ``source`` if given); another Python's
    # own installation.
    env = {**os.environ, "GPUAD_CACHE_DIR": cache, "OPENBLAS_NUM_THREADS": "1"}
    if python == sys.executable:
        env["PYTHONPATH"] = source or REPO
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if source:                          # a copy with no __pycache__, none written
        env["PYTHONDONTWRITEBYTECODE"] = "1"
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
    parser.add_argument("--no-bytecode", action="store_true",
                        help="every process compiles gpuad's Python source (no bytecode cache)")
    args = parser.parse_args()
    source = None
    if args.no_bytecode:
        source = tempfile.mkdtemp(prefix="gpuad-bench-source-")
        for d in ("gpuad", "kernels"):
            shutil.copytree(os.path.join(REPO, d), os.path.join(source, d), symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "_prebuilt"))
    else:
        for expr in PROGRAMS.values():     # writes gpuad's bytecode (and is not measured)
            with tempfile.TemporaryDirectory() as tmp:
                once(args.python, expr, os.path.join(tmp, "cache"), None)
    print(f"bytecode: {'none for gpuad' if source else 'cached'}\n")
    print("| program | cold wall s | cold CPU s | warm wall s | warm CPU s | load |")
    print("|---|---|---|---|---|---|")
    for name, expr in PROGRAMS.items():
        rows = []
        for _ in range(args.rounds):
            load = os.getloadavg()[0]
            with tempfile.TemporaryDirectory() as tmp:
                cache = os.path.join(tmp, "cache")
                rows.append((*once(args.python, expr, cache, source),
                             *once(args.python, expr, cache, source), load))
        med = [statistics.median(col) for col in zip(*rows)]
        lo = [min(col) for col in zip(*rows)]
        hi = [max(col) for col in zip(*rows)]
        cells = [f"{m:.2f} ({a:.2f}-{b:.2f})" for m, a, b in zip(med[:4], lo[:4], hi[:4])]
        print(f"| {name} | {' | '.join(cells)} | {lo[4]:.1f}-{hi[4]:.1f} |")
    if source:
        shutil.rmtree(source, ignore_errors=True)


if __name__ == "__main__":
    main()
