// The symbolic layers (REWARDS.md §2 layers 5-6) and the job format the CAS worker processes speak.
//
// A job holds two printed ASTs (ast.h Print()) and an operation:
//   kEqual:        gold == pred.  Layer 5: GiNaC normal(expand(g - p)) == 0. Symbol-free values then get
//                  one 50-digit evaluation (equal iff |g - p| <= 1e-30 * max(|g|, |p|)); otherwise
//                  layer 6, the random identity test: up to 40 draws from a PRNG seeded by job.seed
//                  until 8 real points are found (undefined and non-real points skipped); equal iff
//                  >= 5 agree to 1e-9 relative and none disagrees; any disagreement is unequal.
//   kProportional: gold / pred is a non-zero constant (equations lhs - rhs compared up to a factor).
// RunCasJob() is NOT thread-safe (GiNaC is not documented thread-safe): it runs inside a CAS worker
// process (cas_pool.h), or in a single-threaded test. CasRunner is the seam the verifier calls.
#ifndef M1RL_REWARD_MATH_CAS_H_
#define M1RL_REWARD_MATH_CAS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "reward/verifier.h"

namespace m1rl::reward::math {

struct CasJob {
  enum class Op : uint8_t { kEqual = 1, kProportional = 2 };
  Op op = Op::kEqual;
  uint64_t seed = 0;
  std::string gold;  // printed AST
  std::string pred;  // printed AST
};

struct CasResult {
  // kTooComplex: the worker hit its memory limit (RLIMIT_AS) on this job.
  enum class Kind : uint8_t {
    kEqual = 1,
    kUnequal = 2,
    kUndecided = 3,
    kTimeout = 4,
    kCancelled = 5,
    kError = 6,
    kTooComplex = 7
  };
  Kind kind = Kind::kUndecided;
  std::string layer;   // "cas_normal", "cas_numeric50", "identity_test", ...
  std::string detail;  // human-readable reason
};

CasResult RunCasJob(const CasJob& job);

// Wire format between the verifier and the workers (length-prefixed fields, no framing).
std::string EncodeJob(const CasJob& job);
std::optional<CasJob> DecodeJob(std::string_view bytes);
std::string EncodeResult(const CasResult& r);
std::optional<CasResult> DecodeResult(std::string_view bytes);

// Runs CAS jobs under a deadline. Implementations are thread-safe.
class CasRunner {
 public:
  virtual ~CasRunner() = default;
  // Returns kTimeout past ctx.deadline and kCancelled on ctx.Cancelled(), promptly.
  virtual CasResult Run(const CasJob& job, const CheckContext& ctx) = 0;
};

}  // namespace m1rl::reward::math

#endif  // M1RL_REWARD_MATH_CAS_H_
