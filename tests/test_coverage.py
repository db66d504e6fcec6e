"""gpuad.numpy's coverage of NumPy's namespace (issues 12 and 13), walked name by name.

Every public NumPy name has one status (gpuad/numpy/_coverage.py), the generated table
docs/numpy_coverage.md says the same, and each status holds when the name is called with
traced arguments: an implemented function has op-table rows (forward against NumPy, JVP
against central differences, VJP by the dot-product test); a zero-derivative function's
JVP is zero and agrees with central differences; a function of undifferentiated values
refuses a traced argument with a TypeError naming it; a missing one raises
NotImplementedError. Never a silent zero, never an AttributeError for a NumPy name.
"""
import pathlib

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad.numpy import _coverage as C

from op_table import TABLE

NAMES = C.numpy_names()
STATUS = {n: C.status(n, vars(gnp)) for n in NAMES}
ROWS = {r.name for r in TABLE}
DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "numpy_coverage.md"


def test_every_numpy_name_has_a_status():
    assert not [n for n, s in STATUS.items() if s == "unclassified"]
    for n in NAMES:
        getattr(gnp, n)            # never AttributeError


def test_the_generated_table_is_current():
    # python -m gpuad coverage writes it
    assert DOC.read_text().endswith(C.table(vars(gnp)))


def _has_row(name):
    return name in ROWS or any(r.startswith(name + "_") for r in ROWS)


# gpuad's own names beside NumPy's (nn-style functions), and NumPy names whose row carries
# another name.
EXTRA = ["sigmoid", "softplus", "relu", "erf", "logsumexp", "at"]
ROW_OF = {"amax": "max", "amin": "min", "ravel": "reshape", "expand_dims": "expand_dims",
          "true_divide": "divide", "fmax": "maximum", "fmin": "minimum", "fabs": "abs",
          "matmul": "matmul", "positive": "negative", "squeeze": "squeeze",
          "array_split": "array_split", "split": "split", "linalg": "linalg_solve", "astype": "astype",
          "copy": "asarray", "asanyarray": "asarray", "ascontiguousarray": "asarray",
          "array": "array_nested", "outer": "outer", "inner": "inner", "trace": "trace",
          "tensordot": "tensordot", "swapaxes": "swapaxes", "moveaxis": "moveaxis",
          "broadcast_to": "broadcast_to", "atleast_1d": "atleast_1d", "atleast_2d": "atleast_2d",
          "hstack": "hstack", "vstack": "vstack", "stack": "stack", "transpose": "transpose",
          "take_along_axis": "take_along_axis", "row_stack": "row_stack", "where": "where",
          "sort": "sort", "cumsum": "cumsum", "std": "std", "var": "var", "mean": "mean"}


@pytest.mark.parametrize("name", [n for n in NAMES if STATUS[n] == "implemented"] + EXTRA)
def test_implemented_names_have_op_table_rows(name):
    assert _has_row(ROW_OF.get(name, name)), f"gpuad.numpy.{name} has no row in tests/op_table.py"


X = np.array([0.3, -1.7, 2.2, 0.9])
Y = np.array([1.1, -0.4, 2.5, 0.2])

