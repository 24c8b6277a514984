// Model FLOPs of the hybrid network from its config alone (for MFU: FLOPs of the model as written, no
// recomputation counted, against the device's measured bf16 GEMM peak).
//
// One forward over packed sequences of lengths n_1..n_S (T = sum n_s tokens) counts
//   matmuls:   2 * P_mm * T, P_mm = the weight-matrix parameters a token passes through: every attention
//              projection, the router and the top-k experts (w1, w2, w3) of each layer (the dense family:
//              its MLP gate, up and down), and the LM head (tied or not)
//              (norm weights and the embedding gather are not matmuls);
//   softmax:   per softmax layer and sequence, Q K^T and P V over the causal triangle:
//              2 * 2 * N_h * d * n (n + 1) / 2;
//   lightning: per lightning layer and token, the recurrent form's q S (2 d^2) and the state update
//              k^T v (2 d^2) per head: 4 * N_h * d^2 (the chunked kernel's intra-block part is not
//              counted separately).
// A training step (forward + backward) is 3 forwards' worth, the usual 6 * N * tokens plus attention.
#ifndef M1RL_MODEL_FLOPS_H_
#define M1RL_MODEL_FLOPS_H_

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace m1rl::model {

struct FlopCount {
  double matmul = 0;     // 2 * P_mm * T
  double softmax = 0;    // softmax-attention scores and values
  double lightning = 0;  // lightning-attention state products
  double total() const { return matmul + softmax + lightning; }
};

// P_mm above.
int64_t MatmulParamsPerToken(const ModelConfig& config);

// One forward over sequences of `lengths` tokens each (every length >= 0).
FlopCount ForwardFlops(const ModelConfig& config, const std::vector<int64_t>& lengths);

}  // namespace m1rl::model

#endif  // M1RL_MODEL_FLOPS_H_
