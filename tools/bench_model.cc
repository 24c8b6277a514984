// bench_model: CPU throughput of the tiny policy (training forward+backward tokens/s, decode tokens/s),
// each against a baseline measured in the same run on the same inputs:
//   train : chunked FP32 head with custom backward  vs  full [T, V] logits + log_softmax + gather (autograd)
//   decode: one batched Step for B sequences        vs  B single-sequence Steps
//   lightning op alone: block form (ops::LightningAttention) vs a per-token recurrence loop of ATen ops
// Usage: bench_model [--preset tiny8] [--seqs 16] [--len 128] [--iters 3] [--decode_batch 16]
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <torch/csrc/api/include/torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "model/head.h"
#include "model/hybrid_model.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

// Process CPU seconds: on a shared machine wall time mostly measures the other tenants.
double CpuNow() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

double last_cpu_median = 0.0;  // CPU-seconds median of the last MedianSeconds call

template <typename F>
double MedianSeconds(int iters, F&& f) {
  f();  // warm-up
  std::vector<double> t, c;
  for (int i = 0; i < iters; ++i) {
    const auto s = Clock::now();
    const double c0 = CpuNow();
    f();
    t.push_back(Seconds(s));
    c.push_back(CpuNow() - c0);
  }
  std::sort(t.begin(), t.end());
  std::sort(c.begin(), c.end());
  last_cpu_median = c[c.size() / 2];
  return t[t.size() / 2];
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return def;
}

using m1rl::model::ForwardOptions;
using m1rl::model::ForwardOutput;
using m1rl::model::HybridModel;
using m1rl::model::ModelConfig;
using m1rl::model::SequenceState;

// The packed training batch: `seqs` random sequences of `len` tokens, random targets.
struct Batch {
  int64_t seqs = 0, len = 0, tokens = 0;
  at::Tensor input, targets;  // [tokens] int64
  std::vector<int64_t> cu;    // [seqs + 1]
};

Batch RandomBatch(int64_t seqs, int64_t len, int64_t vocab, std::mt19937* rng) {
  Batch b;
  b.seqs = seqs;
  b.len = len;
  b.tokens = seqs * len;
  std::vector<int64_t> ids(b.tokens), tg(b.tokens);
  for (auto& x : ids) x = (*rng)() % vocab;
  for (auto& x : tg) x = (*rng)() % vocab;
  b.input = at::from_blob(ids.data(), {b.tokens}, at::TensorOptions().dtype(at::kLong)).clone();
  b.targets = at::from_blob(tg.data(), {b.tokens}, at::TensorOptions().dtype(at::kLong)).clone();
  b.cu = {0};
  for (int64_t s = 0; s < seqs; ++s) b.cu.push_back(b.cu.back() + len);
  return b;
}

// Training forward + backward: the chunked FP32 head vs full [T, V] logits through autograd.
void BenchTraining(const HybridModel& model, const Batch& b, int iters) {
  auto zero_grads = [&] {
    for (auto& p : model.Parameters()) {
      if (p.grad().defined()) p.mutable_grad() = at::Tensor();
    }
  };
  const double ours = MedianSeconds(iters, [&] {
    zero_grads();
    ForwardOptions opt;
    opt.compute_entropy = true;
    const ForwardOutput o = model.Forward(b.input, b.targets, b.cu, opt);
    (o.logprobs.sum() + o.entropy.sum() + o.aux_loss).backward();
  });
  const double ours_cpu = last_cpu_median;
  // The untied head is the last parameter; a tied one (dense family) is the embedding, the first.
  const at::Tensor head = model.config().tie_word_embeddings ? model.NamedParameters().front().second
                                                             : model.NamedParameters().back().second;
  const double base = MedianSeconds(iters, [&] {
    zero_grads();
    at::Tensor aux;
    const at::Tensor h = model.Hidden(b.input, b.cu, &aux);
    const at::Tensor logp_all = h.matmul(head.t()).log_softmax(-1);
    const at::Tensor logp = logp_all.gather(1, b.targets.unsqueeze(1)).squeeze(1);
    const at::Tensor ent = -(logp_all.exp() * logp_all).sum(-1);
    (logp.sum() + ent.sum() + aux).backward();
  });
  const double base_cpu = last_cpu_median;
  const int64_t t = b.tokens;
  std::printf(
      "train fwd+bwd: chunked head %.3f s wall, %.3f s CPU (%.0f tok/CPU-s, %.1f CPU-us/token) | full-logits "
      "baseline %.3f s wall, %.3f s CPU | ratio baseline/ours (CPU) %.2f\n",
      ours, ours_cpu, t / ours_cpu, 1e6 * ours_cpu / t, base, base_cpu, base_cpu / ours_cpu);
}

