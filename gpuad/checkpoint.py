"""Checkpointing: recompute in the reverse sweep instead of storing.

:func:`checkpoint` makes a segment whose internals stay off the tape: one node stores the
segment's inputs, and its VJP reruns the segment taped (profile phase "recompute") and
sweeps that. :func:`checkpoint_loop` reverses a loop with the binomial (Revolve) schedule
of Griewank & Walther (2000), the fewest step evaluations for a given number of stored
states; :func:`revolve_schedule` shows that schedule.

Both are recorded as one node of the reverse trace in progress with the traced values
they read, passed in or closed over (the parameters of an enclosing ``grad``), as explicit
inputs (gpuad/segment.py): so those get their cotangents like any input.
"""
from __future__ import annotations

import functools
import math
import operator
from typing import NamedTuple

import numpy as np

from . import checkpoint_policies, tree
from .core import Primitive, Tracer, agree, current, full_lower, register
from .tape import Cotangents, VJPTrace, VJPTracer
from .runtime import profile as _profile
from .segment import Closure, Replay, _Substitutes, enclosing_subs, unkept


def _own(trace, x):
    return type(x) is VJPTracer and x._trace is trace


def _sweep(replay, outs, cts):
    """Input cotangents of ``replay``'s tape from cotangents of its outputs (None: zero;
    ``cts`` None: none at all, a collective node swept for its communication)."""
    cts = [None] * len(outs) if cts is None else cts
    pairs = [(o, c) for o, c in zip(outs, cts) if c is not None and _own(replay, o)]
    return replay.backward([o for o, _ in pairs], [c for _, c in pairs])


# ------------------------------------------------------------------ checkpoint

class _Segment:
    """A checkpointed call: ``fun`` with its arguments' pytree (``td``), the leaves that
    were not values of the trace (``static``) and the positions of those that were
    (``dyn``), the values it closes over (``closure``), its policy and the substitutions
    in force where it was created (``outer``). Its node's inputs: the ``dyn`` leaves, then
    the closure. ``outs``: which output leaves are node outputs (not inputs passed back)."""

    def __init__(self, fun, td, static, dyn, closure, keep, outer, outs, idx=None,
                 args=()):
        self.fun, self.td, self.static, self.dyn = fun, td, static, dyn
        self.closure, self.keep, self.outer, self.outs = closure, keep, outer, outs
        # idx[k]: the input holding dyn leaf k (one input per distinct traced value: the
        # same value passed twice is one input)
        self.idx = list(range(len(dyn))) if idx is None else idx
        self.n_dyn = len(set(self.idx))
        self.n_in = self.n_dyn + len(closure)
        # the distinct traced arguments, read as the inputs where the function also
        # closes over them (checkpoint(lambda z: z * x)(x))
        self.args = list(args)
        self.forward = None   # fingerprints of the forward pass's outputs (host)

    def run(self, trace, xs):
        """``fun`` on inputs ``xs`` (the distinct dyn leaves, then the closure's
        replacements) under ``trace`` (a Closure or a Replay), which is current while it
        runs."""
        leaves = list(self.static)
        for i, k in zip(self.dyn, self.idx):
            leaves[i] = xs[k]
        trace.substitute(self.args + list(self.closure), xs[self.n_dyn - len(self.args):])
        with trace:
            args, kwargs = tree.unflatten(self.td, leaves)
            out = tree.flatten(self.fun(*args, **kwargs))[0]
        if isinstance(trace, Closure):
            out = trace.lower(out)
        return [out[i] for i in self.outs]


def _ckpt_eval(*args, seg):
    # On the values below every differentiating trace (or, as a decomposition, at the
    # current trace): fun with the closure substituted.
    return seg.run(Closure(seg.outer), list(args))


