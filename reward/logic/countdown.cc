// Families "countdown" (reach a target with some of the numbers, each at most once) and "game24"
// (four numbers, each exactly once, make 24). The answer is an arithmetic expression in the bounded
// grammar of reward/logic/expr.h, evaluated exactly over the rationals; intermediate fractions are
// allowed (8/(3-8/3) = 24). The target always comes from the instance (L1): SynLogic's game_of_24
// compared the candidate's value with itself. A trailing "= N" is tolerated and ignored.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/expr.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rational.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr int64_t kMaxNumber = 1000;
constexpr size_t kMaxNumbers = 8;

// Drops a trailing "= <number>" (the claimed result), which is never used.
std::string_view StripClaimedResult(std::string_view answer) {
  const size_t eq = answer.rfind('=');
  if (eq == std::string_view::npos) return answer;
  if (!ParseRationalLiteral(answer.substr(eq + 1)))
    return answer;  // not "= number": let the parser reject it
  return answer.substr(0, eq);
}

CheckResult CheckExpression(const std::vector<int64_t>& numbers, int64_t target, bool use_all,
                            std::string_view answer) {
  ExprOptions options;
  options.allow_unary_minus = false;  // negation would be an extra operation the rules do not give
  options.max_length = 512;
  options.max_literals = static_cast<int>(kMaxNumbers) + 4;
  absl::StatusOr<ParsedExpr> parsed = ParseExpression(StripClaimedResult(answer), options);
  if (!parsed.ok()) return Unparseable(absl::StrCat("answer: ", parsed.status().message()));
  std::map<int64_t, int> available;
  for (int64_t n : numbers) ++available[n];
  for (int64_t lit : parsed->literals) {
    if (--available[lit] < 0) {
      return Incorrect(absl::StrCat("uses ", lit, " more often than given"), parsed->normalized);
    }
  }
  if (use_all) {
    for (const auto& [n, left] : available) {
      if (left > 0) return Incorrect(absl::StrCat("does not use ", n), parsed->normalized);
    }
  }
  if (!parsed->value) return Incorrect("division by zero", parsed->normalized);
  if (!(*parsed->value == Rational(target))) {
    return Incorrect(absl::StrCat("evaluates to ", parsed->value->ToString(), ", not ", target),
                     parsed->normalized);
  }
  return Correct(parsed->normalized);
}

absl::StatusOr<CheckResult> ReadAndCheck(const nlohmann::json& instance, std::string_view answer,
                                         bool use_all, size_t min_numbers) {
  absl::StatusOr<std::vector<int64_t>> numbers =
      GetIntArray(instance, "numbers", min_numbers, kMaxNumbers, 1, kMaxNumber);
  if (!numbers.ok()) return numbers.status();
  absl::StatusOr<int64_t> target = GetInt(instance, "target", -1000000, 1000000);
  if (!target.ok()) return target.status();
  return CheckExpression(*numbers, *target, use_all, answer);
}

std::string NumberList(const std::vector<int64_t>& v) { return absl::StrJoin(v, ", "); }

