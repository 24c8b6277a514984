// Tests for algorithms/policy_loss.h (the unified per-token loss) driven through ResolveAlgorithmConfig.
// Covers ALGORITHMS.md:
//   §10 V1  l = l_old, mixed-sign A: every preset gives g = -c A, M all ones, w = 1 (also pitfall 1's
//           "r = 1 => w = 1 in every preset").
//   §10 V2  two groups of 2 sequences (lengths 3 and 5): ratios inside the band, just above/below it with
//           both signs of A, extremes 50 and 0.01; grpo, dapo, cispo (eps_high 0.28 and 4.0): w, M, g, loss
//           and every clip counter, in float64 (1e-12) and float32 (derived bound).
//   §8 pitfall 2  g = -c r^ A != 0, no gradient reaches l_old, autograd g != finite-difference slope of the
//                 loss value (stop-gradient applied); FD with r held fixed equals g.
//   §8 pitfall 3  +-1e30/inf/NaN at v = 0 positions leave loss and gradients unchanged, masked grads exactly
//   0. §8 pitfall 4  on one fixture every preset matches its own closed form and no other. §8 pitfall 5
//   tokens in all four TR cells and both IS sides; every counter asserted exactly. §8 pitfall 8  cispo runs
//   without reference log-probs (beta 0). §8 pitfall 9  grpo/dapo gradients equal float64 autograd of the
//   literal PPO min-form; a shared IS/TR
//                 band differs from PPO in the two out-of-band cells where PPO keeps r.
//   §10 V10 the peers' CISPO unit-test inputs (slime/AReaL tests/test_cispo_loss.py, NeMo-RL
//           test_loss_functions.py) are not reachable from this machine (no network); equivalent vectors in
//           their padded [B, T] layout with a token mask, token-mean normalisation and the relative (NeMo-RL,
//           slime) and absolute (TRL) cap conventions, with values derived by hand below.
//   §2  CISPO gradient equals PPO's inside the trust region and stays non-zero outside; the unified form
//       with M = 1 equals CISPO. §3 log-ratio clamp [-20, 20] counted. §9 metrics (ratio mean/min/max,
//       entropy, k1/k3).
// Expected w and M are written by hand from the ratios; c from the lengths; g = -c w A + beta c (1 - e^-d).
#include "algorithms/policy_loss.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/minimum.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "algorithms/algorithm_config.h"
#include "algorithms/internal/test_util.h"
#include "common/check.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

using testing::BoolVec;
using testing::CentralDifference;
using testing::ToVector;
using testing::Vec;

// ---- The V2 fixture: 16 tokens, sequences of lengths 3, 5 (group 0) and 3, 5 (group 1). ----
const std::vector<double> kRatio = {1.05, 1.25, 50,              /* seq 0, A = +1   */
                                    0.9,  0.75, 0.01, 1.3,  1.0, /* seq 1, A = -1 */
                                    0.5,  6.0,  1.3,             /* seq 2, A = +0.5 */
                                    1.1,  4.0,  0.85, 1.25, 0.79 /* seq 3, A = -2 */};
const std::vector<int> kSeqLen = {3, 5, 3, 5};
const std::vector<double> kSeqAdv = {1.0, -1.0, 0.5, -2.0};
constexpr double kKlBeta = 0.04;

// Hand-derived w = M * clip(r) per preset (ALGORITHMS.md §2 table).
// grpo: TR 0.2/0.2 -> M = 0 for (A>0, r>1.2) and (A<0, r<0.8); IS off.
const std::vector<double> kWGrpo = {1.05, 0, 0, 0.9, 0, 0, 1.3, 1.0, 0.5, 0, 0, 1.1, 4.0, 0.85, 1.25, 0};
// dapo: TR 0.2/0.28 -> 1.25 with A>0 stays (<= 1.28); 1.3 with A>0 masked.
const std::vector<double> kWDapo = {1.05, 1.25, 0, 0.9, 0, 0, 1.3, 1.0, 0.5, 0, 0, 1.1, 4.0, 0.85, 1.25, 0};
// cispo eps_high 0.28: w = min(r, 1.28), no floor, no mask.
const std::vector<double> kWCispo028 = {1.05, 1.25, 1.28, 0.9, 0.75, 0.01, 1.28, 1.0,
                                        0.5,  1.28, 1.28, 1.1, 1.28, 0.85, 1.25, 0.79};
