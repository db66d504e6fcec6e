"""gpuad.scipy: differentiable counterparts of SciPy subpackages.

Each subpackage loads on first use (``gpuad.scipy.linalg`` or ``import
gpuad.scipy.linalg``), so importing gpuad does not import SciPy. A new subpackage is a
module beside this file and one name in ``_SUBPACKAGES``.
"""
import importlib as _importlib

_SUBPACKAGES = ("integrate", "linalg", "signal", "special", "stats")
__all__ = list(_SUBPACKAGES)


def __getattr__(name):
    if name in _SUBPACKAGES:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gpuad.scipy' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
