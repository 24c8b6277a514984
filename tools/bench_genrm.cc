// tools/bench_genrm: GenRM judge-call budget and latency against the fake OpenAI-compatible server
// (reward/genrm/testing/fake_openai_server.h) on loopback.
//  1. Grading at high concurrency: closed loop, --concurrency callers each running GenRm::Grade through
//     OpenAiJudge (max_in_flight = --max-in-flight) until --calls grades are done; the server answers
//     after --server-delay-ms and injects 503 on every 25th request and 429 on every 25th + 12 (retried
//     with backoff). Prints latency p50/p99/max per grade (retries included), grades/s, HTTP attempts,
//     retries and TCP connections opened. Then one row of pairwise comparisons (both orders) at 32 callers.
//  2. The Swiss-round reference choice: N candidates with a hidden total order judged over HTTP; judge
//     calls used against the default budget and a tight one, rounds, wall time, whether the best won.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "common/flags.h"
#include "common/random.h"
#include "reward/genrm/genrm.h"
#include "reward/genrm/openai_judge.h"
#include "reward/genrm/swiss.h"
#include "reward/genrm/testing/fake_openai_server.h"
#include "reward/genrm/testing/scripted_judge.h"

namespace m1rl::reward::genrm {
namespace {

using testing::BlockAfter;
using testing::FakeOpenAiServer;
using testing::FakeReply;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

std::shared_ptr<OpenAiJudge> MakeJudge(const FakeOpenAiServer& server, int max_in_flight) {
  OpenAiJudgeOptions o;
  o.urls = {server.url()};
  o.model = "fake-judge";
  o.max_in_flight = max_in_flight;
  o.backoff_ms = 20;
  o.max_backoff_ms = 200;
  o.call_deadline_ms = 30000;
  o.attempt_timeout_ms = 30000;
  absl::StatusOr<std::unique_ptr<OpenAiJudge>> judge = OpenAiJudge::Create(o);
  if (!judge.ok()) {
    std::cerr << judge.status() << "\n";
    return nullptr;
  }
  return std::move(*judge);
}

// Expected pairwise score of a candidate against the reference "ref": the fake judge prefers the longer.
int ExpectedScore(const std::string& candidate) {
  return candidate.size() > 3 ? 1 : candidate.size() < 3 ? -1 : 0;
}

int JudgeLoad(bool pairwise, int concurrency, int max_in_flight, int calls, int delay_ms) {
  auto server = FakeOpenAiServer::Start([delay_ms](const nlohmann::json& req, int i) {
    if (i % 25 == 0) return FakeReply{503, ""};
    if (i % 25 == 12) return FakeReply{429, ""};
    std::string user = req["messages"][1]["content"].get<std::string>();
    std::string a = BlockAfter(user, "ANSWER A:");
    std::string b = BlockAfter(user, "ANSWER B:");
    if (!a.empty() && !b.empty()) {
      const char* v = a.size() > b.size()   ? "Verdict: [[A]]"
                      : a.size() < b.size() ? "Verdict: [[B]]"
                                            : "Verdict: [[TIE]]";
      return FakeReply{200, v, "", delay_ms};
    }
    std::string response = BlockAfter(user, "RESPONSE:");
    return FakeReply{200, "Grade: [[" + std::to_string(1 + response.size() % 5) + "]]", "", delay_ms};
  });
  if (!server.ok()) return 1;
  std::shared_ptr<OpenAiJudge> judge = MakeJudge(**server, max_in_flight);
  if (judge == nullptr) return 1;
  GenRm genrm(judge, *ResolveGenrmOptions(config::GenrmConfig()));
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::vector<std::vector<double>> latencies(concurrency);
  std::vector<std::thread> threads;
  threads.reserve(concurrency);
  auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      for (int i = next++; i < calls; i = next++) {
        auto start = std::chrono::steady_clock::now();
        std::string response(1 + i % 7, 'x');
        bool right = false;
        if (pairwise) {
          absl::StatusOr<PairwiseResult> p =
              genrm.Compare("q" + std::to_string(i), response, "ref", CheckContext{});
          right = p.ok() && p->score.score == ExpectedScore(response);
        } else {
          absl::StatusOr<GradeResult> g =
              genrm.Grade("q" + std::to_string(i), "gt", response, CheckContext{});
          right = g.ok() && g->grade == static_cast<int>(1 + response.size() % 5);
        }
        latencies[t].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        if (!right) failed++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> all;
  for (const auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  OpenAiJudgeStats s = judge->stats();
  std::printf(
      "| %-8s | %4d | %4d | %5d | %5d | %7.1f | %7.1f | %7.1f | %8.1f | %6lld | %5lld | %4lld | %4d |\n",
      pairwise ? "pairwise" : "grade", concurrency, max_in_flight, calls, failed.load(), Percentile(all, 0.5),
      Percentile(all, 0.99), Percentile(all, 1.0), calls / wall_s,
      static_cast<long long>(s.attempts),                                        // NOLINT(google-runtime-int)
      static_cast<long long>(s.retries), static_cast<long long>(s.connections),  // NOLINT(google-runtime-int)
      (*server)->peak_concurrency());
  return failed.load() == 0 ? 0 : 1;
}

int SwissLoad(int n, int budget, int delay_ms) {
  std::vector<std::string> candidates;
  candidates.reserve(n);
  std::vector<int> quality(n);
  std::iota(quality.begin(), quality.end(), 0);
  uint64_t state = static_cast<uint64_t>(n);
  for (int i = n - 1; i > 0; --i) std::swap(quality[i], quality[SplitMix64Next(&state) % (i + 1)]);
  for (int i = 0; i < n; ++i) candidates.push_back("candidate " + std::to_string(i));
  auto quality_of = [&](const std::string& text) {
    return quality[std::find(candidates.begin(), candidates.end(), text) - candidates.begin()];
  };
  auto server = FakeOpenAiServer::Start([&, delay_ms](const nlohmann::json& req, int) {
    std::string user = req["messages"][1]["content"];
    bool a_better = quality_of(BlockAfter(user, "ANSWER A:")) > quality_of(BlockAfter(user, "ANSWER B:"));
    return FakeReply{200, a_better ? "Verdict: [[A]]" : "Verdict: [[B]]", "", delay_ms};
  });
  if (!server.ok()) return 1;
  std::shared_ptr<OpenAiJudge> judge = MakeJudge(**server, 64);
  if (judge == nullptr) return 1;
  GenRm genrm(judge, *ResolveGenrmOptions(config::GenrmConfig()));
  SwissOptions options;
  options.max_judge_calls = budget;
  auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<SwissResult> r = SelectReference(genrm, "question", candidates, options, CheckContext{});
  double wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok()) {
    std::cerr << r.status() << "\n";
    return 1;
  }
  int best = static_cast<int>(std::max_element(quality.begin(), quality.end()) - quality.begin());
  int winner_rank = n - quality[r->winner];  // 1 = best
  std::printf("| %3d | %6s | %6d | %5d | %6d | %7d | %9.1f | %3s (rank %d) |\n", n,
              budget > 0 ? std::to_string(budget).c_str() : "auto", r->judge_calls, r->rounds_played,
              r->matches, r->budget_exhausted ? 1 : 0, wall_ms, r->winner == best ? "yes" : "no",
              winner_rank);
  return 0;
}

int Main(int argc, char** argv) {
  std::string concurrency_list = "16,64,256";
  int64_t max_in_flight = 64;
  int64_t calls = 2000;
  int64_t delay_ms = 20;
  FlagSet flags("bench_genrm",
                "GenRM judge-call budget and latency against the fake OpenAI server on loopback.");
  flags.AddString("concurrency", &concurrency_list, "comma-separated caller counts");
  flags.AddInt("max-in-flight", &max_in_flight, "OpenAiJudge max_in_flight (pooled connections)");
  flags.AddInt("calls", &calls, "grades per concurrency level");
  flags.AddInt("server-delay-ms", &delay_ms, "simulated judge latency per request");
  if (std::optional<int> exit_code = flags.ParseForCommand(argc, argv, 1)) return *exit_code;
  std::printf("judging: %lld items per row, server delay %lld ms, 4%% of requests 503/429 (retried)\n\n",
              static_cast<long long>(calls), static_cast<long long>(delay_ms));  // NOLINT(google-runtime-int)
  std::printf(
      "| mode | callers | in-flight cap | items | failed | p50 ms | p99 ms | max ms | items/s | attempts | "
      "retries | conns | peak |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  int rc = 0;
  for (size_t start = 0; start < concurrency_list.size();) {
    size_t end = concurrency_list.find(',', start);
    if (end == std::string::npos) end = concurrency_list.size();
    rc |= JudgeLoad(false, std::stoi(concurrency_list.substr(start, end - start)),
                    static_cast<int>(max_in_flight), static_cast<int>(calls), static_cast<int>(delay_ms));
    start = end + 1;
  }
  // Pairwise items: two judge calls each (both orders, concurrently), so half the callers fill the cap.
  rc |= JudgeLoad(true, 32, static_cast<int>(max_in_flight), static_cast<int>(calls),
                  static_cast<int>(delay_ms));
  std::printf("\nSwiss round (total-order judge over HTTP, server delay %lld ms; 8 matches at a time):\n\n",
              static_cast<long long>(delay_ms));  // NOLINT(google-runtime-int)
  std::printf(
      "| N | budget | calls | rounds | matches | exhausted | wall ms | best picked |\n"
      "|---|---|---|---|---|---|---|---|\n");
  for (int n : {8, 16, 32}) {
    rc |= SwissLoad(n, 0, static_cast<int>(delay_ms));
    rc |= SwissLoad(n, 2 * n, static_cast<int>(delay_ms));
  }
  return rc;
}

}  // namespace
}  // namespace m1rl::reward::genrm

int main(int argc, char** argv) { return m1rl::reward::genrm::Main(argc, argv); }
