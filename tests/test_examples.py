"""The examples' numerical claims, each in a small configuration, with NumPy arrays on the
CPU (``--device cpu``) and with CuPy arrays (``--device cuda``, marked gpu).

- newton_cg_logreg: gpuad's Newton-CG coefficients equal scikit-learn's newton-cg at the
  same regularization to 1e-6 (with and without an intercept).
- trust_region: the same minimizer as SciPy's trust-ncg fed with gpuad's derivatives.
- inverse_diffusion: the recovered coefficient's relative error is below 6%, the
  randomized eigenvalues match a dense Hessian (gpuad.hessian) to 1e-3, and checkpointing
  lowers the peak memory of the gradient.
- hutchinson: the trace and diagonal estimates lie within 5 standard errors, the standard
  error derived from the exact Hessian.
- spectral_inverse: gradient and HVP through FFTs and the checkpointed complex loop agree
  with central differences, the recovered initial condition's relative error is below
  10% (5 times below the zero guess's), and Newton-CG converges.
"""
import math
import pathlib
import sys

import numpy as np
import pytest

import gpuad

from _xp import host
from conftest import XP

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))     # the examples import their sibling _common

import hutchinson            # noqa: E402
import inverse_diffusion     # noqa: E402
import newton_cg_logreg      # noqa: E402
import spectral_inverse      # noqa: E402
import trust_region          # noqa: E402

def device(xp):
    """The examples' command-line device options for the array module ``xp``."""
    return ["--device", "cpu" if xp is np else "cuda", "--no-progress"]


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ logistic regression

def test_logreg_matches_sklearn_breast_cancer(tmp_path, capsys, xp):
    png = tmp_path / "logreg.png"
    results = newton_cg_logreg.main(device(xp) + ["--synthetic", "0", "0", "--plot", str(png)])
    (r,) = results
    assert r["converged"] and r["grad_norm"] <= 1e-11
    assert r["max_abs_diff"] < 1e-6, r["max_abs_diff"]
    assert r["sklearn_iters"] > 0 and r["gpuad_iters"] > 0
    assert _is_png(png)
    assert "breast-cancer" in capsys.readouterr().out


@pytest.mark.parametrize("data, C, fit_intercept", [
    ("synthetic", 0.05, True), ("synthetic", 0.05, False),
    # Weak regularization (lam = 1/(100 n)): the hardest-conditioned case.
    ("breast-cancer", 100.0, False)])
def test_logreg_matches_sklearn(data, C, fit_intercept, xp):
    if data == "synthetic":
        X, y = newton_cg_logreg.synthetic(3000, 12, xp, seed=3)
    else:
        X, y = newton_cg_logreg.breast_cancer(xp)
    r = newton_cg_logreg.solve(X, y, C=C, fit_intercept=fit_intercept)
    assert r["converged"]
    assert r["coef"].shape == (X.shape[1] + fit_intercept,)
    assert r["max_abs_diff"] < 1e-6, r["max_abs_diff"]


def test_lambda_from_c_is_sklearns_objective(xp):
    # At scikit-learn's solution the gradient of f with lam = 1/(C n) vanishes.
    X, y = newton_cg_logreg.breast_cancer()
    C = 0.3
    coef, _, _ = newton_cg_logreg.fit_sklearn(X, y, C)
    f = newton_cg_logreg.logistic_loss(xp.asarray(X), xp.asarray(y),
                                       newton_cg_logreg.lam_from_c(C, X.shape[0]))
    assert np.linalg.norm(host(gpuad.grad(f)(xp.asarray(coef)))) < 1e-9


# ------------------------------------------------------------------ trust region

