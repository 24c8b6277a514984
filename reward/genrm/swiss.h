// The Swiss-round tournament that picks a reference answer per prompt from N candidate answers
// (REWARDS.md §6; offline, before training): ceil(log2 N) + extra_rounds rounds; each round pairs
// candidates with equal points that have not met yet (best first; a rematch only when no other pairing
// exists; with N odd the lowest-ranked candidate without a bye gets one, worth a win). A match is judged
// in both orders: a win is worth 1, a draw or an order disagreement 1/2 each. Ranking: points, then
// Buchholz (the sum of the opponents' points), then the shorter answer, then the lower index.
//
// Budget: each round admits, in pairing order, the matches whose worst-case cost (2 orders x
// calls_per_order each) still fits in max_judge_calls after the calls already made; a round that cannot
// admit all its matches is the last (budget_exhausted), and the ranking so far decides. judge_calls never
// exceeds max_judge_calls. The admitted matches of a round are judged up to parallel_matches at a time
// (they are independent); results are applied in pairing order, so the outcome does not depend on it.
// A match whose verdict stays unparseable (kInvalidArgument from the judge) is not scored: both count as
// met, neither gets points, and it is counted in failed_matches. Any other judge error ends the
// tournament with that status (no reference is better than a guessed one).
#ifndef M1RL_REWARD_GENRM_SWISS_H_
#define M1RL_REWARD_GENRM_SWISS_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config_reward.pb.h"
#include "reward/genrm/genrm.h"
#include "reward/genrm/verdict.h"

namespace m1rl::reward::genrm {

struct SwissOptions {
  int extra_rounds = 2;
  int max_judge_calls = 0;   // 0: every round's matches at their worst-case cost
  int parallel_matches = 8;  // matches judged at once within a round (the judge must be thread-safe)
};

// Defaults applied; kInvalidArgument naming the field.
absl::StatusOr<SwissOptions> ResolveSwissOptions(const config::SwissConfig& config);

// ceil(log2 n) + extra_rounds (0 for n < 2).
int SwissRounds(int n, int extra_rounds);

struct SwissStanding {
  int index = 0;  // into the candidates
  double points = 0;
  double buchholz = 0;
  int matches = 0;
};

struct SwissResult {
  int winner = -1;                       // index of the chosen reference
  std::vector<SwissStanding> standings;  // best first
  int rounds_played = 0;
  int matches = 0;
  int judge_calls = 0;
  int disagreements = 0;   // matches whose two orders disagreed
  int failed_matches = 0;  // unparseable verdicts, not scored
  bool budget_exhausted = false;
  std::string judge_version;  // the GenRm version that judged (empty for a bare MatchJudge)
};

// One order of one match: which of candidates[first] (shown as A) and candidates[second] is better;
// adds the judge calls made to *calls. Called from up to parallel_matches threads at once.
using OrderJudge = std::function<absl::StatusOr<PairVerdict>(int first, int second, int* calls)>;

// REQUIRES: candidates non-empty; calls_per_order >= 1 (the most calls one order may take).
absl::StatusOr<SwissResult> RunSwiss(const std::vector<std::string>& candidates, const SwissOptions& options,
                                     int calls_per_order, const OrderJudge& judge);

// RunSwiss with `genrm` judging (calls_per_order = 1 + parse_retries); records genrm.version().
absl::StatusOr<SwissResult> SelectReference(const GenRm& genrm, std::string_view question,
                                            const std::vector<std::string>& candidates,
                                            const SwissOptions& options, const CheckContext& ctx);

}  // namespace m1rl::reward::genrm

#endif  // M1RL_REWARD_GENRM_SWISS_H_
