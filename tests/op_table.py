"""THE table of differentiable functions: every gpuad.numpy function has a row here.

A row names the function, a float64 NumPy reference, a generator of inputs inside the
function's domain, and the argument shapes to test. tests/test_ops.py expands each row
into forward checks (float64 and float32 against the reference) and derivative checks
(`check_grads`, order 2, forward and reverse) on every shape.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

import gpuad.numpy as gnp


@dataclasses.dataclass
class Row:
    name: str                               # test id: test_<name>
    fun: Callable                           # the gpuad function under test
    ref: Callable                           # float64 NumPy reference
    shapes: list                            # list of tuples of argument shapes
    domain: Callable = None                 # (rng, shape) -> float64 array in the domain
    order: int = 2
    dtypes: tuple = ("float64", "float32")
    nondiff: tuple = ()                     # extra non-array args passed after the arrays
    grad_args: tuple | None = None          # which args are differentiated (default: all)
    forward_only_dtypes: tuple = ()
    rtol32: float = 2e-5                    # float32 forward tolerance (a few ulps of the result)


def uniform(lo, hi):
    return lambda rng, s: rng.uniform(lo, hi, size=s)


def away_from(points, lo=-2.0, hi=2.0, gap=0.1):
    """Uniform on [lo, hi] but at least ``gap`` from the kinks in ``points``."""
    def gen(rng, s):
        x = rng.uniform(lo, hi, size=s)
        for p in points:
            near = np.abs(x - p) < gap
            x = np.where(near, p + np.sign(x - p + 1e-12) * (gap + np.abs(x - p)), x)
        return x
    return gen


UNARY_SHAPES = [((),), ((3,),), ((2, 3),), ((0,),), ((4, 0, 2),)]
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((2, 3), ()),
                 ((), (2, 3)), ((0,), (0,)), ((2, 0), (1, 0))]


def u(name, ref, domain=uniform(-2, 2), fun=None, **kw):
    return Row(name, fun or getattr(gnp, name), ref, UNARY_SHAPES, domain, **kw)


def b(name, ref, domain=uniform(-2, 2), fun=None, **kw):
    return Row(name, fun or getattr(gnp, name), ref, BINARY_SHAPES, domain, **kw)


_erf = np.vectorize(math.erf, otypes=[np.float64])

# ---------------------------------------------------------------- elementwise
ELEMENTWISE = [
    u("negative", np.negative),
    u("exp", np.exp),
    u("exp2", np.exp2),
    u("log", np.log, uniform(0.3, 3)),
    u("log2", np.log2, uniform(0.3, 3)),
    u("log10", np.log10, uniform(0.3, 3)),
    u("log1p", np.log1p, uniform(-0.5, 2)),
    u("expm1", np.expm1),
    u("sqrt", np.sqrt, uniform(0.3, 3)),
    u("sin", np.sin),
    u("cos", np.cos),
    u("tan", np.tan, uniform(-1.2, 1.2)),
    u("tanh", np.tanh),
    u("sinh", np.sinh),
    u("cosh", np.cosh),
    u("arctan", np.arctan),
    u("arcsin", np.arcsin, uniform(-0.8, 0.8)),
    u("arccos", np.arccos, uniform(-0.8, 0.8)),
    u("arctanh", np.arctanh, uniform(-0.8, 0.8)),
    u("abs", np.abs, away_from([0.0])),
    u("absolute", np.abs, away_from([0.0])),
    u("sign", np.sign, away_from([0.0])),
    u("reciprocal", lambda x: 1.0 / x, away_from([0.0], gap=0.3)),
    u("square", np.square),
    u("sigmoid", lambda x: 1.0 / (1.0 + np.exp(-x)), uniform(-4, 4)),
    u("softplus", lambda x: np.logaddexp(0.0, x), uniform(-4, 4)),
    u("relu", lambda x: np.maximum(x, 0.0), away_from([0.0])),
    u("erf", _erf),
    b("add", np.add),
    b("subtract", np.subtract),
    b("multiply", np.multiply),
    b("divide", np.divide, away_from([0.0], gap=0.3)),
    b("true_divide", np.divide, away_from([0.0], gap=0.3)),
    b("power", np.power, uniform(0.3, 2)),
    b("maximum", np.maximum),
    b("minimum", np.minimum),
    b("arctan2", np.arctan2, away_from([0.0], gap=0.3)),
    Row("clip", lambda x: gnp.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7),
        UNARY_SHAPES, away_from([-0.5, 0.7])),
    Row("where", lambda x, y: gnp.where(x > 0, x, y), lambda x, y: np.where(x > 0, x, y),
        BINARY_SHAPES, away_from([0.0])),
]

# ---------------------------------------------------------------- reductions
REDUCTIONS = [
    Row("sum", gnp.sum, np.sum, UNARY_SHAPES),
    Row("sum_axis", lambda x: gnp.sum(x, axis=-1, keepdims=True),
        lambda x: np.sum(x, axis=-1, keepdims=True), [((3,),), ((2, 3),), ((2, 0),)]),
    Row("mean", gnp.mean, np.mean, [((),), ((3,),), ((2, 3),)]),
]

# ---------------------------------------------------------------- linear algebra
LINALG: list = []

# ---------------------------------------------------------------- shape and indexing
SHAPE = [
    Row("reshape", lambda x: gnp.reshape(x, (-1,)), lambda x: np.reshape(x, (-1,)),
        UNARY_SHAPES),
    Row("transpose", gnp.transpose, np.transpose, UNARY_SHAPES),
]

TABLE = ELEMENTWISE + REDUCTIONS + LINALG + SHAPE
