#include "reward/sandbox/pool.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward::sandbox {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using Clock = SandboxPool::Clock;

std::unique_ptr<SandboxPool> MakePool(int slots, int queue) {
  config::SandboxConfig config;
  config.set_slots(slots);
  config.set_queue_capacity(queue);
  absl::StatusOr<SandboxOptions> options = ResolveSandboxOptions(config);
  EXPECT_TRUE(options.ok()) << options.status();
  absl::StatusOr<std::unique_ptr<SandboxPool>> pool = SandboxPool::Create(*options);
  EXPECT_TRUE(pool.ok()) << pool.status();
  return pool.ok() ? std::move(*pool) : nullptr;
}

RunSpec Sleep(double seconds, int64_t wall_ms) {
  RunSpec spec;
  spec.argv = {"/bin/sleep", std::to_string(seconds)};
  spec.limits.wall_ms = wall_ms;
  return spec;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

TEST(SandboxPoolTest, FullQueueIsRefusedAtOnce) {
  std::unique_ptr<SandboxPool> pool = MakePool(1, 1);
  ASSERT_NE(pool, nullptr);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  std::thread running([&] { EXPECT_TRUE(pool->Run(Sleep(0.6, 2000), deadline).ok()); });
  while (pool->Stats().running == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread queued([&] { EXPECT_TRUE(pool->Run(Sleep(0.1, 2000), deadline).ok()); });
  while (pool->Stats().queued == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto start = Clock::now();
  EXPECT_THAT(
      pool->Run(Sleep(0.1, 2000), deadline).status(),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("queue full (1 waiting); retry after")));
  EXPECT_LT(Ms(Clock::now() - start), 50.0);
  running.join();
  queued.join();
  const PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.runs, 2);
  EXPECT_EQ(stats.rejected_queue_full, 1);
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(stats.queued, 0);
}

TEST(SandboxPoolTest, DeadlineInQueueAndDuringTheRun) {
  std::unique_ptr<SandboxPool> pool = MakePool(1, 4);
  ASSERT_NE(pool, nullptr);
  std::thread running(
      [&] { EXPECT_TRUE(pool->Run(Sleep(0.8, 2000), Clock::now() + std::chrono::seconds(5)).ok()); });
  while (pool->Stats().running == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto start = Clock::now();
  EXPECT_THAT(pool->Run(Sleep(0.1, 2000), start + std::chrono::milliseconds(200)).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("no free slot")));
  EXPECT_GE(Ms(Clock::now() - start), 200.0);
  EXPECT_LT(Ms(Clock::now() - start), 400.0);
  running.join();
  start = Clock::now();
  EXPECT_THAT(pool->Run(Sleep(10, 5000), start + std::chrono::milliseconds(300)).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("killed at the caller's deadline")));
  EXPECT_LT(Ms(Clock::now() - start), 300.0 + 1000.0);
  EXPECT_EQ(pool->Stats().expired_in_queue, 1);
}

// Saturation (REWARDS.md §4 checklist 10, bounded to ~3 s): 2x the slots in callers for a fixed time; no
// call hangs and every call returns within its wall limit + 1 s of slack (p99 and max).
TEST(SandboxPoolTest, SaturationAtTwiceThePoolReturnsWithinLimitPlusSlack) {
  constexpr int kSlots = 2;
  constexpr int64_t kWallMs = 600;
  constexpr double kSlackMs = 1000.0;
  std::unique_ptr<SandboxPool> pool = MakePool(kSlots, kSlots / 2);  // 4 callers, 2 slots, 1 queue place
  ASSERT_NE(pool, nullptr);
  const auto stop = Clock::now() + std::chrono::seconds(3);
  std::vector<std::vector<double>> latencies(size_t{2} * kSlots);
  std::atomic<int> ok{0}, exhausted{0}, expired{0}, other{0};
  std::vector<std::thread> callers;
  callers.reserve(size_t{2} * kSlots);
  for (int c = 0; c < 2 * kSlots; ++c) {
    callers.emplace_back([&, c] {
      while (Clock::now() < stop) {
        const auto start = Clock::now();
        // Each call's budget is its wall limit: queue time included (REWARDS.md §7 deadlines).
        absl::StatusOr<RunResult> r =
            pool->Run(Sleep(c % 2 == 0 ? 0.15 : 5.0, kWallMs), start + std::chrono::milliseconds(kWallMs));
        latencies[c].push_back(Ms(Clock::now() - start));
        if (r.ok()) {
          ++ok;
        } else if (r.status().code() == absl::StatusCode::kResourceExhausted) {
          ++exhausted;
          std::this_thread::sleep_for(std::chrono::milliseconds(pool->retry_after_ms()));
        } else if (r.status().code() == absl::StatusCode::kDeadlineExceeded) {
          ++expired;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& t : callers) t.join();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  ASSERT_GE(all.size(), 8u);
  std::sort(all.begin(), all.end());
  const double p99 = all[static_cast<size_t>(0.99 * static_cast<double>(all.size() - 1))];
  EXPECT_LE(p99, kWallMs + kSlackMs);
  EXPECT_LE(all.back(), kWallMs + kSlackMs);
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(expired.load(), 0);    // the 5 s sleepers are cut at their deadline
  EXPECT_GT(exhausted.load(), 0);  // the 4th caller finds the queue full
  EXPECT_EQ(other.load(), 0);
  const PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(stats.queued, 0);
  std::cout << "saturation: calls=" << all.size() << " ok=" << ok << " exhausted=" << exhausted
            << " deadline=" << expired << " p50_ms=" << all[all.size() / 2] << " p99_ms=" << p99
            << " max_ms=" << all.back() << "\n";
}

}  // namespace
}  // namespace m1rl::reward::sandbox
