"""The first call: a fresh process with an empty kernel cache runs its first grad (cold), then
a second process with that cache (warm). Wall and CPU time (this process's children: Python
and the compilers it runs), `import gpuad` included, and the load average when it started.

With tiered builds (GPUAD_HOST_TIERED=1, opt-in) a cold process may exit while its
background process still compiles the optimised libraries into the cache: "cold wall" is
until the process exits, "done wall" until every process it started has finished (this
script is their subreaper, so it waits for them and their CPU time is counted), and the warm
process starts after that. Without the variable (or =0) it measures the default, untiered.
"Cold critical path" is the cold process's wall time on an idle machine, measured as CPU
time whatever the load: its main thread's CPU time plus that of the compilers it waited for
(this checkout's gpuad only).

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
# The same, reporting its critical path in CPU seconds (what its wall time is on an idle
# machine, whatever the load here): the main thread's own CPU time (interpreter start,
# imports, Python work) plus that of the compilers it waited for; compilers of other threads
# and the background process run on the other core meanwhile.
TRACED = ("import os, subprocess, sys, threading, time\n"
          "from gpuad.runtime import host\n"
          "crit = [0.0]\n"
          "def run_compiler(cmd, what, quiet=False):\n"
          "    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
          "    err = proc.stderr.read()\n"
          "    _, status, ru = os.wait4(proc.pid, 0)\n"
          "    proc.returncode = os.waitstatus_to_exitcode(status)\n"
          "    if threading.current_thread() is threading.main_thread():\n"
          "        crit[0] += ru.ru_utime + ru.ru_stime\n"
          "    if proc.returncode:\n"
          "        raise RuntimeError(err.decode()[-2000:])\n"
          "host._run_compiler = run_compiler\n"
          + CODE +
          "print('critical path', crit[0] + time.thread_time())\n")


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


def once(python: str, expr: str, cache: str, source: str | None,
         traced: bool = False) -> tuple[float, float, float, float]:
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
    r = subprocess.run([python, "-c", (TRACED if traced else CODE).format(expr=expr)], check=True,
                       capture_output=True, text=True, env=env, cwd=os.path.dirname(cache))
    wall = time.perf_counter() - start
    _reap()
    done = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    crit = float(r.stdout.split()[-1]) if traced else float("nan")
    return wall, done, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), crit


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
    tiered = os.environ.get("GPUAD_HOST_TIERED", "").strip() or "0 (default)"
    print(f"bytecode: {'none for gpuad' if source else 'cached'}; GPUAD_HOST_TIERED={tiered}\n")
    print("| program | cold wall s | cold done wall s | cold CPU s | cold critical path CPU s "
          "| warm wall s | warm CPU s | load |")
    print("|---|---|---|---|---|---|---|---|")
    for name, expr in PROGRAMS.items():
        rows = []
        for _ in range(args.rounds):
            load = os.getloadavg()[0]
            with tempfile.TemporaryDirectory() as tmp:
                cache = os.path.join(tmp, "cache")
                cold = once(args.python, expr, cache, source, traced=args.python == sys.executable)
                warm = once(args.python, expr, cache, source)
                rows.append((*cold, warm[0], warm[2], load))
        med = [statistics.median(col) for col in zip(*rows)]
        lo = [min(col) for col in zip(*rows)]
        hi = [max(col) for col in zip(*rows)]
        cells = [f"{m:.2f} ({a:.2f}-{b:.2f})" for m, a, b in zip(med[:6], lo[:6], hi[:6])]
        print(f"| {name} | {' | '.join(cells)} | {lo[6]:.1f}-{hi[6]:.1f} |", flush=True)
    if source:
        shutil.rmtree(source, ignore_errors=True)


if __name__ == "__main__":
    main()
