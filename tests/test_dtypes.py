"""NumPy 2's dtypes and values where gpuad.numpy's dtype rules are in play: promotion of
operands and scalars, integer and boolean ``dtype=`` arguments, and the dtypes of
derivatives. Each test walks every function of one kind against NumPy on the same inputs."""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp

X32 = np.array([[-0.5, 0.25, 1.5], [2.0, 3.75, -1.25]], dtype=np.float32)

# Every reduction that takes NumPy's dtype= (keyword and, where NumPy has it there, the
# third positional argument).
DTYPE_REDUCTIONS = ["sum", "prod", "mean", "var", "std", "cumsum", "cumprod", "nansum",
                    "nanprod", "nanmean", "nanvar", "nanstd", "nancumsum", "nancumprod",
                    "trace", "cumulative_sum", "cumulative_prod"]
INTEGRAL = [np.int32, np.int64, np.int8, np.uint8, np.bool_]


def _same(got, want):
    assert np.asarray(got).dtype == np.asarray(want).dtype, (got, want)
    assert isinstance(got, np.ndarray) == isinstance(want, np.ndarray), (type(got), type(want))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("dt", INTEGRAL, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", DTYPE_REDUCTIONS)
@pytest.mark.parametrize("src", [np.float32, np.float64])
def test_integral_dtype_argument_of_reductions(name, dt, src):
    """``sum(x, dtype=int32)`` of a float array is NumPy's integer result (computed in that
    dtype, not promoted to int64, not a float mean), untraced and under a transform; it is
    piecewise constant in x, so its derivative is 0 (not the derivative of the float
    reduction)."""
    x = X32.astype(src)
    if name.startswith("cumulative"):   # (NumPy wants an axis for more than 1-d)
        x = x[0]
    npf, gf = getattr(np, name), getattr(gnp, name)
    with np.errstate(all="ignore"):
        try:
            want = npf(x, dtype=dt)
        except TypeError:            # NumPy refuses (nanmean & co. of integer dtypes)
            with pytest.raises(TypeError):
                gf(x, dtype=dt)
            return
        _same(gf(x, dtype=dt), want)
        if name not in ("trace", "cumulative_sum", "cumulative_prod"):   # (a, axis, dtype)
            try:
                want0 = npf(x, 0, dt)
            except TypeError as e:   # (std's sqrt into an integer array)
                with pytest.raises(type(e)):
                    gf(x, 0, dt)
            else:
                _same(gf(x, 0, dt), want0)
        seen = {}

        def f(v):
            r = gf(v, dtype=dt)
            seen["r"] = r
            return gnp.sum(gnp.multiply(v, 0.0)) + 1.0 * gnp.sum(r)
        g = gpuad.grad(f)(x)
        _same(gpuad.core.full_lower(seen["r"]), want)
        assert g.dtype == x.dtype
        np.testing.assert_array_equal(g, np.zeros_like(x))
        _, t = gpuad.jvp(lambda v: gf(v, dtype=dt), (x,), (np.ones_like(x),))
        assert not np.any(np.asarray(t))


# Functions of a sequence of arrays, as (NumPy's or gpuad's module, x, y) -> result.
JOINS = {
    "concatenate": lambda m, x, y: m.concatenate([x, y]),
    "concatenate_none": lambda m, x, y: m.concatenate([x, y], axis=None),
    "concat": lambda m, x, y: m.concat([x, y]),
    "stack": lambda m, x, y: m.stack([x, y]),
    "vstack": lambda m, x, y: m.vstack([x, y]),
    "row_stack": lambda m, x, y: m.vstack([x, y]),
    "hstack": lambda m, x, y: m.hstack([x, y]),
    "dstack": lambda m, x, y: m.dstack([x, y]),
    "column_stack": lambda m, x, y: m.column_stack([x, y]),
    "block": lambda m, x, y: m.block([x, y]),
    "append": lambda m, x, y: m.append(x, y),
    "append_axis0": lambda m, x, y: m.append(x, y, axis=0),
    "insert": lambda m, x, y: m.insert(x, 1, y),
    "array": lambda m, x, y: m.array([x, y]),
}
ARRAYS = {"float32": X32, "float64": X32.astype(np.float64),
          "complex64": (X32 + 1j).astype(np.complex64), "int32": np.arange(6, dtype=np.int32).reshape(2, 3),
          "int8": np.arange(6, dtype=np.int8).reshape(2, 3), "bool": X32 > 0}
SECONDS = {**ARRAYS, "py_float": 2.5, "py_int": 3, "py_complex": 1j,
           "np_float64": np.float64(2.5), "np_float32": np.float32(2.5), "list_int": [[1, 2, 3]],
           "list_float": [[1.0, 2.0, 3.0]]}


def _numpy_or_error(f, *args):
    try:
        with np.errstate(all="ignore"):
            return f(*args), None
    except (ValueError, TypeError) as e:
        return None, type(e)


@pytest.mark.parametrize("b", list(SECONDS))
@pytest.mark.parametrize("a", list(ARRAYS))
@pytest.mark.parametrize("name", list(JOINS))
def test_joins_promote_as_numpy(name, a, b):
    """The dtype and values of joining ``a`` and ``b`` are NumPy's: an int8 block next to a
    float32 one gives float32 (vstack/hstack made each int block float64 first), a Python
    scalar appended or stacked is an array of its own dtype (float64), concatenate's is
    weak, and insert casts the values to the array's dtype. Under grad, in a float array,
    the result's dtype is the same and the gradient has the input's dtype."""
    join = JOINS[name]
    x, y = ARRAYS[a], SECONDS[b]
    want, err = _numpy_or_error(join, np, x, y)
    if err is not None:
        with pytest.raises((ValueError, TypeError)):
            join(gnp, x, y)
        return
    got = join(gnp, x, y)
    assert np.asarray(got).dtype == want.dtype
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
    if x.dtype.kind != "f":
        return
    seen = {}

    def f(v):
        r = join(gnp, v, y)
        seen["r"] = r
        return gnp.sum(gnp.real(r))
    g = gpuad.grad(f)(x)
    assert gpuad.core.full_lower(seen["r"]).dtype == want.dtype
    assert g.dtype == x.dtype


A0, A1, A2 = np.array(1.5), np.array([1.5, 0.5]), np.array([[1.5, 0.5]])
# Calls whose 0-d result NumPy returns as a 0-d array (constructors, shape functions, ...)
# and, last, ones whose 0-d result is a NumPy scalar (ufuncs, reductions, dot).
ZERO_D = [("array", (1.5,)), ("asarray", (1.5,)), ("asanyarray", (A0,)),
          ("ascontiguousarray", (A0,)), ("copy", (A0,)), ("full", ((), 1.5)),
          ("full_like", (A0, 2.0)), ("reshape", (A1[:1], ())), ("squeeze", (A1[:1],)),
          ("transpose", (A0,)), ("permute_dims", (A0,)), ("broadcast_to", (1.5, ())),
          ("where", (True, 1.5, 2.0)), ("real", (A0,)), ("imag", (A0,)),
          ("moveaxis", (A0, (), ())), ("select", ([A0 > 0], [A0])), ("tensordot", (A1, A1, 1)),
          ("piecewise", (A0, [A0 > 0], [1.0, 0.0])), ("cov", (A1,)), ("corrcoef", (A2, A2)),
          ("cross", (A1, A1[::-1])), ("block", ([A0],)), ("i0", (A0,)), ("i0", (1.5,)),
          ("sum", (A1,)), ("mean", (A1,)), ("exp", (A0,)), ("add", (A0, 1.0)),
          ("dot", (A1, A1)), ("vdot", (A1, A1)), ("inner", (A1, A1)), ("max", (A1,)),
          ("einsum", ("i,i", A1, A1)), ("trapezoid", (A1,)), ("interp", (0.5, [0, 1], [0, 1]))]


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("name,args", ZERO_D, ids=[f"{n}-{k}" for k, (n, _) in enumerate(ZERO_D)])
def test_zero_d_results_array_or_scalar_as_numpy(name, args, dt):
    """``gnp.array(1.5)`` is a 0-d array (a writable buffer), as ``np.array(1.5)``, not
    ``np.float64(1.5)``; a sum's 0-d result is a NumPy scalar; both of NumPy's dtype."""
    args = tuple(a.astype(dt) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                 for a in args)
    with np.errstate(all="ignore"):
        want, got = getattr(np, name)(*args), getattr(gnp, name)(*args)
    assert type(got) is type(want), (got, want)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


# Products that convert every operand with numpy.asarray: a Python scalar operand is an
# array of its own dtype (float64, int64, complex128), not a weak scalar.
PRODUCTS = {
    "dot": lambda m, x, s: m.dot(x, s), "dot_left": lambda m, x, s: m.dot(s, x),
    "inner": lambda m, x, s: m.inner(x, s), "outer": lambda m, x, s: m.outer(x, s),
    "kron": lambda m, x, s: m.kron(x, s), "kron_left": lambda m, x, s: m.kron(s, x),
    "tensordot": lambda m, x, s: m.tensordot(x, s, 0), "vdot": lambda m, x, s: m.vdot(x[:1], s),
    "einsum": lambda m, x, s: m.einsum("i,->i", x, s),
}


@pytest.mark.parametrize("s", [2.5, 3, 1j, np.float32(2.5), np.float64(2.5)], ids=repr)
@pytest.mark.parametrize("src", [np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("name", list(PRODUCTS))
def test_products_with_python_scalars_as_numpy(name, src, s):
    """``dot(float32 array, 2.5)`` is float64, as NumPy's (the scalar becomes a float64
    array), untraced and under grad; the gradient keeps the input's dtype."""
    prod = PRODUCTS[name]
    x = X32[0].astype(src)
    want = prod(np, x, s)
    got = prod(gnp, x, s)
    assert type(got) is type(want)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    if x.dtype.kind == "f":
        seen = {}

        def f(v):
            seen["r"] = prod(gnp, v, s)
            return gnp.sum(gnp.real(seen["r"]))
        g = gpuad.grad(f)(x)
        assert gpuad.core.full_lower(seen["r"]).dtype == np.asarray(want).dtype
        assert g.dtype == x.dtype


# Values NumPy casts to the array's dtype: reductions' initial=, nan_to_num's replacements.
CAST_IN = {
    **{f"{n}_initial": (lambda n: lambda m, x, v: getattr(m, n)(x, initial=v))(n)
       for n in ["sum", "prod", "max", "min", "amax", "amin", "nansum", "nanprod", "nanmax",
                 "nanmin"]},
    **{f"{n}_initial_where": (lambda n: lambda m, x, v: getattr(m, n)(x, initial=v,
                                                                      where=x > 0))(n)
       for n in ["sum", "prod", "max", "min", "nansum", "nanmax"]},
    "nan_to_num_nan": lambda m, x, v: m.nan_to_num(x, nan=v),
    "nan_to_num_posinf": lambda m, x, v: m.nan_to_num(x, posinf=v),
    "nan_to_num_neginf": lambda m, x, v: m.nan_to_num(x, neginf=-v),
    # x.at[idx].op(v) as NumPy's assignment and ufunc.at: x's dtype (float64 from a float32
    # x and an np.float64 v before)
    **{f"at_{op}": (lambda op, uf: lambda m, x, v: _at_numpy(x, v, op, uf) if m is np
                    else getattr(gnp.at(x)[np.array([1, 2, 1])], op)(v))(op, uf)
       for op, uf in [("set", None), ("add", np.add), ("multiply", np.multiply),
                      ("max", np.maximum), ("min", np.minimum)]},
}


def _at_numpy(x, v, op, ufunc):
    y = x.copy()
    if ufunc is None:
        y[np.array([1, 2, 1])] = v
    else:
        ufunc.at(y, np.array([1, 2, 1]), v)
    return y


XNAN = np.array([0.5, np.nan, np.inf, -2.0, -np.inf, 3.0])


@pytest.mark.parametrize("v", [np.float64(5.0), 5, 2.5, np.int64(2), np.float32(4.0)], ids=repr)
@pytest.mark.parametrize("src", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(CAST_IN))
def test_values_cast_to_the_array_dtype(name, src, v):
    """``sum(float32, initial=np.float64(1))`` and ``nan_to_num(float32, nan=np.float64(1))``
    are float32 (NumPy casts them), untraced and under grad."""
    fn = CAST_IN[name]
    x = (XNAN if name.startswith("nan_to") else X32[0]).astype(src)
    with np.errstate(all="ignore"):
        want, got = fn(np, x, v), fn(gnp, x, v)
    assert type(got) is type(want)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    seen = {}

    def f(u):
        seen["r"] = fn(gnp, u, v)
        return gnp.sum(seen["r"])
    with np.errstate(all="ignore"):
        g = gpuad.grad(f)(x)
    assert gpuad.core.full_lower(seen["r"]).dtype == np.asarray(want).dtype
    assert g.dtype == x.dtype


@pytest.mark.parametrize("src", [np.float32, np.float64, np.complex64, np.complex128])
def test_sort_complex_dtype_as_numpy(src):
    """numpy.sort_complex of float32 is complex128 (``astype('D')``); complex stays."""
    x = np.array([1.5, -2.0, 0.5]).astype(src)
    want, got = np.sort_complex(x), gnp.sort_complex(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    _, t = gpuad.jvp(gnp.sort_complex, (x,), (np.ones_like(x),))
    assert t.dtype == want.dtype


OPERATORS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
             "/": lambda a, b: a / b, "**": lambda a, b: a ** b, "%": lambda a, b: a % b,
             "//": lambda a, b: a // b, "divmod0": lambda a, b: divmod(a, b)[0],
             "divmod1": lambda a, b: divmod(a, b)[1]}
OTHERS = {"py_float": 0.75, "py_int": 2, "np_float64": np.float64(0.75),
          "np_float32": np.float32(0.75), "np_int8": np.int8(2), "int8": np.array([1, 2, 3], np.int8),
          "int32": np.array([1, 2, 3], np.int32), "float64": np.array([0.5, 1.5, 2.5])}


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("other", list(OTHERS))
@pytest.mark.parametrize("src", [np.float32, np.float64])
@pytest.mark.parametrize("op", list(OPERATORS))
def test_operators_on_traced_arrays_as_numpy(op, src, other, side):
    """Python's operators on a traced array (``x % 1.0``, ``3 // x``, ``divmod``) exist
    and give NumPy's dtype and values (NEP 50 for the scalars); the gradient keeps the
    input's dtype."""
    fn, o = OPERATORS[op], OTHERS[other]
    x = np.array([0.5, 1.25, 2.5], dtype=src)

    def call(v):
        return fn(v, o) if side == "left" else fn(o, v + 3)
    with np.errstate(all="ignore"):
        want = call(x)
        seen = {}

        def f(v):
            seen["r"] = call(v)
            return gnp.sum(seen["r"])
        g = gpuad.grad(f)(x)
    got = gpuad.core.full_lower(seen["r"])
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert g.dtype == x.dtype


SPACES = ["linspace", "logspace", "geomspace"]


@pytest.mark.parametrize("stop", [np.float32(3.0), 3.0, np.float64(3.0), np.array([3.0, 4.0], np.float32)],
                         ids=repr)
@pytest.mark.parametrize("start", [np.float32(1.5), np.float64(1.5), np.array([1.5, 2.0], np.float32),
                                   np.complex64(1.5 + 0.5j)], ids=repr)
@pytest.mark.parametrize("name", SPACES)
def test_spaces_dtype_as_numpy(name, start, stop):
    """linspace/logspace/geomspace of traced end points have NumPy's dtype (geomspace is
    float64 at least: float32 end points give float64), the gradient the input's."""
    fn = getattr(gnp, name)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(start, stop, 4)
        got = fn(start, stop, 4)
        seen = {}

        def f(a):
            seen["r"] = fn(a, stop, 4)
            return gnp.sum(gnp.real(seen["r"]))
        g = gpuad.grad(f)(np.asarray(start))
    assert np.asarray(got).dtype == want.dtype
    np.testing.assert_allclose(gpuad.core.full_lower(seen["r"]), want, rtol=1e-5)
    assert gpuad.core.full_lower(seen["r"]).dtype == want.dtype
    assert np.asarray(g).dtype == np.asarray(start).dtype


def test_logspace_traced_dtype_error_and_array_base():
    """Traced logspace: an integer dtype is refused naming logspace (it named linspace);
    an array base is broadcast with the end points along ``axis`` as NumPy's (it failed
    to broadcast), its derivative by central differences."""
    with pytest.raises(TypeError, match="gpuad.numpy.logspace: dtype=int64"):
        gpuad.grad(lambda s: gnp.sum(gnp.logspace(s, 2.0, 3, dtype=int)))(1.0)
    start, base = np.array([1.0, 2.0]), np.array([2.0, 3.0])
    for axis in (0, 1, -1):
        want = np.logspace(start, 3.0, 4, base=base, axis=axis)
        seen = {}

        def f(b):
            seen["r"] = gnp.logspace(start, 3.0, 4, base=b, axis=axis)
            return gnp.sum(gnp.sin(seen["r"]))
        g = gpuad.grad(f)(base)
        np.testing.assert_allclose(gpuad.core.full_lower(seen["r"]), want, rtol=1e-14)
        h = 1e-6
        fd = [(np.sum(np.sin(np.logspace(start, 3.0, 4, base=base + h * e, axis=axis)))
               - np.sum(np.sin(np.logspace(start, 3.0, 4, base=base - h * e, axis=axis))))
              / (2 * h) for e in np.eye(2)]
        np.testing.assert_allclose(g, fd, rtol=1e-6)


# Functions of a float array and a second operand (of every kind below) that NumPy
# promotes together: (module, x, o) -> result.
SEQUENCES = {
    "diff_prepend": lambda m, x, o: m.diff(x, prepend=o),
    "diff_append": lambda m, x, o: m.diff(x, append=o, n=2),
    "ediff1d": lambda m, x, o: m.ediff1d(x, to_end=o),
    "polyadd": lambda m, x, o: m.polyadd(x, o),
    "polysub": lambda m, x, o: m.polysub(o, x),
    "polymul": lambda m, x, o: m.polymul(x, o),
    "polyval": lambda m, x, o: m.polyval(x, o),
    "convolve": lambda m, x, o: m.convolve(x, m.atleast_1d(o)),
    "correlate": lambda m, x, o: m.correlate(x, m.atleast_1d(o)),
    "unwrap": lambda m, x, o: m.unwrap(x, period=o) if np.ndim(o) == 0 else None,
    "gradient": lambda m, x, o: m.gradient(x, o),
    "trapezoid_dx": lambda m, x, o: m.trapezoid(x, dx=o) if np.ndim(o) == 0 else None,
    "interp_fp": lambda m, x, o: m.interp(x, [0.0, 1.0, 2.0, 3.0, 4.0],
                                          np.ones(5, np.asarray(o).dtype) * o),
}
SECOND = {"py_float": 2.5, "py_int": 3, "np_float64": np.float64(2.5),
          "np_float32": np.float32(2.5), "np_int8": np.int8(3),
          "int8": np.arange(5, dtype=np.int8), "int32": np.arange(5, dtype=np.int32),
          "float64": np.arange(5.0) + 0.5, "list": [1.0, 2.0, 3.0, 4.0, 5.5]}


@pytest.mark.parametrize("other", list(SECOND))
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_sequence_functions_promote_as_numpy(name, other):
    """``diff(float32, prepend=np.int8(3))`` and ``polyadd(float32, int8 array)`` are
    float32 (each operand was made float64 on its own before), ``unwrap(float32,
    period=np.float64(2.5))`` is float64: NumPy's dtypes, untraced and under grad."""
    fn, o = SEQUENCES[name], SECOND[other]
    x = np.array([0.5, 1.5, -2.0, 3.0, 4.5], np.float32)
    try:
        with np.errstate(all="ignore"):
            want = fn(np, x, o)
    except (ValueError, TypeError):
        pytest.skip("NumPy refuses")
    if want is None:
        pytest.skip("not a case of this function")
    with np.errstate(all="ignore"):
        got = fn(gnp, x, o)
        seen = {}

        def f(v):
            seen["r"] = fn(gnp, v, o)
            return gnp.sum(seen["r"])
        g = gpuad.grad(f)(x)
    for r in (got, gpuad.core.full_lower(seen["r"])):
        assert np.asarray(r).dtype == np.asarray(want).dtype
        np.testing.assert_allclose(np.asarray(r), np.asarray(want), rtol=1e-5)
    assert g.dtype == x.dtype


IM = np.array([[2, 1], [1, 3]])
IV = np.array([1, 2])
LINALG_INT = {
    "outer": (IV, IV), "cross": (np.array([1, 2, 3]), np.array([3, 2, 1])), "matmul": (IM, IM),
    "vecdot": (IV, IV), "matrix_power": (IM, 3), "multi_dot": ([IM, IM, IM],),
    "tensordot": (IM, IM), "matrix_transpose": (IM,), "trace": (IM,), "diagonal": (IM,),
    "norm": (IV,), "vector_norm": (IV,), "matrix_norm": (IM,), "det": (IM,), "inv": (IM,),
    "solve": (IM, IV), "svdvals": (IM,), "cond": (IM,), "pinv": (IM,), "slogdet": (IM,),
    "eigvalsh": (IM,), "cholesky": (IM,),
}


def _leaves_of(r):
    return list(r) if isinstance(r, tuple) else [r]


@pytest.mark.parametrize("kind", ["int64", "int8", "bool"])
@pytest.mark.parametrize("name", list(LINALG_INT))
def test_linalg_integer_inputs_as_numpy(name, kind):
    """Without traced values, gpuad.numpy.linalg keeps numpy.linalg's integer results
    (matmul, outer, matrix_power, multi_dot, ... of ints are ints; tensordot's 0-d result
    a 0-d array) and its float64 ones for the LAPACK functions."""
    args = tuple([a.astype(kind) for a in x] if isinstance(x, list) else
                 x.astype(kind) if isinstance(x, np.ndarray) else x for x in LINALG_INT[name])
    try:
        want = getattr(np.linalg, name)(*args)
    except (np.linalg.LinAlgError, TypeError, ValueError):
        pytest.skip("NumPy refuses")
    got = getattr(gnp.linalg, name)(*args)
    for w, g in zip(_leaves_of(want), _leaves_of(got)):
        assert type(g) is type(w), (g, w)
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12)


LAPACK_PAIRS = {"solve": lambda m, a, b: m.linalg.solve(a, b),
                "lstsq": lambda m, a, b: m.linalg.lstsq(a, b, rcond=None)[0],
                "tensorsolve": lambda m, a, b: m.linalg.tensorsolve(a, b)}


@pytest.mark.parametrize("bk", ["int8", "int64", "bool", "float32", "float64"])
@pytest.mark.parametrize("name", list(LAPACK_PAIRS))
def test_linalg_solvers_count_integers_as_float64(name, bk):
    """numpy.linalg.solve(float32, int8) is float64 (its _commonType takes integers as
    double), untraced and under grad in ``a``."""
    fn = LAPACK_PAIRS[name]
    a = IM.astype(np.float32)
    b = np.array([1, 1]).astype(bk)
    want = fn(np, a, b)
    assert fn(gnp, a, b).dtype == want.dtype
    seen = {}

    def f(u):
        seen["r"] = fn(gnp, u, b)
        return gnp.sum(seen["r"])
    g = gpuad.grad(f)(a)
    assert gpuad.core.full_lower(seen["r"]).dtype == want.dtype
    np.testing.assert_allclose(gpuad.core.full_lower(seen["r"]), want, rtol=1e-5)
    assert g.dtype == a.dtype


@pytest.mark.parametrize("kind", ["int32", "int8", "bool", "float32", "list"])
@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
def test_fft_shifts_keep_numpy_dtypes(name, kind):
    """fftshift of an integer or boolean array is that dtype (was float64), as NumPy's."""
    a = [[1, 2, 3], [4, 5, 6]] if kind == "list" else np.arange(6).reshape(2, 3).astype(kind)
    want, got = getattr(np.fft, name)(a), getattr(gnp.fft, name)(a)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


FIRST_DECIDES = {
    "pad": lambda m, a, v: m.pad(a, 1, constant_values=v),
    "nan_to_num": lambda m, a, v: m.nan_to_num(a, nan=v, posinf=v),
    "insert": lambda m, a, v: m.insert(a, 1, v),
}


@pytest.mark.parametrize("v", [2.5, np.float64(2.5), np.float32(2.5), 3], ids=repr)
@pytest.mark.parametrize("kind", ["int8", "int64", "uint8", "bool"])
@pytest.mark.parametrize("name", list(FIRST_DECIDES))
def test_integer_array_keeps_its_dtype_with_float_values(name, kind, v):
    """pad(int8 array, constant_values=2.5), nan_to_num(int8, nan=1.5) and insert(int8,
    1, 2.5) are int8 (NumPy casts the values into the array's dtype), not float64; with a
    traced value too (its derivative is 0: the cast drops it)."""
    fn = FIRST_DECIDES[name]
    a = np.array([1, 0, 3]).astype(kind)
    want, got = fn(np, a, v), fn(gnp, a, v)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    if not isinstance(v, int):
        seen = {}

        def f(u):
            seen["r"] = fn(gnp, a, u)
            return gnp.sum(u * 0.0) + 1.0 * gnp.sum(seen["r"])
        g = gpuad.grad(f)(np.asarray(v))
        assert np.asarray(gpuad.core.full_lower(seen["r"])).dtype == want.dtype
        assert float(g) == 0.0


# Calls whose NumPy result is a new array (never the input nor a view of it).
FRESH = {
    "positive": lambda m, x: m.positive(x), "power_1": lambda m, x: m.power(x, 1),
    "conj": lambda m, x: m.conj(x), "conjugate": lambda m, x: m.conjugate(x),
    "astype_same": lambda m, x: m.astype(x, x.dtype), "clip_none": lambda m, x: m.clip(x, None, None),
    "roll_0": lambda m, x: m.roll(x, 0), "tile_1": lambda m, x: m.tile(x, 1),
    "concatenate_1": lambda m, x: m.concatenate([x]), "vstack_1": lambda m, x: m.vstack([x]),
    "hstack_1": lambda m, x: m.hstack([x]), "stack_1": lambda m, x: m.stack([x])[0],
    "sum_no_axes": lambda m, x: m.sum(x, axis=()), "max_no_axes": lambda m, x: m.max(x, axis=()),
    "prod_no_axes": lambda m, x: m.prod(x, axis=()), "mean_no_axes": lambda m, x: m.mean(x, axis=()),
    "fftshift_no_axes": lambda m, x: m.fft.fftshift(x, axes=()),
    "matrix_power_1": lambda m, x: m.linalg.matrix_power(x, 1),
    "multiply_1": lambda m, x: m.multiply(x, 1.0), "where_true": lambda m, x: m.where(True, x, 0.0),
}


@pytest.mark.parametrize("src", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(FRESH))
def test_results_do_not_alias_inputs(name, src):
    """Writing into ``gnp.conj(x)`` (x real), ``gnp.power(x, 1)``, ``gnp.clip(x, None,
    None)``, ``gnp.astype(x, x.dtype)``, ... must not write into ``x``: NumPy's results
    are new arrays, gpuad's were ``x`` itself. Same values and dtypes as NumPy's."""
    fn = FRESH[name]
    x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=src)
    want = fn(np, x.copy())
    assert not np.shares_memory(want, x)
    got = fn(gnp, x)
    assert type(got) is type(want) and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert not np.shares_memory(got, x)


@pytest.mark.parametrize("y", [2, 1, 0.5, 2.0, 1.0, 3], ids=repr)
@pytest.mark.parametrize("x", [np.array([2, 3]), np.array([2, 3], np.int8), np.array([True, False]),
                               np.array([2.0, 3.0], np.float32), np.float32(2.0), 2.0, np.int8(3)],
                         ids=lambda v: f"{type(v).__name__}-{np.asarray(v).dtype}")
def test_power_shortcuts_keep_numpy_dtypes(x, y):
    """power's cheaper kernels for y = 2, 1, 0.5 give NumPy's type and dtype: power(int
    array, 1) stays int (was float64), power(bool array, 2) is int64 (was square's int8),
    power(np.float32(2), 1) a NumPy scalar (was a 0-d array)."""
    with np.errstate(all="ignore"):
        want, got = np.power(x, y), gnp.power(x, y)
    assert type(got) is type(want)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float))


