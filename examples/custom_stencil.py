"""Bring your own kernel: a 2-D five-point stencil written as CUDA kernels, made
differentiable with ``gpuad.custom_primitive`` and differentiated through a
``gpuad.checkpoint_loop`` of many time steps.

The model is the explicit heat equation u_t = kappa(x, y) * laplace(u) on an ny x nx grid
with unit spacing, boundary values held fixed:

    u^{n+1} = u^n + dt * kappa * (u_N + u_S + u_W + u_E - 4 u)     inside,
    u^{n+1} = u^n                                                  on the boundary.

``heat_fwd`` computes one step; ``heat_jvp`` pushes L tangent lanes of (u, kappa) through
it in one launch; ``heat_vjp`` pulls a cotangent back to both inputs (a gather, no
atomics). The kernels are templates on the scalar type T, so gpuad also instantiates them
on ``gpuad::Dual`` numbers and Hessian-vector products work with no more kernels.

The example recovers nothing; it checks. With data d = u_T(kappa_true) and the loss
L(kappa) = 1/2 ||u_T(kappa) - d||^2 it

* checks the kernels with ``gpuad.testing.check_primitive`` (forward against NumPy, JVP
  against central differences, VJP against JVP, second order) on a small grid, on the CPU;
* computes grad L and a batched HVP through ``checkpoint_loop`` (Revolve schedule, a few
  snapshots) and compares them with the same model written with ``gpuad.numpy`` (slices
  and ``pad``).

    python examples/custom_stencil.py                  # 48 x 64 grid, 200 steps, CPU
    python examples/custom_stencil.py --device cuda    # the same kernels through CuPy
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import gpuad
import gpuad.numpy as gnp
from gpuad.checkpoint import revolve_cost

from _common import array_module, device_name, synchronize, to_host

SOURCE = r"""
// True for a cell whose value the step updates (not on the fixed boundary).
__device__ __forceinline__ bool interior(int i, int j, int ny, int nx) {
    return i > 0 && j > 0 && i < ny - 1 && j < nx - 1;
}

// The five-point Laplacian of a at cell c of a row-major grid with nx columns.
template <class T>
__device__ __forceinline__ T lap5(const T* a, long long c, int nx) {
    return a[c - nx] + a[c + nx] + a[c - 1] + a[c + 1] - 4 * a[c];
}

// out = u + dt * kappa * lap(u) inside, u on the boundary
template <class T>
__global__ void heat_fwd(const T* u, const T* kappa, T* out, int ny, int nx, double dt) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= ny || j >= nx) return;
    const long long c = (long long)i * nx + j;
    out[c] = interior(i, j, ny, nx) ? u[c] + dt * kappa[c] * lap5(u, c, nx) : u[c];
}

// tout[l] = tu[l] + dt * (tk[l] * lap(u) + kappa * lap(tu[l])) inside, tu[l] on the boundary
template <class T>
__global__ void heat_jvp(const T* u, const T* kappa, const T* tu, const T* tk, T* tout,
                         int ny, int nx, long long lanes, double dt) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= ny || j >= nx) return;
    const long long c = (long long)i * nx + j, n = (long long)ny * nx;
    const bool in = interior(i, j, ny, nx);
    const T lu = in ? lap5(u, c, nx) : T(0);
    for (long long l = 0; l < lanes; ++l) {
        const T* t = tu + l * n;
        tout[l * n + c] = in ? t[c] + dt * (tk[l * n + c] * lu + kappa[c] * lap5(t, c, nx)) : t[c];
    }
}

