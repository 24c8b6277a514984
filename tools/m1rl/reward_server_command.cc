// `m1rl reward-server`: serves RewardService (reward/service/server.h) over gRPC with the default
// verifiers (math, logic, format; "code" in the sandbox when --config enables reward.code; "general", the
// generative reward model, when --config enables reward.genrm). Prints "listening
// on HOST:PORT" once ready (scripts wait for it;
// --port 0 picks a free port), counters every --stats-interval-s, and shuts down gracefully on
// SIGTERM/SIGINT (running calls get --grace-ms, then are cancelled; exit code 0).
#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/flags.h"
#include "common/status_macros.h"
#include "reward/genrm/engine_judge.h"
#include "reward/service/engine.h"
#include "reward/service/genrm_registry.h"
#include "reward/service/registry.h"
#include "reward/service/sandboxed_registry.h"
#include "reward/service/server.h"

namespace m1rl::reward {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void OnSignal(int sig) { g_stop_signal = sig; }

std::string CountersLine(const rl::InfoResponse& info) {
  std::string line = absl::StrCat(
      "reward-server: requests=", info.requests(), " items=", info.items(), " queue=", info.queue_depth(),
      "/", info.queue_capacity(), " in_flight=", info.in_flight(), " p50_ms=", info.latency_p50_ms(),
      " p99_ms=", info.latency_p99_ms(), " rejected=", info.rejected_queue_full(),
      " timeouts=", info.timeouts(), " runs=", info.verifier_runs(), " cache_hits=", info.cache_hits());
  for (const rl::DomainCounters& d : info.domains()) {
    absl::StrAppend(&line, " | ", d.domain(), ": correct=", d.correct(), " incorrect=", d.incorrect(),
                    " no_answer=", d.no_answer(), " non_ok=", d.non_ok());
  }
  return line;
}

// --config: the sandboxed domain "code" (reward.code / reward.sandbox) and the GenRM domain "general"
// (reward.genrm; the in-process judge runs on the rollout engine); their protections go into options.
absl::Status AddConfiguredVerifiers(const std::string& config_path, VerifierRegistry* verifiers,
                                    EngineOptions* options) {
  M1RL_ASSIGN_OR_RETURN(const config::RunConfig config, LoadConfig(config_path));
  M1RL_RETURN_IF_ERROR(AddSandboxedVerifiers(config.reward(), verifiers, &options->protections));
  return AddGenrmVerifier(config.reward(), verifiers, &options->protections,
                          [](const config::GenrmConfig& g) -> absl::StatusOr<std::shared_ptr<genrm::Judge>> {
                            return genrm::EngineJudge::FromConfig(g.in_process());
                          });
}

// Serves until SIGTERM/SIGINT, printing the engine's counters every stats_interval_s seconds (0: never).
void WaitForStopSignal(const ScoringEngine& engine, int64_t stats_interval_s) {
  auto last_stats = Clock::now();
  while (g_stop_signal == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (stats_interval_s > 0 && Clock::now() - last_stats >= std::chrono::seconds(stats_interval_s)) {
      last_stats = Clock::now();
      std::cout << CountersLine(engine.Info()) << std::endl;
    }
  }
}

int RunRewardServer(const std::vector<std::string>& args) {
  std::string host = "127.0.0.1";
  int64_t port = 50051;
  int64_t workers = std::max(1u, std::thread::hardware_concurrency());
  int64_t queue = 1024;
  int64_t stream_item_deadline_ms = 30000;
  int64_t retry_after_ms = 50;
  int64_t cache_entries = 100000;
  double correctness_weight = 1.0;
  double format_weight = 0.0;
  bool require_think = false;
  int64_t stats_interval_s = 30;
  int64_t grace_ms = 5000;
  std::string config_path;
  FlagSet flags(
      "m1rl reward-server",
      "Serves rewards (math, logic, format; code and the GenRM domain general with --config) over gRPC.");
  flags.AddString("host", &host, "address to bind: 127.0.0.1 (local) or 0.0.0.0 (all interfaces)");
  flags.AddInt("port", &port, "port; 0 picks a free one (printed in the 'listening on' line)");
  flags.AddInt("workers", &workers, "verifier threads");
  flags.AddInt("queue", &queue, "bounded queue of waiting checks; beyond it calls get RESOURCE_EXHAUSTED");
  flags.AddInt("stream-item-deadline-ms", &stream_item_deadline_ms,
               "budget of a ScoreStream item when neither the stream nor the item has a deadline");
  flags.AddInt("retry-after-ms", &retry_after_ms, "retry hint returned with RESOURCE_EXHAUSTED");
  flags.AddInt("cache-entries", &cache_entries, "idempotency LRU size (results kept 15 min)");
  flags.AddDouble("correctness-weight", &correctness_weight, "total = wc*correctness + wf*format + penalty");
  flags.AddDouble("format-weight", &format_weight, "weight of the format component");
  flags.AddBool("require-think", &require_think, "format: require <think>...</think> before the answer");
  flags.AddInt("stats-interval-s", &stats_interval_s, "print counters every N seconds (0: never)");
  flags.AddInt("grace-ms", &grace_ms, "on SIGTERM/SIGINT: time given to running calls before cancelling");
  flags.AddString(
      "config", &config_path,
      "YAML run config whose reward.code / reward.sandbox sections enable the sandboxed domain "
      "\"code\" (reward.code.enabled: true; refuses to start without the required protections) and "
      "whose reward.genrm section enables domain \"general\" (judges at reward.genrm.openai.urls, or "
      "a checkpoint of ours on the rollout engine: reward.genrm.in_process)");
  if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
  if (workers < 1 || queue < 1 || cache_entries < 0 || stats_interval_s < 0 || grace_ms < 0) {
    std::cerr
        << "m1rl reward-server: --workers and --queue must be >= 1; --cache-entries, --stats-interval-s and "
           "--grace-ms >= 0\n";
    return 2;
  }
  EngineOptions options;
  options.num_workers = static_cast<int>(workers);
  options.queue_capacity = static_cast<int>(queue);
  options.retry_after_ms = retry_after_ms;
  options.cache_capacity = static_cast<size_t>(cache_entries);
  options.rules.correctness_weight = correctness_weight;
  options.rules.format_weight = format_weight;
  options.rules.format.require_think = require_think;
  std::unique_ptr<VerifierRegistry> verifiers = DefaultVerifierRegistry();
  if (!config_path.empty()) {
    const absl::Status added = AddConfiguredVerifiers(config_path, verifiers.get(), &options);
    if (!added.ok()) {
      std::cerr << "m1rl reward-server: " << added.message() << "\n";
      return 2;
    }
    for (const std::string& p : options.protections) std::cout << "reward-server: " << p << "\n";
  }
  std::shared_ptr<const VerifierRegistry> registry = std::move(verifiers);
  auto engine = ScoringEngine::Create(registry, options);
  if (!engine.ok()) {
    std::cerr << "m1rl reward-server: " << engine.status().message() << "\n";
    return 2;
  }
  std::shared_ptr<ScoringEngine> shared_engine = std::move(*engine);
  ServerOptions server_options;
  server_options.host = host;
  server_options.port = static_cast<int>(port);
  server_options.stream_item_deadline_ms = stream_item_deadline_ms;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  auto server = RewardServer::Start(shared_engine, server_options);
  if (!server.ok()) {
    std::cerr << "m1rl reward-server: " << server.status().message() << "\n";
    return 1;
  }
  std::string domains;
  for (const std::string& d : registry->Domains()) absl::StrAppend(&domains, domains.empty() ? "" : ",", d);
  std::cout << "reward-server: domains=" << domains << " workers=" << workers << " queue=" << queue << "\n";
  std::cout << "listening on " << (*server)->address() << std::endl;
  WaitForStopSignal(*shared_engine, stats_interval_s);
  std::cout << "reward-server: signal " << g_stop_signal << ", shutting down (grace " << grace_ms << " ms)"
            << std::endl;
  (*server)->Shutdown(std::chrono::milliseconds(grace_ms));
  shared_engine->Shutdown();
  std::cout << CountersLine(shared_engine->Info()) << "\nreward-server: stopped" << std::endl;
  return 0;
}

}  // namespace
}  // namespace m1rl::reward

M1RL_REGISTER_COMMAND(reward_server, "reward-server",
                      "serve rewards over gRPC (rule verifiers; GenRM with --config)",
                      m1rl::reward::RunRewardServer);
