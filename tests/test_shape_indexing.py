"""Indexing and shape functions beyond the op table: errors NumPy users expect, scatter-add
values, and the lane axis of forward mode with many lanes (the table pushes one); each on
NumPy and on CuPy arrays (``xp``)."""
import re

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp

from _xp import host, on

XH = np.arange(1.0, 25.0).reshape(2, 3, 4)


def test_setitem_on_traced_array_is_a_type_error(xp):
    def f(x):
        x[0] = 1.0
        return gnp.sum(x)
    with pytest.raises(TypeError, match="immutable"):
        gpuad.grad(f)(xp.asarray(XH))


def test_inplace_add_on_traced_array_rebinds(xp):
    # README: ``s += v`` rebinds ``s`` as ``s = s + v``; it never writes into an array passed in.
    def f(x):
        x += 1.0
        return gnp.sum(x * x)
    x = xp.asarray(XH)
    g = gpuad.grad(f)(x)
    on(xp, g)
    np.testing.assert_array_equal(host(g), 2 * (XH + 1.0))
    np.testing.assert_array_equal(host(x), XH)


@pytest.mark.parametrize("idx", [5, (0, -4), [0, 2, 3], (slice(None), [[3]])])
def test_out_of_bounds_index_raises_numpys_index_error(idx, xp):
    with pytest.raises(IndexError) as want:
        np.zeros((3, 3))[idx]
    x = xp.zeros((3, 3))
    with pytest.raises(IndexError, match=re.escape(str(want.value))):
        gnp._getitem(x, idx)
    with pytest.raises(IndexError, match=re.escape(str(want.value))):
        gpuad.grad(lambda x: gnp.sum(x[idx]))(x)


def test_boolean_mask_of_wrong_shape_is_an_index_error(xp):
    with pytest.raises(IndexError, match="boolean index did not match"):
        gnp._getitem(xp.zeros(3), xp.asarray([True, False]))


def test_concatenate_mismatched_shapes_names_them(xp):
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*shape \(2, 3\)"):
        gnp.concatenate([xp.zeros((2, 3)), xp.zeros((2, 2))], axis=0)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2, 3\)"):
        gpuad.grad(lambda x: gnp.sum(gnp.concatenate([x, xp.zeros(3)])))(xp.zeros((2, 3)))


def test_repeated_indices_add_up_in_the_gradient(xp):
    g = gpuad.grad(lambda x: gnp.sum(x[xp.asarray([0, 0, 2, 0])] * xp.asarray([1.0, 2, 3, 4])))
    r = g(xp.zeros(3))
    on(xp, r)
    np.testing.assert_array_equal(host(r), [7.0, 0.0, 3.0])


def test_split_returns_a_list_of_numpys_pieces(xp):
    got = gnp.split(xp.asarray(XH), [1, -1], axis=2)
    assert isinstance(got, list)
    on(xp, got)
    for a, b in zip(got, np.split(XH, [1, -1], axis=2), strict=True):
        np.testing.assert_array_equal(host(a), b)


# Forward mode carries many lanes at once (jacfwd: one per input element); indexing rules
# must keep the lane axis first even where NumPy moves advanced-index dimensions.
@pytest.mark.parametrize("fun", [
    lambda x: x[[1, 0, 1], :, [2, 2, 0]],
    lambda x: x[0, :, [1, 1]],
    lambda x: x[[0, 0], ..., None, [1, 2]],
    lambda x: x[x > 7],
    lambda x: x[::-1, None, 1:],
    lambda x: gnp.pad(x, 1, mode="reflect"),
    lambda x: gnp.pad(x, ((0, 1), (1, 0), (2, 2))),
    lambda x: gnp.diag(x[0, 0]) + gnp.roll(gnp.tile(x[1, :, 0], (4, 1)).T, 1, 0)[:, :3].sum(),
    lambda x: gnp.concatenate([x, 2.0 * x, gnp.ones_like(x[..., :1])], axis=-1),
], ids=["nonadjacent", "int-nonadjacent", "ellipsis-nonadjacent", "mask", "basic", "pad",
        "pad-constant", "diag-roll-tile", "concatenate"])
def test_jacfwd_lanes_agree_with_jacrev(fun, xp):
    X = xp.asarray(XH)
    jf = gpuad.jacfwd(fun)(X)
    on(xp, jf)
    np.testing.assert_allclose(host(jf), host(gpuad.jacrev(fun)(X)), rtol=0, atol=0)


