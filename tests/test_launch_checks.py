"""Launches that cannot corrupt memory: the host launch paths (C and Python) and the CUDA
path's argument checker refuse, before anything runs, what a kernel would misuse."""
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

from gpuad import runtime
from gpuad.runtime import checks, cxx
from gpuad.runtime.host import HostModule

REPO = Path(__file__).resolve().parent.parent

SRC = r"""
// out[i] = 2 x[i] for i < n, one element per thread
extern "C" __global__ void twice(const double* x, double* out, long long n) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = 2 * x[i];
}
// out = 2 x, each thread's element staged in dynamic shared memory
extern "C" __global__ void staged(const double* x, double* out) {
    extern __shared__ double s[];
    s[threadIdx.x] = x[blockIdx.x * blockDim.x + threadIdx.x];
    out[blockIdx.x * blockDim.x + threadIdx.x] = 2 * s[threadIdx.x];
}
template <class T> __global__ void fill(T* __restrict__ y, const T* const v, int n) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] = *v;
}
"""


@pytest.fixture(scope="module")
def mod():
    return HostModule(SRC, name_expressions=("fill<float>",), name="launch_checks")


@pytest.fixture(params=["C", "Python"])
def call(request, mod):
    """A kernel's launch through the C launch path or through the Python one."""
    def get(name):
        k = mod.get_function(name)
        if request.param == "C":
            assert k.call is not k._call_py, "the C launch path is not built here"
            return k.call
        return k._call_py
    return get


# ------------------------------------------------------------------------- arrays on the host
def _writeable_broadcast(n):
    # What np.broadcast_to hands out read-only, as_strided hands out writeable.
    return np.lib.stride_tricks.as_strided(np.zeros(1), (n,), (0,))


@pytest.mark.parametrize("out,what", [
    (lambda: _readonly(np.zeros(4)), "read-only"),
    (lambda: _writeable_broadcast(4), "broadcast view"),
    (lambda: np.zeros(8)[::2], "not C-contiguous"),
    (lambda: np.zeros((2, 2)).T, "not C-contiguous"),
])
def test_written_pointer_refuses_arrays_it_cannot_write(call, out, what):
    out = out()
    before = out.copy()
    with pytest.raises(ValueError) as e:
        call("twice")(1, 4, (np.ones(4), out, 4))
    msg = str(e.value)
    assert "kernel 'twice' argument 1 (double* out)" in msg and what in msg
    assert "pass " in msg                                  # the way out
    np.testing.assert_array_equal(out, before)             # nothing ran


@pytest.mark.parametrize("x,what", [
    (lambda: np.arange(8.0)[::2], "not C-contiguous"),
    (lambda: np.arange(8.0)[::-2], "not C-contiguous"),
    (lambda: np.broadcast_to(np.ones(1), (4,)), "broadcast view"),
])
def test_read_pointer_refuses_views_it_would_misread(call, x, what):
    out = np.full(4, -1.0)
    with pytest.raises(ValueError, match=rf"argument 0 \(const double\* x\) .*{what}.*ascontiguousarray"):
        call("twice")(1, 4, (x(), out, 4))
    assert (out == -1.0).all()


def test_read_pointer_takes_readonly_and_template_const_pointers(call):
    x = _readonly(np.arange(4.0))
    out = np.zeros(4)
    call("twice")(1, 4, (x, out, 4))                       # const double*: read-only is fine
    np.testing.assert_array_equal(out, 2 * np.arange(4.0))
    y = np.zeros(5, np.float32)
    call("fill<float>")(1, 2, (y, _readonly(np.array([3.0], np.float32)), np.int32(5)))
    assert (y == 3.0).all()                                # const T* const v: read-only is fine
    with pytest.raises(ValueError, match=r"argument 0 \(float\* y\) is read-only"):
        call("fill<float>")(1, 2, (_readonly(y), y[:1], np.int32(5)))


def _readonly(a):
    a.flags.writeable = False
    return a


