"""Second order: HVPs (single and batched), Hessians, Jacobians, Taylor mode, launch counts;
each test on NumPy and on CuPy arrays (``xp``, conftest.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp

from _xp import close, host, on


def logreg_problem(xp, n=40, d=6, lam=0.3, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(np.float64)
    Ad, yd = xp.asarray(A), xp.asarray(y)

    def loss(w):
        z = Ad @ w
        return gnp.sum(gnp.softplus(z) - yd * z) + 0.5 * lam * gnp.sum(w * w)
    return A, y, lam, loss


def test_hvp_logistic_regression_closed_form(xp):
    A, y, lam, loss = logreg_problem(xp)
    w = np.random.default_rng(1).standard_normal(A.shape[1]) * 0.3
    s = 1 / (1 + np.exp(-A @ w))
    H = A.T @ np.diag(s * (1 - s)) @ A + lam * np.eye(A.shape[1])
    v = np.random.default_rng(2).standard_normal(A.shape[1])
    close(gpuad.hvp(loss, xp.asarray(w), xp.asarray(v)), H @ v, xp, rtol=1e-12, atol=1e-12)
    close(gpuad.hessian(loss)(xp.asarray(w)), H, xp, rtol=1e-12, atol=1e-12)


def test_hvp_of_sum_tanh_squared_on_a_matrix(xp):
    X = np.random.default_rng(0).uniform(-1.5, 1.5, (3, 4))
    V = np.random.default_rng(1).standard_normal((3, 4))
    t = np.tanh(X)
    # d2/dx2 tanh(x)^2 = 2 (1 - t^2)(1 - 3 t^2): the Hessian is diagonal
    want = 2 * (1 - t ** 2) * (1 - 3 * t ** 2) * V
    got = gpuad.hvp(lambda X: gnp.sum(gnp.tanh(X) ** 2), xp.asarray(X), xp.asarray(V))
    assert got.shape == X.shape
    close(got, want, xp, rtol=1e-13, atol=1e-14)


def test_hvp_against_finite_differences_of_the_gradient(xp):
    def f(x):
        return gnp.sum(gnp.sin(x) * gnp.exp(0.3 * x)) * gnp.sum(x ** 2) + gnp.sum(gnp.log1p(x * x))
    x = xp.asarray(np.random.default_rng(0).standard_normal(7))
    v = xp.asarray(np.random.default_rng(1).standard_normal(7))
    g = gpuad.grad(f)
    eps = 1e-6
    fd = (g(x + eps * v) - g(x - eps * v)) / (2 * eps)
    close(gpuad.hvp(f, x, v), fd, xp, rtol=1e-6, atol=1e-6)


def test_hessian_is_symmetric_in_its_action(xp):
    def f(x):
        return gnp.sum(gnp.tanh(x[:-1] * x[1:])) + gnp.sum(x ** 4) / 4
    rng = np.random.default_rng(5)
    x, u, v = xp.asarray(rng.standard_normal((3, 6)))
    assert float(u @ gpuad.hvp(f, x, v)) == pytest.approx(float(v @ gpuad.hvp(f, x, u)), rel=1e-13)


def test_batched_equals_stacked_and_launches_do_not_grow_with_k(xp):
    A, y, lam, loss = logreg_problem(xp, n=30, d=5)

    def f(w):   # elementwise plus reductions
        return gnp.sum(gnp.sigmoid(w) * w ** 2) + gnp.sum(gnp.exp(-w)) + loss(w)
    w = xp.asarray(np.random.default_rng(3).standard_normal(5))
    V = xp.asarray(np.random.default_rng(4).standard_normal((16, 5)))
    batched = gpuad.hvp(f, w, V, batched=True)
    stacked = np.stack([host(gpuad.hvp(f, w, v)) for v in V])
    assert batched.shape == (16, 5)
    close(batched, stacked, xp, rtol=1e-13, atol=1e-13)

    with gpuad.profile() as p16:
        gpuad.hvp(f, w, V, batched=True)
    with gpuad.profile() as p1:
        gpuad.hvp(f, w, V[:1], batched=True)
    assert p16.count("reverse") == p1.count("reverse") > 0
    assert p16.count("forward") == p1.count("forward")
    # each elementwise reverse node is one fused dual-number launch
    duals = [r.kernel for r in p16.launches if r.phase == "reverse" and r.kernel.endswith("_dual")]
    assert sorted(duals) == sorted(set(duals)) or duals
    assert any(k == "sigmoid_vjp_dual" for k in duals)


def test_batched_hvp_chunks_agree(xp):
    f = lambda x: gnp.sum(gnp.tanh(x) ** 3 * x)   # noqa: E731
    x = xp.linspace(-1, 1, 4)
    V = xp.asarray(np.random.default_rng(0).standard_normal((7, 4)))
    close(gpuad.hvp(f, x, V, batched=True, chunk=3), gpuad.hvp(f, x, V, batched=True), xp,
          rtol=1e-14)


@pytest.mark.parametrize("chunk", [0, -1, 1.5, True])
def test_batched_hvp_refuses_a_chunk_that_is_not_a_positive_integer(chunk):
    """chunk=0 raised range()'s 'arg 3 must not be zero', chunk=-1 tree_map()'s 'missing 1
    required positional argument' (no chunk swept), chunk=1.5 'float object cannot be
    interpreted as an integer'; True swept one direction at a time."""
    f = lambda u: gpuad.numpy.sum(u ** 3)
    with pytest.raises(ValueError, match="hvp chunk must be a positive integer"):
        gpuad.hvp(f, np.ones(2), np.ones((3, 2)), batched=True, chunk=chunk)
    np.testing.assert_array_equal(
        gpuad.hvp(f, np.ones(2), np.ones((3, 2)), batched=True, chunk=np.int64(2)),
        np.full((3, 2), 6.0))