# Every binary elementwise function; power's exponents 2, 1 and 0.5 take cheaper kernels.
BINARY = ["add", "subtract", "multiply", "divide", "true_divide", "power", "pow", "maximum",
          "minimum", "fmax", "fmin", "arctan2", "hypot", "remainder", "mod", "fmod",
          "logaddexp", "logaddexp2", "copysign", "heaviside", "float_power", "floor_divide"]
SCALARS = [np.float64, np.float32, np.int64, np.int32, float, int]


@pytest.mark.parametrize("src", [np.float32, np.float64])
@pytest.mark.parametrize("name", BINARY)
def test_binary_functions_with_scalars_as_numpy(name, src):
    """A NumPy scalar is strong under NEP 50 (``float32 ** np.float64(2)`` is float64), a
    Python one weak, on either side, untraced and under grad and jvp (np.float64, a
    subclass of float, took power's shortcut for 2, 1, 0.5 and kept float32; with 1 the
    traced and untraced dtypes differed)."""
    gf, nf = getattr(gnp, name), getattr(np, name)
    x = np.array([0.75, 1.25, 2.0], dtype=src)
    for kind in SCALARS:
        for v in (2.0, 1.0, 0.5, 3.0):
            s = kind(v) if kind not in (int, np.int64, np.int32) else kind(int(v))
            for call in (lambda f, a: f(a, s), lambda f, a: f(s, a)):
                with np.errstate(all="ignore"):
                    want = call(nf, x)
                    got = call(gf, x)
                    seen = {}

                    def f(a):
                        seen["r"] = call(gf, a)
                        return gnp.sum(seen["r"])
                    gpuad.grad(f)(x)
                    rg = gpuad.core.full_lower(seen["r"])
                    _, t = gpuad.jvp(f, (x,), (np.ones_like(x),))
                    rj = gpuad.core.full_lower(seen["r"])
                what = (name, src, kind, v)
                assert got.dtype == rg.dtype == rj.dtype == want.dtype, what
                np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=str(what))
                np.testing.assert_allclose(rg, want, rtol=1e-6, err_msg=str(what))


