#include "reward/math/ast.h"

#include <utility>

namespace m1rl::reward::math {

NodeP MakeNode(NodeKind kind, std::string text, std::vector<NodeP> kids) {
  auto n = std::make_shared<Node>();
  n->kind = kind;
  n->text = std::move(text);
  n->kids = std::move(kids);
  return n;
}

NodeP MakeNumber(std::string digits) { return MakeNode(NodeKind::kNumber, std::move(digits)); }

const char* RelOpString(RelOp op) {
  switch (op) {
    case RelOp::kEq:
      return "=";
    case RelOp::kLt:
      return "<";
    case RelOp::kLe:
      return "\\le";
    case RelOp::kGt:
      return ">";
    case RelOp::kGe:
      return "\\ge";
    case RelOp::kNe:
      return "\\ne";
    case RelOp::kIn:
      return "\\in";
    case RelOp::kApprox:
      return "\\approx";
  }
  return "?";
}

namespace {

bool IsAtomic(const Node& n) {
  switch (n.kind) {
    case NodeKind::kNumber:
    case NodeKind::kSymbol:
    case NodeKind::kConst:
    case NodeKind::kInfinity:
    case NodeKind::kText:
    case NodeKind::kEllipsis:
    case NodeKind::kFunc:
    case NodeKind::kAbs:
    case NodeKind::kTuple:
    case NodeKind::kSet:
    case NodeKind::kInterval:
    case NodeKind::kMatrix:
    case NodeKind::kDiv:  // printed as \frac{}{}
      return true;
    default:
      return false;
  }
}

std::string Paren(const Node& n) { return IsAtomic(n) ? Print(n) : "(" + Print(n) + ")"; }

std::string Join(const std::vector<NodeP>& kids, const char* sep) {
  std::string out;
  for (size_t i = 0; i < kids.size(); ++i) {
    if (i > 0) out += sep;
    out += Print(*kids[i]);
  }
  return out;
}

}  // namespace

std::string Print(const Node& n) {
  switch (n.kind) {
    case NodeKind::kNumber:
    case NodeKind::kSymbol:
      return n.text;
    case NodeKind::kConst:
      return n.text == "pi" ? "\\pi" : n.text;
    case NodeKind::kInfinity:
      return "\\infty";
    case NodeKind::kText:
      return "\\text{" + n.text + "}";
    case NodeKind::kEllipsis:
      return "\\ldots";
    case NodeKind::kAdd: {
      std::string out;
      for (size_t i = 0; i < n.kids.size(); ++i) {
        const Node& k = *n.kids[i];
        if (i > 0 && k.kind == NodeKind::kNeg) {
          const Node& inner = *k.kids[0];
          bool paren = inner.kind == NodeKind::kAdd || inner.kind == NodeKind::kNeg ||
                       inner.kind == NodeKind::kPlusMinus || inner.kind == NodeKind::kRelation;
          out += " - " + (paren ? "(" + Print(inner) + ")" : Print(inner));
          continue;
        }
        bool paren =
            k.kind == NodeKind::kAdd || k.kind == NodeKind::kPlusMinus || k.kind == NodeKind::kRelation;
        if (i > 0) out += " + ";
        out += paren ? "(" + Print(k) + ")" : Print(k);
      }
      return out;
    }
    case NodeKind::kNeg: {
      const Node& inner = *n.kids[0];
      bool paren = inner.kind == NodeKind::kAdd || inner.kind == NodeKind::kNeg ||
                   inner.kind == NodeKind::kPlusMinus || inner.kind == NodeKind::kRelation;
      return "-" + (paren ? "(" + Print(inner) + ")" : Print(inner));
    }
    case NodeKind::kMul: {
      std::string out;
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i > 0) out += " \\cdot ";
        const Node& k = *n.kids[i];
        bool paren = k.kind == NodeKind::kAdd || k.kind == NodeKind::kNeg || k.kind == NodeKind::kMul ||
                     k.kind == NodeKind::kPlusMinus || k.kind == NodeKind::kRelation ||
                     k.kind == NodeKind::kUnion || k.kind == NodeKind::kList;
        out += paren ? "(" + Print(k) + ")" : Print(k);
      }
      return out;
    }
    case NodeKind::kDiv:
      return "\\frac{" + Print(*n.kids[0]) + "}{" + Print(*n.kids[1]) + "}";
    case NodeKind::kPow:
      return Paren(*n.kids[0]) + "^{" + Print(*n.kids[1]) + "}";
    case NodeKind::kFunc: {
      const std::string& f = n.text;
      if (f == "sqrt") return "\\sqrt{" + Print(*n.kids[0]) + "}";
      if (f == "root") return "\\sqrt[" + Print(*n.kids[1]) + "]{" + Print(*n.kids[0]) + "}";
      if (f == "binom") return "\\binom{" + Print(*n.kids[0]) + "}{" + Print(*n.kids[1]) + "}";
      if (f == "logb") return "\\log_{" + Print(*n.kids[1]) + "}(" + Print(*n.kids[0]) + ")";
      if (f == "floor" || f == "ceil") return "\\operatorname{" + f + "}(" + Print(*n.kids[0]) + ")";
      return "\\" + f + "(" + Print(*n.kids[0]) + ")";
    }
    case NodeKind::kFactorial:
      return Paren(*n.kids[0]) + "!";
    case NodeKind::kAbs:
      return "\\lvert " + Print(*n.kids[0]) + "\\rvert";
    case NodeKind::kPercent:
      return Paren(*n.kids[0]) + "\\%";
    case NodeKind::kPlusMinus: {
      if (n.kids.size() == 1) {
        const Node& inner = *n.kids[0];
        bool paren = inner.kind == NodeKind::kAdd || inner.kind == NodeKind::kNeg ||
                     inner.kind == NodeKind::kPlusMinus || inner.kind == NodeKind::kRelation;
        return "\\pm " + (paren ? "(" + Print(inner) + ")" : Print(inner));
      }
      const Node& r = *n.kids[1];
      bool paren = r.kind == NodeKind::kAdd || r.kind == NodeKind::kNeg || r.kind == NodeKind::kPlusMinus ||
                   r.kind == NodeKind::kRelation;
      const Node& l = *n.kids[0];
      bool lparen = l.kind == NodeKind::kRelation;
      return (lparen ? "(" + Print(l) + ")" : Print(l)) + " \\pm " +
             (paren ? "(" + Print(r) + ")" : Print(r));
    }
    case NodeKind::kTuple:
      return "(" + Join(n.kids, ", ") + ")";
    case NodeKind::kList:
      return Join(n.kids, ", ");
    case NodeKind::kSet:
      return "\\{" + Join(n.kids, ", ") + "\\}";
    case NodeKind::kInterval:
      return std::string(n.left_closed ? "[" : "(") + Join(n.kids, ", ") + (n.right_closed ? "]" : ")");
    case NodeKind::kUnion: {
      std::string out;
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i > 0) out += " \\cup ";
        const Node& k = *n.kids[i];
        bool paren = k.kind == NodeKind::kUnion || k.kind == NodeKind::kRelation || k.kind == NodeKind::kList;
        out += paren ? "(" + Print(k) + ")" : Print(k);
      }
      return out;
    }
    case NodeKind::kMatrix: {
      std::string out = "\\begin{pmatrix}";
      for (int r = 0; r < n.rows; ++r) {
        if (r > 0) out += " \\\\ ";
        for (int c = 0; c < n.cols; ++c) {
          if (c > 0) out += " & ";
          out += Print(*n.kids[r * n.cols + c]);
        }
      }
      return out + "\\end{pmatrix}";
    }
    case NodeKind::kRelation: {
      std::string out;
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i > 0) out += std::string(" ") + RelOpString(n.ops[i - 1]) + " ";
        const Node& k = *n.kids[i];
        bool paren = k.kind == NodeKind::kRelation || k.kind == NodeKind::kList;
        out += paren ? "(" + Print(k) + ")" : Print(k);
      }
      return out;
    }
  }
  return "?";
}

