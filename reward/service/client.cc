#include "reward/service/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "proto/rl.grpc.pb.h"

namespace m1rl::reward {

struct RewardClient::Pending {
  rl::ScoreItem item;
  Done done;
  Clock::time_point first_attempt;
  int64_t attempts = 0;
  int internal_retries = 0;
};

class RewardClient::Transport {
 public:
  virtual ~Transport() = default;
  // Starts one attempt; exactly one of client->OnAttemptResult / OnAttemptError follows.
  virtual void Start(RewardClient* client, std::shared_ptr<Pending> p, int64_t deadline_ms) = 0;
  virtual absl::StatusOr<rl::InfoResponse> Info(int64_t deadline_ms) = 0;
};

class RewardClient::GrpcTransport final : public Transport {
 public:
  explicit GrpcTransport(const std::string& address) {
    grpc::ChannelArguments args;
    // Reconnect quickly after a server restart (gRPC's default backoff starts at 1 s, grows to 120 s).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    stub_ = rl::RewardService::NewStub(channel_);
  }

  // A callback may still be unwinding on a gRPC thread after the client has seen its result: the lambda,
  // and with it the attempt's ClientContext (which holds a channel reference), die only when it returns.
  // Wait for every attempt so the channel is released here, never from inside a gRPC callback.
  ~GrpcTransport() override {
    std::unique_lock<std::mutex> lock(live_mu_);
    live_cv_.wait(lock, [this] { return live_attempts_ == 0; });
  }

  GrpcTransport(const GrpcTransport&) = delete;
  GrpcTransport& operator=(const GrpcTransport&) = delete;

  void Start(RewardClient* client, std::shared_ptr<Pending> p, int64_t deadline_ms) override {
    struct Attempt {
      explicit Attempt(GrpcTransport* t) : live(t) {}
      LiveToken live;  // declared first: released after ctx
      grpc::ClientContext ctx;
      rl::ScoreRequest request;
      rl::ScoreResponse response;
    };
    auto a = std::make_shared<Attempt>(this);
    a->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    *a->request.add_items() = p->item;
    stub_->async()->Score(&a->ctx, &a->request, &a->response, [client, p, a](const grpc::Status& s) {
      if (s.ok()) {
        if (a->response.results_size() != 1) {
          client->OnAttemptError(
              p, rl::INTERNAL, true, 0,
              absl::StrCat("server returned ", a->response.results_size(), " results for 1 item"));
          return;
        }
        client->OnAttemptResult(p, std::move(*a->response.mutable_results(0)));
        return;
      }
      int64_t hint_ms = 0;
      const auto& md = a->ctx.GetServerTrailingMetadata();
      if (auto it = md.find("retry-after-ms"); it != md.end()) {
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), hint_ms);
      }
      std::string error = absl::StrCat("Score RPC: ", absl::StatusCodeToString(FromGrpcStatus(s).code()),
                                       ": ", s.error_message());
      switch (s.error_code()) {
        case grpc::StatusCode::UNAVAILABLE:
        case grpc::StatusCode::CANCELLED:
        case grpc::StatusCode::ABORTED:
          client->OnAttemptError(p, rl::INFRA_ERROR, true, hint_ms, std::move(error));
          return;
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
          client->OnAttemptError(p, rl::RESOURCE_EXHAUSTED, true, hint_ms, std::move(error));
          return;
        case grpc::StatusCode::DEADLINE_EXCEEDED:
          client->OnAttemptError(p, rl::TIMEOUT, false, 0, std::move(error));
          return;
        case grpc::StatusCode::INVALID_ARGUMENT:
          client->OnAttemptError(p, rl::INVALID_INPUT, false, 0, std::move(error));
          return;
        default:
          client->OnAttemptError(p, rl::INFRA_ERROR, false, 0, std::move(error));
          return;
      }
    });
  }

  absl::StatusOr<rl::InfoResponse> Info(int64_t deadline_ms) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    rl::InfoResponse info;
    grpc::Status s = stub_->GetInfo(&ctx, rl::InfoRequest(), &info);
    if (!s.ok()) return FromGrpcStatus(s);
    return info;
  }

 private:
  // Counts one attempt for the destructor's wait, from construction to destruction.
  class LiveToken {
   public:
    explicit LiveToken(GrpcTransport* t) : t_(t) {
      std::lock_guard<std::mutex> lock(t_->live_mu_);
      ++t_->live_attempts_;
    }
    ~LiveToken() {
      std::lock_guard<std::mutex> lock(t_->live_mu_);
      // Notify under the lock: the transport may be destroyed as soon as live_mu_ is free.
      if (--t_->live_attempts_ == 0) t_->live_cv_.notify_all();
    }
    LiveToken(const LiveToken&) = delete;
    LiveToken& operator=(const LiveToken&) = delete;

   private:
    GrpcTransport* t_;
  };

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rl::RewardService::Stub> stub_;
  std::mutex live_mu_;
  std::condition_variable live_cv_;
  int64_t live_attempts_ = 0;  // guarded by live_mu_
};

