"""gpuad.scipy.integrate: differentiable explicit Runge-Kutta solvers with SciPy's
signatures: :func:`odeint` (``func(y, t, *args)``, output at given times) and
:func:`solve_ivp` (``fun(t, y, *args)``, methods 'RK45', 'RK23' and 'DOP853').

Method. Dormand & Prince's 5(4) pair (Dormand & Prince 1980; Hairer, Norsett & Wanner,
*Solving Ordinary Differential Equations I*, II.5) -- 'RK45', the default -- or
Bogacki & Shampine's 3(2) pair ('RK23') or Dormand & Prince's 8(5,3) pair ('DOP853';
HNW I, II.10, the tableau of Hairer's code), with SciPy's step-size controller (HNW I, II.4):
the error of a step of size h is ``err = rms(h sum_j e_j k_j / (atol + rtol max(|y_n|,
|y_n+1|)))`` (for DOP853, HNW's combination of its 5th- and 3rd-order estimates
``|h| e5^2 / sqrt(N (e5^2 + 0.01 e3^2))``, e5 and e3 the 2-norms of the scaled
estimates over the N components); the step is accepted if ``err < 1`` and the next one is ``h min(10, 0.9
err^(-1/(q+1)))`` (q the embedded order; at most h after a rejection); a rejected one is
retried with ``h max(0.2, 0.9 err^(-1/(q+1)))``. The initial step is HNW's (II.4), as in
SciPy. With the same tolerances and no output times the accepted steps are SciPy's.
``fixed_step=h`` instead splits every interval between output times into
``ceil(|dt| / h)`` equal steps of the 5th-order (3rd-, 8th-order) formula, without error
control.

Output times are hit exactly (the step before one is shortened to land on it) rather than
interpolated, so ``y(t)`` depends on ``t`` through the steps themselves.

Derivatives: discretise, then differentiate. Every transform (grad, vjp, jvp, hvp,
hessian, ...) differentiates the computed discrete solution exactly, with the sequence of
accepted steps held fixed: the controller's error estimate passes through
``stop_gradient``, so in each interval ``[t_i, t_i+1]`` the k-th step is
``h_k = theta_k (t_i+1 - t_i)`` with constant fractions ``theta_k`` (the last step lands
on ``t_i+1``). Gradients reach ``y0``, the output times ``t`` and every traced value
``func`` reads (``args`` or values it closes over). This is the derivative of the fixed-step
solver on the accepted mesh -- central differences of that solver agree with it to
rounding -- and it omits only the terms ``dy/dh dh/dp`` through the controller, which are
of the size of the local error (a solution is insensitive to its step sizes up to the
truncation error). As the tolerances shrink it converges to the derivative of the exact
solution. JAX's ``odeint`` instead integrates the continuous adjoint equation backwards
with its own adaptive steps ("optimise, then discretise"): its gradient approximates the
exact solution's to the tolerance but is not the gradient of the values it returned, so
it disagrees with finite differences of them; here the gradient is that of the function
you evaluate. The tolerances, ``first_step``, ``max_step`` and ``fixed_step`` choose the
mesh only: they must not be traced (TypeError).

Memory: the reverse sweep goes through :func:`gpuad.checkpoint_loop` (one loop per output
interval), so at most ``snapshots`` states of an interval are stored (or as many as
``memory_budget`` bytes hold; default: every state of the interval) plus one step's tape,
never the tapes of all stages of all steps; Revolve's schedule recomputes the rest.

Cost and devices: the adaptive solvers choose the mesh in a first pass on the values
(reading the error norm on the host once per step attempt, as any adaptive solver must);
when a transform is active a second pass over the fixed mesh records the derivatives.
The state lives where ``y0`` lives; numbers given for ``y0`` (a float, a list) become
arrays of the times' device, per-component tolerances are moved to the state's, and
``func`` is always given times of the times' array module.
Failures raise instead of returning a status: a step size below the floating-point
spacing of t (RuntimeError, saying whether the state or ``func`` became inf or NaN), a
non-finite state in a fixed-step solve (FloatingPointError), too many steps in an
interval (odeint's ``mxstep``; RuntimeError).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as _np

from .. import tree as _tree
from ..checkpoint import checkpoint as _checkpoint, checkpoint_loop as _checkpoint_loop
from ..core import Trace as _Trace, Tracer as _Tracer, _ctx, bind as _bind, \
    current as _current, full_lower as _lower
from .. import numpy as _gnp
from ..primitives import base as _base

__all__ = ["odeint", "solve_ivp", "OdeResult"]


def __dir__():          # the functions only, not the modules and names they are written with
    return sorted(__all__)


# ------------------------------------------------------------------ tableaux

class _Tableau(NamedTuple):
    name: str
    q: int            # order of the embedded (error) formula: err ~ h^(q+1)
    C: tuple
    A: tuple          # rows 1..s-1 of the stage matrix
    B: tuple
    E: tuple          # error weights on the s stages and f(y_n+1) (FSAL)
    E3: tuple = ()    # DOP853: the 3rd-order estimate's weights (E is then the 5th's)


# Dormand & Prince (1980), as in SciPy's RK45 (E = b_5 - b_4 on the 7 stages).
_RK45 = _Tableau(
    "RK45", 4, (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0),
    ((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
     (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
     (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656)),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
    (-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40))

# Bogacki & Shampine (1989), as in SciPy's RK23.
_RK23 = _Tableau(
    "RK23", 2, (0.0, 1 / 2, 3 / 4), ((), (1 / 2,), (0.0, 3 / 4)), (2 / 9, 1 / 3, 4 / 9),
    (5 / 72, -1 / 12, -1 / 9, 1 / 8))



def _sparse(n, *entries):
    """A row of ``n`` coefficients from (index, value) pairs (the others zero)."""
    row = [0.0] * n
    for j, v in entries:
        row[j] = v
    return tuple(row)


# Dormand & Prince's 8(5,3) pair, DOP853: the 12-stage tableau as published with Hairer's
# code (Hairer, Norsett & Wanner I, II.10; the numbers of SciPy's dop853_coefficients.py),
# with its 5th- and 3rd-order error estimators (E5 = E here, E3) on the 12 stages and f(y_n+1).
_DOP853_B = _sparse(
    12, (0, 5.42937341165687622380535766363e-2), (5, 4.45031289275240888144113950566),
    (6, 1.89151789931450038304281599044), (7, -5.8012039600105847814672114227),
    (8, 3.1116436695781989440891606237e-1), (9, -1.52160949662516078556178806805e-1),
    (10, 2.01365400804030348374776537501e-1), (11, 4.47106157277725905176885569043e-2))
_DOP853 = _Tableau(
    "DOP853", 7,
    (0.0, 0.526001519587677318785587544488e-01, 0.789002279381515978178381316732e-01,
     0.118350341907227396726757197510, 0.281649658092772603273242802490,
     0.333333333333333333333333333333, 0.25, 0.307692307692307692307692307692,
     0.651282051282051282051282051282, 0.6, 0.857142857142857142857142857142, 1.0),
    ((),
     (5.26001519587677318785587544488e-2,),
     (1.97250569845378994544595329183e-2, 5.91751709536136983633785987549e-2),
     (2.95875854768068491816892993775e-2, 0.0, 8.87627564304205475450678981324e-2),
     (2.41365134159266685502369798665e-1, 0.0, -8.84549479328286085344864962717e-1,
      9.24834003261792003115737966543e-1),
     _sparse(5, (0, 3.7037037037037037037037037037e-2), (3, 1.70828608729473871279604482173e-1),
             (4, 1.25467687566822425016691814123e-1)),
     _sparse(6, (0, 3.7109375e-2), (3, 1.70252211019544039314978060272e-1),
             (4, 6.02165389804559606850219397283e-2), (5, -1.7578125e-2)),
     _sparse(7, (0, 3.70920001185047927108779319836e-2), (3, 1.70383925712239993810214054705e-1),
             (4, 1.07262030446373284651809199168e-1), (5, -1.53194377486244017527936158236e-2),
             (6, 8.27378916381402288758473766002e-3)),
     _sparse(8, (0, 6.24110958716075717114429577812e-1), (3, -3.36089262944694129406857109825),
             (4, -8.68219346841726006818189891453e-1), (5, 2.75920996994467083049415600797e1),
             (6, 2.01540675504778934086186788979e1), (7, -4.34898841810699588477366255144e1)),
     _sparse(9, (0, 4.77662536438264365890433908527e-1), (3, -2.48811461997166764192642586468),
             (4, -5.90290826836842996371446475743e-1), (5, 2.12300514481811942347288949897e1),
             (6, 1.52792336328824235832596922938e1), (7, -3.32882109689848629194453265587e1),
             (8, -2.03312017085086261358222928593e-2)),
     _sparse(10, (0, -9.3714243008598732571704021658e-1), (3, 5.18637242884406370830023853209),
             (4, 1.09143734899672957818500254654), (5, -8.14978701074692612513997267357),
             (6, -1.85200656599969598641566180701e1), (7, 2.27394870993505042818970056734e1),
             (8, 2.49360555267965238987089396762), (9, -3.0467644718982195003823669022)),
     _sparse(11, (0, 2.27331014751653820792359768449), (3, -1.05344954667372501984066689879e1),
             (4, -2.00087205822486249909675718444), (5, -1.79589318631187989172765950534e1),
             (6, 2.79488845294199600508499808837e1), (7, -2.85899827713502369474065508674),
             (8, -8.87285693353062954433549289258), (9, 1.23605671757943030647266201528e1),
             (10, 6.43392746015763530355970484046e-1))),
    _DOP853_B,
    _sparse(13, (0, 0.1312004499419488073250102996e-1), (5, -0.1225156446376204440720569753e+1),
            (6, -0.4957589496572501915214079952), (7, 0.1664377182454986536961530415e+1),
            (8, -0.3503288487499736816886487290), (9, 0.3341791187130174790297318841),
            (10, 0.8192320648511571246570742613e-1),
            (11, -0.2235530786388629525884427845e-1)),
    # E3 = b - bhat, bhat the 3rd-order weights (nonzero at stages 0, 8 and 11)
    tuple(b - {0: 0.244094488188976377952755905512, 8: 0.733846688281611857341361741547,
               11: 0.220588235294117647058823529412e-1}.get(j, 0.0)
          for j, b in enumerate(_DOP853_B + (0.0,))))

_METHODS = {"RK45": _RK45, "RK23": _RK23, "DOP853": _DOP853}
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0


# ------------------------------------------------------------------ the values pass

class _Values(_Trace):
    """Runs a function on the values under every trace, closed-over traced values
    included, recording nothing: the controller's pass (its choices are constants)."""

    def process(self, prim, args, params):
        args = [_lower(a) for a in args]
        old, _ctx.current = _ctx.current, None
        try:
            return _bind(prim, *args, **params)
        finally:
            _ctx.current = old


