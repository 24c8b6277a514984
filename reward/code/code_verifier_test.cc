#include "reward/code/code_verifier.h"

#include <atomic>
#include <set>
#include <thread>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class CodeVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config::SandboxConfig config;
    config.set_slots(2);
    absl::StatusOr<sandbox::SandboxOptions> options = sandbox::ResolveSandboxOptions(config);
    ASSERT_TRUE(options.ok()) << options.status();
    absl::StatusOr<std::unique_ptr<sandbox::SandboxPool>> pool = sandbox::SandboxPool::Create(*options);
    ASSERT_TRUE(pool.ok()) << pool.status();
    shared_pool = new std::shared_ptr<sandbox::SandboxPool>(std::move(*pool));
  }
  static void TearDownTestSuite() {
    delete shared_pool;
    shared_pool = nullptr;
  }

  // An item whose tests add two integers: "2 3" -> 5, "3 4" -> 7.
  static rl::ScoreItem AddItem(rl::CodePayload::Language language, const std::string& source) {
    rl::ScoreItem item;
    item.set_domain("code");
    const std::string tag = language == rl::CodePayload::CPP ? "cpp" : "python";
    item.set_response("<think>plan</think>Here:\n```" + tag + "\n" + source + "\n```\n");
    rl::CodePayload* code = item.mutable_code();
    code->set_language(language);
    rl::CodeTest* t = code->add_tests();
    t->set_id("a");
    t->set_stdin("2 3\n");
    t->set_expected("5\n");
    t = code->add_tests();
    t->set_id("b");
    t->set_stdin("3 4\n");
    t->set_expected("7\n");
    return item;
  }

  static VerifyOutcome Verify(const rl::ScoreItem& item, code::CodeOptions options = {}) {
    CheckContext ctx;
    ctx.deadline = Clock::now() + std::chrono::seconds(60);
    return VerifyIn(ctx, item, std::move(options));
  }
  static VerifyOutcome VerifyIn(const CheckContext& ctx, const rl::ScoreItem& item,
                                code::CodeOptions options = {}) {
    std::unique_ptr<Verifier> verifier = NewCodeVerifier(*shared_pool, std::move(options));
    VerifyInput input;
    input.domain = item.domain();
    input.response = item.response();
    input.item = &item;
    return verifier->Verify(input, ctx);
  }

  static std::shared_ptr<sandbox::SandboxPool>* shared_pool;
};
std::shared_ptr<sandbox::SandboxPool>* CodeVerifierTest::shared_pool = nullptr;

constexpr char kPyAdd[] = "a, b = map(int, input().split())\nprint(a + b)";

TEST_F(CodeVerifierTest, PythonCorrectIsAccepted) {
  VerifyOutcome o = Verify(AddItem(rl::CodePayload::PYTHON3, kPyAdd));
  EXPECT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.verdict, rl::CORRECT);
  EXPECT_EQ(o.correctness, 1.0);
  EXPECT_EQ(o.details, "2/2 accepted: a=ACCEPTED b=ACCEPTED");
}

TEST_F(CodeVerifierTest, PythonWrongAnswerScoresZeroOrPartialCredit) {
  const std::string wrong = "a, b = map(int, input().split())\nprint(a + b if a == 2 else a * b)";
  VerifyOutcome o = Verify(AddItem(rl::CodePayload::PYTHON3, wrong));
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_EQ(o.correctness, 0.0);
  EXPECT_EQ(o.details, "1/2 accepted: a=ACCEPTED b=WRONG_ANSWER(token 1: expected '7', got '12')");
  code::CodeOptions partial;
  partial.partial_credit = true;
  o = Verify(AddItem(rl::CodePayload::PYTHON3, wrong), partial);
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_EQ(o.correctness, 0.5);
}

TEST_F(CodeVerifierTest, TimeMemoryRuntimeAndOutputVerdicts) {
  rl::ScoreItem item = AddItem(rl::CodePayload::PYTHON3, "while True: pass");
  item.mutable_code()->set_time_limit_ms(300);
  item.mutable_code()->mutable_tests()->RemoveLast();
  VerifyOutcome o = Verify(item);
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_THAT(o.details, StartsWith("0/1 accepted: a=TIME_LIMIT(cpu "));

  item = AddItem(rl::CodePayload::PYTHON3, "x = bytearray(512 << 20)\nprint(5)");
  item.mutable_code()->set_memory_bytes(int64_t{128} << 20);
  item.mutable_code()->mutable_tests()->RemoveLast();
  o = Verify(item);
  EXPECT_THAT(o.details, StartsWith("0/1 accepted: a=MEMORY_LIMIT("));

  item = AddItem(rl::CodePayload::PYTHON3, "raise ValueError('boom')");
  item.mutable_code()->mutable_tests()->RemoveLast();
  o = Verify(item);
  EXPECT_EQ(o.details, "0/1 accepted: a=RUNTIME_ERROR(exit 1)");

  item = AddItem(rl::CodePayload::PYTHON3, "while True: print('5' * 1000)");
  item.mutable_code()->mutable_tests()->RemoveLast();
  o = Verify(item);
  EXPECT_EQ(o.details, "0/1 accepted: a=RUNTIME_ERROR(output_limit)");
}

