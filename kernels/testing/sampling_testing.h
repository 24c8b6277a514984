// Test helpers for the fused slot sampler (CPU reference and CUDA kernel through ops::SampleSlots): a batch
// of slots with host-side parameters and state, the host sampler's expected distribution computed
// independently in float64, and a chi-square critical value.
#ifndef M1RL_KERNELS_TESTING_SAMPLING_TESTING_H_
#define M1RL_KERNELS_TESTING_SAMPLING_TESTING_H_

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "kernels/cuda/sampling_args.h"
#include "kernels/ops.h"

namespace m1rl::ops::testing_sampling {

// 64 logits in [-4, 4] with a few exact ties (tokens 10/20 and 30/40), so top-k/top-p cut through ties.
inline std::vector<float> FixedLogitsRow() {
  std::vector<float> row(64);
  for (int i = 0; i < 64; ++i) row[i] = static_cast<float>(3.0 * std::sin(0.7 * i) + 0.25 * (i % 5));
  row[20] = row[10];
  row[40] = row[30];
  return row;
}

// The host sampler's distribution (rollout/sampler.h SampleFromWeights): w = exp(z/T - max); candidates in
// (weight desc, index asc) order, the first top_k, then the shortest prefix with mass >= top_p * mass_k;
// probabilities renormalised over the candidates, 0 elsewhere.
inline std::vector<double> ExpectedProbs(const std::vector<float>& z, double temperature, int32_t top_k,
                                         double top_p) {
  const int n = static_cast<int>(z.size());
  double mx = -INFINITY;
  for (float v : z) mx = std::max(mx, v / temperature);
  std::vector<double> w(n);
  for (int i = 0; i < n; ++i) w[i] = std::exp(z[i] / temperature - mx);
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return w[a] > w[b] || (w[a] == w[b] && a < b); });
  int kept = (top_k > 0 && top_k < n) ? top_k : n;
  double mass_k = 0.0;
  for (int i = 0; i < kept; ++i) mass_k += w[order[i]];
  if (top_p < 1.0) {
    double cum = 0.0;
    for (int i = 0; i < kept; ++i) {
      cum += w[order[i]];
      if (cum >= top_p * mass_k) {
        kept = i + 1;
        break;
      }
    }
  }
  double mass = 0.0;
  for (int i = 0; i < kept; ++i) mass += w[order[i]];
  std::vector<double> p(n, 0.0);
  for (int i = 0; i < kept; ++i) p[order[i]] = w[order[i]] / mass;
  return p;
}

// Upper critical value of chi-square with df degrees of freedom at p ~ 1e-6 (Wilson-Hilferty, z = 4.75): a
// correct sampler fails a given test with probability ~1e-6 (and the seeds are fixed, so never flakes).
inline double ChiSquareCritical(int df) {
  const double a = 2.0 / (9.0 * df);
  const double c = 1.0 - a + 4.75 * std::sqrt(a);
  return df * c * c * c;
}

// Slots 0..rows-1, row r of the logits for slot r.
struct SlotBatch {
  int64_t rows = 0, vocab = 0;
  std::vector<float> logits;  // [rows, vocab]
  std::vector<cuda::SlotSamplingParams> params;
  std::vector<cuda::SlotSamplingState> state;
  std::vector<int64_t> next_token, length;
  std::vector<int32_t> eos;
  at::Device device = at::Device(at::kCPU);
  std::vector<int32_t> out_token, out_stop;
  std::vector<float> out_logprob;

  static SlotBatch SameRow(const std::vector<float>& row, int64_t rows, at::Device device) {
    SlotBatch b;
    b.rows = rows;
    b.vocab = static_cast<int64_t>(row.size());
    b.device = device;
    b.logits.resize(rows * b.vocab);
    for (int64_t r = 0; r < rows; ++r) std::copy(row.begin(), row.end(), b.logits.begin() + r * b.vocab);
    b.params.resize(rows);
    b.state.resize(rows);
    for (auto& s : b.state) s.stop = cuda::kStopNone;
    b.next_token.assign(rows, 0);
    b.length.assign(rows, 0);
    return b;
  }

  template <typename T>
  at::Tensor Upload(std::vector<T>& v, at::ScalarType dtype, std::vector<int64_t> sizes) const {
    return at::from_blob(v.data(), sizes, at::TensorOptions().dtype(dtype)).to(device, false, /*copy=*/true);
  }
  template <typename T>
  static void Download(const at::Tensor& t, std::vector<T>* v) {
    const at::Tensor h = t.cpu().contiguous();
    v->resize(h.nbytes() / sizeof(T));
    std::memcpy(v->data(), h.data_ptr(), h.nbytes());
  }

  void Run(double threshold, int32_t run_length, int32_t advance = 1) {
    std::vector<int32_t> slots(rows);
    std::iota(slots.begin(), slots.end(), 0);
    SampleSlotsTensors t;
    t.logits = Upload(logits, at::kFloat, {rows, vocab});
    t.slots = Upload(slots, at::kInt, {rows});
    t.params = Upload(params, at::kByte, {rows, static_cast<int64_t>(sizeof(cuda::SlotSamplingParams))});
    t.state = Upload(state, at::kByte, {rows, static_cast<int64_t>(sizeof(cuda::SlotSamplingState))});
    std::vector<int32_t> e = eos;
    t.eos_ids = Upload(e, at::kInt, {static_cast<int64_t>(e.size())});
    t.next_token = Upload(next_token, at::kLong, {rows});
    t.length = Upload(length, at::kLong, {rows});
    const auto i32 = at::TensorOptions().dtype(at::kInt).device(device);
    t.out_token = at::empty({rows}, i32);
    t.out_stop = at::empty({rows}, i32);
    t.out_logprob = at::empty({rows}, i32.dtype(at::kFloat));
    SampleSlots(t, threshold, run_length, advance);
    Download(t.state, &state);
    Download(t.next_token, &next_token);
    Download(t.length, &length);
    Download(t.out_token, &out_token);
    Download(t.out_stop, &out_stop);
    Download(t.out_logprob, &out_logprob);
  }

  const std::vector<int32_t>& OutTokens() const { return out_token; }
  const std::vector<int32_t>& OutStops() const { return out_stop; }
  const std::vector<float>& OutLogprobs() const { return out_logprob; }
  int64_t NextToken(int64_t r) const { return next_token[r]; }
  int64_t Length(int64_t r) const { return length[r]; }
  const cuda::SlotSamplingState& State(int64_t r) const { return state[r]; }
};

}  // namespace m1rl::ops::testing_sampling

#endif  // M1RL_KERNELS_TESTING_SAMPLING_TESTING_H_
