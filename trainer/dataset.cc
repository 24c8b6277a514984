#include "trainer/dataset.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/random.h"

namespace m1rl::trainer {
namespace {

absl::StatusOr<std::string> OptionalText(const nlohmann::json& row, const char* key,
                                         const std::string& where) {
  if (!row.contains(key) || row[key].is_null()) return std::string();
  const nlohmann::json& v = row[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": field '", key, "' must be a string or number, got ", v.type_name()));
}

}  // namespace

absl::StatusOr<PromptDataset> PromptDataset::Load(const std::string& path,
                                                  const std::string& default_domain) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("dataset ", path, ": cannot open"));
  PromptDataset ds;
  ds.path_ = path;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      ++ds.blank_lines_;
      continue;
    }
    const std::string where = absl::StrCat(path, ":", line_no);
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded() || !row.is_object())
      return absl::InvalidArgumentError(absl::StrCat(where, ": not a JSON object"));
    if (!row.contains("prompt") || !row["prompt"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": field 'prompt' (string) is missing"));
    }
    PromptRow r;
    r.prompt = row["prompt"].get<std::string>();
    absl::StatusOr<std::string> id = OptionalText(row, "id", where);
    if (!id.ok()) return id.status();
    r.id = id->empty() ? absl::StrCat("row", ds.rows_.size()) : *id;
    absl::StatusOr<std::string> domain = OptionalText(row, "domain", where);
    if (!domain.ok()) return domain.status();
    r.domain = !domain->empty() ? *domain : !default_domain.empty() ? default_domain : "math";
    absl::StatusOr<std::string> answer = OptionalText(row, "answer", where);
    if (!answer.ok()) return answer.status();
    r.answer = *answer;
    absl::StatusOr<std::string> completion = OptionalText(row, "completion", where);
    if (!completion.ok()) return completion.status();
    r.completion = *completion;
    r.raw = std::move(row);
    r.line = line_no;
    ds.rows_.push_back(std::move(r));
  }
  if (ds.rows_.empty()) return absl::InvalidArgumentError(absl::StrCat("dataset ", path, " has no rows"));
  return ds;
}

rl::ScoreItem ScoreItemForRow(const PromptRow& row, const rl::Completion& c, const std::string& response) {
  rl::ScoreItem item;
  item.set_item_id(absl::StrCat(c.group_id(), "/", c.sample_index()));
  item.set_domain(row.domain);
  item.set_prompt(row.prompt);
  item.set_response(response);
  item.set_group_id(c.group_id());
  item.set_response_tokens(c.token_ids_size());
  if (row.domain == "math") {
    item.mutable_math()->set_gold(row.answer);
  } else if (row.domain == "logic") {
    item.mutable_logic()->set_family(row.raw.value("family", std::string()));
    item.mutable_logic()->set_instance_json(row.answer);
  } else {
    item.set_gold(row.answer);
  }
  return item;
}

PromptDataset PromptDataset::FromRows(std::vector<PromptRow> rows) {
  PromptDataset ds;
  ds.rows_ = std::move(rows);
  return ds;
}

PromptSampler::PromptSampler(int64_t num_rows, uint64_t seed, bool shuffle)
    : num_rows_(num_rows), seed_(seed), shuffle_(shuffle) {
  M1RL_CHECK(num_rows >= 1) << "num_rows=" << num_rows;
}

int64_t PromptSampler::IndexAt(int64_t position) {
  const int64_t epoch = position / num_rows_;
  const int64_t offset = position % num_rows_;
  if (!shuffle_) return offset;
  if (epoch != perm_epoch_) {
    perm_.resize(static_cast<size_t>(num_rows_));
    std::iota(perm_.begin(), perm_.end(), 0);
    // Fisher-Yates with mt19937_64 (fully specified by the standard, so the order is portable).
    std::mt19937_64 rng(seed_ * kGoldenGamma + static_cast<uint64_t>(epoch) + 1);
    for (int64_t i = num_rows_ - 1; i > 0; --i) {
      const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
      std::swap(perm_[static_cast<size_t>(i)], perm_[static_cast<size_t>(j)]);
    }
    perm_epoch_ = epoch;
  }
  return perm_[static_cast<size_t>(offset)];
}

std::vector<int64_t> PromptSampler::NextBatch(int64_t count) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out.push_back(IndexAt(cursor_.consumed + i));
  cursor_.consumed += count;
  return out;
}

std::pair<int64_t, int64_t> ShardRange(int64_t count, int rank, int world) {
  const int64_t base = count / world, extra = count % world;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace m1rl::trainer
