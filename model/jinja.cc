#include "model/jinja.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "unicode/uchar.h"
#include "unicode/ustring.h"

namespace m1rl::model {
namespace {

using Json = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------------------
// Text helpers: UTF-8 code points, Python's str()/repr() and json.dumps formatting.

std::vector<uint32_t> DecodeUtf8(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + len > s.size()) len = 1;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string EncodeUtf8(const std::vector<uint32_t>& cps) {
  std::string out;
  for (uint32_t cp : cps) AppendUtf8(cp, &out);
  return out;
}

// Python's repr(float): the shortest round-tripping digits, exponent form outside [1e-4, 1e16).
std::string PyFloat(double d, bool json) {
  if (std::isnan(d)) return json ? "NaN" : "nan";
  if (std::isinf(d)) return d > 0 ? (json ? "Infinity" : "inf") : (json ? "-Infinity" : "-inf");
  char buf[40];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s(buf);
  const size_t e = s.find('e');
  const int exp = std::atoi(s.c_str() + e + 1);
  std::string sign = s[0] == '-' ? "-" : "";
  std::string digits;
  for (size_t i = sign.size(); i < e; ++i) {
    if (s[i] != '.') digits.push_back(s[i]);
  }
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      while (static_cast<int>(digits.size()) < exp + 2) digits.push_back('0');
      std::string frac = digits.substr(exp + 1);
      return sign + digits.substr(0, exp + 1) + "." + frac;
    }
    return sign + "0." + std::string(-exp - 1, '0') + digits;
  }
  std::string mant = digits.substr(0, 1);
  if (digits.size() > 1) mant += "." + digits.substr(1);
  char ebuf[24];
  std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return sign + mant + ebuf;
}

// Python's str.isprintable() for a non-ASCII code point.
bool IsPrintable(uint32_t cp) {
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_SURROGATE:
    case U_PRIVATE_USE_CHAR:
    case U_UNASSIGNED:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
    case U_SPACE_SEPARATOR:
      return false;
    default:
      return true;
  }
}

std::string PyStrRepr(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (uint32_t cp : DecodeUtf8(s)) {
    if (cp >= 0x80) {
      if (IsPrintable(cp)) {
        AppendUtf8(cp, &out);
      } else {
        char buf[16];
        std::snprintf(buf, sizeof(buf), cp < 0x100 ? "\\x%02x" : cp < 0x10000 ? "\\u%04x" : "\\U%08x", cp);
        out += buf;
      }
      continue;
    }
    const auto c = static_cast<unsigned char>(cp);
    const char ch = static_cast<char>(cp);
    if (ch == '\\' || ch == q) {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + q;
}

std::string PyRepr(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "None";
    case Json::value_t::boolean:
      return j.get<bool>() ? "True" : "False";
    case Json::value_t::number_float:
      return PyFloat(j.get<double>(), false);
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return j.dump();
    case Json::value_t::string:
      return PyStrRepr(j.get<std::string>());
    case Json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + PyRepr(j[i]);
      return out + "]";
    }
    case Json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : j.items()) {
        out += (first ? "" : ", ") + PyStrRepr(k) + ": " + PyRepr(v);
        first = false;
      }
      return out + "}";
    }
    default:
      return j.dump();
  }
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

struct DumpOptions {
  int indent = -1;  // -1: None (single line)
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};

// Python's json.dumps(j, ensure_ascii=False, ...).
void PyJsonDump(const Json& j, const DumpOptions& o, int level, std::string* out) {
  const bool is_obj = j.is_object();
  if (!j.is_array() && !is_obj) {
    if (j.is_string()) {
      *out += JsonString(j.get<std::string>());
    } else if (j.is_number_float()) {
      *out += PyFloat(j.get<double>(), true);
    } else {
      *out += j.dump();
    }
    return;
  }
  if (j.empty()) {
    *out += is_obj ? "{}" : "[]";
    return;
  }
  *out += is_obj ? '{' : '[';
  const std::string nl =
      o.indent >= 0 ? "\n" + std::string(static_cast<size_t>(o.indent) * (level + 1), ' ') : "";
  std::vector<std::pair<std::string, const Json*>> items;
  if (is_obj) {
    for (const auto& [k, v] : j.items()) items.emplace_back(k, &v);
    if (o.sort_keys)
      std::stable_sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.first < b.first; });
  } else {
    for (const Json& v : j) items.emplace_back("", &v);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    *out += i ? o.item_sep + nl : nl;
    if (is_obj) *out += JsonString(items[i].first) + o.key_sep;
    PyJsonDump(*items[i].second, o, level + 1, out);
  }
  if (o.indent >= 0) *out += "\n" + std::string(static_cast<size_t>(o.indent) * level, ' ');
  *out += is_obj ? '}' : ']';
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Python's str.isspace() for one code point.
bool IsUnicodeSpace(uint32_t cp) {
  if (cp < 0x80) return IsSpace(static_cast<char>(cp)) || (cp >= 0x1c && cp <= 0x1f);
  return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

// upper()/lower() by code point (ICU's simple case mapping).
// upper()/lower() with ICU's full case mapping in the root locale, as Python's ('ß'.upper() == 'SS').
std::string ChangeCase(const std::string& s, bool upper) {
  UErrorCode err = U_ZERO_ERROR;
  int32_t n16 = 0;
  u_strFromUTF8(nullptr, 0, &n16, s.data(), static_cast<int32_t>(s.size()), &err);
  std::u16string in(static_cast<size_t>(n16), u'\0');
  err = U_ZERO_ERROR;
  u_strFromUTF8(reinterpret_cast<UChar*>(in.data()), n16, nullptr, s.data(), static_cast<int32_t>(s.size()),
                &err);
  if (U_FAILURE(err)) return s;
  std::u16string mapped(in.size() * 3 + 1, u'\0');
  err = U_ZERO_ERROR;
  const auto cap = static_cast<int32_t>(mapped.size());
  const int32_t m = upper ? u_strToUpper(reinterpret_cast<UChar*>(mapped.data()), cap,
                                         reinterpret_cast<const UChar*>(in.data()), n16, "", &err)
                          : u_strToLower(reinterpret_cast<UChar*>(mapped.data()), cap,
                                         reinterpret_cast<const UChar*>(in.data()), n16, "", &err);
  if (U_FAILURE(err)) return s;
  std::string out(static_cast<size_t>(m) * 3 + 1, '\0');
  int32_t n8 = 0;
  err = U_ZERO_ERROR;
  u_strToUTF8(out.data(), static_cast<int32_t>(out.size()), &n8,
              reinterpret_cast<const UChar*>(mapped.data()), m, &err);
  if (U_FAILURE(err)) return s;
  out.resize(static_cast<size_t>(n8));
  return out;
}

std::string StripChars(const std::string& s, const std::string* chars, bool left, bool right) {
  auto strip = [&](uint32_t cp) {
    if (chars == nullptr) return IsUnicodeSpace(cp);
    for (uint32_t c : DecodeUtf8(*chars)) {
      if (c == cp) return true;
    }
    return false;
  };
  std::vector<uint32_t> cps = DecodeUtf8(s);
  size_t b = 0;
  size_t e = cps.size();
  while (left && b < e && strip(cps[b])) ++b;
  while (right && e > b && strip(cps[e - 1])) --e;
  return EncodeUtf8(std::vector<uint32_t>(cps.begin() + static_cast<std::ptrdiff_t>(b),
                                          cps.begin() + static_cast<std::ptrdiff_t>(e)));
}

// Python's slice.indices(): the indices a[start:stop:step] visits.
std::vector<int64_t> SliceIndices(int64_t len, std::optional<int64_t> start, std::optional<int64_t> stop,
                                  int64_t step) {
  const int64_t lower = step > 0 ? 0 : -1;
  const int64_t upper = step > 0 ? len : len - 1;
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    return *v < 0 ? std::max(*v + len, lower) : std::min(*v, upper);
  };
  const int64_t s = clamp(start, step > 0 ? lower : upper);
  const int64_t e = clamp(stop, step > 0 ? upper : lower);
  std::vector<int64_t> out;
  for (int64_t i = s; step > 0 ? i < e : i > e; i += step) out.push_back(i);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Syntax tree.

struct Expr {  // NOLINT(bugprone-exception-escape): nlohmann::json's constructors may throw
  enum class Kind {
    kLiteral,
    kName,
    kList,
    kDict,
    kAttr,
    kIndex,
    kSlice,
    kCall,
    kFilter,
    kTest,
    kNeg,
    kPos,
    kNot,
    kAnd,
    kOr,
    kBinary,
    kCompare,
    kCond
  };
  Kind kind;
  size_t pos = 0;
  std::string name;  // kName, kAttr, kFilter, kTest, kBinary/kCompare operator
  Json literal;
  bool negated = false;                     // kTest: 'is not'
  std::vector<std::unique_ptr<Expr>> args;  // operands; for kCall/kFilter/kTest: [operand, positional...]
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
};
using ExprP = std::unique_ptr<Expr>;

struct Node;
using Body = std::vector<Node>;

struct Node {
  enum class Kind { kText, kOutput, kIf, kFor, kSet, kSetBlock, kMacro, kBreak, kContinue, kBlock };
  Kind kind;
  size_t pos = 0;
  std::string text;                              // kText; kSet/kSetBlock/kMacro: name
  std::string attr;                              // kSet: ns.attr target
  ExprP expr;                                    // kOutput, kSet value, kFor iterable
  ExprP filter;                                  // kFor: 'if' filter
  std::vector<std::string> targets;              // kFor / kSet unpacking; kMacro parameters
  std::vector<ExprP> defaults;                   // kMacro parameter defaults (nullptr: none)
  std::vector<std::pair<ExprP, Body>> branches;  // kIf
  Body body;                                     // kFor, kSetBlock, kMacro, kBlock
  Body else_body;                                // kIf, kFor
};

// Bounds that keep a hostile template from exhausting the stack or memory.
constexpr int kMaxNesting = 200;            // nested expressions, blocks, macro calls
constexpr int64_t kMaxSequence = 10000000;  // range() length
constexpr size_t kMaxString = 100000000;    // bytes of a repeated string

absl::Status ErrorAt(std::string_view src, size_t pos, const std::string& msg) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < pos && i < src.size(); ++i) {
    if (src[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(msg, " at line ", line, " col ", pos - line_start + 1));
}

// ---------------------------------------------------------------------------------------------------------
// Lexing: the template into text/expression/statement segments, then tag contents into tokens.

struct Segment {
  enum class Kind { kText, kExpr, kStmt };
  Kind kind;
  std::string text;
  size_t pos;  // offset of `text` in the source
};

// Finds the end of a tag ("}}" or "%}") starting at `from`, skipping string literals.
size_t FindClose(std::string_view src, size_t from, char closer) {
  char quote = 0;
  for (size_t i = from; i + 1 < src.size(); ++i) {
    if (quote) {
      if (src[i] == '\\') {
        ++i;
      } else if (src[i] == quote) {
        quote = 0;
      }
    } else if (src[i] == '\'' || src[i] == '"') {
      quote = src[i];
    } else if (src[i] == closer && src[i + 1] == '}') {
      return i;
    }
  }
  return std::string_view::npos;
}

// lstrip_blocks: drops the spaces and tabs between the line start and a block tag that follows `text`
// (which starts a line when `line_start`).
void LstripBlock(bool line_start, std::string* text) {
  const size_t nl = text->rfind('\n');
  const size_t l = nl == std::string::npos ? 0 : nl + 1;
  if ((l > 0 || line_start) && std::all_of(text->begin() + static_cast<std::ptrdiff_t>(l), text->end(),
                                           [](char c) { return c != '\n' && IsSpace(c); })) {
    text->resize(l);
  }
}

// {% raw %}: the text up to {% endraw %} is kept verbatim. Returns the offset after the endraw tag.
absl::StatusOr<size_t> LexRaw(std::string_view src, size_t pos, std::vector<Segment>* out,
                              bool* strip_after) {
  for (size_t at = src.find("{%", pos); at != std::string_view::npos; at = src.find("{%", at + 2)) {
    size_t i = at + 2;
    const bool strip_before = i < src.size() && src[i] == '-';
    const bool keep_before = i < src.size() && src[i] == '+';
    if (strip_before || keep_before) ++i;
    while (i < src.size() && IsSpace(src[i])) ++i;
    if (src.substr(i, 6) != "endraw") continue;
    const size_t close = FindClose(src, i, '%');
    if (close == std::string_view::npos) break;
    std::string text(src.substr(pos, at - pos));
    if (strip_before) {
      text = StripChars(text, nullptr, false, true);
    } else if (!keep_before) {
      LstripBlock(pos == 0 || src[pos - 1] == '\n', &text);
    }
    out->push_back({Segment::Kind::kText, text, pos});
    *strip_after = src[close - 1] == '-';
    return close + 2;
  }
  return ErrorAt(src, pos, "unclosed {% raw %} block");
}

absl::StatusOr<std::vector<Segment>> LexTemplate(std::string_view src) {
  std::vector<Segment> out;
  size_t pos = 0;
  while (pos < src.size()) {
    size_t open = pos;
    while (true) {
      open = src.find('{', open);
      if (open == std::string_view::npos || open + 1 >= src.size()) {
        open = std::string_view::npos;
        break;
      }
      const char k = src[open + 1];
      if (k == '{' || k == '%' || k == '#') break;
      ++open;
    }
    std::string text(src.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos));
    if (open == std::string_view::npos) {
      out.push_back({Segment::Kind::kText, text, pos});
      break;
    }
    const char kind = src[open + 1];
    size_t inner = open + 2;
    const char mod = inner < src.size() ? src[inner] : 0;
    if (mod == '-') {
      text = StripChars(text, nullptr, false, true);
    } else if (kind != '{' && mod != '+') {
      LstripBlock(pos == 0 || src[pos - 1] == '\n', &text);
    }
    if (!text.empty()) out.push_back({Segment::Kind::kText, text, pos});
    if (mod == '-' || mod == '+') ++inner;
    size_t close;
    if (kind == '#') {
      close = src.find("#}", inner);
    } else {
      close = FindClose(src, inner, kind == '{' ? '}' : '%');
    }
    if (close == std::string_view::npos) {
      return ErrorAt(src, open, kind == '#' ? "unclosed comment" : "unclosed tag");
    }
    bool strip_after = close > inner && src[close - 1] == '-';
    const size_t content_end = strip_after ? close - 1 : close;
    std::string content(src.substr(inner, content_end - inner));
    pos = close + 2;
    if (kind == '%') {
      if (StripChars(content, nullptr, true, true) == "raw") {
        // No trim_blocks after {% raw %}; '-%}' strips as usual.
        while (strip_after && pos < src.size() && IsSpace(src[pos])) ++pos;
        M1RL_ASSIGN_OR_RETURN(pos, LexRaw(src, pos, &out, &strip_after));
      } else {
        out.push_back({Segment::Kind::kStmt, content, inner});
      }
    } else if (kind == '{') {
      out.push_back({Segment::Kind::kExpr, content, inner});
    }
    if (strip_after) {
      while (pos < src.size() && IsSpace(src[pos])) ++pos;
    } else if (kind != '{' && pos < src.size() && src[pos] == '\n') {  // trim_blocks
      ++pos;
    }
  }
  return out;
}

