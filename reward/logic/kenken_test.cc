#include <algorithm>
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

// 2x2, each row a 3+ cage: by hand both 12/21 and 21/12 satisfy it.
const nlohmann::json kOpen = {{"size", 2},
                              {"cages",
                               {{{"op", "+"}, {"target", 3}, {"cells", {{1, 1}, {1, 2}}}},
                                {{"op", "+"}, {"target", 3}, {"cells", {{2, 1}, {2, 2}}}}}}};

// 3x3 built around 123/231/312: (1,1)-(1,2) differ by 1, (1,3)/(2,3) = 3, (2,1)*(2,2)*(3,1) = 18,
// (3,2)+(3,3) = 3.
const nlohmann::json kFull = {{"size", 3},
                              {"cages",
                               {{{"op", "-"}, {"target", 1}, {"cells", {{1, 1}, {1, 2}}}},
                                {{"op", "/"}, {"target", 3}, {"cells", {{1, 3}, {2, 3}}}},
                                {{"op", "*"}, {"target", 18}, {"cells", {{2, 1}, {2, 2}, {3, 1}}}},
                                {{"op", "+"}, {"target", 3}, {"cells", {{3, 2}, {3, 3}}}}}}};

TEST(KenKenTest, AnyValidGridAccepted) {
  EXPECT_EQ(Kind("kenken", kOpen, "1221"), kCorrect);
  EXPECT_EQ(Kind("kenken", kOpen, "21/12"), kCorrect);
  EXPECT_EQ(Kind("kenken", kFull, "1 2 3\n2 3 1\n3 1 2"), kCorrect);
  const nlohmann::json single = {{"size", 1}, {"cages", {{{"op", "="}, {"target", 1}, {"cells", {{1, 1}}}}}}};
  EXPECT_EQ(Kind("kenken", single, "1"), kCorrect);
}

TEST(KenKenTest, NearMissesRejected) {
  std::string why;
  EXPECT_EQ(Kind("kenken", kOpen, "1212", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("column 1 repeats"));
  // 132/213/321: |1-3| = 2.
  EXPECT_EQ(Kind("kenken", kFull, "132213321", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("cage 1 (1-) gives 2"));
  // 123/312/231: (1,3)/(2,3) = 3/2 is not whole.
  EXPECT_EQ(Kind("kenken", kFull, "123312231", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("cage 2 (3/) gives no whole quotient"));
  // 213/321/132: 3*2*1 = 6.
  EXPECT_EQ(Kind("kenken", kFull, "213321132", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("cage 3 (18*) gives 6"));
  EXPECT_EQ(Kind("kenken", kFull, "124231312", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 1 column 3 holds 4"));
}

TEST(KenKenTest, Unparseable) {
  for (const char* bad : {"", "12323131", "1232313120", "a23231312", "1-2-3-2-3-1-3-1-2"}) {
    EXPECT_EQ(Kind("kenken", kFull, bad), kUnparseable) << bad;
  }
}

TEST(KenKenTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("kenken", {{"size", 2}}, "1221"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.cages: missing")));
  nlohmann::json overlap = kOpen;
  overlap["cages"][1]["cells"][0] = {1, 2};
  EXPECT_THAT(InstanceStatus("kenken", overlap, "1221"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instance.cages[1]: cell [1, 2] is in two cages")));
  nlohmann::json gap = kOpen;
  gap["cages"][1]["cells"] = {{2, 1}};
  EXPECT_THAT(
      InstanceStatus("kenken", gap, "1221"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.cages: cell [2, 2] is in no cage")));
  nlohmann::json minus3 = kFull;
  minus3["cages"][2]["op"] = "-";
  EXPECT_THAT(
      InstanceStatus("kenken", minus3, "123231312"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.cages[2]: op '-' with 3 cells")));
  nlohmann::json bad_op = kOpen;
  bad_op["cages"][0]["op"] = "^";
  EXPECT_THAT(InstanceStatus("kenken", bad_op, "1221"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.cages[0]: op '^'")));
  nlohmann::json off_grid = kOpen;
  off_grid["cages"][0]["cells"][0] = {3, 1};
  EXPECT_THAT(InstanceStatus("kenken", off_grid, "1221"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.cages[0].cells[0]")));
  nlohmann::json no_target = kOpen;
  no_target["cages"][0].erase("target");
  EXPECT_THAT(InstanceStatus("kenken", no_target, "1221"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.cages[0].target: missing")));
}

// A cage's value recomputed independently: the fold of its op over the values (- and / on sorted pairs).
int64_t Evaluate(const std::string& op, std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  if (op == "=") return v.size() == 1 ? v[0] : -1;
  if (op == "-") return v[1] - v[0];
  if (op == "/") return v[1] % v[0] == 0 ? v[1] / v[0] : -1;
  int64_t acc = op == "+" ? 0 : 1;
  for (int64_t x : v) acc = op == "+" ? acc + x : acc * x;
  return acc;
}

TEST(KenKenTest, GeneratedWitnessVerifiesAcrossSeedsAndDifficulties) {
  const TaskFamily* f = FindFamily("kenken");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 25; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const int n = 3 + (d - 1) / 2;
      ASSERT_EQ(g->instance["size"], n);
      const std::string& w = g->witness;
      ASSERT_EQ(w.size(), static_cast<size_t>(n * n));
      size_t covered = 0;
      for (const auto& cage : g->instance["cages"]) {
        std::vector<int64_t> values;
        values.reserve(cage["cells"].size());
        for (const auto& rc : cage["cells"]) {
          values.push_back(w[static_cast<size_t>((rc[0].get<int>() - 1) * n + rc[1].get<int>() - 1)] - '0');
        }
        EXPECT_LE(values.size(), static_cast<size_t>(2 + (d - 1) % 2));
        covered += values.size();
        EXPECT_EQ(Evaluate(cage["op"].get<std::string>(), values), cage["target"].get<int64_t>()) << cage;
      }
      EXPECT_EQ(covered, static_cast<size_t>(n * n));
      EXPECT_TRUE(f->Check(g->instance, g->witness)->correct());
      std::string bad = g->witness;
      std::swap(bad[0], bad[1]);
      EXPECT_EQ(f->Check(g->instance, bad)->kind, kIncorrect);
    }
  }
}

TEST(KenKenTest, SameSeedSameInstance) {
  const TaskFamily* f = FindFamily("kenken");
  EXPECT_EQ(f->Generate(3, 5)->instance, f->Generate(3, 5)->instance);
  EXPECT_NE(f->Generate(3, 5)->instance, f->Generate(4, 5)->instance);
  EXPECT_THAT(f->Generate(3, 5)->prompt, HasSubstr("25 digits row by row"));
}

}  // namespace
}  // namespace m1rl::reward::logic
