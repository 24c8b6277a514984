#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

// "hello world" shifted by 3 (by hand: h+3 = k, e+3 = h, l+3 = o, o+3 = r, w+3 = z, r+3 = u, d+3 = g).
const nlohmann::json kCaesar = {{"cipher", "caesar"}, {"ciphertext", "KHOOR ZRUOG"}};

TEST(CipherTest, CaesarKeyAccepted) {
  EXPECT_EQ(Kind("cipher", kCaesar, "3"), kCorrect);
  EXPECT_EQ(Kind("cipher", kCaesar, " [3] "), kCorrect);
  std::string why;
  EXPECT_EQ(Kind("cipher", kCaesar, "4", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("decrypts to 'gdkkn vnqkc'"));
  EXPECT_EQ(Kind("cipher", kCaesar, "29", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("not in 0..25"));
}

// Affine "the cat" with a = 5, b = 8: t(19) -> 103 % 26 = 25 Z, h(7) -> 43 % 26 = 17 R,
// e(4) -> 28 % 26 = 2 C, c(2) -> 18 S, a(0) -> 8 I.
const nlohmann::json kAffine = {{"cipher", "affine"}, {"ciphertext", "ZRC SIZ"}};

TEST(CipherTest, AffineKeyAccepted) {
  EXPECT_EQ(Kind("cipher", kAffine, "5 8"), kCorrect);
  EXPECT_EQ(Kind("cipher", kAffine, "(5, 8)"), kCorrect);
  std::string why;
  EXPECT_EQ(Kind("cipher", kAffine, "5 9", &why), kIncorrect);
  EXPECT_EQ(Kind("cipher", kAffine, "13 8", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("a = 13 is not coprime to 26"));
  EXPECT_EQ(Kind("cipher", kAffine, "4 8", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("not coprime"));
}

// One-letter ciphertext "C": every affine key that decrypts C to a one-letter word ("a" or "i", both
// in the list) is accepted. Decryption computed here independently: a*x + b = 2 (mod 26).
TEST(CipherTest, EveryKeyGivingWordsAccepted) {
  const nlohmann::json one = {{"cipher", "affine"}, {"ciphertext", "C"}};
  int accepted = 0;
  for (int a = 1; a < 26; a += 2) {
    if (a == 13) continue;
    for (int b = 0; b < 26; ++b) {
      int x = 0;
      while ((a * x + b) % 26 != 2) ++x;
      const bool word = x == 0 || x == 8;  // 'a' or 'i'
      EXPECT_EQ(Kind("cipher", one, std::to_string(a) + " " + std::to_string(b)),
                word ? kCorrect : kIncorrect)
          << a << " " << b;
      accepted += word ? 1 : 0;
    }
  }
  EXPECT_EQ(accepted, 24);  // 12 values of a, each with one b per target letter
}

TEST(CipherTest, Unparseable) {
  for (const char* bad : {"", "three", "k=3", "3 4"}) {
    EXPECT_EQ(Kind("cipher", kCaesar, bad), kUnparseable) << bad;
  }
  for (const char* bad : {"5", "5 8 1", "a=5 b=8"}) {
    EXPECT_EQ(Kind("cipher", kAffine, bad), kUnparseable) << bad;
  }
}

TEST(CipherTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("cipher", {{"ciphertext", "ABC"}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.cipher: missing")));
  EXPECT_THAT(InstanceStatus("cipher", {{"cipher", "vigenere"}, {"ciphertext", "ABC"}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.cipher: expected")));
  for (const char* text : {"", "abc", "AB  C", " AB", "A1"}) {
    EXPECT_THAT(InstanceStatus("cipher", {{"cipher", "caesar"}, {"ciphertext", text}}, "1"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.ciphertext")))
        << text;
  }
}

TEST(CipherTest, GeneratedInstancesHaveExactlyTheWitnessKey) {
  const TaskFamily* f = FindFamily("cipher");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 30; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const bool affine = d > 3;
      EXPECT_EQ(g->instance["cipher"], affine ? "affine" : "caesar");
      EXPECT_EQ(Kind("cipher", g->instance, g->witness), kCorrect);
      // Over the whole key space exactly one key is accepted, and it is the witness.
      std::vector<std::string> accepted;
      for (int a = 1; a < 26; a += affine ? 2 : 26) {
        for (int b = 0; b < 26; ++b) {
          if (a == 13) continue;
          const std::string key = affine ? std::to_string(a) + " " + std::to_string(b) : std::to_string(b);
          if (Kind("cipher", g->instance, key) == kCorrect) accepted.push_back(key);
        }
      }
      EXPECT_EQ(accepted, std::vector<std::string>{g->witness});
      EXPECT_EQ(f->Generate(seed, d)->instance, g->instance);
    }
  }
}

}  // namespace
}  // namespace m1rl::reward::logic
