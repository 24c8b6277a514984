#include "reward/math/math_verifier.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward {
namespace {

using ::testing::HasSubstr;

class MathVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_verifier = NewMathVerifier({.cas_workers = 2}).release(); }
  static void TearDownTestSuite() {
    delete shared_verifier;
    shared_verifier = nullptr;
  }
  static VerifyOutcome V(const std::string& gold, const std::string& response,
                         nlohmann::json options = nlohmann::json::object(), CheckContext ctx = {}) {
    VerifyInput in;
    in.domain = "math";
    in.gold = gold;
    in.response = response;
    in.options = std::move(options);
    return shared_verifier->Verify(in, ctx);
  }
  static Verifier* shared_verifier;
};
Verifier* MathVerifierTest::shared_verifier = nullptr;

TEST_F(MathVerifierTest, DomainAndVersion) {
  EXPECT_EQ(shared_verifier->domain(), "math");
  EXPECT_EQ(shared_verifier->version(), kMathVerifierVersion);
}

TEST_F(MathVerifierTest, CorrectWithFormat) {
  VerifyOutcome o = V("\\frac{1}{2}", "<think>hmm</think> so \\boxed{0.5}");
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::CORRECT);
  EXPECT_EQ(o.correctness, 1.0);
  EXPECT_EQ(o.format, 1.0);
  EXPECT_THAT(o.details, HasSubstr("layer=decimal_tolerance"));
  EXPECT_EQ(o.normalized_gold, "\\frac{1}{2}");
  EXPECT_EQ(o.normalized_pred, "0.5");
}

TEST_F(MathVerifierTest, FormatNeedsTheRequiredForm) {
  VerifyOutcome o = V("3", "Answer: 3");
  EXPECT_EQ(o.verdict, rl::CORRECT);
  EXPECT_EQ(o.format, 0.0);  // boxed is the default required form
  VerifyOutcome any = V("3", "Answer: 3", {{"answer_form", "any"}});
  EXPECT_EQ(any.format, 1.0);
}

TEST_F(MathVerifierTest, HedgingIsFormatZeroAndOnlyTheLastCounts) {
  VerifyOutcome o = V("2", "\\boxed{2} or maybe \\boxed{3}");
  EXPECT_EQ(o.verdict, rl::INCORRECT);  // never "any candidate matches"
  EXPECT_EQ(o.format, 0.0);
  EXPECT_THAT(o.details, HasSubstr("hedging=1"));
  VerifyOutcome same = V("2", "\\boxed{2}, i.e. \\boxed{\\frac{4}{2}}");
  EXPECT_EQ(same.verdict, rl::CORRECT);
  EXPECT_EQ(same.format, 0.0);  // distinct forms are still two answers
  VerifyOutcome repeated = V("2", "\\boxed{2} so \\boxed{2}");
  EXPECT_EQ(repeated.format, 1.0);  // one answer, written twice
}

TEST_F(MathVerifierTest, RequireThink) {
  EXPECT_EQ(V("2", "\\boxed{2}", {{"require_think", true}}).format, 0.0);
  EXPECT_EQ(V("2", "<think>a</think>\\boxed{2}", {{"require_think", true}}).format, 1.0);
  EXPECT_EQ(V("2", "x<think>a</think>\\boxed{2}", {{"require_think", true}}).format, 0.0);
}

TEST_F(MathVerifierTest, NoAnswer) {
  VerifyOutcome t = V("2", "<think>so \\boxed{2} is");
  EXPECT_EQ(t.status, rl::OK);
  EXPECT_EQ(t.verdict, rl::NO_ANSWER);
  EXPECT_EQ(t.format, 0.0);
  EXPECT_THAT(t.details, HasSubstr("truncated"));
  EXPECT_EQ(V("2", "I do not know").verdict, rl::NO_ANSWER);
  EXPECT_EQ(V("2", "it is 2", {{"extract", "eval"}}).verdict, rl::CORRECT);
}

TEST_F(MathVerifierTest, InvalidInput) {
  VerifyOutcome g = V("\\frac{1}{", "\\boxed{1}");
  EXPECT_EQ(g.status, rl::INVALID_INPUT);
  EXPECT_THAT(g.details, HasSubstr("GOLD_UNPARSEABLE"));
  EXPECT_THAT(g.details, HasSubstr("\\frac{1}{"));
  EXPECT_EQ(V("  ", "\\boxed{1}").status, rl::INVALID_INPUT);
  VerifyOutcome o = V("1", "\\boxed{1}", {{"rel_tolerence", 0.1}});
  EXPECT_EQ(o.status, rl::INVALID_INPUT);
  EXPECT_THAT(o.details, HasSubstr("options.rel_tolerence"));
  EXPECT_THAT(V("1", "\\boxed{1}", {{"rel_tolerance", -1}}).details, HasSubstr("options.rel_tolerance"));
  EXPECT_THAT(V("1", "\\boxed{1}", {{"require_think", "yes"}}).details, HasSubstr("options.require_think"));
}

