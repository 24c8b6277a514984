// bench_mfu: model FLOPs utilisation of the training step of a config's model.
//   achieved = 3 x ForwardFlops (model/flops.h: matmuls of the active parameters + head, softmax and
//              lightning attention; forward + backward = 3 forwards; layer recomputation NOT counted, the
//              MFU convention) x --micro_batches / the median wall time of one timed iteration, in the
//              config's precision (model.dtype, lm_head_precision, recompute_layers). An iteration is what
//              one optimizer step costs the model: --micro_batches forward+backwards, each over --seqs packed
//              sequences of --seq_len random tokens (gradients accumulating), then a bump of every
//              parameter's version counter as the optimizer's in-place write makes (without the write), so
//              mixed precision re-casts its cached bf16 copies of the layer matrices (model::ModelPrecision)
//              once per iteration, as the trainer once per optimizer step (without the bump every iteration
//              would hit the cache and hide the cast). --cast_cache 0 casts in every forward instead
//              (HybridModel::set_reuse_casts_under_grad), for comparison;
//   peak     = the bf16 GEMM rate measured in the same run on the same device (median of --iters
//              [n, n] x [n, n] at::matmul, 2 n^3 FLOPs each);
//   MFU      = achieved / peak; tokens/s = --micro_batches x --seqs x --seq_len / the iteration's time.
// The optimizer step (elementwise over the FP32 masters) is not in the timed region.
// --micro_batches defaults to 1 (the cast paid by every forward+backward): the trainer's count per optimizer
// step depends on the data's prompt and completion lengths (trainer.micro_batch_tokens packs whole
// sequences), so the config does not fix it; the run prints the count for completions of max_new_tokens as
// a guide (PrintTrainerPacking).
//
// Usage: bench_mfu --config configs/gpu_small.yaml [--set path=value ...] [--seq_lens 4096,1400] [--seqs 2]
//                  [--micro_batches 1] [--cast_cache 1] [--iters 3] [--gemm 8192]
#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <c10/core/TensorImpl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "model/config.h"
#include "model/flops.h"
#include "model/hybrid_model.h"
#include "rollout/rollout_config.h"
#include "trainer/minibatch.h"
#include "trainer/policy.h"
#include "trainer/trainer_config.h"

