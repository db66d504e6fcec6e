"""Taylor mode: the coefficients of f(x + e v) up to e^order in one forward pass.

Every traced value carries its coefficients (x_1, ..., x_K) beside its value x_0. Each
primitive maps input series to an output series:
- elementwise ops by Faa di Bruno's formula, with the derivatives f^(j)(x_0) from the same
  derivative kernels the other transforms use (``unary_deriv``/``binary_deriv``);
- linear primitives coefficient by coefficient (through their own JVP rule);
- multilinear ones (products such as matmul and einsum) by the Cauchy product.
- any other primitive with a JVP rule by nested forward derivatives along the series
  (2^K applications of its rules: correct, slower than the structured rules).
"""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from .core import Trace, Tracer, bind, shape, dtype, REGISTRY
from .primitives import base
from .primitives import elementwise as E
from .primitives.indexing import concatenate, getitem
from .transforms import _unaliased, as_input, cast_tangent, jvp

# Primitives linear in each argument separately (products; einsum takes any number).
MULTILINEAR = {"multiply", "matmul", "einsum"}


class TaylorTracer(Tracer):
    __slots__ = ("primal", "coeffs")

    def __init__(self, trace, primal, coeffs):
        self._trace = trace
        self.primal = primal
        self.coeffs = coeffs          # list of K arrays (None for a zero coefficient)

    @property
    def value(self):
        return self.primal


def _mul(a, b):
    if a is None or b is None:
        return None
    return E.multiply(a, b)


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return E.add(a, b)


def _scale(a, c):
    if a is None or c == 1:
        return a
    return E.multiply(a, base.xp_of(a).asarray(c, dtype=dtype(a)))


def _cauchy(xs, ys, K):
    """Coefficients 1..K of X(e) Y(e) where X, Y have no constant term."""
    out = [None] * (K + 1)
    for i in range(1, K + 1):
        for j in range(1, K + 1 - i):
            out[i + j] = _add(out[i + j], _mul(xs[i], ys[j]))
    return out


def _powers(xs, K):
    """[e^k] X(e)^j for j, k in 1..K (X without constant term), as P[j][k]."""
    P = [None, list(xs)]
    for j in range(2, K + 1):
        P.append(_cauchy(P[j - 1], xs, K))
    return P


class TaylorTrace(Trace):
    def __init__(self, order):
        super().__init__()
        self.K = order

    def process(self, prim, args, params):
        primals, series = [], []
        for a in args:
            if isinstance(a, TaylorTracer) and a._trace is self:
                primals.append(a.primal)
                series.append([None] + list(a.coeffs))
            else:
                primals.append(a)
                series.append(None)
        if all(s is None for s in series):
            if not prim.collective:
                return self.bind_below(prim, primals, params)
            series = [[None] * (self.K + 1) for _ in primals]   # every rank takes part
        rule = taylor_rule(prim)
        if rule is None:
            if prim.decompose is not None and prim.jvp is None:
                return prim.decompose(*args, **params)
            if prim.jvp is None:
                raise NotImplementedError(f"taylor mode has no rule for primitive "
                                          f"{prim.name!r} (it has no JVP rule either)")
            rule = _nested_jvp_rule(prim)
        out, coeffs = self.below(rule, self.K, primals, series, **params)
        if prim.multiple_results:   # (an output the rule did not compute stays None)
            return [None if o is None else TaylorTracer(self, o, c[1:])
                    for o, c in zip(out, coeffs)]
        return TaylorTracer(self, out, coeffs[1:])


def _unary_rule(name):
    prim = E.PRIMS[name]

    def rule(K, primals, series):
        (x,), (xs,) = primals, series
        P = _powers(xs, K)
        ys = [None] * (K + 1)
        for k in range(1, K + 1):
            for j in range(1, k + 1):
                term = E.unary_deriv(x, P[j][k], name, j, "jvp") if P[j][k] is not None else None
                ys[k] = _add(ys[k], _scale(term, 1.0 / math.factorial(j)))
        return bind(prim, x), ys
    return rule