def _host(x):
    return _np.asarray(x.get() if hasattr(x, "get") else x)


def _scalar(x):
    return float(_host(_lower(x)))


def _constant(x, name, what):
    if any(isinstance(v, _Tracer) for v in _tree.flatten(x)[0]):
        raise TypeError(f"{what}: {name} is traced, but it only chooses the steps, which are "
                        f"constants of the computation (see gpuad.scipy.integrate): pass "
                        f"its value (gpuad.stop_gradient) if that is what you mean")
    return x


# ------------------------------------------------------------------ one step

def _combo(ys, K, coefs, h):
    """y + h sum_j coefs_j K_j, leaf by leaf (zero coefficients skipped)."""
    out = []
    for i, y in enumerate(ys):
        acc = None
        for c, k in zip(coefs, K):
            if c:
                term = _gnp.multiply(k[i], c)
                acc = term if acc is None else _gnp.add(acc, term)
        out.append(y if acc is None else _gnp.add(y, _gnp.multiply(acc, h)))
    return out


def _rk_step(fl, ys, t, h, tab, k1=None):
    """One explicit Runge-Kutta step: (y_n+1, stages)."""
    K = [fl(ys, t) if k1 is None else k1]
    for c, a in zip(tab.C[1:], tab.A[1:]):
        K.append(fl(_combo(ys, K, a, h), _gnp.add(t, _gnp.multiply(c, h))))
    return _combo(ys, K, tab.B, h), K


