#include "model/text_pipeline.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace m1rl::model {

// ---- Regex ---------------------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<const Regex>> Regex::Compile(std::string_view pattern, bool literal,
                                                            const std::string& what) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  // PCRE2_LITERAL admits no PCRE2_UCP (nothing to classify in a literal).
  const uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                   &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrCat(what, ": the pattern does not compile at offset ", offset,
                                                   ": ", reinterpret_cast<const char*>(message)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: the interpreter is the fallback
  return std::shared_ptr<const Regex>(new Regex(code));
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::vector<std::pair<size_t, size_t>> Regex::FindAll(std::string_view s) const {
  auto* code = static_cast<pcre2_code*>(code_);
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
  std::vector<std::pair<size_t, size_t>> out;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t start = 0;
  while (start <= s.size()) {
    const int rc = pcre2_match(code, subject, s.size(), start, 0, md.get(), nullptr);
    if (rc < 0) break;  // PCRE2_ERROR_NOMATCH, or a resource limit: no further matches
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    out.emplace_back(ov[0], ov[1]);
    if (ov[1] > ov[0]) {
      start = ov[1];
      continue;
    }
    // An empty match: step over one UTF-8 character so the scan advances.
    size_t next = ov[1] + 1;
    while (next < s.size() && (static_cast<unsigned char>(s[next]) & 0xC0) == 0x80) ++next;
    start = next;
  }
  return out;
}

// ---- Components ----------------------------------------------------------------------------------------

struct TextPipeline::Normalizer {
  virtual ~Normalizer() = default;
  virtual void Apply(std::string* text) const = 0;
};

struct TextPipeline::PreTokenizer {
  virtual ~PreTokenizer() = default;
  // Splits every piece further (in place, order kept).
  virtual void Apply(std::vector<std::string>* pieces) const = 0;
};

namespace {

using json = nlohmann::json;
using Normalizer = TextPipeline::Normalizer;
using PreTokenizer = TextPipeline::PreTokenizer;

// GPT-2's split pattern, as the ByteLevel pre-tokenizer of `tokenizers` writes it.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(const icu::Normalizer2* n) : n_(n) {}
  void Apply(std::string* text) const override {
    UErrorCode status = U_ZERO_ERROR;
    const icu::UnicodeString out = n_->normalize(icu::UnicodeString::fromUTF8(*text), status);
    if (U_FAILURE(status)) return;  // ICU fails only on allocation: leave the text as it is
    text->clear();
    out.toUTF8String(*text);
  }

 private:
  const icu::Normalizer2* n_;  // ICU singleton, never freed
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void Apply(std::string* text) const override {
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(*text);
    u.toLower(icu::Locale::getRoot());
    text->clear();
    u.toUTF8String(*text);
  }
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void Apply(std::string* text) const override {
    if (!text->empty()) text->insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::shared_ptr<const Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void Apply(std::string* text) const override {
    std::string out;
    size_t prev = 0;
    for (const auto& [b, e] : pattern_->FindAll(*text)) {
      if (e == b) continue;
      out.append(*text, prev, b - prev);
      out += content_;
      prev = e;
    }
    out.append(*text, prev, std::string::npos);
    *text = std::move(out);
  }

 private:
  std::shared_ptr<const Regex> pattern_;
  std::string content_;
};

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct Segment {
  size_t begin, end;
  bool match;
};

// The `tokenizers` library's SplitDelimiterBehavior over the segments that cover a piece.
std::vector<Segment> ApplyBehavior(const std::vector<Segment>& segs, Behavior behavior) {
  std::vector<Segment> out;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kRemoved:
      for (const Segment& s : segs) {
        if (!s.match) out.push_back(s);
      }
      return out;
    case Behavior::kIsolated:
      return segs;
    case Behavior::kMergedWithPrevious:
      for (const Segment& s : segs) {
        if (s.match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.match;
      }
      return out;
    case Behavior::kMergedWithNext:
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->match && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        previous_match = it->match;
      }
      std::reverse(out.begin(), out.end());
      return out;
    case Behavior::kContiguous:
      for (const Segment& s : segs) {
        if (s.match == previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.match;
      }
      return out;
  }
  return out;
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(std::shared_ptr<const Regex> pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void Apply(std::vector<std::string>* pieces) const override {
    std::vector<std::string> out;
    for (const std::string& piece : *pieces) {
      for (const Segment& s : ApplyBehavior(Segments(piece), behavior_)) {
        if (s.end > s.begin) out.push_back(piece.substr(s.begin, s.end - s.begin));
      }
    }
    *pieces = std::move(out);
  }

 private:
  std::vector<Segment> Segments(const std::string& piece) const {
    std::vector<Segment> segs;
    size_t prev = 0;
    for (const auto& [b, e] : pattern_->FindAll(piece)) {
      if (b > prev) segs.push_back({prev, b, invert_});
      segs.push_back({b, e, !invert_});
      prev = e;
    }
    if (prev < piece.size()) segs.push_back({prev, piece.size(), invert_});
    return segs;
  }

  std::shared_ptr<const Regex> pattern_;
  Behavior behavior_;
  bool invert_;
};

// ByteLevel: an optional leading space per piece, then (use_regex) GPT-2's split.
class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::unique_ptr<SplitPreTokenizer> split)
      : add_prefix_space_(add_prefix_space), split_(std::move(split)) {}
  void Apply(std::vector<std::string>* pieces) const override {
    if (add_prefix_space_) {
      for (std::string& p : *pieces) {
        if (!p.empty() && p[0] != ' ') p.insert(0, " ");
      }
    }
    if (split_ != nullptr) split_->Apply(pieces);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<SplitPreTokenizer> split_;
};

absl::StatusOr<std::unique_ptr<SplitPreTokenizer>> MakeSplit(std::string_view pattern, bool literal,
                                                             Behavior behavior, bool invert,
                                                             const std::string& what) {
  M1RL_ASSIGN_OR_RETURN(std::shared_ptr<const Regex> re, Regex::Compile(pattern, literal, what));
  return std::make_unique<SplitPreTokenizer>(std::move(re), behavior, invert);
}

// {"String": s} or {"Regex": r} -> (pattern, literal).
absl::StatusOr<std::pair<std::string, bool>> ReadPattern(const json& j, const std::string& where) {
  if (j.is_object() && j.size() == 1) {
    if (auto it = j.find("String"); it != j.end() && it->is_string())
      return std::make_pair(it->get<std::string>(), true);
    if (auto it = j.find("Regex"); it != j.end() && it->is_string())
      return std::make_pair(it->get<std::string>(), false);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ".pattern must be {\"String\": ...} or {\"Regex\": ...}, got ", j.dump()));
}

absl::StatusOr<Behavior> ReadBehavior(const json& j, const std::string& where) {
  const std::string b = j.is_string() ? j.get<std::string>() : "";
  if (b == "Removed") return Behavior::kRemoved;
  if (b == "Isolated") return Behavior::kIsolated;
  if (b == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::kMergedWithNext;
  if (b == "Contiguous") return Behavior::kContiguous;
  return absl::InvalidArgumentError(absl::StrCat(where, ".behavior '", j.dump(), "' is not supported"));
}

bool Flag(const json& j, const char* key, bool def) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : def;
}

std::string TypeOf(const json& j) {
  auto it = j.find("type");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

absl::Status AddNormalizer(const json& j, const std::string& where,
                           std::vector<std::unique_ptr<Normalizer>>* out) {
  if (j.is_null()) return absl::OkStatus();
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " must be an object or null"));
  const std::string type = TypeOf(j);
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* unicode = nullptr;
  if (type == "NFC") unicode = icu::Normalizer2::getNFCInstance(status);
  if (type == "NFD") unicode = icu::Normalizer2::getNFDInstance(status);
  if (type == "NFKC") unicode = icu::Normalizer2::getNFKCInstance(status);
  if (type == "NFKD") unicode = icu::Normalizer2::getNFKDInstance(status);
  if (U_FAILURE(status)) {
    return absl::InternalError(absl::StrCat(where, ": ICU has no ", type, " data: ", u_errorName(status)));
  }
  if (unicode != nullptr) {
    out->push_back(std::make_unique<UnicodeNormalizer>(unicode));
  } else if (type == "Lowercase") {
    out->push_back(std::make_unique<LowercaseNormalizer>());
  } else if (type == "Prepend" && j.contains("prepend") && j["prepend"].is_string()) {
    out->push_back(std::make_unique<PrependNormalizer>(j["prepend"].get<std::string>()));
  } else if (type == "Replace" && j.contains("content") && j["content"].is_string()) {
    M1RL_ASSIGN_OR_RETURN(auto pattern, ReadPattern(j.value("pattern", json()), where));
    M1RL_ASSIGN_OR_RETURN(auto re, Regex::Compile(pattern.first, pattern.second, where + ".pattern"));
    out->push_back(std::make_unique<ReplaceNormalizer>(std::move(re), j["content"].get<std::string>()));
  } else if (type == "Sequence" && j.contains("normalizers") && j["normalizers"].is_array()) {
    for (size_t i = 0; i < j["normalizers"].size(); ++i) {
      M1RL_RETURN_IF_ERROR(
          AddNormalizer(j["normalizers"][i], absl::StrCat(where, ".normalizers[", i, "]"), out));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".type '", type,
                     "' is not supported (or its fields are missing); supported: "
                     "NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Sequence"));
  }
  return absl::OkStatus();
}

