// Family "cipher": recover the key of a Caesar or affine cipher. "ciphertext" is upper-case letters
// and single spaces; each letter x (A=0 .. Z=25) was encrypted as (a*x + b) mod 26 ("affine", a odd
// and not 13, i.e. coprime to 26) or as (x + k) mod 26 ("caesar", a = 1, b = k). The plaintext is a
// sequence of words from kWords below. The answer is the key: "k" for caesar, "a b" for affine
// (integers separated by spaces or commas; one pair of enclosing brackets allowed). Any key with
// 0 <= k, a, b <= 25 (a coprime to 26) whose decryption consists only of kWords words is accepted;
// the generator makes sure exactly one such key exists.
//
// kWords is part of the verifier: instances are only valid against the list they were generated
// with, so it may only grow (never drop or change a word).
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

// Common English words, sorted (binary search).
constexpr std::string_view kWords[] = {
    "a",      "about",  "after",  "again", "air",    "all",    "and",   "animal", "any",    "apple",
    "are",    "arm",    "ask",    "away",  "baby",   "back",   "bad",   "ball",   "bear",   "bed",
    "bell",   "big",    "bird",   "black", "blue",   "boat",   "book",  "box",    "boy",    "bread",
    "bring",  "brown",  "but",    "cake",  "call",   "can",    "car",   "cat",    "chair",  "city",
    "cold",   "come",   "cow",    "cup",   "dark",   "day",    "deep",  "dog",    "door",   "down",
    "dream",  "drink",  "duck",   "early", "earth",  "eat",    "egg",   "eye",    "face",   "fall",
    "far",    "farm",   "fast",   "fire",  "fish",   "five",   "floor", "fly",    "food",   "for",
    "four",   "fox",    "friend", "frog",  "from",   "garden", "girl",  "give",   "go",     "gold",
    "good",   "grass",  "great",  "green", "ground", "hand",   "happy", "hat",    "have",   "hello",
    "help",   "her",    "here",   "hill",  "his",    "home",   "horse", "hot",    "house",  "i",
    "ice",    "in",     "is",     "it",    "jump",   "just",   "keep",  "kind",   "king",   "lake",
    "land",   "large",  "late",   "leaf",  "light",  "like",   "line",  "lion",   "little", "long",
    "look",   "love",   "make",   "man",   "many",   "milk",   "money", "moon",   "more",   "morning",
    "mother", "mouse",  "much",   "music", "name",   "near",   "never", "new",    "night",  "nine",
    "north",  "not",    "now",    "of",    "old",    "on",     "one",   "open",   "orange", "our",
    "out",    "over",   "paper",  "park",  "people", "pig",    "place", "play",   "queen",  "quick",
    "rain",   "read",   "red",    "ride",  "river",  "road",   "rock",  "room",   "run",    "said",
    "sea",    "see",    "seven",  "sheep", "ship",   "shoe",   "sing",  "sister", "sit",    "six",
    "sleep",  "slow",   "small",  "snow",  "soft",   "song",   "soon",  "south",  "star",   "stone",
    "story",  "street", "summer", "sun",   "table",  "tall",   "tea",   "ten",    "the",    "there",
    "they",   "thing",  "three",  "time",  "to",     "town",   "tree",  "two",    "under",  "up",
    "very",   "walk",   "warm",   "water", "way",    "we",     "west",  "white",  "wind",   "window",
    "winter", "with",   "wolf",   "wood",  "word",   "work",   "world", "year",   "yellow", "you",
    "young",
};

static_assert(std::is_sorted(std::begin(kWords), std::end(kWords)), "kWords must stay sorted");

bool IsWord(std::string_view w) { return std::binary_search(std::begin(kWords), std::end(kWords), w); }

struct Key {
  int a = 1;
  int b = 0;
};

// The multiplicative inverse of a modulo 26, or 0 if a is not coprime to 26.
int Inverse26(int a) {
  for (int x = 1; x < 26; ++x) {
    if ((a * x) % 26 == 1) return x;
  }
  return 0;
}

// Decrypts upper-case `text` (spaces kept) to lower case. REQUIRES: Inverse26(key.a) != 0.
std::string Decrypt(std::string_view text, Key key) {
  const int inv = Inverse26(key.a);
  std::string out(text);
  for (char& c : out) {
    if (c == ' ') continue;
    c = static_cast<char>('a' + (inv * ((c - 'A') - key.b + 26)) % 26);
  }
  return out;
}

std::string Encrypt(std::string_view plain, Key key) {
  std::string out(plain);
  for (char& c : out) {
    if (c == ' ') continue;
    c = static_cast<char>('A' + (key.a * (c - 'a') + key.b) % 26);
  }
  return out;
}

// The first word of `plain` not in kWords, or nullopt if every word is.
std::optional<std::string> NonWord(const std::string& plain) {
  const std::string_view view = plain;
  size_t i = 0;
  while (i < plain.size()) {
    const size_t j = std::min(plain.find(' ', i), plain.size());
    if (!IsWord(view.substr(i, j - i))) return plain.substr(i, j - i);
    i = j + 1;
  }
  return std::nullopt;
}

