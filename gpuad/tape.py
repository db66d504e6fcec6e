"""Reverse mode: the tape (a Wengert list of :class:`Node`), the reverse sweep and the
store in which it sums cotangents (:class:`Cotangents`)."""
from __future__ import annotations

import threading
from contextlib import nullcontext

import numpy as np

from .core import REGISTRY, Trace, Tracer, bind, check_order, foreign, shape, dtype
from .forward import JVPTrace, JVPTracer
from .runtime import launch as _launch
from .runtime import profile as _profile


class Node:
    """One primitive application on the tape (a Wengert-list entry)."""
    __slots__ = ("prim", "params", "parents", "ins", "out", "nout", "need", "collective",
                 "frozen")

    def __init__(self, prim, params, parents, need, ins, out, nout, collective=False):
        self.prim = prim
        self.frozen = None            # saved arrays this node made read-only (freeze())
        self.collective = collective  # communicates: its rule runs even without a cotangent
        self.params = params
        self.parents = parents        # per input: a key of the tape, or None (a constant)
        self.need = need              # per input: does it want a cotangent (a parent)?
        self.ins = ins                # what the VJP rule reads as its inputs (or Avals)
        self.out = out                # saved output(s) (or None)
        self.nout = nout

    def saved(self):
        outs = self.out if self.prim.multiple_results else (self.out,)
        return tuple(self.ins or ()) + tuple(outs or ())

    def free(self):
        """Drop the saved values: after the node's rule ran, nothing reads them again."""
        if _profile.ON:
            _profile.release(self.saved())
        self.thaw()
        self.ins = self.out = None

    def freeze(self, values=None):
        """Hold the NumPy arrays among its saved constant operands (not values of its own
        trace: a closed-over buffer, data), or among ``values`` (what its rule reads
        besides: a custom_vjp's residuals), read-only until the sweep has read them, so
        that `w[:] = 3` after `y = a * w` raises NumPy's error instead of changing the
        derivative silently (:func:`hold`). Every NumPy array, 0-d ones included (a 0-d
        constant written in place changed the gradient); CuPy arrays have no such flag. (The transform's own inputs: VJPTrace.freeze_inputs.)"""
        if values is None:
            if self.ins is None or isinstance(self.ins[0] if self.ins else None, Aval):
                return
            values = [v for v, own in zip(self.ins, self.need) if not own]
        for v in values:
            if type(v) is np.ndarray:    # 0-d included: np.array(2.0) is as writable
                held = hold(v)
                if held:
                    self.frozen = held if self.frozen is None else self.frozen + held
        if self.frozen is not None:
            # A tape dropped unswept (a recorded replay, an abandoned trace) must not leave
            # the caller's arrays read-only forever: a holding node releases when freed.
            self.__class__ = _HoldingNode

    def thaw(self):
        """Release what this node holds (its sweep ran, or its tape is dropped)."""
        if self.frozen is not None:
            release(self.frozen)
            self.frozen = None


class _HoldingNode(Node):
    """A :class:`Node` that holds arrays read-only (:meth:`Node.freeze`): it releases them
    when it is freed, whoever drops it. (A subclass, so nodes without holds pay nothing.)"""
    __slots__ = ()

    def __del__(self):
        if self.frozen is not None:
            release_when_freed(self.frozen)


# ------------------------------------------------------------------ arrays held read-only

_HOLDS: dict = {}         # id -> [array, holders]: arrays gpuad made read-only, and why
_PENDING: list = []       # views left read-only because their base was still held
_HOLD_LOCK = threading.RLock()
_LATER: list = []         # releases a finalizer met in the middle of an update (below)
_BUSY = [None]            # the thread updating _HOLDS now (inside the lock)


def _update(fn, *args):
    """``fn(*args)`` on the holds, under the lock. The garbage collector may run a
    finalizer (:func:`release_when_freed`) on this thread in the middle of it: that
    release waits in ``_LATER`` and is done here before the lock is let go."""
    me = threading.get_ident()
    with _HOLD_LOCK:
        _BUSY[0] = me
        try:
            out = fn(*args)
            while True:
                while _LATER:
                    _release(_LATER.pop())
                _BUSY[0] = None
                if not _LATER:            # (none arrived after the last look)
                    return out
                _BUSY[0] = me
        finally:
            _BUSY[0] = None


