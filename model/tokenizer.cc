#include "model/tokenizer.h"

#include <algorithm>
#include <climits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace m1rl::model {
namespace {

constexpr std::string_view kCharSpecials[] = {"<pad>", "<bos>", "<eos>"};

// ---- UTF-8 helpers -------------------------------------------------------------------------------------

// Decodes the code point starting at byte i. An invalid or truncated sequence decodes as U+FFFD with
// length 1, so every byte is consumed exactly once.
struct CodePoint {
  uint32_t cp;
  size_t len;
};

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
  return {0xFFFD, 1};  // invalid byte: one-byte piece, classified as a letter-like symbol
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

}  // namespace

// ---- CharTokenizer -------------------------------------------------------------------------------------

CharTokenizer::CharTokenizer() = default;

std::vector<int32_t> CharTokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    bool special = false;
    for (int32_t s = 0; s < 3; ++s) {
      if (text.substr(i, kCharSpecials[s].size()) == kCharSpecials[s]) {
        ids.push_back(s);
        i += kCharSpecials[s].size();
        special = true;
        break;
      }
    }
    if (special) continue;
    const unsigned char c = static_cast<unsigned char>(text[i++]);
    if (c == '\n') {
      ids.push_back(3);
    } else if (c >= 0x20 && c <= 0x7E) {
      ids.push_back(4 + (c - 0x20));
    }
  }
  return ids;
}

std::string CharTokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id >= 0 && id < 3) {
      out += kCharSpecials[id];
    } else if (id == 3) {
      out.push_back('\n');
    } else if (id >= 4 && id < 99) {
      out.push_back(static_cast<char>(0x20 + (id - 4)));
    }
  }
  return out;
}

// ---- BpeTokenizer --------------------------------------------------------------------------------------

std::vector<std::string> BpeTokenizer::PreTokenize(std::string_view text) {
  return TextPipeline::Gpt2()->Split(text);
}

std::vector<std::string> BpeTokenizer::Pieces(std::string_view text) const {
  return pipeline_->Split(pipeline_->Normalize(text));
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("tokenizer: cannot open '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  return FromJsonString(ss.str(), path);
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromJsonString(std::string_view text,
                                                                           const std::string& origin) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' is not a JSON object"));
  }
  auto model_it = j.find("model");
  if (model_it == j.end() || !model_it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' has no 'model' object"));
  }
  const nlohmann::json& model = *model_it;
  if (auto t = model.find("type"); t != model.end() && t->is_string() && t->get<std::string>() != "BPE") {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer: '", origin, "' model.type must be BPE, got ", t->get<std::string>()));
  }
  auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' has no model.vocab object"));
  }
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer());
  M1RL_RETURN_IF_ERROR(tok->ReadPipeline(j, origin));
  M1RL_ASSIGN_OR_RETURN(int32_t max_id, tok->ReadVocab(*vocab_it, origin));
  if (auto im = model.find("ignore_merges"); im != model.end() && im->is_boolean()) {
    tok->ignore_merges_ = im->get<bool>();
  }
  M1RL_RETURN_IF_ERROR(tok->ReadMerges(model, origin));
  M1RL_ASSIGN_OR_RETURN(const int32_t max_added, tok->ReadAddedTokens(j, origin));
  tok->IndexTokens(std::max(max_id, max_added));
  return tok;
}

// The file's normalizer and pre_tokenizer (GPT-2's ByteLevel when the key is absent); byte-level only.
absl::Status BpeTokenizer::ReadPipeline(const nlohmann::json& j, const std::string& origin) {
  nlohmann::json stages = {{"normalizer", j.value("normalizer", nlohmann::json())},
                           {"pre_tokenizer", j.value("pre_tokenizer", nlohmann::json())}};
  if (!j.contains("pre_tokenizer")) stages["pre_tokenizer"] = {{"type", "ByteLevel"}, {"use_regex", true}};
  M1RL_ASSIGN_OR_RETURN(pipeline_, TextPipeline::FromJson(stages, absl::StrCat("tokenizer '", origin, "'")));
  if (!pipeline_->byte_level()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer '", origin,
                     "': pre_tokenizer has no ByteLevel step; only byte-level BPE "
                     "(GPT-2, Llama-3, Qwen2 style) is supported"));
  }
  return absl::OkStatus();
}

// model.vocab into vocab_; returns the largest id (-1 when empty).
absl::StatusOr<int32_t> BpeTokenizer::ReadVocab(const nlohmann::json& vocab, const std::string& origin) {
  int32_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' model.vocab[\"", it.key(),
                                                     "\"] must be a non-negative integer"));
    }
    const int32_t id = it.value().get<int32_t>();
    vocab_[it.key()] = id;
    max_id = std::max(max_id, id);
  }
  return max_id;
}

// model.merges ("a b" strings or [a, b] pairs) into merge_rank_, in rank order.
absl::Status BpeTokenizer::ReadMerges(const nlohmann::json& model, const std::string& origin) {
  auto merges_it = model.find("merges");
  if (merges_it == model.end()) return absl::OkStatus();
  if (!merges_it->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' model.merges must be a list"));
  }
  int32_t rank = 0;
  for (const auto& m : *merges_it) {
    std::string a, b;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' model.merges[", rank,
                                                       "] must be \"a b\", got \"", s, "\""));
      }
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer: '", origin, "' model.merges[", rank, "] must be a string or a pair"));
    }
    merge_rank_.emplace(absl::StrCat(a, "\x01", b), rank);
    ++rank;
  }
  return absl::OkStatus();
}

