// Loss aggregation (ALGORITHMS.md §2.5): the per-token coefficient c of L = -sum c * w * A * l.
//
// Counts are over the GLOBAL minibatch (one optimizer step: all micro-batches, all DP ranks):
//   n_i = tokens with v = 1 of sequence i, T_g = sum_{i in g} n_i, N_tok = sum n_i,
//   N_seq = #{n_i > 0}, N_grp = #{T_g > 0}.
//
//   loss_agg                 c_{i,t}
//   seq_mean_token_mean      1 / (N_seq * n_i)          GRPO
//   token_mean               1 / N_tok                  DAPO / CISPO (verl)
//   group_token_mean         1 / (N_grp * T_g)          literal per-group Eq. 4
//   seq_mean_token_sum_norm  1 / (N_seq * L_gen)        Dr.GRPO, L_gen = algorithm.generation_budget
//
// Protocol (trainer), before the first forward of a minibatch:
//   TokenCounts counts = CountLossTokens(mask_mb0, seq_ids_mb0, group_ids_mb0, S, G);  // per micro-batch
//   counts.Add(CountLossTokens(...mb1...)); ...                                          // local sum
//   at::Tensor packed = counts.Pack();  all_reduce(packed, SUM);  counts = TokenCounts::Unpack(packed, S);
//   for each micro-batch: coef = LossCoefficients(agg, mask, seq_ids, group_ids, counts, L_gen, dtype);
//     loss = ComputePolicyLoss(...coef...).loss;  loss.backward();   // a SUM, never a local mean
// DP gradient reduction must be a SUM. Then the gradient does not depend on the micro-batch split or the
// DP size (up to summation order).
//
// Ids: sequence_ids and group_ids are dense indices of the whole minibatch (identical on every rank),
// sequence ids in [0, S), group ids in [0, G); every token of a sequence carries the same group id.
#ifndef M1RL_ALGORITHMS_LOSS_AGG_H_
#define M1RL_ALGORITHMS_LOSS_AGG_H_

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>

#include "algorithms/params.h"  // LossAgg, LossAggName

namespace m1rl::algorithms {

// Loss-token counts per sequence and per group. Local after CountLossTokens, global after the
// all-reduce.
struct TokenCounts {
  at::Tensor tokens_per_sequence;  // [S] int64, n_i
  at::Tensor tokens_per_group;     // [G] int64, T_g

  int64_t num_tokens() const;     // N_tok
  int64_t num_sequences() const;  // N_seq (sequences with n_i > 0)
  int64_t num_groups() const;     // N_grp (groups with T_g > 0)

  // Adds another micro-batch's counts (same S and G).
  void Add(const TokenCounts& other);
  // [S + G] int64: one buffer for a single integer all-reduce(SUM).
  at::Tensor Pack() const;
  // Inverse of Pack. REQUIRES: packed is [S + G] int64, 0 <= num_sequences <= packed.numel().
  static TokenCounts Unpack(const at::Tensor& packed, int64_t num_sequences);
};

// Counts v = 1 tokens of one micro-batch.
//   mask:         [N] bool, v
//   sequence_ids: [N] int64 in [0, num_sequences)
//   group_ids:    [N] int64 in [0, num_groups)
// Returns counts on mask's device. TORCH_CHECK on shape/dtype/range errors.
TokenCounts CountLossTokens(const at::Tensor& mask, const at::Tensor& sequence_ids,
                            const at::Tensor& group_ids, int64_t num_sequences, int64_t num_groups);

// Per-token coefficient c for one micro-batch from GLOBAL counts.
//   mask, sequence_ids, group_ids: as CountLossTokens.
//   global_counts: the all-reduced counts (must include this micro-batch's tokens).
//   generation_budget: L_gen, used by seq_mean_token_sum_norm only (> 0 there).
//   dtype: kFloat or kDouble.
// Returns c [N] dtype, exactly 0 where v = 0. Computed in float64, then cast.
// TORCH_CHECK if a v = 1 token's sequence/group has a global count of 0 (counts do not cover the batch).
at::Tensor LossCoefficients(LossAgg agg, const at::Tensor& mask, const at::Tensor& sequence_ids,
                            const at::Tensor& group_ids, const TokenCounts& global_counts,
                            int64_t generation_budget, c10::ScalarType dtype);

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_LOSS_AGG_H_
