"""``python -m gpuad selftest``: one command for the first minutes on a machine, GPU or not.

It runs the CuPy-parametrized tests (NumPy's on a CPU), times the elementwise kernels
against a device-to-device copy of the same run, the 100-op chain, grad/forward, batched
HVPs and checkpointed gradients, counts host syncs in the reverse phase and launches per
elementwise VJP, runs PyTorch and JAX on the same workloads where they import (each in its
own process), and writes ``<report>.json`` and ``<report>.md``. Nothing beyond gpuad, NumPy
and (for the tests) pytest is needed; what is missing is reported as skipped, with why.
Everything stops within ``--budget`` seconds. README.md ("Self-test") documents the
output.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

SCHEMA = 1
QUICK_TESTS = ["tests/test_transforms.py", "tests/test_second_order.py",
               "tests/test_checkpoint.py", "tests/test_custom.py",
               "tests/test_ops.py::test_sin", "tests/test_ops.py::test_multiply",
               "tests/test_ops.py::test_matmul", "tests/test_ops.py::test_sum",
               "tests/test_ops.py::test_where"]
UNARY, BINARY = ("sin", "exp", "tanh", "sigmoid"), ("multiply", "divide")
DEFAULT_SIZE = {"cuda": 1 << 26, "cpu": 1 << 22}
VJP_GOAL = 0.8        # fraction of the copy bandwidth the fused VJPs aim for on a GPU


class Budget:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


# ------------------------------------------------------------------ tests

_LOG: list = []      # the outcome log of this pytest process (the plugin below)


def pytest_addoption(parser):
    """pytest plugin (``-p gpuad.selftest --gpuad-selftest-log PATH``)."""
    parser.addoption("--gpuad-selftest-log", default=None)


def pytest_configure(config):
    _LOG[:] = [config.getoption("--gpuad-selftest-log")]


def pytest_runtest_logreport(report):
    """One line per test outcome, written as it happens, so a run stopped by the budget
    still counts what finished."""
    path = _LOG[0] if _LOG else None
    if path and (report.when == "call" or report.outcome != "passed"):
        with open(path, "a") as f:
            f.write(f"{report.outcome}\t{report.nodeid}\n")


def run_tests(device, quick, seconds, paths=None):
    """The CuPy-parametrized tests (marked gpu) on a GPU, their NumPy counterparts on a
    CPU (of ``paths``, else all or the quick subset); counts of passed, failed and skipped,
    and the failures' ids."""
    root = pathlib.Path(__file__).resolve().parents[1]
    if not (root / "tests" / "conftest.py").exists():
        return {"status": "skipped: tests/ not found (install gpuad from a source checkout "
                          "with pip install --no-deps -e .)"}
    try:
        import pytest  # noqa: F401
    except ImportError:
        return {"status": "skipped: pytest is not installed"}
    if seconds < 20:
        return {"status": f"skipped: budget ({seconds:.0f} s left)"}
    targets = paths or (QUICK_TESTS if quick else ["tests"])
    select = ["-m", "gpu"] if device == "cuda" else ["-m", "not gpu", "-k", "numpy"]
    with tempfile.TemporaryDirectory() as tmp:
        log = pathlib.Path(tmp) / "outcomes.txt"
        log.touch()
        # python -m puts the checkout (cwd) first on sys.path: its gpuad is the one tested
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
               "gpuad.selftest", "--gpuad-selftest-log", str(log), *select, *targets]
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=seconds)
            status, tail = ("passed" if r.returncode == 0 else
                            "no tests ran" if r.returncode == 5 else "failed"), r.stdout[-2000:]
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            status, tail = f"stopped by the budget after {seconds:.0f} s", out[-2000:]
        lines = [ln.split("\t", 1) for ln in log.read_text().splitlines() if "\t" in ln]
    counts = {k: sum(1 for o, _ in lines if o == k) for k in ("passed", "failed", "skipped")}
    return {"status": status, "selection": " ".join(select + targets), **counts,
            "failures": [n for o, n in lines if o == "failed"][:50],
            "seconds": round(time.monotonic() - t0, 1), "output_tail": tail}


# ------------------------------------------------------------------ timing

