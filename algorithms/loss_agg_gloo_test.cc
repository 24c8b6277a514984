// Tests the loss-aggregation protocol of algorithms/loss_agg.h over 2 real data-parallel ranks.
// Covers ALGORITHMS.md §10 V4 (Gloo variant) and §8 pitfall 6: V3's batch on 2 ranks (threads, each with
// its own c10d ProcessGroupGloo over one shared HashStore), rank 0 holding sequences {0}, {1} and rank 1
// holding {2, 3} as micro-batches. Counts: one int64 all-reduce(SUM) of the packed local counts; loss per
// micro-batch a SUM with global c; gradients all-reduce(SUM). The reduced gradient equals the
// single-process unsplit gradient for all four loss_agg modes, and the reduced PolicyStats (SUM, MIN, MAX)
// finalise to the unsplit metrics.
// c10d headers include ATen/ATen.h, so this test is a TORCH_FRONTEND target (S33). A LibTorch without the
// Gloo headers (the PyTorch wheel on the GPU host ships none) compiles the test as a skip.
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <array>
#include <string>
#include <thread>
#include <vector>
#if __has_include(<gloo/algorithm.h>)
#define M1RL_ALGORITHMS_HAVE_GLOO 1
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

#include "algorithms/internal/test_util.h"
#include "algorithms/internal/v3_batch.h"
#include "algorithms/loss_agg.h"
#include "algorithms/policy_loss.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

#ifdef M1RL_ALGORITHMS_HAVE_GLOO

using testing::BoolVec;
using testing::LongVec;
using testing::ToVector;
using testing::Vec;

PolicyLossParams Params() {
  PolicyLossParams p;
  p.is_enabled = true;
  p.is_high = 1.2;
  return p;
}

struct RankOutput {
  std::vector<double> grad;
  PolicyMetrics metrics;
};

// Runs the micro-batches (lists of sequences) of one rank. `pg` null means a single process (no reduce).
RankOutput RunRank(LossAgg agg, const std::vector<std::vector<int>>& micro_batches,
                   c10d::ProcessGroupGloo* pg) {
  const testing::V3Batch b = testing::MakeV3Batch();
  const at::Tensor mask = BoolVec(b.mask), seq = LongVec(b.seq), grp = LongVec(b.grp);
  std::vector<at::Tensor> idx;
  for (const auto& mb : micro_batches) {
    std::vector<int64_t> pos;
    for (int s : mb) pos.insert(pos.end(), b.positions_of_seq[s].begin(), b.positions_of_seq[s].end());
    idx.push_back(LongVec(pos));
  }
  // Local counts over this rank's micro-batches, then one integer all-reduce(SUM).
  TokenCounts counts = CountLossTokens(mask.index_select(0, idx[0]), seq.index_select(0, idx[0]),
                                       grp.index_select(0, idx[0]), 4, 2);
  for (size_t k = 1; k < idx.size(); ++k) {
    counts.Add(CountLossTokens(mask.index_select(0, idx[k]), seq.index_select(0, idx[k]),
                               grp.index_select(0, idx[k]), 4, 2));
  }
  std::vector<at::Tensor> packed = {counts.Pack()};
  if (pg != nullptr) pg->allreduce(packed)->wait();
  const TokenCounts global = TokenCounts::Unpack(packed[0], 4);

  at::Tensor leaf = Vec(b.logprobs).requires_grad_(true);
  PolicyStats stats;
  for (const at::Tensor& i : idx) {
    const at::Tensor m = mask.index_select(0, i), s = seq.index_select(0, i), g = grp.index_select(0, i);
    PolicyLossInputs in;
    in.logprobs = leaf.index_select(0, i);
    in.old_logprobs = Vec(b.old_logprobs).index_select(0, i);
    in.advantages = Vec(b.adv).index_select(0, i);
    in.mask = m;
    in.coef = LossCoefficients(agg, m, s, g, global, 16, at::kDouble);
    const PolicyLossResult out = ComputePolicyLoss(Params(), in);
    out.loss.backward();
    stats.Accumulate(out.stats);
  }
  std::vector<at::Tensor> grad = {leaf.grad().clone()};
  if (pg != nullptr) {
    pg->allreduce(grad)->wait();  // DP gradient reduction is a SUM
    const std::array<double, PolicyStats::kNumSums> sums = stats.Sums();
    std::vector<at::Tensor> t = {Vec(std::vector<double>(sums.begin(), sums.end()))};
    pg->allreduce(t)->wait();
    std::vector<at::Tensor> lo = {Vec({stats.ratio_min})}, hi = {Vec({stats.ratio_max})};
    c10d::AllreduceOptions min_opts, max_opts;
    min_opts.reduceOp = c10d::ReduceOp::MIN;
    max_opts.reduceOp = c10d::ReduceOp::MAX;
    pg->allreduce(lo, min_opts)->wait();
    pg->allreduce(hi, max_opts)->wait();
    const std::vector<double> reduced = ToVector(t[0]);
    std::array<double, PolicyStats::kNumSums> arr{};
    std::copy(reduced.begin(), reduced.end(), arr.begin());
    stats.SetSums(arr);
    stats.ratio_min = lo[0].item<double>();
    stats.ratio_max = hi[0].item<double>();
  }
  return {ToVector(grad[0]), stats.Finalize()};
}

