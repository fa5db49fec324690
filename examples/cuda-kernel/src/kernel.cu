// Row-wise softmax, fused into one kernel: one thread block per row, a single
// "online" pass for the row's max and sum of exponentials (Milakov & Gimelshein,
// 2018), reduced across the block with warp shuffles and shared memory, then one
// pass that writes exp(x - max) / sum. The row is read from global memory twice and
// written once, instead of the three reads of a max / sum / normalise pipeline.
//
// The host launchers are `extern "C"` so Rust can call them (see src/lib.rs).
// Which -gencode set this file is compiled for comes from gpuarch.toml, via build.rs.

#include <cuda_runtime.h>
#include <math.h>
#include <stddef.h>

namespace {

constexpr int kThreads = 256;
constexpr int kWarpSize = 32;
constexpr int kWarps = kThreads / kWarpSize;
constexpr unsigned kFullMask = 0xffffffffu;

// A partial softmax state: the running max and the sum of exp(x - max) so far.
struct MaxSum {
    float max;
    float sum;
};

__device__ __forceinline__ MaxSum combine(MaxSum a, MaxSum b) {
    const float m = fmaxf(a.max, b.max);
    if (m == -INFINITY) {
        return {m, 0.0f};  // both empty (or all -inf): avoid (-inf) - (-inf) = NaN
    }
    return {m, a.sum * __expf(a.max - m) + b.sum * __expf(b.max - m)};
}

__device__ __forceinline__ MaxSum warp_reduce(MaxSum v) {
#pragma unroll
    for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
        MaxSum other;
        other.max = __shfl_xor_sync(kFullMask, v.max, offset);
        other.sum = __shfl_xor_sync(kFullMask, v.sum, offset);
        v = combine(v, other);
    }
    return v;
}

// Every thread gets the whole block's MaxSum.
__device__ __forceinline__ MaxSum block_reduce(MaxSum v) {
    __shared__ MaxSum partial[kWarps];
    __shared__ MaxSum total;
    const int lane = threadIdx.x % kWarpSize;
    const int warp = threadIdx.x / kWarpSize;

    v = warp_reduce(v);
    if (lane == 0) {
        partial[warp] = v;
    }
    __syncthreads();
    if (warp == 0) {
        v = lane < kWarps ? partial[lane] : MaxSum{-INFINITY, 0.0f};
        v = warp_reduce(v);
        if (lane == 0) {
            total = v;
        }
    }
    __syncthreads();
    return total;
}

__global__ void __launch_bounds__(kThreads)
softmax_rows_kernel(const float* __restrict__ in, float* __restrict__ out, int cols) {
    const size_t row = blockIdx.x;
    const float* x = in + row * static_cast<size_t>(cols);
    float* y = out + row * static_cast<size_t>(cols);

    MaxSum local{-INFINITY, 0.0f};
    for (int c = threadIdx.x; c < cols; c += kThreads) {
        local = combine(local, MaxSum{__ldg(x + c), 1.0f});
    }
    const MaxSum row_stats = block_reduce(local);
    const float inv_sum = 1.0f / row_stats.sum;

    for (int c = threadIdx.x; c < cols; c += kThreads) {
        y[c] = __expf(__ldg(x + c) - row_stats.max) * inv_sum;
    }
}

}  // namespace

extern "C" {

// Softmax of each row of a row-major rows x cols matrix already on the device.
// Asynchronous on `stream`; returns the launch's cudaError_t.
int cuda_kernel_softmax_rows(const float* d_in, float* d_out, int rows, int cols,
                             cudaStream_t stream) {
    if (rows < 0 || cols <= 0 || d_in == nullptr || d_out == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (rows == 0) {
        return cudaSuccess;
    }
    softmax_rows_kernel<<<rows, kThreads, 0, stream>>>(d_in, d_out, cols);
    return cudaGetLastError();
}

// The same for host buffers: copies in, launches, copies out, synchronously.
int cuda_kernel_softmax_rows_host(const float* h_in, float* h_out, int rows, int cols) {
    if (rows < 0 || cols <= 0 || h_in == nullptr || h_out == nullptr) {
        return cudaErrorInvalidValue;
    }
    const size_t bytes = static_cast<size_t>(rows) * static_cast<size_t>(cols) * sizeof(float);
    if (bytes == 0) {
        return cudaSuccess;
    }
    float* d_in = nullptr;
    float* d_out = nullptr;
    cudaError_t err = cudaMalloc(&d_in, bytes);
    if (err == cudaSuccess) err = cudaMalloc(&d_out, bytes);
    if (err == cudaSuccess) err = cudaMemcpy(d_in, h_in, bytes, cudaMemcpyHostToDevice);
    if (err == cudaSuccess) {
        err = static_cast<cudaError_t>(cuda_kernel_softmax_rows(d_in, d_out, rows, cols, nullptr));
    }
    if (err == cudaSuccess) err = cudaMemcpy(h_out, d_out, bytes, cudaMemcpyDeviceToHost);
    cudaFree(d_in);
    cudaFree(d_out);
    return err;
}

// How many CUDA devices the runtime sees (0 with an error where there is no driver).
int cuda_kernel_device_count(int* count) {
    *count = 0;
    return cudaGetDeviceCount(count);
}

// Which code the current device would run for the kernel: binaryVersion is the
// cubin's sm_XY (or the PTX's, when the driver JIT-compiles it), ptxVersion the
// PTX's compute_XY. Both as major*10+minor.
int cuda_kernel_binary_version(int* binary_version, int* ptx_version) {
    cudaFuncAttributes attr;
    const cudaError_t err = cudaFuncGetAttributes(&attr, softmax_rows_kernel);
    if (err == cudaSuccess) {
        *binary_version = attr.binaryVersion;
        *ptx_version = attr.ptxVersion;
    }
    return err;
}

const char* cuda_kernel_error_string(int err) {
    return cudaGetErrorString(static_cast<cudaError_t>(err));
}

}  // extern "C"
