// Family "knights_knaves": islanders A, B, ... are each a knight (always tells the truth) or a knave
// (always lies); each makes one statement. The answer gives every islander's kind in order, e.g.
// "knight knave knight". The generator keeps only instances with exactly one consistent assignment
// (brute force over all 2^n), and the verifier evaluates every statement under the answer, so it
// accepts any consistent assignment.
//
// Statement kinds (instance.statements[i] is what islander i says; a, b are 0-based islanders):
//   {"kind":"is_knight","a":a}  {"kind":"is_knave","a":a}  {"kind":"same","a":a,"b":b}
//   {"kind":"different","a":a,"b":b}  {"kind":"exactly_knights","count":c}
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr int64_t kMaxPeople = 12;
constexpr std::array<const char*, 5> kKinds = {"is_knight", "is_knave", "same", "different",
                                               "exactly_knights"};

struct Statement {
  int kind = 0;  // index into kKinds
  int64_t a = 0, b = 0, count = 0;
};

std::string Name(int64_t i) { return std::string(1, static_cast<char>('A' + i)); }

bool Holds(const Statement& s, const std::vector<bool>& knight) {
  switch (s.kind) {
    case 0:
      return knight[static_cast<size_t>(s.a)];
    case 1:
      return !knight[static_cast<size_t>(s.a)];
    case 2:
      return knight[static_cast<size_t>(s.a)] == knight[static_cast<size_t>(s.b)];
    case 3:
      return knight[static_cast<size_t>(s.a)] != knight[static_cast<size_t>(s.b)];
    default: {
      int64_t k = 0;
      for (bool x : knight) k += x ? 1 : 0;
      return k == s.count;
    }
  }
}

std::string Text(const Statement& s) {
  switch (s.kind) {
    case 0:
      return absl::StrCat(Name(s.a), " is a knight.");
    case 1:
      return absl::StrCat(Name(s.a), " is a knave.");
    case 2:
      return absl::StrCat(Name(s.a), " and ", Name(s.b), " are the same kind.");
    case 3:
      return absl::StrCat(Name(s.a), " and ", Name(s.b), " are different kinds.");
    default:
      return absl::StrCat("Exactly ", s.count, " of us are knights.");
  }
}

// Index of the first islander whose statement contradicts their kind, or -1.
int64_t FirstInconsistent(const std::vector<Statement>& st, const std::vector<bool>& knight) {
  for (size_t i = 0; i < st.size(); ++i) {
    if (Holds(st[i], knight) != knight[i]) return static_cast<int64_t>(i);
  }
  return -1;
}

int CountSolutions(const std::vector<Statement>& st) {
  const size_t n = st.size();
  int solutions = 0;
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    std::vector<bool> knight(n);
    for (size_t i = 0; i < n; ++i) knight[i] = ((mask >> i) & 1u) != 0;
    solutions += FirstInconsistent(st, knight) < 0 ? 1 : 0;
  }
  return solutions;
}

// A statement by `speaker`, about someone else where it names islanders.
Statement RandomStatement(int64_t n, int64_t speaker, Rng& rng) {
  Statement s;
  s.kind = static_cast<int>(rng.Uniform(0, 4));
  s.a = (speaker + rng.Uniform(1, n - 1)) % n;
  s.b = (s.a + rng.Uniform(1, n - 1)) % n;
  s.count = rng.Uniform(0, n);
  return s;
}

absl::StatusOr<Statement> ParseStatement(const nlohmann::json& j, int64_t n) {
  if (!j.is_object()) return absl::InvalidArgumentError("expected an object");
  absl::StatusOr<std::string> kind = GetString(j, "kind", 32);
  if (!kind.ok()) return kind.status();
  Statement s;
  while (s.kind < 5 && *kind != kKinds[static_cast<size_t>(s.kind)]) ++s.kind;
  if (s.kind == 5) return absl::InvalidArgumentError(absl::StrCat("instance.kind: unknown '", *kind, "'"));
  if (s.kind == 4) {
    absl::StatusOr<int64_t> c = GetInt(j, "count", 0, n);
    if (!c.ok()) return c.status();
    s.count = *c;
    return s;
  }
  absl::StatusOr<int64_t> a = GetInt(j, "a", 0, n - 1);
  if (!a.ok()) return a.status();
  s.a = *a;
  if (s.kind >= 2) {
    absl::StatusOr<int64_t> b = GetInt(j, "b", 0, n - 1);
    if (!b.ok()) return b.status();
    s.b = *b;
  }
  return s;
}