@pytest.mark.parametrize("chunk", [1, 2, 0])
def test_hvp_refuses_a_chunk_without_batched(chunk):
    """chunk without batched=True was silently ignored."""
    f = lambda u: gpuad.numpy.sum(u ** 3)                   # noqa: E731
    with pytest.raises(ValueError, match=r"hvp's chunk .*batched=True"):
        gpuad.hvp(f, np.ones(2), np.ones(2), chunk=chunk)
    np.testing.assert_array_equal(gpuad.hvp(f, np.ones(2), np.ones(2), chunk=None),
                                  [6.0, 6.0])


def test_batched_hvp_chunks_replay_constants_of_linear_primitives():
    # The replayed tape keeps every constant input, also of primitives whose VJP saves
    # nothing (add with a constant array; it used to replay an Aval in its place).
    c = np.array([0.5, -1.0, 2.0])
    f = lambda x: gnp.sum(gnp.sin(x + c) ** 2) + gnp.sum(gnp.reshape(c, (3,)) * x)  # noqa: E731
    x = np.array([0.1, 0.2, 0.3])
    V = np.eye(3)
    np.testing.assert_allclose(gpuad.hvp(f, x, V, batched=True, chunk=1),
                               np.diag(2 * np.cos(2 * (x + c))), rtol=1e-13, atol=1e-15)


def test_hessian_of_a_pytree_input(xp):
    def f(p):
        return gnp.sum(gnp.sin(p["a"]) * p["b"][0]) + gnp.sum(p["b"] ** 3)
    p = {"a": xp.asarray([0.3, 0.5]), "b": xp.asarray([1.0, 2.0])}
    H = gpuad.hessian(f)(p)
    on(xp, H)
    close(H["a"]["a"], np.diag(-np.sin([0.3, 0.5]) * 1.0), xp, rtol=1e-14)
    close(H["a"]["b"], [[math.cos(0.3), 0], [math.cos(0.5), 0]], xp, rtol=1e-14)
    close(H["b"]["a"], host(H["a"]["b"]).T, xp, rtol=1e-14)
    close(H["b"]["b"], np.diag([6.0, 12.0]), xp, rtol=1e-14)


