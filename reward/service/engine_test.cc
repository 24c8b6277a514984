#include "reward/service/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "common/testing/status_matchers.h"
#include "reward/service/testing/fake_verifiers.h"

namespace m1rl::reward {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using testing::FakeVerifier;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

rl::ScoreItem Item(std::string id, std::string domain, std::string response, std::string gold) {
  rl::ScoreItem item;
  item.set_item_id(std::move(id));
  item.set_domain(std::move(domain));
  item.set_response(std::move(response));
  item.set_gold(std::move(gold));
  return item;
}

// Collects callbacks; counts how often each index was answered.
class Collector {
 public:
  explicit Collector(size_t n) : results_(n), counts_(n, 0) {}
  ScoringEngine::ItemCallback Callback() {
    return [this](size_t i, rl::ScoreResult r) {
      std::lock_guard<std::mutex> lock(mu_);
      results_[i] = std::move(r);
      ++counts_[i];
      ++answered_;
      cv_.notify_all();
    };
  }
  // True if `n` answers arrived within `timeout`.
  bool WaitFor(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return answered_ >= n; });
  }
  rl::ScoreResult result(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return results_[i];
  }
  std::vector<int> counts() {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<rl::ScoreResult> results_;
  std::vector<int> counts_;
  size_t answered_ = 0;
};

struct Fixture {
  FakeVerifier* fake = nullptr;
  FakeVerifier* hang = nullptr;
  FakeVerifier* slow = nullptr;
  std::unique_ptr<ScoringEngine> engine;
};

Fixture MakeEngine(EngineOptions options) {
  Fixture f;
  auto registry = std::make_shared<VerifierRegistry>();
  auto fake = std::make_unique<FakeVerifier>(FakeVerifier::Options{});
  FakeVerifier::Options hang_options;
  hang_options.domain = "hang";
  hang_options.hang = true;
  auto hang = std::make_unique<FakeVerifier>(hang_options);
  FakeVerifier::Options slow_options;
  slow_options.domain = "slow";
  slow_options.sleep_ms = 50;
  auto slow = std::make_unique<FakeVerifier>(slow_options);
  f.fake = fake.get();
  f.hang = hang.get();
  f.slow = slow.get();
  EXPECT_TRUE(registry->Register(std::move(fake)).ok());
  EXPECT_TRUE(registry->Register(std::move(hang)).ok());
  EXPECT_TRUE(registry->Register(std::move(slow)).ok());
  auto engine = ScoringEngine::Create(registry, options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  f.engine = std::move(*engine);
  return f;
}

Clock::time_point In(std::chrono::milliseconds d) { return Clock::now() + d; }

TEST(ScoringEngineTest, CreateValidatesOptions) {
  auto registry = std::make_shared<VerifierRegistry>();
  EngineOptions bad;
  bad.num_workers = 0;
  EXPECT_THAT(
      ScoringEngine::Create(registry, bad).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("engine.num_workers must be >= 1, got 0")));
  bad = EngineOptions{};
  bad.queue_capacity = 0;
  EXPECT_THAT(ScoringEngine::Create(registry, bad).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("engine.queue_capacity")));
  EXPECT_THAT(ScoringEngine::Create(nullptr, EngineOptions{}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("registry is null")));
}

