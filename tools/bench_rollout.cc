// bench_rollout: tokens/s of the rollout engine (incremental decode, continuous batching) versus a
// naive loop that recomputes the full training-path forward over every sequence at each step.
//
//   bench_rollout [--preset tiny8] [--batch-sizes 1,64] [--new-tokens 256,2048] [--prompt-len 16]
//                 [--naive-samples 5] [--naive-pack-tokens 8192]
//
// Both run in this process on the same model, device and prompts, after a warm-up. The engine is timed
// end to end (prefill, decode, sampling, bookkeeping). The naive loop's cost per step grows with the
// sequence length, and timing all 64 x 2048 steps would take hours on CPU; it is therefore timed at
// --naive-samples step indices spread evenly over [0, N) (each sample = one real step: packed forward
// of the B current sequences, head on the last positions, argmax), and its total is the trapezoid
// integral of those measured step times over all N steps. The output says so next to the number.
#include <ATen/core/Tensor.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/matmul.h>
#include <c10/util/Exception.h>
#include <torch/csrc/api/include/torch/version.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/flags.h"
#include "model/config.h"
#include "model/hybrid_model.h"
#include "rollout/engine.h"
#include "rollout/hybrid_decode_model.h"

namespace m1rl {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::vector<int64_t> ParseList(const std::string& s) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    const std::string number(part);
    out.push_back(std::stoll(number));
  }
  return out;
}

// One naive step: the full forward over the B sequences (packed, at most `pack_tokens` tokens per
// forward so memory stays bounded: 64 x 2048 tokens in one training-path forward needs > 20 GB), head on
// each last position, argmax.
double NaiveStepSeconds(const model::HybridModel& policy, const at::Tensor& lm_head,  // [V, H] fp32
                        const std::vector<std::vector<int32_t>>& seqs, int64_t length, int64_t pack_tokens) {
  const auto t0 = Clock::now();
  size_t begin = 0;
  while (begin < seqs.size()) {
    std::vector<int64_t> ids, last;
    std::vector<int64_t> cu{0};
    size_t end = begin;
    while (end < seqs.size() && (end == begin || static_cast<int64_t>(ids.size()) + length <= pack_tokens)) {
      ids.insert(ids.end(), seqs[end].begin(), seqs[end].begin() + length);
      cu.push_back(static_cast<int64_t>(ids.size()));
      last.push_back(cu.back() - 1);
      ++end;
    }
    const at::Tensor input = at::from_blob(ids.data(), {static_cast<int64_t>(ids.size())}, at::kLong);
    const at::Tensor index = at::from_blob(last.data(), {static_cast<int64_t>(last.size())}, at::kLong);
    const at::Tensor hidden = policy.Hidden(input, cu).detach();
    const at::Tensor logits = at::matmul(hidden.index_select(0, index).to(at::kFloat), lm_head.t());
    const at::Tensor next = logits.argmax(-1);
    (void)next.data_ptr<int64_t>();
    begin = end;
  }
  return Seconds(t0, Clock::now());
}

// What every row of the table shares.
struct Bench {
  const model::HybridModel* policy = nullptr;
  rollout::HybridDecodeModel* decode = nullptr;
  at::Tensor lm_head;  // [V, H] fp32
  int64_t vocab = 0, prompt_len = 0, naive_samples = 0, seed = 0, naive_pack_tokens = 0;
};

// B requests of prompt_len deterministic tokens each, per-sequence seeds, n_new tokens to generate.
std::vector<rollout::GenerationRequest> MakeRequests(const Bench& b, int64_t batch, int64_t n_new) {
  std::vector<rollout::GenerationRequest> requests(batch);
  for (int64_t i = 0; i < batch; ++i) {
    rollout::GenerationRequest& r = requests[i];
    r.prompt_id = std::to_string(i);
    for (int64_t p = 0; p < b.prompt_len; ++p) {
      r.prompt_token_ids.push_back(static_cast<int32_t>((i * 131 + p * 17 + 3) % b.vocab));
    }
    r.seed = static_cast<uint64_t>(b.seed * 1000 + i);
    r.max_new_tokens = static_cast<int32_t>(n_new);
  }
  return requests;
}

// The naive loop's seconds for all n_new steps: step t (0-based) produces generated token t from the first
// prompt_len + t tokens; naive_samples steps are timed and the rest interpolated (trapezoid).
double NaiveSeconds(const Bench& b, const std::vector<std::vector<int32_t>>& seqs, int64_t n_new) {
  NaiveStepSeconds(*b.policy, b.lm_head, seqs, b.prompt_len, b.naive_pack_tokens);  // warm-up
  std::vector<double> at_t, secs;
  for (int64_t k = 0; k < b.naive_samples; ++k) {
    const int64_t t = (n_new - 1) * k / (b.naive_samples - 1);
    at_t.push_back(static_cast<double>(t));
    secs.push_back(NaiveStepSeconds(*b.policy, b.lm_head, seqs, b.prompt_len + t, b.naive_pack_tokens));
  }
  double naive_s = 0.0;
  for (size_t k = 0; k + 1 < at_t.size(); ++k)
    naive_s += 0.5 * (secs[k] + secs[k + 1]) * (at_t[k + 1] - at_t[k]);
  naive_s += 0.5 * (secs.front() + secs.back());  // endpoints: the integral spans N - 1 intervals, N steps
  return naive_s;
}

