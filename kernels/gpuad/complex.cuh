// Complex numbers for kernels built by NVRTC (CuPy) and by the host C++ compiler alike:
// gpuad::Complex<T> has the layout of NumPy's and CuPy's complex64/complex128 (real part,
// then imaginary part) and the principal branches of NumPy's functions. Only holomorphic
// functions are defined on it, so an op's hand-written df is the complex derivative f'(z),
// and gpuad::Dual<Complex<T>, N> (dual.cuh) carries complex derivatives: the op math in
// kernels/ops/ instantiates on complex numbers and their duals unchanged.
#pragma once
#include "gpuad/dual.cuh"

namespace gpuad {

using ::hypot; using ::copysign; using ::asinh;
// finite / infinite tests without <cmath>'s macros (x - x is 0 for finite x, NaN otherwise)
template <class T> __device__ __forceinline__ bool isfinite_(T x) { return x - x == T(0); }
template <class T> __device__ __forceinline__ bool isinf_(T x) { return x == x && !(x - x == T(0)); }

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
// Mixed with plain numbers (literals and the real scalar types), as C99 Annex G (G.5.1, G.5.2)
// defines mixed real and complex arithmetic: the real operand has no imaginary part, so a
// zero imaginary part keeps its sign (1 - (x + i0) is (1 - x) - i0, not (1 - x) + i0) and an
// infinite part meets no 0 * inf. Kahan 1987 ("Branch cuts for complex elementary functions,
// or much ado about nothing's sign bit") builds the branch cuts' signed zeros on this.
#define GPUAD_MIXED_NUMBER template <class T, class U> \
    __device__ __forceinline__ typename enable_if<is_number<U>::value, GPUAD_C>::type
GPUAD_MIXED_NUMBER operator+(const GPUAD_C& a, U b) { return GPUAD_C(a.re + T(b), a.im); }
GPUAD_MIXED_NUMBER operator+(U a, const GPUAD_C& b) { return GPUAD_C(T(a) + b.re, b.im); }
GPUAD_MIXED_NUMBER operator-(const GPUAD_C& a, U b) { return GPUAD_C(a.re - T(b), a.im); }
GPUAD_MIXED_NUMBER operator-(U a, const GPUAD_C& b) { return GPUAD_C(T(a) - b.re, -b.im); }
GPUAD_MIXED_NUMBER operator*(const GPUAD_C& a, U b) { return GPUAD_C(a.re * T(b), a.im * T(b)); }
GPUAD_MIXED_NUMBER operator*(U a, const GPUAD_C& b) { return GPUAD_C(T(a) * b.re, T(a) * b.im); }
GPUAD_MIXED_NUMBER operator/(const GPUAD_C& a, U b) { return GPUAD_C(a.re / T(b), a.im / T(b)); }
GPUAD_MIXED_NUMBER operator/(U a, const GPUAD_C& b) { return GPUAD_C(a) / b; }
#undef GPUAD_MIXED_NUMBER
#define GPUAD_MIXED(op, R)                                                                 \
    template <class T, class U>                                                          \
    __device__ __forceinline__ typename enable_if<is_number<U>::value, R>::type operator op( \
        const GPUAD_C& a, U b) { return a op GPUAD_C(b); }                               \
    template <class T, class U>                                                          \
    __device__ __forceinline__ typename enable_if<is_number<U>::value, R>::type operator op( \
        U a, const GPUAD_C& b) { return GPUAD_C(a) op b; }
GPUAD_MIXED(==, bool)
GPUAD_MIXED(!=, bool)
#undef GPUAD_MIXED

GPUAD_C_T T modulus(const GPUAD_C& z) { return hypot(z.re, z.im); }
GPUAD_C_T GPUAD_C times_i(const GPUAD_C& z) { return GPUAD_C(-z.im, z.re); }      // i z
GPUAD_C_T GPUAD_C times_minus_i(const GPUAD_C& z) { return GPUAD_C(z.im, -z.re); }  // -i z

// Elementary functions on the principal branch (NumPy's cuts: log, sqrt, pow on the
// negative real axis; asin, acos, atanh on the real axis outside [-1, 1]; acosh on it left of
// 1; atan, asinh on the imaginary axis outside [-i, i]). On a cut the sign of the zero
// imaginary (for atan, asinh: real) part picks the side, as in C99 Annex G and NumPy:
// sqrt(-4 - 0i) = -2i, log(-1 - 0i) = -i pi (atan2 keeps the zero's sign). Infinite and NaN
// arguments: Annex G's special values hold for log, log2, log10, log1p, expm1, 1/z, z^2; the
// other functions may give NaN parts where Annex G gives an infinity or a zero (e.g.
// exp(inf + 0i) = inf + NaN i, NumPy inf + 0i): tests/test_complex_branch_cuts.py, SPECIAL.
// Annex G's special values (G.6.3.1) where e^x cis y would meet inf * 0 or inf * NaN:
// exp(x +- 0i) = e^x +- 0i (x = inf, NaN included), exp(inf + i inf) = inf + NaN i.
GPUAD_C_T GPUAD_C exp(const GPUAD_C& z) {
    if (z.im == T(0)) return GPUAD_C(exp(z.re), z.im);
    if (isinf_(z.re) && !isfinite_(z.im))
        return z.re > T(0) ? GPUAD_C(z.re, z.im - z.im) : GPUAD_C(T(0), T(0));
    T e = exp(z.re);
    return GPUAD_C(e * cos(z.im), e * sin(z.im));
}
GPUAD_C_T GPUAD_C exp2(const GPUAD_C& z) { return exp(z * T(0.6931471805599453094)); }
// e^z - 1 = expm1(x) cos y - 2 sin^2(y / 2) + i e^x sin y: accurate near 0.
GPUAD_C_T GPUAD_C expm1(const GPUAD_C& z) {
    T s = sin(z.im * T(0.5));
    return GPUAD_C(expm1(z.re) * cos(z.im) - T(2) * s * s, exp(z.re) * sin(z.im));
}
template <class T> struct wider { using type = T; };          // float: double
template <> struct wider<float> { using type = double; };
// log z = log|z| + i atan2(y, x). Near |z| = 1, where log(hypot) loses the digits hypot rounds
// away, log|z| = log1p((a - 1)(a + 1) + b^2) / 2, a = max(|x|, |y|), b = min (a - 1 exact for
// a in [1/2, 2]); for complex64 in double, where those products are exact (glibc's clogf,
// which NumPy calls, is as accurate).
GPUAD_C_T GPUAD_C log(const GPUAD_C& z) {
    const T ax = fabs(z.re), ay = fabs(z.im), a = ax > ay ? ax : ay, b = ax > ay ? ay : ax;
    if (a >= T(0.5) && a <= T(2)) {
        using W = typename wider<T>::type;
        const W aw = W(a), bw = W(b);
        return GPUAD_C(T(W(0.5) * log1p((aw - W(1)) * (aw + W(1)) + bw * bw)), atan2(z.im, z.re));
    }
    return GPUAD_C(log(modulus(z)), atan2(z.im, z.re));
}
// log2, log10: log z times a real number (Annex G's product: log2(0) = -inf + 0i, not NaN i).
GPUAD_C_T GPUAD_C log2(const GPUAD_C& z) { return log(z) * T(1.4426950408889634074); }
GPUAD_C_T GPUAD_C log10(const GPUAD_C& z) { return log(z) * T(0.43429448190325182765); }
// log(1 + z) = log1p(2x + x^2 + y^2) / 2 + i atan2(y, 1 + x): accurate near 0. Elsewhere
// log(1 + z) with 1 + z = (1 + x, y) (Annex G's mixed sum): -9 - 0i gives log 8 - i pi.
GPUAD_C_T GPUAD_C log1p(const GPUAD_C& z) {
    if (modulus(z) < T(0.5))
        return GPUAD_C(T(0.5) * log1p(z.re * (T(2) + z.re) + z.im * z.im), atan2(z.im, T(1) + z.re));
    return log(T(1) + z);
}
GPUAD_C_T GPUAD_C sqrt(const GPUAD_C& z) {
    if (z.re == T(0) && z.im == T(0)) return GPUAD_C(T(0), z.im);
    if (isinf_(z.im)) return GPUAD_C(fabs(z.im), z.im);   // Annex G: inf + i y for y = +-inf
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
// sinh, cosh with Annex G's special values (G.6.2.4, G.6.2.5) where the products would meet
// inf * 0 or 0 * NaN; sin z = -i sinh(i z), cos z = cosh(i z) (C99 7.3.5.6, 7.3.5.5).
GPUAD_C_T GPUAD_C sinh(const GPUAD_C& z) {
    const T x = z.re, y = z.im;
    if (y == T(0)) return GPUAD_C(sinh(x), y);
    if (!isfinite_(y) && (x == T(0) || isinf_(x))) return GPUAD_C(x, y - y);
    return GPUAD_C(sinh(x) * cos(y), cosh(x) * sin(y));
}
GPUAD_C_T GPUAD_C cosh(const GPUAD_C& z) {
    const T x = z.re, y = z.im;
    if (y == T(0)) return GPUAD_C(cosh(x), y * copysign(T(1), x));
    if (!isfinite_(y) && x == T(0)) return GPUAD_C(y - y, x * copysign(T(1), y));
    if (!isfinite_(y) && isinf_(x)) return GPUAD_C(fabs(x), y - y);
    return GPUAD_C(cosh(x) * cos(y), sinh(x) * sin(y));
}
GPUAD_C_T GPUAD_C sin(const GPUAD_C& z) { return times_minus_i(sinh(times_i(z))); }
GPUAD_C_T GPUAD_C cos(const GPUAD_C& z) { return cosh(times_i(z)); }
// Kahan's formula: no cancellation, and the limit +-1 for large |Re z| without overflow.
// Annex G (G.6.2.6): tanh(x +- 0i) = tanh x +- 0i, tanh(+-inf + i y) = +-1 + 0i sin 2y (y
// infinite or NaN: +-1 +- 0i), tanh(+-0 + i inf) = +-0 + NaN i.
GPUAD_C_T GPUAD_C tanh(const GPUAD_C& z) {
    if (z.im == T(0)) return GPUAD_C(tanh(z.re), z.im);
    if (isinf_(z.re) && !isfinite_(z.im)) return GPUAD_C(copysign(T(1), z.re), copysign(T(0), z.im));
    if (z.re == T(0) && !isfinite_(z.im)) return GPUAD_C(z.re, z.im - z.im);   // 0 + NaN i (C11 DR 471)
    if (fabs(z.re) > T(sizeof(T) == 4 ? 9 : 22)) {
        T e = exp(T(-2) * fabs(z.re));
        return GPUAD_C(copysign(T(1), z.re), T(4) * sin(z.im) * cos(z.im) * e);
    }
    T t = tan(z.im), b = T(1) + t * t, s = sinh(z.re), rho = sqrt(T(1) + s * s);
    T den = T(1) + b * s * s;
    return GPUAD_C(b * rho * s / den, t / den);
}
GPUAD_C_T GPUAD_C tan(const GPUAD_C& z) { return times_minus_i(tanh(times_i(z))); }  // -i tanh(i z)
// The inverse functions by Kahan 1987 (W. Kahan, "Branch cuts for complex elementary
// functions, or much ado about nothing's sign bit", in The State of the Art in Numerical
// Analysis, Clarendon Press): each is built from square roots of 1 - z, 1 + z (z - 1) formed
// as Annex G does (one_minus: (1 - x, -y), so the zero's sign flips) and from real atan2 and
// asinh, which keep a signed zero's sign. On a cut the value is then the limit from the side
// the zero's sign names (C99 Annex G's and NumPy's values), and no form cancels: near 0 the
// results keep their relative accuracy (asin z ~ z), near +-1 the square roots carry it.
GPUAD_C_T GPUAD_C one_minus(const GPUAD_C& z) { return GPUAD_C(T(1) - z.re, -z.im); }  // 1 - z
GPUAD_C_T GPUAD_C one_plus(const GPUAD_C& z) { return GPUAD_C(T(1) + z.re, z.im); }    // 1 + z
// Kahan's arcsin: with s = sqrt(1 - z), t = sqrt(1 + z),
// asin z = atan2(x, Re(s t)) + i asinh(Im(conj(s) t)).
GPUAD_C_T GPUAD_C asin(const GPUAD_C& z) {
    const GPUAD_C s = sqrt(one_minus(z)), t = sqrt(one_plus(z));
    return GPUAD_C(atan2(z.re, s.re * t.re - s.im * t.im), asinh(s.re * t.im - s.im * t.re));
}
// Kahan's arccos: acos z = 2 atan2(Re s, Re t) + i asinh(Im(conj(t) s)), s and t as for asin.
GPUAD_C_T GPUAD_C acos(const GPUAD_C& z) {
    const GPUAD_C s = sqrt(one_minus(z)), t = sqrt(one_plus(z));
    return GPUAD_C(T(2) * atan2(s.re, t.re), asinh(t.re * s.im - t.im * s.re));
}
// Kahan's arcsinh: asinh z = -i asin(i z) (i z = (-y, x) and -i w = (Im w, -Re w) are exact,
// signed zeros included).
GPUAD_C_T GPUAD_C asinh(const GPUAD_C& z) { return times_minus_i(asin(times_i(z))); }
// Kahan's arccosh: with s = sqrt(z - 1), t = sqrt(z + 1),
// acosh z = asinh(Re(conj(s) t)) + 2i atan2(Im s, Re t).
GPUAD_C_T GPUAD_C acosh(const GPUAD_C& z) {
    const GPUAD_C s = sqrt(z - T(1)), t = sqrt(one_plus(z));
    return GPUAD_C(asinh(s.re * t.re + s.im * t.im), T(2) * atan2(s.im, t.re));
}
// Kahan's arctanh (his procedure without its exponent scaling):
// atanh z = log1p(4x / ((1 - x)^2 + y^2)) / 4 + i atan2(2y, (1 - x)(1 + x) - y^2) / 2,
// no cancellation near 0 (the old (log1p(z) - log1p(-z)) / 2 cancelled in Re for |x| << |y|).
// For |z| > 1e150 (1e18 in float), where the squares overflow: atanh z = atanh(1/z) +- i pi/2
// (the sign of y, signed zero included) with atanh(1/z) = 1/z to working precision.
GPUAD_C_T GPUAD_C atanh(const GPUAD_C& z) {
    const T x = z.re, y = z.im, big = sizeof(T) == 4 ? T(1e18) : T(1e150);
    if (fabs(x) > big || fabs(y) > big)
        return GPUAD_C((T(1) / z).re, copysign(T(1.5707963267948966192), y));
    const T omx = T(1) - x, opx = T(1) + x, den = omx * omx + y * y, q = T(4) * x / den;
    // Re: log1p(q) / 4 = log(((1 + x)^2 + y^2) / den) / 4, the log1p form where q is small
    // (near 0), the quotient's log elsewhere (near +-1, where 1 + q cancels and 1 +- x is exact)
    const T re = fabs(q) < T(0.5) ? log1p(q) : log((opx * opx + y * y) / den);
    return GPUAD_C(T(0.25) * re, T(0.5) * atan2(T(2) * y, omx * opx - y * y));
}
// atan z = -i atanh(i z) (Kahan; C99 G.6 catan).
GPUAD_C_T GPUAD_C atan(const GPUAD_C& z) { return times_minus_i(atanh(times_i(z))); }
// 1 / z as NumPy's reciprocal loop computes it (Smith's quotient with 1 = 1 + 0i folded in):
// its values, NaN + NaN i at 0 and signed zeros at infinity, differ from 1 / z's (inf + NaN i).
GPUAD_C_T GPUAD_C reciprocal(const GPUAD_C& z) {
    if (fabs(z.im) <= fabs(z.re)) {
        const T r = z.im / z.re, d = z.re + z.im * r;
        return GPUAD_C(T(1) / d, -r / d);
    }
    const T r = z.re / z.im, d = z.re * r + z.im;
    return GPUAD_C(r / d, T(-1) / d);
}

// The same on dual numbers over complex ones (the derivative formulas of kernels/ops/ that
// form 1 - z, 1 + z or i z, differentiated to higher orders): linear maps, exact on every
// component.
template <class S, int N> __device__ __forceinline__ Dual<S, N> one_minus(const Dual<S, N>& x) {
    Dual<S, N> r; r.v = one_minus(x.v);
    for (int j = 0; j < N; ++j) r.d[j] = -x.d[j];
    return r;
}
template <class S, int N> __device__ __forceinline__ Dual<S, N> one_plus(const Dual<S, N>& x) {
    Dual<S, N> r; r.v = one_plus(x.v);
    for (int j = 0; j < N; ++j) r.d[j] = x.d[j];
    return r;
}
template <class S, int N> __device__ __forceinline__ Dual<S, N> times_i(const Dual<S, N>& x) {
    Dual<S, N> r; r.v = times_i(x.v);
    for (int j = 0; j < N; ++j) r.d[j] = times_i(x.d[j]);
    return r;
}

#undef GPUAD_C_T
#undef GPUAD_C

}  // namespace gpuad
