#include "reward/math/extract.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "reward/math/normalize.h"
#include "reward/math/parser.h"

namespace m1rl::reward::math {

const char* AnswerSourceName(AnswerSource s) {
  switch (s) {
    case AnswerSource::kNone:
      return "none";
    case AnswerSource::kBoxed:
      return "boxed";
    case AnswerSource::kAnswerLine:
      return "answer_line";
    case AnswerSource::kMathSpan:
      return "math_span";
    case AnswerSource::kWholeResponse:
      return "whole_response";
    case AnswerSource::kBareExpression:
      return "bare_expression";
  }
  return "?";
}

const char* ExtractModeName(ExtractMode m) { return m == ExtractMode::kEval ? "eval" : "rl"; }

namespace {

// Balanced {...} starting at text[open] == '{'; returns the content or npos-flag via ok.
bool ReadBalanced(std::string_view text, size_t open, std::string* content, size_t* end) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '{' || text[i + 1] == '}')) {
      ++i;
      continue;
    }
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) {
      *content = std::string(text.substr(open + 1, i - open - 1));
      *end = i + 1;
      return true;
    }
  }
  return false;
}

std::vector<std::string> AllBoxed(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t b = text.find("\\boxed", pos);
    size_t f = text.find("\\fbox", pos);
    size_t at = std::min(b, f);
    if (at == std::string_view::npos) break;
    size_t i = at + (at == b ? 6 : 5);
    while (i < text.size() && text[i] == ' ') ++i;
    std::string content;
    size_t end;
    if (i < text.size() && text[i] == '{' && ReadBalanced(text, i, &content, &end)) {
      out.push_back(std::string(absl::StripAsciiWhitespace(content)));
      pos = end;
    } else {
      pos = i;
    }
  }
  return out;
}

std::string_view Strip(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct Span {
  size_t start, cstart, cend, end;  // delimiters [start, end), content [cstart, cend)
};

// Every complete $..$ / $$..$$ / \(..\) / \[..\] span of `text`, ordered by start.
std::vector<Span> MathSpans(std::string_view text) {
  std::vector<Span> spans;
  // $..$ and $$..$$ (escaped \$ is not a delimiter); an unclosed $ ends the scan.
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      i += 2;
      continue;
    }
    if (text[i] != '$') {
      ++i;
      continue;
    }
    bool dbl = i + 1 < text.size() && text[i + 1] == '$';
    size_t cstart = i + (dbl ? 2 : 1);
    size_t j = cstart;
    size_t close = std::string_view::npos;
    while (j < text.size()) {
      if (text[j] == '\\' && j + 1 < text.size()) {
        j += 2;
        continue;
      }
      if (text[j] == '$') {
        if (!dbl || (j + 1 < text.size() && text[j + 1] == '$')) close = j;
        break;
      }
      ++j;
    }
    if (close == std::string_view::npos) break;
    spans.push_back({i, cstart, close, close + (dbl ? 2 : 1)});
    i = close + (dbl ? 2 : 1);
  }
  for (auto [open, close] : {std::pair<const char*, const char*>{"\\(", "\\)"}, {"\\[", "\\]"}}) {
    size_t p = 0;
    while ((p = text.find(open, p)) != std::string_view::npos) {
      size_t c = text.find(close, p + 2);
      if (c == std::string_view::npos) break;
      spans.push_back({p, p + 2, c, c + 2});
      p = c + 2;
    }
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.cstart < b.cstart; });
  return spans;
}

// The content of the last complete math span (the one ending last), or false.
bool LastMathSpan(std::string_view text, std::string* content) {
  std::vector<Span> spans = MathSpans(text);
  if (spans.empty()) return false;
  const Span* last = &spans[0];
  for (const Span& s : spans)
    if (s.end >= last->end) last = &s;
  *content = std::string(text.substr(last->cstart, last->cend - last->cstart));
  return true;
}

// True iff `gap` between two spans holds only separators: blanks, ',', ';', "and", "or".
bool OnlySeparators(std::string_view gap) {
  std::string g = absl::AsciiStrToLower(std::string(gap));
  for (const char* w : {"and", "or"}) g = absl::StrReplaceAll(g, {{w, " "}});
  return g.find_first_not_of(" \t,;") == std::string::npos;
}