// cispo eps_high 4.0: w = min(r, 5).
const std::vector<double> kWCispo4 = {1.05, 1.25, 5,   0.9, 0.75, 0.01, 1.3,  1.0,
                                      0.5,  5,    1.3, 1.1, 4.0,  0.85, 1.25, 0.79};

struct Fixture {
  std::vector<double> logprobs, old_logprobs, ref_logprobs, adv, len, delta;
  int64_t num_seq = 4;
};

Fixture MakeFixture(const std::vector<double>& ratio = kRatio) {
  Fixture f;
  int t = 0;
  for (size_t s = 0; s < kSeqLen.size(); ++s) {
    for (int k = 0; k < kSeqLen[s]; ++k, ++t) {
      const double old = -1.0 - 0.1 * t;
      const double l = old + std::log(ratio[t]);
      const double d = 0.1 * (t % 5) - 0.2;  // l - l_ref in {-0.2, -0.1, 0, 0.1, 0.2}
      f.old_logprobs.push_back(old);
      f.logprobs.push_back(l);
      f.ref_logprobs.push_back(l - d);
      f.delta.push_back(d);
      f.adv.push_back(kSeqAdv[s]);
      f.len.push_back(kSeqLen[s]);
    }
  }
  return f;
}

std::vector<double> CoefTokenMean(const Fixture& f) { return std::vector<double>(f.adv.size(), 1.0 / 16); }
std::vector<double> CoefSeqMean(const Fixture& f) {
  std::vector<double> c;
  for (double n : f.len) c.push_back(1.0 / (4 * n));
  return c;
}

// Closed form: g = -c w A + beta c (1 - exp(-d)) (k3 gradient), loss = -sum c w A l + beta sum c k3(d).
struct Closed {
  std::vector<double> grad;
  double loss = 0;
};
Closed ClosedForm(const Fixture& f, const std::vector<double>& w, const std::vector<double>& c, double beta) {
  Closed out;
  for (size_t t = 0; t < w.size(); ++t) {
    const double d = f.delta[t];
    out.grad.push_back(-c[t] * w[t] * f.adv[t] + beta * c[t] * (1 - std::exp(-d)));
    out.loss += -c[t] * w[t] * f.adv[t] * f.logprobs[t] + beta * c[t] * (std::exp(-d) - 1 + d);
  }
  return out;
}

ResolvedAlgorithm Resolve(const std::string& preset, std::optional<double> eps_high = std::nullopt,
                          std::optional<double> eps_low = std::nullopt,
                          std::optional<double> max_ratio = std::nullopt) {
  auto r = ResolvePreset(preset, /*max_new_tokens=*/20480, eps_high, eps_low, max_ratio);
  M1RL_CHECK(r.ok()) << r.status();
  return *r;
}

struct LossRun {
  std::vector<double> grad;
  double loss = 0;
  PolicyLossResult result;
  at::Tensor old_leaf;
};

LossRun RunLoss(const PolicyLossParams& p, const Fixture& f, const std::vector<double>& coef, bool with_ref,
                c10::ScalarType dtype = at::kDouble) {
  LossRun run;
  at::Tensor l = Vec(f.logprobs, dtype).requires_grad_(true);
  run.old_leaf = Vec(f.old_logprobs, dtype).requires_grad_(true);
  PolicyLossInputs in;
  in.logprobs = l;
  in.old_logprobs = run.old_leaf;
  in.advantages = Vec(f.adv, dtype);
  in.mask = BoolVec(std::vector<int64_t>(f.adv.size(), 1));
  in.coef = Vec(coef, dtype);
  if (with_ref) in.ref_logprobs = Vec(f.ref_logprobs, dtype);
  run.result = ComputePolicyLoss(p, in);
  run.result.loss.backward();
  run.grad = ToVector(l.grad());
  run.loss = run.result.loss.item<double>();
  return run;
}

void ExpectNearVec(const std::vector<double>& got, const std::vector<double>& want, double rel,
                   const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], rel * std::max(1.0, std::abs(want[i]))) << what << " token " << i;
  }
}

