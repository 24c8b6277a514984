#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

// Two disks on A, move to C in 3 moves: disk 1 A->B, disk 2 A->C, disk 1 B->C.
const nlohmann::json kTwo = {{"start", "AA"}, {"target", "C"}, {"max_moves", 3}};

TEST(HanoiTest, OptimalSolutionInAnyNotation) {
  EXPECT_EQ(Kind("hanoi", kTwo, "AB, AC, BC"), kCorrect);
  EXPECT_EQ(Kind("hanoi", kTwo, "A->B A->C B->C"), kCorrect);
  EXPECT_EQ(Kind("hanoi", kTwo, "a-b;a>c;BC"), kCorrect);
  // Three disks, the classic 7 moves.
  EXPECT_EQ(Kind("hanoi", {{"start", "AAA"}, {"target", "C"}, {"max_moves", 7}}, "AC AB CB AC BA BC AC"),
            kCorrect);
  // A scattered start, disk 1 on C and disk 2 on A, target B: disk 2 A->B, then disk 1 C->B.
  EXPECT_EQ(Kind("hanoi", {{"start", "CA"}, {"target", "B"}, {"max_moves", 2}}, "AB, CB"), kCorrect);
}

TEST(HanoiTest, AlternativeWithinABudgetAccepted) {
  const nlohmann::json loose = {{"start", "AA"}, {"target", "C"}, {"max_moves", 5}};
  // Disk 1 A->C, C->B, disk 2 A->C, disk 1 B->C: 4 legal moves.
  EXPECT_EQ(Kind("hanoi", loose, "AC, CB, AC, BC"), kCorrect);
  EXPECT_EQ(Kind("hanoi", loose, "AB, AC, BC"), kCorrect);
  std::string why;
  EXPECT_EQ(Kind("hanoi", kTwo, "AC, CB, AC, BC", &why), kIncorrect);  // 4 > 3
  EXPECT_THAT(why, HasSubstr("exceed the budget of 3"));
}

TEST(HanoiTest, IllegalOrIncompleteRejected) {
  std::string why;
  EXPECT_EQ(Kind("hanoi", kTwo, "AC, AC", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("puts disk 2 on disk 1"));
  EXPECT_EQ(Kind("hanoi", kTwo, "BC", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("empty peg B"));
  EXPECT_EQ(Kind("hanoi", kTwo, "AA", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("does not move"));
  EXPECT_EQ(Kind("hanoi", kTwo, "AB, AC", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("1 disks are not on peg C"));
  EXPECT_EQ(Kind("hanoi", kTwo, "AC, AB, CB"), kIncorrect);  // all on B, not C
  EXPECT_EQ(Kind("hanoi", kTwo, ""), kIncorrect);
}

TEST(HanoiTest, Unparseable) {
  for (const char* bad : {"move disk 1 to B", "AD", "A", "1->3", "A C"}) {
    EXPECT_EQ(Kind("hanoi", kTwo, bad), kUnparseable) << bad;
  }
}

TEST(HanoiTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("hanoi", {{"start", ""}, {"target", "C"}, {"max_moves", 3}}, "AC"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.start: no disks")));
  EXPECT_THAT(InstanceStatus("hanoi", {{"start", "AD"}, {"target", "C"}, {"max_moves", 3}}, "AC"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.start: disk 2 is on 'D'")));
  EXPECT_THAT(InstanceStatus("hanoi", {{"start", "AA"}, {"target", "D"}, {"max_moves", 3}}, "AC"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.target")));
  EXPECT_THAT(InstanceStatus("hanoi", {{"start", "AA"}, {"target", "C"}}, "AC"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.max_moves: missing")));
}

}  // namespace
}  // namespace m1rl::reward::logic