@pytest.mark.parametrize("y", [np.float64(2.0), np.float64(1.0), np.float64(0.5)], ids=repr)
def test_power_of_float32_by_float64_scalar_derivative(y):
    """``float32 ** np.float64(y)`` is float64 and its derivative ``y x^(y-1)`` (central
    differences), in float32 for the float32 input."""
    x = np.array([0.5, 1.5, 2.25], dtype=np.float32)
    f = lambda v: gnp.sum(gnp.sin(v ** y))
    g = gpuad.grad(f)(x)
    assert g.dtype == np.float32
    x64, h = x.astype(np.float64), 1e-6
    fd = [(np.sin((x64[i] + h) ** y) - np.sin((x64[i] - h) ** y)) / (2 * h) for i in range(3)]
    np.testing.assert_allclose(g, fd, rtol=1e-5)
    _, t = gpuad.jvp(lambda v: gnp.power(v, y), (x,), (np.ones_like(x),))
    assert t.dtype == np.float64
    np.testing.assert_allclose(t, y * x64 ** (y - 1), rtol=1e-12)


PIECES = {"np_float64": [np.float64(2.5), 0], "py_float": [2.5, 0.0],
          "fn_float64": [lambda v: v * np.float64(2.0), 1.5],
          "fn_complex": [lambda v: v + 1j, 0.0], "py_int": [3, 0]}


