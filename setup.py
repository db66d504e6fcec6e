"""Wheel builds compile gpuad's kernels ahead of time (gpuad/runtime/prebuilt.py).

``python -m build --wheel`` runs ``build_py`` below: after the sources are copied it compiles
every kernel bundle for the host (baseline, x86-64-v3, x86-64-v4), the C launch path for this Python,
and, where NVRTC is installed in the build environment, the CUDA modules (cubins for sm_80
and sm_90, PTX for newer GPUs) into ``gpuad/_prebuilt`` with a manifest, and the wheel is
tagged for this Python and platform. ``GPUAD_WHEEL_PREBUILT=0`` ships the sources only (a
pure wheel); editable installs (``pip install -e .``) never compile anything here. The
other ``GPUAD_WHEEL_*`` variables (README) narrow what is built.
"""
import importlib.util
import shutil
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py as _build_py

ROOT = Path(__file__).resolve().parent


def _env():
    """gpuad's reader of its environment variables (runtime/env.py: standard library only),
    without importing the package."""
    spec = importlib.util.spec_from_file_location("_gpuad_env", ROOT / "gpuad" / "runtime" / "env.py")
    mod = sys.modules[spec.name] = importlib.util.module_from_spec(spec)   # dataclasses look it up
    spec.loader.exec_module(mod)
    return mod


def _prebuilt_wanted() -> bool:
    return _env().get("GPUAD_WHEEL_PREBUILT")


class build_py(_build_py):
    def run(self):
        super().run()
        out = Path(self.build_lib) / "gpuad" / "_prebuilt"
        shutil.rmtree(out, ignore_errors=True)      # never what an earlier build left here
        if getattr(self, "editable_mode", False) or not _prebuilt_wanted():
            return
        sys.path.insert(0, str(ROOT))        # this source tree's gpuad, not an installed one
        try:
            from gpuad.runtime import env, prebuilt
            prebuilt.build(out,
                           isas=env.get("GPUAD_WHEEL_ISAS"),
                           cuda_targets=env.get("GPUAD_WHEEL_CUDA_TARGETS"),
                           bundles=env.get("GPUAD_WHEEL_BUNDLES"),
                           cuda_dir=env.get("GPUAD_WHEEL_CUDA_DIR"),
                           log=lambda line: print(f"gpuad prebuilt: {line}", flush=True))
        finally:
            sys.path.remove(str(ROOT))


class BinaryDistribution(Distribution):
    """A wheel with prebuilt libraries is for this Python and platform only."""

    def has_ext_modules(self):
        return _prebuilt_wanted()


setup(cmdclass={"build_py": build_py}, distclass=BinaryDistribution)
