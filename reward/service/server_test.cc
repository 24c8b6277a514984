#include "reward/service/server.h"

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "common/testing/status_matchers.h"
#include "proto/rl.grpc.pb.h"
#include "reward/service/testing/fake_verifiers.h"

namespace m1rl::reward {
namespace {

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

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(const EngineOptions& options) {
    auto registry = std::make_shared<VerifierRegistry>();
    auto fake = std::make_unique<FakeVerifier>(FakeVerifier::Options{});
    FakeVerifier::Options hang_options;
    hang_options.domain = "hang";
    hang_options.hang = true;
    FakeVerifier::Options slow_options;
    slow_options.domain = "slow";
    slow_options.sleep_ms = 200;
    auto hang = std::make_unique<FakeVerifier>(hang_options);
    auto slow = std::make_unique<FakeVerifier>(slow_options);
    fake_ = fake.get();
    hang_ = hang.get();
    slow_ = slow.get();
    ASSERT_TRUE(registry->Register(std::move(fake)).ok());
    ASSERT_TRUE(registry->Register(std::move(hang)).ok());
    ASSERT_TRUE(registry->Register(std::move(slow)).ok());
    auto engine = ScoringEngine::Create(registry, options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    auto server = RewardServer::Start(engine_, ServerOptions{});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = rl::RewardService::NewStub(channel_);
  }

  // One worker and one queue slot, so a third concurrent item is refused with the retry hint.
  static constexpr int kRetryAfterMs = 37;
  void StartOneSlotServer() {
    EngineOptions options;
    options.num_workers = 1;
    options.queue_capacity = 1;
    options.retry_after_ms = kRetryAfterMs;
    StartServer(options);
  }

  void WaitUntilIdle(const FakeVerifier* v) {
    for (int i = 0; i < 400 && v->running() > 0; ++i) std::this_thread::sleep_for(5ms);
  }

  FakeVerifier* fake_ = nullptr;
  FakeVerifier* hang_ = nullptr;
  FakeVerifier* slow_ = nullptr;
  std::shared_ptr<ScoringEngine> engine_;
  std::unique_ptr<RewardServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rl::RewardService::Stub> stub_;
};

void SetDeadline(grpc::ClientContext& ctx, std::chrono::milliseconds d) {
  ctx.set_deadline(std::chrono::system_clock::now() + d);
}

TEST_F(ServerTest, MalformedItemsGetInvalidInputAndTheBatchIsScored) {
  StartServer(EngineOptions{});
  rl::ScoreRequest request;
  *request.add_items() = Item("ok", "fake", "<think>t</think> 7", "7");
  *request.add_items() = Item("unknown", "astrology", "7", "7");
  rl::ScoreItem no_payload;
  no_payload.set_item_id("no-gold");
  no_payload.set_domain("fake");
  no_payload.set_response("7");
  *request.add_items() = no_payload;
  *request.add_items() = Item("wrong", "fake", "8", "7");
  grpc::ClientContext ctx;
  SetDeadline(ctx, 5s);
  rl::ScoreResponse response;
  ASSERT_TRUE(stub_->Score(&ctx, request, &response).ok());
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.results(0).item_id(), "ok");
  EXPECT_EQ(response.results(0).status(), rl::OK);
  EXPECT_EQ(response.results(0).verdict(), rl::CORRECT);
  EXPECT_EQ(response.results(0).components().format(), 1.0);
  EXPECT_EQ(response.results(1).item_id(), "unknown");
  EXPECT_EQ(response.results(1).status(), rl::INVALID_INPUT);
  EXPECT_THAT(response.results(1).details(), HasSubstr("unknown domain 'astrology'"));
  EXPECT_EQ(response.results(2).status(), rl::INVALID_INPUT);
  EXPECT_EQ(response.results(2).details(), "gold is empty");
  EXPECT_EQ(response.results(3).status(), rl::OK);
  EXPECT_EQ(response.results(3).verdict(), rl::INCORRECT);
}

TEST_F(ServerTest, CallsWithoutDeadlineAreRejected) {
  StartServer(EngineOptions{});
  rl::ScoreRequest request;
  *request.add_items() = Item("a", "fake", "1", "1");
  grpc::ClientContext ctx;
  rl::ScoreResponse response;
  const grpc::Status s = stub_->Score(&ctx, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("no deadline"));
  EXPECT_EQ(fake_->calls(), 0);
}

TEST_F(ServerTest, ItemDeadlineGivesTimeoutAndFreesTheWorker) {
  EngineOptions options;
  options.num_workers = 1;
  StartServer(options);
  rl::ScoreRequest request;
  rl::ScoreItem item = Item("h", "hang", "x", "y");
  item.set_deadline_ms(100);
  *request.add_items() = item;
  *request.add_items() = Item("f", "fake", "1", "1");
  grpc::ClientContext ctx;
  SetDeadline(ctx, 5s);
  rl::ScoreResponse response;
  ASSERT_TRUE(stub_->Score(&ctx, request, &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).status(), rl::TIMEOUT);
  EXPECT_EQ(response.results(0).total(), 0.0);
  // With one worker, the second item could only run after the hanging check returned.
  EXPECT_EQ(response.results(1).status(), rl::OK);
  WaitUntilIdle(hang_);
  EXPECT_EQ(hang_->running(), 0);
}

TEST_F(ServerTest, RpcDeadlineExceededCancelsTheRunningCheck) {
  EngineOptions options;
  options.num_workers = 1;
  StartServer(options);
  rl::ScoreRequest request;
  *request.add_items() = Item("h", "hang", "x", "y");
  grpc::ClientContext ctx;
  SetDeadline(ctx, 150ms);
  rl::ScoreResponse response;
  const grpc::Status s = stub_->Score(&ctx, request, &response);
  // The client's deadline and the engine's timeout of the item (the same instant) race: the call ends
  // DEADLINE_EXCEEDED, or the server's reply gets through first and scores the item TIMEOUT (seen ~1 in 10
  // under load). Never a score.
  if (s.ok()) {
    ASSERT_EQ(response.results_size(), 1);
    EXPECT_EQ(response.results(0).status(), rl::TIMEOUT);
  } else {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  WaitUntilIdle(hang_);
  EXPECT_EQ(hang_->running(), 0);
  // The worker is free for the next call.
  rl::ScoreRequest next;
  *next.add_items() = Item("f", "fake", "1", "1");
  grpc::ClientContext ctx2;
  SetDeadline(ctx2, 2s);
  ASSERT_TRUE(stub_->Score(&ctx2, next, &response).ok());
  EXPECT_EQ(response.results(0).status(), rl::OK);
}

TEST_F(ServerTest, QueueFullIsResourceExhaustedWithRetryHint) {
  StartOneSlotServer();
  // Occupy the worker and the single queue slot with two async calls.
  std::vector<std::future<grpc::Status>> pending;
  for (const char* id : {"s1", "s2"}) {
    pending.push_back(std::async(std::launch::async, [this, id] {
      rl::ScoreRequest r;
      *r.add_items() = Item(id, "slow", id, id);
      grpc::ClientContext c;
      SetDeadline(c, 5s);
      rl::ScoreResponse resp;
      return stub_->Score(&c, r, &resp);
    }));
    for (int i = 0; i < 200 && engine_->Info().items() < (std::string(id) == "s1" ? 1 : 2); ++i)
      std::this_thread::sleep_for(2ms);
  }
  rl::ScoreRequest request;
  *request.add_items() = Item("s3", "slow", "s3", "s3");
  grpc::ClientContext ctx;
  SetDeadline(ctx, 5s);
  rl::ScoreResponse response;
  const grpc::Status s = stub_->Score(&ctx, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("reward queue full"));
  const auto& md = ctx.GetServerTrailingMetadata();
  auto it = md.find("retry-after-ms");
  ASSERT_NE(it, md.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), std::to_string(kRetryAfterMs));
  for (auto& f : pending) EXPECT_TRUE(f.get().ok());
}

TEST_F(ServerTest, StreamScoresEveryItemOnceInCompletionOrder) {
  StartServer(EngineOptions{});
  grpc::ClientContext ctx;  // a long-lived stream: no deadline; items use their own budgets
  auto stream = stub_->ScoreStream(&ctx);
  std::set<std::string> sent;
  for (int i = 0; i < 30; ++i) {
    const std::string id = "i" + std::to_string(i);
    ASSERT_TRUE(stream->Write(i == 7 ? Item(id, "", "1", "1") : Item(id, "fake", std::to_string(i), "3")));
    sent.insert(id);
  }
  stream->WritesDone();
  std::multiset<std::string> received;
  rl::ScoreResult r;
  int correct = 0;
  while (stream->Read(&r)) {
    received.insert(r.item_id());
    if (r.item_id() == "i7") {
      EXPECT_EQ(r.status(), rl::INVALID_INPUT);
    } else {
      EXPECT_EQ(r.status(), rl::OK);
      correct += r.verdict() == rl::CORRECT;
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(std::set<std::string>(received.begin(), received.end()), sent);
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_EQ(correct, 1);  // only response "3"
}

TEST_F(ServerTest, StreamItemsBeyondTheQueueGetResourceExhaustedWithHint) {
  StartOneSlotServer();
  grpc::ClientContext ctx;
  SetDeadline(ctx, 10s);
  auto stream = stub_->ScoreStream(&ctx);
  for (int i = 0; i < 4; ++i) {
    const std::string id = "s" + std::to_string(i);
    ASSERT_TRUE(stream->Write(Item(id, "slow", id, id)));  // distinct inputs: no deduplication
  }
  stream->WritesDone();
  rl::ScoreResult r;
  int ok = 0;
  int exhausted = 0;
  while (stream->Read(&r)) {
    if (r.status() == rl::OK) ++ok;
    if (r.status() == rl::RESOURCE_EXHAUSTED) {
      ++exhausted;
      EXPECT_TRUE(r.retryable());
      EXPECT_EQ(r.retry_after_ms(), kRetryAfterMs);
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  // One worker + one queue slot: at most two of the four are admitted (and scored OK); the rest are
  // told to retry.
  EXPECT_EQ(ok + exhausted, 4);
  EXPECT_GE(ok, 1);
  EXPECT_GE(exhausted, 2);
}

TEST_F(ServerTest, StreamCancellationReachesRunningChecks) {
  StartServer(EngineOptions{});
  grpc::ClientContext ctx;
  auto stream = stub_->ScoreStream(&ctx);
  rl::ScoreItem item = Item("h", "hang", "x", "y");
  item.set_deadline_ms(30000);
  ASSERT_TRUE(stream->Write(item));
  for (int i = 0; i < 400 && hang_->running() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(hang_->running(), 1);
  const auto start = Clock::now();
  ctx.TryCancel();
  WaitUntilIdle(hang_);
  EXPECT_EQ(hang_->running(), 0);
  EXPECT_LT(Clock::now() - start, 1s);  // REWARDS.md §7: running work killed within 1 s
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(ServerTest, GetInfoAndHealth) {
  StartServer(EngineOptions{});
  rl::ScoreRequest request;
  *request.add_items() = Item("a", "fake", "1", "1");
  *request.add_items() = Item("b", "fake", "2", "1");
  grpc::ClientContext ctx;
  SetDeadline(ctx, 5s);
  rl::ScoreResponse response;
  ASSERT_TRUE(stub_->Score(&ctx, request, &response).ok());
  grpc::ClientContext info_ctx;
  SetDeadline(info_ctx, 5s);
  rl::InfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(&info_ctx, rl::InfoRequest(), &info).ok());
  EXPECT_EQ(info.requests(), 1);
  EXPECT_EQ(info.items(), 2);
  ASSERT_EQ(info.domains_size(), 1);
  EXPECT_EQ(info.domains(0).correct(), 1);
  EXPECT_EQ(info.domains(0).incorrect(), 1);

  // grpc.health.v1.Health/Check with an empty HealthCheckRequest; SERVING is field 1 = 1 -> bytes 08 01.
  grpc::GenericStub generic(channel_);
  grpc::ClientContext health_ctx;
  SetDeadline(health_ctx, 5s);
  grpc::ByteBuffer empty_request;
  grpc::Slice empty_slice;
  empty_request = grpc::ByteBuffer(&empty_slice, 1);
  grpc::ByteBuffer reply;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&health_ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &empty_request, &reply,
                    [&done](const grpc::Status& s) { done.set_value(s); });
  const grpc::Status hs = done.get_future().get();
  ASSERT_TRUE(hs.ok()) << hs.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST_F(ServerTest, InvalidPortIsRejected) {
  StartServer(EngineOptions{});
  ServerOptions bad;
  bad.port = 70000;
  EXPECT_THAT(RewardServer::Start(engine_, bad).status(),
              ::m1rl::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("--port must be in [0, 65535]")));
  EXPECT_THAT(RewardServer::Start(nullptr, ServerOptions{}).status(),
              ::m1rl::testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("engine is null")));
}

}  // namespace
}  // namespace m1rl::reward
