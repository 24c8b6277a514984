// bench_kernels: m1rl's CUDA kernels on the GPU host, protocol of KERNELS.md: random inputs, warm-up,
// CUDA-event timed medians (p10/p90), and in the same run the measured ceilings (2 GiB device copy, cuBLAS
// FP32/bf16 GEMM on the LM-head shape) and same-run LibTorch baselines. Triton anchors (FLA, CCE) are the
// constants recorded in KERNELS.md, printed, not rerun. One line per measurement plus a JSON line (prefix
// "JSON ").
//
// Usage: bench_kernels [--only lightning|decode|head|moe] [--iters N]
#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "common/flags.h"
#include "kernels/cuda_ops.h"
#include "kernels/reference/lightning_attention.h"

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 8)
#include <ATen/ops/_grouped_mm.h>
#define M1RL_HAVE_GROUPED_MM 1
#endif

namespace {

struct Timing {
  double median_ms, p10_ms, p90_ms;
};

Timing Time(const std::function<void()>& fn, int warmup, int iters) {
  auto stream = c10::cuda::getCurrentCUDAStream();
  for (int i = 0; i < warmup; ++i) fn();
  cudaStreamSynchronize(stream);
  std::vector<double> ms;
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < iters; ++i) {
    cudaEventRecord(a, stream);
    fn();
    cudaEventRecord(b, stream);
    cudaEventSynchronize(b);
    float t = 0.f;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) {
      std::fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(err));
      std::exit(1);
    }
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  auto at_q = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
  return {at_q(0.5), at_q(0.1), at_q(0.9)};
}

void Report(const std::string& name, const std::string& shape, Timing ours, double baseline_ms,
            const std::string& baseline_name, double work, const std::string& unit, double ceiling,
            const std::string& ceiling_name, double target_ms) {
  const double rate = work / (ours.median_ms * 1e-3) / 1e12;  // TB/s or TFLOP/s
  const bool pass = target_ms <= 0 || ours.median_ms <= target_ms;
  std::printf(
      "%-28s %-30s ours %9.3f ms [p10 %.3f p90 %.3f]  %-28s %9.3f ms  ratio %6.2fx  %7.1f %s (%5.1f%% of %s)",
      name.c_str(), shape.c_str(), ours.median_ms, ours.p10_ms, ours.p90_ms, baseline_name.c_str(),
      baseline_ms, baseline_ms / ours.median_ms, rate, unit.c_str(), 100.0 * rate / ceiling,
      ceiling_name.c_str());
  if (target_ms > 0) std::printf("  target <= %.3f ms %s", target_ms, pass ? "PASS" : "MISS");
  std::printf("\n");
  std::printf(
      "JSON {\"kernel\":\"%s\",\"shape\":\"%s\",\"ms\":%.4f,\"p10\":%.4f,\"p90\":%.4f,\"baseline\":\"%s\","
      "\"baseline_ms\":%.4f,\"rate\":%.2f,\"unit\":\"%s\",\"ceiling_frac\":%.3f,\"target_ms\":%.3f}\n",
      name.c_str(), shape.c_str(), ours.median_ms, ours.p10_ms, ours.p90_ms, baseline_name.c_str(),
      baseline_ms, rate, unit.c_str(), rate / ceiling, target_ms);
  std::fflush(stdout);
}

struct Ceilings {
  double copy_tbs = 0, fp32_tflops = 0, bf16_tflops = 0;
};

at::TensorOptions Dev(at::ScalarType t) { return at::TensorOptions().device(at::kCUDA).dtype(t); }

