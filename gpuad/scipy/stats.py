"""gpuad.scipy.stats: differentiable densities of ``scipy.stats`` distributions, with
SciPy's names, argument names and defaults.

Each distribution is an object, as in SciPy: ``norm.logpdf(x, loc=0, scale=1)``,
``t.pdf(x, df, loc=0, scale=1)``, ``poisson.logpmf(k, mu, loc=0)``,
``multivariate_normal.logpdf(x, mean=None, cov=1)``, ``dirichlet.logpdf(x, alpha)``; calling
one freezes its parameters (``norm(loc=1.0, scale=2.0).logpdf(x)``). The methods are
compositions of gpuad.numpy and gpuad.scipy.special (gammaln, betaln, xlogy, xlog1py, ndtr,
log_ndtr, expit, softplus, gammainc, gammaincc, betainc, betaincc, stdtr, and the internal
log-space log_gammainc, log_gammaincc, log_betainc), so they are differentiable in every argument in which SciPy's
function is continuous (x, loc, scale and the shape parameters of the continuous
distributions; ``mu`` of ``poisson``; ``x``, ``mean`` and ``cov`` of ``multivariate_normal``;
``x`` and ``alpha`` of ``dirichlet``), to any order, in both modes. ``poisson``'s ``k`` and
``loc`` are integers: read as values, derivative 0.

Conventions (README, "Nondifferentiable points"):

- outside the support (e.g. ``x < loc`` for ``gamma``, a non-integer ``k`` for ``poisson``)
  the values are SciPy's, ``-inf`` from ``logpdf``/``logpmf``/``logcdf``, ``0`` from
  ``pdf``/``pmf``/``cdf``, taken as constants: every derivative there is 0;
- invalid parameters (``scale <= 0``, ``df <= 0``, ``a <= 0``, ``mu < 0``, ...) give NaN, as
  SciPy, also as constants (derivative 0); a NaN ``x`` gives NaN;
- on the support's closed edge (``x = loc`` for ``gamma``, ``chi2``, ``beta``) the value is
  SciPy's (``xlogy(a - 1, 0)``: 0, ``-inf`` or ``+inf``) and the derivatives those of the
  formula there (infinite where the density's are);
- ``cdf``/``logcdf``: ``norm`` (``ndtr``, ``log_ndtr``), ``logistic`` (``expit``), ``gamma``
  and ``chi2`` (``gammainc``), ``beta`` (``betainc``), ``t`` (``stdtr``), ``poisson``
  (``gammaincc(floor(k) + 1, mu)``); below the support 0 (``-inf``), above it 1 (0), with
  derivative 0. ``logcdf`` of ``gamma``, ``chi2``, ``beta``, ``poisson`` is computed in log
  space (log P, log Q, log I: the log of the series' or continued fraction's prefactor plus
  the log of its sum, ``log1p(-complement)`` where the cdf exceeds about 1/2), so it is finite
  and exact, derivatives included, where the cdf underflows to 0 inside the support
  (``gamma.logcdf(1e-5, 100) = -1515.03...``; SciPy returns ``-inf`` there, the log of its
  underflowed cdf); at the support's lower edge ``-inf`` with the derivatives' limits.
  ``multivariate_normal.cdf`` (SciPy: Genz's randomized quasi-Monte
  Carlo) raises NotImplementedError.

Dtypes: float32 and float64, results in the inputs' dtype (integers promote to float64); a
0-d result is a NumPy scalar, as SciPy's. Arrays are NumPy's (the CPU) or CuPy's (a GPU).
The masks above read the values (a host read on a GPU).
"""
import math as _math

import numpy as _np

from ..core import full_lower as _lower
from .. import numpy as _gnp
from ..numpy._core import prepare as _prepare, shape as _shape
from . import special as _sp
from . import linalg as _sl

__all__ = ["norm", "t", "gamma", "beta", "chi2", "poisson", "logistic", "multivariate_normal",
           "dirichlet"]


def __dir__():          # the distributions only, not the modules and names they are written with
    return sorted(__all__)


_LOG_2PI = _math.log(2 * _math.pi)
_HALF_LOG_2PI = 0.5 * _LOG_2PI


def _gnp_xp(v):
    """The array module of a (perhaps traced) value."""
    return _prepare(v)[1]


def _scalar(r):
    return r[()] if type(r) is _np.ndarray and not r.ndim else r


def _value(x):
    return _lower(x)


def _arr(v):
    """A list or tuple (perhaps of traced entries) as an array; anything else as it is."""
    return _gnp.asarray(v) if isinstance(v, (list, tuple)) else v


def _const(xp, v, like):
    return xp.asarray(v, dtype=_lower(like).dtype)


def _finish(out, xp, nan=None, edge=None, fill=-_np.inf):
    """``out`` with ``fill`` (a constant) where ``edge`` and NaN where ``nan`` (numpy bool
    arrays or None): those entries' derivatives are exactly 0."""
    if edge is not None and bool(xp.any(edge)):
        out = _gnp.where(edge, _const(xp, fill, out), out)
    if nan is not None and bool(xp.any(nan)):
        out = _gnp.where(nan, _const(xp, _np.nan, out), out)
    return _scalar(out)


