"""gpuad's environment variables: one reader (gpuad/runtime/env.py), every variable
validated, and the README's table lists exactly them."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gpuad.runtime import env, host

REPO = Path(__file__).resolve().parent.parent


def test_readme_table_lists_every_variable_as_declared():
    text = (REPO / "README.md").read_text()
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| `")]
    want = [f"| `{v.name}` | {v.meaning} | {v.accepted} | {v.default} |" for v in env.VARIABLES.values()]
    assert rows == want


def test_nothing_else_reads_the_environment():
    """One way to read a variable: env.get. (host.h once read GPUAD_FIBER_STACK_KB itself.)"""
    pattern = re.compile(r"os\.environ|os\.getenv|\bgetenv\s*\(|environ\[")
    found = []
    for path in [*(REPO / "gpuad").rglob("*.py"), *(REPO / "gpuad").rglob("*.cpp"),
                 *(REPO / "kernels").rglob("*.h"), *(REPO / "kernels").rglob("*.cu*")]:
        if path.name == "env.py" and path.parent.name == "runtime":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("name,value", [
    ("GPUAD_NUM_THREADS", "abc"), ("GPUAD_NUM_THREADS", "0"), ("GPUAD_NUM_THREADS", "-3"),
    ("GPUAD_NUM_THREADS", "2.5"), ("GPUAD_NUM_THREADS", "100000"),
    ("GPUAD_HOST_CACHE_MB", "-1"), ("GPUAD_HOST_CACHE_MB", "1GB"), ("GPUAD_HOST_CACHE_MB", "2000000"),
    ("GPUAD_FIBER_STACK_KB", "8"), ("GPUAD_FIBER_STACK_KB", "lots"),
    ("GPUAD_HOST_ISA", "native"), ("GPUAD_FASTCALL", "yes"), ("GPUAD_QUIET", "2"),
    ("GPUAD_CACHE_DIR", "relative/cache"), ("GPUAD_HOST_CXXFLAGS", "-DX='1"), ("CXX", "'g++"),
])
def test_malformed_values_are_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(env.EnvironmentVariableError) as e:
        env.get(name)
    msg = str(e.value)
    assert f"{name}={value!r} is invalid" in msg
    assert f"accepted values are {env.VARIABLES[name].accepted.replace('`', '')}" in msg
    assert "unset it for the default" in msg
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("name,value,parsed", [
    ("GPUAD_NUM_THREADS", " 3 ", 3), ("GPUAD_NUM_THREADS", "", None),
    ("GPUAD_FIBER_STACK_KB", "256", 256), ("GPUAD_FIBER_STACK_KB", "", 128),
    ("GPUAD_HOST_CACHE_MB", "0", 0), ("GPUAD_HOST_CACHE_MB", " 64 ", 64), ("GPUAD_HOST_CACHE_MB", "", None),
    ("GPUAD_HOST_ISA", "Baseline", "baseline"), ("GPUAD_HOST_ISA", "", "auto"),
    ("GPUAD_FASTCALL", "0", False), ("GPUAD_FASTCALL", "", True), ("GPUAD_QUIET", "1", True),
    ("GPUAD_HOST_CXXFLAGS", "-g '-DX=a b'", ["-g", "-DX=a b"]), ("CXX", "ccache g++", ["ccache", "g++"]),
])
def test_good_values_parse(monkeypatch, name, value, parsed):
    monkeypatch.setenv(name, value)
    assert env.get(name) == parsed


def test_cache_dir_expands_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GPUAD_CACHE_DIR", "~/c")
    assert env.get("GPUAD_CACHE_DIR") == tmp_path / "c"


def test_cpu_workers_refuses_a_bad_thread_count(monkeypatch):
    for bad in ("abc", "0", "-1"):
        monkeypatch.setenv("GPUAD_NUM_THREADS", bad)
        with pytest.raises(env.EnvironmentVariableError, match=r"GPUAD_NUM_THREADS=.* integer 1\.\.1024"):
            host.cpu_workers()


def test_a_bad_variable_stops_the_first_launch_with_its_name():
    r = subprocess.run([sys.executable, "-c", "import numpy as np, gpuad.numpy as gnp\n"
                        "print(gnp.sin(np.ones(3)))"], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(REPO), "GPUAD_NUM_THREADS": "abc"})
    assert r.returncode != 0
    assert "EnvironmentVariableError: environment variable GPUAD_NUM_THREADS='abc' is invalid" in r.stderr


def test_fiber_stack_size_reaches_the_kernels():
    """GPUAD_FIBER_STACK_KB is read by Python and handed to each library: a kernel with a
    barrier and 256 KiB of locals runs with a 1 MiB fiber stack (the default 128 KiB would
    overflow into the guard page)."""
    code = textwrap.dedent(r'''
        import numpy as np
        from gpuad.runtime.host import HostModule
        m = HostModule("""
        extern "C" __global__ void deep(double* out) {
            volatile double big[32768];
            for (int i = 0; i < 32768; ++i) big[i] = i;
            __syncthreads();
            out[threadIdx.x] = big[32767] + threadIdx.x;
        }""", name="deep_stack")
        out = np.zeros(4)
        m.get_function("deep")(1, 4, (out,))
        print(out.tolist())
    ''')
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(REPO), "GPUAD_FIBER_STACK_KB": "1024"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert eval(r.stdout) == [32767.0, 32768.0, 32769.0, 32770.0]


def test_info_lists_the_variables_set(monkeypatch):
    from gpuad import __main__ as cli
    monkeypatch.setenv("GPUAD_QUIET", "1")
    monkeypatch.setenv("GPUAD_HOST_ISA", "fast")
    lines = cli.info_lines()
    assert "environment: GPUAD_QUIET='1'" in lines
    assert any(ln.startswith("environment: environment variable GPUAD_HOST_ISA='fast' is invalid")
               for ln in lines)


def test_host_module_refuses_a_bad_fiber_stack(monkeypatch):
    monkeypatch.setenv("GPUAD_FIBER_STACK_KB", "4")
    with pytest.raises(env.EnvironmentVariableError, match="GPUAD_FIBER_STACK_KB='4'.*16..1048576"):
        host.HostModule('extern "C" __global__ void k(float* x) {}', name="env_probe")
    x = np.zeros(1, np.float32)
    monkeypatch.delenv("GPUAD_FIBER_STACK_KB")
    host.HostModule('extern "C" __global__ void k(float* x) {}', name="env_probe").get_function("k")(1, 1, (x,))
