"""What a checkpointed segment may keep from its first forward pass instead of recomputing.

A policy is a predicate ``policy(prim, **params) -> bool`` asked once per primitive the
segment applies to traced values: True keeps that primitive's output from the first run
(it is stored with the segment's inputs), False recomputes it in the reverse sweep. The
primitive's own VJP still runs either way; only its forward kernel is skipped.

Example::

    >>> seg = gpuad.checkpoint(lambda x, w: gnp.tanh(x @ w),
    ...                        policy=gpuad.checkpoint_policies.dots_saveable)
"""
from __future__ import annotations

# Matrix products: the primitives whose outputs cost the most to recompute per byte stored.
DOTS = frozenset({"matmul", "einsum"})   # (dot, tensordot, inner, ... are written with these)


def nothing_saveable(prim, **params) -> bool:
    """Keep nothing: the whole segment is recomputed (the default)."""
    return False


def dots_saveable(prim, **params) -> bool:
    """Keep the outputs of matrix products (matmul, einsum); recompute everything else."""
    return prim.name in DOTS


def everything_saveable(prim, **params) -> bool:
    """Keep every output: no forward kernel reruns (memory as without checkpointing)."""
    return True


__all__ = ["nothing_saveable", "dots_saveable", "everything_saveable", "DOTS"]
