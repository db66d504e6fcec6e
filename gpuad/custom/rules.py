"""Functions with hand-written derivative rules, in the style of JAX: :class:`custom_vjp`
(a reverse-mode rule) and :class:`custom_jvp` (a forward-mode rule, transposed for reverse
mode).

Under a reverse trace each call is ONE node (gpuad/segment.py): the function (or ``fwd``)
runs one level below the trace, so what it computes there is differentiated there as
usual (grad of grad differentiates ``fwd`` and ``bwd`` themselves), and the node's VJP
is the user's rule. Under forward mode, ``custom_jvp`` applies its rule; ``custom_vjp``
its ``bwd`` transposed (reverse mode over bwd, linear in its cotangent).
"""
from __future__ import annotations

import contextlib
import functools
import threading

import numpy as np

from .. import tree
from ..core import EscapedTracer, Primitive, Tracer, current, register, shape, dtype
from ..forward import JVPTrace
from ..primitives import base
from ..segment import Closure, Replay, enclosing_subs
from ..tape import VJPTrace
from ..transforms import jvp_lanes, reverse

__all__ = ["custom_vjp", "custom_jvp"]


@contextlib.contextmanager
def _naming_stale_reads(what, way_out="pass that value to the function as an argument"):
    """Name the user's function when it reads a value of a trace it runs below or after
    (its closure over a variable the same transform differentiates): the engine's own
    error would name only the primitive it reached."""
    try:
        yield
    except EscapedTracer as e:
        raise TypeError(f"{what} reads a traced value it was not given (a variable it "
                        f"closes over, differentiated by the same transform): {way_out}"
                        ) from e


def _split_args(args, nondiff, what):
    nondiff = tuple(i % len(args) for i in nondiff) if args else ()
    static = tuple(args[i] for i in nondiff)
    dyn = tuple(a for i, a in enumerate(args) if i not in nondiff)
    leaves, td = tree.flatten(dyn)
    for x in leaves:
        if not (isinstance(x, Tracer) or hasattr(x, "shape") or isinstance(x, (int, float))):
            raise TypeError(f"{what}: argument leaf of type {type(x).__name__} is not an array; "
                            "pass it through nondiff_argnums")
    return static, nondiff, leaves, td


class _Call:
    """One call of a custom_vjp/custom_jvp function: the function, its static arguments
    and the pytree structures of its arguments, outputs and (custom_vjp) residuals."""
    __slots__ = ("f", "static", "nondiff", "td", "out_td", "res_td", "res_static")

    def __init__(self, f, static, nondiff, td, out_td=None, res_td=None, res_static=None):
        self.f, self.static, self.nondiff, self.td = f, static, nondiff, td
        self.out_td, self.res_td, self.res_static = out_td, res_td, res_static

    @property
    def name(self):
        return getattr(self.f.fun, "__qualname__", "fun")

    @property
    def n_out(self):
        return _count(self.out_td)

    def args(self, leaves):
        out, s, d = [], iter(self.static), iter(tree.unflatten(self.td, leaves))
        for i in range(len(self.static) + len(self.td.children)):
            out.append(next(s) if i in self.nondiff else next(d))
        return out


_ARRAY = object()     # in a call's res_static: an array residual, an output of the node


def _count(td):
    return 1 if td.kind == "leaf" else sum(_count(c) for c in td.children)


def _is_array(x):
    return isinstance(x, Tracer) or hasattr(x, "shape") and not isinstance(x, np.generic)


def _as_array(x, like):
    return x if _is_array(x) else base.xp_of(like).asarray(x)


def _zeros(x):
    return base.xp_of(x).zeros(shape(x), dtype=dtype(x))


def _own(trace, x):
    return isinstance(x, Tracer) and x._trace is trace


def _below(trace, leaves):
    """The arguments' leaves as values one level below ``trace``."""
    return [x.value if _own(trace, x) else x for x in leaves]