absl::Status AddPreTokenizer(const json& j, const std::string& where,
                             std::vector<std::unique_ptr<PreTokenizer>>* out, bool* byte_level) {
  if (j.is_null()) return absl::OkStatus();
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " must be an object or null"));
  const std::string type = TypeOf(j);
  if (type == "ByteLevel") {
    std::unique_ptr<SplitPreTokenizer> split;
    if (Flag(j, "use_regex", true)) {
      M1RL_ASSIGN_OR_RETURN(split, MakeSplit(kGpt2Pattern, false, Behavior::kIsolated, false, where));
    }
    out->push_back(
        std::make_unique<ByteLevelPreTokenizer>(Flag(j, "add_prefix_space", false), std::move(split)));
    *byte_level = true;
  } else if (type == "Split") {
    M1RL_ASSIGN_OR_RETURN(auto pattern, ReadPattern(j.value("pattern", json()), where));
    M1RL_ASSIGN_OR_RETURN(Behavior behavior, ReadBehavior(j.value("behavior", json()), where));
    M1RL_ASSIGN_OR_RETURN(auto split, MakeSplit(pattern.first, pattern.second, behavior,
                                                Flag(j, "invert", false), where + ".pattern"));
    out->push_back(std::move(split));
  } else if (type == "Digits") {
    const bool individual = Flag(j, "individual_digits", false);
    M1RL_ASSIGN_OR_RETURN(auto split, MakeSplit(individual ? R"(\p{N})" : R"(\p{N}+)", false,
                                                Behavior::kIsolated, false, where));
    out->push_back(std::move(split));
  } else if (type == "Whitespace") {
    // `tokenizers`: \w+|[^\w\s]+ kept, the rest (whitespace) removed.
    M1RL_ASSIGN_OR_RETURN(auto split, MakeSplit(R"(\w+|[^\w\s]+)", false, Behavior::kRemoved, true, where));
    out->push_back(std::move(split));
  } else if (type == "WhitespaceSplit") {
    M1RL_ASSIGN_OR_RETURN(auto split, MakeSplit(R"(\s+)", false, Behavior::kRemoved, false, where));
    out->push_back(std::move(split));
  } else if (type == "Sequence" && j.contains("pretokenizers") && j["pretokenizers"].is_array()) {
    for (size_t i = 0; i < j["pretokenizers"].size(); ++i) {
      M1RL_RETURN_IF_ERROR(AddPreTokenizer(j["pretokenizers"][i],
                                           absl::StrCat(where, ".pretokenizers[", i, "]"), out, byte_level));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".type '", type,
                     "' is not supported; supported: ByteLevel, Split, Digits, Whitespace, WhitespaceSplit, "
                     "Sequence"));
  }
  return absl::OkStatus();
}

}  // namespace

