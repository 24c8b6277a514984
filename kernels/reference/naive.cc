#include "kernels/reference/naive.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "kernels/reference/naive_norm.h"  // RoundToBf16

namespace m1rl::reference::naive {
namespace {

// Index of element (t, h, i) in a contiguous [T, H, d] tensor.
inline int64_t Thd(int64_t t, int64_t h, int64_t i, int64_t H, int64_t d) { return (t * H + h) * d + i; }

// z[c] = (x_t . w_c) / temperature for every vocabulary row c, in double; returns max_c z[c].
double ScaledLogits(const std::vector<float>& x, const std::vector<float>& w, int64_t t, int64_t Hd,
                    int64_t V, double temperature, std::vector<double>* z) {
  z->resize(V);
  double mx = -INFINITY;
  for (int64_t c = 0; c < V; ++c) {
    double acc = 0.0;
    for (int64_t i = 0; i < Hd; ++i) acc += static_cast<double>(x[t * Hd + i]) * w[c * Hd + i];
    (*z)[c] = acc / temperature;
    mx = std::max(mx, (*z)[c]);
  }
  return mx;
}

}  // namespace

void LightningForward(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                      const std::vector<int32_t>& cu_seqlens, int64_t H, int64_t d,
                      const std::vector<float>& decay_rate, const std::vector<float>& init_state,
                      std::vector<float>* out, std::vector<float>* final_state) {
  const int64_t num_seqs = static_cast<int64_t>(cu_seqlens.size()) - 1;
  const int64_t n_tok = cu_seqlens.back();
  out->assign(n_tok * H * d, 0.0f);
  if (final_state != nullptr) final_state->assign(num_seqs * H * d * d, 0.0f);
  std::vector<double> state(d * d);
  for (int64_t b = 0; b < num_seqs; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const double lambda = std::exp(-static_cast<double>(decay_rate[h]));
      const int64_t off = (b * H + h) * d * d;
      for (int64_t e = 0; e < d * d; ++e) state[e] = init_state.empty() ? 0.0 : init_state[off + e];
      for (int64_t t = cu_seqlens[b]; t < cu_seqlens[b + 1]; ++t) {
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < d; ++j)
            state[i * d + j] = lambda * state[i * d + j] +
                               static_cast<double>(k[Thd(t, h, i, H, d)]) * v[Thd(t, h, j, H, d)];
        for (int64_t j = 0; j < d; ++j) {
          double acc = 0.0;
          for (int64_t i = 0; i < d; ++i)
            acc += static_cast<double>(q[Thd(t, h, i, H, d)]) * state[i * d + j];
          (*out)[Thd(t, h, j, H, d)] = static_cast<float>(acc);
        }
      }
      if (final_state != nullptr)
        for (int64_t e = 0; e < d * d; ++e) (*final_state)[off + e] = static_cast<float>(state[e]);
    }
  }
}

