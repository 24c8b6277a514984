#include "model/tokenizer_decoder.h"

#include <unicode/utf8.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "model/text_pipeline.h"
#include "model/tokenizer_bytes.h"

namespace m1rl::model {

using Token = TokenDecoder::Token;

struct TokenDecoder::Stage {
  virtual ~Stage() = default;
  virtual void Apply(std::vector<Token>* tokens) const = 0;
};

namespace {

using json = nlohmann::json;
using Stage = TokenDecoder::Stage;

// Byte-level characters back to bytes, all tokens fused into one (special tokens verbatim).
class ByteLevelStage final : public Stage {
 public:
  void Apply(std::vector<Token>* tokens) const override {
    const auto& u2b = UnicodeToByte();
    std::string out;
    for (const Token& t : *tokens) {
      if (t.special) {
        out += t.text;
        continue;
      }
      for (size_t i = 0; i < t.text.size();) {
        const CodePoint c = NextCodePoint(t.text, i);
        if (auto it = u2b.find(c.cp); it != u2b.end()) out.push_back(static_cast<char>(it->second));
        i += c.len;
      }
    }
    *tokens = {Token{std::move(out), false}};
  }
};

class MetaspaceStage final : public Stage {
 public:
  explicit MetaspaceStage(MetaspaceOptions options) : options_(std::move(options)) {}
  void Apply(std::vector<Token>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      // `tokenizers` drops every replacement of the first token (not only a leading one).
      const bool drop = i == 0 && options_.prepend_scheme != PrependScheme::kNever;
      std::string& text = (*tokens)[i].text;
      text = absl::StrReplaceAll(text, {{options_.replacement, drop ? "" : " "}});
    }
  }

 private:
  MetaspaceOptions options_;
};

class ReplaceStage final : public Stage {
 public:
  ReplaceStage(std::shared_ptr<const Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void Apply(std::vector<Token>* tokens) const override {
    for (Token& t : *tokens) t.text = pattern_->ReplaceAll(t.text, content_);
  }

 private:
  std::shared_ptr<const Regex> pattern_;
  std::string content_;
};

bool IsValidUtf8(const std::string& s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  for (int32_t i = 0; i < n;) {
    UChar32 c = 0;
    U8_NEXT(p, i, n, c);
    if (c < 0) return false;
  }
  return true;
}

class ByteFallbackStage final : public Stage {
 public:
  void Apply(std::vector<Token>* tokens) const override {
    std::vector<Token> out;
    std::string bytes;
    for (Token& t : *tokens) {
      const int b = ByteOfTokenName(t.text);
      if (b >= 0) {
        bytes.push_back(static_cast<char>(b));
        continue;
      }
      Flush(&bytes, &out);
      out.push_back(std::move(t));
    }
    Flush(&bytes, &out);
    *tokens = std::move(out);
  }