def _not_implemented(name, needs, instead):
    raise NotImplementedError(
        f"gpuad.scipy.stats.{name} needs {needs}, which gpuad.scipy.special does not have "
        f"(a value without its derivative is never returned); instead: {instead}")


class _Frozen:
    """A distribution with its parameters fixed: ``norm(loc, scale)``, as SciPy's frozen
    distributions; each method is the distribution's with those parameters appended.

    Example::

        >>> gpuad.scipy.stats.norm(loc=1.0, scale=2.0).logpdf(np.array(1.0))
        np.float64(-1.612085713764618)
    """

    def __init__(self, dist, args, kwds):
        self.dist, self.args, self.kwds = dist, args, kwds

    def __repr__(self):
        return f"<frozen gpuad.scipy.stats.{self.dist._name}{self.args or ''}{self.kwds or ''}>"

    def _method(self, name, x):
        return getattr(self.dist, name)(x, *self.args, **self.kwds)

    def pdf(self, x):
        """The distribution's ``pdf`` at ``x`` with the frozen parameters."""
        return self._method("pdf", x)

    def logpdf(self, x):
        """The distribution's ``logpdf`` at ``x`` with the frozen parameters."""
        return self._method("logpdf", x)

    def pmf(self, k):
        """The distribution's ``pmf`` at ``k`` with the frozen parameters."""
        return self._method("pmf", k)

    def logpmf(self, k):
        """The distribution's ``logpmf`` at ``k`` with the frozen parameters."""
        return self._method("logpmf", k)

    def cdf(self, x):
        """The distribution's ``cdf`` at ``x`` with the frozen parameters."""
        return self._method("cdf", x)

    def logcdf(self, x):
        """The distribution's ``logcdf`` at ``x`` with the frozen parameters."""
        return self._method("logcdf", x)


class _Distribution:
    _name = ""

    def __call__(self, *args, **kwds):
        return _Frozen(self, args, kwds)

    def __repr__(self):
        return f"<gpuad.scipy.stats.{self._name}>"


# ----------------------------------------------------------------- continuous, loc and scale
class _Continuous(_Distribution):
    """A continuous distribution with SciPy's ``loc``/``scale``: ``logpdf(x, *shapes, loc,
    scale) = _logpdf((x - loc)/scale, *shapes) - log(scale)``."""
    _shapes = ()                    # names of the shape parameters
    _lower_edge = None              # support of the standardized variable: [lower, upper]
    _upper_edge = None

    def _valid(self, xp, *shapes):  # values of the shape parameters -> bool
        return None

    def _parse(self, x, args, kwds):
        names = self._shapes + ("loc", "scale")
        defaults = {"loc": 0.0, "scale": 1.0}
        if len(args) > len(names):
            raise TypeError(f"{self._name}: too many arguments")
        vals = dict(zip(names, args))
        for k, v in kwds.items():
            if k not in names or k in vals:
                raise TypeError(f"{self._name}: unexpected or repeated argument {k!r}")
            vals[k] = v
        for k in names:
            if k not in vals:
                if k not in defaults:
                    raise TypeError(f"{self._name}: missing argument {k!r}")
                vals[k] = defaults[k]
        ops, xp = _prepare(_arr(x), *(_arr(vals[k]) for k in names))
        x, *shapes, loc, scale = ops
        y = _gnp.divide(_gnp.subtract(x, loc), scale)
        vy = _value(y)
        bad = ~(_value(scale) > 0)
        valid = self._valid(xp, *(_value(s) for s in shapes))
        if valid is not None:
            bad = bad | ~valid
        bad = bad | xp.isnan(vy)
        out_of = xp.zeros(vy.shape, dtype=bool)
        if self._lower_edge is not None:
            out_of = out_of | (vy < self._lower_edge)
        if self._upper_edge is not None:
            out_of = out_of | (vy > self._upper_edge)
        if out_of.shape != bad.shape:
            shape = _np.broadcast_shapes(out_of.shape, bad.shape)
            out_of, bad = xp.broadcast_to(out_of, shape), xp.broadcast_to(bad, shape)
        return y, shapes, scale, xp, bad, out_of & ~bad

    def logpdf(self, x, *args, **kwds):
        """The log of the density at ``x``, ``log f((x - loc) / scale) - log(scale)``, like SciPy's; the shape arguments, ``loc`` and ``scale`` as in the
        distribution's docstring (the math, the conventions outside the support, an
        example). Differentiable in ``x`` and every continuous parameter, to any order; a
        distribution without this method raises NotImplementedError naming what is missing."""
        y, shapes, scale, xp, bad, out = self._parse(x, args, kwds)
        lp = _gnp.subtract(self._logpdf(y, *shapes), _gnp.log(scale))
        return _finish(lp, xp, bad, out)

    def pdf(self, x, *args, **kwds):
        """The density at ``x``, ``exp(logpdf)``, like SciPy's; the shape arguments, ``loc`` and ``scale`` as in the
        distribution's docstring (the math, the conventions outside the support, an
        example). Differentiable in ``x`` and every continuous parameter, to any order; a
        distribution without this method raises NotImplementedError naming what is missing."""
        y, shapes, scale, xp, bad, out = self._parse(x, args, kwds)
        lp = _gnp.subtract(self._logpdf(y, *shapes), _gnp.log(scale))
        return _finish(_gnp.exp(lp), xp, bad, out, 0.0)

    def _cdf_parts(self, x, args, kwds):
        """y clipped to the support (a constant outside it: cdf 0 below, 1 above, derivative
        0), the shapes, xp, the NaN mask and the mask of points below the support."""
        y, shapes, scale, xp, bad, out = self._parse(x, args, kwds)
        vy = _value(y)
        below = out & (vy < self._lower_edge) if self._lower_edge is not None else None
        for edge, side in ((self._lower_edge, vy < self._lower_edge if self._lower_edge
                            is not None else None),
                           (self._upper_edge, vy > self._upper_edge if self._upper_edge
                            is not None else None)):
            if side is not None and bool(xp.any(side)):
                y = _gnp.where(side, _const(xp, edge, y), y)
        return y, shapes, xp, bad, below

    def cdf(self, x, *args, **kwds):
        """The distribution function at ``x``, like SciPy's; the shape arguments, ``loc`` and ``scale`` as in the
        distribution's docstring (the math, the conventions outside the support, an
        example). Differentiable in ``x`` and every continuous parameter, to any order; a
        distribution without this method raises NotImplementedError naming what is missing."""
        y, shapes, xp, bad, _ = self._cdf_parts(x, args, kwds)
        return _finish(self._cdf(y, *shapes), xp, bad)

    def logcdf(self, x, *args, **kwds):
        """The log of the distribution function at ``x``, like SciPy's; the shape arguments, ``loc`` and ``scale`` as in the
        distribution's docstring (the math, the conventions outside the support, an
        example). Differentiable in ``x`` and every continuous parameter, to any order; a
        distribution without this method raises NotImplementedError naming what is missing."""
        y, shapes, xp, bad, below = self._cdf_parts(x, args, kwds)
        # below the support: -inf as a constant (the clipped y's log-cdf there, log P(a, 0),
        # would carry its limit -inf as a derivative in the shapes)
        with _np.errstate(divide="ignore", invalid="ignore"):
            return _finish(self._logcdf(y, *shapes), xp, bad, below)