// gu[c] = g[c] (1 - 4 dt kappa[c] if c is inside) + sum over inside neighbours b of c of
//         dt kappa[b] g[b];     gk[c] = dt g[c] lap(u)[c] inside, 0 on the boundary
template <class T>
__global__ void heat_vjp(const T* u, const T* kappa, const T* g, T* gu, T* gk,
                         int ny, int nx, double dt) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= ny || j >= nx) return;
    const long long c = (long long)i * nx + j;
    const bool in = interior(i, j, ny, nx);
    T acc = in ? (1 - 4 * dt * kappa[c]) * g[c] : g[c];
    if (interior(i - 1, j, ny, nx)) acc = acc + dt * kappa[c - nx] * g[c - nx];
    if (interior(i + 1, j, ny, nx)) acc = acc + dt * kappa[c + nx] * g[c + nx];
    if (interior(i, j - 1, ny, nx)) acc = acc + dt * kappa[c - 1] * g[c - 1];
    if (interior(i, j + 1, ny, nx)) acc = acc + dt * kappa[c + 1] * g[c + 1];
    gu[c] = acc;
    gk[c] = in ? dt * g[c] * lap5(u, c, nx) : T(0);
}
"""

BLOCK = (16, 16)


def _grid(u, *arrays, dt):
    ny, nx = u.shape
    return (-(-nx // BLOCK[0]), -(-ny // BLOCK[1]))


def _dims(u):
    return np.int32(u.shape[0]), np.int32(u.shape[1])


heat_step = gpuad.custom_primitive(
    SOURCE, name="heat_step",
    outputs=lambda u, kappa, dt: u.shape,
    forward=gpuad.Launch("heat_fwd<{T}>", grid=_grid, block=BLOCK,
                         args=lambda u, kappa, out, dt: (u, kappa, out, *_dims(u),
                                                         np.float64(dt))),
    jvp=gpuad.Launch("heat_jvp<{T}>", grid=_grid, block=BLOCK,
                     args=lambda u, kappa, tu, tk, tout, dt: (
                         u, kappa, tu, tk, tout, *_dims(u), np.int64(tu.shape[0]),
                         np.float64(dt))),
    vjp=gpuad.Launch("heat_vjp<{T}>", grid=_grid, block=BLOCK,
                     args=lambda u, kappa, g, gu, gk, dt: (u, kappa, g, gu, gk, *_dims(u),
                                                           np.float64(dt))),
    doc="one explicit heat-equation step u + dt kappa laplace(u), fixed boundary")


def heat_step_numpy(u, kappa, dt):
    """The step in plain NumPy: the reference for check_primitive."""
    out = u.copy()
    lap = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4 * u[1:-1, 1:-1]
    out[1:-1, 1:-1] += dt * kappa[1:-1, 1:-1] * lap
    return out


def heat_step_gnp(u, kappa, dt, edge):
    """The same step with gpuad.numpy (slices and pad); ``edge`` is 1 on the boundary."""
    lap = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4.0 * u[1:-1, 1:-1]
    inner = u[1:-1, 1:-1] + dt * kappa[1:-1, 1:-1] * lap
    return gnp.pad(inner, 1) + u * edge


def problem(ny, nx, xp, seed=0):
    """Initial state (a hot left edge and a warm bump), a smooth true conductivity, and the
    starting conductivity 1."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:ny, 0:nx] / np.array([ny - 1, nx - 1])[:, None, None]
    u0 = np.exp(-((x - 0.6) ** 2 + (y - 0.4) ** 2) / 0.02)
    u0[:, 0] = 1.0
    kappa_true = 1.0 + 0.4 * np.sin(2 * np.pi * x) * np.cos(np.pi * y) + 0.05 * rng.random((ny, nx))
    edge = np.ones((ny, nx))
    edge[1:-1, 1:-1] = 0.0
    return tuple(xp.asarray(a) for a in (u0, kappa_true, np.ones((ny, nx)), edge))


def make_losses(u0, data, dt, n_steps, snapshots, edge):
    """L(kappa) = 1/2 ||u_T - data||^2 with the custom kernel and with gpuad.numpy."""
    def loss_kernel(kappa):
        uT = gpuad.checkpoint_loop(lambda u: heat_step(u, kappa, dt=dt), u0, n_steps,
                                   snapshots=snapshots)
        return 0.5 * gnp.sum((uT - data) ** 2)

    def loss_gnp(kappa):
        uT = gpuad.checkpoint_loop(lambda u: heat_step_gnp(u, kappa, dt, edge), u0, n_steps,
                                   snapshots=snapshots)
        return 0.5 * gnp.sum((uT - data) ** 2)
    return loss_kernel, loss_gnp


