#include "reward/service/scoring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/testing/status_matchers.h"
#include "reward/service/testing/fake_verifiers.h"

namespace m1rl::reward {
namespace {

using ::m1rl::testing::StatusIs;
using testing::FakeVerifier;
using ::testing::HasSubstr;

rl::ScoreItem GoldItem(std::string domain, std::string response, std::string gold) {
  rl::ScoreItem item;
  item.set_item_id("i");
  item.set_domain(std::move(domain));
  item.set_response(std::move(response));
  item.set_gold(std::move(gold));
  return item;
}

class ScoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.Register(std::make_unique<FakeVerifier>(FakeVerifier::Options{})).ok());
    FakeVerifier::Options throwing;
    throwing.domain = "throw";
    throwing.throw_error = true;
    ASSERT_TRUE(registry_.Register(std::make_unique<FakeVerifier>(throwing)).ok());
    ASSERT_TRUE(registry_.Register(NewFormatVerifier(FormatOptions{})).ok());
    rules_.correctness_weight = 1.0;
    rules_.format_weight = 0.25;
  }
  VerifierRegistry registry_;
  ScoringRules rules_;
};

TEST_F(ScoringTest, RegistryRejectsDuplicatesAndResolvesSubdomains) {
  EXPECT_THAT(registry_.Register(std::make_unique<FakeVerifier>(FakeVerifier::Options{})),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("'fake'")));
  EXPECT_THAT(registry_.Register(nullptr), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("null")));
  EXPECT_NE(registry_.Find("fake/sub"), nullptr);
  EXPECT_EQ(registry_.Find("fak"), nullptr);
  EXPECT_THAT(registry_.Domains(), ::testing::ElementsAre("fake", "format", "throw"));
}

TEST_F(ScoringTest, CorrectAndWellFormattedGetsWeightedTotal) {
  const rl::ScoreResult r =
      ScoreItemNow(registry_, rules_, GoldItem("fake", "<think>hm</think> 42", "42"), {});
  EXPECT_EQ(r.status(), rl::OK);
  EXPECT_EQ(r.verdict(), rl::CORRECT);
  EXPECT_EQ(r.components().correctness(), 1.0);
  EXPECT_EQ(r.components().format(), 1.0);
  EXPECT_DOUBLE_EQ(r.total(), 1.0 * 1.0 + 0.25 * 1.0);  // wc*c + wf*f
  EXPECT_EQ(r.normalized_pred(), "42");
  EXPECT_EQ(r.verifier_version(), "fake-1");
  EXPECT_FALSE(r.retryable());
}

TEST_F(ScoringTest, FormatIsAComponentSeparateFromCorrectness) {
  // Correct answer, but the think block is required by the item and missing: format 0.
  rl::ScoreItem item = GoldItem("fake", "42", "42");
  item.set_require_think(true);
  const rl::ScoreResult r = ScoreItemNow(registry_, rules_, item, {});
  EXPECT_EQ(r.status(), rl::OK);
  EXPECT_EQ(r.components().correctness(), 1.0);
  EXPECT_EQ(r.components().format(), 0.0);
  EXPECT_DOUBLE_EQ(r.total(), 1.0);
  EXPECT_THAT(r.details(), HasSubstr("format: missing </think>"));

  // Wrong answer, good format: only the format part.
  const rl::ScoreResult w = ScoreItemNow(registry_, rules_, GoldItem("fake", "<think>x</think>41", "42"), {});
  EXPECT_EQ(w.verdict(), rl::INCORRECT);
  EXPECT_DOUBLE_EQ(w.total(), 0.25);
}

TEST_F(ScoringTest, MathPayloadRequireThinkApplies) {
  rl::ScoreItem item;
  item.set_domain("fake");
  item.set_response("42");
  item.mutable_math()->set_gold("42");
  item.mutable_math()->set_require_think(true);
  EXPECT_EQ(ScoreItemNow(registry_, rules_, item, {}).components().format(), 0.0);
}

TEST_F(ScoringTest, MalformedItemsAreInvalidInputNamingTheField) {
  rl::ScoreItem no_domain = GoldItem("", "42", "42");
  rl::ScoreResult r = ScoreItemNow(registry_, rules_, no_domain, {});
  EXPECT_EQ(r.status(), rl::INVALID_INPUT);
  EXPECT_EQ(r.details(), "item.domain is empty");
  EXPECT_EQ(r.total(), 0.0);

  r = ScoreItemNow(registry_, rules_, GoldItem("chess", "42", "42"), {});
  EXPECT_EQ(r.status(), rl::INVALID_INPUT);
  EXPECT_EQ(r.details(), "item.domain: unknown domain 'chess' (known: fake, format, throw)");

  rl::ScoreItem empty_math;
  empty_math.set_domain("fake");
  empty_math.mutable_math();
  EXPECT_EQ(ScoreItemNow(registry_, rules_, empty_math, {}).details(), "item.math.gold is empty");

  rl::ScoreItem bad_tol = GoldItem("fake", "1", "1");
  bad_tol.mutable_math()->set_gold("1");
  bad_tol.mutable_math()->set_rel_tolerance(-1);
  EXPECT_THAT(ScoreItemNow(registry_, rules_, bad_tol, {}).details(), HasSubstr("item.math.rel_tolerance"));

  rl::ScoreItem empty_logic;
  empty_logic.set_domain("fake");
  empty_logic.mutable_logic()->set_family("sudoku");
  EXPECT_EQ(ScoreItemNow(registry_, rules_, empty_logic, {}).details(), "item.logic.instance_json is empty");
}

