"""What a batched HVP costs (issue 18), counted rather than timed: launches, bytes, peak
bytes; each beside a closed form of the same HVP, so a cheaper path is also a right one.
And the lane kernels in tiles (GPUAD_TILES on the CPU) over sizes of several tiles and
workers, against their formulas."""
import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad.primitives import elementwise as E

K = 8


def sech2(x):
    return 1.0 / np.cosh(x) ** 2


def test_fan_in_accumulates_inside_the_dual_kernels():
    # Three reverse nodes send x a cotangent: the first dual kernel's fresh result becomes
    # the sweep's buffer and the other two add into it (value and lanes) in their own
    # launch: no addition launches, each lane array written once per node.
    rng = np.random.default_rng(0)
    n = 1000
    x, V = rng.uniform(-1, 1, n), rng.standard_normal((K, n))
    f = lambda x: gnp.sum(gnp.sin(x)) + gnp.sum(gnp.tanh(x)) + gnp.sum(gnp.exp(x))  # noqa: E731
    with gpuad.profile() as p:
        H = gpuad.hvp(f, x, V, batched=True)
    d2 = -np.sin(x) - 2 * np.tanh(x) * sech2(x) + np.exp(x)
    np.testing.assert_allclose(H, V * d2, rtol=1e-12, atol=1e-12)
    rev = [r for r in p.launches if r.phase == "reverse"]
    assert sorted(r.kernel for r in rev if r.n == n) == [
        "exp_vjp_dual", "sin_vjp_dual", "tanh_vjp_dual"]
    assert not [r for r in rev if "add" in r.kernel]
    lane_bytes = (K + 1) * n * 8
    assert sum(r.bytes_written for r in rev) == 3 * lane_bytes


def test_owned_buffers_never_write_into_shared_cotangents():
    # add hands one dual cotangent to both operands (not the sweep's to write into); later
    # contributions must go into a sum the store made, never into that shared one.
    rng = np.random.default_rng(1)
    n = 300
    x, V = rng.uniform(-1, 1, n), rng.standard_normal((K, n))

    def f(x):
        u = gnp.tanh(x)
        s = u + u                     # fan-out of a non-owned cotangent
        return gnp.sum(gnp.sin(s)) + gnp.sum(u * u) + gnp.sum(gnp.sin(x) * x)

    H = gpuad.hvp(f, x, V, batched=True)
    # f = sum(sin(2 tanh x)) + sum(tanh^2 x) + sum(x sin x): diagonal Hessian
    t, s2 = np.tanh(x), sech2(x)
    dt, d2t = s2, -2 * t * s2
    d2 = (-4 * np.sin(2 * t) * dt ** 2 + 2 * np.cos(2 * t) * d2t
          + 2 * (dt ** 2 + t * d2t) + 2 * np.cos(x) - x * np.sin(x))
    np.testing.assert_allclose(H, V * d2, rtol=1e-11, atol=1e-12)
    for k in range(2):                # the same, lane by lane, as single HVPs
        np.testing.assert_allclose(gpuad.hvp(f, x, V[k]), H[k], rtol=1e-12, atol=1e-12)


def logreg(m=20, n=500, lam=0.1, seed=2):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) / np.sqrt(n)
    y = (rng.random(m) < 0.5).astype(float)

    def loss(w):
        z = A @ w
        return gnp.sum(gnp.softplus(z) - y * z) + 0.5 * lam * gnp.sum(w * w)
    return A, loss, lam, rng


