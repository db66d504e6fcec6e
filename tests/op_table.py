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
def ix(name, idx, shapes):
    """A row for ``x[idx]``: gnp._getitem is the operator of traced arrays."""
    return Row(name, lambda x: gnp._getitem(x, idx), lambda x: x[idx], shapes)


def same(call):
    """(fun, ref) for a call written once against a module: ``call(gnp, ...)``, ``call(np, ...)``."""
    return (lambda *xs: call(gnp, *xs)), (lambda *xs: call(np, *xs))


_MASK = np.array([True, False, True])
_MASK2 = np.array([[True, False, True], [False, False, True]])

SHAPE = [
    Row("reshape", lambda x: gnp.reshape(x, (-1,)), lambda x: np.reshape(x, (-1,)),
        UNARY_SHAPES),
    Row("transpose", gnp.transpose, np.transpose, UNARY_SHAPES),
    Row("ravel", gnp.ravel, np.ravel, UNARY_SHAPES),
    Row("swapaxes", *same(lambda m, x: m.swapaxes(x, 0, -1)), [((2, 3, 4),), ((0, 3),)]),
    Row("broadcast_to", *same(lambda m, x: m.broadcast_to(x, (2,) + x.shape)), UNARY_SHAPES),
    Row("moveaxis", *same(lambda m, x: m.moveaxis(x, (0, 2), (-1, 0))),
        [((2, 3, 4),), ((0, 3, 1),)]),
    Row("expand_dims", *same(lambda m, x: m.expand_dims(x, (0, -1))),
        [((),), ((3,),), ((2, 0),)]),
    Row("squeeze", gnp.squeeze, np.squeeze, [((),), ((1, 3, 1),), ((1, 0),)]),
    Row("squeeze_axis", *same(lambda m, x: m.squeeze(x, -1)), [((3, 1),), ((0, 1),)]),
    Row("atleast_1d", gnp.atleast_1d, np.atleast_1d, [((),), ((3,),)]),
    Row("atleast_2d", gnp.atleast_2d, np.atleast_2d, [((),), ((3,),), ((2, 3),)]),
    Row("concatenate", *same(lambda m, x, y: m.concatenate([x, y])),
        [((2, 3), (1, 3)), ((0, 3), (2, 3)), ((3,), (0,))]),
    Row("concatenate_axis", *same(lambda m, x, y, z: m.concatenate([x, y, z], axis=-1)),
        [((2, 1), (2, 3), (2, 0))]),
    Row("concatenate_none", *same(lambda m, x, y: m.concatenate([x, y], axis=None)),
        [((2, 3), ()), ((0,), (2, 2))]),
    Row("stack", *same(lambda m, x, y: m.stack([x, y], axis=-1)),
        [((), ()), ((2, 3), (2, 3)), ((0,), (0,))]),
    Row("hstack", *same(lambda m, x, y: m.hstack([x, y])), [((), (3,)), ((2, 1), (2, 3))]),
    Row("vstack", *same(lambda m, x, y: m.vstack([x, y])), [((3,), (2, 3)), ((), ())]),
    Row("split", *same(lambda m, x: m.split(x, 3, axis=-1)), [((6,),), ((2, 6),), ((2, 0),)]),
    Row("split_indices", *same(lambda m, x: m.concatenate(
        [p[::-1] * (k + 1) for k, p in enumerate(m.array_split(x, [1, -1, 10]))])),
        [((5,),), ((4, 2),), ((0, 2),)]),
    Row("array_split", *same(lambda m, x: m.concatenate(
        [p[::-1] * (k + 1) for k, p in enumerate(m.array_split(x, 3))])),
        [((7,),), ((2,),), ((0, 2),)]),
    Row("flip", gnp.flip, np.flip, UNARY_SHAPES),
    Row("flip_axis", *same(lambda m, x: m.flip(x, -1)), [((3,),), ((2, 3),), ((2, 0),)]),
    Row("roll", *same(lambda m, x: m.roll(x, 2)), UNARY_SHAPES),
    Row("roll_axes", *same(lambda m, x: m.roll(x, (1, -4), (0, 1))),
        [((2, 3),), ((2, 0),), ((3, 1, 2),)]),
    Row("tile", *same(lambda m, x: m.tile(x, (2, 1, 3))),
        [((),), ((3,),), ((2, 3),), ((0, 2),)]),
    Row("tile_int", *same(lambda m, x: m.tile(x, 2)), UNARY_SHAPES),
    Row("repeat", *same(lambda m, x: m.repeat(x, 2)), UNARY_SHAPES),
    Row("repeat_axis", *same(lambda m, x: m.repeat(x, [1, 0, 2], axis=1)),
        [((2, 3),), ((0, 3),)]),
    Row("pad", *same(lambda m, x: m.pad(x, 1)), UNARY_SHAPES),
    Row("pad_constant", *same(lambda m, x: m.pad(x, ((0, 1), (2, 0)),
                                                 constant_values=((1.0, 2.0), (3.0, 4.0)))),
        [((2, 3),), ((0, 2),)]),
    Row("pad_edge", *same(lambda m, x: m.pad(x, (2, 1), mode="edge")), [((3,),), ((2, 3),)]),
    Row("pad_reflect", *same(lambda m, x: m.pad(x, (3, 4), mode="reflect")),
        [((3,),), ((2, 3),)]),
    Row("pad_symmetric", *same(lambda m, x: m.pad(x, (3, 1), mode="symmetric")),
        [((2,),), ((2, 3),)]),
    Row("pad_wrap", *same(lambda m, x: m.pad(x, (4, 2), mode="wrap")), [((3,),), ((2, 3),)]),
    Row("triu", gnp.triu, np.triu, [((3,),), ((2, 3),), ((2, 3, 4),), ((0, 2),)]),
    Row("triu_k", *same(lambda m, x: m.triu(x, 1)), [((3, 3),), ((2, 4, 3),)]),
    Row("tril", gnp.tril, np.tril, [((3,),), ((2, 3),), ((2, 3, 4),), ((0, 2),)]),
    Row("tril_k", *same(lambda m, x: m.tril(x, -1)), [((3, 3),), ((2, 4, 3),)]),
    Row("diag", gnp.diag, np.diag, [((3,),), ((0,),), ((3, 4),), ((0, 2),)]),
    Row("diag_k", *same(lambda m, x: m.diag(x, -2)), [((3,),), ((3, 4),), ((1, 4),)]),
    Row("diagonal", *same(lambda m, x: m.diagonal(x, 1, 2, 0)), [((3, 2, 4),), ((2, 0, 2),)]),
    Row("take", *same(lambda m, x: m.take(x, [[0, 2], [2, 2]])), [((3,),), ((2, 3),)]),
    Row("take_axis", *same(lambda m, x: m.take(x, [1, -1, 1], axis=-1)),
        [((2, 3),), ((0, 2),)]),
    Row("take_along_axis", *same(lambda m, x: m.take_along_axis(
        x, np.array([[0, 0], [2, 1], [1, 1], [2, 2]]), axis=0)), [((3, 2),), ((3, 1),)]),
    Row("take_along_axis_broadcast", *same(lambda m, x: m.take_along_axis(
        x, np.array([[1, 0, 1]]), axis=1)), [((3, 2),), ((0, 2),)]),
    ix("getitem_int", -1, [((3,),), ((3, 2),)]),
    ix("getitem_ints", (1, -1), [((2, 3),), ((2, 3, 0),)]),
    ix("getitem_slices", (slice(None, None, -2), slice(1, None)),
       [((5, 3),), ((0, 3),), ((3, 1, 2),)]),
    ix("getitem_newaxis", (None, Ellipsis, None), [((),), ((3,),), ((2, 0),)]),
    ix("getitem_ellipsis", (Ellipsis, -1, None, slice(2, 0, -1)), [((2, 3),), ((2, 4, 3),)]),
    ix("getitem_array", [2, 0, 2, 2], [((3,),), ((4, 2),), ((3, 0),)]),
    ix("getitem_array2d", (slice(None), np.array([[0, 1], [1, 1]])), [((3, 2),), ((0, 2, 1),)]),
    ix("getitem_empty_array", [], [((3,),), ((3, 2),)]),
    ix("getitem_arrays", (np.array([[0], [1]]), [0, 2, 2]), [((2, 3),), ((2, 3, 2),)]),
    ix("getitem_mask", _MASK, [((3,),), ((3, 2),)]),
    ix("getitem_mask2d", (Ellipsis, _MASK2, slice(None)), [((2, 3, 2),), ((0, 2, 3, 1),)]),
    ix("getitem_mask_array", (_MASK, slice(None), [1, 0]), [((3, 2, 2),), ((3, 0, 2),)]),
    ix("getitem_mixed", (slice(None, None, -1), [0, 0, 1], None), [((2, 3),), ((2, 3, 2),)]),
    ix("getitem_nonadjacent", ([1, 0, 1], slice(None), [2, 2, 0]), [((2, 3, 4),)]),
    ix("getitem_nonadjacent_int", (0, slice(None), [1, 1]), [((2, 3, 4),), ((2, 0, 2),)]),
    ix("getitem_nonadjacent_ellipsis", ([0, 0], Ellipsis, [1, 2]), [((2, 3),), ((2, 3, 4),)]),
    ix("getitem_nonadjacent_newaxis", ([1, 1], None, [0, 2]), [((2, 3),), ((2, 3, 2),)]),
]

TABLE = ELEMENTWISE + REDUCTIONS + LINALG + SHAPE
