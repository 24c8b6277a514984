#include "trainer/data_mixture.h"

#include <cmath>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

config::DataSourceConfig Source(const std::string& name, double weight, bool wrap = true) {
  config::DataSourceConfig s;
  s.set_name(name);
  s.set_path(name + ".jsonl");
  s.set_weight(weight);
  s.set_wrap(wrap);
  return s;
}

// Pearson's chi-square statistic of `counts` against probabilities `p`.
double ChiSquare(const std::vector<int64_t>& counts, const std::vector<double>& p) {
  double n = 0;
  for (int64_t c : counts) n += static_cast<double>(c);
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double e = n * p[i];
    chi += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
  }
  return chi;
}

TEST(DataMixtureTest, FrequenciesFollowTheWeightsChiSquare) {
  DataMixture m({Source("a", 5), Source("b", 3), Source("c", 2)}, {50, 50, 50}, /*seed=*/1234);
  std::vector<int64_t> counts(3, 0);
  for (int64_t step = 0; step < 100; ++step) {  // 100 steps x 100 prompts = 10^4 draws
    absl::StatusOr<std::vector<MixtureDraw>> batch = m.NextBatch(step, 0, 100);
    ASSERT_THAT(batch.status(), IsOk());
    for (const MixtureDraw& d : *batch) ++counts[static_cast<size_t>(d.source)];
  }
  EXPECT_EQ(counts[0] + counts[1] + counts[2], 10000);
  // 2 degrees of freedom; the 0.999 quantile of chi^2(2) is -2 ln(0.001) = 13.8155.
  const double critical = -2.0 * std::log(0.001);
  EXPECT_LT(ChiSquare(counts, {0.5, 0.3, 0.2}), critical);
  // The same counts are far from uniform weights (the statistic can fail).
  EXPECT_GT(ChiSquare(counts, {1.0 / 3, 1.0 / 3, 1.0 / 3}), critical);
  // Each source's cursor advanced by exactly its draws.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(m.consumed(i), counts[static_cast<size_t>(i)]);
}

TEST(DataMixtureTest, RampIsLinearBetweenItsSteps) {
  config::DataSourceConfig s = Source("general", 0);
  s.clear_weight();
  s.mutable_ramp()->set_from(0.0);
  s.mutable_ramp()->set_to(0.4);
  s.mutable_ramp()->set_start_step(100);
  s.mutable_ramp()->set_end_step(300);
  EXPECT_DOUBLE_EQ(SourceWeight(s, 0, 0), 0.0);
  EXPECT_DOUBLE_EQ(SourceWeight(s, 100, 0), 0.0);
  EXPECT_DOUBLE_EQ(SourceWeight(s, 150, 0), 0.1);  // 0.4 * 50/200
  EXPECT_DOUBLE_EQ(SourceWeight(s, 200, 0), 0.2);
  EXPECT_DOUBLE_EQ(SourceWeight(s, 299, 0), 0.4 * 199.0 / 200.0);
  EXPECT_DOUBLE_EQ(SourceWeight(s, 300, 0), 0.4);
  EXPECT_DOUBLE_EQ(SourceWeight(s, 10000, 0), 0.4);
  // Normalised against a constant 0.6 source: at step 200, 0.2 / (0.2 + 0.6) = 0.25.
  DataMixture m({Source("rule", 0.6), s}, {10, 10}, 7);
  absl::StatusOr<std::vector<double>> w = m.Weights(200, 0);
  ASSERT_THAT(w.status(), IsOk());
  EXPECT_DOUBLE_EQ((*w)[1], 0.25);
  // Before the ramp every draw is from the rule source.
  absl::StatusOr<std::vector<MixtureDraw>> early = m.NextBatch(50, 0, 8);
  ASSERT_THAT(early.status(), IsOk());
  for (const MixtureDraw& d : *early) EXPECT_EQ(d.source, 0);
}

