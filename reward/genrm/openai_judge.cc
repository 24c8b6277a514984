#include "reward/genrm/openai_judge.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/config.h"
#include "common/file.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace m1rl::reward::genrm {
namespace {

using std::chrono::milliseconds;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

int64_t MsUntil(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t - Clock::now()).count();
}

// Sleeps until `until`, waking every 20 ms to honour cancellation. False when cancelled.
bool SleepUntil(Clock::time_point until, const CheckContext& ctx) {
  while (Clock::now() < until) {
    if (ctx.Cancelled()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(20), until - Clock::now()));
  }
  return !ctx.Cancelled();
}

uint64_t JitterDraw() {
  static std::atomic<uint64_t> counter{static_cast<uint64_t>(Clock::now().time_since_epoch().count())};
  return SplitMix64(counter.fetch_add(kGoldenGamma, std::memory_order_relaxed));
}

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Collects Retry-After (delta-seconds form; the HTTP-date form is ignored).
size_t ReadHeader(char* data, size_t size, size_t n, void* out) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() &&
      absl::AsciiStrToLower(std::string(line.substr(0, kName.size()))) == kName) {
    int64_t seconds = 0;
    if (absl::SimpleAtoi(std::string(absl::StripAsciiWhitespace(std::string(line.substr(kName.size())))),
                         &seconds) &&
        seconds >= 0) {
      *static_cast<int64_t*>(out) = seconds * 1000;
    }
  }
  return size * n;
}

int AbortIfCancelled(void* ctx, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const CheckContext*>(ctx)->Cancelled() ? 1 : 0;
}

struct Attempt {
  CURLcode code = CURLE_OK;
  long http = 0;  // NOLINT(google-runtime-int): curl's type
  std::string body;
  int64_t retry_after_ms = -1;
  long new_connections = 0;  // NOLINT(google-runtime-int)
};

}  // namespace

absl::StatusOr<OpenAiJudgeOptions> ResolveOpenAiJudgeOptions(const config::OpenAiJudgeConfig& c) {
  OpenAiJudgeOptions o;
  FieldChecker check;
  if (c.urls().empty()) check.Add("reward.genrm.openai.urls", " is required");
  for (int i = 0; i < c.urls_size(); ++i) {
    if (c.urls(i).empty()) check.Add(absl::StrCat("reward.genrm.openai.urls[", i, "]"), " is empty");
  }
  if (c.model().empty()) check.Add("reward.genrm.openai.model", " is required");
  check.AtLeast(c.max_in_flight(), 0, "reward.genrm.openai.max_in_flight");
  check.NonNegative(c.requests_per_second(), "reward.genrm.openai.requests_per_second");
  check.AtLeast(c.burst(), 0, "reward.genrm.openai.burst");
  check.AtLeast(c.max_retries(), 0, "reward.genrm.openai.max_retries");
  check.AtLeast(c.backoff_ms(), 0, "reward.genrm.openai.backoff_ms");
  check.AtLeast(c.max_backoff_ms(), 0, "reward.genrm.openai.max_backoff_ms");
  check.AtLeast(c.call_deadline_ms(), 0, "reward.genrm.openai.call_deadline_ms");
  check.AtLeast(c.attempt_timeout_ms(), 0, "reward.genrm.openai.attempt_timeout_ms");
  check.AtLeast(c.connect_timeout_ms(), 0, "reward.genrm.openai.connect_timeout_ms");
  check.AtLeast(c.breaker_failures(), 0, "reward.genrm.openai.breaker_failures");
  check.AtLeast(c.breaker_cooldown_ms(), 0, "reward.genrm.openai.breaker_cooldown_ms");
  M1RL_RETURN_IF_ERROR(check.Result());
  o.urls.assign(c.urls().begin(), c.urls().end());
  o.model = c.model();
  if (c.max_in_flight() > 0) o.max_in_flight = c.max_in_flight();
  o.requests_per_second = c.requests_per_second();
  o.burst = c.burst() > 0 ? c.burst() : std::max(1, static_cast<int>(std::floor(o.requests_per_second)));
  if (c.max_retries() > 0) o.max_retries = c.max_retries();
  if (c.backoff_ms() > 0) o.backoff_ms = c.backoff_ms();
  if (c.max_backoff_ms() > 0) o.max_backoff_ms = c.max_backoff_ms();
  if (c.call_deadline_ms() > 0) o.call_deadline_ms = c.call_deadline_ms();
  o.attempt_timeout_ms = c.attempt_timeout_ms() > 0 ? c.attempt_timeout_ms() : o.call_deadline_ms;
  if (c.connect_timeout_ms() > 0) o.connect_timeout_ms = c.connect_timeout_ms();
  if (c.breaker_failures() > 0) o.breaker_failures = c.breaker_failures();
  if (c.breaker_cooldown_ms() > 0) o.breaker_cooldown_ms = c.breaker_cooldown_ms();
  if (!c.api_key_file().empty()) {
    absl::StatusOr<std::string> key = ReadFile(c.api_key_file());
    if (!key.ok()) {
      return absl::Status(key.status().code(),
                          absl::StrCat("reward.genrm.openai.api_key_file: ", key.status().message()));
    }
    o.api_key = std::string(absl::StripAsciiWhitespace(*key));
  }
  return o;
}

