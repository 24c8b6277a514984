#include "reward/code/compare.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace m1rl::reward::code {
namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Advances over one or more digits; false if there are none.
bool Digits(std::string_view s, size_t& i) {
  const size_t start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  return i > start;
}

std::string Shorten(std::string_view token) {
  return token.size() <= 40 ? std::string(token) : std::string(token.substr(0, 40)) + "...";
}

CompareResult Mismatch(size_t index, std::string_view expected, std::string_view got) {
  return {false, absl::StrCat("token ", index + 1, ": expected '", Shorten(expected), "', got '",
                              Shorten(got), "'")};
}

}  // namespace

std::vector<std::string_view> Tokens(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

bool ParseDecimal(std::string_view token, double* value) {
  size_t i = 0;
  if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
  if (!Digits(token, i)) return false;
  if (i < token.size() && token[i] == '.') {
    ++i;
    if (!Digits(token, i)) return false;
  }
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    if (!Digits(token, i)) return false;
  }
  if (i != token.size()) return false;
  *value = std::strtod(std::string(token).c_str(), nullptr);
  return std::isfinite(*value);
}

CompareResult CompareOutput(std::string_view expected, std::string_view got, const CompareOptions& options) {
  if (options.checker == rl::CodePayload::EXACT) {
    if (expected == got) return {true, ""};
    size_t i = 0;
    while (i < expected.size() && i < got.size() && expected[i] == got[i]) ++i;
    return {false, absl::StrCat("bytes differ at offset ", i, " (expected ", expected.size(), " bytes, got ",
                                got.size(), ")")};
  }
  const std::vector<std::string_view> want = Tokens(expected);
  const std::vector<std::string_view> have = Tokens(got);
  for (size_t i = 0; i < want.size() && i < have.size(); ++i) {
    if (want[i] == have[i]) continue;
    double w = 0, h = 0;
    if (options.checker == rl::CodePayload::FLOAT && ParseDecimal(want[i], &w) && ParseDecimal(have[i], &h)) {
      const double diff = std::fabs(h - w);
      if (diff <= options.abs_tol || diff <= options.rel_tol * std::fabs(w)) continue;
    }
    return Mismatch(i, want[i], have[i]);
  }
  if (want.size() != have.size())
    return {false, absl::StrCat("expected ", want.size(), " tokens, got ", have.size())};
  return {true, ""};
}

}  // namespace m1rl::reward::code
