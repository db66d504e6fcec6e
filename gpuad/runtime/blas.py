"""Matrix products on the CPU: large ones on gpuad's threads, NumPy's BLAS held at one thread.

Why: NumPy's OpenBLAS runs a product on its own thread pool, and those threads keep spinning
for about 0.1 s after each call (OpenBLAS's ``THREAD_TIMEOUT``). gpuad's kernels that follow
the product then share a core with a spinning thread: on 2 cores a tanh over 10^6 float64
took 5.8 ms after a two-threaded product against 2.1 ms after a one-threaded one (issue 18).
PyTorch and XLA avoid this by running BLAS and their kernels on one pool; gpuad does the
same from the other side: its host products hold the BLAS library at one thread for the
duration of the call (``threadpoolctl``, restored afterwards, so the caller's own NumPy
products keep their threads) and split a large product into blocks that run at once on up
to :func:`gpuad.runtime.host.cpu_workers` threads with ``numpy.dot``, which releases the GIL
around BLAS (``numpy.matmul`` held it for the matrix-vector products measured here, NumPy
2.4: two threads took as long as one). The caller and those threads are kept on distinct
CPUs while they run (:func:`_placed`: after the machine idled, woken threads shared one).

Each block is one BLAS call on a slice of the operands, so a block's numbers are those of
BLAS on that slice; they can differ from the unsplit call's in the last bits (another kernel
or blocking over the contraction), within the product's rounding bound.

Products of at least ``MIN_HOLD`` multiply-adds are held; smaller ones are plain
``numpy.matmul`` on BLAS's own threads (faster there, and shorter than the hold). Held
products of at least ``MIN_SPLIT`` multiply-adds of two arrays of one of BLAS's types
(float32/64, complex64/128, native byte order) are split: a 2-D product by rows, columns or the contraction (whichever lets each
thread read its own share of the large operand, less the copies that needs), a stack of
products by groups of its matrices. The rest (other or mixed dtypes, 2-D products where no
split gains) is one ``numpy.matmul`` call, still at one BLAS thread.
Where threadpoolctl finds no BLAS library to hold (or is not installed) nothing is held
and products are not split (BLAS's own threads then do the work, as in plain NumPy).
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import threading

import numpy as np

from . import env, host

# Multiply-adds below which a product is one call: handing a block to another thread costs
# tens of microseconds, about what 2^21 multiply-adds take on one core.
MIN_SPLIT = 1 << 21
# Multiply-adds below which a product is not held either: OpenBLAS runs a GEMM this small
# on one thread itself, and a held matrix-vector product this small took 71 us against 31
# on BLAS's two threads (450 x 300), more than their spin cost the small kernels around it.
# From here up the spin costs more: a tanh network's 1000 x 1000 matrix-vector products,
# 10^6 multiply-adds, left unheld, made its gradient 35 ms against 19-27.
MIN_HOLD = 1 << 18
_SPLIT_DTYPES = frozenset("fdFD")
# A product whose left operand has at most this many rows and a long contraction (at
# least GEMV_MIN multiply-adds per column), split by the columns of the right one, is made
# as one matrix-vector product per column (and, the other way round, one whose right
# operand has at most this many columns, split by rows, as one per row): OpenBLAS's GEMM
# with two or three rows of output packs the large operand and ran at about half its
# GEMV's speed ([w; v] @ A^T for A 100 x 10^5, an HVP's product: 6.3-6.6 ms on two threads
# against 4.1; four rows no faster either way). Each call then costs about a microsecond of
# Python for 2 x 10^5 multiply-adds and more.
GEMV_ROWS = 3
GEMV_MIN = 1 << 16


@functools.cache
def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded now (NumPy's among them)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    libs = ThreadpoolController().select(user_api="blas").lib_controllers
    # An OpenMP build of OpenBLAS keeps a count per calling thread: a hold taken in one
    # thread would not reach the others. None is held there, and nothing split.
    if any(getattr(lib, "threading_layer", None) == "openmp" for lib in libs):
        return ()
    return tuple(libs)


def _set_threads(lib, n: int) -> bool:
    """Set a BLAS library's thread count; whether it took. threadpoolctl (3.6 and later)
    lets one Python thread at a time control a process-wide OpenBLAS pool and silently
    ignores the others: the control is given back at once, so that the thread that restores
    (the last product out, maybe another thread) and the caller's own ``threadpool_limits``
    can take it; where another thread holds it, nothing is changed."""
    lib.set_num_threads(n)
    release = getattr(lib, "clear_controlling_thread", None)
    if release is not None:
        release()
    return lib.get_num_threads() == n


class _OneBlasThread:
    """Hold every BLAS library at one thread while any gpuad host product runs (nested and
    concurrent products share one hold: the first in sets it, the last out restores what it
    changed). The count is process-wide: a NumPy product of the caller's in another thread
    meanwhile also runs on one thread, and a ``threadpool_limits`` of the caller's in
    another thread that overlaps a hold finds one thread and restores one."""

    def __init__(self):
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = ()

    def __enter__(self):
        with self._lock:
            if self._depth == 0:
                before = [(lib, lib.get_num_threads()) for lib in _blas_libraries()]
                self._saved = tuple((lib, n) for lib, n in before
                                    if n != 1 and _set_threads(lib, 1))
            self._depth += 1

    def __exit__(self, *exc):
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._restore()

    def _restore(self):
        for lib, n in self._saved:
            _set_threads(lib, n)
        self._saved = ()

    def _after_fork_in_child(self):
        # The child has only the forking thread: a hold taken by another thread would never
        # end there, and its lock might be held forever. The child starts unheld.
        self._lock = threading.Lock()
        self._depth = 0
        self._restore()


one_blas_thread = _OneBlasThread()
_pool_state = {"pool": None, "threads": [], "placed": None, "others": None}
_pool_lock = threading.Lock()


def _after_fork_in_child():
    # The child has only the forking thread: none of the pool's, and a lock another thread
    # held at the fork would stay held. It starts with neither a pool nor a hold.
    global _pool_lock
    _pool_lock = threading.Lock()
    _pool_state.update(pool=None, threads=[], placed=None, others=None)
    one_blas_thread._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _pool():
    """The threads that run blocks beside the callers'. Its threads start as blocks need
    them, up to env.MAX_THREADS: one pool serves every caller, and is never replaced while
    in use (a child of fork() starts a new one)."""
    import concurrent.futures        # (on first use: it costs `import gpuad` 5 ms)
    with _pool_lock:
        if _pool_state["pool"] is None:
            _pool_state["pool"] = concurrent.futures.ThreadPoolExecutor(
                env.MAX_THREADS, "gpuad-blas", initializer=_started)
        return _pool_state["pool"]


def _started():
    """(In each new pool thread) its thread id, for :func:`_placed`, and the placement the
    pool's threads have now: a thread made inside run() was made by its pinned caller, and
    would otherwise inherit the caller's one CPU."""
    with _pool_lock:
        _pool_state["threads"].append(threading.get_native_id())
        others = _pool_state.get("others")
    if others:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, others)


