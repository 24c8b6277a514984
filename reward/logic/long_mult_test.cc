// Tests for the long_mult / long_mult_heldout families (long_mult.cc): the scratchpad by hand, the
// disjoint train / held-out split, trace length at the default difficulty, the verifier's verdicts.
#include <set>
#include <string>
#include <utility>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/tasks.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

// 12*34 worked by hand: rows 12*4 = 48 and 12*3 = 36 (shifted: 360), then 48 + 360 digit by digit from
// the right: 8+0 = 8, 4+6 = 10 (write 0, carry 1), 0+3+1 = 4 -> 408.
TEST(LongMultTest, DemonstrationByHand) {
  EXPECT_EQ(internal::LongMultDemonstration(12, 34),
            "<think>\n12*34\n"
            "row 0: 12*4\n2*4+0=8 1*4+0=4 \n= 48\n"
            "row 1: 12*3\n2*3+0=6 1*3+0=3 \n= 36 shift 1 = 360\n"
            "add 48+360\n8+0+0=8 4+6+0=10 0+3+1=4 \n= 408\n"
            "</think>\n<answer>408</answer>");
  // A final carry is written out: 99*9 = 891 (9*9 = 81, 9*9+8 = 89, carry 8).
  EXPECT_EQ(internal::LongMultDemonstration(99, 9),
            "<think>\n99*9\nrow 0: 99*9\n9*9+0=81 9*9+8=89 carry 8 \n= 891\n</think>\n<answer>891</answer>");
}

std::pair<int64_t, int64_t> Problem(const GeneratedInstance& g) {
  const int64_t a = g.instance["a"].get<int64_t>(), b = g.instance["b"].get<int64_t>();
  return {std::min(a, b), std::max(a, b)};
}

// Train and held-out rows come from disjoint problem sets whatever the seeds, at every difficulty;
// the held-out family exists at every difficulty (d = 1 included).
TEST(LongMultTest, TrainAndHeldOutProblemsAreDisjoint) {
  const TaskFamily* train = FindFamily("long_mult");
  const TaskFamily* held = FindFamily("long_mult_heldout");
  ASSERT_NE(train, nullptr);
  ASSERT_NE(held, nullptr);
  for (int d : {1, 2, 3, 6}) {
    std::set<std::pair<int64_t, int64_t>> train_set, held_set;
    for (uint64_t seed = 0; seed < 400; ++seed) {
      absl::StatusOr<GeneratedInstance> t = train->Generate(seed, d);
      ASSERT_TRUE(t.ok()) << t.status();
      train_set.insert(Problem(*t));
      absl::StatusOr<GeneratedInstance> h = held->Generate(seed + 1000000, d);
      ASSERT_TRUE(h.ok()) << h.status();
      held_set.insert(Problem(*h));
    }
    for (const auto& p : held_set)
      EXPECT_EQ(train_set.count(p), 0u) << "d=" << d << " " << p.first << "*" << p.second;
    EXPECT_GE(train_set.size(), d == 1 ? 10u : 300u) << d;
    // d = 2 has ~510 held-out problems: 400 draws give ~510 (1 - e^(-400/510)) = 277 distinct ones.
    EXPECT_GE(held_set.size(), d == 1 ? 2u : d == 2 ? 200u : 300u) << d;
  }
  // The split covers about 1/8 of the problems (a binomial over the 90*90 two-digit pairs).
  int held_out = 0, total = 0;
  for (int64_t a = 10; a < 100; ++a) {
    for (int64_t b = 10; b < 100; ++b, ++total) held_out += internal::HeldOutBucket(a, b);
  }
  EXPECT_NEAR(static_cast<double>(held_out) / total, 0.125, 0.02);
  EXPECT_EQ(internal::HeldOutBucket(123, 456), internal::HeldOutBucket(456, 123));
}

// The default difficulty (6x6 digits) gives traces of >= 1K characters (= tokens with the char tokenizer),
// the demonstration ends in the witness' answer block, and the row carries it as the SFT completion.
TEST(LongMultTest, DemonstrationIsLongAndEndsInTheWitness) {
  const TaskFamily* f = FindFamily("long_mult");
  EXPECT_EQ(f->default_difficulty(), 6);
  size_t shortest = std::string::npos;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    absl::StatusOr<GeneratedInstance> g = f->Generate(seed, f->default_difficulty());
    ASSERT_TRUE(g.ok());
    shortest = std::min(shortest, g->demonstration.size());
    const std::string tail = "<answer>" + g->witness + "</answer>";
    ASSERT_GE(g->demonstration.size(), tail.size());
    EXPECT_EQ(g->demonstration.substr(g->demonstration.size() - tail.size()), tail);
    for (char c : g->demonstration) ASSERT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7F));
    const nlohmann::json row = MakeRow(*g, "x");
    EXPECT_EQ(row["completion"], g->demonstration);
    EXPECT_EQ(row["domain"], "logic");
  }
  EXPECT_GE(shortest, 1000u);
}

TEST(LongMultTest, VerdictsAndInstanceErrors) {
  const nlohmann::json inst = {{"family", "long_mult"}, {"a", 123}, {"b", 45}};
  absl::StatusOr<CheckResult> r = CheckInstance(inst, " 5535\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->correct());
  r = CheckInstance(inst, "5536");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, CheckResult::Kind::kIncorrect);
  for (const char* bad : {"", "55 35", "-5535", "5535.0", "1e3"}) {
    r = CheckInstance(inst, bad);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->kind, CheckResult::Kind::kUnparseable) << bad;
  }
  EXPECT_THAT(CheckInstance({{"family", "long_mult"}, {"a", 1}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.b")));
}

}  // namespace
}  // namespace m1rl::reward::logic