class _NormGen(_Continuous):
    r"""The normal distribution, like ``scipy.stats.norm``: methods ``pdf``, ``logpdf``,
    ``cdf``, ``logcdf`` with arguments ``(x, loc=0, scale=1)``.

    ``logpdf = -y^2/2 - log(2 pi)/2 - log(scale)``, ``y = (x - loc)/scale``;
    ``cdf = ndtr(y)``, ``logcdf = log_ndtr(y)`` (accurate far in the lower tail).
    Differentiable in x, loc and scale, to any order; ``scale <= 0`` gives NaN (derivative 0).

    Example::

        >>> gpuad.scipy.stats.norm.logpdf(np.array(0.0))
        np.float64(-0.9189385332046727)
        >>> gpuad.grad(lambda s: gpuad.scipy.stats.norm.logpdf(1.0, 0.0, s))(2.0)  # x^2/s^3 - 1/s
        -0.375
    """
    _name = "norm"

    def _logpdf(self, y):
        return _gnp.subtract(_gnp.multiply(_gnp.square(y), -0.5), _HALF_LOG_2PI)

    def _cdf(self, y):
        return _sp.ndtr(y)

    def _logcdf(self, y):
        return _sp.log_ndtr(y)


class _TGen(_Continuous):
    r"""Student's t distribution, like ``scipy.stats.t``: ``pdf``, ``logpdf`` with arguments
    ``(x, df, loc=0, scale=1)``.

    ``logpdf = gammaln((df+1)/2) - gammaln(df/2) - log(df pi)/2 - (df+1)/2 log1p(y^2/df)
    - log(scale)``, ``y = (x - loc)/scale``; ``df = inf`` is the normal distribution (SciPy's
    value; derivative in df 0 there). Differentiable in x, df, loc and scale; ``df <= 0`` or
    ``scale <= 0``: NaN.

    ``cdf = stdtr(df, y)`` (gpuad.scipy.special.stdtr: the tail ``I_w(df/2, 1/2)/2``,
    ``w = df/(df + y^2)``, from betainc of w or betaincc of ``1 - w``, whichever is below 1/2,
    each formed directly; for ``df >= 100`` near the centre the expansion of DiDonato &
    Morris 1992, section 9, in df and y, so the derivative in df is exact for every df, 1e300
    included); ``df = inf`` is ``norm``'s (derivative in df 0, the limit). ``logcdf`` is
    ``log1p(-stdtr(df, -y))`` for ``y > 0`` (the upper tail formed directly) and the log of
    the cdf elsewhere. Differentiable in x, df, loc and scale, every order (the derivative in
    y is the density, a closed form, also at y = 0).

    Example::

        >>> gpuad.scipy.stats.t.logpdf(np.array(0.0), 1.0)        # Cauchy: -log(pi)
        np.float64(-1.1447298858494002)
        >>> round(float(gpuad.scipy.stats.t.cdf(1.0, 1.0)), 14)   # 1/2 + atan(1)/pi
        0.75
    """
    _name = "t"
    _shapes = ("df",)

    def _valid(self, xp, df):
        return df > 0

    def _logpdf(self, y, df):
        inf = _value(df) == _np.inf
        anyinf = bool(inf.any())
        if anyinf:
            df = _gnp.where(inf, 1.0, df)
        h = _gnp.multiply(_gnp.add(df, 1.0), 0.5)
        lp = _gnp.subtract(_gnp.subtract(_sp.gammaln(h), _sp.gammaln(_gnp.multiply(df, 0.5))),
                           _gnp.multiply(_gnp.log(_gnp.multiply(df, _math.pi)), 0.5))
        lp = _gnp.subtract(lp, _gnp.multiply(h, _gnp.log1p(_gnp.divide(_gnp.square(y), df))))
        if anyinf:
            lp = _gnp.where(inf, _NormGen._logpdf(None, y), lp)
        return lp

    def _cdf(self, y, df):
        return _sp.stdtr(df, y)

    def _logcdf(self, y, df):
        # y > 0: log1p(-tail), the tail stdtr(df, -y) formed directly (log of a cdf near 1
        # keeps only the tail's digits above 1e-16); y <= 0: log of the cdf, the tail itself.
        vy = _value(y)
        with _np.errstate(divide="ignore", invalid="ignore"):
            return _gnp.where(vy > 0, _gnp.log1p(_gnp.negative(_sp.stdtr(df, _gnp.negative(y)))),
                              _gnp.log(_sp.stdtr(df, y)))


