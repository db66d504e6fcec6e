"""gpuad.numpy's coverage of NumPy's namespace (issues 12 and 13), walked name by name.

Every public NumPy name has one status (gpuad/numpy/_coverage.py), the generated table
docs/numpy_coverage.md says the same, and each status holds when the name is called with
traced arguments: an implemented function has op-table rows (forward against NumPy, JVP
against central differences, VJP by the dot-product test); a zero-derivative function's
JVP is zero and agrees with central differences; a function of undifferentiated values
refuses a traced argument with a TypeError naming it; a missing one raises
NotImplementedError. Never a silent zero, never an AttributeError for a NumPy name. The
statuses are checked on NumPy and on CuPy arrays (``xp``).
"""
import pathlib

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad.numpy import _coverage as C

from op_table import TABLE
from _xp import host, on

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

def _y(x, v=Y):
    """``v`` (default Y) on the array module of ``x`` (CuPy refuses NumPy operands)."""
    return gpuad.runtime.launch.launcher(x).xp.asarray(v)


# How to call a zero-derivative function with a traced floating argument ``x`` (default:
# f(x)); None: it takes no floating array (integers only), so nothing can be traced.
ZERO_CALLS = {
    "allclose": lambda f, x: f(x, _y(x)), "array_equal": lambda f, x: f(x, _y(x)),
    "array_equiv": lambda f, x: f(x, _y(x)), "isclose": lambda f, x: f(x, _y(x)),
    "equal": lambda f, x: f(x, _y(x)), "not_equal": lambda f, x: f(x, _y(x)),
    "greater": lambda f, x: f(x, _y(x)), "greater_equal": lambda f, x: f(x, _y(x)),
    "less": lambda f, x: f(x, _y(x)), "less_equal": lambda f, x: f(x, _y(x)),
    "logical_and": lambda f, x: f(x, _y(x)), "logical_or": lambda f, x: f(x, _y(x)),
    "logical_xor": lambda f, x: f(x, _y(x)), "floor_divide": lambda f, x: f(x, 0.7),
    "argpartition": lambda f, x: f(x, 1), "searchsorted": lambda f, x: f(_y(x, np.sort(Y)), x),
    "digitize": lambda f, x: f(x, _y(x, np.array([-1.0, 0.0, 1.0]))),
    "isin": lambda f, x: f(x, _y(x)), "lexsort": lambda f, x: f((x, _y(x))),
    "may_share_memory": lambda f, x: f(x, _y(x)), "shares_memory": lambda f, x: f(x, _y(x)),
    "result_type": lambda f, x: f(x, _y(x)), "can_cast": lambda f, x: f(x, np.float32),
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


def _as_array(r, xp=np):
    if isinstance(r, (type, np.dtype)):
        return xp.zeros(0)                     # a type (result_type, common_type)
    if isinstance(r, (tuple, list)):
        return xp.stack([xp.asarray(a, dtype=np.float64) for a in r]) if r else xp.zeros(0)
    return xp.asarray(r, dtype=np.float64)


# Results that are not unique (CuPy's algorithm may pick another valid one than NumPy's):
# compared with NumPy's on NumPy arrays only; empty_like's values are never defined.
NOT_UNIQUE, UNDEFINED = {"argpartition"}, {"empty_like"}


@pytest.mark.parametrize("name", sorted(n for n in NAMES if STATUS[n] == "zero"))
def test_zero_derivative_functions_have_a_zero_derivative(name, xp):
    call = ZERO_CALLS.get(name, lambda f, x: f(x))
    if call is None:
        pytest.skip(f"numpy.{name} takes no floating array: no traced argument is possible")
    f = getattr(gnp, name)
    g = lambda x: call(f, x)                                   # noqa: E731
    v = np.array([0.7, -0.2, 0.4, 1.1])
    out, t = gpuad.jvp(lambda x: _as_array(g(x), xp) * 1.0, (xp.asarray(X),), (xp.asarray(v),))
    on(xp, (out, t))
    np.testing.assert_array_equal(host(t), 0.0)
    eps = 1e-6                                                  # the functions are constant here
    fd = (_as_array(call(getattr(np, name), X + eps * v)) -
          _as_array(call(getattr(np, name), X - eps * v))) / (2 * eps)
    np.testing.assert_array_equal(fd[np.isfinite(fd)], 0.0)
    if name not in UNDEFINED and (xp is np or name not in NOT_UNIQUE):
        np.testing.assert_array_equal(host(out), _as_array(call(getattr(np, name), X)))


@pytest.mark.parametrize("name", sorted(n for n in NAMES if STATUS[n] == "plain"))
def test_plain_functions_refuse_a_traced_argument(name, xp):
    f = getattr(gnp, name)
    with pytest.raises(TypeError, match=rf"gpuad\.numpy\.{name} .*argument 0 is a traced"):
        gpuad.grad(lambda x: f(x) * 0.0 + gnp.sum(x))(xp.asarray(X))


@pytest.mark.parametrize("name", sorted(n for n in NAMES if STATUS[n] == "missing"))
def test_missing_functions_say_what_to_use(name, xp):
    with pytest.raises(NotImplementedError, match=rf"gpuad\.numpy\.{name} is not provided: use"):
        getattr(gnp, name)(xp.asarray(X))


def test_no_helper_names_leak():
    public = [n for n in dir(gnp) if not n.startswith("_")]
    assert not [n for n in public if n not in NAMES and n not in EXTRA], \
        [n for n in public if n not in NAMES and n not in EXTRA]


_UFUNC_DEFAULTS = {"out": None, "where": True, "casting": "same_kind", "order": "K",
                   "dtype": None, "subok": True}


def _ufunc_names():
    return sorted(n for n in NAMES if STATUS[n] == "implemented"
                  and isinstance(getattr(np, n, None), np.ufunc)
                  and getattr(np, n).signature is None)     # (not matmul & co.: gufuncs)


@pytest.mark.parametrize("name", _ufunc_names())
def test_ufunc_keywords_at_numpys_defaults_are_accepted(name):
    """Every differentiable ufunc takes NumPy's ufunc keywords at their defaults (they were
    a bare "unexpected keyword argument"), traced and untraced, with the same values;
    another value of out=/where= on a traced array is a TypeError naming the function and
    the keyword."""
    uf = getattr(np, name)
    defaults = dict(_UFUNC_DEFAULTS, out=(None,) * uf.nout if uf.nout > 1 else None)
    args = [np.array([0.25, 0.5, 0.75]) + k for k in range(uf.nin)]
    if name == "ldexp":
        args[1] = np.array([1, 2, 3])
    with np.errstate(all="ignore"):
        want = uf(*args)
        got = getattr(gnp, name)(*args, **defaults)
        first = lambda r: r[0] if isinstance(r, tuple) else r
        np.testing.assert_allclose(first(got), first(want), rtol=1e-14)
        seen = {}

        def f(v):
            seen["r"] = first(getattr(gnp, name)(v, *args[1:], **defaults))
            return gnp.sum(seen["r"])
        gpuad.jvp(f, (args[0],), (np.ones(3),))
        np.testing.assert_allclose(gpuad.core.full_lower(seen["r"]), first(want), rtol=1e-14)
        out = (np.zeros(3),) * uf.nout if uf.nout > 1 else np.zeros(3)
        for kw, word in (({"out": out}, "out="), ({"where": args[0] > 0.3}, "where=")):
            with pytest.raises(TypeError, match=rf"gpuad.numpy.\w+: NumPy's keyword {word}"):
                gpuad.jvp(lambda v: first(getattr(gnp, name)(v, *args[1:], **kw)),
                          (args[0],), (np.ones(3),))


def test_numpy_keywords_implemented_or_named():
    """NumPy 2 keywords: ufunc dtype= (computed in that dtype, derivative by central
    differences), out= untraced (NumPy's own call), sort kind=/stable=, clip min=/max=,
    einsum dtype=/casting=/out=, joins' dtype=, fft out=, device='cpu'; otherwise a
    TypeError naming the function and the keyword."""
    x = np.array([0.5, 1.25, 2.0], np.float32)
    g = gpuad.grad(lambda v: gnp.sum(gnp.sin(gnp.multiply(v, v, dtype=np.float64))))(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x.astype(float) * np.cos(x.astype(float) ** 2),
                               rtol=1e-6)
    _, t = gpuad.jvp(lambda v: gnp.add(v, 1.0, dtype=np.float64), (x,), (np.ones(3, np.float32),))
    assert t.dtype == np.float64
    o = np.zeros(3, np.float32)
    assert gnp.add(x, x, out=o) is o and np.array_equal(o, 2 * x)
    with pytest.raises(TypeError, match="gpuad.numpy.multiply: dtype=int64 .* derivative"):
        gpuad.grad(lambda v: gnp.sum(gnp.multiply(v, v, dtype=np.int64)))(x)
    with pytest.raises(TypeError, match="gpuad.numpy.add.. got an unexpected keyword "
                                        "argument 'bogus'"):
        gpuad.grad(lambda v: gnp.sum(gnp.add(v, v, bogus=1)))(x)
    # sort
    y = np.array([[3.0, -1.0, 2.0], [0.5, 4.0, 0.5]])
    for kw in ({"kind": "stable"}, {"kind": "quicksort"}, {"kind": "m"}, {"stable": True},
               {"stable": False}):
        np.testing.assert_array_equal(gnp.sort(y, **kw), np.sort(y, **kw))
        gpuad.grad(lambda v: gnp.sum(gnp.sort(v, **kw) * np.arange(3.0)))(y)
    for kw in ({"kind": "stable", "stable": True}, {"order": "f"}, {"kind": "bogus"}):
        with pytest.raises(ValueError):
            np.sort(y, **kw)
        with pytest.raises(ValueError):
            gnp.sort(y, **kw)
    # clip
    for args, kw in [((), {"min": 0.0}), ((), {"max": 1.0}), ((), {"min": 0.0, "max": 1.0}),
                     ((0.0, 1.0), {}), ((None, 1.0), {})]:
        np.testing.assert_array_equal(gnp.clip(y, *args, **kw), np.clip(y, *args, **kw))
        gc = gpuad.grad(lambda v: gnp.sum(gnp.clip(v, *args, **kw)))(y)
        lo, hi = (args + (None, None))[:2] if args else (kw.get("min"), kw.get("max"))
        inside = (y > (-np.inf if lo is None else lo)) & (y < (np.inf if hi is None else hi))
        np.testing.assert_array_equal(gc, inside.astype(float))
    for args, kw, err in [((0.0,), {}, TypeError), ((0.0, 1.0), {"min": 0.0}, ValueError)]:
        with pytest.raises(err):
            np.clip(y, *args, **kw)
        with pytest.raises(err):
            gnp.clip(y, *args, **kw)
    # einsum
    y32 = y.astype(np.float32)
    r = gnp.einsum("ij,ij->i", y32, y32, dtype=np.float64)
    assert r.dtype == np.float64
    np.testing.assert_allclose(r, np.einsum("ij,ij->i", y32, y32, dtype=np.float64))
    ge = gpuad.grad(lambda v: gnp.sum(gnp.einsum("ij,ij->i", v, v, dtype=np.float64)))(y32)
    assert ge.dtype == np.float32
    np.testing.assert_allclose(ge, 2 * y32, rtol=1e-6)
    with pytest.raises(TypeError, match="casting='safe'"):
        gnp.einsum("ij,ij->i", y, y, dtype=np.float32)
    np.testing.assert_allclose(gnp.einsum("ij,ij->i", y, y, dtype=np.float32,
                                          casting="same_kind"),
                               np.einsum("ij,ij->i", y, y, dtype=np.float32, casting="same_kind"))
    o2 = np.zeros(2)
    assert gnp.einsum("ij,ij->i", y, y, out=o2) is o2
    np.testing.assert_allclose(o2, np.einsum("ij,ij->i", y, y))
    # joins, fft, device
    seen = {}

    def join(v):
        seen["r"] = gnp.concatenate([v, v], dtype=np.float32)
        return gnp.sum(seen["r"])
    np.testing.assert_array_equal(gpuad.grad(join)(y), np.full(y.shape, 2.0))
    assert gpuad.core.full_lower(seen["r"]).dtype == np.float32
    with pytest.raises(TypeError, match="cannot cast"):
        gpuad.grad(lambda v: gnp.sum(gnp.stack([v, v], dtype=np.int64)))(y)
    of = np.zeros((2, 3), complex)
    assert gnp.fft.fft(y, out=of) is of
    np.testing.assert_allclose(of, np.fft.fft(y))
    with pytest.raises(TypeError, match="gpuad.numpy.fft.fft: out= is not supported"):
        gpuad.grad(lambda v: gnp.sum(gnp.real(gnp.fft.fft(v, out=of))))(y)
    gpuad.grad(lambda v: gnp.sum(gnp.asarray(v, device="cpu")))(y)
    with pytest.raises(TypeError, match="gpuad.numpy.matmul: NumPy's keyword axes="):
        gpuad.grad(lambda v: gnp.sum(gnp.matmul(v, v.T, axes=[(0, 1), (1, 0), (0, 1)])))(y)