@pytest.mark.parametrize("kind", ["float32", "float64", "int64", "int8"])
@pytest.mark.parametrize("pieces", list(PIECES))
def test_piecewise_has_x_dtype(pieces, kind):
    """numpy.piecewise fills zeros_like(x): its result has x's dtype whatever the pieces
    give (float32 x with an np.float64 piece was float64; an int x was float64)."""
    x = np.array([0.5, 1.5, -2.0, 3.0]).astype(kind)
    fl = PIECES[pieces]
    with np.errstate(all="ignore"), _nowarn():
        want, got = np.piecewise(x, [x > 0], fl), gnp.piecewise(x, [x > 0], fl)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want)
    if x.dtype.kind == "f":
        seen = {}

        def f(v):
            seen["r"] = gnp.piecewise(v, [x > 0], fl)
            return gnp.sum(seen["r"])
        with _nowarn():
            g = gpuad.grad(f)(x)
        assert gpuad.core.full_lower(seen["r"]).dtype == want.dtype
        assert g.dtype == x.dtype


def _nowarn():
    """Warnings ignored (NumPy's ComplexWarning of a complex piece cast into real x)."""
    import contextlib
    import warnings

    @contextlib.contextmanager
    def quiet():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    return quiet()


@pytest.mark.parametrize("other", [np.array([3, 4]), np.array([3, 4], np.int8), [3.0, 4.0],
                                   np.array([1.0, 2.0], np.float32), 3],
                         ids=lambda v: f"{type(v).__name__}-{np.asarray(v).dtype}")