class OpenAiJudge::Impl {
 public:
  explicit Impl(OpenAiJudgeOptions options) : options_(std::move(options)) {
    absl::MutexLock lock(&mu_);
    for (const std::string& url : options_.urls) {
      Endpoint e;
      e.url = url;
      e.tokens = options_.burst;
      e.last_refill = Clock::now();
      endpoints_.push_back(std::move(e));
    }
  }
  ~Impl() {
    absl::MutexLock lock(&mu_);
    for (Endpoint& e : endpoints_) {
      for (CURL* h : e.free) curl_easy_cleanup(h);
    }
  }

  absl::StatusOr<std::string> Complete(const JudgeRequest& request, const CheckContext& caller);
  const OpenAiJudgeOptions& Options() const { return options_; }
  OpenAiJudgeStats Stats() const {
    absl::MutexLock lock(&mu_);
    OpenAiJudgeStats s = stats_;
    for (const Endpoint& e : endpoints_) s.endpoint_attempts.push_back(e.attempts);
    return s;
  }

 private:
  // One URL: its pooled connections, in-flight count, token bucket and circuit.
  struct Endpoint {
    std::string url;
    std::vector<CURL*> free;
    int in_flight = 0;
    double tokens = 0;  // may go negative: reservations waiting for a refill
    Clock::time_point last_refill;
    int consecutive_failures = 0;
    Clock::time_point open_until;
    bool probe_in_flight = false;
    int64_t attempts = 0;
  };
  // A slot on one endpoint for one attempt.
  struct Lease {
    size_t endpoint = 0;
    CURL* handle = nullptr;
    bool probe = false;  // the half-open probe of its endpoint's circuit
  };

  bool Open(const Endpoint& e) const { return e.consecutive_failures >= options_.breaker_failures; }
  bool Admits(const Endpoint& e, Clock::time_point now) const {
    return e.in_flight < options_.max_in_flight && (!Open(e) || (now >= e.open_until && !e.probe_in_flight));
  }
  // The admitting endpoint with the fewest requests in flight (ties rotate), or -1.
  int Choose() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits (FIFO among callers) for a slot on the least-loaded endpoint whose circuit admits an attempt.
  // kUnavailable at once when every endpoint's circuit is open; kDeadlineExceeded / kCancelled while waiting.
  absl::StatusOr<Lease> Acquire(const CheckContext& ctx);
  // `up`: whether the endpoint answered (nullopt: the attempt never reached it).
  void Release(const Lease& lease, std::optional<bool> up);
  absl::Status WaitForToken(size_t endpoint, const CheckContext& ctx);
  Attempt Perform(const std::string& url, CURL* handle, const std::string& body, int64_t timeout_ms,
                  const CheckContext& ctx);
  void Count(int64_t OpenAiJudgeStats::*field, int64_t n = 1) {
    absl::MutexLock lock(&mu_);
    stats_.*field += n;
  }

