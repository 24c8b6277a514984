#include <algorithm>
#include <map>
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

nlohmann::json Attr(const char* name, std::vector<std::string> values) {
  return {{"name", name}, {"values", values}};
}

// Two houses, colour and pet, one clue "red and dog in the same house": by hand exactly two
// solutions, red dog | blue cat and blue cat | red dog.
const nlohmann::json kTwo = {{"houses", 2},
                             {"attributes", {Attr("color", {"red", "blue"}), Attr("pet", {"dog", "cat"})}},
                             {"clues", {{{"kind", "same"}, {"a", "red"}, {"b", "dog"}}}}};

TEST(ZebraTest, EveryValidAssignmentAccepted) {
  EXPECT_EQ(Kind("zebra", kTwo, "red dog; blue cat"), kCorrect);
  EXPECT_EQ(Kind("zebra", kTwo, "blue cat; red dog"), kCorrect);  // the other solution
  EXPECT_EQ(Kind("zebra", kTwo, "Dog, Red\ncat BLUE"), kCorrect);
  EXPECT_EQ(Kind("zebra", kTwo, " blue cat ;; red dog ;"), kCorrect);
}

TEST(ZebraTest, ViolationsRejected) {
  std::string why;
  EXPECT_EQ(Kind("zebra", kTwo, "red cat; blue dog", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("clue 1 (red and dog are in the same house) is false"));
  EXPECT_EQ(Kind("zebra", kTwo, "red dog", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("expected 2 houses, got 1"));
  EXPECT_EQ(Kind("zebra", kTwo, "red blue; dog cat", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("house 1 has two values of color"));
  EXPECT_EQ(Kind("zebra", kTwo, "red dog; red cat", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("red is in two houses"));
  EXPECT_EQ(Kind("zebra", kTwo, "red dog; cat", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("house 2 has no color"));
  // Each positional kind against a 3-house line-up a b c (colours) with pets x y z.
  const nlohmann::json three = {
      {"houses", 3},
      {"attributes", {Attr("color", {"red", "green", "blue"}), Attr("pet", {"dog", "cat", "fish"})}},
      {"clues", nlohmann::json::array()}};
  const std::string line = "red dog; green cat; blue fish";
  const std::map<std::string, std::pair<nlohmann::json, bool>> cases = {
      {"left_of true", {{{"kind", "left_of"}, {"a", "red"}, {"b", "cat"}}, true}},
      {"left_of false", {{{"kind", "left_of"}, {"a", "red"}, {"b", "fish"}}, false}},
      {"next_to true", {{{"kind", "next_to"}, {"a", "fish"}, {"b", "green"}}, true}},
      {"next_to false", {{{"kind", "next_to"}, {"a", "dog"}, {"b", "blue"}}, false}},
      {"before true", {{{"kind", "before"}, {"a", "dog"}, {"b", "blue"}}, true}},
      {"before false", {{{"kind", "before"}, {"a", "blue"}, {"b", "dog"}}, false}},
      {"not_same true", {{{"kind", "not_same"}, {"a", "red"}, {"b", "cat"}}, true}},
      {"not_same false", {{{"kind", "not_same"}, {"a", "red"}, {"b", "dog"}}, false}},
      {"in_house true", {{{"kind", "in_house"}, {"a", "cat"}, {"house", 2}}, true}},
      {"in_house false", {{{"kind", "in_house"}, {"a", "cat"}, {"house", 3}}, false}},
      {"not_in_house true", {{{"kind", "not_in_house"}, {"a", "cat"}, {"house", 3}}, true}},
      {"not_in_house false", {{{"kind", "not_in_house"}, {"a", "cat"}, {"house", 2}}, false}},
  };
  for (const auto& [label, c] : cases) {
    nlohmann::json inst = three;
    inst["clues"].push_back(c.first);
    EXPECT_EQ(Kind("zebra", inst, line), c.second ? kCorrect : kIncorrect) << label;
  }
}

TEST(ZebraTest, Unparseable) {
  for (const char* bad : {"", " ; ", "red zebra; blue cat", "red-dog; blue cat", "1 2", "house 1: red dog"}) {
    EXPECT_EQ(Kind("zebra", kTwo, bad), kUnparseable) << bad;
  }
}

TEST(ZebraTest, MalformedInstance) {
  nlohmann::json bad = kTwo;
  bad.erase("houses");
  EXPECT_THAT(InstanceStatus("zebra", bad, "red dog; blue cat"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.houses: missing")));
  bad = kTwo;
  bad["attributes"][1]["values"] = {"dog", "red"};
  EXPECT_THAT(InstanceStatus("zebra", bad, "red dog; blue cat"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.attributes[1].values[1]")));
  bad = kTwo;
  bad["attributes"][0]["values"] = {"red"};
  EXPECT_THAT(
      InstanceStatus("zebra", bad, "red dog; blue cat"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.attributes[0].values: expected")));
  bad = kTwo;
  bad["clues"][0]["kind"] = "above";
  EXPECT_THAT(InstanceStatus("zebra", bad, "red dog; blue cat"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.clues[0].kind: unknown")));
  bad = kTwo;
  bad["clues"][0]["b"] = "zebra";
  EXPECT_THAT(InstanceStatus("zebra", bad, "red dog; blue cat"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.clues[0].b: 'zebra'")));
  bad = kTwo;
  bad["clues"][0] = {{"kind", "in_house"}, {"a", "red"}, {"house", 3}};
  EXPECT_THAT(
      InstanceStatus("zebra", bad, "red dog; blue cat"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.clues[0].house: must be in [1, 2]")));
}

// An independent brute force: the number of assignments (every attribute a permutation of the
// houses) satisfying every clue, for puzzles small enough to enumerate.
int CountSolutions(const nlohmann::json& inst) {
  const int n = inst["houses"].get<int>();
  const size_t k = inst["attributes"].size();
  std::map<std::string, std::pair<size_t, size_t>> where;  // word -> (attribute, value index)
  for (size_t a = 0; a < k; ++a) {
    for (size_t v = 0; v < inst["attributes"][a]["values"].size(); ++v) {
      where[inst["attributes"][a]["values"][v].get<std::string>()] = {a, v};
    }
  }
  std::vector<int> perm(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  std::vector<std::vector<int>> perms;
  do {
    perms.push_back(perm);
  } while (std::next_permutation(perm.begin(), perm.end()));
  int count = 0;
  std::vector<size_t> idx(k, 0);  // odometer over perms^k; house of value v of attribute a = perms[idx[a]][v]
  for (;;) {
    auto house = [&](const std::string& w) {
      const auto& [a, v] = where.at(w);
      return perms[idx[a]][v];
    };
    bool all = true;
    for (const auto& c : inst["clues"]) {
      const std::string kind = c["kind"];
      const int ha = house(c["a"]);
      const int hb = c.contains("b") ? house(c["b"]) : c["house"].get<int>() - 1;
      const bool ok = kind == "same" || kind == "in_house"           ? ha == hb
                      : kind == "not_same" || kind == "not_in_house" ? ha != hb
                      : kind == "left_of"                            ? hb - ha == 1
                      : kind == "next_to"                            ? std::abs(ha - hb) == 1
                                                                     : ha < hb;
      all = all && ok;
    }
    count += all ? 1 : 0;
    size_t a = 0;
    while (a < k && ++idx[a] == perms.size()) idx[a++] = 0;
    if (a == k) break;
  }
  return count;
}

TEST(ZebraTest, GeneratedPuzzlesHaveExactlyTheWitnessAsSolution) {
  const TaskFamily* f = FindFamily("zebra");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 30; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_EQ(Kind("zebra", g->instance, g->witness), kCorrect);
      // Small shapes: the brute force finds exactly one solution.
      if (d <= 4 && seed < 10) {
        EXPECT_EQ(CountSolutions(g->instance), 1) << g->instance.dump();
      }
      // Swapping houses 1 and 2 gives another full assignment, which the unique solution rules out.
      const size_t first = g->witness.find("; ");
      const size_t second = g->witness.find("; ", first + 2);
      const std::string h1 = g->witness.substr(0, first);
      const std::string h2 =
          g->witness.substr(first + 2, second == std::string::npos ? second : second - first - 2);
      std::string swapped = h2;
      swapped += "; ";
      swapped += h1;
      if (second != std::string::npos) swapped += g->witness.substr(second);
      EXPECT_EQ(Kind("zebra", g->instance, swapped), kIncorrect) << swapped;
      EXPECT_EQ(f->Generate(seed, d)->instance, g->instance);
    }
  }
}

}  // namespace
}  // namespace m1rl::reward::logic
