#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

const nlohmann::json kInst = {{"prefix", "([{}<"}};  // open: ( [ <  -> shortest completion ">])"

TEST(DyckTest, ShortestAndLongerCompletionsAccepted) {
  EXPECT_EQ(Kind("dyck", kInst, ">])"), kCorrect);
  EXPECT_EQ(Kind("dyck", kInst, " > ] ) "), kCorrect);
  EXPECT_EQ(Kind("dyck", kInst, ">]())"), kCorrect);      // alternative: an extra balanced pair
  EXPECT_EQ(Kind("dyck", kInst, "{}>][]){}"), kCorrect);  // alternative
}

TEST(DyckTest, NearMissesRejected) {
  std::string why;
  EXPECT_EQ(Kind("dyck", kInst, ">]", &why), kIncorrect);  // one left open
  EXPECT_THAT(why, HasSubstr("1 brackets left open"));
  EXPECT_EQ(Kind("dyck", kInst, "])>", &why), kIncorrect);  // wrong order
  EXPECT_THAT(why, HasSubstr("does not match"));
  EXPECT_EQ(Kind("dyck", kInst, ">]))", &why), kIncorrect);  // one too many
  EXPECT_THAT(why, HasSubstr("nothing to close"));
  EXPECT_EQ(Kind("dyck", kInst, ">)]"), kIncorrect);
  EXPECT_EQ(Kind("dyck", kInst, ""), kIncorrect);
  // L1: echoing the whole balanced sequence is not a completion of the prefix.
  EXPECT_EQ(Kind("dyck", kInst, "([{}<>])"), kIncorrect);
}

TEST(DyckTest, Unparseable) {
  for (const char* bad : {">])!", "> ] ) done", "close all: >])", "\">])\""}) {
    EXPECT_EQ(Kind("dyck", kInst, bad), kUnparseable) << bad;
  }
}

TEST(DyckTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("dyck", nlohmann::json::object(), ")"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.prefix: missing")));
  EXPECT_THAT(InstanceStatus("dyck", {{"prefix", "(a"}}, ")"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.prefix: character 'a'")));
  EXPECT_THAT(InstanceStatus("dyck", {{"prefix", "(]"}}, ")"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.prefix: unmatched ']'")));
}

}  // namespace
}  // namespace m1rl::reward::logic