TEST_F(ScoringTest, ThrowingVerifierBecomesRetryableInternal) {
  const rl::ScoreResult r = ScoreItemNow(registry_, rules_, GoldItem("throw", "1", "1"), {});
  EXPECT_EQ(r.status(), rl::INTERNAL);
  EXPECT_TRUE(r.retryable());
  EXPECT_EQ(r.details(), "verifier 'throw' threw: fake verifier failure");
  EXPECT_EQ(r.total(), 0.0);
}

TEST_F(ScoringTest, VerifierTimeoutCarriesNoReward) {
  FakeVerifier::Options hang;
  hang.domain = "hang";
  hang.hang = true;
  ASSERT_TRUE(registry_.Register(std::make_unique<FakeVerifier>(hang)).ok());
  CheckContext ctx;
  ctx.deadline = Clock::now() + std::chrono::milliseconds(20);
  const rl::ScoreResult r = ScoreItemNow(registry_, rules_, GoldItem("hang", "1", "1"), ctx);
  EXPECT_EQ(r.status(), rl::TIMEOUT);
  EXPECT_EQ(r.verdict(), rl::VERDICT_UNSPECIFIED);
  EXPECT_EQ(r.total(), 0.0);
  EXPECT_EQ(r.components().correctness(), 0.0);
  EXPECT_FALSE(r.retryable());
}

TEST_F(ScoringTest, FormatDomainScoresOnlyFormat) {
  rl::ScoreItem item;
  item.set_domain("format");
  item.set_response("<think>r</think> done");
  item.set_require_think(true);
  rl::ScoreResult r = ScoreItemNow(registry_, rules_, item, {});
  EXPECT_EQ(r.status(), rl::OK);
  EXPECT_EQ(r.verdict(), rl::CORRECT);
  EXPECT_DOUBLE_EQ(r.total(), 1.25);
  item.set_response("done");
  r = ScoreItemNow(registry_, rules_, item, {});
  EXPECT_EQ(r.verdict(), rl::INCORRECT);
  EXPECT_DOUBLE_EQ(r.total(), 0.0);
}

TEST(IdempotencyKeyTest, DeterministicAndSensitiveToEveryInput) {
  rl::ScoreItem a = GoldItem("math", "x", "1");
  const std::string k = DeriveIdempotencyKey(a, "v1");
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, DeriveIdempotencyKey(a, "v1"));
  a.set_item_id("other id");  // item ids are per request, not part of the inputs
  EXPECT_EQ(k, DeriveIdempotencyKey(a, "v1"));
  EXPECT_NE(k, DeriveIdempotencyKey(a, "v2"));
  rl::ScoreItem b = GoldItem("math", "x", "2");
  EXPECT_NE(k, DeriveIdempotencyKey(b, "v1"));
  // Length prefixes: moving a character between fields changes the key.
  EXPECT_NE(DeriveIdempotencyKey(GoldItem("math", "ab", "c"), "v"),
            DeriveIdempotencyKey(GoldItem("math", "a", "bc"), "v"));
  rl::ScoreItem think = a;
  think.set_require_think(true);
  EXPECT_NE(k, DeriveIdempotencyKey(think, "v1"));
}

TEST(ToVerifyInputTest, MathOptionsPassThroughOnlyWhenSet) {
  rl::ScoreItem item;
  item.set_domain("math");
  item.mutable_math()->set_gold("1");
  absl::StatusOr<VerifyInput> plain = ToVerifyInput(item);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->options, nlohmann::json::object());
  item.mutable_math()->set_extract(rl::MATH_EXTRACT_EVAL);
  item.mutable_math()->set_decimal_places(0);  // set to 0 is not unset
  item.mutable_math()->set_ordered_lists(true);
  absl::StatusOr<VerifyInput> in = ToVerifyInput(item);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->options,
            (nlohmann::json{{"extract", "eval"}, {"decimal_places", 0}, {"ordered_lists", true}}));
  item.mutable_math()->set_extract(rl::MATH_EXTRACT_RL);
  EXPECT_EQ(ToVerifyInput(item)->options["extract"], "rl");
}

TEST(IdempotencyKeyTest, MathOptionsAreInputs) {
  rl::ScoreItem a;
  a.set_domain("math");
  a.mutable_math()->set_gold("1");
  const std::string k = DeriveIdempotencyKey(a, "v");
  rl::ScoreItem b = a;
  b.mutable_math()->set_extract(rl::MATH_EXTRACT_EVAL);
  EXPECT_NE(k, DeriveIdempotencyKey(b, "v"));
  b = a;
  b.mutable_math()->set_decimal_places(0);
  EXPECT_NE(k, DeriveIdempotencyKey(b, "v"));
  b = a;
  b.mutable_math()->set_ordered_lists(true);
  EXPECT_NE(k, DeriveIdempotencyKey(b, "v"));
}

TEST(IdempotencyKeyTest, Sha256OfKnownBytes) {
  // The key is sha256 over length-prefixed fields; check the hash primitive on the empty-field layout
  // independently: all-empty item, empty version. Expected value computed with Python hashlib:
  //   fields = [b"m1rl-score-v1", b"", b"", b"", b"0", b"", b""]
  //   sha256(b"".join(len(f).to_bytes(8, "little") + f for f in fields)).hexdigest()
  rl::ScoreItem empty;
  EXPECT_EQ(DeriveIdempotencyKey(empty, ""),
            "5cf8ae69359222c5777ee352a0c1b1d663fdd63173aeb316356924b021606152");
}

}  // namespace
}  // namespace m1rl::reward
