"""A stand-in for CuPy, backed by NumPy and gpuad's host build, for running the
CuPy-parametrized tests on a machine without a GPU (``GPUAD_FAKE_CUPY=1``, see conftest.py).

It is strict where CuPy is strict, so that a program which would fail on a GPU because a
NumPy array meets a CuPy one fails here too. Each rule below was read in CuPy 14.2's source
(cupy/cupy at v14.2.0), not observed on a device:

- arrays are a type of their own whose ``__module__`` is "cupy"; ``numpy.asarray(a)`` raises
  TypeError (``_ndarray_base.__array__``, core.pyx);
- a ufunc, operator or function given a NumPy array (0-d too) raises TypeError
  ("Unsupported type": ``_kernel._preprocess_arg`` wraps what is not a CuPy array into a
  ``CScalar``, which takes only Python and NumPy scalars, ``_scalar.pyx``); Python and NumPy
  scalars are fine; results that NumPy gives as scalars are 0-d arrays;
- ``x + y`` with y of another type: NotImplemented if y has ``__array_ufunc__ = None`` or,
  lacking ``__array_ufunc__``, a higher ``__array_priority__``; else ``numpy.add(x, y)``,
  where CuPy's ``__array_ufunc__`` returns NotImplemented for types it cannot take, so the
  other operand's override runs (``ndarray.__add__``, ``_should_use_rop``, core.pyx);
- ``numpy.f(a)`` dispatches to ``cupy.f`` (``__array_function__``), NotImplemented when the
  types are not all CuPy/NumPy arrays or CuPy lacks ``f``;
- NumPy integer/boolean arrays are accepted as indices (``_prepare_slice_list``); assignment
  ``a[i] = v`` takes CuPy arrays and scalars, and raises for a non-scalar NumPy array
  (``_scatter_op`` -> ``ndarray.fill``);
- functions take only the parameters CuPy's own functions take (checked against the
  installed CuPy's signatures when it is importable: ``cupy.array`` has no ``like=``);
- a ``RawKernel`` launch passes CuPy arrays (0-d too) as pointers, NumPy arrays by value
  (refused here) and scalars by value (``function.pyx``: ``_pointer``); it runs the host
  build of the same source; arrays of a device other than the current one are refused;
- arrays are made on the current device (``cupy.cuda.Device(i)`` as a context manager);
  two devices exist; operands on different devices raise ValueError;
- reading values to the host (``get``, ``item``, ``float``, ``bool``, ...) calls
  ``cupy._core.syncdetect._declare_synchronize`` as ``ndarray.get`` does (core.pyx);
- ``cupyx.scipy.signal.convolve``/``correlate`` take CuPy arrays only, check their inputs
  as ``_check_conv_inputs`` does, and ``method='auto'`` refuses N-d inputs
  (``_choose_conv_method``: "Only 1d inputs are supported currently"; cupyx/scipy/signal/
  _signaltools.py, cupy/_math/misc.py); no other ``cupyx.scipy`` module is provided.
"""
from __future__ import annotations

import functools
import inspect
import re
import sys
import threading
import time
import types
import weakref

import numpy as np

__version__ = "14.2.0"

try:                                        # the real namespace, to be as strict as it is
    import cupy as _real                    # noqa: F401  (imports without a GPU)
    _REAL_NAMES = set(dir(_real))
    _REAL_SUB = {m: set(dir(getattr(_real, m))) for m in ("linalg", "fft", "random")}
    _REAL_METHODS = set(dir(_real.ndarray))
except Exception:                           # CuPy not installed: NumPy's names
    _real = None
    _REAL_NAMES = _REAL_SUB = _REAL_METHODS = None

N_DEVICES = 2
_state = threading.local()


def _current() -> int:
    return getattr(_state, "device", 0)


# ------------------------------------------------------------------ syncs, memory
class _SyncDetect(types.ModuleType):
    @staticmethod
    def _declare_synchronize():
        pass


syncdetect = _SyncDetect("cupy._core.syncdetect")
_core = types.SimpleNamespace(syncdetect=syncdetect)


