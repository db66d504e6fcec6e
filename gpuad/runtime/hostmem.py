"""Host array memory kept for reuse while gpuad's transforms run on NumPy arrays.

Why: glibc hands a freed block of a few hundred KiB and up back to the operating system (it
unmaps it, or trims the heap's top), so the next array of that size page-faults on every
4 KiB page it writes. A reverse sweep makes and frees arrays of the same sizes over and over:
in one gradient of a tanh network (1000 x 1000 hidden layer) about 1900 page faults, 4 ms of
21 (about 2 us each on the machines measured, issue 18). PyTorch and XLA avoid the same cost
with allocators of their own; CuPy's memory pool does it on the GPU.

While a transform (grad, vjp, jvp, hvp, ...) runs on host arrays, the arrays NumPy makes in
that thread come from gpuad's allocator (NumPy's allocator interface, NEP 49, in the C
extension ``runtime/fastcall.cpp``): a freed block of 256 KiB or more is kept for the next
array of the same size (rounded up to 4 KiB), up to ``GPUAD_HOST_CACHE_MB`` MiB in all
(default: 1024, or an eighth of the machine's memory if less); beyond that, and for smaller
blocks, NumPy's own allocator takes them back. Arrays made there and freed later (a returned
gradient) come back to the cache too. Nothing is kept where the C extension is not in use
(``GPUAD_FASTCALL=0``, no Python headers) or where the caller has set an allocator of their
own. The numbers are the same either way: only where the memory comes from changes.

:func:`stats` says what the cache did; :func:`release` hands every kept block back.
"""
from __future__ import annotations

import os
import threading

from . import env

_state = {"ext": None, "ready": False}
_local = threading.local()


def _ext():
    """The C extension with the cache, its limit set from the environment, or None (not in
    use, or still being built in the background: then the caller goes without this time)."""
    if _state["ready"]:
        return _state["ext"]
    from .host import fastcall_if_ready
    settled, ext = fastcall_if_ready()
    if not settled:
        return None
    if ext is not None:
        ext.host_cache(limit_bytes())
    _state.update(ext=ext, ready=True)
    return ext


def limit_bytes() -> int:
    """The most bytes the cache keeps: ``GPUAD_HOST_CACHE_MB`` MiB, by default the smaller
    of 1 GiB and an eighth of physical memory."""
    mb = env.get("GPUAD_HOST_CACHE_MB")
    if mb is not None:
        return mb << 20
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        physical = 8 << 30
    return min(1 << 30, physical // 8)


try:
    from numpy._core.multiarray import get_handler_name
except ImportError:                          # NumPy < 2
    from numpy.core.multiarray import get_handler_name

# NumPy's default allocator and gpuad's own (a nested transform) are replaced; any other is
# the caller's, and stays.
_REPLACED = ("default_allocator", "gpuad_host_cache")


class _Cached:
    """The context (reusable, nestable, per thread) inside which NumPy allocates from the
    cache; on leaving, the allocator that was current before is current again."""

    def __enter__(self):
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        ext = _ext()
        if ext is None or get_handler_name() not in _REPLACED:
            stack.append(None)
        else:
            stack.append(ext.swap_mem_handler(ext.host_cache_handler))
        return self

    def __exit__(self, *exc):
        before = _local.stack.pop()
        if before is not None:
            _state["ext"].swap_mem_handler(before)
        return False


cached = _Cached()


def stats() -> dict:
    """What the cache did in this process: ``hits`` (arrays given a kept block), ``misses``
    (arrays of a cached size that found none), ``cached_bytes`` (kept now) and
    ``limit_bytes``; all zero where the cache is not in use."""
    ext = _ext()
    hits, misses, cached_bytes, limit = ext.host_cache(-1) if ext is not None else (0, 0, 0, 0)
    return {"hits": hits, "misses": misses, "cached_bytes": cached_bytes, "limit_bytes": limit}


def release() -> None:
    """Hand every kept block back to NumPy's allocator (and so to the operating system); the
    cache goes on keeping blocks afterwards."""
    ext = _ext()
    if ext is not None:
        limit = ext.host_cache(-1)[3]
        ext.host_cache(0)
        ext.host_cache(limit)
