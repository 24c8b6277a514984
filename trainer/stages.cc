#include "trainer/stages.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace m1rl::trainer {
namespace {

// One line per StageOverrides field: is it set, and where it goes.
struct OverrideField {
  std::function<bool(const config::StageOverrides&)> has;
  std::function<void(const config::StageOverrides&, config::RunConfig&)> apply;
};

const std::vector<OverrideField>& OverrideTable() {
  static const auto* table = new std::vector<OverrideField>{
      {[](const auto& o) { return o.has_eps_high(); },
       [](const auto& o, auto& c) {
         c.mutable_algorithm()->mutable_is_weight()->set_eps_high(o.eps_high());
       }},
      {[](const auto& o) { return o.has_grad_clip(); },
       [](const auto& o, auto& c) { c.mutable_trainer()->mutable_optim()->set_grad_clip(o.grad_clip()); }},
      {[](const auto& o) { return o.has_lr(); },
       [](const auto& o, auto& c) { c.mutable_trainer()->mutable_optim()->set_lr(o.lr()); }},
      {[](const auto& o) { return o.has_weight_decay(); },
       [](const auto& o, auto& c) {
         c.mutable_trainer()->mutable_optim()->set_weight_decay(o.weight_decay());
       }},
  };
  return *table;
}

void CheckOverrides(const config::StageOverrides& o, const std::string& path,
                    std::vector<std::string>& errors) {
  if (o.has_eps_high() && !(o.eps_high() > 0)) errors.push_back(absl::StrCat(path, ".eps_high must be > 0"));
  if (o.has_grad_clip() && !(o.grad_clip() >= 0))
    errors.push_back(absl::StrCat(path, ".grad_clip must be >= 0"));
  if (o.has_lr() && !(o.lr() >= 0)) errors.push_back(absl::StrCat(path, ".lr must be >= 0"));
  if (o.has_weight_decay() && !(o.weight_decay() >= 0))
    errors.push_back(absl::StrCat(path, ".weight_decay must be >= 0"));
}

void CheckAdvance(const config::StageAdvanceConfig& a, const std::string& path,
                  std::vector<std::string>& errors) {
  if (a.steps() < 0) errors.push_back(absl::StrCat(path, ".steps must be >= 0"));
  if (a.p99_length_fraction() < 0 || a.p99_length_fraction() > 1)
    errors.push_back(absl::StrCat(path, ".p99_length_fraction must be in [0, 1]"));
  if (a.p99_length_steps() < 0) errors.push_back(absl::StrCat(path, ".p99_length_steps must be >= 0"));
  if (!a.plateau_metric().empty()) {
    if (a.plateau_window() < 1) errors.push_back(absl::StrCat(path, ".plateau_window must be >= 1"));
    if (!(a.plateau_rel_change() > 0))
      errors.push_back(absl::StrCat(path, ".plateau_rel_change must be > 0"));
  } else if (a.plateau_window() != 0 || a.plateau_rel_change() != 0) {
    errors.push_back(absl::StrCat(path, ".plateau_window/plateau_rel_change need plateau_metric"));
  }
}

bool HasAnyRule(const config::StageAdvanceConfig& a) {
  return a.steps() > 0 || a.p99_length_fraction() > 0 || !a.plateau_metric().empty();
}

}  // namespace

