"""Conventions and errors of the reductions and linear algebra that the op table cannot
state: ties in max/min, products with zeros, stable logsumexp, slogdet's sign, and the
messages of bad axes and mismatched shapes; each on NumPy and on CuPy arrays (``xp``)."""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.scipy.special
import gpuad.numpy as gnp
from gpuad import nn
from gpuad.taylor import taylor

from _xp import host, on


def eq(got, want):
    np.testing.assert_array_equal(host(got), host(want))


def allclose(got, want, **kw):
    np.testing.assert_allclose(host(got), host(want), **kw)


# ------------------------------------------------------------------ ties split evenly

def test_max_ties_split_the_gradient_evenly(xp):
    g = gpuad.grad(lambda x: gnp.max(x))(xp.asarray([1.0, 3.0, 3.0]))
    on(xp, g)
    eq(g, [0.0, 0.5, 0.5])
    x = xp.asarray([[1.0, 2.0, 2.0], [5.0, 5.0, 5.0]])
    g = gpuad.grad(lambda x: gnp.sum(gnp.max(x, axis=1) * xp.asarray([1.0, 3.0])))(x)
    eq(g, [[0.0, 0.5, 0.5], [1.0, 1.0, 1.0]])


def test_min_and_amax_ties_in_forward_and_reverse_mode(xp):
    x = xp.asarray([[4.0, 1.0], [1.0, 4.0]])
    g = gpuad.grad(lambda x: gnp.min(x))(x)
    eq(g, [[0.0, 0.5], [0.5, 0.0]])
    # Forward mode: the tangent of a tied max is the mean of the tied tangents.
    _, t = gpuad.jvp(lambda x: gnp.amax(x, axis=0, keepdims=True), (x,),
                     (xp.asarray([[1.0, 2.0], [3.0, 6.0]]),))
    eq(t, [[1.0, 6.0]])
    _, t = gpuad.jvp(gnp.max, (xp.full(4, 2.0),), (xp.asarray([1.0, 2.0, 3.0, 6.0]),))
    assert float(t) == 3.0


def test_tie_split_sums_to_one_and_has_zero_hessian(xp):
    x = xp.asarray([3.0, 3.0, 3.0])
    allclose(gpuad.grad(gnp.max)(x), [1 / 3] * 3, rtol=1e-15)
    eq(gpuad.hessian(gnp.max)(x), np.zeros((3, 3)))


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_elementwise_extrema_at_ties_are_numpys_values(name, dt, xp):
    # Every pair of special values, bitwise NumPy's: a tie gives y (maximum(0.0, -0.0) is
    # -0.0), equal huge values stay finite (a mean of the two overflowed to inf), equal
    # subnormals keep their last bit, NaN propagates (maximum) or is ignored (fmax); first
    # and second derivatives at the ties split 1/2 each and their Hessian is 0.
    fi = np.finfo(dt)
    v = np.array([fi.max, -fi.max, fi.smallest_subnormal, -fi.smallest_subnormal, 0.0, -0.0,
                  np.inf, -np.inf, np.nan, 1.5], dt)
    x, y = np.repeat(v, v.size), np.tile(v, v.size)
    got = host(getattr(gnp, name)(xp.asarray(x), xp.asarray(y)))
    want = getattr(np, name)(x, y)
    bits = np.uint32 if dt == np.float32 else np.uint64
    same = (got.view(bits) == want.view(bits)) | (np.isnan(got) & np.isnan(want))
    assert same.all(), [(x[i], y[i], got[i], want[i]) for i in np.flatnonzero(~same)][:4]
    a = xp.asarray(np.array([fi.max / 4, 2.0, fi.max / 4], dt))
    f = lambda a: gnp.sum(getattr(gnp, name)(a, a[::-1]))
    eq(gpuad.grad(f)(a), [1.0, 1.0, 1.0])
    eq(gpuad.hessian(f)(a), np.zeros((3, 3)))


