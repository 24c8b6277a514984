// Tests for algorithms/kl.h.
// Covers ALGORITHMS.md §5 and §10 V6: delta in {-1, 0, 0.5}, beta 0.04: k1/k2/k3 values and gradients
// (by hand), k3(0) = 0, k2 ~ k3 for small delta, the KL term inside the policy loss (+beta c k), and a
// float64 central-difference check of every estimator's gradient.
#include "algorithms/kl.h"

#include <ATen/TensorOperators.h>

#include <cmath>
#include <vector>

#include "algorithms/internal/test_util.h"
#include "algorithms/policy_loss.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

using ::m1rl::testing::StatusIs;
using testing::BoolVec;
using testing::CentralDifference;
using ::testing::HasSubstr;
using testing::ToVector;
using testing::Vec;

const std::vector<double> kDelta = {-1.0, 0.0, 0.5};
const std::vector<double> kRef = {-2.0, -1.0, -3.0};
std::vector<double> Logprobs() { return {kRef[0] + kDelta[0], kRef[1] + kDelta[1], kRef[2] + kDelta[2]}; }

struct ValueGrad {
  std::vector<double> value, grad;
};
ValueGrad Eval(KlEstimator e) {
  at::Tensor l = Vec(Logprobs()).requires_grad_(true);
  const at::Tensor k = KlPerToken(e, l, Vec(kRef));
  k.sum().backward();
  return {ToVector(k), ToVector(l.grad())};
}

constexpr double kTol = 1e-12;

TEST(KlTest, V6ValuesAndGradientsByHand) {
  const double e = std::exp(1.0), em = std::exp(-0.5);
  const ValueGrad k1 = Eval(KlEstimator::kK1);
  const ValueGrad k2 = Eval(KlEstimator::kK2);
  const ValueGrad k3 = Eval(KlEstimator::kK3);
  const std::vector<std::vector<double>> want_value = {{-1, 0, 0.5}, {0.5, 0, 0.125}, {e - 2, 0, em - 0.5}};
  const std::vector<std::vector<double>> want_grad = {{1, 1, 1}, {-1, 0, 0.5}, {1 - e, 0, 1 - em}};
  const ValueGrad* got[] = {&k1, &k2, &k3};
  for (int k = 0; k < 3; ++k) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(got[k]->value[i], want_value[k][i], kTol) << "k" << k + 1 << " delta " << kDelta[i];
      EXPECT_NEAR(got[k]->grad[i], want_grad[k][i], kTol) << "k" << k + 1 << " delta " << kDelta[i];
    }
  }
  EXPECT_EQ(k3.value[1], 0.0);  // k3(0) = 0 exactly
}

TEST(KlTest, V6K2ApproximatesK3ForSmallDelta) {
  // k3 = d^2/2 - d^3/6 + O(d^4): relative gap to k2 is ~ d/3.
  for (double d : {1e-2, 1e-3, -1e-3}) {
    const double k2 = KlPerToken(KlEstimator::kK2, Vec({d}), Vec({0.0})).item<double>();
    const double k3 = KlPerToken(KlEstimator::kK3, Vec({d}), Vec({0.0})).item<double>();
    EXPECT_NEAR(k3 / k2, 1 - d / 3, 2 * d * d) << d;
  }
}

TEST(KlTest, FiniteDifferenceGradients) {
  for (KlEstimator e : {KlEstimator::kK1, KlEstimator::kK2, KlEstimator::kK3}) {
    auto f = [&](const std::vector<double>& l) {
      return KlPerToken(e, Vec(l), Vec(kRef)).sum().item<double>();
    };
    const std::vector<double> fd = CentralDifference(f, Logprobs());
    const ValueGrad vg = Eval(e);
    // h = 1e-6: truncation h^2 |k'''| / 6 < 1e-12, rounding eps |k| / h ~ 1e-10.
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(fd[i], vg.grad[i], 1e-8) << KlEstimatorName(e) << " " << i;
  }
}

TEST(KlTest, V6KlTermInPolicyLossAddsBetaCk) {
  // A = 0 isolates the KL term: loss = beta sum c k3, g = beta c (1 - e^-d).
  const double beta = 0.04;
  const std::vector<double> c = {0.25, 0.5, 0.125};
  at::Tensor l = Vec(Logprobs()).requires_grad_(true);
  PolicyLossParams p;
  p.kl = KlEstimator::kK3;
  p.kl_beta = beta;
  PolicyLossInputs in{l,      Vec(Logprobs()), Vec({0, 0, 0}), BoolVec({1, 1, 1}),
                      Vec(c), Vec(kRef),       at::Tensor()};
  const PolicyLossResult r = ComputePolicyLoss(p, in);
  r.loss.backward();
  const std::vector<double> g = ToVector(l.grad());
  double want_loss = 0;
  for (int i = 0; i < 3; ++i) {
    const double d = kDelta[i];
    want_loss += beta * c[i] * (std::exp(-d) - 1 + d);
    EXPECT_NEAR(g[i], beta * c[i] * (1 - std::exp(-d)), kTol) << i;
  }
  EXPECT_NEAR(r.loss.item<double>(), want_loss, kTol);
}

TEST(KlTest, Misuse) {
  EXPECT_THROW(KlPerToken(KlEstimator::kNone, Vec({0.0}), Vec({0.0})), c10::Error);
  EXPECT_THROW(KlPerToken(KlEstimator::kK3, Vec({0.0}), Vec({0.0, 1.0})), c10::Error);
}

}  // namespace
}  // namespace m1rl::algorithms