TEST(DataMixtureTest, PerStageWeights) {
  config::DataSourceConfig s = Source("x", 0);
  s.clear_weight();
  s.add_per_stage(1.0);
  s.add_per_stage(0.0);
  EXPECT_EQ(SourceWeight(s, 5, 0), 1.0);
  EXPECT_EQ(SourceWeight(s, 5, 1), 0.0);
  DataMixture m({s, Source("y", 1)}, {10, 10}, 3);
  absl::StatusOr<std::vector<MixtureDraw>> batch = m.NextBatch(0, 1, 10);
  ASSERT_THAT(batch.status(), IsOk());
  for (const MixtureDraw& d : *batch) EXPECT_EQ(d.source, 1);  // stage 1: x has weight 0
}

TEST(DataMixtureTest, SeedAndStepReproduceTheOrderAcrossResume) {
  const std::vector<config::DataSourceConfig> sources = {Source("a", 1), Source("b", 1)};
  DataMixture full(sources, {100, 100}, 99);
  std::vector<std::vector<MixtureDraw>> steps;
  for (int64_t step = 0; step < 6; ++step) steps.push_back(full.NextBatch(step, 0, 16).value());
  // Resume after step 2 from the serialised state.
  DataMixture first(sources, {100, 100}, 99);
  for (int64_t step = 0; step < 3; ++step) ASSERT_THAT(first.NextBatch(step, 0, 16).status(), IsOk());
  DataMixture resumed(sources, {100, 100}, 99);
  ASSERT_THAT(resumed.Restore(nlohmann::json::parse(first.State().dump())), IsOk());
  for (int64_t step = 3; step < 6; ++step) {
    const std::vector<MixtureDraw> got = resumed.NextBatch(step, 0, 16).value();
    for (size_t j = 0; j < got.size(); ++j) {
      EXPECT_EQ(got[j].source, steps[static_cast<size_t>(step)][j].source);
      EXPECT_EQ(got[j].position, steps[static_cast<size_t>(step)][j].position);
    }
  }
  // Another seed gives another order.
  DataMixture other(sources, {100, 100}, 100);
  const std::vector<MixtureDraw> o = other.NextBatch(0, 0, 16).value();
  int differ = 0;
  for (size_t j = 0; j < o.size(); ++j) differ += o[j].source != steps[0][j].source ? 1 : 0;
  EXPECT_GT(differ, 0);
}

TEST(DataMixtureTest, ExhaustedSourceWithoutWrapIsAnErrorNamingIt) {
  DataMixture m({Source("small", 1, /*wrap=*/false)}, {5}, 1);
  ASSERT_THAT(m.NextBatch(0, 0, 4).status(), IsOk());
  EXPECT_THAT(m.NextBatch(1, 0, 2).status(),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("data source 'small' (small.jsonl)")));
  EXPECT_EQ(m.consumed(0), 4);  // unchanged by the failed step
  DataMixture wraps({Source("small", 1, /*wrap=*/true)}, {5}, 1);
  ASSERT_THAT(wraps.NextBatch(0, 0, 12).status(), IsOk());
  EXPECT_EQ(wraps.consumed(0), 12);  // positions 5.. are the sampler's next epochs
}

TEST(DataMixtureTest, ValidationAndTheSingleFileDefault) {
  config::DataConfig d;
  d.set_train_path("t.jsonl");
  ASSERT_THAT(ValidateDataSources(d, 0), IsOk());
  const std::vector<config::DataSourceConfig> one = ResolvedSources(d);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].path(), "t.jsonl");
  EXPECT_EQ(SourceWeight(one[0], 123, 0), 1.0);
  EXPECT_TRUE(one[0].wrap());

  *d.add_sources() = Source("a", 1);
  *d.add_sources() = Source("a", -1);
  d.mutable_sources(1)->add_per_stage(1);
  const absl::Status st = ValidateDataSources(d, 2);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("set one (train_path")));
  EXPECT_THAT(st.message(), HasSubstr("data.sources[1].name 'a' repeats"));
  EXPECT_THAT(st.message(), HasSubstr("data.sources[1]: set one of weight, ramp, per_stage"));
  EXPECT_THAT(st.message(), HasSubstr("data.sources[1].weight must be >= 0"));
  EXPECT_THAT(st.message(), HasSubstr("data.sources[1].per_stage has 1 weights, trainer.stages has 2"));
}

}  // namespace
}  // namespace m1rl::trainer
