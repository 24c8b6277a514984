#include "trainer/export.h"

#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/policy.h"

namespace m1rl::trainer {

absl::Status ExportCheckpoint(const std::string& checkpoint_dir, const std::string& out_dir) {
  try {
    M1RL_ASSIGN_OR_RETURN(std::unique_ptr<model::HybridModel> policy,
                          LoadCheckpointPolicy(checkpoint_dir, at::kCPU));
    return policy->SaveHf(out_dir);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("export of ", checkpoint_dir, ": ", e.what_without_backtrace()));
  }
}

}  // namespace m1rl::trainer
