#include "reward/logic/tasks.h"

#include <algorithm>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic {

absl::StatusOr<GeneratedInstance> TaskFamily::Generate(uint64_t seed, int difficulty) const {
  if (difficulty < min_difficulty() || difficulty > max_difficulty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("difficulty for task '", std::string(name()), "' must be in [", min_difficulty(), ", ",
                     max_difficulty(), "], got ", difficulty, " (", std::string(difficulty_help()), ")"));
  }
  absl::StatusOr<GeneratedInstance> g = GenerateImpl(seed, difficulty);
  if (!g.ok()) return g.status();
  g->family = std::string(name());
  g->domain = std::string(domain());
  g->difficulty = difficulty;
  g->instance["family"] = std::string(name());
  // Invariant: every generated witness passes its own verifier (REWARDS.md §3).
  absl::StatusOr<CheckResult> r = Check(g->instance, g->witness);
  if (!r.ok() || !r->correct()) {
    return absl::InternalError(absl::StrCat(
        "task '", std::string(name()), "' seed ", seed, " difficulty ", difficulty,
        ": the generated witness fails its check: ", r.ok() ? r->reason : std::string{r.status().message()}));
  }
  return g;
}

absl::StatusOr<CheckResult> TaskFamily::Check(const nlohmann::json& instance, std::string_view answer) const {
  if (!instance.is_object()) return absl::InvalidArgumentError("instance: expected a JSON object");
  auto it = instance.find("family");
  if (it == instance.end() || !it->is_string()) {
    return absl::InvalidArgumentError("instance.family: missing or not a string");
  }
  if (it->get<std::string>() != name()) {
    return absl::InvalidArgumentError(absl::StrCat("instance.family: '", it->get<std::string>(),
                                                   "' given to the '", std::string(name()), "' checker"));
  }
  try {
    if (answer.size() > internal::kMaxAnswerBytes) {
      // The instance is still validated first so a malformed gold is reported as such.
      absl::StatusOr<CheckResult> probe = CheckImpl(instance, "");
      if (!probe.ok()) return probe.status();
      return internal::Unparseable(absl::StrCat("answer longer than ", internal::kMaxAnswerBytes, " bytes"));
    }
    return CheckImpl(instance, answer);
  } catch (const std::exception& e) {
    // nlohmann::json throws on type mismatches that a field check missed: treat as malformed.
    return absl::InvalidArgumentError(absl::StrCat("instance: ", e.what()));
  }
}

namespace {

struct Registry {
  std::vector<std::unique_ptr<TaskFamily>> owned;
  std::vector<const TaskFamily*> sorted;  // views into `owned`, by name
};

Registry MakeRegistry() {
  Registry r;
  r.owned.push_back(internal::NewArithFamily());
  r.owned.push_back(internal::NewArithChainFamily());
  r.owned.push_back(internal::NewBaseConversionFamily());
  r.owned.push_back(internal::NewCipherFamily());
  r.owned.push_back(internal::NewCalendarFamily());
  r.owned.push_back(internal::NewCountdownFamily());
  r.owned.push_back(internal::NewCryptarithmFamily());
  r.owned.push_back(internal::NewDyckFamily());
  r.owned.push_back(internal::NewFutoshikiFamily());
  r.owned.push_back(internal::NewGame24Family());
  r.owned.push_back(internal::NewGraphColoringFamily());
  r.owned.push_back(internal::NewHanoiFamily());
  r.owned.push_back(internal::NewIntervalSchedulingFamily());
  r.owned.push_back(internal::NewKakuroFamily());
  r.owned.push_back(internal::NewKnightsKnavesFamily());
  r.owned.push_back(internal::NewMazePathFamily());
  r.owned.push_back(internal::NewSkyscrapersFamily());
  r.owned.push_back(internal::NewKenKenFamily());
  r.owned.push_back(internal::NewNonogramFamily());
  r.owned.push_back(internal::NewStarBattleFamily());
  r.owned.push_back(internal::NewMagicSquareFamily());
  r.owned.push_back(internal::NewMinesweeperFamily());
  r.owned.push_back(internal::NewNQueensFamily());
  r.owned.push_back(internal::NewSatFamily());
  r.owned.push_back(internal::NewShortestPathFamily());
  r.owned.push_back(internal::NewSortingFamily());
  r.owned.push_back(internal::NewSubsetSumFamily());
  r.owned.push_back(internal::NewSudokuFamily());
  r.owned.push_back(internal::NewTopoSortFamily());
  r.owned.push_back(internal::NewWaterJugFamily());
  r.owned.push_back(internal::NewZebraFamily());
  r.owned.push_back(internal::NewLongMultFamily());
  r.owned.push_back(internal::NewLongMultHeldoutFamily());
  r.owned.push_back(internal::NewAdditionFamily());
  r.owned.push_back(internal::NewAdditionHeldoutFamily());
  for (const auto& f : r.owned) r.sorted.push_back(f.get());
  std::sort(r.sorted.begin(), r.sorted.end(),
            [](const TaskFamily* a, const TaskFamily* b) { return a->name() < b->name(); });
  return r;
}

}  // namespace

