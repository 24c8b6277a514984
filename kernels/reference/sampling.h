// CPU reference of the fused slot sampler (kernels/cuda/sampling.h; contract there): same arguments, host
// pointers, same Philox uniforms, same candidate sets and index-order inverse CDF, float64 throughout. Used
// by the rollout engine's slot path on CPU tensors and by the CUDA sampler's tests.
#ifndef M1RL_KERNELS_REFERENCE_SAMPLING_H_
#define M1RL_KERNELS_REFERENCE_SAMPLING_H_

#include <cstdint>
#include <vector>

#include "kernels/cuda/sampling_args.h"

namespace m1rl::reference {

// All pointers of `args` are host pointers.
void SampleSlots(const cuda::SampleSlotsArgs& args);

// The candidate set of one row as the sampler defines it (for tests): indices of the tokens that may be
// drawn, ascending, given the tempered weights w [V] (w_i = exp(z_i / T - max)), top_k (0 = off) and top_p.
std::vector<int32_t> SamplingCandidates(const std::vector<double>& weights, int32_t top_k, double top_p);

}  // namespace m1rl::reference

#endif  // M1RL_KERNELS_REFERENCE_SAMPLING_H_
