// Special functions for the elementwise ops (kernels/ops/unary.cuh, binary.cuh): digamma and
// polygamma, the inverse error functions, the normal distribution's functions, the modified
// Bessel functions I_nu and their exponentially scaled forms, sin(pi x) and cos(pi x).
//
// Each is computed in double (a float argument is widened and the result rounded: the float
// kernels get float accuracy without float-specific thresholds) and, on dual numbers, by the
// chain rule with its derivative at the value, itself one of these functions, so every order
// is available. The names avoid CUDA's and glibc's (erfinv, sinpi, ... exist there with other
// accuracy on each device).
//
// Sources (formulas, not code):
// - digamma and polygamma: the recurrence psi^(n)(x) = psi^(n)(x+1) - (-1)^n n! / x^(n+1) up
//   to x >= 10 + n, then the asymptotic series in Bernoulli numbers (Abramowitz & Stegun
//   6.3.18, 6.4.11), as in Bernardo's AS 103 (1976) with more terms for double precision;
//   x < 0 by the reflection psi^(n)(1-x) (-1)^n - psi^(n)(x) = pi d^n/dx^n cot(pi x) (A&S
//   6.3.7, 6.4.7), the derivatives of cot as polynomials in cot. Near the positive zero
//   x0 = 1.4616... of psi, its Taylor series, whose coefficients (-1)^(k+1) zeta(k+1, x0)
//   were computed with mpmath at 300 bits (tests/test_derivative_accuracy.py checks psi there).
// - erfinv, erfcinv: Winitzki's closed form (2008, "A handy approximation for the error
//   function and its inverse") as the start, then Halley steps on erf (centre) or erfc (tails,
//   where 1 - erf loses the digits), as gpuad/host.h does for CUDA's erfcinv.
// - I_nu (integer nu): the power series (A&S 9.6.10, all terms positive) below x = 25 + 5 nu,
//   the asymptotic expansion e^x / sqrt(2 pi x) sum_k (-1)^k a_k(nu) / x^k above it (A&S 9.7.1);
//   I_nu' = (I_(nu-1) + I_(nu+1)) / 2 (A&S 9.6.26), so every derivative is a sum of positive
//   terms. The scaled e^(-|x|) I_nu is the asymptotic sum itself above the threshold, whose
//   derivatives are those of the sum (differentiated on duals): e^(-x) (I_nu' - I_nu) cancels.
// - log_ndtr, its derivative (the inverse Mills ratio): below x = -20 (-8 on float duals) the
//   asymptotic series of the Mills ratio Phi(x) / phi(x) ~ 1/|x| sum_k (-1)^k (2k-1)!! / x^(2k)
//   (A&S 26.2.12), elsewhere log(Phi), log1p(-Phi(-x)) and phi / Phi.
#pragma once
#include "gpuad/dual.cuh"

namespace ops {
struct Cbrt; struct Gammaln; struct Gamma; struct Digamma; struct Erfc; struct Erfinv;
struct Erfcinv; struct Ndtr; struct Ndtri;
}  // namespace ops