TEST(ScoringEngineTest, MalformedItemIsInvalidInputAndTheRestIsScored) {
  Fixture f = MakeEngine(EngineOptions{});
  std::vector<rl::ScoreItem> items = {Item("a", "fake", "1", "1"), Item("b", "nope", "1", "1"),
                                      Item("c", "fake", "2", "1"), Item("d", "", "1", "1")};
  rl::ScoreItem no_gold;
  no_gold.set_item_id("e");
  no_gold.set_domain("fake");
  no_gold.set_response("3");
  items.push_back(no_gold);
  Collector c(items.size());
  ASSERT_THAT(f.engine->Submit(items, In(5s), nullptr, c.Callback()), IsOk());
  ASSERT_TRUE(c.WaitFor(5, 5s));
  EXPECT_EQ(c.result(0).status(), rl::OK);
  EXPECT_EQ(c.result(0).verdict(), rl::CORRECT);
  EXPECT_EQ(c.result(0).item_id(), "a");
  EXPECT_EQ(c.result(1).status(), rl::INVALID_INPUT);
  EXPECT_THAT(c.result(1).details(), HasSubstr("unknown domain 'nope'"));
  EXPECT_EQ(c.result(2).status(), rl::OK);
  EXPECT_EQ(c.result(2).verdict(), rl::INCORRECT);
  EXPECT_EQ(c.result(3).status(), rl::INVALID_INPUT);
  EXPECT_EQ(c.result(3).details(), "item.domain is empty");
  // The verifier itself reports the missing gold.
  EXPECT_EQ(c.result(4).status(), rl::INVALID_INPUT);
  EXPECT_EQ(c.result(4).details(), "gold is empty");
  EXPECT_THAT(c.counts(), ::testing::Each(1));
}