class RewardClient::InProcessTransport final : public Transport {
 public:
  explicit InProcessTransport(std::shared_ptr<ScoringEngine> engine) : engine_(std::move(engine)) {}

  void Start(RewardClient* client, std::shared_ptr<Pending> p, int64_t deadline_ms) override {
    std::vector<rl::ScoreItem> one{p->item};
    absl::Status admitted =
        engine_->Submit(std::move(one), Clock::now() + std::chrono::milliseconds(deadline_ms), nullptr,
                        [client, p](size_t, rl::ScoreResult r) { client->OnAttemptResult(p, std::move(r)); });
    if (absl::IsResourceExhausted(admitted)) {
      client->OnAttemptError(p, rl::RESOURCE_EXHAUSTED, true, engine_->retry_after_ms(),
                             std::string{admitted.message()});
    } else if (!admitted.ok()) {
      client->OnAttemptError(p, rl::INFRA_ERROR, false, 0, std::string{admitted.message()});
    }
  }

  absl::StatusOr<rl::InfoResponse> Info(int64_t) override { return engine_->Info(); }

 private:
  std::shared_ptr<ScoringEngine> engine_;
};

// Statuses are propagated by hand in this file: common/status_macros.h does not compile against
// Debian's Abseil (absl::string_view is not std::string_view there).
absl::StatusOr<RewardClient::Resolved> RewardClient::Resolve(const config::RewardConfig& c) {
  if (c.mode() == config::RewardConfig::MODE_UNSPECIFIED) {
    return absl::InvalidArgumentError("reward.mode must be set: grpc or in_process");
  }
  if (c.mode() == config::RewardConfig::MODE_GRPC && c.address().empty()) {
    return absl::InvalidArgumentError("reward.address must be host:port when reward.mode is \"grpc\"");
  }
  const std::pair<const char*, int64_t> non_negative[] = {
      {"reward.deadline_ms", c.deadline_ms()},
      {"reward.max_in_flight", c.max_in_flight()},
      {"reward.max_retries", c.max_retries()},
      {"reward.retry_backoff_ms", c.retry_backoff_ms()},
      {"reward.give_up_after_ms", c.give_up_after_ms()},
      {"reward.in_process_workers", c.in_process_workers()},
      {"reward.queue_capacity", c.queue_capacity()}};
  for (const auto& [name, value] : non_negative) {
    if (value < 0) return absl::InvalidArgumentError(absl::StrCat(name, " must be >= 0, got ", value));
  }
  if (!(c.correctness_weight() >= 0) || !(c.format_weight() >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward.correctness_weight and reward.format_weight must be >= 0, got ",
                     c.correctness_weight(), " and ", c.format_weight()));
  }
  Resolved r;
  r.mode = c.mode() == config::RewardConfig::MODE_GRPC ? "grpc" : "in_process";
  r.address = c.address();
  r.deadline_ms = c.deadline_ms() > 0 ? c.deadline_ms() : kDefaultDeadlineMs;
  r.max_in_flight = c.max_in_flight() > 0 ? c.max_in_flight() : kDefaultMaxInFlight;
  r.max_retries = c.max_retries() > 0 ? c.max_retries() : -1;  // unbounded within give_up_after_ms
  r.retry_backoff_ms = c.retry_backoff_ms() > 0 ? c.retry_backoff_ms() : kDefaultRetryBackoffMs;
  r.give_up_after_ms = c.give_up_after_ms() > 0 ? c.give_up_after_ms() : kDefaultGiveUpAfterMs;
  r.require_think = c.require_think();
  return r;
}

