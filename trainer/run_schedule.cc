#include "trainer/run_schedule.h"

#include <ATen/ops/tensor.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace m1rl::trainer {
namespace {

uint64_t DataSeed(const config::RunConfig& run) {
  return static_cast<uint64_t>(run.data().seed() != 0 ? run.data().seed() : run.trainer().seed());
}

// Source 0 keeps the data seed itself (a run without data.sources orders its rows as before); the others
// get their own streams.
uint64_t SourceOrderSeed(uint64_t seed, size_t source) {
  return source == 0 ? seed : MixSeeds(seed, static_cast<uint64_t>(source));
}

std::vector<int64_t> RowCounts(const std::vector<PromptDataset>& data) {
  std::vector<int64_t> n;
  n.reserve(data.size());
  for (const PromptDataset& d : data) n.push_back(static_cast<int64_t>(d.size()));
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunSchedule>> RunSchedule::Create(const config::RunConfig& run) {
  std::vector<PromptDataset> data;
  for (const config::DataSourceConfig& s : ResolvedSources(run.data())) {
    M1RL_ASSIGN_OR_RETURN(PromptDataset d, PromptDataset::Load(s.path(), s.domain()));
    data.push_back(std::move(d));
  }
  return std::unique_ptr<RunSchedule>(new RunSchedule(run, std::move(data), DataSeed(run)));
}

RunSchedule::RunSchedule(const config::RunConfig& run, std::vector<PromptDataset> data, uint64_t seed)
    : run_(run),
      stages_(run.trainer()),
      data_(std::move(data)),
      mixture_(ResolvedSources(run.data()), RowCounts(data_), seed),
      drawn_(data_.size(), 0) {
  orders_.reserve(data_.size());
  for (size_t i = 0; i < data_.size(); ++i)
    orders_.emplace_back(static_cast<int64_t>(data_[i].size()), SourceOrderSeed(seed, i),
                         run.data().shuffle());
  ApplyCurrentStage();
}

void RunSchedule::ApplyCurrentStage() { stage_config_ = ApplyStage(run_, stages_.current()); }

std::string RunSchedule::DescribeStage() const {
  const config::StageConfig& s = stages_.current();
  const config::RunConfig& c = stage_config_;
  std::string line = absl::StrCat("stage '", stage_name(), "' (", stage() + 1, " of ", num_stages(), ")");
  if (s.max_new_tokens() > 0) absl::StrAppend(&line, ": generation budget ", s.max_new_tokens(), " tokens");
  const config::StageOverrides& o = s.overrides();
  if (o.has_eps_high()) absl::StrAppend(&line, ", eps_high ", c.algorithm().is_weight().eps_high());
  if (o.has_grad_clip()) absl::StrAppend(&line, ", grad_clip ", c.trainer().optim().grad_clip());
  if (o.has_lr()) absl::StrAppend(&line, ", lr ", c.trainer().optim().lr());
  if (o.has_weight_decay()) absl::StrAppend(&line, ", weight_decay ", c.trainer().optim().weight_decay());
  return line;
}

absl::StatusOr<std::vector<ScheduledPrompt>> RunSchedule::NextPrompts(int64_t step, int64_t count) {
  M1RL_ASSIGN_OR_RETURN(const std::vector<MixtureDraw> draws, mixture_.NextBatch(step, stage(), count));
  std::vector<ScheduledPrompt> out;
  out.reserve(draws.size());
  for (const MixtureDraw& d : draws) {
    const auto src = static_cast<size_t>(d.source);
    const int64_t row = orders_[src].IndexAt(d.position);
    out.push_back({&data_[src].row(static_cast<size_t>(row)), d.source});
    ++drawn_[src];
  }
  return out;
}

std::map<std::string, double> RunSchedule::StepMetrics(int64_t step) {
  std::map<std::string, double> m;
  m["stage/index"] = stage();
  m["stage/step_in_stage"] = static_cast<double>(stages_.steps_in_stage() + 1);
  absl::StatusOr<std::vector<double>> w = mixture_.Weights(step, stage());
  for (int i = 0; i < num_sources(); ++i) {
    const std::string prefix = absl::StrCat("data/", source_name(i), "/");
    if (w.ok()) m[prefix + "weight"] = (*w)[static_cast<size_t>(i)];
    m[prefix + "prompts"] = static_cast<double>(drawn_[static_cast<size_t>(i)]);
    drawn_[static_cast<size_t>(i)] = 0;
  }
  return m;
}

absl::StatusOr<bool> RunSchedule::Observe(const std::map<std::string, double>& metrics) {
  M1RL_ASSIGN_OR_RETURN(const bool advanced, stages_.Observe(metrics));
  if (advanced) ApplyCurrentStage();
  return advanced;
}

nlohmann::json RunSchedule::State() const {
  return {{"stages", stages_.State()}, {"mixture", mixture_.State()}};
}

absl::Status RunSchedule::Restore(const nlohmann::json& state) {
  if (!state.is_object() || !state.contains("stages") || !state.contains("mixture"))
    return absl::DataLossError("schedule state: 'stages' or 'mixture' missing");
  M1RL_RETURN_IF_ERROR(stages_.Restore(state["stages"]));
  M1RL_RETURN_IF_ERROR(mixture_.Restore(state["mixture"]));
  ApplyCurrentStage();
  return absl::OkStatus();
}

absl::Status RunSchedule::RestoreLegacyCursor(int64_t consumed) {
  if (num_sources() != 1)
    return absl::DataLossError(
        absl::StrCat("the checkpoint has one data cursor (no schedule state); this run has ", num_sources(),
                     " data.sources"));
  return mixture_.Restore({{"consumed", {{source_name(0), consumed}}}});
}

// ---- per-source tallies ----

SourceTally::SourceTally(int num_sources) : sums_(static_cast<size_t>(num_sources) * kFields, 0.0) {}

void SourceTally::Add(int source, std::optional<double> reward, std::optional<bool> correct, int64_t length) {
  double* s = &sums_[static_cast<size_t>(source) * kFields];
  s[0] += 1;
  if (reward.has_value()) {
    s[1] += 1;
    s[2] += *reward;
    s[3] += correct.value_or(false) ? 1 : 0;
  }
  s[4] += static_cast<double>(length);
}

absl::StatusOr<std::map<std::string, double>> SourceTally::Reduce(Communicator& comm,
                                                                  const RunSchedule& schedule) const {
  at::Tensor t = at::tensor(sums_, at::TensorOptions().dtype(at::kDouble));
  M1RL_RETURN_IF_ERROR(comm.AllReduce(t, ReduceOp::kSum));
  const at::Tensor c = t.contiguous();
  const double* v = c.data_ptr<double>();
  auto ratio = [](double num, double den) { return den > 0 ? num / den : 0.0; };
  std::map<std::string, double> m;
  for (int i = 0; i < schedule.num_sources(); ++i) {
    const double* s = v + static_cast<ptrdiff_t>(i) * kFields;
    const std::string prefix = absl::StrCat("data/", schedule.source_name(i), "/");
    m[prefix + "completions"] = s[0];
    m[prefix + "reward_mean"] = ratio(s[2], s[1]);
    m[prefix + "accuracy"] = ratio(s[3], s[1]);
    m[prefix + "length_mean"] = ratio(s[4], s[0]);
  }
  return m;
}

absl::StatusOr<double> GlobalQuantile(Communicator& comm, const std::vector<int64_t>& values,
                                      int64_t max_value, double q) {
  std::vector<double> hist(static_cast<size_t>(std::max<int64_t>(0, max_value) + 1), 0.0);
  for (int64_t v : values) hist[static_cast<size_t>(std::clamp<int64_t>(v, 0, max_value))] += 1;
  at::Tensor t = at::tensor(hist, at::TensorOptions().dtype(at::kDouble));
  M1RL_RETURN_IF_ERROR(comm.AllReduce(t, ReduceOp::kSum));
  const at::Tensor c = t.contiguous();
  const double* h = c.data_ptr<double>();
  double total = 0;
  for (size_t i = 0; i < hist.size(); ++i) total += h[i];
  if (total == 0) return 0.0;
  const double rank = std::ceil(q * total);
  double seen = 0;
  for (size_t i = 0; i < hist.size(); ++i) {
    seen += h[i];
    if (seen >= rank) return static_cast<double>(i);
  }
  return static_cast<double>(max_value);
}

}  // namespace m1rl::trainer
