// Dual numbers: a value and N first-order derivative components, each of type S.
// S may itself be a Dual, so Dual<Dual<double,1>,1> carries second derivatives: the op
// math in kernels/ops/ is written once as templates and instantiated on these types to
// obtain the derivatives of the hand-written derivative functions (higher order).
#pragma once

namespace gpuad {

// The math functions for float and double, visible beside the dual overloads below.
using ::exp; using ::expm1; using ::exp2; using ::log; using ::log1p; using ::sqrt;
using ::sin; using ::cos; using ::tan; using ::sinh; using ::cosh; using ::tanh;
using ::atan; using ::asin; using ::acos; using ::atanh; using ::erf; using ::fabs;
using ::atan2; using ::pow;

// Plain numbers that mix with duals (literals and the scalar types).
template <class U> struct is_number { static constexpr bool value = false; };
template <> struct is_number<float> { static constexpr bool value = true; };
template <> struct is_number<double> { static constexpr bool value = true; };
template <> struct is_number<int> { static constexpr bool value = true; };
template <> struct is_number<long long> { static constexpr bool value = true; };
template <bool B, class R = void> struct enable_if {};
template <class R> struct enable_if<true, R> { using type = R; };
#define GPUAD_IF_NUMBER(U, R) typename enable_if<is_number<U>::value, R>::type

template <class S, int N>
struct Dual {
    S v;
    S d[N];
    __device__ __forceinline__ Dual() : v(0) {
        for (int j = 0; j < N; ++j) d[j] = S(0);
    }
    // A constant: every derivative component is zero.
    template <class U>
    __device__ __forceinline__ Dual(U c) : v(c) {
        for (int j = 0; j < N; ++j) d[j] = S(0);
    }
};

template <class T> struct is_dual { static constexpr bool value = false; };
template <class S, int N> struct is_dual<Dual<S, N>> { static constexpr bool value = true; };

// The underlying real value, through any nesting.
template <class T> __device__ __forceinline__ double primal(T x) { return (double)x; }
template <class S, int N> __device__ __forceinline__ double primal(const Dual<S, N>& x) { return primal(x.v); }

// f(x) with f(x.v) = fv and f'(x.v) = dv: the chain rule applied to every component.
template <class S, int N>
__device__ __forceinline__ Dual<S, N> chain(const Dual<S, N>& x, const S& fv, const S& dv) {
    Dual<S, N> r;
    r.v = fv;
    for (int j = 0; j < N; ++j) r.d[j] = dv * x.d[j];
    return r;
}

#define GPUAD_DUAL Dual<S, N>
#define GPUAD_DUAL_T template <class S, int N> __device__ __forceinline__

GPUAD_DUAL_T GPUAD_DUAL operator-(const GPUAD_DUAL& a) {
    GPUAD_DUAL r; r.v = -a.v;
    for (int j = 0; j < N; ++j) r.d[j] = -a.d[j];
    return r;
}
GPUAD_DUAL_T GPUAD_DUAL operator+(const GPUAD_DUAL& a, const GPUAD_DUAL& b) {
    GPUAD_DUAL r; r.v = a.v + b.v;
    for (int j = 0; j < N; ++j) r.d[j] = a.d[j] + b.d[j];
    return r;
}
GPUAD_DUAL_T GPUAD_DUAL operator-(const GPUAD_DUAL& a, const GPUAD_DUAL& b) {
    GPUAD_DUAL r; r.v = a.v - b.v;
    for (int j = 0; j < N; ++j) r.d[j] = a.d[j] - b.d[j];
    return r;
}
GPUAD_DUAL_T GPUAD_DUAL operator*(const GPUAD_DUAL& a, const GPUAD_DUAL& b) {
    GPUAD_DUAL r; r.v = a.v * b.v;
    for (int j = 0; j < N; ++j) r.d[j] = a.d[j] * b.v + a.v * b.d[j];
    return r;
}
GPUAD_DUAL_T GPUAD_DUAL operator/(const GPUAD_DUAL& a, const GPUAD_DUAL& b) {
    GPUAD_DUAL r; r.v = a.v / b.v;
    for (int j = 0; j < N; ++j) r.d[j] = (a.d[j] - r.v * b.d[j]) / b.v;
    return r;
}
// Mixed with plain numbers (a literal or the scalar type).
#define GPUAD_MIXED(op)                                                                  \
    template <class S, int N, class U>                                                   \
    __device__ __forceinline__ GPUAD_IF_NUMBER(U, GPUAD_DUAL) operator op(const GPUAD_DUAL& a, U b) { \
        return a op GPUAD_DUAL(b);                                                       \
    }                                                                                    \
    template <class S, int N, class U>                                                   \
    __device__ __forceinline__ GPUAD_IF_NUMBER(U, GPUAD_DUAL) operator op(U a, const GPUAD_DUAL& b) { \
        return GPUAD_DUAL(a) op b;                                                       \
    }
GPUAD_MIXED(+)
GPUAD_MIXED(-)
GPUAD_MIXED(*)
GPUAD_MIXED(/)
#undef GPUAD_MIXED

// Comparisons look at values only: branches in op math pick a piece, whose derivative
// the dual arithmetic then follows.
#define GPUAD_CMP(op)                                                                    \
    GPUAD_DUAL_T bool operator op(const GPUAD_DUAL& a, const GPUAD_DUAL& b) { return a.v op b.v; } \
    template <class S, int N, class U>                                                   \
    __device__ __forceinline__ GPUAD_IF_NUMBER(U, bool) operator op(const GPUAD_DUAL& a, U b) { return a.v op S(b); } \
    template <class S, int N, class U>                                                   \
    __device__ __forceinline__ GPUAD_IF_NUMBER(U, bool) operator op(U a, const GPUAD_DUAL& b) { return S(a) op b.v; }
GPUAD_CMP(<)
GPUAD_CMP(>)
GPUAD_CMP(<=)
GPUAD_CMP(>=)
GPUAD_CMP(==)
GPUAD_CMP(!=)
#undef GPUAD_CMP

// Elementary functions; each line is f and f' at the value. Unqualified calls on S resolve
// to the CUDA/C math functions for float and double and to these overloads for nested duals.
GPUAD_DUAL_T GPUAD_DUAL exp(const GPUAD_DUAL& x) { S e = exp(x.v); return chain(x, e, e); }
GPUAD_DUAL_T GPUAD_DUAL expm1(const GPUAD_DUAL& x) { return chain(x, expm1(x.v), exp(x.v)); }
GPUAD_DUAL_T GPUAD_DUAL exp2(const GPUAD_DUAL& x) { S e = exp2(x.v); return chain(x, e, S(0.6931471805599453094) * e); }
GPUAD_DUAL_T GPUAD_DUAL log(const GPUAD_DUAL& x) { return chain(x, log(x.v), S(1) / x.v); }
GPUAD_DUAL_T GPUAD_DUAL log1p(const GPUAD_DUAL& x) { return chain(x, log1p(x.v), S(1) / (S(1) + x.v)); }
GPUAD_DUAL_T GPUAD_DUAL sqrt(const GPUAD_DUAL& x) { S s = sqrt(x.v); return chain(x, s, S(0.5) / s); }
GPUAD_DUAL_T GPUAD_DUAL sin(const GPUAD_DUAL& x) { return chain(x, sin(x.v), cos(x.v)); }
GPUAD_DUAL_T GPUAD_DUAL cos(const GPUAD_DUAL& x) { return chain(x, cos(x.v), -sin(x.v)); }
GPUAD_DUAL_T GPUAD_DUAL tan(const GPUAD_DUAL& x) { S t = tan(x.v); return chain(x, t, S(1) + t * t); }
GPUAD_DUAL_T GPUAD_DUAL sinh(const GPUAD_DUAL& x) { return chain(x, sinh(x.v), cosh(x.v)); }
GPUAD_DUAL_T GPUAD_DUAL cosh(const GPUAD_DUAL& x) { return chain(x, cosh(x.v), sinh(x.v)); }
GPUAD_DUAL_T GPUAD_DUAL tanh(const GPUAD_DUAL& x) { S t = tanh(x.v); return chain(x, t, S(1) - t * t); }
GPUAD_DUAL_T GPUAD_DUAL atan(const GPUAD_DUAL& x) { return chain(x, atan(x.v), S(1) / (S(1) + x.v * x.v)); }
GPUAD_DUAL_T GPUAD_DUAL asin(const GPUAD_DUAL& x) { return chain(x, asin(x.v), S(1) / sqrt(S(1) - x.v * x.v)); }
GPUAD_DUAL_T GPUAD_DUAL acos(const GPUAD_DUAL& x) { return chain(x, acos(x.v), S(-1) / sqrt(S(1) - x.v * x.v)); }
GPUAD_DUAL_T GPUAD_DUAL atanh(const GPUAD_DUAL& x) { return chain(x, atanh(x.v), S(1) / (S(1) - x.v * x.v)); }
GPUAD_DUAL_T GPUAD_DUAL erf(const GPUAD_DUAL& x) {
    return chain(x, erf(x.v), S(1.1283791670955125739) * exp(-x.v * x.v));
}
GPUAD_DUAL_T GPUAD_DUAL fabs(const GPUAD_DUAL& x) {  // |x|'(0) = 0
    return chain(x, fabs(x.v), x.v > S(0) ? S(1) : (x.v < S(0) ? S(-1) : S(0)));
}
GPUAD_DUAL_T GPUAD_DUAL atan2(const GPUAD_DUAL& y, const GPUAD_DUAL& x) {
    GPUAD_DUAL r; S q = x.v * x.v + y.v * y.v;
    r.v = atan2(y.v, x.v);
    for (int j = 0; j < N; ++j) r.d[j] = (x.v * y.d[j] - y.v * x.d[j]) / q;
    return r;
}
// x**y. A component along which y does not move skips the log(x) term, so a negative base
// with a constant exponent keeps finite derivatives (as NumPy's x**2 does).
GPUAD_DUAL_T GPUAD_DUAL pow(const GPUAD_DUAL& x, const GPUAD_DUAL& y) {
    GPUAD_DUAL r; r.v = pow(x.v, y.v);
    S dx = (y.v == S(0)) ? S(0) : y.v * pow(x.v, y.v - S(1));
    for (int j = 0; j < N; ++j) {
        r.d[j] = dx * x.d[j];
        if (y.d[j] != S(0)) r.d[j] = r.d[j] + ((x.v == S(0)) ? S(0) : log(x.v) * r.v) * y.d[j];
    }
    return r;
}
template <class S, int N, class U>
__device__ __forceinline__ GPUAD_IF_NUMBER(U, GPUAD_DUAL) pow(const GPUAD_DUAL& x, U y) { return pow(x, GPUAD_DUAL(y)); }
template <class S, int N, class U>
__device__ __forceinline__ GPUAD_IF_NUMBER(U, GPUAD_DUAL) pow(U x, const GPUAD_DUAL& y) { return pow(GPUAD_DUAL(x), y); }

#undef GPUAD_DUAL_T
#undef GPUAD_DUAL
#undef GPUAD_IF_NUMBER

}  // namespace gpuad
