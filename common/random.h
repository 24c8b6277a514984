// Seeded randomness helpers shared by every module: SplitMix64 (Steele, Lea, Flood 2014; Vigna's
// splitmix64.c) and the seed-mixing functions built on it. Header-only, no LibTorch (S2).
//
// These define the streams behind golden tests and generated data sets: changing any output changes
// every seeded result downstream. Fully specified integer arithmetic, so the values are the same on
// every platform and compiler (unlike std::uniform_int_distribution).
//
// Thread safety: all functions are pure; a state passed by pointer belongs to the caller.
#ifndef M1RL_COMMON_RANDOM_H_
#define M1RL_COMMON_RANDOM_H_

#include <cstdint>
#include <string_view>

namespace m1rl {

// 2^64 / golden ratio, odd: SplitMix64's state increment ("gamma").
inline constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;

// SplitMix64's output function (a bijection of 64-bit values; David Stafford's Mix13 variant).
constexpr uint64_t SplitMix64Finalize(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// One step of the SplitMix64 generator: advances `*state` by kGoldenGamma and returns the mixed new
// state. From *state == 0 the outputs are 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, ... (splitmix64.c).
constexpr uint64_t SplitMix64Next(uint64_t* state) {
  *state += kGoldenGamma;
  return SplitMix64Finalize(*state);
}

// The first SplitMix64 output from state `x`, as a stateless hash of `x` (a bijection).
constexpr uint64_t SplitMix64(uint64_t x) { return SplitMix64Finalize(x + kGoldenGamma); }

// Combines seeds into one, order-sensitive: MixSeeds(a, b) = SplitMix64(a ^ SplitMix64(b)), and
// MixSeeds(a, b, c, ...) = MixSeeds(MixSeeds(a, b), c, ...). Used to derive per-(step, round, prompt,
// rank) seeds from the run seed.
constexpr uint64_t MixSeeds(uint64_t a, uint64_t b) { return SplitMix64(a ^ SplitMix64(b)); }
template <typename... Rest>
constexpr uint64_t MixSeeds(uint64_t a, uint64_t b, uint64_t c, Rest... rest) {
  return MixSeeds(MixSeeds(a, b), c, static_cast<uint64_t>(rest)...);
}

// Odd multiplier from Steele & Vigna's tables of good LCG/MCG multipliers; spreads stream numbers.
inline constexpr uint64_t kStreamMultiplier = 0xD1B54A32D192ED03ULL;

// A seed for stream `stream` of `seed`: SplitMix64(seed) ^ stream * kStreamMultiplier, so (seed, stream)
// and (seed + 1, stream - 1) differ. Feed it to SplitMix64 / SplitMix64Next for well-mixed values.
constexpr uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
  return SplitMix64(seed) ^ (stream * kStreamMultiplier);
}

// 64-bit FNV-1a of `s`: a stable per-name seed (e.g. one stream per task family for the same seed).
constexpr uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001B3ULL;
  }
  return h;
}

}  // namespace m1rl

#endif  // M1RL_COMMON_RANDOM_H_
