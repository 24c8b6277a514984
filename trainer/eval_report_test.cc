#include "trainer/eval_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace m1rl::trainer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// pass@k by enumeration: the fraction of k-subsets of n samples (the first c correct) that hold a correct
// one. Independent of the product formula under test.
double PassAtKByEnumeration(int n, int c, int k) {
  int64_t hit = 0, total = 0;
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    if (__builtin_popcount(mask) != k) continue;
    ++total;
    if ((mask & ((1u << c) - 1)) != 0) ++hit;
  }
  return static_cast<double>(hit) / static_cast<double>(total);
}

TEST(PassAtKTest, HandValues) {
  EXPECT_DOUBLE_EQ(PassAtK(4, 0, 1), 0.0);
  EXPECT_DOUBLE_EQ(PassAtK(4, 2, 1), 0.5);
  EXPECT_DOUBLE_EQ(PassAtK(4, 2, 2), 5.0 / 6.0);  // 1 - C(2,2)/C(4,2)
  EXPECT_DOUBLE_EQ(PassAtK(4, 2, 4), 1.0);
  EXPECT_DOUBLE_EQ(PassAtK(5, 2, 3), 0.9);  // 1 - C(3,3)/C(5,3) = 1 - 1/10
  EXPECT_DOUBLE_EQ(PassAtK(1, 1, 1), 1.0);
}

TEST(PassAtKTest, MatchesEnumeration) {
  for (int n = 1; n <= 10; ++n) {
    for (int c = 0; c <= n; ++c) {
      for (int k = 1; k <= n; ++k) {
        // A product of <= n factors each rounded once: a few ulps.
        EXPECT_NEAR(PassAtK(n, c, k), PassAtKByEnumeration(n, c, k), 1e-14) << n << " " << c << " " << k;
      }
    }
  }
}

TEST(PassAtKTest, KValuesArePowersOfTwoAndN) {
  EXPECT_THAT(PassAtKValues(1), ElementsAre(1));
  EXPECT_THAT(PassAtKValues(4), ElementsAre(1, 2, 4));
  EXPECT_THAT(PassAtKValues(6), ElementsAre(1, 2, 4, 6));
  EXPECT_THAT(PassAtKValues(16), ElementsAre(1, 2, 4, 8, 16));
}

TEST(AggregateEvalTest, PerDomainAndAllByHand) {
  // n = 4. math: (4 scored, 1 correct), (3 scored of 4, 3 correct); code: (4, 0).
  const std::vector<PromptOutcome> prompts = {
      {"math", 4, 4, 1, 1.0}, {"math", 4, 3, 3, 3.0}, {"code", 4, 4, 0, -0.5}};
  const std::vector<DomainReport> r = AggregateEval(prompts, 4);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].domain, "code");
  EXPECT_EQ(r[1].domain, "math");
  EXPECT_EQ(r[2].domain, "all");
  const DomainReport& math = r[1];
  EXPECT_EQ(math.prompts, 2);
  EXPECT_EQ(math.samples, 8);
  EXPECT_EQ(math.scored, 7);
  EXPECT_EQ(math.unscored(), 1);
  EXPECT_EQ(math.correct, 4);
  EXPECT_DOUBLE_EQ(math.accuracy(), 4.0 / 7.0);
  EXPECT_DOUBLE_EQ(math.mean_reward(), 4.0 / 7.0);
  // pass@1: (1/4 + 3/3) / 2; pass@2: prompt 1: 1 - C(3,2)/C(4,2) = 1/2, prompt 2 (n=3, c=3): 1;
  // pass@4: only prompt 1 has 4 scored samples: 1 - C(3,4)/C(4,4) = 1.
  EXPECT_DOUBLE_EQ(math.pass_at.at(1).value, (0.25 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(math.pass_at.at(2).value, (0.5 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(math.pass_at.at(4).value, 1.0);
  EXPECT_EQ(math.pass_at.at(4).prompts, 1);
  const DomainReport& all = r[2];
  EXPECT_EQ(all.prompts, 3);
  EXPECT_EQ(all.correct, 4);
  EXPECT_DOUBLE_EQ(all.accuracy(), 4.0 / 11.0);
  EXPECT_DOUBLE_EQ(all.mean_reward(), 3.5 / 11.0);
  EXPECT_DOUBLE_EQ(all.pass_at.at(1).value, (0.25 + 1.0 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(all.pass_at.at(4).value, (1.0 + 0.0) / 2);
  EXPECT_EQ(all.pass_at.at(4).prompts, 2);

  const std::string table = FormatEvalTable(r);
  EXPECT_THAT(table, HasSubstr("pass@1   pass@2   pass@4"));
  EXPECT_THAT(table,
              HasSubstr("math          2        8        7        1        4   0.5714   0.5714   0.6250"));
  EXPECT_THAT(table, HasSubstr("math pass@4: over 1 of 2 prompts"));
}

}  // namespace
}  // namespace m1rl::trainer
