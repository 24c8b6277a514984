// Test helpers for ops::SwiGlu (CPU composite in ops_test.cc, fused CUDA kernels in cuda_ops_test.cc): the
// float64 reference by autograd of the formula, the error bounds derived from the dtype's rounding, and an
// elementwise check that reports the worst element.
#ifndef M1RL_KERNELS_TESTING_SWIGLU_TESTING_H_
#define M1RL_KERNELS_TESTING_SWIGLU_TESTING_H_

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/zeros_like.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace m1rl::ops::testing_swiglu {

// Error bounds of a result in dtype t against the exact value, for the composite's evaluation (silu in the
// working precision, rounded to t, times u, rounded again; backward likewise):
//  rel: bf16 2^-7 + 2^-14: two roundings to bf16 of 2^-8 each, their product 2^-16, and the working fp32
//       evaluation (expf within 2 ulp, then an add, a divide and a multiply: <= 7·2^-24), all under 2^-14;
//       fp32 2^-20: those ~7 fp32 roundings with a 2x margin (16·2^-24);
//       fp64 2^-47: a few double ops on each side (the reference too) with a wide margin (64·2^-53).
//  dg_abs_factor: dg = dact·u·s·(1 + g·(1 − s)) cancels where silu'(g) = 0 (g ≈ −1.28), so its working-
//       precision error is absolute: a few roundings of the terms, <= 8·eps·|dact·u|·s·(1 + |g|) with eps
//       the working precision's unit roundoff; we allow 16·eps for bf16 and fp32 (fp32 math, eps = 2^-24)
//       and 64·eps for fp64 (eps = 2^-53; the reference's own error counts as well).
struct Bounds {
  double rel;
  double dg_abs_factor;
};

inline Bounds SwiGluBounds(at::ScalarType t) {
  if (t == at::kBFloat16) return {std::ldexp(1.0, -7) + std::ldexp(1.0, -14), std::ldexp(1.0, -20)};
  if (t == at::kFloat) return {std::ldexp(1.0, -20), std::ldexp(1.0, -20)};
  return {std::ldexp(1.0, -47), std::ldexp(1.0, -47)};
}

struct Reference {
  at::Tensor act;  // [..., I] float64
  at::Tensor dh;   // [..., 2I] float64
  at::Tensor dh_abs;  // [..., 2I] float64: dh's absolute slack (dg_abs_factor·|dact·u|·s·(1 + |g|); 0 for du)
};

// g·sigmoid(g)·u in float64 on the CPU, on h's values (already rounded to its dtype), and its gradient by
// autograd under the upstream gradient dact [..., I] (its values as given).
inline Reference SwiGluFloat64(const at::Tensor& h, const at::Tensor& dact, at::ScalarType t) {
  const int64_t inter = h.size(-1) / 2;
  const at::Tensor hd = h.detach().to(at::kCPU, at::kDouble).requires_grad_();
  const at::Tensor g = hd.narrow(-1, 0, inter), u = hd.narrow(-1, inter, inter);
  const at::Tensor act = g * g.sigmoid() * u;
  const at::Tensor dd = dact.detach().to(at::kCPU, at::kDouble);
  const auto grads = torch::autograd::grad({act}, {hd}, {dd});
  const at::Tensor gv = g.detach();
  const at::Tensor dg_abs =
      (dd * u.detach()).abs() * gv.sigmoid() * (gv.abs() + 1) * SwiGluBounds(t).dg_abs_factor;
  return {act.detach(), grads[0], at::cat({dg_abs, at::zeros_like(dg_abs)}, -1)};
}

// |got − ref| <= rel·|ref| + abs elementwise (abs shaped as ref), got shaped as ref; on failure names the
// worst element with its expected and actual values and bound.
inline void ExpectWithin(const at::Tensor& got, const at::Tensor& ref, double rel, const at::Tensor& abs,
                         const std::string& what) {
  ASSERT_EQ(got.sizes(), ref.sizes()) << what;
  if (ref.numel() == 0) return;
  const at::Tensor g = got.detach().to(at::kCPU, at::kDouble).reshape({-1});
  const at::Tensor r = ref.reshape({-1});
  ASSERT_FALSE(g.isnan().any().item<bool>()) << what;
  const at::Tensor bound = r.abs() * rel + abs.reshape({-1});
  const at::Tensor excess = (g - r).abs() - bound;
  const int64_t worst = excess.argmax().item<int64_t>();
  EXPECT_LE(excess[worst].item<double>(), 0.0)
      << what << ": worst element " << worst << " expected " << r[worst].item<double>() << ", got "
      << g[worst].item<double>() << ", bound " << bound[worst].item<double>();
}

}  // namespace m1rl::ops::testing_swiglu

#endif  // M1RL_KERNELS_TESTING_SWIGLU_TESTING_H_
