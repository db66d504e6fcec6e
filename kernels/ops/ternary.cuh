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
// 1 - I_z(x, y) (scipy.special.betaincc), without the cancellation of 1 - betainc
GPUAD_TERNARY(Betaincc, betainc_pq(x, y, z, true), betainc_dab(x, y, z, 0, true),
              betainc_dab(x, y, z, 1, true), -betainc_dx(x, y, z))
// log I_z(x, y) in log space (gpuad.scipy.stats' logcdf): d/dz = density / I
GPUAD_TERNARY(LogBetainc, log_betainc(x, y, z), log_betainc_dab(x, y, z, 0),
              log_betainc_dab(x, y, z, 1), log_betainc_dx(x, y, z))

#undef GPUAD_TERNARY
}  // namespace ops
