// Logged completions: the rows of a run directory's samples.jsonl (trainer.sample_prompts_per_step per RL
// step) and of `m1rl eval --out`, one schema for both.
//
// JSON of a record (keys in this order; "step" only for training samples; "reward" null unless status OK):
//   {"step":3,"id":"p7","line":8,"domain":"math","prompt":"...","answer":"12","sample":0,
//    "completion":"...","stop_reason":"STOP_EOS","tokens":9,"status":"OK","verdict":"CORRECT",
//    "reward":1.0,"details":"..."}
// A completion that got no score reply (the repetition policy decided without the verifier) has status
// "UNSCORED".
#ifndef M1RL_TRAINER_SAMPLES_H_
#define M1RL_TRAINER_SAMPLES_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "nlohmann/json.hpp"
#include "proto/rl.pb.h"
#include "trainer/dataset.h"

namespace m1rl::trainer {

struct SampleRecord {
  int64_t step = -1;  // 1-based training step; -1: not from training (no "step" key)
  std::string prompt_id;
  int64_t line = 0;  // the row's line in its dataset file
  std::string domain;
  std::string prompt;
  std::string answer;
  int32_t sample_index = 0;
  std::string completion;
  std::string stop_reason;  // rl::StopReason name
  int64_t completion_tokens = 0;
  std::string status;            // rl::ItemStatus name, or "UNSCORED"
  std::string verdict;           // rl::Verdict name; empty unless status is OK
  std::optional<double> reward;  // the score's total; set iff status is OK
  std::string details;           // the verifier's reason or error
};

// `score` may be null (no reply).
SampleRecord MakeSampleRecord(const PromptRow& row, const rl::Completion& c, const rl::ScoreResult* score);
nlohmann::ordered_json SampleJson(const SampleRecord& r);
// Markdown for TensorBoard's text dashboard: one section per record (prompt, completion as code blocks).
std::string SamplesMarkdown(const std::vector<SampleRecord>& records);

// A JSONL file of records, flushed after every Write (a crashed run keeps what it logged).
// Not thread-safe.
class SampleWriter {
 public:
  // Creates (append: appends to) `path`; its directory must exist. kInternal naming the file.
  static absl::StatusOr<std::unique_ptr<SampleWriter>> Open(const std::string& path, bool append);
  // Writes one line per record. kInternal naming the file on an I/O failure.
  absl::Status Write(const std::vector<SampleRecord>& records);
  const std::string& path() const { return path_; }

 private:
  explicit SampleWriter(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::ofstream out_;
};

// The trainer's per-step log: samples.jsonl in the run directory, plus a TensorBoard text summary
// ("samples") through `text` when it is not null.
absl::Status LogStepSamples(int64_t step, std::vector<SampleRecord> records, SampleWriter& jsonl,
                            MetricsWriter* text);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_SAMPLES_H_
