#include "trainer/rollout_metrics.h"

#include <ATen/ops/tensor.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace m1rl::trainer {
namespace {

at::Tensor Doubles(const std::vector<double>& v) {
  return at::tensor(v, at::TensorOptions().dtype(at::kDouble));
}

}  // namespace

at::Tensor RolloutCounters::PackSums() const {
  std::vector<double> sums = {static_cast<double>(completions),
                              static_cast<double>(unscored),
                              static_cast<double>(scored),
                              static_cast<double>(correct),
                              reward_sum,
                              length_sum,
                              static_cast<double>(repetition_dropped),
                              static_cast<double>(groups_dropped),
                              static_cast<double>(zero_variance_groups),
                              static_cast<double>(groups_kept),
                              static_cast<double>(generated_tokens),
                              abs_advantage_sum,
                              static_cast<double>(samples),
                              static_cast<double>(masked_tokens_repetition),
                              logprob_sum};
  for (int64_t c : stop_counts) sums.push_back(static_cast<double>(c));
  return Doubles(sums);
}

RolloutCounters RolloutCounters::UnpackSums(const at::Tensor& sums, double length_max) {
  const at::Tensor t = sums.contiguous();
  const double* v = t.data_ptr<double>();
  auto count = [v](int i) { return static_cast<int64_t>(v[i]); };
  RolloutCounters c;
  c.completions = count(0);
  c.unscored = count(1);
  c.scored = count(2);
  c.correct = count(3);
  c.reward_sum = v[4];
  c.length_sum = v[5];
  c.repetition_dropped = count(6);
  c.groups_dropped = count(7);
  c.zero_variance_groups = count(8);
  c.groups_kept = count(9);
  c.generated_tokens = count(10);
  c.abs_advantage_sum = v[11];
  c.samples = count(12);
  c.masked_tokens_repetition = count(13);
  c.logprob_sum = v[14];
  for (int k = 0; k < rl::StopReason_ARRAYSIZE; ++k) c.stop_counts[static_cast<size_t>(k)] = count(15 + k);
  c.length_max = length_max;
  return c;
}

std::map<std::string, double> RolloutCounters::ToMetrics() const {
  auto ratio = [](double num, int64_t den) { return den > 0 ? num / static_cast<double>(den) : 0.0; };
  std::map<std::string, double> m;
  m["rollout/completions"] = static_cast<double>(completions);
  m["rollout/unscored"] = static_cast<double>(unscored);
  m["rollout/accuracy"] = ratio(static_cast<double>(correct), scored);
  m["rollout/reward_mean"] = ratio(reward_sum, scored);
  m["rollout/response_length_mean"] = ratio(length_sum, completions);
  m["rollout/response_length_max"] = length_max;
  m["rollout/logprob_mean"] = length_sum > 0 ? logprob_sum / length_sum : 0.0;
  m["rollout/repetition_dropped"] = static_cast<double>(repetition_dropped);
  m["rollout/groups_dropped"] = static_cast<double>(groups_dropped);
  m["rollout/zero_variance_group_share"] = ratio(static_cast<double>(zero_variance_groups), groups_kept);
  m["rollout/groups_kept"] = static_cast<double>(groups_kept);
  m["rollout/gen_tokens"] = static_cast<double>(generated_tokens);
  m["rollout/abs_advantage_mean"] = ratio(abs_advantage_sum, samples);
  m["rollout/masked_tokens_repetition"] = static_cast<double>(masked_tokens_repetition);
  for (int k = 1; k < rl::StopReason_ARRAYSIZE; ++k) {
    // STOP_EOS -> rollout/stop_eos.
    m[absl::StrCat("rollout/", absl::AsciiStrToLower(rl::StopReason_Name(static_cast<rl::StopReason>(k))))] =
        static_cast<double>(stop_counts[static_cast<size_t>(k)]);
  }
  return m;
}

absl::StatusOr<RolloutCounters> AllReduceRolloutCounters(Communicator& comm, const RolloutCounters& local) {
  at::Tensor sums = local.PackSums();
  absl::Status s = comm.AllReduce(sums, ReduceOp::kSum);
  if (!s.ok()) return s;
  at::Tensor max = Doubles({local.length_max});
  s = comm.AllReduce(max, ReduceOp::kMax);
  if (!s.ok()) return s;
  return RolloutCounters::UnpackSums(sums, max.data_ptr<double>()[0]);
}

}  // namespace m1rl::trainer
