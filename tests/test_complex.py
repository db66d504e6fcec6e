"""Complex numbers: JAX's convention in every transform, NumPy's promotion, check_grads.

Reference values marked "JAX" were computed with jax 0.10.2 (x64) on the CPU, e.g.
``jax.jvp(jax.grad(lambda z: jnp.abs(z) ** 4), (1 + 2j,), (1 + 0.5j,))``; they are numbers
here, JAX is not a dependency.
"""
from __future__ import annotations

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad.testing import check_grads

Z = np.array([1.0 + 2.0j, -0.5 + 0.3j, 0.2 - 1.1j])


# ---------------------------------------------------------------- the convention

def test_grad_of_abs_squared_is_twice_conj():
    assert gpuad.grad(lambda z: gnp.abs(z) ** 2)(1.0 + 2.0j) == 2 - 4j       # JAX: (2-4j)
    np.testing.assert_allclose(gpuad.grad(lambda z: gnp.sum(gnp.abs(z) ** 2))(Z),
                               2 * np.conj(Z), rtol=1e-14)
    np.testing.assert_allclose(gpuad.grad(lambda z: gnp.sum(gnp.real(z * gnp.conj(z))))(Z),
                               2 * np.conj(Z), rtol=1e-14)


def test_grad_is_dfdx_minus_i_dfdy():
    """grad(f)(z) = df/dx - i df/dy for a real f of z = x + iy."""
    def f(z):
        return gnp.sum(gnp.real(z) ** 3 * gnp.imag(z) + gnp.sin(gnp.imag(z)))
    x, y = Z.real, Z.imag
    want = 3 * x ** 2 * y - 1j * (x ** 3 + np.cos(y))
    np.testing.assert_allclose(gpuad.grad(f)(Z), want, rtol=1e-14)
    assert gpuad.grad(gnp.angle)(1.0 + 2.0j) == pytest.approx(-0.4 - 0.2j)   # JAX


def test_python_complex_argument_gives_python_complex():
    g = gpuad.grad(lambda z: gnp.abs(z))(3.0 + 4.0j)
    assert type(g) is complex and g == pytest.approx(0.6 - 0.8j)


@pytest.mark.parametrize("f, df", [
    (gnp.sin, np.cos), (gnp.exp, np.exp), (lambda z: z ** 3, lambda z: 3 * z ** 2),
    (gnp.log, lambda z: 1 / z), (gnp.sqrt, lambda z: 0.5 / np.sqrt(z)),
    (lambda z: 1 / (1 + z * z), lambda z: -2 * z / (1 + z * z) ** 2)])
def test_holomorphic_grad_is_the_complex_derivative(f, df):
    for z in Z:
        assert gpuad.grad(f, holomorphic=True)(z) == pytest.approx(df(z), rel=1e-13)


def test_holomorphic_second_derivative():
    z = np.array(1.0 + 2.0j)
    h = gpuad.hessian(gnp.sin, holomorphic=True)(z)
    assert complex(h) == pytest.approx(-3.165778513216168 - 1.9596010414216063j)   # JAX
    g2 = gpuad.grad(gpuad.grad(gnp.sin, holomorphic=True), holomorphic=True)(z)
    assert complex(g2) == pytest.approx(-np.sin(1 + 2j))


def test_grad_of_complex_output_raises_naming_holomorphic():
    with pytest.raises(TypeError, match="holomorphic=True"):
        gpuad.grad(gnp.sin)(Z[0])
    with pytest.raises(TypeError, match="holomorphic=True"):
        gpuad.value_and_grad(lambda z: gnp.sum(z))(Z)


def test_holomorphic_needs_complex_inputs_and_output():
    with pytest.raises(TypeError, match="complex"):
        gpuad.grad(gnp.sin, holomorphic=True)(np.array(1.0))
    with pytest.raises(TypeError, match="output"):
        gpuad.grad(gnp.abs, holomorphic=True)(np.array(1.0 + 1.0j))


def test_vjp_transposes_without_conjugation():
    a = 2.0 + 3.0j
    _, f = gpuad.vjp(lambda z: a * z, np.array(1.0 + 1.0j))
    assert complex(f(np.array(1.0 + 0.0j))[0]) == a                  # JAX: (2+3j)
    _, f = gpuad.vjp(gnp.real, np.array(1.0 + 2.0j))
    assert complex(f(np.array(1.0))[0]) == 1.0                       # JAX: (1+0j)
    _, f = gpuad.vjp(gnp.imag, np.array(1.0 + 2.0j))
    assert complex(f(np.array(1.0))[0]) == -1j                       # JAX: -1j
    _, f = gpuad.vjp(gnp.conj, np.array(1.0 + 2.0j))
    assert complex(f(np.array(1.0 + 1.0j))[0]) == 1 - 1j