def timed(dev, fn, budget, target=0.25, max_reps=50):
    """Seconds per call of ``fn`` (the median of a few batches of calls launched back to
    back, the device synchronized around each batch), after one warm-up call."""
    fn()
    dev.synchronize()
    t = time.perf_counter()
    fn()
    dev.synchronize()
    one = max(time.perf_counter() - t, 1e-7)
    reps = int(min(max_reps, max(1, target / one)))
    batches = []
    for _ in range(3):
        if budget.left() < 3 * reps * one:
            break
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        dev.synchronize()
        batches.append((time.perf_counter() - t) / reps)
    return statistics.median(batches) if batches else one


def _f(gnp):
    return lambda x: gnp.sum(gnp.sin(x) * x ** 2)


def _chain(gnp):
    def chain(x):
        for _ in range(50):
            x = gnp.sin(x) * 1.01
        return gnp.sum(x)
    return chain


def bench_elementwise(dev, n, budget):
    """Forward and fused VJP kernels on n float64 elements against a copy of n elements;
    bytes are those a kernel must move (forward: x in, out; unary VJP: x, g in, gx out;
    binary VJP: x, y, g in, gx, gy out)."""
    import gpuad
    import gpuad.numpy as gnp
    xp = dev.xp
    x = xp.linspace(0.1, 0.9, n)
    y = xp.linspace(1.1, 1.9, n)
    g = xp.ones(n)
    buf = xp.empty_like(x)
    copy = timed(dev, lambda: xp.copyto(buf, x), budget)
    copy_bw = 2 * x.nbytes / copy
    rows = [{"kernel": "copy (device to device)", "ms": copy * 1e3,
             "GB/s": copy_bw / 1e9, "fraction": 1.0}]
    for name in UNARY + BINARY:
        if budget.left() < 5:
            rows.append({"kernel": name, "skipped": "budget"})
            continue
        f = getattr(gnp, name)
        args = (x,) if name in UNARY else (x, y)
        fwd = timed(dev, lambda: f(*args), budget)
        _, f_vjp = gpuad.vjp(f, *args)
        vjp = timed(dev, lambda: f_vjp(g), budget)
        for kind, t, arrays in (("fwd", fwd, len(args) + 1), ("vjp", vjp, 2 * len(args) + 1)):
            bw = arrays * x.nbytes / t
            rows.append({"kernel": f"{name}_{kind}", "ms": t * 1e3, "GB/s": bw / 1e9,
                         "fraction": bw / copy_bw})
    vjps = [r["fraction"] for r in rows if r["kernel"].endswith("_vjp")]
    return {"n": n, "dtype": "float64", "rows": rows,
            "vjp_fraction_min": min(vjps) if vjps else None}


def bench_programs(dev, sizes, budget):
    """grad/forward on sum(sin(x) x^2), the 100-op chain's per-op cost, batched HVP per
    direction, checkpointed gradients."""
    import gpuad
    import gpuad.numpy as gnp
    xp, out = dev.xp, {}
    f = _f(gnp)
    x = xp.asarray(np.random.default_rng(0).uniform(-1, 1, sizes["grad"]))
    fwd = timed(dev, lambda: f(x), budget)
    grd = timed(dev, lambda: gpuad.grad(f)(x), budget)
    out["grad"] = {"n": sizes["grad"], "forward_ms": fwd * 1e3, "grad_ms": grd * 1e3,
                   "grad/forward": grd / fwd}
    if budget.left() > 5:
        x10 = xp.linspace(0.1, 0.9, 10)
        t = timed(dev, lambda: gpuad.grad(_chain(gnp))(x10), budget)
        out["chain"] = {"ops": 100, "n": 10, "grad_ms": t * 1e3, "per_op_us": t / 100 * 1e6}
    if budget.left() > 5:
        n, K = sizes["hvp"], 16
        xh = xp.asarray(np.random.default_rng(1).uniform(-1, 1, n))
        V = xp.asarray(np.random.default_rng(2).standard_normal((K, n)))
        one = timed(dev, lambda: gpuad.hvp(f, xh, V[0]), budget)
        many = timed(dev, lambda: gpuad.hvp(f, xh, V, batched=True), budget)
        out["hvp"] = {"n": n, "K": K, "single_ms": one * 1e3, "batched_ms": many * 1e3,
                      "per_direction_ms": many / K * 1e3}
    if budget.left() > 5:
        n, steps, s = sizes["checkpoint"], 100, 5
        w = xp.asarray(np.random.default_rng(3).uniform(-1, 1, n))
        x0 = xp.asarray(np.random.default_rng(4).uniform(-1, 1, n))

        def loss(w, snaps):
            step = lambda v: v + 0.01 * gnp.sin(w * v)   # noqa: E731
            if snaps is None:
                v = x0
                for _ in range(steps):
                    v = step(v)
            else:
                v = gpuad.checkpoint_loop(step, x0, steps, snapshots=snaps)
            return gnp.sum(v * v)
        res = {"n": n, "steps": steps, "snapshots": s}
        for key, snaps in (("plain", None), ("checkpointed", s)):
            t = timed(dev, lambda: gpuad.grad(lambda w: loss(w, snaps))(w), budget, max_reps=5)
            with gpuad.profile() as prof:
                gpuad.grad(lambda w: loss(w, snaps))(w)
            res[key] = {"grad_ms": t * 1e3, "peak_bytes": max(prof.peak_bytes.values()),
                        "device_bytes": max(prof.device_bytes.values(), default=None)}
        out["checkpoint"] = res
    return out


