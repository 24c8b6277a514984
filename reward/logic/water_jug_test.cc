#include <algorithm>
#include <functional>
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

// The classic 3 and 5 litre jugs, 4 litres: six moves (fill B, pour B A, empty A, pour B A, fill B,
// pour B A leaves 4 in B).
const nlohmann::json kClassic = {{"capacities", {3, 5}}, {"target", 4}};

TEST(WaterJugTest, ShortestSequenceAccepted) {
  EXPECT_EQ(Kind("water_jug", kClassic, "fill B, pour B A, empty A, pour B A, fill B, pour B A"), kCorrect);
  EXPECT_EQ(Kind("water_jug", kClassic, "FILL b; Pour b a\nempty a, pour b a, fill b, pour b a"), kCorrect);
}

TEST(WaterJugTest, ViolationsRejected) {
  std::string why;
  // Eight moves also reach 4 (via A) but are not the fewest.
  EXPECT_EQ(Kind("water_jug", kClassic,
                 "fill A, pour A B, fill A, pour A B, empty B, pour A B, fill A, pour A B", &why),
            kIncorrect);
  EXPECT_THAT(why, HasSubstr("8 moves, the fewest is 6"));
  EXPECT_EQ(Kind("water_jug", kClassic, "fill B, pour B A, empty A, pour B A, fill B", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("no jug holds 4 at the end (2 5)"));
}

TEST(WaterJugTest, Unparseable) {
  for (const char* bad : {"", "fill C", "pour A A", "fill", "pour A", "fill A B", "drink A", "fill A,, x"}) {
    EXPECT_EQ(Kind("water_jug", kClassic, bad), kUnparseable) << bad;
  }
}

TEST(WaterJugTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("water_jug", {{"target", 4}}, "fill A"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.capacities: missing")));
  EXPECT_THAT(InstanceStatus("water_jug", {{"capacities", {3}}, {"target", 3}}, "fill A"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.capacities: expected 2..3")));
  // 2 and 4 litre jugs only ever hold even amounts.
  EXPECT_THAT(InstanceStatus("water_jug", {{"capacities", {2, 4}}, {"target", 3}}, "fill A"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.target: no jug")));
}

// Every move sequence of exactly `len` moves, simulated independently; those ending with a jug at
// the target are collected as answers.
void Sequences(const std::vector<int>& cap, int target, size_t len, std::vector<std::string>* hits) {
  const size_t n = cap.size();
  std::vector<std::string> names;
  for (size_t i = 0; i < n; ++i) {
    const std::string x(1, static_cast<char>('A' + i));
    names.push_back("fill " + x);
    names.push_back("empty " + x);
    for (size_t j = 0; j < n; ++j) {
      if (j != i) names.push_back("pour " + x + " " + std::string(1, static_cast<char>('A' + j)));
    }
  }
  std::function<void(const std::vector<int>&, const std::string&, size_t)> go =
      [&](const std::vector<int>& s, const std::string& text, size_t depth) {
        if (depth == len) {
          if (std::find(s.begin(), s.end(), target) != s.end()) hits->push_back(text);
          return;
        }
        for (const std::string& m : names) {
          std::vector<int> t = s;
          const size_t x = static_cast<size_t>(m[m[0] == 'p' ? 5 : m.size() - 1] - 'A');
          if (m[0] == 'f') t[x] = cap[x];
          if (m[0] == 'e') t[x] = 0;
          if (m[0] == 'p') {
            const size_t y = static_cast<size_t>(m.back() - 'A');
            const int amount = std::min(t[x], cap[y] - t[y]);
            t[x] -= amount;
            t[y] += amount;
          }
          std::string longer = text;
          if (!longer.empty()) longer += ", ";
          longer += m;
          go(t, longer, depth + 1);
        }
      };
  go(std::vector<int>(n, 0), "", 0);
}

TEST(WaterJugTest, EveryShortestSequenceAcceptedByExhaustiveSearch) {
  // Classic instance: no sequence of 1..5 moves reaches 4; every 6-move one that does is accepted.
  for (size_t len = 1; len < 6; ++len) {
    std::vector<std::string> hits;
    Sequences({3, 5}, 4, len, &hits);
    EXPECT_TRUE(hits.empty()) << len;
  }
  std::vector<std::string> hits;
  Sequences({3, 5}, 4, 6, &hits);
  EXPECT_NE(std::find(hits.begin(), hits.end(), "fill B, pour B A, empty A, pour B A, fill B, pour B A"),
            hits.end());
  for (const std::string& h : hits) EXPECT_EQ(Kind("water_jug", kClassic, h), kCorrect) << h;
}

TEST(WaterJugTest, GeneratedWitnessIsShortest) {
  const TaskFamily* f = FindFamily("water_jug");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 30; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_EQ(g->instance["capacities"].size(), d <= 4 ? 2u : 3u);
      EXPECT_EQ(Kind("water_jug", g->instance, g->witness), kCorrect);
      const size_t moves = static_cast<size_t>(std::count(g->witness.begin(), g->witness.end(), ',')) + 1;
      // Small cases: exhaustively, no shorter sequence reaches the target, and every sequence of the
      // witness's length that does is accepted.
      if (d <= 4 && moves <= 6 && seed < 10) {
        const std::vector<int> cap = g->instance["capacities"].get<std::vector<int>>();
        const int target = g->instance["target"].get<int>();
        for (size_t len = 1; len < moves; ++len) {
          std::vector<std::string> shorter;
          Sequences(cap, target, len, &shorter);
          EXPECT_TRUE(shorter.empty()) << g->instance.dump() << " len " << len;
        }
        std::vector<std::string> same;
        Sequences(cap, target, moves, &same);
        for (const std::string& h : same) EXPECT_EQ(Kind("water_jug", g->instance, h), kCorrect) << h;
      }
      // Dropping the last move: fewer moves than the minimum cannot reach the target.
      const size_t cut = g->witness.rfind(", ");
      if (cut != std::string::npos) {
        EXPECT_EQ(Kind("water_jug", g->instance, g->witness.substr(0, cut)), kIncorrect);
      }
      EXPECT_EQ(f->Generate(seed, d)->instance, g->instance);
    }
  }
}

}  // namespace
}  // namespace m1rl::reward::logic
