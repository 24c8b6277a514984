#include "reward/math/normalize.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace m1rl::reward::math {
namespace {

bool IsLetter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Replaces every occurrence of `cmd` that is a whole control word (not a prefix of a longer one).
void ReplaceCommand(std::string& s, std::string_view cmd, std::string_view with) {
  size_t pos = 0;
  while ((pos = s.find(cmd, pos)) != std::string::npos) {
    size_t end = pos + cmd.size();
    // Not a prefix of a longer control word, and not the second half of a "\\" row break.
    if ((IsLetter(cmd.back()) && end < s.size() && IsLetter(s[end])) || (pos > 0 && s[pos - 1] == '\\')) {
      pos = end;
      continue;
    }
    s.replace(pos, cmd.size(), with);
    pos += with.size();
  }
}

// Replaces "\cmd{X}" by X for wrapper commands (balanced braces).
void UnwrapCommand(std::string& s, std::string_view cmd) {
  std::string pat = std::string(cmd) + "{";
  size_t pos = 0;
  while ((pos = s.find(pat, pos)) != std::string::npos) {
    size_t open = pos + pat.size() - 1;
    int depth = 0;
    size_t close = std::string::npos;
    for (size_t i = open; i < s.size(); ++i) {
      if (s[i] == '{') ++depth;
      if (s[i] == '}' && --depth == 0) {
        close = i;
        break;
      }
    }
    if (close == std::string::npos) return;
    std::string inner = s.substr(open + 1, close - open - 1);
    s.replace(pos, close - pos + 1, inner);
  }
}

// Replaces the plain word `word` (delimited by non-letters, and not part of a \command) by `with`.
void ReplaceWord(std::string& s, std::string_view word, std::string_view with) {
  size_t pos = 0;
  while ((pos = s.find(word, pos)) != std::string::npos) {
    size_t end = pos + word.size();
    bool left_ok = pos == 0 || (!IsLetter(s[pos - 1]) && s[pos - 1] != '\\');
    bool right_ok = end >= s.size() || !IsLetter(s[end]);
    if (!left_ok || !right_ok) {
      pos = end;
      continue;
    }
    s.replace(pos, word.size(), with);
    pos += with.size();
  }
}

// "0.1\overline{6}" -> "\frac{15}{90}": a repeating decimal as its exact fraction (at most 18 digits in
// all; longer ones are left alone and fail to parse).
void RepeatingDecimals(std::string& s) {
  static const std::regex kRepeating("([0-9]*)\\.([0-9]*)\\\\overline\\{([0-9]+)\\}");
  std::smatch m;
  std::string out;
  std::string rest = s;
  while (std::regex_search(rest, m, kRepeating)) {
    const std::string i = m[1], b = m[2], c = m[3];
    out += m.prefix();
    if (i.size() + b.size() + c.size() > 18) {
      out += m[0];
    } else {
      unsigned __int128 pb = 1, pc = 1;
      for (size_t k = 0; k < b.size(); ++k) pb *= 10;
      for (size_t k = 0; k < c.size(); ++k) pc *= 10;
      auto num = [](const std::string& d) {
        unsigned __int128 v = 0;
        for (char ch : d) v = v * 10 + static_cast<unsigned>(ch - '0');
        return v;
      };
      const unsigned __int128 den = pb * (pc - 1);
      const unsigned __int128 n = num(i) * den + num(b + c) - num(b);
      auto str = [](unsigned __int128 v) {
        std::string d;
        do {
          d.insert(d.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
          v /= 10;
        } while (v != 0);
        return d;
      };
      out += "\\frac{" + str(n) + "}{" + str(den) + "}";
    }
    rest = m.suffix();
  }
  s = out + rest;
}

// The backslash-command part of NormalizeLatex: thin-space thousands, spacing and sizing commands,
// \dfrac-style aliases, degrees, repeating decimals, font wrappers, and \text{and}/\text{percent}.
void NormalizeCommands(std::string& s) {
  // A thin space between digit groups ("1\,000", "1\!000") is a thousands separator: make it a comma,
  // which the parser accepts as one only for exact 3-digit groups and a scalar gold.
  for (const char* sep : {"\\,", "\\!", "\\ "}) {
    size_t pos = 0;
    while ((pos = s.find(sep, pos)) != std::string::npos) {
      bool digits = pos > 0 && std::isdigit(static_cast<unsigned char>(s[pos - 1])) && pos + 5 <= s.size() &&
                    std::isdigit(static_cast<unsigned char>(s[pos + 2])) &&
                    std::isdigit(static_cast<unsigned char>(s[pos + 3])) &&
                    std::isdigit(static_cast<unsigned char>(s[pos + 4]));
      if (digits) s.replace(pos, 2, ",");
      pos += 1;
    }
  }
  for (const char* c :
       {"\\displaystyle", "\\textstyle", "\\left.", "\\right.", "\\left", "\\right", "\\bigl", "\\bigr",
        "\\Bigl", "\\Bigr", "\\big", "\\Big", "\\qquad", "\\quad", "\\!", "\\,", "\\;", "\\:", "\\ "})
    ReplaceCommand(s, c, c[1] == 'q' || c[1] == ' ' || c[1] == ',' || c[1] == ';' || c[1] == ':' ? " " : "");
  constexpr std::pair<const char*, const char*> kAliases[] = {
      {"\\dfrac", "\\frac"},      {"\\tfrac", "\\frac"},   {"\\cfrac", "\\frac"},
      {"\\dbinom", "\\binom"},    {"\\tbinom", "\\binom"}, {"\\emptyset", "\\{\\}"},
      {"\\varnothing", "\\{\\}"}, {"\\lbrace", "\\{"},     {"\\rbrace", "\\}"}};
  for (const auto& [cmd, with] : kAliases) ReplaceCommand(s, cmd, with);
  s = absl::StrReplaceAll(s, {{"^{\\circ}", ""}, {"^\\circ", ""}, {"\\circ", ""}, {"\\degree", ""}});
  if (s.find("\\overline") != std::string::npos) RepeatingDecimals(s);
  for (const char* w : {"\\boxed", "\\mathrm", "\\mathbf", "\\textbf", "\\mathit", "\\boldsymbol", "\\bm",
                        "\\mathsf", "\\textrm"})
    UnwrapCommand(s, w);
  s = absl::StrReplaceAll(s, {{"\\text{ and }", ","},
                              {"\\text{and}", ","},
                              {"\\text{ or }", ","},
                              {"\\text{or}", ","},
                              {"\\mbox{ and }", ","},
                              {"\\mbox{and}", ","}});
  s = absl::StrReplaceAll(s, {{"\\text{ percent}", "\\%"},
                              {"\\text{percent}", "\\%"},
                              {"\\text{ pct}", "\\%"},
                              {"\\text{pct}", "\\%"}});
}

}  // namespace

std::string NormalizeLatex(std::string_view span) {
  std::string s(span);
  // Unicode first (UTF-8 sequences; an ASCII span has none).
  if (std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    s = absl::StrReplaceAll(s, {{"\xe2\x88\x92", "-"},          // U+2212 minus
                                {"\xc3\x97", "\\times "},       // ×
                                {"\xc3\xb7", "\\div "},         // ÷
                                {"\xcf\x80", "\\pi "},          // π
                                {"\xe2\x89\xa4", "\\le "},      // ≤
                                {"\xe2\x89\xa5", "\\ge "},      // ≥
                                {"\xe2\x89\xa0", "\\ne "},      // ≠
                                {"\xe2\x88\x9e", "\\infty "},   // ∞
                                {"\xc2\xb1", "\\pm "},          // ±
                                {"\xc2\xb7", "\\cdot "},        // ·
                                {"\xc2\xb0", ""},               // °
                                {"\xe2\x88\xaa", "\\cup "},     // ∪
                                {"\xe2\x88\x9a", "\\sqrt "}});  // √
  s = absl::StrReplaceAll(s, {{"**", ""}, {"`", ""}, {"\\$", ""}, {"$", ""}, {"{,}", ","}});
  if (s.find('\\') != std::string::npos) NormalizeCommands(s);  // (most spans have no command)
  ReplaceWord(s, "infinity", "\\infty ");
  ReplaceWord(s, "and", ",");
  ReplaceWord(s, "or", ",");
  ReplaceCommand(s, "\\percent", "\\%");
  ReplaceWord(s, "percent", "\\%");
  ReplaceWord(s, "pct", "\\%");
  // A bare % becomes \%; an already escaped one stays.
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && (i == 0 || s[i - 1] != '\\')) {
      out += "\\%";
    } else {
      out += s[i];
    }
  }
  // Collapse ", ," runs left by "x, and y" and whitespace runs.
  std::string collapsed;
  for (char c : out) {
    char cc = std::isspace(static_cast<unsigned char>(c)) ? ' ' : c;
    if (cc == ' ' && !collapsed.empty() && collapsed.back() == ' ') continue;
    if (cc == ',') {
      while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
      if (!collapsed.empty() && collapsed.back() == ',') continue;
    }
    collapsed += cc;
  }
  absl::string_view v = absl::StripAsciiWhitespace(collapsed);
  while (!v.empty() && (v.back() == '.' || v.back() == ',' || v.back() == ' ' || v.back() == '\\')) {
    // A trailing period ends a sentence; "3." is not a decimal here. A trailing backslash (a stray one, or
    // the row break "\\" after the last row) ends nothing.
    v.remove_suffix(1);
  }
  while (!v.empty() && (v.front() == ',' || v.front() == ' ')) v.remove_prefix(1);
  return std::string{v};
}

