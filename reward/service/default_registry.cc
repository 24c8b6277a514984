// DefaultVerifierRegistry(): wires the real verifiers. The math and logic verifiers are separate
// targets built by other parts of reward/; service.cmake defines M1RL_REWARD_HAVE_MATH /
// M1RL_REWARD_HAVE_LOGIC when they are in the build.
#include <utility>

#include "common/check.h"
#include "reward/service/registry.h"
#ifdef M1RL_REWARD_HAVE_MATH
#include "reward/math/math_verifier.h"
#endif
#ifdef M1RL_REWARD_HAVE_LOGIC
#include "reward/logic/logic_verifier.h"
#endif

namespace m1rl::reward {

std::unique_ptr<VerifierRegistry> DefaultVerifierRegistry() {
  auto registry = std::make_unique<VerifierRegistry>();
  // Invariant: the built-in domains are distinct and non-empty, so registration cannot fail.
  M1RL_CHECK(registry->Register(NewFormatVerifier(FormatOptions{})).ok());
#ifdef M1RL_REWARD_HAVE_MATH
  M1RL_CHECK(registry->Register(NewMathVerifier(MathVerifierOptions{})).ok());
#endif
#ifdef M1RL_REWARD_HAVE_LOGIC
  M1RL_CHECK(registry->Register(NewLogicVerifier()).ok());
#endif
  return registry;
}

}  // namespace m1rl::reward
