// The exact AST of a math answer (REWARDS.md §2 "Parse"). Nodes are immutable and shared.
//
// Numbers keep their literal digits (exact: no float ever enters the AST); the decimal flag steers the
// tolerance layer. Print() renders a canonical string that ParseAnswer() (parser.h) reads back into an
// equal tree: the CAS worker processes receive jobs as printed strings, and the verifier reports the
// printed forms as the normalised gold/pred. Thread-safe: nodes are immutable after construction.
#ifndef M1RL_REWARD_MATH_AST_H_
#define M1RL_REWARD_MATH_AST_H_

#include <memory>
#include <string>
#include <vector>

namespace m1rl::reward::math {

enum class NodeKind {
  kNumber,     // text = literal digits, optionally with one '.' ("016" is kept; value 16)
  kSymbol,     // text = canonical name ("x", "x_{1}", "\alpha", "f'")
  kConst,      // text = "pi" | "e" | "i"
  kInfinity,   // +infinity; -infinity is Neg(kInfinity)
  kText,       // text = the words of a \text{} that is not a number or unit
  kEllipsis,   // \ldots, \cdots, \dots
  kAdd,        // kids >= 2
  kNeg,        // kids = 1
  kMul,        // kids >= 2
  kDiv,        // kids = [numerator, denominator]
  kPow,        // kids = [base, exponent]
  kFunc,       // text = function name; kids = arguments (see below)
  kFactorial,  // kids = 1
  kAbs,        // kids = 1
  kPercent,    // kids = 1: p% (value p/100, or p, see compare.h)
  kPlusMinus,  // kids = 1 (\pm a) or 2 (a \pm b)
  kTuple,      // ordered: (a, b, ...), a:b
  kList,       // a bare top-level list a, b, c (unordered unless it contains an ellipsis)
  kSet,        // \{a, b\}
  kInterval,   // kids = [lo, hi]; left_closed/right_closed
  kUnion,      // kids >= 2 (intervals or sets joined by \cup)
  kMatrix,     // rows x cols kids, row-major
  kRelation,   // chain kids[0] ops[0] kids[1] ops[1] ... (kids = ops + 1)
};

// Functions (kFunc): "sqrt"(x), "root"(x, n), "sin" "cos" "tan" "cot" "sec" "csc" "arcsin" "arccos"
// "arctan" "sinh" "cosh" "tanh" "ln" "exp"(x), "log"(x) natural, "logb"(x, base), "binom"(n, k),
// "floor"(x), "ceil"(x).
// kApprox: "a \approx v" (compare.h reads a chain with it as its exact part).
enum class RelOp { kEq, kLt, kLe, kGt, kGe, kNe, kIn, kApprox };

struct Node;
using NodeP = std::shared_ptr<const Node>;

struct Node {
  NodeKind kind;
  std::string text;
  std::vector<NodeP> kids;
  std::vector<RelOp> ops;     // kRelation only
  bool left_closed = false;   // kInterval only
  bool right_closed = false;  // kInterval only
  int rows = 0, cols = 0;     // kMatrix only
};

NodeP MakeNode(NodeKind kind, std::string text = "", std::vector<NodeP> kids = {});
NodeP MakeNumber(std::string digits);

// Canonical rendering; ParseAnswer(Print(n)) prints identically (tested by the fuzz test).
std::string Print(const Node& n);
const char* RelOpString(RelOp op);

// Number of nodes in the tree.
int CountNodes(const Node& n);
// True iff the tree contains a decimal number literal (steers layer 3 vs 4).
bool HasDecimal(const Node& n);
// True iff the tree contains a kSymbol.
bool HasSymbol(const Node& n);
// True iff the node is a tuple, list, set, interval, union or matrix (compared by structure, layer 2).
bool IsCollection(const Node& n);
// True iff the tree is a scalar expression (no collection, relation, ±, text or ellipsis anywhere in it).
bool IsScalar(const Node& n);

}  // namespace m1rl::reward::math

#endif  // M1RL_REWARD_MATH_AST_H_
