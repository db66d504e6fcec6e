"""User-defined primitives from CUDA source (run on the CPU through the host build),
custom_vjp / custom_jvp, check_primitive, and the custom_stencil example."""
import pathlib
import sys

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad import Launch, custom_primitive
from gpuad.testing import check_grads, check_primitive
from gpuad import check_support

from _xp import close as _close


def close(xp, got, want, rtol=1e-7, atol=0.0):
    _close(got, want, xp, rtol=rtol, atol=atol)

# Several variants live in one source so that each set of instantiations is built once.
SRC = r"""
#define IDX long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x
// y = x^3
template <class T> __global__ void cube_fwd(const T* x, T* y, long long n) {
    IDX; if (i < n) y[i] = x[i] * x[i] * x[i];
}
// ty[l] = 3 x^2 t[l]
template <class T> __global__ void cube_jvp(const T* x, const T* t, T* ty, long long n,
                                            long long lanes) {
    IDX; if (i >= n) return;
    T d = 3.0 * x[i] * x[i];
    for (long long l = 0; l < lanes; ++l) ty[l * n + i] = d * t[l * n + i];
}
// gx = 3 x^2 g
template <class T> __global__ void cube_vjp(const T* x, const T* g, T* gx, long long n) {
    IDX; if (i < n) gx[i] = 3.0 * x[i] * x[i] * g[i];
}
// a deliberately wrong VJP: 2 x^2 g
template <class T> __global__ void cube_vjp_wrong(const T* x, const T* g, T* gx, long long n) {
    IDX; if (i < n) gx[i] = 2.0 * x[i] * x[i] * g[i];
}
// a deliberately wrong JVP: 3 x t (lanes honoured)
template <class T> __global__ void cube_jvp_wrong(const T* x, const T* t, T* ty, long long n,
                                                  long long lanes) {
    IDX; if (i >= n) return;
    for (long long l = 0; l < lanes; ++l) ty[l * n + i] = 3.0 * x[i] * t[l * n + i];
}
// The VJP kernel's own derivatives, for cube_vjp as a primitive V(x, g) = 3 x^2 g:
// JVP: tgx[l] = 6 x g tx[l] + 3 x^2 tg[l];  VJP: (gx, gg) = (6 x g h, 3 x^2 h)
template <class T> __global__ void cube_vjp_jvp(const T* x, const T* g, const T* tx,
                                                const T* tg, T* tgx, long long n, long long lanes) {
    IDX; if (i >= n) return;
    for (long long l = 0; l < lanes; ++l)
        tgx[l * n + i] = 6.0 * x[i] * g[i] * tx[l * n + i] + 3.0 * x[i] * x[i] * tg[l * n + i];
}
template <class T> __global__ void cube_vjp_vjp(const T* x, const T* g, const T* h, T* gx, T* gg,
                                                long long n) {
    IDX; if (i >= n) return;
    gx[i] = 6.0 * x[i] * g[i] * h[i];
    gg[i] = 3.0 * x[i] * x[i] * h[i];
}
// sin and cos of x: two outputs
template <class T> __global__ void sc_fwd(const T* x, T* s, T* c, long long n) {
    IDX; if (i < n) { s[i] = sin(x[i]); c[i] = cos(x[i]); }
}
template <class T> __global__ void sc_jvp(const T* x, const T* t, T* ts, T* tc, long long n,
                                          long long lanes) {
    IDX; if (i >= n) return;
    T cs = cos(x[i]), sn = sin(x[i]);
    for (long long l = 0; l < lanes; ++l) { ts[l * n + i] = cs * t[l * n + i]; tc[l * n + i] = -sn * t[l * n + i]; }
}
// y = exp(x) with VJP kernels that read the output: gx = y g
template <class T> __global__ void exp_fwd(const T* x, T* y, long long n) {
    IDX; if (i < n) y[i] = exp(x[i]);
}
template <class T> __global__ void exp_jvp(const T* x, const T* t, T* ty, long long n,
                                           long long lanes) {
    IDX; if (i >= n) return;
    T e = exp(x[i]);
    for (long long l = 0; l < lanes; ++l) ty[l * n + i] = e * t[l * n + i];
}
template <class T> __global__ void exp_vjp_out(const T* y, const T* g, T* gx, long long n) {
    IDX; if (i < n) gx[i] = y[i] * g[i];
}
template <class T> __global__ void exp_vjp_both(const T* x, const T* y, const T* g, T* gx,
                                                long long n) {
    IDX; if (i < n) gx[i] = y[i] * g[i];
}
template <class T> __global__ void sc_vjp(const T* x, const T* gs, const T* gc, T* gx, long long n) {
    IDX; if (i < n) gx[i] = cos(x[i]) * gs[i] - sin(x[i]) * gc[i];
}
"""

# The same cube as plain (non-template) extern "C" kernels for double: no dual route.
PLAIN = r"""
extern "C" __global__ void cube_fwd_d(const double* x, double* y, long long n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] * x[i] * x[i];
}
extern "C" __global__ void cube_jvp_d(const double* x, const double* t, double* ty, long long n,
                                      long long lanes) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= n) return;
    for (long long l = 0; l < lanes; ++l) ty[l * n + i] = 3.0 * x[i] * x[i] * t[l * n + i];
}
extern "C" __global__ void cube_vjp_d(const double* x, const double* g, double* gx, long long n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) gx[i] = 3.0 * x[i] * x[i] * g[i];
}
"""


def fwd_launch(kernel="cube_fwd<{T}>", args=lambda x, y: (x, y, np.int64(x.size))):
    return Launch(kernel, args=args)


def jvp_launch(kernel="cube_jvp<{T}>"):
    return Launch(kernel, args=lambda x, t, ty: (x, t, ty, np.int64(x.size),
                                                 np.int64(t.shape[0])))


def vjp_launch(kernel="cube_vjp<{T}>"):
    return Launch(kernel, args=lambda x, g, gx: (x, g, gx, np.int64(x.size)))


def make_cube(name="cube", source=SRC, fwd=None, jvp=None, vjp=None, **kw):
    return custom_primitive(source, name=name, outputs=lambda x: x.shape,
                            forward=fwd or fwd_launch(), jvp=jvp or jvp_launch(),
                            vjp=vjp or vjp_launch(), **kw)


cube = make_cube()
cube_plain = custom_primitive(
    PLAIN, name="cube_plain", outputs=lambda x: x.shape,
    forward=Launch("cube_fwd_d", args=lambda x, y: (x, y, np.int64(x.size))),
    jvp=Launch("cube_jvp_d", args=lambda x, t, ty: (x, t, ty, np.int64(x.size),
                                                   np.int64(t.shape[0]))),
    vjp=Launch("cube_vjp_d", args=lambda x, g, gx: (x, g, gx, np.int64(x.size))))

X = np.array([0.7, -1.3, 2.0])


def loss(x):
    return gnp.sum(cube(x) * gnp.sin(x))


def loss_ref_grad(x):
    return 3 * x ** 2 * np.sin(x) + x ** 3 * np.cos(x)


def loss_ref_hess(x):
    return np.diag(6 * x * np.sin(x) + 6 * x ** 2 * np.cos(x) - x ** 3 * np.sin(x))