def test_broadcast_buffer_written_many_times_is_refused_not_a_crash():
    """The case that aborted the process with heap corruption: a 1-element buffer, broadcast
    to 4 elements and writeable, given as the output (run apart: a crash must not take
    pytest with it)."""
    r = _child("""
        out = np.lib.stride_tricks.as_strided(np.zeros(1), (4,), (0,))
        for k in (twice.call, twice._call_py):
            try:
                k(1, 4, (np.ones(4), out, 4))
                print("launched")
            except ValueError as e:
                print("refused:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("refused:") == 2 and "broadcast view" in r.stdout


# ---------------------------------------------------------------------- launch configuration
@pytest.mark.parametrize("grid,block,smem,what", [
    (2**32 + 1, 4, 0, "grid.x is 4294967297, above CUDA's limit 2147483647"),
    (2**31, 1, 0, "grid.x is 2147483648"),
    ((1, 65536), 4, 0, "grid.y is 65536, above CUDA's limit 65535"),
    ((1, 1, 70000), 4, 0, "grid.z is 70000"),
    (1, 2048, 0, "block.x is 2048, above CUDA's limit 1024"),
    (1, (1, 1, 65), 0, "block.z is 65, above CUDA's limit 64"),
    (1, (64, 32), 0, "a block of 2048 threads is above CUDA's limit of 1024"),
    (0, 4, 0, "grid.x is 0, below 1"),
    (-1, 4, 0, "grid.x is -1, below 1"),
    (1, 4, -8, "shared_mem is -8 bytes, below 0"),
    (1, 4, 2**40, "shared_mem is 1099511627776 bytes, above gpuad's maximum 232448"),
])
def test_launch_configuration_outside_cuda_limits(call, grid, block, smem, what):
    out = np.full(4, -1.0)
    with pytest.raises(checks.LaunchConfigError) as e:
        call("twice")(grid, block, (np.ones(4), out, 4), smem)
    assert "invalid launch configuration for kernel 'twice'" in str(e.value) and what in str(e.value)
    assert isinstance(e.value, ValueError) and isinstance(e.value, RuntimeError)
    assert (out == -1.0).all()
    # The same error on the GPU path: CheckedKernel runs the same check before CuPy sees it.
    launched = []
    k = checks.CheckedKernel(lambda *a, **kw: launched.append(a), "twice", None)
    with pytest.raises(checks.LaunchConfigError) as e2:
        k(grid, block, (), shared_mem=smem)
    assert str(e2.value) == str(e.value) and not launched


def test_huge_shared_memory_is_an_error_and_the_thread_stays_usable():
    """An unchecked allocation of the requested shared memory segfaulted, and so did later
    launches on the same thread (run apart: a crash must not take pytest with it)."""
    r = _child("""
        rev = m.get_function("staged")
        x = np.arange(64.0); out = np.zeros(64)
        for k in (rev.call, rev._call_py):
            try:
                k(1, 64, (x, out), 2**62)
            except ValueError as e:
                print("refused:", e)
            k(1, 64, (x, out), 64 * 8)
            print("ok" if (out == 2 * x).all() else "wrong")
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("refused:") == 2 and r.stdout.count("ok") == 2


SHIM = r"""
#include <dlfcn.h>
#include <stdlib.h>
// aligned_alloc that fails for large requests while GPUAD_TEST_FAIL_ALLOC is set
extern "C" void* aligned_alloc(size_t align, size_t n) {
    static auto real = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    return n > 100000 && getenv("GPUAD_TEST_FAIL_ALLOC") ? nullptr : real(align, n);
}
"""


def test_shared_memory_allocation_failure_is_reported(tmp_path):
    """Below the documented maximum the allocation can still fail (made to, here); that is the
    kernel's error, not a crash, and the next launch on the thread allocates again."""
    (tmp_path / "shim.cpp").write_text(SHIM)
    subprocess.run(["g++", "-shared", "-fPIC", "-o", str(tmp_path / "shim.so"), str(tmp_path / "shim.cpp"),
                    "-ldl"], check=True)
    r = _child("""
        import os
        from gpuad.runtime.checks import MAX_SHARED_MEM
        rev = m.get_function("staged")
        x = np.arange(64.0); out = np.zeros(64)
        import threading

        def run(k):  # on a fresh thread: its shared memory is allocated on first use
            os.environ["GPUAD_TEST_FAIL_ALLOC"] = "1"
            try:
                k(1, 64, (x, out), MAX_SHARED_MEM)
                print("launched")
            except RuntimeError as e:
                print("failed:", e)
            del os.environ["GPUAD_TEST_FAIL_ALLOC"]
            k(1, 64, (x, out), MAX_SHARED_MEM)
            print("ok" if (out == 2 * x).all() else "wrong")

        for k in (rev.call, rev._call_py):
            t = threading.Thread(target=run, args=(k,))
            t.start()
            t.join()
    """, GPUAD_NUM_THREADS="1", LD_PRELOAD=str(tmp_path / "shim.so"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("failed: cannot allocate 232448 bytes of dynamic shared memory for kernel "
                          "'staged'") == 2, r.stdout
    assert r.stdout.count("ok") == 2, r.stdout


def _child(body: str, **env) -> subprocess.CompletedProcess:
    code = "import numpy as np\nfrom gpuad.runtime.host import HostModule\n" \
           f"m = HostModule({SRC!r}, name_expressions=('fill<float>',), name='launch_checks')\n" \
           "twice = m.get_function('twice')\n" + textwrap.dedent(body)
    full = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                          timeout=300)


# ---------------------------------------------------------------- the CUDA path's checker
class FakeCupyArray:
    """What check_args reads of a cupy.ndarray (CuPy arrays have no read-only flag)."""

    def __init__(self, a):
        self.dtype, self.shape, self.strides, self.size = a.dtype, a.shape, a.strides, a.size
        self.flags = types.SimpleNamespace(c_contiguous=a.flags.c_contiguous,
                                           f_contiguous=a.flags.f_contiguous, owndata=True)


def dev(a):
    return isinstance(a, FakeCupyArray)


KERNELS = r"""
template <class T>
__global__ void axpy(const T* __restrict__ x, T* __restrict__ y, T a, long long n, int flag, bool on) {}
struct Params { double a, b; };
extern "C" __global__ void with_struct(const __grid_constant__ Params p, float* out, unsigned char c) {}
"""


def axpy(T="double"):
    return cxx.params_of(cxx.kernel_signatures(KERNELS), f"axpy<{T}>")


def good(T=np.float64):
    return [FakeCupyArray(np.zeros(4, T)), FakeCupyArray(np.zeros(4, T)), T(2), 4, np.int32(1), True]


@pytest.mark.parametrize("index,arg,exc,expect", [
    (0, np.zeros(4), TypeError, "is a NumPy array: CuPy passes a NumPy array by value"),
    (0, np.zeros(1), TypeError, "is a NumPy array"),
    (0, 3.0, TypeError, "a value where the kernel expects a pointer"),
    (0, np.uint64(7), TypeError, "a value where the kernel expects a pointer"),
    (0, FakeCupyArray(np.zeros(4, np.float32)), TypeError, "the kernel reads 8-byte floating elements"),
    (0, FakeCupyArray(np.zeros(8)[::2]), ValueError, "is not C-contiguous"),
    (1, FakeCupyArray(np.broadcast_to(np.zeros(1), (4,))), ValueError, "is a broadcast view"),
    (1, FakeCupyArray(np.zeros((2, 2)).T), ValueError, "is not C-contiguous"),
    (2, FakeCupyArray(np.zeros((), np.float64)), TypeError, "which CuPy passes as a pointer"),
    (2, np.zeros(()), TypeError, "which CuPy passes as its raw bytes"),
    (2, np.float32(2), TypeError, "numpy.float32 (4-byte floating); the parameter is a 8-byte floating"),
    (2, 2, TypeError, "Python int (passed as 8-byte long long); the parameter is a 8-byte floating"),
    (2, True, TypeError, "Python bool"),
    (3, 4.0, TypeError, "Python float"),
    (3, None, TypeError, "is None"),
    (4, 1, TypeError, "Python int (passed as 8-byte long long); the parameter is a 4-byte integer; "
                      "pass np.int32(x)"),
    (4, True, TypeError, "Python bool"),
    (4, np.float32(1), TypeError, "numpy.float32"),
    (5, 1, TypeError, "the parameter is a 1-byte bool"),
])
def test_cuda_argument_checks(index, arg, exc, expect):
    params = axpy()
    args = good()
    check = lambda a: checks.check_args("axpy<double>", params, tuple(a), device_array=dev)
    check(args)                                         # the good tuple passes
    args[index] = arg
    with pytest.raises(exc) as e:
        check(args)
    msg = str(e.value)
    assert f"kernel 'axpy<double>' argument {index} ({params[index].decl}" in msg, msg
    assert expect in msg, msg


def test_cuda_checker_accepts_what_cuda_passes_right():
    params = axpy()
    a = good()
    a[0] = None                                         # a null pointer
    checks.check_args("axpy<double>", params, tuple(a), device_array=dev)
    a[0] = np.uint64(0)                                 # the engine's null pointer on a GPU
    a[2], a[3], a[4], a[5] = 2.0, np.uint64(4), np.uint32(1), np.bool_(False)
    checks.check_args("axpy<double>", params, tuple(a), device_array=dev)
    a[3] = 2**63 + 1                                    # CuPy: uint64
    checks.check_args("axpy<double>", params, tuple(a), device_array=dev)
    f32 = axpy("float")                                 # the template, on float
    assert f32[1].type == "float*" and not f32[1].const and f32[0].const
    checks.check_args("axpy<float>", f32, tuple(good(np.float32)), device_array=dev)
    with pytest.raises(TypeError, match=r"argument 0 \(const T\* __restrict__ x, here const float\*\)"):
        checks.check_args("axpy<float>", f32, tuple(good(np.float64)), device_array=dev)


def test_cuda_checker_counts_and_leaves_unknown_types_alone():
    sig = cxx.kernel_signatures(KERNELS)["with_struct"]
    struct = np.zeros(1, [("a", "f8"), ("b", "f8")])[0]
    checks.check_args("with_struct", sig.params, (struct, FakeCupyArray(np.zeros(2, np.float32)), np.uint8(1)),
                      device_array=dev)
    with pytest.raises(TypeError, match=r"kernel 'with_struct' takes 3 arguments \(const __grid_constant__ "
                                        r"Params p, float\* out, unsigned char c\), got 2"):
        checks.check_args("with_struct", sig.params, (struct, None), device_array=dev)


def test_cuda_checker_with_numpy_arrays_standing_in_for_device_arrays():
    params = axpy()
    x, y = np.zeros(4), np.zeros(4)
    checks.check_args("axpy<double>", params, (x, y, 2.0, 4, np.int32(0), False),
                      device_array=lambda a: isinstance(a, np.ndarray))
    y.flags.writeable = False                            # NumPy has read-only arrays; CuPy has not
    with pytest.raises(ValueError, match=r"argument 1 \(T\* __restrict__ y, here double\*\) is read-only"):
        checks.check_args("axpy<double>", params, (x, y, 2.0, 4, np.int32(0), False),
                          device_array=lambda a: isinstance(a, np.ndarray))


def test_checked_kernel_checks_before_cupy_launches():
    launched = []

    def raw(grid, block, args, shared_mem=0, **kw):
        launched.append((grid, block, args, shared_mem, kw))

    k = checks.CheckedKernel(raw, "axpy<double>", axpy())
    args = tuple(good())
    with pytest.raises(TypeError):
        k((1,), (4,), (np.zeros(4), *args[1:]))          # a NumPy array: refused, never launched
    assert not launched
    # CuPy's own default is checked too: FakeCupyArray is not a cupy.ndarray, so this test
    # checks with device_array through check_args above; here only the launch shape matters.
    k.params = None
    k(2, (4, 2), args, shared_mem=16, stream="s")
    assert launched == [((2, 1, 1), (4, 2, 1), args, 16, {"stream": "s"})]


def test_runtime_wraps_cuda_kernels(monkeypatch):
    """get_kernel(..., "cuda") hands out a CheckedKernel over CuPy's RawKernel, with the
    kernel's parameters read from its source (CuPy itself faked: there is no device here)."""
    made = []

    class RawModule:
        def __init__(self, **kw):
            made.append(kw)

        def get_function(self, name):
            return lambda *a, **kw: None

    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(RawModule=RawModule, ndarray=FakeCupyArray))
    monkeypatch.setattr(runtime, "_LOADED", {})
    k = runtime.get_kernel("elementwise.cu", "unary_fwd<ops::Sin, double>", "cuda")
    assert isinstance(k, checks.CheckedKernel) and made
    assert [p.type for p in k.params] == ["const double*", "double*", "long long"]
    x = FakeCupyArray(np.zeros(4))
    k((1,), (256,), (x, FakeCupyArray(np.zeros(4)), 4))
    with pytest.raises(ValueError, match=r"kernel 'unary_fwd<ops::Sin, double>' argument 1 "
                                         r"\(T\* __restrict__ out, here double\*\) is not C-contiguous"):
        k((1,), (256,), (x, FakeCupyArray(np.zeros(8)[::2]), 4))
    with pytest.raises(TypeError, match=r"argument 0 .* is a NumPy array"):
        k((1,), (256,), (np.zeros(4), x, 4))


ENGINE_RUN = r"""
import re
import sys
import numpy as np
import gpuad, gpuad.numpy as gnp
from gpuad import runtime
from gpuad.runtime import checks, cxx
from gpuad.testing import check_grads
from op_table import TABLE

real, sigs, seen = runtime.get_kernel, {}, set()


def get_kernel(source, name, device):
    k = real(source, name, device)
    if source not in sigs:
        # A source's kernels and those of the .cu files it includes (complex.cu instantiates
        # elementwise.cu's templates on Complex<T>).
        text = (runtime.kernel_dir() / source).read_text()
        for inc in re.findall(r'#include "([\w.]+\.cu)"', text):
            text = (runtime.kernel_dir() / inc).read_text() + text
        sigs[source] = cxx.kernel_signatures(text)
    params = cxx.params_of(sigs[source], name)
    assert params is not None and all(p.size or p.pointer for p in params), name

    def checked(grid, block, args, shared_mem=0):
        checks.launch_config(name, grid, block, shared_mem)
        checks.check_args(name, params, args, device_array=lambda a: isinstance(a, np.ndarray))
        seen.add(name)
        return k(grid, block, args, shared_mem)
    return checked


runtime.get_kernel = get_kernel      # before any kernel is fetched (and cached by a fast path)
rng = np.random.default_rng(0)
for row in TABLE:
    shapes = max(row.shapes, key=lambda s: sum(map(len, s)))
    gen = row.domain or (lambda r, s: r.uniform(-2, 2, size=s))
    args = [np.asarray(gen(rng, s), dtype=np.float64) for s in shapes]
    row.fun(*[a.astype(np.float32) for a in args])
    check_grads(row.fun, args, order=row.order, modes=("fwd", "rev"))
x = rng.uniform(0.5, 1.5, 7)
gpuad.hvp(lambda x: gnp.sum(gnp.sin(x) * gnp.exp(x) / x), x, rng.standard_normal((3, 7)), batched=True)
print(len(seen))
"""


def test_cuda_checker_accepts_every_launch_the_engine_makes():
    """The engine's launches (run here on the CPU, over a shape of every row of the op table
    and a batched HVP) all pass the CUDA path's checker, NumPy arrays standing in for device
    arrays: on a GPU the checks would refuse no correct program. (In a child process: the
    engine caches the kernels it fetches.)"""
    r = subprocess.run([sys.executable, "-c", ENGINE_RUN], capture_output=True, text=True, timeout=900,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])})
    assert r.returncode == 0, r.stderr[-3000:]
    assert int(r.stdout.split()[-1]) > 20