namespace gpuad {
using ::cbrt; using ::lgamma; using ::tgamma; using ::erfc; using ::hypot; using ::asinh;
using ::acosh;

// The innermost scalar of a (nested) dual.
template <class T> struct base_of { using type = T; };
template <class S, int N> struct base_of<Dual<S, N>> { using type = typename base_of<S>::type; };

namespace special {

__device__ __forceinline__ double inf() { return __longlong_as_double(0x7ff0000000000000LL); }
__device__ __forceinline__ double qnan() { return __longlong_as_double(0x7ff8000000000000LL); }
constexpr double PI = 3.14159265358979323846;

// sin(pi x), cos(pi x): x - n/2 is exact (n = rint(2x)), so no rounding of pi x enters.
__device__ inline double sin_pi(double x) {
    if (!(fabs(x) < 4503599627370496.0)) return x - x == 0.0 ? 0.0 * x : qnan();  // integers
    const double n = rint(2.0 * x), a = PI * (x - 0.5 * n);
    switch ((long long)n & 3) {
        case 0: return sin(a);
        case 1: return cos(a);
        case 2: return -sin(a);
        default: return -cos(a);
    }
}
__device__ inline double cos_pi(double x) {
    if (!(fabs(x) < 4503599627370496.0)) return x - x == 0.0 ? (fmod(x, 2.0) == 0.0 ? 1.0 : -1.0) : qnan();
    const double n = rint(2.0 * x), a = PI * (x - 0.5 * n);
    switch ((long long)n & 3) {
        case 0: return cos(a);
        case 1: return -sin(a);
        case 2: return -cos(a);
        default: return sin(a);
    }
}

// B_2k, k = 1..11
__device__ __forceinline__ double bernoulli2k(int k) {
    switch (k) {
        case 1: return 1.0 / 6.0;         case 2: return -1.0 / 30.0;
        case 3: return 1.0 / 42.0;        case 4: return -1.0 / 30.0;
        case 5: return 5.0 / 66.0;        case 6: return -691.0 / 2730.0;
        case 7: return 7.0 / 6.0;         case 8: return -3617.0 / 510.0;
        case 9: return 43867.0 / 798.0;   case 10: return -174611.0 / 330.0;
        default: return 854513.0 / 138.0;
    }
}

// psi^(n)(x) for x >= 10 + n by the asymptotic series; for n >= 1 its magnitude
// (-1)^(n+1) psi^(n)(x) = (n-1)!/x^n [1 + n/(2x) + sum_k B_2k C(2k+n-1, 2k) / x^(2k)].
__device__ inline double psi_asymptotic(int n, double x) {
    const double u = 1.0 / x, u2 = u * u;
    if (n == 0) {
        double s = 0.0, p = u2;
        for (int k = 1; k <= 11; ++k, p *= u2) s += bernoulli2k(k) / (2 * k) * p;
        return log(x) - 0.5 * u - s;
    }
    double fact = 1.0, un = 1.0;
    for (int j = 1; j < n; ++j) fact *= j;
    for (int j = 0; j < n; ++j) un *= u;
    double s = 1.0 + 0.5 * n * u, c = 1.0, p = u2;
    for (int k = 1; k <= 11; ++k, p *= u2) {
        c *= double(2 * k + n - 2) * double(2 * k + n - 1) / (double(2 * k - 1) * double(2 * k));
        s += bernoulli2k(k) * c * p;
    }
    return fact * un * s;
}

// Taylor coefficients of psi at its positive zero x0: (-1)^(k+1) zeta(k+1, x0), k = 1..12.
__device__ __forceinline__ double psi_root_coefficient(int k) {
    switch (k) {
        case 1: return 0.96767224544762117043;    case 2: return -0.44276316898359210609;
        case 3: return 0.25849976095565101062;    case 4: return -0.1639427054424065275;
        case 5: return 0.10782405069126236576;    case 6: return -0.072199561256454710926;
        case 7: return 0.048804288164143107225;   case 8: return -0.033161126474847359292;
        case 9: return 0.02259764823221810466;    case 10: return -0.015424765904948959139;
        case 11: return 0.010538791616612175388;  default: return -0.007204534386356868241;
    }
}

// d^n/dx^n cot(pi x) / pi^n as a polynomial in c = cot(pi x): P_0 = c,
// P_(k+1) = -(1 + c^2) P_k'(c). Its coefficients have one sign per parity: no cancellation.
__device__ inline double cot_derivative(int n, double c) {
    double p[40];
    for (int j = 0; j < 40; ++j) p[j] = 0.0;
    p[1] = 1.0;
    for (int k = 0; k < n; ++k) {           // degree k + 1 -> k + 2
        double q[40];
        for (int j = 0; j < 40; ++j) q[j] = 0.0;
        for (int j = 0; j <= k; ++j) q[j] = (j + 1) * p[j + 1];   // P_k'
        for (int j = 0; j <= k + 2; ++j) p[j] = -(q[j] + (j >= 2 ? q[j - 2] : 0.0));
    }
    double r = 0.0;
    for (int j = n + 1; j >= 0; --j) r = r * c + p[j];
    return r;
}

// psi^(n)(x), n >= 0 (digamma for n = 0). Poles at 0, -1, -2, ...: NaN (n even), inf (n odd).
__device__ inline double psi(int n, double x) {
    if (n < 0 || n > 37 || x != x) return qnan();
    if (x <= 0.0) {
        if (x == floor(x)) return n % 2 ? inf() : qnan();
        const double c = cos_pi(x) / sin_pi(x);
        double pin = PI;
        for (int j = 0; j < n; ++j) pin *= PI;
        return (n % 2 ? -1.0 : 1.0) * psi(n, 1.0 - x) - pin * cot_derivative(n, c);
    }
    if (n == 0 && fabs(x - 1.4616321449683622) < 0.03) {   // the zero: no cancellation
        const double h = (x - 1.4616321449683622) - 9.549995429965697e-17;
        double s = 0.0;
        for (int k = 12; k >= 1; --k) s = (s + psi_root_coefficient(k)) * h;
        return s;
    }
    // psi^(n)(x) = psi^(n)(x + m) - (-1)^n n! sum_{k<m} 1/(x + k)^(n+1)
    double s = 0.0;
    const double x0 = 10.0 + n;
    while (x < x0) {
        const double r = 1.0 / x;
        double t = r;
        for (int j = 0; j < n; ++j) t *= r;
        s += t;
        x += 1.0;
    }
    if (n == 0) return psi_asymptotic(0, x) - s;
    double fact = 1.0;
    for (int j = 2; j <= n; ++j) fact *= j;
    return (n % 2 ? 1.0 : -1.0) * (psi_asymptotic(n, x) + fact * s);
}

// erfc^-1(z), z in [0, 2]; erf^-1(y) = erfc^-1(1 - y) with 1 - y formed exactly where it matters.
__device__ inline double erfc_inv(double z) {
    if (!(z > 0.0 && z < 2.0)) return z == 0.0 ? inf() : (z == 2.0 ? -inf() : qnan());
    if (z > 1.0) return -erfc_inv(2.0 - z);                 // exact
    const double a = 0.147, l = log(z * (2.0 - z));
    const double t = 2.0 / (PI * a) + 0.5 * l;
    double x = sqrt(sqrt(t * t - l / a) - t);
    const bool tail = z < 0.5;
    const double y = 1.0 - z;                                // exact for z >= 0.5
    for (int k = 0; k < 4; ++k) {
        const double d = 1.1283791670955125739 * exp(-x * x);   // d/dx erf(x)
        const double f = tail ? z - erfc(x) : erf(x) - y;      // both grow with x
        x -= f / (d + x * f);
    }
    return x;
}
__device__ inline double erf_inv(double y) {
    if (!(fabs(y) <= 1.0)) return qnan();
    if (fabs(y) >= 0.5) return y > 0 ? erfc_inv(1.0 - y) : -erfc_inv(1.0 + y);  // exact
    if (y == 0.0) return y;
    const double a = 0.147, l = log1p(-y * y);
    const double t = 2.0 / (PI * a) + 0.5 * l;
    double x = sqrt(sqrt(t * t - l / a) - t);
    if (!(x > 0.0)) x = 0.88622692545275801365 * fabs(y);  // tiny y: the first Taylor term
    x = y > 0 ? x : -x;
    for (int k = 0; k < 4; ++k) {
        const double f = erf(x) - y;
        x -= f / (1.1283791670955125739 * exp(-x * x) + x * f);
    }
    return x;
}

// The Mills ratio's asymptotic sum 1 - 1/x^2 + 3/x^4 - 15/x^6 ... (|x| >= 8): Phi(x) / phi(x)
// = sum / |x| for x -> -inf. Generic, so that duals differentiate it.
template <class S> __device__ inline S mills_sum(S x) {
    const S u = S(1) / (x * x);
    S s = S(1), t = S(1);
    for (int k = 1; k <= 24; ++k) {
        t = t * (-u) * S(2 * k - 1);
        s = s + t;
        if (fabs(primal(t)) < 1e-18 * fabs(primal(s))) break;
    }
    return s;
}

__device__ inline double log_ndtr(double x) {
    if (x >= 0.0) return log1p(-0.5 * erfc(x * 0.70710678118654752440));
    if (x >= -20.0) return log(0.5 * erfc(-x * 0.70710678118654752440));
    // log Phi = -x^2/2 - log|x| - log sqrt(2 pi) + log(sum)
    return -(0.5 * x) * x - log(-x) - 0.91893853320467274178 + log(mills_sum(x));
}

// I_nu(x) sqrt(2 pi x) e^(-x) for x above the threshold: sum_k b_k / x^k, b_0 = 1,
// b_k = -b_(k-1) (4 nu^2 - (2k-1)^2) / (8k). Generic (duals differentiate the sum), x > 0.
template <class S> __device__ inline S bessel_ie_asymptotic(int nu, S x) {
    const S u = S(1) / x, r = S(1) / sqrt(x);
    S s = S(1), t = S(1);
    const double m = 4.0 * nu * nu;
    for (int k = 1; k <= 60; ++k) {
        t = t * u * S(-(m - double(2 * k - 1) * double(2 * k - 1)) / (8.0 * k));
        s = s + t;
        if (fabs(primal(t)) < 1e-18 * fabs(primal(s))) break;
    }
    return S(0.39894228040143267794) * r * s;
}
__device__ __forceinline__ double bessel_threshold(int nu) { return 25.0 + 5.0 * nu; }

// I_nu(x), integer nu >= 0.
__device__ inline double bessel_i(int nu, double x) {
    const double ax = fabs(x);
    double v;
    if (ax < bessel_threshold(nu)) {
        double t = 1.0;                                   // (x/2)^nu / nu!
        for (int j = 1; j <= nu; ++j) t *= 0.5 * ax / j;
        const double q = 0.25 * ax * ax;
        double s = t;
        for (int k = 1; k < 200 && t > 1e-17 * s; ++k) {
            t *= q / (double(k) * double(k + nu));
            s += t;
        }
        v = s;
    } else if (ax > 1500.0) {
        v = inf();
    } else {
        const double e = exp(0.5 * ax);                   // e^x overflows before I_nu does
        v = e * (e * bessel_ie_asymptotic(nu, ax));
    }
    return (nu % 2 && x < 0.0) ? -v : v;
}

}  // namespace special

// ---------------------------------------------------------------- generic front ends
// Plain numbers: the double implementation. Duals: the chain rule with the derivative.

#define GPUAD_PLAIN(S) (!is_dual<S>::value)

template <class S> __device__ __forceinline__ S sin_pi(S x);
template <class S> __device__ __forceinline__ S cos_pi(S x);
template <class S> __device__ __forceinline__ S sin_pi(S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::sin_pi(double(x)));
    else return chain(x, sin_pi(x.v), decltype(x.v)(special::PI) * cos_pi(x.v));
}
template <class S> __device__ __forceinline__ S cos_pi(S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::cos_pi(double(x)));
    else return chain(x, cos_pi(x.v), decltype(x.v)(-special::PI) * sin_pi(x.v));
}

