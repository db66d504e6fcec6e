"""A pseudo-spectral PDE inverse problem: recover the initial condition of the periodic 1-D
viscous Burgers equation from noisy observations of the final state, by Newton-CG on
gpuad's Hessian-vector products through FFTs. The time stepping runs through
``gpuad.checkpoint_loop`` on the complex half spectrum.

Forward model, on [0, 2 pi) with period 2 pi, n grid points x_j = 2 pi j / n:

    u_t + (u^2 / 2)_x = nu u_xx,

in Fourier space (``rfft``, wavenumbers k = 0..n/2) ``du/dt = -nu k^2 u + N(u)`` with
``N(u) = -(i k / 2) rfft(irfft(u)^2)``, the product dealiased by the 2/3 rule. The stiff
linear term is integrated exactly by the integrating factor ``E = exp(-nu k^2 dt)`` and the
rest by Heun's method (IF-RK2):

    a = E (u + dt N(u)),        u^{n+1} = E u + dt/2 (E N(u) + N(a)).

Data d = u(T; u0_true) + noise, noise N(0, sigma^2) with sigma = noise * max|u(T)| at all
n points. The estimate minimizes

    J(u0) = 1/(2 sigma^2) ||u(T; u0) - d||^2  +  beta/2 h (||u0||^2 + alpha ||D u0||^2 / h^2),

an H^1 prior (D the periodic forward difference, h = 2 pi / n): viscosity damps mode k by
exp(-nu k^2 T), so the data inform the low modes and the prior fixes the rest. Newton-CG
solves it, CG on ``H s = -g`` with one ``gpuad.hvp`` per step (forward over reverse through
every FFT and the checkpointed loop), preconditioned by the inverse Hessian of the
linearized problem (nu only: diagonal in Fourier space, ``exp(-2 nu k^2 T) / sigma^2`` plus
the prior's symbol), which leaves CG only the nonlinearity to resolve. The gradient is
checked against central differences of J before the solve.

    python examples/spectral_inverse.py                          # n = 64, 50 steps
    python examples/spectral_inverse.py --n 128 --steps 100 --plot burgers.png
"""
from __future__ import annotations

import argparse

import numpy as np

import gpuad
import gpuad.numpy as gnp
from _common import add_common_args, array_module, device_name, plot, table, to_host
from newton_cg_logreg import newton_cg


def burgers_step(u, ik, E, dt, dealias, n):
    """One IF-RK2 step of the spectral Burgers scheme above for the half spectrum ``u``
    (complex, n // 2 + 1 bins): ``ik`` = i k, ``E`` = exp(-nu k^2 dt), ``dealias`` the 2/3
    mask.

    Example::

        >>> n = 8; k = np.arange(n // 2 + 1)
        >>> u = np.fft.rfft(np.sin(2 * np.pi * np.arange(n) / n))
        >>> out = burgers_step(u, 1j * k, np.exp(-0.1 * k ** 2 * 0.01), 0.01, k <= n / 3, n)
        >>> bool(np.abs(out[1]) < np.abs(u[1]))      # viscosity and steepening move energy
        True
    """
    def N(v):
        w = gnp.fft.irfft(v * dealias, n)
        return -0.5 * ik * gnp.fft.rfft(w * w)
    Nu = N(u)
    a = E * (u + dt * Nu)
    return E * u + (0.5 * dt) * (E * Nu + N(a))


