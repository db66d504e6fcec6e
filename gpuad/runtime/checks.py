"""Launch checks: a kernel launch is refused, before anything runs, when it could only go
wrong. Both devices check the launch configuration against CUDA's limits
(:func:`launch_config`) and array layouts the same way (:func:`array_problem`); on a GPU,
where CuPy passes whatever it is given, :func:`check_args` also checks each argument against
the kernel's C++ parameter as read from its source (:mod:`gpuad.runtime.cxx`), and
:class:`CheckedKernel` runs both before each launch of a ``cupy.RawKernel``.

How CuPy passes arguments (CuPy source, ``cupy/cuda/function.pyx``: ``_pointer``, and
``cupy/_core/_scalar.pyx``; not observed on a device): any ``cupy.ndarray``, 0-d included, as
a pointer to its first element, whatever its strides; a NumPy array of one element by value
(its bytes; larger ones are refused); a Python bool as a 1-byte bool, an int as an 8-byte
integer, a float as a double; a NumPy scalar as its bytes; None as a null pointer.
"""
from __future__ import annotations

import functools
import sys
from typing import Callable, Sequence

import numpy as np

from .cxx import Param

# CUDA's limits for every current GPU (compute capability 5.0 and up), and the most dynamic
# shared memory one block can have (227 KiB on sm_90 and sm_100, after opting in with
# cudaFuncAttributeMaxDynamicSharedMemorySize; 48 KiB without). kernels/gpuad/host.h and
# fastcall.cpp hold the same numbers.
MAX_GRID_X = 2**31 - 1
MAX_GRID_YZ = 65535
MAX_BLOCK_XY = 1024
MAX_BLOCK_Z = 64
MAX_BLOCK_THREADS = 1024
MAX_SHARED_MEM = 227 * 1024

KINDS = {"f": "floating", "i": "integer", "u": "integer", "b": "bool", "p": "pointer", "o": "value"}


class LaunchConfigError(ValueError, RuntimeError):
    """A grid, block or shared memory size outside CUDA's limits (a RuntimeError too, as the
    host runtime reported these before they were checked in Python)."""


def _int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _dims(kernel: str, v, what: str) -> tuple[int, int, int]:
    t = (v,) if _int(v) else v
    if not isinstance(t, (tuple, list)) or not 1 <= len(t) <= 3 or not all(map(_int, t)):
        raise TypeError(f"kernel '{kernel}': {what} must be an int or a tuple of 1 to 3 ints, got {v!r}")
    return tuple(int(x) for x in t) + (1,) * (3 - len(t))


def launch_config(kernel: str, grid, block, shared_mem=0) -> tuple[tuple, tuple, int]:
    """``(grid, block, shared_mem)`` as 3-tuples and an int, or a ValueError naming what is
    outside CUDA's limits: grid.x <= 2^31-1, grid.y/z <= 65535, block.x/y <= 1024, block.z
    <= 64, at most 1024 threads per block, no dimension 0, 0 <= shared_mem <=
    :data:`MAX_SHARED_MEM` bytes (:class:`LaunchConfigError`, a ValueError). TypeError for
    anything that is not ints."""
    g, b = _dims(kernel, grid, "grid"), _dims(kernel, block, "block")
    if not _int(shared_mem):
        raise TypeError(f"kernel '{kernel}': shared_mem must be an int (bytes), got {shared_mem!r}")
    smem = int(shared_mem)
    problems = [f"{what}.{axis} is {n}, below 1 (launch nothing instead when there is no work)"
                for what, dims in (("grid", g), ("block", b)) for axis, n in zip("xyz", dims) if n < 1]
    if g[0] > MAX_GRID_X:
        problems.append(f"grid.x is {g[0]}, above CUDA's limit {MAX_GRID_X}: give each thread several "
                        "elements (a grid-stride loop) or split the launch")
    problems += [f"grid.{axis} is {n}, above CUDA's limit {MAX_GRID_YZ}: fold it into grid.x"
                 for axis, n in zip("yz", g[1:]) if n > MAX_GRID_YZ]
    problems += [f"block.{axis} is {n}, above CUDA's limit {lim}"
                 for axis, n, lim in zip("xyz", b, (MAX_BLOCK_XY, MAX_BLOCK_XY, MAX_BLOCK_Z)) if n > lim]
    if b[0] * b[1] * b[2] > MAX_BLOCK_THREADS and not problems:
        problems.append(f"a block of {b[0] * b[1] * b[2]} threads is above CUDA's limit of "
                        f"{MAX_BLOCK_THREADS}: use more, smaller blocks")
    if smem < 0:
        problems.append(f"shared_mem is {smem} bytes, below 0")
    elif smem > MAX_SHARED_MEM:
        problems.append(f"shared_mem is {smem} bytes, above gpuad's maximum {MAX_SHARED_MEM} (227 KiB, "
                        "the most dynamic shared memory a CUDA block can have)")
    if problems:
        raise LaunchConfigError(f"invalid launch configuration for kernel '{kernel}': grid {g}, block {b}, "
                         f"shared_mem {smem}: {'; '.join(problems)}")
    return g, b, smem


