// bench_mfu: model FLOPs utilisation of the training step of a config's model.
//   achieved = 3 x ForwardFlops (model/flops.h: matmuls of the active parameters + head, softmax and
//              lightning attention; forward + backward = 3 forwards; layer recomputation NOT counted, the
//              MFU convention) / the median wall time of one forward+backward over --seqs packed
//              sequences of --seq_len random tokens, in the config's precision (model.dtype,
//              lm_head_precision, recompute_layers);
//   peak     = the bf16 GEMM rate measured in the same run on the same device (median of --iters
//              [n, n] x [n, n] at::matmul, 2 n^3 FLOPs each);
//   MFU      = achieved / peak.
// The optimizer step (elementwise over the FP32 masters) is not in the timed region.
//
// Usage: bench_mfu --config configs/gpu_small.yaml [--set path=value ...] [--seq_lens 4096,1400] [--seqs 2]
//                  [--iters 3] [--gemm 8192]
#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "model/config.h"
#include "model/flops.h"
#include "model/hybrid_model.h"
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
  const int iters = std::stoi(Flag(argc, argv, "iters", "3"));
  const int64_t n = std::stol(Flag(argc, argv, "gemm", "8192"));

  const at::Tensor a = at::randn({n, n}, at::TensorOptions().dtype(at::kBFloat16).device(device));
  const at::Tensor b = at::randn({n, n}, at::TensorOptions().dtype(at::kBFloat16).device(device));
  const double gemm_s = MedianSeconds(iters, [&] { at::matmul(a, b).sum().item<float>(); });
  const double peak = 2.0 * static_cast<double>(n) * n * n / gemm_s;

  auto policy = m1rl::trainer::InitialPolicy(*cfg, device);
  if (!policy.ok()) return std::fprintf(stderr, "%s\n", policy.status().ToString().c_str()), 1;
  const m1rl::model::HybridModel& m = **policy;
  m1rl::model::ForwardOptions fwd;
  fwd.head = m1rl::model::HeadPrecisionFromConfig(cfg->model());
  fwd.recompute_layers = cfg->model().recompute_layers();
  std::printf("bench_mfu: %s on %s, params %s / compute %s, head %s, recompute %d\n", config_path.c_str(),
              device.str().c_str(), c10::toString(m.dtype()), c10::toString(m.compute_dtype()),
              std::string(m1rl::model::HeadPrecisionName(fwd.head)).c_str(), fwd.recompute_layers ? 1 : 0);
  std::printf("  bf16 GEMM %ld^3: %.4f s -> peak %.1f TFLOP/s; %ld matmul params/token\n",
              static_cast<long>(n), gemm_s, peak / 1e12,
              static_cast<long>(m1rl::model::MatmulParamsPerToken(m.config())));
  const at::Tensor first_param = m.Parameters().front();
  for (const int64_t seq_len : seq_lens) {
    const int64_t tokens = seq_len * seqs;
    const at::Tensor ids =
        at::randint(m.config().vocab_size, {tokens + 1}, at::TensorOptions().dtype(at::kLong).device(device));
    std::vector<int64_t> cu{0};
    for (int64_t s = 0; s < seqs; ++s) cu.push_back(cu.back() + seq_len);
    const double step_s = MedianSeconds(iters, [&] {
      for (const at::Tensor& p : m.Parameters()) p.mutable_grad() = at::Tensor();
      const m1rl::model::ForwardOutput out =
          m.Forward(ids.narrow(0, 0, tokens), ids.narrow(0, 1, tokens), cu, fwd);
      at::Tensor loss = -out.logprobs.mean();
      if (out.aux_loss.defined()) loss = loss + out.aux_loss;
      loss.backward();
      first_param.grad().sum().item<double>();
    });
    const m1rl::model::FlopCount f =
        m1rl::model::ForwardFlops(m.config(), std::vector<int64_t>(static_cast<size_t>(seqs), seq_len));
    const double achieved = 3.0 * f.total() / step_s;
    std::printf(
        "  %ld x %ld tokens: forward %.3f TFLOP (matmul %.3f, softmax attn %.3f, lightning %.3f); "
        "fwd+bwd %.4f s -> %.0f tokens/s, %.1f TFLOP/s -> MFU %.1f%%\n",
        static_cast<long>(seqs), static_cast<long>(seq_len), f.total() / 1e12, f.matmul / 1e12,
        f.softmax / 1e12, f.lightning / 1e12, step_s, static_cast<double>(tokens) / step_s, achieved / 1e12,
        100.0 * achieved / peak);
  }
  return 0;
}
