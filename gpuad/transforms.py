"""The public transforms: grad, value_and_grad, vjp, jvp, hvp, jacfwd, jacrev, jacobian,
hessian, stop_gradient."""
from __future__ import annotations

import functools
import itertools
import math
import numbers
import weakref

import numpy as np

from . import tree
from .core import Tracer, agree, bind, full_lower, shape, dtype
from .forward import JVPTrace, JVPTracer
from .tape import VJPTrace, VJPTracer
from .primitives import base
from .runtime.launch import launcher


# ------------------------------------------------------------------ inputs and outputs

def as_input(x, what: str):
    """An argument leaf as an array (or tracer), refusing what cannot be differentiated."""
    if isinstance(x, Tracer):
        dt = x.dtype
    else:
        xp = base.xp_of(x)
        if isinstance(x, bool) or isinstance(x, numbers.Integral) and not isinstance(x, np.generic):
            raise TypeError(f"{what} is a Python {type(x).__name__}; only floating-point "
                            "and complex inputs can be differentiated (pass a float)")
        x = xp.asarray(x)
        dt = x.dtype
    if np.dtype(dt).kind not in "fc":
        raise TypeError(f"{what} has dtype {np.dtype(dt)}; only floating-point and complex "
                        "inputs can be differentiated (cast it with .astype(float))")
    if np.dtype(dt) not in base.FLOATS + base.COMPLEX:   # float16, longdouble, ...
        # the nearest supported type: float32 for float16 (it holds every value), the
        # double types for the extended ones
        wide = np.dtype(dt).itemsize > (16 if np.dtype(dt).kind == "c" else 8)
        to = ("complex128" if wide else "complex64") if np.dtype(dt).kind == "c" else \
            ("float64" if wide else "float32")
        raise TypeError(f"{what} has dtype {np.dtype(dt)}; gpuad's kernels differentiate "
                        "float32, float64, complex64 and complex128 (cast it with "
                        f".astype(numpy.{to}))")
    return x


def _is_py_number(x):
    return isinstance(x, (float, complex)) and not isinstance(x, np.generic)


def _restore(g, like):
    """A cotangent returned in the kind of the user's argument (a Python float or complex
    stays one)."""
    if _is_py_number(like) and not isinstance(g, Tracer):
        return complex(g) if isinstance(like, complex) else float(g)
    return g


def _kind(x):
    return np.dtype(dtype(x)).kind


def check_complex(name, holomorphic, inputs=None, outputs=None):
    """JAX's rules for complex numbers in ``name`` (grad, jacfwd, jacrev, ...): without
    ``holomorphic`` the inputs (if given) and outputs (if given) must be real, with it
    complex. A TypeError that names ``holomorphic=True`` otherwise."""
    for what, leaves in (("input", inputs), ("output", outputs)):
        for x in tree.flatten(leaves)[0] if leaves is not None else ():
            if x is None:
                continue
            k = _kind(x)
            if holomorphic and k != "c":
                raise TypeError(f"{name} with holomorphic=True needs {what}s with a complex "
                                f"dtype, got {np.dtype(dtype(x))}")
            if not holomorphic and k == "c":
                raise TypeError(
                    f"{name} needs real-valued {what}s, got dtype {np.dtype(dtype(x))}. For a "
                    f"holomorphic function pass holomorphic=True (the result is the complex "
                    f"derivative f'(z)); for other functions of complex numbers use gpuad.vjp "
                    f"or gpuad.jvp directly" + (", or differentiate a real value (abs, real, "
                                                "imag) of the output" if what == "output" else ""))


def _zeros(x):
    xp = base.xp_of(x)
    return xp.zeros(shape(x), dtype=dtype(x))


def _unwrap(o, trace):
    """The value under ``trace``'s layer of an output (constants pass through)."""
    if isinstance(o, VJPTracer) and o._trace is trace:
        return o.val
    if isinstance(o, JVPTracer) and o._trace is trace:
        return o.primal
    return o


# ------------------------------------------------------------------ reverse mode