@functools.cache
def _sched_getcpu():
    """glibc's sched_getcpu (the CPU the calling thread runs on), or a function giving -1
    where there is none (no placing then)."""
    try:
        import ctypes
        fn = ctypes.CDLL(None).sched_getcpu
        fn.restype, fn.argtypes = ctypes.c_int, ()
        return fn
    except (OSError, AttributeError, TypeError):
        return lambda: -1


# Where run() places its threads. A thread woken after the machine idled is put on the
# waking thread's CPU (in a virtual machine a halted vCPU counts as busy to the guest's
# scheduler), and a caller woken by the pool thread that finished last is put on that
# one's: a split product then ran on one core, its blocks taking turns (A 100 x 10^5 times
# a vector on 2 CPUs, bursts of calls 0.15 s apart: 3.3-4.1 ms per call against 2.3-2.7
# placed, and 2.1-2.4 on OpenBLAS's own two threads, which spin instead of sleeping; issue
# 18). So run() pins its caller to the CPU it is on for the call and the pool's threads to
# the caller's other CPUs. kernels/gpuad/host.h places the kernels' threads the same way;
# their caller spins before it sleeps waiting for them, and pinning it too measured no
# better there, so it is not pinned. Concurrent callers on different CPUs re-place the
# pool's threads in turn (slower, not wrong). Linux only (thread ids as sched_setaffinity's
# pid, sched_getcpu).
@contextlib.contextmanager
def _placed():
    """For the block: the calling thread pinned to its current CPU (the mask it had put
    back afterwards: the effective one, so a change another thread made to it meanwhile is
    undone, and on Linux 6.2+ a cpuset widened later no longer widens it) and
    the pool's threads to its other allowed CPUs (redone only when those change). Nothing
    where the thread may run on one CPU only or the CPU is unknown."""
    cpu = _sched_getcpu()() if sys.platform.startswith("linux") else -1
    try:
        mine = os.sched_getaffinity(0) if cpu >= 0 else set()
    except OSError:
        mine = set()
    if cpu not in mine or len(mine) < 2:
        yield
        return
    with _pool_lock:
        key = (cpu, frozenset(mine), len(_pool_state["threads"]))
        if _pool_state["placed"] != key:
            others = mine - {cpu}
            for tid in _pool_state["threads"]:
                with contextlib.suppress(OSError):       # (left where it was: slower only)
                    os.sched_setaffinity(tid, others)
            _pool_state.update(placed=key, others=others)
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:             # (a CPU set changed meanwhile: the call runs unpinned)
        yield
        return
    try:
        yield
    finally:
        # (Never an error out of a product that was made: a CPU set that shrank meanwhile
        # leaves the mask to the kernel, which moves the thread where it may run.)
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, mine)