def test_hvp_of_a_pytree(xp):
    f = lambda p: gnp.sum(p[0] ** 2 * p[1])   # noqa: E731
    x = (xp.asarray([1.0, 2.0]), xp.asarray([3.0, 4.0]))
    v = (xp.asarray([1.0, 0.0]), xp.asarray([0.0, 1.0]))
    hv = gpuad.hvp(f, x, v)
    # H = [[2 diag(b), 2 diag(a)], [2 diag(a), 0]]
    close(hv[0], [6.0, 4.0], xp)
    close(hv[1], [2.0, 0.0], xp)


@pytest.mark.parametrize("shape_in,shape_out", [((3,), (5,)), ((5,), (2,)), ((2, 2), (3,))])
def test_jacfwd_jacrev_jacobian_agree_on_non_square_maps(shape_in, shape_out, xp):
    rng = np.random.default_rng(0)
    m = int(np.prod(shape_out))
    W = xp.asarray(rng.standard_normal((m, int(np.prod(shape_in)))))

    def f(x):
        z = gnp.tanh(W @ gnp.reshape(x, (-1,)))
        return gnp.reshape(z * gnp.sum(x ** 2), shape_out)
    x = xp.asarray(rng.standard_normal(shape_in))
    jf, jr, j = gpuad.jacfwd(f)(x), gpuad.jacrev(f)(x), gpuad.jacobian(f)(x)
    assert jf.shape == shape_out + shape_in
    close(jf, jr, xp, rtol=1e-13, atol=1e-14)
    close(j, jf, xp, rtol=1e-13, atol=1e-14)
    eps = 1e-6
    e0 = np.zeros(shape_in)
    e0.flat[0] = 1
    e0 = xp.asarray(e0)
    fd = (f(x + eps * e0) - f(x - eps * e0)) / (2 * eps)
    close(jf[(...,) + np.unravel_index(0, shape_in)], fd, xp, rtol=1e-6, atol=1e-8)


def test_jacrev_is_one_sweep(xp):
    # All output rows ride as lanes of one reverse sweep: launches do not grow with them.
    f = lambda x: gnp.sin(x) * gnp.sum(x)   # noqa: E731
    counts = []
    for n in (4, 64):
        with gpuad.profile() as p:
            J = gpuad.jacrev(f)(xp.linspace(0, 1, n))
        assert J.shape == (n, n)
        on(xp, J)
        counts.append(p.count("reverse"))
    assert counts[0] == counts[1]


def test_jacobians_and_hessian_pass_keyword_arguments_through(xp):
    """grad passed keyword arguments to fun, hessian, jacfwd, jacrev and jacobian did not
    ("L() got an unexpected keyword argument 'scale'"): they are passed through and not
    differentiated (as JAX), an array keyword too."""
    rng = np.random.default_rng(5)
    W = xp.asarray(rng.standard_normal((3, 2)))
    x, y = xp.asarray(rng.standard_normal(2)), xp.asarray(rng.standard_normal(2))

    def L(x, y, scale, shift=0.0):
        return scale * (gnp.sum(gnp.tanh(W @ x) * (W @ y)) + gnp.sum(shift * x ** 3))

    def F(x, y, scale, shift=0.0):                                # R^2 -> R^3
        return scale * gnp.tanh(W @ (x + shift)) * gnp.sum(y)
    kw = {"scale": 1.5, "shift": xp.asarray([0.2, -0.4])}
    fixed = lambda f: lambda x, y: f(x, y, **kw)                 # noqa: E731
    for argnums in (0, (0, 1)):
        close(gpuad.hessian(L, argnums)(x, y, **kw), gpuad.hessian(fixed(L), argnums)(x, y),
              xp, rtol=1e-13, atol=1e-14)
        for jac in (gpuad.jacfwd, gpuad.jacrev, gpuad.jacobian):
            for f in (L, F):                   # jacobian: reverse mode, then forward mode
                close(jac(f, argnums)(x, y, **kw), jac(fixed(f), argnums)(x, y), xp,
                      rtol=1e-13, atol=1e-14)
    H = gpuad.hessian(L)(x, y, scale=2.0)
    assert H.shape == (2, 2)
    close(H, 2.0 * gpuad.hessian(L)(x, y, scale=1.0), xp, rtol=1e-13, atol=1e-14)


