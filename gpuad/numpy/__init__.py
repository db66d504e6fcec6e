"""gpuad.numpy: a NumPy-compatible namespace whose functions record on the tape.

Arrays may be NumPy arrays (run on the CPU through the same CUDA kernels), CuPy arrays
(run on the GPU) or traced values inside a transform. Every public name of NumPy's
namespace is here (docs/numpy_coverage.md lists each one's status): a differentiable
gpuad function; NumPy's (or CuPy's) own function where the result has no derivative (a
traced argument is read as its value: comparisons, argmax, floor, ...) or where values are
not differentiated (constructors from shapes, I/O: a traced argument is refused with a
TypeError); NumPy's types and constants; or a NotImplementedError naming what to use.
"""

import numpy as _np

from ._elementwise import *          # noqa: F401,F403
from ._reductions import *           # noqa: F401,F403
from ._linalg import *               # noqa: F401,F403
from . import linalg                 # noqa: F401
from . import fft                    # noqa: F401
from . import emath                  # noqa: F401
from ._shape import *                # noqa: F401,F403
from ._indexing import *             # noqa: F401,F403
from ._indexing import _getitem      # noqa: F401  (the operator x[idx] of traced arrays)
from ._constructors import *         # noqa: F401,F403
from ._stats import *                # noqa: F401,F403
from ._sequences import *            # noqa: F401,F403
from ._math import *                 # noqa: F401,F403
from ._layout import *               # noqa: F401,F403
from ._select import *               # noqa: F401,F403
from ._select import at              # noqa: F401
from . import _coverage, _methods, _passthrough
from . import _elementwise as _ew
from ._core import numpy_semantics as _numpy_semantics

# User-facing calls without traced arguments keep NumPy's integer dtypes and scalar results
# (the elementwise functions do this in their own fast wrappers; calls inside gpuad go to
# the unwrapped functions).
for _name in [n for n in dir() if not n.startswith("_") and callable(globals()[n])
              and getattr(globals()[n], "__module__", "").startswith("gpuad.numpy.")
              and not hasattr(_ew.E.PRIMS.get(n), "impl")]:
    globals()[_name] = _numpy_semantics(_name, globals()[_name])
del _name


def __getattr__(name):
    # NumPy's other names, made on first use (then module attributes): see _coverage.
    obj = _passthrough.make(name, _coverage)
    globals()[name] = obj
    return obj


def __dir__():
    return sorted(set(globals()) | set(_coverage.numpy_names()))


_methods.install()   # last: traced arrays get methods for everything above