double MaxAbsDiff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// float64: r = exp(log(r)) round-trips to ~1e-16 relative; a 16-term sum stays far below 1e-12.
constexpr double kTol64 = 1e-12;

TEST(PolicyLossTest, V1OnPolicyGivesMinusCA) {
  const std::vector<double> ones(16, 1.0);
  const Fixture f = MakeFixture(ones);
  for (const auto& [name, eps] :
       std::vector<std::pair<std::string, std::optional<double>>>{{"grpo", std::nullopt},
                                                                  {"dapo", std::nullopt},
                                                                  {"cispo", 4.0},
                                                                  {"cispo", 0.28},
                                                                  {"reinforce", std::nullopt}}) {
    const ResolvedAlgorithm alg = Resolve(name, eps);
    const bool seq_mean = alg.loss_agg == LossAgg::kSeqMeanTokenMean;
    const std::vector<double> c = seq_mean ? CoefSeqMean(f) : CoefTokenMean(f);
    // grpo carries k3 with ref; use ref = l (delta 0) so the KL gradient is 0 and g = -c A exactly.
    Fixture on = f;
    on.ref_logprobs = on.logprobs;
    std::fill(on.delta.begin(), on.delta.end(), 0.0);
    const LossRun run = RunLoss(alg.policy_loss, on, c, alg.needs_reference_model());
    std::vector<double> want;
    for (size_t t = 0; t < 16; ++t) want.push_back(-c[t] * on.adv[t]);
    ExpectNearVec(run.grad, want, kTol64, name.c_str());
    ExpectNearVec(ToVector(run.result.weight), ones, kTol64, name.c_str());
    EXPECT_TRUE(run.result.trust_mask.all().item<bool>()) << name;
    EXPECT_EQ(run.result.stats.tr_masked, 0) << name;
  }
}

TEST(PolicyLossTest, V2ClosedFormsFloat64) {
  const Fixture f = MakeFixture();
  struct Case {
    std::string preset;
    std::optional<double> eps_high;
    const std::vector<double>* w;
    bool seq_mean;
    double beta;
  };
  for (const Case& k : std::vector<Case>{{"grpo", std::nullopt, &kWGrpo, true, kKlBeta},
                                         {"dapo", std::nullopt, &kWDapo, false, 0},
                                         {"cispo", 0.28, &kWCispo028, false, 0},
                                         {"cispo", 4.0, &kWCispo4, false, 0}}) {
    SCOPED_TRACE(k.preset + (k.eps_high ? " eps_high " + std::to_string(*k.eps_high) : ""));
    const ResolvedAlgorithm alg = Resolve(k.preset, k.eps_high);
    const std::vector<double> c = k.seq_mean ? CoefSeqMean(f) : CoefTokenMean(f);
    const LossRun run = RunLoss(alg.policy_loss, f, c, k.beta > 0);
    const Closed want = ClosedForm(f, *k.w, c, k.beta);
    ExpectNearVec(ToVector(run.result.weight), *k.w, kTol64, "w");
    ExpectNearVec(run.grad, want.grad, kTol64, "g");
    EXPECT_NEAR(run.loss, want.loss, kTol64 * std::abs(want.loss));
    std::vector<double> m;
    for (double w : *k.w) m.push_back(w != 0 ? 1 : 0);
    ExpectNearVec(ToVector(run.result.trust_mask), m, 0, "M");
  }
}

TEST(PolicyLossTest, V2ClosedFormsFloat32) {
  const Fixture f = MakeFixture();
  const ResolvedAlgorithm alg = Resolve("cispo", 4.0);
  const std::vector<double> c = CoefTokenMean(f);
  const LossRun run = RunLoss(alg.policy_loss, f, c, false, at::kFloat);
  const Closed want = ClosedForm(f, kWCispo4, c, 0);
  for (size_t t = 0; t < 16; ++t) {
    // Rounding l and l_old to fp32 perturbs l - l_old by <= eps32 (|l| + |l_old|), hence r (and w when not
    // capped) by that relative amount; c, A and the product add ~3 eps32. Bound: eps32 (|l|+|l_old|+4) |g|.
    const double eps32 = std::numeric_limits<float>::epsilon();
    const double bound =
        eps32 * (std::abs(f.logprobs[t]) + std::abs(f.old_logprobs[t]) + 4) * std::abs(want.grad[t]);
    EXPECT_NEAR(run.grad[t], want.grad[t], bound) << "token " << t;
  }
}