class _Problem:
    """The right-hand side as a function of the state's leaves: ``fl(leaves, t)``."""

    def __init__(self, func, td, shapes, dtype, args, tfirst, what, name):
        self.func, self.td, self.shapes, self.dtype = func, td, shapes, dtype
        self.args, self.tfirst, self.what, self.name = args, tfirst, what, name
        self.nfev = 0

    def __call__(self, leaves, t):
        self.nfev += 1
        y = _tree.unflatten(self.td, leaves)
        out = self.func(t, y, *self.args) if self.tfirst else self.func(y, t, *self.args)
        xp = _base.xp_of(*leaves) if leaves else _np     # plain numbers: where y lives
        if self.td == _tree.LEAF and isinstance(out, (list, tuple)):
            out = _gnp.stack([_gnp.asarray(o) for o in out]) if out else xp.zeros(0)
        res, otd = _tree.flatten(out)
        if otd != self.td:
            raise ValueError(f"{self.what}: {self.name} returned a value structured as {otd}, "
                             f"but the state is {self.td}")
        fixed = []
        for r, s in zip(res, self.shapes):
            if not hasattr(r, "shape"):
                r = xp.asarray(r, dtype=self.dtype)
            if tuple(r.shape) != s:
                if int(_np.prod(r.shape)) == int(_np.prod(s)):   # SciPy flattens too
                    r = _gnp.reshape(r, s)
                else:
                    raise ValueError(f"{self.what}: {self.name} returned shape "
                                     f"{tuple(r.shape)} for a state of shape {s}")
            if r.dtype != self.dtype:
                r = _gnp.astype(r, self.dtype)
            fixed.append(r)
        return fixed


# ------------------------------------------------------------------ the controller's pass

def _rms_parts(xp, leaves):
    sq = sum(float(_host(xp.sum(v * v))) for v in leaves)
    n = sum(int(v.size) for v in leaves)
    return math.sqrt(sq / max(n, 1))


def _initial_step(fl, ys, f0, t0, t_dtype, span, direction, tab, rtol, atol, max_step, xp,
                  txp):
    # Hairer, Norsett & Wanner I, II.4 (SciPy's select_initial_step).
    if sum(int(v.size) for v in ys) == 0:
        return _np.inf
    length = abs(span)
    if length == 0.0:
        return 0.0
    scale = [atol + xp.abs(y) * rtol for y in ys]
    d0 = _rms_parts(xp, [y / s for y, s in zip(ys, scale)])
    d1 = _rms_parts(xp, [f / s for f, s in zip(f0, scale)])
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, length)
    y1 = [y + (h0 * direction) * f for y, f in zip(ys, f0)]
    f1 = fl(y1, txp.asarray(t0 + h0 * direction, dtype=t_dtype))
    d2 = _rms_parts(xp, [(a - b) / s for a, b, s in zip(f1, f0, scale)]) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1 / (tab.q + 1))
    return min(100 * h0, h1, length, max_step)


