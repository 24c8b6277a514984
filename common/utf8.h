// UTF-8 encoding of one code point (header-only; the tokenizers and the Jinja interpreter share it).
#ifndef M1RL_COMMON_UTF8_H_
#define M1RL_COMMON_UTF8_H_

#include <cstdint>
#include <string>

namespace m1rl {

// Appends the UTF-8 bytes of code point `cp` (1-4 bytes; no validation of surrogates or cp > U+10FFFF).
inline void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace m1rl

#endif  // M1RL_COMMON_UTF8_H_
