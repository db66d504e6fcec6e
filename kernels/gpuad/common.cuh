// Shared device code: the element loop every gpuad kernel uses.
#pragma once

// GPUAD_LOOP(i, n) visits every index in [0, n) exactly once across the whole launch.
// On a GPU it is the usual grid-stride loop (coalesced). The CPU-execution header
// (gpuad/host.h) defines its own GPUAD_LOOP first: there each virtual thread walks one
// contiguous chunk, which the host compiler can vectorise. Any launch geometry is correct.
#ifndef GPUAD_LOOP
#define GPUAD_LOOP(i, n)                                                              \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n);       \
         i += (long long)blockDim.x * gridDim.x)
#endif
