"""The transports: the one place that talks to MPI (mpi4py) or NCCL (CuPy).

A :class:`Transport` moves whole contiguous arrays (NumPy, or CuPy on a GPU) and returns
new ones; the primitives in ``collectives.py`` never see mpi4py or NCCL. Every transport
also counts, per operation, the calls, the payload bytes it handed over and the seconds
spent (``stats``), for the benchmark.

- :class:`Single`: one process (size 1), no library needed.
- :class:`MPI`: any mpi4py communicator. NumPy arrays are host buffers; CuPy arrays go
  to MPI directly when ``MPIX_Query_cuda_support()`` says the library is CUDA-aware, else
  are staged through host memory; either way after synchronising the current stream.
- :class:`NCCL`: ``cupy.cuda.nccl.NcclCommunicator`` on the current stream, built from an
  mpi4py communicator (which carries the unique id and the small host-side agreements);
  point-to-point inside ``groupStart``/``groupEnd``.
- :class:`Checked` (``GPUAD_DISTRIBUTED_CHECK=1``): before each operation the ranks compare
  a hash of their sequences of operations and report the first divergence instead of
  hanging in mismatched calls.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import pathlib
import time
import traceback

import numpy as np

_PKG = str(pathlib.Path(__file__).resolve().parents[1])


class DivergenceError(RuntimeError):
    """The ranks were about to run different collectives (GPUAD_DISTRIBUTED_CHECK=1)."""


class Transport:
    """What the collectives need from a communication library (``rank``, ``size``).
    ``stats``: per operation [calls, payload bytes this rank sent, seconds inside]."""
    rank = 0
    size = 1

    def __init__(self):
        self.stats: dict = {}

    def _count(self, op, nbytes, t0):
        s = self.stats.setdefault(op, [0, 0, 0.0])
        s[0] += 1
        s[1] += int(nbytes)
        s[2] += time.perf_counter() - t0

    def allreduce(self, x):
        """The sum over ranks of ``x``, on every rank."""
        raise NotImplementedError

    def allgather(self, x):
        """Every rank's ``x`` stacked: shape ``(size,) + x.shape``."""
        raise NotImplementedError

    def reduce_scatter(self, x):
        """``x`` of shape ``(size,) + s``: block ``rank`` of the sum over ranks, shape s."""
        raise NotImplementedError

    def bcast(self, x, root):
        """Root's ``x`` on every rank."""
        raise NotImplementedError

    def reduce(self, x, root):
        """The sum over ranks at ``root``, zeros elsewhere."""
        raise NotImplementedError

    def sendrecv(self, x, dest, source):
        """Send ``x`` to ``dest`` and receive an array like it from ``source`` (None: no
        partner; zeros are received)."""
        raise NotImplementedError

    def agree(self, what, value, same=False):
        """The minimum over ranks of the int ``value`` (``same``: it must not differ)."""
        values = self.gather_object(int(value))
        if same and len(set(values)) > 1:
            raise ValueError(f"{what} differs across ranks ({values}, by rank): every rank "
                             "must run the same schedule of collectives; pass the same value "
                             "on every rank")
        return min(values)

    def gather_object(self, obj):
        """Every rank's small Python object, as a list by rank (host messages)."""
        raise NotImplementedError


def _zeros_like(x):
    return _xp(x).zeros(np.shape(x), x.dtype)


def _on_device(x):
    return hasattr(x, "__cuda_array_interface__")


def _xp(x):
    if not _on_device(x):
        return np
    import cupy
    return cupy


class Single(Transport):
    """One process: every collective is an identity or a self-message."""

    def allreduce(self, x):
        return x.copy()

    def allgather(self, x):
        return x[None].copy()

    def reduce_scatter(self, x):
        return x[0].copy()

    def bcast(self, x, root):
        self._root(root)
        return x.copy()

    def reduce(self, x, root):
        self._root(root)
        return x.copy()

    def sendrecv(self, x, dest, source):
        for r in (dest, source):
            if r not in (None, 0):
                raise ValueError(f"rank {r} does not exist: this is a single process")
        return x.copy() if source == 0 else _zeros_like(x)

    def gather_object(self, obj):
        return [obj]

    @staticmethod
    def _root(root):
        if root != 0:
            raise ValueError(f"root {root} does not exist: this is a single process")


