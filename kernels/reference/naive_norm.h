// Plain C++ references for the RMSNorm kernels of kernels/cuda/rms_norm.h: the decode step's fused residual
// + RMSNorm (+ gate) and the training RMSNorm forward / backward (the KERNELS.md convention of
// kernels/reference/naive.h: no LibTorch, double accumulation; slow, for tests).
#ifndef M1RL_KERNELS_REFERENCE_NAIVE_NORM_H_
#define M1RL_KERNELS_REFERENCE_NAIVE_NORM_H_

#include <cstdint>
#include <vector>

namespace m1rl::reference::naive {

// Residual + RMSNorm + gate of kernels/cuda/rms_norm.h, row by row: each intermediate rounded to bf16 when
// `bf16` (round to nearest even, as LibTorch rounds a bf16 op's result), the sum of squares in double.
//   a, b, gate, out: [rows, cols] (b / gate empty = absent); w [cols].
void ResidualRmsNorm(const std::vector<float>& a, const std::vector<float>& b, float alpha, float beta,
                     const std::vector<float>& w, const std::vector<float>& gate, int64_t rows, int64_t cols,
                     double eps, bool bf16, std::vector<float>* out);

// Which dtypes of the training RMSNorm are bf16 (results of that dtype rounded to the nearest bf16, ties to
// even, as the kernels' R_x, R_w, R_o; fp32 otherwise, where the rounding is the identity).
struct NormBf16 {
  bool x = false;    // x_type: x, b, h, dh, dx, db
  bool w = false;    // w_type: w, dw
  bool out = false;  // out_type: gate, out, dy, dgate
};

// The training RMSNorm forward of kernels/cuda/rms_norm.h (RmsNormForward), row by row, with the kernel's
// roundings and double arithmetic elsewhere (single fp32 operations, which are correctly rounded, stay fp32):
//   u    = b ? R_x(R_x(x·alpha) + R_x(b·beta)) : x
//   rstd = 1 / sqrt(Σ u² / cols + eps)                (Σ in double)
//   n    = R_o(u · rstd · w),  out = gate ? R_o(R_o(sigmoid(gate)) · n) : n
struct RmsNormForwardInputs {
  int64_t rows = 0, cols = 0;
  std::vector<float> x;  // [rows, cols]
  std::vector<float> b;  // [rows, cols], or empty (no residual sum)
  float alpha = 1.f, beta = 1.f;
  std::vector<float> w;     // [cols]
  std::vector<float> gate;  // [rows, cols] pre-sigmoid logits, or empty
  double eps = 1e-6;
  NormBf16 bf16;
};
struct RmsNormForwardOutputs {
  std::vector<float> h;     // [rows, cols] the norm's input u (x itself without b)
  std::vector<float> out;   // [rows, cols]
  std::vector<float> rstd;  // [rows]
};
RmsNormForwardOutputs RmsNormForward(const RmsNormForwardInputs& in);

// The training RMSNorm backward of kernels/cuda/rms_norm.h (RmsNormBackward), in double. With x the norm's
// input u, xhat = x · rstd, σ = sigmoid(gate), e = dy · R_o(σ) (dy without a gate), g = e · w:
//   t     = rstd · (g − xhat · Σ_row(g · xhat) / cols) + dh
//   dx    = R_x(dx_scale · t),  db = R_x(db_scale · t)
//   dgate = R_o(dy · R_o(xhat · w) · σ · (1 − σ))        (σ unrounded)
//   dw    = R_w(Σ_rows e · xhat)
struct RmsNormBackwardInputs {
  int64_t rows = 0, cols = 0;
  std::vector<float> dy;    // [rows, cols]
  std::vector<float> x;     // [rows, cols] the norm's input (the forward's h)
  std::vector<float> w;     // [cols]
  std::vector<float> rstd;  // [rows] from the forward
  std::vector<float> gate;  // [rows, cols] the forward's gate, or empty
  std::vector<float> dh;    // [rows, cols] added to the input gradient, or empty (zero)
  float dx_scale = 1.f, db_scale = 1.f;
  NormBf16 bf16;
};
struct RmsNormBackwardOutputs {
  std::vector<float> dx;     // [rows, cols]
  std::vector<float> db;     // [rows, cols]
  std::vector<float> dgate;  // [rows, cols], empty without a gate
  std::vector<float> dw;     // [cols]
};
RmsNormBackwardOutputs RmsNormBackward(const RmsNormBackwardInputs& in);

// x rounded to the nearest bf16 (ties to even), returned as float.
float RoundToBf16(float x);

}  // namespace m1rl::reference::naive

#endif  // M1RL_KERNELS_REFERENCE_NAIVE_NORM_H_