def test_jvp_pushes_complex_tangents():
    t = np.array([1.0 - 0.5j, 2.0j, 0.3 + 0.0j])
    out, tout = gpuad.jvp(gnp.sin, (Z,), (t,))
    np.testing.assert_allclose(tout, np.cos(Z) * t, rtol=1e-14)
    out, tout = gpuad.jvp(gnp.abs, (Z,), (t,))      # d|z| = Re(conj(z) t) / |z|
    np.testing.assert_allclose(tout, np.real(np.conj(Z) * t) / np.abs(Z), rtol=1e-14)
    with pytest.raises(TypeError, match="complex"):
        gpuad.jvp(gnp.sin, (np.ones(3),), (t,))


def test_hvp_of_real_function_of_complex_input():
    hv = gpuad.hvp(lambda z: gnp.abs(z) ** 4, np.array(1.0 + 2.0j), np.array(1.0 + 0.5j))
    assert complex(hv) == pytest.approx(36.0 - 42.0j)                 # JAX
    # batched: the same directions as one sweep
    V = np.array([[1.0 + 0.5j, 0.2j, 1.0], [0.3, -1.0 + 1.0j, 2.0j]])
    f = lambda z: gnp.sum(gnp.abs(z) ** 4 + gnp.real(z * z * z))    # noqa: E731
    batched = gpuad.hvp(f, Z, V, batched=True)
    for k in range(2):
        np.testing.assert_allclose(batched[k], gpuad.hvp(f, Z, V[k]), rtol=1e-13)


def test_jacobians_holomorphic():
    f = lambda z: gnp.sin(z) * z                                      # noqa: E731
    want = np.diag(np.cos(Z) * Z + np.sin(Z))
    np.testing.assert_allclose(gpuad.jacfwd(f, holomorphic=True)(Z), want, rtol=1e-14)
    np.testing.assert_allclose(gpuad.jacrev(f, holomorphic=True)(Z), want, rtol=1e-14)
    np.testing.assert_allclose(gpuad.jacobian(f, holomorphic=True)(Z), want, rtol=1e-14)
    for jac in (gpuad.jacfwd, gpuad.jacrev, gpuad.jacobian, gpuad.hessian):
        with pytest.raises(TypeError, match="holomorphic=True"):
            jac(lambda z: gnp.sum(gnp.abs(z)))(Z)
    with pytest.raises(TypeError, match="holomorphic=True"):
        gpuad.jacrev(lambda x: x * 1j)(np.ones(2))      # a real input, complex output


def test_taylor_on_complex_program():
    z, v = np.array(0.3 + 0.4j), np.array(1.0 - 0.5j)
    c = gpuad.taylor(gnp.sin, z, v, order=3)
    want = [np.sin(z), np.cos(z) * v, -np.sin(z) * v ** 2 / 2, -np.cos(z) * v ** 3 / 6]
    for got, w in zip(c, want):
        assert complex(got) == pytest.approx(complex(w), rel=1e-13)


# ---------------------------------------------------------------- promotion (NumPy's rules)

@pytest.mark.parametrize("a, b, want", [
    (np.ones(2, np.float32), np.ones(2, np.complex64), np.complex64),
    (np.ones(2, np.float64), np.ones(2, np.complex64), np.complex128),
    (np.ones(2, np.complex64), 2.0, np.complex64),               # Python float: weak
    (np.ones(2, np.complex64), np.float64(2.0), np.complex128),  # NumPy scalar: strong
    (np.ones(2, np.float32), 1j, np.complex64),                  # Python complex: weak
    (np.ones(2, np.float64), 1j, np.complex128),
    (np.ones(2, np.int64), 1j, np.complex128),
])
def test_promotion(a, b, want):
    assert np.asarray(gnp.add(a, b)).dtype == want == np.result_type(np.add(a, b))
    assert np.asarray(gnp.multiply(b, a)).dtype == want
    # the same under a transform, with the derivative flowing to both operands
    if np.asarray(a).dtype.kind in "fc":
        out, tout = gpuad.jvp(lambda x: x * b, (a,), (np.ones_like(a),))
        assert np.asarray(out).dtype == want


