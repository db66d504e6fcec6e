"""gpuad/runtime/blas.py: host matrix products on gpuad's threads with BLAS held at one.

Every product is checked against numpy.matmul within the rounding bound of a length-k dot
product, |error| <= k eps (|a| @ |b|) (Higham, Accuracy and Stability of Numerical
Algorithms, 2nd ed., section 3.1): a split product's blocks are BLAS calls on slices, whose
summation order may differ from the unsplit call's.
"""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

import gpuad
import gpuad.numpy as gnp
from gpuad.runtime import blas

RNG = np.random.default_rng(7)


def _close(got, a, b):
    want = np.matmul(a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want)
        return
    k = a.shape[-1]
    bound = 2 * k * np.finfo(want.dtype).eps * np.matmul(np.abs(a), np.abs(b)) + np.finfo(
        want.dtype).tiny
    assert np.all(np.abs(got - want) <= bound)


def _arr(shape, dtype=np.float64):
    x = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * RNG.standard_normal(shape)
    return x.astype(dtype)


@pytest.fixture
def two_workers(monkeypatch):
    """Two threads for products whatever this machine has (the split is what is tested)."""
    monkeypatch.setattr(blas.host, "cpu_workers", lambda: 2)
    if not blas._blas_libraries():
        pytest.fail("threadpoolctl finds no BLAS library under NumPy: products are not split")


@pytest.fixture
def counted(monkeypatch):
    """How many tasks each blas.run call ran."""
    calls = []
    run = blas.run

    def counting(tasks):
        tasks = list(tasks)
        calls.append(len(tasks))
        return run(tasks)
    monkeypatch.setattr(blas, "run", counting)
    return calls


@pytest.fixture
def holds(monkeypatch):
    """One entry per hold taken (blas.one_blas_thread replaced by a counter)."""
    taken = []

    class Counting:
        def __enter__(self):
            taken.append(1)

        def __exit__(self, *exc):
            pass
    monkeypatch.setattr(blas, "one_blas_thread", Counting())
    return taken


# (a, b, the way the product is split): the logistic-regression products of issue 18 (a
# row-major matrix times a vector; its transpose times one; lanes times the transpose) and
# a GEMM in each layout.
M, K = 60, 40000
_A = _arr((M, K))
SPLITS = [
    ("matrix @ vector", _A, _arr((K, 1)), "m"),
    ("matrix.T @ vector", _A.T, _arr((M, 1)), "k"),
    ("lanes @ matrix.T", _arr((3, K)), _A.T, "n"),          # a GEMV per column (GEMV_ROWS)
    ("one lane and the value @ matrix.T", _arr((2, K)), _A.T, "n"),
    ("four lanes @ matrix.T", _arr((4, K)), _A.T, "n"),     # one GEMM per block
    ("matrix @ two columns", _A, _arr((K, 2)), "m"),         # a GEMV per row (GEMV_ROWS)
    ("matrix @ three F-order columns", _A, np.asfortranarray(_arr((K, 3))), "m"),
    ("matrix @ four columns", _A, _arr((K, 4)), "m"),         # one GEMM per block
    ("lanes @ matrix", _arr((3, M)), _A, "k"),
    ("C @ C", _arr((300, 200)), _arr((200, 300)), "m"),
    ("F @ F", np.asfortranarray(_arr((300, 200))), np.asfortranarray(_arr((200, 300))), "n"),
    ("strided @ C", _arr((600, 400))[::2, ::2], _arr((200, 300)), None),   # copied first
]


@pytest.mark.parametrize("name,a,b,axis", SPLITS, ids=[s[0] for s in SPLITS])
def test_split_products_equal_numpy_matmul(two_workers, counted, name, a, b, axis):
    how = blas._split_axis(a, b, 2)
    assert how is not None and how[0] == (axis or how[0])
    _close(blas.matmul(a, b), a, b)
    assert counted == [2]                       # one run of two blocks