# ------------------------------------------------------------------ every transform

def test_forward_runs_the_kernel(xp):
    Xd = xp.asarray(X)
    close(xp, cube(Xd), X ** 3, rtol=1e-15)
    assert cube.max_order == 2 and cube.dual
    assert gpuad.REGISTRY["cube"] is cube


def test_grad_jvp_vjp(xp):
    Xd = xp.asarray(X)
    close(xp, gpuad.grad(loss)(Xd), loss_ref_grad(X), rtol=1e-12)
    v = np.array([1.0, 2.0, -0.5])
    out, t = gpuad.jvp(cube, (Xd,), (xp.asarray(v),))
    close(xp, t, 3 * X ** 2 * v, rtol=1e-12)
    out, f_vjp = gpuad.vjp(cube, Xd)
    close(xp, f_vjp(xp.asarray(v))[0], 3 * X ** 2 * v, rtol=1e-12)


def test_jacobians(xp):
    Xd = xp.asarray(X)
    close(xp, gpuad.jacfwd(cube)(Xd), np.diag(3 * X ** 2), rtol=1e-12)
    close(xp, gpuad.jacrev(cube)(Xd), np.diag(3 * X ** 2), rtol=1e-12)


def test_hvp_batched_and_hessian(xp):
    Xd = xp.asarray(X)
    H = loss_ref_hess(X)
    V = np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 0.0]])
    close(xp, gpuad.hvp(loss, Xd, xp.asarray(V[0])), H @ V[0], rtol=1e-12)
    with gpuad.profile() as prof:
        hv = gpuad.hvp(loss, Xd, xp.asarray(V), batched=True)
    close(xp, hv, V @ H, rtol=1e-12)
    # both directions through ONE dual launch of the VJP kernel
    assert prof.count(kernel="cube_vjp_dual") == 1
    close(xp, gpuad.hessian(loss)(Xd), H, rtol=1e-12)


def test_other_second_orders(xp):
    Xd = xp.asarray(X)
    wh, vh = np.array([0.5, 2.0, -1.0]), np.array([1.0, 3.0, 0.5])
    w, v = xp.asarray(wh), xp.asarray(vh)
    f = lambda x: gnp.sum(cube(x))
    close(xp, gpuad.grad(lambda x: gnp.sum(gpuad.grad(f)(x) * w))(Xd), 6 * X * wh, rtol=1e-12)
    close(xp, gpuad.jvp(lambda x: gpuad.jvp(cube, (x,), (v,))[1], (Xd,), (v,))[1],
          6 * X * vh * vh, rtol=1e-12)
    close(xp, gpuad.grad(lambda x: gnp.sum(w * gpuad.jvp(cube, (x,), (v,))[1]))(Xd),
          6 * X * vh * wh, rtol=1e-12)
    close(xp, gpuad.jacrev(gpuad.grad(f))(Xd), np.diag(6 * X), rtol=1e-12)
    check_grads(cube, (Xd,), order=2)


def test_checkpoint_and_checkpoint_loop(xp):
    Xd = xp.asarray(X)
    seg = gpuad.checkpoint(lambda x: cube(gnp.sin(x)))
    f = lambda x: gnp.sum(seg(x))
    close(xp, gpuad.grad(f)(Xd), 3 * np.sin(X) ** 2 * np.cos(X), rtol=1e-12)
    d2 = 6 * np.sin(X) * np.cos(X) ** 2 - 3 * np.sin(X) ** 3
    close(xp, gpuad.hessian(f)(Xd), np.diag(d2), rtol=1e-11)

    def run(x):      # x -> x + 0.01 x^3, 30 times, 4 snapshots
        return gnp.sum(gpuad.checkpoint_loop(lambda y: y + 0.01 * cube(y), x, 30, snapshots=4))

    def run_gnp(x):
        return gnp.sum(gpuad.checkpoint_loop(lambda y: y + 0.01 * y ** 3, x, 30, snapshots=4))
    x = xp.asarray([0.3, -0.8, 1.1])
    close(xp, gpuad.grad(run)(x), gpuad.grad(run_gnp)(x), rtol=1e-12)
    close(xp, gpuad.hessian(run)(x), gpuad.hessian(run_gnp)(x), rtol=1e-11)


def test_float32(xp):
    x = xp.asarray(X.astype(np.float32))
    assert cube(x).dtype == np.float32
    close(xp, gpuad.grad(loss)(x), loss_ref_grad(X), rtol=1e-5)
    close(xp, gpuad.hessian(loss)(x), loss_ref_hess(X), rtol=1e-4, atol=1e-5)


def test_two_outputs(xp):
    Xd = xp.asarray(X)
    sc = custom_primitive(
        SRC, name="sincos", num_outputs=2, outputs=lambda x: [x.shape, x.shape],
        forward=Launch("sc_fwd<{T}>", args=lambda x, s, c: (x, s, c, np.int64(x.size))),
        jvp=Launch("sc_jvp<{T}>", args=lambda x, t, ts, tc: (x, t, ts, tc, np.int64(x.size),
                                                            np.int64(t.shape[0]))),
        vjp=Launch("sc_vjp<{T}>", args=lambda x, gs, gc, gx: (x, gs, gc, gx,
                                                             np.int64(x.size))))
    s, c = sc(Xd)
    close(xp, s, np.sin(X), rtol=1e-15)
    f = lambda x: gnp.sum(sc(x)[0] * sc(x)[1])          # sum(sin 2x / 2)
    close(xp, gpuad.grad(f)(Xd), np.cos(2 * X), rtol=1e-12)
    close(xp, gpuad.hessian(f)(Xd), np.diag(-2 * np.sin(2 * X)), rtol=1e-11)
    # only one output used: the other's cotangent arrives as zeros
    close(xp, gpuad.grad(lambda x: gnp.sum(sc(x)[1]))(Xd), -np.sin(X),
                               rtol=1e-12)
    report = check_primitive(sc, (Xd,), reference=lambda x: [np.sin(x), np.cos(x)], order=2)
    assert report["forward vs reference"] < 1e-12


@pytest.mark.parametrize("saves", ["out", "both"])
def test_vjp_kernel_reading_the_output(saves, xp):
    Xd = xp.asarray(X)
    n = lambda a: np.int64(a.size)
    vjp = (Launch("exp_vjp_out<{T}>", args=lambda y, g, gx: (y, g, gx, n(y))) if saves == "out"
           else Launch("exp_vjp_both<{T}>", args=lambda x, y, g, gx: (x, y, g, gx, n(x))))
    ex = custom_primitive(SRC, name=f"exp_{saves}", outputs=lambda x: x.shape, saves=saves,
                          forward=Launch("exp_fwd<{T}>", args=lambda x, y: (x, y, n(x))),
                          jvp=Launch("exp_jvp<{T}>", args=lambda x, t, ty: (
                              x, t, ty, n(x), np.int64(t.shape[0]))), vjp=vjp)
    f = lambda x: gnp.sum(ex(x) * x)            # d = e^x (1 + x), d2 = e^x (2 + x)
    close(xp, gpuad.grad(f)(Xd), np.exp(X) * (1 + X), rtol=1e-13)
    close(xp, gpuad.hessian(f)(Xd), np.diag(np.exp(X) * (2 + X)), rtol=1e-13)
    gg = lambda x: gpuad.grad(lambda y: gnp.sum(gpuad.grad(f)(y)))(x)
    report = check_primitive(ex, (Xd,), reference=np.exp, order=2)
    if saves == "both":
        close(xp, gg(Xd), np.exp(X) * (2 + X), rtol=1e-13)
        assert not any(isinstance(v, str) for v in report.values())
    else:       # grad of grad needs the inputs in the VJP kernel: refused, and said so
        with pytest.raises(NotImplementedError, match=r"'exp_out'.*saves='ins' or 'both'"):
            gg(Xd)
        skipped = [v for v in report.values() if isinstance(v, str)]
        assert skipped and all(v.startswith("skipped:") for v in skipped)


