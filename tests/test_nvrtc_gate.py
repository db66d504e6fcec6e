"""The NVRTC gate: kernels compile with the compiler CuPy uses, no GPU needed."""
import os
import subprocess
import sys

import pytest

from gpuad.runtime import nvrtc

pytestmark = pytest.mark.nvrtc

TEMPLATE = r"""
template <typename T>
__global__ void axpy(T a, const T* __restrict__ x, T* __restrict__ y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        y[i] += a * x[i];
}
extern "C" __global__ void fill(float* y, float v) { y[threadIdx.x] = v; }
"""
NAMES = ["axpy<float>", "axpy<double>", "fill"]


@pytest.fixture(scope="module", autouse=True)
def need_nvrtc():
    try:
        nvrtc.nvrtc_version()
    except nvrtc.NvrtcUnavailable as exc:
        pytest.skip(f"NVRTC not available: {exc}")


def test_version():
    major, minor = nvrtc.nvrtc_version()
    assert major == 12 and minor >= 0


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_template_kernel_compiles_with_name_expressions(arch):
    result = nvrtc.compile_source(TEMPLATE, NAMES, arch)
    lowered = result["lowered"]
    assert set(lowered) == set(NAMES)
    assert lowered["axpy<float>"].startswith("_Z4axpyIf")   # Itanium mangling of T=float
    assert lowered["axpy<double>"].startswith("_Z4axpyId")
    assert lowered["fill"] == "fill"                          # extern "C": not mangled
    assert result["cubin_size"] > 0 and result["ptx_size"] > 0
    assert f"--gpu-architecture={arch}" in result["options"]
    # -Xptxas=-v reports every instantiated kernel.
    assert set(result["kernels"]) == set(lowered.values())
    assert all(k["registers"] > 0 for k in result["kernels"].values())


def test_include_dirs_are_searched(tmp_path):
    (tmp_path / "twice.cuh").write_text("__device__ inline float twice(float v) { return 2 * v; }\n")
    code = '#include "twice.cuh"\n__global__ void k(float* x) { x[0] = twice(x[0]); }\n'
    result = nvrtc.compile_source(code, ["k"], "sm_80", include_dirs=[tmp_path])
    assert result["lowered"]["k"].startswith("_Z1k")


def test_syntax_error_raises_with_log():
    code = "__global__ void broken(float* x) { x[0] = ; }\n"
    with pytest.raises(nvrtc.NvrtcError) as info:
        nvrtc.compile_source(code, ["broken"], "sm_80", name="broken.cu")
    message = str(info.value)
    assert "broken.cu(1): error" in message and "expected an expression" in message
    assert "error" in info.value.log


def test_unknown_name_expression_is_an_error():
    with pytest.raises(nvrtc.NvrtcError, match="nosuch"):
        nvrtc.compile_source(TEMPLATE, ["nosuch<float>"], "sm_80")


def test_warnings_are_reported():
    code = "__global__ void k(float* x) { int unused; x[0] = 1.f; }\n"
    result = nvrtc.compile_source(code, ["k"], "sm_80", name="w.cu")
    assert any("unused" in w for w in result["warnings"])


def test_run_gate_on_a_declared_module(tmp_path, capsys):
    """The gate over a registry-like spec, independent of what gpuad declares today."""
    (tmp_path / "inc.cuh").write_text("#pragma once\n#define SCALE 3\n")
    good = nvrtc.GateModule("good.cu", NAMES, '#include "inc.cuh"\n' + TEMPLATE)
    bad = nvrtc.GateModule("bad.cu", ["k"], "__global__ void k() { undefined_call(); }\n")
    assert nvrtc.run_gate([good], ("sm_80", "sm_90"), tmp_path) == 0
    out = capsys.readouterr().out
    assert "ok   good.cu [sm_80]: 3 kernels" in out and "good.cu [sm_90]" in out
    assert "axpy<double>:" in out and "registers" in out
    assert nvrtc.run_gate([good, bad], ("sm_80",), tmp_path) == 1
    assert "FAIL bad.cu [sm_80]" in capsys.readouterr().out


def test_ptxas_parser_reads_spills():
    log = ("ptxas info    : Compiling entry function '_Z1kPf' for 'sm_80'\n"
           "ptxas         .     16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n"
           "ptxas info    : Used 255 registers, used 0 barriers, 360 bytes cmem[0]\n")
    assert nvrtc.parse_ptxas_info(log) == {
        "_Z1kPf": {"stack": 16, "spill_stores": 8, "spill_loads": 4, "registers": 255}}


def test_gate_command_passes_on_a_repo_bundle():
    """``python -m gpuad.runtime.nvrtc`` exits 0 on a declared bundle and reports it. The
    whole gate (every bundle and undeclared source) is CI's own step before the tests (.ci/run);
    repeating it here would double CI's longest compile."""
    run = subprocess.run([sys.executable, "-m", "gpuad.runtime.nvrtc", "--quiet", "--arch", "sm_90",
                          "--bundle", "complex.cu[abs]"],
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 declared bundles, 0 undeclared" in run.stdout
    assert "NVRTC gate: 1/1 compiles passed" in run.stdout


def test_gate_refuses_an_unknown_bundle():
    run = subprocess.run([sys.executable, "-m", "gpuad.runtime.nvrtc", "--bundle", "nope.cu[x]"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "no declared bundle nope.cu[x]" in run.stderr
