"""The C launch path (gpuad/runtime/fastcall.cpp) and the engine's fast paths built on it.

Each is checked against the Python path it stands in for: the same kernel, the same bits.
The reference result comes from the host launcher with its C entry points switched off.
Host-only by nature: the C entry points belong to the host launcher, and CuPy arrays never
reach them (tests/test_gpu_path.py shows a GPU sweep does not touch them).
"""
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad.primitives import elementwise as E
from gpuad.runtime import host
from gpuad.runtime.launch import HOST
from gpuad.runtime.host import HostModule

KERNELS = Path(__file__).parent / "kernels" / "host_runtime.cu"
REPO = Path(__file__).resolve().parent.parent


def test_the_c_launch_path_is_built_here():
    # CI and this machine have Python's headers: the fast paths below are really exercised.
    assert host.fastcall_status().startswith("on"), host.fastcall_status()
    assert host.fastcall() is not None


@pytest.fixture(scope="module")
def params_kernel():
    m = HostModule(KERNELS.read_text(), name="test_fastpath")
    return m.get_function("params")


SCALARS = [
    (np.float32(1.25), 2.5, np.int32(-3), np.uint32(4_000_000_000), -(2**40), True,
     np.uint64(2**63 + 2**20), np.int16(-7)),
    (np.float32(-0.0), np.float64(-1e300), np.uint32(1), np.int32(2), np.int64(3), np.bool_(False),
     2**64 - 1, np.uint16(1)),
    (np.float32(np.inf), float("nan"), np.int32(2**31 - 1), np.uint32(0), 2**63 - 1, False, 0,
     np.int16(-(2**15))),
]


@pytest.mark.parametrize("scalars", SCALARS)
@pytest.mark.parametrize("x", [np.array([2.5], np.float32), None])
def test_c_and_python_launch_paths_pass_the_same_arguments(params_kernel, scalars, x):
    assert params_kernel.call is not params_kernel._call_py
    outs = []
    for call in (params_kernel.call, params_kernel._call_py):
        out = np.zeros(9)
        call(1, 1, (x, out, *scalars))
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_c_launch_path_hands_the_unusual_to_python(params_kernel):
    out = np.zeros(9)
    # A float16 array for const float*: Python's check names the argument and the type.
    with pytest.raises(TypeError, match="argument 0.*const float.*float16"):
        params_kernel(1, 1, (np.zeros(1, np.float16), out, *SCALARS[0]))
    # A 3-tuple grid and a keyword: not the C path's shapes, still launched (by Python).
    params_kernel((1, 1, 1), (1, 1, 1), (None, out, *SCALARS[0]), shared_mem=0)
    assert out[0] == 1.25
    # A byte-swapped array is refused, not misread.
    with pytest.raises(TypeError, match="argument 1"):
        params_kernel(1, 1, (None, np.zeros(9, ">f8"), *SCALARS[0]))
    # The kernel's own error arrives as the Python path raises it.
    with pytest.raises(RuntimeError, match="invalid launch configuration.*'params'"):
        params_kernel(1, 2048, (None, out, *SCALARS[0]))
    params_kernel(1, 1, (None, out, *SCALARS[1]))      # and the kernel is usable after it
    assert out[1] == -1e300


# ------------------------------------------------------------------ the C elementwise paths

def _launchers(template):
    return [HOST.kernel(E.SOURCE, template.format(T=t)) for t in ("double", "float")]


def test_c_fast_paths_decline_what_they_do_not_cover():
    fc = host.fastcall()
    kd, kf = _launchers("unary_fwd<ops::Sin, {T}>")
    x = np.linspace(-1, 1, 12)
    assert fc.unary_fwd(kd, kf, x[::2]) is None                   # strided
    assert fc.unary_fwd(kd, kf, x.astype(">f8")) is None          # byte-swapped
    assert fc.unary_fwd(kd, kf, x.astype(np.float16)) is None     # no kernel for it
    assert fc.unary_fwd(kd, kf, x.tolist()) is None               # not an array
    for dt in (np.float64, np.float32):
        xd = x.astype(dt)
        out = fc.unary_fwd(kd, kf, xd)
        assert out.dtype == dt
        np.testing.assert_array_equal(out, _general(E.PRIMS["sin"].impl, xd))
        np.testing.assert_allclose(out, np.sin(xd), rtol=4 * np.finfo(dt).eps)
    bd, bf = _launchers("binary_fwd<ops::Multiply, {T}>")
    a, b = x.reshape(3, 4), np.arange(4.0)
    assert fc.binary_fwd(bd, bf, a, b) is None                    # broadcasting
    assert fc.binary_fwd(bd, bf, a, b.astype(np.float32)) is None  # mixed dtypes
    np.testing.assert_array_equal(fc.binary_fwd(bd, bf, a, np.asarray(2.0)), a * 2)
    np.testing.assert_array_equal(fc.binary_fwd(bd, bf, np.asarray(2.0), a), a * 2)
    vd, vf = _launchers("binary_vjp<ops::Multiply, {T}>")
    g = np.ones((3, 4))
    # x of shape (4,) wants a cotangent: a sum would have to follow, so not here.
    assert fc.binary_vjp(vd, vf, g, (b, a), (True, False), [None, None]) is None
    gx, gy = fc.binary_vjp(vd, vf, g, (a, np.asarray(3.0)), (True, False), [None, None])
    np.testing.assert_array_equal(gx, np.full((3, 4), 3.0))
    assert gy is None
    uv = _launchers("unary_vjp<ops::Sin, {T}, 1>")
    assert fc.unary_vjp(*uv, g, (a,), (True,), [np.ones(12)]) is None   # a buffer of another shape
    buf = np.ones((3, 4))
    (gx,) = fc.unary_vjp(*uv, g, (a,), (True,), [buf])
    assert gx is buf                                               # added into, in place
    np.testing.assert_allclose(buf, 1 + np.cos(a), rtol=4e-16)
    with pytest.raises(TypeError, match="takes 6 arguments"):
        fc.unary_vjp(*uv, g)


