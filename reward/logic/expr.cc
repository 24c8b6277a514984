#include "reward/logic/expr.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace m1rl::reward::logic {
namespace {

class Parser {
 public:
  Parser(std::string_view text, const ExprOptions& options) : s_(text), options_(options) {}

  absl::StatusOr<ParsedExpr> Run() {
    if (s_.size() > options_.max_length) {
      return absl::InvalidArgumentError(
          absl::StrCat("expression longer than ", options_.max_length, " bytes"));
    }
    SkipSpace();
    if (pos_ == s_.size()) return absl::InvalidArgumentError("empty expression");
    auto v = Expr(0);
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    SkipSpace();
    if (pos_ != s_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected '", std::string(s_.substr(pos_, 8)), "' at offset ", pos_));
    }
    out_.value = v;
    return std::move(out_);
  }

 private:
  using Value = std::optional<Rational>;

  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }

  bool Fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    return false;
  }

  // Returns the operator at pos_ ('*', '/', '+', '-') and its byte length, or 0.
  char PeekOp(size_t* len) {
    *len = 1;
    if (pos_ >= s_.size()) return 0;
    const char c = s_[pos_];
    if (c == '+' || c == '-' || c == '*' || c == '/') return c;
    if (c == 'x' || c == 'X') return '*';
    if (s_.substr(pos_, 2) == "\xC3\x97") {  // U+00D7 multiplication sign
      *len = 2;
      return '*';
    }
    if (s_.substr(pos_, 2) == "\xC3\xB7") {  // U+00F7 division sign
      *len = 2;
      return '/';
    }
    return 0;
  }

  static Value Apply(char op, const Value& a, const Value& b) {
    if (!a || !b) return std::nullopt;
    switch (op) {
      case '+':
        return Add(*a, *b);
      case '-':
        return Sub(*a, *b);
      case '*':
        return Mul(*a, *b);
      default:
        return Div(*a, *b);
    }
  }

  Value Expr(int depth) {
    Value acc = Term(depth);
    while (error_.empty()) {
      SkipSpace();
      size_t len;
      const char op = PeekOp(&len);
      if (op != '+' && op != '-') break;
      pos_ += len;
      out_.normalized.push_back(op);
      Value rhs = Term(depth);
      acc = Apply(op, acc, rhs);
    }
    return acc;
  }

  Value Term(int depth) {
    Value acc = Factor(depth);
    while (error_.empty()) {
      SkipSpace();
      size_t len;
      const char op = PeekOp(&len);
      if (op != '*' && op != '/') break;
      pos_ += len;
      out_.normalized.push_back(op);
      Value rhs = Factor(depth);
      acc = Apply(op, acc, rhs);
    }
    return acc;
  }

  Value Factor(int depth) {
    if (depth > options_.max_depth) {
      Fail(absl::StrCat("nesting deeper than ", options_.max_depth));
      return std::nullopt;
    }
    SkipSpace();
    if (pos_ >= s_.size()) {
      Fail("expression ends where a number or '(' was expected");
      return std::nullopt;
    }
    const char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      out_.normalized.push_back('(');
      Value v = Expr(depth + 1);
      if (!error_.empty()) return std::nullopt;
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ')') {
        Fail(absl::StrCat("missing ')' at offset ", pos_));
        return std::nullopt;
      }
      ++pos_;
      out_.normalized.push_back(')');
      return v;
    }
    if (c == '-') {
      if (!options_.allow_unary_minus) {
        Fail(absl::StrCat("unary minus at offset ", pos_, " is not allowed"));
        return std::nullopt;
      }
      ++pos_;
      out_.normalized.push_back('-');
      Value v = Factor(depth + 1);
      if (!v) return std::nullopt;
      return Neg(*v);
    }
    if (c >= '0' && c <= '9') {
      const size_t start = pos_;
      int64_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        if (pos_ - start >= 18) {
          Fail(absl::StrCat("number at offset ", start, " has more than 18 digits"));
          return std::nullopt;
        }
        v = v * 10 + (s_[pos_] - '0');
        ++pos_;
      }
      if (static_cast<int>(out_.literals.size()) >= options_.max_literals) {
        Fail(absl::StrCat("more than ", options_.max_literals, " numbers"));
        return std::nullopt;
      }
      out_.literals.push_back(v);
      out_.normalized.append(s_.substr(start, pos_ - start));
      return Rational(v);
    }
    Fail(absl::StrCat("unexpected '", std::string(s_.substr(pos_, 8)), "' at offset ", pos_));
    return std::nullopt;
  }

  std::string_view s_;
  const ExprOptions& options_;
  size_t pos_ = 0;
  std::string error_;
  ParsedExpr out_;
};

}  // namespace

absl::StatusOr<ParsedExpr> ParseExpression(std::string_view text, const ExprOptions& options) {
  return Parser(text, options).Run();
}

}  // namespace m1rl::reward::logic