def cuda_aware(mpi) -> bool:
    """Whether the MPI library takes device pointers (``MPIX_Query_cuda_support()``, an
    extension of Open MPI and MPICH; False where the library lacks it)."""
    import ctypes
    try:
        fn = getattr(ctypes.CDLL(mpi.__file__), "MPIX_Query_cuda_support")
    except (OSError, AttributeError):
        return False
    return bool(fn())


class MPI(Transport):
    """An mpi4py communicator (``comm``); NumPy or CuPy arrays."""

    def __init__(self, comm):
        super().__init__()
        from mpi4py import MPI as mpi
        self.mpi, self.comm = mpi, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.cuda_aware = cuda_aware(mpi)

    def _run(self, op, x, out_shape, call, zero=False, sends=True):
        # call(sendbuf, recvbuf) on flat contiguous buffers MPI can read.
        t0 = time.perf_counter()
        dev = _on_device(x)
        if dev:
            import cupy
            cupy.cuda.get_current_stream().synchronize()
            x = cupy.ascontiguousarray(x) if self.cuda_aware else cupy.asnumpy(x)
        mod = _xp(x)
        x = mod.ascontiguousarray(mod.asarray(x)).reshape(-1)
        out = (mod.zeros if zero else mod.empty)(out_shape, x.dtype)
        call(x, out.reshape(-1))
        if dev and not self.cuda_aware:
            out = cupy.asarray(out)
        self._count(op, x.nbytes if sends else 0, t0)
        return out

    def allreduce(self, x):
        return self._run("allreduce", x, x.shape,
                         lambda s, r: self.comm.Allreduce(s, r, op=self.mpi.SUM))

    def allgather(self, x):
        return self._run("allgather", x, (self.size,) + x.shape, self.comm.Allgather)

    def reduce_scatter(self, x):
        return self._run("reduce_scatter", x, x.shape[1:],
                         lambda s, r: self.comm.Reduce_scatter_block(s, r, op=self.mpi.SUM))

    def bcast(self, x, root):
        def call(s, r):
            if self.rank == root:
                r[...] = s
            self.comm.Bcast(r, root=root)
        return self._run("bcast", x, x.shape, call)

    def reduce(self, x, root):
        return self._run("reduce", x, x.shape,
                         lambda s, r: self.comm.Reduce(s, r, op=self.mpi.SUM, root=root),
                         zero=True)

    def sendrecv(self, x, dest, source):
        null = self.mpi.PROC_NULL
        return self._run("sendrecv", x, x.shape,
                         lambda s, r: self.comm.Sendrecv(
                             s, dest=null if dest is None else dest, recvbuf=r,
                             source=null if source is None else source),
                         zero=True, sends=dest is not None)

    def gather_object(self, obj):
        return self.comm.allgather(obj)


