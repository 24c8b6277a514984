#include "reward/math/parser.h"

#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace m1rl::reward::math {
namespace {

enum class Tok { kEnd, kNum, kLetter, kWord, kCmd, kChar, kText, kSetOpen, kSetClose, kRowSep, kPercent };

struct Token {
  Tok t;
  std::string s;
  size_t pos;
};

struct ParseError {
  bool too_complex;
  std::string message;
  size_t pos;
};

constexpr int kMaxDepth = 150;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool IsFunctionName(const std::string& w) {
  static const char* const kNames[] = {"sin",    "cos",  "tan",  "cot",  "sec", "csc", "arcsin", "arccos",
                                       "arctan", "sinh", "cosh", "tanh", "ln",  "log", "exp"};
  for (const char* n : kNames)
    if (w == n) return true;
  return false;
}

bool IsGreek(const std::string& w) {
  static const char* const kNames[] = {
      "alpha",    "beta",    "gamma", "delta",  "epsilon", "varepsilon", "zeta",  "eta",   "theta",
      "vartheta", "iota",    "kappa", "lambda", "mu",      "nu",         "xi",    "rho",   "sigma",
      "tau",      "upsilon", "phi",   "varphi", "chi",     "psi",        "omega", "Gamma", "Delta",
      "Theta",    "Lambda",  "Sigma", "Phi",    "Psi",     "Omega"};
  for (const char* n : kNames)
    if (w == n) return true;
  return false;
}

std::string CanonicalDigits(const std::string& digits) {
  // Strip leading zeros of the integer part ("016" -> "16", ".5" -> "0.5", "00.5" -> "0.5").
  size_t dot = digits.find('.');
  std::string ip = dot == std::string::npos ? digits : digits.substr(0, dot);
  std::string fp = dot == std::string::npos ? "" : digits.substr(dot);
  size_t nz = 0;
  while (nz + 1 < ip.size() && ip[nz] == '0') ++nz;
  ip = ip.substr(nz);
  if (ip.empty()) ip = "0";
  return ip + fp;
}

class Lexer {
 public:
  Lexer(std::string_view s, const ParseOptions& o) : s_(s), opt_(o) {}

  std::vector<Token> Run() {
    std::vector<Token> out;
    while (true) {
      while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ >= s_.size()) break;
      size_t start = i_;
      char c = s_[i_];
      if (IsDigit(c) || (c == '.' && i_ + 1 < s_.size() && IsDigit(s_[i_ + 1]))) {
        out.push_back({Tok::kNum, LexNumber(), start});
      } else if (IsAlpha(c)) {
        std::string w;
        while (i_ < s_.size() && IsAlpha(s_[i_])) w += s_[i_++];
        if (IsFunctionName(w) || w == "sqrt" || w == "pi") {
          out.push_back({Tok::kWord, w, start});
        } else {
          for (size_t k = 0; k < w.size(); ++k)
            out.push_back({Tok::kLetter, std::string(1, w[k]), start + k});
        }
      } else if (c == '\\') {
        ++i_;
        if (i_ >= s_.size()) throw ParseError{false, "dangling backslash", start};
        char n = s_[i_];
        if (n == '{') {
          ++i_;
          out.push_back({Tok::kSetOpen, "\\{", start});
        } else if (n == '}') {
          ++i_;
          out.push_back({Tok::kSetClose, "\\}", start});
        } else if (n == '\\') {
          ++i_;
          out.push_back({Tok::kRowSep, "\\\\", start});
        } else if (n == '%') {
          ++i_;
          out.push_back({Tok::kPercent, "\\%", start});
        } else if (n == '|') {
          ++i_;
          out.push_back({Tok::kChar, "|", start});
        } else if (IsAlpha(n)) {
          std::string w;
          while (i_ < s_.size() && IsAlpha(s_[i_])) w += s_[i_++];
          if (w == "text" || w == "mbox" || w == "textnormal" || w == "textit") {
            out.push_back({Tok::kText, ReadBraced(start), start});
          } else if (w == "begin" || w == "end") {
            std::string env = ReadBraced(start);
            if (w == "begin" && env == "array") ReadBraced(start);  // column spec
            out.push_back({Tok::kCmd, absl::StrCat(w, ":", env), start});
          } else {
            out.push_back({Tok::kCmd, w, start});
          }
        } else {
          throw ParseError{false, absl::StrCat("unknown control symbol \\", std::string(1, n)), start};
        }
      } else {
        ++i_;
        out.push_back({Tok::kChar, std::string(1, c), start});
      }
    }
    out.push_back({Tok::kEnd, "", s_.size()});
    return out;
  }