@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_meshgrid_keeps_each_dtype(other, indexing):
    """meshgrid(traced float32, int array): each output has its own input's dtype, as
    NumPy's (the int one was float64)."""
    x = np.array([0.5, 1.5, -2.0], np.float32)
    want = np.meshgrid(x, other, indexing=indexing)
    seen = {}

    def f(v):
        seen["r"] = gnp.meshgrid(v, other, indexing=indexing)
        return gnp.sum(seen["r"][0])
    g = gpuad.grad(f)(x)
    for w, r in zip(want, seen["r"]):
        r = gpuad.core.full_lower(r)
        assert r.dtype == w.dtype
        np.testing.assert_array_equal(r, w)
    np.testing.assert_array_equal(g, np.full(3, np.asarray(other).size, np.float32))
    assert g.dtype == x.dtype


SPECIAL = np.array([-7.0, 7.0, -0.0, 0.0, 1.5, -1.5, np.inf, -np.inf, np.nan, 1e300, 2.0])


@pytest.mark.parametrize("src", [np.float32, np.float64])
def test_heaviside_special_values_as_numpy(src):
    """heaviside(NaN, h0) is NaN (was 0); every pair of special values gives NumPy's
    value and dtype, untraced and traced (in either argument)."""
    a = np.repeat(SPECIAL, SPECIAL.size).astype(src)
    b = np.tile(SPECIAL, SPECIAL.size).astype(src)
    with np.errstate(all="ignore"):
        want = np.heaviside(a, b)
        outs = [gnp.heaviside(a, b)]
        for k in (0, 1):
            seen = {}

            def f(u):
                seen["r"] = gnp.heaviside(u, b) if k == 0 else gnp.heaviside(a, u)
                return gnp.sum(seen["r"] * 0.0)
            gpuad.grad(f)(a if k == 0 else b)
            outs.append(gpuad.core.full_lower(seen["r"]))
    for got in outs:
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


