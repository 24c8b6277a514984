#include "reward/genrm/openai_judge.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/genrm/genrm.h"
#include "reward/genrm/testing/fake_openai_server.h"
#include "reward/genrm/testing/scripted_judge.h"

namespace m1rl::reward::genrm {
namespace {

using ::m1rl::testing::IsOkAndHolds;
using ::m1rl::testing::StatusIs;
using testing::BlockAfter;
using testing::FakeOpenAiServer;
using testing::FakeReply;
using ::testing::HasSubstr;

using Ms = std::chrono::milliseconds;

std::unique_ptr<FakeOpenAiServer> StartServer(FakeOpenAiServer::Script script) {
  absl::StatusOr<std::unique_ptr<FakeOpenAiServer>> s = FakeOpenAiServer::Start(std::move(script));
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(*s);
}

OpenAiJudgeOptions Options(const FakeOpenAiServer& server) {
  OpenAiJudgeOptions o;
  o.urls = {server.url()};
  o.model = "judge-7b";
  o.backoff_ms = 10;
  o.max_backoff_ms = 40;
  o.call_deadline_ms = 10000;
  o.attempt_timeout_ms = 10000;
  return o;
}

std::shared_ptr<OpenAiJudge> MakeJudge(OpenAiJudgeOptions o) {
  absl::StatusOr<std::unique_ptr<OpenAiJudge>> j = OpenAiJudge::Create(std::move(o));
  EXPECT_TRUE(j.ok()) << j.status();
  return std::move(*j);
}

JudgeRequest Request(std::string user = "hello") {
  JudgeRequest r;
  r.messages = {{"system", "sys"}, {"user", std::move(user)}};
  r.seed = 42;
  r.max_tokens = 64;
  return r;
}

double ElapsedMs(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(GenrmOpenAiJudgeTest, ResolveOptions) {
  config::OpenAiJudgeConfig c;
  EXPECT_THAT(ResolveOpenAiJudgeOptions(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("reward.genrm.openai.urls is required"),
                                        HasSubstr("reward.genrm.openai.model is required"))));
  c.add_urls("http://x/v1/chat/completions");
  c.set_model("m");
  c.set_requests_per_second(12.5);
  absl::StatusOr<OpenAiJudgeOptions> o = ResolveOpenAiJudgeOptions(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->max_in_flight, 64);
  EXPECT_EQ(o->burst, 12);
  EXPECT_EQ(o->attempt_timeout_ms, 60000);
  c.set_max_retries(-1);
  c.set_api_key_file("/nonexistent/key");
  EXPECT_THAT(ResolveOpenAiJudgeOptions(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("reward.genrm.openai.max_retries must be >= 0")));
  c.set_max_retries(0);
  EXPECT_THAT(ResolveOpenAiJudgeOptions(c), StatusIs(absl::StatusCode::kNotFound, HasSubstr("api_key_file")));
}

// Grades over HTTP: the request has the OpenAI shape, the reply parses, the connection is reused.
TEST(GenrmOpenAiJudgeTest, GradesOverHttpWithOneConnection) {
  std::atomic<int> bad_shape{0};
  auto server = StartServer([&](const nlohmann::json& req, int) {
    bool ok = req.is_object() && req.value("model", "") == "judge-7b" && req.value("temperature", -1) == 0 &&
              req.contains("seed") && req.value("max_tokens", 0) == 1024 && req["messages"].size() == 2 &&
              req["messages"][0]["role"] == "system" && req["messages"][1]["role"] == "user";
    if (!ok) bad_shape++;
    std::string response = BlockAfter(req["messages"][1]["content"].get<std::string>(), "RESPONSE:");
    // The "judge": grade = the number of characters of the response, capped at 5.
    return FakeReply{200,
                     "Reasoning...\nGrade: [[" + std::to_string(std::min<size_t>(5, response.size())) + "]]"};
  });
  auto judge = MakeJudge(Options(*server));
  GenRm genrm(judge, *ResolveGenrmOptions(config::GenrmConfig()));
  for (int i = 0; i < 20; ++i) {
    std::string response(1 + i % 5, 'x');
    absl::StatusOr<GradeResult> g = genrm.Grade("q", "gt", response, CheckContext{});
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->grade, static_cast<int>(response.size()));
    EXPECT_DOUBLE_EQ(g->reward, (static_cast<double>(response.size()) - 1) / 4);
  }
  EXPECT_EQ(bad_shape.load(), 0);
  EXPECT_EQ(server->requests(), 20);
  EXPECT_EQ(server->connections(), 1);
  EXPECT_EQ(judge->stats().connections, 1);
  EXPECT_THAT(genrm.version(), HasSubstr("judge-7b"));
}

TEST(GenrmOpenAiJudgeTest, PairwisePositionSwapDisagreementScoresZero) {
  // Prefers the longer answer, except that it always says "A" when the candidate "short" is shown first.
  auto server = StartServer([](const nlohmann::json& req, int) {
    std::string user = req["messages"][1]["content"];
    std::string a = BlockAfter(user, "ANSWER A:");
    std::string b = BlockAfter(user, "ANSWER B:");
    if (a == "short") return FakeReply{200, "Verdict: [[A]]"};
    return FakeReply{200, a.size() >= b.size() ? "Verdict: [[A]]" : "Verdict: [[B]]"};
  });
  auto judge = MakeJudge(Options(*server));
  GenRm genrm(judge, *ResolveGenrmOptions(config::GenrmConfig()));
  absl::StatusOr<PairwiseResult> better =
      genrm.Compare("q", "a much longer answer", "reference", CheckContext{});
  ASSERT_TRUE(better.ok()) << better.status();
  EXPECT_EQ(better->score.score, 1);
  absl::StatusOr<PairwiseResult> worse = genrm.Compare("q", "ref?", "the reference", CheckContext{});
  ASSERT_TRUE(worse.ok());
  EXPECT_EQ(worse->score.score, -1);
  absl::StatusOr<PairwiseResult> swapped = genrm.Compare("q", "short", "the reference", CheckContext{});
  ASSERT_TRUE(swapped.ok());
  EXPECT_EQ(swapped->candidate_first, PairVerdict::kA);
  EXPECT_EQ(swapped->reference_first, PairVerdict::kA);
  EXPECT_EQ(swapped->score.score, 0);
  EXPECT_TRUE(swapped->score.disagreement);
  EXPECT_EQ(server->requests(), 6);
}

TEST(GenrmOpenAiJudgeTest, GarbageIsAStatusNeverAScore) {
  auto server = StartServer([](const nlohmann::json& req, int) {
    std::string user = req["messages"][1]["content"];
    if (user == "raw") return FakeReply{200, "", "<html>not json</html>"};
    if (user == "nochoices") return FakeReply{200, "", R"({"choices": []})"};
    return FakeReply{200, "I refuse to grade."};
  });
  auto judge = MakeJudge(Options(*server));
  EXPECT_THAT(judge->Complete(Request("raw"), CheckContext{}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not JSON")));
  EXPECT_THAT(judge->Complete(Request("nochoices"), CheckContext{}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no choices[0]")));
  GenRm genrm(judge, *ResolveGenrmOptions(config::GenrmConfig()));
  EXPECT_THAT(genrm.Grade("q", "gt", "r", CheckContext{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no 'Grade: [[1-5]]'")));
  EXPECT_EQ(server->requests(), 2 + 2);  // the unparseable grade is retried once
}

TEST(GenrmOpenAiJudgeTest, RetriesOn429And503ThenSucceeds) {
  auto server = StartServer([](const nlohmann::json&, int i) {
    if (i == 0) return FakeReply{429, ""};
    if (i == 1) return FakeReply{503, ""};
    return FakeReply{200, "Verdict: [[B]]"};
  });
  auto judge = MakeJudge(Options(*server));
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}), IsOkAndHolds(std::string("Verdict: [[B]]")));
  OpenAiJudgeStats s = judge->stats();
  EXPECT_EQ(s.attempts, 3);
  EXPECT_EQ(s.retries, 2);
  EXPECT_EQ(s.http_429, 1);
  EXPECT_EQ(s.http_5xx, 1);
  EXPECT_EQ(server->requests(), 3);
}

TEST(GenrmOpenAiJudgeTest, HonoursRetryAfter) {
  auto server = StartServer([](const nlohmann::json&, int i) {
    if (i == 0) return FakeReply{429, "", "", 0, /*retry_after_s=*/1};
    return FakeReply{200, "ok"};
  });
  auto judge = MakeJudge(Options(*server));  // backoff at most 40 ms: the 1 s wait is Retry-After's
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}), IsOkAndHolds(std::string("ok")));
  EXPECT_GE(ElapsedMs(t0), 1000.0);
  std::vector<double> at = server->arrivals_ms();
  ASSERT_EQ(at.size(), 2u);
  EXPECT_GE(at[1] - at[0], 1000.0);
}

TEST(GenrmOpenAiJudgeTest, GivesUpAfterMaxRetries) {
  auto server = StartServer([](const nlohmann::json&, int) { return FakeReply{503, ""}; });
  OpenAiJudgeOptions o = Options(*server);
  o.max_retries = 3;
  auto judge = MakeJudge(o);
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("HTTP 503")));
  EXPECT_EQ(server->requests(), 4);