# ------------------------------------------------------------------ check_primitive

def test_check_primitive_reports_every_check():
    report = check_primitive(cube, (X,), reference=lambda x: x ** 3, order=2)
    assert report["forward vs reference"] < 1e-15
    assert "JVP along input 0 vs central differences" in report
    assert "VJP of input 0 vs JVP (dot-product test)" in report
    assert "JVP with 3 lanes in one launch vs 3 one-lane JVPs" in report
    assert sum(k.startswith("second order") for k in report) == 4
    assert all(isinstance(v, float) and v < 1e-8 for v in report.values())


def test_wrong_vjp_is_caught_with_name_and_location():
    bad = make_cube("cube_wrong_vjp", vjp=vjp_launch("cube_vjp_wrong<{T}>"))
    with pytest.raises(AssertionError) as e:
        check_primitive(bad, (X,))
    msg = str(e.value)
    assert msg.startswith("check_primitive('cube_wrong_vjp'): VJP of input 0 vs JVP")
    assert "<u, J v>" in msg and "max |error|" in msg and "index (" in msg


def test_wrong_jvp_is_caught():
    bad = make_cube("cube_wrong_jvp", jvp=jvp_launch("cube_jvp_wrong<{T}>"))
    with pytest.raises(AssertionError, match=r"check_primitive\('cube_wrong_jvp'\): JVP along "
                                             r"input 0 vs central differences: max \|error\|"):
        check_primitive(bad, (X,))


def test_wrong_reference_is_caught():
    with pytest.raises(AssertionError, match=r"'cube'\): forward vs reference: max \|error\|"):
        check_primitive(cube, (X,), reference=lambda x: x ** 2)


def test_ignored_lanes_are_caught():
    bad = make_cube("cube_one_lane", jvp=Launch("cube_jvp<{T}>", args=lambda x, t, ty: (
        x, t, ty, np.int64(x.size), np.int64(1))))
    assert gpuad.jvp(bad, (X,), (np.ones(3),))[1].shape == (3,)     # one lane: fine
    with pytest.raises(AssertionError, match=r"cube_one_lane.*left 6 of 9 entries .*lanes"):
        check_primitive(bad, (X,))


# ------------------------------------------------------------------ bad launch descriptions

def test_output_shape_too_small_is_caught():
    bad = custom_primitive(SRC, name="cube_small_out", outputs=lambda x: (x.size - 1,),
                           forward=fwd_launch(), jvp=jvp_launch(), vjp=vjp_launch())
    with pytest.raises(AssertionError, match=r"cube_small_out.*wrote past the end of output 0 "
                                             r"\(shape \(2,\)\)"):
        check_primitive(bad, (X,))


def test_output_shape_not_a_shape(xp):
    Xd = xp.asarray(X)
    bad = custom_primitive(SRC, name="cube_bad_out", outputs=lambda x: x.size,
                           forward=fwd_launch(), jvp=jvp_launch(), vjp=vjp_launch())
    with pytest.raises(TypeError, match=r"custom primitive 'cube_bad_out': outputs\(...\) "
                                        r"returned 3; it must return a shape"):
        bad(Xd)


def test_wrong_argument_count(xp):
    Xd = xp.asarray(X)
    bad = make_cube("cube_argc", fwd=fwd_launch(args=lambda x, y: (x, y)))
    with pytest.raises(TypeError, match=r"custom primitive 'cube_argc', forward kernel: kernel "
                                        r"cube_fwd<double> takes 3 arguments \(const T\* x, "
                                        r"T\* y, long long n\), but args= returned 2"):
        bad(Xd)
    bad_vjp = make_cube("cube_argc_vjp", vjp=Launch("cube_vjp<{T}>",
                                                    args=lambda x, g, gx: (x, g, gx)))
    with pytest.raises(TypeError, match="cube_argc_vjp', vjp kernel.*takes 4 arguments"):
        gpuad.grad(lambda x: gnp.sum(bad_vjp(x)))(Xd)


def test_wrong_scalar_type(xp):
    Xd = xp.asarray(X)
    bad = make_cube("cube_i32", fwd=fwd_launch(args=lambda x, y: (x, y, np.int32(x.size))))
    with pytest.raises(TypeError, match=r"argument 2 of cube_fwd<double> is 'long long n' "
                                        r"\(8 bytes\) but args= gave numpy.int32"):
        bad(Xd)


def test_scalar_input_and_construction_errors(xp):
    with pytest.raises(TypeError, match="input 0 is a float; inputs are arrays"):
        cube(1.5)
    with pytest.raises(TypeError, match="forward must be a gpuad.Launch"):
        custom_primitive(SRC, name="nope", outputs=lambda x: x.shape, forward="cube_fwd")
    with pytest.raises(ValueError, match="taken by a built-in primitive"):
        make_cube("sin")


# ------------------------------------------------------------------ order limits

def test_plain_kernels_work_to_first_order(xp):
    Xd = xp.asarray(X)
    assert cube_plain.max_order == 1 and not cube_plain.dual
    f = lambda x: gnp.sum(cube_plain(x) * gnp.sin(x))
    close(xp, gpuad.grad(f)(Xd), loss_ref_grad(X), rtol=1e-12)
    close(xp, gpuad.jacrev(cube_plain)(Xd), np.diag(3 * X ** 2), rtol=1e-12)
    close(xp, gpuad.jacfwd(cube_plain)(Xd), np.diag(3 * X ** 2), rtol=1e-12)
    check_primitive(cube_plain, (Xd,), reference=lambda x: x ** 3)


def test_second_order_without_rules_raises_before_any_sweep(xp):
    Xd = xp.asarray(X)
    f = lambda x: gnp.sum(cube_plain(x) * gnp.sin(x))
    with gpuad.profile() as prof:
        with pytest.raises(NotImplementedError) as e:
            gpuad.hvp(f, Xd, xp.ones(3))
    msg = str(e.value)
    assert "primitive 'cube_plain' is differentiated to order 2" in msg
    assert "only order 1" in msg and "no derivative rules for its JVP and VJP kernels" in msg
    assert prof.count("reverse") == 0 and prof.count(kernel="cube_plain") == 0
    for second in (gpuad.hessian(f), gpuad.grad(lambda x: gnp.sum(gpuad.grad(f)(x))),
                   lambda x: gpuad.jvp(lambda y: gpuad.jvp(cube_plain, (y,), (y,))[1],
                                       (x,), (x,))):
        with pytest.raises(NotImplementedError, match="'cube_plain'"):
            second(X)


