"""Domain-decomposed inverse diffusion: the problem of examples/inverse_diffusion.py with
its cells split over MPI ranks, checked against the single-process run.

Rank r owns cells [c_r, c_{r+1}) and the faces [c_r, c_{r+1}) (the last rank also face
m), so the log-coefficient p is partitioned among the ranks. Each time step is the serial
``heat_step`` with the ghost cells from ``gpuad.distributed.halo`` (zeros at the domain
ends, as the serial zero padding), inside ``gpuad.checkpoint_loop``; the face c_{r+1}
that closes a rank's last cell comes from its right neighbour through one ``halo`` of p.
The misfit and the H^1 prior are sums over ranks (``psum``). p is each rank's own part
(``spmd(..., shared=())``), so ``grad`` returns this rank's part of the gradient and
``hvp(..., batched=True)`` this rank's part of each H v, from one reverse sweep across
ranks in which every halo runs in reverse (ghost cotangents added onto the owners' edge
cells) and every Revolve recomputation repeats its exchanges.

    mpiexec -n 2 python examples/dist_inverse_diffusion.py
    mpiexec -n 3 python examples/dist_inverse_diffusion.py --m 16 --steps 32 --memory-budget 500
    mpiexec -n 2 python examples/dist_inverse_diffusion.py --device cuda [--backend nccl]

Every rank also runs the serial problem (small here) for the comparison: the gradient of
the objective and a batched HVP of the misfit equal the serial ones to 1e-10.
"""
from __future__ import annotations

import argparse

import numpy as np

import gpuad
import gpuad.distributed as dist
import gpuad.numpy as gnp
from _common import (Timer, add_common_args, array_module, device_name, table, to_host,
                     use_local_gpu)
from inverse_diffusion import DiffusionInverseProblem, heat_step


class DistributedDiffusion:
    """This rank's part of ``serial`` (a :class:`DiffusionInverseProblem`): its cells'
    initial states and data, its faces of p; ``objective``/``misfit`` are those of the
    whole problem (the same value on every rank) as functions of this rank's faces.

    Example::

        >>> prob = DiffusionInverseProblem(m=8, n_steps=16)
        >>> part = DistributedDiffusion(prob)                 # one process: all of it
        >>> bool(abs(part.objective(part.p_true) - prob.objective(prob.p_true)) < 1e-12)
        True
    """

    def __init__(self, serial, snapshots="default", memory_budget=None, comm=None):
        self.serial, self.comm = serial, comm
        R, N = dist.rank(comm), dist.size(comm)
        cells = np.array_split(np.arange(serial.m), N)[R]
        self.c0, self.c1 = int(cells[0]), int(cells[-1]) + 1
        self.last = R == N - 1
        self.faces = np.arange(self.c0, self.c1 + int(self.last))
        self.u0 = serial.u0[:, self.c0:self.c1]
        self.data = serial.data[:, self.c0:self.c1]
        self.p_true = serial.p_true[self.faces]
        self.snapshots = serial.snapshots if snapshots == "default" else snapshots
        self.memory_budget = memory_budget

    def _closed(self, p):
        """Faces c0..c1 of this rank's cells: its own, and the right neighbour's first."""
        right = dist.halo(p, 1, comm=self.comm)[-1:]     # every rank takes part
        return p if self.last else gnp.concatenate([p, right])

    def final_state(self, p):
        s = self.serial
        k = gnp.exp(self._closed(p)) * (s.dt / s.h ** 2)

        def step(u):
            return heat_step(u, k, lambda v: dist.halo(v, 1, axis=1, comm=self.comm))
        kw = ({"memory_budget": self.memory_budget} if self.memory_budget is not None
              else {"snapshots": self.snapshots})
        return gpuad.checkpoint_loop(step, self.u0, s.n_steps, **kw)

    def misfit(self, p):
        r = self.final_state(p) - self.data
        return 0.5 * dist.psum(gnp.sum(r * r), self.comm) / self.serial.sigma ** 2

    def regularization(self, p):
        # 1/2 p^T R p with R = beta (D^T D / h + delta h I): the face differences
        # p_{j+1} - p_j belong to the rank owning face j.
        s, q = self.serial, self._closed(p)
        d = q[1:] - q[:-1]
        h = s.h
        local = gnp.sum(d * d) / h + s.delta * h * gnp.sum(p * p)
        return 0.5 * s.beta * dist.psum(local, self.comm)

    def objective(self, p):
        return self.misfit(p) + self.regularization(p)


