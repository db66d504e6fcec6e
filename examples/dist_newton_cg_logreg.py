"""Data-parallel Newton-CG logistic regression: examples/newton_cg_logreg.py with the rows
of the data split over MPI ranks, checked against the single-process solver.

Rank r holds rows I_r (n_r of the n rows). With F_r = ``logistic_loss(X[I_r], y[I_r],
lam)``, the serial objective on those rows (a mean over n_r rows plus the penalty),

    f(theta) = psum((n_r / n) F_r(theta)) = (1/n) sum_i loss_i + (lam/2) ||w||^2,

since the weights n_r / n sum to 1. ``theta`` is shared by all ranks, so the objective is
wrapped in ``gpuad.distributed.spmd(..., shared=0)``: theta enters the rank-local work
through pvary, whose VJP sums the ranks' gradients; psum's VJP is the identity, so every
rank's gradient, and every HVP, is the whole problem's. The same ``newton_cg`` as the
serial example then runs unchanged on every rank, one HVP (one Allreduce of d + 1 values
with its tangent lane) per CG step; at the solution one batched HVP with d + 1 lanes
gives the whole Hessian through the same pmean.

    mpiexec -n 2 python examples/dist_newton_cg_logreg.py
    mpiexec -n 2 python examples/dist_newton_cg_logreg.py --synthetic 1000000 100 --device cuda

Every rank makes the whole data set (small here) and keeps its rows; the serial solver
runs on every rank for the comparison (iterates, objective history and the Hessian equal
to 1e-10).
"""
from __future__ import annotations

import argparse
import math

import numpy as np

import gpuad
import gpuad.distributed as dist
from _common import (Timer, add_common_args, array_module, device_name, table, to_host,
                     use_local_gpu)
from newton_cg_logreg import lam_from_c, logistic_loss, newton_cg, synthetic


def data_parallel_loss(X, y, lam, fit_intercept=True, comm=None):
    """The objective above for this rank's share of the rows of ``X``, ``y`` (every rank
    passes the whole arrays here and keeps rows ``array_split(range(n), size)[rank]``).

    Example::

        >>> X, y = synthetic(40, 3)
        >>> f = data_parallel_loss(X, y, 0.1)
        >>> bool(abs(f(np.zeros(4)) - np.log(2.0)) < 1e-12)    # one process: the serial f
        True
    """
    n = X.shape[0]
    rows = np.array_split(np.arange(n), dist.size(comm))[dist.rank(comm)]
    F = logistic_loss(X[rows], y[rows], lam, fit_intercept)
    weight = len(rows) / n
    return dist.spmd(lambda theta: dist.psum(weight * F(theta), comm), shared=0, comm=comm)


def compare(n, d, C=1.0, gtol=1e-10, xp=np, seed=0):
    """Solve serially and data-parallel; returns a dict with both results and the
    largest differences (iterates, objective history, Hessian at the solution)."""
    X, y = synthetic(n, d, xp, seed)
    lam = lam_from_c(C, n)
    f_serial = logistic_loss(X, y, lam)
    f_dist = data_parallel_loss(X, y, lam)
    theta0 = xp.zeros(d + 1)
    gpuad.hvp(f_dist, theta0, theta0 + 1.0)              # load the kernels
    serial = newton_cg(f_serial, theta0, gtol=gtol)
    with Timer(xp) as t:
        par = newton_cg(f_dist, theta0, gtol=gtol)
    E = xp.eye(d + 1)
    H_dist = to_host(gpuad.hvp(f_dist, par.x, E, batched=True))
    H_serial = to_host(gpuad.hvp(f_serial, serial.x, E, batched=True))
    fs, fp = np.array(serial.fun), np.array(par.fun)
    same_len = len(fs) == len(fp)
    return {
        "serial": serial, "distributed": par, "seconds": t.seconds,
        "iterations": (serial.iterations, par.iterations),
        "x_diff": float(np.max(np.abs(to_host(serial.x) - to_host(par.x)))),
        "fun_diff": float(np.max(np.abs(fs - fp) / np.abs(fs))) if same_len else math.inf,
        "hess_diff": float(np.max(np.abs(H_dist - H_serial)) / np.max(np.abs(H_serial))),
        "cond": float(np.linalg.cond(H_dist)),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", nargs=2, type=int, metavar=("N", "D"), default=(3001, 12))
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--gtol", type=float, default=1e-10)
    ap.add_argument("--backend", choices=("mpi", "nccl"), default="mpi")
    args = add_common_args(ap).parse_args(argv)
    xp = array_module(args.device)
    use_local_gpu(xp)
    dist.init(args.backend)
    R, N = dist.rank(), dist.size()
    out = compare(*args.synthetic, C=args.C, gtol=args.gtol, xp=xp, seed=args.seed)
    ok = (out["iterations"][0] == out["iterations"][1] and out["x_diff"] <= 1e-10
          and out["fun_diff"] <= 1e-10 and out["hess_diff"] <= 1e-10)
    if R == 0:
        n, d = args.synthetic
        print(f"gpuad {gpuad.__version__} on {device_name(xp)}; {N} ranks, {n} x {d} "
              f"rows split {[len(r) for r in np.array_split(np.arange(n), N)]}")
        print(table([{"Newton iters (serial, ranks)": out["iterations"],
                      "HVPs": out["distributed"].hvps, "seconds": out["seconds"],
                      "max |x - x_serial|": out["x_diff"],
                      "max rel f diff": out["fun_diff"],
                      "rel Hessian diff": out["hess_diff"], "cond(H)": out["cond"]}]))
        print("the data-parallel solve " + ("matches the single-process run to 1e-10" if ok
                                            else "DIFFERS from the single-process run"))
    if not ok:
        raise SystemExit(1)
    return out


if __name__ == "__main__":
    main()
