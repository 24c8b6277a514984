// The fused slot sampler's CPU reference (kernels/reference/sampling.h) through ops::SampleSlots on CPU
// tensors: Philox against its published known answers, the sampled distribution against the host sampler's
// (rollout/sampler.h) definition by a chi-square test, the behaviour log-prob, and every stop rule.
#include "kernels/reference/sampling.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "kernels/cuda/philox.h"
#include "kernels/cuda/sampling_args.h"
#include "kernels/ops.h"
#include "kernels/testing/sampling_testing.h"

namespace m1rl::ops {
namespace {

using testing_sampling::ChiSquareCritical;
using testing_sampling::ExpectedProbs;
using testing_sampling::SlotBatch;

TEST(PhiloxTest, MatchesRandom123KnownAnswers) {
  // Random123 kat_vectors: philox4x32 10 rounds.
  const cuda::Philox4x32 zero = cuda::Philox4x32_10(0, 0, 0, 0, 0, 0);
  EXPECT_EQ(zero.v[0], 0x6627e8d5u);
  EXPECT_EQ(zero.v[1], 0xe169c58du);
  EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.v[3], 0x9b00dbd8u);
  const cuda::Philox4x32 ones =
      cuda::Philox4x32_10(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(ones.v[0], 0x408f276du);
  EXPECT_EQ(ones.v[1], 0x41c83b0eu);
  EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.v[3], 0x6d5451fdu);
  const cuda::Philox4x32 pi =
      cuda::Philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(pi.v[0], 0xd16cfe09u);
  EXPECT_EQ(pi.v[1], 0x94fdccebu);
  EXPECT_EQ(pi.v[2], 0x5001e420u);
  EXPECT_EQ(pi.v[3], 0x24126ea1u);
  const double u = cuda::PhiloxUniform(7, 3, 11);
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
  EXPECT_NE(u, cuda::PhiloxUniform(7, 3, 12));
  EXPECT_NE(u, cuda::PhiloxUniform(7, 4, 11));
}

struct FilterCase {
  double temperature;
  int32_t top_k;
  double top_p;
};

class ReferenceDistributionTest : public ::testing::TestWithParam<FilterCase> {};

TEST_P(ReferenceDistributionTest, ChiSquareAgainstHostSamplerDefinition) {
  const FilterCase fc = GetParam();
  const std::vector<float> row = testing_sampling::FixedLogitsRow();
  const int64_t draws = 100000;
  SlotBatch b = SlotBatch::SameRow(row, draws, at::Device(at::kCPU));
  for (int64_t i = 0; i < draws; ++i) {
    cuda::SlotSamplingParams& p = b.params[i];
    p.seed = 2024;
    p.stream = static_cast<uint64_t>(i);
    p.inv_temperature = 1.0 / fc.temperature;
    p.top_k = fc.top_k;
    p.top_p = fc.top_p;
    p.max_new_tokens = 100;
    p.max_generated = 100;
  }
  b.Run(0.99, 0);
  const std::vector<double> expected = ExpectedProbs(row, fc.temperature, fc.top_k, fc.top_p);
  std::vector<int64_t> counts(row.size(), 0);
  for (int32_t t : b.OutTokens()) {
    ASSERT_GE(t, 0);
    ++counts[t];
  }
  double chi2 = 0.0;
  int df = -1;
  for (size_t i = 0; i < row.size(); ++i) {
    if (expected[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " is outside the candidate set";
      continue;
    }
    const double e = expected[i] * draws;
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
    ++df;
  }
  EXPECT_LT(chi2, ChiSquareCritical(df)) << "df " << df;
}

INSTANTIATE_TEST_SUITE_P(Filters, ReferenceDistributionTest,
                         ::testing::Values(FilterCase{1.0, 0, 1.0}, FilterCase{0.7, 0, 1.0},
                                           FilterCase{1.0, 5, 1.0}, FilterCase{1.3, 0, 0.8},
                                           FilterCase{0.9, 12, 0.9}));

TEST(ReferenceSamplerTest, LogProbIsTheFullTemperedDistributionsAndGreedyIsArgmax) {
  const std::vector<float> row = testing_sampling::FixedLogitsRow();
  SlotBatch b = SlotBatch::SameRow(row, 2, at::Device(at::kCPU));
  b.params[0].inv_temperature = 1.0 / 0.5;
  b.params[0].greedy = 1;
  b.params[1].inv_temperature = 1.0 / 0.5;
  b.params[1].top_k = 2;
  for (auto& p : b.params) p.max_new_tokens = p.max_generated = 10;
  b.Run(0.99, 0);
  const std::vector<double> full = ExpectedProbs(row, 0.5, 0, 1.0);
  const int32_t argmax = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
  EXPECT_EQ(b.OutTokens()[0], argmax);
  for (int r = 0; r < 2; ++r) {
    const int32_t t = b.OutTokens()[r];
    EXPECT_NEAR(b.OutLogprobs()[r], std::log(full[t]), 1e-6) << r;
    EXPECT_EQ(b.NextToken(r), t);
    EXPECT_EQ(b.Length(r), 1);  // advance_length 1 from 0
  }
}

TEST(ReferenceSamplerTest, RepetitionCounterStopsExactlyAtN) {
  // One token holds p > 0.99: every draw extends the run; N = 7 stops at the 7th token, not before.
  std::vector<float> row(50, 0.0f);
  row[13] = 20.0f;
  SlotBatch b = SlotBatch::SameRow(row, 1, at::Device(at::kCPU));
  b.params[0].max_new_tokens = b.params[0].max_generated = 1000;
  for (int step = 1; step <= 7; ++step) {
    b.Run(0.99, 7);
    EXPECT_EQ(b.OutTokens()[0], 13);
    EXPECT_EQ(b.OutStops()[0], step < 7 ? cuda::kStopNone : cuda::kStopRepetition) << step;
    EXPECT_EQ(b.State(0).rep_run, step);
  }
  b.Run(0.99, 7);  // a stopped slot is skipped
  EXPECT_EQ(b.OutTokens()[0], -1);
  EXPECT_EQ(b.State(0).generated, 7);
}

TEST(ReferenceSamplerTest, StopRulesInOrderEosLengthContext) {
  std::vector<float> row(8, 0.0f);
  row[3] = 30.0f;  // greedy picks 3
  SlotBatch b = SlotBatch::SameRow(row, 3, at::Device(at::kCPU));
  for (auto& p : b.params) {
    p.greedy = 1;
    p.max_new_tokens = 100;
    p.max_generated = 100;
  }
  b.params[0].max_new_tokens = 1;  // LENGTH
  b.params[1].max_generated = 1;   // CONTEXT
  b.params[2].max_new_tokens = 1;  // LENGTH wins over CONTEXT
  b.params[2].max_generated = 1;
  b.Run(0.99, 0);
  EXPECT_EQ(b.OutStops()[0], cuda::kStopLength);
  EXPECT_EQ(b.OutStops()[1], cuda::kStopContext);
  EXPECT_EQ(b.OutStops()[2], cuda::kStopLength);
  b.Run(0.99, 0);  // stopped slots are skipped
  EXPECT_EQ(b.OutTokens(), std::vector<int32_t>({-1, -1, -1}));

  SlotBatch e = SlotBatch::SameRow(row, 1, at::Device(at::kCPU));
  e.params[0].greedy = 1;
  e.params[0].max_new_tokens = 1;  // EOS wins over LENGTH and REPETITION
  e.params[0].max_generated = 100;
  e.eos = {5, 3};
  e.Run(0.5, 1);
  EXPECT_EQ(e.OutStops()[0], cuda::kStopEos);
  EXPECT_EQ(e.OutTokens()[0], 3);
}

TEST(ReferenceSamplerTest, NonFiniteLogitsAreAnError) {
  std::vector<float> row(8, 0.0f);
  row[5] = std::nanf("");
  SlotBatch b = SlotBatch::SameRow(row, 1, at::Device(at::kCPU));
  b.Run(0.99, 0);
  EXPECT_EQ(b.OutStops()[0], cuda::kStopError);
  EXPECT_EQ(b.OutTokens()[0], -1);
}

}  // namespace
}  // namespace m1rl::ops
