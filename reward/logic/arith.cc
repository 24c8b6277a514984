// Families "arith" ("3*4+2=" -> 14, domain "math"), "arith_add" / "arith_add_heldout" (the quickstart
// task: "47+38=" -> 85, domain "math", train and held-out problems disjoint) and "arith_chain" ("Start
// with 7. Add 5. ..."). All answers are one rational literal compared exactly with the value recomputed
// from the instance, so "7/2", "3.5" and "+3.50" are the same valid answer.
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

CheckResult CompareNumber(const Rational& expected, std::string_view answer) {
  std::optional<Rational> got = ParseRationalLiteral(answer);
  if (!got) {
    return Unparseable(absl::StrCat("answer: '", std::string(TrimSpace(answer).substr(0, 32)),
                                    "' is not a number (integer, p/q or decimal)"));
  }
  if (*got == expected) return Correct(got->ToString());
  return Incorrect(absl::StrCat("value ", got->ToString(), " is not the result"), got->ToString());
}

// ---------------------------------------------------------------------------------------------
// arith: short expressions for a character-level model.
struct ArithShape {
  int operands;
  int max_operand;
  const char* ops;
};

// Difficulty d selects a row; subtraction at d <= 2 keeps results non-negative.
constexpr ArithShape kArithShapes[] = {
    {2, 9, "+"},     // 1: 7+5=
    {2, 9, "+-"},    // 2: 9-4=
    {2, 9, "+-*"},   // 3: 3*4=
    {3, 9, "+-*"},   // 4: 3*4+2=
    {2, 99, "+-"},   // 5: 47+38=
    {3, 99, "+-*"},  // 6
    {4, 9, "+-*"},   // 7
    {4, 99, "+-*"},  // 8
};

class ArithFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "arith"; }
  std::string_view domain() const override { return "math"; }
  std::string_view difficulty_help() const override {
    return "1: a+b one digit; 2: +,-; 3: +,-,*; 4: three operands; 5: two digits; up to 8: four two-digit "
           "operands";
  }
  int max_difficulty() const override { return static_cast<int>(std::size(kArithShapes)); }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const ArithShape& shape = kArithShapes[difficulty - 1];
    const std::string ops = shape.ops;
    std::string expr = std::to_string(rng.Uniform(0, shape.max_operand));
    for (int i = 1; i < shape.operands; ++i) {
      const char op = ops[static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(ops.size()) - 1))];
      int64_t b = rng.Uniform(0, shape.max_operand);
      if (op == '-' && difficulty <= 2) {
        // Keep the one-operation difference non-negative: the first operand is the single literal.
        const int64_t a = std::stoll(expr);
        if (b > a) b = a;
      }
      expr += op;
      expr += std::to_string(b);
    }
    absl::StatusOr<ParsedExpr> parsed = ParseExpression(expr);
    if (!parsed.ok() || !parsed->value)
      return absl::InternalError("arith: generated expression does not evaluate");
    GeneratedInstance g;
    g.instance = {{"expression", expr}};
    g.prompt = expr + "=";
    g.witness = parsed->value->ToString();
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<std::string> expr = GetString(instance, "expression", 256);
    if (!expr.ok()) return expr.status();
    absl::StatusOr<ParsedExpr> parsed = ParseExpression(*expr);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("instance.expression: ", parsed.status().message()));
    }
    if (!parsed->value)
      return absl::InvalidArgumentError("instance.expression: has no value (division by zero or overflow)");
    return CompareNumber(*parsed->value, answer);
  }
};

// ---------------------------------------------------------------------------------------------
// arith_add / arith_add_heldout: "a+b=" with both operands of exactly d digits (0..9 at d = 1). The
// unordered problem {a, b} is held out iff HeldOutBucket(a, b) (family_util.h): "arith_add" draws only
// problems outside the bucket and "arith_add_heldout" only inside, so an eval set made with the second
// shares no problem (in either operand order) with a train set made with the first, whatever the seeds.
// Every digit pair of a column still occurs in training; a held-out problem is a new combination of
// columns, so solving it takes the column-wise rule with carries, not a lookup.
constexpr int kAdditionMaxDigits = 9;

class AdditionFamily : public TaskFamily {
 public:
  explicit AdditionFamily(bool heldout) : heldout_(heldout) {}
  std::string_view name() const override { return heldout_ ? "arith_add_heldout" : "arith_add"; }
  std::string_view domain() const override { return "math"; }
  std::string_view difficulty_help() const override {
    return heldout_ ? "a+b, both operands of d digits; held-out problems (disjoint from arith_add)"
                    : "a+b, both operands of d digits (d = 2: 10..99); 1/8 of the problems held out";
  }
  int max_difficulty() const override { return kAdditionMaxDigits; }
  int default_difficulty() const override { return 2; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    // Both families draw from one stream and reject the other split's problems (d = 1: 55 unordered
    // problems, a handful held out; from d = 2 on, hundreds or more on each side).
    Rng rng("arith_add", seed, difficulty);
    int64_t hi = 1;
    for (int i = 0; i < difficulty; ++i) hi *= 10;
    const int64_t lo = difficulty == 1 ? 0 : hi / 10;
    hi -= 1;
    for (int attempt = 0; attempt < 100000; ++attempt) {
      const int64_t a = rng.Uniform(lo, hi), b = rng.Uniform(lo, hi);
      if (HeldOutBucket(a, b) != heldout_) continue;
      GeneratedInstance g;
      g.instance = {{"a", a}, {"b", b}};
      g.prompt = absl::StrCat(a, "+", b, "=");
      g.witness = absl::StrCat(a + b);
      return g;
    }
    return absl::InternalError(absl::StrCat(std::string(name()), ": no problem of this split found"));
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    constexpr int64_t kMax = 999999999;  // kAdditionMaxDigits digits
    absl::StatusOr<int64_t> a = GetInt(instance, "a", 0, kMax);
    if (!a.ok()) return a.status();
    absl::StatusOr<int64_t> b = GetInt(instance, "b", 0, kMax);
    if (!b.ok()) return b.status();
    return CompareNumber(Rational(*a + *b), answer);
  }