def hold(v) -> tuple:
    """One more holder (a node, a tape's inputs) of the NumPy array ``v`` and of its base
    array: the first holder makes each read-only (writes through ``v``, through its base
    and through views made later raise NumPy's error; views made earlier cannot be
    covered: the flag is per array object). An array read-only already (the caller's, a
    literal's) is not held. Returns what was held, for :func:`release`."""
    return _update(_hold, v)


def _hold(v) -> tuple:
    held = ()
    for a in ((v, v.base) if type(v.base) is np.ndarray else (v,)):
        e = _HOLDS.get(id(a))
        if e is not None:
            e[1] += 1
        elif a.flags.writeable:
            a.flags.writeable = False
            _HOLDS[id(a)] = [a, 1]
        else:
            continue
        held += (a,)
    return held


def release(arrays) -> None:
    """One holder fewer of each of ``arrays`` (what :func:`hold` returned): an array whose
    last holder goes is writable again (bases before their views)."""
    if arrays:
        _update(_release, arrays)


def release_when_freed(arrays) -> None:
    """:func:`release` for a finalizer (``__del__``): in the middle of this thread's own
    update it waits in ``_LATER`` (the update does it before letting go of the lock);
    another thread's update it waits for."""
    if _BUSY[0] == threading.get_ident():
        _LATER.append(arrays)
    else:
        release(arrays)