absl::Status RewardClient::ValidateConfig(const config::RewardConfig& config) {
  return Resolve(config).status();
}

absl::StatusOr<std::unique_ptr<RewardClient>> RewardClient::CreateGrpc(const config::RewardConfig& config) {
  config::RewardConfig c = config;
  c.set_mode(config::RewardConfig::MODE_GRPC);
  absl::StatusOr<Resolved> resolved = Resolve(c);
  if (!resolved.ok()) return resolved.status();
  auto transport = std::make_unique<GrpcTransport>(resolved->address);
  return std::unique_ptr<RewardClient>(new RewardClient(std::move(*resolved), std::move(transport)));
}

absl::StatusOr<std::unique_ptr<RewardClient>> RewardClient::CreateInProcess(
    const config::RewardConfig& config, std::shared_ptr<ScoringEngine> engine) {
  if (engine == nullptr) return absl::InvalidArgumentError("RewardClient::CreateInProcess: engine is null");
  config::RewardConfig c = config;
  c.set_mode(config::RewardConfig::MODE_IN_PROCESS);
  absl::StatusOr<Resolved> resolved = Resolve(c);
  if (!resolved.ok()) return resolved.status();
  auto transport = std::make_unique<InProcessTransport>(std::move(engine));
  return std::unique_ptr<RewardClient>(new RewardClient(std::move(*resolved), std::move(transport)));
}

RewardClient::RewardClient(Resolved config, std::unique_ptr<Transport> transport)
    : config_(std::move(config)),
      transport_(std::move(transport)),
      rng_state_(static_cast<uint64_t>(Clock::now().time_since_epoch().count()) | 1) {
  timer_ = std::thread([this] { TimerLoop(); });
}

RewardClient::~RewardClient() {
  Drain();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  timer_.join();
}

void RewardClient::ScoreAsync(rl::ScoreItem item, Done done) {
  if (config_.require_think) item.set_require_think(true);
  if (item.idempotency_key().empty()) item.set_idempotency_key(DeriveIdempotencyKey(item, "client"));
  auto p = std::make_shared<Pending>();
  p->item = std::move(item);
  p->done = std::move(done);
  p->first_attempt = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++outstanding_;
    ready_.push_back(std::move(p));
  }
  Pump();
}

void RewardClient::Pump() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pumping_) return;  // the active pumper re-checks the queue before it stops (below)
    pumping_ = true;
  }
  while (true) {
    std::shared_ptr<Pending> p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Invariant: the check and pumping_ = false happen in one critical section, so work queued by a
      // thread whose Pump() returned early is seen here.
      if (ready_.empty() || in_flight_ >= config_.max_in_flight) {
        pumping_ = false;
        return;
      }
      p = std::move(ready_.front());
      ready_.pop_front();
      ++in_flight_;
      ++p->attempts;
      ++stats_.attempts;
    }
    StartAttempt(std::move(p));
  }
}

void RewardClient::StartAttempt(std::shared_ptr<Pending> p) {
  transport_->Start(this, std::move(p), config_.deadline_ms);
}

void RewardClient::OnAttemptResult(std::shared_ptr<Pending> p, rl::ScoreResult result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
  const rl::ItemStatus s = result.status();
  if (s == rl::INTERNAL && p->internal_retries == 0) {
    ++p->internal_retries;  // REWARDS.md: INTERNAL is retryable once
    RetryOrFinish(std::move(p), std::move(result), 0);
  } else if (s == rl::INFRA_ERROR || s == rl::RESOURCE_EXHAUSTED || s == rl::CANCELLED) {
    const int64_t hint = result.retry_after_ms();
    RetryOrFinish(std::move(p), std::move(result), hint);
  } else {
    Finish(p, std::move(result));
  }
}

void RewardClient::OnAttemptError(std::shared_ptr<Pending> p, rl::ItemStatus status, bool retryable,
                                  int64_t retry_after_ms, std::string error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
  rl::ScoreResult r;
  r.set_item_id(p->item.item_id());
  r.set_status(status);
  r.set_retryable(retryable);
  r.set_retry_after_ms(retry_after_ms);
  r.set_details(std::move(error));
  if (retryable) {
    RetryOrFinish(std::move(p), std::move(r), retry_after_ms);
  } else {
    Finish(p, std::move(r));
  }
}

