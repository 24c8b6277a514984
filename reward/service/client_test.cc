#include "reward/service/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>

#include "common/testing/status_matchers.h"
#include "reward/service/server.h"
#include "reward/service/testing/fake_verifiers.h"

namespace m1rl::reward {
namespace {

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

struct Rig {
  FakeVerifier* fake = nullptr;  // domain "fake", sleep_ms as given
  FakeVerifier* hang = nullptr;  // domain "hang"
  std::shared_ptr<ScoringEngine> engine;
};

Rig MakeEngine(EngineOptions options, int fake_sleep_ms) {
  Rig s;
  auto registry = std::make_shared<VerifierRegistry>();
  FakeVerifier::Options fake_options;
  fake_options.sleep_ms = fake_sleep_ms;
  auto fake = std::make_unique<FakeVerifier>(fake_options);
  FakeVerifier::Options hang_options;
  hang_options.domain = "hang";
  hang_options.hang = true;
  auto hang = std::make_unique<FakeVerifier>(hang_options);
  s.fake = fake.get();
  s.hang = hang.get();
  EXPECT_TRUE(registry->Register(std::move(fake)).ok());
  EXPECT_TRUE(registry->Register(std::move(hang)).ok());
  auto engine = ScoringEngine::Create(registry, options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  s.engine = std::move(*engine);
  return s;
}

config::RewardConfig GrpcConfig(int port) {
  config::RewardConfig c;
  c.set_mode(config::RewardConfig::MODE_GRPC);
  c.set_address("127.0.0.1:" + std::to_string(port));
  c.set_deadline_ms(5000);
  c.set_retry_backoff_ms(20);
  c.set_give_up_after_ms(20000);
  return c;
}

// Records every callback: item id -> how many times it was answered, and the last result.
class Answers {
 public:
  RewardClient::Done Callback() {
    return [this](const rl::ScoreResult& r) {
      std::lock_guard<std::mutex> lock(mu_);
      ++count_[r.item_id()];
      last_[r.item_id()] = r;
      ++total_;
    };
  }
  int64_t total() {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }
  std::map<std::string, int> counts() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  std::map<std::string, rl::ScoreResult> last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> count_;
  std::map<std::string, rl::ScoreResult> last_;
  int64_t total_ = 0;
};

// Drain() with a watchdog: a hung request fails the test with a message (the hung Drain then keeps the
// process alive until ctest's TIMEOUT ends it).
bool DrainWithin(RewardClient& client, std::chrono::seconds limit) {
  auto f = std::async(std::launch::async, [&client] { client.Drain(); });
  return f.wait_for(limit) == std::future_status::ready;
}

TEST(RewardClientTest, CreateValidatesTheConfig) {
  config::RewardConfig c;
  EXPECT_THAT(RewardClient::CreateGrpc(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reward.address must be host:port")));
  c.set_address("127.0.0.1:1");
  c.set_deadline_ms(-5);
  EXPECT_THAT(
      RewardClient::CreateGrpc(c).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reward.deadline_ms must be >= 0, got -5")));
  EXPECT_THAT(RewardClient::CreateInProcess(config::RewardConfig(), nullptr).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("engine is null")));
}

TEST(RewardClientTest, InProcessBatchKeepsOrderAndStatuses) {
  Rig s = MakeEngine(EngineOptions{}, 0);
  auto client = RewardClient::CreateInProcess(config::RewardConfig(), s.engine);
  ASSERT_TRUE(client.ok()) << client.status();
  auto results = (*client)->ScoreBatch(
      {Item("a", "fake", "1", "1"), Item("b", "mystery", "1", "1"), Item("c", "fake", "2", "1")});
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ((*results)[0].item_id(), "a");
  EXPECT_EQ((*results)[0].verdict(), rl::CORRECT);
  EXPECT_EQ((*results)[0].idempotency_key().size(), 64u);  // assigned by the client
  EXPECT_EQ((*results)[1].status(), rl::INVALID_INPUT);
  EXPECT_EQ((*results)[2].verdict(), rl::INCORRECT);
}

TEST(RewardClientTest, RequireThinkFromConfigIsSentPerItem) {
  Rig s = MakeEngine(EngineOptions{}, 0);
  config::RewardConfig c;
  c.set_require_think(true);
  auto client = RewardClient::CreateInProcess(c, s.engine);
  ASSERT_TRUE(client.ok());
  auto results =
      (*client)->ScoreBatch({Item("a", "fake", "1", "1"), Item("b", "fake", "<think>x</think>1", "1")});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ((*results)[0].components().format(), 0.0);
  EXPECT_EQ((*results)[1].components().format(), 1.0);
}

TEST(RewardClientTest, GrpcDeadlineExceededIsTimeout) {
  Rig s = MakeEngine(EngineOptions{}, 0);
  auto server = RewardServer::Start(s.engine, ServerOptions{});
  ASSERT_TRUE(server.ok());
  config::RewardConfig c = GrpcConfig((*server)->port());
  c.set_deadline_ms(150);
  auto client = RewardClient::CreateGrpc(c);
  ASSERT_TRUE(client.ok());
  auto results = (*client)->ScoreBatch({Item("h", "hang", "x", "y"), Item("f", "fake", "1", "1")});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ((*results)[0].status(), rl::TIMEOUT);
  EXPECT_EQ((*results)[0].total(), 0.0);
  EXPECT_EQ((*results)[1].status(), rl::OK);
  for (int i = 0; i < 400 && s.hang->running() > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(s.hang->running(), 0);  // the server cancelled the check
}

TEST(RewardClientTest, GivesUpWhenNoServerAppearsAndSaysSo) {
  // Reserve a port, then close the server: nothing listens there.
  Rig s = MakeEngine(EngineOptions{}, 0);
  int port = 0;
  {
    auto server = RewardServer::Start(s.engine, ServerOptions{});
    ASSERT_TRUE(server.ok());
    port = (*server)->port();
  }
  config::RewardConfig c = GrpcConfig(port);
  c.set_give_up_after_ms(300);
  auto client = RewardClient::CreateGrpc(c);
  ASSERT_TRUE(client.ok());
  const auto start = Clock::now();
  auto results = (*client)->ScoreBatch({Item("a", "fake", "1", "1")});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ((*results)[0].status(), rl::INFRA_ERROR);
  EXPECT_TRUE((*results)[0].retryable());
  EXPECT_THAT((*results)[0].details(), HasSubstr("gave up after"));
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_GT((*client)->stats().retries, 0);
  EXPECT_EQ((*client)->stats().gave_up, 1);
}

TEST(RewardClientTest, QueueFullThenSuccessAfterBackoff) {
  EngineOptions options;
  options.num_workers = 1;
  options.queue_capacity = 2;
  options.retry_after_ms = 10;
  Rig s = MakeEngine(options, 10);
  auto server = RewardServer::Start(s.engine, ServerOptions{});
  ASSERT_TRUE(server.ok());
  config::RewardConfig c = GrpcConfig((*server)->port());
  c.set_max_in_flight(16);
  auto client = RewardClient::CreateGrpc(c);
  ASSERT_TRUE(client.ok());
  std::vector<rl::ScoreItem> items;
  for (int i = 0; i < 16; ++i) items.push_back(Item("q" + std::to_string(i), "fake", std::to_string(i), "3"));
  auto results = (*client)->ScoreBatch(items);
  ASSERT_TRUE(results.ok());
  for (const rl::ScoreResult& r : *results)
    EXPECT_EQ(r.status(), rl::OK) << r.item_id() << " " << r.details();
  EXPECT_GT(s.engine->Info().rejected_queue_full(), 0);
  EXPECT_GT((*client)->stats().retries, 0);
  EXPECT_EQ(s.fake->calls(), 16);
}

TEST(RewardClientTest, ServerKilledAndRestartedMidStreamScoresEveryCompletionOnce) {
  EngineOptions options;
  options.num_workers = 2;
  Rig s = MakeEngine(options, 5);
  auto server = RewardServer::Start(s.engine, ServerOptions{});
  ASSERT_TRUE(server.ok());
  const int port = (*server)->port();
  config::RewardConfig c = GrpcConfig(port);
  c.set_max_in_flight(32);
  auto client = RewardClient::CreateGrpc(c);
  ASSERT_TRUE(client.ok());
  Answers answers;
  constexpr int kItems = 300;
  for (int i = 0; i < kItems; ++i) {
    (*client)->ScoreAsync(Item("c" + std::to_string(i), "fake", "resp" + std::to_string(i), "resp7"),
                          answers.Callback());
  }
  for (int i = 0; i < 2000 && answers.total() < 60; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_GE(answers.total(), 60);
  ASSERT_LT(answers.total(), kItems);  // killed mid-stream
  (*server)->Shutdown(0ms);            // kill: in-flight calls are cancelled
  server->reset();
  std::this_thread::sleep_for(300ms);  // the client sees UNAVAILABLE and backs off
  ServerOptions same_port;
  same_port.port = port;
  auto restarted = RewardServer::Start(s.engine, same_port);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_TRUE(DrainWithin(**client, 30s)) << "requests hung";
  const auto counts = answers.counts();
  const auto last = answers.last();
  ASSERT_EQ(static_cast<int>(counts.size()), kItems);
  int correct = 0;
  for (const auto& [id, n] : counts) {
    EXPECT_EQ(n, 1) << id << " answered " << n << " times";
    EXPECT_EQ(last.at(id).status(), rl::OK) << id << " " << last.at(id).details();
    correct += last.at(id).verdict() == rl::CORRECT;
  }
  EXPECT_EQ(correct, 1);
  // Exactly one completed verdict per completion (the idempotency key is derived from the response).
  const auto verdicts = s.fake->verdicts();
  EXPECT_EQ(static_cast<int>(verdicts.size()), kItems);
  for (const auto& [response, n] : verdicts) EXPECT_EQ(n, 1) << response;
  EXPECT_GT((*client)->stats().retries, 0);
}

TEST(RewardClientTest, LoadAtTwiceSaturationLosesNothing) {
  // Capacity: 2 workers x (1 / 5 ms) = 400 items/s. Offered: 800 items/s for 3 s.
  EngineOptions options;
  options.num_workers = 2;
  options.queue_capacity = 64;
  options.retry_after_ms = 20;
  Rig s = MakeEngine(options, 5);
  auto server = RewardServer::Start(s.engine, ServerOptions{});
  ASSERT_TRUE(server.ok());
  config::RewardConfig c = GrpcConfig((*server)->port());
  c.set_max_in_flight(128);
  c.set_deadline_ms(20000);
  c.set_give_up_after_ms(60000);
  auto client = RewardClient::CreateGrpc(c);
  ASSERT_TRUE(client.ok());
  Answers answers;
  constexpr int kRatePerS = 800;
  constexpr int kSeconds = 3;
  const auto start = Clock::now();
  int sent = 0;
  while (sent < kRatePerS * kSeconds) {
    const auto due = start + std::chrono::microseconds(int64_t{1000000} * sent / kRatePerS);
    std::this_thread::sleep_until(due);
    (*client)->ScoreAsync(Item("l" + std::to_string(sent), "fake", "r" + std::to_string(sent), "r0"),
                          answers.Callback());
    ++sent;
  }
  ASSERT_TRUE(DrainWithin(**client, 60s))
      << "requests hung: " << answers.total() << " of " << sent << " answered";
  const auto counts = answers.counts();
  const auto last = answers.last();
  ASSERT_EQ(static_cast<int>(counts.size()), sent);
  int ok = 0;
  for (const auto& [id, n] : counts) {
    EXPECT_EQ(n, 1) << id;
    ok += last.at(id).status() == rl::OK;
  }
  EXPECT_EQ(ok, sent);
  EXPECT_GT(s.engine->Info().rejected_queue_full(), 0);  // it really was beyond saturation
  const auto verdicts = s.fake->verdicts();
  for (const auto& [response, n] : verdicts) EXPECT_EQ(n, 1) << response;
}

}  // namespace
}  // namespace m1rl::reward