def describe(a) -> str:
    """How an argument reads in an error message, with how it is passed."""
    if isinstance(a, np.ndarray):
        return f"a numpy array of {a.dtype}"
    if isinstance(a, np.generic):
        return f"numpy.{type(a).__name__} ({a.dtype.itemsize}-byte {KINDS.get(a.dtype.kind, 'value')})"
    if a is None:
        return "None (null pointer)"
    if isinstance(a, bool):
        return "Python bool (passed as 1-byte bool)"
    if isinstance(a, int):
        return "Python int (passed as 8-byte long long)"
    if isinstance(a, float):
        return "Python float (passed as 8-byte double)"
    if _cupy_array(a):
        return f"a cupy array of {a.dtype}"
    return f"{type(a).__module__}.{type(a).__qualname__}"


def array_problem(a, writes: bool) -> tuple[str, str] | None:
    """(what is wrong, the way out) when array ``a`` cannot be handed to a kernel as a pointer to
    its first element (the kernel ignores strides); ``writes``: the kernel may write through it
    (a non-const pointee). Works for NumPy and CuPy arrays (CuPy's have no read-only flag)."""
    flags = a.flags
    if not flags.c_contiguous:
        back = " and copy the result back into the view" if writes else ""
        if any(s == 0 and n > 1 for s, n in zip(a.strides, a.shape)):
            return ("is a broadcast view (stride 0): its elements share memory, and the kernel would "
                    f"{'write' if writes else 'read'} past it", "pass an array of its own of the full "
                    "shape (xp.ascontiguousarray(a))")
        return (f"is not C-contiguous (shape {a.shape}, strides {a.strides}): the kernel gets the address "
                "of its first element and walks memory in C order", f"pass xp.ascontiguousarray(a){back}")
    if writes and not getattr(flags, "writeable", True):
        return ("is read-only, and the kernel writes through this pointer (its pointee is not const)",
                "pass a writeable array (a.copy()), or declare the parameter const if the kernel only reads it")
    if not getattr(flags, "aligned", True):
        return "is not aligned to its element size", "pass a.copy()"
    return None


def _cupy_array(a) -> bool:
    ndarray = getattr(sys.modules.get("cupy"), "ndarray", None)
    return ndarray is not None and isinstance(a, ndarray)


@functools.lru_cache(maxsize=None)
def pointee_dtypes(kind: str, size: int) -> frozenset | None:
    """The NumPy dtypes of arrays a pointer to a ``size``-byte scalar of ``kind`` ('f', 'i',
    'u', 'b') may point to, or None (void*, structs: any). Signedness is not told apart: C++
    converts freely between them, and kernels do."""
    names = {"f": [f"f{size}"], "i": [f"i{size}", f"u{size}"], "u": [f"i{size}", f"u{size}"],
             "b": ["?", "i1", "u1"]}.get(kind)
    if not names:
        return None
    if kind in "iu" and size == 1:
        names.append("?")
    out = set()
    for n in names:
        try:
            out.add(np.dtype(n))
        except TypeError:
            pass
    return frozenset(out) or None


