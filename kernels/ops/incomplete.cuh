// The regularized incomplete gamma functions P(a, x), Q(a, x) = 1 - P(a, x) and the
// regularized incomplete beta function I_x(a, b), with their derivatives in every argument.
//
// Every evaluation runs in double (a float argument is widened, the result rounded), also on
// dual numbers: W below is the argument's type with double as its innermost scalar.
// Derivatives in x are the densities (closed forms). Derivatives in the shape parameters have
// no closed form: they are the series and continued fractions below evaluated on a dual number
// seeded in that parameter, i.e. differentiated term by term (the method of Boik & Robison-Cox
// 1998, "Derivatives of the incomplete beta function", J. Stat. Software 3(1), who
// differentiate the continued fraction's recurrences; for the gamma series, term n of
// dP/da is term_n (log x - psi(a + n + 1)) up to the prefactor's derivative). The loops stop
// when every component of the dual (value and each derivative) has converged, so a
// derivative is as accurate as a value.
//
// Sources (formulas, not code):
// - P and Q: the series P = x^a e^-x / Gamma(a + 1) sum_n x^n / ((a+1)...(a+n)) for
//   x <= max(1, a), and the continued fraction for Q (Legendre's, evaluated by the modified
//   Lentz method) otherwise; the other function by complement, where it is at least ~1/2,
//   except Q for a < 1, x <= 1 (gamma_q_small: DiDonato & Morris 1986's small-a form)
//   (Numerical Recipes 3rd ed. 6.2; the split at max(1, a) is Cephes' igam/igamc).
// - I_x(a, b): the continued fraction of NR 3rd ed. 6.4 (Lentz) for x < (a + 1)/(a + b + 2),
//   else 1 - I_(1-x)(b, a).
// - The prefactors x^a e^-x / Gamma(a) and x^a (1-x)^b / B(a, b) for large parameters (>= 10)
//   through Stirling's series and log1pmx(u) = log(1 + u) - u, without the cancellation of
//   a log x - lgamma(a) (DiDonato & Morris 1986, ACM TOMS 12(4), and 1992, ACM TOMS 18(3):
//   the forms of their rcomp and brcomp).
// - Student's t for df <= 1 on the side w = df/(df + y^2) <= 1/2: I_w(df/2, 1/2) by DLMF
//   8.17.7's hypergeometric series (log_t_tail_small_df below).
// - P and Q for a >= 1e8 near x = a (|x/a - 1| <= 1e-3), where the series and the fraction
//   need O(sqrt(a)) terms: Temme's uniform expansion (DLMF 8.12; temme_w below).
// Iterations are capped at MAX_ITER; a sum that has not converged by then gives NaN (README's
// rows for gammainc and stdtr list where that still happens).
#pragma once
#include "gpuad/dual.cuh"
#include "ops/special.cuh"

// The series and fractions below are large and reached from many kernels of one module (the
// value, each partial, every dual order): compiled once each, not inlined into every caller
// (NVRTC's compile of a betainc module 34 -> 9 s, its second-order one 85 -> 55 s).
#ifndef GPUAD_NOINLINE
#define GPUAD_NOINLINE __noinline__
#endif