TEST(PolicyLossTest, Pitfall5EveryCounterExactly) {
  const Fixture f = MakeFixture();
  {
    const ResolvedAlgorithm grpo = Resolve("grpo");
    const PolicyStats s = RunLoss(grpo.policy_loss, f, CoefSeqMean(f), true).result.stats;
    // r > 1.2: A>0 {1.25, 50, 6.0, 1.3}, A<0 {1.3, 4.0, 1.25}; r < 0.8: A>0 {0.5}, A<0 {0.75, 0.01, 0.79}.
    EXPECT_EQ(s.tr_above_pos, 4);
    EXPECT_EQ(s.tr_above_neg, 3);
    EXPECT_EQ(s.tr_below_pos, 1);
    EXPECT_EQ(s.tr_below_neg, 3);
    EXPECT_EQ(s.tr_masked, 7);
    EXPECT_EQ(s.is_clip_high, 0);
    EXPECT_EQ(s.is_clip_low, 0);
    EXPECT_EQ(s.num_tokens, 16);
    EXPECT_EQ(s.kl_count, 16);
  }
  {
    const ResolvedAlgorithm dapo = Resolve("dapo");
    const PolicyStats s = RunLoss(dapo.policy_loss, f, CoefTokenMean(f), false).result.stats;
    // r > 1.28: A>0 {50, 6.0, 1.3}, A<0 {1.3, 4.0}.
    EXPECT_EQ(s.tr_above_pos, 3);
    EXPECT_EQ(s.tr_above_neg, 2);
    EXPECT_EQ(s.tr_below_pos, 1);
    EXPECT_EQ(s.tr_below_neg, 3);
    EXPECT_EQ(s.tr_masked, 6);
    EXPECT_EQ(s.kl_count, 0);
  }
  {
    const ResolvedAlgorithm cispo = Resolve("cispo", 0.28, /*eps_low=*/0.2);  // floor 0.8
    const PolicyStats s = RunLoss(cispo.policy_loss, f, CoefTokenMean(f), false).result.stats;
    EXPECT_EQ(s.is_clip_high, 5);  // {50, 1.3, 6.0, 1.3, 4.0}
    EXPECT_EQ(s.is_clip_low, 4);   // {0.75, 0.01, 0.5, 0.79}
    EXPECT_EQ(s.tr_above_pos + s.tr_above_neg + s.tr_below_pos + s.tr_below_neg + s.tr_masked, 0);
    const PolicyMetrics m = s.Finalize();
    EXPECT_DOUBLE_EQ(m.is_clip_high_frac, 5.0 / 16);
    EXPECT_DOUBLE_EQ(m.is_clip_low_frac, 4.0 / 16);
    double sum = 0;
    for (double r : kRatio) sum += r;
    EXPECT_NEAR(m.ratio_mean, sum / 16, kTol64);
    EXPECT_NEAR(m.ratio_min, 0.01, kTol64);
    EXPECT_NEAR(m.ratio_max, 50, 50 * kTol64);
    EXPECT_NEAR(m.abs_advantage_mean, (3 * 1 + 5 * 1 + 3 * 0.5 + 5 * 2) / 16.0, kTol64);
    EXPECT_EQ(m.num_tokens, 16);
  }
}

// The literal PPO min-form (ALGORITHMS.md §2, M1 Eq. 1-2) in float64 autograd: the reference for
// pitfall 9. L = -sum c min(r A, clip(r, 1-el, 1+eh) A) + beta sum c k3.
std::vector<double> MinFormGrad(const Fixture& f, const std::vector<double>& c, double el, double eh,
                                double beta) {
  at::Tensor l = Vec(f.logprobs).requires_grad_(true);
  const at::Tensor r = (l - Vec(f.old_logprobs)).exp();
  const at::Tensor a = Vec(f.adv);
  const at::Tensor cc = Vec(c);
  at::Tensor loss = -(cc * at::minimum(r * a, r.clamp(1 - el, 1 + eh) * a)).sum();
  const at::Tensor d = l - Vec(f.ref_logprobs);
  loss = loss + beta * (cc * ((-d).exp() - 1 + d)).sum();
  loss.backward();
  return ToVector(l.grad());
}

