"""A PDE-constrained inverse problem: recover a spatially varying diffusion coefficient of
the 1-D heat equation from noisy observations of the final state, by Newton-CG
preconditioned with a randomized low-rank eigendecomposition of the data-misfit Hessian
built from batched HVPs. The time stepping runs through ``gpuad.checkpoint_loop``.

Forward model, on [0, 1] with u = 0 at both ends and E experiments (initial states
u0_e = sin(e pi x), e = 1..E):

    u_t = (k(x) u_x)_x,     k = exp(p),

discretized by finite volumes on m cells (face conductivities k_j = exp(p_j), j = 0..m,
ghost cells u = 0 outside) and explicit Euler over ``n_steps`` steps to time T:

    u^{n+1}_i = u^n_i + dt/h^2 [k_{i+1} (u_{i+1} - u_i) - k_i (u_i - u_{i-1})].

Data d = u(T; p_true) + noise, noise N(0, sigma^2) with sigma = noise * max|u(T)|. The
synthetic data come from the same discretization (an "inverse crime", softened by the
noise). The estimate minimizes

    J(p) = 1/(2 sigma^2) ||u(T; p) - d||^2  +  1/2 p^T R p,
    R = beta (D^T D / h + delta h I)        (an H^1 prior around k = 1).

Newton-CG: CG on ``(H_misfit + R) s = -g``, each step one ``gpuad.hvp``, preconditioned by
``P^{-1} = R^{-1/2} (I - V diag(lam / (1 + lam)) V^T) R^{-1/2}`` where (lam, V) are the r
dominant eigenpairs of ``R^{-1/2} H_misfit R^{-1/2}`` (the prior-preconditioned misfit
Hessian, whose eigenvalues > 1 count the directions the data inform), found by the
randomized range finder of Halko, Martinsson & Tropp (2011): two batched HVPs with
r + oversampling directions each per Newton step.

    python examples/inverse_diffusion.py                      # m = 32 cells, 128 steps
    python examples/inverse_diffusion.py --snapshots 4 --rank 16 --plot diffusion.png
"""
from __future__ import annotations

import argparse
import math

import numpy as np

import gpuad
import gpuad.numpy as gnp
from _common import add_common_args, array_module, device_name, plot, table, to_host
from newton_cg_logreg import newton_cg


def heat_step(u, k, ghosts):
    """One explicit Euler step of the finite-volume scheme above: ``u`` (E, m) cells, ``k``
    the m + 1 face coefficients times dt/h^2, ``ghosts(u)`` u with one ghost cell on each
    side along axis 1 (zeros for the whole domain; the neighbours' cells, through
    ``gpuad.distributed.halo``, for a part of it).

    Example::

        >>> u = np.array([[0.0, 1.0, 0.0]])
        >>> heat_step(u, np.full(4, 0.25), lambda v: np.pad(v, ((0, 0), (1, 1))))
        array([[0.25, 0.5 , 0.25]])
    """
    up = ghosts(u)
    flux = k * (up[:, 1:] - up[:, :-1])       # (E, m + 1) face fluxes
    return u + (flux[:, 1:] - flux[:, :-1])


