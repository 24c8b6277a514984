#include "rollout/slot_pool.h"

#include <gtest/gtest.h>

namespace m1rl::rollout {
namespace {

TEST(SlotPoolTest, HandsOutLowestFreeSlotsAndReusesReleasedOnes) {
  SlotPool pool(3, /*budget_bytes=*/0);
  EXPECT_EQ(pool.Acquire(10), 0);
  EXPECT_EQ(pool.Acquire(10), 1);
  EXPECT_EQ(pool.Acquire(10), 2);
  EXPECT_EQ(pool.Acquire(10), std::nullopt);  // all slots held
  EXPECT_EQ(pool.num_used(), 3);
  pool.Release(1);
  EXPECT_FALSE(pool.held(1));
  EXPECT_EQ(pool.Acquire(5), 1);  // the released slot, not a new one
  pool.Release(0);
  pool.Release(2);
  EXPECT_EQ(pool.Acquire(5), 0);
  EXPECT_EQ(pool.reserved_bytes(), 10);  // slots 0 and 1, 5 bytes each
  EXPECT_EQ(pool.peak_reserved_bytes(), 30);
  EXPECT_EQ(pool.budget_waits(), 0);
}

TEST(SlotPoolTest, BudgetLimitsAdmissionButAnEmptyPoolAlwaysAdmits) {
  SlotPool pool(4, /*budget_bytes=*/100);
  EXPECT_EQ(pool.Acquire(150), 0);  // larger than the budget, admitted alone
  EXPECT_EQ(pool.Acquire(1), std::nullopt);
  EXPECT_EQ(pool.budget_waits(), 1);
  pool.Release(0);
  EXPECT_EQ(pool.Acquire(60), 0);
  EXPECT_EQ(pool.Acquire(40), 1);  // exactly at the budget
  EXPECT_EQ(pool.Acquire(1), std::nullopt);
  EXPECT_EQ(pool.Acquire(1, /*ignore_budget=*/true), 2);
  EXPECT_EQ(pool.reserved_bytes(), 101);
  EXPECT_EQ(pool.budget_waits(), 2);
  pool.Release(0);
  EXPECT_EQ(pool.Acquire(59), 0);  // 41 + 59 = 100
  EXPECT_EQ(pool.reserved_bytes(), 100);
}

TEST(SlotPoolTest, ReserveChangesAHeldSlotsReservation) {
  SlotPool pool(2, /*budget_bytes=*/100);
  EXPECT_EQ(pool.Acquire(30), 0);
  pool.Reserve(0, 90);
  EXPECT_EQ(pool.reserved_bytes(), 90);
  EXPECT_EQ(pool.Acquire(20), std::nullopt);  // 110 > 100
  pool.Reserve(0, 70);
  EXPECT_EQ(pool.Acquire(20), 1);
  EXPECT_EQ(pool.peak_reserved_bytes(), 90);
  pool.Release(0);
  pool.Release(1);
  EXPECT_EQ(pool.reserved_bytes(), 0);
}

}  // namespace
}  // namespace m1rl::rollout
