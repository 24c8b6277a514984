#include "reward/genrm/constraints.h"

#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward::genrm {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

std::optional<std::string> Check(const std::vector<std::string>& specs, const std::string& answer) {
  absl::StatusOr<std::vector<Constraint>> c = ParseConstraints(specs, "c");
  EXPECT_TRUE(c.ok()) << c.status();
  return FirstViolation(*c, answer);
}

TEST(GenrmConstraintsTest, EachRule) {
  EXPECT_EQ(Check({"max_words:3"}, "  one two\tthree\n"), std::nullopt);
  EXPECT_THAT(Check({"max_words:2"}, "one two three"), Optional(std::string("max_words:2 (3 words)")));
  EXPECT_THAT(Check({"min_words:4"}, "one two three"), Optional(std::string("min_words:4 (3 words)")));
  EXPECT_EQ(Check({"max_chars:5"}, "  hello  "), std::nullopt);  // trimmed: 5 chars
  EXPECT_THAT(Check({"min_chars:6"}, "hello"), Optional(std::string("min_chars:6 (5 chars)")));
  EXPECT_EQ(Check({"max_lines:2"}, "a\n\n  \nb\n"), std::nullopt);  // blank lines do not count
  EXPECT_THAT(Check({"min_lines:3"}, "a\nb"), Optional(std::string("min_lines:3 (2 lines)")));
  EXPECT_EQ(Check({"contains:a:b"}, "x a:b y"), std::nullopt);  // the argument keeps its colons
  EXPECT_THAT(Check({"contains:Paris"}, "paris"), Optional(std::string("contains:Paris (absent)")));
  EXPECT_THAT(Check({"not_contains:sorry"}, "I am sorry"),
              Optional(std::string("not_contains:sorry (present)")));
  EXPECT_EQ(Check({"starts_with:Dear", "ends_with:Bye."}, " Dear Sir, ... Bye. "), std::nullopt);
  EXPECT_THAT(Check({"ends_with:Bye."}, "Bye"), Optional(std::string("ends_with:Bye. (different end)")));
  EXPECT_EQ(Check({"lowercase"}, "all lower 123!"), std::nullopt);
  EXPECT_THAT(Check({"lowercase"}, "not Lower"), Optional(std::string("lowercase (has 'L')")));
  EXPECT_THAT(Check({"uppercase"}, "UPPEr"), Optional(std::string("uppercase (has 'r')")));
  EXPECT_EQ(Check({"json"}, " {\"a\": [1, 2]} "), std::nullopt);
  EXPECT_THAT(Check({"json"}, "{\"a\": }"), Optional(std::string("json (not JSON)")));
  // The first violated rule is reported.
  EXPECT_THAT(Check({"contains:x", "max_words:1", "min_chars:100"}, "x y"),
              Optional(std::string("max_words:1 (2 words)")));
}

TEST(GenrmConstraintsTest, ParseErrorsNameTheField) {
  EXPECT_THAT(ParseConstraints({"max_words:10", "max_words"}, "item.general.constraints"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("item.general.constraints[1] 'max_words': needs a count >= 0")));
  EXPECT_THAT(ParseConstraints({"min_chars:-1"}, "c"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("count")));
  EXPECT_THAT(ParseConstraints({"contains:"}, "c"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a text")));
  EXPECT_THAT(ParseConstraints({"json:yes"}, "c"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no argument")));
  EXPECT_THAT(ParseConstraints({"rhyme"}, "c"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown")));
}

}  // namespace
}  // namespace m1rl::reward::genrm