def _sync():
    syncdetect._declare_synchronize()       # looked up per call, as core.pyx does


class MemoryPool:
    def __init__(self):
        self._used = 0

    def used_bytes(self):
        return self._used

    def total_bytes(self):
        return self._used

    def free_all_blocks(self):
        pass

    def malloc(self, size):
        raise NotImplementedError("fake_cupy allocates through NumPy")


_pool = MemoryPool()


def get_default_memory_pool():
    return _pool


def _account(arr, nbytes):
    _pool._used += nbytes
    weakref.finalize(arr, _release, nbytes)


def _release(nbytes):
    _pool._used -= nbytes


# ------------------------------------------------------------------ the array
def _unsupported(x):
    return TypeError(f"Unsupported type {type(x)}")


class _Ptr:
    __slots__ = ("ptr", "device_id")

    def __init__(self, ptr, device_id):
        self.ptr, self.device_id = ptr, device_id

    @property
    def device(self):
        return cuda.Device(self.device_id)


class ndarray:
    """A CuPy array stand-in: a NumPy array ``_a`` on device ``_dev``."""
    __array_priority__ = 100
    __slots__ = ("_a", "_dev", "__weakref__")

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        _init(self, np.empty(shape, dtype, order=order), _current())

    # -- attributes
    shape = property(lambda s: s._a.shape)
    dtype = property(lambda s: s._a.dtype)
    ndim = property(lambda s: s._a.ndim)
    size = property(lambda s: s._a.size)
    nbytes = property(lambda s: s._a.nbytes)
    itemsize = property(lambda s: s._a.itemsize)
    strides = property(lambda s: s._a.strides)
    flags = property(lambda s: types.SimpleNamespace(
        c_contiguous=s._a.flags.c_contiguous, f_contiguous=s._a.flags.f_contiguous,
        owndata=s._a.base is None))
    base = property(lambda s: None if s._a.base is None else _base(s._a.base, s._dev))
    data = property(lambda s: _Ptr(s._a.ctypes.data, s._dev))
    device = property(lambda s: cuda.Device(s._dev))
    T = property(lambda s: _wrap(s._a.T, s._dev))
    mT = property(lambda s: _wrap(np.swapaxes(s._a, -1, -2), s._dev))
    real = property(lambda s: _wrap(s._a.real, s._dev))
    imag = property(lambda s: _wrap(s._a.imag, s._dev))
    __hash__ = None

    def __repr__(self):
        return "fake_cupy." + repr(self._a)

    __str__ = __repr__

    # -- host reads (each a device synchronization)
    def get(self, stream=None, order="C", out=None, blocking=True):
        if self.size:
            _sync()
        return np.array(self._a, order=order)

    def copy(self, order="C"):
        # a copy on the current device, from any device (core.pyx: ndarray.copy)
        return _wrap(np.array(self._a, order=order), _current())

    def item(self):
        return self.get().item()

    def tolist(self):
        return self.get().tolist()

    def __float__(self):
        return float(self.get())

    def __int__(self):
        return int(self.get())

    def __complex__(self):
        return complex(self.get())

    def __bool__(self):
        return bool(self.get())

    def __index__(self):
        return self.get().__index__()

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    # -- protocols, as CuPy implements them
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs + tuple(kwargs.get("out", ())):
            if not (type(x) in _SCALARS or isinstance(x, (ndarray, np.ndarray))):
                return NotImplemented
        if "out" in kwargs:
            (kwargs["out"],) = kwargs["out"]
        fn = getattr(sys.modules[__name__], ufunc.__name__, None)
        if fn is None:
            return NotImplemented
        return (fn if method == "__call__" else getattr(fn, method))(*inputs, **kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        mod = sys.modules[__name__]
        for part in func.__module__.split(".")[1:]:
            mod = getattr(mod, part, None)
        fn = getattr(mod, func.__name__, None)
        if fn is None or not all(issubclass(t, (ndarray, np.ndarray)) for t in types_):
            return NotImplemented
        return fn(*args, **kwargs)

    def __getitem__(self, idx):
        return _wrap(self._a[_index(idx, self._dev)], self._dev)

    def __setitem__(self, idx, value):
        if isinstance(value, np.ndarray) and value.ndim:
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        self._a[_index(idx, self._dev)] = _unwrap(value, self._dev, scalar_ok=True, host_ok=True)

    def __getattr__(self, name):
        if name.startswith("__") or (_REAL_METHODS is not None and name not in _REAL_METHODS):
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr, self._dev)
        return _wrapped_call(attr, self._dev, f"ndarray.{name}",
                             getattr(getattr(_real, "ndarray", None), name, None))