def _ckpt_vjp(g, ins, out, seg):
    n = seg.n_in
    kept = ins[n:] if seg.keep is not None and len(ins) > n else None
    replay = Replay(seg.outer, keep=seg.keep, kept=kept)
    with _profile.phase("recompute"):
        xs = [replay.new_input(v) for v in ins[:n]]
        outs = seg.run(replay, xs)
    _same_as_forward(seg, outs, replay)
    return _sweep(replay, outs, g)


def _fingerprint(v):
    """Two sums that a rerun of the same function reproduces to rounding (a build with
    other vector math may differ in the last bits) and a changed input changes: sum(v) and
    sum(|v|), in double; None for what is not a host float or complex array. Taken of the
    forward pass's outputs when they are made, so a caller writing into an output later
    (r -= target before pb(r)) changes nothing here."""
    if type(v) is not np.ndarray or v.dtype.kind not in "fc":
        return None
    w = v.astype(np.complex128 if v.dtype.kind == "c" else np.float64, copy=False)
    return complex(np.sum(w)), float(np.sum(np.abs(w)))


def _fingerprints(vals):
    """The fingerprints of ``vals`` (the values, not tracers); None where none is a host
    array's, so that a check of a GPU value costs nothing."""
    fps = [_fingerprint(v) for v in vals]
    return fps if any(fp is not None for fp in fps) else None


def _agree(fps, vals) -> bool:
    """Whether ``vals`` have the fingerprints ``fps`` to rounding, where both have one (a
    non-finite value: the same kind of non-finite, compared no further)."""
    for fp, v in zip(fps, vals):
        again = None if fp is None else _fingerprint(v)
        if again is None:
            continue
        (s0, a0), (s1, a1) = fp, again
        if not (np.isfinite(a0) and np.isfinite(a1)):
            if np.isnan(a0) == np.isnan(a1) and np.isinf(a0) == np.isinf(a1):
                continue
        elif abs(s0 - s1) <= 1e-9 * (a0 + a1) and abs(a0 - a1) <= 1e-9 * (a0 + a1):
            continue
        return False
    return True


def _same_as_forward(seg, outs, replay):
    """Raise where the rerun's outputs differ from the forward pass's beyond rounding (their
    fingerprints, on the host only: a GPU's would cost a host read). A segment that read
    an array outside its arguments by Python (``c[1]``: no primitive sees ``c``, so nothing
    holds it read-only) which was then written into, or one that is not a function of its
    inputs, would otherwise be differentiated as a different function, silently."""
    if seg.forward is None or _agree(seg.forward, [o.val if _own(replay, o) else o
                                                   for o in outs]):
        return
    name = getattr(seg.fun, "__qualname__", repr(seg.fun))
    raise RuntimeError(
        f"gpuad.checkpoint: the reverse sweep's rerun of {name} gave outputs that "
        "differ from the forward pass's, so its derivative would be another "
        "function's. A checkpointed function must compute the same thing every "
        "time it runs: no randomness or state kept between calls, and no array it "
        "reads besides its arguments changed between the forward pass and the "
        "sweep (such as one indexed in Python, c[1], then written into after vjp "
        "returned). Pass such arrays as arguments, or copy them.")


checkpoint_p = register(Primitive(
    "checkpoint", _ckpt_eval, vjp=_ckpt_vjp, decompose=_ckpt_eval, saves="ins",
    multiple_results=True,
    doc="a segment run again in the reverse sweep; inputs: its traced arguments, then the "
        "traced values it closes over; saves them and the outputs its policy kept"))