  auto limited = StartServer([](const nlohmann::json&, int) { return FakeReply{429, ""}; });
  auto judge429 = MakeJudge(Options(*limited));
  EXPECT_THAT(judge429->Complete(Request(), CheckContext{}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("after 5 attempts")));
  EXPECT_EQ(limited->requests(), 5);
}

TEST(GenrmOpenAiJudgeTest, ClientErrorsAreNotRetried) {
  auto server = StartServer([](const nlohmann::json&, int) { return FakeReply{400, ""}; });
  auto judge = MakeJudge(Options(*server));
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("HTTP 400")));
  EXPECT_EQ(server->requests(), 1);
}

TEST(GenrmOpenAiJudgeTest, SlowReplyHitsTheCallDeadline) {
  auto server = StartServer([](const nlohmann::json&, int) {
    return FakeReply{200, "Grade: [[5]]", "", 3000};
  });
  OpenAiJudgeOptions o = Options(*server);
  o.call_deadline_ms = 300;
  auto judge = MakeJudge(o);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("deadline")));
  double ms = ElapsedMs(t0);
  EXPECT_GE(ms, 290.0);
  EXPECT_LT(ms, 800.0);
  // The caller's own deadline is honoured as well.
  auto judge2 = MakeJudge(Options(*server));
  CheckContext ctx;
  ctx.deadline = Clock::now() + Ms(200);
  t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(judge2->Complete(Request(), ctx),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("deadline")));
  EXPECT_LT(ElapsedMs(t0), 700.0);
}

