#include <string>
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

// [0,3) [2,5) [4,7) [6,9): each overlaps only its neighbours, so by hand the optimum is 2, reached by
// {1,3}, {1,4} and {2,4}.
const nlohmann::json kChain = {{"intervals", {{0, 3}, {2, 5}, {4, 7}, {6, 9}}}};

TEST(IntervalSchedulingTest, EveryOptimalSetAccepted) {
  EXPECT_EQ(Kind("interval_scheduling", kChain, "1 3"), kCorrect);
  EXPECT_EQ(Kind("interval_scheduling", kChain, "4, 1"), kCorrect);
  EXPECT_EQ(Kind("interval_scheduling", kChain, "[2 4]"), kCorrect);
  // Touching end points do not overlap.
  EXPECT_EQ(Kind("interval_scheduling", {{"intervals", {{0, 2}, {2, 4}, {1, 3}}}}, "1 2"), kCorrect);
}

TEST(IntervalSchedulingTest, ViolationsRejected) {
  std::string why;
  EXPECT_EQ(Kind("interval_scheduling", kChain, "1 2", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("intervals 1 and 2 overlap"));
  EXPECT_EQ(Kind("interval_scheduling", kChain, "3", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("count 1 is not the optimum 2"));
  EXPECT_EQ(Kind("interval_scheduling", kChain, "1 3 1", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("id 1 appears twice"));
  EXPECT_EQ(Kind("interval_scheduling", kChain, "1 5", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("id 5 is not in 1..4"));
  // Weighted: {1,3} weighs 3 + 3 = 6 > 5 = {2}.
  const nlohmann::json weighted = {{"intervals", {{0, 3}, {2, 5}, {4, 7}}}, {"weights", {3, 5, 3}}};
  EXPECT_EQ(Kind("interval_scheduling", weighted, "1 3"), kCorrect);
  EXPECT_EQ(Kind("interval_scheduling", weighted, "2", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("total weight 5 is not the optimum 6"));
}

TEST(IntervalSchedulingTest, Unparseable) {
  for (const char* bad : {"", "one three", "1-3", "{1, 3}"}) {
    EXPECT_EQ(Kind("interval_scheduling", kChain, bad), kUnparseable) << bad;
  }
}

TEST(IntervalSchedulingTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("interval_scheduling", nlohmann::json::object(), "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.intervals: missing")));
  EXPECT_THAT(InstanceStatus("interval_scheduling", {{"intervals", nlohmann::json::array()}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.intervals: empty")));
  EXPECT_THAT(
      InstanceStatus("interval_scheduling", {{"intervals", {{3, 3}}}}, "1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.intervals[0]: start must be")));
  EXPECT_THAT(InstanceStatus("interval_scheduling", {{"intervals", {{0, 3}, {1, 2}}}, {"weights", {1}}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.weights: expected 2..2")));
  EXPECT_THAT(InstanceStatus("interval_scheduling", {{"intervals", {{0, 3}}}, {"weights", {0}}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.weights[0]")));
}

// Brute force over every subset: the best total weight, and every subset reaching it (as answers).
int64_t BruteForce(const nlohmann::json& inst, std::vector<std::string>* optimal) {
  const auto& iv = inst["intervals"];
  const size_t n = iv.size();
  int64_t best = -1;
  for (uint32_t mask = 1; mask < (1u << n); ++mask) {
    int64_t w = 0;
    bool ok = true;
    std::string ids;
    for (size_t i = 0; i < n && ok; ++i) {
      if (!(mask >> i & 1u)) continue;
      for (size_t j = 0; j < i && ok; ++j) {
        if (mask >> j & 1u) {
          ok = !(iv[i][0].get<int64_t>() < iv[j][1].get<int64_t>() &&
                 iv[j][0].get<int64_t>() < iv[i][1].get<int64_t>());
        }
      }
      w += inst.contains("weights") ? inst["weights"][i].get<int64_t>() : 1;
      ids += std::to_string(i + 1) + " ";
    }
    if (!ok || w < best) continue;
    if (w > best) optimal->clear();
    best = w;
    optimal->push_back(ids);
  }
  return best;
}

TEST(IntervalSchedulingTest, GeneratedWitnessIsOptimalAndEveryOptimumAccepted) {
  const TaskFamily* f = FindFamily("interval_scheduling");
  int several = 0;
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 30; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_EQ(g->instance.contains("weights"), d > 4);
      EXPECT_EQ(Kind("interval_scheduling", g->instance, g->witness), kCorrect);
      const size_t n = g->instance["intervals"].size();
      if (n <= 12) {
        std::vector<std::string> optimal;
        BruteForce(g->instance, &optimal);
        for (const std::string& ids : optimal) {
          EXPECT_EQ(Kind("interval_scheduling", g->instance, ids), kCorrect) << ids;
        }
        several += optimal.size() > 1 ? 1 : 0;
      }
      // Adding any interval that is not chosen breaks the set (it overlaps, as the set is optimal).
      const std::string padded = " " + g->witness + " ";
      for (size_t id = 1; id <= n; ++id) {
        if (padded.find(" " + std::to_string(id) + " ") != std::string::npos) continue;
        EXPECT_EQ(Kind("interval_scheduling", g->instance, g->witness + " " + std::to_string(id)),
                  kIncorrect);
        break;
      }
      // Dropping the first id loses weight (when something remains to parse).
      if (g->witness.find(' ') != std::string::npos) {
        EXPECT_EQ(Kind("interval_scheduling", g->instance, g->witness.substr(g->witness.find(' ') + 1)),
                  kIncorrect);
      }
      EXPECT_EQ(f->Generate(seed, d)->instance, g->instance);
    }
  }
  EXPECT_GT(several, 20);  // many instances have several optimal sets
}

}  // namespace
}  // namespace m1rl::reward::logic
