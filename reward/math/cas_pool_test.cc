#include "reward/math/cas_pool.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace m1rl::reward::math {
namespace {

using Kind = CasResult::Kind;

// A job GiNaC cannot finish quickly: expanding a 6-variable polynomial to the 40th power has
// C(46, 6) ~ 9.4 million terms.
CasJob Pathological() {
  return {CasJob::Op::kEqual, 7, "(a + b + c + d + f + g)^{40}", "(a + b + c + d + f + g + 1)^{40}"};
}

TEST(CasPoolTest, RunsJobs) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto pool, CasPool::Create({.num_workers = 1, .memory_limit_mb = 1024}));
  CheckContext ctx;
  CasResult r = pool->Run({CasJob::Op::kEqual, 1, "(x + 1)^{2}", "x^{2} + 2 \\cdot x + 1"}, ctx);
  EXPECT_EQ(r.kind, Kind::kEqual) << r.detail;
  EXPECT_EQ(pool->restarts(), 0);
}

TEST(CasPoolTest, DeadlineKillsWorkerAndReturnsPromptly) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto pool, CasPool::Create({.num_workers = 1, .memory_limit_mb = 1024}));
  CheckContext ctx;
  ctx.deadline = Clock::now() + std::chrono::milliseconds(100);
  auto t0 = Clock::now();
  CasResult r = pool->Run(Pathological(), ctx);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_EQ(r.kind, Kind::kTimeout);
  // 100 ms budget + one 20 ms poll slice + kill/respawn; 1 s leaves room for a loaded CI machine.
  EXPECT_LT(ms, 1000);
  EXPECT_EQ(pool->restarts(), 1);
  // The respawned worker serves the next job.
  CheckContext ctx2;
  EXPECT_EQ(pool->Run({CasJob::Op::kEqual, 1, "\\sqrt{4}", "2"}, ctx2).kind, Kind::kEqual);
}

TEST(CasPoolTest, CancellationKillsWorker) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto pool, CasPool::Create({.num_workers = 1, .memory_limit_mb = 1024}));
  std::atomic<bool> cancel{false};
  CheckContext ctx;
  ctx.cancelled = &cancel;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel = true;
  });
  CasResult r = pool->Run(Pathological(), ctx);
  t.join();
  EXPECT_EQ(r.kind, Kind::kCancelled);
}

TEST(CasPoolTest, WaitingForABusyPoolHonoursTheDeadline) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto pool, CasPool::Create({.num_workers = 1, .memory_limit_mb = 1024}));
  CheckContext slow;
  slow.deadline = Clock::now() + std::chrono::milliseconds(400);
  std::thread t([&] { pool->Run(Pathological(), slow); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CheckContext quick;
  quick.deadline = Clock::now() + std::chrono::milliseconds(50);
  CasResult r = pool->Run({CasJob::Op::kEqual, 1, "1", "1"}, quick);
  t.join();
  EXPECT_EQ(r.kind, Kind::kTimeout);
  EXPECT_NE(r.detail.find("waiting"), std::string::npos) << r.detail;
}

TEST(CasPoolTest, ManyThreads) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto pool, CasPool::Create({.num_workers = 2, .memory_limit_mb = 1024}));
  std::atomic<int> equal{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      CheckContext ctx;
      ctx.deadline = Clock::now() + std::chrono::seconds(20);
      for (int k = 0; k < 5; ++k) {
        std::string n = std::to_string(i * 10 + k);
        CasResult r = pool->Run({CasJob::Op::kEqual, 1, "(x + " + n + ")^{2}",
                                 "x^{2} + 2 \\cdot " + n + " \\cdot x + " + n + "^{2}"},
                                ctx);
        if (r.kind == Kind::kEqual) ++equal;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(equal.load(), 40);
}

TEST(CasPoolTest, MemoryLimitMakesAJobTooComplexNotACrash) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator aborts under RLIMIT_AS instead of throwing std::bad_alloc";
#endif
  // 16 MiB over the parent's size; (x+y+z+w+1)^{60} expands to C(64, 4) = 635,376 terms with bignum
  // coefficients, far more than 16 MiB of GiNaC objects.
  M1RL_ASSERT_OK_AND_ASSIGN(auto pool, CasPool::Create({.num_workers = 1, .memory_limit_mb = 16}));
  CheckContext ctx;
  ctx.deadline = Clock::now() + std::chrono::seconds(20);
  CasResult r = pool->Run({CasJob::Op::kEqual, 3, "(x + y + z + w + 1)^{60}", "(x + y + z + w)^{60}"}, ctx);
  EXPECT_EQ(r.kind, Kind::kTooComplex) << static_cast<int>(r.kind) << " " << r.detail;
  EXPECT_EQ(pool->restarts(), 1);  // replaced, not reused
  // The pool keeps serving.
  EXPECT_EQ(pool->Run({CasJob::Op::kEqual, 1, "\\sqrt{4}", "2"}, ctx).kind, Kind::kEqual);
}

TEST(CasPoolTest, RejectsBadOptions) {
  EXPECT_THAT(
      CasPool::Create({.num_workers = 0, .memory_limit_mb = 0}),
      m1rl::testing::StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("num_workers")));
}

}  // namespace
}  // namespace m1rl::reward::math