void LightningBackward(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                       const std::vector<float>& dout, const std::vector<int32_t>& cu_seqlens, int64_t H,
                       int64_t d, const std::vector<float>& decay_rate, const std::vector<float>& init_state,
                       const std::vector<float>& d_final_state, std::vector<float>* dq,
                       std::vector<float>* dk, std::vector<float>* dv, std::vector<float>* d_init_state) {
  const int64_t num_seqs = static_cast<int64_t>(cu_seqlens.size()) - 1;
  const int64_t n_tok = cu_seqlens.back();
  dq->assign(n_tok * H * d, 0.0f);
  dk->assign(n_tok * H * d, 0.0f);
  dv->assign(n_tok * H * d, 0.0f);
  if (d_init_state != nullptr) d_init_state->assign(num_seqs * H * d * d, 0.0f);
  std::vector<double> state(d * d), grad_state(d * d);
  for (int64_t b = 0; b < num_seqs; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const double lambda = std::exp(-static_cast<double>(decay_rate[h]));
      const int64_t off = (b * H + h) * d * d;
      const int64_t t0 = cu_seqlens[b], t1 = cu_seqlens[b + 1];
      // Forward pass again for S_t; dq_t = dO_t S_t^T.
      for (int64_t e = 0; e < d * d; ++e) state[e] = init_state.empty() ? 0.0 : init_state[off + e];
      for (int64_t t = t0; t < t1; ++t) {
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < d; ++j)
            state[i * d + j] = lambda * state[i * d + j] +
                               static_cast<double>(k[Thd(t, h, i, H, d)]) * v[Thd(t, h, j, H, d)];
        for (int64_t i = 0; i < d; ++i) {
          double acc = 0.0;
          for (int64_t j = 0; j < d; ++j)
            acc += static_cast<double>(dout[Thd(t, h, j, H, d)]) * state[i * d + j];
          (*dq)[Thd(t, h, i, H, d)] = static_cast<float>(acc);
        }
      }
      // Reverse scan (grad_state = G): G_T = q_T^T dO_T + dS_T; G_j = lambda G_{j+1} + q_j^T dO_j.
      for (int64_t e = 0; e < d * d; ++e)
        grad_state[e] = d_final_state.empty() ? 0.0 : d_final_state[off + e] / lambda;
      for (int64_t t = t1 - 1; t >= t0; --t) {
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < d; ++j)
            grad_state[i * d + j] = lambda * grad_state[i * d + j] +
                                    static_cast<double>(q[Thd(t, h, i, H, d)]) * dout[Thd(t, h, j, H, d)];
        for (int64_t i = 0; i < d; ++i) {
          double acc_k = 0.0, acc_v = 0.0;
          for (int64_t j = 0; j < d; ++j) {
            acc_k += static_cast<double>(v[Thd(t, h, j, H, d)]) *
                     grad_state[i * d + j];  // dk_t[i] = sum_j v_t[j] G[i][j]
            acc_v += static_cast<double>(k[Thd(t, h, j, H, d)]) *
                     grad_state[j * d + i];  // dv_t[i] = sum_j k_t[j] G[j][i]
          }
          (*dk)[Thd(t, h, i, H, d)] = static_cast<float>(acc_k);
          (*dv)[Thd(t, h, i, H, d)] = static_cast<float>(acc_v);
        }
      }
      if (d_init_state != nullptr) {
        if (t1 == t0) {
          for (int64_t e = 0; e < d * d; ++e)
            (*d_init_state)[off + e] = d_final_state.empty() ? 0.0f : d_final_state[off + e];
        } else {
          for (int64_t e = 0; e < d * d; ++e)
            (*d_init_state)[off + e] = static_cast<float>(lambda * grad_state[e]);
        }
      }
    }
  }
}

void HeadLogProbs(const std::vector<float>& x, const std::vector<float>& w,
                  const std::vector<int64_t>& targets, int64_t T, int64_t Hd, int64_t V, double temperature,
                  std::vector<double>* logprobs, std::vector<double>* entropy) {
  logprobs->assign(T, 0.0);
  if (entropy != nullptr) entropy->assign(T, 0.0);
  std::vector<double> z(V);
  for (int64_t t = 0; t < T; ++t) {
    const double mx = ScaledLogits(x, w, t, Hd, V, temperature, &z);
    double sum = 0.0;
    for (int64_t c = 0; c < V; ++c) sum += std::exp(z[c] - mx);
    const double lse = mx + std::log(sum);
    (*logprobs)[t] = z[targets[t]] - lse;
    if (entropy != nullptr) {
      double h = 0.0;
      for (int64_t c = 0; c < V; ++c) {
        const double lp = z[c] - lse;
        h -= std::exp(lp) * lp;
      }
      (*entropy)[t] = h;
    }
  }
}

void HeadLogProbsBackward(const std::vector<float>& x, const std::vector<float>& w,
                          const std::vector<int64_t>& targets, const std::vector<float>& grad, int64_t T,
                          int64_t Hd, int64_t V, double temperature, std::vector<double>* dx,
                          std::vector<double>* dw) {
  dx->assign(T * Hd, 0.0);
  dw->assign(V * Hd, 0.0);
  std::vector<double> z(V);
  for (int64_t t = 0; t < T; ++t) {
    const double mx = ScaledLogits(x, w, t, Hd, V, temperature, &z);
    double sum = 0.0;
    for (int64_t c = 0; c < V; ++c) sum += std::exp(z[c] - mx);
    for (int64_t c = 0; c < V; ++c) {
      const double p = std::exp(z[c] - mx) / sum;
      const double dz = grad[t] * ((c == targets[t] ? 1.0 : 0.0) - p) / temperature;
      for (int64_t i = 0; i < Hd; ++i) {
        (*dx)[t * Hd + i] += dz * w[c * Hd + i];
        (*dw)[c * Hd + i] += dz * x[t * Hd + i];
      }
    }
  }
}

