// CPU execution of unmodified CUDA C++ kernel sources.
//
// gpuad/runtime/host.py force-includes this header (-include) before a kernel source, compiles
// the pair with the host C++17 compiler (NVRTC's dialect) into a shared library, and launches kernels through the
// generated extern "C" launchers at the end of that translation unit. It supplies CUDA's
// built-ins and the execution model:
//   * kernels without barriers or shuffles run every virtual thread as a plain call in a loop;
//   * kernels with them run each thread of a block as a user-space fiber, switching at every
//     barrier, so __syncthreads/__syncwarp/__shfl*_sync keep their CUDA meaning;
//   * blocks are spread over a small pool of OS threads, one block at a time per OS thread, so
//     __shared__ (thread_local here) is shared by a block and distinct between running blocks.
// __CUDA_ARCH__ stays undefined; GPUAD_HOST tells kernel code it is on the CPU.
#pragma once
#define GPUAD_HOST 1

// In C++17 libstdc++'s <cmath> always brings in the mathematical special functions
// (std::cyl_bessel_i, std::riemann_zeta, ... : <bits/specfun.h> and eleven tr1 .tcc files),
// 60% of what every module spent parsing headers (0.17 s of GCC 12's time per module). The
// kernels use none of them (NVRTC has none; kernels/ops/special.cuh has its own), so their
// include guard is set first: libstdc++ then skips them, and another library ignores it.
#define _GLIBCXX_BITS_SPECFUN_H 1
#include <math.h>  // libstdc++'s math.h puts the float overloads (exp(float), ...) in ::
#include <cmath>

#if defined(GPUAD_HOST_VECTOR_MATH)
// glibc's libmvec has SIMD variants of these (<= 4 ulp); declaring them lets GCC vectorise
// elementwise loops that call them (the host build links -lmvec). Set by runtime/host.py
// only where glibc >= 2.35 provides all of them.
// The float name is the double one with an f pasted on: name##f (a parameter called f made
// f##f paste the argument twice, declaring expexp, tanhtanh, ...: no float loop vectorised).
#define GPUAD_SIMD1(name)                                                                    \
    _Pragma("omp declare simd notinbranch") extern "C" double name(double) noexcept;         \
    _Pragma("omp declare simd notinbranch") extern "C" float name##f(float) noexcept;
#define GPUAD_SIMD2(name)                                                                    \
    _Pragma("omp declare simd notinbranch") extern "C" double name(double, double) noexcept; \
    _Pragma("omp declare simd notinbranch") extern "C" float name##f(float, float) noexcept;
GPUAD_SIMD1(exp) GPUAD_SIMD1(exp2) GPUAD_SIMD1(expm1) GPUAD_SIMD1(log) GPUAD_SIMD1(log2)
GPUAD_SIMD1(log10) GPUAD_SIMD1(log1p) GPUAD_SIMD1(sin) GPUAD_SIMD1(cos) GPUAD_SIMD1(tan)
GPUAD_SIMD1(sinh) GPUAD_SIMD1(cosh) GPUAD_SIMD1(tanh) GPUAD_SIMD1(atan) GPUAD_SIMD1(asin)
GPUAD_SIMD1(acos) GPUAD_SIMD1(atanh) GPUAD_SIMD1(erf)
GPUAD_SIMD2(pow) GPUAD_SIMD2(atan2)
// A loop that takes sin and cos of one argument (the dual kernels of sin and cos: f and f')
// did not vectorise: GCC's sincos pass fuses the pair into one call of cexpi, which has no
// vector variant (sin's HVP kernel ran scalar, 8.2 ms per 10^6 elements against 1.1 for
// -sin alone). runtime/host.py builds with -fno-builtin-sin -fno-builtin-cos, which turns
// that pass off for them; declared const here, they stay calls the vectoriser may replace.
// Not for float: libstdc++'s sin(float) calls __builtin_sinf itself, which -fno-builtin-sinf
// leaves unvectorised everywhere (a float loop's sin and cos pair stays one scalar sincosf).
extern "C" double sin(double) noexcept __attribute__((const));
extern "C" double cos(double) noexcept __attribute__((const));
#undef GPUAD_SIMD1
#undef GPUAD_SIMD2
#endif
#include <atomic>
#include <climits>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#if !defined(__x86_64__) || defined(GPUAD_HOST_UCONTEXT)
#include <ucontext.h>
#endif

// ---------------------------------------------------------------- qualifiers and types
#define __global__
#define __device__
#define __host__
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __noinline__  // a hint only; as an attribute it would break libstdc++'s __attribute__((__noinline__))
#define GPUAD_NOINLINE  // NVRTC's compile-time aid (ops/incomplete.cuh); GCC's builds did not gain
#define __shared__ thread_local  // one OS thread runs one block at a time
#define __constant__
#define __managed__
#define __grid_constant__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return {x, y, z}; }
};

#define GPUAD_HOST_VEC2(T, N, A) struct __attribute__((aligned(A))) N##2 { T x, y; }; \
    inline N##2 make_##N##2(T x, T y) { return {x, y}; }
#define GPUAD_HOST_VEC3(T, N) struct N##3 { T x, y, z; }; \
    inline N##3 make_##N##3(T x, T y, T z) { return {x, y, z}; }
#define GPUAD_HOST_VEC4(T, N, A) struct __attribute__((aligned(A))) N##4 { T x, y, z, w; }; \
    inline N##4 make_##N##4(T x, T y, T z, T w) { return {x, y, z, w}; }
GPUAD_HOST_VEC2(int, int, 8) GPUAD_HOST_VEC3(int, int) GPUAD_HOST_VEC4(int, int, 16)
GPUAD_HOST_VEC2(unsigned int, uint, 8) GPUAD_HOST_VEC4(unsigned int, uint, 16)
GPUAD_HOST_VEC2(float, float, 8) GPUAD_HOST_VEC3(float, float) GPUAD_HOST_VEC4(float, float, 16)
GPUAD_HOST_VEC2(double, double, 16) GPUAD_HOST_VEC3(double, double) GPUAD_HOST_VEC4(double, double, 16)
GPUAD_HOST_VEC2(long long, longlong, 16)
inline uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return {x, y, z}; }
#undef GPUAD_HOST_VEC2
#undef GPUAD_HOST_VEC3
#undef GPUAD_HOST_VEC4

inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;
constexpr int warpSize = 32;

namespace gpuad_host {
// Division-first split of [0, n) into gridDim.x*blockDim.x contiguous chunks: no overflow,
// chunk sizes differ by at most one.
inline long long loop_bound(long long n, unsigned int next) {
    if (n <= 0) return 0;
    const long long P = (long long)gridDim.x * blockDim.x;
    const long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x + next;
    const long long q = n / P, m = n % P;
    return r * q + (r < m ? r : m);
}
// Elements per tile of GPUAD_TILES: each lane's run of a tile is 8 kB of doubles, the
// tile's per-element derivatives (a few arrays of it) stay in L1/L2.
constexpr long long TILE = 1024;
inline long long tile(long long i, long long end) {
    return end - i < TILE ? end - i : TILE;
}
// Length of GPUAD_RUNS's run from i: to the chunk's end or the next multiple of p.
inline long long run(long long i, long long end, long long p) {
    const long long r = p - i % p;
    return end - i < r ? end - i : r;
}
}  // namespace gpuad_host

// Each virtual thread walks one contiguous chunk: vectorisable, and correct for any geometry.
#define GPUAD_LOOP(i, n)                                                                      \
    for (long long i = ::gpuad_host::loop_bound((n), 0), i##_end = ::gpuad_host::loop_bound((n), 1); \
         i < i##_end; ++i)

// Tiles of GPUAD_TILE consecutive elements of the same chunk (gpuad/common.cuh).
#define GPUAD_TILE 1024  // ::gpuad_host::TILE
#define GPUAD_TILES(i0, m, n)                                                                  \
    for (long long i0 = ::gpuad_host::loop_bound((n), 0), i0##_end = ::gpuad_host::loop_bound((n), 1), \
         m = ::gpuad_host::tile(i0, i0##_end); i0 < i0##_end; i0 += m, m = ::gpuad_host::tile(i0, i0##_end))

// Runs of one chunk that stay inside one period of p elements (gpuad/common.cuh).
#define GPUAD_RUNS(i0, m, n, p)                                                                 \
    for (long long i0 = ::gpuad_host::loop_bound((n), 0), i0##_end = ::gpuad_host::loop_bound((n), 1), \
         m = i0 < i0##_end ? ::gpuad_host::run(i0, i0##_end, (p)) : 0; i0 < i0##_end;           \
         i0 += m, m = i0 < i0##_end ? ::gpuad_host::run(i0, i0##_end, (p)) : 0)

// ---------------------------------------------------------------- min / max (CUDA's overloads)
#define GPUAD_HOST_MINMAX(A, B, R)                                   \
    inline R min(A a, B b) { return (R)a < (R)b ? (R)a : (R)b; }    \
    inline R max(A a, B b) { return (R)a > (R)b ? (R)a : (R)b; }
GPUAD_HOST_MINMAX(int, int, int)
GPUAD_HOST_MINMAX(unsigned int, unsigned int, unsigned int)
GPUAD_HOST_MINMAX(int, unsigned int, unsigned int)
GPUAD_HOST_MINMAX(unsigned int, int, unsigned int)
GPUAD_HOST_MINMAX(long, long, long)
GPUAD_HOST_MINMAX(unsigned long, unsigned long, unsigned long)
GPUAD_HOST_MINMAX(long long, long long, long long)
GPUAD_HOST_MINMAX(unsigned long long, unsigned long long, unsigned long long)
GPUAD_HOST_MINMAX(long long, unsigned long long, unsigned long long)
GPUAD_HOST_MINMAX(unsigned long long, long long, unsigned long long)
#undef GPUAD_HOST_MINMAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

// ---------------------------------------------------------------- CUDA math beyond <cmath>
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rcbrt(double x) { return 1.0 / cbrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline void __sincosf(float x, float* s, float* c) { sincosf(x, s, c); }
inline float __fdividef(float x, float y) { return x / y; }
inline float fdividef(float x, float y) { return x / y; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __drcp_rn(double x) { return 1.0 / x; }
inline double __dsqrt_rn(double x) { return sqrt(x); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline double sinpi(double x) { return sin(M_PI * x); }
inline float sinpif(float x) { return (float)sinpi(x); }
inline double cospi(double x) { return cos(M_PI * x); }
inline float cospif(float x) { return (float)cospi(x); }
inline void sincospi(double x, double* s, double* c) { sincos(M_PI * x, s, c); }
inline void sincospif(float x, float* s, float* c) { *s = sinpif(x); *c = cospif(x); }
inline double normcdf(double x) { return 0.5 * erfc(-x * M_SQRT1_2); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * (float)M_SQRT1_2); }

namespace gpuad_host {
// Inverse of erfc for z in (0, 2): Winitzki's closed form as the start, then Halley steps on
// erfc (for the tails, where erf loses the digits) or erf (near zero).
inline double erfcinv_impl(double z) {
    if (!(z > 0.0 && z < 2.0)) return z == 0.0 ? INFINITY : (z == 2.0 ? -INFINITY : NAN);
    const double y = 1.0 - z, a = 0.147, l = log(z * (2.0 - z));
    const double t = 2.0 / (M_PI * a) + 0.5 * l;
    double x = copysign(sqrt(sqrt(t * t - l / a) - t), y);
    const bool tail = fabs(y) > 0.5;
    for (int k = 0; k < 4; ++k) {
        const double d = 2.0 * M_2_SQRTPI * 0.5 * exp(-x * x);  // |d/dx erf(x)|
        const double f = tail ? z - erfc(x) : erf(x) - y;       // both grow with x
        x -= f / (d + x * f);
    }
    return x;
}
}  // namespace gpuad_host
inline double erfcinv(double z) { return gpuad_host::erfcinv_impl(z); }
inline float erfcinvf(float z) { return (float)gpuad_host::erfcinv_impl(z); }
inline double erfinv(double y) { return gpuad_host::erfcinv_impl(1.0 - y); }
inline float erfinvf(float y) { return (float)gpuad_host::erfcinv_impl(1.0 - (double)y); }
inline double normcdfinv(double p) { return -M_SQRT2 * erfcinv(2.0 * p); }
inline float normcdfinvf(float p) { return (float)normcdfinv(p); }

// ---------------------------------------------------------------- bit intrinsics
template <class To, class From> inline To gpuad_bits(From v) { To t; std::memcpy(&t, &v, sizeof t); return t; }
inline int __float_as_int(float x) { return gpuad_bits<int>(x); }
inline unsigned int __float_as_uint(float x) { return gpuad_bits<unsigned int>(x); }
inline float __int_as_float(int x) { return gpuad_bits<float>(x); }
inline float __uint_as_float(unsigned int x) { return gpuad_bits<float>(x); }
inline long long __double_as_longlong(double x) { return gpuad_bits<long long>(x); }
inline double __longlong_as_double(long long x) { return gpuad_bits<double>(x); }
inline int __double2hiint(double x) { return (int)(__double_as_longlong(x) >> 32); }
inline int __double2loint(double x) { return (int)__double_as_longlong(x); }
inline double __hiloint2double(int hi, int lo) {
    return __longlong_as_double((long long)((unsigned long long)(unsigned int)hi << 32 | (unsigned int)lo));
}
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned int __brev(unsigned int x) {
    x = (x >> 1 & 0x55555555u) | (x & 0x55555555u) << 1;
    x = (x >> 2 & 0x33333333u) | (x & 0x33333333u) << 2;
    x = (x >> 4 & 0x0f0f0f0fu) | (x & 0x0f0f0f0fu) << 4;
    return __builtin_bswap32(x);
}
inline unsigned long long __brevll(unsigned long long x) {
    return (unsigned long long)__brev((unsigned)x) << 32 | __brev((unsigned)(x >> 32));
}
inline int __mulhi(int a, int b) { return (int)((long long)a * b >> 32); }
inline unsigned int __umulhi(unsigned int a, unsigned int b) { return (unsigned)((unsigned long long)a * b >> 32); }
inline long long __mul64hi(long long a, long long b) { return (long long)((__int128)a * b >> 64); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)((unsigned __int128)a * b >> 64);
}
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline int __double2int_rn(double x) { return (int)nearbyint(x); }
inline int __double2int_rz(double x) { return (int)x; }
inline long long __float2ll_rn(float x) { return llrintf(x); }
inline long long __double2ll_rn(double x) { return llrint(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __double2float_rn(double x) { return (float)x; }

// ---------------------------------------------------------------- memory
template <class T> inline T __ldg(const T* p) { return *p; }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline long long clock64() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Device atomics are relaxed read-modify-writes, as on the GPU.
namespace gpuad_host {
// Relaxed read-modify-writes on the GCC/clang __atomic builtins (std::atomic_ref is C++20; the
// host build is C++17, the dialect NVRTC compiles the same kernels in). Floating-point adds are
// compare-and-swap loops on the value's bits, as libstdc++'s atomic_ref<double> does them.
template <class T> inline T atomic_load(T* p) {
    T v;
    __atomic_load(p, &v, __ATOMIC_RELAXED);
    return v;
}
template <class T> inline bool atomic_cas(T* p, T& expected, T desired, bool weak) {
    return __atomic_compare_exchange(p, &expected, &desired, weak, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}
template <class T> inline T atomic_exchange(T* p, T v) {
    T old;
    __atomic_exchange(p, &v, &old, __ATOMIC_RELAXED);
    return old;
}
template <class T, class F> inline T cas_update(T* p, F f) {
    T old = atomic_load(p);
    while (!atomic_cas(p, old, f(old), true)) {}
    return old;
}
template <class T> inline T atomic_add(T* p, T v) {
    if constexpr (std::is_integral_v<T>) return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
    else return cas_update(p, [v](T o) { return o + v; });
}
}  // namespace gpuad_host
#define GPUAD_HOST_ATOMIC_ADD(T) \
    inline T atomicAdd(T* p, T v) { return gpuad_host::atomic_add(p, v); }
GPUAD_HOST_ATOMIC_ADD(int) GPUAD_HOST_ATOMIC_ADD(unsigned int) GPUAD_HOST_ATOMIC_ADD(unsigned long long)
GPUAD_HOST_ATOMIC_ADD(long long) GPUAD_HOST_ATOMIC_ADD(float) GPUAD_HOST_ATOMIC_ADD(double)
#undef GPUAD_HOST_ATOMIC_ADD
#define GPUAD_HOST_ATOMIC_INT(T)                                                                             \
    inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }                    \
    inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }                    \
    inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }                      \
    inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }                    \
    inline T atomicExch(T* p, T v) { return gpuad_host::atomic_exchange(p, v); }                            \
    inline T atomicMax(T* p, T v) { return gpuad_host::cas_update(p, [v](T o) { return o > v ? o : v; }); } \
    inline T atomicMin(T* p, T v) { return gpuad_host::cas_update(p, [v](T o) { return o < v ? o : v; }); } \
    inline T atomicCAS(T* p, T cmp, T v) {                                                                   \
        gpuad_host::atomic_cas(p, cmp, v, false);                                                            \
        return cmp;                                                                                          \
    }
GPUAD_HOST_ATOMIC_INT(int) GPUAD_HOST_ATOMIC_INT(unsigned int)
GPUAD_HOST_ATOMIC_INT(long long) GPUAD_HOST_ATOMIC_INT(unsigned long long)
#undef GPUAD_HOST_ATOMIC_INT
inline float atomicExch(float* p, float v) { return gpuad_host::atomic_exchange(p, v); }
inline double atomicExch(double* p, double v) { return gpuad_host::atomic_exchange(p, v); }
inline unsigned int atomicInc(unsigned int* p, unsigned int lim) {
    return gpuad_host::cas_update(p, [lim](unsigned int o) { return o >= lim ? 0u : o + 1; });
}
inline unsigned int atomicDec(unsigned int* p, unsigned int lim) {
    return gpuad_host::cas_update(p, [lim](unsigned int o) { return (o == 0 || o > lim) ? lim : o - 1; });
}

// ---------------------------------------------------------------- fibers
// Context switch: callee-saved registers plus the SSE/x87 control words, as the SysV ABI asks.
// Hand-written on x86-64 (several times faster than swapcontext, which also saves the signal
// mask with a system call); ucontext elsewhere, or when GPUAD_HOST_UCONTEXT is defined.
namespace gpuad_host {
// Set by host.py when it loads the library (GPUAD_FIBER_STACK_KB, validated there). The first
// value taken sticks: stacks already mapped keep the size their fibers were made with.
inline std::atomic<size_t> fiber_stack_setting{0};
inline size_t fiber_stack_bytes() {
    size_t b = fiber_stack_setting.load(std::memory_order_relaxed);
    if (b == 0) {  // unset: the default, from now on
        fiber_stack_setting.compare_exchange_strong(b, 128 * 1024);
        b = fiber_stack_setting.load();
    }
    return b;
}

#if defined(__x86_64__) && !defined(GPUAD_HOST_UCONTEXT)
extern "C" __attribute__((visibility("hidden"))) void gpuad_host_switch(void** save_sp, void* to_sp);
extern "C" __attribute__((visibility("hidden"))) void gpuad_host_trampoline();
asm(R"(
    .text
    .globl gpuad_host_switch
    .hidden gpuad_host_switch
    .type gpuad_host_switch, @function
    .p2align 4
gpuad_host_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size gpuad_host_switch, .-gpuad_host_switch
    .globl gpuad_host_trampoline
    .hidden gpuad_host_trampoline
    .type gpuad_host_trampoline, @function
    .p2align 4
gpuad_host_trampoline:
    callq *%r13
    ud2
    .size gpuad_host_trampoline, .-gpuad_host_trampoline
)");
struct Context { void* sp = nullptr; };
inline void context_make(Context& c, char* stack_top, void (*entry)()) {
    auto* top = reinterpret_cast<uint64_t*>(reinterpret_cast<uintptr_t>(stack_top) & ~uintptr_t(15));
    uint64_t* sp = top - 8;  // control words, r15, r14, r13, r12, rbx, rbp, return address
    uint32_t words[2] = {__builtin_ia32_stmxcsr(), 0};
    uint16_t cw;
    asm volatile("fnstcw %0" : "=m"(cw));
    words[1] = cw;
    std::memcpy(&sp[0], words, 8);
    sp[1] = sp[2] = sp[4] = sp[5] = sp[6] = 0;
    sp[3] = reinterpret_cast<uint64_t>(entry);  // r13, called by the trampoline
    sp[7] = reinterpret_cast<uint64_t>(&gpuad_host_trampoline);
    c.sp = sp;
}
inline void context_switch(Context& from, Context& to) { gpuad_host_switch(&from.sp, to.sp); }
inline void cpu_relax() { __builtin_ia32_pause(); }
#else
struct Context { ucontext_t uc; };
inline void context_make(Context& c, char* stack_top, void (*entry)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack_top - fiber_stack_bytes();
    c.uc.uc_stack.ss_size = fiber_stack_bytes();
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, entry, 0);
}
inline void context_switch(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
inline void cpu_relax() { sched_yield(); }
#endif

// Per OS thread: fiber stacks with a guard page below each, mapped once and reused.
struct StackArena {
    char* base = nullptr;
    size_t stride = 0, count = 0;
    char* top(size_t i) { return base + i * stride + stride; }
    bool reserve(size_t n) {
        if (n <= count) return true;
        const size_t page = (size_t)sysconf(_SC_PAGESIZE), size = fiber_stack_bytes();
        const size_t st = (size + page - 1) / page * page + page;
        if (base) munmap(base, stride * count);
        base = nullptr;
        count = 0;
        void* m = mmap(nullptr, st * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return false;
        base = static_cast<char*>(m);
        stride = st;
        count = n;
        for (size_t i = 0; i < n; ++i) mprotect(base + i * st, page, PROT_NONE);
        return true;
    }
};

// A growable array of trivially copyable T that is never shrunk (per-thread scratch).
template <class T> struct Scratch {
    T* p = nullptr;
    size_t cap = 0;
    T* get(size_t n) {
        if (n > cap) {
            std::free(p);
            p = static_cast<T*>(std::malloc(n * sizeof(T)));
            cap = n;
        }
        return p;
    }
};

// ---------------------------------------------------------------- launches
enum : int { RUNNING, AT_BLOCK, AT_WARP, EXITED };
enum : int { OP_SYNC, OP_SHFL, OP_BALLOT };
constexpr size_t ERROR_BYTES = 512;

struct ThreadState {
    int status, op, src;
    unsigned int mask;
    unsigned long long val, result;
};

struct Launch {
    dim3 grid, block;
    long long nblocks, nthreads, chunk, smem;
    int mode;  // 0: plain loop over threads, 1: fibers
    const char* name;
    const void* args;
    void (*loop_block)(const void* args);  // runs every thread of the current block
    void (*thread_fn)(const void* args);   // runs the current thread
    std::atomic<long long> next{0};
    // The lowest failing block reports, whichever OS thread got there first: blocks after it
    // are skipped, blocks before it still run (and may fail lower). Read after the launch.
    std::atomic<long long> fail_rank{LLONG_MAX};
    std::atomic_flag error_lock = ATOMIC_FLAG_INIT;
    char error[ERROR_BYTES] = "";
    bool failed() const { return fail_rank.load() != LLONG_MAX; }
    __attribute__((format(printf, 2, 3))) void fail(const char* fmt, ...) {
        const long long rank = ((long long)blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
        while (error_lock.test_and_set(std::memory_order_acquire)) cpu_relax();
        if (rank < fail_rank.load(std::memory_order_relaxed)) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(error, sizeof error, fmt, ap);
            va_end(ap);
            fail_rank.store(rank);
        }
        error_lock.clear(std::memory_order_release);
    }
};

struct FiberBlock {
    Launch* L;
    int n, self;
    long long exited, at_block, at_warp;
    ThreadState* st;
    Context* ctx;
    uint3* tid;
    Context sched;
};

inline thread_local Launch* tl_launch = nullptr;
inline thread_local FiberBlock* tl_block = nullptr;  // set only while a fiber block runs
inline thread_local StackArena tl_stacks;
inline thread_local void* tl_smem = nullptr;
inline thread_local size_t tl_smem_bytes = 0;
inline thread_local char tl_error[ERROR_BYTES];

inline void* dynamic_shared() { return tl_smem; }

// A barrier reached by a kernel the source scan classed as barrier-free.
inline void missed_barrier(const char* what) {
    Launch* L = tl_launch;
    if (L && L->nthreads > 1)
        L->fail("%s in kernel '%s' which the host runtime ran without fibers: the source scan did not see it "
                "(call it in the kernel, or in a __device__ function or macro of the same sources)",
                what, L->name);
}

// A pass runs the runnable fibers in index order; each hands over to the next one directly
// (half the switches of going through the scheduler), the last one back to the scheduler.
inline void fiber_next(FiberBlock* B) {
    const int from = B->self;
    int t = from + 1;
    while (t < B->n && B->st[t].status != RUNNING) ++t;
    if (t == B->n) return context_switch(B->ctx[from], B->sched);
    threadIdx = B->tid[t];
    B->self = t;
    context_switch(B->ctx[from], B->ctx[t]);
}

inline void fiber_main() {
    FiberBlock* B = tl_block;
    B->L->thread_fn(B->L->args);
    B->st[B->self].status = EXITED;
    ++B->exited;
    fiber_next(B);
    __builtin_unreachable();
}

inline unsigned long long warp_op(unsigned int mask, int op, unsigned long long val, int src, const char* what) {
    FiberBlock* B = tl_block;
    if (!B) {
        missed_barrier(what);
        return op == OP_BALLOT ? (val != 0) : val;
    }
    ThreadState& s = B->st[B->self];
    s.status = AT_WARP;
    s.mask = mask;
    s.op = op;
    s.val = val;
    s.src = src;
    ++B->at_warp;
    fiber_next(B);
    return s.result;
}

inline long long block_op(long long pred) {
    FiberBlock* B = tl_block;
    if (!B) {
        missed_barrier("__syncthreads");
        return pred != 0;
    }
    ThreadState& s = B->st[B->self];
    s.status = AT_BLOCK;
    s.val = pred != 0;
    ++B->at_block;
    fiber_next(B);
    return (long long)s.result;
}

// Releases every lane of warp w whose mask names only lanes that wait at a warp barrier; the
// shuffles and votes of the released lanes are evaluated at that instant. Returns false (launch
// failed) if a lane waits for one that exited.
inline bool release_warp(FiberBlock* B, int w, bool& released) {
    const int base = w * 32, nl = B->n - base < 32 ? B->n - base : 32;
    const unsigned int live = nl == 32 ? 0xffffffffu : ((1u << nl) - 1);
    unsigned int waiting = 0, exited = 0;
    for (int l = 0; l < nl; ++l) {
        waiting |= (unsigned)(B->st[base + l].status == AT_WARP) << l;
        exited |= (unsigned)(B->st[base + l].status == EXITED) << l;
    }
    unsigned int ready = 0;
    for (int l = 0; l < nl; ++l) {
        if (!(waiting >> l & 1)) continue;
        const unsigned int m = (B->st[base + l].mask | 1u << l) & live;
        if (m & exited) {
            B->L->fail("divergent warp synchronisation (__syncwarp/__shfl*_sync/__ballot_sync) in kernel '%s': "
                       "lane %d of warp %d in block (%u,%u,%u) waits for %d lanes of its mask that exited",
                       B->L->name, l, w, blockIdx.x, blockIdx.y, blockIdx.z, __builtin_popcount(m & exited));
            return false;
        }
        if (!(m & ~waiting)) ready |= 1u << l;
    }
    for (int l = 0; l < nl; ++l) {
        if (!(ready >> l & 1)) continue;
        ThreadState& s = B->st[base + l];
        if (s.op == OP_SHFL) {
            const bool ok = s.src >= 0 && s.src < nl && (ready >> s.src & 1);
            s.result = ok ? B->st[base + s.src].val : s.val;
        } else if (s.op == OP_BALLOT) {
            unsigned long long bits = 0;
            for (unsigned int m = s.mask & ready; m; m &= m - 1) {
                const int k = __builtin_ctz(m);
                bits |= (unsigned long long)(B->st[base + k].val != 0) << k;
            }
            s.result = bits;
        }
    }
    for (int l = 0; l < nl; ++l)
        if (ready >> l & 1) B->st[base + l].status = RUNNING;
    B->at_warp -= __builtin_popcount(ready);
    released |= ready != 0;
    return true;
}

// Runs the current block (blockIdx set) with one fiber per thread. On a divergent barrier the
// launch is marked failed and the waiting fibers are dropped (their stacks get reused).
inline void run_fiber_block(Launch* L) {
    thread_local Scratch<ThreadState> st;
    thread_local Scratch<Context> ctx;
    thread_local Scratch<uint3> tid;
    thread_local dim3 shape{0, 0, 0};
    const int n = (int)L->nthreads;
    if (!tl_stacks.reserve(n)) return L->fail("cannot map %d fiber stacks for kernel '%s'", n, L->name);
    FiberBlock B{L, n, 0, 0, 0, 0, st.get(n), ctx.get(n), tid.get(n), {}};
    if (shape.x != L->block.x || shape.y != L->block.y || shape.z != L->block.z) {
        shape = L->block;
        for (int t = 0; t < n; ++t)
            B.tid[t] = {(unsigned)(t % shape.x), (unsigned)(t / shape.x % shape.y), (unsigned)(t / (shape.x * shape.y))};
    }
    for (int t = 0; t < n; ++t) {
        B.st[t] = ThreadState{RUNNING, OP_SYNC, -1, 0, 0, 0};
        B.ctx[t] = Context{};
        context_make(B.ctx[t], tl_stacks.top(t), &fiber_main);
    }
    tl_block = &B;
    for (;;) {
        int first = 0;
        while (first < n && B.st[first].status != RUNNING) ++first;
        if (first < n) {
            threadIdx = B.tid[first];
            B.self = first;
            context_switch(B.sched, B.ctx[first]);
        }
        if (B.exited == n) break;
        bool released = false, ok = true;
        for (int w = 0; ok && B.at_warp && w < (n + 31) / 32; ++w) ok = release_warp(&B, w, released);
        if (!ok) break;
        if (released) continue;
        if (B.at_block == n - B.exited && B.at_warp == 0) {
            if (B.exited) {
                L->fail("divergent __syncthreads in kernel '%s': %lld of %d threads of block (%u,%u,%u) exited "
                        "while the others wait", L->name, B.exited, n, blockIdx.x, blockIdx.y, blockIdx.z);
                break;
            }
            long long count = 0;
            for (int t = 0; t < n; ++t) count += (long long)B.st[t].val;
            for (int t = 0; t < n; ++t) B.st[t] = ThreadState{RUNNING, OP_SYNC, -1, 0, 0, (unsigned long long)count};
            B.at_block = 0;
            continue;
        }
        L->fail("barrier deadlock in kernel '%s', block (%u,%u,%u): %lld threads wait at __syncthreads, %lld at a "
                "warp barrier (__syncwarp/__shfl*_sync), %lld exited (of %d)", L->name, blockIdx.x, blockIdx.y,
                blockIdx.z, B.at_block, B.at_warp, B.exited, n);
        break;
    }
    tl_block = nullptr;
}

inline void run_blocks(Launch* L) {
    tl_launch = L;
    blockDim = L->block;
    gridDim = L->grid;
    if (L->smem > (long long)tl_smem_bytes) {
        // The size is recorded only once the memory is there: a failed allocation leaves this
        // thread with none, and later launches ask again instead of writing through null.
        const size_t bytes = ((size_t)L->smem + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, bytes);
        if (p == nullptr) {
            blockIdx = {0, 0, 0};
            L->fail("cannot allocate %lld bytes of dynamic shared memory for kernel '%s'", L->smem, L->name);
            tl_launch = nullptr;
            return;
        }
        std::free(tl_smem);
        tl_smem = p;
        tl_smem_bytes = bytes;
    }
    const long long gx = L->grid.x, gxy = gx * L->grid.y;
    for (;;) {
        const long long b0 = L->next.fetch_add(L->chunk, std::memory_order_relaxed);
        if (b0 >= L->nblocks) break;
        const long long b1 = b0 + L->chunk < L->nblocks ? b0 + L->chunk : L->nblocks;
        for (long long b = b0; b < b1 && b < L->fail_rank.load(std::memory_order_relaxed); ++b) {
            blockIdx = {(unsigned)(b % gx), (unsigned)(b / gx % L->grid.y), (unsigned)(b / gxy)};
            if (L->mode == 0) L->loop_block(L->args);
            else run_fiber_block(L);
        }
    }
    tl_launch = nullptr;
}

inline long long now_ns() { return clock64(); }

// Sleep while a == v (or until woken; callers check again) and wake every sleeper: C++20's
// atomic wait/notify_all, on the futex libstdc++ uses for them on Linux. C++20's <atomic>
// would cost every module's compile about half a second more than all of C++17's headers.
template <class T> inline void wait_while(std::atomic<T>& a, T v) {
    static_assert(sizeof(T) == 4 && sizeof(std::atomic<T>) == 4, "a futex is 32 bits");
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<int*>(&a), FUTEX_WAIT_PRIVATE, gpuad_bits<int>(v), nullptr, nullptr, 0);
#else
    timespec ts{0, 50000};
    if (a.load() == v) nanosleep(&ts, nullptr);
#endif
}
template <class T> inline void wake_all(std::atomic<T>& a) {
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<int*>(&a), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
    (void)a;
#endif
}

// Workers spin for a short while after a launch (back-to-back launches are common), then sleep
// on a futex, so an idle pool does not take the caller's core away.
//
// They are kept off the caller's CPU. A thread woken after the machine idled is put on the
// waking thread's CPU: in a virtual machine a halted vCPU counts as busy to the guest's
// scheduler, so the other CPUs look taken and the whole launch ran on one core, the workers
// and the caller taking turns (tanh over 10^6 float64 on 2 CPUs, bursts of calls 0.15 s
// apart: 2.4-2.5 ms per call against 1.3 with the workers pinned, 1.0-1.3 without pauses;
// issue 18). So each launch pins the workers to the caller's allowed CPUs less the one it
// runs on, redone only when that CPU or the caller's mask changes (two calls of a few
// hundred nanoseconds otherwise). runtime/blas.py does the same for its threads.
class Pool {
  public:
    bool try_run(Launch* L, int workers) {
        if (busy_.exchange(true, std::memory_order_acquire)) return false;  // in use: run serially
        grow(workers - 1);
        place_workers();
        want_.store(workers - 1, std::memory_order_relaxed);
        job_.store(L, std::memory_order_relaxed);
        open_.store(true);
        epoch_.fetch_add(1);
        wake_all(epoch_);
        run_blocks(L);
        open_.store(false);
        for (int v; (v = active_.load()) != 0;) {
            const long long until = now_ns() + spin_ns;
            while (active_.load(std::memory_order_relaxed) == v && now_ns() < until) cpu_relax();
            if (active_.load() == v) wait_while(active_, v);
        }
        busy_.store(false, std::memory_order_release);
        return true;
    }

  private:
    static constexpr long long spin_ns = 50000;
    std::atomic<bool> busy_{false};
    std::atomic<uint32_t> epoch_{0};
    std::atomic<int> active_{0}, want_{0};
    std::atomic<bool> open_{false};
    std::atomic<Launch*> job_{nullptr};
    int started_ = 0;
    static constexpr int MAX_WORKERS = 1024;  // (GPUAD_NUM_THREADS's bound, runtime/env.py)
    pthread_t threads_[MAX_WORKERS];
#if defined(__linux__)
    int placed_cpu_ = -1;  // the caller's CPU and mask the workers were last pinned around
    cpu_set_t placed_mask_{};

    void place_workers() {
        const int c = sched_getcpu();
        cpu_set_t mine;
        if (c < 0 || pthread_getaffinity_np(pthread_self(), sizeof mine, &mine) != 0 || CPU_COUNT(&mine) < 2 ||
            !CPU_ISSET(c, &mine))
            return;
        if (c == placed_cpu_ && CPU_EQUAL(&mine, &placed_mask_)) return;
        cpu_set_t others = mine;
        CPU_CLR(c, &others);
        for (int i = 0; i < started_; ++i) pthread_setaffinity_np(threads_[i], sizeof others, &others);
        placed_cpu_ = c;   // (a failed call leaves that worker where it was: slower, not wrong)
        placed_mask_ = mine;
    }
#else
    void place_workers() {}
#endif

    struct Start { Pool* pool; int id; uint32_t epoch; };
    void grow(int n) {
        if (n > MAX_WORKERS) n = MAX_WORKERS;
        for (; started_ < n; ++started_) {
            pthread_t t;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            auto* s = new Start{this, started_, epoch_.load()};
            if (pthread_create(&t, &attr, [](void* p) -> void* {
                    Start s = *static_cast<Start*>(p);
                    delete static_cast<Start*>(p);
#if defined(__linux__)
                    pthread_setname_np(pthread_self(), "gpuad-kernels");  // (what top and tests see)
#endif
                    s.pool->worker(s.id, s.epoch);
                    return nullptr;
                }, s) != 0) {
                delete s;
                pthread_attr_destroy(&attr);
                break;  // fewer workers: the caller runs whatever they do not take
            }
            threads_[started_] = t;
#if defined(__linux__)
            placed_cpu_ = -1;  // (the new one is placed too)
#endif
            pthread_attr_destroy(&attr);
        }
    }
    void worker(int id, uint32_t seen) {
        for (;;) {
            long long until = now_ns() + spin_ns;
            for (int k = 0; epoch_.load(std::memory_order_acquire) == seen; ++k) {
                cpu_relax();
                if ((k & 63) == 63 && now_ns() > until) {
                    wait_while(epoch_, seen);
                    until = now_ns() + spin_ns;
                }
            }
            seen = epoch_.load();
            active_.fetch_add(1);
            // A late worker may meet the next launch, or none: it checks open_ after announcing
            // itself, and the caller waits for active_ == 0 only after closing.
            if (open_.load() && id < want_.load(std::memory_order_relaxed))
                run_blocks(job_.load(std::memory_order_relaxed));
            if (active_.fetch_sub(1) == 1) wake_all(active_);
        }
    }
};

// The pool's threads do not survive fork(): a child starts a fresh one (the old one leaks).
inline Pool*& pool_slot() {
    static Pool* p = [] {
        pthread_atfork(nullptr, nullptr, [] { pool_slot() = new Pool; });
        return new Pool;
    }();
    return p;
}

// Frame layout shared with host.py: grid xyz, block xyz, shared bytes, mode, pointer offset
// (-1: pointer slots hold data pointers; else they hold a PyArrayObject* whose data pointer
// sits at that offset), workers, then one 8-byte slot per kernel argument.
enum : int { F_GRID = 0, F_BLOCK = 3, F_SMEM = 6, F_MODE = 7, F_PTR_OFFSET = 8, F_WORKERS = 9, F_ARGS = 10 };

template <class T> inline T arg_from(long long slot, long long ptr_offset) {
    if constexpr (std::is_pointer_v<T>) {
        if (ptr_offset < 0 || slot == 0) return reinterpret_cast<T>(slot);
        return *reinterpret_cast<T*>(slot + ptr_offset);
    } else {
        static_assert(std::is_trivially_copyable_v<T>, "kernel parameters must be trivially copyable");
        T v;
        std::memcpy(&v, sizeof(T) <= 8 ? (const void*)&slot : reinterpret_cast<const void*>(slot), sizeof(T));
        return v;
    }
}

template <auto K, class Tuple> struct Runner {
    static void thread_fn(const void* a) { std::apply(K, *static_cast<const Tuple*>(a)); }
    static void loop_block(const void* a) {
        const Tuple& args = *static_cast<const Tuple*>(a);
        const dim3 b = blockDim;
        for (unsigned z = 0; z < b.z; ++z)
            for (unsigned y = 0; y < b.y; ++y)
                for (unsigned x = 0; x < b.x; ++x) {
                    threadIdx = {x, y, z};
                    std::apply(K, args);
                }
    }
};

// CUDA's limits (and gpuad's bound on dynamic shared memory), checked on the frame's 64-bit
// values before anything is narrowed to dim3. gpuad/runtime/checks.py checks the same, with
// the message that names the way out; this is the safety net for any other caller.
constexpr long long MAX_SHARED_MEM = 227 * 1024;
inline bool check_launch(const long long* f, const char* name) {
    const long long *g = f + F_GRID, *b = f + F_BLOCK, smem = f[F_SMEM];
    if (g[0] >= 1 && g[0] <= INT_MAX && g[1] >= 1 && g[1] <= 65535 && g[2] >= 1 && g[2] <= 65535 && b[0] >= 1 &&
        b[0] <= 1024 && b[1] >= 1 && b[1] <= 1024 && b[2] >= 1 && b[2] <= 64 && b[0] * b[1] * b[2] <= 1024 &&
        smem >= 0 && smem <= MAX_SHARED_MEM)
        return true;
    snprintf(tl_error, sizeof tl_error,
             "invalid launch configuration for kernel '%s': grid (%lld,%lld,%lld), block (%lld,%lld,%lld), shared_mem "
             "%lld (CUDA's limits: grid.x <= 2147483647, grid.y/z <= 65535, block.x/y <= 1024, block.z <= 64, at most "
             "1024 threads per block, no zero; shared_mem 0..%lld bytes)",
             name, g[0], g[1], g[2], b[0], b[1], b[2], smem, MAX_SHARED_MEM);
    return false;
}

template <class Tuple, class... A, size_t... I> Tuple args_from(const long long* f, std::index_sequence<I...>) {
    return Tuple{arg_from<std::decay_t<A>>(f[F_ARGS + I], f[F_PTR_OFFSET])...};
}

template <auto K, class... A> int launch_impl(void (*)(A...), const long long* f, const char* name) {
    using Tuple = std::tuple<std::decay_t<A>...>;
    const Tuple args = args_from<Tuple, A...>(f, std::index_sequence_for<A...>{});
    if (!check_launch(f, name)) return 1;
    Launch L;
    L.grid = dim3((unsigned)f[F_GRID], (unsigned)f[F_GRID + 1], (unsigned)f[F_GRID + 2]);
    L.block = dim3((unsigned)f[F_BLOCK], (unsigned)f[F_BLOCK + 1], (unsigned)f[F_BLOCK + 2]);
    L.nblocks = (long long)L.grid.x * L.grid.y * L.grid.z;
    L.nthreads = (long long)L.block.x * L.block.y * L.block.z;
    L.smem = f[F_SMEM];
    L.mode = L.nthreads > 1 ? (int)f[F_MODE] : 0;  // one thread per block needs no fibers
    L.name = name;
    L.args = &args;
    L.loop_block = &Runner<K, Tuple>::loop_block;
    L.thread_fn = &Runner<K, Tuple>::thread_fn;
    const int workers = (int)(f[F_WORKERS] < L.nblocks ? f[F_WORKERS] : L.nblocks);
    L.chunk = L.nblocks / (8LL * (workers > 1 ? workers : 1));
    if (L.chunk < 1) L.chunk = 1;
    if (workers <= 1 || !pool_slot()->try_run(&L, workers)) run_blocks(&L);
    if (L.failed()) {
        std::memcpy(tl_error, L.error, sizeof tl_error);
        return 1;
    }
    return 0;
}

template <auto K> int launch(const long long* f, const char* name) { return launch_impl<K>(K, f, name); }

// Parameter descriptions read by host.py to check arguments.
struct ParamInfo {
    const char* type;  // __PRETTY_FUNCTION__ of type_name<T>; host.py cuts the type out
    long long size;
    char kind, pointee_kind;  // 'p' pointer, 'f' floating, 'i' signed, 'u' unsigned, 'b' bool, 'o' other
    char pointee_const;       // 1: the kernel cannot write through this pointer
    long long pointee_size;
};
template <class T> const char* type_name() { return __PRETTY_FUNCTION__; }
template <class T> constexpr char kind_of() {
    if constexpr (std::is_pointer_v<T>) return 'p';
    else if constexpr (std::is_same_v<std::remove_cv_t<T>, bool>) return 'b';
    else if constexpr (std::is_floating_point_v<T>) return 'f';
    else if constexpr (std::is_integral_v<T>) return std::is_signed_v<T> ? 'i' : 'u';
    else if constexpr (std::is_enum_v<T>) return std::is_signed_v<std::underlying_type_t<T>> ? 'i' : 'u';
    else return 'o';
}
template <class T> ParamInfo param_info() {
    using P = std::remove_cv_t<std::remove_pointer_t<T>>;
    long long psize = 0;
    if constexpr (std::is_pointer_v<T> && !std::is_void_v<P> && !std::is_function_v<P>) psize = sizeof(P);
    constexpr bool ro = std::is_pointer_v<T> && std::is_const_v<std::remove_pointer_t<T>>;
    return {type_name<T>(), (long long)sizeof(T), kind_of<T>(), std::is_pointer_v<T> ? kind_of<P>() : '\0', ro, psize};
}
template <class... A> const ParamInfo* params(void (*)(A...), int* n) {
    static const ParamInfo p[] = {param_info<std::decay_t<A>>()..., ParamInfo{nullptr, 0, 0, 0, 0, 0}};
    *n = (int)sizeof...(A);
    return p;
}
}  // namespace gpuad_host

// ---------------------------------------------------------------- barriers and warp functions
inline void __syncthreads() { gpuad_host::block_op(0); }
inline int __syncthreads_count(int pred) { return (int)gpuad_host::block_op(pred); }
inline int __syncthreads_and(int pred) {
    return gpuad_host::block_op(pred) == gpuad_host::tl_launch->nthreads;  // block_op's count
}
inline int __syncthreads_or(int pred) { return gpuad_host::block_op(pred) != 0; }
inline void __syncwarp(unsigned int mask = 0xffffffffu) {
    gpuad_host::warp_op(mask, gpuad_host::OP_SYNC, 0, -1, "__syncwarp");
}
inline unsigned int __activemask() { return 0xffffffffu; }
inline unsigned int __ballot_sync(unsigned int mask, int pred) {
    return (unsigned)gpuad_host::warp_op(mask, gpuad_host::OP_BALLOT, pred != 0, -1, "__ballot_sync");
}
inline int __any_sync(unsigned int mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned int mask, int pred) { return __ballot_sync(mask, !pred) == 0; }

namespace gpuad_host {
inline int lane_id() {
    return (int)(((long long)threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x) & 31;
}
template <class T> inline T shuffle(unsigned int mask, T var, int src, const char* what) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles move values of at most 8 bytes");
    unsigned long long bits = 0;
    std::memcpy(&bits, &var, sizeof(T));
    bits = warp_op(mask, OP_SHFL, bits, src, what);
    std::memcpy(&var, &bits, sizeof(T));
    return var;
}
}  // namespace gpuad_host

template <class T> inline T __shfl_sync(unsigned int mask, T var, int src_lane, int width = warpSize) {
    const int lane = gpuad_host::lane_id(), seg = lane & ~(width - 1);
    return gpuad_host::shuffle(mask, var, seg + (src_lane & (width - 1)), "__shfl_sync");
}
template <class T> inline T __shfl_up_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize) {
    const int lane = gpuad_host::lane_id();
    const int src = (lane & (width - 1)) < (int)delta ? lane : lane - (int)delta;
    return gpuad_host::shuffle(mask, var, src, "__shfl_up_sync");
}
template <class T> inline T __shfl_down_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize) {
    const int lane = gpuad_host::lane_id();
    const int src = (lane & (width - 1)) + (int)delta >= width ? lane : lane + (int)delta;
    return gpuad_host::shuffle(mask, var, src, "__shfl_down_sync");
}
template <class T> inline T __shfl_xor_sync(unsigned int mask, T var, int lane_mask, int width = warpSize) {
    const int lane = gpuad_host::lane_id(), src = lane ^ lane_mask;
    return gpuad_host::shuffle(mask, var, src >= (lane & ~(width - 1)) + width ? lane : src, "__shfl_xor_sync");
}

// Exported for host.py.
extern "C" __attribute__((visibility("default"))) const char* gpuad_error_message() { return gpuad_host::tl_error; }
extern "C" __attribute__((visibility("default"))) void gpuad_set_fiber_stack_kb(long long kb) {
    size_t unset = 0;
    if (kb > 0) gpuad_host::fiber_stack_setting.compare_exchange_strong(unset, (size_t)kb * 1024);
}
