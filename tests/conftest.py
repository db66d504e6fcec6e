"""Shared pytest hooks. Add to this file; keep each hook small."""
import os
import sys

import numpy as np
import pytest

if os.environ.get("GPUAD_FAKE_CUPY") == "1":
    # CuPy's stand-in (tests/fake_cupy.py): the CuPy-parametrized tests run without a GPU.
    import fake_cupy
    fake_cupy.install()


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` with the reason when no CUDA device can be used."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    from gpuad.runtime.device import device_unavailable_reason  # only when needed

    reason = device_unavailable_reason()
    if reason is not None:
        skip = pytest.mark.skip(reason=f"needs a CUDA device: {reason}")
        for item in gpu_items:
            item.add_marker(skip)


# The array module: every test that takes ``xp`` runs on NumPy and, marked ``gpu``, on CuPy
# (skipped with the reason where no device can be used), as cupy.testing's
# numpy_cupy_allclose runs one body on both.
XP = [pytest.param("numpy", id="numpy"), pytest.param("cupy", id="cupy", marks=pytest.mark.gpu)]


def pytest_generate_tests(metafunc):
    if "xp" in metafunc.fixturenames:
        metafunc.parametrize("xp", XP, indirect=True)


@pytest.fixture
def xp(request):
    if request.param == "numpy":
        return np
    import cupy
    return cupy


@pytest.fixture
def fake_cupy(monkeypatch):
    """CuPy's stand-in (tests/fake_cupy.py) as ``cupy`` for one test, on any machine; gpuad's
    CUDA state (the launcher, loaded modules, cached constants) is set aside around it, so
    a real CuPy of the same process never sees what the stand-in built."""
    import fake_cupy as fc
    from gpuad import runtime
    from gpuad.runtime import launch, profile
    monkeypatch.setitem(sys.modules, "cupy", fc)
    monkeypatch.setattr(profile, "device_memory", profile.device_memory)
    monkeypatch.setattr(runtime, "_LOADED", {k: v for k, v in runtime._LOADED.items()
                                             if k[-1] != "cuda"})
    launch.cuda.cache_clear()           # a launcher made under the stand-in, dropped after
    launch._cuda_constant.cache_clear()
    yield fc
    launch.cuda.cache_clear()
    launch._cuda_constant.cache_clear()
