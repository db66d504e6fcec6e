"""The collectives as primitives of the one registry, and the communicator they run on.

Each collective is linear and ``collective=True``: the engine never skips it for a
symbolic zero (gpuad/core.py, gpuad/tape.py). Its JVP rule stacks the primal and its
tangent lanes into one buffer and applies the collective itself once (one message, not
1 + L); its VJP rule is the transpose collective, which runs with zeros where no
cotangent arrived. Both are written with ``bind``, so they compose to any order.
"""
from __future__ import annotations

import threading

import numpy as np

from .. import tree
from ..core import Primitive, Tracer, bind, current, full_lower, register, set_agree, shape
from ..primitives.base import reshape, xp_of
from ..primitives.indexing import concatenate, getitem
from ..runtime import env
from ..segment import Replay
from ..tape import VJPTrace
from .transport import MPI, NCCL, Checked, Single, Transport

# ------------------------------------------------------------------ the communicator

_state = {"default": None, "by_comm": {}}
_LAUNCHED = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")   # MPICH, Open MPI


def checking() -> bool:
    """Whether the debug mode is on (``GPUAD_DISTRIBUTED_CHECK=1``)."""
    return env.get("GPUAD_DISTRIBUTED_CHECK")


def _world():
    try:
        from mpi4py import MPI as mpi
    except ImportError:
        launched = [(v, env.get(v)) for v in _LAUNCHED if (env.get(v) or 1) > 1]
        if launched:
            raise RuntimeError(
                f"this process was started by an MPI launcher ({launched[0][0]}="
                f"{launched[0][1]}) but "
                "mpi4py is not installed, so it cannot reach the other ranks: pip install "
                "mpi4py mpich (or an mpi4py built against your MPI)") from None
        return None
    return mpi.COMM_WORLD


def init(backend: str = "mpi", comm=None) -> Transport:
    """Choose the transport of the default communicator and return it.

    ``backend="mpi"``: ``comm`` is any mpi4py communicator (default ``MPI.COMM_WORLD``;
    without mpi4py, and not started by an MPI launcher, a single process of size 1).
    NumPy arrays travel as host buffers; CuPy arrays go to MPI directly when the library
    is CUDA-aware (``MPIX_Query_cuda_support()``), else through host memory after the
    current stream is synchronised. ``backend="nccl"``: a
    ``cupy.cuda.nccl.NcclCommunicator`` over ``comm``'s ranks (one GPU each), on the current
    stream; ``comm`` (an mpi4py communicator) carries NCCL's unique id and the small
    host-side agreements; each rank must have made its own GPU current first (e.g.
    ``cupy.cuda.Device(local_rank).use()``: NCCL refuses two ranks on one device).
    ``comm`` may also be a ready :class:`Transport`.

    Once initialised with more than one rank, ``checkpoint_loop(memory_budget=...)`` and
    ``hvp(chunk=...)`` agree on their schedules across ranks (every rank must call them).
    With ``GPUAD_DISTRIBUTED_CHECK=1`` each collective is preceded by a comparison of the
    ranks' sequences of collectives (:class:`~gpuad.distributed.transport.Checked`).

    Errors: ValueError for another backend; RuntimeError when started by ``mpiexec``
    without mpi4py (each process would silently run alone); ImportError for "nccl"
    without CuPy.

    Example::

        >>> t = gpuad.distributed.init()          # mpi4py's COMM_WORLD, or one process
        >>> (t.rank, t.size)                      # in a plain `python` run
        (0, 1)
    """
    if backend not in ("mpi", "nccl"):
        raise ValueError(f"backend must be 'mpi' or 'nccl', got {backend!r}")
    if isinstance(comm, Transport):
        t = comm
    else:
        comm = _world() if comm is None else comm
        if backend == "nccl":
            if comm is None:
                raise RuntimeError("backend='nccl' needs mpi4py to exchange NCCL's unique id")
            t = NCCL(comm)
        else:
            t = Single() if comm is None else MPI(comm)
        if checking() and t.size > 1:
            t = Checked(t)
    _state["default"] = t
    set_agree(t.agree if t.size > 1 else None)
    return t


def transport(comm=None) -> Transport:
    """The transport of ``comm``: None is the default communicator (initialised with
    ``init()`` on first use), a :class:`Transport` itself, an mpi4py communicator its MPI
    transport (made once)."""
    if comm is None:
        return _state["default"] or init()
    if isinstance(comm, Transport):
        return comm
    hit = _state["by_comm"].get(id(comm))
    if hit is None or hit[0] is not comm:
        t = MPI(comm)
        hit = _state["by_comm"][id(comm)] = (comm, Checked(t) if checking() and t.size > 1 else t)
    return hit[1]


