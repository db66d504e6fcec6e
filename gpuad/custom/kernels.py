"""Primitives from the user's own CUDA kernels (:func:`custom_primitive`).

A custom primitive is a first-class entry of the registry: its forward, JVP and VJP
kernels are compiled from the user's source by the same runtime as the built-in kernels
(``HostModule`` on the CPU, ``cupy.RawModule`` on a GPU) and its rules are written with
``bind``, so it composes with every transform. Its JVP and VJP kernels become primitives
of their own (``<name>_jvp``, ``<name>_vjp``); their derivative rules come either from the
same kernels instantiated on ``gpuad::Dual`` (when they are templates on ``T``) or from
further custom primitives the user supplies. Without either, a use that needs them is
refused before any sweep runs (``max_order``, checked in ``gpuad.core``).

Only the CPU path is exercised by this project's tests (no machine here has a GPU); the
CuPy path follows CuPy's documented ``RawModule``/``RawKernel`` interface.
"""
from __future__ import annotations

import contextlib
import functools
import re
import threading

import numpy as np

from .. import runtime
from ..runtime import checks, cxx
from ..core import REGISTRY, Primitive, Tracer, bind, full_lower, shape, dtype
from .. import numpy as gnp
from ..primitives import base
from ..runtime import profile as _profile
from ..runtime.launch import of_module, record

__all__ = ["Launch", "CustomPrimitive", "custom_primitive", "checking"]

_DUAL_WIDTHS = (1, 2, 4, 8)     # tangent lanes per dual launch (compile-time N of Dual<S, N>)


# ------------------------------------------------------------------ launch descriptions

class Launch:
    """How to launch one of the user's kernels.

    kernel
        Its name, or a template name expression with ``{T}`` for the scalar type, e.g.
        ``"heat_fwd<{T}>"``: ``{T}`` becomes ``float`` or ``double`` (the dtype of the
        floating inputs) and, for derivatives of the kernel, ``gpuad::Dual<double, N>``.
    args(*arrays, **params) -> tuple
        The kernel's argument list, given the arrays of the launch (see
        :func:`custom_primitive` for their order) and the primitive's keyword parameters.
        Arrays are passed as pointers; scalars should be NumPy scalars of the parameter's
        exact C++ type (``np.int32`` for ``int``, ``np.float64`` for ``double``).
    grid, block
        Tuples of up to three ints, or callables ``(*arrays, **params) -> tuple``. Default:
        ``block=(256,)`` and a 1-D grid with one thread per element of the primitive's first
        output.
    shared_mem
        Dynamic shared memory in bytes (an int or such a callable).
    """

    def __init__(self, kernel: str, args, grid=None, block=(256,), shared_mem=0):
        if not isinstance(kernel, str) or not kernel.strip():
            raise TypeError(f"Launch: kernel must be a kernel name, got {kernel!r}")
        if not callable(args):
            raise TypeError(f"Launch({kernel!r}): args must be a callable returning the "
                            "kernel's argument tuple")
        self.kernel, self.args, self.grid, self.block = kernel.strip(), args, grid, block
        self.shared_mem = shared_mem

    @property
    def templated(self) -> bool:
        return "{T}" in self.kernel

    def expr(self, T: str) -> str:
        return self.kernel.replace("{T}", T)

    def __repr__(self):
        return f"Launch({self.kernel!r})"


def _dims(v, arrays, params, what, where):
    if callable(v):
        v = v(*arrays, **params)
    t = (v,) if isinstance(v, (int, np.integer)) else tuple(v)
    if not 1 <= len(t) <= 3 or not all(isinstance(d, (int, np.integer)) and d >= 0 for d in t):
        raise TypeError(f"{where}: {what} must be 1 to 3 non-negative ints, got {v!r}")
    return tuple(int(d) for d in t)


# ------------------------------------------------------------------ the user's source

