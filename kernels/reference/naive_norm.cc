#include "kernels/reference/naive_norm.h"

#include <cmath>
#include <cstring>

namespace m1rl::reference::naive {

float RoundToBf16(float x) {
  if (std::isnan(x)) return x;
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof(bits));
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  bits &= 0xFFFF0000u;
  float r = 0.f;
  std::memcpy(&r, &bits, sizeof(r));
  return r;
}

void ResidualRmsNorm(const std::vector<float>& a, const std::vector<float>& b, float alpha, float beta,
                     const std::vector<float>& w, const std::vector<float>& gate, int64_t rows, int64_t cols,
                     double eps, bool bf16, std::vector<float>* out) {
  auto r = [bf16](float x) { return bf16 ? RoundToBf16(x) : x; };
  out->assign(static_cast<size_t>(rows * cols), 0.f);
  std::vector<float> h(static_cast<size_t>(cols));
  for (int64_t row = 0; row < rows; ++row) {
    double sq = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = row * cols + c;
      h[c] = b.empty() ? a[i] : r(r(a[i] * alpha) + r(r(b[i]) * beta));
      sq += static_cast<double>(h[c]) * h[c];
    }
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = row * cols + c;
      const float y = r(static_cast<float>(h[c] * rstd * w[c]));
      const double sig = 1.0 / (1.0 + std::exp(-static_cast<double>(gate.empty() ? 0.f : gate[i])));
      (*out)[i] = gate.empty() ? y : r(r(static_cast<float>(sig)) * y);
    }
  }
}

}  // namespace m1rl::reference::naive