def _rel(a, b):
    a, b = to_host(a), to_host(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def main(argv=None):
    """Run the checks; returns a dict of the numbers printed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu",
                    help="cpu: NumPy arrays, kernels compiled for the host; cuda: CuPy "
                         "arrays, kernels compiled by NVRTC; auto: cuda when usable")
    ap.add_argument("--grid", type=int, nargs=2, default=(48, 64), metavar=("NY", "NX"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--snapshots", type=int, default=8)
    ap.add_argument("--dt", type=float, default=0.1, help="stable while dt * max kappa < 1/4")
    ap.add_argument("--hvp-lanes", type=int, default=2, help="K directions of the batched HVP")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    xp = array_module(a.device)
    ny, nx = a.grid
    res = {"device": device_name(xp)}

    # 1. The kernels on their own, on the CPU through the host build (any device).
    u_s, k_s, _, _ = problem(7, 9, np, a.seed)
    t0 = time.perf_counter()
    report = gpuad.testing.check_primitive(heat_step, (u_s, k_s), params={"dt": a.dt},
                                           reference=heat_step_numpy, order=2)
    res["check_primitive"] = report
    print(f"check_primitive(heat_step): {len(report)} checks passed "
          f"({time.perf_counter() - t0:.1f} s), worst error "
          f"{max(v for v in report.values() if isinstance(v, float)):.2e}")

    # 2. Gradient and batched HVP through the checkpointed loop, kernel vs gpuad.numpy.
    u0, kappa_true, kappa, edge = problem(ny, nx, xp, a.seed)
    data = u0
    for _ in range(a.steps):
        data = heat_step(data, kappa_true, dt=a.dt)
    loss_kernel, loss_gnp = make_losses(u0, data, a.dt, a.steps, a.snapshots, edge)
    timings = {}
    grads = {}
    for label, loss in (("kernel", loss_kernel), ("gpuad.numpy", loss_gnp)):
        t0 = time.perf_counter()
        val, grads[label] = gpuad.value_and_grad(loss)(kappa)
        synchronize(xp)
        timings[label] = time.perf_counter() - t0
        res[f"loss_{label}"] = float(to_host(val))
    res["grad_rel_diff"] = _rel(grads["kernel"], grads["gpuad.numpy"])
    evals = revolve_cost(a.steps, min(a.snapshots, a.steps - 1))
    print(f"grid {ny} x {nx}, {a.steps} steps, {a.snapshots} snapshots "
          f"({evals} step evaluations per gradient), device {res['device']}")
    print(f"loss {res['loss_kernel']:.6e}; gradient: kernel {timings['kernel']:.2f} s, "
          f"gpuad.numpy {timings['gpuad.numpy']:.2f} s; max relative difference "
          f"{res['grad_rel_diff']:.2e}")
    if a.hvp_lanes > 0:
        rng = np.random.default_rng(a.seed + 1)
        V = xp.asarray(rng.standard_normal((a.hvp_lanes, ny, nx)))
        t0 = time.perf_counter()
        hk = gpuad.hvp(loss_kernel, kappa, V, batched=True)
        synchronize(xp)
        t_k = time.perf_counter() - t0
        hg = gpuad.hvp(loss_gnp, kappa, V, batched=True)
        res["hvp_rel_diff"] = _rel(hk, hg)
        print(f"batched HVP ({a.hvp_lanes} directions, one sweep): kernel {t_k:.2f} s; "
              f"max relative difference to gpuad.numpy {res['hvp_rel_diff']:.2e}")
    return res


if __name__ == "__main__":
    main()
