"""gpuad's cache of host array memory (gpuad/runtime/hostmem.py, the allocator in
runtime/fastcall.cpp): where it is current, that it reuses blocks, that what it hands out
holds what NumPy promises (zeros from calloc, kept contents on realloc), its limit, threads,
fork, and that derivatives are the same bits with and without it."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad.runtime import host, hostmem

try:
    from numpy._core.multiarray import get_handler_name
except ImportError:                                   # NumPy < 2
    from numpy.core.multiarray import get_handler_name

BIG = 1 << 16          # float64 elements: 512 KiB, above the 256 KiB the cache keeps

# The cache lives in the C launch path's extension: without Python's headers (or with
# GPUAD_FASTCALL=0) there is none to test; a failed build of it is a failure here.
pytestmark = pytest.mark.skipif(host.fastcall_status().startswith(
    ("off (GPUAD_FASTCALL=0)", "off: Python's headers")), reason=host.fastcall_status())


def loss(x):
    y = gnp.tanh(x) * x
    return gnp.sum(y * y)


def loss_grad(x):
    t = np.tanh(x)
    return 2 * (t * x) * (t + x * (1 - t * t))


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((256, 300))     # 600 KiB


def test_a_transform_allocates_from_the_cache_and_restores_numpys(x):
    assert get_handler_name() == "default_allocator"
    g = gpuad.grad(loss)(x)
    assert get_handler_name(g) == "gpuad_host_cache"
    assert get_handler_name() == "default_allocator"
    assert get_handler_name(np.empty(BIG)) == "default_allocator"
    np.testing.assert_allclose(g, loss_grad(x), rtol=1e-13, atol=1e-13)


def test_the_allocator_is_restored_after_an_error(x):
    def bad(x):
        gnp.tanh(x)
        raise KeyError("inside")
    with pytest.raises(KeyError):
        gpuad.grad(bad)(x)
    assert get_handler_name() == "default_allocator"
    g = gpuad.grad(loss)(x)                      # the engine goes on
    np.testing.assert_allclose(g, loss_grad(x), rtol=1e-13, atol=1e-13)


def test_a_repeated_gradient_takes_every_large_block_from_the_cache(x):
    gpuad.grad(loss)(x)                          # (its blocks come back when freed)
    before = hostmem.stats()
    gpuad.grad(loss)(x)
    after = hostmem.stats()
    assert after["misses"] == before["misses"]
    assert after["hits"] > before["hits"]
    assert after["cached_bytes"] <= after["limit_bytes"]


def test_same_bits_with_and_without_the_cache(x):
    ext = hostmem._ext()
    limit = ext.host_cache(-1)[3]
    gpuad.grad(loss)(x)
    with_cache = gpuad.hvp(loss, x, np.cos(x))
    try:
        ext.host_cache(0)                        # nothing kept: every block fresh
        without = gpuad.hvp(loss, x, np.cos(x))
    finally:
        ext.host_cache(limit)
    assert np.array_equal(with_cache, without)


def test_calloc_from_a_dirty_block_is_zero_and_realloc_keeps_contents():
    with hostmem.scope():
        a = np.empty(BIG)
        a.fill(7.0)
        del a
        hits = hostmem.stats()["hits"]
        z = np.zeros(BIG)                        # the block just freed, written over
        assert hostmem.stats()["hits"] == hits + 1
        assert not z.any()
        r = np.arange(BIG, dtype=np.float64)
        r.resize(3 * BIG, refcheck=False)        # grows through realloc
        assert np.array_equal(r[:BIG], np.arange(BIG)) and not r[BIG:].any()
        r.resize(BIG // 4, refcheck=False)       # shrinks in place
        assert np.array_equal(r, np.arange(BIG // 4))
        s = np.arange(10.0)
        s.resize(BIG, refcheck=False)            # a small block grows into a cached size
        assert np.array_equal(s[:10], np.arange(10.0)) and not s[10:].any()
    assert get_handler_name(z) == "gpuad_host_cache"


def test_contexts_that_interleave_in_one_thread_restore_their_own():
    # (greenlets and asyncio tasks each run in a context of their own: the bookkeeping of
    # the scope lives in a ContextVar beside NumPy's own allocator)
    import contextvars
    a, b = contextvars.Context(), contextvars.Context()
    scope = hostmem.scope()
    a.run(scope.__enter__)
    b.run(scope.__enter__)
    a.run(scope.__exit__, None, None, None)
    assert a.run(get_handler_name) == "default_allocator"
    assert b.run(get_handler_name) == "gpuad_host_cache"
    b.run(scope.__exit__, None, None, None)
    assert b.run(get_handler_name) == "default_allocator"
    with pytest.raises(RuntimeError, match="left more often than entered"):
        scope.__exit__(None, None, None)


def test_release_unmaps_at_once_and_keeps_the_limit():
    def resident():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("no /proc here to read the resident size from")
    limit = hostmem.stats()["limit_bytes"]
    with hostmem.scope():
        a = np.ones(64 << 17)                      # 64 MiB, written: resident
        del a                                      # kept
    assert hostmem.stats()["cached_bytes"] >= 64 << 20
    before = resident()
    threads = [threading.Thread(target=hostmem.release) for _ in range(4)]
    for t in threads:                              # (concurrent releases: the limit stays)
        t.start()
    for t in threads:
        t.join()
    assert hostmem.stats()["cached_bytes"] == 0
    assert hostmem.stats()["limit_bytes"] == limit
    assert before - resident() >= 60 << 20


def test_random_allocations_keep_their_contents():
    # A random walk of allocations (small and cached sizes, zeroed or not, grown), frees
    # and limit changes; every live array keeps its own value, the limit always holds.
    ext = hostmem._ext()
    limit = ext.host_cache(-1)[3]
    rng = np.random.default_rng(4)
    live = {}
    try:
        with hostmem.scope():
            for step in range(3000):
                op = rng.integers(0, 10)
                if op < 5 or not live:
                    n = int(rng.choice([7, 1000, BIG // 2, BIG, BIG + 100, 3 * BIG]))
                    a = np.zeros(n) if op == 0 else np.empty(n)
                    if op == 0:
                        assert not a.any()
                    a.fill(step)
                    live[step] = a
                elif op < 9:
                    k = list(live)[int(rng.integers(0, len(live)))]
                    assert (live[k] == k).all()
                    del live[k]
                elif rng.integers(0, 2):
                    ext.host_cache(int(rng.choice([0, BIG * 8, 8 * BIG * 8, 1 << 30])))
                else:
                    k = list(live)[int(rng.integers(0, len(live)))]
                    live[k].resize(live[k].size + BIG, refcheck=False)
                    live[k][-BIG:] = k
                s = hostmem.stats()
                assert s["cached_bytes"] <= s["limit_bytes"]
        for k, a in live.items():
            assert (a == k).all()
    finally:
        ext.host_cache(limit)


def test_nested_scopes_restore_in_order():
    with hostmem.scope():
        with hostmem.scope():
            assert get_handler_name() == "gpuad_host_cache"
        assert get_handler_name() == "gpuad_host_cache"
    assert get_handler_name() == "default_allocator"


def test_the_limit_bounds_what_is_kept_and_release_empties_it():
    ext = hostmem._ext()
    limit = ext.host_cache(-1)[3]
    try:
        ext.host_cache(0)                        # empty, then room for three blocks
        ext.host_cache(3 * BIG * 8)
        with hostmem.scope():
            arrays = [np.ones(BIG) for _ in range(6)]
            del arrays
        s = hostmem.stats()
        assert s["cached_bytes"] == 3 * BIG * 8 and s["limit_bytes"] == 3 * BIG * 8
        ext.host_cache(BIG * 8)                  # lowering the limit frees the surplus
        assert hostmem.stats()["cached_bytes"] == BIG * 8
        hostmem.release()
        assert hostmem.stats()["cached_bytes"] == 0
        assert hostmem.stats()["limit_bytes"] == BIG * 8
    finally:
        ext.host_cache(limit)
    with pytest.raises(ValueError, match="limit"):
        ext.host_cache(-2)


def test_a_full_cache_drops_its_oldest_blocks():
    ext = hostmem._ext()
    limit = ext.host_cache(-1)[3]
    sizes = [BIG, 2 * BIG, 3 * BIG]                  # more than a quarter apart
    try:
        ext.host_cache(0)
        ext.host_cache(5 * BIG * 8)                  # room for the last two
        with hostmem.scope():
            for n in sizes:                          # freed in this order
                a = np.ones(n)
                del a
            assert hostmem.stats()["cached_bytes"] == 5 * BIG * 8
            s0 = hostmem.stats()
            c = np.empty(sizes[2])                   # kept: a hit
            a = np.empty(sizes[0])                   # the oldest, dropped: a miss
            s1 = hostmem.stats()
        assert (s1["hits"] - s0["hits"], s1["misses"] - s0["misses"]) == (1, 1)
        del a, c
    finally:
        ext.host_cache(limit)


def test_a_kept_block_serves_an_array_up_to_a_quarter_smaller():
    ext = hostmem._ext()
    limit = ext.host_cache(-1)[3]
    try:
        ext.host_cache(0)
        ext.host_cache(1 << 30)
        with hostmem.scope():
            a = np.ones(5 * BIG)
            del a
            s0 = hostmem.stats()
            half = np.ones(5 * BIG // 2)             # too small for it: a miss
            s1 = hostmem.stats()
            b = np.full(4 * BIG, 2.0)                # fits with a quarter to spare: a hit
            s2 = hostmem.stats()
            assert (b == 2.0).all()
            b.resize(5 * BIG, refcheck=False)        # grows within its block, in place
            assert (b[:4 * BIG] == 2.0).all() and not b[4 * BIG:].any()
        assert (s1["misses"] - s0["misses"], s2["hits"] - s1["hits"]) == (1, 1)
        del half, b
    finally:
        ext.host_cache(limit)


def test_threads_allocate_and_free_at_once_without_mixing_blocks():
    errors = []

    def work(k):
        try:
            with hostmem.scope():
                for i in range(200):
                    a = np.full(BIG + 512 * (i % 3), float(k))
                    b = np.zeros(BIG)
                    if not (a == k).all() or b.any():
                        errors.append((k, i))
                    b += k
                    del a, b
        except Exception as e:      # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert get_handler_name() == "default_allocator"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_allocates_from_the_cache():
    with hostmem.scope():
        keep = np.ones(BIG)
        del keep
        pid = os.fork()
        if pid == 0:                                     # the child: allocate and report
            ok = False
            try:
                a = np.full(BIG, 3.0)
                ok = bool((a == 3.0).all()) and get_handler_name(a) == "gpuad_host_cache"
            finally:
                os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def run_child(code, **environ):
    envs = {**os.environ, **environ}
    return subprocess.run([sys.executable, "-c", code], env=envs, capture_output=True,
                          text=True, timeout=300)


CHILD = """
import numpy as np, gpuad, gpuad.numpy as gnp
from gpuad.runtime import hostmem, host
try:
    from numpy._core.multiarray import get_handler_name
