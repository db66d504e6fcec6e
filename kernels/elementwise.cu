// The elementwise family: forward, JVP, fused VJP and higher-order kernels, generic over the
// op (kernels/ops/*.cuh hold the math) and the scalar type T (float or double).
// Layouts: arrays are contiguous; a "lanes" array holds `lanes` consecutive copies of the
// element shape (tangent directions). Binary operands have element stride sx, sy: 1, or 0
// for a single broadcast element (other broadcasting is materialised by the engine).
// A null pointer stands for a symbolic zero (a tangent or cotangent that is not there).
// Every product of a derivative and a tangent or cotangent lane is gpuad::scale(d, v): a lane
// value that is exactly 0 contributes exactly 0, even where d is inf or NaN. In the plain loops
// d gets a statement of its own: as scale's argument, GCC reads the lane first and keeps it
// across the libm call that computes d (a spill and reload per element, ~10% on the host).
#include "gpuad/common.cuh"
#include "gpuad/dual.cuh"
#include "ops/unary.cuh"
#include "ops/binary.cuh"
#include "ops/ternary.cuh"

using gpuad::scale;

// The K-th derivative (K >= 1) of a unary op: df differentiated K-1 times by evaluating it on
// a seeded dual number.
template <class Op, int K>
struct UnaryD {
    template <class S> __device__ __forceinline__ static S at(S x) {
        if constexpr (K == 1) {
            return Op::df(x);
        } else {
            gpuad::Dual<S, 1> xd(x);
            xd.d[0] = S(1);
            return UnaryD<Op, K - 1>::at(xd).d[0];
        }
    }
};

// The partial derivative d^(AX+AY) f / dx^AX dy^AY (AX + AY >= 1) of a binary op, from the
// hand-written dfx, dfy differentiated on seeded dual numbers.
template <class Op, int AX, int AY>
struct BinaryD {
    template <class S> __device__ __forceinline__ static S at(S x, S y) {
        if constexpr (AX == 1 && AY == 0) {
            return Op::dfx(x, y);
        } else if constexpr (AX == 0 && AY == 1) {
            return Op::dfy(x, y);
        } else if constexpr (AY >= 1) {
            gpuad::Dual<S, 1> xd(x), yd(y);
            yd.d[0] = S(1);
            return BinaryD<Op, AX, AY - 1>::at(xd, yd).d[0];
        } else {
            gpuad::Dual<S, 1> xd(x), yd(y);
            xd.d[0] = S(1);
            return BinaryD<Op, AX - 1, AY>::at(xd, yd).d[0];
        }
    }
};

// The partial derivative d^(AX+AY+AZ) f / dx^AX dy^AY dz^AZ (order >= 1) of a ternary op,
// likewise from dfx, dfy, dfz.
template <class Op, int AX, int AY, int AZ>
struct TernaryD {
    template <class S> __device__ __forceinline__ static S at(S x, S y, S z) {
        if constexpr (AX + AY + AZ == 1) {
            if constexpr (AX == 1) return Op::dfx(x, y, z);
            else if constexpr (AY == 1) return Op::dfy(x, y, z);
            else return Op::dfz(x, y, z);
        } else {
            gpuad::Dual<S, 1> xd(x), yd(y), zd(z);
            if constexpr (AZ >= 1) {
                zd.d[0] = S(1);
                return TernaryD<Op, AX, AY, AZ - 1>::at(xd, yd, zd).d[0];
            } else if constexpr (AY >= 1) {
                yd.d[0] = S(1);
                return TernaryD<Op, AX, AY - 1, AZ>::at(xd, yd, zd).d[0];
            } else {
                xd.d[0] = S(1);
                return TernaryD<Op, AX - 1, AY, AZ>::at(xd, yd, zd).d[0];
            }
        }
    }
};

// ---------------------------------------------------------------- unary

// out = f(x)
template <class Op, class T>
__global__ void unary_fwd(const T* __restrict__ x, T* __restrict__ out, long long n) {
    GPUAD_LOOP(i, n) out[i] = Op::f(x[i]);
}

// out[k, i] = f^(K)(x[i]) t[k, i]; K = 1 is the JVP, K > 1 serves higher-order rules
template <class Op, class T, int K>
__global__ void unary_jvp(const T* __restrict__ x, const T* __restrict__ t, T* __restrict__ out,
                          long long n, long long lanes) {
    if (lanes == 1) {  // one direction: a plain loop the host compiler can vectorise
        GPUAD_LOOP(i, n) {
            const T d = UnaryD<Op, K>::at(x[i]);
            out[i] = scale(d, t[i]);
        }
        return;
    }
    GPUAD_LOOP(i, n) {
        T d = UnaryD<Op, K>::at(x[i]);
        for (long long k = 0; k < lanes; ++k) out[k * n + i] = scale(d, t[k * n + i]);
    }
}

