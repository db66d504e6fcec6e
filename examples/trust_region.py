"""Steihaug trust-region Newton-CG on the extended Rosenbrock function with gpuad's gradient
and Hessian-vector products, next to SciPy's ``trust-ncg`` fed with the same derivatives.

The extended Rosenbrock function (More, Garbow & Hillstrom 1981, problem 21), n even:

    f(x) = sum_{i=1}^{n/2} 100 (x_{2i} - x_{2i-1}^2)^2 + (1 - x_{2i-1})^2,

minimum 0 at x = (1, ..., 1); the standard start is (-1.2, 1, -1.2, 1, ...). Each step
minimizes the model ``m(p) = f + g^T p + p^T H p / 2`` over ``||p|| <= Delta`` by
Steihaug's truncated CG (one ``gpuad.hvp`` per CG step; it stops on the boundary or on
negative curvature) and updates ``Delta`` from the ratio of actual to predicted decrease
(Nocedal & Wright, Algorithms 4.1 and 7.2, with SciPy's constants).

    python examples/trust_region.py                   # n = 10^4 on the CPU
    python examples/trust_region.py --n 1000000 --device cuda
"""
from __future__ import annotations

import argparse
import dataclasses
import math

import numpy as np

import gpuad
import gpuad.numpy as gnp
from gpuad.runtime.device import array_module as _xp
from _common import Timer, add_common_args, array_module, device_name, plot, progress, table, to_host


