"""Where a launch goes: the one place the device is chosen.

:func:`launcher` picks, from the arrays of an operation, the launcher of their device:
:data:`HOST` (NumPy arrays; kernels built by the host C++ compiler, see ``host.py``) or the
CUDA launcher (CuPy arrays; kernels built by NVRTC through ``cupy.RawModule``). Everything
the engine launches goes through a launcher, which also chooses the launch geometry and
tells the profile (an observer) what ran. Only the host launcher has ``fast``: the C entry
points of ``fastcall.cpp`` that run a whole elementwise operation (checks, output buffer,
launch) in one call; a CuPy array can never reach them.

What else differs between the devices is asked of the launcher too: :meth:`Launcher.scope`
(the CUDA device of the arrays, current while a transform runs), :meth:`Launcher.call`
(a launch on the arrays' device), :meth:`Launcher.constant` (0-d constants, cached per
device on a GPU), :meth:`Launcher.put` (an array moved to this device) and
:meth:`Launcher.synchronize`.
"""
from __future__ import annotations

import contextlib
import functools
import threading

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

    def call(self, kernel, grid, block, args, shared_mem=0, what="a kernel"):
        """``kernel(grid, block, args, shared_mem=...)``, a kernel of this device (CuPy's
        call shape), on the device of its array arguments."""
        kernel(grid, block, args, shared_mem=shared_mem)

    def scope(self, arrays):
        """A context inside which work on ``arrays`` (and what is allocated for it) happens
        on their device; raises ValueError for arrays on different devices."""
        return _NO_SCOPE

    def constant(self, value, dtype):
        """A 0-d array of the scalar ``value`` as ``dtype`` on this device (the current CUDA
        device). It may be shared between callers: read it, never write into it."""
        return np.asarray(value, dtype=dtype)

    def put(self, x, like=None):
        """The array ``x`` (NumPy or CuPy) on this device (on ``like``'s CUDA device if
        given, else the current one): ``x`` itself when it is there already."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait until the work launched so far has finished (for timing)."""

    def memory_in_use(self):
        """(bytes the device's allocator has handed out, None) or (None, why unknown)."""
        return None, "the host has no allocator figure (peak_bytes is the engine's count)"

    @contextlib.contextmanager
    def count_syncs(self):
        """Inside: count the device-to-host synchronizations of this thread (``.count``; the
        host has none)."""
        counter = _Counter()
        yield counter


_NO_SCOPE = contextlib.nullcontext()


