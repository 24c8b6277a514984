#include "reward/genrm/swiss.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "common/check.h"
#include "common/config.h"
#include "common/status_macros.h"

namespace m1rl::reward::genrm {
namespace {

struct State {
  explicit State(int n)
      : points(n, 0.0), had_bye(n, false), met(n, std::vector<bool>(n, false)), opponents(n) {}
  std::vector<double> points;
  std::vector<bool> had_bye;
  std::vector<std::vector<bool>> met;
  std::vector<std::vector<int>> opponents;  // matches played (and failed ones), not byes
};

// Pairs `rest` (best first) without rematches, each candidate with the best-ranked opponent still free;
// backtracks when stuck. False when no such pairing exists or the search ran out of steps.
bool PairWithoutRematch(std::vector<int>* rest, const State& s, std::vector<std::pair<int, int>>* pairs,
                        int* steps) {
  if (rest->empty()) return true;
  if (--*steps < 0) return false;
  int a = (*rest)[0];
  for (size_t j = 1; j < rest->size(); ++j) {
    int b = (*rest)[j];
    if (s.met[a][b]) continue;
    std::vector<int> next;
    next.reserve(rest->size() - 2);
    for (size_t k = 1; k < rest->size(); ++k) {
      if (k != j) next.push_back((*rest)[k]);
    }
    pairs->emplace_back(a, b);
    if (PairWithoutRematch(&next, s, pairs, steps)) return true;
    pairs->pop_back();
  }
  return false;
}

std::vector<std::pair<int, int>> PairRound(std::vector<int> order, const State& s) {
  std::vector<std::pair<int, int>> pairs;
  int steps = 100000;
  if (PairWithoutRematch(&order, s, &pairs, &steps)) return pairs;
  pairs.clear();  // every pairing repeats a match: adjacent ranks
  for (size_t i = 0; i + 1 < order.size(); i += 2) pairs.emplace_back(order[i], order[i + 1]);
  return pairs;
}

struct MatchOutcome {
  absl::StatusOr<PairVerdict> a_first = absl::UnknownError("not judged");
  absl::StatusOr<PairVerdict> b_first = absl::UnknownError("not judged");  // a_first's error when it failed
  int calls = 0;
};

// Judges each pair in both orders, up to `parallel` matches at a time; outcomes in pair order.
std::vector<MatchOutcome> PlayMatches(const std::vector<std::pair<int, int>>& pairs, int parallel,
                                      const OrderJudge& judge) {
  std::vector<MatchOutcome> outcomes(pairs.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t m = next++; m < pairs.size(); m = next++) {
      auto [a, b] = pairs[m];
      MatchOutcome& out = outcomes[m];
      out.a_first = judge(a, b, &out.calls);
      out.b_first =
          out.a_first.ok() ? judge(b, a, &out.calls) : absl::StatusOr<PairVerdict>(out.a_first.status());
    }
  };
  size_t threads = std::min<size_t>(pairs.size(), static_cast<size_t>(std::max(1, parallel)));
  if (threads <= 1) {
    worker();
    return outcomes;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  return outcomes;
}

std::vector<SwissStanding> Standings(const std::vector<std::string>& candidates, const State& s) {
  std::vector<SwissStanding> out(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    out[i].index = static_cast<int>(i);
    out[i].points = s.points[i];
    out[i].matches = static_cast<int>(s.opponents[i].size());
    for (int o : s.opponents[i]) out[i].buchholz += s.points[o];
  }
  std::sort(out.begin(), out.end(), [&](const SwissStanding& a, const SwissStanding& b) {
    if (a.points != b.points) return a.points > b.points;
    if (a.buchholz != b.buchholz) return a.buchholz > b.buchholz;
    size_t la = candidates[a.index].size();
    size_t lb = candidates[b.index].size();
    if (la != lb) return la < lb;
    return a.index < b.index;
  });
  return out;
}

}  // namespace

absl::StatusOr<SwissOptions> ResolveSwissOptions(const config::SwissConfig& config) {
  FieldChecker check;
  check.AtLeast(config.extra_rounds(), 0, "reward.genrm.swiss.extra_rounds");
  check.AtLeast(config.max_judge_calls(), 0, "reward.genrm.swiss.max_judge_calls");
  M1RL_RETURN_IF_ERROR(check.Result());
  SwissOptions o;
  if (config.extra_rounds() > 0) o.extra_rounds = config.extra_rounds();
  check.AtLeast(config.parallel_matches(), 0, "reward.genrm.swiss.parallel_matches");
  if (config.parallel_matches() > 0) o.parallel_matches = config.parallel_matches();
  o.max_judge_calls = config.max_judge_calls();
  return o;
}

int SwissRounds(int n, int extra_rounds) {
  if (n < 2) return 0;
  int log2 = 0;
  while ((1 << log2) < n) ++log2;
  return log2 + extra_rounds;
}

absl::StatusOr<SwissResult> RunSwiss(const std::vector<std::string>& candidates, const SwissOptions& options,
                                     int calls_per_order, const OrderJudge& judge) {
  M1RL_CHECK(!candidates.empty());
  M1RL_CHECK(calls_per_order >= 1);
  const int n = static_cast<int>(candidates.size());
  const int rounds = SwissRounds(n, options.extra_rounds);
  const int match_cost = 2 * calls_per_order;
  const int budget = options.max_judge_calls > 0 ? options.max_judge_calls : rounds * (n / 2) * match_cost;
  State s(n);
  SwissResult result;
  for (int round = 0; round < rounds && !result.budget_exhausted; ++round) {
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return s.points[a] > s.points[b]; });
    if (n % 2 == 1) {
      auto bye = std::find_if(order.rbegin(), order.rend(), [&](int i) { return !s.had_bye[i]; });
      int who = bye != order.rend() ? *bye : order.back();
      s.had_bye[who] = true;
      s.points[who] += 1.0;
      order.erase(std::find(order.begin(), order.end(), who));
    }
    std::vector<std::pair<int, int>> pairs = PairRound(order, s);
    // Matches of a round are independent: each is admitted at its worst-case cost, then judged in parallel.
    size_t fit = static_cast<size_t>(std::max(0, (budget - result.judge_calls) / match_cost));
    if (fit < pairs.size()) {
      result.budget_exhausted = true;
      pairs.resize(fit);
    }
    std::vector<MatchOutcome> outcomes = PlayMatches(pairs, options.parallel_matches, judge);
    for (size_t m = 0; m < pairs.size(); ++m) {
      auto [a, b] = pairs[m];
      const MatchOutcome& out = outcomes[m];
      result.judge_calls += out.calls;
      s.met[a][b] = s.met[b][a] = true;
      s.opponents[a].push_back(b);
      s.opponents[b].push_back(a);
      ++result.matches;
      if (!out.b_first.ok()) {
        if (out.b_first.status().code() != absl::StatusCode::kInvalidArgument) return out.b_first.status();
        ++result.failed_matches;
        continue;
      }
      PairwiseScore score = CombineOrders(*out.a_first, *out.b_first);  // from a's side
      if (score.disagreement) ++result.disagreements;
      s.points[a] += score.score > 0 ? 1.0 : score.score < 0 ? 0.0 : 0.5;
      s.points[b] += score.score < 0 ? 1.0 : score.score > 0 ? 0.0 : 0.5;
    }
    ++result.rounds_played;
  }
  result.standings = Standings(candidates, s);
  result.winner = result.standings.front().index;
  return result;
}

absl::StatusOr<SwissResult> SelectReference(const GenRm& genrm, std::string_view question,
                                            const std::vector<std::string>& candidates,
                                            const SwissOptions& options, const CheckContext& ctx) {
  if (candidates.empty()) return absl::InvalidArgumentError("Swiss round: no candidate answers");
  M1RL_ASSIGN_OR_RETURN(SwissResult result, RunSwiss(candidates, options, 1 + genrm.options().parse_retries,
                                                     [&](int first, int second, int* calls) {
                                                       return genrm.JudgeOrder(question, candidates[first],
                                                                               candidates[second], ctx,
                                                                               calls);
                                                     }));
  result.judge_version = genrm.version();
  return result;
}

}  // namespace m1rl::reward::genrm
