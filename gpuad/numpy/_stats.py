"""Statistics of gpuad.numpy: order statistics, weighted means, NaN-ignoring reductions."""
from __future__ import annotations

__all__: list = []