class DiffusionInverseProblem:
    """The discretized forward model, synthetic data and objective described above.

    ``snapshots`` is passed to ``gpuad.checkpoint_loop`` (None: the loop is a plain Python
    loop, every step taped). ``n_steps`` is raised if needed so that explicit Euler stays
    stable (``k dt / h^2 <= 1/2``) for coefficients up to ``1.5 max(k_true)``.

    Example::

        >>> prob = DiffusionInverseProblem(m=16, n_steps=32)
        >>> bool(prob.objective(prob.p_true) < prob.objective(np.zeros(17)))
        True
    """

    def __init__(self, m=32, experiments=4, T=0.02, n_steps=128, noise=0.01, beta=10.0,
                 delta=0.01, snapshots=8, xp=np, seed=0):
        self.m, self.E, self.T, self.xp = m, experiments, T, xp
        self.beta, self.delta = beta, delta
        self.h = h = 1.0 / m
        self.x_cells = (np.arange(m) + 0.5) * h
        self.x_faces = np.arange(m + 1) * h
        xf = self.x_faces
        p_true = 0.5 * np.sin(2 * np.pi * xf) + 0.4 * np.exp(-((xf - 0.7) / 0.1) ** 2)
        # Explicit Euler is stable for k dt / h^2 <= 1/2; leave room for iterates above k_true.
        k_max = 1.5 * np.exp(p_true).max()
        self.n_steps = max(n_steps, math.ceil(T * k_max / (0.5 * h * h)))
        self.dt = T / self.n_steps
        self.k_stable = 0.5 * h * h / self.dt
        self.snapshots = snapshots
        self.step_count = 0                  # step evaluations (Revolve's cost is counted)
        self.u0 = xp.asarray(np.stack([np.sin((e + 1) * np.pi * self.x_cells)
                                       for e in range(experiments)]))
        self.p_true = xp.asarray(p_true)
        u_true = self.final_state(self.p_true)
        self.sigma = noise * float(xp.abs(u_true).max())
        rng = np.random.default_rng(seed)
        self.data = u_true + xp.asarray(self.sigma * rng.standard_normal(u_true.shape))
        D = np.eye(m + 1, k=1)[:-1] - np.eye(m + 1)[:-1]           # face differences
        R = beta * (D.T @ D / h + delta * h * np.eye(m + 1))
        w, U = np.linalg.eigh(R)
        self.R = xp.asarray(R)
        self.R_isqrt = xp.asarray((U / np.sqrt(w)) @ U.T)          # R^{-1/2}

    def final_state(self, p, snapshots="default"):
        """u(T) for the log-coefficient ``p`` (shape (E, m)); differentiable in ``p``."""
        snapshots = self.snapshots if snapshots == "default" else snapshots
        k = gnp.exp(p) * (self.dt / self.h ** 2)

        def step(u):
            self.step_count += 1
            return heat_step(u, k, lambda v: gnp.pad(v, ((0, 0), (1, 1))))  # u = 0 outside
        if snapshots is None:
            u = self.u0
            for _ in range(self.n_steps):
                u = step(u)
            return u
        return gpuad.checkpoint_loop(step, self.u0, self.n_steps, snapshots=snapshots)

    def misfit(self, p, snapshots="default"):
        r = self.final_state(p, snapshots) - self.data
        return 0.5 * gnp.sum(r * r) / self.sigma ** 2

    def regularization(self, p):
        return 0.5 * gnp.sum(p * (self.R @ p))

    def objective(self, p, snapshots="default"):
        return self.misfit(p, snapshots) + self.regularization(p)

    def coefficient_error(self, p):
        """Relative L2 error of k = exp(p) against k_true at the faces."""
        k, kt = np.exp(to_host(p)), np.exp(to_host(self.p_true))
        return float(np.linalg.norm(k - kt) / np.linalg.norm(kt))


def low_rank_eig(apply_batch, n, rank, oversample=10, power_iters=1, xp=np, seed=0):
    """Dominant eigenpairs of a symmetric n x n operator by randomized subspace iteration.

    ``apply_batch(W)`` applies the operator to the columns of ``W`` (n x K) and returns an
    n x K array (here: one batched HVP for all K columns). With ``K = rank + oversample``
    Gaussian columns Omega: ``Y = A^(q+1) Omega`` (orthonormalizing between the ``q``
    power iterations), ``Q = qr(Y)``, then the Rayleigh-Ritz step ``B = Q^T A Q``,
    ``B = U diag(lam) U^T``, ``V = Q U``. Costs ``q + 2`` applications. The error of the
    j-th eigenvalue falls like ``(lam_{K+1} / lam_j)^(2q+1)`` for a positive semidefinite
    operator (Halko, Martinsson & Tropp 2011, Sections 4.5 and 5.3).

    Returns ``(lam, V)`` with the ``rank`` largest eigenvalues in decreasing order.

    Example::

        >>> A = np.diag([5.0, 3.0, 1.0, 1e-3, 1e-4, 0.0])
        >>> lam, V = low_rank_eig(lambda W: A @ W, 6, rank=2, oversample=2)
        >>> np.round(lam, 8)
        array([5., 3.])
    """
    K = min(rank + oversample, n)
    Y = apply_batch(xp.asarray(np.random.default_rng(seed).standard_normal((n, K))))
    for _ in range(power_iters):
        Q, _ = xp.linalg.qr(Y)
        Y = apply_batch(Q)
    Q, _ = xp.linalg.qr(Y)
    B = Q.T @ apply_batch(Q)
    lam, U = xp.linalg.eigh(0.5 * (B + B.T))
    order = xp.argsort(lam)[::-1][:rank]
    return lam[order], Q @ U[:, order]


