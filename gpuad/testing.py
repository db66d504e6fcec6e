"""Derivative checks: forward mode against central differences, reverse mode against
forward mode by the dot-product test, recursively to any order.

Complex arrays are checked as the real vector spaces they are: central differences along
real and along imaginary directions, and the dot-product test in the real inner product
``Re <u, v> = Re sum(conj(u) v)``. With gpuad's convention (JAX's) a VJP pairs cotangents
with tangents by ``Re sum(g t)``, so the adjoint in that inner product is
``conj(vjp(conj(u)))``, and that is what the test compares with the JVP."""
from __future__ import annotations

import numpy as np

from . import tree
from .core import full_lower
from .runtime.launch import launcher
from .transforms import jvp, vjp


def _to_host(x):
    x = full_lower(x)
    x = np.asarray(x.get() if hasattr(x, "get") else x)
    return x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)


def _vdot(a, b):
    """The real inner product Re sum(conj(a) b) of two pytrees."""
    la, _ = tree.flatten(a)
    lb, _ = tree.flatten(b)
    return sum(float(np.sum(np.real(np.conj(_to_host(x)) * _to_host(y))))
               for x, y in zip(la, lb) if x is not None and y is not None)


def _is_complex(x):
    return np.dtype(getattr(full_lower(x), "dtype", np.result_type(full_lower(x)))).kind == "c"


def _conj(t):
    return tree.tree_map(lambda x: x.conj() if x is not None and _is_complex(x) else x, t)


def _like(rng, t):
    """A random pytree shaped like ``t`` (same dtype and array module; complex leaves get
    random real and imaginary parts)."""
    def one(x):
        if x is None:                 # a None in the output (an empty subtree)
            return None
        x = full_lower(x)
        xp = launcher(x).xp
        shape = np.shape(x) if xp is np else x.shape
        r = rng.standard_normal(shape)
        if _is_complex(x):
            r = r + 1j * rng.standard_normal(shape)
        return xp.asarray(r, dtype=getattr(x, "dtype", np.result_type(x)))
    return tree.tree_map(one, t)


def _directions(v):
    """``[v]`` for real pytrees; with complex leaves the real and the imaginary direction
    apart, ``[Re v, i Im v]`` (real leaves move along the first only)."""
    leaves, td = tree.flatten(v)
    if not any(_is_complex(x) for x in leaves):
        return [v]
    re = [x.real.astype(x.dtype) if x is not None and _is_complex(x) else x for x in leaves]
    im = [None if x is None else (1j * x.imag).astype(x.dtype) if _is_complex(x) else 0 * x
          for x in leaves]
    return [tree.unflatten(td, re), tree.unflatten(td, im)]


def _axpy(a, x, y):
    return tree.tree_map(lambda xi, yi: None if yi is None else yi + a * xi, x, y)


def _assert_close(a, b, atol, rtol, what):
    la, _ = tree.flatten(a)
    lb, _ = tree.flatten(b)
    for x, y in zip(la, lb):
        if x is None and y is None:   # a None in the output (an empty subtree)
            continue
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
    """(eps, atol, rtol) for the least precise floating leaf: one float32 leaf among
    float64 ones moves by float32 steps and rounds to float32."""
    leaves, _ = tree.flatten(args)
    dts = [np.dtype(getattr(full_lower(l), "dtype", np.float64)) for l in leaves
           if l is not None]
    if any(d in (np.float32, np.complex64) for d in dts):
        return 1e-2, 2e-3, 1e-2      # eps, atol, rtol
    return 1e-6, 2e-6, 2e-6


def _central_difference(fun, args, tangents, eps):
    """(f(x + eps t) - f(x - eps t)) / 2 eps, on the host, leaf by leaf."""
    plus = fun(*[_axpy(eps, t, x) for x, t in zip(args, tangents)])
    minus = fun(*[_axpy(-eps, t, x) for x, t in zip(args, tangents)])
    return tree.tree_map(lambda p, m: None if p is None else
                         (_to_host(p) - _to_host(m)) / (2 * eps), plus, minus)