def checkpoint(fun, policy=None):
    """``fun`` as a segment whose internals are recomputed in the reverse sweep, not stored.

    Under reverse mode, calling the result records ONE node on the tape that saves only the
    segment's traced inputs (and the outputs ``policy`` keeps). Its VJP reruns ``fun``
    taped (profile phase ``"recompute"``) and sweeps that tape. For a segment of n
    primitives memory drops from sum_i |saved_i| to |inputs|, at the cost of one more
    forward pass of the segment. Forward mode (jvp) just runs ``fun``.

    ``fun`` may take and return pytrees and may close over traced values (such as the
    parameters of an enclosing ``grad``): those become inputs of the node and receive
    their gradients. Non-traced arguments are constants of the segment. ``fun`` must
    compute the same thing every time it runs.

    ``policy`` (default ``checkpoint_policies.nothing_saveable``) decides per primitive
    whether its output from the first run is kept and reused in the recompute, e.g.
    ``checkpoint_policies.dots_saveable`` keeps matmul/einsum outputs.

    Example::

        >>> block = gpuad.checkpoint(lambda x: gnp.tanh(gnp.sin(x) * x))
        >>> gpuad.grad(lambda x: gnp.sum(block(block(x))))(np.array([0.5, 1.0]))
        array([0.39937609, 0.70805107])
    """
    if not callable(fun):
        raise TypeError(f"checkpoint: fun must be a function, got {type(fun).__name__}")
    policy = policy or checkpoint_policies.nothing_saveable
    if not callable(policy):
        raise TypeError(f"checkpoint: policy must be a function (prim, **params) -> bool, such "
                        f"as gpuad.checkpoint_policies.dots_saveable, got {policy!r}")
    keep = None if policy is checkpoint_policies.nothing_saveable else policy

    @functools.wraps(fun)
    def segment(*args, **kwargs):
        trace = current()
        if not isinstance(trace, VJPTrace):
            with unkept(trace):             # (one node in an enclosing segment's recompute)
                return fun(*args, **kwargs)     # no tape to keep small
        outer = enclosing_subs()
        first = Closure(outer, target=trace, keep=keep)
        leaves, td = tree.flatten((args, kwargs))
        leaves = first.substituted(leaves)   # (inside another segment's rerun)
        dyn = [i for i, x in enumerate(leaves) if _own(trace, x)]
        idx = [first.capture(leaves[i]) for i in dyn]
        n_dyn = len(first.captured)
        with first:
            out_leaves, out_td = tree.flatten(fun(*args, **kwargs))
        out_leaves = first.lower(out_leaves)
        if not first.captured and not first.collective:
            return tree.unflatten(out_td, out_leaves)    # nothing traced flows in
        outs = tuple(i for i, o in enumerate(out_leaves) if not _own(trace, o))
        seg = _Segment(fun, td, [None if i in dyn else x for i, x in enumerate(leaves)], dyn,
                       first.captured[n_dyn:], keep, outer, outs, idx, first.captured[:n_dyn])
        ins = first.captured
        res = trace.record(checkpoint_p, ins, {"seg": seg}, [out_leaves[i] for i in outs],
                           ins=tuple(t.val for t in ins) + tuple(first.kept),
                           collective=first.collective)
        trace.tape[-1].freeze(first.constants.values())     # the recompute reads them
        seg.forward = _fingerprints([out_leaves[i] for i in outs])
        for i, r in zip(outs, res):
            out_leaves[i] = r
        return tree.unflatten(out_td, out_leaves)
    return segment


# ------------------------------------------------------------------ the Revolve schedule

class Action(NamedTuple):
    """One action of a schedule.

    ``advance a b``: evaluate steps a..b-1 from the current state (x_a) without taping.
    ``snapshot a b``: store the current state x_b in slot a.
    ``restore a b``: the current state becomes slot a's content, x_b.
    ``reverse a``: evaluate step a taped from x_a and sweep it, turning the cotangent of
    x_{a+1} into that of x_a (Revolve's firsturn/youturn).
    """
    kind: str
    a: int
    b: int = 0

    def __repr__(self):
        if self.kind == "advance":
            return f"advance {self.a}->{self.b}"
        if self.kind == "reverse":
            return f"reverse {self.a}"
        return f"{self.kind} {self.a} x{self.b}"


