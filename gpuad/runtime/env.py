"""The environment variables gpuad reads, and the one way to read them: :func:`get`.

Each variable is declared once here (name, meaning, accepted values, default) and parsed on
every read; a malformed value raises :class:`EnvironmentVariableError` naming the variable,
the value and what is accepted, instead of a raw ``ValueError`` deep inside a launch. The
README's table of environment variables lists exactly these (a test compares them).
"""
from __future__ import annotations

import dataclasses
import os
import re
import shlex
from pathlib import Path
from typing import Any, Callable


class EnvironmentVariableError(ValueError):
    """An environment variable gpuad reads holds a value it does not accept."""


@dataclasses.dataclass(frozen=True)
class Variable:
    name: str
    meaning: str
    accepted: str
    default: str
    parse: Callable[[str], Any]      # stripped, non-empty text -> value; ValueError if malformed
    unset: Any = None                # the value of an unset or empty variable


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise ValueError("not a whole number") from None
        if not lo <= value <= hi:
            raise ValueError(f"out of range {lo}..{hi}")
        return value
    return parse


def _choice(*words: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in words:
            raise ValueError("not one of the accepted words")
        return text.lower()
    return parse


def _flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError("not 0 or 1")
    return text == "1"


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as e:          # unbalanced quotes
        raise ValueError(f"not shell words ({e})") from None


def _list(pattern: str) -> Callable[[str], list[str]]:
    """Comma-separated items matching ``pattern``; ``none`` is the empty list."""
    def parse(text: str) -> list[str]:
        if text.lower() == "none":
            return []
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if not re.fullmatch(pattern, t)]
        if bad or not items:
            raise ValueError(f"{', '.join(bad) or 'nothing'} is not accepted")
        return items
    return parse


