// SHA-256 of a byte string as 64 lowercase hex digits (OpenSSL): the cache keys of the reward service's
// scoring engine and of the SWE verifier.
#ifndef M1RL_COMMON_SHA256_H_
#define M1RL_COMMON_SHA256_H_

#include <string>
#include <string_view>

namespace m1rl {

std::string Sha256Hex(std::string_view data);

}  // namespace m1rl

#endif  // M1RL_COMMON_SHA256_H_