class Schedule(NamedTuple):
    """A Revolve schedule: ``actions`` in order, ``evaluations`` = advanced steps plus
    reversed (taped) steps, ``forward`` = index of the first ``reverse`` (what runs in the
    forward pass; that reverse's taped step produces the loop's output)."""
    steps: int
    snapshots: int
    actions: tuple
    evaluations: int
    forward: int


@functools.lru_cache(maxsize=None)
def _beta_t(l: int, s: int) -> int:
    t = 0
    while math.comb(s + t, s) < l:
        t += 1
    return t


@functools.lru_cache(maxsize=None)
def revolve_cost(l: int, s: int) -> int:
    """Fewest step evaluations to reverse ``l`` steps with ``s`` snapshots (x0 is one):
    T(l, s) = l + t*l - C(s+t, s+1), t = min{t : C(s+t, s) >= l} (Griewank & Walther)."""
    if l <= 0:
        return 0
    t = _beta_t(l, s)
    return l + t * l - math.comb(s + t, s + 1)


def _split(n: int, s: int) -> int:
    # cost(m) = m + T(m, s) + T(n-m, s-1) (advance m, reverse the tail with one snapshot
    # fewer, then the head) is convex in m, as T is convex in l; bisection on its slope
    # finds the largest minimiser. Every minimiser gives T(n, s); Revolve implementations
    # break such ties by other rules, so their action lists may differ from this one.
    def cost(m):
        return m + revolve_cost(m, s) + revolve_cost(n - m, s - 1)
    lo, hi = 1, n - 1        # invariant: the answer is in [lo, hi]
    while lo < hi:
        m = (lo + hi + 1) // 2
        if cost(m) <= cost(m - 1):
            lo = m
        else:
            hi = m - 1
    return lo


@functools.lru_cache(maxsize=32)
def revolve_schedule(l: int, s: int) -> Schedule:
    """The binomial checkpointing (Revolve) schedule reversing ``l`` steps with ``s``
    snapshot slots, the initial state x0 occupying one of them.

    Recursively: with the state x_a stored and s slots, advance to x_m, store it, reverse
    steps m..b-1 with s-1 slots, restore x_a and reverse a..m-1 with s slots; one slot
    left means advancing from x_a to each step in turn. The split m minimises the total,
    which then equals Griewank & Walther's optimum

        T(l, s) = l + t*l - C(s+t, s+1),   t = min{t : C(s+t, s) >= l},

    counting every step evaluation, each step's taped one included (so s >= l-1, storing
    every state, gives 2l-1). ``checkpoint_loop`` executes exactly these actions.

    Example::

        >>> sch = gpuad.revolve_schedule(10, 2)
        >>> sch.evaluations
        30
        >>> sch.actions[:4]
        (snapshot 0 x0, advance 0->6, snapshot 1 x6, advance 6->9)
    """
    l, s = operator.index(l), operator.index(s)
    if l < 1 or s < 1:
        raise ValueError(f"a schedule needs l >= 1 steps and s >= 1 snapshots, got l={l}, "
                         f"s={s}")
    s = min(s, max(1, l - 1))
    acts: list = [Action("snapshot", 0, 0)]
    # Tasks, last first: ("rev", a, b, s, slot) reverses steps a..b-1 with x_a current and
    # stored in `slot` (slots above it free); ("restore", slot, a). A stack, not recursion:
    # storing every state nests l deep.
    todo = [("rev", 0, l, s, 0)]
    while todo:
        task = todo.pop()
        if task[0] == "restore":
            acts.append(Action("restore", task[1], task[2]))
            continue
        _, a, b, k, slot = task
        if b - a == 1:
            acts.append(Action("reverse", a))
        elif k == 1:
            for i in range(b - 1, a - 1, -1):
                if i < b - 1:
                    acts.append(Action("restore", slot, a))
                if i > a:
                    acts.append(Action("advance", a, i))
                acts.append(Action("reverse", i))
        else:
            m = a + _split(b - a, k)
            acts.append(Action("advance", a, m))
            if b - m > 1:            # a single tail step is reversed from the current state
                acts.append(Action("snapshot", slot + 1, m))
            todo += [("rev", a, m, k, slot), ("restore", slot, a), ("rev", m, b, k - 1, slot + 1)]
    evals = sum(x.b - x.a if x.kind == "advance" else x.kind == "reverse" for x in acts)
    first = next(i for i, x in enumerate(acts) if x.kind == "reverse")
    return Schedule(l, s, tuple(acts), evals, first)


