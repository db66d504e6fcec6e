"""Checkpointing: recompute in the reverse sweep instead of storing.

:func:`checkpoint` makes a segment whose internals stay off the tape: one node stores the
segment's inputs, and its VJP reruns the segment under a fresh reverse trace (profile
phase "recompute") and sweeps that. :func:`checkpoint_loop` reverses a loop with the
binomial (Revolve) schedule of Griewank & Walther (2000), the fewest step evaluations for
a given number of stored states; :func:`revolve_schedule` shows that schedule.

Closure conversion: a segment may close over traced values (the parameters of an
enclosing ``grad``). While a segment runs, every ``bind`` passes its arguments through
the segment's frame (``core._ctx.rewrite``). In the first run, tracers older than the
segment are collected and replaced by inputs of the segment's own trace; in every later
run they are replaced by the values the node stored for them. So they become ordinary
inputs of the one checkpoint node and get their cotangents like any input.
"""
from __future__ import annotations

import contextlib
import functools
import math
import operator
from typing import NamedTuple

from . import checkpoint_policies, tree
from .core import (Primitive, Tracer, VJPTrace, VJPTracer, _accumulate, _ctx, bind,
                   full_lower, hold, register, release, report_held)
from .runtime import profile as _profile


# ------------------------------------------------------------------ closure conversion

class _Frame:
    """Swaps tracers a segment closed over for the segment's own values in every bind."""
    __slots__ = ("sub", "collector")

    def __init__(self, sub=None, collector=None):
        self.sub = {} if sub is None else sub     # id(tracer) -> (tracer, replacement)
        self.collector = collector                # a _SegmentTrace in the first run

    def __call__(self, args):
        new = None
        for i, a in enumerate(args):
            if not isinstance(a, Tracer):
                continue
            hit = self.sub.get(id(a))
            if hit is not None and hit[0] is a:
                r = hit[1]
            elif self.collector is not None and a._trace.level < self.collector.level:
                r = self.collector.capture(a)
            else:
                continue
            if new is None:
                new = list(args)
            new[i] = r
        return args if new is None else tuple(new)


def _frame_for(closure, values):
    return _Frame({id(t): (t, v) for t, v in zip(closure, values)})


def _outer_subs():
    # The substitutions in force where a segment is created: its function may close over a
    # tracer that an enclosing segment's run replaced, so every later run of it (possibly
    # after that run ended, from a sweep) must replace it the same way first.
    return tuple(f.sub for f in _ctx.rewrite)


@contextlib.contextmanager
def _rewriting(*frames):
    _ctx.rewrite.extend(frames)
    try:
        yield
    finally:
        del _ctx.rewrite[len(_ctx.rewrite) - len(frames):]    # frames nest: ours are last


def _reverse_active() -> bool:
    return any(isinstance(t, VJPTrace) for t in _ctx.active)


def _same(xs, ys) -> bool:
    return len(xs) == len(ys) and all(x is y for x, y in zip(xs, ys))


class _SegmentTrace(VJPTrace):
    """The reverse trace of one run of a segment.

    First run (``taping=False`` unless its tape is wanted): computes on plain values,
    collects closed-over tracers as inputs and keeps the outputs the policy allows in
    ``saved``. Recompute (``replay=True``): records the tape to sweep, taking the outputs
    in ``saved`` instead of launching their forward kernels.
    """

    def __init__(self, taping=True, policy=None, saved=None, replay=False):
        super().__init__()
        self.taping = taping
        self.policy = policy
        self.saved = [] if saved is None else saved
        self.replay = replay
        self.n_kept = 0
        self.closure: list = []
        self.frame = _Frame(collector=self)

    def capture(self, t):
        r = self.new_input(full_lower(t))
        self.closure.append(t)
        self.frame.sub[id(t)] = (t, r)
        return r

    def process(self, prim, args, params):
        if (self.policy is None or prim.vjp is None or prim.jvp is None
                or not self.policy(prim, **params)):
            return self._apply(prim, args, params)
        k = self.n_kept
        self.n_kept += 1
        if self.replay:
            if k >= len(self.saved):
                raise RuntimeError("a checkpointed segment applied more saveable primitives "
                                   "when recomputed than in its first run: it must compute "
                                   "the same thing every time it runs")
            return VJPTrace.process(self, _kept(prim), args,
                                    {"_value": self.saved[k], "_params": params})
        out = self._apply(prim, args, params)
        self.saved.append([full_lower(o) for o in out] if prim.multiple_results
                          else full_lower(out))
        return out

    def _apply(self, prim, args, params):
        if self.taping:
            return VJPTrace.process(self, prim, args, params)
        vals = [a.val if isinstance(a, VJPTracer) and a._trace is self else a for a in args]
        if prim.vjp is None:     # as a taping trace would: its decomposition, op by op
            if prim.decompose is None:
                raise NotImplementedError(f"primitive {prim.name!r} has no VJP rule")
            return prim.decompose(*args, **params)
        out = bind(prim, *vals, **params)
        if prim.multiple_results:
            return [VJPTracer(self, o, None) for o in out]
        return VJPTracer(self, out, None)


