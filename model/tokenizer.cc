#include "model/tokenizer.h"

#include <algorithm>
#include <climits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "model/tokenizer_bytes.h"

namespace m1rl::model {
namespace {

constexpr std::string_view kCharSpecials[] = {"<pad>", "<bos>", "<eos>"};

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

namespace {

// The "model" object of a parsed tokenizer.json, checked to be a BPE with a vocab.
absl::StatusOr<const nlohmann::json*> FindBpeModel(const nlohmann::json& j, const std::string& origin) {
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' is not a JSON object"));
  }
  auto model = j.find("model");
  if (model == j.end() || !model->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' has no 'model' object"));
  }
  if (auto t = model->find("type"); t != model->end() && t->is_string() && t->get<std::string>() != "BPE") {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer: '", origin, "' model.type must be BPE, got ", t->get<std::string>()));
  }
  if (auto vocab = model->find("vocab"); vocab == model->end() || !vocab->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' has no model.vocab object"));
  }
  return &*model;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromJsonString(std::string_view text,
                                                                           const std::string& origin) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  M1RL_ASSIGN_OR_RETURN(const nlohmann::json* model, FindBpeModel(j, origin));
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer());
  M1RL_RETURN_IF_ERROR(tok->ReadPipeline(j, origin));
  M1RL_ASSIGN_OR_RETURN(int32_t max_id, tok->ReadVocab((*model)["vocab"], origin));
  M1RL_RETURN_IF_ERROR(tok->ReadModelOptions(*model, origin));
  M1RL_RETURN_IF_ERROR(tok->ReadMerges(*model, origin));
  M1RL_ASSIGN_OR_RETURN(const int32_t max_added, tok->ReadAddedTokens(j, origin));
  tok->IndexTokens(std::max(max_id, max_added));
  return tok;
}

// The file's normalizer, pre_tokenizer (GPT-2's ByteLevel when the key is absent) and decoder.
absl::Status BpeTokenizer::ReadPipeline(const nlohmann::json& j, const std::string& origin) {
  nlohmann::json stages = {{"normalizer", j.value("normalizer", nlohmann::json())},
                           {"pre_tokenizer", j.value("pre_tokenizer", nlohmann::json())}};
  if (!j.contains("pre_tokenizer")) stages["pre_tokenizer"] = {{"type", "ByteLevel"}, {"use_regex", true}};
  const std::string where = absl::StrCat("tokenizer '", origin, "'");
  M1RL_ASSIGN_OR_RETURN(pipeline_, TextPipeline::FromJson(stages, where));
  M1RL_ASSIGN_OR_RETURN(decoder_, TokenDecoder::FromJson(j.value("decoder", nlohmann::json()),
                                                         pipeline_->byte_level(), where + ": decoder"));
  return absl::OkStatus();
}

// model.ignore_merges / byte_fallback / fuse_unk / unk_token (after ReadVocab: the unk token must be in it);
// the options m1rl does not implement are refused by name.
absl::Status BpeTokenizer::ReadModelOptions(const nlohmann::json& model, const std::string& origin) {
  ignore_merges_ = JsonFlag(model, "ignore_merges", false);
  byte_fallback_ = JsonFlag(model, "byte_fallback", false);
  fuse_unk_ = JsonFlag(model, "fuse_unk", false);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && !it->is_null() && *it != "") {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer: '", origin, "' model.", key, " ", it->dump(), " is not supported"));
    }
  }
  if (auto it = model.find("dropout"); it != model.end() && !it->is_null() && *it != 0) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer: '", origin, "' model.dropout ", it->dump(),
                                                   " is not supported (m1rl encodes deterministically)"));
  }
  auto unk = model.find("unk_token");
  if (unk == model.end() || unk->is_null()) return absl::OkStatus();
  if (!unk->is_string() || !vocab_.contains(unk->get<std::string>())) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer: '", origin, "' model.unk_token ", unk->dump(), " is not in model.vocab"));
  }
  unk_token_ = unk->get<std::string>();
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

namespace {

std::string ToByteLevel(std::string_view piece) {
  const auto& b2u = ByteToUnicode();
  std::string out;
  for (char c : piece) AppendUtf8(b2u[static_cast<unsigned char>(c)], &out);
  return out;
}

}  // namespace