# ------------------------------------------------------------------ checkpoint_loop

class _Loop:
    """A checkpointed loop: ``step`` applied ``l`` times to a state of pytree ``td``
    (``n_state`` leaves), reversed by ``schedule``. Its node's inputs: the state's leaves,
    then ``closure`` (the traced values the step reads besides the state); ``outer``: the
    substitutions in force where it was created."""

    def __init__(self, step, td, n_state, l, schedule, closure, outer):
        self.step, self.td, self.n_state, self.l = step, td, n_state, l
        self.schedule, self.closure, self.outer = schedule, closure, outer
        self.n_in = n_state + len(closure)

    def untaped(self, clo):
        """A Closure running steps with the closure read as ``clo``."""
        c = Closure(self.outer)
        c.substitute(self.closure, clo)
        return c

    def taped(self, x, clo):
        """Step x -> y taped: (the Replay, y's leaves); its inputs: x's leaves, the closure."""
        replay = Replay(self.outer)
        xs = _state_inputs(replay, x)
        replay.inputs(self.closure, clo)
        with replay:
            return replay, _step_leaves(self.step, self.td, xs)


def _state_inputs(replay, x):
    """The state's leaves as inputs of a taped step, one input per leaf (the sweep reads
    their cotangents by position); an integer or boolean leaf (a step counter) is handed
    to the step as its plain value: it has no derivative (JAX's float0), and its
    arithmetic taped would sum integer cotangents, which no kernel takes."""
    xs = []
    for v in x:
        t = replay.new_input(v)
        xs.append(t if _inexact(v) else v)
    return xs


def _inexact(v) -> bool:
    """Whether a state leaf is a float or complex value (differentiated); a Python int or
    bool (a step counter, as README shows) is not: it has no dtype and was read as float64,
    which crashed under grad."""
    if isinstance(v, (bool, int, np.bool_, np.integer)):
        return False
    return np.dtype(getattr(full_lower(v), "dtype", np.float64)).kind in "fc"


def _wrap_state(c, x):
    """The state's leaves as values of the untaped run ``c``; an integer or boolean leaf
    stays its plain value, as in a taped step (:func:`_state_inputs`): routed through the
    run, its arithmetic went to the float kernels and the counter came back float64."""
    return [c.wrap(v) if _inexact(v) else v for v in x]


def _step_leaves(step, td, x):
    out, otd = tree.flatten(step(tree.unflatten(td, x)))
    run = current()
    if isinstance(run, _Substitutes):
        # a value the step closes over returned as it is (no primitive met it there): read
        # it as this run's, captured (it reached the levels below as an EscapedTracer)
        out = [run._resolve(v) if isinstance(v, Tracer) and v._trace is not run else v
               for v in out]
    if any(v is None for v in out):
        raise TypeError(f"checkpoint_loop: step returned None where the state ({td}) has a "
                        "value: it must return the next state (did it forget a return?)")
    if otd != td:
        raise TypeError(f"checkpoint_loop: step must return a state shaped like x0 ({td}), "
                        f"got {otd}")
    return out


_UNSEEN = object()


