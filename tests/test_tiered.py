"""Tiered host builds (gpuad/runtime/host.py, "tiered builds"): an engine module that is not
cached runs from a quick build at once; its optimised build goes into the cache from a
background process, which this process then adopts, and which outlives a process that exits
first. Only the optimised build is ever cached, and it computes the same results."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpuad.runtime import env

REPO = Path(__file__).resolve().parent.parent

# x * y: one module (float64 multiply: its forward and VJP kernels), plain arithmetic, so the
# quick and the optimised builds must agree to the bit; 10^5 elements reach the vector loops.
PROGRAM = r"""
import json, sys
import numpy as np, gpuad, gpuad.numpy as gnp
from gpuad import runtime
from gpuad.runtime import host, launch
import threading
if sys.argv[1] == "no-helper":
    # The background process dies on its first job, which the gate below holds back until the
    # quick build is checked: dying at start raced that build on a loaded machine (this
    # process's own optimised build finished first, and the module never ran quick).
    host._OPTIMIZER_BOOT = "import sys; sys.stdin.readline(); raise SystemExit(3)"
gate, writer = threading.Event(), host._optimizer_writer   # the job waits until the check below
host._optimizer_writer = lambda proc, jobs: (gate.wait(), writer(proc, jobs))
x = np.linspace(-2.0, 3.0, 100003)
y = np.cos(x) / 3.0
f = gpuad.grad(lambda x, y: gnp.sum(x * y), argnums=(0, 1))
g = np.concatenate(f(x, y))
(mod,) = [m for m in runtime._LOADED.values() if m.name.endswith("[double-multiply]")]
res = {"grad": g.tolist(), "builds": host.BUILD_COUNT, "quick": mod.quick,
       "path": str(mod.library_path)}
gate.set()
if sys.argv[1] in ("wait", "no-helper"):
    res["waited"] = host.wait_optimized(300)
    k = mod.get_function("binary_vjp<ops::Multiply, double>")
    if sys.argv[1] == "no-helper":  # a module first met now is built optimised at once
        before = host.BUILD_COUNT
        m2 = [gpuad.grad(lambda x: gnp.sum(gnp.sin(x)))(x),
              [m for m in runtime._LOADED.values() if m.name.endswith("[double-sin]")][0]][1]
        res.update(later_quick=m2.quick, later_builds=host.BUILD_COUNT - before)
    res.update(after=np.concatenate(f(x, y)).tolist(), quick_after=mod.quick, path_after=str(mod.library_path),
               kernel_retargeted=k._target[1] is mod._lib)
print(json.dumps(res))
"""


def run(cache: Path, mode: str = "exit", tiered: str | None = "1") -> dict:
    e = {k: v for k, v in os.environ.items() if k != "GPUAD_HOST_TIERED"}
    e.update({"PYTHONPATH": str(REPO), "GPUAD_CACHE_DIR": str(cache), "GPUAD_PREBUILT": "0"},
             **({} if tiered is None else {"GPUAD_HOST_TIERED": tiered}))
    r = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, timeout=600,
                       env=e, cwd="/")
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.splitlines()[-1])


def records(cache: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in cache.glob("*.json")}


def wait_for_record(cache: Path, prefix: str, timeout: float = 300) -> dict:
    end = time.monotonic() + timeout
    while True:
        for name, rec in records(cache).items():
            if name.startswith(prefix):
                return rec
        if time.monotonic() >= end:
            break
        time.sleep(0.2)
    raise AssertionError(f"no {prefix} build in {cache} after {timeout} s: {sorted(os.listdir(cache))}")


MULTIPLY = "elementwise.cu_double-multiply_"


def test_quick_build_runs_and_only_the_optimised_build_is_cached(tmp_path):
    tiered, plain = tmp_path / "tiered", tmp_path / "plain"
    first = run(tiered)                        # exits without waiting for the background build
    assert first["builds"] == 1 and first["quick"] is True, first["path"]
    assert not Path(first["path"]).is_relative_to(tiered)     # the quick build is not cached
    rec = wait_for_record(tiered, MULTIPLY)                   # the background process goes on
    # The cache then holds that module's record and library, the C launch path's, nothing else:
    # no quick build and no leftover build directory.
    names = sorted(os.listdir(tiered))
    assert len(names) == 4 and rec["file"] in names and not any(n.startswith(".") for n in names), names
    # ... and it is the optimised build: the same bytes as a build that is not tiered.
    ref = run(plain, tiered=None)               # the default: the optimised build at once
    assert ref["builds"] == 1 and ref["quick"] is False
    assert wait_for_record(plain, MULTIPLY, 0)["sha256"] == rec["sha256"]
    second = run(tiered)                       # the next process loads it and builds nothing
    assert second["builds"] == 0 and second["quick"] is False and Path(second["path"]).parent == tiered
    assert first["grad"] == ref["grad"] == second["grad"]


def test_process_adopts_its_optimised_build(tmp_path):
    res = run(tmp_path / "cache", mode="wait")
    assert res["quick"] is True and res["waited"] is True
    assert res["quick_after"] is False and Path(res["path_after"]).parent == tmp_path / "cache"
    assert res["kernel_retargeted"] is True        # a kernel handed out before launches the new one
    assert res["after"] == res["grad"]


def test_a_background_process_that_dies_leaves_the_build_to_this_one(tmp_path):
    res = run(tmp_path / "cache", mode="no-helper")
    assert res["quick"] is True and res["waited"] is True and res["quick_after"] is False
    assert Path(res["path_after"]).parent == tmp_path / "cache" and res["after"] == res["grad"]
    assert res["later_quick"] is False and res["later_builds"] == 1


def test_tiered_variable_is_validated(monkeypatch):
    monkeypatch.setenv("GPUAD_HOST_TIERED", "yes")
    with pytest.raises(env.EnvironmentVariableError, match="GPUAD_HOST_TIERED"):
        env.get("GPUAD_HOST_TIERED")
    monkeypatch.setenv("GPUAD_HOST_TIERED", "0")
    assert env.get("GPUAD_HOST_TIERED") is False
    monkeypatch.delenv("GPUAD_HOST_TIERED")
    assert env.get("GPUAD_HOST_TIERED") is False     # opt-in: off by default
