#include "common/flags.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

TEST(FlagSetTest, ParsesEveryKindAndForm) {
  std::string s = "a";
  int64_t n = 1;
  double x = 0.5;
  bool b = false, c = true;
  std::vector<std::string> sets;
  FlagSet flags("t", "test");
  flags.AddString("s", &s, "");
  flags.AddInt("n", &n, "");
  flags.AddDouble("x", &x, "");
  flags.AddBool("b", &b, "");
  flags.AddBool("c", &c, "");
  flags.AddRepeated("set", &sets, "");
  ASSERT_THAT(
      flags.Parse({"--s=hello", "--n", "42", "--x=-2.5", "--b", "--noc", "--set", "a.b=1", "--set=c=2"}),
      IsOk());
  EXPECT_EQ(s, "hello");
  EXPECT_EQ(n, 42);
  EXPECT_EQ(x, -2.5);
  EXPECT_TRUE(b);
  EXPECT_FALSE(c);
  EXPECT_THAT(sets, ::testing::ElementsAre("a.b=1", "c=2"));
  EXPECT_TRUE(flags.IsSet("n"));
}

TEST(FlagSetTest, ErrorsNameTheFlag) {
  int64_t n = 1;
  FlagSet flags("t", "test");
  flags.AddInt("steps", &n, "");
  EXPECT_THAT(flags.Parse({"--stpes=3"}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--stpes")));
  EXPECT_THAT(flags.Parse({"--steps=three"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--steps")));
  EXPECT_THAT(flags.Parse({"--steps"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--steps needs a value")));
  EXPECT_THAT(flags.Parse({"stray"}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stray")));
}

TEST(FlagSetTest, HelpListsFlagsWithDefaults) {
  int64_t n = 7;
  FlagSet flags("m1rl x", "does x");
  flags.AddInt("steps", &n, "number of steps");
  ASSERT_THAT(flags.Parse({"--help"}), IsOk());
  EXPECT_TRUE(flags.help_requested());
  EXPECT_THAT(flags.Usage(), HasSubstr("--steps"));
  EXPECT_THAT(flags.Usage(), HasSubstr("[default: 7]"));
}

TEST(FlagSetTest, ParseForCommandGivesTheEarlyExitCodes) {
  int64_t n = 0;
  {
    FlagSet flags("m1rl x", "does x");
    flags.AddInt("steps", &n, "number of steps");
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(flags.ParseForCommand({"--bogus"}, 3), std::optional<int>(3));
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_THAT(err, HasSubstr("m1rl x: unknown flag --bogus"));
    EXPECT_THAT(err, ::testing::Not(HasSubstr("m1rl x: m1rl x")));
    EXPECT_THAT(err, HasSubstr("usage: m1rl x"));
  }
  {
    FlagSet flags("m1rl x", "does x");
    flags.AddInt("steps", &n, "number of steps");
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(flags.ParseForCommand({"--help"}), std::optional<int>(0));
    EXPECT_THAT(::testing::internal::GetCapturedStdout(), HasSubstr("--steps"));
  }
  FlagSet flags("m1rl x", "does x");
  flags.AddInt("steps", &n, "number of steps");
  EXPECT_EQ(flags.ParseForCommand({"--steps=4"}), std::nullopt);
  EXPECT_EQ(n, 4);
}

}  // namespace
}  // namespace m1rl
