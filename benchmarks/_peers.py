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


def alternating_times(fns, repeat=20, warmup=3):
    """Median wall times (seconds) of the callables ``fns`` (a dict), called in turn, one
    call of each per repetition: a burst of load then falls on all of them alike, where
    back-to-back blocks of repetitions (:func:`median_time` for each) let it fall on one.
    Also, for each pair of names, the median of the ratios of their calls in one repetition,
    under the key ``"a/b"`` (each ratio of two calls made one after the other)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    ts = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t)

    def median(v):
        v = sorted(v)
        return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])
    out = {k: median(v) for k, v in ts.items()}
    for a in fns:
        for b in fns:
            if a != b:
                out[f"{a}/{b}"] = median([x / y for x, y in zip(ts[a], ts[b])])
    return out


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
