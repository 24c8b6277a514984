// VerifierRegistry: maps a domain name to the Verifier that scores it. The reward server, the
// in-process client and `m1rl verify` all resolve domains through one registry.
//
// Lookup: the exact domain first, then the part before the first '/' ("logic/sudoku" -> "logic"),
// matching rl::Completion.domain.
//
// Thread safety: Register() is not thread-safe; after registration, Find()/Domains() may be called
// concurrently (the registry is immutable while shared).
#ifndef M1RL_REWARD_SERVICE_REGISTRY_H_
#define M1RL_REWARD_SERVICE_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "reward/service/format_reward.h"
#include "reward/verifier.h"

namespace m1rl::reward {

class VerifierRegistry {
 public:
  VerifierRegistry() = default;
  VerifierRegistry(const VerifierRegistry&) = delete;
  VerifierRegistry& operator=(const VerifierRegistry&) = delete;

  // Takes ownership. kInvalidArgument for a null verifier or an empty domain; kAlreadyExists if the
  // domain is taken.
  absl::Status Register(std::unique_ptr<Verifier> verifier);
  // nullptr when no verifier serves `domain`. The pointer lives as long as the registry.
  const Verifier* Find(std::string_view domain) const;
  std::vector<std::string> Domains() const;

 private:
  std::map<std::string, std::unique_ptr<Verifier>, std::less<>> verifiers_;
};

// Domain "format": scores only the format (format_reward.h). correctness = format = 1 when the
// response is well formatted, else 0 (verdict INCORRECT, details = the reason). Needs no gold.
// Per-item option "require_think" (bool) overrides options.require_think.
std::unique_ptr<Verifier> NewFormatVerifier(const FormatOptions& options);

// The production registry: "format" always; "math" (reward/math/math_verifier.h) and "logic"
// (reward/logic/logic_verifier.h) when those targets are part of the build. Implemented in
// default_registry.cc (target m1rl::reward_default_registry) so that the service libraries and their
// tests do not link the math/logic verifiers.
std::unique_ptr<VerifierRegistry> DefaultVerifierRegistry();

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SERVICE_REGISTRY_H_
