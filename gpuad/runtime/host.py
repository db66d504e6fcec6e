"""Run gpuad's CUDA C++ kernels on the CPU.

The same, unmodified kernel source that ``cupy.RawModule`` compiles for a GPU is compiled here by
the host C++ compiler, with ``kernels/gpuad/host.h`` force-included to supply CUDA's built-ins,
loaded with :mod:`ctypes`, and launched over NumPy arrays with RawKernel's call shape::

    mod = HostModule(code, name_expressions=("scale<double>",))
    k = mod.get_function("scale<double>")
    k((2,), (1,), (x, out, np.float64(2.0), x.size))

Builds are cached on disk (``$GPUAD_CACHE_DIR`` or ``~/.cache/gpuad/host``), keyed by everything
that reaches the compiler, and loaded only when this user built them (see "build cache"). Kernels whose source (or the ``__device__`` functions and macros they
use) contains no barrier or warp function run each virtual thread as a plain call; the others
run a block's threads as fibers that interleave at every barrier. Blocks are spread over
:func:`cpu_workers` OS threads.

Host-build-only source rewrite: ``extern __shared__ T s[];`` inside a function becomes
``T* const s = <this block's dynamic shared memory>;`` (the file on disk is not changed), so
``sizeof(s)`` is a pointer's size there.

Environment (read through :mod:`gpuad.runtime.env`, listed in README): ``CXX``,
``GPUAD_CACHE_DIR``, ``GPUAD_NUM_THREADS``, ``GPUAD_HOST_CXXFLAGS``, ``GPUAD_HOST_ISA``,
``GPUAD_FASTCALL``, ``GPUAD_FIBER_STACK_KB``, ``GPUAD_QUIET``, ``GPUAD_HOST_TIERED`` (see "tiered
builds").
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import checks, cxx, env

__all__ = ["HostModule", "HostKernel", "cpu_workers", "fastcall", "fastcall_status", "BUILD_COUNT"]

KERNELS_DIR = (Path(__file__).resolve().parent.parent / "kernels").resolve()
HOST_HEADER = KERNELS_DIR / "gpuad" / "host.h"

#: Number of compilations this process has run (cache misses).
BUILD_COUNT = 0

# C++17, the dialect NVRTC compiles the same kernels in (NVRTC_OPTIONS): C++20's headers alone
# (<atomic> with its wait/notify) took half a second of every module's compile.
# Portable code generation (no -march): the cache may be shared between machines. -O2 with the
# dynamic vectoriser cost model ran the elementwise kernels as fast as -O3 and compiled the
# engine's modules in 60% of the time (GCC 12; plain -O2 left simple selects scalar).
# Extra flags come from $GPUAD_HOST_CXXFLAGS; all flags are part of the cache key.
CXXFLAGS = (
    "-std=c++17", "-O2", "-fPIC", "-shared", "-pthread", "-fvisibility=hidden",
    "-fno-math-errno", "-fno-trapping-math", "-fno-semantic-interposition",
)
GCC_FLAGS = ("-fvect-cost-model=dynamic",)


def _vector_math() -> bool:
    # glibc >= 2.35 ships libmvec with SIMD variants of every libm function the kernels use
    # (<= 4 ulp); declared in host.h, they let elementwise loops over exp/tanh/... vectorise
    # the way NumPy's SIMD loops do, without -ffast-math's loss of inf/NaN semantics.
    libc, version = platform.libc_ver()
    if libc != "glibc" or platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        return tuple(int(p) for p in version.split(".")[:2]) >= (2, 35)
    except ValueError:
        return False


# -fno-builtin-sin/cos: see host.h (a sin and cos of one argument stay two vector calls).
VECTOR_MATH = (("-fopenmp-simd", "-DGPUAD_HOST_VECTOR_MATH=1", "-fno-builtin-sin",
                "-fno-builtin-cos"), ("-lmvec",)) \
    if _vector_math() else ((), ())
_CACHE_VERSION = "gpuad-host-3"    # 3: libraries say which kernels run as fibers
_HEADER_SLOTS = 10  # frame layout shared with host.h (F_ARGS)


def cpu_workers() -> int:
    """How many OS threads a kernel launch may use: ``$GPUAD_NUM_THREADS``, else the CPUs
    this process may run on (``os.cpu_count()`` where affinity is unknown)."""
    n = env.get("GPUAD_NUM_THREADS")
    if n is not None:
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# ------------------------------------------------------------------------------------ compiler
_NO_COMPILER = "install g++ (apt-get install g++) or set CXX to a C++17 compiler"


def _find_compiler() -> list[str] | None:
    """The compiler's argv (its executable resolved on PATH), or None; runs nothing."""
    argv = list(env.get("CXX"))
    if argv:
        exe = shutil.which(argv[0])
    else:
        exe = next(filter(None, map(shutil.which, ("g++", "c++", "clang++"))), None)
        argv = [exe]
    if exe is None:
        return None
    argv[0] = exe
    return argv


def _compiler() -> tuple[list[str], str]:
    """The compiler's argv and identity text (``--version``); a clear error if there is none
    or if it lives where another user could replace it."""
    argv = _find_compiler()
    if argv is None:
        given = env.get("CXX")
        if given:
            raise RuntimeError(f"no C++ compiler found: CXX={shlex.join(given)!r} is not an executable; "
                               + _NO_COMPILER)
        raise RuntimeError("no C++ compiler found (looked at $CXX, then g++, c++, clang++ on PATH): "
                           + _NO_COMPILER)
    return argv, _compiler_version(tuple(argv))


@functools.cache
def _compiler_version(argv: tuple[str, ...]) -> str:
    """The compiler's resolved path and ``--version`` text, once per command; refuses one
    another user could replace (an error is not cached: it is raised again next time)."""
    exe = os.path.realpath(argv[0])
    for path in (exe, os.path.dirname(exe)):
        why = _distrust(os.stat(path), "bindir" if path != exe else "exe")
        if why:
            raise RuntimeError(f"refusing to run the C++ compiler {exe}: {path} {why}; set CXX to a "
                               "compiler that only root or you can change")
    r = subprocess.run([*argv, "--version"], capture_output=True, text=True)
    return f"{exe}\n{r.stdout}"


def _compiler_identity(argv: Sequence[str]) -> str:
    """What a build depends on in the compiler, read without running it: each executable of
    the command (``ccache g++`` has two) by resolved path, size and modification time."""
    out = []
    for a in argv:
        exe = None if a.startswith("-") else shutil.which(a)
        if exe:
            st = os.stat(exe)
            a = f"{os.path.realpath(exe)}:{st.st_size}:{st.st_mtime_ns}"
        out.append(a)
    return "\n".join(out)


def _flags(version: str, argv: Sequence[str] = (), isa: str | None = None) -> list[str]:
    """The compiler's flags; ``isa`` (a key of ISAS) overrides this machine's choice
    (ahead-of-time builds) and leaves out $GPUAD_HOST_CXXFLAGS."""
    gcc = "clang" not in version.lower()
    isa_flags = _isa_flags(tuple(argv)) if isa is None else ISAS[isa]
    extra = env.get("GPUAD_HOST_CXXFLAGS") if isa is None else ()
    return [*CXXFLAGS, *(GCC_FLAGS + VECTOR_MATH[0] if gcc else ()), *isa_flags, *extra]


def _flags_key() -> str:
    """What decides the flags besides the compiler (which the build record keys), known
    without running it: $CXX as written, extra flags, the instruction set (host_isa), vector
    math, and the CPU itself for -march=native builds."""
    extra = env.get("GPUAD_HOST_CXXFLAGS")
    return repr((env.get("CXX"), extra, host_isa(), VECTOR_MATH,
                 _machine_identity(extra)))


