#include "common/crc32c.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace m1rl {
namespace {

// Bit-at-a-time reference straight from the definition (reflected polynomial 0x82F63B78, init and
// final XOR 0xFFFFFFFF), independent of the table-driven implementation.
uint32_t BitwiseCrc32c(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char byte : s) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : (c >> 1);
  }
  return c ^ 0xFFFFFFFFu;
}

TEST(Crc32cTest, StandardCheckValue) { EXPECT_EQ(Crc32c("123456789"), 0xE3069283u); }

TEST(Crc32cTest, Rfc3720Vectors) {
  // RFC 3720 appendix B.4.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string inc, dec;
  for (int i = 0; i < 32; ++i) {
    inc.push_back(static_cast<char>(i));
    dec.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc32c(inc), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(dec), 0x113FDB5Cu);
}

TEST(Crc32cTest, EmptyIsZero) { EXPECT_EQ(Crc32c(std::string()), 0u); }

TEST(Crc32cTest, MatchesBitwiseReferenceAtEveryLengthAndOffset) {
  std::mt19937 rng(7);
  std::string buf(300, '\0');
  for (char& c : buf) c = static_cast<char>(rng() & 0xFF);
  // Offsets 0..8 exercise every alignment of the 8-byte loop; lengths cover the tail loop.
  for (size_t off = 0; off < 9; ++off) {
    for (size_t len = 0; len + off <= buf.size(); len += 7) {
      const std::string s = buf.substr(off, len);
      ASSERT_EQ(Crc32c(s), BitwiseCrc32c(s)) << "off " << off << " len " << len;
    }
  }
}

TEST(Crc32cTest, ExtendEqualsWholeMessage) {
  const std::string a = "hello, ", b = "tensorboard world";
  EXPECT_EQ(Crc32cExtend(Crc32c(a), b.data(), b.size()), Crc32c(a + b));
}

TEST(Crc32cTest, MaskMatchesTfRecordFormulaAndUnmasks) {
  // masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8, computed by hand for two values.
  EXPECT_EQ(MaskCrc32c(0u), 0xa282ead8u);
  // crc = 0x00008000: >>15 = 1, <<17 = 0 (bit 32 dropped) -> 1 + 0xa282ead8.
  EXPECT_EQ(MaskCrc32c(0x00008000u), 0xa282ead9u);
  // crc = 1: >>15 = 0, <<17 = 0x20000 -> 0xa282ead8 + 0x20000 = 0xa284ead8.
  EXPECT_EQ(MaskCrc32c(1u), 0xa284ead8u);
  for (uint32_t c : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu, 0x12345678u})
    EXPECT_EQ(UnmaskCrc32c(MaskCrc32c(c)), c);
}

}  // namespace
}  // namespace m1rl