def workers() -> int:
    """How many threads a split product or :func:`run` uses (the kernels' count), 1 where
    no BLAS library can be held at one thread (two pools would then oversubscribe)."""
    return host.cpu_workers() if _blas_libraries() else 1


def run(tasks) -> None:
    """Run the callables ``tasks`` at once, the caller's thread taking the first, with BLAS
    held at one thread and the threads placed on distinct CPUs (:func:`_placed`); returns
    when all have finished, raising the first one's error. A task must not call
    :func:`run` itself (the pool's threads could all be waiting)."""
    tasks = list(tasks)
    with one_blas_thread, _placed():
        futures = [_pool().submit(t) for t in tasks[1:]]
        try:
            if tasks:
                tasks[0]()
        finally:
            # Every block is finished before anything is raised: none writes after return.
            for f in futures:
                f.exception()
        for f in futures:
            f.result()


def held(size: int):
    """The hold for a product of ``size`` multiply-adds made block by block by its caller:
    :data:`one_blas_thread` from ``MIN_HOLD``, else nothing."""
    return one_blas_thread if size >= MIN_HOLD else contextlib.nullcontext()


def split_is_small(a, out_size: int) -> bool:
    """Whether a product that reads ``a`` and makes ``out_size`` elements may be made whole
    by :func:`matmul` (on the host, where ``out_size`` times the threads but one is at most
    an eighth of a's elements: the bound on partial outs should it be split over the
    contraction) rather than block by block into a buffer
    (linalg._vector_and_lanes_into, which keeps a lane-sized result out of memory)."""
    parts = workers() if isinstance(a, np.ndarray) else 1
    return parts > 1 and (parts - 1) * out_size * 8 <= a.size


def _bounds(n: int, parts: int):
    step = -(-n // parts)
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _split_axis(a, b, parts):
    """How to split ``a @ b``: ("m", a, b) (rows of a and out), ("n", a, b) (columns of b
    and out) or ("k", a, b) (the contraction; each block a partial out, summed), with the
    operands laid out for it, or None. numpy.dot copies a block that is not a contiguous
    slice, per block, so an operand the split needs in another layout is copied once first;
    the way that partitions the most bytes, less those copies and the partial outs, wins
    (these are products that read a large operand, and each thread should read its share)."""
    (m, k), n = a.shape, b.shape[1]
    out = m * n
    ways = []            # (bytes partitioned less bytes copied, axis, a's order, b's order)

    def copy(x, order):
        return 0 if (x.flags.c_contiguous if order == "C" else x.flags.f_contiguous) else x.size
    if m >= parts:
        ways.append((a.size + out - copy(a, "C"), "m", "C", None))
    if n >= parts:
        ways.append((b.size + out - copy(b, "F"), "n", None, "F"))
    if k >= parts:
        ways.append((a.size + b.size - (parts - 1) * out - copy(a, "F") - copy(b, "C"),
                     "k", "F", "C"))
    gain, axis, a_order, b_order = max(ways, default=(0, None, None, None))
    if gain <= 0:
        return None
    return (axis, a if a_order is None else np.asarray(a, order=a_order),
            b if b_order is None else np.asarray(b, order=b_order))


def _matrices(x, batch):
    """x broadcast to ``batch`` + its matrix shape (a view), its matrices copied once into
    C order first where they are neither C- nor F-contiguous (numpy.dot would copy each)."""
    first = x[(0,) * (x.ndim - 2)] if x.ndim > 2 else x
    if not (first.flags.c_contiguous or first.flags.f_contiguous):
        x = np.ascontiguousarray(x)
    return np.broadcast_to(x, batch + x.shape[-2:])


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``numpy.matmul(a, b)`` for NumPy arrays with at least two axes. A product of at least
    ``MIN_HOLD`` multiply-adds in BLAS's types runs with BLAS held at one thread, and from
    ``MIN_SPLIT`` is split over gpuad's threads where it can be (see the module's
    docstring): a stack of matrices of ``MIN_HOLD`` and up by groups of its matrices, one
    product by blocks. A smaller one is plain numpy.matmul on BLAS's own threads."""
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        return np.matmul(a, b)             # (NumPy's own errors for mismatched shapes)
    one = a.shape[-2] * a.shape[-1] * b.shape[-1]
    if a.ndim == b.ndim == 2:
        batch, size = (), one
    else:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        size = math.prod(batch) * one
    if size < MIN_HOLD or np.result_type(a, b).kind not in "fc":   # (no BLAS, nothing held)
        return np.matmul(a, b)
    parts = workers()
    if (size < MIN_SPLIT or parts < 2 or a.dtype != b.dtype or one < MIN_HOLD
            or a.dtype.char not in _SPLIT_DTYPES or not a.dtype.isnative):
        # (A stack of small matrices: one call; a Python loop over them costs more.)
        with one_blas_thread:
            return np.matmul(a, b)
    if not batch:
        return _split(a, b, parts)
    count = math.prod(batch)
    ab, bb = _matrices(a, batch), _matrices(b, batch)
    out = np.empty(batch + (a.shape[-2], b.shape[-1]), a.dtype)
    if count < parts:            # fewer matrices than threads: each product split
        for idx in np.ndindex(*batch):
            _split(ab[idx], bb[idx], parts, out[idx])
        return out

    def group(lo, hi):
        for i in range(lo, hi):
            idx = np.unravel_index(i, batch)
            np.dot(ab[idx], bb[idx], out=out[idx])
    run(functools.partial(group, i, j) for i, j in _bounds(count, parts))
    return out


