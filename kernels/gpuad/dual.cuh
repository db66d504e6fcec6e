// Dual numbers: a value and N first-order derivative components, each of type S.
// S may itself be a Dual, so Dual<Dual<double,1>,1> carries second derivatives: the op
// math in kernels/ops/ is written once as templates and instantiated on these types to
// obtain the derivatives of the hand-written derivative functions (higher order).
//
// The math functions on duals (exp, tanh, pow, ...) and the product and quotient rules are
// the ops' own f and df (kernels/ops/), so each derivative formula exists once. This header declares them before the ops are
// defined and includes the ops at its end: a kernel that includes only this header (a
// custom primitive) gets both, and the ops' math finds these overloads by ADL on Dual.
#pragma once

namespace ops {
struct Exp; struct Expm1; struct Exp2; struct Log; struct Log1p; struct Log2; struct Log10;
struct Sqrt; struct Sin; struct Cos; struct Tan; struct Sinh; struct Cosh; struct Tanh;
struct Arctan; struct Arcsin; struct Arccos; struct Arctanh; struct Erf; struct Abs;
struct Multiply; struct Divide; struct Arctan2; struct Power;
}  // namespace ops

namespace gpuad {

// The math functions for float and double, visible beside the dual overloads below.
using ::exp; using ::expm1; using ::exp2; using ::log; using ::log1p; using ::log2;
using ::log10; using ::sqrt; using ::sin; using ::cos; using ::tan; using ::sinh; using ::cosh;
using ::tanh; using ::atan; using ::asin; using ::acos; using ::atanh; using ::erf; using ::fabs;
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

// The innermost scalar of a (nested) dual.
template <class T> struct base_of { using type = T; };
template <class S, int N> struct base_of<Dual<S, N>> { using type = typename base_of<S>::type; };

template <class T> struct is_dual { static constexpr bool value = false; };
template <class S, int N> struct is_dual<Dual<S, N>> { static constexpr bool value = true; };
// Complex scalars (gpuad::Complex, specialized in complex.cuh) and duals over them: their op
// math takes no value branches (complex numbers have no order).
template <class T> struct is_complex { static constexpr bool value = false; };
template <class S, int N> struct is_complex<Dual<S, N>> : is_complex<S> {};

// NaN in every component (the value and each derivative, through any nesting). An op's
// derivative returns it where the value is NaN because an argument is outside the op's
// domain (README, "Nondifferentiable points": every derivative of every order is NaN there,
// never finite). S(NaN) on a dual would be a NaN constant, whose zero components would make
// the next order's derivatives finite (0, by the exact-zero rule of scale() below).
template <class T> struct nan_fill_all {
    __device__ __forceinline__ static T of() { return T(__longlong_as_double(0x7ff8000000000000LL)); }
};
template <class S, int N> struct nan_fill_all<Dual<S, N>> {
    __device__ __forceinline__ static Dual<S, N> of() {
        Dual<S, N> r;
        r.v = nan_fill_all<S>::of();
        for (int j = 0; j < N; ++j) r.d[j] = nan_fill_all<S>::of();
        return r;
    }
};
template <class T> __device__ __forceinline__ T nan_all() { return nan_fill_all<T>::of(); }

// The underlying real value, through any nesting.
template <class T> __device__ __forceinline__ double primal(T x) { return (double)x; }
template <class S, int N> __device__ __forceinline__ double primal(const Dual<S, N>& x) { return primal(x.v); }

// Exactly zero: the value and, on a dual, every component at every nesting level.
template <class T> __device__ __forceinline__ bool is_zero(T v) { return v == T(0); }
template <class S, int N> __device__ __forceinline__ bool is_zero(const Dual<S, N>& v) {
    bool z = is_zero(v.v);
    for (int j = 0; j < N; ++j) z = z && is_zero(v.d[j]);
    return z;
}

// d v, a local derivative d times a tangent or cotangent v, where an exact zero on either
// side contributes exactly zero whatever the other is (no 0 * inf or 0 * NaN). A v that is
// zero: a branch masked out by `where`, a constant, an input that does not move. A d that
// is zero: a kink's convention (abs'(0), relu'(0), sign', a max tie's other side) or a
// piecewise constant, which says the output does not move with this input; without the
// second half, forward and reverse mode would disagree on sqrt(|x|) at 0 (the tangent
// 0 * 1 meets sqrt' = inf and gives 0; the cotangent inf meets abs'(0) = 0 and gave NaN).
// Every derivative product in the kernels and in the dual arithmetic below goes through it.
// On a scalar the product is formed first and only a NaN that a zero made is replaced:
// written as a select before the product, GCC sinks the loads behind d into the branch and
// the host build's vectorised loops read x, y with masked loads (binary VJPs up to 1.7x slower).
template <class T> __device__ __forceinline__ T scale(T d, T v) {
    const T p = d * v;
    return p != p && (v == T(0) || d == T(0)) ? T(0) : p;
}
template <class S, int N>
__device__ __forceinline__ Dual<S, N> scale(const Dual<S, N>& d, const Dual<S, N>& v) {
    return is_zero(v) || is_zero(d) ? Dual<S, N>(0) : d * v;
}

// f(x) with f(x.v) = fv and f'(x.v) = dv: the chain rule applied to every component.
template <class S, int N>
__device__ __forceinline__ Dual<S, N> chain(const Dual<S, N>& x, const S& fv, const S& dv) {
    Dual<S, N> r;
    r.v = fv;
    for (int j = 0; j < N; ++j) r.d[j] = scale(dv, x.d[j]);
    return r;
}

// A value that a branch holds constant (an edge point's limit) with first-order components
// sum_k g_k a_k.d: g_k the one-sided limit of its partial in argument a_k, so a second
// derivative through the branch is that limit, not the constant's 0 (pow, xlogy at x = 0; the
// gamma and beta densities at their support edges). scale() keeps an argument that does not
// move at 0 where its limit is infinite; components deeper than the first keep the constant.
template <class S, int N>
__device__ __forceinline__ Dual<S, N> with_limits(Dual<S, N> r, double g, const Dual<S, N>& a) {
    const S gs(g);
    for (int j = 0; j < N; ++j) r.d[j] = r.d[j] + scale(gs, a.d[j]);
    return r;
}
template <class S, int N, class... More>
__device__ __forceinline__ Dual<S, N> with_limits(Dual<S, N> r, double g, const Dual<S, N>& a,
                                                  More... more) {
    return with_limits(with_limits(r, g, a), more...);
}

#define GPUAD_DUAL Dual<S, N>
#define GPUAD_DUAL_T template <class S, int N> __device__ __forceinline__

// An op of kernels/ops/ on duals: f and its hand-written derivatives at the value, chained.
// Op is a template parameter, so the ops need only be complete where a kernel instantiates.
template <class Op, class S, int N>
__device__ __forceinline__ Dual<S, N> unary_chain(const Dual<S, N>& x) {
    return chain(x, Op::f(x.v), Op::df(x.v));
}
// f and both partials at one point: Op::all where an op computes them together (Power: x**y
// shared by all three), else Op::f, dfx, dfy.
template <class Op, class S>
__device__ __forceinline__ auto value_partials(const S& x, const S& y, S& f, S& fx, S& fy, int)
    -> decltype(Op::all(x, y, f, fx, fy)) {
    Op::all(x, y, f, fx, fy);
}
template <class Op, class S>
__device__ __forceinline__ void value_partials(const S& x, const S& y, S& f, S& fx, S& fy, long) {
    f = Op::f(x, y);
    fx = Op::dfx(x, y);
    fy = Op::dfy(x, y);
}
template <class Op, class S, int N>
__device__ __forceinline__ Dual<S, N> binary_chain(const Dual<S, N>& x, const Dual<S, N>& y) {
    Dual<S, N> r;
    S fx, fy;
    value_partials<Op>(x.v, y.v, r.v, fx, fy, 0);
    for (int j = 0; j < N; ++j) r.d[j] = scale(fx, x.d[j]) + scale(fy, y.d[j]);
    return r;
}

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
// The product and quotient rules: the Multiply and Divide ops' partials.
GPUAD_DUAL_T GPUAD_DUAL operator*(const GPUAD_DUAL& a, const GPUAD_DUAL& b) {
    return binary_chain<ops::Multiply>(a, b);
}
GPUAD_DUAL_T GPUAD_DUAL operator/(const GPUAD_DUAL& a, const GPUAD_DUAL& b) {
    return binary_chain<ops::Divide>(a, b);
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

// The math functions on duals, each the chain rule on its op's f and df. Unqualified calls
// on S resolve to the CUDA/C math functions for float and double and to these for duals.
#define GPUAD_MATH1(fn, Op) \
    GPUAD_DUAL_T GPUAD_DUAL fn(const GPUAD_DUAL& x) { return unary_chain<ops::Op>(x); }
GPUAD_MATH1(exp, Exp)       GPUAD_MATH1(expm1, Expm1)   GPUAD_MATH1(exp2, Exp2)
GPUAD_MATH1(sqrt, Sqrt)     GPUAD_MATH1(sin, Sin)
GPUAD_MATH1(cos, Cos)       GPUAD_MATH1(tan, Tan)       GPUAD_MATH1(sinh, Sinh)
GPUAD_MATH1(cosh, Cosh)     GPUAD_MATH1(tanh, Tanh)     GPUAD_MATH1(atan, Arctan)
GPUAD_MATH1(asin, Arcsin)   GPUAD_MATH1(acos, Arccos)   GPUAD_MATH1(atanh, Arctanh)
GPUAD_MATH1(erf, Erf)       GPUAD_MATH1(fabs, Abs)
#undef GPUAD_MATH1

// The logarithms on duals: each component c x_j / u (u = x, or 1 + x for log1p; c the base's
// constant), one quotient, not the chain's (c / u) x_j: the next order's derivative of c / u,
// -c / u^2, overflows for u below ~1e-154 where x_j / u and its own derivative are normal
// (d2/da2 of log I_x(a, b) at x = 1e-200, through log(x (a + b)/a), was -inf, true -0.006).
// For u from the smallest normal number up to the largest finite one only: below, 1 / u
// overflows and the quotient's next order meets 0 * inf in a zero component (d2/dx2 of
// xlogy at y = 1e-310 NaN, true 0 along x; log P(a, x)'s at x = 1e-310 NaN, true inf), where
// the chain's exact-zero rule holds. Elsewhere the chain on the op (NaN below 0, inf at 0);
// on complex duals the chain.
#define GPUAD_LOG(fn, Op, u_of, c)                                                         \
    GPUAD_DUAL_T GPUAD_DUAL fn(const GPUAD_DUAL& x) {                                      \
        if constexpr (is_complex<S>::value) {                                              \
            return unary_chain<ops::Op>(x);                                                \
        } else {                                                                           \
            const S u = u_of;                                                              \
            const double uv = primal(u);                                                   \
            const double tiny = sizeof(typename base_of<S>::type) == 4                     \
                                    ? 1.1754943508222875e-38 : 2.2250738585072014e-308;    \
            if (!(uv >= tiny && uv <= 1.7976931348623157e308)) return unary_chain<ops::Op>(x); \
            GPUAD_DUAL r;                                                                  \
            r.v = fn(x.v);                                                                 \
            for (int j = 0; j < N; ++j) r.d[j] = c == 1 ? x.d[j] / u : x.d[j] / u * S(c);  \
            return r;                                                                      \
        }                                                                                  \
    }
GPUAD_LOG(log, Log, x.v, 1)
GPUAD_LOG(log1p, Log1p, S(1) + x.v, 1)
GPUAD_LOG(log2, Log2, x.v, 1.4426950408889634074)
GPUAD_LOG(log10, Log10, x.v, 0.43429448190325182765)
#undef GPUAD_LOG

// Binary ones, also with a plain number on either side. pow's d/dy term, log(x) x**y, is NaN
// for a negative base; along a component where y does not move, scale() drops it, so a
// negative base with a constant exponent keeps finite derivatives (as NumPy's x**2 does).
#define GPUAD_MATH2(fn, Op)                                                               \
    GPUAD_DUAL_T GPUAD_DUAL fn(const GPUAD_DUAL& x, const GPUAD_DUAL& y) {                \
        return binary_chain<ops::Op>(x, y);                                               \
    }                                                                                     \
    template <class S, int N, class U>                                                    \
    __device__ __forceinline__ GPUAD_IF_NUMBER(U, GPUAD_DUAL) fn(const GPUAD_DUAL& x, U y) { \
        return fn(x, GPUAD_DUAL(y));                                                      \
    }                                                                                     \
    template <class S, int N, class U>                                                    \
    __device__ __forceinline__ GPUAD_IF_NUMBER(U, GPUAD_DUAL) fn(U x, const GPUAD_DUAL& y) { \
        return fn(GPUAD_DUAL(x), y);                                                      \
    }
GPUAD_MATH2(atan2, Arctan2)
GPUAD_MATH2(pow, Power)
#undef GPUAD_MATH2

#undef GPUAD_DUAL_T
#undef GPUAD_DUAL
#undef GPUAD_IF_NUMBER

}  // namespace gpuad

#include "ops/unary.cuh"
#include "ops/binary.cuh"
