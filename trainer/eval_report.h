// Accuracy and pass@k of an evaluation (`m1rl eval`), per domain and over all prompts.
//
// pass@k is the unbiased estimator of the Codex paper (Chen et al. 2021, eq. 1): for a prompt with n
// scored samples of which c are correct, pass@k = 1 - C(n-c, k) / C(n, k), averaged over prompts.
// Unscored samples (any status but OK) are excluded, never counted as wrong: a prompt's n is its scored
// samples, and a prompt with fewer than k of them is left out of pass@k (counted in PassAtK::prompts).
// accuracy = correct / scored samples.
#ifndef M1RL_TRAINER_EVAL_REPORT_H_
#define M1RL_TRAINER_EVAL_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace m1rl::trainer {

// 1 - C(n-c, k) / C(n, k) in float64, as a product (no factorials). REQUIRES 0 <= c <= n, 1 <= k <= n.
double PassAtK(int64_t n, int64_t c, int64_t k);

// The k of a report with n samples per prompt: 1, 2, 4, ... (powers of two below n), and n.
std::vector<int64_t> PassAtKValues(int64_t n);

// One prompt's samples after scoring.
struct PromptOutcome {
  std::string domain;
  int64_t samples = 0;    // generated
  int64_t scored = 0;     // status OK
  int64_t correct = 0;    // verdict CORRECT among the scored
  double reward_sum = 0;  // of the scored
};

struct PassAtKValue {
  double value = 0;     // mean over the prompts below
  int64_t prompts = 0;  // prompts with >= k scored samples
};

struct DomainReport {
  std::string domain;  // "all" for the total row
  int64_t prompts = 0;
  int64_t samples = 0;
  int64_t scored = 0;
  int64_t correct = 0;
  double reward_sum = 0;
  std::map<int64_t, PassAtKValue> pass_at;  // k -> value

  int64_t unscored() const { return samples - scored; }
  double accuracy() const { return scored > 0 ? static_cast<double>(correct) / scored : 0.0; }
  double mean_reward() const { return scored > 0 ? reward_sum / scored : 0.0; }
};

// One report per domain (sorted by name), then "all"; pass@k for every k of PassAtKValues(n).
// REQUIRES n >= 1 and, per prompt, scored <= n, correct <= scored.
std::vector<DomainReport> AggregateEval(const std::vector<PromptOutcome>& prompts, int64_t n);

// A fixed-width table: domain, prompts, samples, scored, unscored, correct, accuracy, reward, pass@k...;
// a note under it for each k whose pass@k left prompts out.
std::string FormatEvalTable(const std::vector<DomainReport>& reports);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_EVAL_REPORT_H_
