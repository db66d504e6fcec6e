"""gpuad.scipy.integrate: values against SciPy and closed forms; derivatives against closed
forms, against central differences of the same discrete solver on a fixed mesh, the
dot-product test, second order; checkpoint_loop's bound on stored states; the errors. Each
on NumPy and on CuPy arrays (``xp``, conftest.py): states, times and parameters are put on
``xp``, results checked to live there, references from SciPy on host copies."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.linalg as sl

import gpuad
import gpuad.numpy as gnp
import gpuad.scipy.integrate as gsi
from gpuad.testing import check_grads

from _xp import close, host, on, put

A = np.array([[-0.5, 1.0, 0.0], [-1.0, -0.2, 0.3], [0.1, 0.0, -0.8]])
Y0 = np.array([1.0, -0.5, 0.25])


def vdp(t, y, mu=0.5):
    return gnp.stack([y[1], mu * (1.0 - y[0] * y[0]) * y[1] - y[0]])


def vdp_np(t, y, mu=0.5):
    return np.array([y[1], mu * (1.0 - y[0] * y[0]) * y[1] - y[0]])


def T(l, s):
    """Griewank & Walther's optimum number of step evaluations (as test_checkpoint)."""
    s = min(s, max(1, l - 1))
    t = 0
    while math.comb(s + t, s) < l:
        t += 1
    return l + t * l - math.comb(s + t, s + 1)


# ------------------------------------------------------------------ values

@pytest.mark.parametrize("method", ["RK45", "RK23", "DOP853"])
def test_solve_ivp_takes_scipys_steps(method, xp):
    # Same controller, same tableau: the same accepted steps. They differ by rounding only:
    # the error estimate is a difference of two formulas of size ~rtol |y|, so a rounding of
    # ~eps |y| in the stages moves it by ~eps / rtol = 2e-10 relative, the step by a fifth
    # of that (err^(-1/5)); measured 5e-11 (RK45), 5e-13 (RK23). The solution moves by
    # far less than the tolerance.
    kw = dict(rtol=1e-6, atol=1e-9, method=method)
    sol = gsi.solve_ivp(vdp, xp.asarray([0.0, 8.0]), xp.asarray([2.0, 0.0]), **kw)
    ref = si.solve_ivp(vdp_np, (0.0, 8.0), np.array([2.0, 0.0]), **kw)
    assert sol.t.shape == ref.t.shape and sol.y.shape == ref.y.shape
    # DOP853: its 5th-order estimate sums 13 terms of size ~|y| with weights up to 1.7 to
    # a result of ~1e-6 |y|; summed in another order than SciPy's np.dot it differs by
    # ~1e-8 relative, the step by an eighth of that (err^(-1/8)). gpuad sums in np.dot's
    # order too (measured 7.6e-11, and 2.6e-10 on an AVX-512 CPU whose BLAS kernel orders
    # the sum differently; a left-to-right sum gave 1.9e-9 and 1.3e-7 on the two). The
    # values then sit at times that differ by |dt| <= 8e-8 and move by |y'| |dt| <= 3 * 8e-8.
    dop = method == "DOP853"
    close(sol.t, ref.t, xp, rtol=1e-8 if dop else 2e-10, atol=0)
    close(sol.y, ref.y, xp, rtol=0, atol=2.5e-7 if dop else 1e-9)
    assert sol.nfev == ref.nfev and sol.status == 0 and sol.success
    assert isinstance(sol, gsi.OdeResult)


def test_solve_ivp_with_t_eval_and_backwards(xp):
    te = np.linspace(0.0, 5.0, 7)
    sol = gsi.solve_ivp(vdp, (0.0, 5.0), xp.asarray([2.0, 0.0]), t_eval=xp.asarray(te),
                        rtol=1e-9, atol=1e-12)
    ref = si.solve_ivp(vdp_np, (0.0, 5.0), np.array([2.0, 0.0]), t_eval=te, rtol=1e-12,
                       atol=1e-14, method="DOP853")
    on(xp, sol.t)
    np.testing.assert_array_equal(host(sol.t), te)
    close(sol.y, ref.y, xp, rtol=0, atol=1e-7)
    back = gsi.solve_ivp(vdp, (5.0, 0.0), sol.y[:, -1], t_eval=xp.asarray(te[::-1]), rtol=1e-9,
                         atol=1e-12)
    close(back.y[:, -1], [2.0, 0.0], xp, rtol=0, atol=1e-6)
    # no output time after t0: an empty result, where the state lives
    none = gsi.solve_ivp(vdp, (0.0, 5.0), xp.asarray([2.0, 0.0]), t_eval=xp.asarray(te[:0]))
    assert none.y.shape == (2, 0)
    on(xp, none.y)