def _binary_rule(name):
    prim = E.PRIMS[name]

    def rule(K, primals, series):
        (x, y), (xs, ys_) = primals, series
        zero = [None] * (K + 1)
        xs, ys_ = xs or zero, ys_ or zero
        PX, PY = _powers(xs, K), _powers(ys_, K)
        out_shape = E._out_shape(x, y)
        res = [None] * (K + 1)
        for a in range(0, K + 1):
            for b in range(0, K + 1 - a):
                if a + b == 0:
                    continue
                if a and b:
                    mixed = _cauchy(PX[a], PY[b], K)
                else:
                    mixed = PX[a] if a else PY[b]
                c = 1.0 / (math.factorial(a) * math.factorial(b))
                for k in range(a + b, K + 1):
                    if mixed[k] is None:
                        continue
                    term = E.binary_deriv(x, y, mixed[k], name, a, b)
                    res[k] = _add(res[k], _scale(base.broadcast_to(term, out_shape), c))
        return bind(prim, x, y), res
    return rule


def _linear_rule(prim):
    def rule(K, primals, series, **params):
        if prim.collective:
            return _lanes_rule(prim, K, primals, series, params)
        out = bind(prim, *primals, **params)
        res = [None] * (K + 1)
        for k in range(1, K + 1):
            tangents = [None if s is None or s[k] is None else base.reshape(s[k], (1,) + tuple(shape(s[k])))
                        for s in series]
            if all(t is None for t in tangents):
                continue
            _, t = prim.jvp(primals, tangents, **params)
            res[k] = base.reshape(t, tuple(shape(t))[1:])
        return out, res
    return rule


def _lanes_rule(prim, K, primals, series, params):
    # A collective: the value and its K coefficients as one JVP with K lanes, so they
    # travel as one message (zero coefficients included: every rank sends the same).
    ts = []
    for p, s in zip(primals, series):
        if s is None:
            ts.append(None)
            continue
        zero = base.lane_zeros(p, 1)
        ts.append(concatenate([zero if c is None else base.reshape(c, (1,) + tuple(shape(c)))
                               for c in s[1:]], 0))
    out, t = prim.jvp(primals, ts, **params)
    return out, [None] + [getitem(t, (), (k,)) for k in range(K)]


def _multilinear_rule(prim):
    # Coefficient k of a product of series: the sum, over ways of splitting k among the
    # operands, of the primitive applied to those coefficients (constants only take 0).
    def rule(K, primals, series, **params):
        full = [[p] + (list(s[1:]) if s else [None] * K) for p, s in zip(primals, series)]
        res = [None] * (K + 1)
        for ks in itertools.product(range(K + 1), repeat=len(full)):
            k = sum(ks)
            if 0 < k <= K and all(f[j] is not None for f, j in zip(full, ks)):
                res[k] = _add(res[k], bind(prim, *(f[j] for f, j in zip(full, ks)), **params))
        return bind(prim, *primals, **params), res
    return rule


def _nested_jvp_rule(prim):
    """Any primitive with a JVP rule: y(e) = prim(x_0 + x_1 e + ... + x_K e^K) and
    y_k = y^(k)(0) / k!, from k nested forward derivatives along the scalar e. Costs 2^k
    applications of the JVP rules, so the structured rules above are preferred."""
    from . import numpy as gnp

    def rule(K, primals, series, **params):
        def y(e):
            args = []
            for p, s in zip(primals, series):
                for k in range(1, K + 1):
                    if s is not None and s[k] is not None:
                        p = gnp.add(p, gnp.multiply(s[k], e ** k))
                args.append(p)
            out = bind(prim, *args, **params)
            return list(out) if prim.multiple_results else out

        dt = next(dtype(c) for s in series if s is not None for c in s[1:] if c is not None)
        xp = base.xp_of(*primals)
        e0, one = xp.zeros((), dtype=dt), xp.ones((), dtype=dt)
        ds = [y]
        for _ in range(K):
            ds.append((lambda f: lambda e: jvp(f, (e,), (one,))[1])(ds[-1]))
        vals = [d(e0) for d in ds[1:]]
        out = bind(prim, *primals, **params)

        def coeffs(o, i):
            # an integer or boolean output (an index, a pivot) has no tangent: its
            # derivatives are zeros of its dtype, which no kernel scales
            if o is None or np.dtype(dtype(o)).kind not in "fc":
                return [None] * (K + 1)
            return [None] + [_scale(v if i is None else v[i], 1.0 / math.factorial(k + 1))
                             for k, v in enumerate(vals)]
        if not prim.multiple_results:
            return out, coeffs(out, None)
        return out, [coeffs(o, i) for i, o in enumerate(out)]
    return rule


