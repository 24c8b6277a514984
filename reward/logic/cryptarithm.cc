// Family "cryptarithm": WORD + WORD (+ WORD) = WORD, each letter a distinct digit, no leading zero
// in a word of two or more letters. The answer is an assignment "S=9, E=5, ..." (separators:
// commas, semicolons, whitespace); any assignment satisfying the constraints is accepted.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

absl::Status CheckWord(const std::string& w, const std::string& field, size_t max_len) {
  if (w.empty() || w.size() > max_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.", field, ": expected 1..", max_len, " letters"));
  }
  for (char c : w) {
    if (c < 'A' || c > 'Z') {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.", field, ": '", w, "' must be uppercase A-Z"));
    }
  }
  return absl::OkStatus();
}

// Parses "A=1, B = 2; C=3". nullopt on anything else.
std::optional<std::vector<std::pair<char, int>>> ParseAssignment(std::string_view s, std::string* why) {
  std::vector<std::pair<char, int>> out;
  size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  auto sep = [&](char c) { return space(c) || c == ',' || c == ';'; };
  while (i < s.size()) {
    if (sep(s[i])) {
      ++i;
      continue;
    }
    char letter = s[i];
    if (letter >= 'a' && letter <= 'z') letter = static_cast<char>(letter - 'a' + 'A');
    if (letter < 'A' || letter > 'Z') {
      *why = absl::StrCat("answer: expected a letter at offset ", i, ", got '", std::string(s.substr(i, 8)),
                          "'");
      return std::nullopt;
    }
    ++i;
    while (i < s.size() && space(s[i])) ++i;
    if (i >= s.size() || s[i] != '=') {
      *why = absl::StrCat("answer: expected '=' after ", std::string(1, letter));
      return std::nullopt;
    }
    ++i;
    while (i < s.size() && space(s[i])) ++i;
    if (i >= s.size() || s[i] < '0' || s[i] > '9' ||
        (i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9')) {
      *why = absl::StrCat("answer: expected one digit after ", std::string(1, letter), "=");
      return std::nullopt;
    }
    out.emplace_back(letter, s[i] - '0');
    ++i;
  }
  if (out.empty()) {
    *why = "answer: no assignments";
    return std::nullopt;
  }
  return out;
}

class CryptarithmFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "cryptarithm"; }
  std::string_view difficulty_help() const override {
    return "word length 2,2,3,3,4 for 1..5 with two addends; 6..8: three addends of length 3,4,5";
  }
  int max_difficulty() const override { return 8; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    static constexpr int kLength[] = {2, 2, 3, 3, 4, 3, 4, 5};
    const int length = kLength[difficulty - 1];
    const int addends = difficulty >= 6 ? 3 : 2;
    std::vector<char> alphabet;
    for (char c = 'A'; c <= 'Z'; ++c) alphabet.push_back(c);
    rng.Shuffle(alphabet);  // digit d is written alphabet[d]
    auto spell = [&](int64_t v) {
      std::string s = std::to_string(v);
      for (char& c : s) c = alphabet[static_cast<size_t>(c - '0')];
      return s;
    };
    int64_t lo = 1;
    for (int i = 1; i < length; ++i) lo *= 10;
    std::vector<std::string> words;
    int64_t sum = 0;
    for (int i = 0; i < addends; ++i) {
      const int64_t v = rng.Uniform(lo, lo * 10 - 1);
      sum += v;
      words.push_back(spell(v));
    }
    const std::string result = spell(sum);
    std::map<char, int> used;
    for (int d = 0; d < 10; ++d) {
      const char c = alphabet[static_cast<size_t>(d)];
      bool appears = result.find(c) != std::string::npos;
      for (const auto& w : words) appears = appears || w.find(c) != std::string::npos;
      if (appears) used[c] = d;
    }
    std::vector<std::string> parts;
    for (const auto& [c, d] : used) parts.push_back(absl::StrCat(std::string(1, c), "=", d));
    GeneratedInstance g;
    g.instance = {{"addends", words}, {"result", result}};
    g.prompt = absl::StrCat("Solve the cryptarithm ", absl::StrJoin(words, " + "), " = ", result,
                            ": each letter is a different digit and no word starts with 0."
                            " Give every letter as L=d, comma-separated, inside <answer></answer>.");
    g.witness = absl::StrJoin(parts, ", ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    auto it = instance.find("addends");
    if (it == instance.end() || !it->is_array() || it->size() < 2 || it->size() > 5) {
      return absl::InvalidArgumentError("instance.addends: expected an array of 2..5 words");
    }
    std::vector<std::string> words;
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string())
        return absl::InvalidArgumentError(absl::StrCat("instance.addends[", i, "]: expected a string"));
      words.push_back((*it)[i].get<std::string>());
      absl::Status s = CheckWord(words.back(), absl::StrCat("addends[", i, "]"), 10);
      if (!s.ok()) return s;
    }
    absl::StatusOr<std::string> result = GetString(instance, "result", 11);
    if (!result.ok()) return result.status();
    absl::Status s = CheckWord(*result, "result", 11);
    if (!s.ok()) return s;
    std::set<char> letters(result->begin(), result->end());
    for (const auto& w : words) letters.insert(w.begin(), w.end());
    if (letters.size() > 10) return absl::InvalidArgumentError("instance: more than 10 distinct letters");

    std::string why;
    auto assignment = ParseAssignment(answer, &why);
    if (!assignment) return Unparseable(why);
    std::map<char, int> value;
    std::vector<std::string> parts;
    for (const auto& [c, d] : *assignment) {
      if (!letters.count(c))
        return Incorrect(absl::StrCat("letter ", std::string(1, c), " is not in the puzzle"), "");
      if (!value.emplace(c, d).second)
        return Incorrect(absl::StrCat("letter ", std::string(1, c), " assigned twice"), "");
    }
    for (const auto& [c, d] : value) parts.push_back(absl::StrCat(std::string(1, c), "=", d));
    const std::string normalized = absl::StrJoin(parts, ",");
    std::map<int, char> owner;
    for (char c : letters) {
      auto v = value.find(c);
      if (v == value.end())
        return Incorrect(absl::StrCat("letter ", std::string(1, c), " has no digit"), normalized);
      auto [o, inserted] = owner.emplace(v->second, c);
      if (!inserted) {
        return Incorrect(absl::StrCat("letters ", std::string(1, o->second), " and ", std::string(1, c),
                                      " share digit ", v->second),
                         normalized);
      }
    }
    auto number = [&](const std::string& w) {
      int64_t n = 0;
      for (char c : w) n = n * 10 + value[c];
      return n;
    };
    std::vector<std::string> all = words;
    all.push_back(*result);
    for (const auto& w : all) {
      if (w.size() > 1 && value[w[0]] == 0) return Incorrect(absl::StrCat(w, " starts with 0"), normalized);
    }
    int64_t sum = 0;
    for (const auto& w : words) sum += number(w);  // <= 5 * (10^10 - 1): fits
    if (sum != number(*result)) {
      return Incorrect(absl::StrCat("addends sum to ", sum, ", result reads ", number(*result)), normalized);
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewCryptarithmFamily() { return std::make_unique<CryptarithmFamily>(); }

}  // namespace m1rl::reward::logic::internal