@contextlib.contextmanager
def _c_paths_off():
    saved, HOST.fast = HOST.fast, None
    try:
        yield
    finally:
        HOST.fast = saved


def _general(fun, *args):
    with _c_paths_off():              # the host launcher without its C entry points
        return fun(*args)


PROGRAMS = {
    "chain": lambda x: gnp.sum(gnp.tanh(gnp.sin(x) * 1.5 - x / 3.0) ** 3.0),
    "fan-out": lambda x: gnp.sum(gnp.sin(x) * gnp.cos(x) + gnp.exp(x) * x),
    "x times x": lambda x: gnp.sum(gnp.sin(x * x + gnp.maximum(x, x))),
    "constants": lambda x: gnp.sum(2.0 - x * np.float64(0.5) + x ** 2 / (1.0 + x * x)),
    "broadcast": lambda x: gnp.sum(gnp.sin(x)[:, None] * gnp.cos(x)[None, :]),
    "strided": lambda x: gnp.sum(gnp.exp(x[::-1]) * x[::-1]),
}


@pytest.fixture
def fast_vjps(monkeypatch):
    """Counts the reverse nodes the C fast paths handled."""
    taken = []
    real = HOST.fast

    class Counting:
        def __getattr__(self, name):
            fn = getattr(real, name)

            def counted(*args):
                r = fn(*args)
                if r is not None and name.endswith("_vjp"):
                    taken.append(name)
                return r
            return counted
    monkeypatch.setattr(HOST, "fast", Counting())
    return taken


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(PROGRAMS))
@pytest.mark.parametrize("n", [0, 1, 10, 70_000])
def test_fast_and_general_paths_agree_bit_for_bit(name, n, dtype, fast_vjps):
    f = PROGRAMS[name]
    n = min(n, 600) if name == "broadcast" else n
    x = np.random.default_rng(n).uniform(0.1, 0.9, n).astype(dtype)
    gpuad.value_and_grad(f)(x)        # a kernel joins its C path once it has been built
    del fast_vjps[:]
    v, g = gpuad.value_and_grad(f)(x)
    # The fast paths ran where they apply, and not on strided views (of more than 1 element).
    if name != "strided":
        assert fast_vjps
    elif n > 1:
        assert not fast_vjps
    del fast_vjps[:]
    v0, g0 = _general(gpuad.value_and_grad(f), x)
    assert not fast_vjps
    assert g.dtype == dtype and g.shape == x.shape
    np.testing.assert_array_equal(g, g0)
    np.testing.assert_array_equal(v, v0)


def test_fast_path_gradient_is_right():
    # Not only the same as the general path: the right number (a NumPy formula).
    x = np.random.default_rng(1).uniform(-1, 1, 50)
    g = gpuad.grad(PROGRAMS["fan-out"])(x)
    np.testing.assert_allclose(g, np.cos(2 * x) + np.exp(x) * (1 + x), rtol=1e-14)
    g = gpuad.grad(PROGRAMS["x times x"])(x)
    np.testing.assert_allclose(g, np.cos(x * x + x) * (2 * x + 1), rtol=1e-14)


def test_fast_path_does_not_touch_what_it_does_not_own():
    # Cotangents are added in place only into buffers the sweep made: never into the user's
    # array or a value saved for another node.
    x = np.random.default_rng(2).uniform(-1, 1, 8)
    x0 = x.copy()
    c = np.full(8, 0.5)
    c0 = c.copy()
    g = gpuad.grad(lambda x: gnp.sum(gnp.sin(x * c) + x * c + gnp.cos(x)))(x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(c, c0)
    np.testing.assert_allclose(g, c * np.cos(x * c) + c - np.sin(x), rtol=1e-15)


def test_second_order_is_unchanged_by_the_fast_paths():
    x = np.random.default_rng(3).uniform(-1, 1, 6)
    f = PROGRAMS["chain"]
    h = gpuad.hessian(f)(x)
    np.testing.assert_array_equal(h, _general(gpuad.hessian(f), x))
    gpuad.check_grads(f, (x,), order=2)


def test_without_the_c_path_everything_still_runs():
    code = ("import numpy as np, gpuad, gpuad.numpy as gnp\n"
            "from gpuad.runtime import host\n"
            "print(host.fastcall_status())\n"
            "x = np.linspace(-1, 1, 10)\n"
            "g = gpuad.grad(lambda x: gnp.sum(gnp.sin(x) * 1.01 * x))(x)\n"
            "print(repr(g.tolist()))\n")
    env = dict(os.environ, GPUAD_FASTCALL="0", PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr
    status, g = r.stdout.strip().splitlines()
    assert status == "off (GPUAD_FASTCALL=0)"
    x = np.linspace(-1, 1, 10)
    np.testing.assert_array_equal(eval(g), gpuad.grad(lambda x: gnp.sum(gnp.sin(x) * 1.01 * x))(x))
