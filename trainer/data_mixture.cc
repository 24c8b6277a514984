#include "trainer/data_mixture.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace m1rl::trainer {
namespace {

// A uniform in [0, 1) from the top 53 bits of a 64-bit hash.
double Uniform01(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Set when any ramp field is (message presence does not survive the config loader, which fills every
// sub-message).
bool HasRamp(const config::DataSourceConfig& s) {
  const auto& r = s.ramp();
  return r.from() != 0 || r.to() != 0 || r.start_step() != 0 || r.end_step() != 0;
}

void CheckSchedule(const config::DataSourceConfig& s, const std::string& path, int num_stages,
                   std::vector<std::string>& errors) {
  const int kinds = (s.weight() != 0 ? 1 : 0) + (HasRamp(s) ? 1 : 0) + (s.per_stage_size() > 0 ? 1 : 0);
  if (kinds > 1) errors.push_back(absl::StrCat(path, ": set one of weight, ramp, per_stage"));
  if (s.weight() < 0) errors.push_back(absl::StrCat(path, ".weight must be >= 0"));
  if (HasRamp(s)) {
    const auto& r = s.ramp();
    if (r.from() < 0 || r.to() < 0) errors.push_back(absl::StrCat(path, ".ramp.from/to must be >= 0"));
    if (r.start_step() < 0 || r.end_step() <= r.start_step())
      errors.push_back(absl::StrCat(path, ".ramp.end_step must be > start_step >= 0"));
  }
  if (s.per_stage_size() > 0 && s.per_stage_size() != std::max(1, num_stages))
    errors.push_back(absl::StrCat(path, ".per_stage has ", s.per_stage_size(),
                                  " weights, trainer.stages has ", std::max(1, num_stages), " stages"));
  for (double w : s.per_stage())
    if (w < 0) errors.push_back(absl::StrCat(path, ".per_stage weights must be >= 0"));
}

}  // namespace

absl::Status ValidateDataSources(const config::DataConfig& data, int num_stages) {
  std::vector<std::string> errors;
  if (data.sources_size() > 0 && !data.train_path().empty())
    errors.push_back("data.sources and data.train_path: set one (train_path is a one-source mixture)");
  std::set<std::string> names;
  for (int i = 0; i < data.sources_size(); ++i) {
    const config::DataSourceConfig& s = data.sources(i);
    const std::string path = absl::StrCat("data.sources[", i, "]");
    if (s.name().empty()) errors.push_back(absl::StrCat(path, ".name is required"));
    if (!names.insert(s.name()).second)
      errors.push_back(absl::StrCat(path, ".name '", s.name(), "' repeats"));
    if (s.path().empty()) errors.push_back(absl::StrCat(path, ".path is required"));
    CheckSchedule(s, path, num_stages, errors);
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

std::vector<config::DataSourceConfig> ResolvedSources(const config::DataConfig& data) {
  if (data.sources_size() > 0) return {data.sources().begin(), data.sources().end()};
  config::DataSourceConfig one;
  one.set_name("train");
  one.set_path(data.train_path());
  one.set_weight(1.0);
  one.set_wrap(true);
  return {one};
}

double SourceWeight(const config::DataSourceConfig& s, int64_t step, int stage) {
  if (s.per_stage_size() > 0) return s.per_stage(std::clamp(stage, 0, s.per_stage_size() - 1));
  if (!HasRamp(s)) return s.weight();
  const auto& r = s.ramp();
  if (step <= r.start_step()) return r.from();
  if (step >= r.end_step()) return r.to();
  const double t =
      static_cast<double>(step - r.start_step()) / static_cast<double>(r.end_step() - r.start_step());
  return r.from() + (r.to() - r.from()) * t;
}

DataMixture::DataMixture(std::vector<config::DataSourceConfig> sources, std::vector<int64_t> num_rows,
                         uint64_t seed)
    : sources_(std::move(sources)),
      num_rows_(std::move(num_rows)),
      seed_(seed),
      consumed_(sources_.size(), 0) {}

absl::StatusOr<std::vector<double>> DataMixture::Weights(int64_t step, int stage) const {
  std::vector<double> w;
  w.reserve(sources_.size());
  double total = 0;
  for (const auto& s : sources_) {
    w.push_back(SourceWeight(s, step, stage));
    total += w.back();
  }
  if (!(total > 0))
    return absl::InvalidArgumentError(
        absl::StrCat("data.sources: every mixture weight is 0 at step ", step, " (stage ", stage, ")"));
  for (double& x : w) x /= total;
  return w;
}

absl::StatusOr<std::vector<MixtureDraw>> DataMixture::NextBatch(int64_t step, int stage, int64_t count) {
  M1RL_ASSIGN_OR_RETURN(const std::vector<double> w, Weights(step, stage));
  std::vector<int64_t> next = consumed_;
  std::vector<MixtureDraw> draws;
  draws.reserve(static_cast<size_t>(count));
  for (int64_t j = 0; j < count; ++j) {
    const double u = Uniform01(MixSeeds(seed_, static_cast<uint64_t>(step), static_cast<uint64_t>(j)));
    int pick = 0;
    double cumulative = w[0];
    while (u >= cumulative && pick + 1 < num_sources()) cumulative += w[static_cast<size_t>(++pick)];
    while (w[static_cast<size_t>(pick)] == 0) --pick;  // u at the float edge of trailing zero weights
    const auto p = static_cast<size_t>(pick);
    if (!sources_[p].wrap() && next[p] >= num_rows_[p])
      return absl::OutOfRangeError(absl::StrCat("data source '", sources_[p].name(), "' (",
                                                sources_[p].path(), ") has no rows left after ", num_rows_[p],
                                                " at step ", step, "; set wrap: true to start a new epoch"));
    draws.push_back({pick, next[p]++});
  }
  consumed_ = std::move(next);
  return draws;
}

nlohmann::json DataMixture::State() const {
  nlohmann::json consumed = nlohmann::json::object();
  for (size_t i = 0; i < sources_.size(); ++i) consumed[sources_[i].name()] = consumed_[i];
  return {{"consumed", consumed}};
}

absl::Status DataMixture::Restore(const nlohmann::json& state) {
  if (!state.is_object() || !state.contains("consumed") || !state["consumed"].is_object())
    return absl::DataLossError("data mixture state: 'consumed' missing or not an object");
  std::vector<int64_t> consumed(sources_.size(), 0);
  for (size_t i = 0; i < sources_.size(); ++i) {
    const auto it = state["consumed"].find(sources_[i].name());
    if (it == state["consumed"].end() || !it->is_number_integer())
      return absl::DataLossError(
          absl::StrCat("data mixture state: no count for source '", sources_[i].name(), "'"));
    consumed[i] = it->get<int64_t>();
  }
  consumed_ = std::move(consumed);
  return absl::OkStatus();
}

}  // namespace m1rl::trainer