ndarray.__module__ = "cupy"
_SCALARS = {int, float, bool, complex} | {t for t in np.sctypeDict.values()
                                           if isinstance(t, type) and issubclass(t, np.generic)}


def _init(arr, a, dev):
    arr._a, arr._dev = a, dev
    if a.base is None:
        _account(arr, a.nbytes)
    return arr


def _wrap(r, dev=None):
    """Results as CuPy gives them: arrays (NumPy scalars as 0-d arrays) of device ``dev``."""
    dev = _current() if dev is None else dev
    if isinstance(r, np.ndarray):
        return _init(ndarray.__new__(ndarray), r, dev)
    if isinstance(r, np.generic):
        return _init(ndarray.__new__(ndarray), np.asarray(r), dev)
    if isinstance(r, tuple) and hasattr(r, "_fields"):
        return type(r)(*(_wrap(x, dev) for x in r))
    if isinstance(r, (list, tuple)):
        return type(r)(_wrap(x, dev) for x in r)
    return r


_bases: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()


def _base(a, dev):
    # One wrapper per base buffer while it is referenced, as a CuPy view's base is one array.
    w = _bases.get(id(a))
    if w is None or w._a is not a:
        w = _bases[id(a)] = _wrap(a, dev)
    return w


def _device_of(x):
    return x._dev if isinstance(x, ndarray) else None


def _unwrap(x, dev, scalar_ok=True, host_ok=False):
    """The NumPy array under ``x``; NumPy arrays refused unless ``host_ok`` (a transfer)."""
    if isinstance(x, ndarray):
        if dev is not None and x._dev != dev:
            raise ValueError(f"The device where the array resides ({x._dev}) is different "
                             f"from the current device ({dev}). Peer access is unavailable "
                             "between these devices.")
        return x._a
    if isinstance(x, np.ndarray):
        if host_ok:
            return x
        raise _unsupported(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, dev, scalar_ok, host_ok) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, dev, scalar_ok, host_ok) for k, v in x.items()}
    return x


def _index(idx, dev):
    if isinstance(idx, tuple):
        return tuple(_index(i, dev) for i in idx)
    if isinstance(idx, ndarray):
        return _unwrap(idx, dev)
    return idx        # ints, slices, None, Ellipsis, lists and NumPy arrays (converted)


def _check_signature(real_fn, what, args, kwargs):
    if real_fn is None:
        return
    try:
        sig = inspect.signature(real_fn)
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"cupy.{what}: {e}") from None


def _wrapped_call(fn, dev, what, real_fn=None, host_ok=False):
    def call(*args, **kwargs):
        _check_signature(real_fn, what, args, kwargs)
        d = _current() if dev is None else dev
        a = _unwrap(args, None if host_ok else d, host_ok=host_ok)
        k = _unwrap(kwargs, None if host_ok else d, host_ok=host_ok)
        return _wrap(fn(*a, **k), d)
    call.__name__ = what
    return call


def _arith(name):
    def op(self, other):
        if not isinstance(other, ndarray):
            if isinstance(other, np.ndarray):
                raise _unsupported(other)
            uf = getattr(other, "__array_ufunc__", _arith)
            if (uf is None if uf is not _arith else
                    getattr(self, "__array_priority__", 0) < getattr(other, "__array_priority__", 0)):
                return NotImplemented
            if type(other) not in _SCALARS:
                return getattr(np, _OPS[name])(*((other, self) if name.startswith("__r") and
                                                 name != "__rshift__" else (self, other)))
        o = _unwrap(other, self._dev)
        return _wrap(getattr(self._a, name)(o), self._dev)
    op.__name__ = name
    return op


