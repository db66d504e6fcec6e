"""The engine: primitives and traces (forward mode: gpuad/forward.py, reverse mode:
gpuad/tape.py).

A primitive is applied with :func:`bind`. Outside every transform it runs its ``impl`` (a
kernel launch or a library call). Inside, the *current* trace (the innermost transform in
progress in this thread) handles it: a :class:`JVPTrace` pushes tangents through the
primitive's ``jvp`` rule, a :class:`VJPTrace` records a node on its tape. A trace computes
through its rules one level down, with its parent (the trace that was current when it
began) current, so transforms compose to any depth. A value of an enclosing transform
that reaches an inner trace is a constant there and is handed down with the rest.

Tangents carry a leading *lane* axis: a tangent of ``x`` has shape ``(L,) + x.shape``,
one lane per direction pushed through the same sweep (L = 1 for ``jvp``, K for a batched
HVP, ``x.size`` for ``jacfwd``). Cotangents have the shape of their primal.
"""
from __future__ import annotations

import inspect
import threading

import numpy as np


class Primitive:
    """One entry of the registry.

    impl(*args, acc=None, **params)
        Computes on plain arrays. ``acc`` (optional support) is an array the result may be
        added into in place; an impl that did so returns ``acc`` itself.
    jvp(primals, tangents, [acc,] **params) -> (out, tangent_out)
        ``tangents`` has None for a symbolic zero; tangents carry the lane axis. A rule that
        names ``acc`` may be offered, per output, a (value, lanes) pair of arrays owned by a
        reverse sweep (a dual cotangent buffer) to add its result into; it returns, per
        output, either that pair's arrays themselves or new arrays no one else holds (see
        :meth:`JVPTrace._fused`).
    vjp(g, ins, out, [need, [acc,]] **params) -> one cotangent (or None) per input
        ``ins``/``out`` are what ``saves`` keeps (``ins``: Avals, shapes and dtypes only,
        when the inputs are not saved). A rule that names ``need`` gets, per input, whether
        it wants a cotangent; one that also names ``acc`` gets, per input, an engine-owned
        cotangent buffer (or None) it may add into, and promises in return that every
        cotangent it returns is either that buffer or a new array no one else holds (the
        sweep then adds later contributions into it in place).
    decompose(*args, **params)
        The same computation written with other primitives. A primitive without a rule for
        some trace runs its decomposition there, so a fused kernel needs no rules of its own.
    linear
        True for a primitive linear in its differentiated inputs (its rules come from
        ``primitives.base.deflinear``); Taylor mode applies it coefficient by coefficient.
    max_order, missing
        None, or how many nested differentiating transforms the rules support (a custom
        kernel without second-order rules has 1), and what a deeper use would need: deeper
        nesting is refused when the primitive is traced, before any sweep (:func:`check_order`).
    collective
        True for a communication every rank must take part in (gpuad.distributed): it is
        never skipped for a symbolic zero. Under a transform it is differentiated even where
        its inputs are constants on this rank (its JVP rule then gets zero tangent lanes),
        and its VJP rule runs even where its outputs got no cotangent (``g`` None: zeros).
    bilinear, vjp_lanes
        ``bilinear``: True for a primitive linear in each of its two operands (matmul): the
        cotangent of one operand reads only g and the other operand. ``vjp_lanes(t, ins,
        out, need, acc, **params)`` (optional, for such a one): the tangent lanes of its
        input cotangents from the lanes ``t`` of a dual cotangent g alone, per input lanes
        or None, or None for all where it declines (the sweep then runs ``vjp``). A reverse
        sweep under a forward trace whose caller keeps only the lanes of the input
        cotangents (:func:`gpuad.hvp`) calls it where the other operand has no lanes: the
        value's product is never made (``tape.dead_values``).
    acc_via_reshape
        True for a rule that takes ``acc`` and may add into a buffer of its operand's
        reshape's input (matmul's vector operand, reshaped to a column): where the reshaped
        value has no cotangent yet, the sweep offers that input's owned buffer, reshaped.
    doc
        One line for ``python -m gpuad primitives``.
    """

    __slots__ = ("name", "impl", "jvp", "jvp_acc", "vjp", "vjp_args", "decompose", "saves",
                 "saves_ins", "saves_out", "multiple_results", "linear", "max_order", "missing",
                 "collective", "acc_via_reshape", "bilinear", "vjp_lanes", "doc")

    def __init__(self, name, impl, *, jvp=None, vjp=None, decompose=None, saves="ins",
                 multiple_results=False, linear=False, max_order=None, missing="",
                 collective=False, acc_via_reshape=False, bilinear=False, vjp_lanes=None,
                 doc=""):
        self.name = name
        self.impl = impl
        self.jvp = jvp
        self.vjp = vjp
        self.decompose = decompose
        self.saves = saves            # "ins", "out", "both" or "none"
        self.multiple_results = multiple_results
        self.linear = linear
        self.max_order = max_order
        self.missing = missing
        self.collective = collective
        self.acc_via_reshape = acc_via_reshape
        self.bilinear = bilinear
        self.vjp_lanes = vjp_lanes
        self.doc = doc

    def __setattr__(self, name, value):
        if name == "jvp":
            object.__setattr__(self, "jvp_acc", value is not None
                               and "acc" in inspect.signature(value).parameters)
        if name == "vjp":   # how many of the engine's extra arguments (need, acc) it asks for
            names = list(inspect.signature(value).parameters)[3:5] if value is not None else []
            object.__setattr__(self, "vjp_args", 2 if names == ["need", "acc"] else
                               1 if names[:1] == ["need"] else 0)
        if name == "saves":   # (read by the tape for every node: two flags, not a string)
            object.__setattr__(self, "saves_ins", value in ("ins", "both"))
            object.__setattr__(self, "saves_out", value in ("out", "both"))
        object.__setattr__(self, name, value)

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
    current = None            # the innermost trace in progress in this thread


