#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

TEST(SortingTest, ByValue) {
  const nlohmann::json asc = {{"values", {5, -3, 8, 0, 5}}, {"key", "value"}, {"order", "asc"}};
  EXPECT_EQ(Kind("sorting", asc, "-3, 0, 5, 5, 8"), kCorrect);
  EXPECT_EQ(Kind("sorting", asc, "[-3 0 5 5 8]"), kCorrect);
  std::string why;
  EXPECT_EQ(Kind("sorting", asc, "-3, 5, 0, 5, 8", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("positions 2 and 3"));
  EXPECT_EQ(Kind("sorting", asc, "-3, 0, 5, 8", &why), kIncorrect);  // a duplicate dropped
  EXPECT_THAT(why, HasSubstr("not a permutation"));
  EXPECT_EQ(Kind("sorting", asc, "-3, 0, 5, 6, 8"), kIncorrect);  // a value changed
  EXPECT_EQ(Kind("sorting", asc, "8, 5, 5, 0, -3"), kIncorrect);  // reversed
  const nlohmann::json desc = {{"values", {5, -3, 8, 0, 5}}, {"key", "value"}, {"order", "desc"}};
  EXPECT_EQ(Kind("sorting", desc, "8, 5, 5, 0, -3"), kCorrect);
  EXPECT_EQ(Kind("sorting", desc, "-3, 0, 5, 5, 8"), kIncorrect);
}

TEST(SortingTest, ByAbsoluteValueTiesInAnyOrder) {
  const nlohmann::json inst = {{"values", {3, -1, -3, 2}}, {"key", "abs"}, {"order", "asc"}};
  EXPECT_EQ(Kind("sorting", inst, "-1, 2, 3, -3"), kCorrect);
  EXPECT_EQ(Kind("sorting", inst, "-1, 2, -3, 3"), kCorrect);    // alternative: the tie swapped
  EXPECT_EQ(Kind("sorting", inst, "-3, -1, 2, 3"), kIncorrect);  // sorted by value, not |value|
  EXPECT_EQ(Kind("sorting", inst, "-1, 2, 3, 3"), kIncorrect);   // sign lost
}

TEST(SortingTest, Unparseable) {
  const nlohmann::json inst = {{"values", {2, 1}}, {"key", "value"}, {"order", "asc"}};
  for (const char* bad : {"one, two", "1.0, 2.0", "", "1 < 2", "[1, 2"}) {
    EXPECT_EQ(Kind("sorting", inst, bad), kUnparseable) << bad;
  }
}

TEST(SortingTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("sorting", {{"values", {1}}, {"key", "size"}, {"order", "asc"}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.key: must be value|abs")));
  EXPECT_THAT(InstanceStatus("sorting", {{"values", {1}}, {"key", "value"}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.order: missing")));
  EXPECT_THAT(
      InstanceStatus("sorting", {{"values", {1, "2"}}, {"key", "value"}, {"order", "asc"}}, "1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.values[1]: expected an integer")));
  EXPECT_THAT(
      InstanceStatus("sorting", {{"values", nlohmann::json::array()}, {"key", "value"}, {"order", "asc"}},
                     "1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.values: expected 1..1000 elements")));
}

}  // namespace
}  // namespace m1rl::reward::logic