TEST(ScoringEngineTest, HangingCheckTimesOutAndFreesTheWorker) {
  EngineOptions options;
  options.num_workers = 1;
  Fixture f = MakeEngine(options);
  Collector c(1);
  const auto start = Clock::now();
  ASSERT_THAT(f.engine->Submit({Item("h", "hang", "x", "y")}, In(100ms), nullptr, c.Callback()), IsOk());
  ASSERT_TRUE(c.WaitFor(1, 2s));
  const auto waited = Clock::now() - start;
  EXPECT_EQ(c.result(0).status(), rl::TIMEOUT);
  EXPECT_FALSE(c.result(0).retryable());
  // Answered at the deadline (100 ms), within the reaper period plus scheduling slack on 2 shared cores.
  EXPECT_GE(waited, 100ms);
  EXPECT_LT(waited, 1000ms);
  // The only worker is free again: the hanging check honoured ctx and returned.
  for (int i = 0; i < 200 && f.hang->running() > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(f.hang->running(), 0);
  Collector next(1);
  ASSERT_THAT(f.engine->Submit({Item("n", "fake", "1", "1")}, In(2s), nullptr, next.Callback()), IsOk());
  ASSERT_TRUE(next.WaitFor(1, 2s));
  EXPECT_EQ(next.result(0).status(), rl::OK);
  EXPECT_EQ(f.engine->Info().timeouts(), 1);
}

TEST(ScoringEngineTest, ItemDeadlineIsTheMinimumOfItemAndCall) {
  Fixture f = MakeEngine(EngineOptions{});
  rl::ScoreItem item = Item("h", "hang", "x", "y");
  item.set_deadline_ms(50);
  Collector c(1);
  const auto start = Clock::now();
  ASSERT_THAT(f.engine->Submit({item}, In(10s), nullptr, c.Callback()), IsOk());
  ASSERT_TRUE(c.WaitFor(1, 2s));
  EXPECT_EQ(c.result(0).status(), rl::TIMEOUT);
  EXPECT_LT(Clock::now() - start, 1000ms);
}

TEST(ScoringEngineTest, CancelStopsRunningAndQueuedChecks) {
  EngineOptions options;
  options.num_workers = 1;
  Fixture f = MakeEngine(options);
  auto call = std::make_shared<CallHandle>();
  Collector c(2);
  ASSERT_THAT(f.engine->Submit({Item("r", "hang", "a", "y"), Item("q", "hang", "b", "y")}, In(30s), call,
                               c.Callback()),
              IsOk());
  for (int i = 0; i < 200 && f.hang->running() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(f.hang->running(), 1);
  call->Cancel();
  ASSERT_TRUE(c.WaitFor(2, 2s));
  EXPECT_EQ(c.result(0).status(), rl::CANCELLED);
  EXPECT_EQ(c.result(1).status(), rl::CANCELLED);
  for (int i = 0; i < 200 && f.hang->running() > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(f.hang->running(), 0);
  EXPECT_EQ(f.hang->calls(), 1);  // the queued one never ran
  EXPECT_EQ(f.engine->Info().queue_depth(), 0);
}

TEST(ScoringEngineTest, QueueFullIsResourceExhaustedThenSucceeds) {
  EngineOptions options;
  options.num_workers = 1;
  options.queue_capacity = 2;
  options.retry_after_ms = 20;
  Fixture f = MakeEngine(options);
  Collector first(3);
  // One runs, then two wait: the queue is full. (All three at once would not fit: admission counts
  // every new job of the call against the free slots.)
  EXPECT_THAT(f.engine->Submit(
                  {Item("1", "slow", "a", "a"), Item("2", "slow", "b", "b"), Item("3", "slow", "c", "c")},
                  In(5s), nullptr, first.Callback()),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("call needs 3")));
  ASSERT_THAT(f.engine->Submit({Item("1", "slow", "a", "a")}, In(5s), nullptr,
                               [&first](size_t, rl::ScoreResult r) { first.Callback()(0, std::move(r)); }),
              IsOk());
  for (int i = 0; i < 200 && f.slow->running() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(f.slow->running(), 1);
  ASSERT_THAT(
      f.engine->Submit({Item("2", "slow", "b", "b"), Item("3", "slow", "c", "c")}, In(5s), nullptr,
                       [&first](size_t i, rl::ScoreResult r) { first.Callback()(i + 1, std::move(r)); }),
      IsOk());
  Collector second(1);
  EXPECT_THAT(f.engine->Submit({Item("4", "slow", "d", "d")}, In(5s), nullptr, second.Callback()),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("retry after 20 ms")));
  EXPECT_EQ(f.engine->Info().rejected_queue_full(), 2);
  // Items answered without a worker (malformed) never need a slot.
  Collector invalid(1);
  EXPECT_THAT(f.engine->Submit({Item("5", "nope", "d", "d")}, In(5s), nullptr, invalid.Callback()), IsOk());
  // Retry with backoff until admitted.
  absl::Status s;
  for (int attempt = 0; attempt < 100; ++attempt) {
    s = f.engine->Submit({Item("4", "slow", "d", "d")}, In(5s), nullptr, second.Callback());
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(f.engine->retry_after_ms()));
  }
  ASSERT_THAT(s, IsOk());
  ASSERT_TRUE(second.WaitFor(1, 5s));
  EXPECT_EQ(second.result(0).status(), rl::OK);
  ASSERT_TRUE(first.WaitFor(3, 5s));
  EXPECT_THAT(first.counts(), ::testing::Each(1));
}

TEST(ScoringEngineTest, DuplicatesRunOnceAndLaterOnesHitTheCache) {
  Fixture f = MakeEngine(EngineOptions{});
  // Same inputs, different item ids: one key.
  std::vector<rl::ScoreItem> items;
  for (int i = 0; i < 4; ++i) items.push_back(Item(std::to_string(i), "slow", "same", "same"));
  Collector c(4);
  ASSERT_THAT(f.engine->Submit(items, In(5s), nullptr, c.Callback()), IsOk());
  // A second call joins the running job.
  Collector joined(1);
  ASSERT_THAT(f.engine->Submit({Item("j", "slow", "same", "same")}, In(5s), nullptr, joined.Callback()),
              IsOk());
  ASSERT_TRUE(c.WaitFor(4, 5s));
  ASSERT_TRUE(joined.WaitFor(1, 5s));
  EXPECT_EQ(f.slow->calls(), 1);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(c.result(i).status(), rl::OK);
    EXPECT_EQ(c.result(i).item_id(), std::to_string(i));
  }
  EXPECT_EQ(joined.result(0).item_id(), "j");
  // After completion: answered from the LRU, no new run.
  Collector cached(1);
  ASSERT_THAT(f.engine->Submit({Item("k", "slow", "same", "same")}, In(5s), nullptr, cached.Callback()),
              IsOk());
  ASSERT_TRUE(cached.WaitFor(1, 1s));
  EXPECT_EQ(cached.result(0).status(), rl::OK);
  EXPECT_EQ(cached.result(0).verdict(), rl::CORRECT);
  EXPECT_EQ(f.slow->calls(), 1);
  const rl::InfoResponse info = f.engine->Info();
  EXPECT_EQ(info.verifier_runs(), 1);
  EXPECT_EQ(info.cache_hits(), 1);
  // An explicit idempotency key overrides the derived one: a different response with the same key is
  // answered from the cache (the caller asserted they are the same completion).
  rl::ScoreItem keyed = Item("x", "slow", "same", "same");
  keyed.set_idempotency_key("completion-7");
  Collector k1(1);
  ASSERT_THAT(f.engine->Submit({keyed}, In(5s), nullptr, k1.Callback()), IsOk());
  ASSERT_TRUE(k1.WaitFor(1, 5s));
  keyed.set_response("different");
  Collector k2(1);
  ASSERT_THAT(f.engine->Submit({keyed}, In(5s), nullptr, k2.Callback()), IsOk());
  ASSERT_TRUE(k2.WaitFor(1, 5s));
  EXPECT_EQ(k2.result(0).verdict(), rl::CORRECT);
  EXPECT_EQ(k2.result(0).idempotency_key(), "completion-7");
  EXPECT_EQ(f.slow->calls(), 2);
}