def test_trust_region_matches_scipy_standard_start(tmp_path, xp):
    png = tmp_path / "tr.png"
    out = trust_region.main(device(xp) + ["--n", "2000", "--plot", str(png)])
    assert out["gpuad"].converged and out["scipy"].success
    assert out["max_abs_diff"] < 1e-6
    assert np.max(np.abs(out["x_gpuad"] - 1.0)) < 1e-6
    # Same algorithm and constants from the same start: the iteration counts agree (they
    # are observed equal; a margin leaves room for rounding differences in SciPy's CG).
    assert abs(out["gpuad"].iterations - out["scipy"].nit) <= max(2, out["scipy"].nit // 5)
    assert _is_png(png)


def test_trust_region_matches_scipy_perturbed_start(xp):
    out = trust_region.solve(n=200, xp=xp, perturb=0.1, seed=1)
    assert out["gpuad"].converged and out["scipy"].success
    assert out["max_abs_diff"] < 1e-6
    assert np.max(np.abs(out["x_scipy"] - 1.0)) < 1e-6


# ------------------------------------------------------------------ inverse diffusion

@pytest.fixture(scope="module", params=XP)
def diffusion(request, tmp_path_factory):
    xp = np if request.param == "numpy" else pytest.importorskip("cupy")
    png = tmp_path_factory.mktemp("plots") / "diffusion.png"
    out = inverse_diffusion.main(device(xp) + ["--m", "16", "--steps", "32", "--rank", "6",
                                        "--oversample", "4", "--snapshots", "4",
                                        "--plot", str(png)])
    out["png"] = png
    return out


def test_diffusion_recovers_coefficient(diffusion):
    res = diffusion["result"]
    assert res.converged
    # Stated bound: relative L2 error of k below 6% (1% noise, 4 experiments, 16 cells);
    # the k = 1 starting guess is about 28% off.
    assert diffusion["error"] < 0.06, diffusion["error"]
    assert diffusion["error"] < diffusion["error_p0"] / 4
    assert _is_png(diffusion["png"])


def test_diffusion_eigenvalues_match_dense_hessian(diffusion):
    prob = diffusion["problem"]
    p = diffusion["p"]
    H = host(gpuad.hessian(prob.misfit)(p))                   # 17 x 17, all lanes at once
    S = host(prob.R_isqrt)
    exact = np.sort(np.linalg.eigvalsh(S @ H @ S))[::-1]
    lam = host(diffusion["eigenvalues"])
    rel = np.abs(lam - exact[:lam.size]) / np.abs(exact[:lam.size])
    assert lam.size == 6 and np.all(rel < 1e-3), rel


def test_diffusion_checkpointing_saves_memory(diffusion):
    plain, ckpt = diffusion["memory"][None], diffusion["memory"][4]
    prob = diffusion["problem"]
    assert plain["steps"] == prob.n_steps
    assert ckpt["steps"] > prob.n_steps           # Revolve recomputes instead of storing
    assert ckpt["peak_bytes"] < plain["peak_bytes"] / 2, (ckpt, plain)


def test_checkpointed_and_plain_gradients_agree(diffusion):
    prob, p = diffusion["problem"], diffusion["p"]
    g_ckpt = host(gpuad.grad(lambda q: prob.misfit(q, 4))(p))
    g_plain = host(gpuad.grad(lambda q: prob.misfit(q, None))(p))
    np.testing.assert_allclose(g_ckpt, g_plain, rtol=1e-10, atol=1e-10 * np.abs(g_plain).max())


def test_low_rank_eig_exact_on_low_rank_operator():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    A = (Q * np.r_[10.0 ** -np.arange(5.0), np.zeros(25)]) @ Q.T
    lam, V = inverse_diffusion.low_rank_eig(lambda W: A @ W, 30, rank=5, oversample=3)
    np.testing.assert_allclose(lam, 10.0 ** -np.arange(5.0), rtol=1e-10)
    np.testing.assert_allclose(A @ V, V * lam, atol=1e-12)


# ------------------------------------------------------------------ Hutchinson

def test_hutchinson_within_standard_errors(tmp_path, xp):
    png = tmp_path / "hutch.png"
    out = hutchinson.main(device(xp) + ["--n", "120", "--probes", "50", "400", "--plot", str(png)])
    H = out["hessian"]
    assert np.allclose(H, H.T, atol=1e-12)
    for row in out["rows"]:
        # z^T H z has variance 2 (||H||_F^2 - sum H_ii^2) for Rademacher z: the mean of K
        # probes is within 5 of its standard errors (fixed seeds).
        assert row["error/se"] < 5.0, row
        assert row["max diag err/se"] < 5.0, row
        # The sample standard error agrees with the one derived from the exact Hessian.
        assert 0.7 < row["empirical se"] / row["std err"] < 1.3, row
    assert out["rows"][1]["diag rel err"] < out["rows"][0]["diag rel err"]
    assert _is_png(png)


def test_hutchinson_batched_equals_single_hvps(xp):
    f, x = hutchinson.make_problem(40, xp=xp, seed=2)
    Z = xp.asarray(hutchinson.rademacher(8, 40, seed=5))
    batched = gpuad.hvp(f, x, Z, batched=True)
    single = np.stack([host(gpuad.hvp(f, x, z)) for z in Z])
    np.testing.assert_allclose(host(batched), single, rtol=1e-12, atol=1e-12)
    tr, diag, _, _ = hutchinson.hutchinson(f, x, Z)
    assert math.isclose(float(tr), float(np.sum(host(Z) * single) / 8), rel_tol=1e-12)


# ------------------------------------------------------------------ spectral inverse

def test_spectral_inverse_recovers_initial_condition(tmp_path, xp):
    png = tmp_path / "burgers.png"
    out = spectral_inverse.main(device(xp) + ["--n", "32", "--steps", "25", "--plot",
                                              str(png)])
    res = out["result"]
    assert res.converged
    # Derivatives through rfft/irfft, complex products and the Revolve loop: central
    # differences agree to their truncation error (observed ~1e-9).
    assert out["grad_check"] < 1e-6 and out["hvp_check"] < 1e-6, out
    # Stated bound: relative L2 error below 10% (1% noise, n = 32; observed 6%).
    assert out["error"] < 0.10, out["error"]
    assert out["error"] < out["error_start"] / 5
    assert _is_png(png)


def test_spectral_checkpointed_and_plain_gradients_agree(xp):
    prob = spectral_inverse.BurgersInverseProblem(n=16, n_steps=12, snapshots=3, xp=xp)
    x = 0.5 * prob.u0_true
    g_ck = host(gpuad.grad(prob.objective)(x))
    g_plain = host(gpuad.grad(lambda u: prob.objective(u, snapshots=None))(x))
    np.testing.assert_allclose(g_ck, g_plain, rtol=1e-12, atol=1e-12 * np.abs(g_plain).max())


@pytest.mark.parametrize("module", [newton_cg_logreg, trust_region, inverse_diffusion,
                                    hutchinson, spectral_inverse], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    import doctest
    failed, attempted = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0
