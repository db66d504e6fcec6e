"""Kernel runtime: one CUDA source, compiled by CuPy (NVRTC) on a GPU and by the host
C++ compiler on a CPU, launched through the same call shape
``kernel(grid, block, args, shared_mem=0)``.

The registry of primitives declares, per kernel source file, every template
instantiation it will request (:func:`declare`); the NVRTC gate compiles exactly that
set, and both backends build a module from it.
"""
from __future__ import annotations

import dataclasses
import importlib.resources
import pathlib
import threading



# Compile options shared by NVRTC (through CuPy or the gate) and recorded for the host build.
NVRTC_OPTIONS = ("-std=c++17",)


def kernel_dir() -> pathlib.Path:
    """Directory of the shipped CUDA sources (``gpuad/kernels`` in the wheel)."""
    return pathlib.Path(str(importlib.resources.files("gpuad") / "kernels"))


@dataclasses.dataclass
class ModuleSpec:
    """A kernel source file and a group of instantiations requested from it, built together."""
    source: str                       # path relative to kernel_dir()
    group: str = ""
    name_expressions: list[str] = dataclasses.field(default_factory=list)
    bundle: str = ""                  # the ahead-of-time module this group is part of

    @property
    def name(self) -> str:
        return f"{self.source}[{self.group}]" if self.group else self.source

    @property
    def path(self) -> pathlib.Path:
        return kernel_dir() / self.source

    def code(self) -> str:
        return self.path.read_text()


_SPECS: dict[tuple, ModuleSpec] = {}
_OWNER: dict[tuple, ModuleSpec] = {}     # (source, name expression) -> its module
_LOADED: dict[tuple, object] = {}
_LOCK = threading.Lock()


def declare(source: str, name_expressions, group: str = "", bundle: str | None = None) -> None:
    """Declare instantiations of ``source`` that the engine may launch.

    Instantiations of one (source, group) are compiled together when a program first needs
    one of them: small groups (one op's kernels of one order and dtype) build only what a
    program uses. Groups of one ``bundle`` (default: the group itself) are compiled together
    ahead of time (the NVRTC gate, the prebuilt kernels of a wheel, a warmed cache), where
    one compile's fixed cost matters more than its size.
    """
    spec = _SPECS.setdefault((source, group), ModuleSpec(source, group, bundle=bundle or group))
    for name in name_expressions:
        if (source, name) not in _OWNER:
            spec.name_expressions.append(name)
            _OWNER[(source, name)] = spec


def all_modules() -> list[ModuleSpec]:
    """Every declared group: the modules built on first use."""
    return [s for s in _SPECS.values() if s.name_expressions]


def bundles() -> list[ModuleSpec]:
    """Every declared bundle, as one module each (what the NVRTC gate compiles and a wheel
    ships prebuilt)."""
    out: dict[tuple, ModuleSpec] = {}
    for s in all_modules():
        b = out.setdefault((s.source, s.bundle), ModuleSpec(s.source, s.bundle, bundle=s.bundle))
        b.name_expressions += s.name_expressions
    return list(out.values())


def bundle_of(spec: ModuleSpec) -> ModuleSpec | None:
    """The bundle ``spec`` belongs to, as one module (None for an undeclared module)."""
    if (spec.source, spec.group) not in _SPECS:
        return None
    return next(b for b in bundles() if (b.source, b.group) == (spec.source, spec.bundle))


_BUNDLES: dict[tuple, object] = {}      # (source, bundle, device) -> its module, or None


def _build(spec: ModuleSpec, names: tuple, device: str):
    # A group is served by its bundle where that needs no compiler: shipped prebuilt in the
    # wheel, or already in this user's cache (python -m gpuad.runtime.prebuilt --warm).
    bundle = bundle_of(spec)
    if bundle is not None and bundle.group != spec.group:
        key = (bundle.source, bundle.group, device)
        if key not in _BUNDLES:
            from .prebuilt import bundle_module
            _BUNDLES[key] = bundle_module(bundle, device)
        if _BUNDLES[key] is not None:
            return _BUNDLES[key]
    if device == "cpu":
        from .host import HostModule
        return HostModule(spec.code(), options=NVRTC_OPTIONS, name_expressions=names,
                          include_dirs=(kernel_dir(),), name=spec.name, tiered=True)
    from .device import CheckedModule, device_module
    code = spec.code()
    return CheckedModule(device_module(code, names, include_dir=kernel_dir()), code)


def get_kernel(source: str, name: str, device: str):
    """The kernel ``name`` of ``source`` for ``device`` ("cpu" or "cuda").

    All instantiations declared in one group are built together (one host build, one
    NVRTC module); an undeclared name gets a module of its own.
    """
    spec = _OWNER.get((source, name))
    key = (source, spec.group if spec else None, name if spec is None else None, device)
    mod = _LOADED.get(key)
    if mod is None:
        with _LOCK:
            mod = _LOADED.get(key)
            if mod is None:
                if spec is None:
                    spec = ModuleSpec(source, "adhoc", [name])
                mod = _build(spec, tuple(spec.name_expressions), device)
                _LOADED[key] = mod
    return mod.get_function(name)