_OPS = {}
for _n, _u in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "divide"),
               ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"),
               ("matmul", "matmul"), ("and", "bitwise_and"), ("or", "bitwise_or"),
               ("xor", "bitwise_xor"), ("lshift", "left_shift"), ("rshift", "right_shift")]:
    for _p in ("__%s__", "__r%s__", "__i%s__"):
        _OPS[_p % _n] = _u
for _n, _u in [("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
               ("eq", "equal"), ("ne", "not_equal")]:
    _OPS[f"__{_n}__"] = _u
for _name in _OPS:
    setattr(ndarray, _name, _arith(_name))
for _name in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(ndarray, _name, (lambda n: lambda s: _wrap(getattr(s._a, n)(), s._dev))(_name))


# ------------------------------------------------------------------ functions
class _Ufunc:
    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args, **kwargs):
        return _wrapped_call(self._uf, None, self.__name__)(*args, **kwargs)

    def __getattr__(self, name):
        attr = getattr(self._uf, name)
        if callable(attr):
            if name == "at":                # writes into its first argument, returns None
                def at(a, idx, b=None):
                    d = _current()
                    self._uf.at(_unwrap(a, d), _index(idx, d),
                                *(() if b is None else (_unwrap(b, d),)))
                return at
            return _wrapped_call(attr, None, f"{self.__name__}.{name}")
        return attr


_CUSTOM: dict = {}


def _custom(fn):
    _CUSTOM[fn.__name__] = fn
    return fn


@_custom
def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    if isinstance(a, ndarray) and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return _wrap(np.array(_unwrap(a, _current(), host_ok=True), dtype=dtype, order=order or "K"))


@_custom
def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if subok:
        raise NotImplementedError("subok is not supported")
    return _wrap(np.array(_unwrap(obj, _current(), host_ok=True), dtype=dtype, order=order,
                          ndmin=ndmin))


asanyarray = _custom(lambda a, dtype=None, order=None, *, copy=None, blocking=False:
                     asarray(a, dtype, order))
asanyarray.__name__ = "asanyarray"
_CUSTOM["asanyarray"] = asanyarray


@_custom
def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if isinstance(a, ndarray):
        return a.get(order=order)
    return np.asarray(a, order=order)


@_custom
def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else np


@_custom
def is_available():
    return True


_made: dict = {}     # made on first use; not in globals(), where they would shadow builtins


def __getattr__(name):
    if name in _made:
        return _made[name]
    if name.startswith("__") or (_REAL_NAMES is not None and name not in _REAL_NAMES):
        raise AttributeError(f"module 'cupy' has no attribute {name!r}")
    obj = getattr(np, name)
    if isinstance(obj, np.ufunc):
        out = _Ufunc(obj)
    elif callable(obj) and not isinstance(obj, type):
        out = _wrapped_call(obj, None, name, getattr(_real, name, None))
    else:
        out = obj                      # dtypes, scalar types, constants: NumPy's (as CuPy's)
    _made[name] = out
    return out


class _Methods:
    """An object whose methods return CuPy arrays (cupy.random.RandomState)."""

    def __init__(self, obj):
        self._obj = obj

    def __getattr__(self, name):
        return _wrapped_call(getattr(self._obj, name), None, name)


def _submodule(name):
    mod = types.ModuleType(f"cupy.{name}")
    npmod = getattr(np, name)
    names = _REAL_SUB.get(name) if _REAL_SUB else None

    def get(attr):
        if attr.startswith("__") or (names is not None and attr not in names):
            raise AttributeError(f"module 'cupy.{name}' has no attribute {attr!r}")
        fn = getattr(npmod, attr)
        if isinstance(fn, type) and name == "random":      # RandomState: makes CuPy arrays
            return lambda *a, **k: _Methods(fn(*a, **k))
        return _wrapped_call(fn, None, f"{name}.{attr}") if callable(fn) and \
            not isinstance(fn, type) else fn
    mod.__getattr__ = get
    return mod