// added_tokens into specials_ (longest first, for literal matching); returns the largest id (-1 if none).
absl::StatusOr<int32_t> BpeTokenizer::ReadAddedTokens(const nlohmann::json& j, const std::string& origin) {
  int32_t max_id = -1;
  if (auto added = j.find("added_tokens"); added != j.end() && added->is_array()) {
    for (size_t i = 0; i < added->size(); ++i) {
      const auto& t = (*added)[i];
      if (!t.is_object() || !t.contains("id") || !t.contains("content") || !t["id"].is_number_integer() ||
          !t["content"].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' added_tokens[", i,
                                                       "] needs integer 'id' and string 'content'"));
      }
      const int32_t id = t["id"].get<int32_t>();
      specials_.emplace_back(t["content"].get<std::string>(), id);
      max_id = std::max(max_id, id);
    }
  }
  std::sort(specials_.begin(), specials_.end(),
            [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
  return max_id;
}

// id -> token tables over [0, max_id], and eos/bos/pad among the specials by the usual names.
void BpeTokenizer::IndexTokens(int32_t max_id) {
  vocab_size_ = max_id + 1;
  id_to_token_.assign(vocab_size_, "");
  is_special_.assign(vocab_size_, false);
  for (const auto& [s, id] : vocab_) id_to_token_[id] = s;
  for (const auto& [s, id] : specials_) {
    id_to_token_[id] = s;
    is_special_[id] = true;
  }
  auto find_special = [&](std::initializer_list<std::string_view> names) -> int32_t {
    for (std::string_view name : names) {
      for (const auto& [s, id] : specials_) {
        if (s == name) return id;
      }
    }
    return -1;
  };
  eos_id_ = find_special({"<end_of_sentence>", "<|endoftext|>", "</s>", "<eos>", "<|eot_id|>", "<|im_end|>"});
  bos_id_ = find_special({"<beginning_of_sentence>", "<s>", "<bos>", "<|begin_of_text|>"});
  pad_id_ = find_special({"<pad>", "<|pad|>", "[PAD]"});
}

void BpeTokenizer::EncodePiece(std::string_view piece, std::vector<int32_t>* out) const {
  const auto& b2u = ByteToUnicode();
  std::vector<std::string> symbols;
  std::string whole;
  for (char c : piece) {
    std::string s;
    AppendUtf8(b2u[static_cast<unsigned char>(c)], &s);
    whole += s;
    symbols.push_back(std::move(s));
  }
  if (ignore_merges_) {
    if (auto it = vocab_.find(whole); it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  // Repeatedly merge every occurrence of the lowest-ranked adjacent pair (GPT-2 BPE).
  while (symbols.size() > 1) {
    int32_t best = INT32_MAX;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = merge_rank_.find(symbols[i] + '\x01' + symbols[i + 1]);
      if (it != merge_rank_.end()) best = std::min(best, it->second);
    }
    if (best == INT32_MAX) break;
    std::vector<std::string> merged;
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size()) {
        auto it = merge_rank_.find(symbols[i] + '\x01' + symbols[i + 1]);
        if (it != merge_rank_.end() && it->second == best) {
          merged.push_back(symbols[i] + symbols[i + 1]);
          i += 2;
          continue;
        }
      }
      merged.push_back(symbols[i]);
      ++i;
    }
    symbols = std::move(merged);
  }
  for (const std::string& s : symbols) {
    auto it = vocab_.find(s);
    if (it != vocab_.end()) out->push_back(it->second);
  }
}

std::vector<int32_t> BpeTokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  size_t start = 0;
  auto flush = [&](size_t end) {
    if (end <= start) return;
    for (const std::string& piece : Pieces(text.substr(start, end - start))) EncodePiece(piece, &ids);
  };
  size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    for (const auto& [s, id] : specials_) {
      if (!s.empty() && text.substr(i, s.size()) == s) {
        flush(i);
        ids.push_back(id);
        i += s.size();
        start = i;
        matched = true;
        break;
      }
    }
    if (!matched) ++i;
  }
  flush(text.size());
  return ids;
}

std::string BpeTokenizer::Decode(const std::vector<int32_t>& ids) const {
  const auto& u2b = UnicodeToByte();
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size_) continue;
    const std::string& tok = id_to_token_[id];
    if (is_special_[id]) {
      out += tok;
      continue;
    }
    for (size_t i = 0; i < tok.size();) {
      CodePoint c = NextCodePoint(tok, i);
      auto it = u2b.find(c.cp);
      if (it != u2b.end()) out.push_back(static_cast<char>(it->second));
      i += c.len;
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& spec) {
  if (spec == "char" || spec.empty()) return std::unique_ptr<Tokenizer>(new CharTokenizer());
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> bpe, BpeTokenizer::FromFile(spec));
  return std::unique_ptr<Tokenizer>(std::move(bpe));
}

}  // namespace m1rl::model