NAN_EXTREMA = [
    ("max", lambda x: gnp.max(x, axis=1), [[0, 0.5, 0, 0.5], [0, 0, 0, 1]]),
    ("amax", lambda x: gnp.amax(x, axis=-1), [[0, 0.5, 0, 0.5], [0, 0, 0, 1]]),
    ("min", lambda x: gnp.min(x, axis=1), [[0, 0.5, 0, 0.5], [1, 0, 0, 0]]),
    ("amin", lambda x: gnp.amin(x, axis=(1,)), [[0, 0.5, 0, 0.5], [1, 0, 0, 0]]),
    ("method max", lambda x: x.max(axis=1), [[0, 0.5, 0, 0.5], [0, 0, 0, 1]]),
    ("ptp", lambda x: gnp.ptp(x, axis=1), [[0, 0, 0, 0], [-1, 0, 0, 1]]),
    # with initial= (and where=) the NaN went through maximum(NaN, initial): 0 both sides
    ("max initial", lambda x: gnp.max(x, axis=1, initial=-5.0), [[0, 0.5, 0, 0.5], [0, 0, 0, 1]]),
    ("min where", lambda x: gnp.min(x, axis=1, initial=9.0, where=np.array([1, 1, 1, 0], bool)),
     [[0, 1, 0, 0], [1, 0, 0, 0]]),
    # max(abs(x)): the NaN entries' share times abs's derivative at NaN, 0
    ("inf-norm", lambda x: gnp.linalg.norm(x, np.inf, axis=1), [[0, 0, 0, 0], [0, 0, 0, 1]]),
    ("-inf-norm", lambda x: gnp.linalg.norm(x, -np.inf, axis=1), [[0, 0, 0, 0], [1, 0, 0, 0]]),
]


@pytest.mark.parametrize("f,weights", [(f, w) for _, f, w in NAN_EXTREMA],
                         ids=[n for n, _, _ in NAN_EXTREMA])
def test_max_min_of_a_slice_holding_nan_give_the_nan_entries_the_derivative(f, weights, xp):
    # The extremum of a slice holding NaN is NaN, equal to no entry: its NaN entries give
    # the value and share the derivative (as median's and sort's gather). The weights were
    # 0/0 = NaN on the whole slice, so a cotangent 0 there (a masked NaN) made NaN gradients.
    x = xp.asarray([[3.0, np.nan, 1.0, np.nan], [1.0, 1.5, 1.25, 2.0]])
    out = host(f(x))
    assert np.isnan(out[0]) and np.isfinite(out[1])
    w = np.asarray(weights, dtype=float)
    eq(gpuad.grad(lambda x: gnp.sum(f(x)))(x), w)
    # the NaN masked out: its cotangent 0 gives exactly 0, not NaN
    g = gpuad.grad(lambda x: gnp.sum(gnp.where(np.isnan(out), 0.0, f(x))))(x)
    on(xp, g)
    eq(g, w * [[0.0], [1.0]])
    t = np.arange(1.0, 9.0).reshape(2, 4)
    _, jt = gpuad.jvp(f, (x,), (xp.asarray(t),))
    eq(jt, np.sum(w * t, axis=1))
    eq(gpuad.hessian(lambda x: gnp.sum(f(x)))(x), np.zeros((2, 4, 2, 4)))


# ------------------------------------------------------------------ prod with zeros

def _prod_others(x):
    return np.array([np.prod(np.delete(x, i)) for i in range(x.size)])


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0], [0.0, 0.0, 3.0], [0.0], [5.0, -1.0, 0.0, 2.0]])
def test_prod_gradient_is_exact_at_zeros(x, xp):
    g = gpuad.grad(gnp.prod)(xp.asarray(x))
    eq(g, _prod_others(np.array(x)))
    assert np.all(np.isfinite(host(gpuad.hessian(gnp.prod)(xp.asarray(x)))))


def test_prod_hessian_with_one_zero(xp):
    h = gpuad.hessian(gnp.prod)(xp.asarray([2.0, 0.0, 3.0]))
    eq(h, [[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]])


def test_prod_along_an_axis_with_zeros(xp):
    x = np.array([[0.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 0.0, 0.0, 5.0]])
    g = gpuad.grad(lambda x: gnp.sum(gnp.prod(x, axis=1)))(xp.asarray(x))
    eq(g, np.stack([_prod_others(r) for r in x]))


# ------------------------------------------------------------------ stability

def test_logsumexp_and_softmax_do_not_overflow(xp):
    x = xp.asarray([1000.0, 1000.0, -np.inf])
    assert float(gnp.logsumexp(x)) == pytest.approx(1000.0 + np.log(2.0), rel=1e-15)
    allclose(gpuad.grad(gnp.logsumexp)(x), [0.5, 0.5, 0.0])
    allclose(nn.softmax(xp.asarray([800.0, 0.0], dtype=np.float32)), [1.0, 0.0])
    assert float(gnp.logsumexp(xp.asarray([-np.inf, -np.inf]))) == -np.inf


