"""docker/Dockerfile against the repository: no Docker engine runs here, so the image is
never built; what it relies on is checked instead (hadolint lints it in .ci/run).

- every extra it installs and every module or script it runs exists in pyproject.toml;
- every path it COPYs exists and is not excluded by .dockerignore;
- the base image is an NVIDIA CUDA 12 runtime image with a pinned tag; it runs as non-root;
- it installs the CUDA runtime headers of the base image's CUDA version (CuPy 14 needs them
  for every JIT compile; runtime images lack them);
- the CuPy extras require CuPy 14.2 or newer (older CuPy recompiles every process).
"""
import fnmatch
import pathlib
import re
import shlex

import pytest

try:
    import tomllib
except ModuleNotFoundError:          # Python 3.10: the test extra installs tomli
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def instructions():
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text()
    lines, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        lines.append(buf + line)
        buf = ""
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "")
            for ln in lines]


@pytest.fixture(scope="module")
def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def dockerignore_patterns():
    path = ROOT / ".dockerignore"
    return [ln.strip() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def ignored(rel: str, patterns) -> bool:
    """Whether .dockerignore excludes ``rel`` or a parent of it (Go filepath.Match-like,
    ``**`` matching any number of directories; enough for the patterns used here)."""
    parts = pathlib.PurePosixPath(rel).parts
    out = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        pat = pat.rstrip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, pat) or (
                    pat.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1], pat[3:])):
                out = not neg
    return out


def test_base_image_is_pinned_cuda12_runtime():
    froms = [a for i, a in instructions() if i == "FROM"]
    assert len(froms) == 1
    image = froms[0].split()[0]
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-runtime-ubuntu\d\d\.\d\d", image), image


def test_installed_extras_exist(pyproject):
    runs = " ".join(a for i, a in instructions() if i == "RUN")
    specs = re.findall(r"pip install[^&;]*?[\"']?\.\/?\[([^\]]+)\]", runs)
    assert specs, "the Dockerfile installs the project from the build context with extras"
    extras = {e.strip() for spec in specs for e in spec.split(",")}
    assert {"cuda12", "examples"} <= extras
    declared = pyproject["project"]["optional-dependencies"]
    assert extras <= set(declared), extras - set(declared)
    assert any(d.startswith("cupy-cuda12x") for d in declared["cuda12"])


def test_copied_paths_exist_and_reach_the_context():
    patterns = dockerignore_patterns()
    for inst, args in instructions():
        if inst not in ("COPY", "ADD"):
            continue
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        for src in words[:-1]:
            assert (ROOT / src).exists(), f"COPY source {src} is missing"
            assert not ignored(src.rstrip("/"), patterns), f"{src} is in .dockerignore"
    # The package's kernels are reached through the gpuad/kernels symlink: its target is
    # copied too.
    link = ROOT / "gpuad" / "kernels"
    if link.is_symlink():
        target = (link.parent / link.readlink()).resolve().relative_to(ROOT).as_posix()
        copied = {w.rstrip("/") for i, a in instructions() if i == "COPY"
                  for w in shlex.split(a)[:-1]}
        assert target in copied


def test_default_command_uses_existing_entry_points(pyproject):
    cmds = [a for i, a in instructions() if i == "CMD"]
    assert len(cmds) == 1
    cmd = cmds[0]
    assert "python -m gpuad info" in cmd
    assert (ROOT / "gpuad" / "__main__.py").exists()
    assert "gpuad" in pyproject["project"]["scripts"]
    scripts = re.findall(r"/opt/gpuad/(examples/\w+\.py)", cmd)
    assert scripts == ["examples/newton_cg_logreg.py"]
    assert all((ROOT / s).exists() for s in scripts)
    # The install directory is where the project is copied.
    workdirs = [a for i, a in instructions() if i == "WORKDIR"]
    assert "/opt/gpuad" in workdirs


def test_runs_as_non_root():
    users = [a.split(":")[0] for i, a in instructions() if i == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_dockerignore_keeps_caches_and_outputs_out():
    patterns = dockerignore_patterns()
    for rel in (".git", ".venv", "gpuad/__pycache__", "build", "dist", "gpuad.egg-info",
                ".pytest_cache", "examples/__pycache__/x.pyc"):
        assert ignored(rel, patterns), rel
    for rel in ("pyproject.toml", "README.md", "gpuad/__init__.py", "kernels",
                "examples/newton_cg_logreg.py"):
        assert not ignored(rel, patterns), rel


def test_cuda_runtime_headers_match_the_base_image():
    image = next(a for i, a in instructions() if i == "FROM").split()[0]
    major, minor = re.match(r"nvidia/cuda:(\d+)\.(\d+)", image).groups()
    runs = " ".join(a for i, a in instructions() if i == "RUN")
    assert re.search(rf"apt-get install .*\bcuda-cudart-dev-{major}-{minor}\b", runs), runs


@pytest.mark.parametrize("extra,package", [("cuda12", "cupy-cuda12x"), ("cuda13", "cupy-cuda13x")])
def test_cupy_extras_require_14_2(pyproject, extra, package):
    (req,) = pyproject["project"]["optional-dependencies"][extra]
    m = re.fullmatch(rf"{package}>=(\d+)\.(\d+)", req)
    assert m and (int(m[1]), int(m[2])) >= (14, 2), req
