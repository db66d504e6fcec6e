"""gpuad.scipy.special: differentiable counterparts of ``scipy.special`` functions, with
SciPy's names and signatures.

The elementwise functions are kernel primitives: their math (and the hand-written
derivative of each, accurate to second order and beyond) lives in ``kernels/ops/unary.cuh``,
``kernels/ops/binary.cuh`` and ``kernels/ops/special.cuh``, the same source on a GPU (CuPy
arrays) and on the CPU (NumPy arrays). ``tests/test_derivative_accuracy.py`` checks every
first and second derivative against mpmath at 200 bits over the whole floating range.
``beta``, ``betaln``, ``multigammaln``, ``entr``, ``logsumexp``, ``softmax`` and
``log_softmax`` are compositions of those primitives.

Dtypes: float32 and float64, results in the inputs' dtype (integers promote to float64).
Conventions at nondifferentiable points are in README's table (``polygamma``'s order,
``xlogy`` at ``x = y = 0``, ``i0e``/``i1e`` at 0).

``gammainc``, ``gammaincc``, ``betainc`` and ``betaincc`` (kernels/ops/incomplete.cuh) are
differentiable in every argument, the shape parameters included, to any order.
"""
import math as _math

import numpy as _np

from ..core import bind as _bind, full_lower as _lower
from ..primitives import elementwise as _E
from .. import numpy as _gnp
from ..numpy._reductions import softmax_ as _softmax
from ..numpy._core import prepare as _prepare, normalize_axis as _axes, shape as _shape
from ..custom.rules import custom_jvp as _custom_jvp
from ..primitives.base import xp_of as _xp_of

__all__ = ["gammaln", "digamma", "psi", "polygamma", "gamma", "beta", "betaln", "erf", "erfc",
           "erfinv", "erfcinv", "expit", "logit", "logsumexp", "xlogy", "xlog1py", "entr", "i0",
           "i1", "i0e", "i1e", "multigammaln", "softmax", "log_softmax", "ndtr", "ndtri",
           "log_ndtr", "gammainc", "gammaincc", "betainc", "betaincc", "stdtr"]

_ND = _np.ndarray


def _scalar(r):
    return r[()] if type(r) is _ND and not r.ndim else r     # NumPy's scalars, as SciPy


def _call(name, *xs):
    xs, _ = _prepare(*xs)
    return _scalar(_bind(_E.PRIMS[name], *xs))


