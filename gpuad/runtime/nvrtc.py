"""The NVRTC gate: compile every declared kernel instantiation with NVRTC, no GPU needed.

NVRTC is the compiler ``cupy.RawModule`` uses on a GPU, so a source that compiles here
for sm_80 and sm_90 with the registry's name expressions is a source CuPy can build.
Run it as ``python -m gpuad.runtime.nvrtc``; it exits non-zero on any compile error.

NVRTC comes from the ``nvidia-cuda-nvrtc-cu12`` wheel and is called through the public
``cuda.bindings.nvrtc`` API (``cuda-bindings`` 12.x), both in the ``nvrtc`` extra; NVRTC 13
(``nvidia-cuda-nvrtc`` 13 with ``cuda-bindings`` 13, the ``nvrtc13`` extra) works the same
way (the gate passed with NVRTC 13.5 on 2026-12-01).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import importlib.util
import os
import pathlib
import re
import sys
import time
import traceback

from . import NVRTC_OPTIONS, kernel_dir

# Options CuPy appends to every RawModule/RawKernel it compiles with NVRTC (read in the
# CuPy 14.2.0 source, cupy/cuda/compiler.py: "-ftz=true" in _compile_with_cache_cuda,
# "--device-as-default-execution-space" in _compile_using_nvrtc_no_warning when jitify
# is off; not observed on a device). The gate adds them so it builds what CuPy builds.
# CuPy also adds "-arch=sm_XX" for the current device (the gate's --gpu-architecture),
# and "--pch" only when CUPY_NVRTC_USE_PCH is set.
CUPY_IMPLICIT_OPTIONS = ("-ftz=true", "--device-as-default-execution-space")

# Ampere and Hopper: the oldest and newest data-centre targets gpuad claims.
DEFAULT_ARCHS = ("sm_80", "sm_90")


class NvrtcUnavailable(RuntimeError):
    """cuda.bindings or libnvrtc cannot be loaded."""


class NvrtcError(RuntimeError):
    """A source failed to compile; ``log`` holds NVRTC's log."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


_NVRTC = None


def _preload_wheel_nvrtc() -> None:
    """Load libnvrtc.so.12 from the nvidia-cuda-nvrtc-cu12 wheel, if it is installed.

    cuda-bindings 12.9 finds the wheel's library itself (through cuda-pathfinder, which
    searches site-packages first); 12.8.0 dlopens "libnvrtc.so.12" with an RPATH that
    only works when both wheels share one site-packages (both seen in the installed
    packages). Loading it here first, with RTLD_GLOBAL, makes either version's lookup
    by soname find this copy, wherever the two wheels were installed.
    """
    import ctypes

    try:
        spec = importlib.util.find_spec("nvidia.cuda_nvrtc")
    except (ImportError, ValueError):
        return
    if spec is None or not spec.submodule_search_locations:
        return
    for root in spec.submodule_search_locations:
        lib = pathlib.Path(root) / "lib" / "libnvrtc.so.12"
        if lib.exists():
            try:
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                continue  # let cuda.bindings try its own search and report
            return


def _nvrtc():
    """The ``cuda.bindings.nvrtc`` module, loaded once; raises NvrtcUnavailable."""
    global _NVRTC
    if _NVRTC is None:
        if sys.platform.startswith("linux"):
            _preload_wheel_nvrtc()
        try:
            from cuda.bindings import nvrtc
        except ImportError as exc:
            raise NvrtcUnavailable(
                f"cuda.bindings is not importable ({exc}); "
                "install it with: pip install 'gpuad[nvrtc]'") from exc
        try:
            _check(nvrtc, nvrtc.nvrtcVersion(), "nvrtcVersion")
        except Exception as exc:  # the bindings raise RuntimeError when dlopen fails
            raise NvrtcUnavailable(
                f"libnvrtc could not be loaded ({exc}); "
                "install it with: pip install nvidia-cuda-nvrtc-cu12") from exc
        _NVRTC = nvrtc
    return _NVRTC


