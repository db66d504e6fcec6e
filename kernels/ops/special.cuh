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
//   Orders above 37: (-1)^(n+1) n! zeta(n+1, x) by the Hurwitz series and the same asymptotic
//   series, scaled by the largest term (psi_hurwitz), x < 0 included.
// - ndtri, erfinv, erfcinv: Wichura's rational approximations, M. J. Wichura (1988), "Algorithm
//   AS 241: The percentage points of the normal distribution", Applied Statistics 37(3),
//   477-484 (PPND16, relative accuracy about 1e-16; also R's qnorm), in three regions of
//   p = Phi(x), with erfinv(y) = ndtri((1 + y)/2)/sqrt 2 and erfcinv(z) = -ndtri(z/2)/sqrt 2
//   formed without rounding p; in double, one Newton step on erf (centre) or erfc (tails)
//   after it, as the float kernels need none. The same code on both devices (CUDA's erfinv,
//   erfcinv and normcdfinv are not used by the ops: they are not documented to ~1 ulp).
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

// The asymptotic series' bracket for n >= 1: 1 + n/(2x) + sum_k B_2k C(2k+n-1, 2k) / x^(2k),
// x >= 10 + n (its terms' ratio below ((n + 2k)/(2 pi x))^2: 11 terms reach 1e-17).
__device__ inline double psi_asymptotic_bracket(int n, double x) {
    const double u = 1.0 / x, u2 = u * u;
    double s = 1.0 + 0.5 * n * u, c = 1.0, p = u2;
    for (int k = 1; k <= 11; ++k, p *= u2) {
        c *= double(2 * k + n - 2) * double(2 * k + n - 1) / (double(2 * k - 1) * double(2 * k));
        s += bernoulli2k(k) * c * p;
    }
    return s;
}

// Orders above PSI_N_DIRECT: psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x), zeta(s, x) = sum_k
// (x + k)^-s (the Hurwitz series, also for x < 0 off the poles), up to x + m >= 10 + n, then
// the asymptotic series. The terms with x + k < 0 have magnitudes f + i (f = -x - floor(-x),
// i < kn = floor(-x) + 1), those with x + k > 0 g + i (g = x + kn; for x > 0, kn = 0 and
// g = x), f and g exact; for even n (odd n + 1) each negative term is summed with its partner
// g + i first, so their cancellation is exact where it is exact (x a half-integer: f = g),
// and the sum runs from the small terms to the large. Scaled by the largest term: n! ad^-(n+1)
// (ad = min(f, g)) times S = sum of (ad/(c + i))^(n+1), each exp(-(n+1) log1p(v)), v = (c -
// ad + i)/ad (relative error ~eps |log term|: the powers of a rounded ratio would lose
// (n+1) eps), plus the series' part; n! = f 2^e and ad^-(n+1) = pow(dm, -(n+1)) 2^(-(n+1) de)
// (frexp: dm in [1/2, 1), at most 2^1011) kept apart and joined by one ldexp: no intermediate
// overflow or underflow, inf only where the value overflows. Orders up to PSI_N_MAX
// (order_of reads n <= 1000; derivatives add one each); x < 0 down to -PSI_NEG_MAX (about
// -x terms: beyond, NaN).
constexpr int PSI_N_DIRECT = 37, PSI_N_MAX = 1010;
constexpr double PSI_NEG_MAX = 1e5;
__device__ inline double psi_hurwitz(int n, double x) {
    // x < 0 a half-integer, n even: the terms x + k < 0 cancel those up to -x exactly (the
    // rest, the value, may lie far below the scale ad^-(n+1)): psi^(n)(x) = psi^(n)(1 - x)
    if (x < 0.0 && n % 2 == 0 && x - floor(x) == 0.5) x = 1.0 - x;
    const double kn = x > 0.0 ? 0.0 : floor(-x) + 1.0, f = -x - (kn - 1.0), g = x + kn;
    const double ad = (kn > 0.0 && f < g) ? f : g;
    const double P = fmax(ceil(10.0 + n - g), kn), X = g + P;     // positive terms: g + i, i < P
    const double s1 = double(n + 1);
    double s = ad / n * exp(-double(n) * log1p((g - ad + P) / ad)) * psi_asymptotic_bracket(n, X);
    for (double i = P - 1.0; i >= 0.0; i -= 1.0) {
        const double tp = exp(-s1 * log1p((g - ad + i) / ad));
        if (i < kn) {
            const double tn = exp(-s1 * log1p((f - ad + i) / ad));
            s += n % 2 ? tp + tn : tp - tn;
        } else {
            s += tp;
        }
    }
    double fm = 1.0;
    int fe = 0, e;
    for (int j = 2; j <= n; ++j) {
        fm = frexp(fm * j, &e);
        fe += e;
    }
    int de;
    const double dm = frexp(ad, &de);
    const double sm = frexp(fm * s, &e);
    const double r = ldexp(sm * pow(dm, -s1), fe + e - (n + 1) * de);
    return n % 2 ? r : -r;
}

