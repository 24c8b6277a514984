// Family "zebra": an Einstein-style houses puzzle. "houses" houses stand in a row, numbered 1.. from
// the left; "attributes" is a list of {"name", "values"} (each with one value per house, all value
// words distinct across attributes), and "clues" a list of {"kind", "a", "b"} or {"kind", "a",
// "house"} over value words:
//   same a b / not_same a b     a and b are (not) in the same house
//   left_of a b                 a is in the house immediately left of b's
//   next_to a b                 a and b are in adjacent houses
//   before a b                  a is somewhere left of b
//   in_house a h / not_in_house a h
// The answer lists the houses from left to right, separated by ';' or newlines, each house as its
// value words separated by spaces or commas (any order, either case). Any assignment that gives every
// house exactly one value of each attribute and satisfies every clue is accepted. The generator adds
// clues until the solution is unique.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr int64_t kMaxHouses = 6;
constexpr size_t kMaxAttributes = 6;
constexpr size_t kMaxClues = 200;

struct Value {
  int attr = 0;
  int index = 0;
};

struct Clue {
  std::string kind;
  Value a;
  Value b;        // unused by in_house / not_in_house
  int house = 0;  // 0-based; in_house / not_in_house only
};

struct Puzzle {
  int houses = 0;
  std::vector<std::string> attr_names;
  std::vector<std::vector<std::string>> values;  // [attr][index]
  std::map<std::string, Value> lookup;           // value word -> (attr, index)
  std::vector<Clue> clues;
};

// pos[attr][index] = 0-based house of that value.
using Assignment = std::vector<std::vector<int>>;

const char* const kPool[][6] = {
    {"color", "red", "green", "blue", "yellow", "white"},
    {"nationality", "brit", "swede", "dane", "german", "norwegian"},
    {"pet", "dog", "cat", "bird", "fish", "horse"},
    {"drink", "tea", "coffee", "milk", "beer", "water"},
    {"hobby", "chess", "tennis", "golf", "soccer", "rugby"},
};

bool Holds(const Clue& c, const Assignment& pos) {
  const int ha = pos[static_cast<size_t>(c.a.attr)][static_cast<size_t>(c.a.index)];
  if (c.kind == "in_house") return ha == c.house;
  if (c.kind == "not_in_house") return ha != c.house;
  const int hb = pos[static_cast<size_t>(c.b.attr)][static_cast<size_t>(c.b.index)];
  if (c.kind == "same") return ha == hb;
  if (c.kind == "not_same") return ha != hb;
  if (c.kind == "left_of") return ha + 1 == hb;
  if (c.kind == "next_to") return ha + 1 == hb || hb + 1 == ha;
  return ha < hb;  // before
}

std::string ClueText(const Puzzle& p, const Clue& c) {
  const std::string& a = p.values[static_cast<size_t>(c.a.attr)][static_cast<size_t>(c.a.index)];
  if (c.kind == "in_house") return absl::StrCat(a, " is in house ", c.house + 1);
  if (c.kind == "not_in_house") return absl::StrCat(a, " is not in house ", c.house + 1);
  const std::string& b = p.values[static_cast<size_t>(c.b.attr)][static_cast<size_t>(c.b.index)];
  if (c.kind == "same") return absl::StrCat(a, " and ", b, " are in the same house");
  if (c.kind == "not_same") return absl::StrCat(a, " and ", b, " are in different houses");
  if (c.kind == "left_of") return absl::StrCat(a, " is in the house immediately left of ", b);
  if (c.kind == "next_to") return absl::StrCat(a, " and ", b, " are in neighbouring houses");
  return absl::StrCat(a, " is somewhere left of ", b);
}

// Counts the assignments satisfying every clue, stopping at `limit`. Assigns one attribute per level
// (a permutation of the houses) and checks each clue as soon as both of its attributes are placed.
class Solver {
 public:
  explicit Solver(const Puzzle& p) : by_level_(p.attr_names.size()) {
    std::vector<int> perm(static_cast<size_t>(p.houses));
    for (int i = 0; i < p.houses; ++i) perm[static_cast<size_t>(i)] = i;
    do {
      perms_.push_back(perm);
    } while (std::next_permutation(perm.begin(), perm.end()));
    for (const Clue& c : p.clues) {
      const bool unary = c.kind == "in_house" || c.kind == "not_in_house";
      by_level_[static_cast<size_t>(unary ? c.a.attr : std::max(c.a.attr, c.b.attr))].push_back(&c);
    }
    pos_.assign(p.attr_names.size(), std::vector<int>(static_cast<size_t>(p.houses), 0));
  }

