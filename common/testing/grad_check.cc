#include "common/testing/grad_check.h"

#include <ATen/core/Tensor.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace m1rl::testing {
namespace {

// "[1, 2]" for flat index `flat` of a tensor with `sizes` (row-major).
std::string MultiIndex(int64_t flat, at::IntArrayRef sizes) {
  std::vector<int64_t> idx(sizes.size());
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return absl::StrCat("[", absl::StrJoin(idx, ", "), "]");
}

// sum(f(xs)) as a double. REQUIRES: f's output was validated once.
double SumOf(const std::function<at::Tensor(const std::vector<at::Tensor>&)>& f,
             const std::vector<at::Tensor>& xs) {
  return f(xs).sum().to(at::kDouble).item<double>();
}

}  // namespace

absl::Status CheckGradients(std::function<at::Tensor(const std::vector<at::Tensor>&)> f,
                            std::vector<at::Tensor> inputs, double eps, double atol, double rtol) {
  if (!(eps > 0) || !(atol >= 0) || !(rtol >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CheckGradients: need eps > 0, atol >= 0, rtol >= 0; got eps ", eps, ", atol ", atol,
                     ", rtol ", rtol));
  }
  std::vector<at::Tensor> leaves;
  leaves.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined())
      return absl::InvalidArgumentError(absl::StrCat("CheckGradients: input ", i, " is undefined"));
    if (inputs[i].scalar_type() != at::kDouble) {
      return absl::InvalidArgumentError(absl::StrCat("CheckGradients: input ", i, " must be float64, got ",
                                                     c10::toString(inputs[i].scalar_type())));
    }
    leaves.push_back(inputs[i].detach().clone().contiguous().set_requires_grad(true));
  }

  // Analytic gradients of sum(f).
  std::vector<at::Tensor> analytic(leaves.size());
  {
    at::Tensor out;
    try {
      out = f(leaves);
    } catch (const c10::Error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("CheckGradients: f threw: ", e.what_without_backtrace()));
    }
    if (!out.defined() || !at::isFloatingType(out.scalar_type())) {
      return absl::InvalidArgumentError("CheckGradients: f must return a defined floating-point tensor");
    }
    const at::Tensor y = out.sum();
    std::vector<at::Tensor> grads;
    if (y.requires_grad()) {
      grads = torch::autograd::grad({y}, leaves, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                    /*create_graph=*/false, /*allow_unused=*/true);
    } else {
      grads.resize(leaves.size());
    }
    for (size_t i = 0; i < leaves.size(); ++i) {
      analytic[i] = grads[i].defined() ? grads[i].detach().to(at::kDouble).contiguous()
                                       : leaves[i].detach().mul(0.0);  // unused input: gradient 0
    }
  }

  // Numeric gradients, one element at a time, without autograd.
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> probe;
  probe.reserve(leaves.size());
  for (const at::Tensor& l : leaves) probe.push_back(l.detach().clone());
  int64_t failures = 0, checked = 0;
  double worst_ratio = -1;
  std::string worst;
  for (size_t i = 0; i < probe.size(); ++i) {
    double* data = probe[i].data_ptr<double>();
    const double* grad = analytic[i].data_ptr<double>();
    const int64_t n = probe[i].numel();
    for (int64_t j = 0; j < n; ++j) {
      const double x0 = data[j];
      data[j] = x0 + eps;
      const double plus = SumOf(f, probe);
      data[j] = x0 - eps;
      const double minus = SumOf(f, probe);
      data[j] = x0;
      const double numeric = (plus - minus) / (2 * eps);
      const double actual = grad[j];
      const double bound = atol + rtol * std::fabs(numeric);
      const double err = std::fabs(actual - numeric);
      ++checked;
      const bool ok = err <= bound;  // false for NaN
      if (!ok) ++failures;
      const double ratio = std::isnan(err) ? std::numeric_limits<double>::infinity() : err / bound;
      if (!ok && ratio > worst_ratio) {
        worst_ratio = ratio;
        worst = absl::StrCat("input ", i, " element ", MultiIndex(j, probe[i].sizes()), " (flat ", j,
                             "): autograd ", actual, ", finite difference ", numeric, ", |diff| ", err,
                             " > bound ", bound, " (atol ", atol, " + rtol ", rtol, " * |numeric|)");
      }
    }
  }
  if (failures > 0) {
    return absl::InternalError(
        absl::StrCat("gradient check failed for ", failures, " of ", checked, " elements; worst: ", worst));
  }
  return absl::OkStatus();
}

}  // namespace m1rl::testing
