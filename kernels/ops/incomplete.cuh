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
//   Lentz method) otherwise; the other function by complement, where it is at least ~1/2 or
//   (x <= 1, small a) loses at most log10(1/Q) digits (Numerical Recipes 3rd ed. 6.2; the
//   split at max(1, a) is Cephes' igam/igamc).
// - I_x(a, b): the continued fraction of NR 3rd ed. 6.4 (Lentz) for x < (a + 1)/(a + b + 2),
//   else 1 - I_(1-x)(b, a).
// - The prefactors x^a e^-x / Gamma(a) and x^a (1-x)^b / B(a, b) for large parameters (>= 10)
//   through Stirling's series and log1pmx(u) = log(1 + u) - u, without the cancellation of
//   a log x - lgamma(a) (DiDonato & Morris 1986, ACM TOMS 12(4), and 1992, ACM TOMS 18(3):
//   the forms of their rcomp and brcomp).
// Iterations are capped at MAX_ITER; a sum that has not converged by then gives NaN (the
// Python layer bounds the parameters so that this does not happen: gpuad/scipy/special.py).
#pragma once
#include "gpuad/dual.cuh"
#include "ops/special.cuh"

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
// |t| <= EPS |s| componentwise: a series term negligible against its sum.
__device__ __forceinline__ bool negligible(double t, double s) { return fabs(t) <= EPS * fabs(s); }
template <class S, int N> __device__ inline bool negligible(const Dual<S, N>& t, const Dual<S, N>& s) {
    bool ok = negligible(t.v, s.v);
    for (int j = 0; j < N; ++j) ok = ok && negligible(t.d[j], s.d[j]);
    return ok;
}

template <class W> __device__ inline W nan_like() { return W(special::qnan()); }