int CountNodes(const Node& n) {
  int c = 1;
  for (const auto& k : n.kids) c += CountNodes(*k);
  return c;
}

bool HasDecimal(const Node& n) {
  if (n.kind == NodeKind::kNumber) return n.text.find('.') != std::string::npos;
  for (const auto& k : n.kids)
    if (HasDecimal(*k)) return true;
  return false;
}

bool HasSymbol(const Node& n) {
  if (n.kind == NodeKind::kSymbol) return true;
  for (const auto& k : n.kids)
    if (HasSymbol(*k)) return true;
  return false;
}

bool IsCollection(const Node& n) {
  switch (n.kind) {
    case NodeKind::kTuple:
    case NodeKind::kList:
    case NodeKind::kSet:
    case NodeKind::kInterval:
    case NodeKind::kUnion:
    case NodeKind::kMatrix:
      return true;
    default:
      return false;
  }
}

bool IsScalar(const Node& n) {
  if (IsCollection(n)) return false;
  switch (n.kind) {
    case NodeKind::kRelation:
    case NodeKind::kPlusMinus:
    case NodeKind::kText:
    case NodeKind::kEllipsis:
      return false;
    default:
      break;
  }
  for (const auto& k : n.kids)
    if (!IsScalar(*k)) return false;
  return true;
}

}  // namespace m1rl::reward::math
