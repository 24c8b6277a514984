// Test helper: a ScoringEngine over a registry behind a RewardServer on loopback, and one Score RPC through a
// real gRPC stub with its wall time (the domain tests check that item deadlines bound the call). Header-only.
#ifndef M1RL_REWARD_SERVICE_TESTING_GRPC_HARNESS_H_
#define M1RL_REWARD_SERVICE_TESTING_GRPC_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "proto/rl.grpc.pb.h"
#include "reward/service/engine.h"
#include "reward/service/registry.h"
#include "reward/service/server.h"

namespace m1rl::reward::testing {

struct GrpcHarness {
  std::unique_ptr<RewardServer> server;
  std::unique_ptr<rl::RewardService::Stub> stub;
};

inline absl::StatusOr<GrpcHarness> StartGrpcHarness(std::shared_ptr<VerifierRegistry> registry,
                                                    const EngineOptions& options) {
  absl::StatusOr<std::unique_ptr<ScoringEngine>> engine = ScoringEngine::Create(std::move(registry), options);
  if (!engine.ok()) return engine.status();
  absl::StatusOr<std::unique_ptr<RewardServer>> server =
      RewardServer::Start(std::shared_ptr<ScoringEngine>(std::move(*engine)), ServerOptions{});
  if (!server.ok()) return server.status();
  GrpcHarness h;
  h.stub = rl::RewardService::NewStub(
      grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));
  h.server = std::move(*server);
  return h;
}

struct TimedScore {
  grpc::Status status;
  rl::ScoreResponse response;
  double elapsed_ms = 0;
};

// One Score call with a 10 s RPC deadline.
inline TimedScore ScoreTimed(rl::RewardService::Stub* stub, const rl::ScoreRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  TimedScore out;
  const auto start = std::chrono::steady_clock::now();
  out.status = stub->Score(&context, request, &out.response);
  out.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace m1rl::reward::testing

#endif  // M1RL_REWARD_SERVICE_TESTING_GRPC_HARNESS_H_