// polygamma(n, x) = psi^(n)(x); its derivative is polygamma(n + 1, x).
template <class S> __device__ __forceinline__ S polygamma(int n, S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::psi(n, double(x)));
    else return chain(x, polygamma(n, x.v), polygamma(n + 1, x.v));
}
template <class S> __device__ __forceinline__ S digamma(S x) { return polygamma(0, x); }

// I_nu(x) and I_nu'(x) = (I_|nu-1| + I_(nu+1)) / 2.
template <class S> __device__ __forceinline__ S bessel_i(int nu, S x);
template <class S> __device__ __forceinline__ S bessel_i_d(int nu, S x) {
    return S(0.5) * (bessel_i(nu > 0 ? nu - 1 : 1, x) + bessel_i(nu + 1, x));
}
template <class S> __device__ __forceinline__ S bessel_i(int nu, S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::bessel_i(nu, double(x)));
    else return chain(x, bessel_i(nu, x.v), bessel_i_d(nu, x.v));
}
// e^(-|x|) I_nu(x) and its derivative e^(-|x|) (I_nu' - sgn(x) I_nu) (sgn(0) = 0: at the kink
// x = 0 the mean of the one-sided derivatives). Above the threshold, the asymptotic sum and its
// derivative (a seeded dual), which do not cancel as e^(-x) (I_nu' - I_nu) does.
template <class S> __device__ __forceinline__ S bessel_ie(int nu, S x) {
    const S ax = fabs(x);
    if (primal(ax) < special::bessel_threshold(nu)) return exp(-ax) * bessel_i(nu, x);
    const S v = special::bessel_ie_asymptotic(nu, ax);
    return (nu % 2 && x < S(0)) ? -v : v;
}
template <class S> __device__ __forceinline__ S bessel_ie_d(int nu, S x) {
    const S ax = fabs(x);
    if (primal(ax) < special::bessel_threshold(nu)) {
        const S sg = x > S(0) ? S(1) : (x < S(0) ? S(-1) : S(0));
        return exp(-ax) * (bessel_i_d(nu, x) - sg * bessel_i(nu, x));
    }
    Dual<S, 1> xd(ax);
    xd.d[0] = S(1);
    const S d = special::bessel_ie_asymptotic(nu, xd).d[0];
    return (nu % 2 == 0 && x < S(0)) ? -d : d;   // ie_nu(-x) = (-1)^nu ie_nu(x)
}

