#include "reward/genrm/general_verifier.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/genrm/testing/scripted_judge.h"

namespace m1rl::reward {
namespace {

using genrm::JudgeRequest;
using genrm::testing::BlockAfter;
using genrm::testing::ScriptedJudge;
using ::testing::HasSubstr;

std::shared_ptr<const genrm::GenRm> MakeGenRm(std::shared_ptr<ScriptedJudge> judge) {
  return std::make_shared<const genrm::GenRm>(std::move(judge),
                                              *genrm::ResolveGenrmOptions(config::GenrmConfig()));
}

VerifyInput Graded(std::string response) {
  VerifyInput in;
  in.domain = "general";
  in.prompt = "Name the capital of France.";
  in.gold = "Paris";
  in.response = std::move(response);
  return in;
}

TEST(GenrmGeneralVerifierTest, GradesTheFinalSegment) {
  std::string seen;
  auto judge =
      std::make_shared<ScriptedJudge>([&](const JudgeRequest& r, int) -> absl::StatusOr<std::string> {
        seen = BlockAfter(r.messages[1].content, "RESPONSE:");
        return std::string(seen == "Paris." ? "Grade: [[5]]" : "Grade: [[2]]");
      });
  auto v = NewGeneralVerifier(MakeGenRm(judge));
  EXPECT_EQ(v->domain(), "general");
  EXPECT_THAT(std::string(v->version()), HasSubstr("genrm-1/scripted/"));
  VerifyOutcome o = v->Verify(Graded("<think>Lyon? no.</think>\n Paris.\n"), CheckContext{});
  EXPECT_EQ(seen, "Paris.");
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::CORRECT);
  EXPECT_DOUBLE_EQ(o.correctness, 1.0);
  EXPECT_DOUBLE_EQ(o.format, 1.0);
  EXPECT_EQ(o.details, "grade 5 (1 judge calls)");
  o = v->Verify(Graded("Lyon"), CheckContext{});
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_DOUBLE_EQ(o.correctness, 0.25);
}

TEST(GenrmGeneralVerifierTest, TruncatedOrEmptyIsNoAnswerWithoutAJudgeCall) {
  auto judge = std::make_shared<ScriptedJudge>(
      [](const JudgeRequest&, int) -> absl::StatusOr<std::string> { return std::string("Grade: [[5]]"); });
  auto v = NewGeneralVerifier(MakeGenRm(judge));
  VerifyOutcome o = v->Verify(Graded("<think>Paris is the capital"), CheckContext{});
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::NO_ANSWER);
  EXPECT_DOUBLE_EQ(o.correctness, 0.0);
  EXPECT_THAT(o.details, HasSubstr("truncated"));
  EXPECT_EQ(v->Verify(Graded("<think>x</think>  \n"), CheckContext{}).verdict, rl::NO_ANSWER);
  EXPECT_EQ(judge->calls(), 0);
}

TEST(GenrmGeneralVerifierTest, PairwiseAgainstAReference) {
  // Position-biased unless the candidate is clearly better ("Paris" vs the reference "Lyon").
  auto judge = std::make_shared<ScriptedJudge>([](const JudgeRequest& r, int) -> absl::StatusOr<std::string> {
    std::string a = BlockAfter(r.messages[1].content, "ANSWER A:");
    std::string b = BlockAfter(r.messages[1].content, "ANSWER B:");
    if (a == "Paris") return std::string("Verdict: [[A]]");
    if (b == "Paris") return std::string("Verdict: [[B]]");
    return std::string("Verdict: [[A]]");
  });
  auto v = NewGeneralVerifier(MakeGenRm(judge));
  VerifyInput in = Graded("Paris");
  in.gold.clear();
  in.options["reference"] = "Lyon";
  VerifyOutcome o = v->Verify(in, CheckContext{});
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::CORRECT);
  EXPECT_DOUBLE_EQ(o.correctness, 1.0);
  EXPECT_EQ(o.details, "pairwise +1 (candidate first: A, reference first: B)");
  in.response = "Marseille";
  o = v->Verify(in, CheckContext{});
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_DOUBLE_EQ(o.correctness, 0.0);
  EXPECT_EQ(o.details, "pairwise 0 (candidate first: A, reference first: A) disagreement");
}