Ceilings MeasureCeilings(int iters) {
  Ceilings c;
  const int64_t bytes = int64_t{2} << 30;
  at::Tensor src = at::empty({bytes}, Dev(at::kByte)), dst = at::empty({bytes}, Dev(at::kByte));
  auto stream = c10::cuda::getCurrentCUDAStream();
  Timing t =
      Time([&] { cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), bytes, cudaMemcpyDeviceToDevice, stream); },
           5, iters);
  c.copy_tbs = 2.0 * bytes / (t.median_ms * 1e-3) / 1e12;
  std::printf("ceiling: 2 GiB device copy %.3f ms = %.2f TB/s (read + write)\n", t.median_ms, c.copy_tbs);
  const int64_t M = 4096, K = 6144, N = 32768;  // LM-head shape, vocabulary slice
  at::globalContext().setAllowTF32CuBLAS(false);
  at::Tensor a = at::randn({M, K}, Dev(at::kFloat)), b = at::randn({N, K}, Dev(at::kFloat));
  t = Time([&] { at::mm(a, b.t()); }, 3, std::max(5, iters / 5));
  c.fp32_tflops = 2.0 * M * N * K / (t.median_ms * 1e-3) / 1e12;
  at::Tensor ab = a.to(at::kBFloat16), bb = b.to(at::kBFloat16);
  t = Time([&] { at::mm(ab, bb.t()); }, 5, iters);
  c.bf16_tflops = 2.0 * M * N * K / (t.median_ms * 1e-3) / 1e12;
  std::printf("ceiling: cuBLAS IEEE FP32 GEMM %.1f TFLOP/s, bf16 GEMM %.1f TFLOP/s (M %ld K %ld N %ld)\n",
              c.fp32_tflops, c.bf16_tflops, M, K, N);
  return c;
}

void BenchLightning(const Ceilings& c, int iters) {
  const int64_t H = 64, D = 128;
  for (auto [B, Tper] : std::vector<std::pair<int64_t, int64_t>>{{1, 32768}, {4, 8192}}) {
    const int64_t T = B * Tper;
    std::vector<int64_t> cu;
    for (int64_t b = 0; b <= B; ++b) cu.push_back(b * Tper);
    at::Tensor q = at::randn({T, H, D}, Dev(at::kFloat)).sigmoid().to(at::kBFloat16);
    at::Tensor k = at::randn({T, H, D}, Dev(at::kFloat)).sigmoid().to(at::kBFloat16);
    at::Tensor v = at::randn({T, H, D}, Dev(at::kFloat)).to(at::kBFloat16);
    at::Tensor decay = at::randn({H}, Dev(at::kFloat)).abs() * 0.1 + 0.001;
    const std::string shape = "B" + std::to_string(B) + " T" + std::to_string(Tper) + " H64 D128 bf16";
    Timing ours =
        Time([&] { m1rl::cuda_ops::LightningAttention(q, k, v, decay, cu, at::Tensor()); }, 10, iters);
    Timing base = Time(
        [&] {
          m1rl::reference::LightningAttentionChunked(q, k, v, decay, cu, at::Tensor(), 256, at::kFloat);
        },
        3, std::max(5, iters / 5));
    const double io_bytes = 4.0 * T * H * D * 2;  // q, k, v read + o write, bf16
    Report("lightning_fwd", shape, ours, base.median_ms, "libtorch block-256 loop", io_bytes, "TB/s",
           c.copy_tbs, "copy BW", B == 1 ? 0.70 : 0.0);
    std::printf("  anchor (KERNELS.md, not rerun): FLA chunk_simple_gla %.3f ms -> ratio %.2fx\n",
                B == 1 ? 1.468 : 1.528, (B == 1 ? 1.468 : 1.528) / ours.median_ms);

    at::Tensor qg = q.detach().requires_grad_(), kg = k.detach().requires_grad_(),
               vg = v.detach().requires_grad_();
    at::Tensor go = at::randn({T, H, D}, Dev(at::kBFloat16));
    Timing fb = Time(
        [&] {
          auto [o, f] = m1rl::cuda_ops::LightningAttention(qg, kg, vg, decay, cu, at::Tensor());
          torch::autograd::grad({o}, {qg, kg, vg}, {go});
        },
        5, std::max(10, iters / 2));
    Report("lightning_fwd_bwd", shape, fb, B == 1 ? 7.674 : 7.959, "FLA anchor (KERNELS.md)", io_bytes * 2.75,
           "TB/s", c.copy_tbs, "copy BW", B == 1 ? 2.5 : 0.0);
  }
}

