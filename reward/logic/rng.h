// A small deterministic PRNG for the task generators. std::uniform_int_distribution is
// implementation-defined (libstdc++ and libc++ give different streams), so generators use this
// instead: the same (seed, difficulty) yields the same instance on every platform and compiler.
//
// Thread safety: an Rng is a value; do not share one between threads.
#ifndef M1RL_REWARD_LOGIC_RNG_H_
#define M1RL_REWARD_LOGIC_RNG_H_

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "common/random.h"

namespace m1rl::reward::logic {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  Rng(std::string_view family, uint64_t seed, int difficulty)
      : state_(SplitMix64(Fnv1a64(family) ^ MixSeeds(seed, static_cast<uint64_t>(difficulty)))) {}

  // The next SplitMix64 output (common/random.h).
  uint64_t Next() { return SplitMix64Next(&state_); }

  // Uniform integer in [lo, hi] (inclusive), by rejection so there is no modulo bias.
  // REQUIRES: lo <= hi.
  int64_t Uniform(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    if (span == 0) return static_cast<int64_t>(Next());  // the full 64-bit range
    const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t r;
    do {
      r = Next();
    } while (r >= limit);
    return lo + static_cast<int64_t>(r % span);
  }

  // True with probability num/den. REQUIRES: 0 < den.
  bool Bernoulli(int64_t num, int64_t den) { return Uniform(0, den - 1) < num; }

  // Fisher-Yates shuffle.
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(Uniform(0, static_cast<int64_t>(i) - 1));
      std::swap(v[i - 1], v[j]);
    }
  }

 private:
  uint64_t state_;
};

}  // namespace m1rl::reward::logic

#endif  // M1RL_REWARD_LOGIC_RNG_H_
