// Test-only: the ALGORITHMS.md §10 V3 minibatch shared by loss_agg_test.cc and loss_agg_gloo_test.cc.
// Sequences of n = 3, 5 (group 0) and 2, 10 (group 1), each preceded by one prompt position (v = 0):
// 24 positions. Hand counts: N_tok = 20, N_seq = 4, N_grp = 2, T = {8, 12}.
#ifndef M1RL_ALGORITHMS_INTERNAL_V3_BATCH_H_
#define M1RL_ALGORITHMS_INTERNAL_V3_BATCH_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace m1rl::algorithms::testing {

struct V3Batch {
  std::vector<int64_t> mask, seq, grp;                 // [24] v, sequence id, group id
  std::vector<std::vector<int64_t>> positions_of_seq;  // packed positions of each sequence
  std::vector<double> logprobs, old_logprobs, adv;     // [24] l, l_old (r in [0.74, 1.35]), A per sequence
};

inline V3Batch MakeV3Batch() {
  const std::vector<int> lens = {3, 5, 2, 10};
  const std::vector<int> groups = {0, 0, 1, 1};
  const std::vector<double> seq_adv = {1.0, -0.5, 2.0, -1.5};
  V3Batch b;
  b.positions_of_seq.resize(4);
  for (int s = 0; s < 4; ++s) {
    for (int k = 0; k <= lens[s]; ++k) {
      const auto i = static_cast<int64_t>(b.mask.size());
      b.positions_of_seq[s].push_back(i);
      b.mask.push_back(k == 0 ? 0 : 1);
      b.seq.push_back(s);
      b.grp.push_back(groups[s]);
      const double old = -0.5 - 0.05 * static_cast<double>(i);
      b.old_logprobs.push_back(old);
      b.logprobs.push_back(old + 0.3 * std::sin(static_cast<double>(i)));
      b.adv.push_back(seq_adv[s]);
    }
  }
  return b;
}

}  // namespace m1rl::algorithms::testing

#endif  // M1RL_ALGORITHMS_INTERNAL_V3_BATCH_H_