def test_taylor_of_a_cube(xp):
    c = gpuad.taylor(lambda x: x ** 3, xp.asarray(2.0), xp.asarray(1.0), order=2)
    on(xp, c)
    assert [float(a) for a in c] == [8.0, 12.0, 6.0]


@pytest.mark.parametrize("order", [1, 3, 5])
def test_taylor_series_of_exp_sin_and_log(order, xp):
    x, v = np.array([0.3, -0.4]), np.array([1.0, 0.5])
    c = gpuad.taylor(gnp.exp, xp.asarray(x), xp.asarray(v), order=order)
    for k, ck in enumerate(c):
        close(ck, np.exp(x) * v ** k / math.factorial(k), xp, rtol=1e-13)
    c = gpuad.taylor(gnp.sin, xp.asarray(x), xp.asarray(v), order=order)
    for k, ck in enumerate(c):
        deriv = [np.sin, np.cos, lambda t: -np.sin(t), lambda t: -np.cos(t)][k % 4](x)
        close(ck, deriv * v ** k / math.factorial(k), xp, rtol=1e-12, atol=1e-15)
    c = gpuad.taylor(lambda t: gnp.log(1.0 + t), xp.asarray(x), xp.asarray(v), order=order)
    for k, ck in enumerate(c[1:], start=1):
        close(ck, (-1) ** (k + 1) * (v / (1 + x)) ** k / k, xp, rtol=1e-12)


def test_taylor_of_a_composite_matches_nested_jvp(xp):
    def f(x):
        return gnp.sum(gnp.tanh(x) * gnp.exp(x / 2.0)) / (1.0 + gnp.sum(x * x))
    x, v = xp.asarray([0.2, -0.7, 1.1]), xp.asarray([0.5, 1.0, -0.3])

    def d(fun):
        return lambda y: gpuad.jvp(fun, (y,), (v,))[1]
    c = gpuad.taylor(f, x, v, order=3)
    assert float(c[1]) == pytest.approx(float(d(f)(x)), rel=1e-12)
    assert float(c[2]) == pytest.approx(float(d(d(f))(x)) / 2, rel=1e-11)
    assert float(c[3]) == pytest.approx(float(d(d(d(f)))(x)) / 6, rel=1e-10)


def test_check_support_lists_nothing_for_builtins_and_names_taylor_gaps(xp):
    f = lambda x: gnp.sum(gnp.sin(x) * x)   # noqa: E731
    assert gpuad.check_support(f, xp.ones(3), mode="hvp") == []
    assert gpuad.check_support(f, xp.ones(3), mode="taylor") == []
    with pytest.raises(ValueError, match="mode"):
        gpuad.check_support(f, xp.ones(3), mode="nope")


