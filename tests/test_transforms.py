"""The transforms: worked examples, compositions, pytrees, control flow, errors, profile;
each test on NumPy and on CuPy arrays (``xp``, conftest.py) unless it says why not."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import gpuad
import gpuad.numpy as gnp
from gpuad import core
from gpuad.testing import check_grads
import gpuad.scipy.special  # noqa: F401  (gpuad.scipy.special in the tables)

from _xp import close, host, on, put


# ------------------------------------------------------------------ the literature's examples

def test_gradient_of_log_plus_product():
    # Griewank & Walther's running example: f = ln(x1) + x1 x2 at (2, 5). (Python floats
    # live on the host: the same on every device; the CuPy form is the next test.)
    g = gpuad.grad(lambda x1, x2: gnp.log(x1) + x1 * x2, argnums=(0, 1))(2.0, 5.0)
    assert g == pytest.approx((5.5, 2.0), rel=1e-15)
    assert all(isinstance(v, float) for v in g)


def test_gradient_of_log_plus_product_on_arrays(xp):
    g = gpuad.grad(lambda x1, x2: gnp.log(x1) + x1 * x2, argnums=(0, 1))(
        xp.asarray(2.0), xp.asarray(5.0))
    close(g, (5.5, 2.0), xp, rtol=1e-15)


def test_jvp_of_two_output_map(xp):
    def f(x1, x2):
        return (x1 * x2 + gnp.sin(x1), gnp.exp(x2) + x1 ** 2)
    out, t = gpuad.jvp(f, put(xp, (np.array(1.0), np.array(0.0))),
                       put(xp, (np.array(2.0), np.array(-1.0))))
    on(xp, (out, t))
    assert float(t[0]) == pytest.approx(-1 + 2 * math.cos(1), rel=1e-14)
    assert float(t[1]) == pytest.approx(3.0, rel=1e-14)
    assert float(out[0]) == pytest.approx(math.sin(1))


def test_derivative_of_x_squared_over_cos_at_pi(xp):
    d = gpuad.grad(lambda x: x ** 2 / gnp.cos(x))(xp.asarray(math.pi))
    close(d, -2 * math.pi, xp, rtol=1e-14)


# ------------------------------------------------------------------ compositions

def f_scalar(x):
    return gnp.sin(x) * gnp.exp(0.5 * x) + x ** 3


def d1(x):
    return math.cos(x) * math.exp(0.5 * x) + 0.5 * math.sin(x) * math.exp(0.5 * x) + 3 * x ** 2


def d2(x):
    e = math.exp(0.5 * x)
    return -math.sin(x) * e + math.cos(x) * e + 0.25 * math.sin(x) * e + 6 * x


def d3(x):
    e = math.exp(0.5 * x)
    return (-math.cos(x) * e - 0.5 * math.sin(x) * e - math.sin(x) * e + 0.5 * math.cos(x) * e
            + 0.25 * math.cos(x) * e + 0.125 * math.sin(x) * e + 6)


@pytest.mark.parametrize("x", [0.3, -1.2])
def test_grad_of_grad_of_grad(x, xp):
    g = gpuad.grad
    a = xp.asarray(x)
    close(g(f_scalar)(a), d1(x), xp, rtol=1e-13)
    close(g(g(f_scalar))(a), d2(x), xp, rtol=1e-13)
    close(g(g(g(f_scalar)))(a), d3(x), xp, rtol=1e-12)


def test_every_pairing_of_modes_agrees(xp):
    x = xp.asarray(0.7)
    one = xp.asarray(1.0)
    fwd = lambda f: (lambda x: gpuad.jvp(f, (x,), (one,))[1])     # noqa: E731
    rev = lambda f: (lambda x: gpuad.vjp(f, x)[1](one)[0])         # noqa: E731
    for outer in (fwd, rev):
        for inner in (fwd, rev):
            assert float(outer(inner(f_scalar))(x)) == pytest.approx(d2(0.7), rel=1e-13)
    assert float(fwd(rev(fwd(f_scalar)))(x)) == pytest.approx(d3(0.7), rel=1e-12)


def test_check_grads_order_three_on_a_program(xp):
    def prog(x, y):
        z = gnp.tanh(x) * y + gnp.sqrt(y * y + 1.0)
        return gnp.sum(z * gnp.sin(x)) / (1.0 + gnp.sum(y ** 2))
    rng = np.random.default_rng(3)
    check_grads(prog, put(xp, (rng.standard_normal(4), rng.standard_normal(4))), order=3)


# ------------------------------------------------------------------ arguments and results

def test_pytrees_argnums_and_aux(xp):
    def loss(params, x):
        return gnp.sum((params["w"] * x + params["b"][0]) ** 2), {"n": 3}
    params = {"w": np.array([1.0, 2.0]), "b": [np.array(0.5)]}
    x = np.array([3.0, -1.0])
    (val, aux), g = gpuad.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
        put(xp, params), xp.asarray(x))
    r = params["w"] * x + 0.5
    assert aux == {"n": 3}
    close(val, np.sum(r ** 2), xp)
    close(g[0]["w"], 2 * r * x, xp, rtol=1e-15)
    close(g[0]["b"][0], np.sum(2 * r), xp, rtol=1e-15)
    close(g[1], 2 * r * params["w"], xp, rtol=1e-15)


def test_dtypes_are_kept(xp):
    x32 = xp.asarray(np.array([0.5, 1.5], dtype=np.float32))
    g = gpuad.grad(lambda x: gnp.sum(gnp.sin(x) * 2.0))(x32)
    assert g.dtype == np.float32
    close(g, 2 * np.cos(host(x32)), xp, rtol=1e-6)
    _, t = gpuad.jvp(gnp.exp, (x32,), (xp.ones(2, np.float32),))
    assert t.dtype == np.float32
    on(xp, t)


def test_unused_input_gets_zero_gradient(xp):
    g = gpuad.grad(lambda x, y: gnp.sum(x * 2.0), argnums=(0, 1))(xp.ones(2), xp.ones(3))
    close(g[1], np.zeros(3), xp)


def test_numpy_functions_on_traced_arrays_record(xp):
    g = gpuad.grad(lambda x: np.sum(np.sin(x) * x))(xp.asarray([0.3, 1.1]))
    x = np.array([0.3, 1.1])
    close(g, np.cos(x) * x + np.sin(x), xp, rtol=1e-14)


def test_stop_gradient(xp):
    g = gpuad.grad(lambda x: gnp.sum(x * gpuad.stop_gradient(x)))(xp.asarray([3.0, -2.0]))
    close(g, [3.0, -2.0], xp, rtol=0)


# ------------------------------------------------------------------ control flow

def test_branches_follow_the_data(xp):
    def f(x):
        if x > 0:
            return gnp.sin(x)
        return x ** 2
    close(gpuad.grad(f)(xp.asarray(0.5)), math.cos(0.5), xp)
    close(gpuad.grad(f)(xp.asarray(-0.5)), -1.0, xp)


def test_loop_count_depends_on_data(xp):
    def f(x):
        y = x
        while y.item() < 10.0:       # three doublings from 1.5 (float(y) is refused: issue 12)
            y = y * 2.0
        return y
    close(gpuad.grad(f)(xp.asarray(1.5)), 8.0, xp)
    with gpuad.profile() as prof:
        gpuad.grad(f)(xp.asarray(1.5))
    assert [r.phase for r in prof.host_reads] == ["forward"] * 4


# ------------------------------------------------------------------ errors

def test_grad_of_nonscalar_names_shape(xp):
    with pytest.raises(TypeError, match=r"\(3,\).*jacobian"):
        gpuad.grad(lambda x: x * 2.0)(xp.ones(3))


def test_integer_input_is_refused_with_its_dtype(xp):
    with pytest.raises(TypeError, match="argument 0.*int64"):
        gpuad.grad(lambda x: gnp.sum(x * 1.0))(xp.arange(3))
    with pytest.raises(TypeError, match="bool"):
        gpuad.grad(lambda x: gnp.sum(x * 1.0))(xp.asarray([True]))


@pytest.mark.parametrize("dt, to", [(np.float16, "float32"), (np.longdouble, "float64"),
                                    (np.clongdouble, "complex128")])
def test_unsupported_float_input_names_its_argument(dt, to):
    # float16 and the extended types have no kernels: the error names the transform's
    # argument, its dtype and the cast, and the engine stays usable afterwards.
    if np.dtype(dt) in (np.float64, np.complex128):
        pytest.skip("long double is double on this platform")
    x = np.ones(3, dt)
    transforms = [lambda f: gpuad.grad(f, argnums=1), lambda f: gpuad.jacfwd(f, argnums=1)]
    if np.dtype(dt).kind == "f":   # (these refuse a complex input first, naming holomorphic=)
        transforms += [lambda f: gpuad.jacrev(f, argnums=1), lambda f: gpuad.jacobian(f, 1),
                       lambda f: gpuad.hessian(f, argnums=1)]
    for transform in transforms:
        with pytest.raises(TypeError, match=rf"argument 1 .*{np.dtype(dt)}.*astype\(numpy\.{to}\)"):
            transform(lambda a, b: gnp.sum(gnp.real(a * b)))(np.ones(3), x)
    with pytest.raises(TypeError, match=rf"primal 0 .*{np.dtype(dt)}"):
        gpuad.jvp(gnp.sin, (x,), (x,))
    np.testing.assert_allclose(gpuad.grad(lambda a: gnp.sum(a * a))(np.ones(3)), 2.0)


def test_cotangent_of_wrong_shape_or_dtype(xp):
    _, f_vjp = gpuad.vjp(gnp.sin, xp.ones(3))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        f_vjp(xp.ones(2))
    with pytest.raises(ValueError, match="float32.*float64"):
        f_vjp(xp.ones(3, np.float32))
    # a pytree output: the message names the leaf by its path, not its position
    _, f_vjp = gpuad.vjp(lambda x: {"loss": gnp.sum(x), "per": (x, gnp.sin(x))}, xp.ones(3))
    with pytest.raises(ValueError, match=r"^cotangent\['per'\]\[1\] has shape \(2,\) but "
                                         r"the output\['per'\]\[1\] has shape \(3,\)"):
        f_vjp({"loss": 1.0, "per": (xp.ones(3), xp.ones(2))})
    with pytest.raises(ValueError, match=r"^cotangent\['per'\]\[0\] has dtype float32"):
        f_vjp({"loss": 1.0, "per": (xp.ones(3, np.float32), xp.ones(3))})
    g = f_vjp({"loss": 1.0, "per": (xp.ones(3), xp.zeros(3))})[0]    # still usable
    close(g, [2.0, 2.0, 2.0], xp)


def test_numpy_function_without_rule_is_named(xp):
    with pytest.raises(NotImplementedError, match="frexp"):
        gpuad.grad(lambda x: gnp.sum(np.frexp(x)[0]))(xp.ones(2))
    with pytest.raises(NotImplementedError, match="roots"):
        gpuad.grad(lambda x: gnp.sum(np.roots(x)))(xp.ones(3))


def test_exception_leaves_engine_clean(xp):
    def bad(x):
        gnp.sin(x)
        raise RuntimeError("user error")
    with pytest.raises(RuntimeError, match="user error"):
        gpuad.grad(bad)(xp.ones(2))
    assert core.current() is None
    close(gpuad.grad(lambda x: gnp.sum(gnp.sin(x)))(xp.zeros(2)), [1, 1], xp)


def test_leaked_tracer_is_reported(xp):
    leak = []
    gpuad.grad(lambda x: (leak.append(x), gnp.sum(x))[1])(xp.ones(2))
    with pytest.raises(RuntimeError, match="escaped"):
        gnp.sin(leak[0])


def test_threads_have_their_own_tapes(xp):
    results, errors = {}, []

    def work(i):
        try:
            x = np.linspace(0, 1, 50) + i
            for _ in range(20):
                g = gpuad.grad(lambda x: gnp.sum(gnp.sin(x) * x))(xp.asarray(x))
            results[i] = (g, np.cos(x) * x + np.sin(x))
        except Exception as e:    # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for g, want in results.values():
        close(g, want, xp, rtol=1e-13)


# ------------------------------------------------------------------ launches

UNARY = ["exp", "sin", "tanh", "sigmoid", "erf"]


@pytest.mark.parametrize("name", UNARY + ["multiply", "divide", "power", "maximum"])
def test_one_reverse_launch_per_elementwise_vjp(name, xp):
    f = getattr(gnp, name)
    x = xp.linspace(0.2, 0.9, 1000)
    y = xp.linspace(1.1, 1.9, 1000)
    args = (x,) if name in UNARY else (x, y)
    _, f_vjp = gpuad.vjp(f, *args)
    with gpuad.profile() as prof:
        on(xp, f_vjp(xp.ones(1000)))
    assert prof.count("reverse") == 1, prof.summary()
    assert prof.launches[0].kernel == f"{name}_vjp"
    assert not prof.host_reads


def test_fan_out_accumulates_inside_the_fused_kernel(xp):
    # x feeds three ops; its cotangent is written once and then added into by the kernels.
    f = lambda x: gnp.sum(gnp.sin(x) + gnp.exp(x) + gnp.tanh(x))   # noqa: E731
    with gpuad.profile() as prof:
        g = gpuad.grad(f)(xp.linspace(0, 1, 100))
    x = np.linspace(0, 1, 100)
    close(g, np.cos(x) + np.exp(x) + 1 - np.tanh(x) ** 2, xp, rtol=1e-14)
    kernels = [r.kernel for r in prof.launches if r.phase == "reverse"]
    assert sorted(kernels) == ["exp_vjp", "sin_vjp", "tanh_vjp"], kernels


# ------------------------------------------------------------------ random programs

UNARY_SAFE = ["sin", "cos", "tanh", "exp", "sigmoid", "softplus", "arctan", "erf", "square"]
BINARY_SAFE = ["add", "subtract", "multiply", "maximum"]


@st.composite
def programs(draw):
    steps = draw(st.lists(st.tuples(st.sampled_from(UNARY_SAFE + BINARY_SAFE),
                                    st.integers(0, 5), st.integers(0, 5)),
                          min_size=1, max_size=8))
    return steps


def _run(steps, x, y):
    vals = [x, y]
    for name, i, j in steps:
        f = getattr(gnp, name)
        a = vals[i % len(vals)]
        if name in UNARY_SAFE:
            v = f(a * 0.5)
        else:
            v = f(a, vals[j % len(vals)] * 0.7)
        vals.append(v)
    return gnp.sum(vals[-1] * vals[-1])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])   # xp: a module
@given(programs(), st.integers(0, 2 ** 16))
def test_random_programs_match_finite_differences(xp, steps, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5)
    # maximum's kink: keep the two arguments apart
    check_grads(lambda a, b: _run(steps, a, b), put(xp, (x, y)), order=1)


def test_stop_gradient_value_cannot_be_written_through():
    # A newcomer's review: stop_gradient handed back the traced value's own buffer (the
    # caller's input, or a value the tape saved); `c[c < 0] = 0` on it changed the input and
    # the derivatives silently. Now a read-only view: NumPy's own error, nothing changed.
    x = np.array([0.5, -1.0, 2.0])

    def f(a):
        c = gpuad.stop_gradient(a)
        c[c < 0] = 0.0
        return gnp.sum(a * c)
    with pytest.raises(ValueError, match="read-only"):
        gpuad.grad(f)(x)
    np.testing.assert_array_equal(x, [0.5, -1.0, 2.0])

    def g(a):
        y = a * 2.0
        c = gpuad.stop_gradient(y).copy()       # the way to a writable constant
        c += 100.0
        return gnp.sum(gnp.sin(y) * c)
    v, gr = gpuad.value_and_grad(g)(x)
    np.testing.assert_allclose(v, np.sum(np.sin(2 * x) * (2 * x + 100)), rtol=1e-14)
    np.testing.assert_allclose(gr, 2 * np.cos(2 * x) * (2 * x + 100), rtol=1e-14)
    plain = np.ones(2)
    assert gpuad.stop_gradient(plain) is plain          # not traced: untouched


def test_saved_arrays_cannot_change_before_the_sweep():
    # A newcomer's review: the tape saved the caller's arrays by reference, so writing into
    # one between the forward pass and the sweep changed the derivative silently.
    buf = np.array([0.3, 1.2, -0.7])
    out, pb = gpuad.vjp(gnp.sin, buf)
    with pytest.raises(ValueError, match="read-only"):
        buf[:] = 0.0
    np.testing.assert_allclose(pb(np.ones(3))[0], np.cos([0.3, 1.2, -0.7]), rtol=1e-15)
    del pb
    buf[:] = 0.0                          # the pullback is gone: writable again

    w = np.empty(3)

    def g(a):                             # a closed-over buffer rewritten between uses
        w[:] = 2.0
        y = a * w
        w[:] = 3.0
        return gnp.sum(y * a * w)
    with pytest.raises(ValueError, match="read-only"):
        gpuad.grad(g)(np.array([1.0, 2.0, 3.0]))
    assert w.flags.writeable              # thawed after the failed trace
    x = np.array([1.0, 2.0])
    gpuad.grad(lambda a: gnp.sum(gnp.sin(a) * w[:2]))(x)
    assert x.flags.writeable and w.flags.writeable     # thawed after the sweep
    frozen = np.ones(2)
    frozen.flags.writeable = False
    gpuad.grad(lambda a: gnp.sum(a * frozen))(x)
    assert not frozen.flags.writeable     # a read-only array stays read-only


def test_results_never_alias_what_the_caller_gave():
    x = np.array([1.0, 2.0, 3.0])
    out, pb = gpuad.vjp(gnp.copy, x)
    assert not np.shares_memory(out, x)
    e = np.ones(3)
    assert not np.shares_memory(pb(e)[0], e)          # identity: the cotangent itself
    (v, aux), g = gpuad.value_and_grad(lambda a: (gnp.sum(a), a), has_aux=True)(x)
    assert not np.shares_memory(aux, x)
    g = gpuad.grad(gnp.sum)(x)
    assert g.flags.writeable                          # not the broadcast view of 1
    g *= 2.0
    out, t = gpuad.jvp(lambda a: a, (x,), (e,))
    assert not np.shares_memory(out, x) and not np.shares_memory(t, e)
    # building a Jacobian row by row with one reused basis vector
    _, pb = gpuad.vjp(lambda a: gnp.reshape(a, (3,)), x)
    rows = []
    for i in range(3):
        e[:] = 0.0
        e[i] = 1.0
        rows.append(pb(e)[0])
    np.testing.assert_array_equal(np.stack(rows), np.eye(3))


def test_taylor_of_grad_through_a_constant_operand():
    # A newcomer's review: the Taylor trace wrapped an output the rule did not compute
    # (binary_vjp's cotangent of a constant operand: None) and the sweep then summed it.
    c = np.array([1.0, 2.0, 3.0, 4.0])
    x, v = np.array([0.3, -0.5, 1.2, 2.0]), np.ones(4)
    coeffs = gpuad.taylor(lambda y: gpuad.grad(lambda z: gnp.sum(gnp.sin(z) * c))(y),
                          x, v, order=2)
    for got, want in zip(coeffs, (c * np.cos(x), -c * np.sin(x), -c * np.cos(x) / 2)):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_an_array_stays_held_while_any_tape_needs_it():
    # A newcomer's review of the holds: dropping one pullback made an array writable while
    # a second pullback still needed it (the second's derivative then silently wrong), and
    # writes through the base array of a saved view went through.
    import gc
    from gpuad import tape
    x = np.array([1.0, 2.0])
    _, pb1 = gpuad.vjp(lambda v: v * v, x)
    _, pb2 = gpuad.vjp(lambda v: v * v * v, x)
    del pb1
    gc.collect()
    with pytest.raises(ValueError, match="read-only"):
        x[:] = 100.0
    np.testing.assert_array_equal(pb2(np.ones(2))[0], [3.0, 12.0])
    del pb2
    gc.collect()
    x[:] = 5.0                                 # the last holder is gone
    big = np.array([1.0, 2.0, 3.0, 4.0])
    _, pb = gpuad.vjp(lambda v: v * v, big[1:3])
    with pytest.raises(ValueError, match="read-only"):
        big[1:3] = 100.0                       # through the base
    np.testing.assert_array_equal(pb(np.ones(2))[0], [4.0, 6.0])
    base = np.array([1.0, 2.0, 3.0])
    c = base[:]
    _, pb3 = gpuad.vjp(lambda v: gnp.sum(v * c), np.ones(3))
    with pytest.raises(ValueError, match="read-only"):
        base[:] = 100.0
    del pb, pb3
    gc.collect()
    big[:] = 0.0
    base[:] = 1.0
    c[:] = 2.0                                 # the view too, once its base is free
    assert not tape._HOLDS and not tape._PENDING


def test_writing_a_traced_value_into_a_plain_array_says_how_to_rebind():
    def f(v):
        acc = np.zeros(2)
        acc += v
        return gnp.sum(acc)
    with pytest.raises(NotImplementedError, match="rebind instead"):
        gpuad.grad(f)(np.ones(2))


def test_releasing_holds_of_several_arrays_of_other_shapes():
    # The pending list of views was searched with ==, which compares arrays elementwise:
    # releasing two held arrays of shapes that do not broadcast raised inside a finalizer.
    import gc
    from gpuad import tape
    base, c = np.ones((4, 3)), np.ones(4)
    view = base[:]
    _, keep = gpuad.vjp(lambda u: gnp.sum(u), base)          # holds base
    _, pb = gpuad.vjp(lambda u, v: gnp.sum(u) + gnp.sum(v), view, c)
    del pb                     # view waits for base (pending); c is freed after it
    gc.collect()
    c[:] = 2.0
    del keep
    gc.collect()
    view[:] = 2.0
    assert not tape._HOLDS and not tape._PENDING


def _every_transform(W, x, V):
    """Each public transform of gpuad applied to a function that saves the closed-over
    array ``W`` (the name is the transform's, for the test's report)."""
    f = lambda u: gnp.sum(gnp.sin(u) * W)
    vec = lambda u: gnp.sin(u) * W
    step = lambda u: gnp.sin(u) * W
    cv = gpuad.custom_vjp(lambda u: gnp.sin(u) * W)
    cv.defvjp(lambda u: (gnp.sin(u) * W, u), lambda u, g: (g * gnp.cos(u) * W,))
    cj = gpuad.custom_jvp(lambda u: gnp.sin(u) * W)
    cj.defjvp(lambda p, t: (gnp.sin(p[0]) * W, gnp.cos(p[0]) * W * t[0]))
    return {
        "grad": lambda: gpuad.grad(f)(x),
        "value_and_grad": lambda: gpuad.value_and_grad(f)(x),
        "vjp": lambda: gpuad.vjp(vec, x)[1](x),
        "jvp": lambda: gpuad.jvp(vec, (x,), (x,)),
        "hvp": lambda: gpuad.hvp(f, x, x),
        "hvp batched": lambda: gpuad.hvp(f, x, V, batched=True),
        "hvp batched chunk": lambda: gpuad.hvp(f, x, V, batched=True, chunk=2),
        "jacfwd": lambda: gpuad.jacfwd(vec)(x),
        "jacrev": lambda: gpuad.jacrev(vec)(x),
        "jacobian": lambda: gpuad.jacobian(vec)(x),
        "hessian": lambda: gpuad.hessian(f)(x),
        "taylor": lambda: gpuad.taylor(f, x, x, order=3),
        "taylor of grad": lambda: gpuad.taylor(gpuad.grad(f), x, x, order=2),
        "checkpoint": lambda: gpuad.grad(lambda u: gnp.sum(gpuad.checkpoint(vec)(u)))(x),
        "checkpoint_loop": lambda: gpuad.grad(
            lambda u: gnp.sum(gpuad.checkpoint_loop(step, u, 5, snapshots=2)))(x),
        "custom_vjp": lambda: gpuad.grad(lambda u: gnp.sum(cv(u)))(x),
        "custom_jvp": lambda: gpuad.grad(lambda u: gnp.sum(cj(u)))(x),
        "check_grads": lambda: gpuad.check_grads(f, (x,), order=2),
        "vjp, pullback dropped unused": lambda: gpuad.vjp(vec, x),
        "grad of a function that raises": lambda: gpuad.grad(
            lambda u: f(u) + gnp.sum(u[np.array([5])]))(x),
    }


@pytest.mark.parametrize("name", list(_every_transform(None, None, None)))
def test_every_transform_lets_go_of_the_arrays_it_held(name):
    # A recorded replay (hvp's chunks) dropped its tape unswept and left the closed-over
    # array read-only for the rest of the process (CI: a later test found it held).
    import gc
    from gpuad import tape
    W = np.array([0.7, -1.3, 2.1])
    x = np.array([0.3, -0.8, 1.1])
    before = set(tape._HOLDS)
    try:
        _every_transform(W, x, np.stack([x, 2 * x, -x]))[name]()
    except IndexError:
        assert name.endswith("raises")
    gc.collect()
    assert set(tape._HOLDS) == before and id(W) not in tape._HOLDS
    W[:] = 1.0                         # writable again
    x[:] = 1.0


@pytest.mark.parametrize("argnums", [(0, 1), (1, 0), (0, 2, 1), (-1, 0), (1, 1)])
def test_tuple_argnums_nest_the_output_around_the_arguments(argnums, xp):
    """jacfwd, jacobian and hessian with tuple argnums: entry [out...][k] is the
    derivative with respect to args[argnums[k]], with shape out.shape + arg.shape (JAX's
    nesting). They nested the other way round (the tuple outside the output's structure),
    so hessian(f, (0, 1))[0][1] held d/dx0 of df/dx1, the transposed block, and a pytree
    output's Jacobian came back with the tuple outermost."""
    a, b = xp.asarray([0.3, -0.7]), xp.asarray([1.2, 0.4])    # same shapes: a transpose shows
    c = xp.asarray([[0.5, -0.1, 0.2]])
    args = (a, b, c)

    def f(x, y, z):
        return gnp.sum(gnp.sin(gnp.outer(x, y) ** 2) * x[:, None]) + gnp.sum(z ** 2) * gnp.sum(x * y ** 3)

    def vec(x, y, z):
        return {"p": gnp.tanh(x * y[::-1]), "q": (gnp.sum(z) * x ** 2, gnp.sum(y * z[0, :2]))}
    nums = tuple(k % 3 for k in argnums)
    H = gpuad.hessian(f, argnums=argnums)(*args)
    assert isinstance(H, tuple) and len(H) == len(nums)
    for i, ni in enumerate(nums):
        assert isinstance(H[i], tuple) and len(H[i]) == len(nums)
        for j, nj in enumerate(nums):
            want = gpuad.jacfwd(gpuad.grad(f, argnums=ni), argnums=nj)(*args)
            assert H[i][j].shape == args[ni].shape + args[nj].shape
            close(H[i][j], host(want), xp, rtol=1e-13, atol=1e-15)
    for jac in (gpuad.jacfwd, gpuad.jacobian):
        J = jac(vec, argnums=argnums)(*args)
        assert sorted(J) == ["p", "q"] and isinstance(J["q"], tuple) and len(J["q"]) == 2
        for k, nk in enumerate(nums):
            want = gpuad.jacfwd(vec, argnums=nk)(*args)
            for got, w, o in ((J["p"][k], want["p"], "p"), (J["q"][0][k], want["q"][0], "q0"),
                              (J["q"][1][k], want["q"][1], "q1")):
                assert got.shape == w.shape, (jac.__name__, o, k)
                close(got, host(w), xp, rtol=1e-14, atol=1e-15)
        # one array output: a tuple of Jacobians, one per argument
        J = jac(lambda x, y, z: vec(x, y, z)["p"], argnums=argnums)(*args)
        for k, nk in enumerate(nums):
            close(J[k], host(gpuad.jacfwd(lambda *s: vec(*s)["p"], argnums=nk)(*args)), xp,
                  rtol=1e-14)


def _same_tree(got, want, xp, rtol, where="", dtypes=True):
    """``got`` has ``want``'s pytree structure, leaf shapes and dtypes, and its values."""
    gl, gtd = gpuad.tree.flatten(got)
    wl, wtd = gpuad.tree.flatten(want)
    assert gtd == wtd, (where, gtd, wtd)
    for g, w in zip(gl, wl):
        assert tuple(g.shape) == tuple(w.shape), (where, g.shape, w.shape)
        assert g.dtype == w.dtype or not dtypes, (where, g.dtype, w.dtype)
        close(g, host(w), xp, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("inputs", ["tuple", "list", "dict", "nested", "namedtuple", "mixed"])
@pytest.mark.parametrize("outputs", ["array", "tuple", "dict"])
def test_jacrev_of_every_pytree_input_and_output(inputs, outputs, xp):
    """jacrev (and jacobian, which takes reverse mode for an array input) on pytree inputs
    and outputs nests the output's structure around the input's, each block shaped
    out_leaf.shape + in_leaf.shape, as jacfwd does. jacrev turned a pytree input into one
    array (numpy.asarray of the leaves): two leaves of one shape came back as a single
    stacked (out, 2, n) array of interleaved rows, with no error; other inputs raised, and
    pytree outputs were refused."""
    import collections
    a, b = xp.asarray([0.3, -0.7, 1.1]), xp.asarray([1.2, 0.4, -0.5])   # same shapes
    Pair = collections.namedtuple("Pair", "p q")
    x = {"tuple": (a, b), "list": [a, b], "dict": {"q": b, "p": a},
         "nested": {"p": (a, [xp.asarray(0.5)]), "q": b, "e": xp.zeros((0, 2))},
         "namedtuple": Pair(a, b),
         "mixed": {"p": a.astype(np.float32), "q": b}}[inputs]

    def parts(x):
        if inputs == "nested":
            return x["p"][0] * x["p"][1][0] + gnp.sum(x["e"]), x["q"]
        if inputs in ("dict", "mixed"):
            return x["p"], x["q"]
        return x[0], x[1]

    def f(x):
        p, q = parts(x)
        if outputs == "array":
            return gnp.sin(p) * q ** 2
        r = (gnp.sin(p) * q ** 2, gnp.sum(p * q ** 3) * gnp.ones(2), p[:0] * 2)
        return r if outputs == "tuple" else {"s": r[0], "t": {"u": r[1], "v": r[2]}}
    want = gpuad.jacfwd(f)(x)
    for jac in (gpuad.jacrev, gpuad.jacobian):
        # (a mixed float32/float64 block: jacfwd's has the output's dtype, jacrev's the
        # input's, as in JAX)
        _same_tree(jac(f)(x), want, xp, 1e-6 if inputs == "mixed" else 1e-14, jac.__name__,
                   dtypes=inputs != "mixed")
    # the blocks themselves: d sin(p) q^2 / dp = diag(cos(p) q^2), / dq = diag(2 sin(p) q)
    J = gpuad.jacrev(f)(x)
    J0 = J if outputs == "array" else J[0] if outputs == "tuple" else J["s"]
    ph, qh = host(a), host(b)
    dp = {"tuple": lambda j: j[0], "list": lambda j: j[0], "dict": lambda j: j["p"],
          "nested": lambda j: j["p"][0], "namedtuple": lambda j: j.p,
          "mixed": lambda j: j["p"]}[inputs](J0)
    dq = {"tuple": lambda j: j[1], "list": lambda j: j[1], "namedtuple": lambda j: j.q}.get(
        inputs, lambda j: j["q"])(J0)
    s = 0.5 if inputs == "nested" else 1.0
    close(dp, np.diag(s * np.cos(s * ph) * qh ** 2), xp, rtol=1e-6, atol=1e-7)
    close(dq, np.diag(2 * np.sin(s * ph) * qh), xp, rtol=1e-6, atol=1e-7)
    # tuple argnums: the output's structure around the tuple of arguments, every order
    g = lambda u, v, w: f({"tuple": (u, v), "list": [u, v], "dict": {"p": u, "q": v},
                           "namedtuple": Pair(u, v), "mixed": {"p": u, "q": v},
                           "nested": {"p": (u, [w]), "q": v, "e": xp.zeros((0, 2))}}[inputs])
    args = (a, b, xp.asarray(0.5 if inputs == "nested" else 1.0))
    for nums in ((0, 1), (1, 0), (2, 0, 1), (1,)):
        _same_tree(gpuad.jacrev(g, argnums=nums)(*args), gpuad.jacfwd(g, argnums=nums)(*args),
                   xp, 1e-14, nums)


def test_none_in_an_output_stays_none_in_every_transform(xp):
    """A None inside a pytree output is an empty subtree (JAX's convention): jvp's
    tangent, jacfwd's/jacrev's/jacobian's block and vjp's cotangent there are None. jvp
    and jacfwd gave a zero array (a 0-d tangent, a Jacobian block of shape x.shape) in its
    place, a leaf that is not there; vjp, jacrev and jacobian refused the output."""
    a = xp.asarray([0.3, -0.7, 1.1])

    def f(x):
        return {"y": gnp.sin(x) * 2.0, "n": None, "t": (None, x[:2] ** 2, [None])}
    want_J = {"y": np.diag(2 * np.cos(host(a))), "n": None,
              "t": (None, np.eye(3)[:2] * 2 * host(a), [None])}
    for jac in (gpuad.jacfwd, gpuad.jacrev, gpuad.jacobian):
        J = jac(f)(a)
        assert gpuad.tree.flatten(J)[1] == gpuad.tree.flatten(want_J)[1], jac.__name__
        close(J["y"], want_J["y"], xp, rtol=1e-15)
        close(J["t"][1], want_J["t"][1], xp, rtol=1e-15)
    out, t = gpuad.jvp(f, (a,), (xp.ones(3),))
    assert out["n"] is None and t["n"] is None and t["t"][0] is None and t["t"][2] == [None]
    close(t["y"], 2 * np.cos(host(a)), xp, rtol=1e-15)
    out, pull = gpuad.vjp(f, a)
    assert out["n"] is None and out["t"][2] == [None]
    ct = {"y": xp.ones(3), "n": None, "t": (None, xp.ones(2), [None])}
    close(pull(ct)[0], 2 * np.cos(host(a)) + np.r_[2 * host(a)[:2], 0.0], xp, rtol=1e-14)
    with pytest.raises(ValueError, match="None"):
        pull({"y": xp.ones(3), "n": xp.ones(1), "t": (None, xp.ones(2), [None])})
    # two lanes and tuple argnums keep the Nones too
    H = gpuad.hvp(lambda x: gnp.sum(x ** 3), a, xp.ones((2, 3)), batched=True)
    close(H, np.tile(6 * host(a), (2, 1)), xp, rtol=1e-15)
    J = gpuad.jacfwd(lambda x, y: (x * y, None), argnums=(0, 1))(a, a)
    assert J[1] is None and isinstance(J[0], tuple)
    J = gpuad.jacrev(lambda x, y: (x * y, None), argnums=(0, 1))(a, a)
    assert J[1] is None and isinstance(J[0], tuple)
    # a function that returns None altogether is still a missing return, in every
    # transform (forward mode returned None and a None tangent)
    for call in (lambda f: gpuad.vjp(f, a), lambda f: gpuad.jvp(f, (a,), (a,)),
                 lambda f: gpuad.jacfwd(f)(a), lambda f: gpuad.jacrev(f)(a),
                 lambda f: gpuad.jacobian(f)(a), lambda f: gpuad.hessian(f)(a),
                 lambda f: gpuad.grad(f)(a)):
        with pytest.raises(TypeError, match="missing return"):
            call(lambda x: None)


@pytest.mark.parametrize("mismatch", ["dict keys", "extra entry", "list for tuple",
                                      "nested keys"])
def test_a_tangent_of_another_structure_is_refused(mismatch, xp):
    """Tangents (jvp, hvp's v in every mode) must have their primal's pytree structure.
    jvp zipped the leaves of the two trees: a tangent {'a', 'c'} for a primal {'a', 'b'}
    silently became b's tangent, an extra entry was dropped, and a list passed for a
    tuple; hvp's v likewise."""
    a, b = xp.asarray([1.0, 2.0]), xp.asarray([3.0, 4.0])
    p = {"dict keys": {"a": a, "b": b}, "extra entry": (a, b), "list for tuple": (a, b),
         "nested keys": ({"a": a, "b": b},)}[mismatch]
    t = {"dict keys": {"a": xp.ones(2), "c": xp.ones(2)},
         "extra entry": (xp.ones(2), xp.ones(2), xp.ones(2)),
         "list for tuple": [xp.ones(2), xp.ones(2)],
         "nested keys": ({"a": xp.ones(2), "c": xp.ones(2)},)}[mismatch]

    def f(q):
        q0, q1 = tuple(gpuad.tree.flatten(q)[0])[:2]
        return gnp.sum(q0 ** 2 * q1)
    with pytest.raises(ValueError, match="structure"):
        gpuad.jvp(f, (p,), (t,))
    with pytest.raises(ValueError, match="structure"):
        gpuad.hvp(f, p, t)
    T = gpuad.tree.tree_map(lambda l: xp.stack([l, l, l]), t)
    for chunk in (None, 2):
        with pytest.raises(ValueError, match="structure"):
            gpuad.hvp(f, p, T, batched=True, chunk=chunk)
    with pytest.raises(ValueError, match="structure"):
        gpuad.tree.tree_map(lambda u, v: u + v, p, t)


def test_none_in_an_input_is_an_empty_subtree_in_every_transform(xp):
    """A None inside a pytree argument is an empty subtree (JAX's convention): nothing to
    differentiate, None where its gradient, tangent or Jacobian block would be. Every
    transform refused it ("argument 0 has dtype object")."""
    a, b = xp.asarray([0.3, -0.7]), xp.asarray(0.5)
    x = {"a": a, "n": None, "t": (None, b, [None])}
    v = {"a": xp.asarray([1.0, -1.0]), "n": None, "t": (None, xp.asarray(2.0), [None])}
    ah, bh = host(a), host(b)
    s = lambda p: gnp.sum(gnp.sin(p["a"]) * p["t"][1] ** 2)
    nones = lambda t: gpuad.tree.flatten(t)[1] == gpuad.tree.flatten(x)[1]
    g = gpuad.grad(s)(x)
    assert nones(g) and g["n"] is None and g["t"][0] is None and g["t"][2] == [None]
    close(g["a"], np.cos(ah) * bh ** 2, xp, rtol=1e-15)
    close(g["t"][1], 2 * bh * np.sum(np.sin(ah)), xp, rtol=1e-15)
    gv = gpuad.grad(lambda p, q: s(p) * q, argnums=(1, 0))(x, b)
    assert nones(gv[1])
    out, t = gpuad.jvp(s, (x,), (v,))
    close(t, np.sum(np.cos(ah) * host(v["a"])) * bh ** 2 + 2 * bh * 2 * np.sum(np.sin(ah)), xp,
          rtol=1e-14)
    assert nones(gpuad.vjp(s, x)[1](xp.asarray(1.0))[0])
    H = gpuad.hessian(s)(x)
    assert H["n"] is None and H["t"][0] is None and H["a"]["n"] is None
    close(H["a"]["a"], np.diag(-np.sin(ah) * bh ** 2), xp, rtol=1e-15)
    close(H["a"]["t"][1], 2 * bh * np.cos(ah), xp, rtol=1e-15)
    hv = gpuad.hvp(s, x, v)
    assert nones(hv)
    want = gpuad.hvp(lambda p: s({"a": p[0], "n": None, "t": (None, p[1], [None])}),
                     (a, b), (v["a"], v["t"][1]))
    close(hv["a"], host(want[0]), xp, rtol=1e-15)
    V = gpuad.tree.tree_map(lambda l: None if l is None else xp.stack([l, 2 * l, -l]), v)
    for chunk in (None, 1, 2):
        HV = gpuad.hvp(s, x, V, batched=True, chunk=chunk)
        assert nones(HV)
        close(HV["a"], np.stack([1, 2, -1])[:, None] * host(want[0]), xp, rtol=1e-14)
        close(HV["t"][1], np.stack([1, 2, -1]) * host(want[1]), xp, rtol=1e-14)
    f = lambda p: {"y": gnp.sin(p["a"]) * p["t"][1], "m": None}
    for jac in (gpuad.jacfwd, gpuad.jacrev, gpuad.jacobian):
        J = jac(f)(x)
        assert J["m"] is None and nones(J["y"]), jac.__name__
        close(J["y"]["a"], np.diag(np.cos(ah) * bh), xp, rtol=1e-15)
        close(J["y"]["t"][1], np.sin(ah), xp, rtol=1e-15)
    with pytest.raises(ValueError, match="None"):
        gpuad.jvp(s, (x,), ({"a": v["a"], "n": xp.ones(1), "t": (None, v["t"][1], [None])},))


def test_a_release_from_a_finalizer_inside_an_update_is_done_before_the_update_ends():
    # The garbage collector may free a holding node in the middle of hold()/release() on
    # the same thread: its release waits and is done before the lock is let go (never
    # stranded until some later call, never deadlocked, never interleaved).
    from gpuad import tape
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    held_a = tape.hold(a)

    def hold_b_while_a_node_dies(v):
        tape.release_when_freed(held_a)       # what a __del__ would do here
        assert id(a) in tape._HOLDS            # (deferred: the update is in progress)
        return tape._hold(v)

    held_b = tape._update(hold_b_while_a_node_dies, b)
    assert a.flags.writeable and id(a) not in tape._HOLDS
    assert not b.flags.writeable
    tape.release(held_b)
    assert b.flags.writeable and not tape._LATER


@pytest.mark.parametrize("wants", [0, 1, 2, "iterator"])
def test_a_vjp_rule_returning_too_few_cotangents_is_refused(wants):
    # The rule contract: one cotangent (or None) per input. A rule that leaves a traced
    # input without one (a short tuple, or an iterator) would drop its contribution
    # silently (d/dx sum(sin(x) e^x) would lose sin(x) e^x): an error names the primitive,
    # whichever of the engine's extra arguments (need, acc) the rule asks for. A constant
    # input past the end needs nothing; the engine stays usable.
    def vjp0(g, ins, out):
        return (g * ins[1],)

    def vjp1(g, ins, out, need):
        return (g * ins[1],)

    def vjp2(g, ins, out, need, acc):
        return (g * ins[1],)

    def vjp_iter(g, ins, out):
        return iter([g * ins[1], None])

    rule = {0: vjp0, 1: vjp1, 2: vjp2, "iterator": vjp_iter}[wants]
    prim = core.Primitive("test_scale_fewer_cotangents", lambda x, k: x * k, vjp=rule)
    x = np.array([0.5, -1.5, 2.0])

    def f(x):
        k = gnp.exp(x)                        # traced: a parent the rule gives nothing
        return gnp.sum(core.bind(prim, gnp.sin(x), k))

    with pytest.raises(TypeError, match="test_scale_fewer_cotangents.*one cotangent"):
        gpuad.grad(f)(x)
    if wants != "iterator":                   # a constant second input: nothing is lost
        k = np.exp(x)
        g = gpuad.grad(lambda x: gnp.sum(core.bind(prim, gnp.sin(x), k)))(x)
        np.testing.assert_allclose(g, np.cos(x) * k, rtol=1e-15)
    np.testing.assert_allclose(gpuad.grad(lambda x: gnp.sum(gnp.sin(x)))(x), np.cos(x))


# A differentiated Python float is traced as a 0-d NumPy array; beside CuPy arrays (closed
# over here) each function that hands its operands to a library call must move it to the
# device (CuPy refuses host arrays): the derivative is the one NumPy arrays give.
_SCALAR_BESIDE_ARRAYS = {
    "where": lambda x, s: gnp.sum(gnp.where(x > 0.5, x * s, s)),
    "stack": lambda x, s: gnp.sum(gnp.stack([x[0] * s, s])),
    "concatenate": lambda x, s: gnp.sum(gnp.concatenate([x * s, gnp.reshape(s, (1,))])),
    "hstack": lambda x, s: gnp.sum(gnp.hstack([x, gnp.reshape(s, (1,))]) ** 2),
    "append": lambda x, s: gnp.sum(gnp.append(x, s) ** 2),
    "select": lambda x, s: gnp.sum(gnp.select([x > 0.5], [x], s)),
    "piecewise": lambda x, s: gnp.sum(gnp.piecewise(x, [x > 0.5], [lambda v: v * s, s])),
    "nan_to_num": lambda x, s: gnp.sum(gnp.nan_to_num(x * gnp.inf, posinf=s)),
    "nanmax_initial": lambda x, s: gnp.nanmax(x, initial=s),
    "fmax": lambda x, s: gnp.sum(gnp.fmax(x, s)),
    "fmin": lambda x, s: gnp.sum(gnp.fmin(x, s)),
    "interp": lambda x, s: gnp.interp(s, x, x * x),
    "at_add": lambda x, s: gnp.sum((x * s).at[1].add(s)),
    "at_max": lambda x, s: gnp.sum((x * s).at[1].max(s)),
    "at_set": lambda x, s: gnp.sum((x * s).at[1].set(s)),
    "einsum": lambda x, s: gnp.einsum("i,->", x, s),
    "outer": lambda x, s: gnp.sum(gnp.outer(x, gnp.reshape(s, (1,))) ** 2),
    "kron": lambda x, s: gnp.sum(gnp.kron(x, gnp.reshape(s, (1,))) ** 2),
    "matmul": lambda x, s: gnp.sum(gnp.reshape(x, (4, 1)) @ gnp.reshape(s * s, (1, 1))),
    "convolve": lambda x, s: gnp.sum(gnp.convolve(x, gnp.stack([s, 1.0])) ** 2),
    "solve": lambda x, s: gnp.sum(gnp.linalg.solve(gnp.reshape(s, (1, 1)), x[:1])),
    "quantile": lambda x, s: gnp.quantile(x, s),
    "copysign": lambda x, s: gnp.sum(gnp.copysign(x, s) * s),
    "logaddexp": lambda x, s: gnp.sum(gnp.logaddexp(x, s)),
    "interp_period": lambda x, s: gnp.interp(s, x, x * x, period=1.0),
    "logsumexp_b": lambda x, s: gpuad.scipy.special.logsumexp(x, b=s),
    "betaln": lambda x, s: gnp.sum(gpuad.scipy.special.betaln(s, x + 1)),
    "full_like": lambda x, s: gnp.sum(gnp.vstack([x, gnp.full_like(x, s)]) ** 2),
}


@pytest.mark.parametrize("name", sorted(_SCALAR_BESIDE_ARRAYS))
def test_python_float_beside_arrays(name, xp):
    f = _SCALAR_BESIDE_ARRAYS[name]
    x = np.linspace(0.1, 0.9, 4)
    want = gpuad.grad(lambda s: f(x, s))(0.7)
    got = gpuad.grad(lambda s: f(xp.asarray(x), s))(0.7)
    assert isinstance(got, float) and isinstance(want, float)
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert want != 0.0 or name == "nanmax_initial"


def test_python_floats_beside_arrays_in_every_mode(xp):
    # Several differentiated Python floats: forward mode carries their tangents as host
    # lanes (more than one element), which the library calls move too; a Hessian, a
    # Jacobian over a tuple and a batched HVP on both array modules agree.
    x = np.linspace(0.1, 0.9, 4)

    def run(x):
        f = lambda a, b: gnp.sum(gnp.where(x > 0.5, x * a * b, b) ** 2)
        return [gpuad.hessian(f, argnums=(0, 1))(0.7, 1.3),
                gpuad.jacfwd(lambda p: gnp.stack([x[0] * p[0], p[1] * p[0]]))((0.7, 1.3)),
                gpuad.hvp(lambda s: gnp.sum(gnp.append(x, s) ** 3), 0.7, np.ones(3),
                          batched=True)]
    want, got = run(x), run(xp.asarray(x))
    flat = lambda v: [float(v_) for e in gpuad.tree.flatten(v)[0] for v_ in np.ravel(host(e))]
    np.testing.assert_allclose(flat(got), flat(want), rtol=1e-15)
    assert all(v != 0 for v in flat(want)[:2])


def test_a_tangent_that_would_round_is_refused_and_an_exact_one_taken(xp):
    """jvp and hvp took a tangent of any real dtype and cast it to the primal's: a float64
    tangent for a float32 primal was rounded, pushing a direction other than the one given
    (vjp refuses such a cotangent, JAX's jvp both). Now a cast that may round is refused, naming
    the argument (hvp's x and v, a pytree's leaf) and the way out; a safe one (float32 or
    int32 for float64) is taken, and host scalars take the primal's dtype."""
    x32 = xp.asarray([0.5, 2.0], np.float32)
    t64 = xp.asarray([1.0, 0.1])                       # 0.1 is not a float32
    f = lambda x: gnp.sum(gnp.sin(x) * x)              # noqa: E731
    with pytest.raises(TypeError, match=r"tangent 0 has dtype float64 but primal 0 has dtype "
                                        r"float32; the cast may round.*astype\('float32'\)"):
        gpuad.jvp(f, (x32,), (t64,))
    with pytest.raises(TypeError, match=r"^v has dtype float64 but x has dtype float32"):
        gpuad.hvp(f, x32, t64)
    for chunk in (None, 1):
        with pytest.raises(TypeError, match=r"^v has dtype float64 but x has dtype float32"):
            gpuad.hvp(f, x32, xp.stack([t64, t64]), batched=True, chunk=chunk)
    tree_p = {"a": x32, "b": x32}
    with pytest.raises(TypeError, match=r"tangent 0\['b'\] has dtype int64 but "
                                        r"primal 0\['b'\] has dtype float32"):
        gpuad.jvp(lambda q: f(q["a"]) + f(q["b"]), (tree_p,),
                  ({"a": x32, "b": xp.asarray([1, 2], np.int64)},))
    # the engine is usable afterwards, and exact casts are taken: the same numbers as the
    # tangent in the primal's own dtype
    x64 = xp.asarray([0.5, 2.0])
    want = gpuad.jvp(f, (x64,), (xp.asarray([1.0, 3.0]),))[1]
    for t in (xp.asarray([1.0, 3.0], np.float32), xp.asarray([1, 3], np.int32)):
        got = gpuad.jvp(f, (x64,), (t,))[1]
        assert got.dtype == np.float64
        close(got, want, xp, rtol=0, atol=0)
        close(gpuad.hvp(f, x64, t), gpuad.hvp(f, x64, xp.asarray([1.0, 3.0])), xp, rtol=0, atol=0)
    for s in (0.1, np.float64(0.1)):   # host scalars are weak, as vjp's cotangents
        out, t = gpuad.jvp(gnp.sin, (np.float32(0.5),), (s,))
        assert t.dtype == np.float32
        close(t, np.cos(0.5) * 0.1, rtol=3e-7)


def test_taylor_direction_follows_the_tangent_dtype_rule():
    """taylor's direction v is a tangent: it was cast to x's dtype silently (a float64 v
    rounded for float32 x, a complex v's imaginary part dropped for real x); now as jvp's."""
    x32 = np.array([0.5, 1.0], np.float32)
    with pytest.raises(TypeError, match=r"^v has dtype float64 but x has dtype float32"):
        gpuad.taylor(gnp.sin, x32, np.array([1.0, 0.1]), order=2)
    with pytest.raises(TypeError, match=r"^v is complex \(complex64\) but x is real"):
        gpuad.taylor(gnp.sin, x32, np.array([1 + 1j, 0], np.complex64), order=2)
    c = gpuad.taylor(gnp.sin, np.array([0.5, 1.0]), x32, order=2)      # a safe cast: taken
    close(c[1], np.cos([0.5, 1.0]) * x32.astype(float), rtol=1e-15)
    c = gpuad.taylor(gnp.sin, np.float32(0.5), np.float64(0.1), order=2)   # a host scalar
    assert c[1].dtype == np.float32
    close(c[1], np.cos(0.5) * 0.1, rtol=3e-7)


def test_tree_paths_name_each_leaf_in_flatten_order():
    """tree.paths: each leaf's index expression (messages name a pytree's leaf by it)."""
    from collections import namedtuple
    from gpuad import tree
    P = namedtuple("P", "w bias")
    t = {"b": [1, (2, 3)], "a": P(4, {"z": 5}), "c": None}
    leaves, td = tree.flatten(t)
    assert leaves == [4, 5, 1, 2, 3, None]
    assert tree.paths(td) == ["['a'].w", "['a'].bias['z']", "['b'][0]", "['b'][1][0]",
                              "['b'][1][1]", "['c']"]
    assert tree.paths(tree.flatten(7)[1]) == [""]
    assert tree.paths(tree.flatten(())[1]) == []


def test_vjp_output_sharing_memory_with_a_saved_array_is_a_copy():
    """An output that is a view of an intermediate the tape saved (s[:3] of s, saved by
    s * s): writing into it before the pullback changed the gradient silently."""
    x = np.array([0.1, 0.3, 0.5, 0.7, 0.9])

    def f(x):
        s = gnp.sin(x)
        return s[:3], gnp.sum(s * s), s
    (y0, y1, y2), pb = gpuad.vjp(f, x)
    y0[:] = 0.0
    y2[:] = 0.0
    g = pb((np.zeros(3), np.array(1.0), np.zeros(5)))[0]
    np.testing.assert_allclose(g, 2 * np.sin(x) * np.cos(x), rtol=1e-15)