def count_reverse(dev):
    """Host syncs and host reads in the reverse phase, the checkpoint's recomputation
    included (must be 0), and launches per elementwise VJP (1)."""
    import gpuad
    import gpuad.numpy as gnp
    xp = dev.xp
    x = xp.linspace(0.1, 0.9, 1000)
    w = xp.asarray(np.random.default_rng(0).standard_normal((1000, 8)))

    def program(x):
        seg = gpuad.checkpoint(lambda v: gnp.tanh(v) * v)
        z = gnp.exp(gnp.sin(x) * x) / (1.0 + x * x)
        return gnp.sum(seg(z) @ w) + gnp.max(z) + gnp.sum(gnp.where(x > 0.5, z, 0.0))
    _, f_vjp = gpuad.vjp(program, x)
    ct = xp.asarray(1.0)
    f_vjp(ct)                              # kernels built, caches warm
    with gpuad.profile() as prof, dev.count_syncs() as syncs:
        f_vjp(ct)
    launches = {}
    for name in UNARY + BINARY:
        f = getattr(gnp, name)
        args = (x,) if name in UNARY else (x, x + 1.0)
        _, fv = gpuad.vjp(f, *args)
        with gpuad.profile() as p:
            fv(xp.ones(1000))
        launches[name] = p.count("reverse")
    return {"reverse_host_syncs": syncs.count,
            "reverse_host_reads": sum(1 for h in prof.host_reads
                                      if h.phase in ("reverse", "recompute")),
            "reverse_launches": prof.count("reverse"),
            "launches_per_elementwise_vjp": launches}


# ------------------------------------------------------------------ peers

