#include "model/text_pipeline.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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

std::string Regex::ReplaceAll(std::string_view s, std::string_view content) const {
  std::string out;
  size_t prev = 0;
  for (const auto& [b, e] : FindAll(s)) {
    if (e == b) continue;
    out.append(s.substr(prev, b - prev));
    out.append(content);
    prev = e;
  }
  out.append(s.substr(prev));
  return out;
}

// ---- tokenizer.json helpers ---------------------------------------------------------------------------

bool JsonFlag(const nlohmann::json& j, const char* key, bool def) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : def;
}

std::string JsonType(const nlohmann::json& j) {
  auto it = j.find("type");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

absl::StatusOr<std::shared_ptr<const Regex>> CompilePattern(const nlohmann::json& pattern,
                                                            const std::string& where) {
  if (pattern.is_object() && pattern.size() == 1) {
    if (auto it = pattern.find("String"); it != pattern.end() && it->is_string()) {
      return Regex::Compile(it->get<std::string>(), true, where + ".pattern");
    }
    if (auto it = pattern.find("Regex"); it != pattern.end() && it->is_string()) {
      return Regex::Compile(it->get<std::string>(), false, where + ".pattern");
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ".pattern must be {\"String\": ...} or {\"Regex\": ...}, got ", pattern.dump()));
}

namespace {

absl::StatusOr<PrependScheme> ReadPrependScheme(const nlohmann::json& j, const std::string& where) {
  // The legacy key: add_prefix_space false means "never" (and must not contradict a declared scheme).
  const bool legacy_off = j.contains("add_prefix_space") && !JsonFlag(j, "add_prefix_space", true);
  auto it = j.find("prepend_scheme");
  if (it == j.end() || it->is_null()) return legacy_off ? PrependScheme::kNever : PrependScheme::kAlways;
  const std::string s = it->is_string() ? it->get<std::string>() : it->dump();
  if (s == "never") return PrependScheme::kNever;
  if (legacy_off) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": add_prefix_space false contradicts prepend_scheme '", s, "'"));
  }
  if (s == "always") return PrependScheme::kAlways;
  if (s == "first") return PrependScheme::kFirst;
  return absl::InvalidArgumentError(
      absl::StrCat(where, ".prepend_scheme '", s, "' is not supported; supported: always, first, never"));
}

}  // namespace

absl::StatusOr<MetaspaceOptions> ReadMetaspaceOptions(const nlohmann::json& j, const std::string& where) {
  MetaspaceOptions options;
  if (auto it = j.find("replacement"); it != j.end()) {
    if (!it->is_string() || it->get<std::string>().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".replacement must be a one-character string"));
    }
    options.replacement = it->get<std::string>();
  }
  M1RL_ASSIGN_OR_RETURN(options.prepend_scheme, ReadPrependScheme(j, where));
  options.split = JsonFlag(j, "split", true);
  return options;
}

// ---- Components ----------------------------------------------------------------------------------------

struct TextPipeline::Normalizer {
  virtual ~Normalizer() = default;
  virtual void Apply(std::string* text) const = 0;
};

struct TextPipeline::PreTokenizer {
  virtual ~PreTokenizer() = default;
  // Splits every piece further (in place, order kept). `at_start`: pieces[0] begins the whole input (not
  // a section after an added token), which Metaspace's prepend_scheme "first" asks.
  virtual void Apply(std::vector<std::string>* pieces, bool at_start) const = 0;
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
  void Apply(std::string* text) const override { *text = pattern_->ReplaceAll(*text, content_); }

 private:
  std::shared_ptr<const Regex> pattern_;
  std::string content_;
};