@pytest.mark.parametrize("name,a,b,axis", SPLITS, ids=[s[0] for s in SPLITS])
def test_a_stack_of_one_product_is_split_into_its_slab(two_workers, counted, name, a, b,
                                                       axis):
    # (an HVP's one tangent lane: the product is made in the stack's memory, each split)
    _close(blas.matmul(a[None], b), a[None], b)
    _close(blas.matmul(a, b[None]), a, b[None])
    assert counted == [2, 2]


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.complex128])
def test_split_products_in_other_dtypes(two_workers, counted, dtype):
    a, b = _arr((200, 300), dtype), _arr((300, 100), dtype)
    _close(blas.matmul(a, b), a, b)
    a, b = _arr((2, K), dtype), np.asarray(_A.T, dtype, order="F")   # a GEMV per column
    _close(blas.matmul(a, b), a, b)
    b, a = a.T, np.asarray(_A, dtype)                                   # a GEMV per row
    _close(blas.matmul(a, b), a, b)
    assert counted == [2, 2, 2]


@pytest.mark.parametrize("sa,sb", [((8, 100, 60), (60, 90)), ((100, 60), (8, 60, 90)),
                                   ((2, 1, 100, 60), (1, 4, 60, 90)), ((1, 100, 60), (60, 900))])
def test_stacks_of_products_equal_numpy_matmul(two_workers, sa, sb):
    a, b = _arr(sa), _arr(sb)
    _close(blas.matmul(a, b), a, b)
    bt = np.swapaxes(_arr(sb[:-2] + sb[-2:][::-1]), -1, -2)        # F-ordered matrices
    _close(blas.matmul(a, bt), a, bt)
    bs = _arr(sb[:-2] + (sb[-2], 2 * sb[-1]))[..., ::2]                 # neither C nor F
    _close(blas.matmul(a, bs), a, bs)


@pytest.mark.parametrize("a,b", [
    (_arr((3, 4)), _arr((4, 5))),                                  # below the split size
    (np.arange(600 * 400).reshape(600, 400) % 7, np.ones((400, 300), np.int64)),  # integers
    (_arr((600, 400), np.float32), _arr((400, 300))),              # mixed dtypes
    (_arr((600, 0)), _arr((0, 300))),                              # empty contraction
    (_arr((0, 400)), _arr((400, 300))),
    (_arr((600, 400)).astype(">f8"), _arr((400, 300)).astype(">f8")),   # big-endian
])
def test_products_not_split_are_numpy_matmul(two_workers, counted, a, b):
    got = blas.matmul(a, b)
    assert counted == []
    _close(got, a, b)         # (BLAS's own thread count may change the rounding)


def test_small_products_are_numpys_own(two_workers, counted, holds):
    """Below MIN_HOLD multiply-adds BLAS's own threads run a product (cheaper than holding
    them): no hold, no split; from MIN_HOLD held, from MIN_SPLIT split."""
    a, b = _arr((450, 300)), _arr((300, 1))
    assert a.size * b.shape[1] < blas.MIN_HOLD
    _close(blas.matmul(a, b), a, b)
    assert holds == [] and counted == []
    a, b = _arr((1000, 1000)), _arr((1000, 1))
    assert blas.MIN_HOLD <= a.size * b.shape[1] < blas.MIN_SPLIT
    _close(blas.matmul(a, b), a, b)
    assert holds == [1] and counted == []
    a, b = _arr((600, 400)), _arr((400, 300))
    _close(blas.matmul(a, b), a, b)
    assert holds == [1, 1] and counted == [2]


def test_one_thread_means_no_split(monkeypatch, counted):
    monkeypatch.setenv("GPUAD_NUM_THREADS", "1")
    a, b = _arr((300, 200)), _arr((200, 300))
    _close(blas.matmul(a, b), a, b)
    assert counted == [] and blas.workers() == 1


def _blas_threads():
    return [lib.get_num_threads() for lib in ThreadpoolController().select(
        user_api="blas").lib_controllers]


def test_blas_is_held_at_one_thread_and_restored(two_workers):
    before = _blas_threads()
    seen = []
    blas.run([lambda: seen.append(_blas_threads()), lambda: seen.append(_blas_threads())])
    assert seen == [[1] * len(before)] * 2
    assert _blas_threads() == before


def _allowed():
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()


