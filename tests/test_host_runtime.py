"""The CPU runtime (gpuad/runtime/host.py + kernels/gpuad/host.h) runs CUDA C++ as written."""
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from gpuad.runtime import host
from gpuad.runtime.host import HostModule, cpu_workers

KERNELS = Path(__file__).parent / "kernels" / "host_runtime.cu"
EXPRESSIONS = ("axpy_sin<float>", "axpy_sin<double>", "block_sum<float>", "block_sum<double>",
               "warp_sum<double>", "warp_sum<long long>", "shared_bytes_sum<float>", "shared_bytes_sum<double>",
               "atomic_sum<float>", "atomic_sum<double>")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mod():
    # More workers than cores: concurrent blocks (and their __shared__ memory) on any machine.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GPUAD_NUM_THREADS", "4")
        m = HostModule(KERNELS.read_text(), name_expressions=EXPRESSIONS, name="test_host_runtime")
    assert m.workers == 4
    return m


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ------------------------------------------------------------------------------ elementwise
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 100_000])
@pytest.mark.parametrize("geometry", [(1, 1), (3, 5), (7, 33), (2, 1), (64, 256), (1000, 1)])
def test_elementwise_grid_stride_any_geometry(mod, rng, dtype, n, geometry):
    k = mod.get_function(f"axpy_sin<{np.dtype(dtype).name.replace('float32', 'float').replace('float64', 'double')}>")
    x = rng.standard_normal(n).astype(dtype)
    out = np.full(n, np.nan, dtype)
    k((geometry[0],), (geometry[1],), (x, out, dtype(1.5), n))
    want = 1.5 * x.astype(np.float64) + np.sin(x.astype(np.float64))
    np.testing.assert_allclose(out, want, rtol=2e-6 if dtype == np.float32 else 1e-14, atol=1e-6)
    assert not k.uses_barriers


def test_loop_bound_chunks_cover_everything_once(mod):
    # Many more virtual threads than elements, and huge n relative to the thread count.
    k = mod.get_function("axpy_sin<double>")
    for grid, block, n in [(5, 128, 3), (3, 7, 1001), (65535, 1, 70000)]:
        x = np.zeros(n)
        out = np.full(n, np.nan)
        k(grid, block, (x, out, 0.0, n))
        assert np.all(out == 0.0)


def test_classic_2d_indexing(mod):
    w, h = 45, 37
    out = np.full(w * h, -1, np.int64)
    mod.get_function("index_2d")((3, 5, 1), (16, 8), (out, np.int32(w), np.int32(h)))
    yy, xx = np.mgrid[:h, :w]
    np.testing.assert_array_equal(out.reshape(h, w), 1000 * yy + xx)


# ------------------------------------------------------------------------ barriers and warps
@pytest.mark.parametrize("dtype,name", [(np.float32, "float"), (np.float64, "double")])
def test_block_reduction_shared_memory(mod, rng, dtype, name):
    n = 100_000
    x = rng.standard_normal(n).astype(dtype)
    blocks = (n + 255) // 256
    out = np.zeros(blocks, dtype)
    k = mod.get_function(f"block_sum<{name}>")
    assert k.uses_barriers
    k((blocks,), (256,), (x, out, n))
    want = np.add.reduceat(x.astype(np.float64), np.arange(0, n, 256))
    np.testing.assert_allclose(out, want, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-4)