// erf^-1, erfc^-1: derivatives +-sqrt(pi)/2 e^(y^2) at y = the result.
template <class S> __device__ __forceinline__ S erf_inv(S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::erf_inv(double(x)));
    else return unary_chain<ops::Erfinv>(x);
}
template <class S> __device__ __forceinline__ S erfc_inv(S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::erfc_inv(double(x)));
    else return unary_chain<ops::Erfcinv>(x);
}
// sqrt(pi)/2 e^(y^2) as one exp (the product would overflow first); inf at y = +-inf.
template <class S> __device__ __forceinline__ S erf_inv_d(S y) {
    return exp(S(-0.12078223763524522235) + y * y);
}

// The standard normal cdf Phi(x) = erfc(-x/sqrt 2)/2, its density and inverse, log Phi.
template <class S> __device__ __forceinline__ S ndtr(S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(0.5) * erfc(-x * S(0.70710678118654752440));
    else return unary_chain<ops::Ndtr>(x);
}
// phi(x) = e^(-x^2/2 - log sqrt(2 pi)) (one exp: the product passes through subnormals);
// 0 for |x| >= 40, where it is 0 in float64 too (on duals x*x and 2x would overflow there).
template <class S> __device__ __forceinline__ S ndtr_d(S x) {
    return x <= S(-40) || x >= S(40) ? S(0) : exp(S(-0.91893853320467274178) - S(0.5) * x * x);
}
template <class S> __device__ __forceinline__ S ndtri(S p) {
    if constexpr (GPUAD_PLAIN(S)) return S(-1.41421356237309504880 * special::erfc_inv(2.0 * double(p)));
    else return unary_chain<ops::Ndtri>(p);
}
// 1/phi(z) = sqrt(2 pi) e^(z^2/2) as one exp.
template <class S> __device__ __forceinline__ S ndtri_d(S z) {
    return exp(S(0.91893853320467274178) + S(0.5) * z * z);
}
template <class S> __device__ __forceinline__ S log_ndtr(S x) {
    return S(special::log_ndtr(double(x)));      // plain numbers only (no derivative calls it)
}
// d/dx log Phi = phi / Phi, the inverse Mills ratio: |x| / mills_sum(x) in the left tail
// (phi / Phi differentiated there cancels: -m (x + m) with m ~ -x), phi / Phi elsewhere.
template <class S> __device__ __forceinline__ S log_ndtr_d(S x) {
    if constexpr (GPUAD_PLAIN(S) && sizeof(S) < sizeof(double)) {
        return S(log_ndtr_d(double(x)));
    } else {
        const double tail = sizeof(typename base_of<S>::type) < sizeof(double) ? -8.0 : -20.0;
        if (x < S(tail)) return -x / special::mills_sum(x);
        return x >= S(40) ? S(0) : ndtr_d(x) / ndtr(x);
    }
}