def test_taylor_through_primitives_without_a_structured_rule(xp):
    # det, slogdet and max reductions go through the nested-JVP fallback
    A = np.array([[2.0, 0.3], [0.1, 1.5]])
    V = np.array([[0.1, 0.2], [0.0, 0.3]])
    Ad, Vd = xp.asarray(A), xp.asarray(V)
    c = gpuad.taylor(gnp.linalg.det, Ad, Vd, order=3)
    on(xp, c)
    # det(A + eV) is a quadratic in e for 2x2 matrices: coefficients det A, tr(adj(A) V), det V
    adj = np.array([[A[1, 1], -A[0, 1]], [-A[1, 0], A[0, 0]]])
    np.testing.assert_allclose([float(v) for v in c],
                               [np.linalg.det(A), np.trace(adj @ V), np.linalg.det(V), 0.0],
                               rtol=1e-13, atol=1e-15)

    def g(x):
        return gnp.max(x * x) + gnp.linalg.slogdet(Ad + x[0] * Vd)[1]
    x, v = xp.asarray([0.3, 1.2]), xp.asarray([1.0, 0.5])
    c = gpuad.taylor(g, x, v, order=3)

    def d(fun):
        return lambda y: gpuad.jvp(fun, (y,), (v,))[1]
    assert float(c[1]) == pytest.approx(float(d(g)(x)), rel=1e-12)
    assert float(c[2]) == pytest.approx(float(d(d(g))(x)) / 2, rel=1e-11)
    assert float(c[3]) == pytest.approx(float(d(d(d(g)))(x)) / 6, rel=1e-10)
    assert gpuad.check_support(g, x, mode="taylor") == []


def test_taylor_through_a_primitive_with_an_integer_output():
    """The nested-JVP fallback scaled every output's derivatives, an integer one too (lu
    pivots, an argmax index), so order >= 2 raised "gpuad kernels support float32, ... not
    int32": an integer output has no tangent, its coefficients are zero. (On the host, as
    tests/test_scipy_linalg.py's lu tests: the CuPy stand-in has no cupyx.scipy.linalg.)"""
    xp = np
    import gpuad.scipy.linalg as gsl
    rng = np.random.default_rng(3)
    A = xp.asarray(rng.standard_normal((4, 4)) + 4.0 * np.eye(4))
    x, v = xp.asarray(rng.standard_normal(4)), xp.asarray(rng.standard_normal(4))

    def d(fun):
        return lambda y: gpuad.jvp(fun, (y,), (v,))[1]

    def lu(y):
        return gsl.lu_solve(gsl.lu_factor(A + gnp.diag(y)), y)

    @gpuad.custom_jvp
    def top(y):                       # (value, the index of the largest entry)
        return gnp.sum(gnp.exp(y) * y), gnp.argmax(y)

    @top.defjvp
    def _(p, t):
        (y,), (ty,) = p, t
        return top(y), (gnp.sum(gnp.exp(y) * (1.0 + y) * ty), None)

    for f in (lu, lambda y: top(y)[0] * y[top(y)[1]]):
        c = gpuad.taylor(f, x, v, order=3)
        on(xp, c)
        want = [f(x), d(f)(x), d(d(f))(x) / 2, d(d(d(f)))(x) / 6]
        for k, (ck, wk) in enumerate(zip(c, want)):
            close(ck, host(wk), xp, rtol=1e-11, atol=1e-13)


def test_chunks_replay_one_recorded_tape(xp):
    calls = []

    def f(x):
        calls.append(1)
        return gnp.sum(gnp.tanh(x) ** 3 * x) + gnp.sum(x[:2] * x[1:3])
    x = xp.linspace(-1, 1, 4)
    V = xp.asarray(np.random.default_rng(0).standard_normal((10, 4)))
    want = np.stack([host(gpuad.hvp(f, x, v)) for v in V])
    calls.clear()
    got = gpuad.hvp(f, x, V, batched=True, chunk=3)
    assert len(calls) == 1            # traced once for 4 chunks
    close(got, want, xp, rtol=1e-13, atol=1e-14)


def test_taylor_refuses_pytrees_by_name():
    """taylor takes one array and a function returning one array: a tuple output raised
    "Conversion to a NumPy array ... of a traced value" (as if the user had called
    numpy.asarray), a dict x "x has dtype object"."""
    x, v = np.array([0.5, 1.2]), np.array([1.0, 2.0])
    with pytest.raises(TypeError, match="taylor needs a function returning one array"):
        gpuad.taylor(lambda y: (y, 2 * y), x, v)
    with pytest.raises(TypeError, match="taylor takes one array x"):
        gpuad.taylor(lambda y: y["p"], {"p": x}, {"p": v})
    with pytest.raises(TypeError, match="taylor takes one array v"):
        gpuad.taylor(lambda y: y, x, None)
    close(gpuad.taylor(lambda y: y ** 2, [0.5, 1.2], [1.0, 2.0], order=1)[1], [1.0, 4.8], np)


