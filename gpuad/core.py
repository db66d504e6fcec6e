"""The engine: primitives, traces (forward tangents, reverse tape) and the reverse sweep.

A primitive is applied with :func:`bind`. With no traced argument it runs its ``impl`` (a
kernel launch or a library call). Otherwise the innermost trace among the arguments
handles it: a :class:`JVPTrace` pushes tangents through the primitive's ``jvp`` rule, a
:class:`VJPTrace` records a node on its tape. Rules are written with :func:`bind` again,
so every transform composes with every other, to any depth.

Tangents carry a leading *lane* axis: a tangent of ``x`` has shape ``(L,) + x.shape``,
one lane per direction pushed through the same sweep (L = 1 for ``jvp``, K for a batched
HVP, ``x.size`` for ``jacfwd``). Cotangents have the shape of their primal.
"""
from __future__ import annotations

import itertools
import threading

import numpy as np

from .runtime import profile as _profile


class Primitive:
    """One entry of the registry.

    impl(*args, acc=None, **params)
        Computes on plain arrays. ``acc`` (optional support) is an array the result may be
        added into in place; an impl that did so returns ``acc`` itself.
    jvp(primals, tangents, **params) -> (out, tangent_out)
        ``tangents`` has None for a symbolic zero; tangents carry the lane axis.
    vjp(g, ins, out, need, acc, **params) -> one cotangent (or None) per input
        ``ins``/``out`` are what ``saves`` keeps; ``need[i]`` says whether input i wants one;
        ``acc[i]`` is an engine-owned cotangent buffer the rule may accumulate into.
    decompose(*args, **params)
        The same computation written with other primitives. A primitive without a rule for
        some trace runs its decomposition there, so a fused kernel needs no rules of its own.
    max_order
        None, or how many nested differentiating transforms the rules support (a custom
        kernel without second-order rules has 1): deeper nesting is refused when the
        primitive is traced, before any sweep runs (:func:`check_order`).
    """

    __slots__ = ("name", "impl", "jvp", "vjp", "decompose", "saves", "multiple_results",
                 "linear", "doc", "max_order", "fast_vjp")

    def __init__(self, name, impl, *, jvp=None, vjp=None, decompose=None, saves="ins",
                 multiple_results=False, linear=False, doc="", max_order=None):
        self.name = name
        self.impl = impl
        self.jvp = jvp
        self.vjp = vjp
        self.decompose = decompose
        self.saves = saves            # "ins", "out", "both" or "none"
        self.multiple_results = multiple_results
        self.linear = linear
        self.doc = doc
        self.max_order = max_order
        # Optional: fast_vjp(g, ins, need, acc) -> cotangents in fresh (or acc) buffers, or
        # None to use ``vjp``. The same kernel launch as ``vjp`` for the case where every
        # operand is a plain host array that needs no reshaping: the reverse sweep of a
        # long chain of small operations costs its layers, not its arithmetic.
        self.fast_vjp = None

    def __repr__(self):
        return f"<primitive {self.name}>"

    def __call__(self, *args, **params):
        return bind(self, *args, **params)


REGISTRY: dict[str, Primitive] = {}


def register(prim: Primitive) -> Primitive:
    if prim.name in REGISTRY:
        raise ValueError(f"primitive {prim.name!r} registered twice")
    REGISTRY[prim.name] = prim
    return prim


# ------------------------------------------------------------------ traces

class _Ctx(threading.local):
    def __init__(self):
        self.active: list = []   # traces currently open in this thread (innermost last)
        # Argument rewriters of checkpoint segments being run (outermost first): they swap
        # the tracers a segment closed over for its own inputs (gpuad/checkpoint.py).
        self.rewrite: list = []


_ctx = _Ctx()
_levels = itertools.count(1)


class Trace:
    """A transform in progress. Levels grow with creation, so an inner trace is higher."""

    def __init__(self):
        self.level = next(_levels)
        self.done = False

    def __enter__(self):
        _ctx.active.append(self)
        return self

    def __exit__(self, *exc):
        _ctx.active.remove(self)
        self.done = True
        return False


class Tracer:
    """A value being traced. Behaves like an array (operators and methods are attached by
    gpuad/numpy/_methods.py)."""
    __slots__ = ("_trace",)
    __array_priority__ = 1000

    @property
    def value(self):
        raise NotImplementedError

    @property
    def shape(self):
        return shape(self.value)

    @property
    def dtype(self):
        return dtype(self.value)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d traced array")
        return self.shape[0]


def full_lower(x):
    """The plain array under any number of tracer layers (constants of every trace)."""
    while isinstance(x, Tracer):
        x = x.value
    return x


