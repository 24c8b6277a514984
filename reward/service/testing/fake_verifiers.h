// Fake verifiers for the service tests (S30: fakes, not mocks). FakeVerifier compares the answer (the
// text after the last "</think>", whitespace-trimmed) with the gold string, and can sleep, hang until
// its deadline/cancellation, or throw. It counts calls and completed verdicts per response text, so a
// test can assert that every completion was scored exactly once.
#ifndef M1RL_REWARD_SERVICE_TESTING_FAKE_VERIFIERS_H_
#define M1RL_REWARD_SERVICE_TESTING_FAKE_VERIFIERS_H_

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "reward/verifier.h"

namespace m1rl::reward::testing {

class FakeVerifier final : public Verifier {
 public:
  struct Options {
    std::string domain = "fake";
    int sleep_ms = 0;          // work per check; honours ctx in 1 ms steps
    bool hang = false;         // runs until ctx expires or is cancelled
    bool throw_error = false;  // throws std::runtime_error
  };
  explicit FakeVerifier(Options options) : options_(std::move(options)) {}

  std::string_view domain() const override { return options_.domain; }
  std::string_view version() const override { return "fake-1"; }

  VerifyOutcome Verify(const VerifyInput& input, const CheckContext& ctx) const override {
    calls_.fetch_add(1);
    running_.fetch_add(1);
    struct Done {
      std::atomic<int>& running;
      ~Done() { running.fetch_sub(1); }
    } done{running_};
    VerifyOutcome out;
    if (options_.throw_error) throw std::runtime_error("fake verifier failure");
    const auto start = Clock::now();
    while (options_.hang || Clock::now() - start < std::chrono::milliseconds(options_.sleep_ms)) {
      if (ctx.Cancelled()) {
        out.status = rl::CANCELLED;
        return out;
      }
      if (ctx.Expired()) {
        out.status = rl::TIMEOUT;
        out.details = "fake check abandoned at its deadline";
        return out;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (input.gold.empty()) {
      out.status = rl::INVALID_INPUT;
      out.details = "gold is empty";
      return out;
    }
    std::string answer = input.response;
    const size_t close = answer.rfind("</think>");
    if (close != std::string::npos) answer = answer.substr(close + 8);
    while (!answer.empty() && answer.front() == ' ') answer.erase(answer.begin());
    while (!answer.empty() && answer.back() == ' ') answer.pop_back();
    out.status = rl::OK;
    out.verdict = answer == input.gold ? rl::CORRECT : rl::INCORRECT;
    out.correctness = answer == input.gold ? 1.0 : 0.0;
    out.normalized_gold = input.gold;
    out.normalized_pred = answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++verdicts_[input.response];
    }
    return out;
  }

  int calls() const { return calls_.load(); }
  int running() const { return running_.load(); }
  // Completed verdicts per response text.
  std::map<std::string, int> verdicts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return verdicts_;
  }

 private:
  const Options options_;
  mutable std::atomic<int> calls_{0};
  mutable std::atomic<int> running_{0};
  mutable std::mutex mu_;
  mutable std::map<std::string, int> verdicts_;
};

}  // namespace m1rl::reward::testing

#endif  // M1RL_REWARD_SERVICE_TESTING_FAKE_VERIFIERS_H_
