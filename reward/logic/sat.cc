// Family "sat": a random 3-SAT formula over x1..xn with a planted satisfying assignment. Clauses
// are lists of non-zero literals (k means xk, -k means not xk). The answer lists the values (0 or 1)
// of x1..xn in order; any assignment that satisfies every clause is accepted.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr int64_t kMaxVars = 200;
constexpr size_t kMaxClauses = 5000;

using Clause = std::vector<int64_t>;

// One clause of three distinct variables, re-signed until the planted assignment satisfies it.
Clause RandomClause(int64_t n, const std::vector<int64_t>& planted, Rng& rng) {
  std::vector<int64_t> vars;
  vars.reserve(static_cast<size_t>(n));
  for (int64_t v = 1; v <= n; ++v) vars.push_back(v);
  rng.Shuffle(vars);
  Clause c(vars.begin(), vars.begin() + 3);
  for (;;) {
    bool sat = false;
    for (int64_t& lit : c) {
      if (rng.Bernoulli(1, 2)) lit = -lit;
      sat = sat || (lit > 0) == (planted[static_cast<size_t>(std::abs(lit) - 1)] == 1);
    }
    if (sat) return c;
    for (int64_t& lit : c) lit = std::abs(lit);
  }
}

absl::StatusOr<std::vector<Clause>> GetClauses(const nlohmann::json& instance, int64_t n) {
  auto it = instance.find("clauses");
  if (it == instance.end()) return absl::InvalidArgumentError("instance.clauses: missing");
  if (!it->is_array() || it->empty() || it->size() > kMaxClauses) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.clauses: expected an array of 1..", kMaxClauses, " clauses"));
  }
  std::vector<Clause> clauses;
  clauses.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& c = (*it)[i];
    Clause clause;
    bool ok = c.is_array() && !c.empty() && c.size() <= 16;
    for (size_t k = 0; ok && k < c.size(); ++k) {
      ok = c[k].is_number_integer() && c[k].get<int64_t>() != 0 && std::abs(c[k].get<int64_t>()) <= n;
      if (ok) clause.push_back(c[k].get<int64_t>());
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.clauses[", i, "]: expected 1..16 non-zero literals in [-", n, ", ", n, "]"));
    }
    clauses.push_back(std::move(clause));
  }
  return clauses;
}

std::string ClauseText(const Clause& c) {
  std::vector<std::string> lits;
  lits.reserve(c.size());
  for (int64_t lit : c) lits.push_back(absl::StrCat(lit < 0 ? "-" : "", "x", std::abs(lit)));
  return absl::StrCat("(", absl::StrJoin(lits, " | "), ")");
}

class SatFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "sat"; }
  std::string_view difficulty_help() const override {
    return "3-SAT over 2+2*difficulty variables (4..22) with 4.2 clauses per variable; a planted "
           "assignment guarantees a solution";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int64_t n = 2 + 2 * difficulty;
    const int64_t m = n * 42 / 10;
    std::vector<int64_t> planted(static_cast<size_t>(n));
    for (auto& v : planted) v = rng.Uniform(0, 1);
    std::vector<Clause> clauses;
    std::vector<std::string> text;
    clauses.reserve(static_cast<size_t>(m));
    text.reserve(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
      clauses.push_back(RandomClause(n, planted, rng));
      text.push_back(ClauseText(clauses.back()));
    }
    GeneratedInstance g;
    g.instance = {{"num_vars", n}, {"clauses", clauses}};
    g.prompt = absl::StrCat("Find true/false values for x1..x", n,
                            " that satisfy every clause (| is OR, - is NOT): ", absl::StrJoin(text, " & "),
                            ". Give the values of x1..x", n,
                            " in order as 1 (true) or 0 (false), space-separated, inside <answer></answer>.");
    g.witness = absl::StrJoin(planted, " ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> n = GetInt(instance, "num_vars", 1, kMaxVars);
    if (!n.ok()) return n.status();
    absl::StatusOr<std::vector<Clause>> clauses = GetClauses(instance, *n);
    if (!clauses.ok()) return clauses.status();
    std::string why;
    auto values = ParseIntList(answer, kMaxVars, &why);
    if (!values) return Unparseable(why);
    const std::string normalized = absl::StrJoin(*values, " ");
    if (static_cast<int64_t>(values->size()) != *n) {
      return Incorrect(absl::StrCat("expected ", *n, " values, got ", values->size()), normalized);
    }
    for (size_t i = 0; i < values->size(); ++i) {
      if ((*values)[i] != 0 && (*values)[i] != 1) {
        return Incorrect(absl::StrCat("x", i + 1, " = ", (*values)[i], " is not 0 or 1"), normalized);
      }
    }
    for (size_t i = 0; i < clauses->size(); ++i) {
      bool sat = false;
      for (int64_t lit : (*clauses)[i]) {
        sat = sat || (lit > 0) == ((*values)[static_cast<size_t>(std::abs(lit) - 1)] == 1);
      }
      if (!sat) {
        return Incorrect(absl::StrCat("clause ", i + 1, " ", ClauseText((*clauses)[i]), " is false"),
                         normalized);
      }
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewSatFamily() { return std::make_unique<SatFamily>(); }

}  // namespace m1rl::reward::logic::internal