def reverse(fun, primals, has_aux=False, names=None):
    """Reverse mode with its parts: ``(out, vjp_fn, aux)``; ``vjp_fn(ct, _free=False)``."""
    leaves_td = [tree.flatten(p) for p in primals]
    scope = _scope(leaves_td)
    trace = VJPTrace()
    try:
        with scope, trace:
            args = []
            for i, (leaves, td) in enumerate(leaves_td):
                what = names[i] if names else f"argument {i}"
                # (None: an empty subtree, as in JAX; its gradient is None)
                vals = [None if x is None else as_input(x, what) for x in leaves]
                trace.freeze_inputs([v for v in vals if v is not None])
                xs = [None if v is None else trace.new_input(v) for v in vals]
                args.append(tree.unflatten(td, xs))
            res = fun(*args)
    except BaseException:
        trace.thaw()
        raise
    if has_aux:
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise TypeError("has_aux=True needs the function to return a pair (output, aux)")
        res, aux = res
        aux = tree.tree_map(lambda a: _unwrap(a, trace), aux)
    else:
        aux = None
    out_leaves, out_td = tree.flatten(res)
    _check_outputs(fun, out_leaves, out_td)
    out_vals = [_unwrap(o, trace) for o in out_leaves]

    def vjp_fn(ct, _free=False, _lanes_only=False):
        ct_leaves, ct_td = tree.flatten(ct)
        if ct_td != out_td:
            raise ValueError(f"cotangent structure {ct_td} does not match the output's {out_td}")
        outs, cts = [], []
        for o, v, c, at in zip(out_leaves, out_vals, ct_leaves, tree.paths(out_td)):
            if v is None:             # a None in the output: its cotangent is None too
                if c is not None:
                    raise ValueError(f"cotangent{at} for a None in the output must be None, "
                                     f"got a {type(c).__name__}")
                continue
            c = _check_ct(c, v, at)
            if isinstance(o, VJPTracer) and o._trace is trace:
                outs.append(o)
                cts.append(c)
        with scope:
            gs = trace.backward(outs, cts, free=_free, lanes_only=_lanes_only)
        res_, k = [], 0
        for (leaves, td), primal in zip(leaves_td, primals):
            gl = []
            for x in leaves:
                if x is None:
                    gl.append(None)
                    continue
                g = gs[k]
                k += 1
                gl.append(_restore(_zeros(x) if g is None else g, x))
            res_.append(tree.unflatten(td, gl))
        with scope:                   # (CuPy compares arrays on their own device)
            return _unaliased(tuple(res_), [*given, *ct_leaves])

    # The saved arrays stay read-only while the pullback can still sweep the tape.
    weakref.finalize(vjp_fn, VJPTrace.thaw, trace)
    given = [x for leaves, _ in leaves_td for x in leaves]
    # ... and the arrays the tape saved for the sweep: an output that is one of them or a
    # view of one (s[:3] of a saved s), written into by the caller before the pullback,
    # changed the gradient silently
    saved = given
    if any(hasattr(v, "flags") and not isinstance(v, (Tracer, np.generic))
           for v in itertools.chain(out_vals, tree.flatten(aux)[0] if aux is not None else ())):
        saved = given + [v for node in trace.tape for part in (node.ins, node.out)
                         for v in (part if isinstance(part, (tuple, list)) else (part,))
                         if hasattr(v, "flags") and not isinstance(v, Tracer)]
    with scope:
        out = _unaliased(tree.unflatten(out_td, out_vals), saved)
        aux = None if aux is None else _unaliased(aux, saved)
    return out, vjp_fn, aux


def _scope(leaves_td):
    """The device of the input leaves, current while a transform computes on them (on a
    GPU every allocation and launch then happens where the inputs live)."""
    leaves = [l for ls, _ in leaves_td for l in ls if l is not None]
    return launcher(*leaves).scope(leaves)


def _unaliased(res, given):
    """``res`` (a pytree handed back to the caller) with every plain array leaf that shares
    memory with an array the caller gave (``given``: primals, tangents, cotangents) or that
    is a read-only view the engine made (a broadcast cotangent) replaced by a copy: NumPy
    users write into arrays they get back, and writing into one of these would change
    their own inputs (an identity function's output is its input) or raise."""
    given = [g for g in given if not isinstance(g, Tracer) and hasattr(g, "shape")]

    def own(r):
        if isinstance(r, Tracer) or not hasattr(r, "flags"):
            return r
        xp = base.xp_of(r)
        dev = getattr(r, "device", None)      # (arrays on two GPUs share no memory)
        if (isinstance(r, np.ndarray) and not r.flags.writeable) or any(
                xp.may_share_memory(r, g) for g in given
                if base.xp_of(g) is xp and getattr(g, "device", None) == dev):
            return r.copy()
        return r
    return tree.tree_map(own, res)


def _check_outputs(fun, leaves, td=None):
    """A transformed function returns arrays (NumPy, CuPy, traced) or numbers; a pytree
    of them may hold None (an empty subtree, as in JAX: its derivatives are None)."""
    for o in leaves:
        if o is None and td is not None and td.kind != "leaf":
            continue
        if not (isinstance(o, (Tracer, numbers.Number, np.generic)) or
                hasattr(o, "shape") and hasattr(o, "dtype")):
            name = getattr(fun, "__name__", "the function")
            what = "None (a missing return?)" if o is None else f"a {type(o).__name__}"
            raise TypeError(f"{name} returned {what}; a transformed function must return "
                            "arrays (or pytrees of them)")


def _check_ct(c, out, at=""):
    """at: the leaf's path in a pytree output ("[1]", "['loss']"), for the messages."""
    if isinstance(c, (numbers.Number, np.generic)) and not isinstance(c, Tracer):
        c = base.xp_of(out).asarray(c, dtype=dtype(out))
    elif not isinstance(c, Tracer):   # a NumPy cotangent of a CuPy output, or the reverse
        c = launcher(out).put(c, like=out)
    if tuple(shape(c)) != tuple(shape(out)):
        raise ValueError(f"cotangent{at} has shape {tuple(shape(c))} but the output{at} has "
                         f"shape {tuple(shape(out))}")
    if np.dtype(dtype(c)) != np.dtype(dtype(out)):
        raise ValueError(f"cotangent{at} has dtype {np.dtype(dtype(c))} but the output{at} has "
                         f"dtype {np.dtype(dtype(out))} (shape {tuple(shape(out))})")
    return c