class _GammaGen(_Continuous):
    r"""The gamma distribution, like ``scipy.stats.gamma``: ``pdf``, ``logpdf`` with
    arguments ``(x, a, loc=0, scale=1)``.

    ``logpdf = xlogy(a - 1, y) - y - gammaln(a) - log(scale)`` on ``y = (x - loc)/scale >= 0``;
    ``-inf`` (pdf 0, derivative 0) for ``y < 0``; at ``y = 0`` SciPy's value (0 for a = 1,
    +inf for a < 1, -inf for a > 1). Differentiable in x, a, loc and scale; ``a <= 0`` or
    ``scale <= 0``: NaN. ``cdf = gammainc(a, y)`` (0 for y < 0, derivative 0 there);
    ``logcdf = log P(a, y)`` in log space (finite where P underflows, e.g. ``y = 1e-5``,
    ``a = 100``: -1515.03..., where SciPy gives ``-inf``; ``log1p(-Q)`` in the upper tail).
    Differentiable in x, a, loc and scale (gpuad.scipy.special.gammainc).

    Example::

        >>> gpuad.scipy.stats.gamma.pdf(np.array([-1.0, 1.0]), 1.0)       # exp(-x), x >= 0
        array([0.        , 0.36787944])
        >>> gpuad.scipy.stats.gamma.cdf(np.array(2.0), 1.0)              # 1 - exp(-2)
        np.float64(0.8646647167633873)
    """
    _name = "gamma"
    _shapes = ("a",)
    _lower_edge = 0.0

    def _valid(self, xp, a):
        return a > 0

    def _logpdf(self, y, a):
        return _gnp.subtract(_gnp.subtract(_sp.xlogy(_gnp.subtract(a, 1.0), y), y),
                             _sp.gammaln(a))

    def _cdf(self, y, a):
        return _sp.gammainc(a, y)

    def _logcdf(self, y, a):
        return _sp._log_gammainc(a, y)


class _BetaGen(_Continuous):
    r"""The beta distribution, like ``scipy.stats.beta``: ``pdf``, ``logpdf`` with
    arguments ``(x, a, b, loc=0, scale=1)``.

    ``logpdf = xlogy(a - 1, y) + xlog1py(b - 1, -y) - betaln(a, b) - log(scale)`` on
    ``0 <= y = (x - loc)/scale <= 1``; ``-inf`` outside (pdf 0, derivative 0); at the edges
    SciPy's values (finite for a = 1 or b = 1, else +-inf). Differentiable in x, a, b, loc and
    scale; ``a <= 0``, ``b <= 0`` or ``scale <= 0``: NaN. ``betaln`` is a composition of
    gammaln: for a, b much larger than 1 it loses digits (gpuad.scipy.special.betaln).
    ``cdf = betainc(a, b, y)`` (0 below the support, 1 above, derivative 0 there);
    ``logcdf = log I_y(a, b)`` in log space (finite where I underflows: ``beta.logcdf(1e-30,
    50, 2) = -3449.9...``, SciPy ``-inf``). Differentiable in x, a, b, loc and scale
    (gpuad.scipy.special.betainc).

    Example::

        >>> gpuad.scipy.stats.beta.pdf(np.array([0.5, 2.0]), 2.0, 2.0)    # 6 x (1 - x)
        array([1.5, 0. ])
        >>> gpuad.scipy.stats.beta.cdf(np.array([0.5, 2.0]), 2.0, 2.0)    # 3x^2 - 2x^3
        array([0.5, 1. ])
    """
    _name = "beta"
    _shapes = ("a", "b")
    _lower_edge = 0.0
    _upper_edge = 1.0

    def _valid(self, xp, a, b):
        return (a > 0) & (b > 0)

    def _logpdf(self, y, a, b):
        lp = _gnp.add(_sp.xlogy(_gnp.subtract(a, 1.0), y),
                      _sp.xlog1py(_gnp.subtract(b, 1.0), _gnp.negative(y)))
        return _gnp.subtract(lp, _sp.betaln(a, b))

    def _cdf(self, y, a, b):
        return _sp.betainc(a, b, y)

    def _logcdf(self, y, a, b):
        return _sp._log_betainc(a, b, y)