TEST(PolicyLossTest, Pitfall9GrpoAndDapoEqualPpoMinForm) {
  const Fixture f = MakeFixture();
  const ResolvedAlgorithm grpo = Resolve("grpo");
  ExpectNearVec(RunLoss(grpo.policy_loss, f, CoefSeqMean(f), true).grad,
                MinFormGrad(f, CoefSeqMean(f), 0.2, 0.2, kKlBeta), kTol64, "grpo");
  const ResolvedAlgorithm dapo = Resolve("dapo");
  ExpectNearVec(RunLoss(dapo.policy_loss, f, CoefTokenMean(f), false).grad,
                MinFormGrad(f, CoefTokenMean(f), 0.2, 0.28, 0), kTol64, "dapo");
}

TEST(PolicyLossTest, Pitfall9SharedBandDiffersFromPpo) {
  const Fixture f = MakeFixture();
  PolicyLossParams shared;
  shared.is_enabled = true;
  shared.is_low = 0.8;
  shared.is_high = 1.2;
  shared.tr_enabled = true;
  const std::vector<double> c = CoefTokenMean(f);
  const std::vector<double> g = RunLoss(shared, f, c, false).grad;
  const std::vector<double> ppo = MinFormGrad(f, c, 0.2, 0.2, 0);
  // Token 6: A<0, r=1.3 (PPO keeps r=1.3, shared band caps 1.2); token 8: A>0, r=0.5 (PPO 0.5, shared 0.8).
  EXPECT_NEAR(ppo[6], -c[6] * 1.3 * -1.0, kTol64);
  EXPECT_NEAR(g[6], -c[6] * 1.2 * -1.0, kTol64);
  EXPECT_NEAR(ppo[8], -c[8] * 0.5 * 0.5, kTol64);
  EXPECT_NEAR(g[8], -c[8] * 0.8 * 0.5, kTol64);
}

TEST(PolicyLossTest, CispoEqualsPpoInsideTrustRegionAndNonZeroOutside) {
  const Fixture f = MakeFixture();
  const std::vector<double> c = CoefTokenMean(f);
  const std::vector<double> cispo = RunLoss(Resolve("cispo", 4.0).policy_loss, f, c, false).grad;
  const std::vector<double> ppo = MinFormGrad(f, c, 0.2, 0.2, 0);
  int inside = 0, outside = 0;
  for (size_t t = 0; t < 16; ++t) {
    if (kRatio[t] >= 0.8 && kRatio[t] <= 1.2) {
      EXPECT_NEAR(cispo[t], ppo[t], kTol64) << t;
      ++inside;
    }
    if (kWGrpo[t] == 0) {  // PPO's M = 0 cells
      EXPECT_EQ(ppo[t], 0.0) << t;
      EXPECT_GT(std::abs(cispo[t]), 1e-4) << t;
      ++outside;
    }
  }
  EXPECT_EQ(inside, 5);  // {1.05, 0.9, 1.0, 1.1, 0.85}
  EXPECT_EQ(outside, 7);
}

TEST(PolicyLossTest, UnifiedFormWithMaskAllOnesEqualsCispo) {
  const Fixture f = MakeFixture();
  PolicyLossParams p = Resolve("cispo", 4.0).policy_loss;
  p.tr_enabled = true;  // a trust region so wide that M = 1 everywhere
  p.tr_eps_low = 1.0;
  p.tr_eps_high = 1e6;
  const std::vector<double> c = CoefTokenMean(f);
  const LossRun run = RunLoss(p, f, c, false);
  EXPECT_TRUE(run.result.trust_mask.all().item<bool>());
  ExpectNearVec(run.grad, ClosedForm(f, kWCispo4, c, 0).grad, kTol64, "M=1");
}