def test_check_support_reports_missing_rules():
    f = lambda x: gnp.sum(cube_plain(x) * gnp.sin(x))
    bad = check_support(f, X, mode="hvp")
    assert [name for name, _ in bad] == ["cube_plain"]
    assert "order 1" in bad[0][1] and "templates on {T}" in bad[0][1]
    assert check_support(f, X, mode="grad") == []
    assert check_support(loss, X, mode="hessian") == []
    with pytest.raises(NotImplementedError, match="order=2 asked"):
        check_primitive(cube_plain, (X,), order=2)


def test_dual_false_refuses_second_order(xp):
    Xd = xp.asarray(X)
    nd = make_cube("cube_nodual", dual=False)
    assert nd.max_order == 1
    with pytest.raises(NotImplementedError, match="'cube_nodual'"):
        gpuad.hessian(lambda x: gnp.sum(nd(x)))(Xd)


def test_derivative_rules_as_further_custom_primitives(xp):
    Xd = xp.asarray(X)
    # V(x, g) = 3 x^2 g with hand-written JVP and VJP kernels of its own (no duals).
    cube_v = custom_primitive(
        SRC, name="cube_v", outputs=lambda x, g: x.shape, dual=False,
        forward=Launch("cube_vjp<{T}>", args=lambda x, g, gx: (x, g, gx, np.int64(x.size))),
        jvp=Launch("cube_vjp_jvp<{T}>", args=lambda x, g, tx, tg, tgx: (
            x, g, tx, tg, tgx, np.int64(x.size), np.int64(tx.shape[0]))),
        vjp=Launch("cube_vjp_vjp<{T}>", args=lambda x, g, h, gx, gg: (
            x, g, h, gx, gg, np.int64(x.size))))
    assert cube_v.max_order == 1
    c2 = make_cube("cube_user_rules", vjp=cube_v, dual=False)
    assert c2.max_order == 1          # its JVP kernel still has no rules of its own
    cube_j = custom_primitive(
        SRC, name="cube_j", outputs=lambda x, t: t.shape, dual=False, wrt=(0, 1),
        forward=Launch("cube_jvp<{T}>", args=lambda x, t, ty: (x, t, ty, np.int64(x.size),
                                                               np.int64(t.shape[0]))),
        # d(3 x^2 t) = 6 x t dx + 3 x^2 dt (right for one inner lane of t; only its
        # presence matters here: it makes c3's rules reach order 2)
        jvp=Launch("cube_vjp_jvp<{T}>", args=lambda x, t, tx, tt, tout: (
            x, t, tx, tt, tout, np.int64(x.size), np.int64(tx.shape[0]))),
        vjp=Launch("cube_vjp_vjp<{T}>", args=lambda x, t, h, gx, gt: (
            x, t, h, gx, gt, np.int64(x.size))))
    c3 = make_cube("cube_user_rules2", jvp=cube_j, vjp=cube_v)
    assert c3.max_order == 2
    f = lambda x: gnp.sum(c3(x) * gnp.sin(x))
    close(xp, gpuad.hessian(f)(Xd), loss_ref_hess(X), rtol=1e-12)
    wh = np.array([0.5, 2.0, -1.0])
    w = xp.asarray(wh)
    g = lambda x: gnp.sum(c3(x))
    close(xp, gpuad.grad(lambda x: gnp.sum(gpuad.grad(g)(x) * w))(Xd),
          6 * X * wh, rtol=1e-12)


def test_dual_instantiation_failure_says_what_to_do(xp):
    Xd = xp.asarray(X)
    src = SRC.replace("T d = 3.0 * x[i] * x[i];", "T d = fmax(3.0 * x[i] * x[i], T(0));")
    bad = custom_primitive(src, name="cube_fmax", outputs=lambda x: x.shape,
                           forward=fwd_launch(), jvp=jvp_launch(), vjp=vjp_launch())
    f = lambda x: gnp.sum(bad(x))
    close(xp, gpuad.jvp(bad, (Xd,), (xp.ones(3),))[1], 3 * X ** 2)
    with pytest.raises(RuntimeError, match=r"custom primitive 'cube_fmax': instantiating its "
                                           r"template kernels on gpuad::Dual"):
        gpuad.jvp(lambda x: gpuad.jvp(bad, (x,), (x,))[1], (Xd,), (Xd,))
    assert f(Xd) > 0


def _nvrtc():
    nvrtc = pytest.importorskip("gpuad.runtime.nvrtc")
    try:
        nvrtc.nvrtc_version()
    except Exception as exc:             # NVRTC not installed here
        pytest.skip(f"NVRTC unavailable: {exc}")
    return nvrtc


def test_nvrtc_compiles_user_source_and_dual_instantiations():
    _nvrtc()
    lowered = cube.nvrtc_check()["sm_80"]
    assert "cube_vjp<gpuad::Dual<double, 8>>" in lowered
    assert "cube_fwd_d" in cube_plain.nvrtc_check(dtypes=("double",))["sm_80"]


# ------------------------------------------------------------------ custom_vjp / custom_jvp

@gpuad.custom_vjp
def safe_norm(x):
    return gnp.sqrt(gnp.sum(x * x))


def _sn_fwd(x):
    n = safe_norm(x)
    return n, (x, n)


def _sn_bwd(res, g):
    x, n = res
    return (g * x / gnp.where(n > 0, n, 1.0),)


safe_norm.defvjp(_sn_fwd, _sn_bwd)


def test_custom_vjp_reverse_forward_and_second_order(xp):
    assert not np.any(np.isnan(gpuad.grad(safe_norm)(np.zeros(3))))
    xh = np.array([3.0, 4.0])
    x = xp.asarray(xh)
    close(xp, gpuad.grad(safe_norm)(x), xh / 5, rtol=1e-15)
    # forward mode uses the rule (bwd transposed)
    close(xp, gpuad.jvp(safe_norm, (x,), (xp.asarray([1.0, 0.0]),))[1], 0.6)
    H = (np.eye(2) - np.outer(xh, xh) / 25) / 5
    close(xp, gpuad.hessian(safe_norm)(x), H, rtol=1e-13)
    close(xp, gpuad.hvp(safe_norm, x, xp.eye(2), batched=True), H, rtol=1e-13)
    close(xp, gpuad.grad(lambda x: gpuad.grad(safe_norm)(x)[0])(x), H[0],
                               rtol=1e-13)
    check_grads(safe_norm, (x,), order=2)


def test_custom_vjp_uses_bwd_and_static_args(xp):
    Xd = xp.asarray(X)
    @gpuad.custom_vjp
    def scaled(k, x):               # k is static; the rule says 10 k, not k
        return k * x

    scaled.nondiff_argnums = (0,)
    scaled.defvjp(lambda k, x: (scaled(k, x), None), lambda k, res, g: (10 * k * g,))
    close(xp, gpuad.grad(lambda x: gnp.sum(scaled(2.0, x)))(Xd), 20.0)
    # forward mode uses the rule too (bwd transposed), as grad does: not the function's k
    close(xp, gpuad.jvp(lambda x: scaled(2.0, x), (Xd,), (xp.ones(3),))[1], 20.0)
    with pytest.raises(TypeError, match="has no rules"):
        gpuad.grad(lambda x: gnp.sum(gpuad.custom_vjp(lambda x: x)(x)))(Xd)


