// Plain C++ references for the CUDA kernels (KERNELS.md: "reference::Foo is plain C++ on the CPU with double
// accumulation"). Straight from the defining recurrences of MODEL.md, with no chunking and no LibTorch, so
// they are independent of both the CUDA kernels and the ATen reference in kernels/reference/. Slow; for
// tests.
#ifndef M1RL_KERNELS_REFERENCE_NAIVE_H_
#define M1RL_KERNELS_REFERENCE_NAIVE_H_

#include <cstdint>
#include <vector>

namespace m1rl::reference::naive {

// Lightning attention forward by the recurrence S_t = lambda S_{t-1} + k_t^T v_t, o_t = q_t S_t.
//   q, k, v, out: [T, H, d] contiguous; cu_seqlens [num_seqs + 1]; decay_rate [H] (lambda = exp(-rate));
//   init_state / final_state: [num_seqs, H, d, d] or empty (zeros / not written).
void LightningForward(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                      const std::vector<int32_t>& cu_seqlens, int64_t num_heads, int64_t head_dim,
                      const std::vector<float>& decay_rate, const std::vector<float>& init_state,
                      std::vector<float>* out, std::vector<float>* final_state);

// Backward by MODEL.md §4.8: dq_t = dO_t S_t^T; G_j = lambda G_{j+1} + q_j^T dO_j with G_{T+1} = dS_T /
// lambda (i.e. G_T = q_T^T dO_T + dS_T); dk_j = v_j G_j^T; dv_j = k_j G_j; dS_0 = lambda G_1.
//   d_final_state may be empty (zero). d_init_state is written when non-null.
void LightningBackward(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                       const std::vector<float>& dout, const std::vector<int32_t>& cu_seqlens,
                       int64_t num_heads, int64_t head_dim, const std::vector<float>& decay_rate,
                       const std::vector<float>& init_state, const std::vector<float>& d_final_state,
                       std::vector<float>* dq, std::vector<float>* dk, std::vector<float>* dv,
                       std::vector<float>* d_init_state);

// LM-head log-prob and entropy of targets: z = (x W^T) / temperature, logprob_t = z_t[target_t] -
// logsumexp(z_t), entropy_t = -sum p log p.  x [T, H], w [V, H] row-major.
void HeadLogProbs(const std::vector<float>& x, const std::vector<float>& w,
                  const std::vector<int64_t>& targets, int64_t num_tokens, int64_t hidden, int64_t vocab,
                  double temperature, std::vector<double>* logprobs, std::vector<double>* entropy);

// Gradients of sum_t g_t * logprob_t:  dz = g (onehot - p) / temperature;  dx = dz W;  dw = dz^T x.
void HeadLogProbsBackward(const std::vector<float>& x, const std::vector<float>& w,
                          const std::vector<int64_t>& targets, const std::vector<float>& grad,
                          int64_t num_tokens, int64_t hidden, int64_t vocab, double temperature,
                          std::vector<double>* dx, std::vector<double>* dw);

// MoE routing: softmax over router logits [T, E] (double), top-k with ties to the lower index, weights
// renormalised over the chosen k.  experts / weights: [T, k].
void MoeRoute(const std::vector<float>& router_logits, int64_t num_tokens, int64_t num_experts, int64_t top_k,
              std::vector<int32_t>* experts, std::vector<float>* weights);

// MoE combine (kernels/cuda/moe.h MoeScatterCombine) in double: out[t, :] = Σ_j weights[s] ·
// yp[slot_to_row[s],
// :] over the slots s = t·k + j.  yp [yp_rows, H]; slot_to_row, weights [T·k]; out [T, H].
void MoeScatterCombine(const std::vector<float>& yp, const std::vector<int32_t>& slot_to_row,
                       const std::vector<float>& weights, int64_t num_tokens, int64_t top_k, int64_t hidden,
                       std::vector<double>* out);

// Its backward under dout [T, H] (kernels/cuda/moe.h MoeCombineBackward):
//   dyp[slot_to_row[s], :] = R(weights[s] · dout[s / k, :]), the fp32 product rounded to bf16 when `yp_bf16`,
//   and 0 in the rows no slot names (padding);  dw[s] = Σ_c dout[s / k, c] · yp[slot_to_row[s], c] in double.
//   dyp [yp_rows, H]; dw [T·k].
void MoeCombineBackward(const std::vector<float>& dout, const std::vector<float>& yp,
                        const std::vector<int32_t>& slot_to_row, const std::vector<float>& weights,
                        int64_t num_tokens, int64_t top_k, int64_t hidden, int64_t yp_rows, bool yp_bf16,
                        std::vector<float>* dyp, std::vector<float>* dw);

// The training MoE's slot gather (kernels/cuda/moe.h MoeGatherSlots) with n = T·k slots:
//   xp[r, :] = u[src[r] / k, :] where 0 <= src[r] < n, else 0.  u [T, H]; src [rows]; xp [rows, H].
void MoeGatherSlots(const std::vector<float>& u, const std::vector<int32_t>& src, int64_t num_tokens,
                    int64_t top_k, int64_t hidden, std::vector<float>* xp);

// Its backward (MoeGatherSlotsBackward): du[t, :] = R(((0 + dxp[dest[t·k], :]) + ...) + dxp[dest[t·k + k−1],
// :]), the sum in fp32 (float, not double: the kernel's contract is this order of fp32 additions) and R the
// rounding to bf16 when `bf16`. dxp [rows, H]; dest [T·k]; du [T, H].
void MoeGatherSlotsBackward(const std::vector<float>& dxp, const std::vector<int32_t>& dest,
                            int64_t num_tokens, int64_t top_k, int64_t hidden, bool bf16,
                            std::vector<float>* du);

// bf16 -> fp32 widening (kernels/cuda/cast.h WidenBf16ToF32) on the raw bits: each bf16 is the high half of
// an fp32, so out[i] is the float whose bits are in[i] << 16 (exact; signed zeros, subnormals, infinities and
// NaN payloads kept, as LibTorch's CPU .to(at::kFloat) keeps them). `in` holds the bf16 bit patterns.
void WidenBf16ToF32(const std::vector<uint16_t>& in, std::vector<float>* out);

}  // namespace m1rl::reference::naive

#endif  // M1RL_KERNELS_REFERENCE_NAIVE_H_