def rank(comm=None) -> int:
    """This process's rank in ``comm`` (default communicator: see :func:`init`).

    Example::

        >>> gpuad.distributed.rank()              # 0 in a single process
        0
    """
    return transport(comm).rank


def size(comm=None) -> int:
    """The number of ranks of ``comm`` (1 in a single process).

    Example::

        >>> gpuad.distributed.size()
        1
    """
    return transport(comm).size


# ------------------------------------------------------------------ reverse mode needs a declaration

_declared = threading.local()


def _guard(name):
    """Refuse a collective under an undeclared reverse-mode transform (see spmd)."""
    if getattr(_declared, "depth", 0):
        return
    t = current()
    while t is not None:
        if isinstance(t, VJPTrace) and not isinstance(t, Replay) and not getattr(t, "spmd", False):
            raise TypeError(
                f"gpuad.distributed.{name} is differentiated in reverse mode (grad, vjp, hvp, "
                "hessian, ...) outside gpuad.distributed.spmd. Whether an argument is shared "
                "(the same copy on every rank: its gradient is the sum over ranks) or each "
                "rank's own part decides its gradient, and gpuad cannot tell which: wrap the "
                "function, e.g. gpuad.grad(gpuad.distributed.spmd(fun, shared=0)) for a shared "
                "first argument, shared=() when every argument is rank-local.")
        t = t._outer


# ------------------------------------------------------------------ the primitives

def _zeros(shape_, dt, xp):
    return xp.zeros(tuple(shape_), dtype=dt)


def _out_shape(name, s, params):
    s = list(s)
    if name == "all_gather":
        s[params["axis"]] *= params["comm"].size
    elif name == "psum_scatter":
        s[params["axis"]] //= params["comm"].size
    return tuple(s)


def _one_message(prim, lane_axis=False):
    """The JVP of a linear collective: the primal and its L tangent lanes stacked into one
    (1 + L,) + shape buffer, the collective applied to it once."""
    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        if t is None:                     # not a floating value: nothing to differentiate
            return bind(prim, x, **params), None
        buf = concatenate([reshape(x, (1,) + tuple(shape(x))), t], 0)
        lane = dict(params, axis=params["axis"] + 1) if lane_axis else params
        out = bind(prim, buf, **lane)
        return getitem(out, (), (0,)), getitem(out, (), (slice(1, None),))
    return jvp


def _collective(name, impl, transpose, doc, lane_axis=False, jvp=None):
    """Register a linear collective whose VJP is ``transpose(g, **params)`` (g: the
    output's cotangent, zeros where none arrived: the transpose collective always runs)
    and whose JVP is ``jvp`` or else the one-message rule."""
    def vjp(g, ins, out, **params):
        if g is None:
            a = ins[0]
            g = _zeros(_out_shape(name, a.shape, params), a.dtype, params["xp"])
        return (transpose(g, **params),)
    prim = Primitive(name, impl, vjp=vjp, saves="none", linear=True, collective=True,
                     doc=doc)
    prim.jvp = jvp or _one_message(prim, lane_axis)
    return register(prim)


def _ag_impl(x, axis, comm, xp):
    g = comm.allgather(x)                                 # (size,) + x.shape
    s = x.shape
    g = xp.moveaxis(g, 0, axis)
    return xp.ascontiguousarray(g).reshape(s[:axis] + (comm.size * s[axis],) + s[axis + 1:])