 private:
  // A run of bytes as one token when it is UTF-8, else one U+FFFD token per byte (as `tokenizers`).
  static void Flush(std::string* bytes, std::vector<Token>* out) {
    if (bytes->empty()) return;
    if (IsValidUtf8(*bytes)) {
      out->push_back({*bytes, false});
    } else {
      for (size_t i = 0; i < bytes->size(); ++i) out->push_back({"\xEF\xBF\xBD", false});
    }
    bytes->clear();
  }
};

class FuseStage final : public Stage {
 public:
  void Apply(std::vector<Token>* tokens) const override {
    std::string all;
    for (const Token& t : *tokens) all += t.text;
    *tokens = {Token{std::move(all), false}};
  }
};

// Up to `start` leading and `stop` trailing copies of `content` (one character) off every token.
class StripStage final : public Stage {
 public:
  StripStage(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void Apply(std::vector<Token>* tokens) const override {
    if (content_.empty()) return;
    for (Token& t : *tokens) {
      absl::string_view s = t.text;
      for (size_t i = 0; i < start_; ++i) {
        if (!absl::ConsumePrefix(&s, content_)) break;
      }
      for (size_t i = 0; i < stop_; ++i) {
        if (!absl::ConsumeSuffix(&s, content_)) break;
      }
      t.text.assign(s.data(), s.size());
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

absl::StatusOr<std::unique_ptr<Stage>> MakeReplace(const json& j, const std::string& where) {
  auto content = j.find("content");
  if (content == j.end() || !content->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".content must be a string"));
  }
  M1RL_ASSIGN_OR_RETURN(std::shared_ptr<const Regex> re, CompilePattern(j.value("pattern", json()), where));
  return std::make_unique<ReplaceStage>(std::move(re), content->get<std::string>());
}

absl::StatusOr<std::unique_ptr<Stage>> MakeStrip(const json& j, const std::string& where) {
  auto count = [&](const char* key) -> absl::StatusOr<size_t> {
    auto it = j.find(key);
    if (it == j.end()) return 0;
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " must be a non-negative integer"));
    }
    return it->get<size_t>();
  };
  M1RL_ASSIGN_OR_RETURN(const size_t start, count("start"));
  M1RL_ASSIGN_OR_RETURN(const size_t stop, count("stop"));
  auto content = j.find("content");
  if (content == j.end() || !content->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".content must be a one-character string"));
  }
  return std::make_unique<StripStage>(content->get<std::string>(), start, stop);
}

absl::StatusOr<std::unique_ptr<Stage>> MakeMetaspace(const json& j, const std::string& where) {
  M1RL_ASSIGN_OR_RETURN(MetaspaceOptions options, ReadMetaspaceOptions(j, where));
  return std::make_unique<MetaspaceStage>(std::move(options));
}

// One decoder other than Sequence.
absl::StatusOr<std::unique_ptr<Stage>> MakeStage(const json& j, const std::string& type,
                                                 const std::string& where) {
  if (type == "ByteLevel") return std::make_unique<ByteLevelStage>();
  if (type == "Metaspace") return MakeMetaspace(j, where);
  if (type == "Replace") return MakeReplace(j, where);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackStage>();
  if (type == "Fuse") return std::make_unique<FuseStage>();
  if (type == "Strip") return MakeStrip(j, where);
  return absl::InvalidArgumentError(
      absl::StrCat(where, ".type '", type,
                   "' is not supported; supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, "
                   "Sequence"));
}

absl::Status AddStages(const json& j, const std::string& where, std::vector<std::unique_ptr<Stage>>* out) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " must be an object or null"));
  const std::string type = JsonType(j);
  if (type == "Sequence") {
    auto list = j.find("decoders");
    if (list == j.end() || !list->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".decoders must be a list"));
    }
    for (size_t i = 0; i < list->size(); ++i) {
      M1RL_RETURN_IF_ERROR(AddStages((*list)[i], absl::StrCat(where, ".decoders[", i, "]"), out));
    }
    return absl::OkStatus();
  }
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<Stage> stage, MakeStage(j, type, where));
  out->push_back(std::move(stage));
  return absl::OkStatus();
}

}  // namespace

TokenDecoder::~TokenDecoder() = default;

absl::StatusOr<std::unique_ptr<TokenDecoder>> TokenDecoder::FromJson(const json& decoder,
                                                                     bool null_is_byte_level,
                                                                     const std::string& where) {
  std::unique_ptr<TokenDecoder> d(new TokenDecoder());
  if (decoder.is_null()) {
    if (null_is_byte_level) d->stages_.push_back(std::make_unique<ByteLevelStage>());
    d->join_with_spaces_ = !null_is_byte_level;
    return d;
  }
  M1RL_RETURN_IF_ERROR(AddStages(decoder, where, &d->stages_));
  return d;
}

std::string TokenDecoder::Decode(std::vector<Token> tokens) const {
  for (const auto& stage : stages_) stage->Apply(&tokens);
  return absl::StrJoin(tokens, join_with_spaces_ ? " " : "",
                       [](std::string* out, const Token& t) { out->append(t.text); });
}

}  // namespace m1rl::model
