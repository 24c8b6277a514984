#include "reward/genrm/swiss.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/random.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/genrm/testing/scripted_judge.h"

namespace m1rl::reward::genrm {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

// Candidates "cand-<i>" plus i-dependent padding, and a hidden quality per candidate (a permutation).
struct Field {
  std::vector<std::string> candidates;
  std::vector<int> quality;
  int best = -1;
};

Field MakeField(int n, uint64_t seed) {
  Field f;
  f.quality.resize(n);
  std::iota(f.quality.begin(), f.quality.end(), 0);
  uint64_t state = seed;
  for (int i = n - 1; i > 0; --i) std::swap(f.quality[i], f.quality[SplitMix64Next(&state) % (i + 1)]);
  for (int i = 0; i < n; ++i) f.candidates.push_back("cand-" + std::to_string(i) + std::string(i % 7, '.'));
  f.best = static_cast<int>(std::max_element(f.quality.begin(), f.quality.end()) - f.quality.begin());
  return f;
}

OrderJudge TotalOrderJudge(const Field& f) {
  return [&f](int first, int second, int* calls) -> absl::StatusOr<PairVerdict> {
    *calls += 1;
    return f.quality[first] > f.quality[second] ? PairVerdict::kA : PairVerdict::kB;
  };
}

TEST(GenrmSwissTest, Rounds) {
  EXPECT_EQ(SwissRounds(1, 2), 0);
  EXPECT_EQ(SwissRounds(2, 2), 3);
  EXPECT_EQ(SwissRounds(8, 2), 5);
  EXPECT_EQ(SwissRounds(9, 2), 6);
  EXPECT_EQ(SwissRounds(13, 0), 4);
}

TEST(GenrmSwissTest, TotalOrderPicksTheBestWithinTheBudget) {
  for (int n : {2, 3, 5, 8, 13, 16, 32}) {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      Field f = MakeField(n, seed);
      absl::StatusOr<SwissResult> r = RunSwiss(f.candidates, SwissOptions{}, 1, TotalOrderJudge(f));
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->winner, f.best) << "n=" << n << " seed=" << seed;
      int rounds = SwissRounds(n, 2);
      EXPECT_EQ(r->rounds_played, rounds);
      EXPECT_EQ(r->matches, rounds * (n / 2));
      EXPECT_EQ(r->judge_calls, 2 * r->matches);  // both orders per match
      EXPECT_LE(r->judge_calls, 2 * rounds * (n / 2));
      EXPECT_FALSE(r->budget_exhausted);
      EXPECT_EQ(r->disagreements, 0);
      // The winner won every match it played (byes count as wins).
      EXPECT_EQ(r->standings.front().points, rounds);
    }
  }
}

TEST(GenrmSwissTest, BudgetStopsBeforeOverspending) {
  Field f = MakeField(8, 3);
  SwissOptions o;
  o.max_judge_calls = 9;  // 4 matches fit (8 calls); a fifth would need 10
  absl::StatusOr<SwissResult> r = RunSwiss(f.candidates, o, 1, TotalOrderJudge(f));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->budget_exhausted);
  EXPECT_EQ(r->judge_calls, 8);
  EXPECT_EQ(r->matches, 4);
  // With parse retries a match may cost up to 2 * 2 calls: 2 matches are admitted (8 <= 9), a third could
  // need 12. They take 2 calls each.
  absl::StatusOr<SwissResult> r2 = RunSwiss(f.candidates, o, 2, TotalOrderJudge(f));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->matches, 2);
  EXPECT_EQ(r2->judge_calls, 4);
  EXPECT_TRUE(r2->budget_exhausted);
}

TEST(GenrmSwissTest, NoRematchWhilePairingsRemain) {
  Field f = MakeField(4, 5);
  std::set<std::pair<int, int>> met;
  std::mutex mu;
  OrderJudge judge = [&](int a, int b, int* calls) -> absl::StatusOr<PairVerdict> {
    *calls += 1;
    std::lock_guard<std::mutex> lock(mu);
    met.insert({std::min(a, b), std::max(a, b)});
    return f.quality[a] > f.quality[b] ? PairVerdict::kA : PairVerdict::kB;
  };
  SwissOptions o;
  o.extra_rounds = 1;  // 3 rounds of 2 matches among 4: a round robin
  absl::StatusOr<SwissResult> r = RunSwiss(f.candidates, o, 1, judge);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->matches, 6);
  EXPECT_EQ(met.size(), 6u);
  EXPECT_EQ(r->winner, f.best);
}

