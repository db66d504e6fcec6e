// Unary elementwise ops: the function f and its hand-written derivative df, each a template
// on the scalar type S (float, double, or a gpuad::Dual for higher derivatives).
// Nondifferentiable points: relu'(0) = 0, abs'(0) = 0, sign' = 0, sqrt'(0) = inf.
#pragma once
#include "gpuad/dual.cuh"

namespace ops {
using namespace gpuad;

template <class S> __device__ __forceinline__ S step(S x) { return x > S(0) ? S(1) : S(0); }
template <class S> __device__ __forceinline__ S sgn(S x) { return x > S(0) ? S(1) : (x < S(0) ? S(-1) : S(0)); }
template <class S> __device__ __forceinline__ S sigm(S x) {  // stable for large |x|
    if (x >= S(0)) return S(1) / (S(1) + exp(-x));
    S e = exp(x);
    return e / (S(1) + e);
}

#define GPUAD_UNARY(Name, F, DF)                                                          \
    struct Name {                                                                        \
        template <class S> __device__ __forceinline__ static S f(S x) { return F; }      \
        template <class S> __device__ __forceinline__ static S df(S x) { return DF; }    \
    };

GPUAD_UNARY(Neg,        -x,                                  S(-1))
GPUAD_UNARY(Exp,        exp(x),                              exp(x))
GPUAD_UNARY(Exp2,       exp2(x),                             S(0.6931471805599453094) * exp2(x))
GPUAD_UNARY(Log,        log(x),                              S(1) / x)
GPUAD_UNARY(Log2,       log(x) * S(1.4426950408889634074),   S(1.4426950408889634074) / x)
GPUAD_UNARY(Log10,      log(x) * S(0.43429448190325182765),  S(0.43429448190325182765) / x)
GPUAD_UNARY(Log1p,      log1p(x),                            S(1) / (S(1) + x))
GPUAD_UNARY(Expm1,      expm1(x),                            exp(x))
GPUAD_UNARY(Sqrt,       sqrt(x),                             S(0.5) / sqrt(x))
GPUAD_UNARY(Sin,        sin(x),                              cos(x))
GPUAD_UNARY(Cos,        cos(x),                              -sin(x))
GPUAD_UNARY(Tan,        tan(x),                              S(1) + tan(x) * tan(x))
GPUAD_UNARY(Tanh,       tanh(x),                             S(1) - tanh(x) * tanh(x))
GPUAD_UNARY(Sinh,       sinh(x),                             cosh(x))
GPUAD_UNARY(Cosh,       cosh(x),                             sinh(x))
GPUAD_UNARY(Arctan,     atan(x),                             S(1) / (S(1) + x * x))
GPUAD_UNARY(Arcsin,     asin(x),                             S(1) / sqrt(S(1) - x * x))
GPUAD_UNARY(Arccos,     acos(x),                             S(-1) / sqrt(S(1) - x * x))
GPUAD_UNARY(Arctanh,    atanh(x),                            S(1) / (S(1) - x * x))
GPUAD_UNARY(Abs,        fabs(x),                             sgn(x))
GPUAD_UNARY(Sign,       sgn(x),                              S(0))
GPUAD_UNARY(Reciprocal, S(1) / x,                            S(-1) / (x * x))
GPUAD_UNARY(Square,     x * x,                               S(2) * x)
GPUAD_UNARY(Sigmoid,    sigm(x),                             sigm(x) * (S(1) - sigm(x)))
GPUAD_UNARY(Softplus,   log1p(exp(-fabs(x))) + (x > S(0) ? x : S(0)), sigm(x))
GPUAD_UNARY(Relu,       x > S(0) ? x : S(0),                 step(x))
GPUAD_UNARY(Erf,        erf(x),                              S(1.1283791670955125739) * exp(-x * x))

#undef GPUAD_UNARY
}  // namespace ops