struct Token {
  enum class Kind { kName, kInt, kFloat, kString, kOp, kEnd };
  Kind kind;
  std::string text;
  Json value;
  size_t pos;
};

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view src, const Segment& seg) {
  std::vector<Token> out;
  const std::string& s = seg.text;
  size_t i = 0;
  static const char* const kOps[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
                                     ">",  "(",  ")",  "[",  "]",  "{",  "}", ",", ".", ":", "|", "="};
  while (i < s.size()) {
    const char c = s[i];
    const size_t at = seg.pos + i;
    if (IsSpace(c)) {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Token::Kind::kName, s.substr(i, j - i), nullptr, at});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      bool is_float = false;
      if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
        is_float = true;
        ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) {
          is_float = true;
          j = k;
          while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
        }
      }
      const std::string num = s.substr(i, j - i);
      if (is_float) {
        out.push_back({Token::Kind::kFloat, num, Json(std::strtod(num.c_str(), nullptr)), at});
      } else {
        out.push_back({Token::Kind::kInt, num, Json(std::strtoll(num.c_str(), nullptr, 10)), at});
      }
      i = j;
    } else if (c == '\'' || c == '"') {
      std::string value;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (s[j] != '\\' || j + 1 >= s.size()) {
          value += s[j];
          continue;
        }
        const char e = s[++j];
        switch (e) {
          case 'n':
            value += '\n';
            break;
          case 't':
            value += '\t';
            break;
          case 'r':
            value += '\r';
            break;
          case '\\':
          case '\'':
          case '"':
            value += e;
            break;
          case 'u':
          case 'x': {
            const size_t n = e == 'u' ? 4 : 2;
            if (j + n >= s.size()) return ErrorAt(src, at, "unsupported string escape");
            AppendUtf8(static_cast<uint32_t>(std::strtoul(s.substr(j + 1, n).c_str(), nullptr, 16)), &value);
            j += n;
            break;
          }
          default:
            value += '\\';
            value += e;
        }
      }
      if (j >= s.size()) return ErrorAt(src, at, "unterminated string literal");
      out.push_back({Token::Kind::kString, "", Json(value), at});
      i = j + 1;
    } else {
      bool found = false;
      for (const char* op : kOps) {
        const size_t n = std::char_traits<char>::length(op);
        if (s.compare(i, n, op) == 0) {
          out.push_back({Token::Kind::kOp, op, nullptr, at});
          i += n;
          found = true;
          break;
        }
      }
      if (!found) return ErrorAt(src, at, absl::StrCat("unsupported character '", std::string(1, c), "'"));
    }
  }
  out.push_back({Token::Kind::kEnd, "", nullptr, seg.pos + s.size()});
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing: expressions (Jinja's precedence) and statements.

class ExprParser {
 public:
  ExprParser(std::string_view src, std::vector<Token> tokens) : src_(src), toks_(std::move(tokens)) {}

  const Token& Peek(size_t ahead = 0) const { return toks_[std::min(i_ + ahead, toks_.size() - 1)]; }
  bool AtEnd() const { return Peek().kind == Token::Kind::kEnd; }
  bool IsOp(std::string_view op, size_t ahead = 0) const {
    return Peek(ahead).kind == Token::Kind::kOp && Peek(ahead).text == op;
  }
  bool IsName(std::string_view name, size_t ahead = 0) const {
    return Peek(ahead).kind == Token::Kind::kName && Peek(ahead).text == name;
  }
  const Token& Next() { return toks_[std::min(i_++, toks_.size() - 1)]; }

  absl::Status Unexpected(const std::string& what) const {
    const Token& t = Peek();
    const std::string got = t.kind == Token::Kind::kEnd      ? "end of tag"
                            : t.kind == Token::Kind::kString ? "string literal"
                                                             : "'" + t.text + "'";
    return ErrorAt(src_, t.pos, absl::StrCat("unsupported syntax: expected ", what, ", got ", got));
  }
  absl::Status Expect(const std::string& op) {
    if (!IsOp(op)) return Unexpected(absl::StrCat("'", op, "'"));
    Next();
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ExpectName() {
    if (Peek().kind != Token::Kind::kName) return Unexpected("a name");
    return Next().text;
  }
  absl::Status ExpectEnd() { return AtEnd() ? absl::OkStatus() : Unexpected("end of tag"); }

  // A full expression; with `cond`, 'a if b else c'. A bare tuple 'a, b' becomes a list.
  absl::StatusOr<ExprP> ParseTuple(bool cond = true) {
    const size_t pos = Peek().pos;
    M1RL_ASSIGN_OR_RETURN(ExprP first, cond ? ParseExpr() : ParseOr());
    if (!IsOp(",")) return first;
    ExprP list = Make(Expr::Kind::kList, pos);
    list->args.push_back(std::move(first));
    while (IsOp(",")) {
      Next();
      if (AtEnd() || IsOp("=") || IsOp(")")) break;
      M1RL_ASSIGN_OR_RETURN(ExprP e, cond ? ParseExpr() : ParseOr());
      list->args.push_back(std::move(e));
    }
    return list;
  }

  absl::StatusOr<ExprP> ParseExpr() {
    M1RL_ASSIGN_OR_RETURN(ExprP e, ParseOr());
    if (!IsName("if")) return e;
    ExprP cond = Make(Expr::Kind::kCond, Next().pos);
    M1RL_ASSIGN_OR_RETURN(ExprP test, ParseOr());
    cond->args.push_back(std::move(e));
    cond->args.push_back(std::move(test));
    if (IsName("else")) {
      Next();
      M1RL_ASSIGN_OR_RETURN(ExprP other, ParseExpr());
      cond->args.push_back(std::move(other));
    }
    return cond;
  }

 private:
  static ExprP Make(Expr::Kind kind, size_t pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }
  static ExprP Binary(Expr::Kind kind, std::string op, size_t pos, ExprP a, ExprP b) {
    ExprP e = Make(kind, pos);
    e->name = std::move(op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  absl::StatusOr<ExprP> ParseOr() {
    M1RL_ASSIGN_OR_RETURN(ExprP e, ParseAnd());
    while (IsName("or")) {
      const size_t pos = Next().pos;
      M1RL_ASSIGN_OR_RETURN(ExprP r, ParseAnd());
      e = Binary(Expr::Kind::kOr, "or", pos, std::move(e), std::move(r));
    }
    return e;
  }
  absl::StatusOr<ExprP> ParseAnd() {
    M1RL_ASSIGN_OR_RETURN(ExprP e, ParseNot());
    while (IsName("and")) {
      const size_t pos = Next().pos;
      M1RL_ASSIGN_OR_RETURN(ExprP r, ParseNot());
      e = Binary(Expr::Kind::kAnd, "and", pos, std::move(e), std::move(r));
    }
    return e;
  }
  absl::StatusOr<ExprP> ParseNot() {
    if (!IsName("not")) return ParseCompare();
    M1RL_RETURN_IF_ERROR(Enter());
    Leave leave(&depth_);
    ExprP e = Make(Expr::Kind::kNot, Next().pos);
    M1RL_ASSIGN_OR_RETURN(ExprP operand, ParseNot());
    e->args.push_back(std::move(operand));
    return e;
  }
  absl::StatusOr<ExprP> ParseCompare() {
    M1RL_ASSIGN_OR_RETURN(ExprP e, ParseMath1());
    ExprP chain;
    Expr* last = e.get();
    ExprP left = std::move(e);
    ExprP result;
    while (true) {
      std::string op;
      const size_t pos = Peek().pos;
      if (Peek().kind == Token::Kind::kOp &&
          (IsOp("==") || IsOp("!=") || IsOp("<") || IsOp(">") || IsOp("<=") || IsOp(">="))) {
        op = Next().text;
      } else if (IsName("in")) {
        Next();
        op = "in";
      } else if (IsName("not") && IsName("in", 1)) {
        Next();
        Next();
        op = "not in";
      } else {
        break;
      }
      M1RL_ASSIGN_OR_RETURN(ExprP right, ParseMath1());
      // a < b < c is (a < b) and (b < c); b is evaluated twice (templates do not chain side effects).
      ExprP lhs = left ? std::move(left) : Clone(*last);
      last = right.get();
      ExprP cmp = Binary(Expr::Kind::kCompare, op, pos, std::move(lhs), std::move(right));
      result =
          result ? Binary(Expr::Kind::kAnd, "and", pos, std::move(result), std::move(cmp)) : std::move(cmp);
    }
    return result ? std::move(result) : std::move(left);
  }
  static ExprP Clone(const Expr& e) {
    ExprP c = Make(e.kind, e.pos);
    c->name = e.name;
    c->literal = e.literal;
    c->negated = e.negated;
    for (const ExprP& a : e.args) c->args.push_back(a ? Clone(*a) : nullptr);
    for (const auto& [k, v] : e.kwargs) c->kwargs.emplace_back(k, Clone(*v));
    return c;
  }
  absl::StatusOr<ExprP> ParseMath1() {
    M1RL_ASSIGN_OR_RETURN(ExprP e, ParseConcat());
    while (IsOp("+") || IsOp("-")) {
      const Token& t = Next();
      M1RL_ASSIGN_OR_RETURN(ExprP r, ParseConcat());
      e = Binary(Expr::Kind::kBinary, t.text, t.pos, std::move(e), std::move(r));
    }
    return e;
  }
  absl::StatusOr<ExprP> ParseConcat() {
    M1RL_ASSIGN_OR_RETURN(ExprP e, ParseMath2());
    while (IsOp("~")) {
      const Token& t = Next();
      M1RL_ASSIGN_OR_RETURN(ExprP r, ParseMath2());
      e = Binary(Expr::Kind::kBinary, "~", t.pos, std::move(e), std::move(r));
    }
    return e;
  }
  absl::StatusOr<ExprP> ParseMath2() {
    M1RL_ASSIGN_OR_RETURN(ExprP e, ParsePow());
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      const Token& t = Next();
      M1RL_ASSIGN_OR_RETURN(ExprP r, ParsePow());
      e = Binary(Expr::Kind::kBinary, t.text, t.pos, std::move(e), std::move(r));
    }
    return e;
  }
  absl::StatusOr<ExprP> ParsePow() {
    M1RL_ASSIGN_OR_RETURN(ExprP e, ParseUnary(true));
    while (IsOp("**")) {
      const Token& t = Next();
      M1RL_ASSIGN_OR_RETURN(ExprP r, ParseUnary(true));
      e = Binary(Expr::Kind::kBinary, "**", t.pos, std::move(e), std::move(r));
    }
    return e;
  }
  absl::StatusOr<ExprP> ParseUnary(bool with_filter) {
    M1RL_RETURN_IF_ERROR(Enter());
    Leave leave(&depth_);
    ExprP e;
    if (IsOp("-") || IsOp("+")) {
      const Token& t = Next();
      e = Make(t.text == "-" ? Expr::Kind::kNeg : Expr::Kind::kPos, t.pos);
      M1RL_ASSIGN_OR_RETURN(ExprP operand, ParseUnary(false));
      e->args.push_back(std::move(operand));
    } else {
      M1RL_ASSIGN_OR_RETURN(e, ParsePrimary());
    }
    M1RL_ASSIGN_OR_RETURN(e, ParsePostfix(std::move(e)));
    if (with_filter) return ParseFilters(std::move(e));
    return e;
  }

  absl::StatusOr<ExprP> ParsePrimary() {
    const Token& t = Peek();
    switch (t.kind) {
      case Token::Kind::kName: {
        Next();
        ExprP e = Make(Expr::Kind::kLiteral, t.pos);
        if (t.text == "true" || t.text == "True") {
          e->literal = true;
        } else if (t.text == "false" || t.text == "False") {
          e->literal = false;
        } else if (t.text == "none" || t.text == "None") {
          e->literal = nullptr;
        } else {
          e->kind = Expr::Kind::kName;
          e->name = t.text;
        }
        return e;
      }
      case Token::Kind::kString: {
        ExprP e = Make(Expr::Kind::kLiteral, t.pos);
        std::string s;
        while (Peek().kind == Token::Kind::kString) s += Next().value.get<std::string>();
        e->literal = s;
        return e;
      }
      case Token::Kind::kInt:
      case Token::Kind::kFloat: {
        Next();
        ExprP e = Make(Expr::Kind::kLiteral, t.pos);
        e->literal = t.value;
        return e;
      }
      default:
        break;
    }
    if (IsOp("(")) {
      Next();
      if (IsOp(")")) {
        Next();
        return Make(Expr::Kind::kList, t.pos);
      }
      M1RL_ASSIGN_OR_RETURN(ExprP e, ParseTuple());
      M1RL_RETURN_IF_ERROR(Expect(")"));
      return e;
    }
    if (IsOp("[")) {
      Next();
      ExprP e = Make(Expr::Kind::kList, t.pos);
      while (!IsOp("]")) {
        M1RL_ASSIGN_OR_RETURN(ExprP item, ParseExpr());
        e->args.push_back(std::move(item));
        if (!IsOp(",")) break;
        Next();
      }
      M1RL_RETURN_IF_ERROR(Expect("]"));
      return e;
    }
    if (IsOp("{")) {
      Next();
      ExprP e = Make(Expr::Kind::kDict, t.pos);
      while (!IsOp("}")) {
        M1RL_ASSIGN_OR_RETURN(ExprP key, ParseExpr());
        M1RL_RETURN_IF_ERROR(Expect(":"));
        M1RL_ASSIGN_OR_RETURN(ExprP value, ParseExpr());
        e->args.push_back(std::move(key));
        e->args.push_back(std::move(value));
        if (!IsOp(",")) break;
        Next();
      }
      M1RL_RETURN_IF_ERROR(Expect("}"));
      return e;
    }
    return Unexpected("an expression");
  }

  // '(' already consumed: positional and keyword arguments up to ')'.
  absl::Status ParseArgs(Expr* call) {
    while (!IsOp(")")) {
      if (Peek().kind == Token::Kind::kName && IsOp("=", 1)) {
        std::string key = Next().text;
        Next();
        M1RL_ASSIGN_OR_RETURN(ExprP v, ParseExpr());
        call->kwargs.emplace_back(std::move(key), std::move(v));
      } else {
        if (IsOp("*") || IsOp("**")) return Unexpected("an argument (*args/**kwargs are not supported)");
        M1RL_ASSIGN_OR_RETURN(ExprP v, ParseExpr());
        call->args.push_back(std::move(v));
      }
      if (!IsOp(",")) break;
      Next();
    }
    return Expect(")");
  }

  absl::StatusOr<ExprP> ParseSubscript(ExprP target, size_t pos) {
    std::vector<ExprP> parts(3);
    int part = 0;
    bool slice = false;
    while (!IsOp("]")) {
      if (IsOp(":")) {
        Next();
        slice = true;
        if (++part > 2) return Unexpected("']'");
        continue;
      }
      if (parts[part]) return Unexpected("':' or ']'");
      M1RL_ASSIGN_OR_RETURN(parts[part], ParseExpr());
    }
    Next();
    if (!slice && !parts[0]) return ErrorAt(src_, pos, "unsupported syntax: empty subscript");
    ExprP e = Make(slice ? Expr::Kind::kSlice : Expr::Kind::kIndex, pos);
    e->args.push_back(std::move(target));
    if (slice) {
      for (ExprP& p : parts) e->args.push_back(std::move(p));
    } else {
      e->args.push_back(std::move(parts[0]));
    }
    return e;
  }

  absl::StatusOr<ExprP> ParsePostfix(ExprP e) {
    while (true) {
      if (IsOp(".")) {
        const size_t pos = Next().pos;
        ExprP a = Make(Expr::Kind::kAttr, pos);
        if (Peek().kind == Token::Kind::kInt) {
          a->kind = Expr::Kind::kIndex;
          ExprP idx = Make(Expr::Kind::kLiteral, pos);
          idx->literal = Next().value;
          a->args.push_back(std::move(e));
          a->args.push_back(std::move(idx));
        } else {
          M1RL_ASSIGN_OR_RETURN(a->name, ExpectName());
          a->args.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (IsOp("[")) {
        const size_t pos = Next().pos;
        M1RL_ASSIGN_OR_RETURN(e, ParseSubscript(std::move(e), pos));
      } else if (IsOp("(")) {
        ExprP call = Make(Expr::Kind::kCall, Next().pos);
        call->args.push_back(std::move(e));
        M1RL_RETURN_IF_ERROR(ParseArgs(call.get()));
        e = std::move(call);
      } else {
        return e;
      }
    }
  }

  absl::StatusOr<ExprP> ParseFilters(ExprP e) {
    while (true) {
      if (IsOp("|")) {
        Next();
        ExprP f = Make(Expr::Kind::kFilter, Peek().pos);
        M1RL_ASSIGN_OR_RETURN(f->name, ExpectName());
        f->args.push_back(std::move(e));
        if (IsOp("(")) {
          Next();
          M1RL_RETURN_IF_ERROR(ParseArgs(f.get()));
        }
        e = std::move(f);
      } else if (IsName("is")) {
        ExprP t = Make(Expr::Kind::kTest, Next().pos);
        if (IsName("not")) {
          Next();
          t->negated = true;
        }
        M1RL_ASSIGN_OR_RETURN(t->name, ExpectName());
        t->args.push_back(std::move(e));
        if (IsOp("(")) {
          Next();
          M1RL_RETURN_IF_ERROR(ParseArgs(t.get()));
        } else if ((Peek().kind != Token::Kind::kEnd && Peek().kind != Token::Kind::kOp) || IsOp("[") ||
                   IsOp("{")) {
          if (IsName("else") || IsName("or") || IsName("and")) {
            e = std::move(t);
            continue;
          }
          if (IsName("is")) return Unexpected("a test argument (tests cannot be chained)");
          M1RL_ASSIGN_OR_RETURN(ExprP arg, ParsePrimary());
          M1RL_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
          t->args.push_back(std::move(arg));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  struct Leave {
    explicit Leave(int* depth) : depth(depth) {}
    ~Leave() { --*depth; }
    Leave(const Leave&) = delete;
    Leave& operator=(const Leave&) = delete;
    int* depth;
  };
  absl::Status Enter() {
    if (++depth_ > kMaxNesting) {
      --depth_;
      return ErrorAt(src_, Peek().pos,
                     absl::StrCat("unsupported expression nesting deeper than ", kMaxNesting));
    }
    return absl::OkStatus();
  }

  std::string_view src_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  int depth_ = 0;
};

class TemplateParser {
 public:
  TemplateParser(std::string_view src, std::vector<Segment> segs) : src_(src), segs_(std::move(segs)) {}

  absl::StatusOr<Body> ParseAll() {
    Body body;
    std::string end;
    M1RL_RETURN_IF_ERROR(ParseBody({}, &body, &end));
    return body;
  }

 private:
  // Parses nodes until a statement whose keyword is in `ends` (returned in *end, its parser left in
  // *end_parser), or the end of the template when `ends` is empty.
  absl::Status ParseBody(const std::vector<std::string>& ends, Body* body, std::string* end,
                         std::unique_ptr<ExprParser>* end_parser = nullptr) {
    while (i_ < segs_.size()) {
      const Segment& seg = segs_[i_++];
      if (seg.kind == Segment::Kind::kText) {
        Node n{Node::Kind::kText};
        n.pos = seg.pos;
        n.text = seg.text;
        body->push_back(std::move(n));
        continue;
      }
      M1RL_ASSIGN_OR_RETURN(std::vector<Token> toks, Tokenize(src_, seg));
      auto p = std::make_unique<ExprParser>(src_, std::move(toks));
      if (seg.kind == Segment::Kind::kExpr) {
        Node n{Node::Kind::kOutput};
        n.pos = seg.pos;
        M1RL_ASSIGN_OR_RETURN(n.expr, p->ParseTuple());
        M1RL_RETURN_IF_ERROR(p->ExpectEnd());
        body->push_back(std::move(n));
        continue;
      }
      if (p->Peek().kind != Token::Kind::kName) return p->Unexpected("a statement keyword");
      const Token kw = p->Next();
      if (std::find(ends.begin(), ends.end(), kw.text) != ends.end()) {
        *end = kw.text;
        if (end_parser) *end_parser = std::move(p);
        return absl::OkStatus();
      }
      M1RL_ASSIGN_OR_RETURN(Node n, ParseStatement(kw, p.get()));
      body->push_back(std::move(n));
    }
    if (!ends.empty()) {
      return ErrorAt(src_, src_.size(),
                     absl::StrCat("unexpected end of template: missing {% ", ends.back(), " %}"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Node> ParseStatement(const Token& kw, ExprParser* p) {
    if (++depth_ > kMaxNesting) {
      return ErrorAt(src_, kw.pos, absl::StrCat("unsupported block nesting deeper than ", kMaxNesting));
    }
    absl::StatusOr<Node> n = ParseKeyword(kw, p);
    --depth_;
    return n;
  }

  absl::StatusOr<Node> ParseKeyword(const Token& kw, ExprParser* p) {
    const std::string& k = kw.text;
    if (k == "if") return ParseIf(kw, p);
    if (k == "for") return ParseFor(kw, p);
    if (k == "set") return ParseSet(kw, p);
    if (k == "macro") return ParseMacro(kw, p);
    if (k == "break" || k == "continue") {
      M1RL_RETURN_IF_ERROR(p->ExpectEnd());
      Node n{k == "break" ? Node::Kind::kBreak : Node::Kind::kContinue};
      n.pos = kw.pos;
      return n;
    }
    if (k == "generation") {  // transformers' AssistantTracker: renders its body
      M1RL_RETURN_IF_ERROR(p->ExpectEnd());
      Node n{Node::Kind::kBlock};
      n.pos = kw.pos;
      std::string end;
      M1RL_RETURN_IF_ERROR(ParseBody({"endgeneration"}, &n.body, &end));
      return n;
    }
    return ErrorAt(src_, kw.pos, absl::StrCat("unsupported statement '", k, "'"));
  }

  absl::StatusOr<Node> ParseIf(const Token& kw, ExprParser* p) {
    Node n{Node::Kind::kIf};
    n.pos = kw.pos;
    M1RL_ASSIGN_OR_RETURN(ExprP cond, p->ParseTuple());
    M1RL_RETURN_IF_ERROR(p->ExpectEnd());
    while (true) {
      Body body;
      std::string end;
      std::unique_ptr<ExprParser> ep;
      M1RL_RETURN_IF_ERROR(ParseBody({"elif", "else", "endif"}, &body, &end, &ep));
      n.branches.emplace_back(std::move(cond), std::move(body));
      if (end == "elif") {
        M1RL_ASSIGN_OR_RETURN(cond, ep->ParseTuple());
        M1RL_RETURN_IF_ERROR(ep->ExpectEnd());
        continue;
      }
      M1RL_RETURN_IF_ERROR(ep->ExpectEnd());
      if (end == "else") {
        M1RL_RETURN_IF_ERROR(ParseBody({"endif"}, &n.else_body, &end, &ep));
        M1RL_RETURN_IF_ERROR(ep->ExpectEnd());
      }
      return n;
    }
  }

  absl::StatusOr<Node> ParseFor(const Token& kw, ExprParser* p) {
    Node n{Node::Kind::kFor};
    n.pos = kw.pos;
    do {
      if (p->IsOp(",")) p->Next();
      M1RL_ASSIGN_OR_RETURN(std::string t, p->ExpectName());
      n.targets.push_back(t);
    } while (p->IsOp(","));
    if (!p->IsName("in")) return p->Unexpected("'in'");
    p->Next();
    M1RL_ASSIGN_OR_RETURN(n.expr, p->ParseTuple(/*cond=*/false));
    if (p->IsName("if")) {
      p->Next();
      M1RL_ASSIGN_OR_RETURN(n.filter, p->ParseExpr());
    }
    if (p->IsName("recursive")) return ErrorAt(src_, p->Peek().pos, "unsupported recursive for loop");
    M1RL_RETURN_IF_ERROR(p->ExpectEnd());
    std::string end;
    std::unique_ptr<ExprParser> ep;
    M1RL_RETURN_IF_ERROR(ParseBody({"else", "endfor"}, &n.body, &end, &ep));
    M1RL_RETURN_IF_ERROR(ep->ExpectEnd());
    if (end == "else") {
      M1RL_RETURN_IF_ERROR(ParseBody({"endfor"}, &n.else_body, &end, &ep));
      M1RL_RETURN_IF_ERROR(ep->ExpectEnd());
    }
    return n;
  }

  absl::StatusOr<Node> ParseSet(const Token& kw, ExprParser* p) {
    Node n{Node::Kind::kSet};
    n.pos = kw.pos;
    M1RL_ASSIGN_OR_RETURN(n.text, p->ExpectName());
    if (p->IsOp(".")) {
      p->Next();
      M1RL_ASSIGN_OR_RETURN(n.attr, p->ExpectName());
    } else if (p->IsOp(",")) {
      n.targets.push_back(n.text);
      while (p->IsOp(",")) {
        p->Next();
        M1RL_ASSIGN_OR_RETURN(std::string t, p->ExpectName());
        n.targets.push_back(t);
      }
    }
    if (p->AtEnd() && n.attr.empty() && n.targets.empty()) {
      n.kind = Node::Kind::kSetBlock;
      std::string end;
      std::unique_ptr<ExprParser> ep;
      M1RL_RETURN_IF_ERROR(ParseBody({"endset"}, &n.body, &end, &ep));
      M1RL_RETURN_IF_ERROR(ep->ExpectEnd());
      return n;
    }
    if (p->IsOp("|")) return ErrorAt(src_, p->Peek().pos, "unsupported filtered {% set %} block");
    M1RL_RETURN_IF_ERROR(p->Expect("="));
    M1RL_ASSIGN_OR_RETURN(n.expr, p->ParseTuple());
    M1RL_RETURN_IF_ERROR(p->ExpectEnd());
    return n;
  }

  absl::StatusOr<Node> ParseMacro(const Token& kw, ExprParser* p) {
    Node n{Node::Kind::kMacro};
    n.pos = kw.pos;
    M1RL_ASSIGN_OR_RETURN(n.text, p->ExpectName());
    M1RL_RETURN_IF_ERROR(p->Expect("("));
    while (!p->IsOp(")")) {
      M1RL_ASSIGN_OR_RETURN(std::string name, p->ExpectName());
      n.targets.push_back(name);
      ExprP dflt;
      if (p->IsOp("=")) {
        p->Next();
        M1RL_ASSIGN_OR_RETURN(dflt, p->ParseExpr());
      }
      n.defaults.push_back(std::move(dflt));
      if (!p->IsOp(",")) break;
      p->Next();
    }
    M1RL_RETURN_IF_ERROR(p->Expect(")"));
    M1RL_RETURN_IF_ERROR(p->ExpectEnd());
    std::string end;
    std::unique_ptr<ExprParser> ep;
    M1RL_RETURN_IF_ERROR(ParseBody({"endmacro"}, &n.body, &end, &ep));
    return n;
  }

  std::string_view src_;
  std::vector<Segment> segs_;
  size_t i_ = 0;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// Values and evaluation.

struct Value {  // NOLINT(bugprone-exception-escape): nlohmann::json's constructors may throw
  enum class Kind { kJson, kUndefined, kNamespace, kMacro, kBuiltin };
  Kind kind = Kind::kJson;
  std::shared_ptr<const Json> data;  // kJson: immutable, shared by copies (lookups do not copy the data)
  std::shared_ptr<Json> ns;          // kNamespace: its attributes (an object), shared by every copy
  const Node* macro = nullptr;
  std::string name;  // kUndefined: what was looked up; kBuiltin: the function

  static Value Of(Json j) {
    Value v;
    v.data = std::make_shared<const Json>(std::move(j));
    return v;
  }
  static Value Undefined(std::string what) {
    Value v;
    v.kind = Kind::kUndefined;
    v.name = std::move(what);
    return v;
  }
  const Json& Data() const {
    static const Json* const kNull = new Json(nullptr);
    return data ? *data : *kNull;
  }
  bool IsJson() const { return kind == Kind::kJson; }
  bool IsUndefined() const { return kind == Kind::kUndefined; }
  bool IsString() const { return IsJson() && Data().is_string(); }
  bool IsNumber() const { return IsJson() && Data().is_number(); }
  bool IsInt() const { return IsJson() && Data().is_number_integer(); }
};

bool Truthy(const Value& v) {
  if (v.kind != Value::Kind::kJson) return v.kind != Value::Kind::kUndefined;
  const Json& j = v.Data();
  if (j.is_null()) return false;
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<int64_t>() != 0;
  if (j.is_number()) return j.get<double>() != 0;
  if (j.is_string()) return !j.get_ref<const std::string&>().empty();
  if (j.is_array() || j.is_object()) return !j.empty();
  return true;
}

std::string Str(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
      return "";
    case Value::Kind::kNamespace:
      return "<Namespace " + PyRepr(*v.ns) + ">";
    case Value::Kind::kMacro:
      return "<Macro '" + v.macro->text + "'>";
    case Value::Kind::kBuiltin:
      return "<built-in function " + v.name + ">";
    case Value::Kind::kJson:
      break;
  }
  return v.Data().is_string() ? v.Data().get<std::string>() : PyRepr(v.Data());
}

// Python's bool is an int: True + 1 == 2, True == 1.
Value Numeric(const Value& v) {
  if (v.IsJson() && v.Data().is_boolean()) return Value::Of(static_cast<int64_t>(v.Data().get<bool>()));
  return v;
}

bool ValueEq(const Value& a, const Value& b) {
  if (a.IsUndefined() || b.IsUndefined()) return a.IsUndefined() && b.IsUndefined();
  if (a.kind == Value::Kind::kNamespace || b.kind == Value::Kind::kNamespace) return a.ns == b.ns;
  if (!a.IsJson() || !b.IsJson()) return false;
  if (a.Data().is_boolean() != b.Data().is_boolean()) {
    const Value x = Numeric(a);
    const Value y = Numeric(b);
    return x.IsNumber() && y.IsNumber() && x.Data() == y.Data();
  }
  return a.Data() == b.Data();
}

struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;

  // The argument at position `i` or keyword `name`, or nullptr.
  const Value* Get(size_t i, std::string_view name) const {
    if (i < pos.size()) return &pos[i];
    for (const auto& [k, v] : kw) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

class Renderer {
 public:
  Renderer(std::string_view src, const Json& context) : src_(src) {
    frames_.emplace_back();
    for (const char* fn : {"raise_exception", "namespace", "range", "strftime_now", "dict"}) {
      Value b;
      b.kind = Value::Kind::kBuiltin;
      b.name = fn;
      frames_.back()[fn] = b;
    }
    for (const auto& [k, v] : context.items()) frames_.back()[k] = Value::Of(v);
  }

  absl::Status Exec(const Body& body, std::string* out) {
    for (const Node& n : body) {
      M1RL_RETURN_IF_ERROR(ExecNode(n, out));
      if (flow_ != Flow::kNormal) return absl::OkStatus();
    }
    return absl::OkStatus();
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  absl::Status Error(size_t pos, const std::string& msg) const { return ErrorAt(src_, pos, msg); }

  Value Lookup(const std::string& name) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return f->second;
    }
    return Value::Undefined(name);
  }
  void Assign(const std::string& name, Value v) { frames_.back()[name] = std::move(v); }

  absl::Status ExecNode(const Node& n, std::string* out) {
    switch (n.kind) {
      case Node::Kind::kText:
        *out += n.text;
        return absl::OkStatus();
      case Node::Kind::kOutput: {
        M1RL_ASSIGN_OR_RETURN(Value v, Eval(*n.expr));
        *out += Str(v);
        return absl::OkStatus();
      }
      case Node::Kind::kIf:
        for (const auto& [cond, body] : n.branches) {
          M1RL_ASSIGN_OR_RETURN(Value c, Eval(*cond));
          if (Truthy(c)) return Exec(body, out);
        }
        return Exec(n.else_body, out);
      case Node::Kind::kFor:
        return ExecFor(n, out);
      case Node::Kind::kSet:
        return ExecSet(n);
      case Node::Kind::kSetBlock: {
        std::string captured;
        M1RL_RETURN_IF_ERROR(Exec(n.body, &captured));
        Assign(n.text, Value::Of(captured));
        return absl::OkStatus();
      }
      case Node::Kind::kMacro: {
        Value m;
        m.kind = Value::Kind::kMacro;
        m.macro = &n;
        Assign(n.text, m);
        return absl::OkStatus();
      }
      case Node::Kind::kBreak:
      case Node::Kind::kContinue:
        if (loop_depth_ == 0) return Error(n.pos, "unsupported break/continue outside a loop");
        flow_ = n.kind == Node::Kind::kBreak ? Flow::kBreak : Flow::kContinue;
        return absl::OkStatus();
      case Node::Kind::kBlock:
        return Exec(n.body, out);
    }
    return absl::OkStatus();
  }

  absl::Status ExecSet(const Node& n) {
    M1RL_ASSIGN_OR_RETURN(Value v, Eval(*n.expr));
    if (!n.attr.empty()) {
      Value target = Lookup(n.text);
      if (target.kind != Value::Kind::kNamespace) {
        return Error(n.pos, absl::StrCat("cannot assign attribute on non-namespace object '", n.text, "'"));
      }
      M1RL_ASSIGN_OR_RETURN((*target.ns)[n.attr], ToJson(v, n.pos));
      return absl::OkStatus();
    }
    if (n.targets.empty()) {
      Assign(n.text, std::move(v));
      return absl::OkStatus();
    }
    M1RL_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(v, n.pos));
    if (items.size() != n.targets.size()) return Error(n.pos, "wrong number of values to unpack");
    for (size_t i = 0; i < items.size(); ++i) Assign(n.targets[i], items[i]);
    return absl::OkStatus();
  }

  absl::Status BindTargets(const Node& n, const Value& item) {
    if (n.targets.size() == 1) {
      Assign(n.targets[0], item);
      return absl::OkStatus();
    }
    M1RL_ASSIGN_OR_RETURN(std::vector<Value> parts, Iterate(item, n.pos));
    if (parts.size() != n.targets.size()) return Error(n.pos, "wrong number of values to unpack in for loop");
    for (size_t i = 0; i < parts.size(); ++i) Assign(n.targets[i], parts[i]);
    return absl::OkStatus();
  }

  absl::Status ExecFor(const Node& n, std::string* out) {
    M1RL_ASSIGN_OR_RETURN(Value seq, Eval(*n.expr));
    M1RL_ASSIGN_OR_RETURN(std::vector<Value> all, Iterate(seq, n.expr->pos));
    frames_.emplace_back();
    std::vector<Value> items;
    if (n.filter) {
      for (const Value& item : all) {
        M1RL_RETURN_IF_ERROR(BindTargets(n, item));
        M1RL_ASSIGN_OR_RETURN(Value keep, Eval(*n.filter));
        if (Truthy(keep)) items.push_back(item);
      }
    } else {
      items = std::move(all);
    }
    ++loop_depth_;
    absl::Status status = absl::OkStatus();
    const auto len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len && status.ok(); ++i) {
      Json loop = {
          {"index0", i},     {"index", i + 1},       {"revindex", len - i}, {"revindex0", len - i - 1},
          {"first", i == 0}, {"last", i == len - 1}, {"length", len},       {"depth", 1},
          {"depth0", 0}};
      if (i > 0 && items[i - 1].IsJson()) loop["previtem"] = items[i - 1].Data();
      if (i + 1 < len && items[i + 1].IsJson()) loop["nextitem"] = items[i + 1].Data();
      frames_.back().clear();  // an iteration does not see the previous one's assignments
      Assign("loop", Value::Of(std::move(loop)));
      status = BindTargets(n, items[i]);
      if (status.ok()) status = Exec(n.body, out);
      if (flow_ == Flow::kBreak) {
        flow_ = Flow::kNormal;
        break;
      }
      flow_ = Flow::kNormal;
    }
    --loop_depth_;
    frames_.pop_back();
    M1RL_RETURN_IF_ERROR(status);
    if (items.empty()) return Exec(n.else_body, out);
    return absl::OkStatus();
  }

  absl::StatusOr<Json> ToJson(const Value& v, size_t pos) const {
    switch (v.kind) {
      case Value::Kind::kJson:
        return v.Data();
      case Value::Kind::kNamespace:
        return *v.ns;
      case Value::Kind::kUndefined:
        return Error(pos, absl::StrCat("'", v.name, "' is undefined"));
      default:
        return Error(pos, absl::StrCat("unsupported use of ", Str(v), " as a value"));
    }
  }

  absl::StatusOr<std::vector<Value>> Iterate(const Value& v, size_t pos) const {
    std::vector<Value> out;
    if (v.IsUndefined()) return out;
    if (!v.IsJson()) return Error(pos, absl::StrCat("'", Str(v), "' is not iterable"));
    const Json& j = v.Data();
    if (j.is_array()) {
      for (const Json& e : j) out.push_back(Value::Of(e));
    } else if (j.is_object()) {
      for (const auto& [k, e] : j.items()) out.push_back(Value::Of(k));
    } else if (j.is_string()) {
      for (uint32_t cp : DecodeUtf8(j.get<std::string>())) out.push_back(Value::Of(EncodeUtf8({cp})));
    } else {
      return Error(pos, absl::StrCat("'", PyRepr(j), "' is not iterable"));
    }
    return out;
  }

  absl::StatusOr<Value> Eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return Value::Of(e.literal);
      case Expr::Kind::kName:
        return Lookup(e.name);
      case Expr::Kind::kList: {
        Json list = Json::array();
        for (const ExprP& a : e.args) {
          M1RL_ASSIGN_OR_RETURN(Value v, Eval(*a));
          M1RL_ASSIGN_OR_RETURN(Json j, ToJson(v, a->pos));
          list.push_back(std::move(j));
        }
        return Value::Of(std::move(list));
      }
      case Expr::Kind::kDict: {
        Json dict = Json::object();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          M1RL_ASSIGN_OR_RETURN(Value k, Eval(*e.args[i]));
          M1RL_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i + 1]));
          if (!k.IsString()) return Error(e.args[i]->pos, "unsupported non-string dict key");
          M1RL_ASSIGN_OR_RETURN(dict[k.Data().get<std::string>()], ToJson(v, e.args[i + 1]->pos));
        }
        return Value::Of(std::move(dict));
      }
      case Expr::Kind::kAttr: {
        M1RL_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
        return GetItem(obj, Value::Of(e.name), e.pos);
      }
      case Expr::Kind::kIndex: {
        M1RL_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
        M1RL_ASSIGN_OR_RETURN(Value key, Eval(*e.args[1]));
        return GetItem(obj, key, e.pos);
      }
      case Expr::Kind::kSlice:
        return EvalSlice(e);
      case Expr::Kind::kCall:
        return EvalCall(e);
      case Expr::Kind::kFilter: {
        M1RL_ASSIGN_OR_RETURN(Value input, Eval(*e.args[0]));
        M1RL_ASSIGN_OR_RETURN(Args args, EvalArgs(e));
        return ApplyFilter(e.name, input, args, e.pos);
      }
      case Expr::Kind::kTest: {
        M1RL_ASSIGN_OR_RETURN(Value input, Eval(*e.args[0]));
        M1RL_ASSIGN_OR_RETURN(Args args, EvalArgs(e));
        M1RL_ASSIGN_OR_RETURN(bool r, ApplyTest(e.name, input, args, e.pos));
        return Value::Of(r != e.negated);
      }
      case Expr::Kind::kNot: {
        M1RL_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
        return Value::Of(!Truthy(v));
      }
      case Expr::Kind::kAnd:
      case Expr::Kind::kOr: {
        M1RL_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0]));
        if (Truthy(a) == (e.kind == Expr::Kind::kOr)) return a;
        return Eval(*e.args[1]);
      }
      case Expr::Kind::kCond: {
        M1RL_ASSIGN_OR_RETURN(Value c, Eval(*e.args[1]));
        if (Truthy(c)) return Eval(*e.args[0]);
        if (e.args.size() > 2) return Eval(*e.args[2]);
        return Value::Undefined("conditional expression without else");
      }
      case Expr::Kind::kNeg:
      case Expr::Kind::kPos: {
        M1RL_ASSIGN_OR_RETURN(Value operand, Eval(*e.args[0]));
        const Value v = Numeric(operand);
        if (!v.IsNumber())
          return Error(e.pos,
                       "bad operand type for unary " + std::string(e.kind == Expr::Kind::kNeg ? "-" : "+"));
        if (e.kind == Expr::Kind::kPos) return v;
        if (v.IsInt()) return Value::Of(-v.Data().get<int64_t>());
        return Value::Of(-v.Data().get<double>());
      }
      case Expr::Kind::kBinary: {
        M1RL_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0]));
        M1RL_ASSIGN_OR_RETURN(Value b, Eval(*e.args[1]));
        return Arith(e.name, a, b, e.pos);
      }
      case Expr::Kind::kCompare: {
        M1RL_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0]));
        M1RL_ASSIGN_OR_RETURN(Value b, Eval(*e.args[1]));
        M1RL_ASSIGN_OR_RETURN(bool r, Compare(e.name, a, b, e.pos));
        return Value::Of(r);
      }
    }
    return Error(e.pos, "unsupported expression");
  }

  absl::StatusOr<Args> EvalArgs(const Expr& e) {
    Args args;
    for (size_t i = 1; i < e.args.size(); ++i) {
      M1RL_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i]));
      args.pos.push_back(std::move(v));
    }
    for (const auto& [k, ve] : e.kwargs) {
      M1RL_ASSIGN_OR_RETURN(Value v, Eval(*ve));
      args.kw.emplace_back(k, std::move(v));
    }
    return args;
  }

  // obj.key / obj[key]: a missing key or index is undefined; any access on undefined is an error.
  absl::StatusOr<Value> GetItem(const Value& obj, const Value& key, size_t pos) const {
    if (obj.IsUndefined()) return Error(pos, absl::StrCat("'", obj.name, "' is undefined"));
    const std::string what = key.IsString() ? key.Data().get<std::string>() : Str(key);
    if (obj.kind == Value::Kind::kNamespace) {
      if (key.IsString() && obj.ns->contains(what)) return Value::Of((*obj.ns)[what]);
      return Value::Undefined(what);
    }
    if (!obj.IsJson()) return Value::Undefined(what);
    const Json& j = obj.Data();
    if (j.is_object() && key.IsString()) {
      auto it = j.find(what);
      return it == j.end() ? Value::Undefined(what) : Value::Of(*it);
    }
    if ((j.is_array() || j.is_string()) && key.IsInt()) {
      int64_t i = key.Data().get<int64_t>();
      if (j.is_array()) {
        const auto n = static_cast<int64_t>(j.size());
        if (i < 0) i += n;
        return i < 0 || i >= n ? Value::Undefined(what) : Value::Of(j[static_cast<size_t>(i)]);
      }
      std::vector<uint32_t> cps = DecodeUtf8(j.get<std::string>());
      const auto n = static_cast<int64_t>(cps.size());
      if (i < 0) i += n;
      return i < 0 || i >= n ? Value::Undefined(what) : Value::Of(EncodeUtf8({cps[static_cast<size_t>(i)]}));
    }
    return Value::Undefined(what);
  }

  absl::StatusOr<Value> EvalSlice(const Expr& e) {
    M1RL_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
    std::optional<int64_t> bounds[3];
    for (int k = 0; k < 3; ++k) {
      if (!e.args[k + 1]) continue;
      M1RL_ASSIGN_OR_RETURN(Value v, Eval(*e.args[k + 1]));
      if (v.IsJson() && v.Data().is_null()) continue;
      if (!v.IsInt()) return Error(e.pos, "slice indices must be integers");
      bounds[k] = v.Data().get<int64_t>();
    }
    const int64_t step = bounds[2].value_or(1);
    if (step == 0) return Error(e.pos, "slice step cannot be zero");
    if (obj.IsUndefined()) return Error(e.pos, absl::StrCat("'", obj.name, "' is undefined"));
    if (obj.IsString()) {
      std::vector<uint32_t> cps = DecodeUtf8(obj.Data().get<std::string>());
      std::vector<uint32_t> picked;
      for (int64_t i : SliceIndices(static_cast<int64_t>(cps.size()), bounds[0], bounds[1], step)) {
        picked.push_back(cps[static_cast<size_t>(i)]);
      }
      return Value::Of(EncodeUtf8(picked));
    }
    if (obj.IsJson() && obj.Data().is_array()) {
      Json out = Json::array();
      for (int64_t i : SliceIndices(static_cast<int64_t>(obj.Data().size()), bounds[0], bounds[1], step)) {
        out.push_back(obj.Data()[static_cast<size_t>(i)]);
      }
      return Value::Of(std::move(out));
    }
    return Error(e.pos, absl::StrCat("unsupported slice of ", Str(obj)));
  }

  absl::StatusOr<Value> Arith(const std::string& op, const Value& a_in, const Value& b_in, size_t pos) const {
    if (op == "~") return Value::Of(Str(a_in) + Str(b_in));
    if (op == "%" && a_in.IsString()) return PercentFormat(a_in.Data().get<std::string>(), b_in, pos);
    const Value a = Numeric(a_in);
    const Value b = Numeric(b_in);
    if (a.IsUndefined() || b.IsUndefined()) {
      return Error(pos, absl::StrCat("'", a.IsUndefined() ? a.name : b.name, "' is undefined"));
    }
    if (a.IsNumber() && b.IsNumber()) return NumberArith(op, a.Data(), b.Data(), pos);
    if (op == "+" && a.IsString() && b.IsString()) {
      return Value::Of(a.Data().get<std::string>() + b.Data().get<std::string>());
    }
    if (op == "+" && a.IsJson() && b.IsJson() && a.Data().is_array() && b.Data().is_array()) {
      Json out = a.Data();
      for (const Json& x : b.Data()) out.push_back(x);
      return Value::Of(std::move(out));
    }
    if (op == "*" && ((a.IsString() && b.IsInt()) || (a.IsInt() && b.IsString()))) {
      const std::string s = a.IsString() ? a.Data().get<std::string>() : b.Data().get<std::string>();
      const int64_t n = a.IsInt() ? a.Data().get<int64_t>() : b.Data().get<int64_t>();
      if (n > 0 && s.size() * static_cast<size_t>(n) > kMaxString)
        return Error(pos, "repeated string too long");
      std::string out;
      for (int64_t i = 0; i < n; ++i) out += s;
      return Value::Of(out);
    }
    return Error(pos, absl::StrCat("unsupported operand types for ", op, ": ", Str(a), " and ", Str(b)));
  }

  absl::StatusOr<Value> NumberArith(const std::string& op, const Json& a, const Json& b, size_t pos) const {
    if (a.is_number_integer() && b.is_number_integer() && op != "/") {
      const auto x = a.get<int64_t>();
      const auto y = b.get<int64_t>();
      int64_t r = 0;
      const absl::Status overflow =
          Error(pos, "unsupported integer beyond 64 bits (Python ints are unbounded)");
      if (op == "+") return __builtin_add_overflow(x, y, &r) ? overflow : absl::StatusOr<Value>(Value::Of(r));
      if (op == "-") return __builtin_sub_overflow(x, y, &r) ? overflow : absl::StatusOr<Value>(Value::Of(r));
      if (op == "*") return __builtin_mul_overflow(x, y, &r) ? overflow : absl::StatusOr<Value>(Value::Of(r));
      if (op == "**") {
        if (y < 0) return Value::Of(std::pow(static_cast<double>(x), static_cast<double>(y)));
        r = 1;
        for (int64_t base = x, e = y; e > 0; e >>= 1) {  // by squaring
          if ((e & 1) && __builtin_mul_overflow(r, base, &r)) return overflow;
          if (e > 1 && __builtin_mul_overflow(base, base, &base)) return overflow;
        }
        return Value::Of(r);
      }
      if (y == 0) return Error(pos, "division by zero");
      if (y == -1 && x == INT64_MIN) return overflow;
      const int64_t q = x / y - ((x % y != 0 && ((x < 0) != (y < 0))) ? 1 : 0);
      if (op == "//") return Value::Of(q);
      return Value::Of(x - q * y);  // '%': the sign of the divisor, as in Python
    }
    const auto x = a.get<double>();
    const auto y = b.get<double>();
    if (op == "+") return Value::Of(x + y);
    if (op == "-") return Value::Of(x - y);
    if (op == "*") return Value::Of(x * y);
    if (op == "**") return Value::Of(std::pow(x, y));
    if (y == 0) return Error(pos, "division by zero");
    if (op == "/") return Value::Of(x / y);
    if (op == "//") return Value::Of(std::floor(x / y));
    return Value::Of(x - std::floor(x / y) * y);
  }

  absl::StatusOr<bool> Contains(const Value& container, const Value& item, size_t pos) const {
    if (container.IsUndefined()) return false;
    if (container.kind == Value::Kind::kNamespace)
      return item.IsString() && container.ns->contains(item.Data().get<std::string>());
    if (!container.IsJson()) return Error(pos, "unsupported 'in' operand");
    const Json& c = container.Data();
    if (c.is_string()) {
      if (!item.IsString()) return Error(pos, "'in <string>' requires string as left operand");
      return c.get<std::string>().find(item.Data().get<std::string>()) != std::string::npos;
    }
    if (c.is_object()) return item.IsString() && c.contains(item.Data().get<std::string>());
    if (c.is_array()) {
      for (const Json& x : c) {
        if (ValueEq(Value::Of(x), item)) return true;
      }
      return false;
    }
    return Error(pos, absl::StrCat("argument of type '", c.type_name(), "' is not iterable"));
  }

  absl::StatusOr<bool> Compare(const std::string& op, const Value& a, const Value& b, size_t pos) const {
    if (op == "==") return ValueEq(a, b);
    if (op == "!=") return !ValueEq(a, b);
    if (op == "in") return Contains(b, a, pos);
    if (op == "not in") {
      M1RL_ASSIGN_OR_RETURN(bool in, Contains(b, a, pos));
      return !in;
    }
    int c;
    if (Numeric(a).IsNumber() && Numeric(b).IsNumber()) {
      const auto x = Numeric(a).Data().get<double>();
      const auto y = Numeric(b).Data().get<double>();
      c = x < y ? -1 : x > y ? 1 : 0;
    } else if (a.IsString() && b.IsString()) {
      c = a.Data().get<std::string>().compare(b.Data().get<std::string>());
    } else {
      return Error(pos, absl::StrCat("'", op, "' not supported between ", Str(a), " and ", Str(b)));
    }
    if (op == "<") return c < 0;
    if (op == ">") return c > 0;
    if (op == "<=") return c <= 0;
    return c >= 0;
  }

  // ---- calls: methods, builtins, macros
  absl::StatusOr<Value> EvalCall(const Expr& e) {
    const Expr& callee = *e.args[0];
    M1RL_ASSIGN_OR_RETURN(Args args, EvalArgs(e));
    if (callee.kind == Expr::Kind::kAttr) {
      M1RL_ASSIGN_OR_RETURN(Value obj, Eval(*callee.args[0]));
      if (callee.name == "cycle" && callee.args[0]->kind == Expr::Kind::kName &&
          callee.args[0]->name == "loop" && obj.IsJson() && obj.Data().contains("index0")) {
        if (args.pos.empty()) return Error(e.pos, "loop.cycle() needs at least one argument");
        return args.pos[obj.Data()["index0"].get<size_t>() % args.pos.size()];
      }
      if (obj.IsString() || (obj.IsJson() && obj.Data().is_object())) {
        return CallMethod(obj, callee.name, args, callee.pos);
      }
      if (obj.IsUndefined()) return Error(callee.pos, absl::StrCat("'", obj.name, "' is undefined"));
      M1RL_ASSIGN_OR_RETURN(Value fn, GetItem(obj, Value::Of(callee.name), callee.pos));
      if (fn.IsUndefined()) {
        return Error(callee.pos, absl::StrCat("unsupported method '", callee.name, "' of ", Str(obj)));
      }
      return CallValue(fn, args, e.pos);
    }
    M1RL_ASSIGN_OR_RETURN(Value fn, Eval(callee));
    return CallValue(fn, args, e.pos);
  }

  absl::StatusOr<Value> CallValue(const Value& fn, const Args& args, size_t pos) {
    if (fn.kind == Value::Kind::kMacro) return CallMacro(*fn.macro, args, pos);
    if (fn.kind != Value::Kind::kBuiltin) {
      if (fn.IsUndefined()) return Error(pos, absl::StrCat("'", fn.name, "' is undefined"));
      return Error(pos, absl::StrCat("'", Str(fn), "' is not callable"));
    }
    if (fn.name == "raise_exception") {
      const Value* msg = args.Get(0, "message");
      return Error(pos, absl::StrCat("raise_exception: ", msg ? Str(*msg) : ""));
    }
    if (fn.name == "namespace" || fn.name == "dict") {
      Json attrs = Json::object();
      if (!args.pos.empty()) {
        if (!args.pos[0].IsJson() || !args.pos[0].Data().is_object())
          return Error(pos, "unsupported namespace() argument");
        attrs = args.pos[0].Data();
      }
      for (const auto& [k, v] : args.kw) {
        M1RL_ASSIGN_OR_RETURN(attrs[k], ToJson(v, pos));
      }
      if (fn.name == "dict") return Value::Of(std::move(attrs));
      Value ns;
      ns.kind = Value::Kind::kNamespace;
      ns.ns = std::make_shared<Json>(std::move(attrs));
      return ns;
    }
    if (fn.name == "range") {
      std::vector<int64_t> b;
      for (const Value& v : args.pos) {
        if (!v.IsInt()) return Error(pos, "range() takes integers");
        b.push_back(v.Data().get<int64_t>());
      }
      if (b.empty() || b.size() > 3) return Error(pos, "range() takes 1 to 3 arguments");
      const int64_t start = b.size() == 1 ? 0 : b[0];
      const int64_t stop = b.size() == 1 ? b[0] : b[1];
      const int64_t step = b.size() == 3 ? b[2] : 1;
      if (step == 0) return Error(pos, "range() step must not be zero");
      const double count =
          std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step));
      if (count > static_cast<double>(kMaxSequence)) return Error(pos, "range() too long");
      Json out = Json::array();
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(i);
      return Value::Of(std::move(out));
    }
    // strftime_now(format), as transformers defines it: the local time now.
    const Value* fmt = args.Get(0, "format");
    if (fmt == nullptr || !fmt->IsString()) return Error(pos, "strftime_now() takes a format string");
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[256];
    const size_t n = std::strftime(buf, sizeof(buf), fmt->Data().get<std::string>().c_str(), &tm);
    return Value::Of(std::string(buf, n));
  }

  absl::StatusOr<Value> CallMacro(const Node& m, const Args& args, size_t pos) {
    if (args.pos.size() > m.targets.size())
      return Error(pos, absl::StrCat("macro '", m.text, "' takes ", m.targets.size(), " arguments"));
    std::map<std::string, Value> frame;
    for (size_t i = 0; i < m.targets.size(); ++i) {
      const Value* v = args.Get(i, m.targets[i]);
      if (v) {
        frame[m.targets[i]] = *v;
      } else if (m.defaults[i]) {
        M1RL_ASSIGN_OR_RETURN(frame[m.targets[i]], Eval(*m.defaults[i]));
      } else {
        frame[m.targets[i]] = Value::Undefined(m.targets[i]);
      }
    }
    if (macro_depth_ >= kMaxNesting) {
      return Error(pos, absl::StrCat("macro calls nested deeper than ", kMaxNesting));
    }
    ++macro_depth_;
    // The body sees its parameters and the template's top level (context and top-level sets), not the
    // caller's loop or macro scopes.
    std::vector<std::map<std::string, Value>> caller(std::make_move_iterator(frames_.begin() + 1),
                                                     std::make_move_iterator(frames_.end()));
    frames_.resize(1);
    frames_.emplace_back(std::move(frame));
    const int saved_depth = loop_depth_;
    loop_depth_ = 0;
    std::string out;
    absl::Status status = Exec(m.body, &out);
    loop_depth_ = saved_depth;
    --macro_depth_;
    frames_.resize(1);
    frames_.insert(frames_.end(), std::make_move_iterator(caller.begin()),
                   std::make_move_iterator(caller.end()));
    M1RL_RETURN_IF_ERROR(status);
    return Value::Of(out);
  }

  absl::StatusOr<Value> CallMethod(const Value& obj, const std::string& name, const Args& args, size_t pos) {
    if (obj.Data().is_object()) {
      const Json& d = obj.Data();
      if (name == "items" || name == "keys" || name == "values") {
        Json out = Json::array();
        for (const auto& [k, v] : d.items()) {
          if (name == "items") {
            out.push_back(Json::array({k, v}));
          } else {
            out.push_back(name == "keys" ? Json(k) : v);
          }
        }
        return Value::Of(std::move(out));
      }
      if (name == "get") {
        const Value* key = args.Get(0, "key");
        const Value* dflt = args.Get(1, "default");
        if (key == nullptr) return Error(pos, "get() takes a key");
        if (key->IsString() && d.contains(key->Data().get<std::string>()))
          return Value::Of(d[key->Data().get<std::string>()]);
        return dflt ? *dflt : Value::Of(nullptr);
      }
      M1RL_ASSIGN_OR_RETURN(Value fn, GetItem(obj, Value::Of(name), pos));
      if (fn.IsUndefined()) return Error(pos, absl::StrCat("unsupported dict method '", name, "'"));
      return CallValue(fn, args, pos);
    }
    return CallStringMethod(obj.Data().get<std::string>(), name, args, pos);
  }

  absl::StatusOr<Value> CallStringMethod(const std::string& s, const std::string& name, const Args& args,
                                         size_t pos) const {
    const Value* a0 = args.Get(0, "");
    const std::string* chars = a0 && a0->IsString() ? &a0->Data().get_ref<const std::string&>() : nullptr;
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      return Value::Of(StripChars(s, chars, name != "rstrip", name != "lstrip"));
    }
    if (name == "upper" || name == "lower") {
      return Value::Of(ChangeCase(s, name == "upper"));
    }
    if (name == "startswith" || name == "endswith") {
      if (a0 == nullptr) return Error(pos, absl::StrCat(name, "() takes an argument"));
      std::vector<std::string> affixes;
      if (a0->IsString()) {
        affixes.push_back(a0->Data().get<std::string>());
      } else if (a0->IsJson() && a0->Data().is_array()) {
        for (const Json& x : a0->Data()) {
          if (x.is_string()) affixes.push_back(x.get<std::string>());
        }
      }
      for (const std::string& x : affixes) {
        const bool hit =
            x.size() <= s.size() && (name == "startswith" ? s.compare(0, x.size(), x) == 0
                                                          : s.compare(s.size() - x.size(), x.size(), x) == 0);
        if (hit) return Value::Of(true);
      }
      return Value::Of(false);
    }
    if (name == "split") return Value::Of(Split(s, args));
    if (name == "replace") {
      const Value* to = args.Get(1, "");
      if (!chars || !to || !to->IsString() || chars->empty())
        return Error(pos, "replace() takes two strings");
      const Value* count = args.Get(2, "count");
      const int64_t max = count && count->IsInt() ? count->Data().get<int64_t>() : -1;
      return Value::Of(ReplaceAll(s, *chars, to->Data().get<std::string>(), max));
    }
    if (name == "title" || name == "capitalize") return Value::Of(name == "title" ? Title(s) : Capitalize(s));
    if (name == "count") {
      if (!chars || chars->empty()) return Error(pos, "count() takes a non-empty string");
      int64_t n = 0;
      for (size_t at = s.find(*chars); at != std::string::npos; at = s.find(*chars, at + chars->size())) ++n;
      return Value::Of(n);
    }
    if (name == "find") {
      if (!chars) return Error(pos, "find() takes a string");
      const size_t at = s.find(*chars);
      return Value::Of(at == std::string::npos ? int64_t{-1}
                                               : static_cast<int64_t>(DecodeUtf8(s.substr(0, at)).size()));
    }
    return Error(pos, absl::StrCat("unsupported string method '", name, "'"));
  }

  static Json Split(const std::string& s, const Args& args) {
    const Value* sep = args.Get(0, "sep");
    const Value* max = args.Get(1, "maxsplit");
    int64_t left = max && max->IsInt() ? max->Data().get<int64_t>() : -1;
    Json out = Json::array();
    if (sep && sep->IsString()) {
      const std::string& d = sep->Data().get_ref<const std::string&>();
      size_t start = 0;
      for (size_t at; left != 0 && !d.empty() && (at = s.find(d, start)) != std::string::npos; --left) {
        out.push_back(s.substr(start, at - start));
        start = at + d.size();
      }
      out.push_back(s.substr(start));
      return out;
    }
    const std::vector<uint32_t> cps = DecodeUtf8(s);  // Python's whitespace, Unicode included
    auto piece = [&](size_t b, size_t e) {
      return EncodeUtf8(std::vector<uint32_t>(cps.begin() + static_cast<std::ptrdiff_t>(b),
                                              cps.begin() + static_cast<std::ptrdiff_t>(e)));
    };
    size_t i = 0;
    while (true) {
      while (i < cps.size() && IsUnicodeSpace(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (left == 0) {  // the rest, trailing whitespace kept
        out.push_back(piece(i, cps.size()));
        break;
      }
      size_t j = i;
      while (j < cps.size() && !IsUnicodeSpace(cps[j])) ++j;
      out.push_back(piece(i, j));
      i = j;
      --left;
    }
    return out;
  }

  // Replaces the first `max` occurrences (all when negative).
  static std::string ReplaceAll(std::string s, const std::string& from, const std::string& to, int64_t max) {
    for (size_t at = s.find(from); at != std::string::npos && max != 0; at = s.find(from, at + to.size())) {
      s.replace(at, from.size(), to);
      --max;
    }
    return s;
  }
  static std::string Title(std::string s) {
    bool prev_alpha = false;
    for (char& c : s) {
      const auto u = static_cast<unsigned char>(c);
      c = static_cast<char>(prev_alpha ? std::tolower(u) : std::toupper(u));
      prev_alpha = std::isalpha(u) != 0;
    }
    return s;
  }
  static std::string Capitalize(std::string s) {
    for (size_t i = 0; i < s.size(); ++i) {
      const auto u = static_cast<unsigned char>(s[i]);
      s[i] = static_cast<char>(i == 0 ? std::toupper(u) : std::tolower(u));
    }
    return s;
  }

  // ---- filters
  absl::StatusOr<Value> ApplyFilter(const std::string& name, const Value& in, const Args& args, size_t pos) {
    if (name == "trim") {
      const Value* c = args.Get(0, "chars");
      const std::string* chars = c && c->IsString() ? &c->Data().get_ref<const std::string&>() : nullptr;
      return Value::Of(StripChars(Str(in), chars, true, true));
    }
    if (name == "tojson") return ToJsonFilter(in, args, pos);
    if (name == "length" || name == "count") {
      if (in.IsUndefined()) return Value::Of(0);
      if (in.IsString())
        return Value::Of(static_cast<int64_t>(DecodeUtf8(in.Data().get<std::string>()).size()));
      if (in.IsJson() && (in.Data().is_array() || in.Data().is_object()))
        return Value::Of(static_cast<int64_t>(in.Data().size()));
      return Error(pos, absl::StrCat("object ", Str(in), " has no len()"));
    }
    if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
      return CallStringMethod(Str(in), name, Args{}, pos);
    }
    if (name == "string") return Value::Of(Str(in));
    if (name == "safe") return in;
    if (name == "default" || name == "d") {
      const Value* dflt = args.Get(0, "default_value");
      const Value* boolean = args.Get(1, "boolean");
      const bool use = in.IsUndefined() || (boolean && Truthy(*boolean) && !Truthy(in));
      if (!use) return in;
      return dflt ? *dflt : Value::Of("");
    }
    if (name == "replace") return CallStringMethod(Str(in), "replace", args, pos);
    if (name == "items") {
      if (in.IsUndefined()) return Value::Of(Json::array());
      if (!in.IsJson() || !in.Data().is_object()) return Error(pos, "items filter needs a mapping");
      return CallMethod(in, "items", Args{}, pos);
    }
    if (name == "int" || name == "float" || name == "abs") return NumberFilter(name, in, args, pos);
    if (name == "format") return FormatValues(Str(in), args.pos, pos);
    if (name == "dictsort") {
      if (!in.IsJson() || !in.Data().is_object()) return Error(pos, "dictsort needs a mapping");
      const Value* cs = args.Get(0, "case_sensitive");
      const Value* by = args.Get(1, "by");
      const Value* rev = args.Get(2, "reverse");
      const bool by_value = by && Str(*by) == "value";
      Json pairs = Json::array();
      for (const auto& [k, v] : in.Data().items()) pairs.push_back(Json::array({k, v}));
      const bool sensitive = cs && Truthy(*cs);
      std::stable_sort(pairs.begin(), pairs.end(), [&](const Json& a, const Json& b) {
        const Json& x = a[by_value ? 1 : 0];
        const Json& y = b[by_value ? 1 : 0];
        if (x.is_string() && y.is_string() && !sensitive) {
          return ChangeCase(x.get<std::string>(), false) < ChangeCase(y.get<std::string>(), false);
        }
        return x < y;
      });
      if (rev && Truthy(*rev)) std::reverse(pairs.begin(), pairs.end());
      return Value::Of(std::move(pairs));
    }
    M1RL_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(in, pos));
    if (name == "join") {
      const Value* sep = args.Get(0, "d");
      const Value* attr = args.Get(1, "attribute");
      std::string out;
      for (size_t i = 0; i < items.size(); ++i) {
        Value item = items[i];
        if (attr) {
          M1RL_ASSIGN_OR_RETURN(item, GetItem(item, *attr, pos));
        }
        out += (i && sep ? Str(*sep) : "") + Str(item);
      }
      return Value::Of(out);
    }
    if (name == "first" || name == "last") {
      if (items.empty()) return Value::Undefined(absl::StrCat("No ", name, " item, sequence was empty."));
      return name == "first" ? items.front() : items.back();
    }
    if (name == "list" || name == "reverse" || name == "unique") {
      if (name == "reverse" && in.IsString()) std::reverse(items.begin(), items.end());
      if (name == "reverse" && in.IsString()) return Value::Of(Str(ApplyJoin(items)));
      if (name == "reverse") std::reverse(items.begin(), items.end());
      Json out = Json::array();
      for (const Value& v : items) {
        M1RL_ASSIGN_OR_RETURN(Json j, ToJson(v, pos));
        if (name == "unique" && std::find(out.begin(), out.end(), j) != out.end()) continue;
        out.push_back(std::move(j));
      }
      return Value::Of(std::move(out));
    }
    if (name == "map") return MapFilter(items, args, pos);
    if (name == "sum" || name == "min" || name == "max") return Reduce(name, items, args, pos);
    if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
      return SelectFilter(name, items, args, pos);
    }
    return Error(pos, absl::StrCat("unsupported filter '", name, "'"));
  }

  // Python's printf-style formatting: `fmt % arg` and `fmt|format(args...)` (%s %r %d %i %f %x %%, with
  // flags, width and precision).
  absl::StatusOr<Value> PercentFormat(const std::string& fmt, const Value& arg, size_t pos) const {
    size_t specs = 0;
    for (size_t i = 0; i + 1 < fmt.size(); ++i) {
      if (fmt[i] == '%') {
        if (fmt[i + 1] != '%') ++specs;
        ++i;
      }
    }
    std::vector<Value> args;
    if (specs > 1 && arg.IsJson() && arg.Data().is_array()) {
      for (const Json& x : arg.Data()) args.push_back(Value::Of(x));
    } else {
      args.push_back(arg);
    }
    return FormatValues(fmt, args, pos);
  }

  absl::StatusOr<Value> FormatValues(const std::string& fmt, const std::vector<Value>& args,
                                     size_t pos) const {
    std::string out;
    size_t next = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
      if (fmt[i] != '%') {
        out += fmt[i];
        continue;
      }
      size_t j = i + 1;
      while (j < fmt.size() && std::string_view("-+ 0#").find(fmt[j]) != std::string_view::npos) ++j;
      while (j < fmt.size() && (std::isdigit(static_cast<unsigned char>(fmt[j])) || fmt[j] == '.')) ++j;
      if (j >= fmt.size()) return Error(pos, "incomplete format");
      const char conv = fmt[j];
      const std::string flags = fmt.substr(i + 1, j - i - 1);
      i = j;
      if (conv == '%') {
        out += '%';
        continue;
      }
      if (next >= args.size()) return Error(pos, "not enough arguments for format string");
      const Value v = Numeric(args[next++]);
      char buf[512];
      if (conv == 's' || conv == 'r') {
        const std::string text = conv == 's' ? Str(v) : (v.IsJson() ? PyRepr(v.Data()) : Str(v));
        std::snprintf(buf, sizeof(buf), ("%" + flags + "s").c_str(), text.c_str());
        out += text.size() >= sizeof(buf) - 1 ? text : std::string(buf);
      } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X') {
        if (!v.IsNumber())
          return Error(pos, absl::StrCat("%", std::string(1, conv), " format: a number is required"));
        std::snprintf(
            buf, sizeof(buf), ("%" + flags + "ll" + std::string(1, conv == 'i' ? 'd' : conv)).c_str(),
            static_cast<long long>(v.Data().get<double>()));  // NOLINT(google-runtime-int): printf's type
        out += buf;
      } else if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'g') {
        if (!v.IsNumber())
          return Error(pos, absl::StrCat("%", std::string(1, conv), " format: a number is required"));
        std::snprintf(buf, sizeof(buf), ("%" + flags + std::string(1, conv)).c_str(), v.Data().get<double>());
        out += buf;
      } else {
        return Error(pos, absl::StrCat("unsupported format character '", std::string(1, conv), "'"));
      }
    }
    if (next < args.size()) return Error(pos, "not all arguments converted during string formatting");
    return Value::Of(out);
  }

  // sum/min/max over `items` (optionally of an attribute).
  absl::StatusOr<Value> Reduce(const std::string& name, std::vector<Value> items, const Args& args,
                               size_t pos) {
    if (const Value* attr = args.Get(1000, "attribute")) {
      for (Value& v : items) {
        M1RL_ASSIGN_OR_RETURN(v, GetItem(v, *attr, pos));
      }
    }
    if (name == "sum") {
      Value total = Value::Of(0);
      if (const Value* start = args.Get(1000, "start")) total = *start;
      for (const Value& v : items) {
        if (v.IsString() || total.IsString()) return Error(pos, "sum() can't sum strings");
        M1RL_ASSIGN_OR_RETURN(total, Arith("+", total, v, pos));
      }
      return total;
    }
    if (items.empty()) return Value::Undefined(absl::StrCat("No ", name, " item, sequence was empty."));
    Value best = items[0];
    for (size_t i = 1; i < items.size(); ++i) {
      Value a = items[i];
      Value b = best;
      if (a.IsString() && b.IsString()) {  // case-insensitive by default, as Jinja
        a = Value::Of(ChangeCase(a.Data().get<std::string>(), false));
        b = Value::Of(ChangeCase(b.Data().get<std::string>(), false));
      }
      M1RL_ASSIGN_OR_RETURN(bool better, Compare(name == "min" ? "<" : ">", a, b, pos));
      if (better) best = items[i];
    }
    return best;
  }

  static Value ApplyJoin(const std::vector<Value>& items) {
    std::string out;
    for (const Value& v : items) out += Str(v);
    return Value::Of(out);
  }

  absl::StatusOr<Value> ToJsonFilter(const Value& in, const Args& args, size_t pos) const {
    M1RL_ASSIGN_OR_RETURN(Json j, ToJson(in, pos));
    DumpOptions o;
    const Value* indent = args.Get(1000, "indent");
    if (const Value* ea = args.Get(1000, "ensure_ascii"); ea && Truthy(*ea)) {
      return Error(pos, "unsupported tojson(ensure_ascii=True)");
    }
    if (indent && !(indent->IsJson() && indent->Data().is_null())) {
      if (!indent->IsInt()) return Error(pos, "unsupported tojson indent (an integer is supported)");
      o.indent = static_cast<int>(indent->Data().get<int64_t>());
      o.item_sep = ",";
    }
    if (const Value* seps = args.Get(1000, "separators");
        seps && seps->IsJson() && seps->Data().is_array() && seps->Data().size() == 2) {
      o.item_sep = seps->Data()[0].get<std::string>();
      o.key_sep = seps->Data()[1].get<std::string>();
    }
    if (const Value* sk = args.Get(1000, "sort_keys")) o.sort_keys = Truthy(*sk);
    if (!args.pos.empty()) {
      if (!args.pos[0].IsInt()) return Error(pos, "unsupported tojson argument");
      o.indent = static_cast<int>(args.pos[0].Data().get<int64_t>());
      o.item_sep = ",";
    }
    std::string out;
    PyJsonDump(j, o, 0, &out);
    return Value::Of(out);
  }

  absl::StatusOr<Value> NumberFilter(const std::string& name, const Value& in, const Args& args,
                                     size_t pos) const {
    if (name == "abs") {
      if (!in.IsNumber()) return Error(pos, "abs of a non-number");
      if (in.IsInt()) return Value::Of(std::llabs(in.Data().get<int64_t>()));
      return Value::Of(std::fabs(in.Data().get<double>()));
    }
    const Value* dflt = args.Get(0, "default");
    if (in.IsNumber()) {
      if (name == "int") return Value::Of(static_cast<int64_t>(in.Data().get<double>()));
      return Value::Of(in.Data().get<double>());
    }
    const std::string s = StripChars(Str(in), nullptr, true, true);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size())
      return dflt ? *dflt : (name == "int" ? Value::Of(0) : Value::Of(0.0));
    if (name == "int") return Value::Of(static_cast<int64_t>(d));
    return Value::Of(d);
  }

  absl::StatusOr<Value> MapFilter(const std::vector<Value>& items, const Args& args, size_t pos) {
    Json out = Json::array();
    const Value* attr = args.Get(1000, "attribute");
    for (const Value& item : items) {
      Value v;
      if (attr) {
        M1RL_ASSIGN_OR_RETURN(v, GetItem(item, *attr, pos));
        if (v.IsUndefined()) {
          if (const Value* d = args.Get(1000, "default")) v = *d;
        }
      } else {
        if (args.pos.empty() || !args.pos[0].IsString()) return Error(pos, "unsupported map() arguments");
        Args rest;
        rest.pos.assign(args.pos.begin() + 1, args.pos.end());
        rest.kw = args.kw;
        M1RL_ASSIGN_OR_RETURN(v, ApplyFilter(args.pos[0].Data().get<std::string>(), item, rest, pos));
      }
      M1RL_ASSIGN_OR_RETURN(Json j, ToJson(v, pos));
      out.push_back(std::move(j));
    }
    return Value::Of(std::move(out));
  }

  absl::StatusOr<Value> SelectFilter(const std::string& name, const std::vector<Value>& items,
                                     const Args& args, size_t pos) {
    const bool by_attr = name.find("attr") != std::string::npos;
    const bool select = name.rfind("select", 0) == 0;
    size_t next = 0;
    const Value* attr = nullptr;
    if (by_attr) {
      attr = args.Get(next++, "");
      if (attr == nullptr) return Error(pos, absl::StrCat(name, "() needs an attribute"));
    }
    const Value* test = args.Get(next++, "");
    Args rest;
    if (args.pos.size() > next)
      rest.pos.assign(args.pos.begin() + static_cast<std::ptrdiff_t>(next), args.pos.end());
    Json out = Json::array();
    for (const Value& item : items) {
      Value v = item;
      if (attr) {
        M1RL_ASSIGN_OR_RETURN(v, GetItem(item, *attr, pos));
      }
      bool ok;
      if (test) {
        if (!test->IsString()) return Error(pos, "test name must be a string");
        M1RL_ASSIGN_OR_RETURN(ok, ApplyTest(test->Data().get<std::string>(), v, rest, pos));
      } else {
        ok = Truthy(v);
      }
      if (ok != select) continue;
      M1RL_ASSIGN_OR_RETURN(Json j, ToJson(item, pos));
      out.push_back(std::move(j));
    }
    return Value::Of(std::move(out));
  }

  // ---- tests ('x is name(args)')
  absl::StatusOr<bool> ApplyTest(const std::string& name, const Value& v, const Args& args,
                                 size_t pos) const {
    const Json& j = v.Data();
    const bool json = v.IsJson();
    if (name == "defined") return !v.IsUndefined();
    if (name == "undefined") return v.IsUndefined();
    if (name == "none") return json && j.is_null();
    if (name == "string") return json && j.is_string();
    if (name == "number") return json && (j.is_number() || j.is_boolean());
    if (name == "integer") return json && j.is_number_integer();
    if (name == "float") return json && j.is_number_float();
    if (name == "boolean") return json && j.is_boolean();
    if (name == "true" || name == "false") return json && j.is_boolean() && j.get<bool>() == (name == "true");
    if (name == "mapping") return (json && j.is_object()) || v.kind == Value::Kind::kNamespace;
    if (name == "sequence") return json && (j.is_array() || j.is_string() || j.is_object());
    if (name == "iterable") return json && (j.is_array() || j.is_string() || j.is_object());
    if (name == "callable") return v.kind == Value::Kind::kMacro || v.kind == Value::Kind::kBuiltin;
    if (name == "lower" || name == "upper") {
      if (!v.IsString()) return false;
      const std::string s = j.get<std::string>();
      M1RL_ASSIGN_OR_RETURN(Value conv, CallStringMethod(s, name, Args{}, pos));
      return conv.Data().get<std::string>() == s;
    }
    if (name == "even" || name == "odd" || name == "divisibleby") {
      if (!v.IsInt()) return Error(pos, absl::StrCat("test '", name, "' needs an integer"));
      const int64_t x = j.get<int64_t>();
      if (name == "divisibleby") {
        const Value* d = args.Get(0, "num");
        if (d == nullptr || !d->IsInt() || d->Data().get<int64_t>() == 0)
          return Error(pos, "divisibleby needs a nonzero integer");
        return x % d->Data().get<int64_t>() == 0;
      }
      return (x % 2 == 0) == (name == "even");
    }
    static const std::map<std::string, std::string> kCompareTests = {
        {"eq", "=="},      {"equalto", "=="}, {"==", "=="}, {"ne", "!="}, {"!=", "!="}, {"lt", "<"},
        {"lessthan", "<"}, {"<", "<"},        {"le", "<="}, {"<=", "<="}, {"gt", ">"},  {"greaterthan", ">"},
        {">", ">"},        {"ge", ">="},      {">=", ">="}, {"in", "in"}};
    auto cmp = kCompareTests.find(name);
    if (cmp != kCompareTests.end()) {
      const Value* other = args.Get(0, "other");
      if (other == nullptr) return Error(pos, absl::StrCat("test '", name, "' needs an argument"));
      return Compare(cmp->second, v, *other, pos);
    }
    if (name == "sameas") {
      const Value* other = args.Get(0, "other");
      return other && json && other->IsJson() && ValueEq(v, *other) &&
             j.is_boolean() == other->Data().is_boolean() && j.is_null() == other->Data().is_null();
    }
    return Error(pos, absl::StrCat("unsupported test '", name, "'"));
  }

  std::string_view src_;
  std::vector<std::map<std::string, Value>> frames_;
  Flow flow_ = Flow::kNormal;
  int loop_depth_ = 0;
  int macro_depth_ = 0;
};

}  // namespace