class _Source:
    """The user's CUDA source, built per device, scalar type and dual width."""

    def __init__(self, code: str, name: str, launches, dual_launches=()):
        if not isinstance(code, str) or "__global__" not in code:
            raise TypeError(f"custom primitive {name!r}: source must be CUDA C++ text with "
                            "__global__ kernels")
        # dual.cuh is always there, so a template kernel can be instantiated on it; #line
        # keeps the compilers' line numbers those of the user's text.
        self.code = '#include "gpuad/dual.cuh"\n#line 1\n' + code
        self.name = name
        self.launches = [l for l in launches if isinstance(l, Launch)]
        self.dual_launches = [l for l in dual_launches if isinstance(l, Launch) and l.templated]
        self.signatures = cxx.kernel_signatures(code)
        self._mods: dict = {}
        self._kernels: dict = {}
        self._lock = threading.Lock()

    def _names(self, T: str, dual: bool):
        if not dual:
            return list(dict.fromkeys(l.expr(T) for l in self.launches))
        return list(dict.fromkeys(l.expr(f"gpuad::Dual<{T}, {n}>") for l in self.dual_launches
                                  for n in _DUAL_WIDTHS))

    def module(self, device: str, T: str, dual: bool):
        key = (device, T, dual)
        mod = self._mods.get(key)
        if mod is None:
            with self._lock:
                mod = self._mods.get(key)
                if mod is None:
                    mod = self._mods[key] = self._build(device, self._names(T, dual), dual)
        return mod

    def _build(self, device, names, dual):
        label = f"{self.name}[dual]" if dual else self.name
        try:
            if device == "cpu":
                from ..runtime.host import HostModule
                return HostModule(self.code, options=runtime.NVRTC_OPTIONS,
                                  name_expressions=names, include_dirs=(runtime.kernel_dir(),),
                                  name=label)
            from ..runtime.device import CheckedModule, device_module
            return CheckedModule(device_module(self.code, names,
                                               include_dir=runtime.kernel_dir()), self.code)
        except RuntimeError as e:
            if not dual:
                raise
            raise self._dual_failed(e) from None

    def _dual_failed(self, e):
        return RuntimeError(
            f"custom primitive {self.name!r}: instantiating its template kernels on "
            "gpuad::Dual (for second derivatives) failed. Write every value that depends "
            "on an array as T (scalar parameters as double/float/int, not T), use only "
            "+ - * / and the math functions kernels/gpuad/dual.cuh overloads, or pass "
            f"dual=False to refuse second order cleanly.\n{e}")

    def kernel(self, device: str, expr: str, T: str, dual: bool):
        key = (device, expr)
        k = self._kernels.get(key)
        if k is None:
            mod = self.module(device, T, dual)
            try:
                k = mod.get_function(expr)
            except Exception as e:
                # CuPy compiles in get_function (RawModule.get_function reads self.module,
                # raw.pyx) and raises its CompileException, not a RuntimeError
                if not dual:
                    raise
                raise self._dual_failed(e) from None
            self._kernels[key] = k
        return k

    def check_args(self, where: str, expr: str, args, arrays) -> None:
        """``args`` against the kernel's C++ declaration the way CuPy passes them, on every
        device (so a launch refused on a GPU is refused here too): only the launch's own
        ``arrays`` count as device arrays (an array made in ``args=`` is passed by value by
        CuPy); a Python bool, a 0-d array for a scalar, a wrong size are refused."""
        params = cxx.params_of(self.signatures, expr)
        if params is None:
            return
        if len(args) != len(params):
            raise TypeError(f"{where}: kernel {expr} takes {len(params)} arguments "
                            f"({', '.join(p.decl for p in params)}), but args= returned "
                            f"{len(args)}")
        for i, (a, p) in enumerate(zip(args, params)):
            if p.pointer or p.size is None or isinstance(a, (bool, np.bool_)):
                continue
            if isinstance(a, np.generic) and a.dtype.itemsize != p.size:
                raise TypeError(f"{where}: argument {i} of {expr} is '{p.decl}' ({p.size} bytes) "
                                f"but args= gave numpy.{type(a).__name__} ({a.dtype.itemsize} "
                                "bytes)")
            if type(a) in (int, float) and p.size != 8:
                raise TypeError(f"{where}: argument {i} of {expr} is '{p.decl}' ({p.size} bytes) "
                                f"but args= gave a Python {type(a).__name__}, which is passed as "
                                f"8 bytes; wrap it, e.g. "
                                f"np.{'int32' if type(a) is int else 'float32'}(...)")
        try:
            checks.check_args(expr, params, args,
                              device_array=lambda a: any(a is x for x in arrays))
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: {e}") from None


# ------------------------------------------------------------------ launching

class _Checking(threading.local):
    def __init__(self):
        self.depth = 0


_checking = _Checking()


@contextlib.contextmanager
def checking():
    """Inside: outputs of custom kernels are guarded, and a launch that writes past the
    end of an output or leaves part of it unwritten raises (used by check_primitive)."""
    _checking.depth += 1
    try:
        yield
    finally:
        _checking.depth -= 1


_GUARD = 64
_SENTINEL = {np.dtype(np.float64): np.uint64(0x7FF4DEADBEEFCAFE),
             np.dtype(np.float32): np.uint32(0x7FA0CAFE)}


def _alloc(shape_, dt, xp, guards):
    dt = np.dtype(dt)
    if not _checking.depth or dt not in _SENTINEL:
        return xp.empty(tuple(shape_), dtype=dt)
    # A NaN with a payload no kernel computes marks unwritten entries; a guard zone after
    # the array catches writes past its end.
    n = int(np.prod(shape_, dtype=np.int64))
    s = _SENTINEL[dt]
    buf = xp.full(n + _GUARD, s, dtype=s.dtype).view(dt)
    out = buf[:n].reshape(tuple(shape_))
    guards.append((buf, n, out))
    return out


def _verify(guards, where):
    for j, (buf, n, out) in enumerate(guards):
        bits = buf.view(_SENTINEL[buf.dtype].dtype)
        s = _SENTINEL[buf.dtype]
        what = f"output {j}"
        if bool((bits[n:] != s).any()):
            raise AssertionError(f"{where}: the kernel wrote past the end of {what} (shape "
                                 f"{tuple(out.shape)}): the declared shape is too small for "
                                 "what the kernel writes")
        left = bits[:n] == s
        if bool(left.any()):
            k = int(left.sum())
            i = tuple(int(d) for d in np.unravel_index(int(np.argmax(_host(left))), out.shape))
            raise AssertionError(f"{where}: the kernel left {k} of {n} entries of {what} "
                                 f"(shape {tuple(out.shape)}) unwritten, first at index {i}: "
                                 "the declared shape is larger than what it writes, or it "
                                 "ignores part of its grid or its lanes")