def test_odeint_closed_forms_and_scipy(xp):
    tn = np.linspace(0.0, 3.0, 7)
    t, y0 = xp.asarray(tn), xp.asarray(Y0)
    # exponential decay, in SciPy's (args=) and JAX's (*args) spellings
    y = gsi.odeint(lambda y, t, k: -k * y, y0, t, 0.7)
    close(y, Y0 * np.exp(-0.7 * tn)[:, None], xp, rtol=1e-7, atol=0)
    y2 = gsi.odeint(lambda y, t, k: -k * y, y0, t, args=(0.7,))
    on(xp, y2)
    np.testing.assert_array_equal(host(y2), host(y))
    # a per-component atol (SciPy's array atol) equal to the default: the same steps
    y2 = gsi.odeint(lambda y, t, k: -k * y, y0, t, 0.7, atol=np.full(3, 1.49012e-8))
    on(xp, y2)
    np.testing.assert_array_equal(host(y2), host(y))
    # harmonic oscillator, y0 and func's value lists as SciPy users write them: the state
    # lives where the times live
    y = gsi.odeint(lambda y, t: [y[1], -y[0]], [1.0, 0.0], t)
    assert y.shape == (7, 2)
    close(y, np.stack([np.cos(tn), -np.sin(tn)], 1), xp, rtol=0, atol=1e-7)
    # SciPy's LSODA at the same (default) tolerances: its error here is 1.2e-7
    ref = si.odeint(lambda y, t: [y[1], -y[0]], [1.0, 0.0], tn)
    close(y, ref, xp, rtol=0, atol=2.5e-7)
    # info: host metadata (NumPy arrays, as SciPy's), whatever the state's device
    y, info = gsi.odeint(lambda y, t: -y, 1.0, t, full_output=True)
    on(xp, y)
    assert y.shape == (7,) and info["nst"].shape == (6,) and (np.diff(info["nst"]) > 0).all()
    assert (info["nfe"] >= 6 * info["nst"]).all()
    np.testing.assert_array_equal(info["tcur"], tn[1:])


@pytest.mark.parametrize("method,order,hs", [("RK45", 5, (0.1, 0.05)), ("RK23", 3, (0.1, 0.05)),
                                             ("DOP853", 8, (0.4, 0.2))])
def test_fixed_step_converges_at_its_order(method, order, hs, xp):
    # the global error of a fixed-step method of order p falls by 2^p when h halves (the
    # steps of DOP853 are long enough for its error, ~1e-9 and ~4e-12, to stand above
    # rounding)
    f = (lambda y, t: gnp.stack([y[1], -y[0]]))
    exact = np.array([np.cos(2.0), -np.sin(2.0)])
    outs = [gsi.odeint(f, xp.asarray([1.0, 0.0]), xp.asarray([0.0, 2.0]), fixed_step=h,
                       method=method) for h in hs]
    on(xp, outs)
    errs = [np.linalg.norm(host(o)[-1] - exact) for o in outs]
    assert 2 ** (order - 0.5) < errs[0] / errs[1] < 2 ** (order + 0.5)


def test_pytree_state(xp):
    def f(s, t, w):
        return {"x": s["v"], "v": -w * s["x"]}
    tn = np.linspace(0.0, 1.0, 4)
    t = xp.asarray(tn)
    s0 = put(xp, {"x": np.ones(2), "v": np.zeros(2)})
    out = gsi.odeint(f, s0, t, 4.0)
    on(xp, out)
    assert out["x"].shape == (4, 2)
    close(out["x"][:, 0], np.cos(2 * tn), xp, rtol=0, atol=1e-7)
    g = gpuad.grad(lambda w: gnp.sum(gsi.odeint(f, s0, t, w)["x"][-1]))(xp.asarray(4.0))
    # x = cos(sqrt(w) t): dx/dw = -sin(sqrt(w) t) t / (2 sqrt(w))
    close(g, 2 * (-np.sin(2.0) / 4.0), xp, rtol=1e-6)