 private:
  std::string LexNumber() {
    std::string d;
    while (i_ < s_.size() && IsDigit(s_[i_])) d += s_[i_++];
    // Thousands groups: ",ddd" not followed by another digit, only when allowed and the first group
    // has 1-3 digits.
    if (opt_.allow_thousands && !d.empty() && d.size() <= 3) {
      while (i_ + 3 < s_.size() + 0 && s_[i_] == ',' && IsDigit(s_[i_ + 1]) && IsDigit(s_[i_ + 2]) &&
             IsDigit(s_[i_ + 3]) && (i_ + 4 >= s_.size() || !IsDigit(s_[i_ + 4]))) {
        d += s_.substr(i_ + 1, 3);
        i_ += 4;
      }
    }
    if (i_ + 1 < s_.size() && s_[i_] == '.' && IsDigit(s_[i_ + 1])) {
      d += s_[i_++];
      while (i_ < s_.size() && IsDigit(s_[i_])) d += s_[i_++];
    }
    return CanonicalDigits(d);
  }

  std::string ReadBraced(size_t start) {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
    if (i_ >= s_.size() || s_[i_] != '{') throw ParseError{false, "expected '{'", start};
    int depth = 0;
    size_t b = i_;
    for (; i_ < s_.size(); ++i_) {
      if (s_[i_] == '{') ++depth;
      if (s_[i_] == '}' && --depth == 0) {
        ++i_;
        return std::string(s_.substr(b + 1, i_ - b - 2));
      }
    }
    throw ParseError{false, "unbalanced '{'", start};
  }

  std::string_view s_;
  ParseOptions opt_;
  size_t i_ = 0;
};

class Parser {
 public:
  Parser(std::string_view src, std::vector<Token> toks) : src_(src), t_(std::move(toks)) {}

  NodeP Top() {
    std::vector<NodeP> items = Seq();
    if (Peek().t != Tok::kEnd) Fail("unexpected '" + Peek().s + "'");
    if (items.size() == 1) return items[0];
    return Make(NodeKind::kList, "", std::move(items));
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p(p) {
      if (++p->depth_ > kMaxDepth)
        throw ParseError{true, "too_complex: nesting deeper than 150", p->Peek().pos};
    }
    ~DepthGuard() { --p->depth_; }
    Parser* p;
  };

  const Token& Peek(size_t k = 0) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  Token Next() {
    Token t = Peek();
    if (i_ < t_.size() - 1) ++i_;
    return t;
  }
  bool IsChar(const char* c, size_t k = 0) const { return Peek(k).t == Tok::kChar && Peek(k).s == c; }
  bool IsCmd(const char* c, size_t k = 0) const { return Peek(k).t == Tok::kCmd && Peek(k).s == c; }
  [[noreturn]] void Fail(const std::string& msg) const { throw ParseError{false, msg, Peek().pos}; }
  void Expect(const char* c) {
    if (!IsChar(c)) Fail(absl::StrCat("expected '", c, "', got '", Peek().s, "'"));
    Next();
  }

  NodeP Make(NodeKind k, std::string text = "", std::vector<NodeP> kids = {}) {
    nodes_ += 1;
    if (nodes_ > kMaxNodes) throw ParseError{true, "too_complex: more than 2000 nodes", Peek().pos};
    return MakeNode(k, std::move(text), std::move(kids));
  }

