#include "algorithms/loss_agg.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

namespace m1rl::algorithms {

int64_t TokenCounts::num_tokens() const { return tokens_per_sequence.sum().item<int64_t>(); }
int64_t TokenCounts::num_sequences() const { return tokens_per_sequence.gt(0).sum().item<int64_t>(); }
int64_t TokenCounts::num_groups() const { return tokens_per_group.gt(0).sum().item<int64_t>(); }

void TokenCounts::Add(const TokenCounts& other) {
  TORCH_CHECK(tokens_per_sequence.sizes() == other.tokens_per_sequence.sizes() &&
                  tokens_per_group.sizes() == other.tokens_per_group.sizes(),
              "TokenCounts::Add: expected equal sizes, got [", tokens_per_sequence.numel(), ", ",
              tokens_per_group.numel(), "] and [", other.tokens_per_sequence.numel(), ", ",
              other.tokens_per_group.numel(), "]");
  tokens_per_sequence = tokens_per_sequence + other.tokens_per_sequence;
  tokens_per_group = tokens_per_group + other.tokens_per_group;
}

at::Tensor TokenCounts::Pack() const { return at::cat({tokens_per_sequence, tokens_per_group}); }

TokenCounts TokenCounts::Unpack(const at::Tensor& packed, int64_t num_sequences) {
  TORCH_CHECK(packed.dim() == 1 && packed.scalar_type() == at::kLong,
              "TokenCounts::Unpack: expected [S+G] int64");
  TORCH_CHECK(num_sequences >= 0 && num_sequences <= packed.numel(),
              "TokenCounts::Unpack: expected S <= ", packed.numel(), ", got ", num_sequences);
  return TokenCounts{packed.slice(0, 0, num_sequences).clone(),
                     packed.slice(0, num_sequences, packed.numel()).clone()};
}

namespace {

void CheckIds(const at::Tensor& mask, const at::Tensor& ids, int64_t bound, const char* what) {
  TORCH_CHECK(ids.dim() == 1 && ids.sizes() == mask.sizes(), "expected ", what, " of shape ", mask.sizes(),
              ", got ", ids.sizes());
  TORCH_CHECK(ids.scalar_type() == at::kLong, "expected ", what, " int64, got ", ids.scalar_type());
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>();
    const int64_t hi = ids.max().item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < bound, "expected ", what, " in [0, ", bound, "), got range [", lo, ", ", hi,
                "]");
  }
}

void CheckMask(const at::Tensor& mask) {
  TORCH_CHECK(mask.dim() == 1, "expected mask [N], got ", mask.sizes());
  TORCH_CHECK(mask.scalar_type() == at::kBool, "expected mask bool, got ", mask.scalar_type());
}

}  // namespace

TokenCounts CountLossTokens(const at::Tensor& mask, const at::Tensor& sequence_ids,
                            const at::Tensor& group_ids, int64_t num_sequences, int64_t num_groups) {
  CheckMask(mask);
  CheckIds(mask, sequence_ids, num_sequences, "sequence_ids");
  CheckIds(mask, group_ids, num_groups, "group_ids");
  const auto opts = sequence_ids.options().dtype(at::kLong);
  const at::Tensor seq = sequence_ids.masked_select(mask);
  const at::Tensor grp = group_ids.masked_select(mask);
  TokenCounts counts;
  counts.tokens_per_sequence = at::zeros({num_sequences}, opts).index_add_(0, seq, at::ones_like(seq));
  counts.tokens_per_group = at::zeros({num_groups}, opts).index_add_(0, grp, at::ones_like(grp));
  return counts;
}

at::Tensor LossCoefficients(LossAgg agg, const at::Tensor& mask, const at::Tensor& sequence_ids,
                            const at::Tensor& group_ids, const TokenCounts& global_counts,
                            int64_t generation_budget, c10::ScalarType dtype) {
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "LossCoefficients: expected float32|float64, got ",
              dtype);
  CheckMask(mask);
  const int64_t num_seq_total = global_counts.tokens_per_sequence.numel();
  const int64_t num_grp_total = global_counts.tokens_per_group.numel();
  CheckIds(mask, sequence_ids, num_seq_total, "sequence_ids");
  CheckIds(mask, group_ids, num_grp_total, "group_ids");
  // Per-token denominator in float64; positions with v = 0 get 1 so no 0 or inf is ever formed there.
  at::Tensor denom;
  switch (agg) {
    case LossAgg::kTokenMean: {
      const int64_t n_tok = global_counts.num_tokens();
      TORCH_CHECK(n_tok > 0 || !mask.any().item<bool>(), "LossCoefficients: global N_tok is 0");
      denom = at::ones(mask.sizes(), mask.options().dtype(at::kDouble)) * static_cast<double>(n_tok);
      break;
    }
    case LossAgg::kSeqMeanTokenMean: {
      const at::Tensor n_i = global_counts.tokens_per_sequence.index_select(0, sequence_ids).to(at::kDouble);
      denom = n_i * static_cast<double>(global_counts.num_sequences());
      break;
    }
    case LossAgg::kGroupTokenMean: {
      const at::Tensor t_g = global_counts.tokens_per_group.index_select(0, group_ids).to(at::kDouble);
      denom = t_g * static_cast<double>(global_counts.num_groups());
      break;
    }
    case LossAgg::kSeqMeanTokenSumNorm: {
      TORCH_CHECK(generation_budget > 0,
                  "LossCoefficients: seq_mean_token_sum_norm needs generation_budget > 0, got ",
                  generation_budget);
      denom = at::ones(mask.sizes(), mask.options().dtype(at::kDouble)) *
              (static_cast<double>(global_counts.num_sequences()) * static_cast<double>(generation_budget));
      break;
    }
  }
  TORCH_CHECK(
      !(mask & denom.le(0)).any().item<bool>(),
      "LossCoefficients: a v=1 token has a zero global count (global counts must include this micro-batch)");
  const at::Tensor safe = at::where(mask, denom, at::ones_like(denom));
  return at::where(mask, safe.reciprocal(), at::zeros_like(safe)).to(dtype);
}

}  // namespace m1rl::algorithms
