#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

const nlohmann::json kInst = {{"numbers", {3, 5, 9, 4}}, {"target", 12}};

TEST(SubsetSumTest, AnySubsetWithTheSumAccepted) {
  EXPECT_EQ(Kind("subset_sum", kInst, "3, 9"), kCorrect);
  EXPECT_EQ(Kind("subset_sum", kInst, "9 + 3"), kCorrect);
  EXPECT_EQ(Kind("subset_sum", kInst, "5 + 4 + 3"), kCorrect);  // alternative: 5+4+3 = 12
  EXPECT_EQ(Kind("subset_sum", kInst, "[3, 5, 4]"), kCorrect);
}

TEST(SubsetSumTest, NearMissesRejected) {
  std::string why;
  EXPECT_EQ(Kind("subset_sum", kInst, "5, 9", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("sums to 14, not 12"));
  EXPECT_EQ(Kind("subset_sum", kInst, "4, 4, 4", &why), kIncorrect);  // 12, but 4 is given once
  EXPECT_THAT(why, HasSubstr("uses 4 more often"));
  EXPECT_EQ(Kind("subset_sum", kInst, "12", &why), kIncorrect);  // the target itself is not a given number
  EXPECT_EQ(Kind("subset_sum", kInst, "3, 9, 0"), kIncorrect);
  EXPECT_EQ(Kind("subset_sum", kInst, "15, -3"), kIncorrect);
}

TEST(SubsetSumTest, Unparseable) {
  for (const char* bad : {"three and nine", "3.0, 9", "", "{3, 9}"}) {
    EXPECT_EQ(Kind("subset_sum", kInst, bad), kUnparseable) << bad;
  }
}

TEST(SubsetSumTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("subset_sum", {{"numbers", {3, 0}}, {"target", 3}}, "3"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instance.numbers[1]: must be in [1, 1000000]")));
  EXPECT_THAT(InstanceStatus("subset_sum", {{"numbers", {3}}}, "3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.target: missing")));
}

}  // namespace
}  // namespace m1rl::reward::logic