// gx[k, i] = f^(K)(x[i]) g[k, i], written or (accumulate != 0) added in place; K = 1 is the VJP.
// sg = 0: g is one element broadcast over x (the cotangent a sum hands back).
template <class Op, class T, int K>
__global__ void unary_vjp(const T* __restrict__ x, const T* __restrict__ g, T* __restrict__ gx,
                          long long n, long long lanes, int accumulate, int sg) {
    if (!sg) {
        const T g0 = g[0];
        GPUAD_LOOP(i, n) {
            const T d = UnaryD<Op, K>::at(x[i]);
            const T v = scale(d, g0);
            gx[i] = accumulate ? gx[i] + v : v;
        }
        return;
    }
    if (lanes == 1) {  // plain loops the host compiler can vectorise
        if (accumulate) {
            GPUAD_LOOP(i, n) {
                const T d = UnaryD<Op, K>::at(x[i]);
                gx[i] += scale(d, g[i]);
            }
        } else {
            GPUAD_LOOP(i, n) {
                const T d = UnaryD<Op, K>::at(x[i]);
                gx[i] = scale(d, g[i]);
            }
        }
        return;
    }
    GPUAD_LOOP(i, n) {
        T d = UnaryD<Op, K>::at(x[i]);
        for (long long k = 0; k < lanes; ++k) {
            T v = scale(d, g[k * n + i]);
            gx[k * n + i] = accumulate ? gx[k * n + i] + v : v;
        }
    }
}

// The VJP on dual numbers, all tangent lanes k in one pass, x read once:
// gx = f^(K)(x) g,  tgx[k] = f^(K+1)(x) tx[k] g + f^(K)(x) tg[k]
template <class Op, class T, int K>
__global__ void unary_vjp_dual(const T* __restrict__ x, const T* __restrict__ g,
                               const T* __restrict__ tx, const T* __restrict__ tg,
                               T* __restrict__ gx, T* __restrict__ tgx, long long n, long long lanes) {
    GPUAD_LOOP(i, n) {
        gpuad::Dual<T, 1> xd(x[i]);
        xd.d[0] = T(1);
        gpuad::Dual<T, 1> d = UnaryD<Op, K>::at(xd);
        T gi = g[i];
        gx[i] = scale(d.v, gi);
        for (long long k = 0; k < lanes; ++k) {
            T v = T(0);
            if (tx) v += scale(scale(d.d[0], tx[k * n + i]), gi);
            if (tg) v += scale(d.v, tg[k * n + i]);
            tgx[k * n + i] = v;
        }
    }
}

// ---------------------------------------------------------------- binary

// out = f(x, y)
template <class Op, class T>
__global__ void binary_fwd(const T* __restrict__ x, const T* __restrict__ y, T* __restrict__ out,
                           long long n, int sx, int sy) {
    // Separate loops per broadcast pattern keep each one a plain, vectorisable loop.
    if (sx && sy) {
        GPUAD_LOOP(i, n) out[i] = Op::f(x[i], y[i]);
    } else if (sx) {
        const T yv = y[0];
        GPUAD_LOOP(i, n) out[i] = Op::f(x[i], yv);
    } else if (sy) {
        const T xv = x[0];
        GPUAD_LOOP(i, n) out[i] = Op::f(xv, y[i]);
    } else {
        GPUAD_LOOP(i, n) out[i] = Op::f(x[0], y[0]);
    }
}

// out[k, i] = dfx(x, y) tx[k] + dfy(x, y) ty[k]
template <class Op, class T>
__global__ void binary_jvp(const T* __restrict__ x, const T* __restrict__ y,
                           const T* __restrict__ tx, const T* __restrict__ ty, T* __restrict__ out,
                           long long n, long long lanes, int sx, int sy) {
    const long long nx = sx ? n : 1, ny = sy ? n : 1;
    GPUAD_LOOP(i, n) {
        T xi = x[i * sx], yi = y[i * sy];
        T fx = tx ? Op::dfx(xi, yi) : T(0);
        T fy = ty ? Op::dfy(xi, yi) : T(0);
        for (long long k = 0; k < lanes; ++k) {
            T v = T(0);
            if (tx) v += scale(fx, tx[k * nx + i * sx]);
            if (ty) v += scale(fy, ty[k * ny + i * sy]);
            out[k * n + i] = v;
        }
    }
}