namespace gpuad {
namespace incomplete {

constexpr int MAX_ITER = 200000;
constexpr double EPS = 1e-17, FPMIN = 1e-300;

// T with double as its innermost scalar, and the conversions to and from it.
template <class T> struct wide { using type = double; };
template <class S, int N> struct wide<Dual<S, N>> { using type = Dual<typename wide<S>::type, N>; };
template <class T> using wide_t = typename wide<T>::type;

template <class T> __device__ __forceinline__ double widen(T x) { return double(x); }
template <class S, int N> __device__ inline wide_t<Dual<S, N>> widen(const Dual<S, N>& x) {
    wide_t<Dual<S, N>> r;
    r.v = widen(x.v);
    for (int j = 0; j < N; ++j) r.d[j] = widen(x.d[j]);
    return r;
}
template <class T> struct narrow {
    __device__ static T of(double w) { return T(w); }
};
template <class S, int N> struct narrow<Dual<S, N>> {
    __device__ static Dual<S, N> of(const wide_t<Dual<S, N>>& w) {
        Dual<S, N> r;
        r.v = narrow<S>::of(w.v);
        for (int j = 0; j < N; ++j) r.d[j] = narrow<S>::of(w.d[j]);
        return r;
    }
};

// |r| <= tol in every component (value and derivatives, through any nesting).
__device__ __forceinline__ bool all_below(double r, double tol) { return fabs(r) <= tol; }
template <class S, int N> __device__ inline bool all_below(const Dual<S, N>& r, double tol) {
    bool ok = all_below(r.v, tol);
    for (int j = 0; j < N; ++j) ok = ok && all_below(r.d[j], tol);
    return ok;
}
// The magnitude of every component of a product d * c as the product rule sums it:
// |d| * |c| with each component of d and c replaced by its absolute value.
__device__ __forceinline__ double abs_parts(double x) { return fabs(x); }
template <class S, int N> __device__ inline Dual<S, N> abs_parts(const Dual<S, N>& x) {
    Dual<S, N> r;
    r.v = abs_parts(x.v);
    for (int j = 0; j < N; ++j) r.d[j] = abs_parts(x.d[j]);
    return r;
}
// r = d * c - 1 at 0 to rounding in every component: within EPS or 16 ulps of the magnitude of
// the terms the product rule sums for it (`mag`, abs_parts(d) * abs_parts(c)), lentz_step's
// test of derivative components: a modified Lentz step's derivative components are sums
// of terms O(1) that round to +-an ulp of them, not to 0, so an absolute bound alone is never
// met (2.8e-17 at a = 5e-9, b = 1/2, x = 1e-8 on duals: betainc's fraction ran out of
// iterations, stdtr's d/ddf was NaN for df below ~1e-7).
// A NaN component (a derivative whose intermediates overflowed, inf - inf) passes: it cannot
// converge, stays NaN in the result, and must not make the value and the other components NaN
// by running the fraction out of iterations (d/ddf stdtr on the HVP's duals at df = 3.7e-300,
// y = 1e-150, where d2/ddf2's intermediates overflow).
__device__ __forceinline__ bool at_rounding(double r, double mag) {
    return !(fabs(r) > EPS && fabs(r) > 16 * 1.1102230246251565e-16 * mag);
}
template <class S, int N> __device__ inline bool at_rounding(const Dual<S, N>& r, const Dual<S, N>& mag) {
    bool ok = at_rounding(r.v, mag.v);
    for (int j = 0; j < N; ++j) ok = ok && at_rounding(r.d[j], mag.d[j]);
    return ok;
}
// |t| <= EPS |s| componentwise: a series term negligible against its sum.
__device__ __forceinline__ bool negligible(double t, double s) { return fabs(t) <= EPS * fabs(s); }
template <class S, int N> __device__ inline bool negligible(const Dual<S, N>& t, const Dual<S, N>& s) {
    bool ok = negligible(t.v, s.v);
    for (int j = 0; j < N; ++j) ok = ok && negligible(t.d[j], s.d[j]);
    return ok;
}

// NaN in every component (value and each derivative, through any nesting): where a value is
// NaN (invalid argument, NaN input, a sum that did not converge) so is every derivative of
// every order, as a NaN propagates through the other elementwise ops. W(qnan()) would be a
// NaN constant, whose derivatives 0 would turn a NaN input into a zero gradient.
template <class W> struct nan_fill {
    __device__ static W of() { return W(special::qnan()); }
};
template <class S, int N> struct nan_fill<Dual<S, N>> {
    __device__ static Dual<S, N> of() {
        Dual<S, N> r;
        r.v = nan_fill<S>::of();
        for (int j = 0; j < N; ++j) r.d[j] = nan_fill<S>::of();
        return r;
    }
};
template <class W> __device__ inline W nan_like() { return nan_fill<W>::of(); }

// log(t) - u for t = 1 + u (both given, each formed accurately by the caller): the Taylor
// series of log(1 + u) - u for |u| < 1/4 (no cancellation), else log(t) - u, which does not
// round t through 1 + u (u near -1 would lose the digits of a small t).
template <class W> __device__ GPUAD_NOINLINE W log1pmx(W t, W u) {
    if (fabs(primal(u)) >= 0.25) return log(t) - u;
    W p = u * u, s = p * W(-0.5);
    for (int k = 3; k < 40; ++k) {
        p = p * (-u);
        const W term = p / W(double(k)) * W(-1.0);
        s = s + term;
        if (negligible(term, s)) break;
    }
    return s;
}
// log(x / a), x, a > 0; where x / a under- or overflows log x - log a. On duals d = dx / x -
// da / a, not the quotient's derivative through x / a: -x / a^2 underflows for a above ~1e154
// (x ~ 1), where a log(x / a)'s derivative in a needs it times a^2 / x (it lost its -1). Its
// second derivative in a, 1 / a^2, still underflows there (a log(x / a)'s -1 / a comes out
// -2 / a: the note's gap).
template <class W> __device__ GPUAD_NOINLINE W log_ratio(W x, W a) {
    const W t = x / a;
    return t >= W(2.2250738585072014e-308) && t <= W(1.7976931348623157e308) ? log(t) : log(x) - log(a);
}
template <class S, int N> __device__ GPUAD_NOINLINE Dual<S, N> log_ratio(Dual<S, N> x, Dual<S, N> a) {
    Dual<S, N> r;
    r.v = log_ratio(x.v, a.v);
    for (int j = 0; j < N; ++j) r.d[j] = x.d[j] / x.v - a.d[j] / a.v;
    return r;
}
// a log1pmx(x / a, (x - a) / a) = a (log(x / a) - (x - a) / a), x > 0, a >= 10: the series near
// x = a; elsewhere a log(x / a) - (x - a), whose derivative in a, (log(x / a) - 1) + 1, has
// no term of u's size: a (log t - u)'s cancels -u against x / a (~1e14 each at x = 1e16,
// a = 50: d/da log Q was 32.9475 for 32.9394, d2/da2 off by 2.5%).
template <class W> __device__ GPUAD_NOINLINE W a_log1pmx(W a, W x) {
    const W u = (x - a) / a;
    if (fabs(primal(u)) < 0.25) return a * log1pmx(x / a, u);
    return a * log_ratio(x, a) - (x - a);
}
// lgamma(z) - ((z - 1/2) log z - z + log(2 pi)/2), z >= 10: Stirling's series (A&S 6.1.41).
template <class W> __device__ GPUAD_NOINLINE W stirlerr(W z) {
    const W r = W(1) / z, r2 = r * r;
    W s = W(-3617.0 / 122400.0);
    s = s * r2 + W(1.0 / 156.0);
    s = s * r2 + W(-691.0 / 360360.0);
    s = s * r2 + W(1.0 / 1188.0);
    s = s * r2 + W(-1.0 / 1680.0);
    s = s * r2 + W(1.0 / 1260.0);
    s = s * r2 + W(-1.0 / 360.0);
    s = s * r2 + W(1.0 / 12.0);
    return s * r;
}
constexpr double HALF_LOG_2PI = 0.91893853320467274178;

// zeta(k), k >= 2: a table to zeta(31), beyond it 1 + 2^-k + 3^-k (the next term, 4^-k, is
// below 5e-20 there).
__device__ __forceinline__ double zeta_int(int k) {
    constexpr double ZETA[30] = {      // zeta(2), ..., zeta(31)
        1.6449340668482264, 1.2020569031595943, 1.0823232337111382, 1.0369277551433699,
        1.0173430619844491, 1.0083492773819228, 1.0040773561979443, 1.0020083928260822,
        1.0009945751278181, 1.0004941886041195, 1.000246086553308, 1.0001227133475785,
        1.0000612481350587, 1.000030588236307, 1.0000152822594087, 1.0000076371976379,
        1.000003817293265, 1.0000019082127166, 1.0000009539620339, 1.0000004769329868,
        1.0000002384505027, 1.000000119219926, 1.0000000596081891, 1.0000000298035035,
        1.0000000149015548, 1.0000000074507118, 1.000000003725334, 1.0000000018626597,
        1.0000000009313274, 1.0000000004656629};
    return k <= 31 ? ZETA[k - 2] : 1 + ldexp(1.0, -k) + pow(3.0, -k);
}
constexpr double EULER_GAMMA = 0.57721566490153286;

// log Gamma(1 + a) / a for 0 < |a| <= 0.2 by the Taylor series of log Gamma at 1, -gamma +
// sum_(k>=2) zeta(k) (-a)^(k-1) / k (A&S 6.1.33), with no division by a (whose derivatives in
// a would cancel as 1/a^2 - 1/a^2).
template <class W> __device__ GPUAD_NOINLINE W lgamma1p_over_a(W a) {
    W p = W(-1), s = W(-EULER_GAMMA);
    for (int k = 2; k < 32; ++k) {                 // 0.2^30 / 31 < 2^-74: converged
        p = p * (-a);                              // (-1)^k a^(k-1)
        const W t = p * W(zeta_int(k) / k);
        s = s + t;
        if (negligible(t, s)) break;
    }
    return s;
}
// (log Gamma(1 + q + p) - log Gamma(1 + q)) / p, p, q > 0, p + q < 0.4: A&S 6.1.33's series
// (above) differenced term by term, -gamma + sum_(k>=2) (-1)^k zeta(k) / k h_k with h_k =
// ((q + p)^k - q^k) / p by its recurrence h_1 = 1, h_(k+1) = (q + p) h_k + q^k (positive
// terms: no cancellation). The difference of the two logs would lose ~eps q / p relative
// (everything at p = 1e-20, q = 1e-3). Its terms fall by about q + p each.
template <class W> __device__ GPUAD_NOINLINE W lgamma1p_diff_over_p(W q, W p) {
    const W qp = q + p;
    W h = W(1), qk = q, s = W(-EULER_GAMMA);
    for (int k = 2; k < 120; ++k) {                // 0.4^100: converged long before
        h = qp * h + qk;
        qk = qk * q;
        const W t = h * W((k % 2 ? -1 : 1) * zeta_int(k) / k);
        s = s + t;
        if (negligible(t, s)) break;
    }
    return s;
}
constexpr double LGAMMA1P_SERIES = 0.2;
// log Gamma(1 + a) without forming 1 + a, whose rounding is an absolute error ~1e-16 in a
// (relative 1e-8 of a = 1e-8, and of every quantity ~a built on it: Q(a, x), log P(a, x)).
template <class W> __device__ __forceinline__ W lgamma1p(W a) {
    return fabs(primal(a)) <= LGAMMA1P_SERIES ? a * lgamma1p_over_a(a) : lgamma(a + W(1));
}
// expm1(z) / z, 1 at z = 0: the series sum z^n / (n + 1)! for |z| < 1/2 (no division by z).
template <class W> __device__ GPUAD_NOINLINE W exprel(W z) {
    if (!(fabs(primal(z)) < 0.5)) return expm1(z) / z;
    W t = W(1), s = W(1);
    for (int n = 2; n < 40; ++n) {
        t = t * z / W(double(n));
        s = s + t;
        if (negligible(t, s)) break;
    }
    return s;
}

// log(x^a e^-x / Gamma(a + 1)), x > 0. For a < 10 with lgamma(a + 1): the series' prefactor
// without a factor 1/a whose derivatives in a (1/Gamma(a) ~ a near 0: psi(a)^2 - psi'(a))
// would cancel at second order.
template <class W> __device__ GPUAD_NOINLINE W log_gamma_front1(W a, W x) {
    if (a < 10) return a * log(x) - x - lgamma1p(a);
    return a_log1pmx(a, x) - W(0.5) * log(a) - W(HALF_LOG_2PI) - stirlerr(a);
}
// log(x^a e^-x / Gamma(a)) = log_gamma_front1 + log(a).
template <class W> __device__ GPUAD_NOINLINE W log_gamma_front(W a, W x) {
    if (a < 10) return a * log(x) - x - lgamma(a);
    return a_log1pmx(a, x) + W(0.5) * log(a) - W(HALF_LOG_2PI) - stirlerr(a);
}
// x^a e^-x / Gamma(a) itself: for a < 10 as a exp(log_gamma_front1), the factor a kept out of
// the exp (exp(log a + f) differentiated twice in a forms (1/a + f')^2 - 1/a^2: relative
// 1e-16 / a of the second derivative lost, 1e-8 at a = 1e-8; likewise 1/Gamma(a) ~ a).
template <class W> __device__ GPUAD_NOINLINE W gamma_front(W a, W x) {
    return a < 10 ? a * exp(log_gamma_front1(a, x)) : exp(log_gamma_front(a, x));
}

// sum_(n>=1) x^n / ((a+1)...(a+n)): P's series without its prefactor and its first term 1
// (ok: converged).
template <class W> __device__ GPUAD_NOINLINE W gamma_series_m1(W a, W x, bool& ok) {
    W ap = a, del = W(1), tail = W(0);
    int n = 0;
    for (; n < MAX_ITER; ++n) {
        ap = ap + W(1);
        del = del * x / ap;
        tail = tail + del;
        if (negligible(del, W(1) + tail)) break;
    }
    ok = n < MAX_ITER;
    return tail;
}
// Q's continued fraction without its prefactor, modified Lentz: 1 / (b_0 + a_1 / (b_1 + a_2 /
// (b_2 + ...))), a_n = -n (n - a), b_n = x + 2n + 1 - a (b_0 > 1 here); from `start` on, its
// tail 1 / (b_start + a_(start+1) / (b_(start+1) + ...)).
template <class W> __device__ GPUAD_NOINLINE W gamma_cf(W a, W x, bool& ok, int start = 0) {
    W b = x + W(double(2 * start + 1)) - a, c = W(1.0 / FPMIN), d = W(1) / b, h = d;
    int i = start + 1;
    for (; i < start + MAX_ITER; ++i) {
        const W an = W(-double(i)) * (W(double(i)) - a);
        b = b + W(2);
        const W q2 = an * d, q1 = an / c;
        d = q2 + b;
        bool clamped = fabs(primal(d)) < FPMIN;
        if (clamped) d = W(FPMIN);
        c = b + q1;
        if (fabs(primal(c)) < FPMIN) c = W(FPMIN), clamped = true;
        d = W(1) / d;
        const W del = d * c;
        const W hn = h * del;
        // converged: del - 1 below EPS in every component, or each component of h changed by
        // less than EPS of itself (a large tangent, e.g. dz/dx = -nu in bgrat, scales del's
        // derivative components beyond any absolute bound), or the step's own size below
        // EPS: del - 1 = D_i (a_i / C_(i-1) - a_i D_(i-1)) (C_i = b_i + a_i / C_(i-1),
        // 1 / D_i = b_i + a_i D_(i-1), unless a clamp replaced one), where del, a product of
        // factors ~b_i and ~1/b_i, rounds to 1 +- an ulp: at x = 1e30, a = 1000 it never
        // reached 1 and the fraction ran out of iterations (P, Q and their logs were NaN for
        // x from ~1e10 on).
        const bool done = all_below(del - W(1), EPS) || negligible(hn - h, hn)
                          || (!clamped && all_below(d * (q1 - q2), EPS));
        h = hn;
        if (done) break;
    }
    ok = i < start + MAX_ITER;
    return h;
}

// Q(a, x) for a < 1, x <= 1, where 1 - P loses log10(1/Q) digits (Q ~ a E1(x) as a -> 0):
// gamma(a, x) = x^a sum_n (-x)^n / (n! (a + n)) (A&S 6.5.29) gives Q = -expm1(L) -
// e^L a sum_(n>=1) (-x)^n / (n! (a + n)), L = a log x - lgamma1p(a) (DiDonato & Morris
// 1986, ACM TOMS 12(4), their small-a form for x < 1.1): the two terms add up to Q without
// cancelling below x ~ 1/2 and lose at most a factor ~4 of Q up to x = 1.
template <class W> __device__ GPUAD_NOINLINE W gamma_q_small_over_a(W a, W x, bool& ok) {
    // Q / a = -expm1(L) / a - e^L s: for a <= LGAMMA1P_SERIES with L / a = log x -
    // lgamma1p(a) / a and expm1(L) / a = (L / a) exprel(L), so that nothing divides by a
    // (Q's derivatives in a, and d/dx log Q = -density / Q, would cancel as 1/a - 1/a)
    const bool series = primal(a) <= LGAMMA1P_SERIES;
    const W La = series ? log(x) - lgamma1p_over_a(a) : W(0);
    const W L = series ? a * La : a * log(x) - lgamma(a + W(1));
    W t = W(1), s = W(0);
    int n = 1;
    for (; n < 200; ++n) {
        t = t * (-x) / W(double(n));
        const W term = t / (a + W(double(n)));
        s = s + term;
        if (negligible(term, s)) break;
    }
    ok = n < 200;
    return (series ? -La * exprel(L) : -expm1(L) / a) - exp(L) * s;
}
template <class W> __device__ __forceinline__ W gamma_q_small(W a, W x, bool& ok) {
    return a * gamma_q_small_over_a(a, x, ok);
}

// Temme's uniform expansion for large a near x = a (DLMF 8.12.3-8.12.9; Temme 1979, SIAM J.
// Math. Anal. 10(4)), where the series and the fraction need O(sqrt(a)) terms and ran out of
// their 200,000 for a >= ~5e8 (P, Q and their logs were NaN): with mu = x/a - 1 and eta =
// mu sqrt(-2 (log(1 + mu) - mu) / mu^2) (eta^2/2 = mu - log(1 + mu), the sign of mu),
// w = eta sqrt(a), P = Phi(w) - phi(w) s and Q = Phi(-w) + phi(w) s, s = (c_0(eta) + c_1(eta)/a
// + c_2(0)/a^2) / sqrt(a). c_0, c_1 by their Maclaurin series (DLMF 8.12.11; the d_(k,n) of
// DiDonato & Morris 1986, here from 8.12.9 and the reversion 8.12.13 in exact fractions:
// 8 and 4 terms: the first left out of c_0 is ~1e-30 at |eta| <= 1.1e-3, that of c_1 ~3e-16,
// 3e-24 after the division by a), c_2(0) = 25/6048. The next term, c_3 / a^3, is below
// 1e-27 relative from TEMME_A on.
constexpr double TEMME_A = 1e8, TEMME_U = 1e-3;
template <class W> __device__ __forceinline__ bool temme_region(W a, W x) {
    return primal(a) >= TEMME_A && fabs(primal(x) - primal(a)) <= TEMME_U * primal(a);
}
// w, and s in `s`.
template <class W> __device__ GPUAD_NOINLINE W temme_w(W a, W x, W& s) {
    const W mu = (x - a) / a;                  // (x - a exact: x / a is within 1 +- 1e-3)
    W g = W(2.0 / 9.0);                        // sum_(k=0..7) 2 (-mu)^k / (k + 2)
    for (int k = 6; k >= 0; --k) g = g * (-mu) + W(2.0 / (k + 2));
    const W eta = mu * sqrt(g);
    constexpr double D0[8] = {-1.0 / 3.0, 1.0 / 12.0, -2.0 / 135.0, 1.0 / 864.0, 1.0 / 2835.0,
                              -139.0 / 777600.0, 1.0 / 25515.0, -571.0 / 261273600.0};
    constexpr double D1[4] = {-1.0 / 540.0, -1.0 / 288.0, 1.0 / 378.0, -77.0 / 77760.0};
    W c0 = W(D0[7]), c1 = W(D1[3]);
    for (int k = 6; k >= 0; --k) c0 = c0 * eta + W(D0[k]);
    for (int k = 2; k >= 0; --k) c1 = c1 * eta + W(D1[k]);
    const W r = sqrt(a);
    s = (c0 + (c1 + W(25.0 / 6048.0) / a) / a) / r;
    return eta * r;
}
// The tail of P (w < 0) or of Q (w > 0) in Temme's region, whichever is the smaller, as
// phi(w) (m -+ s), m = Phi(-|w|) / phi(w) the Mills ratio, 1 / log_ndtr_d (its asymptotic sum
// from |w| = 20: the sum's smallest term there ~e^(-w^2/2) = e^-200; at 8 it is ~1e-14);
// `upper_tail`: it is Q's. |w| reaches 1e-3 sqrt(a) (1e7 at a = 1e20), where phi(w)
// underflows (the tail is 0 as a value) but m -+ s (~1/|w|) does not: log P, log Q and d/dx
// of them are formed from log phi(w) = -w^2/2 - log sqrt(2 pi) and quotients of m -+ s,
// never an exp of a difference of logs ~w^2/2; the other function is 1 - the tail (log1p of
// it: log Q = log(1 - P) rounded to 0 for P < 1e-16, the true -P lost).
template <class W> __device__ GPUAD_NOINLINE W temme_tail(W a, W x, W& w, W& m_s, bool& upper_tail) {
    W s;
    w = temme_w(a, x, s);
    upper_tail = w > 0;
    const W v = upper_tail ? -w : w;
    const W m = W(1) / log_ndtr_d(v);
    m_s = upper_tail ? m + s : m - s;
    return ndtr_d(w) * m_s;
}
// P (upper = false) or Q there.
template <class W> __device__ GPUAD_NOINLINE W temme_pq(W a, W x, bool upper) {
    W w, m_s;
    bool upper_tail;
    const W t = temme_tail(a, x, w, m_s, upper_tail);
    return upper == upper_tail ? t : W(1) - t;
}
// log P (upper = false) or log Q there, and phi(w) / (P or Q) in `ratio`.
template <class W> __device__ GPUAD_NOINLINE W temme_log_pq(W a, W x, bool upper, W& ratio) {
    W w, m_s;
    bool upper_tail;
    const W t = temme_tail(a, x, w, m_s, upper_tail);
    if (upper == upper_tail) {
        ratio = W(1) / m_s;
        return W(-0.5) * w * w - W(HALF_LOG_2PI) + log(m_s);
    }
    ratio = ndtr_d(w) / (W(1) - t);
    return log1p(-t);
}
// d/dx log P (upper = false) or log Q there: +-density / (P or Q), density = phi(w) sqrt(a) /
// (x Gamma*(a)) (x^(a-1) e^-x / Gamma(a) with a log x - x = a log a - a - a eta^2/2 and
// Gamma(a) = Gamma*(a) sqrt(2 pi / a) (a/e)^a, Gamma* = exp(stirlerr)).
template <class W> __device__ GPUAD_NOINLINE W temme_log_dx(W a, W x, bool upper) {
    W ratio;
    temme_log_pq(a, x, upper, ratio);
    const W r = sqrt(a) / (x * exp(stirlerr(a))) * ratio;
    return upper ? -r : r;
}

// P(a, x) (upper = false) or Q(a, x) (upper = true), a > 0, x > 0 finite.
template <class W> __device__ GPUAD_NOINLINE W gamma_pq(W a, W x, bool upper) {
    bool ok;
    if (upper && a < 1 && x <= 1) {
        // where P <= 1/2, Q = 1 - P from P's series: the value without cancellation, and Q's
        // derivatives in a are -P's, exact relative to P (the small-a form's -expm1(L)/a,
        // times a, differentiated in a cancels two O(1/a) terms down to ~P: at a = 1/2,
        // x = 1e-40, where P ~ 1e-20, d/da Q came out 0)
        const W sum = W(1) + gamma_series_m1(a, x, ok);
        if (ok) {
            const W p = sum * exp(log_gamma_front1(a, x));
            if (p <= W(0.5)) return W(1) - p;
        }
        const W q = gamma_q_small(a, x, ok);
        return ok ? q : nan_like<W>();
    }
    if (temme_region(a, x)) return temme_pq(a, x, upper);
    if (x <= 1 || x <= a) {                                 // the series for P
        const W sum = W(1) + gamma_series_m1(a, x, ok);
        if (!ok) return nan_like<W>();
        const W p = sum * exp(log_gamma_front1(a, x));
        return upper ? W(1) - p : p;
    }
    const W h = gamma_cf(a, x, ok);
    if (!ok) return nan_like<W>();
    const W q = gamma_front(a, x) * h;
    return upper ? q : W(1) - q;
}

// log P(a, x) (upper = false) or log Q(a, x) (upper = true), a > 0, x > 0 finite: the side
// that the branch computes (P by the series, Q by the fraction) as the log of its prefactor
// plus the log of its sum, so it does not underflow (log P(100, 1e-5) = -1515.5...); the
// other as log1p(-that side), which is at least about 1/2 there; for a < 1, x <= 1 where
// Q < 1/2 both from the small-a form (log Q = log a + log(Q / a), log P = log1p(-Q)).
template <class W> __device__ GPUAD_NOINLINE W log_gamma_pq(W a, W x, bool upper, bool& ok) {
    if (temme_region(a, x)) {
        ok = true;
        W ratio;
        return temme_log_pq(a, x, upper, ratio);
    }
    if (x <= 1 || x <= a) {
        if (a < 1 && x <= 1) {
            // where Q < 1/2: log1p(-Q) and log Q = log a + log(Q / a) from the small-a form
            // (log P from the series would be -x + log(1 + x + ...), cancelling to ~a log x)
            const W qa = gamma_q_small_over_a(a, x, ok);
            if (a * qa < W(0.5)) return upper ? log(a) + log(qa) : log1p(-(a * qa));
        }
        const W lp = log_gamma_front1(a, x) + log1p(gamma_series_m1(a, x, ok));
        // log Q: log1p(-P) (P < 1/2 here, or a >= 1)
        return upper ? log1p(-exp(lp)) : lp;
    }
    const W h = gamma_cf(a, x, ok);
    // log P = log1p(-Q) with Q = gamma_front h (its factor a out of the exp, as gamma_pq)
    return upper ? log_gamma_front(a, x) + log(h) : log1p(-(gamma_front(a, x) * h));
}

// P or Q with SciPy's values at the edges: NaN for a < 0, x < 0 or NaN; P(0, x) = 1 for
// x > 0; P(a, 0) = 0, P(a, inf) = 1 for a > 0.
template <class W> __device__ GPUAD_NOINLINE W gamma_pq_edges(W a, W x, bool upper) {
    if (!(a >= 0) || !(x >= 0) || (a == 0 && x == 0)) return nan_like<W>();
    if (a == 0 || primal(x) == special::inf()) return W(upper ? 0.0 : 1.0);
    if (x == 0) return W(upper ? 1.0 : 0.0);
    if (primal(a) == special::inf()) return W(upper ? 1.0 : 0.0);
    return gamma_pq(a, x, upper);
}

// log P or log Q with the edge values of gamma_pq_edges (log 0 = -inf, log 1 = 0, constants:
// derivative 0), except at x = 0 for log P: there a log x - lgamma(a + 1), the leading term
// of the series' log, whose value is -inf and whose derivative in a is its limit -inf (not
// the 0 of a constant: log P(a, x) -> -inf along every a as x -> 0).
template <class W> __device__ GPUAD_NOINLINE W log_gamma_pq_edges(W a, W x, bool upper) {
    if (!(a >= 0) || !(x >= 0) || (a == 0 && x == 0)) return nan_like<W>();
    const double ninf = -special::inf();
    if (a == 0 || primal(x) == special::inf()) return W(upper ? ninf : 0.0);
    if (x == 0) return upper ? W(0) : a * log(x) - lgamma1p(a);
    // a = inf: log Q = 0; log P = -inf as a (log x - log a + 1), the leading term of
    // a log x - x - lgamma(a + 1) as a -> inf, whose derivatives are the limits (d/da -inf,
    // d2/da2 0, d/dx a / x = inf; a constant's 0 would be wrong by all of them)
    if (primal(a) == special::inf()) return upper ? W(0) : a * (log(x) - log(a) + W(1));
    bool ok;
    const W r = log_gamma_pq(a, x, upper, ok);
    return ok ? r : nan_like<W>();
}

// The gamma density at x = 0, its limit from the right: inf (a < 1), 1 (a = 1), 0 (a > 1).
// On duals (second order) its partials' limits too, d/dx -inf (a < 1), -1 (a = 1), +inf
// (1 < a < 2), 1 (a = 2), 0 (a > 2) and d/da -inf (a <= 1: x^(a-1) log x), 0 (a > 1): a
// constant's 0 was wrong by all but the last (d2/dx2 of gammainc(1, x) at 0 was 0, true -1).
// Deeper nestings (third order) keep the constant.
template <class W> __device__ inline W gamma_density_at_0(W a, W) {
    return a < 1 ? W(special::inf()) : W(a == 1 ? 1.0 : 0.0);
}
template <int N>
__device__ inline Dual<double, N> gamma_density_at_0(Dual<double, N> a, Dual<double, N> x) {
    const double s = a.v, inf = special::inf();
    const double gx = s < 1 ? -inf : s == 1 ? -1.0 : s < 2 ? inf : s == 2 ? 1.0 : 0.0;
    const double ga = s <= 1 ? -inf : 0.0;
    return with_limits(Dual<double, N>(gamma_density_at_0(s, 0.0)), gx, x, ga, a);
}

// d/dx P(a, x) = x^(a-1) e^-x / Gamma(a), the gamma density; at x = 0 the limits from the
// right (gamma_density_at_0). NaN where P is NaN; 0 at a = 0 (x > 0),
// where P is the constant 1 (the convention of gamma_pq_edges' constant edge values).
template <class W> __device__ GPUAD_NOINLINE W gamma_density(W a, W x) {
    if (!(a >= 0) || !(x >= 0) || (a == 0 && x == 0)) return nan_like<W>();
    if (a == 0 || primal(a) == special::inf() || primal(x) == special::inf()) return W(0);
    if (x == 0) return gamma_density_at_0(a, x);
    // a < 10: gamma_front's factor a out of the exp, and x^(a-1) as one power (x^a / x
    // differentiated twice in x cancels as 1/x^2 - 1/x^2 at a = 1)
    if (a < 10) return a * exp((a - W(1)) * log(x) - x - lgamma1p(a));
    return exp(log_gamma_front(a, x) - log(x));
}

// d/dx log P = density / P (sign +1) and d/dx log Q = -density / Q (sign -1). On the side
// log_gamma_pq's branch computes itself, P = front1 sum by the series (density = a front1 /
// x; the identity holds where a < 1, x <= 1 too, where log_gamma_pq takes log P from the
// small-a form) and Q = front h by the fraction (density = front / x), the prefactor cancels
// exactly: a / x / sum and -1 / (x h) (formed from the fraction's tail h_1), neither of which
// underflows (x = 1e-5, a = 100: 1e4 = a / x
// nearly, from two numbers below 1e-1500). exp(log density - log P) there cancelled two
// logs of ~a log(a / x): at a = 1e15, x = 2 it was 4.3e15 against 5e14, at a = 1e20 1 against
// 5e19; log Q's at x = 1e3, a = 2 off by 6e-14. The other side (P or Q >= ~1/2) as
// exp(log density - log(P or Q)). At x = 0: +inf (log P: a / x as x -> 0), Q's -density
// (Q = 1); at x = inf: 0 (log P), -1 (log Q: density / Q -> 1); at a = inf (x finite) log
// P's a / x (its limit +inf, derivatives those of the leading term, log_gamma_pq_edges), log
// Q's 0; 0 at a = 0 (the constants), NaN where the value is.
template <class W> __device__ GPUAD_NOINLINE W log_gamma_dx(W a, W x, bool upper) {
    if (!(a >= 0) || !(x >= 0) || (a == 0 && x == 0)) return nan_like<W>();
    if (a == 0) return W(0);
    if (primal(a) == special::inf()) return upper || primal(x) == special::inf() ? W(0) : a / x;
    if (primal(x) == special::inf()) return W(upper ? -1.0 : 0.0);
    if (x == 0) {
        // log P: a / x (log P's leading term a log x - lgamma(a + 1), log_gamma_pq_edges: on
        // duals d2/dx2 -inf and d2/da dx +inf, the limits, where a constant inf had 0). log Q:
        // -p / Q with Q = 1 - p x to first order (d2/dx2 -p' - p^2; as -p alone it was -p', 1
        // at a = 1, where log Q = -x); for a < 1 (p = inf) -p: -p' dominates p^2 there
        if (!upper) return a / x;
        const W p = gamma_density(a, x);
        return a < 1 ? -p : -p / (W(1) - p * x);
    }
    bool ok;
    if (upper && a < 1 && x <= 1) {
        // density / Q with the factor a of both cancelled before any derivative is taken;
        // Q / a by its log inside the exp: on duals d/dx is then h ((a - 1) / x - 1 - h), one
        // product, where the quotient's was +inf - inf = NaN for x < ~1e-154 (its two terms
        // overflow; d2/dx2 itself does too for a |log x| << 1, h ~ -1 / (x |log x|) there)
        const W qa = gamma_q_small_over_a(a, x, ok);
        if (!ok) return nan_like<W>();
        return -exp((a - W(1)) * log(x) - x - lgamma1p(a) - log(qa));
    }
    if (temme_region(a, x)) return temme_log_dx(a, x, upper);
    const bool series = x <= 1 || x <= a;                   // log_gamma_pq's branch
    if (series && !upper) {
        // (a / x first: x sum overflows for x near the largest double, and on duals the
        // quotient's derivative -(a / (x sum)) / (x sum) overflowed for x ~ 1e-160)
        const W sum = W(1) + gamma_series_m1(a, x, ok);
        return ok ? a / x / sum : nan_like<W>();
    }
    if (!series && upper) {
        // -1 / (x h) = -(b_0 + a_1 h_1) / x (gamma_cf's terms, b_0 = x + 1 - a, a_1 = a - 1):
        // so for x <= 2a, where b_0 is small and exact near x = a; beyond, where x h -> 1 and
        // that quotient's derivatives in x cancel (b_0' / x against b_0 / x^2: d2/dx2 2e-10
        // relative at a = 2, x = 1e10, every digit lost at x = 1e16), as -1 + a_1 (1 - h_1) / x
        // (whose second term is below 1/2 there: a 1 - a / x cancelling near x = a instead)
        const W h1 = gamma_cf(a, x, ok, 1);
        if (!ok) return nan_like<W>();
        return x > W(2) * a ? W(-1) + (a - W(1)) * (W(1) - h1) / x
                            : -(x + W(1) - a + (a - W(1)) * h1) / x;
    }
    const W l = log_gamma_pq(a, x, upper, ok);
    if (!ok) return nan_like<W>();
    // the density's log as (a - 1) log x - x - lgamma(a) for a < 10: as log_gamma_front - log x
    // its x-derivative a/x - 1 - 1/x lost the -1 against 1/x for x below ~eps (d2/dx2 of
    // log Q(1, x) = -x was -1 at x = 1e-17, true 0)
    const W ld = a < 10 ? (a - W(1)) * log(x) - x - lgamma(a) : log_gamma_front(a, x) - log(x);
    const W r = exp(ld - l);
    return upper ? -r : r;
}

// p/(p + q), p, q > 0, as an op whose partials are q/(p + q)^2 and -p/(p + q)^2 (ShareDp), and
// theirs -2q/(p + q)^3 and (p - q)/(p + q)^3, each from its own formula: the quotient rule
// forms the mixed one as -1/(p + q)^2 + 2p/(p + q)^3, which cancel to it (to nothing at
// p = q, where d2/da db of I_x(a, b) ~ 1/a as a = b -> 0 comes from the other factors: it was
// -3.0e19 at a = b = 1e-20, x = 0.3, true -2.1e19).
struct ShareDp {
    template <class S> __device__ __forceinline__ static S f(S p, S q) {
        const S s = p + q;
        return q / s / s;
    }
    template <class S> __device__ __forceinline__ static S dfx(S p, S q) {
        const S s = p + q;
        return S(-2) * (q / s) / s / s;
    }
    template <class S> __device__ __forceinline__ static S dfy(S p, S q) {
        const S s = p + q;
        return (p - q) / s / s / s;
    }
};
__device__ __forceinline__ double share_dp(double p, double q) { return ShareDp::f(p, q); }
template <class S, int N>
__device__ inline Dual<S, N> share_dp(const Dual<S, N>& p, const Dual<S, N>& q) {
    return binary_chain<ShareDp>(p, q);
}
struct Share {
    template <class S> __device__ __forceinline__ static S f(S p, S q) { return p / (p + q); }
    template <class S> __device__ __forceinline__ static S dfx(S p, S q) { return share_dp(p, q); }
    template <class S> __device__ __forceinline__ static S dfy(S p, S q) { return -share_dp(q, p); }
};
__device__ __forceinline__ double share(double p, double q) { return Share::f(p, q); }
template <class S, int N>
__device__ inline Dual<S, N> share(const Dual<S, N>& p, const Dual<S, N>& q) {
    return binary_chain<Share>(p, q);
}
// p q/(p + q) (half the harmonic mean), p, q > 0, as an op whose partials are share(q, p)^2 and
// share(p, q)^2: theirs, 2 share share', products of numbers ~1 and ~1/p. Through the product
// rule of p share(q, p) the second partials passed through p share''(q, p), ~p/p^2, which
// overflows for shapes below ~1e-154 and made inf - inf (d2/da2 of I_0.3(1e-160, 1e-160) NaN,
// true +inf: share's own second partial, 2.5e319, overflows). The value as (smaller)
// share(larger, smaller), whose first partial is a sum of positive terms (the other way round
// they cancel by a factor ~larger/smaller).
struct HalfHarmonic {
    template <class S> __device__ __forceinline__ static S f(S p, S q) {
        return p <= q ? p * share(q, p) : q * share(p, q);
    }
    template <class S> __device__ __forceinline__ static S dfx(S p, S q) {
        const S s = share(q, p);
        return s * s;
    }
    template <class S> __device__ __forceinline__ static S dfy(S p, S q) {
        const S s = share(p, q);
        return s * s;
    }
};
__device__ __forceinline__ double half_harmonic(double p, double q) {
    return HalfHarmonic::f(p, q);
}
template <class S, int N>
__device__ inline Dual<S, N> half_harmonic(const Dual<S, N>& p, const Dual<S, N>& q) {
    return binary_chain<HalfHarmonic>(p, q);
}
// log(p/(p + q)), p, q > 0, as an op: its value -log1p(q/p) for p >= q, else log of the
// quotient (log p - log(p + q) would lose ~eps |log p| / |log(p/(p + q))|); its partials
// share(q, p)/p = q/(p (p + q)) and -1/(p + q), whose own are sums of same-signed terms or one
// term (1/(p + q)^2 mixed). As -log1p(q/p) the mixed one cancelled terms ~1/(p (p + q)) to it;
// as log p - log(p + q), d2/dp2 was -1/p^2 + 1/(p + q)^2, inf - inf for shapes below ~1e-154
// (d2/db2 log I at (1e-160, 1e-200, 0.01) NaN, true -1e400).
struct LogShare {
    template <class S> __device__ __forceinline__ static S f(S p, S q) {
        return p >= q ? -log1p(q / p) : log(p / (p + q));
    }
    template <class S> __device__ __forceinline__ static S dfx(S p, S q) { return share(q, p) / p; }
    template <class S> __device__ __forceinline__ static S dfy(S p, S q) { return S(-1) / (p + q); }
};
__device__ __forceinline__ double log_share(double p, double q) { return LogShare::f(p, q); }
template <class S, int N>
__device__ inline Dual<S, N> log_share(const Dual<S, N>& p, const Dual<S, N>& q) {
    return binary_chain<LogShare>(p, q);
}

// (lgamma(q + p) - lgamma(q)) / p, 0 < p <= q, q >= 0.2 (BETA_SMALL_Q; p <= 1 unless p <= q/8,
// as lgamma_ratio calls it): for p <= q/8 the
// Taylor series sum_k>=1 psi^(k-1)(q) p^(k-1) / k! (its terms fall by p/q or faster:
// |psi^(k)(q)| <= k! (1/q^(k+1) + 1/(k q^k)), at most ~k! 5^(k+1), no overflow), where the two
// lgammas' difference cancels (to nothing at p = 1e-20, q = 7.3); else the difference itself:
// there 0.2 <= q < 8 p <= 8, and its rounding, ~eps |lgamma(q)| / p < 8 eps |lgamma(q)| / q,
// is small against the quotient, O(1), and p >= 0.025 (its derivatives through 1/p tame).
template <class W> __device__ GPUAD_NOINLINE W lgamma_shift_over_p(W q, W p) {
    if (!(p * W(8) <= q)) return (lgamma(q + p) - lgamma(q)) / p;
    W c = W(1), s = digamma(q);
    for (int k = 2; k < 60; ++k) {                 // 8^-58: converged long before
        c = c * p / W(double(k));                  // p^(k-1) / k!
        const W t = polygamma(k - 1, q) * c;
        s = s + t;
        if (negligible(t, s)) break;
    }
    return s;
}

// (lgamma(q + p) - lgamma(q) - lgamma(1 + p)) / p for p <= min(q, 1)/8, q >= 0.2:
// lgamma_shift_over_p's series less its own terms at q = 1, term by term from the same
// polygamma calls, so exactly 0 at q = 1 in the value and every derivative in p (the series
// against lgamma(1 + p) left ~4e-16 there: d2/db2 of I at (1, 0.125, 1e-8) 2e-7 off).
template <class W> __device__ GPUAD_NOINLINE W lgamma_shift_less_1p_over_p(W q, W p) {
    W c = W(1), s = digamma(q) - digamma(W(1));
    for (int k = 2; k < 60; ++k) {                 // 8^-58: converged long before
        c = c * p / W(double(k));                  // p^(k-1) / k!
        const W t = (polygamma(k - 1, q) - polygamma(k - 1, W(1))) * c;
        s = s + t;
        if (negligible(t, s)) break;
    }
    return s;
}

// lgamma(s + m) - lgamma(m), 0 < s <= m: for s <= m/8 as s (lgamma(m + s) - lgamma(m))/s
// (lgamma_shift_over_p; below m = 0.2 by lgamma1p_diff_over_p and log_share), whose
// derivative in m is s psi'(m) + ...: the difference's, psi(m + s) - psi(m), cancelled to
// nothing for s << m (d2/db dx of I_x(1e-300, 3) at x = 1e-300 was 0, true -6.1e-301); else
// by Stirling's series for m >= 10, the difference below.
template <class W> __device__ inline W lgamma_ratio(W s, W m) {
    if (s * W(8) <= m) {
        return m >= W(0.2) ? s * lgamma_shift_over_p(m, s)
                           : s * lgamma1p_diff_over_p(m, s) + log_share(m, s);
    }
    const W sm = s + m;
    return m >= 10 ? (m - W(0.5)) * log1p(s / m) + s * log(sm) - s + stirlerr(sm) - stirlerr(m)
                   : lgamma(sm) - lgamma(m);
}
// lgamma(s + m) - lgamma(m) - lgamma(1 + s): 0 at m = 1 exactly, with its derivatives in s
// (lgamma_shift_less_1p_over_p for s <= 1/8; above, the difference's lgamma(1 + s) twice).
template <class W> __device__ inline W lgamma_ratio_less_1p(W s, W m) {
    if (s * W(8) <= m && s * W(8) <= W(1) && m >= W(0.2)) return s * lgamma_shift_less_1p_over_p(m, s);
    return lgamma_ratio(s, m) - lgamma(s + W(1));
}

// log(x^a y^b / (a B(a, b))), 0 < x < 1, y = 1 - x (passed: the caller may know it exactly);
// the front of I_x(a, b) = x^a y^b / (a B(a, b)) cf. With s = min(a, b), m = max(a, b) and
// 1 / (a B(a, b)) = b Gamma(a + b) / (Gamma(a + 1) Gamma(b + 1)): the factor b is returned in
// `factor` (kept out of the exp: exp(log b) differentiated twice cancels as 1/b^2 - 1/b^2,
// so does 1/Gamma(b) ~ b), lgamma(a + b) - lgamma(m) by lgamma_ratio.
// a log1pmx(z r, e/a) = a log(z r) - e, z r = 1 + e/a, r = (a + b)/a, log z given: the series
// near e = 0; elsewhere a (log z + log r) - e. As log(z r) on duals, its partial in a shape,
// (z r_a)/(z r), differentiated in z cancelled terms ~1/z (d2/db dx log I was 3e233 at
// (12, 37, 1e-250), true -0.92); here z and the shapes never meet inside one log.
template <class W> __device__ inline W beta_front_term(W a, W e, W z, W lz, W r) {
    const W u = e / a;
    if (fabs(primal(u)) < 0.25) return a * log1pmx(z * r, u);
    return a * (lz + log(r)) - e;
}
template <class W> __device__ GPUAD_NOINLINE W log_beta_front(W a, W b, W x, W y, W& factor) {
    const W ab = a + b;
    // The smaller of x, y is the exact one (the caller's argument, or 1 - x >= 1/2 exactly):
    // the larger's log from it, as log1p (b log(1 - x) at b = 1e13, x = 1e-13 would keep 3
    // digits of the rounded 1 - x).
    const W lx = x <= W(0.5) ? log(x) : log1p(-y), ly = y <= W(0.5) ? log(y) : log1p(-x);
    if (a >= 10 && b >= 10) {
        // a log(x (a+b)/a) + b log(y (a+b)/b) = a log1pmx(e/a) + b log1pmx(-e/b), e = xb - ya
        const W e = x * b - y * a;
        factor = W(1);
        return beta_front_term(a, e, x, lx, ab / a) + beta_front_term(b, -e, y, ly, ab / b)
               + W(0.5) * log(b / ab / a) - W(HALF_LOG_2PI) + stirlerr(ab) - stirlerr(a)
               - stirlerr(b);
    }
    const bool amax = a >= b;
    const W m = amax ? a : b, s = amax ? b : a;
    factor = b;
    return a * lx + b * ly + lgamma_ratio_less_1p(s, m) - log(m);
}

// One step of the modified Lentz method with partial numerator aa (the partial denominators
// are 1): C_i = 1 + aa / C_(i-1), D_i = 1 / (1 + aa D_(i-1)), h *= C_i D_i. Returns whether
// the step is converged: the value's del - 1 below EPS, or the step's own size, del - 1 =
// D_i aa (1 / C_(i-1) - D_(i-1)) (cancellation-free as gamma_cf's), below EPS unless a clamp
// replaced C or D; and every derivative component at rounding (at_rounding).
// del, a product of factors ~1 - x and ~1 / (1 - x), rounds to 1 +- an ulp: at a = 1.85e40,
// b = 1/2, x = 37/47 (stdtr at df = 3.7e40, y = 1e20) it never reached 1 and the fraction ran
// out of iterations (NaN).
template <class W> __device__ inline bool lentz_step(const W& aa, W& c, W& d, W& h) {
    const double c0 = primal(c), d0 = primal(d);
    d = W(1) + aa * d;
    bool clamped = fabs(primal(d)) < FPMIN;
    if (clamped) d = W(FPMIN);
    c = W(1) + aa / c;
    if (fabs(primal(c)) < FPMIN) c = W(FPMIN), clamped = true;
    d = W(1) / d;
    const W del = d * c;
    h = h * del;
    const bool value = fabs(primal(del) - 1) <= EPS
                       || (!clamped && fabs(primal(d) * primal(aa) * (1 / c0 - d0)) <= EPS);
    return value && at_rounding(del - W(1), abs_parts(d) * abs_parts(c));
}

// The continued fraction of I_x(a, b) = front / a * cf (NR 3rd ed. 6.4, modified Lentz).
template <class W> __device__ GPUAD_NOINLINE W beta_cf(W a, W b, W x, bool& ok) {
    const W qab = a + b, qap = a + W(1), qam = a - W(1);
    W c = W(1), d = W(1) - qab * x / qap;
    if (fabs(primal(d)) < FPMIN) d = W(FPMIN);
    d = W(1) / d;
    W h = d;
    ok = false;
    for (int m = 1; m < MAX_ITER; ++m) {
        const W mm = W(double(m)), m2 = W(2.0 * m);
        const bool even = lentz_step(mm * (b - mm) * x / ((qam + m2) * (a + m2)), c, d, h);
        const bool odd = lentz_step(-(a + mm) * (qab + mm) * x / ((a + m2) * (qap + m2)), c, d, h);
        if (even && odd) {
            ok = true;
            break;
        }
    }
    return h;
}

// L_k = B_2k / (2k (2k)!), k = 1..15: log(sinh(s/2) / (s/2)) = sum_k L_k s^2k (A&S 4.5.64 with
// 23.1.2's Bernoulli numbers, s/2 for x).
__device__ __forceinline__ double bgrat_l(int k) {
    constexpr double L[15] = {
        0.041666666666666664, -0.00034722222222222224, 5.5114638447971785e-06,
        -1.033399470899471e-07, 2.08767569878681e-09, -4.403491782239578e-11,
        9.55895466477477e-13, -2.1185501852016142e-14, 4.770034475709914e-16,
        -1.087434349279031e-17, 2.5040921947091955e-19, -5.814360285755218e-21,
        1.3595027075497952e-22, -3.1976847953705525e-24, 7.559841507792277e-26};
    return L[k - 1];
}
// Where the expansion below replaces the continued fraction: a >= BGRAT_A (nu >= 5e4, where
// its terms fall by (T/(2 pi))^2 and its prefactor's series by nu^-2 each), b <= BGRAT_B,
// z = nu T <= BGRAT_Z (within 500 of the distribution's width of x = 1, where the fraction
// near its switch needs O(sqrt(a)) iterations: 200,000 run out at a ~ 1e9).
constexpr double BGRAT_A = 1e5, BGRAT_B = 5, BGRAT_Z = 500;

// lgamma(a + b) - lgamma(a) - b log(nu), nu = a + (b - 1)/2, large nu: with h = (b + 1)/2,
// a + b = nu + h and a = nu + 1 - h, so DLMF 5.11.8 for both (the odd terms cancel by
// B_n(1 - h) = (-1)^n B_n(h)) gives -sum_m B_(2m+1)(h) / (m (2m + 1) nu^2m), here to m = 5
// (the next term below 1e-22 relative at nu >= 50, 1e-57 at 5e4), no difference of large logs (its derivatives in a are
// O(nu^-3), which lgamma(a + b) - lgamma(a) would leave to cancellation).
template <class W> __device__ GPUAD_NOINLINE W bgrat_log_ratio(W b, W nu) {
    const W h = (b + W(1)) * W(0.5), h2 = h * h, r = W(1) / (nu * nu);
    const W b3 = h * (h2 - W(1.5) * h + W(0.5));
    const W b5 = h * (h2 * (h2 - W(2.5) * h + W(5.0 / 3)) - W(1.0 / 6));
    const W b7 = h * (h2 * (h2 * (h2 - W(3.5) * h + W(3.5)) - W(7.0 / 6)) + W(1.0 / 6));
    const W b9 = h * (h2 * (h2 * (h2 * (h2 - W(4.5) * h + W(6)) - W(4.2)) + W(2)) - W(0.3));
    const W b11 = h * (h2 * (h2 * (h2 * (h2 * (h2 - W(5.5) * h + W(55.0 / 6)) - W(11)) + W(11))
                             - W(5.5)) + W(5.0 / 6));
    return -r * (b3 / W(3) + r * (b5 / W(10) + r * (b7 / W(21) + r * (b9 / W(36)
                                                                     + r * (b11 / W(55))))));
}

// sum_n p_n K_n of the expansion below (K_n = J_n / J_0; inu2 = 1 / nu^2; ok: converged).
template <class W> __device__ GPUAD_NOINLINE W bgrat_series(W b, W z, W T, W inu2, W rho, bool& ok) {
    const W T2 = T * T;
    W p[16];
    p[0] = W(1);
    W K = W(1), Tn = W(1), sum = W(1);
    ok = false;
    for (int n = 1; n < 16; ++n) {
        W acc = W(0);
        for (int k = 1; k <= n; ++k) acc = acc + W(k * bgrat_l(k)) * p[n - k];
        p[n] = (b - W(1)) * acc / W(double(n));
        const W s = b + W(2.0 * (n - 1));
        K = (s * (s + W(1)) * K + (s + W(1) + z) * rho * Tn) * inu2;
        Tn = Tn * T2;
        const W term = p[n] * K;
        sum = sum + term;
        if (negligible(term, sum)) {
            ok = true;
            break;
        }
    }
    return sum;
}

// I_x(a, b) = mult e^l for large a and small b, x near 1, lx = log x (accurate: from
// log1p(-y) where y = 1 - x is the exact one): the expansion of DiDonato & Morris 1992 (ACM
// TOMS 18(3), section 9, their BGRAT, after Temme). With x = e^-T, nu = a + (b - 1)/2,
// z = nu T, t = e^-s turns I_x into 1/B(a, b) int_T^inf e^(-nu s) s^(b-1) phi(s) ds,
// phi(s) = (sinh(s/2)/(s/2))^(b-1) = sum_n p_n s^2n (the exponential of (b - 1) sum_k L_k
// s^2k, convergent for |s| < 2 pi), so I_x = e^R sum_n p_n J_n, J_n = Gamma(b + 2n, z) /
// (Gamma(b) nu^2n), R = bgrat_log_ratio. Here K_n = J_n / J_0 (J_0 = Q(b, z)) by the upward
// recurrence of Gamma(s, z) (DLMF 8.8.2): K_(n+1) = ((b+2n)(b+2n+1) K_n + (b+2n+1+z) rho
// T^2n) / nu^2, rho = z^b e^-z / (Gamma(b) Q(b, z)). log_form: l = R + log Q + log sum,
// mult = 1 (no Q formed); else l = R, mult = Q sum (Q ~ b as b -> 0 kept out of the exp,
// as log_beta_front's factor).
template <class W> __device__ GPUAD_NOINLINE W bgrat(W a, W b, W lx, bool log_form, W& mult, bool& ok) {
    const W nu = a + (b - W(1)) * W(0.5), T = -lx, z = nu * T;
    // log Q itself, not log(Q): on nested duals log(Q)'s second derivative divides by Q^2,
    // which underflows where Q < 1e-154 (z > ~350)
    const W lq = log_gamma_pq(b, z, true, ok);
    if (!ok) return nan_like<W>();
    const W rho = exp(log_gamma_front(b, z) - lq);
    const W sum = bgrat_series(b, z, T, W(1) / (nu * nu), rho, ok);
    const W R = bgrat_log_ratio(b, nu);
    mult = log_form ? W(1) : gamma_pq(b, z, true) * sum;
    return log_form ? R + lq + log(sum) : R;
}

// I_x0(a0, b0) = mult e^l, the side that is below about 1/2: x0 < (a0 + 1)/(a0 + b0 + 2),
// y0 = 1 - x0 (the smaller of the two exact). The continued fraction, or for large a0, small
// b0 and x0 near 1 the expansion above. Where only e^l mult is used (exp_only) and
// l < -2200 (mult = factor cf, two doubles, is below DBL_MAX^2 ~ e^1419, so e^l mult is below
// the smallest subnormal, e^-744) the fraction is not run: mult = its factor, the side 0 with
// every derivative (the true ones underflow too).
// There it could fail: at x0 = 1 - y0 rounded (b = 1e30, a = 1e-10, x = 1e-20: x0 = 1 with
// shape 1e30) it ran out of iterations and betainc was NaN where it is 1.
template <class W>
__device__ GPUAD_NOINLINE W beta_small(W a0, W b0, W x0, W y0, bool log_form, W& mult, bool& ok,
                                       bool exp_only) {
    if (a0 >= BGRAT_A && b0 <= BGRAT_B) {
        const W lx = y0 <= W(0.5) ? log1p(-y0) : log(x0);
        if (-(a0 + (b0 - W(1)) * W(0.5)) * lx <= W(BGRAT_Z))
            return bgrat(a0, b0, lx, log_form, mult, ok);
    }
    W factor;
    const W l = log_beta_front(a0, b0, x0, y0, factor);
    if (exp_only && primal(l) < -2200) {
        ok = true;
        mult = factor;
        return l;
    }
    const W cf = beta_cf(a0, b0, x0, ok);
    // log_form: log factor + log cf, never log(factor cf), whose partials in b0 (factor = b0)
    // and then another variable pass through terms ~1/b0 that cancel (d2/db dx log I was
    // 1.5e-8 off at (30, 1e-8, 1/2), 1.1e-4 at b = 1e-12; d2/da db 2.7e-10, 3.6e-6)
    if (log_form) {
        mult = cf;
        return l + log(factor);
    }
    mult = factor * cf;
    return l;
}

// x (1 - x) from x and y = 1 - x, the smaller of which is exact (the caller's argument, or
// 1 - x >= 1/2, exact): m - m^2 of that one, m, whose derivative m' (1 - 2m) is exact for m in
// [1/4, 1/2] (Sterbenz). x y with y = 1 - x rounded (x in [1/4, 1/2)) has y - x off by up to
// an ulp of y, ~5e-17 / (1 - 2x) relative in the slope: the density's derivative in x
// (d2/dx2 of I) was 5.1e-7 off at (5.06e-85, 2.65e-93, 0.5 - 5.4e-11).
template <class W> __device__ inline W x_one_minus_x(const W& x, const W& y) {
    const W& m = y < x ? y : x;
    return m - m * m;
}
// (a - 1) log x + (b - 1) log y, y = 1 - x, as (s - 1) log(x y) + d log(x / y), s = (a + b)/2,
// d = (a - b)/2, for its derivatives: the slope (s - 1)(1 - 2x)/(x y) + d/(x y) has no
// cancellation at a = b, where (a - 1)/x - (b - 1)/y cancels to (a - 1)(1 - 2x)/(x y) near
// x = 1/2 (each quotient's rounding, and y's, then ~eps / (1 - 2x) relative: d2/dx2 of I was
// 8.3e-9 off at (2, 2, 0.49999999), 2.3e-10 at (30, 30, 0.5000001)). For 1/4 < x < 3/4, where
// its derivatives in a and b, log(x y) +- log(x / y) halved, do not cancel either.
template <class W> __device__ inline W beta_log_slope(const W& a, const W& b, const W& x,
                                                      const W& y) {
    const W lx = x <= W(0.5) ? log(x) : log1p(-y), ly = y <= W(0.5) ? log(y) : log1p(-x);
    return ((a + b) * W(0.5) - W(1)) * log(x_one_minus_x(x, y)) + (a - b) * W(0.5) * (lx - ly);
}

// I_z(p, q) and 1 - I_z(p, q) by DLMF 8.17.7 (small_shape_applies says where): zc = 1 - z (the
// smaller of the two exact). I_z(p, q) = z^p / (p B(p, q)) F, F = 2F1(p, 1 - q; p + 1; z) =
// 1 + p S, S = sum_j>=1 (1 - q)_j z^j / (j! (p + j)) (its terms fall as (q z)^j / j! for large q,
// q z < 2, and as z^j for small q).
// One small shape p <= q, q >= BETA_SMALL_Q: z^p / (p B(p, q)) = e^(p e1), e1 = log z +
// (lgamma(q + p) - lgamma(q)) / p - lgamma(1 + p) / p. So I_z(p, q) = e^(p e1) (1 + p S), log
// I_z(p, q) = p e1 + log1p(p S), and (comp) 1 - I_z(p, q) = p K = -expm1(p e1) - p e^(p e1) S, log:
// log p + log K, K = -e1 exprel(p e1) - e^(p e1) S: the 1 cancelled exactly, the factor p out of
// every exp and log. 1 - I_z(p, q) as 1 minus I_z(p, q) ~ 1 lost everything below ~1e-16
// (betainc(7.3, 1e-20, 1 - 3.7e-10) was -2.6e-17, true 1.9e-19; 6.5e-9 relative at b = 1e-8), and
// the derivatives of I ~ 1 in the other shape, O(p), kept only an absolute ~1e-17 (d2/db2 of
// betainc(1e-20, 7.3, 3.7e-10): -6.9e-18, true -2.2e-22). log I as log1p(-p K) would cancel K^2
// against 2 K' in d2/dp2 (1e-11 at z = 1e-300); as exp(log p + log K), -1/p^2 against (1/p)^2 (p =
// 1e-20: d2/dp2 lost). As p -> 0, K -> -(log z + psi(q) + gamma) - S: DiDonato & Morris 1992's
// APSER (first order only, whose second derivatives in p would be 0).
// Both shapes below BETA_SMALL_Q (either the larger), z <= 1/2: Gamma(q) = Gamma(1 + q)/q gives
// z^p / (p B(p, q)) = e^(p c) q/(p + q), c = log z + lgamma1p_diff_over_p(q, p) - lgamma1p(p)/p
// (lgamma_shift_over_p's polygammas ~k!/q^(k+1) overflowed before p^k/k! could shrink them:
// I was inf at (1e-20, 1e-19, 1/2)). With e^(p c) (1 + p S) = 1 + p X, X = c exprel(p c) +
// e^(p c) S ~ log(z/(1 - z)) <= ~0 (c ~ log z, S ~ -log(1 - z)) and h = p q/(p + q):
// I_z(p, q) = q/(p + q) + h X and 1 - I_z(p, q) = p/(p + q) - h X (log: log(p/(p + q)) +
// log1p(-q X)), whose terms add where e^(p c) >= ~1/2; below (p |log z| large) I_z(p, q) =
// e^(p c) q/(p + q) (1 + p S) < ~1/4, and 1 - I_z(p, q) 1 minus it. q/(p + q), p/(p + q) and h
// by share, whose second partials carry the leading terms. The continued fraction's 1 minus a
// complement ~1 lost all of 1 - I ~ p/q (betainc(1e-40, 1e-60, 1/2) was -1.6e-15, true 1e-20),
// 8 digits at (0.01, 1e-10, 0.99); d2/da db was off by 1e4 at (1e-20, 1e-20, 0.3).
// The density d/dz I_z(p, q) = p e^(p e1) zc^(q - 1) / z: over I_z(p, q), p zc^(q - 1) /
// (z (1 + p S)); over 1 - I_z(p, q), e^(p e1) zc^(q - 1) / (z K), or (both small)
// q e^(p c) zc^(q - 1) / (z M), M = 1 - q X: no partials through the ~1/p or 1/q factors the
// two share (d2/db dx log I was 0 at a = b = 1e-20, x = 0.3, true -1.7e-20).
// form: what beta_small_shape returns: I_z(p, q) (1 - I_z(p, q): comp), its log, or the
// density over it.
enum SmallForm { SMALL_VALUE, SMALL_LOG, SMALL_DX_RATIO };
constexpr double BETA_SMALL_P = 1, BETA_SMALL_Q = 0.2, BETA_SMALL_W = 1.5;
template <class W>
__device__ GPUAD_NOINLINE W beta_small_shape(W p, W q, W z, W zc, bool comp, SmallForm form,
                                             bool& ok) {
    W r = W(1), S = W(0);
    ok = false;
    for (int j = 1; j < 2000; ++j) {
        r = r * (W(double(j)) - q) * z / W(double(j));        // (1 - q)_j z^j / j!
        const W t = r / (p + W(double(j)));
        S = S + t;
        if (negligible(t, S)) {
            ok = true;
            break;
        }
    }
    const W lz = z <= W(0.5) ? log(z) : log1p(-zc);
    const W lg1 = p <= W(LGAMMA1P_SERIES) ? lgamma1p_over_a(p) : lgamma(p + W(1)) / p;
    // the density's zc^(q - 1) / z as zc^q / (z zc): z zc's derivative 1 - 2z is exactly 0 at
    // z = 1/2, where (q - 1)/zc - 1/z = -2q lost q against 2 - 2 (d2/dx2 log I was 0 at
    // (1e-40, 1e-60, 1/2)); and exact beside it (x_one_minus_x)
    W lzc, zzc;
    if (form == SMALL_DX_RATIO) {
        lzc = zc <= W(0.5) ? log(zc) : log1p(-z);
        zzc = x_one_minus_x(z, zc);
        if (!comp) return p * exp(q * lzc) / (zzc * (W(1) + p * S));
    }
    if (q >= W(BETA_SMALL_Q)) {
        const W e1 = lz + lgamma_shift_over_p(q, p) - lg1, pe = p * e1;
        if (!comp) return form == SMALL_LOG ? pe + log1p(p * S) : exp(pe) * (W(1) + p * S);
        // p K = -expm1(p e1) - p e^(p e1) S: p K's own form, whose derivatives do not pass
        // through K's (~1/p larger: e1's in a shape q times p e1's in x overflowed at p = 1e-60,
        // q = 1e-50, x = 1e-300, where d2/dq dx (1 - I) is 1e280)
        if (form == SMALL_VALUE) return -expm1(pe) - p * exp(pe) * S;
        const W K = -e1 * exprel(pe) - exp(pe) * S;
        if (form == SMALL_LOG) return log(p) + log(K);
        return exp(pe + q * lzc) / (zzc * K);
    }
    const W c = lz + lgamma1p_diff_over_p(q, p) - lg1, pc = p * c;
    if (!comp && form == SMALL_LOG) return pc + log_share(q, p) + log1p(p * S);
    const W X = c * exprel(pc) + exp(pc) * S;
    if (form == SMALL_DX_RATIO) return q * exp(pc + q * lzc) / (zzc * (W(1) - q * X));
    // I_z(p, q) = q/(p + q) + h X (e^(p c) (1 + p S) = 1 + p X): as e^(p c) q/(p + q) (1 + p S)
    // its partials in x and p carry p q/(p + q) as p share(q, p), which cancels by p/q (d2/da dx
    // at (1e-10, 1e-20, 0.1) 6e-7 off, 0 at (1e-40, 1e-60, 1/2)). That form, and 1 - I as 1
    // minus it, where e^(p c) < ~1/2 (p |log z| large): there q/(p + q) + h X would cancel, and
    // so would p/(p + q) - h X's partials in p (5 - 5 to 2.4e-8 at (0.05, 0.05, 1e-200))
    if (primal(pc) < -0.69) {
        const W i = exp(pc) * share(q, p) * (W(1) + p * S);
        if (!comp) return i;
        return form == SMALL_LOG ? log1p(-i) : W(1) - i;
    }
    // h X, h = p q/(p + q): for shapes over 1e150 apart, the larger above 1e-150, as
    // (smaller) (share(larger, smaller) X), the small factor outermost. half_harmonic's
    // partial in the larger shape, the smaller's share squared, underflows there and took X's
    // partial in x with it (d2/db dx of I at (1.5e-168, 0.0061, 2.9e-182) was 1.2e-154, true
    // 2.1e-150); share's second partials, ~1/larger^2, which this product rule needs
    // (half_harmonic's comment), do not overflow there
    const double pv = primal(p), qv = primal(q);
    const W hX = pv <= 1e-150 * qv && qv >= 1e-150   ? p * (share(q, p) * X)
                 : qv <= 1e-150 * pv && pv >= 1e-150 ? q * (share(p, q) * X)
                                                     : half_harmonic(p, q) * X;
    if (!comp) return share(q, p) + hX;
    return form == SMALL_LOG ? log_share(p, q) + log1p(-q * X) : share(p, q) - hX;
}

// Whether I_x(a, b) is taken from beta_small_shape, and with which shape as p (b_side: p = b,
// z = y, I_x(a, b) = 1 - I_y(b, a); else p = a, z = x):
// - both shapes below BETA_SMALL_Q: always, p the shape of the smaller of x, y (z <= 1/2);
// - else the smaller shape p <= BETA_SMALL_P and z below the (p, q, z) side's switch,
//   z (p + q + 2) < p + 1, or a little above it, z (p + q + 2) < BETA_SMALL_W, where the
//   continued fraction needs O(sqrt(q)) steps (5.9e-13 relative at q = 1e4, p = 1e-20; 7.6e-8
//   in d2/da2 at a = 1e4, b = 0.3, x = 0.99987). There q z < 1.5, and 1 - I_z(p, q) ~ p E1(q z)
//   (large q) is at least a tenth of K's terms ~log(q z) + gamma: the cancellation within K
//   stays below a digit (beyond the switch at p ~ 1, q z ~ 2.9, it cost two: not taken).
template <class W>
__device__ inline bool small_shape_applies(const W& a, const W& b, const W& x, const W& y,
                                           bool& b_side) {
    if (primal(a) < BETA_SMALL_Q && primal(b) < BETA_SMALL_Q) {
        b_side = primal(y) < primal(x);
        return true;
    }
    b_side = primal(b) <= primal(a);
    const double p = b_side ? primal(b) : primal(a), q = b_side ? primal(a) : primal(b);
    const double z = b_side ? primal(y) : primal(x);
    if (!(p <= BETA_SMALL_P && z * (p + q + 2) < fmax(p + 1, BETA_SMALL_W))) return false;
    // and 1 - I_z(p, q) ~ -p e1 at most ~1/2, p |log z + psi(q) + gamma| <= 1: where I_z(p, q)
    // is small (p ~ 1, z << the switch) its q-derivatives pass through terms ~e^(p e1) / q^2
    // that cancel to ~z^2 (d2/da2 betainc(2.5, 1, 0.9999) 3.5e-10 off), while the side's own
    // fraction is accurate and its complement has no cancellation
    return p * fabs(log(z) + special::psi(0, q) + EULER_GAMMA) <= 1;
}

// I_x(a, b) or 1 - I_x(a, b) (upper), their logs or d/dx I_x(a, b) over them (form), by
// beta_small_shape where small_shape_applies gave b_side; NaN if S did not converge.
template <class W>
__device__ inline W small_shape_i(W a, W b, W x, W y, bool b_side, bool upper, SmallForm form) {
    bool ok;
    const W v = b_side ? beta_small_shape(b, a, y, x, !upper, form, ok)
                       : beta_small_shape(a, b, x, y, upper, form, ok);
    return ok ? v : nan_like<W>();
}

// I_x(a, b) (upper = false) or 1 - I_x(a, b) (upper = true), a, b > 0, 0 < x < 1: for a small
// shape beta_small_shape; else the side below the switch directly, the other as its
// complement.
template <class W> __device__ GPUAD_NOINLINE W beta_i(W a, W b, W x, bool upper = false) {
    const W y = W(1) - x;
    bool ok, b_side;
    if (small_shape_applies(a, b, x, y, b_side))
        return small_shape_i(a, b, x, y, b_side, upper, SMALL_VALUE);
    W mult;
    const bool direct = x * (a + b + W(2)) < a + W(1);
    const W l = direct ? beta_small(a, b, x, y, false, mult, ok, true)
                       : beta_small(b, a, y, x, false, mult, ok, true);
    if (!ok) return nan_like<W>();
    const W v = mult * exp(l);
    return direct == upper ? W(1) - v : v;
}

// log I_x(a, b) (upper = false) or log(1 - I_x(a, b)) (upper = true): for a small shape
// beta_small_shape's logs; else the computed side's log itself, the other's as log1p(-I) of
// that side (above about 1/2: no cancellation).
// y = 1 - x, passed: the caller may know it exactly (log_t_tail's y^2/(df + y^2)).
template <class W> __device__ GPUAD_NOINLINE W log_beta_i_xy(W a, W b, W x, W y, bool upper) {
    bool ok, b_side;
    if (small_shape_applies(a, b, x, y, b_side))
        return small_shape_i(a, b, x, y, b_side, upper, SMALL_LOG);
    W mult;
    const bool direct = x * (a + b + W(2)) < a + W(1);
    // as the complement (direct == upper) only the computed side's exp enters (beta_small's
    // exp_only), as log1p(-v) of v = mult e^l with its factor (a shape) out of the exp: exp(l +
    // log factor) differentiated twice in that shape cancels -1/factor^2 against
    // (1/factor)^2 (d2/da2 log I was 1.4e-8 off at a = 1e-8, b = 2, x = 0.8; 4.4e-5 at
    // a = 1e-12, b = 30, x = 1/2)
    const bool comp = direct == upper;
    const W l = direct ? beta_small(a, b, x, y, !comp, mult, ok, comp)
                       : beta_small(b, a, y, x, !comp, mult, ok, comp);
    if (!ok) return nan_like<W>();
    return comp ? log1p(-(mult * exp(l))) : l + log(mult);
}
template <class W> __device__ GPUAD_NOINLINE W log_beta_i(W a, W b, W x, bool upper = false) {
    return log_beta_i_xy(a, b, x, W(1) - x, upper);
}

// SciPy's values at the edges: NaN outside a, b >= 0, 0 <= x <= 1; the limits in x; a = 0
// (b > 0): 1 for x > 0; b = 0 (a > 0): 0 for x < 1; NaN at a = b = 0. upper: 1 - I
// (scipy.special.betaincc), its own edge values 1 - those.
template <class W> __device__ GPUAD_NOINLINE W beta_i_edges(W a, W b, W x, bool upper = false) {
    if (!(a >= 0) || !(b >= 0) || !(x >= 0) || !(x <= 1) || (a == 0 && b == 0)) return nan_like<W>();
    double e = -1;                                          // a constant edge value of I
    if (a == 0) e = x > 0 ? 1.0 : 0.0;
    else if (b == 0) e = x < 1 ? 0.0 : 1.0;
    else if (x == 0) e = 0;
    else if (x == 1) e = 1;
    if (e >= 0) return W(upper ? 1 - e : e);
    if (primal(a) == special::inf() || primal(b) == special::inf()) return nan_like<W>();
    return beta_i(a, b, x, upper);
}

// log I_x(a, b) with beta_i_edges' values (log 0 = -inf, log 1 = 0, constants: derivative 0),
// except at x = 0 (a, b > 0): a log x - log(a B(a, b)), the leading term of log I, whose value
// is -inf and whose derivatives in a and b are their limits as x -> 0 (-inf; psi(a + b) -
// psi(b)), not the 0 of a constant.
template <class W> __device__ GPUAD_NOINLINE W log_beta_i_edges(W a, W b, W x) {
    if (!(a >= 0) || !(b >= 0) || !(x >= 0) || !(x <= 1) || (a == 0 && b == 0)) return nan_like<W>();
    const double ninf = -special::inf();
    if (a == 0) return W(x > 0 ? 0.0 : ninf);
    if (b == 0) return W(x < 1 ? ninf : 0.0);
    if (primal(a) == special::inf() || primal(b) == special::inf()) return nan_like<W>();
    // (with the next term, a (1 - b) / (a + 1) x of 2F1(a, 1 - b; a + 1; x)'s log, DLMF
    // 8.17.7, so that d2/dx db has its limit -a / (a + 1), as log_beta_dx's a / x + that)
    if (x == 0)
        return a * log(x) - log(a) - lgamma(a) - lgamma(b) + lgamma(a + b)
               + a * (W(1) - b) / (a + W(1)) * x;
    if (x == 1) return W(0);
    return log_beta_i(a, b, x);
}

// The beta density at x = 0 (p, the shape of that side's exponent, q the other's; at x = 1
// p = b, q = a, t = 1 - x), its limit: inf (p < 1), B(1, q)^-1 = q (p = 1), else 0. On duals
// (second order) its partials' limits too, d/dt -inf (p < 1), -(q - 1) q (p = 1), +inf
// (1 < p < 2), 1 / B(2, q) = q (q + 1) (p = 2), 0 (p > 2); d/dp -inf (p <= 1); d/dq +inf
// (p < 1: inf (psi(p + q) - psi(q))), 1 (p = 1), 0 (p > 1): a constant's 0 was wrong by all
// but the last (d2/dx2 of betainc(1, 3, x) at 0 was 0, true -6). Deeper nestings keep it.
template <class W> __device__ inline W beta_density_at_edge(W p, W q, W) {
    return p < 1 ? W(special::inf()) : (p == 1 ? q : W(0));
}
template <int N>
__device__ inline Dual<double, N> beta_density_at_edge(Dual<double, N> p, Dual<double, N> q,
                                                       Dual<double, N> t) {
    const double s = p.v, o = q.v, inf = special::inf();
    const double gt = s < 1 ? -inf : s == 1 ? -(o - 1) * o : s < 2 ? inf : s == 2 ? o * (o + 1) : 0.0;
    const double gp = s <= 1 ? -inf : 0.0, gq = s < 1 ? inf : s == 1 ? 1.0 : 0.0;
    return with_limits(Dual<double, N>(beta_density_at_edge(s, o, 0.0)), gt, t, gp, p, gq, q);
}

// d/dx I_x(a, b) = x^(a-1) (1-x)^(b-1) / B(a, b), the beta density; at x = 0 and 1 the
// one-sided limits (beta_density_at_edge).
// NaN where I is NaN (beta_i_edges); 0 at a = 0 or b = 0, where I is a constant (0 or 1).
template <class W> __device__ GPUAD_NOINLINE W beta_density(W a, W b, W x) {
    if (!(a >= 0) || !(b >= 0) || !(x >= 0) || !(x <= 1) || (a == 0 && b == 0)) return nan_like<W>();
    if (a == 0 || b == 0) return W(0);
    if (primal(a) == special::inf() || primal(b) == special::inf()) return nan_like<W>();
    if (x == 0) return beta_density_at_edge(a, b, x);
    if (x == 1) return beta_density_at_edge(b, a, W(1) - x);
    const W y = W(1) - x;
    W factor, e;
    // log(x y), not log x + log y: its derivative in x, (1 - 2x)/(x y), is exactly 0 at x = 1/2,
    // where (a - 1)/x - (b - 1)/y = 2 (a - b) for shapes ~1e-40 was lost against -2 + 2
    // (d2/dx2 of betainc(1e-40, 1e-60, 1/2) was 0, true 8e-100). Near x = 1/2 the slope in x
    // from beta_log_slope: e at x's value held constant (x0) plus that form's change from x0
    // (value 0; x0's derivative components 0, those in a and b the same on both sides)
    if (is_dual<W>::value && x > W(0.25) && x < W(0.75)) {
        const W x0 = W(primal(x)), y0 = W(1) - x0;
        e = log_beta_front(a, b, x0, y0, factor) - log(x_one_minus_x(x0, y0))
            + (beta_log_slope(a, b, x, y) - beta_log_slope(a, b, x0, y0));
    } else {
        e = log_beta_front(a, b, x, y, factor) - log(x_one_minus_x(x, y));
    }
    // a factor kept out of the exp (log_beta_front), unless the exp alone or its derivative in
    // x, ~e^e / min(x, y), overflows: e^828 at a = b = 1e-60, x = 1e-300, where a factor =
    // 1e-120 (the density, ~5e239, was inf and its derivative in a NaN); d/dx of the density
    // was -inf at (5.5e-13, 1.4e-3, 3.3e-156), true -5e298. log a + log factor, not
    // log(a factor), which underflows for a b below 5e-324
    if (primal(e) - log(fmin(primal(x), primal(y))) > 700) return exp(e + log(a) + log(factor));
    // a (factor e^e), not (a factor) e^e: a factor underflows for a b below 5e-324 (density 0
    // at a = b = 1e-170, x = 1/2, true 2e-170), factor e^e = density / a does not
    return a * (factor * exp(e));
}

// d/dx log I_x(a, b) = density / I: where I is beta_small_shape's, its form with the factors
// density and I share cancelled; a / (x y cf) below the switch (the continued fraction's
// side), density / I above it (I >= ~1/2), else (the expansion) exp(log density - log I)
// (neither underflows); +inf at x = 0 (a / x as x -> 0), the density at x = 1 (I = 1); 0 at
// a = 0 or b = 0 (constants); NaN where the value is.
template <class W> __device__ GPUAD_NOINLINE W log_beta_dx(W a, W b, W x) {
    if (!(a >= 0) || !(b >= 0) || !(x >= 0) || !(x <= 1) || (a == 0 && b == 0)) return nan_like<W>();
    if (a == 0 || b == 0) return W(0);
    if (primal(a) == special::inf() || primal(b) == special::inf()) return nan_like<W>();
    // x = 0: a / x plus the next term's slope (log_beta_i_edges): d2/dx2 -inf, d2/da dx +inf,
    // d2/db dx -a / (a + 1), the limits (a constant inf had 0). x = 1: p / I with
    // I = 1 + p (x - 1) to first order (d2/dx2 p' - p^2; p alone had p'), p alone where
    // p = inf (b < 1), whose p' dominates
    if (x == 0) return a / x + a * (W(1) - b) / (a + W(1));
    if (x == 1) {
        const W p = beta_density(a, b, x);
        return b < 1 ? p : p / (W(1) + p * (x - W(1)));
    }
    const W y = W(1) - x;
    bool b_side;
    if (small_shape_applies(a, b, x, y, b_side))
        return small_shape_i(a, b, x, y, b_side, false, SMALL_DX_RATIO);
    if (!(x * (a + b + W(2)) < a + W(1))) return beta_density(a, b, x) / beta_i(a, b, x);
    const W lx = y <= W(0.5) ? log1p(-y) : log(x);
    if (!(a >= BGRAT_A && b <= BGRAT_B && -(a + (b - W(1)) * W(0.5)) * lx <= W(BGRAT_Z))) {
        // I = front cf and the density = a front / (x y) share the front: density / I =
        // a / (x y cf), without the cancellation of (log front)' against (log I)' (both ~ a/x
        // far in the lower tail) that differentiating exp(log density - log I) would meet
        bool ok;
        const W cf = beta_cf(a, b, x, ok);
        return ok ? a / (x_one_minus_x(x, y) * cf) : nan_like<W>();
    }
    W factor;
    const W l = log_beta_front(a, b, x, y, factor);
    return exp(l + log(a * factor) - log(x) - log(y) - log_beta_i(a, b, x));
}

// ---------------------------------------------------------------- Student's t
// The distribution function of Student's t (scipy.special.stdtr), with df and y as the
// variables: as betainc of df/2 and y^2/(df + y^2), the derivative in df would be the sum of
// two terms O(1/df) through the two arguments, cancelling to O(1/df^2) (relative error
// ~1e-16 df: 1e-6 at df = 1e10, 1e-11 at 1e3). Here, for df >= T_DF and u = y^2/df <= T_U,
// the expansion of bgrat with a = df/2, b = 1/2, x = 1/(1 + u) is written in (df, y)
// directly, each quantity formed without that cancellation: T = log1p(u), z = nu T =
// y^2/2 (1 - 1/(2 df)) (1 + m(u)), R by bgrat_log_ratio (a series in nu^-2); elsewhere
// betainc's forms (A&S 26.7.1, 26.5.27), whose cancellation there costs at most ~1e-16 T_DF
// or ~1e-16 / T_U relative (measured against mpmath: 8e-14 at df = 99).
constexpr double T_DF = 100, T_U = 0.05, T_HUGE = 1e150;   // nu^2 overflows above T_HUGE

// m(u) = log(1 + u)/u - 1 = sum_k>=1 (-u)^k / (k + 1), |u| <= T_U (no division by u).
template <class W> __device__ GPUAD_NOINLINE W log1p_ratio_m1(W u) {
    W p = W(1), s = W(0);
    for (int k = 1; k < 40; ++k) {
        p = p * (-u);
        const W t = p / W(k + 1.0);
        s = s + t;
        if (negligible(t, s)) break;
    }
    return s;
}

// lgamma((df + 1)/2) - lgamma(df/2) - log(nu)/2, nu = df/2 - 1/4, df >= T_DF: R of bgrat
// (0 above T_HUGE, where it is below 1e-300 and nu^2 would overflow).
template <class W> __device__ GPUAD_NOINLINE W t_ratio(W df) {
    return primal(df) > T_HUGE ? W(0) : bgrat_log_ratio(W(0.5), df * W(0.5) - W(0.25));
}

// log1p(u), u = y^2/df, also where u or y^2 overflow (|y| > 1.3e154, small df): above
// u = 1e300 as 2 log|y| - log(df) + log1p(df/y^2), df/y^2 formed as (df/|y|)/|y|. On duals
// its partials in closed form, -u/(df + y^2) and 2y/(df + y^2), for u > 1 as
// -1/(df (1 + r)) and 2/(y (1 + r)), r = df/y^2: differentiating log1p(y^2/df) through the
// quotient formed -u/df, which overflows where the partial (~ -1/df) does not (d2/ddf dy of
// stdtr on the HVP's duals was inf at df = 1e-100, y = -1e80, true 5e-81).
template <class W> __device__ GPUAD_NOINLINE W t_log1p_u(W df, W y);
struct TLog1pU {
    template <class S> __device__ static S f(S df, S y) { return t_log1p_u(df, y); }
    template <class S> __device__ static S dfx(S df, S y) {
        if (primal(y) * primal(y) <= primal(df)) {
            const S y2 = y * y;
            return -(y2 / df) / (df + y2);          // (not over df^2: it underflows at y = 0)
        }
        const S ay = fabs(y);
        return S(-1) / (df * (S(1) + df / ay / ay));
    }
    template <class S> __device__ static S dfy(S df, S y) {
        if (primal(y) * primal(y) <= primal(df)) return S(2) * y / (df + y * y);
        const S ay = fabs(y);
        return S(2) / (y * (S(1) + df / ay / ay));
    }
};
template <class W> __device__ GPUAD_NOINLINE W t_log1p_u(W df, W y) {
    if constexpr (is_dual<W>::value) {
        return binary_chain<TLog1pU>(df, y);
    } else {
        const W u = y * y / df;
        if (u <= 1e300) return log1p(u);
        const W ay = fabs(y);
        return W(2) * log(ay) - log(df) + log1p(df / ay / ay);
    }
}

// log of the t density, df > 0 finite: lgamma((df+1)/2) - lgamma(df/2) - log(df pi)/2 -
// (df+1)/2 log1p(y^2/df); for df >= T_DF as R - log(2 pi)/2 + log1p(-1/(2 df))/2 -
// y^2/2 (1 + 1/df)(1 + m(u)) (the same, without the O(1/df) differences).
template <class W> __device__ GPUAD_NOINLINE W t_log_pdf(W df, W y) {
    const W y2 = y * y, u = y2 / df;
    if (df >= T_DF) {
        const W lt = u <= T_U ? y2 * W(0.5) * (W(1) + W(1) / df) * (W(1) + log1p_ratio_m1(u))
                              : (df + W(1)) * W(0.5) * t_log1p_u(df, y);
        return t_ratio(df) - W(HALF_LOG_2PI) + W(0.5) * log1p(W(-0.5) / df) - lt;
    }
    return lgamma((df + W(1)) * W(0.5)) - lgamma(df * W(0.5))
           - W(0.5) * log(df * W(3.14159265358979323846))
           - (df + W(1)) * W(0.5) * t_log1p_u(df, y);
}

// The expansion's P(T <= -|y|) = e^l sum / 2 (df >= T_DF, u = y^2/df <= T_U): l = R +
// log Q(1/2, z) returned, the series in `sum`; ok: converged.
template <class W> __device__ GPUAD_NOINLINE W t_tail_dm(W df, W y2, W u, W& sum, bool& ok) {
    const W z = y2 * W(0.5) * (W(1) - W(0.5) / df) * (W(1) + log1p_ratio_m1(u));
    const W lq = log_gamma_pq(W(0.5), z, true, ok);         // log erfc(sqrt(z)), as bgrat
    const W nu = df * W(0.5) - W(0.25);
    const W inu2 = primal(df) > T_HUGE ? W(0) : W(1) / (nu * nu);
    sum = ok ? bgrat_series(W(0.5), z, log1p(u), inu2, exp(log_gamma_front(W(0.5), z) - lq), ok)
             : W(1);
    return t_ratio(df) + lq;
}

template <class W> __device__ GPUAD_NOINLINE W log_t_tail_small_df(W df, W y, W w);
template <class W> __device__ GPUAD_NOINLINE W log_t_tail(W df, W y);

// P(T <= -|y|) = I_w(df/2, 1/2) / 2, w = df/(df + y^2), df > 0 finite, y finite.
template <class W> __device__ GPUAD_NOINLINE W t_tail(W df, W y) {
    const W y2 = y * y, u = y2 / df, h = df * W(0.5);
    if (df >= T_DF && u <= T_U) {
        W sum;
        bool ok;
        const W l = t_tail_dm(df, y2, u, sum, ok);
        return ok ? exp(l) * sum * W(0.5) : nan_like<W>();
    }
    // above T_HUGE from log_t_tail's form (the continued fraction's products overflow there:
    // NaN for |y| ~ sqrt(df) and above, e.g. df = 1e160, y = 1e140)
    if (primal(df) > T_HUGE) return exp(log_t_tail(df, y));
    const W den = df + y2, w = df / den;
    if (df <= W(1) && w <= W(0.5)) return exp(log_t_tail_small_df(df, y, w)) * W(0.5);
    return (w <= W(0.5) ? beta_i_edges(h, W(0.5), w)
                        : beta_i_edges(W(0.5), h, y2 / den, true)) * W(0.5);
}

// stdtr near y = 0, df > 0 finite: 1/2 + pdf(0) sum_k binom(-(df+1)/2, k) y^(2k+1) /
// ((2k+1) df^k), k <= 8 (the density's binomial series integrated; the first term left out
// is below (u^9 + (y^2/2)^9 / 9!) |y| relative, u = y^2/df). Term k is term k-1 times
// (-y^2/2 - (k - 1/2) u) / k: no coefficient ~df^-k (which overflowed for df below ~1e-38
// while y^2k underflowed: NaN), no difference of two terms ~1/df in its derivative in df
// (1e-2 relative at df = 1e14), and u as (y / sqrt(df))^2, whose derivatives in df do not
// overflow where y^2 is subnormal (y / df's would: -(y / df) / df at df = 1e-300).
template <class W> __device__ GPUAD_NOINLINE W stdtr_centre(W df, W y) {
    const W y2 = y * y, s = y / sqrt(df), u = s * s;
    W term = y, poly = y;
    for (int k = 1; k <= 8; ++k) {
        term = term * (W(-0.5) * y2 - W(k - 0.5) * u) / W(double(k));
        poly = poly + term / W(2.0 * k + 1);
    }
    return W(0.5) + exp(t_log_pdf(df, W(0))) * poly;
}

// SciPy's stdtr: NaN for df <= 0 or a NaN argument; y = -inf, inf: 0, 1; df = inf: ndtr(y).
template <class W> __device__ GPUAD_NOINLINE W stdtr_edges(W df, W y) {
    if (!(df > 0) || !(y == y)) return nan_like<W>();
    if (primal(y) == special::inf()) return W(1);
    if (primal(y) == -special::inf()) return W(0);
    if (primal(df) == special::inf()) return ndtr(y);
    // Near y = 0 (y^2 <= 1e-6 min(df, 1), y = 0 included) the series, exact there: value 1/2
    // + O(y), and every partial derivative through order 18 in y of the derivatives in df (the
    // mixed partials that differentiating d/ddf in y needs; the constant 1/2 would give them
    // 0). The tail's forms would meet y^2/(df + y^2)'s powers x^(-3/2) overflowing on duals
    // in y (|y| < ~1e-77: inf, NaN), y^2 underflowing (|y| < 1e-154: no derivatives), and
    // 1 - tail's cancellation in df (1e-16 absolute against partials O(|y|)).
    if (y * y <= W(1e-6) * (df < 1 ? df : W(1))) return stdtr_centre(df, y);
    const W p = t_tail(df, y);
    return y < 0 ? p : W(1) - p;
}
// d/dy stdtr = the t density (closed form); the limits 0 at y = +-inf; df = inf: the normal
// density; NaN where the value is.
template <class W> __device__ GPUAD_NOINLINE W stdtr_density(W df, W y) {
    if (!(df > 0) || !(y == y)) return nan_like<W>();
    if (primal(y) == special::inf() || primal(y) == -special::inf()) return W(0);
    if (primal(df) == special::inf()) return ndtr_d(y);
    return exp(t_log_pdf(df, y));
}

// h log w, h = df/2, w = df/(df + y^2), log w = log(df) - 2 log|y| - log1p(df/y^2) (neither
// overflows nor underflows; for df/y^2 below 20), with its partials in closed form,
// (log w + 1 - w)/2 and -df (1 - w)/y. On duals the second derivative in df, (1 - w)^2/(2 df),
// then comes from them, not from h log w's product rule, whose h (log w)'' ~ h/df^2
// underflows for df > ~1e154 while the sum does not.
template <class S> __device__ inline S t_log_w(S df, S y) {
    const S ay = fabs(y);
    return log(df) - S(2) * log(ay) - log1p(df / ay / ay);
}
struct THalfLogW {
    template <class S> __device__ static S f(S df, S y) { return df * S(0.5) * t_log_w(df, y); }
    template <class S> __device__ static S dfx(S df, S y) {
        const S ay = fabs(y);
        return S(0.5) * (t_log_w(df, y) + S(1) / (S(1) + df / ay / ay));
    }
    template <class S> __device__ static S dfy(S df, S y) {
        const S ay = fabs(y);
        return -df / (S(1) + df / ay / ay) / y;
    }
};
template <class W> __device__ GPUAD_NOINLINE W t_half_log_w(W df, W y) {
    if constexpr (is_dual<W>::value) return binary_chain<THalfLogW>(df, y);
    else return THalfLogW::f(df, y);
}

// Below w = e^T_LW (1e-30) log_t_tail takes the leading term of I_w (w underflows, or y^2
// overflows, long before its continued fraction would need more than one step).
constexpr double T_LW = -69.0;
constexpr double LOG_2 = 0.69314718055994530942, HALF_LOG_PI = 0.57236494292470008707;

// log I_w(h, 1/2), h = df/2, for df <= 1 and w = df/(df + y^2) <= 1/2, by DLMF 8.17.7:
// I_w(h, 1/2) = w^h / (h B(h, 1/2)) F, F = 2F1(h, 1/2; h + 1; w) = sum_k h/(h + k) (1/2)_k /
// k! w^k (positive terms, falling by w <= 1/2 or faster). Its w-derivative is O(h); the
// continued fraction's form, w^h (1 - w)^(1/2) / (h B) cf, carries the factor (1 - w)^(1/2)
// whose derivative in df, -w'/(2 (1 - w)) with w' = y^2/(df + y^2)^2 up to 1/(4 df), cancels
// against cf's to O(log(1/w)): d/ddf stdtr was 0 at df = 1e-100, y = -1e-40 (true -11.6),
// off by 1.4e-8 at df = 1e-20, y = -1e-5. h log w by t_half_log_w (its partials in closed
// form), log(h B(h, 1/2)) = lgamma(h + 1) + log(pi)/2 - lgamma(h + 1/2).
template <class W> __device__ GPUAD_NOINLINE W log_t_tail_small_df(W df, W y, W w) {
    const W h = df * W(0.5);
    W r = W(1), F = W(1);
    for (int k = 1; k < 400; ++k) {                      // 0.5^400: converged long before
        r = r * W((k - 0.5) / k) * w;
        const W t = h / (h + W(double(k))) * r;
        F = F + t;
        if (negligible(t, F)) break;
    }
    const W lhb = lgamma(h + W(1)) + W(HALF_LOG_PI) - lgamma(h + W(0.5));
    return t_half_log_w(df, y) - lhb + log(F);
}

// log P(T <= -|y|) = log I_w(df/2, 1/2) - log 2, w = df/(df + y^2), df > 0 finite, y finite
// (y = +-inf: -inf, with the leading term's derivative in df, its limit -inf), y != 0:
// t_tail in log space, finite where the tail underflows. The expansion's e^l sum as
// l + log(sum); for df <= 1, w <= 1/2 log_t_tail_small_df (DLMF 8.17.7's series);
// elsewhere log I from its prefactor's log (log_beta_i), w and 1 - w each
// formed directly; but for w < e^T_LW (|y| > 1e15 sqrt(df), |y| >= 1) and for df > T_HUGE
// (where the continued fraction's products overflow) from I_w(h, 1/2) = w^h (1 - w)^(1/2) /
// (h B(h, 1/2)) F, F = 2F1(h + 1/2, 1; h + 1; w), h = df/2 (DLMF 8.17.8): for tiny w
// log F = (h + 1/2)/(h + 1) w + O(w^2); for h > T_HUGE/2, where F's coefficients are
// 1 - k/(2h) + O(k^2/h^2), log F = -log(1 - w) - 1/y^2 + O(1/h^2), its -1/y^2 (below
// 20/df) dropped too.
template <class W> __device__ GPUAD_NOINLINE W log_t_tail(W df, W y) {
    const W y2 = y * y, u = y2 / df, h = df * W(0.5);
    if (df >= T_DF && u <= T_U) {
        W sum;
        bool ok;
        const W l = t_tail_dm(df, y2, u, sum, ok);
        return ok ? l + log(sum) - W(LOG_2) : nan_like<W>();
    }
    const W ay = fabs(y), r = df / ay / ay;                 // df/y^2 = w / (1 - w)
    // (|y| >= 1: the dropped O(w^2) of log P has second derivatives in df ~1/y^4, below
    // w/df relative to log P's there; above T_HUGE, u > T_U: w < 0.96)
    const W lw = t_log_w(df, y);
    const bool huge = primal(df) > T_HUGE;
    if ((ay >= 1 && lw < T_LW) || huge) {
        // log(h B(h, 1/2)): for df >= T_DF lgamma(h + 1/2) - lgamma(h) = R + log(nu)/2
        // (t_ratio), without the cancellation of the two lgammas
        const W lhb = df >= T_DF
            ? log(h) + W(HALF_LOG_PI) - t_ratio(df) - W(0.5) * log(h - W(0.25))
            : lgamma(h + W(1)) + W(HALF_LOG_PI) - lgamma(h + W(0.5));
        // log F; log(1 - w) = -log1p(r)
        const W lf = huge ? log1p(r) : (h + W(0.5)) / (h + W(1)) * exp(lw);
        return t_half_log_w(df, y) - W(0.5) * log1p(r) + lf - lhb - W(LOG_2);
    }
    // w = 1/(1 + u), 1 - w = u/(1 + u) for u <= 1, else r/(1 + r), 1/(1 + r): on duals each
    // derivative relative to the quantity's own size (df/(df + y^2) differentiated twice in y
    // passes through df/(df + y^2)^3, which underflows for y^2 above ~1e154 while the second
    // derivative does not)
    const bool small = u <= 1;
    const W w = small ? W(1) / (W(1) + u) : r / (W(1) + r);
    const W v = small ? u / (W(1) + u) : W(1) / (W(1) + r);
    if (df <= W(1) && w <= W(0.5)) return log_t_tail_small_df(df, y, w) - W(LOG_2);
    return log_beta_i_xy(h, W(0.5), w, v, false) - W(LOG_2);
}

// log stdtr(df, y) (SciPy's stdtr's log, in log space): NaN where stdtr is; df = inf:
// log_ndtr; y = inf: 0; for y^2 <= 1e-6 min(df, 1) the log of stdtr_centre's series (exact
// there, y = 0 included with its mixed partials; the tail's forms would meet y^2
// underflowing for |y| < 1e-154, 1 - w = 0 with no derivatives); y < 0: the log of the tail,
// y > 0: log1p(-tail), the tail from its log (below 1/2: no cancellation; t_tail's own tail
// underflows for small df where y^2 overflows, e.g. 3.5e-61 at df = 0.3, y = 1e200).
template <class W> __device__ GPUAD_NOINLINE W log_stdtr_edges(W df, W y) {
    if (!(df > 0) || !(y == y)) return nan_like<W>();
    if (primal(df) == special::inf()) return log_ndtr(y);
    if (primal(y) == special::inf()) return W(0);
    if (y * y <= W(1e-6) * (df < 1 ? df : W(1))) return log(stdtr_centre(df, y));
    const W l = log_t_tail(df, y);
    return y < 0 ? l : log1p(-exp(l));
}

// d/dy log stdtr = density / stdtr. For y >= -1 (stdtr >= 0.15 for every df) the two
// themselves (stdtr as the exp of its log: the series near 0); below, log_t_tail
// differentiated on a dual seeded in y: its log prefactor's derivative and its sum's, with no
// cancellation, where exp(log density - log tail) would lose ~1e-16 |log tail| relative
// (5e-10 at df = 1e6, y = -1e5; 1e-6 at df = 1e14, y = -1e5, in the expansion's region,
// where log Q(1/2, z) ~ -z = -5e9). The limits 0 at y = +-inf (density / stdtr ~ df/|y| as
// y -> -inf); df = inf: log_ndtr's; NaN where the value is.
template <class W> __device__ GPUAD_NOINLINE W log_stdtr_d(W df, W y) {
    if (!(df > 0) || !(y == y)) return nan_like<W>();
    if (primal(df) == special::inf()) return log_ndtr_d(y);
    if (primal(y) == special::inf() || primal(y) == -special::inf()) return W(0);
    if (y >= -1) return stdtr_density(df, y) / exp(log_stdtr_edges(df, y));
    Dual<W, 1> dd(df), yd(y);
    yd.d[0] = W(1);
    return log_t_tail(dd, yd).d[0];
}

// ---------------------------------------------------------------- mixed partials in x
// The derivative in x of a shape partial r of P or I (second order: r a dual, x's components
// among its own), where |r| is below SHAPE_PARTIAL_TINY: the density's shape partial (the same
// number, d/da d/dx = d/dx d/da; the HVP's kernel's order). Where P or I underflows, r's own
// x-components, through exp(l) of the underflowing side, were 0: d2P/da dx at a = 2,
// x = 1e-300 (true -6.9e-298), d2I/db dx at (1.75, 2.14, 6.3e-272) (true 6.4e-203). r is also
// tiny where the other shape is (dI/db ~ a, I normal): there the density's partial must keep
// psi(a + b) - psi(b) ~ a psi'(b) (beta_density_dab). The shapes' components from r with x
// held; above the threshold (exp(l) normal, with room for r's factors up to ~1e37) r as it
// is. Plain values and deeper nestings (third order: not formed) pass through.
constexpr double SHAPE_PARTIAL_TINY = 1e-270;
template <class W> __device__ inline W gamma_da_dx(W r, W, W, bool) { return r; }
template <int N>
__device__ GPUAD_NOINLINE Dual<double, N> gamma_da_dx(Dual<double, N> r, Dual<double, N> a,
                                                       Dual<double, N> x, bool upper) {
    if (!(fabs(r.v) < SHAPE_PARTIAL_TINY)) return r;
    using D = Dual<double, N>;
    Dual<D, 1> ad(a), xc(D(x.v));
    ad.d[0] = D(1.0);
    r = gamma_pq_edges(ad, xc, upper).d[0];
    Dual<double, 1> a1(a.v), x1(x.v);
    a1.d[0] = 1;
    const double g = gamma_density(a1, x1).d[0];
    for (int j = 0; j < N; ++j) r.d[j] = r.d[j] + scale(upper ? -g : g, x.d[j]);
    return r;
}
// d/da (which = 0) or d/db of the beta density, 0 < x < 1, normal finite shapes: the density
// (in logs where it is below 1e-290) times the shape partial of its log, a log x + b log(1 - x) + lgamma_ratio(s, m) - lgamma(s)
// (s, m = min, max(a, b)): log x + psi(a + b) - psi(a) or log(1 - x) + psi(a + b) - psi(b),
// each psi difference from lgamma_ratio's. As the density's own partial, through the factor
// b kept out of its exp (log_beta_front), the product rule's 1 - 1 (b e^e' with e' ~ -1/b)
// lost what remains, ~1e-300 at (1e-300, 3, 1e-300) (0, true -6.1e-301 density). Elsewhere
// (x = 0 or 1: the density's limits) the density's own partial.
__device__ GPUAD_NOINLINE double beta_density_dab(double a, double b, double x, int which) {
    Dual<double, 1> a1(a), b1(b);
    (which ? b1 : a1).d[0] = 1;
    if (!(x > 0 && x < 1 && a >= 2.2250738585072014e-308 && b >= 2.2250738585072014e-308
          && a <= 1.7976931348623157e308 && b <= 1.7976931348623157e308)) {
        return beta_density(a1, b1, Dual<double, 1>(x)).d[0];
    }
    const double y = 1 - x;
    const double lx = x <= 0.5 ? log(x) : log1p(-y), ly = y <= 0.5 ? log(y) : log1p(-x);
    const Dual<double, 1>& s = a <= b ? a1 : b1;
    const Dual<double, 1>& m = a <= b ? b1 : a1;
    const Dual<double, 1> l = a1 * lx + b1 * ly + lgamma_ratio(s, m) - lgamma(s);
    const double dens = beta_density(a, b, x), g = l.d[0];
    if (dens >= 1e-290 || g == 0) return dens * g;
    // the density (~ s R, s the tiny shape) underflows where the partial (~ R) need not:
    // exp(log density + log|g|) (0 at (3, 1e-200, 1e-100), true 1e-200)
    // (the front first, in its own statement: it sets factor, and the operands of one sum
    // are unsequenced, so log(factor) beside it could read factor unset; NVRTC warns #549)
    double factor;
    const double front = log_beta_front(a, b, x, y, factor);
    const double ld = front + log(a) + log(factor) - log(x_one_minus_x(x, y));
    return copysign(exp(ld + log(fabs(g))), g);
}
template <class W> __device__ inline W beta_dab_dx(W r, W, W, W, int, bool) { return r; }
template <int N>
__device__ GPUAD_NOINLINE Dual<double, N> beta_dab_dx(Dual<double, N> r, Dual<double, N> a,
                                                      Dual<double, N> b, Dual<double, N> x,
                                                      int which, bool upper) {
    if (!(fabs(r.v) < SHAPE_PARTIAL_TINY)) return r;
    using D = Dual<double, N>;
    Dual<D, 1> ad(a), bd(b), xc(D(x.v));
    (which ? bd : ad).d[0] = D(1.0);
    r = beta_i_edges(ad, bd, xc, upper).d[0];
    const double g = beta_density_dab(a.v, b.v, x.v, which);
    for (int j = 0; j < N; ++j) r.d[j] = r.d[j] + scale(upper ? -g : g, x.d[j]);
    return r;
}

}  // namespace incomplete

// ---------------------------------------------------------------- generic front ends
// On any scalar or dual S: evaluated on its double-based counterpart and rounded back. The
// shape derivatives seed one more dual level in the parameter.

template <class S> __device__ __forceinline__ S gammainc_pq(S a, S x, bool upper) {
    using namespace incomplete;
    return narrow<S>::of(gamma_pq_edges(widen(a), widen(x), upper));
}
template <class S> __device__ __forceinline__ S gammainc_pq_da(S a, S x, bool upper) {
    using namespace incomplete;
    using W = wide_t<S>;
    Dual<W, 1> ad(widen(a)), xd(widen(x));
    ad.d[0] = W(1);
    return narrow<S>::of(gamma_da_dx(gamma_pq_edges(ad, xd, upper).d[0], widen(a), widen(x),
                                     upper));
}
template <class S> __device__ __forceinline__ S gammainc_dx(S a, S x) {
    using namespace incomplete;
    return narrow<S>::of(gamma_density(widen(a), widen(x)));
}

template <class S> __device__ __forceinline__ S log_gammainc_pq(S a, S x, bool upper) {
    using namespace incomplete;
    return narrow<S>::of(log_gamma_pq_edges(widen(a), widen(x), upper));
}
template <class S> __device__ __forceinline__ S log_gammainc_pq_da(S a, S x, bool upper) {
    using namespace incomplete;
    using W = wide_t<S>;
    // at x = 0 log Q's shape partial is Q's (Q = 1, Q's partial 0), whose derivative in x
    // gamma_da_dx forms (log Q's constant 0 there had 0, true +inf for a <= 1)
    if (upper && primal(x) == 0) return gammainc_pq_da(a, x, true);
    Dual<W, 1> ad(widen(a)), xd(widen(x));
    ad.d[0] = W(1);
    return narrow<S>::of(log_gamma_pq_edges(ad, xd, upper).d[0]);
}
template <class S> __device__ __forceinline__ S log_gammainc_dx(S a, S x, bool upper) {
    using namespace incomplete;
    return narrow<S>::of(log_gamma_dx(widen(a), widen(x), upper));
}

template <class S> __device__ __forceinline__ S stdtr(S df, S y) {
    using namespace incomplete;
    return narrow<S>::of(stdtr_edges(widen(df), widen(y)));
}
template <class S> __device__ __forceinline__ S stdtr_ddf(S df, S y) {
    using namespace incomplete;
    using W = wide_t<S>;
    Dual<W, 1> dd(widen(df)), yd(widen(y));
    dd.d[0] = W(1);
    return narrow<S>::of(stdtr_edges(dd, yd).d[0]);
}
template <class S> __device__ __forceinline__ S stdtr_dy(S df, S y) {
    using namespace incomplete;
    return narrow<S>::of(stdtr_density(widen(df), widen(y)));
}

// log stdtr(df, y) in log space (gpuad.scipy.stats' t.logcdf).
template <class S> __device__ __forceinline__ S log_stdtr(S df, S y) {
    using namespace incomplete;
    return narrow<S>::of(log_stdtr_edges(widen(df), widen(y)));
}
template <class S> __device__ __forceinline__ S log_stdtr_ddf(S df, S y) {
    using namespace incomplete;
    using W = wide_t<S>;
    Dual<W, 1> dd(widen(df)), yd(widen(y));
    dd.d[0] = W(1);
    return narrow<S>::of(log_stdtr_edges(dd, yd).d[0]);
}
template <class S> __device__ __forceinline__ S log_stdtr_dy(S df, S y) {
    using namespace incomplete;
    return narrow<S>::of(log_stdtr_d(widen(df), widen(y)));
}

template <class S> __device__ __forceinline__ S betainc(S a, S b, S x) {
    using namespace incomplete;
    return narrow<S>::of(beta_i_edges(widen(a), widen(b), widen(x)));
}
// I_x(a, b) (upper = false) or 1 - I_x(a, b) (upper = true).
template <class S> __device__ __forceinline__ S betainc_pq(S a, S b, S x, bool upper) {
    using namespace incomplete;
    return narrow<S>::of(beta_i_edges(widen(a), widen(b), widen(x), upper));
}
// d/da (which = 0) or d/db (which = 1) of I_x(a, b) (or 1 - I_x(a, b): upper).
template <class S> __device__ __forceinline__ S betainc_dab(S a, S b, S x, int which,
                                                            bool upper = false) {
    using namespace incomplete;
    using W = wide_t<S>;
    Dual<W, 1> ad(widen(a)), bd(widen(b)), xd(widen(x));
    (which ? bd : ad).d[0] = W(1);
    return narrow<S>::of(beta_dab_dx(beta_i_edges(ad, bd, xd, upper).d[0], widen(a), widen(b),
                                     widen(x), which, upper));
}
template <class S> __device__ __forceinline__ S betainc_dx(S a, S b, S x) {
    using namespace incomplete;
    return narrow<S>::of(beta_density(widen(a), widen(b), widen(x)));
}

template <class S> __device__ __forceinline__ S log_betainc(S a, S b, S x) {
    using namespace incomplete;
    return narrow<S>::of(log_beta_i_edges(widen(a), widen(b), widen(x)));
}
template <class S> __device__ __forceinline__ S log_betainc_dab(S a, S b, S x, int which) {
    using namespace incomplete;
    using W = wide_t<S>;
    // at x = 1 log I's shape partials are I's (I = 1, its partials 0), whose derivatives in
    // x beta_dab_dx forms (log I's constant 0 there had 0: d2/da dx of log betainc(2, 1, x),
    // a log x, at x = 1 was 0, true 1); an infinite shape keeps log I's NaN
    if (primal(x) == 1 && primal(a) < special::inf() && primal(b) < special::inf())
        return betainc_dab(a, b, x, which);
    Dual<W, 1> ad(widen(a)), bd(widen(b)), xd(widen(x));
    (which ? bd : ad).d[0] = W(1);
    return narrow<S>::of(log_beta_i_edges(ad, bd, xd).d[0]);
}
template <class S> __device__ __forceinline__ S log_betainc_dx(S a, S b, S x) {
    using namespace incomplete;
    return narrow<S>::of(log_beta_dx(widen(a), widen(b), widen(x)));
}

}  // namespace gpuad