# ------------------------------------------------------------------ linear algebra

def test_slogdet_sign_and_gradient(xp):
    ah = np.array([[-2.0, 1.0], [0.0, 3.0]])
    a = xp.asarray(ah)
    sign, logdet = gnp.linalg.slogdet(a)
    assert float(sign) == -1.0 and float(logdet) == pytest.approx(np.log(6.0))
    assert float(gnp.linalg.slogdet(a).logabsdet) == float(logdet)
    g = gpuad.grad(lambda a: gnp.linalg.slogdet(a)[1])(a)
    on(xp, g)
    allclose(g, np.linalg.inv(ah).T, rtol=1e-14)


def test_logdet_hvp_forward_over_reverse(xp):
    # d^2 log|det A| [V, .] = -A^-T V^T A^-T
    rng = np.random.default_rng(0)
    a = rng.uniform(-0.3, 0.3, (3, 3)) + 2 * np.eye(3)
    v = rng.standard_normal((2, 3, 3))
    hv = gpuad.hvp(lambda a: gnp.linalg.slogdet(a)[1], xp.asarray(a), xp.asarray(v),
                   batched=True)
    on(xp, hv)
    ai = np.linalg.inv(a)
    allclose(hv, [-(ai @ vk @ ai).T for vk in v], rtol=1e-12, atol=1e-14)


def test_cholesky_gradient_is_symmetric(xp):
    rng = np.random.default_rng(0)
    b = rng.standard_normal((3, 3))
    a = b @ b.T + 3 * np.eye(3)
    w = xp.arange(9.0).reshape(3, 3)
    g = host(gpuad.grad(lambda a: gnp.sum(gnp.linalg.cholesky(a) * w))(xp.asarray(a)))
    allclose(g, g.T, rtol=1e-14)


def test_traced_matmul_operator_and_numpy_dispatch(xp):
    a, b = xp.asarray([[1.0, 2.0]]), xp.asarray([[3.0], [4.0]])
    eq(gpuad.grad(lambda a: gnp.sum(a @ b))(a), [[3.0, 4.0]])
    eq(gpuad.grad(lambda b: gnp.sum(a @ b))(b), [[1.0], [2.0]])
    # NumPy functions on traced arrays route to gpuad (numpy.linalg too).
    g = gpuad.grad(lambda a: np.linalg.det(a))(xp.asarray([[2.0, 1.0], [0.0, 3.0]]))
    on(xp, g)
    # The cofactor matrix through an SVD: its backward error (n eps ||a||) times ||a||.
    np.testing.assert_allclose(host(g), [[3.0, 0.0], [-1.0, 2.0]], rtol=0,
                               atol=2 * 2.2e-16 * 3.7**2)


@pytest.mark.parametrize("spec,n", [("ii->i", 1), ("ij,jk->ik", 2), ("ij,jk,kl->il", 3)])
def test_einsum_taylor_coefficients_match_nested_jvp(spec, n, xp):
    a = xp.asarray(np.arange(9.0).reshape(3, 3) / 4 + np.eye(3))
    v = xp.asarray(np.linspace(-1.0, 1.0, 9).reshape(3, 3))

    def f(a):
        return gnp.einsum(spec, *[a] * n)
    c = taylor(f, a, v, order=3)
    d2 = gpuad.jvp(lambda a: gpuad.jvp(f, (a,), (v,))[1], (a,), (v,))[1]
    allclose(c[1], gpuad.jvp(f, (a,), (v,))[1], rtol=1e-13)
    allclose(c[2], d2 / 2, rtol=1e-13, atol=1e-13)


def test_gradients_read_nothing_back_to_the_host(xp):
    a = xp.asarray([[2.0, 0.5], [0.1, 3.0]])

    def f(a):
        return (gnp.logsumexp(a) + gnp.max(a) + gnp.prod(a) + gnp.std(a)
                + gnp.linalg.slogdet(a)[1] + gnp.sum(gnp.sort(a @ a)))
    with gpuad.profile() as prof:
        gpuad.hvp(f, a, xp.ones((2, 2)))
    assert prof.host_reads == []


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("call", [
    lambda x: gnp.sum(x, axis=3), lambda x: gnp.prod(x, axis=3), lambda x: gnp.max(x, axis=3),
    lambda x: gnp.min(x, axis=(0, 3)), lambda x: gnp.var(x, axis=3),
    lambda x: gnp.std(x, axis=-4), lambda x: gnp.logsumexp(x, axis=3),
    lambda x: gnp.cumsum(x, axis=3), lambda x: gnp.sort(x, axis=3),
    lambda x: gnp.linalg.norm(x, axis=3), lambda x: nn.softmax(x, axis=3),
])
def test_bad_axis_raises_axis_error_naming_it(call, xp):
    x = xp.ones((2, 3))
    with pytest.raises(np.exceptions.AxisError, match=r"axis -?[34] is out of bounds"):
        call(x)
    with pytest.raises(np.exceptions.AxisError, match=r"axis -?[34] is out of bounds"):
        gpuad.grad(lambda x: gnp.sum(call(x)))(x)


