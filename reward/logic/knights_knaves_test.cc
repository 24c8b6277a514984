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

// A: "B is a knave."  B: "A and B are the same kind."
// By hand: if B were a knight, A and B would both be knights, but then A's "B is a knave" is false.
// So B is a knave, hence A and B differ: A is a knight, and A's statement is true. Unique.
const nlohmann::json kTwo = {
    {"statements", {{{"kind", "is_knave"}, {"a", 1}}, {{"kind", "same"}, {"a", 0}, {"b", 1}}}}};

TEST(KnightsKnavesTest, HandInstance) {
  EXPECT_EQ(Kind("knights_knaves", kTwo, "knight knave"), kCorrect);
  EXPECT_EQ(Kind("knights_knaves", kTwo, " Knight, KNAVE\n"), kCorrect);
  std::string why;
  EXPECT_EQ(Kind("knights_knaves", kTwo, "knight knight", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("A is a knight but says something false: B is a knave."));
  EXPECT_EQ(Kind("knights_knaves", kTwo, "knave knave", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("A is a knave but says something true"));
  EXPECT_EQ(Kind("knights_knaves", kTwo, "knave knight", &why), kIncorrect);
  EXPECT_EQ(Kind("knights_knaves", kTwo, "knight", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("expected 2 kinds"));
}

TEST(KnightsKnavesTest, Unparseable) {
  for (const char* bad : {"", "K N", "1 0", "knight knave liar"}) {
    EXPECT_EQ(Kind("knights_knaves", kTwo, bad), kUnparseable) << bad;
  }
}

std::string Words(uint32_t mask, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += ((mask >> i) & 1u) != 0 ? "knight " : "knave ";
  return s;
}

TEST(KnightsKnavesTest, GeneratedInstancesHaveExactlyOneSolutionTheWitness) {
  const TaskFamily* f = FindFamily("knights_knaves");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed : {0ULL, 1ULL, 7ULL, 1234ULL}) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const size_t n = g->instance["statements"].size();
      ASSERT_EQ(n, static_cast<size_t>(2 + d));
      EXPECT_EQ(Kind("knights_knaves", g->instance, g->witness), kCorrect);
      // Every one of the 2^n answers: exactly one is accepted, and it is the witness.
      int accepted = 0;
      for (uint32_t mask = 0; mask < (1u << n); ++mask) {
        if (Kind("knights_knaves", g->instance, Words(mask, n)) == kCorrect) {
          ++accepted;
          EXPECT_EQ(Words(mask, n), g->witness + " ");
        }
      }
      EXPECT_EQ(accepted, 1);
      EXPECT_EQ(f->Generate(seed, d)->instance, g->instance);
    }
  }
}

TEST(KnightsKnavesTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("knights_knaves", nlohmann::json::object(), "knight"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.statements: missing")));
  const nlohmann::json bad_kind = {
      {"statements", {{{"kind", "is_liar"}, {"a", 1}}, {{"kind", "same"}, {"a", 0}, {"b", 1}}}}};
  EXPECT_THAT(InstanceStatus("knights_knaves", bad_kind, "knight knave"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.statements[0].kind")));
  const nlohmann::json bad_b = {
      {"statements", {{{"kind", "is_knave"}, {"a", 1}}, {{"kind", "same"}, {"a", 0}, {"b", 2}}}}};
  EXPECT_THAT(InstanceStatus("knights_knaves", bad_b, "knight knave"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.statements[1].b")));
  const nlohmann::json not_obj = {{"statements", {1, 2}}};
  EXPECT_THAT(
      InstanceStatus("knights_knaves", not_obj, "knight knave"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.statements[0]: expected an object")));
}

}  // namespace
}  // namespace m1rl::reward::logic
