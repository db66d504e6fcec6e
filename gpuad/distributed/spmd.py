"""The declaration reverse mode needs (:func:`spmd`) and derivative checks across ranks."""
from __future__ import annotations

import functools
import hashlib

import numpy as np

from .. import testing, tree
from ..core import Tracer, current, full_lower, dtype
from .collectives import _declared, pvary, transport, checking


def _nums(shared, nargs):
    if shared is True:
        return set(range(nargs))
    if shared is False or shared is None:
        return set()
    nums = (shared,) if isinstance(shared, int) else tuple(shared)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"shared={a} is out of range for {nargs} positional arguments")
    return {a % nargs for a in nums}


def _digest(x):
    x = full_lower(x)
    x = x.get() if hasattr(x, "get") else np.asarray(x)
    return hashlib.blake2b(np.ascontiguousarray(x).tobytes() + str(x.shape).encode(),
                           digest_size=8).hexdigest()


def _check_shared(t, args, nums, name):
    for i in sorted(nums):
        mine = [_digest(l) for l in tree.flatten(args[i])[0] if l is not None]
        every = t.gather_object(mine)
        if any(e != every[0] for e in every):
            raise ValueError(
                f"spmd({name}): argument {i} is declared shared but its value differs across "
                "ranks (GPUAD_DISTRIBUTED_CHECK): a shared argument must be the same on every "
                "rank; a rank's own part of a distributed array is not shared")


def spmd(fun, *, shared, comm=None):
    """``fun`` as a program every rank runs on its own data, with its shared arguments
    declared: the declaration reverse mode needs through gpuad.distributed's collectives.

    ``shared``: the positional arguments every rank holds the same copy of (an int, a
    tuple of ints, True for all, ``()`` or False for none); the others are each rank's own
    part. Each traced floating leaf of a shared argument enters ``fun`` through
    :func:`pvary`, so its gradient is the sum over ranks of the rank-local contributions
    (the same on every rank), as the serial program's gradient would be. A rank-local
    argument's gradient is this rank's part of the global gradient.

    Any transform applies to the result (``grad``, ``hvp``, ``jacrev``, ``check_grads``...);
    a collective reached in reverse mode outside ``spmd`` raises TypeError, because whether
    an argument is shared decides its gradient and cannot be seen from its value. With
    ``GPUAD_DISTRIBUTED_CHECK=1`` the shared arguments are also checked to be equal on
    every rank (ValueError otherwise).

    Conventions (JAX shard_map's): for ``F(w) = psum(f_r(w))``, write the function of the
    shared ``w`` with ``shared=0``; the loss is the same on every rank and ``grad`` seeds
    every rank with 1 (psum's VJP is the identity). A term computed from the shared
    argument on every rank belongs inside the psum with weight 1/size (or weight
    n_r / n summing to 1): outside it, its gradient would be summed size times.

    Example::

        >>> dist = gpuad.distributed
        >>> X = np.arange(6.0).reshape(3, 2) + dist.rank()          # this rank's rows
        >>> loss = dist.spmd(lambda w: dist.psum(gnp.sum((X @ w) ** 2)), shared=0)
        >>> gpuad.grad(loss)(np.array([1.0, -1.0]))                 # one process
        array([-12., -18.])
    """
    name = getattr(fun, "__name__", "fun")

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        t = transport(comm)
        nums = _nums(shared, len(args))
        tr = current()
        while tr is not None:         # the transforms in progress are declared
            tr.spmd = True
            tr = tr._outer
        if checking() and t.size > 1:
            _check_shared(t, args, nums, name)
        args = [tree.tree_map(lambda a: pvary(a, t) if isinstance(a, Tracer)
                              and np.dtype(dtype(a)).kind in "fc" else a, x)
                if i in nums else x for i, x in enumerate(args)]
        _declared.depth = getattr(_declared, "depth", 0) + 1
        try:
            return fun(*args, **kwargs)
        finally:
            _declared.depth -= 1
    return wrapped


class _Draws:
    """Random directions for check_grads: the k-th draw depends on k alone, not on how
    many numbers earlier draws took (rank-local shapes differ), so a shared argument gets
    the same direction on every rank."""

    def __init__(self, seed=0):
        self.seed, self.k = seed, 0

    def standard_normal(self, shape_):
        self.k += 1
        return np.random.default_rng([self.seed, self.k]).standard_normal(shape_)


def check_grads(fun, args, *, shared, out_shared=False, order=2, modes=("fwd", "rev"),
                eps=None, atol=None, rtol=None, comm=None):
    """:func:`gpuad.check_grads` across ranks, for ``spmd(fun, shared=shared)``.

    Forward mode is checked against central differences on every rank (each random
    direction is drawn the same on every rank where the shapes agree, as a shared argument
    needs).
    The dot-product test ``<u, J v> = <J^T u, v>`` uses the global inner products: a
    rank-local value's is the sum over ranks of the local products, a shared value's (a
    shared argument; the output when ``out_shared``, e.g. a psum) counts once.
    ``order=2`` also checks the derivative maps (jvp and vjp of ``fun``) the same way.
    Raises AssertionError on every rank where a check fails.

    Example::

        >>> dist = gpuad.distributed
        >>> dist.check_grads(lambda u: gnp.sin(dist.halo(u, 1)), (np.linspace(0, 1, 4),),
        ...                  shared=())
    """
    t = transport(comm)
    nums = _nums(shared, len(args))

    def vdot(a, b, space):
        pairs = [(a, b, out_shared)] if space == "out" else \
            [(x, y, i in nums) for i, (x, y) in enumerate(zip(a, b))]
        total = 0.0
        for x, y, once in pairs:
            s = float(t.allreduce(np.asarray(testing._vdot(x, y))))
            total += s / t.size if once else s
        return total
    testing.check_grads(spmd(fun, shared=shared, comm=t), tuple(args), order, modes, eps,
                        atol, rtol, rng=_Draws(), vdot=vdot)