// One row of the table: the engine generates n_new tokens for B sequences, the naive loop recomputes them.
// Returns false (after printing why) when the engine fails.
bool BenchRow(const Bench& b, int64_t batch, int64_t n_new) {
  const std::vector<rollout::GenerationRequest> requests = MakeRequests(b, batch, n_new);
  rollout::EngineOptions opts;
  opts.max_batch_size = static_cast<int32_t>(batch);
  auto engine = rollout::Engine::Create(b.decode, opts);
  if (!engine.ok()) {
    std::cerr << engine.status() << "\n";
    return false;
  }
  // Warm-up: a few tokens of the same batch.
  std::vector<rollout::GenerationRequest> warm = requests;
  for (auto& r : warm) r.max_new_tokens = 4;
  if (!(*engine)->Generate(warm).ok()) return false;
  const auto t0 = Clock::now();
  auto out = (*engine)->Generate(requests);
  const double engine_s = Seconds(t0, Clock::now());
  if (!out.ok()) {
    std::cerr << out.status() << "\n";
    return false;
  }
  const int64_t tokens = (*engine)->last_stats().generated_tokens;
  std::vector<std::vector<int32_t>> seqs;
  int64_t state_bytes = 0;
  for (const rollout::RequestOutput& o : *out) {
    const rl::Completion& c = o.completions[0];
    std::vector<int32_t> s(c.prompt_token_ids().begin(), c.prompt_token_ids().end());
    s.insert(s.end(), c.token_ids().begin(), c.token_ids().end());
    seqs.push_back(std::move(s));
    state_bytes = std::max(state_bytes, o.state_bytes[0]);
  }
  const double engine_tps = tokens / engine_s;
  const double naive_tps = static_cast<double>(batch * n_new) / NaiveSeconds(b, seqs, n_new);
  std::ostringstream ratio;
  ratio << std::fixed << std::setprecision(1) << engine_tps / naive_tps << "x";
  std::cout << std::left << std::setw(6) << batch << std::setw(8) << n_new << std::setw(14) << std::fixed
            << std::setprecision(1) << engine_tps << std::setw(22) << naive_tps << std::setw(10)
            << ratio.str() << std::setw(24) << state_bytes << std::setprecision(0)
            << 100.0 * (*engine)->last_stats().model_ms / (*engine)->last_stats().wall_ms << "%\n"
            << std::flush;
  return true;
}

int Run(int argc, char** argv) {
  std::string preset = "tiny8", batch_sizes = "1,64", new_tokens = "256,2048";
  int64_t prompt_len = 16, naive_samples = 5, seed = 1, naive_pack_tokens = 8192;
  FlagSet flags("bench_rollout", "Rollout engine vs naive full-recompute decoding (tokens/s ratio).");
  flags.AddString("preset", &preset, "model preset");
  flags.AddString("batch-sizes", &batch_sizes, "comma-separated numbers of sequences");
  flags.AddString("new-tokens", &new_tokens, "comma-separated generated tokens per sequence");
  flags.AddInt("prompt-len", &prompt_len, "prompt tokens per sequence");
  flags.AddInt("naive-samples", &naive_samples, "step indices at which the naive loop is timed (>= 2)");
  flags.AddInt("seed", &seed, "model init and sampling seed");
  flags.AddInt("naive-pack-tokens", &naive_pack_tokens, "most tokens per naive forward (bounds its memory)");
  if (std::optional<int> exit_code = flags.ParseForCommand(argc, argv, 1)) return *exit_code;
  if (naive_samples < 2) {
    std::cerr << "--naive-samples must be >= 2\n";
    return 2;
  }
  auto config = model::ModelConfig::Preset(preset);
  if (!config.ok()) {
    std::cerr << config.status() << "\n";
    return 1;
  }
  auto created =
      model::HybridModel::Create(*config, at::kFloat, at::Device(at::kCPU), static_cast<uint64_t>(seed));
  if (!created.ok()) {
    std::cerr << created.status() << "\n";
    return 1;
  }
  const model::HybridModel& policy = **created;
  rollout::HybridDecodeModel decode(&policy);
  Bench bench{&policy,    &decode,       at::Tensor(), config->vocab_size,
              prompt_len, naive_samples, seed,         naive_pack_tokens};
  for (const auto& [name, t] : policy.NamedParameters()) {
    // A tied head (dense family) is the embedding.
    const bool tied = policy.config().tie_word_embeddings && name == "model.embed_tokens.weight";
    if (name == "lm_head.weight" || tied) bench.lm_head = t.detach();
  }
  std::cout << "bench_rollout: preset " << preset << ", dtype float32, device cpu, head ieee_fp32, LibTorch "
            << TORCH_VERSION << ", prompt " << prompt_len << " tokens, sampling T=1 (no EOS)\n";
  std::cout << "state bytes per sequence: " << decode.StateBytesAt(0) << " constant (lightning) + "
            << decode.StateBytesAt(1) - decode.StateBytesAt(0) << " per token (KV)\n";
  std::cout << std::left << std::setw(6) << "B" << std::setw(8) << "N" << std::setw(14) << "engine tok/s"
            << std::setw(22) << "naive tok/s (interp)" << std::setw(10) << "ratio" << std::setw(24)
            << "state bytes/seq at end"
            << "engine time in model\n";
  for (int64_t n_new : ParseList(new_tokens)) {
    for (int64_t batch : ParseList(batch_sizes)) {
      if (!BenchRow(bench, batch, n_new)) return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace m1rl

int main(int argc, char** argv) {
  try {
    return m1rl::Run(argc, argv);
  } catch (const c10::Error& e) {
    std::cerr << "bench_rollout: " << e.what_without_backtrace() << "\n";
    return 1;
  }
}
