"""Which primitives a function applies that a transform cannot differentiate, found before
any sweep runs."""
from __future__ import annotations

from . import tree
from .core import REGISTRY
from .tape import VJPTrace, VJPTracer
from .taylor import unsupported
from .transforms import as_input


class _Probe(VJPTrace):
    """A reverse trace that also lists the primitives a function applies."""

    def __init__(self):
        super().__init__()
        self.used: list[str] = []
        self._processing = None

    def process(self, prim, args, params):
        if any(isinstance(a, VJPTracer) and a._trace is self for a in args):
            self.used.append(prim.name)
        self._processing = prim
        try:
            return super().process(prim, args, params)
        finally:
            self._processing = None

    def record(self, prim, args, params, out, ins=None):
        if prim is not self._processing:        # recorded by a construct (checkpoint, ...)
            self.used.append(prim.name)
        return super().record(prim, args, params, out, ins)


MODES = ("grad", "vjp", "jvp", "hvp", "hessian", "jacfwd", "jacrev", "taylor")


def check_support(fun, *args, mode="hvp"):
    """Primitives ``fun(*args)`` applies that ``mode`` cannot differentiate, before any sweep.

    Runs the forward pass once (recording, not differentiating) and returns a list of
    ``(primitive name, what is missing)``; empty means supported. ``mode`` is one of
    grad, vjp, jvp, hvp, hessian, jacfwd, jacrev, taylor.

    Example::

        >>> gpuad.check_support(lambda x: gnp.sum(gnp.sin(x)), np.ones(3), mode="hvp")
        []
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    probe = _Probe()
    with probe:
        leaves_td = [tree.flatten(a) for a in args]
        wrapped = [tree.unflatten(td, [probe.new_input(as_input(x, f"argument {i}"))
                                       for x in leaves])
                   for i, (leaves, td) in enumerate(leaves_td)]
        fun(*wrapped)
    if mode == "taylor":
        return unsupported(probe.used, mode)
    order = 2 if mode in ("hvp", "hessian") else 1
    need_rev = mode in ("grad", "vjp", "hvp", "hessian", "jacrev")
    bad = []
    for name in dict.fromkeys(probe.used):
        p = REGISTRY[name]
        if need_rev and p.vjp is None and p.decompose is None:
            bad.append((name, "no VJP rule"))
        elif not need_rev and p.jvp is None and p.decompose is None:
            bad.append((name, "no JVP rule"))
        elif p.max_order is not None and order > p.max_order:
            bad.append((name, f"derivative rules only to order {p.max_order}"
                              + (f" ({p.missing})" if p.missing else "")))
    return bad