TEST(GenrmOpenAiJudgeTest, SlowAttemptIsRetriedWithinTheDeadline) {
  auto server = StartServer([](const nlohmann::json&, int i) {
    return FakeReply{200, "Verdict: [[TIE]]", "", i == 0 ? 3000 : 0};
  });
  OpenAiJudgeOptions o = Options(*server);
  o.attempt_timeout_ms = 200;
  o.call_deadline_ms = 2000;
  auto judge = MakeJudge(o);
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}), IsOkAndHolds(std::string("Verdict: [[TIE]]")));
  EXPECT_EQ(judge->stats().timeouts, 1);
  EXPECT_EQ(server->requests(), 2);
}

TEST(GenrmOpenAiJudgeTest, ConnectionRefusedIsUnavailable) {
  int port = 0;
  {
    auto server = StartServer([](const nlohmann::json&, int) { return FakeReply{}; });
    std::string url = server->url();
    port = std::stoi(url.substr(url.rfind(':') + 1));
  }  // closed: nothing listens on `port` now
  OpenAiJudgeOptions o;
  o.urls = {"http://127.0.0.1:" + std::to_string(port) + "/v1/chat/completions"};
  o.model = "m";
  o.max_retries = 2;
  o.backoff_ms = 5;
  auto judge = MakeJudge(o);
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("127.0.0.1")));
  EXPECT_EQ(judge->stats().attempts, 3);
  EXPECT_EQ(judge->stats().connect_errors, 3);
}

