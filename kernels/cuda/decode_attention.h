// Softmax-attention decode over slotted KV caches (rollout, MODEL.md §5 and §8): one new query token per
// sequence attends over its slot's cached keys 0..positions[b] (the new token's key included, appended first
// by KvCacheAppend). Lengths are read from device memory, so the launch shape depends only on the cache
// capacity: a CUDA graph captured once serves every step. Raw pointers + stream, cudaError_t (S3); the CPU
// reference is kernels/reference/decode.h (reference::DecodeAttention).
//
// Layouts (io_type elements, last dim contiguous):
//   q, out [B, H, d]; k_new, v_new [B, N_kv, d]; k_cache, v_cache [num_slots, max_tokens, N_kv, d].
// Query head h reads kv head h / (H / N_kv) (GQA). Scores q·k·scale, softmax and the weighted sum of V in
// fp32. Split-K: the keys are cut into `num_splits` ranges of ceil(max_tokens / num_splits) keys, each range
// reduced into `partial` (fp32 [B, H, num_splits, d + 2]: max, sum, acc[d]) and merged by a second kernel, so
// long contexts fill the chip at small batch. One block per (sequence, kv head, range) serves all H / N_kv
// query heads of its group, so every cached key and value row is read from memory once per step.
#ifndef M1RL_KERNELS_CUDA_DECODE_ATTENTION_H_
#define M1RL_KERNELS_CUDA_DECODE_ATTENTION_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/lightning_attention.h"  // IoType

namespace m1rl::cuda {

struct KvCacheAppendArgs {
  const void* k_new = nullptr;  // [B, N_kv, d] contiguous
  const void* v_new = nullptr;  // [B, N_kv, d] contiguous
  void* k_cache = nullptr;      // [num_slots, max_tokens, N_kv, d]
  void* v_cache = nullptr;
  const int32_t* slots = nullptr;      // [B]
  const int64_t* positions = nullptr;  // [B] row written (< max_tokens)
  int64_t batch = 0, num_kv_heads = 0, head_dim = 0, max_tokens = 0;
  IoType io_type = IoType::kBF16;
};
cudaError_t KvCacheAppend(const KvCacheAppendArgs& args, cudaStream_t stream);

struct DecodeAttentionArgs {
  const void* q = nullptr;  // [B, H, d] contiguous
  const void* k_cache = nullptr;
  const void* v_cache = nullptr;
  const int32_t* slots = nullptr;      // [B]
  const int64_t* positions = nullptr;  // [B] attends over keys 0..positions[b]
  int64_t batch = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0, max_tokens = 0;
  float scale = 1.0f;
  int64_t num_splits = 1;    // see DecodeAttentionSplits
  float* partial = nullptr;  // [B, H, num_splits, d + 2] fp32 scratch
  void* out = nullptr;       // [B, H, d] contiguous
  IoType io_type = IoType::kBF16;
};
// Split count used for a cache of `max_tokens` rows (depends on nothing else).
int64_t DecodeAttentionSplits(int64_t max_tokens);
// REQUIRES head_dim <= 256 (even for bf16), H a multiple of N_kv.
cudaError_t DecodeAttention(const DecodeAttentionArgs& args, cudaStream_t stream);

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_DECODE_ATTENTION_H_