void BenchDecode(const Ceilings& c, int iters) {
  const int64_t H = 64, D = 128;
  for (int64_t B : {64, 256}) {
    at::Tensor q = at::randn({B, H, D}, Dev(at::kBFloat16)),
               k = at::randn({B, H, D}, Dev(at::kBFloat16)).sigmoid(),
               v = at::randn({B, H, D}, Dev(at::kBFloat16));
    at::Tensor decay = at::randn({H}, Dev(at::kFloat)).abs() * 0.1;
    // Three state pools rotate so the working set exceeds L2.
    std::vector<at::Tensor> pools;
    for (int i = 0; i < 3; ++i) pools.push_back(at::zeros({B, H, D, D}, Dev(at::kFloat)));
    int turn = 0;
    Timing ours = Time(
        [&] { m1rl::cuda_ops::LightningDecode(q, k, v, decay, pools[turn++ % 3], at::Tensor()); }, 10, iters);
    at::Tensor lam = (-decay).exp().view({1, H, 1, 1});
    at::Tensor qf = q.to(at::kFloat), kf = k.to(at::kFloat), vf = v.to(at::kFloat);
    Timing base = Time(
        [&] {
          at::Tensor& s = pools[turn++ % 3];
          s.mul_(lam).add_(kf.unsqueeze(-1) * vf.unsqueeze(-2));
          qf.unsqueeze(-2).matmul(s);
        },
        10, iters);
    const double bytes = 2.0 * B * H * D * D * 4;
    Report("lightning_decode", std::to_string(B) + " seqs x 64 heads D128", ours, base.median_ms,
           "libtorch 3-op update", bytes, "TB/s", c.copy_tbs, "copy BW", B == 256 ? 0.56 : 0.15);
  }
}

void BenchHead(const Ceilings& c, int iters) {
  const int64_t T = 4096, H = 6144, V = 200064;
  at::Tensor x = at::randn({T, H}, Dev(at::kFloat)).to(at::kBFloat16).to(at::kFloat);
  at::Tensor w = (at::randn({V, H}, Dev(at::kFloat)) * 0.02).to(at::kBFloat16).to(at::kFloat);
  at::Tensor tg = at::randint(0, V, {T}, Dev(at::kLong));
  const double flops = 2.0 * T * H * V;
  const int slow_iters = std::max(5, iters / 5);
  at::globalContext().setAllowTF32CuBLAS(false);
  Timing ours = Time(
      [&] { m1rl::cuda_ops::HeadLogProbs(x, w, tg, 1.0, m1rl::cuda_ops::HeadMode::kIeeeFp32, 16384, true); },
      2, slow_iters);
  Timing base = Time([&] { at::log_softmax(at::mm(x, w.t()), 1).gather(1, tg.unsqueeze(1)); }, 2, slow_iters);
  Report("head_fwd ieee_fp32", "T4096 H6144 V200064", ours, base.median_ms, "at::mm fp32 + log_softmax",
         flops, "TFLOP/s", c.fp32_tflops, "FP32 GEMM", flops / 50e12 * 1e3);
  at::Tensor xg = x.detach().requires_grad_(), wg = w.detach().requires_grad_();
  at::Tensor g = at::randn({T}, Dev(at::kFloat));
  Timing fb = Time(
      [&] {
        auto [lp, e] =
            m1rl::cuda_ops::HeadLogProbs(xg, wg, tg, 1.0, m1rl::cuda_ops::HeadMode::kIeeeFp32, 16384, false);
        torch::autograd::grad({lp}, {xg, wg}, {g});
      },
      1, std::max(3, iters / 10));
  Report("head_fwd_bwd ieee_fp32", "T4096 H6144 V200064", fb, ours.median_ms * 3.2, "target fwd x 3.2",
         4 * flops, "TFLOP/s", c.fp32_tflops, "FP32 GEMM", 0.0);

  at::Tensor xb = x.to(at::kBFloat16), wb = w.to(at::kBFloat16);
  Timing ours16 = Time(
      [&] {
        m1rl::cuda_ops::HeadLogProbs(xb, wb, tg, 1.0, m1rl::cuda_ops::HeadMode::kBf16Fp32Out, 16384, true);
      },
      5, iters);
  Timing base16 = Time(
      [&] { at::log_softmax(at::mm(xb, wb.t()).to(at::kFloat), 1).gather(1, tg.unsqueeze(1)); }, 5, iters);
  Report("head_fwd bf16_fp32_out", "T4096 H6144 V200064", ours16, base16.median_ms,
         "at::mm bf16 + log_softmax", flops, "TFLOP/s", c.bf16_tflops, "bf16 GEMM", flops / 550e12 * 1e3);
  Timing tf =
      Time([&] { m1rl::cuda_ops::HeadLogProbs(x, w, tg, 1.0, m1rl::cuda_ops::HeadMode::kTf32, 16384, true); },
           3, slow_iters);
  Report("head_fwd tf32", "T4096 H6144 V200064", tf, 27.79, "cuBLAS TF32 anchor (KERNELS.md)", flops,
         "TFLOP/s", c.bf16_tflops / 2, "TF32 ~ bf16/2", 0.0);
}

