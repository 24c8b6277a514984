// Float64 central-difference gradient check (STYLE S28; LibTorch's C++ API has no gradcheck).
//
//   EXPECT_THAT(CheckGradients([](const std::vector<at::Tensor>& x) { return MyOp(x[0], x[1]); },
//                              {at::randn({3, 4}, at::kDouble), at::rand({4}, at::kDouble)}),
//               IsOk());
//
// For y = sum(f(inputs)) it compares, for every element j of every input i, the autograd gradient
// dy/dx_ij against (y(x_ij + eps) - y(x_ij - eps)) / (2 eps), and passes iff every element satisfies
// |autograd - numeric| <= atol + rtol * |numeric|.
//
// Tolerance derivation for the defaults (eps 1e-6, atol 1e-7, rtol 1e-5): the central difference has
// truncation error eps^2/6 * |y'''| ~ 1e-13 * |y'''| and rounding error ~ 2^-52 * |y| / eps ~ 2.2e-10 * |y|,
// so for O(1..100) values and derivatives the error stays orders of magnitude below atol = 1e-7, while a
// wrong gradient (a missing factor, a wrong sign, a dropped term) is off by O(|gradient|). Shrink eps
// for functions with large third derivatives, raise atol for |y| >> 100.
//
// REQUIRES: every input is a defined float64 tensor; f is deterministic, differentiable at the inputs
// and at least eps away from kinks; f returns a defined floating tensor (any shape; it is summed).
// f is called 1 + 2 * (total input elements) times: keep shapes tiny.
// Inputs are copied (leaf tensors requiring grad); the caller's tensors are not modified.
// Returns: OK; kInvalidArgument for a non-float64/undefined input or a bad output; kInternal when a
// gradient mismatches, naming the worst element (input index, multi-index, autograd value, numeric value,
// bound) and how many elements failed.
#ifndef M1RL_COMMON_TESTING_GRAD_CHECK_H_
#define M1RL_COMMON_TESTING_GRAD_CHECK_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

#include "absl/status/status.h"

namespace m1rl::testing {

absl::Status CheckGradients(std::function<at::Tensor(const std::vector<at::Tensor>&)> f,
                            std::vector<at::Tensor> inputs /* each any shape, float64 */, double eps = 1e-6,
                            double atol = 1e-7, double rtol = 1e-5);

}  // namespace m1rl::testing

#endif  // M1RL_COMMON_TESTING_GRAD_CHECK_H_
