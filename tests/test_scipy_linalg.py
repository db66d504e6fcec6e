"""gpuad.scipy.linalg beyond the op table: derivatives against SciPy's own derivative
routines, the singular points (each refused by name), what a function reads, and the
namespace. The op table (tests/op_table.py, SCIPY_LINALG) checks values against SciPy and
derivatives to second order in both modes."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.linalg as sl

import gpuad
import gpuad.scipy.linalg as gsl

RNG = np.random.default_rng(3)
EPS = np.finfo(np.float64).eps


def _shifted(n, seed=0):
    r = np.random.default_rng(seed)
    return 2 * np.eye(n) + r.uniform(-0.5, 0.5, (n, n)) / n


# ------------------------------------------------------------------ against SciPy's derivatives

def test_expm_derivative_is_scipys_frechet_derivative_in_every_mode():
    a, e = _shifted(3) - 2 * np.eye(3), RNG.standard_normal((3, 3))
    want = sl.expm_frechet(a, e, compute_expm=False)
    _, t = gpuad.jvp(gsl.expm, (a,), (e,))
    np.testing.assert_allclose(t, want, rtol=0, atol=1e-13)
    w = RNG.standard_normal((3, 3))
    f = lambda a: gpuad.numpy.sum(gsl.expm(a) * w)                          # noqa: E731
    g = gpuad.grad(f)(a)
    np.testing.assert_allclose(np.sum(g * e), np.sum(w * want), rtol=1e-13)
    np.testing.assert_allclose(gpuad.jacfwd(gsl.expm)(a), gpuad.jacrev(gsl.expm)(a),
                               rtol=0, atol=1e-13)
    h = gpuad.hessian(f)(a).reshape(9, 9)
    np.testing.assert_allclose(h, h.T, rtol=0, atol=1e-12)        # a Hessian is symmetric
    np.testing.assert_allclose(gpuad.hvp(f, a, e).ravel(), h @ e.ravel(), rtol=0, atol=1e-12)


def test_sqrtm_derivative_solves_the_sylvester_equation():
    a, e = _shifted(4, 1), RNG.standard_normal((4, 4))
    x, t = gpuad.jvp(gsl.sqrtm, (a,), (e,))
    np.testing.assert_allclose(x @ t + t @ x, e, rtol=0, atol=1e-13)
    np.testing.assert_allclose(t, sl.solve_sylvester(x, x, e), rtol=0, atol=1e-13)


def test_solve_triangular_reads_only_its_triangle():
    a, b = _shifted(3), RNG.standard_normal((3, 2))
    other = a + np.triu(RNG.standard_normal((3, 3)), 0)      # diagonal and above changed
    np.fill_diagonal(other, 1.0)
    x = gsl.solve_triangular(a, b, lower=True, unit_diagonal=True)
    np.testing.assert_array_equal(x, gsl.solve_triangular(other, b, lower=True,
                                                          unit_diagonal=True))
    g = gpuad.grad(lambda a: gpuad.numpy.sum(gsl.solve_triangular(a, b, lower=True,
                                                                  unit_diagonal=True)))(a)
    np.testing.assert_array_equal(np.triu(g), np.zeros((3, 3)))     # exactly 0: not read
    assert np.all(np.tril(g, -1)[np.tril_indices(3, -1)] != 0)


def test_cho_factor_keeps_the_other_triangle_and_passes_its_derivative_through():
    a = np.array([[4.0, 2.0, 1.0], [2.0, 5.0, 3.0], [7.5, 3.0, 6.0]])   # a[2, 0] is not read
    c, lower = gsl.cho_factor(a)
    np.testing.assert_allclose(c, sl.cho_factor(a)[0], rtol=1e-15)
    assert lower is False and c[2, 0] == 7.5
    g = gpuad.grad(lambda a: gsl.cho_factor(a)[0][2, 0])(a)
    np.testing.assert_array_equal(g, np.eye(3)[2][:, None] * np.eye(3)[0])


def test_lu_pivots_are_plain_integers_and_match_scipy():
    a = RNG.standard_normal((2, 4, 4))
    lu, piv = gsl.lu_factor(a)
    slu, spiv = sl.lu_factor(a)
    np.testing.assert_array_equal(piv, spiv)
    assert type(piv) is np.ndarray and piv.dtype.kind == "i"
    np.testing.assert_allclose(lu, slu, rtol=0, atol=1e-14)


# ------------------------------------------------------------------ singular points

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])      # LU meets an exactly zero pivot


def test_solve_triangular_with_a_zero_on_the_diagonal_is_refused_by_name():
    a = np.array([[1.0, 0.0], [1.0, 0.0]])
    with pytest.raises(np.linalg.LinAlgError, match="^solve_triangular: a has a zero"):
        gsl.solve_triangular(a, np.ones(2), lower=True)
    with pytest.raises(np.linalg.LinAlgError, match="^cho_solve: the Cholesky factor"):
        gsl.cho_solve((a, True), np.ones(2))


def test_cho_factor_of_a_matrix_that_is_not_positive_definite_is_refused_by_name():
    with pytest.raises(np.linalg.LinAlgError, match="^cho_factor: .*not positive definite"):
        gsl.cho_factor(np.array([[1.0, 2.0], [2.0, 1.0]]))


def test_lu_factor_of_a_singular_matrix_has_values_but_no_derivative():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # SciPy's "Diagonal number 2 is exactly zero"
        lu, piv = gsl.lu_factor(SINGULAR)
        np.testing.assert_array_equal(lu, sl.lu_factor(SINGULAR)[0])
        with pytest.raises(np.linalg.LinAlgError, match="^lu_factor: U has a zero"):
            gpuad.grad(lambda a: gpuad.numpy.sum(gsl.lu_factor(a)[0]))(SINGULAR)


def test_sqrtm_at_a_singular_matrix_has_no_derivative():
    a = np.diag([0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # SciPy's "Matrix is singular"
        np.testing.assert_array_equal(gsl.sqrtm(a), a)
        with pytest.raises(np.linalg.LinAlgError, match="^sqrtm: a is singular"):
            gpuad.jvp(gsl.sqrtm, (a,), (np.ones((2, 2)),))
        with pytest.raises(np.linalg.LinAlgError, match="^sqrtm: a is singular"):
            gpuad.grad(lambda a: gpuad.numpy.sum(gsl.sqrtm(a)))(a)


def test_sqrtm_of_a_matrix_with_a_negative_eigenvalue_is_refused():
    with pytest.raises(ValueError, match="^sqrtm: a has a negative real eigenvalue"):
        gsl.sqrtm(np.diag([-1.0, 1.0]))


def test_solve_sylvester_without_a_unique_solution_is_refused():
    # a and -b share the eigenvalue 1: SciPy alone returns large garbage here.
    a, b = np.diag([1.0, 2.0]), np.diag([-1.0, 3.0])
    with pytest.raises(np.linalg.LinAlgError, match="^solve_sylvester: a and -b have a common"):
        gsl.solve_sylvester(a, b, np.ones((2, 2)))
    x = gsl.solve_sylvester(a, -b + 0.5 * np.eye(2), np.ones((2, 2)))    # solvable: fine
    np.testing.assert_allclose(a @ x + x @ (-b + 0.5 * np.eye(2)), np.ones((2, 2)), atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_sylvester_refusal_measures_complex_matrices_by_their_moduli(dtype):
    # The refusal's scale ||a|| + ||b|| is a Frobenius norm: sum |m|^2, not sum m^2 (for
    # complex matrices the latter is complex, its real part can be 0 or negative, and the
    # comparison then let a near-common eigenvalue through: a 1e15 answer without a word).
    # Every user of the Sylvester solver: solve_sylvester and sqrtm's derivative.
    rot = np.eye(2, dtype=dtype) * (1j if dtype == np.complex128 else 1)
    a = np.array([[2.0, 1.0], [0.0, 3.0]]) * rot
    b = np.array([[-2.0 + 1e-16, 0.0], [1.0, -5.0]]) * rot
    with pytest.raises(np.linalg.LinAlgError, match="^solve_sylvester: a and -b have a common"):
        gsl.solve_sylvester(a, b, np.ones((2, 2), dtype=dtype))
    s = np.diag([1e-40, -1.0]).astype(dtype) if dtype == np.complex128 else np.diag([1e-40, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(np.linalg.LinAlgError, match="^sqrtm: a is singular"):
            gpuad.jvp(gsl.sqrtm, (s,), (np.ones((2, 2), dtype=dtype),))
        with pytest.raises(np.linalg.LinAlgError, match="^sqrtm: a is singular"):
            gpuad.grad(lambda m: gpuad.numpy.sum(gpuad.numpy.real(gsl.sqrtm(m))))(s)


@pytest.mark.parametrize("call", [
    lambda: gsl.solve_triangular(np.eye(2), np.ones(3)),
    lambda: gsl.cho_solve((np.eye(2), False), np.ones((3, 1))),
    lambda: gsl.lu_solve((np.eye(2), np.arange(2)), np.ones(3)),
    lambda: gsl.solve_sylvester(np.eye(2), np.eye(3), np.ones((3, 2))),
    lambda: gsl.expm(np.ones((2, 3))),
    lambda: gsl.block_diag(np.ones((1, 1, 1))),
    lambda: gsl.solve_triangular(np.eye(2), np.ones(2), trans="X"),
    lambda: gsl.solve_triangular(np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2)),
])
def test_bad_arguments_raise_value_errors_naming_the_function(call):
    with pytest.raises(ValueError, match=r"^(solve_triangular|cho_solve|lu_solve|"
                                         r"solve_sylvester|expm|block_diag|array must)"):
        call()


# ------------------------------------------------------------------ the namespace

def test_scipy_namespace_holds_scipy_linalg_names_only_and_loads_on_use():
    public = {n for n in dir(gsl) if not n.startswith("_")}
    assert public == set(gsl.__all__)
    assert public <= set(dir(sl))
    code = ("import sys, gpuad, gpuad.scipy\n"
            "assert 'gpuad.scipy.linalg' not in sys.modules\n"
            "assert gpuad.scipy.linalg.expm.__module__ == 'gpuad.scipy.linalg'\n"
            "print(sorted(gpuad.scipy.__all__))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    # Every module beside gpuad/scipy/__init__.py is a listed subpackage, and nothing else.
    import gpuad.scipy
    import pathlib
    files = sorted(p.stem for p in pathlib.Path(gpuad.scipy.__file__).parent.glob("*.py")
                   if not p.stem.startswith("_"))
    assert r.stdout.strip() == str(files)


@pytest.mark.parametrize("module", ["gpuad.numpy.linalg", "gpuad.scipy.linalg"])
def test_docstring_examples_run(module):
    import doctest
    import importlib
    import gpuad.numpy as gnp
    mod = importlib.import_module(module)
    failed, attempted = doctest.testmod(
        mod, extraglobs=dict(np=np, gnp=gnp, gpuad=gpuad, gsl=gsl),
        optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted >= len(mod.__all__) - 1 and failed == 0
