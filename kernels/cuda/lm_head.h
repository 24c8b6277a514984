// Fused LM-head log-probs (and entropy) of given targets without materialising [T, V] logits (KERNELS.md,
// MODEL.md §7). The vocabulary is processed in chunks of `chunk` columns: a GEMM writes one [T, chunk] fp32
// logit tile into the workspace, and a kernel folds it into running (max, sum exp, sum p*z) statistics and
// picks the target logit (online log-sum-exp). Peak extra memory: T*chunk*4 bytes (+ T*chunk*2 for bf16
// backward) plus 4 floats per token, instead of T*V*4.
//
// Precision (the M1 FP32-head ladder):
//   kIeeeFp32      x, w fp32; cuBLAS SGEMM with TF32 disabled (IEEE FP32, the M1 recipe).
//   kTf32          x, w fp32; cuBLAS with CUBLAS_COMPUTE_32F_FAST_TF32.
//   kBf16Fp32Out   x, w bf16; bf16 tensor cores, fp32 accumulate, fp32 logits.
// Raw pointers + cuBLAS handle + stream; the handle must be bound to `stream` by the caller.
#ifndef M1RL_KERNELS_CUDA_LM_HEAD_H_
#define M1RL_KERNELS_CUDA_LM_HEAD_H_

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace m1rl::cuda {

enum class HeadGemmPrecision { kIeeeFp32, kTf32, kBf16Fp32Out };

struct HeadForwardArgs {
  const void* x = nullptr;           // [T, H] fp32, or bf16 for kBf16Fp32Out
  const void* w = nullptr;           // [V, H] same dtype as x
  const int64_t* targets = nullptr;  // [T] device, each in [0, V)
  int64_t num_tokens = 0, hidden = 0, vocab = 0;
  float inv_temperature = 1.0f;
  int64_t chunk = 8192;  // vocabulary columns per GEMM tile
  HeadGemmPrecision precision = HeadGemmPrecision::kIeeeFp32;
  float* workspace = nullptr;  // >= HeadWorkspaceFloats(T, chunk) floats
  float* logprobs = nullptr;   // [T] out
  float* entropy = nullptr;    // [T] out, or null
  float* lse = nullptr;        // [T] out (log-sum-exp of z, for the backward), or null
};

// Floats of workspace the forward needs: T*chunk (logit tile) + 4*T (statistics).
inline int64_t HeadWorkspaceFloats(int64_t num_tokens, int64_t chunk) {
  return num_tokens * chunk + 4 * num_tokens;
}

cudaError_t HeadLogProbsForward(cublasHandle_t handle, const HeadForwardArgs& args, cudaStream_t stream);

// Backward of sum_t grad_t * logprob_t:  dz = grad (onehot - softmax(z)) * inv_temperature;
// dx = dz W (fp32 [T,H], overwritten); dw = dz^T x (fp32 [V,H], overwritten). Needs the forward's lse.
struct HeadBackwardArgs {
  const void* x = nullptr;
  const void* w = nullptr;
  const int64_t* targets = nullptr;
  const float* grad = nullptr;  // [T]
  const float* lse = nullptr;   // [T] from the forward
  int64_t num_tokens = 0, hidden = 0, vocab = 0;
  float inv_temperature = 1.0f;
  int64_t chunk = 8192;
  HeadGemmPrecision precision = HeadGemmPrecision::kIeeeFp32;
  float* workspace = nullptr;  // >= T*chunk floats, plus T*chunk/2 more for kBf16Fp32Out
  float* dx = nullptr;         // [T, H] fp32
  float* dw = nullptr;         // [V, H] fp32
};
cudaError_t HeadLogProbsBackward(cublasHandle_t handle, const HeadBackwardArgs& args, cudaStream_t stream);

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_LM_HEAD_H_