def _check(nvrtc, result, what: str):
    """Unpack a cuda.bindings result tuple ``(status, *values)``; raise on failure."""
    status, *values = result
    if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        _, text = nvrtc.nvrtcGetErrorString(status)
        raise NvrtcError(f"{what} failed: {text.decode(errors='replace')}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def nvrtc_version() -> tuple[int, int]:
    """NVRTC's (major, minor) version; raises NvrtcUnavailable if it cannot be loaded."""
    nvrtc = _nvrtc()
    return _check(nvrtc, nvrtc.nvrtcVersion(), "nvrtcVersion")


def nvrtc_library_path() -> str | None:
    """The file libnvrtc was loaded from (read from /proc/self/maps), or None."""
    try:
        _nvrtc()
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "/libnvrtc.so" in path or "/libnvrtc.alt.so" in path:
                    return path
    except (OSError, NvrtcUnavailable, IndexError):
        pass
    return None


def _program_log(nvrtc, prog) -> str:
    size = _check(nvrtc, nvrtc.nvrtcGetProgramLogSize(prog), "nvrtcGetProgramLogSize")
    buf = b" " * size
    _check(nvrtc, nvrtc.nvrtcGetProgramLog(prog, buf), "nvrtcGetProgramLog")
    return buf.rstrip(b"\0").decode(errors="replace").strip()


# ptxas -v output, one block per kernel:
#   ptxas info    : Compiling entry function '_Z4axpyIfEvT_PKS0_PS0_x' for 'sm_80'
#   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
#   ptxas info    : Used 30 registers, used 0 barriers, 384 bytes cmem[0]
_ENTRY = re.compile(r"Compiling entry function '([^']+)'")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_REGS = re.compile(r"Used (\d+) registers")


def parse_ptxas_info(log: str) -> dict[str, dict[str, int]]:
    """Registers, stack frame and spill bytes per mangled kernel name from ``-Xptxas=-v``."""
    kernels: dict[str, dict[str, int]] = {}
    current = None
    for line in log.splitlines():
        if m := _ENTRY.search(line):
            current = kernels.setdefault(m.group(1), {})
        elif current is not None and (m := _FRAME.search(line)):
            current.update(stack=int(m.group(1)), spill_stores=int(m.group(2)),
                           spill_loads=int(m.group(3)))
        elif current is not None and (m := _REGS.search(line)):
            current["registers"] = int(m.group(1))
    return kernels


def log_warnings(log: str) -> list[str]:
    """The warning lines of an NVRTC log (front end and ptxas), without ptxas info."""
    # NVRTC closes a log that has warnings with a "Remark: ... -diag-suppress" hint.
    return [line for line in log.splitlines()
            if re.search(r"\bwarning\b", line, re.IGNORECASE)
            and not line.startswith(("ptxas info", "Remark"))]


def compile_source(code: str, name_expressions, arch: str = "sm_80", include_dirs=(),
                   *, extra_options=(), name: str = "gpuad.cu", binary: bool = False) -> dict:
    """Compile CUDA C++ ``code`` with NVRTC for ``arch`` (e.g. "sm_80") as CuPy would.

    Options: NVRTC_OPTIONS, CuPy's implicit ones, ``-I`` per include dir,
    ``--gpu-architecture=arch``, ``-Xptxas=-v`` (registers and spills, for the record)
    and ``extra_options``. Every name expression (e.g. ``"axpy<float>"``) is added with
    nvrtcAddNameExpression, so template instantiations are really compiled.

    Returns a dict: ``lowered`` (name expression -> mangled name), ``log``,
    ``warnings``, ``kernels`` (mangled name -> registers/stack/spills), ``cubin_size``
    (0 for a compute_XX target), ``ptx_size``, ``options`` and ``seconds``; with
    ``binary``, also ``image``: the cubin (an sm_XX target) or the PTX (compute_XX).
    Raises NvrtcError, with the NVRTC log in its message, if compilation fails.
    """
    nvrtc = _nvrtc()
    names = list(name_expressions)
    options = [*NVRTC_OPTIONS, *CUPY_IMPLICIT_OPTIONS,
               *(f"-I{d}" for d in include_dirs),
               f"--gpu-architecture={arch}", "-Xptxas=-v", *extra_options]
    start = time.perf_counter()
    prog = _check(nvrtc, nvrtc.nvrtcCreateProgram(code.encode(), name.encode(), 0, [], []),
                  "nvrtcCreateProgram")
    try:
        for expr in names:
            _check(nvrtc, nvrtc.nvrtcAddNameExpression(prog, expr.encode()),
                   f"nvrtcAddNameExpression({expr})")
        encoded = [o.encode() for o in options]
        (status,) = nvrtc.nvrtcCompileProgram(prog, len(encoded), encoded)
        log = _program_log(nvrtc, prog)
        if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            _, text = nvrtc.nvrtcGetErrorString(status)
            raise NvrtcError(
                f"NVRTC failed to compile {name} for {arch} "
                f"({text.decode(errors='replace')}); options: {' '.join(options)}\n{log}",
                log)
        lowered = {expr: _check(nvrtc, nvrtc.nvrtcGetLoweredName(prog, expr.encode()),
                                f"nvrtcGetLoweredName({expr})").decode()
                   for expr in names}
        ptx_size = _check(nvrtc, nvrtc.nvrtcGetPTXSize(prog), "nvrtcGetPTXSize")
        cubin_size = 0
        if arch.startswith("sm_"):
            cubin_size = _check(nvrtc, nvrtc.nvrtcGetCUBINSize(prog), "nvrtcGetCUBINSize")
        image = None
        if binary and cubin_size:
            image = b" " * cubin_size
            _check(nvrtc, nvrtc.nvrtcGetCUBIN(prog, image), "nvrtcGetCUBIN")
        elif binary:
            image = b" " * ptx_size
            _check(nvrtc, nvrtc.nvrtcGetPTX(prog, image), "nvrtcGetPTX")
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
    return {
        **({"image": image} if binary else {}),
        "lowered": lowered,
        "log": log,
        "warnings": log_warnings(log),
        "kernels": parse_ptxas_info(log),
        "cubin_size": cubin_size,
        "ptx_size": ptx_size,
        "options": options,
        "seconds": time.perf_counter() - start,
    }


@dataclasses.dataclass
class GateModule:
    """One source for the gate: what ``ModuleSpec`` offers, without its fixed directory."""
    source: str
    name_expressions: list
    text: str

    def code(self) -> str:
        return self.text


def undeclared_sources(specs, root: pathlib.Path) -> list[GateModule]:
    """``.cu`` files under ``root`` that no spec declares: compiled without instantiations.

    A kernel file nobody has declared yet still gets its non-template code checked, so
    the gate covers every source even while the registry is being filled.
    """
    declared = {pathlib.PurePosixPath(s.source).as_posix() for s in specs}
    found = []
    for path in sorted(root.rglob("*.cu")):
        rel = path.relative_to(root).as_posix()
        if rel not in declared:
            found.append(GateModule(rel, [], path.read_text()))
    return found


def label_of(spec) -> str:
    """A spec's name: ``source[group]`` for a runtime ModuleSpec, else its source."""
    return getattr(spec, "name", spec.source)


def run_gate(specs, archs=DEFAULT_ARCHS, include_dir=None, *, jobs=None, verbose=True,
             out=None, images: dict | None = None) -> int:
    """Compile every spec for every arch; print a report; return the number of failures.

    ``specs`` are objects with ``source``, ``name_expressions`` and ``code()`` (such as
    ``gpuad.runtime.ModuleSpec``). Compiles run on a thread pool: NVRTC releases the
    GIL in nvrtcCompileProgram (cuda-bindings 12.9 source) and programs are independent.
    With ``images`` (a dict), each successful compile's result, its cubin or PTX included,
    is stored there under (the spec's name, arch).
    """
    out = out or sys.stdout
    include_dir = kernel_dir() if include_dir is None else include_dir
    jobs = jobs or os.cpu_count() or 1
    work = [(spec, arch) for spec in specs for arch in archs]

    def build(item):
        spec, arch = item
        try:
            return compile_source(spec.code(), spec.name_expressions, arch, (include_dir,),
                                  name=spec.source, binary=images is not None)
        except (NvrtcError, OSError) as exc:
            return exc

    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for (spec, arch), result in zip(work, pool.map(build, work)):
            label = f"{label_of(spec)} [{arch}]"
            if isinstance(result, Exception):
                failures += 1
                print(f"FAIL {label}: {result}", file=out)
                continue
            if images is not None:
                images[(label_of(spec), arch)] = result
            n = len(result["lowered"]) or len(result["kernels"])
            note = "" if spec.name_expressions else " (no declared instantiations)"
            size = (f"cubin {result['cubin_size']} B" if result["cubin_size"]
                    else f"PTX {result['ptx_size']} B")
            print(f"ok   {label}: {n} kernels, {result['seconds']:.2f} s, {size}{note}", file=out)
            for line in result["warnings"]:
                print(f"     warning: {line}", file=out)
            if verbose:
                _print_kernels(result, out)
    return failures


def module_key(spec) -> str:
    """What a module is compiled from: options, source, every header under the kernel
    directory, name expressions (a prebuilt module is used only for the same)."""
    import hashlib
    from .device import _include_digest
    h = hashlib.sha256()
    for part in (repr(NVRTC_OPTIONS + CUPY_IMPLICIT_OPTIONS), spec.code(), _include_digest(kernel_dir()),
                 repr(list(spec.name_expressions))):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def write_images(specs, archs, images: dict, out: pathlib.Path, version: str) -> dict:
    """Write the cubins and PTX of ``images`` (run_gate's) into ``out``: the manifest's
    "cuda" section (runtime/prebuilt.py): per module its key and, per target, the file, its
    SHA-256 and the lowered name of every name expression."""
    import hashlib
    modules = {}
    for spec in specs:
        entry = {"key": module_key(spec), "targets": {}}
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label_of(spec))
        for arch in archs:
            result = images[(label_of(spec), arch)]
            ptx = not arch.startswith("sm_")
            path = out / f"{safe}.{arch}.{'ptx' if ptx else 'cubin'}"
            path.write_bytes(result["image"].rstrip(b"\0") if ptx else result["image"])
            entry["targets"][arch] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                      "lowered": result["lowered"]}
        modules[label_of(spec)] = entry
    return {"nvrtc": version, "options": [*NVRTC_OPTIONS, *CUPY_IMPLICIT_OPTIONS], "modules": modules}


