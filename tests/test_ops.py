"""Generated from tests/op_table.py: one test function test_<name> per table row.

Each expands over the row's shapes into: forward in each of the row's dtypes (float64 and
float32; complex128 and complex64 for complex rows) against the float64 (complex128) NumPy
reference, a non-contiguous input, and check_grads to the row's order in both modes
(forward against central differences, reverse against forward by the dot product), in
float64 and, for complex rows, in complex128 (real and imaginary directions); each of
these on NumPy arrays and on CuPy arrays (ids ``cupy-...``, marked ``gpu``).
"""
from __future__ import annotations

import numpy as np
import pytest

from gpuad import tree
from gpuad.testing import check_grads

from op_table import TABLE, complexify


def _args(row, shapes, rng, complex_=False):
    gen = row.domain or (lambda r, s: r.uniform(-2, 2, size=s))
    if complex_:
        gen = row.cdomain or complexify(gen)
    args = [np.asarray(gen(rng, s)) for s in shapes]   # (a cdomain may keep some real)
    return [a.astype(np.complex128 if a.dtype.kind == "c" else np.float64) for a in args]


def _kind_dtype(dt, kind):
    """The dtype of ``dt``'s precision in ``kind`` ('f' or 'c'): complex inputs give real
    results (abs, var, norm, angle) and real ones complex results in that precision."""
    single = np.dtype(dt) in (np.float32, np.complex64)
    return np.dtype({("f", True): np.float32, ("f", False): np.float64,
                     ("c", True): np.complex64, ("c", False): np.complex128}[kind, single])


def _noncontiguous(a, xp):
    # The same values, laid out with a stride of 2 (a view into a larger buffer).
    big = xp.empty(a.shape + (2,), dtype=a.dtype)
    big[..., 0] = a
    return big[..., 0]


def _host(x):
    if isinstance(x, (list, tuple)):
        return np.asarray([_host(v) for v in x])
    return np.asarray(x.get() if hasattr(x, "get") else x)


def _check_forward(row, shapes, dt, layout, xp):
    rng = np.random.default_rng(0)
    cplx = np.dtype(dt).kind == "c"
    args = _args(row, shapes, rng, cplx)
    want = np.asarray(row.ref(*args))
    want = want.astype(np.complex128 if want.dtype.kind == "c" else np.float64)
    inputs = [xp.asarray(a.astype(_kind_dtype(dt, a.dtype.kind))) for a in args]
    if layout == "strided":
        inputs = [_noncontiguous(a, xp) for a in inputs]
    out = row.fun(*inputs)
    if xp is not np:       # results live where the inputs live
        for leaf in tree.flatten(out)[0]:
            assert type(leaf) is xp.ndarray, f"{type(leaf)} from CuPy inputs"
    got = _host(out)
    assert got.shape == want.shape, (got.shape, want.shape)
    expect = _kind_dtype(dt, want.dtype.kind)
    assert got.dtype == expect, f"result dtype {got.dtype}, inputs {dt}"
    rtol = 1e-13 if dt in ("float64", "complex128") else row.rtol32
    scale = np.maximum(np.abs(want), 1.0)
    np.testing.assert_array_less(np.abs(got - want), rtol * scale * 4 + 1e-300)


def _check_grads(row, shapes, dt, xp):
    rng = np.random.default_rng(1)
    args = [xp.asarray(a) for a in _args(row, shapes, rng, np.dtype(dt).kind == "c")]
    check_grads(row.fun, args, order=row.order, modes=("fwd", "rev"))


def _make(row):
    cases = []
    for shapes in row.shapes:
        sid = "x".join(str(s).replace(" ", "") for s in shapes)
        for dt in row.dtypes:
            cases.append(pytest.param("fwd", shapes, dt, "contiguous", id=f"fwd-{dt}-{sid}"))
        grads = ["float64"] + (["complex128"] if "complex128" in row.dtypes else [])
        for dt in grads:
            tag = "" if dt == "float64" else f"-{dt}"
            if all(len(s) for s in shapes):
                cases.append(pytest.param("fwd", shapes, dt, "strided",
                                          id=f"fwd-strided{tag}-{sid}"))
            cases.append(pytest.param("grad", shapes, dt, "contiguous",
                                      id=f"grad{row.order}{tag}-{sid}"))

    @pytest.mark.parametrize("kind,shapes,dt,layout", cases)
    def test(kind, shapes, dt, layout, xp):
        if kind == "fwd":
            _check_forward(row, shapes, dt, layout, xp)
        else:
            _check_grads(row, shapes, dt, xp)
    test.__name__ = f"test_{row.name}"
    return test