def test_batched_hvp_through_nonadjacent_indexing(xp):
    def f(x):
        return gnp.sum(gnp.sin(x[[1, 0], :, [3, 3]]) ** 2)
    X = xp.asarray(XH)
    v = xp.asarray(np.random.default_rng(0).standard_normal((3,) + XH.shape))
    got = gpuad.hvp(f, X, v, batched=True)
    on(xp, got)
    want = np.stack([host(gpuad.hvp(f, X, vk)) for vk in v])
    np.testing.assert_allclose(host(got), want, rtol=1e-12, atol=1e-12)


FILL_ARGUMENTS = [
    # (name, f(a): a traced scalar used as a fill value, the derivative in a)
    ("pad", lambda a: gnp.sum(gnp.pad(np.ones((2, 3)), ((1, 0), (2, 1)), constant_values=a)
                              * np.arange(18.0).reshape(3, 6)), 81.0),
    ("pad 1-d", lambda a: gnp.sum(gnp.pad(np.ones(2), 1, constant_values=a)), 2.0),
    ("full", lambda a: gnp.sum(gnp.full((2, 3), a)), 6.0),
    ("full_like", lambda a: gnp.sum(gnp.full_like(np.ones(3), a)), 3.0),
    ("nan_to_num", lambda a: gnp.sum(gnp.nan_to_num(np.array([np.nan, 1.0, np.inf]), nan=a,
                                                    posinf=2 * a)), 3.0),
    ("interp left/right", lambda a: gnp.sum(gnp.interp(np.array([-1.0, 5.0]), np.array([0.0, 1.0]),
                                                       np.array([0.0, 1.0]), left=a, right=2 * a)), 3.0),
    ("insert", lambda a: gnp.sum(gnp.insert(np.ones(2), 1, a)), 1.0),
    ("append", lambda a: gnp.sum(gnp.append(np.ones(2), a)), 1.0),
    ("heaviside h0", lambda a: gnp.sum(gnp.heaviside(np.array([0.0, 1.0, 0.0]), a)), 2.0),
    ("ediff1d to_begin", lambda a: gnp.sum(gnp.ediff1d(np.ones(3), to_begin=a)), 1.0),
]


@pytest.mark.parametrize("f,want", [(f, w) for _, f, w in FILL_ARGUMENTS],
                         ids=[n for n, _, _ in FILL_ARGUMENTS])
def test_a_traced_fill_value_has_its_derivative(f, want):
    # pad read a traced constant_values as a value: its derivative was a silent 0.
    assert float(gpuad.grad(f)(1.5)) == want
    assert float(gpuad.jvp(f, (1.5,), (1.0,))[1]) == want


def test_pad_refuses_traced_per_axis_constant_values():
    with pytest.raises(TypeError, match="one scalar"):
        gpuad.grad(lambda a: gnp.sum(gnp.pad(np.ones(2), 1, constant_values=(a, 2.0))))(1.5)


def test_pad_fills_a_traced_constant_in_the_arrays_dtype():
    """NumPy fills in the array's dtype; a traced float64 constant_values made a float32
    array's pad float64 (value and tangent), a traced complex one a real array's complex."""
    x = np.ones(3, np.float32)
    y, t = gpuad.jvp(lambda c: gnp.pad(x, 1, constant_values=c), (np.array(2.5),),
                     (np.array(1.0),))
    assert y.dtype == t.dtype == np.float32
    np.testing.assert_array_equal(y, np.pad(x, 1, constant_values=2.5))
    np.testing.assert_array_equal(t, [1, 0, 0, 0, 1])
    y, t = gpuad.jvp(lambda c: gnp.pad(np.ones(3), 1, constant_values=c), (np.array(2.0 + 1j),),
                     (np.array(1.0 + 1j),))
    assert y.dtype == t.dtype == np.float64
    np.testing.assert_array_equal(t, [1, 0, 0, 0, 1])


_LAYOUTS = {"C": lambda a: a, "F": np.asfortranarray, "T": lambda a: a.T,
            "strided": lambda a: a[:, ::2], "reversed": lambda a: a[::-1]}