TEST(PolicyLossTest, Pitfall4EachPresetMatchesOnlyItsOwnClosedForm) {
  const Fixture f = MakeFixture();
  struct Arm {
    std::string name;
    ResolvedAlgorithm alg;
    std::vector<double> closed;
  };
  std::vector<Arm> arms = {
      {"grpo", Resolve("grpo"), ClosedForm(f, kWGrpo, CoefSeqMean(f), kKlBeta).grad},
      {"dapo", Resolve("dapo"), ClosedForm(f, kWDapo, CoefTokenMean(f), 0).grad},
      {"cispo", Resolve("cispo", 4.0), ClosedForm(f, kWCispo4, CoefTokenMean(f), 0).grad},
      {"reinforce", Resolve("reinforce"), ClosedForm(f, kRatio, CoefSeqMean(f), 0).grad},
  };
  for (const Arm& a : arms) {
    const bool seq_mean = a.alg.loss_agg == LossAgg::kSeqMeanTokenMean;
    const std::vector<double> g = RunLoss(a.alg.policy_loss, f, seq_mean ? CoefSeqMean(f) : CoefTokenMean(f),
                                          a.alg.needs_reference_model())
                                      .grad;
    for (const Arm& b : arms) {
      if (a.name == b.name) {
        ExpectNearVec(g, b.closed, kTol64, a.name.c_str());
      } else {
        EXPECT_GT(MaxAbsDiff(g, b.closed), 1e-3) << a.name << " matches " << b.name << "'s closed form";
      }
    }
  }
}

TEST(PolicyLossTest, Pitfall2LogPiFactorAndStopGradient) {
  const Fixture f = MakeFixture();
  const ResolvedAlgorithm alg = Resolve("cispo", 0.28);
  const std::vector<double> c = CoefTokenMean(f);
  const LossRun run = RunLoss(alg.policy_loss, f, c, false);
  for (size_t t = 0; t < 16; ++t) EXPECT_NE(run.grad[t], 0.0) << t;  // every A != 0, so g != 0
  EXPECT_TRUE(!run.old_leaf.grad().defined() || run.old_leaf.grad().eq(0).all().item<bool>());

  // Value of the loss as a function of l alone (l_old fixed): its slope includes d r / d l, the
  // stop-gradient removes it, so autograd must differ. Token 0 is inside the band (r = 1.05).
  auto value = [&](const std::vector<double>& l) {
    Fixture g = f;
    g.logprobs = l;
    return RunLoss(alg.policy_loss, g, c, false).loss;
  };
  const std::vector<double> fd = CentralDifference(value, f.logprobs);
  // Slope of -c r A l in l is -c A r (1 + l): differs from g = -c r A by c A r l ~ 0.06.
  EXPECT_NEAR(fd[0], -c[0] * 1.05 * 1.0 * (1 + f.logprobs[0]), 1e-7);
  EXPECT_GT(std::abs(fd[0] - run.grad[0]), 1e-2);

  // With r held fixed (l_old shifted with l) the loss is linear in l and its slope is exactly g, for every
  // token and preset including the KL term. Central-difference error: rounding eps*|L|/h ~ 1e-10.
  for (const std::string name : {"grpo", "dapo", "cispo", "reinforce"}) {
    const ResolvedAlgorithm a = Resolve(name, name == "cispo" ? std::optional<double>(0.28) : std::nullopt);
    const bool seq_mean = a.loss_agg == LossAgg::kSeqMeanTokenMean;
    const std::vector<double> cc = seq_mean ? CoefSeqMean(f) : CoefTokenMean(f);
    auto fixed_r = [&](const std::vector<double>& l) {
      Fixture g = f;
      for (size_t t = 0; t < l.size(); ++t) g.old_logprobs[t] = f.old_logprobs[t] + (l[t] - f.logprobs[t]);
      g.logprobs = l;
      return RunLoss(a.policy_loss, g, cc, a.needs_reference_model()).loss;
    };
    ExpectNearVec(CentralDifference(fixed_r, f.logprobs),
                  RunLoss(a.policy_loss, f, cc, a.needs_reference_model()).grad, 1e-8, name.c_str());
  }
}