def check_jvp(fun, args, eps=None, atol=None, rtol=None, rng=None):
    """JVP against central differences along a random direction (for complex arguments,
    a real and an imaginary one)."""
    rng = rng or np.random.default_rng(0)
    e, a, r = _default_tols(args)
    eps, atol, rtol = eps or e, atol or a, rtol or r
    for tangents in _directions(tuple(_like(rng, x) for x in args)):
        _, t_out = jvp(fun, tuple(args), tangents)
        fd = _central_difference(fun, args, tangents, eps)
        _assert_close(t_out, fd, atol, rtol, f"JVP of {getattr(fun, '__name__', 'fun')} vs "
                      "central differences")


def check_vjp(fun, args, atol=None, rtol=None, rng=None, vdot=None):
    """Dot-product test: <u, J v> (forward mode) equals <J^T u, v> (reverse mode).
    ``vdot(a, b, space)``: the inner product of the inputs' space ("in") or the outputs'
    ("out"); default: the real inner product Re sum(conj(a) b). The adjoint J^T u in it is
    ``conj(vjp(conj(u)))`` (the identity for real arrays)."""
    rng = rng or np.random.default_rng(1)
    e, a, r = _default_tols(args)
    atol, rtol = atol or a, rtol or r
    v = tuple(_like(rng, x) for x in args)
    out, t_out = jvp(fun, tuple(args), v)
    _, f_vjp = vjp(fun, *args)
    u = _like(rng, out)
    g = _conj(f_vjp(_conj(u)))
    lhs, rhs = (_vdot(u, t_out), _vdot(g, v)) if vdot is None else \
        (vdot(u, t_out, "out"), vdot(g, v, "in"))
    scale = max(1.0, abs(lhs), abs(rhs))
    name = getattr(fun, '__name__', 'fun')
    if not abs(lhs - rhs) <= (atol + rtol) * scale:
        raise AssertionError(f"VJP of {name} fails the dot-product "
                             f"test: <u, Jv> = {lhs!r} but <J^T u, v> = {rhs!r}")
    # ... and against central differences along v: a rule used by both modes (a
    # custom_vjp's bwd, transposed for forward mode) passes the dot-product test however
    # wrong it is
    fd = _central_difference(fun, args, v, e)
    cd = _vdot(u, fd) if vdot is None else vdot(u, fd, "out")
    # central differences' own tolerances (the caller's, for the dot-product test, may be
    # tighter than differences can meet), on the sum of the terms' magnitudes (the inner
    # product may cancel)
    mag = abs(_vdot(tree.tree_map(lambda a: None if a is None else abs(_to_host(a)), u),
                    tree.tree_map(lambda a: None if a is None else abs(a), fd)))
    tol = (max(atol, a) + max(rtol, r)) * max(1.0, abs(cd), abs(rhs), mag)
    if not abs(cd - rhs) <= tol:
        raise AssertionError(f"VJP of {name} vs central differences: <J^T u, v> = {rhs!r} but "
                             f"<u, (f(x + eps v) - f(x - eps v)) / 2 eps> = {cd!r}")


