#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

// Diamond 1-2-4 and 1-3-4 with unit weights plus a direct 1-4 of weight 5: by hand the shortest
// distance is 2, reached by 1 2 4 and 1 3 4.
const nlohmann::json kDiamond = {{"num_nodes", 4},
                                 {"edges", {{1, 2, 1}, {1, 3, 1}, {2, 4, 1}, {3, 4, 1}, {1, 4, 5}}},
                                 {"source", 1},
                                 {"target", 4}};

TEST(ShortestPathTest, EveryShortestPathAccepted) {
  EXPECT_EQ(Kind("shortest_path", kDiamond, "1 2 4"), kCorrect);
  EXPECT_EQ(Kind("shortest_path", kDiamond, "1, 3, 4"), kCorrect);
  EXPECT_EQ(Kind("shortest_path", kDiamond, "[1 3 4]"), kCorrect);
}

TEST(ShortestPathTest, ViolationsRejected) {
  std::string why;
  EXPECT_EQ(Kind("shortest_path", kDiamond, "1 4", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("the path has length 5, the shortest is 2"));
  EXPECT_EQ(Kind("shortest_path", kDiamond, "1 2 1 3 4", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("length 4"));
  EXPECT_EQ(Kind("shortest_path", kDiamond, "1 2 3 4", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("no edge 2-3"));
  EXPECT_EQ(Kind("shortest_path", kDiamond, "2 4", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("starts at 2, not at 1"));
  EXPECT_EQ(Kind("shortest_path", kDiamond, "1 2", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("ends at 2, not at 4"));
  EXPECT_EQ(Kind("shortest_path", kDiamond, "1 7 4", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("node 7 is not in 1..4"));
  // Parallel edges: the cheaper one counts.
  const nlohmann::json parallel = {
      {"num_nodes", 2}, {"edges", {{1, 2, 9}, {2, 1, 3}}}, {"source", 1}, {"target", 2}};
  EXPECT_EQ(Kind("shortest_path", parallel, "1 2"), kCorrect);
}

TEST(ShortestPathTest, Unparseable) {
  for (const char* bad : {"", "1 -> 2 -> 4", "A B D", "1;2;x"}) {
    EXPECT_EQ(Kind("shortest_path", kDiamond, bad), kUnparseable) << bad;
  }
}

TEST(ShortestPathTest, MalformedInstance) {
  nlohmann::json bad = kDiamond;
  bad.erase("num_nodes");
  EXPECT_THAT(InstanceStatus("shortest_path", bad, "1 2 4"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.num_nodes: missing")));
  bad = kDiamond;
  bad["edges"][0] = {1, 1, 2};
  EXPECT_THAT(InstanceStatus("shortest_path", bad, "1 2 4"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.edges[0]")));
  bad = kDiamond;
  bad["edges"][1] = {1, 3, 0};
  EXPECT_THAT(InstanceStatus("shortest_path", bad, "1 2 4"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.edges[1]")));
  bad = kDiamond;
  bad["target"] = 5;
  EXPECT_THAT(InstanceStatus("shortest_path", bad, "1 2 4"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.target: must be in [1, 4]")));
  EXPECT_THAT(InstanceStatus("shortest_path",
                             {{"num_nodes", 3}, {"edges", {{1, 2, 1}}}, {"source", 1}, {"target", 3}}, "1 3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.target: not reachable")));
}

// Every simple path from source to target by depth-first search, with its length (small graphs).
void AllPaths(const nlohmann::json& inst, std::vector<std::pair<int64_t, std::string>>* out) {
  const int n = inst["num_nodes"].get<int>();
  std::vector<std::vector<int64_t>> w(static_cast<size_t>(n + 1),
                                      std::vector<int64_t>(static_cast<size_t>(n + 1), 0));
  for (const auto& e : inst["edges"]) {
    const size_t u = e[0].get<size_t>(), v = e[1].get<size_t>();
    w[u][v] = w[v][u] = e[2].get<int64_t>();
  }
  const int target = inst["target"].get<int>();
  std::vector<int> path = {inst["source"].get<int>()};
  std::vector<bool> on(static_cast<size_t>(n + 1), false);
  on[static_cast<size_t>(path[0])] = true;
  std::function<void(int64_t)> dfs = [&](int64_t len) {
    const int u = path.back();
    if (u == target) {
      std::string s;
      for (int v : path) s += std::to_string(v) + " ";
      out->emplace_back(len, s);
      return;
    }
    for (int v = 1; v <= n; ++v) {
      if (on[static_cast<size_t>(v)] || w[static_cast<size_t>(u)][static_cast<size_t>(v)] == 0) continue;
      on[static_cast<size_t>(v)] = true;
      path.push_back(v);
      dfs(len + w[static_cast<size_t>(u)][static_cast<size_t>(v)]);
      path.pop_back();
      on[static_cast<size_t>(v)] = false;
    }
  };
  dfs(0);
}

TEST(ShortestPathTest, GeneratedWitnessIsShortestAndEveryShortestPathAccepted) {
  const TaskFamily* f = FindFamily("shortest_path");
  int several = 0;
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 30; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_EQ(g->instance["num_nodes"], 4 + 2 * d);
      EXPECT_EQ(Kind("shortest_path", g->instance, g->witness), kCorrect);
      if (d <= 3) {  // up to 10 nodes: enumerate every simple path
        std::vector<std::pair<int64_t, std::string>> paths;
        AllPaths(g->instance, &paths);
        ASSERT_FALSE(paths.empty());
        const int64_t best = std::min_element(paths.begin(), paths.end())->first;
        int shortest = 0;
        for (const auto& [len, p] : paths) {
          EXPECT_EQ(Kind("shortest_path", g->instance, p), len == best ? kCorrect : kIncorrect) << p;
          shortest += len == best ? 1 : 0;
        }
        several += shortest > 1 ? 1 : 0;
      }
      // Dropping the last node leaves a path that does not reach the target.
      EXPECT_EQ(Kind("shortest_path", g->instance, g->witness.substr(0, g->witness.rfind(' '))), kIncorrect);
      EXPECT_EQ(f->Generate(seed, d)->instance, g->instance);
    }
  }
  EXPECT_GT(several, 3);
}

}  // namespace
}  // namespace m1rl::reward::logic
