"""Derivative checks: forward mode against central differences, reverse mode against
forward mode by the dot-product test, recursively to any order."""
from __future__ import annotations

import numpy as np

from . import tree
from .core import full_lower
from .transforms import jvp, vjp


def _to_host(x):
    x = full_lower(x)
    return np.asarray(x.get() if hasattr(x, "get") else x, dtype=np.float64)


def _vdot(a, b):
    la, _ = tree.flatten(a)
    lb, _ = tree.flatten(b)
    return sum(float(np.sum(_to_host(x) * _to_host(y))) for x, y in zip(la, lb))


def _like(rng, t):
    """A random pytree shaped like ``t`` (same dtype and array module)."""
    def one(x):
        x = full_lower(x)
        xp = np if isinstance(x, (np.ndarray, np.generic, float, int)) else __import__("cupy")
        r = rng.standard_normal(np.shape(x))
        return xp.asarray(r, dtype=getattr(x, "dtype", np.float64))
    return tree.tree_map(one, t)


def _axpy(a, x, y):
    return tree.tree_map(lambda xi, yi: yi + a * xi, x, y)


def _assert_close(a, b, atol, rtol, what):
    la, _ = tree.flatten(a)
    lb, _ = tree.flatten(b)
    for x, y in zip(la, lb):
        x, y = _to_host(x), _to_host(y)
        if x.shape != y.shape:
            raise AssertionError(f"{what}: shapes differ, {x.shape} vs {y.shape}")
        scale = max(1.0, float(np.max(np.abs(y), initial=0.0)))
        err = np.abs(x - y)
        bad = ~(err <= atol * scale + rtol * np.abs(y))
        if np.any(bad):
            i = np.unravel_index(np.argmax(np.where(bad, err, -1)), x.shape) if x.shape else ()
            raise AssertionError(
                f"{what}: mismatch at {i}: {x[i] if x.shape else x} vs {y[i] if y.shape else y} "
                f"(|diff| {float(err[i] if x.shape else err):.3g}, atol {atol}, rtol {rtol}, "
                f"scale {scale:.3g}); {int(bad.sum())} of {x.size} entries")


def _default_tols(args):
    leaves, _ = tree.flatten(args)
    dt = np.result_type(*[getattr(full_lower(l), "dtype", np.float64) for l in leaves])
    if dt == np.float32:
        return 1e-2, 2e-3, 1e-2      # eps, atol, rtol
    return 1e-6, 2e-6, 2e-6


def check_jvp(fun, args, eps=None, atol=None, rtol=None, rng=None):
    """JVP against central differences along a random direction."""
    rng = rng or np.random.default_rng(0)
    e, a, r = _default_tols(args)
    eps, atol, rtol = eps or e, atol or a, rtol or r
    tangents = tuple(_like(rng, x) for x in args)
    _, t_out = jvp(fun, tuple(args), tangents)
    plus = fun(*[_axpy(eps, t, x) for x, t in zip(args, tangents)])
    minus = fun(*[_axpy(-eps, t, x) for x, t in zip(args, tangents)])
    fd = tree.tree_map(lambda p, m: (_to_host(p) - _to_host(m)) / (2 * eps), plus, minus)
    _assert_close(t_out, fd, atol, rtol, f"JVP of {getattr(fun, '__name__', 'fun')} vs "
                  "central differences")


def check_vjp(fun, args, atol=None, rtol=None, rng=None):
    """Dot-product test: <u, J v> (forward mode) equals <J^T u, v> (reverse mode)."""
    rng = rng or np.random.default_rng(1)
    _, a, r = _default_tols(args)
    atol, rtol = atol or a, rtol or r
    v = tuple(_like(rng, x) for x in args)
    out, t_out = jvp(fun, tuple(args), v)
    _, f_vjp = vjp(fun, *args)
    u = _like(rng, out)
    g = f_vjp(u)
    lhs, rhs = _vdot(u, t_out), _vdot(g, v)
    scale = max(1.0, abs(lhs), abs(rhs))
    if not abs(lhs - rhs) <= (atol + rtol) * scale:
        raise AssertionError(f"VJP of {getattr(fun, '__name__', 'fun')} fails the dot-product "
                             f"test: <u, Jv> = {lhs!r} but <J^T u, v> = {rhs!r}")


def check_grads(fun, args, order=2, modes=("fwd", "rev"), eps=None, atol=None, rtol=None,
                rng=None):
    """Check derivatives of ``fun`` at ``args`` up to ``order``.

    "fwd": the JVP agrees with central differences; "rev": the VJP agrees with the JVP by
    the dot-product test ``<u, J v> = <J^T u, v>``. For order > 1 the same checks run on
    the derivative maps ``x -> J(x) v`` and ``x -> J(x)^T u`` (fixed random v, u), so
    order 2 covers jvp-of-jvp, jvp-of-vjp, vjp-of-jvp and vjp-of-vjp.

    Example::

        >>> gpuad.check_grads(lambda x: gnp.sin(x) * x, (np.array([0.5, 1.0]),), order=2)
    """
    rng = rng or np.random.default_rng(0)
    args = tuple(args)
    kw = dict(atol=atol, rtol=rtol)
    if "fwd" in modes:
        check_jvp(fun, args, eps=eps, rng=rng, **kw)
    if "rev" in modes:
        check_vjp(fun, args, rng=rng, **kw)
    if order > 1:
        v = tuple(_like(rng, x) for x in args)
        if "fwd" in modes:
            def f_jvp(*xs):
                return jvp(fun, xs, v)[1]
            f_jvp.__name__ = f"jvp({getattr(fun, '__name__', 'fun')})"
            check_grads(f_jvp, args, order - 1, modes, eps, atol, rtol, rng)
        if "rev" in modes:
            u = _like(rng, fun(*args))

            def f_vjp(*xs):
                return vjp(fun, *xs)[1](u)
            f_vjp.__name__ = f"vjp({getattr(fun, '__name__', 'fun')})"
            check_grads(f_vjp, args, order - 1, modes, eps, atol, rtol, rng)
