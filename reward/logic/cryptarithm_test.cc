#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

const nlohmann::json kSendMore = {{"addends", {"SEND", "MORE"}}, {"result", "MONEY"}};
// The unique solution: 9567 + 1085 = 10652.
constexpr const char* kSendMoreWitness = "S=9, E=5, N=6, D=7, M=1, O=0, R=8, Y=2";

TEST(CryptarithmTest, ClassicPuzzle) {
  EXPECT_EQ(Kind("cryptarithm", kSendMore, kSendMoreWitness), kCorrect);
  EXPECT_EQ(Kind("cryptarithm", kSendMore, "s=9;e=5;n=6;d=7;m=1;o=0;r=8;y=2"), kCorrect);  // lower case, ';'
  EXPECT_EQ(Kind("cryptarithm", kSendMore, "Y=2 R=8 O=0 M=1 D=7 N=6 E=5 S=9"), kCorrect);  // any order
}

TEST(CryptarithmTest, AlternativeSolutionsAccepted) {
  // A + B = C has many solutions: 1+2=3, 2+1=3, 2+5=7 ...
  const nlohmann::json inst = {{"addends", {"A", "B"}}, {"result", "C"}};
  EXPECT_EQ(Kind("cryptarithm", inst, "A=1, B=2, C=3"), kCorrect);
  EXPECT_EQ(Kind("cryptarithm", inst, "A=2, B=1, C=3"), kCorrect);
  EXPECT_EQ(Kind("cryptarithm", inst, "A=2, B=5, C=7"), kCorrect);
  EXPECT_EQ(Kind("cryptarithm", inst, "A=0, B=5, C=5"), kIncorrect);  // B and C share 5
  EXPECT_EQ(Kind("cryptarithm", inst, "A=1, B=2, C=4"), kIncorrect);
}

TEST(CryptarithmTest, NearMisses) {
  std::string why;
  // Swapping the digits of D and Y: 9562 + 1085 = 10647 != 10657.
  EXPECT_EQ(Kind("cryptarithm", kSendMore, "S=9, E=5, N=6, D=2, M=1, O=0, R=8, Y=7", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("sum to"));
  EXPECT_EQ(Kind("cryptarithm", kSendMore, "S=9, E=5, N=6, D=7, M=1, O=0, R=8", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("Y has no digit"));
  EXPECT_EQ(Kind("cryptarithm", kSendMore, "S=9, E=5, N=6, D=7, M=1, O=0, R=8, Y=2, Q=3", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("Q is not in the puzzle"));
  EXPECT_EQ(Kind("cryptarithm", kSendMore, "S=9, E=5, N=6, D=7, M=1, O=0, R=8, Y=2, Y=2", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("twice"));
  // Leading zero: 0+1=1 with A=0 is arithmetic-true but AB-style words may not start with 0.
  const nlohmann::json lead = {{"addends", {"AB", "C"}}, {"result", "AD"}};
  EXPECT_EQ(Kind("cryptarithm", lead, "A=0, B=1, C=2, D=3", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("starts with 0"));
  EXPECT_EQ(Kind("cryptarithm", lead, "A=1, B=1, C=2, D=3", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("share digit"));
  EXPECT_EQ(Kind("cryptarithm", lead, "A=1, B=0, C=2, D=2", &why), kIncorrect);  // C and D share 2
  EXPECT_EQ(Kind("cryptarithm", lead, "A=1, B=0, C=2, D=4"), kIncorrect);        // 10+2 != 14
  EXPECT_EQ(Kind("cryptarithm", lead, "A=1, B=0, C=3, D=3"), kIncorrect);
  EXPECT_EQ(Kind("cryptarithm", lead, "A=1, B=0, C=4, D=3"), kIncorrect);  // 10+4 != 13
  EXPECT_EQ(Kind("cryptarithm", lead, "A=1, B=0, C=3, D=4"), kIncorrect);  // 10+3 = 13 != 14
  EXPECT_EQ(Kind("cryptarithm", lead, "A=1, B=2, C=3, D=5"), kCorrect);    // 12+3 = 15
}

TEST(CryptarithmTest, Unparseable) {
  for (const char* bad : {"", "S:9", "S=99", "S=", "9=S", "S=9 E", "SEND=9567", "S=9, E=five"}) {
    EXPECT_EQ(Kind("cryptarithm", kSendMore, bad), kUnparseable) << bad;
  }
}

TEST(CryptarithmTest, MalformedInstance) {
  EXPECT_THAT(
      InstanceStatus("cryptarithm", {{"addends", {"SEND"}}, {"result", "MONEY"}}, "S=1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.addends: expected an array of 2..5")));
  EXPECT_THAT(InstanceStatus("cryptarithm", {{"addends", {"SEND", "more"}}, {"result", "MONEY"}}, "S=1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.addends[1]")));
  EXPECT_THAT(InstanceStatus("cryptarithm", {{"addends", {"SEND", "MORE"}}}, "S=1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.result: missing")));
  EXPECT_THAT(InstanceStatus("cryptarithm", {{"addends", {"ABCDEF", "GHIJK"}}, {"result", "LMN"}}, "A=1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than 10 distinct letters")));
}

}  // namespace
}  // namespace m1rl::reward::logic