# ------------------------------------------------------------------ derivatives

def test_jacobian_of_linear_ode_is_expm(xp):
    t, a = xp.asarray([0.0, 1.5]), xp.asarray(A)
    lin = (lambda y0: gsi.odeint(lambda y, t: a @ y, y0, t, rtol=1e-11, atol=1e-11)[-1])
    want = sl.expm(1.5 * A)
    close(gpuad.jacrev(lin)(xp.asarray(Y0)), want, xp, rtol=0, atol=1e-9)
    close(gpuad.jacfwd(lin)(xp.asarray(Y0)), want, xp, rtol=0, atol=1e-9)


def test_derivative_in_output_time_and_rate(xp):
    k, y0 = 0.7, xp.asarray(Y0)
    f = (lambda t, k: gsi.odeint(lambda y, s, k: -k * y, y0, gnp.stack([0.0, t]), k,
                                 rtol=1e-11, atol=1e-11)[-1])
    dt = gpuad.jacfwd(f)(xp.asarray(2.0), k)
    close(dt, -k * Y0 * np.exp(-2 * k), xp, rtol=0, atol=1e-9)
    dk = gpuad.jacrev(f, argnums=1)(xp.asarray(2.0), xp.asarray(k))
    close(dk, -2.0 * Y0 * np.exp(-2 * k), xp, rtol=0, atol=1e-9)
    # derivative in t0 and t_span through solve_ivp
    g = gpuad.grad(lambda ts: gsi.solve_ivp(lambda t, y: -k * y, ts, y0[:1], rtol=1e-11,
                                            atol=1e-11).y[0, -1])(xp.asarray([0.5, 2.0]))
    e = np.exp(-1.5 * k)
    close(g, [k * Y0[0] * e, -k * Y0[0] * e], xp, rtol=0, atol=1e-9)


def _forced(y, t, w, c):
    return gnp.stack([y[1], -w * gnp.sin(y[0]) + c * gnp.cos(t)])


@pytest.mark.parametrize("method", ["RK45", "DOP853"])
def test_fixed_step_derivatives_against_central_differences_to_second_order(method, xp):
    # Fixed steps: the solution is a smooth function of y0, t and the parameters, so
    # central differences of the same solver check the JVP, the dot-product test the VJP,
    # and the same on the first derivatives (jvp of jvp, jvp/vjp of vjp: HVPs).
    def fun(y0, t, w, c):
        # (DOP853 with longer steps: 12 stages a step, and its error is smaller still)
        return gsi.odeint(_forced, y0, t, w, c, method=method,
                          fixed_step=0.13 if method == "RK45" else 0.4)
    args = put(xp, (np.array([0.3, -0.2]), np.array([0.0, 0.75, 1.6]), np.array(1.3),
                    np.array(0.4)))
    on(xp, fun(*args))
    check_grads(fun, args, order=2, atol=1e-7, rtol=1e-7)


@pytest.mark.parametrize("method", ["RK45", "DOP853"])
def test_adaptive_gradient_is_the_fixed_mesh_derivative(method, xp):
    # The convention: the accepted steps are constants. Central differences of the solver
    # replayed on the mesh the controller chose at the base point match the gradient
    # (to the rounding of the differences), while the solution itself is the adaptive one.
    tn = [0.0, 1.0, 2.5]
    t = xp.asarray(tn)
    y0, w = xp.asarray([0.3, -0.2]), 1.3
    loss = (lambda y0, w: gnp.sum(gsi.odeint(_forced, y0, t, w, 0.4, rtol=1e-7,
                                             atol=1e-9, method=method) ** 2))
    gy, gw = gpuad.grad(loss, argnums=(0, 1))(y0, xp.asarray(w))
    on(xp, (gy, gw))

    T = [t[i] for i in range(3)]
    prob = gsi._Problem(_forced, gpuad.tree.LEAF, [(2,)], np.dtype(np.float64), (w, 0.4),
                        False, "test", "f")
    mesh = gsi._adaptive_mesh(prob, [y0], T, gsi._METHODS[method], 1e-7, 1e-9, None, np.inf,
                              None, False, "test")
    assert sum(map(len, mesh.plans)) > (10 if method == "RK45" else 5)   # DOP853: longer steps

    def on_mesh(y0, w):
        p = gsi._Problem(_forced, gpuad.tree.LEAF, [(2,)], np.dtype(np.float64), (w, 0.4),
                         False, "test", "f")
        outs, _ = gsi._replay(p, [y0], T, mesh.plans, gsi._METHODS[method], None, None, False)
        on(xp, outs)
        return sum(float(xp.sum(o[0] ** 2)) for o in outs)
    np.testing.assert_allclose(on_mesh(y0, w), float(loss(y0, w)), rtol=1e-15)
    eps = 1e-6
    fd_w = (on_mesh(y0, w + eps) - on_mesh(y0, w - eps)) / (2 * eps)
    fd_y = [(on_mesh(y0 + eps * e, w) - on_mesh(y0 - eps * e, w)) / (2 * eps)
            for e in xp.asarray(np.eye(2))]
    close(gw, fd_w, xp, rtol=1e-8)
    close(gy, fd_y, xp, rtol=1e-8)


