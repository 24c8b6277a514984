#include "trainer/minibatch.h"

#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>

#include <map>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::trainer {
namespace {

using ::testing::ElementsAre;

// Hand-derived: 5 groups, M = 2, sorted positions 0..4 go to floor(p * 2 / 5) = 0, 0, 0, 1, 1.
TEST(AssignMinibatchesTest, SortedPositionsSplitEvenly) {
  const std::vector<int64_t> keys = {40, 10, 30, 50, 20};
  const MinibatchAssignment a = AssignMinibatches(keys, keys, 2);
  EXPECT_EQ(a.num_minibatches, 2);
  // keys 40 (pos 3), 10 (0), 30 (2), 50 (4), 20 (1).
  EXPECT_THAT(a.minibatch_of, ElementsAre(1, 0, 0, 1, 0));
}

TEST(AssignMinibatchesTest, RequestedIsClampedToTheNumberOfGroups) {
  const std::vector<int64_t> keys = {7, 3};
  EXPECT_EQ(AssignMinibatches(keys, keys, 16).num_minibatches, 2);
  EXPECT_EQ(AssignMinibatches(keys, keys, 0).num_minibatches, 1);
  const MinibatchAssignment none = AssignMinibatches({kNoGroupKey, kNoGroupKey}, {}, 4);
  EXPECT_EQ(none.num_minibatches, 1);
  EXPECT_TRUE(none.minibatch_of.empty());
}

// The same global groups, spread over 1..5 ranks (unevenly, padded as the all-gather pads them), are
// split the same way: each key lands in the same minibatch whatever the world size.
TEST(AssignMinibatchesTest, SplitIsIndependentOfTheWorldSize) {
  std::vector<int64_t> global;
  for (int64_t i = 0; i < 13; ++i) global.push_back((i * 7919 + 17) % 1000);  // distinct
  // Hand-derived reference: sort, position p of 13 to floor(p * 4 / 13).
  std::vector<int64_t> sorted = global;
  std::sort(sorted.begin(), sorted.end());
  std::map<int64_t, int64_t> expected;
  for (int64_t p = 0; p < 13; ++p) expected[sorted[static_cast<size_t>(p)]] = p * 4 / 13;
  for (int world = 1; world <= 5; ++world) {
    // Rank r takes keys i with (i * 3 + r) % world == 0 ... an uneven deal: rank of key i is (i*i) % world.
    std::vector<std::vector<int64_t>> local(static_cast<size_t>(world));
    for (size_t i = 0; i < global.size(); ++i)
      local[(i * i) % static_cast<size_t>(world)].push_back(global[i]);
    size_t kmax = 1;
    for (const auto& l : local) kmax = std::max(kmax, l.size());
    std::vector<int64_t> gathered;
    for (const auto& l : local) {
      gathered.insert(gathered.end(), l.begin(), l.end());
      gathered.insert(gathered.end(), kmax - l.size(), kNoGroupKey);
    }
    std::map<int64_t, int64_t> got;
    for (const auto& l : local) {
      const MinibatchAssignment a = AssignMinibatches(gathered, l, 4);
      EXPECT_EQ(a.num_minibatches, 4) << "world " << world;
      for (size_t g = 0; g < l.size(); ++g) got[l[g]] = a.minibatch_of[g];
    }
    EXPECT_EQ(got, expected) << "world " << world;
  }
}

TEST(SplitMicroBatchesTest, CutsByTokenBudgetKeepingWholeSequences) {
  // Budget 10: [4, 5] = 9; 3 would make 12 -> new; [3, 7] = 10 fits; 12 > budget alone; [1].
  EXPECT_THAT(SplitMicroBatches({4, 5, 3, 7, 12, 1}, 10),
              ElementsAre(ElementsAre(0, 1), ElementsAre(2, 3), ElementsAre(4), ElementsAre(5)));
  EXPECT_THAT(SplitMicroBatches({4, 5, 3}, 0), ElementsAre(ElementsAre(0, 1, 2)));
  EXPECT_TRUE(SplitMicroBatches({}, 10).empty());
}

TEST(PackSequencesTest, InputsTargetsAndCompletionOffsets) {
  const std::vector<int32_t> p0 = {1, 2}, c0 = {3, 4, 5}, p1 = {6}, c1 = {7};
  const PackedSequences p = PackSequences({&p0, &p1}, {&c0, &c1}, at::kCPU);
  // seq0 = 1 2 3 4 5 -> in 1 2 3 4, tg 2 3 4 5; seq1 = 6 7 -> in 6, tg 7.
  EXPECT_TRUE(at::equal(p.input_ids, at::tensor(std::vector<int64_t>{1, 2, 3, 4, 6})));
  EXPECT_TRUE(at::equal(p.targets, at::tensor(std::vector<int64_t>{2, 3, 4, 5, 7})));
  EXPECT_THAT(p.cu_seqlens, ElementsAre(0, 4, 5));
  EXPECT_THAT(p.completion_begin, ElementsAre(1, 4));  // target of c0[0] = 3 at index 1, of c1[0] at 4
}

RlSample MakeSample(std::vector<int32_t> prompt, std::vector<int32_t> completion, double advantage) {
  RlSample s;
  s.prompt = std::move(prompt);
  s.completion = std::move(completion);
  s.advantage = advantage;
  for (size_t k = 0; k < s.completion.size(); ++k) {
    s.loss_mask.push_back(k == 0 ? 0 : 1);
    s.old_logprobs.push_back(-0.5f - static_cast<float>(k));
    s.rollout_logprobs.push_back(-0.25f - static_cast<float>(k));
    s.ref_logprobs.push_back(-2.0f * static_cast<float>(k + 1));
  }
  return s;
}

TEST(BuildPolicyMicroBatchTest, PerTokenValuesSitOnTheCompletionTargets) {
  const RlSample a = MakeSample({1, 2}, {3, 4}, 0.75), b = MakeSample({5}, {6, 7, 8}, -1.5);
  const PolicyMicroBatch mb = BuildPolicyMicroBatch({&a, &b}, {4, 5}, {2, 3}, /*with_ref=*/true, at::kCPU);
  // a: positions 0..2 (targets 2 3 4), completion at 1..2; b: positions 3..5 (targets 6 7 8), at 3..5.
  EXPECT_TRUE(at::equal(mb.mask, at::tensor(std::vector<int64_t>{0, 0, 1, 0, 1, 1}).to(at::kBool)));
  EXPECT_TRUE(at::equal(mb.sequence_ids, at::tensor(std::vector<int64_t>{4, 4, 4, 5, 5, 5})));
  EXPECT_TRUE(at::equal(mb.group_ids, at::tensor(std::vector<int64_t>{2, 2, 2, 3, 3, 3})));
  EXPECT_TRUE(at::equal(mb.advantages, at::tensor(std::vector<float>{0, 0.75f, 0.75f, -1.5f, -1.5f, -1.5f})));
  EXPECT_TRUE(
      at::equal(mb.old_logprobs, at::tensor(std::vector<float>{0, -0.5f, -1.5f, -0.5f, -1.5f, -2.5f})));
  EXPECT_TRUE(at::equal(mb.rollout_logprobs,
                        at::tensor(std::vector<float>{0, -0.25f, -1.25f, -0.25f, -1.25f, -2.25f})));
  EXPECT_TRUE(at::equal(mb.ref_logprobs, at::tensor(std::vector<float>{0, -2, -4, -2, -4, -6})));
  const PolicyMicroBatch no_ref = BuildPolicyMicroBatch({&a}, {0}, {0}, /*with_ref=*/false, at::kCPU);
  EXPECT_FALSE(no_ref.ref_logprobs.defined());
}

// Device placement: every tensor handed to the forward and the loss is on the requested device. The
// meta device stands in for CUDA on CPU-only machines (a tensor built on the host and not moved stays
// on the CPU and fails this test).
TEST(BuildPolicyMicroBatchTest, EveryTensorIsOnTheRequestedDevice) {
  const RlSample a = MakeSample({1, 2}, {3, 4}, 0.75);
  const at::Device meta(at::kMeta);
  const PolicyMicroBatch mb = BuildPolicyMicroBatch({&a}, {0}, {0}, /*with_ref=*/true, meta);
  for (const at::Tensor* t :
       {&mb.packed.input_ids, &mb.packed.targets, &mb.mask, &mb.sequence_ids, &mb.group_ids, &mb.advantages,
        &mb.old_logprobs, &mb.rollout_logprobs, &mb.ref_logprobs}) {
    EXPECT_EQ(t->device(), meta);
  }
  EXPECT_EQ(mb.mask.scalar_type(), at::kBool);
  EXPECT_EQ(mb.advantages.scalar_type(), at::kFloat);
  EXPECT_EQ(mb.packed.input_ids.size(0), 3);
}

}  // namespace
}  // namespace m1rl::trainer
