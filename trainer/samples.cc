#include "trainer/samples.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace m1rl::trainer {

SampleRecord MakeSampleRecord(const PromptRow& row, const rl::Completion& c, const rl::ScoreResult* score) {
  SampleRecord r;
  r.prompt_id = row.id;
  r.line = row.line;
  r.domain = row.domain;
  r.prompt = row.prompt;
  r.answer = row.answer;
  r.sample_index = c.sample_index();
  r.completion = c.text();
  r.stop_reason = rl::StopReason_Name(c.stop_reason());
  r.completion_tokens = c.token_ids_size();
  if (score == nullptr) {
    r.status = "UNSCORED";
    return r;
  }
  r.status = rl::ItemStatus_Name(score->status());
  r.details = score->details();
  if (score->status() == rl::OK) {
    r.verdict = rl::Verdict_Name(score->verdict());
    r.reward = score->total();
  }
  return r;
}

nlohmann::ordered_json SampleJson(const SampleRecord& r) {
  nlohmann::ordered_json j;
  if (r.step >= 0) j["step"] = r.step;
  j["id"] = r.prompt_id;
  j["line"] = r.line;
  j["domain"] = r.domain;
  j["prompt"] = r.prompt;
  j["answer"] = r.answer;
  j["sample"] = r.sample_index;
  j["completion"] = r.completion;
  j["stop_reason"] = r.stop_reason;
  j["tokens"] = r.completion_tokens;
  j["status"] = r.status;
  j["verdict"] = r.verdict;
  j["reward"] = r.reward.has_value() ? nlohmann::ordered_json(*r.reward) : nlohmann::ordered_json(nullptr);
  j["details"] = r.details;
  return j;
}

std::string SamplesMarkdown(const std::vector<SampleRecord>& records) {
  // Fences cannot be closed early by a completion that writes ``` itself: those become '''.
  auto fenced = [](const std::string& text) {
    return absl::StrCat("```\n", absl::StrReplaceAll(text, {{"```", "'''"}}), "\n```\n");
  };
  std::string md;
  for (const SampleRecord& r : records) {
    absl::StrAppend(&md, "**", r.prompt_id, "** sample ", r.sample_index, " (", r.domain, "): ", r.status);
    if (!r.verdict.empty()) absl::StrAppend(&md, " ", r.verdict);
    if (r.reward.has_value()) absl::StrAppendFormat(&md, ", reward %g", *r.reward);
    absl::StrAppend(&md, ", answer `", r.answer, "`\n\n", fenced(r.prompt), "\n", fenced(r.completion), "\n");
  }
  return md;
}

absl::StatusOr<std::unique_ptr<SampleWriter>> SampleWriter::Open(const std::string& path, bool append) {
  std::unique_ptr<SampleWriter> w(new SampleWriter(path));
  w->out_.open(path, append ? std::ios::out | std::ios::app : std::ios::out | std::ios::trunc);
  if (!w->out_.is_open())
    return absl::InternalError(absl::StrCat("cannot open ", path, " for writing: ", std::strerror(errno)));
  return w;
}

absl::Status SampleWriter::Write(const std::vector<SampleRecord>& records) {
  for (const SampleRecord& r : records) out_ << SampleJson(r).dump() << "\n";
  out_.flush();
  if (!out_.good()) return absl::InternalError(absl::StrCat("write failed: ", path_));
  return absl::OkStatus();
}

absl::Status LogStepSamples(int64_t step, std::vector<SampleRecord> records, SampleWriter& jsonl,
                            MetricsWriter* text) {
  if (records.empty()) return absl::OkStatus();
  for (SampleRecord& r : records) r.step = step;
  absl::Status s = jsonl.Write(records);
  if (text != nullptr) {
    absl::Status t = text->WriteText(step, "samples", SamplesMarkdown(records));
    if (s.ok()) s = t;
  }
  return s;
}

}  // namespace m1rl::trainer