def test_adaptive_dot_product_jvp_vjp_and_hvp(xp):
    def fun(y0, t, w):
        return gsi.odeint(_forced, y0, t, w, 0.4, rtol=1e-6, atol=1e-9)
    args = put(xp, (np.array([0.3, -0.2]), np.array([0.0, 0.75, 1.6]), np.array(1.3)))
    check_grads(fun, args, order=1, modes=("rev",), atol=1e-10, rtol=1e-10)
    # HVP in the parameters = finite difference of the gradient (fixed steps: smooth)
    loss = (lambda p: gnp.sum(gsi.odeint(_forced, p[:2], args[1], p[2], p[3],
                                         fixed_step=0.1)[-1] ** 2))
    p, v = xp.asarray([0.3, -0.2, 1.3, 0.4]), xp.asarray([0.5, -1.0, 0.3, 0.7])
    hv = gpuad.hvp(loss, p, v)
    g = gpuad.grad(loss)
    eps = 1e-5
    close(hv, (g(p + eps * v) - g(p - eps * v)) / (2 * eps), xp, rtol=1e-7, atol=1e-9)
    close(gpuad.hessian(loss)(p) @ v, hv, xp, rtol=1e-10, atol=1e-12)


def test_value_under_a_transform_is_the_plain_value(xp):
    t = xp.asarray([0.0, 1.0, 2.0])
    f = (lambda y0: gsi.odeint(_forced, y0, t, 1.3, 0.4))
    y, _ = gpuad.vjp(f, xp.asarray([0.3, -0.2]))
    on(xp, y)
    np.testing.assert_array_equal(host(y), host(f(xp.asarray([0.3, -0.2]))))


# ------------------------------------------------------------------ memory

@pytest.mark.parametrize("fixed", [True, False])
def test_checkpoint_loop_bounds_the_stored_states(fixed, xp):
    # Every evaluation of the right-hand side is counted: the controller's pass (nfev),
    # then per output interval exactly T(n_i, s) Runge-Kutta steps of 6 stages, Revolve's
    # optimum with s stored states (x0 included) -- not the 2 n_i - 1 of storing all.
    calls = []

    def f(y, t, w):
        calls.append(1)
        return -w * gnp.sin(y)
    t = xp.asarray([0.0, 2.0, 3.0])
    kw = dict(fixed_step=0.05) if fixed else dict(rtol=1e-8, atol=1e-10)
    s = 3
    _, info = gsi.odeint(f, xp.ones(4), t, 1.1, full_output=True, **kw)
    n_plain = len(calls)
    del calls[:]
    g = gpuad.grad(lambda w: gnp.sum(gsi.odeint(f, xp.ones(4), t, w, snapshots=s, **kw)))(
        xp.asarray(1.1))
    on(xp, g)
    steps = np.diff(info["nst"], prepend=0)
    if fixed:
        assert list(steps) == [40, 20] and n_plain == 6 * 60
    else:
        assert n_plain == info["nfe"][-1] and min(steps) > 10
    mesh_pass = 0 if fixed else n_plain
    assert len(calls) == mesh_pass + 6 * sum(T(n, s) for n in steps)
    assert sum(T(n, s) for n in steps) > sum(2 * n - 1 for n in steps)   # it recomputed