def test_logistic_regression_reads_its_matrix_once_per_pass():
    A, loss, lam, rng = logreg()
    m, n = A.shape
    w, V = rng.standard_normal(n) * 0.1, rng.standard_normal((K, n))
    with gpuad.profile() as p:
        H = gpuad.hvp(loss, w, V, batched=True)
    s = 1 / (1 + np.exp(-(A @ w)))
    Hx = A.T @ ((s * (1 - s))[:, None] * A) + lam * np.eye(n)
    np.testing.assert_allclose(H, V @ Hx, rtol=1e-11, atol=1e-12)
    for phase in ("forward", "reverse"):
        mm = [r for r in p.launches if r.phase == phase and r.kernel == "xp.matmul"]
        assert len(mm) == 1, phase            # the value and all lanes in one product
        assert mm[0].bytes_read < A.nbytes + (K + 1) * (m + n) * 8 + 1   # A read once
    rev = [r for r in p.launches if r.phase == "reverse"]
    assert not [r for r in rev if r.kernel == "add_fwd"]
    # w * w is square(w): one dual launch, one cotangent, w's buffer; the matrix product's
    # value and lanes are added into that buffer block by block (through the column
    # reshape of w): no addition outside a kernel, no second lane-sized array
    assert not [r for r in rev if "add" in r.kernel]
    # (and the buffer's value, which lacks A^T r, made NaN: one fill, no addition)
    assert [r.kernel for r in rev if r.n == n] == ["square_vjp_dual", "xp.fill"]
    lane_block = (K + 1) * n * 8
    # into the buffer's lanes, once; the gradient's value (A^T r) is not made: hvp drops
    # it (tape.dead_values), so the reverse product has K rows, not K + 1
    assert mm[0].bytes_written == K * n * 8
    assert mm[0].n == K * n
    assert A.nbytes + V.nbytes + lane_block <= p.peak_bytes["reverse"] \
        < A.nbytes + V.nbytes + lane_block + 8 * (K + 1) * m * 8   # (m-sized: the rest)


def test_batched_peak_bytes_count_the_lanes():
    A, loss, lam, rng = logreg(m=10, n=400)
    n = A.shape[1]
    w, V = rng.standard_normal(n), rng.standard_normal((K, n))
    with gpuad.profile() as p:
        gpuad.hvp(loss, w, V, batched=True)
    with gpuad.profile() as p1:
        gpuad.hvp(loss, w, V[0])
    lanes = K * n * 8
    peak, peak1 = max(p.peak_bytes.values()), max(p1.peak_bytes.values())
    assert peak >= A.nbytes + 2 * lanes          # the input's lanes and the result's
    assert peak <= A.nbytes + 4 * (lanes + n * 8)
    # The directions and the sweep's buffer of w (value and lanes) are counted, in both
    # calls (the matrix product adds into that buffer: no second lane-sized array)
    assert peak >= A.nbytes + V.nbytes + (K + 1) * n * 8
    assert peak1 >= A.nbytes + V[0].nbytes + 2 * n * 8