class NCCL(Transport):
    """``cupy.cuda.nccl.NcclCommunicator`` over the ranks of the mpi4py communicator
    ``comm`` (one GPU per rank: NCCL refuses two ranks on one device). Written from
    CuPy's documented API; not run on this project's machines (no GPU)."""

    def __init__(self, comm):
        super().__init__()
        from cupy.cuda import nccl
        self.nccl, self.control = nccl, MPI(comm)
        self.rank, self.size = self.control.rank, self.control.size
        uid = comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)

    def _dtype(self, x):
        # NCCL has no complex types: a complex array is summed as pairs of reals.
        if np.dtype(x.dtype).kind == "c":
            x = x.view(x.real.dtype)
        dt = np.dtype(x.dtype)
        table = {np.dtype(np.float32): self.nccl.NCCL_FLOAT32,
                 np.dtype(np.float64): self.nccl.NCCL_FLOAT64,
                 np.dtype(np.int64): self.nccl.NCCL_INT64}
        if dt not in table:
            raise TypeError(f"NCCL transport: no NCCL type for dtype {dt}")
        return x, table[dt]

    def _run(self, op, x, out_shape, call, zero=False, sends=True):
        import cupy
        t0 = time.perf_counter()
        x = cupy.ascontiguousarray(x)
        out = (cupy.zeros if zero else cupy.empty)(out_shape, x.dtype)
        xs, dt = self._dtype(x)
        outs, _ = self._dtype(out)
        call(xs.data.ptr, outs.data.ptr, xs.size, dt, cupy.cuda.get_current_stream().ptr)
        self._count(op, x.nbytes if sends else 0, t0)
        return out

    def allreduce(self, x):
        return self._run("allreduce", x, x.shape, lambda s, r, n, dt, st:
                         self.comm.allReduce(s, r, n, dt, self.nccl.NCCL_SUM, st))

    def allgather(self, x):
        return self._run("allgather", x, (self.size,) + x.shape, self.comm.allGather)

    def reduce_scatter(self, x):
        return self._run("reduce_scatter", x, x.shape[1:], lambda s, r, n, dt, st:
                         self.comm.reduceScatter(s, r, n // self.size, dt,
                                                 self.nccl.NCCL_SUM, st))

    def bcast(self, x, root):
        return self._run("bcast", x, x.shape, lambda s, r, n, dt, st:
                         self.comm.broadcast(s, r, n, dt, root, st))

    def reduce(self, x, root):
        return self._run("reduce", x, x.shape, lambda s, r, n, dt, st:
                         self.comm.reduce(s, r, n, dt, self.nccl.NCCL_SUM, root, st),
                         zero=True)

    def sendrecv(self, x, dest, source):
        def call(s, r, n, dt, st):
            self.nccl.groupStart()
            if dest is not None:
                self.comm.send(s, n, dt, dest, st)
            if source is not None:
                self.comm.recv(r, n, dt, source, st)
            self.nccl.groupEnd()
        return self._run("sendrecv", x, x.shape, call, zero=True, sends=dest is not None)

    def gather_object(self, obj):
        return self.control.gather_object(obj)


# ------------------------------------------------------------------ the debug mode

def _where():
    """The innermost caller outside gpuad, as "file:line in function"."""
    for fr in reversed(traceback.extract_stack()[:-2]):
        if not fr.filename.startswith(_PKG):
            return f"{fr.filename}:{fr.lineno} in {fr.name}"
    return "?"


class Checked(Transport):
    """``inner`` with every operation preceded by a comparison of the ranks' sequences of
    operations (a running hash of each operation's name, shape and dtype): the first
    divergence raises :class:`DivergenceError` on every rank, naming each rank's call."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.rank, self.size = inner, inner.rank, inner.size
        self.stats = inner.stats
        self.seq, self.hash = 0, hashlib.blake2b(digest_size=8)
        atexit.register(self._at_exit)

    def check(self, desc):
        self.seq += 1
        self.hash.update(repr(desc).encode())
        mine = (self.hash.hexdigest(), self.seq, desc, _where())
        every = self.inner.gather_object(mine)
        if len({e[0] for e in every}) > 1:
            self.hash = hashlib.blake2b(digest_size=8)    # compare afresh from here on
            lines = "\n".join(f"  rank {r}: #{e[1]} {e[2]} at {e[3]}"
                              for r, e in enumerate(every))
            raise DivergenceError(
                "GPUAD_DISTRIBUTED_CHECK: the ranks' sequences of collectives diverge here "
                f"(the first divergence; each rank's call):\n{lines}\nEvery rank must run "
                "the same collectives in the same order, with the same shapes and dtypes.")

    def _at_exit(self):
        if self.size > 1:
            try:
                self.check(("end of program",))
            except DivergenceError as e:
                print(e, flush=True)
                os._exit(3)

    def _op(self, name, x, *extra):
        self.check((name, tuple(x.shape), str(x.dtype), *extra))

    def allreduce(self, x):
        self._op("allreduce", x)
        return self.inner.allreduce(x)

    def allgather(self, x):
        self._op("allgather", x)
        return self.inner.allgather(x)

    def reduce_scatter(self, x):
        self._op("reduce_scatter", x)
        return self.inner.reduce_scatter(x)

    def bcast(self, x, root):
        self._op("bcast", x, root)
        return self.inner.bcast(x, root)

    def reduce(self, x, root):
        self._op("reduce", x, root)
        return self.inner.reduce(x, root)

    def sendrecv(self, x, dest, source):
        self._op("sendrecv", x)
        return self.inner.sendrecv(x, dest, source)

    def agree(self, what, value, same=False):
        self.check(("agree", what))
        return self.inner.agree(what, value, same)

    def gather_object(self, obj):
        return self.inner.gather_object(obj)