def _run_below(trace, what, fn, *args):
    """``fn(*args)`` (``args`` and the result: pytrees of values) one level below the
    reverse trace ``trace``, refusing a function that reads a value of ``trace`` it was not
    given (its rule could not return its cotangent: that derivative would be lost)."""
    first = Closure(enclosing_subs(), target=trace)
    with first:
        r = first.lower(fn(*first.wrap(list(args))))
    if first.captured:
        raise TypeError(f"{what} reads a traced value it was not given as an argument (a "
                        "variable it closes over, differentiated by an enclosing transform); "
                        "its rule cannot return that value's derivative, so it would be lost: "
                        "pass the value as an argument")
    return r


def _resolved(trace, leaves):
    """``leaves`` as ``trace`` reads them: in a construct's taped rerun (a Replay), the
    values it substitutes (what a checkpointed segment or loop step closes over) replaced
    by its own inputs, as its ``process`` replaces a primitive's arguments."""
    if not isinstance(trace, Replay):
        return leaves
    return [trace._resolve(a) if isinstance(a, Tracer) and a._trace is not trace else a
            for a in leaves]


def _enclosing_only(trace, leaves):
    """Whether the traced leaves all belong to transforms enclosing the current one
    ``trace`` (a forward or reverse trace): the function is then a constant here, and its
    rule is for the trace that owns them, one level down (perturbation confusion
    otherwise: ``trace`` would differentiate the function's body, not the rule)."""
    return isinstance(trace, (JVPTrace, VJPTrace)) and not any(
        _own(trace, x) for x in leaves) and any(isinstance(x, Tracer) for x in leaves)


def _leaf_names(call):
    """Each differentiable input leaf as the user wrote it: "argument 1['w']" (the function's
    argument positions, nondiff_argnums counted)."""
    n = len(call.static) + len(call.td.children)
    pos = [i for i in range(n) if i not in call.nondiff]
    return [f"argument {i}{at}" for i, arg_td in zip(pos, call.td.children)
            for at in tree.paths(arg_td)]


def _check_cotangents(call, gx, ins, what):
    """The user rule's cotangents, one per input leaf: shape and dtype checked."""
    out = []
    for c, x, at in zip(gx, ins, _leaf_names(call)):
        if c is None:
            out.append(None)
            continue
        c = _as_array(c, x)
        if tuple(shape(c)) != tuple(shape(x)):
            raise ValueError(f"custom_vjp {call.name!r}: {what} returned a cotangent of shape "
                             f"{tuple(shape(c))} for {at}, which has shape "
                             f"{tuple(shape(x))}")
        if np.dtype(dtype(c)) != np.dtype(dtype(x)):
            raise TypeError(f"custom_vjp {call.name!r}: {what} returned a cotangent of dtype "
                            f"{np.dtype(dtype(c))} for {at}, which has dtype "
                            f"{np.dtype(dtype(x))}")
        out.append(c)
    return out


class _InFwd(threading.local):
    def __init__(self):
        self.running: list = []


_in_fwd = _InFwd()


def _fwd(call, leaves, same_level=False):
    """``(out, residuals)`` of the custom_vjp's fwd on ``leaves``. Run one level below the
    trace that records the call, a call of the function itself inside fwd (as fwd usually
    makes) is the custom function again at that level: an enclosing reverse-mode trace
    applies the rule too (grad of grad used the raw function there, and a function whose
    implementation is opaque got the wrong second derivative). Run at the same level
    (``same_level``: a replayed tape), the function itself is its definition."""
    if same_level:
        _in_fwd.running.append(call.f)
    try:
        r = call.f.fwd(*call.args(leaves))
    finally:
        if same_level:
            _in_fwd.running.pop()
    if not (isinstance(r, (tuple, list)) and len(r) == 2):
        raise TypeError(f"custom_vjp {call.name!r}: fwd must return (out, residuals)")
    return r


# ------------------------------------------------------------------ custom_vjp