def test_portable_ucontext_fibers(rng):
    """The ucontext fallback (used off x86-64) runs barriers and shuffles too."""
    m = HostModule(KERNELS.read_text(), options=("-DGPUAD_HOST_UCONTEXT",),
                   name_expressions=("block_sum<double>", "warp_sum<double>"), name="test_host_runtime_ucontext")
    x = rng.standard_normal(3000)
    out = np.zeros(12)
    m.get_function("block_sum<double>")(12, 256, (x, out, x.size))
    np.testing.assert_allclose(out, np.add.reduceat(x, np.arange(0, x.size, 256)), rtol=1e-12)
    out = np.zeros(3008 // 32)
    m.get_function("warp_sum<double>")(47, 64, (x, out, x.size))
    np.testing.assert_allclose(out, np.add.reduceat(x, np.arange(0, x.size, 32)), rtol=1e-12)


@pytest.mark.parametrize("dtype,name", [(np.float64, "double"), (np.int64, "long long")])
def test_warp_shuffle_reduction(mod, rng, dtype, name):
    n = 64 * 37
    x = (rng.standard_normal(n) * 100).astype(dtype)
    out = np.zeros(n // 32, dtype)
    k = mod.get_function(f"warp_sum<{name}>")
    assert k.uses_barriers  # through warp_reduce, a __device__ function
    k((37,), (64,), (x, out, n))
    np.testing.assert_allclose(out, x.reshape(-1, 32).sum(axis=1), rtol=1e-12)


def test_shuffle_up_broadcast_xor(mod, rng):
    x = rng.integers(-50, 50, 128).astype(np.int32)
    scan, total, wmax = (np.zeros(128, np.int32) for _ in range(3))
    mod.get_function("warp_scan")(2, 64, (x, scan, total, wmax))
    warps = x.reshape(-1, 32)
    np.testing.assert_array_equal(scan, np.cumsum(warps, axis=1).ravel())
    np.testing.assert_array_equal(total, np.repeat(warps.sum(axis=1), 32))
    np.testing.assert_array_equal(wmax, np.repeat(warps.max(axis=1), 32))


def test_votes_and_syncthreads_count(mod, rng):
    x = rng.integers(-1, 3, 256).astype(np.int32)
    x[32:64] = 1  # one warp where all vote yes
    x[64:96] = -1  # and one where none does
    ballot = np.zeros(8, np.uint32)
    any_, all_ = np.zeros(8, np.int32), np.zeros(8, np.int32)
    count = np.zeros(2, np.int32)
    mod.get_function("votes")(2, 128, (x, ballot, any_, all_, count))
    bits = (x > 0).reshape(8, 32)
    np.testing.assert_array_equal(ballot, (bits * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1))
    np.testing.assert_array_equal(any_, bits.any(axis=1))
    np.testing.assert_array_equal(all_, bits.all(axis=1))
    np.testing.assert_array_equal(count, bits.reshape(2, 128).sum(axis=1))


def test_dynamic_shared_memory(mod, rng):
    x = rng.standard_normal(6 * 96)
    out = np.zeros_like(x)
    mod.get_function("reverse_block")(6, 96, (x, out), shared_mem=96 * 8)
    np.testing.assert_array_equal(out, x.reshape(6, 96)[:, ::-1].ravel())


@pytest.mark.parametrize("dtype,name", [(np.float32, "float"), (np.float64, "double")])
def test_dynamic_shared_memory_bytes(mod, rng, dtype, name):
    x = rng.standard_normal(4 * 200).astype(dtype)
    out = np.zeros(4, dtype)
    mod.get_function(f"shared_bytes_sum<{name}>")(4, 200, (x, out), shared_mem=200 * x.itemsize)
    np.testing.assert_allclose(out, x.reshape(4, 200).astype(np.float64).sum(axis=1), rtol=1e-5)


# ----------------------------------------------------------------------------------- atomics
@pytest.mark.parametrize("dtype,name", [(np.float32, "float"), (np.float64, "double")])
def test_atomic_add_from_many_threads(mod, rng, dtype, name):
    n = 200_000
    x = rng.uniform(0, 1, n).astype(dtype)
    out = np.zeros(1, dtype)
    mod.get_function(f"atomic_sum<{name}>")((n + 127) // 128, 128, (x, out, n))
    np.testing.assert_allclose(out[0], x.astype(np.float64).sum(), rtol=1e-4 if dtype == np.float32 else 1e-10)


def test_integer_atomics(mod, rng):
    n = 50_000
    x = rng.integers(0, 16, n).astype(np.int32)
    bins = np.zeros(16, np.uint32)
    total = np.zeros(1, np.uint64)
    hi = np.full(1, -1, np.int32)
    mod.get_function("histogram")((n + 255) // 256, 256, (x, bins, total, hi, np.int32(n)))
    np.testing.assert_array_equal(bins, np.bincount(x, minlength=16))
    assert total[0] == n and hi[0] == x.max()


# ------------------------------------------------------------------------------------- math
def test_cuda_math_spellings(mod):
    xf = np.linspace(0.25, 3.5, 101).astype(np.float32)
    out = np.zeros(8 * xf.size, np.float32)
    mod.get_function("math_f32")(2, 1, (xf, out, xf.size))
    v = xf.astype(np.float64)
    out = out.reshape(-1, 8).astype(np.float64)
    from math import erf
    verf = np.vectorize(erf)
    np.testing.assert_allclose(out[:, 0], 2 * np.exp(v), rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], 1 / np.sqrt(v) + 1 / v, rtol=1e-6)
    np.testing.assert_allclose(out[:, 2], 2 * np.sin(v) * np.cos(v), rtol=1e-5, atol=1e-6)
    assert np.allclose(verf(out[:, 3] - verf(v)), v / 4, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 4], 2 * np.log(v) + np.sqrt(v), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 5], np.minimum(v, 1.5) + np.maximum(v, 1.5), rtol=1e-7)
    # normcdfinv(p) = -sqrt(2) erfcinv(2p): check through the normal cdf
    p = v / 4
    np.testing.assert_allclose(0.5 * (1 + verf(out[:, 6] / np.sqrt(2))), p, rtol=1e-5)
    np.testing.assert_allclose(out[:, 7], 1 / np.sqrt(v), rtol=1e-6)

    xd = np.linspace(0.01, 3.99, 77)
    outd = np.zeros(4 * xd.size)
    mod.get_function("math_f64")(3, 2, (xd, outd, xd.size))
    outd = outd.reshape(-1, 4)
    np.testing.assert_allclose(outd[:, 0], 1 / np.sqrt(xd), rtol=1e-15)
    np.testing.assert_allclose(outd[:, 1], np.sin(xd) * np.cos(xd), rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(verf(outd[:, 2]), xd / 4 - 0.5, rtol=1e-13, atol=1e-15)
    from math import erfc
    np.testing.assert_allclose(np.vectorize(erfc)(outd[:, 3]), xd / 4, rtol=1e-13)


# --------------------------------------------------------------------------- argument checks
def test_param_types_and_scalar_passing(mod):
    k = mod.get_function("params")
    assert k.param_types == ["const float*", "double*", "float", "double", "int", "unsigned int",
                             "long long int", "bool", "long long unsigned int", "short int"]
    x = np.array([2.5], np.float32)
    out = np.zeros(9)
    k(1, 1, (x, out, np.float32(1.25), 2.5, np.int32(-3), np.uint32(4_000_000_000), -(2**40), True,
             np.uint64(2**63 + 2**20), np.int16(-7)))
    np.testing.assert_array_equal(out, [1.25, 2.5, -3, 4e9, -(2**40), 1, 2**63 + 2**20, -7, 2.5])
    k(1, 1, (None, out, np.float32(0), np.float64(0), np.uint32(1), np.int32(2), np.int64(3), np.bool_(False),
             2**64 - 1, np.uint16(1)))
    assert out[8] == -1.0 and out[6] == 2.0**64 and out[5] == 0


@pytest.mark.parametrize("args,index,expected,given", [
    ((np.zeros(1),), None, "takes 10 arguments", "got 1"),
    (("x", "out", np.zeros(3), 2.5), 2, "float (4-byte floating)", "numpy array"),
    (("x", "out", np.float32(1), np.int32(3)), 3, "double (8-byte floating)", "numpy.int32"),
    (("x", "out", 1.0), 2, "float (4-byte floating)", "Python float"),
    (("x", "out", np.float32(1), 2.0, 5), 4, "int (4-byte integer)", "Python int"),
    ((3.0,), 0, "const float* (pass a NumPy array or None)", "Python float"),
    ((np.zeros(2),), 0, "const float*", "numpy array of float64"),
    (("x", np.zeros(2, np.float32)), 1, "double*", "numpy array of float32"),
])
def test_argument_check(mod, args, index, expected, given):
    good = [np.zeros(1, np.float32), np.zeros(9), np.float32(0), 0.0, np.int32(0), np.uint32(0), 0, False,
            np.uint64(0), np.int16(0)]
    if index is not None:
        for i, a in enumerate(args):
            if not isinstance(a, str):
                good[i] = a
        args = tuple(good)
    k = mod.get_function("params")
    with pytest.raises(TypeError) as e:
        k(1, 1, args)
    msg = str(e.value)
    assert "'params'" in msg and expected in msg and given in msg
    if index is not None:
        assert f"argument {index}" in msg


def test_unknown_kernel_and_geometry_errors(mod):
    with pytest.raises(KeyError) as e:
        mod.get_function("block_sum<int>")
    assert "block_sum<float>" in str(e.value) and "index_2d" in str(e.value)
    k = mod.get_function("index_2d")
    out = np.zeros(4, np.int64)
    with pytest.raises(RuntimeError, match="invalid launch configuration.*'index_2d'"):
        k(1, 2048, (out, np.int32(2), np.int32(2)))
    with pytest.raises(TypeError, match="block must be"):
        k(1, (1, 1, 1, 1), (out, np.int32(2), np.int32(2)))


def test_namespaced_and_extern_c_kernels(mod):
    out = np.zeros(256, np.int32)
    mod.get_function("fill")((2,), (128,), (out, np.int32(7)))
    assert np.all(out == 7)
    mod.get_function("gpuad_test::fill_twice")(2, 128, (out, np.int32(7)))
    assert np.all(out == 14)


# ---------------------------------------------------------------------------- barrier errors
DIVERGENT = r"""
extern "C" __global__ void early_exit(float* x, int n) {
    __shared__ float s[64];
    const int i = threadIdx.x;
    if (i >= n) return;
    s[i] = x[i];
    __syncthreads();
    x[i] = s[n - 1 - i];
}
extern "C" __global__ void warp_exit(float* x) {
    if (threadIdx.x >= 16) return;
    x[threadIdx.x] = __shfl_down_sync(0xffffffffu, x[threadIdx.x], 1);
}
extern "C" __global__ void mixed(float* x) {
    if (threadIdx.x < 16) __syncwarp();
    else __syncthreads();
}
"""


def test_divergent_barrier_is_an_error_not_a_hang(mod):
    m = HostModule(DIVERGENT, name="divergent")
    k = m.get_function("early_exit")
    x = np.arange(64, dtype=np.float32)
    with pytest.raises(RuntimeError) as e:
        k(3, 64, (x, np.int32(32)))
    msg = str(e.value)
    assert "divergent __syncthreads in kernel 'early_exit'" in msg
    assert "32 of 64 threads of block (0,0,0) exited while the others wait" in msg
    k(1, 64, (x, np.int32(64)))  # the same kernel, converged, still works
    np.testing.assert_array_equal(x, np.arange(64, dtype=np.float32)[::-1])
    with pytest.raises(RuntimeError, match="divergent warp synchronisation.*'warp_exit'"):
        m.get_function("warp_exit")(1, 32, (x,))
    with pytest.raises(RuntimeError, match="barrier deadlock in kernel 'mixed'.*48 threads wait at __syncthreads, 16 at a warp"):
        m.get_function("mixed")(2, 64, (x,))
    # other kernels, in this module and others, are unaffected
    out = np.zeros(4)
    mod.get_function("block_sum<double>")(1, 256, (np.ones(4), out, 4))
    assert out[0] == 4.0


def test_barrier_the_scan_cannot_see_is_reported(mod):
    src = r"""
__device__ void helper() { __syncthreads(); }
__device__ void (*hook)() = helper;
extern "C" __global__ void through_pointer(float* x) { x[threadIdx.x] = 1.0f; hook(); }
"""
    m = HostModule(src, name="hidden_barrier")
    k = m.get_function("through_pointer")
    assert not k.uses_barriers
    with pytest.raises(RuntimeError, match="__syncthreads in kernel 'through_pointer'.*scan did not see"):
        k(1, 32, (np.zeros(32, np.float32),))
    k(4, 1, (np.zeros(4, np.float32),))  # one thread per block needs no barrier at all


@pytest.mark.nvrtc
def test_test_kernels_are_valid_cuda(mod):
    """What runs here on the CPU also compiles with NVRTC, the compiler CuPy uses on a GPU."""
    from gpuad.runtime import nvrtc
    try:
        nvrtc.nvrtc_version()
    except nvrtc.NvrtcUnavailable as exc:
        pytest.skip(f"NVRTC not available: {exc}")
    names = [n for n in mod.kernel_names if n not in ("fill", "fill_twice")]  # host-only bare aliases
    nvrtc.compile_source(KERNELS.read_text(), names, "sm_80", include_dirs=(host.KERNELS_DIR,))
    nvrtc.compile_source(DIVERGENT, ["early_exit", "warp_exit", "mixed"], "sm_80")


# ------------------------------------------------------------------------- build and cache
def test_compile_error_names_module_and_line():
    with pytest.raises(RuntimeError) as e:
        HostModule('extern "C" __global__ void k(float* x) {\n  x[0] = undefined_thing;\n}\n', name="broken_mod")
    msg = str(e.value)
    assert "broken_mod" in msg and "undefined_thing" in msg and "broken_mod.cu:2" in msg


def test_options_include_dirs_and_barriers_in_headers(tmp_path):
    (tmp_path / "helpers.cuh").write_text(textwrap.dedent("""
        #pragma once
        template <class T> __device__ T block_total(T v) {   // a barrier the scan must find here
            __shared__ T s[64];
            s[threadIdx.x] = v;
            __syncthreads();
            T acc = 0;
            for (unsigned k = 0; k < blockDim.x; ++k) acc += s[k];
            __syncthreads();
            return acc;
        }
    """))
    src = '#include "helpers.cuh"\n' \
          'extern "C" __global__ void total(const double* x, double* out) {\n' \
          '    out[blockIdx.x * blockDim.x + threadIdx.x] = SCALE * block_total(x[blockIdx.x * blockDim.x + threadIdx.x]);\n' \
          '}\n'
    m = HostModule(src, options=("-std=c++17", "-DSCALE=3", "--use_fast_math"), include_dirs=(tmp_path,),
                   name="with_headers")
    k = m.get_function("total")
    assert k.uses_barriers
    x = np.arange(128.0)
    out = np.zeros(128)
    k(2, 64, (x, out))
    np.testing.assert_array_equal(out, 3 * np.repeat(x.reshape(2, 64).sum(axis=1), 64))
    by_option = HostModule(src, options=("-I", str(tmp_path), "--define-macro=SCALE=1"), name="with_headers")
    assert by_option.library_path != m.library_path
    by_option.get_function("total")(2, 64, (x, out))
    np.testing.assert_array_equal(out, np.repeat(x.reshape(2, 64).sum(axis=1), 64))


def test_extern_shared_at_namespace_scope_is_rejected():
    with pytest.raises(RuntimeError, match="'extern __shared__' at namespace scope"):
        HostModule('extern __shared__ float s[];\nextern "C" __global__ void k(float* x) { x[0] = s[0]; }',
                   name="file_scope_shared")


def _run(code: str, env: dict) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, capture_output=True, text=True)


CACHE_PROBE = """
    import numpy as np
    from gpuad.runtime import host
    m = host.HostModule('extern "C" __global__ void add1(double* x, long long n) {'
                        ' long long i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] += 1; }',
                        name="cache_probe")
    x = np.zeros(5)
    m.get_function("add1")(1, 8, (x, 5))
    assert (x == 1).all()
    print(host.BUILD_COUNT, m.built, m.library_path, m.library_path.stat().st_mtime_ns)
"""


def test_build_cache_is_reused_across_processes(tmp_path):
    env = {"GPUAD_CACHE_DIR": str(tmp_path / "cache")}
    first = _run(CACHE_PROBE, env)
    assert first.returncode == 0, first.stderr
    second = _run(CACHE_PROBE, env)
    assert second.returncode == 0, second.stderr
    count1, built1, path1, mtime1 = first.stdout.split()
    count2, built2, path2, mtime2 = second.stdout.split()
    assert (count1, built1) == ("1", "True")
    assert (count2, built2) == ("0", "False")
    assert path1 == path2 and mtime1 == mtime2
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".build-")]


