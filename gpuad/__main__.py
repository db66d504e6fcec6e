"""Command line: ``python -m gpuad info`` (or the ``gpuad`` console script).

``info`` says which backend gpuad will use and what it found for each: CuPy and a CUDA
device, the host C++ compiler for the CPU path, the kernel cache and NVRTC. ``primitives``
lists the registry (gpuad.REGISTRY), one line per primitive. ``selftest`` runs the tests
and timings of gpuad/selftest.py on this machine and writes a report.
"""
from __future__ import annotations

import argparse
import pathlib
import platform
import shlex
import shutil
import subprocess
import sys

# Tried in order for the CPU path; $CXX may carry a launcher or flags ("ccache g++").
CXX_CANDIDATES = ("g++", "c++", "clang++")


def gpuad_version() -> str:
    """The installed distribution's version, else ``gpuad.__version__``, else "unknown"."""
    from importlib import metadata
    try:
        return metadata.version("gpuad")
    except metadata.PackageNotFoundError:
        pass
    try:
        import gpuad
        return str(gpuad.__version__)
    except Exception:
        return "unknown (not installed)"


def find_cxx() -> tuple[list[str], str] | None:
    """The first working C++ compiler as (command, first line of ``--version``), or None."""
    from .runtime import env
    candidates = []
    try:
        if env.get("CXX"):
            candidates.append(env.get("CXX"))
    except env.EnvironmentVariableError:
        pass                      # info reports it among the environment lines
    candidates += [[name] for name in CXX_CANDIDATES]
    for cmd in candidates:
        if not cmd or shutil.which(cmd[0]) is None:
            continue
        try:
            run = subprocess.run([*cmd, "--version"], capture_output=True, text=True,
                                 timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if run.returncode == 0 and run.stdout.strip():
            return cmd, run.stdout.strip().splitlines()[0]
    return None


def host_cache_dir() -> pathlib.Path:
    """Where host-compiled kernels are cached: ``$GPUAD_CACHE_DIR`` or ~/.cache/gpuad/host."""
    from gpuad.runtime.host import cache_dir
    return cache_dir()


def _cuda_version(v: int) -> str:
    """CUDA's integer version (12090) as "12.9"."""
    return f"{v // 1000}.{v % 1000 // 10}"


def _backend_lines() -> list[str]:
    from .runtime.device import device_unavailable_reason

    reason = device_unavailable_reason()
    if reason is not None:
        lines = [f"backend: CPU (no CUDA device: {reason})"]
        try:
            import cupy
            lines.append(f"CuPy: {cupy.__version__} (installed, unused)")
        except Exception:
            lines.append("CuPy: not installed (pip install 'gpuad[cuda12]' or 'gpuad[cuda13]' "
                         "on a GPU machine)")
        return lines
    # Only reachable with a device (tested with tests/fake_cupy.py; never run on a GPU by
    # this project yet); the calls are CuPy's documented runtime API.
    import cupy
    rt = cupy.cuda.runtime
    props = rt.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return [f"backend: CUDA (CuPy {cupy.__version__})",
            f"CUDA runtime: {_cuda_version(rt.runtimeGetVersion())}, "
            f"driver: {_cuda_version(rt.driverGetVersion())}",
            f"device: {name} (sm_{props['major']}{props['minor']})",
            _cupy_nvrtc_line(cupy)]


def _cupy_nvrtc_line(cupy) -> str:
    """NVRTC as CuPy loads it (cupy.cuda.nvrtc.getVersion) and whether CuPy can JIT-compile
    at all: CuPy 14 needs the CUDA runtime headers for every kernel, its own included."""
    try:
        major, minor = cupy.cuda.nvrtc.getVersion()
    except Exception as exc:
        return f"NVRTC (CuPy): not loadable ({type(exc).__name__}: {exc})"
    try:
        (cupy.arange(2, dtype=cupy.float64) * 2.0).sum().item()   # CuPy's own JIT kernels
    except Exception as exc:
        return (f"NVRTC (CuPy): {major}.{minor}; compiling fails ({type(exc).__name__}: {exc}): "
                "install the CUDA runtime headers (apt cuda-cudart-dev-<major>-<minor>, or "
                "pip nvidia-cuda-runtime-cu12 / cupy-cuda12x[ctk])")
    return f"NVRTC (CuPy): {major}.{minor} (CuPy's JIT compiles)"


def _nvrtc_line() -> str:
    try:
        from .runtime import nvrtc
        major, minor = nvrtc.nvrtc_version()
        return f"NVRTC: {major}.{minor} ({nvrtc.nvrtc_library_path() or 'path unknown'})"
    except Exception as exc:
        return f"NVRTC: not available ({exc})"


def _fastcall_line() -> str:
    try:
        from gpuad.runtime.host import fastcall_status
        return fastcall_status()
    except Exception as exc:       # info reports; it does not fail
        return f"off: {exc}"


def _isa_line() -> str:
    """The level builds here get (the compiler may know only a lower one), and the level of
    the shipped prebuilt libraries that serve instead, where a wheel ships them."""
    try:
        from .runtime import env, host
        cap = env.get("GPUAD_HOST_ISA")
        isa = host.host_isa()
        why = "the highest level this CPU has" if cap == "auto" else f"GPUAD_HOST_ISA={cap}"
        try:
            flags = host._level_flags(tuple(host._compiler()[0]), isa)
            built = next(k for k, v in host.ISAS.items() if v == flags)
        except Exception:          # no compiler: only prebuilt libraries can serve
            built = isa
        line = f"{built} ({why})" if built == isa else f"{built} (the compiler knows no {isa}; {why})"
        sh = host.shipped()
        if sh is not None and env.get("GPUAD_PREBUILT") and not env.get("GPUAD_HOST_CXXFLAGS"):
            have = {e.get("isa") for es in sh.manifest.get("host", {}).values() for e in es}
            serve = next((lv for lv in host.levels_down(isa) if lv in have), isa)
            if serve != isa:
                line += f"; the prebuilt libraries that serve first are {serve} (none shipped for {isa})"
        return line
    except Exception as exc:       # info reports; it does not fail
        return f"unknown ({exc})"


def info_lines() -> list[str]:
    """The report printed by ``gpuad info``, one line per fact."""
    import numpy
    lines = [f"gpuad: {gpuad_version()}",
             f"Python: {platform.python_version()} ({sys.executable})",
             f"NumPy: {numpy.__version__}"]
    lines += _backend_lines()
    cxx = find_cxx()
    if cxx is None:
        lines.append("C++ compiler (CPU path): none: install g++ or set CXX")
    else:
        lines.append(f"C++ compiler (CPU path): {shlex.join(cxx[0])}: {cxx[1]}")
    lines.append(f"C launch path (CPU): {_fastcall_line()}")
    lines.append(f"CPU kernels built for: {_isa_line()}")
    try:
        from .runtime.prebuilt import status
        lines.append(f"prebuilt kernels: {status()}")
    except Exception as exc:       # info reports; it does not fail
        lines.append(f"prebuilt kernels: unreadable ({exc})")
    try:
        lines.append(f"host kernel cache: {host_cache_dir()}")
    except Exception as exc:       # info reports; it does not fail
        lines.append(f"host kernel cache: unusable ({exc})")
    lines.append(_nvrtc_line())
    from .runtime import env
    lines += [f"environment: {line}" for line in env.settings()]
    return lines


def primitive_lines() -> list[str]:
    """One line per registered primitive: name, what its VJP saves, linear or not, its doc."""
    from gpuad import REGISTRY
    return [f"{p.name:<20} saves={p.saves:<5} {'linear ' if p.linear else ''}{p.doc}"
            for p in sorted(REGISTRY.values(), key=lambda p: p.name)]


def main(argv=None) -> int:
    """Entry point of ``python -m gpuad`` and the ``gpuad`` script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["selftest"]:
        from .selftest import main as selftest
        return selftest(argv[1:], info_lines)
    parser = argparse.ArgumentParser(prog="gpuad", description="gpuad command line")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="versions, backend, compilers and caches found")
    sub.add_parser("selftest", help="tests and timings on this machine's device, with a "
                                    "report (python -m gpuad selftest --help)")
    sub.add_parser("primitives", help="the registry: every primitive and what it is")
    sub.add_parser("coverage", help="write docs/numpy_coverage.md (gpuad.numpy vs NumPy)")
    args = parser.parse_args(argv)
    if args.command == "info":
        print("\n".join(info_lines()))
        return 0
    if args.command == "primitives":
        print("\n".join(primitive_lines()))
        return 0
    if args.command == "coverage":
        from gpuad.numpy import _coverage
        print(f"wrote {_coverage.write()}")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
