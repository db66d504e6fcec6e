"""Kernels compiled ahead of time (gpuad/runtime/prebuilt.py): a wheel's first grad runs with
no compiler; its CUDA modules are loaded by the lowered names NVRTC reported.

The wheel comes from $GPUAD_TEST_WHEEL when one was built with every bundle; otherwise a
partial one is built here (the float64 first-order bundle for this machine's ISA), as in CI.
The CUDA modules come from the NVRTC gate's output in CI ($GPUAD_TEST_CUDA_DIR)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import struct
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

import gpuad  # noqa: F401  (declares every kernel)
from gpuad import runtime
from gpuad.runtime import host, nvrtc, prebuilt

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = "elementwise.cu[double-first]"
PROGRAM = r"""
import json, sys
import numpy as np, gpuad, gpuad.numpy as gnp
from gpuad.runtime import host, prebuilt
g = gpuad.grad(lambda x: gnp.sum(gnp.sin(x)))(np.ones(3))
mod = gpuad.runtime._BUNDLES.get(("elementwise.cu", "double-first", "cpu"))
print(json.dumps({"grad": g.tolist(), "builds": host.BUILD_COUNT, "fastcall": host.fastcall_status(),
                  "library": str(mod.library_path) if mod else None, "status": prebuilt.status(),
                  "gpuad": gpuad.__file__}))