@pytest.mark.parametrize("f", [gnp.matmul, lambda a, b: a @ b, gnp.dot])
def test_matmul_shape_mismatch_names_both_shapes(f, xp):
    a, b = xp.ones((2, 3)), xp.ones((2, 4))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 4\)"):
        gpuad.grad(lambda a: gnp.sum(f(a, b)))(a)
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 4\)"):
        gnp.matmul(a, b)


def test_matmul_batch_mismatch_and_0d_operands(xp):
    with pytest.raises(ValueError, match=r"\(2, 2, 3\) and \(3, 3, 2\)"):
        gnp.matmul(xp.ones((2, 2, 3)), xp.ones((3, 3, 2)))
    with pytest.raises(ValueError, match=r"\(\) and \(3,\)"):
        gnp.matmul(xp.ones(()), xp.ones(3))


def test_einsum_and_linalg_errors(xp):
    with pytest.raises(ValueError, match="2 operands"):
        gnp.einsum("ij,jk", xp.ones((2, 2)))
    with pytest.raises(ValueError, match=r"label 'j'"):
        gnp.einsum("ij,jk", xp.ones((2, 3)), xp.ones((2, 2)))
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        gnp.linalg.inv(xp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(2,\)"):
        gnp.linalg.solve(xp.eye(3), xp.ones(2))
    with pytest.raises(ValueError, match="invalid norm order 'nucl' for matrices"):
        gnp.linalg.norm(xp.eye(2), "nucl")


NORM_ORDS = [None, np.inf, -np.inf, 0, 1, -1, 2, -2, 3, 0.5, "fro", "f", "nuc"]
NORM_AXES = [None, 0, 1, -1, 2, (0, 1), (1, 0), (-2, -1), (0, 2), (1, 2), (0, 0), (0, 1, 2)]


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (0, 0), (2, 0, 3), (0, 2, 3), (),
                                   (2, 3)], ids=str)
def test_norm_of_empty_arrays_as_numpy(shape):
    """linalg.norm of every ord and axis on empty arrays: NumPy's value (0 where its max
    has initial=0: ord inf of zeros(0), 1 of zeros((3, 0)), 2 / 'nuc' of zeros((0, 3));
    gpuad's max refused the empty reduction) or NumPy's error type (-inf, -2: no
    identity), untraced and under grad, NumPy's order of checks ('fro' of one axis is an
    invalid vector order before the axis is read; 'f' is 'fro')."""
    x = np.random.default_rng(5).standard_normal(shape)
    for ord_, axis, kd in [(o, a, k) for o in NORM_ORDS for a in NORM_AXES
                           for k in (False, True)]:
        what = (shape, ord_, axis, kd)
        call = lambda m, v: m.linalg.norm(v, ord=ord_, axis=axis, keepdims=kd)
        with np.errstate(all="ignore"):
            try:
                want = call(np, x)
            except Exception as e:           # noqa: BLE001  (NumPy's error, whatever it is)
                with pytest.raises(type(e)):
                    call(gnp, x)
                with pytest.raises(type(e)):
                    gpuad.grad(lambda v: gnp.sum(call(gnp, v)))(x)
                continue
            got = call(gnp, x)
            seen = {}

            def f(v):
                seen["r"] = call(gnp, v)
                return gnp.sum(seen["r"])
            g = gpuad.grad(f)(x)
        for r in (got, gpuad.core.full_lower(seen["r"])):
            assert np.shape(r) == np.shape(want) and np.asarray(r).dtype == want.dtype, what
            np.testing.assert_allclose(r, want, rtol=1e-12, err_msg=str(what))
        assert g.shape == x.shape, what