@gpuad.custom_jvp
def logsumexp(x):
    m = gpuad.stop_gradient(gnp.max(x))
    return m + gnp.log(gnp.sum(gnp.exp(x - m)))


@logsumexp.defjvp
def _lse_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    y = logsumexp(x)
    return y, gnp.sum(gnp.exp(x - y) * t)


def test_custom_jvp_stable_in_every_mode(xp):
    big = xp.asarray([1000.0, 1000.0])
    assert abs(logsumexp(big) - (1000 + np.log(2))) < 1e-12
    close(xp, gpuad.grad(logsumexp)(big), [0.5, 0.5])
    close(xp, gpuad.jvp(logsumexp, (big,), (xp.asarray([1.0, 2.0]),))[1], 1.5)
    close(xp, gpuad.hessian(logsumexp)(big), [[0.25, -0.25], [-0.25, 0.25]])
    xh = np.array([0.3, -1.2, 2.0])
    x = xp.asarray(xh)
    p = np.exp(xh) / np.exp(xh).sum()
    H = np.diag(p) - np.outer(p, p)
    close(xp, gpuad.hvp(logsumexp, x, xp.eye(3), batched=True), H, rtol=1e-12)
    close(xp, gpuad.jacfwd(gpuad.grad(logsumexp))(x), H, rtol=1e-12)
    close(
        xp,         gpuad.grad(lambda x: gnp.sum(gpuad.grad(logsumexp)(x) ** 2))(x), 2 * H @ p, rtol=1e-12)
    check_grads(logsumexp, (x,), order=2)


def test_custom_jvp_rule_drives_both_modes(xp):
    Xd = xp.asarray(X)
    @gpuad.custom_jvp
    def straight_through(x):         # forward: sign(x); derivative by the rule: 2
        return gpuad.stop_gradient(gnp.sign(x))

    @straight_through.defjvp
    def _(primals, tangents):
        return straight_through(primals[0]), 2.0 * tangents[0]
    f = lambda x: gnp.sum(straight_through(x) * x)
    close(xp, gpuad.grad(f)(Xd), np.sign(X) + 2 * X)
    close(xp, gpuad.jvp(straight_through, (Xd,), (xp.ones(3),))[1], 2.0)
    close(xp, gpuad.jacfwd(straight_through)(Xd), 2 * np.eye(3))
    close(xp, gpuad.jacrev(straight_through)(Xd), 2 * np.eye(3))
    close(xp, gpuad.hessian(f)(Xd), 4 * np.eye(3))


# ------------------------------------------------------------------ the example

def test_custom_stencil_example_small(xp):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
    import custom_stencil
    res = custom_stencil.main(["--device", "cpu" if xp is np else "cuda", "--grid", "10", "13", "--steps", "25",
                               "--snapshots", "3"])
    assert res["grad_rel_diff"] < 1e-12
    assert res["hvp_rel_diff"] < 1e-12
    assert res["loss_kernel"] == pytest.approx(res["loss_gpuad.numpy"], rel=1e-13)
    assert len([k for k in res["check_primitive"] if not k.startswith("NVRTC")]) == 14


# ------------------------------------------------------------------ what CuPy would misread
# CuPy passes any ndarray as a pointer, a NumPy array by value (its bytes), a Python bool as
# one byte: a launch that would be misread on a GPU is refused on the CPU too (issue 15).

@pytest.mark.parametrize("args, match", [
    # a 0-d array for the by-value size: CuPy would pass a pointer
    (lambda x, y: (x, y, np.asarray(x.size, np.int64)), r"argument 2 .*long long n"),
    # an array made inside args= for a pointer: CuPy would pass its bytes
    (lambda x, y: (x.copy(), y, np.int64(x.size)), r"argument 0 .*const T\* x.*by value"),
    # a Python bool for a long long: one byte on a GPU
    (lambda x, y: (x, y, True), r"argument 2 .*long long n"),
])
def test_launches_a_gpu_would_misread_are_refused_on_the_cpu(args, match, xp):
    Xd = xp.asarray(X)
    bad = make_cube(f"cube_misread_{abs(hash(match)) % 1000}", fwd=fwd_launch(args=args))
    if xp is not np and "by value" in match:
        # On a GPU x.copy() is a CuPy array, which CuPy passes as a pointer: read right.
        close(xp, bad(Xd), X ** 3)
        return
    with pytest.raises(TypeError, match=match):
        bad(Xd)
    close(xp, cube(Xd), X ** 3)      # the engine stays usable


# ------------------------------------------------------------------ user rules are checked (issue 12)

def test_custom_vjp_cotangent_of_the_wrong_shape_names_the_rule_and_both_shapes(xp):
    @gpuad.custom_vjp
    def h(x):
        return x * 2.0
    h.defvjp(lambda x: (h(x), None), lambda res, g: (xp.ones(7),))
    with pytest.raises(ValueError, match=r"custom_vjp 'test_custom_vjp_cotangent.*h': bwd "
                                         r"returned a cotangent of shape \(7,\).*shape \(5,\)"):
        gpuad.grad(lambda x: gnp.sum(h(gnp.exp(x))))(xp.linspace(0.1, 1, 5))
    h.defvjp(lambda x: (h(x), None), lambda res, g: (g.astype(np.float32),))
    with pytest.raises(TypeError, match=r"dtype float32 for argument 0, which has dtype "
                                        r"float64"):
        gpuad.grad(lambda x: gnp.sum(h(x)))(xp.ones(3))
    # a pytree argument after a nondiff one: the leaf named as written
    k = gpuad.custom_vjp(lambda n, p: p["w"] * n, nondiff_argnums=(0,))
    k.defvjp(lambda n, p: (k(n, p), None), lambda n, res, g: ({"w": xp.ones(2)},))
    with pytest.raises(ValueError, match=r"shape \(2,\) for argument 1\['w'\], which has "
                                         r"shape \(3,\)"):
        gpuad.grad(lambda w: gnp.sum(k(2.0, {"w": w})))(xp.ones(3))
    h.defvjp(lambda x: (h(x), None), lambda res, g: ((g, g),))
    with pytest.raises(TypeError, match=r"structure"):
        gpuad.grad(lambda x: gnp.sum(h(x)))(xp.ones(3))


