#include "reward/math/cas.h"

#include <ginac/ginac.h>
#undef Mutable  // CLN macro that breaks later Abseil headers (see exact.h)

#include <cstring>
#include <map>
#include <new>
#include <stdexcept>
#include <vector>

#include "common/random.h"
#include "reward/math/parser.h"

namespace m1rl::reward::math {
namespace {

struct Unsupported {
  std::string what;
};

class ToGinac {
 public:
  GiNaC::ex Convert(const Node& n) {
    using GiNaC::ex;
    switch (n.kind) {
      case NodeKind::kNumber: {
        size_t dot = n.text.find('.');
        if (dot == std::string::npos) return GiNaC::numeric(n.text.c_str());
        std::string all = n.text.substr(0, dot) + n.text.substr(dot + 1);
        size_t frac = n.text.size() - dot - 1;
        return GiNaC::numeric(all.c_str()) /
               GiNaC::pow(GiNaC::numeric(10), GiNaC::numeric(static_cast<long>(frac)));
      }
      case NodeKind::kSymbol: {
        auto it = syms_.find(n.text);
        if (it == syms_.end()) it = syms_.emplace(n.text, GiNaC::realsymbol(n.text)).first;
        return it->second;
      }
      case NodeKind::kConst:
        if (n.text == "pi") return GiNaC::Pi;
        if (n.text == "e") return GiNaC::exp(GiNaC::ex(1));
        return GiNaC::I;
      case NodeKind::kAdd: {
        ex s = 0;
        for (const auto& k : n.kids) s += Convert(*k);
        return s;
      }
      case NodeKind::kNeg:
        return -Convert(*n.kids[0]);
      case NodeKind::kMul: {
        ex s = 1;
        for (const auto& k : n.kids) s *= Convert(*k);
        return s;
      }
      case NodeKind::kDiv:
        return Convert(*n.kids[0]) / Convert(*n.kids[1]);
      case NodeKind::kPow:
        return GiNaC::pow(Convert(*n.kids[0]), Convert(*n.kids[1]));
      case NodeKind::kFactorial:
        return GiNaC::factorial(Convert(*n.kids[0]));
      case NodeKind::kAbs:
        return GiNaC::abs(Convert(*n.kids[0]));
      case NodeKind::kPercent:
        return Convert(*n.kids[0]) / 100;
      case NodeKind::kFunc: {
        const std::string& f = n.text;
        ex x = Convert(*n.kids[0]);
        if (f == "sqrt") return GiNaC::sqrt(x);
        if (f == "root") return GiNaC::pow(x, 1 / Convert(*n.kids[1]));
        if (f == "sin") return GiNaC::sin(x);
        if (f == "cos") return GiNaC::cos(x);
        if (f == "tan") return GiNaC::tan(x);
        if (f == "cot") return GiNaC::cos(x) / GiNaC::sin(x);
        if (f == "sec") return 1 / GiNaC::cos(x);
        if (f == "csc") return 1 / GiNaC::sin(x);
        if (f == "arcsin") return GiNaC::asin(x);
        if (f == "arccos") return GiNaC::acos(x);
        if (f == "arctan") return GiNaC::atan(x);
        if (f == "sinh") return GiNaC::sinh(x);
        if (f == "cosh") return GiNaC::cosh(x);
        if (f == "tanh") return GiNaC::tanh(x);
        if (f == "ln" || f == "log") return GiNaC::log(x);
        if (f == "logb") return GiNaC::log(x) / GiNaC::log(Convert(*n.kids[1]));
        if (f == "exp") return GiNaC::exp(x);
        if (f == "binom") return GiNaC::binomial(x, Convert(*n.kids[1]));
        throw Unsupported{"function " + f};
      }
      default:
        throw Unsupported{"non-scalar node"};
    }
  }

  const std::map<std::string, GiNaC::realsymbol>& symbols() const { return syms_; }