# x86-64-v3 (AVX2, FMA, BMI2, ...) and x86-64-v4 (v3 and AVX-512 F/BW/CD/DQ/VL): NumPy picks
# its AVX2 or AVX-512 loops at run time, and so does the host build: kernels are built for the
# highest level whose every feature the CPU has (and the compiler knows). With libmvec, v3
# took exp, log and pow from 1.4-1.8x NumPy's time to 0.65-0.95x; v4 (libmvec's 8-wide double
# variants) took a further 1.2-2x off the transcendental kernels on a Sapphire Rapids Xeon
# (tanh, expm1, log1p, pow; BENCHMARKS.md). The level is part of the cache key, so a cache
# shared with an older CPU never hands it these builds. No FMA contraction follows: in ISO C++
# mode (-std=c++17) GCC and clang keep a*b+c as two roundings. GPUAD_HOST_ISA caps the level.
_X86_64_V3 = frozenset({"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"})
_X86_64_V4 = _X86_64_V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
ISAS = {"baseline": (), "x86-64-v3": ("-march=x86-64-v3",),
        "x86-64-v4": ("-march=x86-64-v4",)}    # name -> flags, lowest level first


def host_isa() -> str:
    """The instruction set this machine's kernels are built for without a compiler's say: the
    highest of "x86-64-v4", "x86-64-v3" the CPU has, capped by GPUAD_HOST_ISA, else
    "baseline"."""
    levels = list(ISAS)
    cap = env.get("GPUAD_HOST_ISA")
    top = levels.index(_cpu_isa())
    return levels[min(top, len(levels) - 1 if cap == "auto" else levels.index(cap))]


def levels_down(isa: str) -> list[str]:
    """``isa`` and every lower level of ISAS, highest first: what may serve a machine of
    level ``isa`` (a lower level's code runs there too)."""
    levels = list(ISAS)
    return levels[:levels.index(isa) + 1][::-1]


def _cpu_features() -> frozenset:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def _cpu_isa() -> str:
    """The highest level this CPU has every feature of (Linux lists in /proc/cpuinfo only the
    features the kernel enabled, AVX-512's register state included)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return "baseline"
    have = _cpu_features()
    return "x86-64-v4" if _X86_64_V4 <= have else "x86-64-v3" if _X86_64_V3 <= have else "baseline"


def _isa_flags(argv: tuple) -> tuple:
    if not argv:
        return ()
    return _level_flags(argv, host_isa())


@functools.cache
def _level_flags(argv: tuple, isa: str) -> tuple:
    """The flags of ``isa``, or of the highest lower level the compiler knows (GCC < 11 and
    clang < 12 know no x86-64-v3/v4)."""
    for level in levels_down(isa):
        if not ISAS[level]:
            return ()
        r = subprocess.run([*argv, *ISAS[level], "-x", "c++", "-E", "-"], input="",
                           capture_output=True, text=True)
        if r.returncode == 0:
            return ISAS[level]
    return ()


def _machine_identity(flags: Sequence[str]) -> str:
    # "native" code runs only where it was built: key it by the CPU, not by the word.
    if not any("native" in f for f in flags):
        return platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags", "Features", "CPU part"))]
        return platform.machine() + "".join(sorted(set(lines)))
    except OSError:
        return platform.machine() + platform.processor() + platform.node()


def _translate_options(options: Sequence[str]) -> tuple[list[str], list[str]]:
    """NVRTC options -> (include dirs, -D/-U flags). Others (-arch, --std, --use_fast_math,
    ...) have no host meaning and are ignored, though they still key the cache."""
    dirs, defs = [], []
    opts = list(options)
    i = 0
    while i < len(opts):
        o = opts[i]
        for short, long_, out in (("-I", "--include-path", dirs), ("-D", "--define-macro", defs),
                                  ("-U", "--undefine-macro", defs)):
            prefix = "" if out is dirs else short
            if o in (short, long_) and i + 1 < len(opts):
                out.append(prefix + opts[i + 1])
                i += 1
            elif o.startswith(long_ + "="):
                out.append(prefix + o[len(long_) + 1:])
            elif o.startswith(short) and len(o) > 2:
                out.append(prefix + o[2:])
            else:
                continue
            break
        i += 1
    return dirs, defs


# ------------------------------------------------------------------------------ C launch path
# A launch through ctypes costs about 1.4 us, mostly packing the frame in Python; for the
# 10-element arrays of a long chain of small operations that is most of the engine's cost.
# fastcall.cpp packs the same frame in C (about 0.2 us) and hands anything unusual back to
# HostKernel's Python path. It is a CPython extension built here on first use, like the
# kernels; without Python's headers (or with GPUAD_FASTCALL=0) launches stay on ctypes.
_FASTCALL_SOURCE = Path(__file__).resolve().parent / "fastcall.cpp"
_fastcall_state: list = []        # [module or None, status text], filled once
_fastcall_thread: list = []       # the background build, once started


_FASTCALL_LOCK = threading.Lock()
_START_LOCK = threading.Lock()


def _load_fastcall(build: bool = True):
    """The C launch path module, or None; with ``build`` False, None also while it is not built
    (and this call leaves the state unsettled)."""
    if _fastcall_state:
        return _fastcall_state[0]
    with _FASTCALL_LOCK:              # one build and one import, whichever thread asks first
        if not _fastcall_state:
            state = _build_fastcall(build)
            if state is None:
                return None
            _fastcall_state[:] = state
    return _fastcall_state[0]


def _start_fastcall() -> None:
    """Build the C launch path in a background thread (once): its compile then overlaps the
    first kernel module's, on another core."""
    with _START_LOCK:
        if not _fastcall_state and not _fastcall_thread:
            t = threading.Thread(target=_load_fastcall, name="gpuad-fastcall-build")
            _fastcall_thread.append(t)
            t.start()


def fastcall_if_ready() -> tuple[bool, object]:
    """(settled, the C launch path module or None): a cached build is loaded at once; one that
    must be compiled is built in the background, and until it is ready this says (False, None)
    so that launches take the general path meanwhile."""
    if _fastcall_state:
        return True, _fastcall_state[0]
    if not _fastcall_thread and _FASTCALL_LOCK.acquire(blocking=False):
        try:
            if not _fastcall_state:
                state = _build_fastcall(build=False)
                if state is not None:
                    _fastcall_state[:] = state
        finally:
            _FASTCALL_LOCK.release()
        if _fastcall_state:
            return True, _fastcall_state[0]
    _start_fastcall()
    return False, None


def _fastcall_flags() -> list[str]:
    """Flags of the C launch path's build; RuntimeError if Python's headers are missing."""
    import sysconfig
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").is_file():
        raise RuntimeError(f"off: Python's headers are not installed ({include}/Python.h; "
                           "apt-get install python3-dev)")
    return ["-std=c++17", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
            f"-I{include}", f"-I{np.get_include()}"]