// ---- TextPipeline --------------------------------------------------------------------------------------

TextPipeline::~TextPipeline() = default;

absl::StatusOr<std::unique_ptr<TextPipeline>> TextPipeline::FromJson(const json& tokenizer_json,
                                                                     const std::string& origin) {
  std::unique_ptr<TextPipeline> p(new TextPipeline());
  const json null;
  auto field = [&](const char* key) -> const json& {
    auto it = tokenizer_json.find(key);
    return it == tokenizer_json.end() ? null : *it;
  };
  M1RL_RETURN_IF_ERROR(AddNormalizer(field("normalizer"), origin + ": normalizer", &p->normalizers_));
  M1RL_RETURN_IF_ERROR(AddPreTokenizer(field("pre_tokenizer"), origin + ": pre_tokenizer",
                                       &p->pre_tokenizers_, &p->byte_level_));
  return p;
}

std::unique_ptr<TextPipeline> TextPipeline::Gpt2() {
  absl::StatusOr<std::unique_ptr<TextPipeline>> p = FromJson(
      json{{"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}}},
      "GPT-2 default");
  return std::move(p).value();  // a constant pattern that compiles (tested)
}

std::string TextPipeline::Normalize(std::string_view text) const {
  std::string out(text);
  for (const auto& n : normalizers_) n->Apply(&out);
  return out;
}

std::vector<std::string> TextPipeline::Split(std::string_view text) const {
  std::vector<std::string> pieces;
  if (!text.empty()) pieces.emplace_back(text);
  for (const auto& p : pre_tokenizers_) p->Apply(&pieces);
  return pieces;
}

}  // namespace m1rl::model
