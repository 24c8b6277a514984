// Test utility: a c10 CPU allocator that counts live and peak bytes (memory claims in model tests are
// measured with it rather than estimated). Header-only; tests include it.
#ifndef M1RL_MODEL_INTERNAL_COUNTING_ALLOCATOR_H_
#define M1RL_MODEL_INTERNAL_COUNTING_ALLOCATOR_H_

#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace m1rl::model::internal {

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

// The process-wide instance, installed as the CPU allocator while a ScopedCountingAllocator lives. Memory
// allocated while installed may be freed after it is uninstalled, so the instance lives until exit.
inline CountingAllocator* GlobalCountingAllocator() {
  static CountingAllocator* const counting = [] {
    static CountingAllocator a(c10::GetDefaultCPUAllocator());
    return &a;
  }();
  return counting;
}

class ScopedCountingAllocator {
 public:
  ScopedCountingAllocator() : original_(c10::GetCPUAllocator()) {
    c10::SetCPUAllocator(GlobalCountingAllocator(), /*priority=*/0);
  }
  ~ScopedCountingAllocator() { c10::SetCPUAllocator(original_, /*priority=*/0); }
  ScopedCountingAllocator(const ScopedCountingAllocator&) = delete;
  ScopedCountingAllocator& operator=(const ScopedCountingAllocator&) = delete;
  CountingAllocator* operator->() const { return GlobalCountingAllocator(); }

 private:
  c10::Allocator* original_;
};

}  // namespace m1rl::model::internal

#endif  // M1RL_MODEL_INTERNAL_COUNTING_ALLOCATOR_H_
