// The elementwise family: forward, JVP, fused VJP and higher-order kernels, generic over the
// op (kernels/ops/*.cuh hold the math) and the scalar type T (float or double).
// Layouts: arrays are contiguous; a "lanes" array holds `lanes` consecutive copies of the
// element shape (tangent directions). Binary operands have element stride sx, sy: 1, or 0
// for a single broadcast element (binary_fwd also reads an operand broadcast over leading or
// trailing axes in place; other broadcasting is materialised by the engine).
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
    GPUAD_TILES(i0, m, n) {
        T d[GPUAD_TILE];
        for (long long j = 0; j < m; ++j) d[j] = UnaryD<Op, K>::at(x[i0 + j]);
        for (long long k = 0; k < lanes; ++k) {
            const T* tk = t + k * n + i0;
            T* ok = out + k * n + i0;
            for (long long j = 0; j < m; ++j) ok[j] = scale(d[j], tk[j]);
        }
    }
}

// gx[k, i] = f^(K)(x[i]) g[k, i], written or (accumulate != 0) added in place; K = 1 is the VJP.
// sg = 0: g is one element broadcast over x (the cotangent a sum hands back).
template <class Op, class T, int K>
__global__ void unary_vjp(const T* __restrict__ x, const T* __restrict__ g, T* __restrict__ gx,
                          long long n, long long lanes, int accumulate, int sg) {
    if (!sg) {  // (the flag tested outside the loops, which the host compiler then vectorises)
        const T g0 = g[0];
        if (accumulate) {
            GPUAD_LOOP(i, n) gx[i] += scale(UnaryD<Op, K>::at(x[i]), g0);
        } else {
            GPUAD_LOOP(i, n) gx[i] = scale(UnaryD<Op, K>::at(x[i]), g0);
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
    GPUAD_TILES(i0, m, n) {
        T d[GPUAD_TILE];
        for (long long j = 0; j < m; ++j) d[j] = UnaryD<Op, K>::at(x[i0 + j]);
        for (long long k = 0; k < lanes; ++k) {
            const T* gk = g + k * n + i0;
            T* ok = gx + k * n + i0;
            if (accumulate) {
                for (long long j = 0; j < m; ++j) ok[j] += scale(d[j], gk[j]);
            } else {
                for (long long j = 0; j < m; ++j) ok[j] = scale(d[j], gk[j]);
            }
        }
    }
}

// One tile of a dual VJP's tangent lanes: tgz[k] (=, or += with acc) d2 t1[k] g + d t2[k]
// over m elements, for the lanes that are there (a null t1 or t2 is a symbolic zero; s1 = 0:
// t1 is one element per lane). Branches hoisted out of the element loops: they vectorise.
template <class T>
__device__ __forceinline__ void dual_tile(const T* d2, const T* gv, const T* d, const T* t1,
                                          const T* t2, T* tgz, long long i0, long long m,
                                          long long n, long long lanes, int s1, int acc) {
    const long long n1 = s1 ? n : 1;
    for (long long k = 0; k < lanes; ++k) {
        T* o = tgz + k * n + i0;
        const T* a = t1 ? t1 + k * n1 + i0 * s1 : nullptr;
        const T* b = t2 ? t2 + k * n + i0 : nullptr;
        if (a && !s1) {
            const T a0 = a[0];
            for (long long j = 0; j < m; ++j) {
                T v = T(0);
                v += scale(scale(d2[j], a0), gv[j]);
                if (b) v += scale(d[j], b[j]);
                o[j] = acc ? o[j] + v : v;
            }
        } else if (a && b) {
            for (long long j = 0; j < m; ++j) {
                T v = T(0);
                v += scale(scale(d2[j], a[j]), gv[j]);
                v += scale(d[j], b[j]);
                o[j] = acc ? o[j] + v : v;
            }
        } else if (a) {
            for (long long j = 0; j < m; ++j) {
                T v = T(0);
                v += scale(scale(d2[j], a[j]), gv[j]);
                o[j] = acc ? o[j] + v : v;
            }
        } else if (b) {
            for (long long j = 0; j < m; ++j) {
                T v = T(0);
                v += scale(d[j], b[j]);
                o[j] = acc ? o[j] + v : v;
            }
        } else {
            for (long long j = 0; j < m; ++j) o[j] = acc ? o[j] + T(0) : T(0);
        }
    }
}

// The VJP on dual numbers, all tangent lanes k in one pass, x read once:
// gx = f^(K)(x) g,  tgx[k] = f^(K+1)(x) tx[k] g + f^(K)(x) tg[k]; accumulate != 0: gx and
// tgx are added into (a cotangent buffer of the reverse sweep) instead of written.
template <class Op, class T, int K>
__global__ void unary_vjp_dual(const T* __restrict__ x, const T* __restrict__ g,
                               const T* __restrict__ tx, const T* __restrict__ tg,
                               T* __restrict__ gx, T* __restrict__ tgx, long long n, long long lanes,
                               int accumulate) {
    GPUAD_TILES(i0, m, n) {
        T dv[GPUAD_TILE], d2[GPUAD_TILE], gv[GPUAD_TILE];
        for (long long j = 0; j < m; ++j) {
            gpuad::Dual<T, 1> xd(x[i0 + j]);
            xd.d[0] = T(1);
            gpuad::Dual<T, 1> d = UnaryD<Op, K>::at(xd);
            const T gi = g[i0 + j];
            dv[j] = d.v;
            d2[j] = d.d[0];
            gv[j] = gi;
            const T v = scale(d.v, gi);
            gx[i0 + j] = accumulate ? gx[i0 + j] + v : v;
        }
        dual_tile(d2, gv, dv, tx, tg, tgx, i0, m, n, lanes, 1, accumulate);
    }
}

// ---------------------------------------------------------------- binary

// out = f(x, y)
template <class Op, class T>
__global__ void binary_fwd(const T* __restrict__ x, const T* __restrict__ y, T* __restrict__ out,
                           long long n, int sx, int sy) {
    // Separate loops per broadcast pattern keep each one a plain, vectorisable loop. A stride
    // is 1 (full), 0 (one element), -p: the operand repeats every p elements (a bias
    // broadcast over the other's leading axes), or q > 1: each of its elements stands for q
    // consecutive outputs (a column broadcast over the other's trailing q elements). A
    // periodic or held operand's partner is full, or (an outer product) held or periodic
    // with the same p = q.
    if (sx > 1 || sy > 1) {
        const long long q = sx > 1 ? sx : sy;
        GPUAD_RUNS(i0, m, n, q) {   // (a run stays in one period: the held value is fixed)
            if (sx > 1) {
                const T xv = x[i0 / q];
                const T* yr = y + (sy > 0 ? i0 : i0 % q);
                for (long long k = 0; k < m; ++k) out[i0 + k] = Op::f(xv, yr[k]);
            } else {
                const T yv = y[i0 / q];
                const T* xr = x + (sx > 0 ? i0 : i0 % q);
                for (long long k = 0; k < m; ++k) out[i0 + k] = Op::f(xr[k], yv);
            }
        }
    } else if (sx == 1 && sy == 1) {
        GPUAD_LOOP(i, n) out[i] = Op::f(x[i], y[i]);
    } else if (sx == 1 && sy == 0) {
        const T yv = y[0];
        GPUAD_LOOP(i, n) out[i] = Op::f(x[i], yv);
    } else if (sx == 0 && sy == 1) {
        const T xv = x[0];
        GPUAD_LOOP(i, n) out[i] = Op::f(xv, y[i]);
    } else if (sx < 0) {
        const long long p = -(long long)sx;
        GPUAD_RUNS(i0, m, n, p) {
            const T* xr = x + i0 % p;
            for (long long k = 0; k < m; ++k) out[i0 + k] = Op::f(xr[k], y[i0 + k]);
        }
    } else if (sy < 0) {
        const long long p = -(long long)sy;
        GPUAD_RUNS(i0, m, n, p) {
            const T* yr = y + i0 % p;
            for (long long k = 0; k < m; ++k) out[i0 + k] = Op::f(x[i0 + k], yr[k]);
        }
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
    GPUAD_TILES(i0, m, n) {
        T fx[GPUAD_TILE], fy[GPUAD_TILE];
        for (long long j = 0; j < m; ++j) {
            const long long i = i0 + j;
            const T xi = x[i * sx], yi = y[i * sy];
            fx[j] = tx ? Op::dfx(xi, yi) : T(0);
            fy[j] = ty ? Op::dfy(xi, yi) : T(0);
        }
        for (long long k = 0; k < lanes; ++k) {
            T* o = out + k * n + i0;
            const T* a = tx ? tx + k * nx + i0 * sx : nullptr;
            const T* b = ty ? ty + k * ny + i0 * sy : nullptr;
            if (a && b && sx && sy) {
                for (long long j = 0; j < m; ++j) {
                    T v = T(0);
                    v += scale(fx[j], a[j]);
                    v += scale(fy[j], b[j]);
                    o[j] = v;
                }
            } else if (a && !b && sx) {
                for (long long j = 0; j < m; ++j) {
                    T v = T(0);
                    v += scale(fx[j], a[j]);
                    o[j] = v;
                }
            } else if (b && !a && sy) {
                for (long long j = 0; j < m; ++j) {
                    T v = T(0);
                    v += scale(fy[j], b[j]);
                    o[j] = v;
                }
            } else {
                for (long long j = 0; j < m; ++j) {
                    T v = T(0);
                    if (a) v += scale(fx[j], a[j * sx]);
                    if (b) v += scale(fy[j], b[j * sy]);
                    o[j] = v;
                }
            }
        }
    }
}

// o[j] = f[j] g[j] (or g[0] where sg = 0), or o[j] += it where acc: each case a plain loop,
// which the host compiler vectorises (the flags tested inside the loop kept it scalar).
template <class T>
__device__ __forceinline__ void scaled_into(T* __restrict__ o, const T* __restrict__ f,
                                            const T* __restrict__ g, long long m, int sg, int acc) {
    if (!sg) {
        const T g0 = g[0];
        if (acc) {
            for (long long j = 0; j < m; ++j) o[j] += scale(f[j], g0);
        } else {
            for (long long j = 0; j < m; ++j) o[j] = scale(f[j], g0);
        }
    } else if (acc) {
        for (long long j = 0; j < m; ++j) o[j] += scale(f[j], g[j]);
    } else {
        for (long long j = 0; j < m; ++j) o[j] = scale(f[j], g[j]);
    }
}

// One partial of Op over a tile, f[j] = dfx or dfy at (x[i0 + j], y[i0 + j]), an operand
// of stride 0 (a broadcast 0-d one) read once.
template <class Op, class T, int Which>
__device__ __forceinline__ void partials(T* __restrict__ f, const T* __restrict__ x,
                                         const T* __restrict__ y, long long i0, long long m,
                                         int sx, int sy) {
    auto d = [](T a, T b) { return Which == 0 ? Op::dfx(a, b) : Op::dfy(a, b); };
    if (sx && sy) {
        for (long long j = 0; j < m; ++j) f[j] = d(x[i0 + j], y[i0 + j]);
    } else if (sx) {
        const T y0 = y[0];
        for (long long j = 0; j < m; ++j) f[j] = d(x[i0 + j], y0);
    } else if (sy) {
        const T x0 = x[0];
        for (long long j = 0; j < m; ++j) f[j] = d(x0, y[i0 + j]);
    } else {
        const T v = d(x[0], y[0]);
        for (long long j = 0; j < m; ++j) f[j] = v;
    }
}

// gx = dfx(x, y) g,  gy = dfy(x, y) g, both from one pass over g; a null gx or gy is not
// wanted. sx, sy, sg = 0: that operand is one broadcast element. acc_x, acc_y: add into the
// buffer instead.
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
    GPUAD_TILES(i0, m, n) {  // every other case: each operand's partials, then its cotangent
        T f[GPUAD_TILE];
        const T* gt = g + i0 * sg;
        if (gx) {
            partials<Op, T, 0>(f, x, y, i0, m, sx, sy);
            scaled_into(gx + i0, f, gt, m, sg, acc_x);
        }
        if (gy) {
            partials<Op, T, 1>(f, x, y, i0, m, sx, sy);
            scaled_into(gy + i0, f, gt, m, sg, acc_y);
        }
    }
}

// One operand's cotangent gz and its tangent lanes tgz over a tile, from the tile's partials
// f = (fv, d/dx, d/dy) on duals: tgz[k] = (f_x tx[k] + f_y ty[k]) g + fv tg[k].
template <class T>
__device__ __forceinline__ void dual_lanes(const T* fv, const T* fdx, const T* fdy, const T* gv,
                                           const T* tx, const T* ty, const T* tg, T* gz, T* tgz,
                                           long long i0, long long m, long long n,
                                           long long lanes, int sx, int sy, int acc) {
    for (long long j = 0; j < m; ++j) {
        const T v = scale(fv[j], gv[j]);
        gz[i0 + j] = acc ? gz[i0 + j] + v : v;
    }
    if (tx && ty) {   // both operands move: the x part, then the y part added in
        dual_tile(fdx, gv, fv, tx, tg, tgz, i0, m, n, lanes, sx, acc);
        dual_tile(fdy, gv, fv, ty, (const T*)nullptr, tgz, i0, m, n, lanes, sy, 1);
    } else if (tx) {
        dual_tile(fdx, gv, fv, tx, tg, tgz, i0, m, n, lanes, sx, acc);
    } else {
        dual_tile(fdy, gv, fv, ty, tg, tgz, i0, m, n, lanes, sy, acc);
    }
}

// The VJP on dual numbers, all lanes k in one pass (second derivatives from a 2-component dual):
// gx = fx g,  tgx[k] = (fxx tx[k] + fxy ty[k]) g + fx tg[k],  and likewise gy, tgy.
// acc_x, acc_y: add into gx, tgx (gy, tgy) instead of writing them (sweep-owned buffers).
template <class Op, class T>
__global__ void binary_vjp_dual(const T* __restrict__ x, const T* __restrict__ y,
                                const T* __restrict__ g, const T* __restrict__ tx,
                                const T* __restrict__ ty, const T* __restrict__ tg,
                                T* __restrict__ gx, T* __restrict__ gy,
                                T* __restrict__ tgx, T* __restrict__ tgy,
                                long long n, long long lanes, int sx, int sy, int acc_x, int acc_y) {
    GPUAD_TILES(i0, m, n) {
        T xv[GPUAD_TILE], xdx[GPUAD_TILE], xdy[GPUAD_TILE];
        T yv[GPUAD_TILE], ydx[GPUAD_TILE], ydy[GPUAD_TILE], gv[GPUAD_TILE];
        for (long long j = 0; j < m; ++j) {
            const long long i = i0 + j;
            gpuad::Dual<T, 2> xd(x[i * sx]), yd(y[i * sy]);
            if (tx) xd.d[0] = T(1);  // only seed inputs that move: the others' partials go unused
            if (ty) yd.d[1] = T(1);
            gv[j] = g[i];
            if (gx) {
                const gpuad::Dual<T, 2> f = Op::dfx(xd, yd);
                xv[j] = f.v; xdx[j] = f.d[0]; xdy[j] = f.d[1];
            }
            if (gy) {
                const gpuad::Dual<T, 2> f = Op::dfy(xd, yd);
                yv[j] = f.v; ydx[j] = f.d[0]; ydy[j] = f.d[1];
            }
        }
        if (gx) dual_lanes(xv, xdx, xdy, gv, tx, ty, tg, gx, tgx, i0, m, n, lanes, sx, sy, acc_x);
        if (gy) dual_lanes(yv, ydx, ydy, gv, tx, ty, tg, gy, tgy, i0, m, n, lanes, sx, sy, acc_y);
    }
}

// out[k, i] = d^(AX+AY) f / dx^AX dy^AY (x, y) v[k, i]: higher-order rules
template <class Op, class T, int AX, int AY>
__global__ void binary_deriv(const T* __restrict__ x, const T* __restrict__ y,
                             const T* __restrict__ v, T* __restrict__ out,
                             long long n, long long lanes, int sx, int sy) {
    GPUAD_TILES(i0, m, n) {
        T d[GPUAD_TILE];
        for (long long j = 0; j < m; ++j)
            d[j] = BinaryD<Op, AX, AY>::at(x[(i0 + j) * sx], y[(i0 + j) * sy]);
        for (long long k = 0; k < lanes; ++k) {
            const T* vk = v + k * n + i0;
            T* ok = out + k * n + i0;
            for (long long j = 0; j < m; ++j) ok[j] = scale(d[j], vk[j]);
        }
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