@pytest.mark.parametrize("cxx", ["/nonexistent/c++", None])
def test_missing_compiler_names_the_fix(tmp_path, cxx):
    env = {"GPUAD_CACHE_DIR": str(tmp_path), "PATH": ""}
    env["CXX"] = cxx or ""
    r = _run("""
        from gpuad.runtime.host import HostModule
        try:
            HostModule('extern "C" __global__ void k(float* x) {}', name="nocxx")
        except RuntimeError as e:
            print(e)
    """, env)
    assert r.returncode == 0, r.stderr
    assert "no C++ compiler found" in r.stdout and "apt-get install g++" in r.stdout and "CXX" in r.stdout


def test_same_module_in_process_does_not_rebuild(mod):
    before = host.BUILD_COUNT
    again = HostModule(KERNELS.read_text(), name_expressions=EXPRESSIONS, name="test_host_runtime")
    assert host.BUILD_COUNT == before and not again.built
    assert again.library_path == mod.library_path


# ---------------------------------------------------------------------------------- threads
def test_cpu_workers_env(monkeypatch):
    monkeypatch.setenv("GPUAD_NUM_THREADS", "3")
    assert cpu_workers() == 3
    monkeypatch.delenv("GPUAD_NUM_THREADS")
    assert 1 <= cpu_workers() <= (os.cpu_count() or 1)


