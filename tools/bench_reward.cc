// tools/bench_reward: reward-service throughput and latency (S "performance claims").
//  1. Math verifications per second on one calling thread ("per core"), simple cases (numbers,
//     fractions, boxed integers) and symbolic ones (polynomials, radicals) separately, by calling
//     ScoreItemNow directly (no queue, no cache).
//  2. Latency p50/p99 and throughput at saturation (closed loop, --concurrency items in flight,
//     more than --workers so the queue never empties) through gRPC on loopback versus in-process,
//     same engine options and inputs, each item unique (no idempotency-cache hits); the ratio is
//     printed. Baseline and gRPC path run in the same process after a warm-up.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "common/flags.h"
#include "reward/service/client.h"
#include "reward/service/engine.h"
#include "reward/service/registry.h"
#include "reward/service/scoring.h"
#include "reward/service/server.h"

namespace m1rl::reward {
namespace {

struct Case {
  const char* gold;
  const char* pred;
};

constexpr Case kSimple[] = {
    {"42", "<think>6*7</think> The answer is \\boxed{42}."},
    {"\\frac{1}{2}", "<think>half</think> \\boxed{0.5}"},
    {"-7", "<think>...</think> Answer: -7"},
    {"3", "<think>...</think> \\boxed{4}"},
    {"25\\%", "<think>...</think> \\boxed{0.25}"},
    {"\\frac{3}{4}", "<think>...</think> \\boxed{\\frac{6}{8}}"},
};
constexpr Case kSymbolic[] = {
    {"(x+1)^2", "<think>expand</think> \\boxed{x^2+2x+1}"},
    {"\\sqrt{8}", "<think>...</think> \\boxed{2\\sqrt{2}}"},
    {"\\frac{x^2-1}{x-1}", "<think>...</think> \\boxed{x+1}"},
    {"2\\sin(x)\\cos(x)", "<think>...</think> \\boxed{\\sin(2x)}"},
    {"(a+b)^3", "<think>...</think> \\boxed{a^3+3a^2b+3ab^2+b^3}"},
    {"x^2-5x+6", "<think>...</think> \\boxed{(x-2)(x-3)}"},
};

rl::ScoreItem MathItem(const Case& c, const std::string& domain, const std::string& prompt) {
  rl::ScoreItem item;
  item.set_domain(domain);
  item.set_prompt(prompt);
  item.set_response(c.pred);
  if (domain == "math") {
    item.mutable_math()->set_gold(c.gold);
  } else {
    item.set_gold(c.gold);
  }
  return item;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

template <size_t N>
void PerCore(const VerifierRegistry& registry, const char* name, const Case (&cases)[N],
             const std::string& domain, double seconds) {
  ScoringRules rules;
  // Warm-up: one pass.
  for (const Case& c : cases) ScoreItemNow(registry, rules, MathItem(c, domain, ""), CheckContext{});
  int64_t n = 0;
  int64_t correct = 0;
  int64_t non_ok = 0;
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    for (const Case& c : cases) {
      CheckContext ctx;
      ctx.deadline = Clock::now() + std::chrono::seconds(10);
      const rl::ScoreResult r = ScoreItemNow(registry, rules, MathItem(c, domain, ""), ctx);
      ++n;
      correct += r.status() == rl::OK && r.verdict() == rl::CORRECT;
      non_ok += r.status() != rl::OK;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "  " << std::left << std::setw(9) << name << std::right << std::fixed << std::setprecision(0)
            << std::setw(9) << static_cast<double>(n) / elapsed << " verifications/s/core  (" << n
            << " checks in " << std::setprecision(2) << elapsed << " s; " << correct << " CORRECT, " << non_ok
            << " non-OK; " << N << " distinct cases)\n";
}

struct LoadResult {
  int64_t items = 0;
  int64_t non_ok = 0;
  double seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

// Closed loop: keeps `concurrency` items in flight for `seconds`, each item unique.
LoadResult Saturate(RewardClient& client, const std::string& domain, const std::string& tag, int concurrency,
                    double seconds) {
  std::mutex mu;
  std::vector<double> latencies;
  std::atomic<int64_t> counter{0};
  std::atomic<int64_t> non_ok{0};
  std::atomic<bool> stop{false};
  std::function<void()> submit_one;
  submit_one = [&] {
    const int64_t i = counter.fetch_add(1);
    const Case& c = kSimple[i % std::size(kSimple)];
    const auto t0 = Clock::now();
    client.ScoreAsync(MathItem(c, domain, tag + std::to_string(i)), [&, t0](const rl::ScoreResult& r) {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      {
        std::lock_guard<std::mutex> lock(mu);
        latencies.push_back(ms);
      }
      if (r.status() != rl::OK) non_ok.fetch_add(1);
      if (!stop.load()) submit_one();
    });
  };
  const auto start = Clock::now();
  for (int k = 0; k < concurrency; ++k) submit_one();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  client.Drain();
  LoadResult out;
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.items = static_cast<int64_t>(latencies.size());
  out.non_ok = non_ok.load();
  out.p50_ms = Percentile(latencies, 0.50);
  out.p99_ms = Percentile(latencies, 0.99);
  return out;
}

void PrintLoad(const char* name, const LoadResult& r) {
  std::cout << "  " << std::left << std::setw(11) << name << std::right << std::fixed << std::setprecision(0)
            << std::setw(8) << static_cast<double>(r.items) / r.seconds << " items/s  p50 "
            << std::setprecision(3) << r.p50_ms << " ms  p99 " << r.p99_ms << " ms  (" << r.items
            << " items, " << r.non_ok << " non-OK)\n";
}

int Main(int argc, char** argv) {
  double seconds = 2.0;
  int64_t workers = 2;
  int64_t concurrency = 0;
  FlagSet flags("bench_reward", "Reward service throughput and latency: gRPC vs in-process.");
  flags.AddDouble("seconds", &seconds, "duration of each measurement");
  flags.AddInt("workers", &workers, "engine verifier threads for the saturation runs");
  flags.AddInt("concurrency", &concurrency, "items in flight at saturation (0: 8 x workers)");
  if (std::optional<int> exit_code = flags.ParseForCommand(argc, argv, 1)) return *exit_code;
  if (concurrency <= 0) concurrency = 8 * workers;
  std::shared_ptr<const VerifierRegistry> registry = DefaultVerifierRegistry();
  std::string domain = "math";
  if (registry->Find("math") == nullptr) {
    domain = "format";
    std::cout << "bench_reward: no math verifier in this build; using the format verifier\n";
  }
  std::cout << "bench_reward: domain " << domain << " (" << registry->Find(domain)->version() << "), "
            << std::thread::hardware_concurrency() << " hardware threads, " << seconds << " s per run\n";
  std::cout << "verifications per second on one thread (ScoreItemNow, no queue/cache):\n";
  PerCore(*registry, "simple", kSimple, domain, seconds);
  PerCore(*registry, "symbolic", kSymbolic, domain, seconds);

  EngineOptions options;
  options.num_workers = static_cast<int>(workers);
  options.queue_capacity = static_cast<int>(4 * concurrency);
  config::RewardConfig config;
  config.set_deadline_ms(30000);
  config.set_max_in_flight(static_cast<int>(concurrency));

  auto inproc_engine = ScoringEngine::Create(registry, options);
  auto grpc_engine = ScoringEngine::Create(registry, options);
  if (!inproc_engine.ok() || !grpc_engine.ok()) {
    std::cerr << "engine: " << inproc_engine.status() << " " << grpc_engine.status() << "\n";
    return 1;
  }
  std::shared_ptr<ScoringEngine> grpc_shared = std::move(*grpc_engine);
  auto server = RewardServer::Start(grpc_shared, ServerOptions{});
  if (!server.ok()) {
    std::cerr << "server: " << server.status() << "\n";
    return 1;
  }
  auto inproc = RewardClient::CreateInProcess(config, std::move(*inproc_engine));
  config::RewardConfig grpc_config = config;
  grpc_config.set_mode(config::RewardConfig::MODE_GRPC);
  grpc_config.set_address((*server)->address());
  auto grpc = RewardClient::Create(grpc_config);
  if (!inproc.ok() || !grpc.ok()) {
    std::cerr << "client: " << inproc.status() << " " << grpc.status() << "\n";
    return 1;
  }
  std::cout << "saturation: " << workers << " workers, " << concurrency
            << " items in flight (closed loop), unique items:\n";
  Saturate(**inproc, domain, "warm-inproc-", static_cast<int>(concurrency), 0.3);  // warm-up
  Saturate(**grpc, domain, "warm-grpc-", static_cast<int>(concurrency), 0.3);
  const LoadResult in = Saturate(**inproc, domain, "inproc-", static_cast<int>(concurrency), seconds);
  const LoadResult rpc = Saturate(**grpc, domain, "grpc-", static_cast<int>(concurrency), seconds);
  PrintLoad("in-process", in);
  PrintLoad("grpc", rpc);
  std::cout << std::setprecision(2) << "ratio grpc / in-process: p50 " << rpc.p50_ms / in.p50_ms << "x, p99 "
            << rpc.p99_ms / in.p99_ms << "x, throughput "
            << (static_cast<double>(rpc.items) / rpc.seconds) / (static_cast<double>(in.items) / in.seconds)
            << "x\n";
  return 0;
}

}  // namespace
}  // namespace m1rl::reward

int main(int argc, char** argv) { return m1rl::reward::Main(argc, argv); }
