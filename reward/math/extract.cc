#include "reward/math/extract.h"

#include <cctype>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

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
    case AnswerSource::kBareNumber:
      return "bare_number";
  }
  return "?";
}

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

// The content of the last complete math span, or false.
bool LastMathSpan(std::string_view text, std::string* content) {
  size_t best_end = 0;
  bool found = false;
  auto consider = [&](size_t cstart, size_t cend, size_t end) {
    if (end >= best_end) {
      best_end = end;
      *content = std::string(text.substr(cstart, cend - cstart));
      found = true;
    }
  };
  // $..$ and $$..$$ (escaped \$ is not a delimiter).
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
    consider(cstart, close, close + (dbl ? 2 : 1));
    i = close + (dbl ? 2 : 1);
  }
  for (auto [open, close] : {std::pair<const char*, const char*>{"\\(", "\\)"}, {"\\[", "\\]"}}) {
    size_t p = 0;
    while ((p = text.find(open, p)) != std::string_view::npos) {
      size_t c = text.find(close, p + 2);
      if (c == std::string_view::npos) break;
      consider(p + 2, c, c + 2);
      p = c + 2;
    }
  }
  return found;
}

bool LastAnswerLine(std::string_view final_part, std::string* out) {
  std::string tail(final_part.size() > kAnswerLineWindow
                       ? final_part.substr(final_part.size() - kAnswerLineWindow)
                       : final_part);
  tail = absl::StrReplaceAll(tail, {{"**", ""}, {"__", ""}});
  std::string lower = absl::AsciiStrToLower(tail);
  size_t pos = lower.rfind("answer:");
  if (pos == std::string::npos) return false;
  size_t start = pos + 7;
  size_t nl = tail.find('\n', start);
  std::string line(absl::StripAsciiWhitespace(
      tail.substr(start, nl == std::string::npos ? std::string::npos : nl - start)));
  if (line.empty() && nl != std::string::npos) {
    size_t nl2 = tail.find('\n', nl + 1);
    line = std::string(absl::StripAsciiWhitespace(
        tail.substr(nl + 1, nl2 == std::string::npos ? std::string::npos : nl2 - nl - 1)));
  }
  // "Answer: The final answer is 5." -> "5".
  for (const char* prefix : {"the final answer is", "the answer is", "final answer is", "answer is"}) {
    std::string lower_line = absl::AsciiStrToLower(line);
    if (lower_line.rfind(prefix, 0) == 0) {
      line = std::string(absl::StripAsciiWhitespace(line.substr(std::string(prefix).size())));
      break;
    }
  }
  if (line.empty()) return false;
  std::string span;
  if (LastMathSpan(line, &span)) line = span;
  *out = line;
  return true;
}

bool LastBareNumber(std::string_view text, std::string* out) {
  size_t i = text.size();
  while (i > 0 && !std::isdigit(static_cast<unsigned char>(text[i - 1]))) --i;
  if (i == 0) return false;
  size_t end = i;
  while (i > 0 &&
         (std::isdigit(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '.' || text[i - 1] == '/'))
    --i;
  if (i > 0 && text[i - 1] == '-') --i;
  std::string num(text.substr(i, end - i));
  while (!num.empty() && (num.front() == '.' || num.front() == '/')) num.erase(num.begin());
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
  if (LastMathSpan(final_part, &s) && !absl::StripAsciiWhitespace(s).empty()) {
    ex.source = AnswerSource::kMathSpan;
    ex.answer = std::string(absl::StripAsciiWhitespace(s));
    return ex;
  }
  if (options.evaluation && LastBareNumber(final_part, &s)) {
    ex.source = AnswerSource::kBareNumber;
    ex.answer = s;
    return ex;
  }
  return ex;
}

}  // namespace m1rl::reward::math
