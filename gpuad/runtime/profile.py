"""Launch records and held bytes: what the runtime launched, what the engine read back to
the host, and how many bytes the engine kept alive.

An observer only: the runtime and the engine notify it (``record_launch``,
``record_host_read``, ``hold``/``release``/``report``) and it never changes which code
runs. Everything here costs one test of :func:`active` while no profile is open.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading


@dataclasses.dataclass(frozen=True)
class Launch:
    kernel: str
    phase: str          # "forward", "reverse" or "recompute"
    n: int              # elements the launch covers
    bytes_read: int
    bytes_written: int


@dataclasses.dataclass(frozen=True)
class HostRead:
    phase: str
    what: str           # e.g. "float(x) of shape ()"
    nbytes: int


class Profile:
    """Records collected inside ``with gpuad.profile() as prof:``.

    Attributes
    ----------
    launches : list of Launch (``kernel``, ``phase``, ``n``, ``bytes_read``, ``bytes_written``)
    host_reads : list of HostRead (``phase``, ``what``, ``nbytes``)
    peak_bytes : dict phase -> the largest number of bytes the engine held during it (its
        own count of the buffers it keeps alive, the same on every device)
    device_bytes : dict phase -> on a GPU, the largest number of bytes the CUDA allocator
        in use had handed out (every live CuPy array, the user's too), when that allocator
        is a CuPy memory pool (the default); empty otherwise, and ``device_bytes_note``
        says why
    """

    def __init__(self):
        self.launches: list[Launch] = []
        self.host_reads: list[HostRead] = []
        self.peak_bytes: dict[str, int] = {}
        self.device_bytes: dict[str, int] = {}
        self.device_bytes_note: str | None = None

    def count(self, phase: str | None = None, kernel: str | None = None) -> int:
        """Number of launches, optionally only of one phase and/or kernel name prefix."""
        return sum(1 for r in self.launches
                   if (phase is None or r.phase == phase)
                   and (kernel is None or r.kernel.startswith(kernel)))

    def summary(self) -> str:
        """A table: launches, elements and bytes per (phase, kernel)."""
        rows: dict[tuple, list] = {}
        for r in self.launches:
            row = rows.setdefault((r.phase, r.kernel), [0, 0, 0, 0])
            row[0] += 1
            row[1] += r.n
            row[2] += r.bytes_read
            row[3] += r.bytes_written
        lines = [f"{'phase':<10} {'kernel':<40} {'launches':>8} {'elements':>12} "
                 f"{'read B':>12} {'written B':>12}"]
        for (phase, kernel), (c, n, br, bw) in sorted(rows.items()):
            lines.append(f"{phase:<10} {kernel:<40} {c:>8} {n:>12} {br:>12} {bw:>12}")
        by_phase: dict[str, int] = {}
        for h in self.host_reads:
            by_phase[h.phase] = by_phase.get(h.phase, 0) + 1
        lines.append(f"host reads: {by_phase or 0}")
        if self.peak_bytes:
            lines.append("peak bytes: " + ", ".join(f"{k}={v}" for k, v in self.peak_bytes.items()))
        if self.device_bytes:
            lines.append("device bytes (allocator): " +
                         ", ".join(f"{k}={v}" for k, v in self.device_bytes.items()))
        elif self.device_bytes_note:
            lines.append(f"device bytes: {self.device_bytes_note}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<gpuad.Profile launches={len(self.launches)} host_reads={len(self.host_reads)}>"


class _State(threading.local):
    def __init__(self):
        self.profiles: list[Profile] = []
        self.phase = "forward"


_state = _State()

#: How many profiles are open, in all threads: the one test hot paths make (0: observe
#: nothing). Where it is not 0, the recording functions below act for this thread only.
ON = 0


@contextlib.contextmanager
def profile():
    """Record every kernel launch and host read of this thread inside the block.

    Example::

        with gpuad.profile() as prof:
            gpuad.grad(lambda x: gnp.sum(gnp.sin(x)))(x)
        print(prof.summary())
        assert prof.count("reverse") == 1   # one fused VJP launch for sin
    """
    global ON
    p = Profile()
    _state.profiles.append(p)
    ON += 1
    try:
        yield p
    finally:
        ON -= 1
        _state.profiles.remove(p)


@contextlib.contextmanager
def phase(name: str):
    """Attribute launches inside the block to ``name`` (forward, reverse, recompute)."""
    old = _state.phase
    _state.phase = name
    try:
        yield
    finally:
        _state.phase = old


def active() -> bool:
    return bool(_state.profiles)


def record_launch(kernel: str, n: int, bytes_read: int, bytes_written: int) -> None:
    rec = Launch(kernel, _state.phase, int(n), int(bytes_read), int(bytes_written))
    for p in _state.profiles:
        p.launches.append(rec)


def record_host_read(what: str, nbytes: int) -> None:
    rec = HostRead(_state.phase, what, int(nbytes))
    for p in _state.profiles:
        p.host_reads.append(rec)


def record_bytes(held: int) -> None:
    """Report the engine's current holding; each profile keeps the per-phase maximum."""
    for p in _state.profiles:
        if held > p.peak_bytes.get(_state.phase, 0):
            p.peak_bytes[_state.phase] = held


# ------------------------------------------------------------------ bytes the engine holds
# Peak bytes: the engine's own count of the buffers it keeps alive (values saved on tapes,
# checkpoint snapshots, cotangents of sweeps in progress), each buffer once however many
# holders share it; a view counts as its base. The same count on both devices, so what a
# test asserts of it holds on a GPU too; beside it, on a GPU, the allocator's own figure.

class _Held(threading.local):
    def __init__(self):
        self.sweeps: list = []   # cotangent stores of the sweeps in progress (live values)
        self.reset(None)

    def reset(self, owner):
        self.owner = owner    # the profile these counts belong to
        self.bufs: dict = {}  # id(buffer) -> [holders, nbytes, buffer]
        self.total = 0
        self.cupy = False     # a CuPy buffer was held: the allocator's figure is read too


_held = _Held()

#: ``() -> (bytes or None, why not)``: the CUDA allocator's bytes in use, set by the CUDA
#: launcher when it is made (runtime/launch.py, where the device is chosen).
device_memory = None


def _buffer(x):
    """The array owning ``x``'s memory, or None for what holds none (scalars, shapes)."""
    if not hasattr(x, "nbytes") or not hasattr(x, "base"):
        return None
    while getattr(x, "base", None) is not None and hasattr(x.base, "nbytes"):
        x = x.base
    return x


def _buffers(x):
    """The arrays owning the memory of ``x``: of a tracer (gpuad.core), its value's and,
    for a forward-mode value, its tangent lanes' (K lanes of a batched HVP are K arrays'
    worth of bytes)."""
    out = []
    while getattr(x, "_trace", None) is not None:
        t = getattr(x, "tangent", None)
        if t is not None:
            out.extend(_buffers(t))
        x = x.value
    b = _buffer(x)
    if b is not None:
        out.append(b)
    return out


def hold(values) -> None:
    """Count ``values`` (arrays or tracers) as held by the engine until :func:`release`."""
    profs = _state.profiles
    if not profs:
        return
    if _held.owner is not profs[0]:
        _held.reset(profs[0])         # counts begun under an earlier profile are stale
    for b in itertools.chain.from_iterable(_buffers(v) for v in values):
        e = _held.bufs.get(id(b))
        if e is None:
            _held.bufs[id(b)] = [1, b.nbytes, b]
            _held.total += b.nbytes
            if type(b).__module__.startswith("cupy"):
                _held.cupy = True
        else:
            e[0] += 1


def release(values) -> None:
    """Undo :func:`hold` for ``values``."""
    if not _held.bufs:
        return
    if not _state.profiles:
        _held.reset(None)             # no one reads the counts any more
        return
    for b in itertools.chain.from_iterable(_buffers(v) for v in values):
        e = _held.bufs.get(id(b))
        if e is not None and e[2] is b:
            e[0] -= 1
            if e[0] == 0:
                del _held.bufs[id(b)]
                _held.total -= e[1]


@contextlib.contextmanager
def sweep(live):
    """Count the values of ``live`` (a mapping, e.g. a sweep's cotangents) as held inside."""
    _held.sweeps.append(live)
    try:
        yield
    finally:
        _held.sweeps.remove(live)


def report(extra=()) -> None:
    """Report the bytes held now (plus ``extra`` live values) to the open profiles."""
    if not _state.profiles:
        return
    if _held.cupy and device_memory is not None:
        used, note = device_memory()
        for p in _state.profiles:
            if used is None:
                p.device_bytes_note = note
            elif used > p.device_bytes.get(_state.phase, 0):
                p.device_bytes[_state.phase] = used
    seen = set()
    live = 0
    for v in itertools.chain(extra, (e for s in _held.sweeps for e in s.live())):
        for b in _buffers(v):
            if id(b) in _held.bufs or id(b) in seen:
                continue
            seen.add(id(b))
            live += b.nbytes
    record_bytes(_held.total + live)