def test_astype_between_real_and_complex():
    x = np.array([1.0, -2.0])
    g = gpuad.grad(lambda x: gnp.sum(gnp.abs(gnp.astype(x, np.complex128) * (1 + 1j)) ** 2))(x)
    np.testing.assert_allclose(g, 4 * x)
    g = gpuad.grad(lambda z: gnp.sum(gnp.astype(z, np.float64) ** 2))(Z)   # the real part
    np.testing.assert_allclose(g, 2 * Z.real + 0j)


def test_non_holomorphic_elementwise_refuse_complex():
    for f in (gnp.maximum, gnp.arctan2, gnp.fmax):
        with pytest.raises(TypeError, match="complex"):
            f(Z, Z)
    with pytest.raises(TypeError, match="complex"):
        gpuad.grad(lambda z: gnp.sum(gnp.abs(gnp.maximum(z, 0.0))))(Z)


# ---------------------------------------------------------------- check_grads on complex input

def test_check_grads_complex():
    check_grads(lambda z, w: gnp.sum(gnp.exp(z) * gnp.conj(w) + gnp.abs(z * w)), (Z, Z[::-1]),
                order=2)


def test_check_grads_detects_a_conjugated_vjp():
    @gpuad.custom_vjp
    def f(z):
        return z * (2.0 + 1.0j)

    def fwd(z):
        return f(z), None

    def bwd(_, g):
        return (g * (2.0 - 1.0j),)     # wrong: conjugated
    f.defvjp(fwd, bwd)
    # (forward mode transposes the same bwd: central differences catch it)
    with pytest.raises(AssertionError, match="dot-product|central differences"):
        check_grads(f, (Z,), order=1, modes=("rev",))


def test_check_grads_detects_a_wrong_imaginary_derivative():
    @gpuad.custom_jvp
    def f(z):
        return gnp.abs(z) ** 2

    @f.defjvp
    def f_jvp(primals, tangents):
        (z,), (t,) = primals, tangents
        return f(z), 2 * gnp.real(z) * gnp.real(t)      # misses the imaginary direction
    with pytest.raises(AssertionError, match="central differences"):
        check_grads(f, (Z,), order=1, modes=("fwd",))


# Every ndarray attribute a traced value has, with the arguments to call it with: the table
# must name each one (a new attribute fails until it is added), and each gives NumPy's value
# on a real and on a complex array under a transform (a newcomer's review: ``.real`` was
# the traced array itself, so ``z.real`` of a complex z was z, values and derivatives wrong).
_ATTRS = {
    "T": None, "mT": None, "real": None, "imag": None, "shape": None, "ndim": None,
    "size": None, "dtype": None,
    "conj": (), "conjugate": (), "copy": (), "flatten": (), "ravel": (), "squeeze": (),
    "sum": (), "mean": (), "prod": (), "var": (), "std": (), "cumsum": (), "cumprod": (),
    "trace": (), "argpartition": (1,),
    "diagonal": (), "transpose": (), "all": (), "any": (), "nonzero": (),
    "max": (), "min": (), "argmax": (), "argmin": (), "argsort": (), "clip": (-1.0, 1.0),
    "round": (1,), "take": ([0, 2],), "repeat": (2,), "reshape": (3, 2),
    "swapaxes": (0, 1), "astype": (np.complex128,), "dot": (np.ones((3, 2)),),
    "compress": ([True, False, True], 1), "item": None, "tolist": None,
}
_REAL_ONLY = {"max", "min", "argmax", "argmin", "argsort", "argpartition", "clip"}   # orderings


def test_every_traced_array_attribute_is_numpys():
    from gpuad.core import Tracer
    have = {n for n in dir(Tracer) if not n.startswith("_") and hasattr(np.ndarray, n)}
    assert have == set(_ATTRS), f"untested attributes: {sorted(have - set(_ATTRS))}"
    x = np.array([[0.5, -1.25, 2.0], [1.5, 0.25, -3.0]])
    z = x + 1j * np.array([[1.0, -0.5, 0.25], [2.0, -1.0, 0.75]])
    for a in (x, z):
        for name, args in _ATTRS.items():
            if name in ("item", "tolist") or (a is z and name in _REAL_ONLY):
                continue
            ref = getattr(a, name) if args is None else getattr(a, name)(*args)
            if name in ("shape", "ndim", "size", "dtype"):
                seen = []
                gpuad.jvp(lambda v: seen.append(getattr(v, name)) or gnp.sum(v), (a,),
                          (np.ones_like(a),))
                assert seen == [ref], name
                continue

            def f(v, name=name, args=args):
                r = getattr(v, name) if args is None else getattr(v, name)(*args)
                return r if not isinstance(r, tuple) else r[0]
            got, _ = gpuad.jvp(f, (a,), (np.ones_like(a),))
            ref = ref if not isinstance(ref, tuple) else ref[0]
            np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-15,
                                       atol=1e-15, err_msg=name)
            assert np.asarray(got).dtype == np.asarray(ref).dtype, name