def _error_norm(xp, tab, K, h, scale):
    """The controller's error of a step (SciPy's ``_estimate_error_norm``):
    ``rms(h sum_j E_j k_j / scale)``; for DOP853 (HNW I, II.10, Hairer's dop853)
    ``|h| e5^2 / sqrt(N (e5^2 + 0.01 e3^2))`` with ``e5``, ``e3`` the 2-norms of the scaled
    5th- and 3rd-order estimates over the N components."""
    def scaled(E):
        # sum_j E_j k_j as SciPy computes it, np.dot(K.T, E): the estimate is a difference
        # of terms ~|y| cancelling to ~rtol |y|, so its rounding depends on the summation
        # order, and the BLAS kernel's order depends on the CPU (a Python left-to-right sum
        # gave DOP853 steps 1e-7 apart from SciPy's on an AVX-512 machine, 2e-9 elsewhere;
        # in BLAS's order 3e-10). Values only: the controller reads plain arrays.
        w = xp.asarray(E, dtype=scale[0].dtype)
        s = min(len(E), len(K))
        return [xp.dot(xp.stack([k[j] for k in K[:s]]).reshape(s, -1).T, w[:s])
                .reshape(scale[j].shape) / scale[j] for j in range(len(scale))]
    if not tab.E3:
        return _rms_parts(xp, [e * h for e in scaled(tab.E)])
    n = sum(int(v.size) for v in scale)
    e5, e3 = (_rms_parts(xp, scaled(E)) ** 2 * n for E in (tab.E, tab.E3))
    if e5 == 0 and e3 == 0:
        return 0.0
    return abs(h) * e5 / math.sqrt((e5 + 0.01 * e3) * n)


def _finite(xp, leaves):
    return all(bool(_host(xp.isfinite(v).all())) for v in leaves)


class _Mesh(NamedTuple):
    plans: list          # per interval: step fractions theta (None: the step landing on t_i+1)
    outs: list           # the state's leaves at each output time (the values pass)
    times: list          # solve_ivp without t_eval: the accepted step times (values)
    nfev: int
    nsteps: int
    nfe: list            # per interval: evaluations of func so far
    hu: list             # per interval: the last step size used


def _adaptive_mesh(fl, ys, T, tab, rtol, atol, first_step, max_step, mxstep, every_step,
                   what):
    """The controller's pass on the values: the accepted steps of every interval."""
    xp = _base.xp_of(*ys) if ys else _np
    # SciPy's per-component tolerances (host arrays, _tol) where the state lives
    rtol, atol = (xp.asarray(v) if isinstance(v, _np.ndarray) else v for v in (rtol, atol))
    T = [_lower(x) for x in T]
    plans, outs, times = [], [list(ys)], []
    f0, t_f0 = None, None
    h_abs, nsteps, h_last, nfe, hu = None, 0, 0.0, [], []
    with _Values():
        for i in range(len(T) - 1):
            Ta, Tb = T[i], T[i + 1]
            span = _gnp.subtract(Tb, Ta)
            sv = _scalar(span)
            thetas = []
            plans.append(thetas)
            if sv == 0.0:
                outs.append(list(ys))
                nfe.append(fl.nfev)
                hu.append(h_last)
                continue
            direction = 1.0 if sv > 0 else -1.0
            tc, tcv = Ta, _scalar(Ta)
            if f0 is None or t_f0 != tcv:
                f0 = fl(ys, tc)
                if not _finite(xp, ys) or not _finite(xp, f0):
                    raise ValueError(f"{what}: the state or its derivative is not finite "
                                     f"(inf or NaN) at t={tcv!r}")
            if h_abs is None:
                h_abs = (_initial_step(fl, ys, f0, tcv, Ta.dtype, sv, direction, tab, rtol,
                                       atol, max_step, xp, _base.xp_of(Ta))
                         if first_step is None
                         else float(first_step))
            tbv, n_int, nonfinite = _scalar(Tb), 0, False
            while True:
                min_step = 10 * abs(_np.nextafter(tcv, direction * _np.inf) - tcv)
                h_abs = max_step if h_abs > max_step else max(h_abs, min_step)
                rejected, accepted = False, False
                while not accepted:
                    if h_abs < min_step:
                        raise RuntimeError(
                            f"{what}: step size underflow at t={tcv!r}: the step the error "
                            f"control requires ({h_abs:.3g}) is below the floating-point "
                            f"spacing of t" + (", after the state or the derivative became "
                                               "non-finite (inf or NaN)" if nonfinite else
                                               " (a stiff or singular problem?)"))
                    last = direction * (tcv + direction * h_abs - tbv) >= 0
                    if last:
                        theta, h = None, _gnp.subtract(Tb, tc)
                    else:
                        theta = h_abs / abs(sv)
                        h = _gnp.multiply(theta, span)
                    hv = _scalar(h)
                    h_prop, h_abs = h_abs, abs(hv)
                    y_new, K = _rk_step(fl, ys, tc, h, tab, k1=f0)
                    t_new = _gnp.add(tc, h)
                    f_new = fl(y_new, t_new)
                    K.append(f_new)
                    scale = [atol + xp.maximum(xp.abs(a), xp.abs(b)) * rtol
                             for a, b in zip(ys, y_new)]
                    err = _error_norm(xp, tab, K, hv, scale)
                    if err < 1:
                        factor = (_MAX_FACTOR if err == 0 else
                                  min(_MAX_FACTOR, _SAFETY * err ** (-1 / (tab.q + 1))))
                        if rejected:
                            factor = min(1.0, factor)
                        h_abs *= factor
                        if last and factor >= 1:
                            # the step was shortened to land on an output time: keep the
                            # earlier proposal if it is the larger
                            h_abs = max(h_abs, h_prop)
                        accepted = True
                    else:
                        nonfinite = nonfinite or not math.isfinite(err)
                        fac = _SAFETY * err ** (-1 / (tab.q + 1)) if math.isfinite(err) else 0
                        h_abs *= max(_MIN_FACTOR, fac)
                        rejected = True
                thetas.append(theta)
                ys, f0, tc = y_new, f_new, t_new
                tcv, t_f0 = _scalar(t_new), _scalar(t_new)
                h_last = abs(hv)
                n_int += 1
                nsteps += 1
                if every_step:
                    outs.append(list(ys))
                    times.append(tc)
                if last:
                    break
                if mxstep is not None and n_int >= mxstep:
                    raise RuntimeError(f"{what}: more than mxstep={mxstep} steps in the "
                                       f"interval [{_scalar(Ta)!r}, {tbv!r}] (raise mxstep, "
                                       f"or loosen rtol/atol)")
            if not every_step:
                outs.append(list(ys))
            nfe.append(fl.nfev)
            hu.append(h_last)
    return _Mesh(plans, outs, times, fl.nfev, nsteps, nfe, hu)