struct JinjaTemplate::Impl {
  std::string source;
  Body body;
};

absl::StatusOr<JinjaTemplate> JinjaTemplate::Parse(std::string_view source) {
  auto impl = std::make_shared<Impl>();
  // Jinja reads "\r\n" and "\r" as "\n", and drops one trailing newline (keep_trailing_newline=False).
  impl->source.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] != '\r') {
      impl->source += source[i];
    } else if (i + 1 >= source.size() || source[i + 1] != '\n') {
      impl->source += '\n';
    }
  }
  if (!impl->source.empty() && impl->source.back() == '\n') impl->source.pop_back();
  M1RL_ASSIGN_OR_RETURN(std::vector<Segment> segs, LexTemplate(impl->source));
  TemplateParser parser(impl->source, std::move(segs));
  M1RL_ASSIGN_OR_RETURN(impl->body, parser.ParseAll());
  return JinjaTemplate(std::move(impl));
}

absl::StatusOr<std::string> JinjaTemplate::Render(const nlohmann::ordered_json& context) const {
  if (!context.is_object()) return absl::InvalidArgumentError("template context must be a JSON object");
  Renderer renderer(impl_->source, context);
  std::string out;
  M1RL_RETURN_IF_ERROR(renderer.Exec(impl_->body, &out));
  return out;
}

absl::StatusOr<std::string> RenderChatTemplate(std::string_view template_source,
                                               const std::vector<ChatMessage>& messages,
                                               bool add_generation_prompt,
                                               const nlohmann::ordered_json& extra) {
  if (!extra.is_object()) return absl::InvalidArgumentError("chat template variables must be a JSON object");
  Json context = extra;
  Json list = Json::array();
  for (const ChatMessage& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  context["messages"] = std::move(list);
  context["add_generation_prompt"] = add_generation_prompt;
  M1RL_ASSIGN_OR_RETURN(JinjaTemplate t, JinjaTemplate::Parse(template_source));
  return t.Render(context);
}

}  // namespace m1rl::model
