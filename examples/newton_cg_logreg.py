"""L2-regularized logistic regression by truncated Newton (Newton-CG) with gpuad's HVPs,
checked against scikit-learn's ``LogisticRegression(solver="newton-cg")``.

The objective, for data ``X`` (n x d), labels ``y`` in {0, 1}, weights ``w`` and an
intercept ``b`` (when fitted), is

    f(w, b) = (1/n) sum_i [log(1 + exp(z_i)) - y_i z_i] + (lam/2) ||w||^2,   z = X w + b.

scikit-learn minimizes ``C sum_i loss_i + ||w||^2 / 2`` and never penalizes the intercept;
dividing by ``C n`` gives ``f`` exactly when ``lam = 1 / (C n)``, so both solve the same
problem and their coefficients can be compared directly.

Newton-CG solves ``H p = -g`` approximately by conjugate gradients, each CG step one
Hessian-vector product ``gpuad.hvp(f, theta, d)`` (forward-over-reverse: the Hessian is
never formed), then takes an Armijo backtracking step along ``p``.

    python examples/newton_cg_logreg.py            # breast cancer + a 20000 x 100 problem
    python examples/newton_cg_logreg.py --synthetic 1000000 200 --device cuda --no-sklearn
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import warnings

import numpy as np

import gpuad
import gpuad.numpy as gnp
from gpuad.runtime.device import array_module as _xp
from _common import Timer, add_common_args, array_module, device_name, plot, progress, table, to_host


@dataclasses.dataclass
class NewtonResult:
    """What :func:`newton_cg` returns: the solution and how it got there."""
    x: object
    iterations: int
    hvps: int
    converged: bool
    seconds: float = math.nan
    fun: list = dataclasses.field(default_factory=list)         # f at each iterate
    grad_norm: list = dataclasses.field(default_factory=list)   # ||g||_2 at each iterate
    cg_iters: list = dataclasses.field(default_factory=list)    # CG steps per Newton step
    times: list = dataclasses.field(default_factory=list)       # seconds since the start


def _dot(a, b) -> float:
    return float(a.ravel() @ b.ravel())


def newton_cg(fun, x0, *, gtol=1e-10, rtol=0.0, max_iter=100, cg_max_iter=None,
              preconditioner=None, show_progress=False, desc="Newton-CG"):
    """Minimize ``fun`` by inexact (truncated) Newton with CG on ``H p = -g``.

    At each iterate ``x`` the gradient ``g`` comes from ``gpuad.value_and_grad`` and CG
    solves ``H(x) p = -g`` to the relative residual ``eta = min(0.5, sqrt(||g|| / ||g_0||))``
    (a forcing term that gives Newton's superlinear rate near the solution), each CG
    step costing one ``gpuad.hvp``. CG stops early on non-positive curvature
    ``d^T H d <= 0`` (falling back to the steepest-descent direction if that happens on the
    first step). An Armijo backtracking line search ``f(x + t p) <= f(x) + 1e-4 t g^T p``,
    starting at ``t = 1``, globalizes the method (up to f's rounding error, so steps near
    the minimum are not refused for a decrease f cannot resolve); non-finite trial values
    count as failures.

    ``preconditioner(x)``, if given, returns a function ``r -> M r`` with ``M`` an
    approximation of ``H(x)^-1`` (symmetric positive definite), used for that Newton step's
    CG (preconditioned CG).

    Stops when ``||g||_2 <= max(gtol, rtol ||g_0||_2)``.

    Example::

        >>> res = newton_cg(lambda x: gnp.sum((x - 1.0) ** 4 + x ** 2), np.zeros(3))
        >>> np.round(res.x, 6)
        array([0.410245, 0.410245, 0.410245])
    """
    vg = gpuad.value_and_grad(fun)
    x = x0
    n = int(np.prod(x.shape))
    cg_max_iter = cg_max_iter or min(n, 200)
    res = NewtonResult(x=x, iterations=0, hvps=0, converged=False)
    bar = progress(max_iter, desc, show_progress)
    with Timer(_xp(x)) as clock:
        for it in range(max_iter + 1):
            f, g = vg(x)
            f = float(f)
            gnorm = math.sqrt(_dot(g, g))
            if it == 0:
                stop = max(gtol, rtol * gnorm)
            res.fun.append(f)
            res.grad_norm.append(gnorm)
            res.times.append(clock.elapsed())
            bar.set_postfix(f=f"{f:.6g}", grad=f"{gnorm:.2e}")
            if gnorm <= stop:
                res.converged = True
                break
            if it == max_iter:
                break
            apply_m = preconditioner(x) if preconditioner is not None else (lambda r: r)
            eta = min(0.5, math.sqrt(gnorm / res.grad_norm[0]))
            p, k = _cg(lambda d: gpuad.hvp(fun, x, d), g, eta * gnorm,
                       cg_max_iter, apply_m)
            res.hvps += k
            res.cg_iters.append(k)
            x = _armijo(fun, x, f, g, p)
            res.iterations += 1
            bar.update()
    bar.close()
    res.x, res.seconds = x, clock.seconds
    return res


def _cg(hvp, g, tol, max_iter, apply_m):
    """Preconditioned CG for ``H p = -g`` from ``p = 0``; returns (p, HVPs used)."""
    p = None
    r = -g
    s = apply_m(r)
    d = s
    rs = _dot(r, s)
    for k in range(1, max_iter + 1):
        hd = hvp(d)
        curv = _dot(d, hd)
        if curv <= 1e-14 * _dot(d, d):
            # Negative or zero curvature: the quadratic model is unbounded along d.
            return (d if p is None else p), k
        alpha = rs / curv
        p = alpha * d if p is None else p + alpha * d
        r = r - alpha * hd
        if math.sqrt(_dot(r, r)) <= tol:
            return p, k
        s = apply_m(r)
        rs_new = _dot(r, s)
        d = s + (rs_new / rs) * d
        rs = rs_new
    return p, max_iter


def _armijo(fun, x, f, g, p, c1=1e-4, shrink=0.5, max_halvings=60):
    slope = _dot(g, p)
    if slope >= 0:            # not a descent direction (rounding at the optimum): go downhill
        p, slope = -g, -_dot(g, g)
    # Near the minimum the decrease a Newton step buys falls below the rounding of f itself,
    # and a strict test would reject every step: allow f to rise by its rounding error.
    noise = 8.0 * np.finfo(np.float64).eps * abs(f)
    t = 1.0
    for _ in range(max_halvings):
        trial = x + t * p
        ft = float(fun(trial))
        if math.isfinite(ft) and ft <= f + c1 * t * slope + noise:
            return trial
        t *= shrink
    return x


# ------------------------------------------------------------------ the problem

def logistic_loss(X, y, lam, fit_intercept=True):
    """The objective ``f(theta)`` above as a gpuad-differentiable function.

    ``theta`` is ``w`` (length d), or ``[w, b]`` (length d + 1) when ``fit_intercept``;
    the intercept is not penalized, as in scikit-learn.

    Example::

        >>> f = logistic_loss(np.eye(2), np.array([0.0, 1.0]), lam=0.1)
        >>> float(f(np.zeros(3)))          # log 2 at theta = 0
        0.6931471805599453
    """
    xp = _xp(X)
    n, d = X.shape
    if fit_intercept:
        X = xp.concatenate([X, xp.ones((n, 1), dtype=X.dtype)], axis=1)
    # Penalty weights: 1 on w, 0 on the intercept.
    mask = xp.ones(X.shape[1], dtype=X.dtype)
    if fit_intercept:
        mask[-1] = 0.0

    def f(theta):
        z = X @ theta
        return gnp.sum(gnp.softplus(z) - y * z) / n + 0.5 * lam * gnp.sum(mask * theta * theta)
    return f


def lam_from_c(C: float, n: int) -> float:
    """``lam = 1 / (C n)``: scikit-learn's ``C sum loss + ||w||^2/2`` divided by ``C n``."""
    return 1.0 / (C * n)


def breast_cancer(xp=np):
    """scikit-learn's bundled Wisconsin breast-cancer data (569 x 30), each feature
    standardized to mean 0 and variance 1; labels as float 0/1."""
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return xp.asarray(X, dtype=np.float64), xp.asarray(y, dtype=np.float64)


def synthetic(n: int, d: int, xp=np, seed=0):
    """Gaussian features and labels drawn from a logistic model with random weights, made
    on the device (so a GPU-sized problem never passes through host memory)."""
    rs = xp.random.RandomState(seed)
    X = rs.standard_normal((n, d))
    w = rs.standard_normal(d) / math.sqrt(d) * 3.0
    y = (rs.random_sample(n) < 1.0 / (1.0 + xp.exp(-(X @ w + 0.5)))).astype(np.float64)
    return X, y


def fit_sklearn(X, y, C, fit_intercept=True, tol=1e-12, max_iter=1000):
    """scikit-learn's newton-cg at the same C, with a tight tolerance; (coef, n_iter, s)."""
    from sklearn.linear_model import LogisticRegression
    X, y = to_host(X), to_host(y)
    model = LogisticRegression(C=C, solver="newton-cg", tol=tol, max_iter=max_iter,
                               fit_intercept=fit_intercept)
    with Timer() as t, warnings.catch_warnings():
        # At tol ~ 1e-12 its line search may report that no further decrease is possible,
        # which at this precision is the expected way for it to end.
        warnings.simplefilter("ignore")
        model.fit(X, y)
    coef = model.coef_.ravel()
    if fit_intercept:
        coef = np.concatenate([coef, model.intercept_])
    return coef, int(np.max(model.n_iter_)), t.seconds


def solve(X, y, C=1.0, fit_intercept=True, gtol=1e-11, show_progress=False,
          name="problem", compare=True):
    """Fit with gpuad's Newton-CG and (``compare``) with scikit-learn; a results dict."""
    xp = _xp(X)
    n, d = X.shape
    f = logistic_loss(X, y, lam_from_c(C, n), fit_intercept)
    theta0 = xp.zeros(d + int(fit_intercept), dtype=X.dtype)
    # The first call compiles (or loads) each kernel once; timed apart from the solve.
    with Timer(xp) as warm:
        gpuad.hvp(f, theta0, theta0 + 1.0)
    res = newton_cg(f, theta0, gtol=gtol, show_progress=show_progress, desc=name)
    out = {"problem": name, "n": n, "d": d, "C": C, "intercept": fit_intercept,
           "gpuad_iters": res.iterations, "gpuad_hvps": res.hvps, "gpuad_s": res.seconds,
           "warmup_s": warm.seconds, "grad_norm": res.grad_norm[-1],
           "objective": res.fun[-1], "converged": res.converged, "result": res,
           "coef": to_host(res.x)}
    if compare:
        coef, iters, secs = fit_sklearn(X, y, C, fit_intercept)
        out.update(sklearn_iters=iters, sklearn_s=secs, sklearn_coef=coef,
                   max_abs_diff=float(np.max(np.abs(coef - out["coef"]))))
    return out


def main(argv=None):
    """Run the comparison and print a table; returns the list of per-problem results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--C", type=float, default=1.0, help="inverse regularization strength")
    ap.add_argument("--no-intercept", dest="intercept", action="store_false")
    ap.add_argument("--synthetic", nargs=2, type=int, metavar=("N", "D"), default=(20000, 100),
                    help="also solve a synthetic problem with N samples and D features "
                         "(default 20000 100; 0 0 skips it; ~10^6 x 10^2 suits a GPU)")
    ap.add_argument("--no-sklearn", dest="sklearn", action="store_false",
                    help="skip scikit-learn on the synthetic problem (it runs on the CPU)")
    ap.add_argument("--skip-breast-cancer", dest="breast_cancer", action="store_false")
    ap.add_argument("--gtol", type=float, default=1e-11, help="stop at ||grad||_2 <= gtol")
    args = add_common_args(ap).parse_args(argv)
    xp = array_module(args.device)
    print(f"gpuad {gpuad.__version__} on {device_name(xp)}; lambda = 1/(C n), C = {args.C}, "
          f"intercept {'fitted (not penalized)' if args.intercept else 'not fitted'}")

    results = []
    if args.breast_cancer:
        X, y = breast_cancer(xp)
        results.append(solve(X, y, args.C, args.intercept, args.gtol, args.progress,
                             "breast-cancer"))
    N, D = args.synthetic
    if N > 0 and D > 0:
        X, y = synthetic(N, D, xp, args.seed)
        results.append(solve(X, y, args.C, args.intercept, args.gtol, args.progress,
                             f"synthetic {N}x{D}", compare=args.sklearn))
    cols = ["problem", "n", "d", "gpuad_iters", "gpuad_hvps", "gpuad_s", "sklearn_iters",
            "sklearn_s", "grad_norm", "max_abs_diff"]
    print(table(results, cols))
    print("gpuad_s excludes the first call's kernel compile/load (warm-up: "
          + ", ".join(f"{r['warmup_s']:.2f} s" for r in results) + "); max_abs_diff is "
          "max |coef_gpuad - coef_sklearn| over weights and intercept.")
    if args.plot:
        series = {r["problem"]: (np.arange(len(r["result"].grad_norm)), r["result"].grad_norm)
                  for r in results}
        series_t = {r["problem"]: (r["result"].times, r["result"].grad_norm) for r in results}
        plot(args.plot, [
            {"title": "gradient norm", "xlabel": "Newton iteration", "ylabel": "||grad f||_2",
             "logy": True, "series": series},
            {"title": "gradient norm vs time", "xlabel": "seconds", "ylabel": "||grad f||_2",
             "logy": True, "series": series_t}], "gpuad Newton-CG, logistic regression")
        print(f"plot written to {args.plot}")
    return results


if __name__ == "__main__":
    main()