TEST(GenrmOpenAiJudgeTest, ConcurrencyLimitBoundsRequestsInFlight) {
  auto server = StartServer([](const nlohmann::json&, int) { return FakeReply{200, "ok", "", 100}; });
  OpenAiJudgeOptions o = Options(*server);
  o.max_in_flight = 4;
  auto judge = MakeJudge(o);
  std::vector<std::thread> threads;
  threads.reserve(16);
  std::atomic<int> ok{0};
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] { ok += judge->Complete(Request(), CheckContext{}).ok() ? 1 : 0; });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(server->peak_concurrency(), 4);
  EXPECT_GE(ElapsedMs(t0), 4 * 100.0);  // 16 calls, 4 at a time, 100 ms each
  EXPECT_LE(server->connections(), 4);
}

TEST(GenrmOpenAiJudgeTest, WaitersAreAdmittedInArrivalOrder) {
  std::mutex mu;
  std::vector<std::string> order;
  auto server = StartServer([&](const nlohmann::json& req, int) {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(req["messages"][1]["content"].get<std::string>());
    return FakeReply{200, "ok", "", 30};
  });
  OpenAiJudgeOptions o = Options(*server);
  o.max_in_flight = 1;
  auto judge = MakeJudge(o);
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back(
        [&judge, i] { EXPECT_TRUE(judge->Complete(Request(std::to_string(i)), CheckContext{}).ok()); });
    std::this_thread::sleep_for(Ms(5));  // queue up in order while the first holds the only slot
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7"}));
}

TEST(GenrmOpenAiJudgeTest, RateLimitSpacesRequests) {
  auto server = StartServer([](const nlohmann::json&, int) { return FakeReply{200, "ok"}; });
  OpenAiJudgeOptions o = Options(*server);
  o.requests_per_second = 20;
  o.burst = 1;
  auto judge = MakeJudge(o);
  std::vector<std::thread> threads;
  threads.reserve(10);
  for (int i = 0; i < 10; ++i)
    threads.emplace_back([&] { EXPECT_TRUE(judge->Complete(Request(), CheckContext{}).ok()); });
  for (std::thread& t : threads) t.join();
  std::vector<double> at = server->arrivals_ms();
  ASSERT_EQ(at.size(), 10u);
  std::sort(at.begin(), at.end());
  // One token at start, then one per 50 ms: the 10th request leaves >= 9 * 50 ms after the first.
  EXPECT_GE(at.back() - at.front(), 9 * 50.0 - 5.0);
  // A rate-limited call whose slot lies past its deadline fails at once instead of waiting.
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(judge->Complete(Request(), CheckContext{}).ok());  // drain the bucket
  CheckContext ctx;
  ctx.deadline = Clock::now() + Ms(10);
  EXPECT_THAT(judge->Complete(Request(), ctx),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("rate limit")));
}

TEST(GenrmOpenAiJudgeTest, CircuitBreakerFailsFastThenProbes) {
  std::atomic<bool> healthy{false};
  auto server = StartServer([&](const nlohmann::json&, int) {
    return healthy ? FakeReply{200, "Verdict: [[A]]"} : FakeReply{503, ""};
  });
  OpenAiJudgeOptions o = Options(*server);
  o.max_retries = 0;
  o.breaker_failures = 3;
  o.breaker_cooldown_ms = 200;
  auto judge = MakeJudge(o);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(judge->Complete(Request(), CheckContext{}),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  }
  // Open: refused without a request.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(
      judge->Complete(Request(), CheckContext{}),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("circuit open after 3 consecutive failures")));
  EXPECT_LT(ElapsedMs(t0), 50.0);
  EXPECT_EQ(server->requests(), 3);
  EXPECT_EQ(judge->stats().breaker_opens, 1);
  EXPECT_EQ(judge->stats().fast_failures, 1);
  // After the cooldown one probe goes through; it fails, so the circuit reopens at once.
  std::this_thread::sleep_for(Ms(220));
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("circuit open")));
  EXPECT_EQ(server->requests(), 4);
  EXPECT_EQ(judge->stats().breaker_opens, 2);
  // The endpoint recovers: the next probe succeeds and closes the circuit.
  healthy = true;
  std::this_thread::sleep_for(Ms(220));
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}), IsOkAndHolds(std::string("Verdict: [[A]]")));
  EXPECT_THAT(judge->Complete(Request(), CheckContext{}), IsOkAndHolds(std::string("Verdict: [[A]]")));
  EXPECT_EQ(server->requests(), 6);
}