def _directory(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise ValueError("not an absolute path (a relative one would follow the working directory)")
    return path


MAX_THREADS = 1024
VARIABLES: dict[str, Variable] = {v.name: v for v in (
    Variable("GPUAD_CACHE_DIR", "where CPU builds of kernels and of the C launch path are cached; "
             "must be a directory of this user that no one else can write, else a private "
             "per-process directory is used (with a warning)",
             "an absolute path (`~` expands)", "`~/.cache/gpuad/host`", _directory),
    Variable("GPUAD_NUM_THREADS", "OS threads one CPU kernel launch or host matrix product may use",
             f"an integer 1..{MAX_THREADS}", "the CPUs this process may run on",
             _int_range(1, MAX_THREADS)),
    Variable("GPUAD_HOST_CACHE_MB", "MiB of freed host array memory (blocks of 256 KiB and up "
             "made inside gpuad's transforms) kept for reuse instead of page-faulting fresh "
             "memory, until released (gpuad/runtime/hostmem.py); `0` keeps none and leaves "
             "NumPy's allocator in place", f"an integer 0..{1 << 20}",
             "1024, or an eighth of physical memory (or of a container's limit) if less",
             _int_range(0, 1 << 20)),
    Variable("GPUAD_HOST_CXXFLAGS", "extra flags for the host C++ compiler (part of the cache key; "
             "`-march=native` keys the cache by CPU)", "shell words, e.g. `-march=native -g`",
             "none", _words, []),
    Variable("GPUAD_HOST_ISA", "instruction set of CPU builds: `auto` builds for the highest level "
             "the CPU has, x86-64-v4 (AVX-512) or x86-64-v3 (AVX2, FMA); a level caps it there; "
             "`baseline` builds portable code",
             "`auto`, `x86-64-v4`, `x86-64-v3` or `baseline`", "`auto`",
             _choice("auto", "x86-64-v4", "x86-64-v3", "baseline"), "auto"),
    Variable("GPUAD_HOST_TIERED", "tiered CPU builds of the engine's kernel modules: one not cached "
             "is first built quickly (`-O0`) for this process, and its optimised build compiled into "
             "the cache by a background process (`1`), or the optimised build is compiled at once "
             "(`0`, the default: a process's results stay the same bits throughout, and no process "
             "outlives it)", "`0` or `1`", "`0`", _flag, False),
    Variable("GPUAD_FASTCALL", "launch CPU kernels through the C extension (`1`) or through ctypes "
             "(`0`, about 1 us slower per launch)", "`0` or `1`", "`1`", _flag, True),
    Variable("GPUAD_FIBER_STACK_KB", "stack per CUDA thread of kernels that use barriers, in KiB "
             "(a guard page below each turns an overflow into a crash, not corruption); read "
             "when a module is loaded", "an integer 16..1048576", "`128`",
             _int_range(16, 1 << 20), 128),
    Variable("GPUAD_QUIET", "`1` silences the line on stderr that says a kernel module is being "
             "compiled (printed when a build takes more than a second)", "`0` or `1`", "`0`",
             _flag, False),
    Variable("GPUAD_DISTRIBUTED_CHECK", "`1`: gpuad.distributed's debug mode (ranks compare "
             "their sequences of collectives before each one and report the first divergence "
             "instead of hanging; shared arguments and psum cotangents are checked equal on "
             "every rank)", "`0` or `1`", "`0`", _flag, False),
    Variable("PMI_SIZE", "set by MPICH's launcher (the number of ranks); read only to explain, "
             "when mpi4py is missing, that the process was started by mpiexec",
             "an integer", "unset", _int_range(0, 1 << 30)),
    Variable("OMPI_COMM_WORLD_SIZE", "set by Open MPI's launcher; read as `PMI_SIZE`",
             "an integer", "unset", _int_range(0, 1 << 30)),
    Variable("MPI_LOCALNRANKS", "set by some MPI launchers; read as `PMI_SIZE`",
             "an integer", "unset", _int_range(0, 1 << 30)),
    Variable("GPUAD_PREBUILT", "use the kernels and C launch path a wheel ships prebuilt, where they "
             "match this machine and the installed sources (`1`), or always compile them (`0`)",
             "`0` or `1`", "`1`", _flag, True),
    Variable("GPUAD_WHEEL_PREBUILT", "wheel builds (`python -m build --wheel`): compile the host "
             "kernels, the C launch path and (with NVRTC) the CUDA modules into the wheel (`1`), or "
             "ship the sources only (`0`); editable installs never do", "`0` or `1`", "`1`",
             _flag, True),
    Variable("GPUAD_WHEEL_ISAS", "wheel builds: the CPU instruction sets to ship host kernels for",
             "comma-separated `baseline`, `x86-64-v3`, `x86-64-v4`; `none`",
             "`baseline,x86-64-v3,x86-64-v4` on x86-64, else `baseline`",
             _list(r"baseline|x86-64-v3|x86-64-v4")),
    Variable("GPUAD_WHEEL_CUDA_TARGETS", "wheel builds: NVRTC targets to ship (`sm_XY`: a cubin; "
             "`compute_XY`: PTX the driver compiles for newer GPUs); none where NVRTC is not installed",
             "comma-separated `sm_XY`, `compute_XY`; `none`", "`sm_80,sm_90,compute_90`",
             _list(r"(sm|compute)_\d{2,3}a?")),
    Variable("GPUAD_WHEEL_CUDA_DIR", "wheel builds: take the CUDA modules from this directory (written "
             "by `python -m gpuad.runtime.nvrtc --out DIR`) where they match the sources, instead of "
             "compiling them again", "an absolute path", "none (compile them)", _directory),
    Variable("GPUAD_WHEEL_BUNDLES", "wheel builds: ship only these kernel bundles (a partial, quicker "
             "build; the rest compile on first use)", "comma-separated bundle names, e.g. "
             "`elementwise.cu[double-first]`", "all (`python -m gpuad.runtime.prebuilt --list`)",
             _list(r"[\w./-]+\[[\w.-]+\]")),
    Variable("CXX", "the host C++ compiler (C++17), with any launcher or flags (`ccache g++`)",
             "a command as shell words", "the first of `g++`, `c++`, `clang++` on `PATH`",
             _words, []),
)}


def get(name: str) -> Any:
    """The value of gpuad's environment variable ``name``, parsed (the variable's ``unset``
    value when it is unset or blank). Raises :class:`EnvironmentVariableError` when malformed."""
    var = VARIABLES[name]
    raw = os.environ.get(name, "")
    text = raw.strip()
    if not text:
        return var.unset
    try:
        return var.parse(text)
    except ValueError as e:
        raise EnvironmentVariableError(
            f"environment variable {name}={raw!r} is invalid ({e}): accepted values are "
            f"{var.accepted.replace('`', '')}; unset it for the default "
            f"({var.default.replace('`', '')})") from None


def settings() -> list[str]:
    """``NAME=value`` for each of gpuad's variables that is set, or why it is invalid."""
    out = []
    for name in VARIABLES:
        if os.environ.get(name, "").strip():
            try:
                get(name)
                out.append(f"{name}={os.environ[name]!r}")
            except EnvironmentVariableError as e:
                out.append(str(e))
    return out
