// The GenRM length-bias monitor (REWARDS.md §6; MiniMax-M1 §4.2.2: GenRMs reward length, offline fixes
// failed, online monitoring plus recalibration worked). The trainer feeds it every step, per domain:
//  - AddGroup: one prompt's responses (lengths, rewards); the window's statistic is the mean
//    within-group Spearman correlation of reward with length (groups of < 3 or constant values skipped);
//  - AddProbe: a fixed probe set with rule-verifiable answers, scored by rules and by the GenRM: the
//    policy's rule accuracy, and the agreement of "GenRM reward >= probe_correct_threshold" with the rule;
//  - AddPaddedProbe: a probe answer and a padded (lengthened, same content) variant; the padded one must
//    not beat the original.
// EndWindow(step) closes the window and returns per-domain metrics (Metrics(): scalars for the metrics
// writers, "genrm_length_bias/<domain>/<stat>"). A domain alarms when
//  (a) its correlation exceeded corr_threshold in `windows` consecutive counted windows (>= min_groups
//      groups; windows with fewer groups neither count nor reset the streak) while the probe rule accuracy
//      rose by less than flat_accuracy_eps over the streak (longer answers, no success gain; with no probe
//      data the accuracy counts as flat), or
//  (b) probe agreement fell more than agreement_drop below the domain's first window with probes, or
//  (c) more than padded_win_rate of the padded variants scored above their originals.
// On an alarm the recalibration hook (if set) is called with the report, once per window.
//
// What the trainer can do on an alarm (logged by the caller): alert; residualise rewards per group with
// ResidualiseLength (r - beta * z(length)), removing the length-linear part of the reward within a group;
// or recalibrate the judge by hot-swapping its prompt templates or checkpoint (a new GenRm; its version
// changes, so cached verdicts are not reused). The monitor only measures and signals.
//
// Thread safety: not thread-safe; the trainer's rank 0 calls it from one thread.
#ifndef M1RL_REWARD_GENRM_LENGTH_BIAS_H_
#define M1RL_REWARD_GENRM_LENGTH_BIAS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config_reward.pb.h"

namespace m1rl::reward::genrm {

struct LengthBiasOptions {
  double corr_threshold = 0.3;
  int windows = 3;
  double flat_accuracy_eps = 0.01;
  double agreement_drop = 0.05;
  double padded_win_rate = 0.10;
  int min_groups = 4;
  double probe_correct_threshold = 0.5;
  bool monitor = false;                            // the trainer runs the monitor every RL step
  std::vector<std::string> domains = {"general"};  // domains the trainer feeds it
  double residualise_beta = 0.0;                   // > 0: the trainer residualises alarmed domains' rewards
};

// Defaults applied; kInvalidArgument naming the field.
absl::StatusOr<LengthBiasOptions> ResolveLengthBiasOptions(const config::LengthBiasConfig& config);

// Spearman's rank correlation (average ranks for ties); nullopt when n < 2, sizes differ or either side is
// constant.
std::optional<double> SpearmanCorrelation(const std::vector<double>& x, const std::vector<double>& y);

// rewards[i] - beta * (lengths[i] - mean) / std (population std over the group); unchanged when the lengths
// are constant. REQUIRES: equal sizes.
std::vector<double> ResidualiseLength(const std::vector<double>& lengths, const std::vector<double>& rewards,
                                      double beta);

struct DomainLengthStats {
  std::string domain;
  int groups = 0;            // groups with a defined correlation
  double spearman = 0.0;     // mean within-group correlation (0 when groups == 0)
  double mean_length = 0.0;  // over all responses added
  int probes = 0;
  double probe_accuracy = 0.0;   // rule accuracy on the probe set
  double probe_agreement = 0.0;  // GenRM vs rule agreement
  int padded = 0;
  double padded_win_rate = 0.0;
  int windows_over = 0;  // the current streak of counted windows above corr_threshold
  bool alarm = false;
  std::vector<std::string> reasons;  // why it alarmed
};

struct LengthBiasReport {
  int64_t step = 0;
  std::vector<DomainLengthStats> domains;  // sorted by name
  bool alarm = false;                      // any domain
  std::map<std::string, double> Metrics() const;
};

class LengthBiasMonitor {
 public:
  using Hook = std::function<void(const LengthBiasReport&)>;
  explicit LengthBiasMonitor(LengthBiasOptions options) : options_(options) {}

  // REQUIRES: lengths.size() == rewards.size().
  void AddGroup(const std::string& domain, const std::vector<double>& lengths,
                const std::vector<double>& rewards);
  void AddProbe(const std::string& domain, double genrm_reward, bool rule_correct);
  void AddPaddedProbe(const std::string& domain, double original_reward, double padded_reward);
  // Closes the window; calls the hook when any domain alarms.
  LengthBiasReport EndWindow(int64_t step);
  void SetRecalibrationHook(Hook hook) { hook_ = std::move(hook); }

 private:
  struct Window {
    double corr_sum = 0;
    int groups = 0;
    double length_sum = 0;
    int64_t responses = 0;
    int probes = 0, probe_correct = 0, probe_agree = 0;
    int padded = 0, padded_wins = 0;
  };
  struct History {
    int streak = 0;
    std::optional<double> streak_start_accuracy;  // probe accuracy when the streak began
    std::optional<double> last_accuracy;
    std::optional<double> baseline_agreement;
  };
  DomainLengthStats Close(const std::string& domain, const Window& w, History* h) const;

  LengthBiasOptions options_;
  std::map<std::string, Window> window_;
  std::map<std::string, History> history_;
  Hook hook_;
};

}  // namespace m1rl::reward::genrm

#endif  // M1RL_REWARD_GENRM_LENGTH_BIAS_H_
