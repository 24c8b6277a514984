#include "model/tokenizer_bytes.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace m1rl::model {

CodePoint NextCodePoint(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
  if (c < 0x80) return {c, 1};
  if ((c & 0xE0) == 0xC0 && cont(1)) return {((c & 0x1Fu) << 6) | byte(1), 2};
  if ((c & 0xF0) == 0xE0 && cont(1) && cont(2)) return {((c & 0x0Fu) << 12) | (byte(1) << 6) | byte(2), 3};
  if ((c & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    return {((c & 0x07u) << 18) | (byte(1) << 12) | (byte(2) << 6) | byte(3), 4};
  }
  return {0xFFFD, 1};
}

const std::vector<uint32_t>& ByteToUnicode() {
  static const std::vector<uint32_t> kTable = [] {
    std::vector<uint32_t> t(256, 0);
    std::vector<bool> direct(256, false);
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) t[b] = direct[b] ? static_cast<uint32_t>(b) : 256 + n++;
    return t;
  }();
  return kTable;
}

const std::unordered_map<uint32_t, unsigned char>& UnicodeToByte() {
  static const std::unordered_map<uint32_t, unsigned char> kTable = [] {
    std::unordered_map<uint32_t, unsigned char> t;
    const auto& fwd = ByteToUnicode();
    for (int b = 0; b < 256; ++b) t[fwd[b]] = static_cast<unsigned char>(b);
    return t;
  }();
  return kTable;
}

std::string ByteTokenName(unsigned char b) {
  constexpr char kHex[] = "0123456789ABCDEF";
  return absl::StrCat("<0x", std::string{kHex[b >> 4], kHex[b & 15]}, ">");
}

int ByteOfTokenName(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  if (!absl::ascii_isxdigit(t[3]) || !absl::ascii_isxdigit(t[4])) return -1;
  return std::stoi(std::string(t.substr(3, 2)), nullptr, 16);
}

}  // namespace m1rl::model
