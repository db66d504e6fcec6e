"""Every example in gpuad's docstrings runs and prints what it says (public docstrings give
a runnable example; this keeps them true to the code)."""
import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import gpuad
import gpuad.numpy as gnp
import gpuad.scipy.integrate as gsi
import gpuad.scipy.linalg as gsl

MODULES = ["gpuad"] + sorted(m.name for m in pkgutil.walk_packages(gpuad.__path__, "gpuad.")
                             if m.name != "gpuad.__main__")
GLOBS = {"np": np, "gpuad": gpuad, "gnp": gnp, "gsl": gsl, "gsi": gsi}


def _tests(name):
    mod = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(mod, name, globs=dict(GLOBS)) if t.examples
            and t.name.startswith(name)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = []
    for t in _tests(name):
        runner.run(t, out=out.append)
    assert runner.failures == 0, "".join(out)
