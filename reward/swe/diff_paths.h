// The files a unified diff touches, for the SWE patch stages (REWARDS.md §5): the candidate patch must
// stay inside the repository and carry no binary hunks; the test patch's files are reset to the snapshot
// before it is applied.
//
// Paths come from "diff --git" headers' "---"/"+++" lines (with one leading component, a/ or b/,
// stripped as `-p1` does; "/dev/null" skipped; a tab and what follows dropped), and "rename from/to",
// "copy from/to" lines. Hunk bodies are skipped by their line counts, so a removed line "-- x" is never
// taken for a header.
//
// Thread safety: pure function.
#ifndef M1RL_REWARD_SWE_DIFF_PATHS_H_
#define M1RL_REWARD_SWE_DIFF_PATHS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace m1rl::reward::swe {

struct DiffInfo {
  std::vector<std::string> paths;  // sorted, unique, relative to the repository root
  bool binary = false;             // "GIT binary patch" or "Binary files ... differ"
  int hunks = 0;
};

// kInvalidArgument naming `what` ("item.swe.test_patch", "candidate patch") for a path that is absolute,
// contains a ".." component, lies under .git/, or is quoted (git quotes unusual names; not supported),
// and for a malformed hunk header.
absl::StatusOr<DiffInfo> InspectDiff(std::string_view diff, std::string_view what);

// `text` split at every `sep` (empty pieces kept). Views into `text`. (absl::StrSplit takes
// absl::string_view, which this build's absl does not alias to std::string_view.)
std::vector<std::string_view> SplitOn(std::string_view text, char sep);

}  // namespace m1rl::reward::swe

#endif  // M1RL_REWARD_SWE_DIFF_PATHS_H_
