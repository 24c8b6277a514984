// DAPO soft overlong penalty (ALGORITHMS.md §4, DAPO Eq. 13). Added to the task reward before the
// group filter and the advantages.
#ifndef M1RL_ALGORITHMS_OVERLONG_H_
#define M1RL_ALGORITHMS_OVERLONG_H_

#include <cstdint>

namespace m1rl::algorithms {

// |y| = generated tokens including EOS. With L_max = max_len, L_cache = cache_len:
//   0                               if |y| <= L_max - L_cache
//   ((L_max - L_cache) - |y|) / L_cache   if L_max - L_cache < |y| <= L_max   (in [-1, 0))
//   -1                              if |y| > L_max
// REQUIRES: 0 < cache_len <= max_len, length >= 0 (M1RL_CHECK; ResolveAlgorithmConfig validates the
// config fields algorithm.overlong.{max_len,cache_len}).
double SoftOverlongPenalty(int64_t length, int64_t max_len, int64_t cache_len);

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_OVERLONG_H_
