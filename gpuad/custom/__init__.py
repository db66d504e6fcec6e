"""User-defined derivatives: primitives from your own CUDA kernels
(:func:`custom_primitive`, gpuad/custom/kernels.py) and functions with hand-written rules
(:class:`custom_vjp`, :class:`custom_jvp`, gpuad/custom/rules.py)."""
from .kernels import Launch, CustomPrimitive, custom_primitive, checking
from .rules import custom_vjp, custom_jvp

__all__ = ["Launch", "CustomPrimitive", "custom_primitive", "checking", "custom_vjp",
           "custom_jvp"]