def _release(arrays) -> None:
    freed = False
    for a in sorted(arrays, key=lambda a: a.base is not None):
        e = _HOLDS.get(id(a))
        if e is None:
            continue
        e[1] -= 1
        if e[1] == 0:
            del _HOLDS[id(a)]
            _PENDING.append(a)
            freed = True
    if freed:           # a view stays read-only while its base is held elsewhere
        still = []
        for a in sorted(_PENDING, key=lambda a: a.base is not None):   # bases first
            try:
                a.flags.writeable = True
            except ValueError:
                still.append(a)
        _PENDING[:] = still     # (by identity: == on arrays compares elements)


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
        self.frozen_inputs = []       # freeze_inputs()

    def new_input(self, val):
        key = (-1, self.n_inputs)
        self.n_inputs += 1
        return VJPTracer(self, val, key)

    def process(self, prim, args, params):
        vals, parents, need = [], [], []
        traced = inner = data = False
        for a in args:                # (plain arrays tested first: the common case, per op)
            if type(a) is VJPTracer and a._trace is self:
                parents.append(a.key)
                need.append(True)
                a = a.val
                traced = True
                if type(a) is not np.ndarray and isinstance(a, Tracer):
                    inner = True
            else:
                parents.append(None)
                need.append(False)
                if type(a) is np.ndarray:
                    data = True       # an array constant (0-d too): freeze it once saved
                elif isinstance(a, Tracer):
                    foreign(prim, a)
                    inner = True
            vals.append(a)
        if not traced and not prim.collective:
            return self.bind_below(prim, vals, params)
        if prim.max_order is not None:
            check_order(prim, args)
        if prim.vjp is None:
            if prim.decompose is None:
                raise NotImplementedError(f"primitive {prim.name!r} has no VJP rule")
            return prim.decompose(*args, **params)    # its primitives come back here
        # With no tracer left one level down, bind there would run impl: call it directly
        # (not a collective: an enclosing forward trace must see it even on constants).
        out = (self.bind_below(prim, vals, params) if inner or prim.collective
               else prim.impl(*vals, **params) if params else prim.impl(*vals))
        res = self._push(prim, params, parents, need, vals, out, None)
        if data:
            self.tape[-1].freeze()
        return res

    def record(self, prim, args, params, out, ins=None, collective=False):
        """Append the node of ``prim`` applied to ``args`` whose output(s) ``out`` (values
        one level down) were computed already; returns the output(s) as this trace's.
        ``ins`` replaces what ``prim.saves`` would keep of the inputs (the residuals a
        construct computed in its own forward pass, e.g. checkpoint_loop's snapshots).
        ``collective``: the construct communicated (gpuad.distributed), so the sweep runs
        its rule on every rank, with or without a cotangent, like a collective primitive's."""
        own = [type(a) is VJPTracer and a._trace is self for a in args]
        res = self._push(prim, params, [a.key if o else None for a, o in zip(args, own)],
                         own, [a.val if o else a for a, o in zip(args, own)], out, ins,
                         collective)
        if ins is None:
            self.tape[-1].freeze()
        return res

    def _push(self, prim, params, parents, need, vals, out, ins, collective=False):
        if ins is None:
            ins = vals if prim.saves_ins else [Aval(shape(v), dtype(v)) for v in vals]
        tape = self.tape
        idx = len(tape)
        node = Node(prim, params, parents, need, ins, out if prim.saves_out else None,
                    len(out) if prim.multiple_results else 1, prim.collective or collective)
        tape.append(node)
        if _profile.ON:
            _profile.hold(node.saved())
            _profile.report()
        if prim.multiple_results:
            return [VJPTracer(self, o, (idx, j)) for j, o in enumerate(out)]
        return VJPTracer(self, out, (idx, 0))

    def backward(self, outputs, cts, free=True, lanes_only=False):
        """Cotangents of the inputs, given cotangents of ``outputs`` (tracers of this trace).

        The sweep walks the tape backwards once, with the caller's trace current (the
        rules compute on the values one level down). A node whose outputs got no cotangent
        is skipped; with ``free`` each node's saved values are dropped right after its
        rule ran (a tape swept that way cannot be swept again); cotangents are summed in
        place into buffers the sweep itself made (:class:`Cotangents`).

        ``lanes_only``: under a forward trace (forward-over-reverse), the caller keeps only
        the tangent lanes of the input cotangents (an HVP drops the gradient itself): a
        node whose cotangent value nothing needs (:func:`dead_values`) computes its lanes
        alone where its primitive can (``vjp_lanes``). A value left unmade is NaN, and so
        is every sum it enters: never a partial sum passed off as the gradient. Only where
        that forward trace is the outermost transform: under another one (grad of an
        HVP) a rule that stacks a NaN value with lanes in one product (``[g; tg] @ a``)
        would be differentiated there too, and 0 * NaN is NaN.
        """
        lanes_of = (self.parent if lanes_only and type(self.parent) is JVPTrace
                    and self.parent.parent is None else None)
        dead = dead_values(self.tape, self.n_inputs, lanes_of) if lanes_of else ()
        acc = Cotangents()
        for o, g in zip(outputs, cts):
            if g is not None:
                acc.add(o.key, g, owned=False)
        observe = _profile.ON and _profile.active()
        tape, entries, add = self.tape, acc.entries, acc.add
        with _profile.phase("reverse"), (_profile.sweep(acc) if observe else nullcontext()):
            for idx in range(len(tape) - 1, -1, -1):
                node = tape[idx]
                prim = node.prim
                # The node's cotangent(s), taken out of the store.
                if prim.multiple_results:
                    gs = [entries.pop((idx, j), None) for j in range(node.nout)]
                    g = (None if all(e is None for e in gs) else
                         [None if e is None else e[0] for e in gs])
                else:
                    e = entries.pop((idx, 0), None)
                    g = None if e is None else e[0]
                if g is not None or node.collective:
                    # Per input, the buffer its rule may add into: the sweep's own (owned)
                    # cotangent of that parent. A value used twice by one node (x * x)
                    # offers it once: two outputs of one kernel must not alias.
                    parents = node.parents
                    bufs = [None] * len(parents)
                    if g is not None:
                        for i, p in enumerate(parents):
                            if p is None:
                                continue
                            e = entries.get(p)
                            if e is None and prim.acc_via_reshape:
                                e = _reshaped_buffer(tape, entries, p)
                            if e is not None and e[1] and (i == 0 or p not in parents[:i]) \
                                    and _c_order(e[0]):
                                bufs[i] = e[0]
                    n, params = prim.vjp_args, node.params
                    if (dead and prim.vjp_lanes is not None and (idx, 0) in dead
                            and _plain_dual(g, lanes_of)
                            and (gxs := _lanes_alone(node, g, bufs)) is not None):
                        pass                  # (the lanes alone: no value was made)
                    elif n == 2:
                        gxs = (prim.vjp(g, node.ins, node.out, node.need, bufs, **params) if params
                               else prim.vjp(g, node.ins, node.out, node.need, bufs))
                    elif n == 1:
                        gxs = prim.vjp(g, node.ins, node.out, node.need, **params)
                    else:
                        gxs = prim.vjp(g, node.ins, node.out, **params)
                    # Add the input cotangents. A rule that takes ``acc`` made them for the
                    # sweep, which then owns them and may write into them later, unless
                    # one is returned twice or is a dual value the store cannot claim.
                    for i, p in enumerate(parents):
                        if p is None:
                            continue
                        try:
                            gx = gxs[i]
                        except (IndexError, TypeError):
                            raise _short_rule(prim, gxs, parents) from None
                        if gx is None or gx is bufs[i]:     # (bufs[i]: added into)
                            continue
                        owned = n == 2 and (i == 0 or not any(gx is o for o in gxs[:i])) and (
                            not isinstance(gx, Tracer) or _claim(gx))
                        if p in entries:
                            add(p, gx, owned)
                        else:
                            entries[p] = [gx, owned]
                    if observe:       # the peak: saved values, g and gx all live
                        _profile.report(g if prim.multiple_results else (g,))
                if free:              # last use of this node's saved values
                    if observe:
                        _profile.release(node.saved())
                    if node.frozen is not None:
                        node.thaw()
                    node.ins = node.out = None
        if free:
            self.tape = []
            self.thaw_inputs()
        return [acc.get((-1, i)) for i in range(self.n_inputs)]

    def thaw(self):
        """Make writable again every array the tape froze (it is dropped unswept)."""
        for node in self.tape:
            node.thaw()
        self.thaw_inputs()

    def freeze_inputs(self, leaves):
        """Hold the transform's own NumPy input arrays read-only until the sweep has run
        (or the tape is dropped): the caller may not change them in between."""
        for x in leaves:
            if type(x) is np.ndarray:
                self.frozen_inputs.extend(hold(x))

    def thaw_inputs(self):
        release(self.frozen_inputs)
        self.frozen_inputs = []

    def __del__(self):                # dropped without a sweep: the inputs are free again
        if self.frozen_inputs:
            release_when_freed(self.frozen_inputs)