// Strips Unicode White_Space (Rust's char::is_whitespace) from either end; invalid UTF-8 stops the scan.
class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void Apply(std::string* text) const override {
    const auto* s = reinterpret_cast<const uint8_t*>(text->data());
    int32_t begin = 0;
    auto end = static_cast<int32_t>(text->size());
    while (left_ && begin < end) {
      int32_t i = begin;
      UChar32 c = 0;
      U8_NEXT(s, i, end, c);
      if (c < 0 || !u_isUWhiteSpace(c)) break;
      begin = i;
    }
    while (right_ && end > begin) {
      int32_t i = end;
      UChar32 c = 0;
      U8_PREV(s, begin, i, c);
      if (c < 0 || !u_isUWhiteSpace(c)) break;
      end = i;
    }
    *text = text->substr(begin, end - begin);
  }

 private:
  bool left_, right_;
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
  void Apply(std::vector<std::string>* pieces, bool /*at_start*/) const override {
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
  void Apply(std::vector<std::string>* pieces, bool at_start) const override {
    if (add_prefix_space_) {
      for (std::string& p : *pieces) {
        if (!p.empty() && p[0] != ' ') p.insert(0, " ");
      }
    }
    if (split_ != nullptr) split_->Apply(pieces, at_start);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<SplitPreTokenizer> split_;
};

// Metaspace: spaces become `replacement`, which is prepended per the scheme; `split` cuts before each one.
class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(MetaspaceOptions options, std::unique_ptr<SplitPreTokenizer> split)
      : options_(std::move(options)), split_(std::move(split)) {}
  void Apply(std::vector<std::string>* pieces, bool at_start) const override {
    for (size_t i = 0; i < pieces->size(); ++i) {
      std::string& p = (*pieces)[i];
      p = absl::StrReplaceAll(p, {{" ", options_.replacement}});
      const bool prepend = options_.prepend_scheme == PrependScheme::kAlways ||
                           (options_.prepend_scheme == PrependScheme::kFirst && at_start && i == 0);
      if (prepend && !absl::StartsWith(p, options_.replacement)) p.insert(0, options_.replacement);
    }
    if (split_ != nullptr) split_->Apply(pieces, at_start);
  }

 private:
  MetaspaceOptions options_;
  std::unique_ptr<SplitPreTokenizer> split_;
};

absl::StatusOr<std::unique_ptr<SplitPreTokenizer>> MakeSplit(std::string_view pattern, bool literal,
                                                             Behavior behavior, bool invert,
                                                             const std::string& what) {
  M1RL_ASSIGN_OR_RETURN(std::shared_ptr<const Regex> re, Regex::Compile(pattern, literal, what));
  return std::make_unique<SplitPreTokenizer>(std::move(re), behavior, invert);
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

bool HasString(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string();
}

// ---- normalizer ----------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Normalizer>> MakeUnicodeNormalizer(const std::string& type,
                                                                  const std::string& where) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = type == "NFC"    ? icu::Normalizer2::getNFCInstance(status)
                              : type == "NFD"  ? icu::Normalizer2::getNFDInstance(status)
                              : type == "NFKC" ? icu::Normalizer2::getNFKCInstance(status)
                                               : icu::Normalizer2::getNFKDInstance(status);
  if (U_FAILURE(status)) {
    return absl::InternalError(absl::StrCat(where, ": ICU has no ", type, " data: ", u_errorName(status)));
  }
  return std::make_unique<UnicodeNormalizer>(n);
}

absl::StatusOr<std::unique_ptr<Normalizer>> MakeReplaceNormalizer(const json& j, const std::string& where) {
  M1RL_ASSIGN_OR_RETURN(std::shared_ptr<const Regex> re, CompilePattern(j.value("pattern", json()), where));
  return std::make_unique<ReplaceNormalizer>(std::move(re), j["content"].get<std::string>());
}

// One normalizer other than Sequence.
absl::StatusOr<std::unique_ptr<Normalizer>> MakeNormalizer(const json& j, const std::string& type,
                                                           const std::string& where) {
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    return MakeUnicodeNormalizer(type, where);
  }
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Prepend" && HasString(j, "prepend")) {
    return std::make_unique<PrependNormalizer>(j["prepend"].get<std::string>());
  }
  if (type == "Replace" && HasString(j, "content")) return MakeReplaceNormalizer(j, where);
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(JsonFlag(j, "strip_left", false),
                                             JsonFlag(j, "strip_right", false));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ".type '", type,
                   "' is not supported (or its fields are missing); supported: "
                   "NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence"));
}

