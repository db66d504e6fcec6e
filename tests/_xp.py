"""What tests that run on NumPy and on CuPy arrays share (the ``xp`` fixture is in
conftest.py): host copies, arrays put on the device, and comparisons that also check the
result lives where the inputs live, as ``cupy.testing.numpy_cupy_allclose`` compares one
test body's results on both."""
from __future__ import annotations

import numpy as np

from gpuad import tree

# CuPy compiles every kernel with -ftz=true (cupy/cuda/compiler.py: _compile_with_cache_cuda),
# so float32 subnormals flush to zero on a GPU but not on the CPU: float32 comparisons on
# CuPy allow an absolute error of the smallest normal float32.
FTZ_ATOL = float(np.finfo(np.float32).tiny)


def host(x):
    """A NumPy copy of ``x`` (CuPy arrays by ``.get()``), leaf by leaf for pytrees;
    Python numbers stay numbers."""
    if isinstance(x, (list, tuple, dict)):
        return tree.tree_map(host, x)
    if isinstance(x, (int, float)):
        return x
    return np.asarray(x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else x)


def put(xp, x):
    """``x`` (a NumPy array, a list or a pytree of them) as arrays of ``xp``."""
    return tree.tree_map(lambda v: v if isinstance(v, (int, float)) else xp.asarray(v), x)


def on(xp, x) -> None:
    """Every array leaf of ``x`` is an array of ``xp`` (results live where inputs live)."""
    for leaf in tree.flatten(x)[0]:
        if hasattr(leaf, "shape") and not isinstance(leaf, np.generic):
            assert type(leaf) is xp.ndarray, f"a {type(leaf).__module__}.{type(leaf).__name__} " \
                                             f"result from {xp.__name__} inputs"


def close(got, want, xp=None, rtol=1e-7, atol=0.0):
    """``got`` (on ``xp``, checked when given) equals ``want`` to ``rtol``/``atol``, leaf by
    leaf; float32 on CuPy also allows :data:`FTZ_ATOL`."""
    if xp is not None:
        on(xp, got)
    pairs = ([(got, want)] if not isinstance(got, (list, tuple, dict))   # want: maybe a list
             else zip(tree.flatten(got)[0], tree.flatten(want)[0]))
    for g, w in pairs:
        g, w = host(g), host(w)
        a = atol
        if xp is not None and xp is not np and np.asarray(g).dtype == np.float32:
            a = max(a, FTZ_ATOL)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=a)


def hessian_routes(f, z):
    """The Hessian of the scalar function ``f`` at the 1-d host array ``z`` by every route
    that can disagree at an edge point, each as a float64 matrix and its transpose:
    ``hessian``, the HVPs along each axis (rows), ``jacfwd(grad)``. Divide and invalid
    warnings are silenced (edge points have infinite entries)."""
    import gpuad
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.asarray(gpuad.hessian(f)(z), float)
        axes = np.eye(z.size, dtype=z.dtype)
        hv = np.array([np.asarray(gpuad.hvp(f, z, e), float) for e in axes])
        jg = np.asarray(gpuad.jacfwd(gpuad.grad(f))(z), float)
    return {"hessian": h, "hessian^T": h.T, "hvp": hv, "hvp^T": hv.T,
            "jacfwd(grad)": jg, "jacfwd(grad)^T": jg.T}
