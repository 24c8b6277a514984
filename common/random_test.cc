#include "common/random.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace m1rl {
namespace {

TEST(RandomTest, SplitMix64MatchesPublishedSequences) {
  // splitmix64.c (Vigna) from state 0.
  uint64_t state = 0;
  EXPECT_EQ(SplitMix64Next(&state), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(SplitMix64Next(&state), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(SplitMix64Next(&state), 0x06C45D188009454FULL);
  EXPECT_EQ(SplitMix64Next(&state), 0xF88BB8A8724C81ECULL);
  EXPECT_EQ(state, 4 * kGoldenGamma);
  // The reference sequence for seed 1234567 used by other SplitMix64 ports' tests.
  state = 1234567;
  for (uint64_t want : {6457827717110365317ULL, 3203168211198807973ULL, 9817491932198370423ULL,
                        4593380528125082431ULL, 16408922859458223821ULL}) {
    EXPECT_EQ(SplitMix64Next(&state), want);
  }
}

TEST(RandomTest, StatelessSplitMix64IsTheFirstOutput) {
  EXPECT_EQ(SplitMix64(0), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(SplitMix64(kGoldenGamma), 0x6E789E6AA1B965F4ULL);
  static_assert(SplitMix64(1234567) == 6457827717110365317ULL);
}

TEST(RandomTest, MixSeedsComposesLeftToRight) {
  // Values from an independent Python implementation of SplitMix64(a ^ SplitMix64(b)).
  EXPECT_EQ(MixSeeds(1, 2), 0xE06DD043328BD285ULL);
  EXPECT_EQ(MixSeeds(1, 2, 3, 4), 0x8EAF8B77A0C04F9DULL);
  EXPECT_EQ(MixSeeds(1, 2, 3, 4), MixSeeds(MixSeeds(MixSeeds(1, 2), 3), 4));
  EXPECT_NE(MixSeeds(1, 2), MixSeeds(2, 1));
}

TEST(RandomTest, Fnv1a64MatchesPublishedVectors) {
  EXPECT_EQ(Fnv1a64(""), 0xCBF29CE484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xAF63DC4C8601EC8CULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171F73967E8ULL);
}

}  // namespace
}  // namespace m1rl