_kept_prims: dict = {}


def _kept(prim):
    """``prim`` with its output given (``_value``): derivative rules unchanged, no launch."""
    k = _kept_prims.get(prim)
    if k is None:
        k = _kept_prims[prim] = Primitive(
            f"{prim.name}[kept]", lambda *args, _value, _params: _value,
            jvp=lambda primals, tangents, _value, _params: prim.jvp(primals, tangents,
                                                                   **_params),
            vjp=lambda g, ins, out, need, acc, _value, _params: prim.vjp(g, ins, out, need,
                                                                         acc, **_params),
            decompose=lambda *args, _value, _params: bind(prim, *args, **_params),
            saves=prim.saves, multiple_results=prim.multiple_results, linear=prim.linear,
            doc=f"{prim.name} whose output a checkpoint policy kept")
    return k


def _unwrap(o, trace):
    return o.val if isinstance(o, VJPTracer) and o._trace is trace else o


def _sweep(trace, outs, cts):
    """Input cotangents of ``trace`` from cotangents of its outputs (None: a zero)."""
    pairs = [(o, c) for o, c in zip(outs, cts)
             if c is not None and isinstance(o, VJPTracer) and o._trace is trace]
    return trace.backward([o for o, _ in pairs], [c for _, c in pairs])


# ------------------------------------------------------------------ checkpoint

class _Segment:
    """A checkpointed call with its closure made explicit: ``run(values)`` evaluates it on
    the dynamic arguments followed by the closed-over values, at any trace level."""

    def __init__(self, fun, td, static, dyn, closure, policy, outer):
        self.fun, self.td, self.static, self.dyn = fun, td, static, dyn
        self.closure, self.policy, self.outer = closure, policy, outer
        self.n_in = len(dyn) + len(closure)
        self.first = None    # (plain inputs, plain outputs) of the first run, for impl

    def run(self, vals):
        leaves = list(self.static)
        for i, v in zip(self.dyn, vals):
            leaves[i] = v
        frame = _frame_for(self.closure, vals[len(self.dyn):])
        with _rewriting(*[_Frame(sub) for sub in self.outer], frame):
            args, kwargs = tree.unflatten(self.td, leaves)
            return list(frame(tuple(tree.flatten(self.fun(*args, **kwargs))[0])))


def _ckpt_impl(*args, seg):
    first, seg.first = seg.first, None
    n = seg.n_in
    if first is not None and _same(first[0], args[:n]):
        return first[1]          # the first run already computed exactly this
    return seg.run(list(args[:n]))


def _ckpt_vjp(g, ins, out, need, acc, seg):
    n = seg.n_in
    trace = _SegmentTrace(policy=seg.policy, saved=list(ins[n:]), replay=True)
    with _profile.phase("recompute"), trace:
        outs = seg.run([trace.new_input(v) for v in ins[:n]])
    gs = _sweep(trace, outs, g)
    return tuple(gs[i] if need[i] else None for i in range(n)) + (None,) * (len(ins) - n)


checkpoint_p = register(Primitive(
    "checkpoint", _ckpt_impl, vjp=_ckpt_vjp,
    decompose=lambda *args, seg: seg.run(list(args[:seg.n_in])),
    saves="ins", multiple_results=True,
    doc="a segment run again in the reverse sweep; inputs: its traced arguments, the "
        "traced values it closes over, then the outputs its policy kept"))