absl::Status ValidateStages(const config::TrainerConfig& t) {
  std::vector<std::string> errors;
  for (int i = 0; i < t.stages_size(); ++i) {
    const config::StageConfig& s = t.stages(i);
    const std::string path = absl::StrCat("trainer.stages[", i, "]");
    if (s.max_new_tokens() < 0) errors.push_back(absl::StrCat(path, ".max_new_tokens must be >= 0"));
    if (s.advance().p99_length_fraction() > 0 && s.max_new_tokens() == 0)
      errors.push_back(absl::StrCat(path, ".advance.p99_length_fraction needs ", path, ".max_new_tokens"));
    CheckOverrides(s.overrides(), path + ".overrides", errors);
    CheckAdvance(s.advance(), path + ".advance", errors);
    if (i + 1 < t.stages_size() && !HasAnyRule(s.advance()))
      errors.push_back(absl::StrCat(path,
                                    ".advance: a stage before the last needs a rule (steps, "
                                    "p99_length_fraction or plateau_metric)"));
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

config::RunConfig ApplyStage(const config::RunConfig& base, const config::StageConfig& stage) {
  config::RunConfig out = base;
  if (stage.max_new_tokens() > 0) {
    out.mutable_rollout()->set_max_new_tokens(stage.max_new_tokens());
    out.mutable_algorithm()->mutable_overlong()->set_max_len(stage.max_new_tokens());
  }
  for (const OverrideField& f : OverrideTable())
    if (f.has(stage.overrides())) f.apply(stage.overrides(), out);
  return out;
}

StageController::StageController(const config::TrainerConfig& t)
    : stages_(t.stages().begin(), t.stages().end()) {
  if (stages_.empty()) stages_.emplace_back();
}

std::string StageController::current_name() const {
  return current().name().empty() ? absl::StrCat("stage", index_) : current().name();
}

void StageController::Enter(int index) {
  index_ = index;
  steps_in_stage_ = 0;
  p99_streak_ = 0;
  plateau_history_.clear();
}

absl::StatusOr<StageController::RuleResults> StageController::Evaluate(
    const std::map<std::string, double>& metrics) {
  const config::StageAdvanceConfig& a = current().advance();
  RuleResults r;
  if (a.steps() > 0) {
    ++r.set;
    r.held += steps_in_stage_ >= a.steps() ? 1 : 0;
  }
  if (a.p99_length_fraction() > 0) {
    auto it = metrics.find(kP99LengthMetric);
    if (it == metrics.end())
      return absl::InvalidArgumentError(absl::StrCat("stage ", current_name(), ": the p99 rule needs metric ",
                                                     kP99LengthMetric, " in every step"));
    const bool near = it->second >= a.p99_length_fraction() * current().max_new_tokens();
    p99_streak_ = near ? p99_streak_ + 1 : 0;
    ++r.set;
    r.held += p99_streak_ >= std::max(1, a.p99_length_steps()) ? 1 : 0;
  }
  if (!a.plateau_metric().empty()) {
    auto it = metrics.find(a.plateau_metric());
    if (it == metrics.end())
      return absl::InvalidArgumentError(absl::StrCat("stage ", current_name(),
                                                     ": the plateau rule needs metric ", a.plateau_metric(),
                                                     " in every step"));
    plateau_history_.push_back(it->second);
    while (plateau_history_.size() > static_cast<size_t>(a.plateau_window()) + 1)
      plateau_history_.pop_front();
    ++r.set;
    if (plateau_history_.size() == static_cast<size_t>(a.plateau_window()) + 1) {
      const double old = plateau_history_.front();
      const double rel = std::abs(plateau_history_.back() - old) / std::max(std::abs(old), 1e-12);
      r.held += rel < a.plateau_rel_change() ? 1 : 0;
    }
  }
  return r;
}

absl::StatusOr<bool> StageController::Observe(const std::map<std::string, double>& metrics) {
  ++steps_in_stage_;
  M1RL_ASSIGN_OR_RETURN(const RuleResults r, Evaluate(metrics));
  if (index_ + 1 >= num_stages() || r.set == 0) return false;
  const bool advance = current().advance().require_all() ? r.held == r.set : r.held > 0;
  if (advance) Enter(index_ + 1);
  return advance;
}

nlohmann::json StageController::State() const {
  return {{"index", index_},
          {"steps_in_stage", steps_in_stage_},
          {"p99_streak", p99_streak_},
          {"plateau_history", std::vector<double>(plateau_history_.begin(), plateau_history_.end())}};
}

absl::Status StageController::Restore(const nlohmann::json& state) {
  if (!state.is_object()) return absl::DataLossError("stage state: not a JSON object");
  for (const char* key : {"index", "steps_in_stage", "p99_streak"})
    if (!state.contains(key) || !state[key].is_number_integer())
      return absl::DataLossError(absl::StrCat("stage state: ", key, " missing or not an integer"));
  if (!state.contains("plateau_history") || !state["plateau_history"].is_array())
    return absl::DataLossError("stage state: plateau_history missing or not an array");
  const int index = state["index"].get<int>();
  if (index < 0 || index >= num_stages())
    return absl::DataLossError(
        absl::StrCat("stage state: index ", index, " outside trainer.stages (", num_stages(), " stages)"));
  Enter(index);
  steps_in_stage_ = state["steps_in_stage"].get<int64_t>();
  p99_streak_ = state["p99_streak"].get<int64_t>();
  for (const auto& v : state["plateau_history"]) {
    if (!v.is_number()) return absl::DataLossError("stage state: plateau_history holds a non-number");
    plateau_history_.push_back(v.get<double>());
  }
  return absl::OkStatus();
}

}  // namespace m1rl::trainer