# How to call a zero-derivative function with a traced floating argument ``x`` (default:
# f(x)); None: it takes no floating array (integers only), so nothing can be traced.
ZERO_CALLS = {
    "allclose": lambda f, x: f(x, Y), "array_equal": lambda f, x: f(x, Y),
    "array_equiv": lambda f, x: f(x, Y), "isclose": lambda f, x: f(x, Y),
    "equal": lambda f, x: f(x, Y), "not_equal": lambda f, x: f(x, Y),
    "greater": lambda f, x: f(x, Y), "greater_equal": lambda f, x: f(x, Y),
    "less": lambda f, x: f(x, Y), "less_equal": lambda f, x: f(x, Y),
    "logical_and": lambda f, x: f(x, Y), "logical_or": lambda f, x: f(x, Y),
    "logical_xor": lambda f, x: f(x, Y), "floor_divide": lambda f, x: f(x, 0.7),
    "argpartition": lambda f, x: f(x, 1), "searchsorted": lambda f, x: f(np.sort(Y), x),
    "digitize": lambda f, x: f(x, np.array([-1.0, 0.0, 1.0])),
    "isin": lambda f, x: f(x, Y), "lexsort": lambda f, x: f((x, Y)),
    "may_share_memory": lambda f, x: f(x, Y), "shares_memory": lambda f, x: f(x, Y),
    "result_type": lambda f, x: f(x, Y), "can_cast": lambda f, x: f(x, np.float32),
    "promote_types": None, "broadcast_shapes": None, "issubdtype": None, "isdtype": None,
    "min_scalar_type": None, "common_type": lambda f, x: f(x), "mintypecode": None,
    "zeros_like": lambda f, x: f(x), "bincount": None,
    "empty_like": lambda f, x: np.asarray(f(x).shape),      # (its values are garbage)
    "gcd": None, "lcm": None,
    "left_shift": None, "right_shift": None, "bitwise_left_shift": None,
    "bitwise_right_shift": None, "packbits": None, "unpackbits": None, "isnat": None,
}
for _b in ("and", "or", "xor", "not", "invert", "count"):
    ZERO_CALLS[f"bitwise_{_b}"] = None
ZERO_CALLS["invert"] = None


def _as_array(r):
    if isinstance(r, (type, np.dtype)):
        return np.zeros(0)                     # a type (result_type, common_type)
    if isinstance(r, (tuple, list)):
        return np.stack([np.asarray(a, dtype=np.float64) for a in r]) if r else np.zeros(0)
    return np.asarray(r, dtype=np.float64)


@pytest.mark.parametrize("name", sorted(n for n in NAMES if STATUS[n] == "zero"))
def test_zero_derivative_functions_have_a_zero_derivative(name):
    call = ZERO_CALLS.get(name, lambda f, x: f(x))
    if call is None:
        pytest.skip(f"numpy.{name} takes no floating array: no traced argument is possible")
    f = getattr(gnp, name)
    g = lambda x: call(f, x)                                   # noqa: E731
    v = np.array([0.7, -0.2, 0.4, 1.1])
    out, t = gpuad.jvp(lambda x: _as_array(g(x)) * 1.0, (X,), (v,))
    np.testing.assert_array_equal(np.asarray(t), 0.0)
    eps = 1e-6                                                  # the functions are constant here
    fd = (_as_array(call(getattr(np, name), X + eps * v)) -
          _as_array(call(getattr(np, name), X - eps * v))) / (2 * eps)
    np.testing.assert_array_equal(fd[np.isfinite(fd)], 0.0)
    np.testing.assert_array_equal(np.asarray(out), _as_array(call(getattr(np, name), X)))


@pytest.mark.parametrize("name", sorted(n for n in NAMES if STATUS[n] == "plain"))
def test_plain_functions_refuse_a_traced_argument(name):
    f = getattr(gnp, name)
    with pytest.raises(TypeError, match=rf"gpuad\.numpy\.{name} .*argument 0 is a traced"):
        gpuad.grad(lambda x: f(x) * 0.0 + gnp.sum(x))(X)


@pytest.mark.parametrize("name", sorted(n for n in NAMES if STATUS[n] == "missing"))
def test_missing_functions_say_what_to_use(name):
    with pytest.raises(NotImplementedError, match=rf"gpuad\.numpy\.{name} is not provided: use"):
        getattr(gnp, name)(X)


def test_no_helper_names_leak():
    public = [n for n in dir(gnp) if not n.startswith("_")]
    assert not [n for n in public if n not in NAMES and n not in EXTRA], \
        [n for n in public if n not in NAMES and n not in EXTRA]