_names = set()
for _row in TABLE:
    assert _row.name not in _names, f"table row {_row.name} appears twice"
    _names.add(_row.name)
    globals()[f"test_{_row.name}"] = _make(_row)


def _logistic_derivative(x, k):
    """The k-th derivative of the logistic function 1/(1 + e^-x) at x (mpmath, 60 digits:
    the polynomial in s = sigmoid(x) given by s' = s (1 - s); its cancellation near x = 0
    costs at most 20 of the 60 digits for |x| >= 1e-20)."""
    import mpmath
    with mpmath.workdps(60):
        x = mpmath.mpf(float(x))
        s = 1 / (1 + mpmath.exp(-x))
        poly = {0: [0, 1]}              # coefficients in s of d^k sigmoid / dx^k
        for j in range(k):
            p = poly[j] + [0]
            q = [0] * (len(p) + 1)      # d/dx sum a_i s^i = sum a_i i s^(i-1) s (1 - s)
            for i, a in enumerate(p):
                if i:
                    q[i] += i * a
                    q[i + 1] -= i * a
            poly[j + 1] = q
        return float(sum(a * s ** i for i, a in enumerate(poly[k])))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logistic_family_derivatives_of_every_order_keep_relative_accuracy(dtype):
    # sigmoid (nn.sigmoid, scipy.special.expit) and softplus (whose derivative is sigmoid):
    # every derivative to order 4 against the exact one, relatively, near 0 (where the
    # even derivatives of sigmoid vanish like x: the quotient rule on 1/(1 + e^-x) cancels
    # there) and in both tails. softplus''' was 0 at x = 1e-20 (true -x/8) and off by
    # 1.6e-4 relative at x = 1e-3 in float32.
    import gpuad
    import gpuad.nn as nn
    import gpuad.scipy.special as gss
    eps = float(np.finfo(dtype).eps)
    fams = [(nn.sigmoid, 0), (gss.expit, 0), (nn.softplus, 1)]   # (f, order of sigmoid in f)
    for x in (1e-20, -1e-8, 1e-3, -0.25, 1.5, -6.0, 20.0, -30.0):
        xa = np.array(x, dtype=dtype)
        for f, shift in fams:
            d = f
            for k in range(1, 5):
                d = gpuad.grad(d)
                if k - shift < 1:
                    continue
                want = _logistic_derivative(xa, k - shift)
                got = d(xa)
                assert np.asarray(got).dtype == dtype
                assert abs(float(got) - want) <= 64 * eps * abs(want), (f.__name__, x, k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_family_is_exact_to_its_dtype_far_from_zero(dtype):
    # softmax and log_softmax are invariant under a shift of the slice: at logits of size
    # C the result must keep its digits, not lose C eps (x - logsumexp(x) rounded
    # logsumexp at C: float32 log_softmax([-1000, -1001]) was -0.31323 for -0.31326).
    # Values against SciPy on the shifted slice; first and second derivatives equal to
    # those at the unshifted logits. Every softmax-like function.
    import scipy.special as ss
    import gpuad
    import gpuad.nn as nn
    import gpuad.numpy as gnp
    import gpuad.scipy.special as gss
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3, 4))
    w = rng.standard_normal((3, 4))
    eps = float(np.finfo(dtype).eps)
    fams = [(nn.softmax, ss.softmax), (nn.log_softmax, ss.log_softmax),
            (gss.softmax, ss.softmax), (gss.log_softmax, ss.log_softmax)]
    for shift in (-1000.0, 3e4) if dtype == np.float32 else (-1e10, 3e12):
        x = (base + shift).astype(dtype)
        rel = x - x.max(axis=-1, keepdims=True)        # exact (Sterbenz) for these sizes
        for f, ref in fams:
            for axis in (-1, 0):
                want = ref(rel.astype(np.float64) if axis == -1 else
                           (x - x.max(axis=0, keepdims=True)).astype(np.float64), axis=axis)
                got = np.asarray(f(x, axis=axis))
                assert got.dtype == dtype
                np.testing.assert_allclose(got, want, rtol=8 * eps, atol=0)
                loss = lambda z: gnp.sum(f(z, axis=axis) * w)             # noqa: E731
                z0 = (x - x.max(axis=axis, keepdims=True))
                np.testing.assert_allclose(gpuad.grad(loss)(x), gpuad.grad(loss)(z0),
                                           rtol=16 * eps, atol=16 * eps)
                np.testing.assert_allclose(gpuad.hvp(loss, x, w.astype(dtype)),
                                           gpuad.hvp(loss, z0, w.astype(dtype)),
                                           rtol=64 * eps, atol=64 * eps)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_complex_softmax_family_is_exact_to_its_dtype_far_from_zero(dtype):
    # The shift by the slice's max (above) skipped complex logits: complex64
    # log_softmax([-1000, -1001]) was still -0.31323 (true -0.31326), complex128 at 1e10
    # off 6e-7 relative. They shift by the max of the real parts; the derivatives are
    # those at the unshifted logits.
    import scipy.special as ss
    import gpuad
    import gpuad.nn as nn
    import gpuad.numpy as gnp
    import gpuad.scipy.special as gss
    rng = np.random.default_rng(1)
    rel = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    w = rng.standard_normal((3, 4))
    eps = float(np.finfo(dtype).eps)
    fams = [(nn.softmax, ss.softmax), (nn.log_softmax, ss.log_softmax),
            (gss.softmax, ss.softmax), (gss.log_softmax, ss.log_softmax)]
    for shift in (-1000.0, 3e4) if dtype == np.complex64 else (-1e10, 3e12):
        rel = rel - rel.real.max(axis=-1, keepdims=True)
        x = (rel + shift).astype(dtype)
        z0 = (x - x.real.max(axis=-1, keepdims=True)).astype(dtype)   # exact (Sterbenz)
        for f, ref in fams:
            want = ref(z0.astype(np.complex128), axis=-1)
            got = np.asarray(f(x, axis=-1))
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, rtol=16 * eps, atol=16 * eps)
            loss = lambda z: gnp.sum(gnp.real(f(z, axis=-1)) * w)         # noqa: E731
            np.testing.assert_allclose(gpuad.grad(loss)(x), gpuad.grad(loss)(z0),
                                       rtol=16 * eps, atol=16 * eps)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sech2_derivatives_keep_their_digits_in_the_tails(dtype):
    # tanh' = sech^2 x and sigmoid' = sech^2(x/2)/4 (nn.sigmoid, scipy.special.expit) from
    # 4 e^(-2|x|): the form e^(log 4 - 2|x|) rounded its argument and lost |x| eps relative
    # (17 ulps in float64 at x = 300, 24 in float32 at x = 40).
    import mpmath
    import gpuad
    import gpuad.nn as nn
    import gpuad.numpy as gnp
    import gpuad.scipy.special as gss
    eps = float(np.finfo(dtype).eps)
    xs = (5.0, 40.0, 150.0, 300.0, 354.0, 700.0) if dtype == np.float64 else \
        (5.0, 20.0, 30.0, 40.0, 43.0)
    for f, half in ((gnp.tanh, False), (nn.sigmoid, True), (gss.expit, True)):
        for x in xs:
            for sgn in (1.0, -1.0):
                xv = sgn * x
                with mpmath.workdps(50):
                    want = float(mpmath.sech(xv / 2) ** 2 / 4 if half else mpmath.sech(xv) ** 2)
                got = float(gpuad.grad(f)(np.array(xv, dtype=dtype)))
                assert abs(got - want) <= 4 * eps * want, (f.__name__, xv, got, want)