def test_a_rule_closing_over_a_value_of_its_own_transform_is_named(xp):
    # A rule runs below the trace that reached the call (custom_jvp) or in its sweep
    # (custom_vjp's bwd): a value of that trace read from the rule's closure is stale
    # there and its own derivative would be lost. The error names the rule and the way
    # out; a value closed over from an enclosing transform stays right.
    x, w = xp.linspace(0.1, 1.0, 4), xp.asarray(2.0)

    def with_vjp(x, w):
        f = gpuad.custom_vjp(lambda x: gnp.sin(x))
        f.defvjp(lambda x: (gnp.sin(x), x), lambda res, g: (g * gnp.cos(res) * w,))
        return gnp.sum(f(x))

    def with_jvp(x, w):
        f = gpuad.custom_jvp(lambda x: gnp.sin(x) * w)
        f.defjvp(lambda p, t: (f(p[0]), gnp.cos(p[0]) * t[0] * w))
        return gnp.sum(f(x))

    def with_jvp_rule(x, w):          # the function is free of w, its rule is not
        f = gpuad.custom_jvp(lambda x: gnp.sin(x) * 2.0)
        f.defjvp(lambda p, t: (f(p[0]), gnp.cos(p[0]) * t[0] * w))
        return gnp.sum(f(x))

    for loss, rule in [(with_vjp, "custom_vjp .*: bwd reads a traced value it was not "
                                  "given.*pass that value to the function as an argument "
                                  "and return what bwd needs from fwd"),
                       (with_jvp, "custom_jvp '[^']*' reads a traced value it was not "
                                  "given.*pass that value to the function as an argument"),
                       (with_jvp_rule, "custom_jvp '[^']*': the rule reads a traced value "
                                       "it was not given.*pass that value to the function "
                                       "as an argument")]:
        for transform in [lambda: gpuad.grad(loss, argnums=(0, 1))(x, w),
                          lambda: gpuad.hessian(loss, argnums=(0, 1))(x, w),
                          lambda: gpuad.jvp(lambda w: gpuad.grad(loss, argnums=(0, 1))(x, w),
                                            (w,), (xp.asarray(1.0),))]:
            with pytest.raises(TypeError, match=rule):
                transform()
        # w differentiated by an enclosing transform only: d/dw sum(cos(x) w) = sum(cos x)
        close(xp, gpuad.grad(lambda w: gnp.sum(gpuad.grad(loss)(x, w)))(w),
              float(np.sum(np.cos(np.linspace(0.1, 1.0, 4)))))
    close(xp, gpuad.grad(lambda x: gnp.sum(gnp.sin(x)))(x), xp.cos(x))   # engine usable


def test_custom_jvp_tangent_of_the_wrong_shape_is_refused(xp):
    @gpuad.custom_jvp
    def f(x):
        return gnp.sin(x)

    @f.defjvp
    def _(primals, tangents):
        return f(primals[0]), gnp.sum(tangents[0])
    with pytest.raises(ValueError, match=r"custom_jvp .*tangent of shape \(\).*output of "
                                         r"shape \(3,\)"):
        gpuad.jvp(f, (xp.ones(3),), (xp.ones(3),))


@pytest.mark.parametrize("with_scalar_residual", [False, True])
def test_custom_vjp_second_order_with_numpy_scalar_residuals(with_scalar_residual, xp):
    # m = gnp.max(x) in fwd is a NumPy scalar outside a transform: second order must work
    # with it as a residual as it does with a 0-d array (issue 12).
    @gpuad.custom_vjp
    def lse(x):
        m = gnp.max(x)
        return m + gnp.log(gnp.sum(gnp.exp(x - m)))

    def fwd(x):
        m = gnp.max(x)
        y = m + gnp.log(gnp.sum(gnp.exp(x - m)))
        return y, ((x, y, m) if with_scalar_residual else (x, y))

    def bwd(res, g):
        x, y = res[:2]
        return (g * gnp.exp(x - y),)
    lse.defvjp(fwd, bwd)
    xh = np.array([0.1, 0.5, -0.3])
    x = xp.asarray(xh)
    p = np.exp(xh - np.log(np.sum(np.exp(xh))))
    close(xp, gpuad.jacobian(gpuad.grad(lse))(x), np.diag(p) - np.outer(p, p),
                               rtol=1e-12, atol=1e-15)
    close(xp, gpuad.hessian(lse)(x), np.diag(p) - np.outer(p, p),
                               rtol=1e-12, atol=1e-15)


def test_a_user_vjp_primitive_of_the_wrong_shape_is_refused(xp):
    Xd = xp.asarray(X)
    wrong = custom_primitive(SRC, name="cube_vjp_wrong", outputs=lambda x, g: (x.size + 1,),
                             forward=Launch("cube_fwd<{T}>", args=lambda x, g, y: (
                                 x, y, np.int64(x.size))))
    bad = custom_primitive(SRC, name="cube_bad_vjp", outputs=lambda x: x.shape,
                           forward=fwd_launch(), jvp=jvp_launch(), vjp=wrong)
    with pytest.raises(ValueError, match=r"'cube_bad_vjp': its vjp= primitive returned output 0 "
                                         r"of shape \(4,\).*shape \(3,\)"):
        gpuad.grad(lambda x: gnp.sum(bad(x)))(Xd)


# ------------------------------------------------------------------ NVRTC (issue 15)
# The host build force-includes its headers, so a source using std::sin, int64_t or
# #include <cmath> runs on the CPU and fails under NVRTC: every custom primitive's source
# that ran here is compiled by NVRTC too, as check_primitive does for users.

NOT_PORTABLE = SRC.replace("y[i] = x[i] * x[i] * x[i];", "y[i] = std::pow(x[i], 3.0) + int64_t(0);")


def test_check_primitive_refuses_a_source_only_the_host_compiler_takes():
    _nvrtc()
    host_only = make_cube("cube_host_only", source=NOT_PORTABLE)
    np.testing.assert_allclose(host_only(X), X ** 3, rtol=1e-15)     # fine on the CPU
    with pytest.raises(AssertionError, match=r"check_primitive\('cube_host_only'\): NVRTC .*"
                                             r"refuses the source"):
        check_primitive(host_only, (X,))
    report = check_primitive(cube, (X,), nvrtc=True)
    assert any(k.startswith("NVRTC compiles it (sm_80") for k in report)
    assert not any(k.startswith("NVRTC") for k in check_primitive(cube, (X,), nvrtc=False))


def test_every_custom_source_that_ran_compiles_under_nvrtc():
    """Last in this file: every custom primitive registered by the tests above (and the
    custom_stencil example), each with the instantiations it built (its dual ones where
    they built), compiled by NVRTC in one program per source."""
    nvrtc = _nvrtc()
    from gpuad import runtime
    from gpuad.custom.kernels import CustomPrimitive
    by_source = {}
    for prim in list(gpuad.REGISTRY.values()):
        if not isinstance(prim, CustomPrimitive) or prim.name == "cube_host_only":
            continue
        src = prim.source
        names = by_source.setdefault(src.code, set())
        for (device, T, dual), mod in list(src._mods.items()):
            if mod is not None:                     # built (on either device)
                names.update(src._names(T, dual))
    by_source = {code: sorted(n) for code, n in by_source.items() if n}
    if not by_source:
        pytest.skip("no custom primitive ran before this test (run the whole file)")
    for code, names in by_source.items():
        nvrtc.compile_source(code, names, "sm_80", include_dirs=(runtime.kernel_dir(),),
                             name="custom_test_source.cu")


# ------------------------------------------------------------------ the rule of an enclosing trace

def _rule_differs_from_body():
    """f(x) = x^3 whose rule says f'(x) = 2x (so using the body instead shows), as a
    custom_vjp and as a custom_jvp."""
    @gpuad.custom_vjp
    def fv(x):
        return x ** 3
    fv.defvjp(lambda x: (fv(x), x), lambda x, g: (2.0 * g * x,))

    @gpuad.custom_jvp
    def fj(x):
        return x ** 3

    @fj.defjvp
    def _(p, t):
        return fj(p[0]), 2.0 * p[0] * t[0]
    return fv, fj