  // Flattening constructors keep Add/Mul canonical (no Add kid in an Add, no Mul kid in a Mul).
  NodeP Combine(NodeKind k, NodeP a, NodeP b) {
    std::vector<NodeP> kids;
    for (NodeP* x : {&a, &b}) {
      if ((*x)->kind == k) {
        kids.insert(kids.end(), (*x)->kids.begin(), (*x)->kids.end());
      } else {
        kids.push_back(*x);
      }
    }
    return Make(k, "", std::move(kids));
  }

  std::vector<NodeP> Seq() {
    DepthGuard g(this);
    std::vector<NodeP> items;
    items.push_back(Item());
    while (IsChar(",") || IsChar(";")) {
      Next();
      items.push_back(Item());
    }
    return items;
  }

  NodeP Item() {
    NodeP first = Chain();
    if (!IsChar(":")) return first;
    std::vector<NodeP> parts{first};
    while (IsChar(":")) {
      Next();
      parts.push_back(Chain());
    }
    return Make(NodeKind::kTuple, "", std::move(parts));
  }

  bool PeekRelOp(RelOp* op, int* len) const {
    const Token& t = Peek();
    *len = 1;
    if (t.t == Tok::kChar) {
      if (t.s == "=") return *op = RelOp::kEq, true;
      if (t.s == "<") {
        if (IsChar("=", 1)) return *op = RelOp::kLe, *len = 2, true;
        return *op = RelOp::kLt, true;
      }
      if (t.s == ">") {
        if (IsChar("=", 1)) return *op = RelOp::kGe, *len = 2, true;
        return *op = RelOp::kGt, true;
      }
      return false;
    }
    if (t.t != Tok::kCmd) return false;
    if (t.s == "le" || t.s == "leq" || t.s == "leqslant") return *op = RelOp::kLe, true;
    if (t.s == "ge" || t.s == "geq" || t.s == "geqslant") return *op = RelOp::kGe, true;
    if (t.s == "lt") return *op = RelOp::kLt, true;
    if (t.s == "gt") return *op = RelOp::kGt, true;
    if (t.s == "ne" || t.s == "neq") return *op = RelOp::kNe, true;
    if (t.s == "in") return *op = RelOp::kIn, true;
    if (t.s == "approx") return *op = RelOp::kApprox, true;
    return false;
  }

  NodeP Chain() {
    NodeP first = Union();
    RelOp op;
    int len;
    if (!PeekRelOp(&op, &len)) return first;
    auto rel = std::make_shared<Node>();
    rel->kind = NodeKind::kRelation;
    rel->kids.push_back(first);
    while (PeekRelOp(&op, &len)) {
      for (int k = 0; k < len; ++k) Next();
      rel->ops.push_back(op);
      rel->kids.push_back(Union());
    }
    nodes_ += 1;
    return rel;
  }

  NodeP Union() {
    NodeP a = Additive();
    if (!IsCmd("cup")) return a;
    std::vector<NodeP> parts{a};
    while (IsCmd("cup")) {
      Next();
      parts.push_back(Additive());
    }
    return Make(NodeKind::kUnion, "", std::move(parts));
  }

  bool IsPm() const { return IsCmd("pm") || IsCmd("mp"); }

  NodeP Additive() {
    DepthGuard g(this);
    NodeP r = Signed();
    while (true) {
      if (IsChar("+")) {
        Next();
        r = Combine(NodeKind::kAdd, r, Signed());
      } else if (IsChar("-")) {
        Next();
        NodeP t = Signed();
        r = Combine(NodeKind::kAdd, r, Make(NodeKind::kNeg, "", {t}));
      } else if (IsPm()) {
        Next();
        r = Make(NodeKind::kPlusMinus, "", {r, Signed()});
      } else {
        return r;
      }
    }
  }

