"""Kernels compiled ahead of time: what a wheel ships in ``gpuad/_prebuilt/``, how the runtime
loads it, and how a wheel build (``setup.py``) or a warm-up makes it.

A wheel built by ``python -m build --wheel`` carries, beside the sources:

- the host build of every bundle (:func:`gpuad.runtime.bundles`) for each instruction set
  (``baseline``, ``x86-64-v3``, ``x86-64-v4``; a CPU takes the highest it has), so the CPU
  path needs no compiler;
- the C launch path (``fastcall.cpp``) for the Python that built the wheel;
- NVRTC's cubins (``sm_80``, ``sm_90``) and PTX (``compute_90``, which the driver compiles for
  newer GPUs) of every bundle, where NVRTC was installed at build time;
- ``manifest.json``: the SHA-256 of every file; for each host library the key of what it was
  built from (sources, headers, name expressions, ISA, platform); for each CUDA module the
  key of its sources and, per target, the lowered name NVRTC reported for each name
  expression (a module loaded from a file knows only lowered names).

The runtime uses a shipped file only when the directory and the file are root's or this
user's and no one else can write them, its bytes match the manifest's SHA-256 (read from the
very file that is loaded), and it was built from the installed sources for this machine;
anything else is compiled on first use as without a wheel. ``GPUAD_PREBUILT=0`` turns it off.
Reading the shipped directory, and the host libraries and C launch path in it, is
``host.py``'s (with its cache); the CUDA modules' keys and files are ``nvrtc.py``'s.

``python -m gpuad.runtime.prebuilt --out DIR`` builds the files (what the wheel build runs);
``--warm`` compiles every bundle into this user's kernel cache instead (a container image, or
a machine about to start many processes at once); ``--list`` names the bundles.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from . import NVRTC_OPTIONS, env, host, kernel_dir
from .host import MANIFEST, MANIFEST_VERSION


# ------------------------------------------------------------------------------ run time
def status() -> str:
    """One line on what this installation ships prebuilt and whether it is used."""
    if not env.get("GPUAD_PREBUILT"):
        return "off (GPUAD_PREBUILT=0)"
    sh = host.shipped()
    if sh is None:
        return host._SHIPPED[1]
    m = sh.manifest
    isas = sorted({e["isa"] for entries in m.get("host", {}).values() for e in entries})
    cuda = m.get("cuda") or {}
    targets = sorted({t for mod in cuda.get("modules", {}).values() for t in mod.get("targets", {})})
    return (f"{len(m.get('host', {}))} host bundles ({', '.join(isas) or 'none'}), C launch path "
            f"{'for ' + m['fastcall']['python'] if m.get('fastcall') else 'no'}, CUDA "
            f"{', '.join(targets) or 'none'}; in {sh.dir.path}")


def cuda_target(cc: str, targets) -> str | None:
    """The target to load on a device of compute capability ``cc`` ("86", "90", "100"): the
    cubin of the same major version and the highest minor not above the device's, else the
    PTX of the highest architecture not above it (the driver compiles it), else None."""
    major, minor = int(cc[:-1]), int(cc[-1])
    cubins = [t for t in targets if t.startswith("sm_") and t[3:].isdigit()
              and int(t[3:-1]) == major and int(t[-1]) <= minor]
    if cubins:
        return max(cubins, key=lambda t: int(t[3:]))
    ptx = [t for t in targets if t.startswith("compute_") and t[8:].isdigit() and int(t[8:]) <= int(cc)]
    return max(ptx, key=lambda t: int(t[8:])) if ptx else None


def _device_cc() -> str:
    import cupy
    return str(cupy.cuda.Device().compute_capability)


def cuda_module(spec) -> tuple[str, str, dict] | None:
    """(target, the path to load it by, name expression -> lowered name) of the module NVRTC
    compiled ahead of time for ``spec`` (a bundle) that suits the current device, or None."""
    from . import nvrtc
    sh = host.shipped()
    mod = ((sh.manifest.get("cuda") or {}).get("modules", {}).get(spec.name) if sh is not None else None)
    if not mod or mod.get("key") != nvrtc.module_key(spec):
        return None
    target = cuda_target(_device_cc(), mod.get("targets", {}))
    if target is None:
        return None
    entry = mod["targets"][target]
    lowered = entry.get("lowered", {})
    found = sh.load_path(entry)
    if found is None or any(n not in lowered for n in spec.name_expressions):
        return None
    return target, found[1], lowered


def bundle_module(spec, device: str):
    """A module for bundle ``spec`` that needs no compiler, or None: on the CPU the shipped
    library (or one already in this user's cache), on a GPU the shipped cubin or PTX."""
    if device == "cpu":
        try:
            return host.HostModule(spec.code(), options=NVRTC_OPTIONS, name_expressions=spec.name_expressions,
                                   include_dirs=(kernel_dir(),), name=spec.name, build=False)
        except host._NotCached:
            return None
    if not env.get("GPUAD_PREBUILT"):
        return None
    found = cuda_module(spec)
    if found is None:
        return None
    from .device import CheckedModule, FileModule
    _, path, lowered = found
    try:
        mod = FileModule(path, lowered)
        mod.get_function(spec.name_expressions[0])     # loads it on this device now
    except Exception:           # the driver refuses it (too old for the PTX, ...): NVRTC instead
        return None
    return CheckedModule(mod, spec.code())


# ------------------------------------------------------------------------------ build time
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _selected(names) -> list:
    import gpuad  # noqa: F401  (importing the package declares every kernel)
    from . import bundles
    specs = bundles()
    if names is None:
        return specs
    known = {s.name: s for s in specs}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown bundles {', '.join(unknown)}; there are: {', '.join(known)}")
    return [known[n] for n in names]


def default_isas() -> list[str]:
    return list(host.ISAS) if platform.machine() in ("x86_64", "AMD64") else ["baseline"]


def build_host(specs, isas, out: Path, jobs: int, log) -> dict:
    """Compile every bundle for every ISA into ``out``; the manifest's "host" section."""
    import concurrent.futures

    def one(item):
        spec, isa = item
        start = time.perf_counter()
        unit = host._Unit(spec.code(), NVRTC_OPTIONS, spec.name_expressions, (kernel_dir(),), spec.name)
        path = host.build_unit(unit, isa, out)
        log(f"host {spec.name} [{isa}]: {len(spec.name_expressions)} kernels, "
            f"{time.perf_counter() - start:.1f} s")
        return spec.name, {"isa": isa, "key": unit.portable_key(isa), "file": path.name,
                           "sha256": _sha256(path)}

    section: dict = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, entry in pool.map(one, [(s, isa) for s in specs for isa in isas]):
            section.setdefault(name, []).append(entry)
    return section


def build_fastcall(out: Path, log) -> dict | None:
    """The C launch path into ``out``; the manifest's "fastcall" entry (None without Python's
    headers)."""
    import numpy as np
    try:
        path = host.build_fastcall(out)
    except RuntimeError as e:
        log(f"no C launch path in the wheel: {e}")
        return None
    log(f"C launch path for {sys.implementation.cache_tag}")
    return {"file": path.name, "sha256": _sha256(path), "python": sys.implementation.cache_tag,
            "machine": platform.machine(), "numpy": np.__version__,
            "source": _sha256(host._FASTCALL_SOURCE)}


def _reuse_cuda(specs, targets, cuda_dir: Path, out: Path, log) -> tuple[str, dict]:
    """The modules of ``cuda_dir`` (a gate's --out) that match ``specs``' sources and have
    every target, copied into ``out``: (their NVRTC version, name -> manifest entry)."""
    from . import nvrtc
    try:
        cuda = json.loads((cuda_dir / MANIFEST).read_text()).get("cuda") or {}
    except (OSError, ValueError) as e:
        log(f"CUDA modules in {cuda_dir} not used: {e}")
        return "", {}
    reused = {}
    for spec in specs:
        mod = cuda.get("modules", {}).get(spec.name)
        if not mod or mod.get("key") != nvrtc.module_key(spec) or set(targets) - set(mod["targets"]):
            continue
        files = [mod["targets"][t] for t in targets]
        if any(_sha256(cuda_dir / f["file"]) != f["sha256"] for f in files):
            continue
        for f in files:
            shutil.copyfile(cuda_dir / f["file"], out / f["file"])
        reused[spec.name] = {"key": mod["key"], "targets": {t: mod["targets"][t] for t in targets}}
    log(f"CUDA modules from {cuda_dir}: {len(reused)} of {len(specs)} match the sources")
    return cuda.get("nvrtc", ""), reused


def build_cuda(specs, targets, out: Path, jobs: int, log, cuda_dir: Path | None = None) -> dict | None:
    """NVRTC's cubins and PTX of every bundle into ``out`` (taken from ``cuda_dir`` where they
    match); the manifest's "cuda" section, or None where NVRTC is not installed."""
    from . import nvrtc
    if not targets:
        return None
    version, reused = _reuse_cuda(specs, targets, cuda_dir, out, log) if cuda_dir else ("", {})
    rest = [s for s in specs if s.name not in reused]
    section = {"nvrtc": version, "options": [*NVRTC_OPTIONS, *nvrtc.CUPY_IMPLICIT_OPTIONS], "modules": reused}
    if rest:
        try:
            version = "%d.%d" % nvrtc.nvrtc_version()
        except nvrtc.NvrtcUnavailable as e:
            log(f"NVRTC is not installed ({e}): the wheel ships no CUDA modules for "
                f"{', '.join(s.name for s in rest)}; a GPU compiles them with NVRTC on first use")
            return section if reused else None
        images: dict = {}
        failures = nvrtc.run_gate(rest, targets, kernel_dir(), jobs=jobs, verbose=False,
                                  out=_Lines(log), images=images)
        if failures:
            raise RuntimeError(f"NVRTC failed to compile {failures} module(s); see above")
        section["nvrtc"] = version
        section["modules"].update(nvrtc.write_images(rest, targets, images, out, version)["modules"])
    return section


class _Lines:
    """A text stream that hands each line to ``log``."""

    def __init__(self, log):
        self.log = log

    def write(self, text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                self.log(line)

    def flush(self) -> None:
        pass


def _compiler_line() -> str:
    try:
        return host._compiler()[1].splitlines()[1]
    except (RuntimeError, IndexError):
        return ""


def build(out: Path, *, isas=None, cuda_targets=None, bundles=None, cuda_dir=None, jobs=None,
          log=print) -> dict:
    """Build the prebuilt files into ``out`` (made if missing) and write its manifest.

    ``isas`` default :func:`default_isas`; ``cuda_targets`` default sm_80, sm_90 and
    compute_90 (none without NVRTC); ``bundles`` (names) default all; ``cuda_dir``: a
    gate's ``--out`` directory whose matching modules are copied instead of compiled."""
    from .. import __version__
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = jobs or os.cpu_count() or 1
    specs = _selected(bundles)
    isas = default_isas() if isas is None else list(isas)
    targets = ["sm_80", "sm_90", "compute_90"] if cuda_targets is None else list(cuda_targets)
    start = time.perf_counter()
    manifest = {"version": MANIFEST_VERSION, "gpuad": __version__, "machine": platform.machine(),
                "glibc": platform.libc_ver()[1] or None, "compiler": _compiler_line(),
                "host": build_host(specs, isas, out, jobs, log) if isas else {},
                "fastcall": build_fastcall(out, log),
                "cuda": build_cuda(specs, targets, out, jobs, log, cuda_dir)}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    log(f"prebuilt kernels in {out} ({time.perf_counter() - start:.0f} s)")
    return manifest


def warm(jobs: int | None = None, log=print) -> int:
    """Compile every bundle for this machine into this user's kernel cache (in parallel), so
    that later processes load instead of compile; the number of bundles built."""
    import concurrent.futures
    specs = _selected(None)

    def one(spec):
        m = host.HostModule(spec.code(), options=NVRTC_OPTIONS, name_expressions=spec.name_expressions,
                            include_dirs=(kernel_dir(),), name=spec.name)
        log(f"{spec.name}: {'built' if m.built else 'prebuilt' if m.prebuilt else 'cached'} "
            f"({m.library_path})")
        return m.built

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        return sum(pool.map(one, specs))


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m gpuad.runtime.prebuilt",
                                     description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", type=Path, help="build the prebuilt files (a wheel's) into OUT")
    what.add_argument("--warm", action="store_true", help="compile every bundle into the kernel cache")
    what.add_argument("--list", action="store_true", help="name the bundles")
    parser.add_argument("--jobs", type=int, default=None, help="parallel compiles")
    args = parser.parse_args(argv)
    if args.list:
        for spec in _selected(None):
            print(f"{spec.name}: {len(spec.name_expressions)} kernels")
    elif args.warm:
        warm(args.jobs)
    else:
        build(args.out, isas=env.get("GPUAD_WHEEL_ISAS"), cuda_targets=env.get("GPUAD_WHEEL_CUDA_TARGETS"),
              bundles=env.get("GPUAD_WHEEL_BUNDLES"), cuda_dir=env.get("GPUAD_WHEEL_CUDA_DIR"),
              jobs=args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
