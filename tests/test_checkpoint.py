"""gpuad.checkpoint and gpuad.checkpoint_loop: gradients, step counts, memory, host reads;
each test on NumPy and on CuPy arrays (``xp``, conftest.py)."""
import math

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
from gpuad import checkpoint_policies as policies
from gpuad import tree
from gpuad.tape import VJPTrace
from gpuad.testing import check_grads

from _xp import host


def T(l, s):
    """Griewank & Walther's optimum (independent of gpuad's scheduler)."""
    s = min(s, max(1, l - 1))
    t = 0
    while math.comb(s + t, s) < l:
        t += 1
    return l + t * l - math.comb(s + t, s + 1)


def close(a, b, rtol=1e-12, atol=1e-12):
    la, _ = tree.flatten(a)
    lb, _ = tree.flatten(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert type(x) is type(y), (type(x), type(y))      # results live where inputs live
        np.testing.assert_allclose(host(x), host(y), rtol=rtol, atol=atol)


rng = np.random.default_rng(0)
DATA = {"W": rng.standard_normal(4) * 0.5, "X0": rng.standard_normal(4),
        "V": rng.standard_normal(4)}


def data(xp, names):
    """The test data ``names`` (space-separated) as arrays of ``xp``."""
    out = [xp.asarray(DATA[n]) for n in names.split()]
    return out[0] if len(out) == 1 else out


# ------------------------------------------------------------------ checkpoint

def block(x):
    return gnp.tanh(gnp.sin(x) * x) + 0.1 * x


def test_checkpoint_grad_matches(xp):
    X0 = data(xp, "X0")
    seg = gpuad.checkpoint(block)
    close(gpuad.grad(lambda x: gnp.sum(seg(seg(x)) ** 2))(X0),
          gpuad.grad(lambda x: gnp.sum(block(block(x)) ** 2))(X0))


def test_checkpoint_records_one_node_saving_only_inputs(xp):
    X0 = data(xp, "X0")
    seg = gpuad.checkpoint(block)
    trace = VJPTrace()
    with trace:
        x = trace.new_input(X0)
        seg(x)
    (node,) = trace.tape
    assert node.prim.name == "checkpoint"
    assert len(node.ins) == 1 and node.ins[0] is X0 and node.out is None


def test_checkpoint_reruns_the_segment_in_the_recompute_phase(xp):
    X0 = data(xp, "X0")
    seg = gpuad.checkpoint(block)
    with gpuad.profile() as prof:
        gpuad.grad(lambda x: gnp.sum(seg(x)))(X0)
    fwd = [r.kernel for r in prof.launches if r.phase == "forward"]
    assert fwd[-1] == "xp.sum"
    assert [r.kernel for r in prof.launches if r.phase == "recompute"] == fwd[:-1]


def test_checkpoint_closure_conversion(xp):
    W, X0 = data(xp, "W X0")
    # The segment closes over w, a tracer of the enclosing grad: w becomes an input of the
    # checkpoint node and gets its gradient.
    def loss(w, x, ckpt=True):
        f = (lambda y: gnp.sin(y * w) + w * w)
        seg = gpuad.checkpoint(f) if ckpt else f
        return gnp.sum(seg(seg(x)) ** 2)
    got = gpuad.grad(loss, argnums=(0, 1))(W, X0)
    close(got, gpuad.grad(lambda w, x: loss(w, x, False), argnums=(0, 1))(W, X0))
    trace = VJPTrace()
    with trace:
        w = trace.new_input(W)
        gpuad.checkpoint(lambda y: gnp.sin(y * w))(X0)
    (node,) = trace.tape
    assert len(node.ins) == 1 and node.ins[0] is W     # x is a constant, w an input


def test_checkpoint_pytrees_and_kwargs(xp):
    W, X0 = data(xp, "W X0")
    def f(p, scale=2.0):
        return {"y": gnp.sin(p["a"]) * p["b"], "z": (p["a"] * scale, p["b"])}

    def loss(a, b, ckpt):
        g = gpuad.checkpoint(f) if ckpt else f
        out = g({"a": a, "b": b}, scale=3.0)
        return gnp.sum(out["y"] * out["z"][0]) + gnp.sum(out["z"][1] ** 3)
    close(gpuad.grad(loss, argnums=(0, 1))(X0, W, True),
          gpuad.grad(loss, argnums=(0, 1))(X0, W, False))


def test_nested_checkpoints_with_shared_closure(xp):
    W, X0, V = data(xp, "W X0 V")
    def loss(w, ckpt):
        wrap = gpuad.checkpoint if ckpt else (lambda f, policy=None: f)
        inner = wrap(lambda y: gnp.tanh(y * w))
        outer = wrap(lambda x: inner(inner(x)) * w)
        return gnp.sum(outer(X0) ** 2)
    close(gpuad.grad(loss)(W, True), gpuad.grad(loss)(W, False))
    close(gpuad.hvp(lambda w: loss(w, True), W, V), gpuad.hvp(lambda w: loss(w, False), W, V))


def test_checkpoint_in_hvp_jvp_and_grad_of_grad(xp):
    X0, V = data(xp, "X0 V")
    seg = gpuad.checkpoint(block)

    def f(x):
        return gnp.sum(seg(seg(x)) ** 2)

    def f0(x):
        return gnp.sum(block(block(x)) ** 2)
    close(gpuad.hvp(f, X0, V), gpuad.hvp(f0, X0, V))
    close(gpuad.hvp(f, X0, xp.stack([V, X0]), batched=True),
          gpuad.hvp(f0, X0, xp.stack([V, X0]), batched=True))
    close(gpuad.jvp(seg, (X0,), (V,)), gpuad.jvp(block, (X0,), (V,)))
    gg = (lambda F: gpuad.grad(lambda x: gnp.sum(gpuad.grad(F)(x) ** 2))(X0))
    close(gg(f), gg(f0))
    close(gpuad.hessian(f)(X0), gpuad.hessian(f0)(X0))
    check_grads(f, (X0,), order=2)


def mm(a, b):
    return gnp.matmul(a, b)


def mlp(x, w1, w2):
    return gnp.tanh(gnp.matmul(gnp.tanh(x @ w1), w2))


DATA.update(MX=rng.standard_normal((3, 5)), W1=rng.standard_normal((5, 5)) * 0.5,
            W2=rng.standard_normal((5, 2)) * 0.5)


@pytest.mark.parametrize("policy,matmuls,launches", [
    (None, 2, 4), (policies.nothing_saveable, 2, 4), (policies.dots_saveable, 0, 2),
    (policies.everything_saveable, 0, 0)])
def test_policies(policy, matmuls, launches, xp):
    MX, W1, W2 = data(xp, "MX W1 W2")
    seg = gpuad.checkpoint(mlp, policy=policy)

    def loss(w1, w2, f):
        return gnp.sum(f(MX, w1, w2) ** 2)
    with gpuad.profile() as prof:
        got = gpuad.grad(loss, argnums=(0, 1))(W1, W2, seg)
    assert prof.count("recompute", "xp.matmul") == matmuls
    assert prof.count("recompute") == launches
    close(got, gpuad.grad(loss, argnums=(0, 1))(W1, W2, mlp))
    # kept outputs stay correct under every transform
    close(gpuad.hvp(lambda w: loss(w, W2, seg), W1, W1),
          gpuad.hvp(lambda w: loss(w, W2, mlp), W1, W1))
    gg = (lambda f: gpuad.grad(lambda w: gnp.sum(gpuad.grad(
        lambda u: loss(u, W2, f))(w) ** 2))(W1))
    close(gg(seg), gg(mlp), rtol=1e-10)


def test_checkpoint_without_reverse_mode_just_runs(xp):
    X0, V = data(xp, "X0 V")
    seg = gpuad.checkpoint(block)
    close(seg(X0), block(X0))
    calls = []
    counted = gpuad.checkpoint(lambda x: calls.append(1) or block(x))
    gpuad.jvp(counted, (X0,), (V,))
    assert len(calls) == 1


# ------------------------------------------------------------------ checkpoint_loop

def make_step(w, calls):
    def step(x):
        calls.append(1)
        return x + 0.1 * gnp.sin(w * x)
    return step


def unrolled(step, x, n):
    for _ in range(n):
        x = step(x)
    return x


COUNTS = [(1, 1), (2, 1), (5, 1), (10, 2), (10, 9), (10, None), (37, 3), (100, 5),
          (100, 10), (200, 4), (1000, 10)]


@pytest.mark.parametrize("l,s", COUNTS)
def test_step_evaluations_equal_T(l, s, xp):
    W, X0 = data(xp, "W X0")
    calls = []

    def loss(w, x0):
        return gnp.sum(gpuad.checkpoint_loop(make_step(w, calls), x0, l, snapshots=s) ** 2)
    g = gpuad.grad(loss, argnums=(0, 1))(W, X0)
    assert len(calls) == T(l, l if s is None else s)
    assert len(calls) == gpuad.revolve_schedule(l, l if s is None else s).evaluations
    ref = gpuad.grad(lambda w, x0: gnp.sum(unrolled(make_step(w, []), x0, l) ** 2),
                     argnums=(0, 1))(W, X0)
    close(g, ref)


def test_memory_budget_picks_snapshots(xp):
    W, X0 = data(xp, "W X0")
    calls = []
    budget = 3 * X0.nbytes + 7          # three states fit

    def loss(w):
        return gnp.sum(gpuad.checkpoint_loop(make_step(w, calls), X0, 50,
                                             memory_budget=budget))
    gpuad.grad(loss)(W)
    assert len(calls) == T(50, 3)


def test_loop_pytree_state_closure_and_transforms(xp):
    W, X0, V = data(xp, "W X0 V")
    def loss(w, x0, s):
        def step(st):
            return {"a": st["a"] + 0.1 * gnp.sin(w * st["b"]),
                    "b": (st["b"] - 0.1 * gnp.cos(st["a"]) * w)}
        init = {"a": x0, "b": 2.0 * x0}
        out = (gpuad.checkpoint_loop(step, init, 13, snapshots=s) if s
               else unrolled(step, init, 13))
        return gnp.sum(out["a"] * out["b"])
    for s in (1, 3):
        ck = (lambda w, x0: loss(w, x0, s))
        un = (lambda w, x0: loss(w, x0, None))
        close(gpuad.grad(ck, argnums=(0, 1))(W, X0), gpuad.grad(un, argnums=(0, 1))(W, X0))
        close(gpuad.hvp(lambda w: ck(w, X0), W, V), gpuad.hvp(lambda w: un(w, X0), W, V))
        close(gpuad.jvp(ck, (W, X0), (V, V)), gpuad.jvp(un, (W, X0), (V, V)))
        gg = (lambda f: gpuad.grad(lambda w: gnp.sum(gpuad.grad(f)(w, X0) ** 2))(W))
        close(gg(ck), gg(un), rtol=1e-10)
        close(gpuad.jacrev(lambda w: ck(w, X0))(W), gpuad.jacrev(lambda w: un(w, X0))(W))


def test_loop_with_checkpointed_step(xp):
    W, X0, V = data(xp, "W X0 V")
    def loss(w, ckpt):
        f = (lambda y: y + 0.1 * gnp.sin(w * y))
        step = gpuad.checkpoint(f) if ckpt else f
        return gnp.sum(gpuad.checkpoint_loop(step, X0, 9, snapshots=2) ** 2)
    close(gpuad.grad(loss)(W, True), gpuad.grad(loss)(W, False))
    close(gpuad.hvp(lambda w: loss(w, True), W, V), gpuad.hvp(lambda w: loss(w, False), W, V))


def test_vjp_swept_twice(xp):
    W, X0, V = data(xp, "W X0 V")
    f = (lambda w: gpuad.checkpoint_loop(make_step(w, []), X0, 12, snapshots=3))
    _, f_vjp = gpuad.vjp(f, W)
    first, second = f_vjp(V), f_vjp(V)
    ref = gpuad.vjp(lambda w: unrolled(make_step(w, []), X0, 12), W)[1](V)
    close(first, ref)
    close(second, ref)


def test_loop_errors_and_edge_cases(xp):
    W, X0 = data(xp, "W X0")
    close(gpuad.checkpoint_loop(make_step(W, []), X0, 0), X0)
    with pytest.raises(ValueError, match="x0 counts as one"):
        gpuad.checkpoint_loop(make_step(W, []), X0, 5, snapshots=0)
    with pytest.raises(ValueError, match="not both"):
        gpuad.checkpoint_loop(make_step(W, []), X0, 5, snapshots=2, memory_budget=10 ** 6)
    with pytest.raises(ValueError, match="holds no snapshot"):
        gpuad.checkpoint_loop(make_step(W, []), X0, 5, memory_budget=8)
    with pytest.raises(TypeError, match="shaped like x0"):
        gpuad.grad(lambda x: gnp.sum(gpuad.checkpoint_loop(lambda s: (s, s), x, 3)[0]))(X0)


# ------------------------------------------------------------------ memory and host reads

def test_peak_bytes_count_each_buffer_once(xp):
    x = xp.linspace(0.1, 1.0, 1000)
    with gpuad.profile() as prof:
        gpuad.grad(lambda x: gnp.sum(x * x))(x)
    # x * x saves x twice: one buffer. The sweep adds the cotangent of x*x and of x.
    assert prof.peak_bytes["forward"] == x.nbytes
    assert x.nbytes < prof.peak_bytes["reverse"] <= 3 * x.nbytes


def test_loop_peak_memory_is_a_few_states(xp):
    n, l, s = 50_000, 200, 5
    w = xp.asarray(rng.standard_normal(n) * 0.1)
    x0 = xp.asarray(rng.standard_normal(n))
    state = x0.nbytes

    def loss(w, x0, ckpt):
        step = (lambda x: x + 0.01 * gnp.sin(w * x))
        xl = (gpuad.checkpoint_loop(step, x0, l, snapshots=s) if ckpt
              else unrolled(step, x0, l))
        return gnp.sum(xl * xl)
    with gpuad.profile() as ck:
        g = gpuad.grad(loss)(w, x0, True)
    with gpuad.profile() as full:
        g0 = gpuad.grad(loss)(w, x0, False)
    close(g, g0)
    peak = max(ck.peak_bytes.values())
    # What may be held at once: the s snapshots; w; one step's tape (its input x, w*x and
    # sin(w*x)); the loop's output, saved by x*x; the cotangents of x_{i+1} and x_i and
    # the accumulated one of w: s + 7 states at most (measured: s + 6), i.e. within 3s
    # states for any s >= 4, whatever l is.
    assert peak <= (s + 7) * state, peak / state
    assert peak <= 3 * s * state
    assert ck.peak_bytes["recompute"] <= (s + 7) * state
    # Without checkpointing every step's tape stays alive: ~3 states per step.
    assert max(full.peak_bytes.values()) >= 2 * l * state
    assert peak * 40 < max(full.peak_bytes.values())
    for prof in (ck, full):
        assert [h for h in prof.host_reads if h.phase == "reverse"] == []


def test_loop_allocations_stay_a_few_states(xp):
    # The engine's own count (above) sees what it holds; this sees every allocation (NumPy:
    # tracemalloc; CuPy: the memory pool's bytes in use, Profile.device_bytes), so nothing
    # else (a registry of fresh buffers, a cache) may keep the recomputed steps alive either.
    import tracemalloc
    n, l, s = 50_000, 200, 5
    w = xp.asarray(rng.standard_normal(n) * 0.1)
    x0 = xp.asarray(rng.standard_normal(n))
    state = x0.nbytes

    def loss(w, x0):
        step = (lambda x: x + 0.01 * gnp.sin(w * x))
        xl = gpuad.checkpoint_loop(step, x0, l, snapshots=s)
        return gnp.sum(xl * xl)
    gpuad.grad(loss)(w, x0)            # builds and loads the kernels first
    if xp is np:
        tracemalloc.start()
        try:
            gpuad.grad(loss)(w, x0)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    else:                              # what is in use before (w, x0, ...) does not count
        import gc
        from gpuad.runtime import launch
        gc.collect()
        before, _ = launch.cuda().memory_in_use()
        with gpuad.profile() as prof:
            gpuad.grad(loss)(w, x0)
        assert prof.device_bytes, prof.device_bytes_note
        peak = max(prof.device_bytes.values()) - before
    # The engine's bound (s + 7 states) plus the temporaries of one step and its VJP.
    assert peak <= (s + 12) * state, peak / state   # measured: 15.1


def _reverse_reads(fun, *args):
    with gpuad.profile() as prof:
        gpuad.grad(fun)(*args)
    assert prof.count("reverse") > 0
    return [h for h in prof.host_reads if h.phase == "reverse"]


def test_no_host_reads_in_reverse_elementwise(xp):
    X0 = data(xp, "X0")
    assert _reverse_reads(lambda x: gnp.sum(gnp.exp(gnp.sin(x) * x) / (1.0 + x * x)),
                          X0) == []


def test_no_host_reads_in_reverse_matmul(xp):
    MX, W1 = data(xp, "MX W1")
    assert _reverse_reads(lambda w: gnp.sum(gnp.tanh(mm(MX, w)) ** 2), W1) == []


def test_no_host_reads_in_reverse_checkpointed_loop_and_segment(xp):
    MX, W1 = data(xp, "MX W1")
    def loss(w):
        seg = gpuad.checkpoint(lambda y: gnp.tanh(mm(y, w)))
        x = gpuad.checkpoint_loop(lambda x: x + 0.1 * seg(x), MX, 20, snapshots=3)
        return gnp.sum(x ** 2)
    assert _reverse_reads(loss, W1) == []


def _nested_bodies(x_shape):
    """Segment bodies (checkpointed form, plain form) that apply, between other
    primitives whose outputs a policy keeps, a construct that is one node when the
    segment is recomputed but runs inline in its first run, or a primitive that
    decomposes only in the recompute (no VJP rule)."""
    M = np.array([[0.3, -0.2, 0.1, 0.4], [0.1, 0.5, -0.3, 0.2], [0.2, 0.1, 0.6, -0.1],
                  [-0.4, 0.3, 0.2, 0.5]])

    @gpuad.custom_vjp
    def cv(z):
        return gnp.sin(z)
    cv.defvjp(lambda z: (gnp.sin(z), z), lambda z, g: (gnp.cos(z) * g,))

    @gpuad.custom_jvp
    def cj(z):
        return gnp.sin(z)
    cj.defjvp(lambda p, t: (gnp.sin(p[0]), gnp.cos(p[0]) * t[0]))
    inner = gpuad.checkpoint(lambda z: gnp.sin(z))
    inner_dots = gpuad.checkpoint(lambda z: gnp.sin(z @ M), policy=policies.dots_saveable)
    wrap = lambda core: (lambda x: gnp.cos((core(x) * x) @ M) * gnp.exp(0.1 * x))
    return {
        "checkpoint": (wrap(inner), wrap(gnp.sin)),
        "checkpoint with a policy": (wrap(inner_dots), wrap(lambda z: gnp.sin(z @ M))),
        "checkpoint_loop": (wrap(lambda z: gpuad.checkpoint_loop(lambda s: gnp.sin(s) * 1.1, z, 3)),
                            wrap(lambda z: gnp.sin(gnp.sin(gnp.sin(z) * 1.1) * 1.1) * 1.1)),
        "checkpoint_loop, 1 snapshot": (
            wrap(lambda z: gpuad.checkpoint_loop(lambda s: gnp.sin(s) * 1.1, z, 3, snapshots=1)),
            wrap(lambda z: gnp.sin(gnp.sin(gnp.sin(z) * 1.1) * 1.1) * 1.1)),
        "custom_vjp": (wrap(cv), wrap(gnp.sin)),
        "custom_jvp": (wrap(cj), wrap(gnp.sin)),
        "prod": (wrap(lambda z: gnp.prod(z) * z), wrap(lambda z: gnp.prod(z) * z)),
        "sort": (wrap(lambda z: gnp.sort(z) * z), wrap(lambda z: gnp.sort(z) * z)),
    }


@pytest.mark.parametrize("policy", [policies.dots_saveable, policies.everything_saveable],
                         ids=["dots_saveable", "everything_saveable"])
@pytest.mark.parametrize("name", list(_nested_bodies((4,))))
def test_policy_outputs_match_when_the_segment_nests_constructs(name, policy, xp):
    """A policy's kept outputs are reused by position in the recompute. A construct
    nested in the segment (checkpoint, checkpoint_loop) ran inline in the first run,
    its primitives' outputs kept, but is one node in the recompute: later primitives
    took those outputs (everything_saveable: a silently wrong gradient, [0.43, 1.19] for
    [1.07, 0.51]; dots_saveable: a shape error). A primitive without a VJP rule (prod,
    sort) decomposed only in the recompute (an error). Each now matches the plain body."""
    seg, plain = _nested_bodies((4,))[name]
    x = xp.asarray(DATA["X0"] * 0.5)
    f = lambda x: gnp.sum(gnp.exp(gpuad.checkpoint(seg, policy=policy)(x)))
    fp = lambda x: gnp.sum(gnp.exp(plain(x)))
    close(gpuad.grad(f)(x), gpuad.grad(fp)(x))
    close(gpuad.hessian(f)(x), gpuad.hessian(fp)(x), rtol=1e-11)
    close(gpuad.grad(lambda x: gnp.sum(gpuad.grad(f)(x) ** 2))(x),
          gpuad.grad(lambda x: gnp.sum(gpuad.grad(fp)(x) ** 2))(x), rtol=1e-11)
    # the segment's own parameters closed over, swept twice through vjp
    w = xp.asarray(DATA["W"])
    g = lambda w: gpuad.checkpoint(lambda x: seg(x * w), policy=policy)(x)
    out, pb = gpuad.vjp(g, w)
    ct = xp.asarray(DATA["V"])
    want = gpuad.vjp(lambda w: plain(x * w), w)[1](ct)
    close(pb(ct), want)
    close(pb(ct), want)


@pytest.mark.parametrize("inner", ["grad", "vjp", "jacrev", "hvp"])
def test_a_transform_inside_a_segment_or_loop_step(inner, xp):
    """A reverse-mode transform inside a checkpointed segment or a checkpoint_loop step
    whose function reads the segment's (or loop's) traced values: its VJP rules return
    None for an operand they were not asked about, and the run that computes without
    taping (a Closure) wrapped that None as a value of shape () (ValueError "cannot
    reshape array of size 1 into shape (4,)" in the first run)."""
    c = xp.asarray(DATA["V"])
    x = xp.asarray(DATA["X0"])
    ops = {
        "grad": lambda w: gpuad.grad(lambda y: gnp.sum(gnp.sin(y) ** 2 * w))(c),
        "vjp": lambda w: gpuad.vjp(lambda y: gnp.sin(y) * w, c)[1](c)[0],
        "jacrev": lambda w: gpuad.jacrev(lambda y: gnp.sin(y) * w)(c) @ c,
        "hvp": lambda w: gpuad.hvp(lambda y: gnp.sum(gnp.sin(y) ** 3 * w), c, c),
    }
    op = ops[inner]
    body = lambda w: gnp.cos(op(w) * w) * w
    plain = lambda x: gnp.sum(body(x))
    close(gpuad.grad(lambda x: gnp.sum(gpuad.checkpoint(body)(x)))(x), gpuad.grad(plain)(x))
    close(gpuad.grad(lambda x: gnp.sum(gpuad.checkpoint(
        body, policy=policies.everything_saveable)(x)))(x), gpuad.grad(plain)(x))
    loop = lambda x: gnp.sum(gpuad.checkpoint_loop(lambda s: s + 0.1 * body(s), x, 3,
                                                   snapshots=1))

    def unrolled(x):
        for _ in range(3):
            x = x + 0.1 * body(x)
        return gnp.sum(x)
    close(gpuad.grad(loop)(x), gpuad.grad(unrolled)(x))
    close(gpuad.hvp(loop, x, c), gpuad.hvp(unrolled, x, c), rtol=1e-11)


@pytest.mark.parametrize("snapshots", [1, 2, None])
def test_a_transform_inside_a_loop_step_reads_the_parameters(snapshots, xp):
    """A grad (or jvp) inside a checkpoint_loop step (or a checkpointed segment) that
    reads a parameter of the enclosing grad: in the reverse sweep's recompute the
    enclosing trace has finished and the parameter is read through the construct's
    substitution or capture, but the inner transform met it first and called it an
    escaped tracer (RuntimeError)."""
    x = xp.asarray(DATA["X0"] * 0.5)
    w = xp.asarray(DATA["W"])
    c = xp.asarray(DATA["V"])
    inner = {
        "grad": lambda s, w: gpuad.grad(lambda y: gnp.sum(s * gnp.sin(y * s * w)))(c),
        "jvp": lambda s, w: gpuad.jvp(lambda y: s * gnp.sin(y * s * w), (c,), (c,))[1],
    }
    for name, op in inner.items():
        step = lambda s, w: s + 0.1 * gnp.tanh(op(s, w))

        def looped(w, x):
            return gnp.sum(gpuad.checkpoint_loop(lambda s: step(s, w), x, 4,
                                                 snapshots=snapshots) ** 2)

        def segmented(w, x):
            for _ in range(4):
                x = gpuad.checkpoint(lambda s: step(s, w))(x)
            return gnp.sum(x ** 2)

        def unrolled(w, x):
            for _ in range(4):
                x = step(x, w)
            return gnp.sum(x ** 2)
        want = gpuad.grad(unrolled, argnums=(0, 1))(w, x)
        close(gpuad.grad(looped, argnums=(0, 1))(w, x), want)
        close(gpuad.grad(segmented, argnums=(0, 1))(w, x), want)
        # the state itself closed over (the parameter is the initial state)
        close(gpuad.grad(lambda w: looped(w, w))(w), gpuad.grad(lambda w: unrolled(w, w))(w))


@pytest.mark.parametrize("snapshots", [1, 2, None])
def test_loop_state_with_an_integer_counter(snapshots, xp):
    """An integer (or boolean) leaf of the state, a step counter: no derivative, and the
    other leaves' derivatives as the unrolled loop's (the sweep summed the counter's
    integer cotangents: TypeError "gpuad kernels support float32, ..., not int64"), in
    grad, hessian and hvp, the counter also read after the loop."""
    x = xp.asarray(DATA["X0"] * 0.5)

    def step(s):
        y, i, flag = s
        return (y * 0.9 + 0.1 * gnp.sin(y) * (i + 1) * gnp.where(flag, 1.0, 2.0), i + 1,
                gnp.logical_not(flag))

    def looped(x):
        y, i, _ = gpuad.checkpoint_loop(step, (x, xp.asarray(0), xp.asarray(True)), 5,
                                        snapshots=snapshots)
        return gnp.sum(y ** 2) * i

    def unrolled(x):
        s = (x, xp.asarray(0), xp.asarray(True))
        for _ in range(5):
            s = step(s)
        return gnp.sum(s[0] ** 2) * s[1]
    close(gpuad.grad(looped)(x), gpuad.grad(unrolled)(x))
    close(gpuad.hessian(looped)(x), gpuad.hessian(unrolled)(x), rtol=1e-11)
    v = xp.asarray(DATA["V"])
    close(gpuad.hvp(looped, x, v), gpuad.hvp(unrolled, x, v), rtol=1e-11)


@pytest.mark.parametrize("policy", [None, policies.dots_saveable, policies.everything_saveable])
def test_checkpoint_of_one_traced_value_passed_twice(policy, xp):
    """The same traced value passed as two (or three) arguments is one input of the node;
    its inputs were counted once per argument, so the closure's values were taken from
    the wrong positions: the segment read None for the second argument (TypeError) or a
    closed-over parameter as an escaped tracer (RuntimeError)."""
    w = xp.asarray(DATA["W"])
    u = xp.asarray(DATA["V"])
    x = xp.asarray(DATA["X0"])
    f = lambda w, u_: gnp.sum(gpuad.checkpoint(
        lambda a, b, c: gnp.sin(a * b) * c * u_ + gnp.tanh(x * b), policy=policy)(w, w, w))
    fp = lambda w, u_: gnp.sum(gnp.sin(w * w) * w * u_ + gnp.tanh(x * w))
    close(gpuad.grad(f, argnums=(0, 1))(w, u), gpuad.grad(fp, argnums=(0, 1))(w, u))
    close(gpuad.hessian(lambda w: f(w, u))(w), gpuad.hessian(lambda w: fp(w, u))(w), rtol=1e-11)
    pair = gpuad.checkpoint(lambda a, b: (a, b * 2.0), policy=policy)
    g = lambda w: (lambda o: gnp.sum(o[0] * o[1]))(pair(w, w))
    close(gpuad.grad(g)(w), 4 * w)


@pytest.mark.parametrize("policy", [None, policies.dots_saveable, policies.everything_saveable])
def test_checkpoint_argument_also_closed_over(policy, xp):
    """A traced value passed to the segment and also read by it as a closure
    (checkpoint(lambda z: tanh(z) * x)(x)): the recompute substituted only the argument,
    so the closure read the finished trace's tracer (RuntimeError "escaped") in grad,
    hessian and jacrev."""
    x = xp.asarray(DATA["X0"] * 0.5)
    M = xp.asarray(np.array([[0.3, -0.2, 0.1, 0.4], [0.1, 0.5, -0.3, 0.2],
                             [0.2, 0.1, 0.6, -0.1], [-0.4, 0.3, 0.2, 0.5]]))
    f = lambda x: gpuad.checkpoint(lambda z: M @ gnp.tanh(z) * x + gnp.sin(x), policy=policy)(x)
    fp = lambda x: M @ gnp.tanh(x) * x + gnp.sin(x)
    close(gpuad.grad(lambda x: gnp.sum(f(x) ** 2))(x), gpuad.grad(lambda x: gnp.sum(fp(x) ** 2))(x))
    close(gpuad.hessian(lambda x: gnp.sum(f(x) ** 2))(x),
          gpuad.hessian(lambda x: gnp.sum(fp(x) ** 2))(x), rtol=1e-11)
    close(gpuad.jacrev(f)(x), gpuad.jacfwd(fp)(x))


@pytest.mark.parametrize("snapshots", [1, 2, None])
def test_loop_integer_counter_stays_integer_in_the_untaped_steps(snapshots, xp):
    """The forward pass's (and the recomputations') untaped steps routed an integer or
    boolean leaf through the Closure run, whose arithmetic went to the float kernels: the
    counter came back float64, so a step indexing with it raised IndexError, ~flag raised
    TypeError, and the counter after the loop was a float."""
    w = xp.asarray(DATA["X0"][:4] * 0.5)
    x = xp.asarray(DATA["X0"][:2])

    def step(s, w_):
        y, i, flag = s
        return y * w_[i] * gnp.where(flag, 2.0, 1.0), i + 1, ~flag

    def looped(w_):
        y, i, flag = gpuad.checkpoint_loop(lambda s: step(s, w_),
                                           (x, xp.asarray(0), xp.asarray(True)), 4,
                                           snapshots=snapshots)
        assert i.dtype.kind == "i" and flag.dtype == bool
        return gnp.sum(y ** 2) * i

    def unrolled(w_):
        s = (x, xp.asarray(0), xp.asarray(True))
        for _ in range(4):
            s = step(s, w_)
        return gnp.sum(s[0] ** 2) * s[1]
    close(gpuad.grad(looped)(w), gpuad.grad(unrolled)(w))
    close(gpuad.hessian(looped)(w), gpuad.hessian(unrolled)(w), rtol=1e-11)


@pytest.mark.parametrize("construct", ["checkpoint", "checkpoint_loop"])
def test_arrays_the_recompute_reads_are_held_until_the_pullback_ran(construct):
    # A newcomer's review: the sweep recomputes a segment (a loop's steps) reading the
    # caller's closed-over array again; a write into it between vjp and the pullback
    # changed the derivative silently (a plain f refused the write).
    import gc
    from gpuad import tape
    W = np.array([1.0, 2.0, 3.0])
    x = np.array([0.1, 0.2, 0.3])
    if construct == "checkpoint":
        f = gpuad.checkpoint(lambda u: gnp.sin(u) * W)
    else:
        f = lambda u: gpuad.checkpoint_loop(lambda s: gnp.sin(s) * W, u, 4, snapshots=2)
    want = gpuad.grad(lambda u: gnp.sum(f(u)))(x)
    _, pb = gpuad.vjp(f, x)
    with pytest.raises(ValueError, match="read-only"):
        W[:] = 100.0
    np.testing.assert_array_equal(pb(np.ones(3))[0], want)
    del pb
    gc.collect()
    W[:] = 5.0                        # free again once no tape needs it
    assert id(W) not in tape._HOLDS


# ------------------------------------------------------------------ what the rerun reads

def test_zero_d_constants_are_held_read_only_in_every_mode():
    """A 0-d NumPy constant written between vjp and its pullback changed the gradient
    silently (plain, checkpoint and checkpoint_loop): held read-only like larger ones."""
    x = np.array([0.3, -0.7, 1.1])
    for kind in ("plain", "checkpoint", "checkpoint_loop"):
        c = np.array(2.0)
        f = {"plain": lambda x: gnp.sin(x * c),
             "checkpoint": lambda x: gpuad.checkpoint(lambda z: gnp.sin(z * c))(x),
             "checkpoint_loop": lambda x: gpuad.checkpoint_loop(lambda z: gnp.sin(z * c), x, 2,
                                                                snapshots=1)}[kind]
        _, pb = gpuad.vjp(f, x)
        with pytest.raises(ValueError, match="read-only"):
            c[...] = 5.0
        want = pb(np.ones(3))[0]
        del pb
        c[...] = 5.0                     # writable again once the pullback is dropped
        assert np.isfinite(want).all()


def test_checkpoint_loop_holds_its_initial_state():
    """x0, a plain array, is the first snapshot: reusing its buffer after the loop changed
    the recomputed steps (the gradient silently another loop's); now the write raises."""
    w = np.array([0.5, -0.4, 1.1])

    def f(u):
        buf = np.array([0.3, 0.7, -1.2])
        y = gpuad.checkpoint_loop(lambda y: gnp.sin(y * u) + y, buf, 4, snapshots=2)
        buf[:] = 0.0
        return gnp.sum(y)
    with pytest.raises(ValueError, match="read-only"):
        gpuad.grad(f)(w)
    assert np.isfinite(gpuad.grad(lambda u: gnp.sum(gnp.sin(u)))(w)).all()   # still usable


def test_checkpoint_rerun_that_differs_raises_naming_checkpoint():
    """A segment reading c by Python indexing (no primitive sees c, nothing holds it): c
    written before the pullback made the rerun another function, silently."""
    x = np.array([0.3, 0.7, -1.2])
    c = np.array([1.0, 2.0, 3.0])
    seg = gpuad.checkpoint(lambda z: gnp.sin(z) * c[1])
    _, pb = gpuad.vjp(lambda z: gnp.sum(seg(z) ** 2), x)
    c[:] = 5.0
    with pytest.raises(RuntimeError, match="checkpoint.*differ from the forward"):
        pb(1.0)
    # unchanged: the same segment differentiates as before
    c[:] = [1.0, 2.0, 3.0]
    _, pb = gpuad.vjp(lambda z: gnp.sum(seg(z) ** 2), x)
    np.testing.assert_allclose(pb(1.0)[0], 2 * np.sin(x) * np.cos(x) * 4.0, rtol=1e-14)


@pytest.mark.parametrize("counter", [0, False, np.int64(0)])
def test_checkpoint_loop_python_int_or_bool_leaf(counter):
    """A Python int or bool in the state (a step counter) crashed under grad: it was read
    as a float input. It is a plain value, as NumPy integers are."""
    w, x0 = np.array([0.5, 1.5]), np.array([0.3, -0.7])

    def L(w):
        xT, i = gpuad.checkpoint_loop(lambda st: (st[0] * w + st[1], st[1] + 1), (x0, counter), 3)
        return gnp.sum(xT)
    want = gpuad.grad(lambda w: gnp.sum(((x0 * w + 0) * w + 1) * w + 2))(w)
    np.testing.assert_allclose(gpuad.grad(L)(w), want, rtol=1e-14)


def test_checkpoint_and_loop_argument_errors_name_the_function_and_argument():
    x, w = np.array([0.3, -0.7, 1.1]), np.array([0.5, 1.5, -0.8])
    g = gpuad.grad
    with pytest.raises(TypeError, match="checkpoint_loop: n_steps must be an integer.*3.0"):
        g(lambda w: gnp.sum(gpuad.checkpoint_loop(lambda z: z * w, x, 3.0)))(w)
    with pytest.raises(TypeError, match="checkpoint_loop: n_steps must be an integer, got a bool"):
        g(lambda w: gnp.sum(gpuad.checkpoint_loop(lambda z: z * w, x, True)))(w)
    with pytest.raises(TypeError, match="checkpoint_loop: step returned None"):
        g(lambda w: gnp.sum(gpuad.checkpoint_loop(lambda z: None, x * w, 3)))(w)
    with pytest.raises(TypeError, match="checkpoint_loop: the state x0 has a None leaf"):
        gpuad.checkpoint_loop(lambda z: z, None, 3)
    with pytest.raises(TypeError, match="checkpoint_loop: step must be a function"):
        gpuad.checkpoint_loop(3, x, 3)
    with pytest.raises(TypeError, match="checkpoint: fun must be a function"):
        gpuad.checkpoint(3)
    with pytest.raises(TypeError, match="checkpoint: policy must be a function.*'dots'"):
        gpuad.checkpoint(gnp.sin, policy="dots")
    np.testing.assert_allclose(g(lambda w: gnp.sum(gpuad.checkpoint(gnp.sin)(w)))(w), np.cos(w))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_value_first_read_in_the_loops_last_step_inside_a_nested_construct(n):
    """A traced value met first in the loop's last step (taped in the forward pass) inside
    a checkpoint or a custom function there went below its trace (a spurious
    EscapedTracer; with one step always). Against the unrolled loop."""
    x, w = np.array([0.3, -0.7, 1.1]), np.array([0.5, 1.5, -0.8])

    @gpuad.custom_vjp
    def cv(q):
        return gnp.sin(q)
    cv.defvjp(lambda q: (gnp.sin(q), (q,)), lambda r, g: (g * gnp.cos(r[0]),))
    steps = {
        "checkpoint": lambda u: lambda z: gpuad.checkpoint(lambda q: gnp.sin(q * u))(z),
        "checkpoint, u passed": lambda u: lambda z: gpuad.checkpoint(
            lambda q, uu: gnp.sin(q * uu))(z, u),
        "custom_vjp": lambda u: lambda z: cv(z * u),
        "custom_vjp in checkpoint": lambda u: lambda z: gpuad.checkpoint(lambda q: cv(q * u))(z),
    }

    def unrolled(u):
        z = x
        for _ in range(n):
            z = gnp.sin(z * u)
        return gnp.sum(z)
    want = gpuad.grad(unrolled)(w)
    for name, make in steps.items():
        got = gpuad.grad(lambda u: gnp.sum(gpuad.checkpoint_loop(make(u), x, n, snapshots=1)))(w)
        np.testing.assert_allclose(got, want, rtol=1e-14, err_msg=name)


def test_loop_step_returning_a_closed_over_value_unchanged():
    """(u, b a): u, a value of the enclosing grad, returned as it is; it escaped."""
    x, w = np.array([0.3, 0.7, -1.2]), np.array([0.5, -0.4, 1.1])
    for s in (1, 2):
        g = gpuad.grad(lambda u: gnp.sum(gpuad.checkpoint_loop(
            lambda st: (u, st[1] * st[0]), (x, x), 2, snapshots=s)[1]))(w)
        np.testing.assert_allclose(g, x * x, rtol=1e-15)


def test_rerun_check_has_no_false_alarm_on_a_caller_writing_its_output():
    """The caller's own output written before the pullback (r -= target; pb(r)) is not the
    segment's rerun differing: fingerprints are taken when the forward pass makes them."""
    x, target = np.array([0.3, -0.7, 1.1]), 1.0
    r, pb = gpuad.vjp(gpuad.checkpoint(lambda p: gnp.sin(p) * 3), x)
    r -= target
    np.testing.assert_allclose(pb(r)[0], (3 * np.sin(x) - 1) * 3 * np.cos(x), rtol=1e-14)


# ------------------------------------------------------------------ checkpoint_loop: impure steps

COEF = np.linspace(0.5, 1.5, 64)
XS = np.array([0.3, -0.7, 1.1])


def counter_step(w, counts=None):
    """x -> sin(x w c[i]) with the step index i kept by the step (a nonlocal): the sweep's
    reruns count on, so they computed another loop and the gradient was silently wrong."""
    i = -1

    def counted(x):
        nonlocal i
        i += 1
        return gnp.sin(x * w * float(COEF[i]))
    return counted


def unrolled_counter(w, x, n):
    for i in range(n):
        x = gnp.sin(x * w * float(COEF[i]))
    return x


def first_rerun(l, s):
    """The step the sweep evaluates first after the forward pass (its first rerun)."""
    sched = gpuad.revolve_schedule(l, s)
    return next(a.a for a in sched.actions[sched.forward + 1:]
                if a.kind in ("advance", "reverse"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize("snapshots", [1, 2, 4, 9, None])    # 9, None: every state stored
def test_loop_step_with_a_nonlocal_counter_raises_naming_step_and_index(snapshots, dtype):
    """Storing every state still reruns steps (each taped once in the sweep, 2l-1 in all),
    so every snapshot count is checked; the first rerun is the one reported. After the
    error the engine works, and the way out (the counter in the state) is right."""
    w, x0 = np.array([0.9, 1.1, 1.3]).astype(dtype), XS.astype(dtype)
    k = first_rerun(10, 10 if snapshots is None else snapshots)
    msg = (rf"gpuad\.checkpoint_loop: .* step {k} of counter_step\.<locals>\.counted .*"
           r"pure function of its state.*integer leaf")

    def loss(u):
        return gnp.sum(gnp.abs(gpuad.checkpoint_loop(counter_step(u), x0, 10,
                                                     snapshots=snapshots)) ** 2)
    with pytest.raises(RuntimeError, match=msg):
        gpuad.grad(loss)(w)
    _, pb = gpuad.vjp(lambda u: gpuad.checkpoint_loop(counter_step(u), x0, 10,
                                                       snapshots=snapshots), w)
    with pytest.raises(RuntimeError, match=msg):
        pb(x0)
    np.testing.assert_allclose(gpuad.grad(lambda u: gnp.sum(gnp.sin(u)))(np.real(w)),
                               np.cos(np.real(w)), rtol=1e-6)

    def fixed(u):               # the counter carried in the state, as an integer leaf
        def step(st):
            return gnp.sin(st[0] * u * float(COEF[st[1]])), st[1] + 1
        xT, _ = gpuad.checkpoint_loop(step, (x0, 0), 10, snapshots=snapshots)
        return gnp.sum(gnp.abs(xT) ** 2)
    want = gpuad.grad(lambda u: gnp.sum(gnp.abs(unrolled_counter(u, x0, 10)) ** 2))(w)
    np.testing.assert_allclose(gpuad.grad(fixed)(w), want,
                               rtol=1e-4 if dtype == np.float32 else 1e-12)


def test_loop_of_one_step_is_never_rerun_so_a_counter_is_harmless():
    """One step is taped in the forward pass and swept as it is: nothing reruns, nothing
    is checked, and the gradient is right."""
    w, calls = np.array([0.9, 1.1, 1.3]), []

    def loss(u):
        step = counter_step(u)
        return gnp.sum(gpuad.checkpoint_loop(lambda x: calls.append(1) or step(x), XS, 1,
                                             snapshots=1) ** 2)
    got = gpuad.grad(loss)(w)
    assert len(calls) == 1
    np.testing.assert_allclose(
        got, gpuad.grad(lambda u: gnp.sum(unrolled_counter(u, XS, 1) ** 2))(w), rtol=1e-14)


@pytest.mark.parametrize("snapshots", [1, 3, None])
def test_loop_step_appending_to_a_list(snapshots):
    """A list the step grows and reads (its length scales the step) makes each rerun
    another step: caught. One it only appends to (a log) changes no value: harmless, the
    gradient is the unrolled loop's, and the log holds one entry per evaluation, T(l, s)."""
    w, l = np.array([0.9, 1.1, 1.3]), 12
    s = l if snapshots is None else snapshots

    def growing(u):
        seen = []

        def step(x):
            seen.append(x)
            return gnp.sin(x * u) * (1.0 + 0.01 * len(seen))
        return step
    with pytest.raises(RuntimeError, match=rf"checkpoint_loop: .* step {first_rerun(l, s)} "
                                           r"of test_loop_step_appending_to_a_list"):
        gpuad.grad(lambda u: gnp.sum(gpuad.checkpoint_loop(growing(u), XS, l,
                                                           snapshots=snapshots)))(w)
    log = []

    def logged(u):
        def step(x):
            log.append(x)
            return gnp.sin(x * u) + 0.1 * x
        return step
    got = gpuad.grad(lambda u: gnp.sum(gpuad.checkpoint_loop(logged(u), XS, l,
                                                             snapshots=snapshots)))(w)
    assert len(log) == T(l, s)
    want = gpuad.grad(lambda u: gnp.sum(unrolled(logged(u), XS, l)))(w)
    np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("snapshots", [1, 3, 7, None])
def test_rerun_check_has_no_false_alarm_on_a_chaotic_map(snapshots, dtype):
    """The logistic map at r = 3.9 over 50 steps doubles rounding errors every step or so,
    but a rerun of a pure step from a stored state is the same arithmetic: no false alarm,
    in float64 or float32, and the gradient (about 1e11) is the unrolled loop's. Under hvp
    the dual values' primals are checked too."""
    x0 = np.linspace(0.1, 0.9, 7).astype(dtype)
    r0 = np.array(3.9, dtype=dtype)

    def loss(r, ck):
        step = (lambda x: r * x * (1 - x))
        xT = (gpuad.checkpoint_loop(step, x0, 50, snapshots=snapshots) if ck
              else unrolled(step, x0, 50))
        return gnp.sum(xT)
    got, want = gpuad.grad(loss)(r0, True), gpuad.grad(loss)(r0, False)
    assert got.dtype == dtype and abs(want) > 1e9
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    if dtype == np.float64:
        np.testing.assert_allclose(gpuad.hvp(lambda r: loss(r, True), r0, np.array(1.0)),
                                   gpuad.hvp(lambda r: loss(r, False), r0, np.array(1.0)),
                                   rtol=1e-10)