def bind(prim: Primitive, *args, acc=None, **params):
    """Apply ``prim`` to ``args``: on plain arrays run it, else hand it to the innermost trace."""
    if _ctx.rewrite:
        for rw in _ctx.rewrite:
            args = rw(args)
    top = None
    for a in args:
        if isinstance(a, Tracer):
            t = a._trace
            if t.done:
                raise RuntimeError(
                    f"a traced value escaped its transform and reached {prim.name!r}: "
                    "return it from the transformed function instead of storing it")
            if top is None or t.level > top.level:
                top = t
    if top is None:
        if acc is not None:
            return prim.impl(*args, acc=acc, **params)
        return prim.impl(*args, **params)
    return top.process(prim, args, params)


def check_order(prim, args):
    """Refuse ``prim`` when more differentiating traces reach it than its rules support.

    Each distinct trace among the arguments' tracer layers will differentiate ``prim``
    (or its rules) once, so their number is the derivative order asked for. Raised while
    tracing, before any reverse sweep runs."""
    traces = set()
    for a in args:
        while isinstance(a, Tracer):
            traces.add(id(a._trace))
            a = a.value
    if len(traces) > prim.max_order:
        why = getattr(prim, "missing", "")
        raise NotImplementedError(
            f"primitive {prim.name!r} is differentiated to order {len(traces)} here (nested "
            f"transforms such as hvp, hessian or grad of grad), but its derivative rules "
            f"reach only order {prim.max_order}" + (f": {why}" if why else ""))


# ------------------------------------------------------------------ forward mode

class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent        # None (symbolic zero) or shape (L,) + primal.shape

    @property
    def value(self):
        return self.primal


class JVPTrace(Trace):
    """Forward mode: each primitive's hand-written JVP rule pushes ``lanes`` tangents."""

    def __init__(self, lanes: int):
        super().__init__()
        self.lanes = lanes

    def process(self, prim, args, params):
        primals, tangents = [], []
        for a in args:
            if isinstance(a, JVPTracer) and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                primals.append(a)
                tangents.append(None)
        if all(t is None for t in tangents):
            return bind(prim, *primals, **params)
        if prim.max_order is not None:
            check_order(prim, args)
        if prim.jvp is None:
            if prim.decompose is None:
                raise NotImplementedError(f"primitive {prim.name!r} has no JVP rule")
            return prim.decompose(*args, **params)
        out, tout = prim.jvp(primals, tangents, **params)
        if prim.multiple_results:
            return [self._wrap(o, t) for o, t in zip(out, tout)]
        return self._wrap(out, tout)

    def _wrap(self, out, tout):
        return out if tout is None else JVPTracer(self, out, tout)


# ------------------------------------------------------------------ reverse mode

class Node:
    """One primitive application on the tape (a Wengert-list entry)."""
    __slots__ = ("prim", "params", "parents", "ins", "out", "nout", "need")

    def __init__(self, prim, params, parents, need, ins, out, nout):
        self.prim = prim
        self.params = params
        self.parents = parents        # per input: a key of the tape, or None (a constant)
        self.need = need              # per input: does it want a cotangent (a parent)?
        self.ins = ins                # saved inputs (or None), per prim.saves
        self.out = out                # saved output(s) (or None)
        self.nout = nout


class Aval:
    """Shape and dtype of an input a rule needs to know but not to read."""
    __slots__ = ("shape", "dtype")

    def __init__(self, shape_, dtype_):
        self.shape = tuple(shape_)
        self.dtype = dtype_


class VJPTracer(Tracer):
    __slots__ = ("val", "key")

    def __init__(self, trace, val, key):
        self._trace = trace
        self.val = val
        self.key = key                # (node index, output index); node -1 = the inputs

    @property
    def value(self):
        return self.val


