// Family "base_conversion": {"value": "<digits>", "from_base": b1, "to_base": b2} with bases 2..36
// (digits 0-9 then a-z, either case), values 0 .. 2^62. The answer is the value written in base
// to_base, digits valid in that base in either case, with no sign, prefix or leading zeros (zero is "0"); a
// correct value written with leading zeros is incorrect, as the prompt says.
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr uint64_t kMaxValue = uint64_t{1} << 62;
constexpr size_t kMaxDigits = 64;  // 2^62 in base 2 has 63 digits

// The digit value of c (0-9, a-z, A-Z), or -1.
int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return -1;
}

std::string ToBase(uint64_t v, int64_t base) {
  if (v == 0) return "0";
  std::string out;
  const uint64_t b = static_cast<uint64_t>(base);
  for (; v > 0; v /= b) out.insert(out.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[v % b]);
  return out;
}

// The value of `digits` in `base`; nullopt with *why set if a digit is not valid in the base or
// the value exceeds kMaxValue.
std::optional<uint64_t> FromBase(std::string_view digits, int64_t base, std::string* why) {
  uint64_t v = 0;
  for (char c : digits) {
    const int d = DigitValue(c);
    if (d < 0 || d >= base) {
      *why = absl::StrCat("digit '", std::string(1, c), "' is not valid in base ", base);
      return std::nullopt;
    }
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    if (v > kMaxValue) {
      *why = "value exceeds 2^62";
      return std::nullopt;
    }
  }
  return v;
}

class BaseConversionFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "base_conversion"; }
  std::string_view difficulty_help() const override {
    return "values below 2^(4+5*difficulty) (2^9..2^54); bases from {2, 8, 10, 16} up to difficulty 4, "
           "any of 2..36 above";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int64_t bits = 4 + 5 * static_cast<int64_t>(difficulty);
    const uint64_t value = static_cast<uint64_t>(rng.Uniform(0, (int64_t{1} << bits) - 1));
    auto pick_base = [&] {
      constexpr int64_t kCommon[] = {2, 8, 10, 16};
      return difficulty <= 4 ? kCommon[rng.Uniform(0, 3)] : rng.Uniform(2, 36);
    };
    const int64_t from = pick_base();
    int64_t to = pick_base();
    while (to == from) to = pick_base();
    GeneratedInstance g;
    const std::string digits = ToBase(value, from);
    g.instance = {{"value", digits}, {"from_base", from}, {"to_base", to}};
    g.prompt = absl::StrCat("Convert the base-", from, " number ", digits, " to base ", to,
                            ". Digits above 9 are letters a-z (a=10, ..., z=35; either case). Write the "
                            "result without sign, prefix or leading zeros (zero is 0) inside "
                            "<answer></answer>.");
    g.witness = ToBase(value, to);
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> from = GetInt(instance, "from_base", 2, 36);
    if (!from.ok()) return from.status();
    absl::StatusOr<int64_t> to = GetInt(instance, "to_base", 2, 36);
    if (!to.ok()) return to.status();
    absl::StatusOr<std::string> digits = GetString(instance, "value", kMaxDigits);
    if (!digits.ok()) return digits.status();
    std::string why;
    std::optional<uint64_t> value = digits->empty() ? std::nullopt : FromBase(*digits, *from, &why);
    if (!value) {
      return absl::InvalidArgumentError(absl::StrCat("instance.value: '", *digits, "' is not a base-", *from,
                                                     " number: ", digits->empty() ? "empty" : why));
    }
    const std::string given = absl::AsciiStrToLower(std::string(TrimSpace(answer)));
    if (given.empty() || given.size() > kMaxDigits) {
      return Unparseable(absl::StrCat("expected 1..", kMaxDigits, " digits"));
    }
    for (char c : given) {
      if (DigitValue(c) < 0 || DigitValue(c) >= *to) {
        return Unparseable(absl::StrCat("'", std::string(1, c), "' is not a base-", *to, " digit"));
      }
    }
    const std::string want = ToBase(*value, *to);
    if (given.size() > 1 && given[0] == '0') return Incorrect("leading zeros are not allowed", given);
    if (given != want) {
      return Incorrect(absl::StrCat("'", given, "' is not the base-", *to, " form of the value"), given);
    }
    return Correct(given);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewBaseConversionFamily() { return std::make_unique<BaseConversionFamily>(); }

}  // namespace m1rl::reward::logic::internal