namespace {

struct UnitName {
  const char* spelling;
  const char* canonical;
};

// Unit spellings (lower case, singular) and their canonical names. Plural 's' is stripped before lookup.
constexpr UnitName kUnits[] = {
    {"cm", "centimeter"},
    {"centimeter", "centimeter"},
    {"centimetre", "centimeter"},
    {"mm", "millimeter"},
    {"millimeter", "millimeter"},
    {"km", "kilometer"},
    {"kilometer", "kilometer"},
    {"m", "meter"},
    {"meter", "meter"},
    {"metre", "meter"},
    {"kg", "kilogram"},
    {"kilogram", "kilogram"},
    {"g", "gram"},
    {"gram", "gram"},
    {"s", "second"},
    {"sec", "second"},
    {"second", "second"},
    {"min", "minute"},
    {"minute", "minute"},
    {"h", "hour"},
    {"hr", "hour"},
    {"hour", "hour"},
    {"day", "day"},
    {"week", "week"},
    {"year", "year"},
    {"ft", "foot"},
    {"foot", "foot"},
    {"feet", "foot"},
    {"in", "inch"},
    {"inch", "inch"},
    {"inche", "inch"},
    {"mi", "mile"},
    {"mile", "mile"},
    {"mph", "mph"},
    {"dollar", "dollar"},
    {"cent", "cent"},
    {"degree", "degree"},
    {"deg", "degree"},
    {"unit", "unit"},
    {"square unit", "square unit"},
    {"sq unit", "square unit"},
    {"l", "liter"},
    {"liter", "liter"},
    {"ml", "milliliter"},
    {"radian", "radian"},
    {"rad", "radian"},
    {"people", "people"},
    {"person", "people"},
    {"point", "point"},
    {"way", "way"},
    {"yard", "yard"},
};

// Canonical unit for `words` or "" if not a unit.
std::string CanonicalUnit(std::string words, bool require_known) {
  words = absl::AsciiStrToLower(absl::StripAsciiWhitespace(words));
  std::string power;
  size_t caret = words.find('^');
  if (caret != std::string::npos) {
    power = words.substr(caret);
    words = std::string(absl::StripAsciiWhitespace(words.substr(0, caret)));
    power.erase(std::remove_if(power.begin(), power.end(), [](char c) { return c == '{' || c == '}'; }),
                power.end());
  }
  if (words.empty()) return "";
  for (char c : words)
    if (!IsLetter(c) && c != ' ') return "";
  std::string singular = words;
  if (singular.size() > 2 && singular.back() == 's') singular.pop_back();
  for (const auto& u : kUnits) {
    if (singular == u.spelling || words == u.spelling) return std::string(u.canonical) + power;
  }
  if (require_known) return "";
  return singular + power;
}

}  // namespace