TEST(PolicyLossTest, Pitfall3MaskedGarbageNeverLeaks) {
  const Fixture f = MakeFixture();
  const ResolvedAlgorithm alg = Resolve("grpo");
  const std::vector<double> c = CoefSeqMean(f);
  // Interleave a v = 0 position after every 4th token.
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  auto build = [&](bool garbage) {
    std::vector<double> l, old, ref, a, cc, ent;
    std::vector<int64_t> v;
    for (size_t t = 0; t < 16; ++t) {
      l.push_back(f.logprobs[t]);
      old.push_back(f.old_logprobs[t]);
      ref.push_back(f.ref_logprobs[t]);
      a.push_back(f.adv[t]);
      cc.push_back(c[t]);
      ent.push_back(0.5 + 0.01 * t);
      v.push_back(1);
      if (t % 4 == 3) {
        l.push_back(garbage ? nan : 0);
        old.push_back(garbage ? inf : 0);
        ref.push_back(garbage ? -inf : 0);
        a.push_back(garbage ? 1e30 : 0);
        cc.push_back(garbage ? nan : 0);
        ent.push_back(garbage ? nan : 0);
        v.push_back(0);
      }
    }
    at::Tensor lt = Vec(l).requires_grad_(true);
    PolicyLossInputs in{lt, Vec(old), Vec(a), BoolVec(v), Vec(cc), Vec(ref), Vec(ent)};
    PolicyLossResult r = ComputePolicyLoss(alg.policy_loss, in);
    r.loss.backward();
    return std::make_tuple(r, ToVector(lt.grad()), v);
  };
  const auto [clean, clean_grad, v] = build(false);
  const auto [dirty, dirty_grad, v2] = build(true);
  EXPECT_EQ(clean.loss.item<double>(), dirty.loss.item<double>());
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(dirty_grad[i], clean_grad[i]) << i;
    if (v[i] == 0) {
      EXPECT_EQ(dirty_grad[i], 0.0) << i;  // exactly 0, not NaN
    }
  }
  EXPECT_EQ(clean.stats.Sums(), dirty.stats.Sums());
  EXPECT_EQ(dirty.stats.num_positions, 20);
  EXPECT_EQ(dirty.stats.num_tokens, 16);
  EXPECT_DOUBLE_EQ(dirty.stats.Finalize().masked_fraction, 4.0 / 20);
  // And equal to the fixture without the masked positions (same values, different summation layout).
  EXPECT_NEAR(dirty.loss.item<double>(), ClosedForm(f, kWGrpo, c, kKlBeta).loss, kTol64);
  double ent_sum = 0;
  for (int t = 0; t < 16; ++t) ent_sum += 0.5 + 0.01 * t;
  EXPECT_NEAR(*dirty.stats.Finalize().entropy_mean, ent_sum / 16, kTol64);
}

TEST(PolicyLossTest, Pitfall8CispoNeedsNoReference) {
  const ResolvedAlgorithm alg = Resolve("cispo", 4.0);
  EXPECT_FALSE(alg.needs_reference_model());
  EXPECT_EQ(alg.policy_loss.kl_beta, 0.0);
  const Fixture f = MakeFixture();
  const LossRun run = RunLoss(alg.policy_loss, f, CoefTokenMean(f), /*with_ref=*/false);
  EXPECT_EQ(run.result.stats.kl_count, 0);
  // grpo without reference log-probs is a caller bug.
  EXPECT_THROW(RunLoss(Resolve("grpo").policy_loss, f, CoefSeqMean(f), false), c10::Error);
}

TEST(PolicyLossTest, LogRatioClampIsCounted) {
  Fixture f = MakeFixture(std::vector<double>(16, 1.0));
  f.logprobs[0] = f.old_logprobs[0] + 25;  // clamped to +20
  f.logprobs[1] = f.old_logprobs[1] - 30;  // clamped to -20
  const LossRun run = RunLoss(Resolve("reinforce").policy_loss, f, CoefSeqMean(f), false);
  EXPECT_EQ(run.result.stats.num_log_ratio_clamped, 2);
  EXPECT_NEAR(run.result.stats.ratio_max, std::exp(20.0), std::exp(20.0) * kTol64);
  EXPECT_NEAR(run.result.stats.ratio_min, std::exp(-20.0), std::exp(-20.0) * kTol64);
  EXPECT_NEAR(run.grad[0], -CoefSeqMean(f)[0] * std::exp(20.0) * f.adv[0], std::exp(20.0) * kTol64);
}

