"""gpuad: automatic differentiation for CuPy (and NumPy) array programs.

Every primitive pairs a forward CUDA kernel with hand-written JVP and VJP kernels; the
same sources run on a GPU through CuPy and on the CPU through the host compiler.

    >>> import numpy as np, gpuad, gpuad.numpy as gnp
    >>> gpuad.grad(lambda x: gnp.sum(gnp.sin(x) * x ** 2))(np.array([1.0, 2.0]))
    array([2.22324428, 1.97260236])
"""
__version__ = "0.1.0"

from . import primitives as _primitives      # noqa: F401  (fills the registry)
from .core import REGISTRY
from .runtime.profile import profile
from .transforms import (grad, value_and_grad, vjp, jvp, hvp, jacfwd, jacrev, jacobian,
                         hessian, stop_gradient)
from .taylor import taylor
from .support import check_support
from .testing import check_grads
from . import numpy                          # noqa: F401
from . import nn                             # noqa: F401

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "hvp", "jacfwd", "jacrev", "jacobian",
           "hessian", "stop_gradient", "check_support", "taylor", "check_grads", "profile",
           "REGISTRY"]

from . import checkpoint_policies            # noqa: E402
from .checkpoint import checkpoint, checkpoint_loop, revolve_schedule   # noqa: E402

__all__ += ["checkpoint", "checkpoint_loop", "revolve_schedule", "checkpoint_policies"]

from .custom import (Launch, CustomPrimitive, custom_primitive, custom_vjp,   # noqa: E402
                     custom_jvp)

__all__ += ["Launch", "CustomPrimitive", "custom_primitive", "custom_vjp", "custom_jvp"]

from . import scipy                          # noqa: E402,F401  (its subpackages load on use)
from . import distributed                    # noqa: E402,F401  (collectives; mpi4py on first use)
