"""``python -m gpuad selftest``: on the CPU as CI runs it, its GPU branch on CuPy's stand-in
(tests/fake_cupy.py), and the report's format (README.md, "Self-test")."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np

import gpuad
import gpuad.numpy as gnp
from gpuad.runtime import launch

ROOT = pathlib.Path(__file__).resolve().parents[1]
SMALL = ["--no-peers", "--size", "65536", "--budget", "120"]


def _run(args, tmp_path, code=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    env.pop("GPUAD_FAKE_CUPY", None)
    cmd = [sys.executable, "-m", "gpuad", "selftest", *args, "--report", str(tmp_path / "r")]
    if code:
        cmd = [sys.executable, "-c", code, *cmd[4:]]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    return r, json.loads((tmp_path / "r.json").read_text()), (tmp_path / "r.md").read_text()


def _check_format(rep, md):
    assert rep["schema"] == 1 and rep["verdict"] == "ok", rep["problems"]
    assert set(rep) >= {"environment", "tests", "counts", "elementwise", "programs", "peers",
                        "budget_s", "seconds", "sizes", "problems"}
    c = rep["counts"]
    assert c["reverse_host_syncs"] == 0 and c["reverse_host_reads"] == 0
    assert set(c["launches_per_elementwise_vjp"].values()) == {1}
    kernels = [r["kernel"] for r in rep["elementwise"]["rows"]]
    assert kernels[0].startswith("copy") and "sin_vjp" in kernels and "divide_vjp" in kernels
    assert all(r["fraction"] > 0 for r in rep["elementwise"]["rows"])
    p = rep["programs"]
    assert p["grad"]["grad/forward"] > 0 and p["chain"]["per_op_us"] > 0
    assert p["hvp"]["K"] == 16 and p["checkpoint"]["checkpointed"]["peak_bytes"] < \
        p["checkpoint"]["plain"]["peak_bytes"]
    for head in ("## gpuad selftest: ", "| kernel | ms | GB/s | fraction |",
                 "| measure | gpuad |", "**Reverse phase**: 0 host syncs", "Verdict: **ok**"):
        assert head in md, head


def test_selftest_on_the_cpu(tmp_path):
    r, rep, md = _run(SMALL + ["--test-paths", "tests/test_transforms.py::test_stop_gradient"],
                      tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    _check_format(rep, md)
    assert rep["environment"]["device"] == "cpu"
    t = rep["tests"]
    assert t["status"] == "passed" and t["passed"] == 1 and t["failed"] == 0, t
    assert "-k numpy" in t["selection"]
    assert rep["peers"]["torch"]["status"] == "skipped: --no-peers"


FAKE = ("import sys; import fake_cupy; fake_cupy.install(); "
        "sys.argv = ['gpuad', 'selftest'] + sys.argv[1:]; "
        "from gpuad.__main__ import main; sys.exit(main())")


def test_selftest_gpu_branch_on_the_stand_in(tmp_path):
    r, rep, md = _run(["--device", "cuda", "--no-tests"] + SMALL, tmp_path, code=FAKE)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    _check_format(rep, md)
    env = rep["environment"]
    assert env["cupy"] == "14.2.0" and env["NVRTC (CuPy)"].startswith("13.0")
    assert "| CUDA runtime | 13.0, driver: 13.0 |" in md


def test_sync_counter_counts_device_reads(fake_cupy):
    dev = launch.cuda()
    x = fake_cupy.asarray(np.linspace(0.1, 1.0, 5))

    @gpuad.custom_vjp
    def f(x):
        return gnp.sin(x)
    f.defvjp(lambda x: (f(x), x), lambda x, g: (g * float(gnp.sum(x)),))   # a sync in bwd
    _, f_vjp = gpuad.vjp(lambda x: gnp.sum(f(x)), x)
    with dev.count_syncs() as syncs:
        x.get()
        f_vjp(fake_cupy.asarray(1.0))
    assert syncs.count == 2
    with launch.HOST.count_syncs() as none:
        np.zeros(3).sum()
    assert none.count == 0


def test_selftest_whose_tests_could_not_run_says_untested(tmp_path):
    # Tests asked for but not run (here: no budget left for them) are no pass: the verdict
    # says "untested" with the reason, never "ok" (a newcomer without pytest saw "ok").
    r, rep, md = _run(["--no-peers", "--size", "65536", "--budget", "30", "--quick"], tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert rep["tests"]["status"].startswith("skipped"), rep["tests"]
    assert rep["verdict"] == "untested" and not rep["problems"]
    assert "Verdict: **untested** (tests not run: skipped" in md