def _import_fastcall(load: str):
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.ExtensionFileLoader("gpuad_fastcall", load)
    spec = importlib.util.spec_from_file_location("gpuad_fastcall", load, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def _build_fastcall(build: bool = True):
    if not env.get("GPUAD_FASTCALL"):
        return [None, "off (GPUAD_FASTCALL=0)"]
    if env.get("GPUAD_PREBUILT"):
        found = shipped_fastcall()
        if found is not None:
            try:
                return [_import_fastcall(found[1]), f"on (prebuilt: {found[0]})"]
            except ImportError:       # built against a NumPy this one does not accept
                pass
    mod, status = None, ""
    try:
        flags = _fastcall_flags()
        path, load, _ = _cached_build(
            "gpuad_fastcall", (_CACHE_VERSION, _FASTCALL_SOURCE.read_text(), repr(env.get("CXX")),
                               repr(flags), np.__version__, sys.implementation.cache_tag or "",
                               sys.version, platform.machine()),
            "gpuad/runtime/fastcall.cpp",
            lambda argv, version, src, out: [*argv, *flags, str(_FASTCALL_SOURCE), "-o", str(out)],
            build=build)
        mod = _import_fastcall(load)
        status = f"on ({path})"
    except _NotCached:
        return None
    except Exception as e:   # any failure leaves the (slower) ctypes path, and says why
        why = " ".join(str(e).split())[:400]
        mod, status = None, why if why.startswith("off") else f"off: {why}"
    return [mod, status]


def build_fastcall(out_dir: Path) -> Path:
    """Compile the C launch path into ``out_dir`` (an ahead-of-time build); its path."""
    argv, _ = _compiler()
    out = Path(out_dir) / f"gpuad_fastcall.{sys.implementation.cache_tag}.so"
    _run_compiler([*argv, *_fastcall_flags(), str(_FASTCALL_SOURCE), "-o", str(out)],
                  "gpuad/runtime/fastcall.cpp", quiet=True)
    return out


def fastcall():
    """The C launch path module (``fastcall.cpp``), or None where it is unavailable."""
    return _load_fastcall()


def fastcall_status() -> str:
    """Whether host launches pack their arguments in C (``fastcall.cpp``), and if not, why."""
    _load_fastcall()
    return _fastcall_state[1]


# ------------------------------------------------------------------------------ source rewriting
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]([^>"]+)[>"]', re.M)
_EXTERN_SHARED = re.compile(r"\bextern\b([^;{}]*?\b__shared__\b[^;{}]*?)\[\s*\]\s*;")
_ATTRIBUTE = re.compile(r"\b(?:__shared__|__align__|alignas|__attribute__)\b\s*(\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))?")


def _rewrite_dynamic_shared(code: str, stripped: str, bodies, module: str) -> str:
    out, last = [], 0
    for m in _EXTERN_SHARED.finditer(stripped):
        if not any(a < m.start() < b for a, b in bodies):
            raise RuntimeError(
                f"CUDA module '{module}': 'extern __shared__' at namespace scope is not supported on "
                "the CPU; declare the dynamic shared array inside the kernel")
        decl = _ATTRIBUTE.sub(" ", code[m.start(1):m.end(1)]).strip()
        name = cxx.IDENT.findall(decl)[-1]
        ctype = decl[:decl.rindex(name)].strip()
        text = f"{ctype}* const {name} = reinterpret_cast<{ctype}*>(::gpuad_host::dynamic_shared());"
        out += [code[last:m.start()], text, "\n" * code.count("\n", m.start(), m.end())]
        last = m.end()
    return "".join(out) + code[last:]


def _headers(code: str, dirs: Sequence[Path]) -> dict[str, str]:
    """Text of every header reachable by #include through dirs (system headers are skipped)."""
    found: dict[Path, tuple[str, str]] = {}
    todo: list[tuple[str, Path | None]] = [(code, None)]
    while todo:
        text, here = todo.pop()
        for inc in _INCLUDE.findall(text):
            for d in ([here] if here else []) + list(dirs):
                p = d / inc
                if p.is_file():
                    rp = p.resolve()
                    if rp not in found:
                        found[rp] = (inc, rp.read_text(errors="replace"))
                        todo.append((found[rp][1], rp.parent))
                    break
    return {f"{inc}@{i}": text for i, (inc, text) in enumerate(sorted(found.values()))}


# ---------------------------------------------------------------------------------- arguments
class _ParamInfo(ctypes.Structure):
    _fields_ = [("type", ctypes.c_char_p), ("size", ctypes.c_longlong), ("kind", ctypes.c_char),
                ("pointee_kind", ctypes.c_char), ("pointee_const", ctypes.c_char),
                ("pointee_size", ctypes.c_longlong)]


def _array_data_offset() -> int:
    """Offset of the data pointer inside a NumPy array object (NumPy's stable C ABI, directly
    after the object header), or -1 when the id()-is-address shortcut is not safe here."""
    if sys.implementation.name != "cpython":
        return -1
    off = object.__basicsize__
    probes = (np.empty(3), np.arange(7.0)[2:], np.zeros((2, 3), np.float32).T)
    ok = all(ctypes.c_void_p.from_address(id(a) + off).value == a.ctypes.data for a in probes)
    return off if ok else -1


_PTR_OFFSET = _array_data_offset()

# Codes for how one argument is written into its 8-byte frame slot.
(_ARRAY_ID, _NULL, _F64, _F32, _INT, _UINT64, _BOOL, _BYTES, _ARRAY_PTR) = range(9)
_NUMPY_SCALARS = {t for t in set(np.sctypeDict.values()) if issubclass(t, np.generic)}


def _accepted(kind: str, size: int) -> dict[type, int]:
    if kind == "p":
        return {np.ndarray: _ARRAY_ID if _PTR_OFFSET >= 0 else _ARRAY_PTR, type(None): _NULL}
    if kind == "b":
        return {bool: _BOOL, np.bool_: _BOOL}
    acc: dict[type, int] = {}
    for t in _NUMPY_SCALARS:
        d = np.dtype(t)
        if d.itemsize != size or d.kind in "OSUMm":
            continue
        if kind == "f" and d.kind == "f":
            acc[t] = _F64 if size == 8 else _F32 if size == 4 else _BYTES
        elif kind in "iu" and d.kind in "iu":
            acc[t] = _UINT64 if size == 8 and (kind == "u" or d.kind == "u") else _INT
        elif kind == "o":
            acc[t] = _BYTES
    if kind == "f" and size == 8:
        acc[float] = _F64
    if kind in "iu" and size == 8:
        acc[int] = _UINT64 if kind == "u" else _INT
    return acc


# NumPy's array flags (NPY_ARRAY_*, stable ABI): what an array handed over as a pointer to its
# first element must have. The kernel ignores strides, so it must be C-contiguous (a broadcast
# view is not), and it may write only through writeable memory.
_C_CONTIGUOUS, _ALIGNED, _WRITEABLE = 0x1, 0x100, 0x400


class HostKernel:
    """One kernel of a :class:`HostModule`, called like ``cupy.RawKernel``.

    ``kernel(grid, block, args, shared_mem=0)``: ``grid``/``block`` are ints or tuples of up to
    three ints within CUDA's limits; ``args`` holds NumPy arrays (passed as pointers to their
    data), ``None`` (null pointer), NumPy scalars (by value), Python ``int`` (as ``long
    long``), ``float`` (as ``double``) and ``bool``. Each argument is checked against the
    kernel's C++ parameter: a pointer takes None or a C-contiguous, aligned array of a
    matching element type, writeable unless the pointee is const; a scalar takes a scalar of
    the same size and kind. ``shared_mem`` bytes (at most ``checks.MAX_SHARED_MEM``) back
    ``extern __shared__`` arrays. Nothing runs unless every check passes.

    Attributes: ``name``, ``param_types`` (C++ spellings), ``uses_barriers`` (the block's
    threads run as fibers).
    """

    def __init__(self, module: "HostModule", name: str, index: int, uses_barriers: bool):
        self.name = name
        self.uses_barriers = uses_barriers
        self._module = module
        lib = module._lib
        get = lib[f"gpuad_params_{index}"]
        get.restype = ctypes.POINTER(_ParamInfo)
        get.argtypes = [ctypes.POINTER(ctypes.c_int)]
        n = ctypes.c_int()
        info = get(ctypes.byref(n))
        params = [info[i] for i in range(n.value)]
        self.param_types = [p.type.decode().rsplit("T = ", 1)[-1].rstrip("]").strip() for p in params]
        self._kinds = [(p.kind.decode(), p.size) for p in params]
        self._accept = tuple(_accepted(k, s) for k, s in self._kinds)
        self._dtypes = tuple(checks.pointee_dtypes(p.pointee_kind.decode(), p.pointee_size)
                             if p.kind == b"p" else None for p in params)
        self._need = tuple(_C_CONTIGUOUS | _ALIGNED | (0 if p.pointee_const != b"\0" else _WRITEABLE)
                           if p.kind == b"p" else 0 for p in params)
        self._nargs = len(params)
        self._mode = 1 if uses_barriers else 0
        self._index = index
        # (the library's launcher, the library): read together by a launch, replaced together
        # by _retarget when a tiered module's optimised library arrives.
        self._target = self._target_in(lib)
        self._frames: list = []
        fast = _load_fastcall()
        #: The fastest callable for a launch, same signature as the kernel: the C launch
        #: path when it is available, else the Python one.
        self.call = self._call_py
        if fast is not None:
            self.call = fast.launcher(
                ctypes.cast(self._target[0], ctypes.c_void_p).value,
                tuple({t: (_ARRAY_PTR if c == _ARRAY_ID else c) for t, c in acc.items()}
                      for acc in self._accept),
                tuple(self._dtypes),
                tuple(min(d, key=lambda t: t.str) if d else None for d in self._dtypes),
                self._need, self._mode, module.workers, self._call_py,
                functools.partial(_raise_from, lib))

    def _target_in(self, lib):
        launch = lib[f"gpuad_launch_{self._index}"]
        launch.argtypes = [ctypes.c_void_p]
        launch.restype = ctypes.c_int
        return launch, lib

    def _retarget(self, lib) -> None:
        """Launch from ``lib`` from now on (the same kernel, built again: same parameters and
        barriers). Launches running in the old library finish there; it stays loaded."""
        target = self._target_in(lib)
        if self.call is not self._call_py:
            self.call.retarget(ctypes.cast(target[0], ctypes.c_void_p).value,
                               functools.partial(_raise_from, lib))
        self._target = target

    def __repr__(self):
        return f"<HostKernel {self.name}({', '.join(self.param_types)})>"

    def _frame(self):
        buf = (ctypes.c_longlong * (_HEADER_SLOTS + self._nargs))()
        raw = memoryview(buf).cast("B")
        q = raw.cast("q")
        q[7], q[8], q[9] = self._mode, _PTR_OFFSET, self._module.workers
        return [ctypes.addressof(buf), q, raw.cast("Q"), raw.cast("d"), raw.cast("f"), [], buf]

    def __call__(self, grid, block, args, shared_mem=0):
        return self.call(grid, block, args, shared_mem)

    def _call_py(self, grid, block, args, shared_mem=0):
        frames = self._frames
        fr = frames.pop() if frames else self._frame()
        launch, lib = self._target
        try:
            q = fr[1]
            g = grid[0] if type(grid) is tuple and len(grid) == 1 else grid
            b = block[0] if type(block) is tuple and len(block) == 1 else block
            if (type(g) is int and type(b) is int and type(shared_mem) is int and 0 < g <= checks.MAX_GRID_X
                    and 0 < b <= checks.MAX_BLOCK_XY and 0 <= shared_mem <= checks.MAX_SHARED_MEM):
                q[0], q[1], q[2], q[3], q[4], q[5], q[6] = g, 1, 1, b, 1, 1, shared_mem
            else:
                (q[0], q[1], q[2]), (q[3], q[4], q[5]), q[6] = checks.launch_config(
                    self.name, grid, block, shared_mem)
            if len(args) != self._nargs:
                raise TypeError(f"kernel '{self.name}' takes {self._nargs} arguments "
                                f"({', '.join(self.param_types)}), got {len(args)}")
            i = _HEADER_SLOTS
            for a, acc, dts, need in zip(args, self._accept, self._dtypes, self._need):
                c = acc.get(type(a))
                if c is None:
                    c = self._resolve(i - _HEADER_SLOTS, a)
                if c == _ARRAY_ID:
                    if (dts is not None and a.dtype not in dts) or a.flags.num & need != need:
                        raise self._array_error(i - _HEADER_SLOTS, a)
                    q[i] = id(a)
                elif c == _F64:
                    fr[3][i] = a
                elif c == _INT:
                    q[i] = a
                elif c == _NULL:
                    q[i] = 0
                elif c == _F32:
                    fr[4][2 * i] = a
                elif c == _BOOL:
                    q[i] = 1 if a else 0
                elif c == _UINT64:
                    fr[2][i] = int(a) & 0xFFFFFFFFFFFFFFFF
                elif c == _ARRAY_PTR:
                    if (dts is not None and a.dtype not in dts) or a.flags.num & need != need:
                        raise self._array_error(i - _HEADER_SLOTS, a)
                    q[i] = a.ctypes.data
                else:
                    self._put_bytes(fr, i, a)
                i += 1
            if launch(fr[0]):
                _raise_from(lib)
        finally:
            fr[5].clear()
            frames.append(fr)

    def _param(self, index: int) -> str:
        """Parameter ``index`` as C++ spells it, with its name where the source gives one."""
        name = self._module._param_names(self.name, self._nargs)[index]
        return f"{self.param_types[index]} {name}".strip()

    def _resolve(self, index: int, a) -> int:
        """Slow path: subclasses of accepted types, else a TypeError naming the mismatch."""
        kind, size = self._kinds[index]
        for t, code in self._accept[index].items():
            if isinstance(a, t) and not (t is int and isinstance(a, bool)):
                return code
        expected = f"{self.param_types[index]} ({size}-byte {checks.KINDS[kind]})"
        if kind == "p":
            expected = f"{self.param_types[index]} (pass a NumPy array or None)"
        raise TypeError(f"kernel '{self.name}' argument {index} ({self._param(index)}): expected {expected}, "
                        f"got {checks.describe(a)}")

    def _array_error(self, index: int, a) -> Exception:
        if self._dtypes[index] is not None and a.dtype not in self._dtypes[index]:
            return TypeError(f"kernel '{self.name}' argument {index} ({self._param(index)}): expected "
                             f"{self.param_types[index]}, got {checks.describe(a)} (element type does not match)")
        what, fix = checks.array_problem(a, writes=bool(self._need[index] & _WRITEABLE))
        return checks.argument_error(ValueError, self.name, index, self._param(index), what, fix)

    @staticmethod
    def _put_bytes(fr, i: int, a) -> None:
        b = np.asarray(a).tobytes()
        if len(b) <= 8:
            fr[1][i] = int.from_bytes(b, "little", signed=True)
        else:
            buf = ctypes.create_string_buffer(b, len(b))
            fr[5].append(buf)
            fr[1][i] = ctypes.addressof(buf)


def _raise_from(lib):
    """Raise the error of the launch that just failed in library ``lib`` on this thread."""
    raise RuntimeError(lib.gpuad_error_message().decode(errors="replace"))


class _KernelNotFound(KeyError):
    def __str__(self):
        return str(self.args[0])


class _Unit:
    """What one host build compiles: the source as the host sees it (dynamic shared memory
    rewritten, launchers appended), its headers and flags, the kernels it exports."""

    def __init__(self, code: str, options, name_expressions, include_dirs, name: str):
        self.name, self.options, self.name_expressions = name, tuple(options), list(name_expressions)
        opt_dirs, self.defines = _translate_options(options)
        self.dirs = [KERNELS_DIR, *map(Path, include_dirs), *map(Path, opt_dirs)]
        stripped = cxx.strip(code)
        plain, bodies = cxx.scan_kernels(stripped)
        self.code = code = _rewrite_dynamic_shared(code, stripped, bodies, name)
        self.headers = _headers(code, self.dirs)
        self._stripped = stripped

        entries: dict[str, int] = {}
        exprs: list[str] = []
        qualified = [(q, q) for q in plain.values() if q not in plain]
        for key, expr in [*plain.items(), *qualified, *((e, e) for e in self.name_expressions)]:
            if key in entries:
                continue
            if expr in exprs:
                entries[key] = exprs.index(expr)
            else:
                entries[key] = len(exprs)
                exprs.append(expr)
        self.entries = entries
        self._exprs = exprs
        self.safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60] or "module"
        self.what = f"CUDA module '{name}'"

    @functools.cached_property
    def source(self) -> str:
        """The translation unit the compiler gets: the source and its launchers."""
        return (f'#line 1 "{self.safe}.cu"\n{self.code}\n#line 1 "<gpuad host launchers for {self.safe}>"\n'
                + _launchers(self._exprs, self.entries, self.barriers))

    @functools.cached_property
    def barriers(self) -> dict[str, bool]:
        """Entry -> whether its kernel reaches a barrier or warp function (runs as fibers).
        Worked out for a build only, which records it in the library (``gpuad_fibers_<i>``):
        a warm start finds its modules by key and reads no header."""
        macros = "".join(f"#define {d[2:].replace('=', ' ', 1)}\n" for d in self.defines if d.startswith("-D"))
        names = cxx.barrier_names([self._stripped, macros, *map(cxx.strip, self.headers.values())])
        return {k: cxx.base_name(k) in names for k in self.entries}

    def _common(self) -> tuple:
        return (_CACHE_VERSION, self.code, repr(sorted(self.headers.items())), repr(self.options),
                repr(self.name_expressions))

    def parts(self) -> tuple:
        """The cache key: everything that reaches the compiler but the compiler itself."""
        return (*self._common(), _flags_key(), HOST_HEADER.read_text(), sys.implementation.cache_tag or "",
                str(ctypes.sizeof(ctypes.c_void_p)), sys.byteorder)

    def portable_key(self, isa: str) -> str:
        """The key of a build for ``isa`` with no user flags: what a prebuilt library is
        shipped under (the compiler, Python and CXX play no part)."""
        return _cache_name("prebuilt", (*self._common(), HOST_HEADER.read_text(), repr(VECTOR_MATH), isa,
                                        platform.machine(), str(ctypes.sizeof(ctypes.c_void_p)),
                                        sys.byteorder)).rsplit("-", 1)[1]


