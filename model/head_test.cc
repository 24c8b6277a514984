#include "model/head.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace m1rl::model {
namespace {

// Counts live and peak bytes of every CPU allocation made through c10 while installed (raw-compatible:
// data == context, so oneDNN's raw_allocate path works too).
class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* base) : base_(base) { instance_ = this; }

  // LibTorch 1.13 declares allocate() const, 2.x non-const: define both (no `override`, so each build
  // overrides the one its base declares).
  c10::DataPtr allocate(size_t n) const { return Allocate(n); }
  c10::DataPtr allocate(size_t n) { return Allocate(n); }
  c10::DeleterFnPtr raw_deleter() const { return &Delete; }
  // Pure virtual in newer LibTorch; harmless elsewhere.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  void ResetPeak() { peak_.store(live_.load()); }
  int64_t live() const { return live_.load(); }
  int64_t peak() const { return peak_.load(); }

 private:
  c10::DataPtr Allocate(size_t n) const {
    void* p = base_->raw_allocate(n);
    {
      std::lock_guard<std::mutex> lock(mu_);
      sizes_[p] = n;
    }
    const int64_t live = live_.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    int64_t peak = peak_.load();
    while (live > peak && !peak_.compare_exchange_weak(peak, live)) {
    }
    return {p, p, &Delete, c10::Device(c10::DeviceType::CPU)};
  }

  static void Delete(void* p) {
    CountingAllocator* self = instance_;
    size_t n = 0;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      auto it = self->sizes_.find(p);
      if (it != self->sizes_.end()) {
        n = it->second;
        self->sizes_.erase(it);
      }
    }
    self->live_.fetch_sub(static_cast<int64_t>(n));
    self->base_->raw_deallocate(p);
  }

  static inline CountingAllocator* instance_ = nullptr;
  c10::Allocator* base_;
  mutable std::mutex mu_;
  mutable std::unordered_map<void*, size_t> sizes_;
  mutable std::atomic<int64_t> live_{0};
  mutable std::atomic<int64_t> peak_{0};
};

// The chunked head never holds [T, V]: measured extra bytes stay within the head.h formula (which counts
// every [T, c], [c, H], [T, H] temporary alive at once, plus dW) and far below T·V·4.
TEST(HeadMemoryTest, PeakWithinFormulaMeasuredByCountingAllocator) {
  const int64_t t = 512, v = 8192, h = 64, chunk = 512;
  at::Tensor hidden = at::randn({t, h}).requires_grad_(true);
  at::Tensor weight = (at::randn({v, h}) * 0.1).requires_grad_(true);
  const at::Tensor targets = at::randint(v, {t}, at::TensorOptions().dtype(at::kLong));
  c10::Allocator* original = c10::GetCPUAllocator();
  // Memory allocated before the allocator is installed (inputs) is freed through its own deleter; memory
  // allocated while installed (e.g. the .grad of the inputs) may be freed after the test, so the allocator
  // lives until exit.
  static CountingAllocator* const counting = [] {
    static CountingAllocator a(c10::GetDefaultCPUAllocator());
    return &a;
  }();
  c10::SetCPUAllocator(counting, /*priority=*/0);
  int64_t fwd_extra = 0, bwd_extra = 0;
  {
    counting->ResetPeak();
    const int64_t base = counting->live();
    HeadOutput out = ChunkedLogProbs(hidden, weight, targets, 1.0, HeadPrecision::kIeeeFp32, chunk, true);
    fwd_extra = counting->peak() - base;
    counting->ResetPeak();
    const int64_t base2 = counting->live();
    (out.logprobs.sum() + out.entropy.sum()).backward();
    bwd_extra = counting->peak() - base2;
  }
  c10::SetCPUAllocator(original, /*priority=*/0);
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
