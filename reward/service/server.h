// RewardServer: the gRPC front end of a ScoringEngine (proto/rl.proto RewardService, REWARDS.md §7).
//
//  - Score (unary): REQUIRES a deadline; a call without one is rejected with INVALID_ARGUMENT (S17:
//    every client call sets a deadline, and an unbounded call could hold workers forever). Results in
//    item order, one per item, each with its own status. When the queue cannot take the batch the
//    call fails RESOURCE_EXHAUSTED with trailing metadata "retry-after-ms".
//  - ScoreStream (bidirectional): results in completion order. A stream may be long-lived, so it may
//    have no deadline: each item's budget is then item.deadline_ms, or ServerOptions::
//    stream_item_deadline_ms when that is 0. An item the queue cannot take is answered at once with
//    status RESOURCE_EXHAUSTED, retryable and retry_after_ms, and reads pause for retry_after_ms.
//  - Cancellation: a cancelled call (client cancel, broken stream, server shutdown) cancels its
//    queued and running checks (CallHandle) and returns CANCELLED.
//  - GetInfo: the engine's counters. The standard gRPC health service (grpc.health.v1) reports
//    SERVING while the server runs.
//
// Thread safety: call Shutdown() from one thread (it is idempotent). The engine may be shared by several
// servers over time (a restarted server keeps the idempotency cache when handed the same engine).
#ifndef M1RL_REWARD_SERVICE_SERVER_H_
#define M1RL_REWARD_SERVICE_SERVER_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "reward/service/engine.h"

namespace grpc {
class Server;
}

namespace m1rl::reward {

struct ServerOptions {
  std::string host = "127.0.0.1";  // "0.0.0.0" to listen on every interface
  int port = 0;                    // 0 = pick a free port (see port())
  int64_t stream_item_deadline_ms = 30000;
  int max_message_bytes = 64 << 20;
};

class RewardServiceImpl;

class RewardServer {
 public:
  // Binds and starts serving. kUnavailable when the address cannot be bound; kInvalidArgument for a
  // null engine or a bad port.
  static absl::StatusOr<std::unique_ptr<RewardServer>> Start(std::shared_ptr<ScoringEngine> engine,
                                                             const ServerOptions& options);
  ~RewardServer();  // Shutdown(0)
  RewardServer(const RewardServer&) = delete;
  RewardServer& operator=(const RewardServer&) = delete;

  int port() const { return port_; }
  std::string address() const;  // "host:port"
  // Stops accepting calls, gives running calls `grace` to finish, then cancels them (their items
  // CANCELLED) and waits for every handler to return. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  RewardServer() = default;
  std::shared_ptr<ScoringEngine> engine_;
  std::unique_ptr<RewardServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string host_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SERVICE_SERVER_H_
