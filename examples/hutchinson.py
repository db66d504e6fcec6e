"""Hutchinson's estimators of a Hessian's trace and diagonal from K Rademacher probes, all
K products computed by ONE batched HVP, checked against the exact Hessian.

For a symmetric H (n x n) and probes z with independent entries +-1,

    E[z^T H z] = tr H,            Var[z^T H z] = 2 (||H||_F^2 - sum_i H_ii^2),
    E[z * (H z)] = diag H,        Var[z_i (H z)_i] = sum_{j != i} H_ij^2,

so the means over K probes have standard errors ``sqrt(Var / K)``. The K products
``H z_k`` come from ``gpuad.hvp(f, x, Z, batched=True)`` with ``Z`` of shape (K, n): one
forward-over-reverse sweep carrying K tangent lanes, each reverse kernel launched once.

The test function (a smooth, non-separable one with a dense Hessian):

    f(x) = sum_j softplus((A x)_j) + sum_i x_i^4 / 4,
    H(x) = A^T diag(sigmoid'(A x)) A + diag(3 x^2).

    python examples/hutchinson.py --n 300 --probes 10 100 1000
"""
from __future__ import annotations

import argparse
import math

import numpy as np

import gpuad
import gpuad.numpy as gnp
from gpuad.runtime.device import array_module as _xp
from _common import Timer, add_common_args, array_module, device_name, plot, table, to_host


def make_problem(n=300, m=None, xp=np, seed=0):
    """``(f, x)`` for the test function above with a seeded Gaussian A (m x n, m = 1.5 n)
    scaled by 1/sqrt(n) and a seeded point x."""
    rng = np.random.default_rng(seed)
    m = m or (3 * n) // 2
    A = xp.asarray(rng.standard_normal((m, n)) * (2.0 / math.sqrt(n)))
    x = xp.asarray(rng.standard_normal(n))

    def f(x):
        return gnp.sum(gnp.softplus(A @ x)) + 0.25 * gnp.sum(x ** 4)
    return f, x


def rademacher(K, n, xp=np, seed=0):
    """K probes of n independent +-1 entries each, shape (K, n) (generated on the host with
    a seed, so CPU and GPU runs use the same probes)."""
    z = np.random.default_rng(seed).integers(0, 2, size=(K, n)) * 2.0 - 1.0
    return xp.asarray(z)


def hutchinson(f, x, Z):
    """Trace and diagonal estimates of ``H = hessian(f)(x)`` from the probes ``Z`` (K, n).

    Returns ``(trace, diag, trace_se, diag_se)``: the means of ``z^T H z`` and
    ``z * (H z)`` over the K probes and their empirical standard errors (sample standard
    deviation over sqrt(K)). All K products come from one batched HVP.

    Example::

        >>> tr, d, _, _ = hutchinson(lambda x: gnp.sum(x ** 3), np.ones(3),
        ...                          rademacher(4, 3))
        >>> float(tr), d                      # H = 6 I: every probe is exact
        (18.0, array([6., 6., 6.]))
    """
    xp = _xp(Z)
    HZ = gpuad.hvp(f, x, Z, batched=True)
    per_probe_diag = Z * HZ                              # (K, n)
    per_probe_trace = per_probe_diag.sum(axis=1)         # z^T H z for each probe
    K = Z.shape[0]
    ddof = 1 if K > 1 else 0
    trace_se = float(xp.std(per_probe_trace, ddof=ddof)) / math.sqrt(K)
    diag_se = xp.std(per_probe_diag, axis=0, ddof=ddof) / math.sqrt(K)
    return float(per_probe_trace.mean()), per_probe_diag.mean(axis=0), trace_se, diag_se