class BurgersInverseProblem:
    """The discretized forward model, synthetic data and objective described above.

    ``snapshots`` is passed to ``gpuad.checkpoint_loop`` (None: a plain Python loop, every
    step taped).

    Example::

        >>> prob = BurgersInverseProblem(n=16, n_steps=10)
        >>> bool(prob.objective(prob.u0_true) < prob.objective(np.zeros(16)))
        True
    """

    def __init__(self, n=64, nu=0.05, T=0.5, n_steps=50, noise=0.01, beta=1.0, alpha=1.0,
                 snapshots=10, xp=np, seed=0):
        self.n, self.nu, self.T, self.n_steps, self.xp = n, nu, T, n_steps, xp
        self.beta, self.alpha, self.snapshots = beta, alpha, snapshots
        self.h = h = 2 * np.pi / n
        self.x = x = np.arange(n) * h
        self.dt = dt = T / n_steps
        k = np.arange(n // 2 + 1, dtype=np.float64)
        self.ik = xp.asarray(1j * k)
        self.E = xp.asarray(np.exp(-nu * k ** 2 * dt))
        self.dealias = xp.asarray((k <= n / 3).astype(np.float64))
        u0 = (np.sin(x) + 0.5 * np.cos(2 * x + 0.3) + 0.6 * np.exp(-4 * (x - 4.0) ** 2))
        self.u0_true = xp.asarray(u0)
        self.step_count = 0
        u_true = self.final_state(self.u0_true)
        self.sigma = noise * float(xp.abs(u_true).max())
        rng = np.random.default_rng(seed)
        self.data = u_true + xp.asarray(self.sigma * rng.standard_normal(n))
        D = np.roll(np.eye(n), 1, axis=1) - np.eye(n)               # periodic forward difference
        R = beta * h * (np.eye(n) + alpha * D.T @ D / h ** 2)
        self.R = xp.asarray(R)
        # The Hessian of the linearized problem in Fourier space (the preconditioner).
        self.symbol = xp.asarray(np.exp(-2 * nu * k ** 2 * T) / self.sigma ** 2
                                 + beta * h * (1 + 4 * alpha * np.sin(k * h / 2) ** 2 / h ** 2))

    def precondition(self, r):
        """The inverse of the linearized problem's Hessian applied to ``r`` (plain arrays)."""
        fft = self.xp.fft
        return fft.irfft(fft.rfft(r) / self.symbol, self.n)

    def final_state(self, u0, snapshots="default"):
        """u(T) on the grid for the initial state ``u0`` (n real values); differentiable."""
        snapshots = self.snapshots if snapshots == "default" else snapshots
        n = self.n

        def step(v):
            self.step_count += 1
            return burgers_step(v, self.ik, self.E, self.dt, self.dealias, n)
        v = gnp.fft.rfft(u0)
        if snapshots is None:
            for _ in range(self.n_steps):
                v = step(v)
        else:
            v = gpuad.checkpoint_loop(step, v, self.n_steps, snapshots=snapshots)
        return gnp.fft.irfft(v, n)

    def misfit(self, u0, snapshots="default"):
        r = self.final_state(u0, snapshots) - self.data
        return 0.5 * gnp.sum(r * r) / self.sigma ** 2

    def regularization(self, u0):
        return 0.5 * gnp.sum(u0 * (self.R @ u0))

    def objective(self, u0, snapshots="default"):
        return self.misfit(u0, snapshots) + self.regularization(u0)

    def error(self, u0):
        """Relative L2 error of ``u0`` against the true initial state."""
        a, b = to_host(u0), to_host(self.u0_true)
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def derivative_checks(fun, x, eps=1e-5, directions=3, seed=1):
    """The largest relative differences, over random unit directions v, between gpuad's
    ``<grad f(x), v>`` and the central difference ``(f(x + eps v) - f(x - eps v)) / (2 eps)``,
    and between ``gpuad.hvp(f, x, v)`` and ``(grad f(x + eps v) - grad f(x - eps v)) / (2 eps)``
    (in the 2-norm): ``(gradient, hvp)``."""
    xp = gpuad.runtime.launch.launcher(x).xp
    grad = gpuad.grad(fun)
    g = grad(x)
    rng = np.random.default_rng(seed)
    worst_g = worst_h = 0.0
    for _ in range(directions):
        v = rng.standard_normal(x.shape)
        v = xp.asarray(v / np.linalg.norm(v))
        ad = float(gnp.sum(g * v))
        fd = (float(fun(x + eps * v)) - float(fun(x - eps * v))) / (2 * eps)
        worst_g = max(worst_g, abs(ad - fd) / max(abs(fd), 1e-300))
        hv = to_host(gpuad.hvp(fun, x, v))
        fd = (to_host(grad(x + eps * v)) - to_host(grad(x - eps * v))) / (2 * eps)
        worst_h = max(worst_h, float(np.linalg.norm(hv - fd) / np.linalg.norm(fd)))
    return worst_g, worst_h


def run(n=64, n_steps=50, nu=0.05, T=0.5, noise=0.01, beta=1.0, snapshots=10,
        max_iter=20, rtol=1e-6, xp=np, seed=0, show_progress=False):
    """Check the gradient, solve the inverse problem; a dict with the estimate, errors and
    the solver's record."""
    prob = BurgersInverseProblem(n, nu, T, n_steps, noise, beta, snapshots=snapshots, xp=xp,
                                 seed=seed)
    u_start = xp.zeros(n)
    probe = 0.5 * prob.u0_true                    # a point away from 0 for the check
    grad_error, hvp_error = derivative_checks(prob.objective, probe)
    res = newton_cg(prob.objective, u_start, rtol=rtol, gtol=0.0, max_iter=max_iter,
                    preconditioner=lambda _: prob.precondition,
                    show_progress=show_progress, desc="spectral inverse")
    u_fit = prob.final_state(res.x)
    return {"problem": prob, "result": res, "u0": to_host(res.x), "grad_check": grad_error,
            "hvp_check": hvp_error,
            "error": prob.error(res.x), "error_start": prob.error(u_start),
            "data_residual": float(np.sqrt(np.mean(to_host(u_fit - prob.data) ** 2)))
            / prob.sigma}


def main(argv=None):
    """Solve and print the results; returns the dict of :func:`run`."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64, help="grid points")
    ap.add_argument("--steps", type=int, default=50, help="time steps to T")
    ap.add_argument("--nu", type=float, default=0.05, help="viscosity")
    ap.add_argument("--T", type=float, default=0.5, help="final time")
    ap.add_argument("--noise", type=float, default=0.01, help="noise / max|u(T)|")
    ap.add_argument("--beta", type=float, default=1.0, help="prior weight")
    ap.add_argument("--snapshots", type=int, default=10,
                    help="checkpoint_loop snapshots (Revolve); 0: no checkpointing")
    ap.add_argument("--max-iter", type=int, default=20, help="Newton iterations at most")
    args = add_common_args(ap).parse_args(argv)
    xp = array_module(args.device)
    out = run(args.n, args.steps, args.nu, args.T, args.noise, args.beta,
              args.snapshots or None, args.max_iter, xp=xp, seed=args.seed,
              show_progress=args.progress)
    prob, res = out["problem"], out["result"]
    print(f"gpuad {gpuad.__version__} on {device_name(xp)}; Burgers nu = {prob.nu}, "
          f"n = {prob.n}, {prob.n_steps} IF-RK2 steps to T = {prob.T}, "
          f"noise sigma = {prob.sigma:.3g}")
    print(f"against central differences (largest relative difference over 3 directions): "
          f"gradient {out['grad_check']:.2e}, HVP {out['hvp_check']:.2e}")
    print(table([{"Newton iters": res.iterations, "CG HVPs": res.hvps, "seconds": res.seconds,
                  "||g||/||g0||": res.grad_norm[-1] / res.grad_norm[0],
                  "u0 rel error": out["error"], "u0 = 0 rel error": out["error_start"],
                  "rms residual / sigma": out["data_residual"]}]))
    if args.plot:
        x = prob.x
        plot(args.plot, [
            {"title": "initial condition", "xlabel": "x", "ylabel": "u0(x)",
             "series": {"true": (x, to_host(prob.u0_true)), "recovered": (x, out["u0"])}},
            {"title": "final state", "xlabel": "x", "ylabel": "u(T, x)",
             "series": {"data": (x, to_host(prob.data)),
                        "from recovered u0": (x, to_host(prob.final_state(xp.asarray(
                            out["u0"]))))}},
            {"title": "Newton-CG", "xlabel": "Newton iteration", "ylabel": "||g|| / ||g0||",
             "logy": True, "series": {"gradient": (np.arange(len(res.grad_norm)),
                                                   np.array(res.grad_norm) / res.grad_norm[0])}}],
             "gpuad spectral inverse (Burgers)")
        print(f"plot written to {args.plot}")
    return out


if __name__ == "__main__":
    main()
