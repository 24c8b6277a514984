// Plain C++ reference for the fused residual + RMSNorm (+ gate) kernel of kernels/cuda/rms_norm.h (the
// KERNELS.md convention of kernels/reference/naive.h: no LibTorch, double accumulation; slow, for tests).
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

// x rounded to the nearest bf16 (ties to even), returned as float.
float RoundToBf16(float x);

}  // namespace m1rl::reference::naive

#endif  // M1RL_KERNELS_REFERENCE_NAIVE_NORM_H_