def check_grads(fun, args, order=2, modes=("fwd", "rev"), eps=None, atol=None, rtol=None,
                rng=None, vdot=None):
    """Check derivatives of ``fun`` at ``args`` up to ``order``.

    "fwd": the JVP agrees with central differences; "rev": the VJP agrees with the JVP by
    the dot-product test ``<u, J v> = <J^T u, v>`` and with central differences along v.
    For order > 1 the same checks run on
    the derivative maps ``x -> J(x) v`` and ``x -> J(x)^T u`` (fixed random v, u), so
    order 2 covers jvp-of-jvp, jvp-of-vjp, vjp-of-jvp and vjp-of-vjp. ``vdot(a, b,
    space)`` replaces the dot-product test's inner products (``space`` "in" or "out"), e.g.
    sums over ranks (gpuad.distributed.check_grads).

    Example::

        >>> gpuad.check_grads(lambda x: gnp.sin(x) * x, (np.array([0.5, 1.0]),), order=2)
    """
    rng = rng or np.random.default_rng(0)
    args = tuple(args)
    kw = dict(atol=atol, rtol=rtol)
    if "fwd" in modes:
        check_jvp(fun, args, eps=eps, rng=rng, **kw)
    if "rev" in modes:
        check_vjp(fun, args, rng=rng, vdot=vdot, **kw)
    if order > 1:
        v = tuple(_like(rng, x) for x in args)
        if "fwd" in modes:
            def f_jvp(*xs):
                return jvp(fun, xs, v)[1]
            f_jvp.__name__ = f"jvp({getattr(fun, '__name__', 'fun')})"
            check_grads(f_jvp, args, order - 1, modes, eps, atol, rtol, rng, vdot)
        if "rev" in modes:
            u = _like(rng, fun(*args))

            def f_vjp(*xs):
                return vjp(fun, *xs)[1](u)
            f_vjp.__name__ = f"vjp({getattr(fun, '__name__', 'fun')})"
            check_grads(f_vjp, args, order - 1, modes, eps, atol, rtol, rng,
                        vdot and (lambda a, b, space: vdot(a, b, "in")))


# ------------------------------------------------------------------ custom primitives

def _mismatch(got, want, atol, rtol, what="output"):
    """None, or where the leaves of ``got`` and ``want`` differ most, as text."""
    worst = None
    for j, (x, y) in enumerate(zip(tree.flatten(got)[0], tree.flatten(want)[0])):
        x, y = _to_host(x), _to_host(y)
        if x.shape != y.shape:
            return f"output {j} has shape {x.shape}, expected {y.shape}"
        scale = max(1.0, float(np.max(np.abs(y), initial=0.0)))
        err = np.abs(x - y)
        bad = ~(err <= atol * scale + rtol * np.abs(y))
        if np.any(bad):
            i = np.unravel_index(int(np.argmax(np.where(bad, err, -1))), x.shape) if x.shape else ()
            e = float(np.max(np.where(np.isnan(err), np.inf, err)))
            if worst is None or e > worst[0]:
                at = f"{what} {j} " if len(tree.flatten(want)[0]) > 1 or what == "output" else ""
                worst = (e, f"max |error| {e:.3g} at {at}index {tuple(map(int, i))}: "
                            f"{float(x[i]):.10g} vs {float(y[i]):.10g}; {int(bad.sum())} of "
                            f"{x.size} entries outside atol {atol:g} * {scale:.3g} + rtol {rtol:g}")
    return None if worst is None else worst[1]


def _max_err(got, want):
    return max((float(np.max(np.abs(_to_host(x) - _to_host(y)), initial=0.0))
                for x, y in zip(tree.flatten(got)[0], tree.flatten(want)[0])), default=0.0)


def _with(args, i, v):
    a = list(args)
    a[i] = v
    return tuple(a)