  // Up to `limit` assignments satisfying every clue.
  std::vector<Assignment> Solve(size_t limit) {
    found_.clear();
    limit_ = limit;
    Search(0);
    return found_;
  }

 private:
  void Search(size_t level) {
    if (level == by_level_.size()) {
      found_.push_back(pos_);
      return;
    }
    for (const std::vector<int>& perm : perms_) {
      pos_[level] = perm;
      bool ok = true;
      for (const Clue* c : by_level_[level]) ok = ok && Holds(*c, pos_);
      if (ok) Search(level + 1);
      if (found_.size() >= limit_) return;
    }
  }

  std::vector<std::vector<const Clue*>> by_level_;
  std::vector<std::vector<int>> perms_;
  Assignment pos_;
  std::vector<Assignment> found_;
  size_t limit_ = 0;
};

// A random clue that the hidden assignment `sol` (sol[attr][house] = value index) satisfies.
Clue RandomTrueClue(const Puzzle& p, const std::vector<std::vector<int>>& sol, Rng& rng) {
  static const char* const kKinds[] = {"same",    "same",   "same",     "not_same",    "left_of",
                                       "next_to", "before", "in_house", "not_in_house"};
  const int n = p.houses;
  const int k = static_cast<int>(p.attr_names.size());
  Clue c;
  c.kind = kKinds[rng.Uniform(0, 8)];
  int ha = static_cast<int>(rng.Uniform(0, n - 1));
  int hb = ha;
  const int aa = static_cast<int>(rng.Uniform(0, k - 1));
  int ab = static_cast<int>(rng.Uniform(0, k - 1));
  if (c.kind == "same" || c.kind == "not_same") {
    if (k == 1) c.kind = "in_house";
    while (k > 1 && ab == aa) ab = static_cast<int>(rng.Uniform(0, k - 1));
    while (c.kind == "not_same" && hb == ha) hb = static_cast<int>(rng.Uniform(0, n - 1));
  } else if (c.kind == "left_of" || c.kind == "next_to" || c.kind == "before") {
    ha = static_cast<int>(rng.Uniform(0, n - 2));
    hb = c.kind == "before" ? static_cast<int>(rng.Uniform(ha + 1, n - 1)) : ha + 1;
    if (c.kind == "next_to" && rng.Bernoulli(1, 2)) std::swap(ha, hb);
  } else if (c.kind == "not_in_house") {
    while (hb == ha) hb = static_cast<int>(rng.Uniform(0, n - 1));
  }
  c.a = {aa, sol[static_cast<size_t>(aa)][static_cast<size_t>(ha)]};
  c.b = {ab, sol[static_cast<size_t>(ab)][static_cast<size_t>(hb)]};
  c.house = c.kind == "not_in_house" ? hb : ha;
  if (c.kind == "in_house" || c.kind == "not_in_house") c.b = {};
  return c;
}

absl::Status GetAttributes(const nlohmann::json& instance, Puzzle* p) {
  auto it = instance.find("attributes");
  if (it == instance.end() || !it->is_array() || it->empty() || it->size() > kMaxAttributes) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.attributes: expected an array of 1..", kMaxAttributes, " attributes"));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& a = (*it)[i];
    const std::string field = absl::StrCat("attributes[", i, "]");
    if (!a.is_object())
      return absl::InvalidArgumentError(absl::StrCat("instance.", field, ": expected an object"));
    absl::StatusOr<std::string> name = GetString(a, "name", 32);
    if (!name.ok()) return NestField(name.status(), field);
    auto v = a.find("values");
    if (v == a.end() || !v->is_array() || static_cast<int>(v->size()) != p->houses) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.", field, ".values: expected an array of ", p->houses, " words"));
    }
    p->attr_names.push_back(*name);
    p->values.emplace_back();
    for (size_t j = 0; j < v->size(); ++j) {
      const nlohmann::json& w = (*v)[j];
      const bool word =
          w.is_string() && !w.get<std::string>().empty() && w.get<std::string>().size() <= 16 &&
          std::all_of(w.get_ref<const std::string&>().begin(), w.get_ref<const std::string&>().end(),
                      [](char c) { return c >= 'a' && c <= 'z'; });
      if (!word || p->lookup.count(w.get<std::string>()) > 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "instance.", field, ".values[", j, "]: expected a new lowercase word of at most 16 letters"));
      }
      p->lookup[w.get<std::string>()] = {static_cast<int>(i), static_cast<int>(j)};
      p->values.back().push_back(w.get<std::string>());
    }
  }
  return absl::OkStatus();
}