def _prebuilt_library(unit: _Unit):
    """(path, load path) of the prebuilt library shipped for ``unit`` on this machine, or None:
    none is shipped, it does not match (sources, ISA, platform), GPUAD_PREBUILT=0, or
    GPUAD_HOST_CXXFLAGS asks for other flags. A wheel shipped without this CPU's level (say
    baseline and x86-64-v3 only, on an AVX-512 CPU) serves its highest lower level."""
    if not env.get("GPUAD_PREBUILT") or env.get("GPUAD_HOST_CXXFLAGS"):
        return None
    for isa in levels_down(host_isa()):     # this machine's level, else the highest lower one
        found = shipped_library(unit.name, unit.portable_key(isa))
        if found is not None:
            return found
    return None


def build_unit(unit: _Unit, isa: str, out_dir: Path) -> Path:
    """Compile ``unit`` for ``isa`` into ``out_dir`` (an ahead-of-time build: no cache, no
    loading); returns the library's path."""
    argv, version = _compiler()
    out = Path(out_dir) / f"{unit.safe}.{isa}.so"
    with tempfile.TemporaryDirectory(prefix="gpuad-prebuild-") as tmp:
        src = Path(tmp) / "module.cpp"
        src.write_text(unit.source)
        _run_compiler(_command(unit.dirs, unit.defines, argv, version, src, out, isa=isa), unit.what,
                      quiet=True)
    return out