def test_concurrent_launches_from_python_threads(mod, rng):
    k = mod.get_function("block_sum<double>")
    xs = [rng.standard_normal(20_000) for _ in range(4)]
    outs = [np.zeros(79) for _ in xs]
    errors = []

    def work(x, out):
        try:
            for _ in range(5):
                k(79, 256, (x, out, x.size))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=a) for a in zip(xs, outs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for x, out in zip(xs, outs):
        np.testing.assert_allclose(out, np.add.reduceat(x, np.arange(0, x.size, 256)), rtol=1e-12)


_PLACED = """
import ctypes, os, sys, time
import numpy as np
from gpuad.runtime.host import HostModule
getcpu = ctypes.CDLL(None).sched_getcpu
k = HostModule(open(sys.argv[1]).read(), name_expressions=["axpy_sin<double>"],
               name="test_host_runtime_placed").get_function("axpy_sin<double>")
x = np.ones(1000)
out = np.zeros(1000)
allowed = os.sched_getaffinity(0)
for cpu in sorted(allowed)[:2]:
    for _ in range(50):          # (until the caller stayed on cpu for the whole launch)
        os.sched_setaffinity(0, {cpu})        # moved there, then free to leave (it rarely does)
        os.sched_setaffinity(0, allowed)
        if getcpu() == cpu:
            k(4, 1, (x, out, 2.0, 1000))
            if getcpu() == cpu:
                break
    else:
        sys.exit("the caller never stayed on CPU %d" % cpu)
    assert np.allclose(out, 2.0 + np.sin(1.0))
    for _ in range(1000):        # (a new worker names itself once it first runs)
        tasks = [t for t in os.listdir("/proc/self/task")
                 if open("/proc/self/task/%s/comm" % t).read().strip() == "gpuad-kernels"]
        if len(tasks) == 2:      # (GPUAD_NUM_THREADS=3: the caller and two workers)
            break
        time.sleep(0.01)
    masks = [os.sched_getaffinity(int(t)) for t in tasks]
    print(cpu, sorted(allowed), len(tasks), [sorted(m) for m in masks])
    assert len(tasks) == 2 and all(m == allowed - {cpu} for m in masks)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
                    reason="placing threads needs Linux and two CPUs")
def test_kernel_workers_are_kept_off_the_callers_cpu():
    """host.h's Pool::place_workers: after a launch the kernels' worker threads may run on
    every CPU the caller may, except the one the caller ran on (woken threads otherwise
    landed on the caller's CPU and a launch ran on one core), for each CPU it ran on. In a
    fresh process, where this module's pool is the only one."""
    r = subprocess.run([sys.executable, "-c", _PLACED, str(KERNELS)], capture_output=True,
                       text=True, env={**os.environ, "GPUAD_NUM_THREADS": "3"}, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_launch_after_fork(mod):
    k = mod.get_function("axpy_sin<double>")
    x = np.ones(1000)
    out = np.zeros(1000)
    k(4, 1, (x, out, 2.0, 1000))  # the pool's threads exist now
    pid = os.fork()
    if pid == 0:  # child: the pool must be rebuilt, not waited on
        try:
            out[:] = 0
            k(4, 1, (x, out, 2.0, 1000))
            mod.get_function("block_sum<double>")(4, 256, (np.ones(1024), out, 1024))
            os._exit(0 if out[0] == 256.0 else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


# ------------------------------------------------------------------------------- ISA level
def test_isa_level_follows_the_cpu(monkeypatch):
    cxx, version = host._compiler()
    x86 = os.uname().machine in ("x86_64", "AMD64")
    have = host._cpu_features()
    top = ("x86-64-v4" if x86 and host._X86_64_V4 <= have else
           "x86-64-v3" if x86 and host._X86_64_V3 <= have else "baseline")
    levels = list(host.ISAS)
    for cap in ("auto", *levels):
        monkeypatch.setenv("GPUAD_HOST_ISA", cap)
        want = top if cap == "auto" else levels[min(levels.index(top), levels.index(cap))]
        assert host.host_isa() == want
        march = [f for f in host._flags(version, cxx) if f.startswith("-march")]
        known = subprocess.run([*cxx, *host.ISAS[want], "-x", "c++", "-E", "-"], input="",
                               capture_output=True).returncode == 0
        if known:
            assert march == list(host.ISAS[want]), (cap, march)
        else:   # an older compiler: the highest lower level it knows
            assert tuple(march) in [host.ISAS[lv] for lv in levels[:levels.index(want)]], march


def test_builds_for_every_level_of_this_cpu_agree():
    # The same kernels built for each lower level (what an older CPU gets, down to portable
    # code without -march) give the same numbers up to libmvec's error bound (4 ulp), in both
    # precisions.
    code = ("import numpy as np, gpuad.numpy as gnp\n"
            "x = np.linspace(0.05, 3.0, 1001)\n"
            "for dt in (np.float64, np.float32):\n"
            "    for f in (gnp.exp, gnp.log, gnp.sin, gnp.tanh):\n"
            "        print(repr(f(x.astype(dt)).astype(float).tolist()))\n"
            "    print(repr(gnp.power(x.astype(dt), x[::-1].astype(dt)).astype(float).tolist()))\n")
    levels = list(host.ISAS)
    runs = []
    for isa in levels[:levels.index(host.host_isa()) + 1]:
        env = dict(os.environ, GPUAD_HOST_ISA=isa, PYTHONPATH=str(REPO))
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, cwd=REPO, timeout=900)
        assert r.returncode == 0, r.stderr[-2000:]
        runs.append([np.array(eval(line)) for line in r.stdout.splitlines()])
    for dt in (np.float64, np.float32):
        x = np.linspace(0.05, 3.0, 1001).astype(dt).astype(float)
        refs = [np.exp(x), np.log(x), np.sin(x), np.tanh(x), np.power(x, x[::-1])]
        for i, ref in enumerate(refs):
            for run in runs:
                got = run[i + (5 if dt == np.float32 else 0)]
                np.testing.assert_allclose(got, ref, rtol=4 * np.finfo(dt).eps, atol=1e-300)


def test_cached_module_loads_without_scanning_headers(mod, monkeypatch):
    """A build records which kernels run as fibers in the library (gpuad_fibers_<i>): a
    process that finds the module in the cache reads no header, and still knows."""
    def scan(_texts):
        raise AssertionError("a cached module was scanned for barriers")
    monkeypatch.setattr(host.cxx, "barrier_names", scan)
    again = HostModule(KERNELS.read_text(), name_expressions=EXPRESSIONS, name="test_host_runtime")
    assert not again.built and again.library_path == mod.library_path
    assert again.get_function("warp_sum<double>").uses_barriers
    assert again.get_function("block_sum<float>").uses_barriers
    assert not again.get_function("axpy_sin<double>").uses_barriers


def test_host_header_leaves_out_the_special_functions():
    """libstdc++'s C++17 <cmath> parses std::cyl_bessel_i & co. (60% of a module's header
    time); host.h skips them, since no kernel can use them (NVRTC has none)."""
    code = ("#ifdef __STDCPP_MATH_SPEC_FUNCS__\n#error the special functions were parsed\n#endif\n"
            'extern "C" __global__ void nothing(double* x) { x[0] = sin(x[0]); }\n')
    m = HostModule(code, name="test_host_header_special_functions")
    x = np.array([1.0])
    m.get_function("nothing")(1, 1, (x,))
    assert x[0] == np.sin(1.0)


# ------------------------------------------------------------------------ libmvec loops
def _simd_functions() -> list[tuple[str, int]]:
    """(name, arity) of every libm function kernels/gpuad/host.h declares with SIMD variants."""
    import re
    lines = (REPO / "kernels" / "gpuad" / "host.h").read_text().splitlines()
    text = "\n".join(ln for ln in lines if not ln.startswith("#define"))
    return [(n, int(k)) for k, n in re.findall(r"\bGPUAD_SIMD([12])\((\w+)\)", text)]


@pytest.mark.skipif(not host.VECTOR_MATH[0], reason="no glibc >= 2.35 libmvec on x86-64 here: "
                    "the host build declares no SIMD variants")
def test_every_libm_loop_vectorises_in_float_and_double():
    # A float loop over expf once called the scalar function: the header declared expexp, ...
    # (a token-pasting slip), so float32 transcendental kernels ran 4-30x slower than NumPy's.
    # Every declared function, in both precisions, must reach libmvec's vector variant.
    funcs = _simd_functions()
    assert len(funcs) >= 20, funcs
    code = "".join(
        f"template <class T> __global__ void k_{n}(const T* __restrict__ x, T* __restrict__ out, "
        f"long long n) {{ GPUAD_LOOP(i, n) out[i] = {n}({', '.join(['x[i]'] * k)}); }}\n"
        for n, k in funcs)
    exprs = [f"k_{n}<{t}>" for n, _ in funcs for t in ("float", "double")]
    m = HostModule(code, name_expressions=exprs, name="test_libm_loops")
    symbols = set(re.findall(rb"_ZGV[a-z]N\d+v+_(\w+?)\x00", m.library_path.read_bytes()))
    want = {s.encode() for n, _ in funcs for s in (n, n + "f")}
    assert want <= symbols, sorted(want - symbols)
    x = np.linspace(0.1, 0.9, 37)
    for n, k in funcs:     # and the vector variants compute the functions (libmvec: <= 4 ulp)
        ref = getattr(np, {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "atanh": "arctanh",
                           "atan2": "arctan2", "pow": "power"}.get(n, n), None)
        for dt in (np.float32, np.float64):
            out = np.empty_like(x, dt)
            m.get_function(f"k_{n}<{'float' if dt == np.float32 else 'double'}>")(
                (1,), (64,), (x.astype(dt), out, len(x)))
            if ref is None:   # erf: not in NumPy
                import math
                want_v = np.array([math.erf(v) for v in x.astype(dt).astype(float)])
            else:
                want_v = ref(*[x.astype(dt).astype(float)] * k)
            np.testing.assert_allclose(out, want_v, rtol=4 * np.finfo(dt).eps, atol=0, err_msg=f"{n} {dt}")


@pytest.mark.skipif(not host.VECTOR_MATH[0], reason="no glibc >= 2.35 libmvec on x86-64 here: "
                    "the host build declares no SIMD variants")
def test_a_sin_and_cos_of_one_argument_vectorise_in_double():
    # GCC fused the pair into one scalar sincos (cexpi, no vector variant): the dual kernels
    # of sin and cos, which take both at each element, ran 3x slower than with two vector
    # calls (host.h, -fno-builtin-sin/cos). Their vector variants are called, and compute.
    code = ("template <class T> __global__ void k(const T* __restrict__ x, T* __restrict__ out, "
            "long long n) { GPUAD_LOOP(i, n) { out[i] = sin(x[i]); out[n + i] = cos(x[i]); } }\n")
    m = HostModule(code, name_expressions=["k<double>"], name="test_sincos_loop")
    symbols = set(re.findall(rb"_ZGV[a-z]N\d+v+_(\w+?)\x00", m.library_path.read_bytes()))
    assert {b"sin", b"cos"} <= symbols, sorted(symbols)
    x = np.linspace(-3.0, 3.0, 37)
    out = np.empty(2 * len(x))
    m.get_function("k<double>")((1,), (64,), (x, out, len(x)))
    np.testing.assert_allclose(out, np.concatenate([np.sin(x), np.cos(x)]),
                               rtol=4 * np.finfo(float).eps, atol=4 * np.finfo(float).eps)
