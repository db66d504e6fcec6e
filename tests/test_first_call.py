"""A program's first call compiles only what it uses: its ops, its dtype, its order."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROGRAM = r"""
import json, sys
import numpy as np, gpuad, gpuad.numpy as gnp
from gpuad.runtime import host
g = gpuad.grad(lambda x: gnp.sum(gnp.sin(x)))(np.ones(3))
host.wait_optimized(600)     # a tiered build's optimised library is in the cache (tests/test_tiered.py)
print(json.dumps({"grad": g.tolist(), "builds": host.BUILD_COUNT, "fastcall": host.fastcall_status()}))
"""


def run(cache: Path) -> tuple[dict, str]:
    r = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(REPO), "GPUAD_CACHE_DIR": str(cache),
                            "GPUAD_PREBUILT": "0"}, cwd="/")
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.splitlines()[-1]), r.stderr


def test_first_grad_compiles_its_op_only_and_the_next_process_nothing(tmp_path):
    cache = tmp_path / "cache"
    res, err = run(cache)
    assert res["builds"] == 1 and res["fastcall"].startswith("on (")
    built = sorted(p.name.rsplit("-", 1)[0] for p in cache.glob("*.json"))
    assert [b.split("-")[0] for b in built] == ["elementwise.cu_double", "gpuad_fastcall"]
    assert built[0] == "elementwise.cu_double-sin_"      # sin's forward and VJP, no other op
    said = [ln for ln in err.splitlines() if ln.startswith("gpuad: compiling")]
    assert len(said) == len(set(said)) <= 2                       # once per build, if slow
    res, err = run(cache)
    assert res["builds"] == 0 and "compiling" not in err