void RewardClient::RetryOrFinish(std::shared_ptr<Pending> p, rl::ScoreResult final_if_no_retry,
                                 int64_t retry_after_ms) {
  bool give_up = false;
  Clock::time_point at;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int shift = static_cast<int>(std::min<int64_t>(p->attempts - 1, 16));
    const int64_t backoff = std::min<int64_t>(config_.retry_backoff_ms << shift, 2000);
    rng_state_ ^= rng_state_ << 13;
    rng_state_ ^= rng_state_ >> 7;
    rng_state_ ^= rng_state_ << 17;
    const double jitter =
        0.5 + 0.5 * static_cast<double>(rng_state_ >> 11) / static_cast<double>(uint64_t{1} << 53);
    const int64_t delay_ms =
        std::max(static_cast<int64_t>(static_cast<double>(backoff) * jitter), retry_after_ms);
    at = Clock::now() + std::chrono::milliseconds(delay_ms);
    const bool out_of_time = at - p->first_attempt > std::chrono::milliseconds(config_.give_up_after_ms);
    const bool out_of_attempts = config_.max_retries >= 0 && p->attempts > config_.max_retries;
    give_up = out_of_time || out_of_attempts;
    ++(give_up ? stats_.gave_up : stats_.retries);
  }
  if (give_up) {
    const double waited_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - p->first_attempt).count();
    if (final_if_no_retry.status() != rl::INTERNAL) {
      final_if_no_retry.set_details(absl::StrCat(
          "gave up after ", p->attempts, " attempts in ", static_cast<int64_t>(waited_ms),
          " ms; last: ", rl::ItemStatus_Name(final_if_no_retry.status()), ": ", final_if_no_retry.details()));
      final_if_no_retry.set_status(rl::INFRA_ERROR);
      final_if_no_retry.set_retryable(true);
    }
    Finish(p, std::move(final_if_no_retry));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    timers_.push(Timed{at, std::move(p)});
    cv_.notify_all();
  }
  Pump();
}

void RewardClient::Finish(const std::shared_ptr<Pending>& p, rl::ScoreResult result) {
  if (result.item_id().empty()) result.set_item_id(p->item.item_id());
  if (result.idempotency_key().empty()) result.set_idempotency_key(p->item.idempotency_key());
  Done done = std::move(p->done);
  p->done = nullptr;
  done(result);
  Pump();
  std::lock_guard<std::mutex> lock(mu_);
  // Notify under the lock: once outstanding_ reaches 0 the destructor may run as soon as mu_ is free.
  if (--outstanding_ == 0) cv_.notify_all();
}

void RewardClient::TimerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      cv_.wait(lock);
    } else {
      // A copy: wait_until keeps reading its argument while mu_ is released, and a push may
      // reallocate the heap under a reference to top() (ASan found this).
      const Clock::time_point next = timers_.top().at;
      cv_.wait_until(lock, next);
    }
    bool moved = false;
    const Clock::time_point now = Clock::now();
    while (!timers_.empty() && timers_.top().at <= now) {
      ready_.push_back(timers_.top().p);
      timers_.pop();
      moved = true;
    }
    if (moved) {
      lock.unlock();
      Pump();
      lock.lock();
    }
  }
}

void RewardClient::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return outstanding_ == 0; });
}

absl::StatusOr<std::vector<rl::ScoreResult>> RewardClient::ScoreBatch(std::vector<rl::ScoreItem> items) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    size_t remaining;
    std::vector<rl::ScoreResult> results;
  };
  State state;
  state.remaining = items.size();
  state.results.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    ScoreAsync(std::move(items[i]), [&state, i](const rl::ScoreResult& r) {
      std::lock_guard<std::mutex> lock(state.mu);
      state.results[i] = r;
      if (--state.remaining == 0) state.cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(state.mu);
  state.cv.wait(lock, [&state] { return state.remaining == 0; });
  return std::move(state.results);
}

absl::StatusOr<rl::InfoResponse> RewardClient::GetInfo() { return transport_->Info(config_.deadline_ms); }

RewardClient::Stats RewardClient::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace m1rl::reward
