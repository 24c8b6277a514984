#include "kernels/reference/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/cuda/philox.h"

namespace m1rl::reference {

std::vector<int32_t> SamplingCandidates(const std::vector<double>& w, int32_t top_k, double top_p) {
  const int32_t vocab = static_cast<int32_t>(w.size());
  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  const bool use_k = top_k > 0 && top_k < vocab;
  const bool use_p = top_p < 1.0;
  if (!use_k && !use_p) return order;
  // Descending weight, ties by lower index: the host sampler's order (rollout/sampler.cc).
  std::stable_sort(order.begin(), order.end(), [&w](int32_t a, int32_t b) { return w[a] > w[b]; });
  int32_t kept = use_k ? top_k : vocab;
  if (use_p) {
    double mass_k = 0.0;
    for (int32_t i = 0; i < kept; ++i) mass_k += w[order[i]];
    double cum = 0.0;
    for (int32_t i = 0; i < kept; ++i) {
      cum += w[order[i]];
      if (cum >= top_p * mass_k) {
        kept = i + 1;
        break;
      }
    }
  }
  order.resize(kept);
  std::sort(order.begin(), order.end());
  return order;
}

void SampleSlots(const cuda::SampleSlotsArgs& a) {
  const int32_t vocab = static_cast<int32_t>(a.vocab);
  std::vector<double> w(vocab);
  for (int64_t row = 0; row < a.batch; ++row) {
    const int32_t slot = a.slots[row];
    cuda::SlotSamplingState& st = a.state[slot];
    if (st.stop != cuda::kStopNone) {
      a.out_token[row] = -1;
      a.out_logprob[row] = 0.0f;
      a.out_stop[row] = st.stop;
      continue;
    }
    const cuda::SlotSamplingParams& p = a.params[slot];
    const float* z = a.logits + row * a.logits_row_stride;
    double mx = -std::numeric_limits<double>::infinity();
    int32_t arg = -1;
    bool bad = false;
    for (int32_t i = 0; i < vocab; ++i) {
      if (std::isnan(z[i]) || z[i] == std::numeric_limits<float>::infinity()) bad = true;
      const double s = static_cast<double>(z[i]) * p.inv_temperature;
      if (arg < 0 || s > mx) {
        mx = s;
        arg = i;
      }
    }
    if (bad || mx == -std::numeric_limits<double>::infinity()) {
      st.stop = cuda::kStopError;
      a.out_token[row] = -1;
      a.out_logprob[row] = 0.0f;
      a.out_stop[row] = cuda::kStopError;
      continue;
    }
    double total = 0.0;
    for (int32_t i = 0; i < vocab; ++i) {
      w[i] = std::exp(static_cast<double>(z[i]) * p.inv_temperature - mx);
      total += w[i];
    }
    int32_t token = arg;
    if (!p.greedy) {
      const double u = cuda::PhiloxUniform(p.seed, p.stream, static_cast<uint64_t>(st.generated));
      const std::vector<int32_t> cand = SamplingCandidates(w, p.top_k, p.top_p);
      double mass = 0.0;
      for (int32_t i : cand) mass += w[i];
      const double target = u * mass;
      double cum = 0.0;
      token = -1;
      int32_t last_positive = cand.back();
      for (int32_t i : cand) {
        if (w[i] <= 0.0) continue;
        cum += w[i];
        last_positive = i;
        if (target < cum) {
          token = i;
          break;
        }
      }
      if (token < 0) token = last_positive;
    }
    const double logprob = static_cast<double>(z[token]) * p.inv_temperature - (mx + std::log(total));
    const double prob = std::exp(logprob);
    const int32_t rep = prob > a.repetition_threshold ? st.rep_run + 1 : 0;
    const int32_t generated = st.generated + 1;
    int32_t stop = cuda::kStopNone;
    if (std::find(a.eos_ids, a.eos_ids + a.num_eos, token) != a.eos_ids + a.num_eos) {
      stop = cuda::kStopEos;
    } else if (a.repetition_run_length > 0 && rep == a.repetition_run_length) {
      stop = cuda::kStopRepetition;
    } else if (generated >= p.max_new_tokens) {
      stop = cuda::kStopLength;
    } else if (generated >= p.max_generated) {
      stop = cuda::kStopContext;
    }
    st.generated = generated;
    st.rep_run = rep;
    st.stop = stop;
    a.next_token[slot] = token;
    a.length[slot] += a.advance_length;
    a.out_token[row] = token;
    a.out_logprob[row] = static_cast<float>(logprob);
    a.out_stop[row] = stop;
  }
}

}  // namespace m1rl::reference
