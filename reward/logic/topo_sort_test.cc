#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

// A before B, A before C, B before D, C before D: exactly two orders, A B C D and A C B D.
const nlohmann::json kDiamond = {{"num_tasks", 4}, {"edges", {{0, 1}, {0, 2}, {1, 3}, {2, 3}}}};

TEST(TopoSortTest, EveryValidOrderAccepted) {
  EXPECT_EQ(Kind("topo_sort", kDiamond, "A B C D"), kCorrect);
  EXPECT_EQ(Kind("topo_sort", kDiamond, "A C B D"), kCorrect);  // the other valid order
  EXPECT_EQ(Kind("topo_sort", kDiamond, "a, c, b, d"), kCorrect);
  EXPECT_EQ(Kind("topo_sort", kDiamond, " A,B,C,D\n"), kCorrect);
}

TEST(TopoSortTest, ViolationsRejected) {
  std::string why;
  EXPECT_EQ(Kind("topo_sort", kDiamond, "B A C D", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("A before B"));
  EXPECT_EQ(Kind("topo_sort", kDiamond, "A B D C", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("C before D"));
  EXPECT_EQ(Kind("topo_sort", kDiamond, "A B C", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("expected 4 tasks, got 3"));
  EXPECT_EQ(Kind("topo_sort", kDiamond, "A B B D", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("appears twice"));
  EXPECT_EQ(Kind("topo_sort", kDiamond, "A B C E", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("not one of A..D"));
}

TEST(TopoSortTest, Unparseable) {
  for (const char* bad : {"", "AB CD", "A -> B -> C -> D", "1 2 3 4", "A;B;C;D", "T1 T2 T3 T4"}) {
    EXPECT_EQ(Kind("topo_sort", kDiamond, bad), kUnparseable) << bad;
  }
}

TEST(TopoSortTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("topo_sort", {{"edges", nlohmann::json::array()}}, "A"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.num_tasks: missing")));
  EXPECT_THAT(
      InstanceStatus("topo_sort", {{"num_tasks", 27}, {"edges", nlohmann::json::array()}}, "A"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.num_tasks: must be in [1, 26]")));
  EXPECT_THAT(InstanceStatus("topo_sort", {{"num_tasks", 3}, {"edges", {{0, 3}}}}, "A B C"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.edges[0]")));
  EXPECT_THAT(InstanceStatus("topo_sort", {{"num_tasks", 3}, {"edges", {{0, 1}, {1, 2}, {2, 0}}}}, "A B C"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instance.edges: the constraints contain a cycle")));
  EXPECT_THAT(InstanceStatus("topo_sort", {{"num_tasks", 3}, {"edges", {{1, 1}}}}, "A B C"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.edges")));
}

// Every generated witness verifies, reversing it breaks a constraint, and the instance is the same
// for the same seed.
TEST(TopoSortTest, GeneratedWitnessVerifiesAndIsDeterministic) {
  const TaskFamily* f = FindFamily("topo_sort");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_EQ(g->instance["num_tasks"], 3 + 2 * d);
      absl::StatusOr<CheckResult> ok = f->Check(g->instance, g->witness);
      ASSERT_TRUE(ok.ok()) << ok.status();
      EXPECT_TRUE(ok->correct()) << ok->reason;
      std::string reversed(g->witness.rbegin(), g->witness.rend());
      absl::StatusOr<CheckResult> ko = f->Check(g->instance, reversed);
      ASSERT_TRUE(ko.ok());
      EXPECT_EQ(ko->kind, kIncorrect) << reversed;  // every instance has at least one constraint
      absl::StatusOr<GeneratedInstance> again = f->Generate(seed, d);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(again->instance, g->instance);
      EXPECT_EQ(again->prompt, g->prompt);
    }
  }
}

}  // namespace
}  // namespace m1rl::reward::logic
