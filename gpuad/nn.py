"""Functions for neural networks, written with gpuad.numpy (so differentiable to any order)."""
from __future__ import annotations

from . import numpy as gnp
from .numpy._reductions import softmax_ as _softmax

__all__ = ["relu", "sigmoid", "softplus", "logsumexp", "softmax", "log_softmax"]


def __dir__():          # the functions only, not the modules and names they are written with
    return sorted(__all__)


def relu(x):
    """``max(x, 0)`` elementwise; derivative 1 for ``x > 0`` and 0 elsewhere (0 at the
    kink ``x = 0``, the kernel's convention).

    Example::

        >>> gpuad.nn.relu(np.array([-1.0, 2.0]))
        array([0., 2.])
    """
    return gnp.relu(x)


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))`` elementwise, stable for large ``|x|``.

    Example::

        >>> gpuad.nn.sigmoid(np.array(0.0))
        np.float64(0.5)
    """
    return gnp.sigmoid(x)


def softplus(x):
    """``log(1 + exp(x))`` elementwise, stable for large ``|x|``; its derivative is
    ``sigmoid(x)``.

    Example::

        >>> gpuad.nn.softplus(np.array(0.0))
        np.float64(0.6931471805599453)
    """
    return gnp.softplus(x)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, max-shifted so nothing overflows (see
    :func:`gpuad.numpy.logsumexp`).

    Example::

        >>> gpuad.nn.logsumexp(np.array([[0.0, 0.0]]), axis=-1)
        array([0.69314718])
    """
    return gnp.logsumexp(x, axis=axis, keepdims=keepdims)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``: the log of :func:`softmax`, without its
    underflow. A slice holding ``+inf``: the log of softmax's limit there (``-log k`` at
    its k ``+inf`` entries, ``-inf`` elsewhere) and that limit's derivatives, not NaN.

    Example::

        >>> gpuad.nn.log_softmax(np.array([0.0, 0.0]))
        array([-0.69314718, -0.69314718])
    """
    return _softmax(x, axis, log_=True)


def softmax(x, axis=-1):
    """``exp(x_i) / sum_j exp(x_j)`` along ``axis``, computed as ``exp(log_softmax(x))``.

    Its Jacobian is ``diag(s) - s s^T`` with ``s = softmax(x)``. A slice holding ``+inf``
    takes the limit (logsumexp's convention): 1 at the ``+inf`` entry, shared evenly by
    several, 0 elsewhere, with that limit's derivatives (SciPy gives NaN there).

    Example::

        >>> gpuad.nn.softmax(np.array([0.0, 0.0]))
        array([0.5, 0.5])
    """
    return _softmax(x, axis)