TEST_F(CodeVerifierTest, CppAcceptedRuntimeErrorAndCompileError) {
  // Correct on "2 3"; dereferences null on "3 4" (SIGSEGV).
  const std::string cpp =
      "#include <cstdio>\nint main() { int a, b; std::scanf(\"%d %d\", &a, &b);\n"
      "  if (a == 3) { volatile int* p = nullptr; *p = 1; }\n  std::printf(\"%d\\n\", a + b); }";
  VerifyOutcome o = Verify(AddItem(rl::CodePayload::CPP, cpp));
  EXPECT_EQ(o.status, rl::OK) << o.details;
  EXPECT_EQ(o.details, "1/2 accepted: a=ACCEPTED b=RUNTIME_ERROR(signal 11)");

  o = Verify(AddItem(rl::CodePayload::CPP, "int main() { return undeclared; }"));
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_THAT(o.details, StartsWith("0/2 accepted: a=COMPILE_ERROR b=COMPILE_ERROR; compile log: "));
  EXPECT_THAT(o.details, HasSubstr("undeclared"));
  EXPECT_THAT(o.details, HasSubstr("was not declared in this scope"));
}

// REWARDS.md §4 anti-hacking: self-printed verdicts and an early successful exit are not evidence.
TEST_F(CodeVerifierTest, SelfPrintedVerdictsAndEarlyExitAreWrongAnswers) {
  VerifyOutcome o = Verify(AddItem(rl::CodePayload::PYTHON3, "print('ACCEPTED')\nprint('All tests PASSED')"));
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_EQ(o.correctness, 0.0);
  EXPECT_THAT(o.details, StartsWith("0/2 accepted: a=WRONG_ANSWER(token 1: expected '5', got 'ACCEPTED')"));
  o = Verify(AddItem(rl::CodePayload::PYTHON3, "import sys\nsys.exit(0)\nprint(5)"));
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_EQ(
      o.details,
      "0/2 accepted: a=WRONG_ANSWER(expected 1 tokens, got 0) b=WRONG_ANSWER(expected 1 tokens, got 0)");
  // The expected outputs are not in the sandbox: the program sees only its stdin.
  o = Verify(
      AddItem(rl::CodePayload::PYTHON3, "import os\nprint(sorted(os.listdir('/src')), os.listdir('/out'))"));
  EXPECT_THAT(o.details, HasSubstr("got '['main.py']')"));
}

TEST_F(CodeVerifierTest, FloatChecker) {
  rl::ScoreItem item = AddItem(rl::CodePayload::PYTHON3, "print(1 / 3)");
  item.mutable_code()->mutable_tests()->RemoveLast();
  item.mutable_code()->mutable_tests(0)->set_expected("0.333333");
  item.mutable_code()->set_checker(rl::CodePayload::FLOAT);
  EXPECT_EQ(Verify(item).verdict, rl::CORRECT);  // |1/3 - 0.333333| = 3.3e-7 <= 1e-6
  item.mutable_code()->set_float_abs(1e-9);
  item.mutable_code()->set_float_rel(1e-9);
  EXPECT_EQ(Verify(item).verdict, rl::INCORRECT);
}

TEST_F(CodeVerifierTest, NoCodeBlockIsNoAnswer) {
  rl::ScoreItem item = AddItem(rl::CodePayload::PYTHON3, kPyAdd);
  item.set_response("print(5)");
  VerifyOutcome o = Verify(item);
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::NO_ANSWER);
  EXPECT_EQ(o.correctness, 0.0);
}

TEST_F(CodeVerifierTest, MalformedPayloadsAreInvalidInputNamingTheField) {
  rl::ScoreItem item = AddItem(rl::CodePayload::PYTHON3, kPyAdd);
  item.mutable_code()->set_language(rl::CodePayload::LANGUAGE_UNSPECIFIED);
  VerifyOutcome o = Verify(item);
  EXPECT_EQ(o.status, rl::INVALID_INPUT);
  EXPECT_EQ(o.details, "item.code.language must be PYTHON3 or CPP, got LANGUAGE_UNSPECIFIED");
  item = AddItem(rl::CodePayload::PYTHON3, kPyAdd);
  item.mutable_code()->clear_tests();
  EXPECT_EQ(Verify(item).details, "item.code.tests is empty");
  item = AddItem(rl::CodePayload::PYTHON3, kPyAdd);
  item.mutable_code()->set_float_abs(-1);
  EXPECT_EQ(Verify(item).details, "item.code.float_abs must be >= 0, got -1");
  item = AddItem(rl::CodePayload::PYTHON3, kPyAdd);
  item.mutable_code()->set_time_limit_ms(600000);
  EXPECT_EQ(Verify(item).details, "item.code.time_limit_ms must be in [0, 60000], got 600000");
  item.clear_code();
  o = Verify(item);
  EXPECT_EQ(o.status, rl::INVALID_INPUT);
  EXPECT_EQ(o.details, "item.code: missing (domain code needs a CodePayload)");
}

