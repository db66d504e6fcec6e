"""What the gpuad.numpy wrappers share: argument conversion and NumPy's dtype promotion."""
from __future__ import annotations

import functools
import inspect
import numbers

import numpy as np

from ..core import Tracer, full_lower, shape, dtype
from ..tape import VJPTracer
from ..primitives import base, elementwise as _elementwise
from ..runtime.launch import of_module

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
COMPLEX = (np.dtype(np.complex64), np.dtype(np.complex128))


def _is_weak(x) -> bool:
    # Python scalars take the dtype of the arrays they meet (NumPy 2 / NEP 50).
    return isinstance(x, (numbers.Number,)) and not isinstance(x, (np.generic, Tracer))


def result_float_dtype(*xs):
    """The floating or complex dtype NumPy would give an arithmetic/transcendental op of
    ``xs``: NumPy's promotion (NEP 50: a Python scalar takes the precision of the arrays it
    meets, so ``float32 + 1j`` is complex64), integers and booleans made float64."""
    present = [x for x in xs if x is not None]
    strong = [_dtype_of(x) for x in present if not _is_weak(x)]
    weak = [0j if isinstance(x, complex) else 0.0 if isinstance(x, float) else 0
            for x in present if _is_weak(x)]
    dt = np.result_type(*strong, *weak)
    if dt.kind in "biu":
        dt = np.dtype(np.float64)
    if dt.kind == "c":
        return dt if dt in COMPLEX else np.dtype(np.complex128)
    if dt not in FLOATS:
        if dt.kind == "f" and dt.itemsize < 4:
            raise TypeError(f"gpuad kernels support float32, float64, complex64 and complex128, "
                            f"not {dt}")
        dt = np.dtype(np.float64)
    return dt


def strong(x):
    """``x``, a Python scalar made a 0-d array: an entry of a sequence of arrays
    (concatenate, stack, append, ...) is converted by ``numpy.asarray`` and takes part in
    the promotion with its own dtype (``append(float32, 2.5)`` is float64), unlike an
    operand of arithmetic (NEP 50's weak scalars)."""
    return np.asarray(x) if _is_weak(x) else x


def _dtype_of(x):
    """NumPy's dtype of an operand; a list or tuple is read as numpy.asarray reads it
    (``np.result_type`` would take ``[0.1, 0.2]`` for a structured dtype's fields)."""
    if isinstance(x, (list, tuple)):
        return (np.result_type(*[_dtype_of(e) for e in x]) if len(x)
                else np.dtype(np.float64))
    if isinstance(x, (bool, int, float, complex)):
        return np.asarray(x).dtype
    return np.dtype(dtype(x))


def to_operand(x, dt, xp, shared=False):
    """``x`` as an array or tracer of dtype ``dt`` on the module ``xp``; ``shared``: a
    scalar may become a cached constant of the device (an operand nothing writes into)."""
    if isinstance(x, Tracer):
        if xp is not np and type(full_lower(x)) is np.ndarray:
            # A traced Python or NumPy scalar (a host value) beside CuPy arrays: moved to
            # the device by adding a device zero (its derivative passes through), since
            # CuPy's functions refuse host arrays beside their own.
            x = _elementwise.add(x, of_module(xp).constant(0, dtype(x)))
        return base.astype(x, dt)
    if _is_weak(x) or isinstance(x, np.generic):
        return of_module(xp).constant(x, dt) if shared else xp.asarray(x, dtype=dt)
    x = xp.asarray(x)
    return x if x.dtype == dt else x.astype(dt)


def _plain(x):
    """The NumPy array under ``x`` if it is a float32/float64 NumPy array or a tracer of
    one (the fast path of :func:`prepare`), else None."""
    if type(x) is VJPTracer:          # the common case, without the property
        x = x.val
    while isinstance(x, Tracer):
        x = x.value
    if type(x) is np.ndarray and x.dtype.char in "fd":
        return x
    return None


def prepare(*xs, like=()):
    """Convert operands to one floating dtype and one array module (CuPy if any of ``xs``
    or of the arrays ``like`` is a CuPy array)."""
    if like:
        xp = base.xp_of(*xs, *like)
        dt = result_float_dtype(*xs)
        return [to_operand(x, dt, xp, True) for x in xs], xp
    if len(xs) == 1:                  # the common unary case, kept cheap
        if _plain(xs[0]) is not None:
            return [xs[0]], np
    elif len(xs) == 2:                # array (op) Python scalar: the scalar takes its dtype
        x, y = xs
        if type(y) is float or type(y) is int:
            v = _plain(x)
            if v is not None:
                return [x, np.asarray(y, dtype=v.dtype)], np
        elif type(x) is float or type(x) is int:
            v = _plain(y)
            if v is not None:
                return [np.asarray(x, dtype=v.dtype), y], np
    xp = base.xp_of(*xs)
    dt = result_float_dtype(*xs)
    # Operands of an operation of several: a scalar among them costs no allocation and no
    # fill launch on a GPU after its first use (Launcher.constant).
    return [to_operand(x, dt, xp, len(xs) > 1) for x in xs], xp