def test_peak_memory_is_a_few_states(xp):
    n = 20_000
    rng = np.random.default_rng(0)
    w, y0 = xp.asarray(rng.uniform(0.5, 1.5, n)), xp.asarray(rng.standard_normal(n))
    t = xp.asarray([0.0, 4.0])
    state = y0.nbytes

    def loss(w, s):
        return gnp.sum(gsi.odeint(lambda y, t, w: -w * gnp.sin(y), y0, t, w,
                                  fixed_step=0.05, snapshots=s)[-1])
    peaks, grads = {}, {}
    for s in (2, 8, None):
        with gpuad.profile() as prof:
            grads[s] = gpuad.grad(loss)(w, s)
        peaks[s] = max(prof.peak_bytes.values()) / state
    on(xp, list(grads.values()))
    close(grads[2], grads[None], xp, rtol=1e-13)
    close(grads[8], grads[None], xp, rtol=1e-13)
    # 80 steps. With s snapshots: those, w, the output and one step's tape (6 stages, the
    # sines and combinations: ~30 states), their cotangents; measured s + 38 states.
    # Six more snapshots cost six states; storing every state costs >= 80.
    assert peaks[2] <= 2 + 40, peaks
    assert abs(peaks[8] - peaks[2] - 6) < 0.5, peaks
    assert peaks[None] >= 80 + 30, peaks


# ------------------------------------------------------------------ errors

def test_errors_name_the_function(xp):
    t = xp.asarray([0.0, 2.0])
    one = xp.asarray([1.0])
    with pytest.raises(RuntimeError, match="odeint: step size underflow"):
        gsi.odeint(lambda y, t: y * y, one, t)          # blows up at t = 1
    with pytest.raises(FloatingPointError, match="solve_ivp: the state became non-finite"), \
            np.errstate(over="ignore", invalid="ignore"):
        gsi.solve_ivp(lambda t, y: y * y, (0.0, 2.0), one, fixed_step=0.25)
    with pytest.raises(ValueError, match="odeint: the state or its derivative is not finite"):
        gsi.odeint(lambda y, t: y, xp.asarray([np.nan]), t)
    with pytest.raises(RuntimeError, match="mxstep=5"):
        gsi.odeint(lambda y, t: -y, one, xp.asarray([0.0, 10.0]), mxstep=5)
    with pytest.raises(TypeError, match="rtol is traced"):
        gpuad.grad(lambda r: gsi.odeint(lambda y, t: -y, one, t, rtol=r)[-1, 0])(
            xp.asarray(1e-6))
    with pytest.raises(NotImplementedError, match="method='BDF'"):
        gsi.solve_ivp(lambda t, y: -y, (0.0, 1.0), one, method="BDF")
    with pytest.raises(NotImplementedError, match="dense_output"):
        gsi.solve_ivp(lambda t, y: -y, (0.0, 1.0), one, dense_output=True)
    with pytest.raises(ValueError, match="returned shape"):
        gsi.odeint(lambda y, t: gnp.stack([y[0], y[1], y[0]]), xp.asarray([1.0, 0.0]), t)
    with pytest.raises(ValueError, match="monotonic"):
        gsi.odeint(lambda y, t: -y, one, xp.asarray([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="not within t_span"):
        gsi.solve_ivp(lambda t, y: -y, (0.0, 1.0), one, t_eval=xp.asarray([0.5, 2.0]))


def test_dtypes_follow_the_inputs(xp):
    y0n, tsn = np.array([1.0, 0.5], np.float32), np.array([0.0, 0.5, 1.0], np.float32)
    y0, ts = xp.asarray(y0n), xp.asarray(tsn)
    sol = gsi.solve_ivp(lambda t, y, k: -k * y, (np.float32(0), np.float32(1)), y0,
                        t_eval=ts, args=(np.float32(2.0),))
    on(xp, (sol.t, sol.y))
    assert sol.y.dtype == np.float32 and sol.y.shape == (2, 3)
    # rtol 1e-3 by default; float32 rounding far below it
    close(sol.y, y0n[:, None] * np.exp(-2 * tsn), xp, rtol=2e-3)
    assert gsi.odeint(lambda y, t: -y, y0, ts).dtype == np.float32
    assert gsi.odeint(lambda y, t: -y, y0, xp.asarray(tsn.astype(np.float64))).dtype == \
        np.float64
