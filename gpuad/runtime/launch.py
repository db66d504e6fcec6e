"""Where a launch goes: the one place the device is chosen.

:func:`launcher` picks, from the arrays of an operation, the launcher of their device:
:data:`HOST` (NumPy arrays; kernels built by the host C++ compiler, see ``host.py``) or the
CUDA launcher (CuPy arrays; kernels built by NVRTC through ``cupy.RawModule``). Everything
the engine launches goes through a launcher, which also chooses the launch geometry and
tells the profile (an observer) what ran. Only the host launcher has ``fast``: the C entry
points of ``fastcall.cpp`` that run a whole elementwise operation (checks, output buffer,
launch) in one call; a CuPy array can never reach them.
"""
from __future__ import annotations

import numpy as np

from .. import runtime as _runtime
from . import profile as _profile

_ND = np.ndarray
_ONE = (1,)
SPLIT = 32768          # elements per CPU worker before a host launch is split


class Launcher:
    """Launches kernels on one device. ``xp`` is its array module."""

    def __init__(self, device: str):
        self.device = device
        self._kernels: dict = {}

    @property
    def xp(self):
        raise NotImplementedError

    def kernel(self, source: str, expr: str):
        """Kernel ``expr`` of ``source`` on this device as its fastest callable, cached."""
        k = self._kernels.get((source, expr))
        if k is None:
            k = _runtime.get_kernel(source, expr, self.device)
            k = self._kernels[(source, expr)] = getattr(k, "call", k)
        return k

    def launch(self, source: str, expr: str, label: str, n: int, args: tuple,
               reads=(), writes=()) -> None:
        """Launch kernel ``expr`` of ``source`` over ``n`` elements (a grid-stride kernel);
        the profile records it under ``label`` with the bytes of ``reads`` and ``writes``."""
        if n == 0:
            return
        self.kernel(source, expr)(*self.grid(n), self.arguments(args))
        if _profile.ON:
            record(label, n, reads, writes)

    def arguments(self, args):
        return args


class _Host(Launcher):
    def __init__(self):
        super().__init__("cpu")
        self._workers = None

    @property
    def xp(self):
        return np

    def grid(self, n: int):
        # One contiguous chunk per worker thread (GPUAD_LOOP in kernels/gpuad/host.h); small
        # arrays stay on one thread, where starting another costs more than it saves.
        # fastcall.cpp's run() applies the same rule with SPLIT and the same worker count.
        if n < 2 * SPLIT:
            return _ONE, _ONE
        if self._workers is None:
            from .host import cpu_workers
            self._workers = cpu_workers()
        return (max(1, min(self._workers, n // SPLIT)),), _ONE

    def __getattr__(self, name):
        # ``fast``: the C elementwise entry points (fastcall.cpp), or None where the C
        # launch path is unavailable (no Python headers, GPUAD_FASTCALL=0). Looked up on
        # first use and then a plain attribute; None meanwhile while the extension is being
        # compiled in the background (overlapping the first kernel module's compile).
        if name != "fast":
            raise AttributeError(name)
        from .host import fastcall_if_ready
        ready, fc = fastcall_if_ready()
        if not ready:
            return None
        if fc is not None:
            fc.set_split(SPLIT)
        self.fast = fc
        return fc


class _Cuda(Launcher):
    fast = None     # no C entry points: CuPy arrays never reach the host build

    def __init__(self):
        super().__init__("cuda")

    @property
    def xp(self):
        import cupy
        return cupy

    def grid(self, n: int):
        return (max(1, min((n + 255) // 256, 65535 * 8)),), (256,)

    def arguments(self, args):
        # CuPy passes a NumPy scalar by value: a 64-bit zero is the null pointer.
        return tuple(np.uint64(0) if a is None else a for a in args)


HOST = _Host()
_CUDA: list = []


def cuda() -> Launcher:
    if not _CUDA:
        _CUDA.append(_Cuda())
    return _CUDA[0]


def launcher(*arrays) -> Launcher:
    """The launcher of ``arrays``' device: CUDA if any is a CuPy array (traced or not),
    else the host."""
    for a in arrays:
        if type(a) is _ND or a is None:
            continue
        while getattr(a, "_trace", None) is not None:     # a tracer (gpuad.core): its value
            a = a.value
        if type(a).__module__.startswith("cupy"):
            return cuda()
    return HOST


def of_module(xp) -> Launcher:
    """The launcher of an array module (numpy or cupy)."""
    return HOST if xp is np else cuda()


def record(label: str, n: int, reads=(), writes=()) -> None:
    """Tell the profile about a launch (a kernel or a library call) that ran."""
    _profile.record_launch(label, n, sum(getattr(a, "nbytes", 0) for a in reads if a is not None),
                           sum(getattr(a, "nbytes", 0) for a in writes if a is not None))
