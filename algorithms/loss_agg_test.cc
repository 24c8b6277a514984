// Tests for algorithms/loss_agg.h.
// Covers ALGORITHMS.md §2.5, §10 V3 (groups with lengths {3,5} and {2,10}: c under all four loss_agg;
// group_token_mean != token_mean) and V4 / §8 pitfall 6 (V3's batch split 1+3 and 2+2 into micro-batches,
// and over simulated DP ranks whose counts are summed as the all-reduce would: gradients equal the
// unsplit batch; local counts would not). The real 2-rank Gloo variant is loss_agg_gloo_test.cc.
#include "algorithms/loss_agg.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/zeros_like.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "algorithms/internal/test_util.h"
#include "algorithms/internal/v3_batch.h"
#include "algorithms/policy_loss.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

using ::m1rl::testing::StatusIs;
using testing::BoolVec;
using ::testing::HasSubstr;
using testing::LongVec;
using testing::ToVector;
using testing::Vec;

using Batch = testing::V3Batch;
Batch MakeBatch() { return testing::MakeV3Batch(); }

// Expected c per sequence, by hand: N_tok = 20, N_seq = 4, N_grp = 2, T = {8, 12}.
const std::vector<double> kSeqMean = {1.0 / 12, 1.0 / 20, 1.0 / 8, 1.0 / 40};  // 1/(4 n_i)
const std::vector<double> kTokenMean = {1.0 / 20, 1.0 / 20, 1.0 / 20, 1.0 / 20};
const std::vector<double> kGroupTokenMean = {1.0 / 16, 1.0 / 16, 1.0 / 24, 1.0 / 24};  // 1/(2 T_g)
const std::vector<double> kSumNorm = {1.0 / 64, 1.0 / 64, 1.0 / 64, 1.0 / 64};         // 1/(4 * 16)

TEST(LossAggTest, V3CountsAndCoefficients) {
  const Batch b = MakeBatch();
  const TokenCounts counts = CountLossTokens(BoolVec(b.mask), LongVec(b.seq), LongVec(b.grp), 4, 2);
  EXPECT_EQ(ToVector(counts.tokens_per_sequence), (std::vector<double>{3, 5, 2, 10}));
  EXPECT_EQ(ToVector(counts.tokens_per_group), (std::vector<double>{8, 12}));
  EXPECT_EQ(counts.num_tokens(), 20);
  EXPECT_EQ(counts.num_sequences(), 4);
  EXPECT_EQ(counts.num_groups(), 2);
  const struct {
    LossAgg agg;
    const std::vector<double>* per_seq;
  } cases[] = {{LossAgg::kSeqMeanTokenMean, &kSeqMean},
               {LossAgg::kTokenMean, &kTokenMean},
               {LossAgg::kGroupTokenMean, &kGroupTokenMean},
               {LossAgg::kSeqMeanTokenSumNorm, &kSumNorm}};
  for (const auto& k : cases) {
    const std::vector<double> c = ToVector(
        LossCoefficients(k.agg, BoolVec(b.mask), LongVec(b.seq), LongVec(b.grp), counts, 16, at::kDouble));
    for (size_t i = 0; i < c.size(); ++i) {
      const double want = b.mask[i] ? (*k.per_seq)[b.seq[i]] : 0.0;
      EXPECT_NEAR(c[i], want, 1e-15) << LossAggName(k.agg) << " position " << i;
    }
  }
  // group_token_mean differs from token_mean when the T_g differ (8 vs 12).
  EXPECT_NE(kGroupTokenMean[0], kTokenMean[0]);
}

TEST(LossAggTest, SequencesWithoutLossTokensDoNotCount) {
  // Sequence 1 fully masked: N_seq = 1, N_grp = 1.
  const TokenCounts counts =
      CountLossTokens(BoolVec({1, 1, 0, 0}), LongVec({0, 0, 1, 1}), LongVec({0, 0, 1, 1}), 2, 2);
  EXPECT_EQ(counts.num_sequences(), 1);
  EXPECT_EQ(counts.num_groups(), 1);
  const std::vector<double> c =
      ToVector(LossCoefficients(LossAgg::kSeqMeanTokenMean, BoolVec({1, 1, 0, 0}), LongVec({0, 0, 1, 1}),
                                LongVec({0, 0, 1, 1}), counts, 0, at::kFloat));
  EXPECT_EQ(c, (std::vector<double>{0.5, 0.5, 0, 0}));
}

TEST(LossAggTest, BadInputsThrow) {
  const TokenCounts counts = CountLossTokens(BoolVec({1, 1}), LongVec({0, 0}), LongVec({0, 0}), 1, 1);
  EXPECT_THROW(CountLossTokens(BoolVec({1, 1}), LongVec({0, 2}), LongVec({0, 0}), 2, 1), c10::Error);
  EXPECT_THROW(LossCoefficients(LossAgg::kSeqMeanTokenSumNorm, BoolVec({1, 1}), LongVec({0, 0}),
                                LongVec({0, 0}), counts, 0, at::kDouble),
               c10::Error);
  // Counts that do not include the micro-batch (a rank forgot the all-reduce).
  const TokenCounts other = CountLossTokens(BoolVec({0, 0}), LongVec({0, 0}), LongVec({0, 0}), 1, 1);
  EXPECT_THROW(LossCoefficients(LossAgg::kSeqMeanTokenMean, BoolVec({1, 1}), LongVec({0, 0}), LongVec({0, 0}),
                                other, 0, at::kDouble),
               c10::Error);
}