// Decode: prefill a 32-token prompt in each of B sequences, then time 32 batched steps vs single steps.
void BenchDecode(const HybridModel& model, int64_t decode_batch, std::mt19937* rng) {
  const int64_t prompt = 32, steps = 32, vocab = model.config().vocab_size;
  auto make_states = [&] {
    std::vector<SequenceState> states;
    for (int64_t b = 0; b < decode_batch; ++b) {
      states.push_back(model.NewSequence());
      std::vector<int32_t> p(prompt);
      for (auto& x : p) x = (*rng)() % vocab;
      model.Prefill(&states.back(), p, {});
    }
    return states;
  };
  std::vector<SequenceState> s1 = make_states();
  std::vector<SequenceState*> ptrs;
  for (auto& s : s1) ptrs.push_back(&s);
  std::vector<int32_t> toks(decode_batch, 5);
  double c0 = CpuNow();
  for (int64_t i = 0; i < steps; ++i) model.Step(ptrs, toks, {});
  const double batched = CpuNow() - c0;
  std::vector<SequenceState> s2 = make_states();
  c0 = CpuNow();
  for (int64_t i = 0; i < steps; ++i) {
    for (auto& s : s2) model.Step({&s}, {5}, {});
  }
  const double single = CpuNow() - c0;
  const double n_dec = static_cast<double>(steps * decode_batch);
  std::printf(
      "decode B=%ld (CPU time): batched %.0f tok/s | single-sequence baseline %.0f tok/s | ratio %.2f\n",
      static_cast<long>(decode_batch), n_dec / batched, n_dec / single, single / batched);
}

// Lightning alone on the batch's packing and the model's head shape: block form vs a token loop.
void BenchLightning(const ModelConfig& config, const Batch& b, int iters) {
  const int64_t t = b.tokens, seqs = b.seqs, len = b.len;
  const int64_t heads = config.num_attention_heads, dim = config.head_dim;
  const at::Tensor q = at::silu(at::randn({t, heads, dim})), k = at::silu(at::randn({t, heads, dim})),
                   v = at::silu(at::randn({t, heads, dim}));
  const at::Tensor decay = at::randn({heads}).abs() * 0.1;
  MedianSeconds(
      iters, [&] { m1rl::ops::LightningAttention(q, k, v, decay, b.cu, at::Tensor(), config.block_size); });
  const double chunked = last_cpu_median;
  MedianSeconds(1, [&] {
    at::Tensor state = at::zeros({seqs, heads, dim, dim});
    const at::Tensor qv = q.view({seqs, len, heads, dim}), kv = k.view({seqs, len, heads, dim}),
                     vv = v.view({seqs, len, heads, dim});
    for (int64_t i = 0; i < len; ++i) {
      m1rl::ops::LightningDecode(qv.select(1, i), kv.select(1, i), vv.select(1, i), decay, state);
    }
  });
  const double loop = last_cpu_median;
  std::printf(
      "lightning fwd (%ld tokens, N_h %ld, d %ld, CPU time): block form %.4f s | token-loop baseline %.4f s "
      "| ratio %.2f\n",
      static_cast<long>(t), static_cast<long>(heads), static_cast<long>(dim), chunked, loop, loop / chunked);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string preset = Flag(argc, argv, "preset", "tiny8");
  const int64_t seqs = std::atoi(Flag(argc, argv, "seqs", "16").c_str());
  const int64_t len = std::atoi(Flag(argc, argv, "len", "128").c_str());
  const int iters = std::atoi(Flag(argc, argv, "iters", "3").c_str());
  const int64_t decode_batch = std::atoi(Flag(argc, argv, "decode_batch", "16").c_str());
  auto config = ModelConfig::Preset(preset);
  if (!config.ok()) {
    const std::string message(config.status().message());
    std::fprintf(stderr, "%s\n", message.c_str());
    return 2;
  }
  auto model_or = HybridModel::Create(*config, at::kFloat, at::kCPU, 1);
  if (!model_or.ok()) return 2;
  const HybridModel& model = **model_or;
  std::mt19937 rng(1);
  const Batch batch = RandomBatch(seqs, len, config->vocab_size, &rng);
  std::printf("bench_model: preset %s, fp32, CPU threads %d, LibTorch %s, packed %ld x %ld = %ld tokens\n",
              preset.c_str(), at::get_num_threads(), TORCH_VERSION, static_cast<long>(seqs),
              static_cast<long>(len), static_cast<long>(batch.tokens));
  BenchTraining(model, batch, iters);
  BenchDecode(model, decode_batch, &rng);
  BenchLightning(*config, batch, iters);
  return 0;
}