  const OpenAiJudgeOptions options_;
  mutable absl::Mutex mu_;
  std::vector<Endpoint> endpoints_ ABSL_GUARDED_BY(mu_);
  size_t rotate_ ABSL_GUARDED_BY(mu_) = 0;
  // Callers waiting for a slot, admitted in ticket order (absl::Mutex wakes waiters in no fixed order:
  // without tickets some callers starve at high concurrency and time out).
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<uint64_t> waiting_ ABSL_GUARDED_BY(mu_);
  OpenAiJudgeStats stats_ ABSL_GUARDED_BY(mu_);
};

int OpenAiJudge::Impl::Choose() const {
  Clock::time_point now = Clock::now();
  int best = -1;
  for (size_t k = 0; k < endpoints_.size(); ++k) {
    size_t i = (rotate_ + k) % endpoints_.size();
    if (!Admits(endpoints_[i], now)) continue;
    if (best < 0 || endpoints_[i].in_flight < endpoints_[best].in_flight) best = static_cast<int>(i);
  }
  return best;
}

absl::StatusOr<OpenAiJudge::Impl::Lease> OpenAiJudge::Impl::Acquire(const CheckContext& ctx) {
  absl::MutexLock lock(&mu_);
  const uint64_t ticket = next_ticket_++;
  waiting_.insert(ticket);
  int chosen = -1;
  auto my_turn = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (*waiting_.begin() != ticket) return false;
    chosen = Choose();
    return chosen >= 0;
  };
  while (!my_turn()) {
    absl::Status give_up;
    Clock::time_point now = Clock::now();
    bool all_open = std::all_of(endpoints_.begin(), endpoints_.end(), [&](const Endpoint& e) {
      return Open(e) && (now < e.open_until || e.probe_in_flight);
    });
    if (all_open) {
      ++stats_.fast_failures;
      const Endpoint& e = endpoints_.front();
      give_up = absl::UnavailableError(absl::StrCat(
          "judge endpoint", endpoints_.size() > 1 ? "s " : " ", absl::StrJoin(options_.urls, ", "),
          ": circuit open after ", e.consecutive_failures, " consecutive failures (retry in ",
          std::max<int64_t>(0, MsUntil(e.open_until)), " ms)"));
    } else if (ctx.Cancelled()) {
      give_up = absl::CancelledError("judge call cancelled while waiting for a connection");
    } else if (ctx.Expired()) {
      give_up =
          absl::DeadlineExceededError(absl::StrCat("judge concurrency limit (", options_.max_in_flight,
                                                   " in flight per endpoint): no slot before the deadline"));
    }
    if (!give_up.ok()) {
      waiting_.erase(ticket);
      return give_up;
    }
    mu_.AwaitWithTimeout(absl::Condition(&my_turn),
                         absl::Milliseconds(std::clamp<int64_t>(MsUntil(ctx.deadline), 1, 20)));
  }
  waiting_.erase(ticket);
  rotate_ = static_cast<size_t>(chosen) + 1;
  Endpoint& e = endpoints_[chosen];
  Lease lease;
  lease.endpoint = static_cast<size_t>(chosen);
  lease.probe = Open(e);
  if (lease.probe) e.probe_in_flight = true;
  if (!e.free.empty()) {
    lease.handle = e.free.back();
    e.free.pop_back();
  } else {
    lease.handle = curl_easy_init();
    if (lease.handle == nullptr) {
      if (lease.probe) e.probe_in_flight = false;
      return absl::InternalError("curl_easy_init failed");
    }
  }
  ++e.in_flight;
  ++e.attempts;
  return lease;
}

void OpenAiJudge::Impl::Release(const Lease& lease, std::optional<bool> up) {
  absl::MutexLock lock(&mu_);
  Endpoint& e = endpoints_[lease.endpoint];
  --e.in_flight;
  e.free.push_back(lease.handle);
  if (lease.probe) e.probe_in_flight = false;
  if (!up.has_value()) return;
  if (*up) {
    e.consecutive_failures = 0;
    return;
  }
  ++e.consecutive_failures;
  if (Open(e)) {
    if (e.consecutive_failures == options_.breaker_failures || lease.probe) ++stats_.breaker_opens;
    e.open_until = Clock::now() + milliseconds(options_.breaker_cooldown_ms);
  }
}

