// Complex numbers for kernels built by NVRTC (CuPy) and by the host C++ compiler alike:
// gpuad::Complex<T> has the layout of NumPy's and CuPy's complex64/complex128 (real part,
// then imaginary part) and the principal branches of NumPy's functions. Only holomorphic
// functions are defined on it, so an op's hand-written df is the complex derivative f'(z),
// and gpuad::Dual<Complex<T>, N> (dual.cuh) carries complex derivatives: the op math in
// kernels/ops/ instantiates on complex numbers and their duals unchanged.
#pragma once
#include "gpuad/dual.cuh"

namespace gpuad {

using ::hypot; using ::copysign;

template <class T>
struct Complex {
    T re, im;
    __device__ __forceinline__ Complex() : re(0), im(0) {}
    __device__ __forceinline__ Complex(T r, T i) : re(r), im(i) {}
    template <class U, typename enable_if<is_number<U>::value, int>::type = 0>
    __device__ __forceinline__ Complex(U r) : re(T(r)), im(0) {}
    __device__ __forceinline__ Complex& operator+=(const Complex& b) { re += b.re; im += b.im; return *this; }
    __device__ __forceinline__ Complex& operator-=(const Complex& b) { re -= b.re; im -= b.im; return *this; }
    __device__ __forceinline__ Complex& operator*=(const Complex& b) { return *this = *this * b; }
};

template <class T> struct is_complex<Complex<T>> { static constexpr bool value = true; };

#define GPUAD_C Complex<T>
#define GPUAD_C_T template <class T> __device__ __forceinline__

GPUAD_C_T GPUAD_C operator-(const GPUAD_C& a) { return GPUAD_C(-a.re, -a.im); }
GPUAD_C_T GPUAD_C operator+(const GPUAD_C& a, const GPUAD_C& b) { return GPUAD_C(a.re + b.re, a.im + b.im); }
GPUAD_C_T GPUAD_C operator-(const GPUAD_C& a, const GPUAD_C& b) { return GPUAD_C(a.re - b.re, a.im - b.im); }
GPUAD_C_T GPUAD_C operator*(const GPUAD_C& a, const GPUAD_C& b) {
    return GPUAD_C(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
// Smith's algorithm (as NumPy's): no overflow of |b|^2 for large b.
GPUAD_C_T GPUAD_C operator/(const GPUAD_C& a, const GPUAD_C& b) {
    if (fabs(b.re) >= fabs(b.im)) {
        if (b.re == T(0) && b.im == T(0)) return GPUAD_C(a.re / fabs(b.re), a.im / fabs(b.re));
        T r = b.im / b.re, den = b.re + b.im * r;
        return GPUAD_C((a.re + a.im * r) / den, (a.im - a.re * r) / den);
    }
    T r = b.re / b.im, den = b.im + b.re * r;
    return GPUAD_C((a.re * r + a.im) / den, (a.im * r - a.re) / den);
}
GPUAD_C_T bool operator==(const GPUAD_C& a, const GPUAD_C& b) { return a.re == b.re && a.im == b.im; }
GPUAD_C_T bool operator!=(const GPUAD_C& a, const GPUAD_C& b) { return !(a == b); }
// Mixed with plain numbers (literals and the real scalar types).
#define GPUAD_MIXED(op, R)                                                                 \
    template <class T, class U>                                                          \
    __device__ __forceinline__ typename enable_if<is_number<U>::value, R>::type operator op( \
        const GPUAD_C& a, U b) { return a op GPUAD_C(b); }                               \
    template <class T, class U>                                                          \
    __device__ __forceinline__ typename enable_if<is_number<U>::value, R>::type operator op( \
        U a, const GPUAD_C& b) { return GPUAD_C(a) op b; }
GPUAD_MIXED(+, GPUAD_C)
GPUAD_MIXED(-, GPUAD_C)
GPUAD_MIXED(*, GPUAD_C)
GPUAD_MIXED(/, GPUAD_C)
GPUAD_MIXED(==, bool)
GPUAD_MIXED(!=, bool)
#undef GPUAD_MIXED

GPUAD_C_T T modulus(const GPUAD_C& z) { return hypot(z.re, z.im); }
GPUAD_C_T GPUAD_C times_i(const GPUAD_C& z) { return GPUAD_C(-z.im, z.re); }      // i z
GPUAD_C_T GPUAD_C times_minus_i(const GPUAD_C& z) { return GPUAD_C(z.im, -z.re); }  // -i z

// Elementary functions on the principal branch (NumPy's cuts: log, sqrt, pow on the
// negative real axis; asin, acos, atanh on the real axis outside [-1, 1]; atan on the
// imaginary axis outside [-i, i]).
GPUAD_C_T GPUAD_C exp(const GPUAD_C& z) {
    T e = exp(z.re);
    return GPUAD_C(e * cos(z.im), e * sin(z.im));
}
GPUAD_C_T GPUAD_C exp2(const GPUAD_C& z) { return exp(z * T(0.6931471805599453094)); }
// e^z - 1 = expm1(x) cos y - 2 sin^2(y / 2) + i e^x sin y: accurate near 0.
GPUAD_C_T GPUAD_C expm1(const GPUAD_C& z) {
    T s = sin(z.im * T(0.5));
    return GPUAD_C(expm1(z.re) * cos(z.im) - T(2) * s * s, exp(z.re) * sin(z.im));
}
GPUAD_C_T GPUAD_C log(const GPUAD_C& z) { return GPUAD_C(log(modulus(z)), atan2(z.im, z.re)); }
GPUAD_C_T GPUAD_C log2(const GPUAD_C& z) { return log(z) * T(1.4426950408889634074); }
GPUAD_C_T GPUAD_C log10(const GPUAD_C& z) { return log(z) * T(0.43429448190325182765); }
// log(1 + z) = log1p(2x + x^2 + y^2) / 2 + i atan2(y, 1 + x): accurate near 0.
GPUAD_C_T GPUAD_C log1p(const GPUAD_C& z) {
    if (modulus(z) < T(0.5))
        return GPUAD_C(T(0.5) * log1p(z.re * (T(2) + z.re) + z.im * z.im), atan2(z.im, T(1) + z.re));
    return log(T(1) + z);
}
GPUAD_C_T GPUAD_C sqrt(const GPUAD_C& z) {
    if (z.re == T(0) && z.im == T(0)) return GPUAD_C(T(0), z.im);
    T t = sqrt((fabs(z.re) + modulus(z)) * T(0.5));
    if (z.re >= T(0)) return GPUAD_C(t, z.im / (T(2) * t));
    return GPUAD_C(fabs(z.im) / (T(2) * t), copysign(t, z.im));
}
// z**w = exp(w log z); 0**w is 1 for w = 0 and 0 for Re w > 0 (NumPy's values).
GPUAD_C_T GPUAD_C pow(const GPUAD_C& z, const GPUAD_C& w) {
    if (w.re == T(0) && w.im == T(0)) return GPUAD_C(T(1), T(0));
    if (z.re == T(0) && z.im == T(0)) {
        if (w.re > T(0)) return GPUAD_C(T(0), T(0));
        T nan = T(0) / T(0);
        return GPUAD_C(nan, nan);
    }
    return exp(w * log(z));
}
GPUAD_C_T GPUAD_C sin(const GPUAD_C& z) { return GPUAD_C(sin(z.re) * cosh(z.im), cos(z.re) * sinh(z.im)); }
GPUAD_C_T GPUAD_C cos(const GPUAD_C& z) { return GPUAD_C(cos(z.re) * cosh(z.im), -sin(z.re) * sinh(z.im)); }
GPUAD_C_T GPUAD_C sinh(const GPUAD_C& z) { return GPUAD_C(sinh(z.re) * cos(z.im), cosh(z.re) * sin(z.im)); }
GPUAD_C_T GPUAD_C cosh(const GPUAD_C& z) { return GPUAD_C(cosh(z.re) * cos(z.im), sinh(z.re) * sin(z.im)); }
// Kahan's formula: no cancellation, and the limit +-1 for large |Re z| without overflow.
GPUAD_C_T GPUAD_C tanh(const GPUAD_C& z) {
    if (fabs(z.re) > T(sizeof(T) == 4 ? 9 : 22)) {
        T e = exp(T(-2) * fabs(z.re));
        return GPUAD_C(copysign(T(1), z.re), T(4) * sin(z.im) * cos(z.im) * e);
    }
    T t = tan(z.im), b = T(1) + t * t, s = sinh(z.re), rho = sqrt(T(1) + s * s);
    T den = T(1) + b * s * s;
    return GPUAD_C(b * rho * s / den, t / den);
}
GPUAD_C_T GPUAD_C tan(const GPUAD_C& z) { return times_minus_i(tanh(times_i(z))); }  // -i tanh(i z)
// asinh z = log1p(z + z^2 / (sqrt(z^2 + 1) + 1)) for Re z >= 0 (odd): accurate near 0.
GPUAD_C_T GPUAD_C asinh(const GPUAD_C& z) {
    const bool flip = z.re < T(0);
    GPUAD_C w = flip ? -z : z, w2 = w * w;
    GPUAD_C r = log1p(w + w2 / (sqrt(w2 + T(1)) + T(1)));
    return flip ? -r : r;
}
GPUAD_C_T GPUAD_C asin(const GPUAD_C& z) { return times_minus_i(asinh(times_i(z))); }  // -i asinh(i z)
GPUAD_C_T GPUAD_C acos(const GPUAD_C& z) { return T(1.5707963267948966192) - asin(z); }
GPUAD_C_T GPUAD_C atanh(const GPUAD_C& z) { return (log1p(z) - log1p(-z)) * T(0.5); }
GPUAD_C_T GPUAD_C atan(const GPUAD_C& z) { return times_minus_i(atanh(times_i(z))); }  // -i atanh(i z)

#undef GPUAD_C_T
#undef GPUAD_C

}  // namespace gpuad