@pytest.mark.parametrize("kind", ["vjp", "jvp"])
def test_custom_rule_reaches_the_trace_that_owns_the_argument(kind, xp):
    """A custom function applied to a value of an enclosing transform, while an inner one
    is current (grad of grad, jvp of grad, grad of jvp, jvp of jvp), or to a value a
    checkpointed segment or loop step closes over (read in the taped rerun as a
    substitute), is differentiated by its rule, not by its body (it got 3x^2 for 2x)."""
    fv, fj = _rule_differs_from_body()
    F = fv if kind == "vjp" else fj
    x, c, one = xp.asarray(1.5), xp.asarray(0.7), xp.asarray(1.0)
    r = 2.0 * 1.5                     # the rule's derivative at x
    # forward mode through a custom_vjp applies its rule too (bwd transposed), not 3x^2
    fwd_d = r
    close(xp, gpuad.grad(lambda x: gpuad.grad(lambda y: y * F(x))(c))(x), r)
    close(xp, gpuad.grad(lambda x: gpuad.grad(lambda y: gnp.sin(y) * F(x))(c))(x), np.cos(0.7) * r)
    close(xp, gpuad.jvp(lambda x: gpuad.grad(lambda y: y * F(x))(c), (x,), (one,))[1], fwd_d)
    close(xp, gpuad.grad(lambda x: gpuad.jvp(lambda y: y * F(x), (c,), (one,))[1])(x), r)
    close(xp, gpuad.jvp(lambda x: gpuad.jvp(lambda y: y * F(x), (c,), (one,))[1], (x,),
                        (one,))[1], fwd_d)
    close(xp, gpuad.grad(lambda x: x * gpuad.grad(lambda y: x * F(y))(c))(x), 2 * 1.5 * 2 * 0.7)
    close(xp, gpuad.grad(lambda x: gpuad.checkpoint(lambda y: F(x) * y)(c))(x), 0.7 * r)
    for pol in (gpuad.checkpoint_policies.dots_saveable,
                gpuad.checkpoint_policies.everything_saveable):
        close(xp, gpuad.grad(lambda x: gpuad.checkpoint(lambda y: F(x) * y, policy=pol)(c))(x),
              0.7 * r)
    for n, s in ((1, None), (3, 1), (3, 2), (4, 1), (6, 3)):
        got = gpuad.grad(lambda x: gpuad.checkpoint_loop(lambda y: 0.5 * y + F(x), c, n,
                                                         snapshots=s))(x)
        close(xp, got, sum(0.5 ** k for k in range(n)) * r, rtol=1e-14)
    # a dict state and a closure over a value of the enclosing grad
    got = gpuad.grad(lambda x: gpuad.checkpoint_loop(
        lambda s: {"a": s["a"] + F(x), "b": s["b"] * 2.0}, {"a": c, "b": c}, 3,
        snapshots=2)["a"])(x)
    close(xp, got, 3 * r)
    # hessian of a function with a checkpoint whose body applies the rule to a closure
    close(xp, gpuad.hessian(lambda x: gnp.sum(gpuad.checkpoint(lambda y: F(x) * y)(c)))(x),
          0.7 * 2.0)


@pytest.mark.parametrize("name", ["square", "exp", "abs2", "real_to_complex", "mixed"])
def test_custom_jvp_transposes_its_rule_for_complex_arguments(name, xp):
    """Reverse mode through a custom_jvp takes the rule's transpose for complex arguments
    too (they got a zero cotangent: only float inputs were transposed), equal to reverse
    mode through the body itself, for complex and real inputs and outputs."""
    z = xp.asarray([1.0 + 2.0j, -0.5 + 0.3j])
    w = xp.asarray([0.3, -0.8])
    body, rule, args = {
        "square": (lambda z: z * z, lambda p, t: 2.0 * p[0] * t[0], (z,)),
        "exp": (lambda z: gnp.exp(z), lambda p, t: gnp.exp(p[0]) * t[0], (z,)),
        "abs2": (lambda z: gnp.real(z * gnp.conj(z)),
                 lambda p, t: 2.0 * gnp.real(gnp.conj(p[0]) * t[0]), (z,)),
        "real_to_complex": (lambda x: x * (1.0 + 2.0j), lambda p, t: t[0] * (1.0 + 2.0j), (w,)),
        "mixed": (lambda z, x: z * x, lambda p, t: t[0] * p[1] + p[0] * t[1], (z, w)),
    }[name]
    f = gpuad.custom_jvp(body)
    f.defjvp(lambda p, t: (f(*p), rule(p, t)))
    out = body(*args)
    ct = xp.full(out.shape, 0.4 + 0.1j if out.dtype.kind == "c" else 0.4, dtype=out.dtype)
    want = gpuad.vjp(body, *args)[1](ct)
    got = gpuad.vjp(f, *args)[1](ct)
    for g, h in zip(got, want):
        close(xp, g, h, rtol=1e-15)
    loss = lambda fn: (lambda *a: gnp.sum(gnp.real(fn(*a) * (0.3 - 0.7j))))
    for g, h in zip(gpuad.grad(loss(f), argnums=(0, len(args) - 1))(*args),
                    gpuad.grad(loss(body), argnums=(0, len(args) - 1))(*args)):
        close(xp, g, h, rtol=1e-15)


@pytest.mark.parametrize("order", [1, 2, 3, 6])
def test_custom_jvp_under_taylor_mode_applies_its_rule(order, xp):
    """Taylor mode through a custom_jvp (it raised AttributeError: the call took the
    reverse-mode path on a Taylor trace): the series of its rule, for a rule that differs
    from the body, and for pytree arguments and outputs with a nondiff argument."""
    _, fj = _rule_differs_from_body()
    xh, vh = np.array([1.5, 0.5]), np.array([1.0, 2.0])
    x, v = xp.asarray(xh), xp.asarray(vh)
    want = [xh ** 3, 2 * xh * vh, vh ** 2] + [np.zeros(2)] * 4    # the rule's series
    for g, w in zip(gpuad.taylor(fj, x, v, order=order), want):
        close(xp, g, w, rtol=1e-15)

    @gpuad.custom_jvp
    def pair(d, k):
        return {"s": d["a"] * k, "t": (d["b"] ** 2, d["a"])}
    pair.nondiff_argnums = (1,)

    @pair.defjvp
    def _(k, p, t):
        (d,), (td,) = p, t
        return pair(d, k), {"s": td["a"] * k, "t": (2 * d["b"] * td["b"], td["a"])}

    def via_rule(y):
        o = pair({"a": y, "b": gnp.sin(y)}, 3.0)
        return o["s"] + o["t"][0] * o["t"][1]
    for g, w in zip(gpuad.taylor(via_rule, x, v, order=order),
                    gpuad.taylor(lambda y: 3.0 * y + gnp.sin(y) ** 2 * y, x, v, order=order)):
        close(xp, g, w, rtol=1e-13, atol=1e-13)