class HostModule:
    """CPU build of a CUDA C++ source, mirroring ``cupy.RawModule(code=, options=,
    name_expressions=)``.

    Non-template ``__global__`` kernels (``extern "C"`` or not) are found in the source;
    template instantiations must be listed in ``name_expressions`` (e.g. ``"unary_fwd<Exp,
    double>"``) and are fetched by that exact string. ``options`` are NVRTC options: ``-I`` and
    ``-D``/``-U`` are honoured, the rest only key the cache. ``include_dirs`` are searched after
    gpuad's ``kernels/`` directory.

    A library a wheel ships prebuilt for this source (``gpuad/runtime/prebuilt.py``) is used
    when it checks out; else the cached build, else a new one (with ``build=False``,
    ``_NotCached`` is raised instead of compiling).

    Attributes: ``name``, ``library_path`` (the shared library), ``built`` (True when this
    instance compiled it), ``prebuilt`` (True when it is shipped in the installed package),
    ``kernel_names``, ``workers`` (OS threads a launch may use).
    """

    def __init__(self, code: str, options: tuple = (), name_expressions: Sequence[str] = (), *,
                 include_dirs: Sequence[str | Path] = (), name: str = "module", build: bool = True,
                 tiered: bool = False):
        global BUILD_COUNT
        self.name = name
        self.workers = cpu_workers()
        unit = _Unit(code, options, name_expressions, include_dirs, name)
        self._entries, self._code = unit.entries, unit.code
        self._signatures: dict | None = None
        self._kernels: dict[str, HostKernel] = {}
        self._swap_lock = threading.Lock()
        self._early = None
        found = _prebuilt_library(unit)
        #: True when the library is one shipped prebuilt in the installed package.
        self.prebuilt = found is not None
        #: True while this module runs its quick (-O0) build, its optimised one being compiled
        #: in the background (``tiered``; see "tiered builds").
        self.quick = False
        if found is not None:
            (self.library_path, load), self.built = found, False
        else:
            command = functools.partial(_command, unit.dirs, unit.defines)
            tier = tiered and build and env.get("GPUAD_HOST_TIERED")
            try:
                self.library_path, load, self.built = _cached_build(
                    unit.safe, unit.parts(), unit.what, command, lambda: unit.source,
                    build=build and not tier)
            except _NotCached:
                if not tier:
                    raise
                try:
                    found = _quick_build(unit, command, self)
                except RuntimeError:     # it failed: the optimised build names the error
                    found = None
                if found is None:        # or no background build is possible: the optimised one now
                    self.library_path, load, self.built = _cached_build(
                        unit.safe, unit.parts(), unit.what, command, lambda: unit.source)
                else:
                    (self.library_path, load), self.built, self.quick = found, True, True
        BUILD_COUNT += self.built
        lib = self._open(load)
        with self._swap_lock:
            self._lib = lib
            early, self._early = self._early, None
        if early is not None:            # the optimised build came before the quick one
            self._adopt(*early)

    @property
    def kernel_names(self) -> list[str]:
        """Names ``get_function`` accepts."""
        return list(self._entries)

    @staticmethod
    def _open(load: str):
        lib = ctypes.CDLL(load)
        lib.gpuad_error_message.restype = ctypes.c_char_p
        lib.gpuad_set_fiber_stack_kb(ctypes.c_longlong(env.get("GPUAD_FIBER_STACK_KB")))
        return lib

    def get_function(self, name: str) -> HostKernel:
        """The kernel called ``name`` (a plain kernel name or one of the name expressions)."""
        k = self._kernels.get(name)
        if k is None:
            if name not in self._entries:
                raise _KernelNotFound(f"no kernel {name!r} in CUDA module '{self.name}'; it has: "
                                      f"{', '.join(self._entries) or '(none)'} (template instantiations "
                                      "must be listed in name_expressions)")
            i = self._entries[name]
            with self._swap_lock:       # made from the library that _adopt leaves in place
                k = self._kernels.get(name)
                if k is None:
                    k = self._kernels[name] = HostKernel(self, name, i, bool(self._lib[f"gpuad_fibers_{i}"]()))
        return k

    def _adopt(self, path: Path, load: str) -> None:
        """Run the optimised build of a quick module from now on: the library at ``load``
        (checked and loaded like any cached one), for kernels already handed out too."""
        lib = self._open(load)
        with self._swap_lock:
            if not hasattr(self, "_lib"):       # __init__ has not loaded the quick one yet
                self._early = (path, load)
                return
            for k in self._kernels.values():
                k._retarget(lib)
            self._lib, self.library_path, self.quick = lib, path, False

    def _error(self) -> str:
        return self._lib.gpuad_error_message().decode(errors="replace")

    def _param_names(self, kernel: str, n: int) -> list[str]:
        """The parameter names the source gives kernel ``kernel`` (for error messages only, so
        read when first needed), or blanks."""
        if self._signatures is None:
            self._signatures = cxx.kernel_signatures(self._code)
        sig = self._signatures.get(cxx.base_name(kernel))
        return [p.name for p in sig.params] if sig is not None and len(sig.params) == n else [""] * n

    def __repr__(self):
        return f"<HostModule {self.name!r} {self.library_path}>"


# ------------------------------------------------------------------------------ tiered builds
# As a JIT starts in its interpreter: a module of the engine that is not cached is first built
# quickly (-O0: 0.6-0.8 s of one core for an op's forward and VJP kernels, against 1.0-1.3 s
# at -O2, whose vectorised loops are most of that) into this process's private directory, and
# used at once; its optimised build (the same command at -O2, the same key) is handed to one
# background process per process (``_optimizer_main``, niced), which compiles it into the
# cache, where every later process finds it. When it is there this process loads it (checked
# like any cached library) and retargets the module's kernels to it (HostKernel._retarget);
# the quick library stays loaded, for launches already running in it. The background
# process outlives this one if it must: a short program exits without waiting, and the cache
# still gets the build. Only optimised builds go into the cache. Arithmetic gives the same
# bits in both builds; a libm function may differ in its last bits (the optimised loops call
# libmvec's SIMD variants, within 4 ulp), as the vectorised loop and its scalar remainder do.
# Quick kernels are slower while they run (sin over 10^6 float64: 14 ms against 2.6 ms); the
# quick library keeps its idle worker threads, if a large launch started them.
# Opt-in (GPUAD_HOST_TIERED=1): by default the optimised library is built at once, so a
# process's results keep the same bits throughout and no process outlives it; HostModules
# not asked to be ``tiered`` (only the engine's declared modules are, runtime._build) always.
_QUICK_LOCK = threading.Lock()
_quick_dir: list = []             # this process's private directory of quick builds
_optimizer: dict = {}             # "proc", "jobs" (a queue), "pending" {stem: [job, (module, prefix, parts)...]}