PEER = r'''
import json, sys, time, statistics
lib, want_cuda, n_elt, n_grad, n_hvp = sys.argv[1], sys.argv[2] == "cuda", *map(int, sys.argv[3:6])
def timed(fn, sync, target=0.25, max_reps=50):
    fn(); sync(); t = time.perf_counter(); fn(); sync(); one = max(time.perf_counter() - t, 1e-7)
    reps = int(min(max_reps, max(1, target / one))); b = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps): fn()
        sync(); b.append((time.perf_counter() - t) / reps)
    return statistics.median(b)
out = {}
if lib == "torch":
    import torch
    dev = "cuda" if want_cuda and torch.cuda.is_available() else "cpu"
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    out["device"] = torch.cuda.get_device_name() if dev == "cuda" else "cpu"
    out["version"] = torch.__version__
    kw = dict(dtype=torch.float64, device=dev)
    x = torch.linspace(0.1, 0.9, n_elt, **kw); buf = torch.empty_like(x)
    copy = timed(lambda: buf.copy_(x), sync); s = timed(lambda: torch.sin(x), sync)
    out["sin_fwd_fraction"] = (2 * x.numel() * 8 / s) / (2 * x.numel() * 8 / copy)
    f = lambda x: (torch.sin(x) * x ** 2).sum()
    xg = torch.linspace(-1, 1, n_grad, **kw)
    def grad(): xr = xg.clone().requires_grad_(True); return torch.autograd.grad(f(xr), xr)
    fw, gr = timed(lambda: f(xg), sync), timed(grad, sync)
    out["grad"] = {"forward_ms": fw * 1e3, "grad_ms": gr * 1e3, "grad/forward": gr / fw}
    x10 = torch.linspace(0.1, 0.9, 10, **kw)
    def chain():
        xr = x10.clone().requires_grad_(True); v = xr
        for _ in range(50): v = torch.sin(v) * 1.01
        return torch.autograd.grad(v.sum(), xr)
    out["chain_per_op_us"] = timed(chain, sync) / 100 * 1e6
    xh = torch.linspace(-1, 1, n_hvp, **kw); V = torch.randn(16, n_hvp, **kw)
    from torch.func import grad as fgrad, jvp, vmap
    hv = lambda v: jvp(fgrad(f), (xh,), (v,))[1]
    out["hvp_per_direction_ms"] = timed(lambda: vmap(hv)(V), sync) / 16 * 1e3
else:
    import jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    dev = jax.devices()[0]
    out["device"] = f"{dev.platform}: {getattr(dev, 'device_kind', '')}"; out["version"] = jax.__version__
    sync = lambda: None
    block = lambda fn: (lambda: jax.block_until_ready(fn()))
    x = jnp.linspace(0.1, 0.9, n_elt)
    copy = timed(block(jax.jit(lambda: x + 0.0)), sync); s = timed(block(jax.jit(lambda: jnp.sin(x))), sync)
    out["sin_fwd_fraction"] = copy / s
    f = lambda x: jnp.sum(jnp.sin(x) * x ** 2)
    xg = jnp.linspace(-1, 1, n_grad)
    fj, gj = jax.jit(f), jax.jit(jax.grad(f))
    fw, gr = timed(block(lambda: fj(xg)), sync), timed(block(lambda: gj(xg)), sync)
    out["grad"] = {"forward_ms": fw * 1e3, "grad_ms": gr * 1e3, "grad/forward": gr / fw, "jit": True}
    def chain(v):
        for _ in range(50): v = jnp.sin(v) * 1.01
        return jnp.sum(v)
    x10 = jnp.linspace(0.1, 0.9, 10); cg = jax.grad(chain)
    out["chain_per_op_us"] = timed(block(lambda: cg(x10)), sync) / 100 * 1e6
    out["chain_eager"] = True
    xh = jnp.linspace(-1, 1, n_hvp); V = jax.random.normal(jax.random.PRNGKey(0), (16, n_hvp))
    hv = jax.jit(jax.vmap(lambda v: jax.jvp(jax.grad(f), (xh,), (v,))[1]))
    out["hvp_per_direction_ms"] = timed(block(lambda: hv(V)), sync) / 16 * 1e3
print("RESULT" + json.dumps(out))
'''


def run_peer(lib, device, sizes, seconds):
    """One peer (torch or jax) in its own process on the same workloads."""
    if seconds < 10:
        return {"status": "skipped: budget"}
    import importlib.util
    if importlib.util.find_spec(lib) is None:
        return {"status": f"skipped: {lib} is not installed"}
    cmd = [sys.executable, "-c", PEER, lib, device, str(sizes["elementwise"]), str(sizes["grad"]),
           str(sizes["hvp"])]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return {"status": f"stopped by the budget after {seconds:.0f} s"}
    for line in r.stdout.splitlines():
        if line.startswith("RESULT"):
            return {"status": "ran", **json.loads(line[6:])}
    return {"status": "failed: " + ((r.stderr.strip().splitlines() or ["no output"])[-1])[:300]}


# ------------------------------------------------------------------ report

def environment(device, info_lines):
    """The machine: ``info_lines`` (``python -m gpuad info``'s report) and the versions."""
    env = {"python": platform.python_version(), "numpy": np.__version__, "device": device,
           "platform": platform.platform()}
    lines = list(info_lines())
    env["info"] = lines
    for line in lines:
        key, _, value = line.partition(": ")
        if key in ("gpuad", "device", "CUDA runtime", "NVRTC (CuPy)", "backend", "NVRTC"):
            env[key] = value
    if device == "cuda":
        import cupy
        env["cupy"] = cupy.__version__
    else:
        env["cpu"] = platform.processor() or platform.machine()
        env["cpus"] = os.cpu_count()
    return env


