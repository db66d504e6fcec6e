"""The thin CuPy layer: build a ``cupy.RawModule`` from a kernel source, say whether a
CUDA device can be used, and pick ``numpy`` or ``cupy`` for a set of arrays.

No machine this project is developed or tested on has a GPU, so what this module relies
on about CuPy's behaviour on a device was read in CuPy's documentation and source
(CuPy 14.2.0, ``cupy/_core/raw.pyx``, ``cupy/cuda/compiler.py``,
``cupy/cuda/function.pyx``), not observed. Each such point is marked "(CuPy source)".
"""
from __future__ import annotations

import hashlib
import pathlib
import sys
from collections.abc import Sequence

from . import NVRTC_OPTIONS


def _include_digest(include_dir) -> str:
    """A hash of every header under ``include_dir``.

    CuPy's on-disk kernel cache (``~/.cupy/kernel_cache``) is keyed on the source text,
    the options, the architecture and the NVRTC version, not on the headers the source
    includes (CuPy source: ``_compile_with_cache_cuda``). Appending this digest to the
    code as a comment makes an edited header produce a new key instead of a stale cubin.
    """
    digest = hashlib.sha256()
    root = pathlib.Path(include_dir)
    for path in sorted(root.rglob("*")):
        if path.suffix in (".cuh", ".h", ".hpp") and path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def device_module(code: str, name_expressions: Sequence[str], include_dir):
    """A ``cupy.RawModule`` for ``code`` with the template instantiations it may launch.

    Nothing is compiled here (CuPy source: since CuPy 8 a RawModule built from code
    compiles on first use, e.g. ``get_function``; constructing one without a device is
    also observed to succeed). On first ``get_function(name)`` CuPy compiles all of
    ``name_expressions`` in one NVRTC call with ``-arch=sm_XX`` of the current device
    plus ``-ftz=true`` and ``--device-as-default-execution-space``, caches the cubin in memory per device and on disk, and maps each
    name expression to its lowered name. The returned ``RawKernel`` is launched as
    ``kernel(grid, block, args, shared_mem=...)`` on the current CuPy stream; ``grid``
    and ``block`` must be tuples, arrays must be ``cupy.ndarray`` and scalars should be
    NumPy scalars of the kernel parameter's exact type (a Python int is passed as 64-bit,
    a float as double) (CuPy source).
    """
    import cupy

    # A comment at the end keeps line numbers of compile errors unchanged.
    code = f"{code}\n// gpuad include digest: {_include_digest(include_dir)}\n"
    # CuPy types ``options`` as a tuple (a list is rejected, observed) and copies
    # name_expressions into a tuple.
    return cupy.RawModule(code=code,
                          options=tuple(NVRTC_OPTIONS) + ("-I" + str(include_dir),),
                          name_expressions=list(name_expressions))


class FileModule:
    """A module NVRTC compiled ahead of time, loaded from its cubin or PTX file with
    ``cupy.RawModule(path=...)``. Kernels are asked for by name expression and fetched by the
    lowered name NVRTC reported for it (``lowered``): a RawModule loaded from a file takes no
    ``name_expressions`` and its ``get_function`` takes the mangled name (CuPy source,
    ``raw.pyx``). CuPy loads the file on each device on first use (``cuModuleLoad``; the
    driver compiles PTX for the device)."""

    def __init__(self, path: str, lowered: dict):
        import cupy

        self.raw, self.lowered = cupy.RawModule(path=str(path)), dict(lowered)

    def get_function(self, name: str):
        return self.raw.get_function(self.lowered.get(name, name))


class CheckedModule:
    """A module built from ``code`` (a ``cupy.RawModule`` from :func:`device_module`) whose
    ``get_function`` returns kernels that check every launch before it runs
    (:class:`gpuad.runtime.checks.CheckedKernel`): CuPy passes what it is given, so a wrong
    argument would otherwise corrupt device memory silently. The parameters come from
    ``code`` (:func:`gpuad.runtime.cxx.kernel_signatures`, template arguments substituted from
    the name expression); a kernel whose parameters cannot be read gets its launch
    configuration checked only. Other attributes are the RawModule's (``raw``)."""

    def __init__(self, raw, code: str):
        self.raw, self._code, self._signatures = raw, code, None

    def get_function(self, name: str):
        from . import cxx
        from .checks import CheckedKernel
        if self._signatures is None:
            self._signatures = cxx.kernel_signatures(self._code)
        return CheckedKernel(self.raw.get_function(name), name, cxx.params_of(self._signatures, name))

    def __getattr__(self, attr):
        return getattr(self.raw, attr)


def device_unavailable_reason() -> str | None:
    """None if CuPy can use a CUDA device, else why not (never raises)."""
    try:
        import cupy
    except ModuleNotFoundError as exc:
        if exc.name == "cupy":
            return "CuPy is not installed"
        return f"CuPy is not importable ({exc})"
    except Exception as exc:  # a broken CUDA install can raise anything at import
        return f"CuPy is not importable ({type(exc).__name__}: {exc})"
    try:
        if cupy.is_available():
            return None
    except Exception as exc:
        return f"cupy.is_available() raised {type(exc).__name__}: {exc}"
    # is_available() swallows the error; asking for the device count shows it (observed:
    # cudaErrorInsufficientDriver on a machine without an NVIDIA driver).
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "no CUDA device found" if count == 0 else "cupy.is_available() is False"


def cupy_available() -> bool:
    """True if CuPy is installed and ``cupy.is_available()`` says a device can be used."""
    try:
        import cupy
        return bool(cupy.is_available())
    except Exception:
        return False


def array_module(*arrays):
    """``numpy`` or ``cupy``, as ``cupy.get_array_module`` does, also without CuPy.

    If CuPy was never imported, no argument can be a CuPy array, so NumPy is returned
    without paying for (or requiring) the CuPy import.
    """
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        return cupy.get_array_module(*arrays)
    import numpy
    return numpy