def _quick_command(command, argv, version, src, out) -> list[str]:
    cmd = command(argv, version, src, out)
    i = cmd.index("-include")
    # -O0 after -O2 and any user flags: it wins. gold links a module in 0.02 s of CPU where
    # ld.bfd takes 0.07-0.1 s (GCC 12, binutils 2.40); only the quick build uses it, so the
    # cached library is the same as a build that is not tiered.
    return [*cmd[:i], "-O0", *(("-fuse-ld=gold",) if _gold(version) else ()), *cmd[i:]]


@functools.cache
def _gold(version: str) -> bool:
    return "clang" not in version.lower() and shutil.which("ld.gold") is not None


def _quick_build(unit: _Unit, command, module: "HostModule"):
    """(path, load path) of ``unit``'s quick build, its optimised build handed to the
    background process; None where that cannot be done (the cache is not writable, no
    background process can run): then the caller builds the optimised library itself."""
    main = _main_cache()
    if main is None or not os.access(main.where, os.W_OK | os.X_OK):
        return None
    argv, version = _compiler()
    stem = _cache_name(unit.safe, unit.parts())
    job = {"cache": str(main.path), "stem": stem, "argv": argv, "what": unit.what,
           "command": command(argv, version, _SRC, _OUT), "source": unit.source}
    if not _submit(job, (module, unit.safe, unit.parts())):
        return None
    _start_fastcall()
    with _QUICK_LOCK:
        if not _quick_dir:
            path = Path(tempfile.mkdtemp(prefix="gpuad-quick-"))
            atexit.register(shutil.rmtree, path, True)
            _quick_dir.append(_CacheDir(path, private=True))
    d = _quick_dir[0]
    rec = d.build(stem, argv, functools.partial(_quick_command, command, argv, version),
                  lambda: unit.source, unit.what)
    return d.path / rec["file"], f"{d.where}/{rec['file']}"


_SRC, _OUT = "\0src", "\0out"     # where a job's command names its source and library
_OPTIMIZER_BOOT = (
    "import sys, types\n"
    "if sys.path and sys.path[0] in ('', '.'): del sys.path[0]\n"
    "pkg = types.ModuleType('gpuad'); pkg.__path__ = [sys.argv[1]]; sys.modules['gpuad'] = pkg\n"
    "from gpuad.runtime import host\n"
    "host._optimizer_main()\n")


