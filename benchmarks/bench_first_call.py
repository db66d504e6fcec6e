"""The first call: a fresh process with an empty kernel cache runs its first grad (cold), then
a second process with that cache (warm). Wall and CPU time (this process's children: Python
and the compilers it runs), `import gpuad` included, and the load average when it started.

With tiered builds (GPUAD_HOST_TIERED, the default) a cold process may exit while its
background process still compiles the optimised libraries into the cache: "cold wall" is
until the process exits, "done wall" until every process it started has finished (this
script is their subreaper, so it waits for them and their CPU time is counted), and the warm
process starts after that. GPUAD_HOST_TIERED=0 in the environment measures the other way.

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


def _subreaper() -> None:
    # Orphaned descendants (a cold process's background build) become this process's
    # children: waited for, and counted in RUSAGE_CHILDREN.
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:                 # PR_SET_CHILD_SUBREAPER
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed: the CPU figures would miss background builds")


def _reap() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def once(python: str, expr: str, cache: str, source: str | None) -> tuple[float, float, float]:
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
    _reap()
    done = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, done, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--no-bytecode", action="store_true",
                        help="every process compiles gpuad's Python source (no bytecode cache)")
    args = parser.parse_args()
    _subreaper()
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
    tiered = os.environ.get("GPUAD_HOST_TIERED", "").strip() or "1 (default)"
    print(f"bytecode: {'none for gpuad' if source else 'cached'}; GPUAD_HOST_TIERED={tiered}\n")
    print("| program | cold wall s | cold done wall s | cold CPU s | warm wall s | warm CPU s | load |")
    print("|---|---|---|---|---|---|---|")
    for name, expr in PROGRAMS.items():
        rows = []
        for _ in range(args.rounds):
            load = os.getloadavg()[0]
            with tempfile.TemporaryDirectory() as tmp:
                cache = os.path.join(tmp, "cache")
                cold = once(args.python, expr, cache, source)
                warm = once(args.python, expr, cache, source)
                rows.append((*cold, warm[0], warm[2], load))
        med = [statistics.median(col) for col in zip(*rows)]
        lo = [min(col) for col in zip(*rows)]
        hi = [max(col) for col in zip(*rows)]
        cells = [f"{m:.2f} ({a:.2f}-{b:.2f})" for m, a, b in zip(med[:5], lo[:5], hi[:5])]
        print(f"| {name} | {' | '.join(cells)} | {lo[5]:.1f}-{hi[5]:.1f} |", flush=True)
    if source:
        shutil.rmtree(source, ignore_errors=True)


if __name__ == "__main__":
    main()