def _elementwise(name, doc):
    def f(x):
        return _call(name, x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


gammaln = _elementwise("gammaln", """``log|Gamma(x)|``, like ``scipy.special.gammaln``.

    Derivatives: ``digamma(x)``, then ``polygamma(n, x)``. Poles at ``0, -1, -2, ...``: inf.
    Kernel op ``Gammaln`` (libm's lgamma; its derivative psi in kernels/ops/special.cuh).

    Example::

        >>> round(gpuad.grad(gpuad.scipy.special.gammaln)(1.0), 12)   # psi(1) = -Euler's gamma
        -0.577215664902
    """)

digamma = _elementwise("digamma", """``psi(x) = d/dx log Gamma(x)``, like ``scipy.special.digamma``.

    Computed by the recurrence ``psi(x) = psi(x + 1) - 1/x`` up to ``x >= 10`` and the
    asymptotic series in Bernoulli numbers (Abramowitz & Stegun 6.3.18, as Bernardo's AS 103),
    by reflection for ``x < 0`` and by a Taylor series at its positive zero 1.4616...
    Derivatives ``polygamma(n, x)``. Poles ``0, -1, ...``: NaN.

    Example::

        >>> gpuad.scipy.special.digamma(np.array([1.0, 2.0]))
        array([-0.57721566,  0.42278434])
    """)
psi = digamma

gamma = _elementwise("gamma", """``Gamma(x)``, like ``scipy.special.gamma`` (libm's tgamma).

    Derivative ``Gamma(x) psi(x)``; second ``Gamma(x) (psi(x)^2 + psi'(x))``.

    Example::

        >>> round(gpuad.grad(gpuad.scipy.special.gamma)(2.0), 12)     # Gamma(2) psi(2)
        0.422784335098
    """)

erfc = _elementwise("erfc", """``1 - erf(x)`` without cancellation, like ``scipy.special.erfc``.

    Derivative ``-2/sqrt(pi) exp(-x^2)``.

    Example::

        >>> gpuad.scipy.special.erfc(np.array(0.0))
        np.float64(1.0)
    """)

erfinv = _elementwise("erfinv", """The inverse of ``erf`` on (-1, 1), like ``scipy.special.erfinv``.

    Wichura's AS 241 (1988) and one Newton step on erf, or on erfc near +-1 (no digits
    lost to 1 - erf); float32 by AS 241 alone. Derivative ``sqrt(pi)/2 exp(erfinv(x)^2)``; inf at +-1.

    Example::

        >>> gpuad.scipy.special.erfinv(np.array(0.5))
        np.float64(0.4769362762044699)
    """)

erfcinv = _elementwise("erfcinv", """The inverse of ``erfc`` on (0, 2), like ``scipy.special.erfcinv``;
    accurate for tiny arguments (the tail). Derivative ``-sqrt(pi)/2 exp(erfcinv(x)^2)``.

    Example::

        >>> gpuad.scipy.special.erfcinv(np.array(1e-300))
        np.float64(26.209469960516124)
    """)

ndtr = _elementwise("ndtr", """The standard normal cdf ``Phi(x) = erfc(-x/sqrt(2))/2``, like
    ``scipy.special.ndtr``. Derivative the density ``exp(-x^2/2)/sqrt(2 pi)``.

    Example::

        >>> gpuad.scipy.special.ndtr(np.array(0.0))
        np.float64(0.5)
    """)

ndtri = _elementwise("ndtri", """The inverse of :func:`ndtr` on (0, 1), ``-sqrt(2) erfcinv(2p)``,
    like ``scipy.special.ndtri``. Derivative ``sqrt(2 pi) exp(z^2/2)`` at ``z = ndtri(p)``.

    Example::

        >>> gpuad.scipy.special.ndtri(np.array(0.975))
        np.float64(1.959963984540054)
    """)

log_ndtr = _elementwise("log_ndtr", """``log(ndtr(x))`` accurate in both tails, like
    ``scipy.special.log_ndtr``: ``log1p(-ndtr(-x))`` for x >= 0, and below -20 the asymptotic
    series of the Mills ratio (A&S 26.2.12). Derivative ``phi(x)/Phi(x)`` (the inverse Mills
    ratio, about ``-x`` in the left tail), computed there from the same series so that its
    own derivative does not cancel.

    Example::

        >>> gpuad.scipy.special.log_ndtr(np.array(-40.0))
        np.float64(-804.6084420137538)
    """)

logit = _elementwise("logit", """``log(p / (1 - p))``, like ``scipy.special.logit``; the inverse
    of :func:`expit`. Derivative ``1 / (p (1 - p))``.

    Example::

        >>> gpuad.grad(gpuad.scipy.special.logit)(0.5)
        4.0
    """)

i0 = _elementwise("i0", """The modified Bessel function of order 0, like ``scipy.special.i0``.

    Power series below 25 (all terms positive), the asymptotic expansion above (A&S 9.6.10,
    9.7.1). Derivative ``i1(x)``.

    Example::

        >>> gpuad.scipy.special.i0(np.array(1.0))
        np.float64(1.2660658777520082)
    """)

i1 = _elementwise("i1", """The modified Bessel function of order 1, like ``scipy.special.i1``.

    Derivative ``(I_0(x) + I_2(x)) / 2`` (A&S 9.6.26).

    Example::

        >>> gpuad.grad(gpuad.scipy.special.i1)(0.0)
        0.5
    """)

i0e = _elementwise("i0e", """``exp(-|x|) I_0(x)``, like ``scipy.special.i0e``: finite for every x.

    Derivative ``exp(-|x|) (I_1(x) - sign(x) I_0(x))``, from the asymptotic series itself for
    |x| >= 25 (no cancellation). At the kink x = 0 the derivative is 0 (sign(0) = 0, the mean
    of the one-sided -1 and +1).

    Example::

        >>> gpuad.scipy.special.i0e(np.array(0.0))
        np.float64(1.0)
    """)

i1e = _elementwise("i1e", """``exp(-|x|) I_1(x)``, like ``scipy.special.i1e``.

    Derivative ``exp(-|x|) ((I_0 + I_2)/2 - sign(x) I_1)``; the second derivative has a kink
    at 0, taken with sign(0) = 0.

    Example::

        >>> round(float(gpuad.scipy.special.i1e(np.array(1.0))), 12)
        0.20791041535
    """)


def erf(z):
    """The error function, like ``scipy.special.erf``; derivative ``2/sqrt(pi) exp(-z^2)``.

    Example::

        >>> gpuad.scipy.special.erf(np.array(0.5))
        np.float64(0.5204998778130465)
    """
    return _call("erf", z)


def expit(x):
    """The logistic function ``1 / (1 + exp(-x))``, like ``scipy.special.expit`` (the kernel
    op ``Sigmoid``; derivative ``sech^2(x/2)/4``, no cancellation for large x).

    Example::

        >>> gpuad.scipy.special.expit(np.array(0.0))
        np.float64(0.5)
    """
    return _call("sigmoid", x)


def polygamma(n, x):
    """``psi^(n)(x)``, the n-th derivative of digamma, like ``scipy.special.polygamma``.

    ``n`` is a nonnegative integer order (array-like, broadcast against x); it is read as a
    value and its derivative is 0 (the function is only defined at integers), as README's
    table says; a non-integer order gives NaN, as in SciPy. Derivative in x:
    ``polygamma(n + 1, x)``. Orders up to 37: the recurrence and asymptotic series of
    :func:`digamma`; for x < 0 by reflection, the derivatives of cot as polynomials in cot
    (A&S 6.4.7). Orders 38 to 1000: ``(-1)^(n+1) n! zeta(n + 1, x)``, the Hurwitz series
    (also for x < 0 off the poles, for x >= -1e5; below, NaN) scaled by its largest term, so
    it overflows to +-inf only where the value does (``polygamma(100, 2.5) = -5.9988e117``);
    orders above 1000 give NaN. Result dtype SciPy's: n's and x's promoted together, so an
    integer order with float32 x gives float64 (``np.float32(n)`` keeps float32).

    Example::

        >>> gpuad.scipy.special.polygamma(1, np.array(1.0))       # pi^2 / 6
        np.float64(1.6449340668482264)
    """
    n = _lower(n)
    n = _np.asarray(n.get() if hasattr(n, "get") else n)
    (x,), xp = _prepare(x)
    # SciPy's dtype: n and x promoted together (an integer order makes float32 x float64)
    dt = _np.result_type(n.dtype if n.dtype.kind in "biuf" else _np.float64, _lower(x).dtype)
    if dt != _lower(x).dtype:
        x = _gnp.astype(x, dt)
    nn = xp.asarray(_np.asarray(n, dtype=dt))
    return _scalar(_bind(_E.PRIMS["polygamma"], nn, x))


def gammainc(a, x):
    """The regularized lower incomplete gamma function, like ``scipy.special.gammainc``::

        P(a, x) = 1/Gamma(a) int_0^x t^(a-1) e^(-t) dt,    a > 0, x >= 0

    Arguments broadcast; float32 or float64 (integers promote to float64), computed in double.
    Values: the series ``x^a e^-x / Gamma(a+1) sum_n x^n / ((a+1)...(a+n))`` for
    ``x <= max(1, a)``, else ``1 - Q`` with Q's continued fraction (Numerical Recipes 3rd ed.
    6.2, modified Lentz); for ``a >= 10`` the prefactor through Stirling's series and
    ``log1p(u) - u`` (DiDonato & Morris 1986), so that large ``a`` keeps full accuracy; for
    ``a >= 1e8`` with ``|x/a - 1| <= 1e-3``, where those need O(sqrt(a)) terms, Temme's
    uniform expansion (DLMF 8.12.3-8.12.11).
    SciPy's edge values: ``P(a, 0) = 0``, ``P(a, inf) = 1``, ``P(0, x) = 1`` for ``x > 0``;
    NaN for ``a < 0``, ``x < 0`` and at ``(0, 0)``.

    Derivatives: ``dP/dx = x^(a-1) e^-x / Gamma(a)`` (at ``x = 0`` the limit from the right:
    inf for ``a < 1``, 1 for ``a = 1``, 0 above). ``dP/da`` has no closed form: it is the
    series or continued fraction differentiated term by term (evaluated on dual numbers
    seeded in ``a``, each loop run until every derivative component has converged; for the
    series, term n contributes ``term_n (log x - psi(a + n + 1))``), and so are the second
    derivatives. Accuracy against mpmath (tests/test_derivative_accuracy.py): relative
    error below 1e-12 for values and first and second derivatives on ``1e-8 <= a <= 1e5``
    (README's table gives the exact claim). At ``a = 0`` (x > 0), where P is the constant 1,
    every derivative of every order, in a and in x, is 0. Where the value is NaN (``a < 0``,
    ``x < 0``, ``(0, 0)``, a NaN argument) every derivative of every order is NaN.

    Example::

        >>> gpuad.scipy.special.gammainc(np.array(1.0), np.array(2.0))    # 1 - e^-2
        np.float64(0.8646647167633873)
        >>> round(float(gpuad.grad(lambda x: gpuad.scipy.special.gammainc(2.0, x))(1.0)), 12)
        0.367879441171
    """
    return _call("gammainc", a, x)


def gammaincc(a, x):
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``, like
    ``scipy.special.gammaincc``, computed without the cancellation of ``1 - P`` where Q is
    small (its continued fraction for ``x > max(1, a)``; for ``a < 1``, ``x <= 1``, where
    ``Q ~ a E1(x)`` is small with a, ``-expm1(L) - e^L a sum_(n>=1) (-x)^n / (n! (a + n))``,
    ``L = a log x - gammaln(a + 1)``, from ``gamma(a, x) = x^a sum_n (-x)^n / (n! (a + n))``
    (A&S 6.5.29; DiDonato & Morris 1986's small-a form); elsewhere ``1 - P`` with ``P``
    below about 1/2). Derivatives ``dQ/dx = -x^(a-1) e^-x / Gamma(a)`` and ``dQ/da`` as for
    :func:`gammainc` (Q's own sums differentiated, no cancellation).
    Edge values: ``Q(a, 0) = 1``, ``Q(a, inf) = 0``, ``Q(0, x) = 0`` for ``x > 0`` (every
    derivative 0 there); NaN values and derivatives where :func:`gammainc`'s are.

    Example::

        >>> gpuad.scipy.special.gammaincc(np.array(1.0), np.array(30.0))   # e^-30
        np.float64(9.357622968840163e-14)
    """
    return _call("gammaincc", a, x)


def betainc(a, b, x):
    """The regularized incomplete beta function, like ``scipy.special.betainc``::

        I_x(a, b) = 1/B(a, b) int_0^x t^(a-1) (1-t)^(b-1) dt,    a, b > 0, 0 <= x <= 1

    Arguments broadcast; float32 or float64, computed in double. Values: the continued
    fraction of Numerical Recipes 3rd ed. 6.4 (modified Lentz) for
    ``x < (a+1)/(a+b+2)``, else ``1 - I_(1-x)(b, a)``; the prefactor ``x^a (1-x)^b / B(a, b)``
    through Stirling's series and ``log1p(u) - u`` for large parameters (DiDonato & Morris
    1992, brcomp's form). SciPy's edge values: ``I_0 = 0``, ``I_1 = 1``; ``a = 0``: 1 for
    ``x > 0``; ``b = 0``: 0 for ``x < 1``; NaN outside the domain and at ``a = b = 0``.

    Derivatives: ``dI/dx = x^(a-1) (1-x)^(b-1) / B(a, b)`` (one-sided limits at 0 and 1);
    ``dI/da``, ``dI/db`` and all second derivatives by differentiating the continued
    fraction term by term, as Boik & Robison-Cox 1998 ("Derivatives of the incomplete beta
    function", J. Stat. Software 3(1)) do, here on dual numbers until every derivative
    component has converged. Accuracy against mpmath: see README's table. At ``a = 0`` or
    ``b = 0`` (the constant edge values) every derivative of every order is 0; where the
    value is NaN (outside the domain, ``a = b = 0``, an infinite shape, a NaN argument) every
    derivative of every order is NaN.

    Example::

        >>> round(float(gpuad.scipy.special.betainc(2.0, 3.0, 0.4)), 12)   # 6x^2 - 8x^3 + 3x^4
        0.5248
    """
    return _call("betainc", a, b, x)


def betaincc(a, b, x):
    """The complement of the regularized incomplete beta function, ``1 - I_x(a, b)``, like
    ``scipy.special.betaincc``, without the cancellation of ``1 - betainc`` where I is near 1:
    the side of the switch at ``x = (a+1)/(a+b+2)`` that :func:`betainc` computes directly
    (continued fraction, or for ``a >= 1e5``, ``b <= 5`` and x near 1 the expansion of
    DiDonato & Morris 1992, section 9) is computed here directly too, the other as one
    minus it (then at least about 1/2). Derivatives: ``-x^(a-1) (1-x)^(b-1) / B(a, b)`` in
    x, in a and b the same differentiated sums as :func:`betainc`'s. Edge values and NaN
    conventions: one minus :func:`betainc`'s (every derivative 0 at the constant edges,
    NaN where the value is NaN).

    Example::

        >>> round(float(gpuad.scipy.special.betaincc(1.0, 2.0, 0.5)), 14)      # (1 - x)^2
        0.25
    """
    return _call("betaincc", a, b, x)


def stdtr(df, t):
    """Student's t distribution function, like ``scipy.special.stdtr``::

        stdtr(df, t) = int_-inf^t Gamma((df+1)/2) / (sqrt(df pi) Gamma(df/2))
                       (1 + s^2/df)^(-(df+1)/2) ds

    The tail ``P(T <= -|t|) = I_w(df/2, 1/2)/2``, ``w = df/(df + t^2)`` (A&S 26.7.1, 26.5.27),
    as :func:`betainc` of w where ``w <= 1/2``, else as :func:`betaincc` of
    ``1 - w = t^2/(df + t^2)`` (each formed directly); the cdf is the tail for ``t < 0``, one
    minus it above. For ``df >= 100`` and ``t^2 <= df/20`` the tail is the expansion of
    DiDonato & Morris 1992 (ACM TOMS 18(3), section 9: I_x(a, b) for large a, small b) written
    in df and t themselves, so that the derivative in df (O(1/df^2)) does not come from two
    O(1/df) terms cancelling: full precision for every df up to the largest float.
    SciPy's edge values: NaN for ``df <= 0``; ``ndtr(t)`` for ``df = inf`` (derivative in df
    0, the limit); 0 and 1 at ``t = -inf, inf``.

    Derivatives: the t density in t (closed form, for large df without the cancellation of
    ``gammaln((df+1)/2) - gammaln(df/2)``); in df the expansion or the fractions
    differentiated on dual numbers, every order.

    Example::

        >>> round(float(gpuad.scipy.special.stdtr(1.0, 1.0)), 14)      # Cauchy: 1/2 + atan(1)/pi
        0.75
    """
    return _call("stdtr", df, t)


def _log_gammainc(a, x):
    """log P(a, x) in log space (kernels/ops/incomplete.cuh): finite where P underflows;
    internal (gpuad.scipy.stats' logcdf), SciPy has no such function."""
    return _call("log_gammainc", a, x)


def _log_gammaincc(a, x):
    """log Q(a, x) in log space, as _log_gammainc."""
    return _call("log_gammaincc", a, x)


def _log_betainc(a, b, x):
    """log I_x(a, b) in log space, as _log_gammainc."""
    return _call("log_betainc", a, b, x)


def _log_stdtr(df, t):
    """log stdtr(df, t) in log space, as _log_gammainc."""
    return _call("log_stdtr", df, t)


def xlogy(x, y):
    """``x log(y)``, 0 where ``x = 0`` (for every y but NaN), like ``scipy.special.xlogy``.

    Derivatives ``(log y, x / y)``; d/dy is 0 on the line x = 0 (also at y = 0), where the
    function is identically 0; d/dx at y = 0 is log(0) = -inf.

    Example::

        >>> gpuad.scipy.special.xlogy(np.array(0.0), np.array(0.0))
        np.float64(0.0)
    """
    return _call("xlogy", x, y)


def xlog1py(x, y):
    """``x log1p(y)``, 0 where ``x = 0``, like ``scipy.special.xlog1py``; derivatives
    ``(log1p(y), x / (1 + y))``, as :func:`xlogy`.

    Example::

        >>> gpuad.scipy.special.xlog1py(np.array(2.0), np.array(0.0))
        np.float64(0.0)
    """
    return _call("xlog1py", x, y)


def entr(x):
    """``-x log(x)`` for x > 0, 0 at 0, ``-inf`` for x < 0, like ``scipy.special.entr``;
    the value as ``-xlogy(x, x)``, the derivative ``-log(x) - 1`` by its own rule (+inf at 0,
    -inf at x = inf, where xlogy's two partials would add ``log(inf) + inf/inf = NaN``; 0 for
    x < 0, where the value is the constant -inf), and from it every higher order.

    Example::

        >>> gpuad.scipy.special.entr(np.array([0.0, 0.5]))
        array([0.        , 0.34657359])
    """
    (x,), _ = _prepare(x)
    return _entr(x)


@_custom_jvp
def _entr(x):
    xp = _xp_of(x)
    v = _lower(x)
    out = _gnp.subtract(0.0, xlogy(x, x))      # 0 - y, not -y: entr(0) is +0, as SciPy's
    if bool(xp.any(v < 0)):
        out = _gnp.where(v < 0, xp.asarray(-_np.inf, dtype=v.dtype), out)
    return out


@_entr.defjvp
def _entr_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    v = _lower(x)
    d = _gnp.subtract(-1.0, _gnp.log(x))
    if bool(_xp_of(x).any(v < 0)):
        d = _gnp.where(v < 0, 0.0, d)
    return _entr(x), _gnp.multiply(d, t)


def _gamma_sign(v, xp):
    """sign(Gamma(v)) for real v (a constant: piecewise constant)."""
    neg = (v < 0) & (xp.floor(v) % 2 == 1)
    return xp.where(neg, -1.0, 1.0).astype(v.dtype)


# Stirling's series of log Gamma's remainder, stirlerr(x) = lgamma(x) - (x - 1/2) log x + x -
# log(2 pi)/2 = sum_k B_2k / (2k (2k - 1) x^(2k-1)) (DLMF 5.11.1), to 2^-55 of its value for
# x >= 10.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156,
             -3617 / 122400)
_HALF_LOG_2PI = 0.5 * _math.log(2 * _math.pi)


def _stirlerr(x):
    r2 = _gnp.reciprocal(_gnp.square(x))
    acc = _STIRLING[-1]
    for c in _STIRLING[-2::-1]:
        acc = _gnp.add(_gnp.multiply(acc, r2), c)
    return _gnp.divide(acc, x)


def _betaln_large(s, m):
    """log|B(s, m)| for s <= m, m >= 10, s > 0 or a negative non-integer with s + m >= 10:
    Stirling's form with the gammas' x log x terms combined as -(x - 1/2) log1p(y/x), so
    nothing of size m log m cancels (gammaln(m) - gammaln(m + s) loses eps m log m:
    log B(1e15, 2) came out -68.0 for -69.08). m log1p(s/m) is written s (log1p(x)/x) at
    x = s/m and log1p(m/s) as log t - log s for m/s > 1e100: the chain rule through s/m or
    m/s underflowed (d/dm at m = 1e300 came out twice the truth) or overflowed (d2/ds2 at
    s = 30, m = 1e300 30x off)."""
    def m_log1p(s):             # (m - 1/2) log1p(s/m)
        x = _gnp.divide(s, m)
        return _gnp.subtract(_gnp.multiply(s, _log1p_over_x(x)),
                             _gnp.multiply(_gnp.log1p(x), 0.5))
    t = _gnp.add(s, m)
    # s < 10: gammaln(s) + lgamma(m) - lgamma(m + s) by Stirling for the two large ones
    small = _gnp.add(_gnp.subtract(gammaln(s), m_log1p(s)),
                     _gnp.subtract(_gnp.subtract(s, _gnp.multiply(s, _gnp.log(t))),
                                   _gnp.subtract(_stirlerr(t), _stirlerr(m))))
    # s >= 10 as well (at a safe 10 elsewhere): Stirling for all three; (s - 1/2) log1p(m/s),
    # as log t - log s where m/s > 1e100 (there it loses under 3 ulps, and (m/s^2)^2 would
    # overflow on duals)
    lt10 = _gnp.less(s, 10.0)
    sb = _gnp.where(lt10, 10.0, s)
    tb = _gnp.add(sb, m)
    ratio = _lower(m) / _lower(sb)       # (float32: never that far; 1e100 overflows its cast)
    far = ratio > (1e100 if ratio.dtype == _np.float64 else _np.inf)
    log1p_ms = _gnp.log1p(_gnp.divide(_gnp.where(far, sb, m), sb))
    if bool(far.any()):
        log1p_ms = _gnp.where(far, _gnp.subtract(_gnp.log(tb), _gnp.log(sb)), log1p_ms)
    s_log1p = _gnp.multiply(_gnp.subtract(sb, 0.5), log1p_ms)
    both = _gnp.subtract(_gnp.subtract(_HALF_LOG_2PI, _gnp.add(s_log1p, m_log1p(sb))),
                         _gnp.multiply(_gnp.log(tb), 0.5))
    both = _gnp.add(both, _gnp.subtract(_gnp.add(_stirlerr(sb), _stirlerr(m)), _stirlerr(tb)))
    return _gnp.where(lt10, small, both)


# Near the poles of B (an argument small: a <= 0.05 and a <= 0.05 b, or a + b <= 0.2) the
# gammaln sum cancels: d/db log B = psi(b) - psi(a + b) ~ -a psi'(b) came out 0 at a = 1e-17,
# and B = exp(log B) subtracted O(B/(a+b)^2) terms for d2B/da db = O(1). There log B and B
# are written with their pole parts as separate terms and the rest smooth, so that no
# derivative of any order cancels:
#   log Gamma(1 + x) = -gamma x + sum_{k>=2} (-1)^k zeta(k)/k x^k,  |x| < 1      (DLMF 5.7.3)
# (each series to below 2^-60 of its sum on its region)
#   one small:  B(a, b) = exp(a Q) / a,  Q = log Gamma(1 + a)/a - (log Gamma(b + a) -
#               log Gamma(b))/a, the latter = -log1p(a/b)/a + sum_k a^(k-1)/k! psi^(k-1)(1 + b)
#               (Taylor in a about 1 + b, radius 1 + b: a/(1+b) <= 0.05, 13 terms);
#               log B = -log a + a Q,  B = 1/a + Q exprel(a Q)
#   both small: B(a, b) = (1/a + 1/b) exp(ab h),  h = -sum_k (-1)^k zeta(k)/k P_k,
#               P_k = ((a+b)^k - a^k - b^k)/(ab) = (a+b) P_(k-1) + a^(k-2) + b^(k-2) (all
#               terms positive); log B = -log(lo) + log1p(lo/hi) + ab h,
#               B = 1/a + 1/b + (a+b) h exprel(ab h)
_ZETA = (1.6449340668482264, 1.2020569031595942, 1.0823232337111381, 1.03692775514337,
         1.0173430619844492, 1.008349277381923, 1.0040773561979444, 1.0020083928260821,
         1.000994575127818, 1.0004941886041194, 1.000246086553308, 1.0001227133475785,
         1.0000612481350588, 1.000030588236307, 1.0000152822594086, 1.0000076371976379,
         1.000003817293265, 1.0000019082127165, 1.0000009539620338, 1.0000004769329869)
_ZETA += tuple(1 + 2.0 ** -k + 3.0 ** -k + 4.0 ** -k for k in range(22, 31))   # 5^-22 < 2^-51
_EULER = 0.5772156649015329                                        # zeta(2..30) above
_SMALL, _RATIO, _BOTH = 5e-2, 5e-2, 0.2


def _series_or(x, cut, coef, far):
    """sum_k coef[k] x^k where |x| <= cut (Horner), far(x) beyond; each side evaluated at a
    safe argument where it is not taken (no NaN or inf reaches a cotangent)."""
    beyond = _gnp.greater(_gnp.abs(x), cut)
    xs = _gnp.where(beyond, 0.0, x)
    acc = 0.0
    for c in coef[::-1]:
        acc = _gnp.add(_gnp.multiply(acc, xs), c)
    if not bool(_lower(beyond).any()):
        return acc
    return _gnp.where(beyond, far(_gnp.where(beyond, x, 2 * cut)), acc)


def _exprel(y):
    """(e^y - 1)/y: its series for |y| <= 1/2 (19 terms, the rest below 2^-60), expm1(y)/y
    beyond (derivatives there lose a few ulps)."""
    return _series_or(y, 0.5, [1.0 / _math.factorial(k + 1) for k in range(19)],
                      lambda y: _gnp.divide(_gnp.expm1(y), y))


def _log1p_over_x(x):
    """log1p(x)/x for x >= 0: the series for x <= 0.1 (20 terms), the quotient beyond (its
    derivatives there lose up to 20 ulps)."""
    return _series_or(x, 0.1, [(-1) ** k / (k + 1) for k in range(20)],
                      lambda x: _gnp.divide(_gnp.log1p(x), x))


def _lgamma1p_over_x(a):
    """log Gamma(1 + a) / a for |a| <= 0.05 (DLMF 5.7.3; the a^15 term is below 2^-60)."""
    acc = 0.0
    for k in range(16, 1, -1):
        acc = _gnp.add(_gnp.multiply(acc, a), (-1) ** k * _ZETA[k - 2] / k)
    return _gnp.subtract(_gnp.multiply(acc, a), _EULER)


def _beta_q(a, b):
    """Q(a, b) = log(a B(a, b)) / a for 0 < a <= 0.05, a <= 0.05 b (see above)."""
    taylor, b1, dt = 0.0, _gnp.add(b, 1.0), _lower(b).dtype
    for k in range(13, 0, -1):                  # (the order in b's dtype: float32 stays so)
        taylor = _gnp.add(_gnp.multiply(taylor, a),
                          _gnp.divide(polygamma(_np.array(k - 1, dt), b1), _math.factorial(k)))
    g = _gnp.subtract(taylor, _gnp.divide(_log1p_over_x(_gnp.divide(a, b)), b))
    return _gnp.subtract(_lgamma1p_over_x(a), g)


def _beta_h(a, b):
    """h(a, b) = log(B(a, b) / (1/a + 1/b)) / (ab) for a, b > 0, a + b <= 0.2 (above; the
    k = 30 term is below 2^-60 of h)."""
    s = _gnp.add(a, b)
    # P_1 = 0; a^(k-2), b^(k-2) (arrays from the start: two Python 1.0s would add to float64)
    p, ak, bk, h = 0.0, _gnp.ones_like(a), _gnp.ones_like(b), 0.0
    for k in range(2, 31):
        p = _gnp.add(_gnp.multiply(s, p), _gnp.add(ak, bk))
        h = _gnp.subtract(h, _gnp.multiply(p, (-1) ** k * _ZETA[k - 2] / k))
        ak, bk = _gnp.multiply(ak, a), _gnp.multiply(bk, b)
    return h


def _near_poles(a, b):
    """Masks of the regimes near the poles: a small, b small, both small. Negative
    arguments too (off the poles of Gamma): the forms hold for log|B| and B with the same
    series, each inside its radius (for one small, a/(1 + b) within 0.05 of the distance
    from 1 + b to the nearest pole)."""
    va, vb = _lower(a), _lower(b)
    xp = _xp_of(va)
    ok = (va != 0) & (vb != 0) & (va + vb != 0) & xp.isfinite(va) & xp.isfinite(vb)
    aa, ab = xp.abs(va), xp.abs(vb)
    both = ok & (aa + ab <= _BOTH)

    def room(v):          # distance from 1 + v to the nearest pole 0, -1, -2, ...
        w = 1 + v
        return xp.where(w > 0, w, xp.abs(w - xp.round(w)))
    small_a = ok & ~both & (aa <= _SMALL) & (aa <= _RATIO * ab) & (aa <= _RATIO * room(vb))
    small_b = ok & ~both & (ab <= _SMALL) & (ab <= _RATIO * aa) & (ab <= _RATIO * room(va))
    return small_a, small_b, both


def _pole_forms(a, b, log):
    """(mask, log B or B) near the poles (the forms above), or None where no element is."""
    out = None
    small_a, small_b, both = _near_poles(a, b)
    for m, s, l in ((small_a, a, b), (small_b, b, a)):
        if bool(m.any()):
            s, l = _gnp.where(m, s, 1e-3), _gnp.where(m, l, 2.0)        # safe elsewhere
            q = _beta_q(s, l)
            sq = _gnp.multiply(s, q)
            if log:
                v = _gnp.subtract(sq, _gnp.log(_gnp.abs(s)))
            else:
                # 1/a + Q exprel(aQ) where B ~ 1/a; where exp(aQ) is far from 1 (b huge:
                # B(0.02, 1e300) = 5e-5) that sum cancels, and exp(aQ)/a has no pole part to
                # separate: its mixed partial loses at most a factor 2
                near = _np.abs(_lower(sq)) <= 0.5
                v = _gnp.add(_gnp.reciprocal(s), _gnp.multiply(q, _exprel(sq)))
                if not bool(near.all()):
                    v = _gnp.where(near, v, _gnp.divide(_gnp.exp(sq), s))
            out = (m, v) if out is None else (out[0] | m, _gnp.where(m, v, out[1]))
    if bool(both.any()):
        s, l = _gnp.where(both, a, 1e-3), _gnp.where(both, b, 2e-3)
        h = _beta_h(s, l)
        abh = _gnp.multiply(_gnp.multiply(s, l), h)
        if log:
            # the smaller over the larger by a constant mask: exact one-sided derivatives
            first = abs(_lower(s)) <= abs(_lower(l))
            lo, hi = _gnp.where(first, s, l), _gnp.where(first, l, s)
            v = _gnp.add(_gnp.subtract(_gnp.log1p(_gnp.divide(lo, hi)),
                                       _gnp.log(_gnp.abs(lo))), abh)
        else:
            v = _gnp.add(_gnp.add(_gnp.reciprocal(s), _gnp.reciprocal(l)),
                         _gnp.multiply(_gnp.multiply(_gnp.add(s, l), h), _exprel(abh)))
        out = (both, v) if out is None else (out[0] | both, _gnp.where(both, v, out[1]))
    return out


def _safe_off(poles, a, b):
    """a, b with harmless values where the pole forms are taken (their cotangents there are
    zero, and must not meet an inf of the other forms)."""
    if poles is None:
        return a, b
    return _gnp.where(poles[0], 1.0, a), _gnp.where(poles[0], 2.0, b)


def betaln(a, b):
    """``log|B(a, b)| = log|Gamma(a) Gamma(b) / Gamma(a + b)|``, like
    ``scipy.special.betaln``; derivatives ``psi(a) - psi(a + b)`` and ``psi(b) - psi(a + b)``.

    Away from the poles and from large arguments ``gammaln(a) + gammaln(b) - gammaln(a + b)``.
    For positive a, b with max(a, b) >= 10 by Stirling's series (DLMF 5.11.1) with the
    ``x log x`` terms combined, as SciPy's asymptotic form: the gammaln difference loses
    ``eps max(a, b) log max(a, b)`` (the whole value at 1e15). Near the poles (``|a| <= 0.05``
    and ``|a| <= 0.05 |b|``, the same in b, or ``|a| + |b| <= 0.2``; negative arguments too) by series in the small argument
    (DLMF 5.7.3 and Taylor's in psi), because there ``psi(b) - psi(a + b) ~ -a psi'(b)``
    cancels (it came out 0 at a = 1e-17). Each form is smooth on its region, so derivatives
    of every order are those of log B itself (to a few ulps; checked against mpmath in
    tests/test_scipy_special.py).

    Example::

        >>> gpuad.scipy.special.betaln(np.array(2.0), np.array(3.0))      # log(1/12)
        np.float64(-2.4849066497880004)
    """
    (a, b), xp = _prepare(a, b)
    poles = _pole_forms(a, b, log=True)
    a0, b0 = _safe_off(poles, a, b)
    plain = _gnp.subtract(_gnp.add(gammaln(a0), gammaln(b0)), gammaln(_gnp.add(a0, b0)))
    va, vb = _lower(a0), _lower(b0)
    # (a negative non-integer partner too, with the sum >= 10: the Stirling difference
    # holds, and the gammaln difference lost ~eps m log m: betaln(-0.5, 1e20) came out 0)
    xq = _xp_of(va)
    big_a = (va >= vb) & (va >= 10) & ((vb > 0) | ((vb < 0) & (va + vb >= 10)
                                                    & (xq.floor(vb) != vb)))
    big_b = (vb > va) & (vb >= 10) & ((va > 0) | ((va < 0) & (va + vb >= 10)
                                                   & (xq.floor(va) != va)))
    out = plain
    if bool((big_a | big_b).any()):
        # safe arguments where a branch is not taken (no warnings, no NaN cotangents)
        sa = _gnp.where(big_a, b0, 1.0), _gnp.where(big_a, a0, 20.0)
        sb = _gnp.where(big_b, a0, 1.0), _gnp.where(big_b, b0, 20.0)
        out = _gnp.where(big_a, _betaln_large(*sa), plain)
        out = _gnp.where(big_b, _betaln_large(*sb), out)
    return _scalar(out if poles is None else _gnp.where(poles[0], poles[1], out))


def beta(a, b):
    """``B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b)``, like ``scipy.special.beta``, as
    ``sign * exp(betaln(a, b))`` (no overflow of the Gammas); derivatives
    ``B(a, b) (psi(a) - psi(a + b))`` and likewise in b.

    Near the poles (the regions of :func:`betaln`) ``B = 1/a + Q(a, b) exprel(a Q(a, b))``
    with ``Q = log(a B)/a`` smooth (``exp(a Q)/a`` where ``|a Q| > 1/2``, B far below
    1/a), and ``B = 1/a + 1/b + (a + b) h exprel(ab h)`` when both
    are small, so that the pole parts are separate terms: through ``exp(log B)`` the mixed
    partial ``d2B/da db = O(1)`` came out of ``O(B/(a+b)^2)`` terms that cancel (1e8 for 0.85
    at a = 1e-12, b = 2). Elsewhere its relative error is at most about
    ``eps B / ((a + b)^2 |d2B/da db|)`` (below 1e-10).

    Example::

        >>> gpuad.scipy.special.beta(np.array(2.0), np.array(3.0))
        np.float64(0.08333333333333333)
    """
    (a, b), xp = _prepare(a, b)
    va, vb = _lower(a), _lower(b)
    s = _gamma_sign(va, xp) * _gamma_sign(vb, xp) * _gamma_sign(va + vb, xp)
    poles = _pole_forms(a, b, log=False)
    r = _gnp.exp(betaln(*_safe_off(poles, a, b)))
    if poles is not None:        # (B itself there, signed: r is |B| until the sign below)
        r = _scalar(_gnp.where(poles[0], _gnp.multiply(poles[1], s), r))
    return _scalar(_gnp.multiply(r, s)) if bool(xp.any(s < 0)) else r


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension d, like
    ``scipy.special.multigammaln``: ``d(d-1)/4 log(pi) + sum_{j<d} gammaln(a - j/2)``.
    Requires ``a > (d - 1)/2`` everywhere (ValueError otherwise, as SciPy) and ``d`` a
    positive integer (a non-integer or non-scalar ``d`` raises SciPy's ValueError "d should
    be a positive integer"; an integral float such as 3.0 is read as 3).

    Example::

        >>> gpuad.scipy.special.multigammaln(np.array(3.0), 2)
        np.float64(1.5501949939575645)
    """
    dv = _np.asarray(d.get() if hasattr(d, "get") else d)[()]
    if (not _np.isscalar(dv) or isinstance(dv, (str, bytes, bool, _np.bool_))
            or not _np.isreal(dv) or _np.floor(dv) != dv or dv < 1):
        raise ValueError(f"multigammaln: d should be a positive integer (dimension), got {d!r}")
    d = int(dv)
    (a,), xp = _prepare(a)
    if bool(xp.any(_lower(a) <= 0.5 * (d - 1))):
        raise ValueError(f"multigammaln: condition a ({_lower(a)}) > 0.5 * (d-1) "
                         f"({0.5 * (d - 1)}) not met")
    out = gammaln(a)
    for j in range(1, d):
        out = _gnp.add(out, gammaln(_gnp.subtract(a, 0.5 * j)))
    return _gnp.add(out, 0.25 * d * (d - 1) * _math.log(_math.pi))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a)))`` over ``axis``, computed stably, like
    ``scipy.special.logsumexp``.

    With ``m`` the maximum of ``a`` where ``b != 0`` (a constant for differentiation: the
    identity holds for any m), ``logsumexp = m + log(sum(b exp(a - m)))``. ``b`` (weights,
    broadcast against ``a``) is differentiable too (where ``b = 0`` and ``exp(a - m)``
    overflows, the term is 0 and its derivative in that ``b``, which overflows, is taken as
    0). ``return_sign=True`` returns
    ``(log|s|, sign(s))`` for a sum s that may be negative (the sign is piecewise constant);
    without it a negative sum gives NaN, as SciPy. Gradient in ``a``: ``b exp(a) / s``. A
    slice with ``a = +inf`` (``b != 0``) has the value ``+inf`` (or NaN where those b sum
    below 0, as SciPy) and the derivatives' limits: in ``a`` max's (1 at the ``+inf`` entry,
    shared evenly by several, 0 elsewhere; JAX and PyTorch give NaN), in those ``b`` one over
    their sum.

    Example::

        >>> gpuad.scipy.special.logsumexp(np.array([0.0, 0.0]), b=np.array([1.0, -0.5]),
        ...                               return_sign=True)
        (np.float64(-0.6931471805599453), np.float64(1.0))
    """
    if b is not None:
        (a, b), xp = _prepare(a, b)
        shp = _np.broadcast_shapes(tuple(_shape(a)), tuple(_shape(b)))
        a, b = _gnp.broadcast_to(a, shp), _gnp.broadcast_to(b, shp)
    else:
        (a,), xp = _prepare(a)
    va = _lower(a)
    axes = _axes(axis, va.ndim)
    if b is not None:
        va = xp.where(_lower(b) != 0, va, -xp.inf)
    top = None
    if va.size and all(va.shape[i] for i in axes):
        mx = xp.max(va, axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(mx), mx, xp.zeros((), dtype=va.dtype))
        if va.dtype.kind == "f":
            top = mx == xp.inf
            top = top if bool(top.any()) else None
    else:
        m = xp.zeros(tuple(1 if i in axes else d for i, d in enumerate(va.shape)),
                     dtype=va.dtype)
    if top is not None:
        # slices with an a = +inf (b != 0): the value log|sum of those b| + inf and the
        # derivatives their limits (max's in a: 1 at the +inf entry, shared evenly by
        # several; 1 / that sum in those b; 0 elsewhere), not exp(inf)/inf's NaN or the 0
        # that a zero cotangent times exp(inf) makes; the regular path on safe values there
        hit = xp.broadcast_to(top, va.shape)
        at_inf = hit & (va == xp.inf)
        lim = _gnp.max(_gnp.where(at_inf, a, -xp.inf), axis=axes, keepdims=True)
        b_inf = _gnp.sum(_gnp.where(at_inf, 1.0 if b is None else b, 0.0), axis=axes,
                         keepdims=True)
        a = _gnp.where(hit, 0.0, a)
        m = xp.where(top, xp.zeros((), dtype=va.dtype), m)
    e = _gnp.exp(_gnp.subtract(a, m))
    if b is not None:
        ev = _lower(e)
        e = _gnp.multiply(b, e)
        # b = 0 where exp(a - m) overflows: the term is 0 (SciPy), not 0 * inf; its derivative
        # in that b, exp(a - m) / s, overflows too and is taken as 0 there.
        gone = ~xp.isfinite(ev) & (_lower(b) == 0)
        if bool(xp.any(gone)):
            e = _gnp.where(gone, xp.zeros((), dtype=ev.dtype), e)
    s = _gnp.sum(e, axis=axes, keepdims=True)
    if top is not None:
        s = _gnp.where(top, b_inf, s)
    sign = None
    if return_sign:
        sign = xp.sign(_lower(s))
        s = _gnp.abs(s)
    with _np.errstate(divide="ignore", invalid="ignore"):
        out = _gnp.add(_gnp.log(s), m)
        if top is not None:
            out = _gnp.where(top, _gnp.add(out, lim), out)
    if not keepdims:
        keep = tuple(d for i, d in enumerate(va.shape) if i not in axes)
        out = _gnp.reshape(out, keep)
        if sign is not None:
            sign = sign.reshape(keep)
    out = _scalar(out)
    if return_sign:
        return out, _scalar(sign)
    return out


def log_softmax(x, axis=None):
    """``x - logsumexp(x, axis, keepdims=True)``, like ``scipy.special.log_softmax`` (note
    SciPy's default ``axis=None``: over all elements). A slice holding ``+inf``: the log of
    :func:`softmax`'s limit there (``-log k``, ``-inf``) and its derivatives.

    Example::

        >>> gpuad.scipy.special.log_softmax(np.array([0.0, 0.0]))
        array([-0.69314718, -0.69314718])
    """
    (x,), _ = _prepare(x)
    return _softmax(x, axis, log_=True)


def softmax(x, axis=None):
    """``exp(x - logsumexp(x, axis))``, like ``scipy.special.softmax`` (default ``axis=None``).
    Jacobian ``diag(s) - s s^T`` along the axis. A slice holding ``+inf`` takes the limit, as
    :func:`logsumexp`'s derivatives do: 1 at the ``+inf`` entry, shared evenly by several, 0
    elsewhere, with that limit's derivatives (SciPy gives NaN for the slice).

    Example::

        >>> gpuad.scipy.special.softmax(np.array([0.0, 0.0]))
        array([0.5, 0.5])
    """
    (x,), _ = _prepare(x)
    return _softmax(x, axis)
