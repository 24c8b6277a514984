#include "rollout/slot_pool.h"

#include <algorithm>

#include "common/check.h"

namespace m1rl::rollout {

SlotPool::SlotPool(int32_t num_slots, int64_t budget_bytes)
    : budget_(budget_bytes), reserved_(std::max(num_slots, 0), -1) {
  M1RL_CHECK_GE(num_slots, 1);
  M1RL_CHECK_GE(budget_bytes, 0);
  for (int32_t s = 0; s < num_slots; ++s) free_.insert(s);
}

std::optional<int32_t> SlotPool::Acquire(int64_t bytes, bool ignore_budget) {
  M1RL_CHECK_GE(bytes, 0);
  if (free_.empty()) return std::nullopt;
  if (!ignore_budget && budget_ > 0 && num_used() > 0 && total_ + bytes > budget_) {
    ++budget_waits_;
    return std::nullopt;
  }
  const int32_t slot = *free_.begin();
  free_.erase(free_.begin());
  reserved_[slot] = bytes;
  total_ += bytes;
  peak_ = std::max(peak_, total_);
  return slot;
}

void SlotPool::Release(int32_t slot) {
  M1RL_CHECK(slot >= 0 && slot < num_slots() && held(slot));
  total_ -= reserved_[slot];
  reserved_[slot] = -1;
  free_.insert(slot);
}

void SlotPool::Reserve(int32_t slot, int64_t bytes) {
  M1RL_CHECK(slot >= 0 && slot < num_slots() && held(slot));
  M1RL_CHECK_GE(bytes, 0);
  total_ += bytes - reserved_[slot];
  reserved_[slot] = bytes;
  peak_ = std::max(peak_, total_);
}

}  // namespace m1rl::rollout
