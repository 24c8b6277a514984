// The LM head (MODEL.md §7): log-probs and entropy of softmax(logits / temperature) computed in vocabulary
// chunks, so that a full [T, V] logits tensor is never alive, forward or backward.
//
// Memory (e = bytes of the compute dtype, 4 for fp32; c = chunk columns):
//   forward extra  ≈ 3·T·c·e (chunk logits, exp, exp·z) + c·H·e (a cast/rounded weight chunk, only when
//                    the weight is not already in the compute dtype or the precision rounds it)
//                    + T·H·e (rounded hidden, reduced precisions only) + 4·T·e (running max, Σexp, Σexp·z,
//                    target logit);
//   backward extra ≤ 6·T·c·e (z, p, dz updated in place, the exp temporary, the oneDNN operand copies of
//                    dzᵀ; measured 3.6·T·c·e on LibTorch 1.13, 5.5 on 2.11) + c·H·e + T·H·e (dX)
//                    + V·H·e (dW, the weight gradient).
// The auto chunk keeps one [T, c] tensor at ≤ 64 MiB. For M1 (T 4096, V 200,064, H 6144, fp32) c = 4096:
// forward ≈ 3·64 MiB + 96 MiB = 288 MiB (vs 3.28 GB for full logits), backward ≤ 6·64 MiB + 96 MiB
// + 96 MiB + 4.92 GB (dW). HeadPeakMemory() evaluates the formula.
#ifndef M1RL_MODEL_HEAD_H_
#define M1RL_MODEL_HEAD_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "model/config.h"

namespace m1rl::model {

inline constexpr int64_t kHeadChunkBytes = int64_t{64} << 20;

struct HeadOutput {
  at::Tensor logprobs;  // [T] compute dtype
  at::Tensor entropy;   // [T] compute dtype, undefined unless requested
};

// Columns per vocabulary chunk: `requested` if > 0, else the largest c with T·c·elem_bytes ≤ 64 MiB,
// clamped to [1, V].
int64_t HeadChunkSize(int64_t num_tokens, int64_t vocab, int64_t elem_bytes, int64_t requested);

struct HeadPeakBytes {
  int64_t forward = 0;      // extra bytes alive at the forward peak (formula in the header comment)
  int64_t backward = 0;     // extra bytes alive at the backward peak, including dW
  int64_t full_logits = 0;  // T·V·e, what an unchunked head would hold
};
HeadPeakBytes HeadPeakMemory(int64_t num_tokens, int64_t vocab, int64_t hidden, int64_t elem_bytes,
                             int64_t chunk);

// The operand as the head GEMM of `precision` sees it, in x's dtype: unchanged for kIeeeFp32; mantissa
// rounded to 10 bits (TF32, round to nearest) for kTf32; rounded through bfloat16 for kBf16Fp32Out/kBf16.
at::Tensor RoundHeadOperand(const at::Tensor& x, HeadPrecision precision);

// Differentiable in hidden and weight (custom backward recomputes each chunk; nothing [T, V] is saved).
// z = τ⁻¹·(hidden·weightᵀ) under `precision`; logprobs = z[target] − logsumexp(z); entropy = lse − Σ p·z.
// REQUIRES: hidden [T, H] fp32 or fp64; weight [V, H]; targets [T] int64 in [0, V); inv_temperature > 0.
HeadOutput ChunkedLogProbs(const at::Tensor& hidden,   // [T, H] compute dtype
                           const at::Tensor& weight,   // [V, H] any float dtype
                           const at::Tensor& targets,  // [T] int64
                           double inv_temperature, HeadPrecision precision, int64_t chunk,
                           bool compute_entropy);

// Raw logits hidden·weightᵀ under `precision`, [B, V] in hidden's dtype (for decode; B is small).
at::Tensor HeadLogits(const at::Tensor& hidden,  // [B, H] compute dtype
                      const at::Tensor& weight,  // [V, H]
                      HeadPrecision precision);

}  // namespace m1rl::model

#endif  // M1RL_MODEL_HEAD_H_
