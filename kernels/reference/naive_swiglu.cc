#include "kernels/reference/naive_swiglu.h"

#include <cmath>

#include "kernels/reference/naive_norm.h"  // RoundToBf16

namespace m1rl::reference::naive {
namespace {

// The double value v rounded to fp32, then to bf16 when `bf16`. A product of two floats is exact in double,
// so R(a · b) here is the correctly rounded fp32 product rounded once more, as the kernel's.
float R(bool bf16, double v) {
  const auto f = static_cast<float>(v);
  return bf16 ? RoundToBf16(f) : f;
}

double Sigmoid(double g) { return 1.0 / (1.0 + std::exp(-g)); }

}  // namespace

void SwiGluForward(const std::vector<float>& h, int64_t rows, int64_t inter, bool bf16,
                   std::vector<float>* act) {
  act->assign(static_cast<size_t>(rows * inter), 0.f);
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t c = 0; c < inter; ++c) {
      const double g = h[row * 2 * inter + c], u = h[row * 2 * inter + inter + c];
      const float silu = R(bf16, g * Sigmoid(g));
      (*act)[row * inter + c] = R(bf16, silu * u);
    }
  }
}

void SwiGluBackward(const std::vector<float>& h, const std::vector<float>& dact, int64_t rows, int64_t inter,
                    bool bf16, std::vector<float>* dh) {
  dh->assign(static_cast<size_t>(rows * 2 * inter), 0.f);
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t c = 0; c < inter; ++c) {
      const double g = h[row * 2 * inter + c], u = h[row * 2 * inter + inter + c];
      const double d = dact[row * inter + c], s = Sigmoid(g);
      const float dsilu = R(bf16, d * u);  // the mul's backward into silu(g)
      (*dh)[row * 2 * inter + c] = R(bf16, dsilu * s * (1.0 + g * (1.0 - s)));
      (*dh)[row * 2 * inter + inter + c] = R(bf16, d * R(bf16, g * s));
    }
  }
}

}  // namespace m1rl::reference::naive