// psi^(n)(x), n >= 0 (digamma for n = 0). Poles at 0, -1, -2, ...: NaN (n even), inf (n odd).
__device__ inline double psi(int n, double x) {
    if (n < 0 || n > PSI_N_MAX || x != x) return qnan();
    if (n > PSI_N_DIRECT) {
        if (x <= 0.0 && x == floor(x)) return n % 2 ? inf() : qnan();
        if (x == inf()) return n % 2 ? 0.0 : -0.0;
        return x < -PSI_NEG_MAX ? qnan() : psi_hurwitz(n, x);
    }
    if (x <= 0.0) {
        if (x == floor(x)) return n % 2 ? inf() : qnan();
        // just below 0: -1/x - gamma + zeta(2) x (the next term, zeta(3) x^2, below an ulp):
        // the reflection's cot(pi x) overflows where -1/x does not (psi(-5e-312) was NaN)
        if (n == 0 && x > -1e-9) return -1.0 / x - 0.57721566490153286 + 1.6449340668482264 * x;
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

// The inverse normal cdf and the inverse error functions: Wichura's AS 241 (PPND16; see the
// file's head). q = p - 1/2; |q| <= 0.425: q A(r)/B(r), r = 0.180625 - q^2; otherwise, with
// s = sqrt(-log min(p, 1 - p)), C(s - 1.6)/D(s - 1.6) for s <= 5, E(s - 5)/F(s - 5) beyond
// (degree 7 over 7 each). Coefficients as published (their hash sums, the sums of the
// mantissas, are checked by tests/test_inverse_normal.py). Callers form q, or the tail's
// -log p, from their own argument so that no rounding of p = (1 + y)/2 or z/2 enters.
__device__ __forceinline__ double as241_central(double r) {    // A(r)/B(r), ~ sqrt(2 pi) at q = 0
    const double a = ((((((2509.0809287301226727 * r + 33430.575583588128105) * r
        + 67265.770927008700853) * r + 45921.953931549871457) * r + 13731.693765509461125) * r
        + 1971.5909503065514427) * r + 133.14166789178437745) * r + 3.3871328727963666080;
    const double b = ((((((5226.4952788528545610 * r + 28729.085735721942674) * r
        + 39307.895800092710610) * r + 21213.794301586595867) * r + 5394.1960214247511077) * r
        + 687.18700749205790830) * r + 42.313330701600911252) * r + 1.0;
    return a / b;
}
// -ndtri(p) = ndtri(1 - p) for p = e^-l <= 0.075 (l >= 2.59), l up to 745 (p the smallest
// subnormal, or z/2 of erfc_inv's).
__device__ __forceinline__ double as241_tail(double l) {
    double s = sqrt(l), a, b;
    if (s <= 5.0) {
        s -= 1.6;
        a = ((((((7.74545014278341407640e-4 * s + 0.0227238449892691845833) * s
            + 0.241780725177450611770) * s + 1.27045825245236838258) * s
            + 3.64784832476320460504) * s + 5.76949722146069140550) * s
            + 4.63033784615654529590) * s + 1.42343711074968357734;
        b = ((((((1.05075007164441684324e-9 * s + 5.47593808499534494600e-4) * s
            + 0.0151986665636164571966) * s + 0.148103976427480074590) * s
            + 0.689767334985100004550) * s + 1.67638483018380384940) * s
            + 2.05319162663775882187) * s + 1.0;
    } else {
        s -= 5.0;
        a = ((((((2.01033439929228813265e-7 * s + 2.71155556874348757815e-5) * s
            + 1.24266094738807843860e-3) * s + 0.0265321895265761230930) * s
            + 0.296560571828504891230) * s + 1.78482653991729133580) * s
            + 5.46378491116411436990) * s + 6.65790464350110377720;
        b = ((((((2.04426310338993978564e-15 * s + 1.42151175831644588870e-7) * s
            + 1.84631831751005468180e-5) * s + 7.86869131145613259100e-4) * s
            + 0.0148753612908506148525) * s + 0.136929880922735805310) * s
            + 0.599832206555887937690) * s + 1.0;
    }
    return a / b;
}
constexpr double LN2 = 0.69314718055994530942, SQRT1_2 = 0.70710678118654752440;
constexpr double SQRT2 = 1.41421356237309504880, SQRT1_8 = 0.35355339059327376220;  // 1/(2 sqrt 2)
constexpr double TWO_OVER_SQRTPI = 1.1283791670955125739;

// One Newton step on erf(u) = y (centre; y passed as yh + yl) or erfc(u) = z (tails, u > 0,
// where 1 - erf loses the digits). AS 241's value evaluated in double is within ~5 ulp; the
// step leaves erf's or erfc's own error (<= 1-2 ulp; in the tails divided by ~2u^2, their
// condition there). Not taken beyond u = 26 (z < 1e-296): e^-u^2 leaves the normal range, and
// AS 241 there is within ~4 ulp as evaluated (tests/test_inverse_normal.py).
__device__ __forceinline__ double erf_newton(bool refine, double u, double yh, double yl) {
    return !refine ? u : u - ((erf(u) - yh) - yl) / (TWO_OVER_SQRTPI * exp(-u * u));
}
__device__ __forceinline__ double erfc_newton(bool refine, double u, double z) {
    return refine && u < 26.0 ? u + (erfc(u) - z) / (TWO_OVER_SQRTPI * exp(-u * u)) : u;
}

// Phi^-1(p) = -sqrt 2 erfc^-1(2p), refined as u = erfc^-1(2p) (Phi(x) through erfc(-x/sqrt 2)
// would round x/sqrt 2: relative error ~x^2 eps in the far tail). q = p - 1/2 is exact for
// p >= 1/4; below, its rounding error ql is carried (exact: Fast2Sum, |-1/2| >= p); 1 - p is
// exact for p >= 1/2.
__device__ inline double normal_quantile(double p, bool refine = true) {
    if (!(p > 0.0 && p < 1.0)) return p == 0.0 ? -inf() : (p == 1.0 ? inf() : qnan());
    const double q = p - 0.5;
    if (fabs(q) <= 0.425) {                     // erf(u) = 1 - 2p = -2(q + ql), u = -x/sqrt 2
        const double ql = p - (q + 0.5), r = as241_central(0.180625 - q * q) * SQRT1_2;
        return -SQRT2 * erf_newton(refine, -(q * r + ql * r), -2.0 * q, -2.0 * ql);
    }
    const double m = q < 0.0 ? p : 1.0 - p;     // erfc(|u|) = 2m (m >= 1e-296 where refined)
    const double u = erfc_newton(refine, as241_tail(-log(m)) * SQRT1_2, 2.0 * m);
    return q < 0.0 ? -SQRT2 * u : SQRT2 * u;
}
// erf^-1(y) = Phi^-1((1 + y)/2) / sqrt 2: q = y/2, so the central form takes y itself (relative
// accuracy down to the subnormals); the tails' min(p, 1 - p) = (1 - |y|)/2, exact.
__device__ inline double erf_inv(double y, bool refine = true) {
    const double a = fabs(y);
    if (!(a < 1.0)) return a == 1.0 ? y * inf() : qnan();
    if (a <= 0.85) {
        const double r = as241_central(0.180625 - 0.25 * y * y) * SQRT1_8;
        return erf_newton(refine, y * r, y, 0.0);
    }
    const double x = erfc_newton(refine, as241_tail(-log(0.5 * (1.0 - a))) * SQRT1_2, 1.0 - a);
    return y < 0.0 ? -x : x;
}
// erfc^-1(z) = -Phi^-1(z/2) / sqrt 2: q = (z - 1)/2, z - 1 carried with its rounding error
// (exact for z >= 1/2); the left tail's -log(z/2) = log 2 - log z, so z/2 never rounds (z
// subnormal); the right tail's 1 - z/2 = (2 - z)/2, exact.
__device__ inline double erfc_inv(double z, bool refine = true) {
    if (!(z > 0.0 && z < 2.0)) return z == 0.0 ? inf() : (z == 2.0 ? -inf() : qnan());
    const double t = z - 1.0;
    if (fabs(t) <= 0.85) {                      // erf(u) = 1 - z = -(t + tl)
        const double tl = z - (t + 1.0), r = as241_central(0.180625 - 0.25 * t * t) * SQRT1_8;
        return erf_newton(refine, -(t * r + tl * r), -t, -tl);
    }
    if (t < 0.0) return erfc_newton(refine, as241_tail(LN2 - log(z)) * SQRT1_2, z);
    const double w = 2.0 - z;                   // erfc(-u) = 2 - z
    return -erfc_newton(refine, as241_tail(-log(0.5 * w)) * SQRT1_2, w);
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

// e^(c - s x^2) for s = 1 or 1/2, |x| < 64 (callers return 0 beyond their bound first), c =
// c_hi + c_lo with c_hi a multiple of 2^-41: the Gaussian factor of erf' and phi. exp(c - s*x*x)
// rounds the exponent first, |s x^2| eps absolute: up to 475 ulps of erf' near x = 24, 60 in
// float32 near x = 8.3. Here x = h + l with h a multiple of 2^-20 (x + 1.5 2^32 - 1.5 2^32: no
// multiplication to contract): h has at most 26 bits, so s h^2 is exact and so is c_hi - s h^2
// (a multiple of 2^-41 below 2^11); the rest, r = c_lo - s l (2h + l), is below 6.1e-5 (2.7e-5
// for erf's and phi's ranges), and e^r its cubic, within 1e-18. float: in double, where x^2 is
// exact and the exponent's rounding 2^-43 of the result (the policy of the special functions
// above; on the CPU the float32 VJPs of erf and phi take 1.5-2x their old time). On duals the
// chain rule with -2 s x times the value, both from w = e^(8 + c - s x^2) times e^-8 (8 is exact
// in c_hi; added at the outermost dual only, so that no order overflows float): where the value
// is subnormal its derivative, up to 2 s |x| (56) times larger, may be normal and would carry
// the subnormal's lost bits (16 ulps of erf'' at x = 26.7). Complex numbers: as written.
template <class S> __device__ __forceinline__ S exp_c_sq(S x, double c_hi, double c_lo, double s) {
    if constexpr (is_complex<S>::value) {
        return exp(S(c_hi + c_lo) - S(s) * x * x);
    } else if constexpr (is_dual<S>::value) {
        using V = decltype(x.v);
        const bool outer = c_hi < 4.0;    // (|c| < 1 for both callers)
        const V w = exp_c_sq(x.v, outer ? c_hi + 8.0 : c_hi, c_lo, s);
        const V em8 = V(outer ? 3.3546262790251185e-4 : 1.0);
        return chain(x, w * em8, V(-2 * s) * x.v * w * em8);
    } else if constexpr (sizeof(S) < sizeof(double)) {
        const double d = x;
        return S(exp((c_hi + c_lo) - s * d * d));
    } else {
        const double k = 6442450944.0;   // 1.5 2^32, where the spacing of doubles is 2^-20
        const double h = (x + k) - k, l = x - h;
        const double r = c_lo - s * l * (h + h + l);
        return exp(c_hi - s * h * h) * (1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0))));
    }
}

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