// log(t) - u for t = 1 + u (both given, each formed accurately by the caller): the Taylor
// series of log(1 + u) - u for |u| < 1/4 (no cancellation), else log(t) - u, which does not
// round t through 1 + u (u near -1 would lose the digits of a small t).
template <class W> __device__ inline W log1pmx(W t, W u) {
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
// lgamma(z) - ((z - 1/2) log z - z + log(2 pi)/2), z >= 10: Stirling's series (A&S 6.1.41).
template <class W> __device__ inline W stirlerr(W z) {
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

// log(x^a e^-x / Gamma(a + 1)), x > 0. For a < 10 with lgamma(a + 1): the series' prefactor
// without a factor 1/a whose derivatives in a (1/Gamma(a) ~ a near 0: psi(a)^2 - psi'(a))
// would cancel at second order.
template <class W> __device__ inline W log_gamma_front1(W a, W x) {
    if (a < 10) return a * log(x) - x - lgamma(a + W(1));
    return a * log1pmx(x / a, (x - a) / a) - W(0.5) * log(a) - W(HALF_LOG_2PI) - stirlerr(a);
}
// log(x^a e^-x / Gamma(a)) = log_gamma_front1 + log(a).
template <class W> __device__ inline W log_gamma_front(W a, W x) {
    if (a < 10) return a * log(x) - x - lgamma(a);
    return a * log1pmx(x / a, (x - a) / a) + W(0.5) * log(a) - W(HALF_LOG_2PI) - stirlerr(a);
}

// P(a, x) (upper = false) or Q(a, x) (upper = true), a > 0, x > 0 finite.
template <class W> __device__ inline W gamma_pq(W a, W x, bool upper) {
    if (x <= 1 || x <= a) {                                 // the series for P
        W ap = a, del = W(1), sum = del;
        int n = 0;
        for (; n < MAX_ITER; ++n) {
            ap = ap + W(1);
            del = del * x / ap;
            sum = sum + del;
            if (negligible(del, sum)) break;
        }
        if (n == MAX_ITER) return nan_like<W>();
        const W p = sum * exp(log_gamma_front1(a, x));
        return upper ? W(1) - p : p;
    }
    // Q's continued fraction, modified Lentz: b_0 = x + 1 - a > 1 here
    W b = x + W(1) - a, c = W(1.0 / FPMIN), d = W(1) / b, h = d;
    int i = 1;
    for (; i < MAX_ITER; ++i) {
        const W an = W(-double(i)) * (W(double(i)) - a);
        b = b + W(2);
        d = an * d + b;
        if (fabs(primal(d)) < FPMIN) d = W(FPMIN);
        c = b + an / c;
        if (fabs(primal(c)) < FPMIN) c = W(FPMIN);
        d = W(1) / d;
        const W del = d * c;
        h = h * del;
        if (all_below(del - W(1), EPS)) break;
    }
    if (i == MAX_ITER) return nan_like<W>();
    const W q = exp(log_gamma_front(a, x)) * h;
    return upper ? q : W(1) - q;
}

// P or Q with SciPy's values at the edges: NaN for a < 0, x < 0 or NaN; P(0, x) = 1 for
// x > 0; P(a, 0) = 0, P(a, inf) = 1 for a > 0.
template <class W> __device__ inline W gamma_pq_edges(W a, W x, bool upper) {
    if (!(a >= 0) || !(x >= 0) || (a == 0 && x == 0)) return nan_like<W>();
    if (a == 0 || primal(x) == special::inf()) return W(upper ? 0.0 : 1.0);
    if (x == 0) return W(upper ? 1.0 : 0.0);
    if (primal(a) == special::inf()) return W(upper ? 1.0 : 0.0);
    return gamma_pq(a, x, upper);
}

// d/dx P(a, x) = x^(a-1) e^-x / Gamma(a), the gamma density; at x = 0: inf (a < 1), 1
// (a = 1), 0 (a > 1), the limits from the right.
template <class W> __device__ inline W gamma_density(W a, W x) {
    if (!(a > 0) || !(x >= 0)) return nan_like<W>();
    if (primal(x) == special::inf()) return W(0);
    if (x == 0) return a < 1 ? W(special::inf()) : W(a == 1 ? 1.0 : 0.0);
    if (a < 10) return exp((a - W(1)) * log(x) - x - lgamma(a));
    return exp(log_gamma_front(a, x) - log(x));
}

// log(x^a y^b / (a B(a, b))), 0 < x < 1, y = 1 - x (passed: the caller may know it exactly);
// the front of I_x(a, b) = x^a y^b / (a B(a, b)) cf. With s = min(a, b), m = max(a, b) and
// 1 / (a B(a, b)) = b Gamma(a + b) / (Gamma(a + 1) Gamma(b + 1)): the factor b is returned in
// `factor` (kept out of the exp: exp(log b) differentiated twice cancels as 1/b^2 - 1/b^2,
// so does 1/Gamma(b) ~ b), lgamma(a + b) - lgamma(m) without cancellation for m >= 10.
template <class W> __device__ inline W log_beta_front(W a, W b, W x, W y, W& factor) {
    const W ab = a + b;
    if (a >= 10 && b >= 10) {
        // a log(x (a+b)/a) + b log(y (a+b)/b) = a log1pmx(e/a) + b log1pmx(-e/b), e = xb - ya
        const W e = x * b - y * a;
        factor = W(1);
        return a * log1pmx(x * ab / a, e / a) + b * log1pmx(y * ab / b, -e / b)
               + W(0.5) * log(b / ab / a) - W(HALF_LOG_2PI) + stirlerr(ab) - stirlerr(a)
               - stirlerr(b);
    }
    const bool amax = a >= b;
    const W m = amax ? a : b, s = amax ? b : a;
    const W lr = m >= 10 ? (m - W(0.5)) * log1p(s / m) + s * log(ab) - s + stirlerr(ab) - stirlerr(m)
                         : lgamma(ab) - lgamma(m);
    factor = b;
    return a * log(x) + b * log(y) - lgamma(s + W(1)) + lr - log(m);
}

// The continued fraction of I_x(a, b) = front / a * cf (NR 3rd ed. 6.4, modified Lentz).
template <class W> __device__ inline W beta_cf(W a, W b, W x, bool& ok) {
    const W qab = a + b, qap = a + W(1), qam = a - W(1);
    W c = W(1), d = W(1) - qab * x / qap;
    if (fabs(primal(d)) < FPMIN) d = W(FPMIN);
    d = W(1) / d;
    W h = d;
    ok = false;
    for (int m = 1; m < MAX_ITER; ++m) {
        const W mm = W(double(m)), m2 = W(2.0 * m);
        W aa = mm * (b - mm) * x / ((qam + m2) * (a + m2));
        d = W(1) + aa * d;
        if (fabs(primal(d)) < FPMIN) d = W(FPMIN);
        c = W(1) + aa / c;
        if (fabs(primal(c)) < FPMIN) c = W(FPMIN);
        d = W(1) / d;
        const W del1 = d * c;
        h = h * del1;
        aa = -(a + mm) * (qab + mm) * x / ((a + m2) * (qap + m2));
        d = W(1) + aa * d;
        if (fabs(primal(d)) < FPMIN) d = W(FPMIN);
        c = W(1) + aa / c;
        if (fabs(primal(c)) < FPMIN) c = W(FPMIN);
        d = W(1) / d;
        const W del = d * c;
        h = h * del;
        if (all_below(del - W(1), EPS) && all_below(del1 - W(1), EPS)) {
            ok = true;
            break;
        }
    }
    return h;
}

// I_x(a, b), a, b > 0, 0 < x < 1.
template <class W> __device__ inline W beta_i(W a, W b, W x) {
    const W y = W(1) - x;
    bool ok;
    W factor;
    if (x * (a + b + W(2)) < a + W(1)) {
        const W cf = beta_cf(a, b, x, ok), l = log_beta_front(a, b, x, y, factor);
        return ok ? factor * exp(l) * cf : nan_like<W>();
    }
    const W cf = beta_cf(b, a, y, ok), l = log_beta_front(b, a, y, x, factor);
    return ok ? W(1) - factor * exp(l) * cf : nan_like<W>();
}

// SciPy's values at the edges: NaN outside a, b >= 0, 0 <= x <= 1; the limits in x; a = 0
// (b > 0): 1 for x > 0; b = 0 (a > 0): 0 for x < 1; NaN at a = b = 0.
template <class W> __device__ inline W beta_i_edges(W a, W b, W x) {
    if (!(a >= 0) || !(b >= 0) || !(x >= 0) || !(x <= 1) || (a == 0 && b == 0)) return nan_like<W>();
    if (a == 0) return W(x > 0 ? 1.0 : 0.0);
    if (b == 0) return W(x < 1 ? 0.0 : 1.0);
    if (x == 0) return W(0);
    if (x == 1) return W(1);
    if (primal(a) == special::inf() || primal(b) == special::inf()) return nan_like<W>();
    return beta_i(a, b, x);
}

// d/dx I_x(a, b) = x^(a-1) (1-x)^(b-1) / B(a, b), the beta density; at x = 0 and 1 the
// one-sided limits: inf below exponent 1, B(1, b)^-1 = b (and a) at exponent 1, else 0.
template <class W> __device__ inline W beta_density(W a, W b, W x) {
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return nan_like<W>();
    if (x == 0) return a < 1 ? W(special::inf()) : (a == 1 ? b : W(0));
    if (x == 1) return b < 1 ? W(special::inf()) : (b == 1 ? a : W(0));
    const W y = W(1) - x;
    W factor;
    const W l = log_beta_front(a, b, x, y, factor);
    return a * factor * exp(l - log(x) - log(y));
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
    return narrow<S>::of(gamma_pq_edges(ad, xd, upper).d[0]);
}
template <class S> __device__ __forceinline__ S gammainc_dx(S a, S x) {
    using namespace incomplete;
    return narrow<S>::of(gamma_density(widen(a), widen(x)));
}

template <class S> __device__ __forceinline__ S betainc(S a, S b, S x) {
    using namespace incomplete;
    return narrow<S>::of(beta_i_edges(widen(a), widen(b), widen(x)));
}
// d/da (which = 0) or d/db (which = 1) of I_x(a, b).
template <class S> __device__ __forceinline__ S betainc_dab(S a, S b, S x, int which) {
    using namespace incomplete;
    using W = wide_t<S>;
    Dual<W, 1> ad(widen(a)), bd(widen(b)), xd(widen(x));
    (which ? bd : ad).d[0] = W(1);
    return narrow<S>::of(beta_i_edges(ad, bd, xd).d[0]);
}
template <class S> __device__ __forceinline__ S betainc_dx(S a, S b, S x) {
    using namespace incomplete;
    return narrow<S>::of(beta_density(widen(a), widen(b), widen(x)));
}

}  // namespace gpuad