// The first math span of an anchored answer; following spans joined to it only by separators belong to
// it ("$x = 2$ and $x = 3$"), a span after prose does not ("$5$, since $n = 3$").
bool FirstMathSpans(std::string_view line, std::string* out) {
  std::vector<Span> spans = MathSpans(line);
  if (spans.empty()) return false;
  *out = std::string(line.substr(spans[0].cstart, spans[0].cend - spans[0].cstart));
  for (size_t k = 1; k < spans.size(); ++k) {
    if (spans[k].start < spans[k - 1].end ||
        !OnlySeparators(line.substr(spans[k - 1].end, spans[k].start - spans[k - 1].end)))
      break;
    *out += ", " + std::string(line.substr(spans[k].cstart, spans[k].cend - spans[k].cstart));
  }
  return true;
}

// The text after the last answer anchor in the final window: "Answer:" or "... answer is" (the later
// one wins, so "Final Answer: The final answer is 5" reads 5). Bold and underline markers are ignored.
bool LastAnswerLine(std::string_view final_part, std::string* out) {
  std::string tail(final_part.size() > kAnswerLineWindow
                       ? final_part.substr(final_part.size() - kAnswerLineWindow)
                       : final_part);
  tail = absl::StrReplaceAll(tail, {{"**", ""}, {"__", ""}});
  std::string lower = absl::AsciiStrToLower(tail);
  size_t pos = std::string::npos, skip = 0;
  for (std::string_view anchor : {std::string_view("answer:"), std::string_view("answer is")}) {
    size_t p = lower.rfind(anchor);
    if (p != std::string::npos && (pos == std::string::npos || p > pos)) {
      pos = p;
      skip = anchor.size();
    }
  }
  if (pos == std::string::npos) return false;
  size_t start = pos + skip;
  while (start < tail.size() && (tail[start] == ':' || tail[start] == ' ' || tail[start] == '\t')) ++start;
  size_t nl = tail.find('\n', start);
  std::string line(absl::StripAsciiWhitespace(
      tail.substr(start, nl == std::string::npos ? std::string::npos : nl - start)));
  if (line.empty() && nl != std::string::npos) {
    size_t nl2 = tail.find('\n', nl + 1);
    line = std::string(absl::StripAsciiWhitespace(
        tail.substr(nl + 1, nl2 == std::string::npos ? std::string::npos : nl2 - nl - 1)));
  }
  if (line.empty()) return false;
  std::string span;
  if (FirstMathSpans(line, &span)) {
    line = span;
  } else {
    // Without a span the answer ends with its sentence: "1,234. I hope it is correct." -> "1,234.".
    for (size_t i = 0; i + 1 < line.size(); ++i) {
      if (line[i] == '.' && std::isspace(static_cast<unsigned char>(line[i + 1]))) {
        line.resize(i + 1);
        break;
      }
    }
  }
  *out = line;
  return true;
}

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Plain words that undelimited LaTeX may contain: function names, connectives, infinity and percent.
bool AllowedWord(std::string_view w) {
  static const char* const kWords[] = {
      "sin",  "cos", "tan", "cot", "sec",  "csc", "arcsin", "arccos", "arctan",   "sinh",    "cosh",
      "tanh", "ln",  "log", "exp", "sqrt", "pi",  "and",    "or",     "infinity", "percent", "pct"};
  for (const char* k : kWords)
    if (w == k) return true;
  return false;
}

// True iff `s` reads as math rather than prose: every run of two or more plain letters outside control
// words and \text{}-like arguments is an allowed word ("x = 5", "\frac{7}{3}"; not "so it is 5").
bool LooksLikeMath(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '\\') {
      size_t j = i + 1;
      while (j < s.size() && IsAlpha(s[j])) ++j;
      std::string_view cmd = s.substr(i + 1, j - i - 1);
      bool wrapper = cmd == "text" || cmd == "mbox" || cmd == "textbf" || cmd == "mathrm" ||
                     cmd == "mathbf" || cmd == "textnormal" || cmd == "operatorname";
      std::string content;
      size_t end;
      if (wrapper && j < s.size() && s[j] == '{' && ReadBalanced(s, j, &content, &end)) {
        i = end;
      } else {
        i = j == i + 1 ? i + 2 : j;
      }
      continue;
    }
    if (IsAlpha(s[i])) {
      size_t j = i;
      while (j < s.size() && IsAlpha(s[j])) ++j;
      if (j - i >= 2 && !AllowedWord(s.substr(i, j - i))) return false;
      i = j;
      continue;
    }
    ++i;
  }
  return true;
}

// True iff `s` normalises and parses whole as an answer (thousands groups allowed).
bool ParsesWhole(std::string_view s) {
  ParseOptions po;
  po.allow_thousands = true;
  return ParseAnswer(SplitUnit(NormalizeLatex(s)).value, po).ok();
}

