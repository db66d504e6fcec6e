"""gpuad.distributed: differentiable collectives on MPI (mpi4py) and NCCL (CuPy).

Every rank runs the same program on its own data (SPMD, as under ``mpiexec -n N``). The
collectives are primitives of the one registry, linear, with JAX shard_map's conventions:
``psum``'s VJP is the identity and ``pvary``'s is ``psum``; ``all_gather`` and
``psum_scatter`` are each other's transposes, ``bcast``'s VJP sums to the root, ``shift``'s
is the reverse shift; ``halo`` is built from two shifts. Under any transform a collective
runs on every rank, with zero tangents or cotangents where a rank has none, so the ranks
never issue different sequences of messages; the value and its tangent lanes travel as
one message. Reverse mode through collectives needs :func:`spmd`, which declares the
arguments shared by all ranks (and inserts ``pvary`` for them).

    >>> import gpuad.distributed as dist
    >>> (dist.rank(), dist.size())              # a plain `python` run: one rank
    (0, 1)
"""
from __future__ import annotations

from .collectives import (init, transport, rank, size, psum, pmean, pvary, all_gather,
                          psum_scatter, bcast, shift, halo, checking)
from .spmd import spmd, check_grads
from .transport import DivergenceError, Transport

__all__ = ["init", "rank", "size", "psum", "pmean", "pvary", "all_gather", "psum_scatter",
           "bcast", "shift", "halo", "spmd", "check_grads", "transport", "checking",
           "DivergenceError", "Transport"]