void BenchMoe(const Ceilings& c, int iters) {
  const int64_t E = 32, rows_per = 512, H = 6144, I = 9216, k = 2;
  const int64_t T = E * rows_per / k;
  at::Tensor x = at::randn({T, H}, Dev(at::kBFloat16));
  at::Tensor w13 = at::randn({E, 2 * I, H}, Dev(at::kBFloat16)) * 0.01;
  at::Tensor w2 = at::randn({E, H, I}, Dev(at::kBFloat16)) * 0.01;
  for (double imbalance : {1.0, 1.5}) {
    // Router logits biased so expert loads follow a linear ramp with max/mean = imbalance.
    at::Tensor logits = at::randn({T, E}, Dev(at::kFloat));
    if (imbalance > 1.0) {
      at::Tensor bias = at::empty({E}, at::TensorOptions().dtype(at::kFloat));
      float* bp = bias.data_ptr<float>();
      for (int64_t e = 0; e < E; ++e)
        bp[e] = static_cast<float>(std::log(1.0 + (imbalance - 1.0) * 2.0 * e / (E - 1)));
      logits = logits + bias.to(at::kCUDA);
    }
    auto routing = m1rl::cuda_ops::MoeRoute(logits, k);
    Timing route = Time([&] { m1rl::cuda_ops::MoeRoute(logits, k); }, 10, iters);
    Timing ours = Time([&] { m1rl::cuda_ops::MoeExperts(x, routing, w13, w2); }, 5, std::max(10, iters / 2));
    const double flops = 2.0 * T * k * 3 * H * I;
    at::Tensor dense_a = at::randn({T * k, H}, Dev(at::kBFloat16)),
               dense_w = at::randn({3 * I, H}, Dev(at::kBFloat16));
    Timing dense = Time([&] { at::mm(dense_a, dense_w.t()); }, 5, std::max(10, iters / 2));
    char shape[96];
    std::snprintf(shape, sizeof(shape), "E32 x 512 rows H6144 I9216 imb %.1f", imbalance);
    Report("moe_experts (route excl.)", shape, ours, dense.median_ms, "dense GEMM, equal FLOPs", flops,
           "TFLOP/s", c.bf16_tflops, "bf16 GEMM", flops / 640e12 * 1e3);
    Report("moe_route+permute", shape, route, ours.median_ms * 0.1, "10% of experts (target)", 0.0, "-", 1.0,
           "-", ours.median_ms * 0.1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  int64_t iters = 50;
  m1rl::FlagSet flags("bench_kernels", "Times m1rl's CUDA kernels against measured ceilings and baselines.");
  flags.AddString("only", &only, "lightning | decode | head | moe (default: all)");
  flags.AddInt("iters", &iters, "timed iterations for fast kernels (slow ones use fewer)");
  if (auto s = flags.Parse(argc, argv, 1); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.Usage().c_str());
    return 0;
  }
  if (c10::cuda::device_count() == 0) {
    std::fprintf(stderr, "bench_kernels: no CUDA device\n");
    return 1;
  }
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device %s, %d SMs, L2 %d MB; LibTorch %s\n", prop.name, prop.multiProcessorCount,
              prop.l2CacheSize >> 20, TORCH_VERSION);
  const Ceilings c = MeasureCeilings(static_cast<int>(iters));
  if (only.empty() || only == "lightning") BenchLightning(c, static_cast<int>(iters));
  if (only.empty() || only == "decode") BenchDecode(c, static_cast<int>(iters));
  if (only.empty() || only == "head") BenchHead(c, static_cast<int>(iters));
  if (only.empty() || only == "moe") BenchMoe(c, static_cast<int>(iters));
  return 0;
}