def _submit(job: dict, waiter: tuple) -> bool:
    """Hand ``job`` to the background process (started on first use); ``waiter`` (the module,
    its cache prefix and key) adopts the result. False if no background process can run."""
    import queue
    with _QUICK_LOCK:
        if "proc" not in _optimizer:
            try:
                # Its own session: ^C in a terminal stops this process, not the build that
                # the next one would otherwise repeat. Only gpuad.runtime is imported there
                # (gpuad's package is a stand-in), so it starts in ~0.2 s.
                proc = subprocess.Popen(
                    [sys.executable, "-c", _OPTIMIZER_BOOT, str(Path(__file__).resolve().parent.parent)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                    start_new_session=True, text=True)
            except OSError:
                _optimizer["proc"] = None
                return False
            _optimizer.update(proc=proc, jobs=queue.Queue(), pending={}, done=threading.Condition(_QUICK_LOCK))
            threading.Thread(target=_optimizer_writer, args=(proc, _optimizer["jobs"]),
                             name="gpuad-optimizer-jobs", daemon=True).start()
            atexit.register(_hand_over, _optimizer["jobs"])
            threading.Thread(target=_optimizer_reader, args=(proc,), name="gpuad-optimizer-results",
                             daemon=True).start()
        if _optimizer["proc"] is None or _optimizer.get("gone"):
            return False
        waiting = _optimizer["pending"].setdefault(job["stem"], [job])
        waiting.append(waiter)
        if len(waiting) == 2:
            _optimizer["jobs"].put(json.dumps(job) + "\n")
    return True


def _optimizer_writer(proc, jobs) -> None:
    # A job (the module's source, ~20 kB) would block a caller while the pipe is full.
    try:
        while True:
            job = jobs.get()
            try:
                proc.stdin.write(job)
                proc.stdin.flush()
            finally:
                jobs.task_done()
    except (OSError, ValueError):
        pass


def _hand_over(jobs, timeout: float = 10.0) -> None:
    """At exit: let the jobs this process submitted reach the background process (which goes
    on alone), not waiting for their builds."""
    import time
    end = time.monotonic() + timeout
    while jobs.unfinished_tasks and not _optimizer.get("gone") and time.monotonic() < end:
        time.sleep(0.005)


def _optimizer_reader(proc) -> None:
    for line in proc.stdout:
        try:
            res = json.loads(line)
        except ValueError:
            continue
        _adopt_all(res.get("stem"), bool(res.get("ok")))
    # It has gone before answering every job (it could not start: another PYTHONPATH, a
    # crash): this thread builds what is left, lest every process run quick builds forever,
    # and later modules are built optimised at once (_submit says no).
    with _QUICK_LOCK:
        _optimizer["gone"] = True
    while True:
        with _QUICK_LOCK:
            job = next(iter(_optimizer["pending"].values()), [None])[0]
        if job is None:
            return
        _adopt_all(job["stem"], _run_job(job)["ok"])


def _adopt_all(stem, ok: bool) -> None:
    with _QUICK_LOCK:
        _, *waiters = _optimizer["pending"].pop(stem, [None])
    for module, prefix, parts in waiters if ok else ():
        with contextlib.suppress(Exception):   # not there or not trusted: keep the quick one
            path, load, _ = _cached_build(prefix, parts, module.name, None, build=False)
            module._adopt(path, load)
    with _QUICK_LOCK:
        _optimizer["done"].notify_all()


def _run_job(job: dict) -> dict:
    """Compile a tiered build's optimised library into the cache its job names, unless it is
    there; {"stem", "ok"} and the "error" if it failed."""
    try:
        d = _CacheDir(Path(job["cache"]))
        rec, _ = d.find(job["stem"])
        if rec is None or rec["compiler"] != _compiler_identity(job["argv"]):
            cmd = job["command"]
            d.build(job["stem"], job["argv"],
                    lambda src, out: [str(src) if a == _SRC else str(out) if a == _OUT else a for a in cmd],
                    lambda: job["source"], job["what"])
    except Exception as e:
        return {"stem": job["stem"], "ok": False, "error": str(e)[:2000]}
    return {"stem": job["stem"], "ok": True}


def wait_optimized(timeout: float | None = None) -> bool:
    """Wait until the optimised builds of this process's quick modules are in the cache and in
    use (tiered builds); False if some are still compiling after ``timeout`` seconds."""
    with _QUICK_LOCK:
        if not _optimizer.get("proc"):
            return True
        return _optimizer["done"].wait_for(lambda: not _optimizer["pending"], timeout)


def _optimizer_main() -> None:
    """The background process of tiered builds: compiles each job (a JSON line on stdin)
    into the cache it names, one at a time, and answers a JSON line. It goes on when the
    process that started it has gone (its stdin closed), until the jobs it has are done."""
    import queue
    # Below the process that started it, which waits for its quick builds: its own nice value,
    # and its session's (Linux autogroups share the CPU between sessions whatever a process's
    # nice value is; making its own group nicer needs no privilege). Nice 5, not 10: about a
    # quarter of a busy core's share, where 10 (a tenth) left builds waiting for minutes on a
    # loaded machine, and with them every process that starts meanwhile.
    with contextlib.suppress(OSError):
        os.nice(5)
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as f:
        f.write("5")
    jobs: queue.Queue = queue.Queue()

    def read():
        for line in sys.stdin:
            jobs.put(json.loads(line))
        jobs.put(None)
    threading.Thread(target=read, daemon=True).start()
    while (job := jobs.get()) is not None:
        res = _run_job(job)
        with contextlib.suppress(OSError, ValueError):
            print(json.dumps(res), flush=True)


def _launchers(exprs: list[str], entries: dict[str, int], barriers: dict[str, bool]) -> str:
    names = {i: k for k, i in reversed(list(entries.items()))}
    out = []
    for i, expr in enumerate(exprs):
        label = names[i].replace("\\", "\\\\").replace('"', '\\"')
        out.append(
            f'extern "C" __attribute__((visibility("default"))) int gpuad_fibers_{i}() '
            f"{{ return {int(barriers[names[i]])}; }}\n")
        out.append(
            f"static constexpr auto gpuad_kernel_{i} = &{expr};\n"
            f'extern "C" __attribute__((visibility("default"))) int gpuad_launch_{i}(const long long* f) '
            f'{{ return ::gpuad_host::launch<gpuad_kernel_{i}>(f, "{label}"); }}\n'
            f'extern "C" __attribute__((visibility("default"))) const ::gpuad_host::ParamInfo* '
            f"gpuad_params_{i}(int* n) {{ return ::gpuad_host::params(gpuad_kernel_{i}, n); }}\n")
    return "".join(out)


def _command(dirs: list[Path], defines: list[str], argv: list[str], version: str, src: Path, out: Path,
             isa: str | None = None):
    flags = _flags(version, argv, isa)
    return [*argv, *flags, "-include", str(HOST_HEADER), *(f"-I{d}" for d in dirs), *defines,
            "-x", "c++", str(src), "-o", str(out),
            *(VECTOR_MATH[1] if "-DGPUAD_HOST_VECTOR_MATH=1" in flags else ())]


# ------------------------------------------------------------------------------ build cache
# A cached library runs code in this process the moment it is loaded (its constructors), so
# nothing is loaded that this user did not build: the cache is a directory of this user's
# that no one else can write; a library is loaded only if it and the record naming it are
# regular files of this user that no one else can write, and if the library's bytes, read
# from the very file that is then loaded, hash to the SHA-256 recorded when it was built.
# Anything else is rebuilt. Libraries are named by key and content hash, so a record always
# names complete bytes whatever concurrent builders do. The key leaves out the compiler's
# identity, which the record carries instead: a warm cache loads without a compiler on PATH,
# and is rebuilt when a different compiler is there.
_RECORD_VERSION = 1
_CACHE_LOCK = threading.RLock()
_dirs: dict[str, "_CacheDir | None"] = {}
_private: list = []               # the per-process fallback _CacheDir, once made
_PRIVATE_FIX = ("set GPUAD_CACHE_DIR to a directory of yours that only you can write "
                "(mkdir -m 700 DIR), or fix this one (chown $USER DIR; chmod 700 DIR)")


class _Distrusted(Exception):
    """A cache file or directory that may not be used, and why (``str``)."""


def _distrust(st: os.stat_result, kind: str = "file") -> str | None:
    """Why a file or directory with status ``st`` may not be trusted, or None. A cache "file"
    or "dir" must be this user's; a compiler's "exe" and its "bindir", and an installed
    package's "pkgfile" and "pkgdir" (prebuilt kernels), may also be root's (and a "bindir"
    may be a sticky one of root's)."""
    if kind in ("dir", "bindir", "pkgdir") and not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if kind in ("file", "exe", "pkgfile") and not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    owners = (os.geteuid(),) if kind in ("file", "dir") else (os.geteuid(), 0)
    if st.st_uid not in owners:
        return (f"is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
                + ("" if len(owners) == 1 else " or root"))
    if st.st_mode & 0o022 and not (kind == "bindir" and st.st_mode & stat.S_ISVTX and st.st_uid == 0):
        who = " and ".join(w for bit, w in ((0o020, "group"), (0o002, "others")) if st.st_mode & bit)
        return f"is writable by {who} (mode {st.st_mode & 0o7777:o})"
    return None


class _CacheDir:
    """An opened cache directory. Every access goes through the descriptor of the directory
    that was checked (``where`` names it through /proc), so renaming a directory above it
    cannot redirect a load."""

    def __init__(self, path: Path, private: bool = False, shipped: bool = False):
        # shipped: a read-only directory of an installed package (root's or this user's).
        if not shipped:
            _make_private_dirs(path)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        why = _distrust(os.fstat(fd), "pkgdir" if shipped else "dir")
        if why:
            os.close(fd)
            raise _Distrusted(f"{path} {why}")
        self.path, self.fd, self.private, self.file_kind = path, fd, private, "pkgfile" if shipped else "file"
        proc = f"/proc/self/fd/{fd}"
        self.where = proc if os.path.isdir(proc) else str(path)

    def _open(self, name: str, limit: int):
        """A binary file object of this user's regular file ``name`` (at most ``limit`` bytes);
        _Distrusted if it is anything else, FileNotFoundError if it is not there."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise _Distrusted(f"{self.path / name} " + ("is a symbolic link" if e.errno == errno.ELOOP
                                                       else f"cannot be read ({e.strerror})")) from None
        st = os.fstat(fd)
        why = _distrust(st, self.file_kind) or (f"is larger than {limit} bytes" if st.st_size > limit else None)
        if why:
            os.close(fd)
            raise _Distrusted(f"{self.path / name} {why}")
        return os.fdopen(fd, "rb")

    def record(self, stem: str) -> dict | None:
        """Build ``stem``'s record (None if there is none); _Distrusted if it may not be used."""
        name = stem + ".json"
        try:
            with self._open(name, 1 << 16) as f:
                rec = json.loads(f.read())
        except FileNotFoundError:
            return None
        except ValueError:
            rec = None
        if (not isinstance(rec, dict) or rec.get("version") != _RECORD_VERSION
                or not re.fullmatch(re.escape(stem) + r"-[0-9a-f]{16}\.so", str(rec.get("file")))
                or not re.fullmatch(r"[0-9a-f]{64}", str(rec.get("sha256")))):
            raise _Distrusted(f"{self.path / name} is not a build record of this gpuad")
        return rec

    def verify(self, name: str, sha256: str) -> str | None:
        """None if file ``name`` may be used and its bytes hash to ``sha256``, else why not."""
        try:
            digest = hashlib.sha256()
            with self._open(name, 1 << 31) as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except FileNotFoundError:
            return f"{self.path / name} is missing"
        except _Distrusted as e:
            return str(e)
        if digest.hexdigest() != sha256:
            return (f"{self.path / name} does not match the SHA-256 recorded when it was built "
                    "(truncated or changed)")
        return None

    def find(self, stem: str) -> tuple[dict | None, str | None]:
        """Build ``stem``'s record if its library checks out, else (None, why not); why is None
        when there simply is no such build."""
        try:
            rec = self.record(stem)
        except _Distrusted as e:
            return None, str(e)
        if rec is None:
            return None, None
        why = self.verify(rec["file"], rec["sha256"])
        return (None, why) if why else (rec, None)

    def build(self, stem: str, argv: list[str], command, source: Callable[[], str] | None,
              what: str) -> dict:
        """Compile into a private temporary directory here, then move the library and its record
        in. OSError: the directory cannot be written."""
        with tempfile.TemporaryDirectory(dir=self.where, prefix=".build-") as tmp:
            # The compiler, another process, gets the directory's real path; this process reads
            # and moves the result through the checked descriptor.
            here = Path(os.path.realpath(self.where)) / Path(tmp).name
            if source is not None:
                (Path(tmp) / "module.cpp").write_text(source())
            _run_compiler(command(here / "module.cpp", here / "out.so"), what)
            with open(Path(tmp) / "out.so", "rb") as f:
                os.fchmod(f.fileno(), 0o600)
                digest = hashlib.sha256(f.read()).hexdigest()
            lib = f"{stem}-{digest[:16]}.so"
            rec = {"version": _RECORD_VERSION, "file": lib, "sha256": digest, "what": what,
                   "compiler": _compiler_identity(argv)}
            (Path(tmp) / "record").write_text(json.dumps(rec, indent=1))
            os.chmod(Path(tmp) / "record", 0o600)
            try:
                old = self.record(stem)
            except _Distrusted:
                old = None
            os.replace(Path(tmp) / "out.so", Path(self.where) / lib)   # atomic; the record comes last
            os.replace(Path(tmp) / "record", Path(self.where) / (stem + ".json"))
        if old and old["file"] != lib:          # a library already loaded stays mapped
            with contextlib.suppress(OSError):
                os.unlink(old["file"], dir_fd=self.fd)
        return rec


def _make_private_dirs(path: Path) -> None:
    missing = []
    while not os.path.lexists(path) and path != path.parent:
        missing.append(path)
        path = path.parent
    for p in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(p, 0o700)   # the umask can only take bits away


def _main_cache() -> "_CacheDir | None":
    """The configured cache directory, or None (with the one warning) where it cannot be used."""
    configured = env.get("GPUAD_CACHE_DIR")
    with _CACHE_LOCK:
        try:
            path = configured or Path.home() / ".cache" / "gpuad" / "host"
        except RuntimeError as e:                        # no home directory
            _private_cache(f"there is no home directory for the default cache ({e})")
            return None
        key = str(path)
        if key not in _dirs:
            try:
                _dirs[key] = _CacheDir(path)
            except (OSError, _Distrusted) as e:
                _dirs[key] = None
                _private_cache(f"{e}" if isinstance(e, _Distrusted) else f"{path}: {e.strerror or e}")
        return _dirs[key]


def _private_cache(reason: str) -> _CacheDir:
    """This process's private build directory (0700, removed at exit), made and announced
    once: every process then compiles its modules again, so the warning says how to fix it."""
    with _CACHE_LOCK:
        if not _private:
            try:
                path = Path(tempfile.mkdtemp(prefix="gpuad-host-"))
            except OSError as e:
                raise RuntimeError(f"gpuad cannot cache its CPU builds: {reason}, and no private "
                                   f"temporary directory can be made ({e}); {_PRIVATE_FIX}") from None
            atexit.register(shutil.rmtree, path, True)
            _private.append(_CacheDir(path, private=True))
            warnings.warn(f"gpuad: the kernel cache cannot be used: {reason}. Building in a private "
                          f"directory for this process instead ({path}, removed at exit), so each "
                          f"process compiles again; {_PRIVATE_FIX}", RuntimeWarning, stacklevel=4)
        return _private[0]


def cache_dir() -> Path:
    """Where host builds are cached: ``$GPUAD_CACHE_DIR``, else ``~/.cache/gpuad/host``, or this
    process's private directory where that one cannot be used (see the warning)."""
    main = _main_cache()
    return main.path if main is not None else _private_cache("").path


# ------------------------------------------------------------------------------ shipped builds
# A wheel built with its kernels ships them in gpuad/_prebuilt with a manifest
# (runtime/prebuilt.py writes both). They are loaded on the same terms as the cache's, except
# that the directory and files may be root's (the installer's): no one else may write them,
# and each file's bytes must hash to the manifest's SHA-256.
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
_SHIPPED: list = []               # [the shipped directory or None, why not], filled once


def prebuilt_dir() -> Path:
    """Where an installed wheel keeps its prebuilt files (``gpuad/_prebuilt``)."""
    return Path(__file__).resolve().parent.parent / "_prebuilt"


class _Shipped:
    """The checked ``_prebuilt`` directory of this installation and its manifest."""

    def __init__(self, path: Path):
        self.dir = _CacheDir(path, shipped=True)
        with self.dir._open(MANIFEST, 1 << 24) as f:
            manifest = json.loads(f.read())
        if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
            raise ValueError(f"{path / MANIFEST} is not a manifest of this gpuad")
        self.manifest = manifest

    def load_path(self, entry: dict) -> tuple[Path, str] | None:
        """(path, the path to load it by) of a manifest entry's file if it checks out."""
        name, digest = str(entry.get("file")), str(entry.get("sha256"))
        if "/" in name or name.startswith("."):
            return None
        if self.dir.verify(name, digest) is not None:
            return None
        return self.dir.path / name, f"{self.dir.where}/{name}"


def shipped() -> _Shipped | None:
    """This installation's checked prebuilt directory, or None (``_SHIPPED[1]`` says why)."""
    if not _SHIPPED:
        try:
            _SHIPPED[:] = [_Shipped(prebuilt_dir()), None]
        except FileNotFoundError:
            _SHIPPED[:] = [None, "none in this installation"]
        except Exception as e:         # distrusted, unreadable or malformed: compile instead
            _SHIPPED[:] = [None, f"not used: {e}"]
    return _SHIPPED[0]


def _glibc_ok(built: str | None) -> bool:
    libc, version = platform.libc_ver()
    if not built:
        return True
    try:
        return libc == "glibc" and tuple(map(int, version.split(".")[:2])) >= tuple(map(int, built.split(".")[:2]))
    except ValueError:
        return False


def shipped_library(name: str, key: str) -> tuple[Path, str] | None:
    """The shipped host library of module ``name`` built from what ``key`` names, or None."""
    sh = shipped()
    if sh is None or not _glibc_ok(sh.manifest.get("glibc")):
        return None
    for entry in sh.manifest.get("host", {}).get(name, ()):
        if entry.get("key") == key:
            return sh.load_path(entry)
    return None


def shipped_fastcall() -> tuple[Path, str] | None:
    """The shipped C launch path if it was built for this Python, NumPy major version and
    the installed ``fastcall.cpp``, else None."""
    sh = shipped()
    entry = sh.manifest.get("fastcall") if sh is not None else None
    if (not entry or entry.get("python") != sys.implementation.cache_tag
            or entry.get("machine") != platform.machine() or not _glibc_ok(sh.manifest.get("glibc"))
            or str(entry.get("numpy", "")).split(".")[0] != np.__version__.split(".")[0]
            or entry.get("source") != hashlib.sha256(_FASTCALL_SOURCE.read_bytes()).hexdigest()):
        return None
    return sh.load_path(entry)


def _cache_name(prefix: str, parts: Sequence[str]) -> str:
    """A build's name: ``prefix`` and a hash of everything that reaches the compiler
    (``parts``) but the compiler itself."""
    key = hashlib.sha256()
    for part in parts:
        key.update(part.encode())
        key.update(b"\0")
    return f"{prefix}-{key.hexdigest()[:24]}"


class _NotCached(LookupError):
    """A build that is not in the cache, asked for with ``build=False``."""


def _cached_build(prefix: str, parts: Sequence[str], what: str, command,
                  source: Callable[[], str] | None = None, build: bool = True):
    """The library for ``parts``: (its path, the path to load it by, whether this call built
    it). ``command(argv, version, src, out)`` is the compiler's command line, ``src`` a temporary file
    holding the text ``source()`` returns (if given; a callable, since only a build needs the
    text), ``out`` the library to write. With ``build`` False, a library that is not cached
    raises _NotCached instead of being compiled."""
    stem = _cache_name(prefix, parts)
    # No lock: lookups and builds only read, or rename complete files into place.
    dirs = [d for d in (_main_cache(), *_private) if d is not None]
    found = _find_compiler()
    problems = []
    for d in dirs:
        rec, why = d.find(stem)
        if rec is not None and (found is None or rec["compiler"] == _compiler_identity(found)):
            return d.path / rec["file"], f"{d.where}/{rec['file']}", False
        if why:
            problems.append(why)
    if not build:
        raise _NotCached(what)
    if prefix != "gpuad_fastcall":
        _start_fastcall()            # the C launch path compiles meanwhile, if it must
    if found is None and problems:
        raise RuntimeError(f"cannot use the cached build of {what}: {'; '.join(problems)}; and no "
                           f"C++ compiler was found to rebuild it: {_NO_COMPILER}")
    argv, version = _compiler()
    target = dirs[0]
    run = functools.partial(command, argv, version)
    try:
        rec = target.build(stem, argv, run, source, what)
    except OSError as e:
        if target.private:
            raise
        target = _private_cache(f"{target.path} is not writable ({e.strerror or e})")
        rec = target.build(stem, argv, run, source, what)
    return target.path / rec["file"], f"{target.where}/{rec['file']}", True


def _run_compiler(cmd: list[str], what: str, quiet: bool = False) -> None:
    quiet = quiet or env.get("GPUAD_QUIET")
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:      # not the cache's fault: keep it apart from the OSErrors of writing
        raise RuntimeError(f"compiling {what} for the CPU failed: cannot run {cmd[0]} ({e})") from None
    try:
        _, err = proc.communicate(timeout=1.0)
    except subprocess.TimeoutExpired:
        if not quiet:   # once per build, only for a build that takes noticeable time
            print(f"gpuad: compiling {what} for the CPU (first use; cached afterwards)...",
                  file=sys.stderr, flush=True)
        _, err = proc.communicate()
    if proc.returncode != 0:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        msg = "\n".join(lines[:40]) + ("\n..." if len(lines) > 40 else "")
        raise RuntimeError(f"compiling {what} for the CPU failed ({cmd[0]}):\n{msg}")