class custom_vjp:
    """A function with a hand-written reverse-mode rule, in the style of JAX.

    ::

        @gpuad.custom_vjp
        def f(x): ...                       # written with gpuad.numpy
        def f_fwd(x): return f(x), residuals
        def f_bwd(residuals, g): return (gx,)    # one cotangent per argument
        f.defvjp(f_fwd, f_bwd)

    Reverse mode (grad, vjp, jacrev) runs ``fwd`` in the forward pass and ``bwd`` in the
    sweep: ``bwd(res, g)`` returns ``J^T g`` as a tuple with one entry per (non-static)
    argument, shaped like it (None for zero); a cotangent of another shape or dtype is
    refused with an error naming both. Forward mode (jvp, jacfwd; JAX refuses it) uses the
    rule too: ``J t`` is the transpose of the linear ``g -> bwd(res, g)``, computed by
    reverse mode over ``bwd``, with ``fwd``'s value. Higher order works when ``fwd`` and
    ``bwd`` are written with gpuad.numpy (so must ``bwd`` be for forward mode): hvp/hessian
    push tangents through ``bwd``; grad of grad differentiates ``bwd`` and ``fwd``, and a
    call of the function itself inside ``fwd`` is the custom function at the enclosing
    level, so the rule holds at every order. ``nondiff_argnums`` name static arguments
    (passed first to ``bwd``). The functions may not read traced values they are not given
    (their derivative would be lost; ``bwd`` runs after the forward pass): that raises a
    TypeError naming the function, or ``bwd``; a value an enclosing transform
    differentiates may be closed over.

    Example (a norm whose gradient at 0 is 0, not NaN)::

        @gpuad.custom_vjp
        def safe_norm(x):
            return gnp.sqrt(gnp.sum(x * x))
        def fwd(x):
            n = safe_norm(x)
            return n, (x, n)
        def bwd(res, g):
            x, n = res
            return (g * x / gnp.where(n > 0, n, 1.0),)
        safe_norm.defvjp(fwd, bwd)
        gpuad.grad(safe_norm)(np.zeros(3))      # [0., 0., 0.]
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None
        self._twin = None

    def defvjp(self, fwd, bwd):
        """Set the rules: ``fwd(*args) -> (out, residuals)``, ``bwd(*static, residuals, g)
        -> tuple of cotangents``. Returns ``self``."""
        self.fwd, self.bwd = fwd, bwd
        self._twin = None
        return self

    def _jvp_twin(self):
        """A custom_jvp of the same function whose rule is fwd's value and ``J t`` by
        transposing bwd: ``t -> J t`` is the transpose of the linear ``g -> J^T g =
        bwd(res, g)``, so J t is the pullback of t through bwd at any g (reverse mode over
        bwd). Differentiating fwd instead (as before) met the function itself inside fwd,
        whose own derivative is not the rule's (zero for an opaque implementation)."""
        if self._twin is not None:
            return self._twin
        nd, f = self.nondiff_argnums, self
        fname = getattr(self.fun, "__qualname__", "fun")

        def rule(*a):
            from ..transforms import vjp          # (transforms imports this module)
            static, primals, tangents = a[:-2], a[-2], a[-1]
            total = len(static) + len(primals)
            nds = {i + total if i < 0 else i for i in nd}
            args, s, p = [], iter(static), iter(primals)
            for i in range(total):
                args.append(next(s) if i in nds else next(p))
            out, res = f.fwd(*args)
            ol, otd = tree.flatten(out)
            ol = [_as_array(o, o) for o in ol]
            fl = [k for k, o in enumerate(ol) if np.dtype(dtype(o)).kind in "fc"]
            # bwd is linear in g: transposed at g = 1 (at g = 0 a bwd that skips work for a
            # zero cotangent, a common shortcut, returned None and J t came out 0);
            # integer outputs have no cotangent: zeros, not variables
            ones = [base.xp_of(ol[k]).ones(shape(ol[k]), dtype=dtype(ol[k])) for k in fl]

            def leaves_of(sub, like):
                return tree.flatten(tree.tree_map(_zeros, like) if sub is None else sub)[0]

            def inexact(leaves):
                return [x for x in leaves if np.dtype(dtype(x)).kind in "fc"]

            def transposed(*gf):
                g = [_zeros(o) for o in ol]
                for k, v in zip(fl, gf):
                    g[k] = v
                from ..numpy._methods import linear_only
                saved = linear_only.trace, linear_only.who
                linear_only.trace, linear_only.who = current(), f"custom_vjp {fname!r}: bwd"
                try:
                    r = f.bwd(*static, res, tree.unflatten(otd, g))
                finally:
                    linear_only.trace, linear_only.who = saved
                if not isinstance(r, (tuple, list)) or len(r) != len(primals):
                    raise TypeError(f"custom_vjp {fname!r}: bwd must return a tuple with "
                                    f"one cotangent per argument ({len(primals)}), got {r!r}")
                return tuple(x for c, pr in zip(r, primals) for x in inexact(leaves_of(c, pr)))
            tl = []
            for t, pr in zip(tangents, primals):
                pl = tree.flatten(pr)[0]
                tl += [x for x, q in zip(leaves_of(t, pr), pl) if np.dtype(dtype(q)).kind in "fc"]
            tout = [_zeros(o) for o in ol]
            if fl and tl:
                try:
                    _, pb = vjp(transposed, *ones)
                    gt = pb(tuple(tl))
                except (TypeError, ValueError) as e:
                    if str(e).startswith(f"custom_vjp {fname!r}"):
                        raise
                    raise type(e)(f"custom_vjp {fname!r}: bwd, transposed for forward "
                                  f"mode (jvp, jacfwd, hessian, hvp), returned a cotangent "
                                  f"unlike its argument ('output' below: bwd's result for "
                                  f"that argument): {e}") from e
                for k, v in zip(fl, gt):
                    tout[k] = v
            return out, tree.unflatten(otd, tout)
        self._twin = custom_jvp(self.fun, nondiff_argnums=nd)
        self._twin.defjvp(rule)
        return self._twin

    def __call__(self, *args):
        name = getattr(self.fun, "__qualname__", "fun")
        with _naming_stale_reads(f"custom_vjp {name!r}"):
            return self._call(name, *args)

    def _call(self, name, *args):
        if self.fwd is None:
            raise TypeError(f"custom_vjp function {name!r} has no rules: call "
                            ".defvjp(fwd, bwd) first")
        static, nondiff, leaves, td = _split_args(args, self.nondiff_argnums,
                                                  f"custom_vjp {name!r}")
        trace = current()
        if self in _in_fwd.running or not any(isinstance(x, Tracer) for x in leaves):
            return self.fun(*args)
        if isinstance(trace, Closure):            # a construct's run: its trace below
            return trace.call_below(self, leaves, _Call(None, static, nondiff, td).args)
        leaves = _resolved(trace, leaves)
        call = _Call(self, static, nondiff, td)
        if _enclosing_only(trace, leaves):        # the rule is an enclosing trace's
            return _run_below(trace, f"custom_vjp {name!r}",
                              lambda *ls: self(*call.args(ls)), *leaves)
        if not (isinstance(trace, VJPTrace) and any(_own(trace, x) for x in leaves)):
            # forward mode: fwd's value, and J t from bwd transposed (a custom_jvp twin)
            return self._jvp_twin()(*args)
        out, res = _run_below(trace, f"custom_vjp {name!r}",
                              lambda *ls: _fwd(call, ls), *_below(trace, leaves))
        ol, call.out_td = tree.flatten(out)
        rl, call.res_td = tree.flatten(res)
        call.res_static = [_ARRAY if _is_array(r) else r for r in rl]
        like = next(iter(_below(trace, leaves)))
        outs = trace.record(custom_vjp_p, leaves, {"call": call},
                            [_as_array(o, like) for o in ol] + [r for r in rl if _is_array(r)])
        trace.tape[-1].freeze(rl)     # bwd reads the residuals: the caller's arrays among them
        return tree.unflatten(call.out_td, outs[:call.n_out])