// d/dx log(x / (1 - x)) = 1 / (x (1 - x)); x (1 - x) as 1/4 - (x - 1/2)^2 on [1/4, 3/4], where
// x - 1/2 is exact, so that on duals its derivative 1 - 2x is exact too.
template <class S> __device__ __forceinline__ S logit_d(S x) {
    if (x >= S(0.25) && x <= S(0.75)) {
        const S h = x - S(0.5);
        return S(1) / (S(0.25) - h * h);
    }
    return S(1) / (x * (S(1) - x));
}

// d/dx asinh = 1/sqrt(1 + x^2); for |x| > 1 as |u| / sqrt(1 + u^2), u = 1/x (x^2 overflows).
template <class S> __device__ __forceinline__ S asinh_d(S x) {
    if (x < S(-1) || x > S(1)) {
        const S u = S(1) / x;
        return fabs(u) / sqrt(S(1) + u * u);
    }
    return S(1) / sqrt(S(1) + x * x);
}
// d/dx acosh = 1/sqrt(x^2 - 1): (x - 1)(x + 1) for x <= 2 (x - 1 exact; x^2 - 1 cancels), and
// u / sqrt((1 - u)(1 + u)), u = 1/x, above (x^2 overflows).
template <class S> __device__ __forceinline__ S acosh_d(S x) {
    if (x > S(2)) {
        const S u = S(1) / x;
        return u / sqrt((S(1) - u) * (S(1) + u));
    }
    return S(1) / sqrt((x - S(1)) * (x + S(1)));
}

