// Kernels for tests/test_host_runtime.py: the CPU runtime must execute ordinary CUDA C++.
#include "gpuad/common.cuh"

// out = a * x + sin(x)
template <class T>
__global__ void axpy_sin(const T* __restrict__ x, T* __restrict__ out, T a, long long n) {
    GPUAD_LOOP(i, n) out[i] = a * x[i] + sin(x[i]);
}

// The classic one-element-per-thread form, over a 2-D grid of 2-D blocks.
extern "C" __global__ void index_2d(long long* out, int w, int h) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < w && y < h) out[(long long)y * w + x] = 1000LL * y + x;
}

// Tree reduction of each block's 256 elements through shared memory.
template <class T>
__global__ void block_sum(const T* x, T* out, long long n) {
    __shared__ T s[256];
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    s[threadIdx.x] = i < n ? x[i] : T(0);
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

template <class T>
__device__ T warp_reduce(T v) {
    for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

// One sum per warp, through a device function (the scan must follow the call).
template <class T>
__global__ void warp_sum(const T* x, T* out, long long n) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const T v = warp_reduce(i < n ? x[i] : T(0));
    if ((threadIdx.x & 31) == 0) out[i / 32] = v;
}

// Inclusive scan within each warp (__shfl_up_sync), the warp total broadcast (__shfl_sync), and
// a butterfly maximum (__shfl_xor_sync).
extern "C" __global__ void warp_scan(const int* x, int* scan, int* total, int* wmax) {
    const int lane = threadIdx.x & 31, i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = x[i];
    for (int d = 1; d < 32; d *= 2) {
        const int u = __shfl_up_sync(0xffffffffu, v, d);
        if (lane >= d) v += u;
    }
    scan[i] = v;
    total[i] = __shfl_sync(0xffffffffu, v, 31);
    int m = x[i];
    for (int d = 16; d > 0; d /= 2) m = max(m, __shfl_xor_sync(0xffffffffu, m, d));
    wmax[i] = m;
}

// Votes and counting barriers.
extern "C" __global__ void votes(const int* x, unsigned* ballot, int* any, int* all, int* count) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned b = __ballot_sync(0xffffffffu, x[i] > 0);
    const int a = __any_sync(0xffffffffu, x[i] > 0), l = __all_sync(0xffffffffu, x[i] > 0);
    const int c = __syncthreads_count(x[i] > 0);
    if ((threadIdx.x & 31) == 0) {
        ballot[i / 32] = b;
        any[i / 32] = a;
        all[i / 32] = l;
    }
    if (threadIdx.x == 0) count[blockIdx.x] = c;
}

// Reverses each block's slice through dynamic shared memory.
extern "C" __global__ void reverse_block(const double* x, double* out) {
    extern __shared__ double s[];
    const int t = threadIdx.x, base = blockIdx.x * blockDim.x;
    s[t] = x[base + t];
    __syncthreads();
    out[base + t] = s[blockDim.x - 1 - t];
}

// Dynamic shared memory as raw bytes, typed by the template.
template <class T>
__global__ void shared_bytes_sum(const T* x, T* out) {
    extern __shared__ __align__(sizeof(T)) unsigned char smem[];
    T* s = reinterpret_cast<T*>(smem);
    s[threadIdx.x] = x[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    if (threadIdx.x == 0) {
        T acc = 0;
        for (unsigned k = 0; k < blockDim.x; ++k) acc += s[k];
        out[blockIdx.x] = acc;
    }
}

template <class T>
__global__ void atomic_sum(const T* x, T* out, long long n) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) atomicAdd(out, x[i]);
}

extern "C" __global__ void histogram(const int* x, unsigned* bins, unsigned long long* total, int* hi, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        atomicAdd(&bins[x[i]], 1u);
        atomicAdd(total, 1ull);
        atomicMax(hi, x[i]);
    }
}

// CUDA math spellings: unqualified float overloads and CUDA-only functions.
extern "C" __global__ void math_f32(const float* x, float* out, long long n) {
    GPUAD_LOOP(i, n) {
        const float v = x[i];
        float s, c;
        sincosf(v, &s, &c);
        out[8 * i + 0] = exp(v) + __expf(v);
        out[8 * i + 1] = rsqrtf(v) + __fdividef(1.0f, v);
        out[8 * i + 2] = s * c + __sinf(v) * __cosf(v);
        out[8 * i + 3] = erf(v) + erfinvf(v / 4.0f);
        out[8 * i + 4] = log(v) + __logf(v) + sqrt(v);
        out[8 * i + 5] = min(v, 1.5f) + max(v, 1.5f);
        out[8 * i + 6] = normcdfinvf(v / 4.0f);
        out[8 * i + 7] = rsqrt(v);
    }
}

extern "C" __global__ void math_f64(const double* x, double* out, long long n) {
    GPUAD_LOOP(i, n) {
        const double v = x[i];
        double s, c;
        sincos(v, &s, &c);
        out[4 * i + 0] = rsqrt(v);
        out[4 * i + 1] = s * c;
        out[4 * i + 2] = erfinv(v / 4.0 - 0.5);
        out[4 * i + 3] = erfcinv(v / 4.0);
    }
}

// Every parameter kind the argument check distinguishes.
extern "C" __global__ void params(const float* x, double* out, float a, double b, int c, unsigned d, long long e,
                                  bool f, unsigned long long g, short h) {
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        out[0] = a;
        out[1] = b;
        out[2] = c;
        out[3] = d;
        out[4] = (double)e;
        out[5] = f;
        out[6] = (double)g;
        out[7] = h;
        out[8] = x ? x[0] : -1.0;
    }
}

namespace gpuad_test {
extern "C" {
__global__ void __launch_bounds__(128) fill(int* out, int v) {
    out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}
}
__global__ void fill_twice(int* out, int v) { out[blockIdx.x * blockDim.x + threadIdx.x] = 2 * v; }
}  // namespace gpuad_test
