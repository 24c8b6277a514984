// Families "long_mult" and "long_mult_heldout": multi-digit multiplication a*b with a written
// step-by-step scratchpad (issue 14: a task whose reasoning traces are >= 1K characters, i.e. >= 1K tokens
// with the character tokenizer). Difficulty d: both factors have exactly d digits (1..8).
//
// Split: every problem {a, b} (unordered: a*b and b*a are one problem) falls in the held-out bucket iff
// HeldOutBucket(a, b); "long_mult" generates only problems outside it, "long_mult_heldout" only inside,
// so a train set and an eval set made from the two families share no problem whatever the seeds.
//
// The demonstration (SFT target) is "<think>" + scratchpad + "</think><answer>" + product + "</answer>".
// Scratchpad: for each digit of b from the right, the row a*digit computed digit by digit from the right
// ("8*6+1=49": digit times digit plus carry in, the result's last digit is written and its first carried),
// then the rows summed one at a time with the same digit-by-digit carries ("6+0+1=7"). Only the answer is
// verified (L3): the product, compared exactly.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr int kMaxDigits = 8;  // 8x8 digits: product < 10^16, exact in int64

int64_t Pow10(int n) {
  int64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// Digits of v >= 0, least significant first ({0} for 0).
std::vector<int> DigitsLsf(int64_t v) {
  std::vector<int> d;
  do {
    d.push_back(static_cast<int>(v % 10));
    v /= 10;
  } while (v > 0);
  return d;
}

// One partial row: a * digit, digit by digit from the right.
std::string RowSteps(int64_t a, int digit, int64_t* row) {
  std::string s;
  int carry = 0;
  for (int ad : DigitsLsf(a)) {
    const int v = ad * digit + carry;
    absl::StrAppend(&s, ad, "*", digit, "+", carry, "=", v, " ");
    carry = v / 10;
  }
  if (carry > 0) absl::StrAppend(&s, "carry ", carry, " ");
  *row = a * digit;
  return s;
}

// acc + addend, digit by digit from the right.
std::string AddSteps(int64_t acc, int64_t addend) {
  std::string s;
  const std::vector<int> x = DigitsLsf(acc), y = DigitsLsf(addend);
  int carry = 0;
  for (size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    const int xi = i < x.size() ? x[i] : 0, yi = i < y.size() ? y[i] : 0;
    const int v = xi + yi + carry;
    absl::StrAppend(&s, xi, "+", yi, "+", carry, "=", v, " ");
    carry = v / 10;
  }
  if (carry > 0) absl::StrAppend(&s, "carry ", carry, " ");
  return s;
}

}  // namespace

std::string LongMultDemonstration(int64_t a, int64_t b) {
  std::string s = absl::StrCat("<think>\n", a, "*", b, "\n");
  const std::vector<int> bd = DigitsLsf(b);
  int64_t acc = 0;
  for (size_t j = 0; j < bd.size(); ++j) {
    int64_t row = 0;
    absl::StrAppend(&s, "row ", j, ": ", a, "*", bd[j], "\n", RowSteps(a, bd[j], &row), "\n");
    const int64_t shifted = row * Pow10(static_cast<int>(j));
    absl::StrAppend(&s, "= ", row, j > 0 ? absl::StrCat(" shift ", j, " = ", shifted) : "", "\n");
    if (j > 0) {
      absl::StrAppend(&s, "add ", acc, "+", shifted, "\n", AddSteps(acc, shifted), "\n= ", acc + shifted,
                      "\n");
    }
    acc += shifted;
  }
  absl::StrAppend(&s, "</think>\n<answer>", acc, "</answer>");
  return s;
}

namespace {

class LongMultFamily : public TaskFamily {
 public:
  explicit LongMultFamily(bool heldout) : heldout_(heldout) {}
  std::string_view name() const override { return heldout_ ? "long_mult_heldout" : "long_mult"; }
  std::string_view difficulty_help() const override {
    return heldout_ ? "both factors have d digits; held-out problems (disjoint from long_mult)"
                    : "both factors have d digits; the scratchpad grows as d^2 (d=6: about 1.2K chars)";
  }
  int max_difficulty() const override { return kMaxDigits; }
  int default_difficulty() const override { return 6; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    // Both families draw from the same stream and reject the other split's problems: for d >= 2 a bucket
    // holds millions of problems, so a handful of draws suffices (d = 1 has 45 unordered pairs, 4-8 of
    // them held out).
    Rng rng("long_mult", seed, difficulty);
    const int64_t lo = difficulty == 1 ? 1 : Pow10(difficulty - 1), hi = Pow10(difficulty) - 1;
    for (int attempt = 0; attempt < 100000; ++attempt) {
      const int64_t a = rng.Uniform(lo, hi), b = rng.Uniform(lo, hi);
      if (HeldOutBucket(a, b) != heldout_) continue;
      GeneratedInstance g;
      g.instance = {{"a", a}, {"b", b}};
      g.prompt = absl::StrCat("Compute ", a, "*", b, " step by step.");
      g.witness = absl::StrCat(a * b);
      g.demonstration = LongMultDemonstration(a, b);
      return g;
    }
    return absl::InternalError(absl::StrCat(std::string(name()), ": no problem of this split found"));
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> a = GetInt(instance, "a", 0, Pow10(kMaxDigits) - 1);
    if (!a.ok()) return a.status();
    absl::StatusOr<int64_t> b = GetInt(instance, "b", 0, Pow10(kMaxDigits) - 1);
    if (!b.ok()) return b.status();
    const std::string_view text = TrimSpace(answer);
    int64_t got = 0;
    const bool digits_only =
        !text.empty() && text.size() <= 18 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits_only || !absl::SimpleAtoi(std::string(text), &got)) {
      return Unparseable(absl::StrCat("answer: '", std::string(text.substr(0, 32)),
                                      "' is not a non-negative integer of at most 18 digits"));
    }
    if (got == *a * *b) return Correct(absl::StrCat(got));
    return Incorrect(absl::StrCat(got, " is not ", *a, "*", *b), absl::StrCat(got));
  }

 private:
  bool heldout_;
};

}  // namespace

std::unique_ptr<TaskFamily> NewLongMultFamily() { return std::make_unique<LongMultFamily>(false); }
std::unique_ptr<TaskFamily> NewLongMultHeldoutFamily() { return std::make_unique<LongMultFamily>(true); }

}  // namespace m1rl::reward::logic::internal
