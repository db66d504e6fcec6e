"""Functions for neural networks, written with gpuad.numpy (so differentiable to any order)."""
from __future__ import annotations

from . import numpy as gnp

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
    underflow.

    Example::

        >>> gpuad.nn.log_softmax(np.array([0.0, 0.0]))
        array([-0.69314718, -0.69314718])
    """
    return gnp.subtract(x, gnp.logsumexp(x, axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """``exp(x_i) / sum_j exp(x_j)`` along ``axis``, computed as ``exp(log_softmax(x))``.

    Its Jacobian is ``diag(s) - s s^T`` with ``s = softmax(x)``.

    Example::

        >>> gpuad.nn.softmax(np.array([0.0, 0.0]))
        array([0.5, 0.5])
    """
    return gnp.exp(log_softmax(x, axis=axis))
