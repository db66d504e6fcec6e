"""A Python function as one node of the reverse trace in progress (closure conversion).

Checkpointed segments, checkpointed loops and custom_vjp functions are recorded on the
current :class:`~gpuad.core.VJPTrace` ``T`` as one node each. Their first run computes one
level below ``T`` under a :class:`Capture`: every value of ``T`` it meets, whether passed
in or closed over, is read as its value below and listed (in order of first use); those
become the node's explicit inputs. Later runs (the recomputation in the reverse sweep, a
forward-mode evaluation) go through a :class:`Closure` or, taped, a :class:`Replay`, which
substitute the listed values wherever the function meets them. No hook in ``bind``: these
are ordinary traces, current while the function runs, so every primitive it applies
reaches them.
"""
from __future__ import annotations

import numpy as np

from . import tree
from .core import Trace, Tracer, _ctx
from .tape import VJPTrace


class _Substitutes:
    """Substitution and capture shared by :class:`Closure` and :class:`Replay`.

    ``subs``: maps ``id(tracer) -> (tracer, replacement)``, applied in order (a segment
    created inside another's rerun applies the enclosing substitutions first). ``target``:
    a reverse trace whose values met here are captured (``captured``, in order)."""

    def _setup(self, subs=(), target=None):
        self.subs = [m for m in subs]
        self.target = target
        self.captured: list = []
        self._index: dict = {}

    def substitute(self, tracers, replacements):
        """Read ``tracers`` (of a finished trace) as ``replacements`` from now on."""
        self.subs.append({id(t): (t, r) for t, r in zip(tracers, replacements)})

    def capture(self, t):
        k = self._index.get(id(t))
        if k is None:
            k = self._index[id(t)] = len(self.captured)
            self.captured.append(t)
        return k

    def substituted(self, xs):
        """``xs`` with the substitutions applied (no capture)."""
        return [self._sub(a) if isinstance(a, Tracer) else a for a in xs]

    def _sub(self, a):
        for m in self.subs:
            hit = m.get(id(a))
            if hit is not None and hit[0] is a:
                a = hit[1]
        return a

    def _resolve(self, a):
        a = self._sub(a)
        t = self.target
        if isinstance(t, _Substitutes) and isinstance(a, Tracer) and a._trace is not t:
            # The target captures lazily too (a Replay: a loop's last step taped in the
            # forward pass): a value of the trace it captures from, met first here (a
            # checkpoint inside that step), is made its input first, then ours; it went
            # below the trace it belongs to (EscapedTracer).
            a = t._resolve(a)
        if t is not None and isinstance(a, Tracer) and a._trace is t:
            self.capture(a)
            return self._captured_value(a)
        return a

    def resolve(self, args):
        """``args`` as values below this trace: its own tracers' values, substitutions and
        captures applied."""
        args = [a.val if isinstance(a, Tracer) and a._trace is self else a for a in args]
        if not self.subs and self.target is None:
            return args
        return [self._resolve(a) if isinstance(a, Tracer) else a for a in args]


class unkept:
    """Within it, the current trace keeps and reuses no primitive outputs for a
    checkpoint policy: a construct nested in a checkpointed segment (another checkpoint,
    a checkpoint_loop) runs its body inline in the segment's first run but is one node in
    the recompute, and a primitive without a VJP rule decomposes in the recompute but not
    in the first run; the outputs the policy keeps must be the same primitives, in the
    same order, in both runs."""

    def __init__(self, trace=None):
        self.trace = _ctx.current if trace is None else trace

    def __enter__(self):
        t = self.trace
        self.saved = t.keep if isinstance(t, _Substitutes) else None
        if self.saved is not None:
            t.keep = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            self.trace.keep = self.saved
        return False


class ClosureTracer(Tracer):
    """A value of a :class:`Closure` run: it only routes the operations the function
    applies to it (operators included) to the Closure."""
    __slots__ = ("val",)

    def __init__(self, trace, val):
        self._trace = trace
        self.val = val

    @property
    def value(self):
        return self.val