TEST_F(CodeVerifierTest, MissingInterpreterIsInfraErrorNotAVerdict) {
  code::CodeOptions options;
  options.python_path = "/usr/bin/m1rl-no-such-python";
  VerifyOutcome o = Verify(AddItem(rl::CodePayload::PYTHON3, kPyAdd), options);
  EXPECT_EQ(o.status, rl::INFRA_ERROR);
  EXPECT_THAT(o.details, HasSubstr("could not start /usr/bin/m1rl-no-such-python"));
}

// REWARDS.md §7: a cancel kills running work within 1 s.
TEST_F(CodeVerifierTest, CancelKillsTheRunningProgram) {
  rl::ScoreItem item = AddItem(rl::CodePayload::PYTHON3, "import time\ntime.sleep(3)\nprint(5)");
  std::atomic<bool> cancel{false};
  CheckContext ctx;
  ctx.deadline = Clock::now() + std::chrono::seconds(60);
  ctx.cancelled = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.store(true);
  });
  const auto start = Clock::now();
  VerifyOutcome o = VerifyIn(ctx, item);
  const double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  canceller.join();
  EXPECT_EQ(o.status, rl::CANCELLED) << o.details;
  EXPECT_LT(elapsed_ms, 300.0 + 1000.0);
}

TEST_F(CodeVerifierTest, ExpiredDeadlineIsTimeoutNotAVerdict) {
  rl::ScoreItem item = AddItem(rl::CodePayload::PYTHON3, "import time\ntime.sleep(1)\nprint(5)");
  CheckContext ctx;
  ctx.deadline = Clock::now() + std::chrono::milliseconds(300);
  const auto start = Clock::now();
  VerifyOutcome o = VerifyIn(ctx, item);
  EXPECT_EQ(o.status, rl::TIMEOUT) << o.details;
  const double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  EXPECT_LT(elapsed_ms, 300.0 + 1000.0);
}

// REWARDS.md §4 checklist 9: identical reruns give identical verdicts (100 runs of a one-test item that
// is wrong on that test, 2 callers).
TEST_F(CodeVerifierTest, HundredRerunsGiveIdenticalVerdicts) {
  const std::string wrong = "a, b = map(int, input().split())\nprint(a + b if a == 2 else 0)";
  rl::ScoreItem item = AddItem(rl::CodePayload::PYTHON3, wrong);
  item.mutable_code()->mutable_tests()->DeleteSubrange(0, 1);
  std::mutex mu;
  std::multiset<std::string> seen;
  std::vector<std::thread> callers;
  callers.reserve(2);
  for (int c = 0; c < 2; ++c) {
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        VerifyOutcome o = Verify(item);
        std::lock_guard<std::mutex> lock(mu);
        seen.insert(absl::StrCat(o.status, "/", o.verdict, "/", o.correctness, "/", o.details));
      }
    });
  }
  for (std::thread& t : callers) t.join();
  ASSERT_EQ(seen.size(), 100u);
  EXPECT_EQ(seen.count(*seen.begin()), 100u) << *seen.begin() << " vs " << *seen.rbegin();
  EXPECT_EQ(*seen.begin(), "1/2/0/0/1 accepted: b=WRONG_ANSWER(token 1: expected '7', got '0')");
}

TEST(CodeExtractTest, LastCompleteBlockAfterTheReasoning) {
  EXPECT_EQ(code::ExtractCode("```py\nprint(1)\n```\ntext\n```python\nprint(2)\n```").source, "print(2)\n");
  EXPECT_EQ(code::ExtractCode("<think>```\nprint(0)\n```</think>```cpp\nint main(){}\n```").source,
            "int main(){}\n");
  EXPECT_FALSE(code::ExtractCode("<think>```\nprint(0)\n```").found);  // truncated reasoning
  EXPECT_FALSE(code::ExtractCode("```python\nprint(1)").found);        // unterminated block
  EXPECT_FALSE(code::ExtractCode("print(1)").found);
}

TEST(CodeOptionsTest, ResolvesDefaultsAndRejectsBadFields) {
  absl::StatusOr<code::CodeOptions> o = code::ResolveCodeOptions(config::CodeConfig());
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->time_limit_ms, 2000);
  EXPECT_EQ(o->memory_bytes, int64_t{256} << 20);
  EXPECT_FALSE(o->partial_credit);
  config::CodeConfig bad;
  bad.set_time_limit_ms(-5);
  EXPECT_THAT(code::ResolveCodeOptions(bad).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "reward.code.time_limit_ms must be >= 0, got -5"));
  bad.Clear();
  bad.set_python_path("/root/.pyenv/shims/python3");
  EXPECT_THAT(
      code::ResolveCodeOptions(bad).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reward.code.python_path must be under /usr/")));
}

}  // namespace
}  // namespace m1rl::reward
