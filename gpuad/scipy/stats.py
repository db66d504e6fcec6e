"""gpuad.scipy.stats: differentiable densities of ``scipy.stats`` distributions, with
SciPy's names, argument names and defaults.

Each distribution is an object, as in SciPy: ``norm.logpdf(x, loc=0, scale=1)``,
``t.pdf(x, df, loc=0, scale=1)``, ``poisson.logpmf(k, mu, loc=0)``,
``multivariate_normal.logpdf(x, mean=None, cov=1)``, ``dirichlet.logpdf(x, alpha)``; calling
one freezes its parameters (``norm(loc=1.0, scale=2.0).logpdf(x)``). The methods are
compositions of gpuad.numpy and gpuad.scipy.special (gammaln, betaln, xlogy, xlog1py, ndtr,
log_ndtr, expit, softplus, gammainc, gammaincc, betainc, betaincc, stdtr, and the internal
log-space log_gammainc, log_gammaincc, log_betainc, log_stdtr), so they are differentiable in
every argument in which SciPy's function is continuous (x, loc, scale and the shape
parameters of the continuous distributions; ``mu`` of ``poisson``; ``x``, ``mean`` and
``cov`` of ``multivariate_normal``; ``x`` and ``alpha`` of ``dirichlet``), to any order, in
both modes. ``poisson``'s ``k`` and ``loc`` are integers: read as values, derivative 0.

Conventions (README, "Nondifferentiable points"):

- outside the support (e.g. ``x < loc`` for ``gamma``, a non-integer ``k`` for ``poisson``)
  the values are SciPy's, ``-inf`` from ``logpdf``/``logpmf``/``logcdf``, ``0`` from
  ``pdf``/``pmf``/``cdf``, taken as constants: every derivative there is 0;
- invalid parameters (``scale <= 0``, ``df <= 0``, ``a <= 0``, ``mu < 0``, ...) and a NaN
  ``x`` give NaN, as SciPy, and there every derivative of every order, in every continuous
  argument, is NaN (the function is undefined there; a 0 would be a silent zero);
- on the support's closed edge (``x = loc`` for ``gamma``, ``chi2``, ``beta``) the value is
  SciPy's (``xlogy(a - 1, 0)``: 0, ``-inf`` or ``+inf``) and the derivatives those of the
  formula there (infinite where the density's are);
- ``cdf``/``logcdf``: ``norm`` (``ndtr``, ``log_ndtr``), ``logistic`` (``expit``), ``gamma``
  and ``chi2`` (``gammainc``), ``beta`` (``betainc``), ``t`` (``stdtr``), ``poisson``
  (``gammaincc(floor(k) + 1, mu)``); below the support 0 (``-inf``), above it 1 (0), with
  derivative 0. ``logcdf`` of ``gamma``, ``chi2``, ``beta``, ``poisson``, ``t`` is computed in
  log space (log P, log Q, log I: the log of the series' or continued fraction's prefactor
  plus the log of its sum, ``log1p(-complement)`` where the cdf exceeds about 1/2), so it is
  finite and exact, derivatives included, where the cdf underflows to 0 inside the support
  (``gamma.logcdf(1e-5, 100) = -1515.03...``; SciPy returns ``-inf`` there, the log of its
  underflowed cdf); at the support's lower edge ``-inf`` with the derivatives' limits.
- ``multivariate_normal.cdf``/``logcdf``: ``d = 2`` Genz's bivariate formula (SciPy's),
  derivatives from the identities; ``d >= 3`` (and bivariate tails below 1e-10) Genz's
  randomized lattice rule, as SciPy's: the value is an estimate within ``abseps`` (SciPy's
  error control), and every derivative is the exact derivative of that estimate (the
  integration points held fixed), an estimate of the true derivative of the same order of
  accuracy; ``allow_singular=True`` differentiates at constant rank (see the class).

Dtypes: float32 and float64, results in the inputs' dtype (integers promote to float64); a
0-d result is a NumPy scalar, as SciPy's. Arrays are NumPy's (the CPU) or CuPy's (a GPU).
The masks above read the values (a host read on a GPU).
"""
import math as _math

import numpy as _np

from .. import core as _core
from ..core import full_lower as _lower
from .. import numpy as _gnp
from ..numpy._core import prepare as _prepare, shape as _shape
from ..numpy._math import undefined_where as _undefined_where
from . import special as _sp
from . import linalg as _sl
from ..transforms import stop_gradient as _stop
from ..custom.rules import custom_jvp as _custom_jvp
from ..primitives.base import xp_of as _xp_of

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


def _finish(out, xp, nan=None, edge=None, fill=-_np.inf, args=()):
    """``out`` with ``fill`` (a constant, derivative 0: off the support the function is
    locally constant) where ``edge``, and NaN where ``nan`` (numpy bool arrays or None):
    there every derivative of every order in each of ``args`` is NaN, never 0."""
    if edge is not None and bool(xp.any(edge)):
        out = _gnp.where(edge, _const(xp, fill, out), out)
    if nan is not None:
        out = _undefined_where(nan, out, args, xp)
    return _scalar(out)


class _Frozen:
    """A distribution with its parameters fixed: ``norm(loc, scale)``, as SciPy's frozen
    distributions; each method is the distribution's with those parameters appended.

    Example::

        >>> gpuad.scipy.stats.norm(loc=1.0, scale=2.0).logpdf(np.array(1.0))
        np.float64(-1.612085713764618)
    """

    def __init__(self, dist, args, kwds):
        self.dist, self.args, self.kwds = dist, args, kwds

    def __getattr__(self, name):
        if name in ("dist", "args", "kwds"):          # not set yet (copy, pickle)
            raise AttributeError(name)
        _missing_method(f"{self.dist._name}(...)", name)

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


# SciPy's other methods of its distributions: not here yet, each a NotImplementedError naming
# what there is (never an AttributeError for a name SciPy has).
_SCIPY_METHODS = {
    "sf": "1 - cdf (for norm, t, logistic: cdf of the mirrored argument, 2 loc - x)",
    "logsf": "logcdf of the mirrored argument (2 loc - x) for norm, t, logistic; else "
             "log1p(-cdf)",
    "ppf": "scipy.special.ndtri for norm (loc + scale ndtri(q)); none for the others",
    "isf": "ppf's notes, at 1 - q", "rvs": "numpy.random / cupy.random",
    "mean": "the closed form", "var": "the closed form", "std": "the closed form",
    "median": "the closed form", "entropy": "the closed form", "interval": "ppf's notes",
    "support": "the distribution's docstring", "stats": "the closed forms",
    "moment": "the closed form", "expect": "a quadrature of pdf", "fit": "gpuad.grad of "
    "the summed logpdf with an optimizer", "nnlf": "-sum(logpdf)", "cov": "the closed form",
}


class _NotImplementedMethod(NotImplementedError, AttributeError):
    """A NotImplementedError that ``hasattr`` reads as absence (it is an AttributeError too),
    so duck-typing code that probes for a method still works."""


def _missing_method(owner, name):
    if name in _SCIPY_METHODS:
        raise _NotImplementedMethod(
            f"gpuad.scipy.stats.{owner}.{name} is not implemented (gpuad has pdf/pmf, "
            f"logpdf/logpmf, cdf and logcdf); instead: {_SCIPY_METHODS[name]}")
    raise AttributeError(f"gpuad.scipy.stats.{owner} has no attribute {name!r}")


class _Distribution:
    _name = ""

    def __call__(self, *args, **kwds):
        return _Frozen(self, args, kwds)

    def __getattr__(self, name):
        _missing_method(self._name, name)

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
        return y, shapes, scale, xp, (bad, tuple(ops)), out_of & ~bad

    def logpdf(self, x, *args, **kwds):
        """The log of the density at ``x``, ``log f((x - loc) / scale) - log(scale)``, like SciPy's; the shape arguments, ``loc`` and ``scale`` as in the
        distribution's docstring (the math, the conventions outside the support, an
        example). Differentiable in ``x`` and every continuous parameter, to any order; a
        distribution without this method raises NotImplementedError naming what is missing."""
        y, shapes, scale, xp, (bad, ops), out = self._parse(x, args, kwds)
        lp = _gnp.subtract(self._logpdf(y, *shapes), _gnp.log(scale))
        return _finish(lp, xp, bad, out, args=ops)

    def pdf(self, x, *args, **kwds):
        """The density at ``x``, ``exp(logpdf)``, like SciPy's; the shape arguments, ``loc`` and ``scale`` as in the
        distribution's docstring (the math, the conventions outside the support, an
        example). Differentiable in ``x`` and every continuous parameter, to any order; a
        distribution without this method raises NotImplementedError naming what is missing."""
        y, shapes, scale, xp, (bad, ops), out = self._parse(x, args, kwds)
        lp = _gnp.subtract(self._logpdf(y, *shapes), _gnp.log(scale))
        return _finish(_gnp.exp(lp), xp, bad, out, 0.0, args=ops)

    def _cdf_parts(self, x, args, kwds):
        """y clipped to the support (a constant outside it: cdf 0 below, 1 above, derivative
        0), the shapes, xp, the NaN mask and the mask of points below the support."""
        y, shapes, scale, xp, (bad, ops), out = self._parse(x, args, kwds)
        vy = _value(y)
        below = out & (vy < self._lower_edge) if self._lower_edge is not None else None
        for edge, side in ((self._lower_edge, vy < self._lower_edge if self._lower_edge
                            is not None else None),
                           (self._upper_edge, vy > self._upper_edge if self._upper_edge
                            is not None else None)):
            if side is not None and bool(xp.any(side)):
                y = _gnp.where(side, _const(xp, edge, y), y)
        return y, shapes, xp, (bad, ops), below

    def cdf(self, x, *args, **kwds):
        """The distribution function at ``x``, like SciPy's; the shape arguments, ``loc`` and ``scale`` as in the
        distribution's docstring (the math, the conventions outside the support, an
        example). Differentiable in ``x`` and every continuous parameter, to any order; a
        distribution without this method raises NotImplementedError naming what is missing."""
        y, shapes, xp, (bad, ops), _ = self._cdf_parts(x, args, kwds)
        return _finish(self._cdf(y, *shapes), xp, bad, args=ops)

    def logcdf(self, x, *args, **kwds):
        """The log of the distribution function at ``x``, like SciPy's; the shape arguments, ``loc`` and ``scale`` as in the
        distribution's docstring (the math, the conventions outside the support, an
        example). Differentiable in ``x`` and every continuous parameter, to any order; a
        distribution without this method raises NotImplementedError naming what is missing."""
        y, shapes, xp, (bad, ops), below = self._cdf_parts(x, args, kwds)
        # below the support: -inf as a constant (the clipped y's log-cdf there, log P(a, 0),
        # would carry its limit -inf as a derivative in the shapes)
        with _np.errstate(divide="ignore", invalid="ignore"):
            return _finish(self._logcdf(y, *shapes), xp, bad, below, args=ops)