class _Chi2Gen(_Continuous):
    r"""The chi-squared distribution, like ``scipy.stats.chi2``: ``pdf``, ``logpdf`` with
    arguments ``(x, df, loc=0, scale=1)``.

    ``logpdf = xlogy(df/2 - 1, y) - y/2 - gammaln(df/2) - df log(2)/2 - log(scale)`` on
    ``y = (x - loc)/scale >= 0`` (gamma with ``a = df/2``, scale 2); ``-inf`` for ``y < 0``
    (derivative 0); at ``y = 0`` SciPy's value. Differentiable in x, df, loc and scale;
    ``df <= 0`` or ``scale <= 0``: NaN. ``cdf = gammainc(df/2, y/2)``, ``logcdf`` as
    ``gamma``'s (log space: finite where the cdf underflows). Differentiable in x, df, loc
    and scale.

    Example::

        >>> gpuad.scipy.stats.chi2.pdf(np.array(0.0), 2.0)       # exp(-x/2)/2
        np.float64(0.5)
        >>> gpuad.scipy.stats.chi2.cdf(np.array(2.0), 2.0)       # 1 - exp(-1)
        np.float64(0.6321205588285578)
    """
    _name = "chi2"
    _shapes = ("df",)
    _lower_edge = 0.0

    def _valid(self, xp, df):
        return df > 0

    def _logpdf(self, y, df):
        h = _gnp.multiply(df, 0.5)
        lp = _gnp.subtract(_sp.xlogy(_gnp.subtract(h, 1.0), y), _gnp.multiply(y, 0.5))
        return _gnp.subtract(_gnp.subtract(lp, _sp.gammaln(h)),
                             _gnp.multiply(h, _math.log(2.0)))

    def _cdf(self, y, df):
        return _sp.gammainc(_gnp.multiply(df, 0.5), _gnp.multiply(y, 0.5))

    def _logcdf(self, y, df):
        return _sp._log_gammainc(_gnp.multiply(df, 0.5), _gnp.multiply(y, 0.5))


class _LogisticGen(_Continuous):
    r"""The logistic distribution, like ``scipy.stats.logistic``: ``pdf``, ``logpdf``,
    ``cdf``, ``logcdf`` with arguments ``(x, loc=0, scale=1)``.

    ``logpdf = -softplus(y) - softplus(-y) - log(scale)`` (``softplus(y) = log(1 + e^y)``,
    no overflow for large ``|y|``), ``cdf = expit(y)``, ``logcdf = -softplus(-y)``,
    ``y = (x - loc)/scale``. Smooth everywhere (also at y = 0), to any order;
    ``scale <= 0``: NaN.

    Example::

        >>> gpuad.scipy.stats.logistic.cdf(np.array(0.0))
        np.float64(0.5)
        >>> gpuad.scipy.stats.logistic.logpdf(np.array(0.0))     # -2 log 2
        np.float64(-1.3862943611198906)
    """
    _name = "logistic"

    def _logpdf(self, y):
        return _gnp.negative(_gnp.add(_gnp.softplus(y), _gnp.softplus(_gnp.negative(y))))

    def _cdf(self, y):
        return _sp.expit(y)

    def _logcdf(self, y):
        return _gnp.negative(_gnp.softplus(_gnp.negative(y)))