// ---------------------------------------------------------------------------------------------
class CountdownFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "countdown"; }
  std::string_view difficulty_help() const override {
    return "difficulty+2 numbers (3..8); from 3 on, large numbers 25/50/75/100 and targets up to 999";
  }
  int max_difficulty() const override { return 6; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int count = difficulty + 2;
    std::vector<int64_t> numbers;
    for (int i = 0; i < count; ++i) {
      if (difficulty >= 3 && rng.Bernoulli(1, 4)) {
        numbers.push_back(25 * rng.Uniform(1, 4));
      } else {
        numbers.push_back(rng.Uniform(1, 10));
      }
    }
    const int64_t max_target = difficulty >= 3 ? 999 : 100;
    // Build a random expression tree over a random subset; intermediate values stay positive
    // integers (classic rules) so the witness is easy to read. Fallback: the sum of all numbers.
    std::string witness;
    int64_t target = 0;
    for (int attempt = 0; attempt < 200 && witness.empty(); ++attempt) {
      std::vector<std::pair<int64_t, std::string>> pool;
      for (int64_t n : numbers) pool.emplace_back(n, std::to_string(n));
      rng.Shuffle(pool);
      const int64_t use = rng.Uniform(std::max(2, count - 2), count);
      pool.resize(static_cast<size_t>(use));
      bool ok = true;
      while (pool.size() > 1 && ok) {
        const size_t i = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(pool.size()) - 1));
        auto a = pool[i];
        pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(i));
        const size_t j = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(pool.size()) - 1));
        auto b = pool[j];
        pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(j));
        if (a.first < b.first) std::swap(a, b);
        const int64_t op = rng.Uniform(0, 3);
        std::pair<int64_t, std::string> c;
        if (op == 0) {
          c = {a.first + b.first, absl::StrCat("(", a.second, "+", b.second, ")")};
        } else if (op == 1 && a.first > b.first) {
          c = {a.first - b.first, absl::StrCat("(", a.second, "-", b.second, ")")};
        } else if (op == 2 && b.first > 1 && a.first * b.first <= 100000) {
          c = {a.first * b.first, absl::StrCat("(", a.second, "*", b.second, ")")};
        } else if (op == 3 && b.first > 1 && a.first % b.first == 0) {
          c = {a.first / b.first, absl::StrCat("(", a.second, "/", b.second, ")")};
        } else {
          ok = false;
          break;
        }
        pool.push_back(c);
      }
      if (!ok) continue;
      const int64_t value = pool[0].first;
      if (value < 1 || value > max_target) continue;
      if (std::find(numbers.begin(), numbers.end(), value) != numbers.end()) continue;
      target = value;
      witness = pool[0].second.substr(1, pool[0].second.size() - 2);
    }
    if (witness.empty()) {
      target = 0;
      for (int64_t n : numbers) target += n;
      witness = absl::StrJoin(numbers, "+");
    }
    std::sort(numbers.begin(), numbers.end());
    GeneratedInstance g;
    g.instance = {{"numbers", numbers}, {"target", target}};
    g.prompt = absl::StrCat("Using some of the numbers ", NumberList(numbers),
                            " (each at most once) with + - * / and parentheses, make ", target,
                            ". Give the expression inside <answer></answer>.");
    g.witness = witness;
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    return ReadAndCheck(instance, answer, /*use_all=*/false, /*min_numbers=*/1);
  }
};

// ---------------------------------------------------------------------------------------------
// Exhaustive search over pairwise combinations; returns an expression for `target` or "".
struct Term {
  Rational value;
  std::string text;
};

std::string Solve(const std::vector<Term>& terms, const Rational& target) {
  if (terms.size() == 1) return terms[0].value == target ? terms[0].text : "";
  for (size_t i = 0; i < terms.size(); ++i) {
    for (size_t j = 0; j < terms.size(); ++j) {
      if (i == j) continue;
      std::vector<Term> rest;
      for (size_t k = 0; k < terms.size(); ++k) {
        if (k != i && k != j) rest.push_back(terms[k]);
      }
      const Term& a = terms[i];
      const Term& b = terms[j];
      const std::pair<char, std::optional<Rational>> candidates[] = {
          {'+', i < j ? Add(a.value, b.value) : std::nullopt},
          {'*', i < j ? Mul(a.value, b.value) : std::nullopt},
          {'-', Sub(a.value, b.value)},
          {'/', Div(a.value, b.value)},
      };
      for (const auto& [op, value] : candidates) {
        if (!value) continue;
        rest.push_back({*value, absl::StrCat("(", a.text, std::string(1, op), b.text, ")")});
        std::string found = Solve(rest, target);
        if (!found.empty()) return found;
        rest.pop_back();
      }
    }
  }
  return "";
}

class Game24Family : public TaskFamily {
 public:
  std::string_view name() const override { return "game24"; }
  std::string_view difficulty_help() const override {
    return "numbers drawn from 1..6 (1), 1..9 (2), 1..13 (3)";
  }
  int max_difficulty() const override { return 3; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int64_t max_value = difficulty == 1 ? 6 : difficulty == 2 ? 9 : 13;
    for (int attempt = 0; attempt < 1000; ++attempt) {
      std::vector<int64_t> numbers;
      std::vector<Term> terms;
      for (int i = 0; i < 4; ++i) {
        numbers.push_back(rng.Uniform(1, max_value));
        terms.push_back({Rational(numbers.back()), std::to_string(numbers.back())});
      }
      std::string expr = Solve(terms, Rational(24));
      if (expr.empty()) continue;
      std::sort(numbers.begin(), numbers.end());
      GeneratedInstance g;
      g.instance = {{"numbers", numbers}, {"target", 24}};
      g.prompt = absl::StrCat("Use each of the numbers ", NumberList(numbers),
                              " exactly once with + - * / and parentheses to make 24."
                              " Give the expression inside <answer></answer>.");
      g.witness = expr.substr(1, expr.size() - 2);
      return g;
    }
    return absl::InternalError("game24: no solvable draw in 1000 attempts");
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    return ReadAndCheck(instance, answer, /*use_all=*/true, /*min_numbers=*/2);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewCountdownFamily() { return std::make_unique<CountdownFamily>(); }
std::unique_ptr<TaskFamily> NewGame24Family() { return std::make_unique<Game24Family>(); }

}  // namespace m1rl::reward::logic::internal