def dead_values(tape, n_inputs, trace) -> set:
    """The tape keys whose cotangent's value a sweep under the forward trace ``trace``
    never needs when its caller keeps only the lanes of the input cotangents: the inputs,
    and the outputs of every node whose traced inputs are all such keys and whose rule
    gives its input cotangents' lanes from g's lanes alone. That holds where nothing the
    rule reads has lanes of ``trace``: for a linear primitive none of its saved values, for
    a bilinear one the other operand of each differentiated one (its rule is then linear
    with constant coefficients, and a dual cotangent's lanes are the rule applied to g's
    lanes). Forward over the tape: a node's inputs come before it."""
    dead = {(-1, i) for i in range(n_inputs)}

    def lanes(v):
        return type(v) is JVPTracer and v._trace is trace
    for idx, node in enumerate(tape):
        parents = [p for p in node.parents if p is not None]
        if not parents or any(p not in dead for p in parents):
            continue
        prim = node.prim
        if prim.linear:
            alone = not any(lanes(v) for v in node.saved())
        elif prim.bilinear and node.ins is not None:
            alone = not any(lanes(node.ins[1 - i]) for i, w in enumerate(node.need) if w)
        else:
            alone = False
        if alone:
            dead.update((idx, j) for j in range(node.nout))
    return dead