 private:
  std::map<std::string, GiNaC::realsymbol> syms_;
};

// Evaluates e at a numeric substitution; nullopt if undefined or non-real (or not numeric).
std::optional<GiNaC::numeric> EvalAt(const GiNaC::ex& e, const GiNaC::exmap& at, bool allow_complex) {
  try {
    GiNaC::ex v = e.subs(at).evalf();
    if (!GiNaC::is_a<GiNaC::numeric>(v)) return std::nullopt;
    GiNaC::numeric num = GiNaC::ex_to<GiNaC::numeric>(v);
    if (!allow_complex && !num.is_real()) {
      // Non-real points are skipped, unless the imaginary part is rounding noise.
      if (GiNaC::abs(num.imag()) >
          GiNaC::numeric(1, 1000000000) * GiNaC::abs(num.real()) + GiNaC::numeric(1, 100000000000LL))
        return std::nullopt;
      num = num.real();
    }
    return num;
  } catch (const std::bad_alloc&) {
    throw;  // the memory limit ends the job (RunCasJob)
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool Close(const GiNaC::numeric& a, const GiNaC::numeric& b, const GiNaC::numeric& rel) {
  GiNaC::numeric d = GiNaC::abs(a - b);
  GiNaC::numeric m = std::max(GiNaC::abs(a), GiNaC::abs(b));
  if (d.is_zero()) return true;
  return d <= rel * m;
}

bool HasI(const GiNaC::ex& e) { return e.has(GiNaC::I); }

CasResult Result(CasResult::Kind k, std::string layer, std::string detail) {
  return CasResult{k, std::move(layer), std::move(detail)};
}

// One random point for the identity tests: every symbol at k/97 with k in [-388, 387] \ {0}, i.e. points in
// (-4, 4) \ {0} on a 1/97 grid: rational, irregular, both signs. Advances the SplitMix64 state `s`.
GiNaC::exmap RandomPoint(const ToGinac& conv, uint64_t& s) {
  GiNaC::exmap at;
  for (const auto& [name, sym] : conv.symbols()) {
    long k = static_cast<long>(SplitMix64Next(&s) % 776) - 388;
    if (k == 0) k = 1;
    at[sym] = GiNaC::numeric(k, 97);
  }
  return at;
}

CasResult RunEqual(const GiNaC::ex& g, const GiNaC::ex& p, const ToGinac& conv, uint64_t seed) {
  using K = CasResult::Kind;
  GiNaC::ex diff = g - p;
  try {
    if (GiNaC::normal(GiNaC::expand(diff)).is_zero())
      return Result(K::kEqual, "cas_normal", "normal(expand(g-p)) == 0");
  } catch (const std::bad_alloc&) {
    throw;  // the memory limit ends the job (RunCasJob)
  } catch (const std::exception&) {
    // Poles and domain errors fall through to the numeric layers.
  }
  if (conv.symbols().empty()) {
    GiNaC::Digits = 50;
    auto a = EvalAt(g, {}, /*allow_complex=*/true);
    auto b = EvalAt(p, {}, /*allow_complex=*/true);
    if (!a || !b) return Result(K::kUndecided, "cas_numeric50", "value not numeric at 50 digits");
    // 50 digits of working precision leave > 1e-30 relative headroom for a few dozen operations.
    bool eq = Close(*a, *b, GiNaC::numeric(1) / GiNaC::numeric(10).power(30));
    return Result(eq ? K::kEqual : K::kUnequal, "cas_numeric50", eq ? "equal to 1e-30" : "values differ");
  }
  GiNaC::Digits = 30;
  bool complex_ok = HasI(g) || HasI(p);
  const GiNaC::numeric rel = GiNaC::numeric(1, 1000000000);  // 1e-9
  int agree = 0, valid = 0;
  uint64_t s = seed;
  for (int attempt = 0; attempt < 40 && valid < 8; ++attempt) {
    const GiNaC::exmap at = RandomPoint(conv, s);
    auto a = EvalAt(g, at, complex_ok);
    auto b = EvalAt(p, at, complex_ok);
    if (!a || !b) continue;
    ++valid;
    if (Close(*a, *b, rel)) {
      ++agree;
    } else {
      return Result(K::kUnequal, "identity_test", "values differ at a random point");
    }
  }
  if (agree >= 5) return Result(K::kEqual, "identity_test", std::to_string(agree) + " random points agree");
  return Result(K::kUndecided, "identity_test", "too few real points (" + std::to_string(valid) + ")");
}

CasResult RunProportional(const GiNaC::ex& g, const GiNaC::ex& p, const ToGinac& conv, uint64_t seed) {
  using K = CasResult::Kind;
  try {
    GiNaC::ex gn = GiNaC::normal(GiNaC::expand(g));
    GiNaC::ex pn = GiNaC::normal(GiNaC::expand(p));
    if (gn.is_zero() || pn.is_zero())
      return Result(gn.is_zero() && pn.is_zero() ? K::kEqual : K::kUnequal, "cas_proportional",
                    "degenerate equation");
    GiNaC::ex r = GiNaC::normal(gn / pn);
    if (GiNaC::is_a<GiNaC::numeric>(r) && !r.is_zero())
      return Result(K::kEqual, "cas_proportional", "lhs-rhs differ by a constant factor");
  } catch (const std::bad_alloc&) {
    throw;  // the memory limit ends the job (RunCasJob)
  } catch (const std::exception&) {
  }
  GiNaC::Digits = 30;
  const GiNaC::numeric rel = GiNaC::numeric(1, 1000000000);
  std::optional<GiNaC::numeric> ratio0;
  int agree = 0, valid = 0;
  uint64_t s = seed;
  for (int attempt = 0; attempt < 40 && valid < 8; ++attempt) {
    const GiNaC::exmap at = RandomPoint(conv, s);
    auto a = EvalAt(g, at, false);
    auto b = EvalAt(p, at, false);
    if (!a || !b) continue;
    if (b->is_zero() || a->is_zero()) {
      if (a->is_zero() != b->is_zero()) return Result(K::kUnequal, "identity_test", "zero sets differ");
      continue;
    }
    GiNaC::numeric q = *a / *b;
    ++valid;
    if (!ratio0) {
      ratio0 = q;
      ++agree;
    } else if (Close(q, *ratio0, rel)) {
      ++agree;
    } else {
      return Result(K::kUnequal, "identity_test", "lhs-rhs ratio not constant");
    }
  }
  if (agree >= 5) return Result(K::kEqual, "identity_test", "constant ratio at random points");
  return Result(K::kUndecided, "identity_test", "too few valid points");
}

void PutU32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}
void PutStr(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
bool GetU32(std::string_view& in, uint32_t* v) {
  if (in.size() < 4) return false;
  std::memcpy(v, in.data(), 4);
  in.remove_prefix(4);
  return true;
}
bool GetStr(std::string_view& in, std::string* s) {
  uint32_t n;
  if (!GetU32(in, &n) || in.size() < n) return false;
  *s = std::string(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

CasResult RunCasJob(const CasJob& job) {
  using K = CasResult::Kind;
  try {
    auto g = ParseAnswer(job.gold);
    auto p = ParseAnswer(job.pred);
    if (!g.ok() || !p.ok())
      return Result(
          K::kError, "cas",
          "job does not parse: " + std::string(g.ok() ? p.status().message() : g.status().message()));
    ToGinac conv;
    GiNaC::ex ge = conv.Convert(**g);
    GiNaC::ex pe = conv.Convert(**p);
    if (job.op == CasJob::Op::kProportional) return RunProportional(ge, pe, conv, job.seed);
    return RunEqual(ge, pe, conv, job.seed);
  } catch (const Unsupported& u) {
    return Result(K::kUndecided, "cas", "unsupported: " + u.what);
  } catch (const std::bad_alloc&) {
    return Result(K::kTooComplex, "cas", "too_complex: out of memory (RLIMIT_AS)");
  } catch (const std::exception& e) {
    return Result(K::kUndecided, "cas", std::string("GiNaC error: ") + e.what());
  }
}

std::string EncodeJob(const CasJob& job) {
  std::string out;
  out.push_back(static_cast<char>(job.op));
  PutU32(out, static_cast<uint32_t>(job.seed));
  PutU32(out, static_cast<uint32_t>(job.seed >> 32));
  PutStr(out, job.gold);
  PutStr(out, job.pred);
  return out;
}

std::optional<CasJob> DecodeJob(std::string_view in) {
  if (in.empty()) return std::nullopt;
  CasJob job;
  uint8_t op = static_cast<uint8_t>(in[0]);
  if (op != 1 && op != 2) return std::nullopt;
  job.op = static_cast<CasJob::Op>(op);
  in.remove_prefix(1);
  uint32_t lo, hi;
  if (!GetU32(in, &lo) || !GetU32(in, &hi)) return std::nullopt;
  job.seed = (static_cast<uint64_t>(hi) << 32) | lo;
  if (!GetStr(in, &job.gold) || !GetStr(in, &job.pred) || !in.empty()) return std::nullopt;
  return job;
}

std::string EncodeResult(const CasResult& r) {
  std::string out;
  out.push_back(static_cast<char>(r.kind));
  PutStr(out, r.layer);
  PutStr(out, r.detail);
  return out;
}

std::optional<CasResult> DecodeResult(std::string_view in) {
  if (in.empty()) return std::nullopt;
  CasResult r;
  uint8_t k = static_cast<uint8_t>(in[0]);
  if (k < 1 || k > 7) return std::nullopt;
  r.kind = static_cast<CasResult::Kind>(k);
  in.remove_prefix(1);
  if (!GetStr(in, &r.layer) || !GetStr(in, &r.detail) || !in.empty()) return std::nullopt;
  return r;
}

}  // namespace m1rl::reward::math