absl::Status GetClues(const nlohmann::json& instance, Puzzle* p) {
  auto it = instance.find("clues");
  if (it == instance.end() || !it->is_array() || it->size() > kMaxClues) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.clues: expected an array of at most ", kMaxClues));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& j = (*it)[i];
    const std::string field = absl::StrCat("clues[", i, "]");
    if (!j.is_object())
      return absl::InvalidArgumentError(absl::StrCat("instance.", field, ": expected an object"));
    Clue c;
    absl::StatusOr<std::string> kind = GetString(j, "kind", 16);
    if (!kind.ok()) return NestField(kind.status(), field);
    c.kind = *kind;
    const bool unary = c.kind == "in_house" || c.kind == "not_in_house";
    const bool binary = c.kind == "same" || c.kind == "not_same" || c.kind == "left_of" ||
                        c.kind == "next_to" || c.kind == "before";
    if (!unary && !binary) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.", field, ".kind: unknown kind '", c.kind, "'"));
    }
    for (const char* side : unary ? std::vector<const char*>{"a"} : std::vector<const char*>{"a", "b"}) {
      absl::StatusOr<std::string> w = GetString(j, side, 16);
      if (!w.ok()) return NestField(w.status(), field);
      auto v = p->lookup.find(*w);
      if (v == p->lookup.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("instance.", field, ".", side, ": '", *w, "' is not an attribute value"));
      }
      (side[0] == 'a' ? c.a : c.b) = v->second;
    }
    if (unary) {
      absl::StatusOr<int64_t> h = GetInt(j, "house", 1, p->houses);
      if (!h.ok()) return NestField(h.status(), field);
      c.house = static_cast<int>(*h) - 1;
    }
    p->clues.push_back(c);
  }
  return absl::OkStatus();
}

absl::StatusOr<Puzzle> GetPuzzle(const nlohmann::json& instance) {
  Puzzle p;
  absl::StatusOr<int64_t> houses = GetInt(instance, "houses", 1, kMaxHouses);
  if (!houses.ok()) return houses.status();
  p.houses = static_cast<int>(*houses);
  absl::Status s = GetAttributes(instance, &p);
  if (!s.ok()) return s;
  s = GetClues(instance, &p);
  if (!s.ok()) return s;
  return p;
}

nlohmann::json ClueJson(const Puzzle& p, const Clue& c) {
  nlohmann::json j = {{"kind", c.kind},
                      {"a", p.values[static_cast<size_t>(c.a.attr)][static_cast<size_t>(c.a.index)]}};
  if (c.kind == "in_house" || c.kind == "not_in_house") {
    j["house"] = c.house + 1;
  } else {
    j["b"] = p.values[static_cast<size_t>(c.b.attr)][static_cast<size_t>(c.b.index)];
  }
  return j;
}

// The answer's houses, each a list of value words (lowercased). False with *why on an empty answer,
// an empty house, or a token that is not a value word of the puzzle.
bool ParseHouses(std::string_view answer, const Puzzle& p, std::vector<std::vector<Value>>* houses,
                 std::string* why) {
  std::string_view s = TrimSpace(answer);
  houses->emplace_back();
  std::string word;
  auto flush = [&]() {
    if (word.empty()) return true;
    auto v = p.lookup.find(word);
    if (v == p.lookup.end()) {
      *why = absl::StrCat("answer: '", word.substr(0, 24), "' is not one of the puzzle's values");
      return false;
    }
    houses->back().push_back(v->second);
    word.clear();
    return true;
  };
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c >= 'a' && c <= 'z') {
      if (word.size() > 16) {
        *why = "answer: a word longer than 16 letters";
        return false;
      }
      word.push_back(c);
    } else if (c == ' ' || c == ',' || c == '\t' || c == ';' || c == '\n' || c == '\r') {
      if (!flush()) return false;
      if ((c == ';' || c == '\n') && !houses->back().empty()) houses->emplace_back();
    } else {
      *why = absl::StrCat("answer: unexpected character '", std::string(1, c), "'");
      return false;
    }
  }
  if (!flush()) return false;
  if (houses->back().empty()) houses->pop_back();
  if (houses->empty()) {
    *why = "answer: no houses";
    return false;
  }
  return true;
}

