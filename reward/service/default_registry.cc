// DefaultVerifierRegistry(): wires the format, math and logic verifiers.
#include <utility>

#include "common/check.h"
#include "reward/logic/logic_verifier.h"
#include "reward/math/math_verifier.h"
#include "reward/service/registry.h"

namespace m1rl::reward {

std::unique_ptr<VerifierRegistry> DefaultVerifierRegistry() {
  auto registry = std::make_unique<VerifierRegistry>();
  // Invariant: the built-in domains are distinct and non-empty, so registration cannot fail.
  M1RL_CHECK(registry->Register(NewFormatVerifier(FormatOptions{})).ok());
  M1RL_CHECK(registry->Register(NewMathVerifier(MathVerifierOptions{})).ok());
  M1RL_CHECK(registry->Register(NewLogicVerifier()).ok());
  return registry;
}

}  // namespace m1rl::reward
