// Plain C++ reference for the fused SwiGLU kernels of kernels/cuda/swiglu.h (the KERNELS.md convention of
// kernels/reference/naive.h: no LibTorch, double arithmetic; slow, for tests).
#ifndef M1RL_KERNELS_REFERENCE_NAIVE_SWIGLU_H_
#define M1RL_KERNELS_REFERENCE_NAIVE_SWIGLU_H_

#include <cstdint>
#include <vector>

namespace m1rl::reference::naive {

// h [rows, 2·inter] holds the gate g = h[:, :inter] and the up projection u = h[:, inter:] of each row. With
// R the rounding to bf16 when `bf16` (the identity otherwise), s = sigmoid(g) and silu(g) = g · s in double:
//   act = R(R(silu(g)) · u)                                  act [rows, inter]
void SwiGluForward(const std::vector<float>& h, int64_t rows, int64_t inter, bool bf16,
                   std::vector<float>* act);

//   dg = R(R(dact · u) · s · (1 + g · (1 − s))),  du = R(dact · R(silu(g)))
//   dact [rows, inter]; dh [rows, 2·inter]: dg in columns [0, inter), du in [inter, 2·inter).
void SwiGluBackward(const std::vector<float>& h, const std::vector<float>& dact, int64_t rows, int64_t inter,
                    bool bf16, std::vector<float>* dh);

}  // namespace m1rl::reference::naive

#endif  // M1RL_KERNELS_REFERENCE_NAIVE_SWIGLU_H_
