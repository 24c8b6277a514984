#include "reward/genrm/constraints.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace m1rl::reward::genrm {
namespace {

bool IsCount(const std::string& name) {
  for (const char* c : {"max_words", "min_words", "max_chars", "min_chars", "max_lines", "min_lines"}) {
    if (name == c) return true;
  }
  return false;
}

bool IsText(const std::string& name) {
  return name == "contains" || name == "not_contains" || name == "starts_with" || name == "ends_with";
}

int64_t Words(std::string_view s) {
  int64_t n = 0;
  bool in_word = false;
  for (char c : s) {
    bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

int64_t Lines(std::string_view s) {
  int64_t n = 0;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string_view::npos) end = s.size();
    std::string line(s.substr(start, end - start));
    if (!absl::StripAsciiWhitespace(line).empty()) ++n;
    start = end + 1;
  }
  return n;
}

}  // namespace

absl::StatusOr<std::vector<Constraint>> ParseConstraints(const std::vector<std::string>& specs,
                                                         const std::string& field) {
  std::vector<Constraint> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string where = absl::StrCat(field, "[", i, "] '", specs[i], "'");
    Constraint c;
    c.spec = specs[i];
    size_t colon = specs[i].find(':');
    c.name = specs[i].substr(0, colon);
    std::string arg = colon == std::string::npos ? "" : specs[i].substr(colon + 1);
    bool has_arg = colon != std::string::npos;
    if (IsCount(c.name)) {
      if (!has_arg || !absl::SimpleAtoi(arg, &c.n) || c.n < 0) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": needs a count >= 0"));
      }
    } else if (IsText(c.name)) {
      if (!has_arg || arg.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": needs a text"));
      c.text = arg;
    } else if (c.name == "lowercase" || c.name == "uppercase" || c.name == "json") {
      if (has_arg) return absl::InvalidArgumentError(absl::StrCat(where, ": takes no argument"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown constraint"));
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::optional<std::string> FirstViolation(const std::vector<Constraint>& constraints,
                                          std::string_view answer) {
  std::string trimmed(absl::StripAsciiWhitespace(std::string(answer)));
  for (const Constraint& c : constraints) {
    auto fail = [&](const std::string& found) { return absl::StrCat(c.spec, " (", found, ")"); };
    if (c.name == "max_words" || c.name == "min_words") {
      int64_t n = Words(trimmed);
      if (c.name == "max_words" ? n > c.n : n < c.n) return fail(absl::StrCat(n, " words"));
    } else if (c.name == "max_chars" || c.name == "min_chars") {
      int64_t n = static_cast<int64_t>(trimmed.size());
      if (c.name == "max_chars" ? n > c.n : n < c.n) return fail(absl::StrCat(n, " chars"));
    } else if (c.name == "max_lines" || c.name == "min_lines") {
      int64_t n = Lines(trimmed);
      if (c.name == "max_lines" ? n > c.n : n < c.n) return fail(absl::StrCat(n, " lines"));
    } else if (c.name == "contains") {
      if (trimmed.find(c.text) == std::string::npos) return fail("absent");
    } else if (c.name == "not_contains") {
      if (trimmed.find(c.text) != std::string::npos) return fail("present");
    } else if (c.name == "starts_with") {
      if (trimmed.rfind(c.text, 0) != 0) return fail("different start");
    } else if (c.name == "ends_with") {
      if (trimmed.size() < c.text.size() ||
          trimmed.compare(trimmed.size() - c.text.size(), c.text.size(), c.text) != 0) {
        return fail("different end");
      }
    } else if (c.name == "lowercase" || c.name == "uppercase") {
      bool lower = c.name == "lowercase";
      for (char ch : trimmed) {
        if (lower ? std::isupper(static_cast<unsigned char>(ch))
                  : std::islower(static_cast<unsigned char>(ch))) {
          return fail(absl::StrCat("has '", std::string(1, ch), "'"));
        }
      }
    } else if (c.name == "json") {
      if (nlohmann::json::parse(trimmed, nullptr, /*allow_exceptions=*/false).is_discarded())
        return fail("not JSON");
    }
  }
  return std::nullopt;
}

}  // namespace m1rl::reward::genrm