// The word's characters as symbols; one missing from the vocab becomes its <0xNN> byte tokens (byte_fallback,
// when all of them exist), else unk_token (runs of unknowns fused into one with fuse_unk), else nothing.
std::vector<std::string> BpeTokenizer::InitialSymbols(std::string_view word) const {
  std::vector<std::string> symbols;
  bool after_unk = false;
  for (size_t i = 0; i < word.size();) {
    const size_t len = NextCodePoint(word, i).len;
    std::string c(word.substr(i, len));
    i += len;
    const bool known = vocab_.contains(c);
    if (!known && byte_fallback_) {
      std::vector<std::string> bytes;
      for (unsigned char b : c) bytes.push_back(ByteTokenName(b));
      if (std::all_of(bytes.begin(), bytes.end(), [&](const std::string& t) { return vocab_.contains(t); })) {
        symbols.insert(symbols.end(), bytes.begin(), bytes.end());
        after_unk = false;
        continue;
      }
    }
    if (known) {
      symbols.push_back(std::move(c));
    } else if (!unk_token_.empty() && !(after_unk && fuse_unk_)) {
      symbols.push_back(unk_token_);
    }
    after_unk = !known;
  }
  return symbols;
}

int32_t BpeTokenizer::MergeRank(const std::string& a, const std::string& b) const {
  auto it = merge_rank_.find(absl::StrCat(a, "\x01", b));
  return it == merge_rank_.end() ? -1 : it->second;
}

// Merges the lowest-ranked adjacent pair, the leftmost first among equal ranks, until none is left (the
// order of `tokenizers`). A heap of candidate pairs, each checked again when it comes up, keeps a long
// piece (a SentencePiece-style text is one piece) at O(n log n).
void BpeTokenizer::ApplyMerges(std::vector<std::string>* symbols) const {
  std::vector<std::string>& sym = *symbols;
  const size_t n = sym.size();
  std::vector<size_t> next(n), prev(n);  // a list over the live symbols; n is "none"
  for (size_t i = 0; i < n; ++i) {
    next[i] = i + 1;
    prev[i] = i == 0 ? n : i - 1;
  }
  using Candidate = std::pair<int32_t, size_t>;  // (rank, index of the left symbol)
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](size_t left) {
    if (left >= n || next[left] >= n) return;
    if (const int32_t rank = MergeRank(sym[left], sym[next[left]]); rank >= 0) heap.emplace(rank, left);
  };
  for (size_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const auto [rank, left] = heap.top();
    heap.pop();
    const size_t right = left < n ? next[left] : n;
    if (sym[left].empty() || right >= n || MergeRank(sym[left], sym[right]) != rank) continue;  // stale
    sym[left] += sym[right];
    sym[right].clear();  // dead: live symbols are never empty
    next[left] = next[right];
    if (next[left] < n) prev[next[left]] = left;
    push(prev[left]);
    push(left);
  }
  sym.erase(std::remove(sym.begin(), sym.end(), std::string()), sym.end());
}

void BpeTokenizer::EncodePiece(std::string_view piece, std::vector<int32_t>* out) const {
  const std::string word = pipeline_->byte_level() ? ToByteLevel(piece) : std::string(piece);
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  std::vector<std::string> symbols = InitialSymbols(word);
  ApplyMerges(&symbols);
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
    const std::string_view section = text.substr(start, end - start);
    for (const std::string& piece : pipeline_->Split(pipeline_->Normalize(section), start == 0)) {
      EncodePiece(piece, &ids);
    }
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
  std::vector<TokenDecoder::Token> tokens;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size_ || id_to_token_[id].empty()) continue;
    tokens.push_back({id_to_token_[id], is_special_[id]});
  }
  return decoder_->Decode(std::move(tokens));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& spec) {
  if (spec == "char" || spec.empty()) return std::unique_ptr<Tokenizer>(new CharTokenizer());
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> bpe, BpeTokenizer::FromFile(spec));
  return std::unique_ptr<Tokenizer>(std::move(bpe));
}

}  // namespace m1rl::model