"""


# ----------------------------------------------------------------------------- the wheel
@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    given = os.environ.get("GPUAD_TEST_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "GPUAD_WHEEL_BUNDLES": BUNDLE, "GPUAD_WHEEL_ISAS": host.host_isa(),
           "GPUAD_WHEEL_CUDA_TARGETS": "none"}
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = out.glob("gpuad-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel (and this NumPy, linked in); a `g++` on its PATH that
    records being run and fails."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip",
                    str(root)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install",
                    "--no-deps", "-q", str(wheel)], check=True)
    (site,) = root.glob("lib/python*/site-packages")
    numpy_dir = root / "numpy-only"
    numpy_dir.mkdir()
    for name in ("numpy", "numpy.libs"):
        src = Path(np.__file__).parent.parent / name
        if src.exists():
            (numpy_dir / name).symlink_to(src)
    (site / "numpy-only.pth").write_text(f"{numpy_dir}\n")
    for cxx in ("g++", "c++", "clang++"):
        fake = root / "bin" / cxx
        fake.write_text(f"#!/bin/sh\necho \"$0 $*\" >> {root}/compiler-ran\nexit 1\n")
        fake.chmod(0o755)
    return root


def run_in(venv: Path, tmp_path: Path, **env) -> tuple[dict, str, Path]:
    cache = tmp_path / "cache"
    full = {"PATH": str(venv / "bin"), "HOME": str(tmp_path), "GPUAD_CACHE_DIR": str(cache), **env}
    r = subprocess.run([str(venv / "bin" / "python"), "-c", PROGRAM], capture_output=True, text=True,
                       env=full, cwd=str(tmp_path), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.splitlines()[-1]), r.stderr, cache


def installed(venv: Path) -> Path:
    (pkg,) = venv.glob("lib/python*/site-packages/gpuad")
    return pkg / "_prebuilt"


@pytest.mark.slow
def test_wheel_runs_its_first_grad_with_no_compiler(venv, tmp_path):
    res, err, cache = run_in(venv, tmp_path)
    assert res["grad"] == pytest.approx([np.cos(1.0)] * 3)
    assert Path(res["gpuad"]).is_relative_to(venv)
    assert res["builds"] == 0 and not (venv / "compiler-ran").exists(), (venv / "compiler-ran").read_text()
    assert "compiling" not in err
    assert Path(res["library"]).parent == installed(venv)
    assert res["fastcall"].startswith("on (prebuilt: ")
    assert not cache.exists() or not any(cache.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["changed bytes", "writable by others", "GPUAD_PREBUILT=0"])
def test_a_prebuilt_library_that_does_not_check_out_is_compiled_instead(venv, tmp_path, damage):
    """The fake compiler on the venv's PATH fails: a library that is not used shows as an
    attempt to compile it."""
    lib = installed(venv) / f"elementwise.cu_double-first_.{host.host_isa()}.so"
    data, mode = lib.read_bytes(), lib.stat().st_mode
    env = {}
    try:
        if damage == "changed bytes":
            lib.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        elif damage == "writable by others":
            lib.chmod(mode | stat.S_IWOTH)
        else:
            env["GPUAD_PREBUILT"] = "0"
        r = subprocess.run([str(venv / "bin" / "python"), "-c", PROGRAM], capture_output=True, text=True,
                           env={"PATH": str(venv / "bin"), "HOME": str(tmp_path),
                                "GPUAD_CACHE_DIR": str(tmp_path / "cache"), **env},
                           cwd=str(tmp_path), timeout=600)
    finally:
        lib.write_bytes(data)
        lib.chmod(mode)
    assert r.returncode != 0 and "compiling CUDA module 'elementwise.cu[double-sin]'" in r.stderr
    assert "failed" in r.stderr and (venv / "compiler-ran").exists()
    (venv / "compiler-ran").unlink()


def test_manifest_lists_every_file_with_its_sha256(wheel):
    z = zipfile.ZipFile(wheel)
    manifest = json.loads(z.read("gpuad/_prebuilt/manifest.json"))
    files = [e for entries in manifest["host"].values() for e in entries]
    files += [manifest["fastcall"]] if manifest["fastcall"] else []
    files += [t for m in (manifest["cuda"] or {}).get("modules", {}).values() for t in m["targets"].values()]
    shipped = {n.rsplit("/", 1)[1] for n in z.namelist() if n.startswith("gpuad/_prebuilt/")}
    assert shipped == {f["file"] for f in files} | {"manifest.json"}
    for f in files:
        assert hashlib.sha256(z.read(f"gpuad/_prebuilt/{f['file']}")).hexdigest() == f["sha256"]
    assert BUNDLE in manifest["host"] and manifest["fastcall"]["python"] == sys.implementation.cache_tag
    assert re.search(r"-cp3\d+-cp3\d+-linux_", wheel.name), "a wheel with libraries is not pure"


# ------------------------------------------------------------------------ CUDA modules
def elf_functions(image: bytes) -> set[str]:
    """The function symbols of an ELF64 little-endian file (a cubin's kernels)."""
    assert image[:4] == b"\x7fELF" and image[4] == 2 and image[5] == 1
    shoff, = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", image, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", image, shoff + i * shentsize) for i in range(shnum)]
    names = set()
    for _, sh_type, _, _, off, size, link, _, _, entsize in sections:
        if sh_type != 2:                                  # SHT_SYMTAB
            continue
        stroff = sections[link][4]
        for k in range(size // entsize):
            st_name, st_info = struct.unpack_from("<IB", image, off + k * entsize)
            if st_info & 0xF == 2:                        # STT_FUNC
                end = image.index(b"\0", stroff + st_name)
                names.add(image[stroff + st_name:end].decode())
    return names


def ptx_entries(image: bytes) -> set[str]:
    """The kernels (.entry) a PTX file defines."""
    return {n.decode() for n in re.findall(rb"\.entry\s+([\w$]+)", image)}


def _images_from_wheel(wheel: Path):
    z = zipfile.ZipFile(wheel)
    cuda = json.loads(z.read("gpuad/_prebuilt/manifest.json"))["cuda"]
    return cuda, lambda name: z.read(f"gpuad/_prebuilt/{name}")


@pytest.fixture(scope="module")
def cuda_images(tmp_path_factory):
    """(the manifest's "cuda" section, file name -> bytes): what CI's NVRTC gate wrote
    ($GPUAD_TEST_CUDA_DIR, `python -m gpuad.runtime.nvrtc --out DIR`, the directory a wheel
    build takes its CUDA modules from) or the CI wheel's, else PTX for compute_90 of every
    bundle compiled here (cubins add only ptxas's time)."""
    given_dir = os.environ.get("GPUAD_TEST_CUDA_DIR")
    if given_dir:
        d = Path(given_dir)
        return json.loads((d / host.MANIFEST).read_text())["cuda"], lambda name: (d / name).read_bytes()
    given = os.environ.get("GPUAD_TEST_WHEEL")
    if given:
        cuda, read = _images_from_wheel(Path(given))
        if cuda:
            return cuda, read
    try:
        nvrtc.nvrtc_version()
    except nvrtc.NvrtcUnavailable as e:
        pytest.skip(f"NVRTC not available: {e}")
    out = tmp_path_factory.mktemp("cuda")
    cuda = prebuilt.build_cuda(runtime.bundles(), ["compute_90"], out, os.cpu_count() or 1, lambda _: None)
    return cuda, lambda name: (out / name).read_bytes()


@pytest.mark.slow
@pytest.mark.nvrtc
def test_recorded_lowered_names_cover_every_instantiation(cuda_images):
    """Every instantiation the runtime can request is recorded, for every target, under a
    lowered name that the cubin (ELF symbol) or PTX (.entry) really contains."""
    cuda, read = cuda_images
    declared = {spec.name: spec for spec in runtime.bundles()}
    assert set(cuda["modules"]) == set(declared)
    for name, mod in cuda["modules"].items():
        spec = declared[name]
        assert mod["key"] == nvrtc.module_key(spec), f"{name} was compiled from other sources"
        for target, entry in mod["targets"].items():
            image = read(entry["file"])
            present = elf_functions(image) if target.startswith("sm_") else ptx_entries(image)
            lowered = entry["lowered"]
            missing = [e for e in spec.name_expressions if lowered.get(e) not in present]
            assert not missing, f"{name} [{target}]: {missing[:5]}"
    every = {e for s in runtime.all_modules() for e in s.name_expressions}
    assert every == {e for s in declared.values() for e in s.name_expressions}


@pytest.mark.nvrtc
def test_a_cubin_holds_every_lowered_name():
    """The cubin path (ptxas inside NVRTC) that CI's PTX gate skips: the smallest bundle
    compiled for sm_90, its kernels read back from the ELF symbol table under the lowered
    names NVRTC reported, as a wheel's loader looks them up."""
    try:
        nvrtc.nvrtc_version()
    except nvrtc.NvrtcUnavailable as e:
        pytest.skip(f"NVRTC not available: {e}")
    spec = min(runtime.bundles(), key=lambda s: len(s.name_expressions))
    assert spec.name_expressions
    r = nvrtc.compile_source(spec.code(), spec.name_expressions, "sm_90", (runtime.kernel_dir(),),
                             name=spec.source, binary=True)
    assert r["cubin_size"] == len(r["image"]) > 0
    present = elf_functions(r["image"])
    assert {r["lowered"][e] for e in spec.name_expressions} <= present
    assert set(r["kernels"]) <= present          # ptxas's -v report names real kernels


# ----------------------------------------------------------------- the CUDA loader, mocked
@pytest.mark.parametrize("cc, target", [("80", "sm_80"), ("86", "sm_80"), ("89", "sm_80"), ("90", "sm_90"),
                                        ("100", "compute_90"), ("120", "compute_90"), ("75", None)])
def test_cuda_target_for_a_compute_capability(cc, target):
    assert prebuilt.cuda_target(cc, ["sm_80", "sm_90", "compute_90"]) == target


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A _prebuilt directory with CUDA modules for every bundle (made-up images and lowered
    names) that the loader is pointed at, and a fake CuPy that records what it is asked."""
    d = tmp_path / "_prebuilt"
    d.mkdir(mode=0o755)
    modules = {}
    for spec in runtime.bundles():
        targets = {}
        for t in ("sm_80", "sm_90", "compute_90"):
            f = d / f"{spec.group}.{t}"
            f.write_bytes(f"{spec.name} {t}".encode())
            targets[t] = {"file": f.name, "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
                          "lowered": {e: f"_Z{i}_{t}" for i, e in enumerate(spec.name_expressions)}}
        modules[spec.name] = {"key": nvrtc.module_key(spec), "targets": targets}
    (d / "manifest.json").write_text(json.dumps({"version": 1, "host": {}, "fastcall": None,
                                                 "cuda": {"nvrtc": "12.9", "modules": modules}}))
    made = []

    class RawModule:
        def __init__(self, **kw):
            self.kw = kw
            made.append(self)
            self.asked = []

        def get_function(self, name):
            self.asked.append(name)
            return lambda *a, **kw: None

    monkeypatch.setattr(host, "prebuilt_dir", lambda: d)
    monkeypatch.setattr(host, "_SHIPPED", [])
    monkeypatch.setattr(runtime, "_LOADED", {})
    monkeypatch.setattr(runtime, "_BUNDLES", {})
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(RawModule=RawModule))
    return d, made


@pytest.mark.parametrize("cc, target", [("86", "sm_80"), ("90", "sm_90"), ("120", "compute_90")])
def test_loader_takes_the_file_for_the_device_and_the_lowered_name(shipped, monkeypatch, cc, target):
    d, made = shipped
    monkeypatch.setattr(prebuilt, "_device_cc", lambda: cc)
    expr = "unary_vjp<ops::Tanh, float, 1>"
    runtime.get_kernel("elementwise.cu", expr, "cuda")
    (raw,) = made
    assert Path(raw.kw["path"]).name == f"float-first.{target}" and set(raw.kw) == {"path"}
    bundle = next(s for s in runtime.bundles() if s.group == "float-first")
    assert raw.asked[-1] == f"_Z{bundle.name_expressions.index(expr)}_{target}"
    runtime.get_kernel("elementwise.cu", "unary_fwd<ops::Exp, float>", "cuda")   # same bundle, same module
    assert len(made) == 1


def test_loader_compiles_with_nvrtc_where_nothing_suits(shipped, monkeypatch):
    d, made = shipped
    monkeypatch.setattr(prebuilt, "_device_cc", lambda: "75")
    runtime.get_kernel("elementwise.cu", "unary_fwd<ops::Sin, double>", "cuda")
    (raw,) = made
    assert "code" in raw.kw and raw.kw["name_expressions"] == ["unary_fwd<ops::Sin, double>",
                                                               "unary_vjp<ops::Sin, double, 1>"]


def test_loader_ignores_modules_of_other_sources_or_damaged_files(shipped, monkeypatch):
    d, made = shipped
    monkeypatch.setattr(prebuilt, "_device_cc", lambda: "90")
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["cuda"]["modules"]["elementwise.cu[double-first]"]["key"] = "0" * 64
    (d / "manifest.json").write_text(json.dumps(manifest))
    (d / "float-first.sm_90").write_bytes(b"changed")
    runtime.get_kernel("elementwise.cu", "unary_fwd<ops::Sin, double>", "cuda")
    runtime.get_kernel("elementwise.cu", "unary_fwd<ops::Sin, float>", "cuda")
    assert [("code" in m.kw) for m in made] == [True, True]


def test_a_wheel_without_this_cpus_level_serves_the_highest_lower_one(monkeypatch):
    # An AVX-512 CPU given a wheel built for baseline and x86-64-v3 only runs the v3 build
    # (compiling nothing), not the portable one; nothing above this CPU's level is ever asked.
    unit = host._Unit("__global__ void k(float* x) { x[0] = 1.0f; }", (), ("k",), (), "levels")
    levels = list(host.ISAS)
    keys = {unit.portable_key(isa): isa for isa in levels}
    for top in levels:
        for shipped in ([], *[levels[:i + 1] for i in range(len(levels))]):
            asked = []

            def lookup(name, key):
                asked.append(keys[key])
                return (Path("/x"), keys[key]) if keys[key] in shipped else None
            monkeypatch.setattr(host, "shipped_library", lookup)
            monkeypatch.setattr(host, "host_isa", lambda: top)
            monkeypatch.setenv("GPUAD_PREBUILT", "1")
            monkeypatch.delenv("GPUAD_HOST_CXXFLAGS", raising=False)
            usable = [lv for lv in shipped if levels.index(lv) <= levels.index(top)]
            got = host._prebuilt_library(unit)
            assert got == ((Path("/x"), usable[-1]) if usable else None), (top, shipped)
            assert all(levels.index(a) <= levels.index(top) for a in asked), asked
