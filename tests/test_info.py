"""``python -m gpuad info`` and the thin CuPy layer (runs with or without CuPy)."""
import subprocess
import sys
import types

import numpy as np
import pytest

from gpuad.runtime import NVRTC_OPTIONS, device


def test_info_command_reports_backend():
    run = subprocess.run([sys.executable, "-m", "gpuad", "info"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "backend: " in out
    expected = "backend: CUDA" if device.cupy_available() else "backend: CPU (no CUDA device: "
    assert expected in out
    for key in ("gpuad: ", "Python: ", "NumPy: ", "C++ compiler (CPU path): ",
                "host kernel cache: ", "NVRTC: "):
        assert key in out
    assert "C launch path (CPU): on (" in out     # this machine has Python's headers
    from gpuad.runtime import host
    assert f"CPU kernels built for: {host.host_isa()} (" in out     # GCC 12 knows every level


def test_info_cache_dir_follows_env(monkeypatch, tmp_path):
    from gpuad.__main__ import host_cache_dir
    monkeypatch.setenv("GPUAD_CACHE_DIR", str(tmp_path))
    assert host_cache_dir() == tmp_path
    monkeypatch.delenv("GPUAD_CACHE_DIR")
    assert host_cache_dir().parts[-3:] == (".cache", "gpuad", "host")


def test_info_without_compiler(monkeypatch):
    from gpuad import __main__ as cli
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    monkeypatch.setattr(cli, "CXX_CANDIDATES", ())
    assert any("none: install g++ or set CXX" in line for line in cli.info_lines())


def test_cupy_available_never_raises():
    assert isinstance(device.cupy_available(), bool)
    reason = device.device_unavailable_reason()
    assert (reason is None) == device.cupy_available()


def test_array_module_numpy():
    assert device.array_module(np.zeros(2), 1.0) is np
    assert device.array_module() is np


def test_device_module_call_shape(monkeypatch, tmp_path):
    """device_module passes CuPy exactly the code, options and names the gate compiles."""
    calls = []
    fake = types.SimpleNamespace(RawModule=lambda **kw: calls.append(kw) or "module")
    monkeypatch.setitem(sys.modules, "cupy", fake)
    (tmp_path / "a.cuh").write_text("#pragma once\n")
    assert device.device_module("CODE", ("k<float>", "k<double>"), tmp_path) == "module"
    (kw,) = calls
    assert kw["options"] == NVRTC_OPTIONS + ("-I" + str(tmp_path),)
    assert isinstance(kw["options"], tuple)          # CuPy rejects a list
    assert kw["name_expressions"] == ["k<float>", "k<double>"]
    assert kw["code"].startswith("CODE\n")
    # An edited header changes the code CuPy hashes for its disk cache.
    (tmp_path / "a.cuh").write_text("#pragma once\n#define X 1\n")
    device.device_module("CODE", ["k<float>"], tmp_path)
    assert calls[1]["code"] != kw["code"]


def test_device_module_constructs_without_compiling(tmp_path):
    """RawModule compiles lazily (CuPy >= 8), so building one needs no device."""
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    mod = device.device_module("template <class T> __global__ void k(T* x) {}",
                               ["k<float>"], tmp_path)
    assert isinstance(mod, cupy.RawModule)
    assert mod.name_expressions == ("k<float>",)
    assert mod.options[-1] == "-I" + str(tmp_path)


@pytest.mark.gpu
def test_device_module_launches_on_gpu(tmp_path):
    """On a device: compile through CuPy, launch on the current stream, check the result."""
    import cupy
    code = ("template <class T> __global__ void scale(T* x, T a, long long n) {"
            " long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;"
            " if (i < n) x[i] *= a; }")
    mod = device.device_module(code, ["scale<double>"], tmp_path)
    x = cupy.arange(5, dtype=cupy.float64)
    mod.get_function("scale<double>")((1,), (32,), (x, np.float64(2.0), np.int64(5)))
    assert device.array_module(x) is cupy
    np.testing.assert_array_equal(cupy.asnumpy(x), [0, 2, 4, 6, 8])


def test_info_on_a_device_reports_nvrtc_through_cupy(fake_cupy, monkeypatch):
    from gpuad import __main__ as cli
    monkeypatch.setattr(device, "device_unavailable_reason", lambda: None)
    lines = cli.info_lines()
    assert "backend: CUDA (CuPy 14.2.0)" in lines
    assert "NVRTC (CuPy): 13.0 (CuPy's JIT compiles)" in lines
    assert any(line.startswith("device: fake_cupy device (NumPy) (sm_90)") for line in lines)

    def no_headers(*a, **k):
        raise RuntimeError("Failed to find CUDA headers")
    monkeypatch.setattr(fake_cupy, "arange", no_headers)
    line = next(x for x in cli.info_lines() if x.startswith("NVRTC (CuPy)"))
    assert "compiling fails (RuntimeError: Failed to find CUDA headers)" in line
    assert "cuda-cudart-dev" in line


def test_info_names_the_prebuilt_level_that_serves(monkeypatch):
    # A wheel shipped without this CPU's level serves its highest lower one: info says so
    # rather than naming a level no library here was built for.
    from gpuad import __main__ as cli
    from gpuad.runtime import host
    levels = list(host.ISAS)
    monkeypatch.setattr(host, "host_isa", lambda: levels[-1])
    monkeypatch.setenv("GPUAD_PREBUILT", "1")
    monkeypatch.delenv("GPUAD_HOST_CXXFLAGS", raising=False)
    for shipped, serving in ((levels[:-1], levels[-2]), (levels, None), ([], None)):
        sh = types.SimpleNamespace(manifest={"host": {"m": [{"isa": lv} for lv in shipped]}})
        monkeypatch.setattr(host, "shipped", lambda: sh)
        line = cli._isa_line()
        assert line.startswith(levels[-1]), line
        if serving is None:
            assert "prebuilt" not in line, line
        else:
            assert f"the prebuilt libraries that serve first are {serving} (none shipped for {levels[-1]})" in line