@pytest.mark.skipif(len(_allowed()) < 2, reason="one CPU (or no affinity API): nothing to place")
def test_run_places_its_caller_and_the_pools_threads_on_distinct_cpus(two_workers):
    """blas._placed: during run() the caller is pinned to the CPU it is on and the pool's
    threads to its other CPUs (woken threads otherwise landed on the caller's CPU); the
    caller's own mask comes back afterwards, also when a block raises."""
    before, seen = _allowed(), {}

    def record(who):
        seen[who] = os.sched_getaffinity(0)
    for _ in range(3):           # (a thread the pool makes meanwhile is placed as it starts)
        blas.run([lambda: record("caller"), lambda: record("pool")])
        (cpu,) = seen["caller"]
        assert cpu in before and seen["pool"] == before - {cpu}
    assert _allowed() == before
    with pytest.raises(ZeroDivisionError):
        blas.run([lambda: 1 / 0, lambda: None])
    assert _allowed() == before
    narrowed = set(sorted(before)[:2])    # a caller that narrowed its own mask: placed within it
    os.sched_setaffinity(0, narrowed)
    try:
        blas.run([lambda: record("caller"), lambda: record("pool")])
        (cpu,) = seen["caller"]
        assert seen["pool"] == narrowed - {cpu} and _allowed() == narrowed
    finally:
        os.sched_setaffinity(0, before)


def test_a_failing_block_raises_after_all_blocks_and_restores_the_threads(two_workers):
    before, done = _blas_threads(), []

    def slow():
        threading.Event().wait(0.05)
        done.append("slow")

    def fail():
        raise MemoryError("block")
    with pytest.raises(MemoryError, match="block"):
        blas.run([fail, slow])
    assert done == ["slow"] and _blas_threads() == before
    with pytest.raises(ZeroDivisionError):
        blas.run([slow, lambda: 1 / 0])
    assert _blas_threads() == before
    a, b = _arr((300, 200)), _arr((200, 300))
    _close(blas.matmul(a, b), a, b)               # still usable


def test_concurrent_products_share_one_hold(two_workers):
    before = _blas_threads()
    a, b = _arr((300, 200)), _arr((200, 300))
    errors = []

    def work():
        try:
            for _ in range(20):
                _close(blas.matmul(a, b), a, b)
        except BaseException as e:                # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and _blas_threads() == before