def test_owned_cotangents_in_another_layout_are_not_offered_to_kernels():
    # The sweep owns A^T g of A @ W (a matrix product's value and lanes, fresh), whose lanes
    # come out of one product as a transposed view; sin(W)'s dual kernel, swept next, adds
    # into the C-ordered buffers it is offered: it must not be offered those lanes (nor a
    # sum of two transposed cotangents), but add its own result to them.
    rng = np.random.default_rng(4)
    A, W = rng.standard_normal((10, 10)), rng.standard_normal((10, 2)) * 0.3
    V = rng.standard_normal((K, 10, 2))
    f = lambda W: gnp.sum(gnp.sin(W)) + gnp.sum(gnp.tanh(A @ W))   # noqa: E731
    Z = A @ W
    want = -np.sin(W) * V + A.T @ (-2 * np.tanh(Z) * sech2(Z) * (A @ V))
    np.testing.assert_allclose(gpuad.hvp(f, W, V, batched=True), want, rtol=1e-12, atol=1e-12)
    H = gpuad.hessian(f)(W)
    np.testing.assert_allclose(np.einsum("ijkl,vkl->vij", H, V), want, rtol=1e-12, atol=1e-12)

    X, c = rng.standard_normal((3, 4)), rng.standard_normal((4, 3))
    g = lambda X: (gnp.sum(gnp.sin(X)) + gnp.sum(gnp.tanh(gnp.transpose(X) * c))   # noqa: E731
                   + gnp.sum(gnp.exp(gnp.transpose(X) * c)))
    U = rng.standard_normal((K, 3, 4))
    t, e = np.tanh(X * c.T), np.exp(X * c.T)
    want = (-np.sin(X) + (-2 * t * sech2(X * c.T) + e) * c.T ** 2) * U
    np.testing.assert_allclose(gpuad.hvp(g, X, U, batched=True), want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the tiled lane kernels

@pytest.mark.parametrize("n", [2500, 70001])   # several tiles; two workers, ragged ends
def test_lane_kernels_in_tiles(n):
    rng = np.random.default_rng(3)
    L = 3
    x, y, g = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, n), rng.standard_normal(n)
    tx, ty, tg = (rng.standard_normal((L, n)) for _ in range(3))
    c = 1e-12
    # unary: tanh' = s, tanh'' = -2 t s
    t, s = np.tanh(x), sech2(x)
    np.testing.assert_allclose(E._unary_deriv_impl(x, tx, "tanh", 1, "jvp"), s * tx, rtol=c)
    np.testing.assert_allclose(E._unary_deriv_impl(x, tx, "tanh", 1, "vjp"), s * tx, rtol=c)
    acc = np.ones((L, n))
    E._unary_deriv_impl(x, tx, "tanh", 1, "vjp", acc=acc)
    np.testing.assert_allclose(acc, 1 + s * tx, rtol=c, atol=1e-14)
    gx, tgx = E._unary_dual_impl(x, g, tx, tg, "tanh", 1)
    want = -2 * t * s * tx * g + s * tg
    np.testing.assert_allclose(gx, s * g, rtol=c)
    np.testing.assert_allclose(tgx, want, rtol=1e-10, atol=1e-14)
    bufs = (np.ones(n), np.ones((L, n)))
    r = E._unary_dual_impl(x, g, tx, None, "tanh", 1, acc=bufs)
    assert r[0] is bufs[0] and r[1] is bufs[1]
    np.testing.assert_allclose(bufs[1], 1 + -2 * t * s * tx * g, rtol=1e-10, atol=1e-14)
    # binary (multiply: fx = y, fy = x, fxy = 1), a scalar operand (stride 0) too
    np.testing.assert_allclose(E._binary_jvp_impl(x, y, tx, ty, "multiply"), y * tx + x * ty,
                               rtol=c)
    np.testing.assert_allclose(E._binary_jvp_impl(x, y[:1].reshape(()), tx, ty[:, :1].reshape(L),
                                                  "multiply"),
                               y[0] * tx + x * ty[:, :1], rtol=c)
    gx, gy, tgx, tgy = E._binary_dual_impl(x, y, g, tx, ty, tg, "multiply", (True, True))
    np.testing.assert_allclose(tgx, ty * g + y * tg, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(tgy, tx * g + x * tg, rtol=1e-10, atol=1e-14)
    ax = (np.ones(n), np.ones((L, n)))
    gx, gy, tgx, tgy = E._binary_dual_impl(x, y, g, tx, ty, None, "multiply", (True, True),
                                           acc=(ax, None))
    assert gx is ax[0] and tgx is ax[1]
    np.testing.assert_allclose(tgx, 1 + ty * g, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(tgy, tx * g, rtol=1e-10)
    y0 = y[:1].reshape(())
    gx, _, tgx, _ = E._binary_dual_impl(x, y0, g, tx, ty[:, :1].reshape(L), tg, "multiply",
                                        (True, False))
    np.testing.assert_allclose(tgx, ty[:, :1] * g + y[0] * tg, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(E._binary_deriv_impl(x, y, tx, "multiply", 1, 0), y * tx, rtol=c)


def sin_outer_hessian(x):
    # f(x) = sum_ij sin(x_i x_j): H_kl = 2 (cos(x_k x_l) - sin(x_k x_l) x_k x_l)
    #                                    - 2 delta_kl sum_j sin(x_k x_j) x_j^2
    xx = np.outer(x, x)
    return 2 * (np.cos(xx) - np.sin(xx) * xx) - 2 * np.diag(np.sin(xx) @ (x * x))


def test_an_outer_product_of_two_traced_factors_is_one_product_per_lane():
    # The tangent of a @ b with both factors traced, ta @ b + a @ tb, is one product per
    # lane [ta, a] @ [b; tb] when the contraction is short (here k = 1): each lane's result
    # is written once, no lane-sized addition (two products and their sum wrote it three
    # times; 280 ms against 40 in the tanh network's batched HVP).
    rng = np.random.default_rng(1)
    n = 200
    x, V = rng.uniform(-1, 1, n), rng.standard_normal((K, n))
    f = lambda x: gnp.sum(gnp.sin(gnp.matmul(x[:, None], x[None, :])))  # noqa: E731
    with gpuad.profile() as p:
        H = gpuad.hvp(f, x, V, batched=True)
    Hx = sin_outer_hessian(x)
    np.testing.assert_allclose(H, V @ Hx, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(gpuad.hvp(f, x, V[0]), Hx @ V[0], rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(gpuad.hessian(f)(x), Hx, rtol=1e-11, atol=1e-11)
    fwd = [r for r in p.launches if r.phase == "forward"]
    lanes = [r for r in fwd if r.kernel == "xp.matmul" and r.bytes_written >= K * n * n * 8]
    assert len(lanes) == 1 and lanes[0].bytes_written == K * n * n * 8
    assert not [r for r in p.launches if "add" in r.kernel and r.n >= K * n * n]


def test_third_order_through_a_joined_outer_product():
    # The joined rule is itself made of differentiable primitives (concatenate,
    # broadcast_to, matmul): a JVP of the HVP against central differences of the HVP.
    rng = np.random.default_rng(2)
    n = 12
    x, v, u = rng.uniform(-1, 1, n), rng.standard_normal(n), rng.standard_normal(n)
    f = lambda x: gnp.sum(gnp.sin(gnp.matmul(x[:, None], x[None, :])))  # noqa: E731
    hvp = lambda x: gpuad.hvp(f, x, v)                                 # noqa: E731
    _, d3 = gpuad.jvp(hvp, (x,), (u,))
    h = 1e-4
    fd = (sin_outer_hessian(x + h * u) @ v - sin_outer_hessian(x - h * u) @ v) / (2 * h)
    np.testing.assert_allclose(d3, fd, rtol=1e-7, atol=1e-7)


def test_lanes_of_a_transposed_matrix_are_multiplied_in_place():
    # W.T's lanes are transposed views: merging their rows for one product would copy
    # every lane (126 ms of an 870 ms batched HVP); one product per lane reads them in
    # place. f(W) = sum tanh(W^T r): (H V)_ij = r_i tanh''(z_j) (V^T r)_j, z = W^T r.
    from gpuad.primitives.linalg import _rows_merge
    rng = np.random.default_rng(3)
    n, m = 300, 200
    W, r = rng.standard_normal((n, m)) / np.sqrt(n), rng.standard_normal(n)
    V = rng.standard_normal((K, n, m))
    f = lambda W: gnp.sum(gnp.tanh(gnp.matmul(W.T, r)))                 # noqa: E731
    H = gpuad.hvp(f, W, V, batched=True)
    z = W.T @ r
    d2 = -2 * np.tanh(z) * sech2(z)
    want = r[None, :, None] * (d2 * np.einsum("kij,i->kj", V, r))[:, None, :]
    np.testing.assert_allclose(H, want, rtol=1e-11, atol=1e-12)
    lanes = np.zeros((K, n, m))
    assert _rows_merge(lanes) and _rows_merge(lanes[:, :1]) and _rows_merge(lanes[:1, :, :5])
    assert _rows_merge(np.zeros((K, 5, 5)).transpose(0, 2, 1))   # (tiny: copied, one product)
    assert not _rows_merge(lanes.transpose(0, 2, 1)) and not _rows_merge(lanes[:, :100])
    assert _rows_merge(lanes[:, ::2])                 # (rows 2 apart: still one stride)
    assert not _rows_merge(np.broadcast_to(lanes[0], lanes.shape))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.complex64])
@pytest.mark.parametrize("m,k,n,lanes", [(30, 1, 40, 3), (12, 2, 50, 1), (4, 0, 6, 3),
                                         (30, 1, 40, 0), (0, 1, 5, 2), (5, 1, 0, 2),
                                         (8, 40, 6, 3), (6, 1, 7, 0)])
def test_the_matmul_rule_on_lanes_against_its_formula(xp, dtype, m, k, n, lanes):
    # The JVP rule of a @ b with both factors traced, on every dtype and empty size: the
    # joined product where the contraction is short (the first four), else two products,
    # a's lanes a transposed view (multiplied per lane in place where they are not tiny,
    # (8, 40, 6, 3)); against ta @ b + a @ tb in float64 NumPy.
    from gpuad.primitives.linalg import _joins, _matmul_jvp
    from _xp import host, put
    rng = np.random.default_rng(5)

    def draw(*shape):
        x = rng.standard_normal(shape)
        return x + 1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else x
    a, b, ta, tb = draw(m, k), draw(k, n), draw(lanes, k, m), draw(lanes, k, n)
    ta = ta.transpose(0, 2, 1)                                   # (lanes, m, k), a view
    want = np.einsum("lmk,kn->lmn", ta, b) + np.einsum("mk,lkn->lmn", a, tb)
    args = [put(xp, x.astype(dtype)) for x in (a, b)]
    tans = [put(xp, np.ascontiguousarray(ta.astype(dtype).transpose(0, 2, 1))).transpose(0, 2, 1),
            put(xp, tb.astype(dtype))]
    out, tout = _matmul_jvp(args, tans)
    eps = np.finfo(dtype).eps
    assert tout.dtype == dtype and tuple(tout.shape) == (lanes, m, n)
    bound = 4 * (k + 1) * eps * (np.einsum("lmk,kn->lmn", abs(ta), abs(b))
                                 + np.einsum("mk,lkn->lmn", abs(a), abs(tb)))
    assert (abs(host(tout) - want) <= bound + 1e-30).all()
    assert _joins(*args, *tans) == (4 * k * (m + n) <= m * n)


# ---------------------------------------------------------------- lanes alone (dead values)

def _lanes_cases(xp):
    """Functions whose HVP's reverse sweep meets matrix products in the region whose
    cotangent values nobody needs (through linear primitives from x), and ones where a
    product's other operand has lanes (there the values are needed): (name, f)."""
    from _xp import put
    rng = np.random.default_rng(7)
    A = put(xp, rng.standard_normal((6, 10)))
    B = put(xp, rng.standard_normal((10, 5)))
    C = put(xp, rng.standard_normal((4, 5)))
    return {
        "A @ x": lambda x: gnp.sum(gnp.sin(A @ x)) + gnp.sum(x ** 3),
        "x @ B": lambda x: gnp.sum(gnp.tanh(x @ B) ** 2),             # x the left operand
        "reshape, slice, transpose": lambda x: gnp.sum(gnp.exp(
            0.1 * (C @ x.reshape(2, 5).T))) + gnp.sum(gnp.cos(A[:, ::2] @ x[::2])),
        "outer(x, x) @ x": lambda x: gnp.sum(gnp.sin(gnp.outer(x, x) @ x)),
        # products whose operands both come from x by linear primitives (lanes both sides:
        # their values are needed)
        "X @ X.T": lambda x: gnp.sum(gnp.sin(x.reshape(2, 5) @ x.reshape(2, 5).T)),
        "(A x).reshape @ (B^T x)": lambda x: gnp.sum(gnp.cos(
            (A @ x).reshape(3, 2) @ (B.T @ x)[:2])),
        "(A x) . (A x)": lambda x: (A @ x) @ (A @ x) + gnp.sum(x ** 4),
        "A @ (x + x[::-1])": lambda x: gnp.sum(gnp.sin(A @ (x + x[::-1]))),
        "sin(A x) cos(A x)": lambda x: gnp.sum(gnp.sin(A @ x) * gnp.cos(A @ x)),
    }


@pytest.mark.parametrize("case", list(_lanes_cases(np)))
def test_hvp_lanes_alone_against_the_hessian(xp, case):
    # hvp leaves the gradient's value out where only its lanes are kept; the Hessian
    # (jacfwd of the ordinary grad, which makes every value) is the reference, for one
    # direction, a batch, and chunks of a batch
    from _xp import host, put
    f = _lanes_cases(xp)[case]
    rng = np.random.default_rng(3)
    x, V = rng.standard_normal(10) * 0.5, rng.standard_normal((3, 10))
    H = host(gpuad.hessian(f)(put(xp, x)))
    tol = dict(rtol=1e-12, atol=1e-12 * (1 + np.abs(H).max()))
    xd, Vd = put(xp, x), put(xp, V)
    np.testing.assert_allclose(host(gpuad.hvp(f, xd, Vd[0])), H @ V[0], **tol)
    np.testing.assert_allclose(host(gpuad.hvp(f, xd, Vd, batched=True)), V @ H.T, **tol)
    np.testing.assert_allclose(host(gpuad.hvp(f, xd, Vd, batched=True, chunk=2)), V @ H.T,
                               **tol)


def test_dead_values_mark_only_what_no_lane_needs():
    # The sweep's analysis on recorded tapes: the products of x by constants (through
    # linear primitives) are dead; a product whose other operand carries lanes is not,
    # nor anything after a nonlinear primitive
    from gpuad.forward import JVPTrace, JVPTracer
    from gpuad.tape import VJPTrace, dead_values
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 4))
    x = np.arange(4.0)

    def tape_of(f):
        fwd = JVPTrace(1)
        with fwd:
            rev = VJPTrace()
            with rev:
                f(rev.new_input(JVPTracer(fwd, x, np.ones((1, 4)))))
        return [n.prim.name for n in rev.tape], dead_values(rev.tape, 1, fwd)

    names, dead = tape_of(lambda u: gnp.sum(gnp.sin(A @ u)))
    live = [names[i] for i in range(len(names)) if (i, 0) not in dead]
    assert [names[i] for i in range(len(names)) if (i, 0) in dead] == ["reshape", "matmul",
                                                                       "reshape"]
    assert "sin" in live and "reduce_sum" in live
    names, dead = tape_of(lambda u: gnp.sum(gnp.outer(u, u) @ u))
    assert "matmul" not in [names[i] for i in range(len(names)) if (i, 0) in dead]


@pytest.mark.parametrize("how", ["batched", "chunk", "single, large"])
def test_an_hvp_under_grad_differentiates_no_unmade_value(xp, how):
    # Under an outer transform the sweep makes every value: a rule that stacks a value with
    # its lanes in one product ([g; tg] @ a, a the outer transform's matrix) is
    # differentiated there too, and an unmade (NaN) value times its zero cotangent gave an
    # all-NaN gradient (found by review). Products whose matrix is the differentiated
    # argument, one with a constant matrix after a nonlinear use; against central
    # differences.
    from _xp import host, put
    rng = np.random.default_rng(0)
    n = 300 if how.startswith("single") else 3      # (the stacked product from 2^16 entries)
    th0, C = rng.standard_normal((256 if n == 300 else 2, n)) / 20, rng.standard_normal((2, 2))
    x, V = put(xp, rng.standard_normal(n)), put(xp, rng.standard_normal((4, n)))
    Cd = put(xp, C)

    def f_of(th):
        def f(z):
            y = th @ z
            return gnp.sin(z) @ (th.T @ y) + gnp.sum(gnp.sin(y)) + (Cd @ y[:2]) @ gnp.sin(z[:2])
        return f

    def h(th):
        if how == "batched":
            return gnp.sum(gpuad.hvp(f_of(th), x, V, batched=True))
        if how == "chunk":
            return gnp.sum(gpuad.hvp(f_of(th), x, V, batched=True, chunk=3))
        return gnp.sum(gpuad.hvp(f_of(th), x, V[0]))
    th = put(xp, th0)
    g = host(gpuad.grad(h)(th))
    assert not np.isnan(g).any()
    for idx in [(0, 0), (1, 2), (th0.shape[0] - 1, n - 1)]:
        e = np.zeros_like(th0)
        e[idx] = 1e-6
        fd = (float(host(h(put(xp, th0 + e)))) - float(host(h(put(xp, th0 - e))))) / 2e-6
        np.testing.assert_allclose(g[idx], fd, rtol=1e-6, atol=1e-6 * (1 + abs(fd)))


def test_hvp_lanes_alone_under_an_outer_transform():
    # grad of a function of the HVP (third order, with respect to the data): the lanes
    # alone are computed under an outer reverse trace, against central differences
    rng = np.random.default_rng(5)
    A, x, v = rng.standard_normal((5, 7)), rng.standard_normal(7), rng.standard_normal(7)

    def h(a):
        return gnp.sum(gpuad.hvp(lambda u: gnp.sum(gnp.sin(a @ u)), x, v) ** 2)
    g = gpuad.grad(h)(A)
    E_ = np.zeros_like(A)
    E_[2, 3] = 1e-5
    fd = (h(A + E_) - h(A - E_)) / 2e-5
    np.testing.assert_allclose(g[2, 3], fd, rtol=1e-6)


def test_hvp_values_left_unmade_are_nan():
    # The gradient's value that hvp's sweep leaves unmade is NaN, also where the product's
    # lanes were added into a buffer holding another term's value (w's, from the
    # regulariser): never a partial gradient. (The value is internal: read here through
    # the sweep's own output, jvp of the lanes-only grad.)
    from gpuad.transforms import _grad_for_lanes, jvp_lanes
    A, loss, lam, rng = logreg()
    w, v = rng.standard_normal(A.shape[1]), rng.standard_normal((1, A.shape[1]))
    value, lanes = jvp_lanes(_grad_for_lanes(loss), (w,), (v,), 1)
    assert np.isnan(value).all()
    np.testing.assert_allclose(lanes[0], gpuad.hvp(loss, w, v[0]), rtol=0, atol=0)