def _fixed_plans(T, fixed_step):
    plans = []
    for i in range(len(T) - 1):
        span = abs(_scalar(T[i + 1]) - _scalar(T[i]))
        n = 0 if span == 0.0 else max(1, math.ceil(span / fixed_step * (1 - 1e-12)))
        plans.append([1.0 / n] * (n - 1) + [None] if n else [])
    return plans


# ------------------------------------------------------------------ the differentiable pass

def _replay(fl, ys, T, plans, tab, snapshots, memory_budget, every_step):
    """The solution on the fixed mesh ``plans``, recorded by the transforms in progress:
    (states at the output times, step times if ``every_step``)."""
    outs, times = [list(ys)], []
    for i, thetas in enumerate(plans):
        if not thetas:
            outs.append(list(ys))
            continue
        Ta, Tb = T[i], T[i + 1]
        span = _gnp.subtract(Tb, Ta)
        n = len(ys)

        def advance(leaves, tc, theta, Tb=Tb, span=span):
            h = _gnp.subtract(Tb, tc) if theta is None else _gnp.multiply(theta, span)
            return _rk_step(fl, leaves, tc, h, tab)[0], _gnp.add(tc, h)

        if every_step:
            tc = Ta
            for theta in thetas:
                step = _checkpoint(lambda leaves, tc, theta=theta: advance(leaves, tc, theta))
                ys, tc = step(ys, tc)
                outs.append(list(ys))
                times.append(tc)
            continue

        def step(state, thetas=thetas, advance=advance):
            k = int(_host(_lower(state[n + 1])))
            new, tc = advance(state[:n], state[n], thetas[k])
            return [*new, tc, _gnp.add(state[n + 1], 1.0)]

        state = [*ys, Ta, _np.zeros((), _np.float64)]
        state = _checkpoint_loop(step, state, len(thetas), snapshots=snapshots,
                                 memory_budget=memory_budget)
        ys = list(state[:n])
        outs.append(ys)
    return outs, times


# ------------------------------------------------------------------ shared driver

def _state(y0, t_dtype, what, xp):
    """y0's leaves as floating arrays (a SciPy-style list of numbers is one array); numbers
    become arrays of ``xp``, the times' array module."""
    if isinstance(y0, (list, tuple)) and all(isinstance(v, (int, float, _np.number))
                                              for v in _tree.flatten(y0)[0]):
        y0 = xp.asarray(y0, dtype=_np.float64)
    leaves, td = _tree.flatten(y0)
    out = []
    for v in leaves:
        if not hasattr(v, "shape"):
            v = xp.asarray(v)
        if _np.dtype(v.dtype).kind == "c":
            raise TypeError(f"{what}: complex states are not supported")
        out.append(v)
    dtype = _np.result_type(*[_lower(v).dtype for v in out], t_dtype, _np.float32) \
        if out else _np.dtype(t_dtype)
    if dtype.kind != "f":
        dtype = _np.dtype(_np.float64)
    out = [v if v.dtype == dtype else _gnp.astype(v, dtype) for v in out]
    return out, td, dtype