class VJPTrace(Trace):
    """Reverse mode: the forward pass appends nodes; :meth:`backward` sweeps them."""

    def __init__(self):
        super().__init__()
        self.tape: list[Node] = []
        self.n_inputs = 0

    def new_input(self, val):
        key = (-1, self.n_inputs)
        self.n_inputs += 1
        return VJPTracer(self, val, key)

    def process(self, prim, args, params):
        vals, parents, need = [], [], []
        traced = inner = False
        for a in args:
            if type(a) is VJPTracer and a._trace is self:
                parents.append(a.key)
                need.append(True)
                a = a.val
                traced = True
            else:
                parents.append(None)
                need.append(False)
            if isinstance(a, Tracer):
                inner = True
            vals.append(a)
        if not traced:
            return bind(prim, *vals, **params)
        if prim.max_order is not None:
            check_order(prim, args)
        if prim.vjp is None:
            if prim.decompose is None:
                raise NotImplementedError(f"primitive {prim.name!r} has no VJP rule")
            return prim.decompose(*args, **params)
        # With no tracer of another trace left, bind would run impl: call it directly.
        out = bind(prim, *vals, **params) if inner or _ctx.rewrite else prim.impl(*vals, **params)
        tape = self.tape
        idx = len(tape)
        s = prim.saves
        tape.append(Node(prim, params, tuple(parents), tuple(need),
                         tuple(vals) if s == "ins" or s == "both" else
                         tuple(Aval(shape(v), dtype(v)) for v in vals),
                         out if s == "out" or s == "both" else None,
                         len(out) if prim.multiple_results else 1))
        if _profile._state.profiles:
            hold(_saved(self.tape[-1]))
            report_held()
        if prim.multiple_results:
            return [VJPTracer(self, o, (idx, j)) for j, o in enumerate(out)]
        return VJPTracer(self, out, (idx, 0))

    def backward(self, outputs, cts, free=True):
        """Cotangents of the inputs, given cotangents of ``outputs`` (tracers of this trace).

        The sweep walks the tape backwards once. With ``free``, each node's saved values are
        dropped right after its rule ran (a tape swept that way cannot be swept again);
        cotangents are summed into engine-owned buffers in place (the fused VJP kernels add
        into them); a node whose outputs got no cotangent is skipped. Under a profile, the
        bytes held (saved values plus live cotangents) are reported after every node.
        """
        acc: dict = {}                # key -> [cotangent, owned]
        for o, g in zip(outputs, cts):
            if g is not None:
                _accumulate(acc, o.key, g, owned=False)
        track = bool(_profile._state.profiles)
        if track:
            _held.sweeps.append(acc)  # live cotangents count as held bytes
        try:
            with _profile.phase("reverse"):
                self._sweep(acc, free, track)
        finally:
            if track:
                _held.sweeps.pop()    # sweeps nest: ours is the last
        if free:
            self.tape = []
        return [acc.get((-1, i), (None,))[0] for i in range(self.n_inputs)]

    def _sweep(self, acc, free, track):
        fresh = _base().fresh
        fresh.depth += 1
        try:
            self._sweep_nodes(acc, free, track, fresh.bufs)
        finally:
            fresh.depth -= 1
            fresh.bufs.clear()

    def _sweep_nodes(self, acc, free, track, fresh_bufs):
        pop, get = acc.pop, acc.get
        tape = self.tape
        for idx in range(len(tape) - 1, -1, -1):
            node = tape[idx]
            prim = node.prim
            if not prim.multiple_results:
                e = pop((idx, 0), None)
                if e is None:
                    if free:
                        _free(node)
                    continue
                gs = (e,)
                g = e[0]
            else:
                gs = [pop((idx, j), None) for j in range(node.nout)]
                if all(g_ is None for g_ in gs):
                    if free:
                        _free(node)
                    continue
                g = [g_[0] if g_ else None for g_ in gs]
            parents = node.parents
            # The buffer each input's cotangent accumulates in, when the engine owns it. A
            # value used twice by one node (x * x) offers its buffer once: two outputs of one
            # kernel must not alias.
            bufs = []
            for i, p in enumerate(parents):
                entry = None if p is None or (i and p in parents[:i]) else get(p)
                bufs.append(entry[0] if entry is not None and entry[1] else None)
            fast = prim.fast_vjp
            gxs = fast(g, node.ins, node.need, bufs) if fast is not None and not track else None
            fresh = gxs is not None       # new kernel outputs only this sweep holds
            if not fresh:
                gxs = prim.vjp(g, node.ins, node.out, node.need, bufs, **node.params)
            for p, gx, buf in zip(parents, gxs, bufs):
                if p is None or gx is None or gx is buf:
                    continue              # (a kernel that added into buf is done already)
                _accumulate(acc, p, gx, owned=True, fresh=fresh)
            if fresh_bufs:
                fresh_bufs.clear()        # this node's unclaimed buffers: no longer fresh
            if track:                     # the peak: saved values, g and gx all live
                report_held([g_[0] for g_ in gs if g_])
            if free:
                _free(node)               # last use of this node's saved values


def _base(_m=[]):
    # gpuad.primitives.base imports this module: fetched once, on first use.
    if not _m:
        from .primitives import base
        _m.append(base)
    return _m[0]


