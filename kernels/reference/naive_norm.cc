#include "kernels/reference/naive_norm.h"

#include <cmath>
#include <cstring>

namespace m1rl::reference::naive {
namespace {

// x rounded to bf16 when `bf16`, unchanged otherwise.
float RoundIf(bool bf16, float x) { return bf16 ? RoundToBf16(x) : x; }

// The fp32 product of two floats (the double product is exact, so its rounding is the correctly rounded fp32
// product, and no fused multiply-add can change it).
float MulF(float a, float b) { return static_cast<float>(static_cast<double>(a) * b); }

double Sigmoid(float g) { return 1.0 / (1.0 + std::exp(-static_cast<double>(g))); }

}  // namespace

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

RmsNormForwardOutputs RmsNormForward(const RmsNormForwardInputs& in) {
  const int64_t cols = in.cols;
  const NormBf16 r = in.bf16;
  RmsNormForwardOutputs o;
  o.h.assign(static_cast<size_t>(in.rows * cols), 0.f);
  o.out.assign(o.h.size(), 0.f);
  o.rstd.assign(static_cast<size_t>(in.rows), 0.f);
  for (int64_t row = 0; row < in.rows; ++row) {
    double sq = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = row * cols + c;
      const float u =
          in.b.empty()
              ? in.x[i]
              : RoundIf(r.x, RoundIf(r.x, MulF(in.x[i], in.alpha)) + RoundIf(r.x, MulF(in.b[i], in.beta)));
      o.h[i] = u;
      sq += static_cast<double>(u) * u;
    }
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(cols) + in.eps);
    o.rstd[row] = static_cast<float>(rstd);
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = row * cols + c;
      const float n = RoundIf(r.out, static_cast<float>(o.h[i] * rstd * in.w[c]));
      o.out[i] = in.gate.empty()
                     ? n
                     : RoundIf(r.out, MulF(RoundIf(r.out, static_cast<float>(Sigmoid(in.gate[i]))), n));
    }
  }
  return o;
}

RmsNormBackwardOutputs RmsNormBackward(const RmsNormBackwardInputs& in) {
  const int64_t cols = in.cols;
  const NormBf16 r = in.bf16;
  const bool gated = !in.gate.empty();
  RmsNormBackwardOutputs o;
  o.dx.assign(static_cast<size_t>(in.rows * cols), 0.f);
  o.db.assign(o.dx.size(), 0.f);
  if (gated) o.dgate.assign(o.dx.size(), 0.f);
  std::vector<double> dw(static_cast<size_t>(cols), 0.0), e(static_cast<size_t>(cols)),
      xhat(static_cast<size_t>(cols));
  for (int64_t row = 0; row < in.rows; ++row) {
    const double rstd = in.rstd[row];
    double dot = 0.0;  // Σ g · xhat over the row
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = row * cols + c;
      e[c] = gated ? in.dy[i] * static_cast<double>(RoundIf(r.out, static_cast<float>(Sigmoid(in.gate[i]))))
                   : in.dy[i];
      xhat[c] = in.x[i] * rstd;
      dot += e[c] * in.w[c] * xhat[c];
      dw[c] += e[c] * xhat[c];
    }
    const double mean = dot / static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = row * cols + c;
      const double t = rstd * (e[c] * in.w[c] - xhat[c] * mean) + (in.dh.empty() ? 0.0 : in.dh[i]);
      o.dx[i] = RoundIf(r.x, static_cast<float>(in.dx_scale * t));
      o.db[i] = RoundIf(r.x, static_cast<float>(in.db_scale * t));
      if (gated) {
        const double sig = Sigmoid(in.gate[i]);
        const float n = RoundIf(r.out, static_cast<float>(xhat[c] * in.w[c]));
        o.dgate[i] =
            RoundIf(r.out, static_cast<float>(in.dy[i] * static_cast<double>(n) * sig * (1.0 - sig)));
      }
    }
  }
  o.dw.resize(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) o.dw[c] = RoundIf(r.w, static_cast<float>(dw[c]));
  return o;
}

}  // namespace m1rl::reference::naive
