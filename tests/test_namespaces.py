"""Every public namespace of array functions besides gpuad.numpy itself (tests/test_coverage.py
walks that one), walked name by name (issue 12.1, issue 13): the namespace lists exactly its
functions (no helper names such as ``annotations`` or ``np``), and each function is
differentiable and in the one op table (forward against NumPy/SciPy, JVP against central
differences, VJP by the dot-product test, second order), or is listed here with the test
file that covers it. A namespace added later fails the first test until it is added here.
"""
import importlib
import pathlib
import pkgutil

import numpy as np
import pytest

import gpuad

from op_table import TABLE

TESTS = pathlib.Path(__file__).resolve().parent
ROWS = {r.name for r in TABLE}

# namespace -> the prefix of its rows in tests/op_table.py
PREFIX = {
    "gpuad.nn": "nn_",
    "gpuad.numpy.fft": "fft_",
    "gpuad.numpy.emath": "emath_",
    "gpuad.numpy.linalg": "linalg_",
    "gpuad.scipy.linalg": "scipy_",
    "gpuad.scipy.signal": "scipy_",
    "gpuad.scipy.integrate": "",
    "gpuad.scipy.special": "special_",
    "gpuad.scipy.stats": "stats_",
}
# Names without op-table rows: why, and the test file that covers them.
ELSEWHERE = {
    "gpuad.numpy.fft.fftfreq": ("sample frequencies of a length: no array argument",
                                "test_fft.py"),
    "gpuad.numpy.fft.rfftfreq": ("as fftfreq", "test_fft.py"),
    "gpuad.numpy.linalg.LinAlgError": ("NumPy's exception class", "test_reductions_linalg.py"),
    "gpuad.numpy.linalg.matrix_rank": ("an integer: derivative 0 (coverage 'zero')",
                                       "test_reductions_linalg.py"),
    "gpuad.numpy.linalg.eig": ("NumPy's own, not differentiable: NotImplementedError when "
                               "traced", "test_reductions_linalg.py"),
    "gpuad.numpy.linalg.eigvals": ("as eig", "test_reductions_linalg.py"),
    "gpuad.scipy.integrate.odeint": ("agrees with SciPy only to the solver's tolerance: "
                                     "closed forms, finite differences of the same discrete "
                                     "solver, check_grads to order 2", "test_scipy_integrate.py"),
    "gpuad.scipy.integrate.solve_ivp": ("as odeint", "test_scipy_integrate.py"),
    "gpuad.scipy.integrate.OdeResult": ("solve_ivp's result type", "test_scipy_integrate.py"),
}
# Objects of other libraries a namespace re-exports on purpose.
REEXPORTS = {"gpuad.numpy.linalg.LinAlgError": np.linalg.LinAlgError}


def namespaces():
    found = ["gpuad.nn"]
    for pkg in ("gpuad.numpy", "gpuad.scipy"):
        mod = importlib.import_module(pkg)
        found += [m.name for m in pkgutil.walk_packages(mod.__path__, pkg + ".")
                  if not any(p.startswith("_") for p in m.name.split("."))]
    return sorted(found)


def test_every_namespace_is_walked():
    assert namespaces() == sorted(PREFIX), "a new public namespace: add it to PREFIX"


@pytest.mark.parametrize("ns", sorted(PREFIX))
def test_namespace_lists_exactly_its_functions(ns):
    mod = importlib.import_module(ns)
    public = sorted(n for n in dir(mod) if not n.startswith("_"))
    assert public == sorted(mod.__all__), f"{ns}: dir() and __all__ differ (a helper leaks)"
    for name in mod.__all__:
        obj = getattr(mod, name)
        full = f"{ns}.{name}"
        if full in REEXPORTS:
            assert obj is REEXPORTS[full]
            continue
        assert callable(obj) and obj.__module__.startswith("gpuad"), \
            f"{full} is {obj!r}, not a gpuad function or class"
        assert obj.__doc__, f"{full} has no docstring"


@pytest.mark.parametrize("full", sorted(f"{ns}.{n}" for ns in PREFIX
                                        for n in importlib.import_module(ns).__all__))
def test_every_function_is_tested(full):
    ns, name = full.rsplit(".", 1)
    if full in ELSEWHERE:
        why, where = ELSEWHERE[full]
        assert name in (TESTS / where).read_text(), f"{where} does not test {full} ({why})"
        return
    row = PREFIX[ns] + name
    assert row in ROWS or any(r.startswith(row + "_") for r in ROWS), \
        f"{full} has no row {row!r} in tests/op_table.py"


def test_top_level_namespace_leaks_no_helper_names():
    # a newcomer's review: dir(gpuad) listed `annotations` (a __future__ import's binding)
    import types
    public = {n for n in dir(gpuad) if not n.startswith("_")
              and (n in gpuad.__all__ or not isinstance(getattr(gpuad, n), types.ModuleType))}
    assert public == set(gpuad.__all__), public ^ set(gpuad.__all__)


@pytest.mark.parametrize("mod", ["numpy", "numpy.lib.scimath", "numpy.fft", "numpy.linalg"])
def test_numpy_functions_on_traced_arrays_are_numpys_or_refused(mod):
    # NumPy's functions reach a traced array through __array_function__: each must give
    # NumPy's value (its gpuad counterpart in the same namespace) or raise, never run
    # another namespace's function of the same name (numpy.emath.sqrt ran the real sqrt:
    # NaN where NumPy gives complex roots, a newcomer's review).
    ns = importlib.import_module(mod)
    x = np.array([[-2.0, 0.5, 1.5], [0.25, -1.25, 3.0], [1.0, 2.0, -0.75]])
    names = (["sqrt", "sum", "mean", "cumsum", "sort", "diff", "trace", "round", "flip",
              "transpose", "ravel", "max", "real", "imag", "conj", "angle", "median"]
             if mod == "numpy" else [n for n in dir(ns) if not n.startswith("_")])
    checked = 0
    for name in names:
        f = getattr(ns, name)
        if not callable(f) or isinstance(f, type):
            continue
        try:
            with np.errstate(all="ignore"):
                ref = f(x)
        except Exception:
            continue                       # needs more arguments
        try:
            got, _ = gpuad.jvp(lambda v: f(v), (x,), (np.ones_like(x),))
        except (NotImplementedError, TypeError):
            continue
        ref = ref if not isinstance(ref, tuple) else ref[0]
        got = got if not isinstance(got, (tuple, list)) else got[0]
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-12, atol=1e-12,
                                   err_msg=f"{mod}.{name}")
        checked += 1
    assert checked >= 3


def test_python_lists_are_arrays_as_in_numpy():
    # A newcomer's review: gnp.sin([0.1, 0.2]), special.erf([...]), nn.softmax([...]) raised
    # "Field elements must be 2- or 3-tuples" (np.result_type read a list as a dtype spec).
    # Every op-table row that calls a gpuad function directly, on lists of its inputs.
    from op_table import uniform
    rng = np.random.default_rng(0)
    checked = 0
    for r in TABLE:
        shp = next((s for s in r.shapes if all(a == (3,) for a in s)), None)
        if shp is None or r.nondiff or getattr(r.fun, "__name__", "<lambda>") == "<lambda>":
            continue
        xs = [(r.domain or uniform(-2, 2))(rng, a) for a in shp]
        with np.errstate(all="ignore"):
            ref = r.ref(*xs)
        got = r.fun(*[x.tolist() for x in xs])
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-10, atol=1e-300,
                                   equal_nan=True, err_msg=r.name)
        checked += 1
    assert checked > 100