TEST(GenrmGeneralVerifierTest, ConstraintsAreCheckedBeforeTheJudge) {
  auto judge = std::make_shared<ScriptedJudge>([](const JudgeRequest& r, int) -> absl::StatusOr<std::string> {
    return std::string(r.messages[1].content.find("ANSWER A:") != std::string::npos ? "Verdict: [[A]]"
                                                                                    : "Grade: [[5]]");
  });
  auto v = NewGeneralVerifier(MakeGenRm(judge));
  VerifyInput in = Graded("<think>x</think>Paris is the capital of France.");
  in.gold.clear();
  in.options["reference"] = "Lyon";
  in.options["constraints"] = {"max_words:3", "contains:Paris"};
  VerifyOutcome o = v->Verify(in, CheckContext{});
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_EQ(o.verdict, rl::INCORRECT);
  EXPECT_DOUBLE_EQ(o.correctness, -1.0);
  EXPECT_EQ(o.details, "constraint failed: max_words:3 (6 words)");
  EXPECT_EQ(judge->calls(), 0);
  in.response = "Paris.";
  o = v->Verify(in, CheckContext{});
  EXPECT_EQ(o.details, "pairwise 0 (candidate first: A, reference first: A) disagreement");
  EXPECT_EQ(judge->calls(), 2);
  VerifyInput graded = Graded("Lyon");
  graded.options["constraints"] = {"contains:Paris"};
  o = v->Verify(graded, CheckContext{});
  EXPECT_DOUBLE_EQ(o.correctness, 0.0);  // reward_min
  EXPECT_EQ(o.details, "constraint failed: contains:Paris (absent)");
  graded.options["constraints"] = {"max_wordz:3"};
  o = v->Verify(graded, CheckContext{});
  EXPECT_EQ(o.status, rl::INVALID_INPUT);
  EXPECT_EQ(o.details, "item.general.constraints[0] 'max_wordz:3': unknown constraint");
  graded.options["constraints"] = "max_words:3";
  EXPECT_EQ(v->Verify(graded, CheckContext{}).details, "item.general.constraints must be strings");
}

TEST(GenrmGeneralVerifierTest, FailuresAreStatusesNotScores) {
  auto v_input = NewGeneralVerifier(MakeGenRm(std::make_shared<ScriptedJudge>(
      [](const JudgeRequest&, int) -> absl::StatusOr<std::string> { return std::string("Grade: [[5]]"); })));
  VerifyInput none = Graded("Paris");
  none.gold.clear();
  VerifyOutcome o = v_input->Verify(none, CheckContext{});
  EXPECT_EQ(o.status, rl::INVALID_INPUT);
  EXPECT_EQ(o.details, "item.general: needs a ground_truth or a reference");
  VerifyInput both = Graded("Paris");
  both.options["reference"] = "Lyon";
  EXPECT_EQ(v_input->Verify(both, CheckContext{}).details,
            "item.general: ground_truth and reference are exclusive");

  struct Case {
    absl::StatusOr<std::string> reply;
    rl::ItemStatus status;
    std::string details;
  };
  for (const Case& c : {Case{std::string("looks right to me"), rl::JUDGE_ERROR, "no 'Grade: [[1-5]]'"},
                        Case{absl::DeadlineExceededError("judge call timed out"), rl::TIMEOUT, "timed out"},
                        Case{absl::CancelledError("judge call cancelled"), rl::CANCELLED, "cancelled"},
                        Case{absl::UnavailableError("HTTP 503"), rl::INFRA_ERROR, "503"},
                        Case{absl::FailedPreconditionError("HTTP 400"), rl::INFRA_ERROR, "400"},
                        Case{absl::DataLossError("judge reply is not JSON"), rl::INFRA_ERROR, "not JSON"}}) {
    auto v = NewGeneralVerifier(MakeGenRm(std::make_shared<ScriptedJudge>(
        [&c](const JudgeRequest&, int) -> absl::StatusOr<std::string> { return c.reply; })));
    VerifyOutcome out = v->Verify(Graded("Paris"), CheckContext{});
    EXPECT_EQ(out.status, c.status) << c.details;
    EXPECT_THAT(out.details, HasSubstr(c.details));
    EXPECT_EQ(out.verdict, rl::VERDICT_UNSPECIFIED);
  }
}

}  // namespace
}  // namespace m1rl::reward