TEST(LossAggGlooTest, V4TwoRanksGiveTheUnsplitGradientAndMetrics) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  const std::vector<std::vector<std::vector<int>>> rank_batches = {{{0}, {1}}, {{2, 3}}};
  for (LossAgg agg : {LossAgg::kTokenMean, LossAgg::kSeqMeanTokenMean, LossAgg::kGroupTokenMean,
                      LossAgg::kSeqMeanTokenSumNorm}) {
    SCOPED_TRACE(LossAggName(agg));
    const RankOutput whole = RunRank(agg, {{0, 1, 2, 3}}, nullptr);
    std::array<RankOutput, 2> out;
    std::vector<std::thread> threads;
    for (int rank = 0; rank < 2; ++rank) {
      threads.emplace_back([&, rank] {
        auto opts = c10d::ProcessGroupGloo::Options::create();
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        auto prefixed = c10::make_intrusive<c10d::PrefixStore>(std::string(LossAggName(agg)), store);
        c10d::ProcessGroupGloo pg(prefixed, rank, 2, opts);
        out[rank] = RunRank(agg, rank_batches[rank], &pg);
      });
    }
    for (auto& t : threads) t.join();
    for (int rank = 0; rank < 2; ++rank) {
      ASSERT_EQ(out[rank].grad.size(), whole.grad.size());
      // Each position's gradient is produced on one rank and added to exact zeros on the other.
      for (size_t i = 0; i < whole.grad.size(); ++i)
        EXPECT_NEAR(out[rank].grad[i], whole.grad[i], 1e-15) << i;
      EXPECT_EQ(out[rank].metrics.num_tokens, 20);
      EXPECT_NEAR(out[rank].metrics.ratio_mean, whole.metrics.ratio_mean, 1e-15);
      EXPECT_EQ(out[rank].metrics.ratio_min, whole.metrics.ratio_min);
      EXPECT_EQ(out[rank].metrics.ratio_max, whole.metrics.ratio_max);
      EXPECT_EQ(out[rank].metrics.is_clip_high_frac, whole.metrics.is_clip_high_frac);
      EXPECT_DOUBLE_EQ(out[rank].metrics.masked_fraction, 4.0 / 24);
    }
    EXPECT_GT(whole.metrics.is_clip_high_frac, 0);  // the fixture exercises the cap
  }
}

#else
TEST(LossAggGlooTest, V4TwoRanksGiveTheUnsplitGradientAndMetrics) {
  GTEST_SKIP() << "this LibTorch ships no Gloo headers (gloo/algorithm.h)";
}
#endif  // M1RL_ALGORITHMS_HAVE_GLOO

}  // namespace
}  // namespace m1rl::algorithms
