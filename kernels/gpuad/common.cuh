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

// GPUAD_TILES(i0, m, n) visits [0, n) in tiles [i0, i0 + m), m <= GPUAD_TILE, for kernels
// over lane arrays (K tangent lanes of n elements each): a tile's per-element derivatives
// are computed once, then each lane is swept over the tile. On a GPU a tile is one element
// of the grid-stride loop (m = 1, the lanes read coalesced across threads); the CPU header
// makes tiles of GPUAD_TILE consecutive elements, so each lane is read as a contiguous run
// instead of one element every n (K streams at once, a page apart).
#ifndef GPUAD_TILES
#define GPUAD_TILE 1
#define GPUAD_TILES(i0, m, n)                                                             \
    for (long long i0 = (long long)blockIdx.x * blockDim.x + threadIdx.x, m = 1; i0 < (n); \
         i0 += (long long)blockDim.x * gridDim.x)
#endif

// GPUAD_RUNS(i0, m, n, p) visits [0, n) in runs [i0, i0 + m) that never cross a multiple of
// p, for an operand that repeats every p elements (a bias broadcast over leading axes): its
// elements i0 % p ... i0 % p + m - 1 are then consecutive too. On a GPU a run is one element
// of the grid-stride loop; the CPU header makes runs as long as its chunk and p allow, so the
// inner loop over a run is a plain, vectorisable one.
#ifndef GPUAD_RUNS
#define GPUAD_RUNS(i0, m, n, p)                                                           \
    for (long long i0 = (long long)blockIdx.x * blockDim.x + threadIdx.x, m = 1; i0 < (n); \
         i0 += (long long)blockDim.x * gridDim.x)
#endif