absl::Status OpenAiJudge::Impl::WaitForToken(size_t endpoint, const CheckContext& ctx) {
  if (options_.requests_per_second <= 0) return absl::OkStatus();
  Clock::time_point ready;
  {
    absl::MutexLock lock(&mu_);
    Endpoint& e = endpoints_[endpoint];
    Clock::time_point now = Clock::now();
    double elapsed_s = std::chrono::duration<double>(now - e.last_refill).count();
    e.tokens = std::min<double>(options_.burst, e.tokens + elapsed_s * options_.requests_per_second);
    e.last_refill = now;
    double wait_s = e.tokens >= 1.0 ? 0.0 : (1.0 - e.tokens) / options_.requests_per_second;
    ready = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s));
    if (ready >= ctx.deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("judge rate limit (", options_.requests_per_second,
                       "/s per endpoint): no request slot before the deadline"));
    }
    e.tokens -= 1.0;  // reserved now, paid for by the refill until `ready`
  }
  if (!SleepUntil(ready, ctx)) return absl::CancelledError("judge call cancelled while rate limited");
  return absl::OkStatus();
}

Attempt OpenAiJudge::Impl::Perform(const std::string& url, CURL* h, const std::string& body,
                                   int64_t timeout_ms, const CheckContext& ctx) {
  Attempt a;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (!options_.api_key.empty()) {
    headers = curl_slist_append(headers, absl::StrCat("Authorization: Bearer ", options_.api_key).c_str());
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));  // NOLINT(google-runtime-int)
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, timeout_ms)));  // NOLINT
  curl_easy_setopt(
      h, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, std::min(timeout_ms, options_.connect_timeout_ms))));  // NOLINT
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, ReadHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &a.retry_after_ms);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, AbortIfCancelled);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ctx);
  a.code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.http);
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &a.new_connections);
  // The handle outlives this call in the pool: drop pointers into this frame.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, nullptr);
  curl_slist_free_all(headers);
  return a;
}

namespace {

absl::StatusOr<std::string> ParseChatCompletion(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat("judge reply is not JSON: ", body.substr(0, 120)));
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) {
    return absl::DataLossError(absl::StrCat("judge reply has no choices[0]: ", body.substr(0, 120)));
  }
  const nlohmann::json& choice = (*choices)[0];
  auto message = choice.find("message");
  if (message == choice.end() || !message->is_object() || !message->contains("content") ||
      !(*message)["content"].is_string()) {
    return absl::DataLossError(
        absl::StrCat("judge reply has no choices[0].message.content: ", body.substr(0, 120)));
  }
  return (*message)["content"].get<std::string>();
}

}  // namespace