def _accumulate(acc, key, g, owned, fresh=False):
    """Add cotangent ``g`` to ``acc[key]``. ``owned``: ``g`` may become an engine-owned
    buffer if no one else holds it; ``fresh``: ``g`` is known to be such a buffer (made by
    a fast VJP for this sweep), so the registry need not be asked."""
    entry = acc.get(key)
    if entry is None:
        # A cotangent handed over by a rule may alias something else (a view of g, the
        # user's array, the same array given to two inputs): only a kernel output that no
        # one else has claimed is written into later.
        acc[key] = [g, owned and (fresh or not isinstance(g, Tracer) and _base().claim(g))]
        return
    base = _base()
    cur, cur_owned = entry
    if cur_owned and not isinstance(g, Tracer) and not isinstance(cur, Tracer):
        base.add_into(cur, g)
    else:
        entry[0] = base.add_any(cur, g)
        entry[1] = not isinstance(entry[0], Tracer) and base.claim(entry[0])


# ------------------------------------------------------------------ bytes the engine holds
# What a profile reports as peak bytes: on the CPU the engine's own count of the buffers it
# keeps alive (values saved on tapes, checkpoint snapshots, cotangents of sweeps in
# progress), each buffer once however many nodes share it; a view counts as its base.
# Counting runs only while a profile is open.

class _Held(threading.local):
    def __init__(self):
        self.sweeps: list = []   # cotangent dicts of the sweeps in progress
        self.reset(None)

    def reset(self, owner):
        self.owner = owner    # the profile these counts belong to
        self.bufs: dict = {}  # id(buffer) -> [holders, nbytes, buffer]
        self.total = 0
        self.cupy = False


_held = _Held()


def _buffer(x):
    """The array owning ``x``'s memory, or None for what holds none (scalars, Avals)."""
    x = full_lower(x)
    if not hasattr(x, "nbytes") or not hasattr(x, "base"):
        return None
    while getattr(x, "base", None) is not None and hasattr(x.base, "nbytes"):
        x = x.base
    return x


def hold(values) -> None:
    """Count ``values`` (arrays or tracers) as held by the engine until :func:`release`."""
    profs = _profile._state.profiles
    if not profs:
        return
    if _held.owner is not profs[0]:
        # Counts begun under an earlier profile are stale (their holders may be gone).
        _held.reset(profs[0])
    for v in values:
        b = _buffer(v)
        if b is None:
            continue
        e = _held.bufs.get(id(b))
        if e is None:
            _held.bufs[id(b)] = [1, b.nbytes, b]
            _held.total += b.nbytes
            if not isinstance(b, np.ndarray) and type(b).__module__.startswith("cupy"):
                _held.cupy = True
        else:
            e[0] += 1


def release(values) -> None:
    """Undo :func:`hold` for ``values``."""
    if not _held.bufs:
        return
    if not _profile._state.profiles:
        _held.reset(None)             # no one reads the counts any more
        return
    for v in values:
        b = _buffer(v)
        e = _held.bufs.get(id(b)) if b is not None else None
        if e is not None and e[2] is b:
            e[0] -= 1
            if e[0] == 0:
                del _held.bufs[id(b)]
                _held.total -= e[1]


def report_held(extra=()) -> None:
    """Report the bytes held now (plus ``extra`` live values) to the open profiles."""
    if not _profile._state.profiles:
        return
    if _held.cupy:
        # On a GPU, report what CuPy's memory pool has handed out: MemoryPool.used_bytes()
        # is documented as the bytes of all live arrays allocated from the pool, so it
        # includes the user's arrays too. Written from CuPy's documentation; this project's
        # machines have no GPU, so this line is not exercised by the tests.
        import cupy
        _profile.record_bytes(int(cupy.get_default_memory_pool().used_bytes()))
        return
    seen = set()
    live = 0
    for v in itertools.chain(extra, (e[0] for acc in _held.sweeps for e in acc.values())):
        b = _buffer(v)
        if b is not None and id(b) not in _held.bufs and id(b) not in seen:
            seen.add(id(b))
            live += b.nbytes
    _profile.record_bytes(_held.total + live)


def _saved(node):
    outs = node.out if node.prim.multiple_results else (node.out,)
    return tuple(node.ins or ()) + tuple(outs or ())


def _free(node):
    if _held.bufs:
        release(_saved(node))
    node.ins = node.out = None


# ------------------------------------------------------------------ helpers for rules

def shape(x):
    return x.shape if hasattr(x, "shape") else np.shape(x)


def dtype(x):
    return x.dtype if hasattr(x, "dtype") else np.result_type(x)