// sinc(x) = sin(pi x) / (pi x), 1 at 0.
template <class S> __device__ __forceinline__ S sinc(S x) {
    return x == S(0) ? S(1) : sin_pi(x) / (S(special::PI) * x);
}
// sinc'(x) = (cos(pi x) - sinc(x)) / x; for |x| < 1/4, where that cancels, its Taylor series
// x sum_k c_k x^(2k-2), c_k = (-1)^k 2k pi^(2k) / (2k+1)! (whose derivatives are those of sinc).
template <class S> __device__ __forceinline__ S sinc_d(S x) {
    if (x > S(-0.25) && x < S(0.25)) {
        const S z = x * x;
        S s = S(-7.3658937770969467111e-11);
        s = s * z + S(3.4330769499642866037e-9);
        s = s * z + S(-1.3148481279991994635e-7);
        s = s * z + S(4.0499478466192442422e-6);
        s = s * z + S(-0.000097662231263189326643);
        s = s * z + S(0.0017811455163728520442);
        s = s * z + S(-0.023460810354558236375);
        s = s * z + S(0.20918278254123840404);
        s = s * z + S(-1.1445109447325052822);
        s = s * z + S(3.2469697011334145745);
        s = s * z + S(-3.2898681336964528729);
        return x * s;
    }
    return (cos_pi(x) - sinc(x)) / x;
}

// d/dx hypot(x, y) = x / hypot(x, y); 0 at (0, 0) (the subgradient, as linalg.norm). On duals
// as sgn(x) / sqrt(1 + t^2), t = y/x (|x| >= |y|), or s sgn(y) / sqrt(1 + s^2), s = x/y: the
// derivatives of x / hypot (y^2 / r^3, -x y / r^3) would cancel as 1/r - x^2/r^3.
template <class S> __device__ __forceinline__ S hypot_d(S x, S y) {
    if (x == S(0) && y == S(0)) return S(0);
    if constexpr (is_dual<S>::value) {
        if (fabs(x) >= fabs(y)) {
            const S t = y / x;
            return (x > S(0) ? S(1) : S(-1)) / sqrt(S(1) + t * t);
        }
        const S s = x / y;
        return (y > S(0) ? s : -s) / sqrt(S(1) + s * s);
    } else {
        return x / hypot(x, y);
    }
}

// The order n of polygamma(n, x) as an int: -1 (NaN results) unless a nonnegative integer.
template <class S> __device__ __forceinline__ int order_of(S n) {
    const double v = primal(n);
    return v >= 0.0 && v <= 1000.0 && v == floor(v) ? int(v) : -1;
}

// The libm functions on duals: their ops' f and df (kernels/ops/unary.cuh), chained.
template <class S, int N> __device__ __forceinline__ Dual<S, N> cbrt(const Dual<S, N>& x) {
    return unary_chain<ops::Cbrt>(x);
}
template <class S, int N> __device__ __forceinline__ Dual<S, N> lgamma(const Dual<S, N>& x) {
    return unary_chain<ops::Gammaln>(x);
}
template <class S, int N> __device__ __forceinline__ Dual<S, N> tgamma(const Dual<S, N>& x) {
    return unary_chain<ops::Gamma>(x);
}
template <class S, int N> __device__ __forceinline__ Dual<S, N> erfc(const Dual<S, N>& x) {
    return unary_chain<ops::Erfc>(x);
}

#undef GPUAD_PLAIN
}  // namespace gpuad