ValueAndUnit SplitUnit(std::string_view normalized) {
  std::string s(normalized);
  // Trailing \text{...} / \mbox{...} (optionally followed by ^2 / ^{2}) after a value.
  for (const char* w : {"\\text{", "\\mbox{", "\\textnormal{"}) {
    size_t pos = s.rfind(w);
    if (pos == std::string::npos || pos == 0) continue;
    size_t close = s.find('}', pos);
    if (close == std::string::npos) continue;
    std::string rest = s.substr(close + 1);
    std::string rest_trim(absl::StripAsciiWhitespace(rest));
    if (!rest_trim.empty() && rest_trim[0] != '^') continue;
    std::string inner = s.substr(pos + std::string(w).size(), close - pos - std::string(w).size());
    std::string unit = CanonicalUnit(inner + rest_trim, /*require_known=*/false);
    if (unit.empty()) continue;
    std::string value(absl::StripAsciiWhitespace(s.substr(0, pos)));
    if (value.empty()) continue;
    return {value, unit};
  }
  // Plain trailing unit word after a digit, '}' or ')': "5 cm", "12 meters", "3 cm^2". Only known
  // units; one-letter units (m, g, s, h, l) need a space before them so "2m" stays a product.
  size_t word_end = s.size();
  size_t caret = s.rfind('^');
  if (caret != std::string::npos && caret > 0 && IsLetter(s[caret - 1])) word_end = caret;
  size_t b = word_end;
  while (b > 0 && (IsLetter(s[b - 1]) || s[b - 1] == ' ')) --b;
  while (b < word_end && s[b] == ' ') ++b;
  if (b < word_end && b > 0 && s[b - 1] != '\\') {
    std::string unit = CanonicalUnit(s.substr(b), /*require_known=*/true);
    std::string value(absl::StripAsciiWhitespace(s.substr(0, b)));
    size_t letters = 0;
    for (size_t i = b; i < word_end; ++i) letters += IsLetter(s[i]) ? 1 : 0;
    bool spaced = s[b - 1] == ' ';
    if (!unit.empty() && !value.empty() && (letters > 1 || spaced)) {
      char last = value.back();
      if (std::isdigit(static_cast<unsigned char>(last)) || last == '}' || last == ')') return {value, unit};
    }
  }
  return {s, ""};
}

}  // namespace m1rl::reward::math
