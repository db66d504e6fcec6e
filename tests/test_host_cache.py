"""The host build cache loads only what this user built (gpuad/runtime/host.py, "build cache").

Each case runs gpuad in a child process: a library that should not be loaded would run its
constructor there, and a damaged one could kill it."""
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody")
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (to chown files to another user)")

PROBE = r"""
import json, sys, warnings
import numpy as np
from gpuad.runtime import host
res = {"built": [], "paths": [], "ok": []}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for name in sys.argv[1:]:
        m = host.HostModule('extern "C" __global__ void add1(double* x, long long n) {'
                            ' long long i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] += 1; }',
                            name=name)
        x = np.zeros(5)
        m.get_function("add1")(1, 8, (x, 5))
        res["built"].append(m.built)
        res["paths"].append(str(m.library_path))
        res["ok"].append(bool((x == 1).all()))
    res["fastcall"] = host.fastcall_status()
res["count"] = host.BUILD_COUNT
res["warnings"] = [str(w.message) for w in caught if "kernel cache" in str(w.message)]
print(json.dumps(res))
"""

PLANTED = r"""
#include <stdio.h>
#include <stdlib.h>
// Runs when the library is loaded: the marker shows that it was.
__attribute__((constructor)) static void planted(void) {
    const char* path = getenv("GPUAD_TEST_MARKER");
    FILE* f = path ? fopen(path, "w") : NULL;
    if (f) { fputs("loaded\n", f); fclose(f); }
}
"""


def _obey_permissions():
    """In the child: drop root's power to ignore file permissions (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH, from the bounding set, so the exec'ed Python never has them)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:          # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def probe(env: dict, *names: str, obey_permissions=False, expect_ok=True):
    full = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", **env}
    full = {k: v for k, v in full.items() if v is not None}
    pre = _obey_permissions if obey_permissions and ROOT else None
    r = subprocess.run([sys.executable, "-c", PROBE, *(names or ("cache_probe",))], env=full,
                       capture_output=True, text=True, timeout=600, preexec_fn=pre, cwd="/")
    if not expect_ok:
        return r
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-3000:]}"
    return json.loads(r.stdout.splitlines()[-1])


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("built") / "cache"
    res = probe({"GPUAD_CACHE_DIR": str(cache)})
    assert res["built"] == [True] and res["fastcall"].startswith("on")
    return cache, Path(res["paths"][0]).name


@pytest.fixture
def warm(cache, built):
    """A cache holding the probe module and the C launch path (a copy of one built once), and
    the probe's library in it."""
    shutil.copytree(built[0], cache)
    return cache / built[1]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    path = tmp_path_factory.mktemp("planted") / "planted.so"
    src = path.with_suffix(".c")
    src.write_text(PLANTED)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(path), str(src)], check=True)
    return path


def _record(lib: Path) -> Path:
    return lib.parent / (lib.name.rsplit("-", 1)[0] + ".json")


def _plant(lib: Path, planted: Path, owner=None, mode=0o600, record_too=False):
    """Put the planted library where the cache's record points, with a record that vouches for
    its bytes: only ownership and permissions may stop it."""
    import hashlib
    shutil.copyfile(planted, lib)
    rec_path = _record(lib)
    rec = json.loads(rec_path.read_text())
    rec["sha256"] = hashlib.sha256(lib.read_bytes()).hexdigest()
    rec_path.write_text(json.dumps(rec))
    os.chmod(lib, mode)
    if owner is not None:
        os.chown(lib, owner.pw_uid, owner.pw_gid)
        if record_too:
            os.chown(rec_path, owner.pw_uid, owner.pw_gid)


def _rebuilt_not_loaded(cache, marker):
    res = probe({"GPUAD_CACHE_DIR": str(cache), "GPUAD_TEST_MARKER": str(marker)})
    assert not marker.exists(), "the planted library was loaded"
    assert res["built"] == [True] and res["ok"] == [True] and res["count"] == 1
    lib = Path(res["paths"][0])
    st = lib.stat()
    assert st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o600
    return res


