"""Host array memory kept for reuse while gpuad's transforms run on NumPy arrays.

Why: glibc hands a freed block of a few hundred KiB and up back to the operating system (it
unmaps it, or trims the heap's top), so the next array of that size page-faults on every
4 KiB page it writes. A reverse sweep makes and frees arrays of the same sizes over and over:
in one gradient of a tanh network (1000 x 1000 hidden layer) about 1900 page faults, 4 ms of
21 (about 2 us each on the machines measured, issue 18). CuPy's memory pool does the same on
the GPU.

While a transform (grad, vjp, jvp, hvp, ...) runs on host arrays, the arrays NumPy makes in
that context (the thread's, or an asyncio task's or greenlet's) come from gpuad's allocator
(NumPy's allocator interface, NEP 49, in the C extension ``runtime/fastcall.cpp``): a freed
block of 256 KiB or more is kept, for the next array that fits it with at most a quarter to
spare, up to ``GPUAD_HOST_CACHE_MB`` MiB in all (default: 1024, or an eighth of the
memory the process may use if less, a container's limit counted; the oldest go back first). Blocks are made by NumPy's own
allocator (a miss costs what it costs without the cache); smaller ones are left to it.
Arrays made there and freed later (a returned gradient) come back to the cache too, and a
context copied inside a transform (a task created there) keeps allocating from it. What is
kept stays resident until :func:`release`, a lower limit, or the process's end.
Nothing changes where the C extension is not in use (``GPUAD_FASTCALL=0``, no Python
headers), where the limit is 0, or where the caller has made an allocator of their own
current. The numbers are the same either way: only where the memory comes from changes.

:func:`stats` says what the cache did; :func:`release` hands every kept block back.
"""
from __future__ import annotations

import contextlib
import os

from . import env

_state = {"ext": None, "ready": False}
_NO_SCOPE = contextlib.nullcontext()


def _ext(build: bool = True):
    """The C extension with the cache, its limit set from the environment, or None (not in
    use; or not built yet: then a transform goes without the cache while it builds in the
    background, and with ``build`` False nothing starts a build)."""
    if _state["ready"]:
        return _state["ext"]
    from . import host
    if build:
        settled, ext = host.fastcall_if_ready()
    else:
        ext = host._load_fastcall(build=False)
        settled = ext is not None
    if not settled:
        return None
    if ext is not None:
        ext.host_cache(limit_bytes())
    _state.update(ext=ext, ready=True)
    return ext


# A container's memory limit (cgroup v2, v1): where lower than the machine's memory, the
# default limit is an eighth of it instead.
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def _memory_bytes() -> int:
    """The memory this process may use: physical memory, or its cgroup's limit if lower."""
    try:
        most = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        most = 8 << 30
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():                  # ("max": no limit)
            most = min(most, int(text))
    return most


def limit_bytes() -> int:
    """The most bytes the cache keeps: ``GPUAD_HOST_CACHE_MB`` MiB, by default the smaller
    of 1 GiB and an eighth of the memory this process may use (physical memory, or a
    container's cgroup limit where lower)."""
    mb = env.get("GPUAD_HOST_CACHE_MB")
    if mb is not None:
        return mb << 20
    return min(1 << 30, _memory_bytes() // 8)


def scope():
    """The context inside which NumPy allocates from the cache (the host launcher's scope,
    runtime/launch.py): reusable and nestable, entered and left in C."""
    ext = _ext()
    return _NO_SCOPE if ext is None else ext.host_cache_scope


def stats() -> dict:
    """What the cache did in this process: ``hits`` (arrays given a kept block), ``misses``
    (arrays of a cached size that found none), ``cached_bytes`` (kept now) and
    ``limit_bytes``; all zero where the cache is not in use."""
    ext = _ext(build=False)
    hits, misses, cached_bytes, limit = ext.host_cache(-1) if ext is not None else (0, 0, 0, 0)
    return {"hits": hits, "misses": misses, "cached_bytes": cached_bytes, "limit_bytes": limit}


def release() -> None:
    """Hand every kept block back to NumPy's allocator, and glibc's free memory back to the
    operating system (``malloc_trim``); the cache goes on keeping blocks afterwards."""
    ext = _ext(build=False)
    if ext is not None:
        ext.host_cache_release()
