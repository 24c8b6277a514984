#include <algorithm>
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

// 2x2 all white, every run sums to 5: by hand a+b = c+d = a+c = b+d = 5 gives b = c = 5-a, d = a,
// so exactly 1441, 2332, 3223 and 4114.
const nlohmann::json kSquare = {
    {"rows", 2}, {"cols", 2}, {"grid", "...."}, {"across", {5, 5}}, {"down", {5, 5}}};

TEST(KakuroTest, EveryValidFillingAccepted) {
  for (const char* ok : {"1441", "23/32", "3 2\n2 3", "4,1|1,4"}) {
    EXPECT_EQ(Kind("kakuro", kSquare, ok), kCorrect) << ok;
  }
  // Row 1 "#..", row 2 "...", row 3 "..#". Across runs (row-major by first cell): row 1 columns 2-3,
  // row 2 columns 1-3, row 3 columns 1-2. Down runs in the same order: column 2 (starts in row 1),
  // column 3 (row 1), column 1 (row 2). Filling #12/345/56#: across 3, 12, 11; down 1+4+6 = 11,
  // 2+5 = 7, 3+5 = 8.
  const nlohmann::json shaped = {
      {"rows", 3}, {"cols", 3}, {"grid", "#.......#"}, {"across", {3, 12, 11}}, {"down", {11, 7, 8}}};
  EXPECT_EQ(Kind("kakuro", shaped, "#12/345/56#"), kCorrect);
  EXPECT_EQ(Kind("kakuro", shaped, "12 345 56"), kCorrect);
  EXPECT_EQ(Kind("kakuro", shaped, "#21/354/56#"), kIncorrect);  // column 2 adds 2+5+6 = 13
}

TEST(KakuroTest, ViolationsRejected) {
  std::string why;
  EXPECT_EQ(Kind("kakuro", kSquare, "1442", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 2 columns 1-2 adds up to 6, not 5"));
  EXPECT_EQ(Kind("kakuro", kSquare, "0550", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 1 column 1 holds 0"));
  const nlohmann::json pair = {
      {"rows", 1}, {"cols", 2}, {"grid", ".."}, {"across", {4}}, {"down", nlohmann::json::array()}};
  EXPECT_EQ(Kind("kakuro", pair, "22", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 1 columns 1-2 repeats 2"));
  EXPECT_EQ(Kind("kakuro", pair, "31"), kCorrect);
  EXPECT_EQ(Kind("kakuro", kSquare, "2323", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("column 1 rows 1-2 repeats 2"));
}

TEST(KakuroTest, Unparseable) {
  for (const char* bad : {"", "144", "14411", "1.41", "a441", "1-4-4-1"}) {
    EXPECT_EQ(Kind("kakuro", kSquare, bad), kUnparseable) << bad;
  }
}

TEST(KakuroTest, MalformedInstance) {
  nlohmann::json bad = kSquare;
  bad.erase("rows");
  EXPECT_THAT(InstanceStatus("kakuro", bad, "1441"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.rows: missing")));
  bad = kSquare;
  bad["grid"] = "..x.";
  EXPECT_THAT(InstanceStatus("kakuro", bad, "1441"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: expected 4 cells")));
  bad = kSquare;
  bad["across"] = {5};
  EXPECT_THAT(InstanceStatus("kakuro", bad, "1441"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.across: expected 2..2")));
  bad = kSquare;
  bad["down"] = {5, 50};
  EXPECT_THAT(InstanceStatus("kakuro", bad, "1441"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.down[1]")));
}

// An independent check of a filled grid ("#" black, digits white, rows joined without separators):
// walks every maximal segment of length >= 2 and compares with the instance's sums in order.
bool IndependentCheck(const nlohmann::json& inst, const std::string& filled) {
  const int rows = inst["rows"].get<int>(), cols = inst["cols"].get<int>();
  std::vector<int64_t> across, down;
  for (int pass = 0; pass < 2; ++pass) {
    const int outer = pass == 0 ? rows : cols, inner = pass == 0 ? cols : rows;
    // Collect segments per start cell, then order them row-major as the instance does.
    std::vector<std::pair<int, int64_t>> found;  // (row-major start, sum)
    for (int o = 0; o < outer; ++o) {
      int len = 0, sum = 0, start = 0;
      unsigned seen = 0;
      for (int i = 0; i <= inner; ++i) {
        const int idx = pass == 0 ? o * cols + i : i * cols + o;
        const char c = i < inner ? filled[static_cast<size_t>(idx)] : '#';
        if (c == '#') {
          if (len >= 2) found.emplace_back(start, sum);
          len = sum = 0;
          seen = 0;
          continue;
        }
        if (c < '1' || c > '9' || (seen >> (c - '0') & 1u)) return false;
        seen |= 1u << (c - '0');
        if (len == 0) start = idx;
        ++len;
        sum += c - '0';
      }
    }
    std::sort(found.begin(), found.end());
    for (const auto& [start, sum] : found) (pass == 0 ? across : down).push_back(sum);
  }
  return across == inst["across"].get<std::vector<int64_t>>() &&
         down == inst["down"].get<std::vector<int64_t>>();
}

TEST(KakuroTest, GeneratedWitnessVerifiesAcrossSeedsAndDifficulties) {
  const TaskFamily* f = FindFamily("kakuro");
  int alternatives = 0;
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 30; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      std::string filled = g->witness;
      filled.erase(std::remove(filled.begin(), filled.end(), '/'), filled.end());
      EXPECT_TRUE(IndependentCheck(g->instance, filled)) << g->witness;
      EXPECT_EQ(Kind("kakuro", g->instance, g->witness), kCorrect);
      // Corrupt: the first white digit changed (its across run sum changes).
      std::string bad = filled;
      const size_t first = bad.find_first_not_of('#');
      bad[first] = static_cast<char>(bad[first] == '9' ? '1' : bad[first] + 1);
      EXPECT_EQ(Kind("kakuro", g->instance, bad), kIncorrect);
      // Alternative: in a 2x2 block of white cells a b / c d, a+t b-t / c-t d+t keeps every run sum
      // (each affected run gains t and loses t); keep the shifts the independent check accepts.
      const size_t cols = g->instance["cols"].get<size_t>();
      for (size_t i = 0; i + cols + 1 < filled.size(); ++i) {
        const size_t j = i + 1, k = i + cols, l = k + 1;
        if (i % cols == cols - 1 || filled[i] == '#' || filled[j] == '#' || filled[k] == '#' ||
            filled[l] == '#') {
          continue;
        }
        for (int t = -8; t <= 8; ++t) {
          if (t == 0) continue;
          std::string alt = filled;
          alt[i] = static_cast<char>(alt[i] + t);
          alt[j] = static_cast<char>(alt[j] - t);
          alt[k] = static_cast<char>(alt[k] - t);
          alt[l] = static_cast<char>(alt[l] + t);
          if (!IndependentCheck(g->instance, alt)) continue;
          EXPECT_EQ(Kind("kakuro", g->instance, alt), kCorrect) << alt;
          ++alternatives;
        }
      }
      EXPECT_EQ(f->Generate(seed, d)->instance, g->instance);
    }
  }
  EXPECT_GT(alternatives, 50);
}

}  // namespace
}  // namespace m1rl::reward::logic