def _ps_impl(x, axis, comm, xp):
    s, n = x.shape, comm.size
    if s[axis] % n:
        raise ValueError(f"psum_scatter: axis {axis} has length {s[axis]}, not a multiple of "
                         f"the {n} ranks")
    blocks = xp.moveaxis(x.reshape(s[:axis] + (n, s[axis] // n) + s[axis + 1:]), axis, 0)
    return comm.reduce_scatter(xp.ascontiguousarray(blocks))


def _psum_transpose(g, comm, xp):
    """psum's transpose: pvary, the identity on values (whose own transpose, met by a
    second reverse sweep, is psum again). psum's result is one value shared by all ranks,
    so its cotangent must be the same on every rank; in the debug mode that is checked: a
    cotangent that differs means the result met rank-local work without pvary, which
    would silently drop the other ranks' contributions."""
    if checking() and comm.size > 1:
        mine = full_lower(g)
        every = [np.asarray(v, dtype=np.complex128)
                 for v in comm.gather_object(mine.get() if hasattr(mine, "get") else mine)]
        scale = max(1.0, max(float(np.max(np.abs(v), initial=0.0)) for v in every))
        err = max(float(np.max(np.abs(v - every[0]), initial=0.0)) for v in every)
        if err > 1e-10 * scale:
            raise ValueError(
                "psum: the cotangent of its result differs across ranks (by up to "
                f"{err:.3g}; GPUAD_DISTRIBUTED_CHECK): the result, one value shared by all "
                "ranks, was used in rank-local work without pvary, so reverse mode would "
                "keep only this rank's contribution. Write pvary(psum(x)) (or pmean) where a "
                "shared value meets rank-local values.")
    return bind(pvary_p, g, comm=comm, xp=xp)


psum_p = _collective(
    "psum", lambda x, comm, xp: comm.allreduce(x), _psum_transpose,
    "sum over ranks, one value shared by all (MPI Allreduce); VJP: pvary (the identity)")
pvary_p = _collective(
    "pvary", lambda x, comm, xp: x,
    lambda g, comm, xp: bind(psum_p, g, comm=comm, xp=xp),
    "a shared value entering rank-local work: identity; VJP: psum",
    # No message: the value and its lanes each pass through pvary (no copy into one).
    jvp=lambda primals, tangents, **params: (
        bind(pvary_p, primals[0], **params),
        None if tangents[0] is None else bind(pvary_p, tangents[0], **params)))
all_gather_p = _collective(
    "all_gather", _ag_impl,
    lambda g, axis, comm, xp: bind(psum_scatter_p, g, axis=axis, comm=comm, xp=xp),
    "every rank's block concatenated along `axis` (MPI Allgather); VJP: psum_scatter",
    lane_axis=True)
psum_scatter_p = _collective(
    "psum_scatter", _ps_impl,
    lambda g, axis, comm, xp: bind(all_gather_p, g, axis=axis, comm=comm, xp=xp),
    "block `rank` along `axis` of the sum over ranks (MPI Reduce_scatter_block); VJP: "
    "all_gather", lane_axis=True)
bcast_p = _collective(
    "bcast", lambda x, root, comm, xp: comm.bcast(x, root),
    lambda g, root, comm, xp: bind(psum_to_p, g, root=root, comm=comm, xp=xp),
    "root's value on every rank (MPI Bcast); VJP: psum_to the root")
psum_to_p = _collective(
    "psum_to", lambda x, root, comm, xp: comm.reduce(x, root),
    lambda g, root, comm, xp: bind(bcast_p, g, root=root, comm=comm, xp=xp),
    "sum over ranks at root, zeros elsewhere (MPI Reduce): bcast's transpose")
shift_p = _collective(
    "shift", lambda x, dest, source, comm, xp: comm.sendrecv(x, dest, source),
    lambda g, dest, source, comm, xp: bind(shift_p, g, dest=source, source=dest, comm=comm,
                                           xp=xp),
    "send to rank `dest`, receive from rank `source` (MPI Sendrecv; None: zeros); VJP: "
    "the reverse shift")


# ------------------------------------------------------------------ the public collectives

def _apply(name, prim, x, comm, **params):
    t = transport(comm)
    _guard(name)

    def one(a):
        if a is None:                 # an empty subtree (as in JAX): nothing to send
            return None
        if not isinstance(a, Tracer) and not hasattr(a, "shape"):
            a = np.asarray(a)
        return bind(prim, a, comm=t, xp=xp_of(a), **params)
    return tree.tree_map(one, x)


def _rank_arg(what, r, t):
    if r is None:
        return None
    r = int(r)
    if not 0 <= r < t.size:
        raise ValueError(f"{what}={r} is not a rank of this communicator (size {t.size})")
    return r


def psum(x, comm=None):
    """Sum over ranks: every rank gets ``sum_r x_r`` (one value shared by all ranks).

    ``x``: an array (or pytree of arrays) of the same shape and dtype on every rank; the
    result has that shape and dtype. JVP: the psum of the tangent (every rank's tangent
    summed, also where a rank's ``x`` is a constant). VJP: the identity (the cotangent of
    a shared value is itself shared: JAX shard_map's convention), so a shared parameter
    used in rank-local work needs :func:`pvary` (or ``spmd(shared=...)``) to collect the
    sum of its gradients.

    Example::

        >>> gpuad.distributed.psum(np.array([1.0, 2.0]))   # one process: x itself
        array([1., 2.])
    """
    return _apply("psum", psum_p, x, comm)


def pmean(x, comm=None):
    """Mean over ranks: ``psum(x) / size``; derivatives as :func:`psum`'s, scaled.

    Example::

        >>> gpuad.distributed.pmean(np.array(3.0))
        array(3.)
    """
    n = transport(comm).size
    return tree.tree_map(lambda s: s / n if n > 1 and s is not None else s, psum(x, comm))


def pvary(x, comm=None):
    """A shared value (the same on every rank) entering rank-local work: ``x`` itself.

    JVP: the identity. VJP: the psum of the cotangents, so that a shared parameter ``w``
    in ``psum(local_loss(pvary(w), data_r))`` gets the gradient of the whole sum on every
    rank. Without it ``w`` gets only this rank's share (the trap of these conventions;
    :func:`spmd` with ``shared=`` inserts pvary for you).

    Example::

        >>> gpuad.distributed.pvary(np.array(2.0))
        array(2.)
    """
    return _apply("pvary", pvary_p, x, comm)


def _axis(x, axis):
    nd = len(shape(x))
    if not -nd <= axis < nd:
        raise ValueError(f"axis {axis} is out of range for an array of {nd} dimensions")
    return axis % nd


def all_gather(x, axis=0, comm=None):
    """Every rank's ``x`` concatenated along ``axis`` in rank order, on every rank.

    Shapes: ``x`` is ``s`` on every rank (the same on all), the result ``s`` with
    ``s[axis] * size``. VJP: :func:`psum_scatter` (rank r gets block r of the sum of the
    cotangents); JVP: the all_gather of the tangent, in the same message as the value.

    Example::

        >>> gpuad.distributed.all_gather(np.array([1.0, 2.0]))
        array([1., 2.])
    """
    return tree.tree_map(lambda a: None if a is None else _apply(
        "all_gather", all_gather_p, a, comm, axis=_axis(a, axis)), x)


def psum_scatter(x, axis=0, comm=None):
    """Block ``rank`` along ``axis`` of the sum over ranks of ``x``.

    ``x`` has ``size * n`` entries along ``axis`` (the same shape on every rank; else
    ValueError); the result has n. It is :func:`all_gather`'s transpose and vice versa.

    Example::

        >>> gpuad.distributed.psum_scatter(np.arange(3.0))
        array([0., 1., 2.])
    """
    return tree.tree_map(lambda a: None if a is None else _apply(
        "psum_scatter", psum_scatter_p, a, comm, axis=_axis(a, axis)), x)


def bcast(x, root=0, comm=None):
    """``root``'s ``x`` on every rank (``x`` has the same shape and dtype on every rank;
    the others' values are ignored). VJP: the sum of every rank's cotangent delivered to
    ``root``, zeros elsewhere (MPI Reduce).

    Example::

        >>> gpuad.distributed.bcast(np.array([5.0]), root=0)
        array([5.])
    """
    t = transport(comm)
    return _apply("bcast", bcast_p, x, t, root=_rank_arg("root", root, t))


def shift(x, dest, source, comm=None):
    """Send ``x`` to rank ``dest`` and return what rank ``source`` sends (MPI Sendrecv).

    ``dest``/``source``: a rank, or None for no partner (nothing sent; zeros received).
    The pattern must be consistent (if rank a sends to b, b receives from a) and ``x`` has
    the same shape and dtype on the partners. Under a transform the received value carries
    the sender's tangent even where this rank's ``x`` is a constant. VJP: the shift with
    ``dest`` and ``source`` swapped (cotangents go back to where the values came from).

    Example::

        >>> r, n = gpuad.distributed.rank(), gpuad.distributed.size()
        >>> gpuad.distributed.shift(np.array([1.0]), dest=(r + 1) % n, source=(r - 1) % n)
        array([1.])
    """
    t = transport(comm)
    return _apply("shift", shift_p, x, t, dest=_rank_arg("dest", dest, t),
                  source=_rank_arg("source", source, t))


def halo(u, width, axis=0, periodic=False, comm=None):
    """``u`` extended by ``width`` ghost cells on each side along ``axis``, taken from the
    neighbouring ranks (rank r's left neighbour is r - 1): the left ghosts are the left
    neighbour's last ``width`` cells, the right ghosts the right neighbour's first. At the
    domain ends the ghosts are zeros, unless ``periodic`` (then the ranks form a ring).

    Shapes: ``u`` has ``m_r >= width`` cells along ``axis`` (m_r may differ by rank; the
    other axes may not); the result has ``m_r + 2 width``. Two :func:`shift`s, so
    differentiable in every mode; the VJP adds the ghost cells' cotangents onto the
    owners' edge cells.

    Example::

        >>> gpuad.distributed.halo(np.array([1.0, 2.0, 3.0]), 1)      # one process
        array([0., 1., 2., 3., 0.])
    """
    t = transport(comm)
    width = int(width)
    ax = _axis(u, axis)
    m = shape(u)[ax]
    if width < 0 or width > m:
        raise ValueError(f"halo: width {width} must lie in [0, {m}] (this rank's cells along "
                         f"axis {ax}); use fewer ranks or a narrower halo")
    if width == 0:
        return u
    r, n = t.rank, t.size
    left = r - 1 if r > 0 else (n - 1 if periodic else None)
    right = r + 1 if r < n - 1 else (0 if periodic else None)
    pre = (slice(None),) * ax
    lo = getitem(u, (), pre + (slice(0, width),))
    hi = getitem(u, (), pre + (slice(m - width, m),))
    from_left = shift(hi, dest=right, source=left, comm=t)
    from_right = shift(lo, dest=left, source=right, comm=t)
    return concatenate([from_left, u, from_right], ax)