def rosenbrock(x):
    """The extended Rosenbrock function above (``x.size`` even).

    Example::

        >>> float(rosenbrock(np.ones(4))), float(rosenbrock(np.array([-1.2, 1.0])))
        (0.0, 24.199999999999996)
    """
    a = x[0::2]
    b = x[1::2]
    return gnp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def start(n: int, xp=np, perturb=0.0, seed=0):
    """The standard start (-1.2, 1, -1.2, 1, ...), plus (``perturb > 0``) seeded uniform
    noise of that half-width, so the n/2 pairs differ and CG sees an n-dimensional problem
    rather than one 2-D block repeated (the shared radius then makes it much harder)."""
    x = np.tile([-1.2, 1.0], n // 2)
    x = x + perturb * np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    return xp.asarray(x)


@dataclasses.dataclass
class TRResult:
    """What :func:`trust_ncg` returns."""
    x: object
    iterations: int
    hvps: int
    fevals: int
    converged: bool
    seconds: float = math.nan
    fun: list = dataclasses.field(default_factory=list)
    grad_norm: list = dataclasses.field(default_factory=list)
    radius: list = dataclasses.field(default_factory=list)


def _dot(a, b) -> float:
    return float(a.ravel() @ b.ravel())


def trust_ncg(fun, x0, *, gtol=1e-8, max_iter=1000, radius=1.0, max_radius=1000.0,
              eta=0.15, show_progress=False):
    """Minimize ``fun`` by trust-region Newton-CG (Steihaug-Toint).

    Each iteration solves ``min m(p) = f + g^T p + p^T H p / 2`` s.t. ``||p|| <= Delta``
    approximately by CG from ``p = 0`` with tolerance ``min(0.5, sqrt(||g||)) ||g||``; CG
    stops at the boundary (taking the boundary point along the current direction) or on
    ``d^T H d <= 0``. With ``rho = (f(x) - f(x + p)) / (m(0) - m(p))``: the step is taken
    if ``rho > eta``; ``Delta`` shrinks by 4 if ``rho < 1/4`` and doubles (up to
    ``max_radius``) if ``rho > 3/4`` and the step reached the boundary. ``H p`` of the
    final step is accumulated during CG, so the model costs no extra HVP.

    Stops at ``||g||_2 < gtol``.

    Example::

        >>> res = trust_ncg(rosenbrock, np.array([-1.2, 1.0]))
        >>> np.allclose(res.x, 1.0), res.iterations
        (True, 30)
    """
    vg = gpuad.value_and_grad(fun)
    x = x0
    res = TRResult(x=x, iterations=0, hvps=0, fevals=1, converged=False)
    bar = progress(None, "trust-region", show_progress)
    with Timer(_xp(x)) as clock:
        f, g = vg(x)
        f = float(f)
        while True:
            gnorm = math.sqrt(_dot(g, g))
            res.fun.append(f)
            res.grad_norm.append(gnorm)
            res.radius.append(radius)
            bar.set_postfix(f=f"{f:.4e}", grad=f"{gnorm:.2e}", radius=f"{radius:.3g}")
            if gnorm < gtol:
                res.converged = True
                break
            if res.iterations >= max_iter:
                break
            p, hp, on_boundary, k = _steihaug(lambda d: gpuad.hvp(fun, x, d), g, radius,
                                              min(0.5, math.sqrt(gnorm)) * gnorm)
            res.hvps += k
            predicted = -(_dot(g, p) + 0.5 * _dot(p, hp))
            f_new, g_new = vg(x + p)
            f_new = float(f_new)
            res.fevals += 1
            rho = (f - f_new) / predicted if predicted > 0 else -1.0
            if not math.isfinite(rho) or rho < 0.25:
                radius *= 0.25
            elif rho > 0.75 and on_boundary:
                radius = min(2.0 * radius, max_radius)
            if rho > eta:
                x, f, g = x + p, f_new, g_new
            res.iterations += 1
            bar.update()
    bar.close()
    res.x, res.seconds = x, clock.seconds
    return res


def _steihaug(hvp, g, radius, tol):
    """Truncated CG for the trust-region subproblem: (p, H p, on_boundary, HVPs used)."""
    p = g * 0.0
    hp = p
    r = g
    d = -r
    rr = _dot(r, r)
    if math.sqrt(rr) < tol:
        return p, hp, False, 0
    k = 0
    while True:
        hd = hvp(d)
        k += 1
        dhd = _dot(d, hd)
        if dhd <= 0:
            tau = _to_boundary(p, d, radius)
            return p + tau * d, hp + tau * hd, True, k
        alpha = rr / dhd
        p_next = p + alpha * d
        if math.sqrt(_dot(p_next, p_next)) >= radius:
            tau = _to_boundary(p, d, radius)
            return p + tau * d, hp + tau * hd, True, k
        p, hp = p_next, hp + alpha * hd
        r = r + alpha * hd
        rr_next = _dot(r, r)
        if math.sqrt(rr_next) < tol or k >= p.size:
            return p, hp, False, k
        d = -r + (rr_next / rr) * d
        rr = rr_next


def _to_boundary(p, d, radius):
    """The tau >= 0 with ||p + tau d|| = radius (p is inside)."""
    a, b, c = _dot(d, d), 2.0 * _dot(p, d), _dot(p, p) - radius * radius
    return (-b + math.sqrt(b * b - 4.0 * a * c)) / (2.0 * a)


def scipy_trust_ncg(fun, x0, gtol=1e-8, max_iter=1000):
    """``scipy.optimize.minimize(method="trust-ncg")`` with gpuad's gradient (``jac``) and
    HVP (``hessp``); SciPy works on host arrays, so each call copies to/from the device."""
    from scipy.optimize import minimize
    xp = _xp(x0)
    vg = gpuad.value_and_grad(fun)
    counts = {"hvps": 0}

    def fun_and_jac(x):
        f, g = vg(xp.asarray(x))
        return float(f), to_host(g)

    def hessp(x, p):
        counts["hvps"] += 1
        return to_host(gpuad.hvp(fun, xp.asarray(x), xp.asarray(p)))

    with Timer(xp) as t:
        out = minimize(fun_and_jac, to_host(x0), jac=True, hessp=hessp, method="trust-ncg",
                       options={"gtol": gtol, "maxiter": max_iter})
    return out, counts["hvps"], t.seconds


def solve(n=10_000, xp=np, perturb=0.0, seed=0, gtol=1e-8, show_progress=False):
    """Both solvers from the same start; a results dict (solutions on the host)."""
    x0 = start(n, xp, perturb, seed)
    gpuad.hvp(rosenbrock, x0, x0)          # compile/load the kernels outside the timings
    ours = trust_ncg(rosenbrock, x0, gtol=gtol, show_progress=show_progress)
    theirs, scipy_hvps, scipy_s = scipy_trust_ncg(rosenbrock, x0, gtol=gtol)
    x_ours = to_host(ours.x)
    return {
        "n": n, "gpuad": ours, "scipy": theirs, "x_gpuad": x_ours, "x_scipy": theirs.x,
        "rows": [
            {"solver": "gpuad trust_ncg", "iterations": ours.iterations, "HVPs": ours.hvps,
             "f evals": ours.fevals, "seconds": ours.seconds, "f(x*)": ours.fun[-1],
             "||g||": ours.grad_norm[-1], "max|x-1|": float(np.max(np.abs(x_ours - 1.0)))},
            {"solver": "scipy trust-ncg", "iterations": int(theirs.nit), "HVPs": scipy_hvps,
             "f evals": int(theirs.nfev), "seconds": scipy_s, "f(x*)": float(theirs.fun),
             "||g||": float(np.linalg.norm(theirs.jac)),
             "max|x-1|": float(np.max(np.abs(theirs.x - 1.0)))}],
        "max_abs_diff": float(np.max(np.abs(x_ours - theirs.x))),
    }


def main(argv=None):
    """Run both solvers, print the table; returns the results dict of :func:`solve`."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="dimension (even)")
    ap.add_argument("--perturb", type=float, default=0.0,
                    help="half-width of the uniform noise added to the standard start")
    ap.add_argument("--gtol", type=float, default=1e-8, help="stop at ||grad||_2 < gtol")
    args = add_common_args(ap).parse_args(argv)
    if args.n % 2:
        ap.error("--n must be even")
    xp = array_module(args.device)
    print(f"gpuad {gpuad.__version__} on {device_name(xp)}; extended Rosenbrock, n = {args.n}")
    out = solve(args.n, xp, args.perturb, args.seed, args.gtol, args.progress)
    print(table(out["rows"]))
    print(f"max |x_gpuad - x_scipy| = {out['max_abs_diff']:.3e}; SciPy's HVP count includes "
          "one product per iteration to evaluate its model, which gpuad's CG accumulates.")
    if args.plot:
        ours = out["gpuad"]
        plot(args.plot, [
            {"title": "objective", "xlabel": "iteration", "ylabel": "f(x_k)", "logy": True,
             "series": {"gpuad trust_ncg": (np.arange(len(ours.fun)), np.maximum(ours.fun, 1e-300))}},
            {"title": "gradient norm and radius", "xlabel": "iteration", "logy": True,
             "series": {"||g||": (np.arange(len(ours.grad_norm)), ours.grad_norm),
                        "radius": (np.arange(len(ours.radius)), ours.radius)}}],
             f"gpuad trust-region Newton-CG, extended Rosenbrock n = {args.n}")
        print(f"plot written to {args.plot}")
    return out


if __name__ == "__main__":
    main()