class _Run:
    """One execution of a schedule at one level: the current state and the snapshots.
    Untaped steps run under ``closure`` (a Closure trace). ``fps``: per step, the
    fingerprints of the state it made when it first ran here (None: no host float array),
    which every rerun of it must reproduce."""

    def __init__(self, step, td, x, closure):
        self.step, self.td, self.x, self.closure = step, td, x, closure
        self.snaps: dict = {}
        self.fps: dict = {}

    def check(self, k, out):
        """Record the state ``out`` that step ``k`` made (its arrays, under any tracers:
        the primal of a dual value too) the first time it runs; raise where a rerun's
        differs beyond rounding. A step keeping Python state (a ``nonlocal`` counter) would
        otherwise be differentiated as another loop, silently."""
        fp = self.fps.get(k, _UNSEEN)
        if fp is None:
            return              # (no host float array: a GPU's sums would cost a host read)
        vals = [full_lower(v) for v in out]
        if fp is _UNSEEN:
            self.fps[k] = _fingerprints(vals)
        elif not _agree(fp, vals):
            name = getattr(self.step, "__qualname__", repr(self.step))
            raise RuntimeError(
                f"gpuad.checkpoint_loop: the reverse sweep's rerun of step {k} of {name} "
                f"(counting from 0, rerun from a stored state) gave a state that differs "
                f"from the forward pass's step {k}, so the gradient would be another loop's. "
                "step must be a pure function of its state and of what it closes over: no "
                "Python state kept between calls (a nonlocal step counter, a list it "
                "appends to and reads) and no randomness. Carry a step counter in the state "
                "instead, e.g. as an integer leaf: (x, i) -> (x * c[i], i + 1).")

    def do(self, act):
        if act.kind == "snapshot":
            old = self.snaps.get(act.a)
            self.snaps[act.a] = self.x
            _profile.hold(self.x)
            if old is not None:
                _profile.release(old)
            _profile.report()
        elif act.kind == "restore":
            self.x = self.snaps[act.a]
        else:
            c = self.closure
            with c:
                x = _wrap_state(c, self.x)
                for k in range(act.a, act.b):
                    x = _step_leaves(self.step, self.td, x)
                    self.check(k, x)
            self.x = c.lower(x)

    def close(self):
        for x in self.snaps.values():
            _profile.release(x)
        self.snaps = {}


class _Reversal:
    """What the forward pass leaves for the sweep (saved on the node): the run with its
    snapshots and the taped last step (Revolve's firsturn). Used once."""
    __slots__ = ("run", "replay", "ys")

    def __init__(self, run, replay, ys):
        self.run, self.replay, self.ys = run, replay, ys


def _loop_eval(*args, loop):
    # On the values below every differentiating trace (or, as a decomposition, at the
    # current trace): every step, untaped.
    c = loop.untaped(args[loop.n_state:])
    with c:
        x = _wrap_state(c, list(args[:loop.n_state]))
        for _ in range(loop.l):
            x = _step_leaves(loop.step, loop.td, x)
    return c.lower(x)


def _loop_vjp(g, ins, out, loop):
    sched, ns, n = loop.schedule, loop.n_state, loop.n_in
    clo = ins[ns:n]
    rev = ins[n] if len(ins) > n else None
    if rev is not None and rev.run is not None:
        run, replay, ys = rev.run, rev.replay, rev.ys
        rev.run = rev.replay = rev.ys = None
    else:
        # A second sweep of the tape, or a node recorded without the forward pass's state:
        # run the schedule's forward half from x0 again.
        run = _Run(loop.step, loop.td, list(ins[:ns]), loop.untaped(clo))
        with _profile.phase("recompute"):
            for act in sched.actions[:sched.forward]:
                run.do(act)
            replay, ys = loop.taped(run.x, clo)
    gx = [None] * ns if g is None else list(g)     # the cotangent of the current state
    _profile.hold(gx)
    gclo = Cotangents()               # the closure's cotangents, summed over the steps
    try:
        i = sched.forward
        while True:
            gs = _sweep(replay, ys, gx)
            replay = ys = None
            _profile.hold(gs[:ns])
            _profile.release(gx)
            gx = gs[:ns]
            for j, gc in enumerate(gs[ns:]):
                if gc is not None:
                    gclo.add(j, gc, owned=False)
            _profile.report(list(gclo.live()))
            i += 1
            with _profile.phase("recompute"):
                while i < len(sched.actions) and sched.actions[i].kind != "reverse":
                    run.do(sched.actions[i])
                    i += 1
                if i == len(sched.actions):
                    break
                replay, ys = loop.taped(run.x, clo)
                run.check(sched.actions[i].a, ys)
    finally:     # (also where a rerun differed: the engine stays usable)
        _profile.release(gx)
        run.close()
    return tuple(gx) + tuple(gclo.get(j) for j in range(n - ns))