class _NormGen(_Continuous):
    r"""The normal distribution, like ``scipy.stats.norm``: methods ``pdf``, ``logpdf``,
    ``cdf``, ``logcdf`` with arguments ``(x, loc=0, scale=1)``.

    ``logpdf = -y^2/2 - log(2 pi)/2 - log(scale)``, ``y = (x - loc)/scale``;
    ``cdf = ndtr(y)``, ``logcdf = log_ndtr(y)`` (accurate far in the lower tail).
    Differentiable in x, loc and scale, to any order; ``scale <= 0`` gives NaN (every derivative NaN).

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


# t's log density for df >= _T_LARGE without the O(1/df) differences of gammaln((df+1)/2) -
# gammaln(df/2) and of (df+1)/2 log1p(y^2/df) (d/ddf of the log density is O(1/df^2): those
# lost eps df of it, the value itself 2e-4 at df = 1e12): lgamma(nu + 3/4) - lgamma(nu + 1/4)
# - log(nu)/2 = sum_j C_j nu^(-2j), nu = df/2 - 1/4 (the ratio of gammas' expansion, DLMF
# 5.11.13: C_j = 2 B_(2j+1)(1/4) / (2j (2j+1)); to 1e-25 relative at df = 100), and
# (df+1)/2 log1p(u) = y^2/2 (1 + 1/df) log1p(u)/u, u = y^2/df, log1p(u)/u by its series for
# u <= 0.05 (as the kernels' t_log_pdf).
_T_LARGE = 100.0
_T_RATIO = (0.015625, -0.00244140625, 0.0012410481770833333, -0.0013208389282226562,
            0.0024090290069580078, -0.0067123894890149434, 0.026524197443255356)


def _t_logpdf_large(y, df):
    nu = _gnp.subtract(_gnp.multiply(df, 0.5), 0.25)
    r2 = _gnp.reciprocal(_gnp.square(nu))
    acc = _T_RATIO[-1]
    for c in _T_RATIO[-2::-1]:
        acc = _gnp.add(_gnp.multiply(acc, r2), c)
    ratio = _gnp.multiply(acc, r2)
    y2 = _gnp.square(y)
    u = _gnp.divide(y2, df)
    near = _value(u) <= 0.05
    us = _gnp.where(near, u, 0.0)                 # safe arguments for the branch not taken
    series = 1.0 / 14
    for k in range(12, -1, -1):                   # sum_k (-u)^k / (k + 1), k <= 13
        series = _gnp.add(_gnp.multiply(series, _gnp.negative(us)), 1.0 / (k + 1))
    ul = _gnp.where(near, 1.0, u)
    lr = _gnp.where(near, series, _gnp.divide(_gnp.log1p(ul), ul))
    quad = _gnp.multiply(_gnp.multiply(y2, 0.5), _gnp.multiply(_gnp.add(1.0, _gnp.reciprocal(df)), lr))
    out = _gnp.add(_gnp.subtract(ratio, _HALF_LOG_2PI),
                   _gnp.multiply(_gnp.log1p(_gnp.divide(-0.5, df)), 0.5))
    return _gnp.subtract(out, quad)


class _TGen(_Continuous):
    r"""Student's t distribution, like ``scipy.stats.t``: ``pdf``, ``logpdf`` with arguments
    ``(x, df, loc=0, scale=1)``.

    ``logpdf = gammaln((df+1)/2) - gammaln(df/2) - log(df pi)/2 - (df+1)/2 log1p(y^2/df)
    - log(scale)``, ``y = (x - loc)/scale`` (for ``df >= 100`` the same by the gamma ratio's
    expansion, DLMF 5.11.13, so its derivative in df keeps its digits at every df); ``df =
    inf`` is the normal distribution (SciPy's value; derivative in df 0 there). Differentiable in x, df, loc and scale; ``df <= 0`` or
    ``scale <= 0``: NaN.

    ``cdf = stdtr(df, y)`` (gpuad.scipy.special.stdtr: the tail ``I_w(df/2, 1/2)/2``,
    ``w = df/(df + y^2)``, from betainc of w or betaincc of ``1 - w``, whichever is below 1/2,
    each formed directly; for ``df >= 100`` near the centre the expansion of DiDonato &
    Morris 1992, section 9, in df and y, so the derivative in df is exact for every df, 1e300
    included); ``df = inf`` is ``norm``'s (derivative in df 0, the limit). ``logcdf`` is
    computed in log space: the log of the tail ``log I_w(df/2, 1/2) - log 2`` (the log of its
    prefactor plus the log of its continued fraction or expansion; for ``w < 1e-30`` or
    ``df > 1e150`` the leading term of I_w, DLMF 8.17.8) for ``y < 0``, ``log1p(-tail)`` for
    ``y > 0``, so it is finite and exact, derivatives included, where the tail underflows
    (``t.logcdf(-1e10, 50) = -1056.37...``, ``t.logcdf(-1e200, 3) = -1381.45...``; SciPy
    returns ``-inf``); ``df = inf`` is ``norm.logcdf``. Differentiable in x, df, loc and scale,
    every order (the derivative in y of the cdf is the density, a closed form, also at y = 0).

    Example::

        >>> gpuad.scipy.stats.t.logpdf(np.array(0.0), 1.0)        # Cauchy: -log(pi)
        np.float64(-1.1447298858494002)
        >>> round(float(gpuad.scipy.stats.t.cdf(1.0, 1.0)), 14)   # 1/2 + atan(1)/pi
        0.75
        >>> round(float(gpuad.scipy.stats.t.logcdf(-1e10, 50.0)), 9)   # SciPy: -inf
        -1056.371921064
    """
    _name = "t"
    _shapes = ("df",)

    def _valid(self, xp, df):
        return df > 0

    def _logpdf(self, y, df):
        vdf = _value(df)
        inf = vdf == _np.inf
        anyinf = bool(inf.any())
        if anyinf:
            df = _gnp.where(inf, 1.0, df)
        large = (vdf >= _T_LARGE) & ~inf
        anylarge = bool(large.any())
        small_df = _gnp.where(large, 1.0, df) if anylarge else df
        h = _gnp.multiply(_gnp.add(small_df, 1.0), 0.5)
        lp = _gnp.subtract(_gnp.subtract(_sp.gammaln(h), _sp.gammaln(_gnp.multiply(small_df, 0.5))),
                           _gnp.multiply(_gnp.log(_gnp.multiply(small_df, _math.pi)), 0.5))
        lp = _gnp.subtract(lp, _gnp.multiply(h, _gnp.log1p(_gnp.divide(_gnp.square(y), small_df))))
        if anylarge:
            lp = _gnp.where(large, _t_logpdf_large(y, _gnp.where(large, df, _T_LARGE)), lp)
        if anyinf:
            lp = _gnp.where(inf, _NormGen._logpdf(None, y), lp)
        return lp

    def _cdf(self, y, df):
        return _sp.stdtr(df, y)

    def _logcdf(self, y, df):
        # log stdtr in log space (the kernel's df = inf is log_ndtr too; the where keeps
        # norm.logcdf's own launch there, bit for bit on every backend)
        out = _sp._log_stdtr(df, y)
        inf = _value(df) == _np.inf
        if bool(inf.any()):
            out = _gnp.where(inf, _sp.log_ndtr(y), out)
        return out


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
        np.float64(0.6321205588285577)
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
        return lp, mu, xp, bad, out

    def logpmf(self, k, mu, loc=0):
        """``log P(K = k)``, as the class says.

        Example::

            >>> gpuad.scipy.stats.poisson.logpmf(np.array([-1.0, 0.5, 0.0]), 2.0)
            array([-inf, -inf,  -2.])
        """
        lp, mu, xp, bad, out = self._parts(k, mu, loc)
        return _finish(lp, xp, bad, out, args=(mu,))

    def pmf(self, k, mu, loc=0):
        """``P(K = k) = exp(logpmf)``, as the class says."""
        lp, mu, xp, bad, out = self._parts(k, mu, loc)
        return _finish(_gnp.exp(lp), xp, bad, out, 0.0, args=(mu,))

    def _cdf_parts(self, k, mu, loc):
        """(Q(floor(k - loc) + 1, mu), P(...), mu, xp, bad, below): the cdf and its complement."""
        k, mu, xp, bad, _ = self._args(k, mu, loc)
        below = xp.broadcast_to(k < 0, bad.shape) & ~bad
        a = xp.floor(xp.where(k < 0, 0, k)) + 1        # a constant: derivative 0 in k
        with _np.errstate(invalid="ignore"):
            return _sp.gammaincc(a, mu), _sp.gammainc(a, mu), mu, xp, bad, below

    def cdf(self, k, mu, loc=0):
        """``P(K <= k) = Q(floor(k - loc) + 1, mu)`` (gpuad.scipy.special.gammaincc; SciPy's
        pdtr), 0 for ``k - loc < 0``; differentiable in ``mu``: ``-pmf(floor(k), mu)``.

        Example::

            >>> gpuad.scipy.stats.poisson.cdf(np.array([-1.0, 0.0, 1.5]), 1.0)   # 2/e at 1.5
            array([0.        , 0.36787944, 0.73575888])
        """
        q, p, mu, xp, bad, below = self._cdf_parts(k, mu, loc)
        return _finish(q, xp, bad, below, 0.0, args=(mu,))

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
            return _finish(_sp._log_gammaincc(a, mu), xp, bad, below, args=(mu,))


# ----------------------------------------------------------------- multivariate
def _log_cdf(p, q, inside, *args):
    """(multivariate_normal.logcdf's; the univariate logcdfs are computed in log space.)
    log of a distribution function p = 1 - q given both: log(p) where p < 1/2, else
    log1p(-q) (no cancellation near 1). Each side's derivative is its own; the unused side
    gets a zero cotangent.

    Where p underflowed to 0 at a point ``inside`` the open support (a numpy bool array),
    the value is SciPy's ``-inf`` but the true log p and its derivatives are finite: log's
    derivative 1/p times p's (an underflowed density, exactly 0) would give a silent 0.
    There every derivative, in each of ``args`` (the differentiable inputs p depends on), is
    NaN instead: with ``g = sum(v - stop_gradient(v))`` (value 0, derivative 1 in each),
    ``lp (e^g + e^-g + cos g + (2 - cos g))`` taken as four products has the value ``-inf``,
    odd-order derivatives ``-inf + inf`` (the exponentials') and even-order ones
    ``-inf + inf`` (the cosines'): NaN at every order, not a wrong 0 or inf."""
    with _np.errstate(divide="ignore", invalid="ignore"):
        lp = _gnp.log(p)
        out = _gnp.where(_value(p) < 0.5, lp, _gnp.log1p(_gnp.negative(q)))
        under = (_value(p) == 0) & inside
        if not bool(under.any()):
            return out
        g = 0.0
        for v in args:
            g = _gnp.add(g, _gnp.subtract(v, _stop(v)))
        c = _gnp.cos(g)
        e1, e2, c1, c2 = (_gnp.multiply(lp, h) for h in (_gnp.exp(g), _gnp.exp(_gnp.negative(g)),
                                                          c, _gnp.subtract(2.0, c)))
        nan_d = _gnp.add(_gnp.add(e1, e2), _gnp.add(c1, c2))
        return _gnp.where(under, nan_d, out)


def _squeeze(out):
    """SciPy's _squeeze_output: drop every axis of length 1; 0-d as a scalar."""
    s = tuple(_shape(out))
    if any(n == 1 for n in s):
        out = _gnp.reshape(out, tuple(n for n in s if n != 1))
    return _scalar(out)


def _host(v):
    """The value of ``v`` as a float64 NumPy array (a device read for CuPy)."""
    v = _lower(v)
    return _np.asarray(v.get() if hasattr(v, "get") else v, dtype=_np.float64)


def _full_cov(cov, d, xp):
    """cov as a (d, d) matrix: a scalar times I, a vector on the diagonal."""
    sc = tuple(_shape(cov))
    if len(sc) == 2:
        return cov
    eye = xp.eye(d, dtype=_value(cov).dtype)
    return _gnp.multiply(eye, cov if not sc else _gnp.reshape(cov, (1, d)))


def _spectrum(cov, d, dt):
    """SciPy's _PSD analysis of cov's value (a host eigh of ``(cov + cov^T)/2``): the
    eigenvalues, eigenvectors, the cutoff ``eps`` (eigenvalues ``<= eps`` count as 0:
    ``1e6 finfo(float64).eps max|s|``, SciPy's; ``1e3 finfo(float32).eps max|s|`` for float32
    data, what SciPy's rule gives a float32 spectrum) and the rank. ValueError below ``-eps``."""
    if _np.dtype(dt).kind == "c" or _np.iscomplexobj(_lower(cov)):
        raise TypeError("multivariate_normal: cov must be real, got a complex array")
    c = _host(cov)
    if not _np.isfinite(c).all():
        raise ValueError("multivariate_normal: cov must not contain infs or NaNs")
    c = _np.broadcast_to(c, (d,)) if c.ndim < 2 else c
    c = _np.diag(c) if c.ndim == 1 else (c + c.T) / 2
    s, u = _np.linalg.eigh(c)
    f32 = _np.dtype(dt) == _np.float32
    eps = (1e3 if f32 else 1e6) * _np.finfo(_np.float32 if f32 else _np.float64).eps \
        * _np.max(_np.abs(s))
    if _np.min(s) < -eps:
        raise ValueError("The input matrix must be symmetric positive semidefinite.")
    return s, u, eps, int(_np.sum(s > eps))


def _limit_phi(lim, inf, s, ct, xp):
    """``(Phi(t), Phi(-t))``, ``t = (lim - s)/ct``, each without cancellation; where ``inf``
    (an int8 array: the sign of lim's infinite entries, 0 where finite) the constants
    ``(0, 1)`` (``-inf``) or ``(1, 0)`` (``+inf``), lim replaced by 0 first so that no
    ``0 * inf`` reaches a derivative."""
    dt = _value(ct).dtype
    if bool((inf != 0).all()):
        return (inf > 0).astype(dt), (inf < 0).astype(dt)
    some = bool((inf != 0).any())
    if some:
        lim = _gnp.where(inf != 0, _const(xp, 0.0, lim), lim)
    t = _gnp.divide(_gnp.subtract(lim, s), ct)
    p, q = _sp.ndtr(t), _sp.ndtr(_gnp.negative(t))
    if some:
        p = _gnp.where(inf != 0, (inf > 0).astype(dt), p)
        q = _gnp.where(inf != 0, (inf < 0).astype(dt), q)
    return p, q


def _inf_sign(v, xp):
    """The sign of v's infinite entries (int8), 0 where finite."""
    return (xp.isinf(v) * xp.sign(v)).astype(_np.int8)


def _interval(lo, lo_inf, hi, hi_inf, s, ct, xp):
    """``Phi(b') - Phi(a')`` and the pieces ``Phi(a'), Phi(b'), Phi(-a'), Phi(-b')``; the
    difference is taken of the complements above 0 (no cancellation in the upper tail)."""
    c, cc = _limit_phi(lo, lo_inf, s, ct, xp)
    e, ec = _limit_phi(hi, hi_inf, s, ct, xp)
    upper = _value(c) > 0.5
    dc = _gnp.subtract(e, c)
    if bool(upper.any()):
        dc = _gnp.where(upper, _gnp.subtract(cc, ec), dc)
    return dc, c, e, cc, ec


# Gauss-Legendre rules of Genz's bivariate algorithm: 6, 12 or 20 nodes by |r|.
_BVN_RULES = {n: _np.polynomial.legendre.leggauss(n) for n in (6, 12, 20)}
_BVN_TAIL = 1e-10   # below: the lattice rule (relative error control) instead of _bvn
_BVN_BIG = 40.0     # |h| >= 40: Phi(-h) is 0 or 1 in float64, so the limit is exact there


def _bvnu(h, k, r, rv, xp):
    r"""``P(X > h, Y > k)`` of a standard bivariate normal pair with correlation ``r``
    (``rv`` its value, ``|rv| < 1``), elementwise over ``h``, ``k`` (finite, ``|.| <= 40``).

    Genz 2004 (Statistics and Computing 14:251-260, sec. 2.4; Drezner & Wesolowsky 1990):
    for ``|r| < 0.925``, ``Phi(-h) Phi(-k) + (1/2 pi) int_0^{asin r} exp(-(h^2 + k^2 -
    2 h k sin t) / (2 cos^2 t)) dt`` by a 6-, 12- or 20-point Gauss-Legendre rule (as |r|
    grows), about 1e-15 absolute; for ``|r| >= 0.925`` the integral in ``s = sqrt(1 - r^2)``
    with its singular part integrated in closed form (Genz's eq. for high correlation).
    Written with gpuad ops, so its derivatives are those of this formula."""
    G = _gnp
    n = 6 if abs(rv) < 0.3 else 12 if abs(rv) < 0.75 else 20
    x, w = (xp.asarray(a, dtype=_value(h).dtype) for a in _BVN_RULES[n])
    hk = G.multiply(h, k)
    col = lambda v: G.reshape(v, tuple(_shape(v)) + (1,))   # noqa: E731
    if abs(rv) < 0.925:
        hs = G.multiply(G.add(G.square(h), G.square(k)), 0.5)
        asr = G.arcsin(r)
        sn = G.sin(G.multiply(asr, (1 + x) / 2))                          # (n,)
        e = G.exp(G.divide(G.subtract(G.multiply(col(hk), sn), col(hs)),
                           G.subtract(1.0, G.square(sn))))
        quad = G.multiply(G.sum(G.multiply(e, w), axis=-1), G.divide(asr, 4 * _np.pi))
        return G.add(quad, G.multiply(_sp.ndtr(G.negative(h)), _sp.ndtr(G.negative(k))))
    if rv < 0:
        k, hk = G.negative(k), G.negative(hk)
    as_ = G.multiply(G.subtract(1.0, r), G.add(1.0, r))
    a = G.sqrt(as_)
    bs = G.square(G.subtract(h, k))
    c = G.divide(G.subtract(4.0, hk), 8.0)
    d = G.divide(G.subtract(12.0, hk), 16.0)
    one = _const(xp, 1.0, h)
    # exp(asr) and exp(-hk/2) are only taken where Genz's algorithm takes them (> -100):
    # elsewhere the term is a constant 0 and the exponent a harmless stand-in.
    asr = G.multiply(G.add(G.divide(bs, as_), hk), -0.5)
    ok = _value(asr) > -100
    ea = G.exp(G.where(ok, asr, -100.0))
    t1 = G.multiply(G.multiply(a, ea), G.add(
        G.subtract(1.0, G.multiply(G.multiply(c, G.subtract(bs, as_)),
                                   G.divide(G.subtract(1.0, G.multiply(d, G.divide(bs, 5.0))), 3.0))),
        G.multiply(G.multiply(c, d), G.divide(G.square(as_), 5.0))))
    bvn = G.where(ok, t1, 0.0)
    okh = _value(hk) > -100
    zero_b = _value(bs) == 0           # h = k: b = 0 (sqrt's derivative would meet 0 * inf)
    b = G.sqrt(G.where(zero_b, one, bs))
    t2 = G.multiply(G.multiply(G.multiply(G.exp(G.multiply(G.where(okh, hk, 0.0), -0.5)),
                                          _math.sqrt(2 * _np.pi)),
                               G.multiply(_sp.ndtr(G.negative(G.divide(b, a))), b)),
                    G.subtract(1.0, G.multiply(G.multiply(c, bs), G.divide(
                        G.subtract(1.0, G.multiply(d, G.divide(bs, 5.0))), 3.0))))
    bvn = G.subtract(bvn, G.where(okh & ~zero_b, t2, 0.0))
    xs = G.square(G.multiply(G.multiply(a, 0.5), 1 + x))                  # (n,)
    rs = G.sqrt(G.subtract(1.0, xs))
    asr = G.multiply(G.add(G.divide(col(bs), xs), col(hk)), -0.5)           # (m, n)
    ok = _value(asr) > -100
    ep = G.divide(G.exp(G.divide(G.multiply(col(hk), G.negative(xs)),
                                 G.multiply(G.square(G.add(1.0, rs)), 2.0))), rs)
    sp = G.add(1.0, G.multiply(G.multiply(col(c), xs), G.add(1.0, G.multiply(col(d), xs))))
    term = G.multiply(G.exp(G.where(ok, asr, -100.0)), G.subtract(ep, sp))
    bvn = G.add(bvn, G.multiply(G.sum(G.multiply(G.where(ok, term, 0.0), w), axis=-1),
                                G.multiply(a, 0.5)))
    bvn = G.divide(bvn, -2 * _np.pi)
    if rv > 0:
        return G.add(bvn, _sp.ndtr(G.negative(G.maximum(h, k))))
    bvn = G.negative(bvn)
    kv, hv = _value(k), _value(h)
    lo = _gnp.where(hv < 0, G.subtract(_sp.ndtr(k), _sp.ndtr(h)),
                    G.subtract(_sp.ndtr(G.negative(h)), _sp.ndtr(G.negative(k))))
    return G.add(bvn, G.where(kv > hv, lo, 0.0))


@_custom_jvp
def _bvn_lower(h, k, r):
    """``P(X <= h, Y <= k)`` of a standard pair of correlation ``r`` (0-d), elementwise over
    h, k (finite, ``|.| <= 40``): the value by Genz's formula (:func:`_bvnu` at ``-h, -k``);
    the derivatives by the identities (its JVP rule), smooth everywhere. (The formula's
    pieces kink where h = k for ``|r| >= 0.925``, through ``max(h, k)`` and ``|h - k|``;
    only their sum is smooth, so differentiating them would be wrong exactly there.)"""
    return _bvnu(_gnp.negative(h), _gnp.negative(k), r, float(_host(r)), _xp_of(h, k, r))


@_bvn_lower.defjvp
def _bvn_lower_jvp(primals, tangents):
    # dL/dh = phi(h) Phi((k - r h)/s), dL/dk likewise, dL/dr = the density phi_2(h, k; r)
    # (Plackett 1954), s = sqrt(1 - r^2): gpuad ops, so every order follows.
    G = _gnp
    h, k, r = primals
    out = _bvn_lower(h, k, r)
    s2 = G.subtract(1.0, G.square(r))
    s = G.sqrt(s2)
    phi = lambda z: G.multiply(G.exp(G.multiply(G.square(z), -0.5)),    # noqa: E731
                               1 / _math.sqrt(2 * _np.pi))
    dh = G.multiply(phi(h), _sp.ndtr(G.divide(G.subtract(k, G.multiply(r, h)), s)))
    dk = G.multiply(phi(k), _sp.ndtr(G.divide(G.subtract(h, G.multiply(r, k)), s)))
    q = G.add(G.subtract(G.square(h), G.multiply(G.multiply(r, h), G.multiply(k, 2.0))),
              G.square(k))
    dr = G.divide(G.exp(G.divide(G.multiply(q, -0.5), s2)), G.multiply(s, 2 * _np.pi))
    t = 0.0
    for d, tv in zip((dh, dk, dr), tangents):
        if tv is not None:
            t = G.add(t, G.multiply(d, tv))
    return out, G.add(G.multiply(out, 0.0), t)


def _bvn(cov, a, b, xp):
    """``P(a < X <= b)`` for X ~ N(0, cov), d = 2, rows of a, b (n, 2): the four corners of
    the rectangle by :func:`_bvnu` (one term when a is all -inf: ``P(X <= b) = bvnu(-b)``)."""
    G = _gnp
    sd = G.sqrt(G.diagonal(cov))
    # cov is read as (cov + cov^T)/2 (as cholesky reads it): a symmetric gradient
    r = G.divide(G.multiply(G.add(cov[0, 1], cov[1, 0]), 0.5), G.multiply(sd[0], sd[1]))

    def std(v):
        """v / sd with infinite or beyond-40 entries as the constants +-40 (exact there)."""
        vv = _value(v)
        out = G.divide(G.where(xp.isinf(vv), 0.0, v), sd)
        big = xp.abs(_value(out)) >= _BVN_BIG
        big |= xp.isinf(vv)
        return G.where(big, xp.sign(xp.where(xp.isinf(vv), vv, _value(out))) * _BVN_BIG, out)

    hb = std(b)
    corner = lambda u: _bvn_lower(u[:, 0], u[:, 1], r)              # noqa: E731
    p = corner(hb)
    if not bool(xp.all(xp.isneginf(_value(a)))):
        ha = std(a)
        mix = lambda u, v: G.stack([u[:, 0], v[:, 1]], axis=1)   # noqa: E731
        p = G.add(G.subtract(G.subtract(p, corner(mix(ha, hb))), corner(mix(hb, ha))),
                  corner(ha))
    return p


_GENZ_SHIFTS = 10           # random shifts of the lattice: SciPy's n_batches
_GENZ_SEED = 20240613       # rng=None: this seed, so a call is reproducible (SciPy: global state)
_GENZ_CHUNK = 1 << 21       # points x samples per array in the error-control rounds


def _primes(m):
    out, k = [], 2
    while len(out) < m:
        if all(k % p for p in out if p * p <= k):
            out.append(k)
        k += 1
    return _np.array(out, dtype=_np.float64)


def _genz_order(c, lo, hi):
    """Genz's variable prioritisation (Genz & Bretz 2009, sec. 4.1.3), on values, per point:
    at step k the remaining variable with the smallest conditional interval probability goes
    next, conditioned on the earlier ones at their truncated means. ``c`` (d, d), ``lo``,
    ``hi`` (n, d) host arrays; returns the permutations (n, d). A choice, not differentiated."""
    n, d = lo.shape
    rows = _np.arange(n)
    perm = _np.tile(_np.arange(d), (n, 1))
    cp = _np.array(_np.broadcast_to(c, (n, d, d)))
    low, lo, hi = _np.zeros((n, d, d)), lo.copy(), hi.copy()
    y = _np.zeros((n, d))

    def swap(a, k, j):
        a[rows, k], a[rows, j] = a[rows, j].copy(), a[rows, k].copy()

    with _np.errstate(all="ignore"):
        for k in range(d):
            var = _np.diagonal(cp, axis1=1, axis2=2)[:, k:] - _np.sum(low[:, k:, :k] ** 2, -1)
            sd = _np.sqrt(_np.maximum(var, _np.finfo(float).tiny))
            s = _np.einsum("njk,nk->nj", low[:, k:, :k], y[:, :k])
            a, b = (lo[:, k:] - s) / sd, (hi[:, k:] - s) / sd
            j = k + _np.argmin(_sp.ndtr(b) - _sp.ndtr(a), axis=1)
            a, b, sd = (v[rows, j - k] for v in (a, b, sd))
            for arr in (perm, lo, hi):
                swap(arr, k, j)
            swap(low, k, j)                                      # rows
            swap(cp, k, j)
            cp[rows, :, k], cp[rows, :, j] = cp[rows, :, j].copy(), cp[rows, :, k].copy()
            low[:, k, k] = sd
            low[:, k + 1:, k] = (cp[:, k + 1:, k] - _np.einsum(
                "nij,nj->ni", low[:, k + 1:, :k], low[:, k, :k])) / sd[:, None]
            pa = _np.exp(-0.5 * _np.where(_np.isinf(a), 0, a) ** 2) * _np.isfinite(a)
            pb = _np.exp(-0.5 * _np.where(_np.isinf(b), 0, b) ** 2) * _np.isfinite(b)
            den = (_sp.ndtr(b) - _sp.ndtr(a)) * _np.sqrt(2 * _np.pi)
            mid = _np.clip(_np.where(_np.isinf(a), b - 1, _np.where(_np.isinf(b), a + 1,
                                                                     (a + b) / 2)), -8, 8)
            y[:, k] = _np.where(den > 1e-300, (pa - pb) / den, mid)
    return perm


def _lattice(shifts, k0, k1, xp, dt):
    """Randomly shifted Richtmyer lattice points ``frac(k sqrt(p_j) + shift_rj)``, k in
    (k0, k1], through the tent ``|2 z - 1|``: an array (d - 1, K (k1 - k0)), shift-major."""
    nshift, m = shifts.shape
    if m == 0:      # rank 1: nothing to integrate (the integrand is a constant)
        return xp.zeros((0, nshift * (k1 - k0)), dtype=dt)
    q = xp.asarray(_np.sqrt(_primes(m)) % 1.0)
    k = xp.arange(k0 + 1, k1 + 1, dtype=_np.float64)
    z = (k[None, None, :] * q[:, None, None] + xp.asarray(shifts.T)[:, :, None]) % 1.0
    return xp.abs(2.0 * z - 1.0).reshape(m, -1).astype(dt)


def _genz_integrand(low, lo, hi, lo_inf, hi_inf, w, xp):
    """Genz's separation-of-variables integrand at the points ``w`` (d - 1, M): an (n, M)
    array ``prod_i (Phi(b_i') - Phi(a_i'))`` with ``a_i' = (a_i - sum_j<i L_ij y_j)/L_ii``,
    ``y_j = ndtri(Phi(a_j') + w_j (Phi(b_j') - Phi(a_j')))``. ``low`` (n, d, d) lower Cholesky
    factors, ``lo``/``hi`` (n, d) the limits, their infinite entries masked."""
    n, d = _shape(lo)
    dt = _value(lo).dtype
    tiny = _np.finfo(dt).tiny
    col = lambda v, i: v[:, i:i + 1]                              # noqa: E731
    dc, c, e, cc, ec = _interval(col(lo, 0), lo_inf[:, :1], col(hi, 0), hi_inf[:, :1], 0.0,
                                 col(_gnp.diagonal(low, axis1=1, axis2=2), 0), xp)
    pv, ys = dc, []
    for i in range(1, d):
        # u = Phi(a') + w (Phi(b') - Phi(a')) = (1 - w) Phi(a') + w Phi(b'), and 1 - u the
        # same of the complements: ndtri of the smaller (ndtri(u) = -ndtri(1 - u)), so u
        # near 1 keeps its digits. ndtri(0) = -inf: a v that underflowed below tiny is
        # clipped to tiny (a constant there, derivative 0: the clipped function's own).
        wi = w[i - 1]
        u = _gnp.add(_gnp.multiply(1.0 - wi, c), _gnp.multiply(wi, e))
        uc = _gnp.add(_gnp.multiply(1.0 - wi, cc), _gnp.multiply(wi, ec))
        flip = _value(u) > 0.5
        v = _gnp.where(flip, uc, u)
        small = _value(v) < tiny
        if bool(small.any()):
            v = _gnp.where(small, _const(xp, tiny, v), v)
        y = _sp.ndtri(v)
        ys.append(_gnp.where(flip, _gnp.negative(y), y))
        s = 0.0
        for j, y in enumerate(ys):
            s = _gnp.add(s, _gnp.multiply(low[:, i, j:j + 1], y))
        dc, c, e, cc, ec = _interval(col(lo, i), lo_inf[:, i:i + 1], col(hi, i),
                                     hi_inf[:, i:i + 1], s, low[:, i, i:i + 1], xp)
        pv = _gnp.multiply(pv, dc)
    m = _shape(w)[1]
    return pv if tuple(_shape(pv)) == (n, m) else _gnp.broadcast_to(pv, (n, m))


def _genz(cov, a, b, maxpts, abseps, releps, rng, xp):
    """P(a < X < b), X ~ N(0, cov), for the rows of a, b (n, d), d >= 2, a <= b: Genz's
    randomized lattice rule with error control; see multivariate_normal.cdf."""
    n, d = _shape(b)
    ha, hb = _host(a), _host(b)
    perm = xp.asarray(_genz_order(_host(cov), ha, hb))

    def setup(cov, a, b):
        cp = cov[perm[:, :, None], perm[:, None, :]]
        sym = _gnp.multiply(_gnp.add(cp, _gnp.swapaxes(cp, -1, -2)), 0.5)
        return (_gnp.linalg.cholesky(sym), _gnp.take_along_axis(a, perm, -1),
                _gnp.take_along_axis(b, perm, -1))

    va, vb = _value(a), _value(b)
    lo_inf, hi_inf = (_inf_sign(v, xp)[xp.arange(n)[:, None], perm] for v in (va, vb))
    parts = {False: setup(_value(cov), va, vb)}

    def f(ix, w, rec):
        if rec not in parts:
            parts[rec] = setup(cov, a, b)
        L, lo, hi = parts[rec]
        take = (lambda v: _gnp.take(v, ix, axis=0)) if rec else (lambda v: v[ix])  # noqa: E731
        return _genz_integrand(take(L), take(lo), take(hi), lo_inf[ix], hi_inf[ix], w, xp)

    traced = not all(_value(v) is v for v in (cov, a, b))
    return _lattice_estimate(f, n, d - 1, _value(b).dtype, maxpts, abseps, releps, rng, xp,
                             traced)


def _lattice_estimate(f, n, m, dt, maxpts, abseps, releps, rng, xp, traced):
    """The mean of an integrand over randomly shifted lattice points in the m-cube, for n
    points at once: ``f(ix, w, recorded)`` gives the (len(ix), M) integrand of the points
    ``ix`` (an xp index array) at ``w`` (m, M), on values or (``recorded``) through gpuad
    ops. Error control on values: the per-shift sums grow with the nested points k = 1,
    2, ... until 3 standard errors of the mean over the shifts are below max(abseps,
    releps p) or K N would pass maxpts; each point keeps its own N (a point's value does
    not depend on the others in the call). Then, when ``traced``, the same estimate
    recorded: one pass per distinct N over all of its points."""
    shifts = _genz_shifts(rng, m)
    nshift = shifts.shape[0]
    npts = max(1, min(maxpts, 1000 * (m + 1)) // nshift)
    sums = xp.zeros((n, nshift), dtype=_np.float64)
    final_n = _np.zeros(n, dtype=_np.int64)
    value = xp.zeros(n, dtype=dt)
    active, done_k = _np.arange(n), 0
    while True:
        ia = xp.asarray(active)
        step = max(1, _GENZ_CHUNK // (nshift * len(active)))
        for k0 in range(done_k, npts, step):
            k1 = min(npts, k0 + step)
            w = _lattice(shifts, k0, k1, xp, dt)
            pv = f(ia, w, False)
            sums[ia] += pv.reshape(len(active), nshift, k1 - k0).sum(-1)
        est = sums[ia] / npts
        p = est.mean(-1)
        # in units of each point's largest shift estimate: squared deviations of a p below
        # ~1e-154 would underflow to 0 (a zero error, a stop after the first round)
        scale = xp.abs(est).max(-1)
        scale = xp.where(scale > 0, scale, 1.0)
        err = 3 * (est / scale[:, None]).std(-1, ddof=1) / _np.sqrt(nshift)
        stop = _host((err <= xp.maximum(abseps / scale, releps * xp.abs(p) / scale))) > 0
        if 2 * npts * nshift > maxpts:
            stop[:] = True
        final_n[active[stop]] = npts
        value[ia[xp.asarray(stop)]] = p[xp.asarray(stop)].astype(dt)
        active = active[~stop]
        if not len(active):
            break
        done_k, npts = npts, 2 * npts
    if not traced:
        return value
    parts, order = [], []
    for k in _np.unique(final_n):
        idx = _np.nonzero(final_n == k)[0]
        w = _lattice(shifts, 0, int(k), xp, dt)
        parts.append(_gnp.mean(f(xp.asarray(idx), w, True), axis=-1))
        order.append(idx)
    out = parts[0] if len(parts) == 1 else _gnp.concatenate(parts)
    order = _np.concatenate(order)
    if (order != _np.arange(n)).any():
        out = _gnp.take(out, xp.asarray(_np.argsort(order)), axis=0)
    return out


# The folded estimate of a singular cov is continuous but kinked where a fold's max/min
# switches (at points that move with x): its first derivative is the cdf's (a Lipschitz
# integrand: derivative and mean commute), its second is not (the jumps of the first are
# lost), so deeper nesting is refused by this identity of order 1 (core.check_order).
_SINGULAR_FIRST_ORDER = _core.register(_core.Primitive(
    "multivariate_normal_cdf_singular", lambda p: p,
    jvp=lambda primals, tangents: (primals[0], tangents[0]), vjp=lambda g, ins, out: (g,),
    saves="none", max_order=1,
    missing="gpuad.scipy.stats.multivariate_normal.cdf/logcdf with a singular cov folds "
            "the dependent variables' limits into a max/min whose kinks the estimate's "
            "second derivative misses; instead: cov + eps I (nonsingular), or first "
            "derivatives only",
    doc="identity of order 1: the singular multivariate normal cdf's estimate"))


def _genz_singular(cov, a, b, rank, maxpts, abseps, releps, rng, xp):
    """P(a < X <= b), X ~ N(0, cov) of rank r < d, rows of a, b (n, d): X = L Z, Z ~ N(0, I_r)
    with L (d, r) from a pivoted Cholesky factor (Genz & Bretz 2009, sec. 4.1.3 and 5.2):
    the r pivot rows are lower triangular; each other row i constrains the variable of its
    last nonzero column k_i, ``a_i < s_i + L_ik y_k <= b_i`` (s_i the earlier terms), which
    is folded into y_k's interval (the largest lower and smallest upper bound: a max/min,
    continuous, no indicator); a row of zeros (a variable of variance 0) is the constant
    ``1{a_i < 0 <= b_i}``. The pivot choice and the k_i are read from the values (a choice,
    not differentiated); L's entries are gpuad ops (cholesky of the pivot block, a triangular
    solve for the other rows), so the estimate's derivatives hold at constant rank."""
    n, d = _shape(b)
    dt = _value(b).dtype
    if rank == 0:       # X = 0: the constant 1{a < 0 <= b} in every coordinate
        va, vb = _value(a), _value(b)
        return ((va < 0) & (vb >= 0)).all(-1).astype(dt)
    c = _host(cov)
    c = (c + c.T) / 2
    # pivoted Cholesky on the values: the pivots (largest remaining Schur diagonal first)
    piv, rest, S = [], list(range(d)), c.copy()
    for _ in range(rank):
        j = max(rest, key=lambda i: S[i, i])
        piv.append(j)
        rest.remove(j)
        col = S[:, j] / _np.sqrt(S[j, j])
        S = S - _np.outer(col, col)
    order = piv + rest
    P = xp.asarray(_np.array(order))
    C = _gnp.multiply(_gnp.add(cov, _gnp.transpose(cov)), 0.5)
    C = _gnp.take(_gnp.take(C, P, axis=0), P, axis=1)
    Lp = _gnp.linalg.cholesky(C[:rank, :rank])
    Lr = _gnp.transpose(_sl.solve_triangular(Lp, _gnp.transpose(C[rank:, :rank]), lower=True))
    L = _gnp.concatenate([Lp, Lr], axis=0)                            # (d, r), rows in `order`
    vL = _host(L)
    scale = _np.sqrt(_np.maximum(_np.diag(c)[order], 0)).max()
    tol = 1e-12 * (scale if scale > 0 else 1.0)
    last = []
    for i in range(d):
        nz = _np.nonzero(_np.abs(vL[i]) > tol)[0]
        last.append(int(nz[-1]) if len(nz) else -1)
    a, b = _gnp.take(a, P, axis=1), _gnp.take(b, P, axis=1)
    va, vb = _value(a), _value(b)
    zero = [i for i in range(d) if last[i] < 0]
    # a variable of variance 0: the constant factor 1{a_i < 0 <= b_i}, on values
    ind = xp.ones(n, dtype=dt)
    for i in zero:
        ind = ind * ((va[:, i] < 0) & (vb[:, i] >= 0)).astype(dt)
    groups = [[i for i in range(d) if last[i] == k] for k in range(rank)]
    big = _BVN_BIG

    def std_limit(lim, s, coef):
        """(lim - s)/coef with an infinite lim as the constant +-40 (Phi exact there)."""
        lv = _value(lim)
        inf = xp.isinf(lv)
        t = _gnp.divide(_gnp.subtract(_gnp.where(inf, 0.0, lim), s), coef)
        sign = xp.sign(lv) * (1.0 if float(_host(coef)) > 0 else -1.0)
        return _gnp.where(inf, sign * big, _gnp.clip(t, -big, big))

    def f(ix, w, rec):
        A = _gnp.take(a, ix, axis=0) if rec else va[ix]
        B = _gnp.take(b, ix, axis=0) if rec else vb[ix]
        Lm = L if rec else vL
        m = _shape(w)[1]
        pv, ys = None, []
        for k in range(rank):
            los, his = [], []
            for i in groups[k]:
                s = 0.0
                for j in range(k):
                    s = _gnp.add(s, _gnp.multiply(Lm[i, j], ys[j]))
                coef = Lm[i, k]
                t1 = std_limit(A[:, i:i + 1], s, coef)
                t2 = std_limit(B[:, i:i + 1], s, coef)
                lo_, hi_ = (t1, t2) if float(_host(coef)) > 0 else (t2, t1)
                los.append(lo_)
                his.append(hi_)
            lo_, hi_ = los[0], his[0]
            for u, v in zip(los[1:], his[1:]):
                lo_, hi_ = _gnp.maximum(lo_, u), _gnp.minimum(hi_, v)
            lo_, hi_ = _gnp.broadcast_to(lo_, (len(ix), m)), _gnp.broadcast_to(hi_, (len(ix), m))
            empty = _value(hi_) <= _value(lo_)
            hi_ = _gnp.where(empty, lo_, hi_)
            # Phi(hi) - Phi(lo), of the complements above 0 (no cancellation in the upper tail)
            up = _value(lo_) > 0
            dc = _gnp.where(up, _gnp.subtract(_sp.ndtr(_gnp.negative(lo_)),
                                              _sp.ndtr(_gnp.negative(hi_))),
                            _gnp.subtract(_sp.ndtr(hi_), _sp.ndtr(lo_)))
            pv = dc if pv is None else _gnp.multiply(pv, dc)
            if k + 1 < rank:
                # y_k = the point w_k of the way through the interval, in probability
                wk = w[k]
                u = _gnp.where(up, _gnp.subtract(
                    _sp.ndtr(_gnp.negative(lo_)), _gnp.multiply(wk, dc)),
                    _gnp.add(_sp.ndtr(lo_), _gnp.multiply(wk, dc)))
                tiny = _np.finfo(dt).tiny
                small = _value(u) < tiny
                u = _gnp.where(small, _const(xp, tiny, u), u)
                y = _sp.ndtri(u)
                ys.append(_gnp.where(up, _gnp.negative(y), y))
        if not rec:
            pv = _value(pv)
        return _gnp.multiply(pv, _gnp.reshape(ind[ix], (-1, 1)))

    traced = not all(_value(v) is v for v in (cov, a, b))
    p = _lattice_estimate(f, n, rank - 1, dt, maxpts, abseps, releps, rng, xp, traced)
    return _core.bind(_SINGULAR_FIRST_ORDER, p) if any(len(g) > 1 for g in groups) else p


def _genz_shifts(rng, m):
    """The K x m random shifts: from ``rng`` (a Generator, RandomState or seed), or from a
    fixed seed when it is None."""
    if rng is None:
        rng = _np.random.default_rng(_GENZ_SEED)
    elif not isinstance(rng, (_np.random.Generator, _np.random.RandomState)):
        rng = _np.random.default_rng(rng)
    return _np.asarray(rng.random((_GENZ_SHIFTS, m)), dtype=_np.float64)


class _MultivariateNormalGen(_Distribution):
    r"""The multivariate normal distribution, like ``scipy.stats.multivariate_normal``:
    ``pdf``, ``logpdf`` with arguments ``(x, mean=None, cov=1, allow_singular=False)``;
    ``cdf``, ``logcdf`` with ``(x, mean=None, cov=1, allow_singular=False, maxpts=None,
    abseps=1e-5, releps=1e-5, *, lower_limit=None, rng=None)``.

    ``logpdf = -(d log(2 pi) + log det(cov) + (x - mean)^T cov^-1 (x - mean))/2`` by a
    Cholesky factor ``cov = L L^T`` (``log det = 2 sum log diag L``, the Mahalanobis term by a
    triangular solve); ``cov`` a scalar (``cov I``) or a vector (a diagonal) is used
    directly. Shapes as SciPy: ``x`` is ``(..., d)`` (a 1-d ``x`` is one point, or ``n``
    points when ``d = 1``), ``mean`` ``(d,)`` (default zeros), ``cov`` ``()``, ``(d,)`` or
    ``(d, d)``; the result is squeezed as SciPy's. Differentiable in x, mean and cov to any
    order; ``cov`` is read as ``(cov + cov^T)/2``, so its gradient is symmetric. A singular
    or indefinite ``cov`` raises (LinAlgError from cholesky; ValueError for a negative
    diagonal), as SciPy without ``allow_singular``.

    ``allow_singular=True`` (SciPy's ``_PSD``): eigenvalues ``s <= eps = 1e6 finfo.eps
    max|s|`` (float32 data: ``1e3``) count as zero, ``rank`` is the number above; a ``cov``
    of full rank takes the path above, a singular one ``logpdf = -(rank log(2 pi) +
    log pdet(cov) + z^T cov^+ z)/2``, ``z = x - mean``, with ``cov^+`` gpuad.numpy.linalg's
    pinv (cutoff ``eps``), ``P = cov cov^+`` the projector on cov's range and ``log pdet(cov)
    = log det(cov + I - P)`` (the eigenvalues of ``cov + I - P`` are cov's nonzero ones and
    1s). A point off the support (``||V^T z|| >= 1e3 eps``, V the null eigenvectors:
    SciPy's test) gets ``-inf`` (pdf 0) as a constant, derivative 0. On the support the
    derivatives are those at constant rank (pinv's, Golub & Pereyra 1973): exact along every
    perturbation that keeps the rank (``cov = B B^T`` with B of fixed rank); repeated
    eigenvalues need no eigenvectors and give no NaN. The rank is read from the values (one
    host eigh); an eigenvalue within rounding of ``eps`` (so pinv's rank could differ)
    raises ValueError.

    ``cdf`` is ``P(lower_limit < X <= x)`` (see its docstring: Genz's randomized lattice
    rule, the derivatives those of the returned estimate); ``logcdf`` its log.

    Example::

        >>> mvn = gpuad.scipy.stats.multivariate_normal
        >>> mvn.logpdf(np.array([0.0, 0.0]), cov=np.eye(2))        # -log(2 pi)
        np.float64(-1.8378770664093453)
        >>> c = np.ones((2, 2))   # rank 1, pdet 2, z^T c^+ z = 1: -(log(2 pi) + log 2 + 1)/2
        >>> mvn.logpdf(np.array([1.0, 1.0]), cov=c, allow_singular=True)
        np.float64(-1.7655121234846454)
        >>> mvn.logpdf(np.array([1.0, -1.0]), cov=c, allow_singular=True)  # off the support
        np.float64(-inf)
    """
    _name = "multivariate_normal"

    def __call__(self, mean=None, cov=1, allow_singular=False, seed=None, maxpts=None,
                 abseps=1e-5, releps=1e-5):
        return _MultivariateNormalFrozen(self, mean, cov, allow_singular, seed, maxpts,
                                         abseps, releps)

    def _parse(self, x, mean, cov, *more):
        """x as (..., d), mean (or None), cov as given, d, xp and ``more`` (arrays converted
        alongside; None kept)."""
        given = [m for m in more if m is not None]
        ops = [_arr(x), _arr(cov)] + ([] if mean is None else [_arr(mean)])
        ops, xp = _prepare(*ops, *(_arr(m) for m in given))
        x, cov = ops[0], ops[1]
        rest = iter(ops[2 + (mean is not None):])
        mean = ops[2] if mean is not None else None
        more = [None if m is None else next(rest) for m in more]
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
        return x, mean, cov, d, xp, more

    def logpdf(self, x, mean=None, cov=1, allow_singular=False):
        """The log density, as the class says.

        Example::

            >>> gpuad.scipy.stats.multivariate_normal.logpdf(np.array([[0.0], [1.0]]), 0.0, 1.0)
            array([-0.91893853, -1.41893853])
        """
        x, mean, cov, d, xp, _ = self._parse(x, mean, cov)
        lead = tuple(_shape(x))[:-1]
        diff = x if mean is None else _gnp.subtract(x, _gnp.reshape(mean, (d,)))
        flat = _gnp.reshape(diff, (-1, d))
        sc = tuple(_shape(cov))
        if allow_singular or len(sc) == 2:
            # SciPy's rank (its _PSD): a cov cholesky would factor but whose eigenvalues fall
            # below eps raises without allow_singular, as SciPy's
            s, u, eps, rank = _spectrum(cov, d, _value(cov).dtype)
            if rank < d and not allow_singular:
                raise _np.linalg.LinAlgError("When `allow_singular is False`, the input "
                                             "matrix must be symmetric positive definite.")
            if rank < d:
                out = self._logpdf_singular(flat, _full_cov(cov, d, xp), d, xp, s, u, eps,
                                            rank)
                return _squeeze(_gnp.reshape(out, lead))
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

    def _logpdf_singular(self, flat, cov, d, xp, s, u, eps, rank):
        n = _shape(flat)[0]
        inside = _np.linalg.norm(_host(flat) @ u[:, s <= eps], axis=-1) < 1e3 * eps
        dt = _value(cov).dtype
        if rank == 0 or not inside.any():
            return xp.full((n,), -_np.inf, dtype=dt)
        sym = _gnp.multiply(_gnp.add(cov, _gnp.transpose(cov)), 0.5)
        pinv = _gnp.linalg.pinv(sym, rtol=eps / _np.max(_np.abs(s)))
        proj = _gnp.matmul(sym, pinv)
        if abs(float(_host(_gnp.trace(proj))) - rank) > 0.5:
            raise ValueError("multivariate_normal: an eigenvalue of cov lies within rounding "
                             "of the cutoff eps; the rank is ambiguous")
        low = _gnp.linalg.cholesky(_gnp.add(_gnp.subtract(sym, proj),
                                            xp.eye(d, dtype=dt)))
        logpdet = _gnp.multiply(_gnp.sum(_gnp.log(_gnp.diagonal(low))), 2.0)
        maha = _gnp.sum(_gnp.multiply(_gnp.matmul(flat, pinv), flat), axis=-1)
        out = _gnp.multiply(_gnp.add(_gnp.add(maha, logpdet), rank * _LOG_2PI), -0.5)
        if not inside.all():
            out = _gnp.where(xp.asarray(~inside), _const(xp, -_np.inf, out), out)
        return out

    def pdf(self, x, mean=None, cov=1, allow_singular=False):
        """The density ``exp(logpdf)``, as the class says."""
        return _scalar(_gnp.exp(self.logpdf(x, mean, cov, allow_singular)))

    def _cdf(self, x, mean, cov, allow_singular, maxpts, abseps, releps, lower_limit, rng):
        """The signed probability (flat, n points), the leading shape, xp and the
        differentiable inputs (for logcdf's convention)."""
        x, mean, cov, d, xp, (low,) = self._parse(x, mean, cov, lower_limit)
        sx = tuple(_shape(x))
        b = x if mean is None else _gnp.subtract(x, _gnp.reshape(mean, (d,)))
        dt = _value(b).dtype
        if low is not None:
            try:
                shape = _np.broadcast_shapes(sx, tuple(_shape(low)))
            except ValueError:
                raise ValueError(f"lower_limit of shape {tuple(_shape(low))} does not "
                                 f"broadcast against x of shape {sx}") from None
            if shape[-1] != d:
                raise ValueError(f"lower_limit's last axis ({shape[-1]}) is not the "
                                 f"dimension {d}")
            a = low if mean is None else _gnp.subtract(low, _gnp.reshape(mean, (d,)))
            a, b = _gnp.broadcast_to(a, shape), _gnp.broadcast_to(b, shape)
        else:
            shape = sx
            a = xp.full(sx, -_np.inf, dtype=dt)
        lead = shape[:-1]
        a, b = _gnp.reshape(a, (-1, d)), _gnp.reshape(b, (-1, d))
        va, vb = _value(a), _value(b)
        swap = vb < va
        sign = None
        if bool(swap.any()):
            a, b = _gnp.where(swap, b, a), _gnp.where(swap, a, b)
            sign = (1 - 2 * (swap.sum(-1) % 2)).astype(dt)
        _, _, _, rank = _spectrum(cov, d, dt)
        if rank < d and not allow_singular:
            raise _np.linalg.LinAlgError("When `allow_singular is False`, the input "
                                         "matrix must be symmetric positive definite.")
        if not maxpts:
            maxpts = 1000000 * d
        cov = _full_cov(cov, d, xp)
        if rank < d:
            p = _genz_singular(cov, a, b, rank, int(maxpts), abseps, releps, rng, xp)
        elif d == 1:
            sd = _gnp.sqrt(_gnp.reshape(cov, (1, 1)))
            p = _interval(a, _inf_sign(_value(a), xp), b, _inf_sign(_value(b), xp), 0.0, sd,
                          xp)[0]
            p = _gnp.reshape(p, (-1,))
        elif d == 2:
            p = _bvn(cov, a, b, xp)
            # Genz's bivariate formula is exact to about 1e-15 absolute: below _BVN_TAIL its
            # relative error could pass releps, so those points take the lattice rule with
            # relative error control (its product of Phi differences keeps tail digits).
            tail = _np.nonzero(_host(p) < _BVN_TAIL)[0]
            if len(tail):
                it = xp.asarray(tail)
                pt = _genz(cov, _gnp.take(a, it, axis=0), _gnp.take(b, it, axis=0),
                           int(maxpts), 0.0, releps, rng, xp)
                p = _gnp.at(p)[it].set(pt)
        else:
            p = _genz(cov, a, b, int(maxpts), abseps, releps, rng, xp)
        if sign is not None:
            p = _gnp.multiply(p, xp.asarray(sign))
        return p, lead, xp, (x, mean, cov, low)

    def cdf(self, x, mean=None, cov=1, allow_singular=False, maxpts=None, abseps=1e-5,
            releps=1e-5, *, lower_limit=None, rng=None):
        r"""``P(lower_limit < X <= x)``, X ~ N(mean, cov), like SciPy's (``lower_limit``
        defaults to ``-inf``; where ``lower_limit > x`` in k coordinates the limits are
        swapped and the sign is ``(-1)^k``, as SciPy's). ``d = 1``: ``norm.cdf``, exact.

        ``d >= 2``: Genz's separation of variables (Genz 1992, J. Comput. Graph. Stat.
        1:141-149; Genz & Bretz 2009, sec. 4.1): with ``cov = L L^T`` (variables ordered by
        Genz's prioritisation, a choice read from the values)
        ``P = E_w[prod_i (Phi(b_i') - Phi(a_i'))]``, ``a_i' = (a_i - sum_{j<i} L_ij y_j) /
        L_ii``, ``y_j = ndtri(Phi(a_j') + w_j (Phi(b_j') - Phi(a_j')))``, ``w`` uniform on
        the ``(d - 1)``-cube, averaged over a Richtmyer lattice ``frac(k sqrt(p_j))`` (p_j
        the primes) through the tent ``|2z - 1|``, with 10 random shifts. Error control as
        SciPy's/Genz's: the number N of lattice points per shift doubles (from
        ``min(maxpts, 1000 d)/10``) until three standard errors of the mean over the shifts
        are ``<= max(abseps, releps |P|)`` or ``10 N`` would pass ``maxpts`` (default
        ``1e6 d``); each point of a batch keeps its own N. ``rng`` (a Generator, RandomState
        or seed) draws the shifts; ``None`` uses a fixed seed, so a call is reproducible
        (SciPy's default draws from the global state).

        ``d = 2``: Genz's bivariate formula (Genz 2004, Statistics and Computing 14:251-260;
        Drezner & Wesolowsky 1990), SciPy's too: absolute error about 1e-15; its derivatives
        to any order from the identities below (a custom JVP rule written with gpuad ops;
        the formula's pieces kink where the standardized limits tie at ``|r| >= 0.925``). Where it is below 1e-10 (a tail, where 1e-15 absolute
        is no longer 1e-5 relative) those points take the lattice rule with ``abseps = 0``
        (relative error control): what follows holds for them.

        So the value is SciPy's estimate up to the integration error. For the chosen points the
        estimate is a smooth function of (x, mean, cov, lower_limit), written with gpuad
        ops (cholesky, ndtr, ndtri), and every derivative returned, to any order, in both
        modes, is the exact derivative of the returned value: an estimate of the true
        derivative with an error of the same order as the value's (the tests check it
        against ``dP/db_i = phi_i(b_i) P(X_-i <= b_-i | X_i = b_i)`` and Plackett's identity
        ``dP/dcov_ij = d^2 P/(db_i db_j)``, and against differences of the estimate). The
        error control looks at the value only: second derivatives, whose integrand is
        rougher, carry a few times the value's error at the N it picks (pass ``abseps=0``
        and a ``maxpts`` to fix N). Each ``Phi(b') - Phi(a')`` is differenced in the tail
        where it has its digits (``Phi(-a') - Phi(-b')`` above the median), and ndtri takes
        the smaller of ``u``, ``1 - u``; a ``u`` that underflowed below the smallest normal
        number is clipped to it (a constant, derivative 0); an infinite limit is a constant
        (derivative 0). Far in a tail, where the estimate is below about ``1e-150``,
        second and higher derivatives overflow (ndtri's ``1/phi(y)`` squared): inf or NaN,
        never a silent 0. A singular ``cov`` raises LinAlgError, as SciPy's; with
        ``allow_singular=True`` (rank r by SciPy's rule) the same rule runs over the r
        pivot variables of a pivoted Cholesky factor, each other variable's limits folded
        into its last pivot's interval (a max/min: continuous, no indicator; Genz & Bretz
        2009, sec. 5.2), a variable of variance 0 a constant factor ``1{a_i < 0 <= b_i}``:
        first derivatives at constant rank; a second derivative through a fold raises
        NotImplementedError (the estimate is kinked where a fold's max/min switches, so
        its second derivative is not an estimate of the cdf's).

        Example::

            >>> mvn = gpuad.scipy.stats.multivariate_normal
            >>> cov = np.array([[1.0, 0.5], [0.5, 1.0]])
            >>> p = mvn.cdf(np.zeros(2), cov=cov)      # 1/4 + arcsin(1/2)/(2 pi) = 1/3
            >>> bool(abs(p - 1 / 3) < 1e-5)
            True
            >>> g = gpuad.grad(lambda x: mvn.cdf(x, cov=cov))(np.zeros(2))
            >>> bool(np.allclose(g, 0.3989422804014327 * 0.5, atol=1e-4))  # phi(0) Phi(0)
            True
        """
        p, lead, xp, _ = self._cdf(x, mean, cov, allow_singular, maxpts, abseps, releps,
                                   lower_limit, rng)
        return _squeeze(_gnp.reshape(p, lead))

    def logcdf(self, x, mean=None, cov=1, allow_singular=False, maxpts=None, abseps=1e-5,
               releps=1e-5, *, lower_limit=None, rng=None):
        r"""``log cdf`` (the arguments and the estimate as ``cdf``'s): the log of the
        estimate, its derivatives ``dP/P``. A negative ``cdf`` (limits swapped in an odd
        number of coordinates) gives a complex log, as SciPy's. Where the estimate is 0
        (``lower_limit = x`` in a coordinate, or underflow far in a tail) the value is
        ``-inf`` and every derivative NaN (README's table), never a silent 0.

        Example::

            >>> mvn = gpuad.scipy.stats.multivariate_normal
            >>> float(mvn.logcdf(np.array([0.0, 0.0, 0.0]), cov=np.eye(3)))  # 3 log(1/2)
            -2.0794415416798357
        """
        p, lead, xp, args = self._cdf(x, mean, cov, allow_singular, maxpts, abseps, releps,
                                      lower_limit, rng)
        vp = _value(p)
        if bool(xp.any(vp < 0)):
            with _np.errstate(divide="ignore", invalid="ignore"):
                out = _gnp.log(_gnp.add(p, 0j))
        else:
            x, mean, cov, low = args
            g = 0.0

            def zero(v):
                # exactly 0 in value, carrying v's derivatives (infinite entries: constants,
                # whose inf - inf would put a NaN into the value)
                vv = _value(v)
                if bool(xp.isinf(vv).any()):
                    v = _gnp.where(xp.isinf(vv), 0.0, v)
                return _gnp.subtract(v, _stop(v))
            for v in (mean, cov):
                if v is not None:
                    g = _gnp.add(g, _gnp.sum(zero(v)))
            for v in (x, low):
                if v is not None:
                    r = zero(v)
                    r = _gnp.sum(_gnp.broadcast_to(r, tuple(lead) + (_shape(r)[-1],)), axis=-1)
                    g = _gnp.add(g, _gnp.reshape(r, (-1,)))
            out = _log_cdf(p, _gnp.subtract(1.0, p), xp.ones(_shape(p), dtype=bool), g)
        return _squeeze(_gnp.reshape(out, lead))


class _MultivariateNormalFrozen(_Frozen):
    """``multivariate_normal(mean, cov, allow_singular, seed, maxpts, abseps, releps)``, as
    SciPy's frozen object: ``pdf``/``logpdf(x)`` and ``cdf``/``logcdf(x, *, lower_limit=None,
    rng=None)`` (``rng`` None: the frozen ``seed``)."""

    def __init__(self, dist, mean=None, cov=1, allow_singular=False, seed=None, maxpts=None,
                 abseps=1e-5, releps=1e-5):
        super().__init__(dist, (mean, cov, allow_singular), {})
        self._seed, self._cdf_args = seed, (maxpts, abseps, releps)

    def cdf(self, x, *, lower_limit=None, rng=None):
        """The distribution's ``cdf`` at ``x`` with the frozen parameters."""
        return self.dist.cdf(x, *self.args, *self._cdf_args, lower_limit=lower_limit,
                             rng=self._seed if rng is None else rng)

    def logcdf(self, x, *, lower_limit=None, rng=None):
        """The distribution's ``logcdf`` at ``x`` with the frozen parameters."""
        return self.dist.logcdf(x, *self.args, *self._cdf_args, lower_limit=lower_limit,
                                rng=self._seed if rng is None else rng)


class _DirichletGen(_Distribution):
    r"""The Dirichlet distribution, like ``scipy.stats.dirichlet``: ``pdf``, ``logpdf`` with
    arguments ``(x, alpha)``.

    ``logpdf = sum_i xlogy(alpha_i - 1, x_i) - log B(alpha)``, ``log B(alpha) = sum_i
    gammaln(alpha_i) - gammaln(sum_i alpha_i)`` computed as a telescoping sum of
    :func:`gpuad.scipy.special.betaln` (exact derivatives also where some alpha_i are tiny). As in SciPy the components are x's FIRST axis (``x`` is ``(K, ...)`` or
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
        # log B(alpha) = sum_k betaln(alpha_(k), alpha_(k+1) + ... + alpha_(K)) over alpha in
        # increasing order (the sum telescopes): betaln keeps psi(alpha_j) - psi(sum alpha)
        # exact where the other entries are tiny, which sum_i gammaln(alpha_i) -
        # gammaln(sum_i alpha_i) cancelled to 0 (alpha = (2, 1e-17): d/dalpha_0 came out 0).
        # Increasing, so that each tail sum holds the largest entry: a mixed second partial
        # -psi'(sum) is then a telescoping sum of psi' at tails no smaller than max alpha
        # (decreasing order met psi'(1e-10) terms and returned 0 for 0.22).
        order = _np.argsort(_np.asarray(va.get() if hasattr(va, "get") else va), kind="stable")
        srt = _gnp.take(alpha, xp.asarray(order))
        rest = _gnp.flip(_gnp.cumsum(_gnp.flip(srt)))[1:]
        lnb = _gnp.sum(_sp.betaln(srt[:-1], rest))
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