std::string Render(const Puzzle& p, const std::vector<std::vector<Value>>& houses) {
  std::vector<std::string> out;
  out.reserve(houses.size());
  for (const auto& h : houses) {
    std::vector<std::string> words;
    words.reserve(h.size());
    for (const Value& v : h)
      words.push_back(p.values[static_cast<size_t>(v.attr)][static_cast<size_t>(v.index)]);
    out.push_back(absl::StrJoin(words, " "));
  }
  return absl::StrJoin(out, "; ");
}

// Checks that the parsed houses form a full assignment; fills *pos. "" when they do, else why not.
std::string ToAssignment(const Puzzle& p, const std::vector<std::vector<Value>>& houses, Assignment* pos) {
  if (static_cast<int>(houses.size()) != p.houses) {
    return absl::StrCat("expected ", p.houses, " houses, got ", houses.size());
  }
  pos->assign(p.attr_names.size(), std::vector<int>(static_cast<size_t>(p.houses), -1));
  for (size_t h = 0; h < houses.size(); ++h) {
    std::vector<bool> has(p.attr_names.size(), false);
    for (const Value& v : houses[h]) {
      if (has[static_cast<size_t>(v.attr)]) {
        return absl::StrCat("house ", h + 1, " has two values of ",
                            p.attr_names[static_cast<size_t>(v.attr)]);
      }
      int& slot = (*pos)[static_cast<size_t>(v.attr)][static_cast<size_t>(v.index)];
      if (slot >= 0) {
        return absl::StrCat(p.values[static_cast<size_t>(v.attr)][static_cast<size_t>(v.index)],
                            " is in two houses");
      }
      has[static_cast<size_t>(v.attr)] = true;
      slot = static_cast<int>(h);
    }
    for (size_t a = 0; a < has.size(); ++a) {
      if (!has[a]) return absl::StrCat("house ", h + 1, " has no ", p.attr_names[a]);
    }
  }
  return "";
}

class ZebraFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "zebra"; }
  std::string_view difficulty_help() const override {
    return "houses x attributes: 3x2, 3x3, 4x2, 4x3, 4x4, 5x3 for difficulty 1..6; clues are added "
           "until exactly one solution remains";
  }
  int max_difficulty() const override { return 6; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    static const int kShape[6][2] = {{3, 2}, {3, 3}, {4, 2}, {4, 3}, {4, 4}, {5, 3}};
    Rng rng(name(), seed, difficulty);
    Puzzle p;
    p.houses = kShape[difficulty - 1][0];
    std::vector<int> attrs = {0, 1, 2, 3, 4};
    rng.Shuffle(attrs);
    attrs.resize(static_cast<size_t>(kShape[difficulty - 1][1]));
    std::vector<std::vector<int>> sol;  // sol[attr][house] = value index
    for (int a : attrs) {
      std::vector<int> words = {1, 2, 3, 4, 5};
      rng.Shuffle(words);
      words.resize(static_cast<size_t>(p.houses));
      std::sort(words.begin(), words.end());  // values listed in pool order in the prompt
      p.attr_names.emplace_back(kPool[a][0]);
      p.values.emplace_back();
      for (int w : words) p.values.back().emplace_back(kPool[a][w]);
      std::vector<int> perm(static_cast<size_t>(p.houses));
      for (int i = 0; i < p.houses; ++i) perm[static_cast<size_t>(i)] = i;
      rng.Shuffle(perm);
      sol.push_back(perm);
    }
    AddCluesUntilUnique(sol, rng, &p);
    return MakeInstance(p, sol);
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<Puzzle> p = GetPuzzle(instance);
    if (!p.ok()) return p.status();
    std::vector<std::vector<Value>> houses;
    std::string why;
    if (!ParseHouses(answer, *p, &houses, &why)) return Unparseable(why);
    const std::string normalized = Render(*p, houses);
    Assignment pos;
    const std::string bad = ToAssignment(*p, houses, &pos);
    if (!bad.empty()) return Incorrect(bad, normalized);
    for (size_t i = 0; i < p->clues.size(); ++i) {
      if (!Holds(p->clues[i], pos)) {
        return Incorrect(absl::StrCat("clue ", i + 1, " (", ClueText(*p, p->clues[i]), ") is false"),
                         normalized);
      }
    }
    return Correct(normalized);
  }

 private:
  // Adds random true clues until the solution is unique: while the solver finds a second solution,
  // the next clue is one that this other solution violates (a random one of 100 draws, else the house
  // of a value on which the two differ), so every round removes at least one rival.
  static void AddCluesUntilUnique(const std::vector<std::vector<int>>& sol, Rng& rng, Puzzle* p) {
    const size_t k = p->attr_names.size();
    Assignment truth(k, std::vector<int>(static_cast<size_t>(p->houses)));
    for (size_t a = 0; a < k; ++a) {
      for (int h = 0; h < p->houses; ++h) truth[a][static_cast<size_t>(sol[a][static_cast<size_t>(h)])] = h;
    }
    for (;;) {
      std::vector<Assignment> found = Solver(*p).Solve(2);
      if (found.size() < 2) break;
      const Assignment& rival = found[0] == truth ? found[1] : found[0];
      std::optional<Clue> next;
      for (int draw = 0; draw < 100 && !next; ++draw) {
        Clue c = RandomTrueClue(*p, sol, rng);
        if (!Holds(c, rival)) next = c;
      }
      for (size_t a = 0; a < k && !next; ++a) {
        for (size_t v = 0; v < truth[a].size() && !next; ++v) {
          if (truth[a][v] != rival[a][v])
            next = Clue{"in_house", {static_cast<int>(a), static_cast<int>(v)}, {}, truth[a][v]};
        }
      }
      p->clues.push_back(*next);
    }
    rng.Shuffle(p->clues);
  }

  static absl::StatusOr<GeneratedInstance> MakeInstance(const Puzzle& p,
                                                        const std::vector<std::vector<int>>& sol) {
    GeneratedInstance g;
    nlohmann::json attributes = nlohmann::json::array();
    std::vector<std::string> attr_text;
    for (size_t a = 0; a < p.attr_names.size(); ++a) {
      attributes.push_back({{"name", p.attr_names[a]}, {"values", p.values[a]}});
      attr_text.push_back(absl::StrCat("a ", p.attr_names[a], " (", absl::StrJoin(p.values[a], ", "), ")"));
    }
    nlohmann::json clues = nlohmann::json::array();
    std::vector<std::string> clue_text;
    for (size_t i = 0; i < p.clues.size(); ++i) {
      clues.push_back(ClueJson(p, p.clues[i]));
      clue_text.push_back(absl::StrCat(i + 1, ". ", ClueText(p, p.clues[i]), "."));
    }
    g.instance = {{"houses", p.houses}, {"attributes", attributes}, {"clues", clues}};
    g.prompt = absl::StrCat(
        "Zebra puzzle: ", p.houses, " houses stand in a row, numbered 1 to ", p.houses,
        " from left to right. Each house has a different value of each attribute: ",
        absl::StrJoin(attr_text, "; "), ". Clues: ", absl::StrJoin(clue_text, " "),
        " Give every house from house 1 to house ", p.houses,
        " inside <answer></answer>, houses separated by ';', each house as its values separated by "
        "spaces (e.g. red dog; blue cat).");
    std::vector<std::string> houses;
    for (int h = 0; h < p.houses; ++h) {
      std::vector<std::string> words;
      for (size_t a = 0; a < sol.size(); ++a) {
        words.push_back(p.values[a][static_cast<size_t>(sol[a][static_cast<size_t>(h)])]);
      }
      houses.push_back(absl::StrJoin(words, " "));
    }
    g.witness = absl::StrJoin(houses, "; ");
    return g;
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewZebraFamily() { return std::make_unique<ZebraFamily>(); }

}  // namespace m1rl::reward::logic::internal