// Loss + gradient of the whole minibatch computed as the given micro-batches (lists of sequences),
// each micro-batch living on `rank_of_mb` rank; counts are summed over every micro-batch of every rank
// (the all-reduce), unless `local_counts`, which uses each micro-batch's own counts (the bug).
struct Result {
  std::vector<double> grad;
  double loss = 0;
};
Result RunSplit(LossAgg agg, const std::vector<std::vector<int>>& micro_batches, bool local_counts = false) {
  const Batch b = MakeBatch();
  const Batch& v = b;
  PolicyLossParams p;
  p.is_enabled = true;
  p.is_high = 1.2;  // some tokens capped
  at::Tensor leaf = Vec(v.logprobs).requires_grad_(true);
  std::vector<at::Tensor> idx;
  for (const auto& mb : micro_batches) {
    std::vector<int64_t> pos;
    for (int s : mb) pos.insert(pos.end(), b.positions_of_seq[s].begin(), b.positions_of_seq[s].end());
    idx.push_back(LongVec(pos));
  }
  const at::Tensor mask = BoolVec(b.mask), seq = LongVec(b.seq), grp = LongVec(b.grp);
  // One integer all-reduce(SUM) over packed local counts; here the "ranks" are summed in-process.
  at::Tensor packed;
  for (const at::Tensor& i : idx) {
    const at::Tensor local =
        CountLossTokens(mask.index_select(0, i), seq.index_select(0, i), grp.index_select(0, i), 4, 2).Pack();
    packed = packed.defined() ? packed + local : local;
  }
  const TokenCounts global = TokenCounts::Unpack(packed, 4);
  Result r;
  for (const at::Tensor& i : idx) {
    const at::Tensor m = mask.index_select(0, i), s = seq.index_select(0, i), g = grp.index_select(0, i);
    const TokenCounts counts = local_counts ? CountLossTokens(m, s, g, 4, 2) : global;
    PolicyLossInputs in;
    in.logprobs = leaf.index_select(0, i);
    in.old_logprobs = Vec(v.old_logprobs).index_select(0, i);
    in.advantages = Vec(v.adv).index_select(0, i);
    in.mask = m;
    in.coef = LossCoefficients(agg, m, s, g, counts, 16, at::kDouble);
    const PolicyLossResult out = ComputePolicyLoss(p, in);
    out.loss.backward();  // a SUM with global c: gradients accumulate in leaf.grad
    r.loss += out.loss.item<double>();
  }
  r.grad = ToVector(leaf.grad());
  return r;
}

TEST(LossAggTest, V4MicroBatchAndRankSplitsGiveTheUnsplitGradient) {
  for (LossAgg agg : {LossAgg::kTokenMean, LossAgg::kSeqMeanTokenMean, LossAgg::kGroupTokenMean,
                      LossAgg::kSeqMeanTokenSumNorm}) {
    SCOPED_TRACE(LossAggName(agg));
    const Result whole = RunSplit(agg, {{0, 1, 2, 3}});
    // 1+3 and 2+2 micro-batches; and 2 ranks x 2 micro-batches {0},{1} | {2},{3} (counts summed over all).
    for (const auto& split : std::vector<std::vector<std::vector<int>>>{
             {{0}, {1, 2, 3}}, {{0, 1}, {2, 3}}, {{0}, {1}, {2}, {3}}}) {
      const Result part = RunSplit(agg, split);
      ASSERT_EQ(part.grad.size(), whole.grad.size());
      // Each token's gradient comes from exactly one micro-batch; only the loss sums in another order
      // (4 terms of O(0.1): 1e-15).
      for (size_t i = 0; i < whole.grad.size(); ++i) EXPECT_NEAR(part.grad[i], whole.grad[i], 1e-15) << i;
      EXPECT_NEAR(part.loss, whole.loss, 1e-15);
    }
  }
  // Negative control (pitfall 6): per-micro-batch counts change the gradient.
  const Result whole = RunSplit(LossAgg::kTokenMean, {{0, 1, 2, 3}});
  const Result local = RunSplit(LossAgg::kTokenMean, {{0}, {1, 2, 3}}, /*local_counts=*/true);
  double max_diff = 0;
  for (size_t i = 0; i < whole.grad.size(); ++i)
    max_diff = std::max(max_diff, std::abs(local.grad[i] - whole.grad[i]));
  EXPECT_GT(max_diff, 1e-3);
}

TEST(LossAggTest, PackUnpackAndAdd) {
  const Batch b = MakeBatch();
  TokenCounts a = CountLossTokens(BoolVec(b.mask), LongVec(b.seq), LongVec(b.grp), 4, 2);
  const TokenCounts copy = TokenCounts::Unpack(a.Pack(), 4);
  EXPECT_EQ(ToVector(copy.tokens_per_sequence), ToVector(a.tokens_per_sequence));
  EXPECT_EQ(ToVector(copy.tokens_per_group), ToVector(a.tokens_per_group));
  a.Add(copy);
  EXPECT_EQ(a.num_tokens(), 40);
  EXPECT_EQ(ToVector(a.tokens_per_group), (std::vector<double>{16, 24}));
}

}  // namespace
}  // namespace m1rl::algorithms