TEST(PolicyLossTest, KlMetricsWithReferenceAndBadInputs) {
  const Fixture f = MakeFixture();
  const LossRun run = RunLoss(Resolve("grpo").policy_loss, f, CoefSeqMean(f), true);
  double k1 = 0, k3 = 0;
  for (double d : f.delta) {
    k1 += d;
    k3 += std::exp(-d) - 1 + d;
  }
  const PolicyMetrics m = run.result.stats.Finalize();
  EXPECT_NEAR(*m.k1_mean, k1 / 16, kTol64);
  EXPECT_NEAR(*m.k3_mean, k3 / 16, kTol64);
  PolicyLossInputs bad{Vec(f.logprobs),
                       Vec(f.old_logprobs, at::kFloat),
                       Vec(f.adv),
                       BoolVec(std::vector<int64_t>(16, 1)),
                       Vec(CoefTokenMean(f)),
                       at::Tensor(),
                       at::Tensor()};
  EXPECT_THROW(ComputePolicyLoss(Resolve("dapo").policy_loss, bad), c10::Error);
  PolicyLossParams no_cap;
  no_cap.is_enabled = true;
  bad.old_logprobs = Vec(f.old_logprobs);
  EXPECT_THROW(ComputePolicyLoss(no_cap, bad), c10::Error);
}

// V10: padded batch B = 2, T = 3, mask [[1,1,0],[1,1,1]] (the padding holds NaN), A = [+1, -1],
// relative cap eps_high 0.2 (cap 1.2), token-mean over the 5 valid tokens (c = 0.2).
//   log-ratios [[0.2, 0, pad], [-1, 0.7, 0]] -> r = [[e^0.2 = 1.2214, 1, -], [e^-1, e^0.7 = 2.0138, 1]]
//   w = [[1.2, 1, -], [e^-1 = 0.36787944117144233, 1.2, 1]]
//   loss = -0.2 (1.2*1*(-1.0) + 1*1*(-0.5) + e^-1*(-1)*(-2.0) + 1.2*(-1)*(-0.2) + 1*(-1)*(-0.1))
//        = -0.2 (-1.7 + 0.7357588823428847 + 0.34) = 0.12484822353142306
//   g = -c w A = [[-0.24, -0.2, 0], [0.2 e^-1 = 0.07357588823428847, 0.24, 0.2]]
TEST(PolicyLossTest, V10PeerEquivalentPaddedBatch) {
  const double nan = std::nan("");
  const std::vector<double> l = {-1.0, -0.5, nan, -2.0, -0.2, -0.1};
  const std::vector<double> old = {-1.2, -0.5, nan, -1.0, -0.9, -0.1};
  const std::vector<double> adv = {1.0, 1.0, 1.0, -1.0, -1.0, -1.0};
  const std::vector<int64_t> mask = {1, 1, 0, 1, 1, 1};
  PolicyLossParams p = Resolve("cispo", 0.2).policy_loss;
  at::Tensor lt = Vec(l).requires_grad_(true);
  PolicyLossInputs in{lt,           Vec(old),    Vec(adv), BoolVec(mask), Vec({0.2, 0.2, 0.2, 0.2, 0.2, 0.2}),
                      at::Tensor(), at::Tensor()};
  const PolicyLossResult r = ComputePolicyLoss(p, in);
  r.loss.backward();
  EXPECT_NEAR(r.loss.item<double>(), 0.12484822353142306, kTol64);
  ExpectNearVec(ToVector(lt.grad()), {-0.24, -0.2, 0, 0.07357588823428847, 0.24, 0.2}, kTol64, "g");
  EXPECT_EQ(r.stats.is_clip_high, 2);
  // TRL's absolute convention: max_ratio 1.2 is the same cap as eps_high 0.2.
  const ResolvedAlgorithm t = Resolve("cispo", std::nullopt, std::nullopt, /*max_ratio=*/1.2);
  at::Tensor lt2 = Vec(l).requires_grad_(true);
  in.logprobs = lt2;
  ComputePolicyLoss(t.policy_loss, in).loss.backward();
  ExpectNearVec(ToVector(lt2.grad()), {-0.24, -0.2, 0, 0.07357588823428847, 0.24, 0.2}, kTol64,
                "g (max_ratio)");
}

}  // namespace
}  // namespace m1rl::algorithms
