// A Judge over any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, ...), via libcurl.
//
// One POST per attempt to one of options.urls (replicas of one model) with {"model", "messages",
// "temperature": 0, "max_tokens", "seed"}; the reply is choices[0].message.content.
//  - Routing: each attempt goes to the endpoint with the fewest requests in flight among those with a free
//    slot and a circuit that admits it (ties rotate), so a retry usually lands on another replica.
//  - Connection reuse: per endpoint a pool of at most max_in_flight curl handles, each keeping its
//    connection alive.
//  - Concurrency limit: at most max_in_flight requests in flight per endpoint; callers wait, admitted in
//    arrival order (within their deadline).
//  - Rate limit: a token bucket (requests_per_second, burst) per endpoint.
//  - Retries: on connect/send/receive errors, attempt timeouts, HTTP 429 and 5xx, up to max_retries
//    more attempts, sleeping a full-jitter exponential backoff uniform(0, min(max_backoff, backoff * 2^k))
//    or the server's Retry-After when longer, never past the call deadline.
//  - Per-call deadline: min(ctx.deadline, now + call_deadline_ms) bounds waiting, every attempt and every
//    backoff; each attempt is also capped at attempt_timeout_ms.
//  - Circuit breaker, per endpoint: breaker_failures consecutive failed attempts (connect/send/receive
//    errors, timeouts, 5xx; a 429 or another answer counts as the endpoint being up) open its circuit for
//    breaker_cooldown_ms: no attempt goes there, and when every endpoint's circuit is open calls fail at
//    once with kUnavailable ("circuit open") instead of piling onto dead endpoints; after the cooldown one
//    probe attempt goes through (half-open) and its outcome closes or reopens the circuit.
// Errors (judge.h): kDeadlineExceeded (deadline reached), kCancelled (ctx.cancelled, checked while
// waiting and during transfers), kResourceExhausted (429 after the retries), kUnavailable (connection
// errors or 5xx after the retries), kFailedPrecondition (other 4xx: not retried), kDataLoss (200 whose body
// is no chat completion: not retried). Thread-safe.
//
// Design / non-goals: requests are blocking curl_easy_perform calls on the caller's thread (the reward
// service's verifier workers), not a curl_multi event loop: the service already has one thread per
// in-flight item, and the pools of easy handles give the connection reuse.
#ifndef M1RL_REWARD_GENRM_OPENAI_JUDGE_H_
#define M1RL_REWARD_GENRM_OPENAI_JUDGE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config_reward.pb.h"
#include "reward/genrm/judge.h"

namespace m1rl::reward::genrm {

struct OpenAiJudgeOptions {
  std::vector<std::string> urls;  // one or more replicas
  std::string model;
  std::string api_key;  // the bearer token (read from api_key_file), empty: none
  int max_in_flight = 64;
  double requests_per_second = 0.0;  // 0: unlimited
  int burst = 1;
  int max_retries = 4;
  int64_t backoff_ms = 100;
  int64_t max_backoff_ms = 5000;
  int64_t call_deadline_ms = 60000;
  int64_t attempt_timeout_ms = 60000;
  int64_t connect_timeout_ms = 2000;
  int breaker_failures = 5;
  int64_t breaker_cooldown_ms = 1000;
};

// Defaults applied, api_key_file read; kInvalidArgument naming the field, kNotFound for a missing key file.
absl::StatusOr<OpenAiJudgeOptions> ResolveOpenAiJudgeOptions(const config::OpenAiJudgeConfig& config);

struct OpenAiJudgeStats {
  int64_t calls = 0;     // Complete() calls
  int64_t attempts = 0;  // HTTP requests sent
  int64_t retries = 0;   // attempts after a retryable failure
  int64_t http_429 = 0;
  int64_t http_5xx = 0;
  int64_t timeouts = 0;  // attempts that hit their timeout
  int64_t connect_errors = 0;
  int64_t connections = 0;                 // new TCP connections opened (reuse keeps this low)
  int64_t breaker_opens = 0;               // times the circuit opened
  int64_t fast_failures = 0;               // calls refused while every circuit was open
  std::vector<int64_t> endpoint_attempts;  // per URL, in options.urls order
};

class OpenAiJudge : public Judge {
 public:
  // kInvalidArgument for options that ResolveOpenAiJudgeOptions would reject (empty url or model).
  static absl::StatusOr<std::unique_ptr<OpenAiJudge>> Create(OpenAiJudgeOptions options);
  ~OpenAiJudge() override;

  absl::StatusOr<std::string> Complete(const JudgeRequest& request, const CheckContext& ctx) override;
  std::string_view model() const override;
  OpenAiJudgeStats stats() const;

 private:
  class Impl;
  explicit OpenAiJudge(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace m1rl::reward::genrm

#endif  // M1RL_REWARD_GENRM_OPENAI_JUDGE_H_
