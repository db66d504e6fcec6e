"""gpuad.distributed on real MPI processes: every check of tests/distributed_checks.py on
1 rank (in this process), 2 ranks and 3 ranks (domain ends and a middle rank), each rank
process under a watchdog and the launch under a timeout, so a deadlock fails instead of
hanging; the debug mode's reports; the distributed examples against their serial runs.

``GPUAD_DISTRIBUTED_DEVICE=cuda`` runs the multi-rank checks on CuPy arrays (the GPU
self-check: all ranks share the one GPU, through MPI; NCCL needs one GPU per rank).
Skipped, with the reason, without mpi4py or an ``mpiexec``.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

import distributed_checks as dc

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEVICE = os.environ.get("GPUAD_DISTRIBUTED_DEVICE", "cpu")

try:
    import mpi4py  # noqa: F401
    REASON = None if dc.mpiexec() else "no mpiexec found (pip install mpich)"
except ImportError:
    REASON = "mpi4py is not installed (pip install mpi4py mpich, or the test extra)"
needs_mpi = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture(params=["mpi", "single"])
def one_rank(request):
    """This process as the only rank: through mpi4py (COMM_WORLD of size 1) when it is
    installed, and through the transport used without it."""
    import gpuad.distributed as dist
    from gpuad.distributed.transport import Single
    if request.param == "mpi" and REASON:
        pytest.skip(REASON)
    t = dist.init() if request.param == "mpi" else dist.init(comm=Single())
    yield t
    dist.init(comm=Single()) if REASON else dist.init()


@pytest.mark.parametrize("name", list(dc.CHECKS))
def test_one_rank(one_rank, name):
    # Also builds every kernel the ranks will load, so they do not all compile the same
    # modules at once.
    dc.CHECKS[name]()


def test_started_by_mpiexec_without_mpi4py_is_an_error():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import gpuad.distributed as d\n"
            "try:\n    d.rank()\nexcept RuntimeError as e:\n    print(e)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PMI_SIZE": "2"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)
    assert "PMI_SIZE=2" in proc.stdout and "pip install mpi4py" in proc.stdout, \
        proc.stdout + proc.stderr


@pytest.fixture(scope="module", params=[2, 3], ids=lambda n: f"{n}ranks")
def ranks(request, tmp_path_factory):
    if REASON:
        pytest.skip(REASON)
    for name in dc.CHECKS:           # warm the kernel cache once, here
        dc.CHECKS[name]()
    out = tmp_path_factory.mktemp(f"ranks{request.param}")
    proc, results = dc.launch(request.param, out, DEVICE, timeout=300, per_check=120)
    return request.param, proc, results


@needs_mpi
@pytest.mark.parametrize("name", list(dc.CHECKS))
def test_ranks(ranks, name):
    n, proc, results = ranks
    got = results.get(name, {})
    missing = [r for r in range(n) if r not in got]
    assert not missing, (f"{name} did not finish on ranks {missing} (hung: the watchdog "
                         f"ended it, or crashed)\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    bad = {r: res["error"] for r, res in got.items() if not res["ok"]}
    assert not bad, "\n".join(f"rank {r}: {e}" for r, e in bad.items())


@needs_mpi
def test_debug_mode_reports_divergence_instead_of_hanging():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GPUAD_DISTRIBUTED_CHECK": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([dc.mpiexec(), "-n", "3", sys.executable, dc.__file__, "--diverge",
                           "--device", DEVICE],
                          capture_output=True, text=True, timeout=120, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for r in range(3):
        for what in ("SHARED", "PVARY", "DIVERGENCE"):
            assert f"rank {r}: {what}-REPORTED" in proc.stdout, proc.stdout[-3000:]
    assert "rank 1: #" in proc.stdout and "'sendrecv'" in proc.stdout


@needs_mpi
@pytest.mark.parametrize("script, n, extra", [
    ("dist_newton_cg_logreg.py", 2, []),
    ("dist_inverse_diffusion.py", 2, []),
    # 500 bytes hold 2 states of the 6-cell part and 3 of the 5-cell ones: agreed on 2
    ("dist_inverse_diffusion.py", 3, ["--m", "16", "--steps", "32", "--memory-budget", "500"]),
])
def test_distributed_examples_match_serial_runs(script, n, extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([dc.mpiexec(), "-n", str(n), sys.executable,
                           str(ROOT / "examples" / script), "--device", DEVICE, *extra],
                          capture_output=True, text=True, timeout=300, env=env,
                          cwd=str(ROOT / "examples"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "the single-process run to 1e-10" in proc.stdout, proc.stdout[-3000:]


@pytest.mark.parametrize("module", ["gpuad.distributed", "gpuad.distributed.collectives",
                                    "gpuad.distributed.spmd", "dist_newton_cg_logreg",
                                    "dist_inverse_diffusion"])
def test_docstring_examples(module):
    import doctest
    import importlib

    import numpy as np

    import gpuad
    import gpuad.numpy as gnp
    sys.path.insert(0, str(ROOT / "examples"))
    mod = importlib.import_module(module)
    failed, attempted = doctest.testmod(mod, extraglobs={"np": np, "gpuad": gpuad, "gnp": gnp},
                                        optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0
