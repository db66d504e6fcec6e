// Unary elementwise ops: the function f and its hand-written derivative df, each a template
// on the scalar type S (float, double, or a gpuad::Dual for higher derivatives).
// Nondifferentiable points: relu'(0) = 0, abs'(0) = 0, sign' = 0, sqrt'(0) = inf.
// Each df is accurate wherever the true derivative is a normal number: no cancellation, no
// overflowing or underflowing intermediate. Higher derivatives are df evaluated on duals, so
// df is written with + - * /, the math functions dual.cuh overloads, and value branches, in
// forms whose own derivatives keep that accuracy. Where such a form costs more, a helper takes
// it on duals only (if constexpr is_dual) and a cheaper one, as accurate, on plain numbers:
// the first-order kernels, where the time goes.
#pragma once
#include "gpuad/dual.cuh"
#include "ops/special.cuh"

namespace ops {
using namespace gpuad;

template <class S> __device__ __forceinline__ S step(S x) { return x > S(0) ? S(1) : S(0); }
template <class S> __device__ __forceinline__ S sgn(S x) { return x > S(0) ? S(1) : (x < S(0) ? S(-1) : S(0)); }
// numpy.sign: NaN for NaN (x / x: NaN in the value and, on duals, in every component)
template <class S> __device__ __forceinline__ S sgn_nan(S x) {
    return x > S(0) ? S(1) : (x < S(0) ? S(-1) : (x == S(0) ? S(0) : x / x));
}
// sech^2 x as q/(1 + q/4)^2, q = 4e^(-2|x|) (4e^-2 e^(2 - 2|x|) where e^(-2|x|) is subnormal
// and the result normal): 1 - tanh^2 cancels and cosh^2 overflows. Complex: the same form.
// On duals (real or complex) by the chain
// rule with (sech^2)' = -2 tanh sech^2 on the value: a product of two accurate factors (the
// dual arithmetic on q/(1 + q/4)^2 cancels near 0; 1/cosh/cosh passes through the
// subnormals for |x| > 236 and meets 0 * inf beyond 710), one exp and one tanh per element
// and no branch on the value (the second-order kernels of an HVP, e.g. tanh_vjp_dual).
template <class S> __device__ __forceinline__ S sech2(S x) {
    if constexpr (is_dual<S>::value) {
        const auto s = sech2(x.v);
        return chain(x, s, decltype(s)(-2) * tanh(x.v) * s);
    } else if constexpr (is_complex<S>::value) {
        // 4q/(1 + q)^2, q = e^(-2z) (e^(2z) for Re z < 0, so |q| <= 1): 1 - tanh^2 lost the
        // whole value to the rounding of tanh near +-1 (tanh'(20 + i) came out -1.5e-17i for
        // -7.1e-18 - 1.5e-17i), and 1/cosh^2 overflows to NaN beyond |Re z| = 710.
        const S q = exp(x.re < 0 ? S(2) * x : S(-2) * x);
        const S h = S(1) + q;
        return S(4) * q / (h * h);
    } else {
        // 4 e^(-2|x|): 2|x| is exact, and so is 2 - 2|x| beyond the switch (both multiples of
        // the spacing at 2|x| >= 64), so exp's argument is never rounded (log 4 - 2|x| was:
        // 35 ulps at x = 354.2, 48 in float32 at x = 43.67). One exp, its argument shifted by a
        // product rather than chosen by a select (GCC turns exp of a select into a select of
        // two exps, both computed when vectorised); the factor, 4 or 4e^-2, exactly selected.
        const S t = S(2) * fabs(x);
        const S big = S(t > S(sizeof(S) == 4 ? 87 : 708));
        const S e = exp(S(2) * big - t);
        const S q = e * (big * S(0.5413411329464508) + (S(1) - big) * S(4));
        const S h = S(1) + S(0.25) * q;
        return q / (h * h);
    }
}
// The logistic function, stable for large |x|. On duals by the chain rule with sigm' =
// sech^2(x/2)/4 on the value: the quotient rule on 1/(1 + e^-x) cancels near 0, where the
// even derivatives vanish like x (softplus''' was 0 at x = 1e-20, true -x/8).
template <class S> __device__ __forceinline__ S sigm(S x) {
    if constexpr (is_dual<S>::value) {
        const auto s = sigm(x.v);
        return chain(x, s, decltype(s)(0.25) * sech2(decltype(s)(0.5) * x.v));
    } else {
        if (x >= S(0)) return S(1) / (S(1) + exp(-x));
        S e = exp(x);
        return e / (S(1) + e);
    }
}
// 1 / (1 + x^2) (where x^2 overflows, the result is subnormal or 0); complex: 1/(1 - (iz)^2)
// by inv_1m_sq_c below (1 + z*z cancelled near +-i). On real duals, for |x| > 1, as
// u^2 / (1 + u^2), u = 1/x: the quotient rule's (1/(1 + x^2))/(1 + x^2) underflows where
// -2x/(1 + x^2)^2 is normal, and for |x| > 1.3e154 meets the inf derivative of x^2.
template <class S> __device__ __forceinline__ S inv_1p_sq_c(S z);
template <class S> __device__ __forceinline__ S inv_1p_sq(S x) {
    if constexpr (is_complex<S>::value) return inv_1p_sq_c(x);
    if constexpr (is_dual<S>::value && !is_complex<S>::value) {
        if (x < S(-1) || x > S(1)) {
            const S u = S(1) / x;
            return u * u / (S(1) + u * u);
        }
    }
    return S(1) / (S(1) + x * x);
}
// 2/sqrt(pi) e^(-x^2) as e^(log(2/sqrt(pi)) - x^2), the exponent exact (exp_c_sq, special.cuh):
// the product would pass through a subnormal where the result is normal. 0 for |x| >= 28, where
// it is 0 in float64 too (and x*x would overflow on duals far out). NaN stays NaN.
template <class S> __device__ __forceinline__ S erf_d(S x) {
    return x <= S(-28) || x >= S(28) ? S(0)
                                     : exp_c_sq(x, 0.12078223763546703, -2.2180450282754918e-13, 1.0);
}
// exp2' = ln 2 * 2^x and every higher derivative ln 2^k 2^x: near the top (x > 1000, 120 in
// float32) as 4 ln 2^k 2^(x - 2), x - 2 exact there: 2^x overflows at x = 1024 where exp2',
// 1.25e308, and exp2'' (to 1025.06) do not. The shift is a product, not a select (exp2 of a
// select is two exp2s when vectorised; as in sech2 above). On duals the chain rule with the
// next order on the value (one exp2 per element: every order shares 2^(x - 2 big)).
template <class S> __device__ __forceinline__ S exp2_k(S x, int k) {
    if constexpr (is_dual<S>::value) {
        return chain(x, exp2_k(x.v, k), exp2_k(x.v, k + 1));
    } else {
        S c = S(1);
        for (int j = 0; j < k; ++j) c *= S(0.6931471805599453094);
        const S big = S(x > S(sizeof(S) == 4 ? 120 : 1000));
        return exp2(x - S(2) * big) * ((S(1) + S(3) * big) * c);
    }
}
template <class S> __device__ __forceinline__ S exp2_d(S x) {
    if constexpr (is_complex<S>::value) return S(0.6931471805599453094) * exp2(x);
    else return exp2_k(x, 1);
}
// tan, float in double: libmvec's and CUDA's tanf (up to 4 ulp) would double in tan' = 1 + tan^2
// (5 ulps) and reach 7 in tan''. On duals the chain rule with tan_d (the value widened too).
template <class S> __device__ __forceinline__ S tan_d(S x);
template <class S> __device__ __forceinline__ S tan_w(S x) {
    if constexpr (is_dual<S>::value && !is_complex<S>::value) return chain(x, tan_w(x.v), tan_d(x.v));
    else if constexpr (sizeof(S) < sizeof(double) && !is_complex<S>::value) return S(tan(double(x)));
    else return tan(x);
}
// tan' = 1 + tan^2 (no representable x is close enough to a pole for tan^2 to overflow); complex:
// sec^2 z = sech^2(i z). On duals the chain rule with tan'' = 2 tan tan' on the value, each factor accurate (the dual
// arithmetic on 1 + t*t would carry tanf's error into tan''). float: in double.
template <class S> __device__ __forceinline__ S tan_d(S x) {
    if constexpr (is_dual<S>::value) {
        const auto d = tan_d(x.v);
        return chain(x, d, decltype(d)(2) * tan_w(x.v) * d);
    } else if constexpr (is_complex<S>::value) {
        // sec^2 z = sech^2(i z) (cos z = cosh(i z)): 1 + tan^2 cancelled for large |Im z|
        return sech2(times_i(x));
    } else if constexpr (sizeof(S) < sizeof(double)) {
        const double t = tan(double(x));
        return S(1.0 + t * t);
    } else {
        const S t = tan(x);
        return S(1) + t * t;
    }
}
// 1 - x^2: (1 - x)(1 + x) for |x| >= 1/2, where 1 - x is exact (1 - x*x cancels near |x| = 1);
// 1 - x*x below, whose derivative -2x does not cancel as -(1 + x) + (1 - x) does near 0.
template <class S> __device__ __forceinline__ S one_minus_sq(S x) {
    return x > S(-0.5) && x < S(0.5) ? S(1) - x * x : (S(1) - x) * (S(1) + x);
}
// (inv_1m_sq_c, complex 1/(1 - z^2): special.cuh, beside asinh_d which uses it)
// 1/(1 + z^2) = 1/(1 - (iz)^2) (iz exact): arctan'
template <class S> __device__ __forceinline__ S inv_1p_sq_c(S z) { return inv_1m_sq_c(times_i(z)); }
// 1/(1 - x^2): arctanh'
template <class S> __device__ __forceinline__ S inv_1m_sq(S x) {
    if constexpr (is_complex<S>::value) return inv_1m_sq_c(x);
    else return S(1) / one_minus_sq(x);
}

// Complex arcsin' = 1/(sqrt(1 - z) sqrt(1 + z)), the square roots of Kahan's asin (complex.cuh)
// with 1 - z formed as (1 - x, -y): on a cut the derivative of the side the value is taken
// from (sqrt(1 - z^2) would lose the zero's sign in 1 - z^2 and take the other side's).
// Real: 1/sqrt(1 - x^2); on duals the chain rule with asin'' = asin' x/(1 - x^2) on the value
// (the dual arithmetic on 1/sqrt compounds four roundings into asin'': 5.7 ulps).
template <class S> __device__ __forceinline__ S asin_d(S x) {
    if constexpr (is_complex<S>::value && is_dual<S>::value) {
        // asin'' = asin' z/(1 - z^2) on the value: the dual arithmetic on the square roots
        // cancelled near 0 (asin''((6 + 8i)e-31) came out 8e-31i for (6 + 8i)e-31)
        const auto a = asin_d(x.v);
        return chain(x, a, a * x.v * inv_1m_sq_c(x.v));
    } else if constexpr (is_complex<S>::value) {
        return S(1) / (sqrt(one_minus(x)) * sqrt(one_plus(x)));
    } else if constexpr (is_dual<S>::value) {
        // Outside [-1, 1] NaN in every component: x/(1 - x^2) is an exact 0 for |x| > 1e154
        // (1 - x^2 overflows), which the chain's exact-zero rule would let through as 0.
        if (x < S(-1) || x > S(1)) return nan_all<S>();
        const auto a = asin_d(x.v);
        return chain(x, a, a * (x.v / one_minus_sq(x.v)));
    } else {
        return S(1) / sqrt(one_minus_sq(x));
    }
}
// 1/x; NumPy's reciprocal loop on complex numbers (complex.cuh: NaN + NaN i at 0, as NumPy)
template <class S> __device__ __forceinline__ S recip(S x) {
    if constexpr (is_complex<S>::value && !is_dual<S>::value) return reciprocal(x);
    else return S(1) / x;
}
// Outside a real domain (x < lo, or x > hi): the value is NaN and so is every derivative of
// every order (nan_all, README's rule), where the formula alone would give a finite number
// (1/x for log(-1), 1/(1 - x^2) for atanh(2)). Complex numbers have no such edge: false.
template <class S> __device__ __forceinline__ bool below(S x, double lo) {
    if constexpr (is_complex<S>::value) return false;
    else return x < S(lo);
}
template <class S> __device__ __forceinline__ bool outside(S x, double lo, double hi) {
    if constexpr (is_complex<S>::value) return false;
    else return x < S(lo) || x > S(hi);
}

#define GPUAD_UNARY(Name, F, DF)                                                          \
    struct Name {                                                                        \
        template <class S> __device__ __forceinline__ static S f(S x) { return F; }      \
        template <class S> __device__ __forceinline__ static S df(S x) { return DF; }    \
    };

GPUAD_UNARY(Neg,        -x,                                  S(-1))
GPUAD_UNARY(Exp,        exp(x),                              exp(x))
GPUAD_UNARY(Exp2,       exp2(x),                             exp2_d(x))
GPUAD_UNARY(Log,        log(x),                              below(x, 0.0) ? nan_all<S>() : S(1) / x)
GPUAD_UNARY(Log2,       log2(x),                             below(x, 0.0) ? nan_all<S>() : S(1.4426950408889634074) / x)
GPUAD_UNARY(Log10,      log10(x),                            below(x, 0.0) ? nan_all<S>() : S(0.43429448190325182765) / x)
GPUAD_UNARY(Log1p,      log1p(x),                            below(x, -1.0) ? nan_all<S>() : S(1) / (S(1) + x))
GPUAD_UNARY(Expm1,      expm1(x),                            exp(x))
GPUAD_UNARY(Sqrt,       sqrt(x),                             S(0.5) / sqrt(x))
GPUAD_UNARY(Sin,        sin(x),                              cos(x))
GPUAD_UNARY(Cos,        cos(x),                              -sin(x))
// tan' = 1 + tan^2 (tan_d)
GPUAD_UNARY(Tan,        tan(x),                              tan_d(x))
// tanh' = sech^2 (1 - tanh^2 cancels to 0 for |x| > 19 in float64)
GPUAD_UNARY(Tanh,       tanh(x),                             sech2(x))
GPUAD_UNARY(Sinh,       sinh(x),                             cosh(x))
GPUAD_UNARY(Cosh,       cosh(x),                             sinh(x))
// arctan' = 1/(1 + x^2); arcsin', arccos' = +-1/sqrt(1 - x^2); arctanh' = 1/(1 - x^2) (NaN
// outside [-1, 1], as log's outside x >= 0, log1p's outside x >= -1: outside() above)
GPUAD_UNARY(Arctan,     atan(x),                             inv_1p_sq(x))
GPUAD_UNARY(Arcsin,     asin(x),                             asin_d(x))
GPUAD_UNARY(Arccos,     acos(x),                             -asin_d(x))
GPUAD_UNARY(Arctanh,    atanh(x),                            outside(x, -1.0, 1.0) ? nan_all<S>() : inv_1m_sq(x))
GPUAD_UNARY(Abs,        fabs(x),                             sgn(x))
GPUAD_UNARY(Sign,       sgn_nan(x),                          S(0))
// -1/x^2 as -(1/x)(1/x): x*x over- or underflows where 1/x^2 is normal
GPUAD_UNARY(Reciprocal, recip(x),                            -(S(1) / x) * (S(1) / x))
GPUAD_UNARY(Square,     x * x,                               S(2) * x)
// sigm' = sech^2(x/2) / 4 (sigm (1 - sigm) cancels to 0 for x > 37 in float64)
GPUAD_UNARY(Sigmoid,    sigm(x),                             S(0.25) * sech2(S(0.5) * x))
GPUAD_UNARY(Softplus,   log1p(exp(-fabs(x))) + (x > S(0) ? x : S(0)), sigm(x))
GPUAD_UNARY(Relu,       x > S(0) ? x : S(0),                 step(x))
// erf' = 2/sqrt(pi) e^(-x^2)
GPUAD_UNARY(Erf,        erf(x),                              erf_d(x))
// asinh' = 1/sqrt(1 + x^2); acosh' = 1/sqrt(x^2 - 1) (inf at 1); cbrt' = 1/(3 cbrt(x)^2)
GPUAD_UNARY(Arcsinh,    asinh(x),                            asinh_d(x))
GPUAD_UNARY(Arccosh,    acosh(x),                            below(x, 1.0) ? nan_all<S>() : acosh_d(x))
GPUAD_UNARY(Cbrt,       cbrt(x),                             S(1) / (S(3) * cbrt(x) * cbrt(x)))
// sinc(x) = sin(pi x)/(pi x), sinc' = (cos(pi x) - sinc(x))/x (a series near 0)
GPUAD_UNARY(Sinc,       sinc(x),                             sinc_d(x))
// I0' = I1, I1' = (I0 + I2)/2; (e^-|x| I)' = e^-|x| (I' - sgn(x) I) (sgn(0) = 0)
GPUAD_UNARY(I0,         bessel_i(0, x),                      bessel_i(1, x))
GPUAD_UNARY(I1,         bessel_i(1, x),                      bessel_i_d(1, x))
GPUAD_UNARY(I0e,        bessel_ie(0, x),                     bessel_ie_d(0, x))
GPUAD_UNARY(I1e,        bessel_ie(1, x),                     bessel_ie_d(1, x))
// log|Gamma|' = psi, Gamma' = Gamma psi, psi' = psi^(1)
GPUAD_UNARY(Gammaln,    lgamma(x),                           digamma(x))
GPUAD_UNARY(Gamma,      tgamma(x),                           tgamma(x) * digamma(x))
GPUAD_UNARY(Digamma,    digamma(x),                          polygamma(1, x))
// erfc' = -erf'; (erf^-1)' = sqrt(pi)/2 e^(y^2), (erfc^-1)' = -sqrt(pi)/2 e^(y^2), y the result
GPUAD_UNARY(Erfc,       erfc(x),                             -erf_d(x))
GPUAD_UNARY(Erfinv,     erf_inv(x),                          erf_inv_d(erf_inv(x)))
GPUAD_UNARY(Erfcinv,    erfc_inv(x),                         -erf_inv_d(erfc_inv(x)))
// Phi' = phi; (Phi^-1)' = sqrt(2 pi) e^(z^2/2), z the result; (log Phi)' = phi/Phi
GPUAD_UNARY(Ndtr,       ndtr(x),                             ndtr_d(x))
GPUAD_UNARY(Ndtri,      ndtri(x),                            ndtri_d(ndtri(x)))
GPUAD_UNARY(LogNdtr,    log_ndtr(x),                         log_ndtr_d(x))
// logit' = 1/(x (1 - x)) (NaN outside [0, 1]; acosh' NaN below 1: outside(), below())
GPUAD_UNARY(Logit,      log(x / (S(1) - x)),                 outside(x, 0.0, 1.0) ? nan_all<S>() : logit_d(x))

#undef GPUAD_UNARY
}  // namespace ops