absl::Status AddNormalizer(const json& j, const std::string& where,
                           std::vector<std::unique_ptr<Normalizer>>* out) {
  if (j.is_null()) return absl::OkStatus();
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " must be an object or null"));
  const std::string type = JsonType(j);
  if (type == "Sequence" && j.contains("normalizers") && j["normalizers"].is_array()) {
    for (size_t i = 0; i < j["normalizers"].size(); ++i) {
      M1RL_RETURN_IF_ERROR(
          AddNormalizer(j["normalizers"][i], absl::StrCat(where, ".normalizers[", i, "]"), out));
    }
    return absl::OkStatus();
  }
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> n, MakeNormalizer(j, type, where));
  out->push_back(std::move(n));
  return absl::OkStatus();
}

// ---- pre_tokenizer -------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeByteLevel(const json& j, const std::string& where) {
  std::unique_ptr<SplitPreTokenizer> split;
  if (JsonFlag(j, "use_regex", true)) {
    M1RL_ASSIGN_OR_RETURN(split, MakeSplit(kGpt2Pattern, false, Behavior::kIsolated, false, where));
  }
  return std::make_unique<ByteLevelPreTokenizer>(JsonFlag(j, "add_prefix_space", false), std::move(split));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeSplitFromJson(const json& j, const std::string& where) {
  M1RL_ASSIGN_OR_RETURN(std::shared_ptr<const Regex> re, CompilePattern(j.value("pattern", json()), where));
  M1RL_ASSIGN_OR_RETURN(Behavior behavior, ReadBehavior(j.value("behavior", json()), where));
  return std::make_unique<SplitPreTokenizer>(std::move(re), behavior, JsonFlag(j, "invert", false));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeMetaspace(const json& j, const std::string& where) {
  M1RL_ASSIGN_OR_RETURN(MetaspaceOptions options, ReadMetaspaceOptions(j, where));
  std::unique_ptr<SplitPreTokenizer> split;
  if (options.split) {
    M1RL_ASSIGN_OR_RETURN(split,
                          MakeSplit(options.replacement, true, Behavior::kMergedWithNext, false, where));
  }
  return std::make_unique<MetaspacePreTokenizer>(std::move(options), std::move(split));
}

// One pre-tokenizer other than Sequence.
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakePreTokenizer(const json& j, const std::string& type,
                                                               const std::string& where) {
  if (type == "ByteLevel") return MakeByteLevel(j, where);
  if (type == "Split") return MakeSplitFromJson(j, where);
  if (type == "Metaspace") return MakeMetaspace(j, where);
  if (type == "Digits") {
    const bool individual = JsonFlag(j, "individual_digits", false);
    return MakeSplit(individual ? R"(\p{N})" : R"(\p{N}+)", false, Behavior::kIsolated, false, where);
  }
  // `tokenizers`: \w+|[^\w\s]+ kept, the rest (whitespace) removed.
  if (type == "Whitespace") return MakeSplit(R"(\w+|[^\w\s]+)", false, Behavior::kRemoved, true, where);
  if (type == "WhitespaceSplit") return MakeSplit(R"(\s+)", false, Behavior::kRemoved, false, where);
  return absl::InvalidArgumentError(
      absl::StrCat(where, ".type '", type,
                   "' is not supported; supported: ByteLevel, Split, Metaspace, Digits, Whitespace, "
                   "WhitespaceSplit, Sequence"));
}

absl::Status AddPreTokenizer(const json& j, const std::string& where,
                             std::vector<std::unique_ptr<PreTokenizer>>* out, bool* byte_level) {
  if (j.is_null()) return absl::OkStatus();
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " must be an object or null"));
  const std::string type = JsonType(j);
  if (type == "Sequence" && j.contains("pretokenizers") && j["pretokenizers"].is_array()) {
    for (size_t i = 0; i < j["pretokenizers"].size(); ++i) {
      M1RL_RETURN_IF_ERROR(AddPreTokenizer(j["pretokenizers"][i],
                                           absl::StrCat(where, ".pretokenizers[", i, "]"), out, byte_level));
    }
    return absl::OkStatus();
  }
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> p, MakePreTokenizer(j, type, where));
  out->push_back(std::move(p));
  if (type == "ByteLevel") *byte_level = true;
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

std::vector<std::string> TextPipeline::Split(std::string_view text, bool at_start) const {
  std::vector<std::string> pieces;
  if (!text.empty()) pieces.emplace_back(text);
  for (const auto& p : pre_tokenizers_) p->Apply(&pieces, at_start);
  return pieces;
}

}  // namespace m1rl::model