linalg, fft, random = _submodule("linalg"), _submodule("fft"), _submodule("random")


# ------------------------------------------------------------------ cuda
class _Device:
    def __init__(self, device=None):
        self.id = _current() if device is None else int(device)
        if not 0 <= self.id < N_DEVICES:
            raise RuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def __enter__(self):
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        stack.append(_current())
        _state.device = self.id
        return self

    def __exit__(self, *exc):
        _state.device = _state.stack.pop()

    def use(self):
        _state.device = self.id
        return self

    def synchronize(self):
        _sync()

    compute_capability = property(lambda s: "90")

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class _Stream:
    null = None

    def synchronize(self):
        _sync()


class _Event:
    def __init__(self, *a, **k):
        self.t = None

    def record(self, stream=None):
        self.t = time.perf_counter()

    def synchronize(self):
        _sync()


def _elapsed(start, end):
    return (end.t - start.t) * 1e3


class _RawKernel:
    def __init__(self, host_kernel, name):
        self._k, self.name = host_kernel, name

    def __call__(self, grid, block, args, *, shared_mem=0, **kwargs):
        if not isinstance(grid, tuple) or not isinstance(block, tuple):
            raise TypeError("grid and block must be tuples")
        dev, out = _current(), []
        for i, a in enumerate(args):
            if isinstance(a, ndarray):
                if a._dev != dev:
                    raise RuntimeError(f"kernel {self.name}: argument {i} is an array of device "
                                       f"{a._dev}, launched on device {dev} "
                                       "(cudaErrorIllegalAddress on a GPU)")
                out.append(a._a)
            elif isinstance(a, np.ndarray):
                raise TypeError(f"kernel {self.name}: argument {i} is a NumPy array, which "
                                "CuPy passes by value (its bytes)")
            elif self._k._kinds[i][0] == "p" and isinstance(a, np.integer) and a == 0:
                out.append(None)              # a 64-bit zero: the null pointer
            else:
                out.append(a)
        self._k(grid, block, tuple(out), shared_mem)


class RawModule:
    """``cupy.RawModule(code=, options=, name_expressions=)`` over gpuad's host build (the
    same source, built by the host compiler; gpuad's own modules share its cache)."""

    def __init__(self, *, code=None, path=None, options=(), backend="nvrtc",
                 translate_cucomplex=False, enable_cooperative_groups=False,
                 name_expressions=None, jitify=False):
        if not isinstance(options, tuple):
            raise TypeError("options must be a tuple")
        self.code, self.options = code, options
        self.name_expressions = tuple(name_expressions or ())
        self._mod = None

    def _module(self):
        if self._mod is None:
            from gpuad import runtime
            from gpuad.runtime.host import HostModule
            code = re.sub(r"\n// gpuad include digest: \w+\n$", "", self.code)
            name = next((s.name for s in runtime.all_modules() if tuple(s.name_expressions)
                         == self.name_expressions and s.code() == code), "fake_cupy")
            dirs = tuple(o[2:] for o in self.options if o.startswith("-I"))
            opts = tuple(o for o in self.options if not o.startswith("-I"))
            self._mod = HostModule(code, options=opts, name_expressions=self.name_expressions,
                                   include_dirs=dirs, name=name)
        return self._mod

    def get_function(self, name):
        return _RawKernel(self._module().get_function(name), name)


class _Runtime:
    @staticmethod
    def getDevice():
        return _current()

    @staticmethod
    def setDevice(i):
        _state.device = int(i)

    @staticmethod
    def getDeviceCount():
        return N_DEVICES

    @staticmethod
    def runtimeGetVersion():
        return 13000

    @staticmethod
    def driverGetVersion():
        return 13000

    @staticmethod
    def deviceSynchronize():
        _sync()

    @staticmethod
    def getDeviceProperties(i):
        return {"name": b"fake_cupy device (NumPy)", "major": 9, "minor": 0,
                "totalGlobalMem": 1 << 30, "multiProcessorCount": 1}