  NodeP Signed() {
    DepthGuard g(this);
    if (IsChar("-")) {
      Next();
      return Make(NodeKind::kNeg, "", {Signed()});
    }
    if (IsChar("+")) {
      Next();
      return Signed();
    }
    if (IsPm()) {
      Next();
      return Make(NodeKind::kPlusMinus, "", {Signed()});
    }
    return Term();
  }

  bool CanStartImplicit() const {
    const Token& t = Peek();
    switch (t.t) {
      case Tok::kLetter:
      case Tok::kWord:
        return true;
      case Tok::kChar:
        return t.s == "(" || (t.s == "|" && abs_depth_ == 0);
      case Tok::kCmd: {
        const std::string& s = t.s;
        return s == "frac" || s == "sqrt" || s == "binom" || s == "pi" || IsGreek(s) || IsFunctionName(s) ||
               s == "lvert" || s == "lfloor" || s == "lceil" || s == "operatorname" || s == "infty";
      }
      default:
        return false;
    }
  }

  bool NextIsFunction() const {
    const Token& t = Peek();
    return (t.t == Tok::kWord || t.t == Tok::kCmd) && IsFunctionName(t.s);
  }

  NodeP SignedFactor() {
    if (IsChar("-")) {
      Next();
      return Make(NodeKind::kNeg, "", {SignedFactor()});
    }
    return Factor();
  }

  NodeP Term() {
    DepthGuard g(this);
    bool plain_integer = Peek().t == Tok::kNum && Peek().s.find('.') == std::string::npos;
    NodeP r = Factor();
    plain_integer = plain_integer && r->kind == NodeKind::kNumber;
    while (true) {
      if (IsChar("*") || IsCmd("cdot") || IsCmd("times") || IsCmd("ast")) {
        Next();
        r = Combine(NodeKind::kMul, r, SignedFactor());
      } else if (IsChar("/") || IsCmd("div")) {
        Next();
        r = Make(NodeKind::kDiv, "", {r, SignedFactor()});
      } else if (CanStartImplicit()) {
        bool frac_next = IsCmd("frac");
        NodeP f = Factor();
        // Mixed number "3\frac{1}{2}" = 3 + 1/2 (answer keys write it so).
        if (plain_integer && frac_next && f->kind == NodeKind::kDiv &&
            f->kids[0]->kind == NodeKind::kNumber && f->kids[1]->kind == NodeKind::kNumber &&
            f->kids[0]->text.find('.') == std::string::npos &&
            f->kids[1]->text.find('.') == std::string::npos) {
          r = Make(NodeKind::kAdd, "", {r, f});
        } else {
          r = Combine(NodeKind::kMul, r, f);
        }
      } else {
        return r;
      }
      plain_integer = false;
    }
  }

  NodeP Factor() {
    DepthGuard g(this);
    NodeP base = Postfix();
    if (IsChar("^")) {
      Next();
      NodeP e = Exponent();
      base = Make(NodeKind::kPow, "", {base, e});
      if (IsChar("^")) Fail("ambiguous double exponent");
      while (IsChar("!")) {
        Next();
        base = Make(NodeKind::kFactorial, "", {base});
      }
    }
    return base;
  }

  NodeP Exponent() {
    if (IsChar("{")) return Braced();
    if (IsChar("-")) {
      Next();
      return Make(NodeKind::kNeg, "", {Exponent()});
    }
    return Primary();
  }

  // "{" seq "}" with exactly one item (a group).
  NodeP Braced() {
    Expect("{");
    std::vector<NodeP> items = Seq();
    Expect("}");
    if (items.size() != 1) Fail("a braced argument must hold one expression");
    return items[0];
  }

  NodeP Postfix() {
    NodeP a = Primary();
    while (true) {
      if (IsChar("!")) {
        Next();
        a = Make(NodeKind::kFactorial, "", {a});
      } else if (Peek().t == Tok::kPercent) {
        Next();
        a = Make(NodeKind::kPercent, "", {a});
      } else {
        return a;
      }
    }
  }