def taylor_rule(prim):
    """The Taylor-mode rule of a primitive, or None."""
    if prim.name in E.UNARY:
        return _unary_rule(prim.name)
    if prim.name in MULTILINEAR:
        return _multilinear_rule(prim)
    if prim.name in E.BINARY:
        return _binary_rule(prim.name)
    if prim.linear and prim.jvp is not None:
        return _linear_rule(prim)
    return None


def taylor(fun, x, v, order=2):
    """Taylor coefficients of ``t -> fun(x + t v)`` at t = 0, up to ``order``.

    Returns ``[f(x), f'(x) v, f''(x)[v, v] / 2!, ..., f^(K)(x)[v, ..., v] / K!]`` (K =
    ``order``, an integer >= 1: a Python or NumPy int, not a bool), computed in ONE forward
    pass of truncated Taylor arithmetic (e^(K+1) = 0): each value carries K coefficients,
    each primitive maps series to series.

    Example::

        >>> gpuad.taylor(lambda x: x ** 3, np.array(2.0), np.array(1.0), order=3)
        [array(8.), array(12.), array(6.), array(1.)]
    """
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral):
        raise TypeError(f"taylor's order must be an integer >= 1 (the highest coefficient "
                        f"computed), got {order!r} of type {type(order).__name__}")
    order = int(order)
    if order < 1:
        raise ValueError(f"taylor's order must be an integer >= 1, got {order}")
    for what, a in (("x", x), ("v", v)):
        if isinstance(a, dict) or a is None:
            raise TypeError(f"taylor takes one array {what} (not a pytree), got a "
                            f"{type(a).__name__}")
    given = [x, v]
    x = as_input(x, "x")
    xp = base.xp_of(x)
    weak = not hasattr(v, "dtype") or isinstance(v, np.generic)   # host scalars, as jvp's
    v = xp.asarray(v) if not isinstance(v, Tracer) else v
    if tuple(shape(v)) != tuple(shape(x)):
        raise ValueError(f"direction v has shape {tuple(shape(v))} but x has shape {tuple(shape(x))}")
    # the rule of jvp's tangents: a cast that may round v, or a complex v for a real x
    # (its imaginary part was dropped), is refused
    if weak and not (np.dtype(dtype(v)).kind == "c" and np.dtype(dtype(x)).kind != "c"):
        v = base.astype(v, dtype(x))
    else:
        v = cast_tangent(v, x, "v", "x")
    trace = TaylorTrace(order)
    with trace:
        out = fun(TaylorTracer(trace, x, [v] + [None] * (order - 1)))
    if isinstance(out, (tuple, list, dict)) or out is None:
        raise TypeError("taylor needs a function returning one array (not a pytree), got a "
                        f"{type(out).__name__}")
    if isinstance(out, TaylorTracer) and out._trace is trace:
        cs = [c if c is not None else base.xp_of(out.primal).zeros(shape(out.primal), dtype(out.primal))
              for c in out.coeffs]
        res = [out.primal] + cs
    else:
        xp_out = base.xp_of(out)
        res = [out] + [xp_out.zeros(shape(out), dtype(out)) for _ in range(order)]
    # (the caller's x or v handed back, e.g. by an identity, is copied; so is a
    # read-only view the engine made)
    return _unaliased(res, [*given, x, v])


def unsupported(names, mode):
    """Of primitive ``names``, those without what ``mode`` needs."""
    bad = []
    for n in sorted(set(names)):
        p = REGISTRY[n]
        if mode == "taylor" and taylor_rule(p) is None and p.jvp is None \
                and p.decompose is None:
            bad.append((n, "no Taylor-mode rule and no JVP rule"))
    return bad


__all__ = ["taylor", "TaylorTrace", "taylor_rule"]