_allocator = [_pool.malloc]


cuda = types.SimpleNamespace(
    Device=_Device, Event=_Event, get_elapsed_time=_elapsed,
    get_current_stream=lambda device_id=None: _Stream(),
    runtime=_Runtime, nvrtc=types.SimpleNamespace(getVersion=lambda: (13, 0)),
    MemoryPool=MemoryPool, get_allocator=lambda: _allocator[0],
    set_allocator=lambda a=None: _allocator.__setitem__(0, a or (lambda n: None)),
    is_available=is_available)


# ------------------------------------------------------------------ cupyx.scipy.signal
def _signal_fn(name, convolution):
    """``cupyx.scipy.signal.convolve`` / ``correlate`` as CuPy 14.2 has them
    (cupyx/scipy/signal/_signaltools.py: ``_correlate``; _signaltools_core.py:
    ``_check_conv_inputs``, ``_direct_correlate``; cupy/_math/misc.py:
    ``_choose_conv_method``), the numbers from scipy.signal with the method chosen."""
    def fn(in1, in2, mode="full", method="auto"):
        d = _current()
        for x in (in1, in2):
            if isinstance(x, np.ndarray):        # reaches a CuPy kernel: refused there
                raise _unsupported(x)
            if not isinstance(x, ndarray):       # ``in1.ndim`` on what is not an array
                raise AttributeError(f"{type(x).__name__!r} object has no attribute 'ndim'")
        if in1.ndim == in2.ndim == 0:
            return in1 * (in2 if convolution else in2.conj())
        if in1.ndim != in2.ndim:
            raise ValueError("in1 and in2 should have the same dimensionality")
        if in1.size == 0 or in2.size == 0:
            return array([], dtype=in1.dtype)
        if mode not in ("full", "same", "valid"):
            raise ValueError('acceptable modes are "valid", "same", or "full"')
        if method not in ("auto", "direct", "fft"):
            raise ValueError('acceptable methods are "auto", "direct", or "fft"')
        if method == "auto":                     # _choose_conv_method: 1-d only
            if in1.ndim != 1 or in2.ndim != 1:
                raise NotImplementedError("Only 1d inputs are supported currently")
            method = "direct" if in1.dtype.kind in "bui" or in2.dtype.kind in "bui" else "fft"
        if method == "direct" and in1.ndim != 1 and (
                in1.dtype.kind == "b" or (in1.dtype.kind == "f" and in1.dtype.itemsize < 4)):
            raise ValueError("unsupported type in SciPy")
        a, b = _unwrap(in1, d), _unwrap(in2, d)
        if mode == "valid" and any(i < j for i, j in zip(a.shape, b.shape)) and \
                any(i > j for i, j in zip(a.shape, b.shape)):
            raise ValueError('For "valid" mode, one must be at least as large as the other '
                             'in every dimension')
        import scipy.signal
        out = getattr(scipy.signal, name)(a, b, mode, method=method)
        return _wrap(np.asarray(out).astype(np.result_type(a, b), copy=False), d)
    fn.__name__ = name
    return fn


def _cupyx():
    signal = types.ModuleType("cupyx.scipy.signal")
    signal.convolve = _signal_fn("convolve", True)
    signal.correlate = _signal_fn("correlate", False)
    scipy = types.ModuleType("cupyx.scipy")
    scipy.__path__ = []
    scipy.signal = signal
    cupyx = types.ModuleType("cupyx")
    cupyx.__path__ = []
    cupyx.allow_synchronize = None
    cupyx.scipy = scipy
    return {"cupyx": cupyx, "cupyx.scipy": scipy, "cupyx.scipy.signal": signal}


def install():
    """Make ``import cupy`` (and ``cupyx``, ``cupyx.scipy.signal``) give this module;
    returns it."""
    me = sys.modules[__name__]
    sys.modules["cupy"] = me
    sys.modules.update(_cupyx())
    return me


del _n, _u, _p, _name, functools