_ctx = _Ctx()


def current():
    """The innermost transform in progress in this thread (None outside every transform)."""
    return _ctx.current


class Trace:
    """A transform in progress. ``parent`` is the trace it computes on (current when it
    began, unless a subclass says otherwise)."""

    def __init__(self):
        self.parent = self._outer = None
        self.done = False

    def __enter__(self):
        self.parent = self._outer = _ctx.current
        _ctx.current = self
        self.done = False     # (in progress again: a Closure runs each loop advance)
        return self

    def __exit__(self, *exc):
        _ctx.current = self._outer
        self.done = True
        return False

    def process_acc(self, prim, args, params, acc):
        """``process`` for a bind that offers ``acc`` (buffers to add the result into, see
        :func:`bind`); a trace that cannot use them computes a fresh result."""
        return self.process(prim, args, params)

    def bind_below(self, prim, args, params):
        """``prim`` applied one level down: with this trace's parent current."""
        ctx = _ctx
        old, ctx.current = ctx.current, self.parent
        try:
            if self.parent is None:
                return bind(prim, *args, **params)
            return self.parent.process(prim, args, params)
        finally:
            ctx.current = old

    def below(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` run one level down (its binds reach this trace's parent)."""
        ctx = _ctx
        old, ctx.current = ctx.current, self.parent
        try:
            return fn(*args, **kwargs)
        finally:
            ctx.current = old


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


class EscapedTracer(RuntimeError):
    """A traced value used after its transform finished (stored, or read by a rule that
    runs in the sweep): a distinct class so that such a rule can name itself."""


def escaped(prim):
    return EscapedTracer(
        f"a traced value escaped its transform and reached {prim.name!r}: return it from "
        "the transformed function instead of storing it")


def bind(prim: Primitive, *args, acc=None, **params):
    """Apply ``prim`` to ``args``: on plain arrays run it, else hand it to the current trace."""
    t = _ctx.current
    if t is not None:
        if acc is not None:
            return t.process_acc(prim, args, params, acc)
        return t.process(prim, args, params)
    for a in args:
        if isinstance(a, Tracer):
            raise escaped(prim)
    if acc is not None:
        return prim.impl(*args, acc=acc, **params)
    return prim.impl(*args, **params)


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
        raise NotImplementedError(
            f"primitive {prim.name!r} is differentiated to order {len(traces)} here (nested "
            f"transforms such as hvp, hessian or grad of grad), but its derivative rules "
            f"reach only order {prim.max_order}" + (f": {prim.missing}" if prim.missing else ""))


def foreign(prim, a):
    """A tracer of another trace met by the current one: only enclosing ones may appear,
    or one of a finished trace that a trace below substitutes or reads as its value (a
    value a checkpointed segment or loop step closes over, met in its rerun by a
    transform inside it)."""
    if a._trace.done and not _substituted(a):
        raise escaped(prim)


def _substituted(a):
    t = _ctx.current
    while t is not None:
        if getattr(t, "target", None) is a._trace:    # (read as its value there)
            return True
        for m in getattr(t, "subs", ()):
            hit = m.get(id(a))
            if hit is not None and hit[0] is a:
                return True
        t = t.parent
    return False


# ------------------------------------------------------------------ one schedule on every rank

_agree = None      # gpuad.distributed.init installs (what, value, same) -> the agreed value


def agree(what: str, value: int, same: bool = False) -> int:
    """A schedule choice (a snapshot count, a chunk of lanes) as every rank will use it, so
    that all run the same sequence of collectives: ``value`` itself in one process; once
    gpuad.distributed is initialised, the minimum over ranks (``same``: it must be equal on
    every rank, else ValueError on every rank). Every rank must call it."""
    return value if _agree is None else _agree(what, value, same)


def set_agree(fn) -> None:
    """Install the agreement of :func:`agree` (gpuad.distributed.init); None removes it."""
    global _agree
    _agree = fn


# ------------------------------------------------------------------ helpers for rules

def shape(x):
    return x.shape if hasattr(x, "shape") else np.shape(x)


def dtype(x):
    return x.dtype if hasattr(x, "dtype") else np.result_type(x)