def normalize_axis(axis, ndim, what="axis"):
    """A sorted tuple of non-negative axes (``None`` means all)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(f"{what} {a} is out of bounds for an array of "
                                          f"dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {what} {axis}")
    return tuple(sorted(out))


def lower(x):
    """The plain array under a traced value (for non-differentiable results)."""
    return full_lower(x)


__all__ = ["prepare", "strong", "normalize_axis", "lower", "result_float_dtype",
           "to_operand", "shape", "dtype", "numpy_out", "ddof_of", "foreign_keywords"]


def _kinds(values, acc):
    """Scan arguments (one level into lists/tuples): [traced, floating, integral]."""
    for v in values:
        if isinstance(v, Tracer):
            acc[0] = True
        elif isinstance(v, (list, tuple)):
            _kinds(v, acc)
        elif isinstance(v, (bool, int)) and not isinstance(v, np.generic):
            acc[2] = True
        elif hasattr(v, "dtype") and hasattr(v, "shape") and not isinstance(v, type):
            k = np.dtype(v.dtype).kind
            if k in "biu":
                acc[2] = True
            elif k in "fc":
                acc[1] = True
        elif isinstance(v, float):
            acc[1] = True
    return acc


def _scalars(r):
    # NumPy returns scalars (np.float64, ...) where a result is 0-d; CuPy returns 0-d arrays.
    if type(r) is np.ndarray and r.ndim == 0:
        return r[()]
    if isinstance(r, tuple):
        return type(r)(*map(_scalars, r)) if hasattr(r, "_fields") else tuple(map(_scalars, r))
    return r


# The reductions with NumPy's ``dtype=``: an integer or boolean one makes the result
# NumPy's integer one (a piecewise constant of the values: no derivative).
_DTYPE_REDUCTIONS = frozenset(["sum", "prod", "mean", "var", "std", "cumsum", "cumprod",
                               "nansum", "nanprod", "nanmean", "nanvar", "nanstd",
                               "nancumsum", "nancumprod", "trace", "cumulative_sum",
                               "cumulative_prod"])


def _dtype_position(f):
    """The position of ``f``'s ``dtype`` parameter (None without one), read once."""
    import inspect
    names = list(inspect.signature(f).parameters)
    return names.index("dtype") if "dtype" in names else None


def _integral_dtype(pos, args, kwargs):
    """The ``dtype=`` argument of a call (keyword, or positional at ``pos``) if it is an
    integer or boolean dtype."""
    dt = kwargs.get("dtype")
    if dt is None and pos is not None and len(args) > pos:
        dt = args[pos]
    if dt is None:
        return None
    dt = np.dtype(dt)
    return dt if dt.kind in "biu" else None


# Functions whose 0-d results NumPy returns as 0-d arrays, not as NumPy scalars (the
# constructors, the shape functions and the others not built on ufuncs or reductions).
_ARRAY_RESULTS = frozenset([
    "array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "copy", "full",
    "full_like", "reshape", "squeeze", "transpose", "permute_dims", "matrix_transpose",
    "broadcast_to", "where", "real", "imag", "moveaxis", "swapaxes", "rollaxis", "select",
    "tensordot", "piecewise", "cov", "corrcoef", "cross", "require", "block", "i0"])


# Functions whose result has their first argument's dtype, the other values cast to it
# (pad's constant_values, nan_to_num's replacements): an integer or boolean first argument
# gives NumPy's integer result, whatever the other arguments are.
_FIRST_DECIDES = frozenset(["pad", "nan_to_num", "piecewise"])


# Functions that NumPy may answer with a view of (or the very) input array. Every other
# function's result is a new array: where gpuad's untraced result shares memory with an
# input (an identity: conj of a real array, clip without bounds, astype to the same dtype,
# a sum over no axes, concatenate of one array), it is copied, so writing into the result
# does not write into the input.
_VIEWS = frozenset([
    "reshape", "ravel", "squeeze", "transpose", "permute_dims", "matrix_transpose",
    "moveaxis", "swapaxes", "rollaxis", "expand_dims", "broadcast_to", "broadcast_arrays",
    "atleast_1d", "atleast_2d", "atleast_3d", "asarray", "asanyarray", "ascontiguousarray",
    "asfortranarray", "require", "array", "real", "imag", "diagonal", "diag", "split",
    "array_split", "hsplit", "vsplit", "dsplit", "unstack", "flip", "flipud", "fliplr",
    "rot90", "trim_zeros", "nan_to_num", "copy", "diff"])