# ----------------------------------------------------------------- poisson
class _PoissonGen(_Distribution):
    r"""The Poisson distribution, like ``scipy.stats.poisson``: ``pmf``, ``logpmf`` with
    arguments ``(k, mu, loc=0)``.

    ``logpmf = xlogy(k, mu) - gammaln(k + 1) - mu`` for an integer ``k - loc >= 0``; ``-inf``
    (pmf 0) for a negative or non-integer ``k - loc``; ``mu < 0``: NaN; ``mu = 0``: pmf 1 at
    ``k = 0``. Differentiable in ``mu`` to any order; ``k`` and ``loc`` are integers, read as
    values (derivative 0). ``cdf = gammaincc(floor(k - loc) + 1, mu)``, differentiable in
    ``mu`` (derivative ``-pmf(floor(k - loc), mu)``).

    Example::

        >>> gpuad.scipy.stats.poisson.pmf(np.array([0, 1, 2]), 1.0)
        array([0.36787944, 0.36787944, 0.18393972])
        >>> gpuad.grad(lambda mu: gpuad.scipy.stats.poisson.logpmf(3, mu))(1.5)   # k/mu - 1
        1.0
    """
    _name = "poisson"

    def _args(self, k, mu, loc):
        """k - loc (a constant array in mu's dtype), mu on k's or mu's device, xp, the NaN
        mask and the mask of k - loc outside the support (negative or not an integer)."""
        k_in, k = k, _lower(k)
        k = _np.asarray(k.get() if hasattr(k, "get") else k, dtype=_np.float64)
        loc = _lower(loc)
        loc = _np.asarray(loc.get() if hasattr(loc, "get") else loc, dtype=_np.float64)
        (mu,), xp = _prepare(_arr(mu))
        xp_k = _prepare(_arr(mu), _arr(k_in))[1]       # the device of k or mu, either
        if xp_k is not xp and _value(mu) is mu:        # a plain mu goes where k lives
            mu, xp = xp_k.asarray(mu), xp_k
        vmu = _value(mu)
        if not _np.issubdtype(vmu.dtype, _np.floating):
            mu = _gnp.asarray(mu, dtype=_np.float64)
            vmu = _value(mu)
        k = xp.asarray(k - loc, dtype=vmu.dtype)
        shape = _np.broadcast_shapes(k.shape, vmu.shape)
        bad = xp.broadcast_to(xp.isnan(k) | ~(vmu >= 0), shape)
        out = xp.broadcast_to(((k < 0) | (xp.floor(k) != k)) & ~xp.isnan(k), shape) & ~bad
        return k, mu, xp, bad, out

    def _parts(self, k, mu, loc):
        k, mu, xp, bad, out = self._args(k, mu, loc)
        kk = xp.where(out, 0, k)
        lp = _gnp.subtract(_gnp.subtract(_sp.xlogy(kk, mu), _sp.gammaln(kk + 1)), mu)
        return lp, xp, bad, out

    def logpmf(self, k, mu, loc=0):
        """``log P(K = k)``, as the class says.

        Example::

            >>> gpuad.scipy.stats.poisson.logpmf(np.array([-1.0, 0.5, 0.0]), 2.0)
            array([-inf, -inf,  -2.])
        """
        lp, xp, bad, out = self._parts(k, mu, loc)
        return _finish(lp, xp, bad, out)

    def pmf(self, k, mu, loc=0):
        """``P(K = k) = exp(logpmf)``, as the class says."""
        lp, xp, bad, out = self._parts(k, mu, loc)
        return _finish(_gnp.exp(lp), xp, bad, out, 0.0)

    def _cdf_parts(self, k, mu, loc):
        """(Q(floor(k - loc) + 1, mu), P(...), xp, bad, below): the cdf and its complement."""
        k, mu, xp, bad, _ = self._args(k, mu, loc)
        below = xp.broadcast_to(k < 0, bad.shape) & ~bad
        a = xp.floor(xp.where(k < 0, 0, k)) + 1        # a constant: derivative 0 in k
        with _np.errstate(invalid="ignore"):
            return _sp.gammaincc(a, mu), _sp.gammainc(a, mu), xp, bad, below

    def cdf(self, k, mu, loc=0):
        """``P(K <= k) = Q(floor(k - loc) + 1, mu)`` (gpuad.scipy.special.gammaincc; SciPy's
        pdtr), 0 for ``k - loc < 0``; differentiable in ``mu``: ``-pmf(floor(k), mu)``.

        Example::

            >>> gpuad.scipy.stats.poisson.cdf(np.array([-1.0, 0.0, 1.5]), 1.0)   # 2/e at 1.5
            array([0.        , 0.36787944, 0.73575888])
        """
        q, p, xp, bad, below = self._cdf_parts(k, mu, loc)
        return _finish(q, xp, bad, below, 0.0)

    def logcdf(self, k, mu, loc=0):
        """``log P(K <= k) = log Q(floor(k - loc) + 1, mu)`` in log space (finite where Q
        underflows: ``poisson.logcdf(0, 1000) = -1000``, SciPy ``-inf``; ``log1p(-P)`` where
        Q exceeds about 1/2); ``-inf`` for ``k - loc < 0``.

        Example::

            >>> gpuad.scipy.stats.poisson.logcdf(np.array(0.0), 2.0)       # -mu
            np.float64(-2.0)
        """
        k, mu, xp, bad, _ = self._args(k, mu, loc)
        below = xp.broadcast_to(k < 0, bad.shape) & ~bad
        a = xp.floor(xp.where(k < 0, 0, k)) + 1        # a constant: derivative 0 in k
        with _np.errstate(invalid="ignore"):
            return _finish(_sp._log_gammaincc(a, mu), xp, bad, below)


# ----------------------------------------------------------------- multivariate
def _squeeze(out):
    """SciPy's _squeeze_output: drop every axis of length 1; 0-d as a scalar."""
    s = tuple(_shape(out))
    if any(n == 1 for n in s):
        out = _gnp.reshape(out, tuple(n for n in s if n != 1))
    return _scalar(out)