def _times(t, what):
    if isinstance(t, (list, tuple)):
        if any(isinstance(v, _Tracer) for v in t):
            t = _gnp.stack([_gnp.asarray(v) for v in t])
        else:
            xp = _base.xp_of(*t)     # CuPy if one is a CuPy array (numpy.asarray refuses it)
            t = _np.asarray(t) if xp is _np else xp.stack([xp.asarray(v) for v in t])
    elif not hasattr(t, "shape"):
        t = _np.asarray(t, dtype=_np.float64)
    if _np.dtype(_lower(t).dtype).kind != "f":
        t = _gnp.astype(t, _np.float64)
    if len(t.shape) != 1:
        raise ValueError(f"{what}: the output times must be a 1-d sequence, got shape "
                         f"{tuple(t.shape)}")
    if not bool(_np.isfinite(_host(_lower(t))).all()):
        raise ValueError(f"{what}: the output times must be finite")
    return t


def _solve(prob, ys, T, tab, rtol, atol, first_step, max_step, mxstep, fixed_step,
           snapshots, memory_budget, every_step):
    """(states at T, step times if every_step, the mesh pass's record)."""
    if fixed_step is not None:
        fixed_step = float(fixed_step)
        if not fixed_step > 0 or not math.isfinite(fixed_step):
            raise ValueError(f"{prob.what}: fixed_step must be a positive number, got "
                             f"{fixed_step!r}")
        plans = _fixed_plans(T, fixed_step)
        outs, times = _replay(prob, ys, T, plans, tab, snapshots, memory_budget, every_step)
        xp = _base.xp_of(*[_lower(v) for v in ys]) if ys else _np
        if not all(_finite(xp, [_lower(v) for v in o]) for o in outs):
            raise FloatingPointError(f"{prob.what}: the state became non-finite (inf or NaN) "
                                     f"with fixed_step={fixed_step!r}: take smaller steps")
        nfe = list(len(tab.C) * _np.cumsum([len(p) for p in plans]))
        hu = [abs(_scalar(T[i + 1]) - _scalar(T[i])) / len(p) if p else 0.0
              for i, p in enumerate(plans)]
        mesh = _Mesh(plans, outs, times, nfe[-1] if nfe else 0, sum(map(len, plans)), nfe,
                     hu)
        return outs, times, mesh
    mesh = _adaptive_mesh(prob, [_lower(v) for v in ys], T, tab, rtol, atol, first_step,
                          max_step, mxstep, every_step, prob.what)
    if _current() is None:
        return mesh.outs, mesh.times, mesh
    nfev = prob.nfev
    outs, times = _replay(prob, ys, T, mesh.plans, tab, snapshots, memory_budget, every_step)
    prob.nfev = nfev
    return outs, times, mesh


def _tol(x, name, what):
    _constant(x, name, what)
    v = _np.asarray(_host(x) if hasattr(x, "get") else x, dtype=_np.float64)
    if (v < 0).any():
        raise ValueError(f"{what}: {name} must be non-negative, got {x!r}")
    return float(v) if v.ndim == 0 else v


# ------------------------------------------------------------------ odeint

