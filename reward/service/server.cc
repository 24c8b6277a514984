#include "reward/service/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <deque>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "proto/rl.grpc.pb.h"

namespace m1rl::reward {
namespace {

constexpr auto kCancelPoll = absl::Milliseconds(20);

// The RPC deadline on the steady clock; time_point::max() when the call has none.
Clock::time_point SteadyDeadline(const grpc::ServerContext& ctx) {
  const auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return Clock::time_point::max();
  const auto left = deadline - std::chrono::system_clock::now();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(left);
}

}  // namespace

class RewardServiceImpl final : public rl::RewardService::Service {
 public:
  RewardServiceImpl(std::shared_ptr<ScoringEngine> engine, const ServerOptions& options)
      : engine_(std::move(engine)), options_(options) {}

  grpc::Status Score(grpc::ServerContext* ctx, const rl::ScoreRequest* request,
                     rl::ScoreResponse* response) override {
    engine_->CountRequest();
    const Clock::time_point deadline = SteadyDeadline(*ctx);
    if (deadline == Clock::time_point::max()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "Score: the call has no deadline; set one (ClientContext::set_deadline)");
    }
    struct State {
      absl::Mutex mu;
      absl::CondVar cv;
      size_t remaining ABSL_GUARDED_BY(mu) = 0;
      std::vector<rl::ScoreResult> results ABSL_GUARDED_BY(mu);
    };
    auto state = std::make_shared<State>();
    const size_t n = static_cast<size_t>(request->items_size());
    {
      absl::MutexLock lock(&state->mu);
      state->remaining = n;
      state->results.resize(n);
    }
    auto call = std::make_shared<CallHandle>();
    std::vector<rl::ScoreItem> items(request->items().begin(), request->items().end());
    absl::Status admitted =
        engine_->Submit(std::move(items), deadline, call, [state](size_t i, rl::ScoreResult r) {
          absl::MutexLock lock(&state->mu);
          state->results[i] = std::move(r);
          if (--state->remaining == 0) state->cv.SignalAll();
        });
    if (absl::IsResourceExhausted(admitted)) {
      ctx->AddTrailingMetadata("retry-after-ms", std::to_string(engine_->retry_after_ms()));
      return ToGrpcStatus(admitted);
    }
    if (!admitted.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(admitted.message()));
    // Invariant: the engine answers every admitted item by its deadline (+ reaper period) or soon after
    // cancellation, so this wait is bounded.
    absl::MutexLock lock(&state->mu);
    while (state->remaining > 0) {
      state->cv.WaitWithTimeout(&state->mu, kCancelPoll);
      if (state->remaining > 0 && ctx->IsCancelled()) call->Cancel();
    }
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "Score: call cancelled");
    for (rl::ScoreResult& r : state->results) *response->add_results() = std::move(r);
    return grpc::Status::OK;
  }

  grpc::Status ScoreStream(grpc::ServerContext* ctx,
                           grpc::ServerReaderWriter<rl::ScoreResult, rl::ScoreItem>* stream) override {
    engine_->CountRequest();
    const Clock::time_point rpc_deadline = SteadyDeadline(*ctx);
    struct State {
      absl::Mutex mu;
      absl::CondVar cv;
      std::deque<rl::ScoreResult> out ABSL_GUARDED_BY(mu);
      size_t outstanding ABSL_GUARDED_BY(mu) = 0;
      bool reading_done ABSL_GUARDED_BY(mu) = false;
      bool writer_done ABSL_GUARDED_BY(mu) = false;
    };
    auto state = std::make_shared<State>();
    auto call = std::make_shared<CallHandle>();

    // One writer thread: gRPC allows one concurrent Read and one concurrent Write on a sync stream.
    std::thread writer([state, call, stream] {
      bool broken = false;
      absl::MutexLock lock(&state->mu);
      while (true) {
        while (state->out.empty() && !(state->reading_done && state->outstanding == 0))
          state->cv.Wait(&state->mu);
        if (state->out.empty()) break;
        rl::ScoreResult r = std::move(state->out.front());
        state->out.pop_front();
        if (broken) continue;  // the client is gone: drain without writing
        state->mu.Unlock();
        const bool ok = stream->Write(r);
        state->mu.Lock();
        if (!ok) {
          broken = true;
          call->Cancel();
        }
      }
      state->writer_done = true;
      state->cv.SignalAll();
    });

    rl::ScoreItem item;
    while (stream->Read(&item)) {
      Clock::time_point deadline = rpc_deadline;
      if (deadline == Clock::time_point::max() && item.deadline_ms() <= 0) {
        deadline = Clock::now() + std::chrono::milliseconds(options_.stream_item_deadline_ms);
      }
      {
        absl::MutexLock lock(&state->mu);
        ++state->outstanding;
      }
      const std::string item_id = item.item_id();
      std::vector<rl::ScoreItem> one;
      one.push_back(std::move(item));
      absl::Status admitted =
          engine_->Submit(std::move(one), deadline, call, [state](size_t, rl::ScoreResult r) {
            absl::MutexLock lock(&state->mu);
            state->out.push_back(std::move(r));
            --state->outstanding;
            state->cv.SignalAll();
          });
      if (!admitted.ok()) {
        rl::ScoreResult r;
        r.set_item_id(item_id);
        r.set_status(absl::IsResourceExhausted(admitted) ? rl::RESOURCE_EXHAUSTED : rl::INFRA_ERROR);
        r.set_retryable(true);
        r.set_retry_after_ms(engine_->retry_after_ms());
        r.set_details(std::string(admitted.message()));
        {
          absl::MutexLock lock(&state->mu);
          state->out.push_back(std::move(r));
          --state->outstanding;
          state->cv.SignalAll();
        }
        // Backpressure (REWARDS.md §7): pause reads for the hint, so HTTP/2 flow control slows the sender.
        std::this_thread::sleep_for(std::chrono::milliseconds(engine_->retry_after_ms()));
      }
      item.Clear();
    }
    // Reads ended: the client half-closed, cancelled, or the server is shutting down.
    if (ctx->IsCancelled()) call->Cancel();
    {
      absl::MutexLock lock(&state->mu);
      state->reading_done = true;
      state->cv.SignalAll();
      while (!state->writer_done) {
        state->cv.WaitWithTimeout(&state->mu, kCancelPoll);
        if (ctx->IsCancelled()) call->Cancel();
      }
    }
    writer.join();
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "ScoreStream: call cancelled");
    return grpc::Status::OK;
  }

  grpc::Status GetInfo(grpc::ServerContext*, const rl::InfoRequest*, rl::InfoResponse* response) override {
    *response = engine_->Info();
    return grpc::Status::OK;
  }

 private:
  const std::shared_ptr<ScoringEngine> engine_;
  const ServerOptions options_;
};

absl::StatusOr<std::unique_ptr<RewardServer>> RewardServer::Start(std::shared_ptr<ScoringEngine> engine,
                                                                  const ServerOptions& options) {
  if (engine == nullptr) return absl::InvalidArgumentError("RewardServer: engine is null");
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--port must be in [0, 65535], got ", options.port));
  }
  if (options.stream_item_deadline_ms <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream_item_deadline_ms must be > 0, got ", options.stream_item_deadline_ms));
  }
  std::unique_ptr<RewardServer> server(new RewardServer());
  server->engine_ = engine;
  server->host_ = options.host;
  server->service_ = std::make_unique<RewardServiceImpl>(engine, options);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  const std::string address = absl::StrCat(options.host, ":", options.port);
  int selected_port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &selected_port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || selected_port == 0) {
    return absl::UnavailableError(absl::StrCat("reward server: cannot listen on ", address));
  }
  server->port_ = selected_port;
  if (auto* health = server->server_->GetHealthCheckService()) health->SetServingStatus(true);
  return server;
}

RewardServer::~RewardServer() { Shutdown(std::chrono::milliseconds(0)); }

std::string RewardServer::address() const { return absl::StrCat(host_, ":", port_); }

void RewardServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

}  // namespace m1rl::reward