@pytest.mark.parametrize("order,err", [(2.5, TypeError), (True, TypeError),
                                       (np.bool_(True), TypeError), (2.0, TypeError),
                                       ("2", TypeError), (None, TypeError),
                                       (0, ValueError), (np.int64(-1), ValueError)])
def test_taylor_refuses_an_order_that_is_not_a_positive_integer(order, err):
    """order=2.5 raised "can't multiply sequence by non-int", order=True was taken as 1."""
    with pytest.raises(err, match="taylor's order must be an integer >= 1"):
        gpuad.taylor(lambda y: y ** 3, np.array(2.0), np.array(1.0), order=order)
    c = gpuad.taylor(lambda y: y ** 3, np.array(2.0), np.array(1.0), order=np.int32(3))
    assert [float(a) for a in c] == [8.0, 12.0, 6.0, 1.0]


def test_taylor_results_never_share_memory_with_x_or_v(xp):
    """taylor hands back no array the caller passed (x or v through an identity, as the
    other transforms) and no coefficient twice (the zeros of a constant output
    were one array listed K times): writing into a result changes nothing else."""
    x, v, c = xp.asarray([0.5, 1.2]), xp.asarray([1.0, 2.0]), xp.asarray([3.0, 4.0])

    @gpuad.custom_vjp
    def cid(y):
        return y
    cid.defvjp(lambda y: (y, None), lambda r, g: (g,))

    @gpuad.custom_jvp
    def jid(y):
        return y
    jid.defjvp(lambda p, t: (p[0], t[0]))
    funs = {"identity": lambda y: y, "constant": lambda y: c, "stop_gradient": gpuad.stop_gradient,
            "checkpoint": gpuad.checkpoint(lambda y: y), "custom_vjp": cid, "custom_jvp": jid,
            "loop of 0 steps": lambda y: gpuad.checkpoint_loop(lambda s: 2 * s, y, 0),
            "scaled": lambda y: 2 * y}
    for name, f in funs.items():
        for order in (1, 3):
            res = gpuad.taylor(f, x, v, order=order)
            for i, r in enumerate(res):
                others = [x, v] + [o for j, o in enumerate(res) if j != i]
                assert not any(xp.may_share_memory(r, o) for o in others), (name, order, i)
                assert getattr(getattr(r, "flags", None), "writeable", True), (name, order, i)  # (CuPy: no flag)
    close(x, [0.5, 1.2], xp)
    close(v, [1.0, 2.0], xp)