except ImportError:
    from numpy.core.multiarray import get_handler_name
host._load_fastcall()
x = np.linspace(-1, 1, 1 << 16)
g = gpuad.grad(lambda x: gnp.sum(gnp.tanh(x) * x))(x)
g2 = gpuad.grad(lambda x: gnp.sum(gnp.tanh(x) * x))(x)
print(get_handler_name(g), hostmem.stats())
"""


def test_cache_size_zero_keeps_nothing():
    r = run_child(CHILD, GPUAD_HOST_CACHE_MB="0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("default_allocator")      # not even switched to
    assert "'cached_bytes': 0, 'limit_bytes': 0" in r.stdout
    assert "'hits': 0" in r.stdout


def test_the_default_limit_is_an_eighth_of_a_containers_memory(tmp_path, monkeypatch):
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    monkeypatch.delenv("GPUAD_HOST_CACHE_MB", raising=False)
    monkeypatch.setattr(hostmem, "_CGROUP_LIMITS", (str(v2), str(v1)))
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert hostmem.limit_bytes() == min(1 << 30, physical // 8)      # (no files: physical)
    v2.write_text("max\n")                                           # cgroup v2, no limit
    assert hostmem.limit_bytes() == min(1 << 30, physical // 8)
    v2.write_text("1073741824\n")                                    # a 1 GiB container
    assert hostmem.limit_bytes() == 128 << 20
    v1.write_text("536870912\n")                                     # (the lower one counts)
    assert hostmem.limit_bytes() == 64 << 20
    monkeypatch.setenv("GPUAD_HOST_CACHE_MB", "300")                  # the variable wins
    assert hostmem.limit_bytes() == 300 << 20


def test_a_malformed_cache_size_is_refused_by_name():
    r = run_child(CHILD, GPUAD_HOST_CACHE_MB="lots")
    assert r.returncode != 0
    assert "GPUAD_HOST_CACHE_MB='lots' is invalid" in r.stderr


def test_without_the_c_extension_numpys_allocator_stays():
    r = run_child(CHILD, GPUAD_FASTCALL="0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("default_allocator")
    assert "'hits': 0, 'misses': 0, 'cached_bytes': 0, 'limit_bytes': 0" in r.stdout