// An undelimited response that reads as LaTeX and parses whole ("\frac{7}{3}", "x = 5", "\$12", "6 ways":
// a known unit word may follow the value).
bool WholeResponse(std::string_view final_part, std::string* out) {
  std::string_view t = Strip(final_part);
  if (t.empty() || t.size() > kWholeResponseMaxBytes) return false;
  const std::string value = SplitUnit(NormalizeLatex(t)).value;
  if (!LooksLikeMath(value) || !ParsesWhole(value)) return false;
  *out = std::string(t);
  return true;
}

// Evaluation mode: the longest math-looking suffix of the last line that parses ("We get x = -5." ->
// "x = -5"; "So the length is 2\sqrt{3}." -> "2\sqrt{3}"). It must hold a digit or a command.
bool LastBareExpression(std::string_view text, std::string* out) {
  std::string_view t = Strip(text);
  size_t nl = t.rfind('\n');
  std::string_view line = Strip(nl == std::string_view::npos ? t : t.substr(nl + 1));
  while (!line.empty() && std::string_view(".,;:!?").find(line.back()) != std::string_view::npos)
    line.remove_suffix(1);
  std::string best;
  size_t start = line.size();
  while (start > 0) {
    size_t sp = line.find_last_of(" \t", start - 1);
    start = sp == std::string_view::npos ? 0 : sp;
    std::string_view cand = Strip(line.substr(start));
    if (!LooksLikeMath(cand)) break;
    if (cand.find_first_of("0123456789\\") != std::string_view::npos && ParsesWhole(cand))
      best = std::string(cand);
  }
  if (best.empty()) return false;
  *out = best;
  return true;
}

// Evaluation mode fallback: the last number of the text ("-3", "1,234", ".5", "3/4").
bool LastBareNumber(std::string_view text, std::string* out) {
  auto digit = [&](size_t k) { return k < text.size() && std::isdigit(static_cast<unsigned char>(text[k])); };
  size_t i = text.size();
  while (i > 0 && !digit(i - 1)) --i;
  if (i == 0) return false;
  size_t end = i;
  while (i > 0) {
    char c = text[i - 1];
    bool group =
        c == ',' && digit(i) && digit(i + 1) && digit(i + 2) && !digit(i + 3) && i >= 2 && digit(i - 2);
    if (!(digit(i - 1) || c == '.' || c == '/' || group)) break;
    --i;
  }
  if (i > 0 && text[i - 1] == '-') --i;
  std::string num(text.substr(i, end - i));
  while (!num.empty() && (num.front() == '/' || (num.front() == '.' && !(num.size() > 1 && num[1] != '.'))))
    num.erase(num.begin());
  if (num.empty()) return false;
  *out = num;
  return true;
}

}  // namespace

Extraction ExtractAnswer(std::string_view response, const ExtractOptions& options) {
  Extraction ex;
  size_t close = response.rfind("</think>");
  size_t open = response.find("<think>");
  if (open != std::string_view::npos && (close == std::string_view::npos || close < open)) {
    ex.truncated = true;
    return ex;
  }
  std::string_view final_part = response;
  if (close != std::string_view::npos) {
    final_part = response.substr(close + 8);
    size_t first = response.find_first_not_of(" \t\r\n");
    ex.think_block_first = first != std::string_view::npos && response.substr(first, 7) == "<think>";
  }
  ex.boxed = AllBoxed(final_part);
  if (!ex.boxed.empty()) {
    ex.source = AnswerSource::kBoxed;
    ex.answer = ex.boxed.back();
    return ex;
  }
  std::string s;
  if (LastAnswerLine(final_part, &s)) {
    ex.source = AnswerSource::kAnswerLine;
    ex.answer = s;
    return ex;
  }
  if (LastMathSpan(final_part, &s) && !Strip(s).empty()) {
    ex.source = AnswerSource::kMathSpan;
    ex.answer = std::string(Strip(s));
    return ex;
  }
  if (WholeResponse(final_part, &s)) {
    ex.source = AnswerSource::kWholeResponse;
    ex.answer = s;
    return ex;
  }
  if (options.mode == ExtractMode::kEval &&
      (LastBareExpression(final_part, &s) || LastBareNumber(final_part, &s))) {
    ex.source = AnswerSource::kBareExpression;
    ex.answer = s;
    return ex;
  }
  return ex;
}

}  // namespace m1rl::reward::math
