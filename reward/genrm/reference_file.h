// The offline reference choice (REWARDS.md §6): reads a JSONL file of prompts with candidate answers, runs
// the Swiss-round tournament (swiss.h) per prompt with a GenRm and writes one JSONL line per prompt with the
// winner, its judge version and the tournament's counts, ready to become items' general.reference.
//
// Input line:  {"id": "p1" (optional; default the line number), "prompt": "...", "candidates": ["...", ...]}
// Output line: {"id", "prompt", "reference", "reference_index", "judge_version", "judge_calls", "rounds",
//               "matches", "disagreements", "failed_matches", "budget_exhausted",
//               "standings": [{"index", "points", "buchholz"}, ...]}
//           or {"id", "prompt", "error": "..."} when the line is malformed or the judge failed (no reference
//           is better than a guessed one; counted in ReferenceFileStats.errors).
// Prompts run one after another (a tournament judges its rounds' matches in parallel).
// Errors: kNotFound / kInternal for files that cannot be read or written; everything per line is in the file.
#ifndef M1RL_REWARD_GENRM_REFERENCE_FILE_H_
#define M1RL_REWARD_GENRM_REFERENCE_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "reward/genrm/genrm.h"
#include "reward/genrm/swiss.h"

namespace m1rl::reward::genrm {

struct ReferenceFileStats {
  int64_t prompts = 0;      // lines read
  int64_t references = 0;   // lines with a reference
  int64_t errors = 0;       // lines with "error"
  int64_t judge_calls = 0;  // over all tournaments
};

absl::StatusOr<ReferenceFileStats> PickReferences(const GenRm& genrm, const SwissOptions& options,
                                                  const std::string& in_path, const std::string& out_path);

}  // namespace m1rl::reward::genrm

#endif  // M1RL_REWARD_GENRM_REFERENCE_FILE_H_