TEST(MathVerifierPoolTest, NoCasPoolIsInternalOnlyForSymbolicChecks) {
  MathVerifierOptions o;
  o.cas_workers = -1;  // CasPool::Create rejects it: the verifier runs without CAS workers
  std::unique_ptr<Verifier> v = NewMathVerifier(o);
  VerifyInput in;
  in.gold = "\\frac{1}{2}";
  in.response = "\\boxed{0.5}";
  EXPECT_EQ(v->Verify(in, {}).verdict, rl::CORRECT);  // layers 1-4 need no CAS
  in.gold = "(x+1)^2";
  in.response = "\\boxed{x^2+2x+1}";
  VerifyOutcome out = v->Verify(in, {});
  EXPECT_EQ(out.status, rl::INTERNAL);
  EXPECT_THAT(out.details, HasSubstr("num_workers"));
}

TEST(CheckMathGoldTest, NamesTheGold) {
  EXPECT_TRUE(CheckMathGold("\\frac{1}{2}").ok());
  EXPECT_TRUE(CheckMathGold("\\boxed{(1, 2)}").ok());
  absl::Status s = CheckMathGold("\\int_0^1 x\\,dx");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("GOLD_UNPARSEABLE"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("\\int_0^1"));
  EXPECT_EQ(CheckMathGold("").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MathVerifierTest, ToleranceOverridablePerItem) {
  EXPECT_EQ(V("3.14159", "\\boxed{3.14159}", {{"rel_tolerance", 0}}).verdict, rl::CORRECT);  // 0 = default
  EXPECT_EQ(V("3.14159", "\\boxed{3.14}").verdict, rl::INCORRECT);
  EXPECT_EQ(V("3.14159", "\\boxed{3.14}", {{"rel_tolerance", 1e-2}}).verdict, rl::CORRECT);
}

TEST_F(MathVerifierTest, PathologicalInputTimesOutPromptly) {
  CheckContext ctx;
  ctx.deadline = Clock::now() + std::chrono::milliseconds(150);
  auto t0 = Clock::now();
  VerifyOutcome o = V("(a+b+c+d+f+g)^{40}", "\\boxed{(a+b+c+d+f+g+1)^{40}}", nlohmann::json::object(), ctx);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_EQ(o.status, rl::TIMEOUT) << o.details;
  EXPECT_LT(ms, 1000);  // 150 ms budget + 20 ms poll slice + kill/respawn, generous for loaded CI
  // The verifier still works afterwards (respawned worker).
  EXPECT_EQ(V("x^2+2x+1", "\\boxed{(x+1)^2}").verdict, rl::CORRECT);
  EXPECT_GE(GetMathVerifierCounters(*shared_verifier).cas_restarts, 1);
}

TEST_F(MathVerifierTest, ExpiredAndCancelled) {
  CheckContext past;
  past.deadline = Clock::now() - std::chrono::milliseconds(1);
  EXPECT_EQ(V("1", "\\boxed{1}", nlohmann::json::object(), past).status, rl::TIMEOUT);
  std::atomic<bool> cancel{true};
  CheckContext c;
  c.cancelled = &cancel;
  EXPECT_EQ(V("1", "\\boxed{1}", nlohmann::json::object(), c).status, rl::CANCELLED);
}

TEST_F(MathVerifierTest, TooComplex) {
  VerifyOutcome o = V("2", "\\boxed{2^{2^{20}}}");
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_THAT(o.details, HasSubstr("too_complex"));
  VerifyOutcome big = V("2", "\\boxed{" + std::string(3000, '1') + "}");
  EXPECT_EQ(big.verdict, rl::INCORRECT);
  EXPECT_THAT(big.details, HasSubstr("too_complex"));
}

TEST_F(MathVerifierTest, ConcurrentCallers) {
  std::atomic<int> correct{0};
  std::vector<std::thread> ts;
  ts.reserve(6);
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&, i] {
      for (int k = 0; k < 10; ++k) {
        int n = i * 10 + k;
        std::string g = "(x+" + std::to_string(n) + ")^2";
        std::string p = "\\boxed{x^2+" + std::to_string(2 * n) + "x+" + std::to_string(n * n) + "}";
        if (V(g, p).verdict == rl::CORRECT) ++correct;
        if (V(std::to_string(n) + "/3", "\\boxed{\\frac{" + std::to_string(n) + "}{3}}").verdict ==
            rl::CORRECT)
          ++correct;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(correct.load(), 120);
}

}  // namespace
}  // namespace m1rl::reward