def _host(a):
    a = full_lower(a)
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _run(owner, which, launch, arrays, outs, params, n, xp, T, subst=None, dual_T=None,
         guards=(), label=None):
    """Launch ``launch`` over ``arrays`` (the kernel's arrays in order, outputs last)."""
    where = f"custom primitive {owner.name!r}, {which} kernel"
    args = launch.args(*arrays, **params)
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"{where}: args= must return a tuple of kernel arguments, got "
                        f"{type(args).__name__}")
    args = tuple(args)
    if subst is not None:
        args = _substitute(where, args, subst)
    expr = launch.expr(dual_T or T)
    owner.source.check_args(where, expr, args, list(arrays) + [r for _, r in (subst or {}).values()])
    grid = (_dims(launch.grid, arrays, params, "grid", where) if launch.grid is not None
            else (max(1, min(-(-n // max(1, _threads(launch.block, arrays, params, where))),
                             2 ** 31 - 1)),))
    block = _dims(launch.block, arrays, params, "block", where)
    smem = launch.shared_mem(*arrays, **params) if callable(launch.shared_mem) else launch.shared_mem
    if n == 0 or 0 in grid or 0 in block:
        return
    dev = of_module(xp)
    k = owner.source.kernel(dev.device, expr, T, dual_T is not None)
    args = dev.arguments(args)
    try:
        dev.call(k, grid, block, args, int(smem), what=f"kernel {expr}")
    except (TypeError, ValueError) as e:
        raise type(e)(f"{where} {expr}: {e}") from None
    if guards:
        _verify(guards, f"{where} {expr}")
    if _profile.ON:
        record(label or f"{owner.name}_{which}", n,
               [a for a in args if hasattr(a, "shape") and not any(a is o for o in outs)], outs)


def _threads(block, arrays, params, where):
    return int(np.prod(_dims(block, arrays, params, "block", where)))


def _substitute(where, args, subst):
    out = []
    for a in args:
        r = subst.get(id(a))
        if r is not None and r[0] is a:
            out.append(r[1])
        elif (hasattr(a, "dtype") and hasattr(a, "shape") and not isinstance(a, np.generic)
              and np.dtype(a.dtype).kind == "f"):
            raise TypeError(f"{where}: args= returned a floating array that is not one of the "
                            "arrays it was given; for derivatives through gpuad::Dual every "
                            "floating array must be passed through unchanged (pass constants "
                            "as inputs of the primitive)")
        else:
            out.append(a)
    return tuple(out)


def _prepare(owner, arrays, xp):
    """Contiguous arrays of one launch, and the kernel scalar type of the floating ones."""
    out, T = [], None
    for a in arrays:
        a = base.contiguous(a, xp)
        if a.dtype.kind == "f":
            t = base.ctype(a.dtype)
            if T is None:
                T = t
            elif t != T:
                raise TypeError(f"custom primitive {owner.name!r}: floating arrays of "
                                f"different dtypes ({T} and {t}); cast them to one dtype")
        out.append(a)
    if T is None:
        raise TypeError(f"custom primitive {owner.name!r}: no floating input to choose the "
                        "kernel scalar type from")
    return out, T


def _size(s):
    return int(np.prod(s, dtype=np.int64))


def _zeros(s, dt, like):
    return base.xp_of(like).zeros(tuple(s), dtype=dt)


def _lanes_of(ts):
    return next(int(shape(t)[0]) for t in ts if t is not None)


def _dual_run(owner, which, launch, ins, tins, out_specs, params, n, label):
    """Run ``launch`` on dual numbers: each floating input carries its tangent lanes
    (M,) + shape (None: zero) and each output comes back as its value and its lanes.

    Lanes go in chunks of N in _DUAL_WIDTHS; an input is packed as shape + (N + 1,),
    exactly the layout of an array of gpuad::Dual<S, N> (value, then N derivatives)."""
    xp = base.xp_of(*ins, *[t for t in tins if t is not None])
    ins, T = _prepare(owner, ins, xp)
    M = _lanes_of(tins)
    N = next((w for w in _DUAL_WIDTHS if w >= M), _DUAL_WIDTHS[-1])
    placeholders = [xp.empty(tuple(s), dtype=d) for s, d in out_specs]
    values = [None] * len(out_specs)
    tangents = [xp.empty((M,) + tuple(s), dtype=d) for s, d in out_specs]
    for start in range(0, M, N):
        k = min(N, M - start)
        subst, packed_outs, guards = {}, [], []
        for a, t in zip(ins, tins):
            if a.dtype.kind != "f":
                continue
            p = xp.zeros(a.shape + (N + 1,), dtype=a.dtype)
            p[..., 0] = a
            if t is not None:
                p[..., 1:k + 1] = xp.moveaxis(xp.asarray(t[start:start + k]), 0, -1)
            subst[id(a)] = (a, p)
        for ph, (s, d) in zip(placeholders, out_specs):
            p = _alloc(tuple(s) + (N + 1,), d, xp, guards)
            subst[id(ph)] = (ph, p)
            packed_outs.append(p)
        _run(owner, which, launch, (*ins, *placeholders), packed_outs, params, n, xp, T,
             subst=subst, dual_T=f"gpuad::Dual<{T}, {N}>", guards=guards, label=label)
        for j, p in enumerate(packed_outs):
            if values[j] is None:
                values[j] = base.contiguous(p[..., 0], xp)
            tangents[j][start:start + k] = xp.moveaxis(p[..., 1:k + 1], -1, 0)
    return values, tangents


# ------------------------------------------------------------------ custom primitives

class _Derived(Primitive):
    """A primitive made for a custom primitive (its JVP/VJP kernels and their duals): a
    name the user may register again (a notebook cell run twice), unlike a built-in's."""


def _check_name(name):
    old = REGISTRY.get(name)
    if old is not None and not isinstance(old, _Derived):
        raise ValueError(f"custom primitive name {name!r} is taken by a built-in primitive")


def _register(prim):
    _check_name(prim.name)
    REGISTRY[prim.name] = prim      # a redefinition (a notebook cell run again) replaces it
    return prim


class CustomPrimitive(_Derived):
    """A primitive built from the user's CUDA kernels by :func:`custom_primitive`.

    Attributes: ``name``, ``source`` (the compiled source), ``forward``, ``jvp_launch``,
    ``vjp_launch`` (Launch or None), ``jvp_primitive``, ``vjp_primitive`` (the primitives
    the rules bind), ``max_order`` (derivative order the rules reach), ``missing`` (what
    a higher order would need), ``dual`` (derivatives of the JVP/VJP kernels through
    gpuad::Dual).
    """

    def __init__(self, source, *, name, outputs, forward, jvp, vjp, saves="ins", wrt=None,
                 num_outputs=1, dual="auto", doc=""):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", name):
            raise ValueError(f"custom primitive name must be an identifier, got {name!r}")
        if saves not in ("ins", "out", "both"):
            raise ValueError(f"custom primitive {name!r}: saves must be 'ins', 'out' or "
                             f"'both', got {saves!r}")
        for suffix in ("", "_jvp", "_vjp", "_jvp_dual", "_vjp_dual"):
            _check_name(name + suffix)
        if not callable(outputs):
            raise TypeError(f"custom primitive {name!r}: outputs must be a callable "
                            "(*inputs, **params) -> shape, (shape, dtype) or a list of them")
        if not isinstance(forward, Launch):
            raise TypeError(f"custom primitive {name!r}: forward must be a gpuad.Launch")
        for what, r in (("jvp", jvp), ("vjp", vjp)):
            if r is not None and not isinstance(r, (Launch, Primitive)):
                raise TypeError(f"custom primitive {name!r}: {what} must be a gpuad.Launch "
                                f"or a custom primitive, got {type(r).__name__}")
        super().__init__(name, self._impl, saves=saves,
                         multiple_results=num_outputs > 1, doc=doc or f"custom primitive {name}")
        self.jvp = self._jvp_rule if jvp is not None else None
        self.vjp = self._vjp_rule if vjp is not None else None
        self.outputs, self.num_outputs = outputs, int(num_outputs)
        self.wrt = None if wrt is None else tuple(int(i) for i in wrt)
        self.forward = forward
        self.jvp_launch = jvp if isinstance(jvp, Launch) else None
        self.vjp_launch = vjp if isinstance(vjp, Launch) else None
        self.source = _Source(source, name, [forward, self.jvp_launch, self.vjp_launch],
                              [self.jvp_launch, self.vjp_launch])
        launches = self.jvp_launch is not None and self.vjp_launch is not None
        templated = launches and self.jvp_launch.templated and self.vjp_launch.templated
        if dual == "auto":
            dual = templated
        elif dual and not templated:
            raise ValueError(f"custom primitive {name!r}: dual=True needs the jvp and vjp "
                             "kernels as templates on {T} (e.g. 'my_vjp<{T}>')")
        self.dual = bool(dual)
        if jvp is None or vjp is None:
            self.max_order = 1
            self.missing = f"it has no {'JVP' if jvp is None else 'VJP'} rule"
        elif launches:
            self.max_order = 2 if self.dual else 1
            self.missing = ("third derivatives are not available for custom kernels"
                            if self.dual else
                            "no derivative rules for its JVP and VJP kernels: write them as "
                            "templates on {T} (gpuad::Dual instantiates them) or pass jvp= "
                            "and vjp= as custom primitives that have jvp and vjp of their own")
        else:
            orders = [getattr(r, "max_order", None) if isinstance(r, Primitive) else 0
                      for r in (jvp, vjp)]
            orders = [99 if o is None else o for o in orders]
            self.max_order = 1 + min(orders)
            self.missing = (f"derivative rules of its jvp/vjp ({jvp!r}, {vjp!r}) reach only "
                            f"order {min(orders)}")
        self.jvp_primitive = jvp if isinstance(jvp, Primitive) else (
            _register(self._make_jvp_prim()) if jvp is not None else None)
        self.vjp_primitive = vjp if isinstance(vjp, Primitive) else (
            _register(self._make_vjp_prim()) if vjp is not None else None)
        _register(self)

    def __repr__(self):
        return f"<custom primitive {self.name}>"

    def nvrtc_check(self, archs=("sm_80",), dtypes=("float", "double")) -> dict:
        """Compile the source with NVRTC, the compiler ``cupy.RawModule`` uses, for every
        instantiation a GPU run may request (dual ones included); no GPU needed. Returns
        ``{arch: {name expression: lowered name}}``; raises ``NvrtcError`` with the log.
        Needs the ``nvrtc`` extra (``cuda-bindings``, ``nvidia-cuda-nvrtc-cu12``)."""
        from ..runtime import nvrtc
        names = [n for T in dtypes for n in self.source._names(T, False)
                 + (self.source._names(T, True) if self.dual else [])]
        return {arch: nvrtc.compile_source(self.source.code, names, arch,
                                           include_dirs=(runtime.kernel_dir(),),
                                           name=f"{self.name}.cu")["lowered"]
                for arch in archs}

    def __call__(self, *args, **params):
        for i, a in enumerate(args):
            if not (isinstance(a, Tracer) or hasattr(a, "shape") and hasattr(a, "dtype")
                    and not isinstance(a, np.generic)):
                raise TypeError(f"custom primitive {self.name!r}: input {i} is a "
                                f"{type(a).__name__}; inputs are arrays (pass scalars as "
                                "keyword parameters)")
        return bind(self, *args, **params)

    # -- shapes and the inputs that are differentiated
    def _wrt(self, n):
        if self.wrt is None:
            return tuple(range(n))
        bad = [i for i in self.wrt if not -n <= i < n]
        if bad:
            raise ValueError(f"custom primitive {self.name!r}: wrt={self.wrt} names inputs "
                             f"that do not exist ({n} inputs)")
        return tuple(sorted(i % n for i in self.wrt))

    def _out_specs(self, xs, params):
        r = self.outputs(*xs, **params)
        one = _spec(r)
        specs = [one] if one is not None else (
            [_spec(s) for s in r] if isinstance(r, list) else None)
        if specs is None or any(s is None for s in specs) or len(specs) != self.num_outputs:
            raise TypeError(
                f"custom primitive {self.name!r}: outputs(...) returned {r!r}; it must return "
                f"a shape (a tuple of non-negative ints) or (shape, dtype)"
                + (f", or a list of {self.num_outputs} of them (num_outputs="
                   f"{self.num_outputs})" if self.num_outputs > 1 else ""))
        xf = next((dtype(x) for x in xs if np.dtype(dtype(x)).kind == "f"), np.float64)
        return [(s, np.dtype(d if d is not None else xf)) for s, d in specs]

    # -- kernel launches
    def _launch(self, which, launch, arrays, specs, params, n):
        """Launch ``launch`` over ``arrays`` and fresh outputs of ``specs``; the outputs."""
        xp = base.xp_of(*arrays)
        arrays, T = _prepare(self, arrays, xp)
        guards = []
        outs = [_alloc(s, d, xp, guards) for s, d in specs]
        _run(self, which, launch, (*arrays, *outs), outs, params, n, xp, T, guards=guards,
             label=f"{self.name}_{'fwd' if which == 'forward' else which}")
        return outs

    def _impl(self, *xs, **params):
        specs = self._out_specs(xs, params)
        outs = self._launch("forward", self.forward, xs, specs, params, _size(specs[0][0]))
        return outs if self.multiple_results else outs[0]

    # -- rules of the primitive itself
    def _jvp_rule(self, primals, tangents, **params):
        n = len(primals)
        wrt = self._wrt(n)
        for i, t in enumerate(tangents):
            if t is not None and i not in wrt:
                raise NotImplementedError(f"custom primitive {self.name!r}: input {i} is not "
                                          f"differentiable (wrt={wrt})")
        L = _lanes_of(tangents)
        ts = [tangents[i] if tangents[i] is not None else
              _zeros((L,) + tuple(shape(primals[i])), dtype(primals[i]), primals[i])
              for i in wrt]
        out = bind(self, *primals, **params)
        if self.jvp_launch is None:       # a primitive the user built for the JVP
            touts = bind(self.jvp_primitive, *primals, *ts, **params)
            touts = touts if isinstance(touts, list) else [touts]
            outs = out if self.multiple_results else [out]
            _check_outputs(self, "jvp", touts, [((L,) + tuple(shape(o)), dtype(o)) for o in outs])
        else:
            touts = bind(self.jvp_primitive, *primals, *ts, _n=n, _p=params)
        return out, (touts if self.multiple_results else touts[0])

    def _saved(self, ins, out):
        if self.saves == "ins":
            return list(ins)
        outs = list(out) if self.multiple_results else [out]
        return outs if self.saves == "out" else list(ins) + outs

    def _vjp_rule(self, g, ins, out, need, acc, **params):
        n = len(ins)
        wrt = self._wrt(n)
        for i in range(n):
            if need[i] and i not in wrt:
                raise NotImplementedError(f"custom primitive {self.name!r} has no cotangent "
                                          f"for input {i} (wrt={wrt})")
        if not any(need[i] for i in wrt):
            return (None,) * n
        gs = list(g) if self.multiple_results else [g]
        if any(x is None for x in gs):
            specs = ([(shape(y), dtype(y)) for y in (out if self.multiple_results else [out])]
                     if self.saves != "ins" else self._out_specs(ins, params))
            like = next(x for x in gs if x is not None)
            gs = [_zeros(s, d, like) if x is None else x for x, (s, d) in zip(gs, specs)]
        saved = self._saved(ins, out)
        if self.vjp_launch is None:       # a primitive the user built for the VJP
            gx = bind(self.vjp_primitive, *saved, *gs, **params)
            gx = gx if isinstance(gx, list) else [gx]
            _check_outputs(self, "vjp", gx, [(tuple(shape(ins[i])), dtype(ins[i])) for i in wrt])
        else:
            gx = bind(self.vjp_primitive, *saved, *gs, _nx=n, _ns=len(saved),
                      _xav=tuple((tuple(shape(ins[i])), dtype(ins[i])) for i in wrt), _p=params)
        res = [None] * n
        for k, i in enumerate(wrt):
            res[i] = gx[k] if need[i] else None
        return tuple(res)

    # -- the JVP kernel as a primitive, (x..., t...) -> t_out... with L lanes, and the VJP
    #    kernel as one, (saved..., g...) -> gx (one per wrt input)
    def _make_jvp_prim(self):
        def impl(*arrays, _n, _p):
            L = int(shape(arrays[_n])[0])
            specs = [((L,) + s, d) for s, d in self._out_specs(arrays[:_n], _p)]
            return self._launch("jvp", self.jvp_launch, arrays, specs, _p, _size(specs[0][0][1:]))
        return self._kernel_prim("jvp", impl, self._jvp_jvp, self._jvp_vjp)

    def _make_vjp_prim(self):
        def impl(*arrays, _nx, _ns, _xav, _p):
            return self._launch("vjp", self.vjp_launch, arrays, _xav, _p,
                                _size(shape(arrays[_ns])))
        return self._kernel_prim("vjp", impl, self._vjp_jvp, self._vjp_vjp)

    def _kernel_prim(self, which, impl, jvp, vjp):
        p = _Derived(f"{self.name}_{which}", impl, jvp=jvp, vjp=vjp, multiple_results=True,
                     doc=f"the {which.upper()} kernel of custom primitive {self.name}")
        if self.dual:
            setattr(self, f"{which}_dual", self._make_dual(which))
        return p

    def _make_dual(self, which):
        """The JVP or VJP kernel instantiated on gpuad::Dual, as a primitive."""
        p = _register(_Derived(f"{self.name}_{which}_dual", self._dual_impl(which),
                               multiple_results=True,
                               doc=f"the {which.upper()} kernel of {self.name} on gpuad::Dual"))
        p.jvp = self._dual_jvp(p)
        return p

    def _dual_impl(self, which):
        me = self

        def impl(*arrays, _p, **kw):
            k = len(arrays) // 2
            ins, tins = list(arrays[:k]), list(arrays[k:])
            xp = base.xp_of(*ins)
            for i, a in enumerate(ins):
                if a is None:
                    raise TypeError(f"custom primitive {me.name!r}: a dual launch got no "
                                    f"array for argument {i}")
            if which == "jvp":
                xs = ins[:kw["_n"]]
                L = int(shape(ins[kw["_n"]])[0])
                specs = [((L,) + tuple(s), d) for s, d in me._out_specs(xs, _p)]
                launch, n = me.jvp_launch, _size(specs[0][0][1:])
            else:
                specs = list(kw["_xav"])
                launch, n = me.vjp_launch, _size(shape(ins[kw["_ns"]]))
            vals, tans = _dual_run(me, which, launch, [xp.asarray(a) for a in ins], tins,
                                   specs, _p, n, f"{me.name}_{which}_dual")
            return vals + tans
        return impl

    def _dual_jvp(self, prim):
        me = self

        def rule(primals, tangents, **kw):
            # Linear in the tangent slots (jacrev over a second-order sweep): the same dual
            # launch with those slots' own tangent lanes flattened into its lanes.
            k = len(primals) // 2
            if any(t is not None for t in tangents[:k]):
                raise NotImplementedError(f"custom primitive {me.name!r}: third derivatives "
                                          "are not available for custom kernels")
            vals = bind(prim, *primals, **kw)
            M = _lanes_of(tangents)
            flat = [None if d is None else
                    base.reshape(d, (M * int(shape(d)[1]),) + tuple(shape(d))[2:])
                    for d in tangents[k:]]
            r = bind(prim, *primals[:k], *flat, **kw)
            m = len(r) // 2
            L = int(shape(vals[m])[0])
            return vals, [None] * m + [base.reshape(o, (M, L) + tuple(shape(o))[1:])
                                       for o in r[m:]]
        return rule

    def _need_dual(self, what):
        if not self.dual:
            raise NotImplementedError(f"custom primitive {self.name!r}: {what} needs "
                                      f"derivatives of its kernels; {self.missing}")

    # rules of the JVP primitive (it is linear in t)
    def _jvp_jvp(self, primals, tangents, _n, _p):
        xs, ts = primals[:_n], primals[_n:]
        if all(d is None for d in tangents[:_n]):
            M, L = _lanes_of(tangents), int(shape(ts[0])[0])
            flat = [_zeros((M * L,) + tuple(shape(x)), dtype(x), x) if d is None else
                    base.reshape(d, (M * L,) + tuple(shape(x)))
                    for d, x in zip(tangents[_n:], [xs[i] for i in self._wrt(_n)])]
            touts = bind(self.jvp_primitive, *primals, _n=_n, _p=_p)
            r = bind(self.jvp_primitive, *xs, *flat, _n=_n, _p=_p)
            return touts, [base.reshape(o, (M, L) + tuple(shape(o))[1:]) for o in r]
        self._need_dual("the JVP of its JVP kernel (jvp of jvp, jacfwd of jvp)")
        r = bind(self.jvp_dual, *primals, *tangents, _n=_n, _p=_p)
        m = len(r) // 2
        return r[:m], r[m:]

    def _jvp_vjp(self, g, ins, out, need, acc, _n, _p):
        xs, ts = list(ins[:_n]), list(ins[_n:])
        wrt = self._wrt(_n)
        L = int(shape(ts[0])[0])
        specs = self._out_specs(xs, _p)
        hs = [_zeros((L,) + tuple(s), d, ts[0]) if h is None else h
              for h, (s, d) in zip(g, specs)]
        saved, ys = self._saved_for(xs, _p)
        xav = tuple((tuple(shape(xs[i])), dtype(xs[i])) for i in wrt)
        res = [None] * len(ins)
        if any(need[_n:]):
            lanes = [bind(self.vjp_primitive, *saved, *[h[l] for h in hs], _nx=_n,
                          _ns=len(saved), _xav=xav, _p=_p) for l in range(L)]
            for k in range(len(wrt)):
                res[_n + k] = gnp.stack([lane[k] for lane in lanes], axis=0)
        if any(need[:_n]):
            self._need_dual("reverse mode through its JVP kernel (grad of jvp)")
            self._need_ins("reverse mode through its JVP kernel (grad of jvp)")
            touts = bind(self.jvp_primitive, *ins, _n=_n, _p=_p) if ys else None
            total = [None] * len(wrt)
            for l in range(L):
                # sum_l d/dx <h_l, J(x) t_l> = sum_l (d/dx J(x)^T h_l)[t_l]: the Hessian of
                # h_l . f is symmetric, so a forward derivative of the VJP kernel gives it.
                tx = [None] * _n
                for k, i in enumerate(wrt):
                    tx[i] = base.reshape(ts[k][l], (1,) + tuple(shape(xs[i])))
                ty = [base.reshape(t[l], (1,) + tuple(shape(t))[1:]) for t in touts] if ys else []
                r = bind(self.vjp_dual, *saved, *[h[l] for h in hs], *tx, *ty,
                         *[None] * len(hs), _nx=_n, _ns=len(saved), _xav=xav, _p=_p)
                for k in range(len(wrt)):
                    part = base.reshape(r[len(wrt) + k], xav[k][0])
                    total[k] = part if total[k] is None else gnp.add(total[k], part)
            for k, i in enumerate(wrt):
                res[i] = total[k] if need[i] else None
        return tuple(res)

    def _saved_for(self, xs, params):
        """What the VJP kernel reads, recomputing the outputs if it reads them."""
        if self.saves == "ins":
            return list(xs), []
        ys = bind(self, *xs, **params)
        ys = list(ys) if self.multiple_results else [ys]
        return (ys if self.saves == "out" else list(xs) + ys), ys

    def _need_ins(self, what):
        if self.saves == "out":
            raise NotImplementedError(f"custom primitive {self.name!r}: {what} needs the "
                                      "VJP kernel to read the inputs (saves='ins' or 'both')")

    # rules of the VJP primitive (it is linear in g)
    def _vjp_jvp(self, primals, tangents, _nx, _ns, _xav, _p):
        saved, gs = primals[:_ns], primals[_ns:]
        if self.dual:
            r = bind(self.vjp_dual, *primals, *tangents, _nx=_nx, _ns=_ns, _xav=_xav, _p=_p)
            m = len(r) // 2
            return r[:m], r[m:]
        if any(t is not None for t in tangents[:_ns]):
            self._need_dual("the JVP of its VJP kernel (hvp, hessian, jvp of grad)")
        # Linear in g (jacrev): one launch per tangent lane.
        M = _lanes_of(tangents)
        gx = bind(self.vjp_primitive, *primals, _nx=_nx, _ns=_ns, _xav=_xav, _p=_p)
        lanes = [bind(self.vjp_primitive, *saved,
                      *[_zeros(shape(g), dtype(g), g) if t is None else t[l]
                        for g, t in zip(gs, tangents[_ns:])],
                      _nx=_nx, _ns=_ns, _xav=_xav, _p=_p) for l in range(M)]
        return gx, [gnp.stack([lane[k] for lane in lanes], axis=0) for k in range(len(gx))]

    def _vjp_vjp(self, g, ins, out, need, acc, _nx, _ns, _xav, _p):
        saved, gs = list(ins[:_ns]), list(ins[_ns:])
        wrt = self._wrt(_nx)
        hs = [_zeros(s, d, gs[0]) if h is None else h for h, (s, d) in zip(g, _xav)]
        res = [None] * len(ins)
        self._need_ins("reverse mode through its VJP kernel (grad of grad)")
        xs = saved[:_nx]
        th = [base.reshape(h, (1,) + tuple(s)) for h, (s, d) in zip(hs, _xav)]
        jh = None
        if any(need[_ns:]) or self.saves == "both" and any(need[:_nx]):
            # d/dg <h, J(x)^T g> = J(x) h: the JVP kernel, one lane
            jh = bind(self.jvp_primitive, *xs, *th, _n=_nx, _p=_p)
            for j in range(len(gs)):
                if need[_ns + j]:
                    res[_ns + j] = base.reshape(jh[j], tuple(shape(gs[j])))
        if any(need[:_nx]):
            self._need_dual("reverse mode through its VJP kernel (grad of grad)")
            # d/dx <h, J(x)^T g> = (d/dx J(x)^T g)[h] by the symmetry of the Hessian of g.f:
            # a forward derivative of the VJP kernel along h (outputs moving along J h).
            tx = [None] * _nx
            for k, i in enumerate(wrt):
                tx[i] = th[k]
            ty = list(jh) if self.saves == "both" else []
            r = bind(self.vjp_dual, *saved, *gs, *tx, *ty, *[None] * len(gs), _nx=_nx,
                     _ns=_ns, _xav=_xav, _p=_p)
            for k, i in enumerate(wrt):
                if need[i]:
                    res[i] = base.reshape(r[len(wrt) + k], _xav[k][0])
        return tuple(res)


def _check_outputs(owner, which, got, want):
    """The outputs of a user-supplied rule primitive against what the rule must return."""
    if len(got) != len(want):
        raise ValueError(f"custom primitive {owner.name!r}: its {which}= primitive returned "
                         f"{len(got)} arrays, {len(want)} expected (one per "
                         f"{'output' if which == 'jvp' else 'differentiated input'})")
    for k, (g, (s, d)) in enumerate(zip(got, want)):
        if tuple(shape(g)) != tuple(s) or np.dtype(dtype(g)) != np.dtype(d):
            raise ValueError(f"custom primitive {owner.name!r}: its {which}= primitive returned "
                             f"output {k} of shape {tuple(shape(g))} and dtype "
                             f"{np.dtype(dtype(g))}; shape {tuple(s)} and dtype {np.dtype(d)} "
                             "expected")


def _spec(s):
    """(shape, dtype or None) from a shape or a (shape, dtype) pair, else None."""
    def is_shape(v):
        return isinstance(v, (tuple, list)) and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in v)
    if isinstance(s, tuple) and is_shape(s):
        return tuple(int(d) for d in s), None
    if isinstance(s, tuple) and len(s) == 2 and is_shape(s[0]) and not is_shape(s):
        try:
            return tuple(int(d) for d in s[0]), np.dtype(s[1])
        except TypeError:
            return None
    return None


