#include "reward/swe/swe_verifier.h"

#include <deque>
#include <exception>
#include <optional>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/sha256.h"
#include "reward/code/code_verifier.h"

namespace m1rl::reward {
namespace swe {

std::string SweCacheKey(const rl::SwePayload& payload, std::string_view candidate_patch) {
  std::string data;
  const auto add = [&data](std::string_view field) {
    absl::StrAppend(&data, field.size(), ":");
    data.append(field.data(), field.size());
  };
  add(payload.instance_id());
  add(payload.repo_dir());
  add(payload.repo_bundle());
  add(payload.base_commit());
  add(candidate_patch);
  add(payload.test_patch());
  add(payload.test_command());
  add(absl::StrCat(payload.results_format()));
  for (const std::string& id : payload.fail_to_pass()) add(id);
  add("|");
  for (const std::string& id : payload.pass_to_pass()) add(id);
  return Sha256Hex(data);
}

}  // namespace swe

namespace {

class SweVerifier : public Verifier {
 public:
  SweVerifier(std::shared_ptr<sandbox::SandboxPool> pool, swe::SweOptions options)
      : pool_(std::move(pool)), options_(std::move(options)) {}
  std::string_view domain() const override { return "swe"; }
  std::string_view version() const override { return kSweVerifierVersion; }

  VerifyOutcome Verify(const VerifyInput& input, const CheckContext& ctx) const override {
    try {
      return VerifyImpl(input, ctx);
    } catch (const std::exception& e) {
      return VerifyOutcome::NonOk(rl::INTERNAL,
                                  absl::StrCat("swe verifier: unexpected exception: ", e.what()));
    }
  }

 private:
  VerifyOutcome VerifyImpl(const VerifyInput& input, const CheckContext& ctx) const {
    if (ctx.Cancelled()) return VerifyOutcome::NonOk(rl::CANCELLED, "cancelled before the run");
    if (ctx.Expired()) return VerifyOutcome::NonOk(rl::TIMEOUT, "deadline passed before the run");
    if (input.item == nullptr || input.item->payload_case() != rl::ScoreItem::kSwe)
      return VerifyOutcome::NonOk(rl::INVALID_INPUT, "item.swe: missing (domain swe needs a SwePayload)");
    const rl::SwePayload& payload = input.item->swe();
    if (absl::Status s = swe::ValidateSwePayload(payload, options_); !s.ok())
      return VerifyOutcome::NonOk(rl::INVALID_INPUT, std::string{s.message()});
    const code::ExtractedCode patch = code::ExtractCode(input.response);
    if (!patch.found) {
      VerifyOutcome out;
      out.status = rl::OK;
      out.verdict = rl::NO_ANSWER;
      out.details = "no complete ``` code block (the patch) after the reasoning";
      return out;
    }
    const std::string key = swe::SweCacheKey(payload, patch.source);
    if (std::optional<VerifyOutcome> hit = Lookup(key)) return *hit;
    const swe::SweReport report = swe::RunSwe(*pool_, options_, payload, patch.source, ctx);
    if (report.status != rl::OK) return VerifyOutcome::NonOk(report.status, report.error);
    VerifyOutcome out = FromReport(report);
    Store(key, out);
    return out;
  }

  VerifyOutcome FromReport(const swe::SweReport& report) const {
    VerifyOutcome out;
    out.status = rl::OK;
    out.verdict = report.verdict == swe::SweVerdict::kResolved ? rl::CORRECT : rl::INCORRECT;
    switch (report.verdict) {
      case swe::SweVerdict::kResolved:
        out.correctness = 1.0;
        break;
      case swe::SweVerdict::kRegression:
        out.correctness = options_.regression_penalty;
        break;
      case swe::SweVerdict::kSpoofed:
        out.correctness = options_.spoof_penalty;
        break;
      default:
        out.correctness = 0.0;
    }
    out.details = report.Summary();
    return out;
  }

  std::optional<VerifyOutcome> Lookup(const std::string& key) const {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it == cache_.end()) return std::nullopt;
    return it->second;
  }
  void Store(const std::string& key, const VerifyOutcome& outcome) const {
    absl::MutexLock lock(&mu_);
    if (!cache_.emplace(key, outcome).second) return;
    order_.push_back(key);
    while (static_cast<int>(order_.size()) > options_.cache_entries) {
      cache_.erase(order_.front());
      order_.pop_front();
    }
  }

  const std::shared_ptr<sandbox::SandboxPool> pool_;
  const swe::SweOptions options_;
  mutable absl::Mutex mu_;
  mutable std::unordered_map<std::string, VerifyOutcome> cache_ ABSL_GUARDED_BY(mu_);
  mutable std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);  // insertion order, for eviction
};

}  // namespace

std::unique_ptr<Verifier> NewSweVerifier(std::shared_ptr<sandbox::SandboxPool> pool,
                                         swe::SweOptions options) {
  return std::make_unique<SweVerifier>(std::move(pool), std::move(options));
}

}  // namespace m1rl::reward
