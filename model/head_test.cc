#include "model/head.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <gtest/gtest.h>

#include "model/internal/counting_allocator.h"

namespace m1rl::model {
namespace {

using internal::ScopedCountingAllocator;

// The chunked head never holds [T, V]: measured extra bytes stay within the head.h formula (which counts
// every [T, c], [c, H], [T, H] temporary alive at once, plus dW) and far below T·V·4.
TEST(HeadMemoryTest, PeakWithinFormulaMeasuredByCountingAllocator) {
  const int64_t t = 512, v = 8192, h = 64, chunk = 512;
  at::Tensor hidden = at::randn({t, h}).requires_grad_(true);
  at::Tensor weight = (at::randn({v, h}) * 0.1).requires_grad_(true);
  const at::Tensor targets = at::randint(v, {t}, at::TensorOptions().dtype(at::kLong));
  int64_t fwd_extra = 0, bwd_extra = 0;
  {
    // Memory allocated before the allocator is installed (inputs) is freed through its own deleter.
    ScopedCountingAllocator counting;
    counting->ResetPeak();
    const int64_t base = counting->live();
    HeadOutput out = ChunkedLogProbs(hidden, weight, targets, 1.0, HeadPrecision::kIeeeFp32, chunk, true);
    fwd_extra = counting->peak() - base;
    counting->ResetPeak();
    const int64_t base2 = counting->live();
    (out.logprobs.sum() + out.entropy.sum()).backward();
    bwd_extra = counting->peak() - base2;
  }
  const HeadPeakBytes formula = HeadPeakMemory(t, v, h, 4, chunk);
  std::printf(
      "head T=%ld V=%ld H=%ld c=%ld: forward peak %ld B (formula %ld), backward %ld B (formula %ld), "
      "full logits %ld B\n",
      static_cast<long>(t), static_cast<long>(v), static_cast<long>(h), static_cast<long>(chunk),
      static_cast<long>(fwd_extra), static_cast<long>(formula.forward), static_cast<long>(bwd_extra),
      static_cast<long>(formula.backward), static_cast<long>(formula.full_logits));
  EXPECT_GT(fwd_extra, 0);
  EXPECT_LE(fwd_extra, formula.forward);
  EXPECT_LE(bwd_extra, formula.backward);
  EXPECT_LT(fwd_extra, formula.full_logits / 3);
}

}  // namespace
}  // namespace m1rl::model