absl::StatusOr<std::vector<Statement>> GetStatements(const nlohmann::json& instance) {
  auto it = instance.find("statements");
  if (it == instance.end()) return absl::InvalidArgumentError("instance.statements: missing");
  if (!it->is_array() || it->size() < 2 || it->size() > static_cast<size_t>(kMaxPeople)) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.statements: expected an array of 2..", kMaxPeople, " statements"));
  }
  const int64_t n = static_cast<int64_t>(it->size());
  std::vector<Statement> out;
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    absl::StatusOr<Statement> s = ParseStatement((*it)[i], n);
    if (!s.ok()) {
      const std::string parent = absl::StrCat("statements[", i, "]");
      if (s.status().message().substr(0, 9) == "instance.") return NestField(s.status(), parent);
      return absl::InvalidArgumentError(absl::StrCat("instance.", parent, ": ", s.status().message()));
    }
    out.push_back(*s);
  }
  return out;
}

// The answer: one "knight" / "knave" word per islander (any case), separated by spaces or commas.
std::optional<std::vector<bool>> ParseKinds(std::string_view answer, std::string* why) {
  std::vector<bool> out;
  std::string word;
  for (char c : std::string(answer) + " ") {
    if (c == ' ' || c == ',' || c == '\n' || c == '\t' || c == '\r') {
      if (word.empty()) continue;
      const std::string lower = absl::AsciiStrToLower(word);
      if (lower != "knight" && lower != "knave") {
        *why = absl::StrCat("answer: '", word.substr(0, 24), "' is not knight or knave");
        return std::nullopt;
      }
      out.push_back(lower == "knight");
      word.clear();
      if (out.size() > static_cast<size_t>(kMaxPeople)) {
        *why = absl::StrCat("answer: more than ", kMaxPeople, " words");
        return std::nullopt;
      }
    } else {
      word += c;
    }
  }
  if (out.empty()) {
    *why = "answer: no words";
    return std::nullopt;
  }
  return out;
}

std::string KindsText(const std::vector<bool>& knight) {
  std::vector<std::string> words;
  words.reserve(knight.size());
  for (bool k : knight) words.emplace_back(k ? "knight" : "knave");
  return absl::StrJoin(words, " ");
}

class KnightsKnavesFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "knights_knaves"; }
  std::string_view difficulty_help() const override {
    return "2+difficulty islanders (3..7), one statement each; exactly one consistent assignment";
  }
  int max_difficulty() const override { return 5; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int64_t n = 2 + difficulty;
    std::vector<Statement> st;
    for (int attempt = 0; attempt < 2000; ++attempt) {
      st.clear();
      for (int64_t i = 0; i < n; ++i) st.push_back(RandomStatement(n, i, rng));
      if (CountSolutions(st) == 1) break;
    }
    std::vector<bool> knight(static_cast<size_t>(n));
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
      for (size_t i = 0; i < knight.size(); ++i) knight[i] = ((mask >> i) & 1u) != 0;
      if (FirstInconsistent(st, knight) < 0) break;
    }
    GeneratedInstance g;
    g.instance["statements"] = nlohmann::json::array();
    g.prompt = absl::StrCat("On an island every knight always tells the truth and every knave always lies. ",
                            n, " islanders, ", Name(0), " to ", Name(n - 1), ", say:");
    for (int64_t i = 0; i < n; ++i) {
      const Statement& s = st[static_cast<size_t>(i)];
      nlohmann::json j = {{"kind", kKinds[static_cast<size_t>(s.kind)]}};
      if (s.kind == 4) j["count"] = s.count;
      if (s.kind < 4) j["a"] = s.a;
      if (s.kind == 2 || s.kind == 3) j["b"] = s.b;
      g.instance["statements"].push_back(j);
      absl::StrAppend(&g.prompt, " ", Name(i), ": \"", Text(s), "\"");
    }
    absl::StrAppend(&g.prompt, " Who is a knight and who is a knave? Give the kind of ", Name(0), " to ",
                    Name(n - 1),
                    " in order as the words knight or knave, space-separated, inside "
                    "<answer></answer>.");
    g.witness = KindsText(knight);  // a unique-solution search that failed makes this witness fail Check
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<std::vector<Statement>> st = GetStatements(instance);
    if (!st.ok()) return st.status();
    std::string why;
    std::optional<std::vector<bool>> knight = ParseKinds(answer, &why);
    if (!knight) return Unparseable(why);
    const std::string normalized = KindsText(*knight);
    if (knight->size() != st->size()) {
      return Incorrect(absl::StrCat("expected ", st->size(), " kinds, got ", knight->size()), normalized);
    }
    const int64_t bad = FirstInconsistent(*st, *knight);
    if (bad >= 0) {
      const bool k = (*knight)[static_cast<size_t>(bad)];
      return Incorrect(absl::StrCat(Name(bad), " is a ", k ? "knight" : "knave", " but says something ",
                                    k ? "false" : "true", ": ", Text((*st)[static_cast<size_t>(bad)])),
                       normalized);
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewKnightsKnavesFamily() { return std::make_unique<KnightsKnavesFamily>(); }

}  // namespace m1rl::reward::logic::internal