def misfit_eigs(prob, p, rank, oversample=10, power_iters=1, seed=0):
    """The ``rank`` dominant eigenpairs of ``R^{-1/2} H_misfit(p) R^{-1/2}``; the misfit
    Hessian enters only through ``gpuad.hvp(misfit, p, V, batched=True)``."""
    S = prob.R_isqrt

    def apply_batch(W):
        # Columns of W are directions; batched HVP wants them as leading-axis lanes.
        HW = gpuad.hvp(prob.misfit, p, (S @ W).T, batched=True)
        return S @ HW.T
    return low_rank_eig(apply_batch, p.shape[0], rank, oversample, power_iters, prob.xp, seed)


def lowrank_preconditioner(prob, rank, oversample=10, power_iters=0, record=None):
    """A ``preconditioner(p)`` factory for :func:`newton_cg`: at each Newton iterate the
    r dominant prior-preconditioned misfit eigenpairs give ``P^{-1} r``
    ``= R^{-1/2} (I - V diag(lam/(1+lam)) V^T) R^{-1/2} r``, the inverse of
    ``R^{1/2} (I + V diag(lam) V^T) R^{1/2}`` (Sherman-Morrison-Woodbury), which equals
    ``(H_misfit + R)^{-1}`` up to the neglected eigenvalues. Negative eigenvalues (away
    from the minimum the full misfit Hessian can be indefinite) are clipped to 0, keeping
    ``P`` positive definite."""
    xp, S = prob.xp, prob.R_isqrt

    def factory(p):
        lam, V = misfit_eigs(prob, p, rank, oversample, power_iters)
        if record is not None:
            record.append(to_host(lam))
        lam = xp.maximum(lam, 0.0)
        dfac = lam / (1.0 + lam)

        def apply(r):
            z = S @ r
            return S @ (z - V @ (dfac * (V.T @ z)))
        return apply
    return factory


def peak_memory(prob, p, snapshots):
    """Peak bytes the engine held (``gpuad.profile().peak_bytes``, the largest over the
    phases) during one gradient of the misfit, and the time steps evaluated, with
    ``snapshots`` (None: every step taped)."""
    prob.step_count = 0
    with gpuad.profile() as prof:
        gpuad.grad(lambda q: prob.misfit(q, snapshots))(p)
    peak = max(prof.peak_bytes.values()) if prof.peak_bytes else float("nan")
    return {"peak_bytes": peak, "steps": prob.step_count,
            "peak_by_phase": dict(prof.peak_bytes)}


def run(m=32, n_steps=128, experiments=4, noise=0.01, beta=10.0, snapshots=8, rank=12,
        oversample=10, power_iters=1, max_iter=30, rtol=1e-6, xp=np, seed=0,
        show_progress=False, precondition=True):
    """Solve the inverse problem; a dict with the estimate, errors, eigenvalues, timings
    and the peak-memory comparison."""
    prob = DiffusionInverseProblem(m, experiments, n_steps=n_steps, noise=noise, beta=beta,
                                   snapshots=snapshots, xp=xp, seed=seed)
    p0 = xp.zeros(m + 1)
    eig_history: list = []
    # A preconditioner only needs the dominant subspace roughly: no power iteration (two
    # batched sweeps per Newton step); the eigenvalues reported use ``power_iters``.
    pre = (lowrank_preconditioner(prob, rank, oversample, 0, eig_history)
           if precondition else None)
    res = newton_cg(prob.objective, p0, rtol=rtol, gtol=0.0, max_iter=max_iter,
                    preconditioner=pre, show_progress=show_progress, desc="inverse diffusion")
    lam, _ = misfit_eigs(prob, res.x, rank, oversample, power_iters)
    mem = {s: peak_memory(prob, res.x, s) for s in (None, snapshots)}
    return {"problem": prob, "result": res, "p": to_host(res.x),
            "error": prob.coefficient_error(res.x), "error_p0": prob.coefficient_error(p0),
            "eigenvalues": to_host(lam), "eig_history": eig_history, "memory": mem,
            "sweeps_per_eig": 2, "eig_lanes": min(rank + oversample, m + 1)}


