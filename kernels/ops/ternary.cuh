// Ternary elementwise ops: f(x, y, z) and its hand-written partial derivatives dfx, dfy, dfz,
// templates on the scalar type S (float, double, or a gpuad::Dual for higher derivatives),
// as in binary.cuh.
#pragma once
#include "gpuad/dual.cuh"
#include "ops/incomplete.cuh"

namespace ops {
using namespace gpuad;

#define GPUAD_TERNARY(Name, F, DFX, DFY, DFZ)                                                   \
    struct Name {                                                                               \
        template <class S> __device__ __forceinline__ static S f(S x, S y, S z) { return F; }   \
        template <class S> __device__ __forceinline__ static S dfx(S x, S y, S z) { return DFX; } \
        template <class S> __device__ __forceinline__ static S dfy(S x, S y, S z) { return DFY; } \
        template <class S> __device__ __forceinline__ static S dfz(S x, S y, S z) { return DFZ; } \
    };

// I_z(x, y), the regularized incomplete beta function (kernels/ops/incomplete.cuh): d/dx, d/dy
// by the differentiated continued fraction, d/dz = z^(x-1) (1-z)^(y-1) / B(x, y)
GPUAD_TERNARY(Betainc, betainc(x, y, z), betainc_dab(x, y, z, 0), betainc_dab(x, y, z, 1),
              betainc_dx(x, y, z))

#undef GPUAD_TERNARY
}  // namespace ops
