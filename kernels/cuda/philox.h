// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the counter-based
// generator cuRAND and PyTorch use, as one header for host and device code (no CUDA runtime needed on the
// host). The rollout sampler draws token t of sample j of a request from counter (t, j) under key `seed`, so
// a sequence's uniforms depend only on (seed, sample, token index): never on batch composition, slot or step.
#ifndef M1RL_KERNELS_CUDA_PHILOX_H_
#define M1RL_KERNELS_CUDA_PHILOX_H_

#include <cstdint>

#if defined(__CUDACC__)
#define M1RL_HOST_DEVICE __host__ __device__
#else
#define M1RL_HOST_DEVICE
#endif

namespace m1rl::cuda {

struct Philox4x32 {
  uint32_t v[4];
};

M1RL_HOST_DEVICE inline void PhiloxMulHiLo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 on counter (c0..c3) with key (k0, k1); constants from the paper (and cuRAND).
M1RL_HOST_DEVICE inline Philox4x32 Philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                                 uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    PhiloxMulHiLo(0xD2511F53u, c0, &hi0, &lo0);
    PhiloxMulHiLo(0xCD9E8D57u, c2, &hi1, &lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 53 random bits for token `counter` of stream `stream` under `seed`.
M1RL_HOST_DEVICE inline double PhiloxUniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  const Philox4x32 r = Philox4x32_10(static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                                     static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                                     static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  const uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ static_cast<uint64_t>(r.v[1] >> 11);
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * 0x1.0p-53;
}

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_PHILOX_H_
