#include "reward/service/engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace m1rl::reward {
namespace {

constexpr size_t kLatencyWindow = 4096;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScoringEngine>> ScoringEngine::Create(
    std::shared_ptr<const VerifierRegistry> registry, const EngineOptions& options) {
  if (registry == nullptr) return absl::InvalidArgumentError("ScoringEngine: registry is null");
  if (options.num_workers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine.num_workers must be >= 1, got ", options.num_workers));
  }
  if (options.queue_capacity < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine.queue_capacity must be >= 1, got ", options.queue_capacity));
  }
  if (!(options.rules.correctness_weight >= 0) || !(options.rules.format_weight >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("engine weights must be >= 0, got correctness ",
                                                   options.rules.correctness_weight, " format ",
                                                   options.rules.format_weight));
  }
  if (options.default_item_deadline_ms <= 0 || options.reaper_period_ms <= 0 || options.retry_after_ms < 0 ||
      options.cache_ttl_ms <= 0) {
    return absl::InvalidArgumentError(
        "engine.default_item_deadline_ms, reaper_period_ms and cache_ttl_ms must be > 0, retry_after_ms >= "
        "0");
  }
  return std::unique_ptr<ScoringEngine>(new ScoringEngine(std::move(registry), options));
}

ScoringEngine::ScoringEngine(std::shared_ptr<const VerifierRegistry> registry, const EngineOptions& options)
    : registry_(std::move(registry)), options_(options) {
  latency_ring_ms_.reserve(kLatencyWindow);
  for (int i = 0; i < options_.num_workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  reaper_ = std::thread([this] { ReaperLoop(); });
}

ScoringEngine::~ScoringEngine() { Shutdown(); }

void ScoringEngine::Shutdown() {
  std::vector<Delivery> deliveries;
  {
    absl::MutexLock lock(&mu_);
    if (!shutdown_) {
      shutdown_ = true;
      for (auto& [key, job] : active_) {
        job->cancelled.store(true, std::memory_order_relaxed);
        for (Waiter& w : job->waiters) {
          rl::ScoreResult r;
          r.set_item_id(w.item_id);
          r.set_status(rl::CANCELLED);
          r.set_retryable(true);
          r.set_details("reward engine shutting down");
          r.set_idempotency_key(key);
          deliveries.push_back({std::move(w), std::move(r)});
        }
        job->waiters.clear();
      }
      active_.clear();
      queue_.clear();
    }
  }
  work_cv_.SignalAll();
  reaper_cv_.SignalAll();
  Deliver(deliveries);
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  if (reaper_.joinable()) reaper_.join();
}

void ScoringEngine::Deliver(std::vector<Delivery>& deliveries) {
  for (Delivery& d : deliveries) (*d.waiter.done)(d.waiter.index, std::move(d.result));
  deliveries.clear();
}

rl::ScoreResult ScoringEngine::Stamp(const rl::ScoreResult& base, const Waiter& w, Clock::time_point now) {
  rl::ScoreResult r = base;
  r.set_item_id(w.item_id);
  if (now > w.deadline && r.status() != rl::TIMEOUT && r.status() != rl::INVALID_INPUT) {
    // The answer is later than this waiter's deadline: it gets TIMEOUT, never a late verdict.
    rl::ScoreResult t;
    t.set_item_id(w.item_id);
    t.set_status(rl::TIMEOUT);
    t.set_details("deadline passed before the check finished");
    t.set_verifier_version(base.verifier_version());
    t.set_idempotency_key(base.idempotency_key());
    return t;
  }
  return r;
}

void ScoringEngine::RecordAnswer(const std::string& domain, const rl::ScoreResult& result,
                                 double latency_ms) {
  rl::DomainCounters& c = domains_[domain];
  c.set_domain(domain);
  if (result.status() == rl::OK) {
    if (result.verdict() == rl::CORRECT) c.set_correct(c.correct() + 1);
    if (result.verdict() == rl::INCORRECT) c.set_incorrect(c.incorrect() + 1);
    if (result.verdict() == rl::NO_ANSWER) c.set_no_answer(c.no_answer() + 1);
  } else {
    c.set_non_ok(c.non_ok() + 1);
  }
  if (result.status() == rl::TIMEOUT) ++timeouts_;
  if (latency_ring_ms_.size() < kLatencyWindow) {
    latency_ring_ms_.push_back(latency_ms);
  } else {
    latency_ring_ms_[latency_next_] = latency_ms;
  }
  latency_next_ = (latency_next_ + 1) % kLatencyWindow;
}

const rl::ScoreResult* ScoringEngine::CacheLookup(const std::string& key, Clock::time_point now) {
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  if (now - it->second.stored > std::chrono::milliseconds(options_.cache_ttl_ms)) {
    lru_.erase(it->second.lru_pos);
    cache_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
  return &it->second.result;
}

void ScoringEngine::CachePut(const std::string& key, const rl::ScoreResult& result, Clock::time_point now) {
  if (options_.cache_capacity == 0) return;
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    it->second.result = result;
    it->second.stored = now;
    lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
    return;
  }
  lru_.push_front(key);
  cache_.emplace(key, CacheEntry{result, now, lru_.begin()});
  while (cache_.size() > options_.cache_capacity) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

absl::Status ScoringEngine::Submit(std::vector<rl::ScoreItem> items, Clock::time_point call_deadline,
                                   std::shared_ptr<CallHandle> call, ItemCallback done) {
  if (items.empty()) return absl::OkStatus();
  if (call == nullptr) call = std::make_shared<CallHandle>();
  const Clock::time_point now = Clock::now();
  auto done_ptr = std::make_shared<ItemCallback>(std::move(done));

  // Validation and keys outside the lock (hashing long responses is the costly part).
  struct Prep {
    bool invalid = false;
    rl::ScoreResult invalid_result;
    std::string key;
    Clock::time_point deadline;
  };
  std::vector<Prep> prep(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const rl::ScoreItem& item = items[i];
    Prep& p = prep[i];
    const Verifier* verifier = registry_->Find(item.domain());
    absl::StatusOr<VerifyInput> input = ToVerifyInput(item);
    if (verifier == nullptr || !input.ok()) {
      p.invalid = true;
      // ScoreItemNow answers INVALID_INPUT before reaching a verifier for these items.
      p.invalid_result = ScoreItemNow(*registry_, options_.rules, item, CheckContext{});
    }
    p.key = !item.idempotency_key().empty()
                ? item.idempotency_key()
                : DeriveIdempotencyKey(item, verifier != nullptr ? verifier->version() : "");
    p.invalid_result.set_idempotency_key(p.key);
    p.deadline = call_deadline;
    if (item.deadline_ms() > 0)
      p.deadline = std::min(p.deadline, now + std::chrono::milliseconds(item.deadline_ms()));
    if (p.deadline == Clock::time_point::max())
      p.deadline = now + std::chrono::milliseconds(options_.default_item_deadline_ms);
  }

  std::vector<Delivery> deliveries;
  size_t new_jobs = 0;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return absl::FailedPreconditionError("reward engine is shut down");
    std::vector<const std::string*> batch_keys;
    for (size_t i = 0; i < items.size(); ++i) {
      const Prep& p = prep[i];
      if (p.invalid || p.deadline <= now || active_.count(p.key) != 0) continue;
      auto c = cache_.find(p.key);
      if (c != cache_.end() && now - c->second.stored <= std::chrono::milliseconds(options_.cache_ttl_ms))
        continue;
      if (std::any_of(batch_keys.begin(), batch_keys.end(),
                      [&](const std::string* k) { return *k == p.key; }))
        continue;
      batch_keys.push_back(&p.key);
      ++new_jobs;
    }
    if (queue_.size() + new_jobs > static_cast<size_t>(options_.queue_capacity)) {
      ++rejected_queue_full_;
      return absl::ResourceExhaustedError(
          absl::StrCat("reward queue full (", queue_.size(), "/", options_.queue_capacity,
                       " queued, call needs ", new_jobs, "); retry after ", options_.retry_after_ms, " ms"));
    }
    items_ += static_cast<int64_t>(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      Prep& p = prep[i];
      Waiter w{i, items[i].item_id(), p.deadline, now, call, done_ptr};
      if (p.invalid) {
        rl::ScoreResult r = Stamp(p.invalid_result, w, now);
        RecordAnswer(items[i].domain(), r, 0.0);
        deliveries.push_back({std::move(w), std::move(r)});
        continue;
      }
      if (p.deadline <= now) {
        rl::ScoreResult r;
        r.set_item_id(w.item_id);
        r.set_status(rl::TIMEOUT);
        r.set_details("deadline already passed at submission");
        r.set_idempotency_key(p.key);
        RecordAnswer(items[i].domain(), r, 0.0);
        deliveries.push_back({std::move(w), std::move(r)});
        continue;
      }
      auto active = active_.find(p.key);
      if (active != active_.end()) {
        active->second->waiters.push_back(std::move(w));
        continue;
      }
      if (const rl::ScoreResult* cached = CacheLookup(p.key, now)) {
        ++cache_hits_;
        rl::ScoreResult r = Stamp(*cached, w, now);
        r.set_queue_ms(0.0);
        r.set_run_ms(0.0);
        RecordAnswer(items[i].domain(), r, 0.0);
        deliveries.push_back({std::move(w), std::move(r)});
        continue;
      }
      auto job = std::make_shared<Job>();
      job->key = p.key;
      job->item = std::move(items[i]);
      job->waiters.push_back(std::move(w));
      active_.emplace(p.key, job);
      queue_.push_back(std::move(job));
    }
  }
  if (new_jobs == 1) {
    work_cv_.Signal();
  } else if (new_jobs > 1) {
    work_cv_.SignalAll();
  }
  Deliver(deliveries);
  return absl::OkStatus();
}

void ScoringEngine::WorkerLoop() {
  std::vector<Delivery> deliveries;
  absl::MutexLock lock(&mu_);
  while (true) {
    while (!shutdown_ && queue_.empty()) work_cv_.Wait(&mu_);
    if (shutdown_) return;
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    job->queued = false;
    if (job->waiters.empty()) continue;  // Invariant: the reaper removes waiter-less jobs; defensive.
    Clock::time_point deadline = Clock::time_point::min();
    for (const Waiter& w : job->waiters) deadline = std::max(deadline, w.deadline);
    ++running_;
    ++verifier_runs_;
    const Clock::time_point started = Clock::now();
    mu_.Unlock();

    CheckContext ctx;
    ctx.deadline = deadline;
    ctx.cancelled = &job->cancelled;
    rl::ScoreResult result = ScoreItemNow(*registry_, options_.rules, job->item, ctx);
    result.set_idempotency_key(job->key);

    mu_.Lock();
    --running_;
    const Clock::time_point now = Clock::now();
    auto it = active_.find(job->key);
    if (it != active_.end() && it->second == job) active_.erase(it);
    if (IsCacheable(result.status()) && !shutdown_) CachePut(job->key, result, now);
    for (Waiter& w : job->waiters) {
      rl::ScoreResult r = Stamp(result, w, now);
      r.set_queue_ms(std::max(0.0, Ms(started - w.submitted)));
      RecordAnswer(job->item.domain(), r, Ms(now - w.submitted));
      deliveries.push_back({std::move(w), std::move(r)});
    }
    job->waiters.clear();
    mu_.Unlock();
    Deliver(deliveries);
    mu_.Lock();
  }
}

void ScoringEngine::ReaperLoop() {
  std::vector<Delivery> deliveries;
  absl::MutexLock lock(&mu_);
  while (!shutdown_) {
    reaper_cv_.WaitWithTimeout(&mu_, absl::Milliseconds(options_.reaper_period_ms));
    if (shutdown_) break;
    const Clock::time_point now = Clock::now();
    for (auto it = active_.begin(); it != active_.end();) {
      Job& job = *it->second;
      auto keep_end = std::partition(job.waiters.begin(), job.waiters.end(), [&](const Waiter& w) {
        return !w.call->cancelled() && now < w.deadline;
      });
      for (auto w = keep_end; w != job.waiters.end(); ++w) {
        rl::ScoreResult r;
        r.set_item_id(w->item_id);
        r.set_idempotency_key(job.key);
        if (w->call->cancelled()) {
          r.set_status(rl::CANCELLED);
          r.set_retryable(true);
          r.set_details("call cancelled by the caller");
        } else {
          r.set_status(rl::TIMEOUT);
          r.set_details(absl::StrCat("deadline passed after ", Ms(now - w->submitted), " ms (",
                                     job.queued ? "queued" : "running", ")"));
        }
        RecordAnswer(job.item.domain(), r, Ms(now - w->submitted));
        deliveries.push_back({std::move(*w), std::move(r)});
      }
      job.waiters.erase(keep_end, job.waiters.end());
      if (job.waiters.empty()) {
        job.cancelled.store(true, std::memory_order_relaxed);
        if (job.queued) queue_.erase(std::find(queue_.begin(), queue_.end(), it->second));
        it = active_.erase(it);
      } else {
        ++it;
      }
    }
    if (!deliveries.empty()) {
      mu_.Unlock();
      Deliver(deliveries);
      mu_.Lock();
    }
  }
}

rl::InfoResponse ScoringEngine::Info() const {
  rl::InfoResponse info;
  absl::MutexLock lock(&mu_);
  info.set_server_version(options_.server_version);
  info.set_workers(options_.num_workers);
  info.set_queue_capacity(options_.queue_capacity);
  info.set_requests(requests_.load(std::memory_order_relaxed));
  info.set_items(items_);
  info.set_queue_depth(static_cast<int32_t>(queue_.size()));
  info.set_in_flight(running_);
  info.set_latency_p50_ms(Percentile(latency_ring_ms_, 0.50));
  info.set_latency_p99_ms(Percentile(latency_ring_ms_, 0.99));
  for (const auto& [domain, counters] : domains_) *info.add_domains() = counters;
  info.add_protections("deadline: items answered TIMEOUT at min(call, item) deadline, queue time included");
  info.add_protections("idempotency: duplicates run once; LRU of OK/INVALID_INPUT results");
  info.add_protections("backpressure: bounded queue, RESOURCE_EXHAUSTED with retry-after-ms");
  for (const std::string& p : options_.protections) info.add_protections(p);
  info.set_rejected_queue_full(rejected_queue_full_);
  info.set_timeouts(timeouts_);
  info.set_verifier_runs(verifier_runs_);
  info.set_cache_hits(cache_hits_);
  for (const std::string& d : registry_->Domains()) info.add_domains_served(d);
  return info;
}

}  // namespace m1rl::reward