@pytest.mark.parametrize("layout", list(_LAYOUTS))
@pytest.mark.parametrize("order", ["C", "F", "A", "K", None])
def test_flatten_and_ravel_take_numpys_order(order, layout):
    """x.flatten(order), x.ravel(order=...) and gnp.ravel(x, order) on traced arrays
    (flatten took no order; a bare TypeError): NumPy's entries for every order and memory
    layout; the derivative follows the entries (central differences)."""
    lay = _LAYOUTS[layout]
    base = np.arange(12.0).reshape(3, 4) * 0.5 - 2.0
    a = lay(base)
    w = np.linspace(-1.0, 1.0, a.size)
    want = a.flatten() if order is None else a.flatten(order)
    assert np.array_equal(a.ravel() if order is None else np.ravel(a, order), want)
    for call in (lambda v: v.flatten() if order is None else v.flatten(order),
                 lambda v: v.ravel() if order is None else v.ravel(order=order),
                 lambda v: gnp.ravel(v) if order is None else gnp.ravel(v, order)):
        seen = {}

        def f(v):
            seen["r"] = call(v)
            return gnp.sum(gnp.sin(seen["r"]) * w)
        g = gpuad.grad(f)(a)
        np.testing.assert_array_equal(gpuad.core.full_lower(seen["r"]), want)
        np.testing.assert_array_equal(call(a), want)
        # central differences in the entries of the base array, laid out the same way
        h, fd = 1e-6, np.zeros(base.size)
        for j in range(base.size):
            e = np.zeros(base.size)
            e[j] = h
            fp = np.sum(np.sin(lay(base + e.reshape(3, 4)).flatten(order or "C")) * w)
            fm = np.sum(np.sin(lay(base - e.reshape(3, 4)).flatten(order or "C")) * w)
            fd[j] = (fp - fm) / (2 * h)
        idx = lay(np.arange(base.size).reshape(3, 4))      # a's entries in the base array
        np.testing.assert_allclose(g, fd[idx], rtol=1e-7, atol=1e-9)


def test_reshape_orders_and_numpy_2_keywords():
    """reshape's order 'F' and 'A' (refused before), 'K' NumPy's ValueError; NumPy 2's
    keyword names of reshape (shape=, copy=), broadcast_to (array=, shape=, subok=) and
    full (shape=), traced and untraced."""
    x = np.arange(6.0).reshape(2, 3)
    for order in ("C", "F", "A"):
        np.testing.assert_array_equal(gnp.reshape(x, (3, 2), order=order),
                                      np.reshape(x, (3, 2), order=order))
        out, t = gpuad.jvp(lambda v: v.reshape((3, 2), order=order), (x,), (x + 1.0,))
        np.testing.assert_array_equal(out, np.reshape(x, (3, 2), order=order))
        np.testing.assert_array_equal(t, np.reshape(x + 1.0, (3, 2), order=order))
    with pytest.raises(ValueError, match="order 'K' is not permitted"):
        gnp.reshape(x, (3, 2), order="K")
    np.testing.assert_array_equal(gnp.reshape(x, shape=(3, 2), copy=True), x.reshape(3, 2))
    g = gpuad.grad(lambda v: gnp.sum(gnp.broadcast_to(array=v, shape=(4, 3), subok=False)))
    np.testing.assert_array_equal(g(x[0]), np.full(3, 4.0))
    assert gpuad.grad(lambda s: gnp.sum(gnp.full(shape=(3,), fill_value=s)))(2.0) == 3.0
    np.testing.assert_array_equal(gnp.full(shape=2, fill_value=1.5), np.full(2, 1.5))


def test_compress_method_of_traced_arrays():
    """x.compress(condition, axis) exists on traced arrays (it was missing), NumPy's values;
    the entries not taken have derivative 0."""
    x = np.arange(6.0).reshape(2, 3) + 1.0
    for axis in (None, 0, 1):
        cond = [True, False, True] if axis != 0 else [False, True]
        want = x.compress(cond, axis=axis)
        seen = {}

        def f(v):
            seen["r"] = v.compress(cond, axis=axis)
            return gnp.sum(seen["r"] ** 2)
        g = gpuad.grad(f)(x)
        np.testing.assert_array_equal(gpuad.core.full_lower(seen["r"]), want)
        mask = np.zeros(x.size if axis is None else x.shape[axis], bool)
        mask[np.nonzero(cond)[0]] = True
        taken = (mask.reshape(x.shape) if axis is None else
                 np.broadcast_to(mask if axis == 1 else mask[:, None], x.shape))
        np.testing.assert_array_equal(g, np.where(taken, 2 * x, 0.0))