class _MultivariateNormalGen(_Distribution):
    r"""The multivariate normal distribution, like ``scipy.stats.multivariate_normal``:
    ``pdf``, ``logpdf`` with arguments ``(x, mean=None, cov=1, allow_singular=False)``.

    ``logpdf = -(d log(2 pi) + log det(cov) + (x - mean)^T cov^-1 (x - mean))/2`` by a
    Cholesky factor ``cov = L L^T`` (``log det = 2 sum log diag L``, the Mahalanobis term by a
    triangular solve); ``cov`` a scalar (``cov I``) or a vector (a diagonal) is used
    directly. Shapes as SciPy: ``x`` is ``(..., d)`` (a 1-d ``x`` is one point, or ``n``
    points when ``d = 1``), ``mean`` ``(d,)`` (default zeros), ``cov`` ``()``, ``(d,)`` or
    ``(d, d)``; the result is squeezed as SciPy's. Differentiable in x, mean and cov to any
    order; ``cov`` is read as ``(cov + cov^T)/2`` (gpuad.numpy.linalg.cholesky), so its
    gradient is symmetric. A singular or indefinite ``cov`` raises (LinAlgError from
    cholesky; ValueError for a nonpositive diagonal), as SciPy without ``allow_singular``;
    ``allow_singular=True`` (a pseudo-determinant, not differentiable where the rank changes)
    and ``cdf`` (Genz's randomized quasi-Monte Carlo in SciPy) raise NotImplementedError.

    Example::

        >>> mvn = gpuad.scipy.stats.multivariate_normal
        >>> mvn.logpdf(np.array([0.0, 0.0]), cov=np.eye(2))        # -log(2 pi)
        np.float64(-1.8378770664093453)
    """
    _name = "multivariate_normal"

    def logpdf(self, x, mean=None, cov=1, allow_singular=False):
        """The log density, as the class says.

        Example::

            >>> gpuad.scipy.stats.multivariate_normal.logpdf(np.array([[0.0], [1.0]]), 0.0, 1.0)
            array([-0.91893853, -1.41893853])
        """
        if allow_singular:
            _not_implemented("multivariate_normal.logpdf(allow_singular=True)",
                             "a pseudo-determinant of a singular cov (its derivative does not "
                             "exist where the rank changes)",
                             "a nonsingular cov (e.g. cov + eps I) with allow_singular=False")
        ops = [_arr(x), _arr(cov)] + ([] if mean is None else [_arr(mean)])
        ops, xp = _prepare(*ops)
        x, cov = ops[0], ops[1]
        mean = ops[2] if len(ops) > 2 else None
        sc = tuple(_shape(cov))
        if mean is not None:
            sm = tuple(_shape(mean))
            if len(sm) > 1:
                raise ValueError("Array 'mean' must be a vector of length 1 or of the "
                                 "dimension of cov")
            d = sm[0] if sm else 1
        else:
            d = sc[0] if len(sc) in (1, 2) else 1
        if len(sc) > 2 or (len(sc) >= 1 and sc[0] != d) or (len(sc) == 2 and sc[1] != d):
            raise ValueError(f"Array 'cov' must be a scalar, a vector of length {d} or a "
                             f"{d} x {d} matrix, got shape {sc}")
        sx = tuple(_shape(x))
        if len(sx) == 0:
            x = _gnp.reshape(x, (1, 1) if d == 1 else (1,))
        elif len(sx) == 1:
            x = _gnp.reshape(x, (sx[0], 1) if d == 1 else (1, sx[0]))
        sx = tuple(_shape(x))
        if sx[-1] != d:
            raise ValueError(f"x's last axis ({sx[-1]}) is not the dimension {d}")
        lead = sx[:-1]
        diff = x if mean is None else _gnp.subtract(x, _gnp.reshape(mean, (d,)))
        flat = _gnp.reshape(diff, (-1, d))
        if len(sc) < 2:
            vc = _value(cov)
            if bool(xp.any(vc < 0)):
                raise ValueError("the input matrix must be positive semidefinite")
            if bool(xp.any(vc == 0)):
                raise _np.linalg.LinAlgError("multivariate_normal: singular matrix (cov has "
                                             "a zero)")
            var = _gnp.multiply(cov, xp.ones((d,), dtype=vc.dtype))
            maha = _gnp.sum(_gnp.divide(_gnp.square(flat), var), axis=-1)
            logdet = _gnp.sum(_gnp.log(var))
        else:
            low = _gnp.linalg.cholesky(cov)
            z = _sl.solve_triangular(low, _gnp.transpose(flat), lower=True)
            maha = _gnp.sum(_gnp.square(z), axis=0)
            logdet = _gnp.multiply(_gnp.sum(_gnp.log(_gnp.diagonal(low))), 2.0)
        out = _gnp.multiply(_gnp.add(_gnp.add(maha, logdet), d * _LOG_2PI), -0.5)
        return _squeeze(_gnp.reshape(out, lead))

    def pdf(self, x, mean=None, cov=1, allow_singular=False):
        """The density ``exp(logpdf)``, as the class says."""
        return _scalar(_gnp.exp(self.logpdf(x, mean, cov, allow_singular)))

    def cdf(self, x, mean=None, cov=1, allow_singular=False, **kwds):
        """Not implemented: NotImplementedError (see the class)."""
        _not_implemented("multivariate_normal.cdf", "an integral over a d-dimensional "
                         "orthant (SciPy: Genz's randomized quasi-Monte Carlo, not a "
                         "deterministic differentiable function)",
                         "norm.cdf for d = 1 or a diagonal cov (a product of norm.cdf), or "
                         "a Monte Carlo average of differentiable indicators' smoothings")

    def logcdf(self, x, mean=None, cov=1, allow_singular=False, **kwds):
        """Not implemented: NotImplementedError (see the class)."""
        _not_implemented("multivariate_normal.logcdf", "an integral over a d-dimensional "
                         "orthant (SciPy: Genz's randomized quasi-Monte Carlo)",
                         "norm.logcdf for d = 1, or a sum of norm.logcdf for a diagonal cov")