UNARY_SPECIAL = np.array([-7.0, 7.0, -0.0, 0.0, 1.5, -1.5, np.inf, -np.inf, np.nan, 1e300,
                          -1e300, 5e-324, -5e-324, 0.5, -0.5, 1.0, -1.0, 710.0, -745.0])
# every unary ufunc gpuad.numpy computes, and the non-ufuncs of that kind
UNARY_NAMES = sorted(n for n in dir(np) if isinstance(getattr(np, n), np.ufunc)
                     and getattr(np, n).nin == 1 and getattr(np, n).nout == 1) + \
    ["fix", "real", "imag", "angle", "round", "around"]
# values where gpuad deliberately differs: sinc at nonzero integers is exactly 0 (NumPy's
# sin(pi x) / (pi x) leaves a rounding residue); i0(+-inf) is inf (NumPy's series: NaN)
UNARY_SKIP = {"sinc", "i0"}


@pytest.mark.parametrize("src", [np.float32, np.float64])
@pytest.mark.parametrize("name", [n for n in UNARY_NAMES if n not in UNARY_SKIP])
def test_unary_special_values_as_numpy(name, src):
    """Every unary function at special values (NaN, +-0, +-inf, huge, subnormal) gives
    NumPy's value (4 ulps), sign of zero and dtype, untraced and traced: sign(NaN) was 0,
    angle(-0.0) 0 and angle(NaN) 0 (NumPy: NaN, pi, NaN)."""
    fn = getattr(gnp, name, None)
    x = UNARY_SPECIAL.astype(src)
    try:
        with np.errstate(all="ignore"):
            want = getattr(np, name)(x)
            got = fn(x)
    except (NotImplementedError, TypeError, AttributeError):
        pytest.skip("not computed by gpuad")
    seen = {}

    def f(u):
        seen["r"] = fn(u)
        r = gpuad.core.full_lower(seen["r"])
        return gnp.sum(u * 0.0) + (gnp.sum(seen["r"] * 0.0) if r.dtype.kind in "fc" else 0.0)
    with np.errstate(all="ignore"):
        gpuad.grad(f)(x)
    for r in (got, gpuad.core.full_lower(seen["r"])):
        r = np.asarray(r)
        assert r.dtype == want.dtype
        if want.dtype.kind not in "fc":
            np.testing.assert_array_equal(r, want)
            continue
        nan_w, nan_r = np.isnan(want), np.isnan(r)
        close = np.abs(r - want) <= 4 * np.finfo(src).eps * np.abs(want)
        ok = (nan_w & nan_r) | (~nan_w & ~nan_r & ((r == want) | close)
                                & (np.signbit(r) == np.signbit(want)))
        assert ok.all(), list(zip(x[~ok], want[~ok], r[~ok]))