def exact_standard_errors(H, K):
    """The standard errors implied by the exact Hessian for K Rademacher probes:
    ``sqrt(2 (||H||_F^2 - sum H_ii^2) / K)`` for the trace and
    ``sqrt(sum_{j != i} H_ij^2 / K)`` for each diagonal entry."""
    H = to_host(H)
    d2 = np.diag(H) ** 2
    trace_se = math.sqrt(2.0 * (np.sum(H * H) - d2.sum()) / K)
    diag_se = np.sqrt((np.sum(H * H, axis=1) - d2) / K)
    return trace_se, diag_se


def run(n=300, probes=(10, 100, 1000), xp=np, seed=0):
    """Estimates for each K against ``gpuad.hessian``; a list of result rows plus timings."""
    f, x = make_problem(n, xp=xp, seed=seed)
    with Timer(xp) as t_exact:
        H = to_host(gpuad.hessian(f)(x))
    tr, diag = float(np.trace(H)), np.diag(H)
    rows = []
    for K in probes:
        Z = rademacher(K, n, xp, seed + K)
        with Timer(xp) as t:
            est, dest, se_emp, _ = hutchinson(f, x, Z)
        se, dse = exact_standard_errors(H, K)
        derr = to_host(dest) - diag
        rows.append({"K": K, "trace est": est, "trace": tr, "|error|": abs(est - tr),
                     "std err": se, "empirical se": se_emp, "error/se": abs(est - tr) / se,
                     "diag rel err": float(np.linalg.norm(derr) / np.linalg.norm(diag)),
                     "max diag err/se": float(np.max(np.abs(derr) / dse)),
                     "seconds": t.seconds})
    return {"rows": rows, "hessian": H, "hessian_s": t_exact.seconds, "f": f, "x": x}


def batched_speedup(f, x, K=64, xp=np, seed=0):
    """Seconds for K HVPs as one batched sweep and as K separate sweeps."""
    Z = rademacher(K, x.shape[0], xp, seed)
    gpuad.hvp(f, x, Z, batched=True)              # warm: kernels compiled/loaded
    with Timer(xp) as batched:
        gpuad.hvp(f, x, Z, batched=True)
    with Timer(xp) as single:
        for k in range(K):
            gpuad.hvp(f, x, Z[k])
    return batched.seconds, single.seconds


def main(argv=None):
    """Print the estimates against the exact Hessian; returns the dict of :func:`run`."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="dimension")
    ap.add_argument("--probes", type=int, nargs="+", default=[10, 100, 1000],
                    help="numbers of probes K")
    args = add_common_args(ap).parse_args(argv)
    xp = array_module(args.device)
    print(f"gpuad {gpuad.__version__} on {device_name(xp)}; n = {args.n}")
    out = run(args.n, args.probes, xp, args.seed)
    print(table(out["rows"], ["K", "trace est", "trace", "|error|", "std err", "error/se",
                              "diag rel err", "max diag err/se", "seconds"]))
    K = 64
    b, s = batched_speedup(out["f"], out["x"], K, xp, args.seed)
    out.update(batched_s=b, single_s=s)
    print(f"exact Hessian (gpuad.hessian, {args.n} lanes): {out['hessian_s']:.3f} s; "
          f"{K} HVPs as one batched sweep {b:.4f} s vs {K} single sweeps {s:.4f} s "
          f"({s / b:.1f}x)")
    if args.plot:
        rows = out["rows"]
        Ks = np.array([r["K"] for r in rows], dtype=float)
        plot(args.plot, [
            {"title": "trace estimate", "xlabel": "probes K", "ylabel": "|error|",
             "logy": True,
             "series": {"|estimate - tr H|": (Ks, [r["|error|"] for r in rows]),
                        "standard error": (Ks, [r["std err"] for r in rows])}},
            {"title": "diagonal estimate", "xlabel": "probes K",
             "ylabel": "||d_est - diag H|| / ||diag H||", "logy": True,
             "series": {"relative error": (Ks, [r["diag rel err"] for r in rows])}}],
             f"Hutchinson estimators, n = {args.n}")
        print(f"plot written to {args.plot}")
    return out


if __name__ == "__main__":
    main()