TEST(GenrmOpenAiJudgeTest, LeastOutstandingRoutingPrefersTheFreeReplica) {
  auto slow = StartServer([](const nlohmann::json&, int) { return FakeReply{200, "slow", "", 200}; });
  auto fast = StartServer([](const nlohmann::json&, int) { return FakeReply{200, "fast", "", 5}; });
  OpenAiJudgeOptions o = Options(*slow);
  o.urls = {slow->url(), fast->url()};
  o.max_in_flight = 4;
  auto judge = MakeJudge(o);
  // 8 callers, each calling 5 times: the slow replica holds its requests 40x longer, so once it has one in
  // flight the fast replica (fewer outstanding) takes the rest.
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 5; ++k) EXPECT_TRUE(judge->Complete(Request(), CheckContext{}).ok());
    });
  }
  for (std::thread& t : threads) t.join();
  OpenAiJudgeStats s = judge->stats();
  ASSERT_EQ(s.endpoint_attempts.size(), 2u);
  EXPECT_EQ(s.endpoint_attempts[0] + s.endpoint_attempts[1], 40);
  EXPECT_EQ(s.endpoint_attempts[0], slow->requests());
  EXPECT_EQ(s.endpoint_attempts[1], fast->requests());
  EXPECT_GT(fast->requests(), 3 * slow->requests());
  EXPECT_LE(slow->peak_concurrency(), 4);
  EXPECT_LE(fast->peak_concurrency(), 4);
}

TEST(GenrmOpenAiJudgeTest, DeadReplicaIsRoutedAround) {
  auto dead = StartServer([](const nlohmann::json&, int) { return FakeReply{503, ""}; });
  auto live = StartServer([](const nlohmann::json&, int) { return FakeReply{200, "ok"}; });
  OpenAiJudgeOptions o = Options(*dead);
  o.urls = {dead->url(), live->url()};
  o.breaker_failures = 2;
  o.breaker_cooldown_ms = 60000;
  auto judge = MakeJudge(o);
  for (int i = 0; i < 20; ++i)
    EXPECT_THAT(judge->Complete(Request(), CheckContext{}), IsOkAndHolds(std::string("ok")));
  // The dead replica got requests until its circuit opened (2 failures), then none; every call succeeded.
  EXPECT_EQ(dead->requests(), 2);
  EXPECT_EQ(live->requests(), 20);
  EXPECT_EQ(judge->stats().breaker_opens, 1);
  EXPECT_EQ(judge->stats().retries, 2);
}

TEST(GenrmOpenAiJudgeTest, CancellationStopsAWaitingCall) {
  auto server = StartServer([](const nlohmann::json&, int) { return FakeReply{200, "ok", "", 5000}; });
  auto judge = MakeJudge(Options(*server));
  std::atomic<bool> cancelled{false};
  CheckContext ctx;
  ctx.cancelled = &cancelled;
  std::thread canceller([&] {
    std::this_thread::sleep_for(Ms(150));
    cancelled = true;
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(judge->Complete(Request(), ctx),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("cancelled")));
  EXPECT_LT(ElapsedMs(t0), 2000.0);
  canceller.join();
}

}  // namespace
}  // namespace m1rl::reward::genrm
