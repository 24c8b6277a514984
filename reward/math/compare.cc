#include "reward/math/compare.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "reward/math/exact.h"

namespace m1rl::reward::math {
namespace {

using K = Decision::Kind;

Decision D(K k, std::string layer, std::string reason = "") {
  return Decision{k, std::move(layer), std::move(reason)};
}

bool Fatal(const Decision& d) {
  return d.kind == K::kTooComplex || d.kind == K::kTimeout || d.kind == K::kCancelled || d.kind == K::kError;
}

uint64_t Fnv1a(const std::string& a, const std::string& b) {
  uint64_t h = 1469598103934665603ULL;
  for (const std::string* s : {&a, &b}) {
    for (unsigned char c : *s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  }
  return h;
}

bool HasKind(const Node& n, NodeKind k) {
  if (n.kind == k) return true;
  for (const auto& c : n.kids)
    if (HasKind(*c, k)) return true;
  return false;
}

bool IsInequalityOp(RelOp op) {
  return op == RelOp::kLt || op == RelOp::kLe || op == RelOp::kGt || op == RelOp::kGe;
}

RelOp Flip(RelOp op) {
  switch (op) {
    case RelOp::kLt:
      return RelOp::kGt;
    case RelOp::kLe:
      return RelOp::kGe;
    case RelOp::kGt:
      return RelOp::kLt;
    case RelOp::kGe:
      return RelOp::kLe;
    default:
      return op;
  }
}

bool AllOps(const Node& r, bool (*pred)(RelOp)) {
  for (RelOp op : r.ops)
    if (!pred(op)) return false;
  return true;
}

// Chains written with > / >= are reversed so that they read with < / <=.
NodeP NormalizeDirection(const NodeP& r) {
  if (r->ops.empty() || !(r->ops[0] == RelOp::kGt || r->ops[0] == RelOp::kGe)) return r;
  auto n = std::make_shared<Node>(*r);
  std::reverse(n->kids.begin(), n->kids.end());
  std::reverse(n->ops.begin(), n->ops.end());
  for (RelOp& op : n->ops) op = Flip(op);
  return n;
}

NodeP MakeInterval(NodeP lo, NodeP hi, bool lc, bool rc) {
  if (!lc && !rc) return MakeNode(NodeKind::kTuple, "", {std::move(lo), std::move(hi)});
  auto n = std::make_shared<Node>();
  n->kind = NodeKind::kInterval;
  n->kids = {std::move(lo), std::move(hi)};
  n->left_closed = lc;
  n->right_closed = rc;
  return n;
}

// "a < x <= b", "x > 3", "3 \ge x" over one symbol with constant bounds -> the interval; else null.
NodeP InequalityToInterval(const NodeP& rel) {
  if (!AllOps(*rel, IsInequalityOp)) return nullptr;
  NodeP r = NormalizeDirection(rel);
  auto inf = MakeNode(NodeKind::kInfinity);
  auto ninf = MakeNode(NodeKind::kNeg, "", {inf});
  if (r->kids.size() == 3 && r->kids[1]->kind == NodeKind::kSymbol && !HasSymbol(*r->kids[0]) &&
      !HasSymbol(*r->kids[2]) && (r->ops[0] == RelOp::kLt || r->ops[0] == RelOp::kLe) &&
      (r->ops[1] == RelOp::kLt || r->ops[1] == RelOp::kLe))
    return MakeInterval(r->kids[0], r->kids[2], r->ops[0] == RelOp::kLe, r->ops[1] == RelOp::kLe);
  if (r->kids.size() != 2) return nullptr;
  bool le = r->ops[0] == RelOp::kLe;
  if (r->kids[0]->kind == NodeKind::kSymbol && !HasSymbol(*r->kids[1]))
    return MakeInterval(ninf, r->kids[1], false, le);
  if (r->kids[1]->kind == NodeKind::kSymbol && !HasSymbol(*r->kids[0]))
    return MakeInterval(r->kids[0], inf, le, false);
  return nullptr;
}

// Expands every \pm into the set of values (at most 16).
std::vector<NodeP> ExpandPm(const NodeP& n) {
  if (n->kind == NodeKind::kPlusMinus) {
    std::vector<NodeP> out;
    if (n->kids.size() == 1) {
      for (const NodeP& v : ExpandPm(n->kids[0])) {
        out.push_back(v);
        out.push_back(MakeNode(NodeKind::kNeg, "", {v}));
      }
    } else {
      for (const NodeP& a : ExpandPm(n->kids[0]))
        for (const NodeP& b : ExpandPm(n->kids[1])) {
          out.push_back(MakeNode(NodeKind::kAdd, "", {a, b}));
          out.push_back(MakeNode(NodeKind::kAdd, "", {a, MakeNode(NodeKind::kNeg, "", {b})}));
        }
    }
    if (out.size() > 16) out.resize(16);
    return out;
  }
  if (!HasKind(*n, NodeKind::kPlusMinus)) return {n};
  std::vector<std::vector<NodeP>> partial{{}};
  for (const NodeP& k : n->kids) {
    std::vector<std::vector<NodeP>> next;
    for (const auto& pre : partial)
      for (const NodeP& v : ExpandPm(k)) {
        if (next.size() >= 16) break;
        auto p = pre;
        p.push_back(v);
        next.push_back(std::move(p));
      }
    partial = std::move(next);
  }
  std::vector<NodeP> out;
  for (auto& kids : partial) {
    auto c = std::make_shared<Node>(*n);
    c->kids = std::move(kids);
    out.push_back(c);
  }
  return out;
}

// The left side of "lhs = v" names a quantity: a symbol ("k", "a_{3}", "f'"), or a product led by a
// symbol with no coefficient or operator ("f(2)", "AB", "P(A)"); not "3k", "x + y", "x^2".
bool NamesQuantity(const Node& lhs) {
  if (lhs.kind == NodeKind::kSymbol) return true;
  if (lhs.kind == NodeKind::kTuple) {  // "(x, y) = (2, 3)"
    for (const NodeP& k : lhs.kids)
      if (k->kind != NodeKind::kSymbol) return false;
    return true;
  }
  if (lhs.kind != NodeKind::kMul || lhs.kids[0]->kind != NodeKind::kSymbol) return false;
  for (const NodeP& k : lhs.kids)
    if (k->kind != NodeKind::kSymbol && k->kind != NodeKind::kNumber && k->kind != NodeKind::kConst)
      return false;
  return true;
}

// "2 \cdot 3 = 6": every side but the last is free of symbols.
bool SymbolFreeChain(const Node& rel) {
  for (size_t i = 0; i + 1 < rel.kids.size(); ++i)
    if (HasSymbol(*rel.kids[i])) return false;
  return true;
}

// A word or choice-letter answer, lower case without blanks and enclosing brackets: \text{(C)} -> "c",
// \text{Monday} -> "monday"; a symbol or a product of one-letter symbols written without \text{} reads the
// same ("C", "Monday" = M*o*n*d*a*y). Anything else: nullopt.
std::optional<std::string> Word(const Node& n) {
  std::string w;
  if (n.kind == NodeKind::kText) {
    for (char c : n.text)
      if (c != ' ') w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (w.size() >= 3 && ((w.front() == '(' && w.back() == ')') || (w.front() == '[' && w.back() == ']')))
      w = w.substr(1, w.size() - 2);
    if (!w.empty() && w.back() == '.') w.pop_back();
  } else {
    auto letter = [](const Node& k) {
      return (k.kind == NodeKind::kSymbol || k.kind == NodeKind::kConst) && k.text.size() == 1 &&
             std::isalpha(static_cast<unsigned char>(k.text[0]));
    };
    if (letter(n)) {
      w = n.text;
    } else if (n.kind == NodeKind::kMul) {
      for (const NodeP& k : n.kids) {
        if (!letter(*k)) return std::nullopt;
        w += k->text;
      }
    }
    w = absl::AsciiStrToLower(w);
  }
  if (w.empty()) return std::nullopt;
  for (char c : w)
    if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
  return w;
}

// "a \approx v" chains read as their exact part: the kids before the first \approx ("x = 2\pi \approx
// 6.28" -> x = 2\pi; "\frac{\sqrt3}{3} \approx 0.577" -> \frac{\sqrt3}{3}); "x \approx 6.28" -> x = 6.28.
NodeP StripApprox(const NodeP& n) {
  if (n->kind != NodeKind::kRelation) return n;
  auto first = std::find(n->ops.begin(), n->ops.end(), RelOp::kApprox);
  if (first == n->ops.end()) return n;
  size_t k = first - n->ops.begin();
  if (k == 0) {
    if (n->kids[0]->kind != NodeKind::kSymbol) return n->kids[0];
    auto rel = std::make_shared<Node>(*n);
    rel->kids = {n->kids[0], n->kids[1]};
    rel->ops = {RelOp::kEq};
    return rel;
  }
  auto rel = std::make_shared<Node>(*n);
  rel->kids.assign(n->kids.begin(), n->kids.begin() + k + 1);
  rel->ops.assign(n->ops.begin(), n->ops.begin() + k);
  return rel;
}

// A list of assignments against a gold list, set or tuple of values: the values ("x_1 = 2, x_2 = 3" ->
// 2, 3; "x = 2, y = 3" against the point (2, 3) compares in order).
NodeP AssignedValues(const NodeP& gold, const NodeP& pred) {
  if (pred->kind != NodeKind::kList ||
      (gold->kind != NodeKind::kList && gold->kind != NodeKind::kSet && gold->kind != NodeKind::kTuple))
    return pred;
  for (const NodeP& k : gold->kids)
    if (k->kind == NodeKind::kRelation) return pred;
  std::vector<NodeP> values;
  for (const NodeP& k : pred->kids) {
    if (!IsAssignment(*k)) return pred;
    values.push_back(k->kids[1]);
  }
  return MakeNode(NodeKind::kList, "", std::move(values));
}

class Comparer {
 public:
  Comparer(const CompareOptions& o, CasRunner* cas, const CheckContext& ctx) : o_(o), cas_(cas), ctx_(ctx) {}

  Decision Cmp(const NodeP& g, const NodeP& p) {
    struct Depth {
      explicit Depth(int& d) : d(d) { ++d; }
      ~Depth() { --d; }
      int& d;
    } depth(depth_);
    if (depth_ > 64) return D(K::kTooComplex, "structure", "too_complex: comparison nested deeper than 64");
    if (ctx_.Cancelled()) return D(K::kCancelled, "cancelled");
    if (ctx_.Expired()) return D(K::kTimeout, "deadline");
    if (Print(*g) == Print(*p)) return D(K::kEqual, "string", "canonical forms equal");
    if (g->kind == NodeKind::kRelation || p->kind == NodeKind::kRelation) return Relation(g, p);
    if (HasKind(*g, NodeKind::kPlusMinus) || HasKind(*p, NodeKind::kPlusMinus)) {
      NodeP gs = HasKind(*g, NodeKind::kPlusMinus) ? MakeNode(NodeKind::kSet, "", ExpandPm(g)) : g;
      NodeP ps = HasKind(*p, NodeKind::kPlusMinus) ? MakeNode(NodeKind::kSet, "", ExpandPm(p)) : p;
      if (!IsCollection(*gs) || !IsCollection(*ps))
        return D(K::kUnequal, "structure", "\\pm set vs a single value");
      return Structure(gs, ps);
    }
    if (IsCollection(*g) || IsCollection(*p)) return Structure(g, p);
    return Scalar(g, p);
  }

 private:
  Decision Relation(const NodeP& g, const NodeP& p) {
    bool gr = g->kind == NodeKind::kRelation, pr = p->kind == NodeKind::kRelation;
    if (gr && pr) {
      bool gin = AllOps(*g, IsInequalityOp), pin = AllOps(*p, IsInequalityOp);
      if (gin && pin) {
        NodeP a = NormalizeDirection(g), b = NormalizeDirection(p);
        if (a->ops != b->ops) return D(K::kUnequal, "relation", "inequality operators differ");
        return Ordered(a->kids, b->kids, "relation");
      }
      auto eq = [](RelOp op) { return op == RelOp::kEq; };
      bool geq = AllOps(*g, eq), peq = AllOps(*p, eq);
      if (geq && peq) {
        if (IsAssignment(*g) && IsAssignment(*p)) {
          if (Print(*g->kids[0]) != Print(*p->kids[0]))
            return D(K::kUnequal, "relation", "assigned variables differ");
          return Cmp(g->kids[1], p->kids[1]);
        }
        if (IsAssignment(*g) && p->kids.size() > 2 && Print(*p->kids[0]) == Print(*g->kids[0]))
          return Cmp(g->kids[1], p->kids.back());
        if (g->kids.size() == 2 && p->kids.size() == 2) return Proportional(g, p);
        return D(K::kUnequal, "relation", "equation chains differ");
      }
      if (g->ops.size() == 1 && p->ops.size() == 1 && g->ops[0] == RelOp::kIn && p->ops[0] == RelOp::kIn) {
        if (Print(*g->kids[0]) != Print(*p->kids[0])) return D(K::kUnequal, "relation", "variables differ");
        return Cmp(g->kids[1], p->kids[1]);
      }
      if (g->ops.size() == 1 && p->ops.size() == 1 && g->ops[0] == RelOp::kNe && p->ops[0] == RelOp::kNe)
        return Ordered(g->kids, p->kids, "relation");
      return D(K::kUnequal, "relation", "relation kinds differ");
    }
    if (gr) {
      if (IsAssignment(*g)) return Cmp(g->kids[1], p);
      if (g->ops.size() == 1 && g->ops[0] == RelOp::kIn) return Cmp(g->kids[1], p);
      if (NodeP iv = InequalityToInterval(g)) {
        if (p->kind == NodeKind::kInterval || p->kind == NodeKind::kTuple || p->kind == NodeKind::kUnion)
          return Cmp(iv, p);
      }
      return D(K::kUnequal, "relation", "gold relation vs a bare value");
    }
    // Gold value, predicted relation.
    if (AllOps(*p, [](RelOp op) { return op == RelOp::kEq; })) {
      if (!NamesQuantity(*p->kids[0]) && !SymbolFreeChain(*p))
        return D(K::kUnequal, "relation", "predicted equation vs gold value (not an assignment)");
      return Cmp(g, p->kids.back());
    }
    if (p->ops.size() == 1 && p->ops[0] == RelOp::kIn) return Cmp(g, p->kids[1]);
    return D(K::kUnequal, "relation", "predicted relation vs gold value (echoed condition)");
  }

  Decision Proportional(const NodeP& g, const NodeP& p) {
    for (const auto& side : {g->kids[0], g->kids[1], p->kids[0], p->kids[1]})
      if (!IsScalar(*side)) return D(K::kUnequal, "relation", "equation sides are not scalar");
    NodeP gd = MakeNode(NodeKind::kAdd, "", {g->kids[0], MakeNode(NodeKind::kNeg, "", {g->kids[1]})});
    NodeP pd = MakeNode(NodeKind::kAdd, "", {p->kids[0], MakeNode(NodeKind::kNeg, "", {p->kids[1]})});
    return Cas(CasJob::Op::kProportional, gd, pd);
  }

  Decision Ordered(const std::vector<NodeP>& a, const std::vector<NodeP>& b, const char* layer) {
    if (a.size() != b.size()) return D(K::kUnequal, layer, "different lengths");
    bool undecided = false;
    for (size_t i = 0; i < a.size(); ++i) {
      Decision d = Cmp(a[i], b[i]);
      if (Fatal(d)) return d;
      if (d.kind == K::kUndecided) undecided = true;
      if (d.kind == K::kUnequal)
        return D(K::kUnequal, layer, "element " + std::to_string(i) + " differs: " + d.reason);
    }
    if (undecided) return D(K::kUndecided, layer, "an element is undecided");
    return D(K::kEqual, layer, "all elements equal");
  }

  Decision Unordered(const std::vector<NodeP>& a, const std::vector<NodeP>& b, const char* layer) {
    if (a.size() != b.size()) return D(K::kUnequal, layer, "different sizes");
    std::vector<bool> used(b.size(), false);
    bool undecided = false;
    for (const NodeP& x : a) {
      bool found = false;
      for (size_t j = 0; j < b.size() && !found; ++j) {
        if (used[j]) continue;
        Decision d = Cmp(x, b[j]);
        if (Fatal(d)) return d;
        if (d.kind == K::kUndecided) undecided = true;
        if (d.kind == K::kEqual) found = used[j] = true;
      }
      if (!found)
        return D(undecided ? K::kUndecided : K::kUnequal, layer, "element " + Print(*x) + " unmatched");
    }
    return D(K::kEqual, layer, "same elements");
  }

  Decision Structure(const NodeP& g, const NodeP& p) {
    if (!IsCollection(*g) || !IsCollection(*p))
      return D(K::kUnequal, "structure", "a collection vs a single value");
    NodeKind gk = g->kind, pk = p->kind;
    if (gk == NodeKind::kMatrix || pk == NodeKind::kMatrix) {
      if (gk != pk || g->rows != p->rows || g->cols != p->cols)
        return D(K::kUnequal, "structure", "matrix shapes differ");
      return Ordered(g->kids, p->kids, "structure");
    }
    if (gk == NodeKind::kUnion || pk == NodeKind::kUnion) {
      if (gk != pk) return D(K::kUnequal, "structure", "union vs non-union");
      return Unordered(g->kids, p->kids, "structure");
    }
    auto interval_like = [](const Node& n) {
      return n.kind == NodeKind::kInterval || (n.kind == NodeKind::kTuple && n.kids.size() == 2);
    };
    if (gk == NodeKind::kInterval || pk == NodeKind::kInterval) {
      if (!interval_like(*g) || !interval_like(*p))
        return D(K::kUnequal, "structure", "interval vs non-interval");
      if (g->left_closed != p->left_closed || g->right_closed != p->right_closed)
        return D(K::kUnequal, "structure", "interval openness differs");
      return Ordered(g->kids, p->kids, "structure");
    }
    bool ellipsis = HasKind(*g, NodeKind::kEllipsis) || HasKind(*p, NodeKind::kEllipsis);
    if (gk == NodeKind::kTuple || pk == NodeKind::kTuple) {
      if (gk == NodeKind::kSet || pk == NodeKind::kSet) return D(K::kUnequal, "structure", "tuple vs set");
      return Ordered(g->kids, p->kids, "structure");
    }
    // Sets and bare lists.
    if (ellipsis || (o_.ordered_lists && gk == NodeKind::kList && pk == NodeKind::kList))
      return Ordered(g->kids, p->kids, "structure");
    return Unordered(g->kids, p->kids, "structure");
  }

  Decision Scalar(const NodeP& g, const NodeP& p) {
    if (g->kind == NodeKind::kText || p->kind == NodeKind::kText) {
      std::optional<std::string> gw = Word(*g), pw = Word(*p);
      if (gw && pw) return D(*gw == *pw ? K::kEqual : K::kUnequal, "string", "word or choice answers");
    }
    if (!IsScalar(*g) || !IsScalar(*p)) return D(K::kUnequal, "structure", "kinds differ");
    if (HasKind(*g, NodeKind::kInfinity) || HasKind(*p, NodeKind::kInfinity))
      return D(K::kUnequal, "string", "infinities compare only by form");
    if (g->kind == NodeKind::kPercent || p->kind == NodeKind::kPercent) return Percent(g, p);
    RationalValue rg = EvalRational(*g);
    RationalValue rp = EvalRational(*p);
    if (rg.status == EvalStatus::kTooComplex || rp.status == EvalStatus::kTooComplex)
      return D(K::kTooComplex, "exact_rational",
               "too_complex: " + (rg.detail.empty() ? rp.detail : rg.detail));
    bool dec = HasDecimal(*g) || HasDecimal(*p);
    if (rg.status == EvalStatus::kOk && rp.status == EvalStatus::kOk) {
      if (!dec) {
        bool eq = rg.value == rp.value;
        return D(eq ? K::kEqual : K::kUnequal, "exact_rational",
                 eq ? "equal rationals" : RationalToString(rg.value) + " != " + RationalToString(rp.value));
      }
      return Tolerance(o_.decimal_places >= 0 ? EqualAtPlaces(rg.value, rp.value, o_.decimal_places)
                                              : WithinRelative(rg.value, rp.value, o_.rel_tolerance));
    }
    if (rg.status == EvalStatus::kUndefined || rp.status == EvalStatus::kUndefined)
      return D(K::kUnequal, "exact_rational",
               "undefined value: " + (rg.detail.empty() ? rp.detail : rg.detail));
    if (dec && !HasSymbol(*g) && !HasSymbol(*p)) {
      auto ag = EvalApprox(*g), ap = EvalApprox(*p);
      if (ag && ap)
        return Tolerance(o_.decimal_places >= 0 ? EqualAtPlaces(*ag, *ap, o_.decimal_places)
                                                : WithinRelative(*ag, *ap, o_.rel_tolerance));
    }
    return Cas(CasJob::Op::kEqual, g, p);
  }

  Decision Tolerance(bool eq) const {
    const bool places = o_.decimal_places >= 0;
    return D(
        eq ? K::kEqual : K::kUnequal, "decimal_tolerance",
        eq ? (places ? "equal at " + std::to_string(o_.decimal_places) + " places" : "within tolerance")
           : (places ? "differ at " + std::to_string(o_.decimal_places) + " places" : "outside tolerance"));
  }

  Decision Percent(const NodeP& g, const NodeP& p) {
    bool gp = g->kind == NodeKind::kPercent, pp = p->kind == NodeKind::kPercent;
    if (gp && pp) return Cmp(g->kids[0], p->kids[0]);
    // p% equals p or p/100 (the percent node itself evaluates to p/100).
    const NodeP& pct = gp ? g : p;
    const NodeP& other = gp ? p : g;
    NodeP hundredth = MakeNode(NodeKind::kDiv, "", {pct->kids[0], MakeNumber("100")});
    Decision first = gp ? Cmp(hundredth, other) : Cmp(other, hundredth);
    if (first.kind == K::kEqual || Fatal(first)) return first;
    Decision second = gp ? Cmp(pct->kids[0], other) : Cmp(other, pct->kids[0]);
    if (second.kind == K::kEqual || Fatal(second)) return second;
    if (first.kind == K::kUndecided || second.kind == K::kUndecided)
      return D(K::kUndecided, "percent", "undecided");
    return D(K::kUnequal, "percent", "neither p nor p/100 matches");
  }

  Decision Cas(CasJob::Op op, const NodeP& g, const NodeP& p) {
    if (cas_ == nullptr) return D(K::kUndecided, "cas", "no CAS runner");
    CasJob job;
    job.op = op;
    job.gold = Print(*g);
    job.pred = Print(*p);
    job.seed = Fnv1a(job.gold, job.pred);
    CasResult r = cas_->Run(job, ctx_);
    switch (r.kind) {
      case CasResult::Kind::kEqual:
        return D(K::kEqual, r.layer, r.detail);
      case CasResult::Kind::kUnequal:
        return D(K::kUnequal, r.layer, r.detail);
      case CasResult::Kind::kUndecided:
        return D(K::kUndecided, r.layer, r.detail);
      case CasResult::Kind::kTimeout:
        return D(K::kTimeout, r.layer, r.detail);
      case CasResult::Kind::kCancelled:
        return D(K::kCancelled, r.layer, r.detail);
      case CasResult::Kind::kError:
        return D(K::kError, r.layer, r.detail);
      case CasResult::Kind::kTooComplex:
        return D(K::kTooComplex, r.layer, r.detail);
    }
    return D(K::kError, "cas", "bad CAS result");
  }

  const CompareOptions& o_;
  int depth_ = 0;
  CasRunner* cas_;
  const CheckContext& ctx_;
};

}  // namespace

bool IsAssignment(const Node& n) {
  return n.kind == NodeKind::kRelation && n.ops.size() == 1 && n.ops[0] == RelOp::kEq &&
         n.kids[0]->kind == NodeKind::kSymbol && !HasSymbol(*n.kids[1]);
}

NodeP GroupAssignments(const NodeP& top) {
  if (top->kind != NodeKind::kList || top->kids.empty() || !IsAssignment(*top->kids[0])) return top;
  const std::string var = Print(*top->kids[0]->kids[0]);
  bool same_var = true;     // "x = 2, x = 3"
  bool values_only = true;  // "x = 2, 3"
  for (size_t i = 1; i < top->kids.size(); ++i) {
    const Node& k = *top->kids[i];
    same_var = same_var && IsAssignment(k) && Print(*k.kids[0]) == var;
    values_only = values_only && k.kind != NodeKind::kRelation;
  }
  if (!same_var && !values_only) return top;
  std::vector<NodeP> values{top->kids[0]->kids[1]};
  for (size_t i = 1; i < top->kids.size(); ++i)
    values.push_back(same_var ? top->kids[i]->kids[1] : top->kids[i]);
  auto rel = std::make_shared<Node>(*top->kids[0]);
  rel->kids[1] = MakeNode(NodeKind::kList, "", std::move(values));
  return rel;
}

Decision CompareAnswers(const NodeP& gold, const NodeP& pred, const CompareOptions& options, CasRunner* cas,
                        const CheckContext& cas_ctx) {
  Comparer c(options, cas, cas_ctx);
  const NodeP g = GroupAssignments(StripApprox(gold));
  return c.Cmp(g, AssignedValues(g, GroupAssignments(StripApprox(pred))));
}

}  // namespace m1rl::reward::math
