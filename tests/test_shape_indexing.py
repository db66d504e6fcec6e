"""Indexing and shape functions beyond the op table: errors NumPy users expect, scatter-add
values, and the lane axis of forward mode with many lanes (the table pushes one)."""
import re

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp

X = np.arange(1.0, 25.0).reshape(2, 3, 4)


def test_setitem_on_traced_array_is_a_type_error():
    def f(x):
        x[0] = 1.0
        return gnp.sum(x)
    with pytest.raises(TypeError, match="immutable"):
        gpuad.grad(f)(X)


def test_inplace_add_on_traced_array_rebinds():
    # README: ``s += v`` rebinds ``s`` as ``s = s + v``; it never writes into an array passed in.
    def f(x):
        x += 1.0
        return gnp.sum(x * x)
    x = X.copy()
    g = gpuad.grad(f)(x)
    np.testing.assert_array_equal(g, 2 * (X + 1.0))
    np.testing.assert_array_equal(x, X)


@pytest.mark.parametrize("idx", [5, (0, -4), [0, 2, 3], (slice(None), [[3]])])
def test_out_of_bounds_index_raises_numpys_index_error(idx):
    x = np.zeros((3, 3))
    with pytest.raises(IndexError) as want:
        x[idx]
    with pytest.raises(IndexError, match=re.escape(str(want.value))):
        gnp._getitem(x, idx)
    with pytest.raises(IndexError, match=re.escape(str(want.value))):
        gpuad.grad(lambda x: gnp.sum(x[idx]))(x)


def test_boolean_mask_of_wrong_shape_is_an_index_error():
    with pytest.raises(IndexError, match="boolean index did not match"):
        gnp._getitem(np.zeros(3), np.array([True, False]))


def test_concatenate_mismatched_shapes_names_them():
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*shape \(2, 3\)"):
        gnp.concatenate([np.zeros((2, 3)), np.zeros((2, 2))], axis=0)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2, 3\)"):
        gpuad.grad(lambda x: gnp.sum(gnp.concatenate([x, np.zeros(3)])))(np.zeros((2, 3)))


def test_repeated_indices_add_up_in_the_gradient():
    g = gpuad.grad(lambda x: gnp.sum(x[np.array([0, 0, 2, 0])] * np.array([1.0, 2, 3, 4])))
    np.testing.assert_array_equal(g(np.zeros(3)), [7.0, 0.0, 3.0])


def test_split_returns_a_list_of_numpys_pieces():
    got = gnp.split(X, [1, -1], axis=2)
    assert isinstance(got, list)
    for a, b in zip(got, np.split(X, [1, -1], axis=2), strict=True):
        np.testing.assert_array_equal(a, b)


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
    lambda x: gnp.concatenate([x, 2.0 * x, np.ones((2, 3, 1))], axis=-1),
], ids=["nonadjacent", "int-nonadjacent", "ellipsis-nonadjacent", "mask", "basic", "pad",
        "pad-constant", "diag-roll-tile", "concatenate"])
def test_jacfwd_lanes_agree_with_jacrev(fun):
    np.testing.assert_allclose(gpuad.jacfwd(fun)(X), gpuad.jacrev(fun)(X), rtol=0, atol=0)


def test_batched_hvp_through_nonadjacent_indexing():
    def f(x):
        return gnp.sum(gnp.sin(x[[1, 0], :, [3, 3]]) ** 2)
    v = np.random.default_rng(0).standard_normal((3,) + X.shape)
    got = gpuad.hvp(f, X, v, batched=True)
    want = np.stack([gpuad.hvp(f, X, vk) for vk in v])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
