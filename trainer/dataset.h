// The JSONL prompt dataset, its epoch-wise seeded order, the resumable cursor and the per-rank shard.
//
// Rows: one JSON object per line with at least "prompt" (string); optional "id" (default "row<i>"),
// "domain" (default "math"), "answer" (string or number: the ground truth), "completion" (an SFT
// demonstration; SFT falls back to "answer"), and any other fields (kept in `raw`). Blank lines are
// skipped (counted: blank_lines()).
//
// Order: global batches of B indices; epoch e visits all rows in a permutation seeded by (seed, e)
// (identity order without shuffle); a batch may span an epoch boundary. Every rank computes the same
// global batch and takes its contiguous slice ShardRange(B, rank, world).
#ifndef M1RL_TRAINER_DATASET_H_
#define M1RL_TRAINER_DATASET_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "proto/rl.pb.h"

namespace m1rl::trainer {

struct PromptRow {
  std::string id;
  std::string prompt;
  std::string answer;  // empty if absent
  std::string domain;
  std::string completion;  // SFT demonstration; empty if absent
  nlohmann::json raw;      // the whole row
  int64_t line = 0;        // 1-based line in the file; 0 for FromRows
};

// The reward item for `response`, a completion `c` of `row`: the one mapping of a row's ground truth onto
// a ScoreItem (trainer and `m1rl eval`). domain "math": MathPayload.gold = answer; "logic": LogicPayload
// {family = the row's "family", instance_json = answer}; any other domain: gold = answer. item_id is
// "<c.group_id>/<c.sample_index>", group_id c.group_id, response_tokens the completion's token count.
rl::ScoreItem ScoreItemForRow(const PromptRow& row, const rl::Completion& c, const std::string& response);

class PromptDataset {
 public:
  // kNotFound naming the file; kInvalidArgument naming file:line and the field for malformed rows;
  // kInvalidArgument if the file has no rows.
  // Rows without "domain" get `default_domain` (data.sources[i].domain; "" = "math").
  static absl::StatusOr<PromptDataset> Load(const std::string& path, const std::string& default_domain = "");
  static PromptDataset FromRows(std::vector<PromptRow> rows);

  size_t size() const { return rows_.size(); }
  const PromptRow& row(size_t i) const { return rows_[i]; }
  const std::string& path() const { return path_; }
  int64_t blank_lines() const { return blank_lines_; }

 private:
  std::vector<PromptRow> rows_;
  std::string path_;
  int64_t blank_lines_ = 0;
};

// Position in the stream of indices: `consumed` indices handed out so far (epoch = consumed / n).
struct DataCursor {
  int64_t consumed = 0;
};

class PromptSampler {
 public:
  // REQUIRES: num_rows >= 1.
  PromptSampler(int64_t num_rows, uint64_t seed, bool shuffle);
  // The next global batch of `count` row indices; advances the cursor.
  std::vector<int64_t> NextBatch(int64_t count);
  DataCursor cursor() const { return cursor_; }
  void set_cursor(DataCursor cursor) { cursor_ = cursor; }
  // The row index at stream position `position` (>= 0); NextBatch hands these out in order.
  int64_t IndexAt(int64_t position);

 private:
  int64_t num_rows_;
  uint64_t seed_;
  bool shuffle_;
  DataCursor cursor_;
  int64_t perm_epoch_ = -1;
  std::vector<int64_t> perm_;
};

// This rank's contiguous slice [begin, end) of a global batch of `count` items: the first
// count % world ranks get one extra item.
std::pair<int64_t, int64_t> ShardRange(int64_t count, int rank, int world);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_DATASET_H_