absl::StatusOr<std::string> OpenAiJudge::Impl::Complete(const JudgeRequest& request,
                                                        const CheckContext& caller) {
  Count(&OpenAiJudgeStats::calls);
  CheckContext ctx = caller;
  ctx.deadline = std::min(caller.deadline, Clock::now() + milliseconds(options_.call_deadline_ms));
  nlohmann::json req = {{"model", options_.model},
                        {"temperature", 0},
                        {"max_tokens", request.max_tokens},
                        {"seed", request.seed & 0x7fffffffu}};
  nlohmann::json& messages = req["messages"] = nlohmann::json::array();
  for (const ChatMessage& m : request.messages)
    messages.push_back({{"role", m.role}, {"content", m.content}});
  const std::string body = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  absl::Status last = absl::DeadlineExceededError("judge call deadline passed before the first attempt");
  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    if (ctx.Cancelled()) return absl::CancelledError("judge call cancelled");
    if (ctx.Expired()) break;
    M1RL_ASSIGN_OR_RETURN(Lease lease, Acquire(ctx));
    if (absl::Status waited = WaitForToken(lease.endpoint, ctx); !waited.ok()) {
      Release(lease, std::nullopt);
      return waited;
    }
    int64_t timeout_ms = std::min<int64_t>(options_.attempt_timeout_ms, MsUntil(ctx.deadline));
    if (timeout_ms <= 0) {
      Release(lease, std::nullopt);
      break;
    }
    if (attempt > 0) Count(&OpenAiJudgeStats::retries);
    Count(&OpenAiJudgeStats::attempts);
    const std::string& url = options_.urls[lease.endpoint];
    Attempt a = Perform(url, lease.handle, body, timeout_ms, ctx);
    Count(&OpenAiJudgeStats::connections, a.new_connections);
    if (a.code == CURLE_ABORTED_BY_CALLBACK) {
      Release(lease, std::nullopt);
      return absl::CancelledError("judge call cancelled");
    }
    Release(lease, /*up=*/a.code == CURLE_OK && a.http < 500);
    if (a.code == CURLE_OK && a.http == 200) return ParseChatCompletion(a.body);
    if (a.code == CURLE_OK) {
      std::string what =
          absl::StrCat("judge endpoint ", url, " returned HTTP ", a.http, ": ", a.body.substr(0, 120));
      if (a.http == 429) {
        Count(&OpenAiJudgeStats::http_429);
        last = absl::ResourceExhaustedError(what);
      } else if (a.http >= 500) {
        Count(&OpenAiJudgeStats::http_5xx);
        last = absl::UnavailableError(what);
      } else {
        return absl::FailedPreconditionError(what);  // 4xx: our request is wrong; a retry cannot help
      }
    } else if (a.code == CURLE_OPERATION_TIMEDOUT) {
      Count(&OpenAiJudgeStats::timeouts);
      if (ctx.Expired()) return absl::DeadlineExceededError("judge call timed out at its deadline");
      last = absl::DeadlineExceededError(absl::StrCat("judge attempt timed out after ", timeout_ms, " ms"));
    } else {
      if (a.code == CURLE_COULDNT_CONNECT) Count(&OpenAiJudgeStats::connect_errors);
      last = absl::UnavailableError(absl::StrCat("judge endpoint ", url, ": ", curl_easy_strerror(a.code)));
    }
    if (attempt == options_.max_retries) break;
    int64_t cap = std::min<int64_t>(options_.max_backoff_ms, options_.backoff_ms << std::min(attempt, 30));
    int64_t sleep_ms = cap > 0 ? static_cast<int64_t>(JitterDraw() % static_cast<uint64_t>(cap + 1)) : 0;
    sleep_ms = std::max(sleep_ms, a.retry_after_ms);
    if (sleep_ms >= MsUntil(ctx.deadline)) {
      return absl::Status(last.code(),
                          absl::StrCat(last.message(), " (no time for a retry before the deadline)"));
    }
    if (!SleepUntil(Clock::now() + milliseconds(sleep_ms), ctx))
      return absl::CancelledError("judge call cancelled");
  }
  if (ctx.Expired())
    return absl::DeadlineExceededError(absl::StrCat("judge call deadline passed: ", last.message()));
  return absl::Status(last.code(),
                      absl::StrCat(last.message(), " (after ", options_.max_retries + 1, " attempts)"));
}

absl::StatusOr<std::unique_ptr<OpenAiJudge>> OpenAiJudge::Create(OpenAiJudgeOptions options) {
  if (options.urls.empty() || options.model.empty() ||
      std::any_of(options.urls.begin(), options.urls.end(), [](const std::string& u) { return u.empty(); })) {
    return absl::InvalidArgumentError("reward.genrm.openai.urls (non-empty) and .model are required");
  }
  if (options.max_in_flight < 1 || options.burst < 1 || options.max_retries < 0) {
    return absl::InvalidArgumentError(
        "reward.genrm.openai: max_in_flight and burst must be >= 1, max_retries >= 0");
  }
  GlobalInitOnce();
  return std::unique_ptr<OpenAiJudge>(new OpenAiJudge(std::make_unique<Impl>(std::move(options))));
}

OpenAiJudge::OpenAiJudge(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OpenAiJudge::~OpenAiJudge() = default;

absl::StatusOr<std::string> OpenAiJudge::Complete(const JudgeRequest& request, const CheckContext& ctx) {
  return impl_->Complete(request, ctx);
}
std::string_view OpenAiJudge::model() const { return impl_->Options().model; }
OpenAiJudgeStats OpenAiJudge::stats() const { return impl_->Stats(); }

}  // namespace m1rl::reward::genrm