const std::vector<const TaskFamily*>& AllFamilies() {
  static const Registry kRegistry = MakeRegistry();
  return kRegistry.sorted;
}

std::vector<std::string> FamilyNames() {
  std::vector<std::string> names;
  for (const TaskFamily* f : AllFamilies()) names.emplace_back(f->name());
  return names;
}

const TaskFamily* FindFamily(std::string_view name) {
  for (const TaskFamily* f : AllFamilies()) {
    if (f->name() == name) return f;
  }
  return nullptr;
}

absl::StatusOr<CheckResult> CheckInstance(const nlohmann::json& instance, std::string_view answer) {
  if (!instance.is_object()) return absl::InvalidArgumentError("instance: expected a JSON object");
  auto it = instance.find("family");
  if (it == instance.end() || !it->is_string()) {
    return absl::InvalidArgumentError("instance.family: missing or not a string");
  }
  const TaskFamily* f = FindFamily(it->get<std::string>());
  if (f == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("instance.family: unknown family '",
                                                   it->get<std::string>(),
                                                   "' (known: ", absl::StrJoin(FamilyNames(), ", "), ")"));
  }
  return f->Check(instance, answer);
}

uint64_t InstanceSeed(uint64_t dataset_seed, uint64_t index) {
  return SplitMix64(StreamSeed(dataset_seed, index));
}

nlohmann::json MakeRow(const GeneratedInstance& g, std::string_view id) {
  nlohmann::json row;
  row["id"] = std::string(id);
  row["prompt"] = g.prompt;
  row["answer"] = g.domain == "logic" ? g.instance.dump() : g.witness;
  row["domain"] = g.domain;
  row["difficulty"] = g.difficulty;
  row["family"] = g.family;
  if (!g.demonstration.empty()) row["completion"] = g.demonstration;
  return row;
}

absl::StatusOr<std::vector<nlohmann::json>> MakeDataset(std::string_view task, int64_t n, uint64_t seed,
                                                        int difficulty) {
  const TaskFamily* f = FindFamily(task);
  if (f == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--task: unknown task '", std::string(task),
                                                   "' (known: ", absl::StrJoin(FamilyNames(), ", "), ")"));
  }
  if (n <= 0) return absl::InvalidArgumentError(absl::StrCat("--n: must be > 0, got ", n));
  if (difficulty < 0) difficulty = f->default_difficulty();
  std::vector<nlohmann::json> rows;
  rows.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    absl::StatusOr<GeneratedInstance> g =
        f->Generate(InstanceSeed(seed, static_cast<uint64_t>(i)), difficulty);
    if (!g.ok()) return g.status();
    rows.push_back(MakeRow(*g, absl::StrCat(std::string(task), "-", seed, "-", i)));
  }
  return rows;
}

}  // namespace m1rl::reward::logic