def main(argv=None):
    """Solve, print the results and the memory comparison; returns the dict of :func:`run`."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=32, help="grid cells")
    ap.add_argument("--steps", type=int, default=128, help="time steps (raised if unstable)")
    ap.add_argument("--experiments", type=int, default=4)
    ap.add_argument("--noise", type=float, default=0.01, help="noise / max|u(T)|")
    ap.add_argument("--beta", type=float, default=10.0, help="prior weight")
    ap.add_argument("--snapshots", type=int, default=8,
                    help="checkpoint_loop snapshots (Revolve); 0: no checkpointing")
    ap.add_argument("--rank", type=int, default=12, help="eigenpairs kept")
    ap.add_argument("--oversample", type=int, default=10)
    ap.add_argument("--power-iters", type=int, default=1)
    ap.add_argument("--no-precondition", dest="precondition", action="store_false")
    args = add_common_args(ap).parse_args(argv)
    xp = array_module(args.device)
    snaps = args.snapshots or None
    out = run(args.m, args.steps, args.experiments, args.noise, args.beta, snaps, args.rank,
              args.oversample, args.power_iters, xp=xp, seed=args.seed,
              show_progress=args.progress, precondition=args.precondition)
    prob, res = out["problem"], out["result"]
    print(f"gpuad {gpuad.__version__} on {device_name(xp)}; m = {prob.m} cells, "
          f"{prob.n_steps} steps (stable for k < {prob.k_stable:.2f}), {prob.E} experiments, "
          f"noise sigma = {prob.sigma:.3g}")
    print(table([{"Newton iters": res.iterations, "CG HVPs": res.hvps,
                  "eig HVP sweeps": len(out["eig_history"]) * out["sweeps_per_eig"],
                  "lanes/sweep": out["eig_lanes"], "seconds": res.seconds,
                  "||g||/||g0||": res.grad_norm[-1] / res.grad_norm[0],
                  "k rel error": out["error"], "k=1 rel error": out["error_p0"]}]))
    lam = out["eigenvalues"]
    print("dominant eigenvalues of R^-1/2 H_misfit R^-1/2 at the estimate: "
          + ", ".join(f"{v:.4g}" for v in lam)
          + f"  ({int(np.sum(lam > 1))} above 1: data-informed directions)")
    rows = [{"checkpointing": "none (every step taped)" if s is None else f"Revolve, {s} snapshots",
             "peak bytes": r["peak_bytes"], "step evaluations": r["steps"]}
            for s, r in out["memory"].items()]
    print(table(rows))
    if args.plot:
        xf = prob.x_faces
        plot(args.plot, [
            {"title": "diffusion coefficient", "xlabel": "x", "ylabel": "k(x)",
             "series": {"true": (xf, np.exp(to_host(prob.p_true))),
                        "recovered": (xf, np.exp(out["p"]))}},
            {"title": "Newton-CG", "xlabel": "Newton iteration", "ylabel": "||g|| / ||g0||",
             "logy": True, "series": {"gradient": (np.arange(len(res.grad_norm)),
                                                   np.array(res.grad_norm) / res.grad_norm[0])}},
            {"title": "misfit Hessian spectrum", "xlabel": "index", "ylabel": "eigenvalue",
             "logy": True, "series": {"estimate": (np.arange(1, len(lam) + 1),
                                                   np.maximum(lam, 1e-16))}}],
             "gpuad inverse diffusion")
        print(f"plot written to {args.plot}")
    return out


if __name__ == "__main__":
    main()