def _lanes_alone(node, g, bufs):
    """A node's input cotangents from the lanes of its dual cotangent ``g`` alone (its
    primitive's ``vjp_lanes``), each a dual value whose value is NaN (nobody reads it,
    :func:`dead_values`; NaN, so that a reader would show); None where the rule declines.
    A buffer the rule added into (the lanes of ``bufs[i]``) comes back as ``bufs[i]``, its
    value made NaN (it lacks this contribution's)."""
    trace = g._trace
    lane_bufs = [b.tangent if _plain_dual(b, trace) else None for b in bufs]
    ts = trace.below(node.prim.vjp_lanes, g.tangent, node.ins, node.out, node.need,
                     lane_bufs, **node.params)
    if ts is None:
        return None
    gxs = []
    for t, b, lb in zip(ts, bufs, lane_bufs):
        if t is None:
            gxs.append(None)
            continue
        if lb is not None and t is lb:
            b.primal.fill(np.nan)
            _launch.record("xp.fill", b.primal.size, (), (b.primal,))
            gxs.append(b)
            continue
        xp = _launch.launcher(t).xp
        v = JVPTracer(trace, xp.full(tuple(shape(t))[1:], np.nan, dtype=dtype(t)), t)
        _launch.record("xp.fill", v.primal.size, (), (v.primal,))
        v.fresh = True                # both arrays new: the sweep may own them
        gxs.append(v)
    return gxs


def _c_order(buf) -> bool:
    """Whether an owned buffer can be offered as ``acc``: the kernels that add into it walk
    it in C order. An owned buffer need not be C-contiguous (a matrix product's fresh lanes
    may be a transposed view, a sum of transposed cotangents keeps their layout); such a
    one is not offered, the rule makes a new cotangent and the store adds it in place."""
    if type(buf) is JVPTracer:
        return all(isinstance(a, Tracer) or a.flags.c_contiguous
                   for a in (buf.primal, buf.tangent) if a is not None)
    flags = getattr(buf, "flags", None)
    return flags is None or flags.c_contiguous


def _reshaped_buffer(tape, entries, p):
    """For tape key ``p`` the output of a reshape of x, with no cotangent yet: the sweep's
    owned buffer of x, reshaped as p (a view: what is added into it is added into x's), as
    a store entry; None where x has none, or a reshape of it would copy."""
    if p[0] < 0:                      # (an input of the transform: no node made it)
        return None
    node = tape[p[0]]
    q = node.parents[0] if node.prim is REGISTRY["reshape"] else None
    e = None if q is None else entries.get(q)
    if e is None or not e[1]:
        return None
    buf, new = e[0], tuple(node.params["shape"])
    if type(buf) is JVPTracer:
        v, t = buf.primal, buf.tangent
        if isinstance(v, Tracer) or isinstance(t, Tracer) or not (
                v.flags.c_contiguous and t.flags.c_contiguous):
            return None
        return [JVPTracer(buf._trace, v.reshape(new), t.reshape(t.shape[:1] + new)), True]
    if isinstance(buf, Tracer) or not buf.flags.c_contiguous:
        return None
    return [buf.reshape(new), True]


def _short_rule(prim, gxs, parents):
    """The error for a VJP rule that gave no cotangent for a traced input (its contribution
    would be lost: the rule contract asks one cotangent, or None, per input)."""
    what = (f"{len(gxs)} cotangent(s) for {len(parents)} inputs"
            if isinstance(gxs, (tuple, list)) else f"a {type(gxs).__name__}")
    return TypeError(
        f"the VJP rule of primitive {prim.name!r} returned {what}: it must return a tuple or "
        "list with one cotangent (or None) per input; a traced input left without one would "
        "lose its contribution to the derivative")


