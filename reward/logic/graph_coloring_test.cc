#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

// A 5-cycle 0-1-2-3-4-0 needs 3 colours.
const nlohmann::json kCycle = {
    {"num_vertices", 5}, {"num_colors", 3}, {"edges", {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 0}}}};

TEST(GraphColoringTest, AnyProperColouringAccepted) {
  EXPECT_EQ(Kind("graph_coloring", kCycle, "0 1 0 1 2"), kCorrect);
  EXPECT_EQ(Kind("graph_coloring", kCycle, "1 2 1 2 0"), kCorrect);        // colours permuted
  EXPECT_EQ(Kind("graph_coloring", kCycle, "[0, 1, 2, 0, 1]"), kCorrect);  // another colouring
}

TEST(GraphColoringTest, NearMissesRejected) {
  std::string why;
  EXPECT_EQ(Kind("graph_coloring", kCycle, "0 1 0 1 0", &why), kIncorrect);  // 4-0 clash
  EXPECT_THAT(why, HasSubstr("edge 4-0"));
  EXPECT_EQ(Kind("graph_coloring", kCycle, "0 1 0 1 3", &why), kIncorrect);  // colour 3 of 0..2
  EXPECT_THAT(why, HasSubstr("outside 0..2"));
  EXPECT_EQ(Kind("graph_coloring", kCycle, "0 1 0 1", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("expected 5 colors, got 4"));
  EXPECT_EQ(Kind("graph_coloring", kCycle, "0 1 0 1 2 0"), kIncorrect);
  EXPECT_EQ(Kind("graph_coloring", kCycle, "0 1 0 1 -1"), kIncorrect);
}

TEST(GraphColoringTest, Unparseable) {
  for (const char* bad : {"red green red green blue", "0 1 0 1 2.0", "", "0:0 1:1", "v0=0"}) {
    EXPECT_EQ(Kind("graph_coloring", kCycle, bad), kUnparseable) << bad;
  }
}

TEST(GraphColoringTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("graph_coloring", {{"num_vertices", 3}, {"num_colors", 2}, {"edges", {{0, 3}}}},
                             "0 1 0"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instance.edges[0]: entries must be in [0, 2]")));
  EXPECT_THAT(
      InstanceStatus("graph_coloring", {{"num_vertices", 3}, {"edges", nlohmann::json::array()}}, "0 1 0"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.num_colors: missing")));
  EXPECT_THAT(
      InstanceStatus("graph_coloring",
                     {{"num_vertices", 0}, {"num_colors", 2}, {"edges", nlohmann::json::array()}}, "0"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.num_vertices: must be in [1, 1000]")));
  EXPECT_THAT(InstanceStatus("graph_coloring",
                             {{"num_vertices", 3}, {"num_colors", 2}, {"edges", {{0, 1, 2}}}}, "0 1 0"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.edges[0]: expected a pair")));
  EXPECT_THAT(InstanceStatus("graph_coloring",
                             {{"num_vertices", 3}, {"num_colors", 2}, {"edges", {{0, 1}, {2, 2}}}}, "0 1 0"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.edges[1]: self-loop")));
}

}  // namespace
}  // namespace m1rl::reward::logic