  // A macro argument: {..} or a single token (\frac12: the first digit only).
  NodeP Arg() {
    if (IsChar("{")) return Braced();
    Token& t = t_[std::min(i_, t_.size() - 1)];
    if (t.t == Tok::kNum) {
      if (t.s.size() > 1 && t.s[0] != '.' && IsDigit(t.s[1])) {
        std::string first(1, t.s[0]);
        t.s = t.s.substr(1);
        return Make(NodeKind::kNumber, first);
      }
      if (t.s.size() > 1 && t.s[1] == '.') Fail("ambiguous unbraced decimal argument");
      Next();
      return Make(NodeKind::kNumber, CanonicalDigits(t.s));
    }
    if (t.t == Tok::kLetter || (t.t == Tok::kCmd && (t.s == "pi" || IsGreek(t.s)))) return Primary();
    Fail("expected a macro argument, got '" + t.s + "'");
  }

  std::string Subscript() {
    // After '_': {raw text} or one token. A braced subscript is kept as its source text with whitespace
    // runs collapsed: re-lexing printed tokens lost \text{} wrappers and joined numbers (the fuzzer's
    // round-trip finding, issue 15), while the source text re-parses to itself.
    if (IsChar("{")) {
      const size_t open = Next().pos;
      int depth = 1;
      while (Peek().t != Tok::kEnd) {
        if (IsChar("{")) ++depth;
        if (IsChar("}") && --depth == 0) break;
        Next();
      }
      const size_t close = Peek().pos;
      Expect("}");
      std::string sub;
      for (char c : src_.substr(open + 1, close - open - 1)) {
        const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
        if (space && (sub.empty() || sub.back() == ' ')) continue;
        sub += space ? ' ' : c;
      }
      while (!sub.empty() && sub.back() == ' ') sub.pop_back();
      if (sub.empty()) Fail("empty subscript");
      return sub;
    }
    const Token& t = Peek();
    if (t.t == Tok::kNum || t.t == Tok::kLetter) {
      Next();
      return t.s;
    }
    Fail("bad subscript");
  }

  NodeP SymbolWithSub(std::string name) {
    if (IsChar("_")) {
      Next();
      name += "_{" + Subscript() + "}";
      return Make(NodeKind::kSymbol, name);
    }
    return nullptr;
  }

  NodeP Function(std::string name) {
    DepthGuard g(this);
    NodeP base;
    if (name == "log" && IsChar("_")) {
      Next();
      base = IsChar("{") ? Braced() : Arg();
    }
    NodeP power;
    if (IsChar("^")) {
      Next();
      power = Exponent();
      // \sin^{-1} x is arcsin x (the inverse function, not 1 / \sin x).
      if ((name == "sin" || name == "cos" || name == "tan") && power->kind == NodeKind::kNeg &&
          power->kids[0]->kind == NodeKind::kNumber && power->kids[0]->text == "1") {
        name = "arc" + name;
        power = nullptr;
      }
    }
    NodeP arg;
    if (IsChar("(")) {
      arg = Primary();
    } else {
      if (!CanStartImplicit() && Peek().t != Tok::kNum) Fail("function " + name + " needs an argument");
      // "\sin 2x \cos x": an unbraced argument is an implicit product that stops at the next function.
      arg = Factor();
      while (CanStartImplicit() && !NextIsFunction()) arg = Combine(NodeKind::kMul, arg, Factor());
    }
    NodeP f = base ? Make(NodeKind::kFunc, "logb", {arg, base}) : Make(NodeKind::kFunc, name, {arg});
    if (power) f = Make(NodeKind::kPow, "", {f, power});
    return f;
  }

  NodeP Group(const char* open) {
    // After '(' or '[': items then ')' or ']'.
    Next();
    std::vector<NodeP> items = Seq();
    bool close_paren = IsChar(")");
    if (!close_paren && !IsChar("]")) Fail(absl::StrCat("expected ')' or ']', got '", Peek().s, "'"));
    Next();
    bool open_paren = std::string(open) == "(";
    if (items.size() == 1) {
      if (open_paren != close_paren) Fail("mismatched brackets around one expression");
      return items[0];
    }
    if (items.size() == 2 && (!open_paren || !close_paren)) {
      auto n = std::make_shared<Node>();
      n->kind = NodeKind::kInterval;
      n->kids = std::move(items);
      n->left_closed = !open_paren;
      n->right_closed = !close_paren;
      nodes_ += 1;
      return n;
    }
    if (open_paren != close_paren) Fail("mismatched brackets");
    return Make(NodeKind::kTuple, "", std::move(items));
  }