def check_primitive(prim, example_args, reference=None, order=1, params=None, eps=None,
                    atol=None, rtol=None, rng=None, nvrtc=None):
    """Check a custom primitive's kernels on the CPU, and that NVRTC compiles them for a
    GPU; raise AssertionError on a mismatch.

    Runs ``prim(*example_args, **params)`` through the host build (CuPy arguments are
    copied to NumPy) with every output guarded, then checks, for each differentiated input
    x_i separately so a failure names it:

    * forward: against ``reference(*args, **params)`` (NumPy, float64 arguments), if given;
      and every output entry written, nothing written past the end;
    * JVP against central differences: ``J e_i v ~ (f(x + eps v) - f(x - eps v)) / 2 eps``
      along a random v in input i; and a 3-lane JVP equal to three 1-lane JVPs;
    * VJP against JVP by the dot-product test ``<u, J v> = <J^T u, v>``; on failure the
      entries of ``J^T u`` are compared one by one (from JVP lanes) to say where;
    * ``order=2``: the same checks on the derivative maps ``x -> J(x)^T u`` (its JVP is the
      HVP path; its VJP is grad of grad) and ``x -> J(x) v`` (jvp of jvp, grad of jvp).
      A composition the primitive refuses (NotImplementedError) is reported as skipped;
    * NVRTC, the compiler ``cupy.RawModule`` uses, compiles the source with every
      instantiation a GPU run may request (``prim.nvrtc_check()``, sm_80), because the host
      build is more lenient: it force-includes its headers, so ``std::sin``, ``int64_t`` or
      ``#include <cmath>`` pass on the CPU and fail under NVRTC. ``nvrtc=None`` runs it
      where NVRTC is installed (the ``nvrtc`` extra) and leaves it out of the report
      otherwise; ``True`` requires it (NvrtcUnavailable); ``False`` skips it.

    Failures raise ``AssertionError("check_primitive('name'): <check>: <max error, where>")``.
    Returns ``{check: max abs error, or "skipped: why"}``. Use float64 examples: central
    differences in float32 only support loose tolerances.

    Example::

        >>> # cube: the primitive of custom_primitive's example
        >>> report = gpuad.testing.check_primitive(  # doctest: +SKIP
        ...     cube, (np.array([1.0, 2.0]),), reference=lambda x: x ** 3, order=2)
    """
    from .custom import checking
    from .transforms import jvp_lanes
    name = getattr(prim, "name", None) or getattr(prim, "__name__", "fun")
    params = dict(params or {})
    rng = rng or np.random.default_rng(0)
    args = tuple(np.array(_to_host(a), dtype=getattr(full_lower(a), "dtype", np.float64))
                 for a in example_args)
    e, a, r = _default_tols(args)
    eps, atol, rtol = eps or e, atol or a, rtol or r
    wrt = getattr(prim, "wrt", None)
    wrt = tuple(range(len(args))) if wrt is None else tuple(i % len(args) for i in wrt)
    wrt = tuple(i for i in wrt if args[i].dtype.kind == "f")
    report: dict = {}

    def fail(check, msg):
        raise AssertionError(f"check_primitive({name!r}): {check}: {msg}")

    def f(*xs):
        return prim(*xs, **params)

    def first_order(label, fun, lanes=True):
        def fr(*ws):                  # fun of the differentiated inputs only
            a_ = list(args)
            for i, w in zip(wrt, ws):
                a_[i] = w
            return fun(*a_)
        ws = tuple(args[i] for i in wrt)
        out = fr(*ws)
        zero = tuple(np.zeros_like(w) for w in ws)
        for k, i in enumerate(wrt):
            v = _like(rng, ws[k])
            _, tout = jvp(fr, ws, _with(zero, k, v))
            plus = fr(*_with(ws, k, ws[k] + eps * v))
            minus = fr(*_with(ws, k, ws[k] - eps * v))
            fd = tree.tree_map(lambda p, m: (_to_host(p) - _to_host(m)) / (2 * eps), plus, minus)
            check = f"{label}JVP along input {i} vs central differences"
            bad = _mismatch(tout, fd, atol, rtol)
            if bad:
                fail(check, bad)
            report[check] = _max_err(tout, fd)
        if lanes:
            K = 3
            tl = tuple(np.stack([_like(rng, w) for _ in range(K)]) for w in ws)
            _, together = jvp_lanes(fr, ws, tl, K)
            single = [jvp(fr, ws, tuple(t[j] for t in tl))[1] for j in range(K)]
            apart = tree.tree_map(lambda *s_: np.stack([_to_host(x) for x in s_]), *single)
            check = f"{label}JVP with {K} lanes in one launch vs {K} one-lane JVPs"
            bad = _mismatch(together, apart, atol, rtol)
            if bad:
                fail(check, bad + " (does the JVP kernel loop over all lanes?)")
            report[check] = _max_err(together, apart)
        u = _like(rng, out)
        g = vjp(fr, *ws)[1](u)
        for k, i in enumerate(wrt):
            v = _like(rng, ws[k])
            _, tout = jvp(fr, ws, _with(zero, k, v))
            lhs, rhs = _vdot(u, tout), _vdot(g[k], v)
            check = f"{label}VJP of input {i} vs JVP (dot-product test)"
            err = abs(lhs - rhs)
            if not err <= (atol + rtol) * max(1.0, abs(lhs), abs(rhs)):
                fail(check, f"<u, J v> = {lhs!r} but <J^T u, v> = {rhs!r} (|difference| "
                            f"{err:.3g}); " + _where_vjp(fr, ws, k, u, g[k]))
            report[check] = err

    def second_order():
        mo = prim.max_order
        if mo is not None and mo < 2:
            raise NotImplementedError(
                f"check_primitive({name!r}): order=2 asked, but its derivative rules reach "
                f"only order {mo}: {prim.missing}")
        out = f(*args)
        u = _like(rng, out)
        v = tuple(_like(rng, x) if k in wrt else np.zeros_like(x) for k, x in enumerate(args))

        def vjp_map(*xs):
            return tuple(vjp(f, *xs)[1](u)[i] for i in wrt)

        def jvp_map(*xs):
            return jvp(f, xs, v)[1]
        for label, fun in (("second order, x -> J(x)^T u: ", vjp_map),
                           ("second order, x -> J(x) v: ", jvp_map)):
            try:
                first_order(label, fun, lanes=False)
            except NotImplementedError as exc:
                report[label + "reverse mode"] = f"skipped: {exc}"
    try:
        with checking():
            out = f(*args)
            if reference is not None:
                ref = reference(*[x.astype(np.float64) if x.dtype.kind == "f" else x
                                  for x in args], **params)
                bad = _mismatch(out, ref, atol, rtol)
                if bad:
                    fail("forward vs reference", bad)
                report["forward vs reference"] = _max_err(out, ref)
            first_order("", f)
            if order >= 2:
                second_order()
    except AssertionError as exc:     # the output guards' findings, named like the others
        if str(exc).startswith("check_primitive("):
            raise
        raise AssertionError(f"check_primitive({name!r}): {exc}") from None
    if nvrtc is not False and hasattr(prim, "nvrtc_check"):
        report.update(_nvrtc_check(prim, name, required=nvrtc is True))
    return report


