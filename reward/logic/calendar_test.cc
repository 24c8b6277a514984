#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

nlohmann::json Weekday(const char* date) { return {{"question", "weekday"}, {"date", date}}; }
nlohmann::json Between(const char* from, const char* to) {
  return {{"question", "days_between"}, {"from", from}, {"to", to}};
}

TEST(CalendarTest, HandCheckedWeekdays) {
  EXPECT_EQ(Kind("calendar", Weekday("2000-02-29"), "Tuesday"), kCorrect);  // 2000 is a leap year
  EXPECT_EQ(Kind("calendar", Weekday("2024-01-01"), "Monday"), kCorrect);
  EXPECT_EQ(Kind("calendar", Weekday("1970-01-01"), "thursday"), kCorrect);   // the Unix epoch, any case
  EXPECT_EQ(Kind("calendar", Weekday("0001-01-01"), " MONDAY\n"), kCorrect);  // proleptic Gregorian
  EXPECT_EQ(Kind("calendar", Weekday("1969-07-20"), "Sunday"), kCorrect);     // Apollo 11 landing
  std::string why;
  EXPECT_EQ(Kind("calendar", Weekday("2024-01-01"), "Tuesday", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("2024-01-01 is not a Tuesday"));
}

TEST(CalendarTest, HandCheckedDayCounts) {
  EXPECT_EQ(Kind("calendar", Between("2000-01-01", "2001-01-01"), "366"), kCorrect);  // leap year
  EXPECT_EQ(Kind("calendar", Between("1900-01-01", "1901-01-01"), "365"), kCorrect);  // 1900 is not
  EXPECT_EQ(Kind("calendar", Between("2024-01-01", "2024-03-01"), "60"), kCorrect);   // 31 + 29
  EXPECT_EQ(Kind("calendar", Between("2024-03-01", "2024-01-01"), "-60"), kCorrect);  // signed
  EXPECT_EQ(Kind("calendar", Between("2024-01-01", "2024-01-01"), "0"), kCorrect);
  std::string why;
  EXPECT_EQ(Kind("calendar", Between("2024-01-01", "2024-03-01"), "59", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("is not 59 days"));
  EXPECT_EQ(Kind("calendar", Between("2024-01-01", "2024-03-01"), "61"), kIncorrect);  // inclusive count
}

TEST(CalendarTest, Unparseable) {
  for (const char* bad : {"", "Tues", "Tuesday.", "2", "Funday"}) {
    EXPECT_EQ(Kind("calendar", Weekday("2000-02-29"), bad), kUnparseable) << bad;
  }
  for (const char* bad : {"", "60 days", "6O", "1e2", "60.0", "--60", "99999999999999999999"}) {
    EXPECT_EQ(Kind("calendar", Between("2024-01-01", "2024-03-01"), bad), kUnparseable) << bad;
  }
}

TEST(CalendarTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("calendar", Weekday("1900-02-29"), "Thursday"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instance.date: '1900-02-29' is not a valid date")));
  EXPECT_THAT(InstanceStatus("calendar", Weekday("2023-13-01"), "Monday"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.date: '2023-13-01'")));
  EXPECT_THAT(InstanceStatus("calendar", Weekday("2023-1-01"), "Monday"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not YYYY-MM-DD")));
  EXPECT_THAT(InstanceStatus("calendar", Weekday("0000-01-01"), "Monday"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.date: '0000-01-01'")));
  EXPECT_THAT(InstanceStatus("calendar", {{"question", "weekday"}}, "Monday"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.date: missing")));
  EXPECT_THAT(InstanceStatus("calendar", {{"question", "days_between"}, {"from", "2024-01-01"}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.to: missing")));
  EXPECT_THAT(InstanceStatus("calendar", {{"question", "month"}, {"date", "2024-01-01"}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.question")));
}

// Every generated witness verifies, the witness +1 (days) or the next weekday does not, and the same
// seed gives the same instance; both questions occur.
TEST(CalendarTest, GeneratedWitnessVerifiesAndIsDeterministic) {
  const TaskFamily* f = FindFamily("calendar");
  int weekday_questions = 0;
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      absl::StatusOr<CheckResult> ok = f->Check(g->instance, g->witness);
      ASSERT_TRUE(ok.ok()) << ok.status();
      EXPECT_TRUE(ok->correct()) << ok->reason;
      std::string wrong;
      if (g->instance["question"] == "weekday") {
        ++weekday_questions;
        wrong = g->witness == "Monday" ? "Tuesday" : "Monday";
      } else {
        EXPECT_GT(std::stoll(g->witness), 0);
        wrong = std::to_string(std::stoll(g->witness) + 1);
      }
      absl::StatusOr<CheckResult> ko = f->Check(g->instance, wrong);
      ASSERT_TRUE(ko.ok());
      EXPECT_EQ(ko->kind, kIncorrect) << wrong;
      absl::StatusOr<GeneratedInstance> again = f->Generate(seed, d);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(again->instance, g->instance);
    }
  }
  EXPECT_GT(weekday_questions, 40);
  EXPECT_LT(weekday_questions, 160);
}

}  // namespace
}  // namespace m1rl::reward::logic
