"""Shared by the benchmarks: timing, running each peer in its own process, tables."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # idle BLAS threads spin on 2 cores

# Interleaved peers (run_interleaved): the environment variable through which a process
# learns the two pipe ends of its turns, and the pause between two turns, longer than the
# ~0.1 s an idle OpenBLAS thread of the last process spins for (gpuad/runtime/blas.py),
# so that no turn shares the cores with another process's leftovers.
_TURN_FDS = "GPUAD_BENCH_TURN_FDS"
TURN_PAUSE = 0.15
TURN_REPS = 4


@contextlib.contextmanager
def turn():
    """Run the block in this process's turn: under :func:`run_interleaved`, wait for the
    parent's token and hand it back after the block (so processes measured side by side
    never run at once); elsewhere nothing. Everything that computes goes in a turn."""
    fds = os.environ.get(_TURN_FDS)
    if not fds:
        yield
        return
    go, done = (int(f) for f in fds.split(","))
    if not os.read(go, 1):
        raise SystemExit("run_interleaved's parent has gone")
    try:
        yield
    finally:
        os.write(done, b"d")


def _turns(repeat: int):
    """The repetitions of a measurement grouped into turns: under run_interleaved, turns of
    TURN_REPS repetitions, each turn starting with one untimed (the first call after the
    pause woke the process's threads and found cold caches: 10.5 ms against 6.5 for
    gpuad's and PyTorch's logistic gradient, a cost a loop of calls never pays); elsewhere
    one turn of them all."""
    if not os.environ.get(_TURN_FDS):
        return [(False, repeat)]
    return [(True, min(TURN_REPS, repeat - i)) for i in range(0, repeat, TURN_REPS)]


def _times(fns, repeat, warmup):
    """Wall times (seconds) of ``repeat`` calls of each callable of the dict ``fns``, one
    call of each per repetition, after ``warmup`` untimed repetitions; turns as
    :func:`_turns` says."""
    with turn():
        for _ in range(warmup):
            for fn in fns.values():
                fn()
    ts = {k: [] for k in fns}
    for warm, count in _turns(repeat):
        with turn():
            for i in range(-1 if warm else 0, count):
                for k, fn in fns.items():
                    t = time.perf_counter()
                    fn()
                    if i >= 0:
                        ts[k].append(time.perf_counter() - t)
    return ts


def median_time(fn, repeat=20, warmup=3):
    """Median wall time of ``fn()`` in seconds (see :func:`_turns` for the turns)."""
    ts = sorted(_times({"fn": fn}, repeat, warmup)["fn"])
    return ts[len(ts) // 2]


def alternating_times(fns, repeat=20, warmup=3):
    """Median wall times (seconds) of the callables ``fns`` (a dict), called in turn, one
    call of each per repetition: a burst of load then falls on all of them alike, where
    back-to-back blocks of repetitions (:func:`median_time` for each) let it fall on one.
    Also, for each pair of names, the median of the ratios of their calls in one repetition,
    under the key ``"a/b"`` (each ratio of two calls made one after the other). One
    repetition is one call of each, turns as :func:`_turns` says."""
    ts = _times(fns, repeat, warmup)

    def median(v):
        v = sorted(v)
        return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])
    out = {k: median(v) for k, v in ts.items()}
    for a in fns:
        for b in fns:
            if a != b:
                out[f"{a}/{b}"] = median([x / y for x, y in zip(ts[a], ts[b])])
    return out


def _code(script, func, args):
    return (f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(script))!r}); "
            f"import {os.path.splitext(os.path.basename(script))[0]} as m; "
            f"print('RESULT' + json.dumps(m.{func}(*{list(args)!r})))")


def _result(stdout: str, stderr: str):
    for line in stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[6:])
    return {"error": (stderr.strip().splitlines() or ["failed"])[-1][:200]}


def run_isolated(script: str, func: str, *args, blas_threads: int = 1):
    """Run ``func(*args)`` of a benchmark script in a fresh Python process (FACTS.md: torch
    measured 3x slower when sharing a process with other libraries); returns its JSON.
    ``blas_threads``: OPENBLAS_NUM_THREADS there (NumPy's BLAS: gpuad's matrix products)."""
    r = subprocess.run([sys.executable, "-c", _code(script, func, args)], capture_output=True,
                       text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": str(blas_threads)})
    return _result(r.stdout, r.stderr)


def run_interleaved(script: str, calls, blas_threads: int = 1, pause: float = TURN_PAUSE):
    """Run each ``(func, args)`` of ``calls`` as :func:`run_isolated` does, each in its own
    process, all started at once and taking turns: the parent hands a token to each
    process in order, one :func:`turn` at a time (a few repetitions of the measured
    calls), and waits ``pause`` seconds between turns. The processes' measurements then
    interleave within a second or so, so a slow minute of the machine falls on all of them
    alike (run one after another, a process measured in a slow minute lost to one measured
    in a quiet one); they never run at once, and each keeps its own threads and
    allocator. Returns their JSON results, in order."""
    procs = []
    for func, args in calls:
        go_r, go_w = os.pipe()
        done_r, done_w = os.pipe()
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(blas_threads),
               _TURN_FDS: f"{go_r},{done_w}"}
        p = subprocess.Popen([sys.executable, "-c", _code(script, func, args)], stdout=out,
                             stderr=err, text=True, env=env, pass_fds=(go_r, done_w))
        os.close(go_r)
        os.close(done_w)
        procs.append([p, go_w, done_r, out, err])
    live = list(procs)
    while live:
        for entry in list(live):
            p, go_w, done_r = entry[:3]
            try:
                os.write(go_w, b"g")
                finished = not os.read(done_r, 1)   # (end of file: the process has exited)
            except BrokenPipeError:
                finished = True
            if finished:
                live.remove(entry)
                os.close(go_w)
                os.close(done_r)
                p.wait()
            time.sleep(pause)
    results = []
    for p, _, _, out, err in procs:
        out.seek(0)
        err.seek(0)
        results.append(_result(out.read(), err.read()))
    return results


def table(rows, headers):
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)