def _print_kernels(result: dict, out) -> None:
    """Registers and spills per kernel, named by name expression where one was given."""
    by_mangled = {v: k for k, v in result["lowered"].items()}
    for mangled, info in sorted(result["kernels"].items()):
        spills = info.get("spill_stores", 0) + info.get("spill_loads", 0)
        flag = "  <-- SPILLS" if spills else ""
        print(f"       {by_mangled.get(mangled, mangled)}: "
              f"{info.get('registers', '?')} registers, "
              f"{info.get('stack', 0)} B stack, "
              f"{info.get('spill_stores', 0)} B spill stores, "
              f"{info.get('spill_loads', 0)} B spill loads{flag}", file=out)


def main(argv=None) -> int:
    """Entry point of ``python -m gpuad.runtime.nvrtc``: 0 if every module compiles."""
    parser = argparse.ArgumentParser(prog="python -m gpuad.runtime.nvrtc",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append",
                        help="target, e.g. sm_80 (repeatable; default: sm_80 and sm_90)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel compiles")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="omit the per-kernel register/spill lines")
    parser.add_argument("--bundle", action="append", default=None,
                        help="only this declared bundle, e.g. 'elementwise.cu[double-first]' "
                             "(repeatable; default: every bundle and every undeclared .cu file)")
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help="also write each bundle's cubin or PTX and their lowered names "
                             "(manifest.json) into OUT, for a wheel build (GPUAD_WHEEL_CUDA_DIR)")
    args = parser.parse_args(argv)
    archs = tuple(args.arch or DEFAULT_ARCHS)

    try:
        major, minor = nvrtc_version()
    except NvrtcUnavailable as exc:
        print(f"NVRTC gate: {exc}", file=sys.stderr)
        return 3
    print(f"NVRTC {major}.{minor} ({nvrtc_library_path() or 'path unknown'}); "
          f"options: {' '.join(NVRTC_OPTIONS + CUPY_IMPLICIT_OPTIONS)}")

    try:
        import gpuad  # noqa: F401  (importing the package declares every kernel)
    except Exception:
        traceback.print_exc()
        print("NVRTC gate: `import gpuad` failed, so the registry is unknown", file=sys.stderr)
        return 2
    from . import bundles

    root = kernel_dir()
    specs = bundles()
    extra = undeclared_sources(specs, root)
    if args.bundle:
        unknown = sorted(set(args.bundle) - {label_of(s) for s in specs})
        if unknown:
            print(f"NVRTC gate: no declared bundle {', '.join(unknown)} (the bundles: "
                  f"{', '.join(label_of(s) for s in specs)})", file=sys.stderr)
            return 2
        specs, extra = [s for s in specs if label_of(s) in args.bundle], []
    print(f"{len(specs)} declared bundles, {len(extra)} undeclared .cu files "
          f"under {root}; targets: {', '.join(archs)}")
    start = time.perf_counter()
    images = {} if args.out else None
    failures = run_gate([*specs, *extra], archs, root, jobs=args.jobs,
                        verbose=not args.quiet, images=images)
    total = (len(specs) + len(extra)) * len(archs)
    print(f"NVRTC gate: {total - failures}/{total} compiles passed "
          f"in {time.perf_counter() - start:.1f} s")
    if args.out and not failures:
        import json
        from .host import MANIFEST, MANIFEST_VERSION
        args.out.mkdir(parents=True, exist_ok=True)
        cuda = write_images(specs, archs, images, args.out, f"{major}.{minor}")
        (args.out / MANIFEST).write_text(json.dumps({"version": MANIFEST_VERSION, "cuda": cuda},
                                                    indent=1, sort_keys=True))
        print(f"cubins, PTX and lowered names in {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
