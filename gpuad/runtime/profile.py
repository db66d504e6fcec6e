"""Launch records: what the runtime launched and what the engine read back to the host."""
from __future__ import annotations

import contextlib
import dataclasses
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
    peak_bytes : dict phase -> the largest number of bytes the engine held during it
    """

    def __init__(self):
        self.launches: list[Launch] = []
        self.host_reads: list[HostRead] = []
        self.peak_bytes: dict[str, int] = {}

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
        return "\n".join(lines)

    def __repr__(self):
        return f"<gpuad.Profile launches={len(self.launches)} host_reads={len(self.host_reads)}>"


class _State(threading.local):
    def __init__(self):
        self.profiles: list[Profile] = []
        self.phase = "forward"


_state = _State()


@contextlib.contextmanager
def profile():
    """Record every kernel launch and host read of this thread inside the block.

    Example::

        with gpuad.profile() as prof:
            gpuad.grad(lambda x: gnp.sum(gnp.sin(x)))(x)
        print(prof.summary())
        assert prof.count("reverse") == 1   # one fused VJP launch for sin
    """
    p = Profile()
    _state.profiles.append(p)
    try:
        yield p
    finally:
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


def current_phase() -> str:
    return _state.phase


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