def odeint(func, y0, t, *args, rtol=None, atol=None, h0=0.0, hmax=0.0, mxstep=0,
           tfirst=False, full_output=False, method="RK45", fixed_step=None,
           snapshots=None, memory_budget=None, **scipy_options):
    """Integrate ``dy/dt = func(y, t, *args)`` from ``y(t[0]) = y0`` and return ``y`` at the
    times ``t``, like ``scipy.integrate.odeint`` (and ``jax.experimental.ode.odeint``):
    shape ``(len(t),) + y0.shape``, the first row ``y0``.

    Explicit Runge-Kutta: Dormand-Prince 5(4) with error control (``method='RK45'``, or
    'RK23', 'DOP853'), every output time hit exactly; ``fixed_step=h`` for equal steps of at most h
    without error control. Defaults as SciPy's: ``rtol = atol = 1.49012e-8``; ``h0`` the
    first step (0: chosen as in HNW II.4), ``hmax`` the largest (0: none), ``mxstep`` the
    most steps per output interval (0: 100 000). SciPy's ``args=(...)`` keyword works as
    well as JAX's trailing positional ``*args``; ``tfirst=True`` calls ``func(t, y, ...)``.
    ``y0`` may be an array, a list of numbers (one array, as SciPy) or a pytree of arrays
    (as JAX; ``func`` returns the same structure, each output leaf gets the leading time
    axis). Computed in the common floating dtype of ``y0`` and ``t``.

    Derivatives of every order and mode with respect to ``y0``, ``t`` and every traced
    value ``func`` reads, of the discrete solution with the accepted steps held fixed (see
    the module's docstring for this convention and how it differs from JAX's adjoint).
    The reverse sweep runs through :func:`gpuad.checkpoint_loop`: ``snapshots`` (or
    ``memory_budget`` bytes) bounds the states stored per output interval.

    ``full_output=True`` returns ``(y, info)`` with, as SciPy's, one entry per output time
    after the first: ``info['nst']`` (accepted steps so far), ``info['nfe']`` (evaluations
    of ``func`` so far, in the pass that chooses the steps), ``info['hu']`` (the last step
    size) and ``info['tcur']`` (the time reached). SciPy's LSODA-only options (``Dfun``,
    ``col_deriv``, ``ml``, ``mu``, ``tcrit``, ``hmin``, ``ixpr``, ``mxhnil``, ``mxordn``,
    ``mxords``, ``printmessg``) are accepted and ignored; a user-supplied Jacobian is not
    needed by an explicit method.

    Example (exponential decay, y = exp(-2 t); its derivative in the rate)::

        >>> ts = np.array([0.0, 0.5, 1.0])
        >>> np.round(gsi.odeint(lambda y, t, k: -k * y, np.array([1.0]), ts, 2.0)[:, 0], 7)
        array([1.       , 0.3678794, 0.1353353])
        >>> dk = gpuad.grad(lambda k: gsi.odeint(lambda y, t, k: -k * y, 1.0, ts, k)[-1])
        >>> round(float(dk(2.0)), 6)       # d/dk exp(-k) = -exp(-k) at k = 2
        -0.135335
    """
    what = "odeint"
    ignored = {"Dfun", "col_deriv", "ml", "mu", "tcrit", "hmin", "ixpr", "mxhnil", "mxordn",
               "mxords", "printmessg"}
    if "args" in scipy_options:
        if args:
            raise TypeError("odeint: pass args either positionally or as args=, not both")
        args = tuple(scipy_options.pop("args"))
    unknown = set(scipy_options) - ignored
    if unknown:
        raise TypeError(f"odeint() got unexpected keyword argument(s) {sorted(unknown)}")
    tab = _method(method, what)
    rtol = _tol(1.49012e-8 if rtol is None else rtol, "rtol", what)
    atol = _tol(1.49012e-8 if atol is None else atol, "atol", what)
    for v, name in ((h0, "h0"), (hmax, "hmax"), (fixed_step, "fixed_step")):
        _constant(v, name, what)
    t = _times(t, what)
    tv = _host(_lower(t))
    if tv.size == 0:
        raise ValueError("odeint: t must contain at least one time")
    d = _np.diff(tv)
    if not ((d >= 0).all() or (d <= 0).all()):
        raise ValueError("odeint: the output times t must be monotonic")
    ys, td, dtype = _state(y0, _lower(t).dtype, what, _base.xp_of(t))
    name = getattr(func, "__name__", "func")
    prob = _Problem(func, td, [tuple(v.shape) for v in ys], dtype, args, tfirst, what,
                    f"func ({name})")
    T = [t[i] for i in range(tv.size)]
    first = None if not h0 else abs(float(h0))
    max_step = _np.inf if not hmax else abs(float(hmax))
    outs, _, mesh = _solve(prob, ys, T, tab, rtol, atol, first, max_step,
                           100_000 if not mxstep else int(mxstep), fixed_step, snapshots,
                           memory_budget, False)
    res = _tree.unflatten(td, [_gnp.stack([o[j] for o in outs]) for j in range(len(ys))])
    if full_output:
        nst = _np.cumsum([len(p) for p in mesh.plans], dtype=_np.int64)
        return res, {"nfe": _np.asarray(mesh.nfe, _np.int64), "nst": nst,
                     "hu": _np.asarray(mesh.hu), "tcur": tv[1:].astype(_np.float64),
                     "message": "Integration successful."}
    return res


def _method(method, what):
    if isinstance(method, str) and method in _METHODS:
        return _METHODS[method]
    raise NotImplementedError(
        f"{what}: method={method!r} is not available: gpuad implements the explicit "
        f"Runge-Kutta pairs {sorted(_METHODS)} (for stiff problems, whose implicit methods "
        f"SciPy's Radau/BDF/LSODA use, there is no differentiable solver here yet)")


# ------------------------------------------------------------------ solve_ivp

