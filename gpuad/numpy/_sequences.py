"""Functions of sequences in gpuad.numpy: differences, cumulative products, interpolation,
convolution, quadrature and polynomials."""
from __future__ import annotations

__all__: list = []