# Orderings of complex numbers (NumPy's lexicographic maximum/minimum/fmax/fmin) are refused
# on purpose: README, "Complex numbers".
_COMPLEX_ORDERINGS = {"maximum", "minimum", "fmax", "fmin"}


@pytest.mark.parametrize("name", sorted(
    n for n in dir(gnp) if isinstance(getattr(np, n, None), np.ufunc)
    and getattr(np, n).signature is None and callable(getattr(gnp, n))))
def test_complex_input_is_refused_where_numpys_ufunc_refuses_it(name):
    # Every gpuad.numpy function that is an elementwise NumPy ufunc: complex operands give a
    # TypeError exactly where NumPy's gives one (deg2rad/rad2deg/heaviside computed a value
    # before). Names gpuad does not provide say so for any input.
    f, g = getattr(np, name), getattr(gnp, name)
    args = (np.array([0.5 + 0.25j, -1.5 + 2.0j]),) * f.nin
    try:
        g(*(np.array([0.5, 1.5]),) * f.nin)
    except NotImplementedError:
        with pytest.raises(NotImplementedError, match="not provided"):
            g(*args)
        return
    except TypeError:                 # (integer-only ufuncs: float input refused too)
        pass
    try:
        with np.errstate(all="ignore"):
            f(*args)
        numpy_refuses = False
    except TypeError:
        numpy_refuses = True
    if numpy_refuses:                 # (NumPy's own message where gpuad hands it on)
        with pytest.raises(TypeError):
            g(*args)
    elif name not in _COMPLEX_ORDERINGS:
        with np.errstate(all="ignore"):
            g(*args)
    else:
        with pytest.raises(TypeError, match="complex"):
            g(*args)


def test_at_refuses_a_complex_value_into_a_real_array():
    # NumPy's assignment drops the imaginary part with a ComplexWarning; a derivative in the
    # imaginary part would be lost with it: refused by name
    with pytest.raises(TypeError, match=r"\.at\[\.\.\.\]: a complex value .* real array"):
        gnp.at(np.ones(3))[0].set(1j)
    assert gnp.at(np.ones(3, complex))[0].add(2.0).dtype == np.complex128