void MoeRoute(const std::vector<float>& router_logits, int64_t T, int64_t E, int64_t top_k,
              std::vector<int32_t>* experts, std::vector<float>* weights) {
  experts->assign(T * top_k, 0);
  weights->assign(T * top_k, 0.0f);
  std::vector<double> p(E);
  std::vector<int32_t> order(E);
  for (int64_t t = 0; t < T; ++t) {
    double mx = -INFINITY;
    for (int64_t e = 0; e < E; ++e) mx = std::max(mx, static_cast<double>(router_logits[t * E + e]));
    double sum = 0.0;
    for (int64_t e = 0; e < E; ++e) sum += (p[e] = std::exp(router_logits[t * E + e] - mx));
    for (int64_t e = 0; e < E; ++e) p[e] /= sum;
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
    double chosen = 0.0;
    for (int64_t j = 0; j < top_k; ++j) chosen += p[order[j]];
    for (int64_t j = 0; j < top_k; ++j) {
      (*experts)[t * top_k + j] = order[j];
      (*weights)[t * top_k + j] = static_cast<float>(p[order[j]] / chosen);
    }
  }
}

void MoeScatterCombine(const std::vector<float>& yp, const std::vector<int32_t>& slot_to_row,
                       const std::vector<float>& weights, int64_t num_tokens, int64_t top_k, int64_t hidden,
                       std::vector<double>* out) {
  out->assign(static_cast<size_t>(num_tokens * hidden), 0.0);
  for (int64_t s = 0; s < num_tokens * top_k; ++s) {
    const int64_t t = s / top_k, row = slot_to_row[s];
    for (int64_t c = 0; c < hidden; ++c) {
      (*out)[t * hidden + c] += static_cast<double>(weights[s]) * yp[row * hidden + c];
    }
  }
}

void MoeCombineBackward(const std::vector<float>& dout, const std::vector<float>& yp,
                        const std::vector<int32_t>& slot_to_row, const std::vector<float>& weights,
                        int64_t num_tokens, int64_t top_k, int64_t hidden, int64_t yp_rows, bool yp_bf16,
                        std::vector<float>* dyp, std::vector<float>* dw) {
  dyp->assign(static_cast<size_t>(yp_rows * hidden), 0.f);
  dw->assign(static_cast<size_t>(num_tokens * top_k), 0.f);
  for (int64_t s = 0; s < num_tokens * top_k; ++s) {
    const int64_t t = s / top_k, row = slot_to_row[s];
    double acc = 0.0;
    for (int64_t c = 0; c < hidden; ++c) {
      const float d = dout[t * hidden + c];
      // The double product of two floats is exact: its rounding is the fp32 product.
      const auto p = static_cast<float>(static_cast<double>(weights[s]) * d);
      (*dyp)[row * hidden + c] = yp_bf16 ? RoundToBf16(p) : p;
      acc += static_cast<double>(d) * yp[row * hidden + c];
    }
    (*dw)[s] = static_cast<float>(acc);
  }
}

void MoeGatherSlots(const std::vector<float>& u, const std::vector<int32_t>& src, int64_t num_tokens,
                    int64_t top_k, int64_t hidden, std::vector<float>* xp) {
  const int64_t rows = static_cast<int64_t>(src.size()), n = num_tokens * top_k;
  xp->assign(static_cast<size_t>(rows * hidden), 0.f);
  for (int64_t r = 0; r < rows; ++r) {
    if (src[r] < 0 || src[r] >= n) continue;
    const int64_t t = src[r] / top_k;
    std::copy_n(u.begin() + t * hidden, hidden, xp->begin() + r * hidden);
  }
}

void MoeGatherSlotsBackward(const std::vector<float>& dxp, const std::vector<int32_t>& dest,
                            int64_t num_tokens, int64_t top_k, int64_t hidden, bool bf16,
                            std::vector<float>* du) {
  du->assign(static_cast<size_t>(num_tokens * hidden), 0.f);
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int64_t c = 0; c < hidden; ++c) {
      float acc = 0.f;
      for (int64_t j = 0; j < top_k; ++j) acc += dxp[dest[t * top_k + j] * hidden + c];
      (*du)[t * hidden + c] = bf16 ? RoundToBf16(acc) : acc;
    }
  }
}

void WidenBf16ToF32(const std::vector<uint16_t>& in, std::vector<float>* out) {
  out->resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) (*out)[i] = std::bit_cast<float>(static_cast<uint32_t>(in[i]) << 16);
}

}  // namespace m1rl::reference::naive
