// Test helper: GPT-2's bytes_to_unicode written from its definition (printable bytes map to themselves,
// the other 68 bytes to U+0100 onwards in byte order), independent of model/tokenizer.cc's table, so
// tests can build byte-level vocabularies to check the tokenizer against.
#ifndef M1RL_MODEL_TESTING_BYTE_SYMBOLS_H_
#define M1RL_MODEL_TESTING_BYTE_SYMBOLS_H_

#include <string>

namespace m1rl::model::testing {

// The UTF-8 string of byte b's symbol (b in [0, 256)).
inline std::string ByteSymbol(int b) {
  auto direct = [](int x) {
    return (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
  };
  int cp = b;
  if (!direct(b)) {
    int n = 0;
    for (int x = 0; x < b; ++x) n += direct(x) ? 0 : 1;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

}  // namespace m1rl::model::testing

#endif  // M1RL_MODEL_TESTING_BYTE_SYMBOLS_H_