class Cotangents:
    """The cotangents of a sweep, by tape key, summed as they arrive.

    A cotangent handed over by a rule may alias something else (a view of g, the user's
    array, the same array given to two inputs), so it is written into only if the sweep
    owns it: a rule that takes ``acc`` made it for the sweep, or this store made it by
    adding two contributions. Owned buffers are offered to the fused kernels (``acc``),
    which add into them directly, so fan-out costs no extra pass.

    Under a forward trace (forward-over-reverse: HVPs) the cotangents are dual values, a
    value with K tangent lanes. The store owns one only if a rule that takes ``acc``
    returned it marked ``fresh`` (the forward trace marks what the fused dual kernels made:
    ``JVPTrace._fused``; the store claims the mark, once) or if it is its own sum of two
    dual values; it adds into those in place, value and lanes (:meth:`add_dual`), and
    offers them to the dual kernels as ``acc``.
    """
    __slots__ = ("entries",)

    def __init__(self):
        self.entries: dict = {}      # key -> [cotangent, owned]

    def get(self, key):
        e = self.entries.get(key)
        return None if e is None else e[0]

    def live(self):
        return (e[0] for e in self.entries.values())

    def add(self, key, g, owned):
        e = self.entries.get(key)
        if e is None:
            self.entries[key] = [g, owned]
        elif e[1] and not isinstance(g, Tracer) and not isinstance(e[0], Tracer):
            e[0] += g                 # in place: numpy.add / cupy.add with out=
            if _profile.ON:
                _profile.record_launch("xp.add", getattr(e[0], "size", 1),
                                       e[0].nbytes + getattr(g, "nbytes", 0), e[0].nbytes)
        elif e[1] and type(e[0]) is JVPTracer and self.add_dual(e[0], g):
            pass                      # value and lanes added in place
        elif len(shape(g)) and (total := _sum_duals(e[0], g)) is not None:
            e[0], e[1] = total, True  # fresh arrays: owned from here on
            if _profile.ON:
                t = total.tangent
                _profile.record_launch("xp.add", t.size, 2 * (t.nbytes + total.primal.nbytes),
                                       t.nbytes + total.primal.nbytes)
        else:
            e[0] = bind(REGISTRY["add"], e[0], g)
            e[1] = not isinstance(e[0], Tracer)

    @staticmethod
    def add_dual(d, g) -> bool:
        """Add the cotangent ``g`` into the owned dual value ``d`` in place, if it can be:
        ``g`` a dual value of the same trace and shapes with plain parts, or a constant
        (its lanes are zero) of a shape that broadcasts to ``d``'s."""
        if isinstance(g, Tracer):
            if not _plain_dual(g, d._trace) or shape(g.primal) != shape(d.primal) \
                    or shape(g.tangent) != shape(d.tangent):
                return False
            d.primal += g.primal
            d.tangent += g.tangent
            arrays = (d.primal, d.tangent, g.primal, g.tangent)
        elif tuple(np.broadcast_shapes(shape(g), shape(d.primal))) == tuple(shape(d.primal)):
            d.primal += g
            arrays = (d.primal, g)
        else:
            return False
        if _profile.ON:
            _profile.record_launch("xp.add", getattr(d.primal, "size", 1),
                                   sum(getattr(a, "nbytes", 0) for a in arrays),
                                   sum(a.nbytes for a in arrays[:2] if hasattr(a, "nbytes")))
        return True


def _plain_dual(v, trace) -> bool:
    """``v`` is a dual value of ``trace`` whose value and lanes are plain arrays."""
    return (type(v) is JVPTracer and v._trace is trace and not isinstance(v.primal, Tracer)
            and not isinstance(v.tangent, Tracer))


def _claim(v) -> bool:
    """Whether the sweep may own the dual value ``v``: marked fresh by its forward trace,
    claimed here once (a second claim, by this or another sweep, is refused)."""
    if type(v) is JVPTracer and v.fresh:
        v.fresh = False
        return True
    return False


def _sum_duals(a, b):
    """``a + b`` for two dual values of one forward trace with plain parts of equal shapes,
    as a new dual value whose arrays are fresh (the store owns it); else None."""
    if (not _plain_dual(a, getattr(a, "_trace", None)) or not _plain_dual(b, a._trace)
            or shape(a.primal) != shape(b.primal) or shape(a.tangent) != shape(b.tangent)):
        return None
    return JVPTracer(a._trace, a.primal + b.primal, a.tangent + b.tangent)