def _arrays_in(values, acc):
    for v in values:
        if isinstance(v, (list, tuple)):
            _arrays_in(v, acc)
        elif hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, np.generic):
            acc.append(v)
    return acc


def _fresh(r, ins):
    """``r`` (a result, or a tuple/list of them) copied where it shares memory with one of
    the input arrays ``ins``."""
    if isinstance(r, (list, tuple)):
        out = [_fresh(e, ins) for e in r]
        return type(r)(*out) if hasattr(r, "_fields") else type(r)(out)
    if not hasattr(r, "shape") or isinstance(r, (np.generic, Tracer)):
        return r
    for a in ins:
        if r is a or (type(r) is np.ndarray and type(a) is np.ndarray
                      and np.may_share_memory(r, a)) or (
                getattr(r, "base", None) is not None and (r.base is a or r.base is a.base)):
            return r.copy()
    return r


def _module_of(args, module, name, np_f):
    """``module``'s function ``name`` (NumPy's ``np_f``) on CuPy's side for CuPy arrays."""
    xp = base.xp_of(*[a for a in args if hasattr(a, "shape")])
    if xp is np:
        return np_f
    sub = xp if module is np else getattr(xp, module.__name__.rsplit(".", 1)[-1], None)
    return getattr(sub, name, np_f)


# NumPy's keywords that a gpuad function lacks, given a value other than NumPy's default on
# traced arguments: what to do instead.
_KEYWORD_HINTS = {
    "out": "gpuad arrays are immutable under a transform: use the returned array",
    "dtype": "cast the operands or the result with .astype",
    "where": "select with gnp.where(mask, result, other) instead",
    "device": "results live where the inputs live (NumPy arrays on the CPU, CuPy arrays "
              "on a GPU): omit it",
}
_NO_VALUE = getattr(np, "_NoValue", object())


@functools.lru_cache(maxsize=None)
def _accepted(f):
    """The keywords ``f`` takes (None: any, it has ``**kwargs``)."""
    try:
        ps = inspect.signature(f).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in ps.values()):
        return None
    return frozenset(k for k, p in ps.items() if p.kind is not p.POSITIONAL_ONLY)