def _nvrtc_check(prim, name, required):
    from .runtime import nvrtc
    try:
        nvrtc.nvrtc_version()
    except nvrtc.NvrtcUnavailable:
        if required:
            raise
        return {}
    try:
        lowered = prim.nvrtc_check()
    except nvrtc.NvrtcError as exc:
        raise AssertionError(f"check_primitive({name!r}): NVRTC (the compiler CuPy uses on a "
                             f"GPU) refuses the source: {exc}\n{exc.log}") from None
    return {f"NVRTC compiles it ({arch}, {len(names)} instantiations)": 0.0
            for arch, names in lowered.items()}


def _where_vjp(fun, args, i, u, gi, limit=2048):
    """Entry-by-entry comparison of a VJP with J^T u built from JVP lanes (small inputs)."""
    from .transforms import jvp_lanes
    n = args[i].size
    if n > limit:
        return f"input {i} has {n} entries, too many to locate the mismatch (limit {limit})"
    basis = np.eye(n, dtype=args[i].dtype).reshape((n,) + args[i].shape)
    ts = tuple(basis if k == i else np.zeros((n,) + x.shape, x.dtype) for k, x in enumerate(args))
    _, lanes = jvp_lanes(fun, args, ts, n)
    jtu = sum(np.tensordot(_to_host(lane), _to_host(uu), axes=uu.ndim if hasattr(uu, "ndim") else 0)
              for lane, uu in zip(tree.flatten(lanes)[0], tree.flatten(u)[0]))
    jtu = np.asarray(jtu).reshape(args[i].shape)
    bad = _mismatch(gi, jtu, *_default_tols(args)[1:], what="")
    return ("entry by entry, VJP vs J^T u from JVP lanes: " + bad) if bad else \
        "entry by entry J^T u agrees (the mismatch is below the tolerance per entry)"