def test_frobenius_alias_f_and_its_derivative():
    """ord='f' is NumPy's alias of 'fro' (it was refused); derivative x / |x|_F by central
    differences."""
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    assert gnp.linalg.norm(x, "f") == pytest.approx(np.linalg.norm(x, "f"), rel=1e-15)
    assert gnp.linalg.matrix_norm(x, ord="f") == pytest.approx(np.linalg.norm(x), rel=1e-15)
    g = gpuad.grad(lambda v: gnp.linalg.norm(v, "f", axis=(0, 1)))(x)
    h = 1e-6
    fd = np.array([(np.linalg.norm(x + h * e) - np.linalg.norm(x - h * e)) / (2 * h)
                   for e in np.eye(6).reshape(6, 2, 3)]).reshape(2, 3)
    np.testing.assert_allclose(g, fd, rtol=1e-8)


def test_cond_of_empty_arrays_is_numpys_error():
    for shape in [(0, 0), (0, 3), (3, 0), (2, 0, 0)]:
        for p in (None, 1, 2, -2, np.inf, "fro"):
            with pytest.raises(np.linalg.LinAlgError, match="empty"):
                gnp.linalg.cond(np.zeros(shape), p)
            with pytest.raises(np.linalg.LinAlgError, match="empty"):
                np.linalg.cond(np.zeros(shape), p)


def test_matrix_rank_is_numpys_integer_with_derivative_zero(xp):
    # An integer of the matrix: piecewise constant, so a traced argument is read as its value.
    a = xp.asarray([[1.0, 2.0], [2.0, 4.0]])
    assert int(gnp.linalg.matrix_rank(a)) == 1
    g = gpuad.grad(lambda a: gnp.sum(a) * gnp.linalg.matrix_rank(a))(a)
    on(xp, g)
    np.testing.assert_array_equal(host(g), 1.0)


def test_eig_and_eigvals_pass_through_and_refuse_a_traced_matrix():
    # NumPy's own results for a constant matrix (a NumPy name never AttributeError); a
    # matrix being differentiated: NotImplementedError naming the way out
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    w, v = gnp.linalg.eig(a)
    wn, vn = np.linalg.eig(a)
    np.testing.assert_array_equal(w, wn)
    np.testing.assert_array_equal(v, vn)
    np.testing.assert_array_equal(gnp.linalg.eigvals(a), np.linalg.eigvals(a))
    for name in ("eig", "eigvals"):
        f = getattr(gnp.linalg, name)
        with pytest.raises(NotImplementedError, match=f"linalg.{name}: .*use eigh"):
            gpuad.grad(lambda m: gnp.sum(gnp.real(f(m)[0] if name == "eig" else f(m))))(a)
    assert float(gpuad.grad(lambda m: gnp.sum(m * m))(a).sum()) == 13.0   # still usable


def test_linalg_scalar_results_are_numpy_scalars():
    # issue 13: where NumPy returns np.float64 for NumPy inputs, so does gpuad outside a
    # transform (a newcomer's review: norm, det, slogdet, trace gave 0-d arrays)
    x, v = np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([3.0, 4.0])
    for name, args in [("norm", (x,)), ("norm", (v,)), ("det", (x,)), ("trace", (x,)),
                       ("vector_norm", (v,)), ("matrix_norm", (x,)), ("cond", (x,))]:
        got, want = getattr(gnp.linalg, name)(*args), getattr(np.linalg, name)(*args)
        assert type(got) is type(want) and got == pytest.approx(want), name
    sign, logdet = gnp.linalg.slogdet(x)
    assert type(sign) is type(logdet) is np.float64


@pytest.mark.parametrize("lse", [gnp.logsumexp, nn.logsumexp,
                                 lambda x, **k: gpuad.scipy.special.logsumexp(x, **k)])
