"""Timing of the CPU kernel runtime (gpuad/runtime/host.py); not a test.

Prints, for one run on this machine:
  * an elementwise kernel, out = sin(x) * x * x over 1e6 float64, launched the way the engine
    does on a CPU (grid = workers, block = 1), against the same NumPy expression;
  * a block reduction (fibers, __syncthreads) over 1e5 float64;
  * the per-launch overhead of a tiny kernel called from Python.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_host_runtime.py
"""
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # idle BLAS threads would spin on our cores

import numpy as np

from gpuad.runtime.host import HostModule, cpu_workers

SOURCE = r"""
#include "gpuad/common.cuh"
template <class T> __global__ void sin_x2(const T* __restrict__ x, T* __restrict__ out, long long n) {
    GPUAD_LOOP(i, n) { const T v = x[i]; out[i] = sin(v) * v * v; }
}
extern "C" __global__ void noop(const double* x, double* out, long long n) {}
extern "C" __global__ void block_sum(const double* x, double* out, long long n) {
    __shared__ double s[256];
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    s[threadIdx.x] = i < n ? x[i] : 0.0;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}
"""


def best(fn, repeat=30):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))


def main():
    mod = HostModule(SOURCE, name_expressions=("sin_x2<double>",), name="bench_host_runtime")
    w = cpu_workers()
    n = 10**6
    x = np.random.default_rng(0).uniform(-3, 3, n)
    out = np.empty_like(x)
    k = mod.get_function("sin_x2<double>")
    k((w,), (1,), (x, out, n))
    assert np.allclose(out, np.sin(x) * x * x)

    kb, km = best(lambda: k((w,), (1,), (x, out, n)))
    k1b, k1m = best(lambda: k((1,), (1,), (x, out, n)))
    nb, nm = best(lambda: np.sin(x) * x * x)
    print(f"workers: {w}")
    print(f"elementwise sin(x)*x*x, 1e6 float64: kernel {kb*1e3:.2f} ms (median {km*1e3:.2f}), "
          f"one thread {k1b*1e3:.2f} ms, numpy {nb*1e3:.2f} ms (median {nm*1e3:.2f}); "
          f"kernel/numpy = {km/nm:.2f}")

    m = 10**5
    xs = x[:m].copy()
    blocks = (m + 255) // 256
    partial = np.empty(blocks)
    s = mod.get_function("block_sum")
    bb, bm = best(lambda: s((blocks,), (256,), (xs, partial, m)), repeat=10)
    assert np.isclose(partial.sum(), xs.sum())
    print(f"block reduction (fibers, __syncthreads), 1e5 float64, {blocks} blocks of 256: "
          f"{bb*1e3:.2f} ms (median {bm*1e3:.2f})")

    tiny = mod.get_function("noop")
    a, b = np.zeros(4), np.zeros(4)
    calls = 100_000
    for _ in range(1000):
        tiny((1,), (1,), (a, b, 4))
    t = time.perf_counter()
    for _ in range(calls):
        tiny((1,), (1,), (a, b, 4))
    per = (time.perf_counter() - t) / calls
    t = time.perf_counter()
    for _ in range(calls):
        tiny(1, 1, (a, b, 4))
    per_int = (time.perf_counter() - t) / calls
    print(f"launch overhead (3 args, grid=(1,), block=(1,)): {per*1e6:.2f} us per call; "
          f"with int geometry: {per_int*1e6:.2f} us")


if __name__ == "__main__":
    main()
