#include "reward/logic/internal/family_util.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

const nlohmann::json* Field(const nlohmann::json& j, std::string_view field) {
  auto it = j.find(std::string(field));
  return it == j.end() ? nullptr : &*it;
}

absl::Status FieldError(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("instance.", std::string(field), ": ", std::string(what)));
}

}  // namespace

absl::StatusOr<int64_t> GetInt(const nlohmann::json& j, std::string_view field, int64_t lo, int64_t hi) {
  const nlohmann::json* v = Field(j, field);
  if (v == nullptr) return FieldError(field, "missing");
  if (!v->is_number_integer()) return FieldError(field, absl::StrCat("expected an integer, got ", v->dump()));
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) return FieldError(field, absl::StrCat("must be in [", lo, ", ", hi, "], got ", x));
  return x;
}

absl::StatusOr<std::string> GetString(const nlohmann::json& j, std::string_view field, size_t max_len) {
  const nlohmann::json* v = Field(j, field);
  if (v == nullptr) return FieldError(field, "missing");
  if (!v->is_string()) return FieldError(field, absl::StrCat("expected a string, got ", v->dump()));
  std::string s = v->get<std::string>();
  if (s.size() > max_len) return FieldError(field, absl::StrCat("longer than ", max_len, " bytes"));
  return s;
}

absl::StatusOr<std::vector<int64_t>> GetIntArray(const nlohmann::json& j, std::string_view field,
                                                 size_t min_size, size_t max_size, int64_t lo, int64_t hi) {
  const nlohmann::json* v = Field(j, field);
  if (v == nullptr) return FieldError(field, "missing");
  if (!v->is_array()) return FieldError(field, "expected an array");
  if (v->size() < min_size || v->size() > max_size) {
    return FieldError(field,
                      absl::StrCat("expected ", min_size, "..", max_size, " elements, got ", v->size()));
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& e = (*v)[i];
    if (!e.is_number_integer())
      return FieldError(absl::StrCat(std::string(field), "[", i, "]"), "expected an integer");
    const int64_t x = e.get<int64_t>();
    if (x < lo || x > hi) {
      return FieldError(absl::StrCat(std::string(field), "[", i, "]"),
                        absl::StrCat("must be in [", lo, ", ", hi, "], got ", x));
    }
    out.push_back(x);
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> GetPairArray(const nlohmann::json& j,
                                                                      std::string_view field, size_t max_size,
                                                                      int64_t lo, int64_t hi) {
  const nlohmann::json* v = Field(j, field);
  if (v == nullptr) return FieldError(field, "missing");
  if (!v->is_array()) return FieldError(field, "expected an array");
  if (v->size() > max_size) return FieldError(field, absl::StrCat("more than ", max_size, " elements"));
  std::vector<std::pair<int64_t, int64_t>> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& e = (*v)[i];
    const std::string name = absl::StrCat(std::string(field), "[", i, "]");
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_number_integer()) {
      return FieldError(name, "expected a pair of integers");
    }
    const int64_t a = e[0].get<int64_t>();
    const int64_t b = e[1].get<int64_t>();
    if (a < lo || a > hi || b < lo || b > hi) {
      return FieldError(name, absl::StrCat("entries must be in [", lo, ", ", hi, "]"));
    }
    out.emplace_back(a, b);
  }
  return out;
}

absl::Status NestField(const absl::Status& s, std::string_view parent) {
  std::string_view msg(s.message().data(), s.message().size());
  constexpr std::string_view kPrefix = "instance.";
  if (msg.substr(0, kPrefix.size()) == kPrefix) msg.remove_prefix(kPrefix.size());
  return absl::Status(s.code(), absl::StrCat("instance.", std::string(parent), ".", std::string(msg)));
}

std::string_view TrimSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<std::vector<int64_t>> ParseIntList(std::string_view answer, size_t max_tokens,
                                                 std::string* why) {
  std::string_view s = TrimSpace(answer);
  if (s.size() >= 2 && ((s.front() == '[' && s.back() == ']') || (s.front() == '(' && s.back() == ')'))) {
    s = s.substr(1, s.size() - 2);
  }
  std::vector<int64_t> out;
  size_t i = 0;
  auto sep = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ';'; };
  while (i < s.size()) {
    if (sep(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !sep(s[j])) ++j;
    std::string_view tok = s.substr(i, j - i);
    std::string_view digits = tok;
    bool negative = false;
    if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
      negative = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (digits.empty() || digits.size() > 18 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos) {
      *why = absl::StrCat("answer: '", std::string(tok.substr(0, 24)), "' is not an integer");
      return std::nullopt;
    }
    int64_t v = 0;
    for (char c : digits) v = v * 10 + (c - '0');
    out.push_back(negative ? -v : v);
    if (out.size() > max_tokens) {
      *why = absl::StrCat("answer: more than ", max_tokens, " numbers");
      return std::nullopt;
    }
    i = j;
  }
  if (out.empty()) {
    *why = "answer: no numbers";
    return std::nullopt;
  }
  return out;
}

CheckResult Correct(std::string normalized) {
  return CheckResult{CheckResult::Kind::kCorrect, "ok", std::move(normalized)};
}
CheckResult Incorrect(std::string reason, std::string normalized) {
  return CheckResult{CheckResult::Kind::kIncorrect, std::move(reason), std::move(normalized)};
}
CheckResult Unparseable(std::string reason) {
  return CheckResult{CheckResult::Kind::kUnparseable, std::move(reason), ""};
}

bool HeldOutBucket(int64_t a, int64_t b) {
  const uint64_t lo = static_cast<uint64_t>(std::min(a, b)), hi = static_cast<uint64_t>(std::max(a, b));
  return SplitMix64(SplitMix64(lo ^ 0x6C6F6E675F6D756CULL) ^ hi) % 8 == 0;  // 1/8 of the problems
}

}  // namespace m1rl::reward::logic::internal