def _cuda_problem(a, p: Param, device_array) -> tuple[type, str, str] | None:
    """(exception, what is wrong, the way out) for argument ``a`` of parameter ``p`` passed the
    way CuPy passes it, or None (right, or nothing known to check)."""
    if p.pointer:
        if a is None:
            return None
        if device_array(a):
            dts = pointee_dtypes(p.elem_kind, p.elem_size) if p.elem_kind else None
            if dts is not None and a.dtype not in dts:
                return (TypeError, f"is {describe(a)}, but the kernel reads {p.elem_size}-byte "
                        f"{KINDS[p.elem_kind]} elements through it", "pass an array of the parameter's type")
            bad = array_problem(a, not p.const)
            return (ValueError, *bad) if bad else None
        if isinstance(a, np.ndarray):
            return (TypeError, "is a NumPy array: CuPy passes a NumPy array by value (its bytes), not as "
                    "a pointer", "pass a CuPy array (cupy.asarray(a))")
        if isinstance(a, np.integer) and a.dtype.itemsize == 8 and a == 0:
            return None   # a 64-bit zero: the null pointer (what the engine passes for None)
        if isinstance(a, (bool, int, float, np.generic)):
            return (TypeError, f"is {describe(a)}, a value where the kernel expects a pointer",
                    "pass a CuPy array, or None for a null pointer")
        return None
    if p.size is None:
        return None       # a struct, or a template type not known here: passed as given
    want = f"the parameter is a {p.size}-byte {KINDS[p.kind]}"
    if device_array(a):
        return (TypeError, f"is {describe(a)}, which CuPy passes as a pointer; {want}",
                "pass a NumPy scalar of the parameter's type (e.g. a.get()[()] or np.float64(x))")
    if isinstance(a, np.ndarray):
        return (TypeError, f"is {describe(a)}, which CuPy passes as its raw bytes; {want}",
                "pass a NumPy scalar of the parameter's type (a[()] or np.int32(x))")
    if a is None:
        return TypeError, f"is None (a null pointer); {want}", "pass a value"
    if isinstance(a, (bool, np.bool_)):
        ok = p.kind == "b"
    elif isinstance(a, int):
        ok = p.kind in "iu" and p.size == 8
    elif isinstance(a, float):
        ok = p.kind == "f" and p.size == 8
    elif isinstance(a, np.generic):
        ok = a.dtype.itemsize == p.size and (a.dtype.kind == p.kind or {a.dtype.kind, p.kind} <= set("iu"))
    else:
        return None
    if ok:
        return None
    fix = {"f": "np.float32(x)" if p.size == 4 else "np.float64(x)", "b": "a Python bool",
           "i": f"np.int{p.size * 8}(x)", "u": f"np.uint{p.size * 8}(x)"}[p.kind]
    return TypeError, f"is {describe(a)}; {want}", f"pass {fix}"


def argument_error(exc: type, kernel: str, index: int, param: str, what: str, fix: str) -> Exception:
    return exc(f"kernel '{kernel}' argument {index} ({param}) {what}; {fix}")


def _label(p: Param) -> str:
    return p.decl if p.type == p.written else f"{p.decl}, here {p.type}"


def check_args(kernel: str, params: Sequence[Param], args,
               device_array: Callable[[object], bool] = _cupy_array) -> None:
    """Raise TypeError/ValueError naming the kernel, the argument's index and its C++
    declaration when ``args`` do not fit ``params`` (from :func:`gpuad.runtime.cxx.
    kernel_signatures`, instantiated) the way CuPy passes them: the count; a pointer given
    a NumPy array, a scalar or an array of the wrong element type; a by-value scalar given
    an array (CuPy or NumPy), a Python bool (unless it is ``bool``) or a value of another
    size or kind; a non-contiguous or broadcast array, or (for a non-const pointee) a
    read-only one. ``device_array(a)`` says whether ``a`` is passed as a device pointer
    (default: a ``cupy.ndarray``). What the parameters do not say is left unchecked."""
    if len(args) != len(params):
        raise TypeError(f"kernel '{kernel}' takes {len(params)} arguments "
                        f"({', '.join(p.decl for p in params)}), got {len(args)}")
    for i, (a, p) in enumerate(zip(args, params)):
        bad = _cuda_problem(a, p, device_array)
        if bad is not None:
            raise argument_error(bad[0], kernel, i, _label(p), *bad[1:])


class CheckedKernel:
    """A ``cupy.RawKernel`` that checks each launch first (:func:`launch_config`, then
    :func:`check_args` when the kernel's parameters could be read), called the same way:
    ``kernel(grid, block, args, shared_mem=0, **kwargs)``; grid and block may also be ints.
    Other attributes are the RawKernel's (``raw`` is the RawKernel itself)."""

    def __init__(self, raw, name: str, params: Sequence[Param] | None):
        self.raw, self.name, self.params = raw, name, params

    def __call__(self, grid, block, args, shared_mem=0, **kwargs):
        grid, block, shared_mem = launch_config(self.name, grid, block, shared_mem)
        args = tuple(args)
        if self.params is not None:
            check_args(self.name, self.params, args)
        return self.raw(grid, block, args, shared_mem=shared_mem, **kwargs)

    def __getattr__(self, attr):
        return getattr(self.raw, attr)

    def __repr__(self):
        return f"<CheckedKernel {self.name} of {self.raw!r}>"
