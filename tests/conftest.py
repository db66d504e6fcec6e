"""Shared pytest hooks. Add to this file; keep each hook small."""
import pytest


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
