// Test-only helpers for algorithms/ tests: tensor <-> vector conversion and a float64 central-difference
// derivative (common/testing/grad_check.h had not landed when these tests were written).
#ifndef M1RL_ALGORITHMS_INTERNAL_TEST_UTIL_H_
#define M1RL_ALGORITHMS_INTERNAL_TEST_UTIL_H_

#include <ATen/core/Tensor.h>
#include <ATen/ops/tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace m1rl::algorithms::testing {

// [N] float64 (or `dtype`) tensor holding `v`.
inline at::Tensor Vec(const std::vector<double>& v, c10::ScalarType dtype = at::kDouble) {
  return at::tensor(v, at::TensorOptions().dtype(at::kDouble)).to(dtype);
}

// [N] bool tensor from 0/1 values.
inline at::Tensor BoolVec(const std::vector<int64_t>& v) {
  return at::tensor(v, at::TensorOptions().dtype(at::kLong)).ne(0);
}

// [N] int64 tensor.
inline at::Tensor LongVec(const std::vector<int64_t>& v) {
  return at::tensor(v, at::TensorOptions().dtype(at::kLong));
}

inline std::vector<double> ToVector(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kDouble).contiguous().cpu();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

// d f / d x_i by central differences, (f(x + h e_i) - f(x - h e_i)) / (2h), in float64.
// Truncation error h^2/6 |f'''|, rounding error ~ eps |f| / h; h = 1e-6 balances both near 1e-10 for O(1)
// functions.
inline std::vector<double> CentralDifference(const std::function<double(const std::vector<double>&)>& f,
                                             const std::vector<double>& x, double h = 1e-6) {
  std::vector<double> grad(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<double> plus = x, minus = x;
    plus[i] += h;
    minus[i] -= h;
    grad[i] = (f(plus) - f(minus)) / (2 * h);
  }
  return grad;
}

}  // namespace m1rl::algorithms::testing

#endif  // M1RL_ALGORITHMS_INTERNAL_TEST_UTIL_H_