def test_the_hold_works_from_any_thread_and_leaves_the_callers_control(two_workers):
    """threadpoolctl lets one Python thread at a time set OpenBLAS's count and ignores the
    others: the hold gives the control back after each change, so a product in a worker
    thread after one in the main thread is still held, concurrent products restore the
    count, and the caller's own threadpool_limits works afterwards."""
    from threadpoolctl import threadpool_limits
    before = _blas_threads()
    a, b = _arr((300, 200)), _arr((200, 300))
    blas.matmul(a, b)                              # the main thread first
    seen = []

    def held():
        blas.run([lambda: seen.append(_blas_threads())])
    t = threading.Thread(target=held)
    t.start()
    t.join()
    assert seen == [[1] * len(before)]
    for _ in range(5):                             # overlapping products, several threads
        threads = [threading.Thread(target=lambda: [blas.matmul(a, b) for _ in range(10)])
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert _blas_threads() == before
    used, keep = threading.Event(), threading.Event()
    worker = threading.Thread(target=lambda: (blas.matmul(a, b), used.set(), keep.wait(10)))
    worker.start()                                 # a long-lived thread that used gpuad
    used.wait(10)
    try:
        with threadpool_limits(3, user_api="blas"):
            assert set(_blas_threads()) == {3}
    finally:
        keep.set()
        worker.join()
    assert _blas_threads() == before


def test_one_pool_serves_every_caller(two_workers):
    """Blocks of concurrent products go to one pool that is never replaced in a process
    (replacing it raced with another thread's submit)."""
    pools = set()

    def work(parts):
        blas.run([lambda: None] * parts)
        pools.add(id(blas._pool()))
    threads = [threading.Thread(target=work, args=(p,)) for p in [2, 3] * 10]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pools) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_child_forked_during_another_threads_product_starts_unheld(two_workers):
    before = _blas_threads()
    inside, leave = threading.Event(), threading.Event()

    def holder():
        with blas.one_blas_thread:
            inside.set()
            leave.wait(10)
    t = threading.Thread(target=holder)
    t.start()
    inside.wait(10)
    pid = os.fork()
    if pid == 0:       # the child: no hold (its holder thread does not exist here), usable
        a, b = _arr((300, 200)), _arr((200, 300))
        ok = (blas.one_blas_thread._depth == 0 and _blas_threads() == before
              and np.allclose(blas.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
              and _blas_threads() == before)
        os._exit(0 if ok else 1)
    leave.set()
    t.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _blas_threads() == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_gets_its_own_threads(two_workers):
    a, b = _arr((300, 200)), _arr((200, 300))
    blas.matmul(a, b)                              # the parent's pool exists
    pid = os.fork()
    if pid == 0:                                   # the child: a fresh pool, same numbers
        ok = np.allclose(blas.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_gradients_through_split_products_match_closed_forms(two_workers, counted):
    """The logistic-regression loss of issue 18 at a size that splits: its gradient and
    Hessian-vector products (single and batched) against closed forms."""
    m, n = 30, 20000
    A, y = _arr((m, n)) / np.sqrt(n), (RNG.random(m) < 0.5).astype(float)
    w, V = _arr(n) * 0.1, _arr((4, n))
    lam = 1e-2

    def loss(w):
        z = A @ w
        return gnp.sum(gnp.logaddexp(0.0, z) - y * z) + 0.5 * lam * gnp.sum(w * w)
    s = 1 / (1 + np.exp(-(A @ w)))
    grad = A.T @ (s - y) + lam * w

    def hvp(v):
        return A.T @ (s * (1 - s) * (A @ v)) + lam * v
    np.testing.assert_allclose(gpuad.grad(loss)(w), grad, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gpuad.hvp(loss, w, V[0]), hvp(V[0]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gpuad.hvp(loss, w, V, batched=True),
                               np.stack([hvp(v) for v in V]), rtol=1e-12, atol=1e-14)
    # Forward and reverse mode of the product alone (the split products of A w and A^T g),
    # and the dot-product test between them.
    z = gpuad.jvp(lambda w: A @ w, (w,), (V[0],))[1]
    np.testing.assert_allclose(z, A @ V[0], rtol=1e-12, atol=1e-14)
    out, pullback = gpuad.vjp(lambda w: A @ w, w)
    (gw,) = pullback(s - y)
    np.testing.assert_allclose(gw, A.T @ (s - y), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.dot(z, s - y), np.dot(V[0], gw), rtol=1e-12)
    assert counted                                # the products above were split


def test_stacks_of_small_matrices_are_one_call(two_workers, counted):
    """A stack whose matrices are each below MIN_HOLD goes to numpy.matmul whole (a loop
    over 40000 4 x 4 products took 50x numpy's time), however large the stack."""
    a, b = _arr((40000, 4, 4)), _arr((40000, 4, 4))
    _close(blas.matmul(a, b), a, b)
    a, b = _arr((100000, 1, 3)), _arr((3, 8))
    _close(blas.matmul(a, b), a, b)
    assert counted == []


@pytest.mark.parametrize("a,b", [(_arr((3, 60)), _arr((61, 40000))),
                                 (_arr((150, 200)), _arr((199, 300))),
                                 (_arr((4, 150, 200)), _arr((4, 199, 300)))])
def test_mismatched_shapes_raise_numpys_error(two_workers, a, b):
    with pytest.raises(ValueError) as ours:
        blas.matmul(a, b)
    with pytest.raises(ValueError) as numpys:
        np.matmul(a, b)
    assert str(ours.value) == str(numpys.value)


def test_integer_products_are_not_held(two_workers, holds):
    a, b = np.ones((600, 400), np.int64), np.ones((400, 300), np.int64)
    np.testing.assert_array_equal(blas.matmul(a, b), np.full((600, 300), 400))
    assert holds == []


def test_a_small_batched_hvp_uses_no_threads(two_workers, counted):
    """The batched HVP's reverse product of a small problem is made in place, unheld."""
    A, w, V = _arr((30, 20)), _arr(20), _arr((4, 20))

    def loss(w):
        return gnp.sum(gnp.logaddexp(0.0, A @ w)) + 0.5 * gnp.sum(w * w)
    s = 1 / (1 + np.exp(-(A @ w)))
    want = np.stack([A.T @ (s * (1 - s) * (A @ v)) + v for v in V])
    np.testing.assert_allclose(gpuad.hvp(loss, w, V, batched=True), want, rtol=1e-12,
                               atol=1e-14)
    assert counted == []


def test_openmp_builds_of_openblas_are_neither_held_nor_split(monkeypatch):
    """OpenBLAS built with OpenMP keeps a thread count per calling thread: a hold could not
    reach gpuad's other threads, so gpuad leaves such a library alone."""
    import threadpoolctl

    class Lib:
        threading_layer = "openmp"

    class Controller:
        def select(self, **kw):
            return type("S", (), {"lib_controllers": [Lib()]})()
    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", Controller)
    assert blas._blas_libraries.__wrapped__() == ()