TEST(GenrmSwissTest, ParallelMatchesGiveTheSameTournament) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Field f = MakeField(16, seed);
    std::atomic<int> in_flight{0};
    std::atomic<int> peak{0};
    OrderJudge slow = [&](int a, int b, int* calls) -> absl::StatusOr<PairVerdict> {
      int now = ++in_flight;
      for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      --in_flight;
      *calls += 1;
      return f.quality[a] > f.quality[b] ? PairVerdict::kA : PairVerdict::kB;
    };
    SwissOptions sequential;
    sequential.parallel_matches = 1;
    SwissOptions parallel;
    parallel.parallel_matches = 8;
    absl::StatusOr<SwissResult> r1 = RunSwiss(f.candidates, sequential, 1, slow);
    ASSERT_EQ(peak.load(), 1);
    absl::StatusOr<SwissResult> r8 = RunSwiss(f.candidates, parallel, 1, slow);
    ASSERT_TRUE(r1.ok() && r8.ok());
    EXPECT_GT(peak.load(), 1);
    EXPECT_EQ(r1->winner, f.best);
    EXPECT_EQ(r8->winner, r1->winner);
    EXPECT_EQ(r8->judge_calls, r1->judge_calls);
    ASSERT_EQ(r8->standings.size(), r1->standings.size());
    for (size_t i = 0; i < r1->standings.size(); ++i) {
      EXPECT_EQ(r8->standings[i].index, r1->standings[i].index);
      EXPECT_EQ(r8->standings[i].points, r1->standings[i].points);
    }
  }
}

TEST(GenrmSwissTest, AllDisagreementsTieBreakOnLength) {
  std::vector<std::string> candidates = {"a long answer", "mid answer", "short", "the longest answer"};
  OrderJudge biased = [](int, int, int* calls) -> absl::StatusOr<PairVerdict> {
    *calls += 1;
    return PairVerdict::kA;  // always the first shown: every match is a disagreement, 1/2 each
  };
  absl::StatusOr<SwissResult> r = RunSwiss(candidates, SwissOptions{}, 1, biased);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->disagreements, r->matches);
  EXPECT_EQ(r->winner, 2);
  for (const SwissStanding& s : r->standings) EXPECT_DOUBLE_EQ(s.points, r->rounds_played * 0.5);
}

TEST(GenrmSwissTest, UnparseableMatchesAreNotScoredOtherErrorsStop) {
  Field f = MakeField(8, 11);
  int best = f.best;
  OrderJudge flaky = [&](int a, int b, int* calls) -> absl::StatusOr<PairVerdict> {
    *calls += 1;
    if (a == best || b == best) return absl::InvalidArgumentError("judge reply has no verdict");
    return f.quality[a] > f.quality[b] ? PairVerdict::kA : PairVerdict::kB;
  };
  absl::StatusOr<SwissResult> r = RunSwiss(f.candidates, SwissOptions{}, 1, flaky);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->failed_matches, 0);
  EXPECT_NE(r->winner, best);  // it never scored
  int second = static_cast<int>(std::find(f.quality.begin(), f.quality.end(), 6) - f.quality.begin());
  EXPECT_EQ(r->winner, second);

  OrderJudge down = [](int, int, int*) -> absl::StatusOr<PairVerdict> {
    return absl::UnavailableError("judge endpoint down");
  };
  EXPECT_THAT(RunSwiss(f.candidates, SwissOptions{}, 1, down),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("down")));
}

TEST(GenrmSwissTest, SelectReferenceThroughGenRm) {
  Field f = MakeField(13, 7);
  auto judge = std::make_shared<testing::ScriptedJudge>(
      [&f](const JudgeRequest& r, int) -> absl::StatusOr<std::string> {
        auto quality = [&](const std::string& text) {
          return f.quality[std::find(f.candidates.begin(), f.candidates.end(), text) - f.candidates.begin()];
        };
        int qa = quality(testing::BlockAfter(r.messages[1].content, "ANSWER A:"));
        int qb = quality(testing::BlockAfter(r.messages[1].content, "ANSWER B:"));
        return std::string(qa > qb ? "Verdict: [[A]]" : "Verdict: [[B]]");
      });
  GenRm genrm(judge, *ResolveGenrmOptions(config::GenrmConfig()));
  absl::StatusOr<SwissResult> r =
      SelectReference(genrm, "question?", f.candidates, SwissOptions{}, CheckContext{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->winner, f.best);
  EXPECT_EQ(r->judge_calls, judge->calls());
  EXPECT_EQ(r->judge_version, genrm.version());
  EXPECT_THAT(SelectReference(genrm, "q", {}, SwissOptions{}, CheckContext{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no candidate")));
}

TEST(GenrmSwissTest, ResolveOptions) {
  config::SwissConfig c;
  absl::StatusOr<SwissOptions> o = ResolveSwissOptions(c);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->extra_rounds, 2);
  EXPECT_EQ(o->parallel_matches, 8);
  c.set_max_judge_calls(-3);
  EXPECT_THAT(ResolveSwissOptions(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("reward.genrm.swiss.max_judge_calls must be >= 0, got -3")));
}

}  // namespace
}  // namespace m1rl::reward::genrm
