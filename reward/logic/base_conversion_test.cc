#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

nlohmann::json Convert(const char* value, int from, int to) {
  return {{"value", value}, {"from_base", from}, {"to_base", to}};
}

TEST(BaseConversionTest, HandCheckedConversions) {
  EXPECT_EQ(Kind("base_conversion", Convert("255", 10, 16), "ff"), kCorrect);
  EXPECT_EQ(Kind("base_conversion", Convert("255", 10, 16), "FF"), kCorrect);  // either case
  EXPECT_EQ(Kind("base_conversion", Convert("FF", 16, 2), "11111111"), kCorrect);
  EXPECT_EQ(Kind("base_conversion", Convert("777", 8, 16), "1Ff"), kCorrect);   // 511
  EXPECT_EQ(Kind("base_conversion", Convert("1295", 10, 36), "zz"), kCorrect);  // 35*36+35
  EXPECT_EQ(Kind("base_conversion", Convert("0", 7, 3), "0"), kCorrect);
  EXPECT_EQ(Kind("base_conversion", Convert("4611686018427387904", 10, 16), " 4000000000000000\n"),
            kCorrect);  // 2^62
}

TEST(BaseConversionTest, WrongAnswersRejected) {
  std::string why;
  EXPECT_EQ(Kind("base_conversion", Convert("255", 10, 16), "0ff", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("leading zeros"));
  EXPECT_EQ(Kind("base_conversion", Convert("255", 10, 16), "fe", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("is not the base-16 form"));
  EXPECT_EQ(Kind("base_conversion", Convert("255", 10, 16), "255"), kIncorrect);  // not converted
  EXPECT_EQ(Kind("base_conversion", Convert("0", 10, 2), "00"), kIncorrect);
}

TEST(BaseConversionTest, Unparseable) {
  const std::string too_long(65, '1');
  for (const char* bad : {"", "0xff", "-ff", "f f", "ff.", "fg", too_long.c_str()}) {
    EXPECT_EQ(Kind("base_conversion", Convert("255", 10, 16), bad), kUnparseable) << bad;
  }
}

TEST(BaseConversionTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("base_conversion", Convert("129", 8, 10), "1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instance.value: '129' is not a base-8 number: digit '9'")));
  EXPECT_THAT(InstanceStatus("base_conversion", Convert("", 8, 10), "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.value")));
  EXPECT_THAT(InstanceStatus("base_conversion", Convert("4611686018427387905", 10, 2), "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exceeds 2^62")));
  EXPECT_THAT(
      InstanceStatus("base_conversion", Convert("12", 37, 10), "1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.from_base: must be in [2, 36]")));
  EXPECT_THAT(InstanceStatus("base_conversion", {{"value", "12"}, {"from_base", 10}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.to_base: missing")));
}

// Every generated witness verifies, an off-by-one last digit does not, and the same seed gives the
// same instance.
TEST(BaseConversionTest, GeneratedWitnessVerifiesAndIsDeterministic) {
  const TaskFamily* f = FindFamily("base_conversion");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_NE(g->instance["from_base"], g->instance["to_base"]);
      absl::StatusOr<CheckResult> ok = f->Check(g->instance, g->witness);
      ASSERT_TRUE(ok.ok()) << ok.status();
      EXPECT_TRUE(ok->correct()) << ok->reason;
      std::string wrong = g->witness;
      wrong.back() = wrong.back() == '1' ? '0' : '1';  // '1' and '0' are digits in every base
      if (wrong == "01") wrong = "1";
      absl::StatusOr<CheckResult> ko = f->Check(g->instance, wrong);
      ASSERT_TRUE(ko.ok());
      EXPECT_EQ(ko->kind, kIncorrect) << wrong;
      absl::StatusOr<GeneratedInstance> again = f->Generate(seed, d);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(again->instance, g->instance);
    }
  }
}

}  // namespace
}  // namespace m1rl::reward::logic