namespace {

using Clock = std::chrono::steady_clock;

// Median wall seconds of `iters` calls after one warm-up; `f` ends with a host read (a device sync).
template <typename F>
double MedianSeconds(int iters, F&& f) {
  f();
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    const auto s = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return def;
}

std::vector<std::string> Sets(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--set") out.push_back(argv[i + 1]);
  return out;
}

// The trainer's micro-batches per optimizer step as far as the config fixes them: an RL optimizer step takes
// S = prompts_per_step x n_samples / minibatches_per_step sequences and cuts them as Trainer::MicroBatches
// does (SplitMicroBatches). Printed for completions of max_new_tokens tokens, prompts not counted (the
// data's lengths decide the real count).
void PrintTrainerPacking(const m1rl::config::RunConfig& cfg) {
  const m1rl::config::TrainerConfig& t = cfg.trainer();
  if (t.mode() != m1rl::config::TrainerConfig::MODE_RL) {
    std::printf("  trainer: one forward+backward per optimizer step (not rl)\n");
    return;
  }
  const int64_t seqs =
      int64_t{t.prompts_per_step()} * cfg.rollout().n_samples() / std::max(1, t.minibatches_per_step());
  const int64_t len = m1rl::rollout::MaxNewTokens(cfg.rollout());
  const size_t micro_batches =
      m1rl::trainer::SplitMicroBatches(std::vector<int64_t>(static_cast<size_t>(seqs), len),
                                       t.micro_batch_tokens())
          .size();
  std::printf(
      "  trainer: %ld sequences per optimizer step, micro_batch_tokens %d: %ld micro-batches if every "
      "completion has max_new_tokens %ld tokens (prompts not counted); --micro_batches sets the timed "
      "count\n",
      static_cast<long>(seqs), t.micro_batch_tokens(), static_cast<long>(micro_batches),
      static_cast<long>(len));
}

// The optimizer step's in-place write as the model's cast cache sees it, without the write: every
// parameter's version counter moves (ShardedAdamW::Step's copy_ bumps it), so the next forward re-casts.
void BumpParameterVersions(const m1rl::model::HybridModel& m) {
  for (const at::Tensor& p : m.Parameters()) p.unsafeGetTensorImpl()->bump_version();
}

struct IterationTime {
  double seconds = 0;  // median wall time of one timed iteration
  double casts = 0;    // layer casts into the cast cache per iteration (model::HybridModel::num_cached_casts)
};

// One timed iteration (header): `micro_batches` forward+backwards over `seqs` x `seq_len` random tokens
// each (a fresh draw per micro-batch), gradients accumulating from none, then BumpParameterVersions.
IterationTime TimeIteration(const m1rl::model::HybridModel& m, const m1rl::model::ForwardOptions& fwd,
                            int64_t seq_len, int64_t seqs, int micro_batches, int iters) {
  const int64_t tokens = seq_len * seqs;
  std::vector<at::Tensor> ids;
  for (int k = 0; k < micro_batches; ++k)
    ids.push_back(at::randint(m.config().vocab_size, {tokens + 1},
                              at::TensorOptions().dtype(at::kLong).device(m.device())));
  std::vector<int64_t> cu{0};
  for (int64_t s = 0; s < seqs; ++s) cu.push_back(cu.back() + seq_len);
  const at::Tensor first_param = m.Parameters().front();
  const int64_t casts_before = m.num_cached_casts();
  IterationTime out;
  out.seconds = MedianSeconds(iters, [&] {
    for (const at::Tensor& p : m.Parameters()) p.mutable_grad() = at::Tensor();
    for (const at::Tensor& x : ids) {
      const m1rl::model::ForwardOutput o = m.Forward(x.narrow(0, 0, tokens), x.narrow(0, 1, tokens), cu, fwd);
      at::Tensor loss = -o.logprobs.mean();
      if (o.aux_loss.defined()) loss = loss + o.aux_loss;
      loss.backward();
    }
    BumpParameterVersions(m);
    first_param.grad().sum().item<double>();
  });
  // MedianSeconds runs iters + 1 iterations (one warm-up).
  out.casts = static_cast<double>(m.num_cached_casts() - casts_before) / (iters + 1);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string config_path = Flag(argc, argv, "config", "");
  if (config_path.empty()) {
    std::fprintf(stderr, "usage: bench_mfu --config FILE [--set k=v ...] [--seq_lens N,M] [--seqs N]\n");
    return 2;
  }
  auto cfg = m1rl::trainer::LoadRunConfig(config_path, Sets(argc, argv));
  if (!cfg.ok()) return std::fprintf(stderr, "%s\n", cfg.status().ToString().c_str()), 1;
  const at::Device device = at::hasCUDA() ? at::Device("cuda:0") : at::Device(at::kCPU);
  std::vector<int64_t> seq_lens;
  for (absl::string_view v : absl::StrSplit(Flag(argc, argv, "seq_lens", "4096"), ','))
    seq_lens.push_back(std::stol(std::string{v}));
  const int64_t seqs = std::stol(Flag(argc, argv, "seqs", "2"));
  const int micro_batches = std::stoi(Flag(argc, argv, "micro_batches", "1"));
  const bool cast_cache = Flag(argc, argv, "cast_cache", "1") != "0";
  if (micro_batches < 1) return std::fprintf(stderr, "--micro_batches must be >= 1\n"), 2;
  const int iters = std::stoi(Flag(argc, argv, "iters", "3"));
  const int64_t n = std::stol(Flag(argc, argv, "gemm", "8192"));

  const at::Tensor a = at::randn({n, n}, at::TensorOptions().dtype(at::kBFloat16).device(device));
  const at::Tensor b = at::randn({n, n}, at::TensorOptions().dtype(at::kBFloat16).device(device));
  const double gemm_s = MedianSeconds(iters, [&] { at::matmul(a, b).sum().item<float>(); });
  const double peak = 2.0 * static_cast<double>(n) * n * n / gemm_s;

  auto policy = m1rl::trainer::InitialPolicy(*cfg, device);
  if (!policy.ok()) return std::fprintf(stderr, "%s\n", policy.status().ToString().c_str()), 1;
  m1rl::model::HybridModel& m = **policy;
  m.set_reuse_casts_under_grad(cast_cache);
  m1rl::model::ForwardOptions fwd;
  fwd.head = m1rl::model::HeadPrecisionFromConfig(cfg->model());
  fwd.recompute_layers = cfg->model().recompute_layers();
  std::printf(
      "bench_mfu: %s on %s, params %s / compute %s, head %s, recompute %d, cast cache %d, %d micro-batches "
      "per iteration\n",
      config_path.c_str(), device.str().c_str(), c10::toString(m.dtype()), c10::toString(m.compute_dtype()),
      std::string(m1rl::model::HeadPrecisionName(fwd.head)).c_str(), fwd.recompute_layers ? 1 : 0,
      cast_cache ? 1 : 0, micro_batches);
  PrintTrainerPacking(*cfg);
  std::printf("  bf16 GEMM %ld^3: %.4f s -> peak %.1f TFLOP/s; %ld matmul params/token\n",
              static_cast<long>(n), gemm_s, peak / 1e12,
              static_cast<long>(m1rl::model::MatmulParamsPerToken(m.config())));
  for (const int64_t seq_len : seq_lens) {
    const IterationTime it = TimeIteration(m, fwd, seq_len, seqs, micro_batches, iters);
    const int64_t tokens = seq_len * seqs * micro_batches;
    const m1rl::model::FlopCount f =
        m1rl::model::ForwardFlops(m.config(), std::vector<int64_t>(static_cast<size_t>(seqs), seq_len));
    const double achieved = 3.0 * f.total() * micro_batches / it.seconds;
    std::printf(
        "  %d x %ld x %ld tokens: forward %.3f TFLOP each (matmul %.3f, softmax attn %.3f, lightning %.3f); "
        "%d fwd+bwd + version bump %.4f s (%.1f layer casts) -> %.0f tokens/s, %.1f TFLOP/s -> MFU %.1f%%\n",
        micro_batches, static_cast<long>(seqs), static_cast<long>(seq_len), f.total() / 1e12, f.matmul / 1e12,
        f.softmax / 1e12, f.lightning / 1e12, micro_batches, it.seconds, it.casts,
        static_cast<double>(tokens) / it.seconds, achieved / 1e12, 100.0 * achieved / peak);
  }
  return 0;
}