def test_logsumexp_at_plus_inf_has_softmax_limit_derivatives(lse):
    # a newcomer's review: grad at [inf, 0] was [0, 0] (a zero cotangent times exp(inf));
    # the value is +inf and the derivatives softmax's limit, max's convention at ties
    inf = np.inf
    assert float(lse(np.array([inf, 0.0]))) == inf
    np.testing.assert_array_equal(gpuad.grad(lse)(np.array([inf, 0.0])), [1.0, 0.0])
    np.testing.assert_array_equal(gpuad.grad(lse)(np.array([inf, -1.0, inf])), [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(gpuad.hessian(lse)(np.array([inf, 0.0])), np.zeros((2, 2)))
    x = np.array([[inf, 0.0, 1.0], [1.0, 2.0, 3.0]])
    g = gpuad.grad(lambda v: gnp.sum(lse(v, axis=1)))(x)
    e = np.exp(x[1] - 3.0)
    np.testing.assert_allclose(g, [[1.0, 0.0, 0.0], e / e.sum()], rtol=1e-15)
    assert float(gpuad.jvp(lse, (np.array([inf, 0.0]),), (np.array([2.0, 5.0]),))[1]) == 2.0


def test_scipy_logsumexp_weights_at_plus_inf():
    f = lambda z: gpuad.scipy.special.logsumexp(z[:3], b=z[3:])       # noqa: E731
    z = np.array([np.inf, 0.0, 1.0, 2.0, 0.5, 1.0])
    assert float(f(z)) == np.inf
    # d/da: 1 at the +inf entry; d/db: 1 / (the b at +inf entries' sum) there, 0 elsewhere
    np.testing.assert_array_equal(gpuad.grad(f)(z), [1.0, 0.0, 0.0, 0.5, 0.0, 0.0])


def test_nanmax_nanmin_where_needs_initial_as_numpy():
    x = np.array([[1.0, np.nan, 3.0], [2.0, 5.0, np.nan]])
    m = np.array([True, False, True])
    for f in (gnp.nanmax, gnp.nanmin):
        with pytest.raises(ValueError, match="does not have an identity"):
            f(x, where=m)
        assert f(x, axis=1, where=m, initial=2.5).tolist() == \
            getattr(np, f.__name__)(x, axis=1, where=m, initial=2.5).tolist()


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin", "nanmax", "nanmin"])
def test_extrema_of_no_entries_with_initial_are_initial(name, xp):
    # NumPy: the extremum over no entries is initial; gpuad raised "zero-size array to
    # reduction operation maximum which has no identity". The derivative is initial's.
    f = getattr(gnp, name)
    e = xp.zeros((0, 3))
    eq(f(e, axis=0, initial=1.5), getattr(np, name)(np.zeros((0, 3)), axis=0, initial=1.5))
    eq(f(e, initial=1.5, keepdims=True), [[1.5]])
    i0, t0 = xp.asarray(2.0), xp.asarray(1.0)        # (initial on e's device)
    assert float(gpuad.grad(lambda i: gnp.sum(f(e, axis=0, initial=i)))(i0)) == 3.0
    _, t = gpuad.jvp(lambda i: f(e, axis=0, initial=i), (i0,), (t0,))
    eq(t, [1.0, 1.0, 1.0])
    assert int(f(np.zeros(0, dtype=np.int64), initial=3)) == 3


def test_traced_cumprod_argpartition_methods_as_ndarrays(xp):
    # ndarray has these methods; a traced array raised AttributeError for them.
    x = xp.asarray([[3.0, 1.0, 2.0], [0.5, 4.0, 0.0]])
    for kw in ({}, {"axis": 1}, {"axis": 0}):
        eq(gpuad.grad(lambda a: gnp.sum(a.cumprod(**kw)))(x),
           gpuad.grad(lambda a: gnp.sum(gnp.cumprod(a, **kw)))(x))
    seen = {}

    def f(a):
        seen["argpartition"] = host(a.argpartition(1, axis=1))
        return gnp.sum(a)
    gpuad.grad(f)(x)
    eq(seen["argpartition"], np.argpartition(host(x), 1, axis=1))


@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("where", [None, np.array([True, True, False])])
def test_no_degrees_of_freedom_give_numpys_inf_and_no_finite_derivative(name, where):
    # ddof >= N: NumPy's value inf (its divisor clamped at 0). std's derivative was
    # sqrt'(inf) = 0 times var's: a silent 0; with where= the clamp made -0.0 and the value
    # -inf. (nanstd/nanvar give NaN there, a constant: README's nan* convention.)
    import warnings
    f = getattr(gnp, name)
    x = np.array([1.0, 2.0, 4.0])
    n = 3 if where is None else 2
    kw = {} if where is None else {"where": where}
    inside = np.ones(3, bool) if where is None else where
    for ddof in (n, n + 1):
        g = lambda u: f(u, ddof=ddof, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert g(x) == getattr(np, name)(x, ddof=ddof, **kw) == np.inf
            gr = gpuad.grad(g)(x)
            _, t = gpuad.jvp(g, (x,), (np.array([1.0, -1.0, 0.5]),))
        assert not np.isfinite(gr[inside]).any() and not np.isfinite(t)
        assert (gr[~inside] == 0).all()