def _fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def markdown(r) -> str:
    env, out = r["environment"], []
    out.append(f"## gpuad selftest: {env['device']}")
    out.append("")
    out.append("| | |\n|---|---|")
    for k in ("gpuad", "backend", "device", "CUDA runtime", "cupy", "NVRTC (CuPy)", "NVRTC",
              "numpy", "python", "cpu", "cpus"):
        if k in env:
            out.append(f"| {k} | {env[k]} |")
    out.append(f"| budget | {r['budget_s']} s, used {r['seconds']} s |")
    t = r["tests"]
    out.append("")
    out.append("**Tests**" + (f" (`{t['selection']}`)" if t.get("selection") else "") +
               f": {t['status']}" +
               (f"; {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped "
                f"in {t['seconds']} s" if "passed" in t else ""))
    for n in t.get("failures", [])[:20]:
        out.append(f"- failed: `{n}`")
    c = r.get("counts", {})
    if c:
        out.append("")
        out.append(f"**Reverse phase**: {c['reverse_host_syncs']} host syncs (goal 0), "
                   f"{c['reverse_host_reads']} host reads, {c['reverse_launches']} launches; "
                   "launches per elementwise VJP: " +
                   ", ".join(f"{k} {v}" for k, v in c["launches_per_elementwise_vjp"].items()))
    e = r.get("elementwise")
    if e:
        out.append("")
        out.append(f"**Elementwise kernels**, {e['n']} float64 elements (fraction of the copy's "
                   f"bandwidth; goal {VJP_GOAL:.0%} for the fused VJPs on a GPU)")
        out.append("")
        out.append("| kernel | ms | GB/s | fraction |\n|---|---|---|---|")
        for row in e["rows"]:
            out.append(f"| {row['kernel']} | " + (f"{_fmt(row['ms'])} | {_fmt(row['GB/s'])} | "
                       f"{row['fraction']:.0%} |" if "ms" in row else f"skipped: {row['skipped']} | | |"))
    p, peers = r.get("programs", {}), r.get("peers", {})
    out.append("")
    out.append("**Programs** (same workloads; peers in their own processes)")
    out.append("")
    cols = ["gpuad"] + [k for k, v in peers.items() if v.get("status") == "ran"]
    out.append("| measure | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))

    def row(label, ours, key):
        vals = [_fmt(ours)] + [_fmt(_dig(peers[k], key)) for k in cols[1:]]
        out.append(f"| {label} | " + " | ".join(vals) + " |")
    g = p.get("grad", {})
    row(f"forward ms, sum(sin(x) x^2), n={g.get('n')}", g.get("forward_ms"), "grad.forward_ms")
    row("grad ms", g.get("grad_ms"), "grad.grad_ms")
    row("grad / forward", g.get("grad/forward"), "grad.grad/forward")
    row("100-op chain, grad per op (us)", _dig(p, "chain.per_op_us"), "chain_per_op_us")
    h = p.get("hvp", {})
    row(f"batched HVP per direction ms (n={h.get('n')}, K={h.get('K')})",
        h.get("per_direction_ms"), "hvp_per_direction_ms")
    e_sin = next((x["fraction"] for x in (e or {}).get("rows", []) if x["kernel"] == "sin_fwd"), None)
    row("sin forward, fraction of copy bandwidth", e_sin, "sin_fwd_fraction")
    ck = p.get("checkpoint")
    if ck:
        out.append("")
        out.append(f"**Checkpointed gradient** ({ck['steps']} steps of n={ck['n']}, "
                   f"{ck['snapshots']} snapshots): plain {_fmt(ck['plain']['grad_ms'])} ms, peak "
                   f"{ck['plain']['peak_bytes']} B; checkpointed {_fmt(ck['checkpointed']['grad_ms'])}"
                   f" ms, peak {ck['checkpointed']['peak_bytes']} B")
    for k, v in peers.items():
        if v.get("status") != "ran":
            out.append(f"- {k}: {v.get('status')}")
        else:
            out.append(f"- {k} {v.get('version')} on {v.get('device')}")
    out.append("")
    why = ("; ".join(r["problems"]) if r["problems"] else
           f"tests not run: {r['tests']['status']}" if r["verdict"] == "untested" else "")
    out.append(f"Verdict: **{r['verdict']}**" + (f" ({why})" if why else ""))
    return "\n".join(out) + "\n"


def _dig(d, path):
    for k in path.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def main(argv=None, info_lines=lambda: []) -> int:
    """``python -m gpuad selftest``; ``info_lines``: gpuad info's report, for the header."""
    ap = argparse.ArgumentParser(prog="gpuad selftest", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--quick", action="store_true", help="a test subset that fits 4 minutes")
    ap.add_argument("--budget", type=float, default=480.0, help="seconds for everything")
    ap.add_argument("--report", default="gpuad-selftest",
                    help="write REPORT.json and REPORT.md (default: ./gpuad-selftest)")
    ap.add_argument("--size", type=int, default=None,
                    help="elements of the elementwise timings (default 2^26 on a GPU, 2^22 on "
                         "a CPU); the other workloads scale with it")
    ap.add_argument("--no-tests", dest="tests", action="store_false")
    ap.add_argument("--test-paths", nargs="+", default=None, metavar="PATH",
                    help="test files or node ids to run instead (relative to the checkout)")
    ap.add_argument("--no-peers", dest="peers", action="store_false")
    a = ap.parse_args(argv)
    t_start = time.monotonic()
    budget = Budget(a.budget)
    from .runtime.device import device_unavailable_reason
    reason = device_unavailable_reason()
    device = a.device if a.device != "auto" else ("cuda" if reason is None else "cpu")
    if device == "cuda" and reason is not None:
        print(f"gpuad selftest --device cuda: no usable CUDA device ({reason})", file=sys.stderr)
        return 2
    from .runtime import launch
    import gpuad  # noqa: F401
    dev = launch.cuda() if device == "cuda" else launch.HOST
    n = a.size or DEFAULT_SIZE[device]
    sizes = {"elementwise": n, "grad": max(16, n // 4), "hvp": max(16, n // 1024),
             "checkpoint": max(16, n // 64)}
    report = {"schema": SCHEMA, "environment": environment(device, info_lines),
              "budget_s": a.budget, "sizes": sizes}
    print(f"gpuad selftest on {device}: budget {a.budget:.0f} s", flush=True)
    if a.tests:
        share = min(240.0, 0.5 * budget.left()) if a.quick else 0.6 * budget.left()
        report["tests"] = run_tests(device, a.quick, share, a.test_paths)
    else:
        report["tests"] = {"status": "skipped: --no-tests"}
    print(f"tests: {report['tests']['status']}", flush=True)
    problems = []
    try:
        report["counts"] = count_reverse(dev)
        report["elementwise"] = bench_elementwise(dev, n, budget) if budget.left() > 10 else None
        report["programs"] = bench_programs(dev, sizes, budget) if budget.left() > 10 else {}
    except Exception as exc:            # report what broke; the JSON is still written
        problems.append(f"benchmarks raised {type(exc).__name__}: {exc}")
    report["peers"] = {}
    for lib in ("torch", "jax"):
        if a.peers:
            report["peers"][lib] = run_peer(lib, device, sizes, min(120.0, budget.left() - 5))
        else:
            report["peers"][lib] = {"status": "skipped: --no-peers"}
    t = report["tests"]
    if t.get("failed") or t["status"] == "failed":
        problems.append(f"{t.get('failed', '?')} tests failed")
    c = report.get("counts") or {}
    if c.get("reverse_host_syncs") or c.get("reverse_host_reads"):
        problems.append("host syncs in the reverse phase")
    if any(v != 1 for v in c.get("launches_per_elementwise_vjp", {}).values()):
        problems.append("an elementwise VJP took more than one launch")
    report["problems"] = problems
    # Tests asked for but not run (no pytest, no tests/, no budget) are no failure, and no
    # pass either: "untested", so that no one reads "ok" as "tested".
    untested = a.tests and t["status"].startswith("skipped")
    report["verdict"] = "problems" if problems else "untested" if untested else "ok"
    report["seconds"] = round(time.monotonic() - t_start, 1)
    base = pathlib.Path(a.report)
    base.parent.mkdir(parents=True, exist_ok=True)
    js, md = base.with_name(base.name + ".json"), base.with_name(base.name + ".md")
    js.write_text(json.dumps(report, indent=1, default=str))
    text = markdown(report)
    md.write_text(text)
    print(text)
    print(f"wrote {js} and {md}")
    return 0 if not problems else 1