// gx = dfx(x, y) g,  gy = dfy(x, y) g, both from one pass over g; a null gx or gy is not
// wanted. sg = 0: g is one broadcast element. acc_x, acc_y: add into the buffer instead.
template <class Op, class T>
__global__ void binary_vjp(const T* __restrict__ x, const T* __restrict__ y, const T* __restrict__ g,
                           T* __restrict__ gx, T* __restrict__ gy, long long n, int sx, int sy,
                           int sg, int acc_x, int acc_y) {
    if (sx && sy && sg && gx && gy && !acc_x && !acc_y) {  // the common case as one plain loop
        GPUAD_LOOP(i, n) {
            const T fx = Op::dfx(x[i], y[i]), fy = Op::dfy(x[i], y[i]);
            gx[i] = scale(fx, g[i]);
            gy[i] = scale(fy, g[i]);
        }
        return;
    }
    GPUAD_LOOP(i, n) {
        T xi = x[i * sx], yi = y[i * sy], gi = g[i * sg];
        if (gx) { T v = scale(Op::dfx(xi, yi), gi); gx[i] = acc_x ? gx[i] + v : v; }
        if (gy) { T v = scale(Op::dfy(xi, yi), gi); gy[i] = acc_y ? gy[i] + v : v; }
    }
}

// One operand's cotangent and its tangent lanes from a partial f = (fv, d/dx, d/dy) on duals.
template <class T>
__device__ __forceinline__ void dual_lanes(const gpuad::Dual<T, 2>& f, T gi, const T* tx,
                                           const T* ty, const T* tg, T* gz, T* tgz, long long i,
                                           long long n, long long lanes, int sx, int sy) {
    const long long nx = sx ? n : 1, ny = sy ? n : 1;
    gz[i] = scale(f.v, gi);
    for (long long k = 0; k < lanes; ++k) {
        T v = T(0);
        if (tx) v += scale(scale(f.d[0], tx[k * nx + i * sx]), gi);
        if (ty) v += scale(scale(f.d[1], ty[k * ny + i * sy]), gi);
        if (tg) v += scale(f.v, tg[k * n + i]);
        tgz[k * n + i] = v;
    }
}

// The VJP on dual numbers, all lanes k in one pass (second derivatives from a 2-component dual):
// gx = fx g,  tgx[k] = (fxx tx[k] + fxy ty[k]) g + fx tg[k],  and likewise gy, tgy.
template <class Op, class T>
__global__ void binary_vjp_dual(const T* __restrict__ x, const T* __restrict__ y,
                                const T* __restrict__ g, const T* __restrict__ tx,
                                const T* __restrict__ ty, const T* __restrict__ tg,
                                T* __restrict__ gx, T* __restrict__ gy,
                                T* __restrict__ tgx, T* __restrict__ tgy,
                                long long n, long long lanes, int sx, int sy) {
    GPUAD_LOOP(i, n) {
        gpuad::Dual<T, 2> xd(x[i * sx]), yd(y[i * sy]);
        if (tx) xd.d[0] = T(1);  // only seed inputs that move: the others' partials go unused
        if (ty) yd.d[1] = T(1);
        T gi = g[i];
        if (gx) dual_lanes(Op::dfx(xd, yd), gi, tx, ty, tg, gx, tgx, i, n, lanes, sx, sy);
        if (gy) dual_lanes(Op::dfy(xd, yd), gi, tx, ty, tg, gy, tgy, i, n, lanes, sx, sy);
    }
}

// out[k, i] = d^(AX+AY) f / dx^AX dy^AY (x, y) v[k, i]: higher-order rules
template <class Op, class T, int AX, int AY>
__global__ void binary_deriv(const T* __restrict__ x, const T* __restrict__ y,
                             const T* __restrict__ v, T* __restrict__ out,
                             long long n, long long lanes, int sx, int sy) {
    GPUAD_LOOP(i, n) {
        T d = BinaryD<Op, AX, AY>::at(x[i * sx], y[i * sy]);
        for (long long k = 0; k < lanes; ++k) out[k * n + i] = scale(d, v[k * n + i]);
    }
}

// ---------------------------------------------------------------- ternary
// Operands have element stride 1 or 0 (one broadcast element), as the binary ones. The
// engine builds every rule from these two kernels (no fused JVP/VJP kernels).

// out = f(x, y, z)
template <class Op, class T>
__global__ void ternary_fwd(const T* __restrict__ x, const T* __restrict__ y,
                            const T* __restrict__ z, T* __restrict__ out, long long n,
                            int sx, int sy, int sz) {
    GPUAD_LOOP(i, n) out[i] = Op::f(x[i * sx], y[i * sy], z[i * sz]);
}

// out[k, i] = d^(AX+AY+AZ) f / dx^AX dy^AY dz^AZ (x, y, z) v[k, i]
template <class Op, class T, int AX, int AY, int AZ>
__global__ void ternary_deriv(const T* __restrict__ x, const T* __restrict__ y,
                              const T* __restrict__ z, const T* __restrict__ v,
                              T* __restrict__ out, long long n, long long lanes,
                              int sx, int sy, int sz) {
    GPUAD_LOOP(i, n) {
        const T d = TernaryD<Op, AX, AY, AZ>::at(x[i * sx], y[i * sy], z[i * sz]);
        for (long long k = 0; k < lanes; ++k) out[k * n + i] = scale(d, v[k * n + i]);
    }
}