class Closure(_Substitutes, Trace):
    """Runs a function one level below the current trace (or below ``target``), reading
    substituted and captured values as their replacements; records nothing.

    ``keep(prim, params)`` (a checkpoint policy): the outputs of the primitives it accepts
    are appended to ``kept``, for a recomputation to reuse. ``collective``: whether the
    run applied a collective (gpuad.distributed), so every rank must record it."""
    collective = False

    def __init__(self, subs=(), target=None, keep=None):
        Trace.__init__(self)
        self._setup(subs, target)
        self.keep = keep
        self.kept: list = []
        self.constants: dict = {}     # id -> NumPy array it read (for the node to hold)

    def wrap(self, tree_):
        """Values of this run (so that their operators reach it)."""
        return tree.tree_map(lambda v: ClosureTracer(self, v) if hasattr(v, "shape") else v,
                             tree_)

    def call_below(self, fn, leaves, rebuild):
        """``fn(*rebuild(values))`` one level below, ``leaves`` resolved to values; the
        result's arrays come back as values of this run (a function with its own rules,
        e.g. custom_jvp, applied where they are needed)."""
        return self.wrap(self.below(lambda: fn(*rebuild(self.resolve(leaves)))))

    def lower(self, tree_):
        """The values under this run's tracers in ``tree_`` (outputs of the function)."""
        return tree.tree_map(lambda v: v.val if type(v) is ClosureTracer and v._trace is self
                             else v, tree_)

    def __enter__(self):
        Trace.__enter__(self)
        if self.target is not None:
            self.parent = self.target.parent      # compute below the captured trace
        return self

    def _captured_value(self, a):
        return a.val

    def process(self, prim, args, params):
        for a in args:      # what the sweep's recompute reads again: the caller's arrays
            if type(a) is np.ndarray:    # (0-d ones too: as writable)
                self.constants[id(a)] = a
        out = self.bind_below(prim, self.resolve(args), params)
        if prim.collective:
            self.collective = True
        if self.keep is not None and prim.vjp is not None and prim.jvp is not None \
                and self.keep(prim, **params):
            self.kept.append(out)
        if prim.multiple_results:   # (an output not computed, such as a cotangent a
            # VJP rule was not asked for, stays None)
            return [None if o is None else ClosureTracer(self, o) for o in out]
        return ClosureTracer(self, out)


class Replay(_Substitutes, VJPTrace):
    """A taped run: a reverse trace on which substituted values (made inputs of this tape
    with :meth:`inputs`) carry their cotangents. Values of ``target`` it meets become new
    inputs too. ``kept``: outputs a policy kept in the first run, taken instead of
    recomputing the primitives ``keep`` accepts (in the same order)."""

    def __init__(self, subs=(), target=None, keep=None, kept=None):
        VJPTrace.__init__(self)
        self._setup(subs, target)
        self.keep, self.kept, self.n_kept = keep, kept, 0

    def __enter__(self):
        VJPTrace.__enter__(self)
        if self.target is not None:
            # Compute below the captured trace, as a Closure does: its values arrive here
            # as inputs, and a collective must not be recorded on it on the way down.
            self.parent = self.target.parent
        return self

    def inputs(self, tracers, values):
        """Inputs of this tape holding ``values``, substituted for ``tracers``."""
        xs = [self.new_input(v) for v in values]
        self.substitute(tracers, xs)
        return xs

    def _captured_value(self, a):
        r = self.new_input(a.val)
        self.substitute([a], [r])
        return r

    def process(self, prim, args, params):
        args = [self._resolve(a) if isinstance(a, Tracer) and a._trace is not self else a
                for a in args]
        if self.kept is not None and self.keep is not None and prim.vjp is not None \
                and prim.jvp is not None and self.keep(prim, **params):
            k, self.n_kept = self.n_kept, self.n_kept + 1
            if k >= len(self.kept):
                raise RuntimeError("a checkpointed segment applied more saveable primitives "
                                   "when recomputed than in its first run: it must compute "
                                   "the same thing every time it runs")
            if prim.collective or any(isinstance(a, Tracer) and a._trace is self for a in args):
                return self.record(prim, args, params, self.kept[k])    # (every rank)
            return self.kept[k]
        if prim.vjp is None and self.keep is not None:
            with unkept(self):        # (its decomposition: no primitive of the first run)
                return VJPTrace.process(self, prim, args, params)
        return VJPTrace.process(self, prim, args, params)


def enclosing_subs():
    """The substitutions in force now (a construct created inside another's rerun must
    apply them to what it closes over whenever it runs again): the current trace's own
    list, so what it substitutes later applies too."""
    return getattr(_ctx.current, "subs", [])