class _DirichletGen(_Distribution):
    r"""The Dirichlet distribution, like ``scipy.stats.dirichlet``: ``pdf``, ``logpdf`` with
    arguments ``(x, alpha)``.

    ``logpdf = sum_i xlogy(alpha_i - 1, x_i) - (sum_i gammaln(alpha_i) - gammaln(sum_i
    alpha_i))``. As in SciPy the components are x's FIRST axis (``x`` is ``(K, ...)`` or
    ``(K - 1, ...)``, the last component then ``1 - sum``), ``alpha`` is ``(K,)``, and the
    checks are SciPy's: ``alpha <= 0``, an entry of x outside [0, 1], a sum off 1 (by more than
    1e-9; float32: 1e-5), or an entry 0 where ``alpha < 1`` raise ValueError. Differentiable in
    x and alpha to any order; the derivative in x is that of the formula in all K entries
    (the ambient space: project it onto the simplex's tangent space, or pass K - 1 entries,
    for the derivative along the simplex).

    Example::

        >>> gpuad.scipy.stats.dirichlet.pdf(np.array([0.2, 0.3, 0.5]), np.array([1.0, 1.0, 1.0]))
        np.float64(2.0)
    """
    _name = "dirichlet"

    def logpdf(self, x, alpha):
        """The log density, as the class says.

        Example::

            >>> gpuad.scipy.stats.dirichlet.logpdf(np.array([0.5]), np.array([2.0, 2.0]))
            np.float64(0.4054651081081644)
        """
        (x, alpha), xp = _prepare(_arr(x), _arr(alpha))
        sa, sx = tuple(_shape(alpha)), tuple(_shape(x))
        if len(sa) != 1:
            raise ValueError(f"Parameter vector 'a' must be one dimensional, but a.shape = "
                             f"{sa}.")
        va = _value(alpha)
        if bool(xp.any(~(va > 0))):
            raise ValueError("All parameters must be greater than 0")
        K = sa[0]
        if not sx or (sx[0] + 1 != K and sx[0] != K):
            raise ValueError("Vector 'x' must have either the same number of entries as, or "
                             "one entry fewer than, parameter vector 'a', but alpha.shape = "
                             f"{sa} and x.shape = {sx}.")
        if sx[0] != K:
            if len(sx) > 2:
                raise ValueError("The input must be one dimensional or a two dimensional "
                                 "matrix containing the entries.")
            last = _gnp.subtract(1.0, _gnp.sum(x, axis=0, keepdims=True))
            x = _gnp.concatenate([x, last], axis=0)
        vx = _value(x)
        if bool(xp.any(vx < 0)):
            raise ValueError("Each entry in 'x' must be greater than or equal to zero.")
        if bool(xp.any(vx > 1)):
            raise ValueError("Each entry in 'x' must be smaller or equal one.")
        tol = 10e-10 if vx.dtype == _np.float64 else 1e-5
        if bool(xp.any(xp.abs(vx.sum(axis=0) - 1.0) > tol)):
            raise ValueError("The input vector 'x' must lie within the normal simplex. but "
                             f"np.sum(x, 0) = {vx.sum(axis=0)}.")
        a = _gnp.reshape(alpha, (K,) + (1,) * (len(sx) - 1))
        if bool(xp.any((vx <= 0) & (va.reshape((K,) + (1,) * (len(sx) - 1)) < 1))):
            raise ValueError("Each entry in 'x' must be greater than zero if its alpha is "
                             "less than one.")
        lnb = _gnp.subtract(_gnp.sum(_sp.gammaln(alpha)), _sp.gammaln(_gnp.sum(alpha)))
        out = _gnp.subtract(_gnp.sum(_sp.xlogy(_gnp.subtract(a, 1.0), x), axis=0), lnb)
        return _squeeze(out)

    def pdf(self, x, alpha):
        """The density ``exp(logpdf)``, as the class says."""
        return _scalar(_gnp.exp(self.logpdf(x, alpha)))


norm = _NormGen()
t = _TGen()
gamma = _GammaGen()
beta = _BetaGen()
chi2 = _Chi2Gen()
poisson = _PoissonGen()
logistic = _LogisticGen()
multivariate_normal = _MultivariateNormalGen()
dirichlet = _DirichletGen()