// erf^-1, erfc^-1: derivatives +-sqrt(pi)/2 e^(y^2) at y = the result. The Newton step after
// AS 241 only for double: AS 241 alone (within ~5e-16) is far inside float's rounding.
template <class S> constexpr bool refine_inverse = sizeof(S) >= sizeof(double);
template <class S> __device__ __forceinline__ S erf_inv(S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::erf_inv(double(x), refine_inverse<S>));
    else return unary_chain<ops::Erfinv>(x);
}
template <class S> __device__ __forceinline__ S erfc_inv(S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::erfc_inv(double(x), refine_inverse<S>));
    else return unary_chain<ops::Erfcinv>(x);
}
// sqrt(pi)/2 e^(y^2) as one exp (the product would overflow first); inf at y = +-inf.
template <class S> __device__ __forceinline__ S erf_inv_d(S y) {
    return exp(S(-0.12078223763524522235) + y * y);
}

// The standard normal cdf Phi(x) = erfc(-x/sqrt 2)/2, its density and inverse, log Phi.
// float in double: -x/sqrt 2 rounded in float moves erfc by 2 y^2 eps_f in relative terms
// (1.1e-5 at x = -13; SciPy's float32 loop computes in double).
template <class S> __device__ __forceinline__ S ndtr(S x) {
    if constexpr (GPUAD_PLAIN(S) && sizeof(S) < sizeof(double))
        return S(0.5 * erfc(-double(x) * 0.70710678118654752440));
    else if constexpr (GPUAD_PLAIN(S)) return S(0.5) * erfc(-x * S(0.70710678118654752440));
    else return unary_chain<ops::Ndtr>(x);
}
// phi(x) = e^(-log sqrt(2 pi) - x^2/2) (one exp: the product passes through subnormals), the
// exponent exact (exp_c_sq); 0 for |x| >= 40, where it is 0 in float64 too.
template <class S> __device__ __forceinline__ S ndtr_d(S x) {
    return x <= S(-40) || x >= S(40) ? S(0)
                                     : exp_c_sq(x, -0.9189385332047095, 3.678716505667335e-14, 0.5);
}
template <class S> __device__ __forceinline__ S ndtri(S p) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::normal_quantile(double(p), refine_inverse<S>));
    else return unary_chain<ops::Ndtri>(p);
}
// 1/phi(z) = sqrt(2 pi) e^(z^2/2) as one exp.
template <class S> __device__ __forceinline__ S ndtri_d(S z) {
    return exp(S(0.91893853320467274178) + S(0.5) * z * z);
}
template <class S> __device__ __forceinline__ S log_ndtr_d(S x);
// On duals (log_stdtr's df = inf, differentiated in df) the chain rule with log_ndtr_d.
template <class S> __device__ __forceinline__ S log_ndtr(S x) {
    if constexpr (GPUAD_PLAIN(S)) return S(special::log_ndtr(double(x)));
    else return chain(x, log_ndtr(x.v), log_ndtr_d(x.v));
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

// Complex 1/(1 - z^2), relatively accurate everywhere: 1 - z*z near 0 (|Re| + |Im| < 1/2),
// where its derivative -2z does not cancel as the factored form's -(1 + z) + (1 - z) does;
// (1 - z)(1 + z) around the branch points +-1, where 1 - z*z cancels (eps/|z -+ 1|); and
// -u^2/((1 - u)(1 + u)), u = 1/z, beyond 3, where z*z overflows (NaN + NaN i for |z| >
// 1.3e154). On duals the chain rule with (1/(1 - z^2))' = 2z q^2 on the value q.
template <class S> __device__ __forceinline__ S inv_1m_sq_c(S z) {
    if constexpr (is_dual<S>::value) {
        const auto q = inv_1m_sq_c(z.v);
        return chain(z, q, decltype(q)(2) * z.v * q * q);
    } else {
        const auto m = fabs(z.re) + fabs(z.im);
        if (m < decltype(m)(0.5)) return S(1) / (S(1) - z * z);
        if (m > decltype(m)(3)) {
            const S u = S(1) / z;
            return -(u * u) / (one_minus(u) * one_plus(u));
        }
        return S(1) / (one_minus(z) * one_plus(z));
    }
}
// d/dx asinh = 1/sqrt(1 + x^2); for |x| > 1 as |u| / sqrt(1 + u^2), u = 1/x (x^2 overflows).
template <class S> __device__ __forceinline__ S asinh_d(S x) {
    if constexpr (is_complex<S>::value && is_dual<S>::value) {
        // asinh'' = -asinh' z/(1 + z^2) on the value (the dual arithmetic on the square roots
        // cancelled near 0); 1 + z^2 = 1 - (iz)^2 by inv_1m_sq_c (unary.cuh)
        const auto a = asinh_d(x.v);
        return chain(x, a, -(a * x.v * inv_1m_sq_c(times_i(x.v))));
    } else if constexpr (is_complex<S>::value) {
        // complex: asinh z = -i asin(i z) (Kahan, complex.cuh), so asinh'(z) = asin'(i z) =
        // 1/(sqrt(1 - iz) sqrt(1 + iz)): on the cut (the imaginary axis beyond +-i) the side
        // the value is taken from; 1/sqrt(z^2 + 1) would take the other where 1 + z^2 drops -0.
        const S w = times_i(x);
        return S(1) / (sqrt(one_minus(w)) * sqrt(one_plus(w)));
    } else if (x < S(-1) || x > S(1)) {
        const S u = S(1) / x;
        return fabs(u) / sqrt(S(1) + u * u);
    }
    return S(1) / sqrt(S(1) + x * x);
}
// d/dx acosh = 1/sqrt(x^2 - 1): (x - 1)(x + 1) for x <= 2 (x - 1 exact; x^2 - 1 cancels), and
// u / sqrt((1 - u)(1 + u)), u = 1/x, above (x^2 overflows).
template <class S> __device__ __forceinline__ S acosh_d(S x) {
    if constexpr (is_complex<S>::value && is_dual<S>::value) {
        // acosh'' = -acosh' z/(z^2 - 1) on the value (dual arithmetic on the roots cancelled)
        const auto a = acosh_d(x.v);
        return chain(x, a, a * x.v * inv_1m_sq_c(x.v));
    } else if constexpr (is_complex<S>::value) {
        // complex: 1/(sqrt(z - 1) sqrt(z + 1)), the square roots of Kahan's acosh (complex.cuh),
        // z - 1 = -(1 - z) = (x - 1, y) and z + 1 = (1 + x, y): the value's side on the cut.
        return S(1) / (sqrt(-one_minus(x)) * sqrt(one_plus(x)));
    } else if (x > S(2)) {
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

// A power of two that lifts m, a magnitude below 2^-900 (2^-100 in float32), into the normal
// numbers with room (2^600, 2^64; else 1): a partial formed from the scaled arguments and
// scaled back last has no subnormal intermediate, and no 1/m that overflows where the
// partial does not. Exact: multiplying by a power of two rounds nothing in the normal range.
template <class S> __device__ __forceinline__ S tiny_scale(S m) {
    if constexpr (sizeof(S) == 4) return m < S(7.888609052210118e-31) ? S(1.8446744073709552e19) : S(1);
    else return m < S(1.1830521861667747e-271) ? S(4.149515568880993e180) : S(1);
}

// A power of two c that brings the magnitude m into [1/2, 1) (c m; clamped to 2^+-1000,
// 2^+-120 in float32; 1 for m 0, inf or NaN): for a function homogeneous of degree k,
// f(x) = c^-k f(c x) exactly, and on the scaled arguments no intermediate over- or
// underflows where f does not.
template <class B> __device__ __forceinline__ B unit_scale(B m) {
    if (!(m > B(0)) || m == B(special::inf())) return B(1);
    int e;
    (void)frexp(double(m), &e);
    const int lim = sizeof(B) == 4 ? 120 : 1000;
    return B(ldexp(1.0, e > lim ? -lim : e < -lim ? lim : -e));
}

// d/dx hypot(x, y) = x / hypot(x, y); 0 at (0, 0) (the subgradient, as linalg.norm). On duals
// as sgn(x) / sqrt(1 + t^2), t = y/x (|x| >= |y|), or s sgn(y) / sqrt(1 + s^2), s = x/y: the
// derivatives of x / hypot (y^2 / r^3, -x y / r^3) would cancel as 1/r - x^2/r^3.
// x infinite, y finite: the limit sgn(x) (x / hypot is inf/inf), y infinite, x finite: 0;
// every derivative of theirs 0 (on duals a constant). Both infinite: no limit, NaN.
template <class S> __device__ __forceinline__ S hypot_d(S x, S y) {
    if (x == S(0) && y == S(0)) return S(0);
    if constexpr (is_dual<S>::value) {
        using B = typename base_of<S>::type;
        const B px = B(primal(x)), py = B(primal(y)), inf = B(special::inf());
        if ((fabs(px) == inf) != (fabs(py) == inf) && px == px && py == py)
            return S(fabs(px) == inf ? copysign(B(1), px) : copysign(B(0), px));
        if (fabs(x) >= fabs(y)) {
            const S t = y / x;
            return (x > S(0) ? S(1) : S(-1)) / sqrt(S(1) + t * t);
        }
        const S s = x / y;
        return (y > S(0) ? s : -s) / sqrt(S(1) + s * s);
    } else {
        const S ax = fabs(x), inf = S(special::inf());
        const S lim = S(ax == inf) * S(fabs(y) < inf);   // (0/1 numbers: see pow_band)
        // (scaled up where hypot would round on the subnormal grid: 1 at x = y = 5e-324)
        const S k = tiny_scale(ax > fabs(y) ? ax : fabs(y));
        return lim != S(0) ? copysign(S(1), x) : x * k / hypot(x * k, y * k);
    }
}

// The order n of polygamma(n, x) as an int: -1 (NaN results) unless a nonnegative integer.
template <class S> __device__ __forceinline__ int order_of(S n) {
    const double v = primal(n);
    return v >= 0.0 && v <= 1000.0 && v == floor(v) ? int(v) : -1;
}
// Where polygamma(n, y) is NaN (an order that is not an integer in [0, 1000], y NaN, a pole
// y = 0, -1, ... of an even order, y off the poles below -PSI_NEG_MAX for the Hurwitz
// orders, as psi): every
// derivative of every order, in n as in y, is NaN there (README's rule; d/dy was
// polygamma(0, y), finite, for every invalid order, and d/dn 0).
template <class S> __device__ __forceinline__ bool polygamma_nan(S n, S y) {
    const int k = order_of(n);
    const double v = primal(y);
    return k < 0 || v != v || (v <= 0.0 && v == floor(v) && k % 2 == 0) ||
           (k > special::PSI_N_DIRECT && v < -special::PSI_NEG_MAX && v != floor(v));
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
