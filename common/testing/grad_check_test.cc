#include "common/testing/grad_check.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/tensor.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

at::Tensor Doubles(std::vector<double> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::TensorOptions().dtype(at::kDouble)).reshape(shape);
}

// f(x, w) = x^2 * w + sin(x): df/dx = 2 x w + cos(x), df/dw = x^2 (broadcast over rows, so summed).
TEST(CheckGradientsTest, PassesOnAKnownGradient) {
  const at::Tensor x = Doubles({0.3, -1.2, 2.0, 0.5, 1.5, -0.7}, {2, 3});
  const at::Tensor w = Doubles({1.5, -0.25, 2.0}, {3});
  EXPECT_THAT(
      CheckGradients(
          [](const std::vector<at::Tensor>& in) { return in[0].mul(in[0]).mul(in[1]).add(in[0].sin()); },
          {x, w}),
      IsOk());
}

// y = 3 x with a correct and a deliberately wrong backward.
template <bool kCorrect>
struct TripleFn : public torch::autograd::Function<TripleFn<kCorrect>> {
  static at::Tensor forward(torch::autograd::AutogradContext*, const at::Tensor& x) { return x.mul(3.0); }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grad_out) {
    return {grad_out[0].mul(kCorrect ? 3.0 : 2.0)};
  }
};

TEST(CheckGradientsTest, PassesOnACorrectCustomBackward) {
  EXPECT_THAT(CheckGradients([](const std::vector<at::Tensor>& in) { return TripleFn<true>::apply(in[0]); },
                             {Doubles({1.0, 2.0, 3.0, 4.0}, {2, 2})}),
              IsOk());
}

TEST(CheckGradientsTest, FailsOnAWrongCustomBackwardNamingTheWorstElement) {
  // Numeric gradient is 3 for every element, autograd says 2: |diff| = 1 > 1e-7 + 1e-5 * 3 everywhere.
  // With the extra input x^2 (gradient 2x) only the custom op is wrong; the worst element is the same
  // for all four, so the first one (input 0, [0, 0]) is reported.
  const absl::Status s = CheckGradients(
      [](const std::vector<at::Tensor>& in) {
        return TripleFn<false>::apply(in[0]).sum().add(in[1].mul(in[1]).sum());
      },
      {Doubles({1.0, 2.0, 3.0, 4.0}, {2, 2}), Doubles({0.5, -1.0}, {2})});
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal,
                          AllOf(HasSubstr("failed for 4 of 6 elements"), HasSubstr("input 0 element [0, 0]"),
                                HasSubstr("autograd 2,"), HasSubstr("finite difference 3"))));
}

TEST(CheckGradientsTest, CatchesASmallRelativeError) {
  // A backward off by 1e-4 relative (3.0003 vs 3): above rtol 1e-5 * 3 + 1e-7.
  struct Slightly : public torch::autograd::Function<Slightly> {
    static at::Tensor forward(torch::autograd::AutogradContext*, const at::Tensor& x) { return x.mul(3.0); }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                   torch::autograd::variable_list g) {
      return {g[0].mul(3.0003)};
    }
  };
  EXPECT_THAT(CheckGradients([](const std::vector<at::Tensor>& in) { return Slightly::apply(in[0]); },
                             {Doubles({1.0}, {1})}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("input 0 element [0]")));
}

TEST(CheckGradientsTest, UnusedInputHasZeroGradient) {
  EXPECT_THAT(CheckGradients([](const std::vector<at::Tensor>& in) { return in[0].mul(2.0); },
                             {Doubles({1.0, 2.0}, {2}), Doubles({5.0}, {1})}),
              IsOk());
}

TEST(CheckGradientsTest, RejectsNonDoubleInputs) {
  EXPECT_THAT(CheckGradients([](const std::vector<at::Tensor>& in) { return in[0]; },
                             {at::arange(3, at::TensorOptions().dtype(at::kFloat))}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input 0 must be float64, got Float")));
}

TEST(CheckGradientsTest, DoesNotModifyTheCallersTensors) {
  const at::Tensor x = Doubles({1.0, 2.0}, {2});
  ASSERT_THAT(CheckGradients([](const std::vector<at::Tensor>& in) { return in[0].mul(in[0]); }, {x}),
              IsOk());
  EXPECT_EQ(x[0].item<double>(), 1.0);
  EXPECT_FALSE(x.requires_grad());
}

}  // namespace
}  // namespace m1rl::testing
