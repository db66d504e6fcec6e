"""Every public name of NumPy's namespace, and what gpuad.numpy does with it.

- implemented: a gpuad.numpy function (recorded on the tape, differentiable);
- zero: NumPy's (or CuPy's) own function; its result does not depend differentiably on
  floating inputs (integers, booleans, indices, shapes, piecewise-constant values), so a
  traced argument is read as its value and the derivative is zero, which is exact almost
  everywhere;
- plain: NumPy's (or CuPy's) own function for values that are not differentiated
  (constructors from shapes, I/O, printing, helpers); a traced argument is refused with a
  TypeError naming the function and the argument (its derivative would be lost);
- missing: not provided; NotImplementedError naming what to use instead;
- re-exported: NumPy's types, dtypes and constants, and its submodules that hold no
  differentiable functions (the same objects).

``python -m gpuad coverage`` writes the table (docs/numpy_coverage.md);
tests/test_coverage.py checks it against the code and NumPy.
"""
from __future__ import annotations

import numpy as _np

ZERO = frozenset("""
all allclose any argmax argmin argpartition argsort argwhere array_equal array_equiv
bitwise_and bitwise_count bitwise_invert bitwise_left_shift bitwise_not
bitwise_or bitwise_right_shift bitwise_xor broadcast_shapes can_cast ceil common_type
count_nonzero digitize empty_like equal fix flatnonzero floor floor_divide gcd greater
greater_equal invert isclose iscomplex iscomplexobj isdtype isfinite isfortran isin isinf
isnan isnat isneginf isposinf isreal isrealobj isscalar issubdtype iterable lcm left_shift
less less_equal lexsort logical_and logical_not logical_or logical_xor may_share_memory
min_scalar_type mintypecode nanargmax nanargmin ndim nonzero not_equal ones_like packbits
promote_types result_type right_shift rint round around searchsorted shape shares_memory
signbit size trunc unpackbits zeros_like
""".split())

PLAIN = frozenset("""
arange array2string array_repr array_str asarray_chkfinite asfortranarray asmatrix
bartlett base_repr binary_repr blackman bmat busday_count busday_offset copyto
datetime_as_string datetime_data diag_indices diag_indices_from einsum_path empty eye
fill_diagonal format_float_positional format_float_scientific from_dlpack frombuffer
fromfile fromfunction fromiter frompyfunc fromregex fromstring genfromtxt get_include
get_printoptions getbufsize geterr geterrcall hamming hanning histogram histogram2d
histogram_bin_edges histogramdd identity in1d indices info intersect1d is_busday ix_ kaiser
load loadtxt mask_indices nested_iters ones place printoptions put putmask
put_along_axis ravel_multi_index require resize save savetxt savez savez_compressed set_printoptions
setbufsize setdiff1d seterr seterrcall setxor1d show_config show_runtime test tri
tril_indices tril_indices_from triu_indices triu_indices_from typename union1d unique
unique_all unique_counts unique_inverse unique_values unravel_index zeros mgrid ogrid
""".split())

MISSING = {
    "roots": "the eigenvalues of the companion matrix (general eigenvalues are not "
             "differentiable in gpuad yet)",
    "polyfit": "gpuad.numpy.linalg.lstsq on gpuad.numpy.vander(x, deg + 1)",
    "polydiv": "gpuad.numpy.linalg.solve on the convolution matrix of the divisor",
    "frexp": "gpuad.numpy.log2 for the exponent, x / 2**e for the mantissa",
    "nextafter": "x itself (the derivative of nextafter is 1 almost everywhere)",
    "spacing": "a constant: spacing is piecewise constant (gpuad.stop_gradient)",
    "vectorize": "gpuad.numpy functions on whole arrays (vectorize calls Python per element)",
    "apply_over_axes": "the reduction with axis=tuple of axes",
    "real_if_close": "gpuad.numpy.real",
    "trim_zeros": "slicing with indices found on the values (gpuad.stop_gradient)",
    "choose": "gpuad.numpy.take_along_axis or gpuad.numpy.select",
    "matrix": "2-d arrays (numpy.matrix is deprecated)",
    "memmap": "gpuad.numpy.asarray of the loaded data",
    "recarray": "a dict of arrays (a pytree)",
    "record": "a dict of arrays (a pytree)",
    "poly1d": "gpuad.numpy.polyval with a coefficient array",
    "ufunc": "the gpuad.numpy function of that name",
    "broadcast": "gpuad.numpy.broadcast_arrays",
    "nditer": "gpuad.numpy functions on whole arrays",
    "ndenumerate": "gpuad.numpy functions on whole arrays",
    "ndindex": "numpy.ndindex (it yields index tuples only; import it from numpy)",
    "flatiter": "gpuad.numpy.ravel",
}

# Submodules of NumPy gpuad.numpy provides its own of (the others are NumPy's).
SUBMODULES = frozenset({"linalg", "fft", "emath"})


def status(name: str, namespace: dict) -> str:
    """The status of NumPy name ``name`` in gpuad.numpy (``namespace``: its globals)."""
    if name in MISSING:
        return "missing"
    if name in ZERO:
        return "zero"
    if name in PLAIN:
        return "plain"
    obj = getattr(_np, name)
    if name in SUBMODULES:
        return "implemented"
    if name in namespace and namespace[name] is not obj and callable(namespace[name]):
        return "implemented"
    if isinstance(obj, type) or not callable(obj):
        return "re-exported"
    return "unclassified"


def numpy_names():
    return sorted(n for n in dir(_np) if not n.startswith("_"))


def table(namespace: dict) -> str:
    """The coverage table as Markdown."""
    rows = ["| NumPy name | gpuad.numpy | derivatives |", "|---|---|---|"]
    what = {"implemented": "forward and reverse mode, every order",
            "zero": "zero (exact: the result is piecewise constant or not floating)",
            "plain": "none: a traced argument raises TypeError",
            "missing": "NotImplementedError",
            "re-exported": "-", "unclassified": "?"}
    for n in numpy_names():
        s = status(n, namespace)
        note = what[s] + (f"; use {MISSING[n]}" if s == "missing" else "")
        rows.append(f"| `{n}` | {s} | {note} |")
    return "\n".join(rows) + "\n"


def write(path=None):
    """Write the table to docs/numpy_coverage.md (``python -m gpuad coverage``)."""
    import pathlib
    import gpuad.numpy as gnp
    out = pathlib.Path(path) if path else \
        pathlib.Path(__file__).resolve().parents[2] / "docs" / "numpy_coverage.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("# gpuad.numpy: coverage of NumPy's namespace\n\nGenerated by "
                   "`python -m gpuad coverage` from gpuad/numpy/_coverage.py and the "
                   "functions gpuad.numpy defines; tests/test_coverage.py checks it.\n\n"
                   + table(vars(gnp)))
    return out