@functools.lru_cache(maxsize=None)
def _numpy_defaults(np_f):
    try:
        ps = inspect.signature(np_f).parameters
    except (TypeError, ValueError):
        return {}
    return {k: p.default for k, p in ps.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def _is_default(v, d):
    if v is d:
        return True
    if isinstance(v, tuple) and isinstance(d, tuple):      # (divmod's out=(None, None))
        return len(v) == len(d) and all(_is_default(a, b) for a, b in zip(v, d))
    if d is _NO_VALUE or not isinstance(v, (str, bool, int, float, type(None))):
        return False
    return type(v) is type(d) and v == d


def foreign_keywords(name, np_f, accepted, args, kwargs):
    """``kwargs`` for a gpuad function that takes the keywords ``accepted``, NumPy's
    keywords it lacks dropped where they hold NumPy's default (``out=None``,
    ``casting='same_kind'``); None where the call is to be NumPy's own (no traced argument:
    NumPy's semantics for every keyword); on traced arguments a TypeError that names the
    function, the keyword and what to do."""
    defaults = _numpy_defaults(np_f) if np_f is not None else {}
    kept = {}
    for k, v in kwargs.items():
        if k in accepted:
            kept[k] = v
        elif k not in defaults:
            raise TypeError(f"gpuad.numpy.{name}() got an unexpected keyword argument {k!r} "
                            f"(numpy.{name} has no keyword of that name either)")
        elif not _is_default(v, defaults[k]):
            if not _kinds(kwargs.values(), _kinds(args, [False] * 3))[0]:
                return None
            if k == "copy" or (k == "device" and v == "cpu" and base.xp_of(*args) is np):
                continue      # (traced arrays are immutable: a copy or a view alike)
            shown = (f"<array of shape {tuple(shape(v))}>" if hasattr(v, "shape")
                     and not isinstance(v, (np.generic, type)) else repr(v))
            raise TypeError(f"gpuad.numpy.{name}: NumPy's keyword {k}={shown} is not "
                            f"supported on traced arrays (only its default "
                            f"{k}={defaults[k]!r}); "
                            f"{_KEYWORD_HINTS.get(k, 'omit it, or compute without it')}")
    return kept


# The joins, whose dtype= casts each entry (the same values as casting the result).
_JOINS = frozenset(["concatenate", "concat", "stack", "hstack", "vstack", "row_stack"])


def _join_dtype(g, args, kwargs):
    """A join ``g`` of traced arrays with NumPy's ``dtype=`` and ``casting=``: the join cast
    to ``dtype`` (floating or complex: a derivative), under NumPy's casting rule."""
    kw = dict(kwargs)
    dt, casting = kw.pop("dtype", None), kw.pop("casting", "same_kind")
    r = g(*args, **kw)
    if dt is None:
        return r
    dt, src = np.dtype(dt), np.dtype(dtype(r))
    if not np.can_cast(src, dt, casting):
        raise TypeError(f"{g.__name__}: cannot cast array data from {src} to {dt} according "
                        f"to the rule {casting!r} (NumPy's error)")
    return base.astype(r, traced_dtype(g.__name__, dt))


def traced_dtype(name, dt):
    """NumPy's ``dtype=`` keyword of ``name`` on traced values, as a dtype: floating or
    complex (a derivative), else a TypeError naming the function."""
    dt = np.dtype(dt)
    if dt.kind not in "fc":
        raise TypeError(f"gpuad.numpy.{name}: dtype={dt} of a traced value would drop its "
                        "derivative; cast after gpuad.stop_gradient, or keep a floating or "
                        "complex dtype")
    return dt


def numpy_out(name, args, kwargs, module=np):
    """NumPy's (CuPy's) own ``name`` for a call with ``out=`` (it writes into ``out``);
    refused with a TypeError naming the function on traced values."""
    if _kinds(kwargs.values(), _kinds(args, [False] * 3))[0]:
        qual = name if module is np else f"{module.__name__.rsplit('.', 1)[-1]}.{name}"
        raise TypeError(f"gpuad.numpy.{qual}: out= is not supported on traced arrays; "
                        f"{_KEYWORD_HINTS['out']}")
    np_f = getattr(module, name)
    return _module_of(args, module, name, np_f)(*args, **kwargs)


def ddof_of(ddof, correction):
    """NumPy 2's ``correction=``, the Array API's name of ``ddof``."""
    if correction is None:
        return ddof
    if ddof != 0:
        raise ValueError("ddof and correction can't be provided simultaneously.")
    return correction


def numpy_semantics(name, f, module=np):
    """``f`` (a gpuad.numpy function) where called with no traced argument behaving as
    NumPy's ``name`` does in what gpuad does not compute: integer and boolean inputs go to
    NumPy's (CuPy's) own function, keeping integer dtypes (``prod((28, 28))`` is 784), and
    a 0-d NumPy result is a NumPy scalar."""
    np_f = getattr(module, name, None)
    scalars = _scalars if name not in _ARRAY_RESULTS else (lambda r: r)
    fresh = name not in _VIEWS
    by_dtype = name in _DTYPE_REDUCTIONS and np_f is not None
    pos = _dtype_position(f) if by_dtype else None
    by_first = name in _FIRST_DECIDES and np_f is not None

    qual = name if module is np else f"{module.__name__.rsplit('.', 1)[-1]}.{name}"

    def g(*args, **kwargs):
        if kwargs:
            accepted = _accepted(f)
            if accepted is not None and not accepted.issuperset(kwargs):
                if name in _JOINS and ("dtype" in kwargs or "casting" in kwargs) and \
                        _kinds(kwargs.values(), _kinds(args, [False] * 3))[0]:
                    return _join_dtype(g, args, kwargs)
                kept = foreign_keywords(qual, np_f, accepted, args, kwargs)
                if kept is None:        # NumPy's keywords on untraced arguments: NumPy's call
                    return _module_of(args, module, name, np_f)(*args, **kwargs)
                kwargs = kept
        if (by_dtype and _integral_dtype(pos, args, kwargs) is not None) or (
                by_first and args and not isinstance(args[0], Tracer)
                and _dtype_of(args[0]).kind in "biu"):
            args, kwargs = [full_lower(a) for a in args], {k: full_lower(v) for k, v in
                                                           kwargs.items()}
            return _module_of(args, module, name, np_f)(*args, **kwargs)
        traced, floating, integral = _kinds(kwargs.values(), _kinds(args, [False] * 3))
        if traced:
            return f(*args, **kwargs)
        if integral and not floating and np_f is not None:
            return _module_of(args, module, name, np_f)(*args, **kwargs)
        r = f(*args, **kwargs)
        if fresh and kwargs.get("out") is None:
            r = _fresh(r, _arrays_in(kwargs.values(), _arrays_in(args, [])))
        return scalars(r)
    g.__name__, g.__qualname__, g.__doc__ = f.__name__, f.__qualname__, f.__doc__
    g.__module__, g.__wrapped__ = "gpuad." + module.__name__, f
    return g