# ---------------------------------------------------------------------- what is not loaded
@needs_root
@pytest.mark.parametrize("record_too", [False, True])
def test_library_of_another_user_is_not_loaded(cache, warm, planted, tmp_path, record_too):
    _plant(warm, planted, owner=NOBODY, record_too=record_too)
    _rebuilt_not_loaded(cache, tmp_path / "marker")


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666], ids=oct)
def test_library_writable_by_others_is_not_loaded(cache, warm, planted, tmp_path, mode):
    _plant(warm, planted, mode=mode)
    _rebuilt_not_loaded(cache, tmp_path / "marker")


def test_record_writable_by_others_is_not_trusted(cache, warm, planted, tmp_path):
    _plant(warm, planted)
    os.chmod(_record(warm), 0o666)
    _rebuilt_not_loaded(cache, tmp_path / "marker")


def test_library_that_differs_from_its_record_is_not_loaded(cache, warm, planted, tmp_path):
    # The planted bytes, but the record still holds the real library's hash.
    shutil.copyfile(planted, warm)
    _rebuilt_not_loaded(cache, tmp_path / "marker")


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "symlink", "missing"])
def test_damaged_library_is_rebuilt(cache, warm, damage, tmp_path):
    data = warm.read_bytes()
    if damage == "truncated":
        warm.write_bytes(data[:len(data) // 2])       # once: SIGBUS in dlopen
    elif damage == "empty":
        warm.write_bytes(b"")                         # once: OSError on every run, never rebuilt
    elif damage == "garbage":
        warm.write_bytes(os.urandom(len(data)))
    elif damage == "symlink":
        other = tmp_path / "elsewhere.so"
        other.write_bytes(data)
        warm.unlink()
        warm.symlink_to(other)
    else:
        warm.unlink()
    _rebuilt_not_loaded(cache, tmp_path / "marker")
    res = probe({"GPUAD_CACHE_DIR": str(cache)})      # and the repaired cache is used again
    assert res["built"] == [False] and res["count"] == 0


def test_damaged_fastcall_extension_is_rebuilt(cache, warm):
    (lib,) = cache.glob("gpuad_fastcall-*.so")
    lib.write_bytes(lib.read_bytes()[:1000])
    res = probe({"GPUAD_CACHE_DIR": str(cache)})
    assert res["fastcall"].startswith("on (") and res["built"] == [False]
    assert cache.glob("gpuad_fastcall-*.so") and Path(res["fastcall"][4:-1]).stat().st_size > 1000


# --------------------------------------------------------------------- directories
def test_cache_directories_are_private_even_under_umask_000(tmp_path):
    cache = tmp_path / "a" / "b" / "cache"
    r = subprocess.run([sys.executable, "-c", "import os, runpy, sys; os.umask(0); sys.argv = ['-c', 'p'];"
                        f"exec({PROBE!r})"], env={**os.environ, "PYTHONPATH": str(REPO),
                                                  "GPUAD_CACHE_DIR": str(cache)},
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    for d in (tmp_path / "a", tmp_path / "a" / "b", cache):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    files = list(cache.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), files


@pytest.mark.parametrize("how", ["other user", "writable by others"])
def test_cache_directory_not_ours_alone_is_not_used(cache, how, tmp_path, planted):
    cache.mkdir()
    if how == "other user":
        if not ROOT:
            pytest.skip("needs root (to chown the directory to another user)")
        os.chown(cache, NOBODY.pw_uid, NOBODY.pw_gid)
        os.chmod(cache, 0o755)
    else:
        os.chmod(cache, 0o777)
    res = probe({"GPUAD_CACHE_DIR": str(cache), "GPUAD_TEST_MARKER": str(tmp_path / "marker")}, "one", "two")
    assert len(res["warnings"]) == 1, res["warnings"]
    (w,) = res["warnings"]
    assert str(cache) in w and ("owned by uid 65534" in w if how == "other user" else "writable by group and others (mode 777)" in w)
    assert "GPUAD_CACHE_DIR" in w and "chmod 700" in w
    assert res["ok"] == [True, True] and not any(p.startswith(str(cache)) for p in res["paths"])
    assert not list(cache.iterdir())


@pytest.mark.parametrize("case", ["read-only cache", "read-only HOME"])
def test_unwritable_cache_falls_back_with_one_warning(case, tmp_path):
    if case == "read-only cache":
        cache = tmp_path / "cache"
        cache.mkdir(mode=0o500)                       # empty, ours, private: only unwritable
        env = {"GPUAD_CACHE_DIR": str(cache)}
    else:
        home = tmp_path / "home"
        home.mkdir(mode=0o555)
        env = {"HOME": str(home), "GPUAD_CACHE_DIR": None}
    try:
        res = probe(env, "one", "two", obey_permissions=True)
    finally:
        for d in tmp_path.iterdir():
            os.chmod(d, 0o700)
    assert len(res["warnings"]) == 1, res["warnings"]
    (w,) = res["warnings"]
    assert ("is not writable (Permission denied)" if case == "read-only cache" else "Permission denied") in w
    assert res["ok"] == [True, True] and res["built"] == [True, True]
    assert res["fastcall"].startswith("on")
    assert all(p.startswith(tempfile.gettempdir()) and "gpuad-host-" in p for p in res["paths"])


# ------------------------------------------------------------------------------ compiler
def test_warm_cache_loads_without_a_compiler(cache, warm):
    res = probe({"GPUAD_CACHE_DIR": str(cache), "PATH": "", "CXX": None})
    assert res["built"] == [False] and res["ok"] == [True] and res["fastcall"].startswith("on")


def test_cold_cache_without_a_compiler_is_a_clear_error(cache):
    r = probe({"GPUAD_CACHE_DIR": str(cache), "PATH": "", "CXX": None}, expect_ok=False)
    assert r.returncode != 0
    assert "no C++ compiler found" in r.stderr and "apt-get install g++" in r.stderr


def test_damaged_cache_without_a_compiler_names_the_file(cache, warm):
    warm.write_bytes(b"")
    r = probe({"GPUAD_CACHE_DIR": str(cache), "PATH": "", "CXX": None}, expect_ok=False)
    assert r.returncode != 0
    assert f"cannot use the cached build of CUDA module 'cache_probe': {warm} does not match the SHA-256" \
        in r.stderr and "no C++ compiler was found to rebuild it" in r.stderr


def test_another_compiler_rebuilds(cache, warm, tmp_path):
    wrapper = tmp_path / "bin" / "my-c++"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nexec {shutil.which('g++')} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    res = probe({"GPUAD_CACHE_DIR": str(cache), "CXX": str(wrapper)})
    assert res["built"] == [True]
    res = probe({"GPUAD_CACHE_DIR": str(cache), "CXX": str(wrapper)})
    assert res["built"] == [False]


@pytest.mark.parametrize("how", ["other user", "writable by others"])
def test_compiler_another_user_could_change_is_not_run(cache, tmp_path, how):
    if how == "other user" and not ROOT:
        pytest.skip("needs root (to chown the compiler to another user)")
    wrapper = tmp_path / "bin" / "my-c++"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\ntouch {tmp_path}/ran\nexec {shutil.which('g++')} \"$@\"\n")
    os.chmod(wrapper, 0o757 if how == "writable by others" else 0o755)
    if how == "other user":
        os.chown(wrapper, NOBODY.pw_uid, NOBODY.pw_gid)
    r = probe({"GPUAD_CACHE_DIR": str(cache), "CXX": str(wrapper)}, expect_ok=False)
    assert r.returncode != 0 and "refusing to run the C++ compiler" in r.stderr
    assert not (tmp_path / "ran").exists()


def test_compiling_says_so_once_unless_quiet(cache, tmp_path):
    slow = tmp_path / "bin" / "slow-c++"
    slow.parent.mkdir()
    slow.write_text(f"#!/bin/sh\nsleep 1.5\nexec {shutil.which('g++')} \"$@\"\n")
    os.chmod(slow, 0o755)
    code = textwrap.dedent("""
        from gpuad.runtime.host import HostModule
        HostModule('extern "C" __global__ void k(float* x) {}', name="slow_probe")
    """)
    for quiet, lines in (("0", 1), ("1", 0)):
        shutil.rmtree(cache, ignore_errors=True)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PYTHONPATH": str(REPO), "GPUAD_CACHE_DIR": str(cache),
                                "CXX": str(slow), "GPUAD_QUIET": quiet, "GPUAD_FASTCALL": "0"})
        assert r.returncode == 0, r.stderr
        said = [ln for ln in r.stderr.splitlines() if ln.startswith("gpuad: compiling")]
        assert said == ["gpuad: compiling CUDA module 'slow_probe' for the CPU (first use; cached "
                        "afterwards)..."] * lines, r.stderr
