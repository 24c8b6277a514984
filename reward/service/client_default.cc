// RewardClient::Create(): the one entry point that needs the real verifiers (in_process mode uses
// DefaultVerifierRegistry, plus domain "code" when reward.code.enabled and "general" when
// reward.genrm.enabled), kept apart so that the client core and its tests do not link them.
#include <algorithm>
#include <thread>

#include "reward/service/client.h"
#include "reward/service/genrm_registry.h"
#include "reward/service/registry.h"
#include "reward/service/sandboxed_registry.h"

namespace m1rl::reward {

absl::StatusOr<std::unique_ptr<RewardClient>> RewardClient::Create(const config::RewardConfig& config) {
  if (config.mode() == config::RewardConfig::MODE_GRPC) return CreateGrpc(config);
  // Validates the config (mode included) before building verifiers.
  absl::StatusOr<Resolved> resolved = Resolve(config);
  if (!resolved.ok()) return resolved.status();
  EngineOptions options;
  options.num_workers = config.in_process_workers() > 0
                            ? config.in_process_workers()
                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  options.queue_capacity = config.queue_capacity() > 0 ? config.queue_capacity() : kDefaultQueueCapacity;
  if (config.correctness_weight() > 0 || config.format_weight() > 0) {
    options.rules.correctness_weight = config.correctness_weight();
    options.rules.format_weight = config.format_weight();
  }
  options.rules.format.require_think = config.require_think();
  std::unique_ptr<VerifierRegistry> verifiers = DefaultVerifierRegistry();
  if (absl::Status s = AddSandboxedVerifiers(config, verifiers.get(), &options.protections); !s.ok())
    return s;
  if (absl::Status s = AddGenrmVerifier(config, verifiers.get(), &options.protections); !s.ok()) return s;
  std::shared_ptr<const VerifierRegistry> registry = std::move(verifiers);
  absl::StatusOr<std::unique_ptr<ScoringEngine>> engine = ScoringEngine::Create(registry, options);
  if (!engine.ok()) return engine.status();
  return CreateInProcess(config, std::shared_ptr<ScoringEngine>(std::move(*engine)));
}

}  // namespace m1rl::reward
