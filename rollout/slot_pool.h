// Admission control of the rollout's slot path: a fixed number of sequence slots (device-resident states, see
// model::DecodePool) and a byte budget over the reservations of the slots in use.
//
//   SlotPool pool(/*num_slots=*/64, /*budget_bytes=*/8 << 30);
//   if (std::optional<int32_t> slot = pool.Acquire(bytes)) { ... pool.Release(*slot); }
//
// Acquire hands out the lowest free slot index (so reuse is deterministic) and reserves `bytes` against the
// budget. It refuses when every slot is taken, or when the reservation would push the total over the budget
// while some slot is in use; an empty pool always admits (one sequence larger than the whole budget still
// runs, alone, as the per-sequence engine path does). Thread safety: none.
#ifndef M1RL_ROLLOUT_SLOT_POOL_H_
#define M1RL_ROLLOUT_SLOT_POOL_H_

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace m1rl::rollout {

class SlotPool {
 public:
  // REQUIRES num_slots >= 1, budget_bytes >= 0 (0 = unlimited).
  SlotPool(int32_t num_slots, int64_t budget_bytes);

  // A free slot with `bytes` (>= 0) reserved, or nullopt (see the file comment). `ignore_budget` admits
  // regardless of the budget (the engine passes true when no sequence is decoding, so a held prompt prefix
  // cannot block its own samples forever).
  std::optional<int32_t> Acquire(int64_t bytes, bool ignore_budget = false);
  // Returns a held slot and its reservation. REQUIRES `slot` held.
  void Release(int32_t slot);
  // Changes a held slot's reservation to `bytes` (a prompt prefix taken over by its last sample); allowed
  // even over the budget, since the memory is already in use.
  void Reserve(int32_t slot, int64_t bytes);

  bool held(int32_t slot) const { return reserved_[slot] >= 0; }
  int32_t num_slots() const { return static_cast<int32_t>(reserved_.size()); }
  int32_t num_used() const { return num_slots() - static_cast<int32_t>(free_.size()); }
  int64_t reserved_bytes() const { return total_; }
  int64_t peak_reserved_bytes() const { return peak_; }
  // Acquire calls refused by the budget while a slot was free.
  int64_t budget_waits() const { return budget_waits_; }

 private:
  int64_t budget_;
  std::vector<int64_t> reserved_;  // [num_slots] bytes reserved, -1 = free
  std::set<int32_t> free_;
  int64_t total_ = 0;
  int64_t peak_ = 0;
  int64_t budget_waits_ = 0;
};

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_SLOT_POOL_H_