TEST(ScoringEngineTest, TimeoutsAreNotCached) {
  Fixture f = MakeEngine(EngineOptions{});
  rl::ScoreItem item = Item("s", "slow", "v", "v");  // 50 ms of work
  item.set_deadline_ms(10);
  Collector c(1);
  ASSERT_THAT(f.engine->Submit({item}, In(5s), nullptr, c.Callback()), IsOk());
  ASSERT_TRUE(c.WaitFor(1, 2s));
  EXPECT_EQ(c.result(0).status(), rl::TIMEOUT);
  for (int i = 0; i < 200 && f.slow->running() > 0; ++i) std::this_thread::sleep_for(5ms);
  item.set_deadline_ms(0);
  Collector again(1);
  ASSERT_THAT(f.engine->Submit({item}, In(5s), nullptr, again.Callback()), IsOk());
  ASSERT_TRUE(again.WaitFor(1, 2s));
  EXPECT_EQ(again.result(0).status(), rl::OK);
  EXPECT_EQ(f.slow->calls(), 2);
}

TEST(ScoringEngineTest, InfoCountsVerdictsPerDomain) {
  Fixture f = MakeEngine(EngineOptions{});
  Collector c(3);
  ASSERT_THAT(f.engine->Submit(
                  {Item("a", "fake", "1", "1"), Item("b", "fake", "2", "1"), Item("c", "fake", "3", "1")},
                  In(5s), nullptr, c.Callback()),
              IsOk());
  ASSERT_TRUE(c.WaitFor(3, 5s));
  const rl::InfoResponse info = f.engine->Info();
  EXPECT_EQ(info.items(), 3);
  ASSERT_EQ(info.domains_size(), 1);
  EXPECT_EQ(info.domains(0).domain(), "fake");
  EXPECT_EQ(info.domains(0).correct(), 1);
  EXPECT_EQ(info.domains(0).incorrect(), 2);
  EXPECT_EQ(info.domains(0).non_ok(), 0);
  EXPECT_GE(info.latency_p99_ms(), info.latency_p50_ms());
  EXPECT_THAT(info.domains_served(), ::testing::ElementsAre("fake", "hang", "slow"));
}

TEST(ScoringEngineTest, ShutdownAnswersPendingItemsCancelled) {
  EngineOptions options;
  options.num_workers = 1;
  Fixture f = MakeEngine(options);
  Collector c(2);
  ASSERT_THAT(f.engine->Submit({Item("a", "hang", "a", "y"), Item("b", "hang", "b", "y")}, In(30s), nullptr,
                               c.Callback()),
              IsOk());
  f.engine->Shutdown();
  ASSERT_TRUE(c.WaitFor(2, 1s));
  EXPECT_EQ(c.result(0).status(), rl::CANCELLED);
  EXPECT_EQ(c.result(1).status(), rl::CANCELLED);
  EXPECT_THAT(c.counts(), ::testing::Each(1));
  Collector late(1);
  EXPECT_THAT(f.engine->Submit({Item("z", "fake", "1", "1")}, In(1s), nullptr, late.Callback()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("shut down")));
}

}  // namespace
}  // namespace m1rl::reward
