// The elementwise family on complex numbers: elementwise.cu's kernel templates instantiated
// with T = gpuad::Complex<float> / gpuad::Complex<double> (kernels/gpuad/complex.cuh) on the
// holomorphic ops of kernels/ops/, whose df is then the complex derivative f'(z). With
// gpuad's convention (JAX's) a VJP multiplies the cotangent by f'(z) without conjugation,
// so the same JVP, VJP and dual-number kernels serve both fields. Kept apart from
// elementwise.cu so that a real program never builds the complex math.
#include "gpuad/complex.cuh"
#include "elementwise.cu"

// out = |z| (float or double out of Complex<float> or Complex<double>)
template <class T>
__global__ void complex_abs(const gpuad::Complex<T>* __restrict__ z, T* __restrict__ out, long long n) {
    GPUAD_LOOP(i, n) out[i] = gpuad::modulus(z[i]);
}