def custom_primitive(source, *, name, outputs, forward, jvp=None, vjp=None, saves="ins",
                     wrt=None, num_outputs=1, dual="auto", doc=""):
    """A differentiable primitive from your own CUDA kernels.

    ``f = custom_primitive(source, name=..., outputs=..., forward=Launch(...),
    jvp=Launch(...), vjp=Launch(...))`` gives a function ``f(*inputs, **params)`` usable
    inside every transform (grad, vjp, jvp, hvp also batched, hessian, jacfwd, jacrev,
    checkpoint, checkpoint_loop). ``inputs`` are arrays (NumPy on the CPU, CuPy on a GPU);
    ``params`` are keyword scalars passed unchanged to every launch description. The same
    ``source`` is compiled by NVRTC on a GPU (``cupy.RawModule``) and by the host C++
    compiler on the CPU (``gpuad.runtime.host.HostModule``); kernels named with ``{T}`` are
    instantiated per dtype (``float``/``double``).

    With inputs x_1..x_n (those listed in ``wrt``, default all, are differentiated),
    outputs y_1..y_m = f(x) and J = df/dx, each kernel gets these arrays, in this order,
    followed by nothing else (``args=`` turns them into the argument tuple):

    ``forward``:  x_1..x_n, y_1..y_m                   y = f(x)
    ``jvp``:      x_1..x_n, t_1..t_k, ty_1..ty_m       ty[l] = J t[l] for every lane l
    ``vjp``:      saved..., g_1..g_m, gx_1..gx_k       gx = J^T g (written, not added)

    Tangents carry L lanes: t_i has shape ``(L,) + x_i.shape`` (lane l contiguous,
    ``t[l * x.size + i]``), ty_j has shape ``(L,) + y_j.shape``, and the JVP kernel is
    launched ONCE for all lanes: ``L = t.shape[0]`` (put it in its arguments). L is 1 for
    ``jvp``, K for a batched HVP and x.size for jacfwd/hessian. A tangent that is
    symbolically zero arrives as zeros. ``saved`` is x_1..x_n (``saves="ins"``),
    y_1..y_m (``"out"``) or both; a cotangent that is zero arrives as zeros. k = len(wrt).

    ``outputs(*x, **params)`` returns y's shape, or ``(shape, dtype)``, or a list of
    ``num_outputs`` of them (dtype defaults to the inputs'). Launch descriptions are
    :class:`Launch` objects.

    Second order (hvp, hessian, grad of grad, jvp of grad) needs derivatives of the JVP
    and VJP kernels. Two ways:

    * write the jvp and vjp kernels as templates on ``T`` (arrays ``T*``, arithmetic in
      ``T``, scalar parameters as ``double``/``float``/``int``): they are then also
      instantiated on ``gpuad::Dual<T, N>`` (kernels/gpuad/dual.cuh, included for you)
      with each array packed as dual numbers, which gives their exact derivatives
      (``dual="auto"`` does this whenever both are templates);
    * pass ``jvp=`` / ``vjp=`` as custom primitives themselves, built from further kernels,
      with inputs (x..., t...) / (saved..., g...) in the order above.

    Otherwise ``max_order`` is 1 and a second-order use raises NotImplementedError naming
    the primitive before any sweep runs; ``gpuad.check_support(fun, x, mode="hvp")``
    lists it. Check a new primitive with ``gpuad.testing.check_primitive``.

    Argument lists are checked against the kernel's declaration (count and built-in scalar
    sizes) on every device, and fully against its C++ types on the CPU. Non-template
    kernels must be ``extern "C"`` or be found by their plain name.

    Example (y = x**3 elementwise; the kernels are templates, so hvp and hessian work)::

        import numpy as np, gpuad, gpuad.numpy as gnp
        SRC = r'''
        template <class T> __global__ void cube_fwd(const T* x, T* y, long long n) {
            long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
            if (i < n) y[i] = x[i] * x[i] * x[i];
        }
        // ty[l, i] = 3 x[i]^2 t[l, i]
        template <class T> __global__ void cube_jvp(const T* x, const T* t, T* ty,
                                                    long long n, long long lanes) {
            long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
            if (i >= n) return;
            T d = 3.0 * x[i] * x[i];
            for (long long l = 0; l < lanes; ++l) ty[l * n + i] = d * t[l * n + i];
        }
        // gx[i] = 3 x[i]^2 g[i]
        template <class T> __global__ void cube_vjp(const T* x, const T* g, T* gx, long long n) {
            long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
            if (i < n) gx[i] = 3.0 * x[i] * x[i] * g[i];
        }
        '''
        cube = gpuad.custom_primitive(
            SRC, name="cube", outputs=lambda x: x.shape,
            forward=gpuad.Launch("cube_fwd<{T}>", args=lambda x, y: (x, y, x.size)),
            jvp=gpuad.Launch("cube_jvp<{T}>",
                             args=lambda x, t, ty: (x, t, ty, x.size, t.shape[0])),
            vjp=gpuad.Launch("cube_vjp<{T}>", args=lambda x, g, gx: (x, g, gx, x.size)))
        x = np.array([1.0, 2.0])
        gpuad.grad(lambda x: gnp.sum(cube(x)))(x)            # [3., 12.]
        gpuad.hessian(lambda x: gnp.sum(cube(x)))(x)         # diag(6 x) = [[6, 0], [0, 12]]
        gpuad.testing.check_primitive(cube, (x,), reference=lambda x: x ** 3, order=2)
    """
    return CustomPrimitive(source, name=name, outputs=outputs, forward=forward, jvp=jvp,
                           vjp=vjp, saves=saves, wrt=wrt, num_outputs=num_outputs, dual=dual,
                           doc=doc)