def test_a_custom_vjp_residual_is_held_until_the_pullback_ran():
    # A newcomer's review: bwd read the caller's array from its residuals, and a write
    # into it between vjp and the pullback changed the derivative silently.
    import gc
    from gpuad import tape
    W = np.array([1.0, 2.0, 3.0])
    x = np.array([0.1, 0.2, 0.3])

    @gpuad.custom_vjp
    def f(u):
        return gnp.sin(u) * W
    f.defvjp(lambda u: (f(u), (u, W)), lambda r, g: (g * gnp.cos(r[0]) * r[1],))
    _, pb = gpuad.vjp(f, x)
    with pytest.raises(ValueError, match="read-only"):
        W[:] = 100.0
    np.testing.assert_allclose(pb(np.ones(3))[0], np.cos(x) * [1.0, 2.0, 3.0], rtol=1e-15)
    del pb
    gc.collect()
    W[:] = 5.0                        # free again once no tape needs it
    assert id(W) not in tape._HOLDS


def test_custom_vjp_whose_fwd_calls_itself_keeps_its_rule_at_every_order():
    """fwd calling the function itself (as safe_norm's docstring does): inside fwd the call
    was the raw function at every enclosing level, so with an opaque implementation
    (stop_gradient) the second derivative lost a term and forward mode gave zeros. The
    rule holds at every order now, forward mode by transposing bwd (JAX's jacrev(grad)
    gives the same 0.75/sqrt(x); JAX refuses forward mode)."""
    @gpuad.custom_vjp
    def opaque_sqrt(x):
        return gpuad.stop_gradient(gnp.sqrt(x))

    def fwd(x):
        y = opaque_sqrt(x)
        return y, (y,)
    opaque_sqrt.defvjp(fwd, lambda res, g: (g / (2 * res[0]),))
    x = np.array([0.5, 2.0, 4.0])
    f = lambda x: gnp.sum(opaque_sqrt(x) * x)        # noqa: E731  sum x^1.5
    np.testing.assert_allclose(gpuad.grad(f)(x), 1.5 * np.sqrt(x), rtol=1e-15)
    h = np.diag(0.75 / np.sqrt(x))
    for H in (gpuad.jacrev(gpuad.grad(f))(x), gpuad.hessian(f)(x),
              gpuad.jacfwd(gpuad.grad(f))(x)):
        np.testing.assert_allclose(H, h, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(gpuad.hvp(f, x, np.ones(3)), 0.75 / np.sqrt(x), rtol=1e-15)
    np.testing.assert_allclose(gpuad.hvp(f, x, np.eye(3), batched=True), h, rtol=1e-15)
    np.testing.assert_allclose(gpuad.jvp(f, (x,), (np.ones(3),))[1], np.sum(1.5 * np.sqrt(x)),
                               rtol=1e-15)
    np.testing.assert_allclose(gpuad.jacfwd(opaque_sqrt)(x), np.diag(0.5 / np.sqrt(x)),
                               rtol=1e-15)
    # a rule that differs from the function's own derivative is the one used in forward mode
    @gpuad.custom_vjp
    def clipped(x):
        return gnp.clip(x, -1.0, 1.0)
    clipped.defvjp(lambda x: (clipped(x), None), lambda res, g: (g,))    # straight-through
    z = np.array([-3.0, 0.5, 2.0])
    np.testing.assert_array_equal(gpuad.jvp(clipped, (z,), (np.ones(3),))[1], np.ones(3))
    np.testing.assert_array_equal(gpuad.grad(lambda z: gnp.sum(clipped(z)))(z), np.ones(3))


def test_custom_vjp_forward_mode_transposes_bwd_in_every_shape_of_rule():
    """Forward mode transposes bwd (linear in g) at g = 1: a bwd that skips a zero
    cotangent still gives J t (transposed at g = 0 it gave 0, silently); integer outputs and
    integer arguments have no tangent (they raised); negative nondiff_argnums are
    normalised (StopIteration); a bwd reading g as a number is refused by name."""
    x, v = np.array([0.3, 1.2, -0.7]), np.array([1.0, 2.0, 3.0])

    @gpuad.custom_vjp
    def s(x):
        return gnp.sin(x)

    def s_bwd(x, g):
        if not bool(gnp.any(g != 0)):
            return (None,)
        return (g * gnp.cos(x),)
    s.defvjp(lambda x: (s(x), x), s_bwd)
    np.testing.assert_allclose(gpuad.jvp(s, (x,), (v,))[1], np.cos(x) * v, rtol=1e-15)
    np.testing.assert_allclose(gpuad.jacfwd(s)(x), np.diag(np.cos(x)), rtol=1e-15)

    @gpuad.custom_vjp
    def with_index(x):
        return gnp.sin(x), gnp.argmax(x)
    with_index.defvjp(lambda x: (with_index(x), x), lambda x, g: (g[0] * gnp.cos(x),))
    np.testing.assert_allclose(gpuad.hessian(lambda x: gnp.sum(with_index(x)[0]))(x),
                               np.diag(-np.sin(x)), rtol=1e-15)

    @gpuad.custom_vjp
    def scaled(x, n):
        return x * n
    scaled.defvjp(lambda x, n: (scaled(x, n), n), lambda n, g: (g * n, None))
    n = np.array([1, 2, 3])
    np.testing.assert_allclose(gpuad.hessian(lambda x: gnp.sum(scaled(x, n) ** 2))(x),
                               np.diag(2.0 * n ** 2), rtol=1e-15)
    np.testing.assert_allclose(gpuad.hvp(lambda x: gnp.sum(scaled(x, n) ** 2), x, np.eye(3),
                                         batched=True), np.diag(2.0 * n ** 2), rtol=1e-15)

    @gpuad.custom_vjp
    def last_static(x, k):
        return k * x
    last_static.nondiff_argnums = (-1,)
    last_static.defvjp(lambda x, k: (last_static(x, k), None), lambda k, res, g: (k * g,))
    np.testing.assert_allclose(gpuad.jacfwd(lambda x: last_static(x, 3.0))(x), 3 * np.eye(3))

    @gpuad.custom_vjp
    def reads(x):
        return gnp.sin(x)
    reads.defvjp(lambda x: (reads(x), x), lambda x, g: (g.item() * gnp.cos(x),))
    with pytest.raises(TypeError, match="reads.*bwd: item\\(\\) of the cotangent"):
        gpuad.jvp(reads, (np.array(0.3),), (np.array(1.0),))
    assert gpuad.grad(reads)(np.array(0.3)) == pytest.approx(np.cos(0.3))    # still usable


def test_custom_vjp_forward_mode_names_a_wrong_bwd():
    @gpuad.custom_vjp
    def f(x):
        return gnp.sin(x)
    f.defvjp(lambda x: (f(x), x), lambda x, g: (gnp.sum(g * gnp.cos(x)),))   # wrong shape
    with pytest.raises(ValueError, match="custom_vjp '.*f': bwd, transposed for forward mode"):
        gpuad.jvp(f, (np.ones(3),), (np.ones(3),))
    with pytest.raises(ValueError, match="custom_vjp '.*f': bwd returned a cotangent of shape"):
        gpuad.grad(lambda x: gnp.sum(f(x)))(np.ones(3))