  NodeP Matrix(const std::string& env) {
    std::vector<std::vector<NodeP>> rows(1);
    while (true) {
      if (Peek().t == Tok::kCmd && Peek().s == "end:" + env) {
        Next();
        break;
      }
      if (Peek().t == Tok::kEnd) Fail("unterminated matrix");
      rows.back().push_back(Additive());
      if (IsChar("&")) {
        Next();
      } else if (Peek().t == Tok::kRowSep) {
        Next();
        rows.emplace_back();
      } else if (!(Peek().t == Tok::kCmd && Peek().s == "end:" + env)) {
        Fail("bad matrix cell separator '" + Peek().s + "'");
      }
    }
    if (rows.back().empty()) rows.pop_back();
    if (rows.empty()) Fail("empty matrix");
    size_t cols = rows[0].size();
    auto n = std::make_shared<Node>();
    n->kind = NodeKind::kMatrix;
    for (auto& r : rows) {
      if (r.size() != cols) Fail("ragged matrix");
      for (auto& c : r) n->kids.push_back(c);
    }
    n->rows = static_cast<int>(rows.size());
    n->cols = static_cast<int>(cols);
    nodes_ += 1;
    return n;
  }

  NodeP Closed(NodeKind kind, const char* func, const char* close_cmd) {
    ++abs_depth_;
    NodeP inner = Additive();
    --abs_depth_;
    if (!IsCmd(close_cmd)) Fail(absl::StrCat("expected \\", close_cmd));
    Next();
    if (kind == NodeKind::kAbs) return Make(NodeKind::kAbs, "", {inner});
    return Make(NodeKind::kFunc, func, {inner});
  }

  NodeP Primary() {
    DepthGuard g(this);
    const Token t = Peek();
    switch (t.t) {
      case Tok::kNum:
        Next();
        return Make(NodeKind::kNumber, CanonicalDigits(t.s));
      case Tok::kLetter: {
        Next();
        std::string name = t.s;
        while (IsChar("'")) {  // primes: f', y''
          Next();
          name += "'";
        }
        if (NodeP s = SymbolWithSub(name)) return s;
        if (name == "e" || name == "i") return Make(NodeKind::kConst, name);
        return Make(NodeKind::kSymbol, name);
      }
      case Tok::kWord:
        Next();
        if (t.s == "pi") return Make(NodeKind::kConst, "pi");
        if (t.s == "sqrt") return Make(NodeKind::kFunc, "sqrt", {Arg()});
        return Function(t.s);
      case Tok::kText: {
        Next();
        std::string words;
        for (char c : t.s) {
          if (c == ' ' && (words.empty() || words.back() == ' ')) continue;
          words += c;
        }
        while (!words.empty() && words.back() == ' ') words.pop_back();
        if (words.empty()) Fail("empty \\text{}");
        bool numeric = true;
        for (char c : words) numeric = numeric && (IsDigit(c) || c == '.');
        if (numeric && words.find('.') == words.rfind('.') && IsDigit(words.back()))
          return Make(NodeKind::kNumber, CanonicalDigits(words));
        for (char c : words)
          if (c == '{' || c == '}' || c == '\\') Fail("unsupported \\text content");
        return Make(NodeKind::kText, words);
      }
      case Tok::kSetOpen: {
        Next();
        std::vector<NodeP> items;
        if (Peek().t != Tok::kSetClose) items = Seq();
        if (Peek().t != Tok::kSetClose) Fail("expected \\}");
        Next();
        return Make(NodeKind::kSet, "", std::move(items));
      }
      case Tok::kChar: {
        if (t.s == "(" || t.s == "[") return Group(t.s.c_str());
        if (t.s == "{") {
          Next();
          std::vector<NodeP> items = Seq();
          Expect("}");
          if (items.size() == 1) return items[0];
          return Make(NodeKind::kSet, "", std::move(items));
        }
        if (t.s == "|") {
          Next();
          ++abs_depth_;
          NodeP inner = Additive();
          --abs_depth_;
          Expect("|");
          return Make(NodeKind::kAbs, "", {inner});
        }
        Fail("unexpected '" + t.s + "'");
      }
      case Tok::kCmd:
        return Command();
      default:
        Fail("unexpected end of answer");
    }
  }

