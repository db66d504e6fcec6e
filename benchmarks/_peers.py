"""Shared by the benchmarks: timing, running each peer in its own process, tables."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # idle BLAS threads spin on 2 cores


def median_time(fn, repeat=20, warmup=3):
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def run_isolated(script: str, func: str, *args, blas_threads: int = 1):
    """Run ``func(*args)`` of a benchmark script in a fresh Python process (FACTS.md: torch
    measured 3x slower when sharing a process with other libraries); returns its JSON.
    ``blas_threads``: OPENBLAS_NUM_THREADS there (NumPy's BLAS: gpuad's matrix products)."""
    code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(script))!r}); "
            f"import {os.path.splitext(os.path.basename(script))[0]} as m; "
            f"print('RESULT' + json.dumps(m.{func}(*{list(args)!r})))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "OPENBLAS_NUM_THREADS": str(blas_threads)})
    for line in r.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[6:])
    return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1][:200]}


def table(rows, headers):
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)
