// CUDA slot-decode kernels against their CPU references through kernels/ops (label cuda; skipped without a
// device): the fused sampler (same tokens, log-probs, stops and state as reference::SampleSlots on random
// rows; its distribution by a chi-square test of 10^5 draws; the repetition counter), decode attention over
// slotted KV caches, KV append and the lightning state-pool update.
#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cuda/sampling_args.h"
#include "kernels/ops.h"
#include "kernels/testing/sampling_testing.h"

namespace m1rl::ops {
namespace {

using testing_sampling::ChiSquareCritical;
using testing_sampling::ExpectedProbs;
using testing_sampling::SlotBatch;

bool HaveCuda() { return at::hasCUDA(); }

const at::Device kCuda(at::kCUDA, 0);

TEST(CudaSampleSlotsTest, MatchesReferenceOnRandomRows) {
  if (!HaveCuda()) GTEST_SKIP() << "no CUDA device";
  std::mt19937 gen(7);
  for (int64_t vocab : {1, 37, 1000, 32000}) {
    const int64_t rows = 48;
    std::normal_distribution<float> normal(0.0f, 3.0f);
    SlotBatch cpu = SlotBatch::SameRow(std::vector<float>(vocab, 0.0f), rows, at::Device(at::kCPU));
    for (float& z : cpu.logits) z = normal(gen);
    for (int64_t r = 0; r < rows; ++r) {
      cuda::SlotSamplingParams& p = cpu.params[r];
      p.seed = 99 + r;
      p.stream = r % 3;
      p.inv_temperature = 1.0 / (0.5 + 0.1 * (r % 7));
      p.top_k = (r % 4 == 1) ? static_cast<int32_t>(1 + r % 50) : 0;
      p.top_p = (r % 5 == 2) ? 0.3 + 0.1 * (r % 6) : 1.0;
      p.greedy = r % 11 == 0;
      p.max_new_tokens = 3;
      p.max_generated = 100;
      cpu.state[r].generated = static_cast<int32_t>(r % 2);
    }
    cpu.eos = {0};
    SlotBatch dev = cpu;
    dev.device = kCuda;
    for (int step = 0; step < 3; ++step) {
      cpu.Run(0.5, 2);
      dev.Run(0.5, 2);
      SCOPED_TRACE(::testing::Message() << "vocab " << vocab << " step " << step);
      EXPECT_EQ(cpu.OutTokens(), dev.OutTokens());
      EXPECT_EQ(cpu.OutStops(), dev.OutStops());
      EXPECT_EQ(cpu.next_token, dev.next_token);
      EXPECT_EQ(cpu.length, dev.length);
      for (int64_t r = 0; r < rows; ++r) {
        EXPECT_NEAR(cpu.OutLogprobs()[r], dev.OutLogprobs()[r], 1e-6) << r;
        EXPECT_EQ(cpu.State(r).rep_run, dev.State(r).rep_run) << r;
        EXPECT_EQ(cpu.State(r).generated, dev.State(r).generated) << r;
      }
    }
  }
}

TEST(CudaSampleSlotsTest, ChiSquareAgainstHostSamplerDefinition) {
  if (!HaveCuda()) GTEST_SKIP() << "no CUDA device";
  const std::vector<float> row = testing_sampling::FixedLogitsRow();
  struct Case {
    double temperature;
    int32_t top_k;
    double top_p;
  };
  for (const Case fc :
       {Case{1.0, 0, 1.0}, Case{0.7, 0, 1.0}, Case{1.0, 5, 1.0}, Case{1.3, 0, 0.8}, Case{0.9, 12, 0.9}}) {
    const int64_t draws = 100000;
    SlotBatch b = SlotBatch::SameRow(row, draws, kCuda);
    for (int64_t i = 0; i < draws; ++i) {
      cuda::SlotSamplingParams& p = b.params[i];
      p.seed = 31337;
      p.stream = static_cast<uint64_t>(i);
      p.inv_temperature = 1.0 / fc.temperature;
      p.top_k = fc.top_k;
      p.top_p = fc.top_p;
      p.max_new_tokens = p.max_generated = 10;
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
        EXPECT_EQ(counts[i], 0) << "token " << i;
        continue;
      }
      const double e = expected[i] * draws;
      chi2 += (counts[i] - e) * (counts[i] - e) / e;
      ++df;
    }
    EXPECT_LT(chi2, ChiSquareCritical(df))
        << "T " << fc.temperature << " k " << fc.top_k << " p " << fc.top_p;
  }
}

TEST(CudaSampleSlotsTest, RepetitionCounterStopsExactlyAtN) {
  if (!HaveCuda()) GTEST_SKIP() << "no CUDA device";
  std::vector<float> row(1000, 0.0f);
  row[613] = 25.0f;
  SlotBatch b = SlotBatch::SameRow(row, 1, kCuda);
  b.params[0].max_new_tokens = b.params[0].max_generated = 100000;
  for (int step = 1; step <= 40; ++step) {
    b.Run(0.99, 40);
    ASSERT_EQ(b.OutTokens()[0], 613);
    ASSERT_EQ(b.OutStops()[0], step < 40 ? cuda::kStopNone : cuda::kStopRepetition) << step;
  }
  b.Run(0.99, 40);
  EXPECT_EQ(b.OutTokens()[0], -1);
}

// Max |a - b| / max |b|.
double RelErr(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor bd = b.to(at::kDouble).cpu();
  return (a.to(at::kDouble).cpu() - bd).abs().max().item<double>() / bd.abs().max().item<double>();
}

// One (heads, kv heads, head_dim) shape: append then attend on the device vs the float64 reference.
void CheckAppendAndAttend(int64_t heads, int64_t kv, int64_t dim) {
  for (at::ScalarType dt : {at::kFloat, at::kBFloat16}) {
    const int64_t slots = 6, max_tokens = 3000, b = 4;
    const auto opts = at::TensorOptions().dtype(dt);
    at::Tensor kc = at::randn({slots, max_tokens, kv, dim}, opts),
               vc = at::randn({slots, max_tokens, kv, dim}, opts);
    const at::Tensor k_new = at::randn({b, kv, dim}, opts), v_new = at::randn({b, kv, dim}, opts);
    const at::Tensor q = at::randn({b, heads, dim}, opts);
    const at::Tensor slot_idx = at::tensor(std::vector<int32_t>{4, 0, 2, 5});
    // Positions on a tile edge (63, 64) and a split edge (255), the first and the last row.
    const at::Tensor pos = at::tensor(std::vector<int64_t>{0, 63, 2999, 255});
    at::Tensor kc_d = kc.to(kCuda), vc_d = vc.to(kCuda);
    KvCacheAppend(k_new, v_new, kc, vc, slot_idx, pos);
    KvCacheAppend(k_new.to(kCuda), v_new.to(kCuda), kc_d, vc_d, slot_idx.to(kCuda), pos.to(kCuda));
    EXPECT_TRUE(kc_d.cpu().equal(kc));
    EXPECT_TRUE(vc_d.cpu().equal(vc));
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
    const at::Tensor ref =
        DecodeAttention(q.to(at::kDouble), kc.to(at::kDouble), vc.to(at::kDouble), slot_idx, pos, scale);
    const at::Tensor out = DecodeAttention(q.to(kCuda), kc_d, vc_d, slot_idx.to(kCuda), pos.to(kCuda), scale);
    // fp32: softmax over <= 3000 keys in fp32, ~1e-6; bf16: output rounding 2^-9.
    EXPECT_LT(RelErr(out, ref), dt == at::kFloat ? 1e-5 : 8e-3)
        << dt << " heads " << heads << " kv " << kv << " dim " << dim;
  }
}

TEST(CudaSlotDecodeTest, AppendAndAttendMatchReference) {
  if (!HaveCuda()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(3);
  CheckAppendAndAttend(8, 2, 64);    // groups of 4
  CheckAppendAndAttend(4, 4, 128);   // no grouping
  CheckAppendAndAttend(16, 2, 128);  // groups of 8
  CheckAppendAndAttend(8, 1, 256);   // one kv head, the widest head: > 48 KiB of shared memory
  CheckAppendAndAttend(6, 3, 96);
}

TEST(CudaSlotDecodeTest, LightningStatePoolMatchesReference) {
  if (!HaveCuda()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(5);
  const int64_t slots = 5, heads = 4, dim = 64, b = 3;
  at::Tensor pool = at::randn({slots, heads, dim, dim});
  const at::Tensor q = at::rand({b, heads, dim}), k = at::rand({b, heads, dim}),
                   v = at::rand({b, heads, dim});
  const at::Tensor decay = at::tensor(std::vector<float>{0.5f, 0.1f, 0.01f, 0.001f});
  const at::Tensor slot_idx = at::tensor(std::vector<int32_t>{3, 1, 4});
  at::Tensor pool_d = pool.to(kCuda);
  const at::Tensor ref = LightningDecodeSlots(q, k, v, decay, pool, slot_idx);
  const at::Tensor out = LightningDecodeSlots(q.to(kCuda), k.to(kCuda), v.to(kCuda), decay.to(kCuda), pool_d,
                                              slot_idx.to(kCuda));
  EXPECT_LT(RelErr(out, ref), 1e-5);
  EXPECT_LT(RelErr(pool_d, pool), 1e-6);
}

}  // namespace
}  // namespace m1rl::ops
