"""The wheel ships the CUDA sources and the runtime finds them through importlib.resources.

These use a sources-only wheel (GPUAD_WHEEL_PREBUILT=0): everything compiles on first use.
tests/test_prebuilt.py covers a wheel with the kernels compiled ahead of time."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                        str(ROOT)], capture_output=True, text=True,
                       env={**os.environ, "GPUAD_WHEEL_PREBUILT": "0"})
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("gpuad-*.whl")
    assert whl.name.endswith("-py3-none-any.whl")       # sources only: a pure wheel
    return whl


def test_wheel_contains_every_kernel_source(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = [p.relative_to(ROOT / "kernels").as_posix()
               for p in (ROOT / "kernels").rglob("*") if p.suffix in (".cu", ".cuh", ".h")]
    assert sources
    missing = [s for s in sources if f"gpuad/kernels/{s}" not in names]
    assert not missing, missing


def test_installed_wheel_runs_its_own_kernels(wheel, tmp_path):
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                        str(site), str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    code = ("import numpy as np, gpuad, gpuad.numpy as gnp\n"
            "from gpuad import runtime\n"
            "print(runtime.kernel_dir())\n"
            "print(float(gpuad.grad(lambda x: gnp.sum(gnp.sin(x)))(np.array([0.0]))[0]))\n"
            "from gpuad.runtime import host\n"
            "print(host.fastcall_status().split()[0])\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    kdir, value, fast = r.stdout.split()
    assert pathlib.Path(kdir).resolve().is_relative_to(site.resolve())
    assert float(value) == 1.0
    assert fast == "on"               # the wheel ships fastcall.cpp and it builds


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = readme.split("```bash\n")[1:]
    commands = [b.split("```")[0].strip() for b in blocks]
    test_cmd = next(c for c in commands if "pytest" in c)
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_cmd in ci_lines