def compare(m=32, n_steps=128, lanes=8, snapshots=8, memory_budget=None, xp=np, seed=0):
    """The gradient of the objective and a batched HVP of the misfit, distributed and
    serial, at p = p_true / 2; a dict with the relative differences and timings."""
    serial = DiffusionInverseProblem(m, n_steps=n_steps, snapshots=snapshots, xp=xp,
                                     seed=seed)
    part = DistributedDiffusion(serial, snapshots, memory_budget)
    p = serial.p_true * 0.5
    V = xp.asarray(np.random.default_rng(seed + 1).standard_normal((lanes, m + 1)))
    grad = gpuad.grad(dist.spmd(part.objective, shared=()))
    hvp = dist.spmd(part.misfit, shared=())
    grad(p[part.faces])                              # load the kernels
    with Timer(xp) as tg:
        g = to_host(grad(p[part.faces]))
    with Timer(xp) as th:
        HV = to_host(gpuad.hvp(hvp, p[part.faces], V[:, part.faces], batched=True))
    g_serial = to_host(gpuad.grad(serial.objective)(p))[part.faces]
    HV_serial = to_host(gpuad.hvp(serial.misfit, p, V, batched=True))[:, part.faces]

    def rel(a, b):
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
    diffs = [rel(g, g_serial), rel(HV, HV_serial)]
    return {"part": part, "grad_diff": diffs[0], "hvp_diff": diffs[1],
            "grad_s": tg.seconds, "hvp_s": th.seconds, "ok_here": max(diffs) <= 1e-10}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=32, help="grid cells")
    ap.add_argument("--steps", type=int, default=128, help="time steps (raised if unstable)")
    ap.add_argument("--lanes", type=int, default=8, help="directions of the batched HVP")
    ap.add_argument("--snapshots", type=int, default=8, help="checkpoint_loop snapshots")
    ap.add_argument("--memory-budget", type=int, default=None,
                    help="bytes for checkpoint_loop's snapshots instead of --snapshots (the "
                         "ranks' counts differ when their parts do; they agree on the least)")
    ap.add_argument("--backend", choices=("mpi", "nccl"), default="mpi")
    args = add_common_args(ap).parse_args(argv)
    xp = array_module(args.device)
    use_local_gpu(xp)
    dist.init(args.backend)
    out = compare(args.m, args.steps, args.lanes, args.snapshots, args.memory_budget, xp,
                  args.seed)
    ok = all(dist.transport().gather_object(out["ok_here"]))
    rows = dist.transport().gather_object(
        {"rank": dist.rank(), "cells": f"{out['part'].c0}..{out['part'].c1 - 1}",
         "faces": len(out["part"].faces), "grad rel diff": out["grad_diff"],
         "hvp rel diff": out["hvp_diff"], "grad s": out["grad_s"], "hvp s": out["hvp_s"]})
    if dist.rank() == 0:
        s = out["part"].serial
        print(f"gpuad {gpuad.__version__} on {device_name(xp)}; {dist.size()} ranks, "
              f"m = {s.m} cells, {s.n_steps} steps, {args.lanes} HVP lanes, "
              + (f"memory budget {args.memory_budget} B" if args.memory_budget is not None
                 else f"{args.snapshots} snapshots"))
        print(table(rows))
        print("the distributed gradient and batched HVP " +
              ("match the single-process run to 1e-10" if ok else
               "DIFFER from the single-process run"))
    if not ok:
        raise SystemExit(1)
    return out


if __name__ == "__main__":
    main()
