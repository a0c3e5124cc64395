// The CUDA path tracer compiled by the host's C++ compiler, so a test can run it on the CPU
// (renderer/tests/cuda_kernel_on_host.rs) without a GPU, as pbrt-v4 does with its GPU code.
// Compile this file as C++17 (`c++ -x c++`): it supplies the few CUDA spellings the kernel
// uses, includes layout.cuh and pathtracer.cu as the CUDA backend joins them, and adds
// `render_on_host`, which runs the `render` kernel over a whole launch grid.

#include <cmath>
#include <math.h>

#define __device__
#define __global__
#define __forceinline__ inline

// CUDA's float4 is 16-byte aligned; so must the texel array handed to the kernel be.
struct alignas(16) float4 {
    float x, y, z, w;
};

struct uint3 {
    unsigned int x, y, z;
};

// A thread's coordinates in the launch. Thread-local, so that several grids (tiles) can run
// at the same time on different host threads.
static thread_local uint3 blockIdx, blockDim, threadIdx;

// CUDA's integer min, which the host's math headers do not declare.
static inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }

#include "layout.cuh"
#include "pathtracer.cu"

// Runs `render` for every thread of a grid of `grid_x` x `grid_y` blocks of `block_x` x
// `block_y` threads, one after the other; the other arguments are the kernel's own.
extern "C" void render_on_host(
    unsigned int grid_x, unsigned int grid_y, unsigned int block_x, unsigned int block_y,
    const GpuParams* params,
    GpuPixel* pixels,
    const GpuMaterial* materials,
    const GpuTexture* textures,
    const GpuLight* lights,
    const GpuEmitter* emitters,
    const BvhNode* nodes,
    const BvhTriangle* triangles,
    const GpuTriangle* triangle_data,
    const GpuVertex* vertices,
    const float4* texels,
    const unsigned int* texels8) {
    blockDim = {block_x, block_y, 1};
    for (unsigned int by = 0; by < grid_y; by++) {
        for (unsigned int bx = 0; bx < grid_x; bx++) {
            blockIdx = {bx, by, 0};
            for (unsigned int ty = 0; ty < block_y; ty++) {
                for (unsigned int tx = 0; tx < block_x; tx++) {
                    threadIdx = {tx, ty, 0};
                    render(params, pixels, materials, textures, lights, emitters, nodes,
                           triangles, triangle_data, vertices, texels, texels8);
                }
            }
        }
    }
}