  NodeP Command() {
    const Token t = Next();
    const std::string& c = t.s;
    if (c == "frac") {
      NodeP a = Arg();
      NodeP b = Arg();
      return Make(NodeKind::kDiv, "", {a, b});
    }
    if (c == "sqrt") {
      if (IsChar("[")) {
        Next();
        NodeP n = Additive();
        Expect("]");
        return Make(NodeKind::kFunc, "root", {Arg(), n});
      }
      return Make(NodeKind::kFunc, "sqrt", {Arg()});
    }
    if (c == "binom") {
      NodeP a = Arg();
      NodeP b = Arg();
      return Make(NodeKind::kFunc, "binom", {a, b});
    }
    if (c == "pi") return Make(NodeKind::kConst, "pi");
    if (c == "infty" || c == "infinity") return Make(NodeKind::kInfinity);
    if (c == "ldots" || c == "cdots" || c == "dots") return Make(NodeKind::kEllipsis);
    if (IsGreek(c)) {
      if (NodeP s = SymbolWithSub("\\" + c)) return s;
      return Make(NodeKind::kSymbol, "\\" + c);
    }
    if (IsFunctionName(c)) return Function(c);
    if (c == "operatorname") {
      if (!IsChar("{")) Fail("expected {name} after \\operatorname");
      Next();
      std::string name;
      while (Peek().t == Tok::kLetter || Peek().t == Tok::kWord) name += Next().s;
      Expect("}");
      if (name == "floor" || name == "ceil") {
        NodeP arg = Primary();
        return Make(NodeKind::kFunc, name, {arg});
      }
      if (IsFunctionName(name)) return Function(name);
      Fail("unknown operator " + name);
    }
    if (c == "lvert" || c == "vert") return Closed(NodeKind::kAbs, "", c == "lvert" ? "rvert" : "vert");
    if (c == "lfloor") return Closed(NodeKind::kFunc, "floor", "rfloor");
    if (c == "lceil") return Closed(NodeKind::kFunc, "ceil", "rceil");
    if (c == "begin:pmatrix" || c == "begin:bmatrix" || c == "begin:matrix" || c == "begin:Bmatrix" ||
        c == "begin:array")
      return Matrix(c.substr(6));
    throw ParseError{false, "unsupported command \\" + c, t.pos};
  }

  std::string_view src_;
  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  int nodes_ = 0;
  int abs_depth_ = 0;
};

}  // namespace

absl::StatusOr<NodeP> ParseAnswer(std::string_view normalized, const ParseOptions& options) {
  if (normalized.size() > kMaxSpanBytes)
    return absl::ResourceExhaustedError(
        absl::StrCat("too_complex: answer span of ", normalized.size(), " bytes exceeds 2048"));
  try {
    std::vector<Token> toks = Lexer(normalized, options).Run();
    if (toks.size() == 1) return absl::InvalidArgumentError("parse error at byte 0: empty answer");
    return Parser(normalized, std::move(toks)).Top();
  } catch (const ParseError& e) {
    if (e.too_complex) return absl::ResourceExhaustedError(e.message);
    return absl::InvalidArgumentError(absl::StrCat("parse error at byte ", e.pos, ": ", e.message));
  }
}

}  // namespace m1rl::reward::math
