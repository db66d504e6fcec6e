"""Forward mode: a value with K tangent lanes (:class:`JVPTracer`) and the trace that pushes
them through each primitive's hand-written JVP rule (:class:`JVPTrace`). The engine's other
half, reverse mode, is gpuad/tape.py; both build on gpuad/core.py."""
from __future__ import annotations

import numpy as np

from .core import Trace, Tracer, check_order, dtype, foreign, full_lower, shape
from .runtime.launch import launcher


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent", "fresh")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent        # None (symbolic zero) or shape (L,) + primal.shape
        self.fresh = False            # its arrays are new, held by nothing else: JVPTrace._fused

    @property
    def value(self):
        return self.primal


class JVPTrace(Trace):
    """Forward mode: each primitive's hand-written JVP rule pushes ``lanes`` tangents."""

    def __init__(self, lanes: int):
        super().__init__()
        self.lanes = lanes

    def process(self, prim, args, params, acc=None):
        primals, tangents = [], []
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                if isinstance(a, Tracer):
                    foreign(prim, a)
                primals.append(a)
                tangents.append(None)
        if all(t is None for t in tangents):
            if not prim.collective:
                return self.bind_below(prim, primals, params)
            tangents = [_lane_zeros(p, self.lanes) if _floating(p) else None for p in primals]
        if prim.max_order is not None:
            check_order(prim, args)
        if prim.jvp is None:
            if prim.decompose is None:
                raise NotImplementedError(f"primitive {prim.name!r} has no JVP rule")
            return prim.decompose(*args, **params)    # its primitives come back here
        if prim.jvp_acc:
            return self._fused(prim, primals, tangents, params, acc)
        out, tout = self.below(prim.jvp, primals, tangents, **params)
        if prim.multiple_results:
            return [self.wrap(o, t) for o, t in zip(out, tout)]
        return self.wrap(out, tout)

    def wrap(self, out, tout):
        """A value of this trace: ``out`` (one level down) with tangent lanes ``tout``."""
        return out if tout is None else JVPTracer(self, out, tout)

    process_acc = process     # (its ``acc``: see _fused)

    def _fused(self, prim, primals, tangents, params, acc):
        """Apply a JVP rule that names ``acc``: the fused dual VJP kernels, which a reverse
        sweep under this trace (forward-over-reverse) calls with its dual cotangent buffers
        as ``acc`` (one value of this trace, or one per output). The rule gets each buffer's
        (value, lanes) arrays to add into and returns, per output, either those arrays or
        arrays it made fresh. The first come back as the buffer itself (the sweep sees
        ``gx is buf``); the second as a value marked ``fresh``, which one sweep may then
        own and add into (``tape.Cotangents``): nothing else holds its arrays."""
        multi = prim.multiple_results
        accs = () if acc is None else acc if multi else (acc,)
        pairs = [(a.primal, a.tangent) if type(a) is JVPTracer and a._trace is self
                 and not isinstance(a.primal, Tracer) and not isinstance(a.tangent, Tracer)
                 else None for a in accs]
        if pairs:
            params = dict(params, acc=pairs if multi else pairs[0])
        out, tout = self.below(prim.jvp, primals, tangents, **params)
        if not multi:
            out, tout = [out], [tout]
        res = []
        for j, (o, t) in enumerate(zip(out, tout)):
            p = pairs[j] if pairs else None
            if p is not None and o is p[0] and t is p[1]:
                res.append(accs[j])
                continue
            v = self.wrap(o, t)
            if (t is not None and not isinstance(o, Tracer) and not isinstance(t, Tracer)
                    and (p is None or (o is not p[0] and t is not p[1]))):
                v.fresh = True
            res.append(v)
        return res if multi else res[0]


def _floating(v):
    return np.dtype(dtype(full_lower(v))).kind in "fc"


def _lane_zeros(v, lanes):
    v = full_lower(v)
    return launcher(v).xp.zeros((lanes,) + tuple(shape(v)), dtype=dtype(v))