class _Counter:
    count = 0


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

    def scope(self, arrays):
        # NumPy allocates from gpuad's cache of host memory meanwhile (hostmem.py: a freed
        # large array's pages are kept instead of page-faulted afresh by the next one).
        from . import hostmem
        return hostmem.scope()

    def put(self, x, like=None):
        # A CuPy array comes to the host by its get() (a device-to-host copy).
        return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.asarray(x)

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
        import cupy
        self._cupy, self._runtime = cupy, cupy.cuda.runtime
        _profile.device_memory = self.memory_in_use

    @property
    def xp(self):
        return self._cupy

    def grid(self, n: int):
        return (max(1, min((n + 255) // 256, 65535 * 8)),), (256,)

    def arguments(self, args):
        # CuPy passes a NumPy scalar by value: a 64-bit zero is the null pointer.
        return tuple(np.uint64(0) if a is None else a for a in args)

    def device_of(self, arrays, what="operands"):
        """The CUDA device id of the CuPy arrays among ``arrays`` (tracers: their values), or
        None if there is none; ValueError naming both if two are on different devices."""
        nd, dev, first = self._cupy.ndarray, None, None
        for i, a in enumerate(arrays):
            while getattr(a, "_trace", None) is not None:
                a = a.value
            if isinstance(a, nd):
                d = a.data.device_id          # (CuPy: MemoryPointer.device_id)
                if dev is None:
                    dev, first = d, i
                elif d != dev:
                    raise ValueError(
                        f"{what}: argument {first} is on CUDA device {dev} and argument {i} on "
                        f"device {d}; gpuad computes on one device: copy the arrays to one "
                        "with cupy.asarray inside `with cupy.cuda.Device(n):`")
        return dev

    def call(self, kernel, grid, block, args, shared_mem=0, what="a kernel"):
        # A RawKernel runs on the current device (CuPy: RawKernel._kernel compiles and
        # caches per runtime.getDevice()); arrays of another device would be addresses the
        # kernel cannot read. So it runs under the arrays' device (Device.__enter__ switches
        # only when it differs, device.pyx).
        dev = self.device_of(args, what)
        if dev is None or dev == self._runtime.getDevice():
            kernel(grid, block, args, shared_mem=shared_mem)
        else:
            with self._cupy.cuda.Device(dev):
                kernel(grid, block, args, shared_mem=shared_mem)

    def launch(self, source, expr, label, n, args, reads=(), writes=()):
        if n == 0:
            return
        self.call(self.kernel(source, expr), *self.grid(n), self.arguments(args),
                  what=f"kernel {expr}")
        if _profile.ON:
            record(label, n, reads, writes)

    def scope(self, arrays):
        dev = self.device_of(arrays)
        return _NO_SCOPE if dev is None else self._cupy.cuda.Device(dev)

    def constant(self, value, dtype):
        # cupy.asarray(2.0, dtype) allocates and launches CuPy's fill kernel each time
        # (ndarray.fill, core.pyx): a Python scalar operand is made once per device.
        dt = np.dtype(dtype)
        return _cuda_constant(np.asarray(value, dtype=dt).tobytes(), dt,
                              self._runtime.getDevice())

    def put(self, x, like=None):
        cp = self._cupy
        dev = self.device_of((like,)) if like is not None else None
        dev = self._runtime.getDevice() if dev is None else dev
        if isinstance(x, cp.ndarray) and x.data.device_id == dev:
            return x
        with cp.cuda.Device(dev):
            # ndarray.copy() copies to the current device from any other (core.pyx: copy)
            return x.copy() if isinstance(x, cp.ndarray) else cp.asarray(x)

    def synchronize(self) -> None:
        self._cupy.cuda.get_current_stream().synchronize()

    @contextlib.contextmanager
    def count_syncs(self):
        # CuPy calls syncdetect._declare_synchronize() before every device-to-host copy
        # (ndarray.get, so float(), item(), bool()) and Device.synchronize (core.pyx,
        # device.pyx), looking the function up on the module each time: replacing it counts
        # them. Not every synchronization goes through it (CuPy's syncdetect says so).
        sd = self._cupy._core.syncdetect
        counter, old, me = _Counter(), sd._declare_synchronize, threading.get_ident()

        def declare():
            if threading.get_ident() == me:
                counter.count += 1
            return old()
        sd._declare_synchronize = declare
        try:
            yield counter
        finally:
            sd._declare_synchronize = old

    def memory_in_use(self):
        # The allocator in use (memory.pyx: get_allocator, thread-local first) is a bound
        # MemoryPool.malloc unless the user set another; then there is nothing to read.
        alloc = self._cupy.cuda.get_allocator()
        pool = getattr(alloc, "__self__", None)
        if pool is None or not hasattr(pool, "used_bytes"):
            return None, (f"the CUDA allocator in use ({getattr(alloc, '__qualname__', alloc)!r}) "
                          "is not a CuPy memory pool: its bytes cannot be read")
        return int(pool.used_bytes()), None


@functools.lru_cache(maxsize=256)
def _cuda_constant(raw: bytes, dtype, device: int):
    # Keyed by the value's bytes in ``dtype`` (so 0.0 and -0.0, 2 and 2.0 are told apart
    # or not exactly as the kernel would see them), the dtype and the device.
    xp = cuda().xp
    with xp.cuda.Device(device):
        return xp.asarray(np.frombuffer(raw, dtype=dtype).reshape(()))


HOST = _Host()


@functools.cache
def cuda() -> Launcher:
    """The CUDA launcher (made on first use: it imports CuPy)."""
    return _Cuda()


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
