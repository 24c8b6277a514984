#include "algorithms/overlong.h"

#include "common/check.h"

namespace m1rl::algorithms {

double SoftOverlongPenalty(int64_t length, int64_t max_len, int64_t cache_len) {
  M1RL_CHECK(cache_len > 0 && cache_len <= max_len) << "max_len=" << max_len << " cache_len=" << cache_len;
  M1RL_CHECK_GE(length, 0);
  const int64_t free_len = max_len - cache_len;
  if (length <= free_len) return 0.0;
  if (length <= max_len) return static_cast<double>(free_len - length) / static_cast<double>(cache_len);
  return -1.0;
}

}  // namespace m1rl::algorithms