def vjp(fun, *primals, has_aux=False):
    """Reverse mode: ``(out, vjp_fn)`` with ``vjp_fn(ct) = ct^T J`` for each primal.

    ``out = fun(*primals)``; ``vjp_fn(ct)`` returns a tuple with one cotangent per primal,
    each shaped like it, equal to the transpose of the Jacobian applied to ``ct``.

    Example::

        >>> out, f_vjp = gpuad.vjp(lambda x: gnp.sin(x) * 2.0, np.array([0.0, 1.0]))
        >>> f_vjp(np.ones(2))      # (2 cos(x),)
        (array([2.        , 1.08060461]),)
    """
    out, fn, aux = reverse(fun, primals, has_aux)
    return (out, fn, aux) if has_aux else (out, fn)


def _argnums(argnums, nargs):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"argnums {a} is out of range for {nargs} positional arguments")
    return single, tuple(a % nargs for a in nums)


def value_and_grad(fun, argnums=0, has_aux=False, holomorphic=False):
    """``fun`` and its gradient together: returns ``(fun(*args), grad)``.

    ``fun`` must return a real scalar; the gradient with respect to ``args[argnums]`` is
    ``d fun / d args[argnums]``, shaped like that argument (a tuple for tuple argnums).
    With ``has_aux=True`` ``fun`` returns ``(value, aux)`` and the result is
    ``((value, aux), grad)``. Complex arguments and ``holomorphic`` as in :func:`grad`.

    Example::

        >>> gpuad.value_and_grad(lambda x: gnp.sum(x ** 2))(np.array([1.0, 2.0]))
        (array(5.), array([2., 4.]))
    """
    @functools.wraps(fun)
    def vg(*args, **kwargs):
        single, nums = _argnums(argnums, len(args))
        uniq = tuple(dict.fromkeys(nums))     # argnums=(0, 0): one gradient, given twice
        if holomorphic:
            check_complex("grad", True, inputs=[args[i] for i in uniq])

        @functools.wraps(fun)
        def f(*diff):
            a = list(args)
            for i, d in zip(uniq, diff):
                a[i] = d
            return fun(*a, **kwargs)

        out, fn, aux = reverse(f, tuple(args[i] for i in uniq), has_aux,
                               names=[f"argument {i} of {getattr(fun, '__name__', 'fun')}"
                                      for i in uniq])
        g = fn(_grad_seed(out, holomorphic), _free=True)
        g = dict(zip(uniq, g))
        g = g[nums[0]] if single else tuple(g[i] for i in nums)
        return ((out, aux) if has_aux else out), g
    return vg


def _grad_seed(out, holomorphic):
    """The cotangent 1 of grad's output ``out``, which must be a real (or, holomorphic, a
    complex) floating-point scalar (or of size 1)."""
    if isinstance(out, (tuple, list, dict)) or math.prod(shape(out)) != 1:
        what = (type(out).__name__ if isinstance(out, (tuple, list, dict))
                else f"shape {tuple(shape(out))}")
        raise TypeError(f"grad needs a scalar output (or one of size 1), got {what}; use "
                        "gpuad.jacobian or gpuad.vjp for non-scalar outputs")
    check_complex("grad", holomorphic, outputs=out)
    if _kind(out) not in "fc":
        raise TypeError(f"grad needs a floating-point output, got dtype {np.dtype(dtype(out))}")
    dev = launcher(out)
    with dev.scope((out,)):
        return dev.xp.ones(shape(out), dtype=dtype(out))


def _grad_for_lanes(fun):
    """``grad(fun)`` of one argument for a caller under a forward trace that keeps only
    the gradient's tangent lanes (:func:`hvp`): the sweep may leave the gradient's own
    value uncomputed (NaN) where its lanes alone cost less (``tape.dead_values``)."""
    name = getattr(fun, "__name__", "fun")

    def g(x):
        out, fn, _ = reverse(fun, (x,), names=[f"argument 0 of {name}"])
        return fn(_grad_seed(out, False), _free=True, _lanes_only=True)[0]
    return g