def test_real_imag_conj_methods_derivatives():
    z = np.array([3 + 4j, 1 - 2j])
    v, g = gpuad.value_and_grad(lambda z: gnp.sum(z.real * z.real))(z)
    assert v == 10.0
    np.testing.assert_array_equal(g, [6, 2])
    g = gpuad.grad(lambda z: gnp.sum(z.imag ** 3))(z)     # d/dy y^3 = 3 y^2: -i 3 y^2
    np.testing.assert_allclose(g, [-48j, -12j])
    _, t = gpuad.jvp(lambda z: z.conjugate(), (z,), (np.array([1 + 1j, 2 - 1j]),))
    np.testing.assert_array_equal(t, [1 - 1j, 2 + 1j])


@pytest.mark.parametrize("kw", [{}, {"endpoint": False}, {"axis": 1}], ids=repr)
def test_geomspace_of_complex_end_points(kw):
    """Traced complex geomspace (it raised the real "one sign" ValueError): NumPy's values
    (rotated to start's direction start / |start|, end points exact), grad = df/dx -
    i df/dy and jvp along real and imaginary directions by central differences."""
    a, b = np.array([1.0 + 1.0j, -2.0 + 0.5j]), np.array([3.0 - 1.0j, 0.5 + 2.0j])
    w = np.random.default_rng(3).standard_normal((2, 5, 2))
    ref = lambda a, b: np.geomspace(a, b, 5, **kw)
    np.testing.assert_allclose(gnp.geomspace(a, b, 5, **kw), ref(a, b), rtol=1e-14)
    seen = {}

    def loss(a, b, m=gnp):
        o = m.geomspace(a, b, 5, **kw)
        if m is gnp:
            seen["o"] = gpuad.core.full_lower(o)
        return m.sum(w[0].reshape(o.shape) * m.real(o) + w[1].reshape(o.shape) * m.imag(o))
    ga, gb = gpuad.grad(loss, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(seen["o"], ref(a, b), rtol=1e-14)
    h = 1e-6
    for g, which in ((ga, 0), (gb, 1)):
        fd = np.zeros(2, complex)
        for i in range(2):
            for d, part in ((1.0, 1.0), (1j, -1j)):   # df/dx - i df/dy
                e = np.zeros(2, complex)
                e[i] = h * d
                args_p = [a, b]
                args_m = [a, b]
                args_p[which], args_m[which] = args_p[which] + e, args_m[which] - e
                fd[i] += part * (loss(*args_p, m=np) - loss(*args_m, m=np)) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-8)
    for t in (np.array([1.0, 0.0]), np.array([0.0, 1j]), np.array([0.3 - 0.2j, 1j])):
        _, jt = gpuad.jvp(lambda a: gnp.geomspace(a, b, 5, **kw), (a,), (t.astype(complex),))
        fd = (ref(a + h * t, b) - ref(a - h * t, b)) / (2 * h)
        np.testing.assert_allclose(jt, fd, rtol=1e-7, atol=1e-8)


def test_geomspace_traced_matches_numpy_on_signs_and_dtypes():
    """Traced geomspace is NumPy's computation: a complex dtype rotates real end points of
    two signs, real ones of two signs give NaN between them, a zero is NumPy's error."""
    cases = [((-1.0, 1.0, 3), {}), ((-1.0, 1.0, 3), {"dtype": complex}), ((1j, -1j, 3), {}),
             ((-1.0 + 0j, 1.0, 4), {}), ((np.complex64(1 + 1j), 8.0, 4), {}),
             ((2.0, 1.0, 4), {"dtype": np.complex64}), ((1 + 1j, 2.0, 0), {})]
    with np.errstate(invalid="ignore"):
        for args, kw in cases:
            want = np.geomspace(*args, **kw)
            seen = {}

            def f(s):
                seen["o"] = gnp.geomspace(s, *args[1:], **kw)
                return gnp.sum(gnp.abs(seen["o"]))
            gpuad.grad(f)(np.asarray(args[0]))
            got = gpuad.core.full_lower(seen["o"])
            assert got.dtype == want.dtype, (args, kw)
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    for s, e in ((0.0, 1.0), (1j, 0j)):
        with pytest.raises(ValueError, match="cannot include zero"):
            gpuad.grad(lambda s: gnp.sum(gnp.abs(gnp.geomspace(s, e, 3))))(s)