@pytest.mark.parametrize("chunk", [None, 1, 2, 3, 4, 10])
@pytest.mark.parametrize("bad", ["extra lanes", "fewer lanes", "no lane axis", "wrong leaf shape"])
def test_batched_hvp_refuses_directions_that_do_not_line_up(bad, chunk):
    """hvp(batched=True) takes K directions: every leaf of v is (K,) + its x leaf's shape.
    With chunk=2 a v whose second leaf held 5 directions and whose first held 4 returned
    4 products, the fifth direction of that leaf dropped without an error (the chunks were
    cut by the first leaf's K); every chunk size now refuses it, as the one-sweep path
    did."""
    import gpuad.numpy as gnp
    x = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array(0.5)}
    V = {"extra lanes": {"a": np.ones((4, 3)), "b": np.ones(5)},
         "fewer lanes": {"a": np.ones((5, 3)), "b": np.ones(4)},
         "no lane axis": {"a": np.ones(3), "b": np.ones(())},
         "wrong leaf shape": {"a": np.ones((4, 2)), "b": np.ones(4)}}[bad]
    f = lambda p: gnp.sum(p["a"] ** 2) * p["b"] ** 2
    leaf = {"extra lanes": "b", "fewer lanes": "b", "wrong leaf shape": "a"}.get(bad)
    with pytest.raises(ValueError, match=rf"^v\['{leaf}'\] has shape" if leaf else "shape"):
        gpuad.hvp(f, x, V, batched=True, chunk=chunk)
    # lined-up directions: one product per direction, every chunk size the same
    W = {"a": np.arange(12.0).reshape(4, 3), "b": np.arange(4.0)}
    H = gpuad.hessian(f)(x)
    want_a = W["a"] @ H["a"]["a"].T + W["b"][:, None] * H["a"]["b"]
    want_b = W["a"] @ H["b"]["a"] + W["b"] * H["b"]["b"]
    got = gpuad.hvp(f, x, W, batched=True, chunk=chunk)
    np.testing.assert_allclose(got["a"], want_a, rtol=1e-14)
    np.testing.assert_allclose(got["b"], want_b, rtol=1e-14)


# Smooth functions written with a switch or a tie inside (max + log1p(e^-|d|), a shift by
# the max, a branch of a kernel): their Hessian at the switch itself, where both sides'
# conventions meet, against central differences of the gradient (smooth there: step 1e-5,
# error ~1e-10 relative). logaddexp's was 0 at x1 == x2 (true 1/4: the kinks of max and
# |d| cancel in the value, not in the conventions abs''(0) = max'' = 0).
_LOG2 = math.log(2.0)
_AT_THE_SWITCH = {
    "logaddexp": (lambda x: gnp.logaddexp(x[0], x[1]), [[0.3, 0.3], [-40.0, -40.0]]),
    "logaddexp2": (lambda x: gnp.logaddexp2(x[0], x[1]), [[0.3, 0.3], [7.0, 7.0]]),
    "logaddexp_scalar": (lambda x: gnp.sum(gnp.logaddexp(x, 0.5)), [[0.5, 0.5]]),
    "nn_logsumexp": (lambda x: gpuad.nn.logsumexp(x), [[0.3, 0.3, 0.3], [1.0, 1.0, -2.0]]),
    "special_logsumexp_b": (lambda x: gpuad.scipy.special.logsumexp(x, b=[2.0, 0.5, 1.0]),
                            [[0.3, 0.3, 0.3]]),
    "log_softmax": (lambda x: gnp.sum(gpuad.nn.log_softmax(x) * gnp.asarray([1.0, 2.0, 3.0])),
                    [[0.3, 0.3, 0.3]]),
    "softplus": (lambda x: gnp.sum(gnp.softplus(x)), [[0.0, -0.0]]),
    "sigmoid": (lambda x: gnp.sum(gpuad.nn.sigmoid(x) ** 2), [[0.0, 1e-300]]),
    "logistic_logpdf": (lambda x: gnp.sum(gpuad.scipy.stats.logistic.logpdf(x)), [[0.0, 0.0]]),
}


@pytest.mark.parametrize("name", sorted(_AT_THE_SWITCH))
def test_hessian_at_a_tie_or_switch_is_the_smooth_functions(name):
    import gpuad.nn, gpuad.scipy.special, gpuad.scipy.stats  # noqa: F401
    f, points = _AT_THE_SWITCH[name]
    g = gpuad.grad(f)
    for x in points:
        x = np.asarray(x, dtype=np.float64)
        h = np.asarray(gpuad.hessian(f)(x))
        e = 1e-5
        fd = np.stack([(np.asarray(g(x + e * u)) - np.asarray(g(x - e * u))) / (2 * e)
                       for u in np.eye(x.size)])
        scale = np.max(np.abs(fd))
        assert scale > 0, name
        np.testing.assert_allclose(h, fd, rtol=0, atol=1e-8 * scale, err_msg=f"{name} at {x}")
