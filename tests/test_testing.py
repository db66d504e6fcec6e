"""gpuad.testing's own reporting: a failure names the worst mismatch, not the last one."""
import numpy as np

from gpuad.testing import _mismatch


def test_mismatch_reports_the_worst_leaf_not_the_last():
    want = [np.zeros(3), np.zeros(3)]
    got = [np.array([0.0, 5.0, 0.0]), np.array([0.0, 0.0, 1.0])]
    msg = _mismatch(got, want, 1e-6, 1e-6)
    assert "max |error| 5 at output 0 index (1,)" in msg, msg
    # and within one leaf, the largest error's index
    msg = _mismatch([np.array([1.0, 3.0, 2.0])], [np.zeros(3)], 1e-6, 1e-6)
    assert "index (1,)" in msg and "max |error| 3" in msg, msg


# ------------------------------------------------------------------ wrong rules are caught

import pytest  # noqa: E402

import gpuad  # noqa: E402
import gpuad.numpy as gnp  # noqa: E402
from gpuad.testing import check_grads  # noqa: E402


def _sin_wrong_at_first_order(factor):
    """sin with its derivative rule off by ``factor``: a custom_vjp (``bwd`` wrong) and a
    custom_jvp (the JVP rule wrong)."""
    @gpuad.custom_vjp
    def vjp1(x):
        return gnp.sin(x)
    vjp1.defvjp(lambda x: (vjp1(x), x), lambda x, g: (factor * g * gnp.cos(x),))

    @gpuad.custom_jvp
    def jvp1(x):
        return gnp.sin(x)
    jvp1.defjvp(lambda p, t: (jvp1(p[0]), factor * gnp.cos(p[0]) * t[0]))
    return vjp1, jvp1


def _wrong_rules():
    """sin with a custom rule wrong at first order (a factor 1.01) or only at second
    order (cos held constant: the first derivative right, its derivative 0), as a
    custom_vjp (``bwd`` wrong) and as a custom_jvp (the JVP rule wrong)."""
    vjp1, jvp1 = _sin_wrong_at_first_order(1.01)

    @gpuad.custom_vjp
    def vjp2(x):
        return gnp.sin(x)
    vjp2.defvjp(lambda x: (vjp2(x), x), lambda x, g: (g * gpuad.stop_gradient(gnp.cos(x)),))

    @gpuad.custom_jvp
    def jvp2(x):
        return gnp.sin(x)
    jvp2.defjvp(lambda p, t: (jvp2(p[0]), gpuad.stop_gradient(gnp.cos(p[0])) * t[0]))
    return {"custom_vjp, first order": (vjp1, 1), "custom_vjp, second order": (vjp2, 2),
            "custom_jvp, first order": (jvp1, 1), "custom_jvp, second order": (jvp2, 2)}


@pytest.mark.parametrize("rule", list(_wrong_rules()))
@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
@pytest.mark.parametrize("dt", [np.float64, np.complex128])
def test_check_grads_catches_a_wrong_rule_in_every_mode_it_exercises(rule, modes, dt):
    """check_grads fails on a wrong derivative rule in every mode at its order and above:
    "fwd" checks forward mode against central differences (a custom_jvp's rule; a
    custom_vjp's bwd, which forward mode transposes), "rev" checks reverse mode against
    forward mode by the dot-product test and against central differences along the same
    direction (the dot-product test alone passes a rule both modes share)."""
    f, wrong_order = _wrong_rules()[rule]
    x = np.array([0.3, -0.7, 1.1]).astype(dt)
    if dt == np.complex128:
        x = x + 1j * np.array([0.2, 0.5, -0.4])
    caught = True
    for order in (1, 2, 3):
        if caught and order >= wrong_order:
            with pytest.raises(AssertionError):
                check_grads(f, (x,), order=order, modes=modes)
        else:
            check_grads(f, (x,), order=order, modes=modes)
    # and the right rule passes every mode and order
    check_grads(gnp.sin, (x,), order=3, modes=modes)


@pytest.mark.parametrize("dts", [(np.float32, np.float64), (np.complex64, np.complex128),
                                 (np.float64, np.complex64), (np.float64, np.float64)])
@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
def test_check_grads_on_mixed_precision_and_none_outputs(dts, modes):
    """check_grads failed a right derivative when one argument leaf was float32 (or
    complex64) and another float64: its step and tolerances came from numpy.result_type
    of the leaves (float64), so float32 leaves moved by 1e-6 (central differences all
    rounding) against float64 tolerances. They now come from the least precise leaf.
    And a None inside the output (an empty subtree, None in every transform) gave NaN
    against NaN. A wrong rule is still caught in both."""
    a = np.array([0.3, -0.7, 1.1]).astype(dts[0])
    b = np.array([0.5, 0.2]).astype(dts[1])
    if np.dtype(dts[0]).kind == "c":
        a = (a + 0.4j).astype(dts[0])
    if np.dtype(dts[1]).kind == "c":
        b = (b - 0.3j).astype(dts[1])
    p = {"a": a, "b": b}

    def f(p):
        return {"u": gnp.sin(p["a"]) * gnp.sum(p["b"] ** 2), "n": None,
                "v": (None, gnp.exp(p["b"]) * p["a"][0])}
    check_grads(f, (p,), order=2, modes=modes)
    # (a factor 3: float32's tolerances are 1e-2, and one dot-product test sums all leaves)
    wrong_vjp, wrong_jvp = _sin_wrong_at_first_order(3)
    wrong = wrong_jvp if modes == ("fwd",) else wrong_vjp

    def g(p):
        return {"u": wrong(p["a"]) * gnp.sum(p["b"] ** 2), "n": None}
    with pytest.raises(AssertionError):
        check_grads(g, (p,), order=1, modes=modes)


def test_check_grads_takes_a_none_inside_an_argument():
    """A None inside a pytree argument is an empty subtree (26f409f), but check_grads'
    finite differences computed x + eps * t on it: TypeError "unsupported operand type(s)
    for *: 'float' and 'NoneType'" (real), and complex arguments split Re/Im on it too."""
    import gpuad
    import gpuad.numpy as gnp
    x = {"a": np.array([0.3, -0.8]), "n": None, "b": (np.array(1.5), None)}
    gpuad.check_grads(lambda p: {"o": gnp.sin(p["a"]) * p["b"][0], "z": None}, (x,), order=2)
    xc = {"a": np.array([0.3 + 1j, -0.8]), "n": None}
    gpuad.check_grads(lambda p: gnp.sin(p["a"]), (xc,), order=2)
