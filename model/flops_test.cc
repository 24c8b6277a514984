// model/flops.h against hand counts for tiny2 (MODEL.md §11: [linear, full], H 64, N_h 4, d 32, N_kv 2,
// E 4, k 2, I 96, V 256).
#include "model/flops.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace m1rl::model {
namespace {

TEST(FlopsTest, Tiny2ByHand) {
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c, ModelConfig::Preset("tiny2"));
  // lightning 5*128*64 = 40960; softmax 2*128*64 + 2*2*32*64 = 24576; MoE 2 layers x (2*3*96*64 + 4*64)
  // = 74240; head 256*64 = 16384.
  EXPECT_EQ(MatmulParamsPerToken(c), 40960 + 24576 + 74240 + 16384);
  // The same as the parameter count's active + head minus the norm weights (2 x 2H, final H, lightning D).
  const ParameterCounts p = c.CountParameters();
  EXPECT_EQ(MatmulParamsPerToken(c), p.active_with_head - (2 * 2 * 64 + 64 + 128));

  const FlopCount f = ForwardFlops(c, {3, 5});
  EXPECT_DOUBLE_EQ(f.matmul, 2.0 * 156160 * 8);
  EXPECT_DOUBLE_EQ(f.softmax, 4.0 * 4 * 32 * (3.0 * 4 / 2 + 5.0 * 6 / 2));  // one softmax layer
  EXPECT_DOUBLE_EQ(f.lightning, 4.0 * 4 * 32 * 32 * 8);                     // one lightning layer
  EXPECT_DOUBLE_EQ(f.total(), 2498560.0 + 10752.0 + 131072.0);
  EXPECT_DOUBLE_EQ(ForwardFlops(c, {}).total(), 0.0);
}

}  // namespace
}  // namespace m1rl::model
