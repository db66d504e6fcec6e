"""The registry's entries, one module per family (see gpuad.core.REGISTRY)."""
from . import base, elementwise, select   # noqa: F401
from . import complex                      # noqa: F401
from . import indexing                     # noqa: F401
from . import reductions                   # noqa: F401
from . import linalg                       # noqa: F401
from . import decompositions               # noqa: F401
from . import scipy_linalg                 # noqa: F401
from . import fft                          # noqa: F401
