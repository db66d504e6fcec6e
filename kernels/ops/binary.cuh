// Binary elementwise ops: f(x, y) and its hand-written partial derivatives dfx, dfy, each
// a template on the scalar type S (float, double, or a gpuad::Dual for higher derivatives).
// Nondifferentiable points: maximum/minimum ties split the cotangent equally (1/2 each);
// power: d/dx x**y = 0 where y == 0, d/dy x**y = 0 where x == 0.
#pragma once
#include "gpuad/dual.cuh"

namespace ops {
using namespace gpuad;

template <class S> __device__ __forceinline__ S pick(S a, S b) {  // 1 where a > b, 1/2 on a tie
    return a > b ? S(1) : (a == b ? S(0.5) : S(0));
}

#define GPUAD_BINARY(Name, F, DFX, DFY)                                                    \
    struct Name {                                                                          \
        template <class S> __device__ __forceinline__ static S f(S x, S y) { return F; }   \
        template <class S> __device__ __forceinline__ static S dfx(S x, S y) { return DFX; } \
        template <class S> __device__ __forceinline__ static S dfy(S x, S y) { return DFY; } \
    };

GPUAD_BINARY(Add,      x + y,           S(1),                 S(1))
GPUAD_BINARY(Subtract, x - y,           S(1),                 S(-1))
GPUAD_BINARY(Multiply, x * y,           y,                    x)
GPUAD_BINARY(Divide,   x / y,           S(1) / y,             -x / (y * y))
GPUAD_BINARY(Power,    pow(x, y),       y == S(0) ? S(0) : y * pow(x, y - S(1)),
                                        x == S(0) ? S(0) : log(x) * pow(x, y))
GPUAD_BINARY(Maximum,  x > y ? x : (x < y ? y : (x + y) * S(0.5)), pick(x, y), pick(y, x))
GPUAD_BINARY(Minimum,  x < y ? x : (x > y ? y : (x + y) * S(0.5)), pick(y, x), pick(x, y))
GPUAD_BINARY(Arctan2,  atan2(x, y),     y / (x * x + y * y),  -x / (x * x + y * y))

#undef GPUAD_BINARY
}  // namespace ops