def _vjp_fwd(*leaves, call):
    """The generic path (a replayed tape): fwd's outputs, then its residuals' array leaves,
    with the structures of the call that recorded it."""
    out, res = _fwd(call, leaves, same_level=True)
    ol, otd = tree.flatten(out)
    rl, rtd = tree.flatten(res)
    if otd != call.out_td or rtd != call.res_td:
        raise TypeError(f"custom_vjp {call.name!r}: fwd returned ({otd}, {rtd}) where it "
                        f"returned ({call.out_td}, {call.res_td}) before")
    return [_as_array(o, leaves[0]) for o in ol] + [r for r in rl if _is_array(r)]


def _vjp_rule(g, ins, out, call):
    n = call.n_out
    if any(x is not None for x in g[n:]):
        raise NotImplementedError(
            f"custom_vjp {call.name!r}: reverse mode through its residuals (grad of grad "
            "through a replayed tape) is not supported; call the function again instead")
    res_it = iter(out[n:])
    res = tree.unflatten(call.res_td, [next(res_it) if s is _ARRAY else s
                                       for s in call.res_static])
    ct = tree.unflatten(call.out_td, [_zeros(o) if x is None else x
                                      for x, o in zip(g[:n], out[:n])])
    # bwd runs in the sweep, after the forward pass traced: a value of that pass read from
    # its closure is stale there (and its own derivative would be lost).
    with _naming_stale_reads(f"custom_vjp {call.name!r}: bwd", "pass that value to the "
                             "function as an argument and return what bwd needs from fwd "
                             "among the residuals"):
        r = call.f.bwd(*call.static, res, ct)
    if not isinstance(r, (tuple, list)) or len(r) != len(call.td.children):
        raise TypeError(f"custom_vjp {call.name!r}: bwd must return a tuple with one "
                        f"cotangent per argument ({len(call.td.children)}), got {r!r}")
    gx = []
    for k, (sub, arg_td) in enumerate(zip(r, call.td.children)):
        if sub is None:
            gx += [None] * _count(arg_td)
            continue
        leaves, td = tree.flatten(sub)
        if td != arg_td:
            raise TypeError(f"custom_vjp {call.name!r}: bwd returned a cotangent of structure "
                            f"{td} for argument {k}, which has structure {arg_td}")
        gx += leaves
    return tuple(_check_cotangents(call, gx, ins, "bwd"))