def _rows(a, b, out):
    """A block of rows a @ b into its slab ``out`` by NumPy's BLAS with the GIL released:
    numpy.matmul for a matrix product (numpy.dot zero-fills its result before the GEMM
    writes it: 0.45 ms of 3.5 for a 1000 x 100 x 1000 product on two threads), numpy.dot
    for a matrix-vector one (numpy.matmul held the GIL there: two threads took as long as
    one; it also did for a contraction split of 2 x 10^5 x 100, which stays on numpy.dot)."""
    if a.shape[0] > 1 and b.shape[1] > 1:
        np.matmul(a, b, out=out)
    else:
        np.dot(a, b, out=out)


def _split(a, b, parts, out=None):
    """One 2-D product a @ b, split by :func:`_split_axis` where that gains; into ``out``
    (C-contiguous, a matrix of a stack: an HVP's one tangent lane) where given, which
    is returned."""
    how = _split_axis(a, b, parts)
    if how is None:
        with one_blas_thread:
            return np.matmul(a, b, out=out)
    axis, a, b = how
    (m, k), n = a.shape, b.shape[1]
    if out is None and axis != "k":
        out = np.empty((m, n), a.dtype)
    if axis == "m":
        # Row blocks, each written into its C-contiguous slab of out.
        if 1 < n <= GEMV_ROWS and n * k >= GEMV_MIN:
            # A few long columns: one matrix-vector product per row of a, b read (k, n)
            # C-order (b^T's GEMV), a read once: A 100 x 10^5 times 2 or 3 columns 0.47-0.50x
            # the time of the GEMMs (which pack a), calls alternating on two threads.
            b = np.ascontiguousarray(b)

            def rows(i, j):
                for r in range(i, j):
                    np.dot(a[r], b, out=out[r])
            run(functools.partial(rows, i, j) for i, j in _bounds(m, parts))
            return out
        run(functools.partial(_rows, a[i:j], b, out[i:j]) for i, j in _bounds(m, parts))
        return out
    if axis == "n":
        by_gemv = m <= GEMV_ROWS and m * k >= GEMV_MIN
        if by_gemv:
            # b's column times a^T laid out (k, m) C-order: BLAS reads a's m values at one
            # index side by side (b = A^T, A 100 x 10^5, calls alternating on two threads:
            # three rows 7.1 ms against 10.2 with a's rows as they are; two 0.97-0.98x of
            # the time; one the same).
            at = np.ascontiguousarray(a.T)

        def columns(i, j):
            if by_gemv:          # one matrix-vector product per column of b (see GEMV_ROWS)
                cols = np.empty((j - i, m), a.dtype)
                for c in range(i, j):
                    np.dot(b[:, c], at, out=cols[c - i])
                out[:, i:j] = cols.T
            else:
                out[:, i:j] = np.dot(a, b[:, i:j])
        run(functools.partial(columns, i, j) for i, j in _bounds(n, parts))
        return out
    partial = [None] * parts

    def terms(p, i, j):
        partial[p] = np.dot(a[:, i:j], b[i:j])
    run(functools.partial(terms, p, i, j) for p, (i, j) in enumerate(_bounds(k, parts)))
    made = [t for t in partial if t is not None]
    if out is None:
        out = made.pop(0)
    else:
        out[...] = made.pop(0)
    for t in made:
        out += t
    return out