def checkpoint(fun, policy=None):
    """``fun`` as a segment whose internals are recomputed in the reverse sweep, not stored.

    Under reverse mode, calling the result records ONE node on the tape that saves only the
    segment's traced inputs (and the outputs ``policy`` keeps). Its VJP reruns ``fun``
    under a fresh reverse trace (profile phase ``"recompute"``) and sweeps that tape. For
    a segment of n primitives memory drops from sum_i |saved_i| to |inputs|, at the cost
    of one more forward pass of the segment. Forward mode (jvp) just runs ``fun``.

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
    policy = policy or checkpoint_policies.nothing_saveable
    keep = None if policy is checkpoint_policies.nothing_saveable else policy

    @functools.wraps(fun)
    def segment(*args, **kwargs):
        if not _reverse_active():
            return fun(*args, **kwargs)     # no tape to keep small
        outer = _outer_subs()
        leaves, td = tree.flatten((args, kwargs))
        dyn = [i for i, x in enumerate(leaves) if isinstance(x, Tracer)]
        static = [None if isinstance(x, Tracer) else x for x in leaves]
        first = _SegmentTrace(taping=False, policy=keep)
        with first, _rewriting(first.frame):
            ins = list(static)
            for i in dyn:
                ins[i] = first.new_input(full_lower(leaves[i]))
            a, k = tree.unflatten(td, ins)
            out_leaves, out_td = tree.flatten(fun(*a, **k))
            out_leaves = first.frame(tuple(out_leaves))
        outs = [_unwrap(o, first) for o in out_leaves]
        vals = [leaves[i] for i in dyn] + first.closure
        if not any(isinstance(v, Tracer) for v in vals):
            return tree.unflatten(out_td, outs)
        seg = _Segment(fun, td, static, dyn, first.closure, keep, outer)
        seg.first = ([full_lower(v) for v in vals], outs)
        res = bind(checkpoint_p, *vals, *first.saved, seg=seg)
        seg.first = None
        return tree.unflatten(out_td, res)
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
    def __init__(self, step, td, n_state, l, schedule, closure, outer):
        self.step, self.td, self.n_state, self.l = step, td, n_state, l
        self.schedule, self.closure, self.outer = schedule, closure, outer
        self.first = None    # set around bind: (plain inputs, x_1, taped first run or None)
        self.fwd = None      # the forward half of the schedule, run by impl, for the VJP

    def step_leaves(self, x, frame):
        with _rewriting(*[_Frame(sub) for sub in self.outer], frame):
            return _step_leaves(self.step, self.td, x, frame)

    def plain(self, args):
        frame = _frame_for(self.closure, args[self.n_state:])
        x = list(args[:self.n_state])
        for _ in range(self.l):
            x = self.step_leaves(x, frame)
        return x


def _step_leaves(step, td, x, frame):
    out, otd = tree.flatten(step(tree.unflatten(td, x)))
    if otd != td:
        raise TypeError(f"checkpoint_loop: step must return a state shaped like x0 ({td}), "
                        f"got {otd}")
    return list(frame(tuple(out)))


class _Run:
    """One execution of a schedule at one trace level: the current state and snapshots."""

    def __init__(self, loop, x, clo, pending=None):
        self.loop, self.x, self.clo = loop, x, clo
        self.frame = _frame_for(loop.closure, clo)
        self.snaps: dict = {}
        self.pending = pending        # x_1, when the first run already computed it

    def do(self, act):
        if act.kind == "snapshot":
            old = self.snaps.get(act.a)
            self.snaps[act.a] = self.x
            hold(self.x)
            if old is not None:
                release(old)
            report_held()
        elif act.kind == "restore":
            self.x = self.snaps[act.a]
        else:
            for i in range(act.a, act.b):
                if i == 0 and self.pending is not None:
                    self.x, self.pending = self.pending, None
                else:
                    self.x = self.loop.step_leaves(self.x, self.frame)

    def taped(self):
        trace = VJPTrace()
        with trace:
            xs = [trace.new_input(v) for v in self.x]
            cs = [trace.new_input(c) for c in self.clo]
            ys = self.loop.step_leaves(xs, _frame_for(self.loop.closure, cs))
        return trace, ys

    def close(self):
        for x in self.snaps.values():
            release(x)
        self.snaps = {}


def _loop_impl(*args, loop):
    first, loop.first = loop.first, None
    if first is None or not _same(first[0], args):
        return loop.plain(args)
    sched = loop.schedule
    run = _Run(loop, list(args[:loop.n_state]), list(args[loop.n_state:]), pending=first[1])
    for act in sched.actions[:sched.forward]:
        run.do(act)
    # The first reversal's taped step is the forward pass's last step: its tape is kept
    # for the sweep, so no step runs twice (Revolve's "firsturn").
    trace, ys = first[2] if first[2] is not None else run.taped()
    loop.fwd = (args, run, trace, ys)
    return [_unwrap(y, trace) for y in ys]


def _loop_vjp(g, ins, out, need, acc, loop):
    fwd, loop.fwd = loop.fwd, None
    sched, ns = loop.schedule, loop.n_state
    if fwd is not None and _same(fwd[0], ins):
        _, run, trace, ys = fwd
    else:
        # Another level of a higher-order sweep (or a second sweep): run the schedule from
        # x0 on this level's values.
        run = _Run(loop, list(ins[:ns]), list(ins[ns:]))
        with _profile.phase("recompute"):
            for act in sched.actions[:sched.forward]:
                run.do(act)
            trace, ys = run.taped()
    gx = list(g)                      # the cotangent of the current state
    hold(gx)
    gclo: dict = {}                   # closure index -> [summed cotangent, owned]
    i = sched.forward
    while True:
        gs = _sweep(trace, ys, gx)
        trace = ys = None
        hold(gs[:ns])
        release(gx)
        gx = gs[:ns]
        for j, gc in enumerate(gs[ns:]):
            if gc is not None:
                _accumulate(gclo, j, gc, owned=True)
        report_held([e[0] for e in gclo.values()])
        i += 1
        with _profile.phase("recompute"):
            while i < len(sched.actions) and sched.actions[i].kind != "reverse":
                run.do(sched.actions[i])
                i += 1
            if i == len(sched.actions):
                break
            trace, ys = run.taped()
    release(gx)
    run.close()
    nclo = len(ins) - ns
    return (tuple(gx[j] if need[j] else None for j in range(ns))
            + tuple(gclo[j][0] if need[ns + j] and j in gclo else None for j in range(nclo)))


def _loop_decompose(*args, loop):
    return loop.plain(args)


checkpoint_loop_p = register(Primitive(
    "checkpoint_loop", _loop_impl, vjp=_loop_vjp, decompose=_loop_decompose,
    saves="ins", multiple_results=True,
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

    The state may be a pytree of floating arrays; ``step`` returns one of the same
    structure and may close over traced values (e.g. parameters), whose gradients flow
    as usual. Under forward mode (jvp, hvp's outer pass) the steps simply run. For higher
    order, each outer level reruns the schedule from x0.

    Example::

        >>> def loss(w, x0):
        ...     xT = gpuad.checkpoint_loop(lambda x: x + 0.1 * gnp.sin(w * x), x0, 1000,
        ...                                snapshots=10)
        ...     return gnp.sum(xT ** 2)
        >>> gw = gpuad.grad(loss)(np.ones(3), np.linspace(0.0, 1.0, 3))   # 4636 steps
    """
    l = operator.index(n_steps)
    if l < 0:
        raise ValueError(f"n_steps must be >= 0, got {l}")
    leaves, td = tree.flatten(x0)
    if l == 0:
        return x0
    s = _snapshots_for(leaves, l, snapshots, memory_budget)
    if not _reverse_active():
        x = x0
        for _ in range(l):
            x = step(x)
        return x
    # The first step doubles as the run that finds the closed-over tracers (and, for a
    # single step, as its taped evaluation), so it is not evaluated twice.
    first = _SegmentTrace(taping=(l == 1))
    with first, _rewriting(first.frame):
        x1 = _step_leaves(step, td, [first.new_input(full_lower(v)) for v in leaves],
                          first.frame)
    loop = _Loop(step, td, len(leaves), l, revolve_schedule(l, s), first.closure,
                 _outer_subs())
    vals = list(leaves) + first.closure
    plain_x1 = [_unwrap(y, first) for y in x1]
    if not any(isinstance(v, Tracer) for v in vals):
        x = plain_x1                # nothing traced flows in: finish on plain values
        for _ in range(l - 1):
            x = loop.step_leaves(x, _Frame())
        return tree.unflatten(td, x)
    loop.first = ([full_lower(v) for v in vals], plain_x1,
                  (first, x1) if l == 1 else None)
    res = bind(checkpoint_loop_p, *vals, loop=loop)
    loop.first = None
    return tree.unflatten(td, res)


__all__ = ["checkpoint", "checkpoint_loop", "revolve_schedule", "revolve_cost", "Action",
           "Schedule"]