class OdeResult(dict):
    """The result of :func:`solve_ivp`, as SciPy's: a dict whose keys are also
    attributes: ``t`` (n_points,), ``y`` (n, n_points), ``sol`` (None), ``t_events``,
    ``y_events`` (None), ``nfev``, ``njev``, ``nlu``, ``status`` (0), ``message``,
    ``success`` (True)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        return "\n".join(f"{k:>9}: {v!r}" for k, v in self.items())


def solve_ivp(fun, t_span, y0, method="RK45", t_eval=None, dense_output=False, events=None,
              vectorized=False, args=None, *, rtol=1e-3, atol=1e-6, first_step=None,
              max_step=_np.inf, fixed_step=None, snapshots=None, memory_budget=None):
    """Solve ``dy/dt = fun(t, y, *args)``, ``y(t0) = y0`` over ``t_span = (t0, t1)``, like
    ``scipy.integrate.solve_ivp`` with an explicit Runge-Kutta pair: 'RK45' (Dormand-Prince
    5(4), the default), 'RK23' (Bogacki-Shampine 3(2)) or 'DOP853' (Dormand-Prince 8(5,3)),
    SciPy's controller and defaults
    (``rtol=1e-3``, ``atol=1e-6``, ``first_step``, ``max_step``). ``fixed_step=h``: equal
    steps of at most h without error control.

    Without ``t_eval`` the result holds every accepted step: with the same tolerances they
    are SciPy's steps, so ``.t`` and ``.y`` agree with SciPy's to rounding. With ``t_eval``
    the solver steps onto each of those times (SciPy interpolates instead), so values agree
    with SciPy's within the tolerances. ``y0`` is 1-d (n,); ``.y`` is (n, n_points).

    Derivatives of every order and mode with respect to ``y0``, ``t_span``, ``t_eval`` and
    every traced value ``fun`` reads, of the discrete solution with the accepted steps held
    fixed (see the module's docstring). Reverse mode recomputes each interval's steps with
    :func:`gpuad.checkpoint_loop` (``snapshots`` or ``memory_budget`` per interval between
    ``t_eval`` points; without ``t_eval`` every step is an output, and each is a
    :func:`gpuad.checkpoint` segment storing only its input).

    Not available (NotImplementedError): ``dense_output``, ``events`` and the implicit
    methods. ``vectorized`` is accepted and ignored. Failures raise (see the module)
    instead of returning ``status = -1``.

    Example (harmonic oscillator y'' = -y, y(0) = 1: y(pi/2) = 0, y'(pi/2) = -1)::

        >>> sol = gsi.solve_ivp(lambda t, y: gnp.stack([y[1], -y[0]]), (0.0, np.pi / 2),
        ...                     np.array([1.0, 0.0]), rtol=1e-10, atol=1e-12)
        >>> np.round(sol.y[:, -1], 8) + 0.0
        array([ 0., -1.])
        >>> sol.status, sol.t.shape == sol.y.shape[1:]
        (0, True)
    """
    what = "solve_ivp"
    tab = _method(method, what)
    if dense_output:
        raise NotImplementedError("solve_ivp: dense_output is not available; pass t_eval "
                                  "(the solver steps onto each time)")
    if events is not None:
        raise NotImplementedError("solve_ivp: events are not available")
    rtol, atol = _tol(rtol, "rtol", what), _tol(atol, "atol", what)
    for v, name in ((first_step, "first_step"), (max_step, "max_step"),
                    (fixed_step, "fixed_step")):
        _constant(v, name, what)
    if first_step is not None and not 0 < float(first_step):
        raise ValueError("solve_ivp: first_step must be positive")
    if not float(max_step) > 0:
        raise ValueError("solve_ivp: max_step must be positive")
    if len(t_span) != 2:
        raise ValueError("solve_ivp: t_span must be (t0, t1)")
    span = _times(list(t_span), what)
    t0v, t1v = (float(v) for v in _host(_lower(span)))
    ys, td, dtype = _state(y0, _lower(span).dtype, what, _base.xp_of(span))
    if td != _tree.LEAF or len(ys[0].shape) > 1:
        raise ValueError("solve_ivp: y0 must be 1-dimensional (an array of shape (n,))")
    if len(ys[0].shape) == 0:
        ys = [_gnp.reshape(ys[0], (1,))]
    if args is not None:
        args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    name = getattr(fun, "__name__", "fun")
    prob = _Problem(fun, td, [tuple(ys[0].shape)], dtype, args or (), True, what,
                    f"fun ({name})")
    every = t_eval is None
    if every:
        T = [span[0], span[1]]
    else:
        te = _times(t_eval, what)
        tev = _host(_lower(te))
        lo, hi = min(t0v, t1v), max(t0v, t1v)
        if (tev < lo).any() or (tev > hi).any():
            raise ValueError("solve_ivp: values in t_eval are not within t_span")
        d = _np.diff(tev)
        if (t1v >= t0v and (d < 0).any()) or (t1v < t0v and (d > 0).any()):
            raise ValueError("solve_ivp: values in t_eval are not properly sorted")
        T = [span[0]] + [te[i] for i in range(tev.size)]
    outs, times, mesh = _solve(prob, ys, T, tab, rtol, atol,
                               None if first_step is None else float(first_step),
                               float(max_step), None, fixed_step, snapshots, memory_budget,
                               every)
    if every:
        tt = _gnp.stack([_gnp.asarray(span[0])] + [_gnp.asarray(v) for v in times])
        states = outs
    else:
        tt = te
        states = outs[1:]
    y = _gnp.stack([o[0] for o in states], axis=1) if states else \
        _base.xp_of(ys[0]).zeros((ys[0].shape[0], 0), dtype)
    return OdeResult(t=tt, y=y, sol=None, t_events=None, y_events=None, nfev=mesh.nfev,
                     njev=0, nlu=0, status=0,
                     message="The solver successfully reached the end of the integration "
                             "interval.", success=True)
