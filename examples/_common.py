"""What every example shares: the device choice, host copies, timing, the results table,
the progress bar and the convergence plot. Not part of gpuad's API."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--device, --plot, --seed and --no-progress, the same in every example."""
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="cpu: NumPy arrays, gpuad's kernels run on the host; cuda: CuPy "
                             "arrays on the GPU; auto: cuda when CuPy finds a device")
    parser.add_argument("--plot", metavar="PATH", default=None,
                        help="write a convergence plot (PNG) to PATH")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="hide the progress bar")
    return parser


def array_module(device: str):
    """``numpy`` for "cpu", ``cupy`` for "cuda", the GPU when one is usable for "auto".

    "cuda" without a usable device is an error that says why (no silent CPU fallback)."""
    from gpuad.runtime.device import device_unavailable_reason
    if device == "cpu":
        return np
    reason = device_unavailable_reason()
    if reason is None:
        import cupy
        return cupy
    if device == "cuda":
        raise SystemExit(f"--device cuda: no usable CUDA device ({reason})")
    return np


def device_name(xp) -> str:
    if xp is np:
        return "cpu (NumPy)"
    props = xp.cuda.runtime.getDeviceProperties(xp.cuda.Device().id)
    name = props["name"]
    return f"cuda ({name.decode() if isinstance(name, bytes) else name})"


def to_host(a):
    """A NumPy copy of a NumPy or CuPy array (or a Python scalar as is)."""
    if hasattr(a, "get"):
        return a.get()
    return np.asarray(a) if not isinstance(a, (int, float)) else a


def synchronize(xp) -> None:
    """Wait for the device, so wall-clock times cover the work (no-op on the CPU)."""
    if xp is not np:
        xp.cuda.Device().synchronize()


class Timer:
    """``with Timer(xp) as t: ...`` then ``t.seconds`` is the block's wall time, the device
    synchronized at both ends so queued GPU work is counted."""

    def __init__(self, xp=np):
        self.xp = xp
        self.seconds = float("nan")

    def __enter__(self):
        synchronize(self.xp)
        self._start = time.perf_counter()
        return self

    def elapsed(self) -> float:
        """Seconds since the block started (no synchronization: for progress records)."""
        return time.perf_counter() - self._start

    def __exit__(self, *exc):
        synchronize(self.xp)
        self.seconds = time.perf_counter() - self._start
        return False


def progress(total: int | None, desc: str, enabled: bool):
    """A tqdm bar on stderr (a do-nothing stand-in when disabled or tqdm is missing)."""
    if enabled:
        try:
            from tqdm.auto import tqdm
            return tqdm(total=total, desc=desc, leave=False, file=sys.stderr,
                        dynamic_ncols=True)
        except ModuleNotFoundError:
            pass
    return _NoBar()


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, *a, **k):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def fmt(v) -> str:
    """A table cell: floats in short scientific or fixed notation, the rest as str."""
    if isinstance(v, (float, np.floating)):
        if v == 0 or not np.isfinite(v):
            return f"{v:g}"
        if abs(v) >= 1e4 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows of dicts as a Markdown table (columns: the union of keys, in order seen)."""
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"
    out = [line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in cells]
    return "\n".join(out)


def plot(path: str, panels: list[dict], title: str = "") -> str:
    """Write a PNG with one panel per dict ``{"title", "xlabel", "ylabel", "logy",
    "series": {label: (x, y)}}``; returns the path. Uses the Agg backend (no display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for label, (x, y) in panel["series"].items():
            ax.plot(to_host(x), to_host(y), marker=".", label=label)
        if panel.get("logy"):
            ax.set_yscale("log")
        ax.set_xlabel(panel.get("xlabel", ""))
        ax.set_ylabel(panel.get("ylabel", ""))
        ax.set_title(panel.get("title", ""))
        ax.grid(True, alpha=0.3)
        if len(panel["series"]) > 1:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def use_local_gpu(xp) -> None:
    """Under ``mpiexec``, make GPU (local rank mod the GPU count) current, so that ranks on
    one node use different GPUs (NCCL requires it; with one GPU they share it). The local
    rank comes from the launcher's environment (MPICH's MPI_LOCALRANKID, Open MPI's
    OMPI_COMM_WORLD_LOCAL_RANK). No-op for NumPy."""
    if xp is np:
        return
    import os
    local = int(os.environ.get("MPI_LOCALRANKID") or
                os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK") or 0)
    xp.cuda.Device(local % xp.cuda.runtime.getDeviceCount()).use()