custom_vjp_p = register(Primitive(
    "custom_vjp_call", _vjp_fwd, vjp=_vjp_rule, decompose=_vjp_fwd, saves="both",
    multiple_results=True,
    doc="a custom_vjp function: fwd in the forward pass, bwd in the sweep; forward mode "
        "transposes bwd"))


# ------------------------------------------------------------------ custom_jvp

class custom_jvp:
    """A function with a hand-written forward-mode rule, in the style of JAX.

    ::

        @gpuad.custom_jvp
        def f(x): ...                                    # written with gpuad.numpy
        @f.defjvp
        def f_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            return f(x), <J(x) t, written with gpuad.numpy>

    Forward mode uses the rule: ``jvp_fn(primals, tangents) -> (out, J t)``, tangents
    shaped like the primals. All L tangent lanes of a sweep (batched HVP, jacfwd) go
    through ONE call: the rule is differentiated at t = 0 along the L lanes, which for a
    rule linear in t yields J t for every lane. Reverse mode is derived from the same rule:
    since ``t -> J t`` is linear, ``J^T g`` is the gradient of ``<g, J t>`` with respect to
    t, computed by reverse mode over the rule. So one rule serves jvp, grad, hvp, hessian
    and, when the rule is written with gpuad.numpy, every higher order. The function and
    its rule may not read a traced value the same transform differentiates without being
    given it (its derivative would be lost): a TypeError names the function and says to
    pass the value as an argument; one an enclosing transform differentiates may be
    closed over.

    Example (log-sum-exp, stable in both directions)::

        @gpuad.custom_jvp
        def logsumexp(x):
            m = gpuad.stop_gradient(gnp.max(x))
            return m + gnp.log(gnp.sum(gnp.exp(x - m)))
        @logsumexp.defjvp
        def _(primals, tangents):
            (x,), (t,) = primals, tangents
            y = logsumexp(x)
            return y, gnp.sum(gnp.exp(x - y) * t)
        gpuad.hessian(logsumexp)(np.array([1000.0, 1000.0]))   # [[.25, -.25], [-.25, .25]]
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp_fn = None

    def defjvp(self, jvp_fn):
        """Set the rule ``jvp_fn(*static, primals, tangents) -> (out, tangent_out)``.
        Returns ``jvp_fn`` (so it works as a decorator)."""
        self.jvp_fn = jvp_fn
        return jvp_fn

    def __call__(self, *args):
        name = getattr(self.fun, "__qualname__", "fun")
        with _naming_stale_reads(f"custom_jvp {name!r}"):
            return self._call(name, *args)

    def _call(self, name, *args):
        if self.jvp_fn is None:
            raise TypeError(f"custom_jvp function {name!r} has no rule: call .defjvp(jvp_fn)")
        static, nondiff, leaves, td = _split_args(args, self.nondiff_argnums,
                                                  f"custom_jvp {name!r}")
        trace = current()
        if isinstance(trace, Closure):            # a construct's run: its trace below
            return trace.call_below(self, leaves, _Call(None, static, nondiff, td).args)
        leaves = _resolved(trace, leaves)
        args = _merge_args(static, nondiff, td, leaves)
        if _enclosing_only(trace, leaves):        # the rule is an enclosing trace's
            return _run_below(trace, f"custom_jvp {name!r}",
                              lambda *ls: self(*_merge_args(static, nondiff, td, ls)),
                              *leaves)
        if not isinstance(trace, (JVPTrace, VJPTrace)) and \
                any(isinstance(x, Tracer) for x in leaves):
            # Another trace (Taylor mode, its own values or not): the call as a primitive,
            # which that trace differentiates through the rule (custom_jvp_p's jvp).
            call = _Call(self, static, nondiff, td, _out_td(self, leaves, static,
                                                            nondiff, td))
            return tree.unflatten(call.out_td, bind_jvp_call(leaves, call))
        if not any(_own(trace, x) for x in leaves):
            return self.fun(*args)
        call = _Call(self, static, nondiff, td)
        below = _below(trace, leaves)
        if isinstance(trace, JVPTrace):
            tangents = [x.tangent if _own(trace, x) else None for x in leaves]
            out, tout, call.out_td = trace.below(_rule_lanes, call, below, tangents)
            return tree.unflatten(call.out_td, [trace.wrap(o, t) for o, t in zip(out, tout)])
        # The function itself one level down: a forward trace there applies the rule too.
        out = _run_below(trace, f"custom_jvp {name!r}", lambda *ls: self(*call.args(ls)),
                         *below)
        ol, call.out_td = tree.flatten(out)
        outs = trace.record(custom_jvp_p, leaves, {"call": call},
                            [_as_array(o, below[0]) for o in ol])
        return tree.unflatten(call.out_td, outs)


def _merge_args(static, nondiff, td, leaves):
    return _Call(None, static, nondiff, td).args(leaves)


def _out_td(f, leaves, static, nondiff, td):
    """The output structure of ``f`` at these arguments (from one evaluation on values)."""
    from ..core import full_lower
    return tree.flatten(f.fun(*_merge_args(static, nondiff, td,
                                           [full_lower(x) for x in leaves])))[1]


def bind_jvp_call(leaves, call):
    from ..core import bind
    return bind(custom_jvp_p, *leaves, call=call)


def _jvp_apply(call, primals, tangents):
    """(out leaves, tangent-out leaves, out structure) of the rule at one set of
    primal-shaped tangents."""
    p = list(tree.unflatten(call.td, primals))
    t = list(tree.unflatten(call.td, tangents))
    with _naming_stale_reads(f"custom_jvp {call.name!r}: the rule"):
        r = call.f.jvp_fn(*call.static, tuple(p), tuple(t))
    if not (isinstance(r, (tuple, list)) and len(r) == 2):
        raise TypeError(f"custom_jvp {call.name!r}: the rule must return (out, tangent_out)")
    ol, otd = tree.flatten(r[0])
    tl, ttd = tree.flatten(r[1])
    if ttd != otd:
        raise TypeError(f"custom_jvp {call.name!r}: the rule's tangent_out has structure "
                        f"{ttd}, its out {otd}")
    like = primals[0] if primals else None
    outs = [_as_array(o, like) for o in ol]
    touts = []
    for tt, o in zip(tl, outs):
        tt = _zeros(o) if tt is None else _as_array(tt, o)
        if tuple(shape(tt)) != tuple(shape(o)) or np.dtype(dtype(tt)) != np.dtype(dtype(o)):
            raise ValueError(f"custom_jvp {call.name!r}: the rule returned a tangent of shape "
                             f"{tuple(shape(tt))} and dtype {np.dtype(dtype(tt))} for an "
                             f"output of shape {tuple(shape(o))} and dtype {np.dtype(dtype(o))}")
        touts.append(tt)
    return outs, touts, otd


def _rule_lanes(call, primals, tangents):
    """The rule over every tangent lane: (out leaves, tangent lanes, out structure)."""
    L = next(int(shape(t)[0]) for t in tangents if t is not None)
    if L == 1:
        ts = [_zeros(p) if t is None else base.reshape(t, tuple(shape(p)))
              for p, t in zip(primals, tangents)]
        out, tout, otd = _jvp_apply(call, primals, ts)
        return out, [base.reshape(t, (1,) + tuple(shape(t))) for t in tout], otd
    # All lanes in one call: differentiate the rule, linear in its tangents, at t = 0
    # along the L lanes; d/ds jvp_fn(x, s t_l)[1] = jvp_fn(x, t_l)[1].
    # (an integer or boolean primal has no tangent: its zero is a constant, not a variable
    # of the differentiation, which refuses integer inputs)
    var = [k for k, p in enumerate(primals) if np.dtype(dtype(p)).kind in "fc"]
    zeros = tuple(_zeros(primals[k]) for k in var)
    lanes = tuple(base.lane_zeros(primals[k], L) if tangents[k] is None else tangents[k]
                  for k in var)
    found = []

    def tangent_out(*ts):
        full = [_zeros(p) for p in primals]
        for k, t in zip(var, ts):
            full[k] = t
        out, tout, otd = _jvp_apply(call, primals, full)
        found.append(otd)
        return out, tout
    (out, _), (_, tout) = jvp_lanes(tangent_out, zeros, lanes, L)
    return out, tout, found[0]


def _custom_jvp_rule(primals, tangents, call):
    out, tout, _ = _rule_lanes(call, primals, tangents)
    return out, tout


def _jvp_eval(*leaves, call):
    return [_as_array(o, leaves[0]) for o in tree.flatten(call.f.fun(*call.args(leaves)))[0]]


def _custom_jvp_vjp(g, ins, out, call):
    # J^T g = d/dt <g, J t>: reverse mode over the rule's tangent output (linear in t).
    idx = [i for i, x in enumerate(ins) if np.dtype(dtype(x)).kind in "fc"]
    keep = [j for j, x in enumerate(g) if x is not None]
    if not idx or not keep:
        return (None,) * len(ins)

    def tout_of(*ts):
        full = [_zeros(x) for x in ins]
        for i, t in zip(idx, ts):
            full[i] = t
        tout = _jvp_apply(call, list(ins), full)[1]
        return [tout[j] for j in keep]
    _, fn, _ = reverse(tout_of, tuple(_zeros(ins[i]) for i in idx))
    gx = fn([g[j] for j in keep])
    res = [None] * len(ins)
    for i, c in zip(idx, gx):
        res[i] = c
    return tuple(res)


custom_jvp_p = register(Primitive(
    "custom_jvp_call", _jvp_eval, jvp=_custom_jvp_rule, vjp=_custom_jvp_vjp, saves="ins",
    multiple_results=True,
    doc="a custom_jvp function: its rule in forward mode, the rule's transpose in reverse"))