def grad(fun, argnums=0, has_aux=False, holomorphic=False):
    """The gradient of a scalar function: ``grad(f)(x) = df/dx``, shaped like ``x``.

    Computed in reverse mode: the forward pass records a tape, one sweep backwards applies
    each primitive's VJP kernel. ``argnums`` picks the argument(s) (an int or a tuple);
    arguments may be arrays (NumPy or CuPy), Python floats, or pytrees of them.

    Complex arguments (JAX's convention): for a real ``f`` of ``z = x + iy`` the gradient is
    ``df/dx - i df/dy`` (``grad(lambda z: abs(z) ** 2)(z)`` is ``2 conj(z)``): it is
    ``vjp(f, z)[1](1.0)``, and ``-grad`` is the direction of steepest descent after
    conjugation (descend with ``z - lr * conj(grad(f)(z))``). A complex output raises a
    TypeError unless ``holomorphic=True``, which needs complex arguments and a complex
    output and returns the complex derivative ``f'(z)``.

    Example::

        >>> gpuad.grad(lambda x: gnp.sum(gnp.sin(x) * x ** 2))(np.array([1.0, 2.0]))
        array([2.22324428, 1.97260236])
        >>> gpuad.grad(lambda z: gnp.abs(z) ** 2)(1.0 + 2.0j)
        (2-4j)
        >>> gpuad.grad(gnp.sin, holomorphic=True)(np.array(1.0 + 2.0j))   # cos(z)
        array(2.03272301-3.0518978j)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    @functools.wraps(fun)
    def g(*args, **kwargs):
        res, gr = vg(*args, **kwargs)
        return (gr, res[1]) if has_aux else gr
    return g


# ------------------------------------------------------------------ forward mode

def cast_tangent(t, x, tname, pname):
    """A tangent array in its primal's dtype: a safe cast (float32 for float64) is taken;
    one that may round (float64 for float32) or a complex tangent of a real primal is a
    TypeError naming both (jvp, hvp, taylor's direction)."""
    td, xd = np.dtype(dtype(t)), np.dtype(dtype(x))
    if td == xd:
        return t
    if td.kind == "c" and xd.kind != "c":
        raise TypeError(f"{tname} is complex ({td}) but {pname} is real ({xd})")
    if not np.can_cast(td, xd, "safe"):
        raise TypeError(f"{tname} has dtype {td} but {pname} has dtype {xd}; the cast may "
                        f"round the tangent: pass it as {xd} (.astype({xd.name!r}))")
    return base.astype(t, xd)


def jvp_lanes(fun, primals, tangents, lanes, names=None):
    """Push ``lanes`` tangent directions through ``fun`` in one forward sweep.

    ``tangents`` mirror ``primals`` with an extra leading axis of length ``lanes``.
    ``names[i]``: (primal's name, tangent's name) in error messages (default ``primal i``,
    ``tangent i``; hvp's are ``x`` and ``v``). A tangent's dtype is its primal's, or one
    NumPy casts safely (float32 for a float64 primal); another (float64 for a float32
    primal), which may round it and push a direction other than the one given, is refused
    (vjp refuses every other cotangent dtype; JAX's jvp, with x64, every other tangent dtype).
    Returns (out, tangent lanes of out) as pytrees.
    """
    trace = JVPTrace(lanes)
    scope = _scope([tree.flatten(p) for p in primals])
    with scope, trace:
        args = []
        for i, (p, t) in enumerate(zip(primals, tangents)):
            pname, tname = names[i] if names else (f"primal {i}", f"tangent {i}")
            pl, ptd = tree.flatten(p)
            tl, ttd = tree.flatten(t)
            if ptd != ttd:
                raise ValueError(f"{tname} has structure {ttd}, {pname} has {ptd}")
            xs = []
            for x, tx, at in zip(pl, tl, tree.paths(ptd)):   # at: the leaf's path, "['W1']"
                if x is None or tx is None:   # an empty subtree: None in both
                    if x is not tx:
                        raise ValueError(f"{tname}{at} is None where {pname} has an array, "
                                         "or the reverse")
                    xs.append(None)
                    continue
                x = as_input(x, pname + at)
                if not isinstance(tx, Tracer):    # on the primal's device
                    tx = launcher(x).put(tx, like=x)
                want = (lanes,) + tuple(shape(x))
                if tuple(shape(tx)) != want:
                    raise ValueError(f"{tname}{at} has shape {tuple(shape(tx))} with its "
                                     f"lanes; {lanes} lane(s) of {pname}'s shape "
                                     f"{tuple(shape(x))} have shape {want}")
                tx = cast_tangent(tx, x, tname + at, pname + at)
                xs.append(JVPTracer(trace, x, tx))
            args.append(tree.unflatten(ptd, xs))
        res = fun(*args)
    leaves, td = tree.flatten(res)
    _check_outputs(fun, leaves, td)   # (as reverse mode: a bare None is a missing return)
    outs, touts = [], []
    for o in leaves:
        if o is None:                 # an empty subtree (as in JAX): no tangent
            outs.append(None)
            touts.append(None)
        elif isinstance(o, JVPTracer) and o._trace is trace:
            outs.append(o.primal)
            touts.append(o.tangent if o.tangent is not None else _lane_zeros(o.primal, lanes))
        else:
            outs.append(o)
            touts.append(_lane_zeros(o, lanes))
    given = [x for p in (*primals, *tangents) for x in tree.flatten(p)[0]]
    with scope:
        return (_unaliased(tree.unflatten(td, outs), given),
                _unaliased(tree.unflatten(td, touts), given))


def _lane_zeros(x, lanes):
    xp = base.xp_of(x)
    return xp.zeros((lanes,) + tuple(shape(x)), dtype=dtype(x))


def jvp(fun, primals, tangents):
    """Forward mode: ``(fun(*primals), J @ tangents)``.

    ``primals`` and ``tangents`` are tuples of the same structure; each tangent has its
    primal's shape and dtype, or a dtype NumPy casts to it safely (float32 or int32 for a
    float64 primal; host scalars, Python or NumPy numbers, take the primal's dtype, as vjp's
    cotangents do). The tangent is pushed through
    each primitive's hand-written JVP kernel alongside the forward pass.

    Raises ValueError for a tangent of another structure or shape, TypeError for one whose
    cast may round it (float64 for a float32 primal: pass ``t.astype(x.dtype)``) or a
    complex tangent of a real primal, each naming the argument (and pytree leaf).

    Example::

        >>> gpuad.jvp(lambda x: gnp.sin(x), (np.array(0.0),), (np.array(1.0),))
        (array(0.), array(1.))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp takes primals and tangents as tuples: jvp(f, (x,), (t,))")
    if len(primals) != len(tangents):
        raise ValueError(f"{len(primals)} primals but {len(tangents)} tangents")
    lanes_t = []
    with _scope([tree.flatten(p) for p in primals]):    # (the primals' device current)
        for i, (p, t) in enumerate(zip(primals, tangents)):
            ptd, ttd = tree.flatten(p)[1], tree.flatten(t)[1]
            if ptd != ttd:
                raise ValueError(f"tangent {i} has structure {ttd}, primal {i} has {ptd}")
            lanes_t.append(tree.tree_map(lambda x, tx: _add_lane(tx, x, f"tangent {i}",
                                                                 f"primal {i}"), p, t))
        out, tout = jvp_lanes(fun, tuple(primals), tuple(lanes_t), 1)
        tout = tree.tree_map(lambda t: None if t is None else
                             base.reshape(t, tuple(shape(t))[1:]), tout)
    return out, tout


def _add_lane(t, x, tname, pname):
    if t is None or x is None:        # (an empty subtree: jvp_lanes checks both are None)
        return t
    if isinstance(t, Tracer):
        return base.reshape(t, (1,) + tuple(shape(t)))
    xp = base.xp_of(t, x)
    # host scalars (Python and NumPy numbers) take the primal's dtype, as vjp's cotangent does
    weak = not hasattr(t, "dtype") or isinstance(t, np.generic)
    t = xp.asarray(t)
    if weak and not (_kind(t) == "c" and _kind(x) != "c"):
        t = t.astype(dtype(x))
    if tuple(t.shape) != tuple(shape(x)):
        raise ValueError(f"{tname} has shape {tuple(t.shape)} but {pname} has shape "
                         f"{tuple(shape(x))}")
    return t.reshape((1,) + t.shape)


# ------------------------------------------------------------------ compositions

HVP_NAMES = (("x", "v"),)


def hvp(fun, x, v, batched=False, chunk=None):
    """Hessian-vector product ``H(x) v`` of a scalar ``fun``, forward-over-reverse.

    For complex ``x`` it is the JVP of :func:`grad` along ``v`` (JAX's ``jvp(grad(f))``):
    with ``grad = df/dx - i df/dy``, ``hvp = (H v)_x - i (H v)_y`` for the real Hessian H
    acting on ``v = v_x + i v_y``.

    The gradient is computed under a forward trace: every reverse-sweep node runs its VJP
    kernel on dual numbers, one launch carrying all directions; the gradient's own value,
    which hvp drops, is not made where its lanes alone cost less (a product ``A @ x``'s
    ``A^T g``). With ``batched=True``, ``v``
    has a leading axis of K directions and the result has shape ``(K,) + x.shape`` — the K
    products from ONE sweep. ``chunk`` (a positive integer, with ``batched=True`` only)
    bounds memory for large K: ``chunk`` directions per sweep, each replaying one recorded
    tape of ``fun``; without ``batched=True`` it is a ValueError. ``x`` may be a pytree
    (then ``v`` mirrors it).

    Example::

        >>> gpuad.hvp(lambda x: gnp.sum(x ** 3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
        array([6., 0.])
    """
    if chunk is not None and not batched:
        raise ValueError(f"hvp's chunk (here {chunk!r}) splits the K directions of "
                         "batched=True into sweeps; without batched=True v is one direction: "
                         "pass batched=True with v of shape (K,) + x.shape, or drop chunk")
    with _scope([tree.flatten(x)]):       # (x's device current, as in jvp)
        return _hvp(fun, x, v, batched, chunk)


def _hvp(fun, x, v, batched, chunk):
    g = _grad_for_lanes(fun)       # (the gradient's value is dropped: lanes alone)
    if batched:
        vl, vtd = tree.flatten(v)
        xl, xtd = tree.flatten(x)
        if vtd != xtd:
            raise ValueError(f"v has structure {vtd}, x has {xtd}")
        vl_ = [l for l in vl if l is not None]
        if not vl_ or not len(shape(vl_[0])):
            raise ValueError("batched=True needs v with a leading axis of K directions "
                             "(shape (K,) + x's shape), got shape "
                             f"{tuple(shape(vl_[0])) if vl_ else None}")
        K = int(shape(vl_[0])[0])
        for vv, xx, at in zip(vl, xl, tree.paths(xtd)):   # every leaf the same K directions
            if vv is None or xx is None:
                continue
            want = (K,) + tuple(shape(xx))
            if tuple(shape(vv)) != want:
                raise ValueError(
                    f"v{at} has shape {tuple(shape(vv))}; batched=True with K = {K} "
                    f"directions (v's first leaf) needs (K,) + x{at}'s shape = {want}")
        if chunk is not None:     # every rank sweeps the same chunks (gpuad.distributed)
            if isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) \
                    or chunk < 1:
                raise ValueError(f"hvp chunk must be a positive integer (directions per "
                                 f"sweep), got {chunk!r}")
            chunk = int(chunk)
            K = agree("hvp directions", K, same=True)
            chunk = agree("hvp chunk", chunk)
        if chunk is None or chunk >= K:
            _, t = jvp_lanes(g, (x,), (v,), K, names=HVP_NAMES)
            return t
        # Bounded memory for very large K: one sweep per chunk of lanes, each replaying
        # one recorded tape of fun (its Python runs once).
        g = _grad_for_lanes(_recorded(fun, x))
        parts = [jvp_lanes(g, (x,), (tree.tree_map(lambda a: None if a is None else
                                                    a[s:s + chunk], v),),
                            min(chunk, K - s), names=HVP_NAMES)[1] for s in range(0, K, chunk)]
        xp = base.xp_of(vl_[0])
        return tree.tree_map(lambda *ps: None if ps[0] is None else xp.concatenate(ps, axis=0),
                             *parts)
    if tree.flatten(v)[1] != tree.flatten(x)[1]:
        raise ValueError(f"v has structure {tree.flatten(v)[1]}, x has {tree.flatten(x)[1]}")
    vt = tree.tree_map(lambda vv, xx: _add_lane(vv, xx, "v", "x"), v, x)
    _, t = jvp_lanes(g, (x,), (vt,), 1, names=HVP_NAMES)
    return tree.tree_map(lambda tt: None if tt is None else
                         base.reshape(tt, tuple(shape(tt))[1:]), t)


class _Recorder(VJPTrace):
    """A tape of every primitive application with all its inputs, for replay (constants
    included, whatever the primitive's VJP saves)."""

    def _push(self, prim, params, parents, need, vals, out, ins, collective=False):
        return super()._push(prim, params, parents, need, vals, out, tuple(vals), collective)


def _recorded(fun, x):
    """``fun`` as a replay of the primitives it applied at ``x``: a program that binds the
    same primitives (with the same constants and parameters) to new inputs, so further
    transforms of it do not run ``fun``'s Python again. Valid at ``x`` only, where its
    branches were taken."""
    rec = _Recorder()
    leaves, td = tree.flatten(x)
    with rec:
        res = fun(tree.unflatten(td, [None if l is None else rec.new_input(as_input(l, "x"))
                                      for l in leaves]))
    tape = rec.tape
    key = res.key if isinstance(res, VJPTracer) and res._trace is rec else None

    def program(xx):
        env = {(-1, i): l for i, l in enumerate(l for l in tree.flatten(xx)[0]
                                                if l is not None)}
        for idx, node in enumerate(tape):
            args = [v if p is None else env[p] for p, v in zip(node.parents, node.ins)]
            out = bind(node.prim, *args, **node.params)
            for j, o in enumerate(out if node.prim.multiple_results else (out,)):
                env[(idx, j)] = o
        return res if key is None else env[key]
    return program


def _with_arg(fun, args, i, kwargs=None):
    """``fun`` as a function of its argument ``i`` alone, the others fixed to ``args`` (and
    the keyword arguments ``kwargs``)."""
    kwargs = kwargs or {}

    def f(xx):
        a = list(args)
        a[i] = xx
        return fun(*a, **kwargs)
    return f


def _with_args(fun, args, nums, kwargs=None):
    """Tuple argnums ``nums``: (the distinct arguments ``uniq``, ``fun`` as a function of
    them as ONE tuple input, ``regroup`` mapping per-``uniq`` blocks to ``nums``' order), so
    a Jacobian nests the output structure around the tuple (JAX's order: out[...][k] is
    d out / d args[nums[k]]), all of them in one sweep."""
    uniq = tuple(dict.fromkeys(nums))
    kwargs = kwargs or {}

    def f(xs):
        a = list(args)
        for i, xi in zip(uniq, xs):
            a[i] = xi
        return fun(*a, **kwargs)
    pos = [uniq.index(i) for i in nums]
    return uniq, f, lambda blocks: tuple(blocks[k] for k in pos)


def _tree_basis(x):
    """Tangent lanes for a pytree: lane k is the k-th unit vector of all leaves together."""
    leaves, td = tree.flatten(x)
    sizes = [0 if l is None else int(np.prod(shape(l), dtype=np.int64)) for l in leaves]
    N = sum(sizes)
    out, start = [], 0
    for l, n in zip(leaves, sizes):
        if l is None:                 # an empty subtree: no lanes of its own
            out.append(None)
            continue
        xp = base.xp_of(l)
        e = xp.zeros((N, n), dtype=dtype(l))
        if n:
            e[start:start + n] = xp.eye(n, dtype=dtype(l))
        out.append(e.reshape((N,) + tuple(shape(l))))
        start += n
    return tree.unflatten(td, out), sizes, N


def _lanes_last(t, out_shape, x_shape):
    """(n,) + out_shape lanes -> out_shape + x_shape."""
    nd = len(out_shape)
    t = base.transpose(t, tuple(range(1, nd + 1)) + (0,))
    return base.reshape(t, tuple(out_shape) + tuple(x_shape))


def _split_lanes(t, out_shape, x, sizes):
    """Tangent lanes (N,) + out_shape of a pytree input -> x's structure of blocks
    shaped out_shape + leaf.shape."""
    leaves, td = tree.flatten(x)
    blocks, start = [], 0
    for l, n in zip(leaves, sizes):
        if l is None:
            blocks.append(None)
            continue
        part = t[start:start + n] if n != t.shape[0] or start else t
        blocks.append(_lanes_last(part, out_shape, shape(l)))
        start += n
    return blocks[0] if td.kind == "leaf" else tree.unflatten(td, blocks)


def jacfwd(fun, argnums=0, holomorphic=False):
    """Jacobian by forward mode: all basis tangents as lanes of ONE sweep.

    Result shape ``out.shape + x.shape``; for pytree inputs or outputs the result nests
    the output structure around the input structure (as JAX does). Complex inputs need
    ``holomorphic=True`` (then inputs and outputs are complex and the result is the
    complex Jacobian ``df/dz``); else a TypeError, as in JAX. Keyword arguments are passed
    to ``fun`` and not differentiated (as in :func:`grad` and JAX).

    Example::

        >>> gpuad.jacfwd(lambda x: x ** 2)(np.array([1.0, 2.0]))
        array([[2., 0.],
               [0., 4.]])
    """
    @functools.wraps(fun)
    def jf(*args, **kwargs):
        single, nums = _argnums(argnums, len(args))
        if single:
            i = nums[0]
            x = tree.tree_map(lambda l: None if l is None else as_input(l, f"argument {i}"),
                              args[i])
            f = _with_arg(fun, args, i, kwargs)
            regroup = None
        else:
            uniq, f, regroup = _with_args(fun, args, nums, kwargs)
            x = tuple(tree.tree_map(lambda l, i=i: None if l is None else
                                    as_input(l, f"argument {i}"), args[i]) for i in uniq)
        check_complex("jacfwd", holomorphic, inputs=x)
        basis, sizes, N = _tree_basis(x)
        out, t = jvp_lanes(f, (x,), (basis,), N)
        if holomorphic:
            check_complex("jacfwd", True, outputs=out)
        if regroup is None:
            regroup = lambda b: b
        return tree.tree_map(lambda o, tt: None if o is None else
                             regroup(_split_lanes(tt, shape(o), x, sizes)), out, t)
    return jf


def jacrev(fun, argnums=0, holomorphic=False):
    """Jacobian by reverse mode: all output cotangents pulled back in ONE sweep.

    The cotangent enters the sweep as a forward tangent with one lane per output element,
    so each VJP kernel runs once for all rows. Result shape ``out.shape + x.shape``.
    Complex inputs or outputs need ``holomorphic=True``, as in :func:`jacfwd`. Keyword
    arguments are passed to ``fun`` and not differentiated.

    Example::

        >>> gpuad.jacrev(lambda x: x ** 2)(np.array([1.0, 2.0]))
        array([[2., 0.],
               [0., 4.]])
    """
    @functools.wraps(fun)
    def jr(*args, **kwargs):
        single, nums = _argnums(argnums, len(args))
        if single:
            i = nums[0]
            check_complex("jacrev", holomorphic, inputs=args[i])
            out, fn, _ = reverse(_with_arg(fun, args, i, kwargs), (args[i],),
                                 names=[f"argument {i}"])
            check_complex("jacrev", holomorphic, outputs=out)
            return _rows(out, fn, args[i])
        uniq, f, regroup = _with_args(fun, args, nums, kwargs)     # (as jacfwd)
        xs = tuple(args[i] for i in uniq)
        check_complex("jacrev", holomorphic, inputs=xs)
        out, fn, _ = reverse(f, (xs,), names=["arguments " + ", ".join(map(str, uniq))])
        check_complex("jacrev", holomorphic, outputs=out)
        return _rows(out, fn, xs, regroup=regroup)
    return jr


def _rows(out, fn, x, regroup=None):
    """The Jacobian from a recorded reverse pass (``out``, its ``vjp_fn``) at ``x``: for
    pytrees the output's structure around the input's, each block shaped
    ``out_leaf.shape + x_leaf.shape`` (as :func:`jacfwd`); ``regroup`` maps each output
    leaf's entry (tuple argnums)."""
    out_leaves, otd = tree.flatten(out)
    x_leaves, xtd = tree.flatten(x)
    x_leaves = [l if l is None or isinstance(l, Tracer) else base.xp_of(l).asarray(l)
                for l in x_leaves]
    # vjp_fn is linear in its cotangent: the basis of all (floating) output elements
    # together as tangent lanes of the cotangent gives every row J^T e_k from one sweep.
    diff = [o is not None and _kind(o) in "fc" for o in out_leaves]
    sizes = [int(np.prod(shape(o), dtype=np.int64)) if d else 0
             for o, d in zip(out_leaves, diff)]
    M = sum(sizes)
    cts = [_zeros(o) for o, d in zip(out_leaves, diff) if d]
    if M:
        basis = _tree_basis(cts)[0]

        def pull(*c):
            it = iter(c)
            full = [next(it) if d else None if o is None else _zeros(o)
                    for o, d in zip(out_leaves, diff)]
            return tree.flatten(fn(tree.unflatten(otd, full))[0])[0]
        _, rows = jvp_lanes(pull, tuple(cts), tuple(basis), M)
    res, start = [], 0
    for o, n in zip(out_leaves, sizes):
        if o is None:                 # an empty subtree: no Jacobian block
            res.append(None)
            continue
        bl = []
        for j, xl in enumerate(x_leaves):
            if xl is None:            # an empty subtree of the input: no block
                bl.append(None)
                continue
            want = tuple(shape(o)) + tuple(shape(xl))
            if n:
                bl.append(base.reshape(rows[j][start:start + n], want))
            else:
                bl.append(base.xp_of(xl).zeros(want, dtype=dtype(xl)))
        start += n
        e = bl[0] if xtd.kind == "leaf" else tree.unflatten(xtd, bl)
        res.append(e if regroup is None else regroup(e))
    return tree.unflatten(otd, res)


def jacobian(fun, argnums=0, holomorphic=False):
    """Jacobian ``d out / d x`` (shape ``out.shape + x.shape``), forward mode when the input
    has fewer elements than the output, reverse mode otherwise. Complex inputs or outputs
    need ``holomorphic=True``, as in :func:`jacfwd`. Keyword arguments are passed to
    ``fun`` and not differentiated.

    Example::

        >>> gpuad.jacobian(lambda x: gnp.sin(x))(np.array([0.0, 1.0]))
        array([[1.        , 0.        ],
               [0.        , 0.54030231]])
    """
    @functools.wraps(fun)
    def j(*args, **kwargs):
        single, nums = _argnums(argnums, len(args))
        if not single:
            # Tuple argnums: a tuple of Jacobians, one per argument, for one array
            # output; for a pytree output jacfwd's nesting (the output's structure around
            # the tuple, as JAX), which pytree outputs take anyway.
            if any(isinstance(args[a], (tuple, list, dict)) for a in nums) or isinstance(
                    reverse(_with_arg(fun, args, nums[0], kwargs), (args[nums[0]],),
                            names=[f"argument {nums[0]}"])[0],
                    (tuple, list, dict)):
                return jacfwd(fun, argnums, holomorphic)(*args, **kwargs)
            return tuple(jacobian(fun, a, holomorphic)(*args, **kwargs) for a in nums)
        i = nums[0]
        check_complex("jacobian", holomorphic, inputs=args[i])
        f = _with_arg(fun, args, i, kwargs)
        # The output's size decides the mode; the reverse pass that measures it is also
        # the one reverse mode sweeps, so fun runs twice only when forward mode wins.
        out, fn, _ = reverse(f, (args[i],), names=[f"argument {i}"])
        check_complex("jacobian", holomorphic, outputs=out)
        nin = sum(int(np.prod(shape(l), dtype=np.int64)) for l in tree.flatten(args[i])[0])
        nout = sum(int(np.prod(shape(o), dtype=np.int64)) for o in tree.flatten(out)[0])
        if nin < nout or isinstance(out, (tuple, list, dict)) \
                or isinstance(args[i], (tuple, list, dict)):   # pytrees: forward mode
            return jacfwd(fun, argnums, holomorphic)(*args, **kwargs)
        return _rows(out, fn, args[i])
    return j


def hessian(fun, argnums=0, holomorphic=False):
    """Hessian of a scalar function, shape ``x.shape + x.shape``: forward over reverse, all
    ``x.size`` directions as lanes of one sweep. ``holomorphic=True``: the second complex
    derivative of a holomorphic function (complex inputs and output), as in JAX; a real
    function of complex inputs: use :func:`hvp` (JAX's jvp of grad). Keyword arguments
    are passed to ``fun`` and not differentiated.

    Example::

        >>> gpuad.hessian(lambda x: gnp.sum(x ** 3))(np.array([1.0, 2.0]))
        array([[ 6.,  0.],
               [ 0., 12.]])
        >>> gpuad.hessian(lambda x, scale: scale * gnp.sum(x ** 3))(np.array([1.0, 2.0]),
        ...                                                         scale=0.5)
        array([[3., 0.],
               [0., 6.]])
    """
    return jacfwd(grad(fun, argnums, holomorphic=holomorphic), argnums, holomorphic)


# ------------------------------------------------------------------ stop_gradient

def stop_gradient(x):
    """``x``'s value, a constant for every transform (its derivative is zero at every
    order): the plain array under all tracer layers, for each leaf of a pytree.

    The value of a traced leaf comes back as a read-only view (NumPy) or a copy (CuPy,
    whose arrays have no read-only flag): it is the memory the transform computes with and
    saves for the reverse sweep (or the caller's input), so writing into it would change
    values and derivatives silently. Write ``gnp.where``/``.at[...].set`` instead, or copy
    it first. A leaf that is not traced is returned as it is.

    Example::

        >>> gpuad.grad(lambda x: gnp.sum(x * gpuad.stop_gradient(x)))(np.array([3.0]))
        array([3.])
    """
    return tree.tree_map(_constant, x)


def _constant(x):
    if not isinstance(x, Tracer):
        return x
    v = full_lower(x)
    if isinstance(v, np.ndarray):
        v = v.view()
        v.flags.writeable = False
    elif hasattr(v, "copy") and hasattr(v, "__cuda_array_interface__"):
        v = v.copy()
    return v