// Every key of the cipher's key space (caesar: a = 1).
std::vector<Key> KeySpace(bool affine) {
  std::vector<Key> keys;
  keys.reserve(size_t{26} * 12);
  for (int a = 1; a < 26; a += affine ? 2 : 26) {
    if (a == 13) continue;
    for (int b = 0; b < 26; ++b) keys.push_back({a, b});
  }
  return keys;
}

int ValidKeyCount(const std::string& ciphertext, bool affine) {
  int n = 0;
  for (Key k : KeySpace(affine)) n += NonWord(Decrypt(ciphertext, k)) ? 0 : 1;
  return n;
}

std::string RenderKey(Key k, bool affine) { return affine ? absl::StrCat(k.a, " ", k.b) : absl::StrCat(k.b); }

class CipherFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "cipher"; }
  std::string_view difficulty_help() const override {
    return "caesar (1..3) or affine (4..6) cipher over a plaintext of 3, 5 or 7 common words (by "
           "difficulty within the cipher); exactly one key decrypts to words";
  }
  int max_difficulty() const override { return 6; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const bool affine = difficulty > 3;
    const int words = 3 + 2 * ((difficulty - 1) % 3);
    std::vector<Key> keys = KeySpace(affine);
    // Keys that leave the text unchanged (caesar 0, affine 1 0) are never drawn.
    keys.erase(keys.begin());
    std::string plain, ciphertext;
    Key key;
    for (int attempt = 0;; ++attempt) {
      std::vector<std::string> picked;
      picked.reserve(static_cast<size_t>(words) + static_cast<size_t>(attempt / 8));
      for (int i = 0; i < words + attempt / 8; ++i) {
        picked.emplace_back(kWords[rng.Uniform(0, static_cast<int64_t>(std::size(kWords)) - 1)]);
      }
      plain = absl::StrJoin(picked, " ");
      key = keys[static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(keys.size()) - 1))];
      ciphertext = Encrypt(plain, key);
      if (ValidKeyCount(ciphertext, affine) == 1) break;
      if (attempt == 100) return absl::InternalError("cipher: no plaintext with a unique key in 100 tries");
    }
    GeneratedInstance g;
    g.instance = {{"cipher", affine ? "affine" : "caesar"}, {"ciphertext", ciphertext}};
    const std::string rule =
        affine ? "an affine cipher: each letter x (A=0, B=1, ..., Z=25) was replaced by (a*x + b) mod 26, "
                 "with a coprime to 26 and 0 <= a, b <= 25"
               : "a Caesar cipher: each letter was shifted forward by the same k (0 <= k <= 25) places, "
                 "wrapping from Z to A";
    g.prompt = absl::StrCat("This text was encrypted with ", rule, ": ", ciphertext,
                            ". The plaintext is a sequence of common English words. Find the key and give ",
                            affine ? "a and b separated by a space" : "k", " inside <answer></answer>.");
    g.witness = RenderKey(key, affine);
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<std::string> cipher = GetString(instance, "cipher", 16);
    if (!cipher.ok()) return cipher.status();
    if (*cipher != "caesar" && *cipher != "affine") {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.cipher: expected \"caesar\" or \"affine\", got \"", *cipher, "\""));
    }
    const bool affine = *cipher == "affine";
    absl::StatusOr<std::string> text = GetString(instance, "ciphertext", 1000);
    if (!text.ok()) return text.status();
    const bool spaced = text->find("  ") == std::string::npos && !text->empty() && text->front() != ' ' &&
                        text->back() != ' ';
    if (!spaced ||
        !std::all_of(text->begin(), text->end(), [](char c) { return c == ' ' || (c >= 'A' && c <= 'Z'); })) {
      return absl::InvalidArgumentError(
          "instance.ciphertext: expected words of upper-case letters separated by single spaces");
    }
    std::string why;
    std::optional<std::vector<int64_t>> v = ParseIntList(answer, 2, &why);
    if (!v) return Unparseable(why);
    if (v->size() != (affine ? 2u : 1u)) {
      return Unparseable(absl::StrCat("answer: expected ", affine ? "two numbers (a b)" : "one number (k)",
                                      ", got ", v->size()));
    }
    const std::string normalized = absl::StrJoin(*v, " ");
    for (int64_t x : *v) {
      if (x < 0 || x > 25) return Incorrect(absl::StrCat("key part ", x, " is not in 0..25"), normalized);
    }
    const Key key = affine ? Key{static_cast<int>((*v)[0]), static_cast<int>((*v)[1])}
                           : Key{1, static_cast<int>((*v)[0])};
    if (Inverse26(key.a) == 0)
      return Incorrect(absl::StrCat("a = ", key.a, " is not coprime to 26"), normalized);
    const std::string plain = Decrypt(*text, key);
    if (std::optional<std::string> bad = NonWord(plain)) {
      return Incorrect(absl::StrCat("decrypts to '", plain.substr(0, 60), "': '", *bad, "' is not a word"),
                       normalized);
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewCipherFamily() { return std::make_unique<CipherFamily>(); }

}  // namespace m1rl::reward::logic::internal
