// CRC32C (Castagnoli polynomial, reflected 0x82F63B78) as used by TFRecord framing, plus TensorFlow's
// "masked" form. Pure functions; thread-safe.
//
//   uint32_t c = Crc32c("123456789", 9);       // 0xE3069283
//   uint32_t c2 = Crc32cExtend(c0, more, n);   // continues a running CRC
//   uint32_t m = MaskCrc32c(c);                // what TFRecord stores
#ifndef M1RL_COMMON_CRC32C_H_
#define M1RL_COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace m1rl {

// Returns the CRC32C of `crc`'s message extended by data[0, n). Pass crc = 0 to start a new message.
// REQUIRES: data != nullptr or n == 0.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

// CRC32C of data[0, n).
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(std::string_view s) { return Crc32cExtend(0, s.data(), s.size()); }

// TFRecord's masking: rotate right by 15 bits, add 0xa282ead8 (mod 2^32). Masking keeps a CRC stored
// next to the data it covers from being a valid CRC of a string that contains it.
inline constexpr uint32_t kCrc32cMaskDelta = 0xa282ead8u;
inline uint32_t MaskCrc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kCrc32cMaskDelta; }
inline uint32_t UnmaskCrc32c(uint32_t masked) {
  const uint32_t rot = masked - kCrc32cMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace m1rl

#endif  // M1RL_COMMON_CRC32C_H_