checkpoint_loop_p = register(Primitive(
    "checkpoint_loop", _loop_eval, vjp=_loop_vjp, decompose=_loop_eval, saves="ins",
    multiple_results=True,
    doc="n applications of a step, reversed with the Revolve schedule; inputs: the state's "
        "leaves, then the traced values the step closes over"))


def _snapshots_for(leaves, l, snapshots, memory_budget):
    if snapshots is not None and memory_budget is not None:
        raise ValueError("checkpoint_loop takes snapshots or memory_budget, not both")
    if snapshots is not None:
        s = operator.index(snapshots)
        if s < 1:
            raise ValueError(f"snapshots must be >= 1 (x0 counts as one), got {s}")
    elif memory_budget is not None:
        nbytes = sum(int(getattr(full_lower(v), "nbytes", 8)) for v in leaves)
        s = int(memory_budget // max(nbytes, 1))
        if s < 1:
            raise ValueError(f"memory_budget={memory_budget} bytes holds no snapshot of the "
                             f"state ({nbytes} bytes); at least one (x0) is needed")
    else:
        s = l
    return max(1, min(s, l - 1))


def checkpoint_loop(step, x0, n_steps, snapshots=None, memory_budget=None):
    """``step`` applied ``n_steps`` times to ``x0``, reversed with the binomial schedule.

    Returns x_l with x_{i+1} = step(x_i), l = ``n_steps``. Under reverse mode only ``s``
    states are ever stored (``snapshots=s``, x0 counting as one; or ``memory_budget`` in
    bytes, s = floor(budget / state bytes); neither: s = l, every state). Reversal follows
    Revolve (Griewank & Walther 2000, see :func:`revolve_schedule`), which evaluates
    ``step`` exactly

        T(l, s) = l + t*l - C(s+t, s+1),   t = min{t : C(s+t, s) >= l}

    times in all during ``grad`` (forward pass included), the fewest possible with s
    states: e.g. T(1000, 10) = 4636, and 2l-1 when every state is stored. Memory is s
    states plus one step's tape, instead of l steps' tapes.

    The state may be a pytree of floating arrays (integer or boolean leaves, e.g. a step
    counter, too: the step reads them as plain values, without derivative); ``step``
    returns one of the same structure and may close over traced values (e.g. parameters),
    whose gradients flow as usual. Under forward mode (jvp) the steps simply run; under
    forward-over-reverse (hvp) the schedule runs on dual values.

    ``step`` is rerun from the stored states in the sweep, so it must be a function of the
    state and what it closes over: no randomness or Python state kept between calls (a
    ``nonlocal`` step index counts the reruns too, and the reruns compute another loop:
    carry the index in the state instead, as a Python or NumPy integer leaf), and no array
    it reads changed before the sweep (the NumPy arrays a primitive of the step reads, and
    x0's, are held read-only until then). The sweep checks this where the state's float
    leaves are NumPy arrays: the forward pass notes sum(v) and sum(|v|) of each leaf of
    each step's new state (two numbers per leaf and step, not the states), and a rerun of
    step k whose sums differ from the forward pass's beyond rounding raises RuntimeError
    naming the step and k. Not detected: a state on the GPU (its sums would cost a host
    read each step), integer leaves, Python state that leaves the values as they were (a
    call counter only logged: harmless), a change that keeps both sums, and anything in a
    loop of one step, which never reruns (nothing to check: its gradient is right).

    Example::

        >>> def loss(w, x0):
        ...     xT = gpuad.checkpoint_loop(lambda x: x + 0.1 * gnp.sin(w * x), x0, 1000,
        ...                                snapshots=10)
        ...     return gnp.sum(xT ** 2)
        >>> gw = gpuad.grad(loss)(np.ones(3), np.linspace(0.0, 1.0, 3))   # 4636 steps
    """
    if not callable(step):
        raise TypeError(f"checkpoint_loop: step must be a function of the state, got "
                        f"{type(step).__name__}")
    if isinstance(n_steps, (bool, np.bool_)):
        raise TypeError("checkpoint_loop: n_steps must be an integer, got a bool")
    try:
        l = operator.index(n_steps)
    except TypeError:
        raise TypeError(f"checkpoint_loop: n_steps must be an integer (a count of steps), got "
                        f"{n_steps!r} of type {type(n_steps).__name__}") from None
    if l < 0:
        raise ValueError(f"checkpoint_loop: n_steps must be >= 0, got {l}")
    leaves, td = tree.flatten(x0)
    if any(v is None for v in leaves):
        raise TypeError("checkpoint_loop: the state x0 has a None leaf; give arrays (or "
                        "Python/NumPy numbers) as the state")
    if l == 0:
        return x0
    s = _snapshots_for(leaves, l, snapshots, memory_budget)
    trace = current()
    if not isinstance(trace, VJPTrace):
        x = x0
        with unkept(trace):                 # (one node in an enclosing segment's recompute)
            for _ in range(l):
                x = step(x)
        return x
    if memory_budget is not None:     # state sizes may differ across ranks: one schedule
        s = agree("checkpoint_loop snapshots", s)
    outer = enclosing_subs()
    first = Closure(outer, target=trace)          # finds what the step closes over
    leaves = first.substituted(leaves)
    sched = revolve_schedule(l, s)
    run = _Run(step, td, [x.val if _own(trace, x) else x for x in leaves], first)
    for act in sched.actions[:sched.forward]:
        run.do(act)
    # The first reversal's taped step is the forward pass's last step: its tape is kept
    # for the sweep, so no step runs twice (Revolve's "firsturn").
    replay = Replay(outer, target=trace)          # (a value first read in this step, too)
    xs = _state_inputs(replay, run.x)
    replay.inputs(first.captured, [t.val for t in first.captured])
    with replay:
        ys = _step_leaves(step, td, xs)
    closure = first.captured + replay.captured
    traced = [x for x in leaves if _own(trace, x)]
    collective = first.collective or any(node.collective for node in replay.tape)
    if not traced and not closure and not collective:     # nothing traced flows in
        run.close()
        return tree.unflatten(td, [y.val if _own(replay, y) else y for y in ys])
    loop = _Loop(step, td, len(leaves), l, sched, closure, outer)
    vals = [x.val if _own(trace, x) else x for x in leaves] + [t.val for t in closure]
    res = trace.record(checkpoint_loop_p, leaves + closure, {"loop": loop},
                       [y.val if _own(replay, y) else y for y in ys],
                       ins=(*vals, _Reversal(run, replay, ys)), collective=collective)
    # the recomputed steps read them, and x0's plain arrays (the first snapshot) as well
    trace.tape[-1].freeze(list(first.constants.values())
                          + [x for x in leaves if type(x) is np.ndarray])
    return tree.unflatten(td, res)


__all__ = ["checkpoint", "checkpoint_loop", "revolve_schedule", "revolve_cost", "Action",
           "Schedule"]