 private:
  bool heldout_;
};

// ---------------------------------------------------------------------------------------------
// arith_chain: a start value and a list of operations applied in order.
struct ChainStep {
  std::string op;  // add | sub | mul | div
  int64_t arg;
};

absl::StatusOr<std::vector<ChainStep>> ReadSteps(const nlohmann::json& instance) {
  auto it = instance.find("steps");
  if (it == instance.end() || !it->is_array())
    return absl::InvalidArgumentError("instance.steps: missing or not an array");
  if (it->empty() || it->size() > 64)
    return absl::InvalidArgumentError("instance.steps: expected 1..64 steps");
  std::vector<ChainStep> steps;
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& s = (*it)[i];
    const std::string field = absl::StrCat("steps[", i, "]");
    if (!s.is_object())
      return absl::InvalidArgumentError(absl::StrCat("instance.", field, ": expected an object"));
    absl::StatusOr<std::string> op = GetString(s, "op", 8);
    if (!op.ok()) return NestField(op.status(), field);
    if (*op != "add" && *op != "sub" && *op != "mul" && *op != "div") {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.", field, ".op: must be add|sub|mul|div, got '", *op, "'"));
    }
    absl::StatusOr<int64_t> arg = GetInt(s, "arg", -1000, 1000);
    if (!arg.ok()) return NestField(arg.status(), field);
    if (*op == "div" && *arg == 0)
      return absl::InvalidArgumentError(absl::StrCat("instance.", field, ".arg: division by zero"));
    steps.push_back({*op, *arg});
  }
  return steps;
}

std::optional<Rational> ApplyStep(const Rational& v, const ChainStep& s) {
  const Rational a(s.arg);
  if (s.op == "add") return Add(v, a);
  if (s.op == "sub") return Sub(v, a);
  if (s.op == "mul") return Mul(v, a);
  return Div(v, a);
}

std::string StepText(const ChainStep& s) {
  if (s.op == "add") return absl::StrCat("Add ", s.arg, ".");
  if (s.op == "sub") return absl::StrCat("Subtract ", s.arg, ".");
  if (s.op == "mul") return absl::StrCat("Multiply by ", s.arg, ".");
  return absl::StrCat("Divide by ", s.arg, ".");
}

class ArithChainFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "arith_chain"; }
  std::string_view difficulty_help() const override {
    return "number of operations is difficulty+1; from 6 on, divisions may leave fractions";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int64_t start = rng.Uniform(1, 20);
    Rational value(start);
    std::vector<ChainStep> steps;
    const bool fractions = difficulty >= 6;
    for (int i = 0; i < difficulty + 1; ++i) {
      ChainStep s;
      for (;;) {
        const int64_t k = rng.Uniform(0, 3);
        s.op = k == 0 ? "add" : k == 1 ? "sub" : k == 2 ? "mul" : "div";
        s.arg = s.op == "mul" || s.op == "div" ? rng.Uniform(2, 5) : rng.Uniform(1, 20);
        if (s.op == "div" && !fractions) {
          std::optional<Rational> q = Div(value, Rational(s.arg));
          if (!q || !q->IsInteger()) continue;
        }
        break;
      }
      std::optional<Rational> next = ApplyStep(value, s);
      if (!next) return absl::InternalError("arith_chain: overflow while generating");
      value = *next;
      steps.push_back(s);
    }
    GeneratedInstance g;
    nlohmann::json js = nlohmann::json::array();
    std::string prompt = absl::StrCat("Start with ", start, ".");
    for (const ChainStep& s : steps) {
      js.push_back({{"op", s.op}, {"arg", s.arg}});
      absl::StrAppend(&prompt, " ", StepText(s));
    }
    absl::StrAppend(&prompt,
                    " What number do you get? Give it (integer or fraction p/q) inside <answer></answer>.");
    g.instance = {{"start", start}, {"steps", js}};
    g.prompt = prompt;
    g.witness = value.ToString();
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> start = GetInt(instance, "start", -1000000, 1000000);
    if (!start.ok()) return start.status();
    absl::StatusOr<std::vector<ChainStep>> steps = ReadSteps(instance);
    if (!steps.ok()) return steps.status();
    Rational value(*start);
    for (const ChainStep& s : *steps) {
      std::optional<Rational> next = ApplyStep(value, s);
      if (!next) return absl::InvalidArgumentError("instance.steps: the value overflows");
      value = *next;
    }
    return CompareNumber(value, answer);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewArithFamily() { return std::make_unique<ArithFamily>(); }
std::unique_ptr<TaskFamily> NewArithChainFamily() { return std::make_unique<ArithChainFamily>(); }
std::unique_ptr<TaskFamily> NewAdditionFamily() { return std::make_unique<AdditionFamily>(false); }
std::unique_ptr<TaskFamily> NewAdditionHeldoutFamily() { return std::make_unique<AdditionFamily>(true); }

}  // namespace m1rl::reward::logic::internal
