"""gpuad.numpy: a NumPy-compatible namespace whose functions record on the tape.

Arrays may be NumPy arrays (run on the CPU through the same CUDA kernels), CuPy arrays
(run on the GPU) or traced values inside a transform. Functions that are not
differentiable (constructors, comparisons, argmax, ...) pass through to NumPy/CuPy.
"""
from __future__ import annotations

import numpy as _np

from ._elementwise import *          # noqa: F401,F403
from ._reductions import *           # noqa: F401,F403
from ._linalg import *               # noqa: F401,F403
from . import linalg                 # noqa: F401
from ._shape import *                # noqa: F401,F403
from ._indexing import *             # noqa: F401,F403
from ._indexing import _getitem      # noqa: F401  (the operator x[idx] of traced arrays)
from ._constructors import *         # noqa: F401,F403
from ._stats import *                # noqa: F401,F403
from ._sequences import *            # noqa: F401,F403
from . import _methods

# NumPy's non-differentiable helpers and constructors, unchanged.
from numpy import (float32, float64, int32, int64, bool_, newaxis, pi, e, inf, nan,  # noqa
                   dtype, ndarray)


def __getattr__(name):
    # Passthrough for the non-differentiable rest of NumPy (constructors, predicates,
    # argmax, ...): traced arguments are lowered to their values, so no rule is silently
    # skipped for a differentiable function (those are all defined above).
    if name in _PASSTHROUGH:
        f = getattr(_np, name)

        def g(*args, **kwargs):
            from ._core import lower
            return f(*[lower(a) for a in args], **{k: lower(v) for k, v in kwargs.items()})
        g.__name__ = name
        g.__doc__ = f"numpy.{name} (not differentiable: traced arguments are read as values)"
        return g
    raise AttributeError(f"gpuad.numpy has no attribute {name!r}")


_PASSTHROUGH = {
    "zeros", "ones", "empty", "arange", "eye", "identity",
    "zeros_like", "ones_like", "empty_like",
    "isnan", "isinf", "isfinite", "argmax", "argmin", "argsort", "nonzero", "count_nonzero",
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "logical_and",
    "logical_or", "logical_not", "logical_xor", "all", "any", "allclose", "isclose",
    "array_equal", "floor", "ceil", "round", "rint", "trunc", "shape", "ndim", "size",
    "result_type", "broadcast_shapes", "iscomplexobj", "signbit", "searchsorted",
    "unique", "bincount", "tri", "indices", "unravel_index",
    "ravel_multi_index", "diag_indices", "tril_indices", "triu_indices",
}

_methods.install()   # last: traced arrays get methods for everything above
